"""COCO-GAN's coordinate lattices against values computed by hand (research cocogan.md §2.1, §2.8)."""

import numpy as np
import pytest
import torch

from ganbench.errors import ConfigError
from ganbench.nets.coco_coords import PatchLattice, assemble, split

THIRD = 1 / 3


def test_n2m2_at_32px_micro_8():
    # r_f = 4, N = 2: macro lattice -1 + k * 2 / (4 - 2) = {-1, 0, 1}; micro lattice -1 + j * 2 / 3.
    lat = PatchLattice(32, 16, 8)
    assert (lat.n, lat.m, lat.ratio) == (2, 2, (4, 4))
    np.testing.assert_allclose(lat.macro_positions(0), [-1, 0, 1])
    np.testing.assert_allclose(lat.macro_positions(1), [-1, 0, 1])
    # macro at d = 0: gpc = 16, valid = 24: ((0+1)/2*16 + 8 + T*8 - 8) / 24 * 2 - 1 = -1/3, 1/3
    np.testing.assert_allclose(lat.micro_positions_in(0, [0.0]), [[-THIRD, THIRD]])
    np.testing.assert_allclose(lat.micro_positions_in(1, [-1.0, 1.0]), [[-1, -THIRD], [THIRD, 1]])
    np.testing.assert_allclose(lat.micro_grid_positions(0), [-1, -THIRD, THIRD, 1])


def test_n2m2_at_128px_micro_32_matches_the_report():
    # §2.1's printed example: the macro at (x=-1, y=0) has micro (-1,-1/3), (-1/3,-1/3), (-1,1/3), (-1/3,1/3)
    lat = PatchLattice(128, 64, 32)
    np.testing.assert_allclose(lat.macro_positions(0), [-1, 0, 1])
    macro, micro = lat.sample(torch.tensor([[0, 1]]))  # index 0 on the height axis (-1), 1 on the width (0)
    np.testing.assert_allclose(macro.numpy(), [[-1, 0]])
    want = [[-1, -THIRD], [-THIRD, -THIRD], [-1, THIRD], [-THIRD, THIRD]]
    np.testing.assert_allclose(micro[0].numpy(), want, atol=1e-7)
    assert lat.macro_counts() == (3, 3)


def test_n2m2_at_48px_micro_8_has_five_macro_positions():
    # r_f = 6: macro -1 + k * 2 / 4; micro lattice -1 + j * 2 / 5; macro at -0.5: gpc 32, valid 40:
    # (0.25*32 + 8 + T*8 - 8) / 40 * 2 - 1 = -0.6, -0.2
    lat = PatchLattice(48, 16, 8)
    np.testing.assert_allclose(lat.macro_positions(0), [-1, -0.5, 0, 0.5, 1])
    np.testing.assert_allclose(lat.micro_positions_in(0, [-0.5]), [[-0.6, -0.2]])


def test_extrapolation_lattice_of_the_lsun_config():
    # §2.7: 256 px, macro 128, micro 64, e = 1: macro {-2..2}, test grid of 6 micro positions up to 5/3
    lat = PatchLattice(256, 128, 64, extrap=1)
    np.testing.assert_allclose(lat.macro_positions(0), [-2, -1, 0, 1, 2])
    np.testing.assert_allclose(lat.micro_positions_in(0, [2.0]), [[1, 5 / 3]])
    np.testing.assert_allclose(lat.micro_grid_positions(0), [-5 / 3, -1, -THIRD, THIRD, 1, 5 / 3])


def test_cylindrical_lattice_and_its_wrap():
    lat = PatchLattice((256, 768), 128, 64, cylindrical=True)
    theta = lat.macro_positions(1)
    np.testing.assert_allclose(theta, -1 + 2 * np.arange(12) / 12)
    np.testing.assert_allclose(lat.micro_positions_in(1, [0.0]), [[0, 1 / 6]])
    # -1 and 1 are the same angle: the same coordinate vector and the same real crop
    vecs = lat.embed(torch.tensor([[0.5, -1.0], [0.5, 1.0]], dtype=torch.float64))
    assert torch.equal(vecs[0], vecs[1])
    assert vecs[0].tolist() == [0.5, -1.0, 0.0]
    offs = lat.pixel_offsets(torch.tensor([[0.0, -1.0], [0.0, 1.0]]))
    assert torch.equal(offs[0], offs[1])
    assert lat.coord_dim == 3


def test_wrap_around_crop_crosses_the_seam():
    lat = PatchLattice((8, 16), 4, 2, cylindrical=True)  # 8 angles, micro step 2 px
    img = torch.arange(8 * 16, dtype=torch.float32).view(1, 1, 8, 16)
    # the last angle: -1 + 2*7/8 = 0.75 -> offset 14; its second micro patch starts at 0 (wraps)
    macro, micro = lat.sample(torch.tensor([[0, 7]]))
    crop = lat.crop_macro(img, micro)
    want = torch.cat([img[..., 0:4, 14:16], img[..., 0:4, 0:2]], dim=3)
    assert torch.equal(crop, want)


def test_real_macro_crop_equals_a_direct_crop():
    lat = PatchLattice(32, 16, 8)
    img = torch.randn(3, 3, 32, 32)
    idx = torch.tensor([[0, 2], [1, 1], [2, 0]])
    macro, micro = lat.sample(idx)
    crops = lat.crop_macro(img, micro)
    for b, (i, j) in enumerate(idx.tolist()):
        assert torch.equal(crops[b], img[b, :, 8 * i : 8 * i + 16, 8 * j : 8 * j + 16])


def test_assemble_places_patch_k_at_row_xx_column_yy():
    patches = torch.arange(6.0).view(1, 6, 1, 1, 1)  # n_h = 2 rows, n_w = 3 columns
    img = assemble(patches, 2, 3)
    assert img[0, 0].tolist() == [[0, 2, 4], [1, 3, 5]]
    assert torch.equal(split(img, 1), patches)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(full=32, macro=12, micro=8), "not a multiple of micro_size"),
        (dict(full=36, macro=16, micro=8), "is not tiled"),
        (dict(full=16, macro=16, micro=8), "is not tiled"),
        (dict(full=(16, 36), macro=8, micro=8, cylindrical=True), "panorama width 36 is not a multiple"),
    ],
)
def test_bad_sizes_are_one_line_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message) as exc:
        PatchLattice(**kwargs)
    assert "\n" not in str(exc.value)


def test_the_lattice_command_prints_the_report_example(capsys):
    from ganbench.cli import main

    assert main(["cocogan-lattice", "--resolution", "128", "--macro", "64", "--micro", "32"]) == 0
    out = capsys.readouterr().out
    assert "height: macro positions [-1, 0, 1]; micro positions [-1, -0.3333, 0.3333, 1]" in out

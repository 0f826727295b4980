"""ADA AugmentPipe, AdaptiveP and DiffAugment: exactness of the blits, differentiability,
colour invariants, rank-split invariance of the random draws, the p controller, and a look at
augmented synthetic faces (run this file as a script to write /tmp/ada_grid.png)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch

from ganbench.augment import TRANSFORMS, AdaptiveP, AugmentPipe, diff_augment
from ganbench.augment.ada import fold_index, resample
from ganbench.errors import ConfigError, GanbenchError
from ganbench.train.batch_random import BatchRandom

ALL = [name for names in TRANSFORMS.values() for name in names]


def only(*enabled: str, p: float = 1.0, **strengths) -> AugmentPipe:
    """A pipe with just the named transforms, at overall probability p."""
    pipe = AugmentPipe(**{name: (1 if name in enabled else 0) for name in ALL}, **strengths)
    pipe.p.fill_(p)
    return pipe


def images(n: int = 8, size: int = 16, seed: int = 0, channels: int = 3) -> torch.Tensor:
    return torch.rand(n, channels, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def smooth_image(size: int = 32) -> torch.Tensor:
    y, x = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    return torch.stack([torch.sin(2 * x + y), torch.cos(3 * y - x), x * y])[None]


def faces(n: int = 8, size: int = 64) -> torch.Tensor:
    from ganbench.data.synthetic import render_sample

    arr = np.stack([render_sample("face", size, 0, i).image for i in range(n)])
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float() / 127.5 - 1


# -- AugmentPipe ----------------------------------------------------------------------------


def test_p_zero_is_identity():
    x = images()
    pipe = AugmentPipe()
    assert pipe(x) is x
    assert pipe(x, rng=BatchRandom(1)) is x
    assert "p" in pipe.state_dict()  # p checkpoints with the module


def test_xflip_mirrors_exactly():
    x = images(16)
    out = only("xflip")(x, rng=BatchRandom(3))
    flipped = [bool(torch.equal(o, xi.flip(2))) for o, xi in zip(out, x)]
    kept = [bool(torch.equal(o, xi)) for o, xi in zip(out, x)]
    assert all(f or k for f, k in zip(flipped, kept))
    assert any(flipped) and any(kept)  # i ~ U{0, 1}: half are flipped


def test_rotate90_is_an_exact_quarter_turn():
    x = images(16)
    out = only("rotate90")(x, rng=BatchRandom(4))
    seen = set()
    for o, xi in zip(out, x):
        k = [k for k in range(4) if torch.equal(o, torch.rot90(xi, k, (1, 2)))]
        assert k, "not a rotation by a multiple of 90 degrees"
        seen.add(k[0])
        assert torch.equal(o.flatten().sort().values, xi.flatten().sort().values)  # pixel multiset
    assert len(seen) >= 3


def _shift_reflect(x: torch.Tensor, tx: int, ty: int) -> torch.Tensor:
    """x [C, H, W] moved by (tx, ty) pixels, mirror-padded at the borders (edge pixel repeated)."""
    _, H, W = x.shape
    x = x.index_select(2, fold_index(torch.arange(W) - tx, W))
    return x.index_select(1, fold_index(torch.arange(H) - ty, H))


def test_integer_translation_is_an_exact_mirror_padded_shift():
    x = images(12, size=24)
    out = only("xint")(x, rng=BatchRandom(5))
    m = round(0.125 * 24)
    shifts = set()
    for o, xi in zip(out, x):
        match = [(tx, ty) for tx in range(-m, m + 1) for ty in range(-m, m + 1)
                 if torch.equal(o, _shift_reflect(xi, tx, ty))]  # fmt: skip
        assert match, "not an integer shift"
        shifts.add(match[0])
        # Every output value is an input value; the pixels that stay in frame keep their multiset.
        tx, ty = match[0]
        inner = o[:, max(ty, 0) : 24 + min(ty, 0), max(tx, 0) : 24 + min(tx, 0)]
        src = xi[:, max(-ty, 0) : 24 + min(-ty, 0), max(-tx, 0) : 24 + min(-tx, 0)]
        assert torch.equal(inner.flatten().sort().values, src.flatten().sort().values)
    assert len(shifts) > 3


def test_blit_group_composes_exactly():
    """xflip, rotate90 and xint together: each output is a dihedral copy of the input, shifted."""
    x = images(6, size=12)
    out = only("xflip", "rotate90", "xint")(x, rng=BatchRandom(6))
    for o, xi in zip(out, x):
        candidates = [torch.rot90(f, k, (1, 2)) for f in (xi, xi.flip(2)) for k in range(4)]
        assert any(torch.equal(o, _shift_reflect(c, tx, ty)) for c in candidates
                   for tx in range(-2, 3) for ty in range(-2, 3))  # fmt: skip


def test_resample_identity_and_quarter_turn():
    x = images(2, size=16).double()
    assert torch.allclose(resample(x, torch.eye(3).repeat(2, 1, 1)), x, atol=1e-9)
    img = smooth_image()
    c, s = 0.0, 1.0
    quarter = torch.tensor([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])[None]
    out = resample(img, quarter)  # rotation about the image centre, no sub-pixel offset
    assert (out - torch.rot90(img, 1, (2, 3)))[..., 2:-2, 2:-2].abs().max() < 0.01
    shift = torch.tensor([[1, 0, -1.0], [0, 1, 0], [0, 0, 1]])[None]  # content moves one pixel right
    assert torch.allclose(resample(img, shift)[..., 3:], img[..., :-1][..., 2:], atol=1e-5)


def test_geometric_transforms_keep_content_recognisable():
    img = smooth_image(32).repeat(8, 1, 1, 1)
    out = only("scale", "rotate", "aniso", "xfrac", p=0.5)(img, rng=BatchRandom(7))
    assert out.shape == img.shape and torch.isfinite(out).all()
    assert out.abs().max() < 1.2  # a convex-ish combination of the input: no ringing blow-up
    changed = [(o - i).abs().max() > 1e-3 for o, i in zip(out, img)]
    same = [torch.equal(o, i) for o, i in zip(out, img)]
    assert all(c or s for c, s in zip(changed, same))  # untouched samples are not resampled
    assert any(changed)


@pytest.mark.parametrize("channels", [1, 3])
def test_differentiable_to_second_order(channels):
    x = images(4, size=16, channels=channels).requires_grad_(True)
    pipe = AugmentPipe()
    pipe.p.fill_(1.0)
    out = pipe(x, rng=BatchRandom(8))
    weight = torch.randn_like(out)
    (grad,) = torch.autograd.grad((out * weight).sum().square(), x, create_graph=True)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    grad.square().sum().backward()  # R1 differentiates through the augmentation twice
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_gradcheck_full_pipeline():
    pipe = AugmentPipe()
    pipe.p.fill_(1.0)
    x = images(2, size=8).double().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: pipe(t, rng=BatchRandom(9)), (x,), eps=1e-6, atol=1e-5)


def test_hue_and_saturation_keep_grey_grey():
    grey = images(8, channels=1).expand(8, 3, 16, 16)
    for enabled in [("hue",), ("saturation",), ("hue", "saturation"), TRANSFORMS["color"]]:
        out = only(*enabled)(grey, rng=BatchRandom(10))
        assert torch.allclose(out[:, 0], out[:, 1], atol=1e-6) and torch.allclose(out[:, 1], out[:, 2], atol=1e-6)
    out = only("hue", "saturation")(grey, rng=BatchRandom(10))
    assert torch.allclose(out, grey, atol=1e-6)  # mean grey is a fixed point of both
    colour = images(8)
    assert not torch.allclose(only("hue")(colour, rng=BatchRandom(10)), colour, atol=1e-3)


def test_same_seed_same_output_and_rank_split_invariance():
    x = images(8, size=16)
    pipe = AugmentPipe()
    pipe.p.fill_(0.7)
    a, b = pipe(x, rng=BatchRandom(11)), pipe(x, rng=BatchRandom(11))
    assert torch.equal(a, b)
    assert not torch.allclose(a, pipe(x, rng=BatchRandom(12)))
    halves = [pipe(x[r * 4 : (r + 1) * 4], rng=BatchRandom(11, r, 2)) for r in range(2)]
    assert torch.allclose(torch.cat(halves), a, atol=1e-5)
    d = diff_augment(x, rng=BatchRandom(13))
    assert torch.equal(d, diff_augment(x, rng=BatchRandom(13)))
    halves = [diff_augment(x[r * 4 : (r + 1) * 4], rng=BatchRandom(13, r, 2)) for r in range(2)]
    assert torch.allclose(torch.cat(halves), d, atol=1e-6)


def test_bad_arguments():
    with pytest.raises(ConfigError, match="warp"):
        AugmentPipe(warp_std=1)
    with pytest.raises(ConfigError, match="xflip"):
        AugmentPipe(xflip=-1)
    with pytest.raises(GanbenchError, match="square"):
        only("rotate90")(torch.zeros(2, 3, 8, 16))
    assert only("xflip", "xint")(torch.zeros(2, 3, 8, 16)).shape == (2, 3, 8, 16)


# -- AdaptiveP ------------------------------------------------------------------------------


def test_adaptive_p_rises_when_d_overfits_and_falls_otherwise():
    ada = AdaptiveP()
    for _ in range(4):
        assert not ada.due
        ada.update(torch.ones(32).sign().sum(), 32)  # every real logit > 0
    assert ada.due
    assert ada.adjust(32) == pytest.approx(32 * 4 / 500_000)
    assert not ada.due and ada.p > 0

    ada = AdaptiveP(p=0.5)
    for _ in range(4):
        ada.update(torch.tensor([1.0, -1.0, 1.0, -1.0]).sign().sum(), 4)  # r_t = 0 < 0.6
    assert ada.adjust(4) == pytest.approx(0.5 - 16 / 500_000)

    ada = AdaptiveP(p=0.0)
    ada.update(-8.0, 8)
    assert ada.adjust(8) == 0.0  # clamped


def test_adaptive_p_sums_across_ranks_and_resumes_exactly():
    calls = []

    def all_reduce(t: torch.Tensor) -> torch.Tensor:  # two ranks: this one and one with r_t = -1
        calls.append(t.clone())
        return t + torch.tensor([-8.0, 8.0], dtype=t.dtype)

    ada = AdaptiveP(p=0.2)
    ada.update(torch.tensor(8.0), 8)  # alone: r_t = 1 > 0.6; with the other rank: r_t = 0
    assert ada.adjust(16, all_reduce=all_reduce) == pytest.approx(0.2 - 16 / 500_000)
    assert calls[0].dtype == torch.float64 and calls[0].tolist() == [8.0, 8.0]

    a = AdaptiveP()
    for step in range(6):
        a.update(torch.tensor(float(step % 3)), 4)
        if a.due:
            a.adjust(4)
    state = a.state_dict()
    b = AdaptiveP()
    b.load_state_dict(state)
    for ada in (a, b):
        for step in range(5):
            ada.update(torch.tensor(4.0), 4)
            if ada.due:
                ada.adjust(4)
    assert a.state_dict() == b.state_dict()
    with pytest.raises(GanbenchError, match="steps"):
        b.load_state_dict({"p": 0.1, "sign_sum": 0.0, "count": 0.0})


# -- DiffAugment ----------------------------------------------------------------------------


def test_diff_augment_shapes_and_policies():
    x = images(4)
    assert diff_augment(x, "") is x
    for policy in ("color", "translation", "cutout", "color,translation,cutout"):
        out = diff_augment(x, policy, rng=BatchRandom(14))
        assert out.shape == x.shape and out.dtype == x.dtype
    with pytest.raises(ConfigError, match="blur"):
        diff_augment(x, "color,blur")
    x = x.requires_grad_(True)
    diff_augment(x, rng=BatchRandom(15)).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_diff_augment_cutout_zeroes_about_a_quarter():
    ones = torch.ones(256, 3, 32, 32)
    out = diff_augment(ones, "cutout", rng=BatchRandom(16))
    zero = (out == 0).all(1).float().mean().item()
    assert abs(zero - 49 / 256) < 0.02  # squares of a quarter of the area, clipped at the borders
    assert ((out == 0) | (out == 1)).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_diff_augment_translation_is_a_zero_padded_shift(dtype):
    x = (images(8, size=16) + 2).to(dtype)  # no zeros in the input
    out = diff_augment(x, "translation", rng=BatchRandom(17))
    assert out.shape == x.shape and out.dtype == dtype
    for o, xi in zip(out, x):
        ok = False
        for tx in range(-2, 3):
            for ty in range(-2, 3):
                ref = torch.zeros_like(xi)
                ref[:, max(ty, 0) : 16 + min(ty, 0), max(tx, 0) : 16 + min(tx, 0)] = \
                    xi[:, max(-ty, 0) : 16 + min(-ty, 0), max(-tx, 0) : 16 + min(-tx, 0)]  # fmt: skip
                ok = ok or torch.equal(o, ref)
        assert ok


# -- a look at it ---------------------------------------------------------------------------


def augmented_grid(path: Path, n: int = 8, size: int = 64) -> np.ndarray:
    """Rows: clean faces, AugmentPipe at p=0.5 (two draws), at p=1 (two draws), DiffAugment."""
    x = faces(n, size)
    pipe = AugmentPipe()
    rows = [x]
    for p, seeds in ((0.5, (1, 2)), (1.0, (3, 4))):
        pipe.p.fill_(p)
        rows += [pipe(x, rng=BatchRandom(seed)) for seed in seeds]
    rows.append(diff_augment(x, rng=BatchRandom(5)))
    grid = torch.cat(rows).clamp(-1, 1)
    grid = ((grid + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    tiles = grid.reshape(len(rows), n, size, size, 3).transpose(0, 2, 1, 3, 4).reshape(len(rows) * size, n * size, 3)
    PIL.Image.fromarray(tiles).save(path)
    return tiles


def test_augmented_faces_grid(tmp_path):
    tiles = augmented_grid(tmp_path / "ada_grid.png")
    assert (tmp_path / "ada_grid.png").stat().st_size > 0
    rows = tiles.reshape(6, 64, -1, 3).astype(np.float64)
    clean_std = rows[0].std()
    for row in rows[1:]:  # transformed, not destroyed: the contrast stays in the clean range
        assert 0.3 * clean_std < row.std() < 3 * clean_std


if __name__ == "__main__":
    augmented_grid(Path("/tmp/ada_grid.png"))
    print("wrote /tmp/ada_grid.png")

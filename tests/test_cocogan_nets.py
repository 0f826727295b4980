"""COCO-GAN's networks: full-image assembly, CBN forms, layouts (research cocogan.md §2.3, §2.4, §2.6)."""

import torch

from ganbench.nets.coco_coords import PatchLattice, assemble
from ganbench.nets.cocogan import (
    ConditionalBatchNorm,
    Discriminator,
    Generator,
    PredictionHead,
    discriminator_layout,
    generator_channels,
)


def _trained_generator(lattice, cbn="fixed"):
    torch.manual_seed(0)
    g = Generator(8, lattice.coord_dim, lattice.micro, ngf=4, cbn=cbn)
    # a few training-mode passes with a graph move the running statistics away from (0, 1)
    for _ in range(3):
        positions, _, _ = lattice.full_grid()
        coords = lattice.embed(positions).expand(2, *positions.shape[:1], lattice.coord_dim)
        g.patches(torch.rand(2, 8) * 2 - 1, coords).sum().backward()
    return g.eval()


def test_assembled_micro_patches_reproduce_the_full_image_path_bit_for_bit():
    lat = PatchLattice(32, 16, 8)
    g = _trained_generator(lat)
    z = torch.rand(3, 8) * 2 - 1
    with torch.no_grad():
        full = g.full_image(z, lat)
        assert full.shape == (3, 3, 32, 32)
        # the training path: the macro patches at the four corners of the macro lattice, one G call each
        macros = {}
        for i in (0, 2):
            for j in (0, 2):
                _, micro = lat.sample(torch.tensor([[i, j]] * 3))
                macros[i, j] = assemble(g.patches(z, lat.embed(micro)), lat.n, lat.m)
        tiled = torch.cat(
            [torch.cat([macros[0, 0], macros[0, 2]], dim=3), torch.cat([macros[2, 0], macros[2, 2]], dim=3)], dim=2
        )
        # and micro patch by micro patch, one position at a time
        positions, nh, nw = lat.full_grid()
        one_by_one = torch.stack([g(z, lat.embed(p).expand(3, 2)) for p in positions], dim=1)
    assert torch.equal(full, tiled)
    # One position per call changes the convolutions' batch size, and oneDNN may then pick another kernel whose
    # sums run in another order (on this AMD EPYC: ~1e-7 apart), so this path is checked to float precision.
    torch.testing.assert_close(assemble(one_by_one, nh, nw), full, rtol=0, atol=1e-5)


def test_running_statistics_follow_graph_building_passes_only():
    cbn = ConditionalBatchNorm(4, 3)
    x, c = torch.randn(8, 4, 2, 2) * 3 + 1, torch.randn(8, 3)
    with torch.no_grad():
        cbn(x, c)
    assert torch.equal(cbn.running_mean, torch.zeros(4))
    cbn(x, c)
    torch.testing.assert_close(cbn.running_mean, 0.01 * x.mean(dim=(0, 2, 3)))


def test_cbn_forms():
    x, c = torch.randn(16, 2, 3, 3) * 2, torch.zeros(16, 5)
    fixed, official = ConditionalBatchNorm(2, 5, "fixed"), ConditionalBatchNorm(2, 5, "official")
    var = x.var(dim=(0, 2, 3), unbiased=False)[None, :, None, None]
    xhat = x - x.mean(dim=(0, 2, 3))[None, :, None, None]
    # zero condition: fixed gamma = 1 + 0, official gamma = 0 (no +1)
    torch.testing.assert_close(fixed(x, c), xhat / (var + 1e-5).sqrt())
    torch.testing.assert_close(official(x, c), torch.zeros_like(x))
    official.gamma.bias.data.fill_(1.0)
    torch.testing.assert_close(official(x, c), xhat / (var**2 + 1e-5).sqrt())


def test_layouts_of_the_report():
    assert generator_channels(16, 0) == ([8, 4, 2], 3)
    assert generator_channels(64, 0) == ([8, 4, 2, 1, 1], 5)
    assert generator_channels(4, 3) == ([8, 4, 2, 1], 1)
    assert [m for m, _ in discriminator_layout(32, 0)] == [1, 4, 8, 8]
    assert [m for m, _ in discriminator_layout(64, 0)] == [1, 2, 4, 8, 8]
    assert [m for m, _ in discriminator_layout(512, 0)] == [1, 1, 1, 1, 2, 4, 8, 8]
    for size in (8, 16, 32, 128):
        d = Discriminator((size, size), 2, ndf=2)
        x = torch.randn(2, 3, size, size)
        for block in d.blocks:
            x = block(x)
        assert x.shape[-2:] == (4, 4)


def test_discriminator_projection_and_heads():
    d = Discriminator((16, 16), 3, ndf=2).eval()  # eval: spectral norm's power iteration is frozen
    x, y = torch.randn(4, 3, 16, 16), torch.randn(4, 3)
    plain, h = d(x)
    projected, h2 = d(x, y)
    assert torch.equal(h, h2) and h.shape == (4, 16)
    torch.testing.assert_close(projected - plain, (d.embed(y) * h).sum(1))
    coord = PredictionHead(16, 3).eval()(h)
    assert coord.shape == (4, 3) and coord.abs().max() <= 1

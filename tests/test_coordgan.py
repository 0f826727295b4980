"""CoordGAN networks and losses (research coordgan.md §2): parameter counts, shapes, pairing, fp32 affinity."""

from __future__ import annotations

import math

import pytest
import torch

from ganbench.errors import ConfigError
from ganbench.methods import build_method
from ganbench.methods.base import Batch, StepContext
from ganbench.methods.coordgan_losses import chamfer_loss, soft_propagate, swap_pairs, warp_images
from ganbench.methods.options import PERCEPTUAL_KINDS as OPTION_KINDS
from ganbench.nets.coordgan import CoordGANGenerator, PatchDiscriminator, canonical_grid, random_crops
from ganbench.nets.perceptual import PERCEPTUAL_KINDS, ProbeDistance
from ganbench.nets.stylegan2 import Discriminator
from ganbench.train.batch_random import BatchRandom

TINY = dict(
    z_dim=16,
    w_dim=16,
    mapping_layers=2,
    channels=16,
    num_blocks=2,
    warp_hidden=16,
    coord_resolution=16,
    d_channel_base=256,
    d_channel_max=32,
    patch_size=16,
    patch_channels=[8, 16, 16],
    num_crops=2,
    perceptual="probe",
    probe_channels=[8, 8, 8],
    probe_resolution=16,
    gan_warmup_iters=4,
    patch_start_iters=0,
    swap_warmup_iters=4,
)


def count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_parameter_counts_match_the_derivation():
    """§2.8: the counts derived from the official module definitions (our D: one FromRGB, see nets.coordgan)."""
    with torch.device("meta"):
        assert count(CoordGANGenerator(img_resolution=128)) == 35_272_291
        assert count(CoordGANGenerator(img_resolution=512)) == 36_649_775
        assert count(PatchDiscriminator()) == 4_531_265
        # official D 28,389,889 with three FromRGB heads; the 256 and 512 heads hold 512 + 256 parameters
        assert count(Discriminator(img_resolution=128)) == 28_389_889 - 512 - 256
        assert CoordGANGenerator(img_resolution=128).num_ws == 12
        assert CoordGANGenerator(img_resolution=512).num_ws == 16


def test_canonical_grid_is_x_then_y():
    g = canonical_grid(1, 5)[0]
    assert g[0, 0].tolist() == pytest.approx([-1, -0.5, 0, 0.5, 1])  # x along the width
    assert g[1, :, 0].tolist() == pytest.approx([-1, -0.5, 0, 0.5, 1])  # y along the height


def test_generator_shapes_and_fp32_coordinates_under_autocast():
    torch.manual_seed(0)
    G = CoordGANGenerator(16, 16, img_resolution=32, coord_resolution=16, channels=16, num_blocks=2, warp_hidden=16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        img, coords = G(torch.randn(4, 16), torch.randn(4, 16))
    assert img.shape == (4, 3, 32, 32) and coords.shape == (4, 2, 16, 16)
    assert coords.dtype == torch.float32 and img.dtype == torch.float32
    assert coords.abs().max() < 1
    # the same structure code gives the same coordinates whatever the texture
    z_s = torch.randn(2, 16)
    _, c1 = G(torch.randn(2, 16), z_s)
    _, c2 = G(torch.randn(2, 16), z_s)
    assert torch.equal(c1, c2)


def test_swap_pairs_exchanges_within_pairs_and_refuses_odd_batches():
    x = torch.arange(6)
    assert swap_pairs(x).tolist() == [1, 0, 3, 2, 5, 4]
    with pytest.raises(ConfigError, match="odd"):
        swap_pairs(torch.arange(3))


def test_chamfer_is_zero_on_the_grid_and_matches_brute_force():
    grid = canonical_grid(2, 8)
    assert chamfer_loss(grid).item() == pytest.approx(0, abs=1e-10)
    torch.manual_seed(1)
    c = torch.rand(2, 2, 8, 8) * 2 - 1
    pts, g = c.flatten(2).transpose(1, 2), grid.flatten(2).transpose(1, 2)
    d = torch.cdist(pts, g).square()
    brute = (d.min(2).values.mean(1) + d.min(1).values.mean(1)).mean()
    assert chamfer_loss(c, chunk=5).item() == pytest.approx(brute.item(), rel=1e-5)


def test_soft_propagation_is_the_affinity_softmax_chunked_or_not():
    torch.manual_seed(2)
    q, r, v = torch.rand(2, 2, 4, 4), torch.rand(2, 2, 4, 4), torch.rand(2, 3, 4, 4)
    a = torch.softmax(-torch.cdist(q.flatten(2).mT, r.flatten(2).mT) / 0.1, dim=2)
    expected = (a @ v.flatten(2).mT).mT.reshape(2, 3, 4, 4)
    assert torch.allclose(soft_propagate(q, r, v, 0.1, chunk=3), expected, atol=1e-6)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # a bf16 matmul would be off by ~1e-3
        out = soft_propagate(q, r, v, 0.1, chunk=5)
    assert out.dtype == torch.float32 and torch.allclose(out, expected, atol=1e-6)


def test_warp_rebuilds_an_image_from_its_partner_with_gradients_through_both():
    coords = canonical_grid(2, 6).clone().requires_grad_(True)  # both images share a frame: identity warp
    images = torch.rand(2, 3, 6, 6, requires_grad=True)
    out = warp_images(images, coords, tau=1e-3, chunk=7)
    assert torch.allclose(out, images.flip(0), atol=1e-4)  # image 0 rebuilt from image 1's pixels and back
    out.sum().backward()
    assert images.grad is not None and coords.grad is not None


def test_random_crops_stay_inside_and_have_the_patch_size():
    img = torch.zeros(2, 3, 32, 32)
    img[..., 8:24, 8:24] = 1
    crops = random_crops(img, 4, 8, 0.125, 0.25, lambda *s: torch.full(s, 0.5))
    assert crops.shape == (8, 3, 8, 8)
    assert torch.allclose(crops, torch.ones_like(crops))  # centred crops of at most 1/4 of the side


def test_perceptual_kinds_agree_and_the_probe_distance_is_zero_for_equal_images():
    assert PERCEPTUAL_KINDS == OPTION_KINDS
    net = ProbeDistance((8, 8, 8), 16).eval()
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    assert torch.allclose(net(x, x), torch.zeros(2))
    assert (net(x, x.flip(0)) > 0).all()


def _ctx(step: int) -> StepContext:
    return StepContext(BatchRandom(step), step, 0, 0, 1, torch.device("cpu"), lambda t: t)


def test_a_training_step_of_every_phase_gives_finite_losses_and_gradients():
    torch.manual_seed(0)
    method = build_method("coordgan", TINY, 32).train()
    batch = Batch(torch.rand(4, 3, 32, 32) * 2 - 1, torch.zeros(4, 0))
    for phase in method.phases():
        for p in method.parameters():
            p.grad = None
        logs = method.accumulate_gradients(phase, batch, _ctx(16))
        assert logs and all(math.isfinite(float(v)) for v in logs.values())
        net = method.trainable()[phase.network]
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())
    assert {"loss_chamfer", "loss_warp", "loss_swap", "loss_G_patch"} <= set(logs)
    assert [p.name for p in method.phases()] == ["Dmain", "Dreg", "Gmain"]
    assert method.phases()[1].interval == 16


def test_schedules_follow_the_official_code():
    method = build_method("coordgan", {**TINY, "gan_warmup_iters": 10000, "patch_start_iters": 10000}, 32)
    assert method._gan_weight(0) == 1.0 and method._gan_weight(7500) == 1.5 and method._gan_weight(20000) == 2.0
    assert not method._patch_on(9999) and method._patch_on(10000)
    o = method.options
    assert o.g_lr == pytest.approx(0.0016) and o.g_betas[1] == pytest.approx(0.99**0.8)


def test_odd_micro_batch_is_refused():
    method = build_method("coordgan", TINY, 32)
    assert "odd" in method.options.check_experiment(32, 3)
    assert method.options.check_experiment(32, 4) is None
    assert "coord_resolution" in method.options.check_experiment(64 * 2, 4)


def test_sample_textures_and_structures_are_separate_codes():
    method = build_method("coordgan", TINY, 32)
    a, ca = method.sample([1, 2], return_coords=True)
    b, cb = method.sample([1, 2], texture_seeds=[3, 4], return_coords=True)
    assert torch.equal(ca, cb) and not torch.allclose(a, b)


def test_encoder_parameter_count_matches_the_derivation():
    from ganbench.methods.coordgan_encoder import StructureTextureEncoder

    with torch.device("meta"):
        assert count(StructureTextureEncoder(128, 512, 12)) == 41_103_968  # §2.8
        w_s, ws = StructureTextureEncoder(
            32, 16, 6, channels=4, channel_max=8, spatial_channels=2, global_channels=(8, 8)
        )(torch.zeros(2, 3, 32, 32))
    assert w_s.shape == (2, 16) and ws.shape == (2, 6, 16)


def test_lpips_vgg_loads_torchvision_and_lpips_weights_by_name():
    """The two released files load without conversion: torchvision's vgg16 ``features.*`` and lpips' ``lin{k}``."""
    from torchvision.models import vgg16

    from ganbench.nets.perceptual import VGG_CHANNELS, LPIPSVGG

    torch.manual_seed(0)
    vgg = {k[len("features.") :]: v for k, v in vgg16(weights=None).state_dict().items() if k.startswith("features.")}
    lins = {f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1) for k, c in enumerate(VGG_CHANNELS)}  # lpips' vgg.pth
    net = LPIPSVGG().eval()
    missing, _ = net.vgg.load_state_dict(vgg, strict=False)
    assert not missing
    missing, unexpected = net.load_state_dict(lins, strict=False)
    assert not unexpected and all(k.startswith("vgg.") for k in missing)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    assert torch.allclose(net(x, x), torch.zeros(2)) and (net(x, x.flip(0)) > 0).all()

"""StyleGAN (v1): a tiny DatasetGAN ``.for_g_all.pt`` layout made here, converted, and checked against a direct
computation of the v1 generator written from research/checkpoints.md §3; LAGM's two maps per block."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ganbench.errors import GanbenchError
from ganbench.methods import build_method
from ganbench.methods.base import InputInfo
from ganbench.nets.importers import import_network, imported_checkpoint, write_imported_checkpoint
from ganbench.nets.stylegan1 import UpConv2d

Z, W, LAYERS = 16, 16, 2
CHANNELS = {4: 32, 8: 32, 16: 16}  # min(256 // r, 32)
BLUR = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 16


def tiny_for_g_all(seed: int = 0, channels: dict[int, int] = CHANNELS) -> dict[str, torch.Tensor]:
    """A state dict in the key layout of DatasetGAN's ``karras2019stylegan-*.for_g_all.pt`` (no avg_latent)."""
    g = torch.Generator().manual_seed(seed)
    r = lambda *shape: torch.randn(*shape, generator=g)  # noqa: E731
    state = {}
    for i in range(LAYERS):
        state[f"g_mapping.dense{i}.weight"] = r(W, Z if i == 0 else W)
        state[f"g_mapping.dense{i}.bias"] = r(W)
    res = sorted(channels)
    for k, s in enumerate(res):
        c, b = channels[s], f"g_synthesis.blocks.{s}x{s}"
        if s == 4:
            state[f"{b}.const"] = r(1, c, 4, 4)
            state[f"{b}.bias"] = r(c)
            state[f"{b}.conv.weight"], state[f"{b}.conv.bias"] = r(c, c, 3, 3), r(c)
        else:
            state[f"{b}.conv0_up.weight"], state[f"{b}.conv0_up.bias"] = r(c, channels[res[k - 1]], 3, 3), r(c)
            state[f"{b}.conv0_up.intermediate.kernel"] = BLUR[None, None].clone()
            state[f"{b}.conv1.weight"], state[f"{b}.conv1.bias"] = r(c, c, 3, 3), r(c)
        for e in ("epi1", "epi2"):
            state[f"{b}.{e}.top_epi.noise.weight"] = r(c)
            state[f"{b}.{e}.style_mod.lin.weight"], state[f"{b}.{e}.style_mod.lin.bias"] = r(2 * c, W), r(2 * c)
    state["g_synthesis.torgb.weight"], state["g_synthesis.torgb.bias"] = r(3, channels[res[-1]], 1, 1), r(3)
    return state


def direct(state, z, w_avg, psi, cutoff, noises):
    """The v1 generator computed straight from the file's tensors: pixel norm, 8 (here 2) dense layers with
    weight * sqrt(2)/sqrt(in) * 0.01, bias * 0.01 and lrelu 0.2; truncation; per block (nearest x2, conv, blur,
    bias) or (const + bias), epilogue, conv, epilogue; ToRGB. Returns (img, [features])."""
    x = z * (z.square().mean(1, keepdim=True) + 1e-8).rsqrt()
    for i in range(LAYERS):
        wgt, bias = state[f"g_mapping.dense{i}.weight"], state[f"g_mapping.dense{i}.bias"]
        x = F.leaky_relu(x @ (wgt * math.sqrt(2) / math.sqrt(wgt.shape[1]) * 0.01).T + bias * 0.01, 0.2)
    res = sorted(int(k.split(".")[2].split("x")[0]) for k in state if k.endswith("epi1.top_epi.noise.weight"))
    ws = x[:, None].repeat(1, 2 * len(res), 1)
    ws[:, :cutoff] = w_avg + psi * (ws[:, :cutoff] - w_avg)
    noises = iter(noises)

    def conv(x, w, pad=1, gain=math.sqrt(2)):
        return F.conv2d(x, w * gain / math.sqrt(w[0].numel()), padding=pad)

    def epilogue(x, prefix, w):
        x = x + next(noises) * state[f"{prefix}.top_epi.noise.weight"].view(1, -1, 1, 1)
        x = F.leaky_relu(x, 0.2)
        x = (x - x.mean((2, 3), keepdim=True)) / (x.var((2, 3), unbiased=False, keepdim=True) + 1e-8).sqrt()
        lw, lb = state[f"{prefix}.style_mod.lin.weight"], state[f"{prefix}.style_mod.lin.bias"]
        style = (w @ (lw / math.sqrt(lw.shape[1])).T + lb).view(len(w), 2, -1, 1, 1)
        return x * (style[:, 0] + 1) + style[:, 1]

    features = []
    for k, s in enumerate(res):
        b = f"g_synthesis.blocks.{s}x{s}"
        if s == 4:
            x = (state[f"{b}.const"] + state[f"{b}.bias"].view(1, -1, 1, 1)).expand(len(z), -1, -1, -1)
            w1, b1 = state[f"{b}.conv.weight"], state[f"{b}.conv.bias"]
        else:
            x = conv(F.interpolate(x, scale_factor=2, mode="nearest"), state[f"{b}.conv0_up.weight"])
            x = F.conv2d(x, BLUR.expand(x.shape[1], 1, 3, 3), padding=1, groups=x.shape[1])
            x = x + state[f"{b}.conv0_up.bias"].view(1, -1, 1, 1)
            w1, b1 = state[f"{b}.conv1.weight"], state[f"{b}.conv1.bias"]
        x = epilogue(x, f"{b}.epi1", ws[:, 2 * k])
        raw = conv(x, w1) + b1.view(1, -1, 1, 1)
        x = epilogue(raw, f"{b}.epi2", ws[:, 2 * k + 1])
        features += [x, raw]
    img = conv(x, state["g_synthesis.torgb.weight"], pad=0, gain=1) + state["g_synthesis.torgb.bias"].view(1, -1, 1, 1)
    return img, features


class ListRng:
    """A BatchRandom-like noise source: hands out the given tensors in order."""

    def __init__(self, tensors):
        self.tensors = list(tensors)

    def randn(self, *shape):
        t = self.tensors.pop(0)
        assert tuple(t.shape) == shape
        return t


def _noises(n: int, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 1, s, s, generator=g) for s in sorted(CHANNELS) for _ in range(2)]


@pytest.fixture
def for_g_all(tmp_path):
    path = tmp_path / "karras2019stylegan-tiny-16x16.for_g_all.pt"
    torch.save(tiny_for_g_all(), path)
    return path


def test_converted_generator_matches_the_direct_computation(for_g_all, tmp_path):
    avg = torch.randn(W, generator=torch.Generator().manual_seed(5))
    import numpy as np

    np.save(tmp_path / "avg_latent_stylegan1.npy", avg.numpy())
    ckpt = imported_checkpoint(for_g_all, method="stylegan1", avg_latent=tmp_path / "avg_latent_stylegan1.npy")
    assert ckpt["method"] == "stylegan1" and ckpt["resolution"] == 16
    assert ckpt["experiment"]["options"]["channel_base"] == 256 and ckpt["experiment"]["options"]["channel_max"] == 32
    net = build_method("stylegan1", ckpt["experiment"]["options"], 16)
    net.load_state_dict(ckpt["state"])
    G = net.G_ema
    z = torch.randn(3, Z, generator=torch.Generator().manual_seed(2))
    noises = _noises(3)
    with torch.no_grad():
        img, feats = G(z, None, truncation_psi=0.7, truncation_cutoff=4, rng=ListRng(noises), return_features=True)
        want_img, want_feats = direct(tiny_for_g_all(), z, avg, 0.7, 4, noises)
    assert img.shape == (3, 3, 16, 16)
    torch.testing.assert_close(img, want_img, rtol=1e-4, atol=1e-4)
    # two maps per block (the block output, then its raw conv1), lowest resolution first
    assert [tuple(f.shape[1:]) for f in feats.values()] == [
        (CHANNELS[s], s, s) for s in sorted(CHANNELS) for _ in (0, 1)
    ]
    assert G.synthesis.feature_channels() == [CHANNELS[s] for s in sorted(CHANNELS) for _ in (0, 1)]
    for got, want in zip(feats.values(), want_feats):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    assert ckpt["source"]["avg_latent"]["sha256"]


def test_without_avg_latent_the_mean_w_is_estimated_and_noted(for_g_all):
    imported = import_network(for_g_all)
    assert imported.D is None and any("mean w of 10000 latents" in n for n in imported.notes)
    assert imported.G["mapping.w_avg"].shape == (W,) and imported.G["mapping.w_avg"].abs().sum() > 0


def test_fused_upsampling_conv_equals_the_transposed_convolution():
    """From 128 px on, the original's fused stride-2 transposed conv with the 4x4 kernel summing the four shifts of
    the stored 3x3 kernel (TF fused_scale='auto')."""
    torch.manual_seed(0)
    up = UpConv2d(3, 4, fused=True)
    x = torch.randn(2, 3, 64, 64)
    w = (up.weight * up.weight_gain).permute(1, 0, 2, 3)
    w = F.pad(w, (1, 1, 1, 1))
    w = w[:, :, 1:, 1:] + w[:, :, :-1, 1:] + w[:, :, 1:, :-1] + w[:, :, :-1, :-1]
    want = F.conv_transpose2d(x, w, stride=2, padding=1)
    want = F.conv2d(want, BLUR.expand(4, 1, 3, 3), padding=1, groups=4) + up.bias.view(1, -1, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(up(x), want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "tamper, message",
    [
        (
            lambda s: s.pop("g_synthesis.blocks.8x8.epi2.style_mod.lin.bias"),
            "has no tensor 'g_synthesis.blocks.8x8.epi2",
        ),
        (
            lambda s: s.__setitem__("g_synthesis.blocks.8x8.conv1.weight", torch.zeros(32, 16, 3, 3)),
            "g_synthesis.blocks.8x8.conv1.weight has shape [32, 16, 3, 3], expected [32, 32, 3, 3]",
        ),
        (lambda s: s.__setitem__("g_synthesis.extra", torch.zeros(1)), "has 'g_synthesis.extra', which ganbench"),
        (
            lambda s: s.__setitem__("g_synthesis.blocks.16x16.conv0_up.intermediate.kernel", torch.ones(1, 1, 3, 3)),
            "is not the [1, 2, 1] blur",
        ),
    ],
)
def test_tampered_file_is_refused_in_one_line(tamper, message, tmp_path):
    state = tiny_for_g_all()
    tamper(state)
    path = tmp_path / "bad.for_g_all.pt"
    torch.save(state, path)
    with pytest.raises(GanbenchError) as err:
        write_imported_checkpoint(path, tmp_path / "out.pt")
    assert message in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "out.pt").exists()


def _lagm(ckpt, resolution: int, **options):
    parents = {
        "generator": InputInfo("stylegan1", ckpt["experiment"]["options"], ckpt["resolution"]),
        "annotations": InputInfo(None, {}, resolution, extra={"classes": ["background", "a", "b"]}),
    }
    lagm = build_method("lagm", {"base_channels": 8, "tmp_channels": 8, **options}, resolution, parents=parents)
    lagm.G.load_state_dict({k[len("G_ema.") :]: v for k, v in ckpt["state"].items() if k.startswith("G_ema.")})
    return lagm


def test_lagm_reads_two_maps_per_stylegan_block_with_psi_and_cutoff(for_g_all):
    ckpt = imported_checkpoint(for_g_all)
    lagm = _lagm(ckpt, 16)
    assert len(lagm.A.laterals) == 6  # three blocks, two maps each
    assert [lat.in_channels for lat in lagm.A.laterals] == [32, 32, 32, 32, 16, 16]
    z = torch.randn(2, Z, generator=torch.Generator().manual_seed(3))
    noises = _noises(2)
    img, feats = lagm.generate(z, rng=ListRng(noises))
    state = tiny_for_g_all()
    want_img, want_feats = direct(state, z, lagm.G.mapping.w_avg, 0.7, 8, noises)  # the official psi and cutoff
    torch.testing.assert_close(img, want_img, rtol=1e-4, atol=1e-4)
    for got, want in zip(feats, want_feats):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    assert lagm.annotate(feats).shape == (2, 3, 16, 16)


def test_lagm_resizes_a_larger_generator_down(tmp_path):
    """Face-34's StyleGAN makes 1024 px for a 512 px experiment: image and larger maps resized down."""
    channels = {4: 32, 8: 32, 16: 16, 32: 8}
    path = tmp_path / "big.for_g_all.pt"
    torch.save(tiny_for_g_all(channels=channels), path)
    ckpt = imported_checkpoint(path)
    with pytest.raises(GanbenchError, match="the generator makes 32 px images, the experiment trains at 16 px"):
        _lagm(ckpt, 16)
    lagm = _lagm(ckpt, 16, generator_resolution=32)
    img, feats = lagm.generate(torch.randn(2, Z))
    assert img.shape[-1] == 16 and [f.shape[-1] for f in feats] == [4, 4, 8, 8, 16, 16, 16, 16]


def test_lagm_car_transform_crops_images_and_labels_alike(for_g_all):
    """options.wide_crop (lagm.md §2.2, the cars): rows [R/8, 7R/8) of the generated image and of the annotator's
    logits, resized back to R x R (nearest); the pairs' labels are the argmax of the transformed logits."""
    ckpt = imported_checkpoint(for_g_all)
    plain, car = _lagm(ckpt, 16), _lagm(ckpt, 16, wide_crop=True)
    car.A.load_state_dict(plain.A.state_dict())
    z = torch.randn(2, Z, generator=torch.Generator().manual_seed(4))
    img, feats = plain.generate(z, rng=ListRng(_noises(2)))
    cropped, _ = car.generate(z, rng=ListRng(_noises(2)))
    rows = 2 + torch.arange(16) * 12 // 16  # nearest from the 12 kept rows (2 .. 13) back to 16
    torch.testing.assert_close(cropped, img[:, :, rows])
    plain.A.eval(), car.A.eval()
    torch.testing.assert_close(car.logits(feats), F.interpolate(plain.A(feats)[:, :, 2:14], size=(16, 16)))
    _, labels = car.label(z, rng=ListRng(_noises(2)))
    assert labels.shape == (2, 16, 16)

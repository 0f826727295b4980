"""StyleGAN2 networks: parameter counts of config F, shapes, truncation, noise, DDP-equal randomness,
contiguous minibatch-std groups and second-order gradients (R1, path length)."""

from __future__ import annotations

import math

import pytest
import torch

from ganbench.errors import ConfigError
from ganbench.nets import Discriminator, Generator, MinibatchStdLayer, modulated_conv2d
from ganbench.nets.layers import RESAMPLE_FILTER, Conv2dLayer, make_filter
from ganbench.train.batch_random import BatchRandom

TINY = dict(channel_base=512, channel_max=32)  # 32 channels up to 16 px, then 16, 8


def tiny_g(res=32, **kw):
    torch.manual_seed(0)
    return Generator(z_dim=32, w_dim=32, img_resolution=res, mapping_kwargs={"num_layers": 2}, **TINY, **kw)


def tiny_d(res=32, **kw):
    torch.manual_seed(1)
    return Discriminator(img_resolution=res, **TINY, **kw)


def nparams(module):
    return sum(p.numel() for p in module.parameters())


# ---------------------------------------------------------------------------------------------
# Parameter counts, derived per layer type from the architecture


def fc(i, o, bias=True):
    return i * o + (o if bias else 0)


def conv(i, o, k, bias=True):
    return i * o * k * k + (o if bias else 0)


def expected_counts(R, z=512, w=512, mapping_layers=8, img=3, base=32768, cmax=512):
    """(mapping, synthesis, D) parameter counts of StyleGAN2 config F at resolution R."""
    ch = lambda r: min(base // r, cmax)  # noqa: E731
    mapping = fc(z, w) + (mapping_layers - 1) * fc(w, w)  # w_avg is a buffer
    res = [2**i for i in range(2, int(math.log2(R)) + 1)]
    synthesis = ch(4) * 4 * 4  # learned constant input
    for r in res:
        # modulated conv = affine (w -> in channels, with bias) + 3x3 weight + bias + noise strength;
        # the noise_const images are buffers
        modconv = lambda i, o: fc(w, i) + conv(i, o, 3) + 1  # noqa: E731
        synthesis += (modconv(ch(r // 2), ch(r)) if r > 4 else 0) + modconv(ch(r), ch(r))
        synthesis += fc(w, ch(r)) + conv(ch(r), img, 1)  # ToRGB: affine + 1x1 weight + bias, every block
    d = conv(img, ch(R), 1)  # FromRGB
    for r in res[:0:-1]:  # blocks R ... 8: conv0, conv1 (down), 1x1 skip without bias
        d += conv(ch(r), ch(r), 3) + conv(ch(r), ch(r // 2), 3) + conv(ch(r), ch(r // 2), 1, bias=False)
    d += conv(ch(4) + 1, ch(4), 3) + fc(ch(4) * 16, ch(4)) + fc(ch(4), 1)  # epilogue: mbstd conv, fc, out
    return mapping, synthesis, d


@pytest.mark.parametrize("R", [1024, 256])
def test_config_f_parameter_counts(R):
    with torch.device("meta"):  # no memory, no init time
        G, D = Generator(img_resolution=R), Discriminator(img_resolution=R)
    mapping, synthesis, d = expected_counts(R)
    assert nparams(G.mapping) == mapping
    assert nparams(G.synthesis) == synthesis
    assert nparams(D) == d
    assert G.num_ws == 2 * int(math.log2(R)) - 2
    buffers = dict(G.named_buffers())
    assert "mapping.w_avg" in buffers and "synthesis.b8.conv0.noise_const" in buffers
    if R == 1024:
        # Published: StyleGAN2 (TF) config-f network summary, G total 30,370,060 with G_mapping
        # 2,101,248; StyleGAN2-ADA's printed summary for a D with channel_base 32768 at 1024:
        # 29,012,513, and its per-layer rows below.
        assert (mapping, mapping + synthesis, d) == (2_101_248, 30_370_060, 29_012_513)
        assert nparams(G.synthesis.b32.conv0) == 2_622_465
        assert nparams(G.synthesis.b128.conv0) == 1_442_561
        assert nparams(G.synthesis.b1024.torgb) == 16_515
        assert nparams(D.b1024.skip) == 2048 and nparams(D.b4.conv) == 2_364_416 and nparams(D.b4.fc) == 4_194_816
    else:
        assert (mapping + synthesis, d) == (30_034_338, 28_864_129)


# ---------------------------------------------------------------------------------------------
# Shapes and features


@pytest.mark.parametrize("res", [32, 64])
def test_shapes_and_features(res):
    G, D = tiny_g(res), tiny_d(res)
    z = torch.randn(4, 32)
    img, feats = G(z, return_features=True)
    assert img.shape == (4, 3, res, res) and img.dtype == torch.float32
    assert G.num_ws == 2 * int(math.log2(res)) - 2
    channels = {r: min(512 // r, 32) for r in G.synthesis.block_resolutions}
    assert {r: tuple(f.shape) for r, f in feats.items()} == {r: (4, c, r, r) for r, c in channels.items()}
    ws = G.mapping(z, None)
    assert ws.shape == (4, G.num_ws, 32)
    assert torch.allclose(G.synthesis(ws, noise_mode="const"), G(z, noise_mode="const"), atol=1e-6)
    assert D(img).shape == (4, 1)


def test_conditional_networks():
    torch.manual_seed(0)
    G = Generator(z_dim=16, c_dim=5, w_dim=16, img_resolution=16, **TINY)
    D = Discriminator(c_dim=5, img_resolution=16, **TINY)
    c = torch.nn.functional.one_hot(torch.arange(4) % 5, 5).float()
    img = G(torch.randn(4, 16), c)
    assert D(img, c).shape == (4, 1)
    with pytest.raises(ConfigError):
        G(torch.randn(4, 16), None)


def test_bad_resolution():
    with pytest.raises(ConfigError, match="power of two"):
        Generator(img_resolution=48)


def test_resampling_layers_and_fused_modconv():
    x = torch.randn(3, 8, 8, 8)
    assert Conv2dLayer(8, 4, 3, up=2)(x).shape == (3, 4, 16, 16)
    assert Conv2dLayer(8, 4, 3, down=2)(x).shape == (3, 4, 4, 4)
    weight, styles, f = torch.randn(6, 8, 3, 3), torch.randn(3, 8), make_filter(RESAMPLE_FILTER)
    for up, demod in [(1, True), (2, True), (1, False)]:
        args = dict(up=up, padding=1, resample_filter=f, demodulate=demod, flip_weight=(up == 1))
        a = modulated_conv2d(x, weight, styles, fused_modconv=True, **args)
        b = modulated_conv2d(x, weight, styles, fused_modconv=False, **args)
        assert a.shape == (3, 6, 8 * up, 8 * up)
        assert torch.allclose(a, b, atol=1e-4, rtol=1e-4)
    # demodulation: unit-variance input gives roughly unit-variance output, whatever the style scale
    y = modulated_conv2d(torch.randn(16, 8, 8, 8), weight, 10 * torch.rand(16, 8) + 0.1, padding=1)
    assert 0.5 < y.std().item() < 2.0


# ---------------------------------------------------------------------------------------------
# Truncation, w_avg, noise


def test_truncation_toward_w_avg():
    G = tiny_g()
    G.mapping.w_avg.copy_(torch.randn(32))
    z = torch.randn(3, 32)
    ws = G.mapping(z, None)
    assert torch.allclose(G.mapping(z, None, truncation_psi=0), G.mapping.w_avg.expand_as(ws))
    half = G.mapping(z, None, truncation_psi=0.5)
    assert torch.allclose(half - G.mapping.w_avg, 0.5 * (ws - G.mapping.w_avg), atol=1e-5)
    cut = G.mapping(z, None, truncation_psi=0.5, truncation_cutoff=3)
    assert torch.allclose(cut[:, :3], half[:, :3]) and torch.equal(cut[:, 3:], ws[:, 3:])


def test_w_avg_update():
    G = tiny_g()
    z = torch.randn(5, 32)
    assert torch.equal(G.mapping.w_avg, torch.zeros(32))
    G.mapping(z, None)  # no update unless asked
    assert torch.equal(G.mapping.w_avg, torch.zeros(32))
    ws = G.mapping(z, None, update_emas=True)
    assert torch.allclose(G.mapping.w_avg, (1 - 0.995) * ws[:, 0].mean(0), atol=1e-6)


def test_noise_modes():
    G = tiny_g()
    for layer in G.modules():  # noise strengths start at zero: make the noise visible
        if hasattr(layer, "noise_strength"):
            layer.noise_strength.data.fill_(0.5)
    z = torch.randn(2, 32)
    assert torch.equal(G(z, noise_mode="const"), G(z, noise_mode="const"))
    assert torch.equal(G(z, noise_mode="none"), G(z, noise_mode="none"))
    assert not torch.allclose(G(z, noise_mode="const"), G(z, noise_mode="none"))
    assert not torch.allclose(G(z), G(z))  # random mode draws new noise
    assert torch.equal(G(z, rng=BatchRandom(7)), G(z, rng=BatchRandom(7)))
    with pytest.raises(ConfigError, match="noise_mode"):
        G(z, noise_mode="fixed")


@pytest.mark.parametrize("train", [False, True])  # fused (eval) and unfused (training) modconv
def test_rng_two_ranks_equal_one_process(train):
    G = tiny_g().train(train)
    for layer in G.modules():
        if hasattr(layer, "noise_strength"):
            layer.noise_strength.data.fill_(0.5)
    z = torch.randn(8, 32)
    with torch.no_grad():
        full = G(z, rng=BatchRandom(123, 0, 1))
        ranks = [G(z[4 * r : 4 * r + 4], rng=BatchRandom(123, r, 2)) for r in range(2)]
    assert torch.allclose(torch.cat(ranks), full, atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# Minibatch std


def test_mbstd_groups_are_contiguous():
    D = tiny_d(16)
    x = torch.randn(8, 3, 16, 16)
    y = x.clone()
    y[4:] = torch.randn(4, 3, 16, 16)
    with torch.no_grad():
        a, b = D(x), D(y)
        assert torch.allclose(a[:4], b[:4], atol=1e-6)
        assert not torch.allclose(a[4:], b[4:])
        # a rank holding samples 4..7 computes what one process computes for them
        assert torch.allclose(D(x[4:]), a[4:], atol=1e-5)


def test_mbstd_layer_values_and_errors():
    layer = MinibatchStdLayer(group_size=2, num_channels=1)
    x = torch.randn(4, 3, 2, 2)
    y = layer(x)
    assert y.shape == (4, 4, 2, 2)
    expected = x.reshape(2, 2, 3, 2, 2).std(dim=1, unbiased=False).mean(dim=[1, 2, 3])
    assert torch.allclose(y[:, 3, 0, 0], expected.repeat_interleave(2), atol=1e-4)
    assert MinibatchStdLayer(4)(torch.randn(2, 3, 2, 2)).shape == (2, 4, 2, 2)  # G = min(4, batch)
    with pytest.raises(ConfigError, match="must divide"):
        MinibatchStdLayer(4)(torch.randn(6, 3, 2, 2))


# ---------------------------------------------------------------------------------------------
# Second-order gradients


def _grads_finite(module):
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    return bool(grads) and all(torch.isfinite(g).all() for g in grads)


def test_r1_double_backward():
    D = tiny_d()
    x = torch.randn(4, 3, 32, 32, requires_grad=True)
    (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    grad.square().sum(dim=[1, 2, 3]).mean().backward()
    assert _grads_finite(D)


@pytest.mark.parametrize("train", [True, False])
def test_path_length_double_backward(train):
    G = tiny_g().train(train)
    ws = G.mapping(torch.randn(2, 32), None)
    img = G.synthesis(ws)
    pl_noise = torch.randn_like(img) / math.sqrt(img.shape[2] * img.shape[3])
    (grad,) = torch.autograd.grad((img * pl_noise).sum(), ws, create_graph=True)
    grad.square().sum(2).mean(1).sqrt().mean().backward()
    assert _grads_finite(G)
    assert G.mapping.fcs[0].weight.grad is not None


# ---------------------------------------------------------------------------------------------
# Implementations and precision


def test_compiled_ops_match_reference(monkeypatch):
    """The networks give the same images and R1 gradients on the default ops as on the reference."""
    G, D = tiny_g(16), tiny_d(16)
    z = torch.randn(4, 32)

    def run():
        img = G(z, noise_mode="const")
        x = img.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
        return img, grad

    img, grad = run()
    monkeypatch.setenv("GANBENCH_OPS", "ref")
    img_ref, grad_ref = run()
    assert torch.allclose(img, img_ref, atol=1e-5) and torch.allclose(grad, grad_ref, atol=1e-5)


def test_fp16_modulated_conv_matches_fp32():
    torch.manual_seed(0)
    x, weight, styles = torch.randn(3, 8, 8, 8), torch.randn(6, 8, 3, 3) / 8, 100 * torch.randn(3, 8)
    for fused in (True, False):
        a = modulated_conv2d(x, weight, styles, padding=1, fused_modconv=fused)
        b = modulated_conv2d(x.half(), weight.half(), styles.half(), padding=1, fused_modconv=fused)
        assert b.dtype == torch.float16 and torch.allclose(a, b.float(), atol=2e-2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="fp16 blocks run on CUDA only")
def test_fp16_blocks_on_cuda():
    G = tiny_g(32, num_fp16_res=2, conv_clamp=256).cuda()
    D = tiny_d(32, num_fp16_res=2, conv_clamp=256).cuda()
    img, feats = G(torch.randn(4, 32, device="cuda"), return_features=True)
    assert img.dtype == torch.float32 and feats[32].dtype == torch.float32
    assert torch.isfinite(img).all() and torch.isfinite(D(img)).all()

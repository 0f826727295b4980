"""The custom ops against their pure-PyTorch reference: values, gradients, dispatch.

The compiled C++ ops are built once per test session into a temporary cache (about a minute
on two cores). Where a GPU is visible the CUDA ops are checked the same way.
"""

from __future__ import annotations

import itertools
import math
import warnings
from pathlib import Path

import pytest
import torch

from ganbench.errors import OpsError
from ganbench.ops import (
    ACTIVATIONS,
    bias_act,
    conv2d_resample,
    downsample2d,
    filter2d,
    setup_filter,
    upfirdn2d,
    upsample2d,
)
from ganbench.ops import _build
from ganbench.ops.upfirdn2d import _kernel_filter

GPU = torch.cuda.is_available()


def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ops cache for the whole test session (per xdist worker)."""
    return tmp_path_factory.getbasetemp() / "ganbench-cache"


@pytest.fixture(scope="module", autouse=True)
def ops_cache(tmp_path_factory: pytest.TempPathFactory):
    """Point GANBENCH_CACHE at the session's temporary cache and build the C++ ops there."""
    mp = pytest.MonkeyPatch()
    mp.setenv("GANBENCH_CACHE", str(shared_cache(tmp_path_factory)))
    mp.delenv("GANBENCH_OPS", raising=False)
    _build.reset()
    _build.build("cpp")
    yield
    _build.reset()
    mp.undo()


def devices() -> list[str]:
    return ["cpu"] + (["cuda"] if GPU else [])


def impl_of(device: str) -> str:
    return "cuda" if device == "cuda" else "cpp"


def tol(dtype: torch.dtype) -> dict:
    return {
        torch.float64: dict(rtol=1e-10, atol=1e-10),
        torch.float32: dict(rtol=1e-5, atol=1e-5),
        torch.float16: dict(rtol=1e-2, atol=1e-2),
    }[dtype]


def layouts(x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The same values in three memory layouts."""
    wide = torch.zeros(*x.shape[:-1], 2 * x.shape[-1], dtype=x.dtype, device=x.device)
    wide[..., ::2] = x
    return {
        "contiguous": x.contiguous(),
        "strided": wide[..., ::2],  # non-contiguous rows
        "channels_last": x.contiguous(memory_format=torch.channels_last),
    }


def grads(fn, *inputs: torch.Tensor, dy: torch.Tensor) -> list[torch.Tensor]:
    inputs = [t.detach().requires_grad_(True) for t in inputs]
    y = fn(*inputs)
    return [y] + list(torch.autograd.grad(y, inputs, dy))


# ---------------------------------------------------------------------------------------------
# upfirdn2d

FILTERS = {
    "3x3": lambda: setup_filter([1, 2, 1]),  # odd, 2D (outer product)
    "4x4": lambda: setup_filter([1, 3, 3, 1]),  # even, 2D: the StyleGAN default
    "sep8": lambda: setup_filter([1, 3, 5, 7, 7, 5, 3, 1]),  # 1D: separable
    "rand2x5": lambda: torch.randn(2, 5, generator=torch.Generator().manual_seed(1)),  # non-square
}
PADDINGS = [0, [2, 1, 0, 3], [-1, 2, 3, -2]]


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("filt", list(FILTERS))
@pytest.mark.parametrize("up,down", list(itertools.product([1, 2, 4], [1, 2, 4])))
def test_upfirdn2d_matches_reference(device, dtype, filt, up, down):
    g = torch.Generator().manual_seed(0)
    f = FILTERS[filt]().to(device)
    x = torch.randn(2, 3, 9, 8, generator=g, dtype=dtype).to(device)
    fw, fh = f.shape[-1], f.shape[0]
    checked = 0
    for padding, flip, (layout, xl) in itertools.product(PADDINGS, [False, True], layouts(x).items()):
        gain = 1.0 if layout == "contiguous" else 2.5
        args = dict(up=up, down=down, padding=padding, flip_filter=flip, gain=gain)
        p = padding if isinstance(padding, list) else [padding] * 4
        if (9 * up + p[2] + p[3] - fh) // down + 1 < 1 or (8 * up + p[0] + p[1] - fw) // down + 1 < 1:
            continue
        ref = upfirdn2d(x, f, impl="ref", **args)
        dy = torch.randn(ref.shape, generator=g, dtype=dtype).to(device)
        want = grads(lambda t: upfirdn2d(t, f, impl="ref", **args), x, dy=dy)
        got = grads(lambda t: upfirdn2d(t, f, impl=impl_of(device), **args), xl, dy=dy)
        for w, o in zip(want, got):
            assert o.shape == w.shape, (layout, args)
            torch.testing.assert_close(o, w, **tol(dtype), msg=lambda m: f"{layout} {args}: {m}")
        # The per-sample code that the CUDA kernel runs, on the CPU.
        if device == "cpu":
            module = _build.build("cpp")
            fk = _kernel_filter(f, xl, flip, gain)
            generic = module.upfirdn2d(xl, fk, up, up, down, down, *p, 1)
            torch.testing.assert_close(generic, ref, **tol(dtype))
        checked += 1
    assert checked >= 6


@pytest.mark.parametrize("device", devices())
def test_resampling_wrappers(device):
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 4, 16, 12, generator=g).to(device)
    f = setup_filter([1, 3, 3, 1], device=device)
    impl = impl_of(device)
    cases = [
        (upsample2d, dict(f=f), (32, 24)),
        (upsample2d, dict(f=f, up=4), (64, 48)),
        (upsample2d, dict(f=setup_filter([1, 2, 1], device=device), up=2, padding=[1, 0, 2, 1]), (35, 25)),
        (downsample2d, dict(f=f), (8, 6)),
        (downsample2d, dict(f=f, down=4), (4, 3)),
        (downsample2d, dict(f=setup_filter([1, 2, 1], device=device), down=[2, 1]), (16, 6)),
        (filter2d, dict(f=f), (16, 12)),
        (filter2d, dict(f=f, padding=[1, 2, 0, -1]), (15, 15)),
    ]
    for op, kwargs, hw in cases:
        y = op(x, impl=impl, **kwargs)
        assert tuple(y.shape) == (2, 4) + hw, (op.__name__, kwargs)
        torch.testing.assert_close(y, op(x, impl="ref", **kwargs), rtol=1e-5, atol=1e-5)
    # A normalized filter keeps a constant image constant away from the border.
    ones = torch.ones(1, 1, 16, 16, device=device)
    for op in (upsample2d, downsample2d, filter2d):
        y = op(ones, f, impl=impl)
        torch.testing.assert_close(y[..., 3:-3, 3:-3], torch.ones_like(y[..., 3:-3, 3:-3]))
    # up then down by the same factor with no filter is the identity.
    torch.testing.assert_close(upfirdn2d(x, None, up=2, down=2, impl=impl), x)


def test_setup_filter_semantics():
    f = setup_filter([1, 3, 3, 1])
    assert f.shape == (4, 4) and f.dtype == torch.float32
    torch.testing.assert_close(f.sum(), torch.tensor(1.0))
    torch.testing.assert_close(f, torch.outer(torch.tensor([1.0, 3, 3, 1]), torch.tensor([1.0, 3, 3, 1])) / 64)
    assert setup_filter([1, 3, 5, 7, 7, 5, 3, 1]).shape == (8,)  # 8 taps or more: separable
    assert setup_filter([1, 3, 3, 1], separable=True).shape == (4,)
    torch.testing.assert_close(setup_filter([1, 2, 1], gain=4).sum(), torch.tensor(4.0))
    torch.testing.assert_close(setup_filter([1, 1, 1, 1, 1, 1, 1, 1], gain=4).sum(), torch.tensor(2.0))
    flipped = setup_filter([[1.0, 2.0]], flip_filter=True, normalize=False)
    torch.testing.assert_close(flipped, torch.tensor([[2.0, 1.0]]))
    assert setup_filter(None).shape == (1, 1)
    with pytest.raises(OpsError):
        setup_filter([[1.0, 2.0]], separable=True)
    with pytest.raises(OpsError):
        setup_filter(torch.ones(2, 2, 2))


@pytest.mark.parametrize(
    "up,down,padding,filt",
    [
        (1, 1, [1, 2, 2, 1], "4x4"),
        (2, 1, [2, 1, 2, 1], "4x4"),
        (1, 2, [1, 1, 1, 1], "3x3"),
        (4, 2, [0, -1, 3, 2], "sep8"),
        (2, 4, 1, "rand2x5"),
    ],
)
def test_upfirdn2d_gradcheck(up, down, padding, filt):
    f = FILTERS[filt]().double()
    x = torch.randn(1, 2, 5, 6, dtype=torch.float64, requires_grad=True)

    def fn(t):
        return upfirdn2d(t, f, up=up, down=down, padding=padding, gain=1.5, impl="cpp")

    assert torch.autograd.gradcheck(fn, (x,))
    assert torch.autograd.gradgradcheck(fn, (x,))


def test_upfirdn2d_errors():
    x = torch.randn(1, 1, 4, 4)
    f = setup_filter([1, 3, 3, 1])
    with pytest.raises(OpsError, match="empty"):
        upfirdn2d(x, f, padding=-3, impl="cpp")
    with pytest.raises(OpsError, match="padding"):
        upfirdn2d(x, f, padding=[1, 2, 3], impl="cpp")
    with pytest.raises(OpsError, match="up"):
        upfirdn2d(x, f, up=0, impl="cpp")
    with pytest.raises(OpsError, match=r"\[N, C, H, W\]"):
        upfirdn2d(x[0], f, impl="cpp")
    with pytest.raises(OpsError, match="filter"):
        upfirdn2d(x, torch.ones(2, 2, 2), impl="cpp")


# ---------------------------------------------------------------------------------------------
# bias_act

ACT_CASES = [
    # (shape, dim, layout)
    ((2, 5, 4, 3), 1, "contiguous"),
    ((2, 5, 4, 3), 1, "channels_last"),
    ((2, 5, 4, 3), 1, "strided"),
    ((6, 7), 1, "contiguous"),  # fully connected: one bias value per feature
    ((3, 4, 5), 2, "contiguous"),
    ((4, 3, 2), 0, "contiguous"),
]


def _act_input(shape, layout, dtype, device, g):
    # Values well away from the kinks of relu/lrelu and the clamp edges, where the one-sided
    # derivatives differ.
    x = torch.randn(*shape, generator=g, dtype=torch.float64) * 2
    x = torch.where(x.abs() < 0.05, x + 0.1, x).to(dtype).to(device)
    if layout == "channels_last":
        return x.contiguous(memory_format=torch.channels_last)
    if layout == "strided":
        return layouts(x)["strided"]
    return x


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("act", list(ACTIVATIONS))
def test_bias_act_matches_reference(device, dtype, act):
    g = torch.Generator().manual_seed(3)
    impl = impl_of(device)
    for (shape, dim, layout), with_bias, clamp in itertools.product(ACT_CASES, [True, False], [None, 0.7]):
        x = _act_input(shape, layout, dtype, device, g)
        b = (torch.randn(shape[dim], generator=g, dtype=dtype) * 0.5).to(device) if with_bias else None
        kwargs = dict(dim=dim, act=act, clamp=clamp)
        if act == "lrelu":
            kwargs.update(alpha=0.1, gain=1.7)
        ref = bias_act(x, b, impl="ref", **kwargs)
        dy = torch.randn(ref.shape, generator=g, dtype=dtype).to(device)
        inputs = (x, b) if with_bias else (x,)
        want = grads(lambda *t: bias_act(t[0], t[1] if with_bias else None, impl="ref", **kwargs), *inputs, dy=dy)
        got = grads(lambda *t: bias_act(t[0], t[1] if with_bias else None, impl=impl, **kwargs), *inputs, dy=dy)
        for w, o in zip(want, got):
            torch.testing.assert_close(o, w, **tol(dtype), msg=lambda m: f"{shape} dim {dim} {layout} {kwargs}: {m}")


@pytest.mark.parametrize("act", list(ACTIVATIONS))
def test_bias_act_gradcheck(act):
    g = torch.Generator().manual_seed(4)
    x = _act_input((2, 3, 2, 2), "contiguous", torch.float64, "cpu", g).requires_grad_(True)
    b = (torch.randn(3, generator=g, dtype=torch.float64) * 0.3).requires_grad_(True)

    def fn(t, bias):
        return bias_act(t, bias, act=act, clamp=2.5, impl="cpp")

    assert torch.autograd.gradcheck(fn, (x, b))
    assert torch.autograd.gradgradcheck(fn, (x, b))


def test_bias_act_second_order_matches_reference():
    """An R1-style penalty (the squared norm of a gradient) and its gradient, cpp vs ref."""
    g = torch.Generator().manual_seed(5)
    x0 = torch.randn(2, 4, 3, 3, generator=g, dtype=torch.float64)
    b0 = torch.randn(4, generator=g, dtype=torch.float64)
    for act in ACTIVATIONS:
        out = {}
        for impl in ("cpp", "ref"):
            x, b = x0.clone().requires_grad_(True), b0.clone().requires_grad_(True)
            y = bias_act(x, b, act=act, impl=impl)
            (gx,) = torch.autograd.grad(y.square().sum(), x, create_graph=True)
            penalty = gx.square().sum()
            out[impl] = [penalty, *torch.autograd.grad(penalty, (x, b))]
        for o, w in zip(out["cpp"], out["ref"]):
            torch.testing.assert_close(o, w, msg=lambda m: f"{act}: {m}")


def test_bias_act_defaults_and_errors():
    x = torch.randn(2, 3, 4)
    lrelu = torch.nn.functional.leaky_relu(x, 0.2) * math.sqrt(2)
    torch.testing.assert_close(bias_act(x, act="lrelu", impl="cpp"), lrelu)
    relu_clamped = (torch.relu(x) * math.sqrt(2)).clamp(max=0.5)
    torch.testing.assert_close(bias_act(x, act="relu", clamp=0.5, impl="cpp"), relu_clamped)
    assert bias_act(x, impl="cpp") is x  # linear, no bias, gain 1, no clamp: nothing to do
    with pytest.raises(OpsError, match="unknown activation"):
        bias_act(x, act="gelu")
    with pytest.raises(OpsError, match="must be"):
        bias_act(x, torch.zeros(4), dim=1)
    with pytest.raises(OpsError, match="out of range"):
        bias_act(x, torch.zeros(4), dim=3)


# ---------------------------------------------------------------------------------------------
# conv2d_resample


@pytest.mark.parametrize(
    "up,down,k,groups,padding",
    [
        (1, 1, 3, 1, 1),
        (1, 1, 3, 1, [1, 0, 2, 1]),
        (2, 1, 3, 1, 1),
        (1, 2, 3, 1, 1),
        (2, 1, 1, 1, 0),
        (1, 2, 1, 1, 0),
        (2, 1, 3, 2, 1),
        (2, 2, 3, 1, 1),
    ],
)
def test_conv2d_resample(up, down, k, groups, padding):
    g = torch.Generator().manual_seed(6)
    x = torch.randn(2, 4, 8, 8, generator=g, dtype=torch.float64)
    w = torch.randn(6, 4 // groups, k, k, generator=g, dtype=torch.float64)
    f = setup_filter([1, 3, 3, 1]).double()
    for flip_weight in (True, False):
        kwargs = dict(f=f, up=up, down=down, padding=padding, groups=groups, flip_weight=flip_weight)
        ref = conv2d_resample(x, w, impl="ref", **kwargs)
        torch.testing.assert_close(conv2d_resample(x, w, impl="cpp", **kwargs), ref)
        # The definition: upsample (zeros, filter, gain up^2), convolve, filter and downsample.
        p = padding if isinstance(padding, list) else [padding] * 4
        fw = 4
        if up > 1:
            p = [p[0] + (fw + up - 1) // 2, p[1] + (fw - up) // 2, p[2] + (fw + up - 1) // 2, p[3] + (fw - up) // 2]
        if down > 1:
            lead, trail = (fw - down + 1) // 2, (fw - down) // 2
            p = [p[0] + lead, p[1] + trail, p[2] + lead, p[3] + trail]
        t = upfirdn2d(x, f if up > 1 else None, up=up, padding=p, gain=up**2, impl="ref")
        wk = w if flip_weight else w.flip([2, 3])
        t = torch.nn.functional.conv2d(t, wk, groups=groups)
        if down > 1:
            t = upfirdn2d(t, f, down=down, impl="ref")
        torch.testing.assert_close(ref, t)


# ---------------------------------------------------------------------------------------------
# Dispatch


def test_dispatch_choices(monkeypatch):
    x = torch.randn(1, 2, 4, 4)
    f = setup_filter([1, 3, 3, 1])
    monkeypatch.setenv("GANBENCH_OPS", "nonsense")
    with pytest.raises(OpsError, match="GANBENCH_OPS='nonsense'"):
        upfirdn2d(x, f)
    monkeypatch.setenv("GANBENCH_OPS", "cuda")
    with pytest.raises(OpsError, match="GANBENCH_OPS=cuda cannot run upfirdn2d on a cpu tensor"):
        upfirdn2d(x, f)
    with pytest.raises(OpsError, match="cannot run bias_act on a cpu tensor"):
        bias_act(x, act="relu")
    monkeypatch.setenv("GANBENCH_OPS", "ref")
    assert _build.select("upfirdn2d", x) is None
    monkeypatch.setenv("GANBENCH_OPS", "cpp")
    assert _build.select("upfirdn2d", x) is _build.build("cpp")
    with pytest.raises(OpsError, match="do not support torch.float16"):
        bias_act(x.half(), act="relu")
    monkeypatch.setenv("GANBENCH_OPS", "auto")
    assert _build.select("upfirdn2d", x) is _build.build("cpp")
    assert _build.select("upfirdn2d", x.half()) is None  # auto: the reference covers the rest
    assert bias_act(x.half(), act="relu").dtype == torch.float16


def test_filter_gradient_uses_reference():
    x = torch.randn(1, 2, 6, 6)
    f = setup_filter([1, 3, 3, 1]).requires_grad_(True)
    upfirdn2d(x, f, up=2, impl="auto").sum().backward()
    assert f.grad is not None and f.grad.abs().sum() > 0
    with pytest.raises(OpsError, match="filter requires a gradient"):
        upfirdn2d(x, f, impl="cpp")


def test_build_failure_warns_once_and_falls_back(tmp_path, monkeypatch):
    """auto: a compiler error becomes one warning that quotes it, then the reference runs."""
    broken = tmp_path / "kernels"
    broken.mkdir()
    for name in _build._CPP_SOURCES + _build._HEADERS:
        (broken / name).write_text("// empty\n")
    (broken / "module.cpp").write_text('#error "deliberately broken kernel source"\n')
    monkeypatch.setenv("GANBENCH_KERNELS", str(broken))
    monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GANBENCH_OPS", "auto")
    _build.reset()
    try:
        x = torch.randn(1, 2, 4, 4)
        with pytest.warns(RuntimeWarning, match="deliberately broken kernel source"):
            y = bias_act(x, act="relu")
        torch.testing.assert_close(y, torch.relu(x) * math.sqrt(2))
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # only once
            bias_act(x, act="relu")
        monkeypatch.setenv("GANBENCH_OPS", "cpp")
        with pytest.raises(OpsError, match="building the cpp ops failed: .*deliberately broken"):
            bias_act(x, act="relu")
        assert list((tmp_path / "cache" / "ops").glob("cpp-*.log"))
    finally:
        _build.reset()

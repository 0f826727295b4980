"""upfirdn2d: upsample, FIR filter, downsample, with the StyleGAN2-ADA semantics.

One op covers every resampling of the StyleGAN family. For each (n, c) plane of ``x``:

1. upsample by inserting ``up - 1`` zeros after every sample (x and y separately);
2. pad by ``padding`` on each side; negative padding crops;
3. convolve with the FIR filter ``f`` (true convolution; ``flip_filter=True`` correlates),
   scaled by ``gain`` (a 2D filter by ``gain``, a separable 1D filter by ``sqrt(gain)`` per
   axis);
4. keep every ``down``-th sample, starting with the first.

Output size: ``(H * up_y + pad_y0 + pad_y1 - f_h) // down_y + 1`` and the same along x.

The compiled kernels (``kernels/upfirdn2d*``) compute this directly as a polyphase filter;
their gradient is again an upfirdn2d (up and down swapped, the filter rotated by 180 degrees),
so one kernel serves the forward pass, the backward pass and, by composition of the
autograd function with itself, every higher derivative. :func:`upfirdn2d_ref` is the
pure-PyTorch ground truth (zero insertion, ``F.pad``, depthwise ``conv2d``, slicing).
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
import torch.nn.functional as F

from ganbench.errors import OpsError
from ganbench.ops import _build

IntOrPair = int | Sequence[int]
Padding = int | Sequence[int]


def _pair(value: IntOrPair, name: str) -> tuple[int, int]:
    """(x, y) from an int or an [x, y] pair."""
    if isinstance(value, int):
        pair = (value, value)
    else:
        pair = tuple(int(v) for v in value)
        if len(pair) != 2:
            raise OpsError(f"{name}={list(value)!r} must be an int or an [x, y] pair")
    if min(pair) < 1:
        raise OpsError(f"{name}={value!r} must be >= 1")
    return pair  # type: ignore[return-value]


def _padding(padding: Padding) -> tuple[int, int, int, int]:
    """(x0, x1, y0, y1) from an int, an [x, y] pair or an [x0, x1, y0, y1] list."""
    if isinstance(padding, int):
        return (padding,) * 4  # type: ignore[return-value]
    pad = [int(p) for p in padding]
    if len(pad) == 2:
        return pad[0], pad[0], pad[1], pad[1]
    if len(pad) == 4:
        return pad[0], pad[1], pad[2], pad[3]
    raise OpsError(f"padding={list(padding)!r} must be an int, [x, y] or [x0, x1, y0, y1]")


def _filter_size(f: torch.Tensor | None) -> tuple[int, int]:
    """(width, height) of a filter; a 1D filter is separable, so it is square."""
    if f is None:
        return 1, 1
    if not isinstance(f, torch.Tensor) or f.ndim not in (1, 2):
        raise OpsError(f"filter must be a 1D or 2D tensor, got {getattr(f, 'shape', type(f).__name__)}")
    return (f.shape[-1], f.shape[0])


def setup_filter(
    f: torch.Tensor | Sequence[float] | float | None,
    device: torch.device | str = "cpu",
    normalize: bool = True,
    flip_filter: bool = False,
    gain: float = 1,
    separable: bool | None = None,
) -> torch.Tensor:
    """A float32 FIR filter for the upfirdn2d family.

    Args:
        f: filter taps: None (a 1-tap identity), a scalar, a 1D list/tensor [fw] or a 2D
            list/tensor [fh, fw].
        device: where the filter lives (the device of the images it will filter).
        normalize: divide by the sum of the taps, so the filter preserves a constant image.
        flip_filter: flip the taps (``upfirdn2d(..., flip_filter=True)`` undoes it).
        gain: overall gain: a 2D filter is multiplied by ``gain``, a separable 1D filter by
            ``sqrt(gain)`` (it is applied once per axis).
        separable: keep a 1D filter 1D (applied along x and then y) rather than taking its
            outer product. Default: separable when the 1D filter has 8 taps or more.

    Returns:
        [fw] (separable) or [fh, fw] float32 tensor on ``device``.
    """
    f = torch.as_tensor(1.0 if f is None else f, dtype=torch.float32)
    if f.ndim > 2 or f.numel() == 0:
        raise OpsError(f"filter of shape {list(f.shape)} must be a non-empty scalar, 1D or 2D")
    if f.ndim == 0:
        f = f[None]
    if separable is None:
        separable = f.ndim == 1 and f.numel() >= 8
    if f.ndim == 1 and not separable:
        f = torch.outer(f, f)
    if f.ndim != (1 if separable else 2):
        raise OpsError(f"a 2D filter of shape {list(f.shape)} cannot be separable")
    if normalize:
        f = f / f.sum()
    if flip_filter:
        f = f.flip(list(range(f.ndim)))
    f = f * (gain ** (f.ndim / 2))
    return f.to(device=device)


def upfirdn2d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    up: IntOrPair = 1,
    down: IntOrPair = 1,
    padding: Padding = 0,
    flip_filter: bool = False,
    gain: float = 1,
    impl: str | None = None,
) -> torch.Tensor:
    """Upsample, pad, FIR-filter and downsample a batch of 2D images.

    Args:
        x: [N, C, H, W] float tensor (any strides; channels-last is fine).
        f: [fh, fw] filter, [fw] separable filter (see :func:`setup_filter`), or None for
            the identity. It receives no gradient on the compiled paths.
        up: upsampling factor, int or [x, y].
        down: downsampling factor, int or [x, y].
        padding: int, [x, y] or [x0, x1, y0, y1]; applied after upsampling; negative crops.
        flip_filter: correlate instead of convolve.
        gain: overall scaling of the signal magnitude.
        impl: ``auto`` | ``cuda`` | ``cpp`` | ``ref``; default ``$GANBENCH_OPS`` or ``auto``.

    Returns:
        [N, C, (H*up_y + pad_y0 + pad_y1 - fh) // down_y + 1,
        (W*up_x + pad_x0 + pad_x1 - fw) // down_x + 1] tensor (NCHW-contiguous on the
        compiled paths).
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise OpsError(f"upfirdn2d needs x of shape [N, C, H, W], got {getattr(x, 'shape', type(x).__name__)}")
    upx, upy = _pair(up, "up")
    downx, downy = _pair(down, "down")
    padx0, padx1, pady0, pady1 = _padding(padding)
    fw, fh = _filter_size(f)
    _, _, H, W = x.shape
    OH = (H * upy + pady0 + pady1 - fh) // downy + 1
    OW = (W * upx + padx0 + padx1 - fw) // downx + 1
    if OH < 1 or OW < 1:
        raise OpsError(
            f"upfirdn2d output would be empty: input {H}x{W}, up {upx},{upy}, padding "
            f"{[padx0, padx1, pady0, pady1]}, filter {fh}x{fw}, down {downx},{downy}"
        )
    if f is not None and not f.is_floating_point():
        raise OpsError(f"filter must be a float tensor, got {f.dtype}")
    needs_filter_grad = f is not None and f.requires_grad and torch.is_grad_enabled()
    module = _build.select(
        "upfirdn2d", x, impl, unsupported="the filter requires a gradient" if needs_filter_grad else None
    )
    if module is None:
        return upfirdn2d_ref(
            x,
            f,
            up=(upx, upy),
            down=(downx, downy),
            padding=(padx0, padx1, pady0, pady1),
            flip_filter=flip_filter,
            gain=gain,
        )
    fk = _kernel_filter(f, x, flip_filter, gain)
    cfg = _Config(module, upx, upy, downx, downy, padx0, padx1, pady0, pady1)
    return _Upfirdn2d.apply(x, fk, cfg)


def upfirdn2d_ref(
    x: torch.Tensor,
    f: torch.Tensor | None,
    up: IntOrPair = 1,
    down: IntOrPair = 1,
    padding: Padding = 0,
    flip_filter: bool = False,
    gain: float = 1,
) -> torch.Tensor:
    """The pure-PyTorch upfirdn2d: the ground truth. Arguments and shapes as :func:`upfirdn2d`."""
    upx, upy = _pair(up, "up")
    downx, downy = _pair(down, "down")
    padx0, padx1, pady0, pady1 = _padding(padding)
    if f is None:
        f = torch.ones(1, 1, dtype=torch.float32, device=x.device)
    N, C, H, W = x.shape
    # 1. zero insertion: each sample followed by up - 1 zeros
    if upx > 1 or upy > 1:
        x = x.reshape(N, C, H, 1, W, 1)
        x = F.pad(x, [0, upx - 1, 0, 0, 0, upy - 1])
        x = x.reshape(N, C, H * upy, W * upx)
    # 2. pad, then crop where the padding is negative
    x = F.pad(x, [max(padx0, 0), max(padx1, 0), max(pady0, 0), max(pady1, 0)])
    x = x[:, :, max(-pady0, 0) : x.shape[2] - max(-pady1, 0), max(-padx0, 0) : x.shape[3] - max(-padx1, 0)]
    # 3. convolution with the filter (conv2d correlates, so flip it unless asked not to)
    f = (f * (gain ** (f.ndim / 2))).to(device=x.device, dtype=x.dtype)
    if not flip_filter:
        f = f.flip(list(range(f.ndim)))
    weight = f[None, None].repeat([C, 1] + [1] * f.ndim)
    if f.ndim == 2:
        x = F.conv2d(x, weight, groups=C)
    else:
        x = F.conv2d(x, weight.unsqueeze(2), groups=C)
        x = F.conv2d(x, weight.unsqueeze(3), groups=C)
    # 4. decimation
    return x[:, :, ::downy, ::downx]


def upsample2d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    up: IntOrPair = 2,
    padding: Padding = 0,
    flip_filter: bool = False,
    gain: float = 1,
    impl: str | None = None,
) -> torch.Tensor:
    """Upsample by ``up`` with the FIR filter ``f``, keeping the image centred.

    x: [N, C, H, W] -> [N, C, H*up_y + pad_y0 + pad_y1, W*up_x + pad_x0 + pad_x1]. The gain
    is multiplied by up_x*up_y to make up for the inserted zeros.
    """
    upx, upy = _pair(up, "up")
    padx0, padx1, pady0, pady1 = _padding(padding)
    fw, fh = _filter_size(f)
    p = [
        padx0 + (fw + upx - 1) // 2,
        padx1 + (fw - upx) // 2,
        pady0 + (fh + upy - 1) // 2,
        pady1 + (fh - upy) // 2,
    ]
    return upfirdn2d(x, f, up=(upx, upy), padding=p, flip_filter=flip_filter, gain=gain * upx * upy, impl=impl)


def downsample2d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    down: IntOrPair = 2,
    padding: Padding = 0,
    flip_filter: bool = False,
    gain: float = 1,
    impl: str | None = None,
) -> torch.Tensor:
    """Filter with ``f`` and downsample by ``down``, keeping the image centred.

    x: [N, C, H, W] -> [N, C, (H + pad_y0 + pad_y1) // down_y, (W + pad_x0 + pad_x1) // down_x].
    """
    downx, downy = _pair(down, "down")
    padx0, padx1, pady0, pady1 = _padding(padding)
    fw, fh = _filter_size(f)
    p = [
        padx0 + (fw - downx + 1) // 2,
        padx1 + (fw - downx) // 2,
        pady0 + (fh - downy + 1) // 2,
        pady1 + (fh - downy) // 2,
    ]
    return upfirdn2d(x, f, down=(downx, downy), padding=p, flip_filter=flip_filter, gain=gain, impl=impl)


def filter2d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    padding: Padding = 0,
    flip_filter: bool = False,
    gain: float = 1,
    impl: str | None = None,
) -> torch.Tensor:
    """Filter with ``f`` at the same resolution, keeping the image centred.

    x: [N, C, H, W] -> [N, C, H + pad_y0 + pad_y1, W + pad_x0 + pad_x1].
    """
    padx0, padx1, pady0, pady1 = _padding(padding)
    fw, fh = _filter_size(f)
    p = [padx0 + fw // 2, padx1 + (fw - 1) // 2, pady0 + fh // 2, pady1 + (fh - 1) // 2]
    return upfirdn2d(x, f, padding=p, flip_filter=flip_filter, gain=gain, impl=impl)


# ---------------------------------------------------------------------------------------------
# The compiled path


class _Config(NamedTuple):
    module: object
    upx: int
    upy: int
    downx: int
    downy: int
    padx0: int
    padx1: int
    pady0: int
    pady1: int

    def args(self) -> tuple[int, ...]:
        return self[1:]

    def gradient(self, in_hw: tuple[int, int], out_hw: tuple[int, int], fw: int, fh: int) -> "_Config":
        """The upfirdn2d whose output is the input gradient: up and down swapped, and the
        padding that puts the rotated filter over the same samples and yields exactly the
        input size."""
        (H, W), (OH, OW) = in_hw, out_hw
        return _Config(
            self.module,
            self.downx,
            self.downy,
            self.upx,
            self.upy,
            fw - self.padx0 - 1,
            W * self.upx - OW * self.downx + self.padx0 - self.upx + 1,
            fh - self.pady0 - 1,
            H * self.upy - OH * self.downy + self.pady0 - self.upy + 1,
        )


def _kernel_filter(f: torch.Tensor | None, x: torch.Tensor, flip_filter: bool, gain: float) -> torch.Tensor:
    """The filter as the kernels take it: 2D, correlation form, gain folded in, in the
    dtype the kernels accumulate in (float32 for half types) and on x's device."""
    dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    if f is None:
        f = torch.ones(1, 1)
    f = f.detach()
    if gain != 1:  # scaled before the cast, as the reference does
        f = f * (gain ** (f.ndim / 2))
    f = f.to(device=x.device, dtype=dtype)
    if f.ndim == 1:  # separable: the outer product applies it along x and then y
        f = torch.outer(f, f)
    if not flip_filter:
        f = f.flip([0, 1])
    return f.contiguous()


class _Upfirdn2d(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, fk: torch.Tensor, cfg: _Config) -> torch.Tensor:  # type: ignore[override]
        y = cfg.module.upfirdn2d(x, fk, *cfg.args())
        ctx.save_for_backward(fk)
        ctx.cfg = cfg
        ctx.in_hw = (x.shape[2], x.shape[3])
        ctx.out_hw = (y.shape[2], y.shape[3])
        return y

    @staticmethod
    def backward(ctx, dy: torch.Tensor):  # type: ignore[override]
        (fk,) = ctx.saved_tensors
        dx = None
        if ctx.needs_input_grad[0]:
            fh, fw = fk.shape
            gcfg = ctx.cfg.gradient(ctx.in_hw, ctx.out_hw, fw, fh)
            dx = _Upfirdn2d.apply(dy, fk.flip([0, 1]), gcfg)
        return dx, None, None

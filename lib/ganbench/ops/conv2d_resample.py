"""conv2d_resample: a 2D convolution with FIR up- and/or downsampling, StyleGAN2-ADA semantics.

The result equals ``downsample2d(conv2d(upsample2d(x, f, up), w), f, down)`` with the padding
applied to the upsampled image, but each case runs the cheapest equivalent: upsampling by a
strided transposed convolution followed by a filter, downsampling by a filter followed by a
strided convolution, and 1x1 kernels convolved at the lower resolution.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ganbench.errors import OpsError
from ganbench.ops.upfirdn2d import Padding, _filter_size, _padding, upfirdn2d


def _conv2d(
    x: torch.Tensor,
    w: torch.Tensor,
    stride: int = 1,
    padding: int | list[int] = 0,
    groups: int = 1,
    transpose: bool = False,
    flip_weight: bool = True,
) -> torch.Tensor:
    """conv2d or conv_transpose2d; ``flip_weight=False`` makes it a true convolution."""
    if not flip_weight and (w.shape[2] > 1 or w.shape[3] > 1):
        w = w.flip([2, 3])
    if transpose:
        return F.conv_transpose2d(x, w, stride=stride, padding=padding, groups=groups)
    return F.conv2d(x, w, stride=stride, padding=padding, groups=groups)


def conv2d_resample(
    x: torch.Tensor,
    w: torch.Tensor,
    f: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: Padding = 0,
    groups: int = 1,
    flip_weight: bool = True,
    flip_filter: bool = False,
    impl: str | None = None,
) -> torch.Tensor:
    """2D convolution with optional up/downsampling.

    Args:
        x: [N, C_in, H, W] input.
        w: [C_out, C_in // groups, kh, kw] weight.
        f: FIR filter of the resampling (see :func:`setup_filter`), or None for none.
        up: integer upsampling factor (before the convolution).
        down: integer downsampling factor (after the convolution).
        padding: int, [x, y] or [x0, x1, y0, y1], applied to the upsampled image.
        groups: convolution groups.
        flip_weight: False turns the correlation of ``conv2d`` into a true convolution
            (StyleGAN passes ``flip_weight=(up == 1)`` so both paths use the same kernel).
        flip_filter: correlate with ``f`` instead of convolving.
        impl: implementation of the upfirdn2d steps (see :func:`upfirdn2d`).

    Returns:
        [N, C_out, H_out, W_out] output.
    """
    if not (isinstance(x, torch.Tensor) and x.ndim == 4):
        raise OpsError(f"conv2d_resample needs x of shape [N, C, H, W], got {getattr(x, 'shape', None)}")
    if not (isinstance(w, torch.Tensor) and w.ndim == 4 and w.dtype == x.dtype):
        got = f"{getattr(w, 'dtype', None)} {list(getattr(w, 'shape', []))}"
        raise OpsError(f"conv2d_resample needs w of shape [C_out, C_in/groups, kh, kw] in x's dtype, got {got}")
    if not (isinstance(up, int) and isinstance(down, int) and up >= 1 and down >= 1):
        raise OpsError(f"conv2d_resample: up={up!r} and down={down!r} must be integers >= 1")
    out_channels, in_channels_per_group, kh, kw = w.shape
    fw, fh = _filter_size(f)
    px0, px1, py0, py1 = _padding(padding)

    # Grow the padding by what the resampling filter needs to keep the image centred.
    if up > 1:
        px0 += (fw + up - 1) // 2
        px1 += (fw - up) // 2
        py0 += (fh + up - 1) // 2
        py1 += (fh - up) // 2
    if down > 1:
        px0 += (fw - down + 1) // 2
        px1 += (fw - down) // 2
        py0 += (fh - down + 1) // 2
        py1 += (fh - down) // 2

    # 1x1 kernel, downsampling only: filter and downsample first, then the cheap convolution.
    if kw == 1 and kh == 1 and down > 1 and up == 1:
        x = upfirdn2d(x, f, down=down, padding=[px0, px1, py0, py1], flip_filter=flip_filter, impl=impl)
        return _conv2d(x, w, groups=groups, flip_weight=flip_weight)

    # 1x1 kernel, upsampling only: convolve at the low resolution, then upsample.
    if kw == 1 and kh == 1 and up > 1 and down == 1:
        x = _conv2d(x, w, groups=groups, flip_weight=flip_weight)
        return upfirdn2d(x, f, up=up, padding=[px0, px1, py0, py1], gain=up**2, flip_filter=flip_filter, impl=impl)

    # Downsampling only: filter, then a strided convolution.
    if down > 1 and up == 1:
        x = upfirdn2d(x, f, padding=[px0, px1, py0, py1], flip_filter=flip_filter, impl=impl)
        return _conv2d(x, w, stride=down, groups=groups, flip_weight=flip_weight)

    # Upsampling (and maybe downsampling): a strided transposed convolution, then the filter.
    if up > 1:
        if groups == 1:
            w = w.transpose(0, 1)
        else:
            w = w.reshape(groups, out_channels // groups, in_channels_per_group, kh, kw)
            w = w.transpose(1, 2)
            w = w.reshape(groups * in_channels_per_group, out_channels // groups, kh, kw)
        px0 -= kw - 1
        px1 -= kw - up
        py0 -= kh - 1
        py1 -= kh - up
        # Whatever padding both sides share is cropped by the transposed convolution itself.
        pxt = max(min(-px0, -px1), 0)
        pyt = max(min(-py0, -py1), 0)
        x = _conv2d(x, w, stride=up, padding=[pyt, pxt], groups=groups, transpose=True, flip_weight=not flip_weight)
        x = upfirdn2d(
            x, f, padding=[px0 + pxt, px1 + pxt, py0 + pyt, py1 + pyt], gain=up**2, flip_filter=flip_filter, impl=impl
        )
        if down > 1:
            x = upfirdn2d(x, f, down=down, flip_filter=flip_filter, impl=impl)
        return x

    # No resampling: a plain convolution when the padding is symmetric and non-negative.
    if up == 1 and down == 1 and px0 == px1 and py0 == py1 and px0 >= 0 and py0 >= 0:
        return _conv2d(x, w, padding=[py0, px0], groups=groups, flip_weight=flip_weight)

    # Anything else (asymmetric or negative padding): pad through upfirdn2d first.
    x = upfirdn2d(
        x, f if up > 1 else None, up=up, padding=[px0, px1, py0, py1], gain=up**2, flip_filter=flip_filter, impl=impl
    )
    x = _conv2d(x, w, groups=groups, flip_weight=flip_weight)
    if down > 1:
        x = upfirdn2d(x, f, down=down, flip_filter=flip_filter, impl=impl)
    return x

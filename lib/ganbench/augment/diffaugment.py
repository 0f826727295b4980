"""Differentiable augmentation (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient
GAN Training").

The same random transforms are applied to real and generated images every time D sees them
(D step and G step alike), always (no probability), each sample drawing its own parameters:

* ``color``: brightness, add U(-0.5, 0.5); saturation, scale each pixel's deviation from its
  channel mean by U(0, 2); contrast, scale the deviation from the image mean by U(0.5, 1.5).
* ``translation``: shift by integers in [-H/8, H/8] x [-W/8, W/8], zero padding.
* ``cutout``: zero a square of half the image side centred at a uniformly random pixel; the
  square is clipped at the borders, so 49/256 (not 1/4) of the pixels are zeroed on average.

Images are [N, C, H, W] floats in [-1, 1]. Every op is differentiable w.r.t. the images.
"""

from __future__ import annotations

import torch

from ganbench.augment.ada import Random, TorchRandom
from ganbench.errors import ConfigError, GanbenchError

TRANSLATION_RATIO = 1 / 8
CUTOUT_RATIO = 1 / 2


def _color(x: torch.Tensor, rng: Random) -> torch.Tensor:
    n = x.shape[0]
    x = x + (rng.rand(n, 1, 1, 1).to(x) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (rng.rand(n, 1, 1, 1).to(x) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (rng.rand(n, 1, 1, 1).to(x) + 0.5) + mean


def _translation(x: torch.Tensor, rng: Random) -> torch.Tensor:
    n, c, h, w = x.shape
    sy, sx = int(h * TRANSLATION_RATIO + 0.5), int(w * TRANSLATION_RATIO + 0.5)
    ty = rng.randint(-sy, sy + 1, n).to(x.device)
    tx = rng.randint(-sx, sx + 1, n).to(x.device)
    # Output pixel (i, j) reads input pixel (i - ty, j - tx); outside the image it is zero.
    iy = torch.arange(h, device=x.device)[None, :, None] - ty[:, None, None]
    ix = torch.arange(w, device=x.device)[None, None, :] - tx[:, None, None]
    inside = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
    index = (iy.clamp(0, h - 1) * w + ix.clamp(0, w - 1)).reshape(n, 1, h * w).expand(n, c, h * w)
    out = x.flatten(2).gather(2, index).reshape(n, c, h, w)
    return out * inside[:, None].to(x.dtype)


def _cutout(x: torch.Tensor, rng: Random) -> torch.Tensor:
    n, _, h, w = x.shape
    size_y, size_x = int(h * CUTOUT_RATIO + 0.5), int(w * CUTOUT_RATIO + 0.5)
    # Centres range over [0, side] for even sizes so that the square overhangs both borders
    # equally often.
    cy = rng.randint(0, h + (1 - size_y % 2), n).to(x.device)
    cx = rng.randint(0, w + (1 - size_x % 2), n).to(x.device)
    y0, x0 = cy - size_y // 2, cx - size_x // 2
    iy = torch.arange(h, device=x.device)[None, :, None]
    ix = torch.arange(w, device=x.device)[None, None, :]
    inside = (iy >= y0[:, None, None]) & (iy < (y0 + size_y)[:, None, None])
    inside = inside & (ix >= x0[:, None, None]) & (ix < (x0 + size_x)[:, None, None])
    return x * (~inside)[:, None].to(x.dtype)


POLICIES = {"color": _color, "translation": _translation, "cutout": _cutout}


def diff_augment(x: torch.Tensor, policy: str = "color,translation,cutout", rng: Random | None = None) -> torch.Tensor:
    """Apply the DiffAugment ``policy`` to a batch.

    Args:
        x: [N, C, H, W] float images in [-1, 1].
        policy: comma-separated names from :data:`POLICIES`, applied in the given order; ""
            returns ``x``.
        rng: per-sample random draws (e.g. a ``BatchRandom``, so that a batch split across
            ranks is augmented as in one process); default: torch's generator.

    Returns:
        [N, C, H, W] tensor of the dtype of ``x``.
    """
    names = [name.strip() for name in policy.split(",") if name.strip()]
    unknown = [name for name in names if name not in POLICIES]
    if unknown:
        raise ConfigError(f"DiffAugment policy {policy!r}: unknown {unknown[0]!r} (known: {', '.join(POLICIES)})")
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or not x.is_floating_point():
        raise GanbenchError(f"diff_augment needs float images [N, C, H, W], got {getattr(x, 'shape', x)}")
    rng = TorchRandom(x.device) if rng is None else rng
    for name in names:
        x = POLICIES[name](x, rng)
    return x

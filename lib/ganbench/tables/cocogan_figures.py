"""COCO-GAN's figures: extrapolation beyond the border, a panorama with its 360° seam marked, and
patch-guided reconstructions (research cocogan.md §2.7-2.9)."""

from __future__ import annotations

import os
from pathlib import Path

import torch

RED = torch.tensor([1.0, -1.0, -1.0])[:, None]  # in [-1, 1]


def _load(checkpoint_path):
    from ganbench.metrics.gan_metrics import load_method
    from ganbench.train.checkpoint import load_checkpoint

    ckpt = load_checkpoint(checkpoint_path)
    return ckpt, load_method(ckpt, path=checkpoint_path)


def _outline(images: torch.Tensor, top: int, left: int, height: int, width: int) -> torch.Tensor:
    """Draw a 1-px red rectangle (the training field of view) on images [B, 3, H, W]."""
    out = images.clone()
    bottom, right = top + height - 1, left + width - 1
    for row in (top, bottom):
        out[:, :, row, left : right + 1] = RED
    for col in (left, right):
        out[:, :, top : bottom + 1, col] = RED
    return out


def plot_extrapolation(checkpoint_path: str | os.PathLike, out_path: str | os.PathLike, n: int = 16) -> Path:
    """Extrapolated samples (``extrap_steps`` micro patches past every border) with the in-range image outlined."""
    from ganbench.train.loop import save_image_grid

    _, method = _load(checkpoint_path)
    steps = method.options.extrap_steps
    images = method.sample(list(range(n)), extrap=steps)
    p, (h, w) = method.lattice.micro, method.lattice.full
    marked = _outline(images, steps * p, steps * p, h, w)
    save_image_grid(marked, out_path, cols=4, zoom=max(1, 128 // images.shape[-1]))
    return Path(out_path)


def plot_panorama(checkpoint_path: str | os.PathLike, out_path: str | os.PathLike, n: int = 6) -> Path:
    """Panoramas over one and a half turns; a red column marks the 360° seam (where column 0 comes again)."""
    from ganbench.train.loop import save_image_grid

    _, method = _load(checkpoint_path)
    turn = method.lattice.ratio[1]
    images = method.panorama(list(range(n)), columns=turn + turn // 2).clone()
    seam = turn * method.lattice.micro
    images[:, :, :, seam] = RED
    save_image_grid(images, out_path, cols=1, zoom=max(1, 512 // images.shape[-1]))
    return Path(out_path)


def plot_patch_guided(checkpoint_path: str | os.PathLike, out_path: str | os.PathLike, n: int = 8) -> Path:
    """Rows: real images, the macro patch Q reads (the rest greyed out), the full image G makes from Q's
    estimate of z (§2.9: Q's estimate, not a random z)."""
    from ganbench.train.data import training_data_of
    from ganbench.train.loop import save_image_grid

    ckpt, method = _load(checkpoint_path)
    real = training_data_of(ckpt).fixed_batch(n, "cpu").images
    lat = method.lattice
    counts = lat.macro_counts()
    index = torch.tensor([[counts[0] // 2, counts[1] // 2]] * len(real))
    _, micro = lat.sample(index)
    top, left = (lat.pixel_offsets(micro[0, :1])[0]).tolist()
    shown = torch.zeros_like(real)
    shown[:, :, top : top + lat.macro[0], left : left + lat.macro[1]] = real[
        :, :, top : top + lat.macro[0], left : left + lat.macro[1]
    ]
    rows = torch.cat([real, shown, method.reconstruct(real, index)])
    save_image_grid(rows, out_path, cols=len(real), zoom=max(1, 96 // real.shape[-1]))
    return Path(out_path)


FIGURE_FUNCTIONS = {"extrapolation": plot_extrapolation, "panorama": plot_panorama, "patch_guided": plot_patch_guided}

"""Seam scores of patch-assembled images (beyond the paper: COCO-GAN reports no measure of its seams).

COCO-GAN assembles full images from micro patches without blending (research cocogan.md §2.6), so the
artefact users ask about is a visible grid. The seam score is the mean absolute image gradient across the
micro-patch borders divided by the mean absolute gradient between neighbouring pixels inside patches:

    seam = mean |x[b] - x[b+1]| over neighbour pairs (b, b+1) split by a border (rows and columns)
           / mean |x[i] - x[i+1]| over neighbour pairs inside one patch

About 1 means the borders are as smooth as the patches' interiors (real images score about 1 on any grid);
above 1, seams show. For a cylindrical panorama the 360° seam is the pair (last column, first column), which
no assembled border covers: :func:`wrap_seam_score` divides its mean gradient by the in-patch mean, and by
the mean at the assembled column borders inside the panorama (an interior column seam), for comparison.
"""

from __future__ import annotations

import torch


def _diffs(images: torch.Tensor, patch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """|gradient| values at borders and inside patches, flattened (images [B, C, H, W], any dtype)."""
    x = images.double()
    dx = (x[..., :, 1:] - x[..., :, :-1]).abs()  # pair (j, j+1) is a border when (j + 1) % patch == 0
    dy = (x[..., 1:, :] - x[..., :-1, :]).abs()
    col_border = (torch.arange(1, x.shape[-1], device=x.device) % patch) == 0
    row_border = (torch.arange(1, x.shape[-2], device=x.device) % patch) == 0
    border = torch.cat([dx[..., col_border].flatten(), dy[..., row_border, :].flatten()])
    inside = torch.cat([dx[..., ~col_border].flatten(), dy[..., ~row_border, :].flatten()])
    return border, inside


def seam_score(images: torch.Tensor, patch: int) -> float:
    """Mean |gradient| across the borders of the ``patch``-px grid (from the top-left corner) over the mean
    inside patches; images [B, C, H, W] whose sides are multiples of ``patch`` (two patches at least)."""
    h, w = images.shape[-2:]
    if h % patch or w % patch or max(h, w) < 2 * patch:
        raise ValueError(f"a {h}x{w} image is not a grid of at least two {patch}-px patches")
    border, inside = _diffs(images, patch)
    return float(border.mean() / inside.mean().clamp_min(1e-12))


def wrap_seam_score(panoramas: torch.Tensor, patch: int) -> dict[str, float]:
    """The 360° seam of cylindrical panoramas [B, C, H, W]: ``wrap`` = mean |x[..., 0] - x[..., W-1]| over the
    in-patch mean, ``interior_column`` = the same ratio at the assembled column borders inside the panorama,
    and ``seam`` = :func:`seam_score` of the whole panorama."""
    x = panoramas.double()
    _, inside = _diffs(x, patch)
    scale = inside.mean().clamp_min(1e-12)
    wrap = (x[..., 0] - x[..., -1]).abs().mean()
    dx = (x[..., :, 1:] - x[..., :, :-1]).abs()
    col_border = (torch.arange(1, x.shape[-1], device=x.device) % patch) == 0
    interior = dx[..., col_border].mean()
    return {
        "wrap": float(wrap / scale),
        "interior_column": float(interior / scale),
        "seam": seam_score(x, patch),
    }

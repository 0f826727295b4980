"""CoordGAN's coordinate losses (research coordgan.md §2.6, §3, §8.7), in fp32 whatever the autocast state.

- :func:`chamfer_loss`: pytorch3d's ``chamfer_distance`` with its defaults (squared L2, mean over points in each
  direction, the two summed, mean over the batch) between the warped coordinates and the canonical grid. The
  grid is regular, so the nearest grid point of a coordinate is found by rounding; the other direction is a
  chunked ``cdist`` minimum (no N x N matrix at once).
- :func:`warp_images`: image a rebuilt from image b's pixels through ``softmax_j(-||C_a(i) - C_b(j)|| / tau)``
  (non-squared distance). Rows are processed in chunks under activation checkpointing, so neither the forward
  nor the backward pass holds the N x N affinity at once.
- :func:`swap_pairs`: exchanges the members of each pair (2k, 2k+1) along the batch.
- :func:`soft_propagate`: the same affinity, used to carry per-pixel values (labels) from a reference to a query.
"""

from __future__ import annotations

import torch
from torch.utils.checkpoint import checkpoint

from ganbench.errors import ConfigError

CHUNK_ROWS = 2048  # query pixels per affinity chunk: 2048 x 16384 fp32 = 128 MiB at the paper's 128^2


def swap_pairs(x: torch.Tensor) -> torch.Tensor:
    """[2k, 2k+1] -> [2k+1, 2k] along dim 0; the batch must be even."""
    if x.shape[0] % 2:
        raise ConfigError(f"CoordGAN pairs samples (2k, 2k+1): the batch of {x.shape[0]} is odd")
    return x.reshape(-1, 2, *x.shape[1:]).flip(1).reshape(x.shape)


def _flat(coords: torch.Tensor) -> torch.Tensor:
    """[N, 2, H, W] -> [N, H*W, 2] fp32."""
    return coords.float().flatten(2).transpose(1, 2)


def chamfer_loss(coords: torch.Tensor, chunk: int = CHUNK_ROWS) -> torch.Tensor:
    """Chamfer distance between coords [N, 2, S, S] and the S x S canonical grid in [-1, 1]^2."""
    with torch.autocast(coords.device.type, enabled=False):
        s = coords.shape[-1]
        c = _flat(coords)  # [N, P, 2]
        step = 2 / (s - 1)
        nearest = (torch.round((c.detach() + 1) / step).clamp(0, s - 1)) * step - 1
        to_grid = (c - nearest).square().sum(-1).mean(1)  # coordinate -> its nearest grid point
        axis = torch.linspace(-1, 1, s, device=c.device)
        gy, gx = torch.meshgrid(axis, axis, indexing="ij")
        grid = torch.stack([gx.flatten(), gy.flatten()], 1)  # [P, 2]
        mins = []
        for start in range(0, grid.shape[0], chunk):
            d = torch.cdist(grid[start : start + chunk].unsqueeze(0).expand(c.shape[0], -1, -1), c).square()
            mins.append(d.min(2).values)  # grid point -> its nearest coordinate
        from_grid = torch.cat(mins, 1).mean(1)
        return (to_grid + from_grid).mean()


def _propagate_chunk(query: torch.Tensor, ref: torch.Tensor, values: torch.Tensor, tau: float) -> torch.Tensor:
    # query [N, q, 2], ref [N, P, 2], values [N, P, K] -> [N, q, K]
    affinity = torch.softmax(-torch.cdist(query, ref) / tau, dim=2)
    return affinity @ values


def soft_propagate(
    query: torch.Tensor, ref: torch.Tensor, values: torch.Tensor, tau: float, chunk: int = CHUNK_ROWS
) -> torch.Tensor:
    """For every query coordinate, the affinity-weighted mean of the reference's values.

    query, ref: coordinate maps [N, 2, H, W]; values [N, K, H, W] at the reference's pixels -> [N, K, H, W] at
    the query's. fp32; chunked over query pixels with checkpointing when gradients are needed.
    """
    with torch.autocast(query.device.type, enabled=False):
        n, k, h, w = query.shape[0], values.shape[1], query.shape[2], query.shape[3]
        q, r = _flat(query), _flat(ref)
        v = values.float().flatten(2).transpose(1, 2)  # [N, P, K]
        grad = torch.is_grad_enabled() and (q.requires_grad or r.requires_grad or v.requires_grad)
        out = []
        for start in range(0, q.shape[1], chunk):
            part = q[:, start : start + chunk]
            if grad:
                out.append(checkpoint(_propagate_chunk, part, r, v, tau, use_reentrant=False))
            else:
                out.append(_propagate_chunk(part, r, v, tau))
        return torch.cat(out, 1).transpose(1, 2).reshape(n, k, h, w)


def warp_images(images: torch.Tensor, coords: torch.Tensor, tau: float, chunk: int = CHUNK_ROWS) -> torch.Tensor:
    """Each image rebuilt from its pair partner's pixels: x_hat_a = A_ab RGB_b, x_hat_b = A_ba RGB_a.

    images [N, C, R, R] (resized to the coordinate resolution S first when R > S, as the official 512 model
    does), coords [N, 2, S, S] -> [N, C, S, S]. The partner image is not detached (§2.6.6).
    """
    s = coords.shape[-1]
    if images.shape[-1] != s:
        images = torch.nn.functional.interpolate(images.float(), size=(s, s), mode="bilinear", align_corners=False)
    return soft_propagate(coords, swap_pairs(coords), swap_pairs(images), tau, chunk)

"""COCO-GAN's coordinate systems and patch geometry (research cocogan.md §2.1, §2.2, §2.7, §2.8).

Coordinates are discrete, constant lattices in [-1, 1]. Axis 0 is the image **height** (the official
code's "x"), axis 1 the width ("y"). Per axis, with ``r_f = full / micro``, ``N = macro / micro``,
``gpc = full - macro``, ``valid = full - micro`` and ``e`` extrapolation steps:

- macro (discriminator) positions ``c_k = -1 + (k - e) * 2 / (r_f - N)``, ``k = 0 .. r_f - N + 2e``;
- the N micro (generator) positions inside the macro patch at ``d``:
  ``g_i = ((d + 1)/2 * gpc + macro/2 + T_i * (macro - micro) - N/2 * micro) / valid * 2 - 1``,
  ``T_i = i / (N - 1)``; they fall on the micro lattice ``-1 + j * 2 / (r_f - 1)``;
- the micro patches of one macro patch are ordered ``k = yy * N + xx`` (the height index ``xx`` fastest).

The cylindrical system (panoramas) keeps the Euclidean height axis and makes the width an angle: macro
positions ``r_k = -1 + 2k / r_f`` (no padding: -1 and 1 are the same angle), micro ``r + T_i * 2 micro / W``,
and the coordinate vector fed to the networks is ``(x, cos(pi r), sin(pi r))`` with |value| < 1e-6 set to 0.

Batches of micro patches are sample-major: ``[B, N*M, C, p, p]``, the patch order above.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ganbench.errors import ConfigError
from ganbench.methods.options import check_patch_sizes

ZERO_BELOW = 1e-6  # the official cylindrical embedding zeroes |p| < 1e-6


def _pair(value) -> tuple[int, int]:
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ConfigError(f"expected a size or a [height, width] pair, got {list(value)!r}")
        return int(value[0]), int(value[1])
    return int(value), int(value)


@dataclass(frozen=True)
class PatchLattice:
    """The lattices of one COCO-GAN configuration.

    ``full`` and ``macro`` are (height, width) in pixels, ``micro`` the square micro-patch side;
    ``cylindrical`` makes the width axis cyclic; ``extrap`` adds that many macro steps past every
    border of the Euclidean axes (beyond-boundary extrapolation, §2.7; not for the cyclic axis).
    Invalid sizes are a one-line :class:`ConfigError`.
    """

    full: tuple[int, int]
    macro: tuple[int, int]
    micro: int
    cylindrical: bool = False
    extrap: int = 0

    def __post_init__(self):
        object.__setattr__(self, "full", _pair(self.full))
        object.__setattr__(self, "macro", _pair(self.macro))
        check_patch_sizes(self.full, self.macro, self.micro, self.cylindrical)
        if self.extrap < 0:
            raise ConfigError(f"extrapolation steps: expected a number >= 0, got {self.extrap}")

    # --- sizes ----------------------------------------------------------------------------

    @property
    def n(self) -> int:
        """Micro patches per macro patch along the height (the paper's N)."""
        return self.macro[0] // self.micro

    @property
    def m(self) -> int:
        """Micro patches per macro patch along the width (the paper's M)."""
        return self.macro[1] // self.micro

    @property
    def ratio(self) -> tuple[int, int]:
        """Micro patches per full image along each axis (r_f)."""
        return self.full[0] // self.micro, self.full[1] // self.micro

    @property
    def coord_dim(self) -> int:
        return 3 if self.cylindrical else 2

    def with_extrap(self, steps: int) -> PatchLattice:
        return PatchLattice(self.full, self.macro, self.micro, self.cylindrical, steps)

    def _cyclic(self, axis: int) -> bool:
        return self.cylindrical and axis == 1

    # --- lattices (raw positions, before the cylindrical embedding) -------------------------

    def macro_positions(self, axis: int) -> np.ndarray:
        """The macro-patch positions along ``axis`` (float64)."""
        r_f, n = self.ratio[axis], (self.n, self.m)[axis]
        if self._cyclic(axis):
            return -1 + 2 * np.arange(r_f) / r_f
        e = self.extrap
        k = np.arange(r_f - n + 1 + 2 * e)
        return -1 + (k - e) * 2 / (r_f - n)

    def _t(self, axis: int) -> np.ndarray:
        n = (self.n, self.m)[axis]
        return np.arange(n) / (n - 1) if n > 1 else np.zeros(1)

    def micro_positions_in(self, axis: int, d: np.ndarray) -> np.ndarray:
        """The micro positions along ``axis`` of the macro patches at ``d`` ([B] -> [B, N])."""
        d = np.asarray(d, dtype=np.float64)[..., None]
        t = self._t(axis)
        if self._cyclic(axis):
            return d + t * (2 * self.micro / self.full[1])
        full, gs, ps, n = self.full[axis], self.macro[axis], self.micro, (self.n, self.m)[axis]
        gpc, valid = full - gs, full - ps
        return ((d + 1) / 2 * gpc + gs / 2 + t * (gs - ps) - (n / 2) * ps) / valid * 2 - 1

    def micro_grid_positions(self, axis: int, extrap: int | None = None) -> np.ndarray:
        """The micro positions of a whole image along ``axis``: ``r_f + 2e`` Euclidean ones (the
        extrapolated image), or the ``r_f`` angles of the cylinder."""
        r_f = self.ratio[axis]
        if self._cyclic(axis):
            return -1 + 2 * np.arange(r_f) / r_f
        e = self.extrap if extrap is None else extrap
        return -1 + (np.arange(r_f + 2 * e) - e) * 2 / (r_f - 1)

    # --- coordinate vectors ------------------------------------------------------------------

    def embed(self, positions: torch.Tensor) -> torch.Tensor:
        """Raw (height, width) positions [..., 2] -> the networks' coordinate vectors [..., coord_dim]."""
        if not self.cylindrical:
            return positions
        angle = positions[..., 1:2] * math.pi
        out = torch.cat([positions[..., :1], torch.cos(angle), torch.sin(angle)], dim=-1)
        return torch.where(out.abs() < ZERO_BELOW, torch.zeros_like(out), out)

    def sample(self, macro_index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """For macro indices [B, 2] (one per sample and per axis, into :meth:`macro_positions`), the raw
        macro positions [B, 2] and the micro positions of their patches [B, N*M, 2] (``xx`` fastest)."""
        idx = macro_index.cpu().numpy()
        d = np.stack([self.macro_positions(a)[idx[:, a]] for a in (0, 1)], axis=1)
        gx = self.micro_positions_in(0, d[:, 0])  # [B, N]
        gy = self.micro_positions_in(1, d[:, 1])  # [B, M]
        b = len(idx)
        grid = np.stack(
            [
                np.broadcast_to(gx[:, None, :], (b, self.m, self.n)),
                np.broadcast_to(gy[:, :, None], (b, self.m, self.n)),
            ],
            axis=-1,
        ).reshape(b, self.n * self.m, 2)
        device = macro_index.device
        return torch.from_numpy(d).float().to(device), torch.from_numpy(grid.copy()).float().to(device)

    def macro_counts(self) -> tuple[int, int]:
        return len(self.macro_positions(0)), len(self.macro_positions(1))

    def full_grid(self, extrap: int | None = None) -> tuple[torch.Tensor, int, int]:
        """The raw micro positions of a full (or extrapolated) image [nH*nW, 2] in the patch order
        ``yy * nH + xx``, with nH and nW."""
        gx = self.micro_grid_positions(0, extrap)
        gy = self.micro_grid_positions(1, extrap)
        nh, nw = len(gx), len(gy)
        grid = np.stack([np.tile(gx, nw), np.repeat(gy, nh)], axis=-1)
        return torch.from_numpy(grid).float(), nh, nw

    # --- real crops -----------------------------------------------------------------------

    def pixel_offsets(self, positions: torch.Tensor) -> torch.Tensor:
        """Top-left pixel of the micro patch at raw positions [..., 2] (int64; the width is taken modulo W
        on the cylinder). Height: ``round((c + 1) / 2 * (H - micro))``; cylinder: ``round((r + 1) / 2 * W)``."""
        h, w = self.full
        top = torch.round((positions[..., 0].double() + 1) / 2 * (h - self.micro))
        if self.cylindrical:
            left = torch.round((positions[..., 1].double() + 1) / 2 * w) % w
        else:
            left = torch.round((positions[..., 1].double() + 1) / 2 * (w - self.micro))
        return torch.stack([top, left], dim=-1).long()

    def crop_micro(self, images: torch.Tensor, micro_positions: torch.Tensor) -> torch.Tensor:
        """Micro patches [B, n, C, p, p] of images [B, C, H, W] at raw positions [B, n, 2]; a patch that
        crosses the cylinder's 360° seam wraps around."""
        offsets = self.pixel_offsets(micro_positions).to(images.device)
        p = self.micro
        rows = offsets[..., 0, None] + torch.arange(p, device=images.device)  # [B, n, p]
        cols = offsets[..., 1, None] + torch.arange(p, device=images.device)
        if self.cylindrical:
            cols = cols % self.full[1]
        b, n = offsets.shape[:2]
        batch = torch.arange(b, device=images.device)[:, None, None, None]
        x = images.permute(0, 2, 3, 1)  # [B, H, W, C]
        patches = x[batch, rows[:, :, :, None], cols[:, :, None, :]]  # [B, n, p, p, C]
        return patches.permute(0, 1, 4, 2, 3)

    def crop_macro(self, images: torch.Tensor, micro_positions: torch.Tensor) -> torch.Tensor:
        """Real macro patches [B, C, N*p, M*p]: the micro crops at ``micro_positions``, assembled exactly as
        the generator's micro patches are (equal to a direct macro crop)."""
        return assemble(self.crop_micro(images, micro_positions), self.n, self.m)


def assemble(patches: torch.Tensor, n_h: int, n_w: int) -> torch.Tensor:
    """Micro patches [B, n_h*n_w, C, p, p] in the order ``k = yy * n_h + xx`` -> images [B, C, n_h*p, n_w*p],
    patch k at row ``xx`` and column ``yy`` (the official ``concat_micro_patches``). Differentiable."""
    b, n, c, ph, pw = patches.shape
    if n != n_h * n_w:
        raise ValueError(f"{n} patches do not make a {n_h}x{n_w} grid")
    x = patches.reshape(b, n_w, n_h, c, ph, pw).permute(0, 3, 2, 4, 1, 5)
    return x.reshape(b, c, n_h * ph, n_w * pw)


def split(images: torch.Tensor, p: int) -> torch.Tensor:
    """The inverse of :func:`assemble`: images [B, C, H, W] -> patches [B, (H/p)*(W/p), C, p, p]."""
    b, c, h, w = images.shape
    x = images.reshape(b, c, h // p, p, w // p, p).permute(0, 4, 2, 1, 3, 5)
    return x.reshape(b, (w // p) * (h // p), c, p, p)


def lattice_from(
    resolution: int, width: int | None, macro_size, micro_size: int, cylindrical: bool = False, extrap: int = 0
) -> PatchLattice:
    """The lattice of an experiment: images ``resolution`` px high and ``width`` (default: square) wide."""
    return PatchLattice((resolution, width or resolution), macro_size, micro_size, cylindrical, extrap)

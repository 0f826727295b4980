"""Random draws that do not depend on how a global batch is split across ranks.

Every per-sample random choice of a training step (latents, noise inputs, style-mixing
cutoffs, augmentation parameters) is drawn through a :class:`BatchRandom`. Each rank draws the
values of the *global* batch from an identically seeded generator and keeps its own rows, so
N processes with batch B/N compute exactly what one process with batch B computes, and a
resumed run draws exactly what an uninterrupted one would (the seed is a function of the
step, not of a generator's history).
"""

from __future__ import annotations

import hashlib

import torch


def derive_seed(*parts: int | str) -> int:
    """A 63-bit seed from any tuple of ints and strings (stable across runs and machines)."""
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


class BatchRandom:
    """Per-sample random tensors for this rank's slice of a global batch.

    Args:
        seed: seed of this draw site (e.g. ``derive_seed(run_seed, step, phase)``).
        rank, world_size: this process's slice of the global batch.
        device: where the returned tensors live; values are drawn on the CPU so that they
            are the same on every device.

    All methods take the *local* batch size ``n`` first; the rows returned are
    ``rank * n : (rank + 1) * n`` of a global draw of ``n * world_size`` rows. Ranks must make
    the same calls in the same order (they do: they run the same code).
    """

    def __init__(self, seed: int, rank: int = 0, world_size: int = 1, device: torch.device | str = "cpu"):
        self.generator = torch.Generator().manual_seed(seed)
        self.rank, self.world_size, self.device = rank, world_size, torch.device(device)

    def _slice(self, full: torch.Tensor, n: int) -> torch.Tensor:
        return full[self.rank * n : (self.rank + 1) * n].to(self.device)

    def randn(self, n: int, *shape: int) -> torch.Tensor:
        return self._slice(torch.randn(n * self.world_size, *shape, generator=self.generator), n)

    def rand(self, n: int, *shape: int) -> torch.Tensor:
        return self._slice(torch.rand(n * self.world_size, *shape, generator=self.generator), n)

    def randint(self, low: int, high: int, n: int, *shape: int) -> torch.Tensor:
        return self._slice(torch.randint(low, high, (n * self.world_size, *shape), generator=self.generator), n)

    def global_rand(self, *shape: int) -> torch.Tensor:
        """A draw shared by every rank (not per sample), e.g. a batch-wide style-mixing decision."""
        return torch.rand(*shape, generator=self.generator).to(self.device)

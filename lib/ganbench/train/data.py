"""Deterministic, resumable, rank-sharded data order for the training loop.

The order is a function of (seed, position) only: epoch e is a permutation seeded by
(seed, e), the global batch at position g holds items g .. g+B-1 of the concatenated epochs,
and rank r gets the r-th contiguous slice of it. A resumed run starts at its saved position
and sees exactly the batches an uninterrupted run would; N ranks together see exactly the
batch one process would.
"""

from __future__ import annotations

from typing import Iterator

import torch
import torch.utils.data

from ganbench.train.batch_random import derive_seed


class ShardedBatchSampler(torch.utils.data.Sampler):
    """Yields this rank's list of dataset indices for every step, forever, from ``start`` (global items)."""

    def __init__(self, dataset_size: int, global_batch: int, rank: int, world_size: int, seed: int, start: int = 0):
        if global_batch % world_size:
            raise ValueError(f"batch {global_batch} is not divisible by {world_size} ranks")
        self.size, self.batch, self.rank, self.world = dataset_size, global_batch, rank, world_size
        self.seed, self.start = seed, start

    def _permutation(self, epoch: int) -> torch.Tensor:
        return torch.randperm(self.size, generator=torch.Generator().manual_seed(derive_seed(self.seed, "epoch", epoch)))

    def __iter__(self) -> Iterator[list[int]]:
        local = self.batch // self.world
        pos = self.start
        epoch, perm = None, None
        while True:
            items = []
            for g in range(pos + self.rank * local, pos + (self.rank + 1) * local):
                e = g // self.size
                if e != epoch:
                    epoch, perm = e, self._permutation(e)
                items.append(int(perm[g % self.size]))
            yield items
            pos += self.batch


def batch_iterator(dataset, global_batch: int, rank: int, world_size: int, seed: int, start: int, workers: int):
    """Infinite iterator of (uint8 images, labels) for this rank from global position ``start``."""
    sampler = ShardedBatchSampler(len(dataset), global_batch, rank, world_size, seed, start)
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=workers,
        persistent_workers=workers > 0,
        # Its own generator: the loader must not draw from the global RNG (resume exactness).
        generator=torch.Generator().manual_seed(seed),
    )
    return iter(loader)

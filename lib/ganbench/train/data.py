"""Deterministic, resumable, rank-sharded data order for the training loop.

The order is a function of (seed, position) only: epoch e is a permutation seeded by
(seed, e), the global batch at position g holds items g .. g+B-1 of the concatenated epochs,
and rank r gets the r-th contiguous slice of it. A resumed run starts at its saved position
and sees exactly the batches an uninterrupted run would; N ranks together see exactly the
batch one process would.
"""

from __future__ import annotations

import os
from typing import Iterator

import numpy as np
import torch
import torch.utils.data

from ganbench.data.dataset import ImageDataset
from ganbench.data.sources import open_source
from ganbench.errors import DataError
from ganbench.methods.base import Batch
from ganbench.train.batch_random import derive_seed

BATCH_FIELDS = ("images", "labels", "parts", "coords")


class TrainingData(torch.utils.data.Dataset):
    """What the loop trains on: the images (an :class:`ImageDataset`) and, for the fields a method's
    catalog entry lists, the per-image labels and the per-pixel part masks and canonical coordinates of
    the dataset's ``annotations.h5``, mirrored together with their image.

    Items are dicts of arrays; :func:`to_batch` turns a collated dict into a :class:`Batch`.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fields=("images",),
        *,
        xflip=False,
        resolution=None,
        annotations: str | os.PathLike | None = None,
        split: str = "all",
        limit: int | None = None,
    ):
        unknown = [f for f in fields if f not in BATCH_FIELDS]
        if unknown:
            raise ValueError(f"unknown batch field {unknown[0]!r}")
        self.fields = tuple(fields)
        self.annotations = annotations
        self._h5 = None  # opened lazily, once per worker process
        needs = [f for f in fields if f in ("parts", "coords")] + (["its train split"] if split == "train" else [])
        subset = None
        if needs:
            if annotations is None:
                raise DataError(
                    f"{path}: the method trains on {', '.join(needs)}, which need the dataset's annotations.h5"
                )
            count = len(self._file()["label"])
            total = len(open_source(path))
            if count != total:
                raise DataError(f"{annotations}: {count} annotated images, but {path} has {total}")
            if split == "train":
                held_out = self._file()["is_test"][:]
                if "is_val" in self._file():  # the validation split trains nothing either
                    held_out = held_out | self._file()["is_val"][:]
                subset = np.flatnonzero(~held_out)
        if limit is not None:
            available = len(subset) if subset is not None else len(open_source(path))
            if limit > available:
                raise DataError(f"{path}: train_images {limit} is more than the {available} training images")
            subset = (subset if subset is not None else np.arange(available))[:limit]
        self.images = ImageDataset(
            path, xflip=xflip, use_labels="labels" in fields, resolution=resolution, subset=subset
        )

    @property
    def image_shape(self):
        return self.images.image_shape

    @property
    def label_dim(self) -> int:
        return self.images.label_dim

    def _file(self):
        if self._h5 is None:
            import h5py

            self._h5 = h5py.File(self.annotations, "r")
        return self._h5

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, idx: int) -> dict[str, np.ndarray]:
        image, label = self.images[idx]
        item = {"images": image, "labels": label}
        raw, flipped = self.images.raw_index(idx)
        if "parts" in self.fields:
            parts = self._file()["label"][raw]
            item["parts"] = np.ascontiguousarray(parts[:, ::-1] if flipped else parts)
        if "coords" in self.fields:
            coords = self._file()["coords"][raw]
            item["coords"] = np.ascontiguousarray(coords[:, ::-1] if flipped else coords)
        return item

    def __getstate__(self):  # h5py handles do not cross into worker processes
        return {**self.__dict__, "_h5": None}

    def fixed_batch(self, n: int, device) -> Batch:
        """The first ``n`` items (unmirrored), the same at every snapshot: the input of preview grids."""
        items = [self[i] for i in range(min(n, len(self.images) // (2 if self.images.xflip else 1)))]
        return to_batch(torch.utils.data.default_collate(items), device)


def training_data_of(ckpt: dict) -> TrainingData:
    """The data a checkpoint was trained on (its recorded inputs), with its method's batch fields: what a
    stage's preview reads outside the loop."""
    from ganbench.methods.catalog import CATALOG

    inputs = ckpt["inputs"]
    annotations = inputs["annotations"]["path"] if "annotations" in inputs else None
    return TrainingData(
        inputs["data"]["path"],
        CATALOG[ckpt["method"]].batch_fields,
        resolution=ckpt["resolution"],
        annotations=annotations,
        split=CATALOG[ckpt["method"]].train_split,
    )


def to_batch(items: dict[str, torch.Tensor], device) -> Batch:
    """A collated dict of uint8 images (and labels, parts, coords) -> a :class:`Batch` on ``device``,
    images in [-1, 1]."""
    return Batch(
        images=items["images"].to(device).float() / 127.5 - 1,
        labels=items["labels"].to(device),
        parts=items["parts"].to(device).long() if "parts" in items else None,
        coords=items["coords"].to(device).float() if "coords" in items else None,
    )


class ShardedBatchSampler(torch.utils.data.Sampler):
    """Yields this rank's list of dataset indices for every step, forever, from ``start`` (global items)."""

    def __init__(self, dataset_size: int, global_batch: int, rank: int, world_size: int, seed: int, start: int = 0):
        if global_batch % world_size:
            raise ValueError(f"batch {global_batch} is not divisible by {world_size} ranks")
        self.size, self.batch, self.rank, self.world = dataset_size, global_batch, rank, world_size
        self.seed, self.start = seed, start

    def _permutation(self, epoch: int) -> torch.Tensor:
        return torch.randperm(
            self.size, generator=torch.Generator().manual_seed(derive_seed(self.seed, "epoch", epoch))
        )

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
    """Infinite iterator of collated items (dicts, see :class:`TrainingData`) for this rank from global
    position ``start``."""
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

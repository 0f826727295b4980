"""The torch Dataset every training and evaluation stage reads: folder, zip and TFRecord alike."""

from __future__ import annotations

import os

import numpy as np
import torch.utils.data

from ganbench.data.sources import ImageSource, open_source
from ganbench.errors import DataError


class ImageDataset(torch.utils.data.Dataset):
    """Images as uint8 (3, H, W) arrays with their labels, as StyleGAN's ImageFolderDataset yields them.

    Args:
        path: folder, dataset_tool zip, or COCO-GAN TFRecord.
        use_labels: return labels from ``dataset.json`` (int -> one-hot, vectors as given);
            otherwise each label is an empty float32 vector.
        xflip: double the dataset with horizontally mirrored copies (``--mirror``).
        max_size: keep a random subset of this many images, drawn with ``seed``.
        resolution: if given, the images must have this size (it is checked on the first image): a side, or
            (height, width) for images that are not square (COCO-GAN's panoramas).
        subset: if given, only these images (indices into the source, in this order).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        use_labels=False,
        xflip=False,
        max_size=None,
        seed=0,
        resolution=None,
        subset=None,
    ):
        size = None if resolution is None else (resolution, resolution) if isinstance(resolution, int) else resolution
        self.source: ImageSource = open_source(path, height=None if size is None else size[0])
        indices = np.arange(len(self.source)) if subset is None else np.asarray(subset, dtype=np.int64)
        if max_size is not None and max_size < len(indices):
            indices = np.sort(np.random.default_rng(seed).choice(indices, max_size, replace=False))
        self.xflip = xflip
        self._indices = np.concatenate([indices, indices]) if xflip else indices
        self._flip = np.arange(len(self._indices)) >= len(indices)
        self._labels = self._label_matrix() if use_labels else None
        first = self.source.read_image(0)
        self.image_shape = (3, first.shape[0], first.shape[1])
        if size is not None and first.shape[:2] != tuple(size):
            raise DataError(f"{path}: images are {first.shape[1]}x{first.shape[0]}, expected {size[1]}x{size[0]}")

    def _label_matrix(self) -> np.ndarray:
        labels = self.source.labels
        if labels is None:
            raise DataError(f"{self.source.path}: use_labels is set but the dataset has no labels")
        arr = np.asarray(labels)
        if arr.ndim == 1 and np.issubdtype(arr.dtype, np.integer):
            onehot = np.zeros((len(arr), int(arr.max()) + 1), np.float32)
            onehot[np.arange(len(arr)), arr] = 1
            return onehot
        return arr.astype(np.float32).reshape(len(arr), -1)

    @property
    def resolution(self) -> int:
        return self.image_shape[1]

    @property
    def label_dim(self) -> int:
        return 0 if self._labels is None else self._labels.shape[1]

    def __len__(self) -> int:
        return len(self._indices)

    def raw_index(self, idx: int) -> tuple[int, bool]:
        """The source image behind item ``idx``, and whether the item is its mirrored copy."""
        return int(self._indices[idx]), bool(self._flip[idx])

    def __getitem__(self, idx: int) -> tuple[np.ndarray, np.ndarray]:
        raw = self._indices[idx]
        image = self.source.read_image(raw).transpose(2, 0, 1)  # HWC -> CHW
        if image.shape != self.image_shape:
            raise DataError(
                f"{self.source.path}:{self.source.names[raw]}: shape {image.shape} differs from {self.image_shape}"
            )
        if self._flip[idx]:
            image = image[:, :, ::-1]
        label = np.zeros(0, np.float32) if self._labels is None else self._labels[raw]
        return np.ascontiguousarray(image), label

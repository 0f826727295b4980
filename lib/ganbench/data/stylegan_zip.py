"""Writing the StyleGAN ``dataset_tool`` zip layout, and conversions between containers.

Layout: uncompressed PNGs at ``{i // 1000:05d}/img{i:08d}.png`` and a root ``dataset.json``
holding ``{"labels": [[name, label], ...]}`` or ``{"labels": null}``.
"""

from __future__ import annotations

import json
import os
import zipfile
from typing import Iterable, Iterator, Sequence

import numpy as np
from tqdm import tqdm

from ganbench.data.images import encode_png, transform_image
from ganbench.data.sources import ImageSource, open_source
from ganbench.data.tfrecord_io import write_tfrecord
from ganbench.errors import DataError
from ganbench.fileio import atomic_path


def member_name(index: int) -> str:
    return f"{index // 1000:05d}/img{index:08d}.png"


def _member(name: str) -> zipfile.ZipInfo:
    """A zip entry dated 1980-01-01 (zip's epoch), not now: the same images give the same bytes, so a dataset's
    sha256 (recorded by statistics and results) does not change when it is rebuilt."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o600 << 16  # what writestr(str, ...) sets
    return info


class StyleGANZipWriter:
    """Append images to a dataset_tool zip; use as a context manager inside ``atomic_path``."""

    def __init__(self, path: str | os.PathLike):
        self._zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED)
        self.count = 0
        self.shape: tuple[int, ...] | None = None

    def add(self, image: np.ndarray, name: str = "") -> None:
        """Add an (H, W, 3) uint8 image; ``name`` is its origin, for the error on a size mismatch."""
        if self.shape is None:
            self.shape = image.shape
        elif image.shape != self.shape:
            raise DataError(
                f"{name or member_name(self.count)}: image is {image.shape[1]}x{image.shape[0]}, "
                f"others are {self.shape[1]}x{self.shape[0]}; pass a resolution to resize them"
            )
        self._zip.writestr(_member(member_name(self.count)), encode_png(image))
        self.count += 1

    def close(self, labels: Sequence | None = None) -> None:
        if labels is not None:
            labels = [[member_name(i), label] for i, label in enumerate(labels)]
        self._zip.writestr(_member("dataset.json"), json.dumps({"labels": labels}))
        self._zip.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._zip.fp is not None:
            self._zip.close()


def iter_transformed(
    source: ImageSource, resolution: int | None, transform: str | None, max_images: int | None
) -> Iterator[tuple[str, np.ndarray]]:
    """Yield (origin name, image) after the dataset_tool transform, up to ``max_images``."""
    count = len(source) if max_images is None else min(len(source), max_images)
    for i in tqdm(range(count), desc=f"reading {source.path.name}", unit="img", disable=None, leave=False):
        name = f"{source.path}:{source.names[i]}"
        yield name, transform_image(source.read_image(i), name, resolution, transform)


def convert_to_zip(
    source: str | os.PathLike | ImageSource,
    dest: str | os.PathLike,
    resolution: int | None = None,
    transform: str | None = None,
    max_images: int | None = None,
    pattern: str | None = None,
) -> int:
    """Convert a folder, zip, tar or TFRecord into a dataset_tool zip at ``dest``; return the count.

    Without ``resolution`` every image must already have the same size. Nothing is left at
    ``dest`` if any image is bad.
    """
    src = source if isinstance(source, ImageSource) else open_source(source, pattern)
    with atomic_path(dest) as tmp, StyleGANZipWriter(tmp) as writer:
        for name, image in iter_transformed(src, resolution, transform, max_images):
            writer.add(image, name)
        labels = None if src.labels is None else src.labels[: writer.count]
        writer.close(labels)
    src.conversions.report(str(src.path))
    return writer.count


def convert_to_tfrecord(source: str | os.PathLike | ImageSource, dest: str | os.PathLike) -> int:
    """Write every image of ``source`` (in its order) as a COCO-GAN TFRecord; return the count."""
    src = source if isinstance(source, ImageSource) else open_source(source)
    count = write_tfrecord((image for _, image in iter_transformed(src, None, None, None)), dest)
    src.conversions.report(str(src.path))
    return count


def write_images_zip(images: Iterable[np.ndarray], dest: str | os.PathLike, labels: Sequence | None = None) -> int:
    """Write in-memory images as a dataset_tool zip (used by the synthetic benchmark)."""
    with atomic_path(dest) as tmp, StyleGANZipWriter(tmp) as writer:
        for image in images:
            writer.add(image)
        writer.close(labels)
    return writer.count

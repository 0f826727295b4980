"""``annotations.h5``: per-image part labels, canonical coordinates and keypoints.

Datasets (N images of H x W, K keypoints):

==============  ==================  ==================================================
``label``       (N, H, W) uint8     part class per pixel, index into attr ``classes``
``coords``      (N, H, W, 2) f32    canonical (u, v) in [-1, 1]; NaN on background
``keypoints``   (N, K, 2) f32       (x, y) in pixels, (0, 0) = top-left image corner
``visible``     (N, K) bool         keypoint inside the frame and on the object
``is_test``     (N,) bool           the recorded train/test split
==============  ==================  ==================================================

Optionally ``names`` (N,) str: each row's source file (imported sets whose protocols order images by name), and
``is_val`` (N,) bool: the validation split (rows in neither the train nor the test split; LAGM's imports, whose
official runs pick the snapshot with the best validation score). Without it there is no validation split.

Attributes: ``classes``, ``keypoint_names``, ``category``, ``resolution``, ``seed``, optionally ``test_set`` (a
labelled import's name for its official test split, as config/published.yaml's protocols name it), and
``images_sha256``: the sha256 of the bytes of the ``images.zip`` written with it (the zips are
deterministic, so a rebuilt zip keeps its hash). Row i describes image i of that zip;
:func:`check_pair` refuses an annotations file given with other images.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from ganbench.errors import DataError
from ganbench.fileio import sha256_file

FIELDS = ("label", "coords", "keypoints", "visible", "is_test")


class AnnotationsWriter:
    """Fill an annotations file row by row (so large sets never sit in memory at once)."""

    def __init__(
        self,
        path,
        count,
        resolution,
        num_keypoints,
        *,
        classes,
        keypoint_names,
        category,
        seed,
        names=None,
        with_val: bool = False,
        test_set: str | None = None,
    ):
        if names is not None and len(names) != count:
            raise ValueError(f"{len(names)} names for {count} rows")
        self._file = h5py.File(path, "w")
        n, r, k = count, resolution, num_keypoints
        create = self._file.create_dataset
        # One chunk per image, compressed: label and coordinate maps are smooth.
        create("label", (n, r, r), np.uint8, chunks=(1, r, r), compression="gzip", shuffle=True)
        create("coords", (n, r, r, 2), np.float32, chunks=(1, r, r, 2), compression="gzip", shuffle=True)
        create("keypoints", (n, k, 2), np.float32)
        create("visible", (n, k), bool)
        create("is_test", (n,), bool)
        if with_val:
            create("is_val", (n,), bool)
        attrs = self._file.attrs
        attrs["classes"] = list(classes)
        attrs["keypoint_names"] = list(keypoint_names)
        attrs["category"] = category
        attrs["resolution"] = resolution
        attrs["seed"] = seed
        if test_set is not None:  # the import's name for its official test split (published numbers match on it)
            attrs["test_set"] = test_set
        if names is not None:
            create("names", data=np.array(list(names), dtype=object), dtype=h5py.string_dtype())

    def write(self, index: int, *, label, coords, keypoints, visible, is_test: bool, is_val: bool = False) -> None:
        f = self._file
        if is_val and "is_val" not in f:
            raise ValueError("a validation row in an annotations file made without with_val")
        if is_val and is_test:
            raise ValueError("a row in both the validation and the test split")
        if "is_val" in f:
            f["is_val"][index] = is_val
        f["label"][index] = label
        f["coords"][index] = coords
        f["keypoints"][index] = keypoints
        f["visible"][index] = visible
        f["is_test"][index] = is_test

    def set_images_sha256(self, digest: str) -> None:
        """Record the sha256 of the images file these rows describe (see :func:`check_pair`)."""
        self._file.attrs["images_sha256"] = digest

    def close(self) -> None:
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@dataclass
class Annotations:
    """Annotations loaded into memory (or a subset of rows)."""

    label: np.ndarray
    coords: np.ndarray
    keypoints: np.ndarray
    visible: np.ndarray
    is_test: np.ndarray
    classes: list[str]
    keypoint_names: list[str]
    category: str
    resolution: int
    seed: int
    images_sha256: str | None = None  # None: written before the hash was recorded
    names: list[str] | None = None  # each row's source file (imported sets); None: not recorded
    is_val: np.ndarray | None = None  # the validation split; None: the file has none

    def __len__(self) -> int:
        return len(self.label)


def read_annotations(path: str | os.PathLike, indices=None) -> Annotations:
    """Load ``annotations.h5``; ``indices`` (sorted array or slice) selects rows."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: annotations file not found (labelled datasets only: synthetic ones have it)")
    sel = slice(None) if indices is None else indices
    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in FIELDS if k not in f]
            if missing:
                raise DataError(f"{path}: annotations file has no {missing[0]!r} dataset")
            arrays = {k: f[k][sel] for k in FIELDS}
            a = f.attrs
            meta = dict(
                classes=[str(c) for c in a["classes"]],
                keypoint_names=[str(c) for c in a["keypoint_names"]],
                category=str(a["category"]),
                resolution=int(a["resolution"]),
                seed=int(a["seed"]),
                images_sha256=str(a["images_sha256"]) if "images_sha256" in a else None,
                names=list(f["names"].asstr()[sel]) if "names" in f else None,
                is_val=f["is_val"][sel] if "is_val" in f else None,
            )
    except OSError as exc:
        raise DataError(f"{path}: not a readable HDF5 file ({exc})") from None
    return Annotations(**arrays, **meta)


def read_annotation_attrs(path: str | os.PathLike) -> dict:
    """The attributes of ``annotations.h5`` (classes, keypoint names, category, resolution, seed), without
    reading its arrays."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: annotations file not found")
    try:
        with h5py.File(path, "r") as f:
            a = f.attrs
            return {
                "classes": [str(c) for c in a["classes"]],
                "keypoint_names": [str(c) for c in a["keypoint_names"]],
                "category": str(a["category"]),
                "resolution": int(a["resolution"]),
                "seed": int(a["seed"]),
                **({"test_set": str(a["test_set"])} if "test_set" in a else {}),
            }
    except (OSError, KeyError) as exc:
        raise DataError(f"{path}: not a readable annotations file ({exc})") from None


def check_pair(images_path: str | os.PathLike, annotations_path: str | os.PathLike) -> None:
    """Raise DataError (one line naming both files) unless ``annotations_path`` was written with the images in
    ``images_path``: its recorded ``images_sha256`` must be the sha256 of that file's bytes.

    An annotations file without the hash (written before it was recorded; the pipeline rewrites its
    own) is not refused: a warning says the pair is unchecked, and readers still check row counts and
    image sizes.
    """
    images_path, annotations_path = Path(images_path), Path(annotations_path)
    if not annotations_path.is_file():
        raise DataError(
            f"{annotations_path}: annotations file not found (labelled datasets only: synthetic ones have it)"
        )
    try:
        with h5py.File(annotations_path, "r") as f:
            recorded = f.attrs.get("images_sha256")
    except OSError as exc:
        raise DataError(f"{annotations_path}: not a readable HDF5 file ({exc})") from None
    if recorded is None:
        warnings.warn(
            f"{annotations_path} records no images hash (an older file): not checked against {images_path}; "
            f"regenerate it with its images (ganbench synth) to have the pair checked",
            stacklevel=2,
        )
        return
    if not images_path.is_file():
        raise DataError(
            f"{images_path}: images file not found (the annotations in {annotations_path} "
            f"describe an images.zip with sha256 {str(recorded)[:12]}...)"
        )
    actual = sha256_file(images_path)
    if actual != str(recorded):
        raise DataError(
            f"{annotations_path} describes other images than {images_path} (recorded images sha256 "
            f"{str(recorded)[:12]}..., the file has {actual[:12]}...): pass the annotations.h5 written "
            f"with these images"
        )

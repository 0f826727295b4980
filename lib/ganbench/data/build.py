"""Materialise a configured dataset as pipeline artifacts.

The synthetic benchmark writes ``images.zip`` and ``annotations.h5`` together, since its
ground truth is rendered with the images. Folder and downloaded sources go through
:func:`ganbench.data.stylegan_zip.convert_to_zip`.
"""

from __future__ import annotations

import os

import numpy as np
from tqdm import tqdm

from ganbench.data import synthetic
from ganbench.data.annotations import AnnotationsWriter
from ganbench.data.stylegan_zip import StyleGANZipWriter
from ganbench.errors import DataError
from ganbench.fileio import atomic_path, sha256_file


def make_synthetic_dataset(
    category: str,
    resolution: int,
    count: int,
    seed: int,
    test_fraction: float,
    zip_path: str | os.PathLike,
    annotations_path: str | os.PathLike,
) -> int:
    """Render ``count`` synthetic images with their ground truth; both files appear only on success.

    Bad arguments raise DataError before anything is created. The annotations record the sha256 of
    the zip (:func:`ganbench.data.annotations.check_pair`)."""
    synthetic._check(category, resolution)  # category and resolution the synthesizer can render
    for name, value, minimum in (("count", count, 1), ("seed", seed, 0)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
            raise DataError(f"synthetic {name} {value!r} is not an integer >= {minimum}")
    is_test = synthetic.train_test_split(count, test_fraction, seed)
    keypoint_names = synthetic.KEYPOINT_NAMES[category]
    with (
        atomic_path(zip_path) as zip_tmp,
        atomic_path(annotations_path) as h5_tmp,
        StyleGANZipWriter(zip_tmp) as images,
        AnnotationsWriter(
            h5_tmp,
            count,
            resolution,
            len(keypoint_names),
            classes=synthetic.CLASSES[category],
            keypoint_names=keypoint_names,
            category=category,
            seed=seed,
        ) as annotations,
    ):
        samples = synthetic.iter_samples(category, resolution, count, seed)
        for i, s in enumerate(tqdm(samples, total=count, desc=f"synth {category} {resolution}px", disable=None)):
            images.add(s.image)
            annotations.write(
                i, label=s.label, coords=s.coords, keypoints=s.keypoints, visible=s.visible, is_test=bool(is_test[i])
            )
        images.close()
        annotations.set_images_sha256(sha256_file(zip_tmp))
    return count

"""Materialise a configured dataset as pipeline artifacts.

The synthetic benchmark writes ``images.zip`` and ``annotations.h5`` together, since its
ground truth is rendered with the images. Folder and downloaded sources go through
:func:`ganbench.data.stylegan_zip.convert_to_zip`.
"""

from __future__ import annotations

import os

from tqdm import tqdm

from ganbench.data import synthetic
from ganbench.data.annotations import AnnotationsWriter
from ganbench.data.stylegan_zip import StyleGANZipWriter
from ganbench.fileio import atomic_path


def make_synthetic_dataset(
    category: str,
    resolution: int,
    count: int,
    seed: int,
    test_fraction: float,
    zip_path: str | os.PathLike,
    annotations_path: str | os.PathLike,
) -> int:
    """Render ``count`` synthetic images with their ground truth; both files appear only on success."""
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
    return count


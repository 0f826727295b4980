"""Real labelled part-segmentation sets, imported into the ``images.zip`` + ``annotations.h5`` pair that the
stages training on part masks read (dataset source ``labelled``; rule ``import_labelled`` in rules/data.smk).

``celebamask-19to8`` (research/lagm.md §4.1): CelebAMask-HQ, unpacked by hand as the registry's notes say
(``CelebA-HQ-img/<i>.jpg``, ``CelebAMask-HQ-mask-anno/<i // 2000>/<i:05d>_<part>.png``). The official LAGM
split: images 28000-29499 are the labelled train split (in index order, so ``train_images: N`` takes the
first N as the official configs' ``limit_size``), 29500-29999 the test split; 0-27999 trained the GAN and
27500-27999 are LAGM's validation images (not imported: ours score the last snapshot). Part masks are painted
in the order of the 19 CelebAMask classes (later parts overwrite earlier ones), then merged into 8 classes:
eye glasses stay skin; hat, earring, necklace, neck and cloth become background. Images are resized with
PIL's bicubic filter, masks with nearest.

``datasetgan-face-34``, ``datasetgan-car-20``, ``datasetgan-cat-16``: the DatasetGAN release, shared by CoordGAN
and LAGM (:mod:`ganbench.data.datasetgan`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import PIL.Image
from tqdm import tqdm

from ganbench.data.annotations import AnnotationsWriter
from ganbench.data.stylegan_zip import StyleGANZipWriter
from ganbench.errors import DataError
from ganbench.fileio import atomic_path, sha256_file

CELEBA_19 = (
    "background", "skin", "nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow", "l_ear", "r_ear",
    "mouth", "u_lip", "l_lip", "hair", "hat", "ear_r", "neck_l", "neck", "cloth",
)  # fmt: skip
CELEBA_8 = ("background", "ear", "eye", "eyebrow", "skin", "hair", "mouth", "nose")
_19_TO_8 = {
    "background": "background", "skin": "skin", "nose": "nose", "eye_g": "skin", "l_eye": "eye", "r_eye": "eye",
    "l_brow": "eyebrow", "r_brow": "eyebrow", "l_ear": "ear", "r_ear": "ear", "mouth": "mouth", "u_lip": "mouth",
    "l_lip": "mouth", "hair": "hair", "hat": "background", "ear_r": "background", "neck_l": "background",
    "neck": "background", "cloth": "background",
}  # fmt: skip
LUT_19_TO_8 = np.array([CELEBA_8.index(_19_TO_8[c]) for c in CELEBA_19], np.uint8)
CELEBA_TRAIN = range(28000, 29500)
CELEBA_TEST = range(29500, 30000)
FORMATS = ("celebamask-19to8", "datasetgan-face-34", "datasetgan-car-20", "datasetgan-cat-16")


def celebamask_mask(root: Path, index: int) -> np.ndarray:
    """The 19-class mask (512 x 512 uint8) of image ``index``, parts painted in CELEBA_19 order."""
    folder = root / "CelebAMask-HQ-mask-anno" / str(index // 2000)
    mask = np.zeros((512, 512), np.uint8)
    for k, part in enumerate(CELEBA_19[1:], start=1):
        path = folder / f"{index:05d}_{part}.png"
        if path.is_file():
            layer = np.asarray(PIL.Image.open(path).convert("L"))
            if layer.shape != mask.shape:
                raise DataError(f"{path}: a {layer.shape[1]}x{layer.shape[0]} mask, the others are 512x512")
            mask[layer > 0] = k
    return mask


def import_celebamask(
    root: str | os.PathLike,
    zip_path: str | os.PathLike,
    annotations_path: str | os.PathLike,
    resolution: int,
    indices: tuple[range, range] = (CELEBA_TRAIN, CELEBA_TEST),
) -> int:
    """Write the official LAGM split of CelebAMask-HQ at ``resolution`` (8 classes); both files appear only on
    success. ``root`` is the unpacked ``CelebAMask-HQ`` folder (or the folder holding it). Returns the count."""
    root = Path(root)
    if not (root / "CelebA-HQ-img").is_dir() and (root / "CelebAMask-HQ" / "CelebA-HQ-img").is_dir():
        root = root / "CelebAMask-HQ"
    if not (root / "CelebA-HQ-img").is_dir() or not (root / "CelebAMask-HQ-mask-anno").is_dir():
        raise DataError(f"{root}: expected CelebA-HQ-img/ and CelebAMask-HQ-mask-anno/ (config/datasets.yaml notes)")
    train, test = indices
    rows = [(i, False) for i in train] + [(i, True) for i in test]
    no_coords = np.full((resolution, resolution, 2), np.nan, np.float32)
    with (
        atomic_path(zip_path) as zip_tmp,
        atomic_path(annotations_path) as h5_tmp,
        StyleGANZipWriter(zip_tmp) as images,
        AnnotationsWriter(
            h5_tmp, len(rows), resolution, 0, classes=CELEBA_8, keypoint_names=[], category="face", seed=0
        ) as annotations,
    ):
        for row, (index, is_test) in enumerate(tqdm(rows, desc="celebamask-hq", unit="img", disable=None)):
            path = root / "CelebA-HQ-img" / f"{index}.jpg"
            if not path.is_file():
                raise DataError(f"{path}: image {index} of the LAGM split is missing")
            image = PIL.Image.open(path).convert("RGB").resize((resolution, resolution), PIL.Image.BICUBIC)
            mask = PIL.Image.fromarray(LUT_19_TO_8[celebamask_mask(root, index)])
            mask = np.asarray(mask.resize((resolution, resolution), PIL.Image.NEAREST))
            images.add(np.asarray(image), str(path))
            annotations.write(
                row,
                label=mask,
                coords=no_coords,
                keypoints=np.zeros((0, 2), np.float32),
                visible=np.zeros((0,), bool),
                is_test=is_test,
            )
        images.close()
        annotations.set_images_sha256(sha256_file(zip_tmp))
    return len(rows)


def import_labelled(fmt: str, root, zip_path, annotations_path, resolution: int) -> int:
    """Import a labelled set of format ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "celebamask-19to8":
        return import_celebamask(root, zip_path, annotations_path, resolution)
    if fmt.startswith("datasetgan-") and fmt in FORMATS:  # ganbench.data.datasetgan.SETS
        from ganbench.data.datasetgan import import_datasetgan

        return import_datasetgan(fmt, root, zip_path, annotations_path, resolution)
    raise DataError(f"labelled format {fmt!r}: expected one of {', '.join(FORMATS)}")

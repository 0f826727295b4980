"""Real labelled part-segmentation sets, imported into the ``images.zip`` + ``annotations.h5`` pair that the
stages training on part masks read (dataset source ``labelled``; rule ``import_labelled`` in rules/data.smk).

``celebamask-19to8`` (research/lagm.md §4.1): CelebAMask-HQ, unpacked by hand as the registry's notes say
(``CelebA-HQ-img/<i>.jpg``, ``CelebAMask-HQ-mask-anno/<i // 2000>/<i:05d>_<part>.png``). The official LAGM
split: images 28000-29499 are the labelled train split (in index order, so ``train_images: N`` takes the
first N as the official configs' ``limit_size``), 29500-29999 the test split, 27500-27999 the validation split
(``is_val``: the official picks the snapshot by FG-mIoU on them; they are among the 0-27999 that trained the GAN).
Part masks are painted in the order of the 19 CelebAMask classes (later parts overwrite earlier ones), then
merged into 8 classes: eye glasses stay skin; hat, earring, necklace, neck and cloth become background. Images
are resized with PIL's bicubic filter, masks with nearest.

``celebamask-19to7`` (research/coordgan.md §4.2, CoordGAN's ``celebA-7`` label-propagation benchmark): the first
200 CelebA-HQ-img files in lexicographic name order (``0.jpg``, ``1.jpg``, ``10.jpg``, ``100.jpg``, ...), all in
the train split, since the benchmark draws its references (sorted indices 1, 3, 5, 6, 8) and queries (100-199)
from that list. Only seven classes are painted, in the official order (skin as face, the lips, eyes, brows, ears,
nose, mouth; later parts overwrite skin); hair, neck, cloth and the rest stay background.

``datasetgan-face-34``, ``datasetgan-car-20``, ``datasetgan-cat-16``: the DatasetGAN release, shared by CoordGAN
and LAGM (:mod:`ganbench.data.datasetgan`). ``pascal-part-horse``, ``pascal-part-aeroplane``: square crops of
VOC2010 instances with merged parts and a validation split (:mod:`ganbench.data.pascal_part`).
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
CELEBA_7 = ("background", "mouth", "eye", "brow", "ear", "nose", "face")
_7_PAINT = (
    ("skin", "face"), ("u_lip", "mouth"), ("l_lip", "mouth"), ("l_eye", "eye"), ("r_eye", "eye"),
    ("l_brow", "brow"), ("r_brow", "brow"), ("l_ear", "ear"), ("r_ear", "ear"), ("nose", "nose"), ("mouth", "mouth"),
)  # fmt: skip
CELEBA_7_COUNT = 200  # the benchmark's sorted indices reach 199
CELEBA_TRAIN = range(28000, 29500)
CELEBA_TEST = range(29500, 30000)
CELEBA_VAL = range(27500, 28000)
FORMATS = (
    "celebamask-19to8",
    "celebamask-19to7",
    "datasetgan-face-34",
    "datasetgan-car-20",
    "datasetgan-cat-16",
    "pascal-part-horse",
    "pascal-part-aeroplane",
)


def celebamask_mask(root: Path, index: int, paint=None) -> np.ndarray:
    """The mask (512 x 512 uint8) of image ``index``: ``paint`` = (part, value) pairs painted in order (default:
    the 19 classes in CELEBA_19 order, each its own index)."""
    folder = root / "CelebAMask-HQ-mask-anno" / str(index // 2000)
    mask = np.zeros((512, 512), np.uint8)
    for part, k in paint if paint is not None else ((p, i) for i, p in enumerate(CELEBA_19) if i):
        path = folder / f"{index:05d}_{part}.png"
        if path.is_file():
            layer = np.asarray(PIL.Image.open(path).convert("L"))
            if layer.shape != mask.shape:
                raise DataError(f"{path}: a {layer.shape[1]}x{layer.shape[0]} mask, the others are 512x512")
            mask[layer > 0] = k
    return mask


def _celebamask_root(root: str | os.PathLike) -> Path:
    root = Path(root)
    if not (root / "CelebA-HQ-img").is_dir() and (root / "CelebAMask-HQ" / "CelebA-HQ-img").is_dir():
        root = root / "CelebAMask-HQ"
    if not (root / "CelebA-HQ-img").is_dir() or not (root / "CelebAMask-HQ-mask-anno").is_dir():
        raise DataError(f"{root}: expected CelebA-HQ-img/ and CelebAMask-HQ-mask-anno/ (config/datasets.yaml notes)")
    return root


def celeba7_rows(root: Path, count: int = CELEBA_7_COUNT) -> list[int]:
    """Image ids of the first ``count`` CelebA-HQ-img files in lexicographic name order (the official glob sort)."""
    names = sorted(p.name for p in (root / "CelebA-HQ-img").iterdir() if p.suffix == ".jpg")
    if len(names) < count:
        raise DataError(f"{root / 'CelebA-HQ-img'}: {len(names)} .jpg images, celebA-7 needs the first {count}")
    ids = []
    for name in names[:count]:
        if not name[:-4].isdigit():
            raise DataError(f"{root / 'CelebA-HQ-img' / name}: expected a file named <id>.jpg")
        ids.append(int(name[:-4]))
    return ids


def write_labelled_set(
    zip_path: str | os.PathLike,
    annotations_path: str | os.PathLike,
    resolution: int,
    names: list[str],
    samples,
    *,
    classes,
    category: str,
    with_val: bool = False,
    test_set: str | None = None,
) -> int:
    """Write a part-labelled set: ``samples`` yields, for each of ``names`` in order, (image uint8 (R, R, 3), part
    mask (R, R), image source name, is_test, is_val). No coordinates or keypoints (a real set has neither). Both
    files appear only on success, the annotations with the images' sha256. Returns the image count."""
    no_coords = np.full((resolution, resolution, 2), np.nan, np.float32)
    with (
        atomic_path(zip_path) as zip_tmp,
        atomic_path(annotations_path) as h5_tmp,
        StyleGANZipWriter(zip_tmp) as images,
        AnnotationsWriter(
            h5_tmp,
            len(names),
            resolution,
            0,
            classes=classes,
            keypoint_names=[],
            category=category,
            seed=0,
            names=names,
            with_val=with_val,
            test_set=test_set,
        ) as annotations,
    ):
        for row, (image, mask, source, is_test, is_val) in enumerate(samples):
            images.add(image, source)
            annotations.write(
                row,
                label=mask,
                coords=no_coords,
                keypoints=np.zeros((0, 2), np.float32),
                visible=np.zeros((0,), bool),
                is_test=is_test,
                is_val=is_val,
            )
        images.close()
        annotations.set_images_sha256(sha256_file(zip_tmp))
    return len(names)


def import_celebamask(
    root: str | os.PathLike,
    zip_path: str | os.PathLike,
    annotations_path: str | os.PathLike,
    resolution: int,
    indices: tuple[range, range, range] = (CELEBA_TRAIN, CELEBA_TEST, CELEBA_VAL),
    fmt: str = "celebamask-19to8",
) -> int:
    """Write the official LAGM split of CelebAMask-HQ at ``resolution`` (8 classes: train, test and validation
    rows), or with ``fmt`` ``celebamask-19to7`` CoordGAN's celebA-7 list (``indices`` unused); both files appear
    only on success. ``root`` is the unpacked ``CelebAMask-HQ`` folder (or the folder holding it). Returns the
    count."""
    root = _celebamask_root(root)
    if fmt == "celebamask-19to7":
        rows = [(i, False, False) for i in celeba7_rows(root)]
        classes, paint = CELEBA_7, tuple((part, CELEBA_7.index(c)) for part, c in _7_PAINT)
    else:
        train, test, val = indices
        rows = [(i, False, False) for i in train] + [(i, True, False) for i in test]
        rows += [(i, False, True) for i in val]
        classes, paint = CELEBA_8, None

    def samples():
        for index, is_test, is_val in tqdm(rows, desc="celebamask-hq", unit="img", disable=None):
            path = root / "CelebA-HQ-img" / f"{index}.jpg"
            if not path.is_file():
                raise DataError(f"{path}: image {index} of the {fmt} list is missing")
            image = PIL.Image.open(path).convert("RGB").resize((resolution, resolution), PIL.Image.BICUBIC)
            mask = celebamask_mask(root, index, paint)
            mask = PIL.Image.fromarray(mask if paint is not None else LUT_19_TO_8[mask])
            mask = np.asarray(mask.resize((resolution, resolution), PIL.Image.NEAREST))
            yield np.asarray(image), mask, str(path), is_test, is_val

    official = fmt == "celebamask-19to8"
    return write_labelled_set(
        zip_path,
        annotations_path,
        resolution,
        [f"{i}.jpg" for i, _, _ in rows],
        samples(),
        classes=classes,
        category="face",
        with_val=official,
        test_set="celebamask-hq-29500-29999" if official else None,
    )


def import_labelled(fmt: str, root, zip_path, annotations_path, resolution: int) -> int:
    """Import a labelled set of format ``fmt`` (one of :data:`FORMATS`)."""
    if fmt in ("celebamask-19to8", "celebamask-19to7"):
        return import_celebamask(root, zip_path, annotations_path, resolution, fmt=fmt)
    if fmt.startswith("datasetgan-") and fmt in FORMATS:  # ganbench.data.datasetgan.SETS
        from ganbench.data.datasetgan import import_datasetgan

        return import_datasetgan(fmt, root, zip_path, annotations_path, resolution)
    if fmt.startswith("pascal-part-") and fmt in FORMATS:  # ganbench.data.pascal_part.SETS
        from ganbench.data.pascal_part import import_pascal_part

        return import_pascal_part(fmt, root, zip_path, annotations_path, resolution)
    raise DataError(f"labelled format {fmt!r}: expected one of {', '.join(FORMATS)}")

"""The DatasetGAN annotated sets (face-34, car-20, cat-16), imported once for both papers that use them: CoordGAN's
label propagation (research coordgan.md §4.2, §6) and LAGM's downstream segmentation (lagm.md §4.3).

The release (nv-tlabs/datasetGAN_release, Google Drive only: config/datasets.yaml ``datasetgan``) is placed by
hand, as a folder or a zip, holding ``annotation/training_data/{face,car,cat}_processed/`` and
``annotation/testing_data/{face_34,car_20,cat_16}_class/`` (the ``annotation/`` level is optional; CoordGAN's
renames ``our_train/`` and ``our_test/`` are accepted too). Each folder holds images (``.png``, ``.jpg``,
``.jpeg``) and ``.npy`` label maps; an image and its mask pair by the integer that ends the file name
(``image_12.jpg`` with ``image_mask12.npy``), and rows follow that integer (LAGM's order, so ``train_images: N``
takes the first N as its ``max_size``). The official split: the training folder is the train split, the testing
folder the test split.

- Car (both reports): DatasetGAN's car images are 512 x 512 frames of a 512 x 384 generator, letterboxed; the wide
  crop keeps rows [H/8, 7H/8) of a square frame (a 4:3 frame is kept whole), then image and mask are squashed
  to the square resolution (CoordGAN squashes to 128, LAGM resizes to 512 x 512).
- Images are resized with PIL's bicubic filter, masks with nearest (LAGM's loader). Deviation for CoordGAN: its
  evaluation bilinearly resizes the one-hot of the original-resolution mask; ours starts from the mask at the
  import resolution. LAGM's training-time clean-up (class regions under 30 pixels set to 0) is not applied: its
  cross-validation loader does not apply it either, and CoordGAN never does.
- ``annotations.h5`` records each row's source name (attr ``names``), from which CoordGAN's reference rule
  (the first 5 training files in sorted name order, jpg before png) is derived
  (:func:`ganbench.metrics.correspondence.coordgan_train_order`).
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import PIL.Image

from ganbench.data.labelled import write_labelled_set
from ganbench.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
CAR_20 = (
    "background",
    "back_bumper",
    "bumper",
    "car_body",
    "car_lights",
    "door",
    "fender",
    "grilles",
    "handles",
    "hoods",
    "licensePlate",
    "mirror",
    "roof",
    "running_boards",
    "tailLight",
    "tire",
    "trunk_lids",
    "wheelhub",
    "window",
    "windshield",
)  # fmt: skip  (lagm.md §4.3, dg_car_20)


def _numbered(count: int, known: dict[int, str]) -> tuple[str, ...]:
    """Class names where the reports give only some of them: ``class_{i}`` for the others."""
    return tuple(known.get(i, f"class_{i}") for i in range(count))


@dataclass(frozen=True)
class DatasetGANSet:
    name: str  # the labelled format and the dataset name of the configs
    obj: str  # training_data/{obj}_processed
    test_folder: str  # testing_data/{test_folder}
    classes: tuple[str, ...]
    wide_crop: bool = False


SETS = {
    s.name: s
    for s in (
        # the 34 face names are not in the reports; 17 and 25 are the two CoordGAN drops (coordgan.md §4.2)
        DatasetGANSet(
            "datasetgan-face-34",
            "face",
            "face_34_class",
            _numbered(34, {0: "background", 17: "head***hair", 25: "head***neck"}),
        ),
        DatasetGANSet("datasetgan-car-20", "car", "car_20_class", CAR_20, wide_crop=True),
        DatasetGANSet("datasetgan-cat-16", "cat", "cat_16_class", _numbered(16, {0: "background"})),
    )
}
TRAIN_PARENTS, TEST_PARENTS = ("training_data", "our_train"), ("testing_data", "our_test")


class _Tree:
    """The files of a folder or a zip, by relative POSIX path."""

    def __init__(self, root: Path):
        self.root = root
        if root.is_file():
            if not zipfile.is_zipfile(root):
                raise DataError(f"{root}: neither a folder nor a zip (the DatasetGAN release, config/datasets.yaml)")
            self._zip = zipfile.ZipFile(root)
            self.paths = [n for n in self._zip.namelist() if not n.endswith("/")]
        elif root.is_dir():
            self._zip = None
            self.paths = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
        else:
            raise DataError(f"{root}: not found (the DatasetGAN release, placed by hand: config/datasets.yaml notes)")

    def read(self, path: str) -> bytes:
        return self._zip.read(path) if self._zip else (self.root / path).read_bytes()

    def folder(self, parents: tuple[str, ...], name: str) -> list[str]:
        """The files directly inside ``{parent}/{name}/`` for a parent in ``parents`` (at any depth)."""
        found: dict[str, list[str]] = {}
        for path in self.paths:
            p = PurePosixPath(path)
            if len(p.parts) >= 3 and p.parent.name == name and p.parent.parent.name in parents:
                found.setdefault(str(p.parent), []).append(path)
        if not found:
            want = " or ".join(f"{parent}/{name}/" for parent in parents)
            raise DataError(f"{self.root}: no {want} inside (the DatasetGAN layout: config/datasets.yaml notes)")
        if len(found) > 1:
            raise DataError(f"{self.root}: {name}/ found twice ({', '.join(sorted(found))}); keep one")
        return next(iter(found.values()))


def _trailing_int(path: str) -> int | None:
    match = re.search(r"(\d+)$", PurePosixPath(path).stem)
    return int(match.group(1)) if match else None


def _pairs(tree: _Tree, files: list[str]) -> list[tuple[str, str]]:
    """(image, mask) paths paired and ordered by the integer that ends their names."""
    images, masks = {}, {}
    for path in files:
        suffix = PurePosixPath(path).suffix.lower()
        table = images if suffix in IMAGE_SUFFIXES else masks if suffix == ".npy" else None
        if table is None:
            continue
        key = _trailing_int(path)
        if key is None:
            raise DataError(f"{tree.root}: {path}: no number at the end of the name to pair it by")
        if key in table:
            raise DataError(f"{tree.root}: {path} and {table[key]} share the number {key}")
        table[key] = path
    for have, other, what in ((images, masks, "mask (.npy)"), (masks, images, "image")):
        missing = sorted(set(have) - set(other))
        if missing:
            raise DataError(f"{tree.root}: {have[missing[0]]} has no {what} with the number {missing[0]}")
    if not images:
        raise DataError(f"{tree.root}: {PurePosixPath(files[0]).parent}/ holds no image and mask pairs")
    return [(images[k], masks[k]) for k in sorted(images)]


def _wide_crop(array: np.ndarray) -> np.ndarray:
    """Rows [H/8, 7H/8) of a square car frame (the 4:3 picture inside DatasetGAN's letterbox)."""
    h, w = array.shape[:2]
    if h == w:
        return array[h // 8 : 7 * h // 8]
    if 4 * h == 3 * w:
        return array
    raise DataError(f"a {w}x{h} car frame: expected a square (letterboxed) frame or a 4:3 one")


def _load(tree: _Tree, image_path: str, mask_path: str, spec: DatasetGANSet, resolution: int):
    image = np.asarray(PIL.Image.open(io.BytesIO(tree.read(image_path))).convert("RGB"))
    try:
        mask = np.load(io.BytesIO(tree.read(mask_path)), allow_pickle=False)
    except ValueError as exc:
        raise DataError(f"{tree.root}: {mask_path}: not a readable .npy label map ({exc})") from None
    if mask.ndim != 2 or mask.shape != image.shape[:2]:
        raise DataError(
            f"{tree.root}: {mask_path}: a {'x'.join(map(str, mask.shape[::-1]))} mask, but its image "
            f"{image_path} is {image.shape[1]}x{image.shape[0]}"
        )
    if not np.issubdtype(mask.dtype, np.integer) and not np.array_equal(mask, np.round(mask)):
        raise DataError(f"{tree.root}: {mask_path}: label values are not whole numbers ({mask.dtype})")
    if mask.min() < 0 or mask.max() >= len(spec.classes):
        raise DataError(
            f"{tree.root}: {mask_path}: label {int(mask.max())} outside 0..{len(spec.classes) - 1} ({spec.name})"
        )
    mask = mask.astype(np.uint8)
    if spec.wide_crop:
        try:
            image, mask = _wide_crop(image), _wide_crop(mask)
        except DataError as exc:
            raise DataError(f"{tree.root}: {image_path}: {exc}") from None
    image = PIL.Image.fromarray(image).resize((resolution, resolution), PIL.Image.BICUBIC)
    mask = PIL.Image.fromarray(mask).resize((resolution, resolution), PIL.Image.NEAREST)
    return np.asarray(image), np.asarray(mask)


def import_datasetgan(
    name: str, root: str | os.PathLike, zip_path: str | os.PathLike, annotations_path: str | os.PathLike, resolution
) -> int:
    """Write DatasetGAN set ``name`` (a key of :data:`SETS`) at ``resolution``: the training folder as the train
    split, the testing folder as the test split. Both files appear only on success. Returns the image count."""
    spec = SETS[name]
    tree = _Tree(Path(root))
    rows = [(p, False) for p in _pairs(tree, tree.folder(TRAIN_PARENTS, f"{spec.obj}_processed"))]
    rows += [(p, True) for p in _pairs(tree, tree.folder(TEST_PARENTS, spec.test_folder))]

    def samples():
        for (image_path, mask_path), is_test in rows:
            image, mask = _load(tree, image_path, mask_path, spec, resolution)
            yield image, mask, f"{tree.root}: {image_path}", is_test, False

    names = [image_path for (image_path, _), _ in rows]
    return write_labelled_set(
        zip_path, annotations_path, resolution, names, samples(), classes=spec.classes, category=spec.obj
    )

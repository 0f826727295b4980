"""Pascal-Part horse and aeroplane crops, LAGM's semi-supervised benchmarks (research/lagm.md §4.2).

The source is placed by hand (config/datasets.yaml ``pascal-part``): a folder holding PASCAL VOC2010
(``JPEGImages/``, ``ImageSets/Main/{horse,aeroplane}_{train,val}.txt``) and the Pascal-Part annotations
(``Annotations_Part/*.mat``, at the top or under ``part_segmentation/``); a ``VOC2010/`` or ``VOCdevkit/VOC2010/``
level is found by itself. The official preparation (``utils/pascal_part_tool.py``), redone here:

1. images listed positive (``1``) in ``ImageSets/Main/<obj>_<split>.txt``: VOC train -> our train and validation
   splits, VOC val -> the test split;
2. a semantic part mask of the target class per image: every instance's parts merged into 5 classes (horse: head
   with eyes, ears and muzzle; torso; legs with hooves; neck; tail. Aeroplane: body; stern and tail; wings;
   engines; wheels); a part name outside the merge is an error, not background;
3. per instance of the class: dropped if its box has IoU > 0.05 with another instance's box, or is narrower or
   lower than ``minpx`` (32 horse, 50 aeroplane); the box grows to a square about its centre (the centre moved so
   the square fits the image where it can), cropped with zero padding; dropped if the part mask covers < 1% of
   the crop. Crops are named ``<image>_<k>`` (k: the instance's index among the class's objects);
4. VOC train crops sorted by name: the first 180 are the train split, the rest the validation split (the official
   picks the snapshot by FG-mIoU on it).

Crops are resized to the import resolution with PIL's default (bicubic) filter, masks with nearest.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import PIL.Image

from ganbench.data.labelled import write_labelled_set
from ganbench.errors import DataError

TRAIN_CROPS = 180  # the official train_set.txt: the first 180 sorted crops of VOC train
MAX_IOU = 0.05
MIN_PART_FRACTION = 0.01


@dataclass(frozen=True)
class PascalPartSet:
    obj: str
    classes: tuple[str, ...]
    parts: dict[str, str]  # Pascal-Part part name (engine_/wheel_ numbered names by prefix) -> merged class
    minpx: int


HORSE = PascalPartSet(
    "horse",
    ("background", "head", "torso", "leg", "neck", "tail"),
    {
        **{p: "head" for p in ("head", "leye", "reye", "lear", "rear", "muzzle")},
        "torso": "torso",
        **{p: "leg" for p in ("lfuleg", "lflleg", "rfuleg", "rflleg", "lbuleg", "lblleg", "rbuleg", "rblleg")},
        **{p: "leg" for p in ("lfho", "rfho", "lbho", "rbho")},
        "neck": "neck",
        "tail": "tail",
    },
    32,
)
AEROPLANE = PascalPartSet(
    "aeroplane",
    ("background", "body", "tail", "wing", "engine", "wheel"),
    {
        "body": "body",
        "stern": "tail",
        "tail": "tail",
        "lwing": "wing",
        "rwing": "wing",
        "engine": "engine",
        "wheel": "wheel",
    },
    50,
)
SETS = {"pascal-part-horse": HORSE, "pascal-part-aeroplane": AEROPLANE}


def _voc_root(root: Path) -> Path:
    for candidate in (root, root / "VOC2010", root / "VOCdevkit" / "VOC2010"):
        if (candidate / "JPEGImages").is_dir() and (candidate / "ImageSets" / "Main").is_dir():
            return candidate
    raise DataError(
        f"{root}: expected VOC2010's JPEGImages/ and ImageSets/Main/ (with Annotations_Part/ of Pascal-Part; "
        "config/datasets.yaml pascal-part notes)"
    )


def _parts_dir(root: Path, voc: Path) -> Path:
    for candidate in (
        voc / "Annotations_Part",
        voc / "part_segmentation" / "Annotations_Part",
        root / "Annotations_Part",
    ):
        if candidate.is_dir():
            return candidate
    raise DataError(f"{root}: no Annotations_Part/ folder of Pascal-Part .mat files")


def _positives(voc: Path, obj: str, split: str) -> list[str]:
    path = voc / "ImageSets" / "Main" / f"{obj}_{split}.txt"
    if not path.is_file():
        raise DataError(f"{path}: the VOC image list of {obj} {split} is missing")
    names = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or fields[1] not in ("1", "0", "-1"):
            raise DataError(f"{path}: line {n} is not '<image> <1|0|-1>'")
        if fields[1] == "1":
            names.append(fields[0])
    return names


def _as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, np.ndarray):
        return list(value.reshape(-1))
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _read_objects(path: Path, where: str) -> list:
    from scipy.io import loadmat

    try:
        anno = loadmat(path, squeeze_me=True, struct_as_record=False)["anno"]
        return _as_list(anno.objects)
    except (OSError, ValueError, KeyError, AttributeError, TypeError) as exc:
        raise DataError(
            f"{where}: not a Pascal-Part annotation (.mat with anno.objects; {type(exc).__name__})"
        ) from None


def part_mask(objects: list, spec: PascalPartSet, shape: tuple[int, int], where: str) -> np.ndarray:
    """The merged part classes of every instance of ``spec.obj`` in one image."""
    mask = np.zeros(shape, np.uint8)
    for obj in objects:
        if str(getattr(obj, "class", "")) != spec.obj:
            continue
        for part in _as_list(obj.parts):
            name = str(part.part_name)
            merged = spec.parts.get(re.sub(r"_\d+$", "", name))
            if merged is None:
                raise DataError(f"{where}: part {name!r} of a {spec.obj} is not one the LAGM merge knows")
            layer = np.asarray(part.mask)
            if layer.shape != shape:
                raise DataError(
                    f"{where}: part {name!r} mask is {layer.shape[1]}x{layer.shape[0]}, the image is "
                    f"{shape[1]}x{shape[0]}"
                )
            mask[layer > 0] = spec.classes.index(merged)
    return mask


def _box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def _iou(a, b) -> float:
    w = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0


def _square(box, width: int, height: int) -> tuple[int, int, int]:
    """(x0, y0, side) of the square about the box's centre, moved to fit the image where the side allows."""
    side = max(box[2] - box[0], box[3] - box[1])
    x0 = (box[0] + box[2]) // 2 - side // 2
    y0 = (box[1] + box[3]) // 2 - side // 2
    x0 = min(max(x0, 0), max(width - side, 0)) if side <= width else x0
    y0 = min(max(y0, 0), max(height - side, 0)) if side <= height else y0
    return x0, y0, side


def _crop(array: np.ndarray, x0: int, y0: int, side: int) -> np.ndarray:
    out = np.zeros((side, side, *array.shape[2:]), array.dtype)
    h, w = array.shape[:2]
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x0 + side, w), min(y0 + side, h)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = array[sy0:sy1, sx0:sx1]
    return out


def crops_of_image(image: np.ndarray, objects: list, spec: PascalPartSet, name: str, where: str):
    """[(crop name, image crop, part-mask crop)] of one VOC image, the official filters applied."""
    height, width = image.shape[:2]
    mask = part_mask(objects, spec, (height, width), where)
    instances = [(k, obj) for k, obj in enumerate(o for o in objects if str(getattr(o, "class", "")) == spec.obj)]
    boxes = [_box(np.asarray(obj.mask)) for _, obj in instances]
    out = []
    for (k, _), box in zip(instances, boxes):
        if box is None:
            continue
        if any(j != k and other is not None and _iou(box, other) > MAX_IOU for j, other in enumerate(boxes)):
            continue
        if box[2] - box[0] < spec.minpx or box[3] - box[1] < spec.minpx:
            continue
        x0, y0, side = _square(box, width, height)
        part_crop = _crop(mask, x0, y0, side)
        if (part_crop > 0).sum() < MIN_PART_FRACTION * side * side:
            continue
        out.append((f"{name}_{k}", _crop(image, x0, y0, side), part_crop))
    return out


def _split_crops(voc: Path, parts: Path, spec: PascalPartSet, split: str) -> list:
    crops = []
    for name in _positives(voc, spec.obj, split):
        image_path, mat_path = voc / "JPEGImages" / f"{name}.jpg", parts / f"{name}.mat"
        if not image_path.is_file():
            raise DataError(f"{image_path}: listed in ImageSets/Main/{spec.obj}_{split}.txt but missing")
        if not mat_path.is_file():
            raise DataError(f"{mat_path}: Pascal-Part has no annotation of {name}")
        image = np.asarray(PIL.Image.open(image_path).convert("RGB"))
        crops += crops_of_image(image, _read_objects(mat_path, str(mat_path)), spec, name, str(mat_path))
    return sorted(crops, key=lambda c: c[0])


def import_pascal_part(
    fmt: str, root: str | os.PathLike, zip_path: str | os.PathLike, annotations_path: str | os.PathLike, resolution: int
) -> int:
    """Write the crops of one Pascal-Part class at ``resolution``: rows train (the first 180 crops of VOC train),
    validation (the other VOC train crops), test (VOC val). Both files appear only on success."""
    spec = SETS[fmt]
    root = Path(root)
    voc = _voc_root(root)
    parts = _parts_dir(root, voc)
    train = _split_crops(voc, parts, spec, "train")
    test = _split_crops(voc, parts, spec, "val")
    if not train or not test:
        raise DataError(f"{root}: no {spec.obj} crop survives the filters in VOC {'train' if not train else 'val'}")
    rows = [(c, i >= TRAIN_CROPS, False) for i, c in enumerate(train)] + [(c, False, True) for c in test]

    def samples():
        for (name, image, mask), is_val, is_test in rows:
            image = PIL.Image.fromarray(image).resize((resolution, resolution), PIL.Image.BICUBIC)
            mask = PIL.Image.fromarray(mask).resize((resolution, resolution), PIL.Image.NEAREST)
            yield np.asarray(image), np.asarray(mask), name, is_test, is_val

    return write_labelled_set(
        zip_path,
        annotations_path,
        resolution,
        [c[0] for c, _, _ in rows],
        samples(),
        classes=spec.classes,
        category=spec.obj,
        with_val=True,
        test_set="voc2010-val-crops",
    )

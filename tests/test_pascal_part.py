"""Pascal-Part horse/aeroplane import (research/lagm.md §4.2) on a tiny VOC2010 + Annotations_Part tree made here."""

from __future__ import annotations

import numpy as np
import PIL.Image
import pytest
from scipy.io import savemat

from ganbench.data.annotations import read_annotations
from ganbench.data.labelled import import_labelled
from ganbench.data.pascal_part import HORSE, TRAIN_CROPS, crops_of_image, part_mask
from ganbench.errors import DataError


def _struct_array(records: list[dict], fields: tuple[str, ...]) -> np.ndarray:
    out = np.zeros((1, len(records)), dtype=[(f, object) for f in fields])
    for i, r in enumerate(records):
        for f in fields:
            out[0, i][f] = r[f]
    return out


def _object(cls: str, box: tuple[int, int, int, int], parts: dict[str, tuple[int, int, int, int]], shape) -> dict:
    mask = np.zeros(shape, np.uint8)
    mask[box[1] : box[3], box[0] : box[2]] = 1
    part_records = []
    for name, (x0, y0, x1, y1) in parts.items():
        m = np.zeros(shape, np.uint8)
        m[y0:y1, x0:x1] = 1
        part_records.append({"part_name": name, "mask": m})
    return {
        "class": cls,
        "class_ind": 13,
        "mask": mask,
        "parts": _struct_array(part_records, ("part_name", "mask")) if part_records else np.zeros((0, 0)),
    }


def _write_image(root, name, objects, shape=(60, 80)):
    voc = root / "VOC2010"
    (voc / "JPEGImages").mkdir(parents=True, exist_ok=True)
    (voc / "Annotations_Part").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    PIL.Image.fromarray(rng.integers(0, 255, (*shape, 3), dtype=np.uint8)).save(voc / "JPEGImages" / f"{name}.jpg")
    anno = {"imname": name, "objects": _struct_array(objects, ("class", "class_ind", "mask", "parts"))}
    savemat(voc / "Annotations_Part" / f"{name}.mat", {"anno": anno})


HORSE_PARTS = {
    "head": (12, 10, 22, 20),
    "muzzle": (12, 20, 16, 24),
    "torso": (22, 12, 40, 30),
    "lfuleg": (24, 30, 28, 44),
    "lfho": (24, 44, 28, 46),
    "neck": (18, 8, 22, 12),
    "tail": (40, 12, 44, 20),
}


@pytest.fixture
def voc(tmp_path):
    """VOC train: 3 positive images (one also holding a tiny horse and an overlapping pair), 1 negative; VOC val: 1."""
    root = tmp_path / "pascal-part"
    shape = (60, 80)
    train = []
    for i in range(3):
        name = f"2008_00000{i}"
        objects = [_object("horse", (10, 8, 46, 47), HORSE_PARTS, shape)]
        if i == 0:
            objects.append(_object("horse", (60, 50, 70, 58), {"torso": (60, 50, 70, 58)}, shape))  # 10x8 < minpx 32
            objects.append(_object("person", (50, 0, 80, 40), {}, shape))
        if i == 2:  # two horses whose boxes overlap: both dropped, then no crop from this image
            objects = [
                _object("horse", (0, 0, 40, 40), HORSE_PARTS, shape),
                _object("horse", (20, 0, 60, 40), {}, shape),
            ]
        _write_image(root, name, objects, shape)
        train.append(f"{name}  1")
    _write_image(root, "2008_000009", [_object("person", (0, 0, 30, 30), {}, shape)], shape)
    train.append("2008_000009 -1")
    _write_image(root, "2009_000001", [_object("horse", (30, 10, 70, 58), {"torso": (40, 20, 60, 40)}, shape)], shape)
    main = root / "VOC2010" / "ImageSets" / "Main"
    main.mkdir(parents=True)
    (main / "horse_train.txt").write_text("\n".join(train) + "\n")
    (main / "horse_val.txt").write_text("2009_000001  1\n2008_000009 -1\n")
    return root


def test_horse_crops_splits_and_merged_parts(voc, tmp_path):
    n = import_labelled("pascal-part-horse", voc, tmp_path / "images.zip", tmp_path / "annotations.h5", 32)
    ann = read_annotations(tmp_path / "annotations.h5")
    assert n == 3 and ann.names == ["2008_000000_0", "2008_000001_0", "2009_000001_0"]
    assert ann.classes == ["background", "head", "torso", "leg", "neck", "tail"]
    assert ann.is_test.tolist() == [False, False, True]
    assert ann.is_val.tolist() == [False, False, False]  # fewer than 180 train crops: none is validation
    assert set(np.unique(ann.label[0])) == {0, 1, 2, 3, 4, 5}  # muzzle -> head, hoof -> leg
    assert set(np.unique(ann.label[2])) == {0, 2}


def test_square_crop_about_the_box_centre_with_parts():
    shape = (60, 80)
    image = np.arange(60 * 80 * 3, dtype=np.uint8).reshape(60, 80, 3)
    objects = [_object("horse", (10, 8, 46, 47), HORSE_PARTS, shape)]
    ((name, img, mask),) = crops_of_image(image, [_as_struct(o) for o in objects], HORSE, "x", "x.mat")
    side = 39  # max(36, 39)
    assert name == "x_0" and img.shape == (side, side, 3) and mask.shape == (side, side)
    x0, y0 = (10 + 46) // 2 - side // 2, (8 + 47) // 2 - side // 2
    np.testing.assert_array_equal(img, image[y0 : y0 + side, x0 : x0 + side])
    full = part_mask([_as_struct(o) for o in objects], HORSE, shape, "x.mat")
    np.testing.assert_array_equal(mask, full[y0 : y0 + side, x0 : x0 + side])


def test_first_180_train_crops_train_the_rest_validate(monkeypatch, voc, tmp_path):
    import ganbench.data.pascal_part as pp

    monkeypatch.setattr(pp, "TRAIN_CROPS", 1)
    import_labelled("pascal-part-horse", voc, tmp_path / "images.zip", tmp_path / "annotations.h5", 32)
    ann = read_annotations(tmp_path / "annotations.h5")
    assert TRAIN_CROPS == 180 and ann.is_val.tolist() == [False, True, False]


def test_unknown_part_and_missing_tree_are_one_line(voc, tmp_path):
    _write_image(voc, "2008_000001", [_object("horse", (10, 8, 46, 47), {"saddle": (20, 10, 30, 20)}, (60, 80))])
    with pytest.raises(DataError, match="part 'saddle' of a horse is not one the LAGM merge knows"):
        import_labelled("pascal-part-horse", voc, tmp_path / "i.zip", tmp_path / "a.h5", 32)
    assert not (tmp_path / "i.zip").exists() and not (tmp_path / "a.h5").exists()
    with pytest.raises(DataError, match="expected VOC2010's JPEGImages/"):
        import_labelled("pascal-part-horse", tmp_path / "nothing", tmp_path / "i.zip", tmp_path / "a.h5", 32)


class _S:
    def __init__(self, d):
        self.__dict__.update(d)


def _as_struct(obj: dict):
    """What loadmat(squeeze_me=True, struct_as_record=False) gives for one object."""
    s = _S({k: v for k, v in obj.items() if k != "parts"})
    s.parts = [_S({"part_name": r["part_name"], "mask": r["mask"]}) for r in obj["parts"].reshape(-1)]
    return s

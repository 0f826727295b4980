"""The DatasetGAN import shared by CoordGAN and LAGM (ganbench.data.datasetgan), on tiny releases the tests make."""

from __future__ import annotations

import zipfile

import numpy as np
import PIL.Image
import pytest
import yaml

from ganbench.data.annotations import check_pair, read_annotations
from ganbench.data.datasetgan import SETS, import_datasetgan
from ganbench.errors import DataError, DownloadError


def _write(root, folder, number, image, mask, suffix=".png"):
    (root / folder).mkdir(parents=True, exist_ok=True)
    PIL.Image.fromarray(image).save(root / folder / f"image_{number}{suffix}")
    np.save(root / folder / f"image_mask{number}.npy", mask)


def _car_frame(value):
    """A 32 x 32 letterboxed car frame: rows 0-3 and 28-31 are the letterbox (label 19, the windshield, so that
    the crop is visible), rows 4-27 the picture, labelled ``value`` in its top half and 0 below."""
    image = np.zeros((32, 32, 3), np.uint8)
    image[4:28] = 200
    mask = np.full((32, 32), 19, np.int64)
    mask[4:16], mask[16:28] = value, 0
    return image, mask


def test_car_import_from_a_zip_pairs_by_number_keeps_the_split_and_wide_crops(tmp_path):
    root = tmp_path / "release"
    for number, value in ((10, 3), (2, 5), (1, 7)):  # lexicographic order 1, 10, 2; numeric 1, 2, 10
        _write(root, "annotation/training_data/car_processed", number, *_car_frame(value))
    _write(root, "annotation/testing_data/car_20_class", 0, *_car_frame(11))
    archive = tmp_path / "datasetgan"
    with zipfile.ZipFile(archive, "w") as z:  # the name the download rule gives a file placed by hand
        for path in sorted(root.rglob("*")):
            z.write(path, path.relative_to(root).as_posix())
    out = tmp_path / "out"
    n = import_datasetgan("datasetgan-car-20", archive, out / "images.zip", out / "annotations.h5", 8)
    assert n == 4
    check_pair(out / "images.zip", out / "annotations.h5")
    a = read_annotations(out / "annotations.h5")
    assert a.is_test.tolist() == [False, False, False, True]
    assert [name.rsplit("/", 1)[1] for name in a.names] == ["image_1.png", "image_2.png", "image_10.png", "image_0.png"]
    assert a.classes == list(SETS["datasetgan-car-20"].classes) and a.classes[19] == "windshield"
    # the crop keeps rows 4..27 of 32: no letterbox label survives; the top half of the picture is the part
    assert not (a.label == 19).any()
    assert a.label[0][:4].tolist() == [[7] * 8] * 4 and a.label[1][:4].tolist() == [[5] * 8] * 4
    assert (a.label[0][4:] == 0).all() and (a.label[3][:4] == 11).all()


def test_face_import_from_a_folder_with_coordgans_renames(tmp_path):
    image = np.full((16, 16, 3), 90, np.uint8)
    mask = np.zeros((16, 16), np.uint8)
    mask[:, 8:] = 33
    for number in (0, 1):
        _write(tmp_path / "d", "our_train/face_processed", number, image, mask, ".jpg")
    _write(tmp_path / "d", "our_test/face_34_class", 5, image, mask)
    out = tmp_path / "out"
    assert import_datasetgan("datasetgan-face-34", tmp_path / "d", out / "i.zip", out / "a.h5", 8) == 3
    a = read_annotations(out / "a.h5")
    assert len(a.classes) == 34 and a.classes[17] == "head***hair" and a.classes[25] == "head***neck"
    assert a.category == "face" and (a.label[:, :, 4:] == 33).all() and (a.label[:, :, :4] == 0).all()


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: np.save(d / "image_mask0.npy", np.zeros((8, 16), int)), r"a 16x8 mask, but its image .* is 16x16"),
        (lambda d: (d / "image_mask1.npy").unlink(), r"image_1\.png has no mask \(\.npy\) with the number 1"),
        (lambda d: np.save(d / "image_mask0.npy", np.full((16, 16), 16)), r"label 16 outside 0\.\.15"),
        (lambda d: (d / "image_x.png").write_bytes(b""), r"image_x\.png: no number at the end of the name"),
    ],
)
def test_bad_releases_fail_in_one_line_and_write_nothing(tmp_path, damage, message):
    root = tmp_path / "release"
    train = root / "training_data" / "cat_processed"
    for number in (0, 1):
        _write(root, "training_data/cat_processed", number, np.zeros((16, 16, 3), np.uint8), np.zeros((16, 16)))
    _write(root, "testing_data/cat_16_class", 0, np.zeros((16, 16, 3), np.uint8), np.zeros((16, 16)))
    damage(train)
    out = tmp_path / "out"
    with pytest.raises(DataError, match=message) as err:
        import_datasetgan("datasetgan-cat-16", root, out / "i.zip", out / "a.h5", 8)
    assert "\n" not in str(err.value)
    assert not out.exists() or not any(out.iterdir())


def test_a_release_without_the_test_folder_names_what_is_missing(tmp_path):
    _write(tmp_path, "training_data/cat_processed", 0, np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8)))
    with pytest.raises(DataError, match=r"no testing_data/cat_16_class/ or our_test/cat_16_class/ inside"):
        import_datasetgan("datasetgan-cat-16", tmp_path, tmp_path / "i.zip", tmp_path / "a.h5", 8)


def test_the_release_not_placed_gives_the_manual_step(tmp_path):
    from ganbench.data.download import download_dataset

    with pytest.raises(DownloadError, match="cannot be downloaded automatically") as err:
        download_dataset("datasetgan", tmp_path)
    msg = str(err.value)
    assert "\n" not in msg and "training_data" in msg and str(tmp_path / "datasetgan") in msg


def test_the_labelled_formats_agree_across_schema_cli_and_library():
    from ganbench.cli.lagm import LABELLED_FORMATS
    from ganbench.config import SCHEMA_PATH
    from ganbench.data.labelled import FORMATS

    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    assert tuple(schema["$defs"]["labelled"]["properties"]["labels"]["enum"]) == FORMATS == LABELLED_FORMATS
    assert set(SETS) <= set(FORMATS)

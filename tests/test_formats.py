"""Dataset containers: folder -> zip -> tfrecord -> zip round-trips, the Dataset API, bad input."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import PIL.Image
import pytest

from ganbench.data.dataset import ImageDataset
from ganbench.data.sources import open_source
from ganbench.data.stylegan_zip import convert_to_tfrecord, convert_to_zip, member_name
from ganbench.data.summary import inspect_dataset
from ganbench.data.tfrecord_io import index_records
from ganbench.errors import DataError


def all_pixels(path) -> np.ndarray:
    src = open_source(path)
    return np.stack([src.read_image(i) for i in range(len(src))])


def test_zip_layout_matches_dataset_tool(image_folder, tmp_path):
    dest = tmp_path / "images.zip"
    assert convert_to_zip(image_folder, dest) == 12
    with zipfile.ZipFile(dest) as z:
        names = z.namelist()
        assert all(info.compress_type == zipfile.ZIP_STORED for info in z.infolist())
        assert json.loads(z.read("dataset.json")) == {"labels": None}
    assert "00000/img00000000.png" in names and "00000/img00000011.png" in names
    assert member_name(1234) == "00001/img00001234.png"


def test_zip_tfrecord_round_trip_is_byte_exact(image_folder, tmp_path):
    zip1, record, zip2 = tmp_path / "a.zip", tmp_path / "a.tfrecord", tmp_path / "b.zip"
    convert_to_zip(image_folder, zip1)
    assert convert_to_tfrecord(zip1, record) == 12
    convert_to_zip(record, zip2)
    original = all_pixels(image_folder)
    np.testing.assert_array_equal(all_pixels(zip1), original)
    np.testing.assert_array_equal(all_pixels(record), original)
    np.testing.assert_array_equal(all_pixels(zip2), original)


def test_tfrecord_is_readable_by_the_tfrecord_package(image_folder, tmp_path):
    from tfrecord.reader import tfrecord_loader

    record = tmp_path / "a.tfrecord"
    convert_to_tfrecord(image_folder, record)
    first = next(iter(tfrecord_loader(str(record), None, {"img": "byte"})))
    np.testing.assert_array_equal(np.frombuffer(first["img"], np.uint8).reshape(16, 16, 3), all_pixels(image_folder)[0])


def test_resolution_and_center_crop(tmp_path):
    folder = tmp_path / "wide"
    folder.mkdir()
    for i, size in enumerate([(40, 20), (30, 50)]):
        PIL.Image.new("RGB", size, (i * 100, 50, 50)).save(folder / f"{i}.png")
    dest = tmp_path / "out.zip"
    convert_to_zip(folder, dest, resolution=8, transform="center-crop")
    assert all_pixels(dest).shape == (2, 8, 8, 3)
    with pytest.raises(DataError, match=r"0\.png: image is 40x20, not square"):
        convert_to_zip(folder, tmp_path / "bad.zip", resolution=8)
    assert not (tmp_path / "bad.zip").exists()


def test_max_images_and_labels(tmp_path, image_folder):
    (image_folder / "dataset.json").write_text(
        json.dumps({"labels": [[name, i % 3] for i, name in enumerate(open_source(image_folder).names)]})
    )
    dest = tmp_path / "l.zip"
    convert_to_zip(image_folder, dest, max_images=5)
    ds = ImageDataset(dest, use_labels=True)
    assert len(ds) == 5 and ds.label_dim == 3
    assert [int(ds[i][1].argmax()) for i in range(5)] == [0, 1, 2, 0, 1]


@pytest.mark.parametrize("container", ["folder", "zip", "tfrecord"])
def test_dataset_api_reads_every_container_alike(container, image_folder, tmp_path):
    path = {"folder": image_folder, "zip": tmp_path / "d.zip", "tfrecord": tmp_path / "d.tfrecord"}[container]
    if container != "folder":
        convert_to_zip(image_folder, tmp_path / "d.zip")
        convert_to_tfrecord(tmp_path / "d.zip", tmp_path / "d.tfrecord")
    ds = ImageDataset(path, xflip=True)
    assert len(ds) == 24 and ds.resolution == 16
    image, label = ds[3]
    assert image.dtype == np.uint8 and image.shape == (3, 16, 16) and label.shape == (0,)
    np.testing.assert_array_equal(ds[12 + 3][0], image[:, :, ::-1])
    np.testing.assert_array_equal(image, all_pixels(image_folder)[3].transpose(2, 0, 1))


def test_dataset_works_with_dataloader_workers(image_folder, tmp_path):
    import torch.utils.data

    convert_to_zip(image_folder, tmp_path / "d.zip")
    loader = torch.utils.data.DataLoader(ImageDataset(tmp_path / "d.zip"), batch_size=4, num_workers=2)
    batches = list(loader)
    assert sum(len(b[0]) for b in batches) == 12 and batches[0][0].dtype == torch.uint8


def test_inspect(image_folder, tmp_path):
    convert_to_zip(image_folder, tmp_path / "d.zip")
    info = inspect_dataset(tmp_path / "d.zip")
    assert info["count"] == 12 and info["resolution"] == [16, 16] and info["channels"] == 3
    assert info["labels"] is None and len(info["sha256"]) == 64


# --- bad input: one line naming the file, nothing written --------------------------------------


def expect_error(source, dest, match, **kwargs):
    with pytest.raises(DataError, match=match) as info:
        convert_to_zip(source, dest, **kwargs)
    assert "\n" not in str(info.value)
    assert not dest.exists()
    assert list(dest.parent.glob(f".{dest.name}*")) == []  # no temporary file left beside it
    return str(info.value)


def test_corrupt_and_truncated_images(image_folder, tmp_path):
    png = image_folder / "a" / "001.png"
    png.write_bytes(png.read_bytes()[:60])
    expect_error(image_folder, tmp_path / "o.zip", r"a/001\.png: cannot decode image")
    png.write_bytes(b"not an image at all")
    expect_error(image_folder, tmp_path / "o.zip", r"a/001\.png: cannot decode image")


def test_mixed_sizes(image_folder, tmp_path):
    PIL.Image.new("RGB", (20, 20)).save(image_folder / "b" / "zzz.png")
    expect_error(image_folder, tmp_path / "o.zip", r"zzz\.png: image is 20x20, others are 16x16")
    assert convert_to_zip(image_folder, tmp_path / "ok.zip", resolution=16) == 13


def test_grayscale_and_opaque_rgba_are_converted_with_a_note(tmp_path):
    folder = tmp_path / "modes"
    folder.mkdir()
    PIL.Image.new("L", (8, 8), 77).save(folder / "gray.png")
    PIL.Image.new("RGBA", (8, 8), (1, 2, 3, 255)).save(folder / "rgba.png")
    with pytest.warns(UserWarning, match="converted 1 L image"):
        convert_to_zip(folder, tmp_path / "o.zip")
    pixels = all_pixels(tmp_path / "o.zip")
    assert pixels[0, 0, 0].tolist() == [77, 77, 77] and pixels[1, 0, 0].tolist() == [1, 2, 3]


def test_transparent_and_16_bit_images_are_refused(tmp_path):
    folder = tmp_path / "modes"
    folder.mkdir()
    PIL.Image.new("RGBA", (8, 8), (1, 2, 3, 10)).save(folder / "see-through.png")
    expect_error(folder, tmp_path / "o.zip", r"see-through\.png: image has transparent pixels")
    (folder / "see-through.png").unlink()
    PIL.Image.fromarray(np.full((8, 8), 40000, np.uint16)).save(folder / "deep.png")
    expect_error(folder, tmp_path / "o.zip", r"deep\.png: I;16 images \(16-bit or float\) are not supported")


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    expect_error(tmp_path / "empty", tmp_path / "o.zip", r"empty: no images found")


def test_truncated_zip(image_folder, tmp_path):
    good = tmp_path / "good.zip"
    convert_to_zip(image_folder, good)
    bad = tmp_path / "bad.zip"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    expect_error(bad, tmp_path / "o.zip", r"bad\.zip: not a readable zip file")


def test_tfrecord_with_bad_crc(image_folder, tmp_path):
    record = tmp_path / "d.tfrecord"
    convert_to_tfrecord(image_folder, record)
    data = bytearray(record.read_bytes())
    data[40] ^= 0xFF  # inside the first record's payload
    record.write_bytes(bytes(data))
    expect_error(record, tmp_path / "o.zip", r"d\.tfrecord: bad data CRC in the record at byte 0")
    data[40] ^= 0xFF
    data[9] ^= 0xFF  # the first record's length CRC
    record.write_bytes(bytes(data))
    expect_error(record, tmp_path / "o.zip", r"d\.tfrecord: bad length CRC in record 0")


def test_truncated_tfrecord(image_folder, tmp_path):
    record = tmp_path / "d.tfrecord"
    convert_to_tfrecord(image_folder, record)
    record.write_bytes(record.read_bytes()[:-10])
    expect_error(record, tmp_path / "o.zip", r"d\.tfrecord: record 11 at byte \d+ is truncated")


def test_missing_inputs(tmp_path):
    from ganbench.data.annotations import read_annotations

    expect_error(tmp_path / "nope", tmp_path / "o.zip", r"nope: file or folder not found")
    with pytest.raises(DataError, match=r"annotations\.h5: annotations file not found"):
        read_annotations(tmp_path / "annotations.h5")


# --- inspect verifies the stored checksums that convert would trip over -------------------------


def _flip(path, offset):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_inspect_verifies_zip_member_crcs(image_folder, tmp_path):
    z = tmp_path / "d.zip"
    convert_to_zip(image_folder, z)
    member = zipfile.ZipFile(z).infolist()[3]
    _flip(z, member.header_offset + 30 + len(member.filename) + 40)  # inside the stored PNG's bytes
    assert inspect_dataset(z)["count"] == 12  # without verification the listing alone looks fine
    with pytest.raises(DataError) as info:
        inspect_dataset(z, verify=True)
    assert str(info.value).startswith(f"{z}:{member.filename}: corrupt zip member (Bad CRC-32")
    assert "\n" not in str(info.value)


def test_inspect_verifies_tfrecord_data_crcs(image_folder, tmp_path):
    record = tmp_path / "d.tfrecord"
    convert_to_tfrecord(image_folder, record)
    assert inspect_dataset(record, verify=True)["count"] == 12  # a good file passes
    offsets = index_records(record)
    _flip(record, offsets[5] + 12 + 30)  # inside record 5's payload: only the data CRC sees it
    assert inspect_dataset(record)["count"] == 12
    with pytest.raises(
        DataError, match=rf"d\.tfrecord: bad data CRC in the record at byte {offsets[5]} \(record 5 of 12\)"
    ):
        inspect_dataset(record, verify=True)

"""COCO-GAN trains from the TFRecords the pipeline writes (research cocogan.md §4.1)."""

import numpy as np
import pytest

from ganbench.data.dataset import ImageDataset
from ganbench.data.sources import open_source
from ganbench.data.tfrecord_io import write_tfrecord
from ganbench.errors import DataError


def _images(shapes):
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (*shape, 3), dtype=np.uint8) for shape in shapes]


def test_a_tfrecord_whose_images_differ_in_size_is_a_one_line_error(tmp_path):
    path = tmp_path / "mixed.tfrecord"
    write_tfrecord(_images([(8, 8), (8, 8), (16, 16)]), path)
    with pytest.raises(DataError, match="images differ in size .record 0 holds 192 bytes, record 2 768") as exc:
        open_source(path)
    assert "\n" not in str(exc.value)


def test_panorama_records_take_their_width_from_the_height(tmp_path):
    path = tmp_path / "pano.tfrecord"
    images = _images([(8, 24), (8, 24)])
    write_tfrecord(images, path)
    data = ImageDataset(path, resolution=(8, 24))
    assert data.image_shape == (3, 8, 24)
    np.testing.assert_array_equal(data[1][0], images[1].transpose(2, 0, 1))
    with pytest.raises(DataError, match="images are 24x8, expected 8x8"):
        ImageDataset(path, resolution=8)  # square images are 8x8: not these


def test_celeba_crops_of_the_official_code():
    from ganbench.data.images import transform_image

    image = np.arange(218 * 178 * 3, dtype=np.int64).reshape(218, 178, 3).astype(np.uint8)
    face = transform_image(image, "a.jpg", None, "celeba-crop")
    np.testing.assert_array_equal(face, image[50:178, 25:153])
    inward = transform_image(image, "a.jpg", None, "celeba-syn-inward")
    assert inward.shape == (128, 128, 3)
    np.testing.assert_array_equal(inward, transform_image(image, "a.jpg", None, "celeba-syn-inward"))  # seeded by name
    assert transform_image(image, "b.jpg", 64, "celeba-syn-outward").shape == (64, 64, 3)


def test_a_panorama_at_its_height_passes_a_resolution_check():
    from ganbench.data.images import transform_image

    pano = np.zeros((16, 48, 3), np.uint8)
    assert transform_image(pano, "p.png", 16, None).shape == (16, 48, 3)
    with pytest.raises(DataError, match="not square"):
        transform_image(pano, "p.png", 8, None)

"""The synthetic benchmark: determinism, ground-truth consistency, variety, errors."""

import numpy as np
import pytest

from ganbench.data.preview import preview_grid
from ganbench.data.synthetic import (
    CLASSES,
    KEYPOINT_CANONICAL,
    KEYPOINT_NAMES,
    SyntheticSample,
    iter_samples,
    render_sample,
    train_test_split,
)
from ganbench.errors import DataError

CATEGORIES = ("face", "car")


def _fields(sample: SyntheticSample):
    return (sample.image, sample.label, sample.coords, sample.keypoints, sample.visible)


def _same(a: SyntheticSample, b: SyntheticSample) -> bool:
    return all(x.dtype == y.dtype and x.tobytes() == y.tobytes() for x, y in zip(_fields(a), _fields(b)))


def test_tables():
    assert CLASSES["face"] == ("background", "skin", "hair", "eye", "brow", "nose", "mouth", "ear")
    assert CLASSES["car"][0] == "background" and len(CLASSES["car"]) >= 7
    for category in CATEGORIES:
        assert len(KEYPOINT_NAMES[category]) >= 10
        assert KEYPOINT_CANONICAL[category].shape == (len(KEYPOINT_NAMES[category]), 2)
        assert np.all(np.abs(KEYPOINT_CANONICAL[category]) <= 1)


@pytest.mark.parametrize("category", CATEGORIES)
@pytest.mark.parametrize("resolution", [8, 32, 48])
def test_shapes_and_dtypes(category, resolution):
    s = render_sample(category, resolution, 0, 0)
    k = len(KEYPOINT_NAMES[category])
    assert s.image.shape == (resolution, resolution, 3) and s.image.dtype == np.uint8
    assert s.label.shape == (resolution, resolution) and s.label.dtype == np.uint8
    assert s.coords.shape == (resolution, resolution, 2) and s.coords.dtype == np.float32
    assert s.keypoints.shape == (k, 2) and s.keypoints.dtype == np.float32
    assert s.visible.shape == (k,) and s.visible.dtype == bool
    assert s.label.max() < len(CLASSES[category])


@pytest.mark.parametrize("category", CATEGORIES)
def test_deterministic(category):
    a = render_sample(category, 32, 7, 3)
    assert _same(a, render_sample(category, 32, 7, 3))
    assert not np.array_equal(a.image, render_sample(category, 32, 8, 3).image)
    assert not np.array_equal(a.image, render_sample(category, 32, 7, 4).image)
    other = "car" if category == "face" else "face"
    assert not np.array_equal(a.image, render_sample(other, 32, 7, 3).image)


@pytest.mark.parametrize("category", CATEGORIES)
def test_sample_does_not_depend_on_count_or_start(category):
    five = list(iter_samples(category, 16, 5, 0))
    assert len(five) == 5
    assert _same(five[3], render_sample(category, 16, 0, 3))
    assert _same(five[3], next(iter_samples(category, 16, 1, 0, start=3)))
    assert _same(five[1], list(iter_samples(category, 16, 2, 0))[1])


@pytest.mark.parametrize("category", CATEGORIES)
def test_same_object_at_two_resolutions(category):
    for index in range(10):
        lo, hi = render_sample(category, 32, 1, index), render_sample(category, 64, 1, index)
        # A 32 px pixel centre is the centre of a 2x2 block of 64 px pixels.
        blocks = hi.coords.reshape(32, 2, 32, 2, 2)
        both = ~np.isnan(lo.coords[..., 0]) & ~np.isnan(blocks).any(axis=(1, 3, 4))
        assert both.sum() > 100
        np.testing.assert_allclose(blocks.mean(axis=(1, 3))[both], lo.coords[both], atol=2e-3)
        label_blocks = hi.label.reshape(32, 2, 32, 2).transpose(0, 2, 1, 3).reshape(32, 32, 4)
        assert (label_blocks == lo.label[..., None]).any(axis=-1).mean() > 0.95
        np.testing.assert_allclose(hi.keypoints, 2 * lo.keypoints, atol=1e-3)
        # Colours are averaged sub-pixel samples: the 2x2 means of the 64 px image match loosely.
        diff = np.abs(hi.image.reshape(32, 2, 32, 2, 3).mean(axis=(1, 3)) - lo.image)
        assert np.median(diff) < 8


def _local_pixel_size(coords, row, col):
    """Largest canonical step from pixel (row, col) to a foreground 4-neighbour."""
    res = coords.shape[0]
    steps = [
        np.linalg.norm(coords[r, c] - coords[row, col])
        for r, c in ((row, col + 1), (row + 1, col), (row, col - 1), (row - 1, col))
        if 0 <= r < res and 0 <= c < res and not np.isnan(coords[r, c, 0])
    ]
    return max(steps)


@pytest.mark.parametrize("category", CATEGORIES)
@pytest.mark.parametrize("resolution", [32, 64, 200])
def test_keypoints_match_coordinates(category, resolution):
    canonical = KEYPOINT_CANONICAL[category]
    count = 30 if resolution < 100 else 4
    visible = 0
    for s in iter_samples(category, resolution, count, seed=2):
        inside = np.all((s.keypoints >= 0) & (s.keypoints < resolution), axis=1)
        assert not np.any(s.visible & ~inside)
        for k in np.flatnonzero(s.visible):
            col, row = np.floor(s.keypoints[k]).astype(int)
            assert s.label[row, col] != 0
            # The keypoint is within half a pixel of the centre in x and in y: at most one
            # pixel step of canonical distance away (first order).
            error = np.linalg.norm(s.coords[row, col] - canonical[k])
            assert error <= 1.05 * _local_pixel_size(s.coords, row, col), (k, error)
        visible += s.visible.sum()
    assert visible > 0.9 * count * len(canonical)


@pytest.mark.parametrize("category", CATEGORIES)
def test_every_class_is_common(category):
    labels = np.stack([s.label for s in iter_samples(category, 64, 30, seed=3)])
    for c in range(1, len(CLASSES[category])):
        share = np.mean(np.any(labels == c, axis=(1, 2)))
        assert share >= 0.8, (CLASSES[category][c], share)


@pytest.mark.parametrize("category", CATEGORIES)
def test_coordinates_are_defined_exactly_on_the_object(category):
    for s in iter_samples(category, 32, 20, seed=4):
        background = s.label == 0
        assert np.array_equal(np.isnan(s.coords[..., 0]), background)
        assert np.array_equal(np.isnan(s.coords[..., 1]), background)
        assert np.all(np.abs(s.coords[~background]) <= 1)
        # The object is mostly inside the frame and takes a good part of it.
        border = np.concatenate([s.label[0], s.label[-1], s.label[:, 0], s.label[:, -1]])
        assert np.mean(border > 0) < 0.15
        assert 0.15 < np.mean(~background) < 0.8


@pytest.mark.parametrize("category", CATEGORIES)
def test_images_vary(category):
    images = np.stack([s.image for s in iter_samples(category, 32, 40, seed=5)]).astype(float)
    assert images.std(axis=0).mean() > 30
    assert len({s.tobytes() for s in images}) == 40
    # Not noise: neighbouring pixels are strongly correlated.
    dx = np.abs(np.diff(images, axis=2)).mean()
    assert dx < 0.5 * images.std()


def test_train_test_split():
    a = train_test_split(1000, 0.1, seed=0)
    assert a.dtype == bool and a.shape == (1000,) and a.sum() == 100
    assert np.array_equal(a, train_test_split(1000, 0.1, seed=0))
    assert not np.array_equal(a, train_test_split(1000, 0.1, seed=1))
    assert train_test_split(10, 0.0, seed=0).sum() == 0 and train_test_split(10, 1.0, seed=0).all()
    with pytest.raises(DataError, match="1.5"):
        train_test_split(10, 1.5, seed=0)


@pytest.mark.parametrize("category", CATEGORIES)
def test_preview_grid(category):
    samples = list(iter_samples(category, 16, 3, seed=0))
    stack = {
        f: np.stack([getattr(s, f) for s in samples]) for f in ("image", "label", "coords", "keypoints", "visible")
    }
    grid = preview_grid(stack.pop("image"), **stack, min_tile=16)
    assert grid.dtype == np.uint8 and grid.shape == (3 * 18 + 2, 3 * 18 + 2, 3)
    assert (grid[2:18, 2:18] == samples[0].image).all()


@pytest.mark.parametrize("resolution", [0, 7, 1025, 32.0, "32"])
def test_bad_resolution(resolution):
    with pytest.raises(DataError, match=repr(resolution)):
        render_sample("face", resolution, 0, 0)
    with pytest.raises(DataError):
        iter_samples("face", resolution, 3, 0)


def test_bad_category():
    with pytest.raises(DataError, match="'horse'"):
        render_sample("horse", 32, 0, 0)
    with pytest.raises(DataError, match="'horse'"):
        iter_samples("horse", 32, 3, 0)


def test_rebuilt_dataset_zip_is_byte_identical(tmp_path):
    """Zip entries carry no write time, so a rebuilt dataset keeps its sha256 (which statistics and results record)."""
    import time

    from ganbench.data.build import make_synthetic_dataset
    from ganbench.fileio import sha256_file

    digests = []
    for run in ("a", "b"):
        make_synthetic_dataset("face", 16, 6, 0, 0.1, tmp_path / run / "images.zip", tmp_path / run / "annotations.h5")
        digests.append(sha256_file(tmp_path / run / "images.zip"))
        time.sleep(2.1)  # zip times have a 2-second resolution: make a timestamp show if one were written
    assert digests[0] == digests[1]


def test_annotations_record_the_hash_of_their_images(tmp_path):
    import h5py

    from ganbench.data.annotations import check_pair, read_annotations
    from ganbench.data.build import make_synthetic_dataset
    from ganbench.fileio import sha256_file

    for name, category in (("faces", "face"), ("cars", "car")):
        make_synthetic_dataset(
            category, 16, 4, 0, 0.25, tmp_path / name / "images.zip", tmp_path / name / "annotations.h5"
        )
    faces, cars = tmp_path / "faces", tmp_path / "cars"
    assert read_annotations(faces / "annotations.h5").images_sha256 == sha256_file(faces / "images.zip")
    check_pair(faces / "images.zip", faces / "annotations.h5")
    with pytest.raises(DataError) as info:
        check_pair(faces / "images.zip", cars / "annotations.h5")  # swapped: images of one set, masks of another
    message = str(info.value)
    assert str(faces / "images.zip") in message and str(cars / "annotations.h5") in message and "\n" not in message
    # an older file without the hash is not refused, but the warning says the pair is unchecked
    with h5py.File(cars / "annotations.h5", "a") as f:
        del f.attrs["images_sha256"]
    with pytest.warns(UserWarning, match="records no images hash"):
        check_pair(faces / "images.zip", cars / "annotations.h5")
    assert read_annotations(cars / "annotations.h5").images_sha256 is None


def test_probe_refuses_swapped_annotations_before_training(tmp_path, monkeypatch):
    from ganbench.data.build import make_synthetic_dataset
    from ganbench.metrics import probe

    for name, category in (("faces", "face"), ("cars", "car")):
        make_synthetic_dataset(
            category, 16, 4, 0, 0.25, tmp_path / name / "images.zip", tmp_path / name / "annotations.h5"
        )
    monkeypatch.setattr(probe, "read_annotations", lambda *a, **k: pytest.fail("read before the pair was checked"))
    with pytest.raises(DataError, match="describes other images than"):
        probe.train_probe(
            [tmp_path / "faces" / "images.zip"], [tmp_path / "cars" / "annotations.h5"], tmp_path / "probe.pt", steps=1
        )
    assert not (tmp_path / "probe.pt").exists()


@pytest.mark.parametrize("count, seed", [(0, 0), (-3, 0), (4, -1)])
def test_bad_count_or_seed_creates_nothing(tmp_path, count, seed):
    from ganbench.data.build import make_synthetic_dataset

    with pytest.raises(DataError, match="synthetic (count|seed)"):
        make_synthetic_dataset(
            "face", 16, count, seed, 0.1, tmp_path / "d" / "images.zip", tmp_path / "d" / "annotations.h5"
        )
    assert list(tmp_path.iterdir()) == []

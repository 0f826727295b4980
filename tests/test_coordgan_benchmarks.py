"""CoordGAN's label propagation on the real benchmarks (research coordgan.md §4.2): eval_corr.py's train order,
the celebA-7 import, the evaluation and its configuration, on small sets the tests make."""

from __future__ import annotations

import copy
import json
import types

import numpy as np
import PIL.Image
import pytest
from ganbench.data.annotations import read_annotations
from ganbench.errors import ConfigError
from ganbench.metrics.correspondence import BENCHMARKS, coordgan_train_order
from ganbench.nets.coordgan import canonical_grid


def test_the_train_list_is_jpg_then_png_each_in_name_order():
    names = ["t/image_10.jpg", "t/image_1.jpg", "t/image_2.png", "t/image_0.jpg", "t/image_11.png", "t/image_12.jpg"]
    order = [names[i].rsplit("/", 1)[1] for i in coordgan_train_order(names)]
    assert order == ["image_0.jpg", "image_1.jpg", "image_10.jpg", "image_12.jpg", "image_11.png", "image_2.png"]


def test_the_config_formats_name_registered_benchmarks():
    from ganbench.config import PROPAGATION_BENCHMARKS
    from ganbench.data.labelled import FORMATS

    assert set(PROPAGATION_BENCHMARKS) <= set(FORMATS)
    assert set(PROPAGATION_BENCHMARKS.values()) == set(BENCHMARKS)
    from ganbench.cli.coordgan import BENCHMARK_NAMES

    assert set(BENCHMARK_NAMES) == set(BENCHMARKS)


def _celeba(root, ids, parts):
    (root / "CelebA-HQ-img").mkdir(parents=True)
    for i in ids:
        PIL.Image.fromarray(np.full((16, 16, 3), i % 251, np.uint8)).save(root / "CelebA-HQ-img" / f"{i}.jpg")
    for i, layers in parts.items():
        folder = root / "CelebAMask-HQ-mask-anno" / str(i // 2000)
        folder.mkdir(parents=True, exist_ok=True)
        for name, rows in layers:
            layer = np.zeros((512, 512), np.uint8)
            layer[rows] = 255
            PIL.Image.fromarray(layer).save(folder / f"{i:05d}_{name}.png")


def test_celeba7_import_takes_the_first_200_names_and_paints_seven_classes(tmp_path):
    from ganbench.data.labelled import CELEBA_7, import_labelled

    root = tmp_path / "CelebAMask-HQ"
    # ids 0-249: the lexicographic first 200 are 0, 1, 10, 100, 101, ..., 109, 11, 110, ...
    parts = {
        100: [("skin", slice(0, 256)), ("hair", slice(0, 64)), ("u_lip", slice(128, 160)), ("neck", slice(256, 320))]
    }
    _celeba(root, range(250), parts)
    out = tmp_path / "out"
    n = import_labelled("celebamask-19to7", tmp_path, out / "images.zip", out / "annotations.h5", 16)
    ann = read_annotations(out / "annotations.h5")
    expected = sorted(f"{i}.jpg" for i in range(250))[:200]
    assert n == 200 and ann.names == expected and not ann.is_test.any()
    assert ann.names[1] == "1.jpg" and ann.names[3] == "100.jpg"  # celebA-7's references 1 and 3
    assert ann.classes == list(CELEBA_7)
    column = [CELEBA_7[c] for c in ann.label[3][:, 0]]  # 512 rows -> 16: 32 per row
    # hair is not painted (the face stays face), lips are mouth, neck stays background
    assert column[:4] == ["face"] * 4 and column[4] == "mouth" and column[8] == "background"


def _labelled_set(tmp_path):
    """A car-20 set of 8 x 6 (4:3, kept whole) frames, squashed to 8 x 8: train image_0/1/10/11/12.jpg (the
    references), image_2.jpg, image_3.png, one test image. Mask A: class 1 on top, 2 below; image_2.jpg has mask B
    (class 3 everywhere)."""
    from ganbench.data.datasetgan import import_datasetgan

    a, b = np.ones((6, 8), np.int64), np.full((6, 8), 3, np.int64)
    a[3:] = 2
    image = np.zeros((6, 8, 3), np.uint8)

    def write(folder, number, mask, suffix):
        (tmp_path / "rel" / folder).mkdir(parents=True, exist_ok=True)
        PIL.Image.fromarray(image + number).save(tmp_path / "rel" / folder / f"image_{number}{suffix}")
        np.save(tmp_path / "rel" / folder / f"image_mask{number}.npy", mask)

    for number in (0, 1, 10, 11, 12):
        write("our_train/car_processed", number, a, ".jpg")
    write("our_train/car_processed", 2, b, ".jpg")
    write("our_train/car_processed", 3, a, ".png")
    write("our_test/car_20_class", 5, a, ".png")
    out = tmp_path / "set"
    import_datasetgan("datasetgan-car-20", tmp_path / "rel", out / "images.zip", out / "annotations.h5", 8)
    return out


def test_label_propagation_on_a_benchmark_follows_its_rule(tmp_path, monkeypatch):
    from ganbench.metrics import correspondence_eval

    data = _labelled_set(tmp_path)
    ann = read_annotations(data / "annotations.h5")
    assert ann.label.shape[1:] == (8, 8) and (ann.label[0][:4] == 1).all() and (ann.label[0][4:] == 2).all()
    # a stand-in encoder whose coordinates are the canonical grid: labels go pixel to pixel
    encoder = types.SimpleNamespace(
        resolution=8,
        G=types.SimpleNamespace(coord_resolution=8),
        coordinates=lambda images: canonical_grid(len(images), 8),
    )
    ckpt = {"method": "coordgan_encoder", "experiment": {"name": "enc"}, "nimg": 1000}
    (tmp_path / "enc.pt").write_bytes(b"a checkpoint")
    monkeypatch.setattr("ganbench.train.checkpoint.load_checkpoint", lambda path, **kw: ckpt)
    monkeypatch.setattr("ganbench.train.inputs.restore_method", lambda c, path, device="cpu": encoder)
    scores = correspondence_eval.evaluate_label_propagation(
        tmp_path / "enc.pt", data / "images.zip", data / "annotations.h5", "datasetgan-car-20", tmp_path / "out"
    )
    # references: image_0, 1, 10, 11, 12 (jpg by name); queries: image_2.jpg (mask B), image_3.png, the test image.
    # Per reference, class 1 and 2: inter 2 x 32, union 3 x 32 -> 2/3; class 3: 0; the other 16 classes: 0.
    assert scores["miou"] == pytest.approx(100 * (4 / 3) / 19)
    record = json.loads((tmp_path / "out" / "label_prop_miou.json").read_text())
    assert [n.rsplit("/", 1)[1] for n in record["reference_names"]] == [f"image_{i}.jpg" for i in (0, 1, 10, 11, 12)]
    assert record["protocol"]["queries"] == 3 and record["protocol"]["classes"] == 19
    with pytest.raises(Exception, match="20 classes, benchmark datasetgan-face-34 has 34"):
        correspondence_eval.evaluate_label_propagation(
            tmp_path / "enc.pt", data / "images.zip", data / "annotations.h5", "datasetgan-face-34", tmp_path / "x"
        )
    assert not (tmp_path / "x").exists()


def _paper():
    from ganbench.config import load_config

    return copy.deepcopy(load_config("config/paper.yaml"))


def test_the_paper_grid_scores_the_encoders_on_the_three_benchmarks():
    from ganbench.metrics import plan

    config = _paper()
    files = [f for e in config["experiments"] for f in plan.eval_files(config, e) if "propagation-" in f]
    assert sorted(files) == [
        "results/eval/coordgan_encoder-celebamask-hq-128/propagation-celebamask-hq-7/label_prop_miou.json",
        "results/eval/coordgan_encoder-celebamask-hq-128/propagation-datasetgan-face-34/label_prop_miou.json",
        "results/eval/coordgan_encoder-stanford-cars-128/propagation-datasetgan-car-20/label_prop_miou.json",
    ]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"coordgan_encoder-celeba": ["datasetgan-face-34"]}, "unknown experiment"),
        ({"coordgan-celebamask-hq-128": ["datasetgan-face-34"]}, "a coordgan experiment; only an encoder"),
        ({"coordgan_encoder-celebamask-hq-128": ["datasetgan-cat-16"]}, "'datasetgan-cat-16' is not a labelled"),
        ({"coordgan_encoder-celebamask-hq-128": ["datasetgan-face"]}, "unknown dataset 'datasetgan-face'"),
    ],
)
def test_bad_label_propagation_settings_fail_at_validation(change, message):
    from ganbench.config import validate_config

    config = _paper()
    config["metrics"]["coordgan"]["label_propagation"] = change
    with pytest.raises(ConfigError, match=message):
        validate_config(config)

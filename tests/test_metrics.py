"""Metrics: closed-form FID/KID, parity with torch-fidelity, reference statistics, extractors, the probe,
and the evaluation of a checkpoint. Nothing here touches the network."""

from __future__ import annotations

import json

import numpy as np
import PIL.Image
import pytest
import torch
import torch_fidelity
import torch_fidelity.feature_extractor_inceptionv3 as fidelity_inception

from ganbench.config import validate_config
from ganbench.data.build import make_synthetic_dataset
from ganbench.data.sources import open_source
from ganbench.data.stylegan_zip import write_images_zip
from ganbench.errors import ConfigError, GanbenchError
from ganbench.metrics import gan_metrics
from ganbench.fileio import sha256_file
from ganbench.metrics.extractors import MissingWeightsError, load_extractor
from ganbench.metrics.gan_metrics import (
    evaluate_checkpoint,
    evaluate_floor,
    fid_from_features,
    fid_from_moments,
    kid_from_features,
    metrics_from_features,
    pr_from_features,
)
from ganbench.metrics.protocols import derive_protocol, get_protocol
from ganbench.metrics.probe import train_probe
from ganbench.metrics.stats import compute_stats, dataset_sha256, iter_batches, load_stats, moments, stale_reason
from ganbench.train.loop import training_loop


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The CI machine's two cores are shared: one thread is faster than two contending ones."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def faces32(tmp_path_factory):
    out = tmp_path_factory.mktemp("faces32")
    make_synthetic_dataset("face", 32, 240, 0, 0.25, out / "images.zip", out / "annotations.h5")
    return out


@pytest.fixture(scope="module")
def probe(faces32, tmp_path_factory):
    path = tmp_path_factory.mktemp("probe") / "probe.pt"
    report = train_probe([faces32 / "images.zip"], [faces32 / "annotations.h5"], path, seed=0, steps=150)
    return path, report


def gaussian(n, d, mean=0.0, scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.standard_normal((n, d)) * scale + mean).float()


# --- FID, KID, precision/recall on features with known answers -------------------------------------


def test_fid_of_gaussians_matches_the_closed_form():
    d = 16
    x = gaussian(20000, d, seed=0)
    m = np.linspace(-1, 1, d)
    # FID(N(0, I), N(m, s^2 I)) = |m|^2 + d (1 - s)^2
    assert fid_from_features(x, gaussian(20000, d, mean=m, seed=1)) == pytest.approx(m @ m, abs=0.1)
    assert fid_from_features(x, gaussian(20000, d, scale=2.0, seed=2)) == pytest.approx(d, abs=0.3)
    s = moments(x)
    assert abs(fid_from_moments(s["mu"], s["sigma"], s["mu"], s["sigma"])) < 1e-6


def _poly_kernel_mean(a, b):
    """E[(x.y / d + 1)^3] for independent x ~ N(a, I), y ~ N(b, I), from the cumulants of x.y."""
    d = len(a)
    m1, m2, m3 = a * b, (1 + a**2) * (1 + b**2), (a**3 + 3 * a) * (b**3 + 3 * b)
    k1, k2, k3 = m1.sum(), (m2 - m1**2).sum(), (m3 - 3 * m2 * m1 + 2 * m1**3).sum()
    s1, s2, s3 = k1, k2 + k1**2, k3 + 3 * k2 * k1 + k1**3
    return 1 + 3 * s1 / d + 3 * s2 / d**2 + s3 / d**3


def test_kid_of_gaussians_matches_the_closed_form():
    d = 16
    a, b = np.zeros(d), np.full(d, 0.5)
    true = _poly_kernel_mean(a, a) + _poly_kernel_mean(b, b) - 2 * _poly_kernel_mean(a, b)  # MMD^2, cubic kernel
    x, y = gaussian(4000, d, a, seed=0), gaussian(4000, d, b, seed=1)
    kid = kid_from_features(x, y, subsets=50, subset_size=1000)
    assert kid["value"] == pytest.approx(true, rel=0.1) and kid["std"] > 0  # 4000 samples: ~4% noise
    same = kid_from_features(x, gaussian(4000, d, a, seed=2), subsets=50, subset_size=1000)
    assert abs(same["value"]) < 0.01
    # fewer samples than the subset size: the subset shrinks to the smaller set (StyleGAN's rule)
    assert kid_from_features(x[:50], y, subsets=5)["subset_size"] == 50


def test_precision_and_recall_separate_quality_from_coverage():
    d = 8
    real = gaussian(2000, d, seed=0)
    same = pr_from_features(gaussian(2000, d, seed=1), real)
    assert same["precision"] > 0.8 and same["recall"] > 0.8
    collapsed = pr_from_features(gaussian(2000, d, scale=0.1, seed=2), real)  # one mode, inside the data
    assert collapsed["precision"] > 0.9 and collapsed["recall"] < 0.1
    far = pr_from_features(gaussian(2000, d, mean=20.0, seed=3), real)
    assert far["precision"] == 0 and far["recall"] == 0


# --- parity with torch-fidelity's own pipeline ---------------------------------------------------


def _write_folder(folder, images):
    folder.mkdir()
    for i, image in enumerate(images):
        PIL.Image.fromarray(image).save(folder / f"{i:04d}.png")


def test_metrics_equal_torch_fidelity_calculate_metrics(probe, faces32, tmp_path):
    """Our layer (stats file + features) against torch-fidelity's end-to-end pipeline on two folders,
    with the probe registered in torch-fidelity as a feature extractor."""
    faces = open_source(faces32 / "images.zip")
    real = [faces.read_image(i) for i in range(80)]
    fake = [np.ascontiguousarray(faces.read_image(i)[:, :, ::-1]) for i in range(80, 150)]  # RGB -> BGR
    _write_folder(tmp_path / "real", real)
    _write_folder(tmp_path / "fake", fake)
    extractor = load_extractor("probe", probe[0])

    compute_stats(tmp_path / "real", extractor, tmp_path / "real.h5", save_features=True)
    stats = load_stats(tmp_path / "real.h5")
    fake_features = torch.cat([extractor(b) for b in iter_batches(open_source(tmp_path / "fake"), 70, 64)])
    ours = metrics_from_features(fake_features, stats, kid_subsets=20, kid_subset_size=50)

    theirs = torch_fidelity.calculate_metrics(
        input1=str(tmp_path / "fake"),
        input2=str(tmp_path / "real"),
        fid=True,
        kid=True,
        prc=True,
        kid_subsets=20,
        kid_subset_size=50,
        cuda=False,
        cache=False,
        save_cpu_ram=True,
        verbose=False,
        **extractor.fidelity_kwargs,
    )
    assert ours["fid"]["value"] > 1e-2 and ours["kid"]["value"] > 1e-3  # not a comparison of zeros
    assert ours["fid"]["value"] == pytest.approx(theirs["frechet_inception_distance"], rel=1e-5)
    assert ours["kid"]["value"] == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-4)
    assert ours["kid"]["std"] == pytest.approx(theirs["kernel_inception_distance_std"], rel=1e-3)
    assert ours["precision"]["value"] == pytest.approx(theirs["precision"], abs=1e-6)
    assert ours["recall"]["value"] == pytest.approx(theirs["recall"], abs=1e-6)


# --- reference statistics --------------------------------------------------------------------------


def test_stats_file_contents_and_first_n(probe, faces32, tmp_path):
    extractor = load_extractor("probe", probe[0])
    data = faces32 / "images.zip"
    info = compute_stats(data, extractor, tmp_path / "first.h5", max_items=100, batch=32)
    first = load_stats(tmp_path / "first.h5")
    assert first.count == 100 and first.reference == "first-100" and first.features is None
    assert first.mu.dtype == first.sigma.dtype == np.float64 and first.sigma.shape == (256, 256)
    assert info["dataset_sha256"] == sha256_file(data) == first.attrs["dataset_sha256"]
    assert first.attrs["weights_sha256"] == sha256_file(probe[0]) and first.attrs["extractor"] == "probe"
    assert set(first.attrs["versions"]) == {"torch", "torch-fidelity", "ganbench"}
    assert first.attrs["resolution"] == 32 and first.attrs["statskey"] == "probe-first100"
    compute_stats(data, extractor, tmp_path / "full.h5", save_features=True)
    full = load_stats(tmp_path / "full.h5")
    assert full.count == 240 and full.reference == "full" and full.features.shape == (240, 256)
    assert full.attrs["statskey"] == "probe" == get_protocol("probe2k_full").statskey
    head = moments(torch.from_numpy(full.features[:100]))  # "first N" is the first N in dataset order
    np.testing.assert_allclose(head["mu"], first.mu, rtol=1e-5, atol=1e-6)


def test_changing_one_image_makes_the_stats_stale(probe, tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6, 16, 16, 3), dtype=np.uint8)
    write_images_zip(images, tmp_path / "a.zip")
    extractor = load_extractor("probe", probe[0])
    compute_stats(tmp_path / "a.zip", extractor, tmp_path / "a.h5")
    assert stale_reason(tmp_path / "a.h5", tmp_path / "a.zip", extractor) is None
    before = dataset_sha256(tmp_path / "a.zip")
    images[3, 5, 7, 0] ^= 1  # one bit of one pixel
    write_images_zip(images, tmp_path / "a.zip")
    assert dataset_sha256(tmp_path / "a.zip") != before
    assert "changed" in stale_reason(tmp_path / "a.h5", tmp_path / "a.zip", extractor)


def test_folder_digest_follows_content(tmp_path, image_folder):
    before = dataset_sha256(image_folder)
    victim = sorted(image_folder.rglob("*.png"))[0]
    pixels = np.array(PIL.Image.open(victim))
    pixels[0, 0, 0] ^= 1
    PIL.Image.fromarray(pixels).save(victim)
    assert dataset_sha256(image_folder) != before


# --- extractors -------------------------------------------------------------------------------------


def test_missing_inception_weights_is_one_line_naming_path_and_rule(tmp_path):
    path = tmp_path / "weights" / "inception.pth"
    with pytest.raises(MissingWeightsError) as info:
        load_extractor("inception-v3-compat", path)
    message = str(info.value)
    assert isinstance(info.value, GanbenchError) and "\n" not in message
    assert str(path) in message and "download_weights" in message and "config/weights.yaml" in message
    assert "inception-v3-compat" in message
    with pytest.raises(GanbenchError, match="unknown feature extractor"):
        load_extractor("inception", path)


def test_inception_loads_a_local_weights_file_without_network(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("tried to download the Inception weights")

    # A randomly initialised network saved in the real file's format (the real weights are not offline).
    with monkeypatch.context() as patch:
        patch.setattr(fidelity_inception, "load_state_dict_from_url", lambda *a, **k: None)
        patch.setattr(fidelity_inception.FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd: None)
        torch.manual_seed(0)
        random_net = fidelity_inception.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    torch.save(random_net.state_dict(), tmp_path / "inception.pth")
    monkeypatch.setattr(fidelity_inception, "load_state_dict_from_url", no_network)
    extractor = load_extractor("inception-v3-compat", tmp_path / "inception.pth")
    assert extractor.feature_dim == 2048 and extractor.weights_sha256 == sha256_file(tmp_path / "inception.pth")
    features = extractor(torch.randint(0, 256, (2, 3, 24, 24), dtype=torch.uint8))
    assert features.shape == (2, 2048) and features.dtype == torch.float32 and torch.isfinite(features).all()
    with pytest.raises(GanbenchError, match="uint8"):
        extractor(torch.zeros(1, 3, 8, 8))


def test_probe_trains_to_a_sane_test_accuracy(probe):
    path, report = probe
    test = report["test"]
    assert report["train_images"] == 180 and report["test_images"] == 60
    # ~65% of the pixels are background: the part head must do much better than predicting it everywhere
    assert test["pixel_accuracy"] > 0.8 and test["miou"] > 0.2, test
    assert report["weights_sha256"] == sha256_file(path)
    extractor = load_extractor("probe", path)
    assert extractor.feature_dim == 256
    # it resizes: 64 px and 32 px inputs both work
    assert extractor(torch.zeros(3, 3, 64, 64, dtype=torch.uint8)).shape == (3, 256)


def test_probe_training_is_deterministic(faces32, tmp_path):
    args = ([faces32 / "images.zip"], [faces32 / "annotations.h5"])
    a = train_probe(*args, tmp_path / "a.pt", seed=3, steps=4)
    b = train_probe(*args, tmp_path / "b.pt", seed=3, steps=4)
    c = train_probe(*args, tmp_path / "c.pt", seed=4, steps=4)
    assert a["weights_sha256"] == b["weights_sha256"] != c["weights_sha256"]
    assert a["data_sha256"][0]["images"] == sha256_file(faces32 / "images.zip")


def test_probe_features_see_colour_and_blur(probe, faces32):
    extractor = load_extractor("probe", probe[0])
    x = torch.cat(list(iter_batches(open_source(faces32 / "images.zip"), 240, 120)))
    a, b = extractor(x[:120]), x[120:]
    base = fid_from_features(a, extractor(b))
    assert fid_from_features(a, extractor(b.flip(1))) > 20 * base  # RGB -> BGR
    blurred = torch.nn.functional.avg_pool2d(b.float(), 3, 1, 1).round().to(torch.uint8)
    assert fid_from_features(a, extractor(blurred)) > 2 * base


# --- evaluating a checkpoint ----------------------------------------------------------------------


def test_evaluate_checkpoint_writes_one_json_per_metric(probe, tmp_path, monkeypatch):
    monkeypatch.setenv("GANBENCH_OPS", "ref")
    make_synthetic_dataset("face", 16, 64, 0, 0.1, tmp_path / "images.zip", tmp_path / "annotations.h5")
    options = {
        "z_dim": 32,
        "w_dim": 32,
        "mapping_layers": 2,
        "channel_base": 256,
        "channel_max": 32,
        "r1_gamma": 1.0,
        "pl_weight": 0,
        "augment": "none",
    }
    config = {
        "datasets": {"faces": {"source": "synthetic", "category": "face", "count": 64}},
        "experiments": [
            {
                "name": "tiny",
                "method": "stylegan2",
                "dataset": "faces",
                "resolution": 16,
                "batch": 8,
                "kimg": 0.016,
                "snapshot_kimg": 1,
                "tick_kimg": 0.008,
                "workers": 0,
                "options": options,
            }
        ],
    }
    final = training_loop(
        validate_config(config)["experiments"][0], tmp_path / "images.zip", tmp_path / "run", device="cpu"
    )
    extractor = load_extractor("probe", probe[0])
    compute_stats(tmp_path / "images.zip", extractor, tmp_path / "stats.h5", save_features=True)

    out = tmp_path / "eval"
    protocol = derive_protocol(
        "probe2k_full", "test40", num_gen=40, seed=100, truncation=0.7, kid_subsets=10, kid_subset_size=32
    )
    records = evaluate_checkpoint(final, tmp_path / "stats.h5", extractor, protocol, out)
    assert sorted(p.name for p in out.iterdir()) == ["fid.json", "kid.json", "precision.json", "recall.json"]
    fid = json.loads((out / "fid.json").read_text())
    assert fid == json.loads(json.dumps(records["fid"])) and np.isfinite(fid["value"]) and fid["value"] > 0
    assert fid["protocol"]["name"] == "test40" and fid["protocol"]["resolution"] == 16
    assert fid["protocol"]["num_gen"] == 40 and fid["protocol"]["num_real"] == 64
    assert fid["protocol"]["reference"] == "full" and fid["protocol"]["extractor"] == "probe"
    assert fid["protocol"]["truncation"] == 0.7 and fid["protocol"]["seeds"] == {"start": 100, "count": 40}
    assert fid["inputs"]["checkpoint_sha256"] == sha256_file(final)
    assert fid["inputs"]["dataset_sha256"] == sha256_file(tmp_path / "images.zip")
    assert fid["inputs"]["weights_sha256"] == sha256_file(probe[0])
    kid = json.loads((out / "kid.json").read_text())
    assert {"value", "std"} <= kid.keys() and kid["protocol"]["subset_size"] == 32
    for name in ("precision", "recall"):
        doc = json.loads((out / f"{name}.json").read_text())
        assert doc["metric"] == name and 0 <= doc["value"] <= 1 and doc["protocol"]["k"] == 3
    # same seeds, same numbers
    again = evaluate_checkpoint(final, tmp_path / "stats.h5", extractor, protocol, tmp_path / "again", metrics=("fid",))
    assert again["fid"]["value"] == pytest.approx(fid["value"], rel=1e-9)

    # refusals, each before any image is generated and without writing anything
    def no_generation(*args, **kwargs):
        raise AssertionError("images were generated")

    monkeypatch.setattr(gan_metrics, "generated_features", no_generation)
    make_synthetic_dataset("face", 32, 8, 0, 0.1, tmp_path / "images32.zip", tmp_path / "annotations32.h5")
    compute_stats(tmp_path / "images32.zip", extractor, tmp_path / "stats32.h5", save_features=True)
    refused = tmp_path / "refused"
    with pytest.raises(GanbenchError, match=r"stats32.h5: statistics of 32 px images, but .*final.pt renders 16 px"):
        evaluate_checkpoint(final, tmp_path / "stats32.h5", extractor, protocol, refused)
    compute_stats(tmp_path / "images.zip", extractor, tmp_path / "first32.h5", max_items=32, save_features=True)
    with pytest.raises(
        GanbenchError,
        match=r"first32.h5: statistics are for 'probe-first32', but protocol test40 "
        r"needs 'probe' \(extractor probe, reals full\)",
    ):
        evaluate_checkpoint(final, tmp_path / "first32.h5", extractor, protocol, refused)
    with pytest.raises(GanbenchError, match=r"protocol fid50k_full measures with inception-v3-compat, not probe"):
        evaluate_checkpoint(final, tmp_path / "stats.h5", extractor, get_protocol("fid50k_full"), refused)
    with pytest.raises(ConfigError, match=r"truncation: -0.5 is negative"):
        derive_protocol(protocol, "neg", truncation=-0.5)
    assert not refused.exists()

    # the floor: the protocol's metrics between the even and odd halves of the real features
    floor = evaluate_floor(tmp_path / "stats.h5", protocol, tmp_path / "floor")
    stats = load_stats(tmp_path / "stats.h5")
    assert floor["fid"]["value"] == pytest.approx(fid_from_features(stats.features[0::2], stats.features[1::2]))
    doc = json.loads((tmp_path / "floor" / "fid.json").read_text())
    assert doc["protocol"]["name"] == "test40" and (doc["protocol"]["num_a"], doc["protocol"]["num_b"]) == (32, 32)
    assert sorted(p.name for p in (tmp_path / "floor").iterdir()) == [
        "fid.json",
        "kid.json",
        "precision.json",
        "recall.json",
    ]
    assert floor["fid"]["value"] < fid["value"]  # two halves of the data are closer than 16 kimg of training


def test_evaluate_refuses_mismatched_or_featureless_stats(probe, faces32, tmp_path):
    extractor = load_extractor("probe", probe[0])
    compute_stats(faces32 / "images.zip", extractor, tmp_path / "moments.h5", max_items=20)
    stats = load_stats(tmp_path / "moments.h5")
    with pytest.raises(GanbenchError, match="save_features"):
        metrics_from_features(torch.zeros(20, 256), stats, metrics=("fid", "kid"))
    stats.attrs["weights_sha256"] = "0" * 64
    with pytest.raises(GanbenchError, match="recompute"):
        stats.check_extractor(extractor)

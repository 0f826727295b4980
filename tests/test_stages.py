"""Stages that consume other stages: the catalog's contract, inputs, init_from, frozen parts, resume keys."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import json
import re
import sys

import numpy as np
import pytest
import torch

from ganbench.config import experiment_order, input_files, validate_config
from ganbench.data.annotations import read_annotations
from ganbench.data.build import make_synthetic_dataset
from ganbench.errors import ConfigError, GanbenchError
from ganbench.fileio import sha256_file
from ganbench.methods import build_method, method_class
from ganbench.methods.catalog import CATALOG
from ganbench.metrics.reconstruction import evaluate_reconstruction
from ganbench.train.checkpoint import load_checkpoint
from ganbench.train.data import TrainingData, training_data_of
from ganbench.train.inputs import describe_inputs, parent_infos, restore_method
from ganbench.train.loop import training_loop

from test_train import TINY_OPTIONS

TINY_COCOGAN = {"macro_size": 8, "micro_size": 4, "ngf": 2, "ndf": 2, "z_dim": 8, "aux_dim": 8}
TINY = {  # the smallest options of each catalog method, for the contract test
    "stylegan2": {**TINY_OPTIONS, "augment": "none", "pl_weight": 0},
    "stylegan1": {**TINY_OPTIONS, "augment": "none"},
    "creps": {
        "z_dim": 16,
        "w_dim": 16,
        "mapping_layers": 2,
        "channel_base": 256,
        "channel_max": 16,
        "d_channel_base": 128,
        "d_channel_max": 16,
        "augment": "none",
        "pl_weight": 0,
    },
    "encoder": {"channels": 8, "channel_max": 16, "preview_images": 4},
    "segmenter": {"base_channels": 4, "preview_images": 4},
    "lagm": {"base_channels": 4, "tmp_channels": 8, "preview_images": 4},
    "cocogan": {**TINY_COCOGAN, "code_loss_w": 100},
    "cocogan_panorama": {**TINY_COCOGAN, "width": 48, "code_loss_w": 1},
    "cocogan_extrap": {**TINY_COCOGAN, "code_loss_w": 1},
    "datasetgan_mlp": {"hidden": [8, 4], "invert_steps": 3, "preview_images": 4},
    "vision_aided": {
        **TINY_OPTIONS,
        "augment": "none",
        "pl_weight": 0,
        "backbones": ["random"],
        "probe_resolution": 16,
        "probe_channels": [8, 8, 8],
        "probe_feature_dim": 8,
    },
    "coordgan": {
        "z_dim": 16,
        "w_dim": 16,
        "mapping_layers": 2,
        "channels": 8,
        "num_blocks": 1,
        "warp_hidden": 8,
        "coord_resolution": 16,
        "d_channel_base": 128,
        "d_channel_max": 16,
        "patch_size": 8,
        "patch_channels": [8, 8],
        "num_crops": 2,
        "perceptual": "probe",
        "probe_channels": [8, 8, 8],
        "probe_resolution": 16,
        "patch_start_iters": 0,
    },
    "coordgan_encoder": {
        "channels": 8,
        "channel_max": 16,
        "spatial_channels": 4,
        "global_channels": [8, 8],
        "perceptual": "probe",
        "probe_channels": [8, 8, 8],
        "probe_resolution": 16,
        "preview_images": 4,
    },
}
# Stages whose required ``generator`` must be a run of a particular GAN (default: the StyleGAN2 trained_gan).
GENERATOR_METHODS = {"coordgan_encoder": "coordgan"}
# Stages whose required ``parent`` input is a run of another method: that method, trained tiny below.
PARENT_METHODS = {"cocogan_extrap": "cocogan"}


def fixture_inputs(exp, faces):
    """The experiment's input files, with the dataset's annotations at the fixture's path."""
    return {
        role: str(faces / "annotations.h5") if path.endswith("annotations.h5") else path
        for role, path in input_files({}, exp).items()
    }


def config_with(*experiments, count=24, **datasets):
    config = {
        "datasets": {"faces": {"source": "synthetic", "category": "face", "count": count}, **datasets},
        "experiments": [
            {
                "resolution": 16,
                "batch": 4,
                "kimg": 0.008,
                "snapshot_kimg": 1,
                "tick_kimg": 0.004,
                "workers": 0,
                "dataset": "faces",
                **e,
            }
            for e in experiments
        ],
    }
    return config


def gan(name="gan", **kw):
    return {"name": name, "method": "stylegan2", "options": dict(TINY["stylegan2"]), **kw}


def encoder(name="enc", parent="gan", **kw):
    return {
        "name": name,
        "method": "encoder",
        "options": dict(TINY["encoder"]),
        "inputs": {"generator": {"run": parent}},
        **kw,
    }


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    out = tmp_path_factory.mktemp("faces")
    make_synthetic_dataset("face", 16, 24, 0, 0.25, out / "images.zip", out / "annotations.h5")
    return out


@pytest.fixture(scope="module")
def trained_gan(faces, tmp_path_factory):
    """A tiny StyleGAN2 run: the parent of the stages below."""
    exp = validate_config(config_with(gan()))["experiments"][0]
    run = tmp_path_factory.mktemp("gan")
    return training_loop(exp, faces / "images.zip", run, device="cpu")


@pytest.fixture(scope="module")
def trained_parents(faces, tmp_path_factory):
    """A tiny run of each method in PARENT_METHODS: the required ``parent`` of those stages."""
    out = {}
    for child, method in PARENT_METHODS.items():
        spec = {"name": method, "method": method, "options": dict(TINY[method]), "kimg": 0.004}
        exp = validate_config(config_with(spec))["experiments"][0]
        out[child] = training_loop(exp, faces / "images.zip", tmp_path_factory.mktemp(method), device="cpu")
    from ganbench.nets.perceptual import ProbeDistance

    out["perceptual"] = tmp_path_factory.mktemp("perceptual") / "probe.pt"  # a probe-shaped weights file
    torch.save({"kind": "ganbench-probe", "state": ProbeDistance((8, 8, 8), 16).state_dict()}, out["perceptual"])
    for child, method in GENERATOR_METHODS.items():
        spec = {"name": method, "method": method, "options": dict(TINY[method]), "kimg": 0.004}
        spec = with_required_inputs(spec, CATALOG[method], None, out)
        exp = validate_config(config_with(spec))["experiments"][0]
        run = tmp_path_factory.mktemp(method)
        out[child] = training_loop(exp, faces / "images.zip", run, device="cpu", inputs=fixture_inputs(exp, faces))
    return out


def with_required_inputs(spec, entry, trained_gan, trained_parents):
    if entry.inputs.get("generator", None) is not None and entry.inputs["generator"].required:
        parent = trained_parents[entry.name] if entry.name in GENERATOR_METHODS else trained_gan
        spec["inputs"] = {"generator": {"checkpoint": str(parent)}}
    if entry.inputs.get("parent", None) is not None and entry.inputs["parent"].required:
        spec["inputs"] = {"parent": {"checkpoint": str(trained_parents[entry.name])}}
    if entry.inputs.get("perceptual", None) is not None and entry.inputs["perceptual"].required:
        spec["inputs"] = {**spec.get("inputs", {}), "perceptual": {"weights": str(trained_parents["perceptual"])}}
        spec["init_from"] = {"P": "perceptual:state"}  # a probe file (CoordGAN's offline LPIPS stand-in)
    return spec


# --- the catalog's contract -----------------------------------------------------------------------


def test_catalog_is_importable_without_torch():
    import subprocess

    code = "import sys, ganbench.methods.catalog, ganbench.config; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_catalog_entry_matches_its_method(name):
    entry = CATALOG[name]
    cls = method_class(name)
    assert cls.Options is entry.options and cls.name == name
    assert dataclasses.is_dataclass(entry.options)
    # GANs sample from seeds, stages do not; any-scale GANs are exactly those whose sample takes a scale
    assert hasattr(cls, "sample") == (entry.kind == "gan")
    if entry.kind == "gan":
        assert ("scale" in inspect.signature(cls.sample).parameters) == ("any_scale" in entry.evaluations)


@pytest.mark.parametrize("name", sorted(n for n in CATALOG if not n.endswith("-test-method")))
def test_every_method_builds_steps_checkpoints_resumes_and_shows(name, faces, trained_gan, trained_parents, tmp_path):
    """Build, one step, checkpoint, resume for one more step, then sample (GANs) or preview (stages)."""
    entry = CATALOG[name]
    spec = {"name": name, "method": name, "options": dict(TINY[name]), "kimg": 0.004}
    spec = with_required_inputs(spec, entry, trained_gan, trained_parents)
    exp = validate_config(config_with(spec))["experiments"][0]
    inputs = fixture_inputs(exp, faces)
    run = tmp_path / "run"
    data = faces / "images.zip"
    width = exp["options"].get(entry.width_option, 16) if entry.width_option else 16
    if width != 16:  # a panorama method: wide images
        from ganbench.data.panorama import make_panorama_dataset

        data = tmp_path / "panoramas.zip"
        make_panorama_dataset(16, width // 16, 8, 0, data)
    training_loop(exp, data, run, device="cpu", inputs=inputs)
    first = load_checkpoint(run / "final.pt")
    assert first["nimg"] == 4 and (run / "checkpoint-000000.pt").is_file()
    training_loop({**exp, "kimg": 0.008}, data, run, device="cpu", inputs=inputs)
    second = load_checkpoint(run / "final.pt")
    assert second["nimg"] == 8 and second["step"] == 2  # resumed at step 1, not restarted
    method = restore_method(second, run / "final.pt")
    if entry.kind == "gan":
        images = method.sample([0, 1])
    else:
        images = method.preview(training_data_of(second).fixed_batch(4, "cpu"))
    assert images.shape[1:] == (3, 16, width) and torch.isfinite(images).all()


def test_catalog_parts_are_the_methods_networks(faces, trained_gan, trained_parents):
    for name, entry in CATALOG.items():
        if name.endswith("-test-method"):
            continue
        spec = {"name": name, "method": name, "options": dict(TINY[name])}
        if "generator" in entry.inputs:
            spec["inputs"] = {"generator": {"checkpoint": str(trained_gan)}}
        spec = with_required_inputs(spec, entry, trained_gan, trained_parents)
        exp = validate_config(config_with(spec))["experiments"][0]
        records = describe_inputs(exp, faces / "images.zip", fixture_inputs(exp, faces))
        method = build_method(name, exp["options"], 16, parents=parent_infos(records))
        networks = {n for n, m in method.named_children() if any(True for _ in m.parameters())}
        assert networks == set(entry.parts), name


# --- frozen parts, init_from, and the checkpoint's record of them --------------------------------


def test_frozen_generator_never_trains_and_is_not_checkpointed(faces, trained_gan, tmp_path):
    exp = validate_config(config_with(encoder(inputs={"generator": {"checkpoint": str(trained_gan)}}, kimg=0.012)))
    exp = exp["experiments"][0]
    assert exp["init_from"] == {"G": "generator:G_ema"} and exp["frozen"] == ["G"]
    run = tmp_path / "enc"
    final = training_loop(exp, faces / "images.zip", run, device="cpu", inputs=input_files({}, exp))
    ckpt = load_checkpoint(final)
    assert not any(k.startswith("G.") for k in ckpt["state"]) and any(k.startswith("E.") for k in ckpt["state"])
    parent = load_checkpoint(trained_gan)
    assert ckpt["frozen_inputs"]["G"]["sha256"] == ckpt["input_sha256"]["generator"]
    method = restore_method(ckpt, final)
    for key, value in method.G.state_dict().items():  # G is exactly the parent's EMA generator
        torch.testing.assert_close(value, parent["state"][f"G_ema.{key}"], rtol=0, atol=0)
    assert all(not p.requires_grad for p in method.G.parameters())
    assert set(ckpt["optimizers"]["E"]["state"]) and len(ckpt["optimizers"]) == 1

    # a checkpoint paired with another generator file is refused in one line
    other = tmp_path / "other.pt"
    tampered = copy.deepcopy(parent)
    tampered["state"]["G_ema.synthesis.b4.const"] += 1
    torch.save(tampered, other)
    ckpt["frozen_inputs"]["G"]["path"] = str(other)
    with pytest.raises(GanbenchError, match=r"was trained on .*other\.pt with sha256 .* now has"):
        restore_method(ckpt, final)


def test_init_from_copies_a_parent_part_non_strictly(faces, trained_gan, tmp_path, capsys):
    wider = {**TINY["stylegan2"], "channel_max": 64}  # other shapes: refused, naming the tensor
    exp = validate_config(
        config_with(
            gan(
                "ft",
                inputs={"parent": {"checkpoint": str(trained_gan)}},
                init_from={"G": "parent", "G_ema": "parent", "D": "parent"},
            )
        )
    )["experiments"][0]
    final = training_loop(
        {**exp, "kimg": 0.004}, faces / "images.zip", tmp_path / "ft", device="cpu", inputs=input_files({}, exp)
    )
    assert "init_from G <- " in capsys.readouterr().out
    assert load_checkpoint(final)["nimg"] == 4
    bad = {**exp, "options": wider}
    with pytest.raises(GanbenchError, match=r"init_from\.G: .* has shape"):
        training_loop(bad, faces / "images.zip", tmp_path / "bad", device="cpu", inputs=input_files({}, exp))


# --- resume safety: the inputs' content is part of the resume key ---------------------------------


def test_changed_inputs_retrain_and_unchanged_inputs_resume(tmp_path, capsys):
    data = tmp_path / "data"
    make_synthetic_dataset("face", 16, 24, 0, 0.25, data / "images.zip", data / "annotations.h5")
    exp = validate_config(config_with(gan(kimg=0.008)))["experiments"][0]
    run = tmp_path / "run"
    training_loop(exp, data / "images.zip", run, device="cpu")
    capsys.readouterr()

    training_loop({**exp, "kimg": 0.012}, data / "images.zip", run, device="cpu")  # same inputs: resumes
    out = capsys.readouterr().out
    assert "resuming from checkpoint-000000.pt (0.008 kimg)" in out
    assert re.search(r"^kimg 0\.012/0\.012  sec/kimg [\d.]+  eta 0m00s  loss_G ", out, flags=re.M)  # no terminal
    last = json.loads((run / "log.jsonl").read_text().splitlines()[-1])
    assert last["kimg"] == 0.012 and last["sec_per_kimg"] > 0 and last["eta_s"] == 0
    assert load_checkpoint(run / "final.pt")["step"] == 3

    make_synthetic_dataset("face", 16, 28, 0, 0.25, data / "images.zip", data / "annotations.h5")  # another count
    training_loop({**exp, "kimg": 0.012}, data / "images.zip", run, device="cpu")
    out = capsys.readouterr().out
    assert "not resuming from checkpoint-000000.pt: trained on other inputs (data changed)" in out
    assert "training from the start" in out
    final = load_checkpoint(run / "final.pt")
    assert final["step"] == 3 and final["input_sha256"]["data"] == sha256_file(data / "images.zip")


def test_reconstruction_scores_the_test_split(faces, trained_gan, tmp_path):
    exp = validate_config(config_with(encoder(inputs={"generator": {"checkpoint": str(trained_gan)}})))["experiments"][
        0
    ]
    final = training_loop(exp, faces / "images.zip", tmp_path / "enc", device="cpu", inputs=input_files({}, exp))
    records = evaluate_reconstruction(final, faces / "images.zip", tmp_path / "eval", faces / "annotations.h5")
    assert records["mse"]["protocol"]["split"] == "test" and records["mse"]["protocol"]["images"] == 6
    assert records["psnr"]["value"] == pytest.approx(10 * np.log10(4 / records["mse"]["value"]))
    with pytest.raises(GanbenchError, match="does not reconstruct images"):
        evaluate_reconstruction(trained_gan, faces / "images.zip", tmp_path / "eval2")
    assert not (tmp_path / "eval2").exists()


# --- the batch carries what the method declares ---------------------------------------------------


def test_batch_fields_are_mirrored_with_their_image(faces):
    data = TrainingData(
        faces / "images.zip", ("images", "parts", "coords"), xflip=True, annotations=faces / "annotations.h5"
    )
    n = len(data) // 2
    plain, mirrored = data[3], data[3 + n]
    np.testing.assert_array_equal(mirrored["images"], plain["images"][:, :, ::-1])
    np.testing.assert_array_equal(mirrored["parts"], plain["parts"][:, ::-1])
    np.testing.assert_array_equal(mirrored["coords"], plain["coords"][:, ::-1])
    batch = data.fixed_batch(4, "cpu")
    assert batch.parts.dtype == torch.int64 and batch.coords.shape == (4, 16, 16, 2)
    assert batch.images.min() >= -1 and batch.images.max() <= 1
    with pytest.raises(GanbenchError, match="need the dataset's annotations.h5"):
        TrainingData(faces / "images.zip", ("images", "parts"))


# --- validation before any job runs ---------------------------------------------------------------


@pytest.mark.parametrize(
    "experiments, message",
    [
        ([encoder(parent="nope")], r"experiments\.0\.inputs\.generator\.run: unknown experiment 'nope'"),
        (
            [gan(), encoder(), encoder("enc2", parent="enc")],
            r"experiments\.2\.inputs\.generator\.run: 'enc' \(Encoder\) provides no generator, which this input needs",
        ),
        (
            [gan("a", inputs={"parent": {"run": "b"}}), gan("b", inputs={"parent": {"run": "a"}})],
            r"a cycle of parents: a -> b -> a",
        ),
        ([{"name": "enc", "method": "encoder"}], r"experiments\.0\.inputs: method encoder needs the input 'generator'"),
        (
            [gan(inputs={"generatr": {"run": "gan"}})],
            r"experiments\.0\.inputs\.generatr: method stylegan2 takes no input 'generatr' \(inputs: parent\)",
        ),
        (
            [gan(), encoder(inputs={"generator": {"annotations": "faces"}})],
            r"inputs\.generator\.annotations: this input is one of: run, checkpoint",
        ),
        ([gan(), encoder(frozen=["F"])], r"experiments\.1\.frozen: 'F' is not a part of Encoder"),
        (
            [gan(init_from={"G": "parent"})],
            r"experiments\.0\.init_from\.G: 'parent' is not one of this experiment's inputs",
        ),
        (
            [gan(options={"chanel_max": 8})],
            r"experiments\.0\.options\.chanel_max: unknown option \(did you mean 'channel_max'\?\)",
        ),
        (
            [gan(options={"augment": "adaa"})],
            r"experiments\.0\.options\.augment: unknown value 'adaa' \(expected one of: none, ada, diffaugment\)",
        ),
        ([gan(resolution=48)], r"experiments\.0\.resolution: 48 is not a power of two"),
        ([gan(batch=12, batch_per_gpu=8)], r"experiments\.0\.batch: 12 is not a multiple of batch_per_gpu 8 x 1 gpus"),
        (
            [gan(batch=6)],
            r"experiments\.0\.batch: the micro-batch of 6 images per rank is not a multiple of options\.mbstd_group 4",
        ),
        (
            [{"name": "c", "method": "creps", "resolution": 512, "options": {}}],
            r"experiments\.0\.resolution: 512 x scale 4 .* at 2048 px",
        ),
    ],
)
def test_validation_names_the_key(experiments, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(config_with(*experiments), source="c.yaml")


def test_parents_come_before_children_and_are_real_inputs():
    config = validate_config(config_with(encoder(), gan()))
    assert experiment_order(config) == ["gan", "enc"]
    assert input_files(config, config["experiments"][0]) == {"generator": "results/runs/gan/final.pt"}


def test_segmenter_trains_on_the_train_split_and_is_scored_on_the_test_split(faces, tmp_path):
    from ganbench.metrics.part_segmentation import evaluate_segmenter
    from ganbench.metrics.protocols import PROTOCOLS

    spec = {
        "name": "seg",
        "method": "segmenter",
        "options": dict(TINY["segmenter"]),
        "kimg": 0.016,
        "train_images": 10,
        "mirror": True,
    }
    exp = validate_config(config_with(spec))["experiments"][0]
    assert exp["inputs"] == {"annotations": {"annotations": "faces"}}  # the dataset's own labels by default
    data = TrainingData(
        faces / "images.zip",
        ("images", "parts"),
        split="train",
        limit=10,
        xflip=True,
        annotations=faces / "annotations.h5",
    )
    test_rows = set(np.flatnonzero(read_annotations(faces / "annotations.h5").is_test))
    assert len(data) == 20 and not {data.images.raw_index(i)[0] for i in range(20)} & test_rows
    final = training_loop(exp, faces / "images.zip", tmp_path / "seg", device="cpu", inputs=fixture_inputs(exp, faces))
    out = evaluate_segmenter(
        final, faces / "images.zip", faces / "annotations.h5", tmp_path / "eval", [PROTOCOLS["fg_miou"]]
    )
    record = out["fg_miou"]["fg_miou"]
    assert record["protocol"]["images"] == 6 and 0 <= record["value"] <= 1
    # the snapshot with the best FG-mIoU on the train split's 8 rows the run did not train on (faces has no
    # validation split); a synthetic set names no test_set, so no published number can match it
    assert record["protocol"]["selection"] == "best-val-fg-miou" and record["selected"]["val_images"] == 8
    assert record["protocol"]["num_classes"] == len(read_annotations(faces / "annotations.h5").classes)
    assert "test_set" not in record["protocol"]
    assert (tmp_path / "eval" / "fg_miou" / "miou.json").is_file()
    cv = evaluate_segmenter(
        final, faces / "images.zip", faces / "annotations.h5", tmp_path / "e2", [PROTOCOLS["miou_cv5"]]
    )["miou_cv5"]["miou"]  # 5 folds of 6 // 5 = 1 validation image, picked among the run's snapshots
    assert len(cv["folds"]) == 5 and cv["value"] == pytest.approx(np.mean([f["test"]["miou"] for f in cv["folds"]]))
    assert cv["std"] == pytest.approx(np.std([f["test"]["miou"] for f in cv["folds"]]))  # np.std, ddof 0
    other = tmp_path / "other"
    make_synthetic_dataset("face", 16, 24, 5, 0.25, other / "images.zip", other / "annotations.h5")
    with pytest.raises(GanbenchError, match="describes other images than"):
        evaluate_segmenter(
            final, faces / "images.zip", other / "annotations.h5", tmp_path / "e3", [PROTOCOLS["fg_miou"]]
        )


def test_train_images_beyond_the_train_split_is_refused_at_validation():
    spec = {"name": "seg", "method": "segmenter", "options": {}, "train_images": 23}
    with pytest.raises(
        ConfigError, match=r"experiments\.0\.train_images: 23 is more than the 22 training images of faces"
    ):
        validate_config(config_with(spec))


def test_a_stage_trains_on_two_ranks_as_on_one(faces, trained_gan, tmp_path):
    """The encoder through torchrun (the --experiment-json path the train rule uses for gpus > 1): its inputs
    travel as --input files, the frozen generator is not all-reduced, and 2 ranks compute what 1 does."""
    from test_train import run_cli

    exp = validate_config(
        config_with(
            {"name": "gan", "method": "stylegan2", "options": dict(TINY["stylegan2"])},
            encoder(kimg=0.016, batch=8),
            count=24,
        )
    )["experiments"][1]
    assert exp["inputs"] == {"generator": {"run": "gan"}}
    inputs = ["--input", f"generator={trained_gan}"]
    one = run_cli(exp, faces / "images.zip", tmp_path / "one", *inputs)
    assert one.returncode == 0, one.stderr[-3000:]
    two = run_cli({**exp, "gpus": 2}, faces / "images.zip", tmp_path / "two", *inputs)
    assert two.returncode == 0, two.stderr[-3000:]
    a, b = load_checkpoint(tmp_path / "one" / "final.pt"), load_checkpoint(tmp_path / "two" / "final.pt")
    assert a["state"].keys() == b["state"].keys() and not any(k.startswith("G.") for k in b["state"])
    floats = [(k, v) for k, v in a["state"].items() if torch.is_tensor(v) and v.is_floating_point()]
    diffs = torch.cat([(v - b["state"][k]).abs().flatten() for k, v in floats])
    worst = sorted(((float((v - b["state"][k]).abs().max()), k) for k, v in floats), reverse=True)[:3]
    # As in test_train: summation order differs between one process and an all-reduce, and Adam's first steps
    # (update ~ lr * g / |g|) can amplify that rounding on a weight whose gradient is near zero, by at most
    # lr per step; all but a handful of weights agree to 1e-5.
    assert diffs.max() < 2 * 0.002 and (diffs > 1e-5).float().mean() < 1e-3, worst
    assert b["input_sha256"] == a["input_sha256"] and len(b["rng"]) == 2

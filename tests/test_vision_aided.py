"""Vision-aided GAN: backbones built without downloading and loaded from files the tests make, the official input
normalisation, the heads and losses by hand, the warm-up, and the frozen backbone through the training loop."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ganbench.config import validate_config
from ganbench.data.build import make_synthetic_dataset
from ganbench.errors import ConfigError, GanbenchError
from ganbench.fileio import sha256_file
from ganbench.methods import build_method
from ganbench.methods.options import VISION_BACKBONES, VisionAidedOptions, parse_options
from ganbench.metrics.probe import FORMAT, KIND, ProbeNet
from ganbench.nets.backbones import BACKBONES, CLIP_MEAN, CLIP_STD, IMAGENET_STD, build_backbone
from ganbench.nets.vision_heads import ConvHead, MultiLevelHead, build_head, vision_loss
from ganbench.train.checkpoint import load_checkpoint
from ganbench.train.inputs import InputFile, source_state
from ganbench.train.loop import training_loop

from test_stages import TINY, config_with

TINY_CLIP = dict(image_size=32, patch_size=8, width=32, layers=4, heads=2, mlp_ratio=2.0, output_dim=16, taps=(1, 2))
TINY_DINO = dict(img_size=32, patch_size=8, embed_dim=32, depth=3, num_heads=2, taps=(0, 1, 2))


def test_options_name_exactly_the_registered_backbones():
    assert set(VISION_BACKBONES) == set(BACKBONES)


def _load_file(backbone, path, prefix):
    state = source_state(InputFile("backbone0", "weights", path, ""))
    if prefix != ".":
        state = {k[len(prefix) + 1 :]: v for k, v in state.items() if k.startswith(prefix + ".")}
    backbone.net.load_state_dict(state)


def test_clip_loads_an_open_clip_file_and_taps_two_blocks_and_the_embedding(tmp_path):
    torch.manual_seed(0)
    source = build_backbone("clip", arch=TINY_CLIP)
    path = tmp_path / "clip.pt"  # an open_clip CLIP state dict: the vision tower under "visual."
    torch.save({f"visual.{k}": v for k, v in source.net.state_dict().items()} | {"logit_scale": torch.ones(())}, path)
    torch.manual_seed(1)
    loaded = build_backbone("clip", arch=TINY_CLIP)
    _load_file(loaded, path, BACKBONES["clip"].source_part)
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    a, b = source.features(x), loaded.features(x)
    assert [f.shape for f in a] == [(2, 32, 4, 4), (2, 32, 4, 4), (2, 16)]
    for fa, fb in zip(a, b):
        torch.testing.assert_close(fa, fb)
    # the embedding is open_clip's own forward of the vision tower
    torch.testing.assert_close(a[-1], source.net(source.prepare(x)))
    assert not any(p.requires_grad for p in loaded.parameters())


def test_dino_is_timms_vit_with_three_normed_taps(tmp_path):
    torch.manual_seed(0)
    source = build_backbone("dino", arch=TINY_DINO)
    path = tmp_path / "dino.pth"
    torch.save(source.net.state_dict(), path)
    loaded = build_backbone("dino", arch=TINY_DINO)
    _load_file(loaded, path, ".")
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    feats = loaded.features(x)
    assert [f.shape for f in feats] == [(2, 32, 4, 4), (2, 32, 4, 4), (2, 32)]
    torch.testing.assert_close(feats[-1], source.features(x)[-1])
    # the last tap's CLS token is timm's normed CLS (forward_features then norm, position 0)
    torch.testing.assert_close(feats[-1], source.net.forward_features(source.prepare(x))[:, 0])


def test_input_normalisation_and_resize_are_the_official_ones():
    clip = build_backbone("clip", arch=TINY_CLIP)
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    expected = F.interpolate(x, size=(32, 32), mode="area") * 0.5 + 0.5
    expected = (expected - torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)) / torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    torch.testing.assert_close(clip.prepare(x), expected)
    dino = build_backbone("dino", arch=TINY_DINO)
    assert dino.mean.flatten().tolist() == pytest.approx(CLIP_MEAN)  # DINO: CLIP mean with ImageNet std
    assert dino.std.flatten().tolist() == pytest.approx(IMAGENET_STD)
    probe = build_backbone("probe", probe_resolution=16, probe_channels=(8, 8, 8), probe_feature_dim=8)
    torch.testing.assert_close(probe.prepare(x), F.interpolate(x, size=(16, 16), mode="area"))  # probe reads [-1, 1]


def test_random_control_is_fixed_and_probe_depths_differ():
    kw = dict(probe_resolution=16, probe_channels=(8, 8, 8), probe_feature_dim=8)
    a, b = build_backbone("random", **kw), build_backbone("random", **kw)
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb)
    x = torch.zeros(2, 3, 16, 16)
    assert build_backbone("probe", **kw).features(x)[0].shape[-1] == 4  # R/4
    assert build_backbone("probe_shallow", **kw).features(x)[0].shape[-1] == 8  # R/2


def test_heads_have_the_official_shapes_and_spectral_norm():
    clip = MultiLevelHead(768, 512, 256, down=1)
    out = clip([torch.randn(2, 768, 7, 7), torch.randn(2, 768, 7, 7), torch.randn(2, 512)])
    assert [o.shape for o in out] == [(2, 1, 3, 3), (2, 1, 3, 3), (2, 1)]
    dino = MultiLevelHead(768, 768, 128, down=2)
    out = dino([torch.randn(2, 768, 14, 14), torch.randn(2, 768, 14, 14), torch.randn(2, 768)])
    assert [o.shape for o in out] == [(2, 1, 3, 3), (2, 1, 3, 3), (2, 1)]
    conv = ConvHead(768, 7)
    assert conv([torch.randn(2, 768, 7, 7)])[0].shape == (2, 1)
    assert conv.fc[0].in_features == 256 * 3 * 3 and ConvHead(768, 8).fc[0].in_features == 256 * 4 * 4
    names = [n for n, _ in conv.named_parameters()] + [n for n, _ in clip.named_parameters()]
    assert all("parametrizations.weight.original" in n for n in names if n.endswith("weight.original"))
    assert sum("parametrizations" in n for n in names) == 3 + 6  # every conv and linear is spectrally normed
    probe = build_backbone("probe", probe_resolution=16, probe_channels=(8, 8, 8), probe_feature_dim=8)
    assert isinstance(build_head(probe, torch.zeros(2, 3, 16, 16)), ConvHead)


def test_losses_by_hand():
    logit = torch.tensor([[0.5], [-1.0]])
    sp = F.softplus
    # BCE(l, t) = t softplus(-l) + (1 - t) softplus(l)
    torch.testing.assert_close(vision_loss([logit], "sigmoid", "real"), sp(-logit).flatten())
    torch.testing.assert_close(vision_loss([logit], "sigmoid", "fake"), sp(logit).flatten())
    smoothed = 0.8 * sp(-logit) + 0.2 * sp(logit)
    torch.testing.assert_close(vision_loss([logit], "sigmoid_s", "real"), smoothed.flatten())
    torch.testing.assert_close(vision_loss([logit], "sigmoid_s", "G"), smoothed.flatten())  # t_G = alpha
    torch.testing.assert_close(vision_loss([logit], "sigmoid_s", "fake"), sp(logit).flatten())  # one-sided
    patch = torch.tensor([[[[1.0, -1.0], [0.0, 2.0]]], [[[0.0, 0.0], [0.0, 0.0]]]])
    levels = [patch, logit]
    expected = sp(-patch).mean(dim=(1, 2, 3)) + sp(-logit).flatten()  # maps averaged, levels summed
    torch.testing.assert_close(vision_loss(levels, "multilevel_sigmoid", "real"), expected)
    torch.testing.assert_close(vision_loss(levels, "sigmoid", "real"), sp(-logit).flatten())  # last level only
    torch.testing.assert_close(vision_loss([logit], "hinge", "real"), torch.tensor([0.5, 2.0]))
    torch.testing.assert_close(vision_loss([logit], "hinge", "fake"), torch.tensor([1.5, 0.0]))
    torch.testing.assert_close(vision_loss([logit], "hinge", "G"), torch.tensor([-0.5, 1.0]))


def test_options_refuse_bad_specs():
    with pytest.raises(ConfigError, match="backbones: unknown value 'clipp'"):
        parse_options(VisionAidedOptions, {"backbones": ["clipp"]})
    with pytest.raises(ConfigError, match="cv_losses: 1 losses for 2 backbones"):
        parse_options(VisionAidedOptions, {"backbones": ["clip", "dino"], "cv_losses": ["sigmoid"]})
    with pytest.raises(ConfigError, match="twice"):
        parse_options(VisionAidedOptions, {"backbones": ["vgg", "vgg"]})
    opts = parse_options(VisionAidedOptions, {"backbones": ["clip", "vgg"], "smooth": False})
    assert opts.losses() == ("multilevel_sigmoid", "sigmoid")


# --- through the training loop ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    out = tmp_path_factory.mktemp("faces")
    make_synthetic_dataset("face", 16, 24, 0, 0.25, out / "images.zip", out / "annotations.h5")
    return out


@pytest.fixture(scope="module")
def probe_file(tmp_path_factory):
    """A probe file in metrics.probe's format (an untrained tiny ProbeNet with fixed weights)."""
    torch.manual_seed(3)
    net = ProbeNet(4, 1, (8, 8, 8), 8)
    path = tmp_path_factory.mktemp("probe") / "probe.pt"
    payload = {"kind": KIND, "format": FORMAT, "classes": ["c"] * 4, "categories": ["face"], "channels": [8, 8, 8]}
    torch.save({**payload, "feature_dim": 8, "state": net.state_dict()}, path)
    return path, net


def vision_experiment(probe_path, **options):
    spec = {
        "name": "va",
        "method": "vision_aided",
        "options": {**TINY["vision_aided"], "backbones": ["probe"], **options},
        "inputs": {"backbone0": {"weights": str(probe_path)}},
        "init_from": {"backbones.0.net": "backbone0:state"},
        "frozen": ["backbones.0.net"],
        "kimg": 0.012,
    }
    return validate_config(config_with(spec))["experiments"][0]


def test_backbone_never_trains_and_is_not_checkpointed(faces, probe_file, tmp_path):
    path, net = probe_file
    exp = vision_experiment(path, cv_augment="diffaugment")
    final = training_loop(exp, faces / "images.zip", tmp_path / "run", device="cpu", inputs={"backbone0": str(path)})
    ckpt = load_checkpoint(final)
    assert not any(k.startswith("backbones.") for k in ckpt["state"])
    assert "cvD" in ckpt["optimizers"] and ckpt["step"] == 3
    from ganbench.train.inputs import restore_method

    method = restore_method(ckpt, final)
    for key, value in method.backbones[0].net.state_dict().items():
        torch.testing.assert_close(value, net.state_dict()[key], rtol=0, atol=0)
    # the heads trained: they differ from a fresh build's (same seed) after three steps
    fresh = build_method("vision_aided", exp["options"], 16)
    changed = [not torch.equal(a, b) for a, b in zip(method.cvD.state_dict().values(), fresh.cvD.state_dict().values())]
    assert any(changed)
    log = (tmp_path / "run" / "log.jsonl").read_text()
    assert "loss_cvD0_real" in log and "loss_G_cv" in log


def test_warmup_keeps_the_heads_still_and_g_loss_plain(faces, probe_file):
    from ganbench.methods.base import Batch, Phase, StepContext
    from ganbench.train.batch_random import BatchRandom

    method = build_method("vision_aided", {**TINY["vision_aided"], "warmup_kimg": 1.0}, 16)
    images = torch.rand(4, 3, 16, 16) * 2 - 1
    batch = Batch(images, torch.zeros(4, 0))

    def ctx(nimg):
        return StepContext(BatchRandom(0, 0, 1, torch.device("cpu")), 0, nimg, 0, 1, torch.device("cpu"), lambda t: t)

    out = method.accumulate_gradients(Phase("Gmain", "G"), batch, ctx(999))
    assert "loss_G_cv" not in out
    method.zero_grad(set_to_none=True)
    method.accumulate_gradients(Phase("cvDmain", "cvD"), batch, ctx(999))
    assert all(p.grad is None or not p.grad.any() for p in method.cvD.parameters())
    method.zero_grad(set_to_none=True)
    method.accumulate_gradients(Phase("cvDmain", "cvD"), batch, ctx(1000))
    assert any(p.grad is not None and p.grad.any() for p in method.cvD.parameters())
    assert all(p.grad is None for p in method.backbones.parameters())
    out = method.accumulate_gradients(Phase("Gmain", "G"), batch, ctx(1000))
    assert "loss_G_cv" in out
    assert any(p.grad is not None and p.grad.any() for p in method.G.parameters())  # through the frozen backbone


def test_swin_is_timms_and_its_last_stage_map_is_the_feature(tmp_path):
    arch = dict(img_size=32, patch_size=4, window_size=4, embed_dim=16, depths=(1, 1), num_heads=(1, 2))
    torch.manual_seed(0)
    source = build_backbone("swin", arch=arch)
    path = tmp_path / "moby.pth"
    torch.save(source.net.state_dict(), path)
    loaded = build_backbone("swin", arch=arch)
    _load_file(loaded, path, ".")
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    (fmap,) = loaded.features(x)
    assert fmap.shape == (2, 32, 4, 4)
    torch.testing.assert_close(loaded.pooled(x), fmap.mean(dim=(2, 3)))
    torch.testing.assert_close(fmap, source.features(x)[0])


def _official_swin_layout(state, prefix):
    """timm's Swin state in the official SwinTransformer layout: each downsampling at the end of the stage before,
    mmdet's per-stage output norms (the last one is timm's final norm), under ``prefix``."""
    import re

    out = {}
    for k, v in state.items():
        if "relative_position_index" in k or "attn_mask" in k:
            continue
        k = re.sub(r"layers\.(\d+)\.downsample", lambda m: f"layers.{int(m.group(1)) - 1}.downsample", k)
        if k.startswith("norm."):
            out["norm0." + k[5:]] = torch.randn_like(v)  # an earlier stage's output norm: not used
            k = "norm3." + k[5:]
        out[prefix + k] = v
    return out


@pytest.mark.parametrize(
    "name, prefix", [("swin", "model.encoder."), ("det_coco", "backbone."), ("seg_ade", "backbone.")]
)
def test_official_swin_files_load_into_timms_swin(tmp_path, name, prefix):
    """MoBY's file (model.encoder.*) and SwinTransformer's detection/segmentation files (backbone.*, norm0..3) are in
    the official layout, with the downsampling at the end of a stage: loaded, timm's Swin computes the same map."""
    from ganbench.nets.backbones import load_backbone

    arch = dict(img_size=32, patch_size=4, window_size=4, embed_dim=16, depths=(1, 1, 1), num_heads=(1, 2, 2))
    torch.manual_seed(0)
    source = build_backbone(name, arch=arch)
    path = tmp_path / "official.pth"
    torch.save(
        {
            "model" if prefix.startswith("model") else "state_dict": _official_swin_layout(
                source.net.state_dict(), prefix.removeprefix("model.")
            )
        },
        path,
    )
    loaded = build_backbone(name, arch=arch)
    state = source_state(InputFile("backbone0", "weights", str(path), ""))
    load_backbone(loaded, {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}, str(path))
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    torch.testing.assert_close(loaded.features(x)[0], source.features(x)[0])
    with pytest.raises(GanbenchError, match="missing\\) for backbone"):
        load_backbone(build_backbone(name, arch=arch), {}, str(path))


def test_a_round_converts_an_official_swin_file_for_its_frozen_backbone():
    """init_from hands a round the file's tensors; the method puts them in timm's names (Swin-T at full size)."""
    method = build_method("vision_aided", {**TINY["vision_aided"], "backbones": ["det_coco"]}, 16)
    own = method.backbones[0].net.state_dict()
    official = _official_swin_layout(own, "")
    assert "layers.0.downsample.reduction.weight" in official and "norm3.weight" in official
    converted = method.input_state("backbones.0.net", official)
    assert set(converted) >= {k for k in own if "relative_position_index" not in k}
    for k, v in converted.items():
        torch.testing.assert_close(v, own[k])
    assert method.input_state("G", {"a": own["norm.weight"]}) == {"a": own["norm.weight"]}


# --- selection by linear probe ---------------------------------------------------------------------------


def test_the_probe_picks_the_backbone_that_separates_the_sets_over_the_negative_control():
    from ganbench.metrics.backbone_selection import select_from_features

    rng = np.random.default_rng(0)
    real = rng.normal(0, 1, (200, 8))
    informative = [(real, rng.normal(0.6, 1, (200, 8))) for _ in range(3)]
    control = [(real, rng.normal(0, 1, (200, 8))) for _ in range(3)]  # the same distribution: chance
    record = select_from_features({"random": control, "probe": informative})
    assert record["selected"] == "probe"
    assert record["accuracies"]["probe"] > 0.75 and abs(record["accuracies"]["random"] - 0.5) < 0.1
    assert record["smooth"] is False and record["loss"] == "sigmoid"  # accuracy <= 0.9 and no DiffAugment
    assert select_from_features({"probe": informative}, diffaugment=True)["loss"] == "sigmoid_s"
    far = [(real, rng.normal(5, 1, (200, 8)))]
    assert select_from_features({"clip": far})["loss"] == "multilevel_sigmoid_s"  # accuracy > 0.9


def test_a_round_trains_the_selected_backbone_from_a_selection(faces, probe_file, tmp_path):
    from ganbench.metrics.backbone_selection import select_backbone
    from ganbench.train.inputs import restore_method

    path, net = probe_file
    exp = vision_experiment(path, cv_augment="none")
    gan = training_loop(exp, faces / "images.zip", tmp_path / "gan", device="cpu", inputs={"backbone0": str(path)})
    out = tmp_path / "selection.json"
    record = select_backbone(
        gan,
        faces / "images.zip",
        {"probe": str(path), "random": None},
        out,
        max_images=16,
        repeats=2,
        probe_options={"probe_resolution": 16, "probe_channels": (8, 8, 8), "probe_feature_dim": 8},
    )
    saved = json.loads(out.read_text())
    assert saved["selected"] == record["selected"] in ("probe", "random") and set(saved["accuracies"]) == {
        "probe",
        "random",
    }
    assert saved["real_images"] == 16 and len(saved["accuracies_per_repeat"]["probe"]) == 2
    spec = {
        "name": "round",
        "method": "vision_aided",
        "options": {**TINY["vision_aided"], "backbones": ["selected"]},
        "inputs": {"backbone0": {"selection": "sel"}},
        "init_from": {"backbones.0.net": "backbone0:."},
        "frozen": ["backbones.0.net"],
        "kimg": 0.004,
    }
    config = config_with(spec)
    config["selections"] = {"sel": {"generator": "round", "candidates": ["probe", "random"]}}
    exp = validate_config(config)["experiments"][0]
    final = training_loop(exp, faces / "images.zip", tmp_path / "round", device="cpu", inputs={"backbone0": str(out)})
    ckpt = load_checkpoint(final)
    assert not any(k.startswith("backbones.0.net.") for k in ckpt["state"])
    method = restore_method(ckpt, final)
    assert method.backbone_names == (record["selected"],) and method.cv_losses == (record["loss"],)
    if record["selected"] == "probe":
        torch.testing.assert_close(method.backbones[0].net.stem[0].weight, net.stem[0].weight, rtol=0, atol=0)


def test_selections_are_checked_at_validation():
    config = config_with({"name": "g", "method": "stylegan2", "options": dict(TINY["stylegan2"])})
    config["selections"] = {"s": {"generator": "g", "candidates": ["probe", "clipp"]}}
    with pytest.raises(ConfigError, match="selections.s.candidates: unknown backbone 'clipp'"):
        validate_config(copy.deepcopy(config))
    config["selections"] = {"s": {"generator": "nope", "candidates": ["probe"]}}
    with pytest.raises(ConfigError, match="selections.s.generator: 'nope' is not a GAN experiment"):
        validate_config(copy.deepcopy(config))


def test_weights_names_agree_between_the_torch_free_table_and_the_registry():
    from ganbench.methods.options import VISION_BACKBONE_WEIGHTS
    from ganbench.metrics.weights import load_weights_registry

    assert VISION_BACKBONE_WEIGHTS == {n: s.weights for n, s in BACKBONES.items()}
    registry = load_weights_registry()
    assert all(w in registry for w in VISION_BACKBONE_WEIGHTS.values() if w not in (None, "probe"))


# --- tables and the few-shot chain through Snakemake ---------------------------------------------------------


def test_the_rounds_table_puts_each_round_beside_its_continued_baseline():
    from ganbench.tables.specs import vision_aided_rounds

    gan = {"name": "g0", "method": "stylegan2", "dataset": "d", "resolution": 16, "kimg": 24, "inputs": {}}
    va = {"name": "va", "method": "vision_aided", "dataset": "d", "resolution": 16, "kimg": 4}
    va["inputs"] = {"parent": {"run": "g0"}}
    cont = {**gan, "name": "g0-continued", "kimg": 4, "inputs": {"parent": {"run": "g0"}}}
    other = {**cont, "name": "g0-longer", "kimg": 8}
    rows = vision_aided_rounds([gan, va, cont, other], "d", 16)
    assert [r.experiments for r in rows] == [("g0",), ("va",), ("g0-continued",)]


@pytest.mark.integration
def test_the_few_shot_chain_runs_through_snakemake(tmp_path):
    """The test config's 200-image few-shot path: round 0, two selections and rounds, DiffAugment beside."""
    import os
    import subprocess
    import sys

    from conftest import REPO_ROOT

    work = tmp_path / "work"
    work.mkdir()
    config = REPO_ROOT / "tests" / "configs" / "vision_aided_fewshot.yaml"
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO_ROOT / "Snakefile"), "-d", str(work)]
    cmd += ["--configfile", str(config), "--cores", "2"]
    run = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "GANBENCH_OPS": "ref"})
    assert run.returncode == 0, run.stderr[-4000:]
    first = json.loads((work / "results/selection/fewshot-select1.json").read_text())
    second = json.loads((work / "results/selection/fewshot-select2.json").read_text())
    assert set(first["accuracies"]) == {"probe", "probe_shallow", "random"}
    assert first["selected"] not in second["accuracies"] and len(second["accuracies"]) == 2  # the pick leaves
    assert first["loss"].endswith("_s")  # DiffAugment on: smoothing regardless of accuracy
    ckpt = load_checkpoint(work / "results/runs/fewshot-round2/final.pt")
    best = work / "results/runs/fewshot-round1/best-fid-tiny.pt"  # round 2 and selection 2 start from it
    assert ckpt["input_sha256"]["parent"] == sha256_file(best)
    assert json.loads((work / "results/eval/fewshot-round1/tiny/fid-best.json").read_text())["snapshot_sha256"] == (
        sha256_file(best)
    )
    assert not any(k.startswith("backbones.") and ".net." in k for k in ckpt["state"])
    assert any(k.startswith("cvD.1.") for k in ckpt["state"])
    table = (work / "reports/tables/vision_aided-synthfaces-200-16.md").read_text()
    assert "fewshot-round2" in table and "fewshot-round0" in table
    assert (work / "reports/tables/vision_aided_selection-fewshot-select1.md").read_text().count("| probe") == 2
    assert (work / "results/eval/fewshot-diffaugment/tiny/fid.json").is_file()

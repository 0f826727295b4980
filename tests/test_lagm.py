"""LAGM's annotator stage: the gradient-matching distance, the second-order path to the annotator, the two
phases, generated pairs a segmenter trains on, and bad input."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from ganbench.config import validate_config, validate_experiment
from ganbench.data.annotations import check_pair, read_annotation_attrs, read_annotations
from ganbench.data.build import make_synthetic_dataset
from ganbench.data.generated_pairs import _PerSeedRandom, generate_pairs, load_annotator
from ganbench.errors import ConfigError, GanbenchError
from ganbench.fileio import sha256_file
from ganbench.methods import build_method
from ganbench.methods.base import InputInfo
from ganbench.methods.lagm import gradient_matching_distance, matched_parameters
from ganbench.train.checkpoint import load_checkpoint
from ganbench.train.data import TrainingData
from ganbench.train.loop import make_optimizers, training_loop

from test_stages import TINY, config_with, gan

EPS = 1e-6


def lagm(name="lagm", parent="gan", **kw):
    return {
        "name": name,
        "method": "lagm",
        "options": dict(TINY["lagm"]),
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
    exp = validate_config(config_with(gan()))["experiments"][0]
    return training_loop(exp, faces / "images.zip", tmp_path_factory.mktemp("gan"), device="cpu")


@pytest.fixture(scope="module")
def trained_lagm(faces, trained_gan, tmp_path_factory):
    exp = validate_config(
        config_with(lagm(inputs={"generator": {"checkpoint": str(trained_gan)}}, kimg=0.008, train_images=6))
    )["experiments"][0]
    inputs = {"generator": str(trained_gan), "annotations": str(faces / "annotations.h5")}
    return training_loop(exp, faces / "images.zip", tmp_path_factory.mktemp("lagm"), device="cpu", inputs=inputs)


def tiny_method(resolution=16, classes=8, generator_resolution=16, **options):
    parents = {
        "generator": InputInfo("stylegan2", dict(TINY["stylegan2"]), generator_resolution),
        "annotations": InputInfo(None, {}, resolution, extra={"classes": [f"c{i}" for i in range(classes)]}),
    }
    return build_method("lagm", {**TINY["lagm"], **options}, resolution, parents=parents)


# --- the distance, by hand ----------------------------------------------------------------------------


def _cos(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (np.sqrt(sum(x * x for x in a)) * np.sqrt(sum(y * y for y in b)) + EPS)


def test_distance_matches_a_hand_computation():
    # conv weight (O=2, I=1, 1, 2): rows [1, 0] vs [0, 1] (orthogonal) and [1, 1] vs [2, 2] (parallel)
    conv_g = torch.tensor([[[[1.0, 0.0]]], [[[1.0, 1.0]]]])
    conv_l = torch.tensor([[[[0.0, 1.0]]], [[[2.0, 2.0]]]])
    # linear weight (O=2, I=2): [3, 4] vs [3, 4] (same), [1, 0] vs [-1, 0] (opposite)
    fc_g = torch.tensor([[3.0, 4.0], [1.0, 0.0]])
    fc_l = torch.tensor([[3.0, 4.0], [-1.0, 0.0]])
    # a bias: whatever its gradients, it contributes 0 but counts in P
    bias_g, bias_l = torch.tensor([1.0, -2.0, 3.0]), torch.tensor([-5.0, 0.5, 0.0])
    d_conv = ((1 - _cos([1, 0], [0, 1])) + (1 - _cos([1, 1], [2, 2]))) / 2
    d_fc = ((1 - _cos([3, 4], [3, 4])) + (1 - _cos([1, 0], [-1, 0]))) / 2
    assert d_conv == pytest.approx(0.5, abs=1e-6) and d_fc == pytest.approx(1.0, abs=1e-6)
    got = gradient_matching_distance([conv_g, fc_g, bias_g], [conv_l, fc_l, bias_l])
    assert float(got) == pytest.approx((d_conv + d_fc + 0) / 3, rel=1e-6)  # P = 3, the bias adds 0
    without_bias = gradient_matching_distance([conv_g, fc_g], [conv_l, fc_l])
    assert float(without_bias) == pytest.approx((d_conv + d_fc) / 2, rel=1e-6)
    # a 3-D tensor is (O, rest); the eps is the hand formula's (|a||b| + 1e-6), not a clamp of each norm
    g3, l3 = torch.tensor([[[1e-4, 0.0]], [[0.0, 2.0]]]), torch.tensor([[[1e-4, 0.0]], [[1.0, 1.0]]])
    hand = ((1 - _cos([1e-4, 0], [1e-4, 0])) + (1 - _cos([0, 2], [1, 1]))) / 2
    assert float(gradient_matching_distance([g3], [l3])) == pytest.approx(hand, rel=1e-6)
    assert hand > 0.01 + (1 - np.sqrt(0.5)) / 2  # the eps matters for the tiny row
    # only 1-D tensors: zero
    assert float(gradient_matching_distance([bias_g], [bias_l])) == 0.0
    with pytest.raises(ValueError, match="shapes differ"):
        gradient_matching_distance([conv_g], [fc_l])


def test_distance_is_differentiable_in_the_generated_gradients():
    g = torch.randn(3, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    l, b = torch.randn(3, 2, 3, 3, dtype=torch.float64), torch.randn(3, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x: gradient_matching_distance([x, b], [l, b]), (g,))


# --- the method: matched parameters, the second-order path, the phases ---------------------------------


def test_matched_parameters_follow_the_regex():
    method = tiny_method()
    names = [n for n, _ in method.matched]
    assert names == [n for n, _ in method.S.named_parameters()]  # UNet default: all, 1-D included
    assert any(p.ndim == 1 for _, p in method.matched)
    only_out = [n for n, _ in matched_parameters(method.S, r"outc\..*")]
    assert only_out == ["outc.weight", "outc.bias"]
    with pytest.raises(GanbenchError, match="matches no parameter"):
        tiny_method(gm_regex="nothing")
    with pytest.raises(ConfigError, match=r"gm_regex: '\(' is not a regular expression"):
        tiny_method(gm_regex="(")


def _fixed_inputs(method, n=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 3, 16, 16, generator=g) * 2 - 1
    parts = torch.randint(0, method.num_classes, (n, 16, 16), generator=g)
    x_g, features = method.generate(torch.randn(n, method.G.z_dim, generator=g), noise_mode="const")
    return images, parts, x_g, features


def test_matching_loss_reaches_the_annotator_by_second_order_and_a_step_lowers_it():
    torch.manual_seed(0)
    method = tiny_method()
    for p in method.S.parameters():
        p.requires_grad_(False)  # as the loop leaves S in A's phase
    images, parts, x_g, features = _fixed_inputs(method)
    method.A.eval(), method.S.eval()  # fixed statistics, so that the loss is a function of A alone
    loss = method.matching_loss(images, parts, x_g, features)["loss_gm"]
    grads = torch.autograd.grad(loss, list(method.A.parameters()))
    assert all(p.grad is None for p in method.S.parameters())
    head = dict(zip([n for n, _ in method.A.named_parameters()], grads))
    assert float(head["head.6.weight"].abs().sum()) > 0 and float(head["laterals.0.weight"].abs().sum()) > 0
    # a small step along -grad lowers the matching loss (the second-order gradient has the right sign)
    before = float(loss.detach())
    with torch.no_grad():
        for p, g in zip(method.A.parameters(), grads):
            p -= 0.05 * g / (sum(float(x.pow(2).sum()) for x in grads) ** 0.5)
    after = float(method.matching_loss(images, parts, x_g, features)["loss_gm"].detach())
    assert after < before


def test_each_phase_updates_only_its_network():
    from ganbench.methods.base import Phase, StepContext
    from ganbench.train.batch_random import BatchRandom

    torch.manual_seed(0)
    method = tiny_method()
    assert [(p.name, p.network) for p in method.phases()] == [("Amain", "A"), ("Smain", "S")]
    optimizers = make_optimizers(method, list(method.G.parameters()))
    assert all(
        type(o) is torch.optim.SGD and o.defaults["momentum"] == 0.9 and o.defaults["lr"] == 1e-3
        for o in optimizers.values()
    )
    images, parts, _, _ = _fixed_inputs(method)
    from ganbench.methods.base import Batch

    batch = Batch(images=images, labels=torch.zeros(2, 0), parts=parts)
    ctx = StepContext(
        rng=BatchRandom(0),
        step=0,
        nimg=0,
        rank=0,
        world_size=1,
        device=torch.device("cpu"),
        all_reduce_mean=lambda x: x,
    )
    for network, other in (("A", "S"), ("S", "A")):
        for name, net in method.trainable().items():
            net.requires_grad_(name == network)
            net.zero_grad(set_to_none=True)
        losses = method.accumulate_gradients(Phase(f"{network}main", network), batch, ctx)
        assert all(torch.isfinite(v) for v in losses.values())
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in getattr(method, network).parameters())
        assert all(p.grad is None for p in getattr(method, other).parameters())
        assert all(p.grad is None for p in method.G.parameters())


def test_a_training_run_logs_both_phases_and_keeps_the_generator_frozen(trained_lagm, trained_gan):
    ckpt = load_checkpoint(trained_lagm)
    assert not any(k.startswith("G.") for k in ckpt["state"])
    assert set(ckpt["optimizers"]) == {"A", "S"} and ckpt["step"] == 2
    lines = (trained_lagm.parent / "log.jsonl").read_text().splitlines()
    assert all(k in lines[-1] for k in ("loss_gm", "loss_labelled", "loss_student"))
    method = load_annotator(trained_lagm)
    parent = load_checkpoint(trained_gan)
    for key, value in method.G.state_dict().items():
        torch.testing.assert_close(value, parent["state"][f"G_ema.{key}"], rtol=0, atol=0)


# --- generated pairs ----------------------------------------------------------------------------------


def test_generated_pairs_are_deterministic_labelled_by_the_annotator_and_train_a_segmenter(
    trained_lagm, faces, tmp_path
):
    a, b = tmp_path / "a", tmp_path / "b"
    generate_pairs(trained_lagm, a / "images.zip", a / "annotations.h5", count=5, seed=3, batch=2)
    generate_pairs(trained_lagm, b / "images.zip", b / "annotations.h5", count=6, seed=3, batch=4)
    check_pair(a / "images.zip", a / "annotations.h5")
    ann_a, ann_b = read_annotations(a / "annotations.h5"), read_annotations(b / "annotations.h5")
    np.testing.assert_array_equal(ann_a.label, ann_b.label[:5])  # image i depends on seed + i only
    assert ann_a.classes == read_annotations(faces / "annotations.h5").classes and not ann_a.is_test.any()
    # the labels are the annotator's argmax on the generator's images of those seeds
    method = load_annotator(trained_lagm)
    rng = _PerSeedRandom(range(3, 8), "cpu")
    images, labels = method.label(rng.randn(5, method.G.z_dim), rng=rng)
    np.testing.assert_array_equal(ann_a.label, labels.numpy())
    pixels = TrainingData(a / "images.zip", ("images", "parts"), annotations=a / "annotations.h5", split="train")
    assert len(pixels) == 5
    expected = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    np.testing.assert_array_equal(pixels[2]["images"], expected[2])
    np.testing.assert_array_equal(pixels[2]["parts"], ann_a.label[2])
    # the segmenter stage trains on them as its dataset
    spec = {"name": "seg", "method": "segmenter", "options": dict(TINY["segmenter"]), "kimg": 0.004}
    exp = validate_config(config_with(spec))["experiments"][0]
    final = training_loop(
        exp, b / "images.zip", tmp_path / "seg", device="cpu", inputs={"annotations": str(b / "annotations.h5")}
    )
    assert load_checkpoint(final)["input_sha256"]["data"] == sha256_file(b / "images.zip")


def test_generated_pairs_refuse_bad_input(trained_lagm, trained_gan, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(GanbenchError, match="count 0 is not an integer >= 1"):
        generate_pairs(trained_lagm, out / "images.zip", out / "annotations.h5", count=0)
    with pytest.raises(GanbenchError, match="a StyleGAN2-ADA checkpoint, not a LAGM annotator"):
        generate_pairs(trained_gan, out / "images.zip", out / "annotations.h5", count=2)
    wider = load_checkpoint(trained_gan)
    big = build_method("stylegan2", wider["experiment"]["options"], 32)
    torch.save({**wider, "resolution": 32, "state": big.state_dict()}, tmp_path / "g32.pt")
    with pytest.raises(GanbenchError, match=r"g32\.pt: its generator makes 32 px images; the annotator .* 16 px"):
        generate_pairs(trained_lagm, out / "images.zip", out / "annotations.h5", count=2, generator=tmp_path / "g32.pt")
    assert not out.exists() or not any(out.iterdir())


# --- bad input at training --------------------------------------------------------------------------


def test_a_generator_of_another_resolution_is_refused():
    with pytest.raises(
        GanbenchError, match="method lagm: the generator makes 16 px images, the experiment trains at 32 px"
    ):
        tiny_method(resolution=32, generator_resolution=16)


def test_a_mask_class_out_of_range_is_refused(faces, trained_gan, tmp_path):
    bad = tmp_path / "annotations.h5"
    bad.write_bytes((faces / "annotations.h5").read_bytes())
    with h5py.File(bad, "r+") as f:
        label = f["label"][:]
        label[:, 0, 0] = 200
        f["label"][:] = label
    exp = validate_config(config_with(lagm(inputs={"generator": {"checkpoint": str(trained_gan)}})))["experiments"][0]
    with pytest.raises(GanbenchError, match=r"a part mask has class id 200, the annotations list 8 classes \(0\.\.7\)"):
        training_loop(
            exp,
            faces / "images.zip",
            tmp_path / "run",
            device="cpu",
            inputs={"generator": str(trained_gan), "annotations": str(bad)},
        )


def test_more_labels_than_the_labelled_set_is_refused(faces, trained_gan, tmp_path):
    with pytest.raises(
        ConfigError, match=r"experiments\.1\.train_images: 23 is more than the 22 training images of faces"
    ):
        validate_config(config_with(gan(), lagm(train_images=23)))
    lone = validate_experiment(
        {
            **lagm(inputs={"generator": {"checkpoint": str(trained_gan)}}),
            "dataset": "faces",
            "resolution": 16,
            "batch": 4,
            "kimg": 0.004,
            "workers": 0,
            "train_images": 19,
        },
        "exp.json",
    )
    with pytest.raises(GanbenchError, match=r"train_images 19 is more than the 18 training images"):
        training_loop(
            lone,
            faces / "images.zip",
            tmp_path / "run",
            device="cpu",
            inputs={"generator": str(trained_gan), "annotations": str(faces / "annotations.h5")},
        )


def test_options_are_checked_at_validation():
    with pytest.raises(ConfigError, match=r"experiments\.1\.options\.optimizer: unknown value 'rmsprop'"):
        validate_config(config_with(gan(), lagm(options={"optimizer": "rmsprop"})))
    with pytest.raises(ConfigError, match=r"experiments\.1\.batch: LAGM needs at least 2 images per micro-batch"):
        validate_config(config_with(gan(), lagm(batch=4, batch_per_gpu=1)))
    with pytest.raises(ConfigError, match=r"experiments\.1\.options\.momentum: expected a number in \[0, 1\)"):
        validate_config(config_with(gan(), lagm(options={"momentum": 1.0})))


def test_the_pairs_command_writes_a_checked_pair(trained_lagm, trained_gan, tmp_path, capsys):
    from ganbench.cli import main

    out = tmp_path / "pairs"
    assert (
        main(
            [
                "pairs",
                str(trained_lagm),
                "--count",
                "3",
                "--seed",
                "3",
                "--batch",
                "2",
                "--out",
                str(out),
                "--generator",
                str(trained_gan),
            ]
        )
        == 0
    )
    assert "wrote 3 generated images" in capsys.readouterr().out
    check_pair(out / "images.zip", out / "annotations.h5")
    direct = tmp_path / "direct"
    generate_pairs(trained_lagm, direct / "images.zip", direct / "annotations.h5", count=3, seed=3)
    assert sha256_file(out / "images.zip") == sha256_file(direct / "images.zip")


# --- the DeepLabv3 student -------------------------------------------------------------------------------


def test_deeplab_student_is_torchvisions_and_matches_its_classifier():
    from torchvision.models.segmentation import deeplabv3_resnet101

    from ganbench.nets.deeplab import DeepLabV3

    ours = {k: tuple(v.shape) for k, v in DeepLabV3(5).net.state_dict().items()}
    theirs = {
        k: tuple(v.shape)
        for k, v in deeplabv3_resnet101(weights=None, weights_backbone=None, num_classes=5).state_dict().items()
    }
    assert ours == theirs  # so a torchvision resnet101 state dict loads under net.backbone
    method = tiny_method(student="deeplabv3", deeplab_layers=[1, 1, 1, 1])
    names = [n for n, _ in method.matched]
    assert names and all(n.startswith("net.classifier.") for n in names)
    assert len(names) == sum(1 for n, _ in method.S.named_parameters() if "classifier" in n)


def test_deeplab_student_trains_from_a_backbone_weights_file(faces, trained_gan, tmp_path, capsys):
    """A tiny randomly initialised stand-in of the ImageNet ResNet (same structure, one block per stage): its
    state dict, with torchvision's names and its unused fc, is the backbone input."""
    from torchvision.models.resnet import Bottleneck, ResNet

    torch.manual_seed(1)
    weights = tmp_path / "resnet.pth"
    torch.save(ResNet(Bottleneck, [1, 1, 1, 1]).state_dict(), weights)
    spec = lagm(
        inputs={"generator": {"checkpoint": str(trained_gan)}, "backbone": {"weights": str(weights)}},
        options={**TINY["lagm"], "student": "deeplabv3", "deeplab_layers": [1, 1, 1, 1]},
        init_from={"S.net.backbone": "backbone:."},
        kimg=0.004,
    )
    exp = validate_config(config_with(spec))["experiments"][0]
    final = training_loop(
        exp,
        faces / "images.zip",
        tmp_path / "run",
        device="cpu",
        inputs={"generator": str(trained_gan), "annotations": str(faces / "annotations.h5"), "backbone": str(weights)},
    )
    out = capsys.readouterr().out
    assert "init_from S.net.backbone <- " in out and "ignored: fc.weight, fc.bias" in out
    ckpt = load_checkpoint(final)
    stand_in = torch.load(weights)
    assert ckpt["step"] == 1 and ckpt["input_sha256"]["backbone"] == sha256_file(weights)
    # the backbone started from the file and then trained (one S step; SGD moves conv1 a little)
    conv1 = ckpt["state"]["S.net.backbone.conv1.weight"]
    assert 0 < float((conv1 - stand_in["conv1.weight"]).abs().max()) < 1e-2


# --- the chain: pairs datasets, their shards, the DatasetGAN-style baseline ----------------------------


def test_a_pairs_dataset_names_an_annotator_at_its_resolution():
    pairs = {"source": "pairs", "experiment": "lagm"}
    seg = {"name": "seg", "method": "segmenter", "options": {}, "dataset": "fp"}
    config = validate_config(config_with(gan(), lagm(), seg, fp=pairs))
    assert config["datasets"]["fp"] == {**pairs, "count": 10000, "seed": 0, "shard_size": 2500}
    assert config["experiments"][2]["inputs"] == {"annotations": {"annotations": "fp"}}
    from ganbench.config import dataset_targets, pairs_test_dataset

    assert pairs_test_dataset(config, "fp") == "faces" and pairs_test_dataset(config, "faces") == "faces"
    assert ("fp", 32) not in dataset_targets(config)  # pairs exist at their annotator's resolution only
    with pytest.raises(ConfigError, match=r"datasets\.fp\.experiment: 'gan' \(StyleGAN2-ADA\) labels no generated"):
        validate_config(config_with(gan(), lagm(), fp={**pairs, "experiment": "gan"}))
    with pytest.raises(ConfigError, match=r"datasets\.fp\.experiment: unknown experiment 'lgm'"):
        validate_config(config_with(gan(), lagm(), fp={**pairs, "experiment": "lgm"}))
    with pytest.raises(ConfigError, match=r"experiments\.2\.resolution: 32, but the pairs 'fp' are 16 px"):
        validate_config(config_with(gan(), lagm(), {**seg, "resolution": 32}, fp=pairs))
    with pytest.raises(ConfigError, match=r"experiments\.2\.train_images: 11 is more than the 10 training images"):
        validate_config(config_with(gan(), lagm(), {**seg, "train_images": 11}, fp={**pairs, "count": 10}))


def test_shards_merge_into_the_set_one_job_writes(trained_lagm, tmp_path):
    from ganbench.data.generated_pairs import merge_pairs

    whole, a, b, merged = (tmp_path / n for n in ("whole", "a", "b", "merged"))
    generate_pairs(trained_lagm, whole / "images.zip", whole / "annotations.h5", count=5, seed=2)
    generate_pairs(trained_lagm, a / "images.zip", a / "annotations.h5", count=3, seed=2)
    generate_pairs(trained_lagm, b / "images.zip", b / "annotations.h5", count=2, seed=5)
    shards = [(a / "images.zip", a / "annotations.h5"), (b / "images.zip", b / "annotations.h5")]
    assert merge_pairs(shards, merged / "images.zip", merged / "annotations.h5") == 5
    check_pair(merged / "images.zip", merged / "annotations.h5")
    one, two = read_annotations(whole / "annotations.h5"), read_annotations(merged / "annotations.h5")
    np.testing.assert_array_equal(one.label, two.label)
    x = TrainingData(whole / "images.zip", ("images",))
    y = TrainingData(merged / "images.zip", ("images",))
    for i in range(5):
        np.testing.assert_array_equal(x[i]["images"], y[i]["images"])
    with pytest.raises(GanbenchError, match="no shards"):
        merge_pairs([], merged / "x.zip", merged / "x.h5")


def test_datasetgan_mlp_inverts_each_labelled_image_once_trains_and_labels_pairs(faces, trained_gan, tmp_path):
    spec = {
        "name": "dg",
        "method": "datasetgan_mlp",
        "options": {"hidden": [8, 4], "invert_steps": 5, "preview_images": 4},
        "inputs": {"generator": {"checkpoint": str(trained_gan)}},
        "kimg": 0.012,
        "train_images": 4,
    }
    exp = validate_config(config_with(spec))["experiments"][0]
    inputs = {"generator": str(trained_gan), "annotations": str(faces / "annotations.h5")}
    final = training_loop(exp, faces / "images.zip", tmp_path / "dg", device="cpu", inputs=inputs)
    ckpt = load_checkpoint(final)
    assert not any(k.startswith("G.") for k in ckpt["state"])  # the frozen generator is not copied
    log = [line for line in (tmp_path / "dg" / "log.jsonl").read_text().splitlines() if "loss_pixel" in line]
    assert log
    method = load_annotator(final)
    images = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    ws = method.invert(images)
    assert ws.shape == (2, method.G.num_ws, method.G.w_dim) and len(method._inverted) == 2
    method.invert(images.flip(0))  # the same two images: no new inversion
    assert len(method._inverted) == 2
    # the inversion lowers the reconstruction error from the mean w
    w_avg = method.G.mapping.w_avg.expand(2, method.G.num_ws, -1)
    mse = [float(((method.G.synthesis(w, noise_mode="const") - images) ** 2).mean()) for w in (w_avg, ws)]
    assert mse[1] < mse[0]
    out = tmp_path / "pairs"
    generate_pairs(final, out / "images.zip", out / "annotations.h5", count=3, seed=0)
    labels = read_annotations(out / "annotations.h5").label
    assert labels.shape == (3, 16, 16) and labels.max() < len(method.classes)


def test_cross_validation_picks_the_best_snapshot_per_fold_by_hand():
    from ganbench.metrics.part_segmentation import _cross_validate
    from ganbench.metrics.protocols import get_protocol

    # 5 test images, 2 classes, per-image confusions [target, pred]; folds of 1 image
    right = np.array([[3, 0], [0, 1]])  # all correct: IoU 1, 1
    wrong = np.array([[2, 1], [1, 0]])  # IoU(0) = 2/4, IoU(1) = 0
    a = np.stack([right, right, wrong, wrong, wrong])  # snapshot a: good on images 0-1
    b = np.stack([wrong, wrong, right, right, right])  # snapshot b: good on images 2-4
    folds = _cross_validate({"a.pt": a, "b.pt": b}, get_protocol("miou_cv5"), background=0, exclude=())
    assert [f["snapshot"] for f in folds] == ["a.pt", "a.pt", "b.pt", "b.pt", "b.pt"]

    def miou(conf):
        tp = np.diag(conf)
        return float(np.mean(tp / (conf.sum(0) + conf.sum(1) - tp)))

    # fold 0 tests snapshot a on images 1-4: confusion right + 3 wrong
    assert folds[0]["test"]["miou"] == pytest.approx(miou(right + 3 * wrong))
    assert folds[2]["test"]["miou"] == pytest.approx(miou(2 * wrong + 2 * right))


def test_celebamask_import_paints_19_parts_in_order_merges_to_8_and_keeps_the_split(tmp_path):
    import PIL.Image

    from ganbench.data.labelled import CELEBA_8, import_celebamask

    root = tmp_path / "CelebAMask-HQ"
    (root / "CelebA-HQ-img").mkdir(parents=True)
    for index in (27999, 28000, 28001, 29500):
        PIL.Image.fromarray(np.full((64, 64, 3), index % 251, np.uint8)).save(root / "CelebA-HQ-img" / f"{index}.jpg")
        masks = root / "CelebAMask-HQ-mask-anno" / str(index // 2000)
        masks.mkdir(parents=True, exist_ok=True)

        def part(name, rows):
            layer = np.zeros((512, 512), np.uint8)
            layer[rows] = 255
            PIL.Image.fromarray(layer).save(masks / f"{index:05d}_{name}.png")

        part("skin", slice(0, 256))  # top half skin ...
        part("eye_g", slice(0, 64))  # ... glasses stay skin
        part("l_eye", slice(32, 64))  # eye painted after glasses
        part("cloth", slice(192, 256))  # cloth, painted last, becomes background
        part("hair", slice(256, 320))
    out = tmp_path / "out"
    n = import_celebamask(
        tmp_path,
        out / "images.zip",
        out / "annotations.h5",
        16,
        indices=(range(28000, 28002), range(29500, 29501), range(27999, 28000)),
    )
    assert n == 4
    check_pair(out / "images.zip", out / "annotations.h5")
    a = read_annotations(out / "annotations.h5")
    assert a.classes == list(CELEBA_8) and a.is_test.tolist() == [False, False, True, False]
    assert a.is_val.tolist() == [False, False, False, True]  # the official validation images
    assert read_annotation_attrs(out / "annotations.h5")["test_set"] == "celebamask-hq-29500-29999"
    column = a.label[0][:, 0]  # 512 rows -> 16: 32 source rows per row
    name = [CELEBA_8[c] for c in column]
    assert name[:1] == ["skin"] and name[1] == "eye" and name[6] == "background" and name[8] == "hair"
    assert name[4] == "skin" and name[12] == "background"
    with pytest.raises(Exception, match="expected CelebA-HQ-img"):
        import_celebamask(tmp_path / "nothing", out / "x.zip", out / "x.h5", 16)


def test_a_released_network_is_a_generator_input_by_name():
    spec = lagm(inputs={"generator": {"network": "celeba0-28k-paper256-ada"}}, resolution=256)
    exp = validate_config(config_with(spec))["experiments"][0]
    from ganbench.config import input_files

    assert input_files({}, exp)["generator"] == "results/networks/celeba0-28k-paper256-ada.ckpt.pt"
    with pytest.raises(ConfigError, match=r"inputs\.generator\.network: 'celeba' is not an importable network"):
        validate_config(config_with(lagm(inputs={"generator": {"network": "celeba"}})))


def test_validation_rows_of_a_best_validation_pick():
    from types import SimpleNamespace

    from ganbench.metrics.part_segmentation import _validation_rows

    is_test = np.array([False] * 6 + [True] * 2)
    with_val = SimpleNamespace(is_test=is_test, is_val=np.array([False] * 4 + [True] * 2 + [False] * 2))
    assert _validation_rows(with_val, {}, __file__).tolist() == [4, 5]  # the import's validation split
    plain = SimpleNamespace(is_test=is_test, is_val=None)
    other = {"input_sha256": {"data": "0" * 64}, "experiment": {"train_images": 2}}  # trained on other data
    assert _validation_rows(plain, other, __file__).tolist() == [0, 1, 2, 3, 4, 5]
    from ganbench.fileio import sha256_file

    here = {"input_sha256": {"data": sha256_file(__file__)}, "experiment": {"train_images": 2}}
    assert _validation_rows(plain, here, __file__).tolist() == [2, 3, 4, 5]  # not the 2 it trained on
    everything = {"input_sha256": {"data": sha256_file(__file__)}, "experiment": {"train_images": None}}
    assert _validation_rows(plain, everything, __file__).tolist() == []  # then the last snapshot is scored


def test_published_values_stand_beside_ours_only_where_dataset_resolution_and_protocol_match(tmp_path):
    """paper.yaml's LAGM rows with records as evaluate_segmenter writes them: CelebA at 10 labels (the student, best
    validation snapshot, the official test set) shows the README's 74.41; the DatasetGAN comparison's cat-16
    StyleGAN2 DeepLab pairs segmenter shows 33.56 ± 0.17; the same CelebA row scored on its last snapshot shows
    none; the embedded default's synthetic rows show none."""
    import json
    from pathlib import Path

    from ganbench.config import REPO_ROOT, load_config
    from ganbench.metrics.paths import eval_path
    from ganbench.metrics.protocols import PROTOCOLS
    from ganbench.tables.render import build_table
    from ganbench.tables.specs import configured_specs

    def write(root, experiment, protocol, metric, value, **keys):
        p = PROTOCOLS[protocol]
        path = Path(eval_path(experiment, metric, protocol, root=root))
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"metric": metric, "value": value, "protocol": {**p.record(), "split": "test", **keys}}
        if p.folds > 1:
            record["std"] = 0.01
        path.write_text(json.dumps(record))

    def tables(config, root):
        specs = configured_specs(
            ["lagm_semi", "lagm_datasetgan"],
            config["experiments"],
            ["fg_miou", "miou_cv5"],
            datasets=config["datasets"],
        )
        return {s.name: build_table(s, config["experiments"], root) for s in specs}

    paper = load_config(REPO_ROOT / "config" / "paper.yaml")
    celeba = {"num_classes": 8, "test_set": "celebamask-hq-29500-29999", "images": 500}
    write(
        tmp_path / "a", "lagm-celebamask-hq-10-256", "fg_miou", "fg_miou", 0.7, selection="best-val-fg-miou", **celeba
    )
    cv = {"num_classes": 16, "cv_folds": 5, "selection": "best-val-miou-last-20", "images": 100}
    write(tmp_path / "a", "segmenter-lagm-datasetgan-cat-16-stylegan2-deeplab-256", "miou_cv5", "miou", 0.3, **cv)
    shown = tables(paper, tmp_path / "a")
    semi = shown["lagm_semi-celebamask-hq-8-256"]
    row = semi.row_labels.index("LAGM student S (deeplabv3-resnet101, stylegan2), 10 labels")
    assert semi.cells[row][0].published.value == 74.41
    dg = shown["lagm_datasetgan-datasetgan-cat-16-256"]
    row = dg.row_labels.index("segmenter (deeplabv3-resnet101) on 10000 LAGM pairs (stylegan2), all labels")
    assert (dg.cells[row][0].published.value, dg.cells[row][0].published.std) == (33.56, 0.17)
    write(tmp_path / "b", "lagm-celebamask-hq-10-256", "fg_miou", "fg_miou", 0.7, selection="last-snapshot", **celeba)
    semi = tables(paper, tmp_path / "b")["lagm_semi-celebamask-hq-8-256"]
    assert all(line[0].published is None for line in semi.cells)

    quick = load_config(REPO_ROOT / "config" / "config.yaml")
    for name in ("lagm-synthfaces-32", "segmenter-lagm-synthfaces-32", "segmenter-labelled-synthfaces-32"):
        write(tmp_path / "c", name, "fg_miou", "fg_miou", 0.2, num_classes=8, selection="best-val-fg-miou", images=6)
        write(tmp_path / "c", name, "miou_cv5", "miou", 0.3, num_classes=8, cv_folds=5, images=6)
    for table in tables(quick, tmp_path / "c").values():
        assert all(cell.published is None for line in table.cells for cell in line)


def test_a_generator_of_the_wrong_resolution_fails_at_validation():
    spec = lagm(inputs={"generator": {"network": "celeba0-28k-paper256-ada"}}, resolution=128)
    with pytest.raises(ConfigError, match=r"inputs\.generator: 'celeba0-28k-paper256-ada' makes 256 px images, the"):
        validate_config(config_with(spec))
    with pytest.raises(ConfigError, match=r"makes 16 px images, the experiment's resolution is 32"):
        validate_config(config_with(gan(), lagm(resolution=32)))
    face = lagm(
        inputs={"generator": {"network": "karras2019stylegan-celebahq-1024x1024"}},
        resolution=512,
        options={**TINY["lagm"], "generator_resolution": 1024},
    )
    assert validate_config(config_with(face))["experiments"][0]["options"]["generator_resolution"] == 1024

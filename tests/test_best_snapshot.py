"""The shared best-FID snapshot (ganbench.metrics.best_snapshot): which snapshots count, which one wins, the copy a
child starts from, and the `best_fid` input source at validation."""

from __future__ import annotations

import copy
import json

import pytest
import torch

import ganbench.metrics.gan_metrics as gan_metrics
from ganbench.config import experiment_order, input_files, selection_generator, validate_config
from ganbench.errors import ConfigError, GanbenchError
from ganbench.fileio import sha256_file
from ganbench.metrics.best_snapshot import best_fid_snapshot, run_snapshots
from ganbench.metrics.protocols import get_protocol
from ganbench.train.checkpoint import checkpoint_name, save_checkpoint

from test_stages import config_with, encoder, gan

EXPERIMENT = {"name": "g", "method": "stylegan2", "kimg": 12, "options": {"r1_gamma": 1.0}}
INPUTS = {"data": "aa"}


def _snapshot(run_dir, kimg, experiment=EXPERIMENT, inputs=INPUTS, final=False):
    payload = {
        "method": "stylegan2",
        "experiment": experiment,
        "resolution": 16,
        "nimg": int(kimg * 1000),
        "input_sha256": inputs,
        "state": {"w": torch.full((2,), float(kimg))},
    }
    paths = [run_dir / checkpoint_name(kimg)] + ([run_dir / "final.pt"] if final else [])
    save_checkpoint(payload, *paths)
    return paths[0]


@pytest.fixture
def run_dir(tmp_path):
    """Snapshots at 4, 8 and 12 kimg (the last also final.pt), and two that another trajectory left behind."""
    run = tmp_path / "runs" / "g"
    run.mkdir(parents=True)
    for kimg in (4, 8):
        _snapshot(run, kimg)
    _snapshot(run, 12, final=True)
    _snapshot(run, 2, experiment={**EXPERIMENT, "options": {"r1_gamma": 5.0}})  # another configuration
    _snapshot(run, 6, inputs={"data": "bb"})  # trained on other data
    _snapshot(run, 16, experiment={**EXPERIMENT, "kimg": 16})  # past this final (a longer run resumed later)
    return run


@pytest.fixture
def fid_by_kimg(monkeypatch):
    """FID stands in as a function of the snapshot's kimg (the selection policy is what is under test here; the
    FID itself is torch-fidelity's, tested in test_metrics and end to end in the pipeline tests)."""
    values = {}

    def evaluate(path, stats, extractor, protocol, out_dir, metrics=None, batch=32):
        kimg = torch.load(path, weights_only=True)["nimg"] / 1000
        return {"fid": {"metric": "fid", "value": values[kimg], "protocol": protocol.as_dict()}}

    monkeypatch.setattr(gan_metrics, "evaluate_checkpoint", evaluate)
    return values


def test_only_the_finals_own_trajectory_counts(run_dir):
    assert [k for k, _ in run_snapshots(run_dir / "final.pt")] == [4, 8, 12]


def test_the_lowest_fid_wins_and_its_exact_file_is_copied(run_dir, fid_by_kimg, tmp_path):
    fid_by_kimg.update({4.0: 30.0, 8.0: 12.5, 12.0: 14.0})
    stats = tmp_path / "stats.h5"
    stats.write_bytes(b"x")
    out = tmp_path / "eval"
    copy_path = tmp_path / "runs" / "g" / "best-fid-probe2k_full.pt"
    record = best_fid_snapshot(run_dir / "final.pt", stats, None, get_protocol("probe2k_full"), out, copy_path)
    assert record["best_kimg"] == 8 and record["value"] == 12.5
    assert record["per_snapshot"] == {"4": 30.0, "8": 12.5, "12": 14.0}
    assert record["snapshot"] == checkpoint_name(8)
    assert record["protocol"]["snapshot_policy"].startswith("best FID")
    assert sha256_file(copy_path) == sha256_file(run_dir / checkpoint_name(8)) == record["snapshot_sha256"]
    assert json.loads((out / "fid-best.json").read_text())["best_kimg"] == 8


def test_a_tie_keeps_the_later_snapshot(run_dir, fid_by_kimg, tmp_path):
    fid_by_kimg.update({4.0: 10.0, 8.0: 10.0, 12.0: 11.0})
    stats = tmp_path / "stats.h5"
    stats.write_bytes(b"x")
    record = best_fid_snapshot(run_dir / "final.pt", stats, None, get_protocol("probe2k_full"), tmp_path / "e")
    assert record["best_kimg"] == 8


def test_bad_requests_fail_before_any_measurement(run_dir, tmp_path):
    with pytest.raises(GanbenchError, match="fg_miou: measures no FID"):
        best_fid_snapshot(run_dir / "final.pt", tmp_path, None, get_protocol("fg_miou"), tmp_path / "e")
    with pytest.raises(GanbenchError, match="missing.h5: statistics file not found"):
        best_fid_snapshot(run_dir / "final.pt", tmp_path / "missing.h5", None, get_protocol("probe2k_full"), tmp_path)
    with pytest.raises(GanbenchError, match="checkpoint not found"):
        run_snapshots(tmp_path / "nowhere" / "final.pt")
    assert not (tmp_path / "e").exists()


# --- the input source `best_fid` ------------------------------------------------------------------------------


def _continued(source="best_fid", parent="gan"):
    return gan("cont", inputs={"parent": {source: parent}}, init_from={"G": "parent", "G_ema": "parent"})


def test_a_best_fid_parent_is_the_snapshot_copy_under_the_snapshot_protocol():
    config = validate_config(config_with(gan(), _continued()))
    assert input_files(config, config["experiments"][1]) == {"parent": "results/runs/gan/best-fid-probe2k_full.pt"}
    assert experiment_order(config) == ["gan", "cont"]
    config = config_with(gan(), _continued())
    config["metrics"] = {"protocols": ["probe2k_full", "fid50k_full"], "snapshot_protocol": "fid50k_full"}
    config = validate_config(config)
    assert input_files(config, config["experiments"][1])["parent"].endswith("best-fid-fid50k_full.pt")


def test_a_cheaper_protocol_may_pick_the_snapshot_without_measuring_every_run():
    from ganbench.metrics.plan import all_gan_protocols, eval_files

    config = config_with(gan(), _continued())
    quick = {"base": "probe2k_full", "num_gen": 500, "metrics": ["fid"]}
    config["metrics"] = {"protocols": ["probe2k_full"], "custom": {"quick": quick}, "snapshot_protocol": "quick"}
    config = validate_config(config)
    assert input_files(config, config["experiments"][1])["parent"] == "results/runs/gan/best-fid-quick.pt"
    assert all_gan_protocols(config)["quick"].num_gen == 500  # a rule exists for it, sharing probe2k_full's stats
    assert not any("/quick/" in f for e in config["experiments"] for f in eval_files(config, e))


def test_a_parent_with_its_own_protocols_is_picked_by_its_first_fid_protocol():
    config = config_with(gan(protocols=["kid50k_full", "fid50k_ttur"]), _continued())
    config["metrics"] = {"protocols": ["probe2k_full"], "snapshot_protocol": "probe2k_full"}
    config = validate_config(config)
    assert input_files(config, config["experiments"][1])["parent"] == "results/runs/gan/best-fid-fid50k_ttur.pt"


def test_selections_probe_the_best_fid_snapshot_unless_told_final():
    config = config_with(gan())
    config["selections"] = {"s": {"generator": "gan", "candidates": ["probe"]}}
    assert selection_generator(validate_config(copy.deepcopy(config)), "s").endswith("best-fid-probe2k_full.pt")
    config["selections"]["s"]["snapshot"] = "final"
    assert selection_generator(validate_config(config), "s") == "results/runs/gan/final.pt"


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c["experiments"][1].update(inputs={"parent": {"best_fid": "nope"}}), "best_fid: unknown experiment"),
        (lambda c: c["experiments"][1].update(inputs={"parent": {"best_fid": "enc"}}), "provides no generator"),
        (
            lambda c: c.update(metrics={"protocols": ["fg_miou"]}),
            "inputs.parent.best_fid: metrics.protocols: none measures FID",
        ),
        (
            lambda c: c.update(metrics={"protocols": ["probe2k_full"], "snapshot_protocol": "fid5k"}),
            "metrics.snapshot_protocol: unknown protocol 'fid5k'",
        ),
        (
            lambda c: c.update(metrics={"protocols": ["probe2k_full", "fg_miou"], "snapshot_protocol": "fg_miou"}),
            "metrics.snapshot_protocol: 'fg_miou' is a segmentation protocol",
        ),
        (
            lambda c: c.update(
                metrics={
                    "protocols": ["probe2k_full"],
                    "custom": {"k": {"base": "probe2k_full", "metrics": ["kid"]}},
                    "snapshot_protocol": "k",
                }
            ),
            "metrics.snapshot_protocol: 'k' measures no FID",
        ),
    ],
)
def test_bad_best_fid_inputs_are_one_line_at_validation(change, message):
    config = config_with(gan(), _continued(), encoder())
    change(config)
    with pytest.raises(ConfigError, match=message):
        validate_config(config)

"""The training loop: data order, DDP equivalence, exact resume after SIGKILL, NaN guard, ADA, CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from ganbench.config import validate_config
from ganbench.data.build import make_synthetic_dataset
from ganbench.methods import Method, OptimizerSpec, register
from ganbench.methods.catalog import MethodEntry
from ganbench.train.loop import TrainingDiverged, training_loop
from ganbench.train.checkpoint import load_checkpoint
from ganbench.train.data import ShardedBatchSampler

TINY_OPTIONS = {
    "z_dim": 32,
    "w_dim": 32,
    "mapping_layers": 2,
    "channel_base": 256,
    "channel_max": 32,
    "g_reg_interval": 2,
    "d_reg_interval": 2,
    "r1_gamma": 1.0,
    "pl_weight": 2.0,
    "augment": "ada",
    "augment_p": 0.3,
    "ada_target": None,
}


def experiment(name="tiny", **overrides) -> dict:
    config = {
        "datasets": {"faces": {"source": "synthetic", "category": "face", "count": 64}},
        "experiments": [
            {
                "name": name,
                "method": "stylegan2",
                "dataset": "faces",
                "resolution": 16,
                "batch": 8,
                "kimg": 0.032,
                "snapshot_kimg": 1,
                "tick_kimg": 0.008,
                "workers": 0,
                "options": dict(TINY_OPTIONS),
                **overrides,
            }
        ],
    }
    return validate_config(config)["experiments"][0]


@pytest.fixture(scope="module")
def faces16(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("faces16")
    make_synthetic_dataset("face", 16, 64, 0, 0.1, out / "images.zip", out / "annotations.h5")
    return out / "images.zip"


def run_cli(exp: dict, data: Path, out: Path, *extra, wait=True):
    spec = out.parent / f"{out.name}.json"
    spec.write_text(json.dumps(exp))
    cmd = [
        sys.executable,
        "-m",
        "ganbench.cli",
        "train",
        "--experiment-json",
        str(spec),
        "--data",
        str(data),
        "--out",
        str(out),
        "--device",
        "cpu",
        "--deterministic",
        *extra,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GANBENCH_OPS": os.environ.get("GANBENCH_OPS", "ref")}
    if not wait:
        return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)


def assert_same_state(a: dict, b: dict, tol: float = 0.0) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if torch.is_tensor(a[key]):
            torch.testing.assert_close(a[key], b[key], atol=tol, rtol=tol, msg=key)


# --- data order ---------------------------------------------------------------------------------


def test_sharded_batches_union_to_the_single_process_batch():
    one = iter(ShardedBatchSampler(10, 4, 0, 1, seed=3))
    two = [iter(ShardedBatchSampler(10, 4, r, 2, seed=3)) for r in range(2)]
    for _ in range(7):  # crosses epoch boundaries
        assert next(one) == next(two[0]) + next(two[1])


def test_sampler_resumes_at_a_position():
    full = iter(ShardedBatchSampler(10, 4, 0, 1, seed=3))
    batches = [next(full) for _ in range(6)]
    resumed = iter(ShardedBatchSampler(10, 4, 0, 1, seed=3, start=12))
    assert [next(resumed) for _ in range(3)] == batches[3:]
    epoch0 = sum(batches[:2], []) + batches[2][:2]
    assert sorted(epoch0) == list(range(10))


# --- the loop with StyleGAN2 ---------------------------------------------------------------------


def test_two_ranks_equal_one_process(faces16, tmp_path):
    exp = experiment(kimg=0.024)  # 3 steps of global batch 8: G/D main and both regularisers
    single = run_cli(exp, faces16, tmp_path / "one")
    assert single.returncode == 0, single.stderr[-3000:]
    ddp = run_cli({**exp, "gpus": 2}, faces16, tmp_path / "two")
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    a = load_checkpoint(tmp_path / "one" / "final.pt")
    b = load_checkpoint(tmp_path / "two" / "final.pt")
    # Summation order differs between one process and an all-reduce, so the two agree to float32
    # rounding; Adam's first steps (update ~ lr * g / |g|) can amplify that on a parameter whose
    # gradient is near zero. Every parameter is within 1e-4 and all but a handful within 1e-5.
    assert a["state"].keys() == b["state"].keys()
    floats = [(k, v) for k, v in a["state"].items() if torch.is_tensor(v) and v.is_floating_point()]
    diffs = torch.cat([(v - b["state"][k]).abs().flatten() for k, v in floats])
    assert diffs.max() < 1e-4 and (diffs > 1e-5).float().mean() < 1e-4, (diffs.max(), (diffs > 1e-5).sum())
    assert a["nimg"] == b["nimg"] == 24 and len(b["rng"]) == 2


def straight_and_killed(exp: dict, data: Path, tmp_path: Path) -> tuple[dict, dict]:
    """The final checkpoints of an uninterrupted run and of a run SIGKILLed after its first checkpoint and
    resumed; asserts that both runs succeed and that their networks and optimisers are equal bit for bit."""
    straight = run_cli(exp, data, tmp_path / "straight")
    assert straight.returncode == 0, straight.stderr[-3000:]
    proc = run_cli(exp, data, tmp_path / "killed", wait=False)
    first = tmp_path / "killed" / "checkpoint-000001.pt"
    deadline = time.time() + 600
    while not first.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert first.exists() and not (tmp_path / "killed" / "final.pt").exists()
    resumed = run_cli(exp, data, tmp_path / "killed")
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    a = load_checkpoint(tmp_path / "straight" / "final.pt")
    b = load_checkpoint(tmp_path / "killed" / "final.pt")
    assert a["nimg"] == b["nimg"]
    assert_same_state(a["state"], b["state"])
    for name in a["optimizers"]:
        for pa, pb in zip(a["optimizers"][name]["state"].values(), b["optimizers"][name]["state"].values()):
            assert_same_state(pa, pb)
    return a, b


def test_killed_run_resumes_to_the_same_final_checkpoint(faces16, tmp_path):
    a, _ = straight_and_killed(experiment(kimg=3, tick_kimg=0.5), faces16, tmp_path)
    assert a["nimg"] == 3000
    assert (tmp_path / "killed" / "samples-000003.png").is_file()
    log = [json.loads(line) for line in (tmp_path / "killed" / "log.jsonl").read_text().splitlines()]
    kimgs = [r["kimg"] for r in log]
    assert kimgs == sorted(set(kimgs)) and len(kimgs) == 6 and kimgs[-1] == 3.0  # no lines repeated after resume
    assert "loss_G" in log[-1]


def test_ada_raises_p_when_the_discriminator_overfits(tmp_path):
    data = tmp_path / "few"
    make_synthetic_dataset("face", 16, 8, 0, 0.0, data / "images.zip", data / "annotations.h5")
    options = {
        **TINY_OPTIONS,
        "augment_p": 0.0,
        "ada_target": 0.6,
        "ada_interval": 1,
        "ada_kimg": 0.5,
        "d_lr": 0.01,
        "pl_weight": 0.0,
    }
    exp = experiment(kimg=0.4, tick_kimg=0.1, options=options)
    training_loop(exp, data / "images.zip", tmp_path / "run", device="cpu")
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert log[-1]["D_real_sign"] > 0.6  # the discriminator is sure of the 8 reals...
    assert log[-1]["augment_p"] > log[0]["augment_p"] > 0  # ...so ADA keeps raising p


# --- the NaN guard, with a method planted to diverge ---------------------------------------------


@dataclass(frozen=True)
class _DivergingOptions:
    nan_at_step: int = 5


@register(
    "diverging-test-method",
    MethodEntry(
        name="diverging-test-method",
        display="Diverging",
        module=__name__,
        options=_DivergingOptions,
        kind="gan",
        parts=("G",),
    ),
)
class _Diverging(Method):
    Options = _DivergingOptions

    def __init__(self, options, resolution, img_channels=3, label_dim=0, parents=None):
        super().__init__(options, resolution, img_channels, label_dim, parents)
        self.G = torch.nn.Linear(4, img_channels * resolution * resolution)

    def trainable(self):
        return {"G": self.G}

    def optimizer_specs(self):
        return {"G": OptimizerSpec(1e-3)}

    def accumulate_gradients(self, phase, batch, ctx):
        real = batch.images
        fake = self.G(ctx.rng.randn(len(real), 4)).view_as(real)
        loss = (fake - real).square().mean()
        if ctx.step == self.options.nan_at_step:
            loss = loss * float("nan")
        loss.backward()
        return {"loss": loss.detach()}

    def sample(self, seeds, **kwargs):
        z = torch.stack([torch.randn(4, generator=torch.Generator().manual_seed(s)) for s in seeds])
        return self.G(z).view(len(seeds), self.img_channels, self.resolution, self.resolution)


def test_nan_stops_the_run_cleanly(faces16, tmp_path):
    exp = {**experiment(), "method": "diverging-test-method", "options": {"nan_at_step": 130}, "kimg": 2}
    with pytest.raises(TrainingDiverged, match=r"step 130 \(1\.040 kimg\), phase Gmain: loss is not finite"):
        training_loop(exp, faces16, tmp_path / "run", device="cpu")
    assert (tmp_path / "run" / "checkpoint-000001.pt").is_file()
    assert not (tmp_path / "run" / "final.pt").exists()
    good = load_checkpoint(tmp_path / "run" / "checkpoint-000001.pt")
    assert all(torch.isfinite(v).all() for v in good["state"].values())


def test_changed_configuration_does_not_resume(faces16, tmp_path):
    exp = {**experiment(), "method": "diverging-test-method", "options": {"nan_at_step": -1}, "kimg": 1}
    training_loop(exp, faces16, tmp_path / "run", device="cpu")
    first = load_checkpoint(tmp_path / "run" / "final.pt")
    longer = {**exp, "kimg": 2}  # the same trajectory, longer: resumes at 1 kimg
    training_loop(longer, faces16, tmp_path / "run", device="cpu")
    assert load_checkpoint(tmp_path / "run" / "final.pt")["nimg"] == 2000
    other = {**exp, "seed": 1}  # a different trajectory: starts again from scratch, not from 2 kimg
    training_loop(other, faces16, tmp_path / "run", device="cpu")
    final = load_checkpoint(tmp_path / "run" / "final.pt")
    assert final["nimg"] == 1000 and final["experiment"]["seed"] == 1
    assert not torch.equal(final["state"]["G.weight"], first["state"]["G.weight"])


def test_bf16_autocast_and_gradient_accumulation_run(faces16, tmp_path):
    exp = experiment(kimg=0.016, precision="bf16", batch_per_gpu=4)  # 2 steps of 2 micro-batches
    final = training_loop(exp, faces16, tmp_path / "run", device="cpu")
    ckpt = load_checkpoint(final)
    assert ckpt["nimg"] == 16 and all(torch.isfinite(v).all() for v in ckpt["state"].values() if torch.is_tensor(v))

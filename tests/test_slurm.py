"""The pipeline on a real Slurm cluster (`.ci/slurm-up`, `profiles/ci-slurm`).

One tiny configuration runs twice, on this machine (`--cores 2`) and through Slurm, where the
training job (2 CPU ranks under torchrun, gloo) is cancelled with `scancel` after its first
checkpoint. The tests check that every job went through sbatch, that the training job ran its
ranks inside one job without an `srun` wrapper, that Snakemake resubmitted the cancelled job with
more memory and time and that it resumed from its checkpoint, that the results equal the local
run's, and that a job killed on the node fails alone. They skip only where no Slurm node is idle,
and fail instead when GANBENCH_REQUIRE_SLURM is set (CI, .ci/run). The launcher's own tests at the
end need no cluster.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import yaml

from ganbench.data.sources import open_source
from ganbench.errors import GanbenchError, OpsError
from ganbench.train import launch
from ganbench.train.checkpoint import load_checkpoint

from conftest import REPO_ROOT


PROFILE = REPO_ROOT / "profiles" / "ci-slurm"
ENV = {**os.environ, "GANBENCH_OPS": "ref", "OMP_NUM_THREADS": "1"}
EXP = "tiny-sg2"
RUN = Path("results/runs") / EXP
TINY_OPTIONS = {
    "z_dim": 16,
    "w_dim": 16,
    "mapping_layers": 2,
    "channel_base": 128,
    "channel_max": 16,
    "augment": "none",
}


def tiny_config() -> dict:
    """64 synthetic faces at 16 px; StyleGAN2 for 4 kimg on 2 ranks, a checkpoint every kimg; the
    smallest probe, statistics and evaluation the schema allows."""
    return {
        "datasets": {"tinyfaces": {"source": "synthetic", "category": "face", "count": 64, "seed": 3}},
        "data": {"resolutions": [16], "preview_count": 4},
        "experiments": [
            {
                "name": EXP,
                "method": "stylegan2",
                "dataset": "tinyfaces",
                "resolution": 16,
                "kimg": 4,
                "batch": 8,
                "gpus": 2,
                "snapshot_kimg": 1,
                "tick_kimg": 0.5,
                "workers": 0,
                "options": dict(TINY_OPTIONS),
            }
        ],
        "metrics": {
            "protocols": ["tiny"],
            "custom": {"tiny": {"base": "probe2k_full", "num_gen": 16, "kid_subset_size": 8}},
            "probe": {"resolution": 16, "steps": 5, "datasets": ["tinyfaces"]},
        },
    }


def slurm_unavailable() -> str | None:
    """Why no Slurm job can run here, or None when a node is idle."""
    for tool in ("sinfo", "sbatch", "squeue", "scancel"):
        if shutil.which(tool) is None:
            return f"no Slurm client here ({tool} not on PATH); start a one-node cluster with .ci/slurm-up"
    out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    if out.returncode != 0:
        first = (out.stderr.strip().splitlines() or ["no output"])[0]
        return f"no Slurm controller reachable (sinfo: {first}); start one with .ci/slurm-up"
    states = out.stdout.split()
    if not any(s.rstrip("*") in ("idle", "mixed") for s in states):
        return f"no idle Slurm node (sinfo states: {', '.join(states) or 'none'})"
    return None


@pytest.fixture(scope="module")
def cluster():
    reason = slurm_unavailable()
    if reason and os.environ.get("GANBENCH_REQUIRE_SLURM"):  # CI (.ci/run) started a cluster
        pytest.fail(f"GANBENCH_REQUIRE_SLURM is set but {reason}")
    if reason:
        pytest.skip(reason)


def on_slurm(test):
    """Mark a test that runs jobs on the cluster (skipped, with the reason, where there is none)."""
    for mark in (pytest.mark.slurm, pytest.mark.integration, pytest.mark.usefixtures("cluster")):
        test = mark(test)
    return test


def start(work: Path, *args: str, slurm: bool = True) -> subprocess.Popen:
    """Snakemake in ``work`` on its config.yaml; its output goes to ``work/snakemake.out``."""
    where = ["--profile", str(PROFILE)] if slurm else ["--cores", "2"]
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO_ROOT / "Snakefile"),
        "--configfile",
        "config.yaml",
        *where,
        *args,
    ]
    with open(work / "snakemake.out", "w") as out:
        return subprocess.Popen(cmd, cwd=work, env=ENV, stdout=out, stderr=subprocess.STDOUT, text=True)


def output_of(work: Path) -> str:
    return (work / "snakemake.out").read_text()


def new_workdir(tmp_path_factory, name: str, config: dict) -> Path:
    work = tmp_path_factory.mktemp(name)
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    return work


def submissions(text: str) -> list[tuple[str, str, Path]]:
    """(rule, Slurm job id, Slurm log) of every sbatch the Slurm executor made, in order."""
    found = re.findall(r"has been submitted with SLURM jobid (\d+) \(log: (\S+)\)", text)
    out = []
    for job_id, log in found:
        rule = re.search(r"/rule_(\w+)/", log)
        assert rule, log
        out.append((rule.group(1), job_id, Path(log)))
    return out


def running_jobs(work: Path, comment: str) -> list[str]:
    """Ids of this workdir's running Slurm jobs whose comment (rule and wildcards) is ``comment``."""
    out = subprocess.run(
        ["squeue", "-h", "-t", "RUNNING", "-o", "%i|%k|%Z"], capture_output=True, text=True, check=True
    ).stdout
    rows = [line.split("|") for line in out.splitlines()]
    return [r[0] for r in rows if len(r) == 3 and r[1] == comment and Path(r[2]) == work]


def scontrol_job(job_id: str) -> dict[str, str]:
    out = subprocess.run(["scontrol", "-o", "show", "job", job_id], capture_output=True, text=True, check=True).stdout
    return dict(field.split("=", 1) for field in out.split() if "=" in field)


def scontrol_config() -> dict[str, str]:
    out = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, check=True).stdout
    return {k.strip(): v.strip() for k, _, v in (line.partition("=") for line in out.splitlines()) if v}


def job_resources(slurm_log: Path) -> dict[str, str]:
    """The resources the job-side Snakemake reports in its Slurm log (what sbatch was given)."""
    line = re.search(r"^\s*resources: (.*)$", slurm_log.read_text(), re.MULTILINE)
    assert line, f"{slurm_log}: no resources line"
    return dict(item.split("=", 1) for item in line.group(1).split(", "))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- the two runs -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_run(cluster, tmp_path_factory) -> Path:
    work = new_workdir(tmp_path_factory, "local", tiny_config())
    proc = start(work, slurm=False)
    assert proc.wait() == 0, output_of(work)[-4000:]
    return work


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory) -> dict:
    """The pipeline through Slurm; the training job is cancelled with scancel once its first
    checkpoint is written, while it trains towards the next."""
    work = new_workdir(tmp_path_factory, "slurm", tiny_config())
    proc = start(work)
    first = work / RUN / "checkpoint-000001.pt"
    while not first.exists() and proc.poll() is None:
        time.sleep(0.1)
    assert proc.poll() is None, "snakemake ended before the first checkpoint:\n" + output_of(work)[-4000:]
    jobs = running_jobs(work, f"rule_train_wildcards_{EXP}")
    assert len(jobs) == 1, (jobs, output_of(work)[-3000:])
    assert not (work / RUN / "final.pt").exists()
    cancelled_job = scontrol_job(jobs[0])
    subprocess.run(["scancel", jobs[0]], check=True)
    rc = proc.wait()
    assert rc == 0, output_of(work)[-5000:]
    return {"work": work, "cancelled": jobs[0], "cancelled_job": cancelled_job, "output": output_of(work)}


# --- what went through Slurm --------------------------------------------------------------------


@on_slurm
def test_every_job_went_through_sbatch(slurm_run, local_run):
    work, text = slurm_run["work"], slurm_run["output"]
    local_jobs = collections.Counter(re.findall(r"^localrule (\w+):$", output_of(local_run), re.MULTILINE))
    assert local_jobs.pop("all") == 1 and local_jobs["train"] == 1 and len(local_jobs) >= 9, local_jobs
    subs = submissions(text)
    submitted = collections.Counter(rule for rule, _, _ in subs)
    assert submitted == local_jobs + collections.Counter(train=1), (submitted, local_jobs)  # + the retry
    # Every job that finished was one of those sbatch jobs, except the target rule `all` (no command).
    finished = collections.Counter(re.findall(r"^Finished jobid: \d+ \(Rule: (\w+)\)$", text, re.MULTILINE))
    assert finished == local_jobs + collections.Counter(all=1), finished
    assert len({job_id for _, job_id, _ in subs}) == len(subs)
    for rule, job_id, log in subs:
        assert log.is_relative_to(work / "logs" / "slurm") and log.name == f"{job_id}.log"
        assert re.search(rf"^rule {rule}:$", log.read_text(), re.MULTILINE), f"{log} does not run rule {rule}"
    failed = re.findall(r"SLURM-job '(\d+)' failed", text)
    assert failed == [slurm_run["cancelled"]]  # the cancelled training job, nothing else


@on_slurm
def test_training_ran_two_ranks_in_one_job_without_srun(slurm_run):
    """The `mpi` resource escape: sbatch --ntasks=2, the job runs torchrun itself, no srun step."""
    work = slurm_run["work"]
    job = slurm_run["cancelled_job"]
    assert job["NumNodes"] == "1" and job["NumTasks"] == "2" and job["NumCPUs"] == "2", job
    assert "gres/gpu" not in job.get("TRES", "")  # ci-slurm: gpu 0 for training
    log = (work / "logs/train" / f"{EXP}.log").read_text()
    assert "starting 2 ranks:" in log and "-m torch.distributed.run --standalone --nproc_per_node=2" in log
    final = load_checkpoint(work / RUN / "final.pt")
    assert len(final["rng"]) == 2  # both ranks contributed
    train_ids = [job_id for rule, job_id, _ in submissions(slurm_run["output"]) if rule == "train"]
    probe_id = next(job_id for rule, job_id, _ in submissions(slurm_run["output"]) if rule == "train_probe")
    slurmd_log = Path(scontrol_config().get("SlurmdLogFile", "/nonexistent"))
    if os.access(slurmd_log, os.R_OK):  # slurmd logs every srun step it launches
        steps = slurmd_log.read_text()
        assert f"StepId={probe_id}.0 " in steps  # a one-task job: the plugin's srun -n1 wrapper
        for job_id in train_ids:
            assert f"StepId={job_id}.0 " not in steps, f"training job {job_id} ran inside an srun step"


@on_slurm
def test_cancelled_training_was_retried_and_resumed(slurm_run):
    work, cancelled = slurm_run["work"], slurm_run["cancelled"]
    trains = [(job_id, log) for rule, job_id, log in submissions(slurm_run["output"]) if rule == "train"]
    assert [job_id for job_id, _ in trains][0] == cancelled and len(trains) == 2
    assert f"SLURM-job '{cancelled}' failed, SLURM status is: 'CANCELLED'" in slurm_run["output"]
    # Both attempts' Slurm logs are kept; the retry asked for more memory and time.
    first, second = (job_resources(log) for _, log in trains)
    assert (first["mem_mb"], first["runtime"]) == ("2000", "30")
    assert (second["mem_mb"], second["runtime"]) == ("4000", "60")
    assert slurm_run["cancelled_job"]["TimeLimit"] == "00:30:00"
    # The retry resumed from the checkpoint the cancelled attempt wrote (the log is the retry's).
    log = (work / "logs/train" / f"{EXP}.log").read_text()
    resumed = re.search(r"resuming from checkpoint-(\d{6})\.pt", log)
    assert resumed and int(resumed.group(1)) >= 1, log[:2000]
    records = [json.loads(line) for line in (work / RUN / "log.jsonl").read_text().splitlines()]
    assert [r["kimg"] for r in records] == [0.504, 1.0, 1.504, 2.0, 2.504, 3.0, 3.504, 4.0]  # no tick lost or repeated
    assert sorted(p.name for p in (work / RUN).glob("checkpoint-*.pt")) == [
        f"checkpoint-{k:06d}.pt" for k in range(1, 5)
    ]


# --- the same results as on this machine --------------------------------------------------------

# What differs between two runs: the sha256 of images.zip (its entries record when they were written)
# and of checkpoints (see assert_same_checkpoint), and every hash recorded from them; timings; dates.
VOLATILE = re.compile(r"sha256|seconds|_at$")


def strip_volatile(value):
    if isinstance(value, dict):
        return {k: strip_volatile(v) for k, v in value.items() if not VOLATILE.search(k)}
    if isinstance(value, list):
        return [strip_volatile(v) for v in value]
    return value


def assert_same_checkpoint(a: Path, b: Path) -> None:
    """Networks, EMA, optimiser state, progress and every rank's torch RNG bit for bit. (The numpy
    and Python RNG states in a checkpoint are never seeded or drawn from by training: they differ.)"""
    ca, cb = load_checkpoint(a), load_checkpoint(b)
    for key in ("nimg", "step", "experiment", "method", "resolution"):
        assert ca[key] == cb[key], (a, key)
    assert ca["state"].keys() == cb["state"].keys()
    for key, value in ca["state"].items():
        if torch.is_tensor(value):
            assert torch.equal(value, cb["state"][key]), (a, key)
    for name, opt in ca["optimizers"].items():
        for pa, pb in zip(opt["state"].values(), cb["optimizers"][name]["state"].values()):
            for key in pa:
                assert torch.equal(torch.as_tensor(pa[key]), torch.as_tensor(pb[key])), (a, name, key)
    assert len(ca["rng"]) == len(cb["rng"])
    for ra, rb in zip(ca["rng"], cb["rng"]):
        assert torch.equal(ra["torch"], rb["torch"])


@on_slurm
def test_outputs_match_the_local_run(slurm_run, local_run):
    work = slurm_run["work"]

    def files(root: Path) -> list[str]:
        return sorted(
            str(p.relative_to(root)) for d in ("results", "reports") for p in (root / d).rglob("*") if p.is_file()
        )

    assert files(work) == files(local_run)
    data = Path("results/data/tinyfaces-16")
    identical = [
        data / "images.zip",
        data / "annotations.h5",
        data / "images.tfrecord",
        Path("reports/datasets/tinyfaces-16.png"),
        Path("reports/figures") / f"{EXP}-samples.png",
        RUN / "experiment.json",
        *(RUN / f"samples-{k:06d}.png" for k in range(1, 5)),
        *(p.relative_to(local_run) for p in (local_run / "reports/tables").iterdir()),
    ]
    for path in identical:
        assert sha256(work / path) == sha256(local_run / path), path
    assert len(open_source(work / data / "images.zip")) == 64
    for path in [RUN / "final.pt", *(RUN / f"checkpoint-{k:06d}.pt" for k in range(1, 5))]:
        assert_same_checkpoint(work / path, local_run / path)
    for path in [
        *(local_run / "results/eval" / EXP).glob("*/*.json"),
        local_run / "reports/probe.json",
        local_run / "reports/datasets/tinyfaces-16.json",
    ]:
        rel = path.relative_to(local_run)
        assert strip_volatile(json.loads((work / rel).read_text())) == strip_volatile(json.loads(path.read_text())), rel
    fid = json.loads((work / "results/eval" / EXP / "tiny" / "fid.json").read_text())
    assert fid["value"] == json.loads((local_run / "results/eval" / EXP / "tiny" / "fid.json").read_text())["value"]
    probe_a, probe_b = (torch.load(w / "results/probe/probe.pt", weights_only=False) for w in (work, local_run))
    for key, value in probe_a["state"].items():
        assert torch.equal(value, probe_b["state"][key]), key
    with (
        h5py.File(work / "results/stats/tinyfaces-16-probe.h5") as fa,
        h5py.File(local_run / "results/stats/tinyfaces-16-probe.h5") as fb,
    ):
        for key in fb:
            assert np.array_equal(fa[key][()], fb[key][()]), key
    ticks = lambda w: [
        {k: v for k, v in json.loads(line).items() if k not in ("kimg_per_s", "sec_per_kimg", "eta_s")}  # noqa: E731
        for line in (w / RUN / "log.jsonl").read_text().splitlines()
    ]
    assert ticks(work) == ticks(local_run)


# --- the README's commands, as a user types them -------------------------------------------------


def readme_slurm_commands() -> list[str]:
    """The command lines of the first sh block of the README's "Running on a Slurm cluster" section."""
    text = (REPO_ROOT / "README.md").read_text()
    section = text[text.index("## Running on a Slurm cluster") :]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL).group(1)
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.split("#", 1)[0].strip()]


def repo_shaped_workdir(root: Path, config: dict) -> Path:
    """A folder that looks like the repository root to Snakemake (the Snakefile, rules, scripts and config
    files linked from the repository), whose embedded default config/config.yaml is ``config``."""
    work = root / "repo"
    (work / "config").mkdir(parents=True)
    for name in ("Snakefile", "rules", "workflow_scripts", "envs", "lib"):
        (work / name).symlink_to(REPO_ROOT / name)
    for path in (REPO_ROOT / "config").glob("*.yaml"):
        if path.name != "config.yaml":
            (work / "config" / path.name).symlink_to(path)
    (work / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    return work


@on_slurm
def test_readme_commands_run_through_sbatch(tmp_path_factory):
    """`ganbench slurm-profile` then `snakemake --profile slurm`, exactly as the README writes them, in a
    folder shaped like the repository root (with a tiny embedded default) and a temporary home: the profile
    lands where Snakemake looks for it, every job goes through sbatch, and the job-cost table of the run is
    written from the jobs' benchmark files."""
    commands = readme_slurm_commands()
    assert commands == ["ganbench slurm-profile", "snakemake --profile slurm"], commands
    root = tmp_path_factory.mktemp("readme")
    config = tiny_config()
    config["experiments"][0].update(gpus=1, kimg=1, snapshot_kimg=1)
    work = repo_shaped_workdir(root, config)
    env = {
        **ENV,
        "HOME": str(root / "home"),
        "XDG_CONFIG_HOME": str(root / "xdg"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    outputs = []
    for command in commands:
        run = subprocess.run(command, shell=True, cwd=work, env=env, capture_output=True, text=True)
        outputs.append(run.stdout + run.stderr)
        assert run.returncode == 0, f"{command}:\n" + outputs[-1][-5000:]
    profile = root / "xdg" / "snakemake" / "slurm" / "config.yaml"
    assert f"wrote {profile}" in outputs[0]
    written = yaml.safe_load(profile.read_text())
    assert written["executor"] == "slurm" and written["slurm-no-account"] is True  # no accounting database here
    assert written["slurm-status-command"] == "squeue" and written["set-resources"]["train"]["gpu"] == 0
    text = outputs[1]
    subs = submissions(text)
    finished = collections.Counter(re.findall(r"^Finished jobid: \d+ \(Rule: (\w+)\)$", text, re.MULTILINE))
    assert collections.Counter(rule for rule, _, _ in subs) + collections.Counter(all=1) == finished, (subs, finished)
    assert "localrule" not in text.replace("localrule all:", "")  # nothing ran on the login node
    assert (work / "results/runs" / EXP / "final.pt").is_file()
    # the cost table of a cluster run: every job but job_costs itself, measured on the node
    costs = (work / "reports/costs/job_costs.md").read_text()
    assert f"{len(subs) - 1} jobs" in costs and "| baseline / train | 1 |" in costs
    assert len(list((work / "benchmarks").rglob("*.tsv"))) == len(subs)


# --- a failure on the node ------------------------------------------------------------------------


def processes_in(work: Path, marker: str) -> list[int]:
    """Ids of this machine's processes running in ``work`` with ``marker`` in their command line."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue
        if marker in cmdline and cwd == work:
            found.append(int(entry.name))
    return found


@on_slurm
def test_a_job_killed_on_the_node_fails_alone(slurm_run, tmp_path_factory):
    """A second experiment's training process is killed (as the OOM killer would) while a new
    dataset is prepared beside it: that job fails, the dataset's jobs complete, and nothing the
    first run made changes."""
    work = tmp_path_factory.mktemp("failure") / "work"
    shutil.copytree(slurm_run["work"], work, symlinks=True)
    before = {
        p: (sha256(p), p.stat().st_mtime_ns)
        for d in ("results", "reports")
        for p in (work / d).rglob("*")
        if p.is_file() and p.name != "datasets.md"
    }
    config = tiny_config()
    config["datasets"]["tinycars"] = {"source": "synthetic", "category": "car", "count": 16, "seed": 5}
    config["experiments"].append({**config["experiments"][0], "name": "doomed", "gpus": 1, "kimg": 8})
    (work / "config.yaml").write_text(yaml.safe_dump(config))

    proc = start(work, "--retries", "0", "--keep-going")
    doomed_log = work / "results/runs/doomed/log.jsonl"
    while not doomed_log.exists() and proc.poll() is None:
        time.sleep(0.1)
    assert proc.poll() is None, output_of(work)[-4000:]
    victims = processes_in(work, "train.py")  # gpus 1: the job's script process is the training
    assert len(victims) == 1, victims
    os.kill(victims[0], signal.SIGKILL)
    assert proc.wait() != 0
    text = output_of(work)

    failed = re.findall(r"SLURM-job '(\d+)' failed, SLURM status is: '(\w+)'", text)
    doomed = [job_id for rule, job_id, log in submissions(text) if rule == "train" and "/doomed/" in str(log)]
    assert len(failed) == 1 and failed[0] == (doomed[0], "FAILED"), failed
    assert (work / "logs/slurm/rule_train/doomed" / f"{doomed[0]}.log").is_file()  # a failed job's log is kept
    assert not (work / "results/runs/doomed/final.pt").exists()
    # The jobs beside it completed ...
    cars = work / "results/data/tinycars-16"
    assert len(open_source(cars / "images.zip")) == 16 and (cars / "images.tfrecord").is_file()
    assert json.loads((work / "reports/datasets/tinycars-16.json").read_text())["count"] == 16
    assert "tinycars-16" in (work / "reports/datasets.md").read_text()
    # ... and everything the first run made is untouched.
    for path, (digest, mtime) in before.items():
        assert (sha256(path), path.stat().st_mtime_ns) == (digest, mtime), path


# --- the launcher inside a job (no cluster needed) -----------------------------------------------


def test_multinode_command_starts_one_torchrun_per_node():
    cmd = launch.multinode_command(8, 2, ["-m", "ganbench.cli", "train"], endpoint="node1:29400", job_id="77")
    assert cmd[:7] == [
        "srun",
        "--nodes=2",
        "--ntasks=2",
        "--ntasks-per-node=1",
        "--whole",
        "--kill-on-bad-exit=1",
        sys.executable,
    ]
    assert cmd[7:] == [
        "-m",
        "torch.distributed.run",
        "--nnodes=2",
        "--nproc_per_node=4",
        "--rdzv_backend=c10d",
        "--rdzv_endpoint=node1:29400",
        "--rdzv_id=ganbench-77",
        "-m",
        "ganbench.cli",
        "train",
    ]


def test_multinode_layout_errors_name_the_experiment(monkeypatch, tmp_path):
    exp = {"name": "big", "gpus": 6}
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    with pytest.raises(GanbenchError, match=r"^experiments.big: training on 2 nodes needs a Slurm allocation"):
        launch.train_experiment(exp, tmp_path / "images.zip", tmp_path / "run", nodes=2)
    monkeypatch.setenv("SLURM_JOB_ID", "5")
    with pytest.raises(GanbenchError, match=r"^experiments.big: gpus 6 is not a multiple of nodes 4$"):
        launch.train_experiment(exp, tmp_path / "images.zip", tmp_path / "run", nodes=4)


def test_ops_are_built_once_before_the_ranks_start(monkeypatch, tmp_path):
    """The launcher builds the ops for the ranks' device, then starts torchrun; a failed build under
    GANBENCH_OPS=auto sends the ranks to the reference implementation instead of N more builds."""
    from ganbench.ops import _build

    events = []
    monkeypatch.setattr(_build, "build", lambda target, verbose=False: events.append(("build", target)))
    monkeypatch.setattr(_build, "build_info", lambda target: {"compiled": True, "dir": "/cache/x"})
    monkeypatch.setattr(
        launch.subprocess,
        "run",
        lambda cmd, env, **kw: events.append(("run", cmd, env)) or subprocess.CompletedProcess(cmd, 0),
    )
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setenv("GANBENCH_OPS", "auto")
    exp = {"name": "two", "gpus": 2}
    launch.train_experiment(exp, tmp_path / "images.zip", tmp_path / "run", device="cpu")
    assert [e[0] for e in events] == ["build", "run"] and events[0] == ("build", "cpp")
    assert "--nproc_per_node=2" in events[1][1] and events[1][2]["GANBENCH_OPS"] == "auto"

    def fail(target, verbose=False):
        raise OpsError("building the cpp ops failed: no compiler")

    events.clear()
    monkeypatch.setattr(_build, "build", fail)
    with pytest.warns(RuntimeWarning, match="the ranks use the slower PyTorch reference"):
        launch.train_experiment(exp, tmp_path / "images.zip", tmp_path / "run", device="cpu")
    assert events[0][2]["GANBENCH_OPS"] == "ref"
    monkeypatch.setenv("GANBENCH_OPS", "cpp")  # asked for explicitly: the job fails before any rank starts
    with pytest.raises(OpsError, match="no compiler"):
        launch.train_experiment(exp, tmp_path / "images.zip", tmp_path / "run", device="cpu")
    monkeypatch.setenv("GANBENCH_OPS", "ref")  # nothing to build
    events.clear()
    launch.train_experiment(exp, tmp_path / "images.zip", tmp_path / "run", device="cpu")
    assert [e[0] for e in events] == ["run"]

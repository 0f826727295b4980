"""Entry point of a training job: one process, or ``torchrun`` with one process per GPU/rank.

A job with ``gpus`` = N > 1 starts N ranks with ``torchrun`` (gloo on CPU, nccl on GPU), all
on this node, or, with ``nodes`` = M > 1 inside a Slurm allocation, ``srun`` starts one
``torchrun`` per node with N / M ranks each, which meet through a c10d rendezvous on this node
(the first node of the allocation, where the batch script runs). Before any rank starts, the
launcher builds the custom ops once (or loads them from the cache), so that the ranks do not
all compile at the same time, and it says which checkpoint the run resumes from.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import torch

from ganbench.errors import GanbenchError, OpsError
from ganbench.fileio import write_json
from ganbench.train.loop import training_loop


def train_experiment(
    experiment: dict,
    dataset_path,
    run_dir,
    resume: bool = True,
    device: str | None = None,
    deterministic: bool = False,
    nodes: int = 1,
    inputs: dict | None = None,
) -> Path:
    """Train a validated experiment. With ``gpus`` > 1 and no process group yet, start ``torchrun``
    with that many ranks (gloo on CPU, nccl on GPU), each running this same function; with
    ``nodes`` > 1 (only inside a Slurm allocation of that many nodes) spread them over the nodes.
    ``inputs`` maps the experiment's input roles to their files (see ``training_loop``)."""
    run_dir = Path(run_dir)
    ranks = experiment["gpus"]
    inputs = {role: str(path) for role, path in (inputs or {}).items()}
    if "WORLD_SIZE" in os.environ:  # a rank started by torchrun
        return training_loop(
            experiment, dataset_path, run_dir, resume=resume, device=device, deterministic=deterministic, inputs=inputs
        )
    _check_layout(experiment, nodes)
    if ranks == 1:
        return training_loop(
            experiment, dataset_path, run_dir, resume=resume, device=device, deterministic=deterministic, inputs=inputs
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    spec = run_dir / "experiment.json"
    write_json(spec, experiment)
    args = [
        "-m",
        "ganbench.cli",
        "train",
        "--experiment-json",
        str(spec),
        "--data",
        str(dataset_path),
        "--out",
        str(run_dir),
    ]
    args += [] if resume else ["--no-resume"]
    args += [] if device is None else ["--device", device]
    args += ["--deterministic"] if deterministic else []
    args += [arg for role, path in inputs.items() for arg in ("--input", f"{role}={path}")]
    env = {**os.environ, **prebuild_ops(device)}
    if nodes == 1:
        cmd = torchrun_command(ranks, args)
    else:
        cmd = multinode_command(
            ranks, nodes, args, endpoint=f"{socket.gethostname()}:{_free_port()}", job_id=os.environ["SLURM_JOB_ID"]
        )
    where = f"{nodes} nodes x {ranks // nodes}" if nodes > 1 else f"{ranks}"
    print(f"{experiment['name']}: starting {where} ranks: {' '.join(cmd)}", flush=True)
    sys.stderr.flush()
    # The ranks write to this process's stdout/stderr: the job's log under Snakemake.
    if subprocess.run(cmd, env=env, stdout=_fd(sys.stdout), stderr=_fd(sys.stderr)).returncode != 0:
        raise GanbenchError(f"{experiment['name']}: torchrun with {ranks} ranks failed (see the ranks' output above)")
    return run_dir / "final.pt"


def torchrun_command(ranks: int, args: list[str]) -> list[str]:
    """``torchrun`` with ``ranks`` processes on this node, each running ``python <args>``."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={ranks}", *args]


def multinode_command(ranks: int, nodes: int, args: list[str], endpoint: str, job_id: str) -> list[str]:
    """``srun`` one ``torchrun`` per node of the current Slurm allocation, ``ranks // nodes`` processes
    each, meeting at ``endpoint`` (host:port of this node) under the rendezvous id ``job_id``.
    ``--whole`` gives each torchrun all CPUs and GPUs the job holds on its node."""
    return [
        "srun",
        f"--nodes={nodes}",
        f"--ntasks={nodes}",
        "--ntasks-per-node=1",
        "--whole",
        "--kill-on-bad-exit=1",
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nnodes={nodes}",
        f"--nproc_per_node={ranks // nodes}",
        "--rdzv_backend=c10d",
        f"--rdzv_endpoint={endpoint}",
        f"--rdzv_id=ganbench-{job_id}",
        *args,
    ]


def prebuild_ops(device: str | None) -> dict[str, str]:
    """Build (or load from the cache) the compiled ops the ranks will use, in this one process.

    Returns environment overrides for the ranks: under ``GANBENCH_OPS=auto`` a failed build
    is reported once here and the ranks are told to use the reference implementation, rather
    than each of them trying to compile again. An explicit ``cpp``/``cuda`` that cannot be
    built raises :class:`OpsError`.
    """
    from ganbench.ops import _build

    impl = _build.requested_impl()
    on_gpu = torch.cuda.is_available() if device is None else torch.device(device).type == "cuda"
    target = "cuda" if on_gpu else "cpp"
    if impl == "ref" or (impl != "auto" and impl != target):
        return {}  # nothing to compile, or the ranks report the mismatch themselves
    try:
        _build.build(target)
    except OpsError as exc:
        if impl != "auto":
            raise
        warnings.warn(f"ganbench ops: the ranks use the slower PyTorch reference: {exc}", RuntimeWarning, stacklevel=2)
        return {"GANBENCH_OPS": "ref"}
    info = _build.build_info(target) or {}
    print(f"ops: {target} {'compiled' if info.get('compiled') else 'loaded from'} {info.get('dir', '')}", flush=True)
    return {}


def _check_layout(experiment: dict, nodes: int) -> None:
    name, ranks = experiment["name"], experiment["gpus"]
    if not isinstance(nodes, int) or nodes < 1:
        raise GanbenchError(f"experiments.{name}: nodes {nodes!r} is not a positive integer")
    if nodes == 1:
        return
    if "SLURM_JOB_ID" not in os.environ:
        raise GanbenchError(f"experiments.{name}: training on {nodes} nodes needs a Slurm allocation (no SLURM_JOB_ID)")
    if ranks % nodes:
        raise GanbenchError(f"experiments.{name}: gpus {ranks} is not a multiple of nodes {nodes}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def _fd(stream):
    """The file descriptor behind ``stream`` if it has one (the job log), else None (inherit)."""
    try:
        stream.flush()
        return stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None

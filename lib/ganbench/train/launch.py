"""Entry point of a training job: one process, or ``torchrun`` with one process per GPU/rank."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ganbench.errors import GanbenchError
from ganbench.fileio import atomic_path
from ganbench.train.loop import training_loop


def train_experiment(experiment: dict, dataset_path, run_dir, resume: bool = True, device: str | None = None,
                     deterministic: bool = False) -> Path:
    """Train a validated experiment. With ``gpus`` > 1 and no process group yet, start ``torchrun``
    with that many ranks (gloo on CPU, nccl on GPU), each running this same function."""
    run_dir = Path(run_dir)
    ranks = experiment["gpus"]
    if ranks == 1 or "WORLD_SIZE" in os.environ:
        return training_loop(experiment, dataset_path, run_dir, resume=resume, device=device, deterministic=deterministic)
    spec = run_dir / "experiment.json"
    with atomic_path(spec) as tmp:
        tmp.write_text(json.dumps(experiment, indent=2))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={ranks}",
           "-m", "ganbench.cli", "train", "--experiment-json", str(spec), "--data", str(dataset_path),
           "--out", str(run_dir)]
    cmd += [] if resume else ["--no-resume"]
    cmd += [] if device is None else ["--device", device]
    cmd += ["--deterministic"] if deterministic else []
    if subprocess.run(cmd).returncode != 0:
        raise GanbenchError(f"{experiment['name']}: torchrun with {ranks} ranks failed (see the ranks' output above)")
    return run_dir / "final.pt"

"""Two concurrent training jobs on the same cores: one PyTorch thread each against torch's default, in the same run.

    python bench/threads.py [--jobs 2] [--steps 8] [--repeat 2]

What `make quickstart` does on a two-core machine: Snakemake runs two jobs at once. Each job is a process
whose PyTorch would by default start one OpenMP thread per core, so two jobs oversubscribe the cores and their
thread pools spin against each other. The Snakefile therefore gives each job one thread (OMP_NUM_THREADS=1)
unless its rule asks for more. Each setting starts ``--jobs`` processes at once, each timing StyleGAN2 training
steps (bench/train_step.py's step, the compiled ops); the settings alternate over the repeats and the median
seconds per step of all processes is reported. Target: default / one thread > 1.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

WORKER = """
import sys, torch
sys.path.insert(0, {bench!r})
from train_step import time_steps
torch.set_flush_denormal(True)
print(time_steps("cpp", 32, 32, {steps}, torch.device("cpu")))
"""


def concurrent_step_times(threads: int | None, jobs: int, steps: int) -> list[float]:
    """Seconds per step of each of ``jobs`` processes run at once (``threads`` None: torch's default)."""
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    code = WORKER.format(bench=str(Path(__file__).resolve().parent), steps=steps)
    procs = [
        subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        for _ in range(jobs)
    ]
    return [float(p.communicate()[0].split()[-1]) for p in procs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="processes at once (Snakemake --cores on a CPU box)")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"default": [], "one thread": []}
    for _ in range(args.repeat):
        times["default"] += concurrent_step_times(None, args.jobs, args.steps)
        times["one thread"] += concurrent_step_times(1, args.jobs, args.steps)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"StyleGAN2 training step, 32 px, batch 32, {args.jobs} processes at once on {os.cpu_count()} CPUs")
    print("| threads per process | s/step (median) |")
    print("|---|---:|")
    for k, t in med.items():
        print(f"| {k} | {t:.3f} |")
    print(f"ratio default / one thread: {med['default'] / med['one thread']:.2f}x")


if __name__ == "__main__":
    main()

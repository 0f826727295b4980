"""Snakemake's own cost on the full grid (config/paper.yaml) against the embedded default, in the same run.

    python bench/dag.py [--repeat 3] [--config config/paper.yaml]

For each configuration, in a fresh working directory:

- dry run: ``snakemake -n --cores 2`` with nothing built (parse, validate, build and plan the whole DAG);
- no-op re-run: ``snakemake --cores 2`` after a completed run, which must report "Nothing to be done".
  A completed run of the grid needs a GPU cluster, so the completed state is made the way Snakemake itself
  would record it without running the jobs: every planned output is created (empty), then
  ``snakemake --touch --forceall`` runs every job through the touch executor in DAG order, which stamps the
  outputs in order and writes Snakemake's metadata for each (what rerun triggers compare). A no-op re-run
  reads the same state: file existence, modification times and metadata; it never opens the outputs.

Each time is the median of ``--repeat`` runs of a fresh process (interpreter start and imports included,
as a user sees them). Targets on two cores: grid dry run <= 5 s, grid no-op re-run <= 10 s. Prints the
times and the ratios grid / embedded default.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ENV = {
    **os.environ,
    "GANBENCH_OPS": "ref",
    "PYTHONPATH": os.pathsep.join(p for p in (str(REPO / "lib"), os.environ.get("PYTHONPATH", "")) if p),
}


def snakemake(work: Path, config: Path, *args: str) -> tuple[float, str]:
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "-d",
        str(work),
        "--configfile",
        str(config),
        "--cores",
        "2",
        *args,
    ]
    start = time.perf_counter()
    run = subprocess.run(cmd, capture_output=True, text=True, env=ENV, cwd=REPO)
    seconds = time.perf_counter() - start
    if run.returncode != 0:
        sys.exit(f"bench/dag.py: {' '.join(cmd)} failed:\n{(run.stdout + run.stderr)[-4000:]}")
    return seconds, run.stdout + run.stderr


def planned_outputs(text: str) -> tuple[int, list[str]]:
    """Jobs and output files of a dry run's log."""
    outputs = []
    for line in text.splitlines():
        m = re.match(r"\s+output: (.*)$", line)
        if m:
            outputs += [p.strip() for p in m.group(1).split(", ")]
    total = re.search(r"^total\s+(\d+)$", text, re.MULTILINE)
    return (int(total.group(1)) if total else 0), outputs


def measure(config: Path, repeat: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="ganbench-dag-") as tmp:
        work = Path(tmp)
        dry = []
        for _ in range(repeat):
            seconds, text = snakemake(work, config, "-n")
            dry.append(seconds)
        jobs, outputs = planned_outputs(text)
        for rel in outputs:  # the completed state (see the module docstring)
            path = work / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        snakemake(work, config, "--touch", "--forceall", "--quiet", "all")
        noop = []
        for _ in range(repeat):
            seconds, text = snakemake(work, config)
            if "Nothing to be done" not in text:
                sys.exit(f"bench/dag.py: {config}: the re-run after the touched run was not a no-op:\n{text[-3000:]}")
            noop.append(seconds)
    return {"jobs": jobs, "outputs": len(outputs), "dry": statistics.median(dry), "noop": statistics.median(noop)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--config", type=Path, default=REPO / "config" / "paper.yaml")
    args = parser.parse_args()
    base = measure(REPO / "config" / "config.yaml", args.repeat)
    grid = measure(args.config.resolve(), args.repeat)
    print(f"snakemake on {os.cpu_count()} CPUs, --cores 2, median of {args.repeat} fresh processes")
    print("| configuration | jobs | outputs | dry run s | no-op re-run s |")
    print("|---|---:|---:|---:|---:|")
    print(
        f"| embedded default (config/config.yaml) | {base['jobs']} | {base['outputs']} | {base['dry']:.2f} | "
        f"{base['noop']:.2f} |"
    )
    print(
        f"| grid ({args.config.name}) | {grid['jobs']} | {grid['outputs']} | {grid['dry']:.2f} | {grid['noop']:.2f} |"
    )
    print(
        f"ratio grid / default: dry run {grid['dry'] / base['dry']:.2f}, no-op re-run {grid['noop'] / base['noop']:.2f}"
    )
    print(
        f"targets: grid dry run {grid['dry']:.2f} s <= 5 s: {'met' if grid['dry'] <= 5 else 'MISSED'}; "
        f"grid no-op {grid['noop']:.2f} s <= 10 s: {'met' if grid['noop'] <= 10 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()

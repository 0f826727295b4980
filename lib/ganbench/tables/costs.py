"""What each job cost: Snakemake's benchmark files as a table of wall time and peak memory per paper and stage.

Every rule writes a ``benchmark:`` file, ``benchmarks/{rule}.tsv`` for rules without wildcards and
``benchmarks/{rule}/{name}={value}/.../{name}={value}.tsv`` otherwise, so the rule and its wildcards are read
back from the path. Snakemake measures the job's process tree on the machine that ran it (the node, on a
cluster) and writes one row per repeat with ``s`` (wall seconds), ``max_rss`` (peak resident MB),
``cpu_time`` (seconds) among other columns.

A job belongs to a paper through its ``experiment`` wildcard: the experiment's method, and that method's
``paper`` in :mod:`ganbench.methods.catalog`. Jobs without one (datasets, statistics, the probe, the ops
build, the tables) are ``shared``.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganbench.errors import DataError
from ganbench.fileio import atomic_path
from ganbench.tables.formats import to_csv, to_html, to_markdown
from ganbench.tables.render import Cell, Column, Table, TableSpec

SHARED = "shared"
BASELINE = "baseline"
COLUMNS = (
    Column("jobs", label="jobs", decimals=0),
    Column("wall_s", label="wall s", decimals=1),
    Column("wall_max_s", label="longest job s", decimals=1),
    Column("cpu_s", label="CPU s", decimals=1),
    Column("max_rss_mb", label="peak RSS MB", decimals=0),
)
WRITERS = {"md": to_markdown, "csv": to_csv, "html": to_html}


@dataclass(frozen=True)
class JobCost:
    """One job's benchmark file."""

    path: Path
    rule: str
    wildcards: Mapping[str, str] = field(default_factory=dict)
    wall_s: float = 0.0  # mean over repeats
    max_rss_mb: float | None = None  # max over repeats; None where Snakemake could not measure it
    cpu_s: float | None = None


def _number(text: str | None) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):  # "NA", "-", empty: not measured (a process too short to sample)
        return None
    return value if math.isfinite(value) else None


def read_benchmark(path: str | os.PathLike, root: str | os.PathLike) -> JobCost:
    """One Snakemake benchmark TSV under ``root``; raise DataError naming the file when it is not one."""
    path, root = Path(path), Path(root)
    parts = path.relative_to(root).with_suffix("").parts
    rule, wildcards = parts[0], {}
    for part in parts[1:]:
        name, sep, value = part.partition("=")
        if not sep or not name:
            raise DataError(f"{path}: expected benchmarks/RULE/NAME=VALUE/.../NAME=VALUE.tsv, got component {part!r}")
        wildcards[name] = value
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if not rows:
        raise DataError(f"{path}: no benchmark rows")
    if "s" not in rows[0] or "max_rss" not in rows[0]:
        raise DataError(f"{path}: not a Snakemake benchmark file (no 's' and 'max_rss' columns)")
    walls = [_number(r["s"]) for r in rows]
    if any(w is None for w in walls):
        raise DataError(
            f"{path}: column s: expected seconds, got {next(r['s'] for r in rows if _number(r['s']) is None)!r}"
        )
    rss = [v for v in (_number(r["max_rss"]) for r in rows) if v is not None]
    cpu = [v for v in (_number(r.get("cpu_time")) for r in rows) if v is not None]
    return JobCost(
        path, rule, wildcards, sum(walls) / len(walls), max(rss) if rss else None, sum(cpu) / len(cpu) if cpu else None
    )


def read_benchmarks(root: str | os.PathLike = "benchmarks") -> list[JobCost]:
    """Every benchmark file under ``root`` (none when it does not exist), in path order."""
    root = Path(root)
    return [read_benchmark(p, root) for p in sorted(root.rglob("*.tsv"))] if root.is_dir() else []


def paper_of(job: JobCost, experiments: Mapping[str, Mapping[str, Any]]) -> str:
    """The paper a job serves: its experiment's method's catalog ``paper``; ``baseline`` for a method of no paper
    (StyleGAN2-ADA); ``shared`` for jobs of no experiment."""
    from ganbench.methods.catalog import CATALOG

    name = job.wildcards.get("experiment")
    if name is None:
        return SHARED
    method = experiments[name]["method"]
    entry = CATALOG.get(method)
    if entry is None:
        return method
    if entry.paper:
        return entry.paper
    return BASELINE if entry.kind == "gan" else entry.name  # a stage of no paper yet: its method


def configured(
    jobs: Iterable[JobCost], experiments: Iterable[Mapping[str, Any]], datasets: Iterable[str] | None = None
) -> list[JobCost]:
    """The jobs of this configuration: drop the benchmark files left by experiments (and datasets) no longer in it."""
    names, datasets = {e["name"] for e in experiments}, None if datasets is None else set(datasets)
    keep = []
    for job in jobs:
        experiment, dataset = job.wildcards.get("experiment"), job.wildcards.get("dataset")
        if experiment is not None and experiment not in names:
            continue
        if datasets is not None and dataset is not None and dataset not in datasets:
            continue
        keep.append(job)
    return keep


def _row(jobs: list[JobCost]) -> list[Cell]:
    rss = [j.max_rss_mb for j in jobs if j.max_rss_mb is not None]
    cpu = [j.cpu_s for j in jobs if j.cpu_s is not None]
    return [
        Cell([float(len(jobs))]),
        Cell([sum(j.wall_s for j in jobs)]),
        Cell([max(j.wall_s for j in jobs)]),
        Cell([sum(cpu)] if cpu else []),
        Cell([max(rss)] if rss else []),
    ]


def cost_table(
    jobs: list[JobCost], experiments: Iterable[Mapping[str, Any]], name: str = "job_costs", where: str = ""
) -> Table:
    """One row per (paper, stage), then a total per paper and one over everything; wall and CPU seconds summed
    over the stage's jobs, the longest job, the largest peak RSS of one job."""
    by_name = {e["name"]: e for e in experiments}
    groups: dict[tuple[str, str], list[JobCost]] = {}
    for job in jobs:
        groups.setdefault((paper_of(job, by_name), job.rule), []).append(job)
    papers = sorted({p for p, _ in groups}, key=lambda p: (p == SHARED, p))
    labels, cells = [], []
    for paper in papers:
        stages = sorted(s for p, s in groups if p == paper)
        for stage in stages:
            labels.append(f"{paper} / {stage}")
            cells.append(_row(groups[(paper, stage)]))
        labels.append(f"{paper} / all stages")
        cells.append(_row([j for s in stages for j in groups[(paper, s)]]))
    if jobs:
        labels.append("all / all stages")
        cells.append(_row(jobs))
    spec = TableSpec(name=name, title="Job costs", columns=COLUMNS, rows=(), row_header="paper / stage")
    caption = (
        f"Job costs{f' ({where})' if where else ''}: Snakemake benchmark files of {len(jobs)} jobs "
        "(benchmarks/RULE/...), measured on the machine that ran each job (the node, on a cluster; queueing "
        "not included). wall s and CPU s are summed over a stage's jobs; peak RSS is the largest resident "
        "memory of one job's process tree. A job belongs to a paper through its experiment's method "
        "(the method catalog's paper; baseline: StyleGAN2-ADA); shared: data, statistics, probe, ops, tables."
    )
    return Table(spec, labels, cells, caption)


def write_cost_table(
    root: str | os.PathLike,
    out: Mapping[str, str | os.PathLike],
    experiments: Iterable[Mapping[str, Any]],
    datasets: Iterable[str] | None = None,
    where: str = "",
) -> Table:
    """Read ``root``'s benchmark files of this configuration and write the table to ``out`` (format -> path:
    ``md``, ``csv``, ``html``), each atomically."""
    experiments = list(experiments)
    table = cost_table(configured(read_benchmarks(root), experiments, datasets), experiments, where=where)
    for fmt, path in out.items():
        if fmt not in WRITERS:
            raise DataError(f"{path}: unknown table format {fmt!r}; expected {', '.join(WRITERS)}")
        with atomic_path(path) as tmp:
            tmp.write_text(WRITERS[fmt](table))
    return table

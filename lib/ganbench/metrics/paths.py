"""Where the metrics' artifacts live: the one place the rules, the CLI defaults and the tables take paths from
(importable without torch).

=========================================================  =====================================================
``results/stats/{dataset}-{res}-{statskey}.h5``             reference statistics; ``statskey`` is the extractor,
                                                            plus ``-first{N}`` for a first-N protocol
``results/eval/{experiment}/{protocol}/{name}.json``        one metric of one run under one named protocol
``results/eval/{experiment}/{name}.json``                   measurements without a feature protocol (CREPS
                                                            consistency and render cost)
``results/eval/_real/{dataset}-{res}/{protocol}/{name}.json``  the floor: the metric between two disjoint halves
                                                            of the real set, same extractor and protocol
``results/runs/{experiment}/best-fid-{protocol}.pt``        the run's snapshot with the lowest FID under
                                                            ``protocol`` (ganbench.metrics.best_snapshot)
=========================================================  =====================================================

Experiment names start with a letter or digit, so ``_real`` never collides with one.
"""

from __future__ import annotations

from pathlib import Path

STATS_DIR = "results/stats"
EVAL_DIR = "results/eval"
FLOOR = "_real"
RUNS_DIR = "results/runs"
BEST_FID = "fid-best"  # the result name of the best-FID snapshot's FID


def stats_path(dataset: str, res: int, statskey: str) -> str:
    return f"{STATS_DIR}/{dataset}-{res}-{statskey}.h5"


def eval_dir(experiment: str, protocol: str | None = None, root: str | Path = EVAL_DIR) -> str:
    """The folder of an experiment's results under ``protocol`` (None: the protocol-free measurements)."""
    return f"{root}/{experiment}" if protocol is None else f"{root}/{experiment}/{protocol}"


def eval_path(experiment: str, name: str, protocol: str | None = None, root: str | Path = EVAL_DIR) -> str:
    return f"{eval_dir(experiment, protocol, root)}/{name}.json"


def floor_dir(dataset: str, res: int, protocol: str, root: str | Path = EVAL_DIR) -> str:
    return f"{root}/{FLOOR}/{dataset}-{res}/{protocol}"


def floor_path(dataset: str, res: int, protocol: str, name: str, root: str | Path = EVAL_DIR) -> str:
    return f"{floor_dir(dataset, res, protocol, root)}/{name}.json"


def best_snapshot_path(experiment: str, protocol: str, root: str | Path = RUNS_DIR) -> str:
    """The copy of an experiment's best-FID snapshot under ``protocol``: a stage input (source ``best_fid``)."""
    return f"{root}/{experiment}/best-fid-{protocol}.pt"

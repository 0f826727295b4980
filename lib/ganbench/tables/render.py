"""Result tables: our measurements, aggregated over seeds, beside the published numbers they can be compared with.

A table is described by a :class:`TableSpec`: which experiments it covers, what its rows are (one per run
group, method, dataset, or explicit :class:`Row`), and its :class:`Column` s (one metric each, optionally
restricted to a dataset or resolution). :func:`build_table` reads the measurements, ``results/eval/{experiment}/
{metric}.json``, and :func:`render_table` writes ``{name}.md``, ``.csv``, ``.tex`` and ``.html``
(:mod:`ganbench.tables.formats`).

Rules the tables follow:

- Experiments that differ only in ``name`` and ``seed`` form a run group; a cell shows the mean ± the sample
  standard deviation (ddof 1) over the seeds of one group (just the value for one seed). All seeds of a cell
  must share one protocol.
- A published value appears in parentheses only where :func:`~ganbench.tables.published.published_value`
  finds a record with the same dataset, resolution, setting and protocol; ``paper*`` marks a record whose
  protocol was partly inferred from the official code. Published values hidden because the protocol differs
  (or is unknown) are counted in the caption.
- The caption states the datasets and resolutions, the protocol (extractor, number of images, reference set,
  truncation), the number of seeds, and the spec's deviations from the papers.

The named tables (``baseline``, ``cross_method``, ``creps``) are specs in :mod:`ganbench.tables.specs`.
"""

from __future__ import annotations

import json
import math
import os
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from ganbench.errors import ConfigError, DataError
from ganbench.fileio import atomic_path
from ganbench.metrics.paths import eval_path, floor_path
from ganbench.tables.formats import FORMATS
from ganbench.tables.published import (
    PUBLISHED_PATH,
    PublishedRecord,
    load_published,
    published_candidates,
    published_value,
)

# The one table of metric properties: metric id -> (column header, decimals, which way is better:
# "↓" lower is better, "↑" higher is better, "" no direction, e.g. a size).
METRICS: dict[str, tuple[str, int, str]] = {
    "fid": ("FID", 2, "↓"),
    "kid": ("KID", 4, "↓"),
    "precision": ("Precision", 3, "↑"),
    "recall": ("Recall", 3, "↑"),
    "fg_miou": ("FG-mIoU", 2, "↑"),
    "miou": ("mIoU", 2, "↑"),
    "pixel_accuracy": ("pixel accuracy", 3, "↑"),
    "label_prop_miou": ("mIoU (label propagation)", 2, "↑"),
    "swap_lpips": (
        "LPIPS (texture swap)",
        3,
        "",
    ),  # direction depends on what the swap must keep (research/coordgan.md)
    "struc_swap_lpips": ("LPIPS (structure swap)", 3, ""),
    "swap_id": ("ID (texture swap)", 3, ""),
    "struc_swap_id": ("ID (structure swap)", 3, ""),
    "pck": ("PCK", 2, "↑"),
    "psnr": ("PSNR (dB)", 2, "↑"),
    "subgrid_err": ("max subgrid error", 6, "↓"),
    "time_ms": ("ms/image", 1, "↓"),
    "peak_mb": ("peak MB", 1, "↓"),
    "params_m": ("G params (M)", 2, ""),
    "seam": ("seam score", 3, ""),
}

# The one spelling of every method in a table.
METHOD_LABELS: dict[str, str] = {
    "stylegan2": "StyleGAN2-ADA",
    "creps": "CREPS",
    "coordgan": "CoordGAN",
    "cocogan": "COCO-GAN",
    "cocogan_extrap": "COCO-GAN extrapolation",
    "cocogan_panorama": "COCO-GAN panorama",
    "lagm": "LAGM",
    "vision_aided": "Vision-aided GAN",
}

# metrics a floor (two halves of the real data) is measured for
FLOOR_METRICS = ("fid", "kid", "precision", "recall")
FLOOR_LABEL = "Real data (two halves)"


def method_label(method: str) -> str:
    return METHOD_LABELS.get(method, method)


def base_metric(metric: str) -> str:
    """``fid-scale2`` -> ``fid``: the metric a result file name measures."""
    head, sep, tail = metric.rpartition("-scale")
    return head if sep and tail.isdigit() else metric


def _superscript(n: int) -> str:
    return str(n).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))


# protocol key -> how the caption says it
_PROTOCOL_ORDER = (
    "name",
    "extractor",
    "num_gen",
    "num_real",
    "reference",
    "truncation",
    "images",
    "grid",
    "device",
    "threads",
    "repeats",
)
_PROTOCOL_PHRASES = {
    "name": "{}",
    "extractor": "extractor {}",
    "num_gen": "{} generated images",
    "num_real": "{} real images",
    "reference": "reference set {}",
    "truncation": "truncation psi {}",
    "images": "{} images",
    "grid": "{} grids",
    "device": "on {}",
    "threads": "{} threads",
    "repeats": "median of {} renders",
}
_ROW_KINDS = ("group", "method", "dataset", "experiment")


@dataclass(frozen=True)
class Column:
    """One column: a metric (the eval file stem), optionally restricted to one dataset and resolution."""

    metric: str
    label: str | None = None
    dataset: str | None = None
    resolution: int | None = None
    published_metric: str | None = None  # the metric's name in published.yaml (default: ``metric``)
    setting: Mapping[str, Any] = field(default_factory=dict)  # published setting the column stands for
    decimals: int | None = None
    protocol: str | None = None  # read results/eval/{experiment}/{protocol}/{metric}.json (None: no protocol dir)
    multiplier: float = 1.0  # shown value = measured value x multiplier (KID x 10^3)
    show_protocol: bool = False  # name the protocol in the header (a table with several protocols)

    @property
    def header(self) -> str:
        label, _, arrow = METRICS.get(base_metric(self.metric), (self.metric, 2, ""))
        text = self.label or label
        if self.multiplier != 1:
            exponent = math.log10(self.multiplier)
            text += f" ×10{_superscript(int(exponent))}" if exponent.is_integer() else f" ×{self.multiplier:g}"
        if arrow:
            text += f" {arrow}"
        if self.show_protocol and self.protocol:
            text += f" [{self.protocol}]"
        return text

    @property
    def digits(self) -> int:
        return self.decimals if self.decimals is not None else METRICS.get(base_metric(self.metric), ("", 2, ""))[1]

    @property
    def scale(self) -> int:
        """The output scale the column measures (CREPS's FID at R s): its floor is the real data at R s."""
        return int(self.setting.get("scale", 1))

    def selects(self, exp: Mapping[str, Any]) -> bool:
        return (self.dataset is None or exp["dataset"] == self.dataset) and (
            self.resolution is None or exp["resolution"] == self.resolution
        )


@dataclass(frozen=True)
class Row:
    """An explicit row: the experiments it covers (by name, or by method/dataset/resolution) and its setting."""

    label: str
    method: str | None = None
    experiments: tuple[str, ...] = ()
    dataset: str | None = None
    resolution: int | None = None
    setting: Mapping[str, Any] = field(default_factory=dict)  # published setting the row stands for
    paper: str | None = None  # restrict published lookups of this row to one paper
    metric_prefix: str = ""  # read ``{prefix}{metric}.json``: a reference model measured in the same job
    published_method: str | None = None  # the method published numbers name for this row (default: the run's)

    def selects(self, exp: Mapping[str, Any]) -> bool:
        return (
            (not self.experiments or exp["name"] in self.experiments)
            and (self.method is None or exp["method"] == self.method)
            and (self.dataset is None or exp["dataset"] == self.dataset)
            and (self.resolution is None or exp["resolution"] == self.resolution)
        )


@dataclass(frozen=True)
class TableSpec:
    """What a table shows.

    Args:
        name: file stem of the outputs (``reports/tables/{name}.md``).
        title: first words of the caption.
        columns: the metric columns.
        rows: "group" (one row per run group), "method", "dataset" (one per dataset and resolution),
            "experiment" (one per experiment, no seed aggregation), or a tuple of :class:`Row`.
        methods, datasets, resolutions: keep only experiments with these values (None: all).
        paper: look published numbers up in this paper only (None: any paper).
        deviations: how this table departs from the paper's (stated in the caption).
        same_protocol: every cell of a column must share one protocol (a comparison table).
        published_datasets: config dataset name -> dataset id in published.yaml, where they differ.
        floor: add a row per dataset and resolution with each protocol column measured between two disjoint
            halves of the real data (``results/eval/_real/...``), the best a method can be expected to reach.
    """

    name: str
    title: str
    columns: tuple[Column, ...]
    rows: str | tuple[Row, ...] = "group"
    methods: tuple[str, ...] | None = None
    datasets: tuple[str, ...] | None = None
    resolutions: tuple[int, ...] | None = None
    paper: str | None = None
    deviations: tuple[str, ...] = ()
    same_protocol: bool = True
    published_datasets: Mapping[str, str] = field(default_factory=dict)
    row_header: str | None = None
    floor: bool = False
    # Only runs trained from scratch: a fine-tune of another run (init_from) is not that method's baseline.
    from_scratch: bool = False
    # Released networks (config `released:`, marked ``released``) instead of the experiments.
    released: bool = False

    def selects(self, exp: Mapping[str, Any]) -> bool:
        return (
            bool(exp.get("released")) == self.released
            and (self.methods is None or exp["method"] in self.methods)
            and not (self.from_scratch and exp.get("init_from"))
            and (self.datasets is None or exp["dataset"] in self.datasets)
            and (self.resolutions is None or exp["resolution"] in self.resolutions)
        )


# ---------------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Result:
    """One measurement, ``results/eval/{experiment}/{metric}.json``."""

    path: Path
    metric: str
    value: float
    std: float | None
    protocol: Mapping[str, Any]


def load_result(path: str | os.PathLike) -> Result:
    """Read and check one eval JSON; raise DataError naming the file and key."""
    path = Path(path)
    try:
        with open(path) as f:
            doc = json.load(f)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON at line {exc.lineno}: {exc.msg}") from None
    if not isinstance(doc, dict):
        raise DataError(f"{path}: expected a JSON object")
    for key in ("metric", "value", "protocol"):
        if key not in doc:
            raise DataError(f"{path}: missing key {key!r}")
    value, std, protocol = doc["value"], doc.get("std"), doc["protocol"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DataError(f"{path}: value: expected a finite number, got {value!r}")
    if std is not None and (isinstance(std, bool) or not isinstance(std, (int, float))):
        raise DataError(f"{path}: std: expected a number or null, got {std!r}")
    if not isinstance(protocol, dict):
        raise DataError(f"{path}: protocol: expected an object, got {type(protocol).__name__}")
    return Result(path, str(doc["metric"]), float(value), None if std is None else float(std), protocol)


def _result_path(eval_dir: Path, experiment: str, metric: str, protocol: str | None = None) -> Path:
    return Path(eval_path(experiment, metric, protocol, root=eval_dir))


# ------------------------------------------------------------------------------------------------------ build

_SEED_KEYS = ("name", "seed")


def _group_key(exp: Mapping[str, Any]) -> str:
    return json.dumps({k: v for k, v in exp.items() if k not in _SEED_KEYS}, sort_keys=True, default=str)


@dataclass
class Cell:
    """One table cell: our values over seeds and the comparable published record, if any."""

    values: list[float] = field(default_factory=list)
    protocol: Mapping[str, Any] | None = None
    published: PublishedRecord | None = None
    hidden: int = 0  # published numbers for this cell not shown because the protocol differs or is unknown
    floor: bool = False  # measured on real data (two halves), not on a method
    folds: int = 1  # a single-seed cell whose result is a mean over this many folds (its std is the folds')
    fold_std: float | None = None

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.values) if self.values else None

    @property
    def std(self) -> float | None:
        """Over seeds where there are several; for one seed of a k-fold protocol, the std over its folds."""
        if len(self.values) >= 2:
            return statistics.stdev(self.values)
        return self.fold_std if self.folds > 1 else None


@dataclass
class Table:
    """A built table, ready to be written in any format."""

    spec: TableSpec
    row_labels: list[str]
    cells: list[list[Cell]]
    caption: str

    @property
    def header(self) -> list[str]:
        return [self.spec.row_header or _default_row_header(self.spec)] + [c.header for c in self.spec.columns]


def _default_row_header(spec: TableSpec) -> str:
    if isinstance(spec.rows, tuple):
        return "Method"
    return {"group": "Method", "method": "Method", "dataset": "Dataset", "experiment": "Experiment"}[spec.rows]


def _rows(
    spec: TableSpec, experiments: list[Mapping[str, Any]]
) -> list[tuple[str, list[Mapping[str, Any]], Row | None]]:
    """(label, experiments, explicit row) for every row, in the order experiments first appear."""
    if isinstance(spec.rows, tuple):
        return [(row.label, [e for e in experiments if row.selects(e)], row) for row in spec.rows]
    if spec.rows not in _ROW_KINDS:
        raise ConfigError(
            f"table {spec.name}: rows: unknown value {spec.rows!r} (expected one of: "
            f"{', '.join(_ROW_KINDS)} or a tuple of Row)"
        )
    key = {
        "group": _group_key,
        "method": lambda e: e["method"],
        "experiment": lambda e: e["name"],
        "dataset": lambda e: (e["dataset"], e["resolution"]),
    }[spec.rows]
    grouped: dict[Any, list[Mapping[str, Any]]] = {}
    for exp in experiments:
        grouped.setdefault(key(exp), []).append(exp)
    rows = []
    for members in grouped.values():
        first = members[0]
        if spec.rows == "dataset":
            label = f"{first['dataset']} {first['resolution']}"
        elif spec.rows == "experiment":
            label = first["name"]
        else:
            label = method_label(first["method"])
        rows.append([label, members, None])
    labels = [r[0] for r in rows]
    for r in rows:  # two run groups of one method: tell them apart by the first experiment's name
        if labels.count(r[0]) > 1:
            r[0] = min(m["name"] for m in r[1])
    return [tuple(r) for r in rows]


def _cell_groups(spec: TableSpec, label: str, col: Column, members: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The experiments of one cell; they must differ only in name and seed."""
    chosen = [e for e in members if col.selects(e)]
    if spec.rows == "experiment":
        return chosen
    keys = {_group_key(e) for e in chosen}
    if len(keys) > 1:
        names = ", ".join(sorted(e["name"] for e in chosen))
        raise ConfigError(
            f"table {spec.name}: row {label!r}, column {col.header!r}: experiments {names} differ in "
            f"more than the seed; split the row or restrict the column"
        )
    return sorted(chosen, key=lambda e: (e.get("seed", 0), e["name"]))


def build_table(
    spec: TableSpec,
    experiments: Iterable[Mapping[str, Any]],
    eval_dir: str | os.PathLike,
    published_path: str | os.PathLike = PUBLISHED_PATH,
) -> Table:
    """Read the measurements of ``experiments`` and lay them out as ``spec`` says."""
    eval_dir = Path(eval_dir)
    experiments = [e for e in experiments if spec.selects(e)]
    records = load_published(published_path)
    rows = _rows(spec, experiments)
    cells: list[list[Cell]] = []
    for label, members, row in rows:
        line = []
        for col in spec.columns:
            cell = Cell()
            chosen = _cell_groups(spec, label, col, members)
            first_path = None
            for exp in chosen:
                path = _result_path(
                    eval_dir, exp["name"], (row.metric_prefix if row else "") + col.metric, col.protocol
                )
                if not path.exists():
                    continue
                result = load_result(path)
                if cell.protocol is None:
                    cell.protocol, first_path = result.protocol, path
                elif dict(result.protocol) != dict(cell.protocol):
                    raise DataError(
                        f"{path}: protocol {_protocol_text(result.protocol)} differs from "
                        f"{first_path} ({_protocol_text(cell.protocol)}); seeds of one cell must share it"
                    )
                cell.values.append(result.value * col.multiplier)
                folds = result.protocol.get("folds", 1)
                if isinstance(folds, int) and folds > 1 and result.std is not None:
                    cell.folds, cell.fold_std = folds, result.std * col.multiplier
            if cell.values:
                _attach_published(spec, row, col, chosen[0], cell, records)
            line.append(cell)
        cells.append(line)
    _check_same_protocol(spec, rows, cells)
    labels = [r[0] for r in rows]
    if spec.floor:
        pairs = sorted({(e["dataset"], e["resolution"]) for e in experiments})
        for dataset, res in pairs:
            labels.append(FLOOR_LABEL if len(pairs) == 1 else f"{FLOOR_LABEL}: {dataset} {res}")
            cells.append([_floor_cell(eval_dir, col, dataset, res) for col in spec.columns])
    shown = [e for _, members, _ in rows for e in members]  # the caption names the data of the rows, not of the config
    return Table(spec, labels, cells, _caption(spec, shown, labels, cells))


def _floor_cell(eval_dir: Path, col: Column, dataset: str, res: int) -> Cell:
    """The column's metric between two halves of the real data at the column's resolution (empty if none)."""
    cell = Cell(floor=True)
    if col.protocol is None or base_metric(col.metric) not in FLOOR_METRICS:
        return cell
    path = Path(floor_path(dataset, res * col.scale, col.protocol, base_metric(col.metric), root=eval_dir))
    if path.exists():
        result = load_result(path)
        cell.protocol = result.protocol
        cell.values.append(result.value * col.multiplier)
    return cell


def _attach_published(
    spec: TableSpec,
    row: Row | None,
    col: Column,
    exp: Mapping[str, Any],
    cell: Cell,
    records: tuple[PublishedRecord, ...],
) -> None:
    dataset = spec.published_datasets.get(exp["dataset"], exp["dataset"])
    setting = {**(row.setting if row else {}), **col.setting}
    paper = (row.paper if row and row.paper else None) or spec.paper
    metric = col.published_metric or col.metric
    method = (row.published_method if row else None) or exp["method"]
    cell.published = published_value(
        paper, metric, method, dataset, exp["resolution"], cell.protocol, setting, records=records
    )
    if cell.published is not None and cell.published.value is None:
        cell.published = None  # comparable, but the number is not known
    if cell.published is None:
        cell.hidden = sum(
            1
            for r in published_candidates(metric, method, dataset, exp["resolution"], setting, paper, records=records)
            if r.value is not None
        )


def _check_same_protocol(spec: TableSpec, rows, cells: list[list[Cell]]) -> None:
    if not spec.same_protocol:
        return
    for j, col in enumerate(spec.columns):
        seen = None
        for (label, _, _), line in zip(rows, cells):
            proto = line[j].protocol
            if proto is None:
                continue
            if seen is None:
                seen = (label, proto)
            elif dict(proto) != dict(seen[1]):
                raise DataError(
                    f"table {spec.name}: column {col.header!r}: row {label!r} was measured with "
                    f"{_protocol_text(proto)}, row {seen[0]!r} with {_protocol_text(seen[1])}; "
                    f"a comparison table needs one protocol"
                )


# ---------------------------------------------------------------------------------------------------- caption


def _protocol_text(protocol: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {protocol[k]}" for k in sorted(protocol)) + "}"


def _protocol_phrase(protocols: list[tuple[str, Mapping[str, Any]]]) -> str:
    """The caption's account of (row label, protocol) pairs; a value that differs between rows names its rows."""
    # The caption states the protocol a reader compares numbers by; a metric's own settings (KID
    # subsets, the k of precision/recall) and the seed list stay in the result files.
    keys = [k for k in _PROTOCOL_ORDER if any(k in p for _, p in protocols)]
    parts = []
    for key in keys:
        phrase = _PROTOCOL_PHRASES.get(key, key.replace("_", " ") + " {}")
        rows_by_value: dict[str, list[str]] = {}
        for label, proto in protocols:
            if key in proto:
                rows = rows_by_value.setdefault(str(proto[key]), [])
                if label not in rows:
                    rows.append(label)
        if len(rows_by_value) == 1:
            parts.append(phrase.format(next(iter(rows_by_value))))
        else:
            parts.append(" / ".join(f"{phrase.format(v)} ({', '.join(rows)})" for v, rows in rows_by_value.items()))
    return ", ".join(parts)


def _caption(spec: TableSpec, experiments: list[Mapping[str, Any]], labels: list[str], cells: list[list[Cell]]) -> str:
    sentences = [spec.title + "."]
    pairs = sorted({(e["dataset"], e["resolution"]) for e in experiments})
    if pairs:
        word = "Dataset" if len(pairs) == 1 else "Datasets"
        sentences.append(f"{word}: " + ", ".join(f"{d} at {r}x{r}" for d, r in pairs) + ".")
    by_metric: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    for label, line in zip(labels, cells):
        for col, cell in zip(spec.columns, line):
            if cell.protocol is not None and not cell.floor:
                by_metric.setdefault(col.header, []).append((label, cell.protocol))
    phrases = {name: text for name, protos in by_metric.items() if (text := _protocol_phrase(protos))}
    if phrases:
        if len(set(phrases.values())) == 1:
            sentences.append(f"Protocol: {next(iter(phrases.values()))}.")
        else:  # columns sharing a protocol are named together
            columns_by_text: dict[str, list[str]] = {}
            for name, text in phrases.items():
                columns_by_text.setdefault(text, []).append(name)
            sentences.append(
                "Protocol: " + "; ".join(f"{', '.join(names)}: {text}" for text, names in columns_by_text.items()) + "."
            )
    floors = [c for line in cells for c in line if c.floor and c.protocol is not None]
    if floors:
        halves = sorted({f"{c.protocol.get('num_a')} vs {c.protocol.get('num_b')}" for c in floors})
        sentences.append(
            f"{FLOOR_LABEL}: the same metric between two disjoint halves of the reference set "
            f"(even and odd positions by sorted name, {', '.join(halves)} images), same extractor and "
            f"protocol: how far a method is from real data. Being computed on half-size sets it is "
            f"biased upward for FID relative to the rows above."
        )
    extractors = {c.protocol.get("extractor") for line in cells for c in line if c.protocol is not None}
    if "probe" in extractors:
        sentences.append(
            "Probe values are distances in the probe network's feature space (trained on the synthetic "
            "data), not comparable with Inception FID/KID; read them beside the real-data floor."
        )
    folded = sorted({c.folds for line in cells for c in line if c.n == 1 and c.folds > 1})
    if folded:
        sentences.append(f"A single seed measured over {'/'.join(map(str, folded))} folds: mean ± std over the folds.")
    counts = sorted({c.n for line in cells for c in line if c.n and not c.floor})
    if counts and counts[-1] > 1:
        span = str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
        sentences.append(
            f"Ours: mean ± sample std over {span} seeds" + (" (one seed: its value)." if counts[0] == 1 else ".")
        )
    elif counts:
        sentences.append("Ours: one seed.")
    else:
        sentences.append("No measurements yet.")
    shown = [c.published for line in cells for c in line if c.published is not None]  # never on a floor
    hidden = sum(c.hidden for line in cells for c in line)
    if shown:
        note = "Paper values in parentheses where dataset, resolution and protocol match"
        if any(r.protocol_inferred for r in shown):
            note += " (paper*: protocol partly inferred from the official code)"
        sentences.append(note + ".")
    if hidden:
        sentences.append(f"{hidden} paper value{'s' if hidden > 1 else ''} not shown: protocol differs or is unknown.")
    if spec.deviations:
        sentences.append("Deviations: " + "; ".join(spec.deviations) + ".")
    return " ".join(sentences)


def render_table(
    spec: TableSpec,
    experiments: Iterable[Mapping[str, Any]],
    eval_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    published_path: str | os.PathLike = PUBLISHED_PATH,
) -> dict[str, Path]:
    """Build the table and write ``{out_dir}/{spec.name}.{md,csv,tex}``; returns the paths by format.

    Everything is built before anything is written, and each file is written atomically, so bad input
    leaves no output behind.
    """
    table = build_table(spec, experiments, eval_dir, published_path)
    texts = {ext: fmt(table) for ext, fmt in FORMATS.items()}
    out_dir = Path(out_dir)
    paths = {}
    for ext, text in texts.items():
        paths[ext] = out_dir / f"{spec.name}.{ext}"
        with atomic_path(paths[ext]) as tmp:
            tmp.write_text(text, encoding="utf-8")
    return paths

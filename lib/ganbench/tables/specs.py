"""The tables the pipeline knows by name: the generic ones (``baseline``, ``cross_method``) and the papers'
(``creps``). Each is a :class:`~ganbench.tables.render.TableSpec`; :func:`configured_specs` turns a
configuration's ``tables`` list into specs. A new paper table is a function here returning its specs.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from ganbench.errors import ConfigError
from ganbench.tables.render import Column, Row, TableSpec


def cross_method(dataset: str, resolution: int, metrics: Sequence[str] = ("fid", "kid", "precision", "recall"),
                 deviations: Sequence[str] = (), published_datasets: Mapping[str, str] | None = None) -> TableSpec:
    """Every method trained on ``dataset`` at ``resolution``, side by side, one row per run group."""
    return TableSpec(name=f"cross_method-{dataset}-{resolution}",
                     title="All methods side by side",
                     columns=tuple(Column(m) for m in metrics), rows="group",
                     datasets=(dataset,), resolutions=(resolution,), deviations=tuple(deviations),
                     published_datasets=dict(published_datasets or {}))


def configured_specs(names: Sequence[str], experiments: Iterable[Mapping[str, Any]],
                     metrics: Sequence[str] = ("fid", "kid", "precision", "recall"), scales: Sequence[int] = (1, 2, 4),
                     **kwargs) -> list[TableSpec]:
    """The tables a configuration's ``tables`` list names: ``baseline``, ``cross_method`` (one per
    dataset and resolution the experiments train on), and ``creps`` (for each dataset and resolution CREPS
    trains on: FID per output scale with consistency, and render cost beside StyleGAN2)."""
    experiments = list(experiments)
    specs = []
    for name in names:
        if name == "baseline":
            specs.append(baseline(metrics, **kwargs))
        elif name == "cross_method":
            specs.extend(cross_method_specs(experiments, metrics=metrics, **kwargs))
        elif name == "creps":
            pairs = sorted({(e["dataset"], e["resolution"]) for e in experiments if e["method"] == "creps"})
            for dataset, res in pairs:
                specs.extend(creps_tables(dataset, res, scales))
        else:
            raise ConfigError(f"tables: unknown table {name!r} (known: baseline, cross_method, creps)")
    return specs


def creps_tables(dataset: str, resolution: int, scales: Sequence[int] = (1, 2, 4)) -> list[TableSpec]:
    """CREPS on one dataset and resolution: quality per output scale, and the cost of rendering each scale.

    FID at scale s compares images rendered on the official ``--scale`` grid (int(R s) points, research
    creps.md §5) with the real data prepared at R s; consistency uses nested grids (see
    :mod:`ganbench.metrics.any_scale`). The cost table's StyleGAN2 row is an untrained generator built at R s,
    measured in the same job, so the two rows share one machine state.
    """
    scales = sorted(set(scales) | {1})
    above = [s for s in scales if s > 1]
    fid = tuple(Column("fid" if s == 1 else f"fid-scale{s}", label=f"FID {s}x", published_metric="fid",
                       setting={} if s == 1 else {"scale": s}) for s in scales)
    consistency = tuple(Column(f"{m}-scale{s}", label=f"{label} {s}x", decimals=digits) for m, label, digits in
                        (("psnr", "PSNR", 2), ("subgrid_err", "subgrid err", 6)) for s in above)
    where = f"{dataset}-{resolution}"
    quality = TableSpec(
        name=f"creps-{where}", title=f"CREPS at several output scales ({dataset}, trained at {resolution} px)",
        columns=fid + consistency, rows="group", methods=("creps",), datasets=(dataset,), resolutions=(resolution,),
        paper="creps", same_protocol=False,
        deviations=("FID at scale s against the real data prepared at R s, as the official calc_metrics --scale "
                    "(the paper's tables could not be read, so no published multi-scale FID exists)",
                    "PSNR and subgrid error are ours (the official code has no consistency metric): nested grids "
                    "s(R-1)+1, PSNR of the s-scale image downsampled to R against the 1x image"))
    cost_columns = (Column("params_m"),
                    *(Column(f"time_ms-scale{s}", label=f"ms/img {s}x", decimals=1) for s in scales),
                    *(Column(f"peak_mb-scale{s}", label=f"peak MB {s}x", decimals=1) for s in scales))
    cost = TableSpec(
        name=f"creps_cost-{where}", title=f"Rendering cost per image at each output scale ({dataset}, {resolution} px)",
        columns=cost_columns,
        rows=(Row("CREPS", method="creps", dataset=dataset, resolution=resolution),
              Row("StyleGAN2 at R s (same job)", method="creps", dataset=dataset, resolution=resolution,
                  metric_prefix="stylegan2-")),
        methods=("creps",), datasets=(dataset,), resolutions=(resolution,), paper="creps",
        deviations=("batch 1, median of repeats; StyleGAN2 untrained at R s with the baseline experiment's options "
                    "(cost does not depend on weights); the paper's speed table could not be read",))
    return [quality, cost]


def cross_method_specs(experiments: Iterable[Mapping[str, Any]], **kwargs) -> list[TableSpec]:
    """One :func:`cross_method` table per (dataset, resolution) pair that the experiments train on."""
    pairs = sorted({(exp["dataset"], exp["resolution"]) for exp in experiments})
    return [cross_method(dataset, res, **kwargs) for dataset, res in pairs]


def baseline(metrics: Sequence[str] = ("fid", "kid", "precision", "recall"), method: str = "stylegan2",
             deviations: Sequence[str] = (), published_datasets: Mapping[str, str] | None = None) -> TableSpec:
    """The StyleGAN2 baseline on each dataset and resolution: one row per dataset."""
    return TableSpec(name="baseline", title=f"Baseline ({method}) on every dataset",
                     columns=tuple(Column(m) for m in metrics), rows="dataset", methods=(method,),
                     deviations=tuple(deviations), same_protocol=False,
                     published_datasets=dict(published_datasets or {}), row_header="Dataset")

"""The tables the pipeline knows by name, in one registry (importable without torch).

A table family is a function ``(context) -> list[TableSpec]`` registered with ``@register_table("name")``; the
configuration's ``tables`` list names families (validated against :data:`TABLES`), and :func:`configured_specs`
calls them. The generic families are ``baseline`` and ``cross_method``; the papers' are here too (``creps``).

Metric columns come from the configured protocols (:func:`protocol_columns`): one column per protocol and
result, reading ``results/eval/{experiment}/{protocol}/{metric}.json``; with several protocols the header names
the protocol. FID-type tables carry a floor row (:attr:`TableSpec.floor`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

from ganbench.config import parent_experiment
from ganbench.errors import ConfigError, did_you_mean
from ganbench.methods.catalog import CATALOG
from ganbench.methods.options import COCOGANOptions
from ganbench.metrics.protocols import Protocol, get_protocol
from ganbench.tables.render import Column, Row, TableSpec, method_label

DEFAULT_PROTOCOLS = ("probe2k_full",)


@dataclass(frozen=True)
class TableContext:
    """What a table family builds its specs from."""

    experiments: tuple[Mapping[str, Any], ...]
    protocols: tuple[Protocol, ...]
    scales: tuple[int, ...] = (1, 2, 4)
    datasets: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)  # the config's datasets
    defaults: tuple[str, ...] | None = None  # protocols of experiments that list none (None: all of ``protocols``)
    released: tuple[Mapping[str, Any], ...] = ()  # released networks as runs (ganbench.config.released_runs)

    def protocols_for(self, experiments: Iterable[Mapping[str, Any]] | None = None) -> tuple[Protocol, ...]:
        """The context's protocols that any of ``experiments`` (default: all) measured by GAN protocols is
        measured by, in the context's order: an experiment's own ``protocols`` list, else the defaults. A
        table's columns come from these, so a paper's own protocol (COCO-GAN's fid50k_ttur) adds no empty
        column to the other papers' tables."""
        experiments = self.experiments if experiments is None else experiments
        experiments = [e for e in experiments if "gan" in CATALOG[e["method"]].evaluations]
        every = tuple(p.name for p in self.protocols)
        defaults = every if self.defaults is None else self.defaults
        names = {n for e in experiments for n in (e.get("protocols") or defaults)} if experiments else set(defaults)
        return tuple(p for p in self.protocols if p.name in names or p.kind != "gan")

    def pairs(self, method: str | None = None) -> list[tuple[str, int]]:
        """(dataset, resolution) pairs the experiments (of ``method``) train on."""
        return sorted(
            {(e["dataset"], e["resolution"]) for e in self.experiments if method is None or e["method"] == method}
        )


TABLES: dict[str, Callable[[TableContext], list[TableSpec]]] = {}


def register_table(name: str):
    """Register a table family under ``name`` (a name is registered once)."""
    if not name or not name.replace("_", "").isalnum():
        raise ConfigError(f"table {name!r}: use letters, digits and '_'")
    if name in TABLES:
        raise ConfigError(f"table {name!r}: already registered")

    def decorate(fn: Callable[[TableContext], list[TableSpec]]):
        if not callable(fn):
            raise ConfigError(f"table {name!r}: not a function")
        TABLES[name] = fn
        return fn

    return decorate


def _protocols(protocols: Iterable[Protocol | str]) -> tuple[Protocol, ...]:
    return tuple(get_protocol(p, "tables") if isinstance(p, str) else p for p in protocols)


def protocol_columns(
    protocols: Iterable[Protocol | str] = DEFAULT_PROTOCOLS, metrics: Sequence[str] | None = None
) -> tuple[Column, ...]:
    """One column per (protocol, result), in order, keeping only ``metrics`` (result names) if given; the header
    names the protocol when there are several."""
    protocols = [p for p in _protocols(protocols) if p.kind == "gan"]
    several = len(protocols) > 1
    return tuple(
        Column(name, protocol=p.name, show_protocol=several, multiplier=p.kid_scale if name == "kid" else 1.0)
        for p in protocols
        for name in p.result_names
        if metrics is None or name in metrics
    )


def configured_specs(
    names: Sequence[str],
    experiments: Iterable[Mapping[str, Any]],
    protocols: Iterable[Protocol | str] = DEFAULT_PROTOCOLS,
    scales: Sequence[int] = (1, 2, 4),
    datasets: Mapping[str, Mapping[str, Any]] | None = None,
    defaults: Sequence[str] | None = None,
    released: Iterable[Mapping[str, Any]] = (),
) -> list[TableSpec]:
    """The tables a configuration's ``tables`` list names, under its GAN protocols (``datasets``: the
    configuration's, which tables of stages on generated pairs read; ``defaults``: the protocols of
    experiments that list none of their own, metrics.protocols, None: all of ``protocols``; ``released``: its
    released networks as runs, which only tables marked ``released`` show)."""
    context = TableContext(
        tuple(experiments),
        _protocols(protocols),
        tuple(scales),
        dict(datasets or {}),
        None if defaults is None else tuple(defaults),
        tuple(released),
    )
    specs = []
    for name in names:
        if name not in TABLES:
            raise ConfigError(f"tables: unknown table {name!r}{did_you_mean(name, TABLES)}")
        specs.extend(TABLES[name](context))
    return specs


# --- generic tables --------------------------------------------------------------------------------------------


def cross_method(
    dataset: str,
    resolution: int,
    protocols: Iterable[Protocol | str] = DEFAULT_PROTOCOLS,
    deviations: Sequence[str] = (),
    published_datasets: Mapping[str, str] | None = None,
    metrics: Sequence[str] | None = None,
) -> TableSpec:
    """Every method trained on ``dataset`` at ``resolution``, side by side, one row per run group, and the floor."""
    return TableSpec(
        name=f"cross_method-{dataset}-{resolution}",
        title="All methods side by side",
        columns=protocol_columns(protocols, metrics),
        rows="group",
        datasets=(dataset,),
        resolutions=(resolution,),
        deviations=tuple(deviations),
        published_datasets=dict(published_datasets or {}),
        floor=True,
    )


def cross_method_specs(experiments: Iterable[Mapping[str, Any]], **kwargs) -> list[TableSpec]:
    """One :func:`cross_method` table per (dataset, resolution) pair that the experiments train on."""
    pairs = sorted({(exp["dataset"], exp["resolution"]) for exp in experiments})
    return [cross_method(dataset, res, **kwargs) for dataset, res in pairs]


def baseline(
    protocols: Iterable[Protocol | str] = DEFAULT_PROTOCOLS,
    method: str = "stylegan2",
    deviations: Sequence[str] = (),
    published_datasets: Mapping[str, str] | None = None,
    metrics: Sequence[str] | None = None,
) -> TableSpec:
    """The StyleGAN2 baseline on each dataset and resolution: one row per dataset, and one floor per dataset."""
    return TableSpec(
        name="baseline",
        title=f"Baseline ({method_label(method)}) on every dataset",
        columns=protocol_columns(protocols, metrics),
        rows="dataset",
        methods=(method,),
        deviations=tuple(deviations),
        same_protocol=False,
        published_datasets=dict(published_datasets or {}),
        row_header="Dataset",
        floor=True,
        from_scratch=True,
    )


@register_table("baseline")
def _baseline_tables(ctx: TableContext) -> list[TableSpec]:
    return [baseline(ctx.protocols_for(e for e in ctx.experiments if e["method"] == "stylegan2"))]


@register_table("cross_method")
def _cross_method_tables(ctx: TableContext) -> list[TableSpec]:
    # stages are in their own tables, and so is a GAN without GAN protocols (COCO-GAN's panorama: no FID)
    gans = [
        e for e in ctx.experiments if CATALOG[e["method"]].kind == "gan" and "gan" in CATALOG[e["method"]].evaluations
    ]
    pairs = sorted({(e["dataset"], e["resolution"]) for e in gans})
    return [
        cross_method(d, r, ctx.protocols_for(e for e in gans if (e["dataset"], e["resolution"]) == (d, r)))
        for d, r in pairs
    ]


# --- CREPS ----------------------------------------------------------------------------------------------------


def creps_tables(
    dataset: str,
    resolution: int,
    scales: Sequence[int] = (1, 2, 4),
    protocols: Iterable[Protocol | str] = DEFAULT_PROTOCOLS,
) -> list[TableSpec]:
    """CREPS on one dataset and resolution: quality per output scale, and the cost of rendering each scale.

    FID at scale s compares images rendered on the official ``--scale`` grid (int(R s) points, research
    creps.md §5) with the real data prepared at R s (the header names that resolution), under each protocol that
    has FID; the floor row is FID between two halves of the real data at R s. Consistency uses nested grids (see
    :mod:`ganbench.metrics.any_scale`). The cost table's StyleGAN2 row is an untrained generator built at R s,
    measured in the same job, so the two rows share one machine state.
    """
    scales = sorted(set(scales) | {1})
    above = [s for s in scales if s > 1]
    fid_protocols = [p for p in _protocols(protocols) if p.kind == "gan" and "fid" in p.metrics]
    several = len(fid_protocols) > 1
    fid = tuple(
        Column(
            "fid" if s == 1 else f"fid-scale{s}",
            label=f"FID {s}x ({resolution * s} px)",
            published_metric="fid",
            setting={} if s == 1 else {"scale": s},
            protocol=p.name,
            show_protocol=several,
        )
        for p in fid_protocols
        for s in scales
    )
    consistency = tuple(
        Column(f"{m}-scale{s}", label=f"{label} {s}x", decimals=digits)
        for m, label, digits in (("psnr", "PSNR", 2), ("subgrid_err", "subgrid err", 6))
        for s in above
    )
    where = f"{dataset}-{resolution}"
    quality = TableSpec(
        name=f"creps-{where}",
        title=f"CREPS at several output scales ({dataset}, trained at {resolution} px)",
        columns=fid + consistency,
        rows="group",
        methods=("creps",),
        datasets=(dataset,),
        resolutions=(resolution,),
        paper="creps",
        same_protocol=False,
        floor=True,
        deviations=(
            "FID at scale s against the real data prepared at R s, as the official calc_metrics --scale "
            "(the paper's tables could not be read, so no published multi-scale FID exists)",
            "PSNR and subgrid error are ours (the official code has no consistency metric): nested grids "
            "s(R-1)+1, PSNR of the s-scale image downsampled to R against the 1x image",
        ),
    )
    cost_columns = (
        Column("params_m"),
        *(Column(f"time_ms-scale{s}", label=f"ms/img {s}x", decimals=1) for s in scales),
        *(Column(f"peak_mb-scale{s}", label=f"peak MB {s}x", decimals=1) for s in scales),
    )
    cost = TableSpec(
        name=f"creps_cost-{where}",
        title=f"Rendering cost per image at each output scale ({dataset}, {resolution} px)",
        columns=cost_columns,
        rows=(
            Row(method_label("creps"), method="creps", dataset=dataset, resolution=resolution),
            Row(
                f"{method_label('stylegan2')} at R·s (untrained, same job)",
                method="creps",
                dataset=dataset,
                resolution=resolution,
                metric_prefix="stylegan2-",
            ),
        ),
        methods=("creps",),
        datasets=(dataset,),
        resolutions=(resolution,),
        paper="creps",
        deviations=(
            "batch 1, median of repeats; StyleGAN2 untrained at R s with the baseline experiment's options "
            "(cost does not depend on weights); the paper's speed table could not be read",
        ),
    )
    return [quality, cost]


@register_table("creps")
def _creps_tables(ctx: TableContext) -> list[TableSpec]:
    return [
        spec
        for dataset, res in ctx.pairs("creps")
        for spec in creps_tables(dataset, res, ctx.scales, ctx.protocols_for(_on(ctx, "creps", dataset, res)))
    ]


def _on(ctx: TableContext, method: str, dataset: str, resolution: int) -> list[Mapping[str, Any]]:
    """The context's experiments of ``method`` on ``dataset`` at ``resolution``."""
    return [
        e for e in ctx.experiments if e["method"] == method and (e["dataset"], e["resolution"]) == (dataset, resolution)
    ]


from ganbench.tables import lagm_tables as _lagm_tables  # noqa: E402,F401  (registers lagm_semi, lagm_datasetgan)
# --- COCO-GAN ---------------------------------------------------------------------------------------------------

COCOGAN_METHODS = ("cocogan", "cocogan_extrap", "cocogan_panorama")
OFFICIAL_COCOGAN = COCOGANOptions()  # the official configs' values (research cocogan.md §1.3)


def _named(phrase: str, names: list[str], every: int) -> str:
    return phrase if len(names) == every else f"{phrase} ({', '.join(names)})"


def cocogan_deviations(
    experiments: Iterable[Mapping[str, Any]], datasets: Mapping[str, Mapping[str, Any]] | None = None
) -> tuple[str, ...]:
    """How COCO-GAN experiments depart from the paper, as captions say it: the CBN and gradient-penalty forms
    they train with, networks narrower than the official 64 channels, the training length (the official
    trains without end and keeps the best snapshot), and the CelebA-syn outward crop, whose position is ours."""
    experiments = list(experiments)
    by: dict[str, list[str]] = {}
    for e in experiments:
        o = {**dataclasses.asdict(OFFICIAL_COCOGAN), **e.get("options", {})}
        if o["cbn"] == "fixed":
            by.setdefault(
                "CBN fixed: (x - mu) / sqrt(var + eps) and gamma = 1 + FC(cond), not the official var**2 and "
                "gamma = FC(cond)",
                [],
            ).append(e["name"])
        else:
            by.setdefault("CBN as the official TF code (var**2, gamma = FC(cond))", []).append(e["name"])
        gp = (
            "gradient penalty in the official per-element form (alpha per element, norm over the height axis, so "
            "lambda weighs per-column slopes)"
            if o["gp_form"] == "official"
            else "gradient penalty per sample (WGAN-GP), not the official per-element form"
        )
        by.setdefault(f"{gp}, lambda {o['gp_lambda']:g}", []).append(e["name"])
        if (o["ngf"], o["ndf"], o["z_dim"]) != (OFFICIAL_COCOGAN.ngf, OFFICIAL_COCOGAN.ndf, OFFICIAL_COCOGAN.z_dim):
            by.setdefault(
                f"narrower networks: ngf {o['ngf']}, ndf {o['ndf']}, z {o['z_dim']} (official 64, 64, 128)", []
            ).append(e["name"])
        by.setdefault(f"trained {e.get('kimg', 20):g} kimg", []).append(e["name"])
        transform = (datasets or {}).get(e["dataset"], {}).get("transform")
        if transform == "celeba-syn-outward":
            by.setdefault(
                "CelebA-syn outward: the 150-px crop's position is our assumption (centred on the official 128-px "
                "face crop, jittered by up to 25 px as inward; the report gives only its size)",
                [],
            ).append(e["name"])
    out = tuple(_named(phrase, names, len(experiments)) for phrase, names in by.items())
    return out + (
        ("training lengths are ours: the official trains without end, keeping the best-FID snapshot",) if out else ()
    )


# What each COCO-GAN figure shows (reports/figures/{experiment}-{figure}.png; ganbench.tables.cocogan_figures).
COCOGAN_FIGURES = {
    "extrapolation": "samples extrapolated past every border (extra micro patches at coordinates beyond [-1, 1]); "
    "the red rectangle is the field of view the model was trained on",
    "panorama": "cylindrical samples over one and a half turns; the red column marks the 360° seam, where the "
    "first column's angle comes again",
    "patch_guided": "rows: real images; the macro patch Q reads (the rest greyed out); the full image G makes from "
    "Q's estimate of z (not a random z, the official TensorBoard image's bug)",
}


def cocogan_setting(exp: Mapping[str, Any]) -> dict[str, Any]:
    """The published setting a COCO-GAN experiment stands for: {} for the paper's headline configuration
    (N2M2 with S, the macro patch, half the image: N2M2S32 at 64 px, S64 at 128, S128 at 256, S512 at 1024;
    no Q), else what differs (another lattice, patch-guided training), which no published FID matches."""
    options = exp.get("options", {})
    macro, micro = options.get("macro_size", 32), options.get("micro_size", 16)
    setting: dict[str, Any] = {}
    if 2 * macro != exp["resolution"] or macro != 2 * micro:
        setting["lattice"] = f"N{macro // micro}M{macro // micro}S{macro}"
    if options.get("code_loss_w"):
        setting["patch_guided"] = True
    return setting


def cocogan_tables(
    protocols: Iterable[Protocol | str] = DEFAULT_PROTOCOLS,
    experiments: Iterable[Mapping[str, Any]] = (),
    datasets: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[TableSpec]:
    """COCO-GAN's FID (full images assembled by an eval-mode G; the best-FID snapshot as the official
    evaluator keeps; extrapolated images resized to the training resolution) and the seam scores. With
    ``experiments``, the FID table has one row per experiment with its :func:`cocogan_setting`, so a published
    FID sits only beside a run of the paper's configuration, and the captions state their deviations
    (:func:`cocogan_deviations`; ``datasets``: the configuration's)."""
    experiments = [e for e in experiments if e["method"] in COCOGAN_METHODS]
    fid_experiments = [e for e in experiments if e["method"] in COCOGAN_METHODS[:2]]
    fid_protocols = [p for p in _protocols(protocols) if p.kind == "gan" and "fid" in p.metrics]
    several = len(fid_protocols) > 1
    # The published FIDs are best-of-training (the official evaluator keeps the best snapshot), so they sit
    # beside the best snapshot only; the final snapshot's column stands for another setting.
    fid = tuple(
        Column(metric, label=label, published_metric="fid", setting=setting, protocol=p.name, show_protocol=several)
        for p in fid_protocols
        for metric, label, setting in (
            ("fid", "FID (final, assembled)", {"snapshot": "final"}),
            ("fid-best", "FID (best snapshot) ↓", {}),
            ("fid-extrap", "FID (extrapolated, resized to R) ↓", {"extrapolated": True}),
        )
    )
    seams = tuple(
        Column(metric, label=label, decimals=3)
        for metric, label in (
            ("seam-assembled", "seam (assembled)"),
            ("seam-extrap", "seam (extrapolated)"),
            ("seam-real", "seam (real images)"),
            ("seam-wrap", "360° seam (generated)"),
            ("seam-wrap-interior", "interior column seam (generated)"),
            ("seam-wrap-real", "360° seam (real)"),
        )
    )
    return [
        TableSpec(
            name="cocogan_fid",
            title="COCO-GAN: FID of full images assembled from micro patches",
            columns=fid,
            rows=tuple(Row(e["name"], experiments=(e["name"],), setting=cocogan_setting(e)) for e in fid_experiments)
            or "experiment",
            row_header="Experiment",
            methods=COCOGAN_METHODS[:2],
            paper="cocogan",
            same_protocol=False,
            floor=True,
            deviations=cocogan_deviations(fid_experiments, datasets)
            + (
                "published FIDs are best-of-training with TF Inception, 50k assembled images against the first 50k "
                "real images by sorted name (30k for CelebA-HQ): the paper rows are measured by that protocol "
                "(fid50k_ttur, fid50k_ttur_hq) and a published FID is shown beside the best snapshot of a run of "
                "the paper's configuration (N2M2, S half the image, no Q) only",
                "FID (extrapolated): the (r+2e)-patch image resized (bilinear, antialiased) to R against the "
                "real data at R; the paper reports extrapolation only visually",
            ),
        ),
        TableSpec(
            name="cocogan_seams",
            title="COCO-GAN: seam scores (ours; the paper reports none)",
            columns=seams,
            rows="experiment",
            methods=COCOGAN_METHODS,
            same_protocol=False,
            deviations=(
                "seam = mean |gradient| across micro-patch borders / mean |gradient| inside patches (1: no "
                "visible grid); real images on the same grid for reference; 360° seam = |last - first column| "
                "over the in-patch mean, beside the assembled column borders inside the panorama",
            )
            + cocogan_deviations(experiments, datasets),
        ),
    ]


@register_table("cocogan")
def _cocogan_tables(ctx: TableContext) -> list[TableSpec]:
    if not any(e["method"] in COCOGAN_METHODS for e in ctx.experiments):
        return []
    ours = [e for e in ctx.experiments if e["method"] in COCOGAN_METHODS]
    return cocogan_tables(ctx.protocols_for(ours), ours, ctx.datasets)


# --- Vision-aided GAN -----------------------------------------------------------------------------------------

# research visionaided.md §6.1: the LSUN figure's training-set sizes (None: the full set)
VISION_AIDED_SUBSETS = {
    "lsun-cat": (1000, 5000, 10000, None),
    "lsun-church": (1000, 2000, 10000, None),
    "lsun-horse": (1000, 5000, 10000, None),
}
VISION_AIDED_FEW_SHOT = ("animalface-dog", "animalface-cat", "100shot-bridge-of-sighs", "synthfaces-200")


def _parent_of(exp: Mapping[str, Any]) -> str | None:
    """The experiment a run continues (its final or best-FID snapshot), if any."""
    given = exp.get("inputs", {}).get("parent")
    return parent_experiment(given) if given else None


def _round_starts(experiments: Sequence[Mapping[str, Any]]) -> str:
    """How the configured rounds start: the official resumes from the parent's best-FID snapshot."""
    kinds = {
        next(iter(e["inputs"]["parent"]))
        for e in experiments
        if e["method"] == "vision_aided" and "parent" in e.get("inputs", {})
    }
    if kinds - {"best_fid"}:
        return "a round with a `run` parent starts from its final snapshot, not the best-FID one (the official's)"
    return ""


def _augment(exp: Mapping[str, Any]) -> str:
    return exp.get("options", {}).get("augment", "ada")


def vision_aided_rounds(experiments: Sequence[Mapping[str, Any]], dataset: str, resolution: int) -> tuple[Row, ...]:
    """Rows of the fair comparison on one dataset: each round's parent (round 0), the vision-aided rounds, and
    each StyleGAN2 experiment continued from the same parent for the same kimg (no vision-aided branch)."""
    here = [e for e in experiments if e["dataset"] == dataset and e["resolution"] == resolution]
    rounds = [e for e in here if e["method"] == "vision_aided"]
    parents = {_parent_of(e) for e in rounds} - {None}
    rows: list[Row] = []
    for e in here:
        if e["name"] in parents and e["method"] == "stylegan2":
            rows.append(Row(f"{method_label('stylegan2')} (round 0: {e['name']})", experiments=(e["name"],)))
    for e in rounds:
        rows.append(Row(f"{method_label('vision_aided')} ({e['name']})", experiments=(e["name"],)))
        for b in here:
            if b["method"] == "stylegan2" and _parent_of(b) == _parent_of(e) and b["kimg"] == e["kimg"]:
                rows.append(
                    Row(
                        f"{method_label('stylegan2')} continued {b['kimg']:g} kimg ({b['name']})",
                        experiments=(b["name"],),
                    )
                )
    return tuple(rows)


def vision_aided_tables(ctx: TableContext) -> list[TableSpec]:
    """Vision-aided GAN (research visionaided.md §6): the rounds beside the continued baseline on every dataset it
    trains on; LSUN FID by training-set size (StyleGAN2-ADA, DiffAugment, ours); the few-shot sets; the released
    models. Published numbers sit beside ours only where dataset, resolution, setting and protocol all match."""
    protocols = ctx.protocols_for(e for e in ctx.experiments if e["method"] in ("stylegan2", "vision_aided"))
    columns = protocol_columns(protocols, ("fid", "kid"))
    fid = protocol_columns(protocols, ("fid",))
    specs = []
    deviations = tuple(d for d in (_round_starts(ctx.experiments),) if d) + (
        "the official FID path would give any data path containing 'cat' LSUN-cat clean-fid statistics "
        "(e.g. AnimalFace-cat); here the reference is always the experiment's own dataset",
    )
    for dataset, res in ctx.pairs("vision_aided"):
        rows = vision_aided_rounds(ctx.experiments, dataset, res)
        specs.append(
            TableSpec(
                name=f"vision_aided-{dataset}-{res}",
                title=f"Vision-aided GAN beside the continued StyleGAN2 baseline ({dataset}, {res} px)",
                columns=columns,
                rows=rows,
                methods=("stylegan2", "vision_aided"),
                datasets=(dataset,),
                resolutions=(res,),
                paper="vision_aided",
                floor=True,
                deviations=deviations,
            )
        )
    parents = {_parent_of(e) for e in ctx.experiments if e["method"] == "vision_aided"}
    last_rounds = [e for e in ctx.experiments if e["method"] == "vision_aided" and e["name"] not in parents]
    for base, sizes in VISION_AIDED_SUBSETS.items():
        subsets = {f"{base}-{n // 1000}k" if n else base: n for n in sizes}
        here = [e for e in ctx.experiments if e["dataset"] in subsets and e["resolution"] == 256]
        if not here:
            continue
        cols = tuple(
            Column(
                c.metric,
                label=f"FID {n // 1000}k" if n else "FID full",
                dataset=name,
                resolution=256,
                protocol=c.protocol,
                show_protocol=c.show_protocol,
                setting={"train_images": n} if n else {},
            )
            for c in fid
            for name, n in subsets.items()
        )
        groups = (
            (f"{method_label('stylegan2')} (ADA)", {"augment": "ada"}, "stylegan2", "ada"),
            ("DiffAugment", {}, "stylegan2", "diffaugment"),
            (method_label("vision_aided"), {}, "vision_aided", None),
        )
        rows = []
        for label, setting, method, augment in groups:
            names = tuple(
                e["name"]
                for e in here
                if e["method"] == method
                and e["name"] not in parents
                and (augment is None or _augment(e) == augment)
                and (method != "vision_aided" or e in last_rounds)
            )
            if names:
                rows.append(Row(label, experiments=names, setting=setting, paper="vision_aided"))
        specs.append(
            TableSpec(
                name=f"vision_aided_lsun-{base}",
                title=f"FID by training-set size ({base} 256 px, the first N images; reference: each training set)",
                columns=cols,
                rows=tuple(rows),
                datasets=tuple(subsets),
                paper="vision_aided",
                same_protocol=False,
                published_datasets={name: base for name in subsets},
                deviations=deviations
                + (
                    "DiffAugment's published numbers are not matched to our StyleGAN2 + DiffAugment rows "
                    "(published method id diffaugment)",
                ),
            )
        )
    released = [r for r in ctx.released if r["method"] == "vision_aided"]
    if released:
        specs.append(vision_aided_released_table(released, ctx.protocols))
    few = [d for d, _ in ctx.pairs() if d in VISION_AIDED_FEW_SHOT]
    if few:
        specs.append(
            TableSpec(
                name="vision_aided_few_shot",
                title="Few-shot sets: StyleGAN2 (ADA / DiffAugment) and Vision-aided GAN",
                columns=fid,
                rows="experiment",
                methods=("stylegan2", "vision_aided"),
                datasets=tuple(few),
                paper="vision_aided",
                same_protocol=False,
                deviations=deviations,
            )
        )
    return specs


def vision_aided_released_table(released: Sequence[Mapping[str, Any]], protocols) -> TableSpec:
    """The released models (research visionaided.md §6.2), imported and measured here under each protocol, the
    README's value beside ours where the protocol matches (its "FID (Inception)" is the --clean 1 path, inferred)."""
    rows = tuple(
        Row(f"{r['released']} ({r['dataset']}, {r['resolution']} px)", experiments=(r["name"],), paper="vision_aided")
        for r in released
    )
    known = {p.name: p for p in _protocols(protocols)}
    names = dict.fromkeys(n for r in released for n in r.get("protocols", known))
    return TableSpec(
        name="vision_aided_released",
        title="Vision-aided GAN: the released models, imported (config released:) and measured here",
        columns=protocol_columns([known.get(n) or get_protocol(n) for n in names], ("fid", "kid")),
        rows=rows,
        methods=("vision_aided",),
        paper="vision_aided",
        same_protocol=False,
        released=True,
        deviations=(
            "reference: each dataset's own training set under our statistics, not clean-fid's precomputed "
            "ones (the official --clean 1 picks those by substring of the data path: LSUN trainfull, AFHQ train, "
            "FFHQ trainval70k; AnimalFace-cat would get LSUN cat's)",
            "the README's AFHQ cat/dog links look swapped (visionaided.md §6.2): each file is compared with the "
            "dataset its file name says",
        ),
    )


@register_table("vision_aided")
def _vision_aided_tables(ctx: TableContext) -> list[TableSpec]:
    return vision_aided_tables(ctx)


# --- CoordGAN -------------------------------------------------------------------------------------------------

CORRESPONDENCE_PROTOCOL = "synthetic-label-propagation"  # ganbench.metrics.plan.CORRESPONDENCE (a test checks)


def coordgan_correspondence_table() -> TableSpec:
    """Label propagation, keypoint PCK and canonical-coordinate error of the CoordGAN encoder on the synthetic
    test split, beside the identity warp and the probe's nearest neighbour measured in the same job."""
    p = CORRESPONDENCE_PROTOCOL
    columns = (
        Column("label_prop_miou", protocol=p),
        Column("pck_at_0.05", label="PCK@0.05 ↑", protocol=p, decimals=1),
        Column("pck_at_0.1", label="PCK@0.1 ↑", protocol=p, decimals=1),
        Column("coord_error", label="canonical coordinate error ↓", protocol=p, decimals=3),
    )
    rows = (
        Row("CoordGAN encoder", method="coordgan_encoder"),
        Row("identity warp (same pixel)", method="coordgan_encoder", metric_prefix="identity-"),
        Row("probe features, nearest neighbour", method="coordgan_encoder", metric_prefix="probe_nn-"),
    )
    return TableSpec(
        name="coordgan_correspondence",
        title="CoordGAN: dense correspondence on the synthetic test split (ours; no real dataset has exact "
        "coordinates or keypoints)",
        columns=columns,
        rows=rows,
        methods=("coordgan_encoder",),
        deviations=(
            "references: the first 5 test images, queries: the next 50; label propagation as eval_corr.py "
            "(soft, T = 0.01, GT background zeroed and excluded, dataset-level IoU, mean over 5 references) over "
            "every part class; PCK of reference keypoints transferred by nearest descriptor, threshold a fraction "
            "of the image side; coordinate error: true canonical distance between matched foreground pixels",
            "the encoder and its CoordGAN trained with the probe's feature distance standing in for LPIPS-VGG",
            "the synthetic faces are roughly aligned, so the identity warp is a strong baseline; a CoordGAN "
            "trained for a few hundred iterations (the paper: 300k) does not yet beat it: its structure code changes "
            "the image far less than its texture code (table coordgan_fid: structure- against texture-swap "
            "distance), so its coordinates carry little of the image's layout",
        ),
    )


SWAP_PROTOCOL, IDENTITY_PROTOCOL = "coordgan-swap", "coordgan-identity"  # ganbench.metrics.plan (a test checks)
COORDGAN_PUBLISHED_DATASETS = {"celebamask-hq-img": "celebamask-hq"}
NOT_FOUND = (
    "no paper values: the paper's tables could not be read (research coordgan.md §5), so config/published.yaml "
    "holds them as null"
)


def coordgan_fid_table(ctx: TableContext) -> TableSpec:
    """The paper's FID and swap-score table: per dataset, the FID and the FID of texture-swapped samples under each
    FID protocol CoordGAN is measured by (the runs' own, e.g. fid10k, or metrics.protocols'), the texture- and
    structure-swap distances and, where measured, the identity distances."""
    coordgan = [e for e in ctx.experiments if e["method"] == "coordgan"]
    fid_protocols = [p.name for p in ctx.protocols_for(coordgan) if p.kind == "gan" and "fid" in p.metrics]
    several = len(fid_protocols) > 1
    columns = [Column("fid", protocol=name, show_protocol=several) for name in fid_protocols]
    columns += [  # ganbench.metrics.plan.swap_fid_protocols: under each FID protocol of the run
        Column("fid-swap", label="FID (texture swap) ↓", protocol=name, show_protocol=several) for name in fid_protocols
    ]
    columns += [Column(m, protocol=SWAP_PROTOCOL) for m in ("swap_lpips", "struc_swap_lpips")]
    columns += [Column(m, protocol=IDENTITY_PROTOCOL) for m in ("swap_id", "struc_swap_id")]
    return TableSpec(
        name="coordgan_fid",
        title="CoordGAN: FID and the texture/structure swap scores (research coordgan.md §4.1, eval_fid.py)",
        columns=tuple(columns),
        rows="dataset",
        methods=("coordgan",),
        paper="coordgan",
        same_protocol=False,
        published_datasets=COORDGAN_PUBLISHED_DATASETS,
        deviations=(
            "FID (texture swap): each sample (2k, 2k+1) takes its pair partner's texture code, against the same "
            "real set; swap distances: the mean over generated pairs of d(G(t, s), G(t', s)) (texture swap) and "
            "d(G(t, s), G(t, s')) (structure swap); ID: 1 - cos of identity embeddings (inputs nearest-resized to "
            "112, no face crop), where measured (the official: CelebA only)",
            "where a cell's protocol says extractor probe, distance probe or network probe, the probe's features "
            "stand in for Inception, LPIPS-VGG or ArcFace IR-SE50 (no pretrained network offline): not comparable "
            "with the paper's numbers",
            NOT_FOUND,
        ),
    )


def coordgan_label_propagation_table(ctx: TableContext) -> TableSpec | None:
    """The paper's label-propagation table: an encoder per row, a labelled real benchmark per column (the
    config's labelled sets that have one: DatasetGAN face-34 and car-20, celebA-7); None without any."""
    from ganbench.config import PROPAGATION_BENCHMARKS

    benchmarks = [
        (name, PROPAGATION_BENCHMARKS[d["labels"]])
        for name, d in ctx.datasets.items()
        if d.get("source") == "labelled" and d.get("labels") in PROPAGATION_BENCHMARKS
    ]
    if not benchmarks:
        return None
    columns = tuple(
        Column("label_prop_miou", label=f"{bench} mIoU ↑", protocol=f"propagation-{name}") for name, bench in benchmarks
    )
    return TableSpec(
        name="coordgan_label_propagation",
        title="CoordGAN: label propagation mIoU on the real benchmarks (research coordgan.md §4.2, eval_corr.py)",
        columns=columns,
        rows="experiment",
        methods=("coordgan_encoder",),
        paper="coordgan",
        same_protocol=False,
        deviations=(
            "soft propagation at T = 0.01 through the encoder's coordinate maps from the bilinear one-hot "
            "reference masks; predictions on ground-truth background zeroed and background excluded (face-34 also "
            "drops hair and neck); dataset-level IoU per reference, absent classes 0, mean over the 5 references; "
            "references and queries by each benchmark's rule",
            "masks are resized to the encoder's resolution at import (nearest) before the one-hot, the official "
            "resizes the one-hot of the original mask",
            NOT_FOUND,
        ),
    )


@register_table("coordgan")
def _coordgan_tables(ctx: TableContext) -> list[TableSpec]:
    specs = []
    if any(e["method"] == "coordgan" for e in ctx.experiments):
        specs.append(coordgan_fid_table(ctx))
    if any(e["method"] == "coordgan_encoder" for e in ctx.experiments):
        specs.append(coordgan_correspondence_table())
        propagation = coordgan_label_propagation_table(ctx)
        if propagation is not None:
            specs.append(propagation)
    return specs

"""Named evaluation protocols: how a number was measured, in one registry (importable without torch).

A metric's name carries its protocol (StyleGAN's ``fid50k_full``), and results are written under that name
(:mod:`ganbench.metrics.paths`), so several protocols coexist in one run and every table cell says which one
made it. Each protocol is a :class:`Protocol`, registered once below through :func:`register_protocol`, which
checks its arguments.

GAN protocols (``kind="gan"``) state the feature extractor, the generated images (``num_gen`` from seeds
``seed``, ``seed + 1``, ...; truncation psi), the real reference set (``reals``: None for all of them, N for the
first N by sorted file name), the metrics (``fid``, ``kid``, ``pr``) and their settings (KID subsets, subset size
and the factor a table shows KID multiplied by; the k of precision/recall). Protocols with the same extractor and
the same reals share one statistics file (:attr:`Protocol.statskey`).

Segmentation protocols (``kind="segmentation"``) state the metrics (``miou``, ``fg_miou``, ``pixel_accuracy``,
computed by :func:`ganbench.metrics.segmentation.segmentation_scores`), whether the background class counts, and
the number of cross-validation folds whose mean ± std is reported (1: a single test split).

==================  ==========  ===================  =========  =================  ==============================
name                kind        extractor            num_gen    reals              metrics
==================  ==========  ===================  =========  =================  ==============================
probe2k_full        gan         probe                2000       all                fid, kid, pr (the embedded default)
fid50k_full         gan         inception-v3-compat  50000      all                fid (StyleGAN)
kid50k_full         gan         inception-v3-compat  50000      all                kid, shown x10^3 (Vision-aided)
clean_fid50k_full   gan         clean-fid            50000      all                fid, kid x10^3 (Vision-aided --clean)
fid10k              gan         inception-v3-compat  10000      first 10000        fid (CoordGAN)
fid50k_ttur         gan         inception-v3-compat  50000      first 50000        fid (COCO-GAN, TTUR statistics)
fid50k_ttur_hq      gan         inception-v3-compat  50000      first 30000        fid (COCO-GAN, CelebA-HQ)
fg_miou             seg.        -                    -          test split         fg_miou, miou (LAGM)
miou_cv5            seg.        -                    -          5 folds            miou, mean ± std (LAGM/DatasetGAN)
==================  ==========  ===================  =========  =================  ==============================
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

from ganbench.errors import ConfigError, did_you_mean

KINDS = ("gan", "segmentation")
EXTRACTORS = ("probe", "inception-v3-compat", "clean-fid")
GAN_METRICS = ("fid", "kid", "pr")
SEGMENTATION_METRICS = ("miou", "fg_miou", "pixel_accuracy")
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_")


def statskey(extractor: str, reals: int | None) -> str:
    """The name statistics of ``extractor`` features of every real image (None) or the first N are filed under."""
    return extractor if reals is None else f"{extractor}-first{reals}"


@dataclass(frozen=True)
class Protocol:
    """One named way of measuring (see the module docstring for the fields)."""

    name: str
    kind: str
    metrics: tuple[str, ...]
    description: str = ""
    # GAN protocols
    extractor: str | None = None
    num_gen: int | None = None
    reals: int | None = None  # None: every real image; N: the first N by sorted file name
    truncation: float = 1.0
    seed: int = 0
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    kid_scale: float = 1.0  # tables show KID multiplied by this (Vision-aided reports KID x 10^3)
    pr_k: int = 3
    # segmentation protocols
    folds: int = 1
    background: bool = True  # whether mIoU counts the background class (FG-mIoU never does)
    absent_class: str = "skip"  # a class absent from prediction and target: "skip" (left out) or "zero" (IoU 0)
    std_ddof: int = 1  # the std over folds: 1 sample std, 0 np.std
    select_best_val: bool = False  # one fold: score the snapshot with the best validation score (LAGM's FG-mIoU)

    @property
    def reference(self) -> str:
        """``full`` or ``first-N``: the real set, as the statistics and the published records name it."""
        return "full" if self.reals is None else f"first-{self.reals}"

    @property
    def statskey(self) -> str:
        """The statistics this protocol reads: one file per (extractor, reals), shared between protocols."""
        if self.kind != "gan":
            raise ConfigError(f"protocol {self.name}: a {self.kind} protocol has no feature statistics")
        return statskey(self.extractor, self.reals)

    @property
    def result_names(self) -> tuple[str, ...]:
        """The result files one evaluation writes (``pr`` is written as ``precision`` and ``recall``)."""
        return tuple(n for m in self.metrics for n in (("precision", "recall") if m == "pr" else (m,)))

    @property
    def needs_features(self) -> bool:
        """Whether its statistics must keep the real features (KID and precision/recall need them)."""
        return any(m != "fid" for m in self.metrics)

    def record(self) -> dict[str, Any]:
        """What every result JSON of this protocol says about it (beside the measured counts)."""
        if self.kind == "segmentation":
            return {
                "name": self.name,
                "folds": self.folds,
                "background": self.background,
                "absent_class": self.absent_class,
                "std_ddof": self.std_ddof,
            }
        return {
            "name": self.name,
            "extractor": self.extractor,
            "num_gen": self.num_gen,
            "reference": self.reference,
            "truncation": self.truncation,
        }

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["metrics"] = list(self.metrics)
        return d


PROTOCOLS: dict[str, Protocol] = {}
_FIELDS = {f.name: f for f in dataclasses.fields(Protocol)}


def _check(protocol: Protocol, where: str) -> None:
    """Raise a one-line ConfigError naming the field of ``protocol`` that is wrong."""
    p = protocol
    if not p.name or set(p.name) - NAME_CHARS or not p.name[0].isalpha():
        raise ConfigError(f"{where}: name {p.name!r}: use lower-case letters, digits and '_', starting with a letter")
    if p.kind not in KINDS:
        raise ConfigError(f"{where}: kind: unknown value {p.kind!r}{did_you_mean(p.kind, KINDS)}")
    known = GAN_METRICS if p.kind == "gan" else SEGMENTATION_METRICS
    if not p.metrics:
        raise ConfigError(f"{where}: metrics: name at least one of {', '.join(known)}")
    for m in p.metrics:
        if m not in known:
            raise ConfigError(f"{where}: metrics: unknown {p.kind} metric {m!r}{did_you_mean(m, known)}")
    if len(set(p.metrics)) != len(p.metrics):
        raise ConfigError(f"{where}: metrics: {list(p.metrics)} names a metric twice")

    def positive_int(key: str, minimum: int = 1, allow_none: bool = False) -> None:
        value = getattr(p, key)
        if value is None and allow_none:
            return
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigError(f"{where}: {key}: expected an integer >= {minimum}, got {value!r}")

    if p.kind == "gan":
        if p.extractor not in EXTRACTORS:
            raise ConfigError(
                f"{where}: extractor: unknown value {p.extractor!r}{did_you_mean(str(p.extractor), EXTRACTORS)}"
            )
        positive_int("num_gen", 2)
        positive_int("reals", 2, allow_none=True)
        positive_int("seed", 0)
        positive_int("kid_subsets", 1)
        positive_int("kid_subset_size", 2)
        positive_int("pr_k", 1)
        for key in ("truncation", "kid_scale"):
            value = getattr(p, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{where}: {key}: expected a number, got {value!r}")
        if p.truncation < 0:
            raise ConfigError(f"{where}: truncation: {p.truncation} is negative (psi 1 is no truncation, 0 the mean)")
        if p.kid_scale <= 0:
            raise ConfigError(f"{where}: kid_scale: expected a positive number, got {p.kid_scale!r}")
    else:
        positive_int("folds", 1)
        if not isinstance(p.background, bool):
            raise ConfigError(f"{where}: background: expected true or false, got {p.background!r}")
        if p.absent_class not in ("skip", "zero"):
            raise ConfigError(f"{where}: absent_class: unknown value {p.absent_class!r} (expected one of: skip, zero)")
        if p.std_ddof not in (0, 1):
            raise ConfigError(f"{where}: std_ddof: expected 0 or 1, got {p.std_ddof!r}")
        if not isinstance(p.select_best_val, bool):
            raise ConfigError(f"{where}: select_best_val: expected true or false, got {p.select_best_val!r}")


def make_protocol(fields: Mapping[str, Any], where: str = "protocol") -> Protocol:
    """A checked :class:`Protocol` from a mapping of its fields (``metrics`` may be a list)."""
    for key in fields:
        if key not in _FIELDS:
            raise ConfigError(f"{where}.{key}: unknown protocol field{did_you_mean(key, _FIELDS, 'allowed')}")
    for key in ("name", "kind", "metrics"):
        if key not in fields:
            raise ConfigError(f"{where}: missing required field {key!r}")
    values = dict(fields)
    if isinstance(values["metrics"], (list, tuple)):
        values["metrics"] = tuple(values["metrics"])
    else:
        raise ConfigError(f"{where}: metrics: expected a list, got {values['metrics']!r}")
    if isinstance(values.get("truncation"), int) and not isinstance(values.get("truncation"), bool):
        values["truncation"] = float(values["truncation"])
    protocol = Protocol(**values)
    _check(protocol, f"{where} {protocol.name!r}" if where == "protocol" else where)
    return protocol


def register_protocol(name: str, **fields: Any) -> Protocol:
    """Check and register a protocol under ``name``; a name is registered once."""
    if name in PROTOCOLS:
        raise ConfigError(f"protocol {name!r}: already registered")
    protocol = make_protocol({"name": name, **fields})
    PROTOCOLS[name] = protocol
    return protocol


def get_protocol(name: str, where: str = "protocol") -> Protocol:
    """The registered protocol ``name``; a one-line ConfigError with a hint otherwise."""
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise ConfigError(f"{where}: unknown protocol {name!r}{did_you_mean(name, PROTOCOLS)}") from None


def derive_protocol(base: str | Protocol, name: str, where: str = "protocol", **overrides: Any) -> Protocol:
    """A new protocol called ``name``: the registered ``base`` with some fields changed (checked)."""
    base = get_protocol(base, f"{where}.base") if isinstance(base, str) else base
    if "name" in overrides or "kind" in overrides:
        raise ConfigError(f"{where}: a derived protocol keeps the kind of its base and takes its own name")
    return make_protocol({**base.as_dict(), **overrides, "name": name}, where)


# --- the registry: every named protocol, in one place -------------------------------------------------------

register_protocol(
    "probe2k_full",
    kind="gan",
    extractor="probe",
    num_gen=2000,
    reals=None,
    metrics=("fid", "kid", "pr"),
    description="the embedded default: 2000 generated images against every real image, probe features; "
    "not comparable with Inception FID",
)
register_protocol(
    "fid50k_full",
    kind="gan",
    extractor="inception-v3-compat",
    num_gen=50000,
    reals=None,
    metrics=("fid",),
    description="StyleGAN: 50k generated images against every real image",
)
register_protocol(
    "kid50k_full",
    kind="gan",
    extractor="inception-v3-compat",
    num_gen=50000,
    reals=None,
    metrics=("kid",),
    kid_subsets=100,
    kid_subset_size=1000,
    kid_scale=1000.0,
    description="Vision-aided GAN (few-shot sets): KID of 50k generated images against every real "
    "image, 100 subsets of 1000, reported x10^3",
)
register_protocol(
    "clean_fid50k_full",
    kind="gan",
    extractor="clean-fid",
    num_gen=50000,
    reals=None,
    metrics=("fid", "kid"),
    kid_subsets=100,
    kid_subset_size=1000,
    kid_scale=1000.0,
    description="Vision-aided GAN's --clean 1 (released models): clean-fid's resize and Inception, 50k generated "
    "images against every real image of the training set (not clean-fid's precomputed statistics); KID x10^3",
)
register_protocol(
    "fid10k",
    kind="gan",
    extractor="inception-v3-compat",
    num_gen=10000,
    reals=10000,
    metrics=("fid",),
    description="CoordGAN: 10k generated images against the first 10k real images by sorted name",
)
register_protocol(
    "fid50k_ttur",
    kind="gan",
    extractor="inception-v3-compat",
    num_gen=50000,
    reals=50000,
    metrics=("fid",),
    description="COCO-GAN: TTUR-style statistics of the first 50k real images by "
    "sorted name (CelebA, LSUN), 50k assembled full images",
)
register_protocol(
    "fid50k_ttur_hq",
    kind="gan",
    extractor="inception-v3-compat",
    num_gen=50000,
    reals=30000,
    metrics=("fid",),
    description="COCO-GAN on CelebA-HQ: TTUR-style statistics of the first 30k real images by sorted name",
)
register_protocol(
    "fg_miou",
    kind="segmentation",
    metrics=("fg_miou", "miou"),
    folds=1,
    background=False,
    absent_class="zero",
    select_best_val=True,
    description="LAGM semi-supervised part segmentation: FG-mIoU (background excluded) on the test "
    "split of the snapshot with the best validation FG-mIoU, absent classes count as IoU 0 (research/lagm.md §5)",
)
register_protocol(
    "miou_cv5",
    kind="segmentation",
    metrics=("miou",),
    folds=5,
    background=True,
    absent_class="zero",
    std_ddof=0,
    description="LAGM against DatasetGAN: mIoU with background, mean ± std (np.std) over 5 cross-validation folds",
)

DEFAULT_PROTOCOLS = ("probe2k_full",)


def _custom_protocols(metrics_config: Mapping[str, Any], source: str) -> dict[str, Protocol]:
    """The protocols ``metrics.custom`` defines, each a registered protocol with some fields changed."""
    custom: dict[str, Protocol] = {}
    for name, fields in (metrics_config.get("custom") or {}).items():
        where = f"{source}: metrics.custom.{name}"
        if name in PROTOCOLS:
            raise ConfigError(f"{where}: {name!r} is a registered protocol; give the changed protocol its own name")
        if not isinstance(fields, Mapping) or "base" not in fields:
            raise ConfigError(
                f"{where}: missing required key 'base' (a registered protocol{did_you_mean('', PROTOCOLS)})"
            )
        overrides = {k: v for k, v in fields.items() if k != "base"}
        custom[name] = derive_protocol(get_protocol(fields["base"], f"{where}.base"), name, where, **overrides)
    return custom


def _named(names: Any, custom: Mapping[str, Protocol], where: str) -> dict[str, Protocol]:
    """The protocols ``names`` lists (registered or custom), by name, in order; ``where`` names the list."""
    chosen: dict[str, Protocol] = {}
    for i, name in enumerate(names):
        if name in chosen:
            raise ConfigError(f"{where}.{i}: {name!r} is listed twice")
        if name in custom:
            chosen[name] = custom[name]
        elif name in PROTOCOLS:
            chosen[name] = PROTOCOLS[name]
        else:
            raise ConfigError(f"{where}.{i}: unknown protocol {name!r}{did_you_mean(name, [*PROTOCOLS, *custom])}")
    if not chosen:
        raise ConfigError(f"{where}: name at least one protocol")
    return chosen


def configured_protocols(metrics_config: Mapping[str, Any], source: str = "config") -> dict[str, Protocol]:
    """The protocols a configuration's ``metrics`` section names, by name, in order.

    ``metrics.protocols`` lists registered names; ``metrics.custom`` defines further names, each
    ``{base: registered name, field: value, ...}`` (a registered protocol with some fields changed), which
    ``metrics.protocols`` may then list. Every problem is one ConfigError naming the key.
    """
    custom = _custom_protocols(metrics_config, source)
    names = metrics_config.get("protocols", list(DEFAULT_PROTOCOLS))
    return _named(names, custom, f"{source}: metrics.protocols")


def experiment_protocols(
    metrics_config: Mapping[str, Any], experiment: Mapping[str, Any], source: str = "config", where: str | None = None
) -> dict[str, Protocol]:
    """The GAN protocols one experiment is measured by, by name, in order: its own ``protocols`` list where it
    gives one (a paper's own protocol: COCO-GAN's ``fid50k_ttur`` beside StyleGAN's ``fid50k_full`` in one
    grid), else the GAN protocols of ``metrics.protocols``. ``where`` names the experiment in errors
    (default ``{source}: experiments.{name}``); an experiment's list names GAN protocols only (segmentation
    protocols are the configuration's)."""
    where = where or f"{source}: experiments.{experiment.get('name')}"
    own = experiment.get("protocols")
    if own is None:
        return {n: p for n, p in configured_protocols(metrics_config, source).items() if p.kind == "gan"}
    chosen = _named(own, _custom_protocols(metrics_config, source), f"{where}.protocols")
    for i, (name, p) in enumerate(chosen.items()):
        if p.kind != "gan":
            raise ConfigError(
                f"{where}.protocols.{i}: {name!r} is a {p.kind} protocol; an experiment lists the GAN protocols "
                "it is measured by (segmentation protocols go under metrics.protocols)"
            )
    return chosen


def gan_protocols(metrics_config: Mapping[str, Any]) -> list[Protocol]:
    """The configured protocols that measure generated images (the evaluate rules run these)."""
    return [p for p in configured_protocols(metrics_config).values() if p.kind == "gan"]


def snapshot_protocol(metrics_config: Mapping[str, Any], source: str = "config") -> Protocol:
    """The protocol a run's best-FID snapshot is chosen under (ganbench.metrics.best_snapshot):
    ``metrics.snapshot_protocol`` (a registered or ``metrics.custom`` protocol with FID, listed under
    ``metrics.protocols`` or not: a cheaper one may pick snapshots), else the first configured GAN protocol that
    measures FID."""
    name = metrics_config.get("snapshot_protocol")
    if name is not None:
        where = f"{source}: metrics.snapshot_protocol"
        protocol = named_protocol(metrics_config, name, where)
        if "fid" not in protocol.metrics:
            raise ConfigError(f"{where}: {name!r} measures no FID, so it cannot pick a best-FID snapshot")
        return protocol
    chosen = configured_protocols(metrics_config, source)
    fid = [p for p in chosen.values() if p.kind == "gan" and "fid" in p.metrics]
    if not fid:
        raise ConfigError(
            f"{source}: metrics.protocols: none measures FID, so no best-FID snapshot can be chosen "
            "(add one, e.g. probe2k_full or fid50k_full)"
        )
    return fid[0]


def named_protocol(metrics_config: Mapping[str, Any], name: str, where: str) -> Protocol:
    """A GAN protocol by name: one the configuration defines (``metrics.custom``) or a registered one."""
    custom = {
        n: derive_protocol(f["base"], n, where, **{k: v for k, v in f.items() if k != "base"})
        for n, f in (metrics_config.get("custom") or {}).items()
    }
    if name in custom:
        protocol = custom[name]
    elif name in PROTOCOLS:
        protocol = PROTOCOLS[name]
    else:
        raise ConfigError(f"{where}: unknown protocol {name!r}{did_you_mean(name, [*PROTOCOLS, *custom])}")
    if protocol.kind != "gan":
        raise ConfigError(f"{where}: {name!r} is a {protocol.kind} protocol, not a GAN one")
    return protocol

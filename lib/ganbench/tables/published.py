"""The published numbers of the five papers (``config/published.yaml``) and when ours may stand beside them.

A record is one number of one paper: which table, metric, method, dataset, resolution and training setting it
belongs to, how it was measured (``protocol``), and where the research reports found it (``source``). A number
the reports could not find is a record with ``value: None``.

A published number is comparable with one of ours only when everything it depends on is equal:
:func:`published_value` returns a record only where the dataset, resolution and setting are the same and every
key of the record's protocol has the same value in our protocol. A protocol key whose published value is unknown
(``null``) never matches, and neither does a key our protocol lacks, so an incompletely documented number is
never shown beside ours.

The file is validated on load; every problem is one line naming the file and the key
(``config/published.yaml: records.12.source: missing required key 'cite'``).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from ganbench.errors import ConfigError, did_you_mean

REPO_ROOT = Path(__file__).resolve().parents[3]
PUBLISHED_PATH = REPO_ROOT / "config" / "published.yaml"

PAPERS = ("coordgan", "cocogan", "lagm", "creps", "vision_aided")
SOURCE_KINDS = ("readme", "figure", "aggregator", "ext", "not-found")
UNITS = {"x1e3": 1e-3}  # a unit names the factor that turns the published value into the plain metric

_TOP_KEYS = ("protocols", "sources", "records", "not_found")
_RECORD_KEYS = (
    "paper",
    "table",
    "metric",
    "method",
    "dataset",
    "resolution",
    "setting",
    "value",
    "std",
    "unit",
    "protocol",
    "inferred",
    "source",
    "notes",
)
_REQUIRED = ("paper", "table", "metric", "method", "dataset", "resolution", "value", "protocol", "source")
_SOURCE_KEYS = ("kind", "cite", "report")
_NOT_FOUND_KEYS = ("paper", "what", "report")

Scalar = str | int | float | bool | None


@dataclass(frozen=True)
class PublishedRecord:
    """One published number (``value`` is None where the reports could not find it)."""

    paper: str
    table: str
    metric: str
    method: str
    dataset: str
    resolution: int | None
    value: float | None
    protocol: Mapping[str, Scalar]
    source: Mapping[str, str]
    setting: Mapping[str, Scalar] = field(default_factory=dict)
    std: float | None = None
    unit: str | None = None
    inferred: tuple[str, ...] = ()
    notes: str = ""
    index: int = -1  # position in the file's record list, for messages

    def matches_protocol(self, protocol: Mapping[str, Any]) -> bool:
        """Whether every key of this record's protocol is known and equal in ``protocol``."""
        return _covers(self.protocol, protocol)

    @property
    def protocol_inferred(self) -> bool:
        """True where part of the protocol comes from the official code rather than with the number."""
        return bool(self.inferred)


def _same(a: Any, b: Any) -> bool:
    """Equality that keeps booleans apart from numbers (``True != 1`` here) and never equates unknowns."""
    if a is None or b is None:
        return False
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    return a == b


def _covers(published: Mapping[str, Any], ours: Mapping[str, Any]) -> bool:
    return all(key in ours and _same(value, ours[key]) for key, value in published.items())


def _settings_equal(published: Mapping[str, Any], ours: Mapping[str, Any]) -> bool:
    return published.keys() == ours.keys() and _covers(published, ours)


# ------------------------------------------------------------------------------------------------------- loading


class _Where:
    """Builds one-line messages that name the file and the key at fault."""

    def __init__(self, path: Path):
        self.path = path

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.path}: {key}: {message}")

    def unknown_keys(self, key: str, mapping: dict, allowed: tuple[str, ...]) -> None:
        for name in mapping:
            if name not in allowed:
                hint = did_you_mean(name, allowed, "allowed")
                raise self.error(f"{key}.{name}" if key else str(name), f"unknown key{hint}")

    def required(self, key: str, mapping: dict, names: tuple[str, ...]) -> None:
        for name in names:
            if name not in mapping:
                raise self.error(key, f"missing required key {name!r}")

    def mapping(self, key: str, value: Any) -> dict:
        if not isinstance(value, dict):
            raise self.error(key, f"expected a mapping, got {type(value).__name__} {value!r}")
        return value

    def string(self, key: str, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"expected a non-empty string, got {type(value).__name__} {value!r}")
        return value

    def number(self, key: str, value: Any, nullable: bool = True) -> float | None:
        if value is None and nullable:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            kind = "a number or null" if nullable else "a number"
            raise self.error(key, f"expected {kind}, got {type(value).__name__} {value!r}")
        return float(value)

    def scalars(self, key: str, value: Any) -> dict[str, Scalar]:
        mapping = self.mapping(key, value)
        for name, item in mapping.items():
            if not isinstance(name, str):
                raise self.error(key, f"keys must be strings, got {name!r}")
            if isinstance(item, (dict, list)):
                raise self.error(f"{key}.{name}", f"expected a scalar, got {type(item).__name__}")
        return dict(mapping)


def _source(where: _Where, key: str, value: Any) -> dict[str, str]:
    source = where.mapping(key, value)
    where.unknown_keys(key, source, _SOURCE_KEYS)
    where.required(key, source, _SOURCE_KEYS)
    for name in _SOURCE_KEYS:
        where.string(f"{key}.{name}", source[name])
    if source["kind"] not in SOURCE_KINDS:
        raise where.error(
            f"{key}.kind", f"unknown value {source['kind']!r} (expected one of: {', '.join(SOURCE_KINDS)})"
        )
    return dict(source)


def _named(where: _Where, key: str, kind: str, name: str, table: dict) -> Any:
    """A shared definition referred to by name (``protocols:`` / ``sources:`` at the file's top)."""
    if name not in table:
        hint = did_you_mean(name, table)
        raise where.error(key, f"unknown {kind} name {name!r}{hint}")
    return table[name]


def _record(where: _Where, i: int, raw: Any, protocols: dict, sources: dict) -> PublishedRecord:
    key = f"records.{i}"
    raw = where.mapping(key, raw)
    where.unknown_keys(key, raw, _RECORD_KEYS)
    where.required(key, raw, _REQUIRED)
    paper = where.string(f"{key}.paper", raw["paper"])
    if paper not in PAPERS:
        raise where.error(f"{key}.paper", f"unknown value {paper!r} (expected one of: {', '.join(PAPERS)})")
    resolution = raw["resolution"]
    if resolution is not None and (isinstance(resolution, bool) or not isinstance(resolution, int) or resolution <= 0):
        raise where.error(f"{key}.resolution", f"expected a positive integer or null, got {resolution!r}")

    protocol = raw["protocol"]
    if isinstance(protocol, str):
        protocol = _named(where, f"{key}.protocol", "protocol", protocol, protocols)
    else:
        protocol = where.scalars(f"{key}.protocol", protocol)
    if not protocol:
        raise where.error(f"{key}.protocol", "must name at least one key (an empty protocol would match anything)")

    source = raw["source"]
    if isinstance(source, str):
        source = _named(where, f"{key}.source", "source", source, sources)
    else:
        source = _source(where, f"{key}.source", source)

    inferred = raw.get("inferred") or []
    if not isinstance(inferred, list):
        raise where.error(f"{key}.inferred", f"expected a list of protocol keys, got {inferred!r}")
    for name in inferred:
        if name not in protocol:
            raise where.error(f"{key}.inferred", f"{name!r} is not a key of the record's protocol")

    unit = raw.get("unit")
    if unit is not None and unit not in UNITS:
        raise where.error(f"{key}.unit", f"unknown value {unit!r} (expected one of: null, {', '.join(UNITS)})")
    notes = raw.get("notes") or ""
    if not isinstance(notes, str):
        raise where.error(f"{key}.notes", f"expected a string, got {type(notes).__name__}")

    return PublishedRecord(
        paper=paper,
        table=where.string(f"{key}.table", raw["table"]),
        metric=where.string(f"{key}.metric", raw["metric"]),
        method=where.string(f"{key}.method", raw["method"]),
        dataset=where.string(f"{key}.dataset", raw["dataset"]),
        resolution=resolution,
        value=where.number(f"{key}.value", raw["value"]),
        std=where.number(f"{key}.std", raw.get("std")),
        unit=unit,
        setting=where.scalars(f"{key}.setting", raw.get("setting") or {}),
        protocol=dict(protocol),
        inferred=tuple(inferred),
        source=source,
        notes=notes,
        index=i,
    )


def _check_duplicates(where: _Where, records: list[PublishedRecord]) -> None:
    """Two fully specified records may not claim the same measurement (the query would be ambiguous)."""
    seen: dict[tuple, int] = {}
    for rec in records:
        if any(v is None for v in rec.protocol.values()) or rec.resolution is None:
            continue
        ident = (
            rec.paper,
            rec.metric,
            rec.method,
            rec.dataset,
            rec.resolution,
            tuple(sorted((k, repr(v)) for k, v in rec.setting.items())),
            tuple(sorted((k, repr(v)) for k, v in rec.protocol.items())),
        )
        if ident in seen:
            raise where.error(
                f"records.{rec.index}",
                f"same paper, metric, method, dataset, resolution, setting and protocol as records.{seen[ident]}",
            )
        seen[ident] = rec.index


def load_published(path: str | os.PathLike = PUBLISHED_PATH) -> tuple[PublishedRecord, ...]:
    """Read and validate a published-numbers file; raise ConfigError naming the key on the first problem."""
    path = Path(path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ConfigError(f"{path}: published-numbers file not found") from None
    return _load_cached(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _load_cached(path_str: str, _mtime: int, _size: int) -> tuple[PublishedRecord, ...]:
    path = Path(path_str)
    where = _Where(path)
    try:
        with open(path) as f:
            doc = yaml.safe_load(f)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None)
        raise ConfigError(f"{path}: not valid YAML{at}" + (f" ({problem})" if problem else "")) from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: expected a mapping with keys {', '.join(_TOP_KEYS)}")
    where.unknown_keys("", doc, _TOP_KEYS)
    where.required("(top level)", doc, ("records",))

    protocols = {}
    for name, proto in where.mapping("protocols", doc.get("protocols") or {}).items():
        protocols[name] = where.scalars(f"protocols.{name}", proto)
    sources = {
        name: _source(where, f"sources.{name}", src)
        for name, src in where.mapping("sources", doc.get("sources") or {}).items()
    }

    raw_records = doc["records"]
    if not isinstance(raw_records, list):
        raise where.error("records", f"expected a list, got {type(raw_records).__name__}")
    records = [_record(where, i, raw, protocols, sources) for i, raw in enumerate(raw_records)]
    _check_duplicates(where, records)

    not_found = doc.get("not_found") or []
    if not isinstance(not_found, list):
        raise where.error("not_found", f"expected a list, got {type(not_found).__name__}")
    for i, item in enumerate(not_found):
        item = where.mapping(f"not_found.{i}", item)
        where.unknown_keys(f"not_found.{i}", item, _NOT_FOUND_KEYS)
        where.required(f"not_found.{i}", item, _NOT_FOUND_KEYS)
        if item["paper"] not in PAPERS:
            raise where.error(f"not_found.{i}.paper", f"unknown value {item['paper']!r}")
    return tuple(records)


# ------------------------------------------------------------------------------------------------------ queries


def published_candidates(
    metric: str,
    method: str,
    dataset: str,
    resolution: int | None,
    setting: Mapping[str, Any] | None = None,
    paper: str | None = None,
    records: tuple[PublishedRecord, ...] | None = None,
    path: str | os.PathLike = PUBLISHED_PATH,
) -> list[PublishedRecord]:
    """Every record for this metric, method, dataset, resolution and setting, whatever its protocol."""
    records = load_published(path) if records is None else records
    setting = dict(setting or {})
    return [
        r
        for r in records
        if (paper is None or r.paper == paper)
        and r.metric == metric
        and r.method == method
        and r.dataset == dataset
        and r.resolution is not None
        and r.resolution == resolution
        and _settings_equal(r.setting, setting)
    ]


def published_value(
    paper: str | None,
    metric: str,
    method: str,
    dataset: str,
    resolution: int | None,
    protocol: Mapping[str, Any],
    setting: Mapping[str, Any] | None = None,
    *,
    records: tuple[PublishedRecord, ...] | None = None,
    path: str | os.PathLike = PUBLISHED_PATH,
) -> PublishedRecord | None:
    """The published record comparable with our measurement, or None.

    Args:
        paper: one of :data:`PAPERS`, or None for any paper.
        metric, method, dataset, resolution: must equal the record's (dataset as named in published.yaml).
        protocol: our measurement's protocol (the ``protocol`` of a ``results/eval`` JSON); it must carry
            every key of the record's protocol with the same value.
        setting: the training setting our run stands for (e.g. ``{"labels": 10}``); must equal the record's
            exactly, so None matches only the paper's headline configuration (an empty setting).
        records: already loaded records (default: load ``path``).

    The returned record may have ``value=None``: the paper has a comparable number the reports could not find.
    """
    for rec in published_candidates(metric, method, dataset, resolution, setting, paper, records, path):
        if rec.matches_protocol(protocol):
            return rec
    return None

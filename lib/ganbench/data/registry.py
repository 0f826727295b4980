"""The dataset registry: ``config/datasets.yaml`` loaded into validated, immutable entries.

The file has one top-level key, ``datasets``, mapping a dataset id (``celebamask-hq``) to an entry whose keys are
exactly the fields of :class:`DatasetEntry` (minus ``id``). Any missing or unknown key, or a value of the wrong type,
raises :class:`~ganbench.errors.ConfigError` naming the file and the key.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import yaml

from ganbench.errors import ConfigError, did_you_mean

DEFAULT_PATH = Path(__file__).resolve().parents[3] / "config" / "datasets.yaml"
METHODS = ("coordgan", "cocogan", "lagm", "creps", "vision_aided")
ARCHIVES = ("zip", "tar", "tar.gz", "tgz", "tar.bz2", "tar.xz", "7z")
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_URL = re.compile(r"^(https?|file)://\S+$")


@dataclass(frozen=True)
class DatasetEntry:
    """One registered dataset. ``url`` is None when the data must be fetched by hand (see ``notes``)."""

    id: str
    name: str
    url: str | None  # direct file URL (http, https or file), or None
    homepage: str | None  # landing page for manual downloads
    sha256: str | None  # lowercase hex of the downloaded file, or None when unknown
    archive: str | None  # container format, one of ARCHIVES, or None when unknown
    license: str
    citation: str
    papers: tuple[str, ...]  # subset of METHODS
    notes: str  # manual steps and caveats
    source: str  # research report and section the facts come from


# key -> (accepted types, description for error messages); one table for every field but ``id``.
_FIELDS: dict[str, tuple[tuple[type, ...], str]] = {
    "name": ((str,), "a string"),
    "url": ((str, type(None)), "an http(s):// or file:// URL or null"),
    "homepage": ((str, type(None)), "a string or null"),
    "sha256": ((str, type(None)), "64 lowercase hex digits or null"),
    "archive": ((str, type(None)), f"one of {', '.join(ARCHIVES)} or null"),
    "license": ((str,), "a non-empty string"),
    "citation": ((str,), "a non-empty string"),
    "papers": ((list,), f"a non-empty list drawn from {', '.join(METHODS)}"),
    "notes": ((str,), "a string"),
    "source": ((str,), "a non-empty string"),
}


def _value_ok(key: str, value: object) -> bool:
    types, _ = _FIELDS[key]
    if not isinstance(value, types):
        return False
    if key in ("license", "citation", "source", "name"):
        return bool(value.strip())
    if value is None:
        return True
    if key == "url":
        return bool(_URL.match(value))
    if key == "sha256":
        return bool(_SHA256.match(value))
    if key == "archive":
        return value in ARCHIVES
    if key == "papers":
        return bool(value) and all(p in METHODS for p in value) and len(set(value)) == len(value)
    return True


def _parse_entry(path: Path, dataset_id: object, raw: object) -> DatasetEntry:
    where = f"{path}: datasets.{dataset_id}"
    if not isinstance(dataset_id, str) or not _ID.match(dataset_id):
        raise ConfigError(f"{where}: invalid dataset id (use lowercase letters, digits, '.', '_' and '-')")
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of {', '.join(_FIELDS)}, got {type(raw).__name__}")
    missing = [k for k in _FIELDS if k not in raw]
    if missing:
        raise ConfigError(f"{where}: missing key {missing[0]!r}")
    unknown = sorted(str(k) for k in raw if k not in _FIELDS)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(_FIELDS)})")
    for key, value in raw.items():
        if not _value_ok(key, value):
            raise ConfigError(f"{where}.{key}: expected {_FIELDS[key][1]}, got {value!r}")
    fields = dict(raw, papers=tuple(raw["papers"]), notes=" ".join(raw["notes"].split()))
    return DatasetEntry(id=dataset_id, **fields)


def load_registry(path: str | os.PathLike | None = None) -> dict[str, DatasetEntry]:
    """Read and validate a registry file (default: the repository's ``config/datasets.yaml``).

    Returns {dataset id: DatasetEntry} in file order. Raises ConfigError for an unreadable file, bad YAML or a
    malformed entry; the message names the file and the offending key.
    """
    path = Path(path) if path is not None else DEFAULT_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{path}: cannot read dataset registry ({e.strerror or e})") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{line} invalid YAML: {getattr(e, 'problem', None) or e}") from None
    if not isinstance(doc, dict) or set(doc) != {"datasets"} or not isinstance(doc["datasets"], dict):
        raise ConfigError(f"{path}: expected exactly one top-level key 'datasets' holding a mapping of ids")
    return {dataset_id: _parse_entry(path, dataset_id, raw) for dataset_id, raw in doc["datasets"].items()}


def get_entry(dataset_id: str, registry: dict[str, DatasetEntry] | None = None) -> DatasetEntry:
    """The entry registered under ``dataset_id`` (in ``registry``, default: the repository's registry).

    An unknown id raises ConfigError naming it and listing the closest registered ids.
    """
    registry = load_registry() if registry is None else registry
    try:
        return registry[dataset_id]
    except KeyError:
        raise ConfigError(
            f"unknown dataset id {dataset_id!r}{did_you_mean(dataset_id, sorted(registry), 'known ids')}"
        ) from None


def archive_name(dataset_id: str, registry: dict[str, DatasetEntry] | None = None) -> str:
    """File name a dataset's download is stored under (the pipeline uses ``results/downloads/<id>/<name>``).

    ``<id>.<archive>`` when the format is registered, else ``<id>`` plus the URL's suffix; a dataset with neither
    is ``<id>`` alone, where a folder placed by hand serves.
    """
    entry = get_entry(dataset_id, registry)
    suffix = f".{entry.archive}" if entry.archive else Path(urllib.parse.urlparse(entry.url or "").path).suffix
    return f"{entry.id}{suffix}"

"""``config/weights.yaml``: pretrained files the download rules may fetch (never anything at run time).

Two kinds: ``extractor`` (the default; feature-extractor weights, rule ``download_weights`` ->
``results/weights/{name}.pth``) and ``network`` (the papers' released GANs, rule ``download_network`` ->
``results/networks/{name}.{file}``, ``file`` defaulting to ``pkl``; ``ganbench import-checkpoint`` turns one into a
ganbench checkpoint). An entry without a direct ``url`` (a Google-Drive folder) names the manual step in
``manual``: the download then succeeds only when the file has been placed at its destination by hand.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from ganbench.config import REPO_ROOT
from ganbench.data.download import download
from ganbench.errors import ConfigError, DownloadError

WEIGHTS_PATH = REPO_ROOT / "config" / "weights.yaml"
KINDS = ("extractor", "network")


def load_weights_registry(path: str | os.PathLike = WEIGHTS_PATH, kind: str | None = None) -> dict[str, dict]:
    """The registry (every entry has ``url`` and ``sha256``, ``kind`` filled in); ``kind`` keeps only that kind."""
    with open(path) as f:
        entries = yaml.safe_load(f) or {}
    for name, entry in entries.items():
        for key in ("url", "sha256"):
            if key not in entry:
                raise ConfigError(f"{path}: {name}: missing key {key!r}")
        entry.setdefault("kind", "extractor")
        if entry["kind"] not in KINDS:
            raise ConfigError(f"{path}: {name}: kind {entry['kind']!r} is not one of {', '.join(KINDS)}")
        if entry["url"] is None and not entry.get("manual"):
            raise ConfigError(f"{path}: {name}: url is null, so 'manual' must say where the file comes from")
    return {n: e for n, e in entries.items() if kind is None or e["kind"] == kind}


def network_file(name: str, entry: dict) -> str:
    """Where the ``download_network`` rule puts a released network."""
    return f"results/networks/{name}.{entry.get('file', 'pkl')}"


def download_weights(name: str, dest: str | os.PathLike, path: str | os.PathLike = WEIGHTS_PATH) -> Path:
    """Fetch entry ``name`` to ``dest`` (checked against its sha256 when one is registered). Without a direct URL,
    a file already placed at ``dest`` is kept; otherwise one DownloadError line gives the manual step."""
    registry = load_weights_registry(path)
    if name not in registry:
        raise ConfigError(f"{path}: no entry {name!r}")
    entry = registry[name]
    if entry["url"] is None:
        if Path(dest).is_file():
            return Path(dest)
        raise DownloadError(f"{name}: no direct download; place the file at {dest} by hand ({entry['manual']})")
    return download(entry["url"], dest, entry["sha256"])

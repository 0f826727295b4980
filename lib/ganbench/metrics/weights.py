"""``config/weights.yaml``: the pretrained extractor weights the ``download_weights`` rule may fetch."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from ganbench.config import REPO_ROOT
from ganbench.data.download import download
from ganbench.errors import ConfigError

WEIGHTS_PATH = REPO_ROOT / "config" / "weights.yaml"


def load_weights_registry(path: str | os.PathLike = WEIGHTS_PATH) -> dict[str, dict]:
    with open(path) as f:
        entries = yaml.safe_load(f) or {}
    for name, entry in entries.items():
        for key in ("url", "sha256"):
            if key not in entry:
                raise ConfigError(f"{path}: {name}: missing key {key!r}")
    return entries


def download_weights(name: str, dest: str | os.PathLike, path: str | os.PathLike = WEIGHTS_PATH) -> Path:
    entry = load_weights_registry(path)[name]
    return download(entry["url"], dest, entry["sha256"])

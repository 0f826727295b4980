"""Atomic writes and content hashes, shared by every stage that writes a file."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; move it onto ``target`` only on success.

    A failure (exception, kill) leaves the target untouched and removes the temporary file,
    so a reader never sees a half-written artifact.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def write_json(target: str | os.PathLike, obj, indent: int = 2) -> Path:
    """Write ``obj`` as JSON (one trailing newline) atomically; values JSON cannot encode are written with str()."""
    target = Path(target)
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(obj, indent=indent, default=str) + "\n")
    return target

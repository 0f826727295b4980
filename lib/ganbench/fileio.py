"""Atomic, durable writes and content hashes, shared by every stage that writes a file."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator


def current_umask() -> int:
    """The process's umask, read without changing it where the OS allows (Linux: /proc/self/status)."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    mask = os.umask(0o022)  # elsewhere: set and restore (not thread-safe, but nothing here writes files in threads)
    os.umask(mask)
    return mask


def fsync_path(path: str | os.PathLike) -> None:
    """Flush a closed file's data and metadata to disk, by reopening it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: str | os.PathLike) -> None:
    """Flush a folder's entries (a rename into it) to disk; a no-op where folders cannot be opened or fsynced."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return  # Windows cannot open a folder
    try:
        os.fsync(fd)
    except OSError:
        pass  # some network file systems refuse fsync on a folder; the rename itself has happened
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; move it onto ``target`` only on success.

    The caller writes the whole file through the yielded path and closes it before the block
    ends (``torch.save``, ``zipfile``, ``h5py``, PIL and ``Path.write_*`` all do). On success the
    file gets the mode ``open()`` would give a new file (0666 minus the umask, so a group can
    read results on a shared file system), is fsynced, renamed onto ``target``, and the folder
    is fsynced, so that a crash right afterwards cannot leave a renamed but empty or short file.
    A failure (exception, kill) leaves the target untouched and removes the temporary file, so
    a reader never sees a half-written artifact.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~current_umask())
        fsync_path(tmp)
        os.replace(tmp, target)
        fsync_dir(target.parent)
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

"""Argument types and path checks shared by every subcommand: one-line errors, and outputs checked before any
work so that bad input leaves nothing behind."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ganbench.errors import GanbenchError

OVERWRITE = "replaced atomically if it exists"


# ---------------------------------------------------------------------------------------------
# Argument types and path checks, shared by every subcommand
# ---------------------------------------------------------------------------------------------


def int_at_least(minimum: int, what: str = "", maximum: int | None = None):
    """An argparse type: an integer >= ``minimum`` (and <= ``maximum``); ``what`` says why, in the error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is less than {minimum}{f' ({what})' if what else ''}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"{value} is more than {maximum}{f' ({what})' if what else ''}")
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


def float_in(low: float | None = None, high: float | None = None):
    """An argparse type: a finite float in [low, high] (either end open when None)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        if (low is not None and value < low) or (high is not None and value > high):
            shown = f"[{'-inf' if low is None else f'{low:g}'}, {'inf' if high is None else f'{high:g}'}]"
            raise argparse.ArgumentTypeError(f"{value:g} is outside {shown}")
        return value

    parse.__name__ = "number"
    return parse


POSITIVE = int_at_least(1)
SEED = int_at_least(0, "seeds are non-negative")


def input_file(path: str | os.PathLike, what: str = "file") -> Path:
    """``path`` as a Path; raise one line unless it is an existing file."""
    path = Path(path)
    if path.is_dir():
        raise GanbenchError(f"{path}: is a folder; expected a {what}")
    if not path.is_file():
        raise GanbenchError(f"{path}: {what} not found")
    return path


def input_dir(path: str | os.PathLike, what: str = "folder") -> Path:
    path = Path(path)
    if not path.is_dir():
        raise GanbenchError(f"{path}: {what} not found" if not path.exists() else f"{path}: is not a folder ({what})")
    return path


# Folders a command is about to create (the outermost missing one of each output path): removed again,
# where still empty, when the command fails, so that bad input leaves nothing behind.
NEW_DIRS: list[Path] = []


def remove_new_dirs() -> None:
    for top in NEW_DIRS:
        if not top.is_dir():
            continue
        for folder in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
            if not any(folder.iterdir()):
                folder.rmdir()
        if not any(top.iterdir()):
            top.rmdir()


def _check_creatable(path: Path, folder: bool) -> None:
    """Raise unless ``path`` (a file, or a ``folder``) and its missing parents can be created: the nearest
    existing ancestor is a writable folder."""
    ancestor, outermost = path.parent, path
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor, outermost = ancestor.parent, ancestor
    if not ancestor.is_dir():
        raise GanbenchError(f"{path}: cannot be created: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise GanbenchError(f"{path}: cannot be created: {ancestor} is not writable")
    if folder or outermost != path:  # a folder will be made: the output folder, or a file's missing parent
        NEW_DIRS.append(outermost)


def output_file(path: str | os.PathLike, suffixes: tuple[str, ...] = ()) -> Path:
    """Check a file destination before any work: not a folder, creatable, with one of ``suffixes``."""
    path = Path(path)
    if path.is_dir():
        raise GanbenchError(f"{path}: is a folder; expected a file path to write")
    if suffixes and path.suffix.lower() not in suffixes:
        raise GanbenchError(
            f"{path}: unknown destination type {path.suffix or '(no suffix)'!r}; expected {', '.join(suffixes)}"
        )
    if path.exists() and not os.access(path.parent, os.W_OK | os.X_OK):
        raise GanbenchError(f"{path}: cannot be replaced: {path.parent} is not writable")
    _check_creatable(path, folder=False)
    return path


def output_dir(path: str | os.PathLike) -> Path:
    """Check a folder destination before any work: an existing folder, or creatable."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise GanbenchError(f"{path}: exists and is not a folder; expected a folder to write into")
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise GanbenchError(f"{path}: folder is not writable")
    else:
        _check_creatable(path, folder=True)
    return path


def check_device(device: str | None) -> str | None:
    """``--device``: a torch device this machine has (None: the default)."""
    if device is None:
        return None
    import torch

    try:
        dev = torch.device(device)
    except RuntimeError:
        raise GanbenchError(f"--device {device!r}: not a device name (expected cpu, cuda or cuda:N)") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise GanbenchError(f"--device {device}: no CUDA GPU is visible on this machine (use --device cpu)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise GanbenchError(f"--device {device}: this machine has {torch.cuda.device_count()} GPU(s)")
    elif dev.type != "cpu":
        raise GanbenchError(f"--device {device!r}: unsupported device type (expected cpu or cuda)")
    return device


def checkpoint_method(path: str | os.PathLike, scales=(1,)) -> dict:
    """Check a training checkpoint before any work (metadata only): a GAN's (the catalog's kind), whose method
    renders ``scales`` (an any-scale method for scales other than 1); return it (tensors memory-mapped)."""
    from ganbench.methods.catalog import CATALOG, methods_with
    from ganbench.train.checkpoint import load_checkpoint

    ckpt = load_checkpoint(input_file(path, "checkpoint"), mmap=True)
    entry = CATALOG.get(ckpt["method"])
    if entry is None or entry.kind != "gan":
        what = f"a {entry.display} stage" if entry else f"method {ckpt['method']!r}"
        raise GanbenchError(f"{path}: {what} generates no images from seeds; this needs a GAN checkpoint")
    if any(s != 1 for s in scales) and ckpt["method"] not in methods_with("any_scale"):
        raise GanbenchError(
            f"{path}: method {ckpt['method']!r} renders only its training grid; scales other than 1 "
            f"need an any-scale method ({', '.join(methods_with('any_scale')) or 'none registered'})"
        )
    return ckpt

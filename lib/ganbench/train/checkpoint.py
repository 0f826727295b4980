"""Checkpoints: everything needed to continue a run exactly, written atomically.

A checkpoint is a plain dict of tensors and Python values (loadable with
``torch.load(weights_only=True)``): the method's state (all networks, EMA copies, buffers; parts
frozen from an input are left out and recorded by path and sha256), the optimisers, the progress
counters (which also fix the data position), the experiment it was trained with, the sha256 of every
input (data, parents, weights), and every rank's RNG states. The experiment and the input hashes
together are the resume key.
"""

from __future__ import annotations

import io
import os
import pickle
import random
import re
from pathlib import Path

import numpy as np
import torch

from ganbench.errors import GanbenchError
from ganbench.fileio import atomic_path

FORMAT = 1
CHECKPOINT_NAME = re.compile(r"checkpoint-(\d{6})\.pt$")

# Experiment keys that do not change the training trajectory: a run may be resumed across them.
RESUMABLE_KEYS = frozenset({"kimg", "snapshot_kimg", "tick_kimg", "workers"})


def checkpoint_name(kimg: float) -> str:
    return f"checkpoint-{int(kimg):06d}.pt"


def rng_state() -> dict:
    np_state = np.random.get_state(legacy=False)
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {
            "key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
            "pos": np_state["state"]["pos"],
            "has_gauss": np_state["has_gauss"],
            "gauss": np_state["gauss"],
        },
        "python": random.getstate(),
    }


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": "MT19937",
            "state": {"key": n["key"].numpy().astype(np.uint32), "pos": n["pos"]},
            "has_gauss": n["has_gauss"],
            "gauss": n["gauss"],
        }
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


def save_checkpoint(payload: dict, *paths: str | os.PathLike) -> None:
    """Serialise once and write the same bytes atomically to every path (a snapshot and ``final.pt``).

    Serialised in memory: torch.save names the archive after the file it writes, and a temporary
    name would make identical checkpoints differ in bytes (and in sha256).
    """
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **payload}, buffer)
    for path in paths:
        with atomic_path(path) as tmp:
            tmp.write_bytes(buffer.getvalue())


def load_checkpoint(path: str | os.PathLike, map_location="cpu", mmap: bool = False) -> dict:
    """Load a checkpoint; ``mmap`` maps tensors lazily instead of reading them (to inspect metadata).

    Anything else (a text file, a probe or statistics file, a damaged archive) raises one line naming the file."""
    import zipfile

    path = Path(path)
    if path.is_dir():
        raise GanbenchError(f"{path}: is a folder, not a checkpoint file")
    if not path.is_file():
        raise GanbenchError(f"{path}: checkpoint not found")
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive; anything else is not a checkpoint
        raise GanbenchError(
            f"{path}: not a ganbench checkpoint (not a torch.save archive; {path.stat().st_size} bytes)"
        )
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except Exception as exc:  # torch raises a zoo of types for a damaged file
        if isinstance(exc, pickle.UnpicklingError) or "weights_only" in str(exc):
            # torch's advice (rerun with weights_only=False) would execute arbitrary code from the file
            raise GanbenchError(
                f"{path}: not a ganbench checkpoint (it pickles objects other than tensors and plain values)"
            ) from None
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise GanbenchError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {first})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise GanbenchError(f"{path}: not a ganbench checkpoint (format {FORMAT})")
    missing = [key for key in ("method", "experiment", "resolution", "state") if key not in ckpt]
    if missing:
        kind = f"a {ckpt['kind']} file" if isinstance(ckpt.get("kind"), str) else f"it has no {missing[0]!r}"
        raise GanbenchError(f"{path}: not a training checkpoint ({kind})")
    return ckpt


def same_trajectory(a: dict, b: dict) -> bool:
    """Whether two experiment configs train identically (up to where they stop and how often they save)."""
    strip = lambda e: {k: v for k, v in e.items() if k not in RESUMABLE_KEYS}  # noqa: E731
    return strip(a) == strip(b)


def resume_candidates(run_dir: str | os.PathLike, experiment: dict, input_sha256: dict[str, str]):
    """Yield (path, why it cannot be resumed or None) for the run's checkpoints, newest first."""
    found = sorted(
        (int(m.group(1)), p) for p in Path(run_dir).glob("checkpoint-*.pt") if (m := CHECKPOINT_NAME.search(p.name))
    )
    for _, path in reversed(found):
        ckpt = load_checkpoint(path, mmap=True)
        if not same_trajectory(ckpt["experiment"], experiment):
            yield path, "trained with another configuration"
        elif ckpt.get("input_sha256") != input_sha256:
            old = ckpt.get("input_sha256") or {}
            changed = sorted(k for k in set(old) | set(input_sha256) if old.get(k) != input_sha256.get(k))
            yield path, f"trained on other inputs ({', '.join(changed)} changed)"
        else:
            yield path, None


def latest_checkpoint(run_dir: str | os.PathLike, experiment: dict, input_sha256: dict[str, str]) -> Path | None:
    """The newest ``checkpoint-*.pt`` in ``run_dir`` trained with the same configuration on the same
    inputs (by sha256), if any."""
    return next((path for path, why in resume_candidates(run_dir, experiment, input_sha256) if why is None), None)

"""Import the papers' released networks into ganbench's own modules, with none of the official code.

``import_network(path)`` reads a released file through the restricted unpickler
(:mod:`ganbench.nets.importers.unpickler`) and converts it with the importer of its format:

| format | module | files |
|---|---|---|
| ``stylegan2-ada-pytorch``, ``stylegan3``, ``creps`` | :mod:`~ganbench.nets.importers.persistence` | ``*.pkl`` of ``torch_utils.persistence`` networks |
| ``tf-stylegan2``, ``tf-stylegan2-ada`` | :mod:`~ganbench.nets.importers.tf_stylegan2` | TF ``(G, D, Gs)`` pickles (config F) |
| ``stylegan1-state-dict`` | :mod:`~ganbench.nets.importers.stylegan1_pt` | DatasetGAN's StyleGAN ``*.for_g_all.pt`` |

A ``.for_g_all.pt`` is a ``torch.save`` archive, read with ``weights_only`` instead of the unpickler.
``imported_checkpoint(path)`` builds the method (``stylegan2``, ``stylegan1`` or ``creps``) holding the converted G, G_ema
and D and returns a ganbench checkpoint dict (``ganbench.train.checkpoint``) with a ``source`` record;
``write_imported_checkpoint`` writes it atomically. Such a file is an experiment input like any run's
``final.pt`` (``inputs: {parent: {checkpoint: PATH}}``, the encoder's ``generator``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch

from ganbench.errors import GanbenchError
from ganbench.fileio import sha256_file
from ganbench.nets.importers.common import ImportedNetworks
from ganbench.nets.importers.persistence import (
    convert_persistence,
    is_persistence_pickle,
)
from ganbench.nets.importers.stylegan1_pt import convert_stylegan1, is_stylegan1_state_dict, load_torch_state
from ganbench.nets.importers.tf_stylegan2 import convert_tf, is_tf_pickle
from ganbench.nets.importers.unpickler import load_network_pickle

METHODS = ("stylegan2", "stylegan1", "creps")


def import_network(path: str | os.PathLike, avg_latent: str | os.PathLike | None = None) -> ImportedNetworks:
    """The networks of a released file in ganbench's names and layouts; anything else is one line.
    ``avg_latent``: a StyleGAN (v1) state dict's mean-w ``.npy`` (the DatasetGAN release ships it beside the data)."""
    import zipfile

    path = Path(path)
    if path.is_file() and zipfile.is_zipfile(path):
        state = load_torch_state(path)  # None where not a weights-only archive (a ganbench checkpoint)
        if is_stylegan1_state_dict(state):
            return convert_stylegan1(state, str(path), avg_latent)
    if avg_latent is not None:
        raise GanbenchError(f"{path}: --avg-latent applies to StyleGAN (v1) .for_g_all.pt state dicts only")
    obj = load_network_pickle(path)
    if is_persistence_pickle(obj):
        return convert_persistence(obj, str(path))
    if is_tf_pickle(obj):
        return convert_tf(obj, str(path))
    kind = type(obj).__name__ + (f" with keys {', '.join(map(str, list(obj)[:4]))}" if isinstance(obj, dict) else "")
    raise GanbenchError(
        f"{path}: not a released network pickle (a {kind}; expected persistent G/D/G_ema or a TF (G, D, Gs) tuple)"
    )


def _experiment(imported: ImportedNetworks, path: Path) -> dict:
    """A schema-valid experiment entry for the imported networks (defaults filled in as the config's are)."""
    from ganbench.config import validate_config

    stem = re.sub(r"[^A-Za-z0-9_.-]", "-", path.stem).strip("-.") or "network"
    experiment = {
        "name": f"imported-{stem}",
        "method": imported.method,
        "dataset": "imported",
        "resolution": imported.resolution,
        "options": dict(imported.options),
    }
    config = validate_config(
        {"datasets": {"imported": {"source": "folder", "path": "."}}, "experiments": [experiment]}, f"{path} (imported)"
    )
    return config["experiments"][0]


def imported_checkpoint(
    path: str | os.PathLike,
    method: str | None = None,
    resolution: int | None = None,
    avg_latent: str | os.PathLike | None = None,
) -> dict:
    """The ganbench checkpoint dict of a released network (without ``format``, which ``save_checkpoint`` adds).

    ``method``/``resolution``: what the caller expects; a file of another method or resolution is an error.
    """
    from ganbench.methods import build_method

    path = Path(path)
    imported = import_network(path, avg_latent)
    if method is not None and method != imported.method:
        raise GanbenchError(f"{path}: holds a {imported.method} generator, not {method}")
    if resolution is not None and resolution != imported.resolution:
        raise GanbenchError(
            f"{path}: the networks are {imported.resolution}x{imported.resolution}, not --resolution {resolution}"
        )
    if imported.resolution < 8 or imported.resolution > 1024:
        raise GanbenchError(f"{path}: resolution {imported.resolution} is outside what experiments take (8 to 1024)")
    experiment = _experiment(imported, path)
    torch.manual_seed(0)  # parts the file lacks (StyleGAN v1's D) are initialised reproducibly
    net = build_method(
        imported.method,
        experiment["options"],
        imported.resolution,
        imported.img_channels,
        imported.label_dim,
        where=f"{path}: options",
    )
    for part in ("G", "G_ema", "D"):
        if getattr(imported, part) is not None:
            _load_exact(getattr(net, part), getattr(imported, part), f"{path}: {part}")
    return {
        "method": imported.method,
        "experiment": experiment,
        "resolution": imported.resolution,
        "img_channels": imported.img_channels,
        "label_dim": imported.label_dim,
        "state": net.state_dict(),
        "optimizers": {},
        "nimg": 0,
        "step": 0,
        "rng": [],
        "torch_version": str(torch.__version__),
        "inputs": {},
        "input_sha256": {},
        "frozen_inputs": {},
        "parents": {},
        "source": {
            "path": str(path.resolve()),
            "sha256": sha256_file(path),
            "format": imported.format,
            "notes": list(imported.notes),
            **(
                {"avg_latent": {"path": str(Path(avg_latent).resolve()), "sha256": sha256_file(avg_latent)}}
                if avg_latent is not None
                else {}
            ),
        },
    }


def _load_exact(module: torch.nn.Module, state: dict, where: str) -> None:
    """Load every tensor of ``module`` from ``state``: same names, same shapes, nothing left over."""
    target = module.state_dict()
    missing = [k for k in target if k not in state]
    extra = [k for k in state if k not in target]
    if missing or extra:
        what = f"lacks {missing[0]!r}" if missing else f"has {extra[0]!r}, which ganbench's network does not"
        raise GanbenchError(f"{where}: {what} ({len(missing)} missing, {len(extra)} unexpected tensors)")
    for key, value in state.items():
        if tuple(value.shape) != tuple(target[key].shape):
            raise GanbenchError(
                f"{where}: {key} has shape {list(value.shape)} in the file, "
                f"{list(target[key].shape)} in ganbench's network"
            )
    module.load_state_dict({k: v.to(target[k].dtype) for k, v in state.items()}, strict=True)


def write_imported_checkpoint(
    source: str | os.PathLike,
    out: str | os.PathLike,
    method: str | None = None,
    resolution: int | None = None,
    avg_latent: str | os.PathLike | None = None,
) -> dict:
    """Import ``source`` and write the checkpoint to ``out`` atomically; returns the checkpoint dict."""
    from ganbench.train.checkpoint import save_checkpoint

    ckpt = imported_checkpoint(source, method, resolution, avg_latent)
    save_checkpoint(ckpt, out)
    return ckpt


__all__ = ["METHODS", "ImportedNetworks", "import_network", "imported_checkpoint", "write_imported_checkpoint"]

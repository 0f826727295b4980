"""What every importer produces, and the helpers they share (module trees of stubs, channel widths)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
import torch

from ganbench.errors import GanbenchError
from ganbench.nets.importers.unpickler import PersistentStub, PlainModuleStub


@dataclass
class ImportedNetworks:
    """G, G_ema and D of a released file in ganbench's names and layouts, and how to build the method that holds
    them: ``options`` are the method's architecture options (the rest keep their defaults), ``notes`` the
    source's settings that ganbench's networks do not represent and that do not change their outputs on a CPU
    (fp16 blocks, EMA decay of w_avg)."""

    method: str
    format: str
    options: dict
    resolution: int
    img_channels: int
    label_dim: int
    G: dict[str, torch.Tensor]
    G_ema: dict[str, torch.Tensor]
    D: dict[str, torch.Tensor] | None  # None: the file has no discriminator (kept as initialised, seed 0)
    notes: list[str] = field(default_factory=list)


def is_module(obj) -> bool:
    return isinstance(obj, (PersistentStub, PlainModuleStub))


def children(stub) -> dict:
    mods = stub.state.get("_modules") or {}
    return {k: v for k, v in mods.items() if v is not None}


def attr(stub, name: str, default=None):
    value = stub.state.get(name, default)
    return value.item() if isinstance(value, np.generic) else value


def submodule(stub, dotted: str, where: str):
    node = stub
    for part in dotted.split("."):
        node = children(node).get(part)
        if node is None:
            raise GanbenchError(f"{where}: has no module {dotted!r}")
    return node


def flatten(stub, where: str, prefix: str = "") -> dict[str, torch.Tensor]:
    """The parameters and persistent buffers of a stub module tree under their dotted names (frozen layers
    that keep their weights in ``_buffers`` included)."""
    if not is_module(stub):
        raise GanbenchError(f"{where}: {prefix.rstrip('.') or 'the network'} is a {type(stub).__name__}, not a module")
    out: dict[str, torch.Tensor] = {}
    skip = set(stub.state.get("_non_persistent_buffers_set") or ())
    for group in ("_parameters", "_buffers"):
        for name, value in (stub.state.get(group) or {}).items():
            if value is None or (group == "_buffers" and name in skip):
                continue
            if not isinstance(value, torch.Tensor):
                raise GanbenchError(f"{where}: {prefix}{name} is a {type(value).__name__}, not a tensor")
            out[prefix + name] = value.detach().clone()
    for name, child in children(stub).items():
        out.update(flatten(child, where, f"{prefix}{name}."))
    return out


def block_resolutions(stub, where: str, first: int) -> list[int]:
    """The resolutions r of the ``b{r}`` children, checked to be first, 2 first, ..., R."""
    found = sorted(int(k[1:]) for k in children(stub) if re.fullmatch(r"b\d+", k))
    if not found:
        return []
    expected = [2**i for i in range(int(math.log2(first)), int(math.log2(found[-1])) + 1)]
    if found != expected:
        raise GanbenchError(
            f"{where}: blocks {', '.join(f'b{r}' for r in found)} are not the sequence "
            f"b{first} ... b{found[-1]} doubling each time"
        )
    return found


def channel_params(channels: dict[int, int], hint: tuple[int, int] | None, where: str) -> tuple[int, int]:
    """(channel_base, channel_max) with ``channels[r] == min(channel_base // r, channel_max)`` for every r: the
    ``hint`` (the source's constructor arguments) if it fits, else derived from the widths."""
    fits = lambda base, cmax: all(min(base // r, cmax) == c for r, c in channels.items())
    if hint is not None and fits(*hint):
        return hint
    cmax = max(channels.values())
    uncapped = sorted(r for r, c in channels.items() if c < cmax)
    base = channels[uncapped[0]] * uncapped[0] if uncapped else cmax * max(channels)
    if not fits(base, cmax):
        shown = ", ".join(f"{r}: {c}" for r, c in sorted(channels.items()))
        raise GanbenchError(f"{where}: channel widths ({shown}) follow no min(channel_base // r, channel_max)")
    return base, cmax


def require(condition: bool, where: str, what: str) -> None:
    """One-line refusal of a setting ganbench's networks do not implement."""
    if not condition:
        raise GanbenchError(f"{where}: {what}")


def shape_of(state: dict, key: str, where: str) -> tuple[int, ...]:
    if key not in state:
        raise GanbenchError(f"{where}: has no tensor {key!r}")
    return tuple(state[key].shape)

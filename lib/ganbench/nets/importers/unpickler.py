"""A restricted unpickler for the papers' released network pickles: data only, never their code.

The official files are pickles of live objects. StyleGAN2-ADA, StyleGAN3 and CREPS wrap every network in
``torch_utils.persistence._reconstruct_persistent_obj(meta)``, where ``meta`` carries the source code of the
defining module (``module_src``) and the instance ``__dict__`` (``state``); official loading execs that source.
TensorFlow StyleGAN2 pickles hold ``dnnlib.tflib.network.Network`` objects whose state is numpy arrays.
``research/checkpoints.md`` §1.1 lists the globals these files use; :class:`RestrictedUnpickler` resolves
exactly those (the tensor and numpy rebuilders, a few containers) and turns the official classes into inert
stubs that only hold their state. Any other global is refused in one line naming it and the file.

The stubs:

- :class:`PersistentStub`: a persistent object (``class_name``, ``state``, ``module_src_sha256``); the
  pickled ``module_src`` is hashed, never run.
- :class:`PlainModuleStub`: a module pickled by class (CREPS' ``SynthesisInput``, ``torch.nn.Sequential``),
  holding its ``__dict__`` as ``state``.
- :class:`NetworkStub`: a TensorFlow ``Network`` (its ``__getstate__`` dict as ``state``).
- :class:`EasyDict`: ``dnnlib.util.EasyDict``, a plain dict.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from ganbench.errors import GanbenchError

PERSISTENT_VERSION = 6  # torch_utils.persistence's format version (asserted by the official loader too)


class EasyDict(dict):
    """``dnnlib.util.EasyDict``: a dict (attribute access is not needed here)."""


class PersistentStub:
    """A ``torch_utils.persistence`` object: its class name, its state (``__dict__``), the hash of its source."""

    def __init__(self, class_name: str, state: dict, module_src_sha256: str):
        self.class_name, self.state, self.module_src_sha256 = class_name, state, module_src_sha256

    def __repr__(self) -> str:
        return f"<persistent {self.class_name}>"


class PlainModuleStub:
    """An object pickled by class reference (NEWOBJ/REDUCE + BUILD); ``qualname`` is the global it named."""

    qualname = "?"

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs, self.state = args, kwargs, {}

    def __setstate__(self, state):
        self.state = state if isinstance(state, dict) else {"_state": state}

    @property
    def class_name(self) -> str:
        return self.qualname.rsplit(".", 1)[-1]

    def __repr__(self) -> str:
        return f"<stub {self.qualname}>"


class NetworkStub(PlainModuleStub):
    """``dnnlib.tflib.network.Network``: ``state`` is its ``__getstate__`` dict (version, name, static_kwargs,
    components, variables, build_module_src, build_func_name)."""

    qualname = "dnnlib.tflib.network.Network"


def _stub_class(qualname: str) -> type:
    return type(qualname.rsplit(".", 1)[-1], (PlainModuleStub,), {"qualname": qualname})


def _reconstruct_persistent_obj(meta):
    """Stand-in for ``torch_utils.persistence._reconstruct_persistent_obj``: checks the record, keeps the state."""
    if not isinstance(meta, dict) or meta.get("type") != "class" or "state" not in meta:
        raise _Refused("a persistent object record without type 'class' and a state")
    if meta.get("version") != PERSISTENT_VERSION:
        raise _Refused(
            f"a persistent object of format version {meta.get('version')!r} (only {PERSISTENT_VERSION} is known)"
        )
    src = meta.get("module_src") or ""
    digest = hashlib.sha256(src.encode("utf-8", "surrogateescape") if isinstance(src, str) else bytes(src)).hexdigest()
    return PersistentStub(str(meta.get("class_name")), meta["state"], digest)


def _load_from_bytes(data: bytes):
    """``torch.storage._load_from_bytes``: a legacy ``torch.save`` of one storage, read with weights_only."""
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


class _Refused(Exception):
    """Raised inside the unpickler; turned into a one-line GanbenchError naming the file."""


def _numpy_attr(name: str):
    from numpy._core import multiarray

    return getattr(multiarray, name)


_TORCH_DTYPES = {
    f"torch.{n}": getattr(torch, n)
    for n in ("float32", "float16", "bfloat16", "float64", "int64", "int32", "int16", "int8", "uint8", "bool")
}

# module.name -> the object the unpickler returns (research/checkpoints.md §1.1)
ALLOWED: dict[str, object] = {
    "torch_utils.persistence._reconstruct_persistent_obj": _reconstruct_persistent_obj,
    "dnnlib.util.EasyDict": EasyDict,
    "dnnlib.EasyDict": EasyDict,
    "dnnlib.tflib.network.Network": NetworkStub,
    "collections.OrderedDict": OrderedDict,
    "torch._utils._rebuild_tensor_v2": torch._utils._rebuild_tensor_v2,
    "torch._utils._rebuild_parameter": torch._utils._rebuild_parameter,
    "torch._utils._rebuild_parameter_with_state": torch._utils._rebuild_parameter_with_state,
    "torch.storage._load_from_bytes": _load_from_bytes,
    "torch.Size": torch.Size,
    "builtins.set": set,
    "__builtin__.set": set,
    "builtins.frozenset": frozenset,
    "__builtin__.frozenset": frozenset,
    "numpy.dtype": np.dtype,
    "numpy.ndarray": np.ndarray,
    **{
        f"{mod}.multiarray.{name}": _numpy_attr(name)
        for mod in ("numpy.core", "numpy._core")
        for name in ("scalar", "_reconstruct")
    },
    **_TORCH_DTYPES,
}

# Classes pickled by reference that become inert stubs: the CREPS input layer and decoders, and the foreign
# modules some releases carry beside the networks (Vision-aided's cvD backbones, re-pickled exec'ed classes).
STUB_CLASSES = ("training.networks_creps.SynthesisInput", "torch.nn.modules.container.Sequential")
STUB_PREFIXES = (
    "_imported_module_",
    "vision_module.",
    "vision_aided_loss.",
    "clip.model.",
    "torch.nn.modules.",
    "timm.models.",
    "torchvision.models.",
)


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` whose ``find_class`` resolves only :data:`ALLOWED` and stub classes."""

    def __init__(self, file, where: str):
        super().__init__(file, encoding="latin1")  # TF-era pickles carry Python 2 byte strings in numpy state
        self.where = where
        self._stubs: dict[str, type] = {}

    def find_class(self, module: str, name: str):
        qualname = f"{module}.{name}"
        if qualname in ALLOWED:
            return ALLOWED[qualname]
        if qualname in STUB_CLASSES or (module.startswith(STUB_PREFIXES) and name[:1].isupper()):
            return self._stubs.setdefault(qualname, _stub_class(qualname))
        raise _Refused(f"refusing to load global {qualname} (not one a released network uses)")

    def persistent_load(self, pid):
        raise _Refused(f"a persistent id {str(pid)[:40]!r} (a torch.save archive, not a network pickle)")


def load_network_pickle(path: str | os.PathLike):
    """Unpickle ``path`` with :class:`RestrictedUnpickler`; a refused global, a truncated or damaged file is one
    GanbenchError line naming the file."""
    import zipfile

    path = Path(path)
    if zipfile.is_zipfile(path):
        raise GanbenchError(
            f"{path}: a torch.save archive (a checkpoint or state dict), not a released network "
            f"pickle nor a StyleGAN .for_g_all.pt state dict"
        )
    try:
        with open(path, "rb") as f:
            return RestrictedUnpickler(f, str(path)).load()
    except _Refused as exc:
        raise GanbenchError(f"{path}: {exc}") from None
    except GanbenchError:
        raise
    except EOFError:
        raise GanbenchError(f"{path}: truncated pickle (the file ends inside an object)") from None
    except (
        pickle.UnpicklingError,
        ValueError,
        TypeError,
        AttributeError,
        KeyError,
        IndexError,
        RuntimeError,
        UnicodeDecodeError,
        MemoryError,
    ) as exc:
        first = (str(exc).strip().splitlines() or [""])[0][:120]
        raise GanbenchError(f"{path}: not a readable network pickle ({type(exc).__name__}: {first})") from None

"""The StyleGAN custom ops: upfirdn2d and bias_act, in CUDA, C++ and pure-PyTorch form.

Every StyleGAN-family network of ganbench resamples with :func:`upfirdn2d` (and its wrappers
:func:`upsample2d`, :func:`downsample2d`, :func:`filter2d`, :func:`conv2d_resample`) and
activates with :func:`bias_act`. Each op runs one of three implementations, chosen per call by
``impl=`` or the ``GANBENCH_OPS`` environment variable (``auto`` | ``cuda`` | ``cpp`` |
``ref``): the compiled ones are built on first use and cached (see :mod:`ganbench.ops._build`);
the reference is the ground truth they are tested against.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from types import ModuleType

import torch

from ganbench.errors import OpsError
from ganbench.fileio import write_json
from ganbench.ops import _build
from ganbench.ops.bias_act import ACTIVATIONS, bias_act, bias_act_ref
from ganbench.ops.conv2d_resample import conv2d_resample
from ganbench.ops.upfirdn2d import downsample2d, filter2d, setup_filter, upfirdn2d, upfirdn2d_ref, upsample2d

__all__ = [
    "ACTIVATIONS",
    "bias_act",
    "bias_act_ref",
    "build",
    "conv2d_resample",
    "downsample2d",
    "filter2d",
    "setup_filter",
    "upfirdn2d",
    "upfirdn2d_ref",
    "upsample2d",
    "write_build_stamp",
]


def build(target: str = "cpp", verbose: bool = False) -> ModuleType:
    """Build (or load from the cache) the compiled ops for ``target`` (``cpp`` or ``cuda``).

    Raises :class:`~ganbench.errors.OpsError` when that target cannot be built here.
    """
    return _build.build(target, verbose=verbose)


def write_build_stamp(path: str | os.PathLike) -> dict:
    """Build every target this machine supports and write a JSON stamp of the builds to ``path``.

    ``cpp`` is always built (a failure raises :class:`OpsError` and writes nothing); ``cuda``
    is built when a GPU is visible and recorded as unavailable, with the reason, otherwise.
    With ``GANBENCH_OPS=ref`` nothing is compiled (nothing would use it) and the stamp says so.
    The stamp (written atomically) is what the ``build_ops`` rule produces and training rules
    take as input, so that parallel jobs find the ops compiled. Returns the stamp.
    """
    impl = _build.requested_impl()
    targets: dict[str, dict] = {}
    if impl == "ref":
        for target in _build.TARGETS:
            targets[target] = {"available": False, "reason": "not built: GANBENCH_OPS=ref"}
    else:
        _build.build("cpp")
        targets["cpp"] = {"available": True, **_stamp_info("cpp")}
        if torch.cuda.is_available():
            _build.build("cuda")
            targets["cuda"] = {"available": True, "arch": _build.cuda_arch_list(), **_stamp_info("cuda")}
        else:
            reason = "no visible GPU" if torch.version.cuda else f"torch {torch.__version__} has no CUDA support"
            targets["cuda"] = {"available": False, "reason": reason}
    stamp = {
        "impl": impl,
        "cache": str(_build.cache_root()),
        "targets": targets,
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "python": platform.python_version(),
        "platform": f"{sys.platform}-{platform.machine()}",
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    write_json(path, stamp)
    return stamp


def _stamp_info(target: str) -> dict:
    info = _build.build_info(target) or {}
    if not info:
        raise OpsError(f"the {target} ops were built but left no build record")
    return {"key": info["key"], "dir": info["dir"]}

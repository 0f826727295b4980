"""Build, cache and dispatch of the compiled ops.

The C++ and CUDA sources live in the repository's ``kernels/`` directory. They are compiled on
first use with ninja through :mod:`torch.utils.cpp_extension`, once per *target*:

``cpp``
    the C++ (CPU) kernels, OpenMP over the threads of ``torch.get_num_threads()``;
``cuda``
    the same plus the CUDA kernels, for the GPU architectures in ``TORCH_CUDA_ARCH_LIST`` or,
    when that is unset, those of the visible GPUs.

Flags: ``-O3 -fno-trapping-math -fno-math-errno -fopenmp`` (the loops are written for the
compiler to vectorize), plus ``-march=native`` unless ``GANBENCH_OPS_NATIVE=0`` (see
:func:`native_cflags`); nvcc gets ``-O3`` and one ``-gencode`` per architecture.

Cache. Each build lives in ``<root>/<target>-<key>/`` where ``<root>`` is
``$GANBENCH_CACHE/ops`` (default ``~/.cache/ganbench/ops``) and ``<key>`` is a sha256 of the
sources and headers, the target, the GPU architectures, the compiler flags, the compiler's
version, the torch version and the Python ABI. A directory is complete when it holds
``build.json``; it is never modified afterwards, so loading it needs no lock. The sources are
copied into it, so it is self-contained. ``$GANBENCH_KERNELS`` points at other sources.

Concurrency. A builder holds an exclusive ``fcntl.flock`` on ``<root>/<target>-<key>.lock``
and compiles in a private ``<target>-<key>.tmp-<host>-<pid>/`` that it renames into place when
done. Other processes (DDP ranks, parallel Snakemake jobs) wait on the lock and then load the
finished build: one compile, no collision. The kernel drops a flock when its holder dies, so a
killed build never blocks the next one; the next lock holder finds what the dead one left (its
temporary directory, including torch's own ``lock`` file, or an incomplete build directory),
removes it with a warning and builds again. Waiting gives up with an :class:`OpsError` after
``GANBENCH_OPS_LOCK_TIMEOUT`` seconds (default 3600) rather than hanging.

Dispatch. ``GANBENCH_OPS`` (or the ``impl=`` argument of every op) selects the implementation:

``auto`` (default)
    ``cuda`` for CUDA tensors, ``cpp`` for CPU tensors; when that build fails, warn once with
    the compiler's message and use ``ref``; inputs the kernels do not cover (other devices,
    dtypes, a filter that requires a gradient) also use ``ref``;
``cuda`` | ``cpp``
    that implementation or an :class:`OpsError` that says why not;
``ref``
    the pure-PyTorch reference, the ground truth of the tests.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import importlib.util
import json
import logging
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path
from types import ModuleType
from typing import Iterator

import torch

from ganbench.errors import OpsError
from ganbench.fileio import atomic_path, fsync_dir, write_json

log = logging.getLogger("ganbench.ops")

#: Bump to invalidate every cached build (e.g. after a change to how builds are laid out).
BUILD_FORMAT = 1

IMPLS = ("auto", "cuda", "cpp", "ref")
TARGETS = ("cpp", "cuda")

_CPP_SOURCES = ("module.cpp", "upfirdn2d.cpp", "upfirdn2d_cpu.cpp", "bias_act.cpp", "bias_act_cpu.cpp")
_CUDA_SOURCES = ("upfirdn2d.cu", "bias_act.cu")
_HEADERS = ("common.h", "upfirdn2d.h", "bias_act.h")
_CFLAGS = ("-O3", "-fopenmp", "-fno-trapping-math", "-fno-math-errno")
_LDFLAGS = ("-fopenmp",)
_CUDA_CFLAGS = ("-O3",)

#: dtypes each compiled target handles; other dtypes go to the reference.
DTYPES = {
    "cpp": (torch.float32, torch.float64),
    "cuda": (torch.float16, torch.bfloat16, torch.float32, torch.float64),
}


def kernel_dir() -> Path:
    """The directory of the C++/CUDA sources: ``$GANBENCH_KERNELS`` or the repository's ``kernels/``."""
    env = os.environ.get("GANBENCH_KERNELS")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "kernels"


def cache_root() -> Path:
    """``$GANBENCH_CACHE/ops``, or ``~/.cache/ganbench/ops``."""
    env = os.environ.get("GANBENCH_CACHE")
    base = Path(env) if env else Path.home() / ".cache" / "ganbench"
    return base / "ops"


@dataclasses.dataclass(frozen=True)
class ExtensionSpec:
    """What to compile: the sources (relative to ``source_dir``) and how.

    ``target`` names the build in the cache and in messages; the ops use ``cpp`` and ``cuda``,
    tests use small specs of their own to exercise the cache and the locking.
    """

    target: str
    source_dir: Path
    sources: tuple[str, ...]
    headers: tuple[str, ...] = ()
    cflags: tuple[str, ...] = ()
    ldflags: tuple[str, ...] = ()
    cuda_cflags: tuple[str, ...] = ()
    with_cuda: bool = False
    cuda_arch: str = ""  # e.g. "8.0;9.0" (with_cuda only)

    def key(self) -> str:
        """Hex sha256 of everything that determines the compiled module."""
        digest = hashlib.sha256()
        for name in sorted(self.sources + self.headers):
            path = self.source_dir / name
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise OpsError(f"kernel source {path} cannot be read: {exc.strerror}") from None
            digest.update(name.encode() + b"\0" + data + b"\0")
        conf = {
            "format": BUILD_FORMAT,
            "target": self.target,
            "cflags": self.cflags,
            "ldflags": self.ldflags,
            "cuda_cflags": self.cuda_cflags,
            "with_cuda": self.with_cuda,
            "cuda_arch": self.cuda_arch,
            "torch": torch.__version__,
            "torch_cuda": torch.version.cuda if self.with_cuda else None,
            "python": sys.implementation.cache_tag,
            "machine": platform.machine(),
            "cxx": _tool_version(os.environ.get("CXX", "c++")),
            "nvcc": _tool_version(_nvcc()) if self.with_cuda else None,
        }
        digest.update(json.dumps(conf, sort_keys=True).encode())
        return digest.hexdigest()


_versions: dict[str, str] = {}


def _tool_version(tool: str | None) -> str:
    """The last non-empty line of ``tool --version`` (the compiler release), or ''."""
    if not tool:
        return ""
    if tool not in _versions:
        try:
            out = subprocess.run([tool, "--version"], capture_output=True, text=True, timeout=60).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        lines = [line for line in out.splitlines() if line.strip()]
        # gcc prints its release on the first line, nvcc on the last two: keep both ends.
        _versions[tool] = " | ".join(dict.fromkeys(lines[:1] + lines[-1:]))
    return _versions[tool]


def _cuda_home() -> Path | None:
    """The CUDA toolkit: ``$CUDA_HOME``/``$CUDA_PATH``, else the real location of ``nvcc``.

    ``nvcc`` on the PATH may be a wrapper script (``/usr/local/bin/nvcc``); a toolkit is a
    directory with ``bin/nvcc`` and ``include/cuda_runtime.h``.
    """
    candidates = [os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH")]
    nvcc = shutil.which("nvcc")
    if nvcc:
        candidates.append(str(Path(nvcc).resolve().parent.parent))
        try:
            text = Path(nvcc).read_text(errors="replace")[:4096]
        except OSError:
            text = ""
        for match in re.finditer(r"(/\S+)/bin/nvcc\b", text):
            candidates.append(match.group(1))
    candidates.append("/usr/local/cuda")
    for cand in candidates:
        if cand and (Path(cand) / "bin" / "nvcc").exists() and (Path(cand) / "include" / "cuda_runtime.h").exists():
            return Path(cand)
    return None


def _nvcc() -> str | None:
    home = _cuda_home()
    return str(home / "bin" / "nvcc") if home else None


def cuda_arch_list() -> str:
    """GPU architectures of a CUDA build: ``TORCH_CUDA_ARCH_LIST``, else the visible GPUs', else ''."""
    env = os.environ.get("TORCH_CUDA_ARCH_LIST", "").strip()
    if env:
        return ";".join(env.replace(",", ";").replace(" ", ";").split(";")).strip(";")
    if torch.cuda.is_available():
        caps = sorted({torch.cuda.get_device_capability(i) for i in range(torch.cuda.device_count())})
        return ";".join(f"{major}.{minor}" for major, minor in caps)
    return ""


def _gencode_flags(arch_list: str) -> list[str]:
    """nvcc ``-gencode`` flags for an arch list such as ``8.0;9.0+PTX``."""
    flags = []
    for item in filter(None, arch_list.split(";")):
        ptx = item.endswith("+PTX")
        num = item.removesuffix("+PTX").replace(".", "")
        if not re.fullmatch(r"\d+[a-z]?", num):
            raise OpsError(f"TORCH_CUDA_ARCH_LIST entry {item!r} is not an architecture such as 8.0 or 9.0+PTX")
        flags.append(f"-gencode=arch=compute_{num},code=sm_{num}")
        if ptx:
            flags.append(f"-gencode=arch=compute_{num},code=compute_{num}")
    return flags


_native: dict[str, tuple[str, ...]] = {}


def native_cflags() -> tuple[str, ...]:
    """``-march=native`` plus a define that fingerprints what it means on this host, or ().

    The C++ loops are written for the compiler to vectorize; with ``-march=native`` it uses
    the host's full vector width (AVX2/AVX-512 rather than SSE2). Because the fingerprint (a
    hash of the compiler's predefined macros under ``-march=native``) is part of the flags,
    it is part of the cache key: hosts with different CPUs sharing one cache get separate
    builds. ``GANBENCH_OPS_NATIVE=0``, or a compiler that rejects the flag, gives a portable
    build.
    """
    if os.environ.get("GANBENCH_OPS_NATIVE", "1").strip().lower() in ("0", "false", "no", "off"):
        return ()
    cxx = os.environ.get("CXX", "c++")
    if cxx not in _native:
        flags: tuple[str, ...] = ()
        try:
            proc = subprocess.run(
                [cxx, "-march=native", "-E", "-dM", "-x", "c++", os.devnull],
                capture_output=True,
                text=True,
                timeout=60,
            )
            if proc.returncode == 0:
                macros = "\n".join(sorted(proc.stdout.splitlines()))
                fingerprint = hashlib.sha256(macros.encode()).hexdigest()[:12]
                flags = ("-march=native", f"-DGANBENCH_NATIVE_ARCH={fingerprint}")
        except (OSError, subprocess.SubprocessError):
            pass  # no usable compiler probe: build for the generic architecture (flags stay empty)
        _native[cxx] = flags
    return _native[cxx]


def ops_spec(target: str) -> ExtensionSpec:
    """The spec of the ganbench ops for ``target`` (``cpp`` or ``cuda``)."""
    if target == "cpp":
        return ExtensionSpec(
            target="cpp",
            source_dir=kernel_dir(),
            sources=_CPP_SOURCES,
            headers=_HEADERS,
            cflags=_CFLAGS + native_cflags(),
            ldflags=_LDFLAGS,
        )
    if target == "cuda":
        if not torch.version.cuda:
            raise OpsError(f"the cuda ops need a CUDA build of torch; this torch {torch.__version__} has none")
        if _cuda_home() is None:
            raise OpsError("the cuda ops need the CUDA toolkit (nvcc): none found via CUDA_HOME or PATH")
        arch = cuda_arch_list()
        if not arch:
            raise OpsError(
                "no GPU is visible and TORCH_CUDA_ARCH_LIST is unset: no architecture to compile the cuda ops for"
            )
        return ExtensionSpec(
            target="cuda",
            source_dir=kernel_dir(),
            sources=_CPP_SOURCES + _CUDA_SOURCES,
            headers=_HEADERS,
            cflags=_CFLAGS + native_cflags() + ("-DGANBENCH_WITH_CUDA",),
            ldflags=_LDFLAGS,
            cuda_cflags=_CUDA_CFLAGS + ("-DGANBENCH_WITH_CUDA",),
            with_cuda=True,
            cuda_arch=arch,
        )
    raise OpsError(f"unknown ops build target {target!r}: expected one of {', '.join(TARGETS)}")


# ---------------------------------------------------------------------------------------------
# Building and loading


# What this process has built or loaded.
_by_target: dict[str, ModuleType | OpsError] = {}  # build(target): module or failure
_modules: dict[str, ModuleType] = {}  # build_spec: by spec key
_failures: dict[str, OpsError] = {}  # build_spec: by spec key
_info: dict[str, dict] = {}  # by target: the last build or load
_warned: set[str] = set()  # targets whose failure auto has warned about
_mutex = threading.RLock()


def build(target: str = "cpp", verbose: bool = False) -> ModuleType:
    """Build (or load from the cache) the ops for ``target`` and return the Python module.

    The module has ``upfirdn2d(...)``, ``bias_act(...)`` and ``with_cuda``. Raises
    :class:`OpsError` when the target cannot be built here. The outcome, module or failure,
    is kept for the life of the process (every op call asks for it); :func:`reset` forgets it.
    """
    found = _by_target.get(target)
    if found is None:
        try:
            found = build_spec(ops_spec(target), verbose=verbose)
        except OpsError as exc:
            found = exc
        _by_target[target] = found
    if isinstance(found, OpsError):
        raise found
    return found


def reset() -> None:
    """Forget the builds and failures of this process (the on-disk cache stays)."""
    with _mutex:
        _by_target.clear()
        _modules.clear()
        _failures.clear()
        _info.clear()
        _warned.clear()


def build_info(target: str = "cpp") -> dict | None:
    """What the last :func:`build` of ``target`` in this process did: key, dir, compiled, seconds."""
    return _info.get(target)


def build_spec(spec: ExtensionSpec, verbose: bool = False) -> ModuleType:
    """Build or load the extension described by ``spec`` (see the module docstring)."""
    key = spec.key()
    with _mutex:
        if key in _modules:
            return _modules[key]
        if key in _failures:
            raise _failures[key]
        try:
            module = _build_or_load(spec, key, verbose)
        except OpsError as exc:
            _failures[key] = exc
            raise
        _modules[key] = module
        return module


def _names(spec: ExtensionSpec, key: str) -> tuple[str, str]:
    """(directory name, module name) of a build."""
    safe = re.sub(r"\W", "_", spec.target)
    return f"{safe}-{key[:16]}", f"ganbench_ops_{safe}_{key[:12]}"


def _build_or_load(spec: ExtensionSpec, key: str, verbose: bool) -> ModuleType:
    root = cache_root()
    dirname, modname = _names(spec, key)
    final = root / dirname
    start = time.monotonic()
    if (final / "build.json").is_file():
        module = _load(final, modname)
        _info[spec.target] = {"key": key, "dir": str(final), "compiled": False, "seconds": time.monotonic() - start}
        return module
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OpsError(f"ops cache {root} cannot be created: {exc.strerror}") from None
    with _flock(root / f"{dirname}.lock"):
        if (final / "build.json").is_file():  # another process built it while we waited
            module = _load(final, modname)
            compiled = False
        else:
            _clear_stale(root, dirname)
            module = _compile(spec, key, root, dirname, modname, verbose)
            compiled = True
    _info[spec.target] = {"key": key, "dir": str(final), "compiled": compiled, "seconds": time.monotonic() - start}
    return module


def _lock_timeout() -> float:
    raw = os.environ.get("GANBENCH_OPS_LOCK_TIMEOUT", "3600")
    try:
        return float(raw)
    except ValueError:
        raise OpsError(f"GANBENCH_OPS_LOCK_TIMEOUT={raw!r} is not a number of seconds") from None


@contextlib.contextmanager
def _flock(path: Path) -> Iterator[None]:
    """Hold an exclusive flock on ``path``; the kernel releases it if this process dies."""
    timeout = _lock_timeout()
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise OpsError(f"ops build lock {path} cannot be opened: {exc.strerror}") from None
    try:
        start = time.monotonic()
        announced = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - start
                if waited > timeout:
                    holder = _read_holder(fd)
                    raise OpsError(
                        f"waited {waited:.0f}s for the ops build lock {path} held by {holder}; "
                        "raise GANBENCH_OPS_LOCK_TIMEOUT or end that process"
                    ) from None
                if not announced and waited > 1.0:
                    log.info("waiting for %s, which is building the ops (lock %s)", _read_holder(fd), path)
                    announced = True
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{socket.gethostname()} pid {os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


def _read_holder(fd: int) -> str:
    try:
        return os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
    except OSError:
        return "another process"


def _clear_stale(root: Path, dirname: str) -> None:
    """Remove what a dead builder left behind; only called with the build lock held.

    Every builder holds the lock while its temporary directory is in use and renames it into
    place only when complete, so with the lock held any temporary directory, and any final
    directory without ``build.json``, belongs to a build that was killed. torch's own ``lock``
    file inside them goes with them.
    """
    for path in sorted(root.glob(f"{dirname}.tmp-*")) + [root / dirname]:
        if path.exists():
            note = " (with a stale torch lock file)" if (path / "lock").exists() else ""
            log.warning("removing %s left by an interrupted ops build%s", path, note)
            shutil.rmtree(path, ignore_errors=True)
            if path.exists():
                raise OpsError(f"stale ops build directory {path} cannot be removed")


def _cpp_extension() -> ModuleType:
    """torch.utils.cpp_extension, imported without its note about where CUDA_HOME was found
    (this module finds the toolkit itself, see _cuda_home)."""
    logger = logging.getLogger("torch.utils.cpp_extension")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        from torch.utils import cpp_extension
    finally:
        logger.setLevel(level)
    return cpp_extension


def _compile(spec: ExtensionSpec, key: str, root: Path, dirname: str, modname: str, verbose: bool) -> ModuleType:
    cpp_extension = _cpp_extension()
    tmp = root / f"{dirname}.tmp-{socket.gethostname()}-{os.getpid()}"
    src = tmp / "src"
    src.mkdir(parents=True)
    for name in spec.sources + spec.headers:
        shutil.copy2(spec.source_dir / name, src / name)
    cuda_cflags = list(spec.cuda_cflags)
    restore_home = None
    if spec.with_cuda:
        cuda_cflags += _gencode_flags(spec.cuda_arch)
        home = _cuda_home()
        # torch resolves CUDA_HOME once at import and can pick a wrapper's directory.
        if home is not None and str(cpp_extension.CUDA_HOME or "") != str(home):
            restore_home, cpp_extension.CUDA_HOME = (cpp_extension.CUDA_HOME,), str(home)
    # torch renames a module it has built before in this process (name_v1, ...) when the build
    # directory differs, e.g. another cache root; the cached library must keep its own name.
    cpp_extension.JIT_EXTENSION_VERSIONER.entries.pop(modname, None)
    log.info("building the %s ops in %s (first use; cached afterwards)", spec.target, root / dirname)
    start = time.monotonic()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes about CUDA_HOME and compiler versions
            module = cpp_extension.load(
                name=modname,
                sources=[str(src / name) for name in spec.sources],
                extra_cflags=list(spec.cflags),
                extra_cuda_cflags=cuda_cflags,
                extra_ldflags=list(spec.ldflags),
                extra_include_paths=[str(src)],
                build_directory=str(tmp),
                with_cuda=spec.with_cuda,
                verbose=verbose,
            )
    except Exception as exc:  # noqa: BLE001 - any failure of the toolchain becomes one OpsError
        log_path = root / f"{dirname}.log"
        message = str(exc)
        shutil.rmtree(tmp, ignore_errors=True)
        with contextlib.suppress(OSError), atomic_path(log_path) as log_tmp:
            log_tmp.write_text(message + "\n")
        raise OpsError(
            f"building the {spec.target} ops failed: {_first_error(message)} (full log: {log_path})"
        ) from None
    finally:
        if restore_home is not None:
            cpp_extension.CUDA_HOME = restore_home[0]
    seconds = time.monotonic() - start
    stamp = {
        "key": key,
        "target": spec.target,
        "module": modname,
        "library": f"{modname}.so",
        "seconds": round(seconds, 1),
        "cuda_arch": spec.cuda_arch,
        "torch": torch.__version__,
        "built_by": f"{socket.gethostname()} pid {os.getpid()}",
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    (tmp / "lock").unlink(missing_ok=True)  # torch's own lock file: the build is over
    write_json(tmp / "build.json", stamp, indent=1)
    os.replace(tmp, root / dirname)
    fsync_dir(root)
    log.info("built the %s ops in %.0fs", spec.target, seconds)
    return module


def _first_error(message: str) -> str:
    """The compiler's first error line (or the exception's first line), for a one-line message."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    for line in lines:
        if re.search(r"\berror\b", line, re.IGNORECASE) and not line.startswith("Error building extension"):
            return line[:400]
    return (lines[0] if lines else "unknown error")[:400]


def _load(directory: Path, modname: str) -> ModuleType:
    path = directory / f"{modname}.so"
    spec = importlib.util.spec_from_file_location(modname, path)
    if spec is None or spec.loader is None:
        raise OpsError(f"cached ops library {path} cannot be loaded")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ImportError as exc:
        raise OpsError(f"cached ops library {path} cannot be loaded: {exc}") from None
    return module


# ---------------------------------------------------------------------------------------------
# Dispatch


def requested_impl(impl: str | None = None) -> str:
    """The implementation asked for: ``impl`` if given, else ``$GANBENCH_OPS``, else ``auto``."""
    choice = (impl if impl is not None else os.environ.get("GANBENCH_OPS", "")).strip().lower() or "auto"
    if choice not in IMPLS:
        source = "impl" if impl is not None else "GANBENCH_OPS"
        raise OpsError(f"{source}={choice!r} is not one of {', '.join(IMPLS)}")
    return choice


def select(op: str, x: torch.Tensor, impl: str | None = None, unsupported: str | None = None) -> ModuleType | None:
    """The compiled module to run ``op`` on ``x`` with, or None for the reference.

    ``unsupported`` is the caller's reason why the kernels cannot take these arguments (None if
    they can): ``auto`` then uses the reference, an explicit ``cpp``/``cuda`` raises.
    """
    choice = requested_impl(impl)
    if choice == "ref":
        return None
    target = {"cpu": "cpp", "cuda": "cuda"}.get(x.device.type)
    if unsupported is None and target is not None and x.dtype not in DTYPES[target]:
        unsupported = f"the {target} kernels do not support {x.dtype}"
    if choice == "auto":
        if target is None or unsupported is not None:
            return None
        try:
            return build(target)
        except OpsError as exc:
            if target not in _warned:
                _warned.add(target)
                warnings.warn(f"ganbench ops: using the slower PyTorch reference: {exc}", RuntimeWarning, stacklevel=3)
            return None
    if choice != target:
        raise OpsError(f"GANBENCH_OPS={choice} cannot run {op} on a {x.device.type} tensor")
    if unsupported is not None:
        raise OpsError(f"GANBENCH_OPS={choice} cannot run {op}: {unsupported}")
    return build(choice)

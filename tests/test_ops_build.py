"""Building the custom ops: the cache, concurrent builders, stale locks, the stamp, nvcc.

The locking tests compile a tiny extension (a second or two); the concurrency test and the
stamp test compile the real C++ ops, the nvcc test the CUDA ones (a few minutes on two cores).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from ganbench.errors import OpsError
from ganbench.ops import _build, write_build_stamp

TOY_SOURCE = textwrap.dedent(
    """
    // A minimal extension module: enough to exercise the build cache and its lock.
    #include <Python.h>
    #define GB_CAT2(a, b) a##b
    #define GB_CAT(a, b) GB_CAT2(a, b)
    #define GB_STR2(a) #a
    #define GB_STR(a) GB_STR2(a)
    static struct PyModuleDef toy_def = {PyModuleDef_HEAD_INIT, GB_STR(TORCH_EXTENSION_NAME), nullptr, -1, nullptr};
    PyMODINIT_FUNC GB_CAT(PyInit_, TORCH_EXTENSION_NAME)(void) { return PyModule_Create(&toy_def); }
    """
)

# Builds the toy extension from the directory argv[1] and prints what build_info says.
TOY_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from ganbench.ops import _build
    spec = _build.ExtensionSpec(target="toy", source_dir=Path(sys.argv[1]), sources=("toy.cpp",))
    _build.build_spec(spec)
    print(json.dumps(_build.build_info("toy")))
    """
)

OPS_SCRIPT = textwrap.dedent(
    """
    import json
    from ganbench.ops import _build
    module = _build.build("cpp")
    assert hasattr(module, "upfirdn2d") and hasattr(module, "bias_act")
    print(json.dumps(_build.build_info("cpp")))
    """
)


@pytest.fixture()
def toy(tmp_path: Path) -> _build.ExtensionSpec:
    src = tmp_path / "toy-src"
    src.mkdir()
    (src / "toy.cpp").write_text(TOY_SOURCE)
    return _build.ExtensionSpec(target="toy", source_dir=src, sources=("toy.cpp",))


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty ops cache for this test, in this process and its children."""
    root = tmp_path / "cache"
    monkeypatch.setenv("GANBENCH_CACHE", str(root))
    monkeypatch.delenv("GANBENCH_OPS_LOCK_TIMEOUT", raising=False)
    _build.reset()
    yield root / "ops"
    _build.reset()


def run_json(args: list[str], timeout: float, env: dict | None = None) -> dict:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_concurrent_builds_compile_once(cache: Path):
    """Four processes start on an empty cache at once: all get the ops, one compiles."""
    start = time.monotonic()
    procs = [
        subprocess.Popen([sys.executable, "-c", OPS_SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    infos = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=900)
            assert proc.returncode == 0, err[-3000:]
            infos.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    assert sum(info["compiled"] for info in infos) == 1, infos
    assert len({info["dir"] for info in infos}) == 1
    build_dir = Path(infos[0]["dir"])
    assert (build_dir / "build.json").is_file()
    assert not list(cache.glob("*.tmp-*"))
    print(f"cpp ops: 4 processes, one compile, {time.monotonic() - start:.0f}s")


def test_stale_build_state_is_cleared(toy: _build.ExtensionSpec, cache: Path):
    """What a killed build leaves (its directories, torch's `lock` file) does not block the next."""
    dirname, _ = _build._names(toy, toy.key())
    cache.mkdir(parents=True)
    final = cache / dirname
    final.mkdir()
    (final / "lock").write_text("")  # torch's lock file of an interrupted build
    (final / "build.ninja").write_text("# half-written\n")
    (final / "half-written.o").write_text("")
    orphan = cache / f"{dirname}.tmp-otherhost-4242"
    orphan.mkdir()
    (orphan / "lock").write_text("")
    (cache / f"{dirname}.lock").write_text("otherhost pid 4242\n")  # a lock file nobody holds

    info = run_json([sys.executable, "-c", TOY_SCRIPT, str(toy.source_dir)], timeout=180)
    assert info["compiled"] is True
    assert (final / "build.json").is_file()
    assert not (final / "half-written.o").exists() and not (final / "lock").exists()
    assert not orphan.exists()


def test_killed_build_does_not_block(toy: _build.ExtensionSpec, cache: Path, tmp_path: Path):
    """A builder killed mid-compile (SIGKILL to its process group) leaves nothing that blocks."""
    mark = tmp_path / "compiling"
    slow_cxx = tmp_path / "slow-c++"
    real_cxx = shutil.which(os.environ.get("CXX", "c++"))
    slow_cxx.write_text(
        f'#!/bin/sh\ncase " $* " in *" -c "*) touch "{mark}"; sleep 300;; esac\nexec "{real_cxx}" "$@"\n'
    )
    slow_cxx.chmod(0o755)
    env = dict(os.environ, CXX=str(slow_cxx))
    victim = subprocess.Popen(
        [sys.executable, "-c", TOY_SCRIPT, str(toy.source_dir)],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not mark.exists():
            assert victim.poll() is None, "the build ended before it could be killed"
            assert time.monotonic() < deadline, "the build never started compiling"
            time.sleep(0.1)
    finally:
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait()
    assert list(cache.glob("*.tmp-*")), "the killed build should have left its directory"

    info = run_json([sys.executable, "-c", TOY_SCRIPT, str(toy.source_dir)], timeout=180)
    assert info["compiled"] is True
    assert not list(cache.glob("*.tmp-*"))


def test_live_lock_holder_times_out_with_a_message(toy: _build.ExtensionSpec, cache: Path, monkeypatch):
    """Waiting on a live builder ends in an OpsError after GANBENCH_OPS_LOCK_TIMEOUT, not a hang;
    once the holder dies the build goes ahead."""
    dirname, _ = _build._names(toy, toy.key())
    cache.mkdir(parents=True)
    lock = cache / f"{dirname}.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "os.pwrite(fd, b'test-holder pid 1', 0)\n"
            "print('locked', flush=True)\n"
            "time.sleep(300)\n",
            str(lock),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        monkeypatch.setenv("GANBENCH_OPS_LOCK_TIMEOUT", "1.5")
        start = time.monotonic()
        with pytest.raises(OpsError, match="held by test-holder pid 1"):
            _build.build_spec(toy)
        assert time.monotonic() - start < 30
    finally:
        holder.kill()
        holder.wait()
    _build.reset()
    _build.build_spec(toy)
    assert _build.build_info("toy")["compiled"] is True


def test_cache_key_follows_sources_and_flags(toy: _build.ExtensionSpec, cache: Path):
    key = toy.key()
    assert key == toy.key()
    (toy.source_dir / "toy.cpp").write_text(TOY_SOURCE + "\n// changed\n")
    assert toy.key() != key
    assert _build.ExtensionSpec(**{**toy.__dict__, "cflags": ("-O2",)}).key() != toy.key()
    assert _build.ExtensionSpec(**{**toy.__dict__, "target": "toy2"}).key() != toy.key()
    assert _build.cache_root() == cache


def test_build_stamp(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch):
    """The build_ops rule's output: cpp built, cuda built or recorded as unavailable."""
    monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path_factory.getbasetemp() / "ganbench-cache"))
    monkeypatch.delenv("GANBENCH_OPS", raising=False)
    _build.reset()
    try:
        target = tmp_path / "results" / "ops" / "build.json"
        stamp = write_build_stamp(target)
        assert json.loads(target.read_text()) == stamp
        cpp = stamp["targets"]["cpp"]
        assert cpp["available"] is True and (Path(cpp["dir"]) / "build.json").is_file()
        assert cpp["key"] == _build.ops_spec("cpp").key()
        cuda = stamp["targets"]["cuda"]
        if torch.cuda.is_available():
            assert cuda["available"] is True
        else:
            assert cuda == {"available": False, "reason": "no visible GPU" if torch.version.cuda else cuda["reason"]}
        assert stamp["torch"] == torch.__version__ and stamp["impl"] == "auto"
        assert not list(target.parent.glob(".*.tmp"))
        # With the reference requested there is nothing to compile.
        monkeypatch.setenv("GANBENCH_OPS", "ref")
        monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path / "unused-cache"))
        _build.reset()
        stamp = write_build_stamp(target)
        assert stamp["targets"]["cpp"] == {"available": False, "reason": "not built: GANBENCH_OPS=ref"}
        assert not (tmp_path / "unused-cache").exists()
    finally:
        _build.reset()


def _nvcc_available() -> bool:
    return bool(torch.version.cuda) and (shutil.which("nvcc") is not None or _build._cuda_home() is not None)


@pytest.mark.cuda_build
@pytest.mark.skipif(not _nvcc_available(), reason="needs nvcc and a CUDA build of torch")
def test_cuda_sources_compile_and_link(cache: Path, monkeypatch):
    """nvcc compiles the CUDA kernels and the module links against the CUDA runtime; on a
    machine without a GPU its CPU half still runs."""
    monkeypatch.setenv("TORCH_CUDA_ARCH_LIST", "9.0")  # one architecture keeps the compile short
    start = time.monotonic()
    spec = _build.ops_spec("cuda")
    module = _build.build_spec(spec)
    seconds = time.monotonic() - start
    assert module.with_cuda is True
    build_dir = Path(_build.build_info("cuda")["dir"])
    ninja = (build_dir / "build.ninja").read_text()
    assert "compute_90" in ninja and "-lcudart" in ninja
    assert (build_dir / "upfirdn2d.cuda.o").is_file() and (build_dir / "bias_act.cuda.o").is_file()
    # The C++ half of the CUDA build serves CPU tensors.
    from ganbench.ops import bias_act_ref, setup_filter, upfirdn2d_ref
    from ganbench.ops.upfirdn2d import _kernel_filter

    x = torch.randn(2, 3, 6, 5)
    f = setup_filter([1, 3, 3, 1])
    y = module.upfirdn2d(x, _kernel_filter(f, x, False, 4.0), 2, 2, 1, 1, 2, 1, 2, 1, 0)
    torch.testing.assert_close(y, upfirdn2d_ref(x, f, up=2, padding=[2, 1, 2, 1], gain=4.0))
    b = torch.randn(3)
    y, _ = module.bias_act(x, b, torch.empty(0), torch.empty(0), 0, 3, 0.2, 2**0.5, -1.0, 1, False)
    torch.testing.assert_close(y, bias_act_ref(x, b, act="lrelu"))
    print(f"cuda ops (sm_90): built in {seconds:.0f}s")


@pytest.mark.integration
def test_build_ops_rule(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory):
    """`snakemake results/ops/build.json` runs the build_ops rule and writes the stamp."""
    import yaml

    repo = Path(__file__).resolve().parents[1]
    work = tmp_path / "work"
    work.mkdir()
    config = {"datasets": {"tinyfaces": {"source": "synthetic", "category": "face", "count": 4, "seed": 0}}}
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "GANBENCH_CACHE": str(tmp_path_factory.getbasetemp() / "ganbench-cache")}
    env.pop("GANBENCH_OPS", None)
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(repo / "Snakefile"),
        "-d",
        str(work),
        "--configfile",
        str(work / "config.yaml"),
        "--cores",
        "1",
        "results/ops/build.json",
    ]
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    stamp = json.loads((work / "results" / "ops" / "build.json").read_text())
    assert stamp["targets"]["cpp"]["available"] is True
    assert (work / "logs" / "ops" / "build_ops.log").is_file()


def test_second_cache_root_in_one_process_keeps_the_library_name(tmp_path: Path, monkeypatch):
    """torch renames a re-built extension (name_v1) when its build directory changes; ours must not."""
    monkeypatch.delenv("GANBENCH_OPS", raising=False)
    try:
        for root in ("first", "second"):
            monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path / root))
            _build.reset()
            _build.build("cpp")
            built = Path(_build.build_info("cpp")["dir"])
            library = json.loads((built / "build.json").read_text())["library"]
            assert (built / library).is_file()
    finally:
        _build.reset()

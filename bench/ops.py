"""Benchmark of the compiled ops against the PyTorch reference, measured in the same run.

    python bench/ops.py [--impl cpp] [--repeat 10] [--markdown results/bench/ops.md]

For representative StyleGAN shapes, prints the median time of the forward pass and of the
forward+backward pass for the compiled implementation (``cpp`` on CPU, ``cuda`` on a GPU)
and for ``ref``, and the speedup ref / compiled. The compile (first use) is done before
timing starts.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch

from ganbench import ops


def _cases(device: torch.device) -> list[tuple[str, str, Callable[..., torch.Tensor], torch.Tensor, tuple]]:
    """(name, shape, op(x, *extra, impl=...), x, extra) of each benchmarked call."""
    f4 = ops.setup_filter([1, 3, 3, 1], device=device)
    g = torch.Generator().manual_seed(0)

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g).to(device)

    def up(x, f, impl):
        return ops.upsample2d(x, f, impl=impl)

    def down(x, f, impl):
        return ops.downsample2d(x, f, impl=impl)

    def blur(x, f, impl):
        return ops.filter2d(x, f, impl=impl)

    def lrelu(x, b, impl):
        return ops.bias_act(x, b, act="lrelu", impl=impl)

    def lrelu_clamp(x, b, impl):
        return ops.bias_act(x, b, act="lrelu", clamp=256, impl=impl)

    return [
        ("upsample2d, 4x4 filter", "[8,256,64,64]", up, rand(8, 256, 64, 64), (f4,)),
        ("downsample2d, 4x4 filter", "[8,256,64,64]", down, rand(8, 256, 64, 64), (f4,)),
        ("bias_act lrelu", "[8,512,32,32]", lrelu, rand(8, 512, 32, 32), (rand(512),)),
        ("filter2d, 4x4 filter", "[8,256,64,64]", blur, rand(8, 256, 64, 64), (f4,)),
        ("upsample2d, 4x4 filter (ToRGB skip)", "[8,3,128,128]", up, rand(8, 3, 128, 128), (f4,)),
        ("bias_act lrelu, clamp 256", "[8,512,32,32]", lrelu_clamp, rand(8, 512, 32, 32), (rand(512),)),
        ("bias_act lrelu (mapping fc)", "[8,512]", lrelu, rand(8, 512), (rand(512),)),
    ]


def _median_ms(fns: dict[str, Callable[[], None]], repeat: int, sync: Callable[[], None]) -> dict[str, float]:
    """Median time of each function, the functions taking turns so that a change in the
    machine's load affects them alike."""
    for fn in fns.values():  # warm-up (and allocator priming)
        fn()
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            sync()
            start = time.perf_counter()
            fn()
            sync()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) * 1000 for name, ts in times.items()}


def run(impl: str, repeat: int) -> list[dict]:
    device = torch.device("cuda" if impl == "cuda" else "cpu")
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    ops.build(impl)  # compile before timing
    rows = []
    for name, shape, op, x, extra in _cases(device):
        xg = x.clone().requires_grad_(True)
        extra_g = tuple(e.clone().requires_grad_(True) if e.ndim == 1 and "bias_act" in name else e for e in extra)
        dy = torch.randn_like(op(x, *extra, impl="ref"))

        def forward(which: str) -> Callable[[], None]:
            def fn() -> None:
                with torch.no_grad():
                    op(x, *extra, impl=which)

            return fn

        def forward_backward(which: str) -> Callable[[], None]:
            def fn() -> None:
                for t in (xg, *extra_g):
                    t.grad = None
                op(xg, *extra_g, impl=which).backward(dy)

            return fn

        row = {"op": name, "shape": shape}
        for mode, make in (("fwd", forward), ("fwdbwd", forward_backward)):
            ms = _median_ms({which: make(which) for which in (impl, "ref")}, repeat, sync)
            row[f"{impl}_{mode}"], row[f"ref_{mode}"] = ms[impl], ms["ref"]
        row["speedup_fwd"] = row["ref_fwd"] / row[f"{impl}_fwd"]
        row["speedup_fwdbwd"] = row["ref_fwdbwd"] / row[f"{impl}_fwdbwd"]
        rows.append(row)
        print(_line(row, impl), flush=True)
    return rows


def _header(impl: str) -> str:
    return (
        f"| op | shape | {impl} fwd ms | ref fwd ms | fwd speedup | {impl} fwd+bwd ms | ref fwd+bwd ms | "
        "fwd+bwd speedup |\n|---|---|---:|---:|---:|---:|---:|---:|"
    )


def _ms(value: float) -> str:
    return f"{value:.3g}" if value < 100 else f"{value:.0f}"


def _line(row: dict, impl: str) -> str:
    return (
        f"| {row['op']} | {row['shape']} | {_ms(row[f'{impl}_fwd'])} | {_ms(row['ref_fwd'])} | "
        f"{row['speedup_fwd']:.2f}x | {_ms(row[f'{impl}_fwdbwd'])} | {_ms(row['ref_fwdbwd'])} | "
        f"{row['speedup_fwdbwd']:.2f}x |"
    )


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass  # no /proc (not Linux): fall back to what platform reports
    return platform.processor() or platform.machine()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--impl", choices=["cpp", "cuda"], default="cuda" if torch.cuda.is_available() else "cpp")
    parser.add_argument("--repeat", type=int, default=10, help="timed repetitions per measurement (median)")
    parser.add_argument("--markdown", type=Path, help="also write the table (with the setup) to this file")
    args = parser.parse_args(argv)

    if args.impl == "cuda":
        device = torch.cuda.get_device_name()
    else:
        device = f"{_cpu_name()}, {torch.get_num_threads()} threads"
    setup = f"torch {torch.__version__}, {device}, median of {args.repeat}"
    print(setup)
    print(_header(args.impl))
    rows = run(args.impl, args.repeat)
    if args.markdown:
        table = "\n".join([_header(args.impl)] + [_line(r, args.impl) for r in rows])
        command = "python bench/ops.py" + ("" if args.repeat == 10 else f" --repeat {args.repeat}")
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(f"`{command}` ({setup}):\n\n{table}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

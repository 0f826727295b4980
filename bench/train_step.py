"""Time per StyleGAN2 training step with the compiled ops and with the reference, in the same run.

    python bench/train_step.py [--resolution 32] [--batch 16] [--steps 16] [--repeat 3]

A step is G main + D main, with the regularisers amortised: 16 steps contain 4 path-length
and 1 R1 phase (intervals 4 and 16), exactly their share of a long run. ``cpp`` on the CPU
(``cuda`` on a GPU) and ``ref`` alternate over the repeats and the median is reported.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from ganbench.methods import build_method
from ganbench.methods.base import Batch
from ganbench.train.distributed import World
from ganbench.train.loop import _Phases, make_optimizers

OPTIONS = {"z_dim": 128, "w_dim": 128, "channel_base": 4096, "channel_max": 128, "augment": "none"}


def time_steps(impl: str, resolution: int, batch: int, steps: int, device: torch.device) -> float:
    os.environ["GANBENCH_OPS"] = impl
    torch.manual_seed(0)
    method = build_method("stylegan2", OPTIONS, resolution).to(device)
    runner = _Phases(method, make_optimizers(method), World(device=device), seed=0, precision="fp32")
    real = torch.rand(batch, 3, resolution, resolution, device=device) * 2 - 1
    labels = torch.zeros(batch, 0, device=device)

    def step(i: int) -> None:
        for phase in method.phases():
            if i % phase.interval == 0:
                runner.run(phase, i, 0, [Batch(real, labels)])

    for i in range(2):  # warm-up (and the compile on first use)
        step(i)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for i in range(steps):
        step(i)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.set_flush_denormal(True)  # as the training loop does on the CPU
    fast = "cuda" if device.type == "cuda" else "cpp"
    times: dict[str, list[float]] = {fast: [], "ref": []}
    for _ in range(args.repeat):
        for impl in times:
            times[impl].append(time_steps(impl, args.resolution, args.batch, args.steps, device))
    med = {impl: statistics.median(t) for impl, t in times.items()}
    print(
        f"StyleGAN2 training step, {args.resolution}px, batch {args.batch}, channels <= {OPTIONS['channel_max']}, "
        f"{device.type}, {torch.get_num_threads()} threads, median of {args.repeat}"
    )
    print("| ops | s/step | kimg/s |")
    print("|---|---:|---:|")
    for impl, t in med.items():
        print(f"| {impl} | {t:.4f} | {args.batch / t / 1000:.3f} |")
    print(f"ratio ref / {fast}: {med['ref'] / med[fast]:.2f}x")


if __name__ == "__main__":
    main()

"""Measurements of methods that render any output grid (CREPS): consistency across output scales, and the
cost of rendering one image at each scale beside a StyleGAN2 generator of the same output size.

FID at a scale is :func:`ganbench.metrics.gan_metrics.evaluate_checkpoint` with ``sample_kwargs={"scale": s,
"grid": "paper"}`` against statistics of the real data at R * s; this module adds what the official code does
not measure (``research/creps.md`` §5: it has no consistency or cost metric):

- **consistency**, per scale s > 1: on nested grids (s * (R - 1) + 1 points per side, a superset of the
  training grid), ``subgrid_err`` is the largest absolute difference between the stride-s subsampling of the
  scale-s image and the scale-1 image (0 for a model in which every pixel depends only on its own coordinate),
  and ``psnr`` compares the scale-s image *downsampled* to R x R (antialiased bilinear with the grids' corners
  aligned) with the scale-1 image: it measures whether the detail added between the base coordinates agrees
  with the base image, which the subgrid check cannot see.
- **cost**, per scale: milliseconds per image (median of repeats after one warm-up render, batch 1) and peak
  memory of one render above the memory held before it: allocated CUDA memory on a GPU; on the CPU the peak
  resident set size, reset through ``/proc/self/clear_refs``. Each measurement runs in a fresh process so that
  one model's allocations cannot hide another's. The StyleGAN2 generator is built untrained at R * s (its cost
  does not depend on its weights) from the options of the configured baseline experiment.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F

from ganbench.methods.catalog import methods_with
from ganbench.errors import GanbenchError
from ganbench.fileio import sha256_file, write_json
from ganbench.metrics.stats import versions

CONSISTENCY_BATCH = 4


def downsample_to_grid(images: torch.Tensor, size: int) -> torch.Tensor:
    """Antialiased bilinear resize of a nested-grid image to ``size`` x ``size``, corners aligned (the first and
    last coordinates of both grids are 0 and 1)."""
    return F.interpolate(images.float(), size=(size, size), mode="bilinear", align_corners=True, antialias=True)


def scale_consistency(method, seeds: Sequence[int], scales: Sequence[int]) -> dict[int, dict[str, float]]:
    """``{s: {"psnr": dB, "subgrid_err": max abs difference}}`` for every scale s > 1 (see the module doc)."""
    resolution = method.resolution
    sums: dict[int, list] = {s: [0.0, 0.0] for s in scales if s > 1}  # (sum of squared errors, max abs error)
    pixels = 0
    for i in range(0, len(seeds), CONSISTENCY_BATCH):
        chunk = list(seeds[i : i + CONSISTENCY_BATCH])
        base = method.sample(chunk).float().cpu()
        pixels += base.numel()
        for s in sums:
            high = method.sample(chunk, scale=s, grid="nested").float().cpu()
            sums[s][1] = max(sums[s][1], (high[..., ::s, ::s] - base).abs().max().item())
            down = (downsample_to_grid(high, resolution).clamp(-1, 1) + 1) / 2
            sums[s][0] += (down - (base.clamp(-1, 1) + 1) / 2).square().sum().item()
    out = {}
    for s, (sse, err) in sums.items():
        mse = sse / pixels
        out[s] = {
            "psnr": float("inf") if mse == 0 else -10.0 * float(torch.log10(torch.tensor(mse))),
            "subgrid_err": err,
        }
    return out


# --- cost -------------------------------------------------------------------------------------------------


def _memory_probe(device: torch.device):
    """(start(), peak_mb()) for one render: CUDA allocator peak, or the process's peak RSS on the CPU."""
    if device.type == "cuda":

        def start():
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
            return torch.cuda.memory_allocated(device)

        def peak(before):
            torch.cuda.synchronize(device)
            return (torch.cuda.max_memory_allocated(device) - before) / 2**20

        return start, peak, "peak allocated CUDA memory above the model's"

    def status_kb(key):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        raise GanbenchError(f"/proc/self/status: no {key}")

    def start():
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # reset the peak RSS (VmHWM) to the current RSS
        except OSError as exc:
            raise GanbenchError(
                f"/proc/self/clear_refs: cannot reset the peak RSS ({exc.strerror}); CPU memory measurement needs Linux"
            ) from None
        return status_kb("VmRSS")

    def peak(before):
        return (status_kb("VmHWM") - before) / 1024

    return start, peak, "peak resident memory above the model's (VmHWM after clear_refs)"


def measure_render(spec: dict) -> dict[str, Any]:
    """One model, one output size, in this process. ``spec``: either ``checkpoint`` (a trained run) or ``method``,
    ``options`` and ``resolution`` (an untrained model: cost does not depend on weights); ``scale`` (any-scale
    methods render the paper grid, int(R * scale) points; others only their resolution); ``repeats``,
    ``device``, ``threads``, optional ``chunk_pixels``. Returns time, memory, output size and parameters."""
    from ganbench.methods import build_method
    from ganbench.metrics.gan_metrics import load_method
    from ganbench.train.checkpoint import load_checkpoint

    device = torch.device(spec["device"])
    torch.set_num_threads(spec["threads"])
    if "checkpoint" in spec:
        method = load_method(load_checkpoint(spec["checkpoint"], map_location=device), device)
    else:
        method = build_method(spec["method"], spec.get("options", {}), spec["resolution"]).to(device).eval()
    kwargs = {}
    if method.name in methods_with("any_scale"):
        kwargs = {"scale": spec.get("scale", 1), "grid": "paper"}
        if spec.get("chunk_pixels"):
            kwargs["chunk_pixels"] = spec["chunk_pixels"]
    elif spec.get("scale", 1) != 1:
        raise GanbenchError(
            f"render cost: {spec['method']} renders only its training resolution, not scale {spec['scale']}"
        )
    start, peak, memory_kind = _memory_probe(device)
    before = start()
    image = method.sample([0], **kwargs)
    peak_mb = peak(before)
    times = []
    for seed in range(1, spec["repeats"] + 1):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        method.sample([seed], **kwargs)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - t0)
    return {
        "time_ms": 1000 * statistics.median(times),
        "peak_mb": peak_mb,
        "output_size": list(image.shape[-2:]),
        "params_m": sum(p.numel() for p in method.G_ema.parameters()) / 1e6,
        "memory": memory_kind,
    }


def measure_in_subprocess(spec: dict) -> dict[str, Any]:
    """:func:`measure_render` in a fresh Python process, so that no earlier allocation hides this one's peak."""
    proc = subprocess.run(
        [sys.executable, "-m", "ganbench.metrics.any_scale", json.dumps(spec)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        what = spec.get("checkpoint") or spec.get("method")
        raise GanbenchError(f"render cost of {what} at scale {spec.get('scale', 1)} failed: {last}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def render_cost(
    checkpoint: str | os.PathLike,
    resolution: int,
    scales: Sequence[int],
    baseline_options: dict,
    repeats: int = 3,
    device: str | None = None,
    threads: int | None = None,
) -> dict[str, dict[int, dict]]:
    """``{"any_scale": {s: measurement}, "stylegan2": {s: measurement}}``: the checkpoint's model at each scale
    and an untrained StyleGAN2 built at resolution * s; one fresh process per measurement."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    common = {"repeats": repeats, "device": device, "threads": threads or torch.get_num_threads()}
    out: dict[str, dict[int, dict]] = {"any_scale": {}, "stylegan2": {}}
    for s in scales:
        out["any_scale"][s] = measure_in_subprocess({"checkpoint": str(checkpoint), "scale": s, **common})
        out["stylegan2"][s] = measure_in_subprocess(
            {"method": "stylegan2", "options": baseline_options, "resolution": resolution * s, **common}
        )
    return out


# --- the pipeline's entry points: one JSON per number, as the tables read them ------------------------------


# the protocol names these measurements are recorded under (they use no feature extractor)
CONSISTENCY_PROTOCOL = "nested_consistency"
COST_PROTOCOL = "render_cost"


def _write(out_dir: Path, name: str, metric: str, value: float, protocol: dict, extra: dict) -> None:
    record = {"metric": metric, "value": value, "protocol": protocol, **extra, "versions": versions()}
    write_json(out_dir / f"{name}.json", record)


def _load_run(checkpoint_path) -> tuple[dict, dict]:
    """The checkpoint, and the ``run`` and ``inputs`` records every result JSON carries."""
    from ganbench.train.checkpoint import load_checkpoint

    ckpt = load_checkpoint(checkpoint_path, map_location="cpu", mmap=True)  # tensors read only where used
    run = {"method": ckpt["method"], "experiment": ckpt["experiment"].get("name"), "kimg": ckpt["nimg"] / 1000}
    inputs = {"checkpoint": str(checkpoint_path), "checkpoint_sha256": sha256_file(checkpoint_path)}
    return ckpt, {"run": run, "inputs": inputs}


def evaluate_consistency(
    checkpoint_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    scales: Sequence[int],
    num_images: int = 16,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> dict:
    """Write ``psnr-scale{s}.json`` and ``subgrid_err-scale{s}.json`` for every scale s > 1."""
    from ganbench.metrics.gan_metrics import load_method

    from ganbench.metrics.extractors import default_device

    ckpt, record = _load_run(checkpoint_path)
    method = load_method(ckpt, default_device() if device is None else device)
    if method.name not in methods_with("any_scale"):
        raise GanbenchError(f"{checkpoint_path}: method {ckpt['method']!r} renders only its training grid")
    seeds = list(range(seed, seed + num_images))
    results = scale_consistency(method, seeds, scales)
    out_dir = Path(out_dir)
    for s, values in results.items():
        protocol = {
            "name": CONSISTENCY_PROTOCOL,
            "images": num_images,
            "seeds": {"start": seed, "count": num_images},
            "grid": "nested",
            "scale": s,
            "downsample": "bilinear, antialias, corners aligned",
        }
        for metric, value in values.items():
            _write(out_dir, f"{metric}-scale{s}", metric, value, protocol, record)
    return results


def evaluate_render_cost(
    checkpoint_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    scales: Sequence[int],
    baseline: dict,
    repeats: int = 3,
    device: str | None = None,
    threads: int | None = None,
) -> dict:
    """Write ``{time_ms,peak_mb}-scale{s}.json`` and ``params_m.json`` for the checkpoint's model, and the same
    names prefixed ``stylegan2-`` for the baseline; ``baseline`` is
    ``{"experiment": name or None, "options": {...}}``."""
    ckpt, record = _load_run(checkpoint_path)
    resolution = ckpt["resolution"]
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    threads = threads or torch.get_num_threads()
    cost = render_cost(checkpoint_path, resolution, scales, baseline["options"], repeats, device, threads)
    out_dir = Path(out_dir)
    for model, prefix in (("any_scale", ""), ("stylegan2", "stylegan2-")):
        described = (
            {"method": ckpt["method"], "grid": "paper", "trained_resolution": resolution}
            if model == "any_scale"
            else {"method": "stylegan2", "untrained": True, **baseline}
        )
        for s, m in cost[model].items():
            protocol = {
                "name": COST_PROTOCOL,
                "device": device,
                "threads": threads,
                "batch": 1,
                "repeats": repeats,
                "output_size": m["output_size"],
                "statistic": "median",
                "memory": m["memory"],
            }
            for metric in ("time_ms", "peak_mb"):
                _write(
                    out_dir, f"{prefix}{metric}-scale{s}", metric, m[metric], protocol, {"model": described, **record}
                )
        first = cost[model][scales[0]]
        _write(
            out_dir,
            f"{prefix}params_m",
            "params_m",
            first["params_m"],
            {"name": COST_PROTOCOL, "counted": "generator (EMA) parameters"},
            {"model": described, **record},
        )
    return cost


if __name__ == "__main__":  # one measurement in a fresh process (see render_cost)
    print(json.dumps(measure_render(json.loads(sys.argv[1]))))

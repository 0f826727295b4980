"""How well an encoder stage inverts its frozen generator: real images -> E -> G -> images again.

Scored on the real test split where the dataset records one (the synthetic benchmark's annotations),
else on every image: the mean squared error in [-1, 1] and the PSNR in dB of images mapped to [0, 1]
(``10 log10(1 / mse_01)`` over all pixels of the set, not a mean of per-image PSNRs). One JSON per
number, with the protocol and the inputs' hashes beside it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ganbench.data.annotations import read_annotations
from ganbench.data.dataset import ImageDataset
from ganbench.errors import GanbenchError
from ganbench.fileio import sha256_file, write_json
from ganbench.metrics.plan import RECONSTRUCTION, RECONSTRUCTION_METRICS
from ganbench.train.checkpoint import load_checkpoint
from ganbench.train.inputs import restore_method


def evaluate_reconstruction(
    checkpoint_path: str | os.PathLike,
    data_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    annotations_path: str | os.PathLike | None = None,
    batch: int = 64,
    device: str | torch.device = "cpu",
) -> dict[str, dict]:
    """Write ``mse.json`` and ``psnr.json`` to ``out_dir``; returns ``{metric: record}``."""
    ckpt = load_checkpoint(checkpoint_path)
    method = restore_method(ckpt, checkpoint_path, device)
    if not hasattr(method, "reconstruct"):
        raise GanbenchError(
            f"{checkpoint_path}: a {ckpt['method']} checkpoint does not reconstruct images (an encoder does)"
        )
    dataset = ImageDataset(data_path, resolution=method.resolution)
    if annotations_path is not None:
        is_test = read_annotations(annotations_path).is_test
        if len(is_test) != len(dataset):
            raise GanbenchError(f"{annotations_path}: {len(is_test)} rows, but {data_path} has {len(dataset)} images")
        indices, split = np.flatnonzero(is_test), "test"
    else:
        indices, split = np.arange(len(dataset)), "all"
    if len(indices) == 0:
        raise GanbenchError(f"{annotations_path}: the test split is empty")
    squared, count = 0.0, 0
    for start in tqdm(range(0, len(indices), batch), desc="reconstruction", unit="batch", disable=None):
        images = torch.from_numpy(np.stack([dataset[int(i)][0] for i in indices[start : start + batch]]))
        real = images.to(device).float() / 127.5 - 1
        with torch.no_grad():
            recon = method.reconstruct(real).clamp(-1, 1)
        squared += float((recon - real).double().square().sum())
        count += real.numel()
    mse = squared / count
    values = {"mse": mse, "psnr": 10 * math.log10(4 / mse) if mse > 0 else math.inf}  # [0, 1] range: mse / 4
    protocol = {"name": RECONSTRUCTION, "split": split, "images": int(len(indices)), "noise_mode": "const"}
    run = {"method": ckpt["method"], "experiment": ckpt["experiment"].get("name"), "kimg": ckpt["nimg"] / 1000}
    inputs = {
        "checkpoint": str(checkpoint_path),
        "checkpoint_sha256": sha256_file(checkpoint_path),
        "data": str(data_path),
        "data_sha256": sha256_file(data_path),
    }
    records = {}
    for metric in RECONSTRUCTION_METRICS:
        records[metric] = {
            "metric": metric,
            "value": values[metric],
            "protocol": protocol,
            "run": run,
            "inputs": inputs,
        }
        write_json(Path(out_dir) / f"{metric}.json", records[metric])
    return records

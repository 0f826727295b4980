"""COCO-GAN's evaluations beyond the generic GAN protocols (research cocogan.md §5, and seams, which the
paper does not report).

- :func:`evaluate_seams`: seam scores (:mod:`ganbench.metrics.seams`) of assembled samples, of extrapolated
  samples (the extrapolation stage), of the 360° seam of panoramas, each beside the same score of real images
  on the same micro grid. Protocol-free files ``results/eval/{experiment}/seam-*.json``.
- the official best-FID snapshot policy (the reported FIDs are most likely best-of-training) is the shared
  :mod:`ganbench.metrics.best_snapshot`, as for every GAN method.
- FID of extrapolated images: ``evaluate_checkpoint`` with ``sample_kwargs={"extrap": e, "size": R}`` (the
  wider image resized to the training resolution, so that it is compared with the real data at R).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ganbench.data.dataset import ImageDataset
from ganbench.fileio import write_json
from ganbench.metrics.gan_metrics import load_method
from ganbench.metrics.plan import cocogan_seam_results
from ganbench.metrics.seams import seam_score, wrap_seam_score
from ganbench.metrics.stats import versions
from ganbench.train.checkpoint import load_checkpoint

SEAM_SEEDS = range(256)


def _real_images(data_path, size, count: int) -> torch.Tensor:
    data = ImageDataset(data_path, resolution=size)
    n = min(count, len(data))
    return torch.stack([torch.from_numpy(data[i][0]) for i in range(n)]).float() / 127.5 - 1


def seam_values(method, real: torch.Tensor, count: int = len(SEAM_SEEDS)) -> dict[str, float]:
    """The seam scores of ``method`` (a COCO-GAN) and of ``real`` images on its micro grid, by result name."""
    seeds = list(range(count))
    p = method.lattice.micro
    images = method.sample(seeds)
    out = {"seam-assembled": seam_score(images, p), "seam-real": seam_score(real, p)}
    steps = getattr(method.options, "extrap_steps", 0)
    if method.name == "cocogan_extrap":
        out["seam-extrap"] = seam_score(method.sample(seeds, extrap=steps), p)
    if method.lattice.cylindrical:
        generated, observed = wrap_seam_score(images, p), wrap_seam_score(real, p)
        out.update(
            {
                "seam-wrap": generated["wrap"],
                "seam-wrap-interior": generated["interior_column"],
                "seam-wrap-real": observed["wrap"],
            }
        )
    return out


def evaluate_seams(
    checkpoint_path: str | os.PathLike, data_path: str | os.PathLike, out_dir: str | os.PathLike, count: int = 256
) -> dict[str, float]:
    """Write the experiment's seam files (``seam-*.json``) in ``out_dir``; every value is computed first."""
    ckpt = load_checkpoint(checkpoint_path, map_location="cpu")
    method = load_method(ckpt, "cpu", checkpoint_path)
    size = (method.lattice.full[0], method.lattice.full[1])
    values = seam_values(method, _real_images(data_path, size, count), count)
    expected = cocogan_seam_results(ckpt["experiment"])
    protocol = {
        "name": "seams",
        "definition": "mean |gradient| across micro-patch borders / mean |gradient| inside patches",
        "micro": method.lattice.micro,
        "num_gen": count,
        "num_real": min(count, len(ImageDataset(data_path, resolution=size))),
        "wrap": "|column W-1 - column 0| over the in-patch mean (panoramas)",
    }
    run = {"method": ckpt["method"], "experiment": ckpt["experiment"].get("name"), "kimg": ckpt["nimg"] / 1000}
    for name in expected:
        record = {"metric": name, "value": values[name], "protocol": protocol, "run": run, "versions": versions()}
        write_json(Path(out_dir) / f"{name}.json", record)
    return values

"""Reference statistics of a dataset: ``results/stats/{dataset}-{res}-{extractor}.h5``.

==============  ================  ===========================================================
``mu``          (D,) float64      mean of the features
``sigma``       (D, D) float64    covariance (``np.cov``, ddof 1), as torch-fidelity computes it
``count``       () int64          number of images used
``features``    (N, D) float32    the features themselves (only with ``save_features``; KID
                                  and precision/recall need them, FID only the moments)
==============  ================  ===========================================================

Attributes: ``dataset_sha256`` (of the dataset file; of its image names and contents for a
folder), ``dataset``, ``dataset_count``, ``resolution`` (height of the images; ``width`` too),
``reference`` (``full`` or ``first-N``: what was used), ``max_items`` (-1 for all), ``statskey``
(:func:`ganbench.metrics.protocols.statskey`: what was asked for, the key protocols are matched by),
``extractor``, ``feature_dim``, ``weights_sha256``, ``versions`` (JSON: torch, torch-fidelity, ganbench).

Images are taken in dataset order: ``max_items=N`` uses the first N (CoordGAN's "first 10k"
protocol), ``None`` uses all of them (StyleGAN's ``fid50k_full``). Nothing here is cached by
name: the pipeline compares ``dataset_sha256`` and ``weights_sha256`` (see :func:`stale_reason`).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import h5py
import numpy as np
import torch
import torch_fidelity
from torch_fidelity.metric_fid import fid_features_to_statistics

import ganbench
from ganbench.data.sources import ImageSource, is_image_name, open_source
from ganbench.errors import DataError, GanbenchError
from ganbench.fileio import atomic_path, sha256_file
from ganbench.metrics.extractors import FeatureExtractor
from ganbench.metrics.protocols import Protocol, statskey
from ganbench.progress import progress


def versions() -> dict[str, str]:
    return {
        "torch": str(torch.__version__),
        "torch-fidelity": torch_fidelity.__version__,
        "ganbench": ganbench.__version__,
    }


def dataset_sha256(path: str | os.PathLike) -> str:
    """sha256 of a dataset file; for a folder, of its sorted image names and their sha256."""
    path = Path(path)
    if path.is_file():
        return sha256_file(path)
    if not path.is_dir():
        raise DataError(f"{path}: file or folder not found")
    digest = hashlib.sha256()
    for p in sorted(p for p in path.rglob("*") if p.is_file() and (is_image_name(p.name) or p.name == "dataset.json")):
        digest.update(f"{p.relative_to(path).as_posix()}\0{sha256_file(p)}\n".encode())
    return digest.hexdigest()


def iter_batches(source: ImageSource, count: int, batch: int) -> Iterator[torch.Tensor]:
    """uint8 (n, 3, H, W) batches of the first ``count`` images; a batch of mixed sizes is split."""
    count = min(count, len(source))
    for start in range(0, count, batch):
        images = [source.read_image(i) for i in range(start, min(start + batch, count))]
        if len({im.shape for im in images}) == 1:
            yield torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
        else:
            yield from (torch.from_numpy(im).permute(2, 0, 1)[None].contiguous() for im in images)


def extract_features(
    batches, extractor: FeatureExtractor, total: int | None = None, desc: str = "features"
) -> torch.Tensor:
    """Concatenated float32 features (N, D) of uint8 image batches."""
    out = []
    with progress(total=total, desc=desc, unit="img") as bar:
        for images in batches:
            out.append(extractor(images))
            bar.update(len(images))
    if not out:
        return torch.zeros(0, extractor.feature_dim)
    return torch.cat(out)


def moments(features: torch.Tensor) -> dict[str, np.ndarray]:
    """``mu`` (D,) and ``sigma`` (D, D), float64, through torch-fidelity's ``fid_features_to_statistics``."""
    if features.dim() != 2 or len(features) < 2:
        raise GanbenchError(f"moments: need at least 2 feature vectors, got shape {tuple(features.shape)}")
    return fid_features_to_statistics(features.detach().cpu().double())


def compute_stats(
    dataset_path: str | os.PathLike,
    extractor: FeatureExtractor,
    out_h5: str | os.PathLike,
    max_items: int | None = None,
    batch: int = 64,
    save_features: bool = False,
) -> dict:
    """Write the reference statistics of the first ``max_items`` images (all if None) to ``out_h5``.

    Returns the file's attributes plus ``count``. The file appears only complete (atomic write).
    """
    if max_items is not None and max_items < 2:
        raise GanbenchError(f"max_items {max_items} is too small: FID statistics need at least 2 images")
    digest = dataset_sha256(dataset_path)  # before reading: a dataset replaced meanwhile is caught next run
    source = open_source(dataset_path)
    count = len(source) if max_items is None else min(max_items, len(source))
    if count < 2:
        raise DataError(f"{dataset_path}: {len(source)} images; FID statistics need at least 2")
    height, width = source.read_image(0).shape[:2]
    batches = iter_batches(source, count, batch)
    features = extract_features(batches, extractor, count, f"stats {Path(dataset_path).name}")
    stats = moments(features)
    attrs = {
        "dataset_sha256": digest,
        "dataset": str(dataset_path),
        "dataset_count": len(source),
        "reference": "full" if count == len(source) else f"first-{count}",
        "max_items": -1 if max_items is None else int(max_items),
        "statskey": statskey(extractor.name, max_items),
        "resolution": int(height),
        "width": int(width),
        "extractor": extractor.name,
        "feature_dim": extractor.feature_dim,
        "weights_sha256": extractor.weights_sha256,
        "versions": json.dumps(versions(), sort_keys=True),
    }
    with atomic_path(out_h5) as tmp:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("mu", data=stats["mu"].astype(np.float64))
            f.create_dataset("sigma", data=stats["sigma"].astype(np.float64))
            f.create_dataset("count", data=np.int64(count))
            if save_features:
                f.create_dataset("features", data=features.numpy().astype(np.float32))
            f.attrs.update(attrs)
    return {**attrs, "count": count, "versions": versions()}


@dataclass
class ReferenceStats:
    """Reference statistics loaded from an ``.h5`` file (see the module docstring)."""

    path: Path
    mu: np.ndarray
    sigma: np.ndarray
    count: int
    features: np.ndarray | None
    attrs: dict = field(default_factory=dict)

    @property
    def reference(self) -> str:
        return self.attrs["reference"]

    def check_extractor(self, extractor: FeatureExtractor) -> None:
        """Refuse to compare features of ``extractor`` with statistics made by another network."""
        if (self.attrs["extractor"], self.attrs["weights_sha256"]) != (extractor.name, extractor.weights_sha256):
            raise GanbenchError(
                f"{self.path}: statistics were computed with {self.attrs['extractor']} "
                f"(weights {self.attrs['weights_sha256'][:12]}), not {extractor.name} "
                f"(weights {extractor.weights_sha256[:12]}); recompute them"
            )

    def check_protocol(self, protocol: Protocol, resolution: int, what: str = "the generator") -> None:
        """Refuse statistics that another protocol (extractor, reals) or another image size made: ``resolution``
        is the size of the images compared with them (``what`` renders them)."""
        made = self.attrs.get("statskey"), self.attrs.get("resolution")
        if None in made:
            raise GanbenchError(
                f"{self.path}: statistics do not record their protocol and resolution "
                f"(made by an older ganbench); recompute them"
            )
        if made[0] != protocol.statskey:
            raise GanbenchError(
                f"{self.path}: statistics are for {made[0]!r}, but protocol {protocol.name} needs "
                f"{protocol.statskey!r} (extractor {protocol.extractor}, reals {protocol.reference})"
            )
        if int(made[1]) != int(resolution):
            raise GanbenchError(
                f"{self.path}: statistics of {made[1]} px images, but {what} renders {resolution} px; "
                f"use the statistics of the data at {resolution} px"
            )


def load_stats(path: str | os.PathLike, with_features: bool = True) -> ReferenceStats:
    """Read a statistics file; ``with_features=False`` skips the (large) feature matrix."""
    path = Path(path)
    if not path.is_file():
        raise GanbenchError(f"{path}: statistics file not found; the stats rule (compute_stats) makes it")
    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in ("mu", "sigma", "count") if k not in f]
            if missing:
                raise GanbenchError(f"{path}: statistics file has no {missing[0]!r} dataset")
            attrs = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in f.attrs.items()}
            attrs["versions"] = json.loads(attrs.get("versions", "{}"))
            features = f["features"][:] if with_features and "features" in f else None
            return ReferenceStats(path, f["mu"][:], f["sigma"][:], int(f["count"][()]), features, attrs)
    except OSError as exc:
        raise GanbenchError(f"{path}: not a readable HDF5 file ({exc})") from None


def stale_reason(
    stats_path: str | os.PathLike, dataset_path: str | os.PathLike, extractor: FeatureExtractor | None = None
) -> str | None:
    """Why ``stats_path`` must be recomputed for this dataset (and extractor), or None if it is current."""
    path = Path(stats_path)
    if not path.is_file():
        return f"{path}: missing"
    stats = load_stats(path, with_features=False)
    if stats.attrs.get("dataset_sha256") != dataset_sha256(dataset_path):
        return f"{path}: {dataset_path} changed since the statistics were computed"
    if extractor is not None and (stats.attrs.get("extractor"), stats.attrs.get("weights_sha256")) != (
        extractor.name,
        extractor.weights_sha256,
    ):
        return f"{path}: computed with other extractor weights"
    return None

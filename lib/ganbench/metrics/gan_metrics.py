"""FID, KID and precision/recall through torch-fidelity, and the evaluation of a checkpoint.

The numbers come from torch-fidelity's own functions on features or moments
(``fid_statistics_to_metric``, ``kid_features_to_metric``, ``prc_features_to_metric``), so a value
here equals ``torch_fidelity.calculate_metrics`` on the same images with the same extractor (see
``extractor.fidelity_kwargs``). What this module adds: reference statistics read from our own
content-addressed files instead of torch-fidelity's name-keyed cache, images from a ganbench
checkpoint, and one JSON per metric with its protocol and the digests of its inputs.

Conventions as in torch-fidelity: KID is the unbiased MMD^2 with the cubic polynomial kernel,
mean and standard deviation over ``kid_subsets`` random subsets of ``kid_subset_size`` (clamped
to the smaller set, as StyleGAN's ``kid50k_full`` does), drawn with ``rng_seed``; precision is
the fraction of generated samples inside the k-NN ball of some real sample, recall the converse.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_statistics_to_metric
from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric
from torch_fidelity.metric_prc import KEY_METRIC_PRECISION, KEY_METRIC_RECALL, prc_features_to_metric

from ganbench.errors import GanbenchError
from ganbench.fileio import sha256_file, write_json
from ganbench.methods import Method
from ganbench.metrics.extractors import FeatureExtractor, default_device
from ganbench.metrics.protocols import Protocol
from ganbench.metrics.stats import ReferenceStats, load_stats, moments, versions
from ganbench.progress import progress
from ganbench.train.checkpoint import load_checkpoint

METRICS = ("fid", "kid", "pr")
KID_RNG_SEED = 2020  # torch-fidelity's default rng_seed
PR_FULL_MATRIX_MAX = 10000  # above this many samples, precision/recall computes distances in blocks


# --- the metrics on features ---------------------------------------------------------------------


def _as_tensor(features) -> torch.Tensor:
    t = torch.as_tensor(features)
    if t.dim() != 2:
        raise GanbenchError(f"features must be (N, D), got shape {tuple(t.shape)}")
    return t.detach().cpu()


def fid_from_moments(mu1, sigma1, mu2, sigma2) -> float:
    """Fréchet distance between two Gaussians (torch-fidelity's ``fid_statistics_to_metric``)."""
    s1 = {"mu": np.asarray(mu1, np.float64), "sigma": np.asarray(sigma1, np.float64)}
    s2 = {"mu": np.asarray(mu2, np.float64), "sigma": np.asarray(sigma2, np.float64)}
    if s1["mu"].shape != s2["mu"].shape:
        raise GanbenchError(f"FID: feature dimensions differ ({s1['mu'].shape[0]} vs {s2['mu'].shape[0]})")
    return float(fid_statistics_to_metric(s1, s2, verbose=False)[KEY_METRIC_FID])


def fid_from_features(features_1, features_2) -> float:
    m1, m2 = moments(_as_tensor(features_1)), moments(_as_tensor(features_2))
    return fid_from_moments(m1["mu"], m1["sigma"], m2["mu"], m2["sigma"])


def kid_from_features(
    generated, real, subsets: int = 100, subset_size: int = 1000, rng_seed: int = KID_RNG_SEED
) -> dict:
    """KID mean and std over subsets; returns ``{value, std, subsets, subset_size}``."""
    f1, f2 = _as_tensor(generated).float(), _as_tensor(real).float()
    size = min(subset_size, len(f1), len(f2))
    if size < 2:
        raise GanbenchError(f"KID needs at least 2 samples per set, got {len(f1)} generated and {len(f2)} real")
    out = kid_features_to_metric(f1, f2, kid_subsets=subsets, kid_subset_size=size, rng_seed=rng_seed, verbose=False)
    return {
        "value": out[KEY_METRIC_KID_MEAN],
        "std": out[KEY_METRIC_KID_STD],
        "subsets": subsets,
        "subset_size": size,
        "rng_seed": rng_seed,
    }


def pr_from_features(generated, real, k: int = 3) -> dict:
    """Improved precision and recall (Kynkäänniemi et al. 2019) with k-NN balls."""
    f1, f2 = _as_tensor(generated).float(), _as_tensor(real).float()
    if min(len(f1), len(f2)) <= k:
        raise GanbenchError(f"precision/recall with k={k} needs more than {k} samples per set")
    blocks = max(len(f1), len(f2)) > PR_FULL_MATRIX_MAX
    out = prc_features_to_metric(
        f1, f2, prc_neighborhood=k, prc_batch_size=PR_FULL_MATRIX_MAX, save_cpu_ram=blocks, verbose=False
    )
    return {"precision": out[KEY_METRIC_PRECISION], "recall": out[KEY_METRIC_RECALL], "k": k}


def metrics_from_features(
    generated: torch.Tensor,
    stats: ReferenceStats,
    metrics: Sequence[str] = METRICS,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    pr_k: int = 3,
) -> dict[str, dict]:
    """Each requested metric of generated features against reference statistics, by result name:
    ``fid``, ``kid`` and, for ``pr``, ``precision`` and ``recall``; each ``{value, [std,] settings}``."""
    _check_metrics(metrics, stats)
    out = {}
    for metric in metrics:
        if metric == "fid":
            g = moments(_as_tensor(generated))
            out["fid"] = {"value": fid_from_moments(g["mu"], g["sigma"], stats.mu, stats.sigma)}
        elif metric == "kid":
            out["kid"] = kid_from_features(generated, stats.features, kid_subsets, kid_subset_size)
        elif metric == "pr":  # two results, one number each
            pr = pr_from_features(generated, stats.features, pr_k)
            out["precision"] = {"value": pr["precision"], "k": pr_k}
            out["recall"] = {"value": pr["recall"], "k": pr_k}
    return out


def _check_metrics(metrics: Sequence[str], stats: ReferenceStats) -> None:
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise GanbenchError(f"unknown metric {unknown[0]!r} (available: {', '.join(METRICS)})")
    needs = [m for m in metrics if m != "fid"]
    if needs and stats.features is None:
        raise GanbenchError(
            f"{stats.path}: has no features, which {needs[0]} needs; recompute the statistics with save_features=True"
        )


# --- generated images ----------------------------------------------------------------------------


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] float (N, C, H, W) -> uint8 (N, 3, H, W), rounded as the sample grids are saved."""
    x = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def generated_features(
    method: Method, extractor: FeatureExtractor, seeds: Sequence[int], batch: int = 32, **sample_kwargs
) -> torch.Tensor:
    """Features (len(seeds), D) of ``method.sample`` for each seed, in batches."""
    out = []
    with progress(total=len(seeds), desc="generate", unit="img") as bar:
        for i in range(0, len(seeds), batch):
            chunk = list(seeds[i : i + batch])
            with torch.no_grad():
                images = method.sample(chunk, **sample_kwargs)
            out.append(extractor(to_uint8(images)))
            bar.update(len(chunk))
    return torch.cat(out)


def load_method(checkpoint: dict, device: str | torch.device = "cpu", path: str | os.PathLike = "checkpoint") -> Method:
    """The trained method of a loaded checkpoint (frozen parts read back from their inputs), in eval mode."""
    from ganbench.train.inputs import restore_method

    return restore_method(checkpoint, path, device)


def _seed_list(seeds, num_gen: int) -> tuple[list[int], dict | list]:
    if isinstance(seeds, (int, np.integer)):
        return list(range(int(seeds), int(seeds) + num_gen)), {"start": int(seeds), "count": num_gen}
    seeds = [int(s) for s in seeds]
    if len(seeds) != num_gen:
        raise GanbenchError(f"{len(seeds)} seeds given for num_gen {num_gen}")
    return seeds, seeds


def _rendered_size(ckpt: dict, sample_kwargs: Mapping[str, Any]) -> int:
    """The side of the images ``method.sample(**sample_kwargs)`` returns, known before anything is built: the
    training resolution, or int(R * scale) on an any-scale method's paper grid (the official ``--scale``)."""
    scale = sample_kwargs.get("scale", 1)
    grid = sample_kwargs.get("grid", "paper")
    if scale != 1 and grid != "paper":
        raise GanbenchError(f"evaluation renders the paper grid at scale {scale}, not {grid!r}")
    return int(ckpt["resolution"] * scale)


def _write_records(out_dir: Path, results: dict[str, dict], protocol: dict, extra: dict, suffix: str = "") -> dict:
    records = {}
    for metric, result in results.items():
        value = {k: v for k, v in result.items() if k in ("value", "std")}
        settings = {k: v for k, v in result.items() if k not in ("value", "std")}
        records[metric] = {
            "metric": metric,
            **value,
            "protocol": {**protocol, **settings},
            **extra,
            "versions": versions(),
        }
    for metric, record in records.items():  # every number computed before the first file is written
        write_json(out_dir / f"{metric}{suffix}.json", record)
    return records


def evaluate_checkpoint(
    checkpoint_path: str | os.PathLike,
    stats_path: str | os.PathLike,
    extractor: FeatureExtractor,
    protocol: Protocol,
    out_json_dir: str | os.PathLike,
    metrics: Sequence[str] | None = None,
    batch: int = 32,
    device: str | torch.device | None = None,
    sample_kwargs: dict | None = None,
    result_suffix: str = "",
) -> dict[str, dict]:
    """Generate ``protocol.num_gen`` images from a checkpoint and write ``{result}.json`` in ``out_json_dir``.

    Args:
        protocol: a GAN :class:`~ganbench.metrics.protocols.Protocol` (extractor, num_gen, seeds from
            ``protocol.seed``, truncation psi, reals, metric settings). The statistics must have been made under
            the same extractor and reals (its ``statskey``) from images of the size the checkpoint renders, and
            ``extractor`` must be the protocol's: each mismatch is a GanbenchError before any image is generated.
        metrics: a subset of the protocol's metrics (default: all); KID and precision/recall need statistics
            saved with their features. ``pr`` writes two files, ``precision.json`` and ``recall.json``.
        sample_kwargs: further keywords of ``method.sample`` (``scale`` for CREPS, ...); recorded.
        device: where the generator runs (default: the GPU when there is one).
        result_suffix: appended to each file's stem (``fid-scale2.json`` for FID at another scale).

    Each JSON holds ``metric``, a number ``value`` (KID adds ``std``), ``protocol`` (its ``name``, num_gen,
    num_real, extractor, truncation, seeds, reference first-N|full, resolution, and the metric's own settings),
    ``inputs`` (checkpoint_sha256, the statistics' dataset_sha256, weights_sha256) and ``versions``.
    Returns ``{result name: record}``.
    """
    if protocol.kind != "gan":
        raise GanbenchError(f"protocol {protocol.name}: a {protocol.kind} protocol does not evaluate generated images")
    metrics = tuple(protocol.metrics if metrics is None else metrics)
    extra = [m for m in metrics if m not in protocol.metrics]
    if extra:
        raise GanbenchError(
            f"protocol {protocol.name}: has no metric {extra[0]!r} (its metrics: {', '.join(protocol.metrics)})"
        )
    if protocol.truncation < 0:
        raise GanbenchError(f"protocol {protocol.name}: truncation {protocol.truncation} is negative")
    if extractor.name != protocol.extractor:
        raise GanbenchError(f"protocol {protocol.name} measures with {protocol.extractor}, not {extractor.name}")
    stats = load_stats(stats_path, with_features=any(m != "fid" for m in metrics))
    stats.check_extractor(extractor)
    _check_metrics(metrics, stats)
    kwargs = dict(sample_kwargs or {})
    ckpt = load_checkpoint(checkpoint_path, map_location="cpu", mmap=True)
    size = _rendered_size(ckpt, kwargs)
    stats.check_protocol(
        protocol, size, f"{checkpoint_path}" + (f" at scale {kwargs['scale']}" if "scale" in kwargs else "")
    )
    seed_list, seed_record = _seed_list(protocol.seed, protocol.num_gen)
    device = default_device() if device is None else device
    method = load_method(ckpt, device, checkpoint_path)
    kwargs["truncation_psi"] = protocol.truncation
    features = generated_features(method, extractor, seed_list, batch, **kwargs)
    results = metrics_from_features(
        features, stats, metrics, protocol.kid_subsets, protocol.kid_subset_size, protocol.pr_k
    )

    record = {
        **protocol.record(),
        "num_real": stats.count,
        "reference": stats.reference,
        "feature_dim": extractor.feature_dim,
        "resolution": size,
        "seeds": seed_record,
        "sample_kwargs": {k: v for k, v in kwargs.items() if k != "truncation_psi"},
    }
    run = {"method": ckpt["method"], "experiment": ckpt["experiment"].get("name"), "kimg": ckpt["nimg"] / 1000}
    inputs = {
        "checkpoint": str(checkpoint_path),
        "checkpoint_sha256": sha256_file(checkpoint_path),
        "stats": str(stats_path),
        "dataset_sha256": stats.attrs["dataset_sha256"],
        "weights_sha256": extractor.weights_sha256,
    }
    return _write_records(Path(out_json_dir), results, record, {"run": run, "inputs": inputs}, result_suffix)


def real_halves(count: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the two disjoint halves of a real set of ``count`` images (in statistics order, i.e. sorted
    by name): even and odd positions, so that both halves span the whole set."""
    if count < 4:
        raise GanbenchError(f"a real-data floor needs at least 4 images, got {count}")
    idx = np.arange(count)
    return idx[0::2], idx[1::2]


def evaluate_floor(
    stats_path: str | os.PathLike, protocol: Protocol, out_json_dir: str | os.PathLike
) -> dict[str, dict]:
    """The protocol's metrics between two disjoint halves of the real set (:func:`real_halves`), from the features
    saved in ``stats_path``: the value a generator indistinguishable from the data would get at half the sample
    size, under the same extractor and settings. Writes ``{result}.json`` in ``out_json_dir``."""
    if protocol.kind != "gan":
        raise GanbenchError(f"protocol {protocol.name}: a {protocol.kind} protocol has no real-data floor")
    stats = load_stats(stats_path, with_features=True)
    if stats.features is None:
        raise GanbenchError(
            f"{stats_path}: has no features, which the real-data floor needs; recompute the "
            f"statistics with save_features=True"
        )
    stats.check_protocol(protocol, int(stats.attrs.get("resolution") or 0), "the real data")
    if stats.attrs.get("extractor") != protocol.extractor:
        raise GanbenchError(
            f"{stats_path}: features of {stats.attrs.get('extractor')}, but protocol {protocol.name} "
            f"measures with {protocol.extractor}"
        )
    a, b = real_halves(len(stats.features))
    features = torch.from_numpy(np.asarray(stats.features))
    m = moments(features[b])
    half = ReferenceStats(stats.path, m["mu"], m["sigma"], len(b), features[b].numpy(), stats.attrs)
    results = metrics_from_features(
        features[a], half, protocol.metrics, protocol.kid_subsets, protocol.kid_subset_size, protocol.pr_k
    )
    record = {
        **{k: v for k, v in protocol.record().items() if k != "truncation"},
        "num_gen": None,
        "num_a": len(a),
        "num_b": len(b),
        "reference": stats.reference,
        "halves": "even vs odd positions in sorted-name order",
        "resolution": stats.attrs["resolution"],
        "feature_dim": int(features.shape[1]),
    }
    inputs = {
        "stats": str(stats_path),
        "dataset": stats.attrs.get("dataset"),
        "dataset_sha256": stats.attrs["dataset_sha256"],
        "weights_sha256": stats.attrs["weights_sha256"],
    }
    return _write_records(Path(out_json_dir), results, record, {"run": {"real_data_floor": True}, "inputs": inputs})

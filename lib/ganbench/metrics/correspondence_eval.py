"""Correspondence of a CoordGAN encoder on a labelled dataset, beside the baselines measured in the same run.

On the test split of ``annotations.h5`` (sorted by index): the first 5 images are the references, the next
``num_queries`` the queries (the ``first5`` rule of the DatasetGAN benchmarks). Three descriptors per image:

- ``coordgan_encoder``: the encoder's coordinate map C = CoordWarpNet(E_s(x)), soft propagation at T = 0.01;
- ``identity``: the canonical grid (pixel k goes to pixel k), the same soft propagation;
- ``probe_nn``: the probe's trunk maps (R/2 and R/4, upsampled and concatenated), cosine nearest neighbour.

Scores: label-propagation mIoU (§4.2, over all part classes but background), keypoint PCK@0.05 / 0.1 of the
image side and the mean canonical-coordinate error over foreground query pixels (the synthetic data's exact
ground truth). Written as one JSON record per metric with the protocol and inputs.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ganbench.data.annotations import read_annotations
from ganbench.data.dataset import ImageDataset
from ganbench.errors import GanbenchError
from ganbench.fileio import sha256_file, write_json
from ganbench.metrics import correspondence as corr
from ganbench.nets.coordgan import canonical_grid

BASELINES = ("identity", "probe_nn")
CORRESPONDENCE_METRICS = ("label_prop_miou", "pck@0.05", "pck@0.1", "coord_error")
PROTOCOL = "synthetic-label-propagation"


def _probe_descriptors(probe, resolution: int, images: torch.Tensor, size: int) -> torch.Tensor:
    """images in [-1, 1] -> the probe's R/2 and R/4 maps at S x S, each unit-normalised along channels."""
    if images.shape[-1] != resolution:
        images = F.interpolate(images, size=(resolution, resolution), mode="bilinear", align_corners=False)
    f1, f2, _ = probe.trunk(images)
    up = [F.interpolate(f, size=(size, size), mode="bilinear", align_corners=False) for f in (f1, f2)]
    return torch.cat([F.normalize(u, dim=1) for u in up], 1)


def _ground_truth_at(ann, i: int, size: int):
    """Coordinates [S, S, 2] and keypoints in pixels of an S x S image (nearest resampling of the coordinates)."""
    coords = torch.from_numpy(ann.coords[i])
    if coords.shape[0] != size:
        coords = F.interpolate(coords.permute(2, 0, 1)[None], size=(size, size), mode="nearest")[0].permute(1, 2, 0)
    kp = torch.from_numpy(ann.keypoints[i]) * (size / ann.resolution)
    return coords, kp, torch.from_numpy(ann.visible[i])


def evaluate_correspondence(
    checkpoint_path: str | os.PathLike,
    data_path: str | os.PathLike,
    annotations_path: str | os.PathLike,
    probe_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    num_queries: int = 50,
    device: str | torch.device = "cpu",
) -> dict:
    """Write ``{metric}.json`` (the encoder) and ``{baseline}-{metric}.json`` to ``out_dir``; returns
    {descriptor: {metric: value}}."""
    from ganbench.metrics.probe import load_probe
    from ganbench.train.checkpoint import load_checkpoint
    from ganbench.train.inputs import restore_method

    ckpt = load_checkpoint(checkpoint_path)
    method = restore_method(ckpt, checkpoint_path, device)
    if not hasattr(method, "coordinates"):
        raise GanbenchError(f"{checkpoint_path}: a {ckpt['method']} checkpoint has no coordinate map (an encoder has)")
    ann = read_annotations(annotations_path)
    test = np.flatnonzero(ann.is_test)
    chosen = test[: corr.NUM_REFERENCES + num_queries]
    if len(chosen) < corr.NUM_REFERENCES + 1:
        raise GanbenchError(f"{annotations_path}: the test split has {len(test)} images, fewer than 5 references + 1")
    dataset = ImageDataset(data_path, resolution=method.resolution)
    if len(dataset) != len(ann):
        raise GanbenchError(f"{annotations_path}: {len(ann)} rows, but {data_path} has {len(dataset)} images")
    images = torch.from_numpy(np.stack([dataset[int(i)][0] for i in chosen])).float().to(device) / 127.5 - 1
    size = method.G.coord_resolution
    probe, probe_meta = load_probe(probe_path)
    with torch.no_grad():
        descriptors = {
            "coordgan_encoder": method.coordinates(images).cpu(),
            "identity": canonical_grid(len(images), size),
            "probe_nn": _probe_descriptors(probe.to(device), probe_meta["resolution"], images, size).cpu(),
        }
    labels = [torch.from_numpy(ann.label[i].astype(np.int64)) for i in chosen]
    truth = [_ground_truth_at(ann, int(i), size) for i in chosen]
    k = len(ann.classes)
    refs, queries = list(range(corr.NUM_REFERENCES)), list(range(corr.NUM_REFERENCES, len(chosen)))
    results = {}
    for name, desc in descriptors.items():
        mode = "hard" if name == "probe_nn" else "soft"
        desc = list(desc)
        miou = corr.label_propagation_miou(desc, labels, refs, queries, k, list(range(1, k)), mode)
        kp_err, c_err = [], []
        for r in refs:
            for q in queries:
                (coords_q, kp_q, vis_q), (coords_r, kp_r, vis_r) = truth[q], truth[r]
                a, b = corr.keypoint_and_coordinate_errors(
                    desc[q], desc[r], coords_q, coords_r, kp_q, kp_r, vis_q, vis_r, mode
                )
                kp_err += a
                c_err += b
        results[name] = {"label_prop_miou": miou["miou"], **corr.pck_and_coordinate_error(kp_err, c_err)}
    protocol = {
        "name": PROTOCOL,
        "split": "test",
        "references": corr.NUM_REFERENCES,
        "queries": len(queries),
        "temperature": corr.TEMPERATURE,
        "resolution": size,
        "classes": k - 1,
    }
    inputs = {
        "checkpoint": str(checkpoint_path),
        "checkpoint_sha256": sha256_file(checkpoint_path),
        "probe": str(probe_path),
        "probe_sha256": sha256_file(probe_path),
    }
    run = {"method": ckpt["method"], "experiment": ckpt["experiment"].get("name"), "kimg": ckpt["nimg"] / 1000}
    for name, scores in results.items():  # the encoder's {metric}.json; the baselines' {baseline}-{metric}.json
        prefix = "" if name == "coordgan_encoder" else f"{name}-"
        for metric in CORRESPONDENCE_METRICS:
            record = {
                "metric": metric,
                "value": scores[metric],
                "descriptor": name,
                "protocol": protocol,
                "run": run,
                "inputs": inputs,
            }
            write_json(Path(out_dir) / f"{prefix}{metric.replace('@', '_at_')}.json", record)
    return results


def evaluate_label_propagation(
    checkpoint_path: str | os.PathLike,
    data_path: str | os.PathLike,
    annotations_path: str | os.PathLike,
    benchmark: str,
    out_dir: str | os.PathLike,
    batch: int = 16,
    device: str | torch.device = "cpu",
) -> dict:
    """An encoder's label-propagation mIoU on a labelled real benchmark (§4.2, eval_corr.py), written as
    ``{out_dir}/label_prop_miou.json``.

    The benchmark's list is its train split in eval_corr.py's order (:func:`corr.coordgan_train_order` of the
    recorded source names) followed by its test split; references and queries follow the benchmark's rule
    (``first5``: the first 5 references, every other image a query; celebA-7: sorted indices 1, 3, 5, 6, 8 and
    100-199). The images are encoded at the encoder's resolution, the labels are the import's masks."""
    from ganbench.train.checkpoint import load_checkpoint
    from ganbench.train.inputs import restore_method

    if benchmark not in corr.BENCHMARKS:
        raise GanbenchError(f"label-propagation benchmark {benchmark!r} is not one of {', '.join(corr.BENCHMARKS)}")
    spec = corr.BENCHMARKS[benchmark]
    ann = read_annotations(annotations_path)
    if len(ann.classes) != spec.num_classes:
        raise GanbenchError(
            f"{annotations_path}: {len(ann.classes)} classes, benchmark {benchmark} has {spec.num_classes}"
        )
    if ann.names is None:
        raise GanbenchError(f"{annotations_path}: records no source names, which {benchmark}'s order needs")
    train = np.flatnonzero(~ann.is_test)
    order = [int(train[i]) for i in corr.coordgan_train_order([ann.names[j] for j in train])]
    order += [int(i) for i in np.flatnonzero(ann.is_test)]
    refs, queries = corr.split_references(spec, len(train), len(order) - len(train))
    ckpt = load_checkpoint(checkpoint_path)
    method = restore_method(ckpt, checkpoint_path, device)
    if not hasattr(method, "coordinates"):
        raise GanbenchError(f"{checkpoint_path}: a {ckpt['method']} checkpoint has no coordinate map (an encoder has)")
    dataset = ImageDataset(data_path, resolution=method.resolution)
    if len(dataset) != len(ann):
        raise GanbenchError(f"{annotations_path}: {len(ann)} rows, but {data_path} has {len(dataset)} images")
    used = sorted(set(refs) | set(queries))
    descriptors, labels = {}, {}
    with torch.no_grad():
        for start in range(0, len(used), batch):
            chunk = used[start : start + batch]
            rows = [order[i] for i in chunk]
            images = torch.from_numpy(np.stack([dataset[r][0] for r in rows])).float().to(device) / 127.5 - 1
            for i, c in zip(chunk, method.coordinates(images).cpu()):
                descriptors[i] = c
    for i in used:
        labels[i] = torch.from_numpy(ann.label[order[i]].astype(np.int64))
    # label_propagation_miou indexes lists: give it the used images only, renumbered
    index = {i: k for k, i in enumerate(used)}
    scores = corr.label_propagation_miou(
        [descriptors[i] for i in used],
        [labels[i] for i in used],
        [index[r] for r in refs],
        [index[q] for q in queries],
        spec.num_classes,
        spec.kept_classes(),
    )
    protocol = {
        "name": benchmark,
        "rule": spec.rule,
        "references": corr.NUM_REFERENCES,
        "queries": len(queries),
        "temperature": corr.TEMPERATURE,
        "resolution": int(method.G.coord_resolution),
        "classes": len(spec.kept_classes()),
        "background": "excluded",
    }
    record = {
        "metric": "label_prop_miou",
        "value": scores["miou"],
        "per_reference": scores["per_reference"],
        "reference_names": [ann.names[order[r]] for r in refs[: corr.NUM_REFERENCES]],
        "protocol": protocol,
        "run": {"method": ckpt["method"], "experiment": ckpt["experiment"].get("name"), "kimg": ckpt["nimg"] / 1000},
        "inputs": {
            "checkpoint": str(checkpoint_path),
            "checkpoint_sha256": sha256_file(checkpoint_path),
            "annotations": str(annotations_path),
            "annotations_sha256": sha256_file(annotations_path),
        },
    }
    write_json(Path(out_dir) / "label_prop_miou.json", record)
    return scores

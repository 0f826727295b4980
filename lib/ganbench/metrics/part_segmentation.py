"""A trained segmenter scored on the labelled test split of its dataset, under segmentation protocols.

The confusion matrix is pooled over the whole test split and scored by
:func:`ganbench.metrics.segmentation.segmentation_scores` as the protocol says (background counted in mIoU
or not, absent classes skipped or IoU 0). A cross-validated protocol (``folds`` k > 1: LAGM's and DatasetGAN's
``--cv``, research/lagm.md §5) splits the test images in their order into k folds of ``len // k``; for fold i
the fold is the validation set and every other test image the test set; among the run's last 20 snapshots
(``checkpoint-*.pt`` in the checkpoint's folder, and the checkpoint itself) the one with the best validation
mIoU is picked and its test mIoU recorded; the result is the mean over folds, with their std (``std_ddof``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from tqdm import tqdm

from ganbench.data.annotations import check_pair, read_annotations
from ganbench.data.dataset import ImageDataset
from ganbench.errors import GanbenchError
from ganbench.fileio import sha256_file, write_json
from ganbench.metrics.protocols import Protocol
from ganbench.metrics.segmentation import confusion_matrix, segmentation_scores
from ganbench.train.checkpoint import load_checkpoint
from ganbench.train.inputs import restore_method


def evaluate_segmenter(
    checkpoint_path: str | os.PathLike,
    data_path: str | os.PathLike,
    annotations_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    protocols: Sequence[Protocol],
    batch: int = 64,
    device: str | torch.device = "cpu",
) -> dict:
    """Write ``{out_dir}/{protocol}/{metric}.json`` for every protocol; returns ``{protocol: {metric: record}}``."""
    for p in protocols:
        if p.kind != "segmentation":
            raise GanbenchError(f"protocol {p.name}: a {p.kind} protocol does not score segmenters")
    ckpt = load_checkpoint(checkpoint_path)
    method = restore_method(ckpt, checkpoint_path, device)
    if not hasattr(method, "predict"):
        raise GanbenchError(
            f"{checkpoint_path}: a {ckpt['method']} checkpoint does not segment images (a segmenter does)"
        )
    check_pair(data_path, annotations_path)
    annotations = read_annotations(annotations_path)
    test = np.flatnonzero(annotations.is_test)
    if len(test) == 0:
        raise GanbenchError(f"{annotations_path}: the test split is empty")
    k = method.num_classes
    if len(annotations.classes) != k:
        raise GanbenchError(f"{annotations_path}: {len(annotations.classes)} classes, the segmenter predicts {k}")
    for p in protocols:
        if p.folds > 1 and len(test) < p.folds:
            raise GanbenchError(f"protocol {p.name}: {p.folds} folds of a {len(test)}-image test split")
    dataset = ImageDataset(data_path, resolution=method.resolution)
    per_image = _per_image_confusions(method, dataset, test, annotations.label, k, batch, device)
    confusion = per_image.sum(0)
    background = annotations.classes.index("background") if "background" in annotations.classes else None
    run = {"method": ckpt["method"], "experiment": ckpt["experiment"].get("name"), "kimg": ckpt["nimg"] / 1000}
    inputs = {
        "checkpoint": str(checkpoint_path),
        "checkpoint_sha256": sha256_file(checkpoint_path),
        "annotations": str(annotations_path),
        "annotations_sha256": sha256_file(annotations_path),
    }
    out = {}
    snapshots = None
    for p in protocols:
        exclude = () if p.background or background is None else (background,)
        record_protocol = {**p.record(), "split": "test", "images": int(len(test)), "classes": annotations.classes}
        out[p.name] = {}
        if p.folds > 1:
            if snapshots is None:  # every candidate snapshot's per-image confusions, computed once
                snapshots = {Path(checkpoint_path).name: per_image}
                for path in _candidate_snapshots(checkpoint_path):
                    other = restore_method(load_checkpoint(path), path, device)
                    snapshots[path.name] = _per_image_confusions(
                        other, dataset, test, annotations.label, k, batch, device
                    )
            folds = _cross_validate(snapshots, p, background, exclude)
        for metric in p.result_names:
            if p.folds > 1:
                values = [f["test"][metric] for f in folds]
                record = {
                    "metric": metric,
                    "value": float(np.mean(values)),
                    "std": float(np.std(values, ddof=p.std_ddof)),
                    "folds": folds,
                    "protocol": record_protocol,
                    "run": run,
                    "inputs": inputs,
                }
                write_json(Path(out_dir) / p.name / f"{metric}.json", record)
                out[p.name][metric] = record
                continue
            scores = segmentation_scores(confusion, background=background, exclude=exclude, absent=p.absent_class)
            record = {
                "metric": metric,
                "value": scores[metric],
                "protocol": record_protocol,
                "run": run,
                "inputs": inputs,
                "iou": scores["iou"],
            }
            write_json(Path(out_dir) / p.name / f"{metric}.json", record)
            out[p.name][metric] = record
    return out


def _per_image_confusions(method, dataset, rows, labels, k: int, batch: int, device) -> np.ndarray:
    """(len(rows), k, k) confusion matrices, one per test image, of ``method``'s predictions."""
    out = np.zeros((len(rows), k, k), np.int64)
    for start in tqdm(range(0, len(rows), batch), desc="segmentation", unit="batch", disable=None):
        chunk = rows[start : start + batch]
        images = torch.from_numpy(np.stack([dataset[int(i)][0] for i in chunk])).to(device).float() / 127.5 - 1
        predicted = method.predict(images)
        for j, i in enumerate(chunk):
            out[start + j] = confusion_matrix(predicted[j : j + 1], labels[[i]], k)
    return out


MAX_SNAPSHOTS = 20  # the official --cv picks among the last 20 checkpoints of a run


def _candidate_snapshots(checkpoint_path) -> list[Path]:
    """The run's last snapshots beside ``checkpoint_path`` (sorted by name; the checkpoint itself is the
    first candidate, so at most MAX_SNAPSHOTS - 1 of them)."""
    found = sorted(
        p for p in Path(checkpoint_path).parent.glob("checkpoint-*.pt") if p.name != Path(checkpoint_path).name
    )
    return found[-(MAX_SNAPSHOTS - 1) :]


def _cross_validate(snapshots: dict[str, np.ndarray], protocol: Protocol, background, exclude) -> list[dict]:
    """Per fold: the snapshot with the best validation mIoU on the fold, and its scores on the other images."""
    n = len(next(iter(snapshots.values())))
    size = n // protocol.folds
    folds = []
    for i in range(protocol.folds):
        val = np.zeros(n, bool)
        val[i * size : (i + 1) * size] = True

        def score(per_image, mask):
            return segmentation_scores(
                per_image[mask].sum(0), background=background, exclude=exclude, absent=protocol.absent_class
            )

        best = max(snapshots, key=lambda name: score(snapshots[name], val)["miou"])
        test = score(snapshots[best], ~val)
        folds.append(
            {
                "fold": i,
                "snapshot": best,
                "val_miou": score(snapshots[best], val)["miou"],
                "test": {m: test[m] for m in ("miou", "fg_miou", "pixel_accuracy")},
            }
        )
    return folds

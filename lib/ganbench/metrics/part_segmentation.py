"""A trained segmenter scored on the labelled test split of its dataset, under segmentation protocols.

The confusion matrix is pooled over the whole test split and scored by
:func:`ganbench.metrics.segmentation.segmentation_scores` as the protocol says (background counted in mIoU
or not, absent classes skipped or IoU 0). Cross-validated protocols (``folds`` > 1) pick a snapshot per
fold, which needs the snapshots of the run: they are refused here.
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
        if p.folds != 1:
            raise GanbenchError(
                f"protocol {p.name}: {p.folds}-fold cross-validation picks a snapshot per fold; "
                "a segmenter is scored on one test split"
            )
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
    dataset = ImageDataset(data_path, resolution=method.resolution)
    confusion = np.zeros((k, k), np.int64)
    for start in tqdm(range(0, len(test), batch), desc="segmentation", unit="batch", disable=None):
        rows = test[start : start + batch]
        images = torch.from_numpy(np.stack([dataset[int(i)][0] for i in rows])).to(device).float() / 127.5 - 1
        confusion += confusion_matrix(method.predict(images), annotations.label[rows], k)
    background = annotations.classes.index("background") if "background" in annotations.classes else None
    run = {"method": ckpt["method"], "experiment": ckpt["experiment"].get("name"), "kimg": ckpt["nimg"] / 1000}
    inputs = {
        "checkpoint": str(checkpoint_path),
        "checkpoint_sha256": sha256_file(checkpoint_path),
        "annotations": str(annotations_path),
        "annotations_sha256": sha256_file(annotations_path),
    }
    out = {}
    for p in protocols:
        exclude = () if p.background or background is None else (background,)
        scores = segmentation_scores(confusion, background=background, exclude=exclude, absent=p.absent_class)
        record_protocol = {**p.record(), "split": "test", "images": int(len(test)), "classes": annotations.classes}
        out[p.name] = {}
        for metric in p.result_names:
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

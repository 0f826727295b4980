"""A trained segmenter scored on the labelled test split of its dataset, under segmentation protocols.

The confusion matrix is pooled over the whole test split and scored by
:func:`ganbench.metrics.segmentation.segmentation_scores` as the protocol says (background counted in mIoU
or not, absent classes skipped or IoU 0). A cross-validated protocol (``folds`` k > 1: LAGM's and DatasetGAN's
``--cv``, research/lagm.md §5) splits the test images in their order into k folds of ``len // k``; for fold i
the fold is the validation set and every other test image the test set; among the run's last 20 snapshots
(``checkpoint-*.pt`` in the checkpoint's folder, and the checkpoint itself) the one with the best validation
mIoU is picked and its test mIoU recorded; the result is the mean over folds, with their std (``std_ddof``).

A protocol with ``select_best_val`` (LAGM's FG-mIoU: the official scores the snapshot with the best validation
FG-mIoU) scores every snapshot of the run on the validation split and the best one on the test split. The
validation split is the annotations' ``is_val`` rows where the import has one (Pascal-Part, CelebAMask-HQ);
otherwise (the synthetic sets) the last VAL_FROM_TRAIN rows of the train split that the run did not train on
(all of it for a run trained on other data, e.g. generated pairs; the rows after its ``train_images`` for a
run trained on this set). With no such row the run's last snapshot is scored, and the record says so
(``selection: last-snapshot``).

The record's protocol names what the published numbers are matched on (config/published.yaml): ``num_classes``,
``selection`` (``best-val-fg-miou``, ``last-snapshot``, or ``best-val-miou-last-20`` for the folds),
``cv_folds``, and ``test_set``: the labelled import's name for its official test split (absent for synthetic
sets, so they match no published number).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from tqdm import tqdm

from ganbench.data.annotations import check_pair, read_annotation_attrs, read_annotations
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
    val = _validation_rows(annotations, ckpt, data_path) if any(p.select_best_val for p in protocols) else None
    rows = np.concatenate([test, val]) if val is not None and len(val) else test
    per_image = _per_image_confusions(method, dataset, rows, annotations.label, k, batch, device)
    background = annotations.classes.index("background") if "background" in annotations.classes else None
    run = {"method": ckpt["method"], "experiment": ckpt["experiment"].get("name"), "kimg": ckpt["nimg"] / 1000}
    inputs = {
        "checkpoint": str(checkpoint_path),
        "checkpoint_sha256": sha256_file(checkpoint_path),
        "annotations": str(annotations_path),
        "annotations_sha256": sha256_file(annotations_path),
    }
    test_set = read_annotation_attrs(annotations_path).get("test_set")
    snapshots = {Path(checkpoint_path).name: per_image}  # name -> per-image confusions on `rows`

    def all_snapshots(paths):
        for path in paths:
            if path.name not in snapshots:
                other = restore_method(load_checkpoint(path), path, device)
                snapshots[path.name] = _per_image_confusions(other, dataset, rows, annotations.label, k, batch, device)
        return {name: snapshots[name] for name in [Path(checkpoint_path).name, *(p.name for p in paths)]}

    out = {}
    n_test = len(test)
    for p in protocols:
        exclude = () if p.background or background is None else (background,)
        record_protocol = {
            **p.record(),
            "split": "test",
            "images": int(n_test),
            "classes": annotations.classes,
            "num_classes": k,
            **({"test_set": test_set} if test_set else {}),
        }
        out[p.name] = {}
        selected = None
        if p.folds > 1:
            candidates = {n: c[:n_test] for n, c in all_snapshots(_candidate_snapshots(checkpoint_path)).items()}
            folds = _cross_validate(candidates, p, background, exclude)
            record_protocol.update(cv_folds=p.folds, selection=f"best-val-miou-last-{MAX_SNAPSHOTS}")
        elif p.select_best_val and val is not None and len(val):
            candidates = all_snapshots(_all_snapshots(checkpoint_path))

            def val_score(name):
                scores = segmentation_scores(
                    candidates[name][n_test:].sum(0), background=background, exclude=exclude, absent=p.absent_class
                )
                return scores["fg_miou"]

            best = max(candidates, key=val_score)  # ties: the final checkpoint, then the earliest snapshot
            confusion = candidates[best][:n_test].sum(0)
            selected = {"snapshot": best, "val_fg_miou": val_score(best), "val_images": int(len(val))}
            record_protocol.update(
                selection="best-val-fg-miou",
                validation=_VAL_SOURCE[bool(annotations.is_val is not None and annotations.is_val.any())],
            )
        else:
            confusion = per_image[:n_test].sum(0)
            record_protocol.update(selection="last-snapshot")
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
                **({"selected": selected} if selected else {}),
            }
            write_json(Path(out_dir) / p.name / f"{metric}.json", record)
            out[p.name][metric] = record
    return out


VAL_FROM_TRAIN = 100  # the validation subset of a train split without an official validation split
_VAL_SOURCE = {True: "the import's validation split", False: "unused rows of the train split"}


def _validation_rows(annotations, ckpt: dict, data_path) -> np.ndarray:
    """The rows a best-validation pick scores (see the module docstring); empty where there are none."""
    if annotations.is_val is not None and annotations.is_val.any():
        return np.flatnonzero(annotations.is_val)
    train = np.flatnonzero(~annotations.is_test)
    trained_here = (ckpt.get("input_sha256") or {}).get("data") == sha256_file(data_path)
    if trained_here:
        used = ckpt["experiment"].get("train_images")
        train = train[used:] if used is not None else train[:0]
    return train[-VAL_FROM_TRAIN:]


def _all_snapshots(checkpoint_path) -> list[Path]:
    """Every snapshot of the run beside ``checkpoint_path`` (sorted by name), the official's candidates."""
    return sorted(
        p for p in Path(checkpoint_path).parent.glob("checkpoint-*.pt") if p.name != Path(checkpoint_path).name
    )


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

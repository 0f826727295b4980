"""Segmentation scores, written once for every paper (the probe's test split, LAGM's FG-mIoU and 5-fold mIoU,
CoordGAN's label propagation): a confusion matrix accumulated over a whole set, IoU per class from it, and the
mean ± std of a score over folds or seeds. NumPy only (tensors are accepted and moved to the CPU).

Conventions: IoU of class c is TP / (TP + FP + FN) with every pixel of the set pooled (not a mean of per-image
IoUs); ``confusion[target, pred]``. Two things differ between codebases and are arguments here: a class absent
from both prediction and target is left out of the means (``absent="skip"``, the probe's report) or counts as IoU 0
(``absent="zero"``: LAGM's utils/metrics.py divides by union + 1e-8, research/lagm.md §5), and the std over folds
is the sample std (ddof 1, our tables) or np.std (ddof 0, LAGM's 5-fold numbers).
"""

from __future__ import annotations

import math
import statistics
from typing import Any, Iterable, Sequence

import numpy as np

from ganbench.errors import GanbenchError


def _array(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor, without importing torch here
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def confusion_matrix(pred, target, num_classes: int, ignore_index: int | None = None) -> np.ndarray:
    """(K, K) int64 counts, ``confusion[t, p]`` = pixels of target class t predicted as p.

    ``pred`` and ``target`` are integer label maps of the same shape (any number of dimensions, e.g. (N, H, W)).
    Pixels whose target is ``ignore_index`` are left out; any other label outside [0, K) is an error. Sum the
    matrices of several batches to score a whole set.
    """
    pred, target = _array(pred), _array(target)
    if pred.shape != target.shape:
        raise GanbenchError(f"confusion_matrix: prediction {pred.shape} and target {target.shape} differ in shape")
    if num_classes < 1:
        raise GanbenchError(f"confusion_matrix: num_classes must be positive, got {num_classes}")
    pred, target = pred.reshape(-1).astype(np.int64), target.reshape(-1).astype(np.int64)
    if ignore_index is not None:
        keep = target != ignore_index
        pred, target = pred[keep], target[keep]
    for name, labels in (("target", target), ("prediction", pred)):
        bad = (labels < 0) | (labels >= num_classes)
        if bad.any():
            raise GanbenchError(f"confusion_matrix: {name} label {int(labels[bad][0])} outside 0..{num_classes - 1}")
    return np.bincount(target * num_classes + pred, minlength=num_classes**2).reshape(num_classes, num_classes)


ABSENT = ("skip", "zero")


def segmentation_scores(
    confusion, background: int | None = 0, exclude: Iterable[int] = (), absent: str = "skip"
) -> dict[str, Any]:
    """Scores of a (K, K) confusion matrix ``confusion[target, pred]`` pooled over a whole set.

    Returns ``iou`` (list of K floats; NaN for a class absent from both prediction and target with
    ``absent="skip"``, 0 with ``absent="zero"``), ``miou`` (mean
    over the classes not in ``exclude``, background included), ``fg_miou`` (the foreground: every class except
    ``background`` and those in ``exclude``), ``pixel_accuracy`` (over every pixel), and ``classes_scored``
    (how many classes each mean averaged).

    A class absent from both the target and the prediction (union 0) has no IoU and is left out of the means
    (``absent="skip"``) or has IoU 0 and counts (``absent="zero"``, LAGM); a class absent from the target but
    predicted somewhere has IoU 0 and counts either way. ``exclude`` removes classes from
    both means (e.g. a "void" or "ignore" class kept in the matrix); ``background=None`` means there is no
    background class, so FG-mIoU equals mIoU.
    """
    confusion = _array(confusion)
    if confusion.ndim != 2 or confusion.shape[0] != confusion.shape[1]:
        raise GanbenchError(f"segmentation_scores: expected a square confusion matrix, got shape {confusion.shape}")
    if absent not in ABSENT:
        raise GanbenchError(f"segmentation_scores: absent must be one of {', '.join(ABSENT)}, got {absent!r}")
    k = confusion.shape[0]
    exclude = set(int(c) for c in exclude)
    for c in exclude | ({background} if background is not None else set()):
        if not 0 <= c < k:
            raise GanbenchError(f"segmentation_scores: class {c} outside 0..{k - 1}")
    tp = np.diag(confusion).astype(np.float64)
    union = confusion.sum(0) + confusion.sum(1) - tp
    present = union > 0 if absent == "skip" else np.ones(k, bool)
    iou = np.where(union > 0, tp / np.maximum(union, 1), np.nan if absent == "skip" else 0.0)
    counted = present.copy()
    counted[list(exclude)] = False
    fg = counted.copy()
    if background is not None:
        fg[background] = False
    return {
        "iou": [float(v) for v in iou],
        "miou": float(iou[counted].mean()) if counted.any() else float("nan"),
        "fg_miou": float(iou[fg].mean()) if fg.any() else float("nan"),
        "pixel_accuracy": float(tp.sum() / max(confusion.sum(), 1)),
        "classes_scored": {"miou": int(counted.sum()), "fg_miou": int(fg.sum())},
    }


def mean_std(values: Sequence[float], ddof: int = 1) -> dict[str, float | int | None]:
    """``{"mean", "std", "n", "ddof"}`` of a score over folds or seeds: the sample standard deviation (ddof 1, as
    the tables show it) or the population one (ddof 0, np.std, LAGM's 5-fold numbers); None where fewer than
    ddof + 1 values. NaN values are an error (a fold without any scored class)."""
    values = [float(v) for v in values]
    if not values:
        raise GanbenchError("mean_std: no values")
    if any(math.isnan(v) for v in values):
        raise GanbenchError(f"mean_std: a value is NaN ({values})")
    if ddof not in (0, 1):
        raise GanbenchError(f"mean_std: ddof must be 0 or 1, got {ddof}")
    spread = statistics.stdev if ddof == 1 else statistics.pstdev
    return {
        "mean": statistics.fmean(values),
        "std": spread(values) if len(values) > ddof else None,
        "n": len(values),
        "ddof": ddof,
    }

"""Segmentation scoring shared by every paper, on small hand-made label maps whose answers are counted by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ganbench.errors import GanbenchError
from ganbench.metrics.segmentation import confusion_matrix, mean_std, segmentation_scores

# 4 classes: 0 background, 1 and 2 parts, 3 absent from both maps
TARGET = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 2, 0]])
PRED = np.array([[0, 1, 1, 1], [0, 0, 1, 2], [2, 2, 0, 0]])


def test_confusion_matrix_counts_target_rows_and_prediction_columns():
    c = confusion_matrix(PRED, TARGET, 4)
    assert c.tolist() == [
        [4, 1, 0, 0],  # background: 4 right, 1 taken for class 1
        [0, 3, 1, 0],  # class 1: 3 right, 1 taken for class 2
        [1, 0, 2, 0],  # class 2: 2 right, 1 taken for background
        [0, 0, 0, 0],
    ]
    assert c.sum() == TARGET.size
    # batches add up: the two halves give the matrix of the whole
    assert (confusion_matrix(PRED[:1], TARGET[:1], 4) + confusion_matrix(PRED[1:], TARGET[1:], 4) == c).all()


def test_ignore_index_and_out_of_range_labels():
    target = TARGET.copy()
    target[0, 0] = 255
    c = confusion_matrix(PRED, target, 4, ignore_index=255)
    assert c.sum() == TARGET.size - 1 and c[0, 0] == 3
    with pytest.raises(GanbenchError, match=r"target label 255 outside 0..3"):
        confusion_matrix(PRED, target, 4)
    with pytest.raises(GanbenchError, match="differ in shape"):
        confusion_matrix(PRED[:2], TARGET, 4)


def test_iou_miou_and_foreground_miou():
    s = segmentation_scores(confusion_matrix(PRED, TARGET, 4), background=0)
    iou = [4 / 6, 3 / 5, 2 / 4]  # TP / (TP + FP + FN): bg 4/(5+5-4), class 1 3/(4+4-3), class 2 2/(3+3-2)
    assert s["iou"][:3] == pytest.approx(iou) and math.isnan(s["iou"][3])
    assert s["miou"] == pytest.approx(sum(iou) / 3)  # the absent class is left out ("skip")
    assert s["fg_miou"] == pytest.approx((iou[1] + iou[2]) / 2)  # background excluded
    assert s["pixel_accuracy"] == pytest.approx(9 / 12)
    assert s["classes_scored"] == {"miou": 3, "fg_miou": 2}


def test_absent_class_counts_as_zero_when_asked():
    s = segmentation_scores(confusion_matrix(PRED, TARGET, 4), background=0, absent="zero")
    assert s["iou"][3] == 0.0
    assert s["miou"] == pytest.approx((4 / 6 + 3 / 5 + 2 / 4 + 0) / 4)
    assert s["fg_miou"] == pytest.approx((3 / 5 + 2 / 4 + 0) / 3)
    with pytest.raises(GanbenchError, match="absent must be one of"):
        segmentation_scores(np.eye(2), absent="nan")


def test_a_class_predicted_but_never_present_counts_as_zero():
    target = np.array([0, 0, 1, 1])
    pred = np.array([0, 2, 1, 1])  # class 2 never in the target, predicted once
    s = segmentation_scores(confusion_matrix(pred, target, 3))
    assert s["iou"] == pytest.approx([0.5, 1.0, 0.0])
    assert s["fg_miou"] == pytest.approx(0.5)


def test_excluded_classes_leave_both_means():
    c = confusion_matrix(PRED, TARGET, 4)
    s = segmentation_scores(c, background=0, exclude=[2])
    assert s["miou"] == pytest.approx((4 / 6 + 3 / 5) / 2)
    assert s["fg_miou"] == pytest.approx(3 / 5)
    none = segmentation_scores(c, background=None)
    assert none["fg_miou"] == none["miou"]
    with pytest.raises(GanbenchError, match="class 7 outside 0..3"):
        segmentation_scores(c, exclude=[7])


def test_mean_std_over_folds():
    folds = [0.40, 0.44, 0.45, 0.41, 0.50]
    sample = mean_std(folds)
    assert sample["mean"] == pytest.approx(0.44) and sample["n"] == 5
    assert sample["std"] == pytest.approx(np.std(folds, ddof=1))
    assert mean_std(folds, ddof=0)["std"] == pytest.approx(np.std(folds))  # LAGM's np.std
    assert mean_std([0.3])["std"] is None and mean_std([0.3], ddof=0)["std"] == 0.0
    with pytest.raises(GanbenchError, match="NaN"):
        mean_std([0.3, float("nan")])

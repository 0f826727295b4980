"""Label propagation as CoordGAN's eval_corr.py (research coordgan.md §4.2), on small hand-made label maps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganbench.errors import ConfigError
from ganbench.metrics.correspondence import (
    BENCHMARKS,
    inter_and_union,
    keypoint_and_coordinate_errors,
    label_propagation_miou,
    pck_and_coordinate_error,
    reference_miou,
    split_references,
)
from ganbench.nets.coordgan import canonical_grid


def test_predictions_on_background_are_zeroed_and_background_is_not_counted():
    gt = torch.tensor([[0, 1], [1, 2]])
    pred = torch.tensor([[1, 1], [2, 2]])  # the 1 on GT background is not a false positive
    inter, union = inter_and_union(pred, gt, 3)
    assert inter.tolist() == [1, 1] and union.tolist() == [2, 2]  # classes 1 and 2 only


def test_iou_is_dataset_level_and_an_absent_class_counts_zero():
    inters = np.array([[1, 2, 0], [3, 2, 0]])  # two queries, classes 1..3; class 3 never appears
    unions = np.array([[2, 2, 0], [3, 2, 0]])
    # class 1: (1 + 3) / (2 + 3), not the mean of 0.5 and 1; class 2: 1; class 3: 0
    assert reference_miou(inters, unions, [1, 2, 3]) == pytest.approx((0.8 + 1 + 0) / 3)
    assert reference_miou(inters, unions, [1, 2]) == pytest.approx(0.9)


def test_miou_is_the_mean_over_the_first_five_references():
    label = torch.tensor([[0, 1, 1, 0], [0, 1, 2, 2], [0, 0, 2, 2], [3, 3, 0, 0]])
    empty = torch.zeros(4, 4, dtype=torch.long)
    labels = [label] * 4 + [empty, label, empty]  # refs 0-3 perfect, ref 4 all background, 5 the query
    identity = [canonical_grid(1, 4)[0]] * len(labels)  # the identity warp: pixel k -> pixel k
    out = label_propagation_miou(identity, labels, [0, 1, 2, 3, 4, 6], [5], 4, [1, 2, 3])
    assert out["per_reference"] == pytest.approx([100, 100, 100, 100, 0])  # ref 6 is not among the first 5
    assert out["miou"] == pytest.approx(80)


def test_soft_propagation_moves_labels_along_the_coordinates():
    grid = canonical_grid(1, 4)[0]
    shifted = grid.clone()
    shifted[0] = grid[0] + 2 / 3  # the query's pixel (x) shows the reference's point at x + 1 pixel
    ref = torch.zeros(4, 4, dtype=torch.long)
    ref[:, 2] = 1
    query = torch.zeros(4, 4, dtype=torch.long)
    query[:, 1] = 1
    out = label_propagation_miou([grid, shifted] * 3, [ref, query] * 3, [0, 2, 4, 0, 2], [1], 2, [1])
    assert out["miou"] == pytest.approx(100)


def test_benchmarks_keep_the_official_classes_and_reference_rules():
    face = BENCHMARKS["datasetgan-face-34"]
    assert len(face.kept_classes()) == 31 and 17 not in face.kept_classes() and 25 not in face.kept_classes()
    assert len(BENCHMARKS["datasetgan-car-20"].kept_classes()) == 19
    assert len(BENCHMARKS["celebA-7"].kept_classes()) == 6
    assert split_references(face, 8, 3) == ([0, 1, 2, 3, 4], [5, 6, 7, 8, 9, 10])
    refs, queries = split_references(BENCHMARKS["celebA-7"], 300)
    assert refs == [1, 3, 5, 6, 8] and queries == list(range(100, 200))
    with pytest.raises(ConfigError, match="at least 5 reference"):
        split_references(face, 4)


def test_exact_correspondence_scores_zero_error_and_full_pck():
    grid = canonical_grid(1, 8)[0]
    coords = grid.permute(1, 2, 0).clone()
    coords[:2] = float("nan")  # background rows
    kp = torch.tensor([[2.5, 4.5], [6.5, 6.5]])
    vis = torch.tensor([True, True])
    kp_err, c_err = keypoint_and_coordinate_errors(grid, grid, coords, coords, kp, kp, vis, vis)
    scores = pck_and_coordinate_error(kp_err, c_err)
    assert scores["pck@0.05"] == 100 and scores["coord_error"] == pytest.approx(0) and len(c_err) == 48
    # a query whose true coordinates are one pixel further right: every match is off by one grid step
    moved = coords.clone()
    moved[..., 0] += 2 / 7
    kp_err, c_err = keypoint_and_coordinate_errors(grid, grid, moved, coords, kp + torch.tensor([1.0, 0]), kp, vis, vis)
    assert np.mean(c_err) == pytest.approx(2 / 7, rel=1e-5) and np.allclose(kp_err, 1 / 8)


def test_the_plan_names_the_files_the_evaluation_writes():
    from ganbench.metrics import correspondence_eval, plan

    assert plan.CORRESPONDENCE == correspondence_eval.PROTOCOL
    written = [m.replace("@", "_at_") for m in correspondence_eval.CORRESPONDENCE_METRICS]
    assert tuple(written) == plan.CORRESPONDENCE_METRIC_FILES
    assert correspondence_eval.BASELINES == plan.CORRESPONDENCE_BASELINES


def test_the_correspondence_table_reads_the_evaluated_files():
    from ganbench.metrics import plan
    from ganbench.tables.specs import CORRESPONDENCE_PROTOCOL, coordgan_correspondence_table

    assert CORRESPONDENCE_PROTOCOL == plan.CORRESPONDENCE
    spec = coordgan_correspondence_table()
    read = {row.metric_prefix + col.metric for row in spec.rows for col in spec.columns}
    assert read == set(plan.CORRESPONDENCE_RESULTS)

"""Dense correspondence: CoordGAN's label propagation (research coordgan.md §4.2, exactly as coded), and, beyond
the paper, keypoint PCK and canonical-coordinate error against the synthetic benchmark's exact ground truth.

Label propagation, per (reference r, query q):

1. the reference's one-hot mask is bilinearly resized to the descriptor resolution S (soft at boundaries); the
   ground truth is the argmax of the query's resized one-hot mask;
2. ``out_q(k) = sum_i softmax_i(-||C_q(k) - C_r(i)|| / 0.01) L_r(i)`` (``mode="soft"``); the prediction is its
   argmax. ``mode="hard"`` takes the nearest reference pixel (the probe-feature baseline, by cosine distance);
3. ``pred = pred * (gt > 0)``: predictions on ground-truth background are zeroed, then per class 1..K-1
   (background excluded) intersection and union are counted;
4. per reference: the dataset-level IoU ``sum_q inter / (sum_q union + 1e-10)`` per kept class (a class absent
   from every query and every prediction counts 0), averaged over the kept classes; the score is the mean over
   the first 5 references, x100.

Descriptors: a method gives each image a map [D, S, S] (CoordGAN's encoder: its coordinates C, D = 2; the
identity warp: the canonical grid, so pixel k goes to pixel k; the probe baseline: its trunk's feature maps).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ganbench.errors import ConfigError
from ganbench.methods.coordgan_losses import soft_propagate

NUM_REFERENCES = 5
TEMPERATURE = 0.01
PCK_THRESHOLDS = (0.05, 0.1)


@dataclass(frozen=True)
class Benchmark:
    """A label-propagation benchmark: its classes, those left out of the mean, and how references and queries
    are drawn from its images in sorted-name order."""

    name: str
    num_classes: int  # including background (0)
    dropped: tuple[int, ...] = ()  # classes besides background left out of the mean
    rule: str = "first5"  # "first5": refs = first 5 of the train list, queries = the rest + all test images
    ref_indices: tuple[int, ...] = ()  # rule "indices": sorted indices of the references
    query_range: tuple[int, int] = (0, 0)  # rule "indices": sorted index range [a, b) of the queries

    def kept_classes(self) -> list[int]:
        return [c for c in range(1, self.num_classes) if c not in self.dropped]


BENCHMARKS = {
    b.name: b
    for b in (
        # 34 classes; head***hair (17) and head***neck (25) are dropped: 31 kept (eval_corr.py pop(16), pop(23))
        Benchmark("datasetgan-face-34", 34, dropped=(17, 25)),
        Benchmark("datasetgan-car-20", 20),
        # background, mouth, eye, brow, ear, nose, face; refs are files 1, 100, 10000, 10001, 10003
        Benchmark("celebA-7", 7, rule="indices", ref_indices=(1, 3, 5, 6, 8), query_range=(100, 200)),
    )
}


def coordgan_train_order(names: list[str]) -> list[int]:
    """Row indices of a benchmark's train list in eval_corr.py's order: the ``.jpg`` files sorted by name, then
    the ``.png`` files sorted by name (``image_0, image_1, image_10, ...``), then any other image files."""

    def key(i: int):
        base = names[i].replace("\\", "/").rsplit("/", 1)[-1]
        suffix = base.rsplit(".", 1)[-1].lower()
        return ({"jpg": 0, "png": 1}.get(suffix, 2), base)

    return sorted(range(len(names)), key=key)


def split_references(benchmark: Benchmark, num_train: int, num_test: int = 0) -> tuple[list[int], list[int]]:
    """(reference indices, query indices) into the list train images (sorted) followed by test images (sorted)."""
    if benchmark.rule == "first5":
        if num_train < NUM_REFERENCES:
            raise ConfigError(
                f"{benchmark.name}: needs at least {NUM_REFERENCES} reference images, the train list has {num_train}"
            )
        return list(range(NUM_REFERENCES)), list(range(NUM_REFERENCES, num_train + num_test))
    a, b = benchmark.query_range
    if num_train < b or max(benchmark.ref_indices) >= num_train:
        raise ConfigError(f"{benchmark.name}: needs {b} images by sorted name, got {num_train}")
    return list(benchmark.ref_indices), list(range(a, b))


def resized_onehot(label: torch.Tensor, num_classes: int, size: int) -> torch.Tensor:
    """Label map [H, W] int -> one-hot [K, size, size], bilinearly resized (align_corners=False)."""
    onehot = F.one_hot(label.long(), num_classes).permute(2, 0, 1).float().unsqueeze(0)
    return F.interpolate(onehot, size=(size, size), mode="bilinear", align_corners=False)[0]


def propagate(
    query: torch.Tensor, reference: torch.Tensor, values: torch.Tensor, mode: str = "soft", tau: float = TEMPERATURE
) -> torch.Tensor:
    """Per-pixel values [K, S, S] of the reference carried to the query, by descriptors [D, S, S]."""
    if mode == "soft":
        return soft_propagate(query[None], reference[None], values[None], tau)[0]
    if mode == "hard":  # cosine nearest neighbour
        q = F.normalize(query.flatten(1).float(), dim=0).t()
        r = F.normalize(reference.flatten(1).float(), dim=0)
        nearest = (q @ r).argmax(1)
        return values.flatten(1)[:, nearest].reshape(values.shape)
    raise ConfigError(f"propagation mode {mode!r} is not one of soft, hard")


def inter_and_union(pred: torch.Tensor, gt: torch.Tensor, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-class (1..K-1) intersection and union of one query; predictions on GT background are zeroed first."""
    pred = pred.long() * (gt > 0)
    classes = torch.arange(1, num_classes)
    p, g = pred.flatten()[None] == classes[:, None], gt.flatten().long()[None] == classes[:, None]
    inter = (p & g).sum(1)
    union = p.sum(1) + g.sum(1) - inter
    return inter.numpy().astype(np.int64), union.numpy().astype(np.int64)


def reference_miou(inters: np.ndarray, unions: np.ndarray, kept: list[int]) -> float:
    """Dataset-level IoU over a reference's queries, per class (summed counts; absent classes 0), then the mean
    over the kept classes. inters, unions: [num_queries, K-1] for classes 1..K-1."""
    iou = inters.sum(0) / (unions.sum(0) + 1e-10)
    return float(np.mean([iou[c - 1] for c in kept]))


def label_propagation_miou(
    descriptors: list[torch.Tensor],
    labels: list[torch.Tensor],
    refs: list[int],
    queries: list[int],
    num_classes: int,
    kept: list[int],
    mode: str = "soft",
) -> dict:
    """mIoU x100 over the first 5 references of ``refs``; descriptors [D, S, S] and labels [H, W] per image."""
    size = descriptors[0].shape[-1]
    onehots = [resized_onehot(lab, num_classes, size) for lab in labels]
    per_ref = []
    for r in refs[:NUM_REFERENCES]:
        counts = []
        for q in queries:
            out = propagate(descriptors[q], descriptors[r], onehots[r], mode)
            counts.append(inter_and_union(out.argmax(0), onehots[q].argmax(0), num_classes))
        inters, unions = (np.stack(x) for x in zip(*counts))
        per_ref.append(reference_miou(inters, unions, kept))
    return {"miou": 100 * float(np.mean(per_ref)), "per_reference": [100 * v for v in per_ref]}


def nearest_pixels(query: torch.Tensor, reference: torch.Tensor, candidates: torch.Tensor, mode: str) -> torch.Tensor:
    """For every query pixel, the flat index of its match among the reference pixels where ``candidates``."""
    idx = candidates.flatten().nonzero()[:, 0]
    q, r = query.flatten(1).float().t(), reference.flatten(1).float()[:, idx]
    if mode == "hard":
        score = F.normalize(q, dim=1) @ F.normalize(r, dim=0)
    else:  # coordinates: the nearest in L2 (the mode of the soft affinity)
        score = -torch.cdist(q, r.t())
    return idx[score.argmax(1)]


def keypoint_and_coordinate_errors(
    desc_q: torch.Tensor,
    desc_r: torch.Tensor,
    coords_q: torch.Tensor,
    coords_r: torch.Tensor,
    kp_q: torch.Tensor,
    kp_r: torch.Tensor,
    vis_q: torch.Tensor,
    vis_r: torch.Tensor,
    mode: str = "soft",
) -> tuple[list[float], list[float]]:
    """(keypoint transfer errors as fractions of the image side, canonical-coordinate errors of foreground query
    pixels), one query against one reference.

    Ground truth at the descriptor resolution S: coords [S, S, 2] (NaN off the object), keypoints [K, 2] in
    pixels of an S x S image. A reference keypoint goes to the query pixel whose descriptor is nearest to the
    reference's at the keypoint; a query foreground pixel is matched to the nearest reference foreground pixel,
    and its error is the distance between the two pixels' true canonical coordinates.
    """
    s = desc_q.shape[-1]
    fg_q, fg_r = ~torch.isnan(coords_q[..., 0]), ~torch.isnan(coords_r[..., 0])
    match = nearest_pixels(desc_q, desc_r, fg_r, mode)  # [S*S] reference pixel of each query pixel
    true_r = coords_r.reshape(-1, 2)[match]
    err = (true_r - coords_q.reshape(-1, 2)).norm(dim=1)[fg_q.flatten()]
    kp_errors = []
    both = (vis_q & vis_r).nonzero()[:, 0]
    if len(both):
        cols, rows = kp_r[both].floor().long().clamp(0, s - 1).T
        at_kp = desc_r[:, rows, cols]  # [D, k]
        found = nearest_pixels(at_kp[:, :, None], desc_q, torch.ones(s, s, dtype=torch.bool), mode)
        found_xy = torch.stack([found % s, found // s], 1).float() + 0.5
        kp_errors = ((found_xy - kp_q[both]).norm(dim=1) / s).tolist()
    return kp_errors, err.tolist()


def pck_and_coordinate_error(kp_errors: list[float], coord_errors: list[float]) -> dict:
    out = {f"pck@{a}": 100 * float(np.mean(np.asarray(kp_errors) < a)) if kp_errors else None for a in PCK_THRESHOLDS}
    out["coord_error"] = float(np.mean(coord_errors)) if coord_errors else None
    return out

"""The ``probe``: a small CNN trained on the labelled synthetic data, whose penultimate features
stand in for Inception's where no pretrained network is available (the embedded default).

Network (input R x R, R = the probe's resolution, 32 by default; channels c1, c2, c3 = 32, 64, 128):

==========  =======================================  ============
stem        conv3x3 3 -> c1, GroupNorm, ReLU         R
down1       conv3x3/2 c1 -> c2, GroupNorm, ReLU      R/2
down2       conv3x3/2 c2 -> c3, GroupNorm, ReLU      R/4
mid         conv3x3 c3 -> c3, GroupNorm, ReLU        R/4
down3       conv3x3/2 c3 -> c3, GroupNorm, ReLU      R/8
features    global average pool, linear c3 -> D, ReLU  (D = 256: the extracted features)
==========  =======================================  ============

Supervision, all from ``annotations.h5`` (so the features describe what the GAN must get right):

- part segmentation (per-pixel cross-entropy) by two 1x1 convs on ``down1`` and ``mid``
  (upsampled, concatenated), which teaches the trunk where the parts are;
- from the features only (linear heads): the category (cross-entropy), which part classes are
  present (multi-label, binary cross-entropy), the fraction of the image each class covers (soft
  cross-entropy: layout and scale) and the mean colour of each present class (L1: appearance, so
  that a generator with wrong colours is not rated as good).

Classes of several datasets are merged: ``background`` is shared, every other class is named
``{category}/{class}``. Training is deterministic for a seed on one machine (fixed thread count).
"""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganbench.data.annotations import check_pair, read_annotations
from ganbench.data.sources import open_source
from ganbench.errors import DataError, GanbenchError
from ganbench.fileio import atomic_path, sha256_file
from ganbench.metrics.segmentation import confusion_matrix, segmentation_scores
from ganbench.progress import progress

FORMAT = 1
KIND = "ganbench-probe"
BACKGROUND = "background"


def _block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.GroupNorm(8, cout), nn.ReLU(inplace=True))


class ProbeNet(nn.Module):
    """The probe network; ``features(x)`` for x in [-1, 1], (N, 3, R, R) -> (N, feature_dim)."""

    def __init__(self, num_classes: int, num_categories: int, channels=(32, 64, 128), feature_dim: int = 256):
        super().__init__()
        c1, c2, c3 = channels
        self.num_classes, self.num_categories = num_classes, num_categories
        self.stem = _block(3, c1)
        self.down1 = _block(c1, c2, 2)
        self.down2 = _block(c2, c3, 2)
        self.mid = _block(c3, c3)
        self.down3 = _block(c3, c3, 2)
        self.embed = nn.Linear(c3, feature_dim)
        self.seg_head = nn.Sequential(nn.Conv2d(c2 + c3, 64, 1), nn.ReLU(inplace=True), nn.Conv2d(64, num_classes, 1))
        k = num_classes
        # category logits | presence logits (K) | area logits (K) | mean colours (3K)
        self.image_head = nn.Linear(feature_dim, num_categories + 5 * k)

    def trunk(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(R/2 map, R/4 map, features)."""
        f1 = self.down1(self.stem(x))
        f2 = self.mid(self.down2(f1))
        pooled = self.down3(f2).mean(dim=(2, 3))
        return f1, f2, F.relu(self.embed(pooled))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(x)[2]

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        f1, f2, feat = self.trunk(x)
        up = F.interpolate(f2, size=f1.shape[-2:], mode="bilinear", align_corners=False)
        seg = self.seg_head(torch.cat([f1, up], 1))
        seg = F.interpolate(seg, size=x.shape[-2:], mode="bilinear", align_corners=False)
        out = self.image_head(feat)
        c, k = self.num_categories, self.num_classes
        return {
            "seg": seg,
            "category": out[:, :c],
            "presence": out[:, c : c + k],
            "area": out[:, c + k : c + 2 * k],
            "colour": out[:, c + 2 * k :].reshape(-1, k, 3),
            "features": feat,
        }


def to_network_input(images: torch.Tensor, resolution: int) -> torch.Tensor:
    """uint8 (N, 3, H, W) -> float in [-1, 1] at resolution x resolution (antialiased bilinear)."""
    x = images.float() / 127.5 - 1
    if x.shape[-2:] != (resolution, resolution):
        x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False, antialias=True)
    return x


# --- training data ------------------------------------------------------------------------------


def _merged_classes(annotations) -> tuple[list[str], list[str], list[np.ndarray]]:
    """Global class list, category list, and per dataset a lookup local class -> global class."""
    classes, categories, lookups = [BACKGROUND], [], []
    for ann in annotations:
        if ann.category not in categories:
            categories.append(ann.category)
        lookup = []
        for name in ann.classes:
            key = BACKGROUND if name == BACKGROUND else f"{ann.category}/{name}"
            if key not in classes:
                classes.append(key)
            lookup.append(classes.index(key))
        lookups.append(np.asarray(lookup, np.int64))
    return classes, categories, lookups


def _load_pair(zip_path: Path, ann, lookup: np.ndarray, resolution: int):
    """Images (N, 3, R, R) uint8 and labels (N, R, R) int64 (global classes) at the probe resolution."""
    source = open_source(zip_path)
    if len(source) != len(ann):
        raise DataError(f"{zip_path}: {len(source)} images but its annotations have {len(ann)} rows")
    images = torch.from_numpy(np.stack([source.read_image(i) for i in range(len(source))])).permute(0, 3, 1, 2)
    if images.shape[-2:] != ann.label.shape[-2:]:
        raise DataError(f"{zip_path}: images are {tuple(images.shape[-2:])}, annotations {ann.label.shape[-2:]}")
    labels = torch.from_numpy(lookup[ann.label.astype(np.int64)])
    if images.shape[-1] != resolution:
        images = to_network_input(images, resolution).add(1).mul(127.5).round().clamp(0, 255).to(torch.uint8)
        size = (resolution, resolution)
        labels = F.interpolate(labels[:, None].float(), size=size, mode="nearest-exact")[:, 0].long()
    return images.contiguous(), labels.contiguous()


def _image_targets(images: torch.Tensor, labels: torch.Tensor, k: int) -> dict[str, torch.Tensor]:
    """Per-image targets: presence (N, K), area fractions (N, K), mean colour in [-1, 1] (N, K, 3)."""
    n = len(labels)
    onehot = F.one_hot(labels.reshape(n, -1), k).float()  # (N, P, K)
    counts = onehot.sum(1)
    x = images.float().reshape(n, 3, -1).transpose(1, 2) / 127.5 - 1  # (N, P, 3)
    colour = torch.einsum("npk,npc->nkc", onehot, x) / counts.clamp(min=1)[..., None]
    return {"presence": (counts > 0).float(), "area": counts / counts.sum(1, keepdim=True), "colour": colour}


def _losses(out: dict, labels: torch.Tensor, category: torch.Tensor, targets: dict) -> dict[str, torch.Tensor]:
    presence = targets["presence"]
    colour_err = (out["colour"] - targets["colour"]).abs().mean(-1)
    return {
        "seg": F.cross_entropy(out["seg"], labels),
        "category": F.cross_entropy(out["category"], category),
        "presence": F.binary_cross_entropy_with_logits(out["presence"], presence),
        "area": -(targets["area"] * F.log_softmax(out["area"], 1)).sum(1).mean(),
        "colour": (colour_err * presence).sum() / presence.sum().clamp(min=1),
    }


@torch.no_grad()
def _evaluate(net: ProbeNet, images, labels, categories, resolution: int, batch: int = 256) -> dict:
    net.eval()
    k = net.num_classes
    confusion = np.zeros((k, k), np.int64)
    correct = 0
    for i in range(0, len(images), batch):
        out = net(to_network_input(images[i : i + batch], resolution))
        pred = out["seg"].argmax(1)
        confusion += confusion_matrix(pred, labels[i : i + batch], k)
        correct += int((out["category"].argmax(1) == categories[i : i + batch]).sum())
    scores = segmentation_scores(confusion, background=0)  # classes absent from the test split are left out
    return {
        "pixel_accuracy": scores["pixel_accuracy"],
        "miou": scores["miou"],
        "fg_miou": scores["fg_miou"],
        "category_accuracy": correct / max(len(images), 1),
    }


def train_probe(
    zip_paths: list,
    annotation_paths: list,
    out_path: str | os.PathLike,
    seed: int = 0,
    steps: int = 600,
    resolution: int = 32,
    batch: int = 32,
    lr: float = 2e-3,
    channels: tuple[int, int, int] = (32, 64, 128),
    feature_dim: int = 256,
) -> dict:
    """Train the probe on the train split (``is_test == False``) of labelled datasets; write ``out_path``.

    Args:
        zip_paths: dataset_tool zips (any container :func:`open_source` reads), one per dataset.
        annotation_paths: the matching ``annotations.h5`` files (same row order as the images).
        out_path: the ``probe.pt`` to write (atomically): weights and metadata (classes,
            categories, resolution, channels, the sha256 of every training file, this report).
        seed: fixes the initial weights, batch order and flips.
        steps, batch, lr: Adam steps on batches drawn with replacement across epochs; lr decays
            with a cosine to 0.
        resolution: images (and labels, nearest) are resized to resolution x resolution.

    Returns the report: test-split pixel accuracy, mIoU and foreground mIoU of the part head,
    category accuracy, image counts, final training losses, seconds, the weights' sha256.
    """
    if len(zip_paths) != len(annotation_paths) or not zip_paths:
        raise GanbenchError(f"train_probe: {len(zip_paths)} image files but {len(annotation_paths)} annotation files")
    for zip_path, annotation_path in zip(zip_paths, annotation_paths):
        check_pair(zip_path, annotation_path)  # refuses annotations of other images (swapped files)
    start = time.time()
    annotations = [read_annotations(p) for p in annotation_paths]
    classes, categories, lookups = _merged_classes(annotations)
    k = len(classes)
    parts = [_load_pair(Path(z), a, lut, resolution) for z, a, lut in zip(zip_paths, annotations, lookups)]
    images = torch.cat([p[0] for p in parts])
    labels = torch.cat([p[1] for p in parts])
    category = torch.cat([torch.full((len(a),), categories.index(a.category)) for a in annotations])
    is_test = torch.from_numpy(np.concatenate([a.is_test for a in annotations]).astype(bool))
    train_idx = torch.nonzero(~is_test)[:, 0]
    if len(train_idx) == 0:
        raise DataError(f"{annotation_paths[0]}: no training images (every row has is_test set)")
    targets = _image_targets(images, labels, k)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = ProbeNet(k, len(categories), tuple(channels), feature_dim)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + np.cos(np.pi * s / steps)))
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 0x9B0BE])))
    order, pos = rng.permutation(train_idx.numpy()), 0
    running: dict[str, float] = {}
    net.train()
    with progress(total=steps, desc="train_probe", unit="step") as bar:
        for step in range(steps):
            if pos + batch > len(order):
                order, pos = rng.permutation(train_idx.numpy()), 0
            idx = torch.from_numpy(order[pos : pos + batch])
            pos += batch
            x, y = images[idx], labels[idx]
            flip = torch.from_numpy(rng.random(len(idx)) < 0.5)
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
            y = torch.where(flip[:, None, None], y.flip(-1), y)
            tgt = {key: v[idx] for key, v in targets.items()}  # image-level targets are flip-invariant
            losses = _losses(net(to_network_input(x, resolution)), y, category[idx], tgt)
            total = sum(losses.values())
            opt.zero_grad(set_to_none=True)
            total.backward()
            opt.step()
            sched.step()
            if not torch.isfinite(total):
                raise GanbenchError(f"train_probe: loss is not finite at step {step}; lower lr ({lr})")
            for key, v in losses.items():  # exponential moving average for the report
                v = float(v.detach())
                running[key] = v if step == 0 else 0.95 * running[key] + 0.05 * v
            bar.update(1)

    test_idx = torch.nonzero(is_test)[:, 0]
    scores = _evaluate(net, images[test_idx], labels[test_idx], category[test_idx], resolution) if len(test_idx) else {}
    report = {
        "seed": seed,
        "steps": steps,
        "batch": batch,
        "lr": lr,
        "resolution": resolution,
        "classes": classes,
        "categories": categories,
        "train_images": len(train_idx),
        "test_images": len(test_idx),
        "test": scores,
        "train_losses": {key: round(v, 5) for key, v in running.items()},
        "data_sha256": [
            {"images": sha256_file(z), "annotations": sha256_file(a)} for z, a in zip(zip_paths, annotation_paths)
        ],
    }
    payload = {
        "format": FORMAT,
        "kind": KIND,
        "state": net.state_dict(),
        "classes": classes,
        "categories": categories,
        "resolution": resolution,
        "channels": list(channels),
        "feature_dim": feature_dim,
        "report": report,
    }
    buffer = io.BytesIO()  # torch.save names the archive after the file: save the bytes, not the temp file
    torch.save(payload, buffer)
    with atomic_path(out_path) as tmp:
        tmp.write_bytes(buffer.getvalue())
    report["weights_sha256"] = sha256_file(out_path)
    report["seconds"] = round(time.time() - start, 2)
    return report


def load_probe(path: str | os.PathLike) -> tuple[ProbeNet, dict]:
    """The trained network (eval mode, no grad) and its metadata from a ``probe.pt``."""
    path = Path(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise GanbenchError(f"{path}: probe weights not found; the train_probe rule makes them") from None
    except Exception as exc:  # torch raises a zoo of types for a damaged file
        message = f"{path}: not a readable probe file ({type(exc).__name__}: {exc})"
        raise GanbenchError(message.splitlines()[0]) from None
    if not isinstance(payload, dict) or payload.get("kind") != KIND or payload.get("format") != FORMAT:
        raise GanbenchError(f"{path}: not a ganbench probe file (format {FORMAT})")
    net = ProbeNet(
        len(payload["classes"]), len(payload["categories"]), tuple(payload["channels"]), payload["feature_dim"]
    )
    net.load_state_dict(payload["state"])
    net.requires_grad_(False).eval()
    return net, {k: v for k, v in payload.items() if k != "state"}

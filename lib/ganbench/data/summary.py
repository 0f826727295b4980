"""Dataset inspection and the per-dataset summary the pipeline writes under ``reports/``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import PIL.Image

from ganbench.data.annotations import read_annotations
from ganbench.data.preview import preview_grid
from ganbench.data.sources import open_source
from ganbench.errors import DataError
from ganbench.fileio import atomic_path, sha256_file, write_json


def inspect_dataset(path: str | os.PathLike, verify: bool = False, height: int | None = None) -> dict:
    """Count, resolution, channels, labels and content hash of a folder, zip or TFRecord.

    ``verify`` first checks every stored checksum (zip member CRC-32s, TFRecord length and data
    CRCs) and raises DataError naming the first bad member or record. ``height``: of a TFRecord's images
    (which store no shape), when they are not square."""
    src = open_source(path, height=height)
    if verify:
        src.verify()
    first = src.read_image(0)
    info = {
        "path": str(path),
        "format": type(src).__name__.removesuffix("Source").lower(),
        "count": len(src),
        "resolution": [int(first.shape[1]), int(first.shape[0])],
        "channels": int(first.shape[2]),
        "labels": None if src.labels is None else _label_summary(src.labels),
    }
    if Path(path).is_file():
        info["sha256"] = sha256_file(path)
    return info


def _label_summary(labels: list) -> dict:
    arr = np.asarray(labels)
    if arr.ndim == 1 and np.issubdtype(arr.dtype, np.integer):
        values, counts = np.unique(arr, return_counts=True)
        return {"kind": "class", "classes": {int(v): int(c) for v, c in zip(values, counts)}}
    return {"kind": "vector", "dim": int(arr.reshape(len(arr), -1).shape[1])}


def write_summary(
    name: str,
    zip_path: str | os.PathLike,
    summary_path: str | os.PathLike,
    preview_path: str | os.PathLike,
    annotations_path: str | os.PathLike | None = None,
    tfrecord_path: str | os.PathLike | None = None,
    preview_count: int = 8,
) -> dict:
    """Write ``{name}.json`` (counts, hashes, split, class frequencies) and a preview PNG."""
    info = {"dataset": name, **inspect_dataset(zip_path)}
    src = open_source(zip_path)
    n = min(preview_count, len(src))
    images = np.stack([src.read_image(i) for i in range(n)])
    rows = {}
    if annotations_path is not None:
        ann = read_annotations(annotations_path)
        if len(ann) != info["count"]:
            raise DataError(f"{annotations_path}: {len(ann)} rows for {info['count']} images in {zip_path}")
        rows = dict(label=ann.label[:n], coords=ann.coords[:n], keypoints=ann.keypoints[:n], visible=ann.visible[:n])
        freq = np.bincount(ann.label.ravel(), minlength=len(ann.classes)) / ann.label.size
        info["annotations"] = {
            "category": ann.category,
            "train": int((~ann.is_test).sum()),
            "test": int(ann.is_test.sum()),
            "class_pixel_fraction": {c: round(float(f), 4) for c, f in zip(ann.classes, freq)},
            "keypoints": len(ann.keypoint_names),
            "keypoints_visible_fraction": round(float(ann.visible.mean()), 4),
        }
    if tfrecord_path is not None:
        records = inspect_dataset(tfrecord_path, height=info["resolution"][1])  # the zip's image height
        if records["count"] != info["count"]:
            raise DataError(f"{tfrecord_path}: {records['count']} records for {info['count']} images in {zip_path}")
        info["tfrecord"] = {"path": str(tfrecord_path), "count": records["count"], "sha256": records["sha256"]}
    with atomic_path(preview_path) as tmp:
        PIL.Image.fromarray(preview_grid(images, **rows)).save(tmp, format="png")
    write_json(summary_path, info)
    return info


def write_summary_table(summary_paths: list[str | os.PathLike], dest: str | os.PathLike) -> None:
    """One markdown table over every prepared dataset, linking each preview."""
    lines = [
        "# Prepared datasets",
        "",
        "| dataset | resolution | images | train / test | labels | sha256 (zip) | preview |",
        "|---|---|---:|---|---|---|---|",
    ]
    for path in summary_paths:
        info = json.loads(Path(path).read_text())
        ann = info.get("annotations")
        split = f"{ann['train']} / {ann['test']}" if ann else "-"
        labels = f"{ann['category']}: parts, coordinates, {ann['keypoints']} keypoints" if ann else "-"
        preview = Path(path).with_suffix(".png").name
        res = "x".join(map(str, info["resolution"]))
        lines.append(
            f"| {info['dataset']} | {res} | {info['count']} | {split} | {labels} "
            f"| `{info['sha256'][:12]}` | ![{info['dataset']}](datasets/{preview}) |"
        )
    with atomic_path(dest) as tmp:
        tmp.write_text("\n".join(lines) + "\n")

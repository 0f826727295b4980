"""Figures: training curves from a run's ``log.jsonl`` and a metric (FID) over training.

Both draw on a bare :class:`matplotlib.figure.Figure` attached to the Agg canvas (no pyplot state, no display
needed, whatever backend the process has selected) and write the PNG atomically.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ganbench.errors import DataError
from ganbench.fileio import atomic_path

_AXIS_KEYS = ("kimg", "step")
_REGULARIZER_SUFFIXES = ("_r1", "_pl", "_gp", "_reg")

# panel title -> which log keys it shows; the first panel whose test accepts a key gets it.
_PANELS: tuple[tuple[str, Any], ...] = (
    ("Generator losses", lambda k: k.startswith("loss_G") and not k.endswith(_REGULARIZER_SUFFIXES)),
    ("Discriminator losses", lambda k: k.startswith("loss_D") and not k.endswith(_REGULARIZER_SUFFIXES)),
    ("Regularizers and other losses", lambda k: k.startswith("loss")),
    ("Augmentation probability", lambda k: k.startswith("augment_p")),
    ("Speed (kimg/s)", lambda k: k == "kimg_per_s"),
    ("Other", lambda k: True),
)


def read_log(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The records of a ``log.jsonl``; raise DataError naming the file and line of a malformed one."""
    path = Path(path)
    records = []
    try:
        with open(path) as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path}: line {number}: not valid JSON ({exc.msg})") from None
                if not isinstance(record, dict) or not isinstance(record.get("kimg"), (int, float)):
                    raise DataError(f"{path}: line {number}: expected an object with a numeric 'kimg'")
                records.append(record)
    except FileNotFoundError:
        raise DataError(f"{path}: training log not found") from None
    if not records:
        raise DataError(f"{path}: training log is empty")
    return records


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _panels(records: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    keys: list[str] = []
    for record in records:
        for key, value in record.items():
            if key not in _AXIS_KEYS and key not in keys and _numeric(value):
                keys.append(key)
    panels: dict[str, list[str]] = {}
    for key in keys:
        title = next(title for title, accepts in _PANELS if accepts(key))
        panels.setdefault(title, []).append(key)
    order = [title for title, _ in _PANELS]
    return sorted(panels.items(), key=lambda item: order.index(item[0]))


def _save(fig: Figure, out_path: str | os.PathLike) -> Path:
    out_path = Path(out_path)
    FigureCanvasAgg(fig)
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
    return out_path


def plot_training_curves(log_path: str | os.PathLike, out_path: str | os.PathLike, title: str | None = None) -> Path:
    """One panel per group of logged values (G losses, D losses, regularizers, ADA p, speed) over kimg.

    The keys vary by method; every numeric key other than ``kimg`` and ``step`` is drawn somewhere.
    """
    records = read_log(log_path)
    panels = _panels(records)
    if not panels:
        raise DataError(f"{log_path}: no numeric values to plot besides kimg and step")
    ncols = 2 if len(panels) > 1 else 1
    nrows = math.ceil(len(panels) / ncols)
    fig = Figure(figsize=(6 * ncols, 3.2 * nrows), layout="constrained")
    for i, (panel_title, keys) in enumerate(panels):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        for key in keys:
            points = [(r["kimg"], r[key]) for r in records if _numeric(r.get(key))]
            if points:
                xs, ys = zip(*points)
                ax.plot(xs, ys, label=key, linewidth=1.2, marker="." if len(points) < 30 else None)
        ax.set_title(panel_title, fontsize=10)
        ax.set_xlabel("kimg")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title or Path(log_path).parent.name)
    return _save(fig, out_path)


def plot_metric_curve(
    series: Sequence[tuple[float, float]] | Mapping[str, Sequence[tuple[float, float]]],
    out_path: str | os.PathLike,
    metric: str = "FID",
    title: str | None = None,
) -> Path:
    """A metric over training: ``series`` is a list of (kimg, value), or {label: list of (kimg, value)}."""
    named = dict(series) if isinstance(series, Mapping) else {None: series}
    fig = Figure(figsize=(6, 3.6), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    for label, points in named.items():
        points = sorted((float(k), float(v)) for k, v in points)
        if not points:
            raise DataError(f"{out_path}: no ({metric}) points to plot" + (f" for {label}" if label else ""))
        xs, ys = zip(*points)
        ax.plot(xs, ys, marker="o", linewidth=1.5, label=label)
    ax.set_xlabel("kimg")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    if any(label is not None for label in named):
        ax.legend(fontsize=8)
    ax.set_title(title or f"{metric} over training")
    return _save(fig, out_path)


def plot_samples(
    checkpoint_path: str | os.PathLike,
    out_path: str | os.PathLike,
    seeds: Sequence[int] = range(32),
    cols: int = 8,
    min_tile: int = 96,
) -> Path:
    """A GAN's EMA generator images for fixed seeds, or a stage's preview of the first images of its training
    data (an encoder's reconstructions), magnified to at least ``min_tile`` px per image."""
    from ganbench.metrics.gan_metrics import load_method
    from ganbench.methods.catalog import CATALOG
    from ganbench.train.checkpoint import load_checkpoint
    from ganbench.train.data import training_data_of
    from ganbench.train.loop import save_image_grid

    ckpt = load_checkpoint(checkpoint_path)
    method = load_method(ckpt, path=checkpoint_path)
    if CATALOG[ckpt["method"]].kind == "gan":
        images = method.sample(list(seeds))
    else:
        images = method.preview(training_data_of(ckpt).fixed_batch(len(seeds), "cpu"))
    save_image_grid(images, out_path, cols=cols, zoom=max(1, -(-min_tile // images.shape[-1])))
    return Path(out_path)


def scale_titles(resolution: int, scales: Sequence[int], shown: Sequence[int]) -> list[str]:
    """Column titles of the scale montage: the nested grid shown has s(R-1)+1 points, while the FID of scale s
    renders the paper grid (R s points) against the real data at R s px; each title names both sizes."""
    return [f"{s}x: {n} px shown\nFID at {resolution * s} px" for s, n in zip(scales, shown)]


def plot_scale_montage(
    checkpoint_path: str | os.PathLike,
    out_path: str | os.PathLike,
    scales: Sequence[int] = (1, 2, 4),
    seeds: Sequence[int] = range(4),
    zoom: float = 4.0,
) -> Path:
    """One row per seed: the any-scale generator's image at each scale (nested grids, shown at the same size with
    nearest-neighbour magnification, so finer grids show as finer detail), then a zoom into the image centre
    rendered natively at the largest scale's size (the coordinates of the centre 1/``zoom`` of the field)."""
    import torch

    from ganbench.methods.catalog import methods_with
    from ganbench.metrics.gan_metrics import load_method
    from ganbench.nets.creps import unit_grid
    from ganbench.train.checkpoint import load_checkpoint

    method = load_method(load_checkpoint(checkpoint_path))
    if method.name not in methods_with("any_scale"):
        raise DataError(f"{checkpoint_path}: method {type(method).__name__} renders only its training grid")
    scales = sorted(set(scales) | {1})
    panels = [method.sample(list(seeds), scale=s, grid="nested") for s in scales]
    size = panels[-1].shape[-1]
    half = 0.5 / zoom
    centre = unit_grid(size, 0.5 - half, 0.5 + half)
    panels.append(method.sample(list(seeds), rows=centre, cols=centre))
    titles = scale_titles(method.resolution, scales, [p.shape[-1] for p in panels[:-1]])
    titles.append(f"centre, {zoom:g}x zoom ({size} px)")
    fig = Figure(figsize=(2.2 * len(panels), 2.2 * len(seeds) + 0.4))
    axes = fig.subplots(len(seeds), len(panels), squeeze=False)
    for j, (title, images) in enumerate(zip(titles, panels)):
        images = ((images.float().clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).cpu()
        for i in range(len(seeds)):
            ax = axes[i][j]
            ax.imshow(
                torch.nn.functional.interpolate(
                    images[i : i + 1].permute(0, 3, 1, 2), size=(size, size), mode="nearest"
                )[0]
                .permute(1, 2, 0)
                .numpy(),
                interpolation="nearest",
            )
            ax.set_xticks([]), ax.set_yticks([])
            if i == 0:
                ax.set_title(title, fontsize=8)
    fig.suptitle("One model rendered at several output scales", fontsize=10)
    return _save(fig, out_path)

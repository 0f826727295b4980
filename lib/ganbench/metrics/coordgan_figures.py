"""CoordGAN's figures: the texture-swap grid (row = structure, column = texture) and labels propagated from one
reference to several queries through the encoder's coordinates (research coordgan.md §4.2, soft, T = 0.01)."""

from __future__ import annotations

import os

import numpy as np
import torch

from ganbench.data.annotations import read_annotations
from ganbench.data.dataset import ImageDataset
from ganbench.data.preview import PALETTE
from ganbench.metrics import correspondence as corr


def _restore(checkpoint_path):
    from ganbench.train.checkpoint import load_checkpoint
    from ganbench.train.inputs import restore_method

    return restore_method(load_checkpoint(checkpoint_path), checkpoint_path)


def texture_swap_figure(checkpoint_path: str | os.PathLike, out_png, structures: int = 6, textures: int = 6) -> None:
    """Row i: structure seed i under texture seeds 100.. (a CoordGAN checkpoint)."""
    from ganbench.metrics.coordgan_swap import swap_grid
    from ganbench.train.loop import save_image_grid

    method = _restore(checkpoint_path)
    grid = swap_grid(method, range(structures), range(100, 100 + textures))
    save_image_grid(grid, out_png, cols=textures, zoom=max(1, 128 // method.resolution))


def _labels_as_image(label: np.ndarray) -> torch.Tensor:
    rgb = PALETTE[label % len(PALETTE)].astype(np.float32) / 127.5 - 1
    return torch.from_numpy(rgb).permute(2, 0, 1)


@torch.no_grad()
def propagation_figure(checkpoint_path, data_path, annotations_path, out_png, queries: int = 7) -> None:
    """Top row: the first test image, then the queries; bottom row: the reference's labels, then each query's
    propagated labels (an encoder checkpoint). Without annotations the "labels" are a 4 x 4 grid of cells of the
    reference image (a dataset without part masks): where each query finds the reference's cells."""
    import torch.nn.functional as F

    from ganbench.train.loop import save_image_grid

    method = _restore(checkpoint_path)
    dataset = ImageDataset(data_path, resolution=method.resolution)
    ann = read_annotations(annotations_path) if annotations_path is not None else None
    chosen = np.flatnonzero(ann.is_test)[: 1 + queries] if ann is not None else np.arange(1 + queries)
    images = torch.from_numpy(np.stack([dataset[int(i)][0] for i in chosen])).float() / 127.5 - 1
    coords = method.coordinates(images)
    size = coords.shape[-1]
    if ann is not None:
        k, label = len(ann.classes), torch.from_numpy(ann.label[chosen[0]].astype(np.int64))
    else:  # no part labels (a real dataset): the reference's 4 x 4 grid of cells, each its own class
        cell = torch.arange(size) * 4 // size
        k, label = 16, cell[:, None] * 4 + cell[None, :]
    onehot = corr.resized_onehot(label, k, size)
    preds = [corr.propagate(coords[q], coords[0], onehot).argmax(0).numpy() for q in range(1, len(chosen))]
    labels = [onehot.argmax(0).numpy(), *preds]
    top = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
    bottom = torch.stack([_labels_as_image(lab) for lab in labels])
    save_image_grid(torch.cat([top, bottom]), out_png, cols=len(chosen), zoom=max(1, 128 // size))

"""Preview grids: images, with their part labels, coordinate maps and keypoints when known."""

from __future__ import annotations

import numpy as np

# Label colours by class index (class 0, background, is black); shared by every category.
PALETTE = np.array(
    [
        (0, 0, 0),
        (230, 180, 140),
        (120, 70, 30),
        (40, 120, 255),
        (250, 230, 40),
        (230, 60, 60),
        (200, 40, 200),
        (60, 200, 90),
        (255, 140, 0),
        (0, 200, 200),
        (150, 150, 255),
        (255, 255, 255),
    ],
    dtype=np.uint8,
)


def coordinate_colours(coords: np.ndarray) -> np.ndarray:
    """(..., 2) canonical (u, v) in [-1, 1] -> (..., 3) uint8: u red, v green, blue 128; NaN (background) black."""
    rgb = np.zeros(coords.shape[:-1] + (3,), np.uint8)
    fg = ~np.isnan(coords[..., 0])
    rgb[fg, :2] = np.rint((coords[fg].clip(-1, 1) + 1) / 2 * 255).astype(np.uint8)
    rgb[fg, 2] = 128
    return rgb


def preview_grid(images, label=None, coords=None, keypoints=None, visible=None, pad: int = 2, min_tile: int = 96):
    """One uint8 RGB picture of n samples of R x R: a row of images, then rows of labels and coordinates if given.

    Args:
        images: (n, R, R, 3) uint8.
        label: (n, R, R) class indices, drawn with ``PALETTE``.
        coords: (n, R, R, 2) canonical coordinates; ``keypoints`` (n, K, 2) pixel (x, y) and ``visible``
            (n, K) bool mark the visible keypoints in white on the coordinate row.
        min_tile: small tiles are magnified (nearest neighbour) to at least this size, to stay legible.
    """
    images = np.asarray(images)
    n, res = images.shape[:2]
    rows = [images]
    if label is not None:
        rows.append(PALETTE[np.asarray(label) % len(PALETTE)])
    if coords is not None:
        tiles = coordinate_colours(np.asarray(coords))
        if keypoints is not None:
            r = res // 64
            for tile, kps, vis in zip(tiles, np.asarray(keypoints), np.asarray(visible, bool)):
                for x, y in kps[vis].astype(int):
                    tile[max(y - r, 0) : y + r + 1, max(x - r, 0) : x + r + 1] = 255
        rows.append(tiles)
    zoom = max(1, -(-min_tile // res))
    tile, tile_w = res * zoom, images.shape[2] * zoom  # tiles may be wider than high (panoramas)
    grid = np.full((len(rows) * (tile + pad) + pad, n * (tile_w + pad) + pad, 3), 255, np.uint8)
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            y, x = pad + i * (tile + pad), pad + j * (tile_w + pad)
            grid[y : y + tile, x : x + tile_w] = img.repeat(zoom, 0).repeat(zoom, 1)
    return grid

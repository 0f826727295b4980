"""A small synthetic cylindrical scene: 360° panoramas, seamless by construction, for COCO-GAN's panorama path.

Each image is ``resolution`` px high and ``aspect * resolution`` wide (3: the 256x768 of Matterport3D's
COCO-GAN panoramas, research cocogan.md §2.8). Every term is a function of the angle ``theta = 2 pi x / W``
through its sine and cosine or of the height alone, so column W-1 continues into column 0 as smoothly as
any two neighbouring columns (the seam score of ``ganbench.metrics.seams`` at the wrap is that of an interior
column):

- a sky: a vertical gradient between two random colours and a sun (a soft disc at a random angle);
- a horizon: the height of the ground is a random sum of a few harmonics of theta (hills);
- objects: a few trees (a trunk and a round crown) and houses (a box and a roof) at random angles, their
  horizontal distance measured on the circle;
- the ground: a colour darkening towards the bottom, with a little per-pixel texture that is itself periodic.

Deterministic in (seed, index), rendered with 2x2 supersampling.
"""

from __future__ import annotations

import os

import numpy as np

from ganbench.data.stylegan_zip import write_images_zip
from ganbench.errors import DataError

PANORAMA_ID = 7  # part of the seed: never renumber
SUPERSAMPLE = 2


def _circular_distance(theta: np.ndarray, centre: float) -> np.ndarray:
    """Signed angular distance in (-pi, pi]: the horizontal offset that wraps around the cylinder."""
    return np.angle(np.exp(1j * (theta - centre)))


def _smooth_step(d: np.ndarray, softness: float) -> np.ndarray:
    return 1 / (1 + np.exp(np.clip(d / softness, -50, 50)))


def render_panorama(resolution: int, aspect: int, seed: int, index: int) -> np.ndarray:
    """Panorama ``index`` of the ``seed`` set: (resolution, aspect * resolution, 3) uint8."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, index, PANORAMA_ID])))
    h, w = resolution * SUPERSAMPLE, aspect * resolution * SUPERSAMPLE
    y = (np.arange(h) + 0.5)[:, None] / h  # 0 at the top
    theta = 2 * np.pi * (np.arange(w) + 0.5)[None, :] / w
    sky_top, sky_bottom = rng.uniform([0.1, 0.2, 0.5], [0.4, 0.6, 1.0]), rng.uniform([0.6, 0.6, 0.7], [1, 1, 1])
    image = sky_top + (sky_bottom - sky_top) * y[..., None] ** 0.8 + 0 * theta[..., None]
    sun_theta, sun_y, sun_r = rng.uniform(0, 2 * np.pi), rng.uniform(0.1, 0.3), rng.uniform(0.04, 0.08)
    sun = _smooth_step(np.hypot(_circular_distance(theta, sun_theta) / (2 * np.pi) * aspect, y - sun_y) - sun_r, 0.01)
    image = image + (np.array([1.0, 0.95, 0.7]) - image) * sun[..., None]
    # horizon: a few harmonics of theta
    harmonics = np.arange(1, 5)
    amp = rng.uniform(0, 0.06, len(harmonics)) / harmonics
    phase = rng.uniform(0, 2 * np.pi, len(harmonics))
    horizon = rng.uniform(0.5, 0.65) + (amp[:, None] * np.sin(harmonics[:, None] * theta + phase[:, None])).sum(0)
    ground = _smooth_step(horizon[None, :] - y, 0.004)  # 1 below the horizon
    ground_colour = rng.uniform([0.2, 0.35, 0.1], [0.5, 0.6, 0.3])
    shade = ground_colour * (1 - 0.5 * (y[..., None] - 0.5).clip(0, 1))
    texture = 0.04 * np.sin(7 * theta + 40 * y) * np.cos(3 * theta)
    image = image * (1 - ground[..., None]) + (shade + texture[..., None]) * ground[..., None]
    for _ in range(rng.integers(2, 6)):
        centre = rng.uniform(0, 2 * np.pi)
        dx = _circular_distance(theta, centre) / (2 * np.pi) * aspect  # in image heights
        base = horizon[None, :].min() + rng.uniform(0.02, 0.15)
        size = rng.uniform(0.08, 0.2)
        if rng.uniform() < 0.5:  # a tree: trunk and crown
            trunk = _smooth_step(np.abs(dx) - size * 0.08, 0.003) * _smooth_step(y - base, 0.003)
            trunk = trunk * _smooth_step(base - size - y, 0.003)
            crown = _smooth_step(np.hypot(dx, y - (base - size)) - size * 0.45, 0.004)
            for mask, colour in ((trunk, [0.35, 0.22, 0.1]), (crown, rng.uniform([0.05, 0.3, 0.05], [0.3, 0.6, 0.2]))):
                image = image + (np.array(colour) - image) * mask[..., None]
        else:  # a house: a wall and a triangular roof
            eave, top = base - 0.6 * size, base - 0.9 * size
            wall = _smooth_step(np.abs(dx) - 0.5 * size, 0.003) * _smooth_step(y - base, 0.003)
            wall = wall * _smooth_step(eave - y, 0.003)
            roof = _smooth_step(np.abs(dx) - 2 * (y - top), 0.003) * _smooth_step(y - eave, 0.003)
            roof = roof * _smooth_step(top - y, 0.003)
            for mask, colour in (
                (wall, rng.uniform(0.5, 0.9, 3)),
                (roof, rng.uniform([0.4, 0.1, 0.1], [0.7, 0.3, 0.2])),
            ):
                image = image + (np.array(colour) - image) * mask[..., None]
    image = image.reshape(resolution, SUPERSAMPLE, aspect * resolution, SUPERSAMPLE, 3).mean(axis=(1, 3))
    return (image.clip(0, 1) * 255).round().astype(np.uint8)


def make_panorama_dataset(resolution: int, aspect: int, count: int, seed: int, zip_path: str | os.PathLike) -> int:
    """Write ``count`` panoramas as a dataset_tool zip (atomically); bad arguments are a one-line DataError."""
    for name, value, minimum in (("resolution", resolution, 8), ("aspect", aspect, 1), ("count", count, 1)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
            raise DataError(f"panorama {name} {value!r} is not an integer >= {minimum}")
    return write_images_zip((render_panorama(resolution, aspect, seed, i) for i in range(count)), zip_path)

"""The synthetic benchmark: procedural faces and cars with exact part labels, coordinates and keypoints.

Each image is a canonical template (``ganbench.data.templates``) seen through a random smooth warp
``W`` that maps image space to canonical space, ``u = W(p)``:

    u0 = A^-1 (p - t)                        inverse of a random similarity (plus a little anisotropy)
    u  = u0 + sum_c a_c sin(w_c . u0 + phi_c)  low-frequency displacement, Lipschitz bound < 1

so the image is rendered by inverse mapping (evaluate the template at ``W(p)`` for every sample
point ``p``) and ``W`` is invertible (the displacement is a contraction). Conventions:

* image points ``p = (x, y)`` in [-1, 1]^2, x to the right, y downwards; the centre of pixel
  (row i, column j) of an R x R image is ``((j + 0.5) / R * 2 - 1, (i + 0.5) / R * 2 - 1)``;
* keypoints are returned in pixels, (0, 0) being the top-left corner of the top-left pixel, so the
  centre of column j is x = j + 0.5;
* colours are averaged over S x S sub-pixel samples (anti-aliasing); labels and coordinates are
  taken at the pixel centre only.

Every random parameter of a sample is drawn first, from its own generator seeded with
``SeedSequence([seed, index, category_id])``, and only then rendered: the same (category, seed,
index) is the same object at every resolution, and samples can be made in any order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ganbench.data.templates import TEMPLATES, Template
from ganbench.errors import DataError

CATEGORY_IDS = {"face": 0, "car": 1}  # part of the seed: never renumber
CLASSES: dict[str, tuple[str, ...]] = {c: TEMPLATES[c].classes for c in CATEGORY_IDS}
KEYPOINT_NAMES: dict[str, tuple[str, ...]] = {c: tuple(TEMPLATES[c].keypoints) for c in CATEGORY_IDS}
KEYPOINT_CANONICAL: dict[str, np.ndarray] = {
    c: np.array(list(TEMPLATES[c].keypoints.values()), dtype=np.float32) for c in CATEGORY_IDS
}
MIN_RESOLUTION, MAX_RESOLUTION = 8, 1024


_DISPLACEMENT_TERMS = 4
_TEXTURE_TERMS = 3  # two smooth-noise terms and one stripe term per colour key


@dataclass(frozen=True)
class SyntheticSample:
    """One rendered sample of an R x R image with K keypoints.

    image:     (R, R, 3) uint8 RGB.
    label:     (R, R) uint8, index into ``CLASSES[category]`` (0 = background), at pixel centres.
    coords:    (R, R, 2) float32 canonical (u, v) in [-1, 1] at pixel centres; NaN where label == 0.
    keypoints: (K, 2) float32 (x, y) in pixels, in the order of ``KEYPOINT_NAMES[category]``.
    visible:   (K,) bool: the keypoint lies inside the frame and the pixel containing it is
               foreground (label != 0, so ``coords`` there is defined). Parts covering others (hair
               over an ear) do not hide a keypoint: the template is flat, its coordinates are exact.
    """

    image: np.ndarray
    label: np.ndarray
    coords: np.ndarray
    keypoints: np.ndarray
    visible: np.ndarray


@dataclass(frozen=True)
class _Params:
    """Everything random about one sample; independent of the resolution."""

    matrix: np.ndarray  # (2, 2) A: canonical -> image, before translation
    translation: np.ndarray  # (2,)
    disp_amp: np.ndarray  # (C, 2)
    disp_freq: np.ndarray  # (C, 2)
    disp_phase: np.ndarray  # (C,)
    style: dict
    colours: np.ndarray  # (n_keys, 3) in [0, 1]
    tex_freq: np.ndarray  # (n_keys, T, 2)
    tex_phase: np.ndarray  # (n_keys, T)
    tex_amp: np.ndarray  # (n_keys, T)
    edge: float  # darkening at part boundaries
    light: np.ndarray  # (2,) shading gradient over canonical space
    bg_colours: np.ndarray  # (2, 3) gradient end points
    bg_direction: np.ndarray  # (2,)
    bg_freq: np.ndarray  # (4, 2)
    bg_phase: np.ndarray  # (4,)
    bg_amp: np.ndarray  # (4, 3)
    blobs: list  # n x [cx, cy, rx, ry, angle, r, g, b]: background clutter


def _check(category: str, resolution: int) -> Template:
    if category not in CATEGORY_IDS:
        raise DataError(f"unknown synthetic category {category!r} (expected one of {sorted(CATEGORY_IDS)})")
    if not isinstance(resolution, (int, np.integer)) or not MIN_RESOLUTION <= resolution <= MAX_RESOLUTION:
        raise DataError(f"synthetic resolution {resolution!r} is outside [{MIN_RESOLUTION}, {MAX_RESOLUTION}]")
    return TEMPLATES[category]


def _random_directions(rng, n, low, high):
    angle = rng.uniform(0, 2 * np.pi, n)
    return np.stack([np.cos(angle), np.sin(angle)], 1) * rng.uniform(low, high, (n, 1))


def _draw_params(template: Template, rng: np.random.Generator) -> _Params:
    """Draw every random parameter of a sample, in a fixed order (the order is part of the data)."""
    scale = rng.uniform(*template.scale)
    aniso = rng.uniform(-template.max_anisotropy, template.max_anisotropy)
    angle = rng.uniform(-template.max_rotation, template.max_rotation)
    c, s = np.cos(angle), np.sin(angle)
    matrix = np.array([[c, -s], [s, c]]) @ np.diag([scale * np.exp(aniso), scale * np.exp(-aniso)])
    translation = rng.uniform(-template.max_translation, template.max_translation, 2)

    disp_freq = _random_directions(rng, _DISPLACEMENT_TERMS, 1.5, 4.0)
    disp_amp = _random_directions(rng, _DISPLACEMENT_TERMS, 0.2, 1.0)
    disp_phase = rng.uniform(0, 2 * np.pi, _DISPLACEMENT_TERMS)
    # sum |a_c| |w_c| bounds the displacement's Jacobian norm: keeping it < 1 keeps W invertible.
    bound = np.sum(np.linalg.norm(disp_amp, axis=1) * np.linalg.norm(disp_freq, axis=1))
    disp_amp *= rng.uniform(*template.lipschitz) / bound

    style = template.draw_style(rng)
    colours = template.draw_colours(rng)
    n_keys = len(template.colour_keys)
    tex_freq = np.concatenate(
        [
            _random_directions(rng, 2 * n_keys, 3.0, 9.0).reshape(n_keys, 2, 2),
            _random_directions(rng, n_keys, 12.0, 25.0).reshape(n_keys, 1, 2),
        ],
        1,
    )
    tex_phase = rng.uniform(0, 2 * np.pi, (n_keys, _TEXTURE_TERMS))
    tex_amp = rng.uniform(0, 0.12, (n_keys, _TEXTURE_TERMS))
    tex_amp[:, 2] *= rng.uniform(size=n_keys) < 0.4  # stripes on some parts only

    edge = rng.uniform(0.15, 0.45)
    light = _random_directions(rng, 1, 0.0, 0.25)[0]

    grey = rng.uniform(0.1, 0.9, (2, 1))
    bg_colours = grey + rng.uniform(0.1, 0.7, (2, 1)) * (rng.uniform(0.05, 0.95, (2, 3)) - grey)
    bg_direction = _random_directions(rng, 1, 1.0, 1.0)[0]
    bg_freq = _random_directions(rng, 4, 2.0, 12.0)
    bg_phase = rng.uniform(0, 2 * np.pi, 4)
    bg_amp = rng.uniform(-0.08, 0.08, (4, 3))
    n_blobs = rng.integers(0, 5)
    blobs = np.concatenate(
        [
            rng.uniform(-1, 1, (n_blobs, 2)),
            rng.uniform(0.08, 0.45, (n_blobs, 2)),
            rng.uniform(0, np.pi, (n_blobs, 1)),
            rng.uniform(0, 1, (n_blobs, 3)),
        ],
        1,
    )
    # float32 throughout rendering: numpy's float32 sin is ~20x faster than float64's.
    f32 = lambda a: np.asarray(a, dtype=np.float32)  # noqa: E731
    return _Params(
        f32(matrix),
        f32(translation),
        f32(disp_amp),
        f32(disp_freq),
        f32(disp_phase),
        style,
        f32(colours),
        f32(tex_freq),
        f32(tex_phase),
        f32(tex_amp),
        float(edge),
        f32(light),
        f32(bg_colours),
        f32(bg_direction),
        f32(bg_freq),
        f32(bg_phase),
        f32(bg_amp),
        blobs.tolist(),
    )


def _displacement(params: _Params, u0: np.ndarray) -> np.ndarray:
    """(..., 2) -> (..., 2): the non-rigid part, sum_c a_c sin(w_c . u0 + phi_c)."""
    return np.sin(u0 @ params.disp_freq.T + params.disp_phase) @ params.disp_amp


def _warp(params: _Params, p: np.ndarray) -> np.ndarray:
    """W: image points (..., 2) -> canonical points (..., 2)."""
    u0 = (p - params.translation) @ np.linalg.inv(params.matrix).T
    return u0 + _displacement(params, u0)


def _unwarp(params: _Params, u: np.ndarray, iterations: int = 50) -> np.ndarray:
    """W^-1: canonical points (K, 2) float64 -> image points (K, 2).

    Solves u0 + d(u0) = u by the fixed-point iteration u0 <- u - d(u0), a contraction because
    d's Lipschitz bound is < 1 (the error shrinks by a factor 0.4 or better per step here).
    """
    u0 = u.copy()
    for _ in range(iterations):
        u0, previous = u - _displacement(params, u0), u0
        if np.max(np.abs(u0 - previous)) < 1e-7:
            break
    return u0 @ params.matrix.T + params.translation


def _evaluate(template: Template, u: np.ndarray, style: dict):
    """Template at canonical points u (..., 2): label (uint8), colour key (int), sdf of the top layer."""
    x, y = u[..., 0], u[..., 1]
    label = np.zeros(x.shape, np.uint8)
    key = np.zeros(x.shape, np.intp)
    sdf = np.zeros(x.shape, u.dtype)
    for cls, k, d in template.layers(x, y, style):
        inside = d < 0
        np.copyto(label, cls, where=inside)
        np.copyto(key, k, where=inside)
        np.copyto(sdf, d, where=inside)
    label[(np.abs(x) > 1) | (np.abs(y) > 1)] = 0
    return label, key, sdf


def _background(params: _Params, p: np.ndarray, pixel: float) -> np.ndarray:
    """Background colours (..., 3) at pixel centres p (..., 2): gradient, smooth noise, clutter blobs.

    Smooth enough to need no supersampling: blob edges are anti-aliased analytically over one
    pixel (``pixel``: the pixel size in image units).
    """
    t = (p @ params.bg_direction + 1.5) / 3.0
    rgb = params.bg_colours[0] + t[..., None] * (params.bg_colours[1] - params.bg_colours[0])
    rgb = rgb + np.sin(p @ params.bg_freq.T + params.bg_phase) @ params.bg_amp
    for cx, cy, rx, ry, angle, *colour in params.blobs:
        dx, dy = p[..., 0] - cx, p[..., 1] - cy
        c, s = math.cos(angle), math.sin(angle)
        sdf = (np.sqrt(((c * dx + s * dy) / rx) ** 2 + ((c * dy - s * dx) / ry) ** 2) - 1) * min(rx, ry)
        coverage = np.clip(0.5 - sdf / pixel, 0, 1)
        rgb += 0.4 * coverage[..., None] * (np.asarray(colour, np.float32) - rgb)
    return rgb


def _foreground(params: _Params, u: np.ndarray, key: np.ndarray, sdf: np.ndarray) -> np.ndarray:
    """Part colours (N, 3) at canonical points u (N, 2) with colour keys and top-layer sdf (N,)."""
    phase = np.einsum("ntd,nd->nt", params.tex_freq[key], u) + params.tex_phase[key]
    texture = np.sum(params.tex_amp[key] * np.sin(phase), axis=1)
    shade = (1 + texture) * (1 - params.edge * np.exp(sdf / 0.03)) * (1 + u @ params.light)
    return params.colours[key] * shade[:, None]


def _pixel_grid(n: int) -> np.ndarray:
    """(n, n, 2) centres of an n x n grid over [-1, 1]^2, as (x, y)."""
    c = ((np.arange(n) + 0.5) / n * 2 - 1).astype(np.float32)
    return np.stack(np.meshgrid(c, c, indexing="xy"), axis=-1)


def _supersampling(resolution: int) -> int:
    return 3 if resolution <= 64 else 2


def render_sample(category: str, resolution: int, seed: int, index: int) -> SyntheticSample:
    """Render sample ``index`` of the (category, seed) benchmark at ``resolution`` x ``resolution``.

    Deterministic in (category, seed, index); the resolution changes only the sampling.
    Raises DataError for an unknown category or a resolution outside [8, 1024].
    """
    template = _check(category, resolution)
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, index, CATEGORY_IDS[category]])))
    params = _draw_params(template, rng)

    # Labels and coordinates: pixel centres only.
    centres = _pixel_grid(resolution)
    u_centre = _warp(params, centres)
    label, _, _ = _evaluate(template, u_centre, params.style)
    coords = np.where((label > 0)[..., None], u_centre, np.nan).astype(np.float32)

    # Colours: the object is supersampled (S x S samples per pixel, averaged), then laid over the
    # background in proportion to its coverage of each pixel.
    ss = _supersampling(resolution)
    u = _warp(params, _pixel_grid(resolution * ss))
    part, key, sdf = _evaluate(template, u, params.style)
    fg = part > 0
    rgb = np.zeros(fg.shape + (3,), np.float32)
    rgb[fg] = _foreground(params, u[fg], key[fg], sdf[fg])
    coverage = fg.reshape(resolution, ss, resolution, ss).mean(axis=(1, 3), dtype=np.float32)
    rgb = rgb.reshape(resolution, ss, resolution, ss, 3).mean(axis=(1, 3))
    rgb += (1 - coverage)[..., None] * _background(params, centres, 2 / resolution)
    image = np.clip(np.rint(rgb * 255), 0, 255).astype(np.uint8)

    canonical = KEYPOINT_CANONICAL[category].astype(np.float64)
    keypoints = (_unwarp(params, canonical) + 1) / 2 * resolution
    cols, rows = np.floor(keypoints).astype(int).T
    inside = (cols >= 0) & (cols < resolution) & (rows >= 0) & (rows < resolution)
    visible = inside.copy()
    visible[inside] = label[rows[inside], cols[inside]] > 0
    return SyntheticSample(image, label, coords, keypoints.astype(np.float32), visible)


def iter_samples(category: str, resolution: int, count: int, seed: int, start: int = 0) -> Iterator[SyntheticSample]:
    """Samples ``start`` .. ``start + count - 1`` in order (sample i does not depend on count)."""
    _check(category, resolution)
    return (render_sample(category, resolution, seed, i) for i in range(start, start + count))


def train_test_split(count: int, test_fraction: float, seed: int) -> np.ndarray:
    """(count,) bool mask "is test": exactly round(count * test_fraction) True, deterministic in seed."""
    if not 0.0 <= test_fraction <= 1.0:
        raise DataError(f"test_fraction {test_fraction!r} is outside [0, 1]")
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 0x5EED])))
    is_test = np.zeros(count, dtype=bool)
    is_test[rng.permutation(count)[: round(count * test_fraction)]] = True
    return is_test

"""Canonical part templates of the synthetic benchmark: a face and a car in side view.

A template is a stack of layers drawn back to front (painter's order) in canonical coordinates
``(u, v)`` in [-1, 1]^2, with ``u`` to the right and ``v`` downwards, like image axes. Each layer
is ``(class_index, colour_key_index, sdf)`` where ``sdf`` is a signed-distance-like array (negative
inside, roughly in canonical units near the boundary). A layer may share its class with another
one and only differ in colour (the iris is ``eye``, the rim is ``wheel``): colour keys are finer
than classes. Keypoints are fixed canonical points, each inside the part it names.

Per-image *style* (a few floats drawn by ``draw_style``) changes only regions that hold no keypoint
(hair length, hairline, gaze, rim size), so a keypoint's canonical position never moves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

Layer = tuple[int, int, np.ndarray]


# ----------------------------------------------------------------------------- primitives
# x, y: float arrays of the same shape (canonical u, v). Every primitive returns an array like x.


def ellipse(x, y, cx, cy, rx, ry, angle=0.0):
    """Approximate signed distance to an ellipse (exact for a circle), rotated by ``angle`` rad."""
    dx, dy = x - cx, y - cy
    if angle:
        c, s = math.cos(angle), math.sin(angle)
        dx, dy = c * dx + s * dy, -s * dx + c * dy
    return (np.sqrt((dx / rx) ** 2 + (dy / ry) ** 2) - 1.0) * min(rx, ry)


def rounded_box(x, y, x0, x1, y0, y1, r):
    """Signed distance to the box [x0, x1] x [y0, y1] with corners rounded by ``r``."""
    qx = np.abs(x - (x0 + x1) / 2) - (x1 - x0) / 2 + r
    qy = np.abs(y - (y0 + y1) / 2) - (y1 - y0) / 2 + r
    outside = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0))
    return outside + np.minimum(np.maximum(qx, qy), 0) - r


def polygon(x, y, points):
    """Signed distance to a convex polygon (exact inside, a lower bound outside)."""
    p = np.asarray(points, dtype=float)
    q = np.roll(p, -1, axis=0)
    area2 = np.sum(p[:, 0] * q[:, 1] - q[:, 0] * p[:, 1])
    edges = (q - p) * np.sign(area2)
    normals = np.stack([edges[:, 1], -edges[:, 0]], 1) / np.linalg.norm(edges, axis=1, keepdims=True)
    d = None
    for (px, py), (nx, ny) in zip(p.tolist(), normals.tolist()):
        e = (x - px) * nx + (y - py) * ny
        d = e if d is None else np.maximum(d, e)
    return d


def union(*sdfs):
    return np.minimum.reduce(sdfs)


def subtract(a, b):
    return np.maximum(a, -b)


def intersect(a, b):
    return np.maximum(a, b)


# ----------------------------------------------------------------------------- colours


def _jitter(rng, rgb, amount):
    return np.clip(np.asarray(rgb, dtype=float) + rng.uniform(-amount, amount, 3), 0.0, 1.0)


def _hsv(h, s, v):
    """One HSV colour (all in [0, 1]) to RGB."""
    k = (np.array([5.0, 3.0, 1.0]) + h * 6.0) % 6.0
    return v - v * s * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


def _pick(rng, choices):
    return np.asarray(choices[rng.integers(len(choices))], dtype=float)


# ----------------------------------------------------------------------------- face

FACE_CLASSES = ("background", "skin", "hair", "eye", "brow", "nose", "mouth", "ear")
FACE_KEYS = ("skin", "hair", "ear", "ear_inner", "brow", "eye_white", "iris", "nose", "nostril", "lips", "mouth_line")
_F = {name: i for i, name in enumerate(FACE_CLASSES)}
_FK = {name: i for i, name in enumerate(FACE_KEYS)}

_EYE_X, _EYE_Y, _EYE_R = 0.21, -0.03, (0.11, 0.055)
_BROW_X, _BROW_Y, _BROW_R, _BROW_TILT = 0.21, -0.17, (0.13, 0.035), 0.15
_EAR_X, _EAR_Y, _EAR_R = 0.60, 0.05, (0.10, 0.17)
_MOUTH_Y, _MOUTH_R = 0.47, (0.19, 0.065)


def _brow_end(side: float, along: float) -> tuple[float, float]:
    """Point ``along`` canonical units from the brow centre on its major axis (side -1 image-left)."""
    angle = side * _BROW_TILT
    return side * _BROW_X + along * math.cos(angle), _BROW_Y + along * math.sin(angle)


FACE_KEYPOINTS = {
    "left_eye": (-_EYE_X, _EYE_Y),
    "right_eye": (_EYE_X, _EYE_Y),
    "left_eye_outer": (-_EYE_X - 0.08, _EYE_Y),
    "left_eye_inner": (-_EYE_X + 0.08, _EYE_Y),
    "right_eye_inner": (_EYE_X - 0.08, _EYE_Y),
    "right_eye_outer": (_EYE_X + 0.08, _EYE_Y),
    "left_brow_outer": _brow_end(-1, -0.09),
    "left_brow_inner": _brow_end(-1, 0.09),
    "right_brow_inner": _brow_end(1, -0.09),
    "right_brow_outer": _brow_end(1, 0.09),
    "nose_tip": (0.0, 0.27),
    "mouth_left": (-0.15, _MOUTH_Y),
    "mouth_right": (0.15, _MOUTH_Y),
    "upper_lip": (0.0, _MOUTH_Y - 0.035),
    "chin": (0.0, 0.76),
    "left_ear": (-_EAR_X - 0.03, _EAR_Y),
    "right_ear": (_EAR_X + 0.03, _EAR_Y),
}


def _face_style(rng) -> dict:
    return {
        "hair_length": rng.uniform(-0.4, 1.0),  # <= 0: no long hair behind the head
        "hairline": rng.uniform(0.18, 0.32),
        "gaze": tuple(rng.uniform(-0.03, 0.03, 2).tolist()),
    }


def _face_layers(x, y, style) -> Iterator[Layer]:
    if style["hair_length"] > 0:
        yield _F["hair"], _FK["hair"], rounded_box(x, y, -0.72, 0.72, -0.5, 0.05 + 0.8 * style["hair_length"], 0.25)
    yield _F["skin"], _FK["skin"], rounded_box(x, y, -0.19, 0.19, 0.4, 0.97, 0.08)
    ears = union(ellipse(x, y, -_EAR_X, _EAR_Y, *_EAR_R), ellipse(x, y, _EAR_X, _EAR_Y, *_EAR_R))
    yield _F["ear"], _FK["ear"], ears
    yield (
        _F["ear"],
        _FK["ear_inner"],
        union(ellipse(x, y, -_EAR_X - 0.02, _EAR_Y, 0.045, 0.1), ellipse(x, y, _EAR_X + 0.02, _EAR_Y, 0.045, 0.1)),
    )
    yield _F["skin"], _FK["skin"], ellipse(x, y, 0.0, 0.05, 0.56, 0.76)
    yield (
        _F["hair"],
        _FK["hair"],
        subtract(ellipse(x, y, 0.0, -0.2, 0.64, 0.62), ellipse(x, y, 0.0, style["hairline"], 0.52, 0.7)),
    )
    yield (
        _F["brow"],
        _FK["brow"],
        union(
            ellipse(x, y, -_BROW_X, _BROW_Y, *_BROW_R, angle=-_BROW_TILT),
            ellipse(x, y, _BROW_X, _BROW_Y, *_BROW_R, angle=_BROW_TILT),
        ),
    )
    eyes = union(ellipse(x, y, -_EYE_X, _EYE_Y, *_EYE_R), ellipse(x, y, _EYE_X, _EYE_Y, *_EYE_R))
    yield _F["eye"], _FK["eye_white"], eyes
    gx, gy = style["gaze"]
    irises = union(
        ellipse(x, y, -_EYE_X + gx, _EYE_Y + gy, 0.045, 0.045), ellipse(x, y, _EYE_X + gx, _EYE_Y + gy, 0.045, 0.045)
    )
    yield _F["eye"], _FK["iris"], intersect(irises, eyes)
    yield _F["nose"], _FK["nose"], ellipse(x, y, 0.0, 0.17, 0.075, 0.15)
    yield (
        _F["nose"],
        _FK["nostril"],
        union(ellipse(x, y, -0.035, 0.285, 0.022, 0.013), ellipse(x, y, 0.035, 0.285, 0.022, 0.013)),
    )
    yield _F["mouth"], _FK["lips"], ellipse(x, y, 0.0, _MOUTH_Y, *_MOUTH_R)
    yield _F["mouth"], _FK["mouth_line"], ellipse(x, y, 0.0, _MOUTH_Y + 0.005, 0.17, 0.011)


def _face_colours(rng) -> np.ndarray:
    skin = _jitter(rng, np.array([0.98, 0.84, 0.72]) + rng.uniform() * np.array([-0.62, -0.62, -0.56]), 0.04)
    hair = _jitter(
        rng,
        _pick(
            rng,
            [
                (0.08, 0.07, 0.06),
                (0.32, 0.19, 0.1),
                (0.85, 0.7, 0.42),
                (0.62, 0.26, 0.1),
                (0.72, 0.72, 0.72),
                _hsv(rng.uniform(), 0.7, 0.7),
            ],
        ),
        0.05,
    )
    iris = _jitter(rng, _pick(rng, [(0.35, 0.2, 0.1), (0.25, 0.45, 0.7), (0.3, 0.5, 0.3), (0.1, 0.08, 0.07)]), 0.05)
    lips = _jitter(rng, 0.45 * skin + 0.55 * np.array([0.78, 0.3, 0.32]), 0.05)
    colours = {
        "skin": skin,
        "hair": hair,
        "ear": skin * 0.94,
        "ear_inner": skin * 0.72,
        "brow": hair * 0.7,
        "eye_white": _jitter(rng, (0.95, 0.94, 0.9), 0.03),
        "iris": iris,
        "nose": skin * 0.92,
        "nostril": skin * 0.45,
        "lips": lips,
        "mouth_line": lips * 0.35,
    }
    return np.stack([colours[k] for k in FACE_KEYS])


# ----------------------------------------------------------------------------- car (side view, front to the right)

CAR_CLASSES = ("background", "body", "window", "wheel", "light", "bumper", "mirror", "door")
CAR_KEYS = ("body", "door", "handle", "window", "tyre", "rim", "headlight", "taillight", "bumper", "mirror")
_C = {name: i for i, name in enumerate(CAR_CLASSES)}
_CK = {name: i for i, name in enumerate(CAR_KEYS)}

_WHEELS = ((-0.55, 0.34), (0.56, 0.34))
_WHEEL_R = 0.2
_REAR_WINDOW = ((-0.62, -0.14), (-0.46, -0.41), (-0.2, -0.42), (-0.2, -0.14))
_FRONT_WINDOW = ((-0.13, -0.14), (-0.13, -0.42), (0.03, -0.43), (0.3, -0.14))

CAR_KEYPOINTS = {
    "rear_wheel": _WHEELS[0],
    "front_wheel": _WHEELS[1],
    "headlight": (0.87, 0.06),
    "taillight": (-0.905, 0.03),
    "front_bumper": (0.89, 0.28),
    "rear_bumper": (-0.89, 0.28),
    "mirror": (0.36, -0.12),
    "roof": (-0.3, -0.445),
    "rear_window": (-0.38, -0.27),
    "front_window": (0.02, -0.27),
    "door_handle": (-0.05, 0.0),
    "sill": (0.0, 0.29),
}


def _car_style(rng) -> dict:
    return {"rim": rng.uniform(0.09, 0.14)}


def _car_layers(x, y, style) -> Iterator[Layer]:
    body = polygon(
        x, y, [(-0.94, -0.08), (-0.5, -0.12), (0.35, -0.1), (0.9, -0.02), (0.95, 0.1), (0.95, 0.32), (-0.95, 0.32)]
    )
    cabin = polygon(x, y, [(-0.72, -0.1), (-0.5, -0.46), (0.05, -0.48), (0.4, -0.1)])
    arches = union(*(ellipse(x, y, cx, cy, 0.25, 0.25) for cx, cy in _WHEELS))
    yield _C["body"], _CK["body"], subtract(union(body, cabin), arches)
    yield _C["window"], _CK["window"], union(polygon(x, y, _REAR_WINDOW), polygon(x, y, _FRONT_WINDOW))
    yield _C["door"], _CK["door"], rounded_box(x, y, -0.17, 0.31, -0.07, 0.25, 0.04)
    yield _C["door"], _CK["handle"], rounded_box(x, y, -0.1, 0.0, -0.015, 0.015, 0.01)
    yield _C["mirror"], _CK["mirror"], ellipse(x, y, 0.36, -0.12, 0.065, 0.04)
    yield _C["light"], _CK["headlight"], ellipse(x, y, 0.87, 0.06, 0.075, 0.035)
    yield _C["light"], _CK["taillight"], rounded_box(x, y, -0.95, -0.86, -0.04, 0.1, 0.02)
    yield (
        _C["bumper"],
        _CK["bumper"],
        union(rounded_box(x, y, 0.78, 0.98, 0.22, 0.34, 0.04), rounded_box(x, y, -0.98, -0.8, 0.22, 0.34, 0.04)),
    )
    wheels = [ellipse(x, y, cx, cy, _WHEEL_R, _WHEEL_R) for cx, cy in _WHEELS]
    rims = [ellipse(x, y, cx, cy, style["rim"], style["rim"]) for cx, cy in _WHEELS]
    hubs = [ellipse(x, y, cx, cy, 0.025, 0.025) for cx, cy in _WHEELS]
    yield _C["wheel"], _CK["tyre"], union(*wheels)
    yield _C["wheel"], _CK["rim"], union(*rims)
    yield _C["wheel"], _CK["tyre"], union(*hubs)


def _car_colours(rng) -> np.ndarray:
    if rng.uniform() < 0.35:  # white, black and silver cars are common
        body = _jitter(rng, np.full(3, rng.choice([0.1, 0.55, 0.75, 0.92])), 0.04)
    else:
        body = _hsv(rng.uniform(), rng.uniform(0.4, 0.9), rng.uniform(0.35, 0.9))
    window = _jitter(rng, _pick(rng, [(0.12, 0.15, 0.2), (0.35, 0.45, 0.55), (0.2, 0.25, 0.3)]), 0.04)
    trim = _pick(rng, [body * 0.9, (0.15, 0.15, 0.16), (0.7, 0.7, 0.72)])
    colours = {
        "body": body,
        "door": np.clip(body * rng.uniform(0.88, 1.06), 0, 1),
        "handle": trim * 0.8 + 0.1,
        "window": window,
        "tyre": _jitter(rng, (0.07, 0.07, 0.08), 0.03),
        "rim": _jitter(rng, np.full(3, rng.uniform(0.45, 0.85)), 0.03),
        "headlight": _jitter(rng, (1.0, 0.95, 0.75), 0.05),
        "taillight": _jitter(rng, (0.8, 0.1, 0.1), 0.06),
        "bumper": trim,
        "mirror": _pick(rng, [body, (0.1, 0.1, 0.1)]),
    }
    return np.stack([np.clip(colours[k], 0, 1) for k in CAR_KEYS])


# ----------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Template:
    """One category: classes, colour keys, keypoints, layers and the ranges of its random warp."""

    classes: tuple[str, ...]
    colour_keys: tuple[str, ...]
    keypoints: dict[str, tuple[float, float]]
    layers: Callable[[np.ndarray, np.ndarray, dict], Iterator[Layer]]
    draw_style: Callable[[np.random.Generator], dict]
    draw_colours: Callable[[np.random.Generator], np.ndarray]
    scale: tuple[float, float]  # canonical -> image scale range
    max_rotation: float  # radians
    max_anisotropy: float  # log of the x/y scale ratio, half range
    max_translation: float  # image units ([-1, 1] frame)
    lipschitz: tuple[float, float]  # range of the non-rigid displacement's Lipschitz bound (< 1)


TEMPLATES = {
    "face": Template(
        FACE_CLASSES,
        FACE_KEYS,
        FACE_KEYPOINTS,
        _face_layers,
        _face_style,
        _face_colours,
        scale=(0.78, 0.95),
        max_rotation=0.2,
        max_anisotropy=0.1,
        max_translation=0.07,
        lipschitz=(0.1, 0.4),
    ),
    "car": Template(
        CAR_CLASSES,
        CAR_KEYS,
        CAR_KEYPOINTS,
        _car_layers,
        _car_style,
        _car_colours,
        scale=(0.82, 0.94),
        max_rotation=0.1,
        max_anisotropy=0.12,
        max_translation=0.06,
        lipschitz=(0.05, 0.25),
    ),
}

"""Shared fixtures: small image sets the tests build themselves (no test touches the network)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import PIL.Image
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def random_images(n: int, size: int = 16, seed: int = 0) -> np.ndarray:
    """(n, size, size, 3) uint8 images with structure (gradients) and noise."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 255, size)[None, :, None, None]
    base = rng.integers(0, 256, (n, 1, 1, 3))
    noise = rng.integers(0, 64, (n, size, size, 3))
    return ((base + ramp.transpose(0, 2, 1, 3) + noise) % 256).astype(np.uint8)


@pytest.fixture
def image_folder(tmp_path) -> Path:
    """A folder of 12 PNG and JPEG images in two subfolders, 16x16 RGB."""
    folder = tmp_path / "images"
    for i, img in enumerate(random_images(12)):
        sub = folder / ("a" if i % 2 else "b")
        sub.mkdir(parents=True, exist_ok=True)
        PIL.Image.fromarray(img).save(sub / f"{i:03d}.png")
    return folder

"""Decoding, checking and resizing of single images.

Every dataset format funnels through :func:`decode_image`, so the rules about what is
accepted (and what is converted, with a note) live in one place:

- 8-bit RGB is taken as is;
- 8-bit grayscale (``L``), palette (``P``) and fully opaque ``RGBA``/``LA`` are converted to
  RGB without loss, and the conversion is reported once per dataset;
- transparency, 16-bit and floating-point images are refused: there is no safe 8-bit RGB
  reading of them, and a GAN trained on a guessed one would be silently wrong.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field

import numpy as np
import PIL.Image

from ganbench.errors import DataError

# Modes whose conversion to RGB loses nothing (given an opaque alpha channel).
_SAFE_MODES = {"L", "P", "RGBA", "LA", "PA", "CMYK", "YCbCr"}


@dataclass
class ConversionLog:
    """Collects the lossless conversions applied while reading a dataset, to say them once."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, mode: str) -> None:
        self.counts[mode] = self.counts.get(mode, 0) + 1

    def report(self, source: str) -> None:
        for mode, n in sorted(self.counts.items()):
            warnings.warn(f"{source}: converted {n} {mode} image(s) to RGB", stacklevel=2)


def decode_image(data: bytes, name: str, log: ConversionLog | None = None) -> np.ndarray:
    """Decode encoded image bytes into an (H, W, 3) uint8 RGB array.

    ``name`` is the file (or archive member) the bytes came from; every error names it.
    """
    try:
        with PIL.Image.open(io.BytesIO(data)) as img:
            img.load()
            mode = img.mode
            if mode == "RGB":
                return np.asarray(img, dtype=np.uint8).copy()
            if mode in ("I;16", "I;16B", "I;16L", "I", "F") or mode.startswith("I;"):
                raise DataError(f"{name}: {mode} images (16-bit or float) are not supported; convert to 8-bit RGB")
            if mode not in _SAFE_MODES:
                raise DataError(f"{name}: unsupported image mode {mode}")
            if "A" in img.getbands() or (mode == "P" and "transparency" in img.info):
                rgba = img.convert("RGBA")
                if np.asarray(rgba)[..., 3].min() < 255:
                    raise DataError(f"{name}: image has transparent pixels; flatten it onto a background first")
            rgb = np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
    except DataError:
        raise
    except (OSError, SyntaxError, ValueError, PIL.Image.DecompressionBombError) as exc:
        raise DataError(f"{name}: cannot decode image ({exc})") from None
    if log is not None:
        log.add(mode)
    return rgb


def encode_png(image: np.ndarray) -> bytes:
    """Encode an (H, W, 3) uint8 array as an uncompressed PNG, as StyleGAN's dataset_tool does."""
    buf = io.BytesIO()
    PIL.Image.fromarray(image).save(buf, format="png", compress_level=0, optimize=False)
    return buf.getvalue()


def center_crop(image: np.ndarray) -> np.ndarray:
    """Crop the largest centred square."""
    h, w = image.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return image[top : top + s, left : left + s]


def resize(image: np.ndarray, resolution: int) -> np.ndarray:
    """Resize to ``resolution`` x ``resolution`` with Lanczos (dataset_tool's filter)."""
    if image.shape[0] == resolution and image.shape[1] == resolution:
        return image
    pil = PIL.Image.fromarray(image).resize((resolution, resolution), PIL.Image.LANCZOS)
    return np.asarray(pil, dtype=np.uint8)


TRANSFORMS = (None, "center-crop", "celeba-crop", "celeba-syn-inward", "celeba-syn-outward")
# COCO-GAN's CelebA crops of the 218x178 aligned images (research cocogan.md §1.2, §4.1): the 128-px face crop at
# rows 50:178, cols 25:153; CelebA-syn "inward", a 128-px crop jittered by up to +-25 px around (y=50, x=25);
# "outward", a 150-px crop (the report gives only its size: centred on the face crop, jittered the same way,
# clipped to the image; an assumption). The jitter of an image is seeded by its name, so it is reproducible.
CELEBA_FACE = (50, 25, 128)
CELEBA_SYN_JITTER = 25


def _celeba_crop(image: np.ndarray, name: str, transform: str) -> np.ndarray:
    import hashlib

    top, left, size = CELEBA_FACE
    if transform != "celeba-crop":
        rng = np.random.default_rng(int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little"))
        dy, dx = rng.integers(-CELEBA_SYN_JITTER, CELEBA_SYN_JITTER + 1, 2)
        if transform == "celeba-syn-outward":
            top, left, size = top - 11, left - 11, 150
        top, left = top + int(dy), left + int(dx)
    h, w = image.shape[:2]
    top, left = min(max(top, 0), h - size), min(max(left, 0), w - size)
    if top < 0 or left < 0:
        raise DataError(f"{name}: image is {w}x{h}, too small for the {size}-px CelebA crop ({transform})")
    return image[top : top + size, left : left + size]


def transform_image(image: np.ndarray, name: str, resolution: int | None, transform: str | None) -> np.ndarray:
    """Apply the dataset_tool transform: optional centre crop, then resize to ``resolution``.

    Without a crop an image to resize must already be square: stretching a non-square image would
    change the data distribution silently (COCO-GAN's LSUN loader does this; we don't). Without a
    resolution the image passes as it is (a panorama into its TFRecord).
    """
    if transform not in TRANSFORMS:
        raise DataError(f"unknown transform {transform!r}; expected one of {TRANSFORMS[1:]} or none")
    if transform == "center-crop":
        image = center_crop(image)
    elif transform is not None:
        image = _celeba_crop(image, name, transform)
    h, w = image.shape[:2]
    if h != w and resolution is not None and h != resolution:
        raise DataError(f"{name}: image is {w}x{h}, not square; use transform center-crop")
    if h != w:  # a panorama already at its height (COCO-GAN's 256x768 Matterport3D): kept as it is
        return image
    return image if resolution is None else resize(image, resolution)

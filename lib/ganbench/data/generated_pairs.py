"""LAGM's generated pairs (research lagm.md §2.5): images of the frozen generator with the trained annotator's
hard labels, written as an ``images.zip`` + ``annotations.h5`` pair that any stage training on part masks (the
``segmenter``) takes as its dataset.

Image i comes from seed ``seed + i`` alone (its latent and its noise inputs are drawn from a generator seeded
by it), so a pair file does not depend on the batch size or the device's batching, and the first N images of
a larger set are the N images of a smaller one. Labels are the argmax of the annotator's softmax (no
confidence filtering, as the original); every image is in the train split (``is_test`` false); the
annotations carry no coordinates (NaN) or keypoints, and record the sha256 of the zip written with them.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import torch
from tqdm import tqdm

from ganbench.data.annotations import AnnotationsWriter
from ganbench.data.stylegan_zip import StyleGANZipWriter
from ganbench.errors import GanbenchError
from ganbench.fileio import atomic_path, sha256_file
from ganbench.train.batch_random import derive_seed


class _PerSeedRandom:
    """``randn(n, *shape)`` whose row i comes from the generator of seed i only (BatchRandom's interface)."""

    def __init__(self, seeds, device):
        self.generators = [torch.Generator().manual_seed(derive_seed("lagm-pairs", int(s))) for s in seeds]
        self.device = torch.device(device)

    def randn(self, n: int, *shape: int) -> torch.Tensor:
        if n != len(self.generators):
            raise ValueError(f"asked for {n} rows, have {len(self.generators)} seeds")
        return torch.stack([torch.randn(shape, generator=g) for g in self.generators]).to(self.device)


def load_annotator(
    checkpoint_path: str | os.PathLike, generator: str | os.PathLike | None = None, device: str | torch.device = "cpu"
):
    """The trained LAGM stage of a checkpoint, with its frozen generator read back from the file it records
    (checked by sha256), or from ``generator`` when given: the same generator file moved elsewhere (a
    generator of another resolution is refused, naming both)."""
    from ganbench.methods.catalog import CATALOG
    from ganbench.train.checkpoint import load_checkpoint
    from ganbench.train.inputs import restore_method

    ckpt = load_checkpoint(checkpoint_path)
    entry = CATALOG.get(ckpt["method"])
    if entry is None or "annotator" not in entry.provides:
        what = entry.display if entry else repr(ckpt["method"])
        raise GanbenchError(f"{checkpoint_path}: a {what} checkpoint, not a LAGM annotator")
    if generator is not None:
        gen = load_checkpoint(generator, mmap=True)
        entry = CATALOG.get(gen["method"])
        if entry is None or "generator" not in entry.provides:
            raise GanbenchError(f"{generator}: a {gen['method']} checkpoint provides no generator")
        if gen["resolution"] != ckpt["resolution"]:
            raise GanbenchError(
                f"{generator}: its generator makes {gen['resolution']} px images; the annotator "
                f"{checkpoint_path} was trained on a {ckpt['resolution']} px generator"
            )
        frozen = {part: {**info, "path": str(generator)} for part, info in ckpt.get("frozen_inputs", {}).items()}
        ckpt = {**ckpt, "frozen_inputs": frozen}
    return restore_method(ckpt, checkpoint_path, device)


def generate_pairs(
    checkpoint_path: str | os.PathLike,
    zip_path: str | os.PathLike,
    annotations_path: str | os.PathLike,
    count: int,
    seed: int = 0,
    batch: int = 16,
    generator: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
) -> int:
    """Write ``count`` generated images (seeds ``seed`` .. ``seed + count - 1``) and the annotator's hard labels;
    both files appear only on success. Returns ``count``."""
    for name, value, minimum in (("count", count, 1), ("seed", seed, 0), ("batch", batch, 1)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
            raise GanbenchError(f"generated pairs: {name} {value!r} is not an integer >= {minimum}")
    method = load_annotator(checkpoint_path, generator, device)
    res, classes = method.resolution, method.classes
    category = "generated"
    with (
        atomic_path(zip_path) as zip_tmp,
        atomic_path(annotations_path) as h5_tmp,
        StyleGANZipWriter(zip_tmp) as images,
        AnnotationsWriter(
            h5_tmp, count, res, 0, classes=classes, keypoint_names=[], category=category, seed=seed
        ) as annotations,
    ):
        no_coords = np.full((res, res, 2), np.nan, np.float32)
        no_keypoints, no_visible = np.zeros((0, 2), np.float32), np.zeros((0,), bool)
        bar = tqdm(total=count, desc=f"pairs {Path(checkpoint_path).parent.name or 'lagm'}", unit="img", disable=None)
        for start in range(0, count, batch):
            seeds = range(seed + start, seed + min(start + batch, count))
            rng = _PerSeedRandom(seeds, device)
            z = rng.randn(len(seeds), method.G.z_dim)
            img, labels = method.label(z, rng=rng)
            pixels = ((img.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
            labels = labels.to(torch.uint8).cpu().numpy()
            for k in range(len(seeds)):
                images.add(pixels[k])
                annotations.write(
                    start + k,
                    label=labels[k],
                    coords=no_coords,
                    keypoints=no_keypoints,
                    visible=no_visible,
                    is_test=False,
                )
            bar.update(len(seeds))
        bar.close()
        images.close()
        annotations.set_images_sha256(sha256_file(zip_tmp))
    return count


def merge_pairs(
    shards: list[tuple[str | os.PathLike, str | os.PathLike]],
    zip_path: str | os.PathLike,
    annotations_path: str | os.PathLike,
) -> int:
    """Concatenate shards ``[(images.zip, annotations.h5), ...]`` of :func:`generate_pairs` (in order: shard k
    holds seeds ``seed + k * shard_size`` onwards) into one pair of files, written only on success. Every
    shard must be a checked pair with the classes and resolution of the first. Returns the image count."""
    from ganbench.data.annotations import check_pair, read_annotation_attrs
    from ganbench.data.dataset import ImageDataset

    if not shards:
        raise GanbenchError("generated pairs: no shards to merge")
    heads, counts = [], []
    for images_path, h5_path in shards:
        check_pair(images_path, h5_path)
        heads.append(read_annotation_attrs(h5_path))
        with h5py.File(h5_path, "r") as f:  # labels are read row by row below (10k at 512 px is 2.6 GB)
            counts.append(len(f["label"]))
    first = heads[0]
    for (_, h5_path), a in zip(shards, heads):
        if list(a["classes"]) != list(first["classes"]) or a["resolution"] != first["resolution"]:
            raise GanbenchError(f"{h5_path}: its classes or resolution differ from those of {shards[0][1]}")
    total, res, seed = sum(counts), first["resolution"], first["seed"]
    with (
        atomic_path(zip_path) as zip_tmp,
        atomic_path(annotations_path) as h5_tmp,
        StyleGANZipWriter(zip_tmp) as images,
        AnnotationsWriter(
            h5_tmp, total, res, 0, classes=first["classes"], keypoint_names=[], category="generated", seed=seed
        ) as annotations,
    ):
        no_coords = np.full((res, res, 2), np.nan, np.float32)
        no_keypoints, no_visible = np.zeros((0, 2), np.float32), np.zeros((0,), bool)
        row = 0
        for (images_path, h5_path), n in zip(shards, counts):
            dataset = ImageDataset(images_path)
            with h5py.File(h5_path, "r") as f:
                for i in range(n):
                    images.add(np.ascontiguousarray(dataset[i][0].transpose(1, 2, 0)))
                    annotations.write(
                        row,
                        label=f["label"][i],
                        coords=no_coords,
                        keypoints=no_keypoints,
                        visible=no_visible,
                        is_test=False,
                    )
                    row += 1
        images.close()
        annotations.set_images_sha256(sha256_file(zip_tmp))
    return total

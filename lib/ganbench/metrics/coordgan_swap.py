"""CoordGAN's disentanglement scores and texture-swap grid (research coordgan.md §4.1, ``eval_fid.py``).

- ``swap_lpips``: P(G(t, s), G(t', s)), same structure, other texture (t' the pair partner's);
- ``struc_swap_lpips``: P(G(t, s), G(t, s')), same texture, other structure;
- ``swap_id`` / ``struc_swap_id``: the same pairs under 1 - cos of an identity network's embeddings (ArcFace
  IR-SE50, :mod:`ganbench.nets.arcface`; the official reports them on CelebA only).

P is LPIPS-VGG in eval mode, or offline the probe's feature distance (:mod:`ganbench.nets.perceptual`); the
identity network's offline stand-in is the probe's feature vector. Each record's protocol names which. The FID
of texture-swapped samples is :func:`ganbench.metrics.gan_metrics.evaluate_checkpoint` with ``swap=True``. The
grid: row i is structure seed i, column j texture seed j.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F

from ganbench.errors import GanbenchError
from ganbench.fileio import sha256_file, write_json
from ganbench.metrics.gan_metrics import to_uint8
from ganbench.methods.coordgan_losses import swap_pairs
from ganbench.nets.perceptual import build_perceptual

SWAP_METRICS = ("swap_lpips", "struc_swap_lpips")
IDENTITY_METRICS = ("swap_id", "struc_swap_id")
SWAP_PROTOCOL = "coordgan-swap"  # the folder of the swap distances: results/eval/{experiment}/coordgan-swap/
IDENTITY_PROTOCOL = "coordgan-identity"
IDENTITY_NETWORKS = ("ir-se50", "probe")


def load_perceptual(kind: str, weights: str | os.PathLike, probe_channels=(32, 64, 128), probe_resolution: int = 32):
    """The distance network of ``kind`` with its weights file (an LPIPS-VGG state dict, or a probe.pt)."""
    net = build_perceptual(kind, probe_channels, probe_resolution)
    state = torch.load(weights, map_location="cpu", weights_only=True)
    if kind == "probe":
        if not isinstance(state, dict) or "state" not in state:
            raise GanbenchError(f"{weights}: not a ganbench probe file")
        meta = state
        net = build_perceptual(kind, tuple(meta["channels"]), int(meta["resolution"]))
        state = meta["state"]
    missing, _ = net.load_state_dict(state, strict=False)
    if missing:
        raise GanbenchError(f"{weights}: lacks {len(missing)} tensors of the {kind} network, e.g. {missing[0]}")
    return net.requires_grad_(False).eval()


class FeatureIdentity:
    """The identity networks' offline stand-in: 1 - cos of a feature extractor's features (the probe's)."""

    def __init__(self, extractor):
        self.extractor = extractor

    def __call__(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        fa, fb = (F.normalize(self.extractor(to_uint8(x)), dim=1) for x in (a, b))
        return 1 - (fa * fb).sum(1)


def load_identity(kind: str, weights: str | os.PathLike, device: str | torch.device = "cpu"):
    """The identity distance ``kind`` (IDENTITY_NETWORKS) with its weights file, on ``device``."""
    if kind == "ir-se50":
        from ganbench.nets.arcface import load_ir_se50

        return load_ir_se50(weights).to(device)
    if kind == "probe":
        from ganbench.metrics.extractors import load_extractor

        return FeatureIdentity(load_extractor("probe", weights, device))
    raise GanbenchError(f"identity network {kind!r} is not one of {', '.join(IDENTITY_NETWORKS)}")


@torch.no_grad()
def swap_scores(method, distances: dict, pairs: int, batch: int, seed: int = 0) -> dict[str, float]:
    """Mean texture-swap and structure-swap distances over ``pairs`` generated pairs (batch must be even).

    ``distances``: prefix -> distance fn(a, b) -> [N]; each gives ``swap_{prefix}`` = d(G(t, s), G(t', s)) and
    ``struc_swap_{prefix}`` = d(G(t, s), G(t, s')), t' and s' the pair partner's codes (``lpips``, ``id``).
    """
    if batch % 2:
        raise GanbenchError(f"--batch {batch}: CoordGAN pairs samples (2k, 2k+1); give an even batch")
    gen = torch.Generator().manual_seed(seed)
    device = next(method.G_ema.parameters()).device
    z_dim, done = method.G_ema.z_dim, 0
    totals = {f"{kind}_{p}": 0.0 for p in distances for kind in ("swap", "struc_swap")}
    while done < pairs:
        z_t = torch.randn(batch, z_dim, generator=gen).to(device)
        z_s = torch.randn(batch, z_dim, generator=gen).to(device)
        x, _ = method.G_ema(z_t, z_s, noise_mode="const")
        x_tex, _ = method.G_ema(swap_pairs(z_t), z_s, noise_mode="const")
        x_struc, _ = method.G_ema(z_t, swap_pairs(z_s), noise_mode="const")
        n = min(batch, pairs - done)
        for prefix, distance in distances.items():
            totals[f"swap_{prefix}"] += float(distance(x[:n], x_tex[:n]).sum())
            totals[f"struc_swap_{prefix}"] += float(distance(x[:n], x_struc[:n]).sum())
        done += n
    return {m: v / pairs for m, v in totals.items()}


def evaluate_swap_scores(
    checkpoint_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    pairs: int,
    batch: int,
    seed: int = 0,
    identity: tuple[str, str | os.PathLike] | None = None,
    device: str | torch.device = "cpu",
) -> dict[str, float]:
    """A CoordGAN run's swap distances, written as ``{out_dir}/{metric}.json``.

    Without ``identity``: ``swap_lpips`` and ``struc_swap_lpips`` through the run's own perceptual network in eval
    mode (its ``perceptual`` input: LPIPS-VGG, or offline the probe's stand-in), protocol ``coordgan-swap``.
    With ``identity`` = (network, weights file): ``swap_id`` and ``struc_swap_id``, 1 - cos of the identity
    network's embeddings (IR-SE50, or the probe's features), protocol ``coordgan-identity``. The pairs are the
    same for a seed either way."""
    from ganbench.train.checkpoint import load_checkpoint
    from ganbench.train.inputs import restore_method

    if batch % 2:
        raise GanbenchError(f"batch {batch}: CoordGAN pairs samples (2k, 2k+1); give an even batch")
    ckpt = load_checkpoint(checkpoint_path, map_location="cpu", mmap=True)
    if ckpt["method"] != "coordgan":
        raise GanbenchError(f"{checkpoint_path}: a {ckpt['method']} checkpoint; this needs a coordgan checkpoint")
    distance = load_identity(identity[0], identity[1], device) if identity is not None else None
    method = restore_method(ckpt, checkpoint_path, device)
    base = {"pairs": pairs, "seed": seed, "mode": "eval", "resolution": ckpt["resolution"]}
    inputs = {"checkpoint": str(checkpoint_path), "checkpoint_sha256": sha256_file(checkpoint_path)}
    if identity is None:
        scores = swap_scores(method, {"lpips": method.P}, pairs, batch, seed)
        protocol = {"name": SWAP_PROTOCOL, "distance": method.options.perceptual, **base}
    else:
        scores = swap_scores(method, {"id": distance}, pairs, batch, seed)
        protocol = {"name": IDENTITY_PROTOCOL, "network": identity[0], "resize": "nearest-112", **base}
        inputs.update(identity_weights=str(identity[1]), identity_sha256=sha256_file(identity[1]))
    run = {"method": ckpt["method"], "experiment": ckpt["experiment"].get("name"), "kimg": ckpt["nimg"] / 1000}
    for metric, value in scores.items():
        write_json(Path(out_dir) / f"{metric}.json", {**_record(metric, value, protocol), "run": run, "inputs": inputs})
    return scores


def _record(metric: str, value: float, protocol: dict) -> dict:
    return {"metric": metric, "value": value, "protocol": protocol}


@torch.no_grad()
def swap_grid(method, structure_seeds, texture_seeds) -> torch.Tensor:
    """[len(structures) * len(textures), C, R, R]: row-major, one row per structure."""
    rows = [method.sample([s] * len(texture_seeds), texture_seeds=list(texture_seeds)) for s in structure_seeds]
    return torch.cat(rows)


def write_swap_scores(scores: dict, out_dir, kind: str, pairs: int, run: dict, identity: str | None = None) -> None:
    """``ganbench coordgan-swap``'s records: every score in ``out_dir``, its protocol naming the networks."""
    protocol = {"name": SWAP_PROTOCOL, "pairs": pairs, "distance": kind, "mode": "eval"}
    id_protocol = {"name": IDENTITY_PROTOCOL, "pairs": pairs, "network": identity, "resize": "nearest-112"}
    for metric, value in scores.items():
        proto = id_protocol if metric in IDENTITY_METRICS else protocol
        write_json(Path(out_dir) / f"{metric}.json", {**_record(metric, value, proto), "run": run})

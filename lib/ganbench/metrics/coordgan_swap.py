"""CoordGAN's disentanglement scores and texture-swap grid (research coordgan.md §4.1, ``eval_fid.py``).

- ``swap_lpips``: P(G(t, s), G(t', s)), same structure, other texture (t' the pair partner's);
- ``struc_swap_lpips``: P(G(t, s), G(t, s')), same texture, other structure;

P is LPIPS-VGG in eval mode, or offline the probe's feature distance (:mod:`ganbench.nets.perceptual`); the
record's protocol names which. The grid: row i is structure seed i, column j texture seed j.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ganbench.errors import GanbenchError
from ganbench.fileio import write_json
from ganbench.methods.coordgan_losses import swap_pairs
from ganbench.nets.perceptual import build_perceptual

SWAP_METRICS = ("swap_lpips", "struc_swap_lpips")


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


@torch.no_grad()
def swap_scores(method, perceptual, pairs: int, batch: int, seed: int = 0) -> dict[str, float]:
    """Mean texture-swap and structure-swap distances over ``pairs`` generated pairs (batch must be even)."""
    if batch % 2:
        raise GanbenchError(f"--batch {batch}: CoordGAN pairs samples (2k, 2k+1); give an even batch")
    gen = torch.Generator().manual_seed(seed)
    device = next(method.G_ema.parameters()).device
    z_dim, totals, done = method.G_ema.z_dim, {m: 0.0 for m in SWAP_METRICS}, 0
    while done < pairs:
        z_t = torch.randn(batch, z_dim, generator=gen).to(device)
        z_s = torch.randn(batch, z_dim, generator=gen).to(device)
        x, _ = method.G_ema(z_t, z_s, noise_mode="const")
        x_tex, _ = method.G_ema(swap_pairs(z_t), z_s, noise_mode="const")
        x_struc, _ = method.G_ema(z_t, swap_pairs(z_s), noise_mode="const")
        n = min(batch, pairs - done)
        totals["swap_lpips"] += float(perceptual(x[:n], x_tex[:n]).sum())
        totals["struc_swap_lpips"] += float(perceptual(x[:n], x_struc[:n]).sum())
        done += n
    return {m: v / pairs for m, v in totals.items()}


@torch.no_grad()
def swap_grid(method, structure_seeds, texture_seeds) -> torch.Tensor:
    """[len(structures) * len(textures), C, R, R]: row-major, one row per structure."""
    rows = [method.sample([s] * len(texture_seeds), texture_seeds=list(texture_seeds)) for s in structure_seeds]
    return torch.cat(rows)


def write_swap_scores(scores: dict, out_dir, kind: str, pairs: int, run: dict) -> None:
    protocol = {"name": "coordgan-swap", "pairs": pairs, "distance": kind, "mode": "eval"}
    for metric, value in scores.items():
        write_json(
            Path(out_dir) / f"{metric}.json", {"metric": metric, "value": value, "protocol": protocol, "run": run}
        )

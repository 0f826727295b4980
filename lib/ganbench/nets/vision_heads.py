"""The trainable heads on frozen backbones and their losses (research visionaided.md §2.2, §2.3).

The pip-package flavour of the heads (spectral norm + BlurPool [1,3,3,1]), which is what ``vision_aided_loss``
ships; the StyleGAN2 fork's equalized-lr variant is not reproduced (a documented choice of §8.2).

- :class:`MultiLevelHead` (CLIP, DINO; ``conv_multi_level``): per spatial token map, [BlurPool, stride-2 conv when
  ``down`` > 1] SN-conv3x3 -> LReLU(0.2) -> BlurPool -> SN-conv1x1 stride 2 (a patch-logit map); a global branch
  SN-Linear -> LReLU -> SN-Linear on the embedding. CLIP: 256 channels, down 1; DINO: 128 channels, down 2.
- :class:`ConvHead` (``conv``, every other backbone): BlurPool -> SN-conv3x3 stride 2 (no pad) -> LReLU -> flatten
  -> SN-Linear(256 s^2 -> 256) -> LReLU -> SN-Linear(256 -> 1); s follows from the feature map's size.

Losses, per sample (B,): ``sigmoid`` BCE-with-logits against t_real = t_G = alpha, t_fake = 0 (alpha 1, or 0.8
for ``_s``: one-sided label smoothing); ``multilevel_sigmoid`` the same per level (maps averaged spatially), the
levels summed; ``hinge``/``multilevel_hinge``: D relu(1 -/+ logit), G -logit, levels summed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

LOSSES = ("sigmoid", "sigmoid_s", "multilevel_sigmoid", "multilevel_sigmoid_s", "hinge", "multilevel_hinge")
SMOOTHED_TARGET = 0.8


class BlurPool(nn.Module):
    """Depthwise [1,3,3,1] (outer product, normalised) low-pass filter, reflect-padded by 1 on each side (+1 with
    ``pad_off`` 1), as antialiased-cnns' BlurPool: a size-H map becomes H - 1 (H + 1 with ``pad_off`` 1)."""

    def __init__(self, channels: int, stride: int = 1, pad_off: int = 0):
        super().__init__()
        k = torch.tensor([1.0, 3.0, 3.0, 1.0])
        k = (k[:, None] * k[None, :]) / 64
        self.register_buffer("kernel", k.expand(channels, 1, 4, 4).contiguous(), persistent=False)
        self.stride, self.channels, self.pad = stride, channels, 1 + pad_off

    def forward(self, x):
        x = F.pad(x, (self.pad,) * 4, mode="reflect")
        return F.conv2d(x, self.kernel.to(x.dtype), stride=self.stride, groups=self.channels)


def _lrelu():
    return nn.LeakyReLU(0.2)


class MultiLevelHead(nn.Module):
    """Two spatial token maps + one global embedding -> [patch logits, patch logits, (B, 1)]."""

    def __init__(self, map_channels: int, embed_dim: int, channels: int = 256, down: int = 1, levels: int = 2):
        super().__init__()
        branches = []
        for _ in range(levels):
            layers = [BlurPool(map_channels, pad_off=1)] if down > 1 else []
            layers += [
                spectral_norm(nn.Conv2d(map_channels, channels, 3, 2 if down > 1 else 1, 0 if down > 1 else 1)),
                _lrelu(),
                BlurPool(channels),
                spectral_norm(nn.Conv2d(channels, 1, 1, 2)),
            ]
            branches.append(nn.Sequential(*layers))
        self.maps = nn.ModuleList(branches)
        self.embedding = nn.Sequential(
            spectral_norm(nn.Linear(embed_dim, channels)), _lrelu(), spectral_norm(nn.Linear(channels, 1))
        )

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        *maps, embedding = features
        return [branch(f) for branch, f in zip(self.maps, maps)] + [self.embedding(embedding)]


class ConvHead(nn.Module):
    """One feature map (C, s0, s0) -> [(B, 1)]."""

    def __init__(self, map_channels: int, map_size: int, channels: int = 256):
        super().__init__()
        self.conv = nn.Sequential(
            BlurPool(map_channels, pad_off=1), spectral_norm(nn.Conv2d(map_channels, channels, 3, 2, 0)), _lrelu()
        )
        side = (map_size + 1 - 3) // 2 + 1  # 7x7 -> 3, 8x8 -> 4 (research §2.2)
        self.fc = nn.Sequential(
            spectral_norm(nn.Linear(channels * side * side, channels)), _lrelu(), spectral_norm(nn.Linear(channels, 1))
        )

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        return [self.fc(self.conv(features[0]).flatten(1))]


def build_head(backbone, probe_input: torch.Tensor) -> nn.Module:
    """The head the official code pairs with ``backbone`` (sizes read from one forward of ``probe_input``)."""
    with torch.no_grad():
        feats = backbone.features(probe_input)
    if backbone.spec.multilevel:
        channels, down = (256, 1) if backbone.spec.name == "clip" else (128, 2)
        return MultiLevelHead(feats[0].shape[1], feats[-1].shape[1], channels, down, levels=len(feats) - 1)
    return ConvHead(feats[0].shape[1], feats[0].shape[-1])


def default_loss(backbone_name: str, smooth: bool) -> str:
    """The selection driver's rule: multilevel_sigmoid for CLIP/DINO, sigmoid otherwise; ``_s`` when smoothing."""
    from ganbench.nets.backbones import backbone_spec

    base = "multilevel_sigmoid" if backbone_spec(backbone_name).multilevel else "sigmoid"
    return base + ("_s" if smooth else "")


def vision_loss(logits: list[torch.Tensor], loss: str, target: str) -> torch.Tensor:
    """Per-sample loss (B,) of one head's outputs; ``target`` is ``real``, ``fake`` (D) or ``G``."""
    if loss not in LOSSES:
        raise ValueError(f"unknown vision-aided loss {loss!r} (expected one of: {', '.join(LOSSES)})")
    if target not in ("real", "fake", "G"):
        raise ValueError(f"target must be real, fake or G, got {target!r}")
    levels = logits if loss.startswith("multilevel") else logits[-1:]
    total = 0
    for level in levels:
        level = level.flatten(1)
        if "hinge" in loss:
            if target == "G":
                per = -level.mean(1)
            else:
                per = F.relu(1 - level if target == "real" else 1 + level).mean(1)
        else:
            alpha = SMOOTHED_TARGET if loss.endswith("_s") else 1.0
            t = 0.0 if target == "fake" else alpha
            per = F.binary_cross_entropy_with_logits(level, torch.full_like(level, t), reduction="none").mean(1)
        total = total + per
    return total

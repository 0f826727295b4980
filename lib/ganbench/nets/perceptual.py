"""Perceptual distances for CoordGAN's losses: LPIPS-VGG (v0.1), and the probe's features as its offline stand-in.

Both map two image batches in [-1, 1] to a per-sample distance [N]: features of several layers, each unit-
normalised along channels, squared difference, weighted over channels (LPIPS' learned linear layers; the probe
stand-in weighs channels equally), averaged over pixels, summed over layers (Zhang et al., CVPR 2018).

The networks come with their weights as pipeline inputs (``init_from`` weights files, no conversion): LPIPS-VGG
is torchvision's VGG16 ``features`` under ``vgg.*`` (``init_from {P.vgg: vgg16:features}``) and the five linear
layers in the ``lpips`` package's own layout ``lin{k}.model.1.weight`` (its ``weights/v0.1/vgg.pth``:
``init_from {P: perceptual:.}``); the probe stand-in is the probe's trunk (``stem``, ``down1``,
``down2``, ``mid`` of :class:`ganbench.metrics.probe.ProbeNet`). The official code leaves LPIPS' dropout on while
training (§2.6.7); we always evaluate the linear layers without dropout (a deliberate deviation).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.errors import ConfigError

PERCEPTUAL_KINDS = ("lpips_vgg", "probe")
VGG_TAPS = (3, 8, 15, 22, 29)  # relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 in torchvision's vgg16().features
VGG_CHANNELS = (64, 128, 256, 512, 512)


def _unit(x: torch.Tensor) -> torch.Tensor:
    return x / (x.square().sum(1, keepdim=True).sqrt() + 1e-10)


class _LinLayer(nn.Module):
    """lpips' NetLinLayer: ``model`` = (Dropout, 1x1 conv to one channel, no bias)."""

    def __init__(self, channels: int):
        super().__init__()
        self.model = nn.Sequential(nn.Dropout(), nn.Conv2d(channels, 1, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class LPIPSVGG(nn.Module):
    def __init__(self):
        super().__init__()
        from torchvision.models import vgg16

        self.vgg = vgg16(weights=None).features[: VGG_TAPS[-1] + 1]
        for k, c in enumerate(VGG_CHANNELS):  # the lpips package's layout: lin{k}.model = (Dropout, 1x1 conv)
            setattr(self, f"lin{k}", _LinLayer(c))
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1), persistent=False)

    def layers(self, x: torch.Tensor) -> list[torch.Tensor]:
        x, out = (x - self.shift) / self.scale, []
        for i, layer in enumerate(self.vgg):
            x = layer(x)
            if i in VGG_TAPS:
                out.append(x)
        return out

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        fa, fb = self.layers(a.float()), self.layers(b.float())
        lins = [getattr(self, f"lin{k}") for k in range(len(VGG_CHANNELS))]
        return sum(lin((_unit(x) - _unit(y)).square()).mean((1, 2, 3)) for lin, x, y in zip(lins, fa, fb))


def _probe_block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    # the layout of ganbench.metrics.probe._block, so that the probe's trunk weights load by name
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.GroupNorm(8, cout), nn.ReLU(inplace=True))


class ProbeDistance(nn.Module):
    """The probe's trunk at its input resolution: distances over its stem, down1 and mid maps (equal weights)."""

    def __init__(self, channels: tuple[int, int, int] = (32, 64, 128), resolution: int = 32):
        super().__init__()
        c1, c2, c3 = channels
        self.resolution = resolution
        self.stem, self.down1 = _probe_block(3, c1), _probe_block(c1, c2, 2)
        self.down2, self.mid = _probe_block(c2, c3, 2), _probe_block(c3, c3)

    def layers(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.shape[-1] != self.resolution:
            x = F.interpolate(x, size=(self.resolution, self.resolution), mode="bilinear", align_corners=False)
        f0 = self.stem(x)
        f1 = self.down1(f0)
        return [f0, f1, self.mid(self.down2(f1))]

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        fa, fb = self.layers(a.float()), self.layers(b.float())
        return sum((_unit(x) - _unit(y)).square().sum(1).mean((1, 2)) for x, y in zip(fa, fb))


def build_perceptual(kind: str, probe_channels=(32, 64, 128), probe_resolution: int = 32) -> nn.Module:
    """The distance network of ``kind`` (weights arrive through ``init_from``); frozen and in eval mode."""
    if kind == "lpips_vgg":
        net = LPIPSVGG()
    elif kind == "probe":
        net = ProbeDistance(tuple(probe_channels), probe_resolution)
    else:
        raise ConfigError(f"perceptual: unknown kind {kind!r} (expected one of: {', '.join(PERCEPTUAL_KINDS)})")
    return net.requires_grad_(False).eval()

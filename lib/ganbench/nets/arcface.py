"""ArcFace's IR-SE50 identity network (Deng et al., CVPR 2019), for CoordGAN's identity scores (research coordgan.md
§4.1: ``swap_id`` / ``struc_swap_id`` = 1 - cos of the embeddings, inputs resized with nearest to 112, no face crop).

The module names follow the layout of the released ``model_ir_se50.pth`` (the file pSp and CoordGAN load), so its
state dict loads by name with no conversion:

- ``input_layer``: 3x3 conv 3 -> 64 (no bias), BatchNorm, PReLU;
- ``body``: 24 improved-residual units with squeeze-and-excitation (3, 4, 14, 3 units of 64, 128, 256, 512
  channels; the first unit of each stage has stride 2). A unit is ``res_layer`` = BN, 3x3 conv, PReLU, 3x3 conv
  (the stride), BN, SE (``fc1``/``fc2``: 1x1 convs, reduction 16, no bias), plus ``shortcut_layer``: a strided
  1x1 conv and BN where the width changes, else a 1x1 max-pool with the stride (no parameters);
- ``output_layer``: BN, Dropout, flatten, linear 512*7*7 -> 512, BatchNorm1d; the embedding is L2-normalised.

The weights are a pipeline input (config/weights.yaml ``ir-se50``, placed by hand), never fetched here.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.errors import GanbenchError

INPUT_SIZE = 112
STAGES = ((64, 3), (128, 4), (256, 14), (512, 3))  # (channels, units): IR-50


class SEModule(nn.Module):
    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1, bias=False)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = torch.sigmoid(self.fc2(F.relu(self.fc1(F.adaptive_avg_pool2d(x, 1)))))
        return x * w


class BottleneckIRSE(nn.Module):
    def __init__(self, cin: int, depth: int, stride: int):
        super().__init__()
        if cin == depth:
            self.shortcut_layer = nn.MaxPool2d(1, stride)
        else:
            self.shortcut_layer = nn.Sequential(nn.Conv2d(cin, depth, 1, stride, bias=False), nn.BatchNorm2d(depth))
        self.res_layer = nn.Sequential(
            nn.BatchNorm2d(cin),
            nn.Conv2d(cin, depth, 3, 1, 1, bias=False),
            nn.PReLU(depth),
            nn.Conv2d(depth, depth, 3, stride, 1, bias=False),
            nn.BatchNorm2d(depth),
            SEModule(depth),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.res_layer(x) + self.shortcut_layer(x)


class IRSE50(nn.Module):
    """Images [N, 3, 112, 112] in [-1, 1] -> unit embeddings [N, 512]."""

    def __init__(self, drop_ratio: float = 0.6):
        super().__init__()
        self.input_layer = nn.Sequential(nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.PReLU(64))
        units, cin = [], 64
        for depth, count in STAGES:
            units += [BottleneckIRSE(cin, depth, 2)] + [BottleneckIRSE(depth, depth, 1) for _ in range(count - 1)]
            cin = depth
        self.body = nn.Sequential(*units)
        self.output_layer = nn.Sequential(
            nn.BatchNorm2d(512),
            nn.Dropout(drop_ratio),
            nn.Flatten(),
            nn.Linear(512 * 7 * 7, 512),
            nn.BatchNorm1d(512),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.output_layer(self.body(self.input_layer(x))), dim=1)


class IdentityDistance(nn.Module):
    """1 - cos between the embeddings of two image batches in [-1, 1] (any size: nearest-resized to 112)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != INPUT_SIZE or x.shape[-2] != INPUT_SIZE:
            x = F.interpolate(x.float(), size=(INPUT_SIZE, INPUT_SIZE), mode="nearest")
        return self.net(x.float())

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return 1 - (self.embed(a) * self.embed(b)).sum(1)


def load_ir_se50(path: str | os.PathLike) -> IdentityDistance:
    """The identity distance of an IR-SE50 state dict file (``model_ir_se50.pth``), in eval mode; a one-line
    GanbenchError names a file that is not one."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: say which
        raise GanbenchError(f"{path}: not a readable IR-SE50 state dict ({type(exc).__name__})") from None
    if not isinstance(state, dict):
        raise GanbenchError(f"{path}: not an IR-SE50 state dict (a {type(state).__name__})")
    net = IRSE50()
    ours = net.state_dict()
    missing = [k for k in ours if k not in state]
    if missing:
        raise GanbenchError(f"{path}: lacks {len(missing)} tensors of IR-SE50, e.g. {missing[0]}")
    wrong = [k for k in ours if tuple(state[k].shape) != tuple(ours[k].shape)]
    if wrong:
        k = wrong[0]
        raise GanbenchError(f"{path}: {k} has shape {tuple(state[k].shape)}, IR-SE50's is {tuple(ours[k].shape)}")
    net.load_state_dict({k: state[k] for k in ours})
    return IdentityDistance(net).requires_grad_(False).eval()

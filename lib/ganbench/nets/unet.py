"""The UNet of LAGM's students and downstream segmenter (research lagm.md §2.3): milesial's UNet with
bilinear upsampling.

inc: [Conv3x3, BN, ReLU] x 2 to ``base`` channels; down1..4: MaxPool2 then the double conv to
2, 4, 8, 8 x base; up1..4: bilinear x2 (align_corners=True), pad to the skip's size, concatenate the
skip, double conv to 4, 2, 1, 1 x base; outc: 1x1 conv to the classes. With ``base`` = 64 these are the
paper's 64-128-256-512-512 / 256-128-64-64. Input images in [-1, 1], used as they are.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def double_conv(cin: int, cout: int, mid: int | None = None) -> nn.Sequential:
    mid = cout if mid is None else mid
    return nn.Sequential(
        nn.Conv2d(cin, mid, 3, padding=1, bias=False),
        nn.BatchNorm2d(mid),
        nn.ReLU(inplace=True),
        nn.Conv2d(mid, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class Up(nn.Module):
    """Bilinear x2, pad to the skip, concatenate, double conv (the mid width is half the input's, as milesial)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = double_conv(cin, cout, cin // 2)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)
        dy, dx = skip.shape[2] - x.shape[2], skip.shape[3] - x.shape[3]
        x = F.pad(x, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        return self.conv(torch.cat([skip, x], dim=1))


class UNet(nn.Module):
    """[N, C, H, W] -> logits [N, num_classes, H, W]."""

    def __init__(self, in_channels: int, num_classes: int, base: int = 64):
        super().__init__()
        b = base
        self.inc = double_conv(in_channels, b)
        self.downs = nn.ModuleList(
            nn.Sequential(nn.MaxPool2d(2), double_conv(cin, cout))
            for cin, cout in ((b, 2 * b), (2 * b, 4 * b), (4 * b, 8 * b), (8 * b, 8 * b))
        )
        self.ups = nn.ModuleList(
            Up(cin, cout) for cin, cout in ((16 * b, 4 * b), (8 * b, 2 * b), (4 * b, b), (2 * b, b))
        )
        self.outc = nn.Conv2d(b, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.inc(x)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        x = skips.pop()
        for up in self.ups:
            x = up(x, skips.pop())
        return self.outc(x)

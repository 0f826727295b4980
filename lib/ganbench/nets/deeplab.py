"""LAGM's DeepLabv3 student (research lagm.md §2.3): torchvision's DeepLabv3 with a ResNet backbone (output
stride 8: dilation in layer3 and layer4), no auxiliary head.

With ``layers`` (3, 4, 23, 3) it is torchvision's ``deeplabv3_resnet101(num_classes=K, aux_loss=None)``, so
the parameter names under ``net.backbone`` are those of torchvision's ``resnet101`` state dict (its ``fc`` is
not used): the ImageNet weights (``ResNet101_Weights.IMAGENET1K_V1``, what the original's
``pretrained_backbone=True`` gave) load through an input file (``init_from: {S.net.backbone: backbone:.}``);
nothing is downloaded here. Smaller ``layers`` give a stand-in of the same structure for tests.

Input images in [-1, 1] are mapped to [0, 1] and normalised with ImageNet's mean and std, as the original;
the output is ``out['out']``, logits [N, K, H, W] bilinearly upsampled to the input size.
"""

from __future__ import annotations

import torch
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
RESNET101_LAYERS = (3, 4, 23, 3)


class DeepLabV3(nn.Module):
    """[N, 3, H, W] in [-1, 1] -> logits [N, num_classes, H, W]."""

    def __init__(self, num_classes: int, layers: tuple[int, ...] = RESNET101_LAYERS):
        super().__init__()
        from torchvision.models._utils import IntermediateLayerGetter
        from torchvision.models.resnet import Bottleneck, ResNet
        from torchvision.models.segmentation.deeplabv3 import DeepLabHead
        from torchvision.models.segmentation.deeplabv3 import DeepLabV3 as _DeepLabV3

        resnet = ResNet(Bottleneck, list(layers), replace_stride_with_dilation=[False, True, True])
        self.net = _DeepLabV3(IntermediateLayerGetter(resnet, {"layer4": "out"}), DeepLabHead(2048, num_classes), None)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(((x + 1) / 2 - self.mean) / self.std)["out"]

"""A supervised part segmenter, trained by the loop on images and their part masks.

A stage of catalog kind ``stage``: it trains on the labelled train split of its dataset (or its first
``train_images`` images: a few-shot labelled set) with pixel-wise cross-entropy and Adam, and is scored
by mIoU and FG-mIoU on the test split (``ganbench.metrics.segmentation``). It is LAGM's downstream
segmenter (research lagm.md §2.5: UNet or DeepLabv3-ResNet101, whose ImageNet backbone is the input
``backbone`` with ``init_from: {S.net.backbone: "backbone:."}``; Adam 1e-3, batch 8) and the labelled-only
baseline that shows what gradient matching adds; LAGM's generated pairs reach it as another input. The mirror flips the
masks with their images.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ganbench.data.preview import PALETTE
from ganbench.errors import GanbenchError
from ganbench.methods import register
from ganbench.methods.base import Batch, Method, OptimizerSpec, Phase, StepContext
from ganbench.methods.options import SegmenterOptions
from ganbench.nets.deeplab import DeepLabV3
from ganbench.nets.unet import UNet


@register("segmenter")
class Segmenter(Method):
    Options = SegmenterOptions

    def __init__(
        self, options: SegmenterOptions, resolution: int, img_channels: int = 3, label_dim: int = 0, parents=None
    ):
        super().__init__(options, resolution, img_channels, label_dim, parents)
        annotations = self.parents.get("annotations")
        if options.num_classes is None and annotations is None:
            raise GanbenchError("method segmenter: set options.num_classes, or give it the input 'annotations'")
        self.num_classes = options.num_classes or len(annotations.extra["classes"])
        if options.arch == "unet":
            self.S = UNet(img_channels, self.num_classes, options.base_channels)
        else:
            if img_channels != 3:
                raise GanbenchError(f"method segmenter: DeepLabv3 reads RGB images, not {img_channels} channels")
            self.S = DeepLabV3(self.num_classes, options.deeplab_layers)

    def trainable(self):
        return {"S": self.S}

    def optimizer_specs(self):
        return {"S": OptimizerSpec(self.options.lr, self.options.betas)}

    def accumulate_gradients(self, phase: Phase, batch: Batch, ctx: StepContext):
        if int(batch.parts.max()) >= self.num_classes:
            raise GanbenchError(f"a part mask has class {int(batch.parts.max())}, the segmenter has {self.num_classes}")
        loss = F.cross_entropy(self.S(batch.images), batch.parts)
        loss.backward()
        return {"loss_seg": loss.detach()}

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """Part class per pixel, (n, H, W) int64, of images in [-1, 1]."""
        return self.S(images).argmax(1)

    @torch.no_grad()
    def preview(self, fixed: Batch) -> torch.Tensor:
        """Rows of 8: images, their true masks, the predicted masks."""
        k = self.options.preview_images
        palette = torch.as_tensor(PALETTE, dtype=torch.float32, device=fixed.images.device) / 127.5 - 1

        def colour(labels):
            return palette[labels % len(palette)].permute(0, 3, 1, 2)

        images, parts = fixed.images[:k], fixed.parts[:k]
        predicted = self.predict(images)
        rows = [
            torch.cat([images[i : i + 8], colour(parts[i : i + 8]), colour(predicted[i : i + 8])])
            for i in range(0, len(images), 8)
        ]
        return torch.cat(rows)

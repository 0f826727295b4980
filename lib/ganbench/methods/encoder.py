"""An inversion encoder of a frozen generator: image -> w, so that G(E(x)) reconstructs x.

A stage, not a GAN: it trains on top of a parent experiment (catalog input ``generator``) whose EMA
generator it copies and freezes (``init_from: {G: generator:G_ema}``, ``frozen: [G]``), so its
checkpoints hold only E and record the generator's file by sha256. CoordGAN's structure and texture
encoders (research coordgan.md §2.7) are of this kind; this one is the plain StyleGAN-family version
that the chain of stages is built and tested with.

E is a stack of equalized-lr convolutions that halve the resolution down to 4x4 (lrelu, StyleGAN2's
discriminator layers), then a dense layer to one w, predicted as an offset from G's ``w_avg`` and
broadcast to every synthesis layer. Losses per step, in one phase:

- generated images, whose w is known: ``w_weight * |E(G(w)) - w|^2`` plus ``image_weight *
  |G(E(G(w))) - G(w)|^2``;
- real images: ``real_weight * |G(E(x)) - x|^2``, through the frozen generator.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.methods import register
from ganbench.methods.base import Batch, Method, OptimizerSpec, Phase, StepContext, parent_generator
from ganbench.methods.options import EncoderOptions
from ganbench.nets.layers import Conv2dLayer, FullyConnectedLayer


class ImageEncoder(nn.Module):
    """[N, C, R, R] in [-1, 1] -> [N, out_dim]."""

    def __init__(self, resolution: int, img_channels: int, out_dim: int, channels: int = 64, channel_max: int = 256):
        super().__init__()
        layers = [Conv2dLayer(img_channels, channels, 1, activation="lrelu")]
        res, cin = resolution, channels
        while res > 4:
            cout = min(cin * 2, channel_max)
            layers += [
                Conv2dLayer(cin, cin, 3, activation="lrelu"),
                Conv2dLayer(cin, cout, 3, activation="lrelu", down=2),
            ]
            res, cin = res // 2, cout
        self.convs = nn.Sequential(*layers)
        self.fc = FullyConnectedLayer(cin * 16, cin, activation="lrelu")
        self.out = FullyConnectedLayer(cin, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.fc(self.convs(x).flatten(1)))


@register("encoder")
class Encoder(Method):
    Options = EncoderOptions

    def __init__(
        self, options: EncoderOptions, resolution: int, img_channels: int = 3, label_dim: int = 0, parents=None
    ):
        super().__init__(options, resolution, img_channels, label_dim, parents)
        self.G = parent_generator("encoder", self.parents, resolution)  # weights through init_from, frozen
        self.E = ImageEncoder(resolution, img_channels, self.G.w_dim, options.channels, options.channel_max)

    def trainable(self):
        return {"E": self.E}

    def optimizer_specs(self):
        return {"E": OptimizerSpec(self.options.lr, self.options.betas)}

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """ws [N, num_ws, w_dim] of images in [-1, 1]."""
        w = self.G.mapping.w_avg + self.E(images)
        return w.unsqueeze(1).repeat(1, self.G.num_ws, 1)

    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        return self.G.synthesis(self.encode(images), noise_mode="const")

    def accumulate_gradients(self, phase: Phase, batch: Batch, ctx: StepContext):
        o, n = self.options, len(batch)
        with torch.no_grad():
            z = ctx.rng.randn(n, self.G.z_dim)
            ws = self.G.mapping(z, batch.labels[:n])
            generated = self.G.synthesis(ws, noise_mode="const")
        predicted = self.encode(generated)
        loss_w = F.mse_loss(predicted[:, 0], ws[:, 0])
        loss_image = F.mse_loss(self.G.synthesis(predicted, noise_mode="const"), generated)
        loss_real = F.mse_loss(self.reconstruct(batch.images), batch.images)
        (o.w_weight * loss_w + o.image_weight * loss_image + o.real_weight * loss_real).backward()
        return {"loss_w": loss_w.detach(), "loss_image": loss_image.detach(), "loss_real": loss_real.detach()}

    @torch.no_grad()
    def preview(self, fixed: Batch) -> torch.Tensor:
        """Rows of 8: real images, then their reconstructions through the frozen generator."""
        real = fixed.images[: self.options.preview_images]
        recon = self.reconstruct(real)
        rows = [torch.cat([real[i : i + 8], recon[i : i + 8]]) for i in range(0, len(real), 8)]
        return torch.cat(rows)

"""CoordGAN's encoder (research coordgan.md §2.7): real image -> (w_s, texture W+) for a frozen CoordGAN generator.

Network (Swapping-Autoencoder style; at 128 px and the default widths 41,103,968 parameters, tested):

- FromRGB 1x1 (3 -> 32, lrelu), then residual blocks that halve the resolution down to 8x8 (32 -> 64 -> ... 512);
- structure head: 1x1 (512 -> 512, lrelu), 1x1 (512 -> 64), flatten (64 * 8 * 8) -> FC -> w_s (fed to
  CoordWarpNet directly);
- texture head: two stride-2 3x3 convs (512 -> 1024 -> 2048), global average pool, one FC (2048 -> 512) per W+
  slot (12 at 128 px).

Deviations (our layers): zero padding instead of reflection padding, and the [1, 3, 3, 1] downsampling filter
instead of [1, 2, 1]; parameter counts are unchanged.

Losses, one phase (G frozen, the official weights 10 / 10 / 10 and 5):

- ``rec_weight * L1(x, x_hat) + rec_perc_weight * P(x, x_hat)`` with x_hat = G(T, s);
- ``swap_weight * P(x, G(swap(T), s))``: texture codes swapped within pairs (2k, 2k+1);
- on a generated image x_f = G(z_t, z_s) with known w_s and C: ``consistency_weight * (L1(w_s, s') +
  L1(C, CoordWarpNet(s')))``, s' the encoder's structure code of x_f.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.methods import register
from ganbench.methods.base import Batch, Method, OptimizerSpec, Phase, StepContext, parent_generator
from ganbench.methods.coordgan_losses import swap_pairs
from ganbench.methods.options import CoordGANEncoderOptions
from ganbench.nets.coordgan import PatchResBlock
from ganbench.nets.layers import Conv2dLayer, FullyConnectedLayer
from ganbench.nets.perceptual import build_perceptual

SPATIAL_SIZE = 8  # the structure code's side


class StructureTextureEncoder(nn.Module):
    """[N, C, R, R] in [-1, 1] -> (w_s [N, w_dim], texture W+ [N, num_ws, w_dim])."""

    def __init__(
        self,
        resolution: int,
        w_dim: int,
        num_ws: int,
        img_channels: int = 3,
        channels: int = 32,
        channel_max: int = 512,
        spatial_channels: int = 64,
        global_channels: tuple[int, int] = (1024, 2048),
    ):
        super().__init__()
        self.from_rgb = Conv2dLayer(img_channels, channels, 1, activation="lrelu")
        blocks, cin = [], channels
        for _ in range(int(math.log2(resolution // SPATIAL_SIZE))):
            cout = min(cin * 2, channel_max)
            blocks.append(PatchResBlock(cin, cout))
            cin = cout
        self.trunk = nn.Sequential(*blocks)
        self.to_spatial = nn.Sequential(
            Conv2dLayer(cin, cin, 1, activation="lrelu"), Conv2dLayer(cin, spatial_channels, 1)
        )
        self.structure_fc = FullyConnectedLayer(spatial_channels * SPATIAL_SIZE**2, w_dim)
        g1, g2 = global_channels
        self.to_global = nn.Sequential(
            Conv2dLayer(cin, g1, 3, activation="lrelu", down=2, resample_filter=(1,)),  # stride 2, no blur
            Conv2dLayer(g1, g2, 3, activation="lrelu", down=2, resample_filter=(1,)),
        )
        self.texture_heads = nn.ModuleList(FullyConnectedLayer(g2, w_dim) for _ in range(num_ws))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.trunk(self.from_rgb(images))
        w_s = self.structure_fc(self.to_spatial(x).flatten(1))
        pooled = self.to_global(x).mean((2, 3))
        return w_s, torch.stack([head(pooled) for head in self.texture_heads], 1)


@register("coordgan_encoder")
class CoordGANEncoder(Method):
    Options = CoordGANEncoderOptions

    def __init__(self, options, resolution: int, img_channels: int = 3, label_dim: int = 0, parents=None):
        super().__init__(options, resolution, img_channels, label_dim, parents)
        o = options
        self.G = parent_generator("coordgan_encoder", self.parents, resolution)  # frozen, weights via init_from
        self.E = StructureTextureEncoder(
            resolution,
            self.G.w_dim,
            self.G.num_ws,
            img_channels,
            o.channels,
            o.channel_max,
            o.spatial_channels,
            tuple(o.global_channels),
        )
        self.P = build_perceptual(o.perceptual, o.probe_channels, o.probe_resolution)

    def trainable(self):
        return {"E": self.E}

    def optimizer_specs(self):
        return {"E": OptimizerSpec(self.options.lr, self.options.betas)}

    def train(self, mode: bool = True):
        super().train(mode)
        self.G.eval()
        self.P.eval()
        return self

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(w_s, W+) of images in [-1, 1]; images at another size are resized to the encoder's."""
        if images.shape[-1] != self.resolution:
            size = (self.resolution, self.resolution)
            images = F.interpolate(images.float(), size=size, mode="bilinear", align_corners=False)
        return self.E(images)

    def coordinates(self, images: torch.Tensor) -> torch.Tensor:
        """The correspondence map C [N, 2, S, S] (fp32) of images: what label propagation reads."""
        return self.G.coordinates(self.encode(images)[0])

    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        w_s, ws_t = self.encode(images)
        return self.G(ws_t, w_s, input_is_latent=True, noise_mode="const")[0]

    def accumulate_gradients(self, phase: Phase, batch: Batch, ctx: StepContext):
        o, x = self.options, batch.images
        w_s, ws_t = self.E(x)
        x_hat, _ = self.G(ws_t, w_s, input_is_latent=True, noise_mode="const")
        loss_l1 = F.l1_loss(x_hat, x)
        loss_perc = self.P(x_hat, x).mean()
        x_swap, _ = self.G(swap_pairs(ws_t), w_s, input_is_latent=True, noise_mode="const")
        loss_swap = self.P(x_swap, x).mean()
        with torch.no_grad():
            z_t, z_s = ctx.rng.randn(len(x), self.G.z_dim), ctx.rng.randn(len(x), self.G.z_dim)
            w_fake = self.G.structure_w(z_s)
            fake, coords = self.G(self.G.texture_ws(z_t), w_fake, input_is_latent=True, noise_mode="const")
        w_pred = self.E(fake)[0]
        loss_w = F.l1_loss(w_pred, w_fake)
        loss_coords = F.l1_loss(self.G.coordinates(w_pred), coords)
        loss = (
            o.rec_weight * loss_l1
            + o.rec_perc_weight * loss_perc
            + o.swap_weight * loss_swap
            + o.consistency_weight * (loss_w + loss_coords)
        )
        loss.backward()
        return {
            "loss_rec_l1": loss_l1.detach(),
            "loss_rec_perc": loss_perc.detach(),
            "loss_swap": loss_swap.detach(),
            "loss_cons_w": loss_w.detach(),
            "loss_cons_coords": loss_coords.detach(),
        }

    @torch.no_grad()
    def preview(self, fixed: Batch) -> torch.Tensor:
        """Rows of 8: real images, then their reconstructions through the frozen generator."""
        real = fixed.images[: self.options.preview_images]
        recon = self.reconstruct(real)
        return torch.cat([torch.cat([real[i : i + 8], recon[i : i + 8]]) for i in range(0, len(real), 8)])

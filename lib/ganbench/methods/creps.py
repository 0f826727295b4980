"""CREPS (Nguyen et al., CVPR 2023): a scale-equivariant generator trained with the StyleGAN2 recipe.

Only the generator is new (:mod:`ganbench.nets.creps`); the resnet discriminator, the losses (non-saturating
logistic, lazy R1, path length), EMA and ADA are the baseline's, so this class is the StyleGAN2 method
with another generator and the defaults of the official ``--cfg=creps`` (``research/creps.md`` §1.3):
G channel base and max doubled (D's not), 8 mapping layers, lr 0.002, path-length weight 2, no style
mixing, conv clamp 256, w_avg decay 0.998.

Sampling takes an output ``scale`` (or explicit row and column coordinates for crops and zoom): the
model is trained on the R x R grid over [0, 1]^2 only; any other grid is an inference-time property.
"""

from __future__ import annotations

from typing import Sequence

import torch

from ganbench.methods import register
from ganbench.methods.options import CREPSOptions
from ganbench.methods.stylegan2 import StyleGAN2
from ganbench.nets.creps import Generator, scale_grid
from ganbench.nets.stylegan2 import Discriminator


@register("creps")
class CREPS(StyleGAN2):
    Options = CREPSOptions

    def build_generator(self) -> torch.nn.Module:
        o = self.options
        return Generator(
            o.z_dim,
            self.label_dim,
            o.w_dim,
            img_resolution=self.resolution,
            img_channels=self.img_channels,
            channel_base=o.channel_base,
            channel_max=o.channel_max,
            rank=o.rank,
            bandwidth=o.bandwidth,
            fp16_refine=o.fp16_refine,
            mapping_kwargs=dict(num_layers=o.mapping_layers),
        )

    def build_discriminator(self) -> torch.nn.Module:
        o = self.options
        return Discriminator(
            self.label_dim,
            img_resolution=self.resolution,
            img_channels=self.img_channels,
            channel_base=o.d_channel_base,
            channel_max=o.d_channel_max,
            conv_clamp=o.conv_clamp,
            mbstd_group_size=o.mbstd_group,
        )

    @torch.no_grad()
    def sample(
        self,
        seeds,
        truncation_psi=None,
        scale: float = 1,
        grid: str = "nested",
        rows: Sequence[float] | torch.Tensor | None = None,
        cols: Sequence[float] | torch.Tensor | None = None,
        chunk_pixels: int | None = None,
        **kwargs,
    ):
        """Images for ``seeds`` on the grid of ``scale`` (see :func:`ganbench.nets.creps.scale_grid` for
        ``grid``), or on explicit 1-D ``rows`` and ``cols`` coordinates (the unit square is the training
        field of view; a sub-interval zooms in). Returns [len(seeds), C, len(rows), len(cols)]."""
        if rows is None or cols is None:
            axis = scale_grid(self.resolution, scale, grid)
            rows = axis if rows is None else rows
            cols = axis if cols is None else cols
        chunk = self.options.chunk_pixels if chunk_pixels is None else chunk_pixels
        return super().sample(
            seeds,
            truncation_psi,
            rows=torch.as_tensor(rows, dtype=torch.float32),
            cols=torch.as_tensor(cols, dtype=torch.float32),
            chunk_pixels=chunk,
            **kwargs,
        )

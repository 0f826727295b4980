"""StyleGAN (v1), the generator of DatasetGAN's released networks and of LAGM's "StyleGAN" rows.

The generator is :class:`ganbench.nets.stylegan1.Generator`; training is StyleGAN2-ADA's (this subclasses
:class:`~ganbench.methods.stylegan2.StyleGAN2`): non-saturating logistic loss with R1 (v1's own losses), style
mixing 0.9 (v1's mixing regularisation), no path-length regularisation. Deviations from the v1 paper's training:
the discriminator is StyleGAN2's resnet one and there is no progressive growing. The released v1 networks are
imported (``ganbench import-checkpoint``, :mod:`ganbench.nets.importers.stylegan1_pt`) rather than trained here.
"""

from __future__ import annotations

import torch

from ganbench.methods import register
from ganbench.methods.options import StyleGAN1Options
from ganbench.methods.stylegan2 import StyleGAN2
from ganbench.nets.stylegan1 import Generator


@register("stylegan1")
class StyleGAN1(StyleGAN2):
    Options = StyleGAN1Options

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
            mapping_kwargs=dict(num_layers=o.mapping_layers),
        )

"""Shared network building blocks and the StyleGAN2 networks.

:mod:`ganbench.nets.layers` holds the equalized-lr layers, modulated convolution, mapping
network and minibatch-std layer; :mod:`ganbench.nets.stylegan2` composes them into the
StyleGAN2 (config F) generator and resnet discriminator.
"""

from ganbench.nets.layers import (
    Conv2dLayer,
    FullyConnectedLayer,
    MappingNetwork,
    MinibatchStdLayer,
    SynthesisLayer,
    ToRGBLayer,
    modulated_conv2d,
    normalize_2nd_moment,
)
from ganbench.nets.stylegan2 import (
    Discriminator,
    DiscriminatorBlock,
    DiscriminatorEpilogue,
    Generator,
    SynthesisBlock,
    SynthesisNetwork,
)

__all__ = [
    "Conv2dLayer",
    "Discriminator",
    "DiscriminatorBlock",
    "DiscriminatorEpilogue",
    "FullyConnectedLayer",
    "Generator",
    "MappingNetwork",
    "MinibatchStdLayer",
    "SynthesisBlock",
    "SynthesisLayer",
    "SynthesisNetwork",
    "ToRGBLayer",
    "modulated_conv2d",
    "normalize_2nd_moment",
]

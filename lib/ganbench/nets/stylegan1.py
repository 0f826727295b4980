"""StyleGAN (v1) generator: the style-based generator of Karras et al., CVPR 2019.

Re-implemented from the paper and research/checkpoints.md §3 (the layout of DatasetGAN's released
``.for_g_all.pt`` files, which :mod:`ganbench.nets.importers.stylegan1_pt` converts into this module):

- the mapping network f (8 fully connected layers, lr multiplier 0.01) is ganbench's StyleGAN2
  :class:`~ganbench.nets.layers.MappingNetwork`: v1 applies the sqrt(2) gain inside the layer and StyleGAN2 after
  the leaky ReLU, and because lrelu is positively homogeneous the two agree once a v1 bias is divided by sqrt(2)
  (the importer does that); truncation (lerp toward ``w_avg`` on the first ``truncation_cutoff`` ws) is the same;
- the synthesis network g: a learned 4x4 constant input, then per resolution r two 3x3 convolutions (the first
  of each block above 4x4 upsamples: nearest x2, conv, [1, 2, 1] blur, bias), each followed by the "AdaIN"
  epilogue: per-channel scaled noise inputs, leaky ReLU 0.2, instance normalisation, then the style
  x * (1 + s) + b from an affine map of w; one ToRGB 1x1 at the last block only (no skip or residual
  architecture, no progressive growing at inference).

Channels at resolution r: ``min(channel_base // r, channel_max)`` (16384 and 512 in the released networks:
512 up to 32 px, then 256, 128, 64, 32, 16). ``num_ws = 2 log2(R) - 2``; block k reads ws 2k and 2k+1.

Features (LAGM, DatasetGAN; research/checkpoints.md §3): two maps per block, the block's output (after the
second epilogue) and the raw output of its second convolution (before that epilogue), in this order.

The original computes outputs of 128 px and above with a fused stride-2 transposed convolution (TensorFlow's
``fused_scale='auto'``) whose 4x4 kernel sums the four shifts of the stored 3x3 kernel. That equals nearest x2
followed by the 3x3 convolution with the kernel flipped in space, which is what runs here for those blocks
(the stored kernel is the released one; below 128 px it is used unflipped, as the original does).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.errors import ConfigError
from ganbench.nets.layers import NOISE_MODES, MappingNetwork

INSTANCE_NORM_EPS = 1e-8  # the TensorFlow original (DatasetGAN's port uses 1e-5)
LRELU_SLOPE = 0.2
FUSED_FROM = 128  # TF StyleGAN's fused_scale='auto': fused upsampling conv for outputs of 128 px and more


def _channels(res: int, channel_base: int, channel_max: int) -> int:
    return min(channel_base // res, channel_max)


class EqualizedConv2d(nn.Module):
    """Conv with the equalized learning rate: unit-variance weights scaled by gain / sqrt(fan_in) at run time.
    The bias is added by the caller (after the blur in an upsampling conv)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, gain: float = math.sqrt(2)):
        super().__init__()
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = gain / math.sqrt(in_channels * kernel_size**2)

    def conv(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.weight_gain, padding=self.weight.shape[-1] // 2)

    def add_bias(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.bias.view(1, -1, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.add_bias(self.conv(x))


class UpConv2d(EqualizedConv2d):
    """Nearest x2, 3x3 conv, [1, 2, 1] blur, then bias: the first conv of every block above 4x4. ``fused``
    (outputs of 128 px and above): the kernel is flipped in space, which makes the conv the original's fused
    transposed convolution."""

    def __init__(self, in_channels: int, out_channels: int, fused: bool = False):
        super().__init__(in_channels, out_channels, 3)
        self.fused = fused
        k = torch.tensor([1.0, 2.0, 1.0])
        k = torch.outer(k, k)
        self.register_buffer("blur", (k / k.sum())[None, None], persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight.flip(2, 3) if self.fused else self.weight
        x = F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), weight * self.weight_gain, padding=1)
        c = x.shape[1]
        x = F.conv2d(x, self.blur.to(x.dtype).expand(c, 1, 3, 3), padding=1, groups=c)
        return self.add_bias(x)


class StyleEpilogue(nn.Module):
    """After each conv: + noise * per-channel strength, lrelu 0.2, instance norm, then the style
    (AdaIN): x * (1 + s) + b with [s, b] = affine(w) (equalized, gain 1)."""

    def __init__(self, channels: int, w_dim: int, resolution: int):
        super().__init__()
        self.resolution = resolution
        self.noise_strength = nn.Parameter(torch.zeros([channels]))
        self.affine_weight = nn.Parameter(torch.randn([2 * channels, w_dim]))
        self.affine_bias = nn.Parameter(torch.zeros([2 * channels]))
        self.affine_gain = 1 / math.sqrt(w_dim)
        self.register_buffer("noise_const", torch.randn([resolution, resolution]))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "random", rng=None) -> torch.Tensor:
        n, c = x.shape[:2]
        if noise_mode == "random":
            shape = (n, 1, self.resolution, self.resolution)
            noise = rng.randn(*shape) if rng is not None else torch.randn(shape, device=x.device)
            x = x + noise.to(device=x.device, dtype=x.dtype) * self.noise_strength.view(1, -1, 1, 1)
        elif noise_mode == "const":
            x = x + self.noise_const * self.noise_strength.view(1, -1, 1, 1)
        x = F.leaky_relu(x, LRELU_SLOPE)
        x = x - x.mean(dim=(2, 3), keepdim=True)
        x = x * (x.square().mean(dim=(2, 3), keepdim=True) + INSTANCE_NORM_EPS).rsqrt()
        style = F.linear(w, self.affine_weight * self.affine_gain, self.affine_bias).view(n, 2, c, 1, 1)
        return x * (style[:, 0] + 1) + style[:, 1]


class SynthesisBlock(nn.Module):
    """Resolution r: (x [N, C_{r/2}, r/2, r/2] or None at 4x4, ws [N, 2, w_dim]) ->
    (x [N, C_r, r, r], the raw second conv output [N, C_r, r, r])."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int):
        super().__init__()
        self.resolution = resolution
        if resolution == 4:
            self.const = nn.Parameter(torch.ones([out_channels, 4, 4]))
            self.const_bias = nn.Parameter(torch.zeros([out_channels]))
        else:
            self.conv0 = UpConv2d(in_channels, out_channels, fused=resolution >= FUSED_FROM)
        self.epilogue0 = StyleEpilogue(out_channels, w_dim, resolution)
        self.conv1 = EqualizedConv2d(out_channels, out_channels, 3)
        self.epilogue1 = StyleEpilogue(out_channels, w_dim, resolution)

    def forward(self, x, ws: torch.Tensor, noise_mode: str = "random", rng=None):
        if self.resolution == 4:
            x = (self.const + self.const_bias.view(-1, 1, 1)).unsqueeze(0).expand(len(ws), -1, -1, -1)
        else:
            x = self.conv0(x)
        x = self.epilogue0(x, ws[:, 0], noise_mode, rng)
        raw = self.conv1(x)
        return self.epilogue1(raw, ws[:, 1], noise_mode, rng), raw


class SynthesisNetwork(nn.Module):
    """ws [N, num_ws, w_dim] -> img [N, img_channels, R, R]; blocks ``b4 ... b{R}`` and one ``torgb``."""

    def __init__(
        self,
        w_dim: int,
        img_resolution: int,
        img_channels: int = 3,
        channel_base: int = 16384,
        channel_max: int = 512,
        **unused: Any,
    ):
        super().__init__()
        log2 = int(math.log2(img_resolution)) if img_resolution > 0 else 0
        if img_resolution < 4 or 2**log2 != img_resolution:
            raise ConfigError(f"img_resolution={img_resolution} must be a power of two >= 4")
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        self.block_resolutions = [2**i for i in range(2, log2 + 1)]
        for res in self.block_resolutions:
            in_channels = _channels(res // 2, channel_base, channel_max) if res > 4 else 0
            setattr(self, f"b{res}", SynthesisBlock(in_channels, _channels(res, channel_base, channel_max), w_dim, res))
        self.torgb = EqualizedConv2d(_channels(img_resolution, channel_base, channel_max), img_channels, 1, gain=1)
        self.num_ws = 2 * len(self.block_resolutions)

    def blocks(self) -> list[SynthesisBlock]:
        return [getattr(self, f"b{res}") for res in self.block_resolutions]

    def feature_channels(self) -> list[int]:
        """Channels of the maps ``forward(..., return_features=True)`` returns, in order: two per block."""
        return [c for block in self.blocks() for c in (block.conv1.weight.shape[0],) * 2]

    def forward(self, ws: torch.Tensor, noise_mode: str = "random", rng=None, return_features: bool = False, **_):
        """img, or (img, features) with features = {"b{r}.out": block output, "b{r}.conv1": its raw second
        conv}, lowest resolution first, float32 (two maps per block, as LAGM and DatasetGAN read them)."""
        if ws.ndim != 3 or ws.shape[1] != self.num_ws or ws.shape[2] != self.w_dim:
            raise ConfigError(f"synthesis: ws must be [N, {self.num_ws}, {self.w_dim}], got {list(ws.shape)}")
        if noise_mode not in NOISE_MODES:
            raise ConfigError(f"noise_mode={noise_mode!r} is not one of {', '.join(NOISE_MODES)}")
        ws = ws.to(torch.float32)
        x = None
        features: dict[str, torch.Tensor] = {}
        for k, block in enumerate(self.blocks()):
            x, raw = block(x, ws[:, 2 * k : 2 * k + 2], noise_mode=noise_mode, rng=rng)
            if return_features:
                features[f"b{block.resolution}.out"] = x
                features[f"b{block.resolution}.conv1"] = raw
        img = self.torgb(x)
        return (img, features) if return_features else img


class Generator(nn.Module):
    """StyleGAN (v1) generator: z [N, z_dim] (c [N, 0]) -> img [N, img_channels, R, R]; the same call
    signature as the StyleGAN2 :class:`~ganbench.nets.stylegan2.Generator` (unconditional only)."""

    def __init__(
        self,
        z_dim: int = 512,
        c_dim: int = 0,
        w_dim: int = 512,
        *,
        img_resolution: int,
        img_channels: int = 3,
        channel_base: int = 16384,
        channel_max: int = 512,
        mapping_kwargs: dict | None = None,
        **unused: Any,
    ):
        super().__init__()
        if c_dim:
            raise ConfigError(f"StyleGAN (v1) generator: unconditional only, got {c_dim} labels")
        self.z_dim, self.c_dim, self.w_dim = z_dim, 0, w_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.synthesis = SynthesisNetwork(w_dim, img_resolution, img_channels, channel_base, channel_max)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim, 0, w_dim, num_ws=self.num_ws, **(mapping_kwargs or {}))

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        truncation_psi: float = 1,
        truncation_cutoff: int | None = None,
        noise_mode: str = "random",
        rng=None,
        return_features: bool = False,
        update_emas: bool = False,
        **_: Any,
    ):
        ws = self.mapping(
            z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff, update_emas=update_emas
        )
        return self.synthesis(ws, noise_mode=noise_mode, rng=rng, return_features=return_features)

"""StyleGAN2 (config F) generator and discriminator, from 32 px on a laptop to 1024 px on a cluster.

Re-implemented from the published architecture (Karras et al., CVPR 2020, config F; the
PyTorch layout of StyleGAN2-ADA): skip-architecture generator, resnet discriminator.
Channels at resolution r: ``min(channel_base // r, channel_max)``. Config F at 1024 px has
30,370,060 G parameters (2,101,248 in the mapping) and 29,012,513 D parameters.

Module names follow the original (``synthesis.b4 ... synthesis.b{R}``, ``b{R} ... b4`` in D), so
hooks written for it (LAGM's feature hooks) address the same blocks.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ganbench import ops
from ganbench.errors import ConfigError
from ganbench.nets.layers import (
    RESAMPLE_FILTER,
    Conv2dLayer,
    FullyConnectedLayer,
    MappingNetwork,
    MinibatchStdLayer,
    SynthesisLayer,
    ToRGBLayer,
    make_filter,
)


def _log2_resolution(img_resolution: int) -> int:
    log2 = int(math.log2(img_resolution)) if img_resolution > 0 else 0
    if img_resolution < 4 or 2**log2 != img_resolution:
        raise ConfigError(f"img_resolution={img_resolution} must be a power of two >= 4")
    return log2


def _channels(res: int, channel_base: int, channel_max: int) -> int:
    return min(channel_base // res, channel_max)


def _block_dtype(use_fp16: bool, device: torch.device) -> torch.dtype:
    """fp16 only on CUDA: the CPU has no fast half-precision convolutions."""
    return torch.float16 if use_fp16 and device.type == "cuda" else torch.float32


class SynthesisBlock(nn.Module):
    """One resolution r of the synthesis network (skip architecture).

    forward(x [N, in_channels, r/2, r/2] or None, img [N, img_channels, r/2, r/2] or None,
    ws [N, num_conv + 1, w_dim]) -> (x [N, out_channels, r, r], img [N, img_channels, r, r] float32).
    The first block (in_channels=0) starts from a learned constant [out_channels, 4, 4] and has
    one conv; the others upsample in conv0 and refine in conv1. ToRGB output is added to the
    upsampled img of the previous block.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        img_channels: int,
        use_fp16: bool = False,
        conv_clamp: float | None = None,
        **layer_kwargs: Any,
    ):
        super().__init__()
        self.in_channels, self.resolution, self.use_fp16 = in_channels, resolution, use_fp16
        self.register_buffer("resample_filter", make_filter(RESAMPLE_FILTER), persistent=False)
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn([out_channels, resolution, resolution]))
        else:
            self.conv0 = SynthesisLayer(
                in_channels, out_channels, w_dim, resolution, up=2, conv_clamp=conv_clamp, **layer_kwargs
            )
        self.conv1 = SynthesisLayer(
            out_channels, out_channels, w_dim, resolution, conv_clamp=conv_clamp, **layer_kwargs
        )
        self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)
        self.num_conv = 1 if in_channels == 0 else 2
        self.num_torgb = 1

    def forward(
        self,
        x: torch.Tensor | None,
        img: torch.Tensor | None,
        ws: torch.Tensor,
        noise_mode: str = "random",
        fused_modconv: bool | None = None,
        rng=None,
    ):
        w_iter = iter(ws.unbind(dim=1))
        dtype = _block_dtype(self.use_fp16, ws.device)
        if fused_modconv is None:  # grouped convs are fast forward but slow to differentiate
            fused_modconv = (not self.training) and (dtype == torch.float32 or ws.shape[0] == 1)
        kw = dict(noise_mode=noise_mode, fused_modconv=fused_modconv, rng=rng)
        if self.in_channels == 0:
            x = self.const.to(dtype).unsqueeze(0).repeat(ws.shape[0], 1, 1, 1)
        else:
            x = self.conv0(x.to(dtype), next(w_iter), **kw)
        x = self.conv1(x, next(w_iter), **kw)
        y = self.torgb(x, next(w_iter), fused_modconv=fused_modconv).to(torch.float32)
        img = y if img is None else ops.upsample2d(img, self.resample_filter) + y
        return x, img


class SynthesisNetwork(nn.Module):
    """ws [N, num_ws, w_dim] -> img [N, img_channels, R, R] (float32, nominal range [-1, 1]).

    Blocks ``b4 ... b{R}``; ``num_ws = 2 * log2(R) - 2`` (18 at 1024). Block k uses ws[k'..k'+num_conv],
    so the ToRGB of a block shares its w with the next block's first conv (as in the original).
    The top ``num_fp16_res`` resolutions run in fp16 on CUDA (use ``conv_clamp=256`` with it).
    """

    def __init__(
        self,
        w_dim: int,
        img_resolution: int,
        img_channels: int = 3,
        channel_base: int = 32768,
        channel_max: int = 512,
        num_fp16_res: int = 0,
        conv_clamp: float | None = None,
        **layer_kwargs: Any,
    ):
        super().__init__()
        log2 = _log2_resolution(img_resolution)
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        self.block_resolutions = [2**i for i in range(2, log2 + 1)]
        fp16_resolution = max(2 ** (log2 + 1 - num_fp16_res), 8)
        self.num_ws = 0
        for res in self.block_resolutions:
            in_channels = _channels(res // 2, channel_base, channel_max) if res > 4 else 0
            block = SynthesisBlock(
                in_channels,
                _channels(res, channel_base, channel_max),
                w_dim,
                res,
                img_channels,
                use_fp16=res >= fp16_resolution,
                conv_clamp=conv_clamp,
                **layer_kwargs,
            )
            self.num_ws += block.num_conv
            setattr(self, f"b{res}", block)
        self.num_ws += 1  # the last ToRGB

    def blocks(self) -> list[SynthesisBlock]:
        return [getattr(self, f"b{res}") for res in self.block_resolutions]

    def feature_channels(self) -> list[int]:
        """Channels of the maps ``forward(..., return_features=True)`` returns, in order: one per block."""
        return [block.conv1.weight.shape[0] for block in self.blocks()]

    def forward(
        self,
        ws: torch.Tensor,
        noise_mode: str = "random",
        fused_modconv: bool | None = None,
        rng=None,
        return_features: bool = False,
    ):
        """Returns img, or (img, features) with features = {r: block output [N, C_r, r, r] float32}
        when ``return_features`` (the per-block feature maps LAGM's annotator reads).

        rng: None (noise from ``torch.randn``) or an object with ``randn(n_local, *shape)`` such as
        :class:`ganbench.train.batch_random.BatchRandom`; noise is drawn block by block, layer by layer.
        """
        if ws.ndim != 3 or ws.shape[1] != self.num_ws or ws.shape[2] != self.w_dim:
            raise ConfigError(f"synthesis: ws must be [N, {self.num_ws}, {self.w_dim}], got {list(ws.shape)}")
        ws = ws.to(torch.float32)
        x = img = None
        features: dict[int, torch.Tensor] = {}
        w_idx = 0
        for block in self.blocks():
            block_ws = ws.narrow(1, w_idx, block.num_conv + block.num_torgb)
            w_idx += block.num_conv
            x, img = block(x, img, block_ws, noise_mode=noise_mode, fused_modconv=fused_modconv, rng=rng)
            if return_features:
                features[block.resolution] = x.to(torch.float32)
        return (img, features) if return_features else img


class Generator(nn.Module):
    """StyleGAN2 generator: z [N, z_dim], c [N, c_dim] -> img [N, img_channels, R, R].

    Args: z_dim, c_dim (0: unconditional), w_dim, img_resolution R (power of two), img_channels,
    channel_base, channel_max, num_fp16_res, conv_clamp, mapping_kwargs (extra MappingNetwork
    arguments: num_layers=8, lr_multiplier=0.01, w_avg_beta=0.995, ...), synthesis_kwargs (extra
    SynthesisLayer arguments, e.g. use_noise).
    """

    def __init__(
        self,
        z_dim: int = 512,
        c_dim: int = 0,
        w_dim: int = 512,
        *,
        img_resolution: int,
        img_channels: int = 3,
        channel_base: int = 32768,
        channel_max: int = 512,
        num_fp16_res: int = 0,
        conv_clamp: float | None = None,
        mapping_kwargs: dict | None = None,
        **synthesis_kwargs: Any,
    ):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.synthesis = SynthesisNetwork(
            w_dim,
            img_resolution,
            img_channels,
            channel_base=channel_base,
            channel_max=channel_max,
            num_fp16_res=num_fp16_res,
            conv_clamp=conv_clamp,
            **synthesis_kwargs,
        )
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim, c_dim, w_dim, num_ws=self.num_ws, **(mapping_kwargs or {}))

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
        fused_modconv: bool | None = None,
    ):
        """img [N, img_channels, R, R], or (img, {r: features}) with ``return_features``; see
        :meth:`SynthesisNetwork.forward` for ``rng`` and :class:`MappingNetwork` for ``update_emas``."""
        ws = self.mapping(
            z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff, update_emas=update_emas
        )
        return self.synthesis(
            ws, noise_mode=noise_mode, fused_modconv=fused_modconv, rng=rng, return_features=return_features
        )


class DiscriminatorBlock(nn.Module):
    """Resnet D block at resolution r: [N, tmp, r, r] (or img [N, img_channels, r, r] for the first
    block, in_channels=0, through FromRGB) -> [N, out_channels, r/2, r/2].

    ``x = sqrt(.5) * (skip(x) + conv1(conv0(x)))`` with skip a 1x1 conv without bias, both
    paths downsampled by 2 with the [1,3,3,1] filter.
    """

    def __init__(
        self,
        in_channels: int,
        tmp_channels: int,
        out_channels: int,
        resolution: int,
        img_channels: int,
        use_fp16: bool = False,
        conv_clamp: float | None = None,
        activation: str = "lrelu",
    ):
        super().__init__()
        self.in_channels, self.resolution, self.use_fp16 = in_channels, resolution, use_fp16
        if in_channels == 0:
            self.fromrgb = Conv2dLayer(img_channels, tmp_channels, 1, activation=activation, conv_clamp=conv_clamp)
        self.conv0 = Conv2dLayer(tmp_channels, tmp_channels, 3, activation=activation, conv_clamp=conv_clamp)
        self.conv1 = Conv2dLayer(tmp_channels, out_channels, 3, activation=activation, down=2, conv_clamp=conv_clamp)
        self.skip = Conv2dLayer(tmp_channels, out_channels, 1, bias=False, down=2)

    def forward(self, x: torch.Tensor | None, img: torch.Tensor) -> torch.Tensor:
        dtype = _block_dtype(self.use_fp16, img.device)
        x = self.fromrgb(img.to(dtype)) if self.in_channels == 0 else x.to(dtype)
        y = self.skip(x, gain=math.sqrt(0.5))
        x = self.conv1(self.conv0(x), gain=math.sqrt(0.5))
        return y + x


class DiscriminatorEpilogue(nn.Module):
    """4x4 head: [N, C, 4, 4] -> mbstd -> conv 3x3 -> fc -> out [N, 1] (or [N, cmap_dim] projected on cmap)."""

    def __init__(
        self,
        in_channels: int,
        cmap_dim: int,
        resolution: int = 4,
        mbstd_group_size: int = 4,
        mbstd_num_channels: int = 1,
        activation: str = "lrelu",
        conv_clamp: float | None = None,
    ):
        super().__init__()
        self.cmap_dim = cmap_dim
        self.mbstd = MinibatchStdLayer(mbstd_group_size, mbstd_num_channels) if mbstd_num_channels > 0 else None
        self.conv = Conv2dLayer(
            in_channels + mbstd_num_channels, in_channels, 3, activation=activation, conv_clamp=conv_clamp
        )
        self.fc = FullyConnectedLayer(in_channels * resolution**2, in_channels, activation=activation)
        self.out = FullyConnectedLayer(in_channels, 1 if cmap_dim == 0 else cmap_dim)

    def forward(self, x: torch.Tensor, cmap: torch.Tensor | None = None) -> torch.Tensor:
        x = x.to(torch.float32)
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = self.out(self.fc(self.conv(x).flatten(1)))
        if cmap is not None:  # projection discriminator
            x = (x * cmap).sum(dim=1, keepdim=True) * (1 / math.sqrt(self.cmap_dim))
        return x


class Discriminator(nn.Module):
    """StyleGAN2 resnet discriminator: img [N, img_channels, R, R], c [N, c_dim] -> logits [N, 1].

    Args: c_dim (0: unconditional; else conditioning by projection onto a MappingNetwork
    embedding of c, ``cmap_dim`` wide, default channels at 4x4), img_resolution, img_channels,
    channel_base, channel_max, num_fp16_res, conv_clamp, mbstd_group_size, mbstd_num_channels,
    mapping_kwargs (for the c mapping).
    """

    def __init__(
        self,
        c_dim: int = 0,
        *,
        img_resolution: int,
        img_channels: int = 3,
        channel_base: int = 32768,
        channel_max: int = 512,
        num_fp16_res: int = 0,
        conv_clamp: float | None = None,
        mbstd_group_size: int = 4,
        mbstd_num_channels: int = 1,
        cmap_dim: int | None = None,
        mapping_kwargs: dict | None = None,
    ):
        super().__init__()
        log2 = _log2_resolution(img_resolution)
        if img_resolution < 8:
            raise ConfigError(f"discriminator img_resolution={img_resolution} must be >= 8")
        self.c_dim, self.img_resolution, self.img_channels = c_dim, img_resolution, img_channels
        self.block_resolutions = [2**i for i in range(log2, 2, -1)]
        fp16_resolution = max(2 ** (log2 + 1 - num_fp16_res), 8)
        for res in self.block_resolutions:
            tmp = _channels(res, channel_base, channel_max)
            block = DiscriminatorBlock(
                tmp if res < img_resolution else 0,
                tmp,
                _channels(res // 2, channel_base, channel_max),
                res,
                img_channels,
                use_fp16=res >= fp16_resolution,
                conv_clamp=conv_clamp,
            )
            setattr(self, f"b{res}", block)
        channels_4 = _channels(4, channel_base, channel_max)
        self.cmap_dim = 0 if c_dim == 0 else (channels_4 if cmap_dim is None else cmap_dim)
        self.mapping = None
        if c_dim > 0:
            self.mapping = MappingNetwork(
                0, c_dim, self.cmap_dim, num_ws=None, w_avg_beta=None, **(mapping_kwargs or {})
            )
        self.b4 = DiscriminatorEpilogue(
            channels_4,
            self.cmap_dim,
            mbstd_group_size=mbstd_group_size,
            mbstd_num_channels=mbstd_num_channels,
            conv_clamp=conv_clamp,
        )

    def forward(self, img: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        R = self.img_resolution
        if img.ndim != 4 or tuple(img.shape[1:]) != (self.img_channels, R, R):
            raise ConfigError(f"discriminator: img must be [N, {self.img_channels}, {R}, {R}], got {list(img.shape)}")
        x = None
        for res in self.block_resolutions:
            x = getattr(self, f"b{res}")(x, img)
        cmap = self.mapping(None, c) if self.mapping is not None else None
        return self.b4(x, cmap)

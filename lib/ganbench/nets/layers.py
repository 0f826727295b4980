"""Building blocks of the StyleGAN2 family, named after the paper's blocks.

Re-implemented from the published architecture (Karras et al., "Analyzing and Improving the
Image Quality of StyleGAN", CVPR 2020, and its ADA follow-up). Every layer uses equalized
learning rate: parameters are stored at unit scale and multiplied by ``1/sqrt(fan_in)`` at
run time. Resampling and activations go through :mod:`ganbench.ops`, so the same code runs
the pure-PyTorch reference, the C++ kernels and the CUDA kernels.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.distributed as dist
from torch import nn

from ganbench import ops
from ganbench.errors import ConfigError

RESAMPLE_FILTER = (1, 3, 3, 1)  # the binomial FIR filter of every up/downsampling
NOISE_MODES = ("random", "const", "none")


def act_gain(activation: str) -> float:
    """Default gain of an activation (sqrt(2) for lrelu); raises ConfigError if unknown."""
    if activation not in ops.ACTIVATIONS:
        raise ConfigError(f"activation={activation!r} is not one of {', '.join(ops.ACTIVATIONS)}")
    return ops.ACTIVATIONS[activation].def_gain


def make_filter(taps: Sequence[float] | None) -> torch.Tensor:
    """The resampling filter as a tensor on the default device (meta inside ``torch.device('meta')``)."""
    return ops.setup_filter(taps, device=torch.get_default_device())


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """x scaled to unit mean square along ``dim`` (the pixel norm of z and of label embeddings)."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


class FullyConnectedLayer(nn.Module):
    """Equalized-lr dense layer: [N, in_features] -> [N, out_features].

    ``lr_multiplier`` scales the effective learning rate (the mapping network uses 0.01): the
    weight is stored as N(0, 1/lr_mul^2) and multiplied by ``lr_mul/sqrt(in_features)``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        activation: str = "linear",
        lr_multiplier: float = 1.0,
        bias_init: float = 0.0,
    ):
        super().__init__()
        self.in_features, self.out_features, self.activation = in_features, out_features, activation
        act_gain(activation)  # validate early
        self.weight = nn.Parameter(torch.randn([out_features, in_features]) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init))) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight.to(x.dtype) * self.weight_gain
        b = self.bias
        if b is not None:
            b = b.to(x.dtype) * self.bias_gain if self.bias_gain != 1 else b.to(x.dtype)
        if self.activation == "linear" and b is not None:
            return torch.addmm(b.unsqueeze(0), x, w.t())
        y = x.matmul(w.t())  # under autocast, y may be narrower than x: the bias follows y
        return ops.bias_act(y, None if b is None else b.to(y.dtype), act=self.activation)

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, act={self.activation}"


class Conv2dLayer(nn.Module):
    """Equalized-lr convolution with optional FIR up/downsampling by 2, bias, activation, clamp.

    [N, in_channels, H, W] -> [N, out_channels, H*up/down, W*up/down] ('same' padding).
    ``conv_clamp`` clamps the activations to +-conv_clamp (for fp16); ``forward(x, gain)``
    scales the output and the clamp by ``gain`` (the resnet D uses sqrt(0.5)).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        bias: bool = True,
        activation: str = "linear",
        up: int = 1,
        down: int = 1,
        resample_filter: Sequence[float] = RESAMPLE_FILTER,
        conv_clamp: float | None = None,
    ):
        super().__init__()
        self.activation, self.up, self.down, self.conv_clamp = activation, up, down, conv_clamp
        self.register_buffer("resample_filter", make_filter(resample_filter), persistent=False)
        self.padding = kernel_size // 2
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)
        self.act_gain = act_gain(activation)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.bias = nn.Parameter(torch.zeros([out_channels])) if bias else None

    def forward(self, x: torch.Tensor, gain: float = 1) -> torch.Tensor:
        w = self.weight.to(x.dtype) * self.weight_gain
        b = self.bias.to(x.dtype) if self.bias is not None else None
        x = ops.conv2d_resample(
            x, w, f=self.resample_filter, up=self.up, down=self.down, padding=self.padding, flip_weight=(self.up == 1)
        )
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        b = None if b is None else b.to(x.dtype)  # under autocast the conv output may be narrower
        return ops.bias_act(x, b, act=self.activation, gain=self.act_gain * gain, clamp=clamp)


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    noise: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: int = 0,
    resample_filter: torch.Tensor | None = None,
    demodulate: bool = True,
    flip_weight: bool = True,
    fused_modconv: bool = True,
) -> torch.Tensor:
    """Style-modulated convolution (StyleGAN2 "weight demodulation").

    Args:
        x: [N, I, H, W] input.
        weight: [O, I, kh, kw] weight, already scaled (equalized lr) by the caller.
        styles: [N, I] per-sample input-channel scales.
        noise: None or a tensor broadcastable to the output [N, O, H', W'] (added after demod).
        up, down, padding, resample_filter, flip_weight: as :func:`ganbench.ops.conv2d_resample`.
        demodulate: rescale each output channel of each sample's weight to unit L2 norm.
        fused_modconv: True runs one grouped convolution with per-sample weights (fast in
            inference); False scales activations instead of weights (one shared-weight conv;
            cheaper to differentiate, used in training).

    Returns:
        [N, O, H', W'] in x's dtype.
    """
    N, I = x.shape[0], x.shape[1]
    O, _, kh, kw = weight.shape
    if styles.shape != (N, I) or weight.shape[1] != I:
        raise ConfigError(
            f"modulated_conv2d: x {list(x.shape)}, weight {list(weight.shape)} and styles "
            f"{list(styles.shape)} do not agree"
        )
    if x.dtype == torch.float16 and demodulate:
        # Pre-normalize so that the products below cannot overflow fp16 (demodulation undoes it).
        weight = weight * (1 / math.sqrt(I * kh * kw) / weight.norm(float("inf"), dim=[1, 2, 3], keepdim=True))
        styles = styles / styles.norm(float("inf"), dim=1, keepdim=True)
    dcoefs = None
    if demodulate:
        # sum_{i,k} (w[o,i,k] s[i])^2 = sum_i s[i]^2 sum_k w[o,i,k]^2: no [N, O, I, kh, kw] tensor needed.
        dcoefs = (styles.square() @ weight.square().sum(dim=[2, 3]).t() + 1e-8).rsqrt()  # [N, O]
    if not fused_modconv:
        x = x * styles.to(x.dtype).reshape(N, I, 1, 1)
        x = ops.conv2d_resample(
            x, weight.to(x.dtype), f=resample_filter, up=up, down=down, padding=padding, flip_weight=flip_weight
        )
        if dcoefs is not None:
            x = x * dcoefs.to(x.dtype).reshape(N, O, 1, 1)
    else:
        w = weight.unsqueeze(0) * styles.reshape(N, 1, I, 1, 1)  # [N, O, I, kh, kw]
        if dcoefs is not None:
            w = w * dcoefs.reshape(N, O, 1, 1, 1)
        x = x.reshape(1, N * I, *x.shape[2:])
        x = ops.conv2d_resample(
            x,
            w.reshape(N * O, I, kh, kw).to(x.dtype),
            f=resample_filter,
            up=up,
            down=down,
            padding=padding,
            groups=N,
            flip_weight=flip_weight,
        )
        x = x.reshape(N, O, *x.shape[2:])
    if noise is not None:
        x = x + noise.to(x.dtype)
    return x


class SynthesisLayer(nn.Module):
    """Modulated 3x3 conv + per-pixel noise + bias + lrelu: [N, I, r/up, r/up] -> [N, O, r, r].

    ``resolution`` is the output resolution r. Noise: ``noise_strength`` (a learned scalar,
    zero at init) times N(0, 1) noise of shape [N, 1, r, r]: drawn per call ('random', from
    ``rng.randn`` when an rng is given), the fixed ``noise_const`` buffer ('const'), or off ('none').
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        kernel_size: int = 3,
        up: int = 1,
        use_noise: bool = True,
        activation: str = "lrelu",
        resample_filter: Sequence[float] = RESAMPLE_FILTER,
        conv_clamp: float | None = None,
    ):
        super().__init__()
        self.resolution, self.up, self.use_noise = resolution, up, use_noise
        self.activation, self.conv_clamp, self.act_gain = activation, conv_clamp, act_gain(activation)
        self.register_buffer("resample_filter", make_filter(resample_filter), persistent=False)
        self.padding = kernel_size // 2
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)
        if use_noise:
            self.register_buffer("noise_const", torch.randn([resolution, resolution]))
            self.noise_strength = nn.Parameter(torch.zeros([]))

    def forward(
        self,
        x: torch.Tensor,
        w: torch.Tensor,
        noise_mode: str = "random",
        fused_modconv: bool = True,
        gain: float = 1,
        rng=None,
    ) -> torch.Tensor:
        """x: [N, I, H, W], w: [N, w_dim]; rng: None or a BatchRandom-like object with ``randn(n, *shape)``."""
        if noise_mode not in NOISE_MODES:
            raise ConfigError(f"noise_mode={noise_mode!r} is not one of {', '.join(NOISE_MODES)}")
        styles = self.affine(w)
        noise = None
        if self.use_noise and noise_mode == "random":
            shape = (x.shape[0], 1, self.resolution, self.resolution)
            raw = rng.randn(*shape) if rng is not None else torch.randn(shape, device=x.device)
            noise = raw.to(device=x.device, dtype=torch.float32) * self.noise_strength
        elif self.use_noise and noise_mode == "const":
            noise = self.noise_const * self.noise_strength
        x = modulated_conv2d(
            x,
            self.weight * self.weight_gain,
            styles,
            noise=noise,
            up=self.up,
            padding=self.padding,
            resample_filter=self.resample_filter,
            flip_weight=(self.up == 1),
            fused_modconv=fused_modconv,
        )
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return ops.bias_act(x, self.bias.to(x.dtype), act=self.activation, gain=self.act_gain * gain, clamp=clamp)


class ToRGBLayer(nn.Module):
    """Modulated 1x1 conv without demodulation, plus bias: [N, I, H, W] -> [N, img_channels, H, W]."""

    def __init__(
        self, in_channels: int, out_channels: int, w_dim: int, kernel_size: int = 1, conv_clamp: float | None = None
    ):
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)

    def forward(self, x: torch.Tensor, w: torch.Tensor, fused_modconv: bool = True) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False, fused_modconv=fused_modconv)
        return ops.bias_act(x, self.bias.to(x.dtype), clamp=self.conv_clamp)


class MappingNetwork(nn.Module):
    """z (and optionally c) -> w: [N, z_dim], [N, c_dim] -> [N, num_ws, w_dim] (or [N, w_dim] if num_ws is None).

    z is normalized to unit mean square; c goes through an embedding FC layer (``embed_features``
    wide, default w_dim) and is normalized likewise; the concatenation goes through
    ``num_layers`` lrelu FC layers with learning-rate multiplier ``lr_multiplier``.
    ``w_avg`` (a buffer) tracks the mean w with decay ``w_avg_beta``; truncation pulls w toward
    it: ``w_avg + psi * (w - w_avg)``, on the first ``truncation_cutoff`` ws only if given.
    ``w_avg_beta=None`` disables tracking and truncation (the conditioning map of D).
    """

    def __init__(
        self,
        z_dim: int,
        c_dim: int,
        w_dim: int,
        num_ws: int | None,
        num_layers: int = 8,
        embed_features: int | None = None,
        layer_features: int | None = None,
        activation: str = "lrelu",
        lr_multiplier: float = 0.01,
        w_avg_beta: float | None = 0.995,
    ):
        super().__init__()
        if z_dim + c_dim == 0 or num_layers < 1:
            raise ConfigError(
                f"mapping network needs z_dim + c_dim > 0 and num_layers >= 1, "
                f"got z_dim={z_dim}, c_dim={c_dim}, num_layers={num_layers}"
            )
        self.z_dim, self.c_dim, self.w_dim, self.num_ws, self.w_avg_beta = z_dim, c_dim, w_dim, num_ws, w_avg_beta
        embed_features = (w_dim if embed_features is None else embed_features) if c_dim > 0 else 0
        layer_features = w_dim if layer_features is None else layer_features
        features = [z_dim + embed_features] + [layer_features] * (num_layers - 1) + [w_dim]
        self.embed = FullyConnectedLayer(c_dim, embed_features) if c_dim > 0 else None
        self.fcs = nn.ModuleList(
            FullyConnectedLayer(features[i], features[i + 1], activation=activation, lr_multiplier=lr_multiplier)
            for i in range(num_layers)
        )
        if w_avg_beta is not None:
            self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(
        self,
        z: torch.Tensor | None,
        c: torch.Tensor | None = None,
        truncation_psi: float = 1,
        truncation_cutoff: int | None = None,
        update_emas: bool = False,
    ) -> torch.Tensor:
        """``update_emas=True`` (training) moves w_avg toward the batch mean of w, averaged over
        all DDP ranks when torch.distributed is initialized (so N ranks track what one process would)."""
        parts = []
        if self.z_dim > 0:
            if z is None or z.ndim != 2 or z.shape[1] != self.z_dim:
                raise ConfigError(f"mapping: z must be [N, {self.z_dim}], got {getattr(z, 'shape', None)}")
            parts.append(normalize_2nd_moment(z.to(torch.float32)))
        if self.c_dim > 0:
            if c is None or c.ndim != 2 or c.shape[1] != self.c_dim:
                raise ConfigError(f"mapping: c must be [N, {self.c_dim}], got {getattr(c, 'shape', None)}")
            parts.append(normalize_2nd_moment(self.embed(c.to(torch.float32))))
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        for fc in self.fcs:
            x = fc(x)
        if update_emas and self.w_avg_beta is not None:
            self._update_w_avg(x.detach())
        if self.num_ws is None:
            return x
        x = x.unsqueeze(1).repeat(1, self.num_ws, 1)
        if truncation_psi != 1:
            if self.w_avg_beta is None:
                raise ConfigError("mapping: truncation needs w_avg tracking (w_avg_beta is None)")
            cut = self.num_ws if truncation_cutoff is None else min(int(truncation_cutoff), self.num_ws)
            x = torch.cat([self.w_avg.to(x.dtype).lerp(x[:, :cut], truncation_psi), x[:, cut:]], dim=1)
        return x

    @torch.no_grad()
    def _update_w_avg(self, w: torch.Tensor) -> None:
        mean = w.to(self.w_avg.dtype).mean(dim=0)  # w may be bf16 under autocast
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            dist.all_reduce(mean)
            mean /= dist.get_world_size()
        self.w_avg.copy_(mean.lerp(self.w_avg, self.w_avg_beta))


class MinibatchStdLayer(nn.Module):
    """Appends the per-group standard deviation as extra channels: [N, C, H, W] -> [N, C + F, H, W].

    Samples are split into groups of ``G = min(group_size, N)``; within a group, the std of
    every feature over the group's samples is averaged over C/F channels and all pixels,
    giving F numbers per group that are broadcast to every member's extra channels.

    Deviation from the original (which groups with stride N/G, i.e. {i, i + N/G, ...}): the groups
    here are *contiguous*, {0..G-1}, {G..2G-1}, ... A global batch split across DDP ranks into
    local batches that are multiples of G therefore forms exactly the same groups as on one
    process, so N ranks compute what one process computes. G must divide N. (A local batch
    smaller than group_size shrinks G and breaks that equality: keep batch per GPU >= group_size.)
    """

    def __init__(self, group_size: int, num_channels: int = 1):
        super().__init__()
        if group_size < 1 or num_channels < 1:
            raise ConfigError(f"mbstd: group_size={group_size} and num_channels={num_channels} must be >= 1")
        self.group_size, self.num_channels = group_size, num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        N, C, H, W = x.shape
        G, F = min(self.group_size, N), self.num_channels
        if N % G or C % F:
            raise ConfigError(
                f"mbstd: group size {G} must divide the (local) batch {N} and num_channels {F} "
                f"the {C} channels; choose a batch per GPU that is a multiple of mbstd_group_size"
            )
        y = x.to(torch.float32).reshape(N // G, G, F, C // F, H, W)  # contiguous groups
        y = (y - y.mean(dim=1, keepdim=True)).square().mean(dim=1)  # variance over the group
        y = (y + 1e-8).sqrt().mean(dim=[2, 3, 4])  # [N/G, F]
        y = y.repeat_interleave(G, dim=0).reshape(N, F, 1, 1).expand(N, F, H, W)
        return torch.cat([x, y.to(x.dtype)], dim=1)

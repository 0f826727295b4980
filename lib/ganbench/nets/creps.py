"""CREPS generator: a StyleGAN2 mapping network, a stack of modulated fully-connected layers on
Fourier "bi-lines", and per-pixel MLPs; no spatial convolution anywhere (Nguyen et al., CVPR 2023).

Re-implemented from the architecture described in ``research/creps.md`` §2 and §9 (the official
``training/networks_creps.py``). Every pixel depends only on its own (row, column) coordinate
and on w, so one trained model renders any grid of coordinates: a larger grid over [0, 1]^2 is a
higher output resolution, a sub-interval is a crop or zoom.

Shapes. A *bi-line* is the pair of 1-D feature lines of a sample: the row line (``rank`` slots at
each of the ``H`` row coordinates) and the column line (``rank`` slots at each of the ``W`` column
coordinates). The official code stores both as one [N, C, R, 2 * rank] tensor and needs H = W;
here they are flattened and concatenated along one position axis, [N, C, (H + W) * rank], which
computes the same numbers and also allows H != W (crops). Every bi-line layer acts per position, so
the bi-line part costs O((H + W) * C * rank). The per-pixel part (outer products, decoder MLPs, the
two refinement blocks) is O(H * W * 128) and runs over chunks of rows, so that without autograd (sampling)
its peak memory is bounded by ``chunk_pixels`` on top of the output image; in training autograd keeps
every chunk's activations anyway.

Deliberate choice on the report's dead parameters (§2.3, §8.3): ``b4.tores`` and ``decoder_8``
are built but never run, as in the official code; they are kept so that parameter counts and
names match the report (30.5 M at 256 px with cfg=creps). They receive no gradient; Adam skips them.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ganbench import ops
from ganbench.errors import ConfigError
from ganbench.methods.options import CREPS_CHUNK_PIXELS
from ganbench.nets.layers import FullyConnectedLayer, MappingNetwork
from ganbench.nets.stylegan2 import _log2_resolution

BILINE_CHANNELS = 32  # channels of the running bi-line sum and of the per-pixel features (hard-coded upstream)
DECODER_FEATURES = (32, 64, 128, 64, 32)  # the per-pixel MLP between levels
FC_CLAMP = 256  # clamp of every modulated layer's output (official fc_clamp)
DEFAULT_CHUNK_PIXELS = CREPS_CHUNK_PIXELS  # batch x pixels per chunk of the per-pixel part: small chunks stay in cache
# and in malloc's heap (cfg=creps, 512 px output on 2 CPU cores: 2.3x faster, 3.3x less memory than 1 << 18)


def modulated_fc(
    x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True, channels_last: bool = False
) -> torch.Tensor:
    """A per-sample 1x1 convolution: ``weight`` [O, I] scaled by ``styles`` [N, I], optionally demodulated.

    x is [N, I, P] (``channels_last=False``) or [N, P, I]; the output has the same layout with O channels.
    """
    if x.dtype == torch.float16 and demodulate:  # keep the products below fp16's range; demodulation undoes it
        weight = weight * (1 / math.sqrt(weight.shape[1]) / weight.norm(float("inf"), dim=1, keepdim=True))
        styles = styles / styles.norm(float("inf"), dim=1, keepdim=True)
    w = weight.unsqueeze(0) * styles.unsqueeze(1)  # [N, O, I]
    if demodulate:
        w = w * (w.square().sum(dim=2, keepdim=True) + 1e-8).rsqrt()
    w = w.to(x.dtype)
    return torch.bmm(x, w.transpose(1, 2)) if channels_last else torch.bmm(w, x)


class ModulatedFC(nn.Module):
    """Style-modulated dense layer applied at every position, + bias, clamped to +-256: demodulated and followed by
    lrelu (x sqrt 2) in the synthesis layers; neither in :class:`ToRes`. x is [N, I, P], or [N, P, I] if
    channels_last."""

    def __init__(
        self, in_channels: int, out_channels: int, w_dim: int, channels_last: bool = False, demodulate: bool = True
    ):
        super().__init__()
        self.channels_last, self.demodulate = channels_last, demodulate
        self.activation = "lrelu" if demodulate else "linear"
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        x = modulated_fc(x, self.weight, styles, demodulate=self.demodulate, channels_last=self.channels_last)
        return ops.bias_act(
            x, self.bias.to(x.dtype), dim=x.ndim - 1 if self.channels_last else 1, act=self.activation, clamp=FC_CLAMP
        )


class ToRes(ModulatedFC):
    """The ToRGB analogue: a modulated dense layer without demodulation or activation."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, channels_last: bool = False):
        super().__init__(in_channels, out_channels, w_dim, channels_last, demodulate=False)


class FourierBiLine(nn.Module):
    """The input: random Fourier features of the row and column coordinates, with style-driven amplitudes.

    ``freqs`` ~ N(0, bandwidth^2) is a fixed buffer shared by both lines (as upstream, §8.4); channel c
    < C/2 is sin(2 pi f x), channel C/2 + c the matching cos; slot r of line l has amplitude
    ``weight[c, l, r] * affine(w)[c, l, r] / sqrt(C)``. Returns [N, C, (H + W) * rank].
    """

    def __init__(self, channels: int, w_dim: int, rank: int = 8, bandwidth: float = 10.0):
        super().__init__()
        if channels % 2:
            raise ConfigError(f"bi-line input channels must be even, got {channels}")
        self.channels, self.rank = channels, rank
        self.register_buffer("freqs", torch.randn([channels // 2, rank]) * bandwidth)
        self.weight = nn.Parameter(torch.randn([channels, 2, rank]))
        self.affine = FullyConnectedLayer(w_dim, channels * 2 * rank, bias_init=1)

    def forward(self, w: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        n, c, k = w.shape[0], self.channels, self.rank
        amplitude = (self.weight * self.affine(w).reshape(n, c, 2, k)) / math.sqrt(c)  # [N, C, 2, rank]
        lines = []
        for line, coords in enumerate((rows, cols)):
            phase = coords.reshape(1, -1, 1) * self.freqs.unsqueeze(1) * (2 * math.pi)  # [C/2, S, rank]
            waves = torch.sin(torch.cat([phase, phase + math.pi / 2])).to(amplitude.dtype)  # [C, S, rank]
            lines.append((waves.unsqueeze(0) * amplitude[:, :, line].unsqueeze(2)).flatten(2))
        return torch.cat(lines, dim=2)


class BiLineBlock(nn.Module):
    """One level: two modulated FC layers on the bi-line (one after the input at the first level) and a ToRes."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, is_first: bool, rank: int, bandwidth: float):
        super().__init__()
        self.is_first = is_first
        if is_first:
            self.input = FourierBiLine(out_channels, w_dim, rank, bandwidth)
        else:
            self.fc0 = ModulatedFC(in_channels, out_channels, w_dim)
        self.fc1 = ModulatedFC(out_channels, out_channels, w_dim)
        self.tores = ToRes(out_channels, BILINE_CHANNELS, w_dim)  # dead at the first level (see module doc)

    def forward(self, x, ws: torch.Tensor, rows=None, cols=None):
        """ws: this block's [N, 3, w_dim] slice. Returns (features, bi-line contribution or None)."""
        if self.is_first:
            x = self.fc1(self.input(ws[:, 0], rows, cols), ws[:, 1])
            return x, None
        x = self.fc1(self.fc0(x, ws[:, 0]), ws[:, 1])
        return x, self.tores(x, ws[:, 2])


class PixelMLP(nn.Sequential):
    """The per-pixel decoder between levels: FC 32-64-128-64-32 with lrelu, not modulated. [P, 32] -> [P, 32]."""

    def __init__(self):
        f = DECODER_FEATURES
        super().__init__(*(FullyConnectedLayer(f[i], f[i + 1], activation="lrelu") for i in range(len(f) - 1)))


class RefineBlock(nn.Module):
    """A per-pixel refinement block: two modulated FC layers and a ToRes added to the image (channels last)."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, img_channels: int):
        super().__init__()
        self.fc0 = ModulatedFC(in_channels, out_channels, w_dim, channels_last=True)
        self.fc1 = ModulatedFC(out_channels, out_channels, w_dim, channels_last=True)
        self.tores = ToRes(out_channels, img_channels, w_dim, channels_last=True)

    def forward(self, x: torch.Tensor, img: torch.Tensor, w: torch.Tensor):
        x = self.fc1(self.fc0(x, w), w)
        return x, img + self.tores(x, w).to(img.dtype)


class SynthesisNetwork(nn.Module):
    """ws [N, num_ws, w_dim] (+ row and column coordinates) -> img [N, img_channels, H, W], float32.

    Levels 4, 8, ..., R set only the channel widths, ``min(channel_base // r, channel_max)``: every
    level runs on the full coordinate grid. w bookkeeping as upstream: the first level reads ws[0]
    (input) and ws[1] (fc1); level k >= 1 reads ws[2k - 1 .. 2k + 1]; the refinement blocks ws[-1].
    """

    def __init__(
        self,
        w_dim: int,
        img_resolution: int,
        img_channels: int = 3,
        channel_base: int = 65536,
        channel_max: int = 1024,
        rank: int = 8,
        bandwidth: float = 10.0,
        fp16_refine: bool = True,
    ):
        super().__init__()
        log2 = _log2_resolution(img_resolution)
        if img_resolution < 8:  # the first bi-line level is 8
            raise ConfigError(f"img_resolution={img_resolution} must be a power of two >= 8")
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        self.rank, self.fp16_refine = rank, fp16_refine
        self.levels = [2**i for i in range(2, log2 + 1)]
        channels = {r: min(channel_base // r, channel_max) for r in self.levels}
        for i, res in enumerate(self.levels):
            block = BiLineBlock(channels[self.levels[i - 1]] if i else 0, channels[res], w_dim, i == 0, rank, bandwidth)
            setattr(self, f"b{res}", block)
        for res in self.levels[1:]:
            setattr(self, f"decoder_{res}", PixelMLP())  # decoder_8 is dead (see module doc)
        self.decoder_last = PixelMLP()
        self.decoder_img = FullyConnectedLayer(BILINE_CHANNELS, img_channels)
        self.block0 = RefineBlock(BILINE_CHANNELS, 128, w_dim, img_channels)
        self.block1 = RefineBlock(128, 64, w_dim, img_channels)
        self.num_ws = 2 * len(self.levels) + 1

    def default_grid(self) -> torch.Tensor:
        return unit_grid(self.img_resolution)

    def forward(
        self,
        ws: torch.Tensor,
        rows: torch.Tensor | None = None,
        cols: torch.Tensor | None = None,
        chunk_pixels: int = DEFAULT_CHUNK_PIXELS,
        **_ignored,
    ) -> torch.Tensor:
        """``rows``/``cols``: 1-D coordinates (default ``linspace(0, 1, R)``, the training grid).
        Further keywords (``noise_mode``, ``rng``) are accepted for StyleGAN2 compatibility; CREPS has no noise."""
        if ws.ndim != 3 or ws.shape[1] != self.num_ws or ws.shape[2] != self.w_dim:
            raise ConfigError(f"CREPS synthesis: ws must be [N, {self.num_ws}, {self.w_dim}], got {list(ws.shape)}")
        rows = (self.default_grid() if rows is None else torch.as_tensor(rows)).to(ws.device, torch.float32)
        cols = (self.default_grid() if cols is None else torch.as_tensor(cols)).to(ws.device, torch.float32)
        if rows.ndim != 1 or cols.ndim != 1 or not len(rows) or not len(cols):
            raise ConfigError("CREPS synthesis: rows and cols must be non-empty 1-D coordinate vectors")
        ws = ws.to(torch.float32)

        bilines, x = [], None
        for i, res in enumerate(self.levels):
            start = 0 if i == 0 else 2 * i - 1
            x, contribution = getattr(self, f"b{res}")(x, ws[:, start : start + 3], rows, cols)
            if contribution is not None:
                running = contribution if not bilines else bilines[-1] + contribution
                bilines.append(running)
        lines = [self._split_lines(b, len(rows), len(cols)) for b in bilines]

        n, height, width = ws.shape[0], len(rows), len(cols)
        chunk_rows = max(1, min(height, chunk_pixels // max(1, n * width)))
        img = ws.new_empty([n, height, width, self.img_channels])
        for top in range(0, height, chunk_rows):
            bottom = min(height, top + chunk_rows)
            img[:, top:bottom] = self._pixels(lines, ws[:, -1], top, bottom)
        return img.permute(0, 3, 1, 2).contiguous()

    def _split_lines(self, biline: torch.Tensor, height: int, width: int):
        """[N, 32, (H + W) * rank] -> row line [N, 32, H, rank] and column line [N, 32, W, rank], each x sqrt(1/2)."""
        n, c = biline.shape[:2]
        row_line, col_line = (biline * math.sqrt(0.5)).split([height * self.rank, width * self.rank], dim=2)
        return row_line.reshape(n, c, height, self.rank), col_line.reshape(n, c, width, self.rank)

    def _pixels(self, lines, w_last: torch.Tensor, top: int, bottom: int) -> torch.Tensor:
        """The per-pixel part for rows [top, bottom): rank-``rank`` outer products fused level by level by
        the decoder MLPs, the image head and the refinement blocks. Returns [N, rows, W, img_channels]."""
        feature = None
        for res, (row_line, col_line) in zip(self.levels[1:], lines):
            outer = _outer(row_line[:, :, top:bottom], col_line)  # [N, h, W, 32]
            feature = outer if feature is None else self._mlp(getattr(self, f"decoder_{res}"), feature) + outer
        feature = self._mlp(self.decoder_last, feature)
        img = self._mlp(self.decoder_img, feature)
        n, h, w = feature.shape[:3]
        x, img = feature.reshape(n, h * w, -1), img.reshape(n, h * w, -1)
        if self.fp16_refine and x.device.type == "cuda":  # as upstream: the refinement blocks run in fp16 on GPUs
            x = x.to(torch.float16)
        for block in (self.block0, self.block1):
            x, img = block(x, img, w_last)
        return img.reshape(n, h, w, -1)

    @staticmethod
    def _mlp(mlp: nn.Module, feature: torch.Tensor) -> torch.Tensor:
        return mlp(feature.reshape(-1, feature.shape[-1])).reshape(*feature.shape[:-1], -1)


def _outer(row_line: torch.Tensor, col_line: torch.Tensor) -> torch.Tensor:
    """Per channel, the rank-k outer product of a row line [N, C, h, k] and a column line [N, C, W, k]:
    [N, h, W, C]. Summed term by term rather than by einsum, whose matmul kernel (and rounding) changes
    with the chunk's shape: this way a pixel's value is the same in every grid and chunking."""
    rows = row_line.permute(0, 2, 1, 3).unsqueeze(2)  # [N, h, 1, C, k]
    cols = col_line.permute(0, 2, 1, 3).unsqueeze(1)  # [N, 1, W, C, k]
    out = rows[..., 0] * cols[..., 0]
    for k in range(1, row_line.shape[-1]):
        out = out + rows[..., k] * cols[..., k]
    return out


class Generator(nn.Module):
    """CREPS generator: z [N, z_dim], c [N, c_dim] -> img [N, img_channels, H, W] in nominal [-1, 1].

    ``rows``/``cols`` choose the output grid (default: the R x R training grid); see :func:`scale_grid`.
    """

    def __init__(
        self,
        z_dim: int = 512,
        c_dim: int = 0,
        w_dim: int = 512,
        *,
        img_resolution: int,
        img_channels: int = 3,
        channel_base: int = 65536,
        channel_max: int = 1024,
        rank: int = 8,
        bandwidth: float = 10.0,
        fp16_refine: bool = True,
        mapping_kwargs: dict | None = None,
    ):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.synthesis = SynthesisNetwork(
            w_dim, img_resolution, img_channels, channel_base, channel_max, rank, bandwidth, fp16_refine
        )
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(
            z_dim, c_dim, w_dim, num_ws=self.num_ws, **{"w_avg_beta": 0.998, **(mapping_kwargs or {})}
        )

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        truncation_psi: float = 1,
        truncation_cutoff: int | None = None,
        update_emas: bool = False,
        rows=None,
        cols=None,
        chunk_pixels: int = DEFAULT_CHUNK_PIXELS,
        **synthesis_kwargs,
    ) -> torch.Tensor:
        ws = self.mapping(
            z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff, update_emas=update_emas
        )
        return self.synthesis(ws, rows, cols, chunk_pixels=chunk_pixels, **synthesis_kwargs)


GRIDS = ("nested", "paper")


def unit_grid(points: int, start: float = 0.0, stop: float = 1.0) -> torch.Tensor:
    """``points`` evenly spaced float32 coordinates from start to stop. Computed as i / (points - 1) in
    float64, so the nested grids agree bit for bit with the training grid (``linspace`` in float32 does not)."""
    if points < 1:
        raise ConfigError(f"a coordinate grid needs at least one point, got {points}")
    t = torch.arange(points, dtype=torch.float64) / max(points - 1, 1)
    return (start + (stop - start) * t).to(torch.float32)


def scale_grid(resolution: int, scale: float, grid: str = "nested") -> torch.Tensor:
    """The 1-D coordinates of an output at ``scale`` times the training resolution R, over [0, 1].

    ``nested``: ``s * (R - 1) + 1`` points (integer s), a superset of the training grid: every s-th point
    is a training coordinate, so the stride-s subsampling of the output *is* the scale-1 output.
    ``paper``: ``int(R * s)`` points, what the official ``--scale`` does (``make_coords``); it matches a
    real dataset stored at R * s pixels but does not contain the training grid (spacing 1/(R s - 1)).
    """
    if scale <= 0:
        raise ConfigError(f"scale must be positive, got {scale}")
    if grid == "nested":
        if float(scale) != int(scale):
            raise ConfigError(f"scale={scale}: nested grids need an integer scale (use grid='paper')")
        return unit_grid(int(scale) * (resolution - 1) + 1)
    if grid == "paper":
        return unit_grid(int(resolution * scale))
    raise ConfigError(f"grid={grid!r} is not one of {', '.join(GRIDS)}")


def parameter_counts(generator: Generator) -> dict[str, int]:
    """Trainable parameters per top-level part (mapping, b4, ..., decoders, block0, block1) and in total."""
    counts: dict[str, int] = {}
    for name, p in generator.named_parameters():
        parts = name.split(".")
        key = parts[0] if parts[0] == "mapping" else parts[1]
        key = "decoders" if key.startswith("decoder_") else key
        counts[key] = counts.get(key, 0) + p.numel()
    counts["total"] = sum(p.numel() for p in generator.parameters())
    return counts


__all__ = ["Generator", "SynthesisNetwork", "FourierBiLine", "scale_grid", "parameter_counts", "modulated_fc", "GRIDS"]

"""COCO-GAN's networks (research cocogan.md §2.3, §2.4): a micro-patch generator conditioned on its coordinate,
a macro-patch projection discriminator, the coordinate head and the latent (Q) head.

Generator: ``cond = [z ; coord]`` feeds an SN linear layer (to 2x2x16ngf) and the conditional batch norm of
every residual up-block; head BN -> ReLU -> SN conv3x3 -> tanh. Discriminator: SN residual down-blocks,
ReLU, global **sum** pooling, SN linear logit plus the projection of the macro coordinate; its pooled
features feed the coordinate head (shared by both players) and Q.

Conditional batch norm, ``cbn="fixed"`` (the default, a deliberate deviation): ``(x - mu) / sqrt(var + eps)``
and ``gamma = 1 + FC(cond)``, textbook CBN. ``cbn="official"`` reproduces the TF code after commit
12de21a: ``(x - mu) / sqrt(var**2 + eps)`` and ``gamma = FC(cond)`` with no +1 (needed only to load the
released TF checkpoints; it divides by roughly the variance, not the standard deviation).

Running statistics (CBN and the head BN) are updated only by forward passes in training mode that build
a graph: the generator's own optimisation step, as the official ``G_update_collection`` does; the
discriminator's step generates its fakes without a graph (batch statistics, no update). Eval mode uses the
running statistics, and spectral norm's power iteration is frozen there.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ganbench.nets.coco_coords import PatchLattice, assemble

CBN_FORMS = ("fixed", "official")


def sn_conv(cin: int, cout: int, k: int) -> nn.Module:
    conv = nn.Conv2d(cin, cout, k, padding=k // 2)
    nn.init.trunc_normal_(conv.weight, std=math.sqrt(2 / (cin * k * k)))  # the official SN conv init
    nn.init.zeros_(conv.bias)
    return spectral_norm(conv)


def sn_linear(cin: int, cout: int, bias: bool = True) -> nn.Module:
    layer = nn.Linear(cin, cout, bias=bias)
    nn.init.xavier_uniform_(layer.weight)  # TF's default (ops.py's snlinear passes no initializer)
    if bias:
        nn.init.zeros_(layer.bias)
    return spectral_norm(layer)


class _RunningNorm(nn.Module):
    """Batch normalisation over (N, H, W) whose running statistics follow the generator's steps only."""

    def __init__(self, channels: int, momentum: float, eps: float = 1e-5, form: str = "fixed"):
        super().__init__()
        if form not in CBN_FORMS:
            raise ValueError(f"cbn form {form!r} is not one of {', '.join(CBN_FORMS)}")
        self.momentum, self.eps, self.form = momentum, eps, form
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            mean = x.mean(dim=(0, 2, 3))
            var = x.var(dim=(0, 2, 3), unbiased=False)
            if torch.is_grad_enabled():
                with torch.no_grad():
                    self.running_mean.lerp_(mean.detach(), self.momentum)
                    self.running_var.lerp_(var.detach(), self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        denom = var.square() if self.form == "official" else var
        return (x - mean[:, None, None]) * torch.rsqrt(denom + self.eps)[:, None, None]


class ConditionalBatchNorm(_RunningNorm):
    """CBN: per-sample gamma and beta from plain (non-SN) linear layers of the condition (momentum 0.01)."""

    def __init__(self, channels: int, cond_dim: int, form: str = "fixed"):
        super().__init__(channels, momentum=0.01, form=form)
        self.gamma = nn.Linear(cond_dim, channels)
        self.beta = nn.Linear(cond_dim, channels)
        for layer in (self.gamma, self.beta):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        gamma = self.gamma(cond)
        if self.form == "fixed":
            gamma = 1 + gamma
        return self.normalize(x) * gamma[:, :, None, None] + self.beta(cond)[:, :, None, None]


class BatchNorm(_RunningNorm):
    """The head's plain BN (tf.contrib batch_norm: decay 0.9, scale=True)."""

    def __init__(self, channels: int):
        super().__init__(channels, momentum=0.1)
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.normalize(x) * self.weight[:, None, None] + self.bias[:, None, None]


class GeneratorBlock(nn.Module):
    """CBN -> ReLU -> [nearest x2] -> SN conv3x3 -> CBN -> ReLU -> SN conv3x3, plus SN conv1x1 of the
    (upsampled) input."""

    def __init__(self, cin: int, cout: int, cond_dim: int, upsample: bool, cbn: str):
        super().__init__()
        self.upsample = upsample
        self.norm1 = ConditionalBatchNorm(cin, cond_dim, cbn)
        self.conv1 = sn_conv(cin, cout, 3)
        self.norm2 = ConditionalBatchNorm(cout, cond_dim, cbn)
        self.conv2 = sn_conv(cout, cout, 3)
        self.shortcut = sn_conv(cin, cout, 1)

    def _up(self, x):
        return F.interpolate(x, scale_factor=2, mode="nearest") if self.upsample else x

    def forward(self, x, cond):
        h = self.conv1(self._up(F.relu(self.norm1(x, cond))))
        h = self.conv2(F.relu(self.norm2(h, cond)))
        return h + self.shortcut(self._up(x))


def generator_channels(micro: int, extra: int) -> tuple[list[int], int]:
    """Channel multipliers of the blocks and how many of them upsample (micro = 2 * 2**upsampling)."""
    num_resize = int(math.log2(micro)) - 1
    total = num_resize + extra
    mults = [8, 4, 2] + [1] * (total - 3) if total >= 3 else [8, 4, 2][:total]
    return mults, num_resize


class Generator(nn.Module):
    """Micro patches [n, C, p, p] from z [n, z_dim] and coordinates [n, coord_dim]."""

    def __init__(
        self,
        z_dim: int,
        coord_dim: int,
        micro: int,
        img_channels: int = 3,
        ngf: int = 64,
        extra_layers: int = 0,
        cbn: str = "fixed",
    ):
        super().__init__()
        if micro < 4 or micro & (micro - 1):
            raise ValueError(f"micro patch size {micro} is not a power of two >= 4")
        self.z_dim, self.coord_dim, self.micro, self.img_channels = z_dim, coord_dim, micro, img_channels
        cond_dim = z_dim + coord_dim
        self.ngf = ngf
        self.fc = sn_linear(cond_dim, 2 * 2 * 16 * ngf)
        mults, num_resize = generator_channels(micro, extra_layers)
        chans = [16 * ngf] + [m * ngf for m in mults]
        self.blocks = nn.ModuleList(
            GeneratorBlock(chans[i], chans[i + 1], cond_dim, upsample=i < num_resize, cbn=cbn)
            for i in range(len(mults))
        )
        self.head_norm = BatchNorm(chans[-1])
        self.head_conv = sn_conv(chans[-1], img_channels, 3)

    def forward(self, z: torch.Tensor, coord: torch.Tensor) -> torch.Tensor:
        cond = torch.cat([z, coord], dim=1)
        x = self.fc(cond).view(len(z), 16 * self.ngf, 2, 2)
        for block in self.blocks:
            x = block(x, cond)
        return torch.tanh(self.head_conv(F.relu(self.head_norm(x))))

    def patches(self, z: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
        """Micro patches [B, n, C, p, p] for z [B, z_dim] (shared by the sample's n patches: the official
        nearest-neighbour duplication) and coordinate vectors [B, n, coord_dim]."""
        b, n = coords.shape[:2]
        zz = z[:, None, :].expand(b, n, z.shape[1]).reshape(b * n, -1)
        out = self(zz, coords.reshape(b * n, -1))
        return out.view(b, n, *out.shape[1:])

    def full_image(self, z: torch.Tensor, lattice: PatchLattice, extrap: int | None = None) -> torch.Tensor:
        """The full image [B, C, H, W] (or the extrapolated one, ``extrap`` extra micro patches past every
        Euclidean border): every micro patch of the grid, assembled without blending (§2.6). Use eval mode."""
        positions, nh, nw = lattice.full_grid(extrap)
        coords = lattice.embed(positions.to(z.device))
        return assemble(self.patches(z, coords.expand(len(z), *coords.shape)), nh, nw)


class DiscriminatorBlock(nn.Module):
    """[ReLU unless first] -> SN conv3x3 -> ReLU -> SN conv3x3 -> [avgpool2], plus SN conv1x1 of the
    (pooled) input."""

    def __init__(self, cin: int, cout: int, downsample: bool, first: bool):
        super().__init__()
        self.downsample, self.first = downsample, first
        self.conv1 = sn_conv(cin, cout, 3)
        self.conv2 = sn_conv(cout, cout, 3)
        self.shortcut = sn_conv(cin, cout, 1)

    def _down(self, x):
        return F.avg_pool2d(x, 2) if self.downsample else x

    def forward(self, x):
        h = x if self.first else F.relu(x)
        h = self._down(self.conv2(F.relu(self.conv1(h))))
        return h + self.shortcut(self._down(x))


def discriminator_layout(macro_min: int, extra: int) -> list[tuple[int, bool]]:
    """(channel multiplier, downsamples) per block (commit e92e624): the first block downsamples, the extra
    blocks after it do not, the middle ones do, the last does not; the final map is 4x4."""
    num_resize = int(math.log2(macro_min)) - 1
    total = num_resize + extra
    if total > 4:
        mults = [1] * (total - 4) + [2, 4, 8, 8]
    else:
        mults = [2, 4, 8, 8][-total:]
        mults[0] = 1
    resize = [True] + [False] * extra + [True] * (num_resize - 2) + [False]
    return list(zip(mults, resize))


class Discriminator(nn.Module):
    """Macro patches [B, C, h, w] -> (logit [B], pooled features [B, 8ndf]). With a macro coordinate
    ``y`` [B, coord_dim] the logit includes the projection term ``<SNlinear(y), features>``; the
    gradient-penalty pass leaves it out (``y=None``), as the official code does."""

    def __init__(self, macro: tuple[int, int], coord_dim: int, img_channels: int = 3, ndf: int = 64, extra_layers=0):
        super().__init__()
        if min(macro) < 8 or min(macro) & (min(macro) - 1):
            raise ValueError(f"macro patch size {min(macro)} is not a power of two >= 8")
        layout = discriminator_layout(min(macro), extra_layers)
        chans = [img_channels] + [m * ndf for m, _ in layout]
        self.blocks = nn.ModuleList(
            DiscriminatorBlock(chans[i], chans[i + 1], down, first=i == 0) for i, (_, down) in enumerate(layout)
        )
        self.features = chans[-1]
        self.adv = sn_linear(chans[-1], 1)
        self.embed = sn_linear(coord_dim, chans[-1])

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        for block in self.blocks:
            x = block(x)
        h = F.relu(x).sum(dim=(2, 3))
        out = self.adv(h).squeeze(1)
        if y is not None:
            out = out + (self.embed(y) * h).sum(dim=1)
        return out, h


class PredictionHead(nn.Module):
    """SN linear -> BN -> LeakyReLU(0.2) -> SN linear -> tanh: the coordinate head (out = coord_dim) and
    Q (out = z_dim)."""

    def __init__(self, features: int, out: int, hidden: int = 128):
        super().__init__()
        self.fc1 = sn_linear(features, hidden)
        self.norm = nn.BatchNorm1d(hidden)
        self.fc2 = sn_linear(hidden, out)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.fc2(F.leaky_relu(self.norm(self.fc1(h)), 0.2)))

"""CoordGAN (Mu et al., CVPR 2022): structure as a warp of a canonical coordinate frame, texture as styles.

Re-implemented from the report on the official code (research coordgan.md §2.1-2.5, §8):

- two mapping networks (8 lrelu FC layers, lr multiplier 0.01), one for the texture code z_t -> w_t
  (repeated into W+, ``2 log2(R) - 2`` slots) and one for the structure code z_s -> w_s;
- ``CoordWarpNet``: a per-pixel MLP (2 + 512 -> 512 -> 512 -> 2, ReLU, tanh) on the *fixed* canonical grid
  concatenated with w_s, giving absolute warped coordinates C in (-1, 1)^2 (the correspondence map);
- the texture branch renders from ``LFF(C)`` (1x1 conv with U(+-sqrt(9/2)) weights, then sin) with
  modulated 3x3 convs at the coordinate resolution, C concatenated before every conv and ToRGB, RGB skip sum;
- optional 2x / 4x heads (256 / 512 px at the paper's 128 grid) that upsample as StyleGAN2 does;
- the image D is the StyleGAN2 resnet D (:class:`ganbench.nets.stylegan2.Discriminator`), and the patch
  co-occurrence D is Swapping Autoencoder's.

Coordinates and everything computed from them stay in fp32 even under autocast (§8.7): the grid spacing
2/127 is below bf16's resolution near +-1.

Parameter counts at the paper's settings (§2.8, checked by tests/test_coordgan.py): G at 128 px 35,272,291;
G at 512 px 36,649,775; patch D 4,531,265. Our image D has one FromRGB (the official D carries three heads,
two of them unused at any one resolution): 28,389,121 at 128 px, 768 fewer than the official 28,389,889.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganbench import ops
from ganbench.errors import ConfigError
from ganbench.nets.layers import (
    RESAMPLE_FILTER,
    Conv2dLayer,
    FullyConnectedLayer,
    MappingNetwork,
    SynthesisLayer,
    ToRGBLayer,
    make_filter,
)

HEAD_CHANNELS = {2: 128, 4: 64}  # upsampling factor over the coordinate grid -> channels (256 / 512 px at 128)


def canonical_grid(n: int, size: int, device=None) -> torch.Tensor:
    """The canonical frame [n, 2, size, size] in [-1, 1]: channel 0 is x (along the width), channel 1 is y."""
    axis = torch.linspace(-1, 1, size, device=device)
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([x, y]).unsqueeze(0).expand(n, -1, -1, -1)


class CoordWarpNet(nn.Module):
    """(canonical grid, w_s) -> warped coordinates [N, 2, S, S] in (-1, 1), per pixel, in fp32.

    The official ``foldnet``: Conv1d(514, 512, 1), ReLU, Conv1d(512, 512, 1), ReLU, Conv1d(512, 2, 1), tanh,
    with PyTorch's default init; 1x1 Conv1d layers are dense layers per point, so nn.Linear holds them.
    """

    def __init__(self, w_dim: int = 512, hidden: int = 512, size: int = 128):
        super().__init__()
        self.size = size
        self.fc1, self.fc2, self.fc3 = nn.Linear(2 + w_dim, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, 2)

    def forward(self, w_s: torch.Tensor) -> torch.Tensor:
        n, s = w_s.shape[0], self.size
        with torch.autocast(w_s.device.type, enabled=False):
            grid = canonical_grid(n, s, w_s.device).flatten(2).transpose(1, 2)  # [N, S*S, 2]
            w = w_s.float().unsqueeze(1).expand(-1, s * s, -1)
            x = torch.cat([grid, w], dim=2)
            x = torch.tanh(self.fc3(F.relu(self.fc2(F.relu(self.fc1(x))))))
            return x.transpose(1, 2).reshape(n, 2, s, s)


class LFF(nn.Module):
    """Learned Fourier features of the coordinates: sin(conv1x1(C)), [N, 2, S, S] -> [N, hidden, S, S] (CIPS)."""

    def __init__(self, hidden: int = 512):
        super().__init__()
        self.conv = nn.Conv2d(2, hidden, 1)
        bound = math.sqrt(9 / 2)  # CIPS' first-layer init, U(+-sqrt(9 / ch_in))
        nn.init.uniform_(self.conv.weight, -bound, bound)

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        with torch.autocast(coords.device.type, enabled=False):
            return torch.sin(self.conv(coords.float()))


class CoordGANGenerator(nn.Module):
    """(z_t, z_s) -> (image [N, C, R, R] float32, coordinates [N, 2, S, S] float32).

    ``coord_resolution`` S is the canonical grid's side (128 in the paper, whatever the output size);
    ``img_resolution`` R is S, 2S or 4S. ``num_blocks`` texture blocks at S (5 in the paper) follow the first
    conv; each is conv, cat C, conv, cat C, ToRGB, with the RGB summed over blocks. W+ slot use follows the
    official code: conv1 w[0], to_rgb1 w[1], block k uses w[1 + 2k], w[2 + 2k], w[3 + 2k].
    """

    def __init__(
        self,
        z_dim: int = 512,
        w_dim: int = 512,
        *,
        img_resolution: int,
        coord_resolution: int = 128,
        img_channels: int = 3,
        channels: int = 512,
        num_blocks: int = 5,
        mapping_layers: int = 8,
        warp_hidden: int = 512,
    ):
        super().__init__()
        factor = img_resolution // coord_resolution
        if factor not in (1, *HEAD_CHANNELS) or factor * coord_resolution != img_resolution:
            raise ConfigError(
                f"CoordGAN: img_resolution {img_resolution} must be 1, 2 or 4 times coord_resolution {coord_resolution}"
            )
        self.z_dim, self.w_dim, self.img_resolution, self.img_channels = z_dim, w_dim, img_resolution, img_channels
        self.coord_resolution = coord_resolution
        self.mapping = MappingNetwork(z_dim, 0, w_dim, num_ws=None, num_layers=mapping_layers)  # texture
        self.struc_mapping = MappingNetwork(z_dim, 0, w_dim, num_ws=None, num_layers=mapping_layers)
        self.foldnet = CoordWarpNet(w_dim, warp_hidden, coord_resolution)
        self.lff = LFF(channels)
        s, c = coord_resolution, channels
        self.conv1 = SynthesisLayer(c, c, w_dim, s)
        self.to_rgb1 = ToRGBLayer(c + 2, img_channels, w_dim)
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        for _ in range(num_blocks):
            self.convs.extend([SynthesisLayer(c + 2, c, w_dim, s), SynthesisLayer(c + 2, c, w_dim, s)])
            self.to_rgbs.append(ToRGBLayer(c + 2, img_channels, w_dim))
        self.head_convs = nn.ModuleList()
        self.head_rgbs = nn.ModuleList()
        cin, res = c + 2, s
        for up in (2, 4)[: {1: 0, 2: 1, 4: 2}[factor]]:
            cout, res = HEAD_CHANNELS[up], res * 2
            self.head_convs.extend(
                [SynthesisLayer(cin, cout, w_dim, res, up=2), SynthesisLayer(cout, cout, w_dim, res)]
            )
            self.head_rgbs.append(ToRGBLayer(cout, img_channels, w_dim))
            cin = cout  # C is concatenated only at the coordinate resolution
        self.num_ws = 2 + 2 * (num_blocks + len(self.head_rgbs))
        self.register_buffer("resample_filter", make_filter(RESAMPLE_FILTER), persistent=False)

    def texture_ws(self, z_t: torch.Tensor, update_emas: bool = False) -> torch.Tensor:
        """W+ [N, num_ws, w_dim]: the texture w repeated (no style mixing, §2.1)."""
        return self.mapping(z_t, update_emas=update_emas).unsqueeze(1).repeat(1, self.num_ws, 1)

    def structure_w(self, z_s: torch.Tensor, update_emas: bool = False) -> torch.Tensor:
        return self.struc_mapping(z_s, update_emas=update_emas)

    def coordinates(self, w_s: torch.Tensor) -> torch.Tensor:
        """The warped coordinate map C [N, 2, S, S] (fp32) of structure ws."""
        return self.foldnet(w_s)

    def synthesis(self, ws_t: torch.Tensor, coords: torch.Tensor, noise_mode: str = "random", rng=None) -> torch.Tensor:
        """Render W+ textures on coordinate maps: [N, num_ws, w_dim], [N, 2, S, S] -> image [N, C, R, R] float32."""
        if ws_t.ndim != 3 or ws_t.shape[1] != self.num_ws:
            raise ConfigError(
                f"CoordGAN synthesis: ws must be [N, {self.num_ws}, {self.w_dim}], got {list(ws_t.shape)}"
            )
        ws = ws_t.float().unbind(1)
        kw = dict(noise_mode=noise_mode, fused_modconv=not self.training, rng=rng)
        fused = not self.training
        x = self.conv1(self.lff(coords), ws[0], **kw)
        c = coords.to(x.dtype)
        img = self.to_rgb1(torch.cat([x, c], 1), ws[1], fused_modconv=fused).float()
        for k, rgb in enumerate(self.to_rgbs):
            i = 1 + 2 * k
            x = self.convs[2 * k](torch.cat([x, c], 1), ws[i], **kw)
            x = self.convs[2 * k + 1](torch.cat([x, c], 1), ws[i + 1], **kw)
            img = img + rgb(torch.cat([x, c], 1), ws[i + 2], fused_modconv=fused).float()
        i = 1 + 2 * len(self.to_rgbs)
        for k, rgb in enumerate(self.head_rgbs):
            h = torch.cat([x, c], 1) if k == 0 else x
            x = self.head_convs[2 * k + 1](self.head_convs[2 * k](h, ws[i], **kw), ws[i + 1], **kw)
            img = ops.upsample2d(img, self.resample_filter) + rgb(x, ws[i + 2], fused_modconv=fused).float()
            i += 2
        return img

    def forward(
        self,
        z_t: torch.Tensor,
        z_s: torch.Tensor,
        input_is_latent: bool = False,
        noise_mode: str = "random",
        rng=None,
        update_emas: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Image and coordinates. With ``input_is_latent`` z_t is already W+ [N, num_ws, w_dim] (or w [N, w_dim])
        and z_s is w_s, as the encoder predicts them."""
        if input_is_latent:
            ws_t = z_t if z_t.ndim == 3 else z_t.unsqueeze(1).repeat(1, self.num_ws, 1)
            w_s = z_s
        else:
            ws_t, w_s = self.texture_ws(z_t, update_emas), self.structure_w(z_s, update_emas)
        coords = self.coordinates(w_s)
        return self.synthesis(ws_t, coords, noise_mode=noise_mode, rng=rng), coords


class PatchResBlock(nn.Module):
    """Swapping Autoencoder's resnet block: conv3x3 in->in, conv3x3 in->out with /2, skip 1x1 /2 (no bias)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = Conv2dLayer(cin, cin, 3, activation="lrelu")
        self.conv2 = Conv2dLayer(cin, cout, 3, activation="lrelu", down=2)
        self.skip = Conv2dLayer(cin, cout, 1, bias=False, down=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.skip(x, gain=math.sqrt(0.5)) + self.conv2(self.conv1(x), gain=math.sqrt(0.5))


class PatchDiscriminator(nn.Module):
    """Patch co-occurrence D (Swapping Autoencoder, §2.5): does a patch look like it comes from the same image
    as a set of reference patches?

    ``features``: crops [M, 3, 32, 32] -> [M, 256, 2, 2] (conv3x3 3->64, res blocks 64->128->256->256 each /2,
    conv3x3 256->256 without padding); ``forward(reference, target)``: the reference features of each image
    averaged over its crops, paired with every target crop's features -> logits [M_target, 1] (two FC layers).
    """

    def __init__(self, patch_size: int = 32, channels: tuple[int, ...] = (64, 128, 256, 256)):
        super().__init__()
        self.patch_size = patch_size
        self.stem = Conv2dLayer(3, channels[0], 3, activation="lrelu")
        self.blocks = nn.Sequential(*(PatchResBlock(a, b) for a, b in zip(channels[:-1], channels[1:])))
        self.final = Conv2dLayer(channels[-1], channels[-1], 3, activation="lrelu")
        side = patch_size // 2 ** (len(channels) - 1) - 2
        if side < 1:
            raise ConfigError(f"patch D: patch_size {patch_size} is too small for {len(channels) - 1} downsamplings")
        flat = channels[-1] * side * side
        self.fc = FullyConnectedLayer(2 * flat, 2 * flat // 2, activation="lrelu")
        self.out = FullyConnectedLayer(2 * flat // 2, 1)

    def features(self, crops: torch.Tensor) -> torch.Tensor:
        x = self.final(self.blocks(self.stem(crops)))
        return x[:, :, 1:-1, 1:-1]  # the official last conv has no padding: crop the padded border

    def forward(self, reference: torch.Tensor, target: torch.Tensor, crops_per_image: int) -> torch.Tensor:
        """reference, target: features [N * crops_per_image, ...]; reference is averaged per image."""
        n = reference.shape[0] // crops_per_image
        ref = reference.reshape(n, crops_per_image, -1).mean(1)
        tgt = target.reshape(n, -1, reference[0].numel())
        ref = ref.unsqueeze(1).expand_as(tgt)
        return self.out(self.fc(torch.cat([ref, tgt], 2).flatten(0, 1)))


def random_crops(
    images: torch.Tensor, num_crops: int, size: int, min_scale: float, max_scale: float, rand
) -> torch.Tensor:
    """``num_crops`` random crops per image, each side's scale uniform in [min_scale, max_scale] of the image
    side independently, at a random offset, flipped horizontally with p=0.5, resampled to size x size
    (grid_sample, bilinear, align_corners=False). ``rand(*shape)`` draws U[0, 1): [N * num_crops, C, size, size]."""
    n = images.shape[0]
    u = rand(n, num_crops, 5).to(images.device, torch.float32)
    scale = min_scale + (max_scale - min_scale) * u[..., :2]  # [n, k, 2] fraction of the side (x, y)
    center = (u[..., 2:4] * 2 - 1) * (1 - scale)  # the crop stays inside the image
    flip = torch.where(u[..., 4] < 0.5, -1.0, 1.0)
    theta = torch.zeros(n, num_crops, 2, 3, device=images.device)
    theta[..., 0, 0] = scale[..., 0] * flip
    theta[..., 1, 1] = scale[..., 1]
    theta[..., :, 2] = center
    theta = theta.flatten(0, 1)
    grid = F.affine_grid(theta, [n * num_crops, images.shape[1], size, size], align_corners=False)
    source = images.float().repeat_interleave(num_crops, 0)
    return F.grid_sample(source, grid, mode="bilinear", align_corners=False)

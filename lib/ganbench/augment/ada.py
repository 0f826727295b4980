"""Adaptive discriminator augmentation (Karras et al. 2020, "Training GANs with limited data").

:class:`AugmentPipe` is the paper's ``bgc`` pipeline: every transform is applied to each image
independently with probability ``p * multiplier``, so that at ``p < ~0.8`` the discriminator
cannot tell augmented from clean images apart ("non-leaking"), and the generator is trained
through it (``D(augment(G(z)))``): every transform is differentiable w.r.t. the images, to any
order (R1 differentiates through it twice).

Stages, in order (one table, :data:`TRANSFORMS`, lists the transforms of each):

* **blit**: x-flip, rotation by multiples of 90 degrees, integer translation. Exact: the three
  compose to one integer pixel permutation-with-reflection, applied by one ``gather``.
* **geom**: isotropic scale, pre-rotation, anisotropic scale, post-rotation, fractional
  translation, composed into one 3x3 affine matrix per sample and applied by one resampling:
  reflect-pad, upsample 2x with the 12-tap Symlet-6 wavelet (synthesis) filter, bilinear
  ``grid_sample`` at 2x, downsample 2x with the same wavelet (analysis) filter. Symlet-6 is an
  orthogonal wavelet, so up- then downsampling is the identity: an untouched image comes back
  unchanged and the 2x bilinear step blurs far less than bilinear sampling at 1x (the paper's
  reason for it). Only the samples whose matrix is not the identity are resampled.
* **color**: brightness, contrast, luma flip, hue rotation, saturation, composed into one 4x4
  colour matrix per sample (homogeneous RGB) and applied by one matrix product.

Images are [N, C, H, W] floats in [-1, 1] (0 is mid-grey: contrast, luma flip and saturation
act around it); C is 3, or 1 for grey images (the colour stage then acts on (g, g, g)).

Randomness: ``forward(images, rng)`` draws every per-sample number through ``rng`` when given
(``rng.rand(n, ...)``, ``rng.randn(n, ...)``, ``rng.randint(low, high, n, ...)``, as
:class:`ganbench.train.batch_random.BatchRandom`), so a global batch split across DDP ranks is
augmented exactly as one process would augment it; otherwise torch's default generator.

:class:`AdaptiveP` is the paper's controller of ``p``: it raises ``p`` while the
discriminator is overconfident on reals (``E[sign(D(real))]`` above the target) and lowers it
otherwise.
"""

from __future__ import annotations

import math
from typing import Callable, Protocol

import torch
import torch.nn.functional as F

from ganbench.errors import ConfigError, GanbenchError

# The transforms of each stage, in the order they are applied.
TRANSFORMS: dict[str, tuple[str, ...]] = {
    "blit": ("xflip", "rotate90", "xint"),
    "geom": ("scale", "rotate", "aniso", "xfrac"),
    "color": ("brightness", "contrast", "lumaflip", "hue", "saturation"),
}

# The paper's strengths (Appendix B): ranges of uniform draws, std of (log2-)normal draws.
DEFAULT_STRENGTHS: dict[str, float] = {
    "xint_max": 0.125,  # integer translation, uniform in +-xint_max of the image size
    "scale_std": 0.2,  # isotropic scale 2**N(0, scale_std^2)
    "rotate_max": 1.0,  # rotation uniform in +-rotate_max * pi
    "aniso_std": 0.2,  # anisotropic scale (2**N(0, aniso_std^2), its inverse)
    "xfrac_std": 0.125,  # fractional translation N(0, xfrac_std^2) of the image size
    "brightness_std": 0.2,  # brightness offset N(0, brightness_std^2)
    "contrast_std": 0.5,  # contrast 2**N(0, contrast_std^2)
    "hue_max": 1.0,  # hue rotation uniform in +-hue_max * pi about the grey axis
    "saturation_std": 1.0,  # saturation 2**N(0, saturation_std^2)
}

# Symlet-6 low-pass decomposition filter (12 taps; sum sqrt(2), orthonormal under shifts by 2).
SYM6 = (
    0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633,
    0.4910559419267466, 0.787641141030194, 0.3379294217276218, -0.07263752278646252,
    -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036, -0.007800708325034148,
)  # fmt: skip
# Its delay (first moment): the 2x sample n of the upsampled signal lies at 1x position (n - delay) / 2.
_SYM6_DELAY = sum(k * f for k, f in enumerate(SYM6)) / sum(SYM6)
_TAPS = len(SYM6)


class Random(Protocol):
    """Per-sample random draws (``BatchRandom`` implements it); ``n`` is the local batch size."""

    def rand(self, n: int, *shape: int) -> torch.Tensor: ...
    def randn(self, n: int, *shape: int) -> torch.Tensor: ...
    def randint(self, low: int, high: int, n: int, *shape: int) -> torch.Tensor: ...


class TorchRandom:
    """:class:`Random` through torch's default generator of ``device``."""

    def __init__(self, device: torch.device | str = "cpu"):
        self.device = torch.device(device)

    def rand(self, n: int, *shape: int) -> torch.Tensor:
        return torch.rand(n, *shape, device=self.device)

    def randn(self, n: int, *shape: int) -> torch.Tensor:
        return torch.randn(n, *shape, device=self.device)

    def randint(self, low: int, high: int, n: int, *shape: int) -> torch.Tensor:
        return torch.randint(low, high, (n, *shape), device=self.device)


def fold_index(i: torch.Tensor, size: int) -> torch.Tensor:
    """Integer indices reflected into [0, size): ... 1 0 | 0 1 ... size-1 | size-1 size-2 ..."""
    i = torch.remainder(i, 2 * size)
    return torch.where(i >= size, 2 * size - 1 - i, i)


def _matrix(rows: list[list[torch.Tensor | float]], like: torch.Tensor) -> torch.Tensor:
    """[n, R, C] matrices from rows of per-sample [n] tensors or constants."""
    n = like.shape[0]
    cells = [torch.as_tensor(v, dtype=like.dtype, device=like.device).expand(n) for row in rows for v in row]
    return torch.stack(cells, dim=-1).reshape(n, len(rows), len(rows[0]))


def _scale2d(sx, sy, like):
    return _matrix([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], like)


def _rotate2d(theta, like):
    c, s = torch.cos(theta), torch.sin(theta)
    return _matrix([[c, -s, 0], [s, c, 0], [0, 0, 1]], like)


def _translate2d(tx, ty, like):
    return _matrix([[1, 0, tx], [0, 1, ty], [0, 0, 1]], like)


class AugmentPipe(torch.nn.Module):
    """The ADA ``bgc`` augmentation pipeline; see the module docstring.

    Args:
        xflip, rotate90, xint, scale, rotate, aniso, xfrac, brightness, contrast, lumaflip,
            hue, saturation: probability multipliers; transform ``t`` is applied to a sample
            with probability ``clamp(p * t, 0, 1)`` (the two rotations each with
            ``1 - sqrt(1 - that)``, so that some rotation happens with that probability).
            0 disables a transform.
        **strengths: overrides of :data:`DEFAULT_STRENGTHS` (``xint_max``, ``scale_std``, ...).

    The overall probability ``p`` is a buffer (it is checkpointed with the module's
    state_dict); it starts at 0 and is set by the caller, e.g. ``pipe.p.fill_(ada.p)``.
    """

    def __init__(
        self,
        xflip: float = 1, rotate90: float = 1, xint: float = 1,
        scale: float = 1, rotate: float = 1, aniso: float = 1, xfrac: float = 1,
        brightness: float = 1, contrast: float = 1, lumaflip: float = 1, hue: float = 1, saturation: float = 1,
        **strengths: float,
    ):  # fmt: skip
        super().__init__()
        given = dict(xflip=xflip, rotate90=rotate90, xint=xint, scale=scale, rotate=rotate, aniso=aniso,
                     xfrac=xfrac, brightness=brightness, contrast=contrast, lumaflip=lumaflip, hue=hue,
                     saturation=saturation)  # fmt: skip
        for name, value in given.items():
            if not (isinstance(value, (int, float)) and value >= 0):
                raise ConfigError(f"AugmentPipe {name}={value!r} must be a number >= 0")
        unknown = sorted(set(strengths) - set(DEFAULT_STRENGTHS))
        if unknown:
            raise ConfigError(f"AugmentPipe: unknown strength {unknown[0]!r} (known: {', '.join(DEFAULT_STRENGTHS)})")
        self.multipliers = {name: float(v) for name, v in given.items()}
        self.strengths = {**DEFAULT_STRENGTHS, **{k: float(v) for k, v in strengths.items()}}
        self.register_buffer("p", torch.zeros([]))

    def extra_repr(self) -> str:
        on = [name for name, m in self.multipliers.items() if m > 0]
        return f"p={float(self.p):.4f}, transforms={','.join(on)}"

    def forward(self, images: torch.Tensor, rng: Random | None = None) -> torch.Tensor:
        """Augment a batch.

        Args:
            images: [N, C, H, W] float tensor in [-1, 1], C = 1 or 3.
            rng: per-sample random draws (e.g. a ``BatchRandom``); default: torch's generator.

        Returns:
            [N, C, H, W] tensor of the same dtype; ``images`` itself when ``p == 0``.
        """
        if not isinstance(images, torch.Tensor) or images.ndim != 4 or not images.is_floating_point():
            raise GanbenchError(f"AugmentPipe needs float images [N, C, H, W], got {getattr(images, 'shape', images)}")
        p = float(self.p)
        if p <= 0 or images.shape[0] == 0:
            return images
        rng = TorchRandom(images.device) if rng is None else rng
        prob = {name: min(p * m, 1.0) for name, m in self.multipliers.items()}
        x = self._blit(images, prob, rng)
        x = self._geom(x, prob, rng)
        return self._color(x, prob, rng)

    # -- drawing ---------------------------------------------------------------------------

    def _draw_mask(self, rng: Random, n: int, prob: float, device: torch.device) -> torch.Tensor:
        return rng.rand(n).to(device) < prob

    # -- blit: one exact gather ------------------------------------------------------------

    def _blit(self, x: torch.Tensor, prob: dict[str, float], rng: Random) -> torch.Tensor:
        N, C, H, W = x.shape
        dev = x.device
        flip = torch.zeros(N, dtype=torch.long, device=dev)
        quarter = torch.zeros(N, dtype=torch.long, device=dev)
        shift = torch.zeros(N, 2, dtype=torch.long, device=dev)
        if prob["xflip"] > 0:
            mask = self._draw_mask(rng, N, prob["xflip"], dev)
            flip = torch.where(mask, rng.randint(0, 2, N).to(dev), flip)
        if prob["rotate90"] > 0:
            if H != W:
                raise GanbenchError(f"AugmentPipe rotate90 needs square images, got {H}x{W} (set rotate90=0)")
            mask = self._draw_mask(rng, N, prob["rotate90"], dev)
            quarter = torch.where(mask, rng.randint(0, 4, N).to(dev), quarter)
        if prob["xint"] > 0:
            mask = self._draw_mask(rng, N, prob["xint"], dev)
            t = (rng.rand(N, 2).to(dev) * 2 - 1) * self.strengths["xint_max"]
            t = torch.round(t * torch.tensor([W, H], device=dev)).long()
            shift = torch.where(mask[:, None], t, shift)
        if not (flip.any() or quarter.any() or shift.any()):
            return x

        # Source pixel of every output pixel, undoing (translate, rotate90, flip) in turn, in
        # doubled centred coordinates X = 2x + 1 - W, so that every step stays in integers.
        ys, xs = torch.meshgrid(torch.arange(H, device=dev), torch.arange(W, device=dev), indexing="ij")
        sx = fold_index(xs[None] - shift[:, 0, None, None], W)
        sy = fold_index(ys[None] - shift[:, 1, None, None], H)
        X, Y = 2 * sx + 1 - W, 2 * sy + 1 - H
        cos = torch.tensor([1, 0, -1, 0], device=dev)[quarter][:, None, None]
        sin = torch.tensor([0, 1, 0, -1], device=dev)[quarter][:, None, None]
        X, Y = cos * X + sin * Y, -sin * X + cos * Y  # rotation by -quarter * 90 degrees
        X = torch.where(flip[:, None, None] == 1, -X, X)
        index = ((Y + H - 1) // 2) * W + (X + W - 1) // 2
        out = x.flatten(2).gather(2, index.reshape(N, 1, H * W).expand(N, C, H * W))
        return out.reshape(N, C, H, W)

    # -- geom: one affine matrix, one resampling --------------------------------------------

    def _geom(self, x: torch.Tensor, prob: dict[str, float], rng: Random) -> torch.Tensor:
        N, _, H, W = x.shape
        dev = x.device
        s = self.strengths
        # G_inv maps output to input coordinates (pixel units, origin at the image centre):
        # the inverse of each content transform, multiplied on the right in pipeline order.
        like = torch.zeros(N, device=dev)
        G_inv = torch.eye(3, device=dev).repeat(N, 1, 1)
        if prob["scale"] > 0:
            mask = self._draw_mask(rng, N, prob["scale"], dev)
            k = torch.where(mask, torch.exp2(rng.randn(N).to(dev) * s["scale_std"]), 1.0)
            G_inv = G_inv @ _scale2d(1 / k, 1 / k, like)
        p_rot = 1 - math.sqrt(1 - prob["rotate"])
        for stage in ("pre", "post"):
            if stage == "post" and prob["aniso"] > 0:
                mask = self._draw_mask(rng, N, prob["aniso"], dev)
                k = torch.where(mask, torch.exp2(rng.randn(N).to(dev) * s["aniso_std"]), 1.0)
                G_inv = G_inv @ _scale2d(1 / k, k, like)
            if p_rot > 0:
                mask = self._draw_mask(rng, N, p_rot, dev)
                theta = torch.where(mask, (rng.rand(N).to(dev) * 2 - 1) * math.pi * s["rotate_max"], 0.0)
                G_inv = G_inv @ _rotate2d(-theta, like)
        if prob["xfrac"] > 0:
            mask = self._draw_mask(rng, N, prob["xfrac"], dev)
            t = torch.where(mask[:, None], rng.randn(N, 2).to(dev) * s["xfrac_std"], 0.0)
            G_inv = G_inv @ _translate2d(-t[:, 0] * W, -t[:, 1] * H, like)

        moved = (G_inv != torch.eye(3, device=dev)).flatten(1).any(1).nonzero()[:, 0]
        if moved.numel() == 0:
            return x
        warped = resample(x.index_select(0, moved), G_inv.index_select(0, moved))
        return x.index_copy(0, moved, warped)

    # -- color: one 4x4 matrix ---------------------------------------------------------------

    def _color(self, x: torch.Tensor, prob: dict[str, float], rng: Random) -> torch.Tensor:
        N, C, H, W = x.shape
        dev = x.device
        s = self.strengths
        I4 = torch.eye(4, device=dev)
        v = torch.tensor([1.0, 1.0, 1.0, 0.0], device=dev) / math.sqrt(3)  # the grey (luma) axis
        vv = torch.outer(v, v)
        M = I4.repeat(N, 1, 1)
        if prob["brightness"] > 0:
            mask = self._draw_mask(rng, N, prob["brightness"], dev)
            b = torch.where(mask, rng.randn(N).to(dev) * s["brightness_std"], 0.0)
            T = I4.repeat(N, 1, 1)
            T[:, :3, 3] = b[:, None]
            M = T @ M
        if prob["contrast"] > 0:
            mask = self._draw_mask(rng, N, prob["contrast"], dev)
            c = torch.where(mask, torch.exp2(rng.randn(N).to(dev) * s["contrast_std"]), 1.0)
            M = torch.diag_embed(torch.stack([c, c, c, torch.ones_like(c)], 1)) @ M
        if prob["lumaflip"] > 0:
            mask = self._draw_mask(rng, N, prob["lumaflip"], dev)
            i = torch.where(mask, rng.randint(0, 2, N).to(dev), 0).to(M.dtype)
            M = (I4 - 2 * vv * i[:, None, None]) @ M
        if prob["hue"] > 0:
            mask = self._draw_mask(rng, N, prob["hue"], dev)
            theta = torch.where(mask, (rng.rand(N).to(dev) * 2 - 1) * math.pi * s["hue_max"], 0.0)
            M = _rotate_about(v, theta) @ M
        if prob["saturation"] > 0:
            mask = self._draw_mask(rng, N, prob["saturation"], dev)
            k = torch.where(mask, torch.exp2(rng.randn(N).to(dev) * s["saturation_std"]), 1.0)
            M = (vv + (I4 - vv) * k[:, None, None]) @ M
        if bool((M == I4).all()):
            return x
        if C not in (1, 3):
            raise GanbenchError(f"AugmentPipe colour transforms need 1 or 3 channels, got {C} (disable them)")

        M = M.to(x.dtype)
        rgb = x.expand(N, 3, H, W) if C == 1 else x
        out = torch.einsum("nij,njhw->nihw", M[:, :3, :3], rgb) + M[:, :3, 3, None, None]
        return out.mean(1, keepdim=True) if C == 1 else out


def _rotate_about(v: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """[n, 4, 4] rotations by ``theta`` about the unit axis ``v`` (xyz, w = 0): Rodrigues' formula."""
    x, y, z = v[:3].tolist()
    cross = torch.tensor([[0, -z, y, 0], [z, 0, -x, 0], [-y, x, 0, 0], [0, 0, 0, 0]], device=v.device)
    vv = torch.outer(v, v)
    I4 = torch.eye(4, device=v.device)
    c, s = torch.cos(theta)[:, None, None], torch.sin(theta)[:, None, None]
    R = c * I4 + s * cross + (1 - c) * vv
    R[:, 3, 3] = 1
    return R


def _sym6(x: torch.Tensor, gain: float) -> torch.Tensor:
    return (torch.tensor(SYM6, dtype=torch.float64) * gain).to(device=x.device, dtype=x.dtype)


def resample(x: torch.Tensor, G_inv: torch.Tensor) -> torch.Tensor:
    """Warp images by affine maps with Symlet-6 2x oversampling and reflection at the borders.

    Args:
        x: [N, C, H, W] images.
        G_inv: [N, 3, 3] affine maps from output to input pixel coordinates, both with the
            origin at the image centre (x right, y down, one unit per pixel).

    Returns:
        [N, C, H, W]. Sample ``i`` is the continuous image (the 1x image extended by mirror
        reflection about its borders, reconstructed at 2x with the wavelet's synthesis filter)
        read at ``G_inv[i] @ (x, y, 1)`` at 2x by bilinear interpolation, then reduced back
        to 1x with the analysis filter. With the identity map the output equals the input up
        to float rounding (the filter is orthogonal).
    """
    N, C, H, W = x.shape
    dev = x.device
    ftype = torch.float64 if x.dtype == torch.float64 else torch.float32
    G_inv = G_inv.to(device=dev, dtype=ftype)
    # Output samples at 2x: index m in [0, 2L + TAPS - 2) lies at 1x index (m - delay) / 2, so
    # that the analysis filter below (valid convolution, stride 2) returns exactly L samples.
    d = _SYM6_DELAY
    mx = (torch.arange(2 * W + _TAPS - 2, device=dev, dtype=ftype) - d) / 2 + 0.5 - W / 2
    my = (torch.arange(2 * H + _TAPS - 2, device=dev, dtype=ftype) - d) / 2 + 0.5 - H / 2
    gy, gx = torch.meshgrid(my, mx, indexing="ij")
    q = torch.stack([gx, gy, torch.ones_like(gx)], -1).reshape(1, -1, 3)
    src = (q @ G_inv.transpose(1, 2))[..., :2]  # [N, HW', 2] input coordinates, centred pixels

    # Reflection padding wide enough for every sample (bilinear and filter margin included);
    # values inside it do not depend on its width, so any split of the batch gives the same
    # result. The padding stops at one image size: the rare samples that read further (strong
    # zoom-out and rotation) get grid_sample's reflection about the padded border instead.
    reach_x = float(src[..., 0].abs().max()) - W / 2
    reach_y = float(src[..., 1].abs().max()) - H / 2
    px = min(max(math.ceil(reach_x), 0) + 2, W) + _TAPS // 2
    py = min(max(math.ceil(reach_y), 0) + 2, H) + _TAPS // 2
    xp = x.index_select(3, fold_index(torch.arange(-px, W + px, device=dev), W))
    xp = xp.index_select(2, fold_index(torch.arange(-py, H + py, device=dev), H))

    # Upsample 2x (zero insertion + synthesis filter); keep only fully supported samples.
    f = _sym6(x, math.sqrt(2))
    u = xp.reshape(N * C, 1, H + 2 * py, W + 2 * px)
    u = F.conv_transpose2d(u, f.reshape(1, 1, 1, _TAPS), stride=(1, 2))
    u = F.conv_transpose2d(u, f.reshape(1, 1, _TAPS, 1), stride=(2, 1))
    u = u[:, :, _TAPS : u.shape[2] - _TAPS, _TAPS : u.shape[3] - _TAPS]
    # 2x sample n of u (after the crop) lies at 1x index (n + TAPS - delay) / 2 - pad.
    Hu, Wu = u.shape[2:]
    ix = 2 * (src[..., 0] + W / 2 - 0.5 + px) + d - _TAPS
    iy = 2 * (src[..., 1] + H / 2 - 0.5 + py) + d - _TAPS
    grid = torch.stack([(2 * ix + 1) / Wu - 1, (2 * iy + 1) / Hu - 1], -1)
    grid = grid.reshape(N, len(my), len(mx), 2).to(x.dtype)
    u = u.reshape(N, C, Hu, Wu)
    y = F.grid_sample(u, grid, mode="bilinear", padding_mode="reflection", align_corners=False)

    # Downsample 2x (analysis filter: correlation with the same taps, stride 2).
    f = _sym6(x, 1 / math.sqrt(2))
    y = y.reshape(N * C, 1, len(my), len(mx))
    y = F.conv2d(y, f.reshape(1, 1, 1, _TAPS), stride=(1, 2))
    y = F.conv2d(y, f.reshape(1, 1, _TAPS, 1), stride=(2, 1))
    return y.reshape(N, C, H, W)


class AdaptiveP:
    """The ADA controller of the augmentation probability ``p``.

    Every training step, feed it the sum of ``sign(D(real))`` over this rank's real batch and
    the batch's size (:meth:`update`); when :attr:`due` (every ``interval`` steps), call
    :meth:`adjust` with the *global* batch size, and set the pipe's ``p`` from the result::

        ada.update(real_logits.sign().sum(), real_logits.numel())
        if ada.due:
            pipe.p.fill_(ada.adjust(global_batch, all_reduce=sum_over_ranks))

    ``adjust`` computes ``r_t = E[sign(D(real))]`` over the accumulated steps and moves ``p``
    by ``sign(r_t - target) * batch * steps / (speed_kimg * 1000)``, clamped to [0, 1], so that
    ``p`` can go from 0 to 1 in ``speed_kimg`` thousand images.

    Across DDP ranks the statistics must be summed before ``r_t`` is computed: pass
    ``all_reduce``, a callable that sums a tensor over ranks and returns the sum (e.g.
    ``lambda t: (torch.distributed.all_reduce(t), t)[1]``); the tensor it receives is float64 on
    the device of the values given to :meth:`update`. Every rank then computes the same ``p``.

    Its whole state (``p``, the accumulated sums, the step count) is in :meth:`state_dict`, so a
    resumed run continues exactly.
    """

    def __init__(self, target: float = 0.6, interval: int = 4, speed_kimg: float = 500, p: float = 0.0):
        if not 0 <= p <= 1:
            raise ConfigError(f"AdaptiveP p={p!r} must lie in [0, 1]")
        if interval < 1 or speed_kimg <= 0:
            raise ConfigError(f"AdaptiveP interval={interval!r} must be >= 1 and speed_kimg={speed_kimg!r} > 0")
        self.target, self.interval, self.speed_kimg = float(target), int(interval), float(speed_kimg)
        self.p = float(p)
        self._reset()

    def _reset(self) -> None:
        self.sign_sum: torch.Tensor | float = 0.0
        self.count: torch.Tensor | float = 0.0
        self.steps = 0

    def update(self, real_logits_sign_sum: torch.Tensor | float, count: int | torch.Tensor) -> None:
        """Accumulate one step: the sum of sign(D(real)) over ``count`` real images (this rank).

        Tensors stay on their device (no synchronisation until :meth:`adjust`).
        """
        if isinstance(real_logits_sign_sum, torch.Tensor):
            real_logits_sign_sum = real_logits_sign_sum.detach().to(torch.float64).sum()
        self.sign_sum = self.sign_sum + real_logits_sign_sum
        self.count = self.count + count
        self.steps += 1

    @property
    def due(self) -> bool:
        """Whether ``interval`` steps have been accumulated since the last adjustment."""
        return self.steps >= self.interval

    def adjust(self, batch_size_global: int, all_reduce: Callable[[torch.Tensor], torch.Tensor] | None = None) -> float:
        """Move ``p`` by the accumulated statistics, reset them and return the new ``p``.

        Args:
            batch_size_global: images per step summed over all ranks.
            all_reduce: sums a tensor over ranks (see the class docstring); None in one process.
        """
        device = self.sign_sum.device if isinstance(self.sign_sum, torch.Tensor) else "cpu"
        stats = torch.stack([torch.as_tensor(v, dtype=torch.float64, device=device).reshape([])
                             for v in (self.sign_sum, self.count)])  # fmt: skip
        if all_reduce is not None:
            stats = all_reduce(stats)
        sign_sum, count = stats.tolist()
        if count > 0:
            r_t = sign_sum / count
            direction = (r_t > self.target) - (r_t < self.target)
            step = batch_size_global * self.steps / (self.speed_kimg * 1000)
            self.p = min(max(self.p + direction * step, 0.0), 1.0)
        self._reset()
        return self.p

    def state_dict(self) -> dict[str, float | int]:
        return {"p": self.p, "sign_sum": float(self.sign_sum), "count": float(self.count), "steps": self.steps}

    def load_state_dict(self, state: dict[str, float | int]) -> None:
        missing = sorted({"p", "sign_sum", "count", "steps"} - set(state))
        if missing:
            raise GanbenchError(f"AdaptiveP state_dict lacks {missing[0]!r}")
        self.p = float(state["p"])
        self.sign_sum, self.count, self.steps = float(state["sign_sum"]), float(state["count"]), int(state["steps"])

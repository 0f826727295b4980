"""COCO-GAN (Lin et al., ICCV 2019): generation by parts via coordinates (research cocogan.md §2).

G makes micro patches from ``[z ; coord]``; the N x M micro patches of one macro position assemble
(differentiably) into a macro patch, and D sees macro patches: fakes, and the real crops at the **same**
coordinates. D's pooled features feed a coordinate head C that regresses the macro coordinate of real
and fake patches (MSE x ``coord_loss_w``); C is in both the G and the D optimiser (the official variable
split puts ``GD_spatial_prediction_head`` in both), so the loop trains it in either phase. With
``code_loss_w`` > 0 a head Q regresses z from the fake macro patch's features (L1 x ``code_loss_w``), for
patch-guided generation.

Per step (§2.5): ``Dmain`` (WGAN + GP + coordinate [+ code] loss, D and C), ``Gmain`` (WGAN + coordinate
[+ code] loss, G and C), then ``Qmain`` (code loss, Q only). TTUR Adam (1e-4 / 4e-4, betas (0, 0.999)).
The extrapolation stage (:class:`COCOGANExtrap`) adds ``Dextrap`` and ``Gextrap`` after them (§2.7).

Choices and deviations, on purpose:
- CBN form: ``options.cbn`` (default ``fixed``, textbook CBN; see :mod:`ganbench.nets.cocogan`).
- Gradient penalty: ``options.gp_form`` ``official`` (default) is the TF code's: alpha per element of
  the macro patch and the gradient norm over the height axis only, so each "slope" is one column of one
  channel and lambda 10 weighs B*C*W slopes; ``per_sample`` is WGAN-GP's (alpha per sample, norm over the
  whole patch). Both add 1e-12 under the square root (the official has none: a zero gradient is a NaN).
  ``gp_slopes`` (the slopes' mean) is logged: the README's tuning signal (about 1-5 after 10k steps).
- The G step draws its own z and coordinates (the official re-uses the D step's; same distribution).
- Spectral norm's power iteration runs on every training-mode forward (torch), not once per optimiser
  step (TF's update collections).
- No EMA (the official has none); samples come from G in eval mode (running CBN statistics).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.errors import GanbenchError
from ganbench.methods import register
from ganbench.methods.base import Batch, Method, OptimizerSpec, Phase, StepContext
from ganbench.methods.options import COCOGANExtrapOptions, COCOGANOptions, COCOGANPanoramaOptions
from ganbench.nets.coco_coords import PatchLattice, assemble, lattice_from
from ganbench.nets.cocogan import Discriminator, Generator, PredictionHead

IN_BOUND_TOL = 1e-4  # the official out-of-bound test: |c| > 1 + 1e-4 on any axis
GP_EPS = 1e-12


def latents(seeds, z_dim: int) -> torch.Tensor:
    """z ~ U(-1, 1)^z_dim, one per seed (the official prior)."""
    return torch.stack([torch.rand(z_dim, generator=torch.Generator().manual_seed(int(s))) * 2 - 1 for s in seeds])


def gradient_penalty(
    D: nn.Module, real: torch.Tensor, fake: torch.Tensor, form: str, alpha: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """WGAN-GP's (slopes - 1)^2, meaned, and the slopes. ``alpha`` is [B, C, H, W] (official) or [B, 1, 1, 1].
    The projection term is left out (D(x, y=None)), as in the official code."""
    x = (real + alpha * (fake - real)).detach().requires_grad_(True)
    logits, _ = D(x)
    (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
    if form == "official":
        slopes = (grad.square().sum(dim=2) + GP_EPS).sqrt()  # NCHW: over H, the TF code's NHWC axis 1
    else:
        slopes = (grad.square().flatten(1).sum(1) + GP_EPS).sqrt()
    return (slopes - 1).square().mean(), slopes


@register("cocogan")
class COCOGAN(Method):
    Options = COCOGANOptions

    def __init__(
        self, options: COCOGANOptions, resolution: int, img_channels: int = 3, label_dim: int = 0, parents=None
    ):
        super().__init__(options, resolution, img_channels, label_dim, parents)
        if label_dim:
            raise GanbenchError("method cocogan: is unconditional; train it on a dataset without labels")
        o = options
        self.lattice = lattice_from(
            resolution, o.width, o.macro_size, o.micro_size, o.coordinate_system == "cylindrical"
        )
        coord_dim = self.lattice.coord_dim
        self.G = Generator(o.z_dim, coord_dim, o.micro_size, img_channels, o.ngf, o.g_extra_layers, o.cbn)
        self.D = Discriminator(self.lattice.macro, coord_dim, img_channels, o.ndf, o.d_extra_layers)
        self.C = PredictionHead(self.D.features, coord_dim, o.aux_dim)
        self.Q = PredictionHead(self.D.features, o.z_dim, o.aux_dim) if o.code_loss_w > 0 else None
        self.register_buffer("_device_probe", torch.zeros([]), persistent=False)

    # --- the interface ----------------------------------------------------------------------

    def trainable(self):
        nets = {"G": nn.ModuleList([self.G, self.C]), "D": nn.ModuleList([self.D, self.C])}
        if self.Q is not None:
            nets["Q"] = self.Q
        return nets

    def optimizer_specs(self):
        o = self.options
        specs = {"G": OptimizerSpec(o.g_lr, o.betas), "D": OptimizerSpec(o.d_lr, o.betas)}
        if self.Q is not None:
            specs["Q"] = OptimizerSpec(o.q_lr, o.betas)
        return specs

    def phases(self):
        out = [Phase("Dmain", "D"), Phase("Gmain", "G")]
        return out + ([Phase("Qmain", "Q")] if self.Q is not None else [])

    def accumulate_gradients(self, phase: Phase, batch: Batch, ctx: StepContext):
        real = self._augment(batch.images, ctx)
        if phase.name == "Qmain":
            return self._q_step(len(real), ctx)
        extrap = phase.name.endswith("extrap")
        fake_lattice = self.lattice.with_extrap(self.options.extrap_steps) if extrap else self.lattice
        if phase.name.startswith("D"):
            return self._d_step(real, fake_lattice, ctx)
        return self._g_step(real, fake_lattice, ctx)

    # --- sampling ---------------------------------------------------------------------------

    @torch.no_grad()
    def sample(
        self, seeds, extrap: int = 0, z: torch.Tensor | None = None, size: int | None = None, **kwargs
    ) -> torch.Tensor:
        """Full images from ``seeds`` (z ~ U(-1, 1)), every micro patch of the grid assembled by an eval-mode
        G (§2.6); ``extrap`` > 0 adds that many micro patches past every Euclidean border (§2.7); ``size``
        resizes the result to that height (bilinear, antialiased: extrapolated images against the real data)."""
        z = latents(seeds, self.options.z_dim) if z is None else z
        with _eval(self.G):
            images = self.G.full_image(z.to(self._device_probe.device), self.lattice, extrap)
        if size is not None and size != images.shape[2]:
            width = round(images.shape[3] * size / images.shape[2])
            images = F.interpolate(images, size=(size, width), mode="bilinear", antialias=True, align_corners=False)
        return images

    @torch.no_grad()
    def panorama(self, seeds, columns: int | None = None, z: torch.Tensor | None = None) -> torch.Tensor:
        """Cylindrical samples with ``columns`` micro columns (default one turn, 4x12 for the paper's 256x768).
        Past one turn the angle index wraps (column 12 has the angle of column 0), which shows the 360°
        continuation; the official test grid stops at one turn."""
        lat = self.lattice
        if not lat.cylindrical:
            raise GanbenchError("panorama: the model was trained with the euclidean coordinate system")
        turn = lat.ratio[1]
        columns = columns or turn
        gx = torch.as_tensor(lat.micro_grid_positions(0), dtype=torch.float32)
        gy = -1 + 2 * (torch.arange(columns) % turn).float() / turn
        nh = len(gx)
        positions = torch.stack([gx.repeat(columns), gy.repeat_interleave(nh)], dim=-1)
        z = (latents(seeds, self.options.z_dim) if z is None else z).to(self._device_probe.device)
        coords = lat.embed(positions.to(z.device))
        with _eval(self.G):
            return assemble(self.G.patches(z, coords.expand(len(z), *coords.shape)), nh, columns)

    @torch.no_grad()
    def estimate_latent(self, real: torch.Tensor, macro_index: torch.Tensor | None = None) -> torch.Tensor:
        """Q's estimate of z from one real macro patch per image (§2.9), at ``macro_index`` [B, 2] (default:
        the centre of the macro lattice). Eval mode."""
        if self.Q is None:
            raise GanbenchError("patch-guided generation needs Q: train with options.code_loss_w > 0")
        if macro_index is None:
            counts = self.lattice.macro_counts()
            macro_index = torch.tensor([[counts[0] // 2, counts[1] // 2]] * len(real))
        _, micro = self.lattice.sample(macro_index.cpu())
        patch = self.lattice.crop_macro(real, micro.to(real.device))
        with _eval(self.D), _eval(self.Q):
            return self.Q(self.D(patch)[1])

    @torch.no_grad()
    def reconstruct(self, real: torch.Tensor, macro_index: torch.Tensor | None = None) -> torch.Tensor:
        """Patch-guided generation: the full image from Q's estimate of z (not a random z: the official
        TensorBoard image feeds ``self.z``, §2.9)."""
        return self.sample([], z=self.estimate_latent(real, macro_index))

    def preview(self, fixed: Batch) -> torch.Tensor:
        if self.Q is None:
            return super().preview(fixed)
        real = fixed.images[: self.options.preview_images]
        return torch.cat([real, self.reconstruct(real), self.sample(range(len(real)))])

    # --- losses -----------------------------------------------------------------------------

    def _augment(self, images: torch.Tensor, ctx: StepContext) -> torch.Tensor:
        """Panoramas: one random circular roll of the width per batch (``aug_cylindrical_data_tensor``)."""
        if not (self.lattice.cylindrical and self.options.roll_augment):
            return images
        shift = int(ctx.rng.global_rand(1).item() * images.shape[3])
        return torch.roll(images, shifts=shift, dims=3)

    def _draw(self, n: int, lattice: PatchLattice, ctx: StepContext):
        """z, and one macro index per sample and per axis: raw macro positions [n, 2], micro [n, N*M, 2]."""
        counts = lattice.macro_counts()
        index = torch.stack([ctx.rng.randint(0, counts[a], n) for a in (0, 1)], dim=1)
        macro, micro = lattice.sample(index.cpu())
        z = ctx.rng.rand(n, self.options.z_dim) * 2 - 1
        return z, macro.to(ctx.device), micro.to(ctx.device)

    def _fake(self, z, micro):
        return assemble(self.G.patches(z, self.lattice.embed(micro)), self.lattice.n, self.lattice.m)

    def _coord_loss(self, h: torch.Tensor, macro: torch.Tensor) -> torch.Tensor:
        """MSE of C's prediction against the macro coordinate; macro patches past the border (extrapolation:
        tanh cannot reach them) keep their value but pass no gradient (the official stop_gradient)."""
        target = self.lattice.embed(macro)
        err = (self.C(h) - target).square().mean(dim=1)
        inside = (macro.abs() <= 1 + IN_BOUND_TOL).all(dim=1)
        return torch.where(inside, err, err.detach()).mean()

    def _code_loss(self, h_fake: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return (self.Q(h_fake) - z).abs().mean()

    def _d_step(self, real, fake_lattice, ctx):
        o, n = self.options, len(real)
        z, real_macro, real_micro = self._draw(n, self.lattice, ctx)
        fake_macro, fake_micro = real_macro, real_micro  # the real crop and the fake share the coordinates
        if fake_lattice.extrap:  # ... except past the border, where there is no real crop
            z, fake_macro, fake_micro = self._draw(n, fake_lattice, ctx)
        real_patch = self.lattice.crop_macro(real, real_micro)
        with torch.no_grad():
            fake_patch = self._fake(z, fake_micro)
        real_logits, h_real = self.D(real_patch, self.lattice.embed(real_macro))
        fake_logits, h_fake = self.D(fake_patch, self.lattice.embed(fake_macro))
        adv = fake_logits.mean() - real_logits.mean()
        alpha_shape = real_patch.shape if o.gp_form == "official" else (n, 1, 1, 1)
        gp, slopes = gradient_penalty(self.D, real_patch, fake_patch, o.gp_form, ctx.rng.rand(*alpha_shape))
        coord = o.coord_loss_w * (self._coord_loss(h_real, real_macro) + self._coord_loss(h_fake, fake_macro))
        loss = adv + o.gp_lambda * gp + coord
        logged = {}
        if self.Q is not None:
            code = o.code_loss_w * self._code_loss(h_fake, z)
            loss = loss + code
            logged["loss_code"] = code.detach()
        loss.backward()
        suffix = "_extrap" if fake_lattice.extrap else ""
        return {
            f"loss_D{suffix}": loss.detach(),
            f"w_dist{suffix}": (real_logits.mean() - fake_logits.mean()).detach(),
            f"loss_gp{suffix}": gp.detach(),
            f"gp_slopes{suffix}": slopes.mean().detach(),
            f"loss_coord_D{suffix}": coord.detach(),
            **logged,
        }

    def _g_step(self, real, fake_lattice, ctx):
        o, n = self.options, len(real)
        z, real_macro, real_micro = self._draw(n, self.lattice, ctx)
        fake_macro, fake_micro = real_macro, real_micro  # the real crop and the fake share the coordinates
        if fake_lattice.extrap:  # ... except past the border, where there is no real crop
            z, fake_macro, fake_micro = self._draw(n, fake_lattice, ctx)
        with torch.no_grad():
            h_real = self.D(self.lattice.crop_macro(real, real_micro))[1]
        fake_logits, h_fake = self.D(self._fake(z, fake_micro), self.lattice.embed(fake_macro))
        adv = -fake_logits.mean()
        coord = o.coord_loss_w * (self._coord_loss(h_real, real_macro) + self._coord_loss(h_fake, fake_macro))
        loss = adv + coord
        if self.Q is not None:
            loss = loss + o.code_loss_w * self._code_loss(h_fake, z)
        loss.backward()
        suffix = "_extrap" if fake_lattice.extrap else ""
        return {f"loss_G{suffix}": loss.detach(), f"loss_coord_G{suffix}": coord.detach()}

    def _q_step(self, n, ctx):
        z, _, micro = self._draw(n, self.lattice, ctx)
        with torch.no_grad():
            h_fake = self.D(self._fake(z, micro))[1]
        code = self.options.code_loss_w * self._code_loss(h_fake, z)
        code.backward()
        return {"loss_Q": code.detach()}


# The extrapolation stage's G optimiser trains only these blocks (the official ``g_resblock_0`` and ``_1``).
EXTRAP_G_BLOCKS = 2


@register("cocogan_extrap")
class COCOGANExtrap(COCOGAN):
    """Beyond-boundary extrapolation (§2.7), fine-tuned from a trained COCO-GAN (catalog input ``parent``,
    ``init_from`` G, D and C). Each step runs the normal D and G steps (all of G), then ``Dextrap`` (all of
    D and C, its own Adam) and ``Gextrap`` (G's first two blocks, its own Adam) with fake coordinates from
    the lattice widened by ``extrap_steps`` macro steps; real crops stay in range (past the border there is
    no ground truth) and the coordinate loss of out-of-bound fakes passes no gradient."""

    Options = COCOGANExtrapOptions

    def __init__(self, options, resolution, img_channels=3, label_dim=0, parents=None):
        super().__init__(options, resolution, img_channels, label_dim, parents)
        parent = self.parents.get("parent")
        if parent is not None:
            _check_same_architecture(options, parent.options, parent.resolution, resolution)

    def trainable(self):
        nets = super().trainable()
        nets["D_extrap"] = nn.ModuleList([self.D, self.C])
        nets["G_extrap"] = nn.ModuleList(self.G.blocks[:EXTRAP_G_BLOCKS])
        return nets

    def optimizer_specs(self):
        o = self.options
        specs = super().optimizer_specs()
        specs["D_extrap"] = OptimizerSpec(o.d_lr, o.betas)
        specs["G_extrap"] = OptimizerSpec(o.g_lr, o.betas)
        return specs

    def phases(self):
        return super().phases() + [Phase("Dextrap", "D_extrap"), Phase("Gextrap", "G_extrap")]

    @torch.no_grad()
    def sample(self, seeds, extrap: int | None = None, z=None, size=None, **kwargs):
        """Full images; by default the in-range image (FID against the data), ``extrap`` wider on request."""
        return super().sample(seeds, extrap=extrap or 0, z=z, size=size, **kwargs)


@register("cocogan_panorama")
class COCOGANPanorama(COCOGAN):
    """COCO-GAN on 360° panoramas (§2.8): the cylindrical coordinate system, a circular roll of each real
    batch, wrap-around real crops. Samples are one turn (:meth:`COCOGAN.panorama`)."""

    Options = COCOGANPanoramaOptions

    @torch.no_grad()
    def sample(self, seeds, columns: int | None = None, z: torch.Tensor | None = None, **kwargs):
        return self.panorama(seeds, columns, z)


_ARCHITECTURE = (
    "macro_size",
    "micro_size",
    "width",
    "coordinate_system",
    "z_dim",
    "ngf",
    "ndf",
    "g_extra_layers",
    "d_extra_layers",
    "aux_dim",
    "cbn",
)


def _check_same_architecture(options, parent_options: dict, parent_resolution: int, resolution: int) -> None:
    base = COCOGANOptions()
    if parent_resolution != resolution:
        raise GanbenchError(f"cocogan_extrap: the parent trains at {parent_resolution} px, this stage at {resolution}")
    for key in _ARCHITECTURE:
        theirs = parent_options.get(key, getattr(base, key))
        if isinstance(theirs, list):
            theirs = tuple(theirs)
        if getattr(options, key) != theirs:
            raise GanbenchError(
                f"cocogan_extrap: options.{key} is {getattr(options, key)!r}, the parent's is {theirs!r} "
                "(the stage fine-tunes the parent's networks)"
            )


class _eval:
    """Eval mode for the duration of a block, then the module's previous mode."""

    def __init__(self, module: nn.Module):
        self.module = module

    def __enter__(self):
        self.was = self.module.training
        self.module.eval()

    def __exit__(self, *exc):
        self.module.train(self.was)

"""CoordGAN (Mu et al., CVPR 2022): the GAN stage (research coordgan.md §1.4, §2.6).

Per iteration, with fresh codes in each phase and samples paired (2k, 2k+1):

- D: ``lambda_gan * [softplus(-D(x)) + softplus(D(G(t, s)))]``; after ``patch_start_iters`` the patch D also
  learns that crops of G(t_k, s_k) go with other crops of the same image (real pair) but not with crops of
  G(t_k, s_partner) (fake pair, the structure swap). It never sees real images (§2.6.4).
- D reg every 16 steps: R1 on reals (gamma 10) and, after the patch start, R1 on both generated crop sets
  (gamma 1), each ``gamma / 2 * 16``.
- G: the non-saturating loss; the patch loss (reference features detached); the texture-swap loss
  ``5 * P(G(t_k, s_k), G(t_partner, s_k))``; the chamfer loss ``200 * CD(C, grid)``; the warp loss
  ``5 * P(x_hat, stopgrad(x))`` with x_hat rebuilt from the pair partner through the tau = 0.01 affinity.
  P is LPIPS-VGG, or the probe's feature distance offline (option ``perceptual``).
- Weights: lambda_gan ramps from 1 to 2 over 10k iterations; texture swap and warp ramp from 0 over 20k.

Adam: G lr 0.0016, betas (0, 0.99^0.8); D and patch D (one optimiser, the part ``D``) lr 0.002 and betas
(0, 0.99), to which the loop applies the lazy-R1 ratio 16/17. EMA decay 0.5^(32/10k) per step at batch 16 is
the loop's default ``ema_kimg`` (batch * 10 / 32 kimg).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.errors import GanbenchError
from ganbench.methods import register
from ganbench.methods.base import Batch, Method, OptimizerSpec, Phase, StepContext
from ganbench.methods.coordgan_losses import chamfer_loss, swap_pairs, warp_images
from ganbench.methods.options import CoordGANOptions
from ganbench.nets.coordgan import CoordGANGenerator, PatchDiscriminator, random_crops
from ganbench.nets.perceptual import build_perceptual
from ganbench.nets.stylegan2 import Discriminator


class Discriminators(nn.Module):
    """The image D and the patch co-occurrence D, trained by one optimiser (as the official ``d_optim``)."""

    def __init__(self, image: nn.Module, patch: nn.Module):
        super().__init__()
        self.image, self.patch = image, patch


def seed_codes(seeds, z_dim: int, offset: int = 0) -> torch.Tensor:
    """One N(0, I) code per seed (texture codes with offset 0, structure codes with offset 1)."""
    codes = []
    for s in seeds:
        gen = torch.Generator().manual_seed(int(s))
        codes.append(torch.randn(2, z_dim, generator=gen)[offset])
    return torch.stack(codes)


@register("coordgan")
class CoordGAN(Method):
    Options = CoordGANOptions

    def __init__(
        self, options: CoordGANOptions, resolution: int, img_channels: int = 3, label_dim: int = 0, parents=None
    ):
        super().__init__(options, resolution, img_channels, label_dim, parents)
        self.G = self.build_generator()
        self.G_ema = self.build_generator()
        self.G_ema.load_state_dict(self.G.state_dict())
        self.G_ema.requires_grad_(False).eval()
        o = options
        image_d = Discriminator(
            0,
            img_resolution=resolution,
            img_channels=img_channels,
            channel_base=o.d_channel_base,
            channel_max=o.d_channel_max,
            mbstd_group_size=o.mbstd_group,
        )
        self.D = Discriminators(image_d, PatchDiscriminator(o.patch_size, tuple(o.patch_channels)))
        self.P = build_perceptual(o.perceptual, o.probe_channels, o.probe_resolution)  # weights: init_from

    def build_generator(self) -> CoordGANGenerator:
        o = self.options
        return CoordGANGenerator(
            o.z_dim,
            o.w_dim,
            img_resolution=self.resolution,
            coord_resolution=o.coord_resolution,
            img_channels=self.img_channels,
            channels=o.channels,
            num_blocks=o.num_blocks,
            mapping_layers=o.mapping_layers,
            warp_hidden=o.warp_hidden,
        )

    # --- the interface ----------------------------------------------------------------------

    def trainable(self):
        return {"D": self.D, "G": self.G}

    def optimizer_specs(self):
        o = self.options
        return {
            "D": OptimizerSpec(o.d_lr, o.d_betas, reg_interval=o.d_reg_interval),
            "G": OptimizerSpec(o.g_lr, o.g_betas),
        }

    def phases(self):
        return [Phase("Dmain", "D"), Phase("Dreg", "D", self.options.d_reg_interval), Phase("Gmain", "G")]

    def ema_pairs(self):
        return [(self.G, self.G_ema)]

    def train(self, mode: bool = True):
        super().train(mode)
        self.P.eval()  # the perceptual network is frozen and always in eval mode
        self.G_ema.eval()
        return self

    def accumulate_gradients(self, phase: Phase, batch: Batch, ctx: StepContext):
        step = {"Dmain": self._d_main, "Dreg": self._d_reg, "Gmain": self._g_main}[phase.name]
        return step(batch.images, ctx, gain=phase.interval)

    # --- sampling ---------------------------------------------------------------------------

    @torch.no_grad()
    def sample(self, seeds, texture_seeds=None, noise_mode="const", return_coords=False, swap=False, **kwargs):
        """Images of structure ``seeds`` with texture ``texture_seeds`` (default: the same seeds). ``swap``: the
        texture-swapped samples of eval_fid.py, seeds paired (2k, 2k+1) and each taking its partner's texture."""
        if swap:
            if texture_seeds is not None:
                raise GanbenchError("swap takes the textures from the pair partners; give no texture_seeds")
            if len(seeds) % 2:
                raise GanbenchError(f"swap pairs the seeds (2k, 2k+1): give an even number, got {len(seeds)}")
            texture_seeds = [seeds[i ^ 1] for i in range(len(seeds))]
        device = next(self.G_ema.parameters()).device
        z_s = seed_codes(seeds, self.options.z_dim, 1).to(device)
        z_t = seed_codes(seeds if texture_seeds is None else texture_seeds, self.options.z_dim, 0).to(device)
        images, coords = self.G_ema(z_t, z_s, noise_mode=noise_mode)
        return (images, coords) if return_coords else images

    # --- losses -----------------------------------------------------------------------------

    def _ramp(self, step: int, iters: int) -> float:
        return min(step / iters, 1.0) if iters > 0 else 1.0

    def _gan_weight(self, step: int) -> float:
        o = self.options
        if o.gan_weight == 0:
            return 0.0
        return max(self._ramp(step, o.gan_warmup_iters), 1 / o.gan_weight) * o.gan_weight

    def _patch_on(self, step: int) -> bool:
        return self.options.patch_weight > 0 and step >= self.options.patch_start_iters

    def _generate(self, n: int, ctx: StepContext):
        """x_a = G(t_k, s_k), x_b = G(t_partner, s_k), and their shared coordinates."""
        z_t, z_s = ctx.rng.randn(n, self.options.z_dim), ctx.rng.randn(n, self.options.z_dim)
        ws_t = self.G.texture_ws(z_t, update_emas=True)
        coords = self.G.coordinates(self.G.structure_w(z_s, update_emas=True))
        x_a = self.G.synthesis(ws_t, coords, rng=ctx.rng)
        x_b = self.G.synthesis(swap_pairs(ws_t), coords, rng=ctx.rng)
        return x_a, x_b, coords

    def _crops(self, images, ctx):
        o = self.options
        return random_crops(images, o.num_crops, o.patch_size, o.patch_min_scale, o.patch_max_scale, ctx.rng.rand)

    def _d_main(self, real, ctx, gain):
        with torch.no_grad():
            x_a, x_b, _ = self._generate(len(real), ctx)
        loss_fake = F.softplus(self.D.image(x_a)).mean()
        loss_real = F.softplus(-self.D.image(real)).mean()
        loss = self._gan_weight(ctx.step) * (loss_fake + loss_real)
        logs = {"loss_D_fake": loss_fake.detach(), "loss_D_real": loss_real.detach()}
        if self._patch_on(ctx.step):
            pd = self.D.patch
            ref = pd.features(self._crops(x_a, ctx))
            real_logits = pd(ref, pd.features(self._crops(x_a, ctx)), self.options.num_crops)
            fake_logits = pd(ref, pd.features(self._crops(swap_pairs(x_b), ctx)), self.options.num_crops)
            loss_patch = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
            loss = loss + self.options.patch_weight * loss_patch
            logs["loss_D_patch"] = loss_patch.detach()
        (loss * gain).backward()
        return logs

    def _d_reg(self, real, ctx, gain):
        o = self.options
        real = real.detach().requires_grad_(True)
        (grads,) = torch.autograd.grad(self.D.image(real).sum(), real, create_graph=True)
        r1 = grads.square().sum([1, 2, 3]).mean()
        loss = o.r1_gamma / 2 * r1
        logs = {"loss_D_r1": r1.detach()}
        if self._patch_on(ctx.step) and o.patch_r1_gamma > 0:
            with torch.no_grad():
                x_a, _, _ = self._generate(len(real), ctx)
            ref = self._crops(x_a, ctx).requires_grad_(True)
            tgt = self._crops(x_a, ctx).requires_grad_(True)
            pd = self.D.patch
            logits = pd(pd.features(ref), pd.features(tgt), o.num_crops)
            g_ref, g_tgt = torch.autograd.grad(logits.sum(), [ref, tgt], create_graph=True)
            r1_patch = g_ref.square().sum([1, 2, 3]).mean() + g_tgt.square().sum([1, 2, 3]).mean()
            loss = loss + o.patch_r1_gamma / 2 * r1_patch
            logs["loss_D_patch_r1"] = r1_patch.detach()
        (loss * gain).backward()
        return logs

    def _g_main(self, real, ctx, gain):
        o = self.options
        x_a, x_b, coords = self._generate(len(real), ctx)
        loss_gan = F.softplus(-self.D.image(x_a)).mean()
        loss = self._gan_weight(ctx.step) * loss_gan
        loss_cham = chamfer_loss(coords)
        loss = loss + o.chamfer_weight * loss_cham
        ramp = self._ramp(ctx.step, o.swap_warmup_iters)
        loss_swap = self.P(x_a, x_b).mean()
        target = x_a.detach()
        if target.shape[-1] != coords.shape[-1]:
            size = (coords.shape[-1],) * 2
            target = F.interpolate(target, size=size, mode="bilinear", align_corners=False)
        loss_warp = self.P(warp_images(x_a, coords, o.warp_tau), target).mean()
        loss = loss + ramp * (o.swap_weight * loss_swap + o.warp_weight * loss_warp)
        logs = {
            "loss_G": loss_gan.detach(),
            "loss_chamfer": loss_cham.detach(),
            "loss_swap": loss_swap.detach(),
            "loss_warp": loss_warp.detach(),
        }
        if self._patch_on(ctx.step):
            pd = self.D.patch
            ref = pd.features(self._crops(x_a, ctx)).detach()
            logits = pd(ref, pd.features(self._crops(swap_pairs(x_b), ctx)), o.num_crops)
            loss_patch = F.softplus(-logits).mean()
            loss = loss + o.patch_weight * loss_patch
            logs["loss_G_patch"] = loss_patch.detach()
        (loss * gain).backward()
        return logs

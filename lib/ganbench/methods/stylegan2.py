"""StyleGAN2 with adaptive discriminator augmentation: the baseline every paper builds on or measures against.

Losses as in StyleGAN2-ADA: non-saturating logistic loss, R1 on reals (lazy, every
``d_reg_interval`` steps), path-length regularisation (lazy, every ``g_reg_interval`` steps),
style mixing; the discriminator sees augmented images (ADA with adaptive p, or DiffAugment)
for both reals and fakes. Networks: :mod:`ganbench.nets.stylegan2`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ganbench.augment import AdaptiveP, AugmentPipe, diff_augment
from ganbench.methods import register
from ganbench.methods.base import Batch, Method, OptimizerSpec, Phase, StepContext
from ganbench.methods.options import StyleGAN2Options
from ganbench.nets.stylegan2 import Discriminator, Generator


@register("stylegan2")
class StyleGAN2(Method):
    Options = StyleGAN2Options

    def __init__(
        self, options: StyleGAN2Options, resolution: int, img_channels: int = 3, label_dim: int = 0, parents=None
    ):
        super().__init__(options, resolution, img_channels, label_dim, parents)
        o = options
        self.G = self.build_generator()
        self.G_ema = self.build_generator()
        self.G_ema.load_state_dict(self.G.state_dict())
        self.G_ema.requires_grad_(False).eval()
        self.D = self.build_discriminator()
        self.register_buffer("pl_mean", torch.zeros([]))
        self.augment_pipe = AugmentPipe() if o.augment == "ada" else None
        if self.augment_pipe is not None:
            self.augment_pipe.p.fill_(o.augment_p)
        self.ada = (
            AdaptiveP(target=o.ada_target, interval=o.ada_interval, speed_kimg=o.ada_kimg, p=o.augment_p)
            if o.augment == "ada" and o.ada_target is not None
            else None
        )
        self._real_signs = [0.0, 0]  # sum of sign(D(real)) and count over this step's micro-batches

    def build_generator(self) -> torch.nn.Module:
        o = self.options
        return Generator(
            o.z_dim,
            self.label_dim,
            o.w_dim,
            img_resolution=self.resolution,
            img_channels=self.img_channels,
            channel_base=o.channel_base,
            channel_max=o.channel_max,
            conv_clamp=o.conv_clamp,
            mapping_kwargs=dict(num_layers=o.mapping_layers),
        )

    def build_discriminator(self) -> torch.nn.Module:
        o = self.options
        return Discriminator(
            self.label_dim,
            img_resolution=self.resolution,
            img_channels=self.img_channels,
            channel_base=o.channel_base,
            channel_max=o.channel_max,
            conv_clamp=o.conv_clamp,
            mbstd_group_size=o.mbstd_group,
        )

    # --- the interface ----------------------------------------------------------------------

    def trainable(self):
        return {"G": self.G, "D": self.D}

    def optimizer_specs(self):
        o = self.options
        return {
            "G": OptimizerSpec(o.g_lr, o.betas, reg_interval=o.g_reg_interval if o.pl_weight > 0 else None),
            "D": OptimizerSpec(o.d_lr, o.betas, reg_interval=o.d_reg_interval if o.r1_gamma > 0 else None),
        }

    def ema_pairs(self):
        return [(self.G, self.G_ema)]

    def accumulate_gradients(self, phase: Phase, batch: Batch, ctx: StepContext):
        step = {"Gmain": self._g_main, "Greg": self._g_pl, "Dmain": self._d_main, "Dreg": self._d_r1}[phase.name]
        return step(batch.images, batch.labels, ctx, gain=phase.interval)

    def end_step(self, ctx: StepContext, batch_size: int):
        if self.ada is not None and self._real_signs[1]:
            self.ada.update(*self._real_signs)
            self._real_signs = [0.0, 0]
            if self.ada.due:
                p = self.ada.adjust(batch_size, all_reduce=lambda t: ctx.all_reduce_mean(t) * ctx.world_size)
                self.augment_pipe.p.fill_(p)
        return {"augment_p": float(self.augment_pipe.p)} if self.augment_pipe is not None else {}

    def get_extra_state(self):
        return {"ada": self.ada.state_dict() if self.ada is not None else None}

    def set_extra_state(self, state):
        if self.ada is not None:
            self.ada.load_state_dict(state["ada"])

    @torch.no_grad()
    def sample(self, seeds, truncation_psi=None, noise_mode="const", **kwargs):
        device = self.pl_mean.device
        z = torch.stack([torch.randn(self.options.z_dim, generator=torch.Generator().manual_seed(s)) for s in seeds])
        c = torch.zeros(len(seeds), self.label_dim)
        psi = self.options.truncation_psi if truncation_psi is None else truncation_psi
        return self.G_ema(z.to(device), c.to(device), truncation_psi=psi, noise_mode=noise_mode, **kwargs)

    # --- losses -----------------------------------------------------------------------------

    def _generate(self, n, labels, ctx: StepContext):
        """Images and their ws for n latents of this rank's slice, with style mixing."""
        z = ctx.rng.randn(n, self.options.z_dim)
        ws = self.G.mapping(z, labels[:n], update_emas=True)
        if self.options.style_mixing > 0:
            mix, where = ctx.rng.global_rand(2)
            if mix < self.options.style_mixing:
                cutoff = 1 + int(where * (ws.shape[1] - 1))
                z2 = ctx.rng.randn(n, self.options.z_dim)
                ws = torch.cat([ws[:, :cutoff], self.G.mapping(z2, labels[:n])[:, cutoff:]], dim=1)
        return self.G.synthesis(ws, rng=ctx.rng), ws

    def _discriminate(self, images, labels, ctx: StepContext):
        if self.augment_pipe is not None:
            images = self.augment_pipe(images, rng=ctx.rng)
        elif self.options.augment == "diffaugment":
            images = diff_augment(images, self.options.diffaugment_policy, rng=ctx.rng)
        return self.D(images, labels)

    def _g_main(self, real, labels, ctx, gain):
        fake, _ = self._generate(len(real), labels, ctx)
        loss = F.softplus(-self._discriminate(fake, labels, ctx)).mean()
        (loss * gain).backward()
        return {"loss_G": loss.detach()}

    def _g_pl(self, real, labels, ctx, gain):
        n = max(len(real) // self.options.pl_batch_shrink, 1)
        fake, ws = self._generate(n, labels, ctx)
        noise = ctx.rng.randn(n, *fake.shape[1:]) / math.sqrt(fake.shape[2] * fake.shape[3])
        (grads,) = torch.autograd.grad((fake * noise).sum(), ws, create_graph=True)
        lengths = grads.square().sum(2).mean(1).sqrt()
        pl_mean = self.pl_mean.lerp(ctx.all_reduce_mean(lengths.mean().detach().float()), self.options.pl_decay)
        self.pl_mean.copy_(pl_mean)
        penalty = (lengths - pl_mean).square()
        (penalty.mean() * self.options.pl_weight * gain).backward()
        return {"loss_G_pl": penalty.mean().detach(), "pl_length": lengths.mean().detach()}

    def _d_main(self, real, labels, ctx, gain):
        with torch.no_grad():
            fake, _ = self._generate(len(real), labels, ctx)
        fake_logits = self._discriminate(fake, labels, ctx)
        real_logits = self._discriminate(real, labels, ctx)
        loss_fake, loss_real = F.softplus(fake_logits).mean(), F.softplus(-real_logits).mean()
        ((loss_fake + loss_real) * gain).backward()
        if self.ada is not None:
            self._real_signs[0] += real_logits.detach().sign().sum()
            self._real_signs[1] += len(real_logits)
        return {
            "loss_D_fake": loss_fake.detach(),
            "loss_D_real": loss_real.detach(),
            "D_real_sign": real_logits.detach().sign().mean(),
        }

    def _d_r1(self, real, labels, ctx, gain):
        real = real.detach().requires_grad_(True)
        logits = self._discriminate(real, labels, ctx)
        (grads,) = torch.autograd.grad(logits.sum(), real, create_graph=True)
        penalty = grads.square().sum([1, 2, 3])
        (penalty.mean() * (self.options.r1_gamma / 2) * gain).backward()
        return {"loss_D_r1": penalty.mean().detach()}

"""Vision-aided GAN (Kumari et al., CVPR 2022; research visionaided.md §2): StyleGAN2-ADA plus discriminators
that are small trainable heads on frozen off-the-shelf backbones.

Parts: the StyleGAN2 ``G``, ``G_ema``, ``D`` (with its R1 and ADA, unchanged), ``backbones`` (a ModuleList of
:class:`ganbench.nets.backbones.Backbone`, FROZEN: the catalog freezes the whole part; each backbone's weights
come from the input ``backbone<k>`` through ``init_from: {backbones.<k>.net: "backbone<k>:<prefix>"}``, and a
part frozen from an input is recorded by hash, not copied into checkpoints) and ``cvD`` (the heads, one per
backbone, trained in their own phase ``cvDmain`` after D's).

Losses (§2.3, per sample, then the mean), with lambda = 0 while fewer than ``warmup_kimg`` thousand real images
have been shown (counted from this experiment's start, as a round of the official driver restarts cur_nimg):

- G: softplus(-D(aug(G(z)))) + lambda * cv_weight * sum_k L_k(cvD_k(aug_k(G(z))), G); the gradient flows through
  the frozen backbones into G;
- cvD: lambda * cv_weight * sum_k [L_k(fake) + L_k(real)], backbone features without gradient; no R1 on cvD.

Augmentation of the vision-aided branch (§2.4): each backbone gets its own independently augmented copy; ``ada``:
an ADA ``bgc`` pipeline with its own p per backbone (target 0.3 on the sign of the head's last logit on reals,
adjusted only after warm-up) followed by DiffAugment cutout, always; ``diffaugment``: DiffAugment with
``cv_diffaugment_policy``. The cvD optimiser is Adam with lr x 16/17 and beta2 = 0.99^(16/17) (§2.3), as upstream.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.augment import AdaptiveP, AugmentPipe, diff_augment
from ganbench.methods import register
from ganbench.methods.base import OptimizerSpec, Phase
from ganbench.errors import GanbenchError
from ganbench.methods.options import VISION_SELECTED, VisionAidedOptions
from ganbench.methods.stylegan2 import StyleGAN2
from ganbench.nets.backbones import backbone_state, build_backbone
from ganbench.nets.vision_heads import build_head, vision_loss

LAZY_RATIO = 16 / 17  # the official cvD optimiser's lr/beta correction (mb_ratio of a 16-step lazy R1)


@register("vision_aided")
class VisionAided(StyleGAN2):
    Options = VisionAidedOptions

    def __init__(self, options: VisionAidedOptions, resolution, img_channels=3, label_dim=0, parents=None):
        super().__init__(options, resolution, img_channels, label_dim, parents)
        o = options
        names, losses = self.resolved_backbones()
        self.backbone_names = names
        self.backbones = nn.ModuleList(
            build_backbone(name, o.probe_resolution, o.probe_channels, o.probe_feature_dim) for name in names
        )
        dummy = torch.zeros(2, img_channels, resolution, resolution)
        self.cvD = nn.ModuleList(build_head(b, dummy) for b in self.backbones)
        self.cv_losses = losses
        k = len(o.backbones)
        self.cv_augment = nn.ModuleList(AugmentPipe() for _ in range(k)) if o.cv_augment == "ada" else None
        self.cv_ada = [
            AdaptiveP(target=o.cv_ada_target, interval=o.ada_interval, speed_kimg=o.ada_kimg) for _ in range(k)
        ]
        self._cv_signs = [[0.0, 0] for _ in range(k)]

    def resolved_backbones(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Backbone names and losses, ``selected`` entries taken from their selection input (its chosen backbone
        and the loss the selection's ``_s`` rule gave it, unless ``cv_losses`` names one)."""
        o = self.options
        names = list(o.backbones)
        chosen_losses = {}
        for k, name in enumerate(names):
            if name == VISION_SELECTED:
                record = self.parents.get(f"backbone{k}")
                if record is None or "selected" not in record.extra:
                    raise GanbenchError(
                        f"method vision_aided: backbones[{k}] is 'selected', so input backbone{k} must be a selection"
                    )
                names[k], chosen_losses[k] = record.extra["selected"], record.extra["loss"]
        losses = list(o.losses(tuple(names)))
        if not o.cv_losses:
            for k, loss in chosen_losses.items():
                losses[k] = loss
        return tuple(names), tuple(losses)

    # --- the interface ----------------------------------------------------------------------

    def input_state(self, part, state):
        """A backbone's weights file in its network's own names (an official Swin file in timm's)."""
        head, _, rest = part.partition(".")
        if head == "backbones" and rest.endswith(".net") and rest[: -len(".net")].isdigit():
            backbone = self.backbones[int(rest[: -len(".net")])]
            return backbone_state(backbone.spec.name, state, backbone.net)
        return state

    def trainable(self):
        return {**super().trainable(), "cvD": self.cvD}

    def optimizer_specs(self):
        o = self.options
        specs = super().optimizer_specs()
        specs["cvD"] = OptimizerSpec(o.d_lr * LAZY_RATIO, (o.betas[0] ** LAZY_RATIO, o.betas[1] ** LAZY_RATIO))
        return specs

    def accumulate_gradients(self, phase: Phase, batch, ctx):
        if phase.name == "cvDmain":
            return self._cv_d_main(batch.images, batch.labels, ctx)
        return super().accumulate_gradients(phase, batch, ctx)

    def end_step(self, ctx, batch_size):
        logged = super().end_step(ctx, batch_size)
        for k, (ada, signs) in enumerate(zip(self.cv_ada, self._cv_signs)):
            if signs[1]:
                ada.update(*signs)
                self._cv_signs[k] = [0.0, 0]
                if self.cv_augment is not None and ada.due:
                    p = ada.adjust(batch_size, all_reduce=lambda t: ctx.all_reduce_mean(t) * ctx.world_size)
                    self.cv_augment[k].p.fill_(p)
            if self.cv_augment is not None:
                logged[f"cv_augment_p{k}"] = float(self.cv_augment[k].p)
        return logged

    def get_extra_state(self):
        return {**super().get_extra_state(), "cv_ada": [a.state_dict() for a in self.cv_ada]}

    def set_extra_state(self, state):
        super().set_extra_state(state)
        for ada, s in zip(self.cv_ada, state.get("cv_ada", [])):
            ada.load_state_dict(s)

    # --- losses -----------------------------------------------------------------------------

    def warm(self, nimg: int) -> bool:
        """Whether the vision-aided losses are on (lambda = 1) at ``nimg`` real images shown."""
        return nimg >= self.options.warmup_kimg * 1000

    def _cv_input(self, k: int, images, ctx):
        o = self.options
        if o.cv_augment == "ada":
            return diff_augment(self.cv_augment[k](images, rng=ctx.rng), "cutout", rng=ctx.rng)
        if o.cv_augment == "diffaugment":
            return diff_augment(images, o.cv_diffaugment_policy, rng=ctx.rng)
        return images

    def _cv_logits(self, k: int, images, ctx, grad_through_backbone: bool):
        x = self._cv_input(k, images, ctx)
        with torch.set_grad_enabled(grad_through_backbone and torch.is_grad_enabled()):
            feats = self.backbones[k].features(x)
        if not grad_through_backbone:
            feats = [f.detach() for f in feats]
        return self.cvD[k](feats)

    def _g_main(self, real, labels, ctx, gain):
        fake, _ = self._generate(len(real), labels, ctx)
        loss = F.softplus(-self._discriminate(fake, labels, ctx)).mean()
        out = {"loss_G": loss.detach()}
        if self.warm(ctx.nimg):
            cv = sum(
                vision_loss(self._cv_logits(k, fake, ctx, True), self.cv_losses[k], "G").mean()
                for k in range(len(self.cvD))
            )
            loss = loss + self.options.cv_weight * cv
            out["loss_G_cv"] = cv.detach()
        (loss * gain).backward()
        return out

    def _cv_d_main(self, real, labels, ctx):
        with torch.no_grad():
            fake, _ = self._generate(len(real), labels, ctx)
        total, out = 0.0, {}
        warm = self.warm(ctx.nimg)
        for k in range(len(self.cvD)):
            fake_logits = self._cv_logits(k, fake, ctx, False)
            real_logits = self._cv_logits(k, real, ctx, False)
            lf = vision_loss(fake_logits, self.cv_losses[k], "fake").mean()
            lr = vision_loss(real_logits, self.cv_losses[k], "real").mean()
            total = total + lf + lr
            out[f"loss_cvD{k}_fake"], out[f"loss_cvD{k}_real"] = lf.detach(), lr.detach()
            if warm:  # ADA of the vision-aided branch adapts only after warm-up (§2.4)
                self._cv_signs[k][0] += real_logits[-1].detach().flatten(1).mean(1).sign().sum()
                self._cv_signs[k][1] += len(real)
        # During warm-up lambda = 0: the heads get zero gradients, exactly the official's multiplication by 0.
        (total * (self.options.cv_weight if warm else 0.0)).backward()
        return out

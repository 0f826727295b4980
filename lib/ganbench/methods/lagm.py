"""LAGM (ICLR 2022): learning to annotate part segmentation by gradient matching (research lagm.md §2).

A stage on a frozen generator (catalog input ``generator``; ``init_from: {G: generator:G_ema}``,
``frozen: [G]``), like the encoder. Its trained networks are

- the annotator A (:class:`FPNLabelBranch`, §2.2): the generator's per-block feature maps (StyleGAN2: one per
  synthesis block, after its conv1; StyleGAN v1: two, the block output and its raw conv1; ψ 0.7, cutoff 8,
  random noise; §2.1) to part logits at the image resolution;
- the student S (§2.3): the UNet of ``ganbench.nets.unet``, or DeepLabv3 (``ganbench.nets.deeplab``: its
  backbone starts from an ImageNet ResNet-101 weights file, the input ``backbone``, with
  ``init_from: {S.net.backbone: "backbone:."}``; matched parameters ``.*classifier.*``).

Each step runs two phases of the loop, in this order (§2.4):

1. ``Amain`` (updates A): on the labelled batch (x_l, y_l) of the experiment's train split (its first
   ``train_images``: the #labels) and on generated images x_g with soft labels p = softmax(A(F)),
   g_l = ∂CE(S(x_l), y_l)/∂Θ_m (detached) and g_g = ∂softCE(S(x_g), p)/∂Θ_m with ``create_graph=True``,
   so that the gradient-matching distance :func:`gradient_matching_distance` (g_g, g_l) reaches A through p
   (second order). Θ_m are the student's parameters whose names fully match ``gm_regex`` (UNet: all).
   A's gradients are ``nan_to_num``'d, as the original does.
2. ``Smain`` (updates S): fresh generated images, soft-label CE against the current A (eval mode, no
   gradient), on all of S.

Both optimisers are SGD (lr 1e-3, momentum 0.9) by default. S stays in train mode (batch norm) in both
phases; A is in train mode in its phase and in eval mode in the student's.

The original's output transform T is ``options.wide_crop`` (the cars: generated images and the annotator's
logits keep rows [R/8, 7R/8) and are resized back to R x R, nearest), applied to the student's generated images,
the soft labels and the generated pairs. Deviation: with several micro-batches per step (or
ranks), the A gradient is the mean of the per-micro-batch matching gradients, not the gradient of one
matching over the whole batch (the paper's batch of 2 + 2 fits one micro-batch).
"""

from __future__ import annotations

import re
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.data.preview import PALETTE
from ganbench.errors import GanbenchError
from ganbench.methods import register
from ganbench.methods.base import Batch, Method, OptimizerSpec, Phase, StepContext, parent_generator
from ganbench.methods.options import LAGMOptions
from ganbench.nets.deeplab import DeepLabV3
from ganbench.nets.unet import UNet

COS_EPS = 1e-6  # Dataset Condensation's distance_wb: 1 - <a, b> / (|a| |b| + eps)


def gradient_matching_distance(
    g_gen: Sequence[torch.Tensor], g_lab: Sequence[torch.Tensor], eps: float = COS_EPS
) -> torch.Tensor:
    """LAGM's gradient-matching loss (lagm.md §2.4: metric 'cosine', reduction 'mean').

    ``g_gen[p]`` and ``g_lab[p]`` are the gradients of matched parameter tensor p (same shapes). Per tensor,
    the gradient is viewed as rows per output channel: a 4-D conv weight (O, I, kh, kw) as (O, I*kh*kw), a
    3-D tensor as (O, rest), a 2-D linear weight (O, I) as it is; then

        d_p = (1/O) * sum_o [1 - <G_g[o], G_l[o]> / (|G_g[o]| |G_l[o]| + eps)].

    1-D tensors (biases, batch-norm affine) contribute 0 but count in P:

        L = (1/P) * sum_p d_p.

    Differentiable in ``g_gen`` (the annotator's path) and in ``g_lab``. Returns a scalar tensor.
    """
    if len(g_gen) != len(g_lab):
        raise ValueError(f"{len(g_gen)} generated-image gradients, {len(g_lab)} labelled-image gradients")
    if not g_gen:
        raise ValueError("no matched parameters")
    total = None
    for a, b in zip(g_gen, g_lab):
        if a.shape != b.shape:
            raise ValueError(f"gradient shapes differ: {tuple(a.shape)} and {tuple(b.shape)}")
        if a.ndim <= 1:
            continue  # counts in P, contributes 0
        a, b = a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)
        cos = (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1) + eps)
        d = (1 - cos).mean()
        total = d if total is None else total + d
    if total is None:
        total = g_gen[0].new_zeros(())
    return total / len(g_gen)


def soft_cross_entropy(logits: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
    """mean over pixels of -sum_k p_k log softmax(logits)_k; logits, probs [N, K, H, W]."""
    return -(probs * F.log_softmax(logits, dim=1)).sum(1).mean()


class FPNLabelBranch(nn.Module):
    """The annotator (lagm.md §2.2): feature maps [N, C_i, r_i, r_i] (lowest resolution first) -> logits
    [N, K, R, R] at the highest.

    A 1x1 lateral conv per map (C_i -> tmp, with bias); top-down: x = lat_0(f_0), then for each next map
    x = bilinear(x, size of f_i, align_corners=False) + lat_i(f_i); head: [3x3 conv tmp->tmp without bias,
    BN, ReLU] x 2, then a 3x3 conv tmp -> K with bias.
    """

    def __init__(self, in_channels: Sequence[int], num_classes: int, tmp_channels: int = 128):
        super().__init__()
        self.laterals = nn.ModuleList(nn.Conv2d(c, tmp_channels, 1) for c in in_channels)
        t = tmp_channels
        self.head = nn.Sequential(
            nn.Conv2d(t, t, 3, padding=1, bias=False),
            nn.BatchNorm2d(t),
            nn.ReLU(inplace=True),
            nn.Conv2d(t, t, 3, padding=1, bias=False),
            nn.BatchNorm2d(t),
            nn.ReLU(inplace=True),
            nn.Conv2d(t, num_classes, 3, padding=1),
        )

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        if len(features) != len(self.laterals):
            raise ValueError(f"the annotator reads {len(self.laterals)} feature maps, got {len(features)}")
        x = None
        for lateral, f in zip(self.laterals, features):
            y = lateral(f)
            if x is None:
                x = y
            else:
                if x.shape[-2:] != y.shape[-2:]:
                    x = F.interpolate(x, size=y.shape[-2:], mode="bilinear", align_corners=False)
                x = x + y
        return self.head(x)


def fit_to_resolution(
    img: torch.Tensor, features: list[torch.Tensor], resolution: int
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """A generator above the experiment's resolution: its image and every larger map resized down bilinearly
    (align_corners False), as the original does with face-34's 1024 px StyleGAN (lagm.md §2.1)."""

    def fit(x):
        if x.shape[-1] <= resolution:
            return x
        return F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False)

    return fit(img), [fit(f) for f in features]


def matched_parameters(module: nn.Module, regex: str) -> list[tuple[str, nn.Parameter]]:
    """The (name, parameter) pairs of ``module`` whose names fully match ``regex``, in module order."""
    pattern = re.compile(regex)
    return [(n, p) for n, p in module.named_parameters() if pattern.fullmatch(n)]


@register("lagm")
class LAGM(Method):
    Options = LAGMOptions

    def __init__(self, options: LAGMOptions, resolution: int, img_channels: int = 3, label_dim: int = 0, parents=None):
        super().__init__(options, resolution, img_channels, label_dim, parents)
        self.G = parent_generator(  # weights through init_from, frozen
            "lagm", self.parents, resolution, generator_resolution=options.generator_resolution
        )
        parent = self.parents["generator"]
        if parent.label_dim:
            raise GanbenchError(
                f"method lagm: the generator is conditional ({parent.label_dim} labels); "
                "the annotator needs an unconditional one"
            )
        if parent.img_channels != img_channels:
            raise GanbenchError(
                f"method lagm: the generator makes {parent.img_channels}-channel images, "
                f"the labelled images have {img_channels}"
            )
        annotations = self.parents.get("annotations")
        if annotations is None:
            raise GanbenchError("method lagm: needs the input 'annotations' (the labelled part masks)")
        self.classes = list(annotations.extra["classes"])
        self.num_classes = len(self.classes)
        channels = self.G.synthesis.feature_channels()  # one map per block (StyleGAN2), two (StyleGAN v1)
        self.A = FPNLabelBranch(channels, self.num_classes, options.tmp_channels)
        if options.student == "unet":
            self.S = UNet(img_channels, self.num_classes, options.base_channels)
        else:
            if img_channels != 3:
                raise GanbenchError(f"method lagm: the DeepLabv3 student reads RGB images, not {img_channels} channels")
            self.S = DeepLabV3(self.num_classes, options.deeplab_layers)
        self.matched = matched_parameters(self.S, options.matched_regex)
        if not self.matched:
            raise GanbenchError(
                f"method lagm: options.gm_regex {options.matched_regex!r} matches no parameter "
                f"of the {options.student} student"
            )

    # --- the loop's interface ------------------------------------------------------------------

    def trainable(self):
        return {"A": self.A, "S": self.S}

    def optimizer_specs(self):
        o = self.options
        if o.optimizer == "sgd":
            return {
                "A": OptimizerSpec(o.a_lr, kind="sgd", momentum=o.momentum),
                "S": OptimizerSpec(o.s_lr, kind="sgd", momentum=o.momentum),
            }
        return {"A": OptimizerSpec(o.a_lr, betas=(0.9, 0.999)), "S": OptimizerSpec(o.s_lr, betas=(0.9, 0.999))}

    def phases(self):
        return [Phase("Amain", "A"), Phase("Smain", "S")]  # one annotator step, then one student step

    @torch.no_grad()
    def generate(
        self, z: torch.Tensor, noise_mode: str = "random", rng=None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Images [N, C, R, R] in [-1, 1] and the feature maps of every synthesis block (lowest first) of the
        frozen generator, with the options' truncation."""
        self.G.eval()
        c = torch.zeros(len(z), 0, device=z.device)
        ws = self.G.mapping(
            z, c, truncation_psi=self.options.truncation_psi, truncation_cutoff=self.options.truncation_cutoff
        )
        img, features = self.G.synthesis(ws, noise_mode=noise_mode, rng=rng, return_features=True)
        img, features = fit_to_resolution(img, list(features.values()), self.resolution)  # lowest resolution first
        return self.transform(img), features

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """The original's output transform T (lagm.md §2.2) on generated images and the annotator's logits: with
        ``options.wide_crop`` (cars), rows [R/8, 7R/8) of the square frame, resized back to R x R (nearest)."""
        if not self.options.wide_crop:
            return x
        r = x.shape[-2]
        return F.interpolate(x[..., r // 8 : 7 * r // 8, :], size=x.shape[-2:], mode="nearest")

    def logits(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        """T(A(features)): the annotator's part logits [N, K, R, R] of the generated images ``generate`` returns."""
        return self.transform(self.A(features))

    def annotate(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        """The annotator's soft labels [N, K, R, R] (softmax of its transformed logits)."""
        return F.softmax(self.logits(features), dim=1)

    def _check_masks(self, parts: torch.Tensor) -> None:
        top = int(parts.max())
        if top >= self.num_classes or int(parts.min()) < 0:
            bad = top if top >= self.num_classes else int(parts.min())
            raise GanbenchError(
                f"method lagm: a part mask has class id {bad}, the annotations list "
                f"{self.num_classes} classes (0..{self.num_classes - 1})"
            )

    def matching_loss(
        self, images: torch.Tensor, parts: torch.Tensor, x_g: torch.Tensor, features: Sequence[torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """The annotator's objective on a labelled batch (images, parts) and generated images x_g with their
        generator features: ``loss_gm`` (differentiable in A, second order through S's matched gradients),
        and the two cross-entropies it matches (detached). S's parameters get no ``.grad`` from this."""
        params = [p for _, p in self.matched]
        was = [p.requires_grad for p in params]
        for p in params:  # gradients with respect to S are taken, not kept
            p.requires_grad_(True)
        try:
            loss_l = F.cross_entropy(self.S(images), parts)
            g_l = [g.detach() for g in torch.autograd.grad(loss_l, params)]
            loss_g = soft_cross_entropy(self.S(x_g), self.annotate(features))
            g_g = torch.autograd.grad(loss_g, params, create_graph=True)
            loss_gm = gradient_matching_distance(g_g, g_l)
        finally:
            for p, w in zip(params, was):
                p.requires_grad_(w)
        return {"loss_gm": loss_gm, "loss_labelled": loss_l.detach(), "loss_gen_A": loss_g.detach()}

    def accumulate_gradients(self, phase: Phase, batch: Batch, ctx: StepContext):
        n = len(batch)
        z = ctx.rng.randn(n, self.G.z_dim)
        x_g, features = self.generate(z, rng=ctx.rng)
        self.S.train()
        if phase.network == "A":
            self._check_masks(batch.parts)
            self.A.train()
            losses = self.matching_loss(batch.images, batch.parts, x_g, features)
            losses["loss_gm"].backward(inputs=[p for p in self.A.parameters() if p.requires_grad])
            for p in self.A.parameters():
                if p.grad is not None:  # as the original: a degenerate cosine must not stop the annotator
                    torch.nan_to_num_(p.grad, nan=0.0, posinf=0.0, neginf=0.0)
            return {k: v.detach() for k, v in losses.items()}
        self.A.eval()
        with torch.no_grad():
            probs = self.annotate(features)
        loss_s = soft_cross_entropy(self.S(x_g), probs)
        loss_s.backward()
        return {"loss_student": loss_s.detach()}

    # --- what a trained annotator stage offers ----------------------------------------------------

    @torch.no_grad()
    def label(self, z: torch.Tensor, rng=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Generated images [N, C, R, R] in [-1, 1] and their hard labels [N, R, R] (argmax of A's softmax)."""
        was = self.A.training
        self.A.eval()
        img, features = self.generate(z, noise_mode="random", rng=rng)
        labels = self.logits(features).argmax(1)
        self.A.train(was)
        return img, labels

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """The student's part class per pixel, (n, H, W) int64, of images in [-1, 1] (the stage-1 student is
        what LAGM scores on CelebA and Pascal, §1.3)."""
        return self.S(images).argmax(1)

    @torch.no_grad()
    def preview(self, fixed: Batch) -> torch.Tensor:
        """Rows of 8: generated images (fixed latents, constant noise), A's labels of them, S's labels of them;
        then real images, their true masks, S's labels of them."""
        k = self.options.preview_images
        device = fixed.images.device
        palette = torch.as_tensor(PALETTE, dtype=torch.float32, device=device) / 127.5 - 1

        def colour(labels):
            return palette[labels % len(palette)].permute(0, 3, 1, 2)

        was = self.A.training, self.S.training
        self.A.eval(), self.S.eval()
        z = torch.randn(k, self.G.z_dim, generator=torch.Generator().manual_seed(0)).to(device)
        x_g, features = self.generate(z, noise_mode="const")
        a_labels = self.logits(features).argmax(1)
        images, parts = fixed.images[:k], fixed.parts[:k]
        rows = []
        for i in range(0, k, 8):
            rows += [x_g[i : i + 8], colour(a_labels[i : i + 8]), colour(self.predict(x_g[i : i + 8]))]
        for i in range(0, len(images), 8):
            rows += [images[i : i + 8], colour(parts[i : i + 8]), colour(self.predict(images[i : i + 8]))]
        self.A.train(was[0]), self.S.train(was[1])
        return torch.cat(rows)

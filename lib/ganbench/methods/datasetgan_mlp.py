"""A DatasetGAN-style annotator (Zhang et al., CVPR 2021): LAGM's baseline "per-pixel MLP on the same G
features, trained on the same labelled images, labelling the same generated pairs" (issue 14).

A stage on a frozen generator, like :mod:`ganbench.methods.lagm` (``init_from: {G: generator:G_ema}``,
``frozen: [G]``). Its one trained network M is DatasetGAN's pixel classifier: every synthesis block's feature
map is upsampled bilinearly to the image resolution and concatenated (DatasetGAN's "bilinear" variant), and
per pixel ``Linear(C, 128), ReLU, BN, Linear(128, 32), ReLU, BN, Linear(32, K)`` (written as 1x1 convolutions,
which is the same per-pixel map), trained by cross-entropy with Adam 1e-3.

DatasetGAN labels *generated* images, whose latents it knows. LAGM's labelled images are real and are never
inverted (§2.4); to read G's features of them this baseline inverts each labelled image into W+ first
(``invert_steps`` Adam steps on the pixel MSE from the mean w, constant noise). The inversions are cached per
image content (the labelled set is a few images), so each image is inverted once per run; they are not saved,
a resumed run recomputes them. Deviations from DatasetGAN: one classifier, not an ensemble of 10, and no
uncertainty-based filtering of the pairs (LAGM filters none either), so that the two annotators differ only
in how they learn.
"""

from __future__ import annotations

import hashlib
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.data.preview import PALETTE
from ganbench.errors import GanbenchError
from ganbench.methods import register
from ganbench.methods.base import Batch, Method, OptimizerSpec, Phase, StepContext, parent_generator
from ganbench.methods.options import DatasetGANMLPOptions


class PixelMLP(nn.Module):
    """DatasetGAN's per-pixel classifier on concatenated feature maps [N, C, R, R] -> logits [N, K, R, R]."""

    def __init__(self, in_channels: int, num_classes: int, hidden: Sequence[int] = (128, 32)):
        super().__init__()
        a, b = hidden
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, a, 1),
            nn.ReLU(inplace=True),
            nn.BatchNorm2d(a),
            nn.Conv2d(a, b, 1),
            nn.ReLU(inplace=True),
            nn.BatchNorm2d(b),
            nn.Conv2d(b, num_classes, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def stack_features(features: Sequence[torch.Tensor], resolution: int) -> torch.Tensor:
    """Every map upsampled (bilinear, align_corners=False) to ``resolution`` and concatenated on channels."""
    size = (resolution, resolution)
    return torch.cat(
        [
            f if f.shape[-2:] == size else F.interpolate(f, size=size, mode="bilinear", align_corners=False)
            for f in features
        ],
        dim=1,
    )


@register("datasetgan_mlp")
class DatasetGANMLP(Method):
    Options = DatasetGANMLPOptions

    def __init__(self, options, resolution: int, img_channels: int = 3, label_dim: int = 0, parents=None):
        super().__init__(options, resolution, img_channels, label_dim, parents)
        self.G = parent_generator("datasetgan_mlp", self.parents, resolution)
        if self.parents["generator"].label_dim:
            raise GanbenchError(
                "method datasetgan_mlp: the generator is conditional; the annotator needs an unconditional one"
            )
        annotations = self.parents.get("annotations")
        if annotations is None:
            raise GanbenchError("method datasetgan_mlp: needs the input 'annotations' (the labelled part masks)")
        self.classes = list(annotations.extra["classes"])
        self.num_classes = len(self.classes)
        channels = sum(self.G.synthesis.feature_channels())
        self.M = PixelMLP(channels, self.num_classes, options.hidden)
        self._inverted: dict[bytes, torch.Tensor] = {}  # image content digest -> its W+ latent [num_ws, w_dim]

    def trainable(self):
        return {"M": self.M}

    def optimizer_specs(self):
        return {"M": OptimizerSpec(self.options.lr, betas=(0.9, 0.999))}

    def phases(self):
        return [Phase("Mmain", "M")]

    # --- features of generated and of labelled images ----------------------------------------------

    def _features(self, ws: torch.Tensor, noise_mode: str, rng=None) -> tuple[torch.Tensor, torch.Tensor]:
        img, features = self.G.synthesis(ws, noise_mode=noise_mode, rng=rng, return_features=True)
        return img, stack_features(list(features.values()), self.resolution)

    def invert(self, images: torch.Tensor) -> torch.Tensor:
        """W+ latents [N, num_ws, w_dim] whose images (constant noise) reconstruct ``images`` (MSE), each
        computed once per image content and cached."""
        keys = [hashlib.sha256(x.detach().cpu().numpy().tobytes()).digest() for x in images]
        todo = [i for i, k in enumerate(keys) if k not in self._inverted]
        if todo:
            self.G.eval()
            w_avg = self.G.mapping.w_avg.detach()
            ws = w_avg.expand(len(todo), self.G.num_ws, -1).clone().requires_grad_(True)
            optimizer = torch.optim.Adam([ws], lr=self.options.invert_lr)
            target = images[todo].detach()
            with torch.enable_grad():
                for _ in range(self.options.invert_steps):
                    optimizer.zero_grad(set_to_none=True)
                    loss = F.mse_loss(self.G.synthesis(ws, noise_mode="const"), target)
                    loss.backward(inputs=[ws])
                    optimizer.step()
            for i, w in zip(todo, ws.detach()):
                self._inverted[keys[i]] = w
        return torch.stack([self._inverted[k] for k in keys]).to(images.device)

    def accumulate_gradients(self, phase: Phase, batch: Batch, ctx: StepContext):
        top = int(batch.parts.max())
        if top >= self.num_classes or int(batch.parts.min()) < 0:
            raise GanbenchError(
                f"method datasetgan_mlp: a part mask has class id {top}, the annotations list "
                f"{self.num_classes} classes (0..{self.num_classes - 1})"
            )
        ws = self.invert(batch.images)
        with torch.no_grad():
            _, features = self._features(ws, "const")
        self.M.train()
        loss = F.cross_entropy(self.M(features), batch.parts)
        loss.backward()
        return {"loss_pixel": loss.detach()}

    # --- what a trained annotator offers (ganbench.data.generated_pairs) -----------------------------

    @torch.no_grad()
    def label(self, z: torch.Tensor, rng=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Generated images [N, C, R, R] in [-1, 1] and their hard labels [N, R, R] (argmax of M)."""
        was = self.M.training
        self.M.eval(), self.G.eval()
        c = torch.zeros(len(z), 0, device=z.device)
        o = self.options
        ws = self.G.mapping(z, c, truncation_psi=o.truncation_psi, truncation_cutoff=o.truncation_cutoff)
        img, features = self._features(ws, "random", rng)
        labels = self.M(features).argmax(1)
        self.M.train(was)
        return img, labels

    @torch.no_grad()
    def preview(self, fixed: Batch) -> torch.Tensor:
        """Rows of 8: generated images (fixed latents) and M's labels of them, then the real labelled images
        and their masks (M reads inversions of those, too slow to recompute for a figure)."""
        k = self.options.preview_images
        device = fixed.images.device
        palette = torch.as_tensor(PALETTE, dtype=torch.float32, device=device) / 127.5 - 1

        def colour(labels):
            return palette[labels % len(palette)].permute(0, 3, 1, 2)

        z = torch.randn(k, self.G.z_dim, generator=torch.Generator().manual_seed(0)).to(device)
        x_g, labels = self.label(z)
        images, parts = fixed.images[:k], fixed.parts[:k]
        rows = []
        for i in range(0, k, 8):
            rows += [x_g[i : i + 8], colour(labels[i : i + 8])]
        for i in range(0, len(images), 8):
            rows += [images[i : i + 8], colour(parts[i : i + 8])]
        return torch.cat(rows)

"""Frozen off-the-shelf backbones of the Vision-aided GAN discriminators (research visionaided.md §2.1).

Every backbone is built WITHOUT downloading (``pretrained=False`` / ``weights=None``); its weights are a pipeline
input (a file from a ``config/weights.yaml`` download rule) that the loop loads into ``<part>.net`` through the
experiment's ``init_from``. A :class:`Backbone` takes images in [-1, 1], maps them to [0, 1], resizes with
``mode="area"`` to the network's input size and normalises with the official mean/std, then returns

- ``features(x)``: the list the head reads (CLIP/DINO: two spatial token maps and the global embedding;
  the others: one spatial map), and
- ``pooled(x)``: the vector the linear probe reads (the ``pool`` output of the official code).

Registered names (``BACKBONES``): the official ``clip`` (open_clip ViT-B/32, QuickGELU, OpenAI weights),
``dino`` (timm ``vit_base_patch16_224.dino``), ``swin`` (timm ``swin_tiny_patch4_window7_224`` with the MoBY
weights, the file's ``model.encoder`` tensors), ``det_coco`` and ``seg_ade`` (the same timm Swin-T with the
``backbone`` tensors of SwinTransformer's COCO Cascade Mask R-CNN and ADE20k UperNet files; deviation: at 224 px,
not the official 256, because timm's Swin pads a 64/32/16/8 map after the cyclic shift and the official before it,
so only at 224, where nothing is padded, does timm compute the official network), ``vgg`` (torchvision VGG-16
features; deviation: the official uses antialiased-cnns' VGG-16 with filter 4, which is not on the package index
here, so torchvision's ImageNet VGG-16 stands in), and the offline candidates of the embedded default:
``probe`` (the trained probe of ``metrics.probe`` at its ``mid`` depth, R/4),
``probe_shallow`` (the same probe at ``down1``, R/2) and ``random`` (an untrained probe-shaped network with a
fixed seed: the negative control).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PROBE_WEIGHTS = "probe"  # not a weights.yaml entry: the pipeline's results/probe/probe.pt (rule train_probe)
RANDOM_SEED = 0  # the negative control's fixed initialisation


@dataclass(frozen=True)
class BackboneSpec:
    """One registered backbone. ``weights``: its config/weights.yaml entry (None: needs no file);
    ``source_part``: the prefix of its tensors in that file (``init_from: {<part>.net: "<role>:<source_part>"}``);
    ``multilevel``: the head is the multi-level ViT head (CLIP, DINO), else the conv head."""

    name: str
    input_size: int | None  # None: the probe's own resolution (options.probe_resolution)
    mean: tuple[float, float, float] | None
    std: tuple[float, float, float] | None
    weights: str | None
    source_part: str = "."
    multilevel: bool = False
    arch: dict = field(default_factory=dict)


# CLIP ViT-B/32 (open_clip "ViT-B-32-quickgelu" vision tower); DINO taps blocks 5, 9, 12; CLIP blocks 4, 8.
CLIP_ARCH = dict(image_size=224, patch_size=32, width=768, layers=12, heads=12, mlp_ratio=4.0, output_dim=512)
CLIP_TAPS = (4, 8)  # tokens after these resblocks (1-based), CLS dropped
DINO_TAPS = (4, 8, 11)  # 0-based block indices: outputs of blocks 5, 9, 12, normed
BACKBONES: dict[str, BackboneSpec] = {
    s.name: s
    for s in (
        BackboneSpec("clip", 224, CLIP_MEAN, CLIP_STD, "clip-vit-b-32", "visual", True, CLIP_ARCH),
        BackboneSpec("dino", 224, CLIP_MEAN, IMAGENET_STD, "dino-vitb16", ".", True),
        BackboneSpec("swin", 224, CLIP_MEAN, IMAGENET_STD, "moby-swin-t", "model.encoder"),
        BackboneSpec("det_coco", 224, IMAGENET_MEAN, IMAGENET_STD, "swin-t-det-coco", "backbone"),
        BackboneSpec("seg_ade", 224, IMAGENET_MEAN, IMAGENET_STD, "swin-t-seg-ade", "backbone"),
        BackboneSpec("vgg", 224, IMAGENET_MEAN, IMAGENET_STD, "vgg16", "."),
        BackboneSpec("probe", None, None, None, PROBE_WEIGHTS, "state"),
        BackboneSpec("probe_shallow", None, None, None, PROBE_WEIGHTS, "state"),
        BackboneSpec("random", None, None, None, None),
    )
}
OFFLINE = ("probe", "probe_shallow", "random")


def backbone_spec(name: str) -> BackboneSpec:
    from ganbench.errors import ConfigError

    if name not in BACKBONES:
        raise ConfigError(f"unknown backbone {name!r} (known: {', '.join(BACKBONES)})")
    return BACKBONES[name]


class ProbeTrunk(nn.Module):
    """The trunk of :class:`ganbench.metrics.probe.ProbeNet` (same module names, so the probe file's ``state``
    loads into it; its heads are ignored). ``depth`` ``mid`` taps the R/4 map, ``down1`` the R/2 map."""

    def __init__(self, channels=(32, 64, 128), feature_dim: int = 256, depth: str = "mid"):
        super().__init__()
        from ganbench.metrics.probe import _block

        c1, c2, c3 = channels
        self.depth = depth
        self.stem, self.down1, self.down2 = _block(3, c1), _block(c1, c2, 2), _block(c2, c3, 2)
        self.mid, self.down3 = _block(c3, c3), _block(c3, c3, 2)
        self.embed = nn.Linear(c3, feature_dim)

    def forward(self, x):
        f1 = self.down1(self.stem(x))
        if self.depth == "down1":
            return f1, f1.mean(dim=(2, 3))
        f2 = self.mid(self.down2(f1))
        return f2, F.relu(self.embed(self.down3(f2).mean(dim=(2, 3))))


class Backbone(nn.Module):
    """A frozen backbone: never trains, always in eval mode (``train()`` is a no-op)."""

    def __init__(self, spec: BackboneSpec, net: nn.Module, input_size: int):
        super().__init__()
        self.spec, self.net, self.input_size = spec, net, input_size
        if spec.mean is not None:
            self.register_buffer("mean", torch.tensor(spec.mean).view(1, 3, 1, 1), persistent=False)
            self.register_buffer("std", torch.tensor(spec.std).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True):
        return self  # frozen: batch-norm statistics and dropout never change

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """[-1, 1] images -> the network's input: area resize, then the official normalisation."""
        if x.shape[-1] != self.input_size or x.shape[-2] != self.input_size:
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="area")
        if self.spec.mean is None:
            return x  # the probe reads [-1, 1]
        return ((x * 0.5 + 0.5) - self.mean) / self.std

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        return _FEATURES[_family(self.spec.name)](self, self.prepare(x))[0]

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        return _FEATURES[_family(self.spec.name)](self, self.prepare(x))[1]


def _family(name: str) -> str:
    return "probe" if name in OFFLINE else "swin" if name in SWINS else name


SWINS = ("swin", "det_coco", "seg_ade")  # timm's Swin-T with files in the official SwinTransformer layout


def official_swin_state(state: dict[str, torch.Tensor], net: nn.Module) -> dict[str, torch.Tensor]:
    """A Swin state in the official SwinTransformer layout (downsampling at the end of a stage; mmdet's per-stage
    output norms ``norm0..3``) in timm's: timm's own ``checkpoint_filter_fn`` moves each downsampling to the start
    of the next stage, and the last stage's output norm becomes timm's final ``norm``. A timm state passes as is."""
    from timm.models.swin_transformer import checkpoint_filter_fn

    if "norm3.weight" in state and "norm.weight" not in state:
        state = {("norm." + k[len("norm3.") :] if k.startswith("norm3.") else k): v for k, v in state.items()}
        state = {k: v for k, v in state.items() if not k.startswith(("norm0.", "norm1.", "norm2."))}
    if "layers.0.downsample.reduction.weight" in state:
        state = checkpoint_filter_fn(state, net)
    return state


def backbone_state(name: str, state: dict[str, torch.Tensor], net: nn.Module) -> dict[str, torch.Tensor]:
    """The tensors of backbone ``name``'s weights file (already under its prefix) in its network's own names."""
    return official_swin_state(state, net) if name in SWINS else state


def load_backbone(backbone: "Backbone", state: dict[str, torch.Tensor], where: str) -> None:
    """Load a weights file's tensors (under the backbone's prefix) into ``backbone.net``, all of them or a
    one-line error: a half-loaded frozen backbone would silently be a different discriminator."""
    from ganbench.errors import GanbenchError

    state = backbone_state(backbone.spec.name, state, backbone.net)
    target = backbone.net.state_dict()
    missing = [k for k in target if k not in state]
    if missing:
        raise GanbenchError(
            f"{where}: no tensor {missing[0]!r} ({len(missing)} of {len(target)} missing) for backbone "
            f"{backbone.spec.name} under prefix {backbone.spec.source_part!r}: not its weights file?"
        )
    for k in target:
        if state[k].shape != target[k].shape:
            raise GanbenchError(
                f"{where}: {k} has shape {tuple(state[k].shape)}, {backbone.spec.name} needs {tuple(target[k].shape)}"
            )
    backbone.net.load_state_dict({k: state[k] for k in target})


def _clip(self: Backbone, x):
    v = self.net  # open_clip VisionTransformer: its own modules, run block by block to tap two of them
    x = v.conv1(x)
    x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
    cls = v.class_embedding.to(x.dtype) + torch.zeros(x.shape[0], 1, x.shape[-1], dtype=x.dtype, device=x.device)
    x = v.ln_pre(v.patch_dropout(torch.cat([cls, x], dim=1) + v.positional_embedding.to(x.dtype)))
    side = int(round((x.shape[1] - 1) ** 0.5))
    taps = []
    for i, block in enumerate(v.transformer.resblocks, start=1):
        x = block(x)
        if i in self.taps:
            taps.append(x[:, 1:].permute(0, 2, 1).reshape(x.shape[0], -1, side, side))
    embedding = v.ln_post(x[:, 0]) @ v.proj
    return [*taps, embedding], embedding


def _dino(self: Backbone, x):
    layers = self.net.get_intermediate_layers(x, n=self.taps, reshape=True, return_prefix_tokens=True, norm=True)
    maps = [spatial for spatial, _ in layers[:-1]]
    cls = layers[-1][1][:, 0]
    return [*maps, cls], cls


def _swin(self: Backbone, x):
    tokens = self.net.forward_features(x)  # timm Swin: (N, H, W, C) after the final norm
    fmap = tokens.permute(0, 3, 1, 2)
    return [fmap], fmap.mean(dim=(2, 3))


def _vgg(self: Backbone, x):
    fmap = self.net(x)
    return [fmap], fmap.mean(dim=(2, 3))


def _probe(self: Backbone, x):
    fmap, pooled = self.net(x)
    return [fmap], pooled


_FEATURES = {"clip": _clip, "dino": _dino, "swin": _swin, "vgg": _vgg, "probe": _probe}


def build_backbone(
    name: str, probe_resolution: int = 32, probe_channels=(32, 64, 128), probe_feature_dim: int = 256, arch=None
) -> Backbone:
    """The untrained network of backbone ``name`` in its official architecture (``arch`` overrides its keyword
    arguments: the tests build tiny ones). Nothing is downloaded; load the weights file into ``.net``."""
    spec = backbone_spec(name)
    kwargs = {**spec.arch, **(arch or {})}
    taps = tuple(kwargs.pop("taps", CLIP_TAPS if name == "clip" else DINO_TAPS))
    if name == "clip":
        from open_clip.model import QuickGELU
        from open_clip.transformer import VisionTransformer

        net = VisionTransformer(**kwargs, act_layer=QuickGELU)
        size = kwargs["image_size"]
    elif name == "dino":
        import timm

        net = timm.create_model("vit_base_patch16_224.dino", pretrained=False, num_classes=0, **kwargs)
        size = net.patch_embed.img_size[0]
    elif name in SWINS:
        import timm

        net = timm.create_model("swin_tiny_patch4_window7_224", pretrained=False, num_classes=0, **kwargs)
        size = net.patch_embed.img_size[0]
    elif name == "vgg":
        import torchvision

        net, size = torchvision.models.vgg16(weights=None).features, 224
    else:
        depth = "down1" if name == "probe_shallow" else "mid"
        if name == "random":
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(RANDOM_SEED)
                net = ProbeTrunk(probe_channels, probe_feature_dim, depth)
        else:
            net = ProbeTrunk(probe_channels, probe_feature_dim, depth)
        size = probe_resolution
    backbone = Backbone(spec, net, size)
    backbone.taps = taps
    return backbone


def selected_backbone_state(record: dict) -> dict[str, torch.Tensor]:
    """The state dict of ``.net`` of the backbone a selection record (metrics.backbone_selection) chose: its weights
    file's tensors under its prefix, or for ``random`` its fixed initialisation."""
    from ganbench.errors import GanbenchError
    from ganbench.train.inputs import InputFile, _with_prefix, source_state

    name = record["selected"]
    spec = backbone_spec(name)
    if spec.weights is None:
        return build_backbone(name, **record.get("probe_options", {})).net.state_dict()
    path = record["weights"]
    if path is None or not Path(path).is_file():
        raise GanbenchError(f"selection chose {name}, whose weights file {path} is missing")
    state = _with_prefix(source_state(InputFile(name, "weights", str(path), "")), spec.source_part)
    return backbone_state(name, state, build_backbone(name, **record.get("probe_options", {})).net)

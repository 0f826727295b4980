"""Every method's options: the dataclasses that the config's ``options:`` mappings become.

They live apart from the method modules so that the configuration is checked completely (unknown keys,
bad values, what the method cannot train) before any job runs, without importing torch: the Snakefile
validates on every invocation, and importing torch alone takes seconds. Each dataclass checks its own
values in ``__post_init__`` and, in ``check_experiment``, what depends on the rest of the experiment
(resolution, micro-batch); both raise a one-line ConfigError naming the key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ganbench.errors import ConfigError, did_you_mean

AUGMENTS = ("none", "ada", "diffaugment")
DIFFAUGMENT_POLICIES = ("color", "translation", "cutout")  # ganbench.augment.diffaugment.POLICIES (a test checks)
CREPS_CHUNK_PIXELS = 1 << 14  # batch x pixels per chunk of CREPS' per-pixel part: small chunks stay in cache


def parse_options(cls: type, options: dict, where: str = "options") -> Any:
    """Build the options dataclass ``cls`` from a config mapping; an unknown key or a bad value is a
    one-line ConfigError that names ``where.key``."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in options:
        if key not in fields:
            raise ConfigError(f"{where}.{key}: unknown option{did_you_mean(key, fields, 'options')}")
    try:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in options.items()})
    except ConfigError as exc:
        raise ConfigError(f"{where}.{exc}") from None


def _choice(key: str, value, choices) -> None:
    if value not in choices:
        shown = ", ".join(map(str, choices))
        raise ConfigError(f"{key}: unknown value {value!r} (expected one of: {shown})")


def _positive(obj, *keys: str, allow_zero: bool = False) -> None:
    for key in keys:
        value = getattr(obj, key)
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or value < 0
            or (value == 0 and not allow_zero)
        ):
            need = "a number >= 0" if allow_zero else "a positive number"
            raise ConfigError(f"{key}: expected {need}, got {value!r}")


def is_power_of_two(n: int) -> bool:
    return isinstance(n, int) and n >= 4 and n & (n - 1) == 0


@dataclass(frozen=True)
class StyleGAN2Options:
    """Defaults are config F of StyleGAN2 with the StyleGAN2-ADA training settings."""

    z_dim: int = 512
    w_dim: int = 512
    mapping_layers: int = 8
    channel_base: int = 32768
    channel_max: int = 512
    conv_clamp: float | None = None
    mbstd_group: int = 4
    g_lr: float = 0.002
    d_lr: float = 0.002
    betas: tuple[float, float] = (0.0, 0.99)
    r1_gamma: float = 10.0
    g_reg_interval: int = 4
    d_reg_interval: int = 16
    pl_weight: float = 2.0
    pl_batch_shrink: int = 2
    pl_decay: float = 0.01
    style_mixing: float = 0.9
    augment: str = "ada"
    augment_p: float = 0.0  # initial (ADA) or fixed (ada with ada_target null) probability
    ada_target: float | None = 0.6
    ada_interval: int = 4
    ada_kimg: float = 500
    diffaugment_policy: str = "color,translation,cutout"
    truncation_psi: float = 1.0  # for samples

    def __post_init__(self):
        _choice("augment", self.augment, AUGMENTS)
        _positive(
            self,
            "z_dim",
            "w_dim",
            "channel_base",
            "channel_max",
            "mbstd_group",
            "g_lr",
            "d_lr",
            "g_reg_interval",
            "d_reg_interval",
            "pl_batch_shrink",
            "ada_interval",
            "ada_kimg",
        )
        _positive(
            self,
            "mapping_layers",
            "r1_gamma",
            "pl_weight",
            "style_mixing",
            "augment_p",
            "truncation_psi",
            allow_zero=True,
        )
        for op in filter(None, (op.strip() for op in self.diffaugment_policy.split(","))):
            _choice("diffaugment_policy", op, DIFFAUGMENT_POLICIES)

    def check_experiment(self, resolution: int, micro_batch: int) -> str | None:
        """Why this experiment cannot train (key: reason), or None. The StyleGAN2 networks double the
        resolution block by block from 4x4; the discriminator's minibatch-stddev groups must tile the
        micro-batch it sees (see nets.layers.MinibatchStdLayer)."""
        if not is_power_of_two(resolution):
            return f"resolution: {resolution} is not a power of two >= 4 (StyleGAN2-family networks need one)"
        group = min(self.mbstd_group, micro_batch)
        if micro_batch % group:
            return (
                f"batch: the micro-batch of {micro_batch} images per rank is not a multiple of "
                f"options.mbstd_group {self.mbstd_group}"
            )
        return None


@dataclass(frozen=True)
class StyleGAN1Options(StyleGAN2Options):
    """StyleGAN (v1) generator (``ganbench.nets.stylegan1``) with the StyleGAN2 discriminator and losses; the
    widths of the released v1 networks (channel_base 16384), no path-length regularisation (v1 has none)."""

    channel_base: int = 16384
    pl_weight: float = 0.0


@dataclass(frozen=True)
class CREPSOptions(StyleGAN2Options):
    """``channel_base``/``channel_max`` are the generator's; the discriminator has its own (``--cfg=creps``)."""

    channel_base: int = 65536
    channel_max: int = 1024
    d_channel_base: int = 32768
    d_channel_max: int = 512
    conv_clamp: float | None = 256
    style_mixing: float = 0.0
    rank: int = 8  # rank of each bi-line (slots per line)
    bandwidth: float = 10.0  # std of the Fourier input's frequencies
    fp16_refine: bool = True  # the two per-pixel refinement blocks in fp16 on CUDA, as upstream
    chunk_pixels: int = CREPS_CHUNK_PIXELS  # batch x pixels per chunk of the per-pixel part when sampling

    def __post_init__(self):
        super().__post_init__()
        _positive(self, "d_channel_base", "d_channel_max", "rank", "bandwidth", "chunk_pixels")


@dataclass(frozen=True)
class EncoderOptions:
    """The inversion encoder of a frozen generator (``ganbench.methods.encoder``): a residual CNN from an
    image to one w, trained on the generator's own samples (w is known) and on real images (through the
    frozen generator, reconstruction only)."""

    channels: int = 64  # first conv's channels, doubled at each downsampling, capped at channel_max
    channel_max: int = 256
    lr: float = 0.002
    betas: tuple[float, float] = (0.9, 0.99)
    w_weight: float = 1.0  # regression of the known w of generated images
    image_weight: float = 1.0  # pixel reconstruction of generated images
    real_weight: float = 1.0  # pixel reconstruction of real images through the frozen G
    preview_images: int = 8  # real images (and their reconstructions) in each preview grid

    def __post_init__(self):
        _positive(self, "channels", "channel_max", "lr", "preview_images")
        _positive(self, "w_weight", "image_weight", "real_weight", allow_zero=True)

    def check_experiment(self, resolution: int, micro_batch: int) -> str | None:
        if not is_power_of_two(resolution):
            return f"resolution: {resolution} is not a power of two >= 4 (the encoder halves it down to 4x4)"
        return None


SEGMENTER_ARCHS = ("unet", "deeplabv3")


@dataclass(frozen=True)
class SegmenterOptions:
    """A supervised part segmenter (``ganbench.methods.segmenter``), trained by the loop on images and their
    part masks: LAGM's downstream network (§2.5: Adam 1e-3) and its labelled-only baseline."""

    arch: str = "unet"  # or deeplabv3 (the DatasetGAN comparison's DeepLab rows; its backbone is an input)
    base_channels: int = 64  # UNet width: 64 is the paper's (milesial UNet); the embedded default is smaller
    deeplab_layers: tuple[int, int, int, int] = (3, 4, 23, 3)  # DeepLabv3's ResNet blocks per stage: ResNet-101
    num_classes: int | None = None  # None: the classes of the training annotations
    lr: float = 0.001
    betas: tuple[float, float] = (0.9, 0.999)
    preview_images: int = 8

    def __post_init__(self):
        _choice("arch", self.arch, SEGMENTER_ARCHS)
        _positive(self, "base_channels", "lr", "preview_images")
        if self.num_classes is not None:
            _positive(self, "num_classes")
        if (
            not isinstance(self.deeplab_layers, tuple)
            or len(self.deeplab_layers) != 4
            or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in self.deeplab_layers)
        ):
            raise ConfigError(f"deeplab_layers: expected 4 positive integers, got {self.deeplab_layers!r}")

    def check_experiment(self, resolution: int, micro_batch: int) -> str | None:
        if self.arch == "deeplabv3" and micro_batch < 2:
            return "batch: DeepLabv3 needs at least 2 images per micro-batch (train-mode batch norm in ASPP pooling)"
        if self.arch == "unet" and resolution % 16:
            return f"resolution: {resolution} is not a multiple of 16 (the UNet pools four times)"
        return None


LAGM_STUDENTS = ("unet", "deeplabv3")
LAGM_OPTIMIZERS = ("sgd", "adam")  # the original's --opt: sgd (its configs) or adam (no momentum)
LAGM_DEFAULT_GM_REGEX = {"unet": ".*", "deeplabv3": ".*classifier.*"}  # research lagm.md §1.1, §2.3


@dataclass(frozen=True)
class LAGMOptions:
    """LAGM's annotator stage (``ganbench.methods.lagm``, research lagm.md §2): an FPN annotator A on the
    frozen generator's block features and a student segmenter S, A trained by gradient matching against the
    labelled images, S on A's soft labels of generated images. Defaults are the paper's configs (SGD 1e-3,
    momentum 0.9 for both; FPN 128 channels; psi 0.7, cutoff 8)."""

    student: str = "unet"
    base_channels: int = 64  # UNet width (64: the paper's milesial UNet)
    deeplab_layers: tuple[int, int, int, int] = (3, 4, 23, 3)  # DeepLabv3's ResNet blocks per stage: ResNet-101
    tmp_channels: int = 128  # the annotator's FPN width
    gm_regex: str | None = None  # student parameters matched (re.fullmatch on names); None: the student's default
    optimizer: str = "sgd"
    a_lr: float = 0.001
    s_lr: float = 0.001
    momentum: float = 0.9  # sgd only
    truncation_psi: float = 0.7
    truncation_cutoff: int | None = 8  # 7 for cats, horses, aeroplanes
    preview_images: int = 8
    # a generator above the experiment's resolution (face-34's StyleGAN at 1024 for 512): its image and its
    # larger feature maps are resized down bilinearly (lagm.md §2.1); None: the experiment's resolution
    generator_resolution: int | None = None
    wide_crop: bool = False  # the car transform T: generated images and labels keep rows [R/8, 7R/8), resized back

    def __post_init__(self):
        _choice("student", self.student, LAGM_STUDENTS)
        if not isinstance(self.wide_crop, bool):
            raise ConfigError(f"wide_crop: expected true or false, got {self.wide_crop!r}")
        if self.generator_resolution is not None:
            _positive(self, "generator_resolution")
        _choice("optimizer", self.optimizer, LAGM_OPTIMIZERS)
        _positive(self, "base_channels", "tmp_channels", "a_lr", "s_lr", "preview_images")
        _positive(self, "momentum", "truncation_psi", allow_zero=True)
        if self.truncation_cutoff is not None:
            _positive(self, "truncation_cutoff")
        if (
            not isinstance(self.deeplab_layers, tuple)
            or len(self.deeplab_layers) != 4
            or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in self.deeplab_layers)
        ):
            raise ConfigError(f"deeplab_layers: expected 4 positive integers, got {self.deeplab_layers!r}")
        if self.momentum >= 1:
            raise ConfigError(f"momentum: expected a number in [0, 1), got {self.momentum!r}")
        if self.gm_regex is not None:
            import re

            try:
                re.compile(self.gm_regex)
            except re.error as exc:
                raise ConfigError(f"gm_regex: {self.gm_regex!r} is not a regular expression ({exc})") from None

    @property
    def matched_regex(self) -> str:
        return self.gm_regex if self.gm_regex is not None else LAGM_DEFAULT_GM_REGEX[self.student]

    def check_experiment(self, resolution: int, micro_batch: int) -> str | None:
        if self.generator_resolution is not None and (
            self.generator_resolution <= resolution
            or self.generator_resolution % resolution
            or (self.generator_resolution // resolution) & (self.generator_resolution // resolution - 1)
        ):
            return (
                f"options.generator_resolution: {self.generator_resolution} is not the resolution {resolution} "
                "times a power of two (the generator's images are resized down to the experiment's)"
            )
        if self.student == "unet" and resolution % 16:
            return f"resolution: {resolution} is not a multiple of 16 (the UNet student pools four times)"
        if micro_batch < 2:
            return "batch: LAGM needs at least 2 images per micro-batch (train-mode batch norm in the student)"
        return None


def check_patch_sizes(full: tuple[int, int], macro: tuple[int, int], micro: int, cylindrical: bool) -> None:
    """COCO-GAN's lattice (research cocogan.md §2.1, §2.8) needs macro patches made of whole micro patches,
    images tiled by micro patches and larger than a macro patch, and a panorama width that the macro step
    (one micro patch) divides; each failure is a one-line ConfigError. (Torch-free, for config validation;
    ``ganbench.nets.coco_coords.PatchLattice`` calls it.)"""
    if micro < 1:
        raise ConfigError(f"micro_size: expected a positive number, got {micro}")
    for axis, name in ((0, "height"), (1, "width")):
        if macro[axis] % micro:
            raise ConfigError(
                f"macro_size: the macro patch {name} {macro[axis]} is not a multiple of micro_size {micro}"
            )
        if axis == 1 and cylindrical and full[1] % micro:
            raise ConfigError(
                f"width: panorama width {full[1]} is not a multiple of the macro step {micro} "
                "(the cylindrical lattice moves the macro patch by one micro patch)"
            )
        if full[axis] % micro or full[axis] <= macro[axis]:
            raise ConfigError(
                f"resolution: an image {name} of {full[axis]} px is not tiled by the {macro[axis] // micro}x{micro} "
                f"px lattice (it must be a multiple of micro_size {micro} and larger than the macro patch "
                f"{macro[axis]})"
            )


COCOGAN_COORDINATE_SYSTEMS = ("euclidean", "cylindrical")
COCOGAN_CBN_FORMS = ("fixed", "official")  # ganbench.nets.cocogan.CBN_FORMS
COCOGAN_GP_FORMS = ("official", "per_sample")


@dataclass(frozen=True)
class COCOGANOptions:
    """COCO-GAN (``ganbench.methods.cocogan``, research cocogan.md §1.3, §2.5). Defaults are the official
    configs': z 128 ~ U(-1, 1), ngf = ndf = 64, aux 128, WGAN-GP lambda 10, coordinate loss x100, TTUR Adam
    (G 1e-4, D 4e-4, Q 1e-4, betas (0, 0.999)), one D step per G step. ``macro_size`` (the S of N2M2S32) and
    ``micro_size`` give N = M = S / micro; ``width`` makes the full image wider than ``resolution`` (a
    panorama; default square). ``code_loss_w`` > 0 adds Q (patch-guided generation, official 100)."""

    macro_size: int = 32
    micro_size: int = 16
    width: int | None = None
    coordinate_system: str = "euclidean"
    z_dim: int = 128
    ngf: int = 64
    ndf: int = 64
    g_extra_layers: int = 0
    d_extra_layers: int = 0
    aux_dim: int = 128
    cbn: str = "fixed"  # fixed: textbook CBN (a deviation); official: the TF code's var**2 and no +1 on gamma
    gp_form: str = "official"  # official: per-element alpha, norm over the height axis; per_sample: WGAN-GP's
    gp_lambda: float = 10.0
    coord_loss_w: float = 100.0
    code_loss_w: float = 0.0
    g_lr: float = 1e-4
    d_lr: float = 4e-4
    q_lr: float = 1e-4
    betas: tuple[float, float] = (0.0, 0.999)
    extrap_steps: int = 0  # macro steps past each border in the extrapolation phases (the extrapolation stage)
    roll_augment: bool = True  # cylindrical only: one random circular roll of the real batch per step
    preview_images: int = 8  # patch-guided reconstructions in the preview (with Q)

    def __post_init__(self):
        _choice("coordinate_system", self.coordinate_system, COCOGAN_COORDINATE_SYSTEMS)
        _choice("cbn", self.cbn, COCOGAN_CBN_FORMS)
        _choice("gp_form", self.gp_form, COCOGAN_GP_FORMS)
        _positive(self, "macro_size", "micro_size", "z_dim", "ngf", "ndf", "aux_dim", "g_lr", "d_lr", "q_lr")
        _positive(self, "preview_images")
        _positive(self, "g_extra_layers", "d_extra_layers", "gp_lambda", "coord_loss_w", "code_loss_w", allow_zero=True)
        _positive(self, "extrap_steps", allow_zero=True)
        if self.width is not None:
            _positive(self, "width")
        if not is_power_of_two(self.micro_size):
            raise ConfigError(f"micro_size: {self.micro_size} is not a power of two >= 4 (G upsamples from 2x2)")
        if self.macro_size % self.micro_size:
            raise ConfigError(f"macro_size: {self.macro_size} is not a multiple of micro_size {self.micro_size}")
        if not is_power_of_two(self.macro_size) or self.macro_size < 8:
            raise ConfigError(f"macro_size: {self.macro_size} is not a power of two >= 8 (D pools it down to 4x4)")
        if self.extrap_steps and self.coordinate_system == "cylindrical":
            raise ConfigError("extrap_steps: the cylindrical system has no border to extrapolate past")

    def check_experiment(self, resolution: int, micro_batch: int) -> str | None:
        """Why the N x M x S lattice cannot train at ``resolution`` (key: reason), or None."""
        try:
            check_patch_sizes(
                (resolution, self.width or resolution),
                (self.macro_size, self.macro_size),
                self.micro_size,
                self.coordinate_system == "cylindrical",
            )
        except ConfigError as exc:
            return str(exc)
        if micro_batch < 2:
            return "batch: COCO-GAN needs at least 2 images per micro-batch (batch norm in its prediction heads)"
        return None


@dataclass(frozen=True)
class COCOGANExtrapOptions(COCOGANOptions):
    """The beyond-boundary extrapolation stage (§2.7): one extra macro step past every border and the
    coordinate loss weight 1e4 of the official LSUN extrapolation config; the architecture must be the parent's."""

    extrap_steps: int = 1
    coord_loss_w: float = 10000.0

    def __post_init__(self):
        super().__post_init__()
        if self.extrap_steps < 1:
            raise ConfigError("extrap_steps: the extrapolation stage needs at least 1")


@dataclass(frozen=True)
class DatasetGANMLPOptions:
    """The DatasetGAN-style annotator baseline (``ganbench.methods.datasetgan_mlp``): a per-pixel MLP on the
    frozen generator's block features (upsampled to the image and concatenated, DatasetGAN's "bilinear"), on
    the same labelled images as LAGM, whose features come from inverting each image into W+ first
    (DatasetGAN annotates generated images, whose latents it knows; real labelled images need an inversion)."""

    hidden: tuple[int, int] = (128, 32)  # DatasetGAN's pixel_classifier for fewer than 32 classes
    lr: float = 0.001  # DatasetGAN: Adam 1e-3
    invert_steps: int = 200  # Adam steps of the per-image W+ inversion (MSE), from the mean w
    invert_lr: float = 0.05
    truncation_psi: float = 0.7  # of the generated images it labels (as LAGM's)
    truncation_cutoff: int | None = 8
    preview_images: int = 8

    def __post_init__(self):
        if (
            not isinstance(self.hidden, tuple)
            or len(self.hidden) != 2
            or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in self.hidden)
        ):
            raise ConfigError(f"hidden: expected 2 positive integers, got {self.hidden!r}")
        _positive(self, "lr", "invert_steps", "invert_lr", "preview_images")
        _positive(self, "truncation_psi", allow_zero=True)
        if self.truncation_cutoff is not None:
            _positive(self, "truncation_cutoff")

    def check_experiment(self, resolution: int, micro_batch: int) -> str | None:
        if micro_batch < 2:
            return "batch: the pixel MLP needs at least 2 images per micro-batch (batch norm)"
        return None


VISION_AUGMENTS = ("ada", "diffaugment", "none")
# nets.backbones (a test checks)
VISION_BACKBONES = ("clip", "dino", "swin", "det_coco", "seg_ade", "vgg", "probe", "probe_shallow", "random")
VISION_LOSSES = ("sigmoid", "sigmoid_s", "multilevel_sigmoid", "multilevel_sigmoid_s", "hinge", "multilevel_hinge")
VISION_MAX_BACKBONES = 3  # the catalog's inputs backbone0..backbone2
# backbone -> its weights: a config/weights.yaml entry, "probe" (results/probe/probe.pt) or None (nets.backbones)
VISION_BACKBONE_WEIGHTS = {
    "clip": "clip-vit-b-32",
    "dino": "dino-vitb16",
    "swin": "moby-swin-t",
    "det_coco": "swin-t-det-coco",
    "seg_ade": "swin-t-seg-ade",
    "vgg": "vgg16",
    "probe": "probe",
    "probe_shallow": "probe",
    "random": None,
}
VISION_SELECTED = "selected"  # options.backbones[k]: the backbone that input backbone<k> (a selection) chose


@dataclass(frozen=True)
class VisionAidedOptions(StyleGAN2Options):
    """StyleGAN2-ADA plus one vision-aided discriminator per entry of ``backbones`` (research visionaided.md §2):
    a trainable head on a frozen backbone, its loss from ``cv_losses`` (one per backbone; empty: the selection
    driver's rule, multilevel_sigmoid for clip/dino, sigmoid otherwise, ``_s`` if ``smooth``), its own
    augmentation (``cv_augment``: ADA with its own p and target 0.3, plus cutout, or DiffAugment), off while
    fewer than ``warmup_kimg`` thousand real images have been shown."""

    backbones: tuple[str, ...] = ("probe",)
    cv_losses: tuple[str, ...] = ()
    smooth: bool = True
    cv_augment: str = "ada"
    cv_ada_target: float = 0.3
    cv_diffaugment_policy: str = "color,translation,cutout"
    cv_weight: float = 1.0
    warmup_kimg: float = 0.0
    probe_resolution: int = 32
    probe_channels: tuple[int, int, int] = (32, 64, 128)
    probe_feature_dim: int = 256

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.backbones, tuple) or not 1 <= len(self.backbones) <= VISION_MAX_BACKBONES:
            raise ConfigError(f"backbones: expected 1 to {VISION_MAX_BACKBONES} backbone names, got {self.backbones!r}")
        for name in self.backbones:
            _choice("backbones", name, (*VISION_BACKBONES, VISION_SELECTED))
        named = [b for b in self.backbones if b != VISION_SELECTED]
        if len(set(named)) != len(named):
            raise ConfigError(f"backbones: {self.backbones!r} names a backbone twice")
        if self.cv_losses and len(self.cv_losses) != len(self.backbones):
            raise ConfigError(
                f"cv_losses: {len(self.cv_losses)} losses for {len(self.backbones)} backbones (one each, or none)"
            )
        for loss in self.cv_losses:
            _choice("cv_losses", loss, VISION_LOSSES)
        _choice("cv_augment", self.cv_augment, VISION_AUGMENTS)
        _positive(self, "probe_resolution", "probe_feature_dim")
        _positive(self, "cv_weight", "warmup_kimg", "cv_ada_target", allow_zero=True)
        for op in filter(None, (op.strip() for op in self.cv_diffaugment_policy.split(","))):
            _choice("cv_diffaugment_policy", op, DIFFAUGMENT_POLICIES)

    def check_run(self, kimg: float) -> str | None:
        if self.warmup_kimg >= kimg:
            return (
                f"options.warmup_kimg: the warm-up of {self.warmup_kimg} kimg is not shorter than the run "
                f"({kimg} kimg): the vision-aided discriminators would never train"
            )
        return None

    def losses(self, backbones: tuple[str, ...] | None = None) -> tuple[str, ...]:
        """One loss per backbone (``backbones``: the resolved names, where some were ``selected``)."""
        if self.cv_losses:
            return self.cv_losses
        multilevel = ("clip", "dino")
        base = ["multilevel_sigmoid" if b in multilevel else "sigmoid" for b in backbones or self.backbones]
        return tuple(b + ("_s" if self.smooth else "") for b in base)


PERCEPTUAL_KINDS = ("lpips_vgg", "probe")  # ganbench.nets.perceptual.PERCEPTUAL_KINDS (a test checks)


@dataclass(frozen=True)
class CoordGANOptions:
    """CoordGAN (``ganbench.methods.coordgan``), defaults as the official configs (research coordgan.md §1.3-1.4,
    §2.6). Schedules count iterations (steps), as the official code does at its global batch of 16."""

    z_dim: int = 512
    w_dim: int = 512
    mapping_layers: int = 8
    channels: int = 512  # texture branch width at the coordinate resolution
    num_blocks: int = 5  # texture blocks after the first conv
    warp_hidden: int = 512
    coord_resolution: int = 128  # the canonical grid's side (the image is 1, 2 or 4 times it)
    d_channel_base: int = 32768
    d_channel_max: int = 512
    mbstd_group: int = 4
    g_lr: float = 0.002 * 4 / 5  # the official g_reg_every=4 ratio, with no G regulariser
    g_betas: tuple[float, float] = (0.0, 0.99 ** (4 / 5))
    d_lr: float = 0.002  # the loop applies the lazy-R1 ratio 16/17 to lr and betas
    d_betas: tuple[float, float] = (0.0, 0.99)
    gan_weight: float = 2.0
    gan_warmup_iters: int = 10000  # weight max(i / warmup, 1 / gan_weight) * gan_weight
    patch_weight: float = 1.0
    patch_start_iters: int = 10000  # patch (structure swap) losses and patch R1 off before this
    swap_weight: float = 5.0  # texture-swap perceptual loss
    warp_weight: float = 5.0
    swap_warmup_iters: int = 20000  # texture-swap and warp weights ramp min(i / warmup, 1)
    chamfer_weight: float = 200.0
    warp_tau: float = 0.01
    r1_gamma: float = 10.0
    patch_r1_gamma: float = 1.0
    d_reg_interval: int = 16
    patch_size: int = 32
    patch_min_scale: float = 0.125
    patch_max_scale: float = 0.25
    num_crops: int = 8
    patch_channels: tuple[int, ...] = (64, 128, 256, 256)
    perceptual: str = "lpips_vgg"  # or "probe": the probe's features stand in for LPIPS (offline)
    probe_channels: tuple[int, int, int] = (32, 64, 128)
    probe_resolution: int = 32

    def __post_init__(self):
        _choice("perceptual", self.perceptual, PERCEPTUAL_KINDS)
        _positive(self, "z_dim", "w_dim", "mapping_layers", "channels", "warp_hidden", "coord_resolution")
        _positive(self, "d_channel_base", "d_channel_max", "mbstd_group", "g_lr", "d_lr", "warp_tau")
        _positive(self, "d_reg_interval", "patch_size", "num_crops", "probe_resolution", "patch_min_scale")
        _positive(
            self,
            "num_blocks",
            "gan_weight",
            "gan_warmup_iters",
            "patch_weight",
            "patch_start_iters",
            "swap_weight",
            "warp_weight",
            "swap_warmup_iters",
            "chamfer_weight",
            "r1_gamma",
            "patch_r1_gamma",
            allow_zero=True,
        )
        if not self.patch_min_scale <= self.patch_max_scale <= 1:
            raise ConfigError(
                f"patch_max_scale: expected patch_min_scale <= patch_max_scale <= 1, got "
                f"{self.patch_min_scale} and {self.patch_max_scale}"
            )
        if (
            self.patch_size % 2 ** (len(self.patch_channels) - 1)
            or self.patch_size // 2 ** (len(self.patch_channels) - 1) < 3
        ):
            raise ConfigError(
                f"patch_size: {self.patch_size} must be a multiple of 2^{len(self.patch_channels) - 1} and leave "
                f">= 3 pixels after the patch D's downsamplings"
            )

    def check_experiment(self, resolution: int, micro_batch: int) -> str | None:
        if micro_batch % 2:
            return f"batch: CoordGAN pairs samples (2k, 2k+1); the micro-batch of {micro_batch} images is odd"
        if resolution not in (self.coord_resolution * f for f in (1, 2, 4)):
            return f"resolution: {resolution} is not 1, 2 or 4 times options.coord_resolution {self.coord_resolution}"
        group = min(self.mbstd_group, micro_batch)
        if micro_batch % group:
            return (
                f"batch: the micro-batch of {micro_batch} is not a multiple of options.mbstd_group {self.mbstd_group}"
            )
        return None


@dataclass(frozen=True)
class CoordGANEncoderOptions:
    """CoordGAN's encoder (``ganbench.methods.coordgan_encoder``, research coordgan.md §2.7): residual trunk to an
    8x8 spatial code (structure w_s through one FC layer) and a global code (one FC head per W+ slot)."""

    channels: int = 32  # after FromRGB; doubled by each residual block down to 8x8, capped at channel_max
    channel_max: int = 512
    spatial_channels: int = 64  # the 8x8 structure code's channels (flattened into the w_s layer)
    global_channels: tuple[int, int] = (1024, 2048)  # the two stride-2 convs of the texture branch
    lr: float = 0.002 * 4 / 5
    betas: tuple[float, float] = (0.0, 0.99 ** (4 / 5))
    rec_weight: float = 10.0  # L1 reconstruction
    rec_perc_weight: float = 10.0  # perceptual reconstruction
    swap_weight: float = 5.0  # perceptual distance of x and G(swap(T), s)
    consistency_weight: float = 10.0  # L1 on w_s and on the coordinates of generated images
    perceptual: str = "lpips_vgg"  # or "probe" (offline stand-in)
    probe_channels: tuple[int, int, int] = (32, 64, 128)
    probe_resolution: int = 32
    preview_images: int = 8

    def __post_init__(self):
        _choice("perceptual", self.perceptual, PERCEPTUAL_KINDS)
        _positive(self, "channels", "channel_max", "spatial_channels", "lr", "probe_resolution", "preview_images")
        _positive(self, "rec_weight", "rec_perc_weight", "swap_weight", "consistency_weight", allow_zero=True)
        if len(self.global_channels) != 2 or not all(isinstance(c, int) and c > 0 for c in self.global_channels):
            raise ConfigError(f"global_channels: expected 2 positive integers, got {self.global_channels!r}")

    def check_experiment(self, resolution: int, micro_batch: int) -> str | None:
        if micro_batch % 2:
            return f"batch: the texture swap pairs images (2k, 2k+1); the micro-batch of {micro_batch} is odd"
        if not is_power_of_two(resolution) or resolution < 16:
            return f"resolution: {resolution} must be a power of two >= 16 (the encoder goes down to 8x8, then 2x2)"
        return None


@dataclass(frozen=True)
class COCOGANPanoramaOptions(COCOGANOptions):
    """COCO-GAN's panorama configuration (§2.8, MP3D_256x768_N2M2S128): the cylindrical system; ``width`` (the
    panorama's, a multiple of the micro size) is required."""

    coordinate_system: str = "cylindrical"

    def __post_init__(self):
        super().__post_init__()
        if self.coordinate_system != "cylindrical":
            raise ConfigError("coordinate_system: a panorama uses the cylindrical system")
        if self.width is None:
            raise ConfigError("width: a panorama needs its width (e.g. 3 x the resolution)")

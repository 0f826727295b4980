"""The method catalog: for every method and stage, what it consumes, what it produces, and what reads it.

One entry per registered method, importable without torch (the Snakefile reads it on every invocation).
The configuration schema's method names, the validation of an experiment's inputs, ``rule all``'s targets,
the evaluation jobs an experiment gets and the report's figures all derive from here, so adding a method
is its module (``ganbench.methods.<name>``), its options dataclass (``ganbench.methods.options``), its
entry below, and the rule file of any stage of its own.

Vocabulary:

- kind ``gan``: trained by the loop, samples images from seeds (``Method.sample``), evaluated by the
  configured GAN protocols. Kind ``stage``: trained by the same loop on top of other experiments
  (an encoder, an annotator, a segmenter); it previews (``Method.preview``) instead of sampling.
- ``provides``: what a child experiment may take from this one (``generator``: a trained G and its EMA;
  ``annotator``: labels for generated images, which a ``pairs`` dataset takes).
- ``inputs``: named roles an experiment fills under ``inputs:`` in the config, each with the kinds of
  source it accepts: ``run`` (another experiment's ``final.pt``, a real Snakemake input, so a changed
  parent reruns its children), ``best_fid`` (another experiment's best-FID snapshot, rule
  ``best_fid_snapshot``: the official start of a Vision-aided round), ``checkpoint`` (a ganbench checkpoint
  file, e.g. an imported release),
  ``weights`` (a pretrained weights file), ``annotations`` (a labelled dataset's ``annotations.h5``),
  ``selection`` (a ``selections:`` entry's result, results/selection/{name}.json: Vision-aided's chosen backbone),
  ``network`` (a released GAN of config/weights.yaml, imported by rule ``import_network``).
- ``init_from``: part -> ``role`` or ``role:part``; the part starts from that input's weights (loaded
  non-strictly: new layers keep their initialisation, and both lists are logged); ``role:.`` takes the
  input's whole state dict unprefixed (a plain weights file such as torchvision's).
- ``frozen``: parts (dotted module paths) that never train; parts frozen from an input are not copied
  into checkpoints, which record the input's sha256 instead.
- ``evaluations``: the evaluation groups the pipeline runs on a finished experiment: ``gan`` (the
  configured protocols), ``any_scale`` (FID per output scale, consistency, render cost),
  ``reconstruction`` (an encoder through its frozen generator, on the real test images), ``segmentation``
  (mIoU and FG-mIoU of a segmenter on the labelled test split), ``coordgan_swap`` (CoordGAN's texture-swap
  FID, swap distances and identity scores, metrics.coordgan).
- ``train_split``: the images a stage trains on: ``all``, or ``train`` (the annotations' split; the test
  images are kept for its evaluation).
- ``figures``: reports/figures/{experiment}-{figure}.png made for every experiment of the method.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ganbench.errors import ConfigError, did_you_mean
from ganbench.methods import options as opts

TRAIN_FORMATS = {"zip": "images.zip", "tfrecord": "images.tfrecord"}  # -> the file in results/data/{dataset}-{res}/
SOURCE_KINDS = ("run", "best_fid", "checkpoint", "weights", "annotations", "selection", "network")
EVALUATIONS = ("gan", "any_scale", "reconstruction", "segmentation", "cocogan", "correspondence", "coordgan_swap")
# Figure -> the report category it is filed under: reports/figures/{experiment}-{figure}.png
FIGURES = {
    "curves": "Training",
    "samples": "Samples",
    "preview": "Stage previews",
    "scales": "Any-scale synthesis",
    "extrapolation": "COCO-GAN extrapolation",
    "panorama": "COCO-GAN panoramas",
    "patch_guided": "COCO-GAN patch-guided generation",
    "swap_grid": "CoordGAN texture swaps",
    "label_propagation": "CoordGAN label propagation",
}


@dataclass(frozen=True)
class InputSpec:
    """A role an experiment's ``inputs:`` can fill."""

    sources: tuple[str, ...]  # accepted source kinds (SOURCE_KINDS)
    provides: str | None = None  # for run/checkpoint: what the parent method must provide
    required: bool = False
    help: str = ""


@dataclass(frozen=True)
class MethodEntry:
    name: str
    display: str  # the one spelling of the method in tables, figures and the report
    module: str  # registers the Method subclass under ``name``
    options: type  # the options dataclass (ganbench.methods.options)
    kind: str  # "gan" | "stage"
    parts: tuple[str, ...]  # the top-level networks (init_from and frozen name these or paths below them)
    paper: str | None = None  # research report / published.yaml paper key
    provides: tuple[str, ...] = ()
    inputs: dict[str, InputSpec] = field(default_factory=dict)
    init_from: dict[str, str] = field(default_factory=dict)  # defaults, the experiment's entries win
    frozen: tuple[str, ...] = ()  # defaults, added to the experiment's
    batch_fields: tuple[str, ...] = ("images",)  # what a training batch carries (images, labels, parts, coords)
    train_split: str = "all"  # "all" | "train"
    evaluations: tuple[str, ...] = ()
    figures: tuple[str, ...] = ("curves",)
    train_format: str = "zip"  # what the loop trains on: images.zip, or "tfrecord" (COCO-GAN's images.tfrecord)
    width_option: str | None = None  # the option that makes images wider than the resolution (a panorama)
    option_figures: dict[str, str] = field(default_factory=dict)  # figure -> the option that must be set for it

    def __post_init__(self):
        for name in self.evaluations:
            assert name in EVALUATIONS, f"{self.name}: unknown evaluation {name!r}"
        for name in (*self.figures, *self.option_figures):
            assert name in FIGURES, f"{self.name}: unknown figure {name!r}"
        for role, spec in self.inputs.items():
            assert set(spec.sources) <= set(SOURCE_KINDS), f"{self.name}.inputs.{role}: unknown source kind"
        assert self.kind in ("gan", "stage")
        assert self.train_format in TRAIN_FORMATS, f"{self.name}: unknown train_format {self.train_format!r}"


# Any method that trains a generator may start from a parent's weights (a fine-tune: CoordGAN at 512,
# COCO-GAN's extrapolation, a Vision-aided round); ``init_from`` says which parts.
_PARENT = InputSpec(
    ("run", "best_fid", "checkpoint"),
    provides="generator",
    help="an experiment (its final or best-FID snapshot) or checkpoint to fine-tune from (with init_from)",
)

CATALOG: dict[str, MethodEntry] = {
    entry.name: entry
    for entry in (
        MethodEntry(
            name="stylegan2",
            display="StyleGAN2-ADA",
            module="ganbench.methods.stylegan2",
            options=opts.StyleGAN2Options,
            kind="gan",
            parts=("G", "G_ema", "D"),
            paper=None,
            provides=("generator",),
            inputs={"parent": _PARENT},
            evaluations=("gan",),
            figures=("curves", "samples"),
        ),
        MethodEntry(
            name="stylegan1",
            display="StyleGAN",
            module="ganbench.methods.stylegan1",
            options=opts.StyleGAN1Options,
            kind="gan",
            parts=("G", "G_ema", "D"),
            paper=None,
            provides=("generator",),
            inputs={"parent": _PARENT},
            evaluations=("gan",),
            figures=("curves", "samples"),
        ),
        MethodEntry(
            name="creps",
            display="CREPS",
            module="ganbench.methods.creps",
            options=opts.CREPSOptions,
            kind="gan",
            parts=("G", "G_ema", "D"),
            paper="creps",
            provides=("generator",),
            inputs={"parent": _PARENT},
            evaluations=("gan", "any_scale"),
            figures=("curves", "samples", "scales"),
        ),
        MethodEntry(
            name="encoder",
            display="Encoder",
            module="ganbench.methods.encoder",
            options=opts.EncoderOptions,
            kind="stage",
            parts=("E", "G"),
            inputs={
                "generator": InputSpec(
                    ("run", "checkpoint"),
                    provides="generator",
                    required=True,
                    help="the GAN whose generator the encoder inverts (frozen)",
                )
            },
            init_from={"G": "generator:G_ema"},
            frozen=("G",),
            evaluations=("reconstruction",),
            figures=("curves", "preview"),
        ),
        MethodEntry(
            name="segmenter",
            display="Segmenter",
            module="ganbench.methods.segmenter",
            options=opts.SegmenterOptions,
            kind="stage",
            parts=("S",),
            batch_fields=("images", "parts"),
            inputs={
                "annotations": InputSpec(("annotations",), help="the part masks (default: the dataset's)"),
                "backbone": InputSpec(
                    ("weights",),
                    help="ImageNet ResNet-101 weights for arch deeplabv3: init_from {S.net.backbone: backbone:.}",
                ),
            },
            train_split="train",
            evaluations=("segmentation",),
            figures=("curves", "preview"),
        ),
        MethodEntry(
            name="lagm",
            display="LAGM",
            module="ganbench.methods.lagm",
            options=opts.LAGMOptions,
            kind="stage",
            parts=("A", "S", "G"),
            paper="lagm",
            provides=("annotator",),
            inputs={
                "generator": InputSpec(
                    ("run", "checkpoint", "network"),
                    provides="generator",
                    required=True,
                    help="the GAN whose block features the annotator labels (frozen)",
                ),
                "annotations": InputSpec(
                    ("annotations",), help="the labelled images' part masks (default: the dataset's)"
                ),
                "backbone": InputSpec(
                    ("weights",),
                    help="ImageNet ResNet-101 weights (torchvision's resnet101 "
                    "state dict) for the DeepLabv3 student: init_from {S.net.backbone: backbone:.}",
                ),
            },
            init_from={"G": "generator:G_ema"},
            frozen=("G",),
            batch_fields=("images", "parts"),
            train_split="train",
            evaluations=("segmentation",),
            figures=("curves", "preview"),
        ),
        MethodEntry(
            name="cocogan",
            display="COCO-GAN",
            module="ganbench.methods.cocogan",
            options=opts.COCOGANOptions,
            kind="gan",
            parts=("G", "D", "C", "Q"),
            paper="cocogan",
            provides=("generator",),
            inputs={"parent": _PARENT},
            evaluations=("gan", "cocogan"),
            figures=("curves", "samples"),
            train_format="tfrecord",
            width_option="width",
            option_figures={"patch_guided": "code_loss_w"},
        ),
        MethodEntry(
            name="cocogan_extrap",
            display="COCO-GAN extrapolation",
            module="ganbench.methods.cocogan",
            options=opts.COCOGANExtrapOptions,
            kind="gan",
            parts=("G", "D", "C", "Q"),
            paper="cocogan",
            provides=("generator",),
            inputs={
                "parent": InputSpec(
                    ("run", "checkpoint"),
                    provides="generator",
                    required=True,
                    help="the trained COCO-GAN that the extrapolation stage fine-tunes",
                )
            },
            init_from={"G": "parent:G", "D": "parent:D", "C": "parent:C"},
            evaluations=("gan", "cocogan"),
            figures=("curves", "extrapolation"),  # the extrapolation figure shows the samples, in range outlined
            train_format="tfrecord",
            width_option="width",
        ),
        MethodEntry(
            name="cocogan_panorama",
            display="COCO-GAN panorama",
            module="ganbench.methods.cocogan",
            options=opts.COCOGANPanoramaOptions,
            kind="gan",
            parts=("G", "D", "C", "Q"),
            paper="cocogan",
            provides=("generator",),
            inputs={"parent": _PARENT},
            evaluations=("cocogan",),  # no FID: the official disables it for panoramas
            figures=("curves", "panorama"),  # the panorama figure shows the samples over one and a half turns
            train_format="tfrecord",
            width_option="width",
        ),
        MethodEntry(
            name="datasetgan_mlp",
            display="DatasetGAN-MLP",
            module="ganbench.methods.datasetgan_mlp",
            options=opts.DatasetGANMLPOptions,
            kind="stage",
            parts=("M", "G"),
            paper="lagm",
            provides=("annotator",),
            inputs={
                "generator": InputSpec(
                    ("run", "checkpoint", "network"),
                    provides="generator",
                    required=True,
                    help="the GAN whose block features the pixel MLP labels (frozen)",
                ),
                "annotations": InputSpec(
                    ("annotations",), help="the labelled images' part masks (default: the dataset's)"
                ),
            },
            init_from={"G": "generator:G_ema"},
            frozen=("G",),
            batch_fields=("images", "parts"),
            train_split="train",
            figures=("curves", "preview"),
        ),
        MethodEntry(
            name="vision_aided",
            display="Vision-aided GAN",
            module="ganbench.methods.vision_aided",
            options=opts.VisionAidedOptions,
            kind="gan",
            parts=("G", "G_ema", "D", "cvD", "backbones"),
            paper="vision_aided",
            provides=("generator",),
            inputs={
                "parent": _PARENT,
                **{
                    f"backbone{k}": InputSpec(
                        ("weights", "selection"),
                        help=f"the weights file of options.backbones[{k}] (config/weights.yaml; the probe's "
                        f"probe.pt): init_from {{backbones.{k}.net: backbone{k}:<prefix>}}; or a selection's "
                        "chosen backbone (options.backbones[k] 'selected', init_from backbone<k>:.)",
                    )
                    for k in range(opts.VISION_MAX_BACKBONES)
                },
            },
            frozen=("backbones",),
            evaluations=("gan",),
            figures=("curves", "samples"),
        ),
        MethodEntry(
            name="coordgan",
            display="CoordGAN",
            module="ganbench.methods.coordgan",
            options=opts.CoordGANOptions,
            kind="gan",
            parts=("G", "G_ema", "D", "P"),
            paper="coordgan",
            provides=("generator",),
            inputs={
                "parent": _PARENT,
                "perceptual": InputSpec(
                    ("weights",),
                    required=True,
                    help="the perceptual network of the texture-swap and warp losses: LPIPS-VGG weights "
                    "(options.perceptual lpips_vgg, init_from P: perceptual:.) or, offline, the probe's probe.pt "
                    "(options.perceptual probe, init_from P: perceptual:state)",
                ),
                "vgg16": InputSpec(
                    ("weights",),
                    help="torchvision's VGG16 under LPIPS' linear layers: init_from P.vgg: vgg16:features",
                ),
            },
            init_from={"P": "perceptual:."},
            frozen=("P",),
            evaluations=("gan", "coordgan_swap"),
            figures=("curves", "samples", "swap_grid"),
        ),
        MethodEntry(
            name="coordgan_encoder",
            display="CoordGAN encoder",
            module="ganbench.methods.coordgan_encoder",
            options=opts.CoordGANEncoderOptions,
            kind="stage",
            parts=("E", "G", "P"),
            paper="coordgan",
            inputs={
                "generator": InputSpec(
                    ("run", "checkpoint"),
                    provides="generator",
                    required=True,
                    help="the CoordGAN whose structure and texture codes the encoder predicts (frozen)",
                ),
                "perceptual": InputSpec(
                    ("weights",),
                    required=True,
                    help="LPIPS-VGG weights (init_from P: perceptual:.) or, offline, the probe's probe.pt "
                    "(options.perceptual probe, init_from P: perceptual:state)",
                ),
                "vgg16": InputSpec(
                    ("weights",),
                    help="torchvision's VGG16 under LPIPS' linear layers: init_from P.vgg: vgg16:features",
                ),
            },
            init_from={"G": "generator:G_ema", "P": "perceptual:."},
            frozen=("G", "P"),
            evaluations=("reconstruction", "correspondence"),
            figures=("curves", "preview", "label_propagation"),
        ),
    )
}


def method_entry(name: str, where: str = "method") -> MethodEntry:
    """The catalog entry of ``name``; an unknown name is a one-line ConfigError naming ``where``."""
    if name not in CATALOG:
        raise ConfigError(f"{where}: unknown method {name!r}{did_you_mean(name, CATALOG, 'available')}")
    return CATALOG[name]


def methods_with(evaluation: str) -> tuple[str, ...]:
    """The methods that get evaluation group ``evaluation``."""
    return tuple(name for name, entry in CATALOG.items() if evaluation in entry.evaluations)


def needs_annotations(entry: MethodEntry) -> bool:
    """Whether the method trains on its dataset's annotations (per-pixel parts or coordinates, or its split)."""
    return bool({"parts", "coords"} & set(entry.batch_fields)) or entry.train_split != "all"


def train_data_file(experiment: dict) -> str:
    """The file of ``results/data/{dataset}-{res}/`` the experiment trains on (its method's train_format)."""
    return TRAIN_FORMATS[CATALOG[experiment["method"]].train_format]


def image_size(experiment: dict) -> int | tuple[int, int]:
    """The training images' side, or (height, width) when the method's width option makes them wider."""
    option = CATALOG[experiment["method"]].width_option
    width = experiment.get("options", {}).get(option) if option else None
    return (experiment["resolution"], width) if width else experiment["resolution"]


def experiment_figures(experiment: dict) -> tuple[str, ...]:
    entry = CATALOG[experiment["method"]]
    options = experiment.get("options", {})
    return entry.figures + tuple(f for f, option in entry.option_figures.items() if options.get(option))

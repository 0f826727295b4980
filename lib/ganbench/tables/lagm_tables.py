"""LAGM's two README tables (research/lagm.md §6), registered as ``lagm_semi`` and ``lagm_datasetgan``.

Rows are found from the configuration: every LAGM annotator stage, every segmenter trained on generated pairs
(dataset source ``pairs``: LAGM's or the DatasetGAN-MLP baseline's) and every segmenter trained on a few
labelled images of a set an annotator learned from (the labelled-only baseline), grouped by the labelled set
they are scored on and their number of labels. Values are shown x100 (the papers' percentages); published
values appear only where dataset, resolution, setting and protocol all match (``ganbench.tables.published``).
"""

from __future__ import annotations

from ganbench.tables.render import Column, Row, TableSpec
from ganbench.tables.specs import TableContext, register_table

_DEVIATIONS = (
    "FG-mIoU x100 on the whole test split of the snapshot with the best validation FG-mIoU, as the official picks "
    "it: the import's validation split (CelebAMask-HQ 27500-27999, Pascal-Part's VOC-train crops after the first "
    "180); for the synthetic set, which has none, the last 100 train-split images the run did not train on",
    "embedded default: synthfaces at 32 px on the quickstart's 24-kimg StyleGAN2, 0.6 kimg of annotator training "
    "(the paper's 150k iterations), Adam for both networks, 500 generated pairs (10k), 5 epochs, UNets 16 wide",
    "baselines (ours, not in the paper): the segmenter on the labelled images alone for as many steps, and a "
    "DatasetGAN-style pixel MLP on W+ inversions of the same labelled images, labelling the same seeds",
)


# labelled import format -> the dataset id published.yaml names
PUBLISHED_DATASETS = {
    "celebamask-19to8": "celebamask-hq",
    "datasetgan-face-34": "datasetgan-face-34",
    "datasetgan-car-20": "datasetgan-car-20",
    "datasetgan-cat-16": "datasetgan-cat-16",
    "pascal-part-horse": "pascal-horse",
    "pascal-part-aeroplane": "pascal-aeroplane",
}
GENERATOR_NAMES = {"stylegan2": "stylegan2", "stylegan1": "stylegan"}  # as published.yaml's settings name them


def _generator(exp: dict, by_name: dict) -> str | None:
    """The kind of GAN an annotator stage reads (published settings' ``generator``), None where unknown."""
    ((kind, value),) = exp["inputs"]["generator"].items()
    if kind == "run" and value in by_name:
        return GENERATOR_NAMES.get(by_name[value]["method"], by_name[value]["method"])
    if kind == "network":
        from ganbench.metrics.weights import load_weights_registry

        method = load_weights_registry(kind="network").get(value, {}).get("method")
        return GENERATOR_NAMES.get(method, method)
    return None


def _segmenter(options: dict, key: str) -> str:
    if options.get(key, "unet") == "unet":
        return "unet"
    layers = tuple(options.get("deeplab_layers", (3, 4, 23, 3)))
    return "deeplabv3-resnet101" if layers == (3, 4, 23, 3) else "deeplabv3"


def lagm_rows(ctx: TableContext) -> dict[tuple[str, int], list[tuple[Row, int]]]:
    """(test dataset, resolution) -> [(row, #labels)], LAGM's rows first, then the baselines."""
    by_name = {e["name"]: e for e in ctx.experiments}
    annotators = {n: e for n, e in by_name.items() if e["method"] in ("lagm", "datasetgan_mlp")}
    labelled_sets = {(e["dataset"], e["resolution"]) for e in annotators.values()}
    out: dict = {}
    for exp in ctx.experiments:
        spec = ctx.datasets.get(exp["dataset"], {})
        key, kind, published_method = None, None, None
        if exp["method"] == "lagm":
            generator, student = _generator(exp, by_name), _segmenter(exp["options"], "student")
            key, kind = (exp["dataset"], exp["resolution"]), 0
            label = f"LAGM student S ({student}, {generator or 'G'})"
            labels = exp["train_images"]
            setting = {"labels": labels, "generator": generator, "segmenter": student}
        elif exp["method"] == "segmenter" and spec.get("source") == "pairs" and spec["experiment"] in annotators:
            annotator = annotators[spec["experiment"]]
            key = (annotator["dataset"], annotator["resolution"])
            kind = 1 if annotator["method"] == "lagm" else 2
            which = "LAGM" if kind == 1 else "DatasetGAN-MLP"
            generator, arch = _generator(annotator, by_name), _segmenter(exp["options"], "arch")
            label = f"segmenter ({arch}) on {spec['count']} {which} pairs ({generator or 'G'})"
            labels = annotator["train_images"]
            setting = {"labels": labels, "generator": generator, "segmenter": arch}
            if kind == 1 and labels is None:  # the DatasetGAN comparison: stage 2 on every labelled image
                setting, published_method = {"generator": generator, "segmenter": arch}, "lagm"
        elif exp["method"] == "segmenter" and (exp["dataset"], exp["resolution"]) in labelled_sets:
            arch = _segmenter(exp["options"], "arch")
            key, kind, label = (
                (exp["dataset"], exp["resolution"]),
                3,
                f"segmenter ({arch}) on the labelled images alone",
            )
            labels = exp["train_images"]
            setting = {"labels": labels}
        if key is None:
            continue
        shown = "all" if labels is None else labels
        row = Row(
            f"{label}, {shown} labels",
            experiments=(exp["name"],),
            setting=setting,
            paper="lagm",
            published_method=published_method,
        )
        out.setdefault(key, []).append((row, kind, labels or 0))
    return {k: [(r, n) for r, _, n in sorted(v, key=lambda t: (t[2], t[1], t[0].label))] for k, v in out.items()}


def _published_datasets(ctx: TableContext, dataset: str, rows) -> dict[str, str]:
    """Every row's dataset (a pairs set too) -> the published id of the labelled set the rows are scored on."""
    published = PUBLISHED_DATASETS.get(ctx.datasets.get(dataset, {}).get("labels"))
    if published is None:
        return {}
    by_name = {e["name"]: e for e in ctx.experiments}
    return {by_name[name]["dataset"]: published for r, _ in rows for name in r.experiments}


@register_table("lagm_semi")
def _lagm_semi(ctx: TableContext) -> list[TableSpec]:
    specs = []
    for (dataset, res), rows in sorted(lagm_rows(ctx).items()):
        specs.append(
            TableSpec(
                name=f"lagm_semi-{dataset}-{res}",
                title=f"Semi-supervised part segmentation: FG-mIoU against #labels ({dataset}, {res} px, "
                "protocol fg_miou)",
                columns=(Column("fg_miou", protocol="fg_miou", multiplier=100),),
                rows=tuple(r for r, _ in rows),
                paper="lagm",
                deviations=_DEVIATIONS,
                published_datasets=_published_datasets(ctx, dataset, rows),
            )
        )
    return specs


@register_table("lagm_datasetgan")
def _lagm_datasetgan(ctx: TableContext) -> list[TableSpec]:
    specs = []
    for (dataset, res), rows in sorted(lagm_rows(ctx).items()):
        specs.append(
            TableSpec(
                name=f"lagm_datasetgan-{dataset}-{res}",
                title=f"Comparison to DatasetGAN: mIoU (background included) mean ± std over 5 CV folds "
                f"({dataset}, {res} px, protocol miou_cv5)",
                columns=(Column("miou", protocol="miou_cv5", multiplier=100),),
                rows=tuple(r for r, _ in rows),
                paper="lagm",
                deviations=_DEVIATIONS[1:],
                published_datasets=_published_datasets(ctx, dataset, rows),
            )
        )
    return specs

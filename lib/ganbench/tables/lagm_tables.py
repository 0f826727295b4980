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
    "FG-mIoU and mIoU x100 of the run's last snapshot on the whole test split (the official picks the snapshot "
    "with the best FG-mIoU on a validation split, which our labelled imports do not carry)",
    "embedded default: synthfaces at 32 px on the quickstart's 24-kimg StyleGAN2, 0.6 kimg of annotator training "
    "(the paper's 150k iterations), Adam for both networks, 500 generated pairs (10k), 5 epochs, UNets 16 wide",
    "baselines (ours, not in the paper): the segmenter on the labelled images alone for as many steps, and a "
    "DatasetGAN-style pixel MLP on W+ inversions of the same labelled images, labelling the same seeds",
)


def lagm_rows(ctx: TableContext) -> dict[tuple[str, int], list[tuple[Row, int]]]:
    """(test dataset, resolution) -> [(row, #labels)], LAGM's rows first, then the baselines."""
    by_name = {e["name"]: e for e in ctx.experiments}
    annotators = {n: e for n, e in by_name.items() if e["method"] in ("lagm", "datasetgan_mlp")}
    labelled_sets = {(e["dataset"], e["resolution"]) for e in annotators.values()}
    out: dict = {}
    for exp in ctx.experiments:
        spec = ctx.datasets.get(exp["dataset"], {})
        key, kind = None, None
        if exp["method"] == "lagm":
            key, kind, label = (
                (exp["dataset"], exp["resolution"]),
                0,
                f"LAGM student S ({exp['options'].get('student', 'unet')})",
            )
            labels = exp["train_images"]
        elif exp["method"] == "segmenter" and spec.get("source") == "pairs" and spec["experiment"] in annotators:
            annotator = annotators[spec["experiment"]]
            key = (annotator["dataset"], annotator["resolution"])
            kind = 1 if annotator["method"] == "lagm" else 2
            which = "LAGM" if kind == 1 else "DatasetGAN-MLP"
            label = f"segmenter on {spec['count']} {which} pairs"
            labels = annotator["train_images"]
        elif exp["method"] == "segmenter" and (exp["dataset"], exp["resolution"]) in labelled_sets:
            key, kind, label = (exp["dataset"], exp["resolution"]), 3, "segmenter on the labelled images alone"
            labels = exp["train_images"]
        if key is None:
            continue
        shown = "all" if labels is None else labels
        setting = {"labels": labels}
        if exp["method"] == "lagm":
            student = exp["options"].get("student", "unet")
            setting.update(generator="stylegan2", segmenter="deeplabv3-resnet101" if student == "deeplabv3" else "unet")
        row = Row(f"{label}, {shown} labels", experiments=(exp["name"],), setting=setting, paper="lagm")
        out.setdefault(key, []).append((row, kind, labels or 0))
    return {k: [(r, n) for r, _, n in sorted(v, key=lambda t: (t[2], t[1], t[0].label))] for k, v in out.items()}


@register_table("lagm_semi")
def _lagm_semi(ctx: TableContext) -> list[TableSpec]:
    specs = []
    for (dataset, res), rows in sorted(lagm_rows(ctx).items()):
        specs.append(
            TableSpec(
                name=f"lagm_semi-{dataset}-{res}",
                title=f"Semi-supervised part segmentation: FG-mIoU against #labels ({dataset}, {res} px, "
                "protocol fg_miou)",
                columns=(
                    Column("fg_miou", protocol="fg_miou", multiplier=100),
                    Column("miou", protocol="fg_miou", multiplier=100),
                ),
                rows=tuple(r for r, _ in rows),
                paper="lagm",
                deviations=_DEVIATIONS,
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
            )
        )
    return specs

"""LAGM's subcommands (research/lagm.md)."""

from __future__ import annotations

from pathlib import Path

from ganbench.cli.args import (
    OVERWRITE,
    POSITIVE,
    SEED,
    check_device,
    input_dir,
    input_file,
    int_at_least,
    output_dir,
    output_file,
)


def add_commands(command) -> None:
    p = command(
        "pairs",
        "LAGM: generated images with the annotator's hard labels (images.zip + annotations.h5), "
        "the dataset of a downstream segmenter",
        _pairs,
    )
    p.add_argument(
        "checkpoint",
        help="a LAGM stage's training checkpoint (its generator is read from the file it records, checked by sha256)",
    )
    p.add_argument(
        "--generator",
        help="the generator checkpoint, where it has moved from the path the annotator "
        "records (the same file: its sha256 is checked)",
    )
    p.add_argument("--count", type=POSITIVE, default=10000, help="number of generated pairs (the paper's 10,000)")
    p.add_argument("--seed", type=SEED, default=0, help="first seed; image i comes from seed + i alone")
    p.add_argument("--batch", type=POSITIVE, default=16, help="images per forward pass (does not change the output)")
    p.add_argument("--device", help="cpu, cuda or cuda:N (default: cpu)")
    p.add_argument("--out", required=True, help=f"output folder for images.zip and annotations.h5 (each {OVERWRITE})")

    p = command(
        "merge-pairs",
        "LAGM: concatenate shards of generated pairs (folders with images.zip + annotations.h5, in seed order)",
        _merge_pairs,
    )
    p.add_argument("shards", nargs="+", help="shard folders, each holding images.zip and annotations.h5")
    p.add_argument("--out", required=True, help=f"output folder for images.zip and annotations.h5 (each {OVERWRITE})")

    p = command(
        "import-labelled",
        "LAGM: a real labelled part-segmentation set with its official split (images.zip + annotations.h5)",
        _import_labelled,
    )
    p.add_argument("format", choices=LABELLED_FORMATS, help="the import (class merging and split)")
    p.add_argument("root", help="the unpacked archive, or DatasetGAN's zip (config/datasets.yaml notes: the layout)")
    p.add_argument("--resolution", type=int_at_least(8), required=True, help="image side in pixels")
    p.add_argument("--out", required=True, help=f"output folder for images.zip and annotations.h5 (each {OVERWRITE})")

    p = command(
        "eval-cv",
        "LAGM / DatasetGAN: mIoU mean ± std over k cross-validation folds of the test split, a snapshot picked "
        "per fold among the run's last 20 by validation mIoU",
        _eval_cv,
    )
    p.add_argument("checkpoint", help="a segmenter's checkpoint; its folder's checkpoint-*.pt are the candidates")
    p.add_argument("data", help="the labelled set's images.zip")
    p.add_argument("annotations", help="its annotations.h5 (the test split is cross-validated)")
    p.add_argument("--protocol", default="miou_cv5", help="a cross-validated segmentation protocol")
    p.add_argument("--fold", type=int, help="print this fold's pick and scores only (0 .. folds - 1)")
    p.add_argument("--out", required=True, help="output folder for {protocol}/{metric}.json")


def _pairs(args) -> None:
    from ganbench.data.generated_pairs import generate_pairs

    checkpoint = input_file(args.checkpoint, "checkpoint")
    generator = input_file(args.generator, "generator checkpoint") if args.generator else None
    out = output_dir(args.out)
    for name in ("images.zip", "annotations.h5"):
        output_file(out / name)
    device = check_device(args.device) or "cpu"
    n = generate_pairs(
        checkpoint,
        out / "images.zip",
        out / "annotations.h5",
        args.count,
        args.seed,
        args.batch,
        generator=generator,
        device=device,
    )
    print(f"wrote {n} generated images with their annotator labels to {out}/images.zip and annotations.h5")


# ganbench.data.labelled.FORMATS (kept torch- and PIL-free here; tests/test_datasetgan.py checks they agree)
LABELLED_FORMATS = (
    "celebamask-19to8",
    "celebamask-19to7",
    "datasetgan-face-34",
    "datasetgan-car-20",
    "datasetgan-cat-16",
    "pascal-part-horse",
    "pascal-part-aeroplane",
)


def _shard_files(folder) -> tuple:
    folder = input_dir(folder, "shard folder")
    return input_file(folder / "images.zip", "shard images"), input_file(folder / "annotations.h5", "shard annotations")


def _merge_pairs(args) -> None:
    from ganbench.data.generated_pairs import merge_pairs

    shards = [_shard_files(s) for s in args.shards]
    out = output_dir(args.out)
    for name in ("images.zip", "annotations.h5"):
        output_file(out / name)
    n = merge_pairs(shards, out / "images.zip", out / "annotations.h5")
    print(f"wrote {n} generated pairs from {len(shards)} shards to {out}/images.zip and annotations.h5")


def _import_labelled(args) -> None:
    from ganbench.data.labelled import import_labelled

    root = Path(args.root)  # a folder, or a zip of one (the DatasetGAN release)
    root = input_file(root, "labelled set archive") if root.is_file() else input_dir(root, "labelled set folder")
    out = output_dir(args.out)
    for name in ("images.zip", "annotations.h5"):
        output_file(out / name)
    n = import_labelled(args.format, root, out / "images.zip", out / "annotations.h5", args.resolution)
    print(f"wrote {n} labelled images ({args.format}) to {out}/images.zip and annotations.h5")


def _eval_cv(args) -> None:
    from ganbench.errors import GanbenchError
    from ganbench.metrics.part_segmentation import evaluate_segmenter
    from ganbench.metrics.protocols import get_protocol

    protocol = get_protocol(args.protocol, "--protocol")
    if protocol.kind != "segmentation" or protocol.folds < 2:
        raise GanbenchError(f"--protocol {args.protocol}: not a cross-validated segmentation protocol (miou_cv5)")
    if args.fold is not None and not 0 <= args.fold < protocol.folds:
        raise GanbenchError(f"--fold {args.fold}: protocol {protocol.name} has folds 0 .. {protocol.folds - 1}")
    checkpoint, data = input_file(args.checkpoint, "checkpoint"), input_file(args.data, "dataset")
    annotations = input_file(args.annotations, "annotations file")
    results = evaluate_segmenter(checkpoint, data, annotations, output_dir(args.out), [protocol])
    for name, record in results[protocol.name].items():
        if args.fold is not None:
            fold = record["folds"][args.fold]
            print(f"fold {args.fold} {name}: {fold['test'][name]:.4f} ({fold['snapshot']}, val {fold['val_miou']:.4f})")
        else:
            print(f"{protocol.name} {name}: {record['value']:.4f} ± {record['std']:.4f} over {protocol.folds} folds")

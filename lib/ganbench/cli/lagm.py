"""LAGM's subcommands (research/lagm.md)."""

from __future__ import annotations

from ganbench.cli.args import OVERWRITE, POSITIVE, SEED, check_device, input_file, output_dir, output_file


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

"""COCO-GAN's subcommands (research cocogan.md): its lattices, its panorama data, its evaluations and figures.

Training is the generic ``ganbench train`` (methods cocogan, cocogan_extrap, cocogan_panorama, from images.tfrecord);
the FID of assembled images is the generic ``ganbench eval``, the best-FID snapshot the generic ``ganbench best-fid``.
"""

from __future__ import annotations

from pathlib import Path

from ganbench.cli.args import OVERWRITE, POSITIVE, SEED, input_file, int_at_least, output_dir, output_file
from ganbench.errors import GanbenchError

COCOGAN_METHODS = ("cocogan", "cocogan_extrap", "cocogan_panorama")
FIGURES = ("extrapolation", "panorama", "patch_guided")


def add_commands(command) -> None:
    p = command(
        "cocogan-lattice",
        "COCO-GAN: print the macro and micro coordinate lattices of a configuration, and check data against it",
        _lattice,
    )
    p.add_argument("--resolution", type=int_at_least(8), required=True, help="full image height (px)")
    p.add_argument("--width", type=POSITIVE, help="full image width (default: square; a panorama's is wider)")
    p.add_argument("--macro", type=POSITIVE, required=True, help="macro patch size S (D's input)")
    p.add_argument("--micro", type=POSITIVE, required=True, help="micro patch size (G's output)")
    p.add_argument("--cylindrical", action="store_true", help="the panorama's cylindrical system")
    p.add_argument("--extrap", type=int_at_least(0), default=0, help="macro steps past every border")
    p.add_argument("--data", help="a folder, zip or COCO-GAN TFRecord whose images must have the full size")

    p = command("cocogan-panorama-data", "COCO-GAN: render the synthetic 360-degree scene dataset (images.zip)", _pano)
    p.add_argument("--resolution", type=int_at_least(8), default=32, help="image height (px)")
    p.add_argument("--aspect", type=POSITIVE, default=3, help="width / height (3: the paper's 256x768)")
    p.add_argument("--count", type=POSITIVE, default=1000, help="number of panoramas")
    p.add_argument("--seed", type=SEED, default=0, help="image i is drawn from (seed, i) alone")
    p.add_argument("--out", required=True, help=f"the images.zip to write ({OVERWRITE})")

    p = command("cocogan-seams", "COCO-GAN: seam scores of assembled, extrapolated and panorama samples", _seams)
    p.add_argument("checkpoint", help="a COCO-GAN training checkpoint")
    p.add_argument("data", help="the real images (zip, folder or TFRecord) at the model's full size")
    p.add_argument("--count", type=POSITIVE, default=256, help="generated (and at most as many real) images")
    p.add_argument("--out", required=True, help=f"output folder for seam-*.json (each {OVERWRITE})")

    p = command("cocogan-figure", "COCO-GAN: extrapolation, panorama (seam marked) or patch-guided figure", _figure)
    p.add_argument("checkpoint", help="a COCO-GAN training checkpoint")
    p.add_argument("--figure", choices=FIGURES, required=True, help="which figure (each needs its kind of run)")
    p.add_argument("--out", required=True, help=f"the PNG to write ({OVERWRITE})")


def _lattice(args) -> None:
    from ganbench.nets.coco_coords import PatchLattice

    lattice = PatchLattice(
        (args.resolution, args.width or args.resolution), args.macro, args.micro, args.cylindrical, args.extrap
    )
    if args.data:
        from ganbench.data.dataset import ImageDataset

        ImageDataset(args.data, resolution=lattice.full)  # one line for a TFRecord of mixed sizes, or another size
    print(f"N={lattice.n} M={lattice.m} micro={lattice.micro} full={lattice.full[0]}x{lattice.full[1]}")
    for axis, name in ((0, "height"), (1, "width")):
        macro = ", ".join(f"{v:.4g}" for v in lattice.macro_positions(axis))
        micro = ", ".join(f"{v:.4g}" for v in lattice.micro_grid_positions(axis))
        print(f"{name}: macro positions [{macro}]; micro positions [{micro}]")


def _pano(args) -> None:
    from ganbench.data.panorama import make_panorama_dataset

    out = output_file(args.out, (".zip",))
    n = make_panorama_dataset(args.resolution, args.aspect, args.count, args.seed, out)
    print(f"wrote {n} panoramas of {args.resolution}x{args.aspect * args.resolution} px to {out}")


def _cocogan_checkpoint(path):
    from ganbench.methods.catalog import CATALOG
    from ganbench.train.checkpoint import load_checkpoint

    ckpt = load_checkpoint(input_file(path, "checkpoint"), mmap=True)
    if ckpt["method"] not in COCOGAN_METHODS:
        entry = CATALOG.get(ckpt["method"])
        raise GanbenchError(f"{path}: a {entry.display if entry else ckpt['method']} checkpoint, not a COCO-GAN one")
    return ckpt


def _seams(args) -> None:
    from ganbench.metrics.cocogan import evaluate_seams

    _cocogan_checkpoint(args.checkpoint)
    if not Path(args.data).exists():
        raise GanbenchError(f"{args.data}: data not found")
    out = output_dir(args.out)
    values = evaluate_seams(args.checkpoint, args.data, out, args.count)
    print(" ".join(f"{k}={v:.4f}" for k, v in values.items()))


def _figure(args) -> None:
    from ganbench.tables.cocogan_figures import FIGURE_FUNCTIONS

    ckpt = _cocogan_checkpoint(args.checkpoint)
    need = {"extrapolation": "cocogan_extrap", "panorama": "cocogan_panorama"}.get(args.figure)
    if need and ckpt["method"] != need:
        raise GanbenchError(
            f"{args.checkpoint}: the {args.figure} figure needs a {need} checkpoint, not {ckpt['method']}"
        )
    if args.figure == "patch_guided" and not ckpt["experiment"].get("options", {}).get("code_loss_w"):
        raise GanbenchError(f"{args.checkpoint}: trained without Q (options.code_loss_w 0): no patch-guided generation")
    out = output_file(args.out, (".png",))
    FIGURE_FUNCTIONS[args.figure](args.checkpoint, out)
    print(f"wrote {out}")

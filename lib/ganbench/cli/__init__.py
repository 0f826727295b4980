"""The ganbench command: every pipeline stage as a subcommand, for use outside Snakemake.

Each subcommand calls the same library function as the corresponding rule. Bad input (a missing
or wrong kind of file, a bad number, an unknown name) is reported in one line naming the file or
value, exits with status 2, and leaves nothing behind: arguments and output paths are checked
before any work starts.

Outputs: every file is written beside its destination and moved into place when complete, so an
existing output is replaced whole or not at all (as the pipeline's rules replace theirs). Parent
folders are created. A file destination that is an existing folder, or a folder destination that
is an existing file, is an error.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import warnings
from pathlib import Path

from ganbench.cli.args import (
    NEW_DIRS,
    OVERWRITE,
    POSITIVE,
    SEED,
    check_device,
    checkpoint_method,
    float_in,
    input_dir,
    input_file,
    int_at_least,
    output_dir,
    output_file,
    remove_new_dirs,
)
from ganbench.errors import ConfigError, GanbenchError
from ganbench.metrics.protocols import EXTRACTORS as EXTRACTOR_NAMES  # torch-free

# The papers' own subcommands: each module's add_commands(command) adds them with the same ``command`` helper.
COMMAND_MODULES = ("ganbench.cli.lagm", "ganbench.cli.visionaided", "ganbench.cli.cocogan", "ganbench.cli.coordgan")


# ---------------------------------------------------------------------------------------------
# Subcommands
# ---------------------------------------------------------------------------------------------


def _synth(args) -> None:
    from ganbench.data.build import make_synthetic_dataset

    out = output_dir(args.out)
    for name in ("images.zip", "annotations.h5"):
        output_file(out / name)
    make_synthetic_dataset(
        args.category,
        args.resolution,
        args.count,
        args.seed,
        args.test_fraction,
        out / "images.zip",
        out / "annotations.h5",
    )
    print(f"wrote {args.count} {args.category} images at {args.resolution}px to {out}/images.zip and annotations.h5")


def _convert(args) -> None:
    from ganbench.data.stylegan_zip import convert_to_tfrecord, convert_to_zip

    dest = output_file(args.dest, (".zip", ".tfrecord", ".tfrecords"))
    if dest.suffix.lower() == ".zip":
        n = convert_to_zip(args.source, dest, args.resolution, args.transform, args.max_images, args.pattern)
    else:
        if args.resolution or args.transform or args.max_images or args.pattern:
            raise GanbenchError(f"{dest}: a TFRecord is written from a prepared zip as is; convert to a zip first")
        n = convert_to_tfrecord(args.source, dest)
    print(f"wrote {n} images to {dest}")


def _inspect(args) -> None:
    from ganbench.data.summary import inspect_dataset

    print(json.dumps(inspect_dataset(args.path, verify=True), indent=2))


def _download(args) -> None:
    from ganbench.data.download import download_dataset
    from ganbench.data.registry import get_entry

    get_entry(args.id)  # an unknown id fails before the destination is touched
    print(download_dataset(args.id, output_dir(args.dest)))


def _check_config(args) -> None:
    from ganbench.config import load_config

    config = load_config(input_file(args.path, "configuration file"))
    print(f"{args.path}: valid ({len(config['datasets'])} datasets, {len(config['experiments'])} experiments)")


def load_experiment_json(path: str | os.PathLike) -> dict:
    """Read one experiment entry from JSON and validate it on its own (``ganbench.config.validate_experiment``:
    the schema's experiment definition with its defaults filled, its options, resolution and batch layout)."""
    from ganbench.config import validate_experiment

    path = input_file(path, "experiment JSON file")
    try:
        experiment = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from None
    return validate_experiment(experiment, str(path))


def _train(args) -> None:
    from ganbench.config import input_files, load_config
    from ganbench.errors import did_you_mean

    if args.experiment_json:
        experiment = load_experiment_json(args.experiment_json)
    else:
        config = load_config(input_file(args.config, "configuration file"))
        matches = [e for e in config["experiments"] if e["name"] == args.experiment]
        if not matches:
            hint = did_you_mean(args.experiment, [e["name"] for e in config["experiments"]], "defined")
            raise GanbenchError(f"{args.config}: no experiment named {args.experiment!r}{hint or ' (none defined)'}")
        experiment = matches[0]
    data = Path(args.data or f"results/data/{experiment['dataset']}-{experiment['resolution']}/images.zip")
    if not data.exists():
        raise GanbenchError(f"{data}: dataset not found" + ("" if args.data else " (give its path with --data)"))
    out = output_dir(args.out or f"results/runs/{experiment['name']}")
    device = check_device(args.device)
    inputs = {} if args.experiment_json else input_files(config, experiment)  # the pipeline's paths by default
    for given in args.input or []:
        role, sep, path = given.partition("=")
        if not sep or not role or not path:
            raise GanbenchError(f"--input {given!r}: expected ROLE=PATH")
        inputs[role] = str(input_file(path, f"--input {role}"))

    from ganbench.train.launch import train_experiment

    final = train_experiment(
        experiment, data, out, resume=not args.no_resume, device=device, deterministic=args.deterministic, inputs=inputs
    )
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"wrote {final}")


def _probe(args) -> None:
    from ganbench.data.annotations import check_pair

    if len(args.images) != len(args.annotations):
        raise GanbenchError(
            f"--images has {len(args.images)} files but --annotations {len(args.annotations)}; "
            f"give one annotations.h5 per images.zip, in the same order"
        )
    for images, labels in zip(args.images, args.annotations):
        check_pair(images, labels)
    out = output_file(args.out)

    from ganbench.metrics.probe import train_probe

    report = train_probe(
        args.images, args.annotations, out, seed=args.seed, steps=args.steps, resolution=args.resolution
    )
    print(json.dumps(report, indent=2))


def _protocol(args):
    """--protocol NAME with the eval options that change it; a changed protocol is named NAME_custom."""
    from ganbench.metrics.protocols import derive_protocol, get_protocol

    protocol = get_protocol(args.protocol, "--protocol")
    overrides = {
        k: v
        for k, v in (
            ("extractor", args.extractor),
            ("num_gen", getattr(args, "num_gen", None)),
            ("seed", getattr(args, "seed", None)),
            ("truncation", getattr(args, "truncation", None)),
            ("reals", getattr(args, "max_real", None)),
            ("metrics", getattr(args, "metrics", None)),
        )
        if v is not None
    }
    overrides = {k: (tuple(v) if k == "metrics" else v) for k, v in overrides.items()}
    changed = {k: v for k, v in overrides.items() if getattr(protocol, k) != v}
    return derive_protocol(protocol, f"{protocol.name}_custom", "command line", **changed) if changed else protocol


def _stats(args) -> None:
    from ganbench.metrics.extractors import load_extractor
    from ganbench.metrics.stats import compute_stats

    protocol = _protocol(args)
    out = output_file(args.out, (".h5",))
    extractor = load_extractor(protocol.extractor, input_file(args.weights, "weights file"))
    info = compute_stats(args.data, extractor, out, max_items=protocol.reals, save_features=not args.moments_only)
    print(json.dumps(info, indent=2, default=str))


def _eval(args) -> None:
    from ganbench.metrics.extractors import load_extractor
    from ganbench.metrics.gan_metrics import evaluate_checkpoint
    from ganbench.metrics.stats import load_stats

    checkpoint_method(args.checkpoint, [args.scale])
    load_stats(input_file(args.stats, "statistics file"))
    protocol = _protocol(args)
    extractor = load_extractor(protocol.extractor, input_file(args.weights, "weights file"))
    out = output_dir(args.out)
    scaled = args.scale != 1  # an any-scale method on the official --scale grid, e.g. fid-scale2.json
    results = evaluate_checkpoint(
        args.checkpoint,
        args.stats,
        extractor,
        protocol,
        out,
        metrics=["fid"] if scaled else None,
        sample_kwargs={"scale": args.scale, "grid": "paper"} if scaled else None,
        result_suffix=f"-scale{args.scale}" if scaled else "",
    )
    for name, record in results.items():
        print(f"{name}: {record['value']}")


def _best_fid(args) -> None:
    from ganbench.methods.catalog import CATALOG
    from ganbench.metrics.best_snapshot import best_fid_snapshot
    from ganbench.metrics.extractors import load_extractor
    from ganbench.metrics.protocols import get_protocol
    from ganbench.metrics.stats import load_stats

    ckpt = checkpoint_method(args.checkpoint)
    entry = CATALOG[ckpt["method"]]
    if "gan" not in entry.evaluations:
        raise GanbenchError(f"{args.checkpoint}: a {entry.display} checkpoint has no FID (the official measures none)")
    protocol = get_protocol(args.protocol, "--protocol")
    if "fid" not in protocol.metrics:
        raise GanbenchError(f"--protocol: {protocol.name} measures no FID, so it cannot pick a best-FID snapshot")
    load_stats(input_file(args.stats, "statistics file"))
    weights = input_file(args.weights, "weights file") if args.weights else None
    snapshot = output_file(args.snapshot_out, (".pt",)) if args.snapshot_out else None
    out = output_dir(args.out)
    extractor = load_extractor(protocol.extractor, weights)
    record = best_fid_snapshot(args.checkpoint, args.stats, extractor, protocol, out, snapshot)
    print(f"best FID {record['value']:.4f} at {record['best_kimg']:g} kimg ({record['snapshot']})")


def _eval_reconstruction(args) -> None:
    from ganbench.metrics.reconstruction import evaluate_reconstruction

    checkpoint, data = input_file(args.checkpoint, "checkpoint"), input_file(args.data, "dataset")
    annotations = input_file(args.annotations, "annotations file") if args.annotations else None
    records = evaluate_reconstruction(checkpoint, data, output_dir(args.out), annotations)
    for name, record in records.items():
        print(
            f"{name}: {record['value']:.6g} "
            f"({record['protocol']['split']} split, {record['protocol']['images']} images)"
        )


def _eval_segmenter(args) -> None:
    from ganbench.metrics.part_segmentation import evaluate_segmenter
    from ganbench.metrics.protocols import get_protocol

    protocols = [get_protocol(name, "--protocol") for name in args.protocol]
    checkpoint, data = input_file(args.checkpoint, "checkpoint"), input_file(args.data, "dataset")
    annotations = input_file(args.annotations, "annotations file")
    results = evaluate_segmenter(checkpoint, data, annotations, output_dir(args.out), protocols)
    for protocol, records in results.items():
        for name, record in records.items():
            print(f"{protocol} {name}: {record['value']:.4f}")


def _consistency(args) -> None:
    from ganbench.metrics.any_scale import evaluate_consistency

    checkpoint_method(args.checkpoint, [*args.scales, 2])
    out = output_dir(args.out)
    for s, values in evaluate_consistency(args.checkpoint, out, args.scales, args.images, args.seed).items():
        print(f"scale {s}: psnr {values['psnr']:.2f} dB, subgrid_err {values['subgrid_err']:.3g}")


def _render_cost(args) -> None:
    from ganbench.config import cost_baseline, load_config
    from ganbench.metrics.any_scale import evaluate_render_cost

    experiment = checkpoint_method(args.checkpoint, args.scales)["experiment"]
    config = load_config(input_file(args.config, "configuration file")) if args.config else None
    out = output_dir(args.out)
    baseline = cost_baseline(config, experiment) if config else {"experiment": None, "options": {}}
    cost = evaluate_render_cost(args.checkpoint, out, sorted(set(args.scales) | {1}), baseline, args.repeats)
    for model, rows in cost.items():
        for s, m in rows.items():
            print(f"{model} {s}x {m['output_size'][0]}px: {m['time_ms']:.1f} ms, {m['peak_mb']:.1f} MB")


def _scale_figure(args) -> None:
    from ganbench.tables.plots import plot_scale_montage

    checkpoint_method(args.checkpoint, [*args.scales, 2])
    out = output_file(args.out, (".png",))
    print(f"wrote {plot_scale_montage(args.checkpoint, out, scales=args.scales)}")


def _import_checkpoint(args) -> None:
    from ganbench.nets.importers import write_imported_checkpoint

    source = input_file(args.source, "network pickle")
    out = output_file(args.out, (".pt",))
    if out.resolve() == source.resolve():
        raise GanbenchError(f"{out}: is the source file; write the checkpoint elsewhere")
    avg_latent = input_file(args.avg_latent, "average latent") if args.avg_latent else None
    ckpt = write_imported_checkpoint(source, out, method=args.method, resolution=args.resolution, avg_latent=avg_latent)
    for note in ckpt["source"]["notes"]:
        warnings.warn(note)
    print(
        f"wrote {out}: {ckpt['method']} at {ckpt['resolution']}px from {ckpt['source']['format']} "
        f"(sha256 {ckpt['source']['sha256'][:12]})"
    )


def _table(args) -> None:
    from ganbench.config import load_config, released_runs
    from ganbench.metrics import plan
    from ganbench.metrics.protocols import configured_protocols, get_protocol
    from ganbench.tables.render import render_table
    from ganbench.tables.specs import configured_specs

    config = load_config(input_file(args.config, "configuration file"))
    released = released_runs(config)
    eval_dir = input_dir(args.eval_dir, "evaluation results folder (--eval-dir)")
    out = output_dir(args.out)
    names = args.names or config["tables"]
    configured = {**configured_protocols(config["metrics"], args.config), **plan.all_gan_protocols(config)}
    experiments, released = config["experiments"], released_runs(config)
    if args.protocol:  # these protocols for every experiment, whatever protocols it lists itself
        protocols = [configured.get(n) or get_protocol(n, "--protocol") for n in args.protocol]
        experiments, defaults = [{**e, "protocols": None} for e in experiments], None
    else:
        protocols, defaults = list(configured.values()), plan.default_protocols(config)
    for spec in configured_specs(
        names,
        experiments,
        protocols,
        scales=config["metrics"]["any_scale"]["scales"],
        datasets=config["datasets"],
        defaults=defaults,
        released=released,
    ):
        paths = render_table(spec, [*experiments, *released], eval_dir, out)
        print(f"wrote {', '.join(str(p) for p in paths.values())}")


def _slurm_profile(args) -> None:
    from ganbench.cluster import Choices, profile_dir, write_profile

    dest = output_dir(args.dest) if args.dest else profile_dir(args.name)
    if args.no_account and args.account:
        raise GanbenchError("--account and --no-account: give one of them")
    if args.no_gpu and (args.gpu_partition or args.gpu_model):
        raise GanbenchError("--no-gpu with --gpu-partition or --gpu-model: give one or the other")
    sinfo = input_file(args.sinfo, "sinfo output file (--sinfo)").read_text() if args.sinfo else None
    choices = Choices(
        account=args.account,
        no_account=args.no_account,
        partition=args.partition,
        gpu_partition=args.gpu_partition,
        gpu_model=args.gpu_model,
        no_gpu=args.no_gpu,
        cores=args.cores,
        cpus_per_gpu=args.cpus_per_gpu,
        runtime=args.runtime,
        mem_mb=args.mem_mb,
    )
    path, profile = write_profile(choices, dest, force=args.force, sinfo_text=sinfo)
    print(f"wrote {path}")
    for note in profile.notes:
        print(f"  {note}")
    if args.dest:
        print(f"use it with: snakemake --profile {path.parent}")
    else:
        print(f"use it with: snakemake --profile {args.name}")


# ---------------------------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------------------------


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Options show their default, except where there is none to show (None, a flag's False)."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or action.required:
            return action.help
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``ganbench <command>: error: ...`` and exit status 2, no usage dump."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)\n")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ganbench")
    except PackageNotFoundError:  # run from a source tree that is not installed
        from ganbench import __version__

        return __version__


def build_parser() -> argparse.ArgumentParser:
    from ganbench.data.synthetic import MAX_RESOLUTION, MIN_RESOLUTION

    description, _, epilog = __doc__.partition("\n\n")
    parser = _Parser(
        prog="ganbench", description=description, epilog=" ".join(epilog.split()), formatter_class=_HelpFormatter
    )
    parser.add_argument(
        "--version", action="version", version=f"ganbench {_version()}", help="print the installed version and exit"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="command", parser_class=_Parser)

    def command(name: str, text: str, func) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name, help=text, description=text[0].upper() + text[1:] + ".", formatter_class=_HelpFormatter
        )
        p.set_defaults(func=func)
        return p

    p = command("synth", "render a synthetic dataset (images.zip + annotations.h5)", _synth)
    p.add_argument("--category", required=True, choices=["face", "car"], help="object category to render")
    p.add_argument(
        "--resolution",
        type=int_at_least(MIN_RESOLUTION, maximum=MAX_RESOLUTION),
        default=32,
        help=f"image side in pixels, {MIN_RESOLUTION} to {MAX_RESOLUTION}",
    )
    p.add_argument("--count", type=POSITIVE, default=2000, help="number of images")
    p.add_argument("--seed", type=SEED, default=0, help="seed of the images and of the train/test split")
    p.add_argument("--test-fraction", type=float_in(0, 1), default=0.1, help="fraction of images marked as test split")
    p.add_argument("--out", required=True, help=f"output folder for images.zip and annotations.h5 (each {OVERWRITE})")

    p = command("convert", "folder/zip/tar/tfrecord to a dataset_tool zip, or zip to a COCO-GAN tfrecord", _convert)
    p.add_argument("source", help="image folder, .zip, .tar(.gz) or .tfrecord")
    p.add_argument("dest", help=f"output file ending in .zip or .tfrecord ({OVERWRITE})")
    p.add_argument(
        "--resolution",
        type=POSITIVE,
        help="resize every image to this square size (default: keep sizes, which must then all be equal)",
    )
    p.add_argument(
        "--transform",
        choices=["center-crop"],
        help="crop non-square images to a centred square first (default: non-square images are an error)",
    )
    p.add_argument("--max-images", type=POSITIVE, help="convert only the first N images (default: all)")
    p.add_argument("--pattern", help="glob selecting images inside an archive (default: every image)")

    p = command(
        "inspect",
        "print a dataset's count, resolution, channels, labels and hash, after verifying "
        "every zip member's or TFRecord record's CRC",
        _inspect,
    )
    p.add_argument("path", help="image folder, .zip, .tar(.gz) or .tfrecord")

    p = command("download", "fetch a registered dataset (config/datasets.yaml) and check its hash", _download)
    p.add_argument("id", help="dataset id in config/datasets.yaml")
    p.add_argument("dest", help="output folder (a file already there with the registered hash is kept)")

    p = command("train", "train an experiment (torchrun with gpus ranks when gpus > 1)", _train)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--experiment", help="name of an experiment in --config")
    which.add_argument(
        "--experiment-json",
        help="JSON file holding one experiment entry, validated against the schema's experiment "
        "definition with its defaults filled (what a multi-GPU job passes each torchrun rank)",
    )
    p.add_argument("--config", default="config/config.yaml", help="pipeline configuration holding --experiment")
    p.add_argument("--data", help="dataset zip (default: the pipeline's results/data/{dataset}-{res}/images.zip)")
    p.add_argument("--out", help="run folder; an existing run there is resumed (default: results/runs/{experiment})")
    p.add_argument("--no-resume", action="store_true", help="start from scratch even if checkpoints exist")
    p.add_argument("--device", help="cpu, cuda or cuda:N (default: cuda when a GPU is visible, else cpu)")
    p.add_argument(
        "--deterministic", action="store_true", help="deterministic algorithms (bitwise-reproducible CPU runs)"
    )
    p.add_argument(
        "--input",
        action="append",
        metavar="ROLE=PATH",
        help="the file of one of the experiment's inputs (a parent's final.pt, a checkpoint, weights); "
        "repeatable; default: the pipeline's paths under results/",
    )

    p = command("probe", "train the probe feature extractor on labelled (synthetic) datasets", _probe)
    p.add_argument("--images", nargs="+", required=True, help="images.zip of each dataset")
    p.add_argument(
        "--annotations",
        nargs="+",
        required=True,
        help="annotations.h5 of each dataset, same order; each must record its images.zip's hash",
    )
    p.add_argument("--out", required=True, help=f"probe.pt to write ({OVERWRITE})")
    p.add_argument("--seed", type=SEED, default=0, help="seed of the initial weights, batch order and flips")
    p.add_argument("--steps", type=POSITIVE, default=600, help="Adam steps")
    p.add_argument("--resolution", type=int_at_least(8), default=32, help="training resolution (images are resized)")

    p = command("stats", "reference feature statistics of a dataset (h5)", _stats)
    p.add_argument("data", help="dataset zip, folder or tfrecord")
    p.add_argument("out", help=f"statistics .h5 to write ({OVERWRITE})")
    p.add_argument(
        "--protocol",
        default="probe2k_full",
        help="a named protocol (ganbench.metrics.protocols): its extractor and reals",
    )
    p.add_argument("--extractor", choices=list(EXTRACTOR_NAMES), help="instead of the protocol's")
    p.add_argument("--weights", required=True, help="the extractor's local weights file")
    p.add_argument(
        "--max-real",
        type=int_at_least(2, "FID statistics need two images"),
        help="use the first N images by sorted name (default: the protocol's reals)",
    )
    p.add_argument(
        "--moments-only",
        action="store_true",
        help="keep only mean and covariance (enough for FID; KID and precision/recall need features)",
    )

    p = command("eval", "FID/KID/precision-recall of a checkpoint against reference statistics", _eval)
    p.add_argument("checkpoint", help="training checkpoint (final.pt or checkpoint-*.pt)")
    p.add_argument("stats", help="reference statistics .h5 (ganbench stats)")
    p.add_argument("--out", required=True, help=f"folder for {{metric}}.json (each {OVERWRITE})")
    p.add_argument(
        "--protocol",
        default="probe2k_full",
        help="a named protocol (ganbench.metrics.protocols); the options below change it (then named "
        "PROTOCOL_custom in the results)",
    )
    p.add_argument(
        "--extractor",
        choices=list(EXTRACTOR_NAMES),
        help="feature extractor (default: the protocol's); must be the one of the statistics",
    )
    p.add_argument("--weights", required=True, help="the extractor's local weights file")
    p.add_argument(
        "--num-gen",
        type=int_at_least(2, "FID needs two images"),
        help="number of generated images (default: the protocol's)",
    )
    p.add_argument(
        "--seed", type=SEED, help="first seed; images use seeds seed .. seed+num_gen-1 (default: the protocol's)"
    )
    p.add_argument("--truncation", type=float_in(0, None), help="truncation psi, 0 or more (default: the protocol's)")
    p.add_argument(
        "--metrics",
        nargs="+",
        choices=["fid", "kid", "pr"],
        help="metrics to compute; pr writes precision.json and recall.json (default: the protocol's)",
    )
    p.add_argument(
        "--scale",
        type=POSITIVE,
        default=1,
        help="any-scale methods only: render at R*scale (the statistics must be of the data at R*scale); "
        "writes {metric}-scale{s}.json",
    )

    p = command(
        "best-fid",
        "the best-FID snapshot of a run (any GAN; the official policy of COCO-GAN and Vision-aided GAN): the FID "
        "of every snapshot, the lowest in fid-best.json, optionally a copy of that snapshot",
        _best_fid,
    )
    p.add_argument(
        "checkpoint", help="a run's final.pt (its checkpoint-*.pt of the same trajectory are read beside it)"
    )
    p.add_argument("stats", help="reference statistics .h5 (ganbench stats) under the protocol")
    p.add_argument("--weights", help="the extractor's local weights file (the probe's .pt)")
    p.add_argument("--protocol", default="probe2k_full", help="a named protocol with FID (default probe2k_full)")
    p.add_argument("--out", required=True, help=f"folder for fid-best.json ({OVERWRITE})")
    p.add_argument("--snapshot-out", help=f"copy the best snapshot to this .pt file ({OVERWRITE})")

    p = command(
        "eval-reconstruction",
        "an encoder stage: real images through E and the frozen G, MSE and PSNR",
        _eval_reconstruction,
    )
    p.add_argument(
        "checkpoint",
        help="an encoder's training checkpoint (its generator is read from the file it records, checked by sha256)",
    )
    p.add_argument("data", help="dataset zip, folder or tfrecord of the real images")
    p.add_argument("--annotations", help="the dataset's annotations.h5: score its test split (default: every image)")
    p.add_argument("--out", required=True, help=f"folder for mse.json and psnr.json (each {OVERWRITE})")

    p = command("eval-segmenter", "a segmenter stage: mIoU and FG-mIoU on the labelled test split", _eval_segmenter)
    p.add_argument("checkpoint", help="a segmenter's training checkpoint")
    p.add_argument("data", help="dataset zip of the labelled images")
    p.add_argument("annotations", help="the annotations.h5 written with those images (its test split is scored)")
    p.add_argument(
        "--protocol",
        nargs="+",
        default=["fg_miou"],
        help="segmentation protocols (ganbench.metrics.protocols) to score under",
    )
    p.add_argument("--out", required=True, help=f"folder for {{protocol}}/{{metric}}.json (each {OVERWRITE})")

    p = command("consistency", "any-scale methods: PSNR and subgrid error across output scales", _consistency)
    p.add_argument("checkpoint", help="training checkpoint of an any-scale method")
    p.add_argument(
        "--out",
        required=True,
        help=f"folder for psnr-scale{{s}}.json and subgrid_err-scale{{s}}.json (each {OVERWRITE})",
    )
    p.add_argument("--scales", type=POSITIVE, nargs="+", default=[2, 4], help="output scales to compare with 1x")
    p.add_argument("--images", type=POSITIVE, default=16, help="number of seeds rendered")
    p.add_argument("--seed", type=SEED, default=0, help="first seed")

    p = command("render-cost", "any-scale methods: ms/image and peak memory per scale, beside StyleGAN2", _render_cost)
    p.add_argument("checkpoint", help="training checkpoint of an any-scale method")
    p.add_argument(
        "--out",
        required=True,
        help=f"folder for {{time_ms,peak_mb}}-scale{{s}}.json and stylegan2-* (each {OVERWRITE})",
    )
    p.add_argument("--scales", type=POSITIVE, nargs="+", default=[1, 2, 4], help="output scales (1 is always added)")
    p.add_argument("--repeats", type=POSITIVE, default=3, help="timed renders per scale")
    p.add_argument(
        "--config",
        help="take the StyleGAN2 options from this config's baseline experiment (default: StyleGAN2 config F)",
    )

    p = command("scale-figure", "any-scale methods: the same seeds at several scales and a zoom", _scale_figure)
    p.add_argument("checkpoint", help="training checkpoint of an any-scale method")
    p.add_argument("--out", required=True, help=f"PNG file to write ({OVERWRITE})")
    p.add_argument("--scales", type=POSITIVE, nargs="+", default=[1, 2, 4], help="output scales (1 is always added)")

    p = command(
        "import-checkpoint",
        "convert a released network pickle (StyleGAN2-ADA, StyleGAN3's StyleGAN2, CREPS, "
        "TensorFlow StyleGAN2 config F) or DatasetGAN's StyleGAN .for_g_all.pt into a ganbench checkpoint, "
        "without running any of its code",
        _import_checkpoint,
    )
    p.add_argument(
        "source", help="the released .pkl (G, D and G_ema, or TensorFlow's G, D and Gs) or StyleGAN .for_g_all.pt"
    )
    p.add_argument("out", help=f"ganbench checkpoint .pt to write, usable as an experiment input ({OVERWRITE})")
    p.add_argument(
        "--method",
        choices=["stylegan2", "stylegan1", "creps"],
        help="the method the file must hold (default: whichever it holds)",
    )
    p.add_argument(
        "--avg-latent",
        help="StyleGAN .for_g_all.pt only: the release's average-latent .npy (the truncation centre; "
        "default: the mean w of 10,000 latents)",
    )
    p.add_argument("--resolution", type=int_at_least(8), help="the resolution the networks must have (default: theirs)")

    p = command("table", "render the configured tables from results/eval to md, csv, tex and html", _table)
    p.add_argument("names", nargs="*", help="registered table names (default: the config's tables)")
    p.add_argument("--protocol", nargs="+", help="protocols whose results the tables show (default: the config's)")
    p.add_argument("--config", default="config/config.yaml", help="pipeline configuration")
    p.add_argument("--eval-dir", default="results/eval", help="folder of {experiment}/{protocol}/{metric}.json")
    p.add_argument("--out", default="reports/tables", help=f"output folder (each table file {OVERWRITE})")

    p = command(
        "slurm-profile",
        "write a Snakemake profile for this Slurm cluster (partitions, GPUs, limits and "
        "account from sinfo and sacctmgr), so that snakemake --profile slurm works",
        _slurm_profile,
    )
    p.add_argument("--name", default="slurm", help="profile name: the folder in the user's Snakemake config folder")
    p.add_argument(
        "--dest",
        help="profile folder to write config.yaml into (default: the user's Snakemake config "
        "folder, e.g. ~/.config/snakemake/NAME, where snakemake --profile NAME looks)",
    )
    p.add_argument("--force", action="store_true", help="replace an existing profile")
    p.add_argument("--account", help="Slurm account for every job (default: the user's default account in sacctmgr)")
    p.add_argument("--no-account", action="store_true", help="submit without an account (slurm-no-account)")
    p.add_argument(
        "--partition", help="partition of CPU jobs (default: the default partition, or the first without GPUs)"
    )
    p.add_argument(
        "--gpu-partition",
        help="partition of training jobs (default: the default partition if it has "
        "GPUs, else the one with the most GPUs per node)",
    )
    p.add_argument(
        "--gpu-model",
        help="GPU gres type for --gpus=MODEL:N, or none for untyped GPUs (default: the "
        "type the GPU partition has most of)",
    )
    p.add_argument("--no-gpu", action="store_true", help="train on CPUs (gpu: 0), as on a cluster without GPUs")
    p.add_argument(
        "--cores", type=POSITIVE, help="the most threads one job gets (default: CPUs per node of the CPU partition)"
    )
    p.add_argument(
        "--cpus-per-gpu",
        type=POSITIVE,
        help="CPUs per training rank (default: 8, or fewer where a GPU node has fewer CPUs per GPU)",
    )
    p.add_argument(
        "--runtime",
        type=POSITIVE,
        help="default job time limit in minutes (default: 120, or the CPU partition's limit if lower)",
    )
    p.add_argument(
        "--mem-mb", type=POSITIVE, help="default job memory in MB (default: 8000, or a CPU node's memory if less)"
    )
    p.add_argument(
        "--sinfo",
        help="a file holding the output of sinfo --noheader --format='%%P|%%a|%%l|%%c|%%m|%%G|%%D' "
        "to use instead of running sinfo (another machine's, or for a test)",
    )

    p = command("check-config", "validate a pipeline configuration against config/schema.yaml", _check_config)
    p.add_argument("path", help="configuration YAML file")

    for module in COMMAND_MODULES:
        importlib.import_module(module).add_commands(command)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed in one line
        return exc.code if isinstance(exc.code, int) else 2
    NEW_DIRS.clear()
    formatwarning = warnings.formatwarning
    try:
        with warnings.catch_warnings():  # notes as one line each, and the caller's warning state kept
            warnings.simplefilter("default")
            warnings.formatwarning = lambda msg, category, *a, **k: f"ganbench: note: {msg}\n"
            args.func(args)
    except GanbenchError as exc:
        message = " ".join(str(exc).split())
    except OSError as exc:  # the file system refused: permission, disk full, ...; name the file, no traceback
        message = f"{exc.filename}: {exc.strerror or exc}" if exc.filename else str(exc.strerror or exc)
    else:
        return 0
    finally:
        warnings.formatwarning = formatwarning
    remove_new_dirs()
    print(f"ganbench: error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())

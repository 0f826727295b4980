"""The ``ganbench`` command: every pipeline stage as a subcommand, for use outside Snakemake.

Each subcommand calls the same library function as the corresponding rule. Errors of the
GanbenchError family are printed as one line, without a traceback, and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

from ganbench.errors import GanbenchError


def _synth(args) -> None:
    from ganbench.data.build import make_synthetic_dataset

    out = Path(args.out)
    make_synthetic_dataset(
        args.category, args.resolution, args.count, args.seed, args.test_fraction, out / "images.zip", out / "annotations.h5"
    )
    print(f"wrote {args.count} {args.category} images at {args.resolution}px to {out}/images.zip and annotations.h5")


def _convert(args) -> None:
    from ganbench.data.stylegan_zip import convert_to_tfrecord, convert_to_zip

    dest = Path(args.dest)
    if dest.suffix == ".zip":
        n = convert_to_zip(args.source, dest, args.resolution, args.transform, args.max_images, args.pattern)
    elif dest.suffix in (".tfrecord", ".tfrecords"):
        if args.resolution or args.transform or args.max_images or args.pattern:
            raise GanbenchError(f"{dest}: a TFRecord is written from a prepared zip as is; convert to a zip first")
        n = convert_to_tfrecord(args.source, dest)
    else:
        raise GanbenchError(f"{dest}: unknown destination type; expected .zip or .tfrecord")
    print(f"wrote {n} images to {dest}")


def _inspect(args) -> None:
    from ganbench.data.summary import inspect_dataset

    print(json.dumps(inspect_dataset(args.path), indent=2))


def _download(args) -> None:
    from ganbench.data.download import download_dataset

    print(download_dataset(args.id, args.dest))


def _check_config(args) -> None:
    from ganbench.config import load_config

    config = load_config(args.path)
    print(f"{args.path}: valid ({len(config['datasets'])} datasets, {len(config['experiments'])} experiments)")


def _train(args) -> None:
    from ganbench.config import input_files, load_config
    from ganbench.train.launch import train_experiment

    if args.experiment_json:
        experiment = json.loads(Path(args.experiment_json).read_text())
    else:
        config = load_config(args.config)
        matches = [e for e in config["experiments"] if e["name"] == args.experiment]
        if not matches:
            names = ", ".join(e["name"] for e in config["experiments"]) or "none"
            raise GanbenchError(f"{args.config}: no experiment named {args.experiment!r} (defined: {names})")
        experiment = matches[0]
    data = args.data or f"results/data/{experiment['dataset']}-{experiment['resolution']}/images.zip"
    out = args.out or f"results/runs/{experiment['name']}"
    inputs = {} if args.experiment_json else input_files(config, experiment)  # the pipeline's paths by default
    for given in args.input or []:
        role, sep, path = given.partition("=")
        if not sep or not role or not path:
            raise GanbenchError(f"--input {given!r}: expected ROLE=PATH")
        inputs[role] = path
    final = train_experiment(experiment, data, out, resume=not args.no_resume, device=args.device,
                             deterministic=args.deterministic, inputs=inputs)
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"wrote {final}")


def _probe(args) -> None:
    from ganbench.metrics.probe import train_probe

    report = train_probe(args.images, args.annotations, args.out, seed=args.seed, steps=args.steps,
                         resolution=args.resolution)
    print(json.dumps(report, indent=2))


def _protocol(args):
    """--protocol NAME with the eval options that change it; a changed protocol is named NAME_custom."""
    from ganbench.metrics.protocols import derive_protocol, get_protocol

    protocol = get_protocol(args.protocol, "--protocol")
    overrides = {k: v for k, v in (("extractor", args.extractor), ("num_gen", getattr(args, "num_gen", None)),
                                   ("seed", getattr(args, "seed", None)), ("truncation", getattr(args, "truncation", None)),
                                   ("reals", getattr(args, "max_real", None)),
                                   ("metrics", getattr(args, "metrics", None))) if v is not None}
    overrides = {k: (tuple(v) if k == "metrics" else v) for k, v in overrides.items()}
    changed = {k: v for k, v in overrides.items() if getattr(protocol, k) != v}
    return derive_protocol(protocol, f"{protocol.name}_custom", "command line", **changed) if changed else protocol


def _stats(args) -> None:
    from ganbench.metrics.extractors import load_extractor
    from ganbench.metrics.stats import compute_stats

    protocol = _protocol(args)
    extractor = load_extractor(protocol.extractor, args.weights)
    info = compute_stats(args.data, extractor, args.out, max_items=protocol.reals, save_features=not args.moments_only)
    print(json.dumps(info, indent=2, default=str))


def _eval(args) -> None:
    from ganbench.metrics.extractors import load_extractor
    from ganbench.metrics.gan_metrics import evaluate_checkpoint

    scaled = args.scale != 1  # an any-scale method on the official --scale grid, e.g. fid-scale2.json
    protocol = _protocol(args)
    results = evaluate_checkpoint(args.checkpoint, args.stats, load_extractor(protocol.extractor, args.weights),
                                  protocol, args.out, metrics=["fid"] if scaled else None,
                                  sample_kwargs={"scale": args.scale, "grid": "paper"} if scaled else None,
                                  result_suffix=f"-scale{args.scale}" if scaled else "")
    for name, record in results.items():
        print(f"{name}: {record['value']}")


def _consistency(args) -> None:
    from ganbench.metrics.any_scale import evaluate_consistency

    for s, values in evaluate_consistency(args.checkpoint, args.out, args.scales, args.images, args.seed).items():
        print(f"scale {s}: psnr {values['psnr']:.2f} dB, subgrid_err {values['subgrid_err']:.3g}")


def _render_cost(args) -> None:
    from ganbench.config import cost_baseline, load_config
    from ganbench.metrics.any_scale import evaluate_render_cost
    from ganbench.train.checkpoint import load_checkpoint

    experiment = load_checkpoint(args.checkpoint, mmap=True)["experiment"]
    baseline = cost_baseline(load_config(args.config), experiment) if args.config else {"experiment": None, "options": {}}
    cost = evaluate_render_cost(args.checkpoint, args.out, sorted(set(args.scales) | {1}), baseline, args.repeats)
    for model, rows in cost.items():
        for s, m in rows.items():
            print(f"{model} {s}x {m['output_size'][0]}px: {m['time_ms']:.1f} ms, {m['peak_mb']:.1f} MB")


def _scale_figure(args) -> None:
    from ganbench.tables.plots import plot_scale_montage

    print(f"wrote {plot_scale_montage(args.checkpoint, args.out, scales=args.scales)}")


def _table(args) -> None:
    from ganbench.config import load_config
    from ganbench.metrics.protocols import configured_protocols, get_protocol
    from ganbench.tables.render import render_table
    from ganbench.tables.specs import configured_specs

    config = load_config(args.config)
    names = args.names or config["tables"]
    configured = configured_protocols(config["metrics"], args.config)
    protocols = ([configured.get(n) or get_protocol(n, "--protocol") for n in args.protocol] if args.protocol
                 else list(configured.values()))
    for spec in configured_specs(names, config["experiments"], protocols,
                                 scales=config["metrics"]["any_scale"]["scales"]):
        paths = render_table(spec, config["experiments"], args.eval_dir, args.out)
        print(f"wrote {', '.join(str(p) for p in paths.values())}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ganbench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("synth", help="render a synthetic dataset (images.zip + annotations.h5)")
    p.add_argument("--category", required=True, choices=["face", "car"])
    p.add_argument("--resolution", type=int, default=32)
    p.add_argument("--count", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--test-fraction", type=float, default=0.1)
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(func=_synth)

    p = sub.add_parser("convert", help="folder/zip/tar/tfrecord -> dataset_tool zip, or zip -> COCO-GAN tfrecord")
    p.add_argument("source")
    p.add_argument("dest", help="ends in .zip or .tfrecord")
    p.add_argument("--resolution", type=int)
    p.add_argument("--transform", choices=["center-crop"])
    p.add_argument("--max-images", type=int)
    p.add_argument("--pattern", help="glob selecting images inside an archive")
    p.set_defaults(func=_convert)

    p = sub.add_parser("inspect", help="print a dataset's count, resolution, channels, labels and hash")
    p.add_argument("path")
    p.set_defaults(func=_inspect)

    p = sub.add_parser("download", help="fetch a registered dataset (config/datasets.yaml) and check its hash")
    p.add_argument("id")
    p.add_argument("dest", help="output folder")
    p.set_defaults(func=_download)

    p = sub.add_parser("train", help="train an experiment (torchrun with `gpus` ranks when gpus > 1)")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--experiment", help="name of an experiment in --config")
    which.add_argument("--experiment-json", help="a validated experiment entry as JSON (what the train rule passes)")
    p.add_argument("--config", default="config/config.yaml")
    p.add_argument("--data", help="dataset zip (default: the pipeline's results/data/{dataset}-{res}/images.zip)")
    p.add_argument("--out", help="run folder (default: results/runs/{experiment})")
    p.add_argument("--no-resume", action="store_true", help="start from scratch even if checkpoints exist")
    p.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    p.add_argument("--deterministic", action="store_true", help="deterministic algorithms (bitwise-reproducible CPU runs)")
    p.add_argument("--input", action="append", metavar="ROLE=PATH",
                   help="the file of one of the experiment's inputs (a parent's final.pt, a checkpoint, weights); "
                        "repeatable; default: the pipeline's paths under results/")
    p.set_defaults(func=_train)

    p = sub.add_parser("probe", help="train the probe feature extractor on labelled (synthetic) datasets")
    p.add_argument("--images", nargs="+", required=True, help="images.zip of each dataset")
    p.add_argument("--annotations", nargs="+", required=True, help="annotations.h5 of each dataset, same order")
    p.add_argument("--out", required=True, help="probe.pt to write")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--resolution", type=int, default=32)
    p.set_defaults(func=_probe)

    p = sub.add_parser("stats", help="reference feature statistics of a dataset (h5)")
    p.add_argument("data", help="dataset zip, folder or tfrecord")
    p.add_argument("out", help="statistics .h5 to write")
    p.add_argument("--protocol", default="probe2k_full",
                   help="a named protocol (ganbench.metrics.protocols): its extractor and reals")
    p.add_argument("--extractor", choices=["probe", "inception-v3-compat"], help="instead of the protocol's")
    p.add_argument("--weights", required=True, help="the extractor's local weights file")
    p.add_argument("--max-real", type=int, help="first N images by sorted name (default: the protocol's reals)")
    p.add_argument("--moments-only", action="store_true", help="keep only mean and covariance (FID only)")
    p.set_defaults(func=_stats)

    p = sub.add_parser("eval", help="FID/KID/precision-recall of a checkpoint against reference statistics")
    p.add_argument("checkpoint")
    p.add_argument("stats")
    p.add_argument("--out", required=True, help="folder for {metric}.json")
    p.add_argument("--protocol", default="probe2k_full",
                   help="a named protocol (ganbench.metrics.protocols); the options below change it (then named "
                        "PROTOCOL_custom in the results)")
    p.add_argument("--extractor", choices=["probe", "inception-v3-compat"], help="default: the protocol's")
    p.add_argument("--weights", required=True)
    p.add_argument("--num-gen", type=int, help="default: the protocol's")
    p.add_argument("--seed", type=int, help="first latent seed (default: the protocol's)")
    p.add_argument("--truncation", type=float, help="truncation psi >= 0 (default: the protocol's)")
    p.add_argument("--metrics", nargs="+", choices=["fid", "kid", "pr"], help="default: the protocol's")
    p.add_argument("--scale", type=int, default=1,
                   help="any-scale methods: render at R*scale (stats must be of the data at R*scale); "
                        "writes {metric}-scale{s}.json")
    p.set_defaults(func=_eval)

    p = sub.add_parser("consistency", help="any-scale methods: PSNR and subgrid error across output scales")
    p.add_argument("checkpoint")
    p.add_argument("--out", required=True, help="folder for psnr-scale{s}.json and subgrid_err-scale{s}.json")
    p.add_argument("--scales", type=int, nargs="+", default=[2, 4])
    p.add_argument("--images", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_consistency)

    p = sub.add_parser("render-cost", help="any-scale methods: ms/image and peak memory per scale, beside StyleGAN2")
    p.add_argument("checkpoint")
    p.add_argument("--out", required=True, help="folder for {time_ms,peak_mb}-scale{s}.json (and stylegan2-*)")
    p.add_argument("--scales", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--config", help="take the StyleGAN2 options from this config's baseline experiment "
                                    "(default: StyleGAN2 config F)")
    p.set_defaults(func=_render_cost)

    p = sub.add_parser("scale-figure", help="any-scale methods: the same seeds at several scales and a zoom")
    p.add_argument("checkpoint")
    p.add_argument("--out", required=True, help="PNG path")
    p.add_argument("--scales", type=int, nargs="+", default=[1, 2, 4])
    p.set_defaults(func=_scale_figure)

    p = sub.add_parser("table", help="render the configured tables from results/eval to md, csv, tex and html")
    p.add_argument("names", nargs="*", help="registered table names (default: the config's tables)")
    p.add_argument("--protocol", nargs="+", help="protocols whose results the tables show (default: the config's)")
    p.add_argument("--config", default="config/config.yaml")
    p.add_argument("--eval-dir", default="results/eval")
    p.add_argument("--out", default="reports/tables")
    p.set_defaults(func=_table)

    p = sub.add_parser("check-config", help="validate a pipeline configuration against config/schema.yaml")
    p.add_argument("path")
    p.set_defaults(func=_check_config)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.simplefilter("default")
    warnings.formatwarning = lambda msg, category, *a, **k: f"ganbench: note: {msg}\n"
    try:
        args.func(args)
    except GanbenchError as exc:
        print(f"ganbench: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Vision-aided GAN's subcommands (research/visionaided.md): the linear-probe backbone selection."""

from __future__ import annotations

import re
from pathlib import Path

from ganbench.cli.args import OVERWRITE, POSITIVE, SEED, check_device, input_file, output_file
from ganbench.errors import ConfigError, GanbenchError

CV_SPEC = re.compile(r"^input-(?P<models>[a-z_]+(\+[a-z_]+)*)(-output-(?P<outputs>[a-z_]+(\+[a-z_]+)*))?$")
CV_OUTPUTS = ("conv_multi_level", "conv", "pool")


def parse_cv_spec(text: str) -> list[str]:
    """The backbone names of an official ``--cv`` spec, ``input-<m1>+<m2>[-output-<o1>+<o2>]`` (one line on a
    malformed spec, an unknown backbone or output, or a count mismatch)."""
    from ganbench.methods.options import VISION_BACKBONES

    match = CV_SPEC.match(text)
    if match is None:
        raise ConfigError(f"--cv {text!r}: malformed; expected input-<model>[+<model>...][-output-<out>[+<out>...]]")
    models = match["models"].split("+")
    for name in models:
        if name not in VISION_BACKBONES:
            raise ConfigError(f"--cv: unknown backbone {name!r} (known: {', '.join(VISION_BACKBONES)})")
    outputs = match["outputs"].split("+") if match["outputs"] else []
    for out in outputs:
        if out not in CV_OUTPUTS:
            raise ConfigError(f"--cv: unknown output {out!r} (known: {', '.join(CV_OUTPUTS)})")
    if outputs and len(outputs) != len(models):
        raise ConfigError(f"--cv {text!r}: {len(models)} models but {len(outputs)} outputs")
    if len(set(models)) != len(models):
        raise ConfigError(f"--cv {text!r}: a backbone is named twice")
    return models


def candidate_weights(models: list[str], given: list[str]) -> dict[str, str | None]:
    """Each candidate's weights file: ``--weights name=path`` or the file its download rule (or the probe's
    training rule) makes; a missing file names the rule to run."""
    from ganbench.config import PROBE_FILE
    from ganbench.methods.options import VISION_BACKBONE_WEIGHTS

    explicit = {}
    for item in given:
        name, sep, path = item.partition("=")
        if not sep or not path:
            raise ConfigError(f"--weights {item!r}: expected NAME=PATH")
        if name not in models:
            raise ConfigError(f"--weights {name}: not one of the --cv backbones ({', '.join(models)})")
        explicit[name] = path
    out = {}
    for name in models:
        entry = VISION_BACKBONE_WEIGHTS[name]
        if entry is None:
            out[name] = None
            continue
        default = PROBE_FILE if entry == "probe" else f"results/weights/{entry}.pth"
        path = explicit.get(name, default)
        if name not in explicit and not Path(path).is_file():
            rule = "train_probe" if entry == "probe" else "download_weights"
            raise GanbenchError(
                f"backbone {name}: weights file {path} not found; make it with `snakemake --cores 1 {path}` "
                f"(rule {rule}) or pass --weights {name}=PATH"
            )
        out[name] = str(input_file(path, f"{name} weights file"))
    return out


def add_commands(command) -> None:
    p = command(
        "select-backbone",
        "Vision-aided GAN: the linear probe (logistic regression, 50/50 split) of real against generated features "
        "of each candidate backbone; writes the selection json (chosen backbone, its loss, every accuracy)",
        _select,
    )
    p.add_argument("checkpoint", help="the GAN checkpoint whose generator is probed")
    p.add_argument("data", help="the training images (a dataset zip or folder)")
    p.add_argument(
        "--cv",
        required=True,
        help="candidates in the official spelling, e.g. input-probe+probe_shallow+random or "
        "input-clip+dino-output-pool+pool",
    )
    p.add_argument("--weights", action="append", default=[], help="NAME=PATH: a candidate's weights file (repeatable)")
    p.add_argument(
        "--max-images", type=POSITIVE, default=10000, help="real images probed, in order (and as many fakes)"
    )
    p.add_argument("--repeats", type=POSITIVE, default=3, help="probes per candidate, averaged (official: 3)")
    p.add_argument("--seed", type=SEED, default=0, help="first generator seed and split seed")
    p.add_argument("--diffaugment", action="store_true", help="the round uses DiffAugment: always smooth (_s)")
    p.add_argument("--device", help="cpu, cuda or cuda:N (default: cpu)")
    p.add_argument("--out", required=True, help=f"the selection json ({OVERWRITE})")


def _select(args) -> None:
    from ganbench.metrics.backbone_selection import select_backbone

    checkpoint = input_file(args.checkpoint, "checkpoint")
    data = args.data if Path(args.data).is_dir() else input_file(args.data, "dataset")
    models = parse_cv_spec(args.cv)
    candidates = candidate_weights(models, args.weights)
    out = output_file(args.out, (".json",))
    device = check_device(args.device) or "cpu"
    record = select_backbone(
        checkpoint,
        data,
        candidates,
        out,
        diffaugment=args.diffaugment,
        max_images=args.max_images,
        repeats=args.repeats,
        seed=args.seed,
        device=device,
    )
    shown = ", ".join(f"{n} {a:.3f}" for n, a in record["accuracies"].items())
    print(f"probe accuracies: {shown}; selected {record['selected']} (loss {record['loss']}); wrote {out}")

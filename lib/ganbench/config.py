"""Loading and validating the pipeline configuration.

The schema (``config/schema.yaml``) is the single description of the configuration: types,
allowed values and defaults. Validation fills the defaults in place, like
``snakemake.utils.validate``, but reports the first problem as one line naming the key
(``datasets.synthfaces.cout: unknown key (did you mean 'count'?)``) instead of a JSON
Schema dump, and then checks what a schema cannot: that experiments name defined datasets
and that downloads name registered ids, then everything that would otherwise fail inside a job: each
experiment's method options (the method's options dataclass), resolution and batch layout, its inputs
(known parents of the right kind, no cycles), and the data resolutions its evaluation asks for.
"""

from __future__ import annotations

import os
from pathlib import Path

import jsonschema
import yaml
from jsonschema import Draft202012Validator, validators

from ganbench.errors import ConfigError, did_you_mean
from ganbench.methods.catalog import CATALOG, methods_with, needs_annotations
from ganbench.methods.options import parse_options

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO_ROOT / "config" / "schema.yaml"


def _with_defaults(validator_class):
    """A validator that also writes each property's ``default`` into the instance (jsonschema FAQ)."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(name, _copy(subschema["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": set_defaults})


def _copy(value):
    return yaml.safe_load(yaml.safe_dump(value)) if isinstance(value, (dict, list)) else value


_DefaultingValidator = _with_defaults(Draft202012Validator)


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def _describe(error: jsonschema.ValidationError) -> str:
    """One line for a schema error, naming the key at fault."""
    where = _key(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = list(error.schema.get("properties", {}))
        extra = [k for k in error.instance if k not in allowed]
        key = extra[0]
        hint = did_you_mean(key, allowed, "allowed")
        prefix = "" if where == "(top level)" else f"{where}."
        return f"{prefix}{key}: unknown key{hint}"
    if error.validator in ("enum", "const"):
        choices = error.validator_value if error.validator == "enum" else [error.validator_value]
        shown = ", ".join("null" if c is None else str(c) for c in choices)
        return f"{where}: unknown value {error.instance!r} (expected one of: {shown})"
    if error.validator == "type":
        return f"{where}: expected {error.validator_value}, got {type(error.instance).__name__} {error.instance!r}"
    if error.validator == "required":
        missing = next(k for k in error.validator_value if k not in error.instance)
        return f"{where}: missing required key {missing!r}"
    if error.validator == "propertyNames":
        return f"{where}: invalid name {error.instance!r} ({error.message})"
    return f"{where}: {error.message}"


def load_schema(path: str | os.PathLike = SCHEMA_PATH) -> dict:
    """The schema, with the method names taken from the catalog."""
    with open(path) as f:
        schema = yaml.safe_load(f)
    schema["$defs"]["experiment"]["properties"]["method"]["enum"] = list(CATALOG)
    return schema


def validate_config(config: dict, source: str = "config", schema: dict | None = None) -> dict:
    """Validate ``config`` in place, fill defaults, and return it; raise ConfigError on the first problem."""
    schema = load_schema() if schema is None else schema
    if not isinstance(config, dict):
        raise ConfigError(f"{source}: the configuration must be a mapping, got {type(config).__name__}")
    error = jsonschema.exceptions.best_match(_DefaultingValidator(schema).iter_errors(config))
    if error is not None:
        raise ConfigError(f"{source}: {_describe(error)}")
    _check_references(config, source)
    _check_metrics(config, source)
    for i, exp in enumerate(config["experiments"]):
        _check_experiment(config, exp, f"{source}: experiments.{i}")
    experiment_order(config, source)
    _check_data_resolutions(config, source)
    _check_selections(config, source)
    _check_released(config, source)
    return config


def _check_metrics(config: dict, source: str) -> None:
    """Protocol names, custom protocols and table names, against their registries (one line each)."""
    from ganbench.metrics.protocols import configured_protocols, experiment_protocols, snapshot_protocol
    from ganbench.tables.specs import TABLES

    configured_protocols(config["metrics"], source)
    if config["metrics"].get("snapshot_protocol") is not None:
        snapshot_protocol(config["metrics"], source)
    for i, exp in enumerate(config["experiments"]):
        where = f"{source}: experiments.{i}"
        experiment_protocols(config["metrics"], exp, source, where)
        if exp.get("protocols") is not None and "gan" not in CATALOG[exp["method"]].evaluations:
            raise ConfigError(f"{where}.protocols: {exp['method']} is not measured by GAN protocols")
    for i, name in enumerate(config["tables"]):
        if name not in TABLES:
            raise ConfigError(f"{source}: tables.{i}: unknown table {name!r}{did_you_mean(name, TABLES)}")


def _check_references(config: dict, source: str) -> None:
    datasets = config["datasets"]
    seen = set()
    for i, exp in enumerate(config.get("experiments", [])):
        if exp["name"] in seen:
            raise ConfigError(f"{source}: experiments.{i}.name: duplicate experiment name {exp['name']!r}")
        seen.add(exp["name"])
        if exp["dataset"] not in datasets:
            hint = did_you_mean(exp["dataset"], datasets, "defined")
            raise ConfigError(f"{source}: experiments.{i}.dataset: unknown dataset {exp['dataset']!r}{hint}")
    baseline = config["metrics"]["any_scale"]["baseline"]
    if baseline is not None and not any(
        e["name"] == baseline and e["method"] == "stylegan2" for e in config.get("experiments", [])
    ):
        raise ConfigError(
            f"{source}: metrics.any_scale.baseline: {baseline!r} is not a stylegan2 experiment of this config"
        )
    _check_label_propagation(config, source)
    for name in config["metrics"]["coordgan"]["identity_datasets"]:
        if name not in datasets:
            hint = did_you_mean(name, datasets, "defined")
            raise ConfigError(f"{source}: metrics.coordgan.identity_datasets: unknown dataset {name!r}{hint}")
    for name in config["metrics"]["probe"]["datasets"] or []:
        if datasets.get(name, {}).get("source") != "synthetic":
            raise ConfigError(
                f"{source}: metrics.probe.datasets: {name!r} is not a synthetic (labelled) dataset of this config"
            )
    _check_pairs_datasets(config, source)
    downloads = {name: d for name, d in datasets.items() if d["source"] in ("download", "labelled")}
    if downloads:
        from ganbench.data.registry import load_registry

        registry = load_registry()
        for name, d in downloads.items():
            if d["id"] not in registry:
                hint = did_you_mean(d["id"], registry)
                raise ConfigError(f"{source}: datasets.{name}.id: {d['id']!r} is not in config/datasets.yaml{hint}")


# labelled format -> its CoordGAN label-propagation benchmark (ganbench.metrics.correspondence.BENCHMARKS)
PROPAGATION_BENCHMARKS = {
    "datasetgan-face-34": "datasetgan-face-34",
    "datasetgan-car-20": "datasetgan-car-20",
    "celebamask-19to7": "celebA-7",
}


def _check_label_propagation(config: dict, source: str) -> None:
    experiments = {e["name"]: e for e in config.get("experiments", [])}
    datasets = config["datasets"]
    for name, chosen in config["metrics"]["coordgan"]["label_propagation"].items():
        where = f"{source}: metrics.coordgan.label_propagation.{name}"
        if name not in experiments:
            raise ConfigError(f"{where}: unknown experiment{did_you_mean(name, experiments, 'defined')}")
        if experiments[name]["method"] != "coordgan_encoder":
            raise ConfigError(f"{where}: a {experiments[name]['method']} experiment; only an encoder propagates labels")
        for dataset in chosen:
            spec = datasets.get(dataset)
            if spec is None:
                raise ConfigError(f"{where}: unknown dataset {dataset!r}{did_you_mean(dataset, datasets, 'defined')}")
            if spec["source"] != "labelled" or spec.get("labels") not in PROPAGATION_BENCHMARKS:
                raise ConfigError(
                    f"{where}: {dataset!r} is not a labelled benchmark (source labelled, labels one of "
                    f"{', '.join(PROPAGATION_BENCHMARKS)})"
                )


def _check_pairs_datasets(config: dict, source: str) -> None:
    """A ``pairs`` dataset names an annotator experiment of this config (catalog ``provides: annotator``);
    the experiments training on it run at the annotator's resolution."""
    experiments = {e["name"]: e for e in config.get("experiments", [])}
    for name, d in config["datasets"].items():
        if d["source"] != "pairs":
            continue
        parent = experiments.get(d["experiment"])
        if parent is None:
            hint = did_you_mean(d["experiment"], experiments, "defined")
            raise ConfigError(f"{source}: datasets.{name}.experiment: unknown experiment {d['experiment']!r}{hint}")
        entry = CATALOG[parent["method"]]
        if "annotator" not in entry.provides:
            raise ConfigError(
                f"{source}: datasets.{name}.experiment: {d['experiment']!r} ({entry.display}) labels no "
                "generated images (an annotator does: lagm, datasetgan_mlp)"
            )
        if parent["dataset"] == name:
            raise ConfigError(f"{source}: datasets.{name}.experiment: {d['experiment']!r} trains on these pairs")
        for i, exp in enumerate(config.get("experiments", [])):
            if exp["dataset"] == name and exp["resolution"] != parent["resolution"]:
                raise ConfigError(
                    f"{source}: experiments.{i}.resolution: {exp['resolution']}, but the pairs {name!r} are "
                    f"{parent['resolution']} px (the resolution of {d['experiment']!r})"
                )


def pairs_test_dataset(config: dict, dataset: str) -> str:
    """The dataset whose labelled test split scores a segmenter trained on ``dataset``: itself, or for
    generated pairs the labelled set their annotator learned from (followed through pairs of pairs)."""
    seen = []
    while config["datasets"][dataset]["source"] == "pairs" and dataset not in seen:
        seen.append(dataset)
        annotator = next(e for e in config["experiments"] if e["name"] == config["datasets"][dataset]["experiment"])
        dataset = annotator["dataset"]
    return dataset


def load_config(path: str | os.PathLike) -> dict:
    """Read a YAML configuration file and validate it."""
    path = Path(path)
    try:
        with open(path) as f:
            config = yaml.safe_load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}") from None
    return validate_config(config, str(path))


EVALUATION_KEYS = ("protocols",)  # experiment keys that change how a run is measured, never how it trains


def training_experiment(experiment: dict) -> dict:
    """The experiment without its evaluation-only keys: what a run trains from and its checkpoints record, so
    that measuring a run by another protocol neither retrains it nor stops it resuming."""
    return {k: v for k, v in experiment.items() if k not in EVALUATION_KEYS}


def validate_experiment(experiment: dict, source: str = "experiment") -> dict:
    """Validate one experiment entry on its own (what ``ganbench train --experiment-json`` reads) in place: the
    schema's experiment definition with its defaults, then its options, resolution, batch layout and parts.
    Its inputs arrive as files beside it, so references to other experiments and datasets are not checked."""
    schema = load_schema()
    sub = {**schema["$defs"]["experiment"], "$defs": schema["$defs"]}
    if not isinstance(experiment, dict):
        raise ConfigError(f"{source}: expected one experiment (a mapping), got {type(experiment).__name__}")
    error = jsonschema.exceptions.best_match(_DefaultingValidator(sub).iter_errors(experiment))
    if error is not None:
        raise ConfigError(f"{source}: {_describe(error)}")
    _check_experiment(None, experiment, source)
    return experiment


def _check_experiment(config: dict | None, exp: dict, where: str) -> None:
    """What the schema cannot say about one experiment (``where`` prefixes every message); fills the catalog's
    init_from/frozen defaults. Without ``config``, what depends on the rest of a configuration is skipped."""
    entry = CATALOG[exp["method"]]
    try:
        options = parse_options(entry.options, exp["options"], "options")
    except ConfigError as exc:
        raise ConfigError(f"{where}.{exc}") from None
    gpus, batch = exp["gpus"], exp["batch"]
    per_gpu = exp["batch_per_gpu"] or batch // gpus
    if per_gpu == 0 or batch % (per_gpu * gpus):
        raise ConfigError(f"{where}.batch: {batch} is not a multiple of batch_per_gpu {per_gpu} x {gpus} gpus")
    problem = options.check_experiment(exp["resolution"], per_gpu)
    if not problem and hasattr(options, "check_run"):  # what depends on the run's length (kimg)
        problem = options.check_run(exp["kimg"])
    if problem:
        raise ConfigError(f"{where}.{problem}")
    dataset = config["datasets"][exp["dataset"]] if config is not None else {"source": None}
    if exp["train_images"] is not None and dataset["source"] in ("synthetic", "pairs"):
        count = dataset["count"]
        test = round(count * dataset["test_fraction"]) if dataset["source"] == "synthetic" else 0
        available = count - test if entry.train_split == "train" else count
        if exp["train_images"] > available:
            raise ConfigError(
                f"{where}.train_images: {exp['train_images']} is more than the {available} "
                f"{'training ' if entry.train_split == 'train' else ''}images of {exp['dataset']}"
            )
    if config is not None:
        _check_experiment_protocols(config, exp, entry, where)
    if needs_annotations(entry) and "annotations" not in exp["inputs"]:
        exp["inputs"]["annotations"] = {"annotations": exp["dataset"]}  # the dataset's own labels
    _check_inputs(config, exp, entry, where)
    if "annotator" in entry.provides and config is not None:
        _check_generator_resolution(config, exp, getattr(options, "generator_resolution", None), where)
    exp["init_from"] = {**entry.init_from, **exp["init_from"]}
    exp["frozen"] = list(dict.fromkeys([*entry.frozen, *exp["frozen"]]))
    for key, parts in (("init_from", list(exp["init_from"])), ("frozen", exp["frozen"])):
        for part in parts:
            if part.split(".")[0] not in entry.parts:
                raise ConfigError(
                    f"{where}.{key}: {part!r} is not a part of {entry.display}"
                    f"{did_you_mean(part.split('.')[0], entry.parts, 'parts')}"
                )
    for part, spec in exp["init_from"].items():
        role = spec.partition(":")[0]
        if role not in exp["inputs"]:
            raise ConfigError(
                f"{where}.init_from.{part}: {role!r} is not one of this experiment's inputs"
                f"{did_you_mean(role, exp['inputs'], 'inputs')}"
            )


def _check_experiment_protocols(config: dict, exp: dict, entry, where: str) -> None:
    """CoordGAN's texture-swapped samples pair the seeds (2k, 2k+1): each FID protocol of the run has an even
    num_gen (its protocol names are checked with the metrics, _check_metrics)."""
    if "coordgan_swap" not in entry.evaluations:
        return
    from ganbench.metrics.plan import experiment_gan_protocols, swap_fid_protocols

    protocols = experiment_gan_protocols(config, exp)
    for p in (protocols[n] for n in swap_fid_protocols(config, exp)):
        if p.num_gen % 2:
            raise ConfigError(
                f"{where}: protocol {p.name}: num_gen {p.num_gen} is odd; the texture-swap FID of "
                f"{entry.display} pairs its samples (2k, 2k+1)"
            )


def _check_inputs(config: dict | None, exp: dict, entry, where: str) -> None:
    experiments = {e["name"]: e for e in config["experiments"]} if config is not None else None
    for role, spec in entry.inputs.items():
        if spec.required and role not in exp["inputs"]:
            raise ConfigError(f"{where}.inputs: method {exp['method']} needs the input {role!r} ({spec.help})")
    for role, given in exp["inputs"].items():
        key = f"{where}.inputs.{role}"
        if role not in entry.inputs:
            raise ConfigError(
                f"{key}: method {exp['method']} takes no input {role!r}{did_you_mean(role, entry.inputs, 'inputs')}"
            )
        spec = entry.inputs[role]
        ((kind, value),) = given.items()
        if kind not in spec.sources:
            raise ConfigError(f"{key}.{kind}: this input is one of: {', '.join(spec.sources)}")
        if config is None:  # a lone experiment: its inputs are files given beside it
            continue
        if kind in RUN_KINDS:
            if value not in experiments:
                raise ConfigError(
                    f"{key}.{kind}: unknown experiment {value!r}{did_you_mean(value, experiments, 'defined')}"
                )
            parent = CATALOG[experiments[value]["method"]]
            if spec.provides and spec.provides not in parent.provides:
                raise ConfigError(
                    f"{key}.{kind}: {value!r} ({parent.display}) provides no {spec.provides}, which this input needs"
                )
            if kind == "best_fid":
                _check_best_fid(config, value, f"{key}.best_fid")
        elif kind == "selection":
            if value not in config.get("selections", {}):
                raise ConfigError(
                    f"{key}.selection: unknown selection {value!r}"
                    f"{did_you_mean(value, config.get('selections', {}), 'defined under selections')}"
                )
        elif kind == "annotations":
            dataset = config["datasets"].get(value)
            if dataset is None or dataset["source"] not in ("synthetic", "pairs", "labelled"):
                raise ConfigError(
                    f"{key}.annotations: {value!r} is not a labelled dataset of this config (with part masks)"
                )
        elif kind == "checkpoint" and not Path(value).is_file():
            raise ConfigError(f"{key}.checkpoint: {value} not found")
        elif kind == "network":
            from ganbench.metrics.weights import load_weights_registry

            networks = {n: e for n, e in load_weights_registry(kind="network").items() if e.get("method")}
            if value not in networks:
                raise ConfigError(
                    f"{key}.network: {value!r} is not an importable network of config/weights.yaml"
                    f"{did_you_mean(value, networks, 'names')}"
                )
        elif kind == "weights" and value == "probe":
            pass  # the pipeline's trained probe (rule train_probe)
        elif kind == "weights" and not Path(value).is_file():
            from ganbench.metrics.weights import load_weights_registry

            registry = load_weights_registry(kind="extractor")  # a released GAN is imported, then a checkpoint input
            if value not in registry:
                raise ConfigError(
                    f"{key}.weights: {value!r} is neither a file nor a name of config/weights.yaml"
                    f"{did_you_mean(value, registry, 'names')}"
                )


def _check_generator_resolution(config: dict, exp: dict, expected: int | None, where: str) -> None:
    """An annotator's generator (a run or a released network) makes images at the experiment's resolution, or at
    ``options.generator_resolution`` where that is set (LAGM's face-34 StyleGAN)."""
    ((kind, value),) = exp["inputs"]["generator"].items()
    if kind == "run":
        parent = next((e for e in config["experiments"] if e["name"] == value), None)
        made = parent["resolution"] if parent is not None else None
    elif kind == "network":
        from ganbench.metrics.weights import load_weights_registry

        made = load_weights_registry(kind="network")[value].get("resolution")
    else:
        return
    want = expected or exp["resolution"]
    if made is not None and made != want:
        whose = "options.generator_resolution" if expected else "the experiment's resolution"
        raise ConfigError(f"{where}.inputs.generator: {value!r} makes {made} px images, {whose} is {want}")


RUN_KINDS = ("run", "best_fid")  # input sources that are another experiment of the config


def parent_experiment(given: dict) -> str | None:
    """The experiment an input (``{kind: value}``) comes from, if it is one: a ``run`` or its ``best_fid``."""
    ((kind, value),) = given.items()
    return value if kind in RUN_KINDS else None


def _check_best_fid(config: dict, experiment: str, key: str) -> None:
    """A best-FID snapshot needs a parent evaluated by the GAN protocols and a protocol with FID to pick by."""
    parent = next(e for e in config["experiments"] if e["name"] == experiment)
    entry = CATALOG[parent["method"]]
    if "gan" not in entry.evaluations:
        raise ConfigError(f"{key}: {experiment!r} ({entry.display}) has no FID to pick a snapshot by")
    experiment_snapshot_protocol(config, parent, key)


def experiment_snapshot_protocol(config: dict, experiment: dict, source: str = "config"):
    """The protocol ``experiment``'s best-FID snapshot is picked under: the first of its own ``protocols`` with FID
    where it lists its own (a paper's protocol: COCO-GAN's fid50k_ttur), else ``metrics.snapshot_protocol``, else
    the first configured protocol with FID (ganbench.metrics.protocols.snapshot_protocol)."""
    from ganbench.metrics.protocols import experiment_protocols, snapshot_protocol

    if experiment.get("protocols") is not None:
        own = [p for p in experiment_protocols(config["metrics"], experiment, source).values() if "fid" in p.metrics]
        if own:
            return own[0]
    return snapshot_protocol(config["metrics"], source)


def best_fid_file(config: dict, experiment: str) -> str:
    """The copy of ``experiment``'s best-FID snapshot under its snapshot protocol."""
    from ganbench.metrics.paths import best_snapshot_path

    exp = next(e for e in config["experiments"] if e["name"] == experiment)
    return best_snapshot_path(experiment, experiment_snapshot_protocol(config, exp).name)


def selection_generator(config: dict, name: str) -> str:
    """The checkpoint a selection probes: its generator's final.pt or best-FID snapshot (``snapshot``)."""
    sel = config["selections"][name]
    if sel["snapshot"] == "best_fid":
        return best_fid_file(config, sel["generator"])
    return f"results/runs/{sel['generator']}/final.pt"


def experiment_order(config: dict, source: str = "config") -> list[str]:
    """Experiment names with every parent before its children; a cycle is a one-line ConfigError."""
    experiments = {e["name"]: e for e in config["experiments"]}
    index = {e["name"]: i for i, e in enumerate(config["experiments"])}
    order, state = [], {}

    def visit(name, path):
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            cycle = path[path.index(name) :] + [name]
            raise ConfigError(f"{source}: experiments.{index[name]}.inputs: a cycle of parents: {' -> '.join(cycle)}")
        state[name] = "visiting"
        for given in experiments[name]["inputs"].values():
            parent = parent_experiment(given)
            if parent is not None:
                visit(parent, path + [name])
        state[name] = "done"
        order.append(name)

    for name in experiments:
        visit(name, [])
    return order


def input_files(config: dict, experiment: dict) -> dict[str, str]:
    """The file behind each of an experiment's inputs, by role: what the train rule lists as inputs
    and what ``ganbench train`` passes to the loop."""
    files = {}
    for role, given in experiment["inputs"].items():
        ((kind, value),) = given.items()
        if kind == "run":
            files[role] = f"results/runs/{value}/final.pt"
        elif kind == "best_fid":  # rule best_fid_snapshot
            files[role] = best_fid_file(config, value)
        elif kind == "annotations":
            files[role] = f"results/data/{value}-{experiment['resolution']}/annotations.h5"
        elif kind == "selection":
            files[role] = f"results/selection/{value}.json"
        elif kind == "network":  # rule import_network
            files[role] = f"results/networks/{value}.ckpt.pt"
        elif kind == "weights" and value == "probe":  # the pipeline's trained probe (rule train_probe)
            files[role] = config["metrics"].get("weights", {}).get("probe", PROBE_FILE)
        elif kind == "weights" and not Path(value).is_file():
            files[role] = f"results/weights/{value}.pth"
        else:
            files[role] = value
    return files


def _check_data_resolutions(config: dict, source: str) -> None:
    """Each dataset can be prepared at every resolution the pipeline will ask of it."""
    from ganbench.data.synthetic import MAX_RESOLUTION, MIN_RESOLUTION

    for i, exp in enumerate(config["experiments"]):
        for scale in eval_scales(config, exp):
            res = exp["resolution"] * scale
            if (
                config["datasets"][exp["dataset"]]["source"] == "synthetic"
                and not MIN_RESOLUTION <= res <= MAX_RESOLUTION
            ):
                raise ConfigError(
                    f"{source}: experiments.{i}.resolution: {exp['resolution']} x scale {scale} of "
                    f"metrics.any_scale.scales asks for the synthetic data at {res} px, outside what it renders "
                    f"({MIN_RESOLUTION}..{MAX_RESOLUTION})"
                )


def eval_scales(config: dict, experiment: dict) -> list[int]:
    """The output scales an experiment is evaluated at: metrics.any_scale.scales for any-scale methods, else [1]."""
    if experiment["method"] not in methods_with("any_scale"):
        return [1]
    return sorted(set(config["metrics"]["any_scale"]["scales"]) | {1})


def any_scale_results(config: dict, experiment: dict) -> dict[str, list[str]]:
    """The result files (stems in results/eval/{experiment}/) of the any-scale evaluation, by the job writing
    them: ``fid`` (FID at each scale > 1), ``consistency`` and ``cost``; empty for other methods."""
    if experiment["method"] not in methods_with("any_scale"):
        return {"fid": [], "consistency": [], "cost": []}
    return any_scale_names(config["metrics"]["any_scale"]["scales"])


def any_scale_names(scales: list[int]) -> dict[str, list[str]]:
    """:func:`any_scale_results` for an any-scale method evaluated at ``scales`` (1 is always included)."""
    scales = sorted(set(scales) | {1})
    above = [s for s in scales if s > 1]
    cost = [f"{prefix}{m}-scale{s}" for prefix in ("", "stylegan2-") for m in ("time_ms", "peak_mb") for s in scales]
    cost += ["params_m", "stylegan2-params_m"]
    return {
        "fid": [f"fid-scale{s}" for s in above],
        "consistency": [f"{m}-scale{s}" for m in ("psnr", "subgrid_err") for s in above],
        "cost": cost,
    }


def cost_baseline(config: dict, experiment: dict) -> dict:
    """The StyleGAN2 an any-scale experiment's render cost is compared with: ``{"experiment", "options"}``."""
    chosen = config["metrics"]["any_scale"]["baseline"]
    for exp in config["experiments"]:
        if exp["method"] != "stylegan2":
            continue
        if exp["name"] == chosen or (
            chosen is None and (exp["dataset"], exp["resolution"]) == (experiment["dataset"], experiment["resolution"])
        ):
            return {"experiment": exp["name"], "options": exp["options"]}
    return {"experiment": None, "options": {}}


def dataset_targets(config: dict) -> list[tuple[str, int]]:
    """Every (dataset, resolution) pair the pipeline prepares: data.resolutions, what experiments use
    (any-scale methods: at every evaluated scale), and what the probe feature extractor trains on."""
    pairs = {
        (name, res)
        for name, d in config["datasets"].items()
        if d["source"] != "pairs"  # generated pairs exist at their annotator's resolution only
        for res in config["data"]["resolutions"]
    }
    pairs |= {
        (exp["dataset"], exp["resolution"] * s)
        for exp in config["experiments"]
        if config["datasets"][exp["dataset"]]["source"] != "pairs"  # generated pairs are made, not summarised
        for s in eval_scales(config, exp)
    }
    pairs |= {(r["dataset"], r["resolution"]) for r in released_runs(config)}
    if config["experiments"]:  # the probe extractor is trained only when something is evaluated
        pairs |= {(name, config["metrics"]["probe"]["resolution"]) for name in probe_datasets(config)}
    return sorted(pairs)


def probe_datasets(config: dict) -> list[str]:
    """The labelled datasets the probe feature extractor trains on."""
    chosen = config["metrics"]["probe"]["datasets"]
    return chosen if chosen is not None else [n for n, d in config["datasets"].items() if d["source"] == "synthetic"]


def result_names(metrics: list[str]) -> list[str]:
    """The result files one evaluation writes, ``results/eval/{experiment}/{protocol}/{name}.json``, for
    ``metrics`` (``pr`` is written as ``precision`` and ``recall``)."""
    return [name for metric in metrics for name in (("precision", "recall") if metric == "pr" else (metric,))]


PROBE_FILE = "results/probe/probe.pt"


def _check_selections(config: dict, source: str) -> None:
    """Vision-aided selections: a generator experiment of this config and known, distinct candidate backbones."""
    from ganbench.methods.options import VISION_BACKBONES

    experiments = {e["name"]: e for e in config["experiments"]}
    for name, sel in config.get("selections", {}).items():
        where = f"{source}: selections.{name}"
        gen = experiments.get(sel["generator"])
        if gen is None or "generator" not in CATALOG[gen["method"]].provides:
            raise ConfigError(
                f"{where}.generator: {sel['generator']!r} is not a GAN experiment of this config"
                f"{did_you_mean(sel['generator'], experiments, 'defined')}"
            )
        if sel["snapshot"] == "best_fid":
            _check_best_fid(config, sel["generator"], f"{where}.snapshot")
        for c in sel["candidates"]:
            if c not in VISION_BACKBONES:
                raise ConfigError(f"{where}.candidates: unknown backbone {c!r} (known: {', '.join(VISION_BACKBONES)})")
        if len(set(sel["candidates"])) != len(sel["candidates"]):
            raise ConfigError(f"{where}.candidates: a backbone is named twice")
        for earlier in sel["after"]:
            if earlier not in config["selections"] or earlier == name:
                raise ConfigError(f"{where}.after: {earlier!r} is not another selection of this config")
        for c in sel["weights"]:
            if c not in sel["candidates"]:
                raise ConfigError(f"{where}.weights.{c}: not one of the candidates")


RELEASED_DIR = "_released"  # results/eval/_released/{name}/: never an experiment name (those start alphanumeric)


def _check_released(config: dict, source: str) -> None:
    """Released networks: an importable network of config/weights.yaml, a dataset of this config, a known method."""
    from ganbench.metrics.weights import load_weights_registry

    networks = {n: e for n, e in load_weights_registry(kind="network").items() if e.get("method")}
    for name, entry in config.get("released", {}).items():
        where = f"{source}: released.{name}"
        if entry["network"] not in networks:
            raise ConfigError(
                f"{where}.network: {entry['network']!r} is not an importable network of config/weights.yaml"
                f"{did_you_mean(entry['network'], networks, 'names')}"
            )
        if entry["dataset"] not in config["datasets"]:
            raise ConfigError(
                f"{where}.dataset: unknown dataset {entry['dataset']!r}"
                f"{did_you_mean(entry['dataset'], config['datasets'])}"
            )
        if entry["method"] is not None and entry["method"] not in CATALOG:
            raise ConfigError(
                f"{where}.method: unknown method {entry['method']!r}{did_you_mean(entry['method'], CATALOG)}"
            )
        released_protocols(config, name, where)


def released_protocols(config: dict, name: str, source: str = "config"):
    """The GAN protocols released network ``name`` is measured under, by name (default: the configured ones)."""
    from ganbench.metrics.protocols import gan_protocols, named_protocol

    names = config["released"][name]["protocols"]
    if names is None:
        return {p.name: p for p in gan_protocols(config["metrics"])}
    return {n: named_protocol(config["metrics"], n, f"{source}.protocols.{i}") for i, n in enumerate(names)}


def released_runs(config: dict) -> list[dict]:
    """The released networks as the tables see them: name ``_released/{name}`` (their eval folder), the method
    the published numbers name, the dataset compared with, the network's resolution, ``released``: the network."""
    from ganbench.metrics.weights import load_weights_registry

    networks = load_weights_registry(kind="network")
    return [
        {
            "name": f"{RELEASED_DIR}/{name}",
            "method": entry["method"] or networks[entry["network"]]["method"],
            "dataset": entry["dataset"],
            "resolution": networks[entry["network"]]["resolution"],
            "released": entry["network"],
            "protocols": list(released_protocols(config, name)),
        }
        for name, entry in config.get("released", {}).items()
    ]


def selection_weights(config: dict, name: str) -> dict[str, str | None]:
    """Each candidate's weights file of selection ``name`` (None: needs none): the selection's ``weights``, else
    the trained probe's file or the backbone's download (results/weights/{entry}.pth)."""
    from ganbench.methods.options import VISION_BACKBONE_WEIGHTS

    sel = config["selections"][name]
    out = {}
    for c in sel["candidates"]:
        given, entry = sel["weights"].get(c), VISION_BACKBONE_WEIGHTS[c]
        if entry is None:
            out[c] = None
        elif given is not None:
            out[c] = given if Path(given).is_file() or "/" in given else f"results/weights/{given}.pth"
        elif entry == "probe":
            out[c] = config["metrics"].get("weights", {}).get("probe", PROBE_FILE)
        else:
            out[c] = f"results/weights/{entry}.pth"
    return out

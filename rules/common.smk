# Helpers shared by every stage: which datasets exist, of which source, and where their inputs are.
import re

from ganbench.config import (
    any_scale_names,
    cost_baseline,
    dataset_targets,
    input_files,
    pairs_test_dataset,
    probe_datasets,
    RELEASED_DIR,
    released_runs,
    selection_generator,
    selection_weights,
    training_experiment,
)
from ganbench.data.registry import archive_name
from ganbench.methods.catalog import FIGURES, experiment_figures, methods_with, train_data_file
from ganbench.metrics import paths, plan
from ganbench.metrics.weights import load_weights_registry, network_file
from ganbench.tables.specs import configured_specs

DATASETS = config["datasets"]
EXPERIMENTS = {e["name"]: e for e in config["experiments"]}
DATA_TARGETS = dataset_targets(config)


def names_matching(source):
    """A wildcard regex accepting exactly the dataset names of one source ('(?!)' matches nothing)."""
    names = [re.escape(n) for n, d in DATASETS.items() if d["source"] in source]
    return "|".join(names) or "(?!)"


def data_dir(dataset, res):
    return f"results/data/{dataset}-{res}"


def dataset_spec(wildcards):
    return DATASETS[wildcards.dataset]


def raw_source(wildcards):
    """The folder or downloaded archive an imported dataset is converted from."""
    spec = DATASETS[wildcards.dataset]
    if spec["source"] == "folder":
        return spec["path"]
    return f"results/downloads/{spec['id']}/{archive_name(spec['id'])}"


METRICS_CFG = config["metrics"]
# every GAN protocol by name (ganbench.metrics.protocols): metrics.protocols', then experiments' own
PROTOCOLS = plan.protocols_of(config)
ALL_GAN_PROTOCOLS = plan.all_gan_protocols(config)  # and those only released networks are measured under
STATSKEYS = sorted({p.statskey for p in ALL_GAN_PROTOCOLS.values()})
FID_PROTOCOLS = "|".join(re.escape(n) for n, p in PROTOCOLS.items() if "fid" in p.metrics) or "(?!)"
# a best-FID snapshot may be picked under any of them (metrics.snapshot_protocol: a cheaper one; rules/evaluate.smk)
SNAPSHOT_PROTOCOLS = "|".join(re.escape(n) for n, p in ALL_GAN_PROTOCOLS.items() if "fid" in p.metrics) or "(?!)"


def extractor_weights(name):
    """The weights file of a feature extractor: an explicit path, the trained probe, or a download."""
    if name in METRICS_CFG["weights"]:
        return METRICS_CFG["weights"][name]
    if name == "probe":
        return "results/probe/probe.pt"
    return f"results/weights/{name}.pth"


def statskey_extractor(statskey):
    """The extractor of a statistics key (``probe``, ``inception-v3-compat-first10000``, ...)."""
    return next(p.extractor for p in ALL_GAN_PROTOCOLS.values() if p.statskey == statskey)


def statskey_reals(statskey):
    return next(p.reals for p in ALL_GAN_PROTOCOLS.values() if p.statskey == statskey)


ANY_SCALE = METRICS_CFG["any_scale"]


def experiments_with(evaluation):
    """The experiments whose method's catalog entry has the evaluation group ``evaluation``."""
    return [n for n, e in EXPERIMENTS.items() if e["method"] in methods_with(evaluation)]


def parent_inputs(experiment):
    """An experiment's inputs by role (``input_{role}``): a job that rebuilds its frozen parts reads them."""
    return {f"input_{role}": path for role, path in input_files(config, EXPERIMENTS[experiment]).items()}


def experiment_regex(names):
    """A wildcard regex accepting exactly these experiment names ('(?!)' matches nothing)."""
    return "|".join(map(re.escape, names)) or "(?!)"


ANY_SCALE_EXPERIMENTS = experiments_with("any_scale")
SEGMENTATION_PROTOCOLS = plan.segmentation_protocols(config)


def eval_files(experiment):
    """Every result file of an experiment, by its method's evaluation groups (ganbench.methods.catalog)."""
    return plan.eval_files(config, EXPERIMENTS[experiment])


def stats_file(dataset, res, protocol):
    return plan.stats_file(config, dataset, res, protocol)


EXPERIMENT_NAMES = "|".join(map(re.escape, EXPERIMENTS)) or "(?!)"


def eval_report(path, experiment, protocol, name):
    """An evaluation JSON marked for the report, under "Evaluation", by experiment, protocol and result."""
    return report(
        path,
        category="Evaluation",
        subcategory=experiment,
        labels={"experiment": experiment, "protocol": protocol or "-", "result": name},
    )


FLOOR_FILES = plan.floor_files(config)
RELEASED_FILES = plan.released_files(config)  # released networks measured like runs (rules/evaluate.smk)
RELEASED = {r["name"].split("/", 1)[1]: r for r in released_runs(config)}
TABLES = configured_specs(
    config["tables"],
    config["experiments"],
    list(ALL_GAN_PROTOCOLS.values()),
    scales=ANY_SCALE["scales"],
    datasets=config["datasets"],
    defaults=plan.default_protocols(config),
    released=released_runs(config),
)


# LAGM's generated pairs (rules/lagm.smk) and the test split a segmenter is scored on (rules/stages.smk)
def pairs_annotator(dataset):
    return EXPERIMENTS[DATASETS[dataset]["experiment"]]


def pairs_shards(dataset):
    spec = DATASETS[dataset]
    return range((spec["count"] + spec["shard_size"] - 1) // spec["shard_size"])


def network_import_inputs(wildcards):
    """A released network's file and, for a StyleGAN (v1) state dict, the release's average latent."""
    networks = load_weights_registry(kind="network")
    entry = networks[wildcards.name]
    files = {"network": network_file(wildcards.name, entry)}
    if entry.get("avg_latent"):
        files["avg_latent"] = network_file(entry["avg_latent"], networks[entry["avg_latent"]])
    return files


def segmenter_test_files(experiment):
    """The labelled test split a segmenter is scored on: its dataset's, or for generated pairs that of the
    labelled set their annotator learned from."""
    exp = EXPERIMENTS[experiment]
    test = pairs_test_dataset(config, exp["dataset"])
    directory = data_dir(test, exp["resolution"])
    if test == exp["dataset"]:
        return {"data": f"{directory}/images.zip", "annotations": input_files(config, exp)["annotations"]}
    return {"data": f"{directory}/images.zip", "annotations": f"{directory}/annotations.h5"}


# Vision-aided GAN: the inputs of a backbone selection (rules/vision_aided.smk)
SELECTIONS = config["selections"]


def selection_inputs(name):
    sel = SELECTIONS[name]
    gen = EXPERIMENTS[sel["generator"]]
    return {
        "generator": selection_generator(config, name),
        "data": f"{data_dir(gen['dataset'], gen['resolution'])}/images.zip",
        **{f"weights_{c}": path for c, path in selection_weights(config, name).items() if path is not None},
        "after": [f"results/selection/{s}.json" for s in sel["after"]],
    }

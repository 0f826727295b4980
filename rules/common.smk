# Helpers shared by every stage: which datasets exist, of which source, and where their inputs are.
import re

from ganbench.config import (
    any_scale_names,
    any_scale_results,
    cost_baseline,
    dataset_targets,
    input_files,
    probe_datasets,
    result_names,
)
from ganbench.data.registry import archive_name
from ganbench.methods.catalog import CATALOG, experiment_figures, methods_with
from ganbench.metrics.weights import load_weights_registry
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
EXTRACTOR = METRICS_CFG["feature_extractor"]


def extractor_weights(name):
    """The weights file of a feature extractor: an explicit path, the trained probe, or a download."""
    if name in METRICS_CFG["weights"]:
        return METRICS_CFG["weights"][name]
    if name == "probe":
        return "results/probe/probe.pt"
    return f"results/weights/{name}.pth"



ANY_SCALE = METRICS_CFG["any_scale"]


def experiments_with(evaluation):
    """The experiments whose method's catalog entry has the evaluation group ``evaluation``."""
    return [n for n, e in EXPERIMENTS.items() if e["method"] in methods_with(evaluation)]


def experiment_regex(names):
    """A wildcard regex accepting exactly these experiment names ('(?!)' matches nothing)."""
    return "|".join(map(re.escape, names)) or "(?!)"


ANY_SCALE_EXPERIMENTS = experiments_with("any_scale")
RECONSTRUCTION_METRICS = ("mse", "psnr")


def eval_files(experiment):
    """Every result file of an experiment, by its method's evaluation groups (the catalog): the
    configured GAN metrics; for any-scale methods the FID at each scale, the consistency scores and
    the render cost; for encoders the reconstruction scores."""
    groups = CATALOG[EXPERIMENTS[experiment]["method"]].evaluations
    names = result_names(METRICS_CFG["metrics"]) if "gan" in groups else []
    names += [n for group in any_scale_results(config, EXPERIMENTS[experiment]).values() for n in group]
    if "reconstruction" in groups:
        names += [f"reconstruction/{m}" for m in RECONSTRUCTION_METRICS]
    return [f"results/eval/{experiment}/{name}.json" for name in names]


def stats_file(dataset, res):
    return f"results/stats/{dataset}-{res}-{EXTRACTOR}.h5"


TABLES = configured_specs(config["tables"], config["experiments"], result_names(METRICS_CFG["metrics"]),
                          scales=ANY_SCALE["scales"])

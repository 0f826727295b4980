# Helpers shared by every stage: which datasets exist, of which source, and where their inputs are.
import re

from ganbench.config import dataset_targets
from ganbench.data.registry import archive_name

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


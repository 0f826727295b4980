"""Configuration: the embedded default and paper grid validate; bad configs fail with one line naming the key."""

from __future__ import annotations

import copy

import pytest
import yaml

from ganbench.config import dataset_targets, load_config, validate_config
from ganbench.errors import ConfigError

from conftest import REPO_ROOT

BASE = {
    "datasets": {"faces": {"source": "synthetic", "category": "face"}},
    "experiments": [{"name": "e1", "method": "stylegan2", "dataset": "faces", "resolution": 32}],
}


def test_embedded_default_is_valid_and_gets_defaults():
    config = load_config(REPO_ROOT / "config" / "config.yaml")
    assert config["data"]["tfrecord"] is True
    assert config["datasets"]["synthfaces"]["test_fraction"] == 0.1
    assert ("synthfaces", 32) in dataset_targets(config)


def test_defaults_filled_everywhere():
    config = validate_config(copy.deepcopy(BASE))
    assert config["datasets"]["faces"]["count"] == 2000
    assert config["data"] == {"resolutions": [32], "tfrecord": True, "preview_count": 8}
    assert config["experiments"][0]["kimg"] == 20 and config["experiments"][0]["options"] == {}
    assert dataset_targets(config) == [("faces", 32)]


def mutate(path, value):
    config = copy.deepcopy(BASE)
    node = config
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return config


@pytest.mark.parametrize(
    "path, value, message",
    [
        (("datasets", "faces", "cout"), 3, r"datasets\.faces\.cout: unknown key \(did you mean 'count'\?\)"),
        (("datasets", "faces", "count"), "many", r"datasets\.faces\.count: expected integer, got str 'many'"),
        (("datasets", "faces", "category"), "cat", r"datasets\.faces\.category: unknown value 'cat'"),
        (("datasets", "faces", "source"), "ftp", r"datasets\.faces\.source: unknown value 'ftp'"),
        (("datasets", "faces"), {"source": "folder"}, r"datasets\.faces: missing required key 'path'"),
        (("datasets", "faces", "path"), "/x", r"datasets\.faces\.path: unknown key"),
        (("experiments", 0, "method"), "biggan", r"experiments\.0\.method: unknown value 'biggan'"),
        (
            ("experiments", 0, "dataset"),
            "facez",
            r"experiments\.0\.dataset: unknown dataset 'facez' \(did you mean 'faces'\?\)",
        ),
        (("experiments", 0, "resolution"), 4, r"experiments\.0\.resolution: 4 is less than the minimum of 8"),
        (("datsets",), {}, r"datsets: unknown key \(did you mean 'datasets'\?\)"),
        (
            ("datasets", "faces"),
            {"source": "download", "id": "celebamaskhq"},
            r"datasets\.faces\.id: 'celebamaskhq' is not in config/datasets\.yaml",
        ),
    ],
)
def test_bad_config_names_the_key(path, value, message):
    with pytest.raises(ConfigError, match=message) as info:
        validate_config(mutate(path, value), "my.yaml")
    assert str(info.value).startswith("my.yaml: ") and "\n" not in str(info.value)


def test_duplicate_experiment_names():
    config = copy.deepcopy(BASE)
    config["experiments"].append(dict(config["experiments"][0]))
    with pytest.raises(ConfigError, match=r"experiments\.1\.name: duplicate experiment name 'e1'"):
        validate_config(config)


def test_unreadable_files(tmp_path):
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("datasets: {a: [\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: not valid YAML at line"):
        load_config(bad)
    bad.write_text(yaml.safe_dump([1, 2]))
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(bad)

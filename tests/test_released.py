"""Released networks measured like runs (config `released:`): validation, their result files and protocols, and the
Vision-aided released-model table with the README's value beside ours only under a matching protocol."""

from __future__ import annotations

import copy
import json

import pytest

from ganbench.config import released_runs, validate_config
from ganbench.errors import ConfigError
from ganbench.metrics import plan
from ganbench.metrics.protocols import get_protocol
from ganbench.tables.render import build_table
from ganbench.tables.specs import configured_specs

from test_stages import config_with, gan

CHURCH = {"source": "download", "id": "lsun-church", "transform": "center-crop"}


def _config(**entry):
    config = config_with(gan(), **{"lsun-church": CHURCH})
    config["released"] = {
        "va-church": {"network": "vision-aided-gan-lsunchurch-ada-3", "dataset": "lsun-church", **entry}
    }
    return config


def test_a_released_network_is_a_run_under_its_protocols():
    config = validate_config(_config(method="vision_aided", protocols=["clean_fid50k_full", "fid50k_full"]))
    (run,) = released_runs(config)
    assert run == {
        "name": "_released/va-church",
        "method": "vision_aided",
        "dataset": "lsun-church",
        "resolution": 256,
        "released": "vision-aided-gan-lsunchurch-ada-3",
        "protocols": ["clean_fid50k_full", "fid50k_full"],
    }
    assert plan.released_files(config) == [
        "results/eval/_released/va-church/clean_fid50k_full/fid.json",
        "results/eval/_released/va-church/clean_fid50k_full/kid.json",
        "results/eval/_released/va-church/fid50k_full/fid.json",
    ]
    assert list(plan.all_gan_protocols(config)) == ["probe2k_full", "clean_fid50k_full", "fid50k_full"]
    default = validate_config(_config())  # the network's method, the configured protocols
    assert released_runs(default)[0]["method"] == "stylegan2" and released_runs(default)[0]["protocols"] == [
        "probe2k_full"
    ]


@pytest.mark.parametrize(
    "entry, message",
    [
        (
            {"network": "vision-aided-gan-lsunchurch"},
            "released.va-church.network: 'vision-aided-gan-lsunchurch' is not",
        ),
        ({"network": "inception-v3-compat"}, "is not an importable network of config/weights.yaml"),
        ({"dataset": "lsun-chruch"}, "released.va-church.dataset: unknown dataset 'lsun-chruch'"),
        ({"method": "visionaided"}, "released.va-church.method: unknown method 'visionaided'"),
        ({"protocols": ["clean_fid5k"]}, "released.va-church.protocols.0: unknown protocol 'clean_fid5k'"),
        ({"protocols": ["fg_miou"]}, "'fg_miou' is a segmentation protocol"),
        ({"size": 3}, "released.va-church.size: unknown key"),
    ],
)
def test_bad_released_entries_are_one_line(entry, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(_config(**entry))


def _write(root, run, protocol, metric, value):
    p = get_protocol(protocol)
    path = root / run / protocol / f"{metric}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"metric": metric, "value": value, "protocol": {**p.record(), "num_real": 10}}
    path.write_text(json.dumps(record))


def test_the_released_table_shows_the_readme_value_only_under_the_clean_protocol(tmp_path):
    config = validate_config(_config(method="vision_aided", protocols=["clean_fid50k_full", "fid50k_full"]))
    released = released_runs(config)
    specs = configured_specs(
        ["vision_aided", "cross_method"], config["experiments"], ["probe2k_full"], released=released
    )
    (spec,) = [s for s in specs if s.name == "vision_aided_released"]
    assert all(not s.selects(released[0]) for s in specs if s is not spec)  # no other table takes it as a run
    assert [c.protocol for c in spec.columns] == ["clean_fid50k_full", "clean_fid50k_full", "fid50k_full"]
    root = tmp_path / "eval"
    _write(root, "_released/va-church", "clean_fid50k_full", "fid", 1.9)
    _write(root, "_released/va-church", "clean_fid50k_full", "kid", 0.0004)
    _write(root, "_released/va-church", "fid50k_full", "fid", 2.1)
    table = build_table(spec, [*copy.deepcopy(config["experiments"]), *released], root)
    (line,) = table.cells
    assert line[0].values == [1.9] and line[0].published is not None and line[0].published.value == 1.72
    assert line[0].published.protocol_inferred  # the README does not state its protocol
    assert line[1].values == [pytest.approx(0.4)]  # KID x10^3
    assert line[2].values == [2.1] and line[2].published is None and line[2].hidden >= 1  # not fid50k_full's

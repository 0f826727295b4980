"""Named evaluation protocols: the registry, its checks, the config keys that name them, the paths they key."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest

from ganbench.config import validate_config
from ganbench.errors import ConfigError
from ganbench.metrics import paths, plan
from ganbench.metrics.protocols import PROTOCOLS, derive_protocol, get_protocol, register_protocol

BASE = {
    "datasets": {"faces": {"source": "synthetic", "category": "face"}},
    "experiments": [
        {"name": "e1", "method": "stylegan2", "dataset": "faces", "resolution": 32},
        {"name": "c1", "method": "creps", "dataset": "faces", "resolution": 32},
    ],
}


def config_with(metrics=None, tables=None):
    config = copy.deepcopy(BASE)
    if metrics is not None:
        config["metrics"] = metrics
    if tables is not None:
        config["tables"] = tables
    return validate_config(config, "my.yaml")


def test_the_papers_protocols_are_registered():
    probe = PROTOCOLS["probe2k_full"]
    assert (
        probe.extractor,
        probe.num_gen,
        probe.reals,
        probe.metrics,
        probe.truncation,
        probe.seed,
        probe.kid_subset_size,
        probe.kid_subsets,
    ) == ("probe", 2000, None, ("fid", "kid", "pr"), 1.0, 0, 1000, 100)
    assert PROTOCOLS["fid50k_full"].reference == "full" and PROTOCOLS["fid50k_full"].num_gen == 50000
    assert PROTOCOLS["kid50k_full"].kid_scale == 1000 and PROTOCOLS["kid50k_full"].metrics == ("kid",)
    assert PROTOCOLS["fid10k"].reference == "first-10000" and PROTOCOLS["fid10k"].num_gen == 10000
    assert PROTOCOLS["fid50k_ttur"].reals == 50000 and PROTOCOLS["fid50k_ttur_hq"].reals == 30000
    assert PROTOCOLS["miou_cv5"].kind == "segmentation" and PROTOCOLS["miou_cv5"].folds == 5
    assert PROTOCOLS["fg_miou"].background is False
    with pytest.raises(ConfigError, match="has no feature statistics"):
        PROTOCOLS["fg_miou"].statskey


def test_protocols_with_the_same_extractor_and_reals_share_statistics():
    assert PROTOCOLS["fid50k_full"].statskey == PROTOCOLS["kid50k_full"].statskey == "inception-v3-compat"
    assert PROTOCOLS["fid10k"].statskey == "inception-v3-compat-first10000"
    assert PROTOCOLS["probe2k_full"].statskey == "probe"  # the embedded default's file name is unchanged
    assert paths.stats_path("faces", 32, "probe") == "results/stats/faces-32-probe.h5"


@pytest.mark.parametrize(
    "fields, message",
    [
        (
            {"kind": "gan", "extractor": "inceptoin", "num_gen": 10, "metrics": ("fid",)},
            r"extractor: unknown value 'inceptoin' \(known: probe, inception-v3-compat, clean-fid\)",
        ),
        (
            {"kind": "gan", "extractor": "probe", "num_gen": 10, "metrics": ("fid",), "truncation": -0.5},
            r"truncation: -0.5 is negative",
        ),
        (
            {"kind": "gan", "extractor": "probe", "num_gen": 10, "metrics": ("fdi",)},
            r"unknown gan metric 'fdi' \(did you mean 'fid'\?\)",
        ),
        (
            {"kind": "gan", "extractor": "probe", "num_gen": 1, "metrics": ("fid",)},
            r"num_gen: expected an integer >= 2, got 1",
        ),
        ({"kind": "gan", "extractor": "probe", "num_gen": 10, "metrics": ()}, r"metrics: name at least one"),
        ({"kind": "segmentation", "metrics": ("fid",)}, r"unknown segmentation metric 'fid'"),
        ({"kind": "segmentation", "metrics": ("miou",), "folds": 0}, r"folds: expected an integer >= 1"),
        ({"kind": "gans", "metrics": ("fid",)}, r"kind: unknown value 'gans' \(did you mean 'gan'\?\)"),
    ],
)
def test_registration_checks_its_arguments(fields, message):
    with pytest.raises(ConfigError, match=message) as info:
        register_protocol("test_bad", **fields)
    assert "\n" not in str(info.value) and "test_bad" not in PROTOCOLS


def test_a_name_is_registered_once_and_unknown_names_get_a_hint():
    with pytest.raises(ConfigError, match="already registered"):
        register_protocol("fid50k_full", kind="gan", extractor="probe", num_gen=10, metrics=("fid",))
    with pytest.raises(ConfigError, match=r"unknown protocol 'fid50k_ful' \(did you mean 'fid50k_full'\?\)"):
        get_protocol("fid50k_ful")
    with pytest.raises(ConfigError, match=r"unknown protocol field \(did you mean 'num_gen'\?\)"):
        derive_protocol("probe2k_full", "x", numgen=3)


def test_default_config_keeps_the_embedded_protocol():
    config = config_with()
    assert config["metrics"]["protocols"] == ["probe2k_full"] and config["metrics"]["custom"] == {}
    assert list(plan.protocols_of(config)) == ["probe2k_full"]
    assert plan.stats_file(config, "faces", 32, "probe2k_full") == "results/stats/faces-32-probe.h5"


def test_several_protocols_coexist_in_one_run():
    config = config_with(
        {
            "protocols": ["probe2k_full", "tiny"],
            "custom": {"tiny": {"base": "probe2k_full", "num_gen": 16, "metrics": ["fid"]}},
            "any_scale": {"scales": [1, 2]},
        }
    )
    protocols = plan.protocols_of(config)
    assert protocols["tiny"].num_gen == 16 and protocols["tiny"].extractor == "probe"
    assert protocols["tiny"].statskey == protocols["probe2k_full"].statskey  # one statistics file for both
    sg2 = plan.eval_files(config, config["experiments"][0])
    assert "results/eval/e1/probe2k_full/kid.json" in sg2 and "results/eval/e1/tiny/fid.json" in sg2
    assert "results/eval/e1/tiny/kid.json" not in sg2
    creps = plan.eval_files(config, config["experiments"][1])
    assert {
        "results/eval/c1/tiny/fid-scale2.json",
        "results/eval/c1/probe2k_full/fid-scale2.json",
        "results/eval/c1/psnr-scale2.json",
    } <= set(creps)
    assert plan.floor_targets(config) == [
        ("faces", 32, "probe2k_full"),
        ("faces", 32, "tiny"),
        ("faces", 64, "probe2k_full"),
        ("faces", 64, "tiny"),
    ]
    assert "results/eval/_real/faces-64/tiny/fid.json" in plan.floor_files(config)


@pytest.mark.parametrize(
    "metrics, tables, message",
    [
        (
            {"protocols": ["kid50k_ful"]},
            None,
            r"^my.yaml: metrics.protocols.0: unknown protocol 'kid50k_ful' \(did you mean 'kid50k_full'\?\)$",
        ),
        ({"protocols": ["probe2k_full", "probe2k_full"]}, None, r"metrics.protocols.1: 'probe2k_full' is listed twice"),
        ({"protocols": []}, None, r"metrics.protocols: \[\] should be non-empty"),
        (
            {"custom": {"fid10k": {"base": "fid50k_full"}}},
            None,
            r"metrics.custom.fid10k: 'fid10k' is a registered protocol",
        ),
        ({"custom": {"mine": {"base": "fid5k"}}}, None, r"metrics.custom.mine.base: unknown protocol 'fid5k'"),
        (
            {"custom": {"mine": {"base": "fid50k_full", "num_gne": 3}}},
            None,
            r"metrics.custom.mine.num_gne: unknown key \(did you mean 'num_gen'\?\)",
        ),
        (
            {"custom": {"mine": {"base": "fid50k_full", "truncation": -1}}},
            None,
            r"metrics.custom.mine.truncation: -1 is less than the minimum of 0",
        ),
        (
            {"custom": {"mine": {"base": "fid50k_full", "metrics": ["kdi"]}}},
            None,
            r"metrics.custom.mine: metrics: unknown gan metric 'kdi' \(did you mean 'kid'\?\)",
        ),
        (None, ["baseline", "crepz"], r"tables.1: unknown table 'crepz' \(did you mean 'creps'\?\)"),
        ({"feature_extractor": "probe"}, None, r"metrics.feature_extractor: unknown key"),
    ],
)
def test_bad_protocol_config_names_the_key(metrics, tables, message):
    with pytest.raises(ConfigError, match=message) as info:
        config_with(metrics, tables)
    assert "\n" not in str(info.value)


def test_registry_paths_and_specs_import_without_torch():
    code = (
        "import sys; import ganbench.metrics.protocols, ganbench.metrics.paths, ganbench.metrics.plan, "
        "ganbench.tables.specs, ganbench.metrics.segmentation; "
        "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if 'torch' in m)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    "registered, published",
    [
        ("fid10k", "coordgan-fid"),
        ("fid50k_ttur", "cocogan-fid"),
        ("fid50k_ttur_hq", "cocogan-fid-hq"),
        ("fid50k_full", "creps-fid"),
    ],
)
def test_registered_protocols_match_the_papers_published_protocols(registered, published):
    """What an evaluation JSON records for a paper's protocol covers the published record's protocol, so the
    tables can put the paper's number beside ours."""
    import yaml

    from ganbench.tables.published import PUBLISHED_PATH

    theirs = yaml.safe_load(PUBLISHED_PATH.read_text())["protocols"][published]
    ours = PROTOCOLS[registered].record()
    assert {k: ours.get(k) for k in theirs} == theirs


def test_an_experiment_measured_by_its_papers_own_protocol():
    config = copy.deepcopy(BASE)
    config["experiments"][1]["protocols"] = ["fid50k_ttur", "tiny"]
    config["metrics"] = {
        "protocols": ["probe2k_full", "fg_miou"],
        "custom": {"tiny": {"base": "probe2k_full", "num_gen": 16, "metrics": ["fid"]}},
    }
    config = validate_config(config, "my.yaml")
    assert list(plan.protocols_of(config)) == ["probe2k_full", "fid50k_ttur", "tiny"]
    assert plan.default_protocols(config) == ["probe2k_full"]
    creps = plan.eval_files(config, config["experiments"][1])
    assert "results/eval/c1/fid50k_ttur/fid.json" in creps and "results/eval/c1/tiny/fid-scale2.json" in creps
    assert not any("/probe2k_full/" in f for f in creps)
    assert not any("fid50k_ttur" in f or "/tiny/" in f for f in plan.eval_files(config, config["experiments"][0]))
    assert ("faces", 32, "fid50k_ttur") in plan.floor_targets(config)
    assert ("faces", 32, "probe2k_full") in plan.floor_targets(config)  # e1's
    stats = plan.stats_file(config, "faces", 32, "fid50k_ttur")
    assert stats == "results/stats/faces-32-inception-v3-compat-first50000.h5"


def test_the_protocols_an_experiment_is_measured_by_never_change_how_it_trains():
    from ganbench.config import training_experiment
    from ganbench.train.checkpoint import same_trajectory

    config = copy.deepcopy(BASE)
    config["experiments"][0]["protocols"] = ["fid50k_ttur"]
    exp = validate_config(config, "my.yaml")["experiments"][0]
    plain = training_experiment(exp)
    assert "protocols" not in plain and same_trajectory(plain, training_experiment({**exp, "protocols": None}))


@pytest.mark.parametrize(
    "index, protocols, message",
    [
        (0, ["fid50k_tur"], r"^my.yaml: experiments.0.protocols.0: unknown protocol 'fid50k_tur' \(did you mean"),
        (0, ["fid10k", "fid10k"], r"^my.yaml: experiments.0.protocols.1: 'fid10k' is listed twice$"),
        (0, [], r"^my.yaml: experiments.0.protocols: \[\] should be non-empty$"),
        (0, ["fg_miou"], r"^my.yaml: experiments.0.protocols.0: 'fg_miou' is a segmentation protocol; an experiment"),
        (2, ["fid10k"], r"^my.yaml: experiments.2.protocols: segmenter is not measured by GAN protocols$"),
    ],
)
def test_bad_experiment_protocols_name_the_key(index, protocols, message):
    config = copy.deepcopy(BASE)
    config["experiments"].append({"name": "s1", "method": "segmenter", "dataset": "faces", "resolution": 32})
    config["experiments"][index]["protocols"] = protocols
    with pytest.raises(ConfigError, match=message) as info:
        validate_config(config, "my.yaml")
    assert "\n" not in str(info.value)

"""CoordGAN's FID and swap-score evaluation (research coordgan.md §4.1): texture-swapped samples, swap distances,
ArcFace IR-SE50 identity distances on weights the test makes, the plan and the table."""

from __future__ import annotations

import copy

import pytest
import torch

from ganbench.errors import ConfigError, GanbenchError
from ganbench.metrics import coordgan_swap, plan
from ganbench.metrics.coordgan_swap import swap_scores
from ganbench.nets.arcface import IRSE50, IdentityDistance, load_ir_se50

TINY = {"z_dim": 8, "w_dim": 8, "mapping_layers": 1, "channels": 8, "num_blocks": 1, "warp_hidden": 8}
TINY.update(coord_resolution=16, d_channel_base=128, d_channel_max=16, patch_size=8, patch_channels=[8, 8])
TINY.update(num_crops=2, perceptual="probe", probe_resolution=16)


@pytest.fixture(scope="module")
def method():
    from ganbench.methods import build_method

    torch.manual_seed(0)
    return build_method("coordgan", TINY, 16).eval()


def test_swapped_samples_take_the_pair_partners_texture(method):
    seeds = [3, 4, 5, 6]
    swapped = method.sample(seeds, swap=True)
    assert torch.equal(swapped, method.sample(seeds, texture_seeds=[4, 3, 6, 5]))
    assert not torch.equal(swapped, method.sample(seeds))
    with pytest.raises(GanbenchError, match="even number, got 3"):
        method.sample([1, 2, 3], swap=True)


def test_swap_scores_compare_the_right_images(method):
    # a distance that reports which code changed: texture swap keeps the coordinates, structure swap changes them
    calls = []

    def record(a, b):
        calls.append((a.clone(), b.clone()))
        return (a - b).abs().flatten(1).mean(1)

    scores = swap_scores(method, {"d": record}, pairs=6, batch=4, seed=1)
    assert set(scores) == {"swap_d", "struc_swap_d"}
    assert len(calls) == 4 and sum(len(a) for a, _ in calls) == 12  # 6 pairs: 4 + 2 of each kind
    assert scores["swap_d"] > 0 and scores["struc_swap_d"] > 0
    same = swap_scores(method, {"d": lambda a, b: (a - b).abs().flatten(1).mean(1)}, pairs=6, batch=4, seed=1)
    assert same == pytest.approx(scores)  # the same pairs for a seed
    with pytest.raises(GanbenchError, match="even batch"):
        swap_scores(method, {"d": record}, pairs=2, batch=3)


def test_ir_se50_loads_its_released_layout_by_name(tmp_path):
    torch.manual_seed(0)
    net = IRSE50().eval()
    for m in net.modules():  # non-trivial statistics, so that a wrong mapping would show
        if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.BatchNorm1d)):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    state = net.state_dict()
    # the names and shapes of pSp's model_ir_se50.pth
    assert state["input_layer.0.weight"].shape == (64, 3, 3, 3)
    assert state["input_layer.2.weight"].shape == (64,)
    assert len({k.split(".")[1] for k in state if k.startswith("body.")}) == 24
    assert state["body.3.shortcut_layer.0.weight"].shape == (128, 64, 1, 1)
    assert state["body.23.res_layer.5.fc1.weight"].shape == (32, 512, 1, 1)
    assert state["output_layer.3.weight"].shape == (512, 512 * 7 * 7)
    assert "body.1.shortcut_layer.0.weight" not in state  # same width: a parameter-free max-pool shortcut
    torch.save(state, tmp_path / "ir_se50.pth")
    loaded = load_ir_se50(tmp_path / "ir_se50.pth")
    x = torch.rand(2, 3, 64, 64) * 2 - 1  # any size: nearest-resized to 112
    ref = IdentityDistance(net).eval()
    assert torch.allclose(loaded.embed(x), ref.embed(x), atol=1e-6)
    assert loaded.embed(x).norm(dim=1) == pytest.approx(torch.ones(2), abs=1e-5)
    assert loaded(x, x).abs().max() < 1e-5 and loaded(x, x.flip(0)).min() > 0
    del state["body.5.res_layer.1.weight"]
    torch.save(state, tmp_path / "short.pth")
    with pytest.raises(GanbenchError, match="lacks 1 tensors of IR-SE50, e.g. body.5.res_layer.1.weight"):
        load_ir_se50(tmp_path / "short.pth")
    (tmp_path / "text.pth").write_text("not weights")
    with pytest.raises(GanbenchError, match="text.pth: not a readable IR-SE50 state dict"):
        load_ir_se50(tmp_path / "text.pth")


def test_the_plan_and_the_table_name_the_files_the_evaluation_writes():
    from ganbench.tables import specs

    assert plan.SWAP_PROTOCOL == coordgan_swap.SWAP_PROTOCOL == specs.SWAP_PROTOCOL
    assert plan.IDENTITY_PROTOCOL == coordgan_swap.IDENTITY_PROTOCOL == specs.IDENTITY_PROTOCOL
    assert plan.SWAP_RESULTS == coordgan_swap.SWAP_METRICS and plan.IDENTITY_RESULTS == coordgan_swap.IDENTITY_METRICS


def _config(**coordgan):
    from ganbench.config import load_config

    config = copy.deepcopy(load_config("config/config.yaml"))
    config["metrics"]["coordgan"].update(coordgan)
    return config


def test_the_texture_swap_fid_follows_the_runs_protocols():
    from ganbench.config import validate_config

    config = _config()
    cg = next(e for e in config["experiments"] if e["method"] == "coordgan")
    files = plan.eval_files(config, cg)
    assert f"results/eval/{cg['name']}/probe2k_full/fid-swap.json" in files  # metrics.protocols'
    assert f"results/eval/{cg['name']}/coordgan-identity/swap_id.json" in files  # synthfaces is listed
    cg["protocols"] = ["fid10k"]
    config = validate_config(config)
    cg = next(e for e in config["experiments"] if e["method"] == "coordgan")
    files = plan.eval_files(config, cg)
    assert f"results/eval/{cg['name']}/fid10k/fid.json" in files
    assert f"results/eval/{cg['name']}/fid10k/fid-swap.json" in files
    assert f"results/eval/{cg['name']}/probe2k_full/fid-swap.json" not in files
    assert plan.stats_file(config, "synthfaces", 32, "fid10k").endswith("inception-v3-compat-first10000.h5")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"metrics": {"odd": {"base": "probe2k_full", "num_gen": 101}}}, "num_gen 101 is odd"),
        ({"identity_datasets": ["synthface"]}, "metrics.coordgan.identity_datasets: unknown dataset 'synthface'"),
        ({"batch": 3}, "metrics.coordgan.batch"),
    ],
)
def test_bad_coordgan_evaluation_settings_fail_at_validation(change, message):
    from ganbench.config import validate_config

    config = _config()
    index = next(i for i, e in enumerate(config["experiments"]) if e["method"] == "coordgan")
    if "metrics" in change:
        config["metrics"].setdefault("custom", {}).update(change["metrics"])
        config["experiments"][index]["protocols"] = ["odd"]
    else:
        config["metrics"]["coordgan"].update(change)
    with pytest.raises(ConfigError) as info:
        validate_config(config)
    assert message in str(info.value)
    if "metrics" in change:
        assert f"experiments.{index}:" in str(info.value)


def test_the_fid_table_has_the_fid_and_swap_fid_of_each_protocol_of_the_runs_and_says_what_stands_in():
    from ganbench.metrics.protocols import PROTOCOLS
    from ganbench.tables.specs import configured_specs

    exps = [{"name": "cg", "method": "coordgan", "dataset": "synthfaces", "resolution": 32, "protocols": ["fid10k"]}]
    protocols = [PROTOCOLS["probe2k_full"], PROTOCOLS["fid10k"]]
    (spec,) = configured_specs(["coordgan"], exps, protocols, defaults=["probe2k_full"])
    cols = [(c.metric, c.protocol) for c in spec.columns]
    assert cols[:2] == [("fid", "fid10k"), ("fid-swap", "fid10k")]  # the run's own protocol only
    assert cols[2:] == [
        ("swap_lpips", "coordgan-swap"),
        ("struc_swap_lpips", "coordgan-swap"),
        ("swap_id", "coordgan-identity"),
        ("struc_swap_id", "coordgan-identity"),
    ]
    assert any("stand in for Inception, LPIPS-VGG or ArcFace IR-SE50" in d for d in spec.deviations)
    assert any("no paper values" in d for d in spec.deviations)
    exps[0]["protocols"] = None
    (spec,) = configured_specs(["coordgan"], exps, protocols, defaults=["probe2k_full"])
    assert [(c.metric, c.protocol) for c in spec.columns][:2] == [("fid", "probe2k_full"), ("fid-swap", "probe2k_full")]

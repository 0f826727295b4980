"""CoordGAN's chain through Snakemake, tiny: probe -> CoordGAN -> encoder -> correspondence beside the baselines;
the FID, texture-swap FID, swap and identity distances; both tables and both figures."""

from __future__ import annotations

import json

import pytest

from test_pipeline import snakemake, tiny_config

pytestmark = pytest.mark.integration

RUN = {"resolution": 16, "batch": 4, "snapshot_kimg": 1, "tick_kimg": 0.004, "workers": 0, "kimg": 0.008}
PROBE_INPUT = {"perceptual": {"weights": "probe"}}
SWAP_FILES = ("tiny/fid-swap.json", "coordgan-swap/swap_lpips.json", "coordgan-identity/swap_id.json")


def test_coordgan_chain_scores_the_encoder_beside_its_baselines(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    config = tiny_config()
    config["datasets"]["tinyfaces"]["count"] = 60  # 6 test images: 5 references and one query
    gan = {"z_dim": 8, "w_dim": 8, "mapping_layers": 1, "channels": 8, "num_blocks": 1, "warp_hidden": 8}
    gan.update(coord_resolution=16, d_channel_base=128, d_channel_max=16, patch_size=8, patch_channels=[8, 8])
    gan.update(num_crops=2, perceptual="probe", probe_resolution=16)
    enc = {"channels": 4, "channel_max": 8, "spatial_channels": 2, "global_channels": [8, 8], "perceptual": "probe"}
    enc.update(probe_resolution=16, preview_images=4)
    config["experiments"] = [
        {**RUN, "name": "cg", "method": "coordgan", "dataset": "tinyfaces", "options": gan, "inputs": PROBE_INPUT},
        {
            **RUN,
            "name": "enc",
            "method": "coordgan_encoder",
            "dataset": "tinyfaces",
            "options": enc,
            "inputs": {"generator": {"run": "cg"}, **PROBE_INPUT},
        },
    ]
    for exp in config["experiments"]:
        exp["init_from"] = {"P": "perceptual:state"}
    config["metrics"] = {
        "protocols": ["tiny"],
        "custom": {"tiny": {"base": "probe2k_full", "num_gen": 16, "metrics": ["fid"]}},
        "probe": {"resolution": 16, "steps": 2},
        "coordgan": {"pairs": 6, "batch": 4, "identity": "probe", "identity_datasets": ["tinyfaces"]},
    }
    config["tables"] = ["coordgan"]
    out = "results/eval/enc/synthetic-label-propagation"
    targets = [f"{out}/label_prop_miou.json", "reports/tables/coordgan_correspondence.md"]
    targets += ["reports/tables/coordgan_fid.md"]
    targets += ["reports/figures/cg-swap_grid.png", "reports/figures/enc-label_propagation.png"]
    run = snakemake(work, *targets, config=config)
    assert run.returncode == 0, run.stderr[-4000:]
    for name in ("", "identity-", "probe_nn-"):
        record = json.loads((work / out / f"{name}label_prop_miou.json").read_text())
        assert 0 <= record["value"] <= 100 and record["protocol"]["queries"] == 1
    swap = {n: json.loads((work / "results/eval/cg" / n).read_text()) for n in SWAP_FILES}
    assert swap["tiny/fid-swap.json"]["protocol"]["sample_kwargs"] == {"swap": True}
    assert swap["coordgan-swap/swap_lpips.json"]["protocol"]["distance"] == "probe"
    assert swap["coordgan-identity/swap_id.json"]["protocol"]["network"] == "probe"
    assert all(r["value"] >= 0 for r in swap.values())
    fid_table = (work / "reports/tables/coordgan_fid.md").read_text()
    assert "FID (texture swap)" in fid_table and "tinyfaces 16" in fid_table and "no paper values" in fid_table
    table = (work / "reports/tables/coordgan_correspondence.md").read_text()
    assert "| identity warp (same pixel) |" in table and "probe's feature distance standing in" in table

"""COCO-GAN end to end through Snakemake on a tiny configuration: TFRecord training, the extrapolation stage
and the panorama, FIDs (final, best snapshot, extrapolated), seam scores, figures and tables."""

from __future__ import annotations

import json

import PIL.Image
import pytest

from test_pipeline import snakemake

pytestmark = pytest.mark.integration

TINY = {"macro_size": 8, "micro_size": 4, "ngf": 2, "ndf": 2, "z_dim": 8, "aux_dim": 8}
RUN = {"resolution": 16, "batch": 4, "snapshot_kimg": 1, "tick_kimg": 0.004, "workers": 0, "kimg": 0.008}


def test_cocogan_pipeline(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    config = {
        "datasets": {
            "tinyfaces": {"source": "synthetic", "category": "face", "count": 16, "seed": 3},
            "tinypano": {"source": "panorama", "count": 8, "aspect": 3},
        },
        "data": {"resolutions": [16], "preview_count": 4},
        "experiments": [
            {"name": "coco", "method": "cocogan", "dataset": "tinyfaces", **RUN, "options": {**TINY, "code_loss_w": 1}},
            {
                "name": "coco-extrap",
                "method": "cocogan_extrap",
                "dataset": "tinyfaces",
                **RUN,
                "inputs": {"parent": {"run": "coco"}},
                "options": TINY,
            },
            {
                "name": "coco-pano",
                "method": "cocogan_panorama",
                "dataset": "tinypano",
                **RUN,
                "options": {**TINY, "width": 48},
            },
        ],
        "metrics": {
            "protocols": ["tiny"],
            "custom": {"tiny": {"base": "probe2k_full", "num_gen": 16, "kid_subset_size": 8}},
            "probe": {"resolution": 16, "steps": 5},
        },
        "tables": ["cocogan"],
    }
    run = snakemake(work, config=config)
    assert run.returncode == 0, run.stderr[-4000:]
    ckpt_inputs = json.loads((work / "results/eval/coco/seam-assembled.json").read_text())
    assert ckpt_inputs["protocol"]["micro"] == 4 and ckpt_inputs["value"] > 0
    best = json.loads((work / "results/eval/coco/tiny/fid-best.json").read_text())
    snapshots = list((work / "results/runs/coco").glob("checkpoint-*.pt"))
    assert len(best["per_snapshot"]) == len(snapshots) and f"{best['best_kimg']:g}" in best["per_snapshot"]
    assert best["value"] == min(best["per_snapshot"].values())
    extrap = json.loads((work / "results/eval/coco-extrap/tiny/fid-extrap.json").read_text())
    assert extrap["protocol"]["sample_kwargs"] == {"extrap": 1, "size": 16}
    for name in ("seam-extrap", "seam-assembled"):
        assert (work / f"results/eval/coco-extrap/{name}.json").is_file()
    for name in ("seam-wrap", "seam-wrap-interior", "seam-wrap-real"):
        assert (work / f"results/eval/coco-pano/{name}.json").is_file()
    assert not (work / "results/eval/coco-pano/tiny").exists()  # no FID for panoramas, as the official
    assert PIL.Image.open(work / "reports/figures/coco-pano-panorama.png").size[0] > 0
    assert PIL.Image.open(work / "reports/figures/coco-extrap-extrapolation.png").size[0] > 0
    assert PIL.Image.open(work / "reports/figures/coco-patch_guided.png").size[0] > 0
    seams = (work / "reports/tables/cocogan_seams.md").read_text()
    assert "360° seam (generated)" in seams and "| coco-pano |" in seams
    assert "FID (best snapshot)" in (work / "reports/tables/cocogan_fid.md").read_text()

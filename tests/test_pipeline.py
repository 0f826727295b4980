"""Snakemake on tiny configurations in a temporary directory: outputs, caching, failures, lint."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import PIL.Image
import pytest
import torch
import yaml

from ganbench.data.sources import open_source

from conftest import REPO_ROOT

pytestmark = pytest.mark.integration


def torch_load(path):
    return torch.load(path, map_location="cpu", weights_only=True)


def snakemake(workdir, *args, config=None):
    if config is not None:
        (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO_ROOT / "Snakefile"),
        "-d",
        str(workdir),
        "--configfile",
        str(workdir / "config.yaml"),
        "--cores",
        "2",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "GANBENCH_OPS": "ref"})


def tiny_config(folder=None):
    datasets = {"tinyfaces": {"source": "synthetic", "category": "face", "count": 12, "seed": 3}}
    if folder is not None:
        datasets["mine"] = {"source": "folder", "path": str(folder)}
    return {"datasets": datasets, "data": {"resolutions": [16], "preview_count": 4}}


def test_pipeline_builds_datasets_and_caches(tmp_path, image_folder):
    work = tmp_path / "work"
    work.mkdir()
    run = snakemake(work, "datasets_table", config=tiny_config(image_folder))
    assert run.returncode == 0, run.stderr[-3000:]
    for name, count in [("tinyfaces-16", 12), ("mine-16", 12)]:
        data = work / "results" / "data" / name
        zip_pixels = [open_source(data / "images.zip").read_image(i) for i in range(count)]
        record_pixels = [open_source(data / "images.tfrecord").read_image(i) for i in range(count)]
        np.testing.assert_array_equal(zip_pixels, record_pixels)
        summary = json.loads((work / "reports" / "datasets" / f"{name}.json").read_text())
        assert summary["count"] == count and summary["resolution"] == [16, 16]
        assert PIL.Image.open(work / "reports" / "datasets" / f"{name}.png").size[0] > 0
    assert (work / "results/data/tinyfaces-16/annotations.h5").is_file()
    assert not (work / "results/data/mine-16/annotations.h5").exists()
    table = (work / "reports" / "datasets.md").read_text()
    assert "| tinyfaces-16 | 16x16 | 12 | 11 / 1 |" in table and "| mine-16 | 16x16 | 12 | - |" in table

    again = snakemake(work, "datasets_table", "-n")
    assert "Nothing to be done" in again.stdout + again.stderr
    report = snakemake(work, "datasets_table", "--report", str(work / "datasets-report.html"))
    assert report.returncode == 0, report.stderr[-3000:]
    assert "filename=datasets.md" in (work / "datasets-report.html").read_text()  # the table is in the report

    config = tiny_config(image_folder)
    config["datasets"]["tinyfaces"]["count"] = 13  # a changed parameter reruns that dataset only
    dry = snakemake(work, "datasets_table", "-n", config=config)
    out = dry.stdout + dry.stderr
    assert "synthesize" in out and "import_images" not in out


def test_train_evaluate_tables_and_report(tmp_path):
    """The whole DAG on a tiny experiment: data, ops stamp, training, probe, statistics, metrics, tables, report."""
    work = tmp_path / "work"
    work.mkdir()
    config = tiny_config()
    config["datasets"]["tinyfaces"]["count"] = 32
    config["experiments"] = [
        {
            "name": "tiny-sg2",
            "method": "stylegan2",
            "dataset": "tinyfaces",
            "resolution": 16,
            "kimg": 0.016,
            "batch": 8,
            "snapshot_kimg": 1,
            "tick_kimg": 0.008,
            "workers": 0,
            "options": {
                "z_dim": 16,
                "w_dim": 16,
                "mapping_layers": 2,
                "channel_base": 128,
                "channel_max": 16,
                "augment": "none",
            },
        },
        {
            "name": "tiny-creps",
            "method": "creps",
            "dataset": "tinyfaces",
            "resolution": 16,
            "kimg": 0.016,
            "batch": 8,
            "snapshot_kimg": 1,
            "tick_kimg": 0.008,
            "workers": 0,
            "options": {
                "z_dim": 16,
                "w_dim": 16,
                "mapping_layers": 2,
                "channel_base": 256,
                "channel_max": 16,
                "d_channel_base": 128,
                "d_channel_max": 16,
                "augment": "none",
                "pl_weight": 0,
            },
        },
    ]
    config["metrics"] = {
        "protocols": ["tiny"],
        "custom": {"tiny": {"base": "probe2k_full", "num_gen": 16, "kid_subset_size": 8}},
        "probe": {"resolution": 16, "steps": 5},
        "any_scale": {"scales": [1, 2], "consistency_images": 2, "timing_repeats": 1},
    }
    run = snakemake(work, config=config)
    assert run.returncode == 0, run.stderr[-4000:]
    for name in ("fid", "kid", "precision", "recall"):
        result = json.loads((work / "results/eval/tiny-sg2/tiny" / f"{name}.json").read_text())
        assert result["protocol"]["extractor"] == "probe" and result["protocol"]["num_gen"] == 16
        assert result["protocol"]["name"] == "tiny"
        floor = json.loads((work / "results/eval/_real/tinyfaces-16/tiny" / f"{name}.json").read_text())
        assert floor["protocol"]["name"] == "tiny" and floor["protocol"]["num_a"] == 16
    table = (work / "reports/tables/baseline.md").read_text()
    assert "tinyfaces" in table and "probe" in table and "| Real data (two halves) |" in table
    assert "Protocol: tiny, extractor probe" in table and "FID ↓" in table
    assert (work / "reports/tables/cross_method-tinyfaces-16.tex").read_text().startswith("\\begin{table}")
    assert (work / "reports/figures/tiny-sg2-samples.png").is_file()

    # CREPS: FID at scale 2 against the data prepared at 32 px, consistency, cost beside StyleGAN2, its tables
    creps = work / "results/eval/tiny-creps"
    fid2 = json.loads((creps / "tiny/fid-scale2.json").read_text())
    assert fid2["protocol"]["resolution"] == 32
    assert fid2["protocol"]["sample_kwargs"] == {"scale": 2, "grid": "paper"}
    assert fid2["inputs"]["stats"].endswith("tinyfaces-32-probe.h5")
    assert json.loads((creps / "subgrid_err-scale2.json").read_text())["value"] < 1e-5
    assert json.loads((creps / "stylegan2-time_ms-scale2.json").read_text())["protocol"]["output_size"] == [32, 32]
    assert json.loads((creps / "time_ms-scale2.json").read_text())["protocol"]["output_size"] == [32, 32]
    quality = (work / "reports/tables/creps-tinyfaces-16.md").read_text()
    assert "FID 2x (32 px) ↓" in quality and "PSNR 2x ↑" in quality and "| Real data (two halves) |" in quality
    cost = (work / "reports/tables/creps_cost-tinyfaces-16.md").read_text()
    assert "StyleGAN2-ADA at R·s (untrained, same job)" in cost
    assert PIL.Image.open(work / "reports/figures/tiny-creps-scales.png").size[0] > 0
    # the job costs of the run, from every other job's benchmark file
    benchmarks = sorted(work.glob("benchmarks/**/*.tsv"))
    costs = (work / "reports/costs/job_costs.md").read_text()
    assert f"{len(benchmarks) - 1} jobs" in costs  # all but job_costs itself
    assert (
        "| baseline / train | 1 |" in costs
        and "| creps / train | 1 |" in costs
        and "| creps / render_cost | 1 |" in costs
    )
    assert (work / "benchmarks/train/experiment=tiny-creps.tsv").read_text().startswith("s\th:m:s\tmax_rss")
    report = snakemake(work, "--report", str(work / "reports/report.html"))
    assert report.returncode == 0, report.stderr[-3000:]
    assert (work / "reports/report.html").stat().st_size > 10_000
    html = (work / "reports/report.html").read_text(errors="replace")
    assert "fid-scale2" in html and "job_costs.html" in html  # eval JSONs and the cost table are in it


def test_failed_job_leaves_nothing_and_spares_other_jobs(tmp_path, image_folder):
    (image_folder / "a" / "001.png").write_bytes(b"\x89PNG broken")
    work = tmp_path / "work"
    work.mkdir()
    run = snakemake(work, "--keep-going", config=tiny_config(image_folder))
    assert run.returncode != 0
    assert "ganbench: error: " in run.stderr and "a/001.png: cannot decode image" in run.stderr
    assert not (work / "results/data/mine-16/images.zip").exists()
    assert not list((work / "results/data/mine-16").glob(".*tmp"))
    assert (work / "results/data/tinyfaces-16/images.zip").is_file()
    assert (work / "reports/datasets/tinyfaces-16.json").is_file()


def test_bad_config_stops_before_any_job(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    config = tiny_config()
    config["datasets"]["tinyfaces"]["cont"] = 5
    run = snakemake(work, config=config)
    assert run.returncode != 0
    assert "datasets.tinyfaces.cont: unknown key (did you mean 'count'?)" in run.stderr
    assert not (work / "results").exists()


def test_lint_is_clean():
    run = subprocess.run([sys.executable, "-m", "snakemake", "--lint"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert run.returncode == 0 and "Lints for" not in run.stdout + run.stderr, run.stdout[-3000:]


def _planned_jobs(dry_run) -> dict[str, int]:
    """{rule: count} from the job table a dry run prints."""
    out = dry_run.stdout + dry_run.stderr
    rows = re.findall(r"^(\w+)\s+(\d+)$", out[out.index("Job stats:") :], flags=re.M) if "Job stats:" in out else []
    return {rule: int(n) for rule, n in rows if rule != "total"}


def test_stages_chain_through_the_dag(tmp_path):
    """A GAN, an encoder trained on its frozen generator, and the encoder's evaluation: changing the GAN's
    data reruns exactly those (and the data), changing the GAN reruns it and its children only."""
    work = tmp_path / "work"
    work.mkdir()
    config = tiny_config()
    config["datasets"]["tinyfaces"]["count"] = 24
    gan = {
        "name": "tiny-gan",
        "method": "stylegan2",
        "dataset": "tinyfaces",
        "resolution": 16,
        "kimg": 0.008,
        "batch": 4,
        "snapshot_kimg": 1,
        "tick_kimg": 0.004,
        "workers": 0,
        "options": {
            "z_dim": 16,
            "w_dim": 16,
            "mapping_layers": 2,
            "channel_base": 128,
            "channel_max": 16,
            "augment": "none",
            "pl_weight": 0,
        },
    }
    encoder = {
        "name": "tiny-enc",
        "method": "encoder",
        "dataset": "tinyfaces",
        "resolution": 16,
        "kimg": 0.008,
        "batch": 4,
        "snapshot_kimg": 1,
        "tick_kimg": 0.004,
        "workers": 0,
        "inputs": {"generator": {"run": "tiny-gan"}},
        "options": {"channels": 8, "channel_max": 16},
    }
    config["experiments"] = [gan, encoder]
    target = ["results/eval/tiny-enc/reconstruction/psnr.json", "reports/figures/tiny-enc-preview.png"]
    run = snakemake(work, *target, config=config)
    assert run.returncode == 0, run.stderr[-4000:]
    psnr = json.loads((work / target[0]).read_text())
    assert psnr["protocol"]["split"] == "test" and psnr["value"] > 0
    enc = torch_load(work / "results/runs/tiny-enc/final.pt")
    assert enc["inputs"]["generator"]["path"] == "results/runs/tiny-gan/final.pt"
    assert not any(k.startswith("G.") for k in enc["state"])

    config["datasets"]["tinyfaces"]["count"] = 25  # the GAN's data changes
    assert _planned_jobs(snakemake(work, *target, "-n", config=config)) == {
        "synthesize": 1,
        "train": 2,
        "evaluate_reconstruction": 1,
        "figure_preview": 1,
    }
    config["datasets"]["tinyfaces"]["count"] = 24
    config["experiments"][0]["options"]["channel_max"] = 8  # the GAN changes, its data does not
    planned = _planned_jobs(snakemake(work, *target, "-n", config=config))
    assert planned == {"train": 2, "evaluate_reconstruction": 1, "figure_preview": 1}


def test_configfile_replaces_the_embedded_default(tmp_path, image_folder):
    """From the repository root, a user's --configfile is the whole configuration: the embedded default's
    synthetic datasets and probe are not planned, and errors name the user's file only."""
    mine = tmp_path / "mine.yaml"
    mine.write_text(
        yaml.safe_dump(
            {"datasets": {"mine": {"source": "folder", "path": str(image_folder)}}, "data": {"resolutions": [16]}}
        )
    )
    work = tmp_path / "work"
    shutil.copytree(REPO_ROOT / "config", work / "config")  # the default is where Snakemake looks for it
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO_ROOT / "Snakefile"),
        "-d",
        str(work),
        "--cores",
        "1",
        "-n",
    ]
    dry = subprocess.run([*cmd, "--configfile", str(mine)], capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr[-3000:]
    out = dry.stdout + dry.stderr
    assert "import_images" in out and "synthesize" not in out and "train_probe" not in out
    default = subprocess.run(cmd, capture_output=True, text=True)
    assert "synthesize" in default.stdout + default.stderr  # without --configfile, the embedded default
    mine.write_text(yaml.safe_dump({"datasets": {"mine": {"source": "folder", "paht": "x"}}}))
    bad = subprocess.run([*cmd, "--configfile", str(mine)], capture_output=True, text=True)
    said = bad.stdout + bad.stderr
    assert bad.returncode != 0 and f"{mine}: datasets.mine.paht: unknown key" in said and "config.yaml" not in said

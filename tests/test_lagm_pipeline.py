"""LAGM's chain through Snakemake, tiny: GAN -> annotator -> sharded generated pairs -> segmenter on the pairs
-> scored on the labelled set's test split under fg_miou and miou_cv5, and the tables."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ganbench.data.annotations import read_annotations

from test_pipeline import _planned_jobs, snakemake, tiny_config

pytestmark = pytest.mark.integration

RUN = {"resolution": 16, "batch": 4, "snapshot_kimg": 1, "tick_kimg": 0.004, "workers": 0}


def test_lagm_chain_runs_and_a_changed_pair_count_reruns_only_what_follows(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    config = tiny_config()
    config["datasets"]["tinyfaces"]["count"] = 60  # 6 test images: 5 folds of 1
    config["datasets"]["pairs"] = {"source": "pairs", "experiment": "ann", "count": 6, "shard_size": 4}
    gan_options = {"z_dim": 16, "w_dim": 16, "mapping_layers": 2, "channel_base": 128, "channel_max": 16}
    config["experiments"] = [
        {
            **RUN,
            "name": "gan",
            "method": "stylegan2",
            "dataset": "tinyfaces",
            "kimg": 0.008,
            "options": {**gan_options, "augment": "none", "pl_weight": 0},
        },
        {
            **RUN,
            "name": "ann",
            "method": "lagm",
            "dataset": "tinyfaces",
            "kimg": 0.008,
            "batch": 2,
            "train_images": 4,
            "inputs": {"generator": {"run": "gan"}},
            "options": {"base_channels": 4, "tmp_channels": 8, "preview_images": 4},
        },
        {
            **RUN,
            "name": "seg",
            "method": "segmenter",
            "dataset": "pairs",
            "kimg": 0.008,
            "options": {"base_channels": 4, "preview_images": 4},
        },
    ]
    config["metrics"] = {"protocols": ["probe2k_full", "fg_miou", "miou_cv5"]}
    config["tables"] = ["lagm_semi", "lagm_datasetgan"]
    target = ["results/eval/seg/fg_miou/fg_miou.json", "results/eval/seg/miou_cv5/miou.json"]
    run = snakemake(work, *target, config=config)
    assert run.returncode == 0, run.stderr[-4000:]
    pairs = read_annotations(work / "results/data/pairs-16/annotations.h5")
    assert len(pairs.label) == 6 and not pairs.is_test.any()
    assert not list((work / "results/pairs/pairs-16").glob("shard-*"))  # the two shards were temporary
    real = read_annotations(work / "results/data/tinyfaces-16/annotations.h5")
    fg = json.loads((work / target[0]).read_text())
    assert fg["protocol"]["images"] == int(real.is_test.sum()) == 6  # the labelled set's test split
    cv = json.loads((work / target[1]).read_text())
    assert len(cv["folds"]) == 5 and cv["std"] == pytest.approx(np.std([f["test"]["miou"] for f in cv["folds"]]))

    config["datasets"]["pairs"]["count"] = 7  # more pairs: the annotator and the GAN stay
    assert _planned_jobs(snakemake(work, *target, "-n", config=config)) == {
        "generate_pairs": 2,
        "merge_pairs": 1,
        "train": 1,
        "evaluate_segmenter": 1,
    }

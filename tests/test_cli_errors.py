"""Every ganbench subcommand with bad arguments: exit 2, one line on stderr, no traceback, nothing left behind.

The table below has cases for every subcommand the parser defines (a new subcommand without a case fails
``test_every_subcommand_has_error_cases``). Inputs are tiny files the module makes itself; outputs go to a
per-test folder that holds one existing file and one existing folder, and must look the same afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import re
import subprocess
import sys
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

from ganbench.cli import build_parser, main

TINY = {
    "z_dim": 32,
    "w_dim": 32,
    "mapping_layers": 2,
    "channel_base": 256,
    "channel_max": 32,
    "r1_gamma": 1.0,
    "pl_weight": 0,
    "augment": "none",
}
EXPERIMENT = {
    "name": "tiny",
    "method": "stylegan2",
    "dataset": "faces",
    "resolution": 16,
    "batch": 8,
    "kimg": 0.008,
    "snapshot_kimg": 1,
    "tick_kimg": 0.008,
    "workers": 0,
    "options": TINY,
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """faces/ and cars/ (8 synthetic images at 16 px with annotations), a one-step StyleGAN2 checkpoint, a probe,
    statistics, a config, and broken files: an 8-byte text file, an empty zip, a zip and a TFRecord with one
    flipped byte."""
    from ganbench.config import validate_config
    from ganbench.data.build import make_synthetic_dataset
    from ganbench.data.stylegan_zip import convert_to_tfrecord
    from ganbench.data.tfrecord_io import index_records
    from ganbench.metrics.extractors import load_extractor
    from ganbench.metrics.probe import train_probe
    from ganbench.metrics.stats import compute_stats
    from ganbench.train.loop import training_loop

    root = tmp_path_factory.mktemp("inputs")
    for name, category in (("faces", "face"), ("cars", "car")):
        make_synthetic_dataset(category, 16, 8, 0, 0.25, root / name / "images.zip", root / name / "annotations.h5")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANBENCH_OPS", "ref")
        config = {
            "datasets": {"faces": {"source": "synthetic", "category": "face", "count": 8}},
            "experiments": [dict(EXPERIMENT)],
        }
        training_loop(
            validate_config(config)["experiments"][0], root / "faces" / "images.zip", root / "run", device="cpu"
        )
        lagm = {
            **EXPERIMENT,
            "name": "lagm",
            "method": "lagm",
            "batch": 4,
            "kimg": 0.004,
            "options": {"base_channels": 4, "tmp_channels": 8, "preview_images": 4},
            "inputs": {"generator": {"checkpoint": str(root / "run" / "final.pt")}},
        }
        training_loop(
            validate_config({**config, "experiments": [lagm]})["experiments"][0],
            root / "faces" / "images.zip",
            root / "lagm",
            device="cpu",
            inputs={"generator": root / "run" / "final.pt", "annotations": root / "faces" / "annotations.h5"},
        )
        import torch

        from ganbench.methods import build_method
        from ganbench.train.checkpoint import load_checkpoint

        gan16 = load_checkpoint(root / "run" / "final.pt")  # the same generator built at 32 px
        torch.save(
            {**gan16, "resolution": 32, "state": build_method("stylegan2", TINY, 32).state_dict()}, root / "gan32.pt"
        )
        train_probe(
            [root / "faces" / "images.zip"],
            [root / "faces" / "annotations.h5"],
            root / "probe.pt",
            steps=2,
            resolution=16,
        )
        compute_stats(
            root / "faces" / "images.zip",
            load_extractor("probe", root / "probe.pt"),
            root / "stats.h5",
            save_features=True,
        )
    (root / "cfg.yaml").write_text(json.dumps({"datasets": config["datasets"], "experiments": [EXPERIMENT]}))
    few = {**EXPERIMENT, "name": "few", "method": "segmenter", "options": {"base_channels": 8}, "train_images": 999}
    (root / "cfg_labels.yaml").write_text(json.dumps({"datasets": config["datasets"], "experiments": [few]}))
    _datasetgan_inputs(root)
    (root / "exp.json").write_text(json.dumps(EXPERIMENT))
    (root / "exp32.json").write_text(json.dumps({**EXPERIMENT, "resolution": 32}))
    (root / "badkimg.json").write_text(json.dumps({**EXPERIMENT, "kimg": "lots"}))
    va = {**EXPERIMENT, "method": "vision_aided", "options": {**TINY, "backbones": ["random"], "warmup_kimg": 1.0}}
    (root / "va_warmup.json").write_text(json.dumps(va))
    (root / "text8.txt").write_text("hello!!\n")
    (root / "text8.pt").write_text("hello!!\n")
    zipfile.ZipFile(root / "empty.zip", "w").close()
    flipped = bytearray((root / "faces" / "images.zip").read_bytes())
    member = zipfile.ZipFile(root / "faces" / "images.zip").infolist()[2]
    flipped[member.header_offset + 30 + len(member.filename) + 40] ^= 0xFF
    (root / "flip.zip").write_bytes(bytes(flipped))
    convert_to_tfrecord(root / "faces" / "images.zip", root / "good.tfrecord")
    flipped = bytearray((root / "good.tfrecord").read_bytes())
    flipped[index_records(root / "good.tfrecord")[3] + 12 + 30] ^= 0xFF
    (root / "flip.tfrecord").write_bytes(bytes(flipped))
    (root / "eval").mkdir()
    # a CelebAMask-HQ folder whose first mask is 256 px, not 512 like its image's others
    import numpy as np
    import PIL.Image

    celeba = root / "celebamask" / "CelebAMask-HQ"
    (celeba / "CelebA-HQ-img").mkdir(parents=True)
    (celeba / "CelebAMask-HQ-mask-anno" / "14").mkdir(parents=True)
    PIL.Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(celeba / "CelebA-HQ-img" / "28000.jpg")
    PIL.Image.fromarray(np.zeros((256, 256), np.uint8)).save(
        celeba / "CelebAMask-HQ-mask-anno" / "14" / "28000_skin.png"
    )
    from ganbench.data.tfrecord_io import write_tfrecord

    write_tfrecord([np.zeros((32, 32, 3), np.uint8), np.zeros((16, 16, 3), np.uint8)], root / "mixed.tfrecord")
    # released-network pickles in the official layout (tests/test_importers.py builds them): a good one from the
    # run's networks, and one that names a global no released network uses
    from test_importers import ada_like, dump

    from ganbench.train.inputs import restore_method

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANBENCH_OPS", "ref")
        dump(
            ada_like(restore_method(torch.load(root / "run" / "final.pt", weights_only=True), root / "run"), 16),
            root / "net.pkl",
        )
    (root / "evil.pkl").write_bytes(pickle.dumps({"G_ema": os.system}))
    from test_stylegan1 import tiny_for_g_all

    tampered = tiny_for_g_all()
    del tampered["g_synthesis.torgb.bias"]
    torch.save(tampered, root / "tampered.for_g_all.pt")
    (root / "sinfo.txt").write_text(
        "cpu*|up|1-00:00:00|64|256000|(null)|10\ngpu|up|2-00:00:00|32|384000|gpu:a100:4|4\n"
    )
    (root / "profile").mkdir()
    (root / "profile" / "config.yaml").write_text("executor: slurm\n")
    _coordgan_inputs(root, config)
    return root


def _datasetgan_inputs(root: Path) -> None:
    """Two tiny cat-16 releases: one mask with class id 16 (of 0..15), one mask smaller than its image."""
    import numpy as np
    import PIL.Image

    for name, mask in (("dg_label", np.full((8, 8), 16)), ("dg_size", np.zeros((4, 8), np.int64))):
        for folder in ("annotation/training_data/cat_processed", "annotation/testing_data/cat_16_class"):
            (root / name / folder).mkdir(parents=True)
            PIL.Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / name / folder / "image_0.png")
            np.save(root / name / folder / "image_mask0.npy", mask)


def _coordgan_inputs(root: Path, config: dict) -> None:
    """A one-step CoordGAN and its encoder; the encoder copied with its generator record pointing at another G;
    image/mask PNGs, one mask of the wrong size."""
    import shutil

    import numpy as np
    import PIL.Image
    import torch

    from ganbench.config import validate_config
    from ganbench.train.loop import training_loop

    cg_options = {
        "z_dim": 8,
        "w_dim": 8,
        "mapping_layers": 1,
        "channels": 8,
        "num_blocks": 1,
        "warp_hidden": 8,
        "coord_resolution": 16,
        "d_channel_base": 128,
        "d_channel_max": 16,
        "patch_size": 8,
        "patch_channels": [8, 8],
        "num_crops": 2,
        "perceptual": "probe",
        "probe_resolution": 16,
    }
    probe = {"perceptual": {"weights": str(root / "probe.pt")}}
    cg = {**EXPERIMENT, "name": "cg", "method": "coordgan", "batch": 4, "kimg": 0.004, "options": cg_options}
    cg.update(inputs=probe, init_from={"P": "perceptual:state"})
    enc_options = {"channels": 4, "channel_max": 8, "spatial_channels": 2, "global_channels": [8, 8]}
    enc_options.update(perceptual="probe", probe_resolution=16, preview_images=4)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANBENCH_OPS", "ref")
        exp = validate_config({**config, "experiments": [cg]})["experiments"][0]
        training_loop(
            exp, root / "faces" / "images.zip", root / "cg", device="cpu", inputs={"perceptual": root / "probe.pt"}
        )
        shutil.copy(root / "cg" / "final.pt", root / "cg_gen.pt")
        enc = {**cg, "name": "cgenc", "method": "coordgan_encoder", "options": enc_options}
        enc["inputs"] = {"generator": {"checkpoint": str(root / "cg_gen.pt")}, **probe}
        exp = validate_config({**config, "experiments": [enc]})["experiments"][0]
        inputs = {"generator": root / "cg_gen.pt", "perceptual": root / "probe.pt"}
        training_loop(exp, root / "faces" / "images.zip", root / "cgenc", device="cpu", inputs=inputs)
    other = torch.load(root / "cg_gen.pt", weights_only=True)
    key = next(k for k in other["state"] if k.startswith("G_ema."))
    other["state"][key] = other["state"][key] + 1
    torch.save(other, root / "cg_other.pt")
    ckpt = torch.load(root / "cgenc" / "final.pt", weights_only=True)
    ckpt["frozen_inputs"]["G"]["path"] = str(root / "cg_other.pt")
    torch.save(ckpt, root / "cgenc_other.pt")
    for name, size in (("img", 16), ("mask", 16), ("mask8", 8)):
        shape = (size, size, 3) if name == "img" else (size, size)
        PIL.Image.fromarray(np.zeros(shape, np.uint8)).save(root / f"{name}.png")


FACES, CARS = "{in}/faces/images.zip", "{in}/cars/images.zip"
FACES_H5, CARS_H5 = "{in}/faces/annotations.h5", "{in}/cars/annotations.h5"
CKPT, PROBE, STATS = "{in}/run/final.pt", "{in}/probe.pt", "{in}/stats.h5"
TRAIN = ["train", "--experiment", "tiny", "--config", "{in}/cfg.yaml", "--data", FACES]
PROBE_ARGS = ["probe", "--images", FACES, "--annotations", FACES_H5, "--steps", "1"]
SLURM = ["slurm-profile", "--sinfo", "{in}/sinfo.txt"]
SELECT = ["select-backbone", CKPT, FACES, "--cv"]
EVAL = ["eval", CKPT, STATS, "--weights", PROBE, "--out", "{out}/e", "--num-gen", "4"]

CG_REF = "{in}/img.png:{in}/mask.png"
CG_SWAP = ["coordgan-swap", "{in}/cg/final.pt", "--perceptual", PROBE, "--kind", "probe"]
CG_PROP = ["coordgan-propagate", "{in}/cgenc/final.pt", "--classes", "3", "--out", "{out}/p"]

# (argv, a part of the one error line)
CASES = [
    # COCO-GAN (ganbench.cli.cocogan): the four bad inputs of issue 17, and the stages' own
    (
        ["cocogan-lattice", "--resolution", "32", "--macro", "12", "--micro", "8"],
        "12 is not a multiple of micro_size 8",
    ),
    (["cocogan-lattice", "--resolution", "36", "--macro", "16", "--micro", "8"], "36 px is not tiled"),
    (
        ["cocogan-lattice", "--resolution", "32", "--width", "100", "--macro", "16", "--micro", "8", "--cylindrical"],
        "panorama width 100 is not a multiple of the macro step 8",
    ),
    (
        ["cocogan-lattice", "--resolution", "32", "--macro", "16", "--micro", "8", "--data", "{in}/mixed.tfrecord"],
        "the images differ in size",
    ),
    (["cocogan-panorama-data", "--count", "0", "--out", "{out}/p.zip"], "argument --count: 0 is less than 1"),
    (["cocogan-panorama-data", "--out", "{out}/p.txt"], "unknown destination type '.txt'"),
    (["cocogan-seams", CKPT, FACES, "--out", "{out}/s"], "a StyleGAN2-ADA checkpoint, not a COCO-GAN one"),
    (["cocogan-seams", "{in}/missing.pt", FACES, "--out", "{out}/s"], "missing.pt: checkpoint not found"),
    (["cocogan-figure", CKPT, "--figure", "panorama", "--out", "{out}/f.png"], "not a COCO-GAN one"),
    (["cocogan-figure", CKPT, "--figure", "seams", "--out", "{out}/f.png"], "invalid choice: 'seams'"),
    ([], "ganbench: error: the following arguments are required: command"),
    (["no-such-command"], "invalid choice: 'no-such-command'"),
    (["synth", "--category", "face", "--count", "0", "--out", "{out}/s"], "argument --count: 0 is less than 1"),
    (["synth", "--category", "face", "--count", "-3", "--out", "{out}/s"], "argument --count: -3 is less than 1"),
    (["synth", "--category", "face", "--count", "x", "--out", "{out}/s"], "argument --count: expected an integer"),
    (
        ["synth", "--category", "face", "--resolution", "0", "--out", "{out}/s"],
        "argument --resolution: 0 is less than 8",
    ),
    (["synth", "--category", "face", "--resolution", "2048", "--out", "{out}/s"], "2048 is more than 1024"),
    (["synth", "--category", "face", "--test-fraction", "2", "--out", "{out}/s"], "2 is outside [0, 1]"),
    (["synth", "--category", "dog", "--out", "{out}/s"], "invalid choice: 'dog'"),
    (
        ["synth", "--category", "face", "--count", "8", "--out", "{out}/existing.txt"],
        "existing.txt: exists and is not a folder",
    ),
    (["convert", FACES, "{out}/adir"], "adir: is a folder; expected a file path"),
    (["convert", FACES, "{out}/existing.txt/x.zip"], "existing.txt is a file, not a folder"),
    (["convert", FACES, "{out}/o.png"], "unknown destination type '.png'"),
    (["convert", "{in}/empty.zip", "{out}/new/o.zip"], "empty.zip: no images found"),
    (["convert", "{in}/flip.zip", "{out}/o.zip"], "Bad CRC-32"),
    (["convert", "{in}/text8.txt", "{out}/o.zip"], "text8.txt: unknown container"),
    (["convert", "{in}/missing", "{out}/o.zip"], "missing: file or folder not found"),
    (["convert", FACES, "{out}/o.zip", "--resolution", "0"], "argument --resolution: 0 is less than 1"),
    (["convert", FACES, "{out}/o.zip", "--max-images", "0"], "argument --max-images: 0 is less than 1"),
    (["convert", FACES, "{out}/o.tfrecord", "--resolution", "8"], "convert to a zip first"),
    (["inspect", "{in}/flip.zip"], "flip.zip:00000/img00000002.png: corrupt zip member"),
    (["inspect", "{in}/flip.tfrecord"], "bad data CRC in the record at byte"),
    (["inspect", "{in}/empty.zip"], "empty.zip: no images found"),
    (["inspect", "{in}/missing.zip"], "missing.zip: file or folder not found"),
    (["download", "no-such-dataset", "{out}/dl"], "no-such-dataset"),
    (["download", "afhq", "{out}/existing.txt"], "existing.txt: exists and is not a folder"),
    (["train", "--experiment", "nope", "--config", "{in}/cfg.yaml"], "no experiment named 'nope'"),
    (["train", "--experiment", "tiny", "--config", "{in}/missing.yaml"], "missing.yaml: configuration file not found"),
    ([*TRAIN, "--out", "{out}/run", "--device", "cuda:99"], "--device cuda:99"),
    ([*TRAIN, "--out", "{out}/run", "--device", "tpu"], "--device 'tpu': not a device name"),
    ([*TRAIN, "--out", "{out}/existing.txt"], "existing.txt: exists and is not a folder"),
    (
        [
            "train",
            "--experiment",
            "tiny",
            "--config",
            "{in}/cfg.yaml",
            "--data",
            "{in}/missing.zip",
            "--out",
            "{out}/r",
        ],
        "missing.zip: dataset not found",
    ),
    (
        ["train", "--experiment-json", "{in}/badkimg.json", "--data", FACES, "--out", "{out}/r"],
        "badkimg.json: kimg: expected number",
    ),
    (
        ["train", "--experiment-json", "{in}/text8.txt", "--data", FACES, "--out", "{out}/r"],
        "text8.txt: not valid JSON",
    ),
    (["train", "--experiment-json", "{in}/missing.json"], "missing.json: experiment JSON file not found"),
    (
        ["train", "--experiment-json", "{in}/exp32.json", "--data", FACES, "--out", "{out}/new/run", "--device", "cpu"],
        "images are 16x16, expected 32x32",
    ),  # fails inside the training loop; the folders it made are removed
    (["train", "--config", "{in}/cfg.yaml"], "one of the arguments --experiment --experiment-json is required"),
    (["probe", "--images", FACES, "--annotations", CARS_H5, "--out", "{out}/p.pt"], "describes other images than"),
    (["probe", "--images", FACES, CARS, "--annotations", FACES_H5, "--out", "{out}/p.pt"], "--images has 2 files"),
    ([*PROBE_ARGS, "--out", "{out}/adir"], "adir: is a folder"),
    ([*PROBE_ARGS, "--out", "{out}/p.pt", "--steps", "0"], "argument --steps: 0 is less than 1"),
    ([*PROBE_ARGS, "--out", "{out}/p.pt", "--resolution", "0"], "argument --resolution: 0 is less than 8"),
    (
        ["probe", "--images", FACES, "--annotations", "{in}/text8.txt", "--out", "{out}/p.pt"],
        "text8.txt: not a readable HDF5",
    ),
    (["stats", FACES, "{out}/adir", "--weights", PROBE], "adir: is a folder"),
    (["stats", FACES, "{out}/s.txt", "--weights", PROBE], "unknown destination type '.txt'"),
    (["stats", FACES, "{out}/s.h5", "--weights", "{in}/missing.pt"], "missing.pt: weights file not found"),
    (["stats", FACES, "{out}/s.h5", "--weights", CKPT], "not a ganbench probe file"),
    (["stats", FACES, "{out}/s.h5", "--weights", PROBE, "--max-real", "0"], "argument --max-real: 0 is less than 2"),
    (["stats", "{in}/empty.zip", "{out}/s.h5", "--weights", PROBE], "empty.zip: no images found"),
    (["eval", PROBE, STATS, "--weights", PROBE, "--out", "{out}/e"], "probe.pt: not a training checkpoint"),
    (["best-fid", "{in}/missing.pt", STATS, "--out", "{out}/b"], "missing.pt: checkpoint not found"),
    (["best-fid", PROBE, STATS, "--out", "{out}/b"], "probe.pt: not a training checkpoint"),
    (["best-fid", CKPT, STATS, "--protocol", "fg_miou", "--out", "{out}/b"], "fg_miou measures no FID"),
    (["best-fid", CKPT, STATS, "--protocol", "fid5k", "--out", "{out}/b"], "unknown protocol 'fid5k'"),
    (["best-fid", CKPT, "{in}/text8.txt", "--weights", PROBE, "--out", "{out}/b"], "text8.txt: not a readable HDF5"),
    (
        ["best-fid", CKPT, STATS, "--weights", PROBE, "--snapshot-out", "{out}/b.pkl", "--out", "{out}/b"],
        "expected .pt",
    ),
    (["best-fid", CKPT, STATS, "--weights", PROBE, "--out", "{out}/existing.txt"], "exists and is not a folder"),
    (["eval", "{in}/text8.pt", STATS, "--weights", PROBE, "--out", "{out}/e"], "text8.pt: not a ganbench checkpoint"),
    ([*EVAL, "--scale", "2"], "method 'stylegan2' renders only its training grid"),
    ([*EVAL, "--scale", "0"], "argument --scale: 0 is less than 1"),
    ([*EVAL, "--num-gen", "0"], "argument --num-gen: 0 is less than 2"),
    ([*EVAL, "--truncation", "-1"], "argument --truncation: -1 is outside"),
    ([*EVAL, "--seed", "-1"], "argument --seed: -1 is less than 0"),
    (
        ["eval", CKPT, STATS, "--weights", PROBE, "--out", "{out}/existing.txt"],
        "existing.txt: exists and is not a folder",
    ),
    (["eval", CKPT, "{in}/text8.txt", "--weights", PROBE, "--out", "{out}/e"], "text8.txt: not a readable HDF5"),
    (["eval", CKPT, STATS, "--weights", "{in}/missing.pt", "--out", "{out}/e"], "missing.pt: weights file not found"),
    ([*TRAIN, "--out", "{out}/run", "--input", "nonsense"], "--input 'nonsense': expected ROLE=PATH"),
    ([*TRAIN, "--out", "{out}/new/run", "--input", f"parent={CKPT}"], "input 'parent' is not configured under inputs"),
    ([*TRAIN, "--out", "{out}/run", "--input", "parent={in}/missing.pt"], "missing.pt: --input parent not found"),
    (["eval-reconstruction", CKPT, FACES, "--out", "{out}/r"], "checkpoint does not reconstruct images"),
    (["eval-reconstruction", CKPT, "{in}/missing.zip", "--out", "{out}/r"], "missing.zip: dataset not found"),
    (["eval-reconstruction", "{in}/text8.pt", FACES, "--out", "{out}/r"], "text8.pt: not a ganbench checkpoint"),
    (["eval-segmenter", CKPT, FACES, FACES_H5, "--out", "{out}/s"], "checkpoint does not segment images"),
    (
        ["eval-segmenter", CKPT, FACES, FACES_H5, "--out", "{out}/s", "--protocol", "fid50k_full"],
        "a gan protocol does not score segmenters",
    ),
    (["eval-segmenter", CKPT, FACES, FACES_H5, "--out", "{out}/s", "--protocol", "fg_mio"], "did you mean 'fg_miou'"),
    (
        ["pairs", "{in}/lagm/final.pt", "--generator", "{in}/gan32.pt", "--count", "2", "--out", "{out}/p"],
        "gan32.pt: its generator makes 32 px images; the annotator",
    ),
    (["pairs", CKPT, "--count", "2", "--out", "{out}/p"], "a StyleGAN2-ADA checkpoint, not a LAGM annotator"),
    (["pairs", "{in}/lagm/final.pt", "--count", "0", "--out", "{out}/p"], "argument --count: 0 is less than 1"),
    (
        ["pairs", "{in}/lagm/final.pt", "--count", "2", "--out", "{out}/existing.txt"],
        "existing.txt: exists and is not a folder",
    ),
    (["pairs", "{in}/missing.pt", "--count", "2", "--out", "{out}/p"], "missing.pt: checkpoint not found"),
    (["merge-pairs", "{in}/missing", "--out", "{out}/m"], "missing: shard folder not found"),
    (["merge-pairs", "{in}/faces", "{in}/cars", "--out", "{out}/m"], "its classes or resolution differ"),
    (["merge-pairs", "{in}/faces", "--out", "{out}/existing.txt"], "existing.txt: exists and is not a folder"),
    (
        ["import-labelled", "celebamask-19to8", "{in}/faces", "--resolution", "16", "--out", "{out}/l"],
        "expected CelebA-HQ-img/ and CelebAMask-HQ-mask-anno/",
    ),
    (
        ["import-labelled", "celebamask-19to8", "{in}/celebamask", "--resolution", "16", "--out", "{out}/l"],
        "28000_skin.png: a 256x256 mask, the others are 512x512",
    ),
    (["import-labelled", "pascal", "{in}/faces", "--resolution", "16", "--out", "{out}/l"], "invalid choice: 'pascal'"),
    (  # a mask with a class id out of range
        ["import-labelled", "datasetgan-cat-16", "{in}/dg_label", "--resolution", "8", "--out", "{out}/l"],
        "image_mask0.npy: label 16 outside 0..15 (datasetgan-cat-16)",
    ),
    (  # a mask whose size differs from its image
        ["import-labelled", "datasetgan-cat-16", "{in}/dg_size", "--resolution", "8", "--out", "{out}/l"],
        "image_mask0.npy: a 8x4 mask, but its image",
    ),
    (
        ["import-labelled", "pascal-part-horse", "{in}/faces", "--resolution", "8", "--out", "{out}/l"],
        "expected VOC2010's JPEGImages/ and ImageSets/Main/",
    ),
    (
        ["import-labelled", "celebamask-19to8", "{in}/faces", "--resolution", "4", "--out", "{out}/l"],
        "argument --resolution: 4 is less than 8",
    ),
    (
        ["eval-cv", CKPT, FACES, FACES_H5, "--fold", "5", "--out", "{out}/c"],
        "--fold 5: protocol miou_cv5 has folds 0 .. 4",
    ),
    (["eval-cv", CKPT, FACES, FACES_H5, "--protocol", "fg_miou", "--out", "{out}/c"], "not a cross-validated"),
    (["eval-cv", CKPT, FACES, FACES_H5, "--out", "{out}/c"], "checkpoint does not segment images"),
    (["eval-cv", "{in}/lagm/final.pt", FACES, FACES_H5, "--out", "{out}/c"], "5 folds of a 2-image test split"),
    (SELECT + ["input-clipp", "--out", "{out}/s.json"], "--cv: unknown backbone 'clipp' (known: clip, dino, swin"),
    (SELECT + ["input-clip", "--out", "{out}/s.json"], "(rule download_weights) or pass --weights clip=PATH"),
    (SELECT + ["input-probe+-output-pool", "--out", "{out}/s.json"], "--cv 'input-probe+-output-pool': malformed"),
    (SELECT + ["input-probe+random-output-pool", "--out", "{out}/s.json"], "2 models but 1 outputs"),
    (SELECT + ["input-random", "--weights", "probe", "--out", "{out}/s.json"], "--weights 'probe': expected NAME=PATH"),
    (SELECT + ["input-random", "--out", "{out}/s.txt"], "unknown destination type '.txt'"),
    (
        ["train", "--experiment-json", "{in}/va_warmup.json", "--data", FACES, "--out", "{out}/run"],
        "options.warmup_kimg: the warm-up of 1.0 kimg is not shorter than the run (0.008 kimg)",
    ),
    (["consistency", CKPT, "--out", "{out}/c"], "method 'stylegan2' renders only its training grid"),
    (["consistency", "{in}/text8.pt", "--out", "{out}/c"], "text8.pt: not a ganbench checkpoint"),
    (["consistency", CKPT, "--out", "{out}/c", "--images", "0"], "argument --images: 0 is less than 1"),
    (["render-cost", CKPT, "--out", "{out}/r"], "method 'stylegan2' renders only its training grid"),
    (["render-cost", PROBE, "--out", "{out}/r"], "not a training checkpoint (a ganbench-probe file)"),
    (["render-cost", CKPT, "--out", "{out}/r", "--repeats", "0"], "argument --repeats: 0 is less than 1"),
    (["scale-figure", CKPT, "--out", "{out}/f.png"], "method 'stylegan2' renders only its training grid"),
    (["scale-figure", CKPT, "--out", "{out}/f.png", "--scales", "0"], "argument --scales: 0 is less than 1"),
    (["scale-figure", "{in}/missing.pt", "--out", "{out}/f.png"], "missing.pt: checkpoint not found"),
    (["import-checkpoint", "{in}/missing.pkl", "{out}/i.pt"], "missing.pkl: network pickle not found"),
    (["import-checkpoint", "{in}/evil.pkl", "{out}/i.pt"], "refusing to load global posix.system"),
    (["import-checkpoint", CKPT, "{out}/i.pt"], "final.pt: a torch.save archive"),
    (["import-checkpoint", "{in}/text8.txt", "{out}/i.pt"], "text8.txt: not a readable network pickle"),
    (["import-checkpoint", "{in}/net.pkl", "{out}/i.png"], "unknown destination type '.png'"),
    (["import-checkpoint", "{in}/net.pkl", "{out}/adir"], "adir: is a folder"),
    (["import-checkpoint", "{in}/net.pkl", "{out}/new/i.pt", "--resolution", "32"], "16x16, not --resolution 32"),
    (
        ["import-checkpoint", "{in}/net.pkl", "{out}/i.pt", "--resolution", "4"],
        "argument --resolution: 4 is less than 8",
    ),
    (
        ["import-checkpoint", "{in}/net.pkl", "{out}/i.pt", "--method", "creps"],
        "holds a stylegan2 generator, not creps",
    ),
    (["import-checkpoint", "{in}/net.pkl", "{out}/i.pt", "--method", "coco"], "invalid choice: 'coco'"),
    (
        ["import-checkpoint", "{in}/tampered.for_g_all.pt", "{out}/i.pt"],
        "tampered.for_g_all.pt: has no tensor 'g_synthesis.torgb.bias'",
    ),
    (
        ["import-checkpoint", "{in}/net.pkl", "{out}/i.pt", "--avg-latent", "{in}/text8.txt"],
        "--avg-latent applies to StyleGAN (v1) .for_g_all.pt state dicts only",
    ),
    (
        ["table", "--config", "{in}/cfg.yaml", "--eval-dir", "{in}/missing", "--out", "{out}/t"],
        "missing: evaluation results",
    ),
    (
        ["table", "nope", "--config", "{in}/cfg.yaml", "--eval-dir", "{in}/eval", "--out", "{out}/t"],
        "unknown table 'nope'",
    ),
    (["table", "--config", "{in}/text8.txt", "--eval-dir", "{in}/eval", "--out", "{out}/t"], "must be a mapping"),
    (
        ["table", "--config", "{in}/cfg.yaml", "--eval-dir", "{in}/eval", "--out", "{out}/existing.txt"],
        "existing.txt: exists and is not a folder",
    ),
    ([*SLURM, "--dest", "{in}/profile"], "profile/config.yaml: a profile is already there; pass --force"),
    ([*SLURM, "--dest", "{out}/existing.txt"], "existing.txt: exists and is not a folder"),
    (
        [*SLURM, "--dest", "{out}/p", "--partition", "nope"],
        "--partition 'nope': no such partition (sinfo lists: cpu, gpu)",
    ),
    ([*SLURM, "--dest", "{out}/p", "--gpu-model", "h100"], "--gpu-model 'h100': partition gpu has a100 GPUs"),
    ([*SLURM, "--dest", "{out}/p", "--gpu-partition", "cpu"], "--gpu-partition 'cpu': sinfo lists no GPU gres"),
    ([*SLURM, "--dest", "{out}/p", "--no-gpu", "--gpu-model", "a100"], "--no-gpu with --gpu-partition or --gpu-model"),
    ([*SLURM, "--dest", "{out}/p", "--account", "a", "--no-account"], "--account and --no-account: give one"),
    ([*SLURM, "--dest", "{out}/p", "--runtime", "5000"], "--runtime 5000: partition cpu allows at most 1440 minutes"),
    ([*SLURM, "--dest", "{out}/p", "--cores", "0"], "argument --cores: 0 is less than 1"),
    (
        ["slurm-profile", "--dest", "{out}/p", "--sinfo", "{in}/missing.txt"],
        "missing.txt: sinfo output file (--sinfo) not found",
    ),
    (["slurm-profile", "--dest", "{out}/p", "--sinfo", "{in}/text8.txt"], "sinfo: expected 7 '|'-separated fields"),
    (["check-config", "{in}/faces"], "faces: is a folder; expected a configuration file"),
    (["check-config", "{in}/missing.yaml"], "missing.yaml: configuration file not found"),
    (["check-config", "{in}/text8.txt"], "must be a mapping"),
    (["check-config", "{in}/cfg_labels.yaml"], "experiments.0.train_images: 999 is more than the"),  # #labels
    (
        [
            "coordgan-swap",
            "{in}/cg/final.pt",
            "--perceptual",
            PROBE,
            "--kind",
            "probe",
            "--batch",
            "3",
            "--out",
            "{out}/s",
        ],
        "--batch 3: CoordGAN pairs samples (2k, 2k+1); give an even batch",
    ),
    (["coordgan-swap", CKPT, "--perceptual", PROBE, "--out", "{out}/s"], "needs a coordgan checkpoint"),
    (
        ["coordgan-benchmark", "{in}/cgenc/final.pt", FACES, FACES_H5, "--benchmark", "celebA-7", "--out", "{out}/b"],
        "classes, benchmark celebA-7 has 7",
    ),
    (
        ["coordgan-benchmark", CKPT, FACES, FACES_H5, "--benchmark", "celebA-7", "--out", "{out}/b"],
        "needs a coordgan_encoder checkpoint",
    ),
    (
        [*CG_SWAP, "--identity", "ir-se50", "--out", "{out}/s"],
        "--identity and --identity-weights: give both or neither",
    ),
    (
        [*CG_SWAP, "--identity", "ir-se50", "--identity-weights", PROBE, "--out", "{out}/s"],
        "probe.pt: lacks",
    ),
    ([*CG_PROP, "--refs", *[CG_REF] * 4, "--queries", CG_REF], "averages over 5 references, got 4"),
    (
        [*CG_PROP, "--refs", *[CG_REF] * 5, "--queries", "{in}/img.png:{in}/mask8.png"],
        "mask8.png: the mask is 8x8, its image",
    ),
    (
        ["coordgan-correspondence", "{in}/cgenc_other.pt", FACES, FACES_H5, "--probe", PROBE, "--out", "{out}/c"],
        "sha256",
    ),
    (
        ["coordgan-correspondence", CKPT, FACES, FACES_H5, "--probe", PROBE, "--out", "{out}/c"],
        "needs a coordgan_encoder checkpoint",
    ),
]


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _tree(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def test_every_subcommand_has_error_cases():
    covered = {argv[0] for argv, _ in CASES if argv and not argv[0].startswith("no-such")}
    assert covered == set(_subcommands())


@pytest.mark.parametrize("argv, message", CASES, ids=[" ".join(a[:1] + [m[:40]]) for a, m in CASES])
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(argv, message, inputs, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GANBENCH_OPS", "ref")
    out = tmp_path / "out"
    (out / "adir").mkdir(parents=True)
    (out / "existing.txt").write_text("keep me\n")
    before_out, before_in = _tree(out), _tree(inputs)
    argv = [a.replace("{in}", str(inputs)).replace("{out}", str(out)) for a in argv]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert re.match(r"ganbench( [a-z-]+)?: error: ", err) and "Traceback" not in err
    assert message in err
    assert _tree(out) == before_out and (out / "existing.txt").read_text() == "keep me\n"
    assert _tree(inputs) == before_in  # no temporary file beside an input either


def test_errors_through_the_command_line(inputs, tmp_path):
    env = {**os.environ, "GANBENCH_OPS": "ref"}
    for argv, message in (
        (
            ["synth", "--category", "face", "--count", "0", "--out", str(tmp_path / "s")],
            "ganbench synth: error: argument --count",
        ),
        (
            [
                "eval",
                str(inputs / "text8.pt"),
                str(inputs / "stats.h5"),
                "--weights",
                str(inputs / "probe.pt"),
                "--out",
                str(tmp_path / "e"),
            ],
            "ganbench: error: ",
        ),
    ):
        run = subprocess.run([sys.executable, "-m", "ganbench.cli", *argv], capture_output=True, text=True, env=env)
        assert run.returncode == 2 and run.stderr.count("\n") == 1 and run.stderr.startswith(message), run.stderr
    assert list(tmp_path.iterdir()) == []


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"ganbench {version('ganbench')}"


RST = re.compile(r"``|:(func|class|meth|mod|attr|ref|data|obj):`|\.\. [a-z]+::")


@pytest.mark.parametrize("name", sorted(_subcommands()))
def test_help_describes_every_option_without_rest_markup(name, capsys):
    parser = _subcommands()[name]
    for action in parser._actions:
        if action.help == argparse.SUPPRESS:
            continue
        assert action.help and action.help.strip(), f"ganbench {name}: {action.dest} has no help"
    assert main([name, "--help"]) == 0
    text = capsys.readouterr().out
    assert not RST.search(text), RST.search(text).group(0)
    assert parser.description and parser.description in " ".join(text.split())
    # every option that has a default worth showing shows it
    for action in parser._actions:
        if action.option_strings and action.default not in (None, False, argparse.SUPPRESS) and not action.required:
            assert f"(default: {action.default})" in " ".join(text.split()) or "%(default)" in action.help, action.dest


def test_top_level_help_has_no_rest_markup(capsys):
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    assert not RST.search(text) and "replaced whole or not at all" in " ".join(text.split())

"""The ganbench command: each data stage as a subcommand; errors are one line and exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ganbench.cli import main
from ganbench.data.annotations import read_annotations
from ganbench.data.sources import open_source

from conftest import REPO_ROOT


def test_synth_convert_inspect(tmp_path, capsys):
    out = tmp_path / "faces"
    assert main(["synth", "--category", "face", "--resolution", "16", "--count", "10", "--out", str(out)]) == 0
    assert len(open_source(out / "images.zip")) == 10 and len(read_annotations(out / "annotations.h5")) == 10
    assert main(["convert", str(out / "images.zip"), str(tmp_path / "f.tfrecord")]) == 0
    assert main(["convert", str(tmp_path / "f.tfrecord"), str(tmp_path / "back.zip"), "--resolution", "8"]) == 0
    assert open_source(tmp_path / "back.zip").read_image(0).shape == (8, 8, 3)
    capsys.readouterr()
    assert main(["inspect", str(tmp_path / "f.tfrecord")]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["count"] == 10 and info["format"] == "tfrecord" and info["resolution"] == [16, 16]


def test_check_config(capsys):
    assert main(["check-config", str(REPO_ROOT / "config" / "config.yaml")]) == 0
    import yaml

    datasets = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text())["datasets"]
    assert f"valid ({len(datasets)} datasets" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["inspect", "/nonexistent/x.zip"], "ganbench: error: /nonexistent/x.zip: file or folder not found"),
        (["convert", "{src}", "{tmp}/o.png"], "unknown destination type"),
        (["convert", "{src}", "{tmp}/o.tfrecord", "--resolution", "8"], "convert to a zip first"),
        (["download", "no-such-dataset", "{tmp}"], "no-such-dataset"),
    ],
)
def test_errors_are_one_line_with_exit_2(argv, message, tmp_path, capsys, image_folder):
    argv = [a.format(tmp=tmp_path, src=image_folder) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.startswith("ganbench: error: ") and "\n" not in err
    assert not any(p.name.startswith("o.") for p in tmp_path.iterdir())


def test_console_script_is_installed(tmp_path, image_folder):
    exe = Path(sys.executable).parent / "ganbench"
    run = subprocess.run(
        [str(exe), "convert", str(image_folder), str(tmp_path / "o.zip")], capture_output=True, text=True
    )
    assert run.returncode == 0 and "wrote 12 images" in run.stdout
    bad = subprocess.run([str(exe), "inspect", str(tmp_path / "missing")], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


def test_experiment_json_is_validated_and_gets_the_schema_defaults(tmp_path):
    from ganbench.cli import load_experiment_json
    from ganbench.errors import ConfigError

    spec = tmp_path / "exp.json"
    spec.write_text(json.dumps({"name": "e", "method": "stylegan2", "dataset": "faces", "resolution": 16}))
    exp = load_experiment_json(spec)
    assert exp["gpus"] == 1 and exp["kimg"] == 20 and exp["options"] == {} and exp["precision"] == "fp32"
    spec.write_text(json.dumps({"name": "e", "method": "stylegan2", "dataset": "faces", "resolution": 4}))
    with pytest.raises(ConfigError, match=r"^.*exp\.json: resolution: 4 is less than the minimum of 8$"):
        load_experiment_json(spec)
    spec.write_text(json.dumps({"name": "e", "method": "stylegan2", "dataset": "faces", "resolution": 16, "gpu": 2}))
    with pytest.raises(ConfigError, match=r"exp\.json: gpu: unknown key \(did you mean 'gpus'\?\)"):
        load_experiment_json(spec)


def test_existing_outputs_are_replaced_whole_and_readable_by_the_group(tmp_path, image_folder, capsys):
    import os
    import stat

    old = os.umask(0o022)
    try:
        dest = tmp_path / "o.zip"
        dest.write_text("an older file")
        assert main(["convert", str(image_folder), str(dest), "--max-images", "3"]) == 0
        assert len(open_source(dest)) == 3 and stat.S_IMODE(dest.stat().st_mode) == 0o644
        assert main(["convert", str(image_folder), str(dest)]) == 0
        assert len(open_source(dest)) == 12
        assert sorted(p.name for p in tmp_path.iterdir()) == ["images", "o.zip"]  # no temporary file left
    finally:
        os.umask(old)

"""Published numbers, table rendering (golden files) and plots.

The golden files under tests/golden/tables/ are the exact expected output for the fake results below;
regenerate them with ``GANBENCH_UPDATE_GOLDEN=1 pytest tests/test_tables.py`` after an intended change and
review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from ganbench.errors import ConfigError, DataError
from ganbench.metrics.paths import eval_path, floor_path
from ganbench.tables import (
    Column,
    Row,
    TableSpec,
    baseline,
    build_table,
    configured_specs,
    creps_tables,
    cross_method,
    cross_method_specs,
    load_published,
    published_value,
    render_table,
)
from ganbench.tables.plots import plot_metric_curve, plot_training_curves
from ganbench.tables.published import PAPERS, PUBLISHED_PATH, SOURCE_KINDS

GOLDEN = Path(__file__).parent / "golden"
FIXTURE = GOLDEN / "published-fixture.yaml"
PROBE = {
    "name": "probe2k_full",
    "num_gen": 2000,
    "num_real": 2000,
    "extractor": "probe",
    "reference": "full",
    "truncation": 1.0,
}
P = "probe2k_full"


def experiment(name, method, dataset, seed=0, resolution=32, **extra):
    return {
        "name": name,
        "method": method,
        "dataset": dataset,
        "resolution": resolution,
        "seed": seed,
        "kimg": 24,
        "batch": 32,
        "options": {},
        **extra,
    }


EXPERIMENTS = [
    experiment("stylegan2-synthfaces-32", "stylegan2", "synthfaces", seed=0),
    experiment("stylegan2-synthfaces-32-s1", "stylegan2", "synthfaces", seed=1),
    experiment("stylegan2-synthfaces-32-s2", "stylegan2", "synthfaces", seed=2),
    experiment("creps-synthfaces-32", "creps", "synthfaces"),
    experiment("stylegan2-synthcars-32", "stylegan2", "synthcars"),
]

# experiment -> metric -> value; a missing metric has no eval file
VALUES = {
    "stylegan2-synthfaces-32": {"fid": 12.0, "kid": 0.0121, "precision": 0.61, "recall": 0.40},
    "stylegan2-synthfaces-32-s1": {"fid": 12.5, "kid": 0.0130, "precision": 0.63, "recall": 0.42},
    "stylegan2-synthfaces-32-s2": {"fid": 13.6, "kid": 0.0118, "precision": 0.60, "recall": 0.38},
    "creps-synthfaces-32": {"fid": 20.1, "kid": 0.0201},
    "stylegan2-synthcars-32": {"fid": 15.2, "kid": 0.0150, "precision": 0.55, "recall": 0.35},
}


def write_result(
    eval_dir: Path, exp: str, metric: str, value: float, protocol: dict | None = None, protocol_dir: str | None = P
) -> Path:
    path = Path(eval_path(exp, metric, protocol_dir, root=eval_dir))
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "metric": metric,
        "value": value,
        "std": None,
        "protocol": protocol or PROBE,
        "inputs": {"checkpoint": f"results/runs/{exp}/final.pt"},
    }
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def eval_dir(tmp_path) -> Path:
    root = tmp_path / "eval"
    for exp, metrics in VALUES.items():
        for metric, value in metrics.items():
            protocol = dict(PROBE, num_real=1800) if "synthcars" in exp else PROBE
            write_result(root, exp, metric, value, protocol)
    for dataset, fid in (("synthfaces", 1.50), ("synthcars", 1.75)):  # the real-data floors at 32 px
        write_floor(root, dataset, 32, {"fid": fid, "kid": 0.0003, "precision": 0.79, "recall": 0.80})
    return root


def write_floor(root: Path, dataset: str, res: int, values: dict) -> None:
    protocol = dict(PROBE, num_gen=None, num_a=1000, num_b=1000, halves="even vs odd positions in sorted-name order")
    for metric, value in values.items():
        path = Path(floor_path(dataset, res, P, metric, root=root))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"metric": metric, "value": value, "std": None, "protocol": protocol}))


def check_golden(path: Path) -> None:
    golden = GOLDEN / "tables" / path.name
    text = path.read_text(encoding="utf-8")
    if os.environ.get("GANBENCH_UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8"), f"{path.name} differs from {golden}"


# ----------------------------------------------------------------------------------------------- published.yaml


def test_published_yaml_loads_and_every_record_has_a_source():
    records = load_published(PUBLISHED_PATH)
    assert len(records) > 100
    for rec in records:
        assert rec.paper in PAPERS
        assert rec.source["kind"] in SOURCE_KINDS and rec.source["cite"] and rec.source["report"]
        assert rec.value is None or isinstance(rec.value, float)
        assert (rec.value is None) == (rec.source["kind"] == "not-found"), rec
        assert rec.protocol, rec
    assert {r.paper for r in records} == set(PAPERS)


def test_published_yaml_keys_a_known_number():
    ours = {
        "num_gen": 50000,
        "num_real": 70000,
        "reference": "full",
        "extractor": "inception-v3-compat",
        "truncation": 1.0,
    }
    rec = published_value("creps", "fid", "creps", "ffhq", 512, ours)
    assert rec is not None and rec.value == 4.43 and rec.source["report"] == "creps.md §6"
    assert published_value("creps", "fid", "creps", "ffhq", 512, dict(ours, extractor="probe")) is None
    assert published_value("creps", "fid", "creps", "ffhq", 512, dict(ours, num_gen=10000)) is None
    assert published_value("creps", "fid", "creps", "ffhq", 256, ours).value is None  # comparable, not found
    assert published_value("creps", "fid", "creps", "lsun-church", 512, ours) is None
    # the FFHQ 1024 number may be the 512 model at scale 2: its setting is unknown and never matches
    assert published_value("creps", "fid", "creps", "ffhq", 1024, ours) is None
    assert published_value("creps", "fid", "creps", "ffhq", 1024, ours, {"scale": 1}) is None


def test_coordgan_numbers_are_null_not_invented():
    coordgan = [r for r in load_published(PUBLISHED_PATH) if r.paper == "coordgan"]
    assert coordgan and all(r.value is None for r in coordgan)
    ours = {"num_gen": 10000, "reference": "first-10000", "extractor": "inception-v3-compat", "truncation": 1.0}
    rec = published_value("coordgan", "fid", "coordgan", "celebamask-hq", 128, ours)
    assert rec is not None and rec.value is None  # comparable, but the number is not known


def test_unknown_protocol_never_matches():
    anything = {"num_gen": 50000, "reference": "full", "extractor": "inception-v3-compat", "truncation": 1.0}
    recs = [r for r in load_published(PUBLISHED_PATH) if r.table == "lsun-limited-data"]
    assert recs and all(not r.matches_protocol(anything) for r in recs)


def test_setting_must_match_exactly():
    ours = {
        "num_classes": 8,
        "background": False,
        "test_set": "celebamask-hq-29500-29999",
        "selection": "best-val-fg-miou",
    }
    setting = {"labels": 10, "generator": "stylegan2", "segmenter": "deeplabv3-resnet101"}
    rec = published_value("lagm", "fg_miou", "lagm", "celebamask-hq", 256, ours, setting)
    assert rec is not None and rec.value == 74.41
    assert (
        published_value("lagm", "fg_miou", "lagm", "celebamask-hq", 256, ours, dict(setting, labels=30)).value == 77.23
    )
    assert published_value("lagm", "fg_miou", "lagm", "celebamask-hq", 256, ours) is None


BASE = {
    "paper": "creps",
    "table": "t",
    "metric": "fid",
    "method": "creps",
    "dataset": "ffhq",
    "resolution": 512,
    "value": 4.43,
    "protocol": {"num_gen": 50000},
    "source": {"kind": "readme", "cite": "c", "report": "r"},
}


@pytest.mark.parametrize(
    "change, key",
    [
        ({"source": None}, "records.0: missing required key 'source'"),
        ({"value": "n/a"}, "records.0.value: expected a number or null"),
        ({"valeu": 1.0}, "records.0.valeu: unknown key (did you mean 'value'?)"),
        ({"paper": "stylegan"}, "records.0.paper: unknown value 'stylegan'"),
        ({"protocol": "nope"}, "records.0.protocol: unknown protocol name 'nope'"),
        ({"protocol": {}}, "records.0.protocol: must name at least one key"),
        ({"source": {"kind": "blog", "cite": "c", "report": "r"}}, "records.0.source.kind: unknown value 'blog'"),
        ({"source": {"kind": "readme", "cite": "c"}}, "records.0.source: missing required key 'report'"),
        ({"inferred": ["extractor"]}, "records.0.inferred: 'extractor' is not a key of the record's protocol"),
        ({"resolution": "512"}, "records.0.resolution: expected a positive integer or null"),
        ({"unit": "percent"}, "records.0.unit: unknown value 'percent'"),
    ],
)
def test_malformed_published_file_names_the_key(tmp_path, change, key):
    record = {k: v for k, v in {**BASE, **change}.items() if v is not None}
    path = tmp_path / "published.yaml"
    path.write_text(yaml.safe_dump({"records": [record]}))
    with pytest.raises(ConfigError) as info:
        load_published(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert key in message


def test_published_file_errors_for_yaml_and_duplicates(tmp_path):
    path = tmp_path / "published.yaml"
    path.write_text("records: [{paper: creps\n")
    with pytest.raises(ConfigError, match=r"published.yaml: not valid YAML at line \d"):
        load_published(path)
    path.write_text(yaml.safe_dump({"records": [BASE, dict(BASE, value=5.0)]}))
    with pytest.raises(ConfigError, match=r"records\.1: same paper, metric, .* as records\.0"):
        load_published(path)
    path.write_text(yaml.safe_dump({"records": [BASE], "extra": 1}))
    with pytest.raises(ConfigError, match=r"extra: unknown key"):
        load_published(path)


# ------------------------------------------------------------------------------------------------------ tables


def test_cross_method_golden(eval_dir, tmp_path):
    spec = cross_method("synthfaces", 32)
    paths = render_table(spec, EXPERIMENTS, eval_dir, tmp_path / "tables", published_path=FIXTURE)
    assert sorted(paths) == ["csv", "html", "md", "tex"]
    for path in paths.values():
        check_golden(path)
    assert sorted(p.name for p in (tmp_path / "tables").iterdir()) == [
        "cross_method-synthfaces-32.csv",
        "cross_method-synthfaces-32.html",
        "cross_method-synthfaces-32.md",
        "cross_method-synthfaces-32.tex",
    ]


def test_baseline_golden(eval_dir, tmp_path):
    paths = render_table(
        baseline(deviations=("24 kimg instead of 25000",)),
        EXPERIMENTS,
        eval_dir,
        tmp_path / "tables",
        published_path=FIXTURE,
    )
    for path in paths.values():
        check_golden(path)


def test_mean_and_sample_std_over_seeds(eval_dir):
    table = build_table(cross_method("synthfaces", 32), EXPERIMENTS, eval_dir, published_path=FIXTURE)
    assert table.row_labels == ["StyleGAN2-ADA", "CREPS", "Real data (two halves)"]
    fid = table.cells[0][0]
    assert fid.n == 3
    assert fid.mean == pytest.approx((12.0 + 12.5 + 13.6) / 3)
    mean = (12.0 + 12.5 + 13.6) / 3
    assert fid.std == pytest.approx((sum((v - mean) ** 2 for v in (12.0, 12.5, 13.6)) / 2) ** 0.5)
    assert table.cells[1][0].n == 1 and table.cells[1][0].std is None
    assert table.cells[1][2].n == 0  # creps has no precision file


def test_published_value_shown_only_when_protocol_matches(eval_dir, tmp_path):
    spec = cross_method("synthfaces", 32, metrics=("fid",))
    shown = build_table(spec, EXPERIMENTS, eval_dir, published_path=FIXTURE)
    from ganbench.tables.formats import cell_text, to_markdown

    assert cell_text(shown.cells[0][0], spec.columns[0]) == "12.70 ± 0.82 (paper: 11.90)"
    assert cell_text(shown.cells[1][0], spec.columns[0]) == "20.10"  # creps paper number is for 50k images
    assert "1 paper value not shown: protocol differs or is unknown." in shown.caption

    # the same runs measured with 5000 generated images: the stylegan2 paper value disappears
    for exp in ("stylegan2-synthfaces-32", "stylegan2-synthfaces-32-s1", "stylegan2-synthfaces-32-s2"):
        write_result(eval_dir, exp, "fid", VALUES[exp]["fid"], dict(PROBE, num_gen=5000))
    write_result(eval_dir, "creps-synthfaces-32", "fid", 20.1, dict(PROBE, num_gen=5000))
    hidden = build_table(spec, EXPERIMENTS, eval_dir, published_path=FIXTURE)
    assert cell_text(hidden.cells[0][0], spec.columns[0]) == "12.70 ± 0.82"
    assert "paper" not in to_markdown(hidden).split("Table:")[0]
    assert "2 paper values not shown" in hidden.caption

    # a row that stands for another training setting is not compared with the headline number
    rows = (Row("stylegan2, 100 images", method="stylegan2", setting={"train_images": 100}),)
    other = TableSpec("t", "t", (Column("fid", protocol=P),), rows=rows, datasets=("synthfaces",))
    write_result(eval_dir, "stylegan2-synthfaces-32", "fid", 12.0)
    for exp in ("stylegan2-synthfaces-32-s1", "stylegan2-synthfaces-32-s2"):
        write_result(eval_dir, exp, "fid", VALUES[exp]["fid"])
    assert "paper" not in cell_text(
        build_table(other, EXPERIMENTS, eval_dir, published_path=FIXTURE).cells[0][0], other.columns[0]
    )


def test_seeds_with_different_protocols_are_an_error(eval_dir, tmp_path):
    bad = write_result(eval_dir, "stylegan2-synthfaces-32-s2", "fid", 13.6, dict(PROBE, num_gen=5000))
    with pytest.raises(
        DataError,
        match=rf"^{bad}: protocol .*num_gen: 5000.* differs from .*stylegan2-synthfaces-32/probe2k_full/fid.json",
    ):
        render_table(cross_method("synthfaces", 32), EXPERIMENTS, eval_dir, tmp_path / "out", published_path=FIXTURE)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_comparison_table_needs_one_protocol(eval_dir):
    write_result(eval_dir, "creps-synthfaces-32", "kid", 0.02, dict(PROBE, num_gen=1000))
    with pytest.raises(DataError, match=r"table cross_method-synthfaces-32: column 'KID ↓': row 'CREPS'"):
        build_table(cross_method("synthfaces", 32), EXPERIMENTS, eval_dir, published_path=FIXTURE)


def test_cell_mixing_run_groups_is_an_error(eval_dir):
    longer = EXPERIMENTS + [experiment("stylegan2-synthfaces-32-long", "stylegan2", "synthfaces", kimg=100)]
    spec = TableSpec("by_method", "By method", (Column("fid", protocol=P),), rows="method")
    with pytest.raises(
        ConfigError, match=r"row 'StyleGAN2-ADA', column 'FID ↓': experiments .*-long.* differ in more than the seed"
    ):
        build_table(spec, longer, eval_dir, published_path=FIXTURE)
    # as run groups they are two rows, told apart by name
    table = build_table(cross_method("synthfaces", 32), longer, eval_dir, published_path=FIXTURE)
    assert table.row_labels == [
        "stylegan2-synthfaces-32",
        "CREPS",
        "stylegan2-synthfaces-32-long",
        "Real data (two halves)",
    ]


def test_malformed_result_leaves_no_output(eval_dir, tmp_path):
    (eval_dir / "creps-synthfaces-32" / P / "fid.json").write_text('{"metric": "fid", "value": "12"}')
    out = tmp_path / "out"
    with pytest.raises(DataError, match=r"creps-synthfaces-32/probe2k_full/fid.json: missing key 'protocol'"):
        render_table(cross_method("synthfaces", 32), EXPERIMENTS, eval_dir, out, published_path=FIXTURE)
    assert not out.exists()


def test_cross_method_specs_cover_every_dataset():
    names = [s.name for s in cross_method_specs(EXPERIMENTS)]
    assert names == ["cross_method-synthcars-32", "cross_method-synthfaces-32"]


def test_paper_table_spec_in_a_few_lines(eval_dir):
    """A paper-style table: datasets as columns, an explicit row with a setting, published dataset aliases."""
    spec = TableSpec(
        name="fid_by_dataset",
        title="FID by dataset",
        paper="vision_aided",
        rows=(Row("StyleGAN2", method="stylegan2"),),
        columns=(
            Column("fid", label="faces", dataset="synthfaces", protocol=P),
            Column("fid", label="cars", dataset="synthcars", protocol=P),
        ),
        published_datasets={"synthfaces": "synthfaces"},
    )
    table = build_table(spec, EXPERIMENTS, eval_dir, published_path=FIXTURE)
    from ganbench.tables.formats import cell_text

    assert [cell_text(c, col) for c, col in zip(table.cells[0], spec.columns)] == [
        "12.70 ± 0.82 (paper: 11.90)",
        "15.20",
    ]


def test_creps_tables_golden(eval_dir, tmp_path):
    """FID per scale and consistency for CREPS; cost with a StyleGAN2 row read from the same job's files."""
    consistency = {"images": 16, "grid": "nested", "downsample": "bilinear, antialias, corners aligned"}
    for s, (fid, psnr, ms, mb, sg_ms, sg_mb) in {
        1: (None, None, 5.2, 7.1, 4.2, 16.2),
        2: (21.3, 26.01, 16.8, 7.0, 6.1, 21.8),
        4: (22.9, 24.86, 74.6, 41.3, 5.2, 23.5),
    }.items():
        cost = {"device": "cpu", "threads": 2, "batch": 1, "repeats": 3, "output_size": [32 * s] * 2}
        if s > 1:
            write_result(eval_dir, "creps-synthfaces-32", f"fid-scale{s}", fid, PROBE)
            write_floor(eval_dir, "synthfaces", 32 * s, {"fid": 1.5 + s / 10})
            write_result(eval_dir, "creps-synthfaces-32", f"psnr-scale{s}", psnr, dict(consistency, scale=s), None)
            write_result(
                eval_dir, "creps-synthfaces-32", f"subgrid_err-scale{s}", 0.0, dict(consistency, scale=s), None
            )
        for prefix, t, m in (("", ms, mb), ("stylegan2-", sg_ms, sg_mb)):
            write_result(eval_dir, "creps-synthfaces-32", f"{prefix}time_ms-scale{s}", t, cost, None)
            write_result(eval_dir, "creps-synthfaces-32", f"{prefix}peak_mb-scale{s}", m, cost, None)
    write_result(eval_dir, "creps-synthfaces-32", "params_m", 0.9, {"counted": "generator (EMA) parameters"}, None)
    write_result(
        eval_dir, "creps-synthfaces-32", "stylegan2-params_m", 0.48, {"counted": "generator (EMA) parameters"}, None
    )

    specs = creps_tables("synthfaces", 32, scales=(1, 2, 4))
    assert (
        [s.name for s in specs]
        == [s.name for s in configured_specs(["creps"], EXPERIMENTS)]
        == ["creps-synthfaces-32", "creps_cost-synthfaces-32"]
    )
    for spec in specs:
        paths = render_table(spec, EXPERIMENTS, eval_dir, tmp_path, published_path=FIXTURE)
        check_golden(paths["md"])
    cost = build_table(specs[1], EXPERIMENTS, eval_dir, published_path=FIXTURE)
    assert cost.row_labels == ["CREPS", "StyleGAN2-ADA at R·s (untrained, same job)"]
    assert [c.mean for c in cost.cells[1]] == [0.48, 4.2, 6.1, 5.2, 16.2, 21.8, 23.5]


# ------------------------------------------------------------------------------------------------------- plots


def write_log(path: Path, n: int = 12) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        for i in range(1, n + 1):
            record = {
                "kimg": 2.0 * i,
                "step": 64 * i,
                "kimg_per_s": 0.5 + 0.01 * i,
                "loss_G": 2.0 - 0.05 * i,
                "loss_D_fake": 0.6 + 0.01 * i,
                "loss_D_real": 0.7 - 0.01 * i,
                "loss_D_r1": 0.02 * i,
                "augment_p": min(0.05 * i, 0.4),
            }
            if i % 4 == 0:  # lazy path-length regularisation: only some ticks log it
                record.update(loss_G_pl=0.1 / i, pl_length=1.0 + 0.01 * i)
            f.write(json.dumps(record) + "\n")
    return path


def is_png(path: Path) -> bool:
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_training_curves_png(tmp_path):
    from ganbench.tables.plots import _panels, read_log

    log = write_log(tmp_path / "runs" / "stylegan2-synthfaces-32" / "log.jsonl")
    assert _panels(read_log(log)) == [
        ("Generator losses", ["loss_G"]),
        ("Discriminator losses", ["loss_D_fake", "loss_D_real"]),
        ("Regularizers and other losses", ["loss_D_r1", "loss_G_pl"]),
        ("Augmentation probability", ["augment_p"]),
        ("Speed (kimg/s)", ["kimg_per_s"]),
        ("Other", ["pl_length"]),
    ]
    out = plot_training_curves(log, tmp_path / "figures" / "curves.png")
    assert is_png(out) and out.stat().st_size > 10_000
    assert [p.name for p in out.parent.iterdir()] == ["curves.png"]


def test_metric_curve_png(tmp_path):
    out = plot_metric_curve([(8, 40.1), (4, 80.5), (12, 30.2), (16, 25.0)], tmp_path / "fid.png")
    assert is_png(out)
    out2 = plot_metric_curve(
        {"seed 0": [(4, 80.0), (8, 40.0)], "seed 1": [(4, 75.0), (8, 42.0)]}, tmp_path / "fid2.png", metric="FID"
    )
    assert is_png(out2)


def test_malformed_log_names_the_line(tmp_path):
    log = write_log(tmp_path / "log.jsonl", n=3)
    with open(log, "a") as f:
        f.write('{"kimg": 8, "loss_G": \n')
    with pytest.raises(DataError, match=r"log.jsonl: line 4: not valid JSON"):
        plot_training_curves(log, tmp_path / "curves.png")
    assert not (tmp_path / "curves.png").exists()


# ------------------------------------------------------------------------------------- registry, protocols, floors


def test_tables_come_from_the_registry():
    from ganbench.tables.specs import TABLES, register_table

    assert {"baseline", "cross_method", "creps"} <= set(TABLES)
    with pytest.raises(ConfigError, match="already registered"):
        register_table("baseline")
    with pytest.raises(ConfigError, match=r"unknown table 'basline' \(did you mean 'baseline'\?\)"):
        configured_specs(["basline"], EXPERIMENTS)

    @register_table("test_fid_only")
    def _fid_only(ctx):
        return [cross_method(d, r, ctx.protocols, metrics=("fid",)) for d, r in ctx.pairs("stylegan2")]

    try:
        specs = configured_specs(["test_fid_only"], EXPERIMENTS)
        assert [s.name for s in specs] == ["cross_method-synthcars-32", "cross_method-synthfaces-32"]
        assert [c.metric for c in specs[0].columns] == ["fid"]
    finally:
        del TABLES["test_fid_only"]


def test_every_metric_says_which_way_is_better():
    from ganbench.tables.render import METRICS

    assert all(arrow in ("↑", "↓", "") for _, _, arrow in METRICS.values())
    assert [Column(m).header for m in ("fid", "kid", "precision", "recall", "psnr", "params_m")] == [
        "FID ↓",
        "KID ↓",
        "Precision ↑",
        "Recall ↑",
        "PSNR (dB) ↑",
        "G params (M)",
    ]
    assert Column("fid-scale2", label="FID 2x").header == "FID 2x ↓"


def test_two_protocols_side_by_side_with_kid_times_1000(eval_dir):
    from ganbench.metrics.protocols import derive_protocol, get_protocol
    from ganbench.tables.formats import cell_text, to_latex

    kid1000 = derive_protocol("kid50k_full", "kid_probe", extractor="probe", num_gen=2000)
    for exp in ("stylegan2-synthfaces-32", "creps-synthfaces-32"):
        write_result(eval_dir, exp, "kid", VALUES[exp]["kid"], dict(PROBE, name="kid_probe"), "kid_probe")
    spec = cross_method("synthfaces", 32, protocols=[get_protocol(P), kid1000])
    assert [c.header for c in spec.columns] == [
        "FID ↓ [probe2k_full]",
        "KID ↓ [probe2k_full]",
        "Precision ↑ [probe2k_full]",
        "Recall ↑ [probe2k_full]",
        "KID ×10³ ↓ [kid_probe]",
    ]
    table = build_table(spec, EXPERIMENTS, eval_dir, published_path=FIXTURE)
    assert cell_text(table.cells[1][4], spec.columns[4]) == "20.1000"  # 0.0201 x 1000
    assert table.cells[0][4].n == 1  # only the first seed was measured under kid_probe
    assert "KID $\\times$10$^{3}$ $\\downarrow$ [kid\\_probe]" in to_latex(table)


def test_mean_and_std_render_in_every_format(eval_dir):
    from ganbench.tables.formats import cell_text, to_csv, to_html, to_latex, to_markdown

    table = build_table(cross_method("synthfaces", 32, metrics=("fid",)), EXPERIMENTS, eval_dir, published_path=FIXTURE)
    assert cell_text(table.cells[0][0], table.spec.columns[0]) == "12.70 ± 0.82 (paper: 11.90)"
    assert "| StyleGAN2-ADA | 12.70 ± 0.82 (paper: 11.90) |" in to_markdown(table)
    assert "12.70 $\\pm$ 0.82" in to_latex(table)
    assert "<td>12.70 ± 0.82 (paper: 11.90)</td>" in to_html(table)
    assert "StyleGAN2-ADA,12.7,0.8185352772,3,11.9" in to_csv(table)


def test_floor_row_reads_the_real_data_and_a_missing_floor_is_a_dash(eval_dir):
    from ganbench.tables.formats import MISSING, cell_text

    table = build_table(cross_method("synthfaces", 32), EXPERIMENTS, eval_dir, published_path=FIXTURE)
    floor = table.cells[-1]
    assert table.row_labels[-1] == "Real data (two halves)" and all(c.floor for c in floor)
    assert [c.mean for c in floor] == [1.50, 0.0003, 0.79, 0.80]
    assert floor[0].published is None
    assert "1000 vs 1000 images" in table.caption and "not comparable with Inception FID" in table.caption
    Path(floor_path("synthfaces", 32, P, "fid", root=eval_dir)).unlink()
    again = build_table(cross_method("synthfaces", 32), EXPERIMENTS, eval_dir, published_path=FIXTURE)
    assert cell_text(again.cells[-1][0], again.spec.columns[0]) == MISSING
    assert again.cells[-1][1].mean == 0.0003


def test_a_cell_shows_mean_and_std_over_folds(eval_dir):
    """One seed of a 5-fold protocol: the std is the folds' (from the result file); several seeds: the seeds'."""
    from ganbench.tables.formats import cell_text

    folds = {"name": "miou_cv5", "folds": 5, "background": True, "absent_class": "zero", "std_ddof": 0}
    path = write_result(eval_dir, "creps-synthfaces-32", "miou", 44.51, folds, "miou_cv5")
    doc = json.loads(path.read_text())
    path.write_text(json.dumps(dict(doc, std=0.94)))
    spec = TableSpec("seg", "Segmentation", (Column("miou", protocol="miou_cv5"),), methods=("creps",))
    table = build_table(spec, EXPERIMENTS, eval_dir, published_path=FIXTURE)
    assert table.row_labels == ["CREPS"]
    assert cell_text(table.cells[0][0], spec.columns[0]) == "44.51 ± 0.94"
    assert "A single seed measured over 5 folds: mean ± std over the folds." in table.caption
    # a result without folds keeps its std out of the cell (KID's std over subsets is not a spread over seeds)
    kid = build_table(cross_method("synthfaces", 32, metrics=("kid",)), EXPERIMENTS, eval_dir, published_path=FIXTURE)
    assert kid.cells[1][0].std is None


def test_baseline_leaves_out_fine_tunes_of_another_run():
    from ganbench.tables.specs import baseline

    spec = baseline()
    scratch = {"name": "sg2", "method": "stylegan2", "dataset": "faces", "resolution": 32}
    continued = {**scratch, "name": "sg2-continued", "init_from": {"G": "parent"}}
    assert spec.selects(scratch) and not spec.selects(continued)


def test_caption_names_the_data_of_its_rows_and_no_cross_method_table_without_gan_protocols(eval_dir):
    # A row spec that matches only the synthfaces runs: the cars run is selected by no row, so the caption must
    # not list synthcars among the table's data.
    spec = TableSpec(
        name="faces_only",
        title="Faces only",
        columns=(Column("fid", protocol=P),),
        rows=(Row(label="StyleGAN2", method="stylegan2", dataset="synthfaces"),),
    )
    table = build_table(spec, EXPERIMENTS, eval_dir)
    assert table.cells[0][0].values == [12.0, 12.5, 13.6]
    caption = table.caption
    assert "Dataset: synthfaces at 32x32." in caption and "synthcars" not in caption
    # COCO-GAN's panorama is a GAN without GAN protocols (no FID, as the official): no empty cross_method table
    panorama = experiment("cocogan-panorama-32", "cocogan_panorama", "synthpanorama")
    names = [s.name for s in configured_specs(["cross_method"], [*EXPERIMENTS, panorama])]
    assert names == ["cross_method-synthcars-32", "cross_method-synthfaces-32"]

"""The job-cost table from hand-made Snakemake benchmark files (ganbench.tables.costs), and that every rule of
the workflow writes one."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from ganbench.errors import DataError
from ganbench.tables.costs import cost_table, configured, read_benchmark, read_benchmarks, write_cost_table

from conftest import REPO_ROOT

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
EXPERIMENTS = [
    {"name": "sg2-faces", "method": "stylegan2"},
    {"name": "creps-faces", "method": "creps"},
    {"name": "creps-faces-s1", "method": "creps"},
]


def bench(root: Path, rel: str, *rows: tuple) -> Path:
    """A benchmark file as Snakemake 9 writes it: one row per repeat (s, h:m:s, max_rss, ..., cpu_time)."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [HEADER]
    for s, rss, cpu in rows:
        lines.append(f"{s:.4f}\t0:00:{int(s):02d}\t{rss}\t1000.00\t{rss}\t{rss}\t0.10\t0.20\t95.00\t{cpu}\n")
    path.write_text("".join(lines))
    return path


@pytest.fixture
def benchmarks(tmp_path) -> Path:
    root = tmp_path / "benchmarks"
    bench(root, "synthesize/dataset=faces/res=32.tsv", (3.0, "210.50", "2.90"))
    bench(root, "stats/dataset=faces/res=32/statskey=probe.tsv", (5.0, "400.00", "9.50"))
    bench(root, "build_ops.tsv", (40.0, "NA", "NA"))  # nothing sampled: NA
    bench(root, "train/experiment=sg2-faces.tsv", (100.0, "900.00", "190.00"))
    bench(root, "train/experiment=creps-faces.tsv", (200.0, "1500.00", "380.00"))
    bench(root, "train/experiment=creps-faces-s1.tsv", (300.0, "1200.00", "590.00"))
    bench(
        root, "evaluate_probe2k_full/experiment=creps-faces.tsv", (10.0, "700.00", "19.00"), (14.0, "720.00", "27.00")
    )
    bench(root, "train/experiment=removed-experiment.tsv", (999.0, "1.00", "1.00"))  # no longer configured
    bench(root, "synthesize/dataset=gone/res=32.tsv", (999.0, "1.00", "1.00"))
    return root


def test_read_one_file(benchmarks):
    job = read_benchmark(benchmarks / "stats/dataset=faces/res=32/statskey=probe.tsv", benchmarks)
    assert job.rule == "stats" and dict(job.wildcards) == {"dataset": "faces", "res": "32", "statskey": "probe"}
    assert (job.wall_s, job.max_rss_mb, job.cpu_s) == (5.0, 400.0, 9.5)
    repeats = read_benchmark(benchmarks / "evaluate_probe2k_full/experiment=creps-faces.tsv", benchmarks)
    assert (repeats.wall_s, repeats.max_rss_mb, repeats.cpu_s) == (12.0, 720.0, 23.0)  # mean time, max memory
    ops = read_benchmark(benchmarks / "build_ops.tsv", benchmarks)
    assert (ops.rule, dict(ops.wildcards), ops.max_rss_mb, ops.cpu_s) == ("build_ops", {}, None, None)


def test_table_per_paper_and_stage(benchmarks, tmp_path):
    jobs = configured(read_benchmarks(benchmarks), EXPERIMENTS, ["faces"])
    assert len(jobs) == 7  # the removed experiment's and the removed dataset's files are left out
    table = cost_table(jobs, EXPERIMENTS)
    assert table.row_labels == [
        "baseline / train",
        "baseline / all stages",
        "creps / evaluate_probe2k_full",
        "creps / train",
        "creps / all stages",
        "shared / build_ops",
        "shared / stats",
        "shared / synthesize",
        "shared / all stages",
        "all / all stages",
    ]
    rows = {label: [c.mean for c in cells] for label, cells in zip(table.row_labels, table.cells)}
    # jobs, wall s (sum), longest job s, CPU s (sum), peak RSS MB (max)
    assert rows["creps / train"] == [2, 500.0, 300.0, 970.0, 1500.0]
    assert rows["creps / all stages"] == [3, 512.0, 300.0, 993.0, 1500.0]
    assert rows["baseline / train"] == [1, 100.0, 100.0, 190.0, 900.0]
    assert rows["shared / build_ops"] == [1, 40.0, 40.0, None, None]  # NA: shown as a dash
    assert rows["shared / all stages"] == [3, 48.0, 40.0, 12.4, 400.0]
    assert rows["all / all stages"] == [7, 660.0, 300.0, 1195.4, 1500.0]

    out = {fmt: tmp_path / "reports" / f"job_costs.{fmt}" for fmt in ("md", "csv", "html")}
    write_cost_table(benchmarks, out, EXPERIMENTS, ["faces"])
    md = out["md"].read_text()
    assert md.splitlines()[0] == "| paper / stage | jobs | wall s | longest job s | CPU s | peak RSS MB |"
    assert "| creps / train | 2 | 500.0 | 300.0 | 970.0 | 1500 |" in md
    assert "| shared / build_ops | 1 | 40.0 | 40.0 | – | – |" in md
    assert "7 jobs" in md
    with open(out["csv"]) as f:
        rows_csv = {r["paper / stage"]: r for r in csv.DictReader(f)}
    assert rows_csv["all / all stages"]["wall s"] == "660" and rows_csv["creps / train"]["peak RSS MB"] == "1500"
    assert "<td>500.0</td>" in out["html"].read_text()


def test_no_benchmarks_is_an_empty_table(tmp_path):
    table = cost_table(read_benchmarks(tmp_path / "none"), EXPERIMENTS)
    assert table.row_labels == [] and "0 jobs" in table.caption


@pytest.mark.parametrize(
    "rel, text, message",
    [
        ("train/sg2-faces.tsv", HEADER + "1\t0:00:01\t1\t1\t1\t1\t1\t1\t1\t1\n", "expected benchmarks/RULE/NAME=VALUE"),
        ("train/experiment=x.tsv", "", "no benchmark rows"),
        ("train/experiment=x.tsv", "a\tb\n1\t2\n", "not a Snakemake benchmark file"),
        (
            "train/experiment=x.tsv",
            HEADER + "soon\t0:00:01\t1\t1\t1\t1\t1\t1\t1\t1\n",
            "column s: expected seconds, got 'soon'",
        ),
    ],
)
def test_bad_files_are_named(tmp_path, rel, text, message):
    path = tmp_path / rel
    path.parent.mkdir(parents=True)
    path.write_text(text)
    with pytest.raises(DataError, match=re.escape(message)) as err:
        read_benchmark(path, tmp_path)
    assert str(path) in str(err.value)


def test_every_rule_writes_a_benchmark_file():
    """Every rule in rules/*.smk has a benchmark file benchmarks/{rule}... whose other path components are
    NAME={NAME} (Snakemake itself checks that they are the rule's wildcards), so the table can read them back."""
    found = 0
    for smk in sorted((REPO_ROOT / "rules").glob("*.smk")):
        text = smk.read_text()
        starts = [m for m in re.finditer(r"^\s*rule(?: (\w+))?:\s*$", text, re.MULTILINE)]
        for m, nxt in zip(starts, [*starts[1:], None]):
            block = text[m.end() : nxt.start() if nxt else len(text)]
            # a rule made in a loop is named f"prefix{_variable...}": keep that template
            name = m.group(1) or re.search(r'name:\s*f"(\w+\{[\w.]+\})"', block).group(1)
            bench_line = re.search(r"^\s*benchmark:\s*\n\s*f?\"([^\"]+)\"", block, re.MULTILINE)
            assert bench_line, f"{smk.name}: rule {name} has no benchmark"
            path = bench_line.group(1)
            assert path.startswith(f"benchmarks/{name}") and path.endswith(".tsv"), (name, path)
            for part in path.removesuffix(".tsv").split("/")[2:]:
                key = part.partition("=")[0]
                assert re.fullmatch(rf"{key}=\{{+{key}\}}+", part), (name, path)
            found += 1
    assert found >= 20

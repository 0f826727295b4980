"""`ganbench slurm-profile`: sinfo parsing on captured output, choices, the filled-in template, and the
refusal to overwrite. No Slurm needed: the commands the library would run are replaced by captured text."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from ganbench import cluster
from ganbench.cli import main
from ganbench.cluster import Choices, parse_gres, parse_sinfo, parse_time_minutes, resolve
from ganbench.errors import GanbenchError

# `sinfo --noheader --format='%P|%a|%l|%c|%m|%G|%D'` on a cluster with CPU, GPU (two node types, socket
# bindings, shards beside the GPUs), debug and drained partitions.
SINFO_GPU_SITE = """\
cpu*|up|1-00:00:00|64|256000|(null)|120
cpu*|up|1-00:00:00|128|512000|(null)|8
gpu|up|2-00:00:00|64|512000|gpu:a100:4(S:0-1)|20
gpu|up|2-00:00:00|32|384000|gpu:v100:2(S:0),gpu:a100:1(S:1),shard:8|4
debug|up|30:00|64|256000|(null)|2
maint|down|infinite|8|1000|(null)|1
"""
# Untyped GPUs in the default partition, 4 h limit, 6 CPUs per GPU.
SINFO_UNTYPED = "batch*|up|4:00:00|48|192000+|gpu:8|10\n"
# The one-node cluster of .ci/slurm-up (no GPUs, no limit).
SINFO_CI = "debug*|up|infinite|2|23000|(null)|1\n"


@pytest.fixture(autouse=True)
def no_slurm_commands(monkeypatch):
    """scontrol and sacctmgr report nothing, as on a machine without Slurm (each test sets what it needs)."""
    monkeypatch.setattr(cluster, "_run", lambda cmd: None)


def fake_commands(monkeypatch, *, accounting: str = "accounting_storage/slurmdbd", account: str | None = "proj42"):
    import subprocess

    def run(cmd):
        if cmd[:2] == ["scontrol", "show"]:
            return subprocess.CompletedProcess(
                cmd, 0, f"ClusterName = hpc1\nAccountingStorageType = {accounting}\n", ""
            )
        if cmd[0] == "sacctmgr":
            return subprocess.CompletedProcess(cmd, 0, f"{account}\n" if account else "", "")
        return None

    monkeypatch.setattr(cluster, "_run", run)


def test_time_limits():
    assert parse_time_minutes("infinite") is None and parse_time_minutes("UNLIMITED") is None
    assert parse_time_minutes("30:00") == 30 and parse_time_minutes("30:01") == 31
    assert parse_time_minutes("4:00:00") == 240 and parse_time_minutes("1-00:00:00") == 1440
    assert (
        parse_time_minutes("2-12") == 3600 and parse_time_minutes("1-01:30") == 1530 and parse_time_minutes("45") == 45
    )
    with pytest.raises(GanbenchError, match=r"time limit '1h' is not a Slurm time"):
        parse_time_minutes("1h")


def test_gres():
    assert parse_gres("(null)") == {} and parse_gres("") == {}
    assert parse_gres("gpu:a100:4(S:0-1)") == {"a100": 4}
    assert parse_gres("gpu:v100:2(S:0,1),gpu:a100:1(S:1),shard:8") == {"v100": 2, "a100": 1}
    assert parse_gres("gpu:8") == {None: 8} and parse_gres("gpu") == {None: 1} and parse_gres("mps:100") == {}
    assert parse_gres("gpu:tesla_t4:2") == {"tesla_t4": 2}


def test_sinfo_partitions_merge_node_types():
    parts = {p.name: p for p in parse_sinfo(SINFO_GPU_SITE)}
    assert list(parts) == ["cpu", "gpu", "debug", "maint"]
    cpu, gpu = parts["cpu"], parts["gpu"]
    assert cpu.default and not gpu.default and cpu.up and not parts["maint"].up
    assert (cpu.cpus, cpu.mem_mb, cpu.nodes, cpu.max_minutes, cpu.gpus) == (64, 256000, 128, 1440, {})
    assert (gpu.cpus, gpu.mem_mb, gpu.nodes, gpu.max_minutes) == (32, 384000, 24, 2880)
    assert gpu.gpus == {"a100": 4, "v100": 2} and gpu.gpus_per_node == 4
    assert parts["debug"].max_minutes == 30 and parts["maint"].max_minutes is None
    (batch,) = parse_sinfo(SINFO_UNTYPED)
    assert batch.mem_mb == 192000 and batch.gpus == {None: 8}


@pytest.mark.parametrize(
    "text, message",
    [
        ("cpu*|up|1:00:00|64|256000\n", r"expected 7 '\|'-separated fields .* got 5"),
        ("cpu  up  1:00:00  64  256000  (null)  3\n", "got 1"),  # sinfo's default columns, not the explicit format
        ("cpu*|up|1:00:00|many|256000|(null)|3\n", "CPUs 'many' is not a number"),
        ("", "no partitions listed"),
    ],
)
def test_sinfo_errors(text, message):
    with pytest.raises(GanbenchError, match=message):
        parse_sinfo(text)


def test_detected_choices_on_a_gpu_site(monkeypatch):
    fake_commands(monkeypatch)
    site = cluster.detect_site(SINFO_GPU_SITE)
    assert site.account == "proj42" and site.accounting and site.cluster == "hpc1"
    p = resolve(site, Choices())
    assert (p.partition.name, p.gpu_partition.name, p.gpu_model) == ("cpu", "gpu", "a100")
    assert (p.cores, p.cpus_per_gpu, p.runtime, p.mem_mb, p.account, p.squeue_status) == (
        64,
        8,
        120,
        8000,
        "proj42",
        False,
    )


def test_untyped_gpus_in_the_default_partition():
    p = resolve(cluster.detect_site(SINFO_UNTYPED), Choices())
    assert p.partition.name == "batch" and p.gpu_partition.name == "batch" and p.gpu_model is None
    assert p.cpus_per_gpu == 6 and p.account is None  # 48 CPUs / 8 GPUs; no sacctmgr


def test_overrides_and_what_the_site_contradicts(monkeypatch):
    site = cluster.detect_site(SINFO_GPU_SITE)
    p = resolve(site, Choices(partition="debug", gpu_model="v100", account="other", cores=16, runtime=20))
    assert (p.partition.name, p.gpu_model, p.account, p.cores, p.runtime) == ("debug", "v100", "other", 16, 20)
    assert resolve(site, Choices(gpu_model="none")).gpu_model is None
    assert resolve(site, Choices(no_gpu=True)).gpu_partition is None
    for choices, message in [
        (Choices(partition="gpus"), r"--partition 'gpus': no such partition \(sinfo lists: cpu, gpu, debug, maint\)"),
        (Choices(gpu_partition="cpu"), "--gpu-partition 'cpu': sinfo lists no GPU gres"),
        (Choices(gpu_model="h100"), "--gpu-model 'h100': partition gpu has a100, v100 GPUs"),
        (Choices(partition="debug", runtime=60), "--runtime 60: partition debug allows at most 30 minutes"),
        (Choices(mem_mb=300000), "--mem-mb 300000: nodes of partition cpu have 256000 MB"),
    ]:
        with pytest.raises(GanbenchError, match=message):
            resolve(site, choices)


def _non_comment(text: str) -> str:
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


def test_rendered_gpu_profile(monkeypatch):
    fake_commands(monkeypatch)
    site = cluster.detect_site(SINFO_GPU_SITE)
    text = cluster.render_profile(resolve(site, Choices()), cluster=site.cluster)
    assert "SITE" not in _non_comment(text) and "for cluster hpc1" in text
    prof = yaml.safe_load(text)
    assert prof["executor"] == "slurm" and prof["cores"] == 64
    assert prof["default-resources"] == {
        "slurm_account": "proj42",
        "slurm_partition": "cpu",
        "runtime": 120,
        "mem_mb": 8000,
    }
    assert "slurm-no-account" not in prof and "slurm-status-command" not in prof
    train = prof["set-resources"]["train"]
    assert (train["slurm_partition"], train["gpu_model"], train["cpus_per_gpu"], train["tasks_per_gpu"]) == (
        "gpu",
        "a100",
        8,
        0,
    )
    # the rule's runtime, capped at the partition's 2 days, evaluated as Snakemake evaluates it
    assert [eval(train["runtime"], {"attempt": a}) for a in (1, 2, 3, 4)] == [360, 720, 1440, 2880]
    assert 'stats: {slurm_partition: "gpu", gpu: 1, gpu_model: "a100"' in text  # the commented examples too
    assert "sbatch --gpus=a100:<gpus> --ntasks=<gpus>" in text and "--gpus=a100:<n>" in text


def test_rendered_profile_without_gpus_or_accounting(monkeypatch):
    """The CI cluster: no GPU gres, no accounting database: CPU training, no account, squeue states."""
    fake_commands(monkeypatch, accounting="accounting_storage/none")
    site = cluster.detect_site(SINFO_CI)
    assert not site.accounting and site.account is None
    prof = yaml.safe_load(cluster.render_profile(resolve(site, Choices())))
    assert prof["slurm-no-account"] is True and prof["slurm-status-command"] == "squeue"
    assert prof["cores"] == 2 and prof["default-resources"] == {
        "slurm_partition": "debug",
        "runtime": 120,
        "mem_mb": 8000,
    }
    train = prof["set-resources"]["train"]
    assert train == {"slurm_partition": "debug", "gpu": 0, "cpus_per_task": 1, "tasks_per_gpu": 0}


def test_untyped_profile_has_no_gpu_model():
    text = cluster.render_profile(resolve(cluster.detect_site(SINFO_UNTYPED), Choices()))
    prof = yaml.safe_load(text)
    assert "gpu_model" not in _non_comment(text) and prof["set-resources"]["train"]["slurm_partition"] == "batch"
    assert eval(prof["set-resources"]["train"]["runtime"], {"attempt": 2}) == 240  # the 4 h limit


def test_written_where_snakemake_looks_and_never_overwritten(monkeypatch, tmp_path, capsys):
    """The default destination is the folder `snakemake --profile slurm` searches (its own lookup finds it);
    a second run refuses in one line, exit 2, and leaves the profile alone; --force replaces it."""
    from snakemake.cli import get_profile_dir

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    sinfo = tmp_path / "sinfo.txt"
    sinfo.write_text(SINFO_CI)
    monkeypatch.chdir(tmp_path)
    assert main(["slurm-profile", "--sinfo", str(sinfo)]) == 0
    written = tmp_path / "xdg" / "snakemake" / "slurm" / "config.yaml"
    out = capsys.readouterr().out
    assert f"wrote {written}" in out and "use it with: snakemake --profile slurm" in out
    assert get_profile_dir("slurm") == (written.parent, written)
    first = written.read_text()

    assert main(["slurm-profile", "--sinfo", str(sinfo), "--partition", "nope"]) == 2  # checked before the sinfo
    err = capsys.readouterr().err
    assert err == f"ganbench: error: {written}: a profile is already there; pass --force to replace it\n"
    assert written.read_text() == first
    assert main(["slurm-profile", "--sinfo", str(sinfo), "--force", "--account", "acct9"]) == 0
    prof = yaml.safe_load(written.read_text())
    assert prof["default-resources"]["slurm_account"] == "acct9" and "slurm-no-account" not in prof
    assert sorted(os.listdir(written.parent)) == ["config.yaml"]  # no temporary file left


def test_template_drift_is_named(tmp_path):
    template = tmp_path / "config.yaml"
    template.write_text(cluster.TEMPLATE.read_text().replace('slurm_partition: "SITE-cpu"', "slurm_partition: x"))
    with pytest.raises(GanbenchError, match=r"config.yaml: no line matching .*SITE-cpu"):
        cluster.render_profile(resolve(cluster.detect_site(SINFO_CI), Choices()), template=Path(template))

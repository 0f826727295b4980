"""A Snakemake profile for this Slurm cluster, filled in from what ``sinfo`` and ``sacctmgr`` report.

``snakemake --profile slurm`` looks for a folder named ``slurm`` in the working directory, then in the
user's Snakemake config folder (``platformdirs``' ``user_config_dir`` for ``snakemake``, e.g.
``~/.config/snakemake``), then in the site's (``/etc/xdg/snakemake``); never in the workflow's ``profiles/``.
:func:`write_profile` fills in the commented site template ``profiles/slurm/config.yaml`` and writes it to
the user's folder, so the command works as typed.

What is detected (each value can be given instead, see :class:`Choices`):

- partitions from ``sinfo --noheader --format=SINFO_FORMAT`` (an explicit format with ``|`` between fields, so
  the parsing does not depend on the site's default columns): availability, time limit, CPUs and memory per
  node, GPU gres per node;
- the CPU partition: the default partition (``*``) when it has no GPUs, else the first up partition without
  GPUs; the GPU partition: the default one when it has GPUs, else the up partition with the most GPUs per node;
  the GPU model: the gres type the GPU partition has most of (none for untyped gres);
- the account: the user's default account from ``sacctmgr`` where there is an accounting database;
- whether ``sacct`` can report job states (``AccountingStorageType`` in ``scontrol show config``); where it
  cannot, the profile asks the plugin to use ``squeue``.
"""

from __future__ import annotations

import getpass
import os
import re
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ganbench.errors import GanbenchError
from ganbench.fileio import atomic_path

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "profiles" / "slurm" / "config.yaml"

# partition (``*`` marks the default), availability, time limit, CPUs per node, memory per node (MB),
# generic resources per node, node count. One line per partition and node configuration.
SINFO_FORMAT = "%P|%a|%l|%c|%m|%G|%D"
SINFO_COMMAND = ("sinfo", "--noheader", f"--format={SINFO_FORMAT}")

# The template's own defaults, capped by what the partitions allow.
DEFAULT_RUNTIME = 120  # minutes, default-resources
DEFAULT_MEM_MB = 8000
CPUS_PER_GPU = 8
TRAIN_RUNTIME = "360 * 2 ** (attempt - 1)"  # the train rule's own runtime (rules/train.smk)


@dataclass
class Partition:
    """One partition as sinfo describes it; per-node values are the smallest over its nodes (a job sized to
    them fits on any node), GPUs the largest count of each type."""

    name: str
    default: bool = False
    up: bool = True
    max_minutes: int | None = None  # None: no limit
    cpus: int = 0
    mem_mb: int = 0
    gpus: dict[str | None, int] = field(default_factory=dict)  # gres type (None: untyped) -> GPUs per node
    nodes: int = 0

    @property
    def gpus_per_node(self) -> int:
        return max(self.gpus.values(), default=0)


def parse_time_minutes(text: str) -> int | None:
    """A Slurm time limit (``infinite``, ``MM``, ``MM:SS``, ``HH:MM:SS``, ``D-HH``, ``D-HH:MM``, ``D-HH:MM:SS``)
    in whole minutes, rounded up; None for no limit."""
    text = text.strip()
    if text.lower() in ("infinite", "unlimited", "n/a", ""):
        return None
    m = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", text)
    if not m:
        raise GanbenchError(f"sinfo: time limit {text!r} is not a Slurm time")
    days, a, b, c = (int(g) if g is not None else None for g in m.groups())
    if days is not None:  # D-HH[:MM[:SS]]
        seconds = days * 86400 + a * 3600 + (b or 0) * 60 + (c or 0)
    elif c is not None:  # HH:MM:SS
        seconds = a * 3600 + b * 60 + c
    elif b is not None:  # MM:SS
        seconds = a * 60 + b
    else:  # MM
        seconds = a * 60
    return -(-seconds // 60)


def parse_gres(text: str) -> dict[str | None, int]:
    """GPUs per node by type from a sinfo ``%G`` field: ``gpu:a100:4(S:0-1),shard:8`` -> {"a100": 4};
    ``gpu:2`` -> {None: 2}; ``(null)`` -> {}."""
    gpus: dict[str | None, int] = {}
    text = re.sub(r"\([^)]*\)", "", text.strip())  # socket bindings: (S:0-1), (S:0,1)
    for item in filter(None, (part.strip() for part in text.split(","))):
        fields = item.split(":")
        if fields[0] != "gpu":
            continue
        count = 1
        if fields[-1].isdigit() and len(fields) > 1:
            count, fields = int(fields[-1]), fields[:-1]
        kind = fields[1] if len(fields) > 1 else None
        gpus[kind] = max(gpus.get(kind, 0), count)
    return gpus


def _count(text: str, what: str, line: str) -> int:
    m = re.fullmatch(r"(\d+)\+?", text.strip())  # sinfo writes "64+" when nodes in one line differ
    if not m:
        raise GanbenchError(f"sinfo: {what} {text!r} is not a number in line {line!r}")
    return int(m.group(1))


def parse_sinfo(text: str) -> list[Partition]:
    """Partitions, in sinfo's order, from the output of :data:`SINFO_COMMAND`."""
    parts: dict[str, Partition] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        fields = line.strip().split("|")
        if len(fields) != 7:
            raise GanbenchError(
                f"sinfo: expected 7 '|'-separated fields ({SINFO_FORMAT}), got {len(fields)} in line {line!r}"
            )
        name, avail, limit, cpus, mem, gres, nodes = fields
        default = name.endswith("*")
        name = name.rstrip("*")
        cpus, mem, nodes = _count(cpus, "CPUs", line), _count(mem, "memory", line), _count(nodes, "nodes", line)
        part = parts.get(name)
        if part is None:
            part = parts[name] = Partition(
                name,
                default,
                avail.strip().lower() == "up",
                parse_time_minutes(limit),
                cpus,
                mem,
                parse_gres(gres),
                nodes,
            )
            continue
        part.default |= default
        part.cpus, part.mem_mb, part.nodes = min(part.cpus, cpus), min(part.mem_mb, mem), part.nodes + nodes
        for kind, count in parse_gres(gres).items():
            part.gpus[kind] = max(part.gpus.get(kind, 0), count)
    if not parts:
        raise GanbenchError("sinfo: no partitions listed")
    return list(parts.values())


@dataclass
class Site:
    """What the cluster reports."""

    partitions: list[Partition]
    account: str | None = None
    accounting: bool = True  # sacct has a database behind it (else job states come from squeue)
    cluster: str | None = None


def _run(cmd: list[str] | tuple[str, ...]) -> subprocess.CompletedProcess | None:
    if shutil.which(cmd[0]) is None:
        return None
    try:
        return subprocess.run(list(cmd), capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None


def detect_site(sinfo_text: str | None = None) -> Site:
    """Ask sinfo (unless ``sinfo_text`` is given), scontrol and sacctmgr about this cluster."""
    if sinfo_text is None:
        out = _run(SINFO_COMMAND)
        if out is None:
            raise GanbenchError(
                "sinfo: not found on PATH; run this on the cluster's login node, or pass "
                "--sinfo with a file holding the output of: " + " ".join(SINFO_COMMAND)
            )
        if out.returncode != 0:
            first = (out.stderr.strip().splitlines() or ["no output"])[0]
            raise GanbenchError(f"sinfo: failed with exit status {out.returncode}: {first}")
        sinfo_text = out.stdout
    site = Site(parse_sinfo(sinfo_text))
    conf = _run(["scontrol", "show", "config"])
    if conf is not None and conf.returncode == 0:
        settings = dict(re.findall(r"^(\w+)\s*=\s*(.*?)\s*$", conf.stdout, re.MULTILINE))
        site.accounting = settings.get("AccountingStorageType", "") not in ("accounting_storage/none", "")
        site.cluster = settings.get("ClusterName")
    if site.accounting:
        site.account = default_account()
    return site


def default_account(user: str | None = None) -> str | None:
    """The user's default Slurm account (sacctmgr), else their first association's; None where there is none."""
    user = user or getpass.getuser()
    for query in (
        ["show", "user", user, "format=DefaultAccount"],
        ["show", "associations", f"user={user}", "format=Account"],
    ):
        out = _run(["sacctmgr", "--noheader", "--parsable2", *query])
        if out is None or out.returncode != 0:
            return None
        names = [line.strip() for line in out.stdout.splitlines() if line.strip()]
        if names:
            return names[0]
    return None


# ------------------------------------------------------------------------------------------------ choices


@dataclass
class Choices:
    """What goes into the profile; None fields are detected."""

    account: str | None = None
    no_account: bool = False
    partition: str | None = None
    gpu_partition: str | None = None
    gpu_model: str | None = None  # "none": untyped --gpus=<n>
    no_gpu: bool = False  # train on CPUs (gpu: 0), as on a cluster without GPUs
    cores: int | None = None
    cpus_per_gpu: int | None = None
    runtime: int | None = None  # minutes, default-resources
    mem_mb: int | None = None  # default-resources


@dataclass
class Profile:
    """The resolved values of one profile."""

    account: str | None
    partition: Partition
    gpu_partition: Partition | None
    gpu_model: str | None
    cores: int
    cpus_per_gpu: int
    runtime: int
    mem_mb: int
    squeue_status: bool
    notes: list[str]


def _find(site: Site, name: str, flag: str) -> Partition:
    for part in site.partitions:
        if part.name == name:
            return part
    known = ", ".join(p.name for p in site.partitions)
    raise GanbenchError(f"{flag} {name!r}: no such partition (sinfo lists: {known})")


def resolve(site: Site, choices: Choices) -> Profile:
    """Fill every value the user did not give from the site; raise one line on a value the site contradicts."""
    notes: list[str] = []
    up = [p for p in site.partitions if p.up] or site.partitions
    if choices.partition:
        cpu = _find(site, choices.partition, "--partition")
    else:
        default = next((p for p in up if p.default), None)
        cpu = (
            default
            if default is not None and not default.gpus
            else next((p for p in up if not p.gpus), default or up[0])
        )
        notes.append(f"CPU partition {cpu.name} ({'default' if cpu.default else 'first without GPUs'})")

    gpu: Partition | None = None
    if not choices.no_gpu:
        if choices.gpu_partition:
            gpu = _find(site, choices.gpu_partition, "--gpu-partition")
            if not gpu.gpus:
                raise GanbenchError(
                    f"--gpu-partition {gpu.name!r}: sinfo lists no GPU gres on its nodes "
                    f"(use --no-gpu to train on CPUs)"
                )
        else:
            with_gpus = [p for p in up if p.gpus]
            gpu = next((p for p in with_gpus if p.default), None) or max(
                with_gpus, key=lambda p: p.gpus_per_node, default=None
            )
            if gpu is None:
                notes.append("no partition has GPU gres: training runs on CPUs (gpu: 0)")
            else:
                notes.append(f"GPU partition {gpu.name} ({gpu.gpus_per_node} GPUs per node)")
    if choices.gpu_model is not None and gpu is None:
        raise GanbenchError(f"--gpu-model {choices.gpu_model!r}: there is no GPU partition to use it in")

    model: str | None = None
    if gpu is not None:
        typed = Counter({k: v for k, v in gpu.gpus.items() if k is not None})
        if choices.gpu_model is not None:
            model = None if choices.gpu_model == "none" else choices.gpu_model
            if model is not None and model not in typed:
                raise GanbenchError(
                    f"--gpu-model {model!r}: partition {gpu.name} has "
                    f"{', '.join(sorted(typed)) or 'only untyped'} GPUs (or give --gpu-model none)"
                )
        elif typed:
            model = typed.most_common(1)[0][0]
            notes.append(f"GPU model {model}")

    cores = choices.cores or max(cpu.cpus, 1)
    per_gpu = choices.cpus_per_gpu
    if per_gpu is None:
        per_gpu = CPUS_PER_GPU if gpu is None else max(1, min(CPUS_PER_GPU, gpu.cpus // max(gpu.gpus_per_node, 1)))
    runtime = choices.runtime or min(DEFAULT_RUNTIME, cpu.max_minutes or DEFAULT_RUNTIME)
    mem = choices.mem_mb or min(DEFAULT_MEM_MB, cpu.mem_mb or DEFAULT_MEM_MB)
    if cpu.max_minutes is not None and runtime > cpu.max_minutes:
        raise GanbenchError(f"--runtime {runtime}: partition {cpu.name} allows at most {cpu.max_minutes} minutes")
    if cpu.mem_mb and mem > cpu.mem_mb:
        raise GanbenchError(f"--mem-mb {mem}: nodes of partition {cpu.name} have {cpu.mem_mb} MB")

    account = None if choices.no_account else (choices.account or site.account)
    if account is None and not choices.no_account:
        notes.append(
            "no account found (sacctmgr): slurm-no-account"
            if site.accounting
            else "no accounting database (scontrol): slurm-no-account, job states from squeue"
        )
    return Profile(account, cpu, gpu, model, cores, per_gpu, runtime, mem, not site.accounting, notes)


# ------------------------------------------------------------------------------------------------ writing


def profile_dir(name: str = "slurm") -> Path:
    """Where ``snakemake --profile NAME`` finds a profile outside the working directory: the user's Snakemake
    config folder, as Snakemake computes it (``platformdirs.AppDirs("snakemake", "snakemake")``)."""
    from platformdirs import AppDirs

    return Path(AppDirs("snakemake", "snakemake").user_config_dir) / name


def _sub(text: str, pattern: str, repl: str, template: Path, count: int = 1) -> str:
    new, n = re.subn(pattern, lambda m: m.expand(repl), text, count=count, flags=re.MULTILINE)
    if n == 0:
        raise GanbenchError(f"{template}: no line matching {pattern!r} to fill in")
    return new


def render_profile(
    profile: Profile,
    template: Path = TEMPLATE,
    when: datetime | None = None,
    cluster: str | None = None,
    name: str = "slurm",
) -> str:
    """The template's text with the site's values in place of the ``SITE`` placeholders."""
    text = Path(template).read_text()
    when = when or datetime.now(timezone.utc)
    cpu, gpu = profile.partition, profile.gpu_partition
    header = [
        f"# Written by `ganbench slurm-profile` on {when:%Y-%m-%d %H:%M} UTC"
        f"{f' for cluster {cluster}' if cluster else ''}, from the site template {template.name} in",
        f"# {template.parent}. Snakemake finds it as `snakemake --profile {name}`.",
        "# Detected: " + "; ".join(profile.notes or ["nothing (every value was given)"]) + ".",
        "# Rerun with --force to rewrite it; edit it by hand for anything the command does not set.",
    ]
    body = text[text.index("executor: slurm") :] if "executor: slurm" in text else None
    if body is None:
        raise GanbenchError(f"{template}: no line 'executor: slurm'")
    text = "\n".join(header) + "\n" + body

    text = _sub(text, r"^cores: \d+ *", f"cores: {profile.cores}".ljust(32), template)
    if profile.account:
        text = _sub(text, r'^(\s*)slurm_account: "SITE-account"', rf'\1slurm_account: "{profile.account}"', template)
    else:
        text = _sub(text, r'^\s*slurm_account: "SITE-account".*\n', "", template)
        text = _sub(
            text, r"^# slurm-no-account: true\s.*$", "slurm-no-account: true        # no account on this site", template
        )
    if profile.squeue_status:
        text = _sub(
            text,
            r"^# slurm-status-command: squeue\s.*$",
            "slurm-status-command: squeue  # no accounting database behind sacct here",
            template,
        )
    text = _sub(text, r'^(\s*)slurm_partition: "SITE-cpu"', rf'\1slurm_partition: "{cpu.name}"', template)
    text = _sub(text, r"^(  )runtime: 120\b", rf"\1runtime: {profile.runtime}", template)
    text = _sub(text, r"^(  )mem_mb: 8000\b", rf"\1mem_mb: {profile.mem_mb}", template)

    if gpu is not None:
        text = _sub(text, r'^(    )slurm_partition: "SITE-gpu"', rf'\1slurm_partition: "{gpu.name}"', template)
        text = text.replace('"SITE-gpu"', f'"{gpu.name}"')  # the commented stats/evaluate examples
        if profile.gpu_model:
            text = _sub(text, r'^(    )gpu_model: "a100"', rf'\1gpu_model: "{profile.gpu_model}"', template)
            text = text.replace('gpu_model: "a100"', f'gpu_model: "{profile.gpu_model}"')
            text = (
                text.replace("--gpus=a100:", f"--gpus={profile.gpu_model}:")
                .replace("--gpus=<model>:", f"--gpus={profile.gpu_model}:")
                .replace('"gpu:a100:', f'"gpu:{profile.gpu_model}:')
            )
        else:
            text = _sub(text, r'^    gpu_model: "a100".*\n', "", template)
            text = text.replace('gpu_model: "a100", ', "")
        text = _sub(text, r"^(    )cpus_per_gpu: 8\b", rf"\1cpus_per_gpu: {profile.cpus_per_gpu}", template)
        if gpu.max_minutes is not None:
            text = _sub(
                text,
                r'^    # runtime: "2880 \* attempt".*$',
                f'    runtime: "min({TRAIN_RUNTIME}, {gpu.max_minutes})"   # the rule\'s 6 h doubled per '
                f"retry, capped at the partition's limit",
                template,
            )
        text = _sub(
            text,
            r'^    # mem_mb: "128000 \* attempt".*$',
            f'    # mem_mb: "min(64000 * attempt, {gpu.mem_mb})"   # the rule asks 8 GB + 8 GB per rank; '
            f"nodes of {gpu.name} have {gpu.mem_mb} MB",
            template,
        )
    else:
        text = _sub(
            text,
            r'^(    )slurm_partition: "SITE-gpu".*$',
            rf'\1slurm_partition: "{cpu.name}"\n\1gpu: 0                       # no GPUs on this cluster: '
            r"the ranks run on CPUs with gloo"
            "\n"
            r"\1cpus_per_task: 1             # one CPU per rank",
            template,
        )
        text = _sub(text, r'^    gpu_model: "a100".*\n', "", template)
        text = _sub(text, r"^    cpus_per_gpu: 8\b.*\n", "", template)
    return text.replace("# SITE: ", "# ")  # filled in


def write_profile(
    choices: Choices,
    dest: str | os.PathLike | None = None,
    force: bool = False,
    sinfo_text: str | None = None,
    template: Path = TEMPLATE,
) -> tuple[Path, Profile]:
    """Detect, resolve and write ``config.yaml`` into ``dest`` (default: :func:`profile_dir`); refuse to
    replace an existing profile unless ``force``. Returns the file written and the values in it."""
    folder = Path(dest) if dest is not None else profile_dir()
    target = folder / "config.yaml"
    existing = (
        [p for p in (target, folder / "profile.yaml", *folder.glob("*.v*+.yaml")) if p.exists()]
        if folder.is_dir()
        else []
    )
    if folder.exists() and not folder.is_dir():
        raise GanbenchError(f"{folder}: exists and is not a folder; expected a profile folder")
    if existing and not force:
        raise GanbenchError(f"{existing[0]}: a profile is already there; pass --force to replace it")
    site = detect_site(sinfo_text)
    profile = resolve(site, choices)
    text = render_profile(profile, template, cluster=site.cluster, name=folder.name)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        tmp.write_text(text)
    return target, profile

"""The best-FID snapshot of a run, for any GAN method: an evaluation and a stage input.

The official policy of COCO-GAN (its reported FIDs are best-of-training) and of Vision-aided GAN (research
visionaided.md §1.2, §2.5: each round and the linear probe start from the snapshot with the lowest fid50k_full
of the previous run). :func:`best_fid_snapshot` measures the protocol's FID of every snapshot of the run that
``final.pt`` ends, and writes

- ``fid-best.json``: the lowest FID, the kimg of its snapshot, every snapshot's value, the chosen file's sha256;
- optionally a copy of the chosen snapshot (``paths.best_snapshot_path``), which a child experiment takes as
  ``inputs: {parent: {best_fid: <experiment>}}``; a copy rather than a link, so that its modification time is
  the selection's and a changed run reruns its children.

Snapshots of the same run directory that another configuration or other inputs trained (a stale resume
candidate) are left out: only those ``final.pt``'s own trajectory wrote count.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ganbench.errors import GanbenchError
from ganbench.fileio import atomic_path, sha256_file, write_json
from ganbench.metrics.protocols import Protocol
from ganbench.train.checkpoint import CHECKPOINT_NAME, load_checkpoint, same_trajectory

SNAPSHOT_POLICY = "best FID over the run's snapshots"


def run_snapshots(final_path: str | os.PathLike) -> list[tuple[float, Path]]:
    """(kimg, path) of every ``checkpoint-*.pt`` beside ``final_path`` written by the same trajectory (same
    configuration and inputs, at most as far as the final), oldest first; the final alone if there is none."""
    final_path = Path(final_path)
    if not final_path.is_file():
        raise GanbenchError(f"{final_path}: checkpoint not found")
    final = load_checkpoint(final_path, mmap=True)
    out = []
    for path in final_path.parent.glob("checkpoint-*.pt"):
        if not CHECKPOINT_NAME.search(path.name):
            continue
        ckpt = load_checkpoint(path, mmap=True)
        if (
            same_trajectory(ckpt["experiment"], final["experiment"])
            and ckpt.get("input_sha256") == final.get("input_sha256")
            and ckpt["nimg"] <= final["nimg"]
        ):
            out.append((ckpt["nimg"] / 1000, path))
    return sorted(out) or [(final["nimg"] / 1000, final_path)]


def best_fid_snapshot(
    final_path: str | os.PathLike,
    stats_path: str | os.PathLike,
    extractor,
    protocol: Protocol,
    out_dir: str | os.PathLike,
    snapshot_out: str | os.PathLike | None = None,
    batch: int = 32,
) -> dict:
    """The protocol's FID of every snapshot of the run ending in ``final_path``; writes ``fid-best.json`` in
    ``out_dir`` and, if given, copies the best snapshot to ``snapshot_out``. Returns the record."""
    from ganbench.metrics.gan_metrics import evaluate_checkpoint  # torch-fidelity: only when measuring

    if "fid" not in protocol.metrics:
        raise GanbenchError(f"protocol {protocol.name}: measures no FID, so it cannot pick a best-FID snapshot")
    if not Path(stats_path).is_file():
        raise GanbenchError(f"{stats_path}: statistics file not found")
    snapshots = run_snapshots(final_path)
    per_snapshot: dict[float, dict] = {}
    paths: dict[float, Path] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kimg, path in snapshots:
            records = evaluate_checkpoint(path, stats_path, extractor, protocol, tmp, metrics=["fid"], batch=batch)
            per_snapshot[kimg], paths[kimg] = records["fid"], path
    best_kimg = min(per_snapshot, key=lambda k: (per_snapshot[k]["value"], -k))  # a tie: the later snapshot
    best = per_snapshot[best_kimg]
    record = {
        **best,
        "metric": "fid-best",
        "protocol": {**best["protocol"], "snapshot_policy": SNAPSHOT_POLICY},
        "best_kimg": best_kimg,
        "snapshot": paths[best_kimg].name,
        "snapshot_sha256": sha256_file(paths[best_kimg]),
        "per_snapshot": {f"{k:g}": r["value"] for k, r in per_snapshot.items()},
    }
    if snapshot_out is not None:
        with atomic_path(snapshot_out) as tmp_path:
            shutil.copyfile(paths[best_kimg], tmp_path)
    write_json(Path(out_dir) / "fid-best.json", record)
    return record

"""The one training loop: every method and every stage (GAN or not) trains through :func:`training_loop`.

Before the first step: hash the inputs (data, parents, weights), resume from the newest checkpoint
with the same configuration and inputs, or else start the parts named by ``init_from`` from their
inputs; freeze the ``frozen`` parts (no gradient, no optimiser, no DDP traffic). Per step: fetch this
rank's share of the global batch (the fields the method's catalog entry declares), then for each
phase the method declares (G main, G reg every k steps, D main, D reg, ...): zero the network's
gradients, let the method accumulate them over the micro-batches, average them over ranks, stop on a
non-finite value, and step the optimiser. Then EMA, the method's end-of-step hook, kimg accounting,
logging (sec/kimg and ETA), preview grids and checkpoints.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import numpy as np
import PIL.Image
import torch
from tqdm import tqdm

from ganbench.config import training_experiment
from ganbench.errors import GanbenchError
from ganbench.fileio import atomic_path
from ganbench.methods import build_method
from ganbench.methods.base import Batch, Method, Phase, StepContext
from ganbench.methods.catalog import CATALOG, image_size
from ganbench.train import inputs as stage_inputs
from ganbench.train.batch_random import BatchRandom, derive_seed
from ganbench.train.checkpoint import (
    checkpoint_name,
    load_checkpoint,
    resume_candidates,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from ganbench.train.data import TrainingData, batch_iterator, to_batch
from ganbench.train.distributed import World, init_world, shutdown_world

SAMPLE_SEEDS = list(range(32))  # the fixed seeds of every sample grid


class TrainingDiverged(GanbenchError):
    """A loss or gradient became NaN or infinite."""


def trained_parameters(method: Method, frozen: list[torch.nn.Parameter] = ()) -> dict[str, list[torch.nn.Parameter]]:
    """Per trainable network, the parameters that train: all but the frozen ones."""
    skip = {id(p) for p in frozen}
    return {name: [p for p in net.parameters() if id(p) not in skip] for name, net in method.trainable().items()}


def make_optimizers(method: Method, frozen: list[torch.nn.Parameter] = ()) -> dict[str, torch.optim.Optimizer]:
    """One optimiser per network over its trained parameters, of the spec's ``kind``: Adam (with the
    lazy-regularisation correction of lr and betas) or SGD with momentum."""
    params = trained_parameters(method, frozen)
    optimizers = {}
    for name, spec in method.optimizer_specs().items():
        if spec.kind == "sgd":
            optimizers[name] = torch.optim.SGD(params[name], lr=spec.lr, momentum=spec.momentum)
            continue
        ratio = spec.reg_interval / (spec.reg_interval + 1) if spec.reg_interval else 1.0
        optimizers[name] = torch.optim.Adam(
            params[name], lr=spec.lr * ratio, betas=tuple(b**ratio for b in spec.betas), eps=spec.eps
        )
    return optimizers


@torch.no_grad()
def update_ema(method: Method, nimg: int, batch: int, ema_kimg: float, ema_rampup: float | None) -> None:
    ema_nimg = ema_kimg * 1000
    if ema_rampup:
        ema_nimg = min(ema_nimg, nimg * ema_rampup)
    beta = 0.5 ** (batch / max(ema_nimg, 1e-8))
    for net, ema in method.ema_pairs():
        for p, p_ema in zip(net.parameters(), ema.parameters()):
            p_ema.copy_(p.detach().lerp(p_ema, beta))
        for b, b_ema in zip(net.buffers(), ema.buffers()):
            b_ema.copy_(b)


def save_image_grid(images: torch.Tensor, path: str | os.PathLike, cols: int = 8, zoom: int = 1) -> None:
    """Write images in [-1, 1], (n, C, H, W), as one PNG grid, each magnified ``zoom`` times (nearest)."""
    x = ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()
    x = x.repeat(zoom, axis=2).repeat(zoom, axis=3)
    n, c, h, w = x.shape
    rows = math.ceil(n / cols)
    grid = np.zeros((rows * h, cols * w, c), np.uint8)
    for i, img in enumerate(x):
        r, k = divmod(i, cols)
        grid[r * h : (r + 1) * h, k * w : (k + 1) * w] = img.transpose(1, 2, 0)
    with atomic_path(path) as tmp:
        PIL.Image.fromarray(grid.squeeze(-1) if c == 1 else grid).save(tmp, format="png")


class _Phases:
    """Runs one phase: zero grads, accumulate over micro-batches, average over ranks, check, step."""

    def __init__(
        self,
        method: Method,
        optimizers: dict,
        world: World,
        seed: int,
        precision: str,
        frozen: list[torch.nn.Parameter] = (),
    ):
        self.method, self.optimizers, self.world, self.seed = method, optimizers, world, seed
        self.params = trained_parameters(method, frozen)
        self.autocast = precision == "bf16"

    def _train_only(self, network: str | None) -> None:
        # by identity: networks may share parameters (COCO-GAN's coordinate head is in G's and D's
        # optimisers), and a shared parameter trains in either network's phase
        on = {id(p) for p in self.params[network]} if network is not None else set()
        for params in self.params.values():
            for p in params:
                p.requires_grad_(id(p) in on)

    def run(self, phase: Phase, step: int, nimg: int, micro: list[Batch]) -> dict:
        self._train_only(phase.network)
        params = self.params[phase.network]
        self.optimizers[phase.network].zero_grad(set_to_none=True)
        logged: dict[str, float] = {}
        for round_index, batch in enumerate(micro):
            ctx = StepContext(
                rng=BatchRandom(
                    derive_seed(self.seed, step, phase.name, round_index),
                    self.world.rank,
                    self.world.size,
                    self.world.device,
                ),
                step=step,
                nimg=nimg,
                rank=self.world.rank,
                world_size=self.world.size,
                device=self.world.device,
                all_reduce_mean=self.world.all_reduce_mean,
            )
            with torch.autocast(self.world.device.type, dtype=torch.bfloat16, enabled=self.autocast):
                losses = self.method.accumulate_gradients(phase, batch, ctx)
            for key, value in losses.items():
                logged[key] = logged.get(key, 0.0) + float(value) / len(micro)
        for p in params:
            if p.grad is not None and len(micro) > 1:
                p.grad /= len(micro)  # the mean over the global batch, not the sum over micro-batches
        self.world.average_gradients(params)
        self._check_finite(phase, step, nimg, logged, params)
        self.optimizers[phase.network].step()
        self._train_only(None)
        return logged

    def _check_finite(self, phase, step, nimg, losses, params) -> None:
        bad = [k for k, v in losses.items() if not math.isfinite(v)]
        grads = [p.grad for p in params if p.grad is not None]
        if not bad and grads and not torch.isfinite(torch.cat([g.flatten() for g in grads])).all():
            bad = [f"a gradient of {phase.network}"]
        if bad:
            raise TrainingDiverged(
                f"step {step} ({nimg / 1000:.3f} kimg), phase {phase.name}: {bad[0]} is not finite; "
                f"the run stopped and its last good checkpoint is kept"
            )


def training_loop(
    experiment: dict,
    dataset_path: str | os.PathLike,
    run_dir: str | os.PathLike,
    resume: bool = True,
    device: str | None = None,
    deterministic: bool = False,
    inputs: dict[str, str | os.PathLike] | None = None,
) -> Path:
    """Train ``experiment`` (a validated config entry) on ``dataset_path``; return the path of ``final.pt``.

    ``inputs`` maps each role under the experiment's ``inputs:`` to its file (a parent's ``final.pt``, a
    checkpoint, a weights or annotations file). With ``resume`` the run continues from the newest
    checkpoint in ``run_dir`` trained with the same configuration on inputs with the same sha256 (and
    from scratch if there is none).
    """
    experiment = training_experiment(experiment)  # the protocols it is measured by do not change how it trains
    world = init_world(device)
    try:
        return _train(experiment, Path(dataset_path), Path(run_dir), resume, world, deterministic, inputs)
    finally:
        shutdown_world(world)


def _say(world: World, text: str) -> None:
    if world.is_main:
        print(text, flush=True)


def _resume_point(run_dir: Path, exp: dict, hashes: dict[str, str], world: World) -> Path | None:
    """The checkpoint to resume from; says which, or why each newer one was passed over."""
    for path, why in resume_candidates(run_dir, exp, hashes):
        if why is None:
            nimg = load_checkpoint(path, mmap=True)["nimg"]
            _say(world, f"{exp['name']}: resuming from {path.name} ({nimg / 1000:g} kimg)")
            return path
        _say(world, f"{exp['name']}: not resuming from {path.name}: {why}")
    _say(world, f"{exp['name']}: no checkpoint to resume from in {run_dir}; training from the start")
    return None


def _train(
    exp: dict, dataset_path: Path, run_dir: Path, resume: bool, world: World, deterministic: bool, inputs: dict | None
) -> Path:
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    if world.device.type == "cpu":
        # Denormal floats appear in GAN training within a few kimg and make CPU kernels ~10x slower.
        torch.set_flush_denormal(True)
    torch.manual_seed(derive_seed(exp["seed"], "init"))  # identical initial networks on every rank
    run_dir.mkdir(parents=True, exist_ok=True)
    where = f"experiments.{exp['name']}"
    batch, rounds = _batch_layout(exp, world)
    records = stage_inputs.describe_inputs(exp, dataset_path, inputs)
    hashes = stage_inputs.input_hashes(records)
    entry = CATALOG[exp["method"]]
    data = TrainingData(
        dataset_path,
        entry.batch_fields,
        xflip=exp["mirror"],
        resolution=image_size(exp),
        annotations=records["annotations"].path if "annotations" in records else None,
        split=entry.train_split,
        limit=exp.get("train_images"),
    )
    parents = stage_inputs.parent_infos(records)
    method = build_method(
        exp["method"],
        exp["options"],
        exp["resolution"],
        data.image_shape[0],
        data.label_dim,
        where=f"{where}.options",
        parents=parents,
    ).to(world.device)
    stage_inputs.check_parts(method, exp)
    frozen_inputs = stage_inputs.frozen_from_inputs(exp, records)
    frozen = stage_inputs.freeze(method, exp.get("frozen", []))
    optimizers = make_optimizers(method, frozen)
    nimg, step = 0, 0
    ckpt_path = _resume_point(run_dir, exp, hashes, world) if resume else None
    init_lines = stage_inputs.init_parts(method, exp.get("init_from", {}), records, where)
    if ckpt_path is None:
        for line in init_lines:
            _say(world, f"{exp['name']}: init_from {line}")
    else:
        ckpt = load_checkpoint(ckpt_path, map_location=world.device)
        stage_inputs.load_saved_state(method, ckpt["state"], frozen_inputs, str(ckpt_path))
        for name, opt in optimizers.items():
            opt.load_state_dict(ckpt["optimizers"][name])
        nimg, step = ckpt["nimg"], ckpt["step"]
        set_rng_state(ckpt["rng"][world.rank])
        if world.is_main:
            _truncate_log(run_dir / "log.jsonl", nimg)
    world.broadcast_module(method, skip=frozen)

    total_nimg = int(exp["kimg"] * 1000)
    ema_kimg = exp["ema_kimg"] if exp["ema_kimg"] is not None else batch * 10 / 32
    phases = _Phases(method, optimizers, world, exp["seed"], exp["precision"], frozen)
    batches = batch_iterator(data, batch, world.rank, world.size, exp["seed"], nimg, exp["workers"])
    preview_batch = data.fixed_batch(len(SAMPLE_SEEDS), world.device)
    snapshot = _Snapshot(method, optimizers, exp, world, run_dir, preview_batch, records, frozen_inputs, parents)
    log_path = run_dir / "log.jsonl"
    next_tick = _next_multiple(nimg, exp["tick_kimg"] * 1000)
    next_snapshot = _next_multiple(nimg, exp["snapshot_kimg"] * 1000)
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    tick_start, tick_nimg = time.time(), nimg
    bar = tqdm(
        total=exp["kimg"],
        initial=nimg / 1000,
        unit="kimg",
        desc=exp["name"],
        disable=None if world.is_main else True,
        bar_format="{l_bar}{bar}| {n:.2f}/{total:g} kimg [{elapsed}<{remaining}] {postfix}",
    )

    while nimg < total_nimg:
        micro = to_batch(next(batches), world.device).chunk(rounds)
        for phase in method.phases():
            if step % phase.interval == 0:
                for key, value in phases.run(phase, step, nimg, micro).items():
                    sums[key] = sums.get(key, 0.0) + value
                    counts[key] = counts.get(key, 0) + 1
        nimg += batch
        step += 1
        update_ema(method, nimg, batch, ema_kimg, exp["ema_rampup"])
        end_ctx = StepContext(
            rng=BatchRandom(derive_seed(exp["seed"], step, "end"), world.rank, world.size, world.device),
            step=step,
            nimg=nimg,
            rank=world.rank,
            world_size=world.size,
            device=world.device,
            all_reduce_mean=world.all_reduce_mean,
        )
        extras = method.end_step(end_ctx, batch)
        bar.update(batch / 1000)

        done = nimg >= total_nimg
        if nimg >= next_tick or done:
            elapsed = time.time() - tick_start
            sec_per_kimg = elapsed / max((nimg - tick_nimg) / 1000, 1e-9)
            record = {
                "kimg": round(nimg / 1000, 3),
                "step": step,
                "kimg_per_s": round(1 / max(sec_per_kimg, 1e-9), 4),
                "sec_per_kimg": round(sec_per_kimg, 2),
                "eta_s": round(sec_per_kimg * (total_nimg - nimg) / 1000),
                **{k: round(sums[k] / counts[k], 6) for k in sums},
                **extras,
            }
            bar.set_postfix_str(" ".join(f"{k}={v:.3g}" for k, v in record.items() if k not in ("kimg", "step")))
            if world.is_main:
                _append_jsonl(log_path, record)
                if bar.disable:  # no terminal: one line per tick, as StyleGAN's training log
                    print(_tick_line(record, exp["kimg"]), flush=True)
            sums, counts = {}, {}
            tick_start, tick_nimg = time.time(), nimg
            next_tick = _next_multiple(nimg, exp["tick_kimg"] * 1000)
        if nimg >= next_snapshot or done:
            snapshot.save(nimg, step, final=done)
            next_snapshot = _next_multiple(nimg, exp["snapshot_kimg"] * 1000)
    bar.close()
    if nimg >= total_nimg and not (run_dir / "final.pt").exists():
        snapshot.save(nimg, step, final=True)  # resumed past the end
    return run_dir / "final.pt"


def _tick_line(record: dict, total_kimg: float) -> str:
    """``kimg 4.000/24  sec/kimg 21.30  eta 7m06s  loss_G 1.02 ...``"""
    eta = record["eta_s"]
    head = (
        f"kimg {record['kimg']:.3f}/{total_kimg:g}  sec/kimg {record['sec_per_kimg']:.2f}  "
        f"eta {eta // 3600:d}h{eta % 3600 // 60:02d}m"
        if eta >= 3600
        else f"kimg {record['kimg']:.3f}/{total_kimg:g}  sec/kimg {record['sec_per_kimg']:.2f}  "
        f"eta {eta // 60:d}m{eta % 60:02d}s"
    )
    rest = "  ".join(
        f"{k} {v:.4g}" for k, v in record.items() if k not in ("kimg", "step", "kimg_per_s", "sec_per_kimg", "eta_s")
    )
    return f"{head}  {rest}"


def _batch_layout(exp: dict, world: World) -> tuple[int, int]:
    """Global batch and number of accumulation rounds per step on each rank."""
    batch = exp["batch"]
    per_gpu = exp["batch_per_gpu"] or batch // world.size
    if batch % (per_gpu * world.size):
        raise GanbenchError(
            f"experiments.{exp['name']}: batch {batch} is not a multiple of "
            f"batch_per_gpu {per_gpu} x {world.size} ranks"
        )
    return batch, batch // (per_gpu * world.size)


def _next_multiple(nimg: int, every: float) -> int:
    every = max(int(every), 1)
    return (nimg // every + 1) * every


def _truncate_log(path: Path, nimg: int) -> None:
    """Drop the log lines a killed run wrote after the checkpoint it is resumed from."""
    if path.exists():
        lines = [line for line in path.read_text().splitlines() if json.loads(line)["kimg"] * 1000 <= nimg + 0.5]
        with atomic_path(path) as tmp:
            tmp.write_text("".join(line + "\n" for line in lines))


def _append_jsonl(path: Path, record: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


class _Snapshot:
    """Preview grid and checkpoint (and ``final.pt`` at the end); every rank contributes its RNG state."""

    def __init__(
        self,
        method,
        optimizers,
        exp,
        world: World,
        run_dir: Path,
        preview_batch: Batch,
        records: dict,
        frozen_inputs: dict,
        parents: dict,
    ):
        self.method, self.optimizers, self.exp, self.world, self.run_dir = method, optimizers, exp, world, run_dir
        self.preview_batch, self.frozen_inputs = preview_batch, frozen_inputs
        self.inputs = {role: {"source": r.source, "path": r.path, "sha256": r.sha256} for role, r in records.items()}
        self.hashes = stage_inputs.input_hashes(records)
        self.parents = stage_inputs.parent_records(parents)

    def save(self, nimg: int, step: int, final: bool) -> None:
        rngs = self.world.gather_objects(rng_state())
        if self.world.is_main:
            kimg = nimg / 1000
            method = self.method
            with torch.no_grad():
                preview = method.preview(self.preview_batch)
            save_image_grid(preview, self.run_dir / f"samples-{int(kimg):06d}.png")
            payload = {
                "method": self.exp["method"],
                "experiment": self.exp,
                "resolution": method.resolution,
                "img_channels": method.img_channels,
                "label_dim": method.label_dim,
                "state": stage_inputs.saved_state(method, self.frozen_inputs),
                "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
                "nimg": nimg,
                "step": step,
                "rng": rngs,
                "torch_version": str(torch.__version__),
                "inputs": self.inputs,
                "input_sha256": self.hashes,
                "frozen_inputs": self.frozen_inputs,
                "parents": self.parents,
            }
            paths = [self.run_dir / checkpoint_name(kimg)] + ([self.run_dir / "final.pt"] if final else [])
            save_checkpoint(payload, *paths)
        self.world.barrier()

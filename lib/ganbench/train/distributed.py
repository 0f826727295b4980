"""Process-group setup for runs launched with ``torchrun`` (gloo on CPU, nccl on GPU), and the
few collectives the loop needs. A plain ``python`` run is a world of one and needs no group."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def all_reduce_mean(self, tensor: torch.Tensor) -> torch.Tensor:
        """Mean of ``tensor`` over ranks (a new tensor; the input is untouched)."""
        if self.size == 1:
            return tensor
        out = tensor.detach().clone()
        dist.all_reduce(out)
        return out / self.size

    def average_gradients(self, params: list[torch.nn.Parameter]) -> None:
        """Average the gradients of ``params`` over ranks in one flat all-reduce."""
        if self.size == 1:
            return
        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.flatten() for g in grads])
        dist.all_reduce(flat)
        flat /= self.size
        for g, chunk in zip(grads, flat.split([g.numel() for g in grads])):
            g.copy_(chunk.view_as(g))

    def broadcast_module(self, module: torch.nn.Module, skip=()) -> None:
        """Make every rank start from rank 0's parameters and buffers, except the parameters in ``skip``
        (frozen parts, loaded from the same file on every rank)."""
        if self.size == 1:
            return
        skipped = {id(p) for p in skip}
        for tensor in [p for p in module.parameters() if id(p) not in skipped] + list(module.buffers()):
            dist.broadcast(tensor.data, src=0)

    def gather_objects(self, obj) -> list:
        if self.size == 1:
            return [obj]
        out = [None] * self.size
        dist.all_gather_object(out, obj)
        return out

    def barrier(self) -> None:
        if self.size > 1:
            dist.barrier()


def init_world(device: str | None = None) -> World:
    """Join the process group torchrun described in the environment, or return a world of one."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda":
        dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
    if size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return World(rank, size, local_rank, dev)


def shutdown_world(world: World) -> None:
    if world.size > 1 and dist.is_initialized():
        dist.destroy_process_group()

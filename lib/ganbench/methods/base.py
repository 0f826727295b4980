"""The interface every method implements, so that one loop, one evaluator and one checkpoint
format serve all five papers.

A method is an ``nn.Module`` holding all of its networks (trainable ones, EMA copies, and
state buffers such as the ADA probability), so ``state_dict()`` is its whole state. It tells
the loop which networks are optimised with which Adam settings and in which phases, and it
computes the losses of a phase and calls ``backward`` on them. The loop owns everything else:
data, DDP, gradient averaging and accumulation, optimiser steps, EMA, the NaN guard,
checkpoints and logging. Methods never touch files.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field, fields
from typing import Any, Callable, ClassVar

import torch
from torch import nn

from ganbench.train.batch_random import BatchRandom


OPTIMIZER_KINDS = ("adam", "sgd")  # ganbench.train.loop.make_optimizers builds each


@dataclass(frozen=True)
class OptimizerSpec:
    """Optimiser settings of one network: ``kind`` ``adam`` (lr, betas, eps) or ``sgd`` (lr, momentum; LAGM's
    annotator and student). ``reg_interval`` k > 1 enables lazy regularisation (Adam only): the regulariser
    runs every k steps with its loss multiplied by k, and the loop corrects lr and betas by k / (k + 1)
    (StyleGAN2, Appendix B)."""

    lr: float
    betas: tuple[float, float] = (0.0, 0.99)
    eps: float = 1e-8
    reg_interval: int | None = None
    kind: str = "adam"
    momentum: float = 0.0  # sgd only

    def __post_init__(self):
        if self.kind not in OPTIMIZER_KINDS:
            raise ValueError(f"optimizer kind {self.kind!r} is not one of {', '.join(OPTIMIZER_KINDS)}")
        if self.kind != "adam" and self.reg_interval:
            raise ValueError("lazy regularisation (reg_interval) corrects Adam's betas; it needs kind 'adam'")
        if self.kind != "sgd" and self.momentum:
            raise ValueError("momentum is an sgd setting (Adam has betas)")


@dataclass(frozen=True)
class Phase:
    """One optimisation phase: which network it updates and how often it runs."""

    name: str
    network: str
    interval: int = 1


@dataclass
class Batch:
    """One (micro-)batch of training data: the fields the method's catalog entry lists in ``batch_fields``.

    ``images`` float in [-1, 1], (n, C, H, W); ``labels`` (n, label_dim); ``parts`` int64 part class per
    pixel, (n, H, W); ``coords`` float canonical (u, v) per pixel, (n, H, W, 2), NaN off the object.
    """

    images: torch.Tensor
    labels: torch.Tensor
    parts: torch.Tensor | None = None
    coords: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.images)

    def chunk(self, rounds: int) -> list[Batch]:
        """Split into ``rounds`` micro-batches along the batch dimension."""
        columns = {f.name: getattr(self, f.name) for f in fields(self)}
        parts = {k: (v.chunk(rounds) if v is not None else [None] * rounds) for k, v in columns.items()}
        return [Batch(**{k: v[i] for k, v in parts.items()}) for i in range(rounds)]


@dataclass(frozen=True)
class InputInfo:
    """What a stage knows of one of its inputs before loading weights: a parent's method, options and
    resolution (from its checkpoint), so that it can build the same networks; for annotations, their
    ``classes`` (in ``extra``)."""

    method: str | None
    options: dict
    resolution: int
    img_channels: int = 3
    label_dim: int = 0
    extra: dict = field(default_factory=dict)


def parent_generator(
    method: str,
    parents: dict[str, InputInfo],
    resolution: int,
    role: str = "generator",
    generator_resolution: int | None = None,
):
    """The EMA generator of a stage's GAN input, built with the parent's architecture (its weights arrive through
    ``init_from``; the rest of the parent method is dropped). One-line errors for a missing input or a generator
    of another resolution than ``generator_resolution`` (default: the experiment's)."""
    from ganbench.errors import GanbenchError
    from ganbench.methods import build_method

    parent = parents.get(role)
    if parent is None:
        raise GanbenchError(f"method {method}: needs the input {role!r} (a trained GAN)")
    if generator_resolution is not None and parent.resolution != generator_resolution:
        raise GanbenchError(
            f"method {method}: the generator makes {parent.resolution} px images, "
            f"options.generator_resolution is {generator_resolution}"
        )
    if generator_resolution is None and parent.resolution != resolution:
        raise GanbenchError(
            f"method {method}: the generator makes {parent.resolution} px images, the experiment trains at "
            f"{resolution} px"
        )
    gan = build_method(parent.method, parent.options, parent.resolution, parent.img_channels, parent.label_dim)
    return gan.G_ema


@dataclass
class StepContext:
    """What the loop gives a method for one phase on one micro-batch."""

    rng: BatchRandom  # every per-sample random draw goes through this (DDP- and resume-exact)
    step: int
    nimg: int
    rank: int
    world_size: int
    device: torch.device
    all_reduce_mean: Callable[[torch.Tensor], torch.Tensor]


class Method(nn.Module, abc.ABC):
    """Base class of the methods; subclasses register themselves with ``@register("name")``."""

    name: ClassVar[str]
    Options: ClassVar[type]  # a dataclass of the method's options, with defaults

    def __init__(
        self,
        options: Any,
        resolution: int,
        img_channels: int = 3,
        label_dim: int = 0,
        parents: dict[str, InputInfo] | None = None,
    ):
        super().__init__()
        self.options, self.resolution, self.img_channels, self.label_dim = options, resolution, img_channels, label_dim
        self.parents = parents or {}

    # --- what the loop asks of a method -------------------------------------------------------

    @abc.abstractmethod
    def trainable(self) -> dict[str, nn.Module]:
        """The networks the loop optimises, by name (keys of ``optimizer_specs``)."""

    @abc.abstractmethod
    def optimizer_specs(self) -> dict[str, OptimizerSpec]:
        """Adam settings per trainable network."""

    def phases(self) -> list[Phase]:
        """Phases in execution order. The default: for each network, its main phase and, with
        lazy regularisation, a ``reg`` phase every ``reg_interval`` steps."""
        out = []
        for net, spec in self.optimizer_specs().items():
            out.append(Phase(f"{net}main", net))
            if spec.reg_interval:
                out.append(Phase(f"{net}reg", net, spec.reg_interval))
        return out

    @abc.abstractmethod
    def accumulate_gradients(self, phase: Phase, batch: Batch, ctx: StepContext) -> dict[str, torch.Tensor]:
        """Compute the phase's losses on a micro-batch, call ``backward``, return detached scalars to log."""

    def input_state(self, part: str, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The tensors an input offers ``part`` (``init_from``), in the part's own names; by default as they are
        (a method whose parts load files of another layout, such as an official Swin, converts them here)."""
        return state

    def ema_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        """(network, its EMA copy) pairs the loop averages after each step."""
        return []

    def end_step(self, ctx: StepContext, batch_size: int) -> dict[str, float]:
        """Called once per step after the optimiser steps (e.g. to adapt augmentation); returns scalars to log."""
        return {}

    def preview(self, fixed: Batch) -> torch.Tensor:
        """The images of a snapshot's preview grid, in [-1, 1], (n, C, H, W), no grad. ``fixed`` is the
        same batch of real data at every snapshot. GANs (catalog kind ``gan``) show ``sample`` of the
        fixed seeds; stages override this (an encoder's reconstructions beside their inputs)."""
        from ganbench.train.loop import SAMPLE_SEEDS

        return self.sample(SAMPLE_SEEDS)

    # GANs also implement ``sample(seeds, **kwargs) -> images in [-1, 1], (len(seeds), C, H, W)``, one
    # per seed, from the EMA generator (no grad); stages have no such method.

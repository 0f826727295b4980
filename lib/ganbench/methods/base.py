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
import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Callable

import torch
from torch import nn

from ganbench.errors import ConfigError, did_you_mean
from ganbench.train.batch_random import BatchRandom


@dataclass(frozen=True)
class OptimizerSpec:
    """Adam settings of one network. ``reg_interval`` k > 1 enables lazy regularisation: the
    regulariser runs every k steps with its loss multiplied by k, and the loop corrects lr
    and betas by k / (k + 1) (StyleGAN2, Appendix B)."""

    lr: float
    betas: tuple[float, float] = (0.0, 0.99)
    eps: float = 1e-8
    reg_interval: int | None = None


@dataclass(frozen=True)
class Phase:
    """One optimisation phase: which network it updates and how often it runs."""

    name: str
    network: str
    interval: int = 1


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

    def __init__(self, options: Any, resolution: int, img_channels: int = 3, label_dim: int = 0):
        super().__init__()
        self.options, self.resolution, self.img_channels, self.label_dim = options, resolution, img_channels, label_dim

    @classmethod
    def parse_options(cls, options: dict, where: str = "options") -> Any:
        """Build ``cls.Options`` from a config mapping; an unknown key is a one-line ConfigError."""
        fields = {f.name: f for f in dataclasses.fields(cls.Options)}
        for key, value in options.items():
            if key not in fields:
                hint = did_you_mean(key, fields, "options")
                raise ConfigError(f"{where}.{key}: unknown option of method {cls.name}{hint}")
        return cls.Options(**{k: tuple(v) if isinstance(v, list) else v for k, v in options.items()})

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
    def accumulate_gradients(
        self, phase: Phase, real: torch.Tensor, labels: torch.Tensor, ctx: StepContext
    ) -> dict[str, torch.Tensor]:
        """Compute the phase's losses on a micro-batch, call ``backward``, return detached scalars to log.

        ``real`` is float in [-1, 1], (n, C, H, W); ``labels`` (n, label_dim).
        """

    def ema_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        """(network, its EMA copy) pairs the loop averages after each step."""
        return []

    def end_step(self, ctx: StepContext, batch_size: int) -> dict[str, float]:
        """Called once per step after the optimiser steps (e.g. to adapt augmentation); returns scalars to log."""
        return {}

    @abc.abstractmethod
    def sample(self, seeds: list[int], **kwargs) -> torch.Tensor:
        """Images in [-1, 1], (len(seeds), C, H, W), one per seed, from the EMA generator (no grad)."""

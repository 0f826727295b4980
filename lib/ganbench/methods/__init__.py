"""Methods: the StyleGAN2 baseline and the five papers' methods, each registered by name.

``build_method(name, options, resolution, ...)`` is how the loop, the evaluator and the CLI get
a method; a module registers its class with ``@register("name")`` and is listed in
``_MODULES`` so that it is imported on first use.
"""

from __future__ import annotations

import importlib

from ganbench.errors import ConfigError, did_you_mean
from ganbench.methods.base import Method, OptimizerSpec, Phase, StepContext

_MODULES = {"stylegan2": "ganbench.methods.stylegan2", "creps": "ganbench.methods.creps"}
_REGISTRY: dict[str, type[Method]] = {}


def register(name: str):
    """Class decorator: make a Method subclass available under ``name``."""

    def decorator(cls: type[Method]) -> type[Method]:
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorator


def method_class(name: str) -> type[Method]:
    if name not in _REGISTRY and name in _MODULES:
        importlib.import_module(_MODULES[name])
    if name not in _REGISTRY:
        hint = did_you_mean(name, sorted(_MODULES), "available")
        raise ConfigError(f"unknown method {name!r}{hint}")
    return _REGISTRY[name]


def available_methods() -> list[str]:
    return sorted(_MODULES)


def build_method(name: str, options: dict, resolution: int, img_channels: int = 3, label_dim: int = 0,
                 where: str = "options") -> Method:
    cls = method_class(name)
    return cls(cls.parse_options(options, where), resolution, img_channels, label_dim)


__all__ = ["Method", "OptimizerSpec", "Phase", "StepContext", "register", "build_method", "method_class",
           "available_methods"]

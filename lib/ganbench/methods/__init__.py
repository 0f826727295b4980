"""Methods: the StyleGAN2 baseline, the papers' methods and their stages, each registered by name.

``ganbench.methods.catalog`` lists them (torch-free); a method's module registers its class with
``@register("name")`` and is imported on first use by :func:`method_class`. ``build_method`` is how
the loop, the evaluator and the CLI get a method. Importing this package does not import torch: the
interface (``Method``, ``Phase``, ...) is loaded when first asked for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ganbench.errors import ConfigError
from ganbench.methods.catalog import CATALOG, method_entry
from ganbench.methods.options import parse_options

if TYPE_CHECKING:
    from ganbench.methods.base import Method

_REGISTRY: dict[str, type] = {}
_INTERFACE = ("Method", "OptimizerSpec", "Phase", "StepContext", "Batch", "InputInfo")


def register(name: str, entry=None):
    """Class decorator: make a Method subclass available under ``name``, which has a catalog entry (or, for a
    method defined outside the package such as a test's, brings its own ``entry``)."""

    def decorator(cls):
        if entry is not None:
            CATALOG[name] = entry
        entry_ = method_entry(name)
        if cls.Options is not entry_.options:
            raise ConfigError(f"method {name!r}: its Options differ from the catalog's {entry_.options.__name__}")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorator


def method_class(name: str) -> type[Method]:
    entry = method_entry(name)
    if name not in _REGISTRY:
        importlib.import_module(entry.module)
    return _REGISTRY[name]


def available_methods() -> list[str]:
    return sorted(CATALOG)


def build_method(
    name: str,
    options: dict,
    resolution: int,
    img_channels: int = 3,
    label_dim: int = 0,
    where: str = "options",
    parents: dict | None = None,
) -> Method:
    """A method of ``name`` with its options parsed from the config mapping ``options``; ``parents`` maps
    the method's input roles to :class:`ganbench.methods.base.InputInfo` (what a stage builds on)."""
    cls = method_class(name)
    return cls(parse_options(cls.Options, options, where), resolution, img_channels, label_dim, parents=parents or {})


def __getattr__(name: str):
    if name in _INTERFACE:
        from ganbench.methods import base

        return getattr(base, name)
    raise AttributeError(f"module 'ganbench.methods' has no attribute {name!r}")


__all__ = ["register", "build_method", "method_class", "available_methods", *_INTERFACE]

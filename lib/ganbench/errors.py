"""The one exception family of ganbench.

Every message is a single line that names the file, key or value at fault. The CLI prints
it without a traceback and exits with status 2.
"""

from __future__ import annotations

import difflib
from typing import Iterable


def did_you_mean(value: str, choices: Iterable[str], known: str = "known") -> str:
    """The hint that ends a one-line error about an unknown name: `` (did you mean 'x'?)`` for a close
    match, else `` (known: a, b, c)``; empty when there are no choices."""
    choices = [str(c) for c in choices]
    close = difflib.get_close_matches(str(value), choices, n=1)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" ({known}: {', '.join(choices)})" if choices else ""


class GanbenchError(Exception):
    """Base class of every error ganbench raises on purpose."""


class ConfigError(GanbenchError):
    """The configuration is invalid: unknown key, wrong type, unknown dataset or method."""


class DataError(GanbenchError):
    """A dataset file is missing, corrupt, truncated or inconsistent."""


class DownloadError(GanbenchError):
    """A download failed or its content does not match the registered hash."""


class OpsError(GanbenchError):
    """A custom op was requested in a form that cannot be built or run here."""

"""The one exception family of ganbench.

Every message is a single line that names the file, key or value at fault. The CLI prints
it without a traceback and exits with status 2.
"""


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

"""ganbench: regenerate the result tables of five GAN papers from raw data.

The library does the work; the Snakemake rules and the ``ganbench`` command are thin
front-ends over it.
"""

from ganbench.errors import GanbenchError

__all__ = ["GanbenchError"]
__version__ = "0.1.0"

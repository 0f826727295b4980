from pathlib import Path

from ganbench.data.download import download_dataset

download_dataset(snakemake.params.id, Path(snakemake.output[0]).parent)

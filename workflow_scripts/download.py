from pathlib import Path

from ganbench.data.download import download_dataset
from ganbench.workflow import job_log

with job_log(snakemake):
    download_dataset(snakemake.params.id, Path(snakemake.output[0]).parent)

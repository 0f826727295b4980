from ganbench.metrics.weights import download_weights
from ganbench.workflow import job_log

with job_log(snakemake):
    download_weights(snakemake.params.name, snakemake.output[0])

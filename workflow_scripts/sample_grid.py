from ganbench.tables.plots import plot_samples
from ganbench.workflow import job_log

with job_log(snakemake):
    plot_samples(snakemake.input.checkpoint, snakemake.output[0])

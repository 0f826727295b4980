from ganbench.tables.plots import plot_scale_montage
from ganbench.workflow import job_log

with job_log(snakemake):
    plot_scale_montage(snakemake.input.checkpoint, snakemake.output[0], scales=snakemake.params.scales)

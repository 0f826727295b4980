from ganbench.tables.plots import plot_training_curves
from ganbench.workflow import job_log

with job_log(snakemake):
    plot_training_curves(snakemake.params.training_log, snakemake.output[0], title=snakemake.wildcards.experiment)

from ganbench.tables.plots import plot_samples, plot_training_curves
from ganbench.workflow import job_log

with job_log(snakemake):
    plot_training_curves(snakemake.params.training_log, snakemake.output.curves, title=snakemake.wildcards.experiment)
    plot_samples(snakemake.input.checkpoint, snakemake.output.samples)

from ganbench.metrics.coordgan_figures import propagation_figure, texture_swap_figure
from ganbench.workflow import job_log

with job_log(snakemake):
    if snakemake.params.figure == "swap_grid":
        texture_swap_figure(snakemake.input.checkpoint, snakemake.output[0])
    else:
        i = snakemake.input
        propagation_figure(i.checkpoint, i.data[0], i.annotations[0] if i.annotations else None, snakemake.output[0])

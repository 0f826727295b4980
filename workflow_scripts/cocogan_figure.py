from ganbench.tables.cocogan_figures import FIGURE_FUNCTIONS
from ganbench.workflow import job_log

with job_log(snakemake):
    FIGURE_FUNCTIONS[snakemake.params.figure](snakemake.input.checkpoint, snakemake.output[0])

from ganbench.metrics.cocogan import evaluate_seams
from ganbench.workflow import job_log

with job_log(snakemake):
    evaluate_seams(snakemake.input.checkpoint, snakemake.input.data, snakemake.params.out_dir)

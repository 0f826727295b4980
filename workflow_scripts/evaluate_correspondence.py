from ganbench.metrics.correspondence_eval import evaluate_correspondence
from ganbench.workflow import job_log

with job_log(snakemake):
    i = snakemake.input
    evaluate_correspondence(i.checkpoint, i.data, i.annotations, i.probe, snakemake.params.out_dir)

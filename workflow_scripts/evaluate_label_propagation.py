from ganbench.metrics.correspondence_eval import evaluate_label_propagation
from ganbench.workflow import job_log

with job_log(snakemake):
    i = snakemake.input
    evaluate_label_propagation(
        i.checkpoint, i.data, i.annotations, snakemake.params.benchmark, snakemake.params.out_dir
    )

from ganbench.metrics.reconstruction import evaluate_reconstruction
from ganbench.workflow import job_log

with job_log(snakemake):
    annotations = snakemake.input.annotations[0] if snakemake.input.annotations else None
    evaluate_reconstruction(snakemake.input.checkpoint, snakemake.input.data, snakemake.params.out_dir, annotations)

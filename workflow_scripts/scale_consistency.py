from ganbench.metrics.any_scale import evaluate_consistency
from ganbench.workflow import job_log

with job_log(snakemake):
    p = snakemake.params
    evaluate_consistency(
        snakemake.input.checkpoint,
        p.out_dir,
        p.any_scale["scales"],
        num_images=p.any_scale["consistency_images"],
        seed=p.seed,
    )

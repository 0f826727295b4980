from ganbench.metrics.any_scale import evaluate_render_cost
from ganbench.workflow import job_log

with job_log(snakemake):
    p = snakemake.params
    evaluate_render_cost(
        snakemake.input.checkpoint,
        p.out_dir,
        sorted(set(p.any_scale["scales"]) | {1}),
        p.baseline,
        repeats=p.any_scale["timing_repeats"],
        threads=snakemake.threads,
    )

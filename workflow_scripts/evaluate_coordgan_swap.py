from ganbench.metrics.coordgan_swap import evaluate_swap_scores
from ganbench.workflow import job_log

with job_log(snakemake):
    i, cfg = snakemake.input, snakemake.params.swap
    identity = (cfg["identity"], i.identity) if hasattr(i, "identity") else None
    evaluate_swap_scores(
        i.checkpoint, snakemake.params.out_dir, cfg["pairs"], cfg["batch"], cfg["seed"], identity=identity
    )

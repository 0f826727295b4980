from ganbench.metrics.extractors import load_extractor
from ganbench.metrics.gan_metrics import evaluate_checkpoint
from ganbench.workflow import job_log

with job_log(snakemake):
    protocol = snakemake.params.protocol
    evaluate_checkpoint(
        snakemake.input.checkpoint,
        snakemake.input.stats,
        load_extractor(snakemake.params.extractor, snakemake.input.weights),
        protocol["num_gen"],
        snakemake.params.out_dir,
        seeds=protocol["seed"],
        truncation=protocol["truncation"],
        metrics=protocol["metrics"],
        kid_subset_size=protocol["kid_subset_size"],
    )

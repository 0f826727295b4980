from ganbench.metrics.extractors import load_extractor
from ganbench.metrics.gan_metrics import evaluate_checkpoint
from ganbench.workflow import job_log

with job_log(snakemake):
    protocol, scale = snakemake.params.protocol, int(snakemake.wildcards.scale)
    evaluate_checkpoint(
        snakemake.input.checkpoint,
        snakemake.input.stats,
        load_extractor(snakemake.params.extractor, snakemake.input.weights),
        protocol["num_gen"],
        snakemake.params.out_dir,
        seeds=protocol["seed"],
        truncation=protocol["truncation"],
        metrics=["fid"],
        sample_kwargs={"scale": scale, "grid": "paper"},  # the official --scale grid, int(R * s) points
        result_suffix=f"-scale{scale}",
    )

from ganbench.metrics.extractors import load_extractor
from ganbench.metrics.gan_metrics import evaluate_checkpoint
from ganbench.metrics.protocols import make_protocol
from ganbench.workflow import job_log

with job_log(snakemake):
    protocol = make_protocol(snakemake.params.protocol)
    # rule evaluate_scale: an any-scale method's FID at R * scale, on the official --scale grid (int(R * s) points)
    scale = int(getattr(snakemake.wildcards, "scale", 1))
    evaluate_checkpoint(
        snakemake.input.checkpoint,
        snakemake.input.stats,
        load_extractor(protocol.extractor, snakemake.input.weights),
        protocol,
        snakemake.params.out_dir,
        metrics=None if scale == 1 else ["fid"],
        sample_kwargs={"scale": scale, "grid": "paper"} if scale != 1 else None,
        result_suffix=f"-scale{scale}" if scale != 1 else "",
    )

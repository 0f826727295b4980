from ganbench.metrics.extractors import load_extractor
from ganbench.metrics.gan_metrics import evaluate_checkpoint
from ganbench.metrics.protocols import make_protocol
from ganbench.workflow import job_log

with job_log(snakemake):
    p = snakemake.params
    protocol = make_protocol(p.protocol)
    # rule evaluate_scale: an any-scale method's FID at R * scale, on the official --scale grid (int(R * s) points);
    # rule evaluate_swap_fid: CoordGAN's texture-swapped samples (sample_kwargs swap), written as fid-swap.json
    scale = int(getattr(snakemake.wildcards, "scale", 1))
    sample_kwargs = {"scale": scale, "grid": "paper"} if scale != 1 else getattr(p, "sample_kwargs", None)
    suffix = f"-scale{scale}" if scale != 1 else getattr(p, "result_suffix", "")
    evaluate_checkpoint(
        snakemake.input.checkpoint,
        snakemake.input.stats,
        load_extractor(protocol.extractor, snakemake.input.weights),
        protocol,
        p.out_dir,
        metrics=["fid"] if suffix else None,
        sample_kwargs=sample_kwargs,
        result_suffix=suffix,
    )

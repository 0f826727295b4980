from ganbench.metrics.extractors import load_extractor
from ganbench.metrics.gan_metrics import evaluate_checkpoint
from ganbench.metrics.protocols import make_protocol
from ganbench.workflow import job_log

with job_log(snakemake):  # extrapolated images, resized to the training resolution
    protocol = make_protocol(snakemake.params.protocol)
    extractor = load_extractor(protocol.extractor, snakemake.input.weights)
    args = (snakemake.input.checkpoint, snakemake.input.stats, extractor, protocol, snakemake.params.out_dir)
    extra = {"extrap": snakemake.params.extrap_steps, "size": snakemake.params.resolution}
    evaluate_checkpoint(*args, metrics=["fid"], sample_kwargs=extra, result_suffix="-extrap")

from ganbench.metrics.gan_metrics import evaluate_floor
from ganbench.metrics.protocols import make_protocol
from ganbench.workflow import job_log

with job_log(snakemake):
    evaluate_floor(snakemake.input.stats, make_protocol(snakemake.params.protocol), snakemake.params.out_dir)

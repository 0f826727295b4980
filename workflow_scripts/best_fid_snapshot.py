from ganbench.metrics.best_snapshot import best_fid_snapshot
from ganbench.metrics.extractors import load_extractor
from ganbench.metrics.protocols import make_protocol
from ganbench.workflow import job_log

with job_log(snakemake):
    protocol = make_protocol(snakemake.params.protocol)
    extractor = load_extractor(protocol.extractor, snakemake.input.weights)
    best_fid_snapshot(
        snakemake.input.checkpoint,
        snakemake.input.stats,
        extractor,
        protocol,
        snakemake.params.out_dir,
        snakemake.output.snapshot,
    )

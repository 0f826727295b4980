from ganbench.metrics.part_segmentation import evaluate_segmenter
from ganbench.metrics.protocols import get_protocol
from ganbench.workflow import job_log

with job_log(snakemake):
    evaluate_segmenter(
        snakemake.input.checkpoint,
        snakemake.input.data,
        snakemake.input.annotations,
        snakemake.params.out_dir,
        [get_protocol(name) for name in snakemake.params.protocols],
    )

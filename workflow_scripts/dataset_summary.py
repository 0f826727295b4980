from ganbench.data.summary import write_summary
from ganbench.workflow import job_log

with job_log(snakemake):
    write_summary(
        snakemake.params.name,
        snakemake.input.images,
        snakemake.output.summary,
        snakemake.output.preview,
        annotations_path=snakemake.input.get("annotations"),
        tfrecord_path=snakemake.input.get("tfrecord"),
        preview_count=snakemake.params.preview_count,
    )

from ganbench.data.generated_pairs import merge_pairs
from ganbench.workflow import job_log

with job_log(snakemake):
    merge_pairs(
        list(zip(snakemake.input.images, snakemake.input.annotations)),
        snakemake.output.images,
        snakemake.output.annotations,
    )

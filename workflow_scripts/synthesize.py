from ganbench.data.build import make_synthetic_dataset
from ganbench.workflow import job_log

with job_log(snakemake):
    spec = snakemake.params.spec
    make_synthetic_dataset(
        spec["category"],
        snakemake.params.resolution,
        spec["count"],
        spec["seed"],
        spec["test_fraction"],
        snakemake.output.images,
        snakemake.output.annotations,
    )

from ganbench.data.panorama import make_panorama_dataset
from ganbench.workflow import job_log

with job_log(snakemake):
    spec = snakemake.params.spec
    make_panorama_dataset(
        snakemake.params.resolution, spec["aspect"], spec["count"], spec["seed"], snakemake.output.images
    )

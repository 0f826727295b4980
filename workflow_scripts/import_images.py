from ganbench.data.stylegan_zip import convert_to_zip
from ganbench.workflow import job_log

with job_log(snakemake):
    spec = snakemake.params.spec
    convert_to_zip(
        snakemake.input[0],
        snakemake.output.images,
        resolution=snakemake.params.resolution,
        transform=spec["transform"],
        max_images=spec["max_images"],
        pattern=spec.get("pattern"),
    )

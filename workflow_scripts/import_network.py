from ganbench.nets.importers import write_imported_checkpoint
from ganbench.workflow import job_log

with job_log(snakemake):
    write_imported_checkpoint(
        snakemake.input.network,
        snakemake.output[0],
        method=snakemake.params.method,
        resolution=snakemake.params.resolution,
        avg_latent=snakemake.input.get("avg_latent"),
    )

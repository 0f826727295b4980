from ganbench.data.labelled import import_labelled
from ganbench.workflow import job_log

with job_log(snakemake):
    import_labelled(
        snakemake.params.spec["labels"],
        snakemake.input[0],
        snakemake.output.images,
        snakemake.output.annotations,
        snakemake.params.resolution,
    )

from ganbench.fileio import write_json
from ganbench.metrics.probe import train_probe
from ganbench.workflow import job_log

with job_log(snakemake):
    probe = snakemake.params.probe
    report = train_probe(
        list(snakemake.input.images),
        list(snakemake.input.annotations),
        snakemake.output.model,
        seed=probe["seed"],
        steps=probe["steps"],
        resolution=probe["resolution"],
    )
    write_json(snakemake.output.report, report)

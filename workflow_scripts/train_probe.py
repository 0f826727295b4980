import json

from ganbench.fileio import atomic_path
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
    with atomic_path(snakemake.output.report) as tmp:
        tmp.write_text(json.dumps(report, indent=2) + "\n")

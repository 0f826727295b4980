from ganbench.tables.render import render_table
from ganbench.tables.specs import configured_specs
from ganbench.workflow import job_log

with job_log(snakemake):
    p = snakemake.params
    for spec in configured_specs(p.names, p.experiments, p.metrics, scales=p.scales):
        render_table(spec, p.experiments, "results/eval", "reports/tables")

from ganbench.metrics.paths import EVAL_DIR
from ganbench.metrics.protocols import make_protocol
from ganbench.tables.render import render_table
from ganbench.tables.specs import configured_specs
from ganbench.workflow import job_log

with job_log(snakemake):
    p = snakemake.params
    protocols = [make_protocol(d) for d in p.protocols]
    specs = configured_specs(
        p.names,
        p.experiments,
        protocols,
        scales=p.scales,
        datasets=p.datasets,
        defaults=p.defaults,
        released=p.released,
    )
    for spec in specs:
        render_table(spec, [*p.experiments, *p.released], EVAL_DIR, "reports/tables")

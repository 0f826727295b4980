from ganbench.tables.costs import write_cost_table
from ganbench.workflow import job_log

with job_log(snakemake):
    p = snakemake.params
    out = {"md": snakemake.output.md, "csv": snakemake.output.csv, "html": snakemake.output.html}
    table = write_cost_table(p.root, out, p.experiments, p.datasets)
    print(f"{len(table.row_labels)} rows from the benchmark files under {p.root}/")

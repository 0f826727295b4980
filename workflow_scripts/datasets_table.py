from ganbench.data.summary import write_summary_table
from ganbench.workflow import job_log

with job_log(snakemake):
    write_summary_table(list(snakemake.input), snakemake.output[0])

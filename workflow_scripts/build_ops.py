from ganbench.ops import write_build_stamp
from ganbench.workflow import job_log

with job_log(snakemake):
    write_build_stamp(snakemake.output[0])

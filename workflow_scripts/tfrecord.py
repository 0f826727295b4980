from ganbench.data.stylegan_zip import convert_to_tfrecord
from ganbench.workflow import job_log

with job_log(snakemake):
    convert_to_tfrecord(snakemake.input[0], snakemake.output[0])

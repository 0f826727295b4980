from ganbench.train.launch import train_experiment
from ganbench.workflow import job_log

with job_log(snakemake):
    train_experiment(snakemake.params.experiment, snakemake.input.data, snakemake.params.run_dir, resume=True)

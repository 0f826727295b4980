from ganbench.train.launch import train_experiment
from ganbench.workflow import job_log

with job_log(snakemake):
    # `nodes` > 1 (a site profile's set-resources) spreads the experiment's ranks over that many
    # nodes of the job's Slurm allocation; see the README, "Running on a Slurm cluster".
    nodes = int(getattr(snakemake.resources, "nodes", 1) or 1)
    train_experiment(
        snakemake.params.experiment,
        snakemake.input.data,
        snakemake.params.run_dir,
        resume=True,
        nodes=nodes,
        inputs=snakemake.params.inputs,
    )

# Training stage: one rule for every method and stage; the experiment's config entry is the only
# parameter, and its inputs (ganbench.methods.catalog) are real inputs, so a changed parent reruns it.
#
# Resources: the job asks for the experiment's `gpus` and runs that many torchrun ranks inside
# itself. For more than one rank the `mpi` resource tells the Slurm executor plugin not to wrap
# the job in `srun -n1` (a single task, which may see a single GPU): the job's own process starts
# torchrun on the whole allocation, `tasks` reserves one task slot per rank, `nodes` keeps them
# on one node unless a profile asks for more (then `srun` starts one torchrun per node), and
# `tasks_per_gpu=0` stops the plugin from turning `tasks` into --ntasks-per-gpu. A CPU-only
# cluster sets `gpu: 0` for this rule in its profile: the ranks still run, with gloo on CPU.
# Runtime and memory grow on every retry; a retried run resumes from its newest checkpoint.


rule train:
    input:
        unpack(
            lambda wc: {
                "data": f"{data_dir(EXPERIMENTS[wc.experiment]['dataset'], EXPERIMENTS[wc.experiment]['resolution'])}/{train_data_file(EXPERIMENTS[wc.experiment])}",
                "ops": "results/ops/build.json",
                # the experiment's inputs by role: a parent's final.pt, a checkpoint, weights, annotations
                **{f"input_{role}": path for role, path in input_files(config, EXPERIMENTS[wc.experiment]).items()},
            }
        ),
    output:
        "results/runs/{experiment}/final.pt",
    log:
        "logs/train/{experiment}.log",
    benchmark:
        "benchmarks/train/experiment={experiment}.tsv"
    conda:
        "../envs/ganbench.yaml"
    resources:
        gpu=lambda wc: EXPERIMENTS[wc.experiment]["gpus"],
        mpi=lambda wc: "torchrun" if EXPERIMENTS[wc.experiment]["gpus"] > 1 else None,
        tasks=lambda wc: EXPERIMENTS[wc.experiment]["gpus"],
        tasks_per_gpu=0,
        nodes=1,
        # minutes: 6 h, doubled on every retry (a run cut off by the limit resumes where it stopped)
        runtime=lambda wc, attempt: 360 * 2 ** (attempt - 1),
        # host memory: 8 GB plus 8 GB per rank, 50 % more on every retry (after an out-of-memory kill)
        mem_mb=lambda wc, attempt: (8000 + 8000 * EXPERIMENTS[wc.experiment]["gpus"]) * (attempt + 1) // 2,
    params:
        experiment=lambda wc: training_experiment(EXPERIMENTS[wc.experiment]),
        inputs=lambda wc: input_files(config, EXPERIMENTS[wc.experiment]),
        run_dir=lambda wc: f"results/runs/{wc.experiment}",
    script:
        "../workflow_scripts/train.py"


# The papers' released networks (config/weights.yaml, kind network): fetched by this rule only, then converted
# into a ganbench checkpoint (`ganbench import-checkpoint`), which an experiment takes as
# `inputs: {parent: {checkpoint: results/networks/NAME.ckpt.pt}}` or as an encoder's `generator`.
NETWORKS = load_weights_registry(kind="network")


rule download_network:
    output:
        "results/networks/{name}.{ext}",
    log:
        "logs/train/download_network-{name}-{ext}.log",
    benchmark:
        "benchmarks/download_network/name={name}/ext={ext}.tsv"
    wildcard_constraints:
        name="|".join(re.escape(n) for n in NETWORKS) or "(?!)",
        ext="pkl|pt|npy",
    retries: 2
    conda:
        "../envs/ganbench.yaml"
    params:
        name=lambda wc: wc.name,
    script:
        "../workflow_scripts/download_weights.py"


rule import_network:
    input:
        unpack(network_import_inputs),
    output:
        "results/networks/{name}.ckpt.pt",
    log:
        "logs/train/import_network-{name}.log",
    benchmark:
        "benchmarks/import_network/name={name}.tsv"
    wildcard_constraints:
        name="|".join(re.escape(n) for n, e in NETWORKS.items() if e.get("method")) or "(?!)",
    conda:
        "../envs/ganbench.yaml"
    params:
        method=lambda wc: NETWORKS[wc.name]["method"],
        resolution=lambda wc: NETWORKS[wc.name]["resolution"],
    script:
        "../workflow_scripts/import_network.py"

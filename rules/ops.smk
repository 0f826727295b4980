# Custom ops stage: compile upfirdn2d and bias_act once, before any job needs them. The train
# rule takes the stamp as an input, so parallel jobs and DDP ranks load the cached build
# instead of all compiling at once (ganbench/ops/_build.py describes the cache and its lock).


rule build_ops:
    output:
        "results/ops/build.json",
    log:
        "logs/ops/build_ops.log",
    benchmark:
        "benchmarks/build_ops.tsv"
    conda:
        "../envs/ganbench.yaml"
    resources:
        # Compiling takes minutes and a few GB; more of both on a retry. No GPU: the CUDA ops are
        # built by the training job, on its GPU node, before its ranks start (train/launch.py).
        runtime=lambda wc, attempt: 60 * attempt,
        mem_mb=lambda wc, attempt: 4000 * attempt,
    script:
        "../workflow_scripts/build_ops.py"

# Evaluation stage: every trained run measured under the configured protocol, one JSON per metric
# with the protocol and the inputs' hashes written next to the number.


rule evaluate:
    input:
        checkpoint="results/runs/{experiment}/final.pt",
        stats=lambda wc: stats_file(EXPERIMENTS[wc.experiment]["dataset"], EXPERIMENTS[wc.experiment]["resolution"]),
        weights=extractor_weights(EXTRACTOR),
    output:
        [f"results/eval/{{experiment}}/{name}.json" for name in result_names(METRICS_CFG["metrics"])],
    params:
        extractor=EXTRACTOR,
        protocol=METRICS_CFG,
        out_dir=lambda wc: f"results/eval/{wc.experiment}",
    log:
        "logs/evaluate/{experiment}.log",
    conda:
        "../envs/ganbench.yaml"
    script:
        "../workflow_scripts/evaluate.py"


# Any-scale methods (CREPS): FID at each output scale against the real data at resolution x scale,
# consistency across scales, and the render cost beside StyleGAN2 (ganbench.metrics.any_scale).


rule evaluate_scale:
    input:
        checkpoint="results/runs/{experiment}/final.pt",
        stats=lambda wc: stats_file(
            EXPERIMENTS[wc.experiment]["dataset"], EXPERIMENTS[wc.experiment]["resolution"] * int(wc.scale)
        ),
        weights=extractor_weights(EXTRACTOR),
    output:
        "results/eval/{experiment}/fid-scale{scale}.json",
    wildcard_constraints:
        experiment=experiment_regex(ANY_SCALE_EXPERIMENTS),
        scale=r"\d+",
    params:
        extractor=EXTRACTOR,
        protocol=METRICS_CFG,
        out_dir=lambda wc: f"results/eval/{wc.experiment}",
    log:
        "logs/evaluate/{experiment}-scale{scale}.log",
    conda:
        "../envs/ganbench.yaml"
    script:
        "../workflow_scripts/evaluate.py"


if any(s > 1 for s in ANY_SCALE["scales"]):  # otherwise there is nothing to compare across scales

    rule scale_consistency:
        input:
            checkpoint="results/runs/{experiment}/final.pt",
        output:
            [f"results/eval/{{experiment}}/{name}.json" for name in any_scale_names(ANY_SCALE["scales"])["consistency"]],
        wildcard_constraints:
            experiment=experiment_regex(ANY_SCALE_EXPERIMENTS),
        params:
            any_scale=ANY_SCALE,
            seed=METRICS_CFG["seed"],
            out_dir=lambda wc: f"results/eval/{wc.experiment}",
        log:
            "logs/evaluate/{experiment}-consistency.log",
        conda:
            "../envs/ganbench.yaml"
        script:
            "../workflow_scripts/scale_consistency.py"


rule render_cost:
    input:
        checkpoint="results/runs/{experiment}/final.pt",
        ops="results/ops/build.json",
    output:
        [f"results/eval/{{experiment}}/{name}.json" for name in any_scale_names(ANY_SCALE["scales"])["cost"]],
    wildcard_constraints:
        experiment=experiment_regex(ANY_SCALE_EXPERIMENTS),
    params:
        any_scale=ANY_SCALE,
        baseline=lambda wc: cost_baseline(config, EXPERIMENTS[wc.experiment]),
        out_dir=lambda wc: f"results/eval/{wc.experiment}",
    threads: workflow.cores
    log:
        "logs/evaluate/{experiment}-cost.log",
    conda:
        "../envs/ganbench.yaml"
    script:
        "../workflow_scripts/render_cost.py"

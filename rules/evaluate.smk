# Evaluation stage: every trained run measured under the configured protocol, one JSON per metric
# with the protocol and the inputs' hashes written next to the number.


rule evaluate:
    input:
        checkpoint="results/runs/{experiment}/final.pt",
        stats=lambda wc: "results/stats/{dataset}-{resolution}-{extractor}.h5".format(
            **EXPERIMENTS[wc.experiment], extractor=EXTRACTOR
        ),
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

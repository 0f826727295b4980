# Stages trained on top of other experiments (ganbench.methods.catalog, kind "stage"): their own
# evaluations. An encoder is scored by reconstructing the real test images through its frozen generator.


rule evaluate_reconstruction:
    input:
        checkpoint="results/runs/{experiment}/final.pt",
        data=lambda wc: f"{data_dir(EXPERIMENTS[wc.experiment]['dataset'], EXPERIMENTS[wc.experiment]['resolution'])}/images.zip",
        annotations=lambda wc: (
            [f"{data_dir(EXPERIMENTS[wc.experiment]['dataset'], EXPERIMENTS[wc.experiment]['resolution'])}/annotations.h5"]
            if DATASETS[EXPERIMENTS[wc.experiment]["dataset"]]["source"] == "synthetic" else []
        ),
    output:
        [f"results/eval/{{experiment}}/reconstruction/{m}.json" for m in RECONSTRUCTION_METRICS],
    wildcard_constraints:
        experiment=experiment_regex(experiments_with("reconstruction")),
    params:
        out_dir=lambda wc: f"results/eval/{wc.experiment}/reconstruction",
    log:
        "logs/evaluate/{experiment}-reconstruction.log",
    conda:
        "../envs/ganbench.yaml"
    script:
        "../workflow_scripts/evaluate_reconstruction.py"

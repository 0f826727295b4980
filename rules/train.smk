# Training stage: one rule for every method; the experiment's config entry is the only parameter.


rule train:
    input:
        data=lambda wc: f"{data_dir(EXPERIMENTS[wc.experiment]['dataset'], EXPERIMENTS[wc.experiment]['resolution'])}/images.zip",
        ops="results/ops/build.json",
    output:
        "results/runs/{experiment}/final.pt",
    params:
        experiment=lambda wc: EXPERIMENTS[wc.experiment],
        run_dir=lambda wc: f"results/runs/{wc.experiment}",
    log:
        "logs/train/{experiment}.log",
    conda:
        "../envs/ganbench.yaml"
    script:
        "../workflow_scripts/train.py"

# Stages trained on top of other experiments (ganbench.methods.catalog, kind "stage"): their own
# evaluations. An encoder is scored by reconstructing the real test images through its frozen generator.


rule evaluate_reconstruction:
    input:
        checkpoint="results/runs/{experiment}/final.pt",
        data=lambda wc: f"{data_dir(EXPERIMENTS[wc.experiment]['dataset'], EXPERIMENTS[wc.experiment]['resolution'])}/images.zip",
        annotations=lambda wc: (
            [
                f"{data_dir(EXPERIMENTS[wc.experiment]['dataset'], EXPERIMENTS[wc.experiment]['resolution'])}/annotations.h5"
            ]
            if DATASETS[EXPERIMENTS[wc.experiment]["dataset"]]["source"] == "synthetic"
            else []
        ),
    output:
        [
            eval_report(
                paths.eval_path("{experiment}", m, plan.RECONSTRUCTION), "{experiment}", plan.RECONSTRUCTION, m
            )
            for m in plan.RECONSTRUCTION_METRICS
        ],
    log:
        "logs/evaluate/{experiment}-reconstruction.log",
    benchmark:
        "benchmarks/evaluate_reconstruction/experiment={experiment}.tsv"
    wildcard_constraints:
        experiment=experiment_regex(experiments_with("reconstruction")),
    conda:
        "../envs/ganbench.yaml"
    params:
        out_dir=lambda wc: paths.eval_dir(wc.experiment, plan.RECONSTRUCTION),
    script:
        "../workflow_scripts/evaluate_reconstruction.py"


# A segmenter: mIoU and FG-mIoU on the labelled test split, under each segmentation protocol.
rule evaluate_segmenter:
    input:
        checkpoint="results/runs/{experiment}/final.pt",
        data=lambda wc: segmenter_test_files(wc.experiment)["data"],
        annotations=lambda wc: segmenter_test_files(wc.experiment)["annotations"],
    output:
        [
            eval_report(paths.eval_path("{experiment}", n, name), "{experiment}", name, n)
            for name, p in SEGMENTATION_PROTOCOLS.items()
            for n in p.result_names
        ],
    log:
        "logs/evaluate/{experiment}-segmentation.log",
    benchmark:
        "benchmarks/evaluate_segmenter/experiment={experiment}.tsv"
    wildcard_constraints:
        experiment=experiment_regex(experiments_with("segmentation")),
    conda:
        "../envs/ganbench.yaml"
    params:
        protocols=list(SEGMENTATION_PROTOCOLS),
        out_dir=lambda wc: paths.eval_dir(wc.experiment),
    script:
        "../workflow_scripts/evaluate_segmenter.py"

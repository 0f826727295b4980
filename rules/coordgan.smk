# CoordGAN (research coordgan.md): an encoder's correspondence on the labelled test split, beside the
# identity-warp and probe nearest-neighbour baselines (ganbench.metrics.correspondence_eval).


rule evaluate_correspondence:
    input:
        checkpoint="results/runs/{experiment}/final.pt",
        data=lambda wc: f"{data_dir(EXPERIMENTS[wc.experiment]['dataset'], EXPERIMENTS[wc.experiment]['resolution'])}/images.zip",
        annotations=lambda wc: f"{data_dir(EXPERIMENTS[wc.experiment]['dataset'], EXPERIMENTS[wc.experiment]['resolution'])}/annotations.h5",
        probe=lambda wc: extractor_weights("probe"),
    output:
        [
            eval_report(
                paths.eval_path("{experiment}", m, plan.CORRESPONDENCE), "{experiment}", plan.CORRESPONDENCE, m
            )
            for m in plan.CORRESPONDENCE_RESULTS
        ],
    log:
        "logs/evaluate/{experiment}-correspondence.log",
    benchmark:
        "benchmarks/evaluate_correspondence/experiment={experiment}.tsv"
    wildcard_constraints:
        experiment=experiment_regex(experiments_with("correspondence")),
    conda:
        "../envs/ganbench.yaml"
    params:
        out_dir=lambda wc: paths.eval_dir(wc.experiment, plan.CORRESPONDENCE),
    script:
        "../workflow_scripts/evaluate_correspondence.py"

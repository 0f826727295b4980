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


# The texture-swap grid of a CoordGAN, and labels propagated by an encoder from one reference to several queries.
rule figure_coordgan:
    input:
        checkpoint="results/runs/{experiment}/final.pt",
        data=lambda wc: (
            [f"{data_dir(EXPERIMENTS[wc.experiment]['dataset'], EXPERIMENTS[wc.experiment]['resolution'])}/images.zip"]
            if wc.figure == "label_propagation"
            else []
        ),
        annotations=lambda wc: (
            [
                f"{data_dir(EXPERIMENTS[wc.experiment]['dataset'], EXPERIMENTS[wc.experiment]['resolution'])}/annotations.h5"
            ]
            if wc.figure == "label_propagation"
            and DATASETS[EXPERIMENTS[wc.experiment]["dataset"]]["source"] == "synthetic"
            else []
        ),
    output:
        report(
            "reports/figures/{experiment}-{figure}.png",
            category="CoordGAN",
            subcategory="{experiment}",
            labels={"experiment": "{experiment}", "figure": "{figure}"},
        ),
    log:
        "logs/tables/figures-{experiment}-{figure}.log",
    benchmark:
        "benchmarks/figure_coordgan/experiment={experiment}/figure={figure}.tsv"
    wildcard_constraints:
        figure="swap_grid|label_propagation",
    conda:
        "../envs/ganbench.yaml"
    params:
        figure=lambda wc: wc.figure,
    script:
        "../workflow_scripts/coordgan_figure.py"

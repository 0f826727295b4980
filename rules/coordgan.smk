# CoordGAN (research coordgan.md): an encoder's correspondence on the labelled test split, beside the
# identity-warp and probe nearest-neighbour baselines (ganbench.metrics.correspondence_eval).
from ganbench.config import PROPAGATION_BENCHMARKS


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


# An encoder's label propagation on a labelled real benchmark (metrics.coordgan.label_propagation; §4.2): the
# DatasetGAN face-34 / car-20 sets and celebA-7, each with its reference and query rule.
rule evaluate_label_propagation:
    input:
        unpack(lambda wc: parent_inputs(wc.experiment)),
        checkpoint="results/runs/{experiment}/final.pt",
        data=lambda wc: f"{data_dir(wc.dataset, EXPERIMENTS[wc.experiment]['resolution'])}/images.zip",
        annotations=lambda wc: f"{data_dir(wc.dataset, EXPERIMENTS[wc.experiment]['resolution'])}/annotations.h5",
    output:
        eval_report(
            paths.eval_path("{experiment}", plan.PROPAGATION_RESULT, "propagation-{dataset}"),
            "{experiment}",
            "propagation-{dataset}",
            plan.PROPAGATION_RESULT,
        ),
    log:
        "logs/evaluate/{experiment}-propagation-{dataset}.log",
    benchmark:
        "benchmarks/evaluate_label_propagation/experiment={experiment}/dataset={dataset}.tsv"
    wildcard_constraints:
        experiment=experiment_regex(list(METRICS_CFG["coordgan"]["label_propagation"])),
        dataset=names_matching({"labelled"}),
    conda:
        "../envs/ganbench.yaml"
    params:
        benchmark=lambda wc: PROPAGATION_BENCHMARKS[DATASETS[wc.dataset]["labels"]],
        out_dir=lambda wc: paths.eval_dir(wc.experiment, plan.propagation_protocol(wc.dataset)),
    script:
        "../workflow_scripts/evaluate_label_propagation.py"


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


# CoordGAN's FID and swap scores (research coordgan.md §4.1, eval_fid.py): the FID of texture-swapped samples under
# each FID protocol of the run; the texture- and structure-swap distances through the run's perceptual network;
# the identity distances on metrics.coordgan.identity_datasets (ganbench.metrics.coordgan_swap).
rule evaluate_swap_fid:
    input:
        unpack(lambda wc: parent_inputs(wc.experiment)),
        checkpoint="results/runs/{experiment}/final.pt",
        stats=lambda wc: stats_file(
            EXPERIMENTS[wc.experiment]["dataset"], EXPERIMENTS[wc.experiment]["resolution"], wc.protocol
        ),
        weights=lambda wc: extractor_weights(PROTOCOLS[wc.protocol].extractor),
    output:
        eval_report(
            paths.eval_path("{experiment}", plan.SWAP_FID, "{protocol}"), "{experiment}", "{protocol}", plan.SWAP_FID
        ),
    log:
        "logs/evaluate/{experiment}-{protocol}-swap-fid.log",
    benchmark:
        "benchmarks/evaluate_swap_fid/experiment={experiment}/protocol={protocol}.tsv"
    wildcard_constraints:
        experiment=experiment_regex(experiments_with("coordgan_swap")),
        protocol="|".join(re.escape(n) for n, p in PROTOCOLS.items() if "fid" in p.metrics) or "(?!)",
    conda:
        "../envs/ganbench.yaml"
    params:
        protocol=lambda wc: PROTOCOLS[wc.protocol].as_dict(),
        out_dir=lambda wc: paths.eval_dir(wc.experiment, wc.protocol),
        sample_kwargs={"swap": True},
        result_suffix="-swap",
    script:
        "../workflow_scripts/evaluate.py"


rule evaluate_coordgan_swap:
    input:
        unpack(lambda wc: parent_inputs(wc.experiment)),
        checkpoint="results/runs/{experiment}/final.pt",
    output:
        [
            eval_report(paths.eval_path("{experiment}", m, plan.SWAP_PROTOCOL), "{experiment}", plan.SWAP_PROTOCOL, m)
            for m in plan.SWAP_RESULTS
        ],
    log:
        "logs/evaluate/{experiment}-coordgan-swap.log",
    benchmark:
        "benchmarks/evaluate_coordgan_swap/experiment={experiment}.tsv"
    wildcard_constraints:
        experiment=experiment_regex(experiments_with("coordgan_swap")),
    conda:
        "../envs/ganbench.yaml"
    params:
        swap=METRICS_CFG["coordgan"],
        out_dir=lambda wc: paths.eval_dir(wc.experiment, plan.SWAP_PROTOCOL),
    script:
        "../workflow_scripts/evaluate_coordgan_swap.py"


rule evaluate_coordgan_identity:
    input:
        unpack(lambda wc: parent_inputs(wc.experiment)),
        checkpoint="results/runs/{experiment}/final.pt",
        identity=extractor_weights(METRICS_CFG["coordgan"]["identity"]),
    output:
        [
            eval_report(
                paths.eval_path("{experiment}", m, plan.IDENTITY_PROTOCOL), "{experiment}", plan.IDENTITY_PROTOCOL, m
            )
            for m in plan.IDENTITY_RESULTS
        ],
    log:
        "logs/evaluate/{experiment}-coordgan-identity.log",
    benchmark:
        "benchmarks/evaluate_coordgan_identity/experiment={experiment}.tsv"
    wildcard_constraints:
        experiment=experiment_regex(
            [
                e
                for e in experiments_with("coordgan_swap")
                if EXPERIMENTS[e]["dataset"] in METRICS_CFG["coordgan"]["identity_datasets"]
            ]
        ),
    conda:
        "../envs/ganbench.yaml"
    params:
        swap=METRICS_CFG["coordgan"],
        out_dir=lambda wc: paths.eval_dir(wc.experiment, plan.IDENTITY_PROTOCOL),
    script:
        "../workflow_scripts/evaluate_coordgan_swap.py"

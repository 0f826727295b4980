# COCO-GAN (research cocogan.md): the synthetic panorama data of its cylindrical path, and its own evaluations
# (ganbench.metrics.cocogan): seam scores, FID of extrapolated images, the best-FID snapshot; figures of
# extrapolation and of a panorama with its 360-degree seam marked.


rule synthesize_panorama:
    output:
        images="results/data/{dataset}-{res}/images.zip",
    log:
        "logs/data/synthesize_panorama-{dataset}-{res}.log",
    benchmark:
        "benchmarks/synthesize_panorama/dataset={dataset}/res={res}.tsv"
    wildcard_constraints:
        dataset=names_matching({"panorama"}),
    conda:
        "../envs/ganbench.yaml"
    params:
        spec=dataset_spec,
        resolution=lambda wc: int(wc.res),
    script:
        "../workflow_scripts/synthesize_panorama.py"


from ganbench.tables.specs import COCOGAN_FIGURES, cocogan_deviations

COCOGAN_EXPERIMENTS = experiments_with("cocogan")
COCOGAN_FID_EXPERIMENTS = [e for e in COCOGAN_EXPERIMENTS if e in experiments_with("gan")]


# One rule per COCO-GAN method: each writes its method's seam files (ganbench.metrics.plan.cocogan_seam_results).
for _method in ("cocogan", "cocogan_extrap", "cocogan_panorama"):

    rule:
        name:
            f"seams_{_method}"
        input:
            checkpoint="results/runs/{experiment}/final.pt",
            data=lambda wc: f"{data_dir(EXPERIMENTS[wc.experiment]['dataset'], EXPERIMENTS[wc.experiment]['resolution'])}/images.zip",
        output:
            [
                eval_report(paths.eval_path("{experiment}", name), "{experiment}", None, name)
                for name in plan.cocogan_seam_results({"method": _method})
            ],
        log:
            "logs/evaluate/{experiment}-seams.log",
        benchmark:
            f"benchmarks/seams_{_method}/experiment={{experiment}}.tsv"
        wildcard_constraints:
            experiment=experiment_regex([e for e in COCOGAN_EXPERIMENTS if EXPERIMENTS[e]["method"] == _method]),
        conda:
            "../envs/ganbench.yaml"
        params:
            out_dir=lambda wc: paths.eval_dir(wc.experiment),
        script:
            "../workflow_scripts/cocogan_seams.py"


# The FID of extrapolated images (the extrapolation stage), under each protocol with FID. The best-FID snapshot
# is the shared rule best_fid_snapshot (rules/evaluate.smk).
rule cocogan_fid:
    input:
        checkpoint="results/runs/{experiment}/final.pt",
        stats=lambda wc: stats_file(
            EXPERIMENTS[wc.experiment]["dataset"], EXPERIMENTS[wc.experiment]["resolution"], wc.protocol
        ),
        weights=lambda wc: extractor_weights(PROTOCOLS[wc.protocol].extractor),
    output:
        eval_report(paths.eval_path("{experiment}", "{result}", "{protocol}"), "{experiment}", "{protocol}", "{result}"),
    log:
        "logs/evaluate/{experiment}-{protocol}-{result}.log",
    benchmark:
        "benchmarks/cocogan_fid/experiment={experiment}/protocol={protocol}/result={result}.tsv"
    wildcard_constraints:
        experiment=experiment_regex(COCOGAN_FID_EXPERIMENTS),
        protocol=FID_PROTOCOLS,
        result="fid-extrap",
    conda:
        "../envs/ganbench.yaml"
    params:
        protocol=lambda wc: PROTOCOLS[wc.protocol].as_dict(),
        out_dir=lambda wc: paths.eval_dir(wc.experiment, wc.protocol),
        resolution=lambda wc: EXPERIMENTS[wc.experiment]["resolution"],
        extrap_steps=lambda wc: EXPERIMENTS[wc.experiment]["options"].get("extrap_steps", 1),
    script:
        "../workflow_scripts/cocogan_fid.py"


for _figure in ("extrapolation", "panorama", "patch_guided"):

    rule:
        name:
            f"figure_{_figure}"
        input:
            checkpoint="results/runs/{experiment}/final.pt",
        output:
            report(
                f"reports/figures/{{experiment}}-{_figure}.png",
                caption="report/cocogan_figure.rst",
                category=FIGURES[_figure],
                subcategory="{experiment}",
                labels={"experiment": "{experiment}", "figure": _figure},
            ),
        log:
            f"logs/tables/figures-{{experiment}}-{_figure}.log",
        benchmark:
            f"benchmarks/figure_{_figure}/experiment={{experiment}}.tsv"
        wildcard_constraints:
            experiment=experiment_regex(COCOGAN_EXPERIMENTS),
        conda:
            "../envs/ganbench.yaml"
        params:
            figure=_figure,
            shows=COCOGAN_FIGURES[_figure],
            deviations=lambda wc: cocogan_deviations([EXPERIMENTS[wc.experiment]], DATASETS),
        script:
            "../workflow_scripts/cocogan_figure.py"

# Tables, figures and the report: what users read. Tables cover every evaluated experiment;
# `snakemake --report reports/report.html` collects everything marked with report().


rule tables:
    input:
        [f for e in EXPERIMENTS for f in eval_files(e)],
        FLOOR_FILES,
        RELEASED_FILES,
    output:
        [f"reports/tables/{spec.name}.{ext}" for spec in TABLES for ext in ("md", "csv", "tex")],
        [report(f"reports/tables/{spec.name}.html", category="Tables", subcategory=spec.title) for spec in TABLES],
    log:
        "logs/tables/tables.log",
    benchmark:
        "benchmarks/tables.tsv"
    conda:
        "../envs/ganbench.yaml"
    params:
        names=config["tables"],
        experiments=config["experiments"],
        released=released_runs(config),
        protocols=[p.as_dict() for p in ALL_GAN_PROTOCOLS.values()],
        defaults=plan.default_protocols(config),
        scales=ANY_SCALE["scales"],
        datasets=config["datasets"],
    script:
        "../workflow_scripts/tables.py"


rule training_curves:
    input:
        checkpoint="results/runs/{experiment}/final.pt",
    output:
        report(
            "reports/figures/{experiment}-curves.png",
            category=FIGURES["curves"],
            subcategory="{experiment}",
            labels={"experiment": "{experiment}", "figure": "curves"},
        ),
    log:
        "logs/tables/figures-{experiment}-curves.log",
    benchmark:
        "benchmarks/training_curves/experiment={experiment}.tsv"
    conda:
        "../envs/ganbench.yaml"
    params:
        training_log="results/runs/{experiment}/log.jsonl",  # written by the train job with final.pt
    script:
        "../workflow_scripts/training_curves.py"


# A GAN's samples from fixed seeds, or a stage's preview (an encoder's reconstructions): which one an
# experiment gets, and the report category, come from the catalog.
for _figure in ("samples", "preview"):

    rule:
        name:
            f"figure_{_figure}"
        input:
            checkpoint="results/runs/{experiment}/final.pt",
        output:
            report(
                f"reports/figures/{{experiment}}-{_figure}.png",
                category=FIGURES[_figure],
                subcategory="{experiment}",
                labels={"experiment": "{experiment}", "figure": _figure},
            ),
        log:
            f"logs/tables/figures-{{experiment}}-{_figure}.log",
        benchmark:
            f"benchmarks/figure_{_figure}/experiment={{experiment}}.tsv"
        conda:
            "../envs/ganbench.yaml"
        script:
            "../workflow_scripts/sample_grid.py"


rule scale_figure:
    input:
        checkpoint="results/runs/{experiment}/final.pt",
    output:
        report(
            "reports/figures/{experiment}-scales.png",
            caption="report/scales.rst",
            category=FIGURES["scales"],
            subcategory="{experiment}",
            labels={"experiment": "{experiment}", "figure": "scales"},
        ),
    log:
        "logs/tables/figures-{experiment}-scales.log",
    benchmark:
        "benchmarks/scale_figure/experiment={experiment}.tsv"
    wildcard_constraints:
        experiment=experiment_regex(ANY_SCALE_EXPERIMENTS),
    conda:
        "../envs/ganbench.yaml"
    params:
        scales=ANY_SCALE["scales"],
    script:
        "../workflow_scripts/scale_figure.py"

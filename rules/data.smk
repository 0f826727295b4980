# Data stage: synthetic or imported images -> images.zip -> images.tfrecord, annotations, summaries.


rule synthesize:
    output:
        images="results/data/{dataset}-{res}/images.zip",
        annotations="results/data/{dataset}-{res}/annotations.h5",
    log:
        "logs/data/synthesize-{dataset}-{res}.log",
    benchmark:
        "benchmarks/synthesize/dataset={dataset}/res={res}.tsv"
    wildcard_constraints:
        dataset=names_matching({"synthetic"}),
    conda:
        "../envs/ganbench.yaml"
    params:
        spec=dataset_spec,
        resolution=lambda wc: int(wc.res),
    script:
        "../workflow_scripts/synthesize.py"


rule download:
    output:
        "results/downloads/{id}/{filename}",
    log:
        "logs/data/download-{id}-{filename}.log",
    benchmark:
        "benchmarks/download/id={id}/filename={filename}.tsv"
    retries: 2
    conda:
        "../envs/ganbench.yaml"
    params:
        id=lambda wc: wc.id,
    script:
        "../workflow_scripts/download.py"


rule import_images:
    input:
        raw_source,
    output:
        images="results/data/{dataset}-{res}/images.zip",
    log:
        "logs/data/import-{dataset}-{res}.log",
    benchmark:
        "benchmarks/import_images/dataset={dataset}/res={res}.tsv"
    wildcard_constraints:
        dataset=names_matching({"folder", "download"}),
    conda:
        "../envs/ganbench.yaml"
    params:
        spec=dataset_spec,
        resolution=lambda wc: int(wc.res),
    script:
        "../workflow_scripts/import_images.py"


# A real labelled part-segmentation set (source labelled, ganbench.data.labelled): images and part masks with
# the official split, from the downloaded archive or the folder placed by hand (the download rule's manual step).
rule import_labelled:
    input:
        raw_source,
    output:
        images="results/data/{dataset}-{res}/images.zip",
        annotations="results/data/{dataset}-{res}/annotations.h5",
    log:
        "logs/data/import_labelled-{dataset}-{res}.log",
    benchmark:
        "benchmarks/import_labelled/dataset={dataset}/res={res}.tsv"
    wildcard_constraints:
        dataset=names_matching({"labelled"}),
    conda:
        "../envs/ganbench.yaml"
    params:
        spec=dataset_spec,
        resolution=lambda wc: int(wc.res),
    script:
        "../workflow_scripts/import_labelled.py"


rule tfrecord:
    input:
        "results/data/{dataset}-{res}/images.zip",
    output:
        "results/data/{dataset}-{res}/images.tfrecord",
    log:
        "logs/data/tfrecord-{dataset}-{res}.log",
    benchmark:
        "benchmarks/tfrecord/dataset={dataset}/res={res}.tsv"
    conda:
        "../envs/ganbench.yaml"
    script:
        "../workflow_scripts/tfrecord.py"


rule dataset_summary:
    input:
        unpack(
            lambda wc: {
                "images": f"{data_dir(wc.dataset, wc.res)}/images.zip",
                **(
                    {"annotations": f"{data_dir(wc.dataset, wc.res)}/annotations.h5"}
                    if DATASETS[wc.dataset]["source"] in ("synthetic", "pairs", "labelled")
                    else {}
                ),
                **(
                    {"tfrecord": f"{data_dir(wc.dataset, wc.res)}/images.tfrecord"}
                    if config["data"]["tfrecord"]
                    else {}
                ),
            }
        ),
    output:
        summary="reports/datasets/{dataset}-{res}.json",
        preview=report("reports/datasets/{dataset}-{res}.png", category="Datasets", subcategory="{dataset}-{res}"),
    log:
        "logs/data/summary-{dataset}-{res}.log",
    benchmark:
        "benchmarks/dataset_summary/dataset={dataset}/res={res}.tsv"
    conda:
        "../envs/ganbench.yaml"
    params:
        name="{dataset}-{res}",
        preview_count=config["data"]["preview_count"],
    script:
        "../workflow_scripts/dataset_summary.py"


rule datasets_table:
    input:
        [f"reports/datasets/{d}-{r}.json" for d, r in DATA_TARGETS],
    output:
        report("reports/datasets.md", category="Datasets", subcategory="All datasets"),
    log:
        "logs/data/datasets_table.log",
    benchmark:
        "benchmarks/datasets_table.tsv"
    conda:
        "../envs/ganbench.yaml"
    script:
        "../workflow_scripts/datasets_table.py"

# Feature extractors and reference statistics: the probe is trained here on the labelled synthetic
# data; pretrained weights come only from the download rule; statistics are computed once per
# (dataset, resolution, statskey = extractor and reals), shared by the protocols with that key.


rule train_probe:
    input:
        images=[f"{data_dir(d, METRICS_CFG['probe']['resolution'])}/images.zip" for d in probe_datasets(config)],
        annotations=[
            f"{data_dir(d, METRICS_CFG['probe']['resolution'])}/annotations.h5" for d in probe_datasets(config)
        ],
    output:
        model="results/probe/probe.pt",
        report=report("reports/probe.json", category="Feature extractor", caption="report/probe.rst"),
    log:
        "logs/stats/train_probe.log",
    benchmark:
        "benchmarks/train_probe.tsv"
    conda:
        "../envs/ganbench.yaml"
    params:
        probe=METRICS_CFG["probe"],
    script:
        "../workflow_scripts/train_probe.py"


rule download_weights:
    output:
        "results/weights/{name}.pth",
    log:
        "logs/stats/download_weights-{name}.log",
    benchmark:
        "benchmarks/download_weights/name={name}.tsv"
    wildcard_constraints:
        name="|".join(re.escape(n) for n in load_weights_registry(kind="extractor")),
    retries: 2
    conda:
        "../envs/ganbench.yaml"
    params:
        name=lambda wc: wc.name,
    script:
        "../workflow_scripts/download_weights.py"


rule stats:
    input:
        data="results/data/{dataset}-{res}/images.zip",
        weights=lambda wc: extractor_weights(statskey_extractor(wc.statskey)),
    output:
        paths.stats_path("{dataset}", "{res}", "{statskey}"),
    log:
        "logs/stats/{dataset}-{res}-{statskey}.log",
    benchmark:
        "benchmarks/stats/dataset={dataset}/res={res}/statskey={statskey}.tsv"
    wildcard_constraints:
        statskey="|".join(map(re.escape, STATSKEYS)) or "(?!)",
    conda:
        "../envs/ganbench.yaml"
    params:
        extractor=lambda wc: statskey_extractor(wc.statskey),
        max_items=lambda wc: statskey_reals(wc.statskey),
        save_features=True,  # the real-data floor (and KID, precision/recall) need the features
    script:
        "../workflow_scripts/stats.py"

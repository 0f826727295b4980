# LAGM (research lagm.md §2.5): a trained annotator (lagm, datasetgan_mlp: catalog provides "annotator") labels
# images of its frozen generator. A dataset of source `pairs` ({experiment, count, seed, shard_size}) is those
# pairs: generated in shards (shard k: seeds seed + k * shard_size onwards; image i comes from seed + i alone,
# so the set is deterministic and does not depend on the sharding), merged into the usual
# results/data/{dataset}-{res}/ pair of files. A segmenter trains on it like any labelled set and is scored on
# the annotator's labelled test split (ganbench.config.pairs_test_dataset; rules/stages.smk).


rule generate_pairs:
    input:
        checkpoint=lambda wc: f"results/runs/{DATASETS[wc.dataset]['experiment']}/final.pt",
        generator=lambda wc: input_files(config, pairs_annotator(wc.dataset))["generator"],
    output:
        images=temp("results/pairs/{dataset}-{res}/shard-{shard}.zip"),
        annotations=temp("results/pairs/{dataset}-{res}/shard-{shard}.h5"),
    log:
        "logs/pairs/{dataset}-{res}-{shard}.log",
    benchmark:
        "benchmarks/generate_pairs/dataset={dataset}/res={res}/shard={shard}.tsv"
    wildcard_constraints:
        dataset=names_matching({"pairs"}),
        shard=r"\d+",
    conda:
        "../envs/ganbench.yaml"
    params:
        num_pairs=lambda wc: min(
            DATASETS[wc.dataset]["shard_size"],
            DATASETS[wc.dataset]["count"] - int(wc.shard) * DATASETS[wc.dataset]["shard_size"],
        ),
        seed=lambda wc: DATASETS[wc.dataset]["seed"] + int(wc.shard) * DATASETS[wc.dataset]["shard_size"],
    script:
        "../workflow_scripts/generate_pairs.py"


rule merge_pairs:
    input:
        images=lambda wc: [f"results/pairs/{wc.dataset}-{wc.res}/shard-{k}.zip" for k in pairs_shards(wc.dataset)],
        annotations=lambda wc: [f"results/pairs/{wc.dataset}-{wc.res}/shard-{k}.h5" for k in pairs_shards(wc.dataset)],
    output:
        images="results/data/{dataset}-{res}/images.zip",
        annotations="results/data/{dataset}-{res}/annotations.h5",
    log:
        "logs/pairs/{dataset}-{res}-merge.log",
    benchmark:
        "benchmarks/merge_pairs/dataset={dataset}/res={res}.tsv"
    wildcard_constraints:
        dataset=names_matching({"pairs"}),
    conda:
        "../envs/ganbench.yaml"
    script:
        "../workflow_scripts/merge_pairs.py"

# LAGM (research lagm.md §2.5): a trained annotator stage (method lagm) labels images of its frozen generator;
# the pairs are the dataset of a downstream segmenter. Image i comes from seed PAIRS_SEED + i alone.
#
# The chain, once a dataset source for generated pairs exists in the schema (not yet: see the LAGM issue):
#   stylegan2 (gan) -> lagm (inputs.generator.run: gan; train_images: the #labels) -> generate_pairs
#   -> segmenter (trains on results/pairs/{lagm}/images.zip, inputs.annotations: its annotations.h5)
#   -> evaluate_segmenter (on the real labelled test split). The lagm stage's own student is scored by
#   evaluate_segmenter too (catalog evaluations: segmentation), as the paper scores CelebA and Pascal.

PAIRS_COUNT = 10000  # the paper's 10k; becomes a config key (schema) with the generated-pairs dataset source
PAIRS_SEED = 0


rule generate_pairs:
    input:
        checkpoint="results/runs/{experiment}/final.pt",
        generator=lambda wc: input_files(config, EXPERIMENTS[wc.experiment])["generator"],
    output:
        images="results/pairs/{experiment}/images.zip",
        annotations="results/pairs/{experiment}/annotations.h5",
    log:
        "logs/pairs/{experiment}.log",
    benchmark:
        "benchmarks/generate_pairs/experiment={experiment}.tsv"
    wildcard_constraints:
        experiment=experiment_regex([n for n, e in EXPERIMENTS.items() if e["method"] == "lagm"]),
    conda:
        "../envs/ganbench.yaml"
    params:
        num_pairs=PAIRS_COUNT,
        seed=PAIRS_SEED,
    script:
        "../workflow_scripts/generate_pairs.py"

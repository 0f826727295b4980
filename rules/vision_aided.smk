# Vision-aided GAN (research visionaided.md §1.2, §2.5): the linear-probe model selection of a `selections:` entry.
# Its result, results/selection/{selection}.json, is the `{selection: name}` input of the round that adds the chosen
# backbone (options.backbones entry `selected`), so a changed generator or candidate reruns the selection and the
# round after it. Candidates' weights are the trained probe's file or download rules' files.
rule select_backbone:
    input:
        unpack(lambda wc: selection_inputs(wc.selection)),
    output:
        json="results/selection/{selection}.json",
        table=report(
            "reports/tables/vision_aided_selection-{selection}.md",
            category="Tables",
            subcategory="Vision-aided model selection",
        ),
    log:
        "logs/selection/{selection}.log",
    benchmark:
        "benchmarks/select_backbone/selection={selection}.tsv"
    wildcard_constraints:
        selection="|".join(re.escape(n) for n in SELECTIONS) or "(?!)",
    conda:
        "../envs/ganbench.yaml"
    params:
        selection=lambda wc: SELECTIONS[wc.selection],
        candidates=lambda wc: selection_weights(config, wc.selection),
    script:
        "../workflow_scripts/select_backbone.py"

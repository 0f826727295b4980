# Evaluation stage: every trained run measured under each configured protocol (ganbench.metrics.protocols),
# one JSON per metric under results/eval/{experiment}/{protocol}/ with the protocol and the inputs' hashes written
# next to the number, and beside it the real-data floor of each protocol (two halves of the real set).

for _protocol in PROTOCOLS.values():

    rule:
        name:
            f"evaluate_{_protocol.name}"
        input:
            checkpoint="results/runs/{experiment}/final.pt",
            stats=lambda wc, p=_protocol.name: stats_file(
                EXPERIMENTS[wc.experiment]["dataset"], EXPERIMENTS[wc.experiment]["resolution"], p
            ),
            weights=extractor_weights(_protocol.extractor),
        output:
            [
                eval_report(paths.eval_path("{experiment}", n, _protocol.name), "{experiment}", _protocol.name, n)
                for n in _protocol.result_names
            ],
        log:
            f"logs/evaluate/{{experiment}}-{_protocol.name}.log",
        benchmark:
            f"benchmarks/evaluate_{_protocol.name}/experiment={{experiment}}.tsv"
        wildcard_constraints:
            experiment=EXPERIMENT_NAMES,
        conda:
            "../envs/ganbench.yaml"
        params:
            protocol=_protocol.as_dict(),
            out_dir=lambda wc, p=_protocol.name: paths.eval_dir(wc.experiment, p),
        script:
            "../workflow_scripts/evaluate.py"

    rule:
        name:
            f"real_floor_{_protocol.name}"
        input:
            stats=paths.stats_path("{dataset}", "{res}", _protocol.statskey),
        output:
            [
                report(
                    paths.floor_path("{dataset}", "{res}", _protocol.name, n),
                    category="Evaluation",
                    subcategory="Real-data floors",
                    labels={"data": "{dataset}-{res}", "protocol": _protocol.name, "result": n},
                )
                for n in _protocol.result_names
            ],
        log:
            f"logs/evaluate/floor-{{dataset}}-{{res}}-{_protocol.name}.log",
        benchmark:
            f"benchmarks/real_floor_{_protocol.name}/dataset={{dataset}}/res={{res}}.tsv"
        wildcard_constraints:
            dataset="|".join(map(re.escape, DATASETS)) or "(?!)",
        conda:
            "../envs/ganbench.yaml"
        params:
            protocol=_protocol.as_dict(),
            out_dir=lambda wc, p=_protocol.name: paths.floor_dir(wc.dataset, wc.res, p),
        script:
            "../workflow_scripts/real_floor.py"


# A released network (config `released:`, rule import_network) measured as a run is, against the dataset it is
# compared with at the network's resolution, under each of its protocols.
for _protocol in ALL_GAN_PROTOCOLS.values():

    rule:
        name:
            f"evaluate_released_{_protocol.name}"
        input:
            checkpoint=lambda wc: f"results/networks/{RELEASED[wc.name]['released']}.ckpt.pt",
            stats=lambda wc, p=_protocol: paths.stats_path(
                RELEASED[wc.name]["dataset"], RELEASED[wc.name]["resolution"], p.statskey
            ),
            weights=extractor_weights(_protocol.extractor),
        output:
            [
                eval_report(
                    paths.eval_path(f"{RELEASED_DIR}/{{name}}", n, _protocol.name),
                    f"{RELEASED_DIR}/{{name}}",
                    _protocol.name,
                    n,
                )
                for n in _protocol.result_names
            ],
        log:
            f"logs/evaluate/released-{{name}}-{_protocol.name}.log",
        benchmark:
            f"benchmarks/evaluate_released_{_protocol.name}/name={{name}}.tsv"
        wildcard_constraints:
            name="|".join(re.escape(n) for n, r in RELEASED.items() if _protocol.name in r["protocols"]) or "(?!)",
        conda:
            "../envs/ganbench.yaml"
        params:
            protocol=_protocol.as_dict(),
            out_dir=lambda wc, p=_protocol.name: paths.eval_dir(f"{RELEASED_DIR}/{wc.name}", p),
        script:
            "../workflow_scripts/evaluate.py"


# The best-FID snapshot of a run (ganbench.metrics.best_snapshot), for any GAN method and each protocol with FID:
# the FID of every snapshot of its trajectory, the lowest as fid-best.json, and a copy of that snapshot, which a
# child takes as `inputs: {parent: {best_fid: experiment}}` (a Vision-aided round) and a selection probes.
rule best_fid_snapshot:
    input:
        checkpoint="results/runs/{experiment}/final.pt",
        stats=lambda wc: paths.stats_path(
            EXPERIMENTS[wc.experiment]["dataset"],
            EXPERIMENTS[wc.experiment]["resolution"],
            ALL_GAN_PROTOCOLS[wc.protocol].statskey,
        ),
        weights=lambda wc: extractor_weights(ALL_GAN_PROTOCOLS[wc.protocol].extractor),
    output:
        json=eval_report(
            paths.eval_path("{experiment}", paths.BEST_FID, "{protocol}"), "{experiment}", "{protocol}", paths.BEST_FID
        ),
        snapshot=paths.best_snapshot_path("{experiment}", "{protocol}"),
    log:
        "logs/evaluate/{experiment}-{protocol}-best-fid.log",
    benchmark:
        "benchmarks/best_fid_snapshot/experiment={experiment}/protocol={protocol}.tsv"
    wildcard_constraints:
        experiment=experiment_regex(experiments_with("gan")),
        protocol=SNAPSHOT_PROTOCOLS,
    conda:
        "../envs/ganbench.yaml"
    params:
        protocol=lambda wc: ALL_GAN_PROTOCOLS[wc.protocol].as_dict(),
        out_dir=lambda wc: paths.eval_dir(wc.experiment, wc.protocol),
    script:
        "../workflow_scripts/best_fid_snapshot.py"


# Any-scale methods (CREPS): FID at each output scale against the real data at resolution x scale, under each
# protocol with FID; consistency across scales and the render cost beside StyleGAN2 (ganbench.metrics.any_scale),
# which depend on no feature protocol.


rule evaluate_scale:
    input:
        checkpoint="results/runs/{experiment}/final.pt",
        stats=lambda wc: stats_file(
            EXPERIMENTS[wc.experiment]["dataset"],
            EXPERIMENTS[wc.experiment]["resolution"] * int(wc.scale),
            wc.protocol,
        ),
        weights=lambda wc: extractor_weights(PROTOCOLS[wc.protocol].extractor),
    output:
        eval_report(
            paths.eval_path("{experiment}", "fid-scale{scale}", "{protocol}"),
            "{experiment}",
            "{protocol}",
            "fid-scale{scale}",
        ),
    log:
        "logs/evaluate/{experiment}-{protocol}-scale{scale}.log",
    benchmark:
        "benchmarks/evaluate_scale/experiment={experiment}/protocol={protocol}/scale={scale}.tsv"
    wildcard_constraints:
        experiment=experiment_regex(ANY_SCALE_EXPERIMENTS),
        protocol="|".join(re.escape(n) for n, p in PROTOCOLS.items() if "fid" in p.metrics) or "(?!)",
        scale=r"\d+",
    conda:
        "../envs/ganbench.yaml"
    params:
        protocol=lambda wc: PROTOCOLS[wc.protocol].as_dict(),
        out_dir=lambda wc: paths.eval_dir(wc.experiment, wc.protocol),
    script:
        "../workflow_scripts/evaluate.py"


if any(s > 1 for s in ANY_SCALE["scales"]):  # otherwise there is nothing to compare across scales

    rule scale_consistency:
        input:
            checkpoint="results/runs/{experiment}/final.pt",
        output:
            [
                eval_report(paths.eval_path("{experiment}", name), "{experiment}", None, name)
                for name in any_scale_names(ANY_SCALE["scales"])["consistency"]
            ],
        log:
            "logs/evaluate/{experiment}-consistency.log",
        benchmark:
            "benchmarks/scale_consistency/experiment={experiment}.tsv"
        wildcard_constraints:
            experiment=experiment_regex(ANY_SCALE_EXPERIMENTS),
        conda:
            "../envs/ganbench.yaml"
        params:
            any_scale=ANY_SCALE,
            seed=ANY_SCALE["consistency_seed"],
            out_dir=lambda wc: paths.eval_dir(wc.experiment),
        script:
            "../workflow_scripts/scale_consistency.py"


rule render_cost:
    input:
        checkpoint="results/runs/{experiment}/final.pt",
        ops="results/ops/build.json",
    output:
        [
            eval_report(paths.eval_path("{experiment}", name), "{experiment}", None, name)
            for name in any_scale_names(ANY_SCALE["scales"])["cost"]
        ],
    log:
        "logs/evaluate/{experiment}-cost.log",
    benchmark:
        "benchmarks/render_cost/experiment={experiment}.tsv"
    wildcard_constraints:
        experiment=experiment_regex(ANY_SCALE_EXPERIMENTS),
    conda:
        "../envs/ganbench.yaml"
    threads: workflow.cores
    params:
        any_scale=ANY_SCALE,
        baseline=lambda wc: cost_baseline(config, EXPERIMENTS[wc.experiment]),
        out_dir=lambda wc: paths.eval_dir(wc.experiment),
    script:
        "../workflow_scripts/render_cost.py"

# Job costs: every rule writes a Snakemake benchmark file (benchmarks/{rule}/{wildcard}={value}/....tsv);
# this rule runs after every other target of `rule all` and collects them into one table of wall time,
# CPU time and peak memory per paper and stage (ganbench.tables.costs), for the report.
# Included after `rule all`, whose other inputs it takes.

COST_TABLE = "reports/costs/job_costs.md"


rule job_costs:
    input:
        [f for f in rules.all.input if str(f) != COST_TABLE],
    output:
        md=COST_TABLE,
        csv="reports/costs/job_costs.csv",
        html=report("reports/costs/job_costs.html", category="Job costs", caption="report/costs.rst"),
    log:
        "logs/costs/job_costs.log",
    benchmark:
        "benchmarks/job_costs.tsv"
    conda:
        "../envs/ganbench.yaml"
    params:
        root="benchmarks",
        experiments=config["experiments"],
        datasets=list(DATASETS),
    script:
        "../workflow_scripts/job_costs.py"

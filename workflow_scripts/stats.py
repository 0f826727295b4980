from ganbench.metrics.extractors import load_extractor
from ganbench.metrics.stats import compute_stats
from ganbench.workflow import job_log

with job_log(snakemake):
    compute_stats(
        snakemake.input.data,
        load_extractor(snakemake.params.extractor, snakemake.input.weights),
        snakemake.output[0],
        max_items=snakemake.params.max_items,
        save_features=snakemake.params.save_features,
    )

import torch

from ganbench.data.generated_pairs import generate_pairs
from ganbench.workflow import job_log

with job_log(snakemake):
    generate_pairs(
        snakemake.input.checkpoint,
        snakemake.output.images,
        snakemake.output.annotations,
        snakemake.params.num_pairs,
        snakemake.params.seed,
        generator=snakemake.input.generator,
        device="cuda" if torch.cuda.is_available() else "cpu",
    )

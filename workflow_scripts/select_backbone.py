import torch

from ganbench.metrics.backbone_selection import select_backbone
from ganbench.workflow import job_log

with job_log(snakemake):
    sel = snakemake.params.selection
    select_backbone(
        snakemake.input.generator,
        snakemake.input.data,
        snakemake.params.candidates,
        snakemake.output[0],
        diffaugment=sel["diffaugment"],
        max_images=sel["max_images"],
        repeats=sel["repeats"],
        seed=sel["seed"],
        probe_options=sel["probe_options"],
        device="cuda" if torch.cuda.is_available() else "cpu",
    )

import json

import torch

from pathlib import Path

from ganbench.fileio import atomic_path
from ganbench.metrics.backbone_selection import select_backbone, selection_table
from ganbench.workflow import job_log

with job_log(snakemake):
    sel = snakemake.params.selection
    taken = [json.loads(Path(p).read_text())["selected"] for p in snakemake.input.after]
    record = select_backbone(
        snakemake.input.generator,
        snakemake.input.data,
        {c: w for c, w in snakemake.params.candidates.items() if c not in taken},
        snakemake.output.json,
        diffaugment=sel["diffaugment"],
        max_images=sel["max_images"],
        repeats=sel["repeats"],
        seed=sel["seed"],
        probe_options=sel["probe_options"],
        device="cuda" if torch.cuda.is_available() else "cpu",
    )
    with atomic_path(snakemake.output.table) as tmp:
        Path(tmp).write_text(selection_table(record, snakemake.wildcards.selection))

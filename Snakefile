# ganbench: regenerate GAN papers' result tables. The work is done by the ganbench library;
# this file loads and validates the configuration and includes one rule file per stage.
import os

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version

from ganbench.config import validate_config
from ganbench.errors import GanbenchError

min_version("9.0")


# The embedded default applies only when no --configfile is given: a user's configuration replaces it
# instead of being merged into it (Snakemake's `configfile:` would merge the two).
if not workflow.overwrite_configfiles:
    workflow.configfile("config/config.yaml")


report: "rules/report/workflow.rst"


try:
    validate_config(config, source=", ".join(map(str, workflow.configfiles)) or "config")
except GanbenchError as exc:
    raise WorkflowError(str(exc)) from None


# One PyTorch thread per job unless its rule asks for more (`threads:`, and the job then sets torch's count
# itself): with a thread per core in every job, two jobs on two cores spin against each other
# (`python bench/threads.py`: 1.8x slower training steps, idle two-core machine). A value in the environment is kept.
os.environ.setdefault("OMP_NUM_THREADS", "1")


wildcard_constraints:
    res=r"\d+",


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/ops.smk"
include: "rules/train.smk"
include: "rules/stats.smk"
include: "rules/evaluate.smk"
include: "rules/tables.smk"
include: "rules/stages.smk"
include: "rules/lagm.smk"
include: "rules/vision_aided.smk"
include: "rules/cocogan.smk"
include: "rules/coordgan.smk"


rule all:
    default_target: True
    input:
        "reports/datasets.md",
        expand("results/runs/{experiment}/final.pt", experiment=EXPERIMENTS),
        [f"reports/tables/{spec.name}.md" for spec in TABLES],
        [f for e in EXPERIMENTS for f in eval_files(e)],
        RELEASED_FILES,
        [f"reports/figures/{e}-{figure}.png" for e in EXPERIMENTS for figure in experiment_figures(EXPERIMENTS[e])],
        "reports/costs/job_costs.md",  # rules/costs.smk: runs after everything above


include: "rules/costs.smk"

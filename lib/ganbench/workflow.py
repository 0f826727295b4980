"""What every workflow script shares: send the job's output to its log, and fail in one line.

Usage in ``workflow_scripts/*.py``::

    with job_log(snakemake):
        some_library_function(...)
"""

from __future__ import annotations

import contextlib
import sys
import traceback
import warnings
from pathlib import Path

from ganbench.errors import GanbenchError


@contextlib.contextmanager
def job_log(smk):
    """Redirect stdout, stderr and warnings to ``smk.log[0]``; a GanbenchError becomes one line and exit 2.

    The one-line error also goes to the terminal, so a failed job says what is wrong without
    opening its log; the full traceback is in the log.
    """
    terminal = sys.stderr
    log_path = Path(smk.log[0])
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w", buffering=1) as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        warnings.simplefilter("default")
        try:
            yield
        except GanbenchError as exc:
            traceback.print_exc(file=log)
            print(f"ganbench: error: {exc}", file=terminal)
            print(f"ganbench: error: {exc}", file=log)
            sys.exit(2)

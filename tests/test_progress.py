"""Progress of long loops: periodic log lines when the output is not a terminal, a last line always."""

from __future__ import annotations

import io

from ganbench.progress import progress
from ganbench.tables.plots import scale_titles


def test_progress_writes_log_lines_off_a_terminal():
    stream = io.StringIO()
    with progress(total=5, desc="stats faces", unit="img", stream=stream, interval=0) as bar:
        for _ in range(5):
            bar.update(1)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 6  # one per update (interval 0), and the closing line
    assert lines[0].startswith("stats faces: 1/5 img in ") and lines[-1].startswith("stats faces: 5/5 img in ")


def test_progress_is_quiet_between_intervals_but_always_ends_with_a_line():
    stream = io.StringIO()
    with progress(total=None, desc="generate", unit="img", stream=stream, interval=3600) as bar:
        bar.update(32)
        bar.update(32)
    assert stream.getvalue().splitlines() == [stream.getvalue().splitlines()[-1]]
    assert stream.getvalue().startswith("generate: 64 img in ")


def test_scale_figure_titles_name_the_fid_resolution():
    assert scale_titles(32, [1, 2, 4], [32, 63, 125]) == [
        "1x: 32 px shown\nFID at 32 px",
        "2x: 63 px shown\nFID at 64 px",
        "4x: 125 px shown\nFID at 128 px",
    ]

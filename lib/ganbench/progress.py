"""Progress of a long loop: a tqdm bar in a terminal, a log line every ``interval`` seconds otherwise (a Snakemake
job's log, a Slurm output file), and always a last line with the count and the time taken."""

from __future__ import annotations

import contextlib
import sys
import time
from typing import Iterator, TextIO

LOG_INTERVAL_S = 30.0


class LogProgress:
    """The part of tqdm's interface the loops use (``update``), writing plain lines to ``stream``."""

    def __init__(self, total: int | None, desc: str, unit: str, stream: TextIO, interval: float):
        self.total, self.desc, self.unit, self.stream, self.interval = total, desc, unit, stream, interval
        self.n = 0
        self.start = self.last = time.monotonic()

    def _line(self, now: float) -> str:
        elapsed = now - self.start
        of = f"/{self.total}" if self.total is not None else ""
        rate = f", {self.n / elapsed:.1f} {self.unit}/s" if elapsed > 0 and self.n else ""
        return f"{self.desc}: {self.n}{of} {self.unit} in {elapsed:.0f} s{rate}"

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            print(self._line(now), file=self.stream, flush=True)

    def close(self) -> None:
        print(self._line(time.monotonic()), file=self.stream, flush=True)


@contextlib.contextmanager
def progress(
    total: int | None, desc: str, unit: str = "it", stream: TextIO | None = None, interval: float = LOG_INTERVAL_S
) -> Iterator:
    """``with progress(n, "stats faces") as bar: ... bar.update(k)``."""
    stream = sys.stderr if stream is None else stream
    if stream.isatty():
        from tqdm import tqdm

        with tqdm(total=total, desc=desc, unit=unit, leave=False, file=stream) as bar:
            yield bar
        return
    bar = LogProgress(total, desc, unit, stream, interval)
    try:
        yield bar
    finally:
        bar.close()

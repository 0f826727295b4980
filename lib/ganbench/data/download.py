"""Fetch a file over HTTP(S) or file:// with retries and sha256 verification; fetch a registered dataset.

Downloads stream into a temporary file beside the destination, are hashed while they stream and are moved onto
the destination only when complete and verified, so a failed or corrupt download never leaves anything behind.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from tqdm import tqdm

from ganbench.data.registry import DatasetEntry, archive_name, get_entry
from ganbench.errors import DownloadError
from ganbench.fileio import atomic_path, sha256_file

CHUNK = 1 << 20
RETRY_HTTP_CODES = frozenset({408, 429}) | frozenset(range(500, 600))


class _Transient(Exception):
    """A failure worth retrying: network error, HTTP 5xx (or 408, 429), truncated body."""


def _fetch(url: str, tmp: Path, timeout: float) -> str:
    """Stream ``url`` into ``tmp``; return the hex sha256 of the bytes received."""
    digest, received = hashlib.sha256(), 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            name = Path(urllib.parse.urlparse(url).path).name or url
            with tqdm(
                total=total, desc=name, unit="B", unit_scale=True, unit_divisor=1024, leave=False, disable=None
            ) as bar:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as e:
        if e.code in RETRY_HTTP_CODES:
            raise _Transient(f"HTTP {e.code} {e.reason}") from None
        raise DownloadError(f"{url}: HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        if isinstance(e.reason, FileNotFoundError):  # file:// to a missing file
            raise DownloadError(f"{url}: no such file") from None
        raise _Transient(f"{e.reason}") from None
    except ValueError as e:  # malformed URL, unknown scheme
        raise DownloadError(f"{url}: {e}") from None
    except (http.client.HTTPException, OSError) as e:  # reset, timeout, broken read
        raise _Transient(f"{type(e).__name__}: {e}") from None
    if total is not None and received < total:
        raise _Transient(f"truncated body: {received} of {total} bytes")
    return digest.hexdigest()


def download(
    url: str,
    dest: str | os.PathLike,
    sha256: str | None = None,
    retries: int = 3,
    timeout: float = 60,
    backoff: float = 1.0,
) -> Path:
    """Download ``url`` to ``dest`` and return ``dest`` as a Path.

    Args:
        url: http://, https:// or file:// URL.
        dest: destination file; its parent is created.
        sha256: expected hex sha256 of the file, or None to skip verification. When given and ``dest`` already
            holds a file with this hash, nothing is downloaded. Without it, ``dest`` is always fetched again.
        retries: extra attempts after the first, for network errors, HTTP 5xx/408/429 and truncated bodies.
            Other HTTP errors (404, 403, ...) and hash mismatches fail at once.
        timeout: socket timeout in seconds, per connection attempt and per read.
        backoff: the wait before retry k (k = 1, 2, ...) is ``backoff * 2**(k-1)`` seconds.

    Raises DownloadError (one line, naming the URL) when it fails; ``dest`` is then left as it was and no
    temporary file remains. A progress bar is shown when stderr is a terminal.
    """
    dest = Path(dest)
    expected = sha256.lower() if sha256 else None
    if expected and dest.is_file() and sha256_file(dest) == expected:
        return dest
    failure = ""
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            with atomic_path(dest) as tmp:
                actual = _fetch(url, tmp, timeout)
                if expected and actual != expected:
                    raise DownloadError(f"{url}: sha256 mismatch: expected {expected}, got {actual}")
            return dest
        except _Transient as e:
            failure = str(e)
    raise DownloadError(f"{url}: failed after {retries + 1} attempts; last error: {failure}")


def download_dataset(
    dataset_id: str, dest_dir: str | os.PathLike, registry: dict[str, DatasetEntry] | None = None, **kwargs
) -> Path:
    """Download a registered dataset to ``dest_dir / archive_name(dataset_id)``; return that path.

    ``registry`` defaults to the repository's ``config/datasets.yaml``; ``kwargs`` go to :func:`download`.
    A dataset without a direct URL is returned when it has been placed there by hand, and otherwise raises
    DownloadError with the manual step from its notes and its homepage.
    """
    entry = get_entry(dataset_id, registry)
    dest = Path(dest_dir) / archive_name(dataset_id, {entry.id: entry})
    if entry.url is None and dest.exists():
        return dest
    if entry.url is None:
        raise DownloadError(
            f"dataset {entry.id!r} cannot be downloaded automatically; fetch it by hand and place it "
            f"at {dest}: {entry.notes} (homepage: {entry.homepage or 'unknown'})"
        )
    return download(entry.url, dest, entry.sha256, **kwargs)

"""Downloads and the dataset registry, against a local HTTP server: no test touches the network."""

from __future__ import annotations

import hashlib
import io
import re
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from ganbench.data import download as dl
from ganbench.data.download import download, download_dataset
from ganbench.data.registry import DEFAULT_PATH, METHODS, DatasetEntry, archive_name, get_entry, load_registry
from ganbench.errors import ConfigError, DownloadError


def make_archive() -> bytes:
    """A small uncompressed zip of three PNGs, in the dataset_tool layout."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for i in range(3):
            png = io.BytesIO()
            Image.new("RGB", (8, 8), (40 * i, 255 - 40 * i, 7)).save(png, format="PNG")
            zf.writestr(f"00000/img{i:08d}.png", png.getvalue())
    return buf.getvalue()


ARCHIVE = make_archive()
SHA = hashlib.sha256(ARCHIVE).hexdigest()


class Server:
    """Routes path -> handler(request, n) where n counts earlier requests to that path; logs every request."""

    def __init__(self, base: str):
        self.base = base
        self.routes = {}
        self.requests: list[str] = []

    def url(self, path: str) -> str:
        return self.base + path

    def count(self, path: str) -> int:
        return self.requests.count(path)


def serve(body: bytes):
    def handler(req, n):
        req.send_response(200)
        req.send_header("Content-Type", "application/zip")
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)

    return handler


def fail_first(k: int, code: int, body: bytes):
    ok = serve(body)

    def handler(req, n):
        if n < k:
            req.send_error(code)
        else:
            ok(req, n)

    return handler


def truncate_first(k: int | None, body: bytes):
    """Announce the full Content-Length, send half the body and close; k=None truncates every time."""
    ok = serve(body)

    def handler(req, n):
        if k is not None and n >= k:
            return ok(req, n)
        req.send_response(200)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body[: len(body) // 2])
        req.wfile.flush()
        req.close_connection = True

    return handler


@pytest.fixture
def server():
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            with lock:
                n = state.count(self.path)
                state.requests.append(self.path)
            route = state.routes.get(self.path)
            if route is None:
                self.send_error(404)
            else:
                route(self, n)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = Server(f"http://127.0.0.1:{httpd.server_address[1]}")
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def names(folder):
    return sorted(p.name for p in folder.iterdir())


# ------------------------------------------------------------------------------------------------ download()


def test_download_with_matching_sha256(server, tmp_path):
    server.routes["/data.zip"] = serve(ARCHIVE)
    dest = tmp_path / "out" / "data.zip"
    assert download(server.url("/data.zip"), dest, SHA, backoff=0) == dest
    assert dest.read_bytes() == ARCHIVE
    assert names(dest.parent) == ["data.zip"]
    with zipfile.ZipFile(dest) as zf:
        assert len(zf.namelist()) == 3


def test_download_without_sha256(server, tmp_path):
    server.routes["/data.zip"] = serve(ARCHIVE)
    dest = download(server.url("/data.zip"), tmp_path / "data.zip", None, backoff=0)
    assert dest.read_bytes() == ARCHIVE


def test_uppercase_sha256_is_accepted(server, tmp_path):
    server.routes["/data.zip"] = serve(ARCHIVE)
    download(server.url("/data.zip"), tmp_path / "data.zip", SHA.upper(), backoff=0)
    assert (tmp_path / "data.zip").read_bytes() == ARCHIVE


def test_sha256_mismatch_leaves_nothing(server, tmp_path):
    server.routes["/data.zip"] = serve(ARCHIVE)
    wrong = "0" * 64
    url = server.url("/data.zip")
    with pytest.raises(DownloadError) as err:
        download(url, tmp_path / "data.zip", wrong, backoff=0)
    msg = str(err.value)
    assert url in msg and wrong in msg and SHA in msg and "\n" not in msg
    assert names(tmp_path) == []
    assert server.count("/data.zip") == 1  # a mismatch is not retried


def test_404_fails_at_once_without_retry(server, tmp_path):
    url = server.url("/missing.zip")
    start = time.monotonic()
    with pytest.raises(DownloadError, match="404") as err:
        download(url, tmp_path / "x.zip", None, retries=3, backoff=10)
    assert time.monotonic() - start < 5  # a retry would sleep 10 s first
    assert url in str(err.value) and "\n" not in str(err.value)
    assert server.count("/missing.zip") == 1
    assert names(tmp_path) == []


def test_503_then_success_is_retried(server, tmp_path):
    server.routes["/flaky.zip"] = fail_first(2, 503, ARCHIVE)
    dest = download(server.url("/flaky.zip"), tmp_path / "flaky.zip", SHA, retries=3, backoff=0)
    assert dest.read_bytes() == ARCHIVE
    assert server.count("/flaky.zip") == 3
    assert names(tmp_path) == ["flaky.zip"]


def test_persistent_503_gives_up(server, tmp_path):
    server.routes["/down.zip"] = fail_first(100, 503, ARCHIVE)
    with pytest.raises(DownloadError, match="503"):
        download(server.url("/down.zip"), tmp_path / "down.zip", SHA, retries=2, backoff=0)
    assert server.count("/down.zip") == 3  # the first attempt and two retries
    assert names(tmp_path) == []


def test_backoff_is_exponential(server, tmp_path, monkeypatch):
    sleeps = []
    monkeypatch.setattr(dl.time, "sleep", sleeps.append)
    server.routes["/flaky.zip"] = fail_first(3, 500, ARCHIVE)
    download(server.url("/flaky.zip"), tmp_path / "flaky.zip", SHA, retries=3, backoff=0.5)
    assert sleeps == [0.5, 1.0, 2.0]


def test_truncated_body_is_retried(server, tmp_path):
    server.routes["/cut.zip"] = truncate_first(1, ARCHIVE)
    dest = download(server.url("/cut.zip"), tmp_path / "cut.zip", SHA, retries=3, backoff=0)
    assert dest.read_bytes() == ARCHIVE
    assert server.count("/cut.zip") == 2


def test_truncated_body_without_sha256_is_still_detected(server, tmp_path):
    server.routes["/cut.zip"] = truncate_first(None, ARCHIVE)
    with pytest.raises(DownloadError, match="truncated"):
        download(server.url("/cut.zip"), tmp_path / "cut.zip", None, retries=2, backoff=0)
    assert server.count("/cut.zip") == 3
    assert names(tmp_path) == []


def test_always_truncated_leaves_nothing(server, tmp_path):
    server.routes["/cut.zip"] = truncate_first(None, ARCHIVE)
    with pytest.raises(DownloadError):
        download(server.url("/cut.zip"), tmp_path / "cut.zip", SHA, retries=3, backoff=0)
    assert server.count("/cut.zip") == 4
    assert names(tmp_path) == []


def test_existing_correct_file_is_not_downloaded(server, tmp_path):
    server.routes["/data.zip"] = serve(ARCHIVE)
    dest = tmp_path / "data.zip"
    dest.write_bytes(ARCHIVE)
    assert download(server.url("/data.zip"), dest, SHA, backoff=0) == dest
    assert server.count("/data.zip") == 0


def test_existing_wrong_file_is_replaced(server, tmp_path):
    server.routes["/data.zip"] = serve(ARCHIVE)
    dest = tmp_path / "data.zip"
    dest.write_bytes(b"stale")
    download(server.url("/data.zip"), dest, SHA, backoff=0)
    assert dest.read_bytes() == ARCHIVE
    assert server.count("/data.zip") == 1
    assert names(tmp_path) == ["data.zip"]


def test_file_url(tmp_path):
    src = tmp_path / "src" / "data.zip"
    src.parent.mkdir()
    src.write_bytes(ARCHIVE)
    dest = download(src.as_uri(), tmp_path / "out" / "data.zip", SHA, backoff=0)
    assert dest.read_bytes() == ARCHIVE
    with pytest.raises(DownloadError, match="no such file"):
        download((tmp_path / "nope.zip").as_uri(), tmp_path / "out" / "nope.zip", None, backoff=0)
    assert names(tmp_path / "out") == ["data.zip"]


def test_connection_refused_is_retried_then_fails(tmp_path):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = httpd.server_address[1]
    httpd.server_close()  # nothing listens on this port any more
    with pytest.raises(DownloadError, match="2 attempts"):
        download(f"http://127.0.0.1:{port}/x.zip", tmp_path / "x.zip", None, retries=1, backoff=0, timeout=5)
    assert names(tmp_path) == []


# ------------------------------------------------------------------------------------------------ registry


def test_real_registry_loads_and_is_complete():
    registry = load_registry()
    assert DEFAULT_PATH.name == "datasets.yaml" and DEFAULT_PATH.parent.name == "config"
    assert len(registry) >= 10
    for dataset_id, entry in registry.items():
        assert isinstance(entry, DatasetEntry) and entry.id == dataset_id
        assert entry.license.strip() and entry.citation.strip() and entry.source.strip()
        assert entry.papers and set(entry.papers) <= set(METHODS)
        assert entry.url or entry.notes, f"{dataset_id}: no url and no manual step"
    used = {method for entry in registry.values() for method in entry.papers}
    assert used == set(METHODS)
    for expected in (
        "celebamask-hq",
        "stanford-cars",
        "afhq",
        "datasetgan",
        "celeba",
        "lsun-bedroom",
        "ffhq",
        "metfaces",
        "lsun-church",
        "pascal-part",
        "animalface-dog",
    ):
        assert expected in registry


def test_registry_entries_are_frozen():
    entry = get_entry("afhq")
    with pytest.raises(AttributeError):
        entry.url = "http://elsewhere"


def test_unknown_id_names_it_and_close_matches():
    with pytest.raises(ConfigError) as err:
        get_entry("celebamask")
    msg = str(err.value)
    assert "'celebamask'" in msg and "celebamask-hq" in msg and "\n" not in msg


def test_unknown_id_without_close_match_lists_known_ids():
    with pytest.raises(ConfigError, match="known ids: .*afhq"):
        get_entry("zzzzzzzz")


GOOD_ENTRY = """\
datasets:
  tiny:
    name: Tiny
    url: {url}
    homepage: null
    sha256: {sha}
    archive: zip
    license: CC0
    citation: Nobody, Nowhere 2024
    papers: [creps]
    notes: none
    source: test
"""


def write_registry(tmp_path, text):
    path = tmp_path / "datasets.yaml"
    path.write_text(text)
    return path


def test_custom_registry_round_trip(tmp_path):
    path = write_registry(tmp_path, GOOD_ENTRY.format(url="https://example.org/t.zip", sha=SHA))
    entry = get_entry("tiny", load_registry(path))
    assert entry.url == "https://example.org/t.zip" and entry.sha256 == SHA and entry.papers == ("creps",)


@pytest.mark.parametrize(
    "old, new, key",
    [
        ("    url: {url}\n", "", "url"),  # missing key
        ("papers: [creps]", "papers: creps", "papers"),  # wrong type
        ("papers: [creps]", "papers: [stylegan9]", "papers"),  # unknown method
        ("license: CC0", "license: 3", "license"),  # wrong type
        ("sha256: {sha}", "sha256: abc", "sha256"),  # not a sha256
        ("archive: zip", "archive: rar", "archive"),  # unknown format
        ("url: {url}", "url: ftp://x/y.zip", "url"),  # unsupported scheme
        ("source: test", "source: test\n    mirror: x", "mirror"),  # unknown key
    ],
)
def test_malformed_registry_names_file_and_key(tmp_path, old, new, key):
    text = GOOD_ENTRY.replace(old, new).format(url="https://example.org/t.zip", sha=SHA)
    path = write_registry(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_registry(path)
    msg = str(err.value)
    assert str(path) in msg and key in msg and "\n" not in msg


@pytest.mark.parametrize("text", ["datasets: [a, b]\n", "other: {}\n", "datasets: {tiny: [1]}\n", "datasets: {x: [\n"])
def test_malformed_registry_structure(tmp_path, text):
    path = write_registry(tmp_path, text)
    with pytest.raises(ConfigError, match=re.escape(str(path))):
        load_registry(path)


def test_missing_registry_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_registry(tmp_path / "absent.yaml")


# ------------------------------------------------------------------------------------------------ download_dataset()


def test_download_dataset_from_registry(server, tmp_path):
    server.routes["/tiny.zip"] = serve(ARCHIVE)
    path = write_registry(tmp_path, GOOD_ENTRY.format(url=server.url("/tiny.zip"), sha=SHA))
    dest = download_dataset("tiny", tmp_path / "raw", registry=load_registry(path), backoff=0)
    assert dest == tmp_path / "raw" / "tiny.zip" and dest.read_bytes() == ARCHIVE
    assert download_dataset("tiny", tmp_path / "raw", registry=load_registry(path)) == dest
    assert server.count("/tiny.zip") == 1  # the second call found the verified file


def test_download_dataset_without_url_explains_manual_step(tmp_path):
    registry = load_registry()
    manual = next(e for e in registry.values() if e.url is None and e.homepage)
    with pytest.raises(DownloadError) as err:
        download_dataset(manual.id, tmp_path, registry=registry)
    msg = str(err.value)
    assert manual.id in msg and manual.homepage in msg and manual.notes[:40] in msg and "\n" not in msg
    dest = tmp_path / archive_name(manual.id, registry)
    assert str(dest) in msg  # where to place the file by hand
    assert names(tmp_path) == []
    dest.mkdir()  # placed by hand: accepted as it is
    assert download_dataset(manual.id, tmp_path, registry=registry) == dest


def test_archive_name():
    registry = load_registry()
    assert archive_name("afhq", registry) == "afhq.zip"
    assert archive_name("cifar10", registry) == "cifar10.tar.gz"
    assert archive_name("celebamask-hq", registry) == "celebamask-hq"
    with pytest.raises(ConfigError, match="'afhk'"):
        archive_name("afhk", registry)


def test_download_dataset_unknown_id(tmp_path):
    with pytest.raises(ConfigError, match="'no-such-set'"):
        download_dataset("no-such-set", tmp_path)

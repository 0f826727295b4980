"""Atomic writes: readable by the group under the umask, fsynced before and after the rename, nothing left on
failure."""

from __future__ import annotations

import os
import stat
import zipfile

import pytest

from ganbench import fileio
from ganbench.fileio import atomic_path, write_json


@pytest.fixture
def umask():
    old = os.umask(0o022)
    os.umask(old)

    def set_mask(mask):
        os.umask(mask)
        return mask

    yield set_mask
    os.umask(old)


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_written_file_honours_the_umask(tmp_path, umask, mask, mode):
    umask(mask)
    assert fileio.current_umask() == mask
    write_json(tmp_path / "a.json", {"x": 1})
    with atomic_path(tmp_path / "b.zip") as tmp, zipfile.ZipFile(tmp, "w") as z:  # a writer that reopens the path
        z.writestr("m.txt", "hello")
    for name in ("a.json", "b.zip"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode
    plain = tmp_path / "plain"
    plain.write_text("")
    assert stat.S_IMODE(plain.stat().st_mode) == mode  # the same as open() gives


def test_file_and_folder_are_fsynced_around_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        path = os.readlink(f"/proc/self/fd/{fd}") if os.path.exists("/proc/self/fd") else str(fd)
        events.append(("fsync", path, os.fstat(fd).st_size if not os.path.isdir(path) else None))
        real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", str(src), str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    write_json(tmp_path / "r.json", {"k": "v" * 100})
    kinds = [e[0] for e in events]
    assert kinds == ["fsync", "replace", "fsync"]
    tmp_name = events[1][1]
    assert events[0][1] == tmp_name and events[0][2] == (tmp_path / "r.json").stat().st_size > 0
    assert events[2][1] == str(tmp_path)


def test_failure_leaves_nothing_and_keeps_the_old_target(tmp_path):
    target = tmp_path / "t.json"
    write_json(target, {"old": True})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.json"]
    assert target.read_text() == '{\n  "old": true\n}\n'

"""Atomic writes: the target is the old file or the complete new one; no temporary file is left behind."""

import json
import os
import stat
import subprocess
import sys

import pytest

from descend.io import atomic
from descend.io.atomic import atomic_open, atomic_path, atomic_write_bytes, atomic_write_json, atomic_write_text


def _leftovers(directory):
    return [p.name for p in directory.iterdir() if p.name.endswith(".tmp") or ".tmp" in p.name]


def test_write_bytes_text_json_round_trip_and_create_parents(tmp_path):
    p = atomic_write_bytes(tmp_path / "a" / "b" / "x.bin", b"\x00\x01\xff")
    assert p.read_bytes() == b"\x00\x01\xff"
    atomic_write_text(tmp_path / "t.txt", "héllo\r\nworld")
    assert (tmp_path / "t.txt").read_bytes() == "héllo\r\nworld".encode()
    atomic_write_json(tmp_path / "j.json", {"a": [1, 2.5, None], "b": "c"})
    assert json.loads((tmp_path / "j.json").read_text()) == {"a": [1, 2.5, None], "b": "c"}
    assert _leftovers(tmp_path) == []


def test_overwrite_replaces_content_completely(tmp_path):
    target = tmp_path / "f.txt"
    atomic_write_text(target, "x" * 1000)
    atomic_write_text(target, "short")
    assert target.read_text() == "short"


def test_failed_rename_keeps_old_file_and_removes_temp(tmp_path, monkeypatch):
    target = tmp_path / "state.json"
    atomic_write_json(target, {"version": 1})

    def crash(src, dst):
        raise OSError("simulated crash before rename")

    monkeypatch.setattr(atomic.os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        atomic_write_json(target, {"version": 2})
    assert json.loads(target.read_text()) == {"version": 1}
    assert _leftovers(tmp_path) == []


def test_writer_raising_mid_write_keeps_old_file_and_removes_temp(tmp_path):
    target = tmp_path / "plot.png"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="half way"):
        with atomic_path(target) as tmp:
            assert tmp.parent == tmp_path and tmp.suffix == ".png" and tmp != target
            tmp.write_bytes(b"partial new cont")
            raise RuntimeError("half way")
    assert target.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []


def test_hard_crash_mid_write_leaves_previous_file_intact(tmp_path):
    """A process killed (os._exit) while writing: the old file must survive untouched."""
    target = tmp_path / "ckpt.bin"
    target.write_bytes(b"previous good version")
    code = (
        "import os, sys\n"
        "from descend.io import atomic\n"
        "def die(fd): os._exit(3)\n"          # killed after the bytes were written, before rename
        "atomic.os.fsync = die\n"
        f"atomic.atomic_write_bytes({str(target)!r}, b'new' * 100000)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert result.returncode == 3, result.stderr.decode()
    assert target.read_bytes() == b"previous good version"


def test_fsync_file_before_rename_and_directory_after(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(atomic.os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    atomic_write_bytes(tmp_path / "f", b"data")
    assert events == ["fsync", "replace", "fsync"]


def test_new_file_respects_umask_and_existing_mode_is_kept(tmp_path):
    mask = os.umask(0o022)
    try:
        p = atomic_write_text(tmp_path / "new.txt", "a")
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o644
        os.chmod(p, 0o600)
        atomic_write_text(p, "b")
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    finally:
        os.umask(mask)


def test_atomic_open_text_and_binary(tmp_path):
    with atomic_open(tmp_path / "a.csv", "w") as f:
        f.write("a,b\n1,2\n")
    assert (tmp_path / "a.csv").read_text() == "a,b\n1,2\n"
    with atomic_open(tmp_path / "b.bin", "wb") as f:
        f.write(b"\x01\x02")
    assert (tmp_path / "b.bin").read_bytes() == b"\x01\x02"
    with pytest.raises(ValueError, match="'a'"):
        with atomic_open(tmp_path / "c", "a"):
            pass


def test_unserialisable_json_writes_nothing(tmp_path):
    with pytest.raises(TypeError, match="j.json"):
        atomic_write_json(tmp_path / "j.json", {"x": object()})
    with pytest.raises(ValueError, match="j.json"):
        atomic_write_json(tmp_path / "j.json", {"x": float("nan")})
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments_give_clear_errors(tmp_path):
    with pytest.raises(IsADirectoryError, match="directory"):
        atomic_write_bytes(tmp_path, b"x")
    with pytest.raises(TypeError, match="atomic_write_text"):
        atomic_write_bytes(tmp_path / "f", "text")
    with pytest.raises(TypeError, match="atomic_write_bytes"):
        atomic_write_text(tmp_path / "f", b"bytes")
    with pytest.raises(TypeError, match="PathLike"):
        atomic_write_bytes(3, b"x")


def test_unused_path_numbers_a_taken_name_from_two(tmp_path):
    from descend.io import unused_path
    base = tmp_path / "run"
    assert unused_path(base) == base
    base.mkdir()
    assert unused_path(base) == tmp_path / "run-2"
    (tmp_path / "run-2").mkdir()
    assert unused_path(base) == tmp_path / "run-3"

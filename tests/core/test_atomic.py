"""Atomic writes: the result's mode follows the umask (a replaced file keeps its own; an
explicit mode is never exceeded, even by the temporary file), the folder is fsynced after the
rename, a failed write leaves the old file, and temporary files of writers that died are removed
by the next write of the same target (and only those).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from hedgedesk.core import atomic
from hedgedesk.core.atomic import write_atomic

DEAD_PID = 999_999_999  # above Linux's pid_max (4,194,304): no process has it


@pytest.fixture
def umask():
    """Set the process umask for one test and restore it."""
    saved = os.umask(0o022)
    yield lambda m: os.umask(m)
    os.umask(saved)


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_new_file_follows_the_umask(tmp_path, umask, mask, expected):
    umask(mask)
    path = tmp_path / "out" / "report.md"
    write_atomic(path, lambda p: p.write_text("x"))
    assert stat.S_IMODE(path.stat().st_mode) == expected
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o777 & ~mask


def test_a_replaced_file_keeps_its_mode_and_an_explicit_mode_wins(tmp_path, umask):
    path = tmp_path / "book.toml"
    path.write_text("old")
    path.chmod(0o640)
    write_atomic(path, lambda p: p.write_text("new"))
    assert path.read_text() == "new" and stat.S_IMODE(path.stat().st_mode) == 0o640
    write_atomic(path, lambda p: p.write_text("newer"), mode=0o600)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("existing", [None, 0o644, 0o444])
def test_the_temporary_file_is_never_wider_than_an_explicit_mode(tmp_path, umask, existing):
    umask(0o002)  # permissive: a 0666 temporary file would be 0664, readable by all
    path = tmp_path / "client.key"
    if existing is not None:
        path.write_text("old")
        path.chmod(existing)
    seen = []

    def write(p: Path) -> None:
        seen.append(stat.S_IMODE(p.stat().st_mode))
        p.write_text("secret")

    write_atomic(path, write, mode=0o600)
    assert seen == [0o600] and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == "secret"
    # a read-only target stays read-only, and its temporary file is still writable by its writer
    write_atomic(path, lambda p: p.write_text("public"), mode=0o444)
    assert stat.S_IMODE(path.stat().st_mode) == 0o444 and path.read_text() == "public"


def test_the_folder_is_fsynced_after_the_rename(tmp_path, monkeypatch):
    synced: list[tuple[bool, bool]] = []  # (a folder?, the target in place yet?)
    real = os.fsync
    path = tmp_path / "a.parquet"

    def fsync(fd):
        synced.append((stat.S_ISDIR(os.fstat(fd).st_mode), path.exists()))
        real(fd)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    write_atomic(path, lambda p: p.write_bytes(b"1"))
    assert synced == [(False, False), (True, True)]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("old")

    def boom(p: Path) -> None:
        p.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_atomic(path, boom)
    assert path.read_text() == "old" and sorted(tmp_path.iterdir()) == [path]


def test_the_next_write_removes_only_dead_writers_temporaries(tmp_path):
    path = tmp_path / "a[1].csv"  # glob characters in the name are taken literally
    dead = tmp_path / f".a[1].csv.{DEAD_PID}.0123abcd.tmp"
    live = tmp_path / f".a[1].csv.{os.getpid()}.0123abcd.tmp"  # a writer still running
    other = tmp_path / f".a[1].csv.gz.{DEAD_PID}.0123abcd.tmp"  # another target's
    for p in (dead, live, other):
        p.write_text("partial")
    write_atomic(path, lambda p: p.write_text("x"))
    assert not dead.exists() and live.exists() and other.exists()
    assert path.read_text() == "x"

"""Atomic file writes: write a temporary file beside the target, fsync it, rename it over the
target, then fsync the folder so the rename itself survives a power cut.

Modes follow the user's umask like any Unix tool: a new file gets ``0666 & ~umask`` (the
temporary file is created with that mode, so the kernel applies the umask), a replaced file
keeps its own mode; with an explicit ``mode`` (0600 for a private key) the temporary file is
created no wider than it, so the content is never readable by more users than the result.
A writer killed mid-write leaves its temporary file behind; the next write of the same target
removes those whose process is gone.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path

_SUFFIX = ".tmp"
_TMP = re.compile(r"(\d+)\.[0-9a-f]{8}")  # what follows ".{target}." in a temporary file's name


def write_atomic(path: Path, write: Callable[[Path], object], mode: int | None = None) -> None:
    """Call ``write(tmp_path)`` and move the result onto ``path``; a crash leaves the old file.

    Parameters
    ----------
    path : Path
        The file to replace (or create); its folder is created if missing.
    write : callable
        Writes the whole file at the temporary path it is given; what it returns is ignored.
    mode : int, optional
        Permission bits of the result; default: the replaced file's own, else ``0666 & ~umask``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stray(path)
    if mode is None:
        with contextlib.suppress(FileNotFoundError):
            mode = path.stat().st_mode & 0o7777
    tmp_path = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{_SUFFIX}")
    # never wider than the result while the content is written (a 0600 key stays 0600)
    first = 0o666 if mode is None else (mode & 0o666) | 0o600
    os.close(os.open(tmp_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, first))
    try:
        write(tmp_path)
        if mode is not None:
            tmp_path.chmod(mode)
        with open(tmp_path, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # some file systems (and platforms) cannot fsync a folder: the rename stands
        pass
    finally:
        os.close(fd)


def _remove_stray(path: Path) -> None:
    """Delete temporary files of ``path`` left by writers that no longer run."""
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*{_SUFFIX}"):
        own = _TMP.fullmatch(tmp.name[len(path.name) + 2 : -len(_SUFFIX)])
        if own is None or _alive(int(own[1])):  # another target's file, or a live writer's
            continue
        with contextlib.suppress(OSError):
            tmp.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process holds that pid
        return True
    return True

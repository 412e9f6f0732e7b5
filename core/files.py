"""Reading a user's file safely: a regular file only (a device or a pipe would read forever)
and no larger than a sensible limit, refused with its size named before any of it is parsed.
"""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

MiB = 1 << 20
CONFIG_MAX_BYTES = 4 * MiB  # a desk config: ~100 bytes per holding, so tens of thousands fit
PRICE_MAX_BYTES = 1024 * MiB  # a price file as stored (and a .gz file once decompressed)


def size_text(n: int) -> str:
    """``n`` bytes as a person reads it: ``512 bytes``, ``3.2 MiB``."""
    return f"{n} bytes" if n < MiB else f"{n / MiB:.1f} MiB"


def read_regular(path: Path, limit: int, fail: Callable[[str], Exception]) -> bytes:
    """The bytes of ``path``; ``fail(message)`` is raised for a folder, a device or a pipe, a
    missing or unreadable file, or one over ``limit`` bytes (checked before reading).
    """
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise fail("is a folder, expected a file")
        if not stat.S_ISREG(info.st_mode):
            raise fail("is not a regular file (a device or a pipe), expected a file")
        if info.st_size > limit:
            raise fail(f"is {size_text(info.st_size)}, over the {size_text(limit)} limit")
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)  # the file may have grown since the stat
    except FileNotFoundError:
        raise fail("file not found") from None
    except OSError as exc:
        raise fail(f"cannot read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise fail(f"is over the {size_text(limit)} limit")
    return data

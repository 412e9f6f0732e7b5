"""What makes a report reproducible: the code that computed it, the data it read, the config."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

import numpy as np

from hedgedesk.core.data.market import MarketData

CORE = Path(__file__).resolve().parents[1]


def code_version() -> str:
    """Package version and a hash of every engine source (core/**/*.py)."""
    try:
        version = metadata.version("hedgedesk")
    except metadata.PackageNotFoundError:
        version = "unknown"
    h = hashlib.sha256()
    for path in sorted(CORE.rglob("*.py")):
        h.update(path.relative_to(CORE).as_posix().encode())
        h.update(path.read_bytes())
    return f"{version}+core.{h.hexdigest()[:10]}"


def data_fingerprint(
    market: MarketData,
    tickers: Iterable[str],
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> str:
    """Hash of each ticker's dates and closes inside [start, end]: the same fingerprint means
    the report read the same numbers.
    """
    h = hashlib.sha256()
    lo = np.datetime64(start, "D") if start else None
    hi = np.datetime64(end, "D") if end else None
    for t in sorted(set(tickers)):
        s = market.get(t)
        keep = np.ones(len(s.dates), dtype=bool)
        if lo is not None:
            keep &= s.dates >= lo
        if hi is not None:
            keep &= s.dates <= hi
        h.update(t.encode())
        h.update(np.ascontiguousarray(s.dates[keep]).astype("datetime64[D]").tobytes())
        h.update(np.ascontiguousarray(s.close[keep], dtype=np.float64).tobytes())
    return h.hexdigest()[:16]


def file_digest(path: Path) -> str:
    """The first 16 hex digits of the file's SHA-256."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]

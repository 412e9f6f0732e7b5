"""Yahoo Finance daily prices through yfinance, cached locally as Parquet.

The cache is :func:`hedgedesk.core.paths.yahoo_cache_dir` (``$HEDGEDESK_CACHE``, else the user
cache folder's ``yahoo/``), one file per ticker with columns date, close (adjusted), volume,
and the fetch time in the file's metadata. When Yahoo cannot be reached, the cache is used and
a notice says so, with its age.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from hedgedesk.core.atomic import write_atomic
from hedgedesk.core.data.market import MarketData, Series
from hedgedesk.core.errors import DataError
from hedgedesk.core.paths import yahoo_cache_dir

Downloader = Callable[..., pd.DataFrame]
_META_KEY = b"hedgedesk"


class YahooUnavailable(DataError):
    """Yahoo could not be reached or returned nothing at all (as opposed to a bad ticker)."""


def cache_dir() -> Path:
    """The cache folder (hedgedesk.core.paths.yahoo_cache_dir)."""
    return yahoo_cache_dir()


# a Yahoo symbol: AAPL, BRK-B, ^GSPC, EURUSD=X, 0700.HK; it names a cache file, so nothing else
_SYMBOL = re.compile(r"[A-Z0-9^][A-Z0-9.^=-]{0,31}")


def _cache_file(cache: Path, ticker: str) -> Path:
    """The ticker's cache file (a checked symbol: no two tickers share one, none escapes)."""
    if not _SYMBOL.fullmatch(ticker):
        raise DataError(
            ticker[:40] or "''",
            "not a Yahoo symbol: upper-case letters, digits and . - ^ = (e.g. BRK-B, ^GSPC, "
            "EURUSD=X), at most 32, starting with a letter, a digit or ^",
        )
    return cache / f"{ticker}.parquet"


@dataclass(frozen=True)
class Fetched:
    """One ticker written to the cache by :func:`fetch`: its rows, first and last dates, the
    cache file and the fetch time (UTC).
    """

    ticker: str
    rows: int
    first: dt.date
    last: dt.date
    path: Path
    fetched_at: dt.datetime


def _yf_download(tickers: list[str], start, end) -> pd.DataFrame:
    import yfinance as yf  # imported here: slow to import and only needed online

    # yfinance's own deprecation warnings and logged failures would print before our one line
    # (which says what failed): silence them for the call.
    log = logging.getLogger("yfinance")
    level = log.level
    log.setLevel(logging.CRITICAL + 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return yf.download(
                tickers,
                start=start,
                end=end,
                # without a start yfinance would return one month only: the whole history
                period=None if start else "max",
                auto_adjust=False,
                actions=False,
                progress=False,
                multi_level_index=True,
                threads=False,
                timeout=20,
            )
    finally:
        log.setLevel(level)


def _column(frame: pd.DataFrame, field: str, ticker: str) -> pd.Series | None:
    if isinstance(frame.columns, pd.MultiIndex):
        return frame[(field, ticker)] if (field, ticker) in frame.columns else None
    return frame[field] if field in frame.columns else None


def _to_series(frame: pd.DataFrame, ticker: str, source: str) -> Series:
    close = _column(frame, "Adj Close", ticker)
    field = "adjusted close"
    if close is None:
        close, field = _column(frame, "Close", ticker), "close"
    if close is None or close.dropna().empty:
        raise DataError(ticker, "Yahoo returned no prices (unknown ticker, or no network?)")
    volume = _column(frame, "Volume", ticker)
    keep = close.notna().to_numpy()
    dates = pd.DatetimeIndex(frame.index)[keep]
    if dates.tz is not None:
        dates = dates.tz_localize(None)
    values = close.to_numpy(dtype=np.float64)[keep]
    if (values <= 0).any():
        bad = dates[np.argmax(values <= 0)].date()
        raise DataError(ticker, f"Yahoo returned a non-positive price on {bad}")
    vol = volume.to_numpy(dtype=np.float64)[keep] if volume is not None else None
    return Series(ticker, dates.values.astype("datetime64[D]"), values, vol, source, field)


def _write_cache(
    path: Path, s: Series, fetched_at: dt.datetime, start: dt.date | None, end: dt.date | None
) -> None:
    import pyarrow.parquet as pq  # 10 ms to load: only for the Yahoo cache's files

    table = pa.table(
        {
            "date": pa.array(s.dates.astype("datetime64[D]"), type=pa.date32()),
            "close": s.close,
            "volume": s.volume if s.volume is not None else np.full(len(s.close), np.nan),
        }
    )
    meta = {
        "ticker": s.ticker,
        "fetched_at": fetched_at.isoformat(),
        "price_field": s.price_field,
        "start": start.isoformat() if start else None,
        "end": end.isoformat() if end else None,
    }
    table = table.replace_schema_metadata({_META_KEY: json.dumps(meta).encode()})
    write_atomic(path, lambda p: pq.write_table(table, p))


def fetch(
    tickers: Sequence[str],
    start: dt.date | None = None,
    end: dt.date | None = None,
    download: Downloader | None = None,
    cache: Path | None = None,
    now: dt.datetime | None = None,
) -> list[Fetched]:
    """Download daily prices (``end`` inclusive) and replace each ticker's cache file."""
    cache = cache or cache_dir()
    now = now or dt.datetime.now(dt.UTC)
    tickers = [t.upper() for t in tickers]  # Yahoo symbols are upper case; so are its columns
    for t in tickers:  # every symbol checked before anything is downloaded or written
        _cache_file(cache, t)
    # yfinance's end is exclusive: ask for the day after so the user's end date is included.
    yf_end = (end + dt.timedelta(days=1)).isoformat() if end else None
    try:
        frame = (download or _yf_download)(
            list(tickers), start.isoformat() if start else None, yf_end
        )
    except Exception as exc:  # yfinance raises many network error types
        raise YahooUnavailable("yahoo", f"download failed: {exc}") from None
    if frame is None or frame.empty:
        raise YahooUnavailable(
            "yahoo",
            "download returned nothing (offline, or unknown tickers: " + ", ".join(tickers) + ")",
        )
    series = [_to_series(frame, t, "yahoo") for t in tickers]  # all valid before any write
    out = []
    for s in series:
        path = _cache_file(cache, s.ticker)
        _write_cache(path, s, now, start, end)
        out.append(
            Fetched(
                s.ticker,
                len(s.dates),
                s.dates[0].astype(dt.date),
                s.dates[-1].astype(dt.date),
                path,
                now,
            )
        )
    return out


@dataclass(frozen=True)
class CacheEntry:
    """A cached series with the time it was fetched (UTC) and the range that was requested."""

    series: Series
    fetched_at: dt.datetime
    start: dt.date | None  # the range that was requested when it was fetched
    end: dt.date | None

    def covers(self, start: dt.date | None, end: dt.date | None) -> bool:
        """Whether a request for [start, end] is answered by this fetch's request."""
        starts_ok = self.start is None or (start is not None and start >= self.start)
        ends_ok = self.end is None or (end is not None and end <= self.end)
        return starts_ok and ends_ok


def read_cached(
    ticker: str, cache: Path | None = None, now: dt.datetime | None = None
) -> CacheEntry:
    """The cached series with its fetch time and range; DataError if there is no cache."""
    path = _cache_file(cache or cache_dir(), ticker)
    if not path.exists():
        raise DataError(
            ticker, f"not in the Yahoo cache ({path}); run: hedgedesk data fetch {ticker}"
        )
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
        meta = json.loads(table.schema.metadata[_META_KEY])
        fetched_at = dt.datetime.fromisoformat(meta["fetched_at"])
        start, end = (
            dt.date.fromisoformat(meta[k]) if meta.get(k) else None for k in ("start", "end")
        )
    except Exception as exc:
        raise DataError(str(path), f"unreadable cache file ({exc}); fetch it again") from None
    frame = table.to_pandas()
    vol = frame["volume"].to_numpy(dtype=np.float64)
    age = describe_age((now or dt.datetime.now(dt.UTC)) - fetched_at)
    s = Series(
        ticker,
        pd.to_datetime(frame["date"]).values.astype("datetime64[D]"),
        frame["close"].to_numpy(dtype=np.float64),
        None if np.isnan(vol).all() else vol,
        f"yahoo cache, fetched {fetched_at:%Y-%m-%d %H:%M} UTC ({age} old)",
        meta.get("price_field", "adjusted close"),
    )
    return CacheEntry(s, fetched_at, start, end)


def describe_age(age: dt.timedelta) -> str:
    """Whole units, rounded down: 59 min, 47 h, 2 days."""
    hours = age.total_seconds() / 3600
    if hours < 1:
        return f"{max(int(hours * 60), 0)} min"
    if hours < 48:
        return f"{int(hours)} h"
    return f"{int(hours // 24)} days"


def load_yahoo(
    tickers: Sequence[str],
    start: dt.date | None = None,
    end: dt.date | None = None,
    download: Downloader | None = None,
    cache: Path | None = None,
    now: dt.datetime | None = None,
    max_age: dt.timedelta = dt.timedelta(hours=12),
) -> MarketData:
    """A cache entry younger than ``max_age`` that covers [start, end] is used as is; others
    are fetched. If Yahoo is unreachable the cache is used with a notice giving its age; an
    unknown ticker is an error, never hidden behind the cache.
    """
    now = now or dt.datetime.now(dt.UTC)
    tickers = [t.upper() for t in tickers]
    stale = []
    for t in tickers:
        try:
            entry = read_cached(t, cache, now)
        except DataError:
            stale.append(t)
            continue
        if now - entry.fetched_at > max_age or not entry.covers(start, end):
            stale.append(t)
    notices = []
    if stale:
        try:
            fetch(stale, start, end, download, cache, now)
        except YahooUnavailable as exc:
            notices.append(f"Yahoo unreachable ({exc.problem}); using the local cache")
    series = []
    for t in tickers:
        entry = read_cached(t, cache, now)
        if t in stale and notices:
            notices.append(
                f"{t}: cached data from {entry.fetched_at:%Y-%m-%d %H:%M} UTC "
                f"({describe_age(now - entry.fetched_at)} old)"
            )
        series.append(entry.series)
    return MarketData.from_series(series, notices)

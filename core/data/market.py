"""Aligned adjusted closes and volumes of many series, with each series' calendar and provenance.

A ``MarketData`` keeps every series as loaded (its own dates); wide frames are built on the
union of dates with NaN where a series has no row, and computations align the tickers they
need by inner join (CONVENTIONS: never forward-filled silently).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hedgedesk.core.data.calendar import (
    CALENDAR_START,
    EXCHANGE,
    infer_calendar,
    periods_per_year,
    trading_days,
)
from hedgedesk.core.errors import DataError


@dataclass(frozen=True)
class Series:
    """One ticker's daily closes.

    ``dates`` is sorted, unique datetime64[D]; ``close`` float64 (> 0); ``volume``, ``high`` and
    ``low`` float64 (NaN where a row lacks one) or None when the source has none.
    ``price_field`` says which price this is (e.g. "adjusted close"), ``source`` where it came
    from.
    """

    ticker: str
    dates: np.ndarray
    close: np.ndarray
    volume: np.ndarray | None
    source: str
    price_field: str
    calendar: str = ""
    high: np.ndarray | None = None
    low: np.ndarray | None = None

    def __post_init__(self):
        if not self.calendar:
            object.__setattr__(self, "calendar", infer_calendar(self.dates))


@dataclass(frozen=True)
class Gap:
    """Sessions of the series' calendar missing between two rows: ``first``..``last`` inclusive."""

    first: dt.date
    last: dt.date
    sessions: int


@dataclass(frozen=True)
class SeriesReport:
    """A series' coverage, checked against its trading calendar: first and last dates, rows,
    the missing sessions as gaps, rows off the calendar, and where the prices came from.
    """

    ticker: str
    first: dt.date
    last: dt.date
    rows: int
    calendar: str
    gaps: tuple[Gap, ...]
    off_calendar: int  # rows on days the calendar has no session (weekends, holidays)
    source: str
    price_field: str
    has_volume: bool
    gaps_checked_from: dt.date  # the calendar is known from 1990: no gaps are reported before

    @property
    def missing_sessions(self) -> int:
        """Sessions missing in all the gaps together."""
        return sum(g.sessions for g in self.gaps)


def _date(d: np.datetime64) -> dt.date:
    return d.astype("datetime64[D]").astype(dt.date)


def _runs(runs: Sequence[np.ndarray]) -> tuple[Gap, ...]:
    """One Gap per run of consecutive missing sessions (each a datetime64[D] array)."""
    return tuple(Gap(_date(run[0]), _date(run[-1]), len(run)) for run in runs)


@dataclass
class MarketData:
    """A set of series keyed by ticker. Build with :meth:`from_series`; never mutated after."""

    series: dict[str, Series] = field(default_factory=dict)
    notices: tuple[str, ...] = ()  # things the user should be told (cache used offline, ...)

    @classmethod
    def from_series(cls, items: Iterable[Series], notices: Sequence[str] = ()) -> MarketData:
        """The series keyed by ticker; DataError when two sources load the same ticker."""
        out: dict[str, Series] = {}
        for s in items:
            if s.ticker in out:
                raise DataError(
                    s.source,
                    f"ticker {s.ticker} is also loaded from {out[s.ticker].source}; "
                    "load each ticker from one source only",
                )
            out[s.ticker] = s
        return cls(out, tuple(notices))

    @property
    def tickers(self) -> list[str]:
        """The tickers, in load order."""
        return list(self.series)

    def get(self, ticker: str) -> Series:
        """The ticker's series; DataError listing the known tickers when it is unknown."""
        try:
            return self.series[ticker]
        except KeyError:
            raise DataError(
                ticker, f"unknown ticker; the data has: {self.describe_tickers()}"
            ) from None

    def session_before(self, ticker: str, day: dt.date) -> dt.date:
        """``ticker``'s last date before ``day`` (``day`` itself when there is none): where a
        curve built from returns starting on ``day`` begins.
        """
        dates = self.get(ticker).dates
        i = int(np.searchsorted(dates, np.datetime64(day, "D")))
        return dates[i - 1].astype("datetime64[D]").item() if i > 0 else day

    def describe_tickers(self, limit: int = 30) -> str:
        """The tickers, sorted and comma-separated, the first ``limit`` of them, for messages."""
        names = sorted(self.series)
        more = f" and {len(names) - limit} more" if len(names) > limit else ""
        return (", ".join(names[:limit]) or "none") + more

    # -- reports -----------------------------------------------------------------------------
    def report(self, ticker: str) -> SeriesReport:
        """The ticker's coverage against its calendar (gaps checked from 1990 on exchanges)."""
        s = self.get(ticker)
        first, last = _date(s.dates[0]), _date(s.dates[-1])
        checked_from = max(first, CALENDAR_START) if s.calendar == EXCHANGE else first
        sessions = (
            trading_days(s.calendar, checked_from, last)
            if checked_from <= last
            else (np.array([], dtype="datetime64[D]"))
        )
        dates = s.dates[s.dates >= np.datetime64(checked_from, "D")]
        missing = np.setdiff1d(sessions, dates, assume_unique=True)
        # split missing sessions into runs of consecutive sessions
        pos = np.searchsorted(sessions, missing)
        breaks = np.flatnonzero(np.diff(pos) != 1) + 1
        gaps = _runs(np.split(missing, breaks)) if len(missing) else ()
        off = int(len(dates) - np.isin(dates, sessions, assume_unique=True).sum())
        return SeriesReport(
            s.ticker,
            first,
            last,
            len(s.dates),
            s.calendar,
            gaps,
            off,
            s.source,
            s.price_field,
            s.volume is not None,
            checked_from,
        )

    def reports(self) -> list[SeriesReport]:
        """:meth:`report` of every series, in load order."""
        return [self.report(t) for t in self.series]

    # -- frames ------------------------------------------------------------------------------
    def _frame(self, tickers: Sequence[str], volume: bool) -> pd.DataFrame:
        cols = {}
        for t in tickers:
            s = self.get(t)
            values = s.volume if volume else s.close
            if values is None:
                values = np.full(len(s.dates), np.nan)
            cols[t] = pd.Series(values, index=pd.DatetimeIndex(s.dates.astype("datetime64[ns]")))
        frame = pd.DataFrame(cols)
        frame.index.name = "date"
        return frame.sort_index()

    def prices(self, tickers: Sequence[str] | None = None) -> pd.DataFrame:
        """Wide closes on the union of the tickers' dates; NaN where a series has no row.

        Parameters
        ----------
        tickers : sequence of str, optional
            Columns, in this order (default: every ticker).

        Returns
        -------
        DataFrame, shape (n_dates, n_tickers)
            Closes in each series' price unit (adjusted closes unless the series'
            ``price_field`` says otherwise), indexed by date, oldest first.
        """
        return self._frame(tickers or self.tickers, volume=False)

    def volumes(self, tickers: Sequence[str] | None = None) -> pd.DataFrame:
        """Wide volumes (shares), same shape as :meth:`prices`; NaN where unknown."""
        return self._frame(tickers or self.tickers, volume=True)

    def aligned_prices(
        self,
        tickers: Sequence[str],
        start: dt.date | None = None,
        end: dt.date | None = None,
        min_returns: int = 1,
    ) -> pd.DataFrame:
        """Closes of ``tickers`` clipped to [start, end] on the dates they all have (inner join).

        CONVENTIONS, "Returns and annualisation": never forward-filled; mixing a 7-day series
        with exchange-traded ones samples it at the exchange's sessions.

        Parameters
        ----------
        tickers : sequence of str
            The series to align.
        start, end : date, optional
            Inclusive clip of the dates (None: the data's first or last).
        min_returns : int
            Fewest daily returns the aligned rows must give.

        Returns
        -------
        DataFrame, shape (n_days, n_tickers)
            Closes in each series' price unit, indexed by date, oldest first, no NaN.

        Raises
        ------
        DataError
            When ``start`` is after ``end`` or fewer than ``min_returns`` + 1 rows remain.
        """
        if start and end and start > end:
            raise DataError("--start/--end", f"start {start} is after end {end}")
        frame = self.prices(tickers)
        if start:
            frame = frame[frame.index >= pd.Timestamp(start)]
        if end:
            frame = frame[frame.index <= pd.Timestamp(end)]
        frame = frame.dropna(how="any")
        if len(frame) < min_returns + 1:
            span = f"{start or 'first'}..{end or 'last'}"
            raise DataError(
                ",".join(tickers),
                f"too little history: {max(len(frame) - 1, 0)} common daily returns in {span}, "
                f"need at least {min_returns}",
            )
        return frame

    def returns(
        self,
        tickers: Sequence[str],
        start: dt.date | None = None,
        end: dt.date | None = None,
        min_returns: int = 1,
    ) -> pd.DataFrame:
        """Daily simple returns ``P[t] / P[t-1] - 1`` of :meth:`aligned_prices` (CONVENTIONS,
        "Returns and annualisation": the first return is the second common date in range).

        Parameters
        ----------
        tickers : sequence of str
            The series to align.
        start, end : date, optional
            Inclusive clip of the prices, applied before returns are taken.
        min_returns : int
            Fewest returns required (DataError otherwise).

        Returns
        -------
        DataFrame, shape (n_days, n_tickers)
            Daily simple returns as fractions (0.01 = 1 %), indexed by the date each ends on.
        """
        prices = self.aligned_prices(tickers, start, end, min_returns)
        return (prices / prices.shift(1) - 1.0).iloc[1:]

    def periods_per_year(self, tickers: Sequence[str]) -> int:
        """Periods per year N for these tickers together: 365 when all trade every calendar
        day (crypto alone), else 252 (CONVENTIONS, "Returns and annualisation").
        """
        return periods_per_year({self.get(t).calendar for t in tickers})

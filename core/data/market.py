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
    DAILY,
    EXCHANGE,
    FREQUENCIES,
    IRREGULAR,
    MONTHLY,
    WEEKLY,
    infer_calendar,
    infer_frequency,
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
    from. ``frequency`` is daily, weekly or monthly, detected from the dates when not given
    (:func:`infer_frequency`); ``date_format`` is how a file wrote its dates ("" when not
    read from text); ``notes`` says what the reader did to the file (sorted its rows, chose
    a date format); ``maturity`` is set (years) when the closes are a bond total-return index
    built from a yield series (:mod:`hedgedesk.core.data.yields`).
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
    frequency: str = ""
    date_format: str = ""
    notes: tuple[str, ...] = ()
    maturity: float | None = None

    def __post_init__(self):
        if not self.calendar:
            object.__setattr__(self, "calendar", infer_calendar(self.dates))
        if not self.frequency:
            object.__setattr__(self, "frequency", infer_frequency(self.dates))


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
    frequency: str = DAILY
    date_format: str = ""  # as the file wrote them; "" when not read from text
    notes: tuple[str, ...] = ()  # what the reader did (sorted rows, chose a date format)
    maturity: float | None = None  # years, when the series is a yield turned into a bond index

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
        """The ticker's coverage against its calendar (gaps checked from 1990 on exchanges;
        a weekly or monthly series has no daily sessions to miss: none are reported).
        """
        s = self.get(ticker)
        first, last = _date(s.dates[0]), _date(s.dates[-1])
        checked_from = max(first, CALENDAR_START) if s.calendar == EXCHANGE else first
        gaps: tuple[Gap, ...] = ()
        off = 0
        if s.frequency == DAILY:
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
        else:
            checked_from = first
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
            s.frequency,
            s.date_format,
            s.notes,
            s.maturity,
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
        self.frequency(tickers)
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

    def frequency(self, tickers: Sequence[str]) -> str:
        """The one frequency of these tickers (daily, weekly or monthly).

        Raises
        ------
        DataError
            When a series is irregular, or daily series are mixed with weekly or monthly ones
            (CONVENTIONS: mixing needs an explicit resampling choice, :meth:`resampled`).
        """
        by_freq: dict[str, list[str]] = {}
        for t in tickers:
            by_freq.setdefault(self.get(t).frequency, []).append(t)
        if IRREGULAR in by_freq:
            names = ", ".join(by_freq[IRREGULAR])
            raise DataError(
                names, "dates more than 45 days apart (median): expected daily, weekly or monthly"
            )
        if len(by_freq) > 1:
            order = [f for f in FREQUENCIES if f in by_freq]
            parts = " with ".join(f"{f} ({', '.join(by_freq[f])})" for f in order)
            coarsest = order[-1]
            raise DataError(
                ",".join(tickers),
                f"mixes {parts} series: resample them to one frequency with --resample "
                f'{coarsest} (or [data] resample = "{coarsest}"), the last observation of each '
                "period",
            )
        return next(iter(by_freq), DAILY)

    def periods_per_year(self, tickers: Sequence[str]) -> int:
        """Periods per year N for these tickers together (CONVENTIONS, "Returns and
        annualisation"): 52 weekly, 12 monthly; daily, 365 when all trade every calendar day
        (crypto alone), else 252. DataError when they mix frequencies (:meth:`frequency`).
        """
        return periods_per_year({self.get(t).calendar for t in tickers}, self.frequency(tickers))

    def series_periods(self, ticker: str) -> int | None:
        """One series' periods per year; None for an irregular one (never annualised)."""
        if self.get(ticker).frequency == IRREGULAR:
            return None
        return self.periods_per_year([ticker])

    def resampled(self, frequency: str) -> MarketData:
        """Every series at ``frequency`` (weekly or monthly): the last observation of each
        period, dated the period's last day (Sunday of a Monday-Sunday week; the month's last
        day), so series from different files align. Volumes and high/low ranges are dropped.
        A series already coarser keeps one row per period and its own frequency.
        """
        if frequency not in (WEEKLY, MONTHLY):
            raise DataError("resample", f"{frequency!r}: expected weekly or monthly")
        return MarketData(
            {t: _resample(s, frequency) for t, s in self.series.items()}, self.notices
        )


def _resample(s: Series, frequency: str) -> Series:
    days = s.dates.astype("datetime64[D]")
    if frequency == MONTHLY:
        months = days.astype("datetime64[M]")
        key = months.astype(np.int64)
        ends = (months + 1).astype("datetime64[D]") - np.timedelta64(1, "D")
    else:  # weeks Monday..Sunday; day 0 (1970-01-01) is a Thursday
        key = (days.astype(np.int64) + 3) // 7
        ends = (key * 7 + 3).astype("datetime64[D]")
    last = np.flatnonzero(np.r_[key[1:] != key[:-1], True])
    return Series(
        ticker=s.ticker,
        dates=ends[last],
        close=s.close[last],
        volume=None,
        source=s.source,
        price_field=s.price_field,
        calendar=s.calendar,
        date_format=s.date_format,
        notes=(
            *s.notes,
            f"resampled {frequency}: last observation of each period, dated its last day",
        ),
        maturity=s.maturity,
    )

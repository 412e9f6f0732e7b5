"""Trading calendars used to tell a real gap in a price series from a market holiday.

``exchange`` is the NYSE calendar (weekdays less NYSE full-day closures, 1990 onwards);
``7day`` is every calendar day (crypto). Early closes are trading days and do not matter here.
A series' frequency (daily, weekly, monthly) comes from the median spacing of its dates and
gives its periods per year (CONVENTIONS, "Returns and annualisation").
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import numpy as np

EXCHANGE = "exchange"
SEVEN_DAY = "7day"
CALENDAR_START = dt.date(1990, 1, 1)  # the holiday rules below hold from here on

DAILY, WEEKLY, MONTHLY = "daily", "weekly", "monthly"
IRREGULAR = "irregular"  # a median spacing over 45 days: none of the three
FREQUENCIES = (DAILY, WEEKLY, MONTHLY)
PERIODS = {WEEKLY: 52, MONTHLY: 12}  # daily: 252, or 365 on a 7-day calendar


# Unscheduled NYSE full-day closures since 1990 (national mourning, 9/11, Hurricane Sandy).
_SPECIAL_CLOSURES = {
    dt.date(1994, 4, 27),
    dt.date(2001, 9, 11),
    dt.date(2001, 9, 12),
    dt.date(2001, 9, 13),
    dt.date(2001, 9, 14),
    dt.date(2004, 6, 11),
    dt.date(2007, 1, 2),
    dt.date(2012, 10, 29),
    dt.date(2012, 10, 30),
    dt.date(2018, 12, 5),
    dt.date(2025, 1, 9),
}


def _easter(year: int) -> dt.date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """The n-th (1-based) given weekday (Mon=0) of a month; n=-1 for the last one."""
    if n > 0:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    nxt = dt.date(year + month // 12, month % 12 + 1, 1)
    last = nxt - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: dt.date) -> dt.date:
    """Saturday holidays move to Friday, Sunday ones to Monday."""
    if day.weekday() == 5:
        return day - dt.timedelta(days=1)
    if day.weekday() == 6:
        return day + dt.timedelta(days=1)
    return day


def nyse_holidays(year: int) -> set[dt.date]:
    """NYSE full-day holidays of a year (rules in force since 1990)."""
    days = {
        _nth_weekday(year, 2, 0, 3),  # Washington's Birthday
        _easter(year) - dt.timedelta(days=2),  # Good Friday
        _nth_weekday(year, 5, 0, -1),  # Memorial Day
        _observed(dt.date(year, 7, 4)),
        _nth_weekday(year, 9, 0, 1),  # Labor Day
        _nth_weekday(year, 11, 3, 4),  # Thanksgiving
        _observed(dt.date(year, 12, 25)),
    }
    new_year = dt.date(year, 1, 1)
    if new_year.weekday() != 5:  # NYSE does not close the Friday before a Saturday New Year
        days.add(_observed(new_year))
    if year >= 1998:
        days.add(_nth_weekday(year, 1, 0, 3))  # Martin Luther King Jr. Day
    if year >= 2022:
        days.add(_observed(dt.date(year, 6, 19)))  # Juneteenth
    return days | {d for d in _SPECIAL_CLOSURES if d.year == year}


@lru_cache(maxsize=64)
def _exchange_days(first: dt.date, last: dt.date) -> np.ndarray:
    days = np.arange(np.datetime64(first, "D"), np.datetime64(last, "D") + 1)
    weekdays = np.is_busday(days)
    closed = {h for y in range(first.year, last.year + 1) for h in nyse_holidays(y)}
    closed_arr = np.array(sorted(closed), dtype="datetime64[D]")
    return days[weekdays & ~np.isin(days, closed_arr)]


def trading_days(calendar: str, first: dt.date, last: dt.date) -> np.ndarray:
    """All sessions of ``calendar`` from ``first`` to ``last`` inclusive, as datetime64[D]."""
    if calendar == SEVEN_DAY:
        return np.arange(np.datetime64(first, "D"), np.datetime64(last, "D") + 1)
    if calendar == EXCHANGE:
        if first < CALENDAR_START:
            raise ValueError(f"the exchange calendar starts {CALENDAR_START}, asked for {first}")
        return _exchange_days(first, last)
    raise ValueError(f"unknown calendar {calendar!r}")


def infer_calendar(dates: np.ndarray) -> str:
    """``7day`` when weekend sessions are common (over 10 % of rows), else ``exchange``."""
    weekend = ~np.is_busday(dates.astype("datetime64[D]"), weekmask="1111100")
    return SEVEN_DAY if weekend.mean() > 0.10 else EXCHANGE


def infer_frequency(dates: np.ndarray) -> str:
    """The frequency the dates' median spacing shows.

    Parameters
    ----------
    dates : ndarray of datetime64[D], shape (n_rows,)
        Sorted dates of one series.

    Returns
    -------
    str
        ``daily`` (median spacing up to 4 calendar days, or fewer than two dates),
        ``weekly`` (5 to 10 days), ``monthly`` (11 to 45 days), else ``irregular``.
    """
    if len(dates) < 2:
        return DAILY
    spacing = float(np.median(np.diff(dates.astype("datetime64[D]")).astype(np.int64)))
    if spacing <= 4:
        return DAILY
    if spacing <= 10:
        return WEEKLY
    return MONTHLY if spacing <= 45 else IRREGULAR


def period_words(periods: int) -> tuple[str, str]:
    """The period of N periods a year in words: (``"daily"``, ``"day"``) for 252 or 365,
    (``"weekly"``, ``"week"``) for 52, (``"monthly"``, ``"month"``) for 12.
    """
    return {52: ("weekly", "week"), 12: ("monthly", "month")}.get(periods, ("daily", "day"))


def periods_per_year(calendars: set[str], frequency: str = DAILY) -> int:
    """Periods per year N (CONVENTIONS): 52 weekly, 12 monthly; daily, 365 for a set of series
    that all trade every day, else 252.
    """
    if frequency in PERIODS:
        return PERIODS[frequency]
    return 365 if calendars == {SEVEN_DAY} else 252

"""NYSE calendar: holidays checked against the exchange's published schedules (typed in by hand),
against an independent Easter algorithm (dateutil), and against the sessions of real series.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from dateutil.easter import easter

from hedgedesk.core.data.calendar import (
    EXCHANGE,
    SEVEN_DAY,
    infer_calendar,
    nyse_holidays,
    periods_per_year,
    trading_days,
)
from hedgedesk.core.demo import demo_dir

D = dt.date

# NYSE full-day closures as published by the exchange (nyse.com holiday pages), one year at a time.
PUBLISHED = {
    1997: {
        D(1997, 1, 1),
        D(1997, 2, 17),
        D(1997, 3, 28),
        D(1997, 5, 26),
        D(1997, 7, 4),
        D(1997, 9, 1),
        D(1997, 11, 27),
        D(1997, 12, 25),
    },  # no MLK day before 1998
    1998: {
        D(1998, 1, 1),
        D(1998, 1, 19),
        D(1998, 2, 16),
        D(1998, 4, 10),
        D(1998, 5, 25),
        D(1998, 7, 3),
        D(1998, 9, 7),
        D(1998, 11, 26),
        D(1998, 12, 25),
    },
    2001: {
        D(2001, 1, 1),
        D(2001, 1, 15),
        D(2001, 2, 19),
        D(2001, 4, 13),
        D(2001, 5, 28),
        D(2001, 7, 4),
        D(2001, 9, 3),
        D(2001, 9, 11),
        D(2001, 9, 12),
        D(2001, 9, 13),
        D(2001, 9, 14),
        D(2001, 11, 22),
        D(2001, 12, 25),
    },
    2012: {
        D(2012, 1, 2),
        D(2012, 1, 16),
        D(2012, 2, 20),
        D(2012, 4, 6),
        D(2012, 5, 28),
        D(2012, 7, 4),
        D(2012, 9, 3),
        D(2012, 10, 29),
        D(2012, 10, 30),
        D(2012, 11, 22),
        D(2012, 12, 25),
    },
    2020: {
        D(2020, 1, 1),
        D(2020, 1, 20),
        D(2020, 2, 17),
        D(2020, 4, 10),
        D(2020, 5, 25),
        D(2020, 7, 3),
        D(2020, 9, 7),
        D(2020, 11, 26),
        D(2020, 12, 25),
    },
    2021: {
        D(2021, 1, 1),
        D(2021, 1, 18),
        D(2021, 2, 15),
        D(2021, 4, 2),
        D(2021, 5, 31),
        D(2021, 7, 5),
        D(2021, 9, 6),
        D(2021, 11, 25),
        D(2021, 12, 24),
    },
    2022: {
        D(2022, 1, 17),
        D(2022, 2, 21),
        D(2022, 4, 15),
        D(2022, 5, 30),
        D(2022, 6, 20),
        D(2022, 7, 4),
        D(2022, 9, 5),
        D(2022, 11, 24),
        D(2022, 12, 26),
    },
    2023: {
        D(2023, 1, 2),
        D(2023, 1, 16),
        D(2023, 2, 20),
        D(2023, 4, 7),
        D(2023, 5, 29),
        D(2023, 6, 19),
        D(2023, 7, 4),
        D(2023, 9, 4),
        D(2023, 11, 23),
        D(2023, 12, 25),
    },
    2025: {
        D(2025, 1, 1),
        D(2025, 1, 9),
        D(2025, 1, 20),
        D(2025, 2, 17),
        D(2025, 4, 18),
        D(2025, 5, 26),
        D(2025, 6, 19),
        D(2025, 7, 4),
        D(2025, 9, 1),
        D(2025, 11, 27),
        D(2025, 12, 25),
    },
    2027: {
        D(2027, 1, 1),
        D(2027, 1, 18),
        D(2027, 2, 15),
        D(2027, 3, 26),
        D(2027, 5, 31),
        D(2027, 6, 18),
        D(2027, 7, 5),
        D(2027, 9, 6),
        D(2027, 11, 25),
        D(2027, 12, 24),
    },
}


@pytest.mark.parametrize("year", sorted(PUBLISHED))
def test_nyse_holidays_equal_published_schedule(year):
    assert nyse_holidays(year) == PUBLISHED[year]


def test_specific_rules():
    h2020 = nyse_holidays(2020)
    assert D(2020, 4, 10) in h2020  # Good Friday
    assert D(2020, 6, 19) not in h2020  # Juneteenth only from 2022
    assert not any(d.month == 6 for d in nyse_holidays(2021))
    assert D(2022, 6, 20) in nyse_holidays(2022)  # Sunday 19 June observed Monday
    assert D(2022, 6, 19) not in nyse_holidays(2022)
    # New Year 2022 fell on a Saturday: NYSE stayed open on Friday 2021-12-31
    assert D(2021, 12, 31) not in nyse_holidays(2021)
    assert not any(d.month == 1 and d.day <= 3 for d in nyse_holidays(2022))
    assert D(2025, 1, 9) in nyse_holidays(2025)  # national day of mourning (President Carter)
    assert not any(d.month == 1 and d.day == 20 for d in nyse_holidays(1997))  # MLK from 1998


@pytest.mark.parametrize("year", range(1990, 2101))
def test_moving_holidays_fall_where_the_rules_put_them(year):
    hols = nyse_holidays(year)
    # Good Friday: two days before Easter Sunday (dateutil's independent Easter algorithm)
    assert easter(year) - dt.timedelta(days=2) in hols
    # Monday holidays lie in a fixed 7-day window; Thanksgiving is the 4th Thursday (22..28)
    windows = [
        (2, range(15, 22), 0),
        (5, range(25, 32), 0),
        (9, range(1, 8), 0),
        (11, range(22, 29), 3),
    ]
    if year >= 1998:
        windows.append((1, range(15, 22), 0))
    for month, days, weekday in windows:
        found = [d for d in hols if d.month == month and d.day in days and d.weekday() == weekday]
        assert len(found) == 1, (year, month)
    assert all(d.weekday() < 5 for d in hols)
    assert all(d.year == year for d in hols)


@pytest.mark.parametrize(
    ("first", "last", "closed"),
    [
        (
            D(2001, 9, 10),
            D(2001, 9, 17),
            [D(2001, 9, 11), D(2001, 9, 12), D(2001, 9, 13), D(2001, 9, 14)],
        ),
        (D(2012, 10, 26), D(2012, 10, 31), [D(2012, 10, 29), D(2012, 10, 30)]),
        (D(2025, 1, 6), D(2025, 1, 10), [D(2025, 1, 9)]),
    ],
)
def test_special_closures_are_not_sessions(first, last, closed):
    days = set(trading_days(EXCHANGE, first, last).astype(dt.date))
    weekdays = {first + dt.timedelta(days=i) for i in range((last - first).days + 1)}
    weekdays = {d for d in weekdays if d.weekday() < 5}
    assert days == weekdays - set(closed)


def test_trading_days_around_saturday_new_year():
    days = trading_days(EXCHANGE, D(2021, 12, 29), D(2022, 1, 4)).astype(dt.date).tolist()
    assert days == [D(2021, 12, 29), D(2021, 12, 30), D(2021, 12, 31), D(2022, 1, 3), D(2022, 1, 4)]


def test_trading_days_seven_day_and_unknown():
    days = trading_days(SEVEN_DAY, D(2020, 2, 27), D(2020, 3, 2))
    assert days.dtype == np.dtype("datetime64[D]")
    assert days.astype(dt.date).tolist() == [
        D(2020, 2, 27),
        D(2020, 2, 28),
        D(2020, 2, 29),
        D(2020, 3, 1),
        D(2020, 3, 2),
    ]
    with pytest.raises(ValueError, match="unknown calendar"):
        trading_days("lse", D(2020, 1, 1), D(2020, 1, 2))


def test_session_counts_per_year():
    # NYSE sessions per year (known figures): 2019: 252, 2020: 253, 2021: 252, 2022: 251
    for year, n in [(2019, 252), (2020, 253), (2021, 252), (2022, 251)]:
        assert len(trading_days(EXCHANGE, D(year, 1, 1), D(year, 12, 31))) == n


def _assert_calendar_matches(dates: pd.DatetimeIndex):
    real = dates.values.astype("datetime64[D]")
    first, last = real[0].astype(dt.date), real[-1].astype(dt.date)
    expected = trading_days(EXCHANGE, first, last)
    missing = np.setdiff1d(expected, real)
    extra = np.setdiff1d(real, expected)
    assert len(missing) == 0, f"calendar sessions absent from the real data: {missing[:10]}"
    assert len(extra) == 0, f"real sessions the calendar lacks: {extra[:10]}"
    assert len(expected) == len(real)


def test_exchange_calendar_equals_real_spy_sessions(shared_data):
    path = shared_data / "etf" / "SPY.csv"
    if not path.exists():
        pytest.skip("SPY.csv not present")
    # the yfinance file has 4 header lines; the first column is "YYYY-MM-DD 00:00:00"
    frame = pd.read_csv(path, header=None, skiprows=4, usecols=[0])
    dates = pd.DatetimeIndex(pd.to_datetime(frame[0]))
    assert dates[0] == pd.Timestamp("1993-01-29")
    _assert_calendar_matches(dates)


def test_exchange_calendar_equals_demo_index_sessions():
    frame = pd.read_csv(demo_dir() / "sp500_index.csv.gz")
    dates = pd.DatetimeIndex(pd.to_datetime(frame["Date"]))
    assert dates[0] == pd.Timestamp("1990-01-02")
    assert dates[-1] == pd.Timestamp("2022-12-28")
    _assert_calendar_matches(dates)


def test_infer_calendar_crypto_vs_equity():
    every_day = np.arange(np.datetime64("2021-01-01"), np.datetime64("2021-12-31") + 1)
    assert infer_calendar(every_day) == SEVEN_DAY
    weekdays = every_day[np.is_busday(every_day)]
    assert infer_calendar(weekdays) == EXCHANGE
    # datetime64[ns] input (as from pandas) works the same
    assert infer_calendar(every_day.astype("datetime64[ns]")) == SEVEN_DAY


def test_infer_calendar_threshold_is_over_ten_percent():
    weekdays = np.arange(np.datetime64("2021-01-04"), np.datetime64("2021-12-31") + 1)
    weekdays = weekdays[np.is_busday(weekdays)][:90]
    saturdays = np.arange(np.datetime64("2021-01-02"), np.datetime64("2021-12-31"), 7)
    assert (saturdays.astype(dt.date)[0]).weekday() == 5
    exactly_ten = np.sort(np.concatenate([weekdays, saturdays[:10]]))  # 10 of 100 rows
    assert infer_calendar(exactly_ten) == EXCHANGE
    eleven = np.sort(np.concatenate([weekdays[:89], saturdays[:11]]))  # 11 of 100 rows
    assert infer_calendar(eleven) == SEVEN_DAY


def test_periods_per_year():
    assert periods_per_year({SEVEN_DAY}) == 365
    assert periods_per_year({EXCHANGE}) == 252
    assert periods_per_year({EXCHANGE, SEVEN_DAY}) == 252

"""Frequency (issue 17): daily, weekly or monthly detected from the dates' median spacing,
annualised by 252/365, 52 or 12 (CONVENTIONS), mixing refused unless resampled to the last
observation of each week or month. Witnesses: numpy and pandas computations.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from hedgedesk.core.data.calendar import (
    DAILY,
    IRREGULAR,
    MONTHLY,
    WEEKLY,
    infer_frequency,
    periods_per_year,
)
from hedgedesk.core.data.market import MarketData, Series
from hedgedesk.core.data.price_files import load_paths
from hedgedesk.core.errors import DataError
from hedgedesk.core.metrics import performance


def _series(ticker: str, dates, close=None) -> Series:
    days = pd.DatetimeIndex(dates).to_numpy().astype("datetime64[D]")
    values = np.linspace(100.0, 120.0, len(days)) if close is None else np.asarray(close, float)
    return Series(ticker, days, values, None, "test", "close")


def _days(start: str, n: int, freq: str):
    return pd.date_range(start, periods=n, freq=freq)


@pytest.mark.parametrize(
    "freq, n, want",
    [
        ("B", 300, DAILY),
        ("D", 300, DAILY),
        ("W-FRI", 120, WEEKLY),
        ("MS", 60, MONTHLY),
        ("ME", 60, MONTHLY),
        ("QE", 20, IRREGULAR),
    ],
)
def test_frequency_from_median_spacing(freq, n, want):
    days = _days("2010-01-01", n, freq).to_numpy().astype("datetime64[D]")
    assert infer_frequency(days) == want
    assert _series("X", _days("2010-01-01", n, freq)).frequency == want


def test_one_gap_does_not_change_the_frequency():
    days = list(_days("2020-01-01", 50, "B"))
    del days[10:30]  # a long hole: the median spacing is still one session
    assert _series("X", days).frequency == DAILY


def test_single_row_is_daily():
    assert infer_frequency(np.array(["2020-01-02"], dtype="datetime64[D]")) == DAILY


def test_periods_per_year_follows_conventions():
    assert periods_per_year({"exchange"}, DAILY) == 252
    assert periods_per_year({"7day"}, DAILY) == 365
    assert periods_per_year({"exchange"}, WEEKLY) == 52
    assert periods_per_year({"7day"}, MONTHLY) == 12
    market = MarketData.from_series(
        [
            _series("W", _days("2015-01-02", 100, "W-FRI")),
            _series("M", _days("2015-01-01", 100, "MS")),
            _series("M2", _days("2015-01-15", 100, "MS") + pd.Timedelta(days=14)),
        ]
    )
    assert market.periods_per_year(["W"]) == 52
    assert market.periods_per_year(["M", "M2"]) == 12


def test_mixing_daily_with_monthly_is_refused_naming_tickers_and_the_way_out():
    market = MarketData.from_series(
        [
            _series("SPY", _days("2015-01-01", 500, "B")),
            _series("AAA", _days("2015-01-01", 30, "MS")),
        ]
    )
    for call in (market.periods_per_year, market.returns):
        with pytest.raises(DataError) as info:
            call(["SPY", "AAA"])
        message = str(info.value)
        assert "\n" not in message
        assert "mixes daily (SPY) with monthly (AAA) series" in message
        assert "--resample monthly" in message and '[data] resample = "monthly"' in message


def test_irregular_series_is_refused_in_a_computation():
    market = MarketData.from_series([_series("Q", _days("2000-01-01", 40, "QE"))])
    with pytest.raises(DataError, match="expected daily, weekly or monthly"):
        market.periods_per_year(["Q"])


def test_resampled_monthly_is_the_last_observation_of_each_month():
    days = _days("2020-01-01", 400, "B")
    close = np.arange(1.0, 401.0)
    daily = _series("SPY", days, close)
    monthly_file = _series("AAA", _days("2020-01-01", 19, "MS"), np.arange(1.0, 20.0))
    market = MarketData.from_series([daily, monthly_file]).resampled(MONTHLY)
    want = pd.Series(close, index=days).resample("ME").last()  # pandas, month-end labels
    got = market.get("SPY")
    assert got.frequency == MONTHLY and got.volume is None
    assert list(got.dates.astype("datetime64[D]")) == list(
        want.index.to_numpy().astype("datetime64[D]")
    )
    np.testing.assert_array_equal(got.close, want.to_numpy())
    assert "resampled monthly" in got.notes[-1]
    assert market.periods_per_year(["SPY", "AAA"]) == 12
    prices = market.aligned_prices(["SPY", "AAA"])
    assert len(prices) == 19  # the first-of-month file lands on the same month ends


def test_resampled_weekly_is_the_last_observation_of_each_week():
    days = _days("2021-03-01", 200, "B")
    close = np.cos(np.arange(200.0)) + 10.0
    got = MarketData.from_series([_series("X", days, close)]).resampled(WEEKLY).get("X")
    want = pd.Series(close, index=days).resample("W-SUN").last()  # weeks Monday..Sunday
    np.testing.assert_array_equal(got.close, want.to_numpy())
    assert list(got.dates.astype("datetime64[D]")) == list(
        want.index.to_numpy().astype("datetime64[D]")
    )
    assert got.frequency == WEEKLY


def test_weekly_resampling_leaves_a_monthly_series_monthly_and_refused():
    market = MarketData.from_series(
        [
            _series("SPY", _days("2015-01-01", 500, "B")),
            _series("AAA", _days("2015-01-01", 30, "MS")),
        ]
    ).resampled(WEEKLY)
    with pytest.raises(DataError, match=r"weekly \(SPY\) with monthly \(AAA\)"):
        market.periods_per_year(["SPY", "AAA"])


def test_resample_rejects_other_frequencies():
    with pytest.raises(DataError, match="expected weekly or monthly"):
        MarketData.from_series([_series("X", _days("2020-01-01", 5, "B"))]).resampled("daily")


def test_monthly_file_is_annualised_by_12_not_252(shared_data):
    """The issue's Sharpe 6.07: a monthly file annualised as daily. Witness: numpy."""
    market = load_paths([shared_data / "commodities" / "brent_wti_monthly.csv"])
    assert market.get("Brent").frequency == MONTHLY
    n = market.periods_per_year(["Brent"])
    assert n == 12
    prices = market.aligned_prices(["Brent"])["Brent"].to_numpy()
    r = prices[1:] / prices[:-1] - 1.0
    witness = r.mean() / r.std(ddof=1) * np.sqrt(12)
    perf = performance(prices / prices[0], periods=n)
    assert perf.sharpe == pytest.approx(witness, rel=1e-12)
    assert perf.annual_volatility == pytest.approx(r.std(ddof=1) * np.sqrt(12), rel=1e-12)
    as_daily = r.mean() / r.std(ddof=1) * np.sqrt(252)
    assert as_daily / perf.sharpe == pytest.approx(np.sqrt(21), rel=1e-12)  # what 252 gave


def test_shared_frequencies(shared_data):
    market = load_paths(
        [
            shared_data / "rates" / "moody_aaa_baa_monthly.csv",
            shared_data / "index" / "VIX.csv",
            shared_data / "crypto" / "BTC-USD.csv",
        ]
    )
    assert market.get("AAA").frequency == MONTHLY
    assert market.get("vix").frequency == DAILY
    assert market.periods_per_year(["BTC-USD"]) == 365
    with pytest.raises(DataError, match=r"mixes daily \(vix\) with monthly \(AAA\)"):
        market.returns(["vix", "AAA"])
    monthly = market.resampled(MONTHLY)
    r = monthly.returns(["vix", "AAA"])
    assert len(r) == 59  # 60 common month ends, 2014-01..2018-12
    vix = pd.read_csv(shared_data / "index" / "VIX.csv", na_values=["."])
    vix.index = pd.to_datetime(vix["Date"], format="%m/%d/%Y")
    want = vix["vix"].dropna().resample("ME").last()
    got = monthly.aligned_prices(["vix", "AAA"])["vix"]
    np.testing.assert_array_equal(got.to_numpy(), want.loc[got.index].to_numpy())
    assert dt.date(2014, 1, 31) in {d.date() for d in got.index}


def test_monthly_report_lists_no_daily_gaps():
    market = MarketData.from_series([_series("M", _days("2015-01-15", 40, "MS"))])
    r = market.report("M")
    assert r.frequency == MONTHLY and r.gaps == () and r.off_calendar == 0
    assert r.gaps_checked_from == r.first
    daily = MarketData.from_series([_series("D", [d for d in _days("2020-01-02", 30, "B")][::2])])
    assert daily.report("D").frequency == DAILY and daily.report("D").gaps  # every other day

"""MarketData: gap reports, off-calendar rows, inner-join alignment, clipping, returns."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from hedgedesk.core.data.market import Gap, MarketData, Series
from hedgedesk.core.demo import demo_dir, load_demo
from hedgedesk.core.errors import DataError

D = dt.date


def _series(ticker, dates, close, volume=None, calendar=""):
    return Series(
        ticker,
        np.array(dates, dtype="datetime64[D]"),
        np.asarray(close, dtype=np.float64),
        None if volume is None else np.asarray(volume, dtype=np.float64),
        "test",
        "close",
        calendar,
    )


def _demo_frame(name: str) -> pd.DataFrame:
    """A demo file read by pandas alone: the independent witness for prices."""
    frame = pd.read_csv(demo_dir() / name, index_col="Date")
    frame.index = pd.to_datetime(frame.index)
    return frame


def _without(s: Series, drop: list[dt.date], add: list[tuple[dt.date, float]] = ()) -> Series:
    keep = ~np.isin(s.dates, np.array(drop, dtype="datetime64[D]"))
    dates = list(s.dates[keep].astype(dt.date)) + [d for d, _ in add]
    close = list(s.close[keep]) + [p for _, p in add]
    order = np.argsort(np.array(dates, dtype="datetime64[D]"))
    return _series(
        s.ticker,
        np.array(dates, dtype="datetime64[D]")[order],
        np.array(close)[order],
        calendar="exchange",
    )


# -- gaps and off-calendar rows -----------------------------------------------------------------
def test_complete_demo_series_has_no_gaps():
    report = load_demo().report("SP500")
    assert report.gaps == ()
    assert report.missing_sessions == 0
    assert report.off_calendar == 0
    assert (report.first, report.last) == (D(1990, 1, 2), D(2022, 12, 28))
    assert report.rows == len(_demo_frame("sp500_index.csv.gz"))


def test_gap_runs_in_a_real_series():
    sp = load_demo().get("SP500")
    drop = [
        D(2020, 3, 16),
        D(2020, 3, 17),
        D(2020, 3, 18),  # Mon..Wed: one run of 3
        D(2020, 4, 9),
        D(2020, 4, 13),  # Thu and Mon around Good Friday + weekend: one run of 2
        D(2021, 7, 6),  # the Tuesday after the 5 July holiday: a run of 1
    ]
    md = MarketData.from_series([_without(sp, drop)])
    report = md.report("SP500")
    assert report.gaps == (
        Gap(D(2020, 3, 16), D(2020, 3, 18), 3),
        Gap(D(2020, 4, 9), D(2020, 4, 13), 2),
        Gap(D(2021, 7, 6), D(2021, 7, 6), 1),
    )
    assert report.missing_sessions == 6
    assert report.rows == len(sp.dates) - 6
    assert report.off_calendar == 0


def test_gap_across_a_weekend_and_holiday_is_one_run():
    # sessions 2020-12-24 (Thu) and 2020-12-28 (Mon): Christmas and a weekend lie between
    sp = load_demo().get("SP500")
    md = MarketData.from_series([_without(sp, [D(2020, 12, 24), D(2020, 12, 28)])])
    assert md.report("SP500").gaps == (Gap(D(2020, 12, 24), D(2020, 12, 28), 2),)


def test_off_calendar_rows():
    sp = load_demo().get("SP500")
    extra = [
        (D(2020, 3, 21), 2300.0),  # a Saturday
        (D(2020, 12, 25), 3700.0),
    ]  # Christmas Day
    md = MarketData.from_series([_without(sp, [], extra)])
    report = md.report("SP500")
    assert report.off_calendar == 2
    assert report.gaps == ()
    assert report.rows == len(sp.dates) + 2


def test_seven_day_gap_counts_weekend_days():
    days = np.arange(np.datetime64("2021-01-01"), np.datetime64("2021-01-31") + 1)
    keep = ~np.isin(
        days, np.array(["2021-01-09", "2021-01-10", "2021-01-20"], dtype="datetime64[D]")
    )
    md = MarketData.from_series([_series("BTC", days[keep], np.arange(keep.sum()) + 1.0)])
    report = md.report("BTC")
    assert report.calendar == "7day"
    assert report.gaps == (
        Gap(D(2021, 1, 9), D(2021, 1, 10), 2),
        Gap(D(2021, 1, 20), D(2021, 1, 20), 1),
    )


def test_report_fields():
    s = _series("X", ["2020-01-02", "2020-01-03"], [1.0, 2.0], volume=[5, 6])
    r = MarketData.from_series([s]).report("X")
    assert (r.ticker, r.rows, r.calendar, r.has_volume) == ("X", 2, "exchange", True)
    assert (r.source, r.price_field) == ("test", "close")


# -- frames and alignment -----------------------------------------------------------------------
DAYS = ["2020-01-02", "2020-01-03", "2020-01-06", "2020-01-07", "2020-01-08"]


def _two():
    a = _series("A", [DAYS[i] for i in (0, 1, 3, 4)], [10.0, 11.0, 13.0, 14.0], volume=[1, 2, 3, 4])
    b = _series("B", [DAYS[i] for i in (0, 1, 2, 4)], [100.0, 90.0, 95.0, 99.0])
    return MarketData.from_series([a, b])


def test_prices_and_volumes_are_on_the_union_with_nan():
    md = _two()
    wide = md.prices()
    assert list(wide.columns) == ["A", "B"]
    assert [d.date() for d in wide.index] == [D.fromisoformat(d) for d in DAYS]
    assert np.isnan(wide.loc["2020-01-06", "A"]) and np.isnan(wide.loc["2020-01-07", "B"])
    assert wide.loc["2020-01-08", "A"] == 14.0
    vol = md.volumes()
    assert vol["A"].iloc[[0, 1, 3, 4]].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert vol["B"].isna().all()


def test_aligned_prices_inner_join_never_forward_fills():
    md = _two()
    got = md.aligned_prices(["A", "B"])
    assert [d.date().isoformat() for d in got.index] == ["2020-01-02", "2020-01-03", "2020-01-08"]
    assert got["A"].tolist() == [10.0, 11.0, 14.0]
    assert got["B"].tolist() == [100.0, 90.0, 99.0]
    # the return over the shared hole spans two days for both series
    r = md.returns(["A", "B"])
    assert r.index[-1] == pd.Timestamp("2020-01-08")
    assert r["A"].tolist() == [11.0 / 10.0 - 1, 14.0 / 11.0 - 1]
    assert r["B"].tolist() == [90.0 / 100.0 - 1, 99.0 / 90.0 - 1]


def test_start_end_clipping_on_real_data():
    md = load_demo()
    aapl = _demo_frame("sp500_dataset.csv.gz")["AAPL"]
    spx = _demo_frame("sp500_index.csv.gz")["SP500"]
    start, end = D(2020, 3, 14), D(2020, 3, 20)  # start is a Saturday
    prices = md.aligned_prices(["AAPL", "SP500"], start, end)
    expect_days = ["2020-03-16", "2020-03-17", "2020-03-18", "2020-03-19", "2020-03-20"]
    assert [d.date().isoformat() for d in prices.index] == expect_days
    r = md.returns(["AAPL", "SP500"], start, end)
    # CONVENTIONS: the first return is the second price on or after start
    assert r.index[0] == pd.Timestamp("2020-03-17")
    assert r.index[-1] == pd.Timestamp("2020-03-20")  # end is inclusive
    assert len(r) == 4
    assert r["AAPL"].iloc[0] == pytest.approx(
        aapl["2020-03-17"] / aapl["2020-03-16"] - 1, rel=1e-14
    )
    assert r["SP500"].iloc[-1] == pytest.approx(
        spx["2020-03-20"] / spx["2020-03-19"] - 1, rel=1e-14
    )
    # start and end on sessions are both included
    on = md.aligned_prices(["AAPL"], D(2020, 3, 16), D(2020, 3, 18))
    assert [d.date().isoformat() for d in on.index] == expect_days[:3]
    assert on["AAPL"].tolist() == aapl["2020-03-16":"2020-03-18"].tolist()


def test_start_after_end_is_an_error():
    with pytest.raises(DataError) as info:
        load_demo().aligned_prices(["AAPL"], D(2020, 3, 20), D(2020, 3, 14))
    assert info.value.where == "--start/--end"
    assert "start 2020-03-20 is after end 2020-03-14" in str(info.value)


def test_too_little_history():
    md = load_demo()
    with pytest.raises(DataError) as info:
        md.returns(["AAPL", "SP500"], D(2020, 3, 16), D(2020, 3, 18), min_returns=5)
    assert info.value.where == "AAPL,SP500"
    assert str(info.value) == (
        "AAPL,SP500: too little history: 2 common daily returns in "
        "2020-03-16..2020-03-18, need at least 5"
    )
    with pytest.raises(DataError, match=r"0 common daily returns in 2030-01-01\.\.last"):
        md.returns(["AAPL"], D(2030, 1, 1))
    # factors start in 2014: no common history with AAPL before then
    with pytest.raises(DataError, match=r"0 common daily returns in first\.\.2010-01-01"):
        md.returns(["AAPL", "MTUM"], end=D(2010, 1, 1))
    # exactly enough is fine: 3 prices give 2 returns; asking for 3 is not
    assert len(md.returns(["AAPL"], D(2020, 3, 16), D(2020, 3, 18), min_returns=2)) == 2
    with pytest.raises(DataError, match="2 common daily returns"):
        md.returns(["AAPL"], D(2020, 3, 16), D(2020, 3, 18), min_returns=3)


def test_seven_day_series_is_sampled_at_exchange_sessions():
    rng = np.random.default_rng(7)
    days = np.arange(np.datetime64("2020-01-01"), np.datetime64("2020-03-31") + 1)
    btc = _series("BTC", days, 7000 * np.cumprod(1 + 0.03 * rng.standard_normal(len(days))))
    md = MarketData.from_series([*load_demo().series.values(), btc])
    got = md.aligned_prices(["BTC", "SP500"], D(2020, 1, 1), D(2020, 3, 31))
    weekdays = [d for d in days.astype(dt.date) if d.weekday() < 5]
    holidays = {D(2020, 1, 1), D(2020, 1, 20), D(2020, 2, 17)}
    assert [d.date() for d in got.index] == [d for d in weekdays if d not in holidays]
    by_day = dict(zip(days.astype(dt.date), btc.close, strict=True))
    assert got["BTC"].tolist() == [by_day[d.date()] for d in got.index]
    assert md.periods_per_year(["BTC"]) == 365
    assert md.periods_per_year(["BTC", "SP500"]) == 252
    assert md.periods_per_year(["SP500"]) == 252
    eth = _series("ETH", days, np.linspace(100, 200, len(days)))
    both = MarketData.from_series([*md.series.values(), eth])
    assert both.periods_per_year(["BTC", "ETH"]) == 365


def test_returns_equal_a_plain_loop():
    md = load_demo()
    tickers = ["AAPL", "MSFT", "SP500"]
    r = md.returns(tickers, D(2019, 1, 1), D(2019, 12, 31))
    stocks = _demo_frame("sp500_dataset.csv.gz")
    index = _demo_frame("sp500_index.csv.gz")
    frame = stocks[["AAPL", "MSFT"]].join(index["SP500"], how="inner")
    frame = frame[(frame.index >= "2019-01-01") & (frame.index <= "2019-12-31")]
    assert len(r) == len(frame) - 1 == 251
    for j, t in enumerate(tickers):
        p = frame[t].to_list()
        loop = [p[i] / p[i - 1] - 1 for i in range(1, len(p))]
        assert r.iloc[:, j].to_list() == pytest.approx(loop, rel=1e-14, abs=0)
    assert list(r.index) == list(frame.index[1:])


def test_unknown_ticker_and_duplicates():
    md = _two()
    with pytest.raises(DataError, match="unknown ticker; the data has: A, B") as info:
        md.get("ZZZ")
    assert info.value.where == "ZZZ"
    a2 = _series("A", ["2020-01-02"], [1.0])
    with pytest.raises(DataError, match="ticker A is also loaded from test"):
        MarketData.from_series([*md.series.values(), a2])


def test_gaps_are_only_checked_where_the_calendar_is_known():
    # 1989 has no NYSE calendar here: no false gaps, and the report says from when it checked
    days = np.array(["1989-12-27", "1989-12-29", "1990-01-02", "1990-01-04"], dtype="datetime64[D]")
    s = _series("OLD", days, [1.0, 2.0, 3.0, 4.0])
    r = MarketData.from_series([s]).report("OLD")
    assert r.gaps_checked_from == D(1990, 1, 1)
    assert r.gaps == (Gap(D(1990, 1, 3), D(1990, 1, 3), 1),)
    assert r.rows == 4


# -- the demo is loaded once per process --------------------------------------------------------
def test_demo_market_is_loaded_once_and_shared(monkeypatch):
    import hedgedesk.core.data.price_files as price_files
    from hedgedesk.core.config import load_config
    from hedgedesk.core.data.sources import load_market
    from hedgedesk.core.demo import demo_config_path

    cfg = load_config(demo_config_path())
    first = load_market(cfg)

    def no_read(path):
        raise AssertionError(f"{path} read again")

    monkeypatch.setattr(price_files, "read_csv", no_read)
    assert load_market(cfg) is first
    assert load_demo() is first

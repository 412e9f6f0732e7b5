"""Yahoo source with an injected downloader (never the network): cache, staleness, offline use."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from hedgedesk.core.data.yahoo import describe_age, fetch, load_yahoo, read_cached
from hedgedesk.core.demo import load_demo
from hedgedesk.core.errors import DataError

UTC = dt.UTC
T0 = dt.datetime(2023, 1, 3, 14, 30, tzinfo=UTC)
TICKERS = ["AAPL", "MSFT"]
FIELDS = ["Adj Close", "Close", "High", "Low", "Open", "Volume"]


def _yf_frame(tickers=TICKERS, unknown=()) -> pd.DataFrame:
    """A frame shaped like ``yfinance.download(..., auto_adjust=False, multi_level_index=True)``.

    Adj Close = the demo adjusted closes (last 40 rows); Close/High/Low/Open are derived from it
    and differ from it, so a reader taking the wrong column fails. Volumes are TEST VALUES
    (the demo data has none): 1,000,000 + 1,000 * row + 7 * ticker position.
    """
    demo = load_demo().prices(["AAPL", "MSFT"]).dropna().iloc[-40:]
    index = pd.DatetimeIndex(demo.index.values, name="Date")
    cols, data = [], []
    for field in FIELDS:
        for k, t in enumerate([*tickers, *unknown]):
            cols.append((field, t))
            if t in unknown:
                data.append(np.full(len(index), np.nan))
                continue
            adj = demo[t].to_numpy()
            data.append(
                {
                    "Adj Close": adj,
                    "Close": adj * 1.02,
                    "High": adj * 1.03,
                    "Low": adj * 0.99,
                    "Open": adj * 1.01,
                    "Volume": 1_000_000.0 + 1_000.0 * np.arange(len(index)) + 7 * k,
                }[field]
            )
    columns = pd.MultiIndex.from_tuples(cols, names=["Price", "Ticker"])
    return pd.DataFrame(np.column_stack(data), index=index, columns=columns)


class FakeDownload:
    """Records each call; returns a frame, or raises like yfinance does when offline."""

    def __init__(self, frame=None, error: Exception | None = None):
        self.frame = frame
        self.error = error
        self.calls: list[tuple] = []

    def __call__(self, tickers, start, end):
        self.calls.append((list(tickers), start, end))
        if self.error is not None:
            raise self.error
        return self.frame


def _offline():
    return FakeDownload(error=ConnectionError("Failed to resolve 'query2.finance.yahoo.com'"))


def test_fake_frame_has_yfinance_shape():
    frame = _yf_frame()
    assert frame.columns.names == ["Price", "Ticker"]
    assert list(frame.columns.get_level_values(0).unique()) == FIELDS
    assert isinstance(frame.index, pd.DatetimeIndex) and frame.index.name == "Date"
    assert frame.shape == (40, 12)
    assert frame.index[-1] == pd.Timestamp("2022-12-28")


def test_fetch_writes_parquet_cache_and_read_cached_round_trips(tmp_path):
    frame = _yf_frame()
    fake = FakeDownload(frame)
    fetched = fetch(
        TICKERS, dt.date(2022, 11, 1), dt.date(2022, 12, 28), download=fake, cache=tmp_path, now=T0
    )
    assert [f.ticker for f in fetched] == TICKERS
    assert [f.rows for f in fetched] == [40, 40]
    assert fetched[0].first == frame.index[0].date()
    assert fetched[0].last == dt.date(2022, 12, 28)
    assert fetched[0].path == tmp_path / "AAPL.parquet"
    assert fetched[0].fetched_at == T0
    for k, t in enumerate(TICKERS):
        path = tmp_path / f"{t}.parquet"
        assert path.exists()
        # independent read of the file with pyarrow
        table = pq.read_table(path)
        assert table.column_names == ["date", "close", "volume"]
        meta = json.loads(table.schema.metadata[b"hedgedesk"])
        assert meta["ticker"] == t
        assert dt.datetime.fromisoformat(meta["fetched_at"]) == T0
        assert table.column("date").to_pylist() == [d.date() for d in frame.index]
        assert table.column("close").to_pylist() == frame[("Adj Close", t)].tolist()
        # through the module's reader
        entry = read_cached(t, cache=tmp_path, now=T0 + dt.timedelta(hours=3))
        s, fetched_at = entry.series, entry.fetched_at
        assert fetched_at == T0
        assert s.ticker == t
        assert s.dates.astype(dt.date).tolist() == [d.date() for d in frame.index]
        np.testing.assert_array_equal(s.close, frame[("Adj Close", t)].to_numpy())
        expected_volume = 1_000_000.0 + 1_000.0 * np.arange(40) + 7 * k
        np.testing.assert_array_equal(s.volume, expected_volume)
        assert s.price_field == "adjusted close"
        assert s.calendar == "exchange"
        assert "2023-01-03 14:30" in s.source and "3 h old" in s.source
    # no temporary files left beside the cache
    assert sorted(p.name for p in tmp_path.iterdir()) == ["AAPL.parquet", "MSFT.parquet"]


def test_end_is_inclusive_so_download_gets_the_next_day(tmp_path):
    fake = FakeDownload(_yf_frame())
    fetch(
        ["AAPL"], dt.date(2022, 11, 1), dt.date(2022, 12, 28), download=fake, cache=tmp_path, now=T0
    )
    assert fake.calls == [(["AAPL"], "2022-11-01", "2022-12-29")]
    # across a month and a year end
    fetch(["AAPL"], None, dt.date(2022, 12, 31), download=fake, cache=tmp_path, now=T0)
    assert fake.calls[-1] == (["AAPL"], None, "2023-01-01")
    fetch(["AAPL"], download=fake, cache=tmp_path, now=T0)
    assert fake.calls[-1] == (["AAPL"], None, None)


def test_close_only_frame_is_labelled_close(tmp_path):
    frame = _yf_frame().drop(columns="Adj Close", level="Price")
    fetch(["AAPL"], download=FakeDownload(frame), cache=tmp_path, now=T0)
    s = read_cached("AAPL", cache=tmp_path, now=T0).series
    assert s.price_field == "close"
    np.testing.assert_array_equal(s.close, frame[("Close", "AAPL")].to_numpy())


def test_rows_without_a_price_are_dropped(tmp_path):
    frame = _yf_frame()
    frame.iloc[5, list(frame.columns).index(("Adj Close", "MSFT"))] = np.nan
    fetch(TICKERS, download=FakeDownload(frame), cache=tmp_path, now=T0)
    msft = read_cached("MSFT", cache=tmp_path, now=T0).series
    aapl = read_cached("AAPL", cache=tmp_path, now=T0).series
    assert len(msft.dates) == 39 and len(aapl.dates) == 40
    assert frame.index[5].date() not in msft.dates.astype(dt.date).tolist()
    assert msft.volume[5] == 1_000_000.0 + 1_000.0 * 6 + 7  # volumes stay with their dates


def test_load_yahoo_uses_a_fresh_cache_without_downloading(tmp_path):
    fetch(TICKERS, download=FakeDownload(_yf_frame()), cache=tmp_path, now=T0)
    fake = _offline()
    md = load_yahoo(TICKERS, download=fake, cache=tmp_path, now=T0 + dt.timedelta(hours=11))
    assert fake.calls == []
    assert md.notices == ()
    assert md.tickers == TICKERS
    np.testing.assert_array_equal(
        md.get("MSFT").close, _yf_frame()[("Adj Close", "MSFT")].to_numpy()
    )


def test_load_yahoo_refreshes_a_stale_cache(tmp_path):
    fetch(TICKERS, download=FakeDownload(_yf_frame()), cache=tmp_path, now=T0)
    frame = _yf_frame().iloc[:30]
    fake = FakeDownload(frame)
    later = T0 + dt.timedelta(hours=13)
    md = load_yahoo(
        ["AAPL"],
        dt.date(2022, 11, 1),
        dt.date(2022, 12, 28),
        download=fake,
        cache=tmp_path,
        now=later,
    )
    assert fake.calls == [(["AAPL"], "2022-11-01", "2022-12-29")]
    assert md.notices == ()
    assert len(md.get("AAPL").dates) == 30
    assert read_cached("AAPL", cache=tmp_path, now=later).fetched_at == later


def test_stale_cache_offline_returns_cached_data_with_age_notice(tmp_path):
    frame = _yf_frame()
    fetch(TICKERS, download=FakeDownload(frame), cache=tmp_path, now=T0)
    fake = _offline()
    now = T0 + dt.timedelta(days=3)
    md = load_yahoo(TICKERS, download=fake, cache=tmp_path, now=now)
    assert len(fake.calls) == 1  # it tried
    assert md.tickers == TICKERS
    np.testing.assert_array_equal(md.get("AAPL").close, frame[("Adj Close", "AAPL")].to_numpy())
    text = "\n".join(md.notices)
    assert "Yahoo unreachable" in text and "using the local cache" in text
    assert "Failed to resolve" in text
    for t in TICKERS:
        assert any(
            n.startswith(f"{t}: cached data from 2023-01-03 14:30 UTC (3 days old)")
            for n in md.notices
        ), md.notices


def test_no_cache_and_offline_is_a_data_error(tmp_path):
    with pytest.raises(DataError) as info:
        load_yahoo(["AAPL"], download=_offline(), cache=tmp_path, now=T0)
    assert info.value.where == "AAPL"
    assert "not in the Yahoo cache" in str(info.value)
    with pytest.raises(DataError, match="download failed: Failed to resolve"):
        fetch(["AAPL"], download=_offline(), cache=tmp_path, now=T0)
    with pytest.raises(DataError, match="download returned nothing"):
        fetch(["AAPL"], download=FakeDownload(pd.DataFrame()), cache=tmp_path, now=T0)


def test_unknown_ticker_names_the_ticker(tmp_path):
    frame = _yf_frame(unknown=("NOPE",))
    with pytest.raises(DataError) as info:
        fetch(["AAPL", "NOPE"], download=FakeDownload(frame), cache=tmp_path, now=T0)
    assert info.value.where == "NOPE"
    assert "NOPE" in str(info.value) and "no prices" in str(info.value)
    with pytest.raises(DataError) as info:
        load_yahoo(["NOPE"], download=FakeDownload(frame), cache=tmp_path, now=T0)
    assert "NOPE" in str(info.value)
    assert not (tmp_path / "NOPE.parquet").exists()


def test_non_positive_price_from_yahoo(tmp_path):
    frame = _yf_frame()
    frame.iloc[3, 0] = 0.0  # ("Adj Close", "AAPL")
    with pytest.raises(DataError, match=f"non-positive price on {frame.index[3].date()}"):
        fetch(["AAPL"], download=FakeDownload(frame), cache=tmp_path, now=T0)


def test_cache_dir_follows_environment(tmp_path, monkeypatch):
    from hedgedesk.core.data.yahoo import cache_dir

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "hedgedesk" / "yahoo"
    monkeypatch.setenv("HEDGEDESK_CACHE", str(tmp_path / "hd"))
    assert cache_dir() == tmp_path / "hd"
    # with no cache= argument, fetch writes to that folder
    fetch(["AAPL"], download=FakeDownload(_yf_frame()), now=T0)
    assert (tmp_path / "hd" / "AAPL.parquet").exists()


def test_unreadable_cache_file(tmp_path):
    (tmp_path / "AAPL.parquet").write_text("garbage")
    with pytest.raises(DataError, match="unreadable cache file"):
        read_cached("AAPL", cache=tmp_path, now=T0)


@pytest.mark.parametrize(
    ("age", "text"),
    [
        (dt.timedelta(seconds=30), "0 min"),
        (dt.timedelta(minutes=59, seconds=59), "59 min"),
        (dt.timedelta(hours=1), "1 h"),
        (dt.timedelta(hours=13), "13 h"),
        (dt.timedelta(hours=47), "47 h"),
        (dt.timedelta(hours=47, minutes=36), "47 h"),  # rounded down, never "48 h"
        (dt.timedelta(hours=48), "2 days"),
        (dt.timedelta(days=3), "3 days"),
        (dt.timedelta(days=40), "40 days"),
        (dt.timedelta(seconds=-5), "0 min"),  # a clock a little ahead never shows a negative age
    ],
)
def test_describe_age(age, text):
    assert describe_age(age) == text


def test_unknown_ticker_is_an_error_even_with_other_tickers_cached(tmp_path):
    fetch(["AAPL"], download=FakeDownload(_yf_frame(["AAPL"])), cache=tmp_path, now=T0)
    frame = _yf_frame(["AAPL"], unknown=("NOPE",))
    with pytest.raises(DataError, match="NOPE") as info:
        load_yahoo(
            ["AAPL", "NOPE"],
            download=FakeDownload(frame),
            cache=tmp_path,
            now=T0 + dt.timedelta(days=3),
        )
    assert "Yahoo returned no prices" in str(info.value)


def test_fetch_writes_no_cache_when_any_ticker_fails(tmp_path):
    frame = _yf_frame(["AAPL"], unknown=("NOPE",))
    with pytest.raises(DataError, match="NOPE"):
        fetch(["AAPL", "NOPE"], download=FakeDownload(frame), cache=tmp_path, now=T0)
    assert list(tmp_path.iterdir()) == []


def test_fresh_cache_that_does_not_cover_the_range_is_refetched(tmp_path):
    start = dt.date(2022, 11, 1)
    fetch(TICKERS, start=start, download=FakeDownload(_yf_frame()), cache=tmp_path, now=T0)
    later = T0 + dt.timedelta(hours=1)  # fresh by age
    same = FakeDownload(_yf_frame())
    load_yahoo(TICKERS, start=start, download=same, cache=tmp_path, now=later)
    load_yahoo(TICKERS, start=dt.date(2022, 12, 1), download=same, cache=tmp_path, now=later)
    assert same.calls == []  # covered: a later start is inside the fetched range
    earlier = FakeDownload(_yf_frame())
    load_yahoo(TICKERS, start=dt.date(2020, 1, 1), download=earlier, cache=tmp_path, now=later)
    assert len(earlier.calls) == 1  # asks for more history than was fetched
    entry = read_cached("AAPL", cache=tmp_path, now=later)
    assert entry.start == dt.date(2020, 1, 1) and entry.end is None


def test_lower_case_tickers_are_asked_for_in_upper_case(tmp_path):
    fake = FakeDownload(_yf_frame())
    got = fetch(["aapl", "msft"], download=fake, cache=tmp_path, now=T0)
    assert fake.calls[0][0] == ["AAPL", "MSFT"]
    assert [f.ticker for f in got] == ["AAPL", "MSFT"]


def test_yfinance_is_asked_for_the_whole_history_without_a_start(monkeypatch):
    import yfinance

    from hedgedesk.core.data import yahoo

    seen = {}

    def fake_download(tickers, **kwargs):
        seen.update(kwargs)
        return pd.DataFrame()

    monkeypatch.setattr(yfinance, "download", fake_download)
    yahoo._yf_download(["SPY"], None, None)
    assert seen["period"] == "max" and seen["auto_adjust"] is False
    yahoo._yf_download(["SPY"], "2020-01-01", "2020-02-01")
    assert seen["period"] is None and seen["start"] == "2020-01-01"


@pytest.mark.parametrize("bad", [".", "..", "A/B", "A_B", "../../etc/x", "", "X" * 300, "A B"])
def test_a_ticker_that_is_not_a_yahoo_symbol_is_refused_before_any_download(tmp_path, bad):
    """Tickers name cache files: `.`/`..` would be hidden or escape, `A/B` and `A_B` would
    share one, 300 characters would fail in the file system. Nothing is asked or written.
    """
    asked = []

    def download(*args):
        asked.append(args)
        return _yf_frame(["AAPL"])

    with pytest.raises(DataError, match="not a Yahoo symbol"):
        fetch(["AAPL", bad], download=download, cache=tmp_path, now=T0)
    assert asked == [] and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("good", ["BRK-B", "^GSPC", "EURUSD=X", "0700.HK", "gc=f"])
def test_real_symbols_are_accepted(tmp_path, good):
    frame = _yf_frame(["AAPL"]).rename(columns={"AAPL": good.upper()}, level=1)
    (f,) = fetch([good], download=FakeDownload(frame), cache=tmp_path, now=T0)
    assert f.path.name == f"{good.upper()}.parquet"


def test_yfinance_warnings_and_logged_failures_stay_quiet(monkeypatch, capfd):
    """Offline, yfinance warns (pandas deprecations) and logs its failures before returning an
    empty frame; the user sees only hedgedesk's one line, and yfinance's logger is restored.
    """
    import logging
    import sys
    import types
    import warnings

    def download(tickers, **kwargs):
        warnings.warn("inplace is deprecated", FutureWarning, stacklevel=2)
        logging.getLogger("yfinance").error("1 Failed download: ['AAPL']: no network")
        return pd.DataFrame()

    monkeypatch.setitem(sys.modules, "yfinance", types.SimpleNamespace(download=download))
    logged: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = logged.append  # type: ignore[method-assign]
    log = logging.getLogger("yfinance")
    log.addHandler(handler)
    log.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            with pytest.raises(DataError, match="download returned nothing"):
                fetch(["AAPL"], cache=None)
    finally:
        log.removeHandler(handler)
    assert warned == [] and logged == []
    assert log.level == logging.WARNING
    assert capfd.readouterr() == ("", "")

"""The data screen at 80x24, driven by the keyboard; nothing touches the network."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from textual.widgets import DataTable, Static

from hedgedesk.core.config import referenced_tickers
from hedgedesk.core.data.market import MarketData, Series
from hedgedesk.core.data.price_files import load_paths
from hedgedesk.core.data.sources import load_market
from hedgedesk.core.demo import demo_dir
from hedgedesk.tui.messages import PricesFetched
from hedgedesk.tui.screens.data import COLUMNS, DataScreen
from tests.tui.conftest import ScreenHost, settle

DEMO_FILES = ("sp500_dataset.csv.gz", "sp500_index.csv.gz", "factors_dataset.csv.gz")


class Host(ScreenHost):
    """Pushes the screen; records the PricesFetched messages that reach the app."""

    def __init__(self, screen: DataScreen):
        super().__init__(screen)
        self.fetched: list[PricesFetched] = []

    def on_prices_fetched(self, message: PricesFetched) -> None:
        self.fetched.append(message)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HEDGEDESK_CACHE", str(tmp_path / "yahoo"))
    return tmp_path / "yahoo"


def _table(app) -> DataTable:
    return app.pushed.query_one(DataTable)


def _row(app, ticker: str) -> dict[str, str]:
    cells = _table(app).get_row(ticker)
    return {label: str(c) for (label, _), c in zip(COLUMNS, cells, strict=True)}


def _note(app) -> str:
    return str(app.pushed.query_one("#data-note", Static).content)


def _sessions(first: str, last: str, holidays=(), drop=()) -> np.ndarray:
    """Weekdays minus the NYSE holidays named and the sessions dropped."""
    days = pd.bdate_range(first, last).difference(pd.DatetimeIndex([*holidays, *drop]))
    return days.values.astype("datetime64[D]")


def _series(ticker: str, dates: np.ndarray) -> Series:
    return Series(
        ticker, dates, np.linspace(100.0, 110.0, len(dates)), None, "synthetic.csv", "close"
    )


async def test_one_row_per_demo_series_with_its_dates(cfg):
    market = load_market(cfg)
    app = Host(DataScreen(cfg, market))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = _table(app)
        assert table.row_count == len(market.tickers)
        # witness: first and last dates read straight from the shipped files
        witnessed = 0
        for name in DEMO_FILES:
            frame = pd.read_csv(demo_dir() / name, index_col=0)
            for ticker in frame.columns:
                col = frame[ticker].dropna()
                row = _row(app, ticker)
                assert (row["First"], row["Last"]) == (col.index[0], col.index[-1]), ticker
                r = market.report(ticker)
                assert (row["First"], row["Last"]) == (str(r.first), str(r.last))
                assert row["Rows"] == str(len(col)) and row["Source"] == "demo"
                witnessed += 1
        assert witnessed == table.row_count
        head = str(app.pushed.query_one("#data-head", Static).content)
        assert "demo" in head and f"Clip: {cfg.data.start}..last" in head
        assert f"Benchmark: {cfg.data.benchmark}" in head
        assert f"Newest: {max(str(market.report(t).last) for t in market.tickers)}" in head
        # complete at 80x24: every column inside 78 columns, no horizontal scrolling
        width = sum(c.get_render_width(table) for c in table.columns.values())
        assert width + table.styles.scrollbar_size_vertical <= 78
        assert table.region.right <= 80 and not table.show_horizontal_scrollbar
        assert app.pushed.query_one("#data-box").region.bottom <= 23


async def test_staleness_is_days_behind_the_newest_series(cfg):
    market = MarketData.from_series(
        [
            _series("NEW", _sessions("2024-01-02", "2024-01-31", ["2024-01-15"])),
            _series("OLD", _sessions("2024-01-02", "2024-01-19", ["2024-01-15"])),
        ]
    )
    app = Host(DataScreen(cfg, market))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert _row(app, "NEW")["Stale"] == "0d"
        assert _row(app, "OLD")["Stale"] == f"{(dt.date(2024, 1, 31) - dt.date(2024, 1, 19)).days}d"
        assert _row(app, "OLD")["Last"] == "2024-01-19"


async def test_enter_shows_the_gaps_of_the_highlighted_series(cfg):
    holidays = ["2024-01-15", "2024-02-19"]
    market = MarketData.from_series(
        [
            _series("FULL", _sessions("2024-01-02", "2024-02-29", holidays)),
            _series(
                "HOLEY",
                _sessions(
                    "2024-01-02",
                    "2024-02-29",
                    holidays,
                    drop=["2024-01-10", "2024-01-11", "2024-01-12", "2024-02-06"],
                ),
            ),
        ]
    )
    app = Host(DataScreen(cfg, market))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert _row(app, "HOLEY")["Gaps"] == "2" and _row(app, "HOLEY")["Miss"] == "4"
        assert _row(app, "FULL")["Gaps"] == "0"
        await pilot.press("enter")  # the cursor starts on FULL
        assert "no gaps" in _note(app)
        await pilot.press("down", "enter")
        note = _note(app)
        assert "gap 2024-01-10..2024-01-12 (3 sessions missing)" in note
        assert "gap 2024-02-06..2024-02-06 (1 sessions missing)" in note
        assert app.pushed.query_one("#data-box").border_title == "Series: HOLEY"
        assert "daily, annualised x252" in note


async def test_fetch_on_a_demo_config_explains(cfg):
    app = Host(DataScreen(cfg, load_market(cfg)))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("f")
        await settle(app, pilot)
        assert 'Fetching applies to source = "yahoo" configs' in _note(app)
        assert app.fetched == []


async def test_fetch_offline_shows_the_error_and_keeps_running(cfg, cache, monkeypatch):
    def offline(tickers, start, end):
        raise ConnectionError("Failed to resolve 'query1.finance.yahoo.com'")

    monkeypatch.setattr("hedgedesk.core.data.yahoo._yf_download", offline)
    yahoo = replace(cfg, data=replace(cfg.data, source="yahoo", tickers=("SPY",)))
    app = Host(DataScreen(yahoo, load_market(cfg)))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("f")
        await settle(app, pilot)
        note = _note(app)
        assert "Fetch failed" in note and "download failed" in note
        assert "Failed to resolve" in note
        assert app.is_running and app.screen is app.pushed and app.fetched == []
        assert not app.pushed.fetching
        await pilot.press("escape")
        assert app.screen is not app.pushed


async def test_fetch_refreshes_the_table_and_tells_the_app(cfg, cache, monkeypatch):
    tickers = sorted({t for _, t in referenced_tickers(cfg)})
    dates = pd.DatetimeIndex(_sessions("2024-01-02", "2024-01-31", ["2024-01-15"]))
    columns = pd.MultiIndex.from_product(
        [["Adj Close", "Close", "Volume"], tickers], names=["Price", "Ticker"]
    )
    frame = pd.DataFrame(100.0, index=dates, columns=columns)
    monkeypatch.setattr("hedgedesk.core.data.yahoo._yf_download", lambda tickers, start, end: frame)
    yahoo = replace(
        cfg,
        data=replace(
            cfg.data,
            source="yahoo",
            tickers=tuple(tickers),
            start=dt.date(2024, 1, 2),
            end=dt.date(2024, 1, 31),
        ),
    )
    app = Host(DataScreen(yahoo, load_market(cfg)))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("f")
        await settle(app, pilot)
        assert len(app.fetched) == 1
        assert sorted(app.fetched[0].market.tickers) == tickers
        assert _table(app).row_count == len(tickers)
        row = _row(app, tickers[0])
        assert (row["Source"], row["First"], row["Last"]) == ("cache", "2024-01-02", "2024-01-31")
        # the cache's age, fetched just now: the fetch time is kept to the minute, so a minute
        # boundary between the fetch and the table reads 1 min
        assert row["Stale"] in ("0 min", "1 min")
        assert (cache / f"{tickers[0]}.parquet").exists()


@pytest.mark.parametrize("key", ["escape", "q"])
async def test_escape_and_q_pop_the_screen(cfg, key):
    app = Host(DataScreen(cfg, load_market(cfg)))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert app.screen is app.pushed
        await pilot.press(key)
        await pilot.pause()
        assert app.screen is not app.pushed and app.is_running


async def test_frequency_and_yields_show_in_the_table_and_the_detail(cfg, tmp_path):
    """A FRED-style monthly yield (declared 10 years) reads 'My', a weekly price file 'W', a
    daily one 'D'; the detail names the bond reading, the date format and N.
    """
    months = pd.date_range("2015-01-01", periods=48, freq="MS")
    lines = ["observation_date,DGS10"] + [
        f"{d:%Y-%m-%d},{1.5 + 0.01 * i:.2f}" for i, d in enumerate(months)
    ]
    (tmp_path / "DGS10.csv").write_text("\n".join(lines) + "\n")
    weeks = pd.date_range("2015-01-02", periods=100, freq="W-FRI")
    (tmp_path / "WEEKLY.csv").write_text(
        "Date,Close\n" + "".join(f"{d:%m/%d/%Y},{100 + i}\n" for i, d in enumerate(weeks))
    )
    days = pd.bdate_range("2015-01-02", periods=300)
    (tmp_path / "DAILY.csv").write_text(
        "Date,Close\n" + "".join(f"{d:%Y-%m-%d},{100 + i}\n" for i, d in enumerate(days))
    )
    market = load_paths([tmp_path], yields={"DGS10": 10})
    app = Host(DataScreen(cfg, market))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert {t: _row(app, t)["Fq"] for t in ("DGS10", "WEEKLY", "DAILY")} == {
            "DGS10": "My",
            "WEEKLY": "W",
            "DAILY": "D",
        }
        table = _table(app)
        table.move_cursor(row=table.get_row_index("DGS10"))
        await pilot.press("enter")
        note = _note(app)
        assert "yield -> bond total return, M=10y" in note
        assert "monthly, annualised x12" in note
        table.move_cursor(row=table.get_row_index("WEEKLY"))
        await pilot.press("enter")
        assert "weekly, annualised x52; dates M/D/YYYY" in _note(app)

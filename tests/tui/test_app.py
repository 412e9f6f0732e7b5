"""The desk, driven by the keyboard at 80x24, waiting on workers rather than sleeping."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import pandas as pd
from textual.widgets import DataTable, Static

from hedgedesk.core.demo import demo_dir
from hedgedesk.core.errors import DataError
from hedgedesk.tui.app import DeskApp
from tests.tui.conftest import settle


async def test_desk_shows_demo_book_at_80x24(cfg):
    app = DeskApp(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        holdings = app.query_one("#holdings", DataTable)
        legs = app.query_one("#legs", DataTable)
        assert holdings.row_count == len(cfg.book.holdings)
        assert legs.row_count == len(cfg.book.hedges)
        # witness: AAPL's last demo close read straight from the shipped file
        closes = pd.read_csv(demo_dir() / "sp500_dataset.csv.gz", index_col=0)
        aapl = cfg.book.holdings[0]
        row = holdings.get_row("0")  # first holding
        assert str(row[2]) == f"{closes['AAPL'].iloc[-1]:,.2f}"
        assert str(row[3]) == f"{closes['AAPL'].iloc[-1] * aapl.quantity:,.0f}"
        assert app.query_one("#monitors-pane").border_title.endswith(f"as of {closes.index[-1]}")
        # every pane is on screen at 80x24: holdings, then (tab) the legs in the same slot
        for pane in ("#holdings-pane", "#summary", "#sweep-pane"):
            region = app.query_one(pane).region
            assert region.height > 0 and region.bottom <= 23, pane
        await pilot.press("tab")
        await pilot.pause()
        region = app.query_one("#legs-pane").region
        assert region.height > 0 and region.bottom <= 23


async def test_keyboard_moves_and_reloads(cfg):
    app = DeskApp(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        holdings = app.query_one("#holdings", DataTable)
        assert app.focused is holdings
        await pilot.press("down", "down")
        assert holdings.cursor_row == 2
        await pilot.press("tab")
        assert app.focused is app.query_one("#legs", DataTable)
        first = app.report
        await pilot.press("f5")
        await settle(app, pilot)
        assert app.report is not first  # recomputed from freshly loaded data
        assert app.query_one("#holdings", DataTable).row_count == len(cfg.book.holdings)
        await pilot.press("q")
    assert app.return_code == 0


async def test_load_failure_is_shown_not_raised(cfg):
    def broken(_cfg):
        raise DataError("prices.csv", "unparsable date 'x': expected YYYY-MM-DD", 14)

    app = DeskApp(cfg, market_loader=broken)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        summary = str(app.query_one("#summary", Static).render())
        assert "Could not load the desk" in summary and "prices.csv:14" in summary
        assert app.is_running


async def test_notices_become_notifications(cfg):
    from hedgedesk.core.demo import load_demo

    def with_notice(_cfg):
        return replace(load_demo(), notices=("Yahoo unreachable; using the local cache",))

    app = DeskApp(cfg, market_loader=with_notice)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert any("Yahoo unreachable" in n.message for n in app._notifications)


async def test_runs_under_no_color(cfg, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = DeskApp(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert app.query_one("#holdings", DataTable).row_count == len(cfg.book.holdings)


async def test_highlighted_leg_says_how_it_is_priced(cfg):
    app = DeskApp(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("tab")  # to the hedge legs
        note = app.query_one("#leg-note", Static)
        assert "proxy" in str(note.render())  # first leg: ES from the index level
        await pilot.press("down")
        assert "modelled" in str(note.render())  # the SPX put's volatility
        assert note.region.bottom <= 23


async def test_beta_breach_is_spelled_out(cfg, tmp_path):
    from hedgedesk.core.config import parse_config

    text = cfg.path.read_text(encoding="utf-8").replace("quantity = -2\n", "quantity = -6\n", 1)
    breached = parse_config(text, tmp_path / "desk.toml")
    app = DeskApp(breached)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        summary = str(app.query_one("#summary", Static).render())
        beta = app.report.valuation.portfolio_beta
        assert beta < breached.targets.beta - breached.targets.beta_band
        assert "↓BREACH" in summary and f"{beta:+.2f}" in summary
        assert "VaR 95%" in summary


def test_the_desk_module_paints_without_the_engine():
    """The first frame waits only for Textual and the config: importing the desk (and the
    command line that opens it) loads neither numpy, pandas, scipy, numba nor tomlkit; the load
    worker imports them after the first paint.
    """
    code = (
        "import sys, hedgedesk.tui.app, hedgedesk.tui.cli.main\n"
        "print(sorted(m for m in ('numpy', 'pandas', 'scipy', 'numba', 'tomlkit') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

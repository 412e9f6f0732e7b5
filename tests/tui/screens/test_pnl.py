"""The P&L screen (key l on the desk) at 80x24, by keys: its cells are core's figures for the
desk's book (edits in force) and day; a replay step moves the day and the figures with it;
k groups the Greeks by kind; Esc returns to the desk.
"""

from __future__ import annotations

import datetime as dt

from textual.widgets import DataTable, Static

from hedgedesk.core.book.clock import at
from hedgedesk.core.book.exposure import greeks_by
from hedgedesk.core.book.pnl import explain
from hedgedesk.core.book.valuation import book_lines, market_state, value_book
from hedgedesk.core.data.sources import load_market
from hedgedesk.tui.app import DeskApp
from hedgedesk.tui.screens.pnl import PnlScreen, greek_cells, pnl_cells
from tests.tui.conftest import settle, until


def rows(table: DataTable) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def witness(cfg, market) -> tuple[list[list[str]], list[list[str]], list[list[str]]]:
    """Core's P&L, by-underlying and by-kind rows for ``cfg``, computed here from scratch."""
    state = market_state(cfg, market)
    e = explain(cfg, market, state, book_lines(cfg))
    pnl = [pnl_cells(t) for t in (e.book, e.core, e.hedges)] + [pnl_cells(p) for p in e.lines]
    val = value_book(cfg, state)
    price = state.closes[cfg.data.benchmark]
    out = []
    for by in ("underlying", "kind"):
        ex = greeks_by(val, by, price)
        out.append([greek_cells(g) for g in (ex.total, *ex.groups)])
    return pnl, out[0], out[1]


async def shown(app, pilot, day: dt.date | None = None) -> PnlScreen:
    """The P&L screen once it shows figures (for ``day`` when given)."""
    await until(
        pilot,
        lambda: (
            isinstance(app.screen, PnlScreen)
            and app.screen.figures is not None
            and (day is None or app.screen.figures.pnl.asof == day)
        ),
        f"the P&L screen's figures{f' for {day}' if day else ''}",
    )
    await pilot.pause()
    return app.screen


async def test_figures_equal_core_and_k_toggles_the_grouping(cfg):
    app = DeskApp(cfg)
    market = load_market(cfg)
    want_pnl, want_und, want_kind = witness(cfg, market)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("l")
        screen = await shown(app, pilot)
        table = screen.query_one("#pnl-table", DataTable)
        got = rows(table)
        assert [r[0] for r in got[:3]] == ["= book", "= core", "= hedges"]
        assert [r[1:] for r in got] == want_pnl
        assert table.virtual_size.width <= 78  # every column shows at 80 columns
        title = str(screen.query_one("#pnl-title", Static).render())
        assert "2022-12-27 → 2022-12-28" in title and "REPLAY" not in title
        greeks = screen.query_one("#pnl-greeks", DataTable)
        assert [r[1:] for r in rows(greeks)] == want_und
        assert greeks.virtual_size.width <= 78
        assert rows(greeks)[0][0] == "= book" and "SP500" in [r[0] for r in rows(greeks)]
        await pilot.press("k")
        await pilot.pause()
        assert [r[1:] for r in rows(greeks)] == want_kind
        assert [r[0] for r in rows(greeks)] == ["= book", "equity", "future", "option"]
        assert "Greeks by kind" in str(screen.query_one("#pnl-greeks-title", Static).render())
        for w in (table, greeks):  # both tables and the note are on screen at 80x24
            assert w.region.height >= 3 and app.screen.region.contains_region(w.region)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, PnlScreen)


async def test_a_replay_step_moves_the_day_and_the_figures(cfg):
    app = DeskApp(cfg)
    market = load_market(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("p")
        await pilot.press("p")  # paused at the replay's first day
        await settle(app, pilot)
        day = app.clock.day
        await pilot.press("l")
        screen = await shown(app, pilot, day)
        assert "REPLAY" in str(screen.query_one("#pnl-title", Static).render())
        assert [r[1:] for r in rows(screen.query_one("#pnl-table", DataTable))] == witness(
            at(cfg, day), market
        )[0]
        await pilot.press("full_stop")  # the desk steps its replay from this screen
        nxt = app.clock.day
        assert nxt > day
        screen = await shown(app, pilot, nxt)
        assert screen.figures.pnl.previous == day
        got = rows(screen.query_one("#pnl-table", DataTable))
        assert [r[1:] for r in got] == witness(at(cfg, nxt), market)[0]
        await pilot.press("comma")
        await shown(app, pilot, day)


async def test_the_screen_follows_an_edit_of_the_book(cfg):
    app = DeskApp(cfg)
    market = load_market(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("plus")  # the first holding one lot larger: a what-if edit
        await settle(app, pilot)
        edited = app.cfg
        assert edited.book.holdings[0].quantity != cfg.book.holdings[0].quantity
        await pilot.press("l")
        screen = await shown(app, pilot)
        got = [r[1:] for r in rows(screen.query_one("#pnl-table", DataTable))]
        assert got == witness(edited, market)[0] != witness(cfg, market)[0]
        before = screen.figures
        app.action_nudge(1)  # the desk edits again under the screen: it follows
        await until(pilot, lambda: screen.figures is not before, "figures after the edit")
        await pilot.pause()
        got = [r[1:] for r in rows(screen.query_one("#pnl-table", DataTable))]
        assert got == witness(app.cfg, market)[0]

"""The Trades screen (tui/screens/ticket.py) on the desk at 80x24, by keys only: its rows are
core's ticket for the desk's book, Enter applies the highlighted trade to the what-if book (the
desk revalues, u undoes it), x exports the CSV, and the optimiser screen's last weights are used.
"""

from __future__ import annotations

import csv
from types import SimpleNamespace

import pytest
from textual.widgets import DataTable, Static

from hedgedesk.core.book.risk import risk_report
from hedgedesk.core.book.ticket import CSV_HEADER, build_ticket, optimizer_weights
from hedgedesk.core.book.valuation import market_state
from hedgedesk.core.data.sources import load_market
from hedgedesk.tui.app import DeskApp
from hedgedesk.tui.screens.forms import FormScreen
from hedgedesk.tui.screens.ticket import TicketScreen, row_cells
from tests.tui.conftest import in_view, settle, until


def table_rows(screen) -> list[list[str]]:
    table = screen.query_one("#ticket-table", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def open_ticket(app, pilot) -> TicketScreen:
    await settle(app, pilot)
    await pilot.press("t")
    await until(pilot, lambda: isinstance(app.screen, TicketScreen), "the Trades screen")
    await until(pilot, lambda: app.screen.ticket is not None, "the ticket")
    await settle(app, pilot)
    return app.screen


async def test_rows_are_cores_apply_undo_and_export(writable_demo):
    cfg = writable_demo
    market = load_market(cfg)
    app = DeskApp(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_ticket(app, pilot)
        weights, source = optimizer_weights(cfg, market)
        core = build_ticket(
            cfg, lambda c: market_state(c, market), weights=weights, weights_source=source
        )
        assert table_rows(screen) == [row_cells(t) for t in core.trades]
        assert in_view(app, screen.query_one("#ticket-table"))
        assert "max-sharpe" in str(screen.query_one("#ticket-head", Static).render())
        # the first "to weights" trade: AAPL 1,500 -> 339 shares
        i = next(k for k, t in enumerate(core.trades) if t.group == "to weights")
        trade = core.trades[i]
        for _ in range(i):
            await pilot.press("down")
        await pilot.press("enter")
        await settle(app, pilot)
        held = {h.ticker: h.quantity for h in app.cfg.book.holdings}
        assert held[trade.instrument] == trade.edit.quantity
        beta = risk_report(app.cfg, market_state(app.cfg, market)).valuation.portfolio_beta
        assert app.report.valuation.portfolio_beta == pytest.approx(beta, rel=1e-12)
        assert beta == pytest.approx(trade.beta_after, rel=1e-10)
        await until(pilot, lambda: screen.ticket is not None and screen.cfg is app.cfg, "remake")
        await settle(app, pilot)
        assert trade.instrument not in [t.instrument for t in screen.ticket.group("to weights")]
        # export: the path asked, beside the config by default
        await pilot.press("x")
        assert isinstance(app.screen, FormScreen)
        await pilot.press("enter")
        await settle(app, pilot)
        path = cfg.path.with_name(f"{cfg.path.stem}-ticket-{core.asof}.csv")
        with open(path, newline="") as fh:
            rows = list(csv.reader(fh))
        assert tuple(rows[0]) == CSV_HEADER and len(rows) == 1 + len(screen.ticket.trades)
        assert isinstance(app.screen, TicketScreen)
        await pilot.press("escape")
        await pilot.press("u")
        await settle(app, pilot)
        assert app.cfg.book == cfg.book


async def test_uses_the_optimiser_screens_last_weights(writable_demo):
    app = DeskApp(writable_demo)
    async with app.run_test(size=(80, 24)) as pilot:
        app._optimizer_screen = SimpleNamespace(
            result=SimpleNamespace(portfolio=SimpleNamespace(weights={"AAPL": 0.5, "KO": 0.5})),
            request=SimpleNamespace(objective="min-variance"),
        )
        screen = await open_ticket(app, pilot)
        assert screen.ticket.weights_source == "optimiser screen: min-variance"
        names = {t.instrument for t in screen.ticket.group("to weights")}
        assert {"AAPL", "KO", "MSFT"} <= names  # MSFT held, not in the weights: sold
        await pilot.press("q")
        assert not isinstance(app.screen, TicketScreen)


async def test_A_applies_the_whole_group_as_one_step(writable_demo):
    cfg = writable_demo
    market = load_market(cfg)
    app = DeskApp(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        app._optimizer_screen = SimpleNamespace(
            result=SimpleNamespace(portfolio=SimpleNamespace(weights={"AAPL": 0.5, "KO": 0.5})),
            request=SimpleNamespace(objective="min-variance"),
        )
        screen = await open_ticket(app, pilot)
        first = screen.ticket
        i = next(k for k, t in enumerate(first.trades) if t.group == "to weights")
        for _ in range(i):
            await pilot.press("down")
        detail = str(screen.query_one("#ticket-detail", Static).render())
        assert "whole group (A)" in detail
        await pilot.press("A")
        await settle(app, pilot)
        value = first.holdings_value
        want = {
            "AAPL": round(0.5 * value / market.get("AAPL").close[-1]),
            "KO": round(0.5 * value / market.get("KO").close[-1]),
        }
        assert {h.ticker: h.quantity for h in app.cfg.book.holdings} == want
        beta, var, nav = first.group_after["to weights"]
        rep = risk_report(app.cfg, market_state(app.cfg, market))
        assert rep.valuation.portfolio_beta == pytest.approx(beta, rel=1e-10)
        assert rep.var("historical", 0.95).var == pytest.approx(var, rel=1e-10)
        assert rep.valuation.nav == pytest.approx(nav, rel=1e-12)
        assert app.report.valuation.portfolio_beta == pytest.approx(beta, rel=1e-10)
        await until(pilot, lambda: screen.cfg is app.cfg and screen.ticket is not first, "remake")
        await settle(app, pilot)
        assert screen.ticket.group("to weights") == []  # the weights are reached
        await pilot.press("escape", "u")
        await settle(app, pilot)
        assert app.cfg.book == cfg.book  # one u undoes the whole group


async def test_when_replaying_the_ticket_is_of_the_replay_day(writable_demo):
    app = DeskApp(writable_demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("p")  # replay from a year back
        await pilot.press("p")  # paused
        await settle(app, pilot)
        day = app.clock.day
        screen = await open_ticket(app, pilot)
        assert screen.ticket.asof == day == app.report.valuation.asof
        assert screen.ticket.beta_before == pytest.approx(app.report.valuation.portfolio_beta)

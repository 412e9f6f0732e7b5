"""The scenarios screen, by keys only: each row's P&L equals core's for the book on screen (legs
toggled out, what-if shocks in force), every column fits 80 columns, errors stay in the
screen.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from textual.widgets import DataTable, Static

from hedgedesk.core.book.scenarios import run_scenarios
from hedgedesk.core.book.valuation import market_state, shocked_state
from hedgedesk.core.config import Scenario
from hedgedesk.tui.format import money
from hedgedesk.tui.screens.scenarios import ScenariosScreen
from tests.tui.conftest import ScreenHost, settle


def pnl_cells(app) -> list[str]:
    table = app.screen.query_one("#scn-table", DataTable)
    return [str(table.get_row_at(i)[3]) for i in range(table.row_count)]


def witness(cfg, market, shocks=None) -> list[str]:
    """Core's P&L per scenario, computed here from scratch, formatted as the screen does."""
    state = shocked_state(market_state(cfg, market), shocks or {})
    return [money(r.pnl, signed=True) for r in run_scenarios(cfg, state, market)]


async def test_rows_equal_core_toggle_recomputes_and_escape_pops(desk):
    cfg, market = desk
    app = ScreenHost(ScenariosScreen(cfg, market, {}))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, ScenariosScreen)
        table = screen.query_one("#scn-table", DataTable)
        assert table.row_count == len(cfg.scenarios)
        assert pnl_cells(app) == witness(cfg, market)
        assert table.virtual_size.width <= 78  # every column shows at 80 columns
        assert len(table.columns) == 7

        legs = screen.query_one("#scn-legs", DataTable)
        first = cfg.book.hedges[0].name
        assert str(legs.get_row_at(0)[0]) == "[x]"
        await pilot.press("t")  # the legs table's cursor is on the first leg
        await settle(app, pilot)
        assert str(legs.get_row_at(0)[0]) == "[ ]"
        without = replace(cfg, book=replace(cfg.book, hedges=cfg.book.hedges[1:]))
        assert pnl_cells(app) == witness(without, market)
        assert pnl_cells(app) != witness(cfg, market)
        assert f"Legs excluded (t toggles): {first}" in str(
            screen.query_one("#scn-note", Static).render()
        )

        await pilot.press("t")  # back in: the whole book again
        await settle(app, pilot)
        assert pnl_cells(app) == witness(cfg, market)

        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ScenariosScreen)


async def test_what_if_shock_moves_the_base(desk):
    cfg, market = desk
    shocks = {"market": -0.1}
    app = ScreenHost(ScenariosScreen(cfg, market, shocks))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert pnl_cells(app) == witness(cfg, market, shocks)
        assert pnl_cells(app) != witness(cfg, market)
        assert "what-if shocks market -10.0%" in str(
            app.screen.query_one("#scn-note", Static).render()
        )


async def test_wide_terminal_adds_the_greeks(desk):
    cfg, market = desk
    app = ScreenHost(ScenariosScreen(cfg, market, {}))
    async with app.run_test(size=(130, 30)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one("#scn-table", DataTable)
        assert len(table.columns) == 10
        assert table.virtual_size.width <= 128
        assert pnl_cells(app) == witness(cfg, market)


async def test_a_replay_the_data_cannot_cover_is_an_error_row(desk):
    cfg, market = desk
    old = Scenario("Before the data", replay=(dt.date(1985, 1, 2), dt.date(1985, 3, 1)))
    app = ScreenHost(ScenariosScreen(replace(cfg, scenarios=(old, *cfg.scenarios)), market, {}))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one("#scn-table", DataTable)
        assert table.row_count == len(cfg.scenarios) + 1
        assert pnl_cells(app) == ["error", *witness(cfg, market)]
        detail = str(app.screen.query_one("#scn-detail", Static).render())
        assert "error:" in detail and "cannot replay" in detail


async def test_no_market_data_is_a_message_not_a_crash(desk):
    cfg, _ = desk
    app = ScreenHost(ScenariosScreen(cfg, None, {}))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, ScenariosScreen)
        title = str(app.screen.query_one("#scn-title", Static).render())
        assert "still loading" in title


def test_the_vol_cell_marks_a_skew_shock():
    from hedgedesk.core.config import Scenario
    from hedgedesk.tui.screens.scenarios import vol_cell

    assert vol_cell(Scenario("flat", vol=0.03)) == "+3pt"
    assert vol_cell(Scenario("tilted", vol=0.03, skew=-0.5)) == "+3ptk"
    assert vol_cell(Scenario("skew only", skew=-0.5)) == "0ptk"

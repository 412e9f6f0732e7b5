"""The What-ifs screen (``n`` on the desk) at 80x24, keys only: save the current edits and
shocks under a name, see the saved book and each what-if side by side with the engine's
figures, load one back (an undoable edit), delete one after asking; and ``S`` save as.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from hedgedesk.core.book.risk import risk_report
from hedgedesk.core.book.valuation import market_state, shocked_state
from hedgedesk.core.book.whatifs import load_whatifs, whatifs_path
from hedgedesk.core.config import load_config
from hedgedesk.core.data.sources import load_market
from hedgedesk.tui.app import DeskApp
from hedgedesk.tui.format import money, num, pct
from hedgedesk.tui.screens.dialogs import ChoiceScreen
from hedgedesk.tui.screens.forms import FormScreen
from hedgedesk.tui.screens.whatifs import COLUMNS, WhatIfsScreen
from tests.tui.conftest import in_view, settle


async def typed(pilot, text: str) -> None:
    await pilot.press("end", "ctrl+u", *text, "enter")


def rows(screen) -> dict[str, list[str]]:
    table = screen.query_one("#wi-table", DataTable)
    return {
        str(table.get_row_at(i)[0]): [str(c) for c in table.get_row_at(i)]
        for i in range(table.row_count)
    }


def engine(cfg, shocks):
    rep = risk_report(cfg, shocked_state(market_state(cfg, load_market(cfg)), shocks))
    return rep.valuation, rep.var("historical", 0.95).var


async def edit_and_shock(app, pilot) -> None:
    """Two more SPX puts (the legs' second row), the market -10 %: keys only."""
    await pilot.press("tab")  # the hedge legs
    await pilot.press("down", "plus", "plus")
    await settle(app, pilot)
    await pilot.press("x")
    await pilot.press("tab", "end", "ctrl+u", *"-0.1", "enter")
    await settle(app, pilot)


async def test_save_compare_load_and_delete_at_80x24(writable_demo):
    cfg = writable_demo
    app = DeskApp(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await edit_and_shock(app, pilot)
        assert app.cfg.book.hedges[1].quantity == 4 and app.editor.shocks == {"market": -0.1}
        await pilot.press("n")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, WhatIfsScreen)
        assert list(rows(screen)) == ["(saved)", "(now)"]
        await pilot.press("a")
        assert isinstance(app.screen, FormScreen)
        await typed(pilot, "puts x2")
        await settle(app, pilot)
        assert app.screen is screen
        assert [w.name for w in load_whatifs(cfg.path)] == ["puts x2"]
        w = load_whatifs(cfg.path)[0]
        assert w.shocks == {"market": -0.1} and w.hedges[1]["quantity"] == 4
        got = rows(screen)
        assert list(got) == ["(saved)", "(now)", "puts x2"]
        # the engine's figures, on a config file edited by hand
        witness = cfg.path.with_name("witness.toml")
        old = 'strike = 3400\nexpiry = "2023-03-17"\nquantity = 2'
        witness.write_text(cfg.path.read_text().replace(old, old[:-1] + "4"))
        for label, c, shocks in (
            ("(saved)", cfg, {}),
            ("puts x2", load_config(witness), {"market": -0.1}),
        ):
            val, var = engine(c, shocks)
            assert got[label][1:] == [
                money(val.nav),
                num(val.portfolio_beta, 3, signed=True),
                money(val.total("dollar_delta"), signed=True),
                money(val.total("gamma_1pct_usd"), signed=True),
                money(val.total("vega_1pt_usd"), signed=True),
                money(val.total("theta_1d_usd"), signed=True),
                pct(var, 2),
            ]
        assert got["(now)"][1:] == got["puts x2"][1:]
        # every column in view at 80 columns, the note too
        table = screen.query_one("#wi-table", DataTable)
        assert sum(c.get_render_width(table) for c in table.columns.values()) <= 80
        assert len(table.columns) == len(COLUMNS)
        assert in_view(app, screen.query_one("#wi-note", Static))
        # a duplicate name asks before overwriting
        await pilot.press("a")
        await typed(pilot, "puts x2")
        await settle(app, pilot)
        assert isinstance(app.screen, ChoiceScreen)
        await pilot.press("escape")
        assert app.screen is screen and len(load_whatifs(cfg.path)) == 1
        # back on the desk: revert, then load the what-if from the screen
        await pilot.press("escape")
        await pilot.press("r")
        await settle(app, pilot)
        await pilot.press("x", "tab", "end", "ctrl+u", "0", "enter")
        await settle(app, pilot)
        assert not app.editor.dirty and app.editor.shocks == {}
        await pilot.press("n")
        await settle(app, pilot)
        table = app.screen.query_one("#wi-table", DataTable)
        table.move_cursor(row=1)  # no "now" row: the book is as saved
        await pilot.press("enter")
        await settle(app, pilot)
        assert not isinstance(app.screen, WhatIfsScreen)
        assert app.cfg.book.hedges[1].quantity == 4 and app.editor.shocks == {"market": -0.1}
        val, _ = engine(load_config(witness), {"market": -0.1})
        assert app.report.valuation.portfolio_beta == pytest.approx(val.portfolio_beta, rel=1e-12)
        await pilot.press("u")  # one undo takes the whole what-if back
        await settle(app, pilot)
        assert app.cfg.book == cfg.book and app.editor.shocks == {}
        # delete asks first
        await pilot.press("n")
        await settle(app, pilot)
        app.screen.query_one("#wi-table", DataTable).move_cursor(row=1)
        await pilot.press("d")
        assert isinstance(app.screen, ChoiceScreen)
        await pilot.press("d")
        await settle(app, pilot)
        assert load_whatifs(cfg.path) == []
        assert list(rows(app.screen)) == ["(saved)"]


async def test_a_bad_whatifs_file_shows_its_error_and_keeps_the_book(writable_demo):
    cfg = writable_demo
    whatifs_path(cfg.path).write_text("[[whatif]\n")
    app = DeskApp(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        await settle(app, pilot)
        detail = str(app.screen.query_one("#wi-detail", Static).render())
        assert "whatifs.toml" in detail and "not valid TOML" in detail
        assert list(rows(app.screen)) == ["(saved)"]
        await pilot.press("a")
        await typed(pilot, "x")
        assert isinstance(app.screen, FormScreen)  # refused: the file is not overwritten
        assert "not valid TOML" in str(app.screen.query_one("#form-error", Static).render())
    assert whatifs_path(cfg.path).read_text() == "[[whatif]\n"


async def test_save_as_writes_a_new_file_and_the_desk_works_on_it(writable_demo, tmp_path):
    cfg = writable_demo
    before = cfg.path.read_text()
    app = DeskApp(cfg)
    new = tmp_path / "sub" / "new.toml"
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("plus")
        await settle(app, pilot)
        await pilot.press("S")
        assert isinstance(app.screen, FormScreen)
        await typed(pilot, str(new))
        await settle(app, pilot)
        assert not isinstance(app.screen, FormScreen)
        assert app.cfg.path == new and load_config(new).book == app.cfg.book
        assert app.cfg.book.holdings[0].quantity != cfg.book.holdings[0].quantity
        assert cfg.path.read_text() == before
        assert "new.toml" in app.sub_title and "unsaved" not in app.sub_title
        await pilot.press("plus")  # a save now goes to the new file
        await settle(app, pilot)
        await pilot.press("s")
        await settle(app, pilot)
        assert load_config(new).book == app.cfg.book and cfg.path.read_text() == before
        await pilot.press("S")  # an existing file asks before it is overwritten
        await typed(pilot, str(cfg.path))
        await settle(app, pilot)
        assert isinstance(app.screen, ChoiceScreen)
        await pilot.press("escape")
        assert cfg.path.read_text() == before and app.cfg.path == new
    assert Path(str(new) + ".last-good").exists()


async def test_save_as_offers_the_user_config_for_the_builtin_demo(cfg):
    from hedgedesk.core.config import user_config_path

    app = DeskApp(cfg)  # the demo desk, read-only
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("S")
        assert app.screen.form.values() == {"path": str(user_config_path())}
        await pilot.press("escape")

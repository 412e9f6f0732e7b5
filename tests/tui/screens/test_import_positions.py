"""The import dialog on the desk at 80x24 (key I): preview, errors with their lines, apply as
one undoable edit, save; the figures after the import are core's for the imported book.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, Static

from hedgedesk.core.book.risk import risk_report
from hedgedesk.core.book.valuation import market_state
from hedgedesk.core.config import load_config
from hedgedesk.core.data.sources import load_market
from hedgedesk.tui.app import DeskApp
from hedgedesk.tui.screens.import_positions import ImportPositionsScreen, parse_map
from tests.tui.conftest import in_view, settle

FIXTURES = Path(__file__).parents[2] / "core" / "book" / "fixtures"
IBKR = FIXTURES / "ibkr_open_positions.csv"


def _text(app) -> str:
    return str(app.screen.query_one("#import-text", Static).render())


async def _submit(app, pilot, path: str, mapping: str = "") -> None:
    app.screen.query_one("#import-map", Input).value = mapping
    field = app.screen.query_one("#import-path", Input)
    field.value = path
    field.focus()
    await pilot.press("enter")
    await settle(app, pilot)  # the preview reads the file in a worker


async def test_preview_apply_undo_and_save(writable_demo):
    cfg = writable_demo
    app = DeskApp(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("I")
        assert isinstance(app.screen, ImportPositionsScreen)
        for wid in ("#import-path", "#import-map", "#import-vol", "#import-choice", "#import-hint"):
            assert in_view(app, app.screen.query_one(wid)), wid
        await _submit(app, pilot, str(IBKR), "SPX=SP500")
        text = _text(app)
        assert "ibkr layout, 7 row(s) as of 2022-12-28" in text
        assert "holding AAPL 1500 -> 1000" in text and "holding MSFT 700 -> 400" in text
        assert app.cfg.book == cfg.book  # a preview changes nothing
        await pilot.press("enter")  # again: apply
        await settle(app, pilot)
        assert not isinstance(app.screen, ImportPositionsScreen)
        assert app.cfg.book.holdings[0].quantity == 1000
        assert app.cfg.book.holdings[1].quantity == 400
        witness = risk_report(app.cfg, market_state(app.cfg, load_market(app.cfg)))
        assert app.report.valuation.nav == pytest.approx(witness.valuation.nav, rel=1e-12)
        await pilot.press("u")  # one undo step takes the whole import back
        await settle(app, pilot)
        assert app.cfg.book == cfg.book
        await pilot.press("ctrl+r", "s")
        await settle(app, pilot)
        assert load_config(cfg.path).book.holdings[0].quantity == 1000


async def test_errors_name_their_rows_and_the_dialog_stays(writable_demo, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("symbol,quantity\nAAPL,ten\nMSFT,5\nESZ4,1.5\n")
    app = DeskApp(writable_demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("I")
        await _submit(app, pilot, str(bad))
        text = _text(app)
        assert "2 row(s) refused" in text
        assert "line 2, quantity: got 'ten', expected a number" in text
        assert "line 4, quantity: got '1.5', expected a whole number of contracts" in text
        await pilot.press("enter")  # nothing to apply: it previews again
        assert isinstance(app.screen, ImportPositionsScreen)
        await pilot.press("escape")
        assert app.cfg.book == writable_demo.book


async def test_a_book_the_data_refutes_is_not_applied(writable_demo, tmp_path):
    """SPX is not a ticker of the demo data: the desk's check refuses, the dialog stays."""
    app = DeskApp(writable_demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("I")
        await _submit(app, pilot, str(IBKR))
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ImportPositionsScreen)
        assert "not applied" in _text(app) and "SPX" in _text(app)
        assert app.cfg.book == writable_demo.book and not app.editor.can_undo


async def test_layout_and_mode_keys(writable_demo):
    app = DeskApp(writable_demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("I")
        screen = app.screen
        await pilot.press("f2", "f3")
        assert (screen.file_layout, screen.mode) == ("generic", "replace")
        assert "layout generic" in str(screen.query_one("#import-choice", Static).render())
        await _submit(app, pilot, str(IBKR), "SPX=SP500")  # a Flex file read as generic
        assert "header" in _text(app) or "refused" in _text(app)


def test_parse_map():
    assert parse_map("spx=SP500, ES=SP500") == {"SPX": "SP500", "ES": "SP500"}
    with pytest.raises(Exception, match="expected SYMBOL=TICKER"):
        parse_map("SPX")


async def test_an_empty_path_or_a_bad_vol_is_named(writable_demo):
    app = DeskApp(writable_demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("I")
        await _submit(app, pilot, "")
        assert "file: expected the path of a CSV export" in _text(app)
        app.screen.query_one("#import-vol", Input).value = "-1"
        await _submit(app, pilot, str(IBKR), "SPX=SP500")
        assert "vol: got '-1', expected a fraction in (0, 5]" in _text(app)
        app.screen.query_one("#import-vol", Input).value = "0.4"
        await _submit(app, pilot, str(FIXTURES / "generic_demo.csv"), "SPX=SP500")
        assert "vol 0.4 (import default, modelled) on 2 new leg(s)" in _text(app)
        await pilot.press("enter")
        await settle(app, pilot)
        put = next(leg for leg in app.cfg.book.hedges if leg.name == "SPX 2023-03-17 3600 put")
        assert (put.volatility, put.purpose, put.underlying) == (0.4, "protection", "SP500")

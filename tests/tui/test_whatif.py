"""What-if editing on the desk, by keys only: each edit's figures equal core's for the edited
book, undo/redo/revert walk the history, save writes the file, bad input never loses work.
"""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input, Static

from hedgedesk.core.book.risk import risk_report
from hedgedesk.core.book.valuation import market_state, shocked_state
from hedgedesk.core.config import load_config
from hedgedesk.core.data.sources import load_market
from hedgedesk.core.demo import demo_config_path
from hedgedesk.tui.app import DeskApp
from hedgedesk.tui.screens.forms import FormScreen
from tests.tui.conftest import settle


@pytest.fixture
def cfg(writable_demo):
    return writable_demo


def core_beta(cfg, shocks=None) -> float:
    """The witness: core's own figures for a config, computed here from scratch."""
    state = market_state(cfg, load_market(cfg))
    return risk_report(cfg, shocked_state(state, shocks or {})).valuation.beta_status.beta


async def fill(pilot, values: list[str]) -> None:
    """Type into a form's fields in order, keys only: each field is cleared (end, ctrl+u) and
    typed; tab moves to the next; enter applies.
    """
    for i, text in enumerate(values):
        if i:
            await pilot.press("tab")
        await pilot.press("end", "ctrl+u", *text)
    await pilot.press("enter")


def cell(app, table_id: str, row: int, col: int) -> str:
    return str(app.query_one(f"#{table_id}", DataTable).get_row_at(row)[col])


async def test_nudge_recomputes_like_core_and_marks_the_change(cfg):
    app = DeskApp(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        before = cfg.book.holdings[0].quantity
        await pilot.press("plus")
        await settle(app, pilot)
        assert app.cfg.book.holdings[0].quantity == before + round(before * 0.1)
        assert app.report.valuation.beta_status.beta == pytest.approx(core_beta(app.cfg), rel=1e-12)
        assert cell(app, "holdings", 0, 0).startswith("*")
        assert "Δ" in str(app.query_one("#summary", Static).render())
        assert "● 1 unsaved" in app.sub_title


async def test_edit_form_applies_validates_and_cancels(cfg):
    app = DeskApp(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("e")
        assert isinstance(app.screen, FormScreen)
        await fill(pilot, ["abc"])
        assert isinstance(app.screen, FormScreen)  # still open, the typing kept
        assert app.screen.query_one("#field-quantity", Input).value == "abc"
        error = str(app.screen.query_one("#form-error", Static).render())
        assert "quantity" in error and "abc" in error
        await fill(pilot, ["2000"])
        await settle(app, pilot)
        assert not isinstance(app.screen, FormScreen)
        assert app.cfg.book.holdings[0].quantity == 2000
        assert cell(app, "holdings", 0, 1) == "2,000"
        assert app.report.valuation.beta_status.beta == pytest.approx(core_beta(app.cfg), rel=1e-12)
        await pilot.press("e", "end", "ctrl+u", "1")
        await pilot.press("escape")  # cancelled: nothing changes
        await settle(app, pilot)
        assert app.cfg.book.holdings[0].quantity == 2000


async def test_undo_redo_revert_and_delete(cfg):
    app = DeskApp(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        legs = app.query_one("#legs", DataTable)
        legs.focus()
        n_legs = legs.row_count
        await pilot.press("d")
        await settle(app, pilot)
        assert legs.row_count == n_legs - 1 and len(app.cfg.book.hedges) == n_legs - 1
        await pilot.press("u")
        await settle(app, pilot)
        assert app.cfg.book == cfg.book and legs.row_count == n_legs
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert len(app.cfg.book.hedges) == n_legs - 1
        await pilot.press("r")
        await settle(app, pilot)
        assert app.cfg.book == cfg.book
        assert app.report.valuation.beta_status.beta == pytest.approx(core_beta(cfg), rel=1e-12)


async def test_market_shock_and_a_new_leg(cfg):
    app = DeskApp(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("x")
        await fill(pilot, ["market", "-0.1"])
        await settle(app, pilot)
        assert app.editor.shocks == {"market": -0.1}
        assert app.report.valuation.nav == pytest.approx(
            risk_report(
                cfg, shocked_state(market_state(cfg, load_market(cfg)), {"market": -0.1})
            ).valuation.nav,
            rel=1e-12,
        )
        assert "shock market -10.0%" in app.sub_title

        await pilot.press("a")  # the kind is picked from a list: holding, future, ...
        await pilot.pause()
        await pilot.press("down", "enter")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, FormScreen) and form.title_text == "Add a future"
        await fill(pilot, ["ES more", "SP500", "-1", "ES"])  # name, underlying, qty, contract
        await settle(app, pilot)
        assert not isinstance(app.screen, FormScreen), str(
            app.screen.query_one("#form-error", Static).render()
        )
        assert app.cfg.book.hedges[-1].name == "ES more"
        assert app.query_one("#legs", DataTable).row_count == len(cfg.book.hedges) + 1
        assert app.report.valuation.beta_status.beta == pytest.approx(
            core_beta(app.cfg, {"market": -0.1}), rel=1e-12
        )


async def test_save_writes_the_file_and_the_demo_is_refused(cfg, tmp_path):
    app = DeskApp(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("plus", "s")
        await settle(app, pilot)
        assert "unsaved" not in app.sub_title
        assert load_config(cfg.path).book == app.cfg.book != cfg.book

    demo = load_config(demo_config_path())
    app = DeskApp(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("plus", "s")
        await settle(app, pilot)
        assert app.cfg.book != demo.book  # the edit is kept for a save elsewhere
        assert "● 1 unsaved" in app.sub_title
        assert load_config(demo_config_path()).book == demo.book


async def test_add_a_holding_through_the_picker(cfg):
    app = DeskApp(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("a")
        await pilot.pause()
        await pilot.press("enter")  # the first kind: holding
        await pilot.pause()
        await fill(pilot, ["PFE", "100", "40"])  # ticker, quantity, cost basis
        await settle(app, pilot)
        added = app.cfg.book.holdings[-1]
        assert (added.ticker, added.quantity, added.cost_basis) == ("PFE", 100, 40)
        assert app.report.valuation.beta_status.beta == pytest.approx(core_beta(app.cfg), rel=1e-12)
        await pilot.press("a")
        await pilot.pause()
        await pilot.press("escape")  # nothing picked, nothing added
        await settle(app, pilot)
        assert app.cfg.book.holdings[-1] == added

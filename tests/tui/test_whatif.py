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
from hedgedesk.tui.format import money
from hedgedesk.tui.messages import BookRecomputed
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


async def test_one_edit_recomputes_once_posts_once_and_matches_a_fresh_recompute(cfg, monkeypatch):
    """A nudge of the ES leg: one market-state preparation at most (none: the load's state is
    reused), one risk recompute, one BookRecomputed; the figures equal core's from scratch, and
    the holdings (unchanged by a future's quantity) are not refilled.
    """
    import hedgedesk.core.book.risk as risk
    import hedgedesk.core.book.valuation as valuation

    app = DeskApp(cfg)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        legs = app.query_one("#legs", DataTable)
        holdings = app.query_one("#holdings", DataTable)
        legs.focus()
        await pilot.pause()
        counts = {"state": 0, "risk": 0, "posted": 0, "holdings": 0, "legs": 0}

        def counted(name, f):
            def wrapper(*args, **kwargs):
                counts[name] += 1
                return f(*args, **kwargs)

            return wrapper

        monkeypatch.setattr(valuation, "market_state", counted("state", valuation.market_state))
        monkeypatch.setattr(risk, "risk_report", counted("risk", risk.risk_report))
        post = app.post_message

        def posted(message):
            counts["posted"] += isinstance(message, BookRecomputed)
            return post(message)

        monkeypatch.setattr(app, "post_message", posted)
        for key, table in (("holdings", holdings), ("legs", legs)):
            for name in ("add_row", "update_cell"):
                monkeypatch.setattr(table, name, counted(key, getattr(table, name)))
        before = app.report.valuation.positions[len(cfg.book.holdings)].notional
        shown = [[str(c) for c in legs.get_row_at(i)] for i in range(legs.row_count)]
        await pilot.press("plus")
        await settle(app, pilot)
        assert app.cfg.book.hedges[0].quantity == cfg.book.hedges[0].quantity + 1
        assert (counts["state"], counts["risk"], counts["posted"]) == (0, 1, 1)
        assert counts["holdings"] == 0  # the holdings' rows are as they were: not refilled
        now = [[str(c) for c in legs.get_row_at(i)] for i in range(legs.row_count)]
        changed = sum(
            a != b
            for old, new in zip(shown, now, strict=True)
            for a, b in zip(old, new, strict=True)
        )
        assert counts["legs"] == changed > 0  # the edited leg's changed cells, nothing else
        assert shown[1:] == now[1:]
        fresh = risk_report(app.cfg, market_state(app.cfg, load_market(app.cfg)))
        rep = app.report
        assert rep.valuation.nav == fresh.valuation.nav
        assert rep.valuation.beta_status.beta == fresh.valuation.beta_status.beta
        assert list(rep.book_returns) == list(fresh.book_returns)
        assert rep.tail == fresh.tail and rep.alert_items == fresh.alert_items
        assert rep.correlation.equals(fresh.correlation)
        p = rep.valuation.positions[len(cfg.book.holdings)]
        assert p.notional != before
        assert cell(app, "legs", 0, 2) == money(p.notional, signed=True)


def test_the_book_written_for_validation_reads_back_as_tomlkit_writes_it():
    """The editor's own [book] writer (a what-if edit validates the whole book) gives the
    values tomlkit's would; a value it does not write plainly (a control character) goes to
    tomlkit.
    """
    import datetime as dt
    import tomllib

    import tomlkit

    from hedgedesk.core.book.edit import _dump_book

    book = {
        "name": 'Desk "A" \\ ünï 📈',
        "cash": 1e-05,
        "holdings": [{"ticker": "AAPL", "quantity": 1500, "cost_basis": 150.25}],
        "hedges": [
            {"name": "put", "strike": 3400, "expiry": dt.date(2023, 3, 17), "flag": True},
            {"name": "big", "quantity": -2.5e16, "volatility": float("inf")},
        ],
    }
    want = tomllib.loads(tomlkit.dumps({"book": book}))
    assert tomllib.loads(_dump_book(book)) == want
    odd = {**book, "name": "tab\there"}
    assert _dump_book(odd) == tomlkit.dumps({"book": odd})

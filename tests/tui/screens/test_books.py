"""Several books in one session (``B`` on the desk) at 80x24, keys only: open a second config
(other data: its own market, loaded in a worker), edit both, switch back and forth (each keeps
its edits, shocks and undo), close one (unsaved edits only after asking), quit asks for every
book's unsaved edits.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable

from hedgedesk.core.book.risk import risk_report
from hedgedesk.core.book.valuation import market_state
from hedgedesk.core.config import load_config
from hedgedesk.core.data.sources import load_market
from hedgedesk.core.demo import demo_dir
from hedgedesk.tui.app import DeskApp
from hedgedesk.tui.screens.books import BooksScreen
from hedgedesk.tui.screens.dialogs import ChoiceScreen
from hedgedesk.tui.screens.forms import FormScreen
from tests.tui.conftest import settle


@pytest.fixture
def second(tmp_path) -> Path:
    """The multi-asset demo desk in a writable file: other data, other book."""
    path = tmp_path / "multi" / "multi.toml"
    path.parent.mkdir()
    path.write_text((demo_dir() / "multi_asset" / "config.toml").read_text())
    return path


async def open_book(app, pilot, path: Path) -> None:
    await pilot.press("B")
    assert isinstance(app.screen, BooksScreen)
    await pilot.press("o")
    assert isinstance(app.screen, FormScreen)
    await pilot.press("end", "ctrl+u", *str(path), "enter")
    await settle(app, pilot)


async def switch(app, pilot, row: int) -> None:
    await pilot.press("B")
    app.screen.query_one("#books-table", DataTable).move_cursor(row=row)
    await pilot.press("enter")
    await settle(app, pilot)


def book_rows(app) -> list[list[str]]:
    table = app.screen.query_one("#books-table", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_two_books_keep_their_own_edits_and_undo(writable_demo, second):
    first = writable_demo
    app = DeskApp(first)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        q1 = first.book.holdings[0].quantity
        await pilot.press("plus")  # book 1: one edit
        await settle(app, pilot)
        assert app.cfg.book.holdings[0].quantity > q1
        await open_book(app, pilot, second)
        assert app.cfg.path == second and app.title == "hedgedesk · book 2/2"
        assert app.cfg.book.name in app.sub_title
        other = load_config(second)
        witness = risk_report(other, market_state(other, load_market(other)))
        assert app.report.valuation.nav == pytest.approx(witness.valuation.nav, rel=1e-12)
        assert not app.editor.dirty  # a new book starts from its file
        q2 = other.book.holdings[0].quantity
        await pilot.press("minus", "minus")  # book 2: two edits
        await settle(app, pilot)
        edited2 = app.cfg.book.holdings[0].quantity
        assert edited2 < q2
        await pilot.press("B")
        rows = book_rows(app)
        assert [r[0] for r in rows] == [" ", "▶"]
        assert rows[0][2] == "● 1 unsaved" and rows[1][2] == "● 1 unsaved"
        await pilot.press("escape")
        await switch(app, pilot, 0)  # back to book 1: its edit, its figures
        assert app.cfg.path == first.path and app.title == "hedgedesk · book 1/2"
        assert app.cfg.book.holdings[0].quantity > q1
        assert str(app.query_one("#holdings", DataTable).get_row_at(0)[0]).startswith("*")
        assert "● 1 unsaved" in app.sub_title
        await pilot.press("u")  # undo acts on book 1's history
        await settle(app, pilot)
        assert app.cfg.book == first.book and not app.editor.can_undo
        await switch(app, pilot, 1)  # book 2 still has both nudges, undoable one by one
        assert app.cfg.book.holdings[0].quantity == edited2
        await pilot.press("u")
        await settle(app, pilot)
        assert q2 > app.cfg.book.holdings[0].quantity > edited2
        assert app.report.valuation.asof == witness.valuation.asof  # its own market
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert app.cfg.book.holdings[0].quantity == edited2
        await pilot.press("s")  # saves book 2 into its own file
        await settle(app, pilot)
        assert load_config(second).book.holdings[0].quantity == edited2
        assert load_config(first.path).book == first.book


async def test_close_asks_for_unsaved_edits_and_quit_counts_every_book(writable_demo, second):
    original = second.read_text()
    app = DeskApp(writable_demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await open_book(app, pilot, second)
        await pilot.press("plus")
        await settle(app, pilot)
        await switch(app, pilot, 0)
        await pilot.press("B")
        app.screen.query_one("#books-table", DataTable).move_cursor(row=1)
        await pilot.press("c")
        assert isinstance(app.screen, ChoiceScreen)  # book 2 has an unsaved edit
        await pilot.press("escape")
        assert isinstance(app.screen, BooksScreen) and len(app.screen.books) == 2
        await pilot.press("escape")
        await pilot.press("q")  # book 1 is clean, book 2 is not: asked
        await settle(app, pilot)
        assert isinstance(app.screen, ChoiceScreen)
        assert "multi.toml: 1 unsaved edit(s)" in str(app.screen.message)
        await pilot.press("escape")
        assert app.is_running
        await pilot.press("B")
        app.screen.query_one("#books-table", DataTable).move_cursor(row=1)
        await pilot.press("c")
        await pilot.press("d")  # discard and close
        await settle(app, pilot)
        assert len(app._books) == 1 and app.cfg.path == writable_demo.path
        assert app.title == "hedgedesk"
        await pilot.press("B", "c")  # the only book is not closed
        assert len(app._books) == 1
        await pilot.press("escape")
    assert second.read_text() == original  # discarded, never written


async def test_opening_a_bad_file_keeps_the_form_and_an_open_one_switches(writable_demo, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[book\n")
    app = DeskApp(writable_demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await open_book(app, pilot, bad)
        assert isinstance(app.screen, FormScreen)
        assert "bad.toml" in app.screen.form.error
        await pilot.press("escape", "escape")
        await open_book(app, pilot, writable_demo.path)  # already open: stays one book
        assert len(app._books) == 1

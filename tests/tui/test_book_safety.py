"""A desk a trader can trust: an edit the data refutes keeps its form open, a saved book always
loads again, quitting asks about unsaved edits, a file changed on disk is overwritten or
reloaded by a key, a broken config opens the recovery screen. Typed by keys only.
"""

from __future__ import annotations

import datetime as dt
import stat
import sys
from pathlib import Path

import pytest
from textual.widgets import Static

from hedgedesk.core.book.check import check_book
from hedgedesk.core.book.edit import last_good_path
from hedgedesk.core.book.valuation import market_state
from hedgedesk.core.config import load_config
from hedgedesk.core.data.sources import load_market
from hedgedesk.core.demo import demo_config_path
from hedgedesk.tui.app import LEG_COLUMNS, DeskApp
from hedgedesk.tui.screens.dialogs import ChoiceScreen
from hedgedesk.tui.screens.forms import FormScreen
from hedgedesk.tui.screens.recovery import RecoveryApp, RecoveryScreen
from hedgedesk.tui.widgets.book_table import BookTable
from tests.tui.conftest import settle
from tests.tui.test_whatif import fill


@pytest.fixture
def cfg(writable_demo):
    return writable_demo


def form_error(app) -> str:
    return str(app.screen.query_one("#form-error", Static).render())


def loads_and_values(path: Path) -> None:
    """The witness that a saved book is usable: a fresh load, fresh data, core's valuation."""
    cfg = load_config(path)
    check_book(cfg, load_market(cfg))


async def add(pilot, kind: str, values: list[str]) -> None:
    """a, then the kind picked by arrows and enter, then the form typed."""
    kinds = ["holding", "future", "option", "equity", "crypto", "fx"]
    await pilot.press("a", *["down"] * kinds.index(kind), "enter")
    await pilot.pause()
    await fill(pilot, values)
    await pilot.pause()


async def test_a_holding_without_a_series_keeps_the_form_open(cfg):
    app = DeskApp(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await add(pilot, "holding", ["ZZZ", "100"])
        assert isinstance(app.screen, FormScreen)
        assert "ticker" in form_error(app) and "'ZZZ'" in form_error(app)
        await pilot.press("escape", "s")
        await settle(app, pilot)
        assert load_config(cfg.path).book == cfg.book  # nothing was written
        loads_and_values(cfg.path)


async def test_an_expired_option_keeps_the_form_open(cfg):
    app = DeskApp(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        asof = market_state(cfg, app.market).asof
        await pilot.press("tab", "down", "e")  # the SPX put, second leg
        await pilot.pause()
        assert isinstance(app.screen, FormScreen)
        # the edit form's fields: quantity, strike, expiry, ...
        await pilot.press(
            "tab", "tab", "end", "ctrl+u", *(asof - dt.timedelta(days=1)).isoformat(), "enter"
        )
        await pilot.pause()
        assert isinstance(app.screen, FormScreen)
        assert "expiry" in form_error(app) and "as-of date" in form_error(app)
        assert app.cfg.book == cfg.book


async def test_a_shock_on_a_ticker_the_data_lacks_keeps_the_form_open(cfg):
    app = DeskApp(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("x")
        await pilot.pause()
        await fill(pilot, ["SPX", "-0.1"])
        await pilot.pause()
        assert isinstance(app.screen, FormScreen) and "SPX" in form_error(app)
        assert app.editor.shocks == {}
        await pilot.press("escape", "x")
        await pilot.pause()
        await fill(pilot, ["SP500", "-0.1"])
        await settle(app, pilot)
        assert app.editor.shocks == {"SP500": -0.1} and "SP500 -10.0%" in app.sub_title


async def test_plus_then_minus_returns_the_holding(cfg):
    app = DeskApp(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("j")  # MSFT, 700 shares
        await pilot.press("plus")
        await settle(app, pilot)
        assert app.cfg.book.holdings[1].quantity == 770
        await pilot.press("minus")
        await settle(app, pilot)
        assert app.cfg.book.holdings[1].quantity == 700 and not app.editor.dirty


async def test_a_saved_book_always_loads_again_with_a_last_good_copy(cfg):
    app = DeskApp(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await add(pilot, "holding", ["BAC", "5"])
        await pilot.press("plus", "tab", "minus")
        await settle(app, pilot)
        await pilot.press("s")
        await settle(app, pilot)
        assert not app.editor.dirty
    loads_and_values(cfg.path)
    assert load_config(cfg.path).book == app.cfg.book
    assert last_good_path(cfg.path).read_bytes() == cfg.path.read_bytes()


async def test_quit_with_unsaved_edits_asks_save_discard_or_stay(cfg):
    original = cfg.path.read_bytes()
    app = DeskApp(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("plus", "q")
        await pilot.pause()
        assert isinstance(app.screen, ChoiceScreen)
        await pilot.press("escape")  # stay
        await pilot.pause()
        assert app.is_running and app.editor.dirty and not isinstance(app.screen, ChoiceScreen)
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, ChoiceScreen)
        await pilot.press("d")  # discard
        await pilot.pause()
    assert not app.is_running and cfg.path.read_bytes() == original

    app = DeskApp(load_config(cfg.path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("plus", "q")
        await pilot.pause()
        await pilot.press("s")  # save, then quit
        await pilot.pause()
    assert load_config(cfg.path).book.holdings[0].quantity == 1650


async def test_ctrl_c_asks_too(cfg):
    app = DeskApp(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("plus", "ctrl+c")
        await pilot.pause()
        assert isinstance(app.screen, ChoiceScreen) and app.is_running
        await pilot.press("escape")
        await pilot.pause()
        assert app.is_running and app.editor.dirty


async def test_z_zooms_the_focused_pane_and_back(cfg):
    app = DeskApp(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("tab", "z")
        await pilot.pause()
        pane = app.query_one("#legs-pane")
        assert app.screen.maximized is pane and pane.region.height >= 20
        await pilot.press("z")
        await pilot.pause()
        assert app.screen.maximized is None


async def test_quit_without_edits_does_not_ask(cfg):
    app = DeskApp(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("q")
        await pilot.pause()
    assert not app.is_running


async def test_delete_and_revert_say_how_to_undo(cfg):
    app = DeskApp(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("d")
        await settle(app, pilot)
        assert any("deleted holding AAPL — u undoes" in n.message for n in app._notifications)
        await pilot.press("r")
        await settle(app, pilot)
        assert any(
            "reverted 1 edit(s)" in n.message and "u undoes" in n.message
            for n in app._notifications
        )
        await pilot.press("u")
        await settle(app, pilot)
        assert app.cfg.book.holdings[0].ticker == "MSFT"


async def test_a_file_changed_on_disk_is_overwritten_or_reloaded_by_a_key(cfg):
    app = DeskApp(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("plus")
        await settle(app, pilot)
        theirs = cfg.path.read_text().replace("beta = 0.50", "beta = 0.55")
        cfg.path.write_text(theirs)
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, ChoiceScreen)
        text = str(app.screen.query_one("#choice").render()) + "".join(
            str(w.render()) for w in app.screen.query(Static)
        )
        assert "changed on disk" in text and "force" not in text and "(" in text
        await pilot.press("escape")
        assert cfg.path.read_text() == theirs and app.editor.dirty  # stay: edits kept
        await pilot.press("s")
        await pilot.pause()
        await pilot.press("l")  # reload the file: their edit, ours dropped
        await settle(app, pilot)
        assert app.cfg.targets.beta == 0.55 and app.cfg.book == cfg.book
        assert not app._editor or not app._editor.dirty
        await pilot.press("plus")
        await settle(app, pilot)
        cfg.path.write_text(cfg.path.read_text().replace("beta = 0.55", "beta = 0.60"))
        await pilot.press("s")
        await pilot.pause()
        await pilot.press("o")  # overwrite with this desk's book
        await settle(app, pilot)
    assert load_config(cfg.path).book.holdings[0].quantity == 1650


# -- the whole book at 80x24 -----------------------------------------------------------------
def _fully_visible(app, table: BookTable) -> bool:
    """Every row in view without scrolling, and the pane on the screen."""
    return (
        table.region.height > 0
        and table.max_scroll_y == 0
        and app.screen.region.contains_region(table.region)
    )


@pytest.mark.parametrize("book", ["demo", "multi_asset"])
async def test_every_leg_and_eight_holdings_at_80x24(book, tmp_path):
    path = (
        demo_config_path()
        if book == "demo"
        else Path(__file__).parents[2] / "examples" / "multi_asset.toml"
    )
    cfg = load_config(path)
    if book == "multi_asset" and not _market_ok(cfg):
        pytest.skip("multi_asset.toml needs ../shared/data")
    app = DeskApp(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        holdings = app.query_one("#holdings", BookTable)
        assert holdings.has_focus and "▶ Holdings" in str(
            app.query_one("#holdings-pane").border_title
        )
        assert holdings.row_count >= min(8, len(cfg.book.holdings))
        rows_in_view = holdings.scrollable_content_region.height - 1  # the header row
        assert rows_in_view >= min(8, len(cfg.book.holdings))
        await pilot.press("tab")
        await pilot.pause()
        legs = app.query_one("#legs", BookTable)
        assert legs.has_focus and _fully_visible(app, legs)
        assert legs.row_count == len(cfg.book.hedges)
        assert "▶ Hedge legs" in str(app.query_one("#legs-pane").border_title)
        summary = app.query_one("#summary")
        width = summary.content_region.width
        lines = str(summary.render()).splitlines()
        assert len(lines) == 4 and all(len(line) <= width for line in lines)


def _market_ok(cfg) -> bool:
    try:
        load_market(cfg)
    except Exception:
        return False
    return True


async def test_a_leg_just_added_is_in_view_with_the_cursor_on_it(cfg):
    app = DeskApp(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await add(pilot, "future", ["MES long", "SP500", "1", "MES"])
        await settle(app, pilot)
        legs = app.query_one("#legs", BookTable)
        assert legs.has_focus and legs.cursor_row == 3 and _fully_visible(app, legs)
        assert "MES long" in str(legs.get_row_at(3)[0])


async def test_at_60x20_the_book_still_shows_rows(cfg):
    app = DeskApp(cfg)
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(app, pilot)
        await pilot.press("tab")
        await pilot.pause()
        legs = app.query_one("#legs", BookTable)
        assert legs.scrollable_content_region.height - 1 >= len(cfg.book.hedges)


async def test_no_number_is_cut_and_right_pages_the_columns(cfg):
    app = DeskApp(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("tab")
        await pilot.pause()
        legs = app.query_one("#legs", BookTable)
        shown = [str(c.label) for c in legs.columns.values()]
        assert shown[0] == "Leg" and len(shown) < 11
        total = sum(c.get_render_width(legs) for c in legs.columns.values())
        assert total <= legs.scrollable_content_region.width  # whole columns only
        assert "cols 2-" in str(app.query_one("#legs-pane").border_subtitle)
        seen = shown[1:]
        while "Theta/day" not in seen:  # right pages through the rest, Leg pinned
            await pilot.press("right")
            await pilot.pause()
            paged = [str(c.label) for c in legs.columns.values()]
            assert paged[0] == "Leg" and not set(paged[1:]) & set(seen)
            assert (
                sum(c.get_render_width(legs) for c in legs.columns.values())
                <= legs.scrollable_content_region.width
            )
            seen += paged[1:]
        assert seen == LEG_COLUMNS[1:]


# -- a broken config: the recovery screen ----------------------------------------------------
def _editor(tmp_path, script: str) -> str:
    """An $EDITOR that edits the file it is given non-interactively."""
    exe = tmp_path / "fix.py"
    exe.write_text(f"import sys, pathlib\np = pathlib.Path(sys.argv[1])\n{script}\n")
    return f"{sys.executable} {exe}"


async def test_a_book_the_data_refutes_opens_recovery_and_the_last_good_copy(cfg, tmp_path):
    text = cfg.path.read_text()
    last_good_path(cfg.path).write_text(text)
    broken = text.replace('ticker = "KO"', 'ticker = "ZZZ"')
    cfg.path.write_text(broken)
    app = DeskApp(load_config(cfg.path))
    async with app.run_test(size=(80, 24)) as pilot:
        while not isinstance(app.screen, RecoveryScreen):
            await pilot.pause()
        assert "ZZZ" in str(app.screen.query_one("#recovery-error", Static).render())
        await pilot.press("g")
        await settle(app, pilot)
        assert app.report is not None and app.cfg.book.holdings[-1].ticker == "KO"
    assert cfg.path.read_text() == text
    assert cfg.path.with_name("config.toml.rejected").read_text() == broken


async def test_recovery_edits_the_file_in_the_editor_and_reloads(cfg, tmp_path, monkeypatch):
    text = cfg.path.read_text()
    cfg.path.write_text(text.replace('ticker = "KO"', 'ticker = "ZZZ"'))
    monkeypatch.setenv(
        "VISUAL", _editor(tmp_path, "p.write_text(p.read_text().replace('\"ZZZ\"', '\"KO\"'))")
    )
    app = DeskApp(load_config(cfg.path))
    async with app.run_test(size=(80, 24)) as pilot:
        while not isinstance(app.screen, RecoveryScreen):
            await pilot.pause()
        await pilot.press("e")
        await settle(app, pilot)
        assert app.report is not None and app.cfg.book.holdings[-1].ticker == "KO"


async def test_a_config_the_loader_refuses_at_start_is_recovered(cfg, tmp_path, monkeypatch):
    good = cfg.path.read_text()
    cfg.path.write_text(good.replace("[book]", "[book\n", 1))
    monkeypatch.setenv("VISUAL", _editor(tmp_path, f"p.write_text({good!r})"))
    with pytest.raises(Exception) as err:
        load_config(cfg.path)
    app = RecoveryApp(cfg.path, str(err.value))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "not valid TOML" in str(app.screen.query_one("#recovery-error", Static).render())
        await pilot.press("r")  # still broken: the error stays
        await pilot.pause()
        assert app.is_running
        await pilot.press("e")
        await pilot.pause()
    assert app.return_value is not None and app.return_value.book == cfg.book


async def test_breach_marks_stand_out_without_colour(cfg, monkeypatch):
    """The focused pane's border is heavy (not only coloured) and breaches are reversed."""
    monkeypatch.setenv("NO_COLOR", "1")
    app = DeskApp(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        focused = app.query_one("#holdings-pane")
        assert focused.styles.border_top[0] == "heavy"
        assert app.query_one("#monitors-pane").styles.border_top[0] == "round"


def test_save_keeps_the_file_mode_of_the_last_good_copy(cfg):
    cfg.path.chmod(0o640)
    from hedgedesk.core.book.edit import BookEditor

    ed = BookEditor(cfg)
    ed.nudge("holding", 0)
    ed.save()
    assert stat.S_IMODE(last_good_path(cfg.path).stat().st_mode) == 0o640


async def test_a_finished_sweep_leaves_eight_holdings_in_view(cfg):
    """The sweep pane's lines never wrap at 80 columns: a run's result takes one line and the
    bar ends full, and the book keeps at least 8 rows.
    """
    from textual.widgets import ProgressBar

    from hedgedesk.tui.widgets.sweep_pane import SweepPane

    app = DeskApp(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("w")
        pane = app.query_one(SweepPane)
        while pane.running or pane.result is None:
            await pilot.pause(0.05)
        await settle(app, pilot)
        bar = app.query_one("#sweep-bar", ProgressBar)
        assert pane.result.status == "done" and bar.progress == bar.total
        assert app.query_one("#sweep-status").region.height == 1
        holdings = app.query_one("#holdings", BookTable)
        assert holdings.scrollable_content_region.height - 1 >= 8

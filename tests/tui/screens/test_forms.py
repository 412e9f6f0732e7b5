"""Forms that fit, by keys only: the desk's add-option form (9 fields) at 80x24 and 60x20 keeps
every field it tabs to on screen and its hint and error line in view; an error names and
marks its field, which gets the focus; the fix is applied.
"""

from __future__ import annotations

import pytest
from textual.widgets import Input, Label, Static

from hedgedesk.tui.app import DeskApp
from hedgedesk.tui.screens.forms import KIND_FIELDS, FieldsForm, FormScreen, named_field
from tests.tui.conftest import in_view, settle

OPTION = {
    "name": "SPX put 3000",
    "underlying": "SP500",
    "quantity": "1",
    "right": "put",
    "strike": "abc",
    "expiry": "2023-06-16",
    "volatility": "0.2",
    "dividend_yield": "0.01",
    "model": "bsm",
}


@pytest.fixture
def cfg(writable_demo):
    return writable_demo


@pytest.mark.parametrize("size", [(80, 24), (60, 20), (60, 14)])  # 14: the fields scroll
async def test_the_add_option_form_fits_tabs_into_view_and_names_the_bad_field(cfg, size):
    app = DeskApp(cfg)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        n_legs = len(app.cfg.book.hedges)
        await pilot.press("a")  # the kinds: holding, future, option, ...
        await pilot.pause()
        await pilot.press("down", "down", "enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, FormScreen) and screen.title_text == "Add a option"
        form = screen.query_one(FieldsForm)
        scroll = form.query_one(".form-fields")
        hint = form.query_one(".form-hint")
        assert "Enter applies · Esc cancels" in str(hint.render())
        assert in_view(app, screen.query_one(".form-title"))

        names = KIND_FIELDS["option"]
        assert len(names) == 9
        for i, name in enumerate(names):
            if i:
                await pilot.press("tab")
                await pilot.pause()
            box = app.focused
            assert box is form.input(name), (name, box)
            assert in_view(app, box, scroll), (name, box.region, scroll.region)
            assert in_view(app, hint) and in_view(app, form.query_one(".form-note"))
            await pilot.press("end", "ctrl+u", *OPTION[name])

        # back up with shift+tab: every field comes into view again
        for name in reversed(names[:-1]):
            await pilot.press("shift+tab")
            await pilot.pause()
            assert app.focused is form.input(name)
            assert in_view(app, app.focused, scroll), name

        await pilot.press("enter")  # strike "abc": refused, the form stays with the typing
        await pilot.pause()
        assert app.screen is screen
        error = screen.query_one("#form-error", Static)
        text = str(error.render())
        assert "strike" in text and "abc" in text
        assert in_view(app, error) and in_view(app, hint)
        strike = form.input("strike")
        assert app.focused is strike and in_view(app, strike, scroll)
        assert strike.has_class("-invalid")
        assert str(form.query_one("#field-label-strike", Label).render()).startswith("! ")
        assert [n for n in names if form.input(n).has_class("-invalid")] == ["strike"]
        assert form.input("name").value == OPTION["name"]  # nothing typed was lost

        await pilot.press("end", "ctrl+u", *"3000", "enter")
        await settle(app, pilot)
        assert not isinstance(app.screen, FormScreen), str(error.render())
        leg = app.cfg.book.hedges[-1]
        assert len(app.cfg.book.hedges) == n_legs + 1
        assert (leg.name, leg.right, leg.strike) == ("SPX put 3000", "put", 3000)


async def test_an_error_naming_another_field_moves_there_and_the_mark_follows(cfg):
    app = DeskApp(cfg)
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(app, pilot)
        await pilot.press("a")
        await pilot.pause()
        await pilot.press("down", "down", "enter")
        await pilot.pause()
        form = app.screen.query_one(FieldsForm)
        for i, name in enumerate(KIND_FIELDS["option"]):
            if i:
                await pilot.press("tab")
            value = {"strike": "3000", "volatility": "high"}.get(name, OPTION[name])
            await pilot.press("end", "ctrl+u", *value)
        await pilot.press("enter")  # from the last field (model): volatility is at fault
        await pilot.pause()
        assert app.focused is form.input("volatility")
        assert form.invalid == "volatility"
        assert form.input("volatility").has_class("-invalid")
        assert not form.input("strike").has_class("-invalid")
        await pilot.press("escape")  # cancelled: nothing added
        await settle(app, pilot)
        assert not isinstance(app.screen, FormScreen)
        assert len(app.cfg.book.hedges) == len(cfg.book.hedges)


async def test_the_shock_form_names_its_field(cfg):
    app = DeskApp(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("x", "tab", *"lots", "enter")  # ticker market, shock "lots"
        await pilot.pause()
        form = app.screen.query_one(FieldsForm)
        assert form.invalid == "shock" and app.focused is form.input("shock")
        assert isinstance(app.focused, Input)


def test_named_field_finds_the_field_an_error_is_about():
    names = {n: (n,) for n in KIND_FIELDS["option"]}
    assert (
        named_field(
            "error: /x/config.toml: book.hedges[3].strike: got 'abc', expected a number", names
        )
        == "strike"
    )
    assert named_field("error: book.hedges[3].right: got 'cll'", names) == "right"
    assert named_field("error: strike: missing", names) == "strike"
    assert named_field("error: the market data is still loading", names) is None
    # a name followed by a colon wins over an earlier mention; spellings: key or label
    spelled = {
        "vol_cap": ("vol_cap", "vol cap"),
        "long_only": ("long_only", "long only"),
        "gross_max": ("gross_max", "gross max"),
    }
    assert named_field("NOT SOLVED: vol cap: invalid number 'abc'", spelled) == "vol_cap"
    assert (
        named_field("gross max applies to long-short books (long only: no)", spelled) == "long_only"
    )
    # a one-letter label counts only before a colon, never as a word in prose
    short = {"window": ("window", "W"), "cost": ("cost", "c")}
    assert named_field("W: expected a whole number, got '6o'", short) == "window"
    assert named_field("too little history: c a W", short) is None
    # the longer of two names at one place: "hedge ratio", not "hedge"
    grid = {"hedge": ("hedge",), "hedge ratio": ("hedge ratio",)}
    assert named_field("hedge ratio: got 'x'", grid) == "hedge ratio"

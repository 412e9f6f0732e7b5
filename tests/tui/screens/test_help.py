"""`?` shows the keys of the screen in view, by keys only: each screen's own bindings (the
optimiser's f frontier, the scenarios' t toggle, ...), never the desk's (w sweep); on the desk,
the desk's keys.
"""

from __future__ import annotations

import pytest

from hedgedesk.tui.app import DeskApp
from hedgedesk.tui.screens.help import HelpScreen
from tests.tui.conftest import settle

DESK_ONLY = "Run the config's sweep grid"  # the desk's w: no other screen has it


def key_of(lines: list[str], what: str) -> str | None:
    """The key column of the help line whose text is ``what``."""
    for line in lines:
        keys, _, text = line.strip().partition("  ")
        if text.strip() == what:
            return keys
    return None


# desk key -> the screen's own keys (key as displayed, description)
SCREENS = {
    "o": (
        "Optimizer",
        [
            ("f", "Frontier chart"),
            ("e", "Edit the form (Esc: back to results)"),
            ("?", "Help: the keys here"),
        ],
    ),
    "b": ("Backtest", [("v", "Equity/beta"), ("e", "Edit the form (Esc: back to results)")]),
    "c": ("Scenarios", [("t", "Toggle leg"), ("?", "Help: the keys here")]),
    "g": ("Data", [("f", "Fetch"), ("⏎", "Gaps")]),
}


@pytest.mark.parametrize("key", list(SCREENS))
async def test_question_mark_lists_the_keys_of_the_screen_in_view(cfg, key):
    name, keys = SCREENS[key]
    app = DeskApp(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press(key)
        await settle(app, pilot)
        screen = app.screen
        assert type(screen).__name__ == f"{name}Screen"
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen) and app.screen.target is screen
        lines = app.screen._lines
        for shown, what in keys:
            assert key_of(lines, what) == shown, (what, lines)
        assert name in app.screen.title_text
        text = "\n".join(lines)
        assert DESK_ONLY not in text and "Replay" not in text
        assert key_of(lines, "Quit") == "^q / ^c"  # the app's priority keys work here too
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen  # closing help leaves the screen as it was


async def test_the_desk_help_and_the_pick_list_help(cfg):
    app = DeskApp(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert key_of(app.screen._lines, DESK_ONLY) == "w"
        await pilot.press("escape", "a")  # the add picker: its own keys, not the desk's
        await pilot.pause()
        picker = app.screen
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen) and app.screen.target is picker
        assert key_of(app.screen._lines, "Cancel") == "esc"
        assert DESK_ONLY not in "\n".join(app.screen._lines)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is picker

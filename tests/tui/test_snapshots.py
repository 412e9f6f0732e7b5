"""Screen snapshots of the desk (SVG, in __snapshots__): 80x24, 120x40 and under NO_COLOR.

A changed screen fails here with a side-by-side report; when the change is intended, refresh
with `pytest tests/tui/test_snapshots.py --snapshot-update` and review the SVGs in the diff.
"""

from __future__ import annotations

import pytest

from core.config import load_config, resolve_config_path
from tui.app import DeskApp


async def _loaded(pilot):
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_desk(snap_compare, size):
    app = DeskApp(load_config(resolve_config_path()))
    assert snap_compare(app, terminal_size=size, run_before=_loaded)


def test_desk_no_color(snap_compare, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = DeskApp(load_config(resolve_config_path()))
    assert snap_compare(app, terminal_size=(80, 24), run_before=_loaded)


def test_help_screen(snap_compare):
    app = DeskApp(load_config(resolve_config_path()))

    async def open_help(pilot):
        await _loaded(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=open_help)

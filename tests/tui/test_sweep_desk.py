"""On the desk itself: a sweep started on the Sweep screen (W, g, enter) runs on the desk's
Sweep pane, so Esc back to the desk leaves it running with its progress in the pane, and the
desk's Esc cancels it, resumable.
"""

from __future__ import annotations

import re

from textual.widgets import Static

from hedgedesk.core.sweep.ledger import Ledger
from hedgedesk.tui.app import DeskApp
from hedgedesk.tui.screens.sweep import SweepScreen
from hedgedesk.tui.widgets.sweep_pane import SweepPane
from tests.tui.conftest import SlowCpu, settle, until


async def test_a_sweep_from_the_screen_keeps_running_on_the_desk(cfg, monkeypatch):
    monkeypatch.setattr(
        "hedgedesk.core.sweep.engine.choose_backend", lambda name: (SlowCpu(), "cpu (test)")
    )
    app = DeskApp(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        pane = app.query_one(SweepPane)
        await pilot.press("W")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SweepScreen)
        await pilot.press("g", "enter")  # the config's grid, from the form
        await until(
            pilot,
            lambda: pane.progress is not None and pane.progress.done > 0,
            "the sweep under way",
        )
        assert "x cancel sweep" in str(screen.query_one("#sw-status", Static).render())

        await pilot.press("escape")  # back on the desk: the sweep goes on
        await pilot.pause()
        assert app.screen is app.screen_stack[0] and pane.running
        done = pane.progress.done
        await until(pilot, lambda: pane.progress.done > done, "progress on the desk")
        status = str(pane.query_one("#sweep-status", Static).render())
        assert re.search(r"sweep \w+: [\d,]+/21,384 \d+% .* config-days/s .*ETA", status), status

        await pilot.press("escape")  # the desk's own key: cancel
        await until(pilot, lambda: not pane.running, "the cancel")
        assert pane.result.status == "cancelled"
        with Ledger() as ledger:
            rec = ledger.get(pane.result.run_id)
        assert rec.status == "cancelled" and 0 < rec.n_done < rec.n_configs

"""On the desk itself: a sweep started on the Sweep screen (W, g, enter) runs on the desk's
Sweep pane, so Esc back to the desk leaves it running with its progress in the pane, and the
desk's Esc cancels it, resumable.
"""

from __future__ import annotations

import re
import time

import pytest
from hedgedesk.core.config import load_config, resolve_config_path
from hedgedesk.core.sweep.engine import CpuBackend
from hedgedesk.core.sweep.ledger import Ledger
from hedgedesk.tui.app import DeskApp
from hedgedesk.tui.screens.sweep import SweepScreen
from hedgedesk.tui.widgets.sweep_pane import SweepPane
from textual.widgets import Static


class SlowCpu(CpuBackend):
    def run(self, row0, count, rows=None):
        time.sleep(count * 2e-4)
        return super().run(row0, count, rows)


async def until(pilot, cond, what: str, steps: int = 600):
    for _ in range(steps):
        if cond():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"never: {what}")


@pytest.fixture
def cfg():
    return load_config(resolve_config_path())


async def test_a_sweep_from_the_screen_keeps_running_on_the_desk(cfg, monkeypatch):
    monkeypatch.setattr(
        "hedgedesk.core.sweep.engine.choose_backend", lambda name: (SlowCpu(), "cpu (test)")
    )
    app = DeskApp(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
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

"""Benchmark: how fast the desk answers a key while a sweep runs in the background.

The demo desk runs headless at 80x24. A key event (down, then up, in the holdings table) is
timed from its arrival to the moment the table's cursor has moved, first with the desk idle
(the baseline, in this same process), then while a sweep (the config's grid, ten times finer
in exposure) runs on the CPU kernel in a worker, every core busy. Target: under 100 ms.
Run: python bench/keys.py [--presses N]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import time

import numpy as np
from textual import events
from textual.widgets import DataTable

from hedgedesk.core.config import load_config, resolve_config_path
from hedgedesk.core.sweep.ledger import Ledger
from hedgedesk.tui.app import DeskApp, sweep_request
from hedgedesk.tui.widgets.sweep_pane import SweepPane


async def press_times(app, n: int) -> list[float]:
    """Post key events as a terminal would (no test-driver pauses) and time each one until
    the table's cursor has moved.
    """
    table = app.query_one("#holdings", DataTable)
    table.focus()
    await asyncio.sleep(0.2)
    times = []
    for i in range(n):
        key, want = ("down", 1) if i % 2 == 0 else ("up", 0)
        t0 = time.perf_counter()
        app.post_message(events.Key(key, None))
        while table.cursor_row != want:
            await asyncio.sleep(0.0005)
        times.append(time.perf_counter() - t0)
        await asyncio.sleep(0.02)  # a fast typist, not a flood
    return times


async def main(presses: int) -> None:
    import tempfile
    from pathlib import Path

    cfg = load_config(resolve_config_path())
    app = DeskApp(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        idle = await press_times(app, presses)
        with tempfile.TemporaryDirectory() as tmp, Ledger(Path(tmp) / "runs.sqlite") as ledger:
            pane = app.query_one(SweepPane)
            request = sweep_request(cfg)  # ten times the demo grid: it outlasts the presses
            grid = dataclasses.replace(request.grid, exposure=tuple(np.linspace(0.5, 1.5, 110)))
            pane.start(dataclasses.replace(request, grid=grid), app.market, ledger)
            starting = await press_times(app, 20)  # while the engine loads (numba, kernel)
            while pane.running and "config-days/s" not in str(
                app.query_one("#sweep-status").render()
            ):
                await asyncio.sleep(0.05)  # the kernel is loaded and sweeping
            busy = await press_times(app, presses)
            swept = pane.running
            pane.stop()
            await app.workers.wait_for_complete()

    def describe(xs: list[float]) -> str:
        xs = sorted(xs)
        return (
            f"median {statistics.median(xs) * 1e3:6.1f} ms, p95 "
            f"{xs[int(0.95 * (len(xs) - 1))] * 1e3:6.1f} ms, max {xs[-1] * 1e3:6.1f} ms"
        )

    print(f"key to screen, desk idle      {describe(idle)}")
    print(f"key to screen, sweep starting {describe(starting)}")
    print(
        f"key to screen, sweep running  {describe(busy)}  = "
        f"{statistics.median(busy) / statistics.median(idle):.2f}x idle (median)"
    )
    if not swept:
        print("note: the sweep ended before every press was timed")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presses", type=int, default=60)
    asyncio.run(main(ap.parse_args().presses))

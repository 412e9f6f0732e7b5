"""Benchmark: how long a sweep's cancel takes to take effect, on the demo config's [sweep] grid
(4 legs, 21,384 configurations, the demo data), as the desk runs it.

  (a)  engine: ``run_sweep`` driven from a worker thread with a ledger (as the desk's pane
       does); the cancel event is set once a third of the work is done; the latency is the
       time from the set to the generator's return (the run recorded cancelled).
  (b)  cold: the same in a fresh process with an empty numba cache, the cancel set 0.3 s after
       the start, while the kernel compiles.
  (c)  desk: the desk headless (``DeskApp.run_test``) at 80x24: ``w``, then Esc once a third is
       done; the latency is from the key to the pane's "cancelled".
  (d)  at scale (``--big N``): a SYNTHETIC grid of N configurations over 250 days
       (``bench/sweep_scale.py``'s), cancelled 2 s into the grid; and the same grid run to its
       end, cancelled 0.3 s after its scoring began (the out-of-sample pass, PBO and its
       bootstrap, the leaders' re-runs): minutes per trial at 1e8.

Run: python bench/sweep_cancel.py [--trials N] [--skip-cold] [--skip-desk] [--big 100000000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

AT = 1 / 3  # share of the work done when the cancel comes


def _share(p) -> float:
    return getattr(p, "fraction", p.done / p.total)


def engine_once(at: float | None = AT, delay: float | None = None) -> float:
    """One run of (a) (``at``: share of the work) or (b) (``delay``: seconds from the start)."""
    from hedgedesk.core.config import load_config, resolve_config_path
    from hedgedesk.core.data.sources import load_market
    from hedgedesk.core.sweep.engine import CpuBackend, run_sweep
    from hedgedesk.core.sweep.ledger import Ledger
    from hedgedesk.tui.app import sweep_request

    cfg = load_config(resolve_config_path())
    market = load_market(cfg)
    cancel = threading.Event()
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp, Ledger(Path(tmp) / "runs.sqlite") as ledger:

        def worker():
            gen = run_sweep(sweep_request(cfg), market, ledger, cancel=cancel, backend=CpuBackend())
            try:
                while True:
                    p = next(gen)
                    if at is not None and _share(p) >= at and not cancel.is_set():
                        out["set"] = time.perf_counter()
                        cancel.set()
            except StopIteration as stop:
                out["end"] = time.perf_counter()
                out["status"] = stop.value.status

        thread = threading.Thread(target=worker)
        thread.start()
        if delay is not None:
            time.sleep(delay)
            out["set"] = time.perf_counter()
            cancel.set()
        thread.join()
    if out["status"] != "cancelled":
        raise RuntimeError(f"the run ended {out['status']} before the cancel")
    return out["end"] - out["set"]


def big_once(configs: int, phase: str, delay: float) -> float:
    """One run of (d): the cancel set ``delay`` seconds after the first progress event of
    ``phase`` (``sweep`` or ``scoring``); the latency from the set to the generator's return.
    """
    sys.path.insert(0, str(Path(__file__).parent))
    from sweep import synthetic_market
    from sweep_scale import scale_grid

    from hedgedesk.core.sweep.engine import CpuBackend, SweepRequest, run_sweep
    from hedgedesk.core.sweep.ledger import Ledger

    market, legs = synthetic_market(250, n_legs=1)
    request = SweepRequest(scale_grid(configs, legs), walk_forward=0.7)
    cancel = threading.Event()
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp, Ledger(Path(tmp) / "runs.sqlite") as ledger:

        def later():
            time.sleep(delay)
            out["set"] = time.perf_counter()
            cancel.set()

        gen = run_sweep(request, market, ledger, cancel=cancel, backend=CpuBackend())
        try:
            while True:
                p = next(gen)
                if p.phase.startswith(phase) and "timer" not in out:
                    out["timer"] = threading.Thread(target=later, daemon=True)
                    out["timer"].start()
        except StopIteration as stop:
            end = time.perf_counter()
            status = stop.value.status
    if status != "cancelled":
        raise RuntimeError(f"the run ended {status} before the cancel")
    return end - out["set"]


async def desk_once() -> float:
    from textual import events
    from textual.widgets import ProgressBar

    from hedgedesk.core.config import load_config, resolve_config_path
    from hedgedesk.tui.app import DeskApp
    from hedgedesk.tui.widgets.sweep_pane import SweepPane

    app = DeskApp(load_config(resolve_config_path()))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        pane = app.query_one(SweepPane)
        bar = pane.query_one("#sweep-bar", ProgressBar)
        # keys posted, not pressed: the pilot's press would wait for the app to go idle
        app.post_message(events.Key("w", "w"))
        while not pane.running or (bar.percentage or 0.0) < AT:  # the pane's own bar
            await asyncio.sleep(0.01)
        t = time.perf_counter()
        app.post_message(events.Key("escape", None))
        while pane.running:
            await asyncio.sleep(0.005)
        took = time.perf_counter() - t
        if pane.result.status != "cancelled":
            raise RuntimeError(f"the run ended {pane.result.status} before the cancel")
        return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--skip-cold", action="store_true")
    parser.add_argument("--skip-desk", action="store_true")
    parser.add_argument("--big", type=int, default=0, help="configurations of (d); 0: skip it")
    parser.add_argument("--cold-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cold_child:
        print(engine_once(at=None, delay=0.3))
        return
    os.environ.setdefault("HEDGEDESK_LEDGER", str(Path(tempfile.mkdtemp()) / "runs.sqlite"))
    engine_once(at=0.01)  # the kernel compiled and cached once, so (a) and (c) are warm

    def show(name: str, xs: list[float]) -> None:
        print(
            f"{name}: median {statistics.median(xs) * 1e3:.0f} ms, max {max(xs) * 1e3:.0f} "
            f"ms over {len(xs)} ({', '.join(f'{x * 1e3:.0f}' for x in xs)} ms)"
        )

    show("(a) engine, cancel at 1/3", [engine_once() for _ in range(args.trials)])
    if not args.skip_cold:
        cold = []
        for _ in range(max(1, args.trials // 2)):
            with tempfile.TemporaryDirectory() as cache:
                env = {**os.environ, "NUMBA_CACHE_DIR": cache}
                run = subprocess.run(
                    [sys.executable, __file__, "--cold-child"],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                cold.append(float(run.stdout.strip().splitlines()[-1]))
        show("(b) cold kernel, cancel 0.3 s in", cold)
    if args.big:
        trials = max(1, args.trials // 2)
        show(
            f"(d) {args.big:,} configurations, 2 s into the grid",
            [big_once(args.big, "sweep", 2.0) for _ in range(trials)],
        )
        show(
            f"(d) {args.big:,} configurations, 0.3 s into the scoring",
            [big_once(args.big, "scoring", 0.3) for _ in range(trials)],
        )
    if not args.skip_desk:
        with tempfile.TemporaryDirectory() as home:
            os.environ["XDG_STATE_HOME"] = home
            show("(c) desk, Esc at 1/3", [asyncio.run(desk_once()) for _ in range(args.trials)])


if __name__ == "__main__":
    main()

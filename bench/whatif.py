"""Benchmark: a what-if edit on the desk, from the key press to the new figures on screen.

The desk runs headless (Textual's run_test) at 120x40 on a writable copy of the demo book; each
of N nudges (``-`` on the first hedge leg, the short ES future: one more contract short each
time; with ``--alternate``, ``+`` then ``-``, so every other edit returns to the saved book and
the change markers come and go) is timed from
the key press to the first screen refresh after the desk handled the edit's BookRecomputed
(the panes filled and painted). Baseline, in the same run: the core recompute alone
(``risk_report`` on the prepared market state, its correlations computed afresh) for the same
edited book. A second desk holds a synthetic book of
500 holdings on generated prices (a temporary folder): the time from the app's start to its
figures on screen, and its edits timed the same way. Target: an edit <= 50 ms end to end.
Run: python bench/whatif.py [--nudges N]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

import hedgedesk.tui.app as desk
from hedgedesk.core.book.risk import risk_report
from hedgedesk.core.book.valuation import market_state
from hedgedesk.core.config import load_config
from hedgedesk.core.data.sources import load_market
from hedgedesk.core.demo import demo_config_path
from hedgedesk.tui.messages import BookRecomputed, DeskLoaded

SIZE = (120, 40)


class Timed(desk.DeskApp):
    """The desk, marking when the figures of a load or an edit reach the screen."""

    CSS_PATH = Path(desk.__file__).parent / "desk.tcss"

    def __init__(self, cfg):
        super().__init__(cfg)
        self.painted = asyncio.Event()
        self.painted_at = 0.0

    def _mark(self) -> None:
        self.painted_at = time.perf_counter()
        self.painted.set()

    # Textual calls DeskApp's handler after each of these (it walks the MRO): no super() here,
    # which would handle each message twice; the refresh waited for follows DeskApp's
    def on_desk_loaded(self, message: DeskLoaded) -> None:
        self.call_after_refresh(self._mark)

    def on_book_recomputed(self, message: BookRecomputed) -> None:
        if message.generation == self._generation:
            self.call_after_refresh(self._mark)


async def run_desk(cfg, nudges: int, alternate: bool) -> tuple[float, list[float]]:
    """(seconds from the app's start to its figures on screen, each edit's seconds)."""
    app = Timed(cfg)
    t0 = time.perf_counter()
    async with app.run_test(size=SIZE) as pilot:
        await app.painted.wait()
        figures = app.painted_at - t0
        await app.workers.wait_for_complete()
        await pilot.pause()
        app.query_one("#legs").focus()
        await pilot.pause()
        edits = []
        for i in range(nudges):
            app.painted.clear()
            start = time.perf_counter()
            await pilot.press("plus" if alternate and i % 2 == 0 else "minus")
            await asyncio.wait_for(app.painted.wait(), 30)  # a refused edit posts nothing
            edits.append(app.painted_at - start)
    return figures, edits


def core_recompute(cfg, repeats: int) -> list[float]:
    """The core's recompute alone of the book after a nudge of its first hedge leg, on the
    prepared market state, its correlations computed afresh each time (as before issue 14).
    """
    from hedgedesk.core.book.edit import BookEditor

    edited = BookEditor(cfg).nudge("hedge", 0, 1)
    state = market_state(edited, load_market(edited))
    out = []
    for _ in range(repeats):
        cold = replace(state, _correlations={})
        t = time.perf_counter()
        risk_report(edited, cold)
        out.append(time.perf_counter() - t)
    return out


def big_book(folder: Path, holdings: int = 500, days: int = 800) -> Path:
    """A config of ``holdings`` stocks and one ES future leg on synthetic daily closes."""
    rng = np.random.default_rng(14)
    dates = pd.bdate_range("2020-01-02", periods=days)
    market = rng.normal(0.0003, 0.01, days)
    tickers = [f"S{i:03d}" for i in range(holdings)]
    betas = rng.uniform(0.5, 1.5, holdings)
    rets = market[:, None] * betas + rng.normal(0, 0.015, (days, holdings))
    closes = 50 * np.cumprod(1 + rets, axis=0)
    frame = pd.DataFrame(closes, index=dates, columns=tickers)
    frame.insert(0, "BENCH", 3000 * np.cumprod(1 + market))
    frame.index.name = "date"
    frame.round(4).to_csv(folder / "prices.csv")
    rows = "".join(
        f'\n[[book.holdings]]\nticker = "{t}"\nquantity = {int(q)}\n'
        for t, q in zip(tickers, rng.integers(10, 500, holdings), strict=True)
    )
    text = f"""[data]
source = "files"
paths = ["prices.csv"]
start = ""
end = ""
benchmark = "BENCH"

[risk]
rf = 0.0
rate = 0.04
beta_window = 252
var_confidence = 0.95
var_window = 504

[targets]
beta = 0.50
beta_band = 0.05
volatility = 0.12
var_limit = 0.02
max_drawdown = 0.10
hedge_future = "ES"

[proxies]
ES = {{ underlying = "BENCH" }}

[book]
name = "500 holdings"
cash = 100000.0
{rows}
[[book.hedges]]
name = "ES short"
instrument = "future"
contract = "ES"
underlying = "BENCH"
quantity = -2
"""
    path = folder / "config.toml"
    path.write_text(text)
    return path


def ms(xs: list[float]) -> str:
    xs = sorted(xs)
    p95 = xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))]
    return f"median {statistics.median(xs) * 1e3:6.1f} ms, p95 {p95 * 1e3:6.1f} ms"


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nudges", type=int, default=30)
    ap.add_argument("--alternate", action="store_true", help="+ then -, back to the saved book")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        demo = folder / "demo"
        demo.mkdir()
        shutil.copy(demo_config_path(), demo / "config.toml")
        cfg = load_config(demo / "config.toml")
        figures, edits = await run_desk(cfg, args.nudges, args.alternate)
        core = core_recompute(cfg, args.nudges)
        big = folder / "big"
        big.mkdir()
        big_cfg = load_config(big_book(big))
        big_figures, big_edits = await run_desk(big_cfg, max(args.nudges // 3, 4), args.alternate)
        big_core = core_recompute(big_cfg, max(args.nudges // 3, 4))
    c = statistics.median(core)
    e = statistics.median(edits)
    print(f"demo desk, figures on screen from app start   {figures:.3f} s")
    print(f"demo, core recompute alone (baseline)         {ms(core)}")
    print(f"demo, edit: key to figures on screen          {ms(edits)} = {e / c:.1f}x core")
    bc, be = statistics.median(big_core), statistics.median(big_edits)
    print(f"500 holdings, figures on screen from start    {big_figures:.3f} s")
    print(f"500 holdings, core recompute alone            {ms(big_core)}")
    print(f"500 holdings, edit: key to figures on screen  {ms(big_edits)} = {be / bc:.1f}x core")
    print(f"target: edit <= 50 ms end to end: demo {e * 1e3 / 50:.2f}x the target")


if __name__ == "__main__":
    asyncio.run(main())

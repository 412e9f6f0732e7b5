"""Benchmark: the whole ``hedgedesk sweep`` on the 5-leg study against a minimal script doing
the same simulation, in one process.

The study (issue 15): AAPL, MSFT, GOOGL, AMZN and META each hedged with QQQ, 2016-2023, on the
real daily data in ``../shared/data`` (mag7 and etf folders), a grid of 96,000 configurations
(P 1/5/10/21 x W 20/60/120/250 x OLS, EWMA 20, EWMA 60 x k 0.5..1.5 (10) x h 0.25..1.25 (5) x
d 0/0.02, under costs 0/5/10/20 bp).

  minimal: pandas reads the six files, aligns each leg with QQQ and clips the dates, takes
           returns, runs the kernel on every configuration (``kernel.run_cpu``) and scores them
           (target score, best per leg): the simulation and nothing else.
  whole:   ``hedgedesk sweep ... --json`` called in this process (its stdout captured), with a
           run ledger in a temporary folder: data loading through hedgedesk's loaders, the plan
           and its calibration, the stream (scores, top K, marginals, sample), the ledger, the
           leaders' replays and deflated Sharpe, PBO, the walk-forward's pass, the JSON.

Both are warm (the kernel compiled and cached, first run discarded), alternated, three runs
each. Prints each wall time, the share of the whole run beyond the minimal script
(``1 - minimal / whole``: target <= 25 %) and the whole run's own timings.

Run: python bench/sweep_study.py [--shared ../shared] [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from hedgedesk.core.levels import parse_levels
from hedgedesk.core.sweep import kernel as K
from hedgedesk.core.sweep.grid import Grid, Leg, estimators
from hedgedesk.core.sweep.score import DEFAULT_TARGETS
from hedgedesk.core.sweep.stream import named, scores
from hedgedesk.tui.cli.main import main as cli

LEGS = ("AAPL", "MSFT", "GOOGL", "AMZN", "META")
START, END = "2016-01-01", "2023-12-31"
FLAGS = [
    "--tickers", ",".join(LEGS), "--hedge", "QQQ",
    "--rebalance", "1,5,10,21", "--window", "20,60,120,250",
    "--estimator", "ols,ewma", "--halflife", "20,60",
    "--exposure", "0.5:1.5:10", "--hedge-ratio", "0.25:1.25:5", "--drift-band", "0,0.02",
    "--cost", "0,0.0005,0.001,0.002", "--start", START, "--end", END, "--top", "20",
]  # fmt: skip
GRID = Grid(
    legs=tuple(Leg(t, (t,)) for t in LEGS),
    hedge="QQQ",
    rebalance=(1, 5, 10, 21),
    window=(20, 60, 120, 250),
    estimator=estimators(("ols", "ewma"), (20.0, 60.0)),
    exposure=parse_levels("0.5:1.5:10"),
    hedge_ratio=parse_levels("0.25:1.25:5"),
    drift_band=(0.0, 0.02),
    cost=(0.0, 0.0005, 0.001, 0.002),
)


def minimal(data: Path) -> tuple[float, dict]:
    """The simulation alone: (seconds, best score per leg)."""
    t0 = time.perf_counter()
    hedge = pd.read_csv(
        data / "etf" / "QQQ.csv", skiprows=4, header=None, usecols=[0, 1], index_col=0
    )[1]
    hedge.index = pd.to_datetime(hedge.index)
    best = {}
    for ticker in LEGS:
        close = pd.read_csv(
            data / "mag7" / f"{ticker}.csv", usecols=["Date", "Close"], index_col=0
        )["Close"]
        close.index = pd.to_datetime(close.index)
        both = pd.concat([close, hedge], axis=1, join="inner").loc[START:END]
        r = (both / both.shift(1) - 1.0).iloc[1:].to_numpy()
        tables = K.leg_tables(GRID, r[:, 0], r[:, 1])
        args = K.kernel_args(GRID, tables, 0, len(r), len(r), 8, 0.0, 252)
        arrays = named(K.run_cpu(args, 0, GRID.rows_per_leg), 8)
        best[ticker] = float(np.nanmax(scores(arrays, DEFAULT_TARGETS)))
    return time.perf_counter() - t0, best


def whole(data: Path, ledger: Path) -> tuple[float, dict]:
    """``hedgedesk sweep --json`` in this process: (seconds, its JSON)."""
    out = io.StringIO()
    argv = ["sweep", "--data", str(data / "mag7"), "--data", str(data / "etf"), *FLAGS]
    argv += ["--json", "--yes", "--ledger", str(ledger)]
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = cli(argv)
    took = time.perf_counter() - t0
    if code != 0:
        raise SystemExit(f"hedgedesk sweep exited {code}")
    return took, json.loads(out.getvalue())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=Path("../shared"))
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    data = args.shared / "data"
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Path(tmp) / "runs.sqlite"
        minimal(data)  # warm: the kernel loaded, the files in the page cache
        whole(data, ledger)
        rows = []
        for _ in range(args.repeats):
            m, _ = minimal(data)
            w, summary = whole(data, ledger)
            rows.append((m, w, summary))
    print(f"{GRID.n_rows:,} configurations, {len(LEGS)} legs, {START}..{END}")
    for m, w, s in rows:
        t = s["timings"]
        print(
            f"minimal {m:6.2f} s | whole {w:6.2f} s | beyond the simulation "
            f"{1 - m / w:5.1%} | whole's kernel {t['kernel_s']:.2f} s, stream "
            f"{t['stream_s']:.2f} s, ledger {t['ledger_s']:.2f} s, scoring {t['score_s']:.2f} s, "
            f"prepare {t['prepare_s']:.2f} s"
        )
    share = [1 - m / w for m, w, _ in rows]
    median = 1 - float(np.median([m for m, _, _ in rows])) / float(
        np.median([w for _, w, _ in rows])
    )
    print(
        f"share beyond the simulation: {min(share):.1%}..{max(share):.1%}, "
        f"{median:.1%} of the median times (target <= 25 %)"
    )


if __name__ == "__main__":
    main()

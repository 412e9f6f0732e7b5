"""Benchmark: reading price files (issue 14), each figure against a baseline in the same run.

1. The 28 files of ``../shared/data/etf`` and ``mag7`` (real yfinance and OHLCV CSVs) read by
   ``hedgedesk.core.data.price_files.load_paths`` (every check made) against a plain
   ``pandas.read_csv`` of the same files (no checks): the ratio (target <= 2x). Skipped, with
   a message, when ``../shared`` is absent.
2. ``hedgedesk beta --data ../shared/data/etf --asset SPY --benchmark QQQ`` (the 21-file
   folder) against the same command given the two files: the ratio (target about 1x: only
   the tickers asked for are read).
3. A SYNTHETIC wide CSV (seeded random walks, 500 tickers x 30 years of business days, about
   40 MB, written to a temporary folder in the README's ``date,T1,T2,..`` layout, the first
   50 tickers listed later than the others): ``hedgedesk data check`` and ``hedgedesk risk``
   (a config with ``source = "files"`` naming it) as whole processes, and the load behind the
   desk's figures (``load_market`` + ``market_state``) in this process; seconds each
   (target < 3 s).

Each figure is the best of REPEAT runs. Run: python bench/data_load.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from hedgedesk.core.data.price_files import load_paths

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
REPEAT = 3
TICKERS, YEARS, SEED = 500, 30, 20261206


def best(fn: Callable[[], object], repeat: int = REPEAT) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def cli(*args: str) -> Callable[[], None]:
    def run() -> None:
        subprocess.run(
            [sys.executable, "-m", "hedgedesk.tui.cli", *args],
            check=True,
            stdout=subprocess.DEVNULL,
            cwd=ROOT,
        )

    return run


def shared_files() -> None:
    files = sorted([*(SHARED / "etf").glob("*.csv"), *(SHARED / "mag7").glob("*.csv")])
    ours = best(lambda: load_paths(files), 5)
    plain = best(lambda: [pd.read_csv(f) for f in files], 5)
    print(f"1. {len(files)} shared files: hedgedesk {ours:.3f} s, pandas.read_csv {plain:.3f} s")
    print(f"   ratio {ours / plain:.2f}x (target <= 2x)")


def beta_lazy() -> None:
    etf = SHARED / "etf"
    folder = best(cli("beta", "--data", str(etf), "--asset", "SPY", "--benchmark", "QQQ"))
    two = best(
        cli(
            "beta",
            "--data",
            str(etf / "SPY.csv"),
            "--data",
            str(etf / "QQQ.csv"),
            "--asset",
            "SPY",
            "--benchmark",
            "QQQ",
        )
    )
    print(f"2. beta SPY on QQQ: --data etf/ (21 files) {folder:.2f} s, two files {two:.2f} s")
    print(f"   ratio {folder / two:.2f}x (target about 1x)")


def synthetic_csv(folder: Path) -> Path:
    rng = np.random.default_rng(SEED)
    days = pd.bdate_range("1995-01-02", periods=YEARS * 261)
    steps = rng.normal(0.0003, 0.015, (len(days), TICKERS))
    prices = 20.0 * np.exp(np.cumsum(steps, axis=0)) * rng.uniform(1, 10, TICKERS)
    frame = pd.DataFrame(prices, index=days, columns=[f"T{i:03d}" for i in range(TICKERS)])
    for i in range(50):  # listed later: no row (an empty cell) before their first day
        frame.iloc[: 100 * (i + 1), i] = np.nan
    frame.index.name = "date"
    path = folder / "universe.csv"
    frame.to_csv(path, float_format="%.8g", date_format="%Y-%m-%d")
    return path


def synthetic_config(folder: Path, csv: Path) -> Path:
    holdings = "".join(
        f'[[book.holdings]]\nticker = "T{i:03d}"\nquantity = {100 + i}\ncost_basis = 50.0\n\n'
        for i in range(100, 120)
    )
    demo = (ROOT / "config.toml").read_text(encoding="utf-8")
    risk_and_targets = demo[demo.index("[risk]") : demo.index("# How to price")]
    path = folder / "config.toml"
    path.write_text(
        f'[data]\nsource = "files"\npaths = ["{csv}"]\nbenchmark = "T499"\n\n'
        f"{risk_and_targets}"
        '[proxies]\nES = { underlying = "T499" }\n\n'
        f'[book]\nname = "Synthetic 20-line book"\ncash = 100000.0\n\n{holdings}',
        encoding="utf-8",
    )
    return path


def desk_load(config: Path) -> None:
    from hedgedesk.core.book.valuation import market_state
    from hedgedesk.core.config import load_config
    from hedgedesk.core.data.sources import load_market

    cfg = load_config(config)
    market_state(cfg, load_market(cfg))


def synthetic() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        csv = synthetic_csv(folder)
        config = synthetic_config(folder, csv)
        size = csv.stat().st_size / 1e6
        print(f"3. synthetic {TICKERS} tickers x {YEARS} years, one {size:.0f} MB wide CSV:")
        check = best(cli("data", "check", str(csv), "--json"))
        print(f"   hedgedesk data check      {check:.2f} s (whole process; target < 3 s)")
        risk = best(cli("risk", "--config", str(config), "--json"))
        print(f"   hedgedesk risk            {risk:.2f} s (whole process; target < 3 s)")
        desk = best(lambda: desk_load(config))
        print(f"   desk figures' load        {desk:.2f} s (load_market + market_state)")
        plain = best(lambda: pd.read_csv(csv, index_col=0))
        print(f"   (pandas.read_csv alone    {plain:.2f} s)")


def main() -> None:
    os.environ.setdefault("HEDGEDESK_CACHE", tempfile.mkdtemp())
    if SHARED.is_dir():
        shared_files()
        beta_lazy()
    else:
        print(f"1-2. skipped: {SHARED} is absent (the shared data sits beside the repository)")
    synthetic()


if __name__ == "__main__":
    main()

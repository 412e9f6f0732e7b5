"""Benchmark: config-days per second of the sweep kernels against plain loops, in one process.

Data are SYNTHETIC by default: seeded daily returns of a stock and its hedge (beta 1.2) over
``--days`` days (5,000 by default, the issue's figure). A config-day is one configuration
simulated over one day, metrics included.

  (a)  the CPU kernels (numba, every core) over a full grid, in this process, compilation
       excluded, best of ``--repeats`` (3) each, interleaved so that a loaded machine slows
       both alike: the per-configuration kernel (``run_cpu(..., rows=...)``, one configuration
       per iteration, the GPU's loop order) and the lock-step kernel (``run_cpu`` on the
       contiguous range, every lane of a family advanced together), their ratio by wall clock
       and by process CPU time (target >= 3x) and the largest |difference| of their outputs
       (must be <= 1e-12; they agree bit for bit);
  (b)  the GPU kernel (numba-cuda on CuPy arrays, one thread per configuration) when a GPU is
       visible, over the same grid and a 64x larger one;
  (c)  the plain witness: ``hedgedesk.core.sweep.backtest.dynamic_beta_hedge`` +
  ``hedgedesk.core.metrics.performance``
       (a Python loop over days) on a sample of configurations;
  (d)  the original notebook's style, sampled: pandas for the curve, a statsmodels OLS fit per
       rebalance for beta.
  (e)  with ``--e2e``: ``run_sweep`` end to end (10 tickers x ``--configs`` configurations), on
       the GPU when there is one (the issue's 10 x 1e6 x 5,000 figure), with the run ledger
       and its Parquet file written as the CLI does.

Ratios are printed against (c) and (d) measured here. Targets: CPU >= 1e8 config-days/s on a
2-core machine (goal 3e8); lock-step >= 3x the per-configuration kernel; H100 >= 1e10 (goal
1e11); 10 x 1e6 x 5,000 end to end <= 2 s on the H100 (goal 1 s).
Run: python bench/sweep.py [--days N] [--configs N] [--kernels] [--repeats N] [--e2e]
[--backend auto|cpu|gpu]
(``--kernels``: (a) only.)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm

from hedgedesk.core.metrics import performance
from hedgedesk.core.sweep import kernel as K
from hedgedesk.core.sweep.backtest import dynamic_beta_hedge
from hedgedesk.core.sweep.grid import Estimator, Grid, Leg

SEED = 11


def synthetic(days: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    hedge = rng.normal(0.0004, 0.012, days)
    return 0.0003 + 1.2 * hedge + rng.normal(0, 0.01, days), hedge


def grid_of(n_configs: int) -> Grid:
    """About ``n_configs`` rows: P in 1,2,5,10,21; W in 20..120; OLS and EWMA; k x h fill."""
    side = max(2, round((n_configs / (5 * 4 * 2 * 2 * 2)) ** 0.5))
    return Grid(
        legs=(Leg("A", ("A",)),),
        hedge="H",
        rebalance=(1, 2, 5, 10, 21),
        window=(20, 60, 90, 120),
        estimator=(Estimator("ols"), Estimator("ewma", 20.0)),
        exposure=tuple(np.linspace(0.5, 1.5, side)),
        hedge_ratio=tuple(np.linspace(0.0, 1.0, side)),
        drift_band=(0.0, 0.05),
        cost=(0.0, 0.001),
    )


def days_per_config(grid: Grid, n_days: int) -> float:
    """Mean days a configuration of the grid simulates over n_days returns (windows equally
    common): the kernel's first day is the window's last.
    """
    return float(np.mean([n_days - (w - 1) for w in grid.window]))


def rate(n_rows: int, days: int, seconds: float) -> float:
    return n_rows * days / seconds


def bench_kernel(backend, grid: Grid, r_long, r_hedge, repeats: int = 3) -> float:
    tables = K.leg_tables(grid, r_long, r_hedge)
    days = len(r_long)
    backend.prepare(K.kernel_args(grid, tables, 0, days, int(days * 0.7), 8, 0.0, 252))
    backend.run(0, min(256, grid.rows_per_leg))  # compile / load outside the timing
    best = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        backend.run(0, grid.rows_per_leg)
        best = max(
            best, rate(grid.rows_per_leg, days_per_config(grid, days), time.perf_counter() - t0)
        )
    return best


def bench_cpu_kernels(grid: Grid, r_long, r_hedge, repeats: int = 3) -> dict[str, float]:
    """Both CPU kernels on the same grid and days, compilation excluded, best of ``repeats``
    each, interleaved: their rates by wall clock (``per_config``, ``lockstep``), the ratio of
    their best process CPU times (``cpu_ratio``: less sensitive to other processes on the
    cores than wall clock) and the largest |difference| of their outputs (``diff``).
    """
    days = len(r_long)
    tables = K.leg_tables(grid, r_long, r_hedge)
    args = K.kernel_args(grid, tables, 0, days, int(days * 0.7), 8, 0.0, 252)
    n_rows = grid.rows_per_leg
    rows = np.arange(n_rows)
    head = min(256, n_rows)
    K.run_cpu(args, 0, head)  # compile / load outside the timing
    K.run_cpu(args, 0, head, rows=rows[:head])
    runs = {
        "per_config": lambda: K.run_cpu(args, 0, n_rows, rows=rows),
        "lockstep": lambda: K.run_cpu(args, 0, n_rows),
    }
    wall = dict.fromkeys(runs, np.inf)
    cpu = dict.fromkeys(runs, np.inf)
    outs = {}
    for _ in range(repeats):
        for name, run in runs.items():
            t0, c0 = time.perf_counter(), time.process_time()
            outs[name] = run()
            wall[name] = min(wall[name], time.perf_counter() - t0)
            cpu[name] = min(cpu[name], time.process_time() - c0)
    a, b = outs["per_config"], outs["lockstep"]
    if not np.array_equal(np.isnan(a), np.isnan(b)):
        diff = np.inf  # a NaN on one side only
    else:
        diff = float(np.max(np.abs(np.nan_to_num(a - b)), initial=0.0))
    per_day = days_per_config(grid, days)
    return {
        "per_config": rate(n_rows, per_day, wall["per_config"]),
        "lockstep": rate(n_rows, per_day, wall["lockstep"]),
        "cpu_ratio": cpu["per_config"] / cpu["lockstep"],
        "diff": diff,
    }


def bench_plain(grid: Grid, r_long, r_hedge, sample: int) -> float:
    rows = np.random.default_rng(SEED).choice(grid.rows_per_leg, sample, replace=False)
    days = 0
    t0 = time.perf_counter()
    for row in rows:
        p = grid.strategy_params(int(row))
        run = dynamic_beta_hedge(
            r_long,
            r_hedge,
            p["rebalance"],
            p["window"],
            p["exposure"],
            p["hedge_ratio"],
            p["cost"],
            p["drift_band"],
            estimator=p["estimator"],
            halflife=p["halflife"],
        )
        performance(run.equity)
        days += len(run.equity) - 1
    return days / (time.perf_counter() - t0)


def notebook_style(
    r_long: pd.Series, r_hedge: pd.Series, p: int, w: int, k: float, h: float, c: float
) -> float:
    """The original notebook's loop: a statsmodels fit per rebalance, pandas bookkeeping."""
    equity, long_, short = 1.0, 0.0, 0.0
    curve = []
    for t in range(len(r_long)):
        if t > 0:
            equity += long_ * r_long.iloc[t] - short * r_hedge.iloc[t]
            long_ *= 1 + r_long.iloc[t]
            short *= 1 + r_hedge.iloc[t]
        if t >= w - 1 and (t - (w - 1)) % p == 0:
            x = sm.add_constant(r_hedge.iloc[t - w + 1 : t + 1])
            beta = sm.OLS(r_long.iloc[t - w + 1 : t + 1], x).fit().params.iloc[1]
            new_long, new_short = k * equity, h * beta * k * equity
            equity -= c * (abs(new_long - long_) + abs(new_short - short))
            long_, short = new_long, new_short
        if t >= w - 1:
            curve.append(equity)
    s = pd.Series(curve).pct_change().dropna()
    return s.mean() / s.std() * np.sqrt(252)


def bench_notebook(grid: Grid, r_long, r_hedge, sample: int) -> float:
    rl, rh = pd.Series(r_long), pd.Series(r_hedge)
    rows = np.random.default_rng(SEED + 1).choice(grid.rows_per_leg, sample, replace=False)
    days = 0
    t0 = time.perf_counter()
    for row in rows:
        p = grid.strategy_params(int(row))
        notebook_style(
            rl, rh, p["rebalance"], p["window"], p["exposure"], p["hedge_ratio"], p["cost"]
        )
        days += len(rl) - p["window"] + 1
    return days / (time.perf_counter() - t0)


def synthetic_market(days: int, n_legs: int = 10):
    """``n_legs`` synthetic stocks S0.. and their hedge H over ``days`` business days, as
    MarketData, with one Leg per stock.
    """
    import datetime as dt

    from hedgedesk.core.data.market import MarketData, Series

    dates = pd.bdate_range(dt.date(2000, 1, 3), periods=days + 1).values.astype("datetime64[D]")
    rng = np.random.default_rng(SEED)
    hedge = rng.normal(0.0004, 0.012, days)

    def series(name: str, returns: np.ndarray, first: float) -> Series:
        return Series(
            name, dates, first * np.cumprod(np.r_[1.0, 1 + returns]), None, "synthetic", "close"
        )

    prices = [series("H", hedge, 100.0)]
    legs = []
    for i in range(n_legs):
        r = 0.0003 + (0.8 + 0.05 * i) * hedge + rng.normal(0, 0.01, days)
        prices.append(series(f"S{i}", r, 50.0))
        legs.append(Leg(f"S{i}", (f"S{i}",)))
    return MarketData.from_series(prices), tuple(legs)


def with_legs(grid: Grid, legs: tuple) -> Grid:
    return Grid(
        legs=legs,
        hedge="H",
        **{
            a: getattr(grid, a)
            for a in (
                "rebalance",
                "window",
                "estimator",
                "exposure",
                "hedge_ratio",
                "drift_band",
                "cost",
            )
        },
    )


def timed_sweep(gen) -> tuple:
    """Drive a run_sweep generator to its end: (SweepResult, wall seconds)."""
    t0 = time.perf_counter()
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        return stop.value, time.perf_counter() - t0


def bench_e2e(backend_name: str, configs: int, days: int) -> None:
    from hedgedesk.core.sweep.engine import SweepRequest, run_sweep
    from hedgedesk.core.sweep.ledger import Ledger

    market, legs = synthetic_market(days)
    grid = with_legs(grid_of(configs), legs)
    request = SweepRequest(grid, backend=backend_name, top=20)
    with tempfile.TemporaryDirectory() as tmp, Ledger(Path(tmp) / "runs.sqlite") as ledger:
        # the CLI's path: chunks and Parquet written
        result, took = timed_sweep(run_sweep(request, market, ledger))
    t = result.summary.timings
    print(
        f"(e) end to end, 10 tickers x {grid.rows_per_leg:,} configurations x {days:,} days "
        f"on {result.summary.backend.name}: {took:.2f} s (kernel {t.kernel_s:.2f} s, "
        f"scoring {t.score_s:.2f} s)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=5000)
    ap.add_argument("--configs", type=int, default=40_000)
    ap.add_argument("--sample", type=int, default=20, help="configurations for (c)")
    ap.add_argument("--kernels", action="store_true", help="only (a): the two CPU kernels")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs of each CPU kernel")
    ap.add_argument("--e2e", action="store_true")
    ap.add_argument("--backend", default="auto", choices=("auto", "cpu", "gpu"))
    args = ap.parse_args()
    from hedgedesk.core.sweep.gpu import GpuBackend, gpu_status

    r_long, r_hedge = synthetic(args.days)
    grid = grid_of(args.configs)
    print(f"{grid.rows_per_leg:,} configurations x {args.days:,} synthetic days")
    k = bench_cpu_kernels(grid, r_long, r_hedge, args.repeats)
    cpu = k["lockstep"]
    print(f"(a) CPU per-configuration kernel {k['per_config']:12.4g} config-days/s")
    print(
        f"(a) CPU lock-step kernel        {cpu:12.4g} config-days/s = "
        f"{cpu / k['per_config']:.2f}x per-configuration by wall clock, "
        f"{k['cpu_ratio']:.2f}x by CPU time (target >= 3x); "
        f"max |difference| {k['diff']:.1e} (<= 1e-12)"
    )
    if args.kernels:
        return
    plain = bench_plain(grid, r_long, r_hedge, args.sample)
    notebook = bench_notebook(grid, r_long, r_hedge, max(2, args.sample // 10))
    print(f"(c) plain witness loop      {plain:12.4g} config-days/s")
    print(f"(d) notebook style (pandas+statsmodels) {notebook:12.4g} config-days/s")
    print(
        f"(a) CPU lock-step kernel    {cpu:12.4g} config-days/s  = {cpu / plain:,.0f}x (c), "
        f"{cpu / notebook:,.0f}x (d)"
    )
    ok, why = gpu_status()
    if ok:
        gpu = GpuBackend()
        g1 = bench_kernel(gpu, grid, r_long, r_hedge)
        big = grid_of(args.configs * 64)
        g2 = bench_kernel(gpu, big, r_long, r_hedge)
        print(f"(b) GPU kernel ({gpu.device})")
        print(
            f"    {grid.rows_per_leg:>10,} configs {g1:12.4g} config-days/s = {g1 / cpu:,.0f}x "
            f"CPU kernel, {g1 / notebook:,.0f}x (d)"
        )
        print(
            f"    {big.rows_per_leg:>10,} configs {g2:12.4g} config-days/s = {g2 / cpu:,.0f}x "
            f"CPU kernel, {g2 / notebook:,.0f}x (d)"
        )
    else:
        print(f"(b) GPU kernel: not run ({why})")
    if args.e2e:
        bench_e2e(args.backend, args.configs, args.days)


if __name__ == "__main__":
    main()

"""Sweeps end to end (``hedgedesk.core.sweep.engine.run_sweep``) on synthetic markets.

Witnesses: ``hedgedesk.core.sweep.backtest.run_backtest`` (the plain dated backtest, with its own
unhedged twin
for hedge effectiveness) for every configuration of a finished run (the kernel's float64 figures,
prepared as the engine prepares them, and the ``keep = all`` table, their float32 copy); the plain
``dynamic_beta_hedge`` loop with ``hedgedesk.core.metrics.performance`` for the walk-forward's
in-sample
and out-of-sample figures; the deflated Sharpe ratio recomputed here from its paper's formula
with scipy; an uninterrupted run for every interrupted-and-resumed one (cancelled in-process,
or a real process killed with SIGKILL).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from hedgedesk.core.data.calendar import EXCHANGE, trading_days
from hedgedesk.core.data.market import MarketData, Series
from hedgedesk.core.data.price_files import load_paths
from hedgedesk.core.errors import DataError, HedgedeskError
from hedgedesk.core.metrics import daily_rf, performance
from hedgedesk.core.sweep import kernel as K
from hedgedesk.core.sweep import stream as S
from hedgedesk.core.sweep.backtest import dynamic_beta_hedge, run_backtest
from hedgedesk.core.sweep.engine import PER_CONFIG, CpuBackend, SweepRequest, prepare_leg, run_sweep
from hedgedesk.core.sweep.grid import AXES, Grid, Leg, estimators, parse_leg
from hedgedesk.core.sweep.ledger import Ledger
from hedgedesk.core.sweep.results import SweepSummary

REPO = Path(__file__).resolve().parents[3]
N_DAYS = 750
METRIC_TOL = {
    "sharpe": 1e-9,
    "annual_return": 1e-9,
    "max_drawdown": 1e-12,
    "turnover": 1e-9,
    "hedge_effectiveness": 1e-9,
}
FLOAT32_REL = 1e-6  # the keep = all table holds float32 figures (7 significant digits)
# the per-configuration table, as documented: parameters, the metrics, the in-sample snapshot
PER_CONFIG_COLUMNS = {
    "ticker",
    "row",
    *AXES,
    "halflife",
    "score",
    "status",
    "n",
    "annual_return",
    "annual_volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "turnover",
    "hedge_effectiveness",
    "residual_beta",
    "consistency",
    "final_equity",
    "is_score",
    "is_annual_return",
    "is_sharpe",
    "is_max_drawdown",
    "is_consistency",
}


# -- synthetic market --------------------------------------------------------------------------
def _sessions(n: int) -> np.ndarray:
    """The first n NYSE sessions from 2018 on."""
    days = trading_days(EXCHANGE, dt.date(2018, 1, 2), dt.date(2024, 12, 31))
    assert len(days) >= n
    return days[:n]


def _closes(n_days: int = N_DAYS, seed: int = 3, bump: float = 1.0) -> dict[str, np.ndarray]:
    """Closes (n_days + 1 rows) of a hedge H and two long assets A, B whose beta to H drifts
    (so rebalancing matters). ``bump`` scales H's closes from the middle on (changed data).
    """
    rng = np.random.default_rng(seed)
    r_h = 0.0004 + 0.012 * rng.standard_normal(n_days)
    out = {"H": r_h}
    for i, ticker in enumerate("AB"):
        beta = 1.1 + 0.3 * i + 0.4 * np.sin(np.arange(n_days) / 60.0 + i)
        out[ticker] = 0.0003 + beta * r_h + 0.01 * rng.standard_normal(n_days)
    closes = {t: 100.0 * np.concatenate([[1.0], np.cumprod(1.0 + r)]) for t, r in out.items()}
    closes["H"][n_days // 2 :] *= bump
    return closes


def make_market(n_days: int = N_DAYS, seed: int = 3, bump: float = 1.0) -> MarketData:
    days = _sessions(n_days + 1)
    rng = np.random.default_rng(seed + 100)
    series = [
        Series(t, days, c, rng.lognormal(math.log(1e7), 0.3, n_days + 1), "test", "adjusted close")
        for t, c in _closes(n_days, seed, bump).items()
    ]
    return MarketData.from_series(series)


def write_csv(path: Path, n_days: int = N_DAYS, seed: int = 3, bump: float = 1.0) -> Path:
    """The same closes as a wide CSV (Date,A,B,H)."""
    closes = _closes(n_days, seed, bump)
    days = _sessions(n_days + 1)
    lines = ["Date,A,B,H"]
    for i, d in enumerate(days):
        lines.append(",".join([str(d), *(repr(float(closes[t][i])) for t in "ABH")]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def market() -> MarketData:
    return make_market()


def leg_returns(market: MarketData, ticker: str, hedge: str = "H"):
    """Dates and returns of one single-ticker leg and its hedge, from the aligned closes."""
    p = market.aligned_prices([ticker, hedge])
    r = (p / p.shift(1) - 1.0).iloc[1:]
    return r.index, r[ticker].to_numpy(), r[hedge].to_numpy()


def replay(market: MarketData, r, start: int = 0):
    """The plain backtest (the kernel's witness) of a leaderboard row, from day ``start``."""
    _, r_long, r_hedge = leg_returns(market, r.ticker)
    args = (r.rebalance, r.window, r.exposure, r.hedge_ratio, r.cost, r.drift_band, 1.0)
    return dynamic_beta_hedge(r_long, r_hedge, *args, r.estimator, r.halflife, start=start)


# -- harness -----------------------------------------------------------------------------------
def drain(gen):
    """Run a sweep generator to the end: (events, arrival times, result)."""
    events, times = [], []
    while True:
        try:
            events.append(next(gen))
        except StopIteration as stop:
            return events, times, stop.value
        times.append(time.perf_counter())


def sweep(request: SweepRequest, market: MarketData, **kw):
    return drain(run_sweep(request, market, **kw))[2]


class SlowCpu(CpuBackend):
    """The CPU kernel with a pause per call: a chunk is sized to take about 0.2 s, so with this
    pause chunks stay small and a run has several.
    """

    def __init__(self, pause: float = 0.2):
        super().__init__()
        self.pause = pause

    def run(self, row0, count, rows=None):
        time.sleep(self.pause)
        return super().run(row0, count, rows)


def same(a, b, path="") -> None:
    """Exact equality of JSON-like values, NaN equal to NaN."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), path
        for k in a:
            same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list | tuple):
        assert isinstance(b, list | tuple) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), (path, a, b)
    else:
        assert a == b, (path, a, b)


def kernel_figures(request: SweepRequest, market: MarketData) -> pd.DataFrame:
    """Every configuration's figures in float64, straight from the kernel on each leg as the
    engine prepares it (days, split, blocks, risk-free rate, volatility target), scored as the
    engine scores them: what the ``keep = all`` table holds as float32.
    """
    grid = request.grid
    frames = []
    for leg in grid.legs:
        prep = prepare_leg(market, request, leg)
        args = K.kernel_args(
            grid,
            prep.tables,
            prep.start,
            prep.n_days,
            prep.split,
            request.blocks,
            daily_rf(request.rf, prep.periods),
            prep.periods,
            vol_target=request.targets.volatility,
        )
        arrays = S.named(K.run_cpu(args, 0, grid.rows_per_leg), request.blocks)
        arrays["score"] = S.scores(arrays, request.targets)
        arrays["is_score"] = S.scores(arrays, request.targets, "is_")
        rows = np.arange(grid.rows_per_leg)
        frame = pd.DataFrame({name: np.array(arrays[name]) for name in (*K.METRICS, "score")})
        frame["is_score"] = arrays["is_score"]
        frame.insert(0, "row", rows)
        frame.insert(0, "ticker", leg.name)
        frame["cost"] = grid.decode(rows)["cost"]
        frame["canonical"] = S.canonical(grid, rows)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def same_frames(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    for col in a.columns:
        x, y = a[col].to_numpy(), b[col].to_numpy()
        if x.dtype.kind == "f":
            assert np.array_equal(x, y, equal_nan=True), col
        else:
            assert (x == y).all(), col


SMALL = dict(
    rebalance=(1, 5),
    window=(20, 60),
    exposure=(0.5, 1.0),
    hedge_ratio=(0.5, 1.0),
    cost=(0.0, 0.001, 0.003),
)


# -- 1. every configuration equals the plain dated backtest ----------------------------------
@pytest.mark.parametrize("ratios", [(0.5, 1.0), (0.0, 1.0)], ids=["twin-pass", "twins-in-grid"])
def test_finished_run_equals_run_backtest_for_every_configuration(market, ratios):
    """Hedge effectiveness needs each configuration's unhedged twin (keep = all: a pass of
    the twins before the grid; the leaders': re-run at the end), whether or not hedge ratio 0
    is among the grid's levels; both must give run_backtest's figure.
    """
    legs = (Leg("A", ("A",)), parse_leg("AB=A+B@equal"))
    grid = Grid(
        legs=legs,
        hedge="H",
        drift_band=(0.0, 0.02),
        **{**SMALL, "exposure": (1.2,), "hedge_ratio": ratios},
    )
    request = SweepRequest(grid, backend="cpu", top=6, keep="all")
    res = sweep(request, market)
    assert res.status == "done" and res.run_id is None  # no ledger: kept in memory

    pc = res.per_config
    assert set(pc.columns) >= PER_CONFIG_COLUMNS
    assert len(pc) == grid.n_rows == len(legs) * grid.n_strategies * grid.n_scenarios
    c = res.summary.counts
    assert c.configurations == c.done == len(pc)
    assert c.ok + c.ruined + c.undefined_beta == len(pc) and c.ok == len(pc)
    assert c.strategies_per_leg == grid.n_strategies and c.scenarios == 3
    # identical strategies count once (hedge ratio 0: one estimator, one positive drift band)
    assert c.trials == len(legs) * S.distinct_strategies(grid) == len(legs) * grid.n_strategies
    for leg in legs:  # one row per configuration x scenario, each once
        mine = pc[pc["ticker"] == leg.name]
        assert len(mine) == grid.rows_per_leg
        keys = mine[["rebalance", "window", "exposure", "hedge_ratio", "drift_band", "cost"]]
        assert not keys.duplicated().any()
        assert sorted(mine["cost"].unique()) == [0.0, 0.001, 0.003]
    assert [leg.configurations_done for leg in res.summary.legs] == [grid.rows_per_leg] * 2

    witnessed = {}

    def witness(ticker, p):
        key = (
            ticker,
            p["rebalance"],
            p["window"],
            p["exposure"],
            p["hedge_ratio"],
            p["cost"],
            p["drift_band"],
        )
        if key not in witnessed:
            members = ["A", "B"] if ticker == "AB" else [ticker]
            witnessed[key] = run_backtest(
                market,
                members,
                "H",
                int(p["rebalance"]),
                int(p["window"]),
                float(p["exposure"]),
                float(p["hedge_ratio"]),
                float(p["cost"]),
                float(p["drift_band"]),
                weighting="equal",
            ).metrics
        return witnessed[key]

    # the table is the kernel's float64 figures rounded to float32, row for row
    exact = kernel_figures(request, market)
    assert (pc["ticker"].to_numpy() == exact["ticker"].to_numpy()).all()
    assert (pc["row"].to_numpy() == exact["row"].to_numpy()).all()
    for name in ("score", *PER_CONFIG, "is_score"):
        want = exact[name].to_numpy()
        if pc[name].dtype.kind == "f":
            assert pc[name].dtype == np.float32, name
            want = want.astype(np.float32)
        assert np.array_equal(pc[name].to_numpy(), want, equal_nan=True), name
    # every configuration's float64 figures equal the witness's; hedge effectiveness (from the
    # unhedged twins' pass) as the table holds it, float32
    params = pc.drop(columns=["row", "ticker"])
    for i, row in enumerate(params.itertuples(index=False)):
        p = row._asdict()
        want = witness(pc["ticker"].iat[i], p)
        for name, tol in METRIC_TOL.items():
            if name == "hedge_effectiveness":
                got, tol = p[name], FLOAT32_REL
            else:
                got = exact[name].iat[i]
            assert got == pytest.approx(want[name], rel=tol, abs=tol), (i, p, name)

    top = res.summary.top
    assert len(top) == 6
    for r in top:
        want = witness(r.ticker, r.params_json())
        for name, tol in METRIC_TOL.items():
            assert getattr(r, name) == pytest.approx(want[name], rel=tol, abs=tol), (r, name)
        assert r.annual_volatility == pytest.approx(want["annual_volatility"], rel=1e-9)
        assert r.sortino == pytest.approx(want["sortino"], rel=1e-9)
        assert r.calmar == pytest.approx(want["calmar"], rel=1e-9)


# -- 2. ranking under the costliest scenario -------------------------------------------------
def test_ranking_uses_the_costliest_scenario(market):
    grid = Grid(
        legs=(Leg("A", ("A",)), Leg("B", ("B",))),
        hedge="H",
        estimator=estimators(("ols", "ewma"), (10.0,)),
        **SMALL,
    )
    request = SweepRequest(grid, backend="cpu", top=8, walk_forward=0)
    res = sweep(request, market)
    s = res.summary
    assert res.per_config is None  # keep = best: no per-configuration table
    assert (s.ranking.cost, s.ranking.impact) == (max(grid.cost), 0.0)
    assert s.walk_forward is None
    top = s.top
    assert len(top) == 8
    scores = [r.score for r in top]
    assert scores == sorted(scores, reverse=True)
    # the leaders are the best of every configuration's float64 score under the costliest cost
    # (the lower row first on ties)
    pc = kernel_figures(request, market)
    ranked = pc[pc["cost"] == max(grid.cost)].sort_values(
        ["score", "row"], ascending=[False, True], kind="stable"
    )
    assert scores == ranked["score"].head(8).tolist()
    assert [(r.ticker, r.row) for r in top] == list(
        zip(ranked["ticker"].head(8), ranked["row"].head(8), strict=True)
    )
    for r in top:
        assert r.cost == max(grid.cost)
        assert [x.cost for x in r.scenarios] == list(grid.cost)
        assert r.scenarios[-1].score == r.score
        assert r.turnover > 0  # it trades, so every extra basis point hurts
        for a, b in itertools.pairwise(r.scenarios):
            assert b.score < a.score and b.sharpe < a.sharpe
            assert b.annual_return < a.annual_return


# -- 3. streaming progress -------------------------------------------------------------------
BIG = Grid(
    legs=(Leg("A", ("A",)),),
    hedge="H",
    rebalance=tuple(range(1, 26)),
    window=(20, 30, 40, 50, 60, 70, 80, 90, 100, 120),
    estimator=estimators(("ols", "ewma"), (10.0, 30.0)),
    exposure=tuple(np.linspace(0.5, 1.5, 26).tolist()),
    hedge_ratio=(0.5, 0.75, 1.0),
    drift_band=(0.0, 0.02, 0.05),
    cost=(0.0, 0.001),
)  # ~3e8 config-days on 900 days


@pytest.fixture(scope="module")
def long_market() -> MarketData:
    return make_market(n_days=900, seed=5)


def test_progress_streams_while_the_grid_runs(long_market, monkeypatch):
    """A progress event after every chunk (pacing off, short chunks): the run reports while the
    grid runs, whatever the machine's speed or load, with no clock in the assertions.
    """
    import hedgedesk.core.sweep.engine as S

    monkeypatch.setattr(S, "PROGRESS_EVERY", 0.0)
    monkeypatch.setattr(S, "CHUNK_SECONDS", 0.005)
    events, _, res = drain(
        run_sweep(SweepRequest(BIG, backend="cpu", top=5, walk_forward=0), long_market)
    )
    assert res.status == "done"
    # keep = best: no pass of unhedged twins before the grid (the leaders' are re-run at the end)
    assert not any(e.phase.startswith("unhedged") for e in events)
    # the grid's chunks (the kernel's loading, when it is not loaded yet, reports before them)
    sweeping = [(e, None) for e in events if e.phase == "sweep A"]
    assert len(sweeping) >= 4
    assert sum(e.done < BIG.n_rows for e, _ in sweeping) >= 3  # reported before the grid ended
    done = [e.done for e in events]
    assert done == sorted(done) and done[-1] == BIG.n_rows
    for e, _ in sweeping:
        assert e.total == BIG.n_rows and e.rate > 0 and e.config_days > 0
        assert 0 < len(e.best) <= 5
        best = [b.score for b in e.best]
        assert best == sorted(best, reverse=True)
        assert all(b.cost == max(BIG.cost) for b in e.best)
    # the best reported while running is the final leader
    assert events[-1].best[0].score == res.summary.top[0].score


# -- 4. cancel -------------------------------------------------------------------------------
def test_cancel_from_another_thread_stops_at_the_next_chunk(long_market):
    """Another thread sets the cancel while a chunk runs (the backend hands it the moment and
    waits for it: events, not timers); the engine starts no chunk after that one.
    """
    cancel, running, was_set = threading.Event(), threading.Event(), threading.Event()
    chunks: list[bool] = []  # per sweep chunk: was the cancel set when it started?
    counts: list[int] = []  # configurations in each sweep chunk

    class Signalling(CpuBackend):
        def run(self, row0, count, rows=None):
            if rows is not None:  # listed rows: the leaders' scenarios and twins, re-run
                return super().run(row0, count, rows)
            chunks.append(cancel.is_set())
            counts.append(count)
            if len(chunks) == 3:
                running.set()
                assert was_set.wait(60), "the other thread never set the cancel"
            return super().run(row0, count, rows)

    def stop():
        assert running.wait(60)
        cancel.set()
        was_set.set()

    gen = run_sweep(
        SweepRequest(BIG, backend="cpu", top=5), long_market, cancel=cancel, backend=Signalling()
    )
    other = threading.Thread(target=stop)
    other.start()
    try:
        events, _, res = drain(gen)
    finally:
        running.set()
        other.join(60)
    assert was_set.is_set() and len(chunks) == 3 and not any(chunks)
    assert res.status == "cancelled" and res.summary.status == "cancelled"
    assert res.per_config is None  # keep = best
    assert 0 < res.summary.counts.done == sum(counts) < BIG.n_rows
    assert res.summary.legs[0].configurations_done == sum(counts)
    assert all(e.done < BIG.n_rows for e in events)
    # what needs the whole run is skipped: walk-forward, PBO, the leaders' DSR replays
    s = res.summary
    assert s.walk_forward is None and s.overfitting.deferred
    assert all(leg.pbo is None for leg in s.legs)
    assert s.top and all(r.deflated is None for r in s.top)


def test_cancel_in_the_unhedged_twins_phase(long_market):
    """With keep = all the twins (hedge ratio 0, for every configuration's hedge effectiveness)
    run first, in chunks that stream progress and honour a cancel like the sweep's own.
    """
    assert 0.0 not in BIG.hedge_ratio  # so the twins are a pass of their own
    cancel = threading.Event()
    request = SweepRequest(BIG, backend="cpu", top=5, keep="all")
    gen = run_sweep(request, long_market, cancel=cancel)
    first = next(gen)
    assert first.phase.startswith("unhedged") and first.done == 0
    cancel.set()
    _, _, res = drain(gen)
    assert res.status == "cancelled" and res.per_config.empty and res.summary.top == ()
    assert res.summary.counts.done == 0


@pytest.mark.parametrize("keep", ["best", "all"])
def test_cancel_after_the_first_progress(long_market, keep):
    cancel = threading.Event()
    request = SweepRequest(BIG, backend="cpu", top=5, keep=keep)
    gen = run_sweep(request, long_market, cancel=cancel)
    first = next(gen)
    while not (first.phase.startswith("sweep") and first.done):
        first = next(gen)
    cancel.set()
    _, _, res = drain(gen)
    assert res.status == "cancelled"
    assert res.summary.counts.done == first.done  # nothing ran after the cancel
    if keep == "all":
        assert len(res.per_config) == first.done
    assert res.summary.top and res.summary.top[0].cost == max(BIG.cost)


# -- 5. resume -------------------------------------------------------------------------------
RESUMABLE = Grid(
    legs=(Leg("A", ("A",)), Leg("B", ("B",))),
    hedge="H",
    rebalance=(1, 3, 5, 10),
    window=(20, 40, 60),
    estimator=estimators(("ols", "ewma"), (15.0,)),
    exposure=tuple(np.linspace(0.5, 1.5, 8).tolist()),
    hedge_ratio=(0.5, 1.0),
    drift_band=(0.0, 0.03),
    cost=(0.0, 0.002),
)


def _comparable(summary: SweepSummary) -> dict:
    """What must not depend on how the run was cut: all but ids, timings and the backend."""
    return {
        k: v
        for k, v in summary.to_json().items()
        if k not in ("run_id", "timings", "backend", "status")
    }


class CountingCpu(CpuBackend):
    """The CPU kernel, counting the grid's configurations it runs in chunks (not listed rows)."""

    def __init__(self):
        super().__init__()
        self.rows = 0

    def run(self, row0, count, rows=None):
        if rows is None:
            self.rows += count
        return super().run(row0, count, rows)


@pytest.mark.parametrize("keep", ["best", "all"])
def test_resume_after_cancel_equals_an_uninterrupted_run(market, tmp_path, keep):
    request = SweepRequest(RESUMABLE, backend="cpu", top=10, keep=keep)
    with Ledger(tmp_path / "runs.sqlite") as ledger:
        a = sweep(request, market, ledger=ledger)
        assert a.status == "done"

        cancel = threading.Event()
        gen = run_sweep(request, market, ledger=ledger, cancel=cancel, backend=SlowCpu())
        while next(gen).done == 0:  # past the kernel's loading (and the twins): chunks stored
            pass
        next(gen)
        cancel.set()
        b = drain(gen)[2]
        assert b.status == "cancelled"
        rec = ledger.get(b.run_id)
        assert rec.status == "cancelled" and 0 < rec.n_done < RESUMABLE.n_rows
        assert len(ledger.finished_chunks(b.run_id)) >= 2

        with pytest.raises(HedgedeskError, match="fingerprint"):
            next(run_sweep(None, make_market(bump=1.01), ledger, resume=b.run_id))

        counting = CountingCpu()
        events, _, c = drain(run_sweep(None, market, ledger, resume=b.run_id, backend=counting))
        assert c.status == "done" and c.run_id == b.run_id
        assert events[0].done >= rec.n_done  # the resumed chunks count as done
        # the stored streams carry the rows done: only the rest is computed again
        grid_rows = RESUMABLE.n_rows - rec.n_done
        assert counting.rows == grid_rows + (
            2
            * dataclasses.replace(
                RESUMABLE, hedge_ratio=(0.0,), estimator=RESUMABLE.estimator[:1]
            ).rows_per_leg
            if keep == "all"
            else 0
        )
        same(c.summary.to_json()["top"], a.summary.to_json()["top"])
        same(_comparable(c.summary), _comparable(a.summary))
        if keep == "all":
            same_frames(c.per_config, a.per_config)
            same_frames(ledger.per_config(b.run_id), ledger.per_config(a.run_id))
        else:
            assert c.per_config is None and a.per_config is None
            with pytest.raises(HedgedeskError, match="no per-configuration table"):
                ledger.per_config(b.run_id)
        rec = ledger.get(b.run_id)
        assert rec.status == "done" and rec.resumed == 1 and rec.n_done == RESUMABLE.n_rows
        with pytest.raises(HedgedeskError, match="already done"):
            next(run_sweep(None, market, ledger, resume=b.run_id))


def test_keep_all_changes_nothing_in_the_summary(market):
    """The keep = all table (and the twins' pass behind its hedge effectiveness) is all it
    adds: the summary equals keep = best's, and the table's row of each leader is its float64
    figures rounded to float32.
    """
    best = sweep(SweepRequest(RESUMABLE, backend="cpu", top=10), market)
    every = sweep(SweepRequest(RESUMABLE, backend="cpu", top=10, keep="all"), market)
    a, b = _comparable(best.summary), _comparable(every.summary)
    assert (a["request"].pop("keep"), b["request"].pop("keep")) == ("best", "all")
    same(a, b)
    table = every.per_config.set_index(["ticker", "row"])
    assert len(table) == RESUMABLE.n_rows
    for r in every.summary.top:
        row = table.loc[(r.ticker, r.row)]
        for name in ("score", "sharpe", "annual_return", "max_drawdown", "hedge_effectiveness"):
            assert row[name] == np.float32(getattr(r, name)), (r.row, name)


CHILD = """
import json, sys, time
from hedgedesk.core.data.price_files import load_paths
from hedgedesk.core.sweep.engine import CpuBackend, SweepRequest, run_sweep
from hedgedesk.core.sweep.ledger import Ledger

class Slow(CpuBackend):
    def run(self, row0, count, rows=None):
        time.sleep(0.15)
        return super().run(row0, count, rows)

request = SweepRequest.from_dict(json.loads(sys.argv[1]))
for _ in run_sweep(request, load_paths([sys.argv[2]]), Ledger(sys.argv[3]), backend=Slow()):
    pass
"""


@pytest.mark.parametrize("keep", ["best", "all"])
def test_resume_after_sigkill_equals_an_uninterrupted_run(tmp_path, keep):
    csv = write_csv(tmp_path / "prices.csv")
    (tmp_path / "changed").mkdir()
    changed = write_csv(tmp_path / "changed" / "prices.csv", bump=1.01)
    db = tmp_path / "state" / "runs.sqlite"
    request = SweepRequest(RESUMABLE, backend="cpu", top=10, data=(str(csv),), keep=keep)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(request.to_dict()), str(csv), str(db)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    run_id = None
    try:
        deadline = time.monotonic() + 60
        while run_id is None and time.monotonic() < deadline and child.poll() is None:
            if db.exists():
                with Ledger(db) as ledger:
                    runs = ledger.runs()
                    if runs and runs[0].n_done > 0:
                        run_id = runs[0].id
                        os.kill(child.pid, signal.SIGKILL)
            time.sleep(0.02)
    finally:
        if child.poll() is None and run_id is None:
            child.kill()
        output = child.communicate()[0]
    assert run_id, f"the child never saved a chunk: {output!r}"
    assert child.returncode == -signal.SIGKILL

    with Ledger(db) as ledger:
        rec = ledger.get(run_id)
        assert rec.status == "interrupted" and 0 < rec.n_done < RESUMABLE.n_rows
        with pytest.raises(HedgedeskError, match="fingerprint"):
            next(run_sweep(None, load_paths([changed]), ledger, resume=run_id))
        assert ledger.get(run_id).status == "interrupted"  # the refused resume changed nothing
        resumed = sweep(None, load_paths([csv]), ledger=ledger, resume=run_id)
    whole = sweep(request, load_paths([csv]))
    assert resumed.status == "done"
    same(resumed.summary.to_json()["top"], whole.summary.to_json()["top"])
    same(_comparable(resumed.summary), _comparable(whole.summary))
    if keep == "all":  # the parts written before the kill and after the resume: every row once
        same_frames(resumed.per_config, whole.per_config)
    else:
        assert resumed.per_config is None and whole.per_config is None


# -- 6. overfitting: DSR, PBO, walk-forward ---------------------------------------------------
def test_dsr_pbo_and_walk_forward(market):
    grid = Grid(
        legs=(Leg("A", ("A",)), Leg("B", ("B",))),
        hedge="H",
        estimator=estimators(("ols", "ewma"), (10.0,)),
        **SMALL,
    )
    request = SweepRequest(grid, backend="cpu", top=6, walk_forward=0.6, blocks=6)
    res = sweep(request, market)
    s, pc = res.summary, kernel_figures(request, market)  # every configuration, float64
    n_trials = 2 * grid.n_strategies
    assert pc["canonical"].all()  # no hedge ratio 0: every strategy is distinct
    assert s.overfitting.trials == s.counts.trials == n_trials

    # DSR of each leader, from Bailey & Lopez de Prado (2014) with this grid's trials
    ranked = pc[pc["cost"] == max(grid.cost)]
    assert (ranked["status"] == K.OK).all()
    variance = float(np.var(ranked["sharpe"].to_numpy() / math.sqrt(252), ddof=1))
    assert s.overfitting.sharpe_variance_per_period == pytest.approx(variance, rel=1e-9)
    g = np.euler_gamma
    sr0 = math.sqrt(variance) * (
        (1 - g) * norm.ppf(1 - 1 / n_trials) + g * norm.ppf(1 - 1 / (n_trials * math.e))
    )
    for r in s.top:
        run = replay(market, r)
        x = run.equity[1:] / run.equity[:-1] - 1.0
        sr = x.mean() / x.std(ddof=1)
        d = x - x.mean()
        skew = np.mean(d**3) / np.mean(d**2) ** 1.5
        kurt = np.mean(d**4) / np.mean(d**2) ** 2
        z = (sr - sr0) * math.sqrt(len(x) - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
        assert 0 <= r.dsr <= 1
        assert r.dsr_all_legs == pytest.approx(norm.cdf(z), rel=1e-6, abs=1e-9)
        # within its own leg: that leg's trials and the variance of their Sharpe ratios
        own = ranked[ranked["ticker"] == r.ticker]["sharpe"].to_numpy() / math.sqrt(252)
        v, n = float(np.var(own, ddof=1)), grid.n_strategies
        sr0_leg = math.sqrt(v) * (
            (1 - g) * norm.ppf(1 - 1 / n) + g * norm.ppf(1 - 1 / (n * math.e))
        )
        z_leg = (
            (sr - sr0_leg)
            * math.sqrt(len(x) - 1)
            / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
        )
        assert r.dsr == pytest.approx(norm.cdf(z_leg), rel=1e-6, abs=1e-9)
        assert r.deflated.sr0_annual == pytest.approx(sr0_leg * math.sqrt(252), rel=1e-9)
        assert r.deflated.sr0_all_legs_annual == pytest.approx(sr0 * math.sqrt(252), rel=1e-9)

    for leg in s.legs:
        p = leg.pbo
        assert 0 <= p.pbo <= 1 and 0 <= p.prob_oos_loss <= 1
        assert p.blocks == 6 and p.combinations == math.comb(6, 3)
        assert p.configurations == grid.n_strategies
        assert s.to_json()["overfitting"]["pbo_by_leg"][leg.ticker] == p.to_json()

    w = s.walk_forward
    assert w.fraction_in_sample == 0.6 and w.strategies == n_trials
    assert -1 <= w.spearman_is_oos <= 1
    assert len(w.top) == 6
    is_scores = [r.in_sample.score for r in w.top]
    assert is_scores == sorted(is_scores, reverse=True)
    for ticker, split in w.splits.items():
        dates, _, _ = leg_returns(market, ticker)
        first = max(grid.window) - 1
        assert dates[first].date() < split <= dates[-1].date()
        # the documented fraction of the days on which every configuration trades
        assert split == dates[first + round(0.6 * (len(dates) - first))].date()
        assert s.leg(ticker).split == split
    for r in w.top:
        dates, r_long, r_hedge = leg_returns(market, r.ticker)
        split = int(np.flatnonzero(dates.date == w.splits[r.ticker])[0])
        args = (
            r.rebalance,
            r.window,
            r.exposure,
            r.hedge_ratio,
            r.cost,
            r.drift_band,
            1.0,
            r.estimator,
            r.halflife,
        )
        assert r.cost == max(grid.cost)
        oos = performance(dynamic_beta_hedge(r_long, r_hedge, *args, start=split).equity)
        ins = performance(dynamic_beta_hedge(r_long[:split], r_hedge[:split], *args).equity)
        for side, want in ((r.oos, oos), (r.in_sample, ins)):
            for name in ("sharpe", "annual_return"):
                assert getattr(side, name) == pytest.approx(
                    getattr(want, name), rel=1e-9, abs=1e-12
                ), (side, name)
            assert side.max_drawdown == pytest.approx(want.max_drawdown, abs=1e-12)
        assert r.oos.status == "ok" and 0 < r.oos.percentile <= 1


# -- 7. errors -------------------------------------------------------------------------------
def _grid(**kw) -> Grid:
    base = dict(legs=(Leg("A", ("A",)),), hedge="H", rebalance=(1,), window=(20,))
    return Grid(**{**base, **kw})


def test_too_little_history_names_the_leg_and_the_window():
    short = make_market(n_days=70)
    with pytest.raises(DataError) as exc:
        next(run_sweep(SweepRequest(_grid(window=(20, 60)), backend="cpu"), short))
    assert exc.value.where == "A"
    assert "too little history" in str(exc.value) and "--window" in str(exc.value)
    assert "(60)" in str(exc.value)


def test_unknown_ticker(market):
    with pytest.raises(DataError, match="unknown ticker") as exc:
        next(run_sweep(SweepRequest(_grid(legs=(Leg("ZZZ", ("ZZZ",)),)), backend="cpu"), market))
    assert exc.value.where == "ZZZ"
    with pytest.raises(DataError, match="unknown ticker"):
        next(run_sweep(SweepRequest(_grid(hedge="NOPE"), backend="cpu"), market))


@pytest.mark.parametrize("legs", [(Leg("H", ("H",)),), (parse_leg("AH=A+H"),)])
def test_hedge_among_the_long_legs(legs):
    with pytest.raises(DataError, match="--hedge"):
        _grid(legs=legs)


def test_basket_with_market_impact_is_refused(market):
    grid = _grid(legs=(parse_leg("AB=A+B@volume"),), impact=(0.0, 0.1))
    with pytest.raises(DataError, match="--impact 0") as exc:
        next(run_sweep(SweepRequest(grid, backend="cpu"), market))
    assert exc.value.where == "AB" and "single-ticker" in str(exc.value)


@pytest.mark.parametrize("fraction", [0.05, 0.95, 1.0, -0.1])
def test_walk_forward_out_of_range(fraction):
    with pytest.raises(DataError, match="--walk-forward"):
        SweepRequest(_grid(), walk_forward=fraction)


@pytest.mark.parametrize("blocks", [7, 3, 0, 18])
def test_blocks_odd_or_out_of_range(blocks):
    with pytest.raises(DataError, match="--blocks"):
        SweepRequest(_grid(), blocks=blocks)


# -- the run ledger's guards -----------------------------------------------------------------
def test_a_run_still_running_is_not_resumed(market, tmp_path):
    """Two processes on one run would interleave chunks: resuming a live run is refused."""
    with Ledger(tmp_path / "runs.sqlite") as ledger:
        run = ledger.create_run(
            SweepRequest(RESUMABLE, backend="cpu").to_dict(),
            "fp",
            "v",
            "cpu",
            "CPU",
            RESUMABLE.n_rows,
            1,
        )  # pid: this process
        with pytest.raises(HedgedeskError, match="still running"):
            next(run_sweep(None, market, ledger, resume=run))


def test_a_sweep_needs_a_request_or_a_run_to_resume(market):
    with pytest.raises(HedgedeskError, match="give a request, or the id of a run to resume"):
        next(run_sweep(None, market))


class FailingCpu(SlowCpu):
    def run(self, row0, count, rows=None):
        raise RuntimeError("device lost")


def test_a_failure_is_recorded_and_the_run_stays_resumable(market, tmp_path):
    with Ledger(tmp_path / "runs.sqlite") as ledger:
        with pytest.raises(RuntimeError, match="device lost"):
            for _ in run_sweep(
                SweepRequest(RESUMABLE, backend="cpu"), market, ledger, backend=FailingCpu()
            ):
                pass
        rec = ledger.runs()[0]
        assert rec.status == "failed" and "device lost" in rec.error
        done = sweep(None, market, ledger=ledger, resume=rec.id)
        assert done.status == "done"


def test_a_volume_gap_under_market_impact_names_the_ticker_and_day(tmp_path):
    base = make_market()
    series = []
    for t in ("A", "H"):
        s = base.get(t)
        volume = np.full(len(s.dates), 1e6)
        if t == "A":
            volume[200] = np.nan
        series.append(Series(t, s.dates, s.close, volume, "test", s.price_field))
    market = MarketData.from_series(series)
    grid = Grid(
        legs=(Leg("A", ("A",)),), hedge="H", rebalance=(5,), window=(20,), impact=(0.0, 0.1)
    )
    with pytest.raises(DataError, match=r"^A: volume missing .* before \d{4}-\d\d-\d\d"):
        sweep(SweepRequest(grid, backend="cpu"), market)


def test_sharpe_by_block_of_the_leaders(market):
    """Each leader's annualised Sharpe in each CSCV block equals the plain curve's returns
    on those days (one window, so every configuration's first day is the blocks' first).
    """
    grid = Grid(
        legs=(Leg("A", ("A",)),),
        hedge="H",
        rebalance=(1, 5),
        window=(40,),
        hedge_ratio=(0.5, 1.0),
        cost=(0.0, 0.001),
    )
    res = sweep(SweepRequest(grid, backend="cpu", top=4, blocks=6), market)
    for r in res.summary.top:
        run = run_backtest(
            market,
            ["A"],
            "H",
            r.rebalance,
            r.window,
            r.exposure,
            r.hedge_ratio,
            r.cost,
            r.drift_band,
        )
        x = run.equity[1:] / run.equity[:-1] - 1.0
        block = np.arange(len(x)) * 6 // len(x)
        want = [x[block == b].mean() / x[block == b].std(ddof=1) * math.sqrt(252) for b in range(6)]
        assert r.deflated.sharpe_by_block == pytest.approx(want, rel=1e-9)

"""Sweeps end to end (``hedgedesk.core.sweep.engine.run_sweep``) on synthetic markets.

Witnesses: ``hedgedesk.core.sweep.backtest.run_backtest`` (the plain dated backtest, with its own
unhedged twin
for hedge effectiveness) for every configuration of a finished run; the plain
``dynamic_beta_hedge`` loop with ``hedgedesk.core.metrics.performance`` for the walk-forward's
in-sample
and out-of-sample figures; the deflated Sharpe ratio recomputed here from its paper's formula
with scipy; an uninterrupted run for every interrupted-and-resumed one (cancelled in-process,
or a real process killed with SIGKILL).
"""

from __future__ import annotations

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
from hedgedesk.core.metrics import performance
from hedgedesk.core.sweep.backtest import dynamic_beta_hedge, run_backtest
from hedgedesk.core.sweep.engine import CpuBackend, SweepRequest, run_sweep
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
    """Hedge effectiveness needs each configuration's unhedged twin: a pass of its own, or the
    grid's own hedge-ratio-0 rows when it has them; both must give run_backtest's figure.
    """
    legs = (Leg("A", ("A",)), parse_leg("AB=A+B@equal"))
    grid = Grid(
        legs=legs,
        hedge="H",
        drift_band=(0.0, 0.02),
        **{**SMALL, "exposure": (1.2,), "hedge_ratio": ratios},
    )
    res = sweep(SweepRequest(grid, backend="cpu", top=6), market)
    assert res.status == "done" and res.run_id is None  # no ledger: kept in memory

    pc = res.per_config
    assert set(pc.columns) >= PER_CONFIG_COLUMNS
    assert len(pc) == grid.n_rows == len(legs) * grid.n_strategies * grid.n_scenarios
    c = res.summary.counts
    assert c.configurations == c.done == len(pc)
    assert c.ok + c.ruined + c.undefined_beta == len(pc) and c.ok == len(pc)
    assert c.strategies_per_leg == grid.n_strategies and c.scenarios == 3
    assert c.trials == len(legs) * grid.n_strategies
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

    for row in pc.itertuples(index=False):
        want = witness(row.ticker, row._asdict())
        for name, tol in METRIC_TOL.items():
            assert getattr(row, name) == pytest.approx(want[name], rel=tol, abs=tol), (row, name)

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
    res = sweep(SweepRequest(grid, backend="cpu", top=8, walk_forward=0), market)
    s = res.summary
    assert (s.ranking.cost, s.ranking.impact) == (max(grid.cost), 0.0)
    assert s.walk_forward is None
    top = s.top
    assert len(top) == 8
    scores = [r.score for r in top]
    assert scores == sorted(scores, reverse=True)
    pc = res.per_config
    ranked = pc[pc["cost"] == max(grid.cost)].sort_values("score", ascending=False)
    assert scores == ranked["score"].head(8).tolist()
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
    sweeping = [(e, None) for e in events if e.phase.startswith("sweep")]
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

    class Signalling(CpuBackend):
        sweeping = False  # the grid's own chunks (not the unhedged twins)

        def prepare(self, args):
            super().prepare(args)
            self.sweeping = bool(args.ratios.any()) and args.start == 0

        def run(self, row0, count, rows=None):
            if not self.sweeping:
                return super().run(row0, count, rows)
            chunks.append(cancel.is_set())
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
    assert 0 < len(res.per_config) < BIG.n_rows
    assert res.summary.counts.done == len(res.per_config)
    assert res.summary.walk_forward is None
    assert all(e.done < BIG.n_rows for e in events)


def test_cancel_in_the_unhedged_twins_phase(long_market):
    """The twins (hedge ratio 0, for hedge effectiveness) run first, in chunks that stream
    progress and honour a cancel like the sweep's own.
    """
    assert 0.0 not in BIG.hedge_ratio  # so the twins are a pass of their own
    cancel = threading.Event()
    gen = run_sweep(SweepRequest(BIG, backend="cpu", top=5), long_market, cancel=cancel)
    first = next(gen)
    assert first.phase.startswith("unhedged") and first.done == 0
    cancel.set()
    _, _, res = drain(gen)
    assert res.status == "cancelled" and res.per_config.empty and res.summary.top == ()


def test_cancel_after_the_first_progress(long_market):
    cancel = threading.Event()
    gen = run_sweep(SweepRequest(BIG, backend="cpu", top=5), long_market, cancel=cancel)
    first = next(gen)
    while not first.phase.startswith("sweep"):
        first = next(gen)
    cancel.set()
    _, _, res = drain(gen)
    assert res.status == "cancelled"
    assert len(res.per_config) == first.done  # nothing ran after the cancel
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


def test_resume_after_cancel_equals_an_uninterrupted_run(market, tmp_path):
    request = SweepRequest(RESUMABLE, backend="cpu", top=10)
    with Ledger(tmp_path / "runs.sqlite") as ledger:
        a = sweep(request, market, ledger=ledger)
        assert a.status == "done"

        cancel = threading.Event()
        gen = run_sweep(request, market, ledger=ledger, cancel=cancel, backend=SlowCpu())
        while next(gen).done == 0:  # past the unhedged twins: a few chunks are in the ledger
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

        events, _, c = drain(run_sweep(None, market, ledger, resume=b.run_id))
        assert c.status == "done" and c.run_id == b.run_id
        assert events[0].done >= rec.n_done  # the resumed chunks count as done
        same(c.summary.to_json()["top"], a.summary.to_json()["top"])
        same(_comparable(c.summary), _comparable(a.summary))
        same_frames(c.per_config, a.per_config)
        same_frames(ledger.per_config(b.run_id), ledger.per_config(a.run_id))
        rec = ledger.get(b.run_id)
        assert rec.status == "done" and rec.resumed == 1 and rec.n_done == RESUMABLE.n_rows
        with pytest.raises(HedgedeskError, match="already done"):
            next(run_sweep(None, market, ledger, resume=b.run_id))


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


def test_resume_after_sigkill_equals_an_uninterrupted_run(tmp_path):
    csv = write_csv(tmp_path / "prices.csv")
    (tmp_path / "changed").mkdir()
    changed = write_csv(tmp_path / "changed" / "prices.csv", bump=1.01)
    db = tmp_path / "state" / "runs.sqlite"
    request = SweepRequest(RESUMABLE, backend="cpu", top=10, data=(str(csv),))
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
    same_frames(resumed.per_config, whole.per_config)


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
    s, pc = res.summary, res.per_config
    n_trials = 2 * grid.n_strategies
    assert s.overfitting.trials == s.counts.trials == n_trials

    # DSR of each leader, from Bailey & Lopez de Prado (2014) with this grid's trials
    ranked = pc[pc["cost"] == max(grid.cost)]
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

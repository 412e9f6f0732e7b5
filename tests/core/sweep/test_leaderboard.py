"""Which leaderboard rows are one strategy (``tests.witness.strategy_key``,
``group_same``), checked against the engine: every
configuration of a real small sweep, hedge ratio 0 among its levels, from its per-configuration
table (``keep = all``). Rows collapsed together must have bit-identical figures; the parameters
the rule keeps at h = 0 (window, rebalance period, d = 0 against d > 0) must change the
figures. The leaderboard holds each strategy once: its rows are the best of every
configuration's float64 figures from the kernel, rows identical to a better one dropped.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from hedgedesk.core.sweep import kernel as K
from hedgedesk.core.sweep.engine import SweepRequest, run_sweep
from hedgedesk.core.sweep.grid import Grid, Leg, estimators
from tests.core.sweep.test_engine import drain, kernel_figures, make_market
from tests.witness import group_same, strategy_key

GRID = Grid(
    legs=(Leg("A", ("A",)), Leg("B", ("B",))),
    hedge="H",
    rebalance=(1, 5),
    window=(20, 60),
    estimator=estimators(("ols", "ewma"), (10.0, 30.0)),
    exposure=(0.5, 1.0),
    hedge_ratio=(0.0, 1.0),
    drift_band=(0.0, 0.02, 0.05),
    cost=(0.0, 0.001),
)
FIGURES = (
    "status",
    "n",
    "score",
    "annual_return",
    "annual_volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "turnover",
    "residual_beta",
    "consistency",
    "final_equity",
    "hedge_effectiveness",
    "is_score",
    "is_annual_return",
    "is_sharpe",
    "is_max_drawdown",
    "is_consistency",
)


REQUEST = SweepRequest(GRID, top=12, walk_forward=0, keep="all")


@pytest.fixture(scope="module")
def market():
    return make_market()


@pytest.fixture(scope="module")
def run(market):
    res = drain(run_sweep(REQUEST, market))[2]
    assert res.status == "done" and len(res.per_config) == GRID.n_rows
    return res


def records(frame: pd.DataFrame) -> list[dict]:
    out = frame.to_dict("records")
    for r in out:
        r["halflife"] = None if r["estimator"] == "ols" else r["halflife"]
    return out


def figures(r: dict) -> tuple:
    return tuple("nan" if isinstance(r[f], float) and math.isnan(r[f]) else r[f] for f in FIGURES)


def test_rows_collapsed_together_have_identical_figures(run):
    rows = records(run.per_config)
    groups = group_same(rows, strategy_key)
    assert sum(len(g) for g in groups) == len(rows)
    for g in groups:
        assert {figures(r) for r in g} == {figures(g[0])}, strategy_key(g[0])
    # h > 0: every parameter counts, nothing collapses
    hedged = [g for g in groups if g[0]["hedge_ratio"] > 0]
    assert all(len(g) == 1 for g in hedged)
    assert len(hedged) == len([r for r in rows if r["hedge_ratio"] > 0])
    # h = 0: the 3 estimators fold, and so do the 2 drift bands above 0
    unhedged = [g for g in groups if g[0]["hedge_ratio"] == 0]
    assert sorted({len(g) for g in unhedged}) == [3, 6]
    assert all(len(g) == (3 if g[0]["drift_band"] == 0 else 6) for g in unhedged)
    per_leg = len(GRID.rebalance) * len(GRID.window) * len(GRID.exposure) * 2 * len(GRID.cost)
    assert len(unhedged) == len(GRID.legs) * per_leg


def test_what_the_rule_keeps_at_hedge_ratio_0_changes_the_outcome(run):
    """The window sets the first trading day (W - 1), so it is not irrelevant even with no
    hedge: the same strategy but W differs in the number of returns. The rebalance period
    resets the long leg at d = 0, and d = 0 trades where d > 0 holds.
    """
    f = run.per_config
    z = f[(f["hedge_ratio"] == 0) & (f["estimator"] == "ols") & (f["cost"] == 0.001)]

    def one(**kw):
        m = z
        for k, v in kw.items():
            m = m[m[k] == v]
        assert len(m) == 1
        return m.iloc[0]

    for ticker in ("A", "B"):
        for p in GRID.rebalance:
            w20 = one(ticker=ticker, rebalance=p, window=20, exposure=0.5, drift_band=0.0)
            w60 = one(ticker=ticker, rebalance=p, window=60, exposure=0.5, drift_band=0.0)
            assert w20["n"] == w60["n"] + 40 and w20["final_equity"] != w60["final_equity"]
        p1 = one(ticker=ticker, rebalance=1, window=20, exposure=0.5, drift_band=0.0)
        p5 = one(ticker=ticker, rebalance=5, window=20, exposure=0.5, drift_band=0.0)
        assert p1["turnover"] > p5["turnover"] and p1["final_equity"] != p5["final_equity"]
        held = one(ticker=ticker, rebalance=1, window=20, exposure=0.5, drift_band=0.02)
        assert held["turnover"] < p1["turnover"] and held["final_equity"] != p1["final_equity"]


def test_the_leaderboard_holds_each_strategy_once(run, market):
    top = run.summary.to_json()["top"]  # the rows as the ledger and --json hold them
    assert len(top) == REQUEST.top
    groups = group_same(top, strategy_key)
    assert all(len(g) == 1 for g in groups)  # no two rows are one strategy
    assert len({(r["score"], r["sharpe"], r["dsr"]) for r in top}) == len(top)
    # the witness: every configuration under the costliest scenario, best first (legs in
    # order, then the lower row, on ties), a row whose every figure equals a better-ranked
    # one's of its leg dropped
    exact = kernel_figures(REQUEST, market)
    ranked = exact[(exact["cost"] == max(GRID.cost)) & (exact["status"] == K.OK)].copy()
    ranked["leg"] = ranked["ticker"].map({leg.name: i for i, leg in enumerate(GRID.legs)})
    ranked = ranked.sort_values(["score", "leg", "row"], ascending=[False, True, True])
    seen: set[tuple] = set()
    best, raw = [], []
    for r in ranked.itertuples(index=False):
        key = (r.ticker, *(getattr(r, f) for f in K.METRICS))
        raw.append((r.ticker, r.row))
        if key not in seen:
            seen.add(key)
            best.append((r.ticker, r.row))
    assert [(r["ticker"], r["row"]) for r in top] == best[: REQUEST.top]
    assert [r["score"] for r in top] == [
        ranked.set_index(["ticker", "row"]).loc[k, "score"] for k in best[: REQUEST.top]
    ]
    # without the collapse this grid's best rows include h = 0 twins of each other
    assert raw[: REQUEST.top] != best[: REQUEST.top]


def test_strategy_key_reads_ledger_and_table_rows_alike():
    base = {
        "ticker": "A",
        "hedge": "H",
        "rebalance": 5,
        "window": 60,
        "exposure": 1.0,
        "cost": 0.001,
        "impact": 0.0,
    }
    ols = {**base, "estimator": "ols", "halflife": None, "hedge_ratio": 0.0, "drift_band": 0.05}
    ewma = {**base, "estimator": "ewma", "halflife": 10.0, "hedge_ratio": 0.0, "drift_band": 0.1}
    assert strategy_key(ols) == strategy_key(ewma)
    assert strategy_key({**ols, "drift_band": 0.0}) != strategy_key(ols)
    assert strategy_key({**ols, "window": 20}) != strategy_key(ols)
    assert strategy_key({**ols, "hedge_ratio": 0.5}) != strategy_key({**ewma, "hedge_ratio": 0.5})
    assert strategy_key({**ols, "halflife": np.nan}) == strategy_key(ols)

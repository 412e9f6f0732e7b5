"""Mean-CVaR: each figure against an independent witness (brute force over a weight grid,
CONVENTIONS' CVaR written here with numpy, the same LP written as matrices for SciPy's HiGHS),
and failures that say why.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

import hedgedesk.core.optimize.cvar as cvar
from hedgedesk.core.optimize.cvar import cvar_frontier, min_cvar, scenario_cvar
from hedgedesk.core.optimize.problem import Constraints, Group, OptimizationError, estimate


def synthetic(t: int, n: int, seed: int) -> pd.DataFrame:
    """Fat-tailed daily returns with one common factor (seeded)."""
    rng = np.random.default_rng(seed)
    factor = rng.standard_t(4, (t, 1)) * 0.008
    x = factor * rng.uniform(0.3, 1.3, n) + rng.standard_t(5, (t, n)) * 0.01
    x += rng.uniform(0.0, 0.0008, n)
    return pd.DataFrame(x, columns=[f"A{i}" for i in range(n)])


def conventions_cvar(r: np.ndarray, a: float = 0.95) -> float:
    """CONVENTIONS: q = np.quantile(R, 1 - a) (linear); CVaR = -mean(R[R <= q])."""
    q = np.quantile(r, 1 - a)
    return float(-r[r <= q].mean())


def ru_lp(
    r: np.ndarray,
    a: float,
    cap: float = 1.0,
    mu: np.ndarray | None = None,
    target: float | None = None,
    p: np.ndarray | None = None,
):
    """The Rockafellar-Uryasev LP in matrix form, x = (w, alpha, u), solved by HiGHS."""
    t, n = r.shape
    p = np.full(t, 1 / t) if p is None else p
    cost = np.concatenate([np.zeros(n), [1.0], p / (1 - a)])
    a_ub = np.hstack([-r, -np.ones((t, 1)), -np.eye(t)])
    b_ub = np.zeros(t)
    if target is not None:
        a_ub = np.vstack([a_ub, np.concatenate([-mu, [0.0], np.zeros(t)])])
        b_ub = np.append(b_ub, -target)
    a_eq = np.concatenate([np.ones(n), [0.0], np.zeros(t)])[None, :]
    bounds = [(0, cap)] * n + [(None, None)] + [(0, None)] * t
    res = linprog(
        cost,
        a_ub,
        b_ub,
        a_eq,
        [1.0],
        bounds=bounds,
        method="highs",
        options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
    )
    assert res.status == 0, res.message
    return res.fun, res.x[:n]


def weights(pf) -> np.ndarray:
    return np.array(list(pf.weights.values()))


# -- the optimum -------------------------------------------------------------------------------
def test_lp_matches_brute_force_on_three_assets():
    est = estimate(synthetic(400, 3, seed=1))  # k = 0.05 * 400 = 20 worst days
    pf = min_cvar(est, Constraints(max_weight=0.7))
    step = 0.01
    g = np.arange(0, 1 + step / 2, step)
    w1, w2 = np.meshgrid(g, g)
    grid = np.column_stack([w1.ravel(), w2.ravel(), 1 - w1.ravel() - w2.ravel()])
    grid = grid[(grid[:, 2] > -1e-12) & (grid <= 0.7 + 1e-12).all(axis=1)]
    port = np.sort(est.scenarios @ grid.T, axis=0)  # (T, G), worst day first
    brute = -port[:20].mean(axis=0)
    best = brute.min()
    got = pf.extra["cvar"]
    assert got <= best + 1e-10  # the LP optimum is below every feasible grid point
    # a grid point lies within step (L1 distance 2 * step) of the optimum; CVaR is Lipschitz
    # with constant max |R| in that norm
    assert best - got <= 2 * step * np.abs(est.scenarios).max()
    # refine around the LP solution: nothing nearby does better either
    w = weights(pf)
    fine = w + np.stack(np.meshgrid(*[np.linspace(-0.01, 0.01, 41)] * 2), -1).reshape(
        -1, 2
    ) @ np.array([[1.0, 0.0, -1.0], [0.0, 1.0, -1.0]])
    fine = fine[(fine >= 0).all(axis=1) & (fine <= 0.7).all(axis=1)]
    near = -np.sort(est.scenarios @ fine.T, axis=0)[:20].mean(axis=0)
    assert got <= near.min() + 1e-10


def test_optimised_cvar_equals_conventions_cvar_when_the_quantile_falls_on_a_scenario():
    est = estimate(synthetic(1000, 6, seed=2))  # (1 - 0.95) * 1000 = 50: a whole number
    pf = min_cvar(est, Constraints(max_weight=0.4))
    r = np.sort(est.scenarios @ weights(pf))
    assert r[49] < r[50]  # no exact tie at the boundary: the relation applies
    witness = conventions_cvar(r)
    assert pf.extra["cvar"] == pytest.approx(witness, rel=1e-12, abs=1e-15)
    assert pf.extra["cvar_lp"] == pytest.approx(witness, rel=1e-7, abs=1e-10)  # solver tol.
    assert pf.cvar_95 == pytest.approx(witness, rel=1e-12)


def test_documented_relation_when_the_quantile_falls_between_scenarios():
    r = np.random.default_rng(3).standard_t(4, 1010) * 0.01  # k = 50.5
    s = np.sort(r)
    ru = -(s[:50].sum() + 0.5 * s[50]) / 50.5  # the 51st worst with weight 0.5
    m = math.floor(1009 * 0.05) + 1  # 51: CONVENTIONS averages the worst m
    assert scenario_cvar(r, 0.95) == pytest.approx(ru, rel=1e-12)
    assert conventions_cvar(r) == pytest.approx(-s[:m].mean(), rel=1e-12)
    assert abs(scenario_cvar(r, 0.95) - conventions_cvar(r)) > 1e-6  # they differ here
    r1000 = r[:1000]
    assert scenario_cvar(r1000, 0.95) == pytest.approx(conventions_cvar(r1000), rel=1e-12)


def test_scenario_cvar_with_probabilities_is_the_minimum_over_alpha():
    rng = np.random.default_rng(4)
    r = rng.normal(0, 0.01, 300)
    p = rng.uniform(0.2, 1.0, 300)
    p /= p.sum()
    loss = -r
    # the RU objective is piecewise linear in alpha with kinks at the losses: try them all
    brute = min(al + p @ np.maximum(loss - al, 0) / 0.1 for al in loss)
    assert scenario_cvar(r, 0.9, p) == pytest.approx(brute, rel=1e-12)


def test_a_second_solver_matches_with_a_target_and_probabilities():
    est = estimate(synthetic(800, 6, seed=5))
    rng = np.random.default_rng(6)
    p = rng.uniform(0.5, 1.5, 800)
    p /= p.sum()
    target = float(np.quantile(est.mu, 0.7))
    pf = min_cvar(est, Constraints(max_weight=0.35), 0.9, target, p)
    value, w_hi = ru_lp(est.scenarios, 0.9, 0.35, est.mu, target, p)
    assert pf.extra["cvar"] == pytest.approx(value, rel=1e-8, abs=1e-11)
    assert scenario_cvar(est.scenarios @ w_hi, 0.9, p) == pytest.approx(value, rel=1e-9)
    assert pf.expected_return >= target - 1e-8
    assert pf.extra["probabilities"] == "given"
    assert "target expected return" in pf.binding


def test_screening_is_exact_when_the_first_screen_misses_the_tail(monkeypatch):
    """Seed the screen with a single tail of the equal-weight book: the optimum's tail lies
    partly outside it, the LP grows, and the answer is still the full LP's.
    """
    monkeypatch.setattr(cvar, "SEED_TAIL_MULTIPLE", 1.0)
    monkeypatch.setattr(
        cvar._ScreenedCvar, "proxy", lambda self, target: np.full(self.est.n, 1 / self.est.n)
    )
    est = estimate(synthetic(3000, 8, seed=7))
    pf = min_cvar(est, Constraints(max_weight=0.3))
    value, _ = ru_lp(est.scenarios, 0.95, 0.3)
    assert pf.extra["lp_builds"] > 1
    assert pf.extra["scenarios_in_lp"] < 3000
    assert pf.extra["cvar"] == pytest.approx(value, rel=1e-8)
    assert pf.extra["cvar_lp"] == pytest.approx(value, rel=1e-7)


def test_long_short_book_needs_every_scenario_bound():
    est = estimate(synthetic(500, 4, seed=8))
    c = Constraints(long_only=False, min_weight=-0.5, max_weight=1.0, gross_max=1.6)
    pf = min_cvar(est, c)
    w = weights(pf)
    assert w.sum() == pytest.approx(1, abs=1e-7)
    assert np.abs(w).sum() <= 1.6 + 1e-7
    assert pf.extra["cvar"] <= conventions_cvar(est.scenarios @ np.full(4, 0.25)) + 1e-12


# -- frontier ----------------------------------------------------------------------------------
def test_frontier_points_match_single_solves_and_rise():
    est = estimate(synthetic(500, 5, seed=9))
    c = Constraints(max_weight=0.5)
    seen = []
    table = cvar_frontier(est, c, 5, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(i, 5) for i in range(1, 6)]
    assert table["ok"].all()
    assert list(table.columns[-5:]) == list(est.tickers)
    assert np.all(np.diff(table["cvar"]) >= -1e-9)
    assert np.all(np.diff(table["target_return"]) > 0)
    assert table["cvar"].iloc[0] == pytest.approx(min_cvar(est, c).extra["cvar"], rel=1e-7)
    for _, row in table.iloc[[1, 3, 4]].iterrows():
        value, _ = ru_lp(est.scenarios, 0.95, 0.5, est.mu, row["target_return"])
        assert row["cvar"] == pytest.approx(value, rel=1e-7)


def test_frontier_failed_point_is_a_row_with_its_reason(monkeypatch):
    est = estimate(synthetic(300, 4, seed=10))
    real = cvar.solve
    calls = {"n": 0}

    def flaky(problem):
        if problem.parameters():  # the frontier problem: fail its second point
            calls["n"] += 1
            if calls["n"] == 2:
                return "", ("CLARABEL",)
        return real(problem)

    monkeypatch.setattr(cvar, "solve", flaky)
    table = cvar_frontier(est, Constraints(), 4)
    assert table["ok"].tolist() == [True, False, True, True]
    bad = table.iloc[1]
    assert bad["reason"]
    assert math.isnan(bad["cvar"]) and math.isnan(bad["A0"])


def test_frontier_stops_when_cancelled():
    est = estimate(synthetic(300, 4, seed=11))
    stop = threading.Event()
    table = cvar_frontier(
        est, Constraints(), 6, progress=lambda d, t: stop.set() if d == 2 else None, cancel=stop
    )
    assert len(table) == 2


# -- failures ----------------------------------------------------------------------------------
def _impossible() -> Constraints:
    return Constraints(
        groups=(Group("equity", ("A0", "A1"), min=0.7), Group("bonds", ("A2",), min=0.5))
    )


def test_infeasible_constraints_with_the_real_diagnosis():
    est = estimate(synthetic(200, 4, seed=12))
    with pytest.raises(OptimizationError) as info:
        min_cvar(est, _impossible())
    assert any("120 %" in r for r in info.value.reasons)
    assert info.value.suggestion


def test_unattainable_target_names_the_highest_return():
    est = estimate(synthetic(200, 4, seed=13))
    with pytest.raises(OptimizationError) as info:
        min_cvar(est, Constraints(max_weight=0.5), target_return=5.0)
    best = np.sort(est.mu)[-2:].sum() * 0.5  # two best assets at the 50 % cap
    assert "above the highest attainable" in info.value.reasons[0]
    assert f"{best:.4%}" in info.value.reasons[0]


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"confidence": 1.0}, "confidence"),
        ({"probabilities": np.full(200, 0.004)}, "sum to 1"),
        ({"probabilities": np.full(199, 1 / 199)}, "one per scenario"),
    ],
)
def test_bad_inputs_are_named(kwargs, text):
    est = estimate(synthetic(200, 3, seed=14))
    with pytest.raises(OptimizationError, match=text):
        min_cvar(est, Constraints(), **kwargs)


# -- the original study's shape on real ETFs ---------------------------------------------------
def test_real_etfs_with_caps_and_an_equity_minimum(shared_data: Path):
    files = sorted((shared_data / "etf").glob("*.csv"))
    if len(files) < 10:
        pytest.skip("the ETF set is not present")
    # yfinance layout: 4 header lines, column 1 the adjusted close
    prices = pd.concat(
        [pd.read_csv(f, header=None, skiprows=4, index_col=0)[1].rename(f.stem) for f in files],
        axis=1,
        sort=True,
    ).dropna()
    returns = (prices / prices.shift(1) - 1).iloc[1:].iloc[-2520:]  # k = 126 worst days
    est = estimate(returns)
    equities = tuple(
        t
        for t in ("SPY", "QQQ", "IWM", "EFA", "EEM", "VTI", "MDY", "IEV", "EWJ")
        if t in est.tickers
    )
    with pytest.raises(OptimizationError):  # 4 % caps on ~21 ETFs cannot make 100 %
        min_cvar(est, Constraints(max_weight=0.04))
    c = Constraints(max_weight=0.15, groups=(Group("equities", equities, min=0.5),))
    pf = min_cvar(est, c)
    w = weights(pf)
    assert w[[est.tickers.index(t) for t in equities]].sum() >= 0.5 - 1e-7
    assert pf.extra["cvar"] == pytest.approx(conventions_cvar(est.scenarios @ w), rel=1e-10)
    equal = np.where(
        np.isin(est.tickers, equities), 0.5 / len(equities), 0.5 / (est.n - len(equities))
    )
    if equal.max() <= 0.15:
        assert pf.extra["cvar"] <= scenario_cvar(est.scenarios @ equal) + 1e-12

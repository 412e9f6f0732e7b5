"""Mean-variance optimiser against independent witnesses: closed forms (KKT of the equality-
constrained problems), a second solver (SCS at tight tolerance) on formulations written here
from the Constraints' meaning, brute force on a 3-asset simplex grid, PyPortfolioOpt on the
same mu/cov, and the original study's problem shape on the real ETFs of ../shared/data/etf.
"""

from __future__ import annotations

import functools
import re
import threading

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest
import scipy.linalg
from threadpoolctl import threadpool_info

import hedgedesk.core.optimize.mean_variance as mvmod
import hedgedesk.core.optimize.problem as problem_mod
from hedgedesk.core.blas import serial_blas
from hedgedesk.core.data.price_files import load_paths
from hedgedesk.core.optimize.mean_variance import FrontierPoint, MeanVariance
from hedgedesk.core.optimize.problem import (
    Constraints,
    Estimates,
    Group,
    OptimizationError,
    estimate,
)


# -- data ---------------------------------------------------------------------------------------
def synthetic(n: int, seed: int, days: int = 1000) -> Estimates:
    """Seeded daily returns from a 2-factor model, estimated per CONVENTIONS."""
    rng = np.random.default_rng(seed)
    loads = rng.normal(0.7, 0.4, (n, 2)) * np.array([1.0, 0.5])
    f = rng.normal(0.0, 0.01, (days, 2))
    idio = rng.uniform(0.005, 0.02, n)
    x = f @ loads.T + rng.normal(0.0, 1.0, (days, n)) * idio + rng.uniform(0.0, 0.0008, n)
    return estimate(pd.DataFrame(x, columns=[f"A{i}" for i in range(n)]))


def given(mu, cov, seed: int = 0) -> Estimates:
    """Estimates with exactly this annual mu and cov (scenarios drawn to match, for VaR)."""
    mu, cov = np.asarray(mu, float), np.asarray(cov, float)
    x = np.random.default_rng(seed).multivariate_normal(mu / 252, cov / 252, size=500)
    return Estimates(tuple(f"A{i}" for i in range(len(mu))), mu, cov, x, "given")


def weights(p) -> np.ndarray:
    return np.array(list(p.weights.values()))


MU4 = np.array([0.06, 0.09, 0.12, 0.04])
COV4 = np.array(
    [
        [0.040, 0.006, 0.010, 0.002],
        [0.006, 0.090, 0.012, 0.001],
        [0.010, 0.012, 0.160, 0.003],
        [0.002, 0.001, 0.003, 0.010],
    ]
)
WIDE = Constraints(long_only=False, min_weight=-10.0, max_weight=10.0)  # bounds never bind


# -- closed forms -------------------------------------------------------------------------------
def test_min_variance_equals_closed_form_when_only_the_budget_binds():
    inv1 = np.linalg.solve(COV4, np.ones(4))
    p = MeanVariance(given(MU4, COV4), WIDE).min_variance()
    np.testing.assert_allclose(weights(p), inv1 / inv1.sum(), atol=1e-7)
    assert p.volatility == pytest.approx(1 / np.sqrt(inv1.sum()), rel=1e-7)


def test_max_sharpe_equals_tangency_portfolio():
    rf = 0.02
    z = np.linalg.solve(COV4, MU4 - rf)
    p = MeanVariance(given(MU4, COV4), WIDE, rf=rf).max_sharpe()
    np.testing.assert_allclose(weights(p), z / z.sum(), atol=1e-6)
    assert p.sharpe == pytest.approx(np.sqrt((MU4 - rf) @ z), rel=1e-7)


def test_utility_equals_closed_form():
    lam = 3.0
    inv1, invmu = np.linalg.solve(COV4, np.ones(4)), np.linalg.solve(COV4, MU4)
    gamma = (invmu.sum() - lam) / inv1.sum()  # the budget's multiplier
    expected = (invmu - gamma * inv1) / lam
    p = MeanVariance(given(MU4, COV4), WIDE).utility(lam)
    np.testing.assert_allclose(weights(p), expected, atol=1e-7)
    assert p.extra["utility"] == pytest.approx(
        MU4 @ expected - lam / 2 * expected @ COV4 @ expected, rel=1e-7
    )


@pytest.mark.parametrize("method", ["auto", "cvxpy"])
def test_frontier_variance_equals_two_fund_closed_form(method):
    inv1, invmu = np.linalg.solve(COV4, np.ones(4)), np.linalg.solve(COV4, MU4)
    a, b, c = MU4 @ invmu, invmu.sum(), inv1.sum()
    targets = np.linspace(b / c, 0.12, 7)  # from the minimum-variance return upwards
    rows = MeanVariance(given(MU4, COV4), WIDE).frontier_at(targets, method=method)
    # exact KKT solves, or an interior point at its default tolerance
    rel, abs_ret = (1e-10, 1e-12) if method == "auto" else (1e-6, 2e-5)
    for t, row in zip(targets, rows, strict=True):
        assert row.reason == ""
        assert row.portfolio.volatility**2 == pytest.approx(
            (a - 2 * b * t + c * t * t) / (a * c - b * b), rel=rel
        )
        assert row.portfolio.expected_return == pytest.approx(t, abs=abs_ret)


def test_closed_form_witnesses_can_fail():
    """The closed forms tell a wrong answer apart: a capped solution differs from them."""
    inv1 = np.linalg.solve(COV4, np.ones(4))
    capped = MeanVariance(given(MU4, COV4), Constraints(max_weight=0.3)).min_variance()
    assert np.abs(weights(capped) - inv1 / inv1.sum()).max() > 1e-2


# -- a second solver on the same constrained problems ---------------------------------------------
def witness_constraints(w, c: Constraints, est: Estimates, scale=1.0) -> list:
    """The constraint set written from its meaning (not from
    hedgedesk.core.optimize.problem.build).
    """
    root = np.real(scipy.linalg.sqrtm(est.cov))  # symmetric square root: another factor
    out = [
        cp.sum(w) >= c.net_min * scale,
        cp.sum(w) <= c.net_max * scale,
        w <= c.max_weight * scale,
    ]
    if c.long_only:
        out.append(w >= max(c.min_weight, 0.0) * scale)
    elif np.isfinite(c.min_weight):
        out.append(w >= c.min_weight * scale)
    if not c.long_only and c.gross_max is not None:
        out.append(cp.norm1(w) <= c.gross_max * scale)
    for g in c.groups:
        s = sum(w[est.tickers.index(t)] for t in g.tickers)
        out += [s >= g.min * scale, s <= g.max * scale]
    if c.vol_cap is not None:
        out.append(cp.norm(root @ w, 2) <= c.vol_cap * scale)
    if c.turnover_max is not None:
        out.append(cp.norm1(w - c.current * scale) <= c.turnover_max * scale)
    if c.beta_min is not None:
        out.append(c.betas @ w >= c.beta_min * scale)
    if c.beta_max is not None:
        out.append(c.betas @ w <= c.beta_max * scale)
    if c.te_cap is not None:
        out.append(cp.norm(root @ (w - c.benchmark_weights * scale), 2) <= c.te_cap * scale)
    return out


def witness(
    kind: str, c: Constraints, est: Estimates, rf: float = 0.0, lam: float = 4.0
) -> np.ndarray:
    """The same problem solved by SCS at tight tolerance."""
    n = est.n
    w = cp.Variable(n)
    cost = c.cost_rate * cp.norm1(w - c.current) if c.cost_rate else 0.0
    if kind == "max-sharpe":
        k = cp.Variable(nonneg=True)
        cost = c.cost_rate * cp.norm1(w - k * c.current) if c.cost_rate else 0.0
        prob = cp.Problem(
            cp.Minimize(cp.quad_form(w, est.cov)),
            [*witness_constraints(w, c, est, k), est.mu @ w - rf * cp.sum(w) - cost >= 1],
        )
    elif kind == "min-variance":
        prob = cp.Problem(cp.Minimize(cp.quad_form(w, est.cov)), witness_constraints(w, c, est))
    elif kind == "max-return":
        prob = cp.Problem(cp.Maximize(est.mu @ w - cost), witness_constraints(w, c, est))
    else:
        prob = cp.Problem(
            cp.Maximize(est.mu @ w - cost - lam / 2 * cp.quad_form(w, est.cov)),
            witness_constraints(w, c, est),
        )
    prob.solve(solver=cp.SCS, eps_abs=1e-11, eps_rel=1e-11, max_iters=500_000)
    assert prob.status == cp.OPTIMAL, (kind, prob.status)
    return w.value / k.value if kind == "max-sharpe" else w.value


EST6 = synthetic(6, seed=3)
CUR6 = np.array([0.3, 0.2, 0.2, 0.1, 0.1, 0.1])
CASES = {
    "caps and a group": Constraints(
        max_weight=0.35, groups=(Group("g", ("A0", "A1", "A2"), min=0.5, max=0.8),)
    ),
    "vol cap": Constraints(max_weight=0.6, vol_cap=0.13),
    "turnover and costs": Constraints(
        max_weight=0.5, current=CUR6, turnover_max=0.3, cost_rate=0.002
    ),
    "beta band": Constraints(
        max_weight=0.5, betas=np.array([1.2, 0.9, 1.4, 0.5, 1.0, 0.7]), beta_min=0.8, beta_max=0.9
    ),
    "tracking-error cap": Constraints(
        max_weight=0.6, benchmark_weights=np.full(6, 1 / 6), te_cap=0.02
    ),
    "long/short gross": Constraints(
        long_only=False, min_weight=-0.3, max_weight=0.6, gross_max=1.6
    ),
}


def objective(kind: str, w: np.ndarray, c: Constraints, rf: float = 0.01) -> float:
    cost = c.cost_rate * np.abs(w - c.current).sum() if c.cost_rate else 0.0
    ret, var = EST6.mu @ w - cost, w @ EST6.cov @ w
    return {
        "min-variance": var,
        "max-return": ret,
        "utility": ret - 2.0 * var,
        "max-sharpe": (ret - rf * w.sum()) / np.sqrt(var),
    }[kind]


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("kind", ["min-variance", "max-return", "max-sharpe", "utility"])
def test_second_solver_agrees(case, kind):
    """Objectives agree to 1e-6, weights to the engine's solver tolerance: CLARABEL at its
    defaults (through hedgedesk.core.optimize.problem.solve) leaves up to ~4e-7 relative in the
    objective and
    a few 1e-5 in weights along flat directions.
    """
    c = CASES[case]
    mv = MeanVariance(EST6, c, rf=0.01)
    p = {
        "min-variance": mv.min_variance,
        "max-return": mv.max_return,
        "max-sharpe": mv.max_sharpe,
        "utility": lambda: mv.utility(4.0),
    }[kind]()
    w = witness(kind, c, EST6, rf=0.01)
    np.testing.assert_allclose(weights(p), w, atol=6e-5)
    assert objective(kind, weights(p), c) == pytest.approx(objective(kind, w, c), rel=1e-6)


def test_second_solver_witness_can_fail():
    """Dropping the group from the witness moves the answer: the comparison has teeth."""
    c = CASES["caps and a group"]
    p = MeanVariance(EST6, c).min_variance()
    loose = witness("min-variance", Constraints(max_weight=0.35), EST6)
    assert np.abs(weights(p) - loose).max() > 1e-3


def test_binding_constraints_are_named():
    p = MeanVariance(EST6, CASES["vol cap"]).max_return()
    assert p.volatility == pytest.approx(0.13, rel=1e-6)
    assert "volatility at most 0.13" in p.binding
    p = MeanVariance(EST6, CASES["caps and a group"]).max_return()
    assert "maximum weight 0.35" in p.binding


# -- brute force on three assets -------------------------------------------------------------------
def test_brute_force_on_a_simplex_grid():
    mu = np.array([0.05, 0.08, 0.14])
    cov = np.array([[0.02, 0.004, 0.006], [0.004, 0.05, 0.012], [0.006, 0.012, 0.12]])
    c = Constraints(max_weight=0.7, groups=(Group("AB", ("A0", "A1"), min=0.5),), vol_cap=0.2)
    mv = MeanVariance(given(mu, cov), c, rf=0.02)
    step = 1 / 1000
    g = np.arange(0, 1 + step / 2, step)
    a, b = np.meshgrid(g, g, indexing="ij")
    w = np.stack([a.ravel(), b.ravel(), 1 - a.ravel() - b.ravel()], axis=1)
    w = w[(w[:, 2] >= -1e-12) & (w <= 0.7 + 1e-12).all(axis=1) & (w[:, 0] + w[:, 1] >= 0.5)]
    var = np.einsum("ij,jk,ik->i", w, cov, w)
    w, var = w[var <= 0.2**2], var[var <= 0.2**2]
    ret = w @ mu
    sharpe = (ret - 0.02) / np.sqrt(var)

    p = mv.min_variance()
    assert p.volatility**2 <= var.min() + 1e-12  # exact beats the grid ...
    assert p.volatility**2 == pytest.approx(var.min(), rel=1e-4)  # ... by grid resolution
    np.testing.assert_allclose(weights(p), w[np.argmin(var)], atol=2e-3)

    p = mv.max_return()
    assert ret.max() <= p.expected_return + 1e-12
    assert p.expected_return == pytest.approx(ret.max(), abs=2e-4)
    # the return is flat along the volatility cap, so the grid's weights sit further away
    np.testing.assert_allclose(weights(p), w[np.argmax(ret)], atol=2e-2)
    assert p.volatility == pytest.approx(0.2, rel=1e-6)

    p = mv.max_sharpe()
    assert sharpe.max() <= p.sharpe + 1e-12
    assert p.sharpe == pytest.approx(sharpe.max(), rel=1e-5)
    np.testing.assert_allclose(weights(p), w[np.argmax(sharpe)], atol=3e-3)


# -- PyPortfolioOpt on the same inputs -------------------------------------------------------------
def test_pypfopt_agrees():
    pypfopt = pytest.importorskip("pypfopt")
    est = synthetic(8, seed=11)
    mu = pd.Series(est.mu, index=est.tickers)
    cov = pd.DataFrame(est.cov, index=est.tickers, columns=est.tickers)

    def ef():
        return pypfopt.EfficientFrontier(mu, cov, weight_bounds=(0, 0.3))

    ours = MeanVariance(est, Constraints(max_weight=0.3), rf=0.02)
    theirs = ef()
    theirs.min_volatility()
    np.testing.assert_allclose(weights(ours.min_variance()), theirs.weights, atol=1e-4)
    theirs = ef()
    theirs.max_sharpe(risk_free_rate=0.02)
    np.testing.assert_allclose(weights(ours.max_sharpe()), theirs.weights, atol=1e-4)
    cap = (ours.min_variance().volatility + ours.max_return().volatility) / 2
    theirs = ef()
    theirs.efficient_risk(target_volatility=cap)
    capped = MeanVariance(est, Constraints(max_weight=0.3, vol_cap=cap)).max_return()
    np.testing.assert_allclose(weights(capped), theirs.weights, atol=1e-4)
    assert capped.volatility == pytest.approx(cap, rel=1e-6)


# -- the frontier ----------------------------------------------------------------------------------
FRONTIER_C = Constraints(
    max_weight=0.3, groups=(Group("g", ("A0", "A1", "A2", "A3"), min=0.5),), vol_cap=0.14
)
EST10 = synthetic(10, seed=5)


@pytest.fixture(scope="module")
def frontier_rows() -> list[FrontierPoint]:
    return MeanVariance(EST10, FRONTIER_C).frontier(25)


def test_frontier_is_monotone_and_within_the_constraints(frontier_rows):
    assert all(r.reason == "" and r.portfolio is not None for r in frontier_rows)
    ret = np.array([r.portfolio.expected_return for r in frontier_rows])
    vol = np.array([r.portfolio.volatility for r in frontier_rows])
    assert (np.diff(ret) > 0).all() and (np.diff(vol) >= -1e-12).all()
    for r in frontier_rows:
        w = weights(r.portfolio)
        assert r.portfolio.expected_return >= r.target_return - 1e-9
        assert w.sum() == pytest.approx(1, abs=1e-9)
        assert w.min() >= -1e-9 and w.max() <= 0.3 + 1e-9
        assert w[:4].sum() >= 0.5 - 1e-9
        assert r.portfolio.volatility <= 0.14 * (1 + 1e-6)


def test_frontier_endpoints_are_min_variance_and_max_return(frontier_rows):
    mv = MeanVariance(EST10, FRONTIER_C)
    np.testing.assert_allclose(
        weights(frontier_rows[0].portfolio), weights(mv.min_variance()), atol=1e-6
    )
    high = mv.max_return()
    assert high.volatility == pytest.approx(0.14, rel=1e-6)  # the vol cap makes it unique
    np.testing.assert_allclose(weights(frontier_rows[-1].portfolio), weights(high), atol=1e-5)


def test_frontier_methods_agree(frontier_rows):
    """The exact active-set path and the cvxpy Parameter re-solve give the same frontier."""
    assert {r.portfolio.solver for r in frontier_rows} == {mvmod.ACTIVE_SET}
    cvx = MeanVariance(EST10, FRONTIER_C).frontier(25, method="cvxpy")
    assert all(r.portfolio.solver != mvmod.ACTIVE_SET for r in cvx)
    for a, b in zip(frontier_rows, cvx, strict=True):
        assert a.target_return == pytest.approx(b.target_return, abs=1e-12)
        np.testing.assert_allclose(weights(a.portfolio), weights(b.portfolio), atol=1e-4)
        # exact is never worse, up to the interior point's own ~1e-9 constraint violations
        assert a.portfolio.volatility <= b.portfolio.volatility * (1 + 1e-8)


def test_frontier_best_sharpe_never_beats_max_sharpe(frontier_rows):
    best = MeanVariance(EST10, FRONTIER_C).max_sharpe()
    assert max(r.portfolio.sharpe for r in frontier_rows) <= best.sharpe + 1e-9


@pytest.mark.parametrize("method", ["auto", "cvxpy"])
def test_failing_frontier_points_are_rows_with_reasons(method):
    mv = MeanVariance(EST10, FRONTIER_C)
    top = mv.max_return().expected_return
    uncapped = MeanVariance(EST10, Constraints(max_weight=0.3, groups=FRONTIER_C.groups))
    beyond_cap = (top + uncapped.max_return().expected_return) / 2
    rows = mv.frontier_at([top - 0.01, beyond_cap, 5.0], method=method)
    assert rows[0].portfolio is not None and rows[0].reason == ""
    assert rows[1].portfolio is None and "above the 14.00% cap" in rows[1].reason
    assert rows[2].portfolio is None
    assert "no portfolio within the constraints reaches a return of 500.00%" in rows[2].reason
    assert f"the highest attainable is {top:.2%}" in rows[2].reason


def test_a_solver_failure_is_a_row(monkeypatch):
    monkeypatch.setattr(mvmod, "solve", lambda problem: ("", ("FAKE",)))
    rows = MeanVariance(EST10, FRONTIER_C).frontier_at([0.1, 0.12], method="cvxpy")
    assert [r.portfolio for r in rows] == [None, None]
    assert all("no solver solved this point" in r.reason and "FAKE" in r.reason for r in rows)


def test_frontier_with_costs_uses_net_targets():
    c = Constraints(max_weight=0.5, current=CUR6, cost_rate=0.01, turnover_max=0.5)
    rows = MeanVariance(EST6, c).frontier(6)
    assert all(r.reason == "" for r in rows)
    for r in rows:
        assert r.portfolio.extra["net_return"] >= r.target_return - 1e-7
        assert r.portfolio.extra["turnover"] <= 0.5 + 1e-7


def test_frontier_arguments_are_checked():
    mv = MeanVariance(EST10, FRONTIER_C)
    with pytest.raises(ValueError, match="points"):
        mv.frontier(1)
    with pytest.raises(ValueError, match="method"):
        mv.frontier(5, method="scan")


def test_active_set_matches_cvxpy_on_random_problems():
    """Seeded random sizes and constraint sets: the certified active-set solutions are never
    worse than the cvxpy ones and agree with them.
    """
    rng = np.random.default_rng(2024)
    for trial in range(12):
        n = int(rng.integers(3, 16))
        est = synthetic(n, seed=100 + trial, days=300)
        betas = rng.uniform(0.3, 1.5, n)
        group = (Group("g", tuple(est.tickers[: n // 2 + 1]), min=0.3, max=0.9),)
        c = [
            Constraints(max_weight=max(2 / n, 0.3), groups=group),
            Constraints(
                long_only=False,
                min_weight=-0.4,
                max_weight=0.6,
                net_min=0.9,
                net_max=1.1,
                groups=group,
            ),
            Constraints(max_weight=0.6, betas=betas, beta_min=0.7, beta_max=1.1),
        ][trial % 3]
        mv = MeanVariance(est, c)
        fast, slow = mv.frontier(8), mv.frontier(8, method="cvxpy")
        for a, b in zip(fast, slow, strict=True):
            assert a.portfolio.solver == mvmod.ACTIVE_SET
            assert a.portfolio.volatility <= b.portfolio.volatility * (1 + 1e-8)
            assert a.portfolio.volatility == pytest.approx(b.portfolio.volatility, rel=1e-5)


def test_active_set_certificate_rejects_a_wrong_active_set():
    """A feasible but non-optimal active set (a held weight forced to zero) fails the dual
    check, and a guess that breaks a bound fails the primal one; the solve still finds the
    optimum from scratch.
    """
    mv = MeanVariance(EST10, FRONTIER_C)
    qp = mv._linear_qp()
    t = 0.5 * (mv.min_variance().expected_return + mv.max_return().expected_return)
    x, state = qp.solve(t, None)
    held = int(np.flatnonzero((x > 1e-3) & (x < 0.3 - 1e-3))[0])
    wrong = mvmod._State(state.at_lo.copy(), state.at_hi, state.rows)
    wrong.at_lo[held] = True
    assert qp._certify(t, wrong) is None
    x2, _ = qp.solve(t, wrong)
    np.testing.assert_allclose(x2, x, atol=1e-12)
    nothing = np.zeros(10, bool)
    assert qp._certify(t, mvmod._State(nothing, nothing, qp.eq.copy())) is None
    # below the minimum-variance return the target row is slack: holding it tight is wrong
    low = mv.min_variance().expected_return - 0.01
    x, state = qp.solve(low, None)
    assert x @ EST10.mu > low + 1e-3
    rows = state.rows.copy()
    rows[-1] = True
    assert qp._certify(low, mvmod._State(state.at_lo, state.at_hi, rows)) is None


# -- the original study's shape on real ETFs -------------------------------------------------------
EQUITY_ETFS = ("SPY", "VTI", "QQQ", "IWM", "MDY", "EFA", "EEM", "EWJ", "IEV")


@functools.cache
def _etf_estimates(folder: str) -> Estimates:
    md = load_paths([folder])
    return estimate(md.returns(md.tickers))


@pytest.fixture
def etf_estimates(shared_data) -> Estimates:
    if not (shared_data / "etf").is_dir():
        pytest.skip("../shared/data/etf is not present")
    return _etf_estimates(str(shared_data / "etf"))


def study(cap: float) -> Constraints:
    return Constraints(
        max_weight=cap, groups=(Group("equity", EQUITY_ETFS, min=0.5),), vol_cap=0.12
    )


def test_study_with_a_4_percent_cap_is_infeasible(etf_estimates):
    assert etf_estimates.n == 21
    mv = MeanVariance(etf_estimates, study(0.04))
    for attempt in (mv.max_sharpe, mv.min_variance, lambda: mv.frontier(10)):
        with pytest.raises(OptimizationError) as info:
            attempt()
        assert info.value.reasons
    text = str(info.value)
    assert re.search(r"4(\.0+)?\s?%|0\.04", text) and re.search("cap|maximum", text)


def test_study_with_a_10_percent_cap_solves_within_every_constraint(etf_estimates):
    mv = MeanVariance(etf_estimates, study(0.10))
    best = mv.max_sharpe()
    w = pd.Series(best.weights)
    assert w.sum() == pytest.approx(1, abs=1e-8)
    assert w.min() >= -1e-9 and w.max() <= 0.10 + 1e-9
    assert w[list(EQUITY_ETFS)].sum() >= 0.5 - 1e-9
    assert np.sqrt(w @ etf_estimates.cov @ w) <= 0.12 + 1e-9
    rows = mv.frontier(30)
    assert all(r.reason == "" for r in rows)
    assert max(r.portfolio.sharpe for r in rows) <= best.sharpe + 1e-9
    assert max(r.portfolio.sharpe for r in rows) == pytest.approx(best.sharpe, rel=1e-2)


# -- transaction costs and turnover ----------------------------------------------------------------
@pytest.mark.parametrize("objective", ["min_variance", "max_sharpe", "utility", "max_return"])
def test_turnover_limit_holds(objective):
    c = Constraints(max_weight=0.6, current=CUR6, turnover_max=0.2)
    mv = MeanVariance(EST6, c)
    p = mv.utility(4.0) if objective == "utility" else getattr(mv, objective)()
    assert np.abs(weights(p) - CUR6).sum() <= 0.2 + 1e-7
    assert p.extra["turnover"] == pytest.approx(np.abs(weights(p) - CUR6).sum())
    assert "turnover at most 0.2" in p.binding


def test_costs_lower_turnover():
    free = MeanVariance(EST6, Constraints(max_weight=0.6, current=CUR6)).utility(4.0)
    costly = MeanVariance(EST6, Constraints(max_weight=0.6, current=CUR6, cost_rate=0.02))
    p = costly.utility(4.0)
    assert p.extra["turnover"] < free.extra["turnover"] - 1e-3
    assert p.extra["transaction_cost"] == pytest.approx(0.02 * p.extra["turnover"])
    assert p.extra["net_return"] == pytest.approx(p.expected_return - p.extra["transaction_cost"])
    s_free = MeanVariance(EST6, Constraints(max_weight=0.6, current=CUR6)).max_sharpe()
    assert costly.max_sharpe().extra["turnover"] < s_free.extra["turnover"] - 1e-3


# -- failures and inputs ---------------------------------------------------------------------------
def test_max_sharpe_needs_an_asset_above_rf():
    with pytest.raises(OptimizationError, match="above the risk-free rate"):
        MeanVariance(given(MU4, COV4), Constraints(), rf=0.2).max_sharpe()


def test_max_sharpe_when_the_constraints_exclude_every_asset_above_rf():
    # only A2 (12 %) beats rf = 10 %, and a group holds it at zero
    c = Constraints(groups=(Group("none", ("A2",), max=0.0),))
    with pytest.raises(OptimizationError, match="earns more than the risk-free rate") as info:
        MeanVariance(given(MU4, COV4), c, rf=0.10).max_sharpe()
    assert any("highest attainable excess return is -1.00%" in r for r in info.value.reasons)


def test_infeasible_reasons_come_from_the_diagnosis():
    from hedgedesk.core.optimize.diagnose import diagnose

    c = Constraints(max_weight=0.2)
    est = given(MU4, COV4)
    with pytest.raises(OptimizationError) as info:
        MeanVariance(est, c).utility(2.0)
    assert info.value.reasons == tuple(diagnose(c, est).reasons)


def test_unbounded_return_and_leverage_are_explained():
    c = Constraints(long_only=False, min_weight=-np.inf, max_weight=np.inf)
    mv = MeanVariance(given(MU4, COV4), c)
    with pytest.raises(OptimizationError, match="unbounded"):
        mv.max_return()
    with pytest.raises(OptimizationError, match="finite maximum weight"):
        mv.max_sharpe()


def test_max_sharpe_with_a_riskless_combination_is_unbounded():
    # 20 days of 30 assets: the covariance is singular, and shorting reaches zero risk
    x = np.random.default_rng(3).normal(0.0005, 0.01, (20, 30))
    est = estimate(pd.DataFrame(x, columns=[f"A{i}" for i in range(30)]))
    c = Constraints(long_only=False, min_weight=-0.2, max_weight=0.3)
    with pytest.raises(OptimizationError, match="riskless combination"):
        MeanVariance(est, c).max_sharpe()
    assert MeanVariance(est, Constraints(max_weight=0.2)).max_sharpe().volatility > 1e-3


@pytest.mark.parametrize(
    "bad, match",
    [
        (Constraints(turnover_max=0.1), "turnover"),
        (Constraints(cost_rate=0.01), "current weights"),
        (Constraints(beta_max=1.0), "beta"),
        (Constraints(te_cap=0.05), "tracking"),
        (Constraints(groups=(Group("g", ("A0", "XYZ")),)), "XYZ"),
        (Constraints(current=np.ones(3) / 3), "one value per ticker"),
    ],
)
def test_constraints_that_would_be_ignored_are_rejected(bad, match):
    with pytest.raises(OptimizationError, match=match):
        MeanVariance(given(MU4, COV4), bad)


def test_risk_aversion_is_checked():
    mv = MeanVariance(given(MU4, COV4), Constraints())
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="risk_aversion"):
            mv.utility(bad)


def test_problems_are_dpp_and_built_once():
    mv = MeanVariance(EST6, CASES["vol cap"])
    a, b = mv.utility(2.0), mv.utility(20.0)
    problem = mv._built["utility"].problem
    assert mv.utility(5.0) and mv._built["utility"].problem is problem
    assert a.volatility > b.volatility  # the parameter took effect
    mv.min_variance(), mv.max_return(), mv.max_sharpe(), mv.frontier(3, method="cvxpy")
    for kind in ("min-variance", "max-return", "max-sharpe", "utility", "frontier"):
        assert mv._built[kind].problem.is_dcp(dpp=True)
        assert mv._built[kind].problem.parameters() or kind not in ("utility", "frontier")


def test_risk_factor_reproduces_the_covariance():
    for cov in (COV4, np.outer([1, 2, 3.0], [1, 2, 3.0])):  # definite, and rank one
        f = problem_mod.risk_factor(cov)
        np.testing.assert_allclose(f.T @ f, cov, atol=1e-12)
    assert problem_mod.risk_factor(np.outer([1, 2, 3.0], [1, 2, 3.0])).shape == (1, 3)


def test_the_covariance_is_factorised_once_per_estimates(monkeypatch):
    """Every problem on one Estimates (the caps in build, the risk terms, a second optimiser
    on the same estimates) shares one factorisation, and the figures do not change.
    """
    est = synthetic(6, seed=3)
    before = MeanVariance(synthetic(6, seed=3), CASES["vol cap"]).max_sharpe()
    calls = []
    for name in ("cholesky", "eigh"):
        real = getattr(np.linalg, name)
        monkeypatch.setattr(
            np.linalg,
            name,
            lambda a, *k, _real=real, _name=name, **kw: calls.append(_name) or _real(a, *k, **kw),
        )
    c = Constraints(max_weight=0.6, vol_cap=0.13, benchmark_weights=np.full(6, 1 / 6), te_cap=0.05)
    mv = MeanVariance(est, c)
    mv.min_variance(), mv.max_return(), mv.utility(3.0), mv.frontier(5)
    after = MeanVariance(est, CASES["vol cap"]).max_sharpe()
    assert calls == ["cholesky"]
    assert est.factor() is est.factor() and not est.factor().flags.writeable
    np.testing.assert_allclose(est.factor().T @ est.factor(), est.cov, atol=1e-12)
    np.testing.assert_allclose(weights(after), weights(before), atol=1e-9)
    assert after.binding == before.binding


@pytest.mark.parametrize("case", sorted(CASES))
def test_numeric_slacks_equal_the_cvxpy_slacks(case):
    """The binding list comes from each constraint's numeric slack: the same numbers as its
    cvxpy slack, at random weights and at a solution.
    """
    c = CASES[case]
    w = cp.Variable(EST6.n)
    named = problem_mod.build(w, c, EST6)
    rng = np.random.default_rng(11)
    for x in [*rng.normal(0.15, 0.2, (3, EST6.n)), weights(MeanVariance(EST6, c).min_variance())]:
        w.value = x
        for nc in named:
            assert nc.at is not None
            np.testing.assert_allclose(nc.at(x), nc.slack.value, rtol=1e-12, atol=1e-14)
    kappa = cp.Variable(nonneg=True)
    assert all(nc.at is None for nc in problem_mod.build(w, c, EST6, kappa))


def test_describe_needs_numeric_slacks_when_asked_for_them():
    w, kappa = cp.Variable(EST6.n), cp.Variable(nonneg=True)
    named = problem_mod.build(w, CASES["vol cap"], EST6, kappa)
    x = np.full(EST6.n, 1 / EST6.n)
    with pytest.raises(ValueError, match=r"budget: .* no numeric slack"):
        problem_mod.describe("x", x, EST6, 0.0, named, "S", (), slacks_at=x)


def blas_threads() -> set[int]:
    return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}


def test_the_optimiser_runs_on_one_blas_thread(monkeypatch):
    seen = []
    real = mvmod.describe
    monkeypatch.setattr(
        mvmod, "describe", lambda *a, **k: seen.append(blas_threads()) or real(*a, **k)
    )
    outside = blas_threads()
    mv = MeanVariance(EST6, CASES["vol cap"])
    mv.frontier(3), mv.max_sharpe()
    assert seen and all(s == {1} for s in seen)
    assert blas_threads() == outside


def test_serial_blas_restores_only_when_the_last_caller_leaves():
    """Overlapping callers (the desk's solve workers): the first out must not restore the
    threads under the second, nor the second restore a limit over the original.
    """
    outside = blas_threads()
    inside, leave = threading.Event(), threading.Event()

    def worker():
        with serial_blas():
            inside.set()
            leave.wait(10)

    t = threading.Thread(target=worker)
    with serial_blas():
        t.start()
        inside.wait(10)
    assert blas_threads() == {1}  # the worker is still inside
    leave.set()
    t.join(10)
    assert blas_threads() == outside

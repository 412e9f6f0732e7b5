"""Kelly: growth-optimal weights against a brute-force grid, first-order conditions and SciPy's
SLSQP; the fractional scale and its cash; failures that say why.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

from hedgedesk.core.optimize.kelly import growth, kelly_portfolio
from hedgedesk.core.optimize.problem import Constraints, Group, OptimizationError, estimate


def two_assets(seed: int = 31, t: int = 1500) -> pd.DataFrame:
    """Two correlated assets of similar merit, so the optimum is inside [0, 1] (seeded)."""
    rng = np.random.default_rng(seed)
    x = rng.multivariate_normal([0.0006, 0.0004], [[2.0e-4, 0.4e-4], [0.4e-4, 0.8e-4]], t)
    return pd.DataFrame(x, columns=["X", "Y"])


def mean_log(r: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Witness: mean(log(1 + R w)) for each weight column of ``w`` (n, G)."""
    return np.log(1 + r @ w).mean(axis=0)


def grid_search(r: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Weights x of the first asset (1 - x in the second) and their growth: a coarse grid,
    then a fine one (step ~1e-5) over the two coarse steps either side of the best point.
    The growth is concave in x, so the maximum lies within one coarse step of the best.
    """
    coarse = np.linspace(lo, hi, 401)
    k = int(np.argmax(mean_log(r, np.vstack([coarse, 1 - coarse]))))
    step = coarse[1] - coarse[0]
    x = np.linspace(max(lo, coarse[k] - 2 * step), min(hi, coarse[k] + 2 * step), 4001)
    return x, mean_log(r, np.vstack([x, 1 - x]))


def test_two_assets_match_a_brute_force_grid():
    est = estimate(two_assets())
    pf = kelly_portfolio(est, Constraints())
    x, g = grid_search(est.scenarios, 0.0, 1.0)
    best = int(np.argmax(g))
    assert 0.01 < x[best] < 0.99  # an interior optimum: the test is not a corner case
    assert pf.weights["X"] == pytest.approx(x[best], abs=1e-4)
    assert pf.extra["growth_log_daily"] == pytest.approx(g[best], abs=1e-10)
    assert pf.extra["growth_log_daily"] >= g.max() - 1e-12


def test_leveraged_long_short_matches_a_brute_force_grid():
    rng = np.random.default_rng(32)
    x = rng.multivariate_normal([0.0010, 0.0001], [[1.0e-4, 0.6e-4], [0.6e-4, 1.0e-4]], 1500)
    est = estimate(pd.DataFrame(x, columns=["X", "Y"]))
    c = Constraints(long_only=False, min_weight=-1.5, max_weight=2.5)
    pf = kelly_portfolio(est, c)
    grid, g = grid_search(est.scenarios, -1.5, 2.5)
    best = int(np.argmax(g))
    assert pf.weights["X"] > 1.0 and pf.weights["Y"] < 0  # levered, short Y
    assert pf.weights["X"] == pytest.approx(grid[best], abs=1e-4)
    assert pf.extra["growth_log_daily"] == pytest.approx(g[best], abs=1e-10)


def test_first_order_conditions_and_a_second_solver():
    rng = np.random.default_rng(33)
    t, n = 1200, 4
    a = rng.normal(size=(n, n)) * 0.006
    r = rng.multivariate_normal(np.linspace(0.0003, 0.0007, n), a @ a.T + 4e-5 * np.eye(n), t)
    est = estimate(pd.DataFrame(r, columns=list("ABCD")))
    pf = kelly_portfolio(est, Constraints(max_weight=0.45))
    w = np.array(list(pf.weights.values()))
    # KKT: the marginal growth E[R_i / (1 + R w)] is the same for every asset strictly inside
    # its bounds, lower at 0 and higher at the 45 % cap
    grad = (r / (1 + r @ w)[:, None]).mean(axis=0)
    inside = (w > 1e-6) & (w < 0.45 - 1e-6)
    assert inside.sum() >= 2
    assert np.ptp(grad[inside]) < 1e-7
    level = grad[inside].mean()
    assert np.all(grad[w <= 1e-6] <= level + 1e-7)
    assert np.all(grad[w >= 0.45 - 1e-6] >= level - 1e-7)
    ref = minimize(
        lambda v: -np.log1p(r @ v).mean(),
        np.full(n, 0.25),
        jac=lambda v: -(r / (1 + r @ v)[:, None]).mean(axis=0),
        method="SLSQP",
        bounds=[(0, 0.45)] * n,
        constraints=[{"type": "eq", "fun": lambda v: v.sum() - 1}],
        options={"ftol": 1e-15, "maxiter": 500},
    )
    assert ref.success
    assert pf.extra["growth_log_daily"] >= -ref.fun - 1e-11
    np.testing.assert_allclose(w, ref.x, atol=2e-4)


def test_fractional_kelly_scales_and_holds_the_rest_in_cash():
    est = estimate(two_assets())
    full = kelly_portfolio(est, Constraints())
    half = kelly_portfolio(est, Constraints(), fraction=0.5)
    w_full = np.array(list(full.weights.values()))
    w_half = np.array(list(half.weights.values()))
    np.testing.assert_allclose(w_half, 0.5 * w_full, atol=1e-12)
    assert half.extra["full_kelly_weights"] == pytest.approx(full.weights, abs=1e-12)
    assert half.extra["cash"] == pytest.approx(0.5, abs=1e-7)
    assert half.extra["fraction"] == 0.5 and half.objective == "fractional kelly 0.5"
    g = np.log1p(est.scenarios @ w_half).mean()
    assert half.extra["growth_log_daily"] == pytest.approx(g, rel=1e-12)
    assert half.extra["growth_annual"] == pytest.approx(math.exp(252 * g) - 1, rel=1e-12)
    # log is concave and the cash leg grows by 0: g(w / 2) >= g(w) / 2
    assert g >= 0.5 * full.extra["growth_log_daily"]
    assert half.volatility == pytest.approx(0.5 * full.volatility, rel=1e-9)
    assert half.var_95 < full.var_95
    assert half.binding == full.binding  # the constraints binding at full Kelly


@pytest.mark.parametrize("fraction", [0.0, -0.5, 1.5])
def test_fraction_outside_zero_one_is_refused(fraction):
    with pytest.raises(OptimizationError, match="fraction"):
        kelly_portfolio(estimate(two_assets(t=50)), Constraints(), fraction=fraction)


def test_constraints_that_force_ruin_are_explained():
    # any allowed book holds >= 5x X and so <= -4x Y; on day 0 X falls 25 % while Y gains 5 %
    r = np.array([[-0.25, 0.05], [0.01, 0.0], [0.02, -0.01], [0.0, 0.01]])
    est = estimate(pd.DataFrame(r, columns=["X", "Y"]))
    c = Constraints(
        long_only=False,
        min_weight=-10,
        max_weight=10,
        groups=(Group("levered X", ("X",), min=5, max=10),),
    )
    with pytest.raises(OptimizationError) as info:
        kelly_portfolio(est, c)
    assert "loses all of NAV" in info.value.reasons[0]
    assert growth(r @ np.array([5.0, -4.0])) == -math.inf


def test_growth_witness():
    r = np.array([0.1, -0.05, 0.02])
    assert growth(r) == pytest.approx(np.mean(np.log([1.1, 0.95, 1.02])), rel=1e-14)

"""Kelly: growth-optimal weights over historical daily scenarios, then a fractional scale.

The full-Kelly weights ``w*`` maximise the mean daily log growth ``g(w) = sum_s p_s log(1 +
R_s w)`` over the scenarios ``R = est.scenarios`` (T, n) with equal probabilities ``1/T``,
under the shared constraint set (an exponential-cone programme). The book held is the
fraction ``f`` in (0, 1] of it: ``w_f = f w*``; the remainder ``1 - sum(w_f)`` is cash earning
nothing (the log objective has no cash asset either), so a half-Kelly long-only book is half
invested. Only the full-Kelly weights satisfy the constraints as given: the scaled book sums
to ``f`` times their net exposure, by construction.

Growth figures are daily mean log growth (``g``) and its annual geometric equivalent
``exp(periods g) - 1``. The returns of ``est.mu`` play no part in the objective: to put a view
into Kelly weights, shift the scenarios
(``hedgedesk.core.optimize.black_litterman.posterior_estimates`` does, by
default).
"""

from __future__ import annotations

import math

import cvxpy as cp
import numpy as np

from hedgedesk.core.optimize.diagnose import unsolved
from hedgedesk.core.optimize.problem import (
    Constraints,
    Estimates,
    OptimizationError,
    Portfolio,
    build,
    describe,
    solve,
)


def growth(returns: np.ndarray) -> float:
    """Mean daily log growth, mean(log(1 + r)).

    Parameters
    ----------
    returns : ndarray, shape (T,)
        Daily portfolio returns (fractions).

    Returns
    -------
    float
        Per day; -inf when a day loses everything.
    """
    r = np.asarray(returns, dtype=np.float64)
    if np.any(r <= -1.0):
        return -math.inf
    return float(np.mean(np.log1p(r)))


def kelly_portfolio(
    est: Estimates, c: Constraints, fraction: float = 1.0, rf: float = 0.0
) -> Portfolio:
    """Growth-optimal (Kelly) portfolio scaled by ``fraction`` (see the module docstring).

    Parameters
    ----------
    est : Estimates
        Its daily returns ``scenarios`` (T, n), equally weighted.
    c : Constraints
        The constraint set, met by the full-Kelly weights.
    fraction : float
        f, in (0, 1].
    rf : float
        Annual risk-free rate as ``periods`` x the daily rate, for the Sharpe ratio.

    Returns
    -------
    Portfolio
        ``weights`` are the scaled book ``f w*`` (fractions of NAV); ``extra`` holds
        ``fraction``, ``cash`` (1 - sum of weights), ``growth_log_daily`` (per day) and
        ``growth_annual`` (geometric, fraction) of the scaled book, the same for full Kelly
        (``full_kelly_growth_log_daily``, ``full_kelly_growth_annual``) and
        ``full_kelly_weights``. ``binding`` names the constraints that bind at full Kelly.

    Raises
    ------
    OptimizationError
        No solution, with the reasons.
    """
    if not (isinstance(fraction, int | float) and 0.0 < fraction <= 1.0):
        raise OptimizationError(
            f"fraction: expected a number in (0, 1], got {fraction!r} "
            "(betting more than full Kelly lowers growth and adds risk)"
        )
    r = np.asarray(est.scenarios, dtype=np.float64)
    if r.ndim != 2 or r.shape[1] != est.n or len(r) < 1:
        raise OptimizationError(
            f"scenarios: expected shape (T, {est.n}) with T >= 1, got {r.shape}"
        )
    if not np.all(np.isfinite(r)):
        raise OptimizationError("scenarios: every return must be finite")
    w = cp.Variable(est.n, name="w")
    named = build(w, c, est)
    objective = cp.sum(cp.log(1.0 + r @ w)) / len(r)
    problem = cp.Problem(cp.Maximize(objective), [nc.constraint for nc in named])
    solver, tried = solve(problem)
    if not solver:
        raise unsolved(
            "Kelly",
            problem,
            c,
            est,
            tried,
            objective_reason=(
                "every portfolio the constraints allow loses all of NAV on at least one "
                "historical day, so its log growth is undefined"
                if problem.status != cp.UNBOUNDED
                else "the scenarios allow unbounded growth (an arbitrage among the assets)"
            ),
        )
    full = np.asarray(w.value, dtype=np.float64)
    scaled = fraction * full
    g_full, g = growth(r @ full), growth(r @ scaled)
    extra = {
        "fraction": float(fraction),
        "cash": float(1.0 - scaled.sum()),
        "growth_log_daily": g,
        "growth_annual": math.expm1(est.periods * g),
        "full_kelly_growth_log_daily": g_full,
        "full_kelly_growth_annual": math.expm1(est.periods * g_full),
        "full_kelly_weights": dict(zip(est.tickers, full.tolist(), strict=True)),
        "growth_method": (
            f"mean log(1 + R w) over {len(r)} daily scenarios, equal "
            f"probabilities; annual = exp({est.periods} g) - 1; "
            "cash earns 0"
        ),
        "binding_at": "full Kelly",
    }
    name = "kelly" if fraction == 1.0 else f"fractional kelly {fraction:g}"
    return describe(name, scaled, est, rf, named, solver, tried, extra)

"""Mean-CVaR: the Rockafellar-Uryasev (2000) scenario LP, under the shared constraint set.

Scenarios are daily simple returns ``R`` (T, n), by default the historical ones of the
estimates (``Estimates.scenarios``), each with probability ``p_s`` (default 1/T). With losses
``L_s = -R_s w`` and confidence ``a``::

    CVaR_a(w) = min_alpha  alpha + 1 / (1 - a) * sum_s p_s * max(L_s - alpha, 0)

is a linear programme in ``(w, alpha, u)`` with ``u_s >= L_s - alpha``, ``u_s >= 0``, solved
over a screened subset of the scenarios that is grown until the full LP's optimum is certified
(:class:`_ScreenedCvar`; 10,000 scenarios solve ~6x faster than the full LP). The CVaR
is a 1-day loss as a positive fraction of NAV, like CONVENTIONS' VaR. Expected returns in a
target are annualised (``Estimates.mu``, net of transaction costs when the constraints carry
them), as everywhere else.

Relation to CONVENTIONS' historical CVaR (``-mean(R[R <= q])``, ``q = np.quantile(R, 1 - a)``
with linear interpolation), for equal probabilities and returns without ties:

* the optimised (Rockafellar-Uryasev) CVaR is the probability-weighted mean of the worst
  ``k = (1 - a) T`` scenarios; when ``k`` is not a whole number the ``ceil(k)``-th worst enters
  with weight ``k - floor(k)``;
* CONVENTIONS' CVaR is the plain mean of the worst ``m = floor((T - 1)(1 - a)) + 1`` returns,
  because ``q`` lies between the ``m``-th and ``(m + 1)``-th worst returns;
* when ``k`` is a whole number (the quantile falls on a scenario: ``T = 1000`` or ``T = 2520``
  at 95 %) then ``(T - 1)(1 - a) = (k - 1) + a`` so ``m = k`` and the two are equal. They can
  then differ only through an exact tie between the ``k``-th and ``(k + 1)``-th worst returns,
  which ``R <= q`` counts in the tail. (An optimum typically puts several scenarios at the
  VaR level, but equal only to solver rounding, so the figures agree to ~1e-15 in practice.)
* otherwise they differ: neither is wrong, they are two conventions, and a
  :class:`~hedgedesk.core.optimize.problem.Portfolio` reports both (``cvar_95`` by CONVENTIONS at
  95 %,
  ``extra["cvar"]`` the optimised one at the requested confidence and probabilities).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence

import cvxpy as cp
import numpy as np
import pandas as pd

from hedgedesk.core.optimize.diagnose import unsolved
from hedgedesk.core.optimize.problem import (
    Constraints,
    Estimates,
    Named,
    OptimizationError,
    Portfolio,
    build,
    describe,
    net_return,
    solve,
)


# -- evaluation --------------------------------------------------------------------------------
def scenario_cvar(
    returns: np.ndarray, confidence: float = 0.95, probabilities: np.ndarray | None = None
) -> float:
    """Rockafellar-Uryasev CVaR: the exact minimum over alpha of the LP objective, computed
    by sorting.

    Parameters
    ----------
    returns : ndarray, shape (T,)
        Daily portfolio returns (fractions).
    confidence : float
        a, in (0, 1).
    probabilities : ndarray, shape (T,), optional
        Scenario probabilities (default 1/T each).

    Returns
    -------
    float
        The 1-day CVaR, a loss as a positive fraction of NAV.
    """
    r = np.asarray(returns, dtype=np.float64)
    p = check_probabilities(probabilities, len(r))
    tail = 1.0 - _check_confidence(confidence)
    loss = -r
    order = np.argsort(-loss, kind="stable")
    lo, po = loss[order], p[order]
    before = np.cumsum(po) - po
    take = np.clip(tail - before, 0.0, po)  # probability mass of each scenario in the tail
    return float(take @ lo / tail)


def check_probabilities(probabilities: Sequence[float] | np.ndarray | None, t: int) -> np.ndarray:
    """Scenario probabilities, checked.

    Parameters
    ----------
    probabilities : sequence or ndarray of shape (t,), or None
        Non-negative, summing to 1; None means 1/t each.
    t : int
        The number of scenarios (>= 1).

    Returns
    -------
    ndarray, shape (t,)
    """
    if t < 1:
        raise OptimizationError("no scenarios: mean-CVaR needs at least one daily return")
    if probabilities is None:
        return np.full(t, 1.0 / t)
    p = np.asarray(probabilities, dtype=np.float64)
    if p.shape != (t,):
        raise OptimizationError(
            f"probabilities: expected {t} values (one per scenario), got shape {p.shape}"
        )
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise OptimizationError("probabilities: every value must be finite and >= 0")
    if abs(p.sum() - 1.0) > 1e-9:
        raise OptimizationError(f"probabilities: must sum to 1, got {p.sum():.12g}")
    return p


def _check_confidence(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise OptimizationError(f"confidence: expected a number in (0, 1), got {confidence!r}")
    return float(confidence)


# -- the problem -------------------------------------------------------------------------------
SEED_TAIL_MULTIPLE = 2.0  # a screen keeps each portfolio's worst scenarios worth this many tails
SCREEN_GAP_ABS, SCREEN_GAP_REL = 1e-10, 1e-8  # accepted gap, like the solver's own tolerance


class _ScreenedCvar:
    """The RU LP over a screened subset ``S`` of the scenarios, grown until it is exact.

    Leaving scenarios out of the sum can only lower the objective, so the optimum ``LB`` of
    the LP over ``S`` bounds the full optimum from below, and the full CVaR of its weights
    (:func:`scenario_cvar`, every scenario) bounds it from above. When the two agree within
    :data:`SCREEN_GAP_ABS` + :data:`SCREEN_GAP_REL` x CVaR (the solver's own accuracy), the
    weights are optimal for the full LP. The first screen is the tail of the minimum-variance
    portfolio under the same constraints (and return target), usually close to the answer's
    (equal weights if that has no solution). Otherwise the solution's worst scenarios (worth
    :data:`SEED_TAIL_MULTIPLE` tails) join ``S`` and the LP is rebuilt; once ``S`` holds a
    solution's whole tail the bounds meet, and ``S`` only grows, so this ends, at worst with
    every scenario. Between rebuilds the one problem is re-solved for each new ``target``
    Parameter value (a frontier).
    """

    def __init__(
        self,
        est: Estimates,
        c: Constraints,
        confidence: float,
        probabilities: np.ndarray | None,
        with_target: bool,
    ):
        scenarios = np.asarray(est.scenarios, dtype=np.float64)
        if scenarios.ndim != 2 or scenarios.shape[1] != est.n:
            raise OptimizationError(
                f"scenarios: expected shape (T, {est.n}), got {scenarios.shape}"
            )
        if not np.all(np.isfinite(scenarios)):
            raise OptimizationError("scenarios: every return must be finite")
        self.est, self.c, self.with_target = est, c, with_target
        self.confidence = _check_confidence(confidence)
        self.tail = 1.0 - self.confidence
        self.p = check_probabilities(probabilities, len(scenarios))
        self.scenarios = scenarios
        self.keep = np.zeros(len(scenarios), dtype=bool)
        self.builds = 0
        self._built: np.ndarray | None = None

    def seed(self, w: np.ndarray, multiple: float | None = None) -> None:
        """Keep the worst scenarios of portfolio ``w`` worth ``multiple`` (default
        :data:`SEED_TAIL_MULTIPLE`) tails of probability; all of them once that is most.
        """
        multiple = SEED_TAIL_MULTIPLE if multiple is None else multiple
        loss = -(self.scenarios @ w)
        order = np.argsort(-loss, kind="stable")
        mass = np.cumsum(self.p[order])
        upto = int(np.searchsorted(mass, min(multiple * self.tail, 1.0))) + 1
        self.keep[order[:upto]] = True
        if self.keep.sum() > 0.5 * len(self.keep):
            self.keep[:] = True

    def proxy(self, target: float | None) -> np.ndarray:
        """Minimum-variance weights under the constraints and target (a first screen)."""
        w = cp.Variable(self.est.n)
        constraints = [nc.constraint for nc in build(w, self.c, self.est)]
        if target is not None:
            constraints.append(net_return(w, self.c, self.est) >= target)
        problem = cp.Problem(cp.Minimize(cp.sum_squares(self.est.factor() @ w)), constraints)
        if solve(problem)[0]:
            return np.asarray(w.value, dtype=np.float64)
        return np.full(self.est.n, 1.0 / self.est.n)

    def _build(self) -> None:
        rows = np.flatnonzero(self.keep)
        r, p = self.scenarios[rows], self.p[rows]
        self.w = cp.Variable(self.est.n, name="w")
        self.alpha = cp.Variable(name="alpha")
        excess = cp.Variable(len(rows), name="excess_loss", nonneg=True)
        self.named: list[Named] = build(self.w, self.c, self.est)
        constraints = [nc.constraint for nc in self.named]
        constraints.append(excess >= -(r @ self.w) - self.alpha)
        self.target = None
        if self.with_target:
            self.target = cp.Parameter(name="target_return")
            ret = net_return(self.w, self.c, self.est)
            self.named.append(
                Named("target expected return", ret >= self.target, ret - self.target)
            )
            constraints.append(self.named[-1].constraint)
        self.cvar = self.alpha + (p @ excess) / self.tail
        self.problem = cp.Problem(cp.Minimize(self.cvar), constraints)
        self._built = self.keep.copy()
        self.builds += 1

    def run(self, target: float | None = None) -> tuple[str, tuple[str, ...]]:
        """Solve to optimality over all scenarios; (solver, tried) as :func:`solve`."""
        if not self.keep.any():
            self.seed(self.proxy(target))
        tried: list[str] = []
        while True:
            if self._built is None or not np.array_equal(self._built, self.keep):
                self._build()
            if self.target is not None:
                assert target is not None  # a problem built with a target is run with one
                self.target.value = float(target)
            solver, attempt = solve(self.problem)
            tried += [s for s in attempt if s not in tried]
            if not solver:
                if self.problem.status == cp.UNBOUNDED and not self.keep.all():
                    self.keep[:] = True  # the left-out scenarios may bound it
                    continue
                return "", tuple(tried)
            w = np.asarray(self.w.value, dtype=np.float64)
            full = scenario_cvar(self.scenarios @ w, self.confidence, self.p)
            gap = full - float(self.cvar.value)
            if gap <= SCREEN_GAP_ABS + SCREEN_GAP_REL * abs(full) or self.keep.all():
                return solver, tuple(tried)
            held = int(self.keep.sum())
            self.seed(w)
            if self.keep.sum() == held:  # the tail is held already: only rounding is left
                self.keep[:] = True


def _portfolio(
    prob: _ScreenedCvar,
    rf: float,
    solver: str,
    tried: tuple[str, ...],
    equal: bool,
    target: float | None,
) -> Portfolio:
    est, c, confidence = prob.est, prob.c, prob.confidence
    w = np.asarray(prob.w.value, dtype=np.float64)
    cost = (
        c.cost_rate * float(np.abs(w - c.current).sum())
        if c.cost_rate and c.current is not None
        else 0.0
    )
    extra = {
        "cvar": scenario_cvar(prob.scenarios @ w, confidence, prob.p),
        "cvar_lp": float(prob.cvar.value),
        "confidence": confidence,
        "scenarios": len(prob.scenarios),
        "scenarios_in_lp": int(prob.keep.sum()),
        "lp_builds": prob.builds,
        "probabilities": "equal" if equal else "given",
        "cvar_method": (
            f"Rockafellar-Uryasev, 1-day, {confidence:g} confidence, "
            f"{len(prob.scenarios)} scenarios with "
            f"{'equal' if equal else 'given'} probabilities"
        ),
        "target_return": target,
        "net_return": float(est.mu @ w) - cost,
    }
    return describe(
        "mean-cvar" if target is not None else "min-cvar",
        w,
        est,
        rf,
        prob.named,
        solver,
        tried,
        extra,
    )


def min_cvar(
    est: Estimates,
    c: Constraints,
    confidence: float = 0.95,
    target_return: float | None = None,
    probabilities: np.ndarray | None = None,
    rf: float = 0.0,
) -> Portfolio:
    """Minimum-CVaR portfolio, optionally with an annualised expected net return of at least
    ``target_return``. Large scenario sets are screened exactly (:class:`_ScreenedCvar`).

    Parameters
    ----------
    est : Estimates
        Its daily returns ``scenarios`` (T, n) are the scenarios; ``mu`` (n,) annualised.
    c : Constraints
        The constraint set (costs charged to the return target).
    confidence : float
        a, in (0, 1).
    target_return : float, optional
        Least annualised expected return net of costs (fraction).
    probabilities : ndarray, shape (T,), optional
        Scenario probabilities (default 1/T).
    rf : float
        Annual risk-free rate as ``periods`` x the daily rate, for the Sharpe ratio.

    Returns
    -------
    Portfolio
        ``extra["cvar"]`` is the optimised 1-day CVaR at ``confidence`` (fraction of NAV),
        evaluated exactly at the solution weights over every scenario (``extra["cvar_lp"]``
        is the solver's objective value, equal to it within the solver's tolerance);
        ``cvar_95``/``var_95`` are CONVENTIONS' historical figures on the same scenarios (see
        the module docstring for when they agree).

    Raises
    ------
    OptimizationError
        No solution, with the reasons.
    """
    prob = _ScreenedCvar(est, c, confidence, probabilities, target_return is not None)
    solver, tried = prob.run(target_return)
    if not solver:
        raise unsolved("mean-CVaR", prob.problem, c, est, tried, target_return)
    return _portfolio(prob, rf, solver, tried, probabilities is None, target_return)


FRONTIER_FIGURES = (
    "target_return",
    "ok",
    "reason",
    "expected_return",
    "net_return",
    "volatility",
    "sharpe",
    "cvar",
    "var_95",
    "cvar_95",
    "solver",
)


def cvar_frontier(
    est: Estimates,
    c: Constraints,
    points: int = 20,
    confidence: float = 0.95,
    probabilities: np.ndarray | None = None,
    rf: float = 0.0,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> pd.DataFrame:
    """Mean-CVaR frontier: ``points`` annualised net-return targets evenly spaced from the
    minimum-CVaR portfolio's to the highest attainable, each the minimum CVaR at that target.
    One problem with a ``target_return`` Parameter is built and re-solved (rebuilt only when a
    point's tail reaches scenarios the screen had left out).

    Parameters
    ----------
    est, c, confidence, probabilities, rf
        As for :func:`min_cvar`.
    points : int
        Number of targets (>= 1).
    progress : callable (done, total), optional
        Called after each point.
    cancel : threading.Event, optional
        Set: stop after the current point (the rows solved so far are returned).

    Returns
    -------
    DataFrame, shape (points, len(FRONTIER_FIGURES) + n)
        One row per target: the columns of :data:`FRONTIER_FIGURES` (returns annualised;
        ``cvar`` the optimised 1-day CVaR at ``confidence``, a fraction of NAV) then one
        weight column per ticker. A point that fails is a row with ``ok`` False, NaN figures
        and its ``reason``.

    Raises
    ------
    OptimizationError
        The constraint set itself admits no portfolio or an unbounded return (there is no
        frontier to trace).
    """
    if points < 1:
        raise OptimizationError(f"points: expected at least 1, got {points}")
    low = min_cvar(est, c, confidence, None, probabilities, rf)
    w = cp.Variable(est.n)
    top = cp.Problem(cp.Maximize(net_return(w, c, est)), [nc.constraint for nc in build(w, c, est)])
    solver, tried = solve(top)
    if not solver:
        raise OptimizationError(
            "mean-CVaR frontier: the highest attainable return",
            (
                f"solver status {top.status!r}"
                if top.status != cp.UNBOUNDED
                else "the expected return is unbounded under these constraints",
            ),
            tried,
            "bound gross exposure or the weights",
        )
    start, high = low.extra["net_return"], float(top.value)
    prob = _ScreenedCvar(est, c, confidence, probabilities, True)
    prob.seed(np.array(list(low.weights.values())))
    prob.seed(np.asarray(w.value))
    rows = []
    for i, target in enumerate(np.linspace(start, max(high, start), points)):
        solver, tried = prob.run(float(target))
        if solver:
            pf = _portfolio(prob, rf, solver, tried, probabilities is None, float(target))
            rows.append(
                {
                    "target_return": float(target),
                    "ok": True,
                    "reason": "",
                    "expected_return": pf.expected_return,
                    "net_return": pf.extra["net_return"],
                    "volatility": pf.volatility,
                    "sharpe": pf.sharpe,
                    "cvar": pf.extra["cvar"],
                    "var_95": pf.var_95,
                    "cvar_95": pf.cvar_95,
                    "solver": solver,
                    **pf.weights,
                }
            )
        else:
            err = unsolved("mean-CVaR frontier point", prob.problem, c, est, tried, float(target))
            rows.append(
                {
                    "target_return": float(target),
                    "ok": False,
                    "reason": str(err),
                    "solver": "",
                    **dict.fromkeys(est.tickers, math.nan),
                }
            )
        if progress is not None:
            progress(i + 1, points)
        if cancel is not None and cancel.is_set():
            break
    return pd.DataFrame(rows, columns=[*FRONTIER_FIGURES, *est.tickers])

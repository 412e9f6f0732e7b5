"""Mean-variance optimisation: minimum variance, maximum return, exact maximum Sharpe, quadratic
utility and an efficient frontier, under the shared constraint set of
:mod:`hedgedesk.core.optimize.problem`.

Each problem is built once, with ``cp.Parameter``s where a value changes between solves (risk
aversion, frontier target), and re-solved: the problems follow cvxpy's disciplined parametrised
programming rules (checked with ``is_dcp(dpp=True)``), so cvxpy compiles each one once.

Weights are fractions of NAV (n,); returns and volatilities are annualised (``Estimates``).
Risk is ``sum_squares(u)`` with ``u = F w`` for a constant factor ``F`` (k, n), ``F'F = cov``:
the upper Cholesky factor when the covariance is positive definite (half the nonzeros of an
eigen factor, which makes each conic solve several times faster), otherwise the eigen factor
without its zero rows (``Estimates.factor()``, computed once per estimates and shared with
:func:`hedgedesk.core.optimize.problem.build`). The volatility and tracking-error caps are
written on the same ``u`` so the solver sees the dense factor once; every other constraint
comes from :func:`~hedgedesk.core.optimize.problem.build`, whose names report the constraints
that bind. Every public method runs with BLAS limited to one thread
(:data:`~hedgedesk.core.blas.serial_blas`): the dense algebra is small.

The frontier's points are solved exactly by a warm-started active-set method when every
constraint is linear in w (each point certified by its KKT conditions), and otherwise, or when
a point cannot be certified, by re-solving one cvxpy problem with a Parameter target.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property

import cvxpy as cp
import numpy as np

from hedgedesk.core.blas import serial_blas
from hedgedesk.core.checks import finite, positive
from hedgedesk.core.optimize.diagnose import constraint_reasons
from hedgedesk.core.optimize.problem import (
    Constraints,
    Estimates,
    OptimizationError,
    Portfolio,
    build,
    describe,
    net_return,
    solve,
    solved,
)

VOL_CAP_TOL = 1e-6  # relative: a frontier point may exceed the volatility cap by this much
LEVERAGE_TOL = 1e-9  # kappa below this: the best Sharpe is approached only with unbounded weights
RISKLESS_TOL = 1e-6  # a volatility this small relative to the riskiest asset's counts as none
ACTIVE_SET = "ACTIVE-SET"  # the exact frontier path's name in Portfolio.solver
FRONTIER_METHODS = ("auto", "cvxpy")


@dataclass(frozen=True)
class FrontierPoint:
    """One point of a frontier: ``portfolio`` is None when it failed, and ``reason`` says why
    ("" when solved). ``target_return`` is annualised and net of transaction costs.
    """

    target_return: float
    portfolio: Portfolio | None
    reason: str


@dataclass
class _Built:
    """A problem built once: weights ``w`` (for max Sharpe, ``y = kappa w``), its parameter."""

    problem: cp.Problem
    w: cp.Variable
    param: cp.Parameter | None = None
    kappa: cp.Variable | None = None


class MeanVariance:
    """Mean-variance problems on one set of estimates and constraints.

    Problems are built once, on first use, and re-solved on later calls; each satisfies
    ``problem.is_dcp(dpp=True)``. Infeasible problems raise
    :class:`~hedgedesk.core.optimize.problem.OptimizationError` with reasons from
    ``hedgedesk.core.optimize.diagnose``. Every method returns
    :class:`~hedgedesk.core.optimize.problem.Portfolio` figures: weights fractions of NAV,
    returns and volatility annualised.

    Parameters
    ----------
    est : Estimates
        ``mu`` (n,) and ``cov`` (n, n), annualised.
    constraints : Constraints
        The constraint set on the weights (n,).
    rf : float
        Annual risk-free rate (CONVENTIONS: ``periods`` x the daily rate), used by
        :meth:`max_sharpe` and the Sharpe ratios reported.
    """

    @serial_blas()
    def __init__(self, est: Estimates, constraints: Constraints, rf: float = 0.0):
        n = est.n
        self.est = est
        self.constraints = constraints
        self.rf = float(finite("rf", rf))
        if np.shape(est.mu) != (n,) or np.shape(est.cov) != (n, n):
            raise ValueError(
                f"estimates: mu {np.shape(est.mu)} and cov {np.shape(est.cov)} "
                f"do not match {n} tickers"
            )
        finite("estimates mu", est.mu)
        finite("estimates cov", est.cov)
        _check_constraints(constraints, est)
        self._f = est.factor()  # the one factorisation of this Estimates, shared with build
        self._built: dict[str, _Built] = {}
        self._highest: float | None = None  # highest net return, once known
        # Every named constraint's numeric slack at a solution gives the binding list, whichever
        # formulation (plain, homogenised, frontier QP) produced it.
        self._w_eval = cp.Variable(n)
        self._named_eval = build(self._w_eval, constraints, est)

    # -- public problems ------------------------------------------------------------------------
    @serial_blas()
    def min_variance(self) -> Portfolio:
        """The least-volatility portfolio within the constraints."""
        b = self._problem("min-variance")
        solver, tried = solve(b.problem)
        if not solver:
            raise self._failure("minimum variance", b.problem, tried)
        return self._describe("min-variance", solved(b.w), solver, tried)

    @serial_blas()
    def max_return(self) -> Portfolio:
        """The highest expected return net of transaction costs within the constraints (the
        volatility cap, when set, included).
        """
        b = self._problem("max-return")
        solver, tried = solve(b.problem)
        if not solver:
            raise self._failure("maximum return", b.problem, tried)
        w = solved(b.w)
        p = self._describe("max-return", w, solver, tried)
        self._highest = self._net(w)
        return p

    @serial_blas()
    def max_sharpe(self) -> Portfolio:
        """The highest Sharpe ratio ``(mu'w - costs - rf 1'w) / vol``, solved exactly by the
        homogenising transformation ``y = kappa w``, ``kappa >= 0``: minimise ``y' cov y``
        subject to ``mu'y - costs(y) - rf 1'y >= 1`` and the constraints scaled by kappa.
        The excess constraint binds at the optimum (every constraint is homogeneous in
        (y, kappa), so a slack one could be scaled down to lower the variance); written as an
        inequality it stays convex with transaction costs. Never a scan of the frontier.
        """
        excess = self.est.mu - self.rf
        if self.constraints.lower() >= 0 and not (excess > 0).any():
            best = int(np.argmax(excess))
            raise OptimizationError(
                "maximum Sharpe needs an asset whose expected return is above the risk-free rate",
                (
                    f"no asset has an expected return above rf {self.rf:.2%}: the highest is "
                    f"{self.est.tickers[best]} at {self.est.mu[best]:.2%}",
                ),
                suggestion="use minimum variance, or a lower risk-free rate",
            )
        if not np.isfinite(self.constraints.max_weight):
            raise OptimizationError(
                "maximum Sharpe needs a finite maximum weight",
                (
                    "the homogenised problem scales every bound by kappa, and an infinite one "
                    "cannot be scaled",
                ),
                suggestion="set a maximum weight, e.g. 10 (1000 %)",
            )
        b = self._problem("max-sharpe")
        solver, tried = solve(b.problem)
        if not solver:
            raise self._sharpe_failure(b.problem, tried)
        assert b.kappa is not None  # the homogenised problem is built with its kappa
        kappa = float(solved(b.kappa))
        if kappa <= LEVERAGE_TOL:
            raise OptimizationError(
                "maximum Sharpe is approached only as the weights grow without bound",
                (
                    "the constraints leave leverage unlimited, and a zero-net long/short "
                    "combination earns more per unit of risk than any bounded portfolio",
                ),
                tried,
                "set a gross exposure limit or finite weight bounds",
            )
        w = solved(b.w) / kappa
        if np.sqrt(max(w @ self.est.cov @ w, 0.0)) <= RISKLESS_TOL * np.sqrt(
            np.max(np.diag(self.est.cov))
        ):
            raise OptimizationError(
                "maximum Sharpe is unbounded",
                (
                    "a riskless combination of the assets earns more than the risk-free rate "
                    "(the covariance is singular)",
                ),
                tried,
                "remove duplicated or collinear assets, or use a shrinkage estimate",
            )
        return self._describe("max-sharpe", w, solver, tried, {"kappa": kappa})

    @serial_blas()
    def utility(self, risk_aversion: float) -> Portfolio:
        """Maximise ``mu'w - costs - (risk_aversion / 2) w' cov w``.

        Parameters
        ----------
        risk_aversion : float
            lambda > 0, per unit of annual variance.

        Returns
        -------
        Portfolio
            ``extra["utility"]`` is the optimum's utility (annualised).
        """
        lam = float(positive("risk_aversion", finite("risk_aversion", risk_aversion)))
        b = self._problem("utility")
        assert b.param is not None  # built with its half-risk-aversion parameter
        b.param.value = lam / 2
        solver, tried = solve(b.problem)
        if not solver:
            raise self._failure("quadratic utility", b.problem, tried)
        return self._describe(
            "utility",
            solved(b.w),
            solver,
            tried,
            {"risk_aversion": lam, "utility": float(b.problem.value)},
        )

    @serial_blas()
    def frontier(self, points: int, method: str = "auto") -> list[FrontierPoint]:
        """Evenly spaced target returns (net of costs) from the minimum-variance portfolio's
        to the maximum return's, each the least-variance portfolio reaching its target: see
        :meth:`frontier_at`. The last target sits a hair (1e-9 relative) below the maximum
        return so that it keeps a feasible neighbourhood.

        Parameters
        ----------
        points : int
            Number of targets, >= 2.
        method : {"auto", "cvxpy"}
            As for :meth:`frontier_at`.

        Returns
        -------
        list of FrontierPoint, length points
            A point that fails is a row with its reason.

        Raises
        ------
        OptimizationError
            Only when the endpoints cannot be found (no portfolio satisfies the
            constraints, or the return is unbounded).
        """
        if isinstance(points, bool) or not isinstance(points, int | np.integer) or points < 2:
            raise ValueError(f"points must be an integer >= 2, got {points!r}")
        _check_method(method)
        low = self.min_variance()
        high = self.max_return()
        r0 = self._net(_vector(low, self.est))
        r1 = max(self._net(_vector(high, self.est)), r0)
        targets = np.linspace(r0, r1, int(points))
        targets[-1] = max(r1 - 1e-9 * max(1.0, abs(r1)), r0)
        return self._frontier(targets, method, _vector(low, self.est))

    @serial_blas()
    def frontier_at(self, targets: Sequence[float], method: str = "auto") -> list[FrontierPoint]:
        """For each annualised target return t (net of costs), the least-variance portfolio
        with net return >= t. A target below the minimum-variance portfolio's return gives
        that portfolio; a target no portfolio reaches gives a row with the reason.

        The volatility cap is left out and checked on each solution: the objective is the
        variance, so the cap holds at the optimum or at no feasible point of that target.

        Parameters
        ----------
        targets : sequence of float, length m
            Annualised target returns net of costs (fractions).
        method : {"auto", "cvxpy"}
            ``"cvxpy"`` re-solves one cvxpy problem with a Parameter target through the chain
            of :func:`hedgedesk.core.optimize.problem.solve`. ``"auto"`` (default) first tries
            an exact active-set solve of the same QP warm-started from the previous point,
            accepted only when its KKT conditions hold (primal and dual feasibility,
            stationarity), which needs constraints linear in w (no turnover, costs, gross
            limit or tracking-error cap); any point it cannot certify goes to the cvxpy
            problem.

        Returns
        -------
        list of FrontierPoint, length m
        """
        _check_method(method)
        return self._frontier(finite("targets", targets).reshape(-1), method, None)

    def _frontier(
        self, ts: np.ndarray, method: str, hint: np.ndarray | None
    ) -> list[FrontierPoint]:
        """The rows of :meth:`frontier_at`; ``hint`` (n,), an approximate solution at the
        first target, seeds the active-set search (it is certified before use).
        """
        fast = self._linear if method == "auto" else None
        state = None
        if fast is not None and hint is not None and len(ts):
            state = fast.state_of(float(ts[0]), hint)
        out = []
        for t in ts:
            exact = fast.solve(float(t), state) if fast is not None else None
            if exact is not None:
                w, state = exact
                out.append(self._frontier_row(float(t), w, ACTIVE_SET, (ACTIVE_SET,)))
                continue
            tried = (ACTIVE_SET,) if fast is not None else ()
            row, found = self._frontier_cvxpy(float(t), tried)
            out.append(row)
            if fast is not None and found is not None:
                state = fast.state_of(float(t), found)
        return out

    # -- building -------------------------------------------------------------------------------
    def _problem(self, kind: str) -> _Built:
        if kind not in self._built:
            b = getattr(self, "_build_" + kind.replace("-", "_"))()
            if not b.problem.is_dcp(dpp=True):
                raise RuntimeError(f"the {kind} problem is not DPP: it would recompile each solve")
            self._built[kind] = b
        return self._built[kind]

    def _base(
        self, w: cp.Variable, scale=1.0, vol_cap: bool = True
    ) -> tuple[list[cp.Constraint], cp.Expression | None]:
        """Constraints on ``w`` (``y`` with ``scale = kappa``) and ``u = F w`` when risk is
        needed. The volatility and tracking-error caps are written on ``u``; the rest come from
        :func:`build`.
        """
        c = self.constraints
        te = c.te_cap is not None and c.benchmark_weights is not None
        cons = [
            nc.constraint for nc in build(w, replace(c, vol_cap=None, te_cap=None), self.est, scale)
        ]
        u = None
        if te or (vol_cap and c.vol_cap is not None):
            u = cp.Variable(self._f.shape[0])
            cons.append(u == self._f @ w)
        if vol_cap and c.vol_cap is not None:
            cons.append(cp.norm(u, 2) <= c.vol_cap * scale)
        if te:
            fb = self._f @ np.asarray(c.benchmark_weights, dtype=np.float64)
            cons.append(cp.norm(u - fb * scale, 2) <= c.te_cap * scale)
        return cons, u

    def _risk(self, w: cp.Variable, cons: list, u) -> cp.Expression:
        """``w' cov w`` as ``sum_squares(u)``, adding ``u = F w`` when the caps did not."""
        if u is None:
            u = cp.Variable(self._f.shape[0])
            cons.append(u == self._f @ w)
        return cp.sum_squares(u)

    def _build_min_variance(self) -> _Built:
        w = cp.Variable(self.est.n)
        cons, u = self._base(w)
        risk = self._risk(w, cons, u)
        return _Built(cp.Problem(cp.Minimize(risk), cons), w)

    def _build_max_return(self) -> _Built:
        w = cp.Variable(self.est.n)
        cons, _ = self._base(w)
        return _Built(cp.Problem(cp.Maximize(net_return(w, self.constraints, self.est)), cons), w)

    def _build_utility(self) -> _Built:
        w = cp.Variable(self.est.n)
        half = cp.Parameter(nonneg=True, name="half_risk_aversion")
        cons, u = self._base(w)
        risk = self._risk(w, cons, u)
        obj = net_return(w, self.constraints, self.est) - half * risk
        return _Built(cp.Problem(cp.Maximize(obj), cons), w, half)

    def _build_max_sharpe(self) -> _Built:
        c = self.constraints
        y = cp.Variable(self.est.n)
        kappa = cp.Variable(nonneg=True)
        cons, u = self._base(y, kappa)
        risk = self._risk(y, cons, u)
        cons.append(net_return(y, c, self.est, kappa) - self.rf * cp.sum(y) >= 1)
        return _Built(cp.Problem(cp.Minimize(risk), cons), y, kappa=kappa)

    def _build_frontier(self) -> _Built:
        w = cp.Variable(self.est.n)
        target = cp.Parameter(name="target_return")
        cons, u = self._base(w, vol_cap=False)
        risk = self._risk(w, cons, u)
        cons.append(net_return(w, self.constraints, self.est) >= target)
        return _Built(cp.Problem(cp.Minimize(risk), cons), w, target)

    # -- the frontier ---------------------------------------------------------------------------
    def _frontier_cvxpy(
        self, t: float, tried: tuple[str, ...]
    ) -> tuple[FrontierPoint, np.ndarray | None]:
        b = self._problem("frontier")
        assert b.param is not None  # built with its target-return parameter
        b.param.value = t
        solver, more = solve(b.problem)
        tried += more
        if not solver:
            return FrontierPoint(t, None, self._point_reason(b.problem, t, tried)), None
        w = solved(b.w)
        return self._frontier_row(t, w, solver, tried), w

    def _frontier_row(
        self, t: float, w: np.ndarray, solver: str, tried: tuple[str, ...]
    ) -> FrontierPoint:
        cap = self.constraints.vol_cap
        vol = float(np.sqrt(max(w @ self.est.cov @ w, 0.0)))
        if cap is not None and vol > cap * (1 + VOL_CAP_TOL):
            return FrontierPoint(
                t,
                None,
                f"the lowest volatility that reaches a return of "
                f"{t:.2%} is {vol:.2%}, above the {cap:.2%} cap",
            )
        return FrontierPoint(
            t, self._describe("frontier", w, solver, tried, {"target_return": t}), ""
        )

    @cached_property
    def _linear(self) -> _LinearQP | None:
        """:meth:`_linear_qp`, built once (the frontier's exact path)."""
        return self._linear_qp()

    def _linear_qp(self) -> _LinearQP | None:
        """The frontier QP as ``min w'(2 cov)w`` under bounds and linear rows, mirroring
        :func:`hedgedesk.core.optimize.problem.build`; None when a constraint is not linear in w.
        """
        c, est = self.constraints, self.est
        n = est.n
        if c.current is not None and (c.turnover_max is not None or c.cost_rate):
            return None
        if (c.gross_max is not None and not c.long_only) or (
            c.te_cap is not None and c.benchmark_weights is not None
        ):
            return None
        lo = c.lower()
        lower = lo if (c.long_only or np.isfinite(lo)) else -np.inf
        rows: list[np.ndarray] = []
        rhs: list[float] = []
        eq: list[bool] = []

        def le(a, b, equality=False):
            rows.append(np.asarray(a, dtype=np.float64))
            rhs.append(float(b))
            eq.append(equality)

        ones = np.ones(n)
        if c.net_min == c.net_max:
            le(ones, c.net_max, equality=True)
        else:
            le(ones, c.net_max)
            le(-ones, -c.net_min)
        index = {t: i for i, t in enumerate(est.tickers)}
        for g in c.groups:
            a = np.zeros(n)
            a[[index[t] for t in g.tickers]] = 1.0
            # rows that cannot bind (weights >= 0 and a group bounded by the budget) are left out
            if not (lower >= 0 and g.max >= c.net_max):
                le(a, g.max)
            if not (lower >= 0 and g.min <= 0):
                le(-a, -g.min)
        if c.betas is not None:
            betas = np.asarray(c.betas, dtype=np.float64)
            if c.beta_max is not None:
                le(betas, c.beta_max)
            if c.beta_min is not None:
                le(-betas, -c.beta_min)
        le(-np.asarray(est.mu, dtype=np.float64), 0.0)  # -mu'w <= -t: the target row
        deriv = np.zeros(len(rows))
        deriv[-1] = -1.0
        cov = np.asarray(est.cov, dtype=np.float64)
        return _LinearQP(
            cov + cov.T,
            np.array(rows),
            np.array(rhs),
            deriv,
            np.array(eq),
            np.full(n, lower),
            np.full(n, float(c.max_weight)),
        )

    def _point_reason(self, problem: cp.Problem, t: float, tried: tuple[str, ...]) -> str:
        if problem.status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
            text = f"no portfolio within the constraints reaches a return of {t:.2%}"
            highest = self._highest_return()
            if highest is not None:
                text += f" (the highest attainable is {highest:.2%})"
            return text
        return f"no solver solved this point (status {problem.status}; tried {', '.join(tried)})"

    def _highest_return(self) -> float | None:
        if self._highest is None:
            try:
                self.max_return()
            except OptimizationError:
                return None
        return self._highest

    # -- results and failures -------------------------------------------------------------------
    def _net(self, w: np.ndarray) -> float:
        c = self.constraints
        ret = float(self.est.mu @ w)
        if c.cost_rate and c.current is not None:
            ret -= c.cost_rate * float(np.abs(w - c.current).sum())
        return ret

    def _describe(
        self, objective: str, w, solver: str, tried: tuple[str, ...], extra: dict | None = None
    ) -> Portfolio:
        w = np.asarray(w, dtype=np.float64)
        c = self.constraints
        extra = dict(extra or {})
        if c.current is not None:
            turnover = float(np.abs(w - c.current).sum())
            extra.update(
                turnover=turnover, transaction_cost=c.cost_rate * turnover, net_return=self._net(w)
            )
        return describe(
            objective, w, self.est, self.rf, self._named_eval, solver, tried, extra, slacks_at=w
        )

    def _failure(self, what: str, problem: cp.Problem, tried: tuple[str, ...]) -> OptimizationError:
        status = problem.status
        if status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
            reasons, suggestion = constraint_reasons(self.constraints, self.est)
            return OptimizationError(
                f"{what}: no portfolio satisfies every constraint", reasons, tried, suggestion
            )
        if status in (cp.UNBOUNDED, cp.UNBOUNDED_INACCURATE):
            return OptimizationError(
                f"{what} is unbounded",
                ("nothing limits the size of the positions",),
                tried,
                "set a volatility cap, a gross exposure limit or finite weight bounds",
            )
        return OptimizationError(f"{what}: no solver found a solution (status {status})", (), tried)

    def _sharpe_failure(self, problem: cp.Problem, tried: tuple[str, ...]) -> OptimizationError:
        """The homogenised problem failed: either nothing satisfies the constraints, or no
        feasible portfolio earns more than the risk-free rate.
        """
        if problem.status not in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
            return self._failure("maximum Sharpe", problem, tried)
        mv = self._problem("min-variance")
        solver, more = solve(mv.problem)
        if not solver:
            return self._failure("maximum Sharpe", mv.problem, tuple(dict.fromkeys(tried + more)))
        reasons = [
            "no portfolio within the constraints has an expected return (net of costs) "
            f"above the risk-free rate {self.rf:.2%}"
        ]
        try:
            best = self.max_return()
        except OptimizationError:
            pass
        else:
            w = _vector(best, self.est)
            reasons.append(
                f"the highest attainable excess return is {self._net(w) - self.rf * w.sum():.2%}"
            )
        return OptimizationError(
            "maximum Sharpe needs a portfolio that earns more than the risk-free rate",
            reasons,
            tried,
            "use minimum variance, or relax the constraints that exclude "
            "the assets with the highest returns",
        )


def _vector(p: Portfolio, est: Estimates) -> np.ndarray:
    return np.array([p.weights[t] for t in est.tickers], dtype=np.float64)


def _check_constraints(c: Constraints, est: Estimates) -> None:
    """What the shared builder does not check: array shapes, and costs without current
    weights (which it would silently ignore). It rejects the rest (a turnover limit, beta band
    or tracking-error cap without its data, a group naming an unknown ticker).
    """
    n = est.n
    for name in ("current", "betas", "benchmark_weights"):
        value = getattr(c, name)
        if value is not None and np.shape(value) != (n,):
            raise OptimizationError(
                f"constraints.{name} must have one value per ticker ({n}), "
                f"got shape {np.shape(value)}"
            )
        if value is not None:
            finite(f"constraints.{name}", value)
    if c.cost_rate and c.current is None:
        raise OptimizationError("transaction costs need current weights (constraints.current)")


def _check_method(method: str) -> None:
    if method not in FRONTIER_METHODS:
        raise ValueError(f"method must be one of {', '.join(FRONTIER_METHODS)}, got {method!r}")


@dataclass(frozen=True)
class _State:
    """An active set (weights at their lower or upper bound, rows held as equalities) and,
    when it is a certified solution, its t.
    """

    at_lo: np.ndarray
    at_hi: np.ndarray
    rows: np.ndarray
    t: float | None = None


@dataclass(frozen=True)
class _Path:
    """QP data affine in tau on [0, 1]: row bounds ``c + tau dc``, weight bounds
    ``lo + tau dlo`` and ``hi + tau dhi`` (infinite bounds do not move).
    """

    c: np.ndarray
    dc: np.ndarray
    lo: np.ndarray
    dlo: np.ndarray
    hi: np.ndarray
    dhi: np.ndarray

    def at(self, tau: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.c + tau * self.dc, self.lo + tau * self.dlo, self.hi + tau * self.dhi


class _LinearQP:
    """``min 1/2 x'Hx`` s.t. ``lo <= x <= hi``, ``A x <= c + t d`` (rows marked ``eq`` are
    equalities), solved exactly for one t after another. Shapes: H (n, n) symmetric PSD,
    A (m, n), c, d, eq (m,), lo, hi (n,).

    The parametric active-set method: along a path on which the data are affine, with the
    active set fixed, x and the multipliers are affine too, so the path goes straight to the
    next event (a weight reaching a bound, a row becoming tight, a multiplier reaching zero),
    changes that one constraint and goes on. From one frontier point to the next the path
    moves the target; the first point starts from the problem with every inequality relaxed
    until the equality-constrained minimum satisfies them, and moves the bounds back. Each
    active set's KKT system is solved exactly (bound weights eliminated), and a solution is
    returned only when all KKT conditions hold, which certifies the optimum of a convex QP;
    otherwise None, and the caller solves the point another way.
    """

    TOL = 1e-9

    def __init__(self, H, A, c, d, eq, lo, hi):
        self.H, self.A, self.c, self.d, self.eq = H, A, c, d, eq.astype(bool)
        self.lo, self.hi = lo, hi
        self.n, self.m = A.shape[1], A.shape[0]
        self._tol_dual = self.TOL * max(1.0, float(np.abs(H).max()))
        self.max_events = 4 * (self.n + self.m) + 20

    def state_of(self, t: float, x: np.ndarray) -> _State:
        """The active set of an approximate solution found elsewhere (not certified): an
        interior-point solution leaves weights of ~1e-6 that belong at their bound.
        """
        tol = 1e-5
        rows = self.eq | (self.A @ x >= self.c + t * self.d - tol)
        at_lo = (x <= self.lo + tol) & np.isfinite(self.lo)
        return _State(at_lo, (x >= self.hi - tol) & np.isfinite(self.hi) & ~at_lo, rows)

    def solve(self, t: float, start: _State | None) -> tuple[np.ndarray, _State] | None:
        """The certified solution at t and its active set, or None."""
        if start is not None and start.t is not None:
            zero = np.zeros(self.n)
            path = _Path(
                self.c + start.t * self.d, (t - start.t) * self.d, self.lo, zero, self.hi, zero
            )
            found = self._follow(path, start)
            if found is not None and (done := self._certify(t, found)) is not None:
                return done
        elif start is not None and (done := self._repair(t, start)) is not None:
            return done
        found = self._cold(t)
        return self._certify(t, found) if found is not None else None

    def _repair(self, t: float, s: _State, tries: int = 3) -> tuple[np.ndarray, _State] | None:
        """Certify a guessed active set, correcting it a few times (everything that is wrong
        at once: violated constraints in, negative multipliers out) before giving up.
        """
        rhs = self.c + t * self.d
        for _ in range(tries):
            if (done := self._certify(t, s)) is not None:
                return done
            kkt = self._kkt(rhs, self.lo, self.hi, s.at_lo, s.at_hi, s.rows)
            if kkt is None:
                return None
            x, lam, nu = kkt[0]
            free = ~(s.at_lo | s.at_hi)
            out = ~free & (nu < -self._tol_dual)
            at_lo = (s.at_lo & ~out) | (free & (x < self.lo - self.TOL))
            at_hi = (s.at_hi & ~out) | (free & (x > self.hi + self.TOL))
            rows = (s.rows & ~(~self.eq & (lam < -self._tol_dual))) | (self.A @ x - rhs > self.TOL)
            s = _State(at_lo, at_hi & ~at_lo, rows)
        return self._certify(t, s)

    def _certify(self, t: float, s: _State) -> tuple[np.ndarray, _State] | None:
        rhs = self.c + t * self.d
        kkt = self._kkt(rhs, self.lo, self.hi, s.at_lo, s.at_hi, s.rows)
        if kkt is None:
            return None
        x, lam, nu = kkt[0]
        free = ~(s.at_lo | s.at_hi)
        if (
            (free & ((x < self.lo - self.TOL) | (x > self.hi + self.TOL))).any()
            or (~s.rows & (self.A @ x - rhs > self.TOL)).any()
            or (s.rows & ~self.eq & (lam < -self._tol_dual)).any()
            or (~free & (nu < -self._tol_dual)).any()
        ):
            return None
        x = np.clip(x, self.lo, self.hi)  # bound weights are exact; free ones inside
        return x, _State(s.at_lo, s.at_hi, s.rows, t)

    def _cold(self, t: float) -> _State | None:
        """Active set at t, followed from the relaxed problem whose solution is the
        equality-constrained minimum (every inequality moved out of its way).
        """
        none = np.zeros(self.n, bool)
        c_t = self.c + t * self.d
        kkt = self._kkt(c_t, self.lo, self.hi, none, none, self.eq)
        if kkt is None:
            return None
        x = kkt[0][0]
        margin = 1.0
        c0 = np.where(self.eq, c_t, np.maximum(c_t, self.A @ x + margin))
        lo0 = np.where(np.isfinite(self.lo), np.minimum(self.lo, x - margin), self.lo)
        hi0 = np.where(np.isfinite(self.hi), np.maximum(self.hi, x + margin), self.hi)
        path = _Path(
            c0,
            c_t - c0,
            lo0,
            np.where(np.isfinite(self.lo), self.lo - lo0, 0.0),
            hi0,
            np.where(np.isfinite(self.hi), self.hi - hi0, 0.0),
        )
        return self._follow(path, _State(none, none, self.eq.copy()))

    def _follow(self, path: _Path, start: _State) -> _State | None:
        """The active set at tau = 1, from an optimal one at tau = 0, event by event."""
        at_lo, at_hi, rows = start.at_lo.copy(), start.at_hi.copy(), start.rows.copy()
        tau = 0.0
        for _ in range(self.max_events):
            if tau >= 1.0:
                return _State(at_lo, at_hi, rows)
            c, lo, hi = path.at(tau)
            kkt = self._kkt(c, lo, hi, at_lo, at_hi, rows, path)
            if kkt is None:
                return None
            (x, lam, nu), (dx, dlam, dnu) = kkt
            fixed = at_lo | at_hi
            excess = self.A @ x - c
            slope = self.A @ dx - path.dc
            up, down = dx - path.dhi, dx - path.dlo
            with np.errstate(divide="ignore", invalid="ignore"):
                cands = (
                    ("hi", np.where(~fixed & (up > 0), (hi - x) / up, np.inf)),
                    ("lo", np.where(~fixed & (down < 0), (lo - x) / down, np.inf)),
                    ("row+", np.where(~rows & (slope > 0), -excess / slope, np.inf)),
                    ("row-", np.where(rows & ~self.eq & (dlam < 0), lam / -dlam, np.inf)),
                    ("free", np.where(fixed & (dnu < 0), nu / -dnu, np.inf)),
                )
            step, kind, k = 1.0 - tau, "", -1
            for name, values in cands:
                j = int(np.argmin(values))
                if values[j] < step:
                    step, kind, k = max(float(values[j]), 0.0), name, j
            tau = 1.0 if not kind else tau + step
            if kind in ("hi", "lo", "row+"):
                # a constraint that depends on the active ones replaces one of them: the one
                # whose multiplier, shifted onto the newcomer, reaches zero first
                normal = (
                    self.A[k]
                    if kind == "row+"
                    else np.eye(self.n)[k] * (1.0 if kind == "hi" else -1.0)
                )
                out = self._dependent(
                    normal, at_lo, at_hi, rows, lam + step * dlam, nu + step * dnu
                )
                if out is False:
                    return None
                if out is not None:
                    if out < self.n:
                        at_lo[out] = at_hi[out] = False
                    else:
                        rows[out - self.n] = False
            if kind == "hi":
                at_hi[k] = True
            elif kind == "lo":
                at_lo[k] = True
            elif kind == "row+":
                rows[k] = True
            elif kind == "row-":
                rows[k] = False
            elif kind == "free":
                at_lo[k] = at_hi[k] = False
        return None

    def _dependent(self, normal, at_lo, at_hi, rows, lam, nu) -> int | bool | None:
        """None when ``normal`` is independent of the active constraints' normals; else the
        constraint to drop (a weight index, or n + a row index), or False when none can go.
        """
        free = ~(at_lo | at_hi)
        a_rows = self.A[rows]
        beta, *_ = np.linalg.lstsq(a_rows[:, free].T, normal[free], rcond=None)
        if np.abs(a_rows[:, free].T @ beta - normal[free]).max(initial=0.0) > 1e-9 * max(
            1.0, np.abs(normal).max()
        ):
            return None
        # on the fixed weights the bound normals (+e_j upper, -e_j lower) take up the rest
        sign = np.where(at_hi, 1.0, -1.0)
        beta_fixed = np.where(free, 0.0, sign * (normal - a_rows.T @ beta))
        ratios = np.full(self.n + self.m, np.inf)
        ok = ~free & (beta_fixed > 1e-12)
        ratios[: self.n][ok] = np.maximum(nu[ok], 0.0) / beta_fixed[ok]
        beta_rows = np.zeros(self.m)
        beta_rows[rows] = beta
        ok = rows & ~self.eq & (beta_rows > 1e-12)
        ratios[self.n :][ok] = np.maximum(lam[ok], 0.0) / beta_rows[ok]
        j = int(np.argmin(ratios))
        return j if np.isfinite(ratios[j]) else False

    def _kkt(self, c, lo, hi, at_lo, at_hi, rows, path: _Path | None = None):
        """Solve the active set's KKT system: ((x, row multipliers (m,), bound multipliers
        (n,)),) and, with ``path``, also their rates of change along it; None when the active
        rows are inconsistent.
        """
        fixed = at_lo | at_hi
        free = ~fixed
        xs = [np.where(at_lo, lo, np.where(at_hi, hi, 0.0))]
        rhs = [c]
        if path is not None:
            xs.append(np.where(at_lo, path.dlo, np.where(at_hi, path.dhi, 0.0)))
            rhs.append(path.dc)
        a_rows = self.A[rows]
        af = a_rows[:, free]
        nf, na = int(free.sum()), int(rows.sum())
        b = np.column_stack(
            [
                np.concatenate(
                    [
                        -(self.H[np.ix_(free, fixed)] @ x[fixed]),
                        r[rows] - a_rows[:, fixed] @ x[fixed],
                    ]
                )
                for x, r in zip(xs, rhs, strict=True)
            ]
        )
        k = np.zeros((nf + na, nf + na))
        k[:nf, :nf] = self.H[np.ix_(free, free)]
        k[:nf, nf:] = af.T
        k[nf:, :nf] = af
        tol = 1e-10 * (1.0 + np.abs(b).max(initial=0.0))
        try:
            sol = np.linalg.solve(k, b)
        except np.linalg.LinAlgError:
            sol = np.full(b.shape, np.nan)
        if not (np.isfinite(sol).all() and np.abs(k @ sol - b).max(initial=0.0) <= tol):
            # dependent active rows: the least-norm solution, if the rows are consistent
            sol = np.linalg.lstsq(k, b, rcond=None)[0]
            if np.abs(k @ sol - b).max(initial=0.0) > tol:
                return None
        out = []
        for j, x in enumerate(xs):
            x = x.copy()
            x[free] = sol[:nf, j]
            lam = np.zeros(self.m)
            lam[rows] = sol[nf:, j]
            g = self.H @ x + self.A.T @ lam
            out.append((x, lam, np.where(at_hi, -g, np.where(at_lo, g, 0.0))))
        return tuple(out)

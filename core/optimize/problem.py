"""What every optimiser shares: estimates, the constraint set, named cvxpy constraints, the
solver fallback chain and the figures reported for a solution.

Weights ``w`` are fractions of NAV (n,). Expected returns and covariance are annualised (x252,
CONVENTIONS: sample mean, ddof=1 covariance of daily simple returns) unless a shrinkage is
asked for and named. Constraints are built against a ``scale``: 1 for ordinary problems, the
homogenising variable kappa for maximum Sharpe (``y = kappa w``), so one builder serves both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any, NoReturn

import cvxpy as cp
import numpy as np
import pandas as pd

from hedgedesk.core.blas import serial_blas
from hedgedesk.core.data.calendar import period_words
from hedgedesk.core.errors import HedgedeskError
from hedgedesk.core.limits import Group
from hedgedesk.core.metrics import historical_var

# Tried in this order; the first that solves wins (HiGHS takes the LPs and QPs the others miss).
SOLVERS = ("CLARABEL", "ECOS", "SCS", "HIGHS")
BINDING_TOL = 1e-6


class OptimizationError(HedgedeskError):
    """No solution: ``reasons`` say why in plain words, ``tried`` lists the solvers tried."""

    def __init__(
        self,
        message: str,
        reasons: Sequence[str] = (),
        tried: Sequence[str] = (),
        suggestion: str = "",
    ):
        self.reasons = tuple(reasons)
        self.tried = tuple(tried)
        self.suggestion = suggestion
        detail = "; ".join(self.reasons)
        text = message + (f": {detail}" if detail else "")
        if suggestion:
            text += f"; {suggestion}"
        if self.tried:
            text += f" (tried: {', '.join(self.tried)})"
        super().__init__(text)


# -- estimates ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Estimates:
    """Return estimates of n assets that every optimiser takes.

    Attributes
    ----------
    tickers : tuple of str, length n
        The assets, in the order of every array below.
    mu : ndarray, shape (n,)
        Annualised expected simple returns (fractions).
    cov : ndarray, shape (n, n)
        Annualised covariance of simple returns.
    scenarios : ndarray, shape (T, n)
        Daily simple returns: the historical scenarios, equally weighted.
    method : str
        How ``mu`` and ``cov`` were estimated, shown in every output.
    periods : int
        Periods per year the daily figures were annualised with (252 for equities).
    first, last : date-like or None
        The first and last return dates.
    """

    tickers: tuple[str, ...]
    mu: np.ndarray  # annualised expected simple returns (n,)
    cov: np.ndarray  # annualised covariance (n, n)
    scenarios: np.ndarray  # daily simple returns (T, n): historical scenarios, equal weight
    method: str  # how mu and cov were estimated, shown in every output
    periods: int = 252
    first: object = None  # first and last return dates
    last: object = None

    @property
    def n(self) -> int:
        """The number of assets."""
        return len(self.tickers)

    def factor(self) -> np.ndarray:
        """A square root of the covariance (:func:`risk_factor`), computed once per
        ``Estimates`` and shared by every problem built on it (read-only).

        Returns
        -------
        ndarray, shape (k, n)
            F with F'F = cov (annualised): the upper Cholesky factor (k = n) when cov is
            positive definite, else the eigen factor without its zero rows (k = rank).
        """
        return self._factor

    @cached_property
    def _factor(self) -> np.ndarray:
        with serial_blas():
            f = risk_factor(self.cov)
        f.setflags(write=False)
        return f


def risk_factor(cov: np.ndarray) -> np.ndarray:
    """A factor of the covariance for ``sum_squares(F w)`` and ``norm(F w)`` risk terms.

    Parameters
    ----------
    cov : ndarray, shape (n, n)
        Annualised covariance.

    Returns
    -------
    ndarray, shape (k, n)
        F with F'F = cov: the upper Cholesky factor (k = n) when cov is positive definite,
        else the eigen factor without its zero rows (k = rank).
    """
    sym = (np.asarray(cov, dtype=np.float64) + np.asarray(cov, dtype=np.float64).T) / 2
    try:
        return np.linalg.cholesky(sym).T
    except np.linalg.LinAlgError:
        vals, vecs = np.linalg.eigh(sym)
        keep = vals > 1e-14 * max(float(vals.max()), 0.0)
        if not keep.any() or vals.max() <= 0:
            return np.zeros((1, len(sym)))
        return (vecs[:, keep] * np.sqrt(vals[keep])).T


def ledoit_wolf(x: np.ndarray) -> tuple[np.ndarray, float]:
    """Ledoit-Wolf (2004) shrinkage of a covariance towards a scaled identity. Uses the 1/T
    moments of the paper, then rescales to ddof = 1 so that intensity 0 gives the sample
    covariance.

    Parameters
    ----------
    x : ndarray, shape (T, n)
        Observations in rows (daily returns).

    Returns
    -------
    cov : ndarray, shape (n, n)
        The shrunk covariance, per period of ``x`` (not annualised).
    intensity : float
        The shrinkage intensity, in [0, 1].
    """
    t, n = x.shape
    xc = x - x.mean(axis=0)
    s = xc.T @ xc / t
    mu = np.trace(s) / n
    target = mu * np.eye(n)
    d2 = np.sum((s - target) ** 2) / n
    b2 = sum(np.sum((np.outer(r, r) - s) ** 2) for r in xc) / (t * t * n)
    b2 = min(b2, d2)
    delta = b2 / d2 if d2 > 0 else 0.0
    shrunk = delta * target + (1 - delta) * s
    return shrunk * t / (t - 1), float(delta)


def estimate(returns: pd.DataFrame, shrinkage: str | None = None, periods: int = 252) -> Estimates:
    """Annualised estimates from daily simple returns (CONVENTIONS: sample mean, ddof = 1
    covariance, both x ``periods``).

    Parameters
    ----------
    returns : DataFrame, shape (T, n)
        Daily simple returns (fractions), one column per ticker, dates as the index.
    shrinkage : {None, "ledoit-wolf"}
        None: the sample covariance; ``"ledoit-wolf"``: shrunk (named in ``method``).
    periods : int
        Periods per year (252 for daily equity series).

    Returns
    -------
    Estimates
        ``mu`` (n,) and ``cov`` (n, n) annualised, the returns as ``scenarios`` (T, n).
    """
    x = returns.to_numpy(dtype=np.float64)
    if len(x) < 2:
        raise OptimizationError("too little history to estimate a covariance")
    mu = x.mean(axis=0) * periods
    if shrinkage is None:
        cov = np.cov(x, rowvar=False, ddof=1) * periods
        method = (
            f"sample mean and covariance (ddof=1) of {period_words(periods)[0]} returns, x{periods}"
        )
    elif shrinkage == "ledoit-wolf":
        c, delta = ledoit_wolf(x)
        cov = c * periods
        method = (
            f"sample mean x{periods}; Ledoit-Wolf covariance (shrinkage {delta:.3f} "
            f"towards a scaled identity), x{periods}"
        )
    else:
        raise OptimizationError(f"unknown shrinkage {shrinkage!r}: expected ledoit-wolf")
    return Estimates(
        tuple(returns.columns),
        mu,
        np.atleast_2d(cov),
        x,
        method,
        periods,
        returns.index[0],
        returns.index[-1],
    )


# -- constraints -------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)  # array fields: identity, not element-wise, equality
class Constraints:
    """The constraint set on weights ``w`` (n,), fractions of NAV. Long/short books set
    ``long_only=False`` with a negative ``min_weight`` (the floor stays 0 otherwise) and may
    bound gross (sum |w|) and net (sum w) exposure; otherwise weights sum to 1.

    Attributes
    ----------
    long_only : bool
        No weight below 0 (whatever ``min_weight`` says).
    min_weight, max_weight : float
        Per-asset bounds, fractions of NAV.
    net_min, net_max : float
        Bounds on sum w.
    gross_max : float or None
        Bound on sum |w| (long/short books only).
    groups : tuple of Group
        Bounds on the summed weights of groups of tickers.
    vol_cap : float or None
        Annualised volatility cap, ``sqrt(w' cov w)``.
    current : ndarray, shape (n,), or None
        Current weights, for turnover and costs.
    turnover_max : float or None
        Bound on sum |w - current|.
    cost_rate : float
        Cost per unit of turnover, charged to expected return (fraction).
    betas : ndarray, shape (n,), or None
        Each asset's beta to the benchmark.
    beta_min, beta_max : float or None
        Bounds on the portfolio beta ``betas @ w``.
    benchmark_weights : ndarray, shape (n,), or None
        The portfolio tracking error is measured against.
    te_cap : float or None
        Annualised tracking-error cap, ``sqrt((w - b)' cov (w - b))``.
    """

    long_only: bool = True
    min_weight: float = 0.0
    max_weight: float = 1.0
    net_min: float = 1.0
    net_max: float = 1.0
    gross_max: float | None = None
    groups: tuple[Group, ...] = ()
    vol_cap: float | None = None  # annualised
    current: np.ndarray | None = None  # current weights, for turnover and costs
    turnover_max: float | None = None  # sum |w - current|
    cost_rate: float = 0.0  # cost per unit of turnover, charged to expected return
    betas: np.ndarray | None = None  # each asset's beta to the benchmark
    beta_min: float | None = None
    beta_max: float | None = None
    benchmark_weights: np.ndarray | None = None  # for the tracking-error cap
    te_cap: float | None = None  # annualised tracking error

    def lower(self) -> float:
        """The per-asset floor in force: ``min_weight``, at least 0 when long-only."""
        return max(self.min_weight, 0.0) if self.long_only else self.min_weight


@dataclass(frozen=True)
class Named:
    """A constraint with a plain-words name, the slack that shows whether it binds, and which
    user parameter it enforces (``kind``: net_max, net_min, min_weight, max_weight, gross,
    group_max, group_min, vol, turnover, beta_max, beta_min, te, or other), its ``bound`` and,
    for a group, its index in ``Constraints.groups`` — so diagnosis never parses names.
    ``at`` gives the slack at numeric weights (n,) without evaluating cvxpy expressions; set by
    :func:`build` for a numeric ``scale``.
    """

    name: str
    constraint: cp.Constraint
    slack: cp.Expression  # >= 0 when satisfied; 0 when binding
    kind: str = "other"
    bound: float = float("nan")
    group: int | None = None
    at: Callable[[np.ndarray], Any] | None = None  # the slack at numeric weights


def build(
    w: cp.Expression, c: Constraints, est: Estimates, scale: cp.Expression | float = 1.0
) -> list[Named]:
    """Named constraints of ``c`` on the weights.

    Parameters
    ----------
    w : cvxpy Expression, shape (n,)
        The weights, fractions of NAV (``y = kappa w`` for maximum Sharpe).
    c : Constraints
        The constraint set.
    est : Estimates
        The universe and its covariance (for the volatility and tracking-error caps).
    scale : cvxpy Expression or float
        1 for ordinary problems; ``kappa`` for the homogenised one (every bound scaled by it).

    Returns
    -------
    list of Named
        One per constraint, each with its name, slack, parameter kind and bound (and, for a
        numeric ``scale``, the slack as a function of numeric weights).
    """
    out: list[Named] = []
    numeric = isinstance(scale, int | float)

    def add(
        kind: str,
        bound: float,
        name: str,
        lhs: cp.Expression,
        rhs,
        lhs_at: Callable[[np.ndarray], Any],
        group: int | None = None,
    ) -> None:  # lhs <= rhs; lhs_at: lhs at numeric weights
        at = (lambda x: rhs - lhs_at(x)) if numeric else None
        out.append(Named(name, lhs <= rhs, rhs - lhs, kind, float(bound), group, at))

    n = est.n
    index = {t: i for i, t in enumerate(est.tickers)}
    for asked, needs, what in (
        (c.turnover_max, c.current, "a turnover limit needs current weights"),
        (
            c.beta_min if c.beta_min is not None else c.beta_max,
            c.betas,
            "a beta band needs the assets' betas",
        ),
        (c.te_cap, c.benchmark_weights, "a tracking-error cap needs benchmark weights"),
    ):
        if asked is not None and needs is None:
            raise OptimizationError(what)
    add(
        "net_max",
        c.net_max,
        "budget: weights sum to at most the net maximum",
        cp.sum(w),
        c.net_max * scale,
        np.sum,
    )
    add(
        "net_min",
        c.net_min,
        "budget: weights sum to at least the net minimum",
        -cp.sum(w),
        -c.net_min * scale,
        lambda x: -np.sum(x),
    )
    lo = c.lower()
    if c.long_only or np.isfinite(lo):
        out.append(
            Named(
                f"minimum weight {lo:g}",
                w >= lo * scale,
                w - lo * scale,
                "min_weight",
                float(lo),
                at=(lambda x: x - lo * scale) if numeric else None,
            )
        )
    out.append(
        Named(
            f"maximum weight {c.max_weight:g}",
            w <= c.max_weight * scale,
            c.max_weight * scale - w,
            "max_weight",
            float(c.max_weight),
            at=(lambda x: c.max_weight * scale - x) if numeric else None,
        )
    )
    if c.gross_max is not None and not c.long_only:
        add(
            "gross",
            c.gross_max,
            f"gross exposure at most {c.gross_max:g}",
            cp.norm1(w),
            c.gross_max * scale,
            lambda x: np.abs(x).sum(),
        )
    for i, g in enumerate(c.groups):
        missing = [t for t in g.tickers if t not in index]
        if missing:  # never drop a user's group limit silently
            raise OptimizationError(
                f"group {g.name!r} (--group or optimizer.groups): {', '.join(missing)} not in "
                "the universe "
                f"({', '.join(est.tickers)}): expected tickers of data.universe or --tickers"
            )
        members = [index[t] for t in g.tickers]
        s = cp.sum(w[members])
        add(
            "group_max",
            g.max,
            f"group {g.name} at most {g.max:g}",
            s,
            g.max * scale,
            _sum_of(members, 1.0),
            i,
        )
        add(
            "group_min",
            g.min,
            f"group {g.name} at least {g.min:g}",
            -s,
            -g.min * scale,
            _sum_of(members, -1.0),
            i,
        )
    if c.vol_cap is not None or c.te_cap is not None:  # only these need the risk factor
        f = est.factor()  # computed once per Estimates
    if c.vol_cap is not None:
        add(
            "vol",
            c.vol_cap,
            f"volatility at most {c.vol_cap:g}",
            cp.norm(f @ w, 2),
            c.vol_cap * scale,
            lambda x: np.linalg.norm(f @ x),
        )
    if c.turnover_max is not None and c.current is not None:
        current = c.current
        add(
            "turnover",
            c.turnover_max,
            f"turnover at most {c.turnover_max:g}",
            cp.norm1(w - current * scale),
            c.turnover_max * scale,
            lambda x: np.abs(x - current * scale).sum(),
        )
    if c.betas is not None:
        betas = c.betas
        b = betas @ w
        if c.beta_max is not None:
            add(
                "beta_max",
                c.beta_max,
                f"beta at most {c.beta_max:g}",
                b,
                c.beta_max * scale,
                lambda x: betas @ x,
            )
        if c.beta_min is not None:
            add(
                "beta_min",
                c.beta_min,
                f"beta at least {c.beta_min:g}",
                -b,
                -c.beta_min * scale,
                lambda x: -(betas @ x),
            )
    if c.te_cap is not None and c.benchmark_weights is not None:
        bench = c.benchmark_weights
        add(
            "te",
            c.te_cap,
            f"tracking error at most {c.te_cap:g}",
            cp.norm(f @ (w - bench * scale), 2),
            c.te_cap * scale,
            lambda x: np.linalg.norm(f @ (x - bench * scale)),
        )
    assert n == w.shape[0]
    return out


def net_return(
    w: cp.Expression, c: Constraints, est: Estimates, scale: cp.Expression | float = 1.0
) -> cp.Expression:
    """Expected return less transaction costs on the turnover from current weights.

    Parameters
    ----------
    w : cvxpy Expression, shape (n,)
        The weights (``y = kappa w`` with ``scale = kappa`` for maximum Sharpe).
    c, est : Constraints, Estimates
        ``c.cost_rate`` and ``c.current``; ``est.mu`` (annualised).
    scale : cvxpy Expression or float
        As for :func:`build`.

    Returns
    -------
    cvxpy Expression, scalar
        ``mu'w - cost_rate * sum |w - current|``, annualised fraction.
    """
    if c.cost_rate and c.current is not None:
        return est.mu @ w - c.cost_rate * cp.norm1(w - c.current * scale)
    return est.mu @ w


def solve(problem: cp.Problem) -> tuple[str, tuple[str, ...]]:
    """Solve with the first solver of :data:`SOLVERS` that succeeds.

    Returns
    -------
    solver : str
        The solver that solved it; "" when none did (``problem.status`` says why).
    tried : tuple of str
        The solvers tried, in order.
    """
    tried = []
    for name in _installed():
        if name not in SOLVERS:
            continue
        tried.append(name)
        try:
            problem.solve(solver=name)
        except cp.error.SolverError:
            continue
        if problem.status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
            return name, tuple(tried)
        if problem.status in (cp.INFEASIBLE, cp.UNBOUNDED):
            break  # a property of the problem, not of the solver; "inaccurate": try the next
    return "", tuple(tried)


def solved(x: cp.Expression) -> np.ndarray:
    """The value of ``x`` (a variable, parameter or expression) once its problem is solved.

    Returns
    -------
    ndarray
        ``x``'s shape (0-d for a scalar), float64.

    Raises
    ------
    OptimizationError
        ``x`` has no value: its problem holds no solution.
    """
    if x.value is None:
        raise OptimizationError(f"{x} has no value: its problem holds no solution")
    return np.asarray(x.value, dtype=np.float64)


def _sum_of(members: list[int], sign: float) -> Callable[[np.ndarray], float]:
    return lambda x: sign * float(x[members].sum())


def _no_at(nc: Named) -> NoReturn:
    raise ValueError(f"{nc.name}: no numeric slack (built with a cvxpy scale)")


@lru_cache(maxsize=1)
def _installed() -> tuple[str, ...]:
    have = set(cp.installed_solvers())
    return tuple(s for s in SOLVERS if s in have)


# -- results -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Portfolio:
    """A solved portfolio and its figures (CONVENTIONS): annualised return and volatility,
    Sharpe = (mu'w - rf sum(w)) / vol with rf = 252 x the daily rate (so it equals CONVENTIONS'
    mean(R - rf_d) / std x sqrt(252)) and any uninvested part in cash earning rf, gross of
    costs; 1-day historical VaR/CVaR at 95 % on the scenarios, risk contributions as shares of
    variance, and the constraints that bind.

    Attributes
    ----------
    objective : str
        What was optimised (``"max-sharpe"``, ``"frontier"``, ...).
    weights : dict of str to float
        Ticker to weight, fractions of NAV.
    expected_return, volatility : float
        Annualised, fractions.
    sharpe : float
        Annualised Sharpe ratio (NaN for a riskless portfolio).
    var_95, cvar_95 : float
        1-day historical VaR and CVaR at 95 %, losses as positive fractions of NAV.
    risk_contributions : dict of str to float
        Each asset's share of the variance, ``w_i (cov w)_i / w' cov w`` (summing to 1).
    binding : tuple of str
        The constraints that bind, in words.
    solver : str
        The solver that solved it; ``tried`` the solvers tried, in order.
    estimates : str
        How the estimates were made.
    extra : dict
        The objective's own figures (kappa, CVaR, growth, turnover and costs, ...).
    """

    objective: str
    weights: dict[str, float]
    expected_return: float
    volatility: float
    sharpe: float
    var_95: float
    cvar_95: float
    risk_contributions: dict[str, float]
    binding: tuple[str, ...]
    solver: str
    tried: tuple[str, ...]
    estimates: str
    extra: dict = field(default_factory=dict)


def describe(
    objective: str,
    w: np.ndarray,
    est: Estimates,
    rf: float,
    named: list[Named],
    solver: str,
    tried: tuple[str, ...],
    extra: dict | None = None,
    slacks_at: np.ndarray | None = None,
) -> Portfolio:
    """The figures of the weights ``w`` on ``est`` (see :class:`Portfolio`).

    Parameters
    ----------
    objective : str
        The name reported.
    w : ndarray, shape (n,)
        Weights, fractions of NAV.
    est : Estimates
        ``mu``, ``cov`` (annualised) and the daily ``scenarios`` (T, n).
    rf : float
        Annual risk-free rate as ``periods`` x the daily rate (CONVENTIONS).
    named : list of Named
        Constraints whose slacks, evaluated at ``w``, give the binding ones.
    solver, tried : str, tuple of str
        The solver that solved it and those tried.
    extra : dict, optional
        The objective's own figures.
    slacks_at : ndarray, shape (n,), optional
        Weights at which the slacks are evaluated numerically (each ``Named.at``, so every
        one must have it); by default the cvxpy slacks at their variables' current values.

    Returns
    -------
    Portfolio
    """
    w = np.asarray(w, dtype=np.float64)
    ret = float(est.mu @ w)
    var = float(w @ est.cov @ w)
    vol = float(np.sqrt(max(var, 0.0)))
    contrib = w * (est.cov @ w) / var if var > 0 else np.full(est.n, np.nan)
    daily = est.scenarios @ w
    tail = historical_var(daily, 0.95)
    if slacks_at is not None:
        x = np.asarray(slacks_at, dtype=np.float64)
        slacks = [nc.at(x) if nc.at is not None else _no_at(nc) for nc in named]
    else:
        slacks = [nc.slack.value for nc in named]
    binding = tuple(
        nc.name
        for nc, value in zip(named, slacks, strict=True)
        if value is not None and float(np.min(np.atleast_1d(value))) <= BINDING_TOL
    )
    # what is not invested earns rf: excess = mu'w - rf sum(w) (rf annual, arithmetic x252)
    excess = ret - rf * float(w.sum())
    return Portfolio(
        objective,
        dict(zip(est.tickers, w.tolist(), strict=True)),
        ret,
        vol,
        excess / vol if vol > 0 else float("nan"),
        tail.var,
        tail.cvar,
        dict(zip(est.tickers, contrib.tolist(), strict=True)),
        binding,
        solver,
        tried,
        est.method,
        extra or {},
    )

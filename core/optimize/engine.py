"""One entry point for every optimiser: estimates from the data, constraints from the request,
the objective dispatched, the result reported the same way (CLI, desk, reports).

The request is :class:`~hedgedesk.core.optimize.request.OptimizeRequest` (built from the config
and any overrides by its ``from_config``, checked when made); the result an
:class:`OptimizeResult`, frozen, with typed parts (a portfolio, frontier points or a hedge
overlay).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from hedgedesk.core.beta import ols_beta
from hedgedesk.core.data.market import MarketData
from hedgedesk.core.errors import DataError
from hedgedesk.core.metrics import daily_rf
from hedgedesk.core.optimize.problem import (
    Constraints,
    Estimates,
    OptimizationError,
    Portfolio,
    describe,
    estimate,
)
from hedgedesk.core.optimize.request import OptimizeRequest

if TYPE_CHECKING:
    from hedgedesk.core.config import DeskConfig
    from hedgedesk.core.optimize.hedge_overlay import OverlayResult
    from hedgedesk.core.optimize.mean_variance import FrontierPoint


@dataclass(frozen=True)
class OptimizeResult:
    """What one :func:`run` found. Exactly one of ``portfolio``, ``frontier`` and ``overlay``
    is set.

    Attributes
    ----------
    estimates_method : str
        How the returns were estimated (or the overlay's P&L history was made).
    first, last : datetime.date
        The estimation window's first and last return dates.
    days : int
        Returns in the window, one per period (the overlay: days of book P&L).
    periods : int
        Periods per year the figures were annualised with (252 daily, 52 weekly, 12 monthly).
    portfolio : Portfolio or None
        A single-portfolio objective's result (weights fractions of NAV, figures annualised).
    frontier : tuple of FrontierPoint or None
        The ``frontier`` objective: one point per target return, a failed point with its
        reason.
    overlay : OverlayResult or None
        ``hedge-overlay``: leg sizes and the book's figures before and after.
    """

    estimates_method: str
    first: dt.date
    last: dt.date
    days: int
    periods: int = 252
    portfolio: Portfolio | None = None
    frontier: tuple[FrontierPoint, ...] | None = None
    overlay: OverlayResult | None = None


def _constraints(
    req: OptimizeRequest, est: Estimates, bench_returns: np.ndarray | None
) -> Constraints:
    """The request's constraints on the estimates' universe; ``bench_returns`` (T,): the
    benchmark's daily returns on the same days, present when the request has a beta band.
    """
    current = np.array([req.current.get(t, 0.0) for t in est.tickers]) if req.current else None
    betas = None
    if req.beta_band is not None and bench_returns is not None:
        betas = np.array([ols_beta(est.scenarios[:, i], bench_returns).beta for i in range(est.n)])
    te_weights = None
    if req.te_cap is not None:  # the request holds the benchmark in its universe, or current
        if req.benchmark in est.tickers:
            te_weights = np.array([1.0 if t == req.benchmark else 0.0 for t in est.tickers])
        else:
            te_weights = current
    return Constraints(
        long_only=req.long_only,
        min_weight=req.min_weight,
        max_weight=req.max_weight,
        net_min=req.net[0],
        net_max=req.net[1],
        gross_max=req.gross_max,
        groups=req.groups,
        vol_cap=req.vol_cap,
        current=current,
        turnover_max=req.turnover_max,
        cost_rate=req.cost_rate,
        betas=betas,
        beta_min=req.beta_band[0] if req.beta_band else None,
        beta_max=req.beta_band[1] if req.beta_band else None,
        benchmark_weights=te_weights,
        te_cap=req.te_cap,
    )


def run(req: OptimizeRequest, market: MarketData, cfg: DeskConfig | None = None) -> OptimizeResult:
    """Solve ``req`` on ``market``'s daily returns over ``req.start``..``req.end``.

    Parameters
    ----------
    req : OptimizeRequest
        What to solve (checked when it was made).
    market : MarketData
        Prices of the universe (and the benchmark, for a beta band).
    cfg : DeskConfig, optional
        The desk config; needed by ``hedge-overlay`` (its book and hedge legs).

    Returns
    -------
    OptimizeResult
        Weights are fractions of NAV; returns and volatilities annualised (x252 for daily
        equity series, CONVENTIONS); VaR/CVaR 1-day historical at 95 %, fractions of NAV.

    Raises
    ------
    OptimizationError
        No solution: the reasons, the smallest relaxation and the solvers tried.
    DataError
        Too few assets, a ticker listed twice, too little history, hedge-overlay without a
        config.
    """
    if req.objective == "hedge-overlay":
        return _hedge_overlay(cfg, market, req)
    if len(req.tickers) < 2:
        raise DataError(
            "tickers",
            "an optimisation needs at least two assets: expected two or more in --tickers "
            "or data.universe",
        )
    twice = sorted({t for t in req.tickers if req.tickers.count(t) > 1})
    if twice:
        raise DataError("tickers", f"listed twice: {', '.join(twice)}")
    bench = req.benchmark if req.beta_band is not None else None
    extra = [bench] if bench is not None and bench not in req.tickers else []
    names = [*req.tickers, *extra]
    returns = market.returns(names, req.start, req.end, min_returns=max(len(names) + 1, 20))
    est = estimate(
        returns[list(req.tickers)], req.shrinkage, market.periods_per_year(list(req.tickers))
    )
    bench_returns = returns[bench].to_numpy() if bench is not None else None
    if req.views:
        from hedgedesk.core.optimize.black_litterman import posterior_estimates

        prior = None
        if req.prior:
            given = dict(req.prior)
            prior = np.array([given.get(t, 0.0) for t in est.tickers])
            if prior.sum() <= 0:
                raise DataError("optimizer.prior", "the prior weights of the universe sum to 0")
            prior = prior / prior.sum()
        est = posterior_estimates(est, req.views, prior=prior, tau=req.tau, rf=req.rf)
    c = _constraints(req, est, bench_returns)
    rf = est.periods * daily_rf(req.rf, est.periods)  # CONVENTIONS: rf_d, annualised x252

    window = (returns.index[0].date(), returns.index[-1].date(), len(returns))
    if req.objective == "frontier":
        from hedgedesk.core.optimize.mean_variance import MeanVariance

        points = tuple(MeanVariance(est, c, rf=rf).frontier(req.points))
        return OptimizeResult(est.method, *window, est.periods, frontier=points)
    return OptimizeResult(
        est.method, *window, est.periods, portfolio=_SOLVERS[req.objective](req, est, c, rf)
    )


def _mean_variance(req: OptimizeRequest, est: Estimates, c: Constraints, rf: float) -> Portfolio:
    from hedgedesk.core.optimize.mean_variance import MeanVariance

    mv = MeanVariance(est, c, rf=rf)
    if req.objective == "utility":
        return mv.utility(req.risk_aversion)
    solve: Callable[[], Portfolio] = {
        "min-variance": mv.min_variance,
        "max-sharpe": mv.max_sharpe,
        "max-return": mv.max_return,
    }[req.objective]
    return solve()


def _mean_cvar(req: OptimizeRequest, est: Estimates, c: Constraints, rf: float) -> Portfolio:
    from hedgedesk.core.optimize.cvar import min_cvar

    return min_cvar(est, c, confidence=req.confidence, target_return=req.target_return, rf=rf)


def _kelly(req: OptimizeRequest, est: Estimates, c: Constraints, rf: float) -> Portfolio:
    from hedgedesk.core.optimize.kelly import kelly_portfolio

    return kelly_portfolio(est, c, fraction=req.kelly_fraction, rf=rf)


def _risk_parity(req: OptimizeRequest, est: Estimates, c: Constraints, rf: float) -> Portfolio:
    """Risk budgeting (convex log-barrier form, hedgedesk.core.book.sizing): long-only, fully
    invested. Its weights are set by the budgets alone; the other constraints are not applied,
    and the result lists the ones it breaks instead of dropping them silently.
    """
    from hedgedesk.core.book.sizing import risk_parity

    budgets = dict(req.budgets)
    b = np.array([budgets.get(t, 1.0) for t in est.tickers]) if budgets else None
    rp = risk_parity(cov=est.cov, budgets=b)
    if not rp.converged:
        raise OptimizationError("risk parity has no solution for this covariance")
    w = rp.weights
    broken = []
    if w.max() > req.max_weight + 1e-9:
        broken.append(f"maximum weight {req.max_weight:g} (largest {w.max():.4f})")
    if w.min() < req.min_weight - 1e-9:
        broken.append(f"minimum weight {req.min_weight:g} (smallest {w.min():.4f})")
    index = {t: i for i, t in enumerate(est.tickers)}
    for g in req.groups:
        s = sum(w[index[t]] for t in g.tickers if t in index)
        if not g.min - 1e-9 <= s <= g.max + 1e-9:
            broken.append(f"group {g.name} [{g.min:g}, {g.max:g}] (has {s:.4f})")
    vol = float(np.sqrt(w @ est.cov @ w))
    if req.vol_cap is not None and vol > req.vol_cap + 1e-9:
        broken.append(f"volatility cap {req.vol_cap:g} (has {vol:.4f})")
    for name, value in (
        ("beta band", req.beta_band),
        ("turnover limit", req.turnover_max),
        ("tracking-error cap", req.te_cap),
        ("gross limit", req.gross_max),
    ):
        if value is not None:
            broken.append(f"{name} (not applied by risk parity)")
    return describe(
        "risk-parity",
        w,
        est,
        rf,
        [],
        "scipy (log-barrier)",
        (),
        {
            "budgets": dict(zip(est.tickers, rp.budgets.tolist(), strict=True)),
            "constraints_not_met": broken,
        },
    )


# Each single-portfolio objective's solver: (request, estimates, constraints, annual rf).
_SOLVERS: dict[str, Callable[[OptimizeRequest, Estimates, Constraints, float], Portfolio]] = {
    "min-variance": _mean_variance,
    "max-sharpe": _mean_variance,
    "max-return": _mean_variance,
    "utility": _mean_variance,
    "mean-cvar": _mean_cvar,
    "kelly": _kelly,
    "risk-parity": _risk_parity,
}


def _hedge_overlay(
    cfg: DeskConfig | None, market: MarketData, req: OptimizeRequest
) -> OptimizeResult:
    """Sizes of the config's hedge legs (and its hedge future) over the config's data range."""
    if cfg is None:
        raise DataError("objective hedge-overlay", "needs a desk config (its book and legs)")
    from hedgedesk.core.book.valuation import market_state
    from hedgedesk.core.optimize.hedge_overlay import default_candidates, hedge_overlay

    state = market_state(cfg, market)
    res = hedge_overlay(
        cfg,
        state,
        default_candidates(cfg, state, free_signs=req.overlay_free_signs),
        objective=req.overlay_objective,
        beta_band=req.beta_band,
        cost_budget=req.cost_budget,
        confidence=req.confidence,
    )
    return OptimizeResult(
        "book P&L history under today's positions (full revaluation)",
        state.returns.index[0].date(),
        state.returns.index[-1].date(),
        len(state.returns),
        overlay=res,
    )

"""One entry point for every optimiser: estimates from the data, constraints from the request,
the objective dispatched, the result reported the same way (CLI, desk, reports).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
from hedgedesk.core.beta import ols_beta
from hedgedesk.core.config import DeskConfig, View
from hedgedesk.core.data.market import MarketData
from hedgedesk.core.errors import DataError
from hedgedesk.core.metrics import daily_rf
from hedgedesk.core.optimize.problem import (
    Constraints,
    Estimates,
    Group,
    OptimizationError,
    Portfolio,
    describe,
    estimate,
)


@dataclass(frozen=True)
class OptimizeRequest:
    tickers: tuple[str, ...]
    objective: str
    long_only: bool = True
    min_weight: float = 0.0
    max_weight: float = 1.0
    groups: tuple[Group, ...] = ()
    vol_cap: float | None = None
    net: tuple[float, float] = (1.0, 1.0)
    gross_max: float | None = None
    turnover_max: float | None = None
    cost_rate: float = 0.0
    beta_band: tuple[float, float] | None = None
    te_cap: float | None = None
    benchmark: str | None = None
    rf: float = 0.0
    points: int = 20
    shrinkage: str | None = None
    risk_aversion: float = 4.0
    confidence: float = 0.95
    kelly_fraction: float = 0.5
    budgets: tuple[tuple[str, float], ...] = ()
    views: tuple[View, ...] = ()
    tau: float = 0.05
    prior: tuple[tuple[str, float], ...] = ()  # Black-Litterman prior weights; equal if ()
    target_return: float | None = None  # mean-CVaR: minimise CVaR at this expected return
    overlay_objective: str = "variance"  # hedge overlay: variance | cvar
    cost_budget: float | None = None  # hedge overlay: money
    start: dt.date | None = None
    end: dt.date | None = None
    current: dict[str, float] = field(default_factory=dict)  # current weights (turnover, TE)


@dataclass(frozen=True)
class OptimizeResult:
    estimates_method: str
    first: dt.date
    last: dt.date
    days: int
    portfolio: Portfolio | None = None
    frontier: list | None = None
    overlay: dict | None = None


def book_weights(cfg: DeskConfig, market: MarketData) -> dict[str, float]:
    """The config book's holdings as weights of their total value at the last common close."""
    tickers = [h.ticker for h in cfg.book.holdings]
    if not tickers:
        return {}
    last = market.aligned_prices(tickers, cfg.data.start, cfg.data.end).iloc[-1]
    values = {h.ticker: h.quantity * float(last[h.ticker]) for h in cfg.book.holdings}
    total = sum(values.values())
    return {t: v / total for t, v in values.items()} if total else {}


def _constraints(
    req: OptimizeRequest, est: Estimates, bench_returns: np.ndarray | None
) -> Constraints:
    current = np.array([req.current.get(t, 0.0) for t in est.tickers]) if req.current else None
    betas = None
    if req.beta_band is not None:
        if bench_returns is None:
            raise DataError("--beta-band", "a beta band needs a benchmark")
        betas = np.array([ols_beta(est.scenarios[:, i], bench_returns).beta for i in range(est.n)])
    te_weights = None
    if req.te_cap is not None:
        if req.benchmark in est.tickers:
            te_weights = np.array([1.0 if t == req.benchmark else 0.0 for t in est.tickers])
        elif current is not None:
            te_weights = current
        else:
            raise DataError(
                "--te-cap",
                "tracking error needs the benchmark in the universe "
                "or current weights from the config book",
            )
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
    if req.objective == "hedge-overlay":
        return _hedge_overlay(cfg, market, req)
    if len(req.tickers) < 2:
        raise DataError("tickers", "an optimisation needs at least two assets")
    twice = sorted({t for t in req.tickers if req.tickers.count(t) > 1})
    if twice:
        raise DataError("tickers", f"listed twice: {', '.join(twice)}")
    needs_bench = req.beta_band is not None and req.benchmark not in (None, *req.tickers)
    names = [*req.tickers, req.benchmark] if needs_bench else list(req.tickers)
    returns = market.returns(names, req.start, req.end, min_returns=max(len(names) + 1, 20))
    est = estimate(
        returns[list(req.tickers)], req.shrinkage, market.periods_per_year(list(req.tickers))
    )
    bench = (
        returns[req.benchmark].to_numpy() if req.beta_band is not None and req.benchmark else None
    )
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
    c = _constraints(req, est, bench)
    meta = dict(
        estimates_method=est.method,
        first=returns.index[0].date(),
        last=returns.index[-1].date(),
        days=len(returns),
    )
    rf = est.periods * daily_rf(req.rf, est.periods)  # CONVENTIONS: rf_d, annualised x252
    obj = req.objective
    if obj in ("min-variance", "max-sharpe", "max-return", "utility", "frontier"):
        from hedgedesk.core.optimize.mean_variance import MeanVariance

        mv = MeanVariance(est, c, rf=rf)
        if obj == "frontier":
            return OptimizeResult(**meta, frontier=mv.frontier(req.points))
        solved = {
            "min-variance": mv.min_variance,
            "max-sharpe": mv.max_sharpe,
            "max-return": mv.max_return,
            "utility": lambda: mv.utility(req.risk_aversion),
        }[obj]()
        return OptimizeResult(**meta, portfolio=solved)
    if obj == "mean-cvar":
        from hedgedesk.core.optimize.cvar import min_cvar

        return OptimizeResult(
            **meta,
            portfolio=min_cvar(
                est, c, confidence=req.confidence, target_return=req.target_return, rf=rf
            ),
        )
    if obj == "kelly":
        from hedgedesk.core.optimize.kelly import kelly_portfolio

        return OptimizeResult(
            **meta, portfolio=kelly_portfolio(est, c, fraction=req.kelly_fraction, rf=rf)
        )
    if obj == "risk-parity":
        return OptimizeResult(**meta, portfolio=_risk_parity(req, est, rf))
    raise DataError("--objective", f"unknown objective {obj!r}")


def _risk_parity(req: OptimizeRequest, est: Estimates, rf: float) -> Portfolio:
    """Risk budgeting (convex log-barrier form, hedgedesk.core.book.sizing): long-only, fully
    invested. Its
    weights are set by the budgets alone; the other constraints are not applied, and the
    result lists the ones it breaks instead of dropping them silently.
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


def _hedge_overlay(
    cfg: DeskConfig | None, market: MarketData, req: OptimizeRequest
) -> OptimizeResult:
    """Sizes of the config's hedge legs (and its hedge future) over the config's data range."""
    if cfg is None:
        raise DataError("--objective hedge-overlay", "needs a desk config (its book and legs)")
    from hedgedesk.core.book.valuation import market_state
    from hedgedesk.core.optimize.hedge_overlay import default_candidates, hedge_overlay

    state = market_state(cfg, market)
    res = hedge_overlay(
        cfg,
        state,
        default_candidates(cfg, state),
        objective=req.overlay_objective,
        beta_band=req.beta_band,
        cost_budget=req.cost_budget,
        confidence=req.confidence,
    )
    overlay = {
        "sizes": res.sizes,
        "rounded": res.rounded,
        "current": res.current,
        "before": res.before,
        "after": res.after,
        "after_rounded": res.after_rounded,
        "cost": res.cost,
        "cost_rounded": res.cost_rounded,
        "objective": res.objective,
        "beta_band": list(res.beta_band),
        "binding": list(res.binding),
        "notes": list(res.notes),
        "solver": res.solver,
        "solvers_tried": list(res.tried),
    }
    return OptimizeResult(
        "book P&L history under today's positions (full revaluation)",
        state.returns.index[0].date(),
        state.returns.index[-1].date(),
        len(state.returns),
        overlay=overlay,
    )

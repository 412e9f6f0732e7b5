"""The optimisation's report, after the portfolio study's eight outputs: the efficient frontier
with the chosen portfolio, the asset-class allocation against its limits, the allocation by
class, the top holdings pie, the top holdings columns, the weights, a risk dashboard and the
portfolio's growth over the estimation window (and the PDF they are written into).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from hedgedesk.core.config import DeskConfig
from hedgedesk.core.data.calendar import period_words
from hedgedesk.core.data.market import MarketData
from hedgedesk.core.errors import HedgedeskError
from hedgedesk.core.metrics import equity_from_returns, historical_var, max_drawdown
from hedgedesk.core.optimize.engine import OptimizeRequest, run
from hedgedesk.core.optimize.problem import Portfolio, estimate
from hedgedesk.core.report import charts
from hedgedesk.core.report.document import Chart, Col, Section, Table, Text

HELD = 1e-4  # a weight below this is a solver's zero, not a position
FRONTIER_SOLVED = ("min-variance", "max-sharpe", "max-return", "utility", "frontier")


def _describe(req: OptimizeRequest) -> str:
    parts = [
        f"objective {req.objective}",
        "long only" if req.long_only else "long/short",
        f"weights in [{req.min_weight:g}, {req.max_weight:g}]",
        f"sum of weights in [{req.net[0]:g}, {req.net[1]:g}]",
    ]
    for name, value in (
        ("volatility cap", req.vol_cap),
        ("gross limit", req.gross_max),
        ("turnover limit", req.turnover_max),
        ("tracking-error cap", req.te_cap),
        ("beta band", req.beta_band),
    ):
        if value is not None:
            parts.append(f"{name} {value}")
    if req.cost_rate:
        parts.append(f"cost {req.cost_rate:g} per unit of turnover")
    if req.views:
        parts.append(f"{len(req.views)} Black-Litterman views")
    return "; ".join(parts)


def _weights(p: Portfolio, current: dict[str, float]) -> Table:
    rows = [
        [t, w, current.get(t, 0.0), p.risk_contributions.get(t)]
        for t, w in sorted(p.weights.items(), key=lambda kv: -abs(kv[1]))
    ]
    return Table(
        "weights",
        [Col("ticker"), Col("weight", "pct"), Col("current", "pct"), Col("risk share", "pct")],
        rows,
        caption="Weights, largest first (top holdings)",
        note="current: the config book's holdings as weights of their value; risk "
        "share: w_i (Sigma w)_i / w'Sigma w",
    )


def _classes(req: OptimizeRequest, p: Portfolio) -> tuple[Table, dict, dict] | None:
    if not req.groups:
        return None
    alloc = {g.name: sum(p.weights.get(t, 0.0) for t in g.tickers) for g in req.groups}
    limits = {g.name: (g.min, g.max) for g in req.groups}
    rows = [
        [
            g.name,
            alloc[g.name],
            g.min,
            g.max,
            "at minimum"
            if abs(alloc[g.name] - g.min) <= 1e-6
            else "at maximum"
            if abs(alloc[g.name] - g.max) <= 1e-6
            else "inside",
            ", ".join(g.tickers),
        ]
        for g in req.groups
    ]
    table = Table(
        "classes",
        [
            Col("class"),
            Col("allocation", "pct"),
            Col("minimum", "pct"),
            Col("maximum", "pct"),
            Col("where"),
            Col("members"),
        ],
        rows,
        caption="Asset-class allocation against its limits (config [[optimizer.groups]])",
    )
    return table, alloc, limits


def _by_class(req: OptimizeRequest, p: Portfolio) -> dict[str, float]:
    """Gross weight |w| by class, each asset in the first group that lists it."""
    home: dict[str, str] = {}
    for g in req.groups:
        for t in g.tickers:
            home.setdefault(t, g.name)
    out: dict[str, float] = {}
    for t, w in p.weights.items():
        if abs(w) >= HELD:
            key = home.get(t, "no class")
            out[key] = out.get(key, 0.0) + abs(w)
    return out


def _top_share(weights: dict[str, float]) -> float:
    """The share of the gross allocation the TOP_SLICES largest positions hold."""
    sizes = sorted((abs(w) for w in weights.values()), reverse=True)
    gross = sum(sizes)
    return sum(sizes[: charts.TOP_SLICES]) / gross if gross else 0.0


def optimize_section(
    req: OptimizeRequest,
    market: MarketData,
    cfg: DeskConfig | None = None,
    nav: float | None = None,
) -> Section:
    """The optimisation's section: the request solved, its portfolio, frontier, allocation
    and risk dashboard; an infeasible request gives a section that says why.

    Parameters
    ----------
    req : OptimizeRequest
        The optimisation to solve.
    market : MarketData
        Prices of the request's universe (and its benchmark).
    cfg : DeskConfig, optional
        The desk config, needed by ``hedge-overlay`` (its book and hedge legs).
    nav : float, optional
        Capital in USD the growth chart starts from (None or 0: 1).

    Returns
    -------
    Section
        Keyed ``"optimize"``, with its headline figures for report.json.
    """
    s = Section("optimize", f"Optimisation: {req.objective}")
    s.add(Text(f"Universe {', '.join(req.tickers)}. Constraints: {_describe(req)}."))
    try:
        result = run(req, market, cfg)
    except HedgedeskError as exc:  # infeasible or bad data: the report says why, in full
        s.figures = {"error": str(exc)}
        return s.add(Text(f"No solution: {exc}"))
    often, one = period_words(result.periods)
    span = f"data {result.first}..{result.last}, {result.days} {often} returns"
    s.figures = {
        "first": str(result.first),
        "last": str(result.last),
        "days": result.days,
        "estimates": result.estimates_method,
    }
    s.add(
        Text(
            f"Estimates: {result.estimates_method}, {span}. Returns and volatility are "
            f"annualised x{result.periods} from {often} simple returns; Sharpe = (return - rf) "
            f"/ volatility with rf {req.rf:.2%}; VaR/CVaR are 1-{one} historical at 95 % on "
            f"the window's {often} returns."
        )
    )
    p = result.portfolio
    if p is None:
        if result.overlay is not None:
            rows = [[k, str(v)] for k, v in result.overlay.as_dict().items()]
            s.add(Table("overlay", [Col("figure"), Col("value")], rows, caption="Hedge overlay"))
        return s
    s.figures.update(
        expected_return=p.expected_return,
        volatility=p.volatility,
        sharpe=p.sharpe,
        var_95=p.var_95,
        cvar_95=p.cvar_95,
        weights=p.weights,
        binding=list(p.binding),
        solver=p.solver,
    )
    s.add(
        Table(
            "portfolio",
            [Col("figure"), Col("value", "num4")],
            [
                ["expected return (annual)", p.expected_return],
                ["volatility (annual)", p.volatility],
                ["Sharpe", p.sharpe],
                [f"VaR 95 % 1-{one} (historical)", p.var_95],
                [f"CVaR 95 % 1-{one} (historical)", p.cvar_95],
            ],
            caption=f"The chosen portfolio (solver {p.solver})",
        )
    )
    s.add(Text("Binding constraints: " + (", ".join(p.binding) if p.binding else "none")))
    s.add(_weights(p, req.current))

    returns = market.returns(list(req.tickers), req.start, req.end)
    est = estimate(returns, req.shrinkage, market.periods_per_year(list(req.tickers)))
    if req.objective in FRONTIER_SOLVED:
        pts = run(replace(req, objective="frontier"), market, cfg).frontier or ()
        ok = [pt.portfolio for pt in pts if pt.portfolio is not None]
        if ok:
            assets = {
                t: (float(np.sqrt(est.cov[i, i])), float(est.mu[i]))
                for i, t in enumerate(est.tickers)
            }
            s.add(
                Chart(
                    "optimize_frontier",
                    charts.frontier(
                        [q.volatility for q in ok],
                        [q.expected_return for q in ok],
                        (p.volatility, p.expected_return, f"chosen: {req.objective}"),
                        assets,
                    ),
                    f"Efficient frontier under the same constraints ({len(ok)} of {len(pts)} "
                    f"points solved), assets at the sample estimates; annualised "
                    f"x{result.periods}, {span}",
                )
            )
            s.add(
                Table(
                    "frontier",
                    [
                        Col("target return", "pct"),
                        Col("volatility", "pct"),
                        Col("Sharpe", "num3"),
                        Col("solved"),
                    ],
                    [
                        [
                            pt.target_return,
                            pt.portfolio.volatility if pt.portfolio else None,
                            pt.portfolio.sharpe if pt.portfolio else None,
                            "yes" if pt.portfolio else pt.reason,
                        ]
                        for pt in pts
                    ],
                    caption="Frontier points",
                )
            )
    classes = _classes(req, p)
    if classes is not None:
        table, alloc, limits = classes
        s.add(
            table,
            Chart(
                "optimize_classes",
                charts.bars(alloc, "Asset-class allocation against its limits", "weight", limits),
                "Allocation of each class (sum of its members' weights); thick tick: "
                "minimum, dotted tick: maximum",
            ),
        )
        by_class = _by_class(req, p)
        s.figures["by_class"] = by_class
        s.add(
            Chart(
                "optimize_class_pie",
                charts.allocation_pie(by_class, "Allocation by asset class"),
                "Share of the gross allocation (|w|) by class of [[optimizer.groups]]; an "
                "asset in several classes counts in its first, one in none as 'no class'",
            )
        )
    top = sorted(p.weights, key=lambda t: -abs(p.weights[t]))[: charts.TOP_SLICES]
    s.figures["top"] = top
    s.add(
        Chart(
            "optimize_pie",
            charts.allocation_pie(p.weights, "Allocation"),
            f"Share of the gross allocation (|w|): the {charts.TOP_SLICES} largest and others",
        ),
        Chart(
            "optimize_top",
            charts.top_columns(p.weights, f"Top {charts.TOP_SLICES} holdings"),
            f"The {charts.TOP_SLICES} largest weights, as fractions of NAV (hatched: short); "
            f"together {_top_share(p.weights):.1%} of the gross allocation",
        ),
    )
    s.add(
        Chart(
            "optimize_weights",
            charts.bars(
                dict(
                    sorted(
                        ((t, w) for t, w in p.weights.items() if abs(w) >= HELD),
                        key=lambda kv: -abs(kv[1]),
                    )
                ),
                "Weights by asset",
                "weight",
            ),
            f"Weight of each asset held (|w| >= {HELD:g}), as a fraction of NAV",
        )
    )

    w = np.array([p.weights[t] for t in est.tickers])
    daily = returns[list(est.tickers)].to_numpy() @ w
    tail = historical_var(daily, 0.95)
    dates = [*returns.index.date]
    dates = [market.session_before(req.tickers[0], dates[0]), *dates]
    growth = equity_from_returns(daily)
    metrics = [
        ("expected return", f"{p.expected_return:.2%}"),
        ("volatility", f"{p.volatility:.2%}"),
        ("Sharpe", f"{p.sharpe:.2f}"),
        (f"VaR 95% 1{one[0]} hist", f"{p.var_95:.2%}"),
        (f"CVaR 95% 1{one[0]} hist", f"{p.cvar_95:.2%}"),
        ("max drawdown", f"{max_drawdown(growth):.2%}"),
        ("assets held", f"{int(np.sum(np.abs(w) >= HELD))}"),
    ]
    s.add(
        Chart(
            "optimize_dashboard",
            charts.dashboard(
                daily,
                dates,
                growth,
                metrics,
                p.weights,
                tail.var,
                tail.cvar,
                "Risk dashboard: the chosen portfolio",
            ),
            f"In-sample: today's weights held through the estimation window ({span}), no "
            f"rebalancing or costs; VaR/CVaR 1-{one} historical 95 %",
        )
    )
    capital = float(nav) if nav else 1.0
    curves = {"chosen portfolio": capital * growth}
    if req.current and set(req.current) <= set(est.tickers):  # the book inside the universe
        cw = np.array([req.current.get(t, 0.0) for t in est.tickers])
        curves["current book weights"] = capital * equity_from_returns(
            returns[list(est.tickers)].to_numpy() @ cw
        )
    s.add(
        Chart(
            "optimize_growth",
            charts.curves(dates, curves, "Growth of capital", "value"),
            f"Growth of {capital:,.0f} at constant weights, in-sample ({span})",
        )
    )
    return s

"""The book's report, after the hedging plan: the monitors against their thresholds, VaR and
CVaR with their method, holdings and hedge legs with their purpose, position sizing and the
trade list for a NAV, the correlation heat map, the scenario table, a risk dashboard and the
book's growth over the risk window.
"""

from __future__ import annotations

import numpy as np

from hedgedesk.core.book.exposure import greeks_by
from hedgedesk.core.book.plan import coverage
from hedgedesk.core.book.pnl import explain
from hedgedesk.core.book.risk import BETA_HISTORY_WINDOW, RiskReport, risk_report
from hedgedesk.core.book.scenarios import ScenarioFailure, run_scenarios
from hedgedesk.core.book.sizing import CALL_COVERAGE, PUT_COVERAGE
from hedgedesk.core.book.trades import plan_trades, scaled_lines
from hedgedesk.core.book.valuation import (
    MarketState,
    book_lines,
    market_state,
    shocked_state,
    value_lines,
)
from hedgedesk.core.config import DeskConfig
from hedgedesk.core.data.market import MarketData
from hedgedesk.core.errors import DataError
from hedgedesk.core.metrics import equity_from_returns
from hedgedesk.core.report import charts
from hedgedesk.core.report.document import Chart, Col, Section, Table, Text, fmt

PNL_COLUMNS = ("day", "since cost", "delta", "gamma", "vega", "theta", "unexplained")
GREEKS_BY_COLUMNS = ("delta $", "gamma per 1 %", "vega per vol point", "theta per day")
GREEKS = (
    ("dollar delta", "dollar_delta"),
    ("gamma per 1 % move", "gamma_1pct_usd"),
    ("vega per vol point", "vega_1pt_usd"),
    ("theta per day", "theta_1d_usd"),
    ("rho per 1 % rate", "rho_1pct_usd"),
)


def _status(ok: bool) -> str:
    return "ok" if ok else "BREACH"


def _plan(value: float, lo_hi: tuple[float, float]) -> str:
    lo, hi = lo_hi
    return "below plan" if value < lo else "above plan" if value > hi else "inside plan"


def _monitors(cfg: DeskConfig, rep: RiskReport) -> Table:
    """Each monitor against its threshold; ``now`` is printed in the monitor's own unit (the
    unrounded values are in report.json's figures).
    """
    t, r = cfg.targets, cfg.risk
    b = rep.valuation.beta_status
    var = rep.var("historical", r.var_confidence).var
    vol = rep.performance.annual_volatility
    dd = rep.performance.max_drawdown
    core, puts, calls = coverage(rep.valuation)
    put_cov = puts / core if core else float("nan")
    call_cov = calls / core if core else float("nan")
    rows = [
        [
            "portfolio beta",
            f"{b.beta:.3f}",
            f"{t.beta:.2f} ± {t.beta_band:.2f}",
            _status(not b.breach),
        ],
        [
            f"1-day VaR {r.var_confidence:.0%} (historical)",
            fmt(var, "pct"),
            f"<= {t.var_limit:.2%}",
            _status(var <= t.var_limit),
        ],
        [
            "annualised volatility",
            fmt(vol, "pct"),
            f"<= {t.volatility:.2%}",
            _status(vol <= t.volatility),
        ],
        [
            "max drawdown over the window",
            fmt(dd, "pct"),
            f">= -{t.max_drawdown:.2%}",
            _status(-dd <= t.max_drawdown),
        ],
        [
            "put coverage of the core",
            fmt(put_cov, "pct"),
            f"{PUT_COVERAGE[0]:.0%}-{PUT_COVERAGE[1]:.0%} (target {t.put_coverage:.0%})",
            _plan(put_cov, PUT_COVERAGE),
        ],
        [
            "call coverage of the core",
            fmt(call_cov, "pct"),
            f"{CALL_COVERAGE[0]:.0%}-{CALL_COVERAGE[1]:.0%} (target {t.call_coverage:.0%})",
            _plan(call_cov, CALL_COVERAGE),
        ],
    ]
    return Table(
        "monitors",
        [Col("monitor"), Col("now"), Col("threshold"), Col("status")],
        rows,
        caption="Monitoring thresholds (config [targets])",
        note="beta: sum of beta-dollars / NAV, each underlying's OLS beta over "
        f"{r.beta_window} returns; VaR, volatility and drawdown: today's positions "
        f"held through the last {len(rep.book_returns)} days (constant positions)",
    )


def _tail(rep: RiskReport, window: int) -> Table:
    rows = [[t.method, t.confidence, t.horizon_days, window, t.var, t.cvar] for t in rep.tail]
    return Table(
        "var",
        [
            Col("method"),
            Col("confidence", "pct1"),
            Col("horizon days", "int"),
            Col("window days", "int"),
            Col("VaR", "pct"),
            Col("CVaR", "pct"),
        ],
        rows,
        caption="Value at risk (loss as a fraction of NAV)",
        note="historical: VaR = -q, q the (1 - a) quantile with linear interpolation, "
        "CVaR = -mean of returns <= q; parametric: normal with the sample mean and "
        "standard deviation (ddof 1)",
    )


def _holdings(rep: RiskReport) -> Table:
    pos = sorted(
        (p for p in rep.valuation.positions if not p.line.is_hedge),
        key=lambda p: -abs(p.market_value),
    )
    rows = [
        [p.line.name, p.line.quantity, p.unit_price, p.market_value, p.weight, p.beta, p.pnl]
        for p in pos
    ]
    return Table(
        "holdings",
        [
            Col("ticker"),
            Col("quantity", "int"),
            Col("price", "num2"),
            Col("value", "money"),
            Col("weight", "pct"),
            Col("beta", "num2"),
            Col("P&L", "money"),
        ],
        rows,
        caption="Holdings, largest first (weight = market value / NAV)",
    )


def _hedges(rep: RiskReport) -> Table:
    rows = [
        [
            p.line.name,
            p.line.kind,
            p.line.quantity,
            p.notional,
            p.dollar_delta,
            p.beta_dollars,
            p.line.purpose or "–",
        ]
        for p in rep.valuation.positions
        if p.line.is_hedge
    ]
    return Table(
        "hedges",
        [
            Col("leg"),
            Col("instrument"),
            Col("quantity", "int"),
            Col("notional", "money"),
            Col("delta $", "money"),
            Col("beta $", "money"),
            Col("purpose"),
        ],
        rows,
        caption="Hedge legs and their purpose",
        note="; ".join(
            f"{p.line.name}: {p.line.price_note()}"
            for p in rep.valuation.positions
            if p.line.is_hedge
        ),
    )


def _greeks(rep: RiskReport) -> Table:
    val = rep.valuation
    return Table(
        "greeks",
        [Col("greek"), Col("book", "money")],
        [[name, val.total(attr)] for name, attr in GREEKS],
        caption="Dollar Greeks of the book",
        note="gamma: change of dollar delta for +1 % in each underlying; vega: value "
        "change for +1 volatility point; theta: over one calendar day",
    )


def _sizing(cfg: DeskConfig, state: MarketState, nav: float) -> Table:
    lines, cash = scaled_lines(cfg, state, nav)
    val = value_lines(lines, state, cash)
    rows = [
        [p.line.name, p.line.quantity, p.notional, p.market_value, p.weight] for p in val.positions
    ]
    return Table(
        "sizing",
        [
            Col("line"),
            Col("quantity", "num2"),
            Col("notional", "money"),
            Col("value", "money"),
            Col("weight", "pct"),
        ],
        [*rows, ["cash", None, None, cash, cash / val.nav]],
        caption=f"Position sizing for a NAV of {nav:,.0f}",
        note="every line and the cash scaled by NAV / current NAV; quantities are "
        "unrounded (round contracts before trading)",
    )


def _trades(cfg: DeskConfig, state: MarketState, nav: float) -> Table:
    plan = plan_trades(cfg, state, nav)
    rows = [[t.instrument, t.side, t.contracts, t.size_usd, t.purpose] for t in plan.trades]
    rows += [[sk.leg, "skipped", None, None, sk.reason] for sk in plan.skipped]
    return Table(
        "trades",
        [
            Col("instrument"),
            Col("side"),
            Col("contracts", "int"),
            Col("size USD", "money"),
            Col("purpose"),
        ],
        rows,
        caption=f"Trade list for a NAV of {nav:,.0f}: beta {plan.beta_before:.3f} -> "
        f"{plan.beta_after:.3f} after the futures and sleeves (target {plan.beta_target:.2f}; "
        "option deltas not counted)",
        note="futures: N = (beta target - beta now) x NAV / (price x multiplier x "
        "beta of the future), beta now including the sleeves' trades; sleeves ([plan]): N = "
        "(target - notional held) / (price x multiplier); both rounded half away from zero; "
        "options: coverage of the core's value against the plan's range"
        if rows
        else "no trade: the book already meets its targets",
    )


def _scenarios(cfg: DeskConfig, state: MarketState, market: MarketData) -> Table | None:
    results = run_scenarios(cfg, state, market)
    if not results:
        return None
    legs = [h.name for h in cfg.book.hedges]
    cols = [
        Col("scenario"),
        Col("P&L", "money"),
        Col("P&L % NAV", "pct"),
        Col("beta after", "num3"),
        Col("delta $ after", "money"),
    ]
    cols += [Col(f"{leg} adds", "money") for leg in legs]
    rows = [
        [f"{r.scenario.name} (not applied: {r.error})", *[None] * (len(cols) - 1)]
        if isinstance(r, ScenarioFailure)
        else [
            r.scenario.name,
            r.pnl,
            r.pnl_pct,
            r.after.portfolio_beta,
            r.after.total("dollar_delta"),
            *(r.leg_value(leg) for leg in legs),
        ]
        for r in results
    ]
    return Table(
        "scenarios",
        cols,
        rows,
        caption="Scenarios (config [[scenarios]])",
        note="instantaneous joint shocks: each underlying moves by its own shock, else "
        "by its beta x the market shock; options repriced in full; '<leg> adds' "
        "is the book's P&L less its P&L without that leg",
    )


def _pnl(cfg: DeskConfig, market: MarketData, state: MarketState) -> Table | Text:
    """P&L explained: each line's day P&L and its attribution, with core/hedges/book totals
    (hedgedesk.core.book.pnl); a sentence saying why when the data has no previous session.
    """
    try:
        e = explain(cfg, market, state, book_lines(cfg))
    except DataError as exc:
        return Text(f"P&L explained: unavailable ({exc})")
    rows = [[p.line.name, p.day, p.since_cost, *p.attribution().values()] for p in e.lines]
    rows += [[f"total {k}", *getattr(e, k).as_dict().values()] for k in ("core", "hedges", "book")]
    return Table(
        "pnl",
        [Col("line"), *(Col(c, "money") for c in PNL_COLUMNS)],
        rows,
        caption=f"P&L explained, {e.previous} to {e.asof} (today's positions, USD)",
        note="full revaluation at each close (options repriced in full, volatility unchanged; "
        "futures settled daily); attribution with the Greeks at the previous close: delta x "
        "dS, 0.5 gamma x dS^2, vega x dvol, theta x days / 365; unexplained = the rest; "
        "since cost for holdings with a cost basis",
    )


def _greeks_by_underlying(rep: RiskReport, state: MarketState) -> Table:
    ex = greeks_by(rep.valuation, "underlying", state.closes[state.benchmark])
    rows = [
        [
            g.key,
            ", ".join(g.lines),
            g.dollar_delta,
            g.gamma_1pct_usd,
            g.vega_1pt_usd,
            g.theta_1d_usd,
            g.beta,
            g.beta_dollars,
            g.benchmark_units,
        ]
        for g in (*ex.groups, ex.total)
    ]
    return Table(
        "greeks_by_underlying",
        [
            Col("underlying"),
            Col("lines"),
            *(Col(c, "money") for c in GREEKS_BY_COLUMNS),
            Col("beta", "num2"),
            Col("beta $", "money"),
            Col(f"{ex.benchmark} units", "num2"),
        ],
        rows,
        caption="Greeks by underlying (USD; the last row is the book)",
        note="beta $: dollar delta x the underlying's beta to the benchmark (beta-weighted "
        f"delta); {ex.benchmark} units: beta $ / the benchmark's close "
        f"{ex.benchmark_price:,.2f}",
    )


def book_section(
    cfg: DeskConfig,
    market: MarketData,
    nav: float | None = None,
    shocks: dict[str, float] | None = None,
) -> Section:
    """The book's section: monitors, VaR, holdings, hedges, Greeks, sizing, trades and
    scenarios, each figure the engine's own.

    Parameters
    ----------
    cfg : DeskConfig
        The desk's configuration.
    market : MarketData
        Prices of the book's underlyings and the benchmark.
    nav : float, optional
        NAV in USD the sizing and the trade list are for (None or 0: the book's own).
    shocks : dict of str to float, optional
        What-if price moves (simple returns; "market" for the benchmark) applied before
        valuing, as :func:`~hedgedesk.core.book.valuation.shocked_state` does.

    Returns
    -------
    Section
        Keyed ``"book"``, with its headline figures for report.json.
    """
    state = market_state(cfg, market)
    state = shocked_state(state, shocks) if shocks else state
    rep = risk_report(cfg, state)
    val = rep.valuation
    nav = float(nav) if nav else val.nav
    r = cfg.risk
    first, last = rep.dates[0].date(), rep.dates[-1].date()
    span = f"data {first}..{last}, {len(rep.book_returns)} daily returns"
    s = Section("book", f"Book: {cfg.book.name}")
    s.figures = {
        "asof": str(val.asof),
        "nav": val.nav,
        "beta": val.portfolio_beta,
        "beta_target": cfg.targets.beta,
        "var": rep.var("historical", r.var_confidence).var,
        "cvar": rep.var("historical", r.var_confidence).cvar,
        "annual_volatility": rep.performance.annual_volatility,
        "max_drawdown": rep.performance.max_drawdown,
        "alerts": list(rep.alerts),
        "shocks": dict(shocks or {}),
        "first": str(first),
        "last": str(last),
    }
    s.add(
        Text(
            f"As of {val.asof}, NAV {val.nav:,.0f} (cash {val.cash:,.0f}), benchmark "
            f"{val.benchmark}. Beta {val.portfolio_beta:.3f}: "
            f"{val.beta_status.describe()}."
            + (
                " Price shocks applied: "
                + ", ".join(f"{k} {v:+.1%}" for k, v in shocks.items())
                + "."
                if shocks
                else ""
            )
        )
    )
    s.add(Text("Alerts: " + ("; ".join(rep.alerts) if rep.alerts else "none")))
    s.add(_monitors(cfg, rep), _tail(rep, len(rep.book_returns)), _greeks(rep), _holdings(rep))
    weights = {p.line.name: p.market_value for p in val.positions if not p.line.is_hedge}
    if weights:
        s.add(
            Chart(
                "book_allocation",
                charts.allocation_pie(weights, "Holdings by market value"),
                f"Holdings by market value at {val.asof}, the ten largest and others",
            )
        )
    s.add(_hedges(rep), _sizing(cfg, state, nav), _trades(cfg, state, nav))
    s.add(_pnl(cfg, market, state), _greeks_by_underlying(rep, state))  # issue 18
    corr = rep.correlation
    s.add(
        Chart(
            "book_correlation",
            charts.heatmap(
                corr.to_numpy(),
                list(corr.index),
                list(corr.columns),
                "Correlation of the book's underlyings",
                "Pearson correlation",
                diverging=True,
            ),
            f"Pearson correlation of daily simple returns, {span}",
        )
    )
    table = _scenarios(cfg, state, market)
    if table is not None:
        s.add(table)
    growth = equity_from_returns(rep.book_returns, val.nav)
    dates = [market.session_before(state.benchmark, first), *rep.dates.date]
    bench = equity_from_returns(state.returns[state.benchmark].to_numpy(), val.nav)
    main = rep.var("historical", r.var_confidence)
    exposures = {p.line.name: p.exposure for p in val.positions}
    metrics = [
        ("NAV", f"{val.nav:,.0f}"),
        ("beta", f"{val.portfolio_beta:.3f}"),
        (f"VaR {r.var_confidence:.0%} 1d hist", f"{main.var:.2%}"),
        (f"CVaR {r.var_confidence:.0%} 1d hist", f"{main.cvar:.2%}"),
        ("volatility (ann.)", f"{rep.performance.annual_volatility:.2%}"),
        ("Sharpe", f"{rep.performance.sharpe:.2f}"),
        ("max drawdown", f"{rep.performance.max_drawdown:.2%}"),
        ("dollar delta", f"{val.total('dollar_delta'):,.0f}"),
    ]
    s.add(
        Chart(
            "book_dashboard",
            charts.dashboard(
                rep.book_returns,
                dates,
                growth / val.nav,
                metrics,
                exposures,
                main.var,
                main.cvar,
                "Risk dashboard: today's book",
            ),
            f"Today's positions held through the risk window ({span}); VaR/CVaR 1-day "
            f"historical at {r.var_confidence:.0%}; Sharpe annualised x{state.periods} with "
            f"rf {r.rf:.2%}; position sizes are dollar delta / NAV",
        )
    )
    s.add(
        Chart(
            "book_growth",
            charts.curves(
                dates,
                {"book (constant positions)": growth, f"{state.benchmark} (same NAV)": bench},
                "Growth of the book's NAV",
                "NAV",
            ),
            f"Today's positions held through the risk window, no rebalancing or costs ({span})",
        )
    )
    beta = rep.beta_history
    if np.isfinite(beta).any():
        t = cfg.targets
        s.add(
            Chart(
                "book_beta_history",
                charts.steps(
                    rep.dates,
                    beta,
                    "Rolling beta of today's book",
                    f"{BETA_HISTORY_WINDOW}-day OLS beta",
                    (t.beta, t.beta - t.beta_band, t.beta + t.beta_band),
                ),
                f"OLS beta of the book's daily returns on {state.benchmark} over each "
                f"trailing {BETA_HISTORY_WINDOW} days, against the target and its band "
                f"({span})",
            )
        )
    return s

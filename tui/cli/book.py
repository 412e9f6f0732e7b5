"""Book commands: ``risk``, ``greeks``, ``scenario``, ``size``, ``trades`` and ``backtest``.

Every figure names its convention in the JSON (``conventions`` keys) as on screen.
"""

from __future__ import annotations

from hedgedesk.core.bounds import (
    MAX_CASH,
    MAX_DAYS,
    MAX_EXPOSURE,
    MAX_HEDGE_RATIO,
    MAX_PRICE,
    MIN_PRICE,
)
from hedgedesk.core.instruments import CONTRACTS
from hedgedesk.tui.cli.common import (
    Parents,
    UsageError,
    emit_json,
    load_cfg,
    market_for,
    number_arg,
    tickers_arg,
    whole_arg,
)

POOR_HEDGE_BETA = 0.3  # a future whose beta is below this barely moves portfolio beta

GREEK_UNITS = {
    "delta": "dV/dS",
    "gamma": "d2V/dS2",
    "vega": "dV/dsigma per 1.00 of volatility",
    "theta": "dV/dt per year of calendar time",
    "rho": "dV/dr per 1.00 of rate",
}
SCREEN_UNITS = {
    "dollar_delta": "sum of quantity x multiplier x delta x underlying price",
    "gamma_1pct_usd": "change of dollar delta for a +1 % move of each underlying",
    "vega_1pt_usd": "value change for +1 volatility point",
    "theta_1d_usd": "value change over one calendar day",
    "rho_1pct_usd": "value change for +1 % in the rate",
}


def _nav_arg(parser) -> None:
    parser.add_argument(
        "--nav",
        type=number_arg(0, MAX_CASH, lo_open=True),
        metavar="USD",
        help="scale the book to this NAV first (default: the book as configured)",
    )


def add_parsers(sub, parents: Parents) -> dict:
    common, window = parents.common, parents.window
    sub.add_parser(
        "risk",
        parents=[common],
        help="valuation, beta against target, Greeks, VaR/CVaR and alerts of the configured book",
    )

    sub.add_parser(
        "pnl",
        parents=[common],
        help="P&L explained: each line's day P&L against the previous session, attributed to "
        "delta, gamma, vega, theta and unexplained, and P&L since cost",
    )

    g = sub.add_parser(
        "greeks",
        parents=[common],
        help="price and Greeks of one option (Black-Scholes-Merton, or Black-76 on a future)",
    )
    g.add_argument("--type", required=True, choices=("call", "put"))
    g.add_argument(
        "--spot",
        required=True,
        type=number_arg(MIN_PRICE, MAX_PRICE),
        metavar="S",
        help="underlying price (the future's price with --model black76)",
    )
    g.add_argument("--strike", required=True, type=number_arg(MIN_PRICE, MAX_PRICE), metavar="K")
    g.add_argument(
        "--days",
        required=True,
        type=number_arg(0, MAX_DAYS, lo_open=True),
        metavar="D",
        help="calendar days to expiry (time = days / 365)",
    )
    g.add_argument(
        "--vol",
        type=number_arg(0, 5, lo_open=True),
        metavar="V",
        help="implied volatility, 0.20 = 20 %% (or give --price)",
    )
    g.add_argument(
        "--price",
        type=number_arg(MIN_PRICE, MAX_PRICE),
        metavar="P",
        help="option price: solve the implied volatility from it",
    )
    g.add_argument(
        "--rate",
        type=number_arg(-0.5, 1),
        default=0.0,
        metavar="r",
        help="continuously compounded rate (default 0)",
    )
    g.add_argument(
        "--div",
        type=number_arg(-1, 1),
        default=0.0,
        metavar="q",
        help="continuous dividend yield (default 0; ignored by black76)",
    )
    g.add_argument("--model", choices=("bsm", "black76"), default="bsm")

    s = sub.add_parser(
        "scenario",
        parents=[common],
        help="P&L, post-shock beta and Greeks per scenario, and what each hedge leg is worth in it",
    )
    s.add_argument(
        "--name",
        action="append",
        metavar="N",
        help="only this scenario (repeat for more; default: all in the config)",
    )

    z = sub.add_parser(
        "size",
        parents=[common],
        help="futures contracts that move the book's beta to a target (CONVENTIONS)",
    )
    z.add_argument(
        "--instrument",
        required=True,
        choices=tuple(CONTRACTS),
        metavar="CODE",
        help="futures contract: " + ", ".join(CONTRACTS),
    )
    z.add_argument(
        "--target-beta",
        type=number_arg(-5, 5),
        metavar="b",
        help="default: the config's targets.beta",
    )

    t = sub.add_parser(
        "trades",
        parents=[common],
        help="the plan's trade list for a NAV: beta hedge, protective puts, covered calls and "
        "the [plan] sleeves (crypto, gold, oil, FX, VIX futures)",
    )
    _nav_arg(t)

    k = sub.add_parser(
        "ticket",
        parents=[common],
        help="the trade ticket: the plan's trades, the trades to the optimiser's weights and "
        "the futures back into the beta band, each with the book's beta and VaR 95 after it",
    )
    _nav_arg(k)
    k.add_argument(
        "--weights",
        default="config",
        metavar="SOURCE",
        help="the 'to weights' group's weights (fractions of the holdings' value): config "
        "(default: the config's [optimizer] solved), an objective name (max-sharpe, "
        "min-variance, ...: the config's [optimizer] with it), FILE.json (hedgedesk optimize "
        "--json's output or an object of ticker -> weight), or none",
    )
    k.add_argument("--csv", metavar="PATH", help="also write the ticket as CSV to PATH")

    b = sub.add_parser(
        "backtest",
        parents=[common, window],
        help="dynamic-beta hedge backtest of one configuration (CONVENTIONS)",
    )
    b.add_argument(
        "--data",
        action="append",
        metavar="PATH",
        help="price file or folder; repeat for more (default: the config's data)",
    )
    b.add_argument(
        "--long",
        required=True,
        type=tickers_arg,
        action="append",
        metavar="T1[,T2]",
        help="long leg: one ticker, or several forming one basket",
    )
    b.add_argument(
        "--weighting",
        choices=("equal", "volume"),
        default="equal",
        help="basket weights: equal, or 30-day mean volume (needs volumes)",
    )
    b.add_argument("--hedge", required=True, metavar="T")
    b.add_argument(
        "--rebalance", required=True, type=whole_arg(1), metavar="P", help="rebalance every P days"
    )
    b.add_argument(
        "--window",
        required=True,
        type=whole_arg(2),
        metavar="W",
        help="beta estimation window, daily returns",
    )
    b.add_argument(
        "--exposure",
        type=number_arg(0, MAX_EXPOSURE, lo_open=True),
        default=1.0,
        metavar="k",
        help="long notional as a multiple of equity (default 1, at most 10)",
    )
    b.add_argument("--hedge-ratio", type=number_arg(0, MAX_HEDGE_RATIO), default=1.0, metavar="h")
    b.add_argument(
        "--cost",
        type=number_arg(0, 0.1),
        default=0.0,
        metavar="c",
        help="cost as a fraction of traded notional",
    )
    b.add_argument("--drift-band", type=number_arg(0), default=0.0, metavar="d")
    b.add_argument(
        "--rf",
        type=number_arg(-0.5, 1),
        default=None,
        metavar="r",
        help="annual risk-free rate (default: the config's risk.rf, or 0 with --data)",
    )
    return {
        ("risk", None): cmd_risk,
        ("pnl", None): cmd_pnl,
        ("greeks", None): cmd_greeks,
        ("scenario", None): cmd_scenario,
        ("size", None): cmd_size,
        ("trades", None): cmd_trades,
        ("ticket", None): cmd_ticket,
        ("backtest", None): cmd_backtest,
    }


def _desk(args):
    """Config, market and prepared market state for the configured book."""
    from hedgedesk.core.book.valuation import market_state

    cfg = load_cfg(args)
    market, _, _ = market_for(args, None)
    return cfg, market, market_state(cfg, market)


def _position_json(p) -> dict:
    ln = p.line
    return {
        "name": ln.name,
        "kind": ln.kind,
        "hedge": ln.is_hedge,
        "purpose": ln.purpose,
        "underlying": ln.underlying,
        "quantity": ln.quantity,
        "multiplier": ln.multiplier,
        "contract": ln.contract,
        "underlying_price": p.underlying_price,
        "unit_price": p.unit_price,
        "market_value": p.market_value,
        "notional": p.notional,
        "delta": p.delta,
        "dollar_delta": p.dollar_delta,
        "beta": p.beta,
        "beta_dollars": p.beta_dollars,
        "weight": p.weight,
        "exposure": p.exposure,
        "pnl": p.pnl,
        "price_note": ln.price_note(),
        "greeks": dict(p.greeks),
        "option": (
            {
                "right": ln.right,
                "strike": ln.strike,
                "expiry": ln.expiry,
                "volatility": ln.vol,
                "volatility_source": (
                    f"{ln.vol_source} (surface)" if ln.vol_source else "config (modelled)"
                ),
                "dividend_yield": ln.div,
                "model": ln.model,
            }
            if ln.right
            else None
        ),
        "gamma_1pct_usd": p.gamma_1pct_usd,
        "vega_1pt_usd": p.vega_1pt_usd,
        "theta_1d_usd": p.theta_1d_usd,
        "rho_1pct_usd": p.rho_1pct_usd,
    }


def _totals(val) -> dict:
    raw = {
        k: sum(p.greeks.get(k, 0.0) for p in val.positions if p.greeks)
        for k in ("delta", "gamma", "vega", "theta", "rho")
    }
    return {
        "dollar_delta": val.total("dollar_delta"),
        "gamma_1pct_usd": val.total("gamma_1pct_usd"),
        "vega_1pt_usd": val.total("vega_1pt_usd"),
        "theta_1d_usd": val.total("theta_1d_usd"),
        "rho_1pct_usd": val.total("rho_1pct_usd"),
        "options_raw": raw,
        "units": SCREEN_UNITS,
        "raw_units": GREEK_UNITS,
    }


def _beta_json(val) -> dict:
    b = val.beta_status
    return {
        "portfolio": b.beta,
        "target": b.target,
        "band": b.band,
        "deviation": b.deviation,
        "breach": b.breach,
        "status": b.describe(),
        "window": val.beta_window,
        "conventions": "sum of beta-dollars / NAV; beta-dollars = delta-adjusted notional x "
        "OLS beta (with intercept) of the underlying to the benchmark over "
        f"its last {val.beta_window} daily returns",
    }


def cmd_risk(args) -> int:
    from hedgedesk.core.book.risk import risk_report

    cfg, market, state = _desk(args)
    rep = risk_report(cfg, state)
    val = rep.valuation
    pnl, pnl_error = _explain_or_error(cfg, market, state)
    by_underlying, by_kind = _greeks_by(val, state)
    out = {
        "asof": val.asof,
        "benchmark": val.benchmark,
        "nav": val.nav,
        "cash": val.cash,
        "beta": _beta_json(val),
        "greeks": _totals(val),
        "positions": [_position_json(p) for p in val.positions],
        "var": [
            {
                "method": t.method,
                "confidence": t.confidence,
                "horizon_days": t.horizon_days,
                "var": t.var,
                "cvar": t.cvar,
            }
            for t in rep.tail
        ],
        "risk": {
            **rep.performance.as_dict(),
            "window": {
                "first": rep.dates[0].date(),
                "last": rep.dates[-1].date(),
                "days": len(rep.dates),
            },
        },
        "correlation": rep.correlation.to_dict(),
        "alerts": list(rep.alerts),
        "alert_items": [a.as_dict() for a in rep.alert_items],
        "pnl": pnl.as_dict() if pnl else {"error": pnl_error},
        "greeks_by_underlying": by_underlying.as_dict(),
        "greeks_by_kind": by_kind.as_dict(),
        "conventions": {
            "pnl": _pnl_conventions(),
            "greeks_by": _greeks_by_conventions(),
            "var": "1-day, fraction of NAV; historical: -quantile(R, 1-a) (linear), CVaR = "
            "-mean(R[R <= q]); parametric: normal with daily mean and std (ddof=1)",
            "history": "book returns = P&L of today's positions under each of the last "
            f"{len(rep.dates)} days' returns / NAV; options repriced in full one "
            "calendar day later, volatility unchanged",
            "annualisation": f"{state.periods} periods a year (365 only when every series "
            "trades daily); Sharpe and Sortino with rf from the config",
        },
    }
    if args.json:
        emit_json(out)
        return 0
    print(f"{cfg.book.name} as of {val.asof}: NAV {val.nav:,.0f} (cash {val.cash:,.0f})")
    print(
        f"beta {val.portfolio_beta:+.3f} vs target {cfg.targets.beta:.2f}: "
        f"{val.beta_status.describe()}"
    )
    print(f"{'position':<24}{'qty':>8}{'value':>13}{'delta $':>13}{'beta':>6}{'beta $':>13}")
    for p in val.positions:
        print(
            f"{p.line.name:<24}{p.line.quantity:>8,.6g}{p.market_value:>13,.0f}"
            f"{p.dollar_delta:>13,.0f}{p.beta:>6.2f}{p.beta_dollars:>13,.0f}"
        )
    g = out["greeks"]
    print(
        f"dollar delta {g['dollar_delta']:,.0f}  gamma/1% {g['gamma_1pct_usd']:,.0f}  "
        f"vega/pt {g['vega_1pt_usd']:,.0f}  theta/day {g['theta_1d_usd']:,.0f}"
    )
    _print_pnl_summary(pnl, pnl_error)
    _print_greeks_by(by_underlying)
    for t in rep.tail:
        print(f"VaR {t.method} {t.confidence:.0%} 1-day: {t.var:.2%}  CVaR {t.cvar:.2%}")
    perf = rep.performance
    print(
        f"history {len(rep.dates)} days: vol {perf.annual_volatility:.1%}  Sharpe "
        f"{perf.sharpe:.2f}  Sortino {perf.sortino:.2f}  max drawdown {perf.max_drawdown:.1%}"
    )
    for a in rep.alerts:
        print(f"ALERT {a}")
    return 0


def _pnl_conventions() -> dict:
    from hedgedesk.core.book.pnl import CONVENTIONS

    return CONVENTIONS


def _greeks_by_conventions() -> dict:
    from hedgedesk.core.book.exposure import CONVENTIONS

    return CONVENTIONS


def _explain_or_error(cfg, market, state):
    """The book's P&L explained, or (None, why) when the data has no previous session for it:
    ``risk`` still reports everything else.
    """
    from hedgedesk.core.book.pnl import explain
    from hedgedesk.core.book.valuation import book_lines
    from hedgedesk.core.errors import DataError

    try:
        return explain(cfg, market, state, book_lines(cfg)), ""
    except DataError as exc:
        return None, str(exc)


def _greeks_by(val, state):
    from hedgedesk.core.book.exposure import greeks_by

    price = state.closes[state.benchmark]
    return greeks_by(val, "underlying", price), greeks_by(val, "kind", price)


def _signed(x: float | None) -> str:
    if x is None:
        return "–"
    return "0" if abs(x) < 0.5 else f"{x:+,.0f}"


def _print_pnl_summary(pnl, error: str) -> None:
    if pnl is None:
        print(f"P&L explained: unavailable ({error})")
        return
    b = pnl.book
    print(
        f"P&L {pnl.previous} -> {pnl.asof} (today's positions): day {_signed(b.day)} "
        f"(core {_signed(pnl.core.day)}, hedges {_signed(pnl.hedges.day)}); since cost "
        f"{_signed(b.since_cost)}"
    )
    print(
        f"  explained: delta {_signed(b.delta)}  gamma {_signed(b.gamma)}  vega "
        f"{_signed(b.vega)}  theta {_signed(b.theta)}  unexplained {_signed(b.unexplained)}"
    )


def _print_greeks_by(ex) -> None:
    print(
        f"{'by ' + ex.by:<18}{'delta $':>13}{'gamma/1%':>11}{'vega/pt':>10}{'theta/d':>10}"
        f"{'beta $':>13}{ex.benchmark + ' units':>14}"
    )
    for g in (*ex.groups, ex.total):
        print(
            f"{g.key[:18]:<18}{g.dollar_delta:>13,.0f}{g.gamma_1pct_usd:>11,.0f}"
            f"{g.vega_1pt_usd:>10,.0f}{g.theta_1d_usd:>10,.0f}{g.beta_dollars:>13,.0f}"
            f"{g.benchmark_units:>14,.2f}"
        )


def cmd_pnl(args) -> int:
    from hedgedesk.core.book.pnl import explain
    from hedgedesk.core.book.valuation import book_lines

    cfg, market, state = _desk(args)
    pnl = explain(cfg, market, state, book_lines(cfg))
    if args.json:
        emit_json({"book": cfg.book.name, **pnl.as_dict(), "conventions": _pnl_conventions()})
        return 0
    print(
        f"{cfg.book.name}: P&L from {pnl.previous} to {pnl.asof} "
        f"({(pnl.asof - pnl.previous).days} calendar day(s)), today's positions held over "
        "both closes; USD"
    )
    heads = ("day", "since cost", "delta", "gamma", "vega", "theta", "unexpl")
    print(f"{'line':<24}" + "".join(f"{h:>12}" for h in heads))
    rows = [(p.line.name, p.day, p.since_cost, *p.attribution().values()) for p in pnl.lines]
    rows += [
        (f"= {name}", *t.as_dict().values())  # day, since cost, then the attribution
        for name, t in (("core", pnl.core), ("hedges", pnl.hedges), ("book", pnl.book))
    ]
    for name, *cells in rows:
        print(f"{name[:24]:<24}" + "".join(f"{_signed(c):>12}" for c in cells))
    print(
        "attribution with the Greeks at the previous close: delta x dS, 0.5 gamma x dS^2, vega x "
        "dvol, theta x days/365; unexplained = full revaluation less their sum"
    )
    return 0


def cmd_greeks(args) -> int:
    from hedgedesk.core.book.options import implied_vol, price_and_greeks

    if args.vol is None and args.price is None:
        raise UsageError("hedgedesk greeks: give --vol or --price (to solve the implied vol)")
    if args.vol is not None and args.price is not None:
        raise UsageError(
            "hedgedesk greeks: give --vol or --price, not both (--price solves the volatility)"
        )
    t = args.days / 365.0
    vol, solved = args.vol, False
    if args.price is not None:
        try:
            vol = implied_vol(
                args.price,
                args.type,
                args.spot,
                args.strike,
                t,
                args.rate,
                args.div,
                model=args.model,
            )
        except ValueError as exc:
            raise UsageError(f"hedgedesk greeks: {exc}") from None
        solved = True
    g = price_and_greeks(args.model, args.type, args.spot, args.strike, t, args.rate, args.div, vol)
    out = {
        "model": args.model,
        "type": args.type,
        "spot": args.spot,
        "strike": args.strike,
        "days": args.days,
        "t_years": t,
        "vol": vol,
        "vol_from_price": solved,
        "rate": args.rate,
        "div": args.div if args.model == "bsm" else None,
        "price": float(g.price),
        "delta": float(g.delta),
        "gamma": float(g.gamma),
        "vega": float(g.vega),
        "theta": float(g.theta),
        "rho": float(g.rho),
        "units": GREEK_UNITS,
        "conventions": "Black-Scholes-Merton (Black-76 on a future) with continuous rate and "
        "dividend yield; t = calendar days / 365; vega and rho per 1.00 of vol and rate, theta "
        "per year (the screen shows vega per vol point and theta per day)",
    }
    if args.json:
        emit_json(out)
        return 0
    print(
        f"{args.model} {args.type} S={args.spot:g} K={args.strike:g} {args.days:g} days "
        f"vol {vol:.4f}{' (implied from price)' if solved else ''}"
    )
    for k in ("price", "delta", "gamma", "vega", "theta", "rho"):
        unit = f"  ({GREEK_UNITS[k]})" if k in GREEK_UNITS else ""
        print(f"  {k:<6}{out[k]:>14.6f}{unit}")
    print(
        f"  on screen: vega {out['vega'] / 100:.4f} per vol point, theta "
        f"{out['theta'] / 365:.4f} per day"
    )
    return 0


def cmd_scenario(args) -> int:
    from hedgedesk.core.book.scenarios import ScenarioFailure, run_scenarios

    cfg, market, state = _desk(args)
    rows = run_scenarios(cfg, state, market, args.name)
    results = [r for r in rows if not isinstance(r, ScenarioFailure)]
    out = {
        "asof": state.asof,
        "nav": results[0].nav_before if results else None,
        "scenarios": [
            {"name": r.scenario.name, "description": r.scenario.description, "error": r.error}
            if isinstance(r, ScenarioFailure)
            else {
                "name": r.scenario.name,
                "description": r.scenario.description,
                "market": r.scenario.market,
                "vol": r.scenario.vol,
                "skew": r.scenario.skew,
                "replay": list(r.scenario.replay) if r.scenario.replay else None,
                "replay_dates_used": list(r.replay_dates) if r.replay_dates else None,
                "shocks": dict(r.shocks),
                "pnl": r.pnl,
                "pnl_pct": r.pnl_pct,
                "beta_after": r.after.portfolio_beta,
                "nav_after": r.after.nav,
                "greeks_after": {
                    k: v for k, v in _totals(r.after).items() if not k.endswith("units")
                },
                "line_pnl": dict(r.line_pnl),
                "without_leg": {
                    name: {
                        "pnl": w.pnl,
                        "beta_after": w.beta_after,
                        "leg_value": r.leg_value(name),
                        "greeks_after": {
                            k: v for k, v in _totals(w.after).items() if not k.endswith("units")
                        },
                    }
                    for name, w in r.without.items()
                },
            }
            for r in rows
        ],
        "conventions": "instantaneous joint shock: own shock, else beta x market shock; "
        "options repriced in full at shocked spot and vol (vol + shift + skew x ln(K/F), "
        "F the unshocked forward, floored at 1 %); futures P&L settles in cash; "
        "leg_value = P&L with the leg minus P&L without it",
    }
    if args.json:
        emit_json(out)
        return 0
    legs = [leg.name for leg in cfg.book.hedges]
    print(
        f"{'scenario':<30}{'P&L':>12}{'%NAV':>8}{'beta':>7}  "
        + "  ".join(f"{n[:14]:>14}" for n in legs)
    )
    for r in rows:
        if isinstance(r, ScenarioFailure):
            print(f"{r.scenario.name[:29]:<30}not applied: {r.error}")
            continue
        print(
            f"{r.scenario.name[:29]:<30}{r.pnl:>12,.0f}{r.pnl_pct:>8.2%}"
            f"{r.after.portfolio_beta:>7.2f}  "
            + "  ".join(f"{r.leg_value(n):>14,.0f}" for n in legs)
        )
    print("per hedge leg: what it adds to the scenario's P&L (P&L with it minus without it)")
    return 0


def _plan_json(plan) -> dict:
    rp, bp = plan.risk_parity, plan.buckets
    bucket_rp = bp.parity if bp else None
    return {
        "vol_target": plan.vol_target.as_dict() if plan.vol_target else None,
        "kelly": plan.kelly.as_dict() if plan.kelly else None,
        "risk_parity": {
            "tickers": list(plan.risk_parity_tickers),
            "weights": rp.weights.tolist(),
            "risk_contributions": rp.risk_contributions.tolist(),
            "budgets": rp.budgets.tolist(),
            "converged": rp.converged,
            "covariance": "annualised sample covariance of daily returns over the risk window",
        }
        if rp
        else None,
        "bucket_risk_parity": {
            "buckets": list(bp.buckets),
            "gross_exposure_usd": list(bp.exposures),
            "weights": bucket_rp.weights.tolist() if bucket_rp else None,
            "risk_contributions": bucket_rp.risk_contributions.tolist() if bucket_rp else None,
            "converged": bucket_rp.converged if bucket_rp else None,
            "notes": list(bp.notes),
            "returns": "bucket return = sum(dollar delta x underlying return) / sum(|dollar "
            "delta|); a [plan] sleeve at its target notional on its proxy",
        }
        if bp
        else None,
        "leverage_alert": plan.leverage_alert,
        "leverage_warning": plan.leverage_warning,
        "coverage": {
            "puts": plan.coverage.puts,
            "calls": plan.coverage.calls,
            "put_plan": plan.coverage.put_plan,
            "call_plan": plan.coverage.call_plan,
        },
        "signals": {
            h.ticker: {**h.signals.as_dict(), "atr_stop": h.stop.as_dict() if h.stop else None}
            for h in plan.signals
        },
        "conventions": "vol target and Kelly from the book's daily returns over the risk window "
        "(constant positions); Kelly edge = annualised mean excess return, "
        "variance annualised, fraction = targets.kelly_fraction, leverage beyond "
        "targets.leverage_alert (multiple of NAV) flagged; ATR stop = close - 2 x ATR14; "
        "momentum = close[t-21] / close[t-252] - 1 (fraction); zscore = (close - SMA20) / "
        "sample sd of the same 20 closes",
    }


def cmd_size(args) -> int:
    from hedgedesk.core.book.plan import book_plan
    from hedgedesk.core.book.risk import risk_report
    from hedgedesk.core.book.sizing import futures_for_beta
    from hedgedesk.core.book.valuation import contract_price

    cfg, market, state = _desk(args)
    rep = risk_report(cfg, state)
    val = rep.valuation
    plan = book_plan(cfg, market, state, rep)
    price, underlying, beta_f = contract_price(args.instrument, cfg, state)
    target = cfg.targets.beta if args.target_beta is None else args.target_beta
    s = futures_for_beta(
        beta_now=val.portfolio_beta,
        beta_target=target,
        nav=val.nav,
        price=price,
        multiplier=CONTRACTS[args.instrument].multiplier,
        beta_of_future=beta_f,
    )
    held = sum(leg.quantity for leg in cfg.book.hedges if leg.contract == args.instrument)
    warnings = []
    if abs(beta_f) < POOR_HEDGE_BETA:
        warnings.append(
            f"{args.instrument} is priced from {underlying}, whose beta to "
            f"{state.benchmark} is {beta_f:.3f}: a poor beta hedge"
        )
    if abs(s.residual_beta) > cfg.targets.beta_band:
        warnings.append(
            f"residual beta {s.residual_beta:+.3f} is outside the band "
            f"±{cfg.targets.beta_band:g}: size in a smaller contract"
        )
    out = {
        "instrument": args.instrument,
        "name": CONTRACTS[args.instrument].name,
        "priced_from": underlying,
        **s.as_dict(),
        "held": held,
        "warnings": warnings,
        "conventions": "N = (b_target - b_now) x NAV / (price x multiplier x beta_of_future)"
        ", rounded to the nearest contract (ties away from zero)",
        "plan": _plan_json(plan),
    }
    if args.json:
        emit_json(out)
        return 0
    side = ("buy" if s.contracts > 0 else "sell") if s.contracts else "no trade:"
    print(
        f"{args.instrument}: {side} {abs(s.contracts)} (unrounded {s.unrounded:+.2f}) at "
        f"{price:,.2f} x {s.multiplier:g} = {s.notional_per_contract:,.0f} per contract"
    )
    print(
        f"beta {s.beta_now:.3f} -> {s.beta_after:.3f} (target {target:.2f}, residual "
        f"{s.residual_beta:+.3f}); NAV {s.nav:,.0f}; {args.instrument} held now {held:+g}"
    )
    for w in warnings:
        print(f"WARNING {w}")
    vt, k, cov = plan.vol_target, plan.kelly, plan.coverage
    if vt:
        print(
            f"vol target {vt.target_vol:.0%}: realised {vt.lookback}-day {vt.realised_vol:.1%}"
            f" -> scale exposure x{vt.scale:.2f}{' (capped)' if vt.capped else ''}"
        )
    if k:
        print(
            f"Kelly: edge {k.edge:.1%}/yr, variance {k.variance:.4f} -> full "
            f"{k.full_kelly:.1f}x, {k.fraction:g} Kelly {k.leverage:.1f}x "
            "(targets.kelly_fraction)"
        )
    if plan.leverage_warning:
        print(f"WARNING {plan.leverage_warning}")
    print(
        f"coverage: puts {cov.puts:.0%} of the core (plan {cov.put_plan[0]:.0%}-"
        f"{cov.put_plan[1]:.0%}), covered calls {cov.calls:.0%} (plan {cov.call_plan[0]:.0%}-"
        f"{cov.call_plan[1]:.0%})"
    )
    bp = plan.buckets
    if bp and bp.parity and bp.parity.converged:
        print(
            "risk parity (equal budgets) across the plan's buckets: "
            + ", ".join(f"{b} {w:.1%}" for b, w in zip(bp.buckets, bp.parity.weights, strict=True))
        )
    elif bp and bp.buckets:
        print(
            "risk parity across the plan's buckets: needs two buckets with exposure "
            f"(have {', '.join(bp.buckets)})"
            if len(bp.buckets) < 2
            else "risk parity across the plan's buckets: no solution (degenerate covariance)"
        )
    for note in bp.notes if bp else ():
        print(f"  {note}")
    if plan.risk_parity and len(plan.risk_parity_tickers) > 1:
        print(
            "risk parity (equal budgets) across holdings: "
            + ", ".join(
                f"{t} {w:.1%}"
                for t, w in zip(plan.risk_parity_tickers, plan.risk_parity.weights, strict=True)
            )
        )
    print(
        f"{'ticker':<8}{'close':>10}{'SMA50':>10}{'SMA200':>10} trend {'RSI':>6}{'MACD h':>9}"
        f"{'ATR':>8}{'stop':>10}{'mom12-1':>9}{'z20':>7}"
    )
    for h in plan.signals:
        g = h.signals
        stop = f"{h.stop.stop:>10.2f}" if h.stop else f"{'—':>10}"
        print(
            f"{h.ticker:<8}{g.close:>10.2f}{g.sma_fast:>10.2f}{g.sma_slow:>10.2f} "
            f"{g.trend:<5} {g.rsi:>6.1f}{g.macd_histogram:>9.2f}{g.atr:>8.2f}{stop}"
            f"{g.momentum:>9.1%}{g.zscore:>7.2f}"
        )
    print(
        "mom12-1 = close 21 days ago / close 252 days ago - 1; z20 = (close - SMA20) / "
        "sample sd of the 20 closes (|z| >= 2: stretched)"
    )
    return 0


def cmd_trades(args) -> int:
    from hedgedesk.core.book.trades import CONVENTIONS, plan_trades

    cfg, _, state = _desk(args)
    plan = plan_trades(cfg, state, args.nav)
    out = {
        "asof": state.asof,
        "nav": plan.nav,
        "scaled": args.nav is not None,
        "trades": [
            {
                "instrument": t.instrument,
                "side": t.side,
                "contracts": t.contracts,
                "size_usd": t.size_usd,
                "purpose": t.purpose,
                "inputs": t.inputs,
            }
            for t in plan.trades
        ],
        "skipped": [{"leg": s.leg, "reason": s.reason} for s in plan.skipped],
        "beta": {
            "before": plan.beta_before,
            "after": plan.beta_after,
            "target": plan.beta_target,
            "residual": plan.residual_beta,
        },
        "conventions": CONVENTIONS,
    }
    if args.json:
        emit_json(out)
        return 0
    if not plan.trades:
        print("no trades: beta is within one contract of target and coverage is met")
    for t in plan.trades:
        print(
            f"{t.side.upper():<5}{t.contracts:>6} {t.instrument:<28}{t.size_usd:>14,.0f}  "
            f"{t.purpose}"
        )
    for s in plan.skipped:
        print(f"SKIPPED {s.leg}: {s.reason}")
    print(
        f"NAV {plan.nav:,.0f}; beta {plan.beta_before:.3f} -> {plan.beta_after:.3f} after the "
        f"futures and sleeves (target {plan.beta_target:.2f}, residual "
        f"{plan.residual_beta:+.3f}; option deltas not counted)"
    )
    return 0


def _ticket_weights(args, cfg, market) -> tuple[dict | None, str]:
    """The weights ``--weights`` names: (None, "") for none."""
    from pathlib import Path

    from hedgedesk.core.book.ticket import optimizer_weights, read_weights
    from hedgedesk.core.limits import OBJECTIVES

    source = args.weights.strip()
    if source == "none":
        return None, ""
    if source == "config":
        return optimizer_weights(cfg, market)
    if source in OBJECTIVES:
        return optimizer_weights(cfg, market, source)
    if source.endswith(".json") or "/" in source or Path(source).is_file():
        return read_weights(Path(source)), f"file {source}"
    raise UsageError(
        f"hedgedesk ticket: --weights: got {source!r}, expected config, none, an objective ("
        + ", ".join(o for o in OBJECTIVES if o not in ("frontier", "hedge-overlay"))
        + ") or FILE.json"
    )


def _ticket_json(t, scaled: bool) -> dict:
    return {
        "group": t.group,
        "instrument": t.instrument,
        "side": t.side,
        "quantity": t.quantity,
        "unit": t.unit,
        "notional_usd": t.notional_usd,
        "beta_after": t.beta_after,
        "var95_after": t.var95_after,
        "nav_after": t.nav_after,
        "purpose": t.purpose,
        "edit": None if scaled else t.edit.describe(),
        "inputs": t.inputs,
    }


def cmd_ticket(args) -> int:
    from pathlib import Path

    from hedgedesk.core.book.ticket import CONVENTIONS, CSV_HEADER, GROUPS, build_ticket, write_csv
    from hedgedesk.core.book.valuation import market_state, state_key

    cfg, market, state = _desk(args)
    states = {state_key(cfg): state}  # one prepared state per state_key, as on the desk

    def state_of(c):
        key = state_key(c)
        if key not in states:
            states[key] = market_state(c, market)
        return states[key]

    weights, source = _ticket_weights(args, cfg, market)
    ticket = build_ticket(
        cfg,
        state_of,
        weights=weights,
        weights_source=source,
        nav=args.nav,
    )
    csv_path = write_csv(ticket, Path(args.csv)) if args.csv else None
    out = {
        "asof": ticket.asof,
        "nav": ticket.nav,
        "scaled": ticket.scaled,
        "before": {"beta": ticket.beta_before, "var95": ticket.var95_before},
        "beta_target": ticket.beta_target,
        "beta_band": ticket.beta_band,
        "weights_source": ticket.weights_source or None,
        "weights_of": "the holdings' value",
        "holdings_value": ticket.holdings_value,
        "trades": [_ticket_json(t, ticket.scaled) for t in ticket.trades],
        "groups": {
            g: {
                "trades": len(ticket.group(g)),
                "beta_after_all": after[0],
                "var95_after_all": after[1],
                "nav_after_all": after[2],
            }
            for g, after in ticket.group_after.items()
        },
        "notes": list(ticket.notes),
        "csv": csv_path,
        "csv_header": list(CSV_HEADER),
        "conventions": CONVENTIONS,
    }
    if args.json:
        emit_json(out)
        return 0
    print(
        f"ticket as of {ticket.asof}: NAV {ticket.nav:,.0f}; beta {ticket.beta_before:.3f} "
        f"(target {ticket.beta_target:.2f} ± {ticket.beta_band:.2f}), VaR 95 "
        f"{ticket.var95_before:.2%}"
    )
    for group in GROUPS:
        rows = ticket.group(group)
        label = f" ({ticket.weights_source})" if group == "to weights" and source else ""
        after = ticket.group_after.get(group)
        all_of = f"; all together: beta {after[0]:.3f}, VaR {after[1]:.2%}" if after else ""
        print(f"{group}{label}: {f'{len(rows)} trade(s)' if rows else 'none'}{all_of}")
        for t in rows:
            print(
                f"  {t.side.upper():<5}{t.quantity:>7} {t.unit:<10}{t.instrument:<28}"
                f"{t.notional_usd:>13,.0f}  beta {t.beta_after:.3f}  VaR {t.var95_after:.2%}"
                f"  {t.purpose}"
            )
    for note in ticket.notes:
        print(f"note: {note}")
    if csv_path is not None:
        print(f"CSV written: {csv_path}")
    return 0


def cmd_backtest(args) -> int:
    from hedgedesk.core.sweep.backtest import run_backtest

    long = [t for group in args.long for t in group]
    market, start, end = market_for(args, args.data, [*long, args.hedge])
    rf = args.rf
    if rf is None:
        rf = 0.0 if args.data else load_cfg(args).risk.rf
    res = run_backtest(
        market,
        long,
        args.hedge,
        args.rebalance,
        args.window,
        exposure=args.exposure,
        hedge_ratio=args.hedge_ratio,
        cost=args.cost,
        drift_band=args.drift_band,
        weighting=args.weighting,
        rf=rf,
        start=start,
        end=end,
    )
    rebal = res.rebalances
    out = {
        "params": res.params,
        "metrics": res.metrics,
        "betas": [{"date": d.date(), "beta": float(b)} for d, b in rebal["beta"].items()],
        "equity": [
            {"date": d.date(), "hedged": float(e), "unhedged": float(u), "benchmark": float(b)}
            for d, e, u, b in zip(res.dates, res.equity, res.unhedged, res.benchmark, strict=True)
        ],
        "rebalances": [
            {
                "date": d.date(),
                **{
                    k: (bool(v) if k == "traded" else float(v))
                    for k, v in row.items()
                    if k != "day"
                },
            }
            for d, row in rebal.iterrows()
        ],
        "conventions": "CONVENTIONS dynamic-beta backtest; first equity point is the close "
        "before the first rebalance; unhedged = same procedure with hedge "
        "ratio 0; benchmark = buy-and-hold of the hedge instrument",
    }
    if args.json:
        emit_json(out)
        return 0
    m = res.metrics
    print(
        f"{'+'.join(long)} hedged with {args.hedge}: P={args.rebalance} W={args.window} "
        f"k={args.exposure:g} h={args.hedge_ratio:g} c={args.cost:g}, "
        f"{res.dates[0].date()}..{res.dates[-1].date()}"
    )
    for label, d in (
        ("hedged", m),
        ("unhedged", m.get("unhedged", {})),
        ("benchmark", m.get("benchmark", {})),
    ):
        if d:
            print(
                f"  {label:<10} return {d['annual_return']:7.2%}  vol "
                f"{d['annual_volatility']:6.2%}  Sharpe {d['sharpe']:5.2f}  max DD "
                f"{d['max_drawdown']:7.2%}"
            )
    print(f"  {int(rebal['traded'].sum())} trades over {len(rebal)} scheduled rebalances")
    return 0

"""``hedgedesk optimize``: constrained portfolio optimisation from files or the desk config.

Infeasible problems exit 2 with the explanation (what makes it infeasible, the smallest
relaxation that works, the solvers tried).
"""

from __future__ import annotations

import argparse

import numpy as np
from hedgedesk.core.config import OBJECTIVES
from hedgedesk.tui.cli.common import (
    Parents,
    Parser,
    UsageError,
    emit_json,
    load_cfg,
    make_parents,
    market_for,
    number_arg,
    tickers_arg,
    whole_arg,
)


def _group_arg(text: str):
    """Parse a group limit, NAME=T1,T2:MIN:MAX."""
    from hedgedesk.core.optimize.problem import Group

    try:
        name, rest = text.split("=", 1)
        members, lo, hi = rest.rsplit(":", 2)
        group = Group(
            name.strip(),
            tuple(t.strip() for t in members.split(",") if t.strip()),
            float(lo),
            float(hi),
        )
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid group {text!r}: expected NAME=T1,T2:MIN:MAX"
        ) from None
    if not group.tickers or not 0 <= group.min <= group.max:
        raise argparse.ArgumentTypeError(
            f"invalid group {text!r}: needs tickers and 0 <= MIN <= MAX"
        )
    return group


def add_parsers(sub, parents: Parents) -> dict:
    o = sub.add_parser(
        "optimize",
        parents=[parents.common, parents.window],
        help="constrained portfolio optimisation (cvxpy)",
    )
    o.add_argument(
        "--data",
        action="append",
        metavar="PATH",
        help="price files or folders (with --tickers); default: the config's data",
    )
    o.add_argument(
        "--tickers",
        type=tickers_arg,
        metavar="T1,T2..",
        help="the universe (default: the config's data.universe)",
    )
    o.add_argument(
        "--objective",
        choices=OBJECTIVES,
        default=None,
        help="default: the config's optimizer.objective",
    )
    side = o.add_mutually_exclusive_group()
    side.add_argument("--long-only", action="store_true", default=None)
    side.add_argument(
        "--long-short",
        action="store_true",
        help="allow short weights (with --min-weight < 0, --gross-max)",
    )
    o.add_argument("--max-weight", type=number_arg(-1, 1), metavar="w")
    o.add_argument("--min-weight", type=number_arg(-1, 1), metavar="w")
    o.add_argument("--group", type=_group_arg, action="append", metavar="NAME=T1,T2:MIN:MAX")
    o.add_argument(
        "--vol-cap", type=number_arg(0, lo_open=True), metavar="v", help="annualised volatility cap"
    )
    o.add_argument("--gross-max", type=number_arg(0, lo_open=True), metavar="g")
    o.add_argument(
        "--turnover-max",
        type=number_arg(0),
        metavar="t",
        help="sum |w - current| (current = the config book's weights)",
    )
    o.add_argument(
        "--cost", type=number_arg(0, 0.1), metavar="c", help="transaction cost per unit of turnover"
    )
    o.add_argument(
        "--beta-band",
        type=number_arg(-5, 5),
        nargs=2,
        metavar=("LO", "HI"),
        help="portfolio beta to the benchmark within [LO, HI]",
    )
    o.add_argument("--benchmark", metavar="T", help="default: the config's data.benchmark")
    o.add_argument(
        "--te-cap",
        type=number_arg(0, lo_open=True),
        metavar="te",
        help="annualised tracking error cap (to the benchmark if it is in the "
        "universe, else to the current weights)",
    )
    o.add_argument("--rf", type=number_arg(-0.5, 1), metavar="r", help="annual risk-free rate")
    o.add_argument("--points", type=whole_arg(2), metavar="N", help="frontier points")
    o.add_argument(
        "--shrinkage", choices=("ledoit-wolf",), help="shrink the covariance (named in the output)"
    )
    o.add_argument("--risk-aversion", type=number_arg(0, lo_open=True), metavar="lambda")
    o.add_argument(
        "--confidence",
        type=number_arg(0.5, 0.999),
        metavar="a",
        help="CVaR confidence (default 0.95)",
    )
    o.add_argument("--kelly-fraction", type=number_arg(0, 1, lo_open=True), metavar="f")
    o.add_argument(
        "--black-litterman",
        action="store_true",
        help="use the config's [[optimizer.views]] (Black-Litterman posterior; prior "
        "from [optimizer.prior] benchmark weights, else equal weights)",
    )
    o.add_argument(
        "--target-return",
        type=number_arg(-1, 10),
        metavar="r",
        help="mean-cvar: the least CVaR with at least this annual expected return",
    )
    o.add_argument(
        "--overlay-objective",
        choices=("variance", "cvar"),
        default="variance",
        help="hedge-overlay: minimise the book's P&L variance or CVaR",
    )
    o.add_argument(
        "--cost-budget",
        type=number_arg(0),
        metavar="USD",
        help="hedge-overlay: most money to spend on trading costs",
    )
    return {("optimize", None): cmd_optimize}


def _portfolio_json(p) -> dict:
    return {
        "problem": p.objective,
        "weights": p.weights,
        "expected_return": p.expected_return,
        "volatility": p.volatility,
        "sharpe": p.sharpe,
        "var_95": p.var_95,
        "cvar_95": p.cvar_95,
        "risk_contributions": p.risk_contributions,
        "binding": list(p.binding),
        "solver": p.solver,
        "solvers_tried": list(p.tried),
        **p.extra,
    }


def default_args():
    """``hedgedesk optimize``'s arguments with no flags given, from its own parser: the request
    the optimiser screen and the report start from.
    """
    parser = Parser(prog="hedgedesk")
    add_parsers(parser.add_subparsers(dest="command", parser_class=Parser), make_parents())
    return parser.parse_args(["optimize"])


def request_from(args, cfg, market, start, end):
    """The config's [optimizer] settings, each overridden by its flag when given."""
    from hedgedesk.core.optimize.engine import OptimizeRequest, book_weights
    from hedgedesk.core.optimize.problem import Group

    o = cfg.optimizer if cfg else None
    tickers = args.tickers or (list(cfg.data.universe) or [h.ticker for h in cfg.book.holdings])

    def pick(flag, attr, default):
        value = getattr(args, flag)
        if value is not None:
            return value
        return getattr(o, attr) if o is not None else default

    long_only = not args.long_short and (
        o.long_only if o is not None and args.long_only is None else True
    )
    if args.gross_max is not None and long_only:
        raise UsageError("hedgedesk optimize: --gross-max applies to --long-short books")
    if args.long_short and args.min_weight is None:  # the config's floor is a long-only one
        args.min_weight = -1.0
    groups = tuple(args.group or ()) or tuple(
        Group(g.name, g.tickers, g.min, g.max) for g in (o.groups if o else ())
    )
    band = args.beta_band or (o.beta_band if o else None)
    return OptimizeRequest(
        tickers=tuple(tickers),
        objective=pick("objective", "objective", "max-sharpe"),
        long_only=long_only,
        min_weight=pick("min_weight", "min_weight", 0.0 if long_only else -1.0),
        max_weight=pick("max_weight", "max_weight", 1.0),
        groups=groups,
        vol_cap=pick("vol_cap", "vol_cap", None),
        net=o.net if o else (1.0, 1.0),
        gross_max=pick("gross_max", "gross_max", None),
        turnover_max=pick("turnover_max", "turnover_max", None),
        cost_rate=pick("cost", "cost_rate", 0.0),
        beta_band=tuple(band) if band else None,
        te_cap=pick("te_cap", "te_cap", None),
        benchmark=args.benchmark or (cfg.data.benchmark if cfg else None),
        rf=args.rf if args.rf is not None else (cfg.risk.rf if cfg else 0.0),
        points=pick("points", "points", 20),
        shrinkage=pick("shrinkage", "shrinkage", None),
        risk_aversion=pick("risk_aversion", "risk_aversion", 4.0),
        confidence=pick("confidence", "cvar_confidence", 0.95),
        kelly_fraction=pick("kelly_fraction", "kelly_fraction", 0.5),
        budgets=o.budgets if o else (),
        views=o.views if (o and args.black_litterman) else (),
        tau=o.tau if o else 0.05,
        prior=o.prior if o else (),
        target_return=args.target_return,
        overlay_objective=args.overlay_objective,
        cost_budget=args.cost_budget,
        start=start,
        end=end,
        current=book_weights(cfg, market) if cfg else {},
    )


def cmd_optimize(args) -> int:
    from hedgedesk.core.optimize.engine import run

    if args.data and not args.tickers:
        raise UsageError("hedgedesk optimize: --data needs --tickers (the universe)")
    cfg = None if args.data else load_cfg(args)
    if args.black_litterman and not (cfg and cfg.optimizer.views):
        raise UsageError(
            "hedgedesk optimize: --black-litterman needs [[optimizer.views]] in the config"
        )
    market, start, end = market_for(args, args.data)
    req = request_from(args, cfg, market, start, end)
    result = run(req, market, cfg)
    out = {
        "objective": req.objective,
        "estimates": result.estimates_method,
        "window": {"first": result.first, "last": result.last, "days": result.days},
        "rf": req.rf,
        "conventions": "annualised x252 from daily simple returns (CONVENTIONS); Sharpe = "
        "(return - rf) / volatility; VaR/CVaR 1-day historical 95 % on the "
        "estimation window's daily returns",
    }
    if result.portfolio is not None:
        out.update(_portfolio_json(result.portfolio))
    if result.frontier is not None:
        out["frontier"] = [
            {
                "target_return": pt.target_return,
                "ok": pt.portfolio is not None,
                "reason": pt.reason,
                **(_portfolio_json(pt.portfolio) if pt.portfolio is not None else {}),
            }
            for pt in result.frontier
        ]
    if result.overlay is not None:
        out["overlay"] = result.overlay
    if args.json:
        emit_json(out)
        return 0
    print(f"{req.objective}: {result.estimates_method}; {result.first}..{result.last}")
    if result.frontier is not None:
        print(f"{'target':>8}{'return':>9}{'vol':>8}{'Sharpe':>8}")
        for pt in result.frontier:
            if pt.portfolio is None:
                print(f"{pt.target_return:>8.2%}  failed: {pt.reason}")
            else:
                p = pt.portfolio
                print(
                    f"{pt.target_return:>8.2%}{p.expected_return:>9.2%}{p.volatility:>8.2%}"
                    f"{p.sharpe:>8.2f}"
                )
    p = result.portfolio
    if p is not None:
        print(
            f"return {p.expected_return:.2%}  vol {p.volatility:.2%}  Sharpe {p.sharpe:.2f}  "
            f"VaR95 {p.var_95:.2%}  CVaR95 {p.cvar_95:.2%}  ({p.solver})"
        )
        for t, w in sorted(p.weights.items(), key=lambda kv: -abs(kv[1])):
            if abs(w) > 1e-6:
                rc = p.risk_contributions.get(t, np.nan)
                print(f"  {t:<10}{w:>9.2%}   risk {rc:>7.1%}")
        if p.binding:
            print("binding: " + "; ".join(p.binding))
    ov = result.overlay
    if ov is not None:
        print(f"hedge overlay ({ov['objective']}), beta band {ov['beta_band']}:")
        print(f"{'leg':<24}{'now':>8}{'optimum':>10}{'whole':>8}")
        for name, size in ov["sizes"].items():
            print(
                f"{name:<24}{ov['current'].get(name, 0):>8g}{size:>10.2f}{ov['rounded'][name]:>8d}"
            )
        for label, key in (
            ("before", "before"),
            ("optimum", "after"),
            ("whole contracts", "after_rounded"),
        ):
            f = ov[key]
            print(f"  {label:<16} " + "  ".join(f"{k} {v:.4g}" for k, v in f.items()))
        for note in ov["notes"]:
            print(f"  note: {note}")
    if p is not None and p.extra.get("constraints_not_met"):
        print("not applied by risk parity: " + "; ".join(p.extra["constraints_not_met"]))
    return 0

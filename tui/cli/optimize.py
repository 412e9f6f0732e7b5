"""``hedgedesk optimize``: constrained portfolio optimisation from files or the desk config.

Infeasible problems exit 2 with the explanation (what makes it infeasible, the smallest
relaxation that works, the solvers tried).
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from hedgedesk.core.limits import (
    CONFIG_KEYS,
    OBJECTIVES,
    OVERLAY_OBJECTIVES,
    SHRINKAGES,
    Group,
    Naming,
    SettingError,
)
from hedgedesk.core.optimize.request import OptimizeRequest
from hedgedesk.tui.cli.common import (
    Parents,
    UsageError,
    emit_json,
    load_cfg,
    market_for,
    number_arg,
    tickers_arg,
)

# Request field -> its flag (the argparse destination is the flag's name with underscores).
# Flags only parse; the ranges are the request's own (hedgedesk.core.limits), the
# same as the config's.
FLAGS = {
    "tickers": "--tickers",
    "objective": "--objective",
    "long_only": "--long-only",
    "min_weight": "--min-weight",
    "max_weight": "--max-weight",
    "groups": "--group",
    "vol_cap": "--vol-cap",
    "gross_max": "--gross-max",
    "turnover_max": "--turnover-max",
    "cost_rate": "--cost",
    "beta_band": "--beta-band",
    "benchmark": "--benchmark",
    "te_cap": "--te-cap",
    "rf": "--rf",
    "points": "--points",
    "shrinkage": "--shrinkage",
    "risk_aversion": "--risk-aversion",
    "confidence": "--confidence",
    "kelly_fraction": "--kelly-fraction",
    "views": "--black-litterman",
    "target_return": "--target-return",
    "overlay_objective": "--overlay-objective",
    "cost_budget": "--cost-budget",
    "overlay_free_signs": "--overlay-free-signs",
}
TE_HELP = (
    "annualised tracking error cap (to the benchmark if it is in the universe, else to the "
    "current weights)"
)
NAMES = Naming({**FLAGS, "long_short": "--long-short"}, items=False, fallback=CONFIG_KEYS)


def _group_arg(text: str) -> Group:
    """Parse a group limit, NAME=T1,T2:MIN:MAX (its bounds are checked with the request)."""
    try:
        name, rest = text.split("=", 1)
        members, lo, hi = rest.rsplit(":", 2)
        return Group(
            name.strip(),
            tuple(t.strip() for t in members.split(",") if t.strip()),
            float(lo),
            float(hi),
        )
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid group {text!r}: expected NAME=T1,T2:MIN:MAX"
        ) from None


def add_constraint_flags(o) -> None:
    """The universe, objective and constraint flags ``optimize`` and ``report`` share (on a
    parser or an argument group); each overrides its config key.
    """
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
    o.add_argument("--max-weight", type=number_arg(), metavar="w")
    o.add_argument("--min-weight", type=number_arg(), metavar="w")
    o.add_argument("--group", type=_group_arg, action="append", metavar="NAME=T1,T2:MIN:MAX")
    o.add_argument("--vol-cap", type=number_arg(), metavar="v", help="annualised volatility cap")
    o.add_argument("--gross-max", type=number_arg(), metavar="g")
    o.add_argument(
        "--turnover-max",
        type=number_arg(),
        metavar="t",
        help="sum |w - current| (current = the config book's weights)",
    )
    o.add_argument(
        "--beta-band",
        type=number_arg(),
        nargs=2,
        metavar=("LO", "HI"),
        help="portfolio beta to the benchmark within [LO, HI]",
    )
    o.add_argument("--te-cap", type=number_arg(), metavar="te", help=TE_HELP)
    o.add_argument("--points", type=int, metavar="N", help="frontier points")
    o.add_argument(
        "--shrinkage", choices=SHRINKAGES, help="shrink the covariance (named in the output)"
    )


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
    add_constraint_flags(o)
    o.add_argument(
        "--cost", type=number_arg(), metavar="c", help="transaction cost per unit of turnover"
    )
    o.add_argument("--benchmark", metavar="T", help="default: the config's data.benchmark")
    o.add_argument("--rf", type=number_arg(), metavar="r", help="annual risk-free rate")
    o.add_argument("--risk-aversion", type=number_arg(), metavar="lambda")
    o.add_argument(
        "--confidence",
        type=number_arg(),
        metavar="a",
        help="CVaR confidence (default 0.95)",
    )
    o.add_argument("--kelly-fraction", type=number_arg(), metavar="f")
    o.add_argument(
        "--black-litterman",
        action="store_true",
        help="use the config's [[optimizer.views]] (Black-Litterman posterior; prior "
        "from [optimizer.prior] benchmark weights, else equal weights)",
    )
    o.add_argument(
        "--target-return",
        type=number_arg(),
        metavar="r",
        help="mean-cvar: the least CVaR with at least this annual expected return",
    )
    o.add_argument(
        "--overlay-objective",
        choices=OVERLAY_OBJECTIVES,
        help="hedge-overlay: minimise the book's P&L variance or CVaR",
    )
    o.add_argument(
        "--cost-budget",
        type=number_arg(),
        metavar="USD",
        help="hedge-overlay: most money to spend on trading costs",
    )
    o.add_argument(
        "--overlay-free-signs",
        action="store_true",
        default=None,
        help="hedge-overlay: let every leg take either side (default: each leg keeps its "
        "purpose and sign; a protective put stays long, a covered call short and covered)",
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


def request_from(
    args: argparse.Namespace, cfg, market, start, end, command: str = "hedgedesk optimize"
) -> OptimizeRequest:
    """The config's request (:meth:`OptimizeRequest.from_config`), each field given by a flag
    overridden (a command may define only some of the flags: ``report`` has no ``--cost``); a
    value the request refuses is a one-line error naming the flag (or, for a value the flags
    did not give, the config key).
    """

    def flag(name: str):
        return getattr(args, name.removeprefix("--").replace("-", "_"), None)

    given: dict[str, Any] = {
        field: value
        for field, name in FLAGS.items()
        if field not in ("long_only", "groups", "views")  # flags that are not values
        and (value := flag(name)) is not None
    }
    for field in ("tickers", "beta_band"):
        if field in given:
            given[field] = tuple(given[field])
    if flag("--long-short") or flag("--long-only"):
        given["long_only"] = not flag("--long-short")
    if flag("--group"):
        given["groups"] = tuple(args.group)
    if flag("--black-litterman"):
        given["views"] = cfg.optimizer.views
    try:
        return OptimizeRequest.from_config(cfg, market, start, end, **given)
    except SettingError as exc:
        raise UsageError(f"{command}: {exc.named(NAMES.only(given))}") from None


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
        "conventions": _conventions(result.periods),
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
        out["overlay"] = {
            **result.overlay.as_dict(),
            "signs": "free" if req.overlay_free_signs else "kept",
        }
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
                rc = p.risk_contributions.get(t, math.nan)
                print(f"  {t:<10}{w:>9.2%}   risk {rc:>7.1%}")
        if p.binding:
            print("binding: " + "; ".join(p.binding))
    ov = result.overlay
    if ov is not None:
        lo, hi = ov.beta_band
        print(f"hedge overlay ({ov.objective}), beta band [{lo:g}, {hi:g}]:")
        print(
            "signs "
            + (
                "freed (--overlay-free-signs): each leg may take either side"
                if req.overlay_free_signs
                else "kept: each leg keeps its purpose and sign (--overlay-free-signs frees them)"
            )
        )
        print(f"{'leg':<24}{'now':>8}{'optimum':>10}{'whole':>8}  limits (units)")
        for name, size in ov.sizes.items():
            lim = ov.limits[name]
            print(
                f"{name:<24}{ov.current.get(name, 0):>8g}{size:>10.2f}{ov.rounded[name]:>8d}"
                f"  {lim['low']:g}..{lim['high']:g} {lim['why']}"
            )
        for label, figs in (
            ("before", ov.before),
            ("optimum", ov.after),
            ("whole contracts", ov.after_rounded),
        ):
            print(f"  {label:<16} " + "  ".join(f"{k} {v:.4g}" for k, v in figs.items()))
        if ov.binding:
            print("  binding: " + "; ".join(ov.binding))
        for note in ov.notes:
            print(f"  note: {note}")
    if p is not None and p.extra.get("constraints_not_met"):
        print("not applied by risk parity: " + "; ".join(p.extra["constraints_not_met"]))
    return 0


def _conventions(periods: int) -> str:
    """The figures' conventions at the data's frequency (CONVENTIONS: N follows the series)."""
    from hedgedesk.core.data.calendar import period_words

    often, one = period_words(periods)
    return (
        f"annualised x{periods} from {often} simple returns (CONVENTIONS); Sharpe = "
        f"(return - rf) / volatility; VaR/CVaR 1-{one} historical 95 % on the estimation "
        f"window's {often} returns"
    )

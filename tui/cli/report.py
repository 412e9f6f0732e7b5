"""``hedgedesk report``: the book, the optimisation, sweep runs and a backtest written as
``report.md`` with PNG charts, ``report.pdf`` and ``report.json`` (:mod:`hedgedesk.core.report`).
"""

from __future__ import annotations

from pathlib import Path

from hedgedesk.core.bounds import MAX_CASH, MAX_EXPOSURE, MAX_HEDGE_RATIO
from hedgedesk.tui.cli.common import (
    emit_json,
    load_cfg,
    market_for,
    number_arg,
    tickers_arg,
    whole_arg,
)
from hedgedesk.tui.cli.optimize import add_constraint_flags, request_from

DEFAULT_WHAT = "book,optimize,backtest"


def add_parsers(sub, parents) -> dict:
    p = sub.add_parser(
        "report",
        parents=[parents.common],
        help="Markdown, PNG and PDF report of the book, the optimisation, sweep "
        "runs and a backtest",
    )
    p.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="folder to write report.md, report.pdf, report.json and the charts in",
    )
    p.add_argument(
        "--what",
        default=DEFAULT_WHAT,
        metavar="PARTS",
        help="comma-separated parts in order: book, optimize, sweep:RUN (a run id, "
        f"a unique prefix or 'last'), backtest (default {DEFAULT_WHAT})",
    )
    p.add_argument(
        "--nav",
        type=number_arg(0, MAX_CASH, lo_open=True),
        metavar="USD",
        help="NAV the position sizing and trade list are for (default: the book's)",
    )
    p.add_argument(
        "--ledger",
        metavar="PATH",
        help="run ledger database for sweep:RUN "
        "(default: $HEDGEDESK_LEDGER, else ~/.local/state/hedgedesk/runs.sqlite)",
    )
    add_constraint_flags(
        p.add_argument_group(
            "optimisation (default: the config's [optimizer]; the optimize command's flags)"
        )
    )
    b = p.add_argument_group(
        "backtest (default: the book's first holding hedged with the benchmark, P=5, W=60)"
    )
    b.add_argument("--long", type=tickers_arg, metavar="T1[,T2]")
    b.add_argument("--hedge", metavar="T")
    b.add_argument("--weighting", choices=("equal", "volume"))
    b.add_argument("--rebalance", type=whole_arg(1), metavar="P")
    b.add_argument("--window", type=whole_arg(2), metavar="W")
    b.add_argument("--exposure", type=number_arg(0, MAX_EXPOSURE, lo_open=True), metavar="k")
    b.add_argument("--hedge-ratio", type=number_arg(0, MAX_HEDGE_RATIO), metavar="h")
    b.add_argument("--cost", type=number_arg(0, 0.1), metavar="c")
    b.add_argument("--drift-band", type=number_arg(0), metavar="d")
    return {("report", None): cmd_report}


def backtest_params(args, cfg) -> dict:
    """The desk's default backtest, each parameter overridden by its flag when given."""
    from hedgedesk.core.sweep.backtest import desk_defaults

    params = desk_defaults(cfg)
    for key in (
        "long",
        "hedge",
        "weighting",
        "rebalance",
        "window",
        "exposure",
        "hedge_ratio",
        "cost",
        "drift_band",
    ):
        if getattr(args, key, None) is not None:
            params[key] = getattr(args, key)
    return {**params, "rf": cfg.risk.rf, "start": cfg.data.start, "end": cfg.data.end}


def cmd_report(args) -> int:
    from hedgedesk.core.report import ReportRequest, build_report, parse_what, write_report
    from hedgedesk.core.report.render import check_out

    what = parse_what(args.what)
    out = Path(args.out).expanduser()
    check_out(out)  # before the work, not after it
    cfg = load_cfg(args)
    market = None
    if any(not p.startswith("sweep:") for p in what):  # a report of runs alone reads no data
        market, _, _ = market_for(args, None)
    optimize = None
    if "optimize" in what:
        optimize = request_from(
            args, cfg, market, cfg.data.start, cfg.data.end, command="hedgedesk report"
        )
    ledger = None
    if any(p.startswith("sweep:") for p in what):
        from hedgedesk.core.sweep.ledger import Ledger

        ledger = Ledger(Path(args.ledger).expanduser() if args.ledger else None)
    req = ReportRequest(
        what,
        optimize=optimize,
        nav=args.nav,
        backtest=backtest_params(args, cfg) if "backtest" in what else None,
    )
    try:
        report = build_report(cfg, market, req, ledger)
    finally:
        if ledger is not None:
            ledger.close()
    files = write_report(report, out)
    if args.json:
        emit_json(
            {
                "out": str(out),
                "what": list(what),
                "title": report.title,
                "files": {k: str(v) for k, v in files.items()},
                "sections": [s.key for s in report.sections],
                "conventions": report.conventions,
            }
        )
    else:
        print(
            f"report written to {files['markdown'].parent}: report.md, report.pdf, "
            f"report.json and {sum(k.startswith('chart:') for k in files)} charts"
        )
    return 0

"""The ``hedgedesk`` command: the Textual desk by default, headless subcommands beside it.

Headless subcommands print one JSON object on stdout with ``--json``; bad input exits 2 with a
single line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import math
import os
import sys
from pathlib import Path
from typing import Any

from core import __version__
from core.errors import HedgedeskError

log = logging.getLogger("hedgedesk")


class UsageError(HedgedeskError):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse would print usage too)
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def _date_arg(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid date {text!r}: expected YYYY-MM-DD") from None


def _window_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 3:
        raise argparse.ArgumentTypeError(f"invalid window {text!r}: expected a whole number >= 3")
    return value


def build_parser() -> argparse.ArgumentParser:
    config_help = ("desk config file (default: $HEDGEDESK_CONFIG, else "
                   "~/.config/hedgedesk/config.toml, else the built-in demo desk)")
    parser = _Parser(prog="hedgedesk", description="Terminal workstation for traders who hedge. "
                     "With no command, starts the desk.")
    parser.add_argument("--config", metavar="PATH", help=config_help)
    parser.add_argument("--version", action="version", version=f"hedgedesk {__version__}")
    common = _Parser(add_help=False)
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help=config_help)
    common.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    window = _Parser(add_help=False)
    window.add_argument("--start", type=_date_arg, metavar="YYYY-MM-DD",
                        help="first date used (prices before it are dropped)")
    window.add_argument("--end", type=_date_arg, metavar="YYYY-MM-DD", help="last date used")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    data = sub.add_parser("data", help="check and fetch market data")
    data_sub = data.add_subparsers(dest="data_command", parser_class=_Parser, metavar="ACTION",
                                   required=True)
    check = data_sub.add_parser("check", parents=[common], help="load and validate price files; "
                                "list each series with its range, rows and gaps")
    check.add_argument("paths", nargs="*", metavar="PATH",
                       help="files or folders (default: the config's data source)")
    fetch = data_sub.add_parser("fetch", parents=[common, window],
                                help="download daily prices from Yahoo into the local cache")
    fetch.add_argument("tickers", nargs="+", metavar="TICKER")

    beta = sub.add_parser("beta", parents=[common, window],
                          help="OLS beta of an asset on a benchmark (CONVENTIONS)")
    beta.add_argument("--data", action="append", metavar="PATH",
                      help="price file or folder; repeat for more (default: the config's data)")
    beta.add_argument("--asset", required=True, metavar="T")
    beta.add_argument("--benchmark", required=True, metavar="T")
    beta.add_argument("--window", type=_window_arg, metavar="W",
                      help="also report the rolling beta over W daily returns")

    cfg = sub.add_parser("config", help="validate a desk config")
    cfg_sub = cfg.add_subparsers(dest="config_command", parser_class=_Parser, metavar="ACTION",
                                 required=True)
    cfg_sub.add_parser("check", parents=[common],
                       help="validate the config and its tickers against its market data")
    return parser


# -- helpers ----------------------------------------------------------------------------------
def _clean(value: Any) -> Any:
    """JSON-safe: NaN/inf become null, dates ISO strings, paths strings."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value


def emit_json(obj: dict) -> None:
    sys.stdout.write(json.dumps(_clean(obj), indent=2, allow_nan=False) + "\n")


def _config(args):
    from core.config import load_config, resolve_config_path

    return load_config(resolve_config_path(getattr(args, "config", None)))


def _market(args, paths):
    """Market data from --data/positional paths, else from the config's data source, and the
    date range to use: --start/--end, else (config data only) the config's data.start/end."""
    if paths:
        from core.price_files import load_paths

        return load_paths(paths), getattr(args, "start", None), getattr(args, "end", None)
    from core.sources import load_market

    cfg = _config(args)
    return (load_market(cfg), getattr(args, "start", None) or cfg.data.start,
            getattr(args, "end", None) or cfg.data.end)


def _notices(market) -> None:
    for n in market.notices:
        print(f"notice: {n}", file=sys.stderr)


# -- commands ---------------------------------------------------------------------------------
def cmd_data_check(args) -> int:
    market, _, _ = _market(args, args.paths)
    _notices(market)
    reports = market.reports()
    if args.json:
        emit_json({
            "count": len(reports),
            "notices": list(market.notices),
            "series": [{
                "ticker": r.ticker, "first": r.first, "last": r.last, "rows": r.rows,
                "calendar": r.calendar,
                "periods_per_year": market.periods_per_year([r.ticker]),
                "gaps": [{"first": g.first, "last": g.last, "sessions": g.sessions}
                         for g in r.gaps],
                "missing_sessions": r.missing_sessions, "off_calendar": r.off_calendar,
                "gaps_checked_from": r.gaps_checked_from,
                "price_field": r.price_field, "has_volume": r.has_volume, "source": r.source,
            } for r in reports],
        })
        return 0
    print(f"{'ticker':<10} {'first':<10} {'last':<10} {'rows':>6} {'calendar':<8} "
          f"{'gaps':>5} {'volume':<6} price")
    for r in reports:
        print(f"{r.ticker:<10} {r.first!s:<10} {r.last!s:<10} {r.rows:>6} {r.calendar:<8} "
              f"{len(r.gaps):>5} {'yes' if r.has_volume else 'no':<6} {r.price_field}")
        for g in r.gaps[:5]:
            print(f"{'':<10} gap {g.first}..{g.last} ({g.sessions} sessions missing)")
        if len(r.gaps) > 5:
            print(f"{'':<10} ... {len(r.gaps) - 5} more gaps (see --json)")
        if r.gaps_checked_from > r.first:
            print(f"{'':<10} gaps checked from {r.gaps_checked_from} (calendar known from then)")
        if r.off_calendar:
            print(f"{'':<10} {r.off_calendar} rows on days the {r.calendar} calendar is closed")
    print(f"{len(reports)} series")
    return 0


def cmd_data_fetch(args) -> int:
    from core.yahoo import fetch

    if args.start and args.end and args.start > args.end:
        raise UsageError(f"--start {args.start} is after --end {args.end}")
    results = fetch(args.tickers, args.start, args.end)
    if args.json:
        emit_json({"fetched": [{"ticker": f.ticker, "rows": f.rows, "first": f.first,
                                "last": f.last, "path": f.path,
                                "fetched_at": f.fetched_at.isoformat()} for f in results]})
    else:
        for f in results:
            print(f"{f.ticker}: {f.rows} rows {f.first}..{f.last} -> {f.path}")
    return 0


def cmd_beta(args) -> int:
    from core.beta import ols_beta, rolling_beta
    from core.errors import DataError

    if args.asset == args.benchmark:
        raise UsageError("--asset and --benchmark are the same ticker")
    market, start, end = _market(args, args.data)
    _notices(market)
    tickers = [args.asset, args.benchmark]
    returns = market.returns(tickers, start, end, min_returns=max(args.window or 0, 3))
    y, x = returns[args.asset].to_numpy(), returns[args.benchmark].to_numpy()
    try:
        fit = ols_beta(y, x)
    except ValueError as exc:
        raise DataError(args.benchmark, str(exc)) from None
    out = {
        "asset": args.asset, "benchmark": args.benchmark,
        "start": returns.index[0].date(), "end": returns.index[-1].date(),
        "alpha": fit.alpha, "beta": fit.beta, "r_squared": fit.r_squared,
        "alpha_tstat": fit.alpha_tstat, "beta_tstat": fit.beta_tstat,
        "alpha_stderr": fit.alpha_stderr, "beta_stderr": fit.beta_stderr, "n_obs": fit.n_obs,
        "conventions": "OLS with intercept of daily simple returns (asset on benchmark) on the "
                       "dates both have; alpha is per day",
    }
    if args.window:
        rb = rolling_beta(y, x, args.window)
        out["window"] = args.window
        out["rolling_beta"] = [{"date": d.date(), "beta": b}
                               for d, b in zip(returns.index[args.window - 1:],
                                               rb[args.window - 1:], strict=True)]
    if args.json:
        emit_json(out)
        return 0
    print(f"{args.asset} on {args.benchmark}, {out['start']}..{out['end']}, n = {fit.n_obs} "
          "daily returns (OLS with intercept)")
    print(f"  beta  {fit.beta:9.4f}  (se {fit.beta_stderr:.4f}, t {fit.beta_tstat:.2f})")
    print(f"  alpha {fit.alpha:9.6f}  per day (se {fit.alpha_stderr:.6f}, "
          f"t {fit.alpha_tstat:.2f})")
    print(f"  R²    {fit.r_squared:9.4f}")
    if args.window:
        last = out["rolling_beta"][-1]
        print(f"  rolling {args.window}-day beta: {len(out['rolling_beta'])} values, "
              f"last {last['beta']:.4f} on {last['date']}")
    return 0


def cmd_config_check(args) -> int:
    from core.sources import load_market

    cfg = _config(args)
    market = load_market(cfg)
    _notices(market)
    summary = {"config": cfg.path, "source": cfg.data.source, "benchmark": cfg.data.benchmark,
               "holdings": len(cfg.book.holdings), "hedges": len(cfg.book.hedges),
               "tickers": len(market.tickers), "valid": True}
    if args.json:
        emit_json(summary)
    else:
        print(f"{cfg.path}: valid ({summary['holdings']} holdings, {summary['hedges']} hedge "
              f"legs, {cfg.data.source} data with {summary['tickers']} series)")
    return 0


COMMANDS = {
    ("data", "check"): cmd_data_check,
    ("data", "fetch"): cmd_data_fetch,
    ("beta", None): cmd_beta,
    ("config", "check"): cmd_config_check,
}


def log_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "hedgedesk" / "hedgedesk.log"


def _setup_logging() -> None:
    root = logging.getLogger()
    if any(getattr(h, "_hedgedesk", False) for h in root.handlers):
        return  # main() may run more than once in a process (tests, embedding)
    path = log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler._hedgedesk = True
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def run_desk(config: str | None) -> int:
    from core.config import load_config, resolve_config_path
    from tui.app import DeskApp

    cfg = load_config(resolve_config_path(config))
    DeskApp(cfg).run()
    return 0


def main(argv: list[str] | None = None) -> int:
    _setup_logging()
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            return run_desk(args.config)
        key = (args.command, getattr(args, f"{args.command}_command", None))
        return COMMANDS[key](args)
    except HedgedeskError as exc:
        print(f"hedgedesk: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hedgedesk: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into head & co.: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # a bug: one line for the user, the traceback in the log
        log.exception("unexpected error")
        print(f"hedgedesk: internal error: {type(exc).__name__}: {exc} "
              f"(traceback in {log_path()})", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())

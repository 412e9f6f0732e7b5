"""Pieces every ``hedgedesk`` subcommand shares: argument types, one-line usage errors, JSON
output, and loading the config and market data the command asks for.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
from dataclasses import dataclass

from hedgedesk.core.bounds import DATE_SPAN, sensible
from hedgedesk.core.errors import HedgedeskError
from hedgedesk.core.jsonable import jsonable

CONFIG_HELP = (
    "desk config file (default: $HEDGEDESK_CONFIG, else "
    "~/.config/hedgedesk/config.toml, else the built-in demo desk)"
)


class UsageError(HedgedeskError):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse would print usage too)
        # a subcommand names itself; the top level is already named by "hedgedesk: error:"
        where = f"{self.prog}: " if " " in self.prog else ""
        raise UsageError(f"{where}{message} (see {self.prog} --help)")


@dataclass(frozen=True)
class Parents:
    """Argument groups subcommands inherit: ``common`` (--config, --json), ``dates``
    (--start, --end), ``window`` (the dates and how price files are read: --yield, --resample).
    """

    common: argparse.ArgumentParser
    dates: argparse.ArgumentParser
    window: argparse.ArgumentParser


def make_parents() -> Parents:
    common = Parser(add_help=False)
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help=CONFIG_HELP)
    common.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    dates = Parser(add_help=False)
    dates.add_argument(
        "--start",
        type=date_arg,
        metavar="YYYY-MM-DD",
        help="first date used (prices before it are dropped)",
    )
    dates.add_argument("--end", type=date_arg, metavar="YYYY-MM-DD", help="last date used")
    window = Parser(add_help=False, parents=[dates])
    add_market_options(window)
    return Parents(common, dates, window)


def add_market_options(parser: argparse.ArgumentParser) -> None:
    """--yield and --resample: how the --data files are read (with config data, its [data]
    yields and resample apply; these flags add to or override them).
    """
    parser.add_argument(
        "--yield",
        dest="yields",
        action="append",
        type=yield_arg,
        metavar="T[=M]",
        help="series T holds yields in percent: read it as a constant-maturity bond's total "
        "return, maturity M years (default 10); repeat for more",
    )
    parser.add_argument(
        "--resample",
        choices=("weekly", "monthly"),
        help="take the last observation of each week or month of every series (needed to mix "
        "daily with weekly or monthly data)",
    )


def yield_arg(text: str) -> tuple[str, float]:
    ticker, sep, years = text.partition("=")
    ticker = ticker.strip()
    maturity = 10.0
    if sep:
        try:
            maturity = float(years)
        except ValueError:
            maturity = math.nan
    if not ticker or not (0 < maturity <= 100):
        raise argparse.ArgumentTypeError(
            f"invalid yield {text!r}: expected TICKER or TICKER=YEARS with YEARS in (0, 100]"
        )
    return ticker, maturity


def date_arg(text: str) -> dt.date:
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid date {text!r}: expected YYYY-MM-DD") from None
    if not sensible(day):
        raise argparse.ArgumentTypeError(f"date {text!r} out of range: expected one {DATE_SPAN}")
    return day


def whole_arg(minimum: int, maximum: int | None = None):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum or (maximum is not None and value > maximum):
            expected = f">= {minimum}" if maximum is None else f"in {minimum}..{maximum}"
            raise argparse.ArgumentTypeError(
                f"invalid value {text!r}: expected a whole number {expected}"
            )
        return value

    return parse


def number_arg(lo: float | None = None, hi: float | None = None, lo_open: bool = False):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid number {text!r}") from None
        below = lo is not None and (value <= lo if lo_open else value < lo)
        if not math.isfinite(value) or below or (hi is not None and value > hi):
            bounds = " and ".join(
                b
                for b in (
                    f"{'>' if lo_open else '>='} {lo:g}" if lo is not None else "",
                    f"<= {hi:g}" if hi is not None else "",
                )
                if b
            )
            raise argparse.ArgumentTypeError(
                f"invalid number {text!r}: expected a finite number {bounds}".rstrip()
            )
        return value

    return parse


def tickers_arg(text: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"invalid ticker list {text!r}")
    return names


def emit_json(obj: dict) -> None:
    sys.stdout.write(json.dumps(jsonable(obj), indent=2, allow_nan=False) + "\n")


def load_cfg(args):
    from hedgedesk.core.config import load_config, resolve_config_path

    return load_config(resolve_config_path(getattr(args, "config", None)))


def market_for(args, paths, tickers=None):
    """Market data from --data/positional paths, else from the config's data source, and the
    date range to use: --start/--end, else (config data only) the config's data.start/end.
    ``tickers``: the series the command uses, when known (a folder's other files are then
    read only if one of them is missing; see load_paths).
    """
    start, end = getattr(args, "start", None), getattr(args, "end", None)
    yields = dict(getattr(args, "yields", None) or [])
    resample = getattr(args, "resample", None)
    if paths:
        from hedgedesk.core.data.price_files import load_paths

        market = load_paths(paths, tickers, yields)
    else:
        from hedgedesk.core.data.sources import load_market
        from hedgedesk.core.data.yields import with_yields

        cfg = load_cfg(args)
        market = with_yields(load_market(cfg), yields)
        start, end = start or cfg.data.start, end or cfg.data.end
    if resample:
        market = market.resampled(resample)
    for n in market.notices:
        print(f"notice: {n}", file=sys.stderr)
    return market, start, end

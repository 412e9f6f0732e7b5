"""``hedgedesk import``: positions from a broker CSV (hedgedesk.core.book.broker) into a book.

Without ``--out`` it shows what the import would do to the config's book and writes nothing;
with ``--out NEW.toml`` it writes the config with the imported book there (``--force`` to
overwrite a file, the base config itself included) and loads it back.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hedgedesk.tui.cli.common import Parents, emit_json, load_cfg, number_arg

CONVENTIONS = (
    "quantities: shares (holdings), contracts (futures, options; x multiplier units), coins, "
    "currency units; cost_basis USD per share; strike in the underlying's price unit; "
    "volatility annual fraction, for option legs the book did not have: the import default "
    "(modelled, not a quote) unless the file gives one; merge keeps the book's other rows, "
    "replace drops them and takes the file's cash"
)


def map_arg(text: str) -> tuple[str, str]:
    symbol, sep, ticker = text.partition("=")
    if not sep or not symbol.strip() or not ticker.strip():
        raise argparse.ArgumentTypeError(
            f"invalid mapping {text!r}: expected SYMBOL=TICKER (e.g. SPX=SP500)"
        )
    return symbol.strip().upper(), ticker.strip()


def add_parsers(sub, parents: Parents) -> dict:
    from hedgedesk.core.book.broker import DEFAULT_VOL, LAYOUTS

    p = sub.add_parser(
        "import",
        parents=[parents.common],
        help="positions from a broker CSV (generic or Interactive Brokers Flex) into the book: "
        "a preview, or a new config with --out",
    )
    p.add_argument("path", metavar="PATH", help="the broker's CSV export")
    p.add_argument(
        "--layout",
        choices=("auto", *LAYOUTS),
        default="auto",
        help="file layout (default auto: ibkr when the header is a Flex Open Positions one)",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--merge",
        dest="mode",
        action="store_const",
        const="merge",
        help="keep the book's rows the file does not hold (default)",
    )
    mode.add_argument(
        "--replace",
        dest="mode",
        action="store_const",
        const="replace",
        help="the book becomes the file's positions (and its cash, when it has any)",
    )
    p.add_argument(
        "--map",
        action="append",
        type=map_arg,
        default=[],
        metavar="SYMBOL=TICKER",
        help="price a broker symbol (stock, option root, futures code) from this data "
        "ticker; repeat for more",
    )
    p.add_argument(
        "--vol",
        type=number_arg(0, 5, lo_open=True),
        default=DEFAULT_VOL,
        metavar="V",
        help=f"volatility of new option legs, 0.25 = 25 %% (default {DEFAULT_VOL:g}; "
        "modelled, not a quote)",
    )
    p.add_argument("--out", metavar="NEW.toml", help="write the config with the imported book")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.add_argument(
        "--no-check",
        action="store_true",
        help="do not value the imported book on the config's market data first",
    )
    return {("import", None): cmd_import}


def _check(cfg) -> None:
    """The imported book must load and value on the config's market data, as on the desk."""
    from hedgedesk.core.book.check import check_book
    from hedgedesk.core.data.sources import load_market
    from hedgedesk.core.errors import HedgedeskError

    try:
        check_book(cfg, load_market(cfg))
    except HedgedeskError as exc:
        raise HedgedeskError(
            f"not imported, the book does not value on the data: {exc}; map a broker symbol "
            "to a data ticker with --map SYMBOL=TICKER (or give --no-check)"
        ) from None


def cmd_import(args) -> int:
    from hedgedesk.core.book.broker import (
        options_for,
        plan_book,
        planned_config,
        read_positions,
        write_book_config,
    )

    cfg = load_cfg(args)
    mode = args.mode or "merge"
    options = options_for(cfg, args.vol, dict(args.map))
    imported = read_positions(args.path, args.layout, options)
    plan = plan_book(cfg.book, imported, mode, args.vol)
    check = None if args.no_check else _check
    written = None
    book = None
    if args.out:
        book = write_book_config(cfg, plan, Path(args.out), args.force, check).book
        written = str(Path(args.out).expanduser())
    elif check is not None:
        check(planned_config(cfg, plan)[1])
    if args.json:
        book_json = None
        if book is not None:
            book_json = {"holdings": len(book.holdings), "hedges": len(book.hedges)}
            book_json["cash"] = book.cash
        emit_json(
            {
                "file": imported.file,
                "layout": imported.layout,
                "rows": imported.rows,
                "as_of": imported.as_of,
                "base_config": str(cfg.path),
                "mode": mode,
                "holdings": list(imported.holdings),
                "hedges": list(imported.hedges),
                "cash": imported.cash,
                "notes": list(imported.notes),
                "changes": list(plan.changes),
                "volatility": {"default": args.vol, "legs": list(plan.default_vol)},
                "written": written,
                "checked": check is not None,
                "book": book_json,
                "conventions": CONVENTIONS,
            }
        )
        return 0
    as_of = f", as of {imported.as_of}" if imported.as_of else ""
    print(
        f"{imported.file}: {imported.layout} layout, {imported.rows} row(s){as_of}: "
        f"{len(imported.holdings)} holding(s), {len(imported.hedges)} hedge leg(s)"
        + (f", cash {imported.cash:,.2f} USD" if imported.cash is not None else "")
    )
    for note in imported.notes:
        print(f"  note: {note}")
    print(f"{mode} into {cfg.path}:")
    for change in plan.changes or ("no change",):
        print(f"  {change}")
    if plan.default_vol:
        print(
            f"volatility {args.vol:g} (import default, modelled, not a quote) on: "
            + ", ".join(plan.default_vol)
        )
    if written:
        print(f"wrote {written}: {len(book.holdings)} holding(s), {len(book.hedges)} leg(s)")
    else:
        print("nothing written: give --out NEW.toml to write the config with this book")
    return 0

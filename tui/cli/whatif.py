"""``hedgedesk whatif``: the named what-ifs kept beside the book (``desk.whatifs.toml``, saved
from the desk's What-ifs screen): list, show, compare side by side with the saved book, remove,
and save one as a new book file.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hedgedesk.tui.cli.common import Parents, emit_json, load_cfg


def add_parsers(sub, parents: Parents) -> dict:
    """Register ``whatif`` and its actions on ``sub``; return {(command, action): handler}."""
    common = parents.common
    w = sub.add_parser("whatif", help="named what-ifs beside the book: list, show, compare, rm")
    w_sub = w.add_subparsers(dest="whatif_command", metavar="ACTION", required=True)
    w_sub.add_parser("list", parents=[common], help="the what-ifs: name, created, rows, shocks")
    show = w_sub.add_parser(
        "show", parents=[common], help="one what-if: its book's rows, its shocks, its figures"
    )
    show.add_argument("name", metavar="NAME")
    cmp = w_sub.add_parser(
        "compare",
        parents=[common],
        help="NAV, beta, dollar Greeks and VaR 95 %% of the saved book and each what-if",
    )
    cmp.add_argument("names", nargs="*", metavar="NAME", help="default: every what-if")
    rm = w_sub.add_parser("rm", parents=[common], help="remove a what-if")
    rm.add_argument("name", metavar="NAME")
    save_as = w_sub.add_parser(
        "save-as",
        parents=[common],
        help="write the config with a what-if's book to a new file (shocks are not a book's: "
        "they stay in the what-if)",
    )
    save_as.add_argument("name", metavar="NAME")
    save_as.add_argument("path", type=Path, metavar="PATH", help="the new config file")
    save_as.add_argument("--force", action="store_true", help="overwrite PATH if it exists")
    return {
        ("whatif", "list"): cmd_list,
        ("whatif", "show"): cmd_show,
        ("whatif", "compare"): cmd_compare,
        ("whatif", "rm"): cmd_rm,
        ("whatif", "save-as"): cmd_save_as,
    }


def _conventions() -> dict:
    from hedgedesk.core.book.whatifs import CONVENTIONS

    return {
        **CONVENTIONS,
        "file": "<config stem>.whatifs.toml beside the config, [[whatif]] tables with "
        "[[whatif.holdings]] and [[whatif.hedges]] as the config's [book] tables",
    }


def _shocks(shocks) -> str:
    return ", ".join(f"{t} {v:+.1%}" for t, v in shocks.items()) or "none"


def cmd_list(args: argparse.Namespace) -> int:
    from hedgedesk.core.book.whatifs import load_whatifs, whatifs_path

    cfg = load_cfg(args)
    whatifs = load_whatifs(cfg.path)
    if args.json:
        emit_json(
            {
                "config": cfg.path,
                "file": whatifs_path(cfg.path),
                "whatifs": [
                    {
                        "name": w.name,
                        "created": w.created,
                        "holdings": len(w.holdings),
                        "hedges": len(w.hedges),
                        "shocks": dict(w.shocks),
                    }
                    for w in whatifs
                ],
                "conventions": _conventions(),
            }
        )
        return 0
    if not whatifs:
        print(f"no what-ifs beside {cfg.path} (save one on the desk: n, then a)")
        return 0
    print(f"{'name':<24}{'created (UTC)':<22}{'holdings':>9}{'hedges':>8}  shocks")
    for w in whatifs:
        print(
            f"{w.name:<24}{w.created:%Y-%m-%d %H:%M:%S}   {len(w.holdings):>9}{len(w.hedges):>8}"
            f"  {_shocks(w.shocks)}"
        )
    return 0


def _market(args):
    from hedgedesk.tui.cli.common import market_for

    market, _, _ = market_for(args, None)
    return market


def cmd_show(args: argparse.Namespace) -> int:
    from hedgedesk.core.book.whatifs import book_figures, find_whatif, whatif_config

    cfg = load_cfg(args)
    w = find_whatif(cfg.path, args.name)
    figures = book_figures(whatif_config(cfg, w), _market(args), w.name, w.shocks)
    if args.json:
        emit_json({**w.as_dict(), "figures": figures.as_dict(), "conventions": _conventions()})
        return 0
    print(f"{w.name}  (created {w.created:%Y-%m-%d %H:%M:%S} UTC)  shocks: {_shocks(w.shocks)}")
    for h in w.holdings:
        print(f"  holding {h.get('ticker', '?'):<24}{h.get('quantity', '?')!s:>12}")
    for h in w.hedges:
        print(
            f"  hedge   {h.get('name', '?'):<24}{h.get('quantity', '?')!s:>12}  "
            f"{h.get('instrument', '')} {h.get('underlying', '')}"
        )
    _table([figures])
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from hedgedesk.core.book.whatifs import compare, find_whatif, load_whatifs

    cfg = load_cfg(args)
    names = list(dict.fromkeys(args.names))
    whatifs = [find_whatif(cfg.path, n) for n in names] if names else load_whatifs(cfg.path)
    figures = compare(cfg, _market(args), whatifs)
    if args.json:
        emit_json(
            {
                "config": cfg.path,
                "books": [f.as_dict() for f in figures],
                "conventions": _conventions(),
            }
        )
        return 0
    _table(figures)
    return 0


def _table(figures) -> None:
    """Side by side: a row per figure, a column per book (saved first)."""
    from hedgedesk.core.book.whatifs import FIGURE_LABELS

    width = max(12, *(len(f.name) + 2 for f in figures))
    print(f"{'':<10}" + "".join(f"{f.name[: width - 2]:>{width}}" for f in figures))
    for key, label in FIGURE_LABELS.items():
        cells = []
        for f in figures:
            v = getattr(f, key)
            if key == "beta":
                cells.append(f"{v:+.3f}")
            elif key == "var_95":
                cells.append(f"{v:.2%}")
            else:
                cells.append(f"{v:,.0f}")
        print(f"{label:<10}" + "".join(f"{c:>{width}}" for c in cells))
    print(f"{'VaR 95% $':<10}" + "".join(f"{f.var_95_usd:>{width},.0f}" for f in figures))
    print(
        f"{'shocks':<10}" + "".join(f"{_shocks(f.shocks)[: width - 2]:>{width}}" for f in figures)
    )
    print("VaR: historical 1-day at 95 %, fraction of NAV; Greeks in USD (see --json conventions)")


def cmd_rm(args: argparse.Namespace) -> int:
    from hedgedesk.core.book.whatifs import delete_whatif

    cfg = load_cfg(args)
    path = delete_whatif(cfg.path, args.name)
    if args.json:
        emit_json({"removed": args.name, "file": path, "conventions": _conventions()})
    else:
        print(f"removed what-if {args.name!r} from {path}")
    return 0


def cmd_save_as(args: argparse.Namespace) -> int:
    from hedgedesk.core.book.edit import BookEditor
    from hedgedesk.core.book.whatifs import find_whatif

    cfg = load_cfg(args)
    w = find_whatif(cfg.path, args.name)
    editor = BookEditor(cfg)
    editor.load_book(list(w.holdings), list(w.hedges))
    new = editor.save_as(args.path, force=args.force)
    if args.json:
        emit_json(
            {
                "name": w.name,
                "path": new.path,
                "holdings": len(new.book.holdings),
                "hedges": len(new.book.hedges),
                "shocks_not_saved": dict(w.shocks),
                "conventions": {
                    "file": "the config as it is, its [book] rows replaced by the what-if's "
                    "(comments and layout of the rows kept); shocks are not part of a book"
                },
            }
        )
    else:
        print(f"wrote {new.path}: the config with what-if {w.name!r}'s book")
        if w.shocks:
            print(f"  (its shocks {_shocks(w.shocks)} are not part of a book: not written)")
    return 0

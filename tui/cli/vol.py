"""``hedgedesk vol surface``: a chain's implied-volatility surface and its repricing check."""

from __future__ import annotations

import time
from pathlib import Path

from hedgedesk.tui.cli.common import Parents, UsageError, date_arg, emit_json, load_cfg, number_arg

VOL_CONVENTIONS = {
    "vol": "implied volatility, annualised, as a fraction (0.2 = 20 %); Black-76 on the "
    "forward for each quote's mid (bid + ask) / 2",
    "time": "years = calendar days from the quote date to the expiry / 365; an expiry quoted "
    "on its own expiry day is skipped",
    "forward": "put-call parity F = K + exp(rT) (C - P), median over the 5 strikes where call "
    "and put mids are closest; else spot x exp((r - q) T)",
    "quotes": "bid > 0, ask > 0 and bid <= ask (zero-bid and crossed skipped); out of the money "
    "only: puts below the forward, calls at or above it",
    "strike_interpolation": "total variance w = vol^2 T linear in k = ln(K / F) between quoted "
    "strikes; flat vol beyond the lowest and highest quoted strikes",
    "expiry_interpolation": "at a fixed strike, total variance linear in T between expiries; "
    "flat vol before the first and after the last",
    "moneyness": "grid columns are K / F (1.0 = at the forward)",
    "check": "each used quote repriced from the surface at its strike and expiry; within = "
    "bid <= model <= ask; worst_miss = largest |model - mid| (price per unit of the underlying); "
    "left_out: each interior quote priced from the interpolation between its two neighbours",
}


def add_parsers(sub, parents: Parents) -> dict:
    """Register ``vol surface`` on ``sub``; return {(command, action): handler}."""
    vol = sub.add_parser("vol", help="option chains and their implied-volatility surface")
    vol_sub = vol.add_subparsers(dest="vol_command", metavar="ACTION", required=True)
    surface = vol_sub.add_parser(
        "surface",
        parents=[parents.common],
        help="the implied-vol grid (expiries x moneyness) of one quote date and the check that "
        "each used quote reprices within its bid-ask spread",
    )
    surface.add_argument(
        "--chain",
        action="append",
        metavar="PATH",
        help="option-chain CSV (the SPX_2018.csv layout or the generic one); repeat for more "
        "(default: the config's [data] option_chains)",
    )
    surface.add_argument(
        "--underlying", metavar="T", help="the chain's underlying (needed when it holds several)"
    )
    surface.add_argument(
        "--date",
        type=date_arg,
        metavar="YYYY-MM-DD",
        help="quote date (default: the latest with an expiry after it)",
    )
    surface.add_argument(
        "--rate",
        type=number_arg(-0.5, 1.0),
        metavar="R",
        help="continuously compounded annual rate as a fraction (default: the config's "
        "[risk] rate with config chains, else 0)",
    )
    surface.add_argument(
        "--all-dates",
        action="store_true",
        help="run the repricing check on every quote date of the underlying",
    )
    return {("vol", "surface"): cmd_vol_surface}


def _chains(args):
    from hedgedesk.core.data.option_chains import load_chains

    if args.chain:
        return load_chains(Path(p).expanduser() for p in args.chain), args.rate or 0.0
    cfg = load_cfg(args)
    if not cfg.data.option_chains:
        raise UsageError(
            "vol surface: no --chain PATH and the config has no [data] option_chains: "
            "expected an option-chain file"
        )
    rate = cfg.risk.rate if args.rate is None else args.rate
    return load_chains(cfg.data.option_chains), rate


def cmd_vol_surface(args) -> int:
    from hedgedesk.core.book.vol_surface import GRID_MONEYNESS, build_surface, reprice_check
    from hedgedesk.core.errors import DataError

    start = time.perf_counter()
    chains, rate = _chains(args)
    names = sorted({c.underlying for c in chains})
    underlying = args.underlying or (names[0] if len(names) == 1 else None)
    if underlying is None:
        raise UsageError(
            f"vol surface: the chains quote {', '.join(names)}: choose one with --underlying"
        )
    mine = [c for c in chains if c.underlying == underlying]
    if not mine:
        raise UsageError(
            f"vol surface: --underlying {underlying!r} is not in the chains "
            f"(expected one of {', '.join(names)})"
        )
    if args.date is not None:
        chosen = [c for c in mine if c.quote_date == args.date]
        if not chosen:
            raise UsageError(
                f"vol surface: --date {args.date} has no {underlying} quotes "
                f"(quote dates {mine[0].quote_date}..{mine[-1].quote_date})"
            )
        surf = build_surface(chosen[0], rate)
    else:
        usable = [c for c in mine if any(e > c.quote_date for e in c.expiries)]
        if not usable:
            raise DataError(underlying, "every expiry is quoted on its own expiry day or after")
        surf = build_surface(usable[-1], rate)
    surfaces, skipped = [surf], []
    if args.all_dates:
        surfaces = []
        for c in mine:
            try:
                surfaces.append(build_surface(c, rate))
            except DataError as exc:
                skipped.append({"quote_date": c.quote_date, "reason": exc.problem})
    check = reprice_check(surfaces, time.perf_counter() - start)
    grid = surf.grid(GRID_MONEYNESS)
    if args.json:
        emit_json(
            {
                "underlying": underlying,
                "quote_date": surf.quote_date,
                "rate": rate,
                "spot": surf.spot,
                "source": surf.source,
                "counts": surf.counts,
                "moneyness": list(GRID_MONEYNESS),
                "expiries": [
                    {
                        "expiry": s.expiry,
                        "years": s.t,
                        "forward": s.forward,
                        "forward_source": s.forward_source,
                        "quotes_used": len(s.strikes),
                        "strikes": [float(s.strikes[0]), float(s.strikes[-1])],
                        "vols": vols,
                    }
                    for s, vols in grid
                ],
                "check": {
                    "quote_dates": [x.quote_date for x in surfaces],
                    "dates_skipped": skipped,
                    "quotes": check.quotes,
                    "within_spread": check.within,
                    "share_within": check.share,
                    "worst_miss": check.worst_miss,
                    "worst": check.worst,
                    "seconds": check.seconds,
                    "left_out": {
                        "quotes": check.left_out,
                        "within_spread": check.left_out_within,
                        "worst_miss": check.left_out_worst_miss,
                    },
                },
                "conventions": VOL_CONVENTIONS,
            }
        )
        return 0
    c = surf.counts
    print(
        f"{underlying} implied vols quoted {surf.quote_date} (rate {rate:.2%}; "
        f"{c['used']} of {c['quoted']} quotes used: {c['zero_bid']} zero-bid, "
        f"{c['crossed']} crossed, {c['in_the_money']} in the money, "
        f"{c['expired']} expired, {c['no_implied_vol']} without an implied vol)"
    )
    print(
        f"{'expiry':<10} {'years':>6} {'forward':>9} "
        + " ".join(f"{m:>6.0%}" for m in GRID_MONEYNESS)
        + "  K/F"
    )
    for s, vols in grid:
        print(
            f"{s.expiry!s:<10} {s.t:>6.3f} {s.forward:>9.2f} "
            + " ".join(f"{v:>6.1%}" for v in vols)
        )
    print(
        "strikes: total variance linear in ln(K/F), flat vol beyond the quoted strikes; "
        "expiries: total variance linear in T, flat outside"
    )
    dates = f"{len(surfaces)} quote dates" if args.all_dates else str(surf.quote_date)
    print(
        f"repricing check ({dates}): {check.within} of {check.quotes} used quotes within "
        f"their bid-ask spread ({check.share:.1%}); worst |model - mid| {check.worst_miss:.3g}"
        f" ({check.worst}); {check.seconds:.2f} s"
    )
    if check.left_out:
        print(
            f"interpolation check: {check.left_out_within} of {check.left_out} interior quotes "
            "priced from their neighbours alone are within their spread "
            f"({check.left_out_within / check.left_out:.1%}); worst |model - mid| "
            f"{check.left_out_worst_miss:.3g}"
        )
    for s in skipped:
        print(f"skipped {s['quote_date']}: {s['reason']}")
    return 0

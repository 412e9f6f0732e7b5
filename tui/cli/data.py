"""Data commands: ``data check``, ``data fetch``, ``beta`` and ``config check``."""

from __future__ import annotations

from hedgedesk.tui.cli.common import (
    Parents,
    UsageError,
    add_market_options,
    emit_json,
    load_cfg,
    market_for,
    whole_arg,
)


def add_parsers(sub, parents: Parents) -> dict:
    """Register the subcommands on ``sub``; return {(command, action): handler}."""
    common, window = parents.common, parents.window
    data = sub.add_parser("data", help="check and fetch market data")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    check = data_sub.add_parser(
        "check",
        parents=[common],
        help="load and validate price files; list each series with its range, rows and gaps",
    )
    check.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="files or folders (default: the config's data source)",
    )
    add_market_options(check)
    fetch = data_sub.add_parser(
        "fetch",
        parents=[common, parents.dates],  # downloads: nothing to read as yields or resample
        help="download daily prices from Yahoo into the local cache",
    )
    fetch.add_argument("tickers", nargs="+", metavar="TICKER")

    beta = sub.add_parser(
        "beta",
        parents=[common, window],
        help="OLS beta of an asset or a basket on a benchmark, and of the statically hedged "
        "series (CONVENTIONS)",
    )
    beta.add_argument(
        "--data",
        action="append",
        metavar="PATH",
        help="price file or folder; repeat for more (default: the config's data)",
    )
    beta.add_argument(
        "--asset",
        required=True,
        metavar="T|NAME=T1+T2[@equal|@volume]",
        help="a ticker, or a basket of two or more (equal weights by default; @volume: "
        "weights by 30-day mean volume, as the sweep's baskets)",
    )
    beta.add_argument("--benchmark", required=True, metavar="T")
    beta.add_argument(
        "--window",
        type=whole_arg(3),
        metavar="W",
        help="also report the rolling beta over W daily returns",
    )

    cfg = sub.add_parser("config", help="validate a desk config")
    cfg_sub = cfg.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    cfg_sub.add_parser(
        "check",
        parents=[common],
        help="validate the config and its tickers against its market data",
    )
    return {
        ("data", "check"): cmd_data_check,
        ("data", "fetch"): cmd_data_fetch,
        ("beta", None): cmd_beta,
        ("config", "check"): cmd_config_check,
    }


DATA_CHECK_CONVENTIONS = (
    "frequency from the median spacing of each series' dates; periods per year 252 daily "
    "(365 on a 7-day calendar), 52 weekly, 12 monthly; a yield series (percent) is the total "
    "return of a constant-maturity par bond with semi-annual coupons, index starting at 1.0 "
    "(CONVENTIONS, 'Returns and annualisation', 'Yields and FX')"
)


def _kind(r) -> str:
    from hedgedesk.core.data.yields import yield_label

    return r.price_field if r.maturity is None else yield_label(r.maturity)


def cmd_data_check(args) -> int:
    market, _, _ = market_for(args, args.paths)
    reports = market.reports()
    if args.json:
        emit_json(
            {
                "conventions": DATA_CHECK_CONVENTIONS,
                "count": len(reports),
                "notices": list(market.notices),
                "series": [
                    {
                        "ticker": r.ticker,
                        "first": r.first,
                        "last": r.last,
                        "rows": r.rows,
                        "calendar": r.calendar,
                        "frequency": r.frequency,
                        "periods_per_year": market.series_periods(r.ticker),
                        "date_format": r.date_format or None,
                        "notes": list(r.notes),
                        "is_yield": r.maturity is not None,
                        "maturity_years": r.maturity,
                        "gaps": [
                            {"first": g.first, "last": g.last, "sessions": g.sessions}
                            for g in r.gaps
                        ],
                        "missing_sessions": r.missing_sessions,
                        "off_calendar": r.off_calendar,
                        "gaps_checked_from": r.gaps_checked_from,
                        "price_field": r.price_field,
                        "has_volume": r.has_volume,
                        "source": r.source,
                    }
                    for r in reports
                ],
            }
        )
        return 0
    print(
        f"{'ticker':<10} {'first':<10} {'last':<10} {'rows':>6} {'calendar':<8} "
        f"{'frequency':<9} {'N':>3} {'gaps':>5} {'volume':<6} price"
    )
    for r in reports:
        n = market.series_periods(r.ticker)
        print(
            f"{r.ticker:<10} {r.first!s:<10} {r.last!s:<10} {r.rows:>6} {r.calendar:<8} "
            f"{r.frequency:<9} {n or '-':>3} {len(r.gaps):>5} {'yes' if r.has_volume else 'no':<6} "
            f"{_kind(r)}"
        )
        for note in r.notes:
            print(f"{'':<10} {note}")
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
    from hedgedesk.core.data.yahoo import fetch

    if args.start and args.end and args.start > args.end:
        raise UsageError(f"--start {args.start} is after --end {args.end}")
    results = fetch(args.tickers, args.start, args.end)
    if args.json:
        emit_json(
            {
                "fetched": [
                    {
                        "ticker": f.ticker,
                        "rows": f.rows,
                        "first": f.first,
                        "last": f.last,
                        "path": f.path,
                        "fetched_at": f.fetched_at.isoformat(),
                    }
                    for f in results
                ],
                "conventions": "daily prices from Yahoo through yfinance, end date inclusive; "
                "adjusted close where Yahoo gives one; one Parquet cache file per ticker",
            }
        )
    else:
        for f in results:
            print(f"{f.ticker}: {f.rows} rows {f.first}..{f.last} -> {f.path}")
    return 0


def _fit_json(fit) -> dict:
    return {
        "alpha": fit.alpha,
        "beta": fit.beta,
        "r_squared": fit.r_squared,
        "alpha_tstat": fit.alpha_tstat,
        "beta_tstat": fit.beta_tstat,
        "alpha_stderr": fit.alpha_stderr,
        "beta_stderr": fit.beta_stderr,
        "n_obs": fit.n_obs,
    }


def cmd_beta(args) -> int:
    from hedgedesk.core.beta import rolling_beta, static_hedge
    from hedgedesk.core.errors import DataError
    from hedgedesk.core.sweep.backtest import VOLUME_WINDOW, leg_returns
    from hedgedesk.core.sweep.grid import parse_leg

    leg = parse_leg(args.asset, "--asset")
    if leg.name == args.benchmark and not leg.is_basket:
        raise UsageError("--asset and --benchmark are the same ticker")
    if args.benchmark in leg.tickers:
        raise UsageError(f"--asset: the basket {leg.name} holds the benchmark {args.benchmark}")
    need = max(args.window or 0, 3)
    tickers = [*leg.tickers, args.benchmark]
    market, start, end = market_for(args, args.data, tickers)
    if leg.is_basket:
        long_r, bench_r = leg_returns(
            market, list(leg.tickers), args.benchmark, leg.weighting, start, end
        )
        if len(long_r) < need:
            raise DataError(
                args.asset,
                f"too little history: {len(long_r)} basket returns in "
                f"{start or 'first'}..{end or 'last'}, need at least {need}",
            )
        index = long_r.index
        y, x = long_r.to_numpy(), bench_r.to_numpy()
    else:
        returns = market.returns(tickers, start, end, min_returns=need)
        index = returns.index
        y, x = returns[leg.name].to_numpy(), returns[args.benchmark].to_numpy()
    try:
        hedge = static_hedge(y, x)
    except ValueError as exc:
        raise DataError(args.benchmark, str(exc)) from None
    fit = hedge.first
    from hedgedesk.core.data.calendar import period_words

    often, one = period_words(market.periods_per_year(tickers))  # monthly data: per month
    out = {
        "asset": leg.name,
        "benchmark": args.benchmark,
        "start": index[0].date(),
        "end": index[-1].date(),
        **_fit_json(fit),
        "hedged": {
            "series": f"{leg.name} - {hedge.hedge_ratio:.6g} x {args.benchmark}",
            "hedge_ratio": hedge.hedge_ratio,
            **_fit_json(hedge.hedged),
        },
        "conventions": f"OLS with intercept of {often} simple returns (asset on benchmark) on "
        f"the dates both have; alpha is per {one}; hedged: the static hedge, asset - beta x "
        "benchmark with the full-sample beta, regressed on the benchmark again (beta 0 in "
        "sample)",
    }
    if leg.is_basket:
        out["basket"] = {
            "members": list(leg.tickers),
            "weighting": leg.weighting,
            "rule": "equal: the mean of the members' daily returns"
            if leg.weighting == "equal"
            else f"volume: each member's mean volume over the {VOLUME_WINDOW} sessions before "
            "the day, normalised; re-weighted daily (returns start after that warm-up)",
        }
    if args.window:
        rb = rolling_beta(y, x, args.window)
        out["window"] = args.window
        out["rolling_beta"] = [
            {"date": d.date(), "beta": b}
            for d, b in zip(index[args.window - 1 :], rb[args.window - 1 :], strict=True)
        ]
    if args.json:
        emit_json(out)
        return 0
    what = (
        f"{leg.name} ({'+'.join(leg.tickers)}, {leg.weighting}-weighted)"
        if leg.is_basket
        else leg.name
    )
    print(
        f"{what} on {args.benchmark}, {out['start']}..{out['end']}, n = {fit.n_obs} "
        f"{often} returns (OLS with intercept)"
    )
    print(f"  beta  {fit.beta:9.4f}  (se {fit.beta_stderr:.4f}, t {fit.beta_tstat:.2f})")
    print(
        f"  alpha {fit.alpha:9.6f}  per {one} (se {fit.alpha_stderr:.6f}, t {fit.alpha_tstat:.2f})"
    )
    print(f"  R²    {fit.r_squared:9.4f}")
    h = hedge.hedged
    print(f"hedged {out['hedged']['series']} on {args.benchmark} (static, full-sample beta)")
    print(f"  beta  {h.beta:9.2e}  (se {h.beta_stderr:.4f}: 0 in sample by construction)")
    print(f"  alpha {h.alpha:9.6f}  per {one} (se {h.alpha_stderr:.6f}, t {h.alpha_tstat:.2f})")
    print(f"  R²    {h.r_squared:9.4f}")
    if args.window:
        last = out["rolling_beta"][-1]
        print(
            f"  rolling {args.window}-{one} beta: {len(out['rolling_beta'])} values, "
            f"last {last['beta']:.4f} on {last['date']}"
        )
    return 0


def cmd_config_check(args) -> int:
    cfg = load_cfg(args)
    market, _, _ = market_for(args, None)
    summary = {
        "config": cfg.path,
        "source": cfg.data.source,
        "benchmark": cfg.data.benchmark,
        "holdings": len(cfg.book.holdings),
        "hedges": len(cfg.book.hedges),
        "tickers": len(market.tickers),
        "valid": True,
        "conventions": "valid: every key and value checked as the desk loads it, and every "
        "ticker the config names found in its market data",
    }
    if args.json:
        emit_json(summary)
    else:
        print(
            f"{cfg.path}: valid ({summary['holdings']} holdings, {summary['hedges']} hedge "
            f"legs, {cfg.data.source} data with {summary['tickers']} series)"
        )
    return 0

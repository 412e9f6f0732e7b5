"""Data commands: ``data check``, ``data fetch``, ``beta`` and ``config check``."""

from __future__ import annotations

from hedgedesk.tui.cli.common import Parents, UsageError, emit_json, load_cfg, market_for, whole_arg


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
    fetch = data_sub.add_parser(
        "fetch",
        parents=[common, window],
        help="download daily prices from Yahoo into the local cache",
    )
    fetch.add_argument("tickers", nargs="+", metavar="TICKER")

    beta = sub.add_parser(
        "beta", parents=[common, window], help="OLS beta of an asset on a benchmark (CONVENTIONS)"
    )
    beta.add_argument(
        "--data",
        action="append",
        metavar="PATH",
        help="price file or folder; repeat for more (default: the config's data)",
    )
    beta.add_argument("--asset", required=True, metavar="T")
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


def cmd_data_check(args) -> int:
    market, _, _ = market_for(args, args.paths)
    reports = market.reports()
    if args.json:
        emit_json(
            {
                "count": len(reports),
                "notices": list(market.notices),
                "series": [
                    {
                        "ticker": r.ticker,
                        "first": r.first,
                        "last": r.last,
                        "rows": r.rows,
                        "calendar": r.calendar,
                        "periods_per_year": market.periods_per_year([r.ticker]),
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
        f"{'gaps':>5} {'volume':<6} price"
    )
    for r in reports:
        print(
            f"{r.ticker:<10} {r.first!s:<10} {r.last!s:<10} {r.rows:>6} {r.calendar:<8} "
            f"{len(r.gaps):>5} {'yes' if r.has_volume else 'no':<6} {r.price_field}"
        )
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
                ]
            }
        )
    else:
        for f in results:
            print(f"{f.ticker}: {f.rows} rows {f.first}..{f.last} -> {f.path}")
    return 0


def cmd_beta(args) -> int:
    from hedgedesk.core.beta import ols_beta, rolling_beta
    from hedgedesk.core.errors import DataError

    if args.asset == args.benchmark:
        raise UsageError("--asset and --benchmark are the same ticker")
    tickers = [args.asset, args.benchmark]
    market, start, end = market_for(args, args.data, tickers)
    returns = market.returns(tickers, start, end, min_returns=max(args.window or 0, 3))
    y, x = returns[args.asset].to_numpy(), returns[args.benchmark].to_numpy()
    try:
        fit = ols_beta(y, x)
    except ValueError as exc:
        raise DataError(args.benchmark, str(exc)) from None
    out = {
        "asset": args.asset,
        "benchmark": args.benchmark,
        "start": returns.index[0].date(),
        "end": returns.index[-1].date(),
        "alpha": fit.alpha,
        "beta": fit.beta,
        "r_squared": fit.r_squared,
        "alpha_tstat": fit.alpha_tstat,
        "beta_tstat": fit.beta_tstat,
        "alpha_stderr": fit.alpha_stderr,
        "beta_stderr": fit.beta_stderr,
        "n_obs": fit.n_obs,
        "conventions": "OLS with intercept of daily simple returns (asset on benchmark) on the "
        "dates both have; alpha is per day",
    }
    if args.window:
        rb = rolling_beta(y, x, args.window)
        out["window"] = args.window
        out["rolling_beta"] = [
            {"date": d.date(), "beta": b}
            for d, b in zip(returns.index[args.window - 1 :], rb[args.window - 1 :], strict=True)
        ]
    if args.json:
        emit_json(out)
        return 0
    print(
        f"{args.asset} on {args.benchmark}, {out['start']}..{out['end']}, n = {fit.n_obs} "
        "daily returns (OLS with intercept)"
    )
    print(f"  beta  {fit.beta:9.4f}  (se {fit.beta_stderr:.4f}, t {fit.beta_tstat:.2f})")
    print(f"  alpha {fit.alpha:9.6f}  per day (se {fit.alpha_stderr:.6f}, t {fit.alpha_tstat:.2f})")
    print(f"  R²    {fit.r_squared:9.4f}")
    if args.window:
        last = out["rolling_beta"][-1]
        print(
            f"  rolling {args.window}-day beta: {len(out['rolling_beta'])} values, "
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
    }
    if args.json:
        emit_json(summary)
    else:
        print(
            f"{cfg.path}: valid ({summary['holdings']} holdings, {summary['hedges']} hedge "
            f"legs, {cfg.data.source} data with {summary['tickers']} series)"
        )
    return 0

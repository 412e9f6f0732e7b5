"""A backtest's report, after the hedge notebook: the regression of the long leg on the hedge,
hedged against unhedged against benchmark equity, and the beta at each rebalance.
"""

from __future__ import annotations

import numpy as np

from hedgedesk.core.beta import ols_beta
from hedgedesk.core.data.market import MarketData
from hedgedesk.core.report import charts
from hedgedesk.core.report.document import Chart, Col, Section, Table
from hedgedesk.core.sweep.backtest import leg_returns, run_backtest

REBALANCE_ROWS = 30  # the rebalance table shows the last rows; report.json carries them all
PARAMETERS = (
    ("long", "long leg"),
    ("hedge", "hedge"),
    ("weighting", "basket weighting"),
    ("rebalance", "P: rebalance every (days)"),
    ("window", "W: beta window (returns)"),
    ("exposure", "k: exposure"),
    ("hedge_ratio", "h: hedge ratio"),
    ("cost", "c: cost per unit traded"),
    ("drift_band", "d: drift band"),
    ("rf", "rf (annual)"),
    ("capital", "capital"),
    ("first_return", "first return"),
    ("last_return", "last return"),
    ("n_days", "daily returns"),
    ("periods_per_year", "periods per year"),
)


def _regression(market: MarketData, p: dict) -> tuple[Table, dict]:
    long_r, hedge_r = leg_returns(
        market, p["long"], p["hedge"], p["weighting"], p["start"], p["end"]
    )
    fit = ols_beta(long_r.to_numpy(), hedge_r.to_numpy())
    periods = p["periods_per_year"]
    rows = [
        ["alpha (daily)", fit.alpha, fit.alpha_stderr, fit.alpha_tstat],
        [
            f"alpha (x{periods}, annual)",
            fit.alpha * periods,
            fit.alpha_stderr * periods,
            fit.alpha_tstat,
        ],
        ["beta", fit.beta, fit.beta_stderr, fit.beta_tstat],
    ]
    table = Table(
        "regression",
        [Col("coefficient"), Col("estimate", "num4"), Col("std error", "num4"), Col("t", "num2")],
        rows,
        caption=f"Regression of {'+'.join(p['long'])} on {p['hedge']}: "
        f"R² {fit.r_squared:.4f}, {fit.n_obs:,} daily returns",
        note="r_long = alpha + beta r_hedge + e, OLS on every daily simple return of "
        "the backtest's span; t-statistics against 0 (CONVENTIONS)",
    )
    return table, {
        "alpha": fit.alpha,
        "beta": fit.beta,
        "r_squared": fit.r_squared,
        "alpha_tstat": fit.alpha_tstat,
        "beta_tstat": fit.beta_tstat,
        "n_obs": fit.n_obs,
    }


def backtest_section(market: MarketData, params: dict) -> Section:
    """``params``: run_backtest's keyword arguments (long, hedge, rebalance, window, ...)."""
    res = run_backtest(market, **params)
    p = {**res.params, "weighting": params.get("weighting", "equal")}
    m = res.metrics
    name = "+".join(p["long"])
    s = Section("backtest", f"Backtest: {name} hedged with {p['hedge']}")
    span = f"data {p['first_return']}..{p['last_return']}, {p['n_days']:,} daily returns"
    shown = {**res.params, "long": ", ".join(res.params["long"])}
    s.add(
        Table(
            "backtest_parameters",
            [Col("parameter"), Col("value")],
            [[label, shown.get(key)] for key, label in PARAMETERS],
            caption="Configuration (CONVENTIONS dynamic-beta backtest)",
        )
    )
    reg, fit = _regression(market, p)
    s.add(reg)
    rows = []
    for label, perf in (
        ("hedged", m),
        ("unhedged (h = 0)", m["unhedged"]),
        (f"benchmark ({p['hedge']} buy and hold)", m["benchmark"]),
    ):
        rows.append(
            [
                label,
                perf["annual_return"],
                perf["annual_volatility"],
                perf["sharpe"],
                perf["sortino"],
                perf["max_drawdown"],
                perf["calmar"],
            ]
        )
    s.add(
        Table(
            "performance",
            [
                Col("curve"),
                Col("annual return", "pct"),
                Col("volatility", "pct"),
                Col("Sharpe", "num3"),
                Col("Sortino", "num3"),
                Col("max DD", "pct"),
                Col("Calmar", "num3"),
            ],
            rows,
            caption="Performance",
            note=f"annual return geometric, volatility and Sharpe annualised "
            f"x{p['periods_per_year']} (sqrt for volatility), rf {p['rf']:.2%}; "
            f"hedge effectiveness {m['hedge_effectiveness']:.4f} (1 - var hedged / "
            f"var unhedged), turnover {m['turnover']:.3f} a year",
        )
    )
    s.figures = {
        "params": {
            k: str(v) if k in ("start", "end", "first_return", "last_return") else v
            for k, v in res.params.items()
        },
        "regression": fit,
        "metrics": m,
        "rebalances": [
            {"date": str(d.date()), **{k: float(v) for k, v in r.items()}}
            for d, r in res.rebalances.iterrows()
        ],
    }
    s.add(
        Chart(
            "backtest_equity",
            charts.curves(
                res.dates,
                {
                    "hedged": res.equity,
                    "unhedged": res.unhedged,
                    f"{p['hedge']} buy and hold": res.benchmark,
                },
                f"{name} hedged with {p['hedge']}",
                "equity",
            ),
            f"Equity from {p['capital']:,.0f}: the first point is the close before the first "
            f"hedge, when the book is flat; costs included, benchmark without ({span})",
        )
    )
    reb = res.rebalances
    betas = reb["beta"].to_numpy()
    if np.isfinite(betas).any():
        s.add(
            Chart(
                "backtest_beta",
                charts.steps(
                    reb.index,
                    betas,
                    "Beta at each rebalance",
                    f"OLS beta over {p['window']} returns",
                ),
                f"The beta each rebalance sized the hedge with: OLS slope over the {p['window']} "
                f"returns up to the rebalance day ({span})",
            )
        )
    last = reb.tail(REBALANCE_ROWS)
    cash = "money" if p["capital"] >= 1000 else "num4"  # notionals per unit of a small capital
    s.add(
        Table(
            "rebalances",
            [
                Col("date"),
                Col("beta", "num3"),
                Col("long notional", cash),
                Col("short notional", cash),
                Col("traded", cash),
                Col("cost", cash),
            ],
            [
                [
                    str(d.date()),
                    r["beta"],
                    r["long_notional"],
                    r["short_notional"],
                    r["traded"],
                    r["cost"],
                ]
                for d, r in last.iterrows()
            ],
            caption=f"The last {len(last)} of {len(reb)} rebalances",
            note="every rebalance is in report.json (sections.backtest.figures.rebalances)",
        )
    )
    return s

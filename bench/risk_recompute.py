"""Benchmark: a full risk recompute of a 20-leg book after a what-if edit.

The book is the demo desk plus options to make 20 lines (10 holdings, 1 future, 9 options);
history is 2 years (504 days) with full revaluation of every option under every day. The
market state (closes, betas, return history) is prepared once, as the desk does on data load;
each recompute values the book, its Greeks, the P&L history, VaR/CVaR and the alerts.

Baseline, in the same process: the same historical P&L computed day by day with scalar option
pricing (what a straightforward loop does). Prints milliseconds per recompute and the ratio.
Run: python bench/risk_recompute.py
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import replace

import numpy as np

from hedgedesk.core.book.options import price_and_greeks
from hedgedesk.core.book.risk import risk_report
from hedgedesk.core.book.valuation import Line, book_lines, market_state, time_to_expiry
from hedgedesk.core.config import load_config
from hedgedesk.core.data.sources import load_market
from hedgedesk.core.demo import demo_config_path
from hedgedesk.core.instruments import OPTION


def twenty_lines(cfg, state) -> list[Line]:
    lines = book_lines(cfg)
    spx = state.closes["SP500"]
    extra = []
    for i, moneyness in enumerate((0.85, 0.90, 0.95, 1.00)):
        extra.append(
            Line(
                f"SPX put {i}",
                OPTION,
                "SP500",
                1,
                100.0,
                is_hedge=True,
                right="put",
                strike=round(spx * moneyness),
                vol=0.22 + 0.02 * i,
                expiry=state.asof + dt.timedelta(days=30 + 30 * i),
                model="bsm",
                div=0.016,
            )
        )
    for t in ("MSFT", "JPM", "XOM"):
        extra.append(
            Line(
                f"{t} call",
                OPTION,
                t,
                -2,
                100.0,
                is_hedge=True,
                right="call",
                strike=round(state.closes[t] * 1.05),
                vol=0.30,
                expiry=state.asof + dt.timedelta(days=45),
                model="bsm",
            )
        )
    return lines + extra


def baseline_pnl(lines, state) -> np.ndarray:
    """Day-by-day, line-by-line, scalar pricing: the plain loop."""
    out = np.zeros(len(state.returns))
    for d in range(len(state.returns)):
        for ln in lines:
            r = float(state.returns[ln.underlying].iloc[d])
            u0 = ln.scale * state.closes[ln.underlying]
            q = ln.quantity * ln.multiplier
            if ln.kind == OPTION:
                t0 = time_to_expiry(ln, state.asof)
                v0 = float(
                    price_and_greeks(
                        "bsm", ln.right, u0, ln.strike, t0, state.rate, ln.div, ln.vol
                    ).price
                )
                v1 = float(
                    price_and_greeks(
                        "bsm",
                        ln.right,
                        u0 * (1 + r),
                        ln.strike,
                        max(t0 - 1 / 365, 1e-8),
                        state.rate,
                        ln.div,
                        ln.vol,
                    ).price
                )
                out[d] += q * (v1 - v0)
            else:
                out[d] += q * u0 * r
    return out


def best_of(fn, repeats: int) -> float:
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    cfg = load_config(demo_config_path())  # the demo desk, whatever the user config
    cfg = replace(cfg, risk=replace(cfg.risk, var_window=504))
    state = market_state(cfg, load_market(cfg))
    lines = twenty_lines(cfg, state)
    assert len(lines) == 20 and len(state.returns) == 504
    fast = best_of(lambda: risk_report(cfg, state, lines), 20)
    slow = best_of(lambda: baseline_pnl(lines, state), 2)
    report = risk_report(cfg, state, lines)
    same = np.allclose(report.book_returns * report.valuation.nav, baseline_pnl(lines, state))
    print(
        f"book: {len(lines)} lines ({sum(ln.kind == OPTION for ln in lines)} options), "
        f"{len(state.returns)} days of history, full revaluation"
    )
    print(
        f"full risk recompute (valuation, Greeks, P&L history, VaR/CVaR, alerts): "
        f"{fast * 1e3:.2f} ms (target < 20 ms)"
    )
    print(f"baseline day-by-day scalar loop, P&L history only: {slow * 1e3:.1f} ms")
    print(f"ratio baseline / recompute: {slow / fast:.0f}x; same P&L: {same}")


if __name__ == "__main__":
    main()

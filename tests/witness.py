"""Independent witnesses shared by several test files: written from CONVENTIONS alone, never
from the engine's code.
"""

from __future__ import annotations

import math

import pandas as pd
from scipy.stats import norm


def bsm(right: str, s: float, k: float, t: float, r: float, q: float, v: float) -> dict:
    """Black-Scholes-Merton price and delta with a continuous dividend yield (closed form)."""
    sq = math.sqrt(t)
    d1 = (math.log(s / k) + (r - q + 0.5 * v * v) * t) / (v * sq)
    d2 = d1 - v * sq
    dq, dr = math.exp(-q * t), math.exp(-r * t)
    if right == "call":
        return {"price": s * dq * norm.cdf(d1) - k * dr * norm.cdf(d2), "delta": dq * norm.cdf(d1)}
    return {"price": k * dr * norm.cdf(-d2) - s * dq * norm.cdf(-d1), "delta": -dq * norm.cdf(-d1)}


def returns_of(prices: pd.DataFrame, cols: list[str], start=None, end=None) -> pd.DataFrame:
    """Inner join of ``cols``, clipped to [start, end], then simple returns (CONVENTIONS)."""
    p = prices[cols]
    if start is not None:
        p = p[p.index >= pd.Timestamp(start)]
    if end is not None:
        p = p[p.index <= pd.Timestamp(end)]
    p = p.dropna(how="any")
    return (p / p.shift(1) - 1.0).iloc[1:]


def sweep_metrics(
    curve,
    r_hedge,
    first: int,
    split: int,
    n_blocks: int,
    rf_d: float,
    periods: float,
    rolling: int = 63,
    block_from: int | None = None,
) -> dict:
    """The sweep's extra figures of one equity curve, by plain numpy from their definitions.

    ``curve``: ``E[0..n]`` (any scale), ``E[j]`` the equity at the end of day ``first + j - 1``;
    ``r_hedge``: the hedge's daily returns indexed by day; ``split``: the first out-of-sample
    day; ``rf_d``: per-period risk-free rate. Returns residual_beta (mean |OLS slope| of the
    curve's returns on the hedge's over each ``rolling``-return window ending on a day
    ``t >= first + rolling``, i.e. the first return, which carries only the first trade, never
    enters), consistency (share of ``j = rolling..n`` with ``E[j] > E[j - rolling]``), the
    in-sample snapshot (``is_*``, the same figures of the curve cut at day ``split - 1``),
    shift (the first return) and the CSCV block sums of ``R - shift`` and its square over the
    days ``block_from..`` (default ``first``) of the curve: with ``nb`` such days, the return of
    day ``block_from + q`` is in block ``q * n_blocks // nb``. Figures of a curve (or cut) with
    fewer than 2 returns are NaN, as ``hedgedesk.core.metrics.performance`` refuses them, but for
    its
    drawdown.
    """
    import numpy as np

    e = np.asarray(curve, dtype=np.float64)
    e = e / e[0]
    n = len(e) - 1
    r = e[1:] / e[:-1] - 1.0  # r[q]: the return of day first + q
    h = np.asarray(r_hedge, dtype=np.float64)

    def consistency(eq):
        m = len(eq) - 1
        if m < rolling:
            return math.nan
        return float(np.mean(eq[rolling:] > eq[:-rolling]))

    def drawdown(eq):
        return float(np.min(eq / np.maximum.accumulate(eq) - 1.0))

    slopes = []
    for q in range(rolling, n):  # day t = first + q, window days t - rolling + 1..t
        y = r[q - rolling + 1 : q + 1]
        x = h[first + q - rolling + 1 : first + q + 1]
        dx = x - x.mean()
        slopes.append(abs(float(np.sum(dx * (y - y.mean())) / np.sum(dx * dx))))
    out = {
        "residual_beta": float(np.mean(slopes)) if slopes else math.nan,
        "consistency": consistency(e),
        "shift": float(r[0]),
    }

    m = max(min(split, first + n) - first, 0)
    out["is_n"] = m
    if m == 0:
        out.update(
            is_annual_return=math.nan,
            is_sharpe=math.nan,
            is_max_drawdown=math.nan,
            is_consistency=math.nan,
        )
    else:
        cut = e[: m + 1]
        rr = r[:m]
        sharpe = annual = math.nan
        if m >= 2:
            annual = float(cut[-1] ** (periods / m) - 1.0)
            if np.std(rr, ddof=1) > 0:
                sharpe = float(np.mean(rr - rf_d) / np.std(rr, ddof=1) * math.sqrt(periods))
        out.update(
            is_annual_return=annual,
            is_sharpe=sharpe,
            is_max_drawdown=drawdown(cut),
            is_consistency=consistency(cut),
        )

    skip = 0 if block_from is None else block_from - first
    nb = n - skip
    blocks = np.array([q * n_blocks // nb for q in range(nb)])
    x = r[skip:] - r[0]
    out["block_sum1"] = np.array([x[blocks == b].sum() for b in range(n_blocks)])
    out["block_sum2"] = np.array([(x[blocks == b] ** 2).sum() for b in range(n_blocks)])
    out["block_count"] = np.array([(blocks == b).sum() for b in range(n_blocks)])
    return out

"""Independent witnesses shared by several test files: written from CONVENTIONS alone, never
from the engine's code.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TypeVar

import pandas as pd
from scipy.stats import norm

T = TypeVar("T")


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


# -- which configurations are one strategy (witness of hedgedesk.core.sweep.stream.canonical) --
def _number(v: float | None) -> float | None:
    """A row's optional number: None where it is missing (None, or NaN from a table)."""
    return None if v is None or math.isnan(v) else float(v)


def strategy_key(row: dict) -> tuple:
    """What decides a configuration's outcome, so that rows with one key are one strategy.

    Read from the kernel (``hedgedesk.core.sweep.kernel.simulate``, witness
    ``hedgedesk.core.sweep.backtest.dynamic_beta_hedge``), with hedge ratio h = 0 the hedge target
    ``h x beta`` is 0 whatever beta is:

    - the estimator (OLS, or EWMA and its half-life) drops out: beta is only read to stop on an
      undefined one, and every estimator is undefined on the same windows (constant hedge
      returns);
    - the drift band d reduces to d = 0 or d > 0: with no hedge the ratio S / L stays 0, equal
      to the target, so any d > 0 never trades again after the first rebalance (unless the
      long leg is flat), while d = 0 resets the long leg to k x equity at every rebalance;
    - the window W stays: the first trade is on day W - 1, so W decides the days traded (and
      which windows may stop on an undefined beta); the rebalance period P stays (with d = 0 it
      sets the trades; with d > 0 the days beta is checked); exposure, cost and impact stay.

    With h > 0 every parameter counts. ``row``: a leaderboard row or a per-configuration
    record (``ticker``, ``rebalance``, ``window``, ``estimator``, ``halflife``,
    ``exposure``, ``hedge_ratio``, ``drift_band``, ``cost``, optional ``impact``, ``hedge``).
    """
    h = float(row["hedge_ratio"])
    band = float(row["drift_band"])
    estimator: tuple[str, float | None] | None = None
    drift: bool | float = band > 0.0
    if h != 0.0:
        halflife = None if row["estimator"] == "ols" else _number(row.get("halflife"))
        estimator = (row["estimator"], halflife)
        drift = band
    impact = _number(row.get("impact"))
    return (
        row["ticker"],
        row.get("hedge"),
        int(row["rebalance"]),
        int(row["window"]),
        estimator,
        float(row["exposure"]),
        h,
        drift,
        float(row["cost"]),
        0.0 if impact is None else impact,
    )


def group_same(rows: Sequence[T], key: Callable[[T], tuple]) -> list[list[T]]:
    """Rows that are one strategy, grouped: the groups in the order of their first row (the
    leaderboard's rank), each group's rows in the order given.

    Parameters
    ----------
    rows : sequence
        Leaderboard rows, in rank order: dicts as the ledger holds them, or typed rows.
    key : callable
        The strategy a row stands for: :func:`strategy_key` for dicts, or a function that
        reads a typed row into it.

    Returns
    -------
    list of list
        One list per strategy, its best-ranked row first.
    """
    groups: dict[tuple, list[T]] = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    return list(groups.values())

"""Independent witnesses shared by several test files: written from CONVENTIONS alone, never
from the engine's code."""

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

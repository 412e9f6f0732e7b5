"""OLS beta of an asset's daily returns on a benchmark's (CONVENTIONS: intercept included).

Closed-form simple regression; the tests hold it equal to statsmodels' OLS on the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

# Benchmark returns spanning less than this are constant up to rounding: beta is undefined
# (a benchmark growing at a fixed rate would otherwise give betas of 1e12).
MIN_BENCHMARK_SPAN = 1e-14


@dataclass(frozen=True)
class BetaFit:
    """``r_a = alpha + beta * r_b + e`` fitted by OLS; alpha is daily, t-stats against 0."""

    alpha: float
    beta: float
    r_squared: float
    alpha_stderr: float
    beta_stderr: float
    alpha_tstat: float
    beta_tstat: float
    n_obs: int


def ols_beta(asset: np.ndarray, bench: np.ndarray) -> BetaFit:
    """Fit on paired daily returns (1-d arrays of equal length n >= 3, benchmark not constant)."""
    y = np.asarray(asset, dtype=np.float64)
    x = np.asarray(bench, dtype=np.float64)
    n = len(y)
    if n != len(x) or n < 3:
        raise ValueError(f"need two equal-length return series of at least 3 points, got {n}")
    xm, ym = x.mean(), y.mean()
    dx, dy = x - xm, y - ym
    sxx = dx @ dx
    if np.ptp(x) <= MIN_BENCHMARK_SPAN:
        raise ValueError("benchmark returns are constant over the window: beta is undefined")
    beta = (dx @ dy) / sxx
    alpha = ym - beta * xm
    resid = dy - beta * dx
    sse = resid @ resid
    syy = dy @ dy
    s2 = sse / (n - 2)
    beta_se = np.sqrt(s2 / sxx)
    alpha_se = np.sqrt(s2 * (1.0 / n + xm * xm / sxx))
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = 1.0 - sse / syy if syy > 0 else np.nan
        return BetaFit(
            float(alpha),
            float(beta),
            float(r2),
            float(alpha_se),
            float(beta_se),
            float(alpha / alpha_se),
            float(beta / beta_se),
            n,
        )


def rolling_beta(asset: np.ndarray, bench: np.ndarray, window: int) -> np.ndarray:
    """OLS slope over each trailing window of ``window`` returns; element i uses returns
    i-window+1..i, so the first window-1 elements are NaN. Shape (n,).
    """
    y = np.asarray(asset, dtype=np.float64)
    x = np.asarray(bench, dtype=np.float64)
    out = np.full(len(y), np.nan)
    if window < 3 or len(y) < window:
        return out
    xw = sliding_window_view(x, window)
    yw = sliding_window_view(y, window)
    dx = xw - xw.mean(axis=1, keepdims=True)
    dy = yw - yw.mean(axis=1, keepdims=True)
    sxx = np.einsum("ij,ij->i", dx, dx)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.einsum("ij,ij->i", dx, dy) / sxx
    flat = np.ptp(xw, axis=1) <= MIN_BENCHMARK_SPAN
    out[window - 1 :] = np.where(flat, np.nan, slope)
    return out

"""Beta of an asset's daily returns on a benchmark's (CONVENTIONS: OLS with intercept).

Closed-form simple regression, over the whole sample (:func:`ols_beta`, with standard errors)
or over each trailing window (:func:`rolling_beta`, OLS or weighted), and the static hedge's
second regression (:func:`static_hedge`); the tests hold them equal to statsmodels on the same
rows.
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
    """``r_a = alpha + beta * r_b + e`` fitted by OLS on daily simple returns.

    ``alpha`` is a daily return (a fraction), ``beta`` a plain number; the standard errors are
    in the same units and the t-statistics test against 0; ``n_obs``: days fitted.
    """

    alpha: float
    beta: float
    r_squared: float
    alpha_stderr: float
    beta_stderr: float
    alpha_tstat: float
    beta_tstat: float
    n_obs: int


def ols_beta(asset: np.ndarray, bench: np.ndarray) -> BetaFit:
    """Fit the asset's returns on the benchmark's by OLS with intercept.

    Parameters
    ----------
    asset, bench : array_like, shape (n,)
        Paired daily simple returns, as fractions; n >= 3 and the benchmark not constant
        (a ValueError otherwise).

    Returns
    -------
    BetaFit
        Coefficients, standard errors, t-statistics and R^2.
    """
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


@dataclass(frozen=True)
class StaticHedge:
    """The two regressions of a static beta hedge, as the original notebook ran them.

    Attributes
    ----------
    first : BetaFit
        The asset (or basket) on the benchmark: ``r_a = alpha + beta * r_b + e``.
    hedged : BetaFit
        The hedged series ``r_a - hedge_ratio * r_b`` on the benchmark. By construction of
        OLS its beta is 0 up to rounding and its alpha is ``first.alpha``; its R^2 is ~0 and
        its residuals are ``first``'s.
    """

    first: BetaFit
    hedged: BetaFit

    @property
    def hedge_ratio(self) -> float:
        """``first.beta``: benchmark sold per unit of the asset (a plain number), fixed over
        the whole sample.
        """
        return self.first.beta


def static_hedge(asset: np.ndarray, bench: np.ndarray) -> StaticHedge:
    """Fit the asset on the benchmark, hedge it with the full-sample beta and fit the hedged
    series on the benchmark again (the check that the static hedge leaves no beta in sample).

    Parameters
    ----------
    asset, bench : array_like, shape (n,)
        Paired daily simple returns, as fractions; n >= 3 and the benchmark not constant
        (a ValueError otherwise).

    Returns
    -------
    StaticHedge
        Both fits and the hedge ratio (benchmark per unit of asset).
    """
    y = np.asarray(asset, dtype=np.float64)
    x = np.asarray(bench, dtype=np.float64)
    first = ols_beta(y, x)
    return StaticHedge(first, ols_beta(y - first.beta * x, x))


def rolling_beta(
    asset: np.ndarray, bench: np.ndarray, window: int, weights: np.ndarray | None = None
) -> np.ndarray:
    """Slope of ``asset`` on ``bench`` (with intercept) over each trailing window of returns:
    OLS, or WLS with ``weights``. The one rolling regression: the book's beta history and the
    sweep's beta tables (``sweep.kernel.leg_tables``) both use it.

    Parameters
    ----------
    asset : array_like, shape (n,)
        Daily simple returns of the asset or long leg (the regressand), as fractions.
    bench : array_like, shape (n,)
        Daily simple returns of the benchmark or hedge (the regressor), as fractions.
    window : int
        Returns per window; two fix a slope, so a window under 2 gives no beta.
    weights : ndarray, shape (window,), optional
        WLS weight of each return of a window, oldest first (``sweep.backtest.ewma_weights``
        for EWMA); None for OLS.

    Returns
    -------
    ndarray, shape (n,)
        Element i: the slope over returns i-window+1..i (a plain number: asset return per unit
        of benchmark return). NaN for the first window-1 elements, where the benchmark's
        returns span at most ``MIN_BENCHMARK_SPAN`` over the window, and everywhere when
        n < window or window < 2.
    """
    y = np.asarray(asset, dtype=np.float64)
    x = np.asarray(bench, dtype=np.float64)
    if len(x) != len(y):
        raise ValueError(f"bench: expected {len(y)} returns, as many as asset, got {len(x)}")
    if weights is not None and len(weights) != window:
        raise ValueError(f"weights: expected {window} values, one per return, got {len(weights)}")
    out = np.full(len(y), np.nan)
    if window < 2 or len(y) < window:
        return out
    xw, yw = sliding_window_view(x, window), sliding_window_view(y, window)
    if weights is None:
        dx = xw - xw.mean(axis=1, keepdims=True)
        dy = yw - yw.mean(axis=1, keepdims=True)
        num, den = (dx * dy).sum(axis=1), (dx * dx).sum(axis=1)
    else:
        total = weights.sum()
        dx = xw - (xw @ weights)[:, None] / total
        dy = yw - (yw @ weights)[:, None] / total
        wdx = dx * weights
        num, den = (wdx * dy).sum(axis=1), (wdx * dx).sum(axis=1)
    flat = np.ptp(xw, axis=1) <= MIN_BENCHMARK_SPAN
    with np.errstate(divide="ignore", invalid="ignore"):
        out[window - 1 :] = np.where(flat, np.nan, num / den)
    return out

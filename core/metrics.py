"""Performance and tail-risk figures, exactly as CONVENTIONS defines them.

Inputs are daily simple returns (1-d float arrays) or an equity curve ``E[0..n]``; outputs are
plain floats. Annualisation uses ``periods`` (252 by default; 365 for 7-day series on their own).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


def daily_rf(rf: float, periods: int = 252) -> float:
    """Per-period rate from an annual one: ``(1 + rf)^(1/periods) - 1``.

    CONVENTIONS, "Returns and annualisation" (risk-free rate).

    Parameters
    ----------
    rf : float
        Annual risk-free rate as a fraction (0.04 = 4 %).
    periods : int
        Periods per year N: 252 for exchange-traded daily series, 365 for 7-day ones.

    Returns
    -------
    float
        The rate per period as a fraction.
    """
    return (1.0 + rf) ** (1.0 / periods) - 1.0


@dataclass(frozen=True)
class Performance:
    """Performance of an equity curve as CONVENTIONS defines it ("Performance metrics").

    Returns, volatility and drawdown are fractions (0.12 = 12 %); volatility is annualised;
    Sharpe, Sortino and Calmar are annualised ratios (NaN when their denominator is 0).
    """

    annual_return: float  # geometric
    annual_volatility: float
    sharpe: float
    sortino: float
    max_drawdown: float  # <= 0
    calmar: float
    n: int  # number of returns

    def as_dict(self) -> dict:
        """The fields by name, for JSON."""
        return asdict(self)


def max_drawdown(equity: np.ndarray) -> float:
    """``min_t (E[t] / max_{s<=t} E[s] - 1)``, the starting point included.

    CONVENTIONS, "Performance metrics".

    Parameters
    ----------
    equity : ndarray, shape (n + 1,)
        Equity curve ``E[0..n]`` (any positive unit: 1 = start, or USD).

    Returns
    -------
    float
        The deepest fall from a running peak as a fraction, <= 0 (-0.25 = a 25 % drawdown).
    """
    e = np.asarray(equity, dtype=np.float64)
    return float(np.min(e / np.maximum.accumulate(e) - 1.0))


def performance(equity: np.ndarray, rf: float = 0.0, periods: int = 252) -> Performance:
    """Metrics of an equity curve ``E[0..n]``, as CONVENTIONS "Performance metrics" defines them.

    Parameters
    ----------
    equity : ndarray, shape (n + 1,)
        Equity curve, n >= 2 returns; its returns ``R[t] = E[t] / E[t-1] - 1`` are daily
        simple returns (or per period of ``periods``).
    rf : float
        Annual risk-free rate as a fraction, compounded to a per-period rate (:func:`daily_rf`).
    periods : int
        Periods per year N used to annualise (252 for daily exchange-traded series).

    Returns
    -------
    Performance
        Geometric annual return, annualised volatility (ddof = 1), Sharpe, Sortino, max
        drawdown (<= 0), Calmar and n.

    Raises
    ------
    ValueError
        With fewer than 2 returns.
    """
    e = np.asarray(equity, dtype=np.float64)
    n = len(e) - 1
    if n < 2:
        raise ValueError(f"need an equity curve with at least 2 returns, got {n}")
    r = e[1:] / e[:-1] - 1.0
    excess = r - daily_rf(rf, periods)
    sd = r.std(ddof=1)
    downside = np.sqrt(np.mean(np.minimum(excess, 0.0) ** 2))
    ann = (e[-1] / e[0]) ** (periods / n) - 1.0 if e[-1] > 0 else -1.0
    mdd = max_drawdown(e)
    with np.errstate(divide="ignore", invalid="ignore"):
        sharpe = excess.mean() / sd * np.sqrt(periods) if sd > 0 else np.nan
        sortino = excess.mean() / downside * np.sqrt(periods) if downside > 0 else np.nan
        calmar = ann / abs(mdd) if mdd < 0 else np.nan
    return Performance(
        float(ann),
        float(sd * np.sqrt(periods)),
        float(sharpe),
        float(sortino),
        mdd,
        float(calmar),
        n,
    )


def equity_from_returns(returns: np.ndarray, start: float = 1.0) -> np.ndarray:
    """The equity curve of compounded returns: ``E[0] = start``, ``E[t] = E[t-1] * (1 + R[t])``.

    Parameters
    ----------
    returns : ndarray, shape (n,)
        Simple returns per period as fractions (0.01 = 1 %).
    start : float
        Starting equity (1, or a capital in USD).

    Returns
    -------
    ndarray, shape (n + 1,)
        The curve, in the unit of ``start``.
    """
    return start * np.concatenate([[1.0], np.cumprod(1.0 + np.asarray(returns, np.float64))])


@dataclass(frozen=True)
class TailRisk:
    """1-day VaR and CVaR as positive fractions of NAV (a loss of 2 % is 0.02)."""

    method: str  # "historical" or "parametric (normal)"
    confidence: float
    var: float
    cvar: float
    horizon_days: int = 1


def historical_var(returns: np.ndarray, confidence: float = 0.95) -> TailRisk:
    """Historical 1-day VaR = -q, q the (1 - a) quantile (linear interpolation), and
    CVaR = -mean(R[R <= q]); CONVENTIONS, "Value at risk".

    Parameters
    ----------
    returns : ndarray, shape (n_days,)
        Daily simple returns of the portfolio as fractions of NAV.
    confidence : float
        Confidence ``a`` in (0, 1) (0.95 = 95 %).

    Returns
    -------
    TailRisk
        VaR and CVaR as positive fractions of NAV (a loss of 2 % is 0.02).
    """
    r = np.asarray(returns, dtype=np.float64)
    q = np.quantile(r, 1.0 - confidence)
    return TailRisk("historical", confidence, float(-q), float(-r[r <= q].mean()))


def parametric_var(returns: np.ndarray, confidence: float = 0.95) -> TailRisk:
    """Normal 1-day VaR = -(mu + sigma z) and CVaR = -(mu - sigma phi(z) / (1 - a)), with
    ``z = z_{1-a}``, from the daily mean and sample standard deviation (ddof = 1);
    CONVENTIONS, "Value at risk".

    Parameters
    ----------
    returns : ndarray, shape (n_days,)
        Daily simple returns of the portfolio as fractions of NAV.
    confidence : float
        Confidence ``a`` in (0, 1) (0.95 = 95 %).

    Returns
    -------
    TailRisk
        VaR and CVaR as positive fractions of NAV (a loss of 2 % is 0.02).
    """
    from scipy.special import ndtri  # scipy.stats.norm.ppf bit for bit, a fraction of its import

    r = np.asarray(returns, dtype=np.float64)
    mu, sigma = r.mean(), r.std(ddof=1)
    z = ndtri(1.0 - confidence)
    pdf = np.exp(-(z**2) / 2.0) / np.sqrt(2 * np.pi)  # scipy.stats.norm.pdf's closed form
    return TailRisk(
        "parametric (normal)",
        confidence,
        float(-(mu + sigma * z)),
        float(-(mu - sigma * pdf / (1.0 - confidence))),
    )

"""Performance and tail-risk figures, exactly as CONVENTIONS defines them.

Inputs are daily simple returns (1-d float arrays) or an equity curve ``E[0..n]``; outputs are
plain floats. Annualisation uses ``periods`` (252 by default; 365 for 7-day series on their own).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import norm


def daily_rf(rf: float, periods: int = 252) -> float:
    """Per-period rate from an annual one: ``(1 + rf)^(1/periods) - 1``."""
    return (1.0 + rf) ** (1.0 / periods) - 1.0


@dataclass(frozen=True)
class Performance:
    annual_return: float  # geometric
    annual_volatility: float
    sharpe: float
    sortino: float
    max_drawdown: float  # <= 0
    calmar: float
    n: int  # number of returns

    def as_dict(self) -> dict:
        return asdict(self)


def max_drawdown(equity: np.ndarray) -> float:
    """``min_t (E[t] / max_{s<=t} E[s] - 1)``, the starting point included; <= 0."""
    e = np.asarray(equity, dtype=np.float64)
    return float(np.min(e / np.maximum.accumulate(e) - 1.0))


def performance(equity: np.ndarray, rf: float = 0.0, periods: int = 252) -> Performance:
    """Metrics of an equity curve ``E[0..n]`` (n >= 2 returns)."""
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
    """``E[0] = start``, ``E[t] = E[t-1] * (1 + R[t])``: shape (n + 1,)."""
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
    """VaR = -q, q the (1 - a) quantile (linear interpolation); CVaR = -mean(R[R <= q])."""
    r = np.asarray(returns, dtype=np.float64)
    q = np.quantile(r, 1.0 - confidence)
    return TailRisk("historical", confidence, float(-q), float(-r[r <= q].mean()))


def parametric_var(returns: np.ndarray, confidence: float = 0.95) -> TailRisk:
    """Normal VaR/CVaR from the daily mean and sample standard deviation (ddof = 1)."""
    r = np.asarray(returns, dtype=np.float64)
    mu, sigma = r.mean(), r.std(ddof=1)
    z = norm.ppf(1.0 - confidence)
    return TailRisk(
        "parametric (normal)",
        confidence,
        float(-(mu + sigma * z)),
        float(-(mu - sigma * norm.pdf(z) / (1.0 - confidence))),
    )

"""The hedging plan's toolkit applied to the configured book, every input visible: volatility
targeting and fractional Kelly from the book's own history, equal risk budgets across the
holdings, option coverage against the plan's ranges, and per-holding context signals with an
ATR stop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hedgedesk.core.book.risk import RiskReport
from hedgedesk.core.book.signals import ContextSignals, context_signals
from hedgedesk.core.book.sizing import (
    CALL_COVERAGE,
    PUT_COVERAGE,
    Kelly,
    RiskParity,
    Stop,
    VolTarget,
    atr_stop,
    fractional_kelly,
    risk_parity,
    vol_target_scale,
)
from hedgedesk.core.book.valuation import MarketState, Valuation
from hedgedesk.core.config import DeskConfig
from hedgedesk.core.data.market import MarketData
from hedgedesk.core.instruments import OPTION
from hedgedesk.core.metrics import daily_rf

KELLY_FRACTION = 0.5
ATR_STOP_MULTIPLE = 2.0


@dataclass(frozen=True)
class HoldingSignals:
    """A holding's context signals and its ATR stop."""

    ticker: str
    signals: ContextSignals
    stop: Stop | None  # None when the ATR is not yet defined


@dataclass(frozen=True)
class Coverage:
    """Option coverage of the core as fractions of its value (0.25 = 25 %), with the plan's
    ranges; NaN when the core's value is 0.
    """

    puts: float  # long put notional / core value
    calls: float  # short call notional / core value
    put_plan: tuple[float, float]
    call_plan: tuple[float, float]


@dataclass(frozen=True)
class Plan:
    """None for a figure the book cannot give (no holdings, a flat history)."""

    vol_target: VolTarget | None
    kelly: Kelly | None
    risk_parity: RiskParity | None  # across the holdings, equal budgets, annualised covariance
    risk_parity_tickers: tuple[str, ...]
    coverage: Coverage
    signals: tuple[HoldingSignals, ...]


def coverage(val: Valuation) -> tuple[float, float, float]:
    """(core value, long put notional, short call notional) of a valued book."""
    core = sum(p.market_value for p in val.positions if not p.line.is_hedge)
    opts = [p for p in val.positions if p.line.kind == OPTION]
    puts = sum(p.notional for p in opts if p.line.right == "put" and p.notional > 0)
    calls = -sum(p.notional for p in opts if p.line.right == "call" and p.notional < 0)
    return core, puts, calls


def _or_none(fn):
    try:
        return fn()
    except ValueError:  # the toolkit says why; the book simply cannot give this figure
        return None


def book_plan(cfg: DeskConfig, market: MarketData, state: MarketState, rep: RiskReport) -> Plan:
    """The hedging plan's figures for the book, from its own history.

    Volatility targeting over the last 20 of the book's daily returns against
    ``targets.volatility``; half Kelly from their annualised mean excess return (``risk.rf``)
    and variance; equal risk budgets on the holdings' annualised covariance (daily returns x
    periods per year); coverage as fractions of the core; per-holding signals on closes up to
    the as-of date with a 2-ATR stop.

    Parameters
    ----------
    cfg : DeskConfig
        The book, ``[targets]`` and ``[risk]``.
    market : MarketData
        The holdings' closes (and highs and lows, when the data has them).
    state : MarketState
        As-of date, return history and periods per year.
    rep : RiskReport
        The book's valuation and daily returns over the risk window.

    Returns
    -------
    Plan
        None for a figure the book cannot give.
    """
    val = rep.valuation
    book = rep.book_returns
    n = state.periods
    vt = _or_none(
        lambda: vol_target_scale(
            returns=book, target_vol=cfg.targets.volatility, lookback=20, periods=n
        )
    )
    excess = book - daily_rf(cfg.risk.rf, n)
    kelly = _or_none(
        lambda: fractional_kelly(
            edge=float(excess.mean() * n),
            variance=float(book.var(ddof=1) * n),
            fraction=KELLY_FRACTION,
        )
    )
    holdings = [p for p in val.positions if not p.line.is_hedge]
    tickers = tuple(dict.fromkeys(p.line.underlying for p in holdings))
    rp = (
        _or_none(lambda: risk_parity(cov=state.returns[list(tickers)].cov().to_numpy() * n))
        if tickers
        else None
    )
    core, puts, calls = coverage(val)
    cover = Coverage(
        puts / core if core else np.nan,
        calls / core if core else np.nan,
        PUT_COVERAGE,
        CALL_COVERAGE,
    )
    signals = []
    for t in tickers:
        s = market.get(t)
        keep = s.dates <= np.datetime64(val.asof, "D")
        if cfg.data.start:
            keep &= s.dates >= np.datetime64(cfg.data.start, "D")
        hi = s.high[keep] if s.high is not None else None
        lo = s.low[keep] if s.low is not None else None
        sig = context_signals(s.close[keep], hi, lo)
        stop = (
            atr_stop(price=sig.close, atr=sig.atr, multiple=ATR_STOP_MULTIPLE)
            if np.isfinite(sig.atr)
            else None
        )
        signals.append(HoldingSignals(t, sig, stop))
    return Plan(vt, kelly, rp, tickers, cover, tuple(signals))

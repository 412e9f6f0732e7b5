"""The hedging plan's toolkit applied to the configured book, every input visible: volatility
targeting and fractional Kelly from the book's own history, equal risk budgets across the
holdings, option coverage against the plan's ranges, and per-holding context signals with an
ATR stop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.config import DeskConfig
from core.instruments import OPTION
from core.market_data import MarketData
from core.metrics import daily_rf
from core.risk import RiskReport
from core.signals import ContextSignals, context_signals
from core.sizing import (
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
from core.valuation import MarketState

KELLY_FRACTION = 0.5
ATR_STOP_MULTIPLE = 2.0


@dataclass(frozen=True)
class HoldingSignals:
    ticker: str
    signals: ContextSignals
    stop: Stop | None  # None when the ATR is not yet defined


@dataclass(frozen=True)
class Coverage:
    puts: float  # long put notional / core value
    calls: float  # short call notional / core value
    put_plan: tuple[float, float]
    call_plan: tuple[float, float]


@dataclass(frozen=True)
class Plan:
    vol_target: VolTarget
    kelly: Kelly
    risk_parity: RiskParity  # across the holdings, equal budgets, annualised covariance
    risk_parity_tickers: tuple[str, ...]
    coverage: Coverage
    signals: tuple[HoldingSignals, ...]


def book_plan(cfg: DeskConfig, market: MarketData, state: MarketState, rep: RiskReport) -> Plan:
    val = rep.valuation
    book = rep.book_returns
    vt = vol_target_scale(returns=book, target_vol=cfg.targets.volatility, lookback=20)
    excess = book - daily_rf(cfg.risk.rf)
    kelly = fractional_kelly(edge=float(excess.mean() * 252), variance=float(book.var(ddof=1)
                             * 252), fraction=KELLY_FRACTION)
    holdings = [p for p in val.positions if not p.line.is_hedge]
    tickers = tuple(dict.fromkeys(p.line.underlying for p in holdings))
    rp = risk_parity(cov=state.returns[list(tickers)].cov().to_numpy() * 252)
    core = sum(p.market_value for p in holdings)
    opts = [p for p in val.positions if p.line.kind == OPTION]
    puts = sum(p.notional for p in opts if p.line.right == "put" and p.notional > 0)
    calls = -sum(p.notional for p in opts if p.line.right == "call" and p.notional < 0)
    coverage = Coverage(puts / core if core else np.nan, calls / core if core else np.nan,
                        PUT_COVERAGE, CALL_COVERAGE)
    signals = []
    for t in tickers:
        s = market.get(t)
        keep = s.dates <= np.datetime64(val.asof, "D")
        if cfg.data.start:
            keep &= s.dates >= np.datetime64(cfg.data.start, "D")
        hi = s.high[keep] if s.high is not None else None
        lo = s.low[keep] if s.low is not None else None
        sig = context_signals(s.close[keep], hi, lo)
        stop = (atr_stop(price=sig.close, atr=sig.atr, multiple=ATR_STOP_MULTIPLE)
                if np.isfinite(sig.atr) else None)
        signals.append(HoldingSignals(t, sig, stop))
    return Plan(vt, kelly, rp, tickers, coverage, tuple(signals))


"""A first valuation of the configured book at the last date of the data: holdings at their
closes with OLS betas, and each hedge leg's terms, underlying price and contract notional.

Full valuation (option prices and Greeks, delta-adjusted notional, portfolio beta) builds on this.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from core.beta import ols_beta
from core.config import DeskConfig, HedgeLeg
from core.errors import DataError
from core.instruments import CONTRACTS, FUTURE, OPTION
from core.market_data import MarketData


@dataclass(frozen=True)
class HoldingRow:
    ticker: str
    quantity: float
    price: float  # close on the as-of date
    market_value: float
    weight: float  # share of the holdings' total market value
    beta: float  # OLS beta to the benchmark over the risk window (NaN if too little history)
    pnl: float | None  # (price - cost_basis) * quantity, when a cost basis is given


@dataclass(frozen=True)
class LegRow:
    name: str
    instrument: str
    quantity: float
    multiplier: float
    underlying: str
    underlying_price: float
    notional: float  # quantity * multiplier * underlying price (contract notional, not delta-adj.)
    terms: str
    price_note: str  # how the leg's price is obtained, e.g. a proxy or a modelled volatility


@dataclass(frozen=True)
class BookSnapshot:
    asof: dt.date
    benchmark: str
    beta_window: int
    beta_returns: int  # returns actually used for each beta (window, or fewer if short)
    cash: float
    holdings: tuple[HoldingRow, ...]
    legs: tuple[LegRow, ...]

    @property
    def holdings_value(self) -> float:
        return sum(h.market_value for h in self.holdings)

    @property
    def holdings_beta(self) -> float:
        """Market-value-weighted beta of the holdings alone (hedges excluded)."""
        total = self.holdings_value
        return sum(h.beta * h.market_value for h in self.holdings) / total if total else np.nan


def _terms(leg: HedgeLeg) -> tuple[str, str]:
    if leg.instrument == OPTION:
        terms = f"{leg.right} {leg.strike:g} {leg.expiry:%d%b%y} σ{leg.volatility:.0%}"
        note = (f"implied vol {leg.volatility:.0%} from config (modelled, not a quote); "
                f"{'Black-76' if leg.model == 'black76' else 'Black-Scholes-Merton'}")
        return terms, note
    if leg.instrument == FUTURE:
        spec = CONTRACTS.get(leg.contract or "")
        terms = (f"{spec.name}, {leg.multiplier:g} {spec.unit}" if spec
                 else f"x{leg.multiplier:g}")
        return terms, f"priced from {leg.underlying} (proxy: no futures basis)"
    return "", f"{leg.underlying} close"


def snapshot(cfg: DeskConfig, market: MarketData) -> BookSnapshot:
    """Value the book at the last date the benchmark has within the configured range."""
    bench = cfg.data.benchmark
    tickers = [h.ticker for h in cfg.book.holdings]
    prices = market.prices([*dict.fromkeys([bench, *tickers, *(x.underlying
                                                                for x in cfg.book.hedges)])])
    if cfg.data.start:
        prices = prices[prices.index.date >= cfg.data.start]
    if cfg.data.end:
        prices = prices[prices.index.date <= cfg.data.end]
    bench_rows = prices[bench].dropna()
    if bench_rows.empty:
        raise DataError(bench, "no benchmark prices in the configured date range")
    asof = bench_rows.index[-1]
    last = prices.loc[asof]
    stale = [t for t in prices.columns if np.isnan(last[t])]
    if stale:  # never value at an older close silently
        raise DataError(", ".join(stale), f"no close on the as-of date {asof.date()} "
                        f"(the benchmark's last date in range)")
    window = cfg.risk.beta_window
    rows = []
    used = window
    for h in cfg.book.holdings:
        price = float(last[h.ticker])
        rets = market.returns([h.ticker, bench], cfg.data.start, asof.date()).iloc[-window:]
        used = min(used, len(rets))
        beta = (ols_beta(rets[h.ticker].to_numpy(), rets[bench].to_numpy()).beta
                if len(rets) >= 3 else np.nan)
        pnl = (price - h.cost_basis) * h.quantity if h.cost_basis else None
        rows.append(HoldingRow(h.ticker, h.quantity, price, price * h.quantity, 0.0, beta, pnl))
    total = sum(r.market_value for r in rows)
    rows = [HoldingRow(r.ticker, r.quantity, r.price, r.market_value,
                       r.market_value / total if total else np.nan, r.beta, r.pnl) for r in rows]
    legs = []
    for leg in cfg.book.hedges:
        px = float(last[leg.underlying])
        terms, note = _terms(leg)
        legs.append(LegRow(leg.name, leg.instrument, leg.quantity, leg.multiplier,
                           leg.underlying, px, leg.quantity * leg.multiplier * px, terms, note))
    return BookSnapshot(asof.date(), bench, window, used, cfg.book.cash, tuple(rows),
                        tuple(legs))

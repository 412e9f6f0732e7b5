"""The hedging plan's toolkit applied to the configured book, every input visible: volatility
targeting and fractional Kelly (``targets.kelly_fraction``) from the book's own history, with
extreme suggested leverage called out; equal risk budgets across the plan's buckets (core,
hedges, crypto, commodities, FX, volatility, sectors) and across the holdings; option coverage
against the plan's ranges; and per-holding context and tactical signals with an ATR stop.
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
from hedgedesk.core.book.valuation import Line, MarketState, Valuation, contract_price
from hedgedesk.core.config import SLEEVE_BUCKETS, DeskConfig
from hedgedesk.core.data.market import MarketData
from hedgedesk.core.errors import DataError
from hedgedesk.core.instruments import CONTRACTS, CRYPTO, FX, OPTION
from hedgedesk.core.metrics import daily_rf

ATR_STOP_MULTIPLE = 2.0
BUCKETS = ("core", "hedges", *SLEEVE_BUCKETS)


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
class BucketParity:
    """Equal risk budgets across the plan's buckets. Each bucket's daily return is its
    exposure-weighted return ``sum(e_i r_i) / sum(|e_i|)`` (``e_i`` signed dollar delta in USD,
    ``r_i`` the underlying's daily simple return): a short hedge earns minus its index.
    """

    buckets: tuple[str, ...]  # in BUCKETS order, those with an exposure
    exposures: tuple[float, ...]  # gross |dollar delta| per bucket, USD
    parity: RiskParity | None  # None with fewer than two buckets or a degenerate covariance
    notes: tuple[str, ...]  # sleeves left out and why


@dataclass(frozen=True)
class Plan:
    """None for a figure the book cannot give (no holdings, a flat history)."""

    vol_target: VolTarget | None
    kelly: Kelly | None
    risk_parity: RiskParity | None  # across the holdings, equal budgets, annualised covariance
    risk_parity_tickers: tuple[str, ...]
    coverage: Coverage
    signals: tuple[HoldingSignals, ...]
    buckets: BucketParity | None = None
    leverage_alert: float = 2.0  # multiple of NAV (targets.leverage_alert)

    @property
    def leverage_warning(self) -> str | None:
        """A sentence when the fractional Kelly leverage is beyond ``leverage_alert``."""
        k = self.kelly
        if k is None or abs(k.leverage) <= self.leverage_alert:
            return None
        return (
            f"extreme leverage: {k.fraction:g} Kelly suggests {k.leverage:.1f}x NAV, beyond "
            f"±{self.leverage_alert:g}x (targets.leverage_alert); Kelly rests on the window's "
            "mean return, an estimate too noisy to lever on"
        )


def coverage(val: Valuation) -> tuple[float, float, float]:
    """(core value, long put notional, short call notional) of a valued book."""
    core = sum(p.market_value for p in val.positions if not p.line.is_hedge)
    opts = [p for p in val.positions if p.line.kind == OPTION]
    puts = sum(p.notional for p in opts if p.line.right == "put" and p.notional > 0)
    calls = -sum(p.notional for p in opts if p.line.right == "call" and p.notional < 0)
    return core, puts, calls


def in_sleeve(line: Line, contract: str, underlying: str) -> bool:
    """Whether a book line is exposure a ``[plan]`` sleeve already has: a hedge leg (not an
    option) in the sleeve's contract or on the series the sleeve is priced from (spot coins,
    a micro contract).
    """
    return (
        line.is_hedge
        and line.kind != OPTION
        and (line.contract == contract or line.underlying == underlying)
    )


def _bucket(p) -> str:
    ln = p.line
    if not ln.is_hedge:
        return "core"
    spec = CONTRACTS.get(ln.contract or "")
    if spec is not None and spec.bucket != "hedges":  # a sleeve bucket's contract
        return spec.bucket
    return {CRYPTO: "crypto", FX: "fx"}.get(ln.kind, "hedges")


def bucket_parity(cfg: DeskConfig, state: MarketState, val: Valuation) -> BucketParity:
    """Equal risk budgets across the plan's buckets: the core (holdings), the hedge legs, and
    each sleeve bucket of ``[plan]`` (crypto, commodities, fx, volatility, sectors).

    Book legs count at their dollar delta; a ``[plan]`` sleeve counts at its target notional
    (``weight`` x NAV or ``usd``) on its proxy's returns, replacing the book legs it holds
    (:func:`in_sleeve`).

    Parameters
    ----------
    cfg : DeskConfig
        The ``[plan]`` sleeves and ``[proxies]``.
    state : MarketState
        Daily simple returns over the risk window and periods per year.
    val : Valuation
        The book's positions (dollar deltas in USD).

    Returns
    -------
    BucketParity
        Buckets and their gross exposures (USD); weights as fractions summing to 1 on the
        annualised covariance (daily covariance x periods per year) of the bucket returns.
    """
    legs: dict[str, list[tuple[str, float]]] = {}
    notes = []
    priced = []  # (contract, underlying) of each sleeve with a price
    for sl in cfg.plan.sleeves:
        if sl.contract not in CONTRACTS:
            notes.append(f"{sl.name} left out: no contract {sl.contract!r} in CONTRACTS")
            continue
        try:
            _, underlying, _ = contract_price(sl.contract, cfg, state)
        except DataError as exc:
            notes.append(f"{sl.name} left out: {exc}")
            continue
        target = sl.weight * val.nav if sl.weight is not None else float(sl.usd or 0.0)
        legs.setdefault(sl.bucket, []).append((underlying, target))
        priced.append((sl.contract, underlying))
    for p in val.positions:
        if any(in_sleeve(p.line, c, u) for c, u in priced):
            continue  # the sleeve's target stands for it
        if p.dollar_delta:
            legs.setdefault(_bucket(p), []).append((p.line.underlying, p.dollar_delta))
    names = tuple(b for b in BUCKETS if b in legs and any(e for _, e in legs[b]))
    series, gross = [], []
    for b in names:
        g = sum(abs(e) for _, e in legs[b])
        series.append(sum(e * state.returns[u].to_numpy() for u, e in legs[b]) / g)
        gross.append(g)
    parity = None
    if len(names) >= 2:
        cov = np.cov(np.vstack(series), ddof=1) * state.periods
        parity = _or_none(lambda: risk_parity(cov=cov))
    return BucketParity(names, tuple(gross), parity, tuple(notes))


def _or_none(fn):
    try:
        return fn()
    except ValueError:  # the toolkit says why; the book simply cannot give this figure
        return None


def book_plan(cfg: DeskConfig, market: MarketData, state: MarketState, rep: RiskReport) -> Plan:
    """The hedging plan's figures for the book, from its own history.

    Volatility targeting over the last 20 of the book's daily returns against
    ``targets.volatility``; ``targets.kelly_fraction`` of full Kelly from their annualised
    mean excess return (``risk.rf``) and variance, flagged beyond ``targets.leverage_alert``;
    equal risk budgets on the annualised covariance (daily returns x periods per year) of the
    plan's buckets (:func:`bucket_parity`) and of the holdings; coverage as fractions of the
    core; per-holding signals on closes up to the as-of date with a 2-ATR stop.

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
            fraction=cfg.targets.kelly_fraction,
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
    return Plan(
        vt,
        kelly,
        rp,
        tickers,
        cover,
        tuple(signals),
        bucket_parity(cfg, state, val),
        cfg.targets.leverage_alert,
    )

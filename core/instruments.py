"""Contract specifications (CONVENTIONS: multipliers) and the instrument kinds a book can hold."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the config imports this module: no pandas at its import
    from hedgedesk.core.data.market import MarketData

EQUITY = "equity"  # stocks and ETFs, quantity in shares
FUTURE = "future"  # quantity in whole contracts
OPTION = "option"  # listed calls and puts, quantity in contracts
CRYPTO = "crypto"  # spot coins, quantity in coins
FX = "fx"  # spot currency, quantity in units of the base currency
KINDS = (EQUITY, FUTURE, OPTION, CRYPTO, FX)


@dataclass(frozen=True)
class ContractSpec:
    """A futures contract: exchange code, name, units of the underlying per contract and their
    unit (CONVENTIONS, "Futures and contract sizing": one contract's notional is price x
    multiplier).
    """

    code: str
    name: str
    multiplier: float  # units of the underlying per contract
    unit: str
    quote: str = ""  # the price unit the underlying series must be in (FX: USD per base unit)
    bucket: str = "hedges"  # the plan's risk-budget bucket of a book leg in this contract


CONTRACTS: dict[str, ContractSpec] = {
    s.code: s
    for s in (
        ContractSpec("NQ", "E-mini Nasdaq-100", 20, "index points"),
        ContractSpec("MNQ", "Micro E-mini Nasdaq-100", 2, "index points"),
        ContractSpec("ES", "E-mini S&P 500", 50, "index points"),
        ContractSpec("MES", "Micro E-mini S&P 500", 5, "index points"),
        ContractSpec("GC", "Gold", 100, "troy ounces", bucket="commodities"),
        ContractSpec("CL", "WTI crude oil", 1000, "barrels", "USD per barrel", "commodities"),
        ContractSpec("MCL", "Micro WTI crude oil", 100, "barrels", "USD per barrel", "commodities"),
        ContractSpec(
            "VX", "Cboe VIX futures", 1000, "x VIX index", "VIX index points", "volatility"
        ),
        ContractSpec("6E", "Euro FX", 125_000, "EUR", "USD per EUR", "fx"),
        ContractSpec("6J", "Japanese yen", 12_500_000, "JPY", "USD per JPY", "fx"),
        ContractSpec("6B", "British pound", 62_500, "GBP", "USD per GBP", "fx"),
        ContractSpec("6C", "Canadian dollar", 100_000, "CAD", "USD per CAD", "fx"),
        ContractSpec("6A", "Australian dollar", 100_000, "AUD", "USD per AUD", "fx"),
        ContractSpec("6S", "Swiss franc", 125_000, "CHF", "USD per CHF", "fx"),
        ContractSpec("BTC", "CME Bitcoin", 5, "BTC", bucket="crypto"),
        ContractSpec("MBT", "CME Micro Bitcoin", 0.1, "BTC", bucket="crypto"),
        ContractSpec("ETH", "CME Ether", 50, "ETH", bucket="crypto"),
        ContractSpec("MET", "CME Micro Ether", 0.1, "ETH", bucket="crypto"),
    )
}

# CME currency futures: the price is USD per unit of the contract's currency, so the rate series
# must be quoted that way (EUR/USD as the ECB gives it); a series quoted per USD (USD/JPY, FRED
# DEXJPUS, ECB cross rates) is declared ``invert = true`` on the leg and priced as 1 / close.
FX_FUTURES = tuple(c for c, spec in CONTRACTS.items() if spec.bucket == "fx")
INVERSE = "1/"  # an inverted leg is priced from the series "1/USDJPY" = 1 / close(USDJPY)


def add_inverses(market: MarketData, tickers: Iterable[str]) -> MarketData:
    """``market`` plus the series ``1/T`` for each of ``tickers`` (CONVENTIONS, "Yields and
    FX": a rate quoted per USD turned into USD per unit of the other currency).

    Parameters
    ----------
    market : MarketData
        The loaded series; each of ``tickers`` must be in it.
    tickers : iterable of str
        Rate series to invert; one already inverted in ``market`` is kept as it is.

    Returns
    -------
    MarketData
        ``market`` itself when there is nothing to add, else a copy with the reciprocal series:
        close 1 / close, high 1 / low, low 1 / high, the same dates and frequency, no volume.
    """
    from hedgedesk.core.data.market import MarketData

    added = {}
    for t in tickers:
        name = INVERSE + t
        if name in market.series or name in added:
            continue
        s = market.get(t)
        added[name] = replace(  # the same dates, calendar and frequency
            s,
            ticker=name,
            close=1.0 / s.close,
            volume=None,
            source=f"1 / {t} ({s.source})",
            price_field=f"1 / {s.price_field}",
            high=None if s.low is None else 1.0 / s.low,
            low=None if s.high is None else 1.0 / s.high,
        )
    if not added:
        return market
    return MarketData({**market.series, **added}, market.notices)


# US equity, ETF and index (SPX) options: 100 units of the underlying per contract.
OPTION_MULTIPLIER = 100.0

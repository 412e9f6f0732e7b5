"""Contract specifications (CONVENTIONS: multipliers) and the instrument kinds a book can hold."""

from __future__ import annotations

from dataclasses import dataclass

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


CONTRACTS: dict[str, ContractSpec] = {
    s.code: s
    for s in (
        ContractSpec("NQ", "E-mini Nasdaq-100", 20, "index points"),
        ContractSpec("MNQ", "Micro E-mini Nasdaq-100", 2, "index points"),
        ContractSpec("ES", "E-mini S&P 500", 50, "index points"),
        ContractSpec("MES", "Micro E-mini S&P 500", 5, "index points"),
        ContractSpec("GC", "Gold", 100, "troy ounces"),
        ContractSpec("CL", "WTI crude oil", 1000, "barrels"),
        ContractSpec("6E", "Euro FX", 125_000, "EUR"),
        ContractSpec("BTC", "CME Bitcoin", 5, "BTC"),
        ContractSpec("MBT", "CME Micro Bitcoin", 0.1, "BTC"),
    )
}

# US equity, ETF and index (SPX) options: 100 units of the underlying per contract.
OPTION_MULTIPLIER = 100.0

# Bounds past any real book: a value beyond them is a typo (or a probe), and would overflow the
# valuation to inf/NaN rather than say so.
MAX_QUANTITY = 1e9  # shares, coins, units or contracts, long or short (a billion)
MAX_PRICE = 1e9  # a cost basis or a strike, in the instrument's price units
MAX_MULTIPLIER = 1e6  # units of the underlying per contract
MAX_CASH = 1e15  # USD, long or short (a thousand trillion)

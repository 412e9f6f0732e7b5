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

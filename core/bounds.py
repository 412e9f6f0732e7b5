"""Bounds past any sensible value, one table for the config, the flags and the engine.

A value beyond them is a typo (or a probe) rather than a position or a hedge: it would overflow
the valuation or the backtest to inf/NaN instead of meaning something, so it is refused with
the bound named. Only the standard library: the command line and the config loader read these
at start-up, before numpy is needed.
"""

import datetime as dt

# the book
MAX_QUANTITY = 1e9  # shares, coins, units or contracts, long or short (a billion)
MAX_PRICE = 1e9  # a cost basis, strike, spot or option price, in the instrument's price units
MIN_PRICE = 1e-8  # a strike, spot or option price: below it logs and ratios overflow
MAX_MULTIPLIER = 1e6  # units of the underlying per contract
MAX_CASH = 1e15  # USD, long or short: cash, a NAV, a backtest's capital
MAX_DAYS = 36_500  # an option's calendar days to expiry: a century

# a dynamic-beta hedge (backtest and sweep)
MAX_EXPOSURE = 10.0  # long notional, a multiple of equity
MAX_HEDGE_RATIO = 10.0  # a multiplier on beta
MAX_IMPACT = 10.0  # the impact coefficient eta

# dates: outside these a date is a typo (9999-12-31, 0001-01-01), not history or an expiry
EARLIEST = dt.date(1800, 1, 1)
LATEST = dt.date(2199, 12, 31)
DATE_SPAN = f"between {EARLIEST} and {LATEST}"


def sensible(day: dt.date) -> bool:
    """Whether ``day`` lies within EARLIEST..LATEST."""
    return EARLIEST <= day <= LATEST

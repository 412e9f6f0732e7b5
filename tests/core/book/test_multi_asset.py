"""The multi-asset example book on real shared data: every instrument kind is valued by its
own closed form (futures via proxies, crypto spot, micro bitcoin futures, Black-76 on NQ).
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from scipy.stats import norm

from hedgedesk.core.book.valuation import market_state, value_book
from hedgedesk.core.config import load_config
from hedgedesk.core.data.sources import load_market
from hedgedesk.core.errors import DataError
from tests.conftest import REPO

EXAMPLE = REPO / "examples" / "multi_asset.toml"


@pytest.fixture(scope="module")
def book(request):
    from tests.conftest import SHARED_DATA

    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    cfg = load_config(EXAMPLE)
    state = market_state(cfg, load_market(cfg))
    return cfg, state, {p.line.name: p for p in value_book(cfg, state).positions}


def _close(folder: str, ticker: str, day: str = "2023-12-29") -> float:
    from tests.conftest import SHARED_DATA

    path = SHARED_DATA / folder / f"{ticker}.csv"
    if folder == "etf":  # yfinance layout: 3 more header lines, column 1 is the adjusted close
        frame = pd.read_csv(path, header=None, skiprows=4, index_col=0)
        return float(frame.loc[f"{day} 00:00:00", 1])
    frame = pd.read_csv(path, index_col=0)
    return float(frame.loc[day].iloc[-1 if folder == "crypto" else 3])


def _black76_call(f, k, t, r, vol):
    d1 = (math.log(f / k) + 0.5 * vol * vol * t) / (vol * math.sqrt(t))
    d2 = d1 - vol * math.sqrt(t)
    return math.exp(-r * t) * (f * norm.cdf(d1) - k * norm.cdf(d2)), math.exp(-r * t) * norm.cdf(d1)


def test_futures_priced_through_proxies(book):
    _, _, pos = book
    qqq, gld, btc = _close("etf", "QQQ"), _close("etf", "GLD"), _close("crypto", "BTC-USD")
    assert pos["NQ short"].notional == pytest.approx(-2 * 20 * 41.49 * qqq)
    assert pos["MNQ short"].notional == pytest.approx(-5 * 2 * 41.49 * qqq)
    assert pos["Gold long"].notional == pytest.approx(1 * 100 * 10.84 * gld)
    assert pos["CME BTC short"].notional == pytest.approx(-10 * 0.1 * btc)
    for name in ("NQ short", "Gold long", "CME BTC short"):
        assert pos[name].market_value == 0.0  # futures settle daily
        assert "proxy" in pos[name].line.price_note()
    assert "41.49 x QQQ" in pos["NQ short"].line.price_note()


def test_crypto_spot_and_equities(book):
    _, _, pos = book
    assert pos["BTC spot"].market_value == pytest.approx(1.5 * _close("crypto", "BTC-USD"))
    assert pos["NVDA"].market_value == pytest.approx(800 * _close("mag7", "NVDA"))


def test_black76_option_on_the_nq_future(book):
    cfg, _, pos = book
    leg = pos["NQ call 18000"]
    f = 41.49 * _close("etf", "QQQ")
    t = (pd.Timestamp("2024-03-15") - pd.Timestamp("2023-12-29")).days / 365
    premium, delta = _black76_call(f, 18000, t, cfg.risk.rate, 0.18)
    assert leg.unit_price == pytest.approx(premium, rel=1e-10)
    assert leg.market_value == pytest.approx(-1 * 20 * premium, rel=1e-10)
    assert leg.dollar_delta == pytest.approx(-1 * 20 * delta * f, rel=1e-10)
    assert "Black-76" in leg.line.price_note() and "modelled" in leg.line.price_note()


def test_beta_of_the_benchmark_itself_is_one(book):
    _, state, pos = book
    assert state.betas["QQQ"] == 1.0
    assert pos["NQ short"].beta_dollars == pytest.approx(pos["NQ short"].dollar_delta)


def test_leg_without_a_price_is_an_error(book, tmp_path):
    text = EXAMPLE.read_text().replace('underlying = "GLD"', 'underlying = "GC=F"')
    path = tmp_path / "bad.toml"
    path.write_text(text.replace("../../shared", str(REPO.parent / "shared")))
    cfg = load_config(path)
    with pytest.raises(Exception, match=r"book\.hedges\[2\]\.underlying.*'GC=F'"):
        load_market(cfg)
    with pytest.raises(DataError, match="not in the market data"):
        value_book(cfg, book[1])

"""examples/qqq_plan.toml: the multi-asset plan's $100M book on ../shared/data loads and values.

Witnesses: each file read here with pandas as its README describes it (yfinance ETF layout, the
ECB file newest first with N/A cells, FRED and arch files with M/D/YYYY dates), and every leg's
notional by CONVENTIONS' closed form (quantity x multiplier x price); the plan's weights follow.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from hedgedesk.core.book.valuation import market_state, value_book
from hedgedesk.core.config import load_config
from hedgedesk.core.data.sources import load_market
from tests.conftest import REPO

EXAMPLE = REPO / "examples" / "qqq_plan.toml"
DAY = pd.Timestamp("2018-12-28")


@pytest.fixture(scope="module")
def plan():
    from tests.conftest import SHARED_DATA

    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    cfg = load_config(EXAMPLE)
    state = market_state(cfg, load_market(cfg))
    val = value_book(cfg, state)
    return cfg, state, val, {p.line.name: p for p in val.positions}


def _close(path: str, column: str) -> float:
    from tests.conftest import SHARED_DATA

    file = SHARED_DATA / path
    if path.startswith("etf/"):  # yfinance: 3 more header lines, column 1 the adjusted close
        frame = pd.read_csv(file, header=None, skiprows=4, index_col=0)
        frame.index = pd.to_datetime(frame.index)
        return float(frame.loc[DAY, 1])
    if path.startswith("fx/"):  # ECB: newest first, N/A cells
        frame = pd.read_csv(file, index_col=0, parse_dates=True, na_values="N/A")
    elif path.startswith("crypto/"):
        frame = pd.read_csv(file, index_col=0, parse_dates=True)
    else:  # FRED and arch files: M/D/YYYY
        frame = pd.read_csv(file, index_col=0)
        frame.index = pd.to_datetime(frame.index, format="%m/%d/%Y")
    return float(frame.loc[DAY, column])


def test_every_leg_is_valued_by_its_closed_form(plan):
    cfg, state, val, pos = plan
    assert state.asof == DAY.date() and state.benchmark == "SPY"
    qqq = _close("etf/QQQ.csv", "")
    comp = _close("index/NASDAQ_COMPOSITE.csv", "Close")
    spx = _close("index/SP500.csv", "Close")
    wti = _close("commodities/DCOILWTICO.csv", "DCOILWTICO")
    vix = _close("index/VIX.csv", "vix")
    eur = _close("fx/eurofxref-hist.csv", "USD")
    gld = _close("etf/GLD.csv", "")
    btc = _close("crypto/BTC-USD.csv", "Adj_Close")
    eth = _close("crypto/ETH-USD.csv", "Adj_Close")
    assert pos["QQQ"].market_value == pytest.approx(477_500 * qqq, rel=1e-9)
    assert pos["NQ short"].notional == pytest.approx(-155 * 20 * 0.954 * comp, rel=1e-9)
    assert pos["ES short"].notional == pytest.approx(-20 * 50 * spx, rel=1e-9)
    assert pos["Gold long"].notional == pytest.approx(23 * 100 * 10.58 * gld, rel=1e-9)
    assert pos["Oil short"].notional == pytest.approx(-44 * 1000 * wti, rel=1e-12)
    assert pos["EUR/USD short"].notional == pytest.approx(-21 * 125_000 * eur, rel=1e-12)
    assert pos["VX long"].notional == pytest.approx(25 * 1000 * vix, rel=1e-12)
    assert pos["BTC"].market_value == pytest.approx(892 * btc, rel=1e-9)
    assert pos["ETH"].market_value == pytest.approx(10_900 * eth, rel=1e-9)
    for p in pos.values():
        if p.line.kind == "future":
            assert p.market_value == 0.0 and "proxy" in p.line.price_note()
    assert val.nav == pytest.approx(cfg.book.cash + sum(p.market_value for p in pos.values()))


def test_the_plans_weights(plan):
    _, _, val, pos = plan
    nav, core = val.nav, pos["QQQ"].market_value
    assert nav == pytest.approx(100e6, rel=0.005)
    assert core / nav == pytest.approx(0.70, abs=0.005)
    assert 0.20 <= pos["QQQ put 135"].notional / core <= 0.30
    assert 0.10 <= -pos["QQQ call 160"].notional / core <= 0.20
    assert (pos["BTC"].market_value + pos["ETH"].market_value) / nav == pytest.approx(
        0.05, abs=0.002
    )
    assert pos["Gold long"].notional / nav == pytest.approx(0.03, abs=0.002)
    assert pos["Oil short"].notional / nav == pytest.approx(-0.02, abs=0.002)
    assert pos["EUR/USD short"].notional == pytest.approx(-3e6, rel=0.01)
    assert val.beta_status.breach is False
    assert {p.line.purpose for p in pos.values() if p.line.is_hedge} >= {
        "beta hedge",
        "crash protection",
        "covered call",
        "volatility hedge",
    }


def test_the_plan_from_the_core_alone_trades_every_leg_kind():
    """examples/qqq_plan_from_core.toml: the QQQ core and cash only; `trades` builds every leg
    the plan names, each sleeve sized by CONVENTIONS' closed form on the raw files' closes
    (N = target / (price x multiplier), half away from zero), puts and covered calls on QQQ.
    """
    from hedgedesk.core.book.trades import plan_trades
    from tests.conftest import SHARED_DATA

    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    cfg = load_config(REPO / "examples" / "qqq_plan_from_core.toml")
    state = market_state(cfg, load_market(cfg))
    plan = plan_trades(cfg, state)
    nav = plan.nav
    qqq = _close("etf/QQQ.csv", "")
    assert nav == pytest.approx(cfg.book.cash + 477_500 * qqq, rel=1e-12)
    by = {t.instrument.split(" (")[0]: t for t in plan.trades}
    assert set(by) == {"NQ", "QQQ put", "QQQ call", "BTC", "ETH", "GC", "CL", "6E", "VX"}
    assert plan.skipped == ()

    def half_away(x: float) -> int:
        return math.floor(abs(x) + 0.5) * (1 if x >= 0 else -1)

    sleeves = {  # contract: (target USD, price from the raw file, multiplier)
        "BTC": (0.035 * nav, _close("crypto/BTC-USD.csv", "Adj_Close"), 5),
        "ETH": (0.015 * nav, _close("crypto/ETH-USD.csv", "Adj_Close"), 50),
        "GC": (0.03 * nav, 10.58 * _close("etf/GLD.csv", ""), 100),
        "CL": (-0.02 * nav, _close("commodities/DCOILWTICO.csv", "DCOILWTICO"), 1000),
        "6E": (-3e6, _close("fx/eurofxref-hist.csv", "USD"), 125_000),
        "VX": (0.007 * nav, _close("index/VIX.csv", "vix"), 1000),
    }
    for code, (target, price, mult) in sleeves.items():
        n = half_away(target / (price * mult))
        t = by[code]
        assert (t.side, t.contracts) == ("buy" if n > 0 else "sell", abs(n)), code
        assert t.size_usd == pytest.approx(abs(n) * price * mult, rel=1e-9), code
    # options: 25 % and 15 % of the 477,500 shares held, 100 shares a contract, on QQQ
    assert (by["QQQ put"].side, by["QQQ put"].contracts) == ("buy", 1194)
    assert (by["QQQ call"].side, by["QQQ call"].contracts) == ("sell", 716)
    assert by["QQQ put"].inputs["underlying"] == "QQQ"
    # the beta futures leave less than half a contract's beta-dollars off the target
    nq = by["NQ"]
    comp = _close("index/NASDAQ_COMPOSITE.csv", "Close")
    assert nq.side == "sell" and nq.inputs["price"] == pytest.approx(0.954 * comp, rel=1e-12)
    per = nq.inputs["price"] * 20 * nq.inputs["beta_of_future"] / nav
    assert abs(plan.beta_after - cfg.targets.beta) <= per / 2 + 1e-12

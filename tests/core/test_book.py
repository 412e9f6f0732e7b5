"""Book snapshot: values from the closes, betas equal statsmodels, no silent stale prices."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from core.book import snapshot
from core.config import load_config, resolve_config_path
from core.demo import demo_dir, load_demo
from core.errors import DataError
from core.market_data import MarketData


@pytest.fixture
def cfg():
    return load_config(resolve_config_path())


def _demo_frame() -> pd.DataFrame:
    stocks = pd.read_csv(demo_dir() / "sp500_dataset.csv.gz", index_col=0, parse_dates=True)
    index = pd.read_csv(demo_dir() / "sp500_index.csv.gz", index_col=0, parse_dates=True)
    return stocks.join(index, how="inner")


def test_holdings_values_weights_and_betas(cfg):
    snap = snapshot(cfg, load_demo())
    frame = _demo_frame()
    frame = frame[frame.index >= pd.Timestamp(cfg.data.start)]
    assert snap.asof == frame.index[-1].date()
    total = sum(frame[h.ticker].iloc[-1] * h.quantity for h in cfg.book.holdings)
    assert snap.holdings_value == pytest.approx(total, rel=1e-12)
    assert sum(r.weight for r in snap.holdings) == pytest.approx(1.0)
    for h, row in zip(cfg.book.holdings, snap.holdings, strict=True):
        assert row.market_value == pytest.approx(frame[h.ticker].iloc[-1] * h.quantity)
        rets = frame[[h.ticker, "SP500"]].pct_change().dropna().iloc[-cfg.risk.beta_window:]
        fit = sm.OLS(rets[h.ticker], sm.add_constant(rets["SP500"])).fit()
        assert row.beta == pytest.approx(fit.params["SP500"], rel=1e-10)
        assert row.pnl == pytest.approx((frame[h.ticker].iloc[-1] - h.cost_basis) * h.quantity)
    weighted = sum(r.beta * r.market_value for r in snap.holdings) / total
    assert snap.holdings_beta == pytest.approx(weighted)


def test_leg_notional_is_quantity_times_multiplier_times_price(cfg):
    snap = snapshot(cfg, load_demo())
    frame = _demo_frame()
    for leg, row in zip(cfg.book.hedges, snap.legs, strict=True):
        px = frame[leg.underlying].iloc[-1]
        assert row.notional == pytest.approx(leg.quantity * leg.multiplier * px)
    es = snap.legs[0]
    assert es.multiplier == 50 and "proxy" in es.price_note
    assert "modelled" in snap.legs[1].price_note


def test_missing_close_on_asof_date_is_an_error_not_a_fill(cfg):
    demo = load_demo()
    aapl = demo.get("AAPL")
    short = replace(aapl, dates=aapl.dates[:-1], close=aapl.close[:-1])
    market = MarketData({**demo.series, "AAPL": short})
    with pytest.raises(DataError, match=r"AAPL.*no close on the as-of date"):
        snapshot(cfg, market)


def test_end_date_moves_the_asof_date(cfg):
    cut = replace(cfg, data=replace(cfg.data, end=pd.Timestamp("2021-06-30").date()))
    snap = snapshot(cut, load_demo())
    assert snap.asof == pd.Timestamp("2021-06-30").date()
    assert np.isfinite(snap.holdings_beta)

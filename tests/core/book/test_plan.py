"""The sizing plan (core/book/plan.py): Kelly fraction and leverage alert from the config, and
equal risk budgets across the plan's buckets.

Witnesses: the Kelly arithmetic redone here with numpy on the book's daily returns; bucket
returns rebuilt here with pandas from the price file (exposure-weighted, a short hedge earning
minus its index), their covariance with numpy, and for two buckets the closed form of equal
risk contributions, inverse volatility ``w_i = (1/s_i) / sum(1/s_j)`` whatever the correlation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hedgedesk.core.book.plan import book_plan, bucket_parity
from hedgedesk.core.book.risk import risk_report
from hedgedesk.core.book.valuation import market_state
from hedgedesk.core.config import load_config, parse_config
from hedgedesk.core.data.sources import load_market
from tests.core.book.test_trades import HEADER, book, future_leg, sleeves, synthetic_prices

PROXIES = 'GC = { underlying = "BBB", scale = 30.0 }\nETHX = { underlying = "AAA" }\n'
HOLD = {"AAA": 40_000.0, "BBB": 30_000.0}


def targets(extra: str = "") -> str:
    return '[targets]\nbeta = 0.5\nhedge_future = "ES"\n' + extra


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plan")
    synthetic_prices().to_csv(folder / "prices.csv", index_label="date")
    base = folder / "base.toml"
    base.write_text(HEADER + PROXIES + targets() + book(0.0, HOLD), "utf-8")
    cfg = load_config(base)
    market = load_market(cfg)
    state = market_state(cfg, market)
    prices = pd.read_csv(folder / "prices.csv", index_col="date", parse_dates=True)
    returns = (prices / prices.shift(1) - 1).iloc[1:].iloc[-120:]  # risk.var_window
    return folder, market, state, prices.iloc[-1], returns


def plan_for(desk, text: str):
    folder, market, state, _, _ = desk
    cfg = parse_config(HEADER + PROXIES + text, folder / "desk.toml")
    return cfg, book_plan(cfg, market, state, risk_report(cfg, state))


def test_kelly_fraction_and_leverage_alert_come_from_the_config(desk):
    cfg, plan = plan_for(
        desk, targets("kelly_fraction = 0.25\nleverage_alert = 0.01\n") + book(0.0, HOLD)
    )
    rep = risk_report(cfg, desk[2])
    r = rep.book_returns
    edge, var = r.mean() * 252, r.var(ddof=1) * 252  # rf 0 in this config
    k = plan.kelly
    assert k.fraction == 0.25
    assert k.edge == pytest.approx(edge, rel=1e-12) and k.variance == pytest.approx(var, rel=1e-12)
    assert k.leverage == pytest.approx(0.25 * edge / var, rel=1e-12)
    assert abs(k.leverage) > 0.01
    assert plan.leverage_alert == 0.01
    assert "0.25 Kelly suggests" in plan.leverage_warning and "±0.01x" in plan.leverage_warning
    _, calm = plan_for(desk, targets("leverage_alert = 100.0\n") + book(0.0, HOLD))
    assert calm.kelly.fraction == 0.5 and calm.leverage_warning is None


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("kelly_fraction = 0.0\n", "targets.kelly_fraction"),
        ("kelly_fraction = 1.5\n", "targets.kelly_fraction"),
        ("leverage_alert = -1.0\n", "targets.leverage_alert"),
        ('put_underlying = "spy"\n', "targets.put_underlying"),
    ],
)
def test_bad_plan_targets_name_the_key(desk, line, key):
    from hedgedesk.core.errors import ConfigError

    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        parse_config(HEADER + targets(line) + book(0.0, HOLD), desk[0] / "desk.toml")


def _core(close, returns) -> pd.Series:
    e = {t: q * close[t] for t, q in HOLD.items()}
    return sum(e[t] * returns[t] for t in e) / sum(e.values())


def test_two_buckets_get_inverse_volatility(desk):
    """Core and a gold sleeve: equal risk for two assets is inverse volatility."""
    close, returns = desk[3:]
    sleeve = sleeves('{ name = "gold", bucket = "commodities", contract = "GC", weight = 0.03 }')
    _, plan = plan_for(desk, targets() + book(0.0, HOLD) + sleeve)
    b = plan.buckets
    assert b.buckets == ("core", "commodities") and b.notes == ()
    s = np.array([_core(close, returns).std(ddof=1), returns["BBB"].std(ddof=1)])
    w = (1 / s) / (1 / s).sum()
    np.testing.assert_allclose(b.parity.weights, w, rtol=1e-7)
    nav = sum(q * close[t] for t, q in HOLD.items())
    assert b.exposures == pytest.approx((nav, 0.03 * nav), rel=1e-12)


def test_core_hedges_and_sleeves_share_risk_equally(desk):
    """A single-holding core, a short ES hedge and a gold sleeve: three equal risk shares
    (the holdings alone would give the core 100 %).
    """
    close, returns = desk[3:]
    sleeve = sleeves(
        '{ name = "gold", bucket = "commodities", contract = "GC", weight = 0.05 }',
        '{ name = "euro", bucket = "fx", contract = "6E", usd = -1e6 }',
        '{ name = "ether", bucket = "crypto", contract = "ETHX", weight = 0.02 }',
    )
    hold = {"AAA": 40_000.0}
    _, plan = plan_for(desk, targets() + book(0.0, hold, future_leg(-5)) + sleeve)
    assert plan.risk_parity is not None and list(plan.risk_parity.weights) == [1.0]
    b = plan.buckets
    assert b.buckets == ("core", "hedges", "commodities")
    assert len(b.notes) == 2 and "euro left out" in b.notes[0] and "[proxies] 6E" in b.notes[0]
    assert "ether left out: no contract 'ETHX'" in b.notes[1]
    x = np.vstack([returns["AAA"], -returns["IDX"], returns["BBB"]])
    cov = np.cov(x, ddof=1) * 252
    w = b.parity.weights
    rc = w * (cov @ w) / (w @ cov @ w)
    np.testing.assert_allclose(rc, [1 / 3] * 3, atol=1e-7)
    assert w.sum() == pytest.approx(1.0) and np.all(w > 0)
    assert b.exposures[1] == pytest.approx(5 * 50 * close["IDX"], rel=1e-12)


def test_a_lone_core_has_no_bucket_parity(desk):
    cfg, plan = plan_for(desk, targets() + book(0.0, {"AAA": 100.0}))
    assert plan.buckets.buckets == ("core",) and plan.buckets.parity is None
    assert bucket_parity(cfg, desk[2], risk_report(cfg, desk[2]).valuation) == plan.buckets

"""Greeks by underlying and by kind (core/book/exposure.py): a hand-built book whose dollar
Greeks are computed here from CONVENTIONS' formulas, and the demo book, whose groups sum to the
valuation's totals and whose beta-weighted delta / NAV is its portfolio beta.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest
from scipy.stats import norm

from hedgedesk.core.book.exposure import CONVENTIONS, FIELDS, greeks_by
from hedgedesk.core.book.valuation import Line, MarketState, market_state, value_book, value_lines
from hedgedesk.core.config import load_config, resolve_config_path
from hedgedesk.core.data.sources import load_market
from hedgedesk.core.errors import HedgedeskError

ASOF = dt.date(2024, 1, 2)
CLOSES = {"IDX": 4000.0, "ABC": 50.0}
BETAS = {"IDX": 1.0, "ABC": 1.5}


def hand_book():
    state = MarketState(ASOF, "IDX", CLOSES, BETAS, 2, pd.DataFrame(), 0.0, 252)
    lines = [
        Line("ABC", "equity", "ABC", 1000.0),
        Line("ES", "future", "IDX", -1.0, multiplier=50.0, is_hedge=True),
        Line(
            "ABC put",
            "option",
            "ABC",
            10.0,
            multiplier=100.0,
            is_hedge=True,
            right="put",
            strike=50.0,
            expiry=ASOF + dt.timedelta(days=365),
            vol=0.2,
        ),
    ]
    return value_lines(lines, state, 100_000.0)


def test_hand_built_book_by_underlying_and_kind():
    val = hand_book()
    # the put at the money, one year, r = q = 0: d1 = 0.1, d2 = -0.1
    d1 = 0.1
    put_delta = norm.cdf(d1) - 1.0
    put_gamma = norm.pdf(d1) / (50.0 * 0.2)
    put_vega = 50.0 * norm.pdf(d1)
    put_theta = -50.0 * norm.pdf(d1) * 0.2 / 2.0
    abc_dd = 1000 * 50.0 + 1000 * put_delta * 50.0
    abc_gamma = 1000 * put_gamma * 50.0**2 / 100
    ex = greeks_by(val, "underlying", 4000.0)
    assert [g.key for g in ex.groups] == ["ABC", "IDX"]
    abc, idx = ex.groups
    assert abc.lines == ("ABC", "ABC put")
    assert abc.dollar_delta == pytest.approx(abc_dd, rel=1e-10)
    assert abc.gamma_1pct_usd == pytest.approx(abc_gamma, rel=1e-10)
    assert abc.vega_1pt_usd == pytest.approx(1000 * put_vega / 100, rel=1e-10)
    assert abc.theta_1d_usd == pytest.approx(1000 * put_theta / 365, rel=1e-10)
    assert abc.beta == 1.5 and abc.beta_dollars == pytest.approx(1.5 * abc_dd, rel=1e-10)
    assert idx.dollar_delta == pytest.approx(-50 * 4000.0)
    assert idx.beta_dollars == pytest.approx(-50 * 4000.0)
    assert idx.benchmark_units == pytest.approx(-50.0)  # one short ES = -50 index units
    assert abc.benchmark_units == pytest.approx(1.5 * abc_dd / 4000.0, rel=1e-10)
    assert ex.total.beta is None
    assert ex.total.beta_dollars / val.nav == pytest.approx(val.portfolio_beta, rel=1e-12)
    kinds = greeks_by(val, "kind", 4000.0)
    assert [g.key for g in kinds.groups] == ["equity", "future", "option"]
    assert all(g.beta is None for g in kinds.groups)
    assert kinds.groups[2].dollar_delta == pytest.approx(1000 * put_delta * 50.0, rel=1e-10)
    assert kinds.groups[0].gamma_1pct_usd == 0.0
    d = kinds.as_dict()
    assert d["by"] == "kind" and d["total"]["key"] == "book"
    assert set(d["groups"][0]) >= {*FIELDS, "benchmark_units", "lines", "beta"}


def test_demo_groups_sum_to_the_book_totals():
    cfg = load_config(resolve_config_path())
    state = market_state(cfg, load_market(cfg))
    val = value_book(cfg, state)
    price = state.closes[cfg.data.benchmark]
    for by in ("underlying", "kind"):
        ex = greeks_by(val, by, price)
        for k in FIELDS:
            assert sum(getattr(g, k) for g in ex.groups) == pytest.approx(val.total(k), rel=1e-12)
            assert getattr(ex.total, k) == pytest.approx(val.total(k), rel=1e-12)
        assert sum(len(g.lines) for g in ex.groups) == len(val.positions)
    ex = greeks_by(val, "underlying", price)
    sp = next(g for g in ex.groups if g.key == "SP500")
    assert set(sp.lines) == {"ES short", "SPX put 3400"}
    aapl = next(g for g in ex.groups if g.key == "AAPL")
    assert set(aapl.lines) == {"AAPL", "AAPL covered call 140"}
    assert aapl.beta == pytest.approx(state.betas["AAPL"])
    assert ex.total.beta_dollars / val.nav == pytest.approx(val.portfolio_beta, rel=1e-12)
    assert math.isclose(ex.total.benchmark_units * price, ex.total.beta_dollars)
    assert "beta_dollars" in CONVENTIONS and "benchmark_units" in CONVENTIONS


def test_bad_grouping_and_price_are_named():
    val = hand_book()
    with pytest.raises(HedgedeskError, match="greeks by: got 'sector', expected one of"):
        greeks_by(val, "sector", 4000.0)
    with pytest.raises(HedgedeskError, match=r"benchmark price: got 0\.0, expected > 0"):
        greeks_by(val, "kind", 0.0)

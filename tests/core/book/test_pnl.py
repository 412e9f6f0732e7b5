"""P&L explained (core/book/pnl.py) against independent witnesses.

Witnesses: option values from a Black-Scholes-Merton closed form written here with
scipy.stats.norm (t = calendar days / 365, CONVENTIONS "Options"), the demo's closes read here
with pandas from the demo files, futures P&L as quantity x multiplier x (close_t - close_t-1),
and the Taylor expansion's order: with no time passing the unexplained part shrinks like dS^3.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from dataclasses import replace

import pandas as pd
import pytest
from scipy.stats import norm

from hedgedesk.core.book.clock import at
from hedgedesk.core.book.pnl import (
    CONVENTIONS,
    PnlTotal,
    explain,
    explain_lines,
    previous_closes,
)
from hedgedesk.core.book.valuation import (
    Line,
    MarketState,
    book_lines,
    market_state,
    shocked_state,
    value_book,
)
from hedgedesk.core.config import load_config, resolve_config_path
from hedgedesk.core.data.sources import load_market
from hedgedesk.core.demo import demo_dir
from hedgedesk.core.errors import DataError

RATE = 0.04
ASOF = dt.date(2022, 12, 28)
PREV = dt.date(2022, 12, 27)  # the demo benchmark's session before ASOF


def bsm(right: str, s: float, k: float, t: float, r: float, q: float, v: float) -> dict:
    """Closed-form BSM price and partials (theta = dV/dt per year of calendar time)."""
    sq = math.sqrt(t)
    d1 = (math.log(s / k) + (r - q + 0.5 * v * v) * t) / (v * sq)
    d2 = d1 - v * sq
    dq, dr = math.exp(-q * t), math.exp(-r * t)
    w = 1.0 if right == "call" else -1.0
    pdf = norm.pdf(d1)
    return {
        "price": w * (s * dq * norm.cdf(w * d1) - k * dr * norm.cdf(w * d2)),
        "delta": w * dq * norm.cdf(w * d1),
        "gamma": dq * pdf / (s * v * sq),
        "vega": s * dq * pdf * sq,
        "theta": -s * dq * pdf * v / (2 * sq)
        - w * r * k * dr * norm.cdf(w * d2)
        + w * q * s * dq * norm.cdf(w * d1),
    }


def state_at(asof: dt.date, closes: dict[str, float], rate: float = RATE) -> MarketState:
    return MarketState(
        asof, "IDX", closes, dict.fromkeys(closes, 1.0), 2, pd.DataFrame(), rate, 252
    )


CALL = Line(
    "call 105",
    "option",
    "IDX",
    3.0,
    multiplier=100.0,
    is_hedge=True,
    right="call",
    strike=105.0,
    expiry=dt.date(2023, 3, 17),
    vol=0.25,
    div=0.01,
)
PUT = replace(CALL, name="put 95", right="put", strike=95.0, quantity=-2.0)
FUT = Line("fut", "future", "IDX", -4.0, multiplier=50.0, scale=1.01, is_hedge=True)
STOCK = Line("STK", "equity", "STK", 300.0, cost_basis=40.0)


@pytest.fixture(scope="module")
def demo():
    cfg = load_config(resolve_config_path())
    market = load_market(cfg)
    return cfg, market, market_state(cfg, market)


def test_hand_built_book_equals_closed_forms():
    s0, s1 = 100.0, 102.5
    state = state_at(ASOF, {"IDX": s1, "STK": 41.0})
    e = explain_lines([STOCK, FUT, CALL, PUT], state, PREV, {"IDX": s0, "STK": 42.0})
    assert (e.asof, e.previous) == (ASOF, PREV)
    stk, fut, call, put = e.lines
    assert stk.day == pytest.approx(300 * (41.0 - 42.0))
    assert stk.since_cost == pytest.approx(300 * (41.0 - 40.0))
    assert fut.day == pytest.approx(-4 * 50 * 1.01 * (s1 - s0))  # settled daily
    assert fut.since_cost is None and call.since_cost is None
    for ln in (stk, fut):  # linear: all delta
        assert ln.delta == ln.day
        assert (ln.gamma, ln.vega, ln.theta) == (0.0, 0.0, 0.0)
        assert ln.unexplained == pytest.approx(0.0, abs=1e-9)
    for p, leg in ((call, CALL), (put, PUT)):
        t0 = (leg.expiry - PREV).days / 365
        t1 = (leg.expiry - ASOF).days / 365
        g0 = bsm(leg.right, s0, leg.strike, t0, RATE, leg.div, leg.vol)
        v1 = bsm(leg.right, s1, leg.strike, t1, RATE, leg.div, leg.vol)["price"]
        q = leg.quantity * 100
        assert p.day == pytest.approx(q * (v1 - g0["price"]), rel=1e-10)
        assert p.delta == pytest.approx(q * g0["delta"] * (s1 - s0), rel=1e-10)
        assert p.gamma == pytest.approx(q * 0.5 * g0["gamma"] * (s1 - s0) ** 2, rel=1e-10)
        assert p.theta == pytest.approx(q * g0["theta"] / 365, rel=1e-10)
        assert p.vega == 0.0  # volatility unchanged
        parts = p.delta + p.gamma + p.vega + p.theta
        assert parts + p.unexplained == pytest.approx(p.day, rel=1e-15, abs=1e-12)
        assert abs(p.unexplained) < 0.05 * abs(p.day)
    # totals: core = holdings, hedges = legs, book = both
    assert e.core.day == pytest.approx(stk.day)
    assert e.hedges.day == pytest.approx(fut.day + call.day + put.day)
    assert e.book.day == pytest.approx(e.core.day + e.hedges.day)
    assert e.book.since_cost == pytest.approx(stk.since_cost)
    assert e.hedges.since_cost is None
    for k in ("delta", "gamma", "vega", "theta", "unexplained"):
        assert getattr(e.book, k) == pytest.approx(sum(getattr(p, k) for p in e.lines))


def test_vega_attributes_a_volatility_change():
    state = state_at(ASOF, {"IDX": 100.0})
    e = explain_lines([CALL], state, PREV, {"IDX": 100.0}, vols_prev={"call 105": 0.22})
    p = e.lines[0]
    t0 = (CALL.expiry - PREV).days / 365
    g0 = bsm("call", 100.0, 105.0, t0, RATE, 0.01, 0.22)
    assert p.vol_prev == 0.22
    assert p.price_prev == pytest.approx(g0["price"], rel=1e-10)
    assert p.vega == pytest.approx(300 * g0["vega"] * 0.03, rel=1e-10)
    assert p.delta == 0.0 and p.gamma == 0.0
    assert abs(p.unexplained) < 0.02 * abs(p.day)


def test_unexplained_shrinks_like_ds_cubed():
    """No time passing (the same date): the Greeks' prediction is the second-order Taylor
    polynomial, so the remainder shrinks by about 8 when dS halves.
    """
    prev = {"IDX": 100.0}
    errs = []
    for h in (1.0, 0.5, 0.25, 0.125):
        e = explain_lines([CALL], state_at(ASOF, {"IDX": 100.0 + h}), ASOF, prev)
        assert e.lines[0].theta == 0.0
        errs.append(abs(e.lines[0].unexplained))
    ratios = [a / b for a, b in itertools.pairwise(errs)]
    assert all(6.5 < r < 9.5 for r in ratios), ratios
    # and with time passing but no move, the remainder is second order in dt
    days = [
        abs(
            explain_lines([CALL], state_at(ASOF, prev), ASOF - dt.timedelta(d), prev)
            .lines[0]
            .unexplained
        )
        for d in (8, 4)
    ]
    assert 3.0 < days[0] / days[1] < 5.0


def test_demo_book_against_closes_read_here(demo):
    cfg, market, state = demo
    e = explain(cfg, market, state, book_lines(cfg))
    assert (e.asof, e.previous) == (ASOF, PREV)
    bench = pd.read_csv(demo_dir() / "sp500_index.csv.gz", index_col=0, parse_dates=True)
    stocks = pd.read_csv(demo_dir() / "sp500_dataset.csv.gz", index_col=0, parse_dates=True)
    closes = stocks.join(bench, how="inner")
    c1, c0 = closes.loc[pd.Timestamp(ASOF)], closes.loc[pd.Timestamp(PREV)]
    by = {p.line.name: p for p in e.lines}
    for h in cfg.book.holdings:
        p = by[h.ticker]
        assert p.day == pytest.approx(h.quantity * (c1[h.ticker] - c0[h.ticker]), rel=1e-12)
        assert p.since_cost == pytest.approx(h.quantity * (c1[h.ticker] - h.cost_basis))
    es = by["ES short"]
    assert es.day == pytest.approx(-2 * 50 * (c1["SP500"] - c0["SP500"]), rel=1e-12)
    for leg in cfg.book.hedges:
        if leg.instrument != "option":
            continue
        p = by[leg.name]
        u = leg.underlying
        t0, t1 = ((leg.expiry - d).days / 365 for d in (PREV, ASOF))
        v0 = bsm(leg.right, c0[u], leg.strike, t0, RATE, leg.dividend_yield, leg.volatility)
        v1 = bsm(leg.right, c1[u], leg.strike, t1, RATE, leg.dividend_yield, leg.volatility)
        assert p.day == pytest.approx(leg.quantity * 100 * (v1["price"] - v0["price"]), rel=1e-9)
        assert p.delta == pytest.approx(
            leg.quantity * 100 * v0["delta"] * (c1[u] - c0[u]), rel=1e-9
        )
    # the day P&L of today's book = its full revaluation at t less at t-1 (value_book at both)
    val1 = value_book(cfg, state)
    val0 = value_book(at(cfg, PREV), market_state(at(cfg, PREV), market))
    moves = sum(
        p1.market_value - p0.market_value if p1.line.kind != "future" else by[p1.line.name].day
        for p1, p0 in zip(val1.positions, val0.positions, strict=True)
    )
    assert e.book.day == pytest.approx(moves, rel=1e-10)
    assert e.book.day == pytest.approx(e.core.day + e.hedges.day)
    d = e.as_dict()
    assert set(d) >= {"asof", "previous", "lines", "core", "hedges", "book"}
    assert d["lines"][0]["attribution"] == by["AAPL"].attribution()
    assert set(CONVENTIONS) >= {"pnl_day", "attribution", "pnl_since_cost"}


def test_a_replay_day_explains_that_day(demo):
    cfg, market, _ = demo
    day = dt.date(2020, 3, 16)
    past = at(cfg, day)
    state = market_state(past, market)
    e = explain(past, market, state, book_lines(past))
    assert (e.asof, e.previous) == (day, dt.date(2020, 3, 13))  # over a weekend
    fut = next(p for p in e.lines if p.line.name == "ES short")
    assert fut.day == pytest.approx(-100 * (state.closes["SP500"] - fut.underlying_prev))
    spx = next(p for p in e.lines if p.line.name == "SPX put 3400")
    t0 = (spx.line.expiry - e.previous).days / 365
    g0 = bsm("put", spx.underlying_prev, 3400, t0, RATE, 0.016, 0.24)
    assert spx.theta == pytest.approx(200 * g0["theta"] * 3 / 365, rel=1e-10)


def test_a_what_if_shock_is_part_of_the_day(demo):
    cfg, market, state = demo
    base = explain(cfg, market, state, book_lines(cfg))
    shocked = explain(cfg, market, shocked_state(state, {"AAPL": -0.1}), book_lines(cfg))
    aapl = next(p for p in shocked.lines if p.line.name == "AAPL")
    assert aapl.day == pytest.approx(1500 * (0.9 * state.closes["AAPL"] - aapl.underlying_prev))
    assert shocked.book.day < base.book.day


def test_errors_name_the_problem(demo):
    cfg, market, state = demo
    with pytest.raises(DataError, match="expected a date up to"):
        explain_lines([CALL], state_at(ASOF, {"IDX": 1.0}), ASOF + dt.timedelta(1), {})
    with pytest.raises(DataError, match="no close of IDX on 2022-12-27"):
        explain_lines([CALL], state_at(ASOF, {"IDX": 1.0}), PREV, {})
    first = market.get("SP500").dates[0].astype(dt.date)
    with pytest.raises(DataError, match="no session before"):
        previous_closes(cfg, market, replace(state, asof=first), book_lines(cfg))
    lonely = replace(STOCK, name="X", underlying="AAPL")
    gap = replace(state, asof=dt.date(2022, 12, 28))
    prev, closes = previous_closes(cfg, market, gap, [lonely])
    assert prev == PREV and set(closes) == {"AAPL"}
    no_vol = replace(CALL, vol=None)
    with pytest.raises(DataError, match="no implied volatility"):
        explain_lines([no_vol], state_at(ASOF, {"IDX": 1.0}), PREV, {"IDX": 1.0})
    assert PnlTotal.of([]).since_cost is None and PnlTotal.of([]).day == 0.0
    # a leg without a configured vol is priced from the state's surface, as valuation does
    unusable = replace(state_at(ASOF, {"IDX": 1.0}), surfaces={"IDX": "no quotes on the day"})
    with pytest.raises(DataError, match="no surface vol for IDX: no quotes on the day"):
        explain_lines([no_vol], unusable, PREV, {"IDX": 1.0})


def test_an_underlying_without_the_previous_close_is_named():
    import numpy as np

    from hedgedesk.core.data.market import MarketData, Series

    days = np.array(["2022-12-23", "2022-12-27", "2022-12-28"], dtype="datetime64[D]")

    def series(t, dates):
        return Series(t, dates, np.linspace(100, 101, len(dates)), None, "test", "close")

    market = MarketData.from_series([series("IDX", days), series("GAP", days[[0, 2]])])
    cfg = load_config(resolve_config_path())
    state = state_at(ASOF, {"IDX": 101.0, "GAP": 101.0})
    gap = replace(STOCK, name="gap", underlying="GAP")
    with pytest.raises(DataError, match="GAP: no close on 2022-12-27, the benchmark's session"):
        previous_closes(cfg, market, state, [gap])
    prev, closes = previous_closes(cfg, market, state, [FUT])
    assert prev == PREV and closes == {"IDX": 100.5}


def test_a_surface_priced_leg_is_repriced_at_its_surface_vol_both_days(tmp_path):
    from tests.core.book.test_vol_surface import desk as surface_desk

    cfg, state, _ = surface_desk(tmp_path)
    market = load_market(cfg)
    e = explain(cfg, market, state, book_lines(cfg))
    val = value_book(cfg, state)
    for p, pos in zip(e.lines, val.positions, strict=True):
        assert p.price == pytest.approx(pos.unit_price, rel=1e-12)  # t: valuation's price
        if pos.line.kind == "option":
            assert p.line.vol == pos.line.vol and p.vol_prev == pos.line.vol and p.vega == 0.0
    surf = next(p for p in e.lines if p.line.vol_source)
    assert surf.line.vol_source.startswith("the AAA chain quoted")
    sources = [ln["vol_source"] for ln in e.as_dict()["lines"] if ln["kind"] == "option"]
    assert sources[0] == surf.line.vol_source and "config" in sources  # typed: an override
    assert [ln["vol_source"] for ln in e.as_dict()["lines"] if ln["kind"] != "option"] == [None] * (
        len(e.lines) - len(sources)
    )

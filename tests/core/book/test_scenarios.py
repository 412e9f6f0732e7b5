"""Scenarios (core/book/scenarios.py) against independent witnesses.

The issue's witness for a linear book: P&L = sum(beta x shock x notional), betas refitted here
with statsmodels on returns taken here. Options are repriced with a Black-Scholes-Merton closed
form written here at the shocked spot and volatility; replays read the demo price files with
pandas and take P(end) / P(start) - 1; a leg's value is checked against a config with that leg
deleted.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from hedgedesk.core.book.scenarios import run_scenario, run_scenarios
from hedgedesk.core.book.valuation import market_state
from hedgedesk.core.config import Scenario, load_config, resolve_config_path
from hedgedesk.core.data.sources import load_market
from hedgedesk.core.demo import demo_dir
from hedgedesk.core.errors import DataError
from tests.witness import bsm


def returns_of(prices: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    p = prices[cols].dropna(how="any")
    return (p / p.shift(1) - 1.0).iloc[1:]


def sm_beta(prices: pd.DataFrame, t: str, window: int) -> float:
    rows = returns_of(prices, [t, "IDX"]).iloc[-window:]
    return float(
        sm.OLS(rows[t].to_numpy(), sm.add_constant(rows["IDX"].to_numpy())).fit().params[1]
    )


# -- hand-built desks ----------------------------------------------------------------------------
def synthetic_prices(n: int = 200, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rm = rng.normal(0.0003, 0.011, n)
    return pd.DataFrame(
        {
            "IDX": 4000 * np.cumprod(1 + rm),
            "AAA": 150 * np.cumprod(1 + 1.4 * rm + rng.normal(0, 0.009, n)),
            "BBB": 60 * np.cumprod(1 + 0.6 * rm + rng.normal(0, 0.012, n)),
        },
        index=pd.bdate_range("2021-06-01", periods=n),
    ).round(4)


def desk(tmp_path: Path, body: str, name: str = "desk.toml"):
    csv = tmp_path / "prices.csv"
    if not csv.exists():
        synthetic_prices().to_csv(csv, index_label="date")
    path = tmp_path / name
    path.write_text(
        '[data]\nsource = "files"\npaths = ["prices.csv"]\nbenchmark = "IDX"\n'
        "[risk]\nrate = 0.02\nbeta_window = 80\nvar_window = 150\n"
        "[targets]\nbeta = 0.3\n" + body,
        encoding="utf-8",
    )
    cfg = load_config(path)
    market = load_market(cfg)
    prices = pd.read_csv(csv, index_col="date", parse_dates=True)
    return cfg, market, market_state(cfg, market), prices


HOLDINGS = """
[book]
cash = 30000.0
[[book.holdings]]
ticker = "AAA"
quantity = 400
[[book.holdings]]
ticker = "BBB"
quantity = -200
"""
FUTURE = """
[[book.hedges]]
name = "es"
instrument = "future"
contract = "ES"
underlying = "IDX"
quantity = -1
"""
PUT = """
[[book.hedges]]
name = "put"
instrument = "option"
right = "put"
underlying = "AAA"
strike = {strike}
expiry = "{expiry}"
quantity = 3
volatility = 0.3
dividend_yield = 0.01
"""
SCENARIOS = """
[[scenarios]]
name = "crash"
market = -0.3
vol = 0.15
[[scenarios]]
name = "own"
market = -0.2
shocks = { AAA = 0.1 }
"""


def test_linear_book_pnl_is_beta_times_shock_times_notional(tmp_path):
    cfg, market, state, prices = desk(tmp_path, HOLDINGS + FUTURE + SCENARIOS)
    close = prices.iloc[-1]
    beta = {"AAA": sm_beta(prices, "AAA", 80), "BBB": sm_beta(prices, "BBB", 80), "IDX": 1.0}
    notional = {"AAA": 400 * close["AAA"], "BBB": -200 * close["BBB"], "es": -50 * close["IDX"]}
    und = {"AAA": "AAA", "BBB": "BBB", "es": "IDX"}
    (r,) = run_scenarios(cfg, state, market, ["crash"])
    expected = {k: beta[und[k]] * -0.3 * n for k, n in notional.items()}
    assert r.pnl == pytest.approx(sum(expected.values()), rel=1e-9)
    for k, v in expected.items():
        assert r.line_pnl[k] == pytest.approx(v, rel=1e-9), k
        assert r.shocks[und[k]] == pytest.approx(beta[und[k]] * -0.3, rel=1e-9)
    nav = 30000.0 + notional["AAA"] + notional["BBB"]
    assert r.nav_before == pytest.approx(nav, rel=1e-12)
    assert r.pnl_pct == pytest.approx(sum(expected.values()) / nav, rel=1e-9)
    # the future's P&L is cash: NAV after = NAV before + P&L
    assert r.after.nav == pytest.approx(nav + sum(expected.values()), rel=1e-12)
    assert r.after.cash == pytest.approx(30000.0 + expected["es"], rel=1e-12)
    # post-shock beta: beta-dollars at shocked prices over the NAV after
    after_bd = sum(beta[und[k]] * n * (1 + beta[und[k]] * -0.3) for k, n in notional.items())
    assert r.after.portfolio_beta == pytest.approx(after_bd / r.after.nav, rel=1e-9)


def test_own_shock_overrides_beta_times_market(tmp_path):
    cfg, market, state, prices = desk(tmp_path, HOLDINGS + FUTURE + SCENARIOS)
    close = prices.iloc[-1]
    (r,) = run_scenarios(cfg, state, market, ["own"])
    b_bbb = sm_beta(prices, "BBB", 80)
    assert r.shocks["AAA"] == 0.1
    assert r.shocks["BBB"] == pytest.approx(b_bbb * -0.2, rel=1e-9)
    assert r.shocks["IDX"] == pytest.approx(-0.2, rel=1e-12)
    assert r.line_pnl["AAA"] == pytest.approx(400 * close["AAA"] * 0.1, rel=1e-12)
    assert r.pnl == pytest.approx(
        400 * close["AAA"] * 0.1 - 200 * close["BBB"] * b_bbb * -0.2 - 50 * close["IDX"] * -0.2,
        rel=1e-9,
    )


def test_options_repriced_in_full_at_shocked_spot_and_vol(tmp_path):
    asof = synthetic_prices().index[-1].date()
    expiry = asof + dt.timedelta(days=45)
    cfg, market, state, prices = desk(
        tmp_path, HOLDINGS + PUT.format(strike=120, expiry=expiry) + SCENARIOS
    )
    close = prices.iloc[-1]
    b = sm_beta(prices, "AAA", 80)
    t = 45 / 365
    (r,) = run_scenarios(cfg, state, market, ["crash"])
    s0, s1 = close["AAA"], close["AAA"] * (1 + b * -0.3)
    before = bsm("put", s0, 120, t, 0.02, 0.01, 0.3)
    after = bsm("put", s1, 120, t, 0.02, 0.01, 0.3 + 0.15)  # time does not pass
    assert r.line_pnl["put"] == pytest.approx(300 * (after["price"] - before["price"]), rel=1e-9)
    # not the delta approximation
    assert abs(r.line_pnl["put"] - 300 * before["delta"] * (s1 - s0)) > 1000
    put = next(p for p in r.after.positions if p.line.name == "put")
    assert put.unit_price == pytest.approx(after["price"], rel=1e-9)
    assert put.dollar_delta == pytest.approx(300 * after["delta"] * s1, rel=1e-9)


def test_shocked_volatility_is_floored_at_one_percent(tmp_path):
    asof = synthetic_prices().index[-1].date()
    expiry = asof + dt.timedelta(days=45)
    body = HOLDINGS + PUT.format(strike=121, expiry=expiry)
    cfg, _, state, prices = desk(tmp_path, body)
    s0 = prices.iloc[-1]["AAA"]
    r = run_scenario(cfg, state, Scenario("calm", vol=-0.5))  # 0.3 - 0.5 < 0: floored
    put = next(p for p in r.after.positions if p.line.name == "put")
    floored = bsm("put", s0, 121, 45 / 365, 0.02, 0.01, 0.01)["price"]
    assert floored - bsm("put", s0, 121, 45 / 365, 0.02, 0.01, 1e-4)["price"] > 0.01
    assert put.unit_price == pytest.approx(floored, rel=1e-9)


def test_leg_value_is_pnl_less_pnl_of_the_book_without_it(tmp_path):
    asof = synthetic_prices().index[-1].date()
    put = PUT.format(strike=140, expiry=asof + dt.timedelta(days=60))
    cfg, market, state, prices = desk(tmp_path, HOLDINGS + FUTURE + put + SCENARIOS)
    (r,) = run_scenarios(cfg, state, market, ["crash"])
    close = prices.iloc[-1]
    assert set(r.without) == {"es", "put"}  # hedge legs only
    # the future's value in the scenario is its own linear P&L
    assert r.leg_value("es") == pytest.approx(-50 * close["IDX"] * -0.3, rel=1e-9)
    for leg, body in (("es", HOLDINGS + put + SCENARIOS), ("put", HOLDINGS + FUTURE + SCENARIOS)):
        assert r.leg_value(leg) == pytest.approx(r.pnl - r.without[leg].pnl, rel=1e-12)
        cfg2, market2, state2, _ = desk(tmp_path, body, name=f"without_{leg}.toml")
        (r2,) = run_scenarios(cfg2, state2, market2, ["crash"])
        assert r.without[leg].pnl == pytest.approx(r2.pnl, rel=1e-12), leg
        assert r.without[leg].beta_after == pytest.approx(r2.after.portfolio_beta, rel=1e-12)
    assert r.leg_value("put") > 0  # a long put pays in a crash


def test_two_unnamed_futures_on_one_index_both_count(tmp_path):
    two = (
        '[[book.hedges]]\ninstrument = "future"\ncontract = "MES"\nunderlying = "IDX"\n'
        'quantity = -2\n[[book.hedges]]\ninstrument = "future"\ncontract = "ES"\n'
        'underlying = "IDX"\nquantity = -1\n'
    )
    cfg, _, state, prices = desk(tmp_path, HOLDINGS + two)
    close = prices.iloc[-1]
    r = run_scenario(cfg, state, Scenario("crash", market=-0.3))
    b = {"AAA": sm_beta(prices, "AAA", 80), "BBB": sm_beta(prices, "BBB", 80)}
    expected = (
        400 * close["AAA"] * b["AAA"] - 200 * close["BBB"] * b["BBB"] - (2 * 5 + 50) * close["IDX"]
    ) * -0.3
    assert r.pnl == pytest.approx(expected, rel=1e-9)


def test_shock_of_minus_100_percent_is_refused(tmp_path):
    cfg, _, state, prices = desk(tmp_path, HOLDINGS)
    with pytest.raises(DataError, match="-100 %"):
        run_scenario(cfg, state, Scenario("wipe-out", shocks=(("AAA", -1.0),)))
    b = sm_beta(prices, "AAA", 80)
    assert b > 1.1  # so beta x -0.95 is below -100 %
    with pytest.raises(DataError, match="wipe-out 2"):
        run_scenario(cfg, state, Scenario("wipe-out 2", market=-0.95))
    ok = run_scenario(cfg, state, Scenario("deep", market=-0.95 / b * 0.99))
    assert ok.line_pnl["AAA"] == pytest.approx(
        400 * prices.iloc[-1]["AAA"] * -0.95 * 0.99, rel=1e-9
    )


def test_unknown_scenario_name(tmp_path):
    cfg, market, state, _ = desk(tmp_path, HOLDINGS + SCENARIOS)
    with pytest.raises(DataError, match="nope") as err:
        run_scenarios(cfg, state, market, ["crash", "nope"])
    assert "'crash'" in str(err.value)  # the known names are listed


# -- the demo desk: replays from the price files ------------------------------------------------
HOLD = {
    "AAPL": 1500,
    "MSFT": 700,
    "AMD": 1500,
    "JPM": 800,
    "UNH": 200,
    "LLY": 250,
    "XOM": 1000,
    "HD": 300,
    "PG": 600,
    "KO": 1500,
}
ASOF = dt.date(2022, 12, 28)


@pytest.fixture(scope="module")
def demo():
    cfg = load_config(resolve_config_path())
    market = load_market(cfg)
    frames = [
        pd.read_csv(demo_dir() / f, index_col=0, parse_dates=True)
        for f in ("sp500_dataset.csv.gz", "sp500_index.csv.gz")
    ]
    return cfg, market, market_state(cfg, market), frames[0].join(frames[1], how="inner")


def test_covid_replay_shocks_and_full_repricing(demo):
    cfg, market, state, prices = demo
    (r,) = run_scenarios(cfg, state, market, ["COVID crash (replay)"])
    p0, p1 = prices.loc["2020-02-19"], prices.loc["2020-03-23"]
    tickers = [*HOLD, "SP500"]
    assert set(r.shocks) == set(tickers)
    for t in tickers:
        assert r.shocks[t] == pytest.approx(p1[t] / p0[t] - 1, rel=1e-12), t
    assert r.shocks["SP500"] == pytest.approx(-0.3392, abs=5e-4)  # the 2020 crash, -34 %
    close = prices.loc[pd.Timestamp(ASOF)]
    shock = {t: p1[t] / p0[t] - 1 for t in tickers}
    pnl = sum(q * close[t] * shock[t] for t, q in HOLD.items())
    pnl += -2 * 50 * close["SP500"] * shock["SP500"]
    for right, u, k, exp, n, vol, q in (
        ("put", "SP500", 3400, dt.date(2023, 3, 17), 2, 0.24, 0.016),
        ("call", "AAPL", 140, dt.date(2023, 1, 20), -3, 0.35, 0.007),
    ):
        t = (exp - ASOF).days / 365
        v0 = bsm(right, close[u], k, t, 0.04, q, vol)["price"]
        v1 = bsm(right, close[u] * (1 + shock[u]), k, t, 0.04, q, vol + 0.40)["price"]
        pnl += n * 100 * (v1 - v0)
    assert r.pnl == pytest.approx(pnl, rel=1e-9)
    assert r.leg_value("ES short") == pytest.approx(
        -100 * close["SP500"] * shock["SP500"], rel=1e-9
    )


def test_tech_drawdown_replay_shocks(demo):
    cfg, market, state, prices = demo
    (r,) = run_scenarios(cfg, state, market, ["2022 tech drawdown (replay)"])
    p0, p1 = prices.loc["2022-01-03"], prices.loc["2022-10-12"]
    for t in [*HOLD, "SP500"]:
        assert r.shocks[t] == pytest.approx(p1[t] / p0[t] - 1, rel=1e-12), t


def test_demo_runs_every_scenario(demo):
    cfg, market, state, _ = demo
    results = run_scenarios(cfg, state, market)
    assert [r.scenario.name for r in results] == [s.name for s in cfg.scenarios]
    by = {r.scenario.name: r for r in results}
    # the put pays more the deeper the crash (its convexity even flattens the book's loss)
    puts = [by[f"Market crash -{k}%"].leg_value("SPX put 3400") for k in (20, 30, 40)]
    assert 0 < puts[0] < puts[1] < puts[2]


def test_a_loss_larger_than_nav_is_reported_not_refused(tmp_path):
    # 10 long ES on a small account: a -30 % crash costs more than the NAV
    levered = HOLDINGS + FUTURE.replace("quantity = -1", "quantity = 10")
    cfg, _, state, prices = desk(tmp_path, levered)
    r = run_scenario(cfg, state, Scenario("crash", market=-0.3))
    idx = prices["IDX"].iloc[-1]
    assert r.line_pnl["es"] == pytest.approx(10 * 50 * idx * -0.3)
    assert r.after.nav < 0 and math.isnan(r.after.portfolio_beta)


def test_replay_beyond_the_data_is_refused_and_dates_used_are_reported(tmp_path):
    cfg, market, state, prices = desk(tmp_path, HOLDINGS)
    last = prices.index[-1]
    inside = Scenario("inside", replay=(prices.index[10].date(), prices.index[60].date()))
    r = run_scenario(cfg, state, inside, market)
    assert r.replay_dates == (prices.index[10].date(), prices.index[60].date())
    beyond = Scenario(
        "beyond", replay=(prices.index[10].date(), (last + pd.Timedelta(days=60)).date())
    )
    with pytest.raises(DataError, match="covers only"):
        run_scenario(cfg, state, beyond, market)


def test_without_leg_keeps_the_post_shock_greeks(tmp_path):
    cfg, market, state, _ = desk(tmp_path, HOLDINGS + FUTURE + SCENARIOS)
    r = run_scenario(cfg, state, cfg.scenarios[0], market)
    w = r.without["es"]
    assert w.after.total("dollar_delta") == pytest.approx(
        r.after.total("dollar_delta") - r.after.positions[-1].dollar_delta
    )

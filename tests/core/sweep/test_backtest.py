"""Dynamic-beta hedge backtest against independent witnesses.

Witnesses: a tiny case worked out step by step with plain arithmetic and ``np.polyfit``; a
second implementation written differently (positions compounded with ``cumprod`` between
rebalances, using the invariant ``E - L + S`` = constant while no trade happens, betas by
``np.linalg.lstsq``); plain loops for basket weights; price ratios for buy-and-hold curves;
plain numpy for the metrics; statsmodels-free OLS (``np.polyfit``) for the realised beta.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hedgedesk.core.data.market import MarketData, Series
from hedgedesk.core.data.price_files import load_paths
from hedgedesk.core.demo import load_demo
from hedgedesk.core.errors import DataError
from hedgedesk.core.sweep.backtest import (
    BacktestResult,
    UndefinedBeta,
    basket_returns,
    dynamic_beta_hedge,
    run_backtest,
)

MAG7 = ["AAPL", "AMZN", "GOOGL", "META", "MSFT", "NVDA", "TSLA"]


# -- helpers ---------------------------------------------------------------------------------
def _paired_returns(seed: int, n_days: int, beta: float = 1.2):
    rng = np.random.default_rng(seed)
    r_hedge = 0.0003 + 0.01 * rng.standard_normal(n_days)
    r_long = 0.0002 + beta * r_hedge + 0.008 * rng.standard_normal(n_days)
    return r_long, r_hedge


def _series(ticker: str, dates, close, volume=None) -> Series:
    return Series(
        ticker,
        np.asarray(dates, dtype="datetime64[D]"),
        np.asarray(close, float),
        None if volume is None else np.asarray(volume, float),
        "test",
        "adjusted close",
    )


def _business_days(n: int, first: str = "2021-01-04") -> np.ndarray:
    return pd.bdate_range(first, periods=n).to_numpy().astype("datetime64[D]")


def _random_prices(rng, n_rows: int, n_cols: int) -> np.ndarray:
    returns = 0.0004 + 0.015 * rng.standard_normal((n_rows - 1, n_cols))
    return 100.0 * np.vstack([np.ones(n_cols), np.cumprod(1.0 + returns, axis=0)])


def _close_series(market: MarketData, ticker: str) -> pd.Series:
    s = market.get(ticker)
    return pd.Series(s.close, index=pd.DatetimeIndex(s.dates.astype("datetime64[ns]")))


def _loop_basket(prices: np.ndarray, volumes: np.ndarray | None, window: int = 30):
    """Plain loop: (row of prices, basket return) for every row whose weights exist."""
    n_rows, n_members = prices.shape
    rows, values = [], []
    for t in range(1, n_rows):
        if volumes is None:
            weights = [1.0 / n_members] * n_members
        else:
            if t < window:
                continue  # fewer than `window` days of volume before day t
            means = [sum(volumes[t - window : t, i]) / window for i in range(n_members)]
            weights = [m / sum(means) for m in means]
        value = 0.0
        for i in range(n_members):
            value += weights[i] * (prices[t, i] / prices[t - 1, i] - 1.0)
        rows.append(t)
        values.append(value)
    return rows, np.array(values)


def _reference_hedge(
    r_long, r_hedge, rebalance, window, exposure, hedge_ratio, cost, drift_band, capital
):
    """CONVENTIONS written a second way: loop over rebalances only; in between, positions
    compound (cumprod) and equity follows from ``E - L + S`` being constant (pnl = dL - dS).
    """
    n_days = len(r_long)
    schedule = np.arange(window - 1, n_days, rebalance)
    equity, long_, short = capital, 0.0, 0.0
    curve, betas, flags, costs, traded_total = [capital], [], [], [], 0.0
    for i, t in enumerate(schedule):
        x = r_hedge[t - window + 1 : t + 1]
        design = np.column_stack([np.ones(window), x])
        beta = np.linalg.lstsq(design, r_long[t - window + 1 : t + 1], rcond=None)[0][1]
        trade = (
            drift_band == 0 or long_ == 0 or abs(short / long_ - hedge_ratio * beta) > drift_band
        )
        day_cost = 0.0
        if trade:
            new_long = exposure * equity
            new_short = hedge_ratio * beta * exposure * equity
            traded = abs(new_long - long_) + abs(new_short - short)
            traded_total += traded
            day_cost = cost * traded
            equity, long_, short = equity - day_cost, new_long, new_short
        betas.append(beta)
        flags.append(trade)
        costs.append(day_cost)
        curve.append(equity)
        # hold through the next rebalance day (marked there, recorded after its trade)
        last = i + 1 == len(schedule)
        stop = n_days - 1 if last else schedule[i + 1]
        held_long = long_ * np.cumprod(1.0 + r_long[t + 1 : stop + 1])
        held_short = short * np.cumprod(1.0 + r_hedge[t + 1 : stop + 1])
        held_equity = equity + (held_long - long_) - (held_short - short)
        curve.extend(held_equity if last else held_equity[:-1])
        if len(held_equity):
            equity, long_, short = held_equity[-1], held_long[-1], held_short[-1]
    return np.array(curve), np.array(betas), flags, np.array(costs), traded_total


def _assert_matches_reference(run, reference, capital):
    curve, betas, flags, costs, traded_total = reference
    np.testing.assert_allclose(run.equity, curve, rtol=1e-12, atol=1e-12 * capital)
    np.testing.assert_allclose(run.betas, betas, rtol=1e-10, atol=1e-12)
    assert [r.traded for r in run.rebalances] == flags
    np.testing.assert_allclose(
        [r.cost for r in run.rebalances], costs, rtol=1e-10, atol=1e-14 * capital
    )
    assert run.traded_notional == pytest.approx(traded_total, rel=1e-12, abs=1e-12 * capital)


# -- 1. a tiny case by hand ------------------------------------------------------------------
TINY_LONG = [0.010, -0.020, 0.015, 0.030, -0.010, 0.020]
TINY_HEDGE = [0.006, -0.012, 0.004, 0.018, -0.009, 0.011]


def test_tiny_case_by_hand():
    k, h, c, capital = 1.5, 0.8, 0.001, 100.0
    rl, rh = TINY_LONG, TINY_HEDGE
    run = dynamic_beta_hedge(
        np.array(rl),
        np.array(rh),
        rebalance=2,
        window=3,
        exposure=k,
        hedge_ratio=h,
        cost=c,
        capital=capital,
    )
    # days 0 and 1: the book is flat, nothing happens
    # day 2: first rebalance, beta of returns 0..2
    b2 = np.polyfit(rh[0:3], rl[0:3], 1)[0]
    long2, short2 = k * capital, h * b2 * k * capital
    cost2 = c * (abs(long2 - 0.0) + abs(short2 - 0.0))
    e2 = capital - cost2
    # day 3: mark to market only
    e3 = e2 + long2 * rl[3] - short2 * rh[3]
    long3, short3 = long2 * (1 + rl[3]), short2 * (1 + rh[3])
    # day 4: mark to market, then rebalance on the beta of returns 2..4
    e4_marked = e3 + long3 * rl[4] - short3 * rh[4]
    long4_drifted, short4_drifted = long3 * (1 + rl[4]), short3 * (1 + rh[4])
    b4 = np.polyfit(rh[2:5], rl[2:5], 1)[0]
    long4, short4 = k * e4_marked, h * b4 * k * e4_marked
    cost4 = c * (abs(long4 - long4_drifted) + abs(short4 - short4_drifted))
    e4 = e4_marked - cost4
    # day 5: mark to market only
    e5 = e4 + long4 * rl[5] - short4 * rh[5]

    np.testing.assert_allclose(run.equity, [capital, e2, e3, e4, e5], rtol=1e-13)
    assert [r.day for r in run.rebalances] == [2, 4]
    np.testing.assert_allclose(run.betas, [b2, b4], rtol=1e-11)
    assert b2 != pytest.approx(b4, rel=0.01)  # the second beta really is re-estimated
    first, second = run.rebalances
    assert (first.long_notional, first.short_notional) == pytest.approx((long2, short2))
    assert (second.long_notional, second.short_notional) == pytest.approx((long4, short4))
    assert (first.cost, second.cost) == pytest.approx((cost2, cost4), rel=1e-12)
    assert first.traded and second.traded
    assert run.traded_notional == pytest.approx((cost2 + cost4) / c, rel=1e-12)


def test_tiny_case_dates_through_run_backtest():
    """Seven closes give the six returns above; the curve's first date is the close of day
    W-2 (price row W-1), before any trade.
    """
    dates = _business_days(7)
    long_close = 50.0 * np.cumprod([1.0, *(1 + np.array(TINY_LONG))])
    hedge_close = 80.0 * np.cumprod([1.0, *(1 + np.array(TINY_HEDGE))])
    market = MarketData.from_series(
        [_series("L", dates, long_close), _series("H", dates, hedge_close)]
    )
    res = run_backtest(
        market,
        ["L"],
        "H",
        rebalance=2,
        window=3,
        exposure=1.5,
        hedge_ratio=0.8,
        cost=0.001,
        capital=100.0,
    )
    direct = dynamic_beta_hedge(
        np.array(TINY_LONG), np.array(TINY_HEDGE), 2, 3, 1.5, 0.8, 0.001, 0.0, 100.0
    )
    np.testing.assert_allclose(res.equity, direct.equity, rtol=1e-13)
    assert list(res.dates) == list(pd.DatetimeIndex(dates[2:]))
    assert list(res.rebalances.index) == [pd.Timestamp(dates[3]), pd.Timestamp(dates[5])]
    assert list(res.rebalances["day"]) == [2, 4]
    np.testing.assert_allclose(res.benchmark, 100.0 * hedge_close[2:] / hedge_close[2], rtol=1e-13)


# -- 2. a second implementation --------------------------------------------------------------
GRID = list(
    itertools.product(
        [1, 3, 7],  # rebalance
        [3, 8, 25],  # window
        [0.6, 1.0, 1.7],  # exposure
        [0.0, 0.75, 1.3],  # hedge ratio
        [0.0, 0.002],  # cost
        [0.0, 0.004, 0.1],  # drift band
    )
)


def test_matches_second_implementation_on_a_parameter_grid():
    traded_flags = []
    for i, (p, w, k, h, c, d) in enumerate(GRID):
        capital = [1.0, 250_000.0][i % 2]
        r_long, r_hedge = _paired_returns(i, 90 + i % 37, beta=[1.2, -0.4, 0.9][i % 3])
        run = dynamic_beta_hedge(r_long, r_hedge, p, w, k, h, c, d, capital)
        reference = _reference_hedge(r_long, r_hedge, p, w, k, h, c, d, capital)
        _assert_matches_reference(run, reference, capital)
        assert len(run.equity) == len(r_long) - w + 2
        traded_flags += [(d > 0, r.traded) for r in run.rebalances[1:]]
    # the grid exercises the drift band both ways
    assert (True, True) in traded_flags and (True, False) in traded_flags


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    window=st.integers(3, 30),
    rebalance=st.integers(1, 15),
    extra=st.integers(0, 120),
    exposure=st.floats(0.1, 3.0),
    hedge_ratio=st.floats(-1.0, 2.0),
    cost=st.sampled_from([0.0, 0.0005, 0.01]),
    drift_band=st.sampled_from([0.0, 0.004, 0.02, 0.5]),
    capital=st.floats(0.5, 1e6),
)
def test_matches_second_implementation_property(
    seed, window, rebalance, extra, exposure, hedge_ratio, cost, drift_band, capital
):
    r_long, r_hedge = _paired_returns(seed, window + extra)
    run = dynamic_beta_hedge(
        r_long, r_hedge, rebalance, window, exposure, hedge_ratio, cost, drift_band, capital
    )
    reference = _reference_hedge(
        r_long, r_hedge, rebalance, window, exposure, hedge_ratio, cost, drift_band, capital
    )
    _assert_matches_reference(run, reference, capital)


# -- 3. baskets ------------------------------------------------------------------------------
def test_volume_weighted_basket_equals_a_plain_loop():
    rng = np.random.default_rng(7)
    prices = _random_prices(rng, 90, 4)
    volumes = rng.uniform(1e6, 5e7, size=(90, 4))
    index = pd.DatetimeIndex(_business_days(90))
    cols = ["A", "B", "C", "D"]
    got = basket_returns(
        pd.DataFrame(prices, index, cols), pd.DataFrame(volumes, index, cols), "volume"
    )
    rows, expected = _loop_basket(prices, volumes)
    assert rows[0] == 30  # the basket starts on the first day all 30-day weights exist
    assert list(got.index) == list(index[rows])
    np.testing.assert_allclose(got.to_numpy(), expected, rtol=1e-12)


def test_volume_weights_use_volumes_through_the_previous_day():
    """Changing day t's volume moves the basket from day t+1 to day t+30 only."""
    rng = np.random.default_rng(8)
    index = pd.DatetimeIndex(_business_days(100))
    prices = pd.DataFrame(_random_prices(rng, 100, 3), index, ["A", "B", "C"])
    volumes = pd.DataFrame(rng.uniform(1e6, 5e7, size=(100, 3)), index, ["A", "B", "C"])
    base = basket_returns(prices, volumes, "volume")
    bumped_volumes = volumes.copy()
    bumped_volumes.iloc[50, 0] *= 40.0
    bumped = basket_returns(prices, bumped_volumes, "volume")
    changed = index[(base - bumped).abs().reindex(index).fillna(0).to_numpy() > 1e-15]
    assert list(changed) == list(index[51:81])


def test_equal_weighted_basket_is_the_mean_from_the_first_return():
    rng = np.random.default_rng(9)
    prices = _random_prices(rng, 40, 3)
    index = pd.DatetimeIndex(_business_days(40))
    got = basket_returns(pd.DataFrame(prices, index, ["A", "B", "C"]), None, "equal")
    rows, expected = _loop_basket(prices, None)
    assert rows[0] == 1
    assert list(got.index) == list(index[1:])
    np.testing.assert_allclose(got.to_numpy(), expected, rtol=1e-13)


def test_basket_with_a_volume_gap_after_its_start_raises():
    rng = np.random.default_rng(10)
    index = pd.DatetimeIndex(_business_days(80))
    prices = pd.DataFrame(_random_prices(rng, 80, 2), index, ["A", "B"])
    volumes = pd.DataFrame(rng.uniform(1e6, 5e7, size=(80, 2)), index, ["A", "B"])
    volumes.iloc[60, 1] = np.nan
    # the weight of day 61 is the first to need row 60's volume
    with pytest.raises(
        DataError,
        match=re.escape(
            f"B: volume missing in the 30 days before {index[61].date()}: the basket weight "
            "is undefined"
        ),
    ):
        basket_returns(prices, volumes, "volume")


def _gappy_market(seed: int = 11, n_rows: int = 160):
    """Members A, B (with volumes) and hedge H; B lacks row 70, H lacks row 95. A's volumes
    before row 20 are 1000 times larger, so weights using them after a start clip would show.
    """
    rng = np.random.default_rng(seed)
    dates = _business_days(n_rows)
    prices = _random_prices(rng, n_rows, 3)
    volumes = rng.uniform(1e6, 5e7, size=(n_rows, 2))
    volumes[:20, 0] *= 1000.0
    keep_b = np.arange(n_rows) != 70
    keep_h = np.arange(n_rows) != 95
    market = MarketData.from_series(
        [
            _series("A", dates, prices[:, 0], volumes[:, 0]),
            _series("B", dates[keep_b], prices[keep_b, 1], volumes[keep_b, 1]),
            _series("H", dates[keep_h], prices[keep_h, 2]),
        ]
    )
    return market, dates, prices, volumes


@pytest.mark.parametrize("start_row", [None, 20])
def test_basket_backtest_inner_joins_then_clips_then_warms_up(start_row):
    market, dates, prices, volumes = _gappy_market()
    keep = np.ones(len(dates), bool)
    keep[[70, 95]] = False  # inner join: a row any series lacks is dropped for all
    if start_row is not None:
        keep[:start_row] = False
    start = None if start_row is None else dates[start_row].astype(dt.date)
    res = run_backtest(
        market,
        ["A", "B"],
        "H",
        rebalance=4,
        window=12,
        exposure=1.2,
        hedge_ratio=0.9,
        cost=0.001,
        weighting="volume",
        start=start,
    )

    p, v, d = prices[keep], volumes[keep], pd.DatetimeIndex(dates[keep])
    rows, r_basket = _loop_basket(p[:, :2], v)
    r_hedge = np.array([p[t, 2] / p[t - 1, 2] - 1.0 for t in rows])
    expected = dynamic_beta_hedge(r_basket, r_hedge, 4, 12, 1.2, 0.9, 0.001)
    np.testing.assert_allclose(res.equity, expected.equity, rtol=1e-12)
    # day 0 is price row 30 of the joined, clipped rows; the curve starts at day W-2
    assert res.dates[0] == d[30 + 12 - 2]
    assert res.params["first_return"] == d[30].date()


def test_one_ticker_long_is_the_asset_itself():
    market, dates, prices, _ = _gappy_market()
    res = run_backtest(
        market, ["A"], "H", rebalance=5, window=10, hedge_ratio=0.0, weighting="volume"
    )
    keep = np.arange(len(dates)) != 95  # only A and H are joined: B's gap plays no part
    p = prices[keep]
    assert res.dates[0] == pd.Timestamp(dates[keep][10 - 1])
    np.testing.assert_allclose(res.equity[1:], p[10:, 0] / p[10, 0], rtol=1e-12)


# -- 4. edge cases ---------------------------------------------------------------------------
def test_wide_drift_band_trades_only_at_the_first_rebalance():
    r_long, r_hedge = _paired_returns(21, 150)
    k, h, c, capital = 1.3, 0.9, 0.002, 10.0
    run = dynamic_beta_hedge(r_long, r_hedge, 5, 20, k, h, c, drift_band=100.0, capital=capital)
    first, rest = run.rebalances[0], run.rebalances[1:]
    assert first.traded and len(rest) == 26
    assert not any(r.traded for r in rest) and all(r.cost == 0.0 for r in rest)
    # buy and hold the first positions: E = E_19 + L0 (G_L - 1) - S0 (G_H - 1)
    long0, short0 = k * capital, h * first.beta * k * capital
    assert run.traded_notional == pytest.approx(long0 + abs(short0), rel=1e-14)
    e19 = capital - c * (long0 + abs(short0))
    growth_long = np.cumprod(np.concatenate([[1.0], 1.0 + r_long[20:]]))
    growth_hedge = np.cumprod(np.concatenate([[1.0], 1.0 + r_hedge[20:]]))
    expected = e19 + long0 * (growth_long - 1.0) - short0 * (growth_hedge - 1.0)
    np.testing.assert_allclose(run.equity, [capital, *expected], rtol=1e-12)
    held = [(r.long_notional, r.short_notional) for r in rest]
    np.testing.assert_allclose(
        held,
        [(long0 * growth_long[r.day - 19], short0 * growth_hedge[r.day - 19]) for r in rest],
        rtol=1e-12,
    )


def test_first_return_carries_only_the_first_rebalance_cost():
    r_long, r_hedge = _paired_returns(22, 80)
    k, h, c, capital = 1.4, 1.1, 0.003, 1000.0
    run = dynamic_beta_hedge(r_long, r_hedge, 3, 15, k, h, c, capital=capital)
    beta = np.polyfit(r_hedge[:15], r_long[:15], 1)[0]
    expected_cost = c * (k * capital + abs(h * beta * k * capital))
    assert run.equity[1] / run.equity[0] - 1.0 == pytest.approx(-expected_cost / capital, rel=1e-12)
    free = dynamic_beta_hedge(r_long, r_hedge, 3, 15, k, h, 0.0, capital=capital)
    assert free.equity[1] == capital  # no cost: the first return is exactly 0


@pytest.mark.parametrize("drift_band", [0.0, 0.04])
def test_costs_lower_the_curve_and_enter_after_the_positions_are_sized(drift_band):
    """New notionals are sized on equity before the trade's cost, so from a trade on the
    costly book holds ``a`` times the free book's positions (``a`` = ratio of pre-cost
    equities) and ``E_cost(t) = a * E_free(t) - cost`` until the next trade.
    """
    r_long, r_hedge = _paired_returns(23, 200)
    free = dynamic_beta_hedge(r_long, r_hedge, 4, 20, 1.2, 1.0, 0.0, drift_band)
    costly = dynamic_beta_hedge(r_long, r_hedge, 4, 20, 1.2, 1.0, 0.004, drift_band)
    assert [r.traded for r in free.rebalances] == [r.traded for r in costly.rebalances]
    assert any(not r.traded for r in costly.rebalances) == (drift_band > 0)
    assert np.all(costly.equity[1:] < free.equity[1:])
    assert free.equity[1] == 1.0 and costly.equity[1] < 1.0
    trades = [
        (c.day, c.long_notional / f.long_notional, c.short_notional / f.short_notional, c.cost)
        for c, f in zip(costly.rebalances, free.rebalances, strict=True)
        if c.traded
    ]
    scales = [t[1] for t in trades]
    assert scales[0] == pytest.approx(1.0, rel=1e-14)  # both books start from the capital
    assert np.all(np.diff(scales) < 0)  # each earlier cost shrinks the later positions
    for i in range(1, len(costly.equity)):
        day = 20 - 2 + i
        _, a, a_short, cost = [t for t in trades if t[0] <= day][-1]
        assert a_short == pytest.approx(a, rel=1e-12)
        assert costly.equity[i] == pytest.approx(a * free.equity[i] - cost, rel=1e-12)


def test_zero_hedge_ratio_is_the_unhedged_curve_and_buy_and_hold_at_unit_exposure():
    demo = load_demo()
    kwargs = dict(
        rebalance=10,
        window=40,
        exposure=1.0,
        cost=0.0,
        start=dt.date(2018, 1, 1),
        end=dt.date(2020, 12, 31),
    )
    hedged = run_backtest(demo, ["AAPL"], "SP500", hedge_ratio=1.0, **kwargs)
    zero = run_backtest(demo, ["AAPL"], "SP500", hedge_ratio=0.0, **kwargs)
    np.testing.assert_array_equal(zero.equity, hedged.unhedged)
    np.testing.assert_array_equal(zero.equity, zero.unhedged)
    assert np.all(zero.rebalances["short_notional"] == 0.0)
    # k = 1, no cost: the long is rebalanced to equity by a trade of zero, i.e. held
    aapl = _close_series(demo, "AAPL").reindex(zero.dates).to_numpy()
    assert zero.equity[1] == 1.0  # bought at the close of day W-1
    np.testing.assert_allclose(zero.equity[1:], aapl[1:] / aapl[1], rtol=1e-12)
    costly = run_backtest(demo, ["AAPL"], "SP500", hedge_ratio=1.0, **{**kwargs, "cost": 0.001})
    assert np.all(costly.unhedged[1:] < hedged.unhedged[1:])


# -- 5. metrics ------------------------------------------------------------------------------
def _numpy_performance(equity: np.ndarray, rf: float) -> dict:
    r = equity[1:] / equity[:-1] - 1.0
    n = len(r)
    rf_d = (1.0 + rf) ** (1.0 / 252) - 1.0
    annual_return = (equity[-1] / equity[0]) ** (252 / n) - 1.0
    sd = np.sqrt(np.sum((r - r.mean()) ** 2) / (n - 1))
    downside = np.sqrt(np.mean(np.minimum(r - rf_d, 0.0) ** 2))
    running_max = np.array([equity[: t + 1].max() for t in range(len(equity))])
    mdd = np.min(equity / running_max - 1.0)
    return {
        "annual_return": annual_return,
        "annual_volatility": sd * np.sqrt(252),
        "sharpe": np.mean(r - rf_d) / sd * np.sqrt(252),
        "sortino": np.mean(r - rf_d) / downside * np.sqrt(252),
        "max_drawdown": mdd,
        "calmar": annual_return / abs(mdd),
        "n": n,
    }


def test_metrics_equal_a_plain_numpy_recomputation():
    rf, c = 0.03, 0.0015
    res = run_backtest(
        load_demo(),
        ["MSFT", "JPM", "XOM"],
        "SP500",
        rebalance=15,
        window=50,
        exposure=1.1,
        hedge_ratio=0.9,
        cost=c,
        drift_band=0.05,
        rf=rf,
        start=dt.date(2012, 1, 1),
        end=dt.date(2016, 12, 31),
        capital=1e6,
    )
    assert isinstance(res, BacktestResult)
    for curve, got in (
        (res.equity, res.metrics),
        (res.unhedged, res.metrics["unhedged"]),
        (res.benchmark, res.metrics["benchmark"]),
    ):
        expected = _numpy_performance(curve, rf)
        for key, value in expected.items():
            assert got[key] == pytest.approx(value, rel=1e-10), key
    n = len(res.equity) - 1
    traded = res.rebalances["cost"].sum() / c
    assert res.metrics["turnover"] == pytest.approx(traded * 252 / n / res.equity.mean(), rel=1e-10)
    hedged_r = np.diff(res.equity) / res.equity[:-1]
    unhedged_r = np.diff(res.unhedged) / res.unhedged[:-1]
    assert res.metrics["hedge_effectiveness"] == pytest.approx(
        1.0 - hedged_r.var() / unhedged_r.var(), rel=1e-10
    )
    assert res.metrics["hedge_effectiveness"] > 0.2
    assert 0 < res.rebalances["traded"].sum() < len(res.rebalances)  # the band did bind
    # unhedged: same exposure, cost and band with h = 0; S stays 0, so after its first trade
    # the band never lets it trade again: the basket bought with k * capital, held
    demo = load_demo()
    closes = pd.concat([_close_series(demo, t) for t in ["MSFT", "JPM", "XOM"]], axis=1)
    r_basket = (closes / closes.shift(1) - 1.0).mean(axis=1).reindex(res.dates[2:]).to_numpy()
    growth = np.cumprod(np.concatenate([[1.0], 1.0 + r_basket]))
    first = 1e6 - c * 1.1 * 1e6
    np.testing.assert_allclose(res.unhedged[1:], first + 1.1 * 1e6 * (growth - 1.0), rtol=1e-12)


# -- 6. real data ----------------------------------------------------------------------------
def _realised_beta(curve: np.ndarray, bench: pd.Series, dates: pd.DatetimeIndex) -> float:
    r_curve = curve[1:] / curve[:-1] - 1.0
    r_bench = (bench / bench.shift(1) - 1.0).reindex(dates[1:]).to_numpy()
    return float(np.polyfit(r_bench, r_curve, 1)[0])


def test_volume_weighted_mag7_hedged_with_qqq(shared_data):
    market = load_paths([shared_data / "mag7", shared_data / "etf" / "QQQ.csv"])
    res = run_backtest(market, MAG7, "QQQ", rebalance=5, window=60, cost=0.0005, weighting="volume")
    common = _close_series(market, "AAPL").index  # all eight share 2013-01-02..2023-12-29
    for t in [*MAG7, "QQQ"]:
        assert _close_series(market, t).loc[common[0] : common[-1]].index.equals(common)
    assert res.dates[0] == common[30 + 60 - 2]  # 30-day volume warm-up, then W - 2
    assert res.dates[-1] == common[-1]
    qqq = _close_series(market, "QQQ")
    assert abs(_realised_beta(res.equity, qqq, res.dates)) < 0.1
    assert _realised_beta(res.unhedged, qqq, res.dates) > 1.0
    assert res.metrics["hedge_effectiveness"] > 0.5
    assert res.metrics["annual_volatility"] < res.metrics["unhedged"]["annual_volatility"]
    np.testing.assert_allclose(
        res.benchmark, qqq.reindex(res.dates).to_numpy() / qqq[res.dates[0]], rtol=1e-12
    )
    assert list(res.rebalances.index) == list(res.dates[1::5])
    assert res.params["weighting"] == "volume"


def test_demo_aapl_hedged_with_sp500():
    demo = load_demo()
    start, end = dt.date(2010, 1, 1), dt.date(2022, 12, 28)
    res = run_backtest(
        demo, ["AAPL"], "SP500", rebalance=20, window=60, cost=0.0005, start=start, end=end
    )
    sp500 = _close_series(demo, "SP500")
    aapl = _close_series(demo, "AAPL")
    clipped = aapl.index[(aapl.index >= pd.Timestamp(start)) & (aapl.index <= pd.Timestamp(end))]
    clipped = clipped[clipped.isin(sp500.index)]
    # the first return is the second price on or after start; the curve starts at day W-2
    assert res.dates[0] == clipped[60 - 1]
    assert res.dates[-1] == clipped[-1]
    assert abs(_realised_beta(res.equity, sp500, res.dates)) < 0.15
    assert _realised_beta(res.unhedged, sp500, res.dates) > 0.9
    assert res.metrics["hedge_effectiveness"] > 0.3
    np.testing.assert_allclose(
        res.benchmark, sp500.reindex(res.dates).to_numpy() / sp500[res.dates[0]], rtol=1e-12
    )


# -- 7. bad requests -------------------------------------------------------------------------
def _flat_hedge_market(flat_from: int, n_rows: int = 120, geometric: bool = False):
    rng = np.random.default_rng(31)
    dates = _business_days(n_rows)
    long_close = _random_prices(rng, n_rows, 1)[:, 0]
    hedge_close = _random_prices(rng, n_rows, 1)[:, 0]
    steady = 1.0004 ** np.arange(n_rows - flat_from) if geometric else 1.0
    hedge_close[flat_from:] = hedge_close[flat_from] * steady
    market = MarketData.from_series(
        [_series("L", dates, long_close), _series("H", dates, hedge_close)]
    )
    return market, pd.DatetimeIndex(dates)


@pytest.mark.parametrize("geometric", [False, True])
def test_constant_hedge_window_names_its_last_date(geometric):
    # hedge returns are constant from price row 41 on: the first window wholly inside that
    # stretch ends at the rebalance on day 9 + 5 * 8 = 49 (price row 50)
    market, dates = _flat_hedge_market(40, geometric=geometric)
    with pytest.raises(
        UndefinedBeta,
        match=re.escape(
            f"H: hedge returns are constant over the window ending {dates[50].date()}: "
            "beta undefined"
        ),
    ):
        run_backtest(market, ["L"], "H", rebalance=5, window=10)


def test_dynamic_beta_hedge_constant_window_names_its_day():
    r_long, r_hedge = _paired_returns(32, 40)
    r_hedge[20:] = 0.001  # the window of the rebalance on day 24 is returns 20..24
    with pytest.raises(UndefinedBeta, match="window ending day 24: beta undefined"):
        dynamic_beta_hedge(r_long, r_hedge, rebalance=4, window=5)


@pytest.mark.parametrize(
    ("long", "hedge", "kwargs", "message"),
    [
        (
            ["AAPL"],
            "SP500",
            {"window": 1},
            "window: the beta window must be at least 2 returns, got 1",
        ),
        (
            ["AAPL"],
            "SP500",
            {"rebalance": 0},
            "rebalance: the rebalance period must be at least 1 day, got 0",
        ),
        (
            ["AAPL"],
            "SP500",
            {"start": dt.date(2022, 9, 1)},
            "AAPL,SP500: too little history: 81 common daily returns in 2022-09-01..last, need at "
            "least 82 (window + 2)",
        ),
        (
            ["AAPL", "MSFT"],
            "SP500",
            {"weighting": "volume"},
            "AAPL: volume weighting needs volumes for AAPL; the demo data has none",
        ),
        (
            ["AAPL", "SP500"],
            "SP500",
            {},
            "SP500: the hedge instrument is also in the long leg; hedge with a different ticker",
        ),
        (["SP500"], "SP500", {}, "SP500: the hedge instrument is also in the long leg"),
        (
            ["AAPL", "MSFT"],
            "SP500",
            {"weighting": "cap"},
            "weighting: unknown basket weighting 'cap'; expected one of equal, volume",
        ),
        ([], "SP500", {}, "long: no long tickers"),
        (["AAPL", "AAPL"], "SP500", {}, "long: ticker listed twice in the basket: AAPL"),
        (["AAPL"], "SP500", {"cost": -0.001}, "cost: the cost fraction must be >= 0"),
        (["AAPL"], "SP500", {"drift_band": -0.1}, "drift_band: the drift band must be >= 0"),
        (["AAPL"], "SP500", {"exposure": 0.0}, "exposure: the long exposure must be positive"),
        (["AAPL"], "SP500", {"capital": float("nan")}, "capital: must be a finite number"),
        (["AAPL"], "SP500", {"hedge_ratio": 1e308}, "hedge_ratio: expected at most 10, got 1e+308"),
        (["AAPL"], "SP500", {"exposure": 10.5}, "exposure: expected at most 10, got 10.5"),
        (["AAPL"], "SP500", {"hedge_ratio": 10.5}, "hedge_ratio: expected at most 10"),
        (["AAPL"], "SP500", {"capital": 1e16}, "capital: expected at most 1e+15"),
        (["AAPL"], "NOPE", {}, "NOPE: unknown ticker"),
    ],
)
def test_bad_requests_raise_data_error(long, hedge, kwargs, message):
    args = {"rebalance": 5, "window": 80, **kwargs}
    with pytest.raises(DataError, match="^" + re.escape(message)):
        run_backtest(load_demo(), long, hedge, **args)


def test_enough_history_is_exactly_window_plus_two_returns():
    # 2022-09-01..2022-12-28 holds 82 demo closes, 81 returns: one short of W + 2 = 82 for
    # W = 80 (the case above); W = 79 needs 81 and runs
    res = run_backtest(
        load_demo(), ["AAPL"], "SP500", rebalance=5, window=79, start=dt.date(2022, 9, 1)
    )
    assert len(res.equity) == 81 - 79 + 2


def test_dynamic_beta_hedge_rejects_mismatched_or_short_input():
    with pytest.raises(DataError, match="equal length"):
        dynamic_beta_hedge(np.zeros(10), np.zeros(9), 1, 3)
    with pytest.raises(DataError, match="too little history: 4 daily returns"):
        dynamic_beta_hedge(np.ones(4), np.arange(4.0), 1, 5)
    with pytest.raises(DataError, match="returns must be finite"):
        dynamic_beta_hedge(np.array([0.1, np.nan, 0.2, 0.0]), np.arange(4.0), 1, 3)

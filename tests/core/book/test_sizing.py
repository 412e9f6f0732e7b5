"""Sizing toolkit against independent witnesses: hand calculations, hypothesis properties
(hedged beta near target), a brute-force growth grid for Kelly, the standard library for
volatility, a second risk-parity algorithm (cyclical coordinate descent) and closed forms.
"""

from __future__ import annotations

import math
import statistics
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hedgedesk.core.book.signals import atr
from hedgedesk.core.book.sizing import (
    CALL_COVERAGE,
    PUT_COVERAGE,
    atr_stop,
    fractional_kelly,
    futures_for_beta,
    option_coverage,
    risk_parity,
    round_half_away,
    vol_target_scale,
)
from hedgedesk.core.data.price_files import load_paths
from hedgedesk.core.demo import load_demo
from hedgedesk.core.instruments import CONTRACTS, OPTION_MULTIPLIER


# -- futures -------------------------------------------------------------------------------------
def test_futures_hand_example_es_exact():
    """NAV 10m at beta 1.3 to 0.5 with ES at 5000 x 50 = 250k: -0.8 * 10m / 250k = -32."""
    s = futures_for_beta(
        beta_now=1.3,
        beta_target=0.5,
        nav=10_000_000,
        price=5000,
        multiplier=CONTRACTS["ES"].multiplier,
    )
    assert s.notional_per_contract == 250_000
    assert s.unrounded == pytest.approx(-32.0) and s.contracts == -32 and s.side == "sell"
    assert s.beta_after == pytest.approx(0.5) and s.residual_beta == pytest.approx(0.0, abs=1e-12)


def test_futures_hand_example_nq_with_residual():
    """NQ 18000 x 20 = 360k: -8m / 360k = -22.22 -> -22 contracts = -7.92m of beta-dollars,
    beta 1.3 - 0.792 = 0.508, residual +0.008.
    """
    s = futures_for_beta(
        beta_now=1.3,
        beta_target=0.5,
        nav=10_000_000,
        price=18_000,
        multiplier=CONTRACTS["NQ"].multiplier,
    )
    assert s.unrounded == pytest.approx(-22.2222222222)
    assert s.contracts == -22
    assert s.beta_after == pytest.approx(0.508, abs=1e-12)
    assert s.residual_beta == pytest.approx(0.008, abs=1e-12)
    assert s.beta_per_contract == pytest.approx(0.036)
    assert s.as_dict()["multiplier"] == 20


def test_futures_beta_of_future_scales_the_count():
    """A future with beta 2 to the benchmark needs half the contracts."""
    one = futures_for_beta(beta_now=0.2, beta_target=1.0, nav=1e6, price=100, multiplier=50)
    two = futures_for_beta(
        beta_now=0.2, beta_target=1.0, nav=1e6, price=100, multiplier=50, beta_of_future=2.0
    )
    assert one.unrounded == pytest.approx(160.0) and two.unrounded == pytest.approx(80.0)
    assert one.contracts == 160 and two.side == "buy"
    assert two.beta_per_contract == pytest.approx(2 * one.beta_per_contract) == 0.01


@pytest.mark.parametrize(("target", "expected"), [(0.25, 3), (-0.25, -3), (0.15, 2)])
def test_futures_ties_round_away_from_zero(target, expected):
    """0.25 * 1m / 100k = 2.5 exactly: 3 contracts (Python's round would give 2)."""
    s = futures_for_beta(beta_now=0.0, beta_target=target, nav=1e6, price=1000, multiplier=100)
    assert s.contracts == expected


@given(st.floats(-1e6, 1e6, allow_nan=False))
@example(0.49999999999999994)
@example(-0.49999999999999994)
@example(2.5)
@example(-2.5)
def test_round_half_away_matches_decimal(x):
    assert round_half_away(x) == int(Decimal(x).quantize(Decimal(1), rounding=ROUND_HALF_UP))


_contract_codes = st.sampled_from(sorted(CONTRACTS))


@settings(max_examples=300, deadline=None)
@given(
    beta_now=st.floats(-3, 3),
    beta_target=st.floats(-3, 3),
    nav=st.floats(1e4, 1e9),
    price=st.floats(0.5, 2e5),
    code=_contract_codes,
    beta_of_future=st.floats(0.2, 3) | st.floats(-3, -0.2),
)
def test_futures_property_beta_lands_within_one_contract(
    beta_now, beta_target, nav, price, code, beta_of_future
):
    mult = CONTRACTS[code].multiplier
    s = futures_for_beta(
        beta_now=beta_now,
        beta_target=beta_target,
        nav=nav,
        price=price,
        multiplier=mult,
        beta_of_future=beta_of_future,
    )
    one_contract = price * mult * abs(beta_of_future) / nav
    # apply the trade by beta-dollars (CONVENTIONS: portfolio beta = beta-dollars / NAV)
    beta_dollars = beta_now * nav + s.contracts * price * mult * beta_of_future
    applied = beta_dollars / nav
    tol = 1e-9 * max(1.0, one_contract, abs(beta_now), abs(beta_target))
    assert applied == pytest.approx(s.beta_after, abs=tol)
    assert abs(applied - beta_target) <= one_contract + tol
    assert abs(applied - beta_target) <= 0.5 * one_contract + tol  # nearest, not just "within"
    assert s.residual_beta == pytest.approx(s.beta_after - beta_target, abs=1e-15)
    assert abs(s.contracts - s.unrounded) <= 0.5 + 1e-9
    assert abs(s.beta_per_contract) == pytest.approx(one_contract, rel=1e-12)
    assert s.unrounded * s.beta_per_contract == pytest.approx(beta_target - beta_now, abs=tol)
    # brute force: no neighbouring whole number lands closer to the target
    for k in (s.contracts - 1, s.contracts + 1):
        other = (beta_dollars + (k - s.contracts) * price * mult * beta_of_future) / nav
        assert abs(other - beta_target) >= abs(applied - beta_target) - tol


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"nav": -1e6}, "nav must be > 0"),
        ({"nav": 0}, "nav must be > 0"),
        ({"price": 0}, "price must be > 0"),
        ({"multiplier": 0}, "multiplier must be > 0"),
        ({"multiplier": -5}, "multiplier must be > 0"),
        ({"beta_of_future": 0}, "beta_of_future"),
        ({"beta_now": float("nan")}, "beta_now must be finite"),
        ({"price": "abc"}, "price must be a number"),
    ],
)
def test_futures_rejects_bad_inputs(kwargs, message):
    args = {"beta_now": 1.0, "beta_target": 0.5, "nav": 1e6, "price": 5000, "multiplier": 50}
    with pytest.raises(ValueError, match=message):
        futures_for_beta(**(args | kwargs))


# -- options -------------------------------------------------------------------------------------
def test_plan_ranges():
    assert PUT_COVERAGE == (0.20, 0.30) and CALL_COVERAGE == (0.10, 0.20)


def test_put_coverage_hand_example():
    """25 % of 1m at 450 x 100 = 45k per contract: 250k / 45k = 5.56 -> 6 -> 270k = 27 %."""
    o = option_coverage(core_notional=1_000_000, coverage=0.25, underlying_price=450)
    assert o.multiplier == OPTION_MULTIPLIER and o.kind == "put"
    assert o.unrounded == pytest.approx(5.5555555556) and o.contracts == 6
    assert o.covered_notional == pytest.approx(270_000)
    assert o.achieved_coverage == pytest.approx(0.27)
    assert o.plan_range == PUT_COVERAGE and not o.outside_plan and not o.achieved_outside_plan


@pytest.mark.parametrize(
    ("kind", "coverage", "outside"),
    [
        ("put", 0.10, True),
        ("put", 0.20, False),
        ("put", 0.30, False),
        ("put", 0.35, True),
        ("call", 0.15, False),
        ("call", 0.25, True),
        ("call", 0.05, True),
        ("call", 0.0, True),
    ],
)
def test_coverage_flag_against_the_plan(kind, coverage, outside):
    o = option_coverage(core_notional=2_000_000, coverage=coverage, underlying_price=100, kind=kind)
    assert o.outside_plan is outside
    assert o.achieved_coverage == pytest.approx(coverage)  # 100 x 100 divides 2m evenly


def test_rounding_can_leave_the_plan():
    """21 % of 1m at 900: 210k / 90k = 2.33 -> 2 contracts = 180k = 18 %, below the put range."""
    o = option_coverage(core_notional=1_000_000, coverage=0.21, underlying_price=900)
    assert o.contracts == 2 and not o.outside_plan and o.achieved_outside_plan
    assert o.achieved_coverage == pytest.approx(0.18)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"coverage": -0.01}, r"coverage must be a fraction in \[0, 1.5\]"),
        ({"coverage": 1.51}, r"coverage must be a fraction in \[0, 1.5\]"),
        ({"core_notional": -1}, "core_notional must be > 0"),
        ({"underlying_price": 0}, "underlying_price must be > 0"),
        ({"multiplier": 0}, "multiplier must be > 0"),
        ({"kind": "straddle"}, "kind must be"),
    ],
)
def test_coverage_rejects_bad_inputs(kwargs, message):
    args = {"core_notional": 1e6, "coverage": 0.25, "underlying_price": 400}
    with pytest.raises(ValueError, match=message):
        option_coverage(**(args | kwargs))


def test_coverage_edges_are_accepted():
    assert option_coverage(core_notional=1e6, coverage=1.5, underlying_price=100).contracts == 150
    assert option_coverage(core_notional=1e6, coverage=0, underlying_price=100).contracts == 0


# -- Kelly ---------------------------------------------------------------------------------------
def test_kelly_hand_example():
    """6 % excess return at 20 % vol: f* = 0.06 / 0.04 = 1.5, half Kelly 0.75; growth
    f edge - f^2 var / 2 = 0.09 - 0.045 = 0.045 at 1.5, 0.045 - 0.01125 = 0.03375 at 0.75.
    """
    k = fractional_kelly(edge=0.06, variance=0.04)
    assert k.full_kelly == pytest.approx(1.5) and k.leverage == pytest.approx(0.75)
    assert k.fraction == 0.5
    assert k.growth_full == pytest.approx(0.045) and k.growth_fractional == pytest.approx(0.03375)
    assert k.growth_fractional / k.growth_full == pytest.approx(0.75)  # half Kelly keeps 3/4
    assert fractional_kelly(edge=-0.02, variance=0.04, fraction=1.0).leverage == pytest.approx(-0.5)


def test_kelly_matches_brute_force_growth_optimum():
    """Seeded daily returns; the leverage maximising mean(log(1 + f r)) on a grid is f*."""
    rng = np.random.default_rng(42)
    r = rng.normal(0.0003, 0.01, 20_000)
    edge, variance = r.mean() * 252, r.var(ddof=1) * 252
    k = fractional_kelly(edge=edge, variance=variance, fraction=1.0)

    def growth(grid):
        return np.log1p(np.outer(grid, r)).mean(axis=1)

    coarse = np.arange(0.0, 8.0, 0.1)
    best = coarse[np.argmax(growth(coarse))]
    assert 1.0 < best < 7.0  # an interior optimum, so the grid is a real check
    fine = np.arange(best - 0.1, best + 0.1, 0.002)
    fine_growth = growth(fine)
    best = fine[np.argmax(fine_growth)]
    assert k.full_kelly == pytest.approx(best, rel=0.01)
    assert k.growth_full == pytest.approx(fine_growth.max() * 252, rel=0.05)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"variance": 0.0}, "variance must be > 0"),
        ({"variance": -0.01}, "variance must be > 0"),
        ({"fraction": 0.0}, "fraction must be in"),
        ({"fraction": 1.5}, "fraction must be in"),
        ({"edge": float("inf")}, "edge must be finite"),
    ],
)
def test_kelly_rejects_bad_inputs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        fractional_kelly(**({"edge": 0.05, "variance": 0.04} | kwargs))


# -- volatility targeting ------------------------------------------------------------------------
def test_vol_target_equals_standard_library():
    rng = np.random.default_rng(7)
    r = rng.normal(0.0, 0.012, 300)
    v = vol_target_scale(returns=r, target_vol=0.15, lookback=20)
    realised = statistics.stdev(r[-20:].tolist()) * math.sqrt(252)
    assert v.realised_vol == pytest.approx(realised, rel=1e-12)
    assert v.scale == pytest.approx(min(0.15 / realised, 2.0), rel=1e-12)
    assert (v.lookback, v.cap, v.periods, v.target_vol) == (20, 2.0, 252, 0.15)
    assert v.scale == pytest.approx(min(0.15 / (np.std(r[-20:], ddof=1) * np.sqrt(252)), 2.0))


def test_vol_target_uses_only_the_last_lookback_returns():
    rng = np.random.default_rng(8)
    r = rng.normal(0.0, 0.01, 100)
    shocked = r.copy()
    shocked[:80] *= 10
    a = vol_target_scale(returns=r, target_vol=0.1, lookback=20)
    b = vol_target_scale(returns=shocked, target_vol=0.1, lookback=20)
    assert a == b


def test_vol_target_cap_and_zero_volatility():
    calm = vol_target_scale(returns=np.full(30, 0.0001) + np.arange(30) * 1e-7, target_vol=0.2)
    assert calm.capped and calm.scale == 2.0 and calm.raw_scale > 2.0
    flat = vol_target_scale(returns=np.zeros(30), target_vol=0.2, cap=1.5)
    assert flat.realised_vol == 0.0 and flat.raw_scale == math.inf and flat.scale == 1.5
    wild = vol_target_scale(returns=np.tile([0.05, -0.05], 15), target_vol=0.2, periods=365)
    assert not wild.capped
    assert wild.realised_vol == pytest.approx(statistics.stdev([0.05, -0.05] * 10) * math.sqrt(365))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lookback": 61}, "longer than the data"),
        ({"lookback": 1}, "lookback must be"),
        ({"target_vol": 0}, "target_vol must be > 0"),
        ({"cap": -1}, "cap must be > 0"),
        ({"periods": 0}, "periods must be"),
        ({"returns": np.ones((60, 2))}, "1-d"),
    ],
)
def test_vol_target_rejects_bad_inputs(kwargs, message):
    args = {"returns": np.linspace(-0.01, 0.01, 60), "target_vol": 0.1}
    with pytest.raises(ValueError, match=message):
        vol_target_scale(**(args | kwargs))


def test_vol_target_on_demo_prices():
    close = load_demo().get("AAPL").close
    r = close[1:] / close[:-1] - 1.0
    v = vol_target_scale(returns=r, target_vol=0.15, lookback=63)
    assert 0.08 < v.realised_vol < 1.5  # a large-cap stock's annual volatility
    assert v.scale == pytest.approx(min(0.15 / v.realised_vol, 2.0))


# -- risk parity ---------------------------------------------------------------------------------
def contributions(w, cov):
    """Risk contributions from first principles: w_i * (cov w)_i / (w' cov w)."""
    n = len(w)
    marginal = [sum(cov[i][j] * w[j] for j in range(n)) for i in range(n)]
    total = sum(w[i] * marginal[i] for i in range(n))
    return [w[i] * marginal[i] / total for i in range(n)]


def ccd_risk_budget(cov, budgets, sweeps=2000):
    """A second algorithm: cyclical coordinate descent (Griveau-Billion et al. 2013). Each
    coordinate solves cov_ii x^2 + (sum_{j!=i} cov_ij x_j) x - b_i = 0 for its positive root.
    """
    n = len(budgets)
    x = [1.0 / math.sqrt(cov[i][i]) for i in range(n)]
    for _ in range(sweeps):
        previous = list(x)
        for i in range(n):
            c = sum(cov[i][j] * x[j] for j in range(n) if j != i)
            x[i] = (-c + math.sqrt(c * c + 4 * cov[i][i] * budgets[i])) / (2 * cov[i][i])
        if max(abs(a - b) for a, b in zip(x, previous, strict=True)) < 1e-15:
            break
    s = sum(x)
    return [v / s for v in x]


def _random_cov(rng, n):
    a = rng.normal(size=(n, n + int(rng.integers(1, 30)))) * rng.uniform(0.05, 0.6, (n, 1))
    return a @ a.T / a.shape[1]


@pytest.mark.parametrize("seed", range(12))
def test_risk_parity_contributions_equal_budgets(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 25))
    cov = _random_cov(rng, n)
    budgets = rng.uniform(0.1, 1.0, n) if seed % 2 else None
    rp = risk_parity(cov=cov, budgets=budgets)
    expected = np.full(n, 1 / n) if budgets is None else budgets / budgets.sum()
    assert rp.converged, rp.message
    assert rp.weights.sum() == pytest.approx(1.0, abs=1e-12) and (rp.weights > 0).all()
    np.testing.assert_allclose(
        contributions(rp.weights.tolist(), cov.tolist()), expected, atol=1e-6
    )
    np.testing.assert_allclose(rp.risk_contributions, expected, atol=1e-6)
    assert rp.volatility == pytest.approx(math.sqrt(rp.weights @ cov @ rp.weights))


@pytest.mark.parametrize("seed", [100, 101, 102])
def test_risk_parity_agrees_with_coordinate_descent(seed):
    rng = np.random.default_rng(seed)
    n = 6
    cov = _random_cov(rng, n)
    budgets = rng.uniform(0.1, 1.0, n)
    rp = risk_parity(cov=cov, budgets=budgets)
    witness = ccd_risk_budget(cov.tolist(), (budgets / budgets.sum()).tolist())
    np.testing.assert_allclose(rp.weights, witness, atol=1e-8)


@pytest.mark.parametrize("rho", [0.0, 0.6, -0.4])
def test_risk_parity_two_assets_closed_form(rho):
    """Equal risk for two assets means w1 sigma1 = w2 sigma2 at any correlation: w ∝ 1/sigma."""
    s1, s2 = 0.15, 0.40
    cov = [[s1 * s1, rho * s1 * s2], [rho * s1 * s2, s2 * s2]]
    rp = risk_parity(cov=cov)
    w1 = (1 / s1) / (1 / s1 + 1 / s2)
    np.testing.assert_allclose(rp.weights, [w1, 1 - w1], atol=1e-10)


def test_risk_parity_budgets_are_normalised_and_echoed():
    cov = np.diag([0.04, 0.09, 0.16])
    a = risk_parity(cov=cov, budgets=[1, 2, 3])
    b = risk_parity(cov=cov, budgets=[1 / 6, 2 / 6, 3 / 6])
    np.testing.assert_allclose(a.weights, b.weights, atol=1e-12)
    np.testing.assert_allclose(a.budgets, [1 / 6, 2 / 6, 3 / 6])
    # uncorrelated closed form: w_i ∝ sqrt(b_i) / sigma_i
    x = np.sqrt([1, 2, 3]) / np.sqrt([0.04, 0.09, 0.16])
    np.testing.assert_allclose(a.weights, x / x.sum(), atol=1e-10)
    assert not a.weights.flags.writeable


@pytest.mark.parametrize(
    ("cov", "budgets", "message"),
    [
        ([[1.0, 2.0], [2.0, 1.0]], None, "not positive semi-definite"),
        ([[1.0, 0.1], [0.2, 1.0]], None, "not symmetric"),
        ([[1.0, 0.0, 0.0]], None, "square"),
        ([[0.0, 0.0], [0.0, 1.0]], None, "diagonal"),
        ([[1.0, np.nan], [np.nan, 1.0]], None, "non-finite"),
        (np.eye(3), [0.5, 0.5], "shape"),
        (np.eye(2), [1.0, -1.0], "> 0"),
    ],
)
def test_risk_parity_rejects_bad_inputs(cov, budgets, message):
    with pytest.raises(ValueError, match=message):
        risk_parity(cov=cov, budgets=budgets)


def test_risk_parity_unbounded_problem_is_reported_not_crashed():
    """Perfectly anti-correlated assets: a long-only mix has zero risk, no budgets can hold."""
    rp = risk_parity(cov=[[1.0, -1.0], [-1.0, 1.0]])
    assert not rp.converged and np.isnan(rp.weights).all()
    assert "did not converge" in rp.message


def test_risk_parity_on_real_returns(shared_data):
    folder = shared_data / "etf"
    files = [folder / f"{t}.csv" for t in ("SPY", "TLT", "GLD", "IEF")]
    if not all(f.is_file() for f in files):
        pytest.skip("ETF files are not present")
    md = load_paths(files)
    cov = md.returns(["SPY", "TLT", "GLD", "IEF"]).cov().to_numpy() * 252
    rp = risk_parity(cov=cov)
    assert rp.converged
    np.testing.assert_allclose(contributions(rp.weights.tolist(), cov.tolist()), 0.25, atol=1e-6)
    w = dict(zip(["SPY", "TLT", "GLD", "IEF"], rp.weights, strict=True))
    assert w["IEF"] > w["SPY"]  # the low-volatility bond fund carries the most capital


# -- ATR stops -----------------------------------------------------------------------------------
def test_atr_stop_hand_example():
    long = atr_stop(price=100.0, atr=2.5)
    assert (long.stop, long.distance, long.distance_pct, long.multiple) == (95.0, 5.0, 5.0, 2.0)
    short = atr_stop(price=100.0, atr=2.5, multiple=3, side="short")
    assert (short.stop, short.distance_pct, short.side) == (107.5, 7.5, "short")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"side": "flat"}, "side must be"),
        ({"atr": -1.0}, "atr must be >= 0"),
        ({"price": 0.0}, "price must be > 0"),
        ({"multiple": 0.0}, "multiple must be > 0"),
        ({"atr": 60.0}, "at or below zero"),
    ],
)
def test_atr_stop_rejects_bad_inputs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        atr_stop(**({"price": 100.0, "atr": 2.0} | kwargs))


def test_atr_stop_from_real_true_range(shared_data):
    file = shared_data / "etf" / "SPY.csv"
    if not file.is_file():
        pytest.skip("SPY.csv is not present")
    s = load_paths([file]).get("SPY")
    if s.high is None:
        pytest.skip("SPY.csv has no highs and lows")
    a = atr(s.close, s.high, s.low)
    stop = atr_stop(price=float(s.close[-1]), atr=a.latest)
    assert stop.stop == pytest.approx(s.close[-1] - 2 * a.latest)
    assert 0.5 < stop.distance_pct < 15.0  # 2 ATRs of an index fund


def test_plan_range_is_checked_on_the_coverage_after_the_trade():
    """20 % held + 5 % asked of 1m at 450: 50k / 45k = 1.11 -> 1 contract = 45k = 4.5 %;
    after the trade 24.5 %, inside 20-30 % (the increment alone, 5 %, is not).
    """
    o = option_coverage(core_notional=1_000_000, coverage=0.05, underlying_price=450, existing=0.2)
    assert o.contracts == 1 and o.achieved_coverage == pytest.approx(0.045)
    assert o.existing == 0.2 and o.coverage_after == pytest.approx(0.245)
    assert not o.outside_plan and not o.achieved_outside_plan
    alone = option_coverage(core_notional=1_000_000, coverage=0.05, underlying_price=450)
    assert alone.outside_plan and alone.achieved_outside_plan  # 5 % and 4.5 % alone
    # 28 % held + 5 %: 33 % after, above the range; rounding to 1 contract: 32.5 %
    over = option_coverage(
        core_notional=1_000_000, coverage=0.05, underlying_price=450, existing=0.28
    )
    assert over.outside_plan and over.achieved_outside_plan
    assert over.coverage_after == pytest.approx(0.325)


@pytest.mark.parametrize("existing", [-0.01, 1.51, float("nan")])
def test_existing_coverage_must_be_a_fraction(existing):
    with pytest.raises(ValueError, match="existing"):
        option_coverage(core_notional=1e6, coverage=0.1, underlying_price=100, existing=existing)

"""OLS beta against statsmodels; rolling beta against a per-window loop of independent fits."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st

from hedgedesk.core.beta import BetaFit, ols_beta, rolling_beta, static_hedge
from hedgedesk.core.demo import load_demo

REL = 1e-10


def _demo_returns():
    r = load_demo().returns(["AAPL", "SP500"], dt.date(2015, 1, 1), dt.date(2022, 12, 28))
    return r["AAPL"].to_numpy(), r["SP500"].to_numpy()


def _assert_matches_statsmodels(fit: BetaFit, y: np.ndarray, x: np.ndarray):
    ref = sm.OLS(y, sm.add_constant(x)).fit()
    assert fit.alpha == pytest.approx(ref.params[0], rel=REL, abs=0)
    assert fit.beta == pytest.approx(ref.params[1], rel=REL, abs=0)
    assert fit.alpha_stderr == pytest.approx(ref.bse[0], rel=REL, abs=0)
    assert fit.beta_stderr == pytest.approx(ref.bse[1], rel=REL, abs=0)
    assert fit.alpha_tstat == pytest.approx(ref.tvalues[0], rel=REL, abs=0)
    assert fit.beta_tstat == pytest.approx(ref.tvalues[1], rel=REL, abs=0)
    assert fit.r_squared == pytest.approx(ref.rsquared, rel=REL, abs=0)
    assert fit.n_obs == int(ref.nobs) == len(y)
    assert isinstance(fit.n_obs, int)


def test_ols_beta_equals_statsmodels_on_demo_data():
    y, x = _demo_returns()
    assert len(y) > 1500
    fit = ols_beta(y, x)
    _assert_matches_statsmodels(fit, y, x)
    assert 0.8 < fit.beta < 1.6  # sanity: AAPL is a high-beta large cap


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ols_beta_equals_statsmodels_on_random_data(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 400))
    x = 0.01 * rng.standard_normal(n) + 0.0005
    y = 0.0003 + rng.uniform(-1, 2) * x + 0.02 * rng.standard_normal(n)
    _assert_matches_statsmodels(ols_beta(y, x), y, x)


def test_ols_beta_accepts_lists_and_negative_beta():
    x = [0.01, -0.02, 0.015, 0.003, -0.007]
    y = [-0.02, 0.035, -0.028, -0.004, 0.016]
    fit = ols_beta(y, x)
    _assert_matches_statsmodels(fit, np.array(y), np.array(x))
    assert fit.beta < 0


def test_constant_benchmark_raises():
    with pytest.raises(ValueError, match="constant"):
        ols_beta(np.array([0.01, 0.02, -0.01, 0.0]), np.full(4, 0.001))


@pytest.mark.parametrize(("y", "x"), [([0.1, 0.2], [0.1, 0.3]), ([0.1, 0.2, 0.3], [0.1, 0.3])])
def test_short_or_unequal_inputs_raise(y, x):
    with pytest.raises(ValueError, match="equal-length"):
        ols_beta(np.array(y), np.array(x))


def _loop_rolling(y: np.ndarray, x: np.ndarray, window: int) -> list[float]:
    out = [np.nan] * len(y)
    for i in range(window - 1, len(y)):
        out[i] = np.polyfit(x[i - window + 1 : i + 1], y[i - window + 1 : i + 1], 1)[0]
    return out


def test_rolling_beta_equals_per_window_fits_on_demo_data():
    y, x = _demo_returns()
    y, x = y[-300:], x[-300:]
    window = 60
    got = rolling_beta(y, x, window)
    want = _loop_rolling(y, x, window)
    assert got.shape == (300,)
    assert np.isnan(got[: window - 1]).all()
    assert not np.isnan(got[window - 1 :]).any()
    np.testing.assert_allclose(got[window - 1 :], want[window - 1 :], rtol=REL, atol=0)
    # spot-check two windows against statsmodels as well
    for i in (window - 1, 250):
        ref = sm.OLS(y[i - window + 1 : i + 1], sm.add_constant(x[i - window + 1 : i + 1])).fit()
        assert got[i] == pytest.approx(ref.params[1], rel=REL, abs=0)


@pytest.mark.parametrize(("seed", "window"), [(3, 3), (4, 20), (5, 57)])
def test_rolling_beta_equals_per_window_fits_on_random_data(seed, window):
    rng = np.random.default_rng(seed)
    n = 120
    x = 0.01 * rng.standard_normal(n)
    b = np.linspace(0.5, 1.5, n)  # beta drifts, so each window gives a different answer
    y = b * x + 0.005 * rng.standard_normal(n)
    got = rolling_beta(y, x, window)
    want = _loop_rolling(y, x, window)
    assert np.isnan(got[: window - 1]).all()
    np.testing.assert_allclose(got[window - 1 :], want[window - 1 :], rtol=REL, atol=0)


@pytest.mark.parametrize("window", [2, 3, 20, 63])
def test_rolling_beta_ols_and_wls_against_statsmodels(window):
    """The one rolling regression, as the sweep's beta tables use it: OLS and EWMA-weighted
    WLS slopes equal statsmodels' on every 7th window, NaN over a constant hedge stretch.
    """
    rng = np.random.default_rng(31)
    n = 260
    r_hedge = 0.0003 + 0.012 * rng.standard_t(5, n) / np.sqrt(5 / 3)
    drift = -0.6 + 0.4 * np.sin(np.arange(n) / 90.0)
    r_long = 0.0002 + drift * r_hedge + 0.01 * rng.standard_normal(n)
    r_hedge[100 : 100 + window + 2] = 0.001  # constant hedge: NaN where a window is inside
    age = np.arange(window - 1, -1, -1, dtype=np.float64)
    weights = 0.5 ** (age / 7.0)
    ols = rolling_beta(r_long, r_hedge, window)
    wls = rolling_beta(r_long, r_hedge, window, weights)
    assert np.all(np.isnan(ols[: window - 1])) and np.all(np.isnan(wls[: window - 1]))
    checked = 0
    for t in range(window - 1, n):
        x, y = r_hedge[t - window + 1 : t + 1], r_long[t - window + 1 : t + 1]
        if np.ptp(x) == 0.0:
            assert np.isnan(ols[t]) and np.isnan(wls[t])
            continue
        if t % 7 and t not in (window - 1, n - 1):
            continue  # statsmodels on a sample of the windows
        exog = sm.add_constant(x, has_constant="add")
        assert ols[t] == pytest.approx(sm.OLS(y, exog).fit().params[1], rel=REL, abs=1e-12)
        want = sm.WLS(y, exog, weights=weights).fit().params[1]
        assert wls[t] == pytest.approx(want, rel=REL, abs=1e-12)
        checked += 1
    assert checked >= 20
    assert np.isnan(ols[100 + window + 1])


def test_rolling_beta_rejects_mismatched_inputs():
    x = np.linspace(-0.01, 0.01, 30)
    with pytest.raises(ValueError, match="weights: expected 10 values"):
        rolling_beta(2 * x, x, 10, np.ones(9))
    with pytest.raises(ValueError, match="bench: expected 30 returns"):
        rolling_beta(2 * x, x[:-1], 10)


def test_rolling_beta_too_short_is_all_nan():
    x = np.arange(5, dtype=float)
    assert np.isnan(rolling_beta(2 * x, x, 10)).all()
    assert len(rolling_beta(2 * x, x, 10)) == 5
    assert np.isnan(rolling_beta(2 * x, x, 1)).all()  # one return fixes no slope


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    a=st.floats(-0.01, 0.01),
    b=st.floats(-3, 3),
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(30, 300),
)
def test_recovers_known_beta(a, b, seed, n):
    rng = np.random.default_rng(seed)
    x = 0.01 * rng.standard_normal(n)
    noise = 1e-5 * rng.standard_normal(n)
    y = a + b * x + noise
    fit = ols_beta(y, x)
    # slope error ~ 1e-5 / (0.01 * sqrt(n)): 0.01 is more than 10 standard errors
    assert abs(fit.beta - b) < 0.01
    assert abs(fit.alpha - a) < 1e-4
    assert fit.n_obs == n
    assert fit.r_squared <= 1.0
    roll = rolling_beta(y, x, 30)
    assert abs(roll[-1] - b) < 0.02


def test_benchmark_growing_at_a_fixed_rate_has_no_beta():
    # returns equal up to rounding: a naive sxx == 0 test would report a beta near 1e12
    x = np.full(60, 0.001) + np.random.default_rng(1).normal(0, 1e-18, 60)
    y = np.random.default_rng(2).normal(0, 0.01, 60)
    with pytest.raises(ValueError, match="constant"):
        ols_beta(y, x)
    assert np.isnan(rolling_beta(y, x, 20)[19:]).all()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_static_hedge_is_the_notebooks_second_regression(seed):
    """Statsmodels fits the asset on the benchmark, then ``asset - beta x benchmark`` on the
    benchmark: the second fit has beta 0 (in sample), the first's alpha and standard errors.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0004, 0.011, 500)
    y = 0.0002 + (0.6 + 0.4 * seed) * x + rng.normal(0, 0.008, 500)
    hedge = static_hedge(y, x)
    _assert_matches_statsmodels(hedge.first, y, x)
    first = sm.OLS(y, sm.add_constant(x)).fit()
    assert hedge.hedge_ratio == pytest.approx(first.params[1], rel=REL)
    hedged_y = y - first.params[1] * x
    ref = sm.OLS(hedged_y, sm.add_constant(x)).fit()
    got = hedge.hedged
    assert abs(got.beta) < 1e-12 and abs(ref.params[1]) < 1e-12  # no beta left in sample
    assert got.alpha == pytest.approx(ref.params[0], rel=1e-9)
    assert got.alpha_stderr == pytest.approx(ref.bse[0], rel=1e-9)
    assert got.beta_stderr == pytest.approx(ref.bse[1], rel=1e-9)
    assert got.alpha_tstat == pytest.approx(ref.tvalues[0], rel=1e-9)
    assert abs(got.r_squared) < 1e-12 and abs(ref.rsquared) < 1e-12
    assert got.n_obs == 500
    assert got.alpha == pytest.approx(hedge.first.alpha, rel=1e-9)  # the hedge keeps the alpha


def test_static_hedge_refuses_a_constant_benchmark():
    with pytest.raises(ValueError, match="constant"):
        static_hedge(np.array([0.01, 0.02, -0.01, 0.0]), np.full(4, 0.001))

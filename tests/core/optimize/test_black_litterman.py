"""Black-Litterman: the limits that pin the formulas down (no views, full confidence) and
PyPortfolioOpt's BlackLittermanModel on the same inputs as the independent witness.
"""

from __future__ import annotations

import types

import numpy as np
import pandas as pd
import pytest

from hedgedesk.core.optimize.black_litterman import (
    ViewError,
    implied_risk_aversion,
    parse_views,
    posterior,
    posterior_estimates,
)
from hedgedesk.core.optimize.cvar import min_cvar
from hedgedesk.core.optimize.kelly import kelly_portfolio
from hedgedesk.core.optimize.problem import Constraints, estimate

pypfopt_bl = pytest.importorskip("pypfopt.black_litterman")

TICKERS = ("AAA", "BBB", "CCC", "DDD", "EEE")


@pytest.fixture(scope="module")
def est():
    rng = np.random.default_rng(21)
    a = rng.normal(size=(5, 5))
    daily_cov = (a @ a.T + 5 * np.eye(5)) * 2e-5
    x = rng.multivariate_normal(np.linspace(0.0002, 0.0008, 5), daily_cov, 750)
    return estimate(pd.DataFrame(x, columns=TICKERS))


VIEWS = [
    {"assets": ["AAA"], "weights": [1], "view": 0.10, "confidence": 0.6},
    {"assets": ["BBB", "CCC"], "weights": [1, -1], "view": 0.02, "confidence": 0.5},
    {"assets": ["DDD", "EEE", "AAA"], "weights": [0.5, 0.5, -1], "view": -0.01, "confidence": 0.25},
]
CAPS = {"AAA": 3.0, "BBB": 1.0, "CCC": 2.0, "DDD": 0.5, "EEE": 1.5}


def test_no_views_leave_the_equilibrium_returns(est):
    post = posterior(est.tickers, est.cov, (), CAPS, risk_aversion=2.5)
    w = np.array([CAPS[t] for t in TICKERS]) / sum(CAPS.values())
    pi = 2.5 * est.cov @ w  # written out: pi = delta Σ w
    np.testing.assert_allclose(post.pi, pi, rtol=1e-14)
    np.testing.assert_allclose(post.mu, pi, rtol=1e-14)
    np.testing.assert_allclose(post.cov, 1.05 * est.cov, rtol=1e-14)
    bl = posterior_estimates(est, (), CAPS, risk_aversion=2.5)
    np.testing.assert_allclose(bl.mu, pi, rtol=1e-14)
    assert bl.cov is est.cov
    assert "Black-Litterman" in bl.method and "no views" in bl.method
    assert "benchmark weights" in bl.method and "tau 0.05" in bl.method


def test_market_sharpe_sets_the_prior_portfolio_sharpe(est):
    post = posterior(est.tickers, est.cov, market_sharpe=0.4)
    w = np.full(5, 0.2)  # equal weights by default
    assert (w @ post.pi) / np.sqrt(w @ est.cov @ w) == pytest.approx(0.4, rel=1e-13)


def test_implied_risk_aversion_matches_pypfopt_from_market_prices():
    rng = np.random.default_rng(22)
    prices = pd.Series(
        100 * np.cumprod(1 + rng.normal(0.0004, 0.01, 1000)),
        index=pd.bdate_range("2020-01-01", periods=1000),
    )
    r = prices.pct_change().dropna()
    var, mean = r.var() * 252, r.mean() * 252
    ours = implied_risk_aversion(np.array([[var]]), np.array([1.0]), (mean - 0.02) / np.sqrt(var))
    theirs = pypfopt_bl.market_implied_risk_aversion(prices, risk_free_rate=0.02)
    assert ours == pytest.approx(float(theirs), rel=1e-12)


def test_full_confidence_views_are_honoured_exactly(est):
    views = [
        {"assets": ["CCC"], "weights": [1], "view": 0.123, "confidence": 1.0},
        {"assets": ["AAA", "EEE"], "weights": [1, -1], "view": 0.045, "confidence": 1.0},
        {"assets": ["BBB"], "weights": [1], "view": 0.30, "confidence": 0.3},
    ]
    bl = posterior_estimates(est, views)
    i = {t: k for k, t in enumerate(TICKERS)}
    assert bl.mu[i["CCC"]] == pytest.approx(0.123, abs=1e-12)
    assert bl.mu[i["AAA"]] - bl.mu[i["EEE"]] == pytest.approx(0.045, abs=1e-12)
    prior = posterior(est.tickers, est.cov).pi
    assert prior[i["BBB"]] < bl.mu[i["BBB"]] < 0.30  # a partial view moves only part way


@pytest.mark.parametrize("tau", [0.05, 0.3])
def test_matches_pypfopt_idzorek_confidences(est, tau):
    cov = pd.DataFrame(est.cov, index=TICKERS, columns=TICKERS)
    delta = 3.1
    ours = posterior(est.tickers, est.cov, VIEWS, CAPS, risk_aversion=delta, tau=tau, rf=0.01)
    pi = pypfopt_bl.market_implied_prior_returns(pd.Series(CAPS), delta, cov, risk_free_rate=0.01)
    np.testing.assert_allclose(ours.pi, pi[list(TICKERS)].to_numpy(), rtol=0, atol=1e-12)
    p, q, conf = ours.P, ours.q, ours.confidence
    model = pypfopt_bl.BlackLittermanModel(
        cov, pi=pi, Q=q, P=p, omega="idzorek", view_confidences=conf, tau=tau, risk_aversion=delta
    )
    np.testing.assert_allclose(ours.omega, model.omega, rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose(ours.mu, model.bl_returns().to_numpy(), rtol=0, atol=1e-8)
    np.testing.assert_allclose(ours.cov, model.bl_cov().to_numpy(), rtol=0, atol=1e-8)
    # the matrices are the views as written in the config
    np.testing.assert_array_equal(p[1], [0, 1, -1, 0, 0])
    np.testing.assert_array_equal(p[2], [-1, 0, 0, 0.5, 0.5])


def test_half_confidence_is_he_litterman_default_omega(est):
    views = [dict(v, confidence=0.5) for v in VIEWS]
    ours = posterior(est.tickers, est.cov, views, risk_aversion=2.0)
    model = pypfopt_bl.BlackLittermanModel(est.cov, pi=ours.pi, Q=ours.q, P=ours.P)
    np.testing.assert_allclose(ours.mu, model.bl_returns().to_numpy(), rtol=0, atol=1e-8)
    np.testing.assert_allclose(ours.cov, model.bl_cov().to_numpy(), rtol=0, atol=1e-8)


def test_posterior_feeds_scenario_optimisers(est):
    bullish = [{"assets": ["AAA"], "weights": [1], "view": 0.60, "confidence": 0.9}]
    bl = posterior_estimates(est, bullish, posterior_cov=True)
    np.testing.assert_allclose(bl.scenarios.mean(axis=0) * 252, bl.mu, rtol=1e-12)
    np.testing.assert_allclose(
        bl.scenarios - est.scenarios,
        np.broadcast_to((bl.mu - est.mu) / 252, est.scenarios.shape),
        atol=1e-15,
    )
    assert bl.cov is not est.cov and "covariance: Black-Litterman posterior" in bl.method
    c = Constraints(max_weight=0.6)
    assert kelly_portfolio(bl, c).weights["AAA"] > kelly_portfolio(est, c).weights["AAA"] + 0.05

    def best(mu):  # the highest return at 60 % caps: 60 % and 40 % in the two best assets
        return 0.6 * np.sort(mu)[-1] + 0.4 * np.sort(mu)[-2]

    target = 0.98 * best(bl.mu)
    assert target > best(est.mu)  # attainable only under the posterior view
    assert min_cvar(bl, c, target_return=target).expected_return >= target - 1e-8
    plain = posterior_estimates(est, bullish, recentre_scenarios=False)
    assert plain.scenarios is est.scenarios and "scenarios: as is" in plain.method


@pytest.mark.parametrize(
    ("views", "text"),
    [
        ([{"assets": ["ZZZ"], "weights": [1], "view": 0.1, "confidence": 0.5}], "ZZZ"),
        (
            [{"assets": ["AAA", "BBB"], "weights": [1], "view": 0.1, "confidence": 0.5}],
            r"views\[0\]\.weights",
        ),
        ([{"assets": ["AAA"], "weights": [1], "view": 0.1, "confidence": 0.0}], "confidence"),
        ([{"assets": ["AAA"], "weights": [1], "view": 0.1, "confidence": 1.5}], "confidence"),
        ([{"assets": ["AAA"], "weights": [1], "view": 0.1}], r"confidence: missing"),
        ([{"assets": "AAA", "weights": [1], "view": 0.1, "confidence": 0.5}], "assets"),
        ([{"assets": ["AAA"], "weights": [1], "view": "high", "confidence": 0.5}], "view"),
        ([{"assets": ["AAA"], "weights": [0], "view": 0.1, "confidence": 0.5}], "all zero"),
        (
            [
                {"assets": ["AAA"], "weights": [1], "view": 0.1, "confidence": 1.0},
                {"assets": ["AAA"], "weights": [2], "view": 0.3, "confidence": 1.0},
            ],
            "dependent",
        ),
    ],
)
def test_bad_views_are_named(est, views, text):
    with pytest.raises(ViewError, match=text):
        posterior_estimates(est, views)


def test_bad_prior_weights_and_tau(est):
    with pytest.raises(ViewError, match="not among the tickers"):
        posterior(est.tickers, est.cov, prior={"QQQ": 1.0})
    with pytest.raises(ViewError, match="non-negative"):
        posterior(est.tickers, est.cov, prior=np.array([1, -1, 1, 1, 1.0]))
    with pytest.raises(ViewError, match="tau"):
        posterior(est.tickers, est.cov, tau=0.0)


def test_parse_views_keeps_the_config_shape():
    config = {"assets": ["AAPL", "MSFT"], "weights": [1, -1], "view": 0.02, "confidence": 0.5}
    (v,) = parse_views([config])
    assert v.assets == ("AAPL", "MSFT") and v.weights == (1.0, -1.0)
    assert v.view == 0.02 and v.confidence == 0.5
    # objects with the same attributes (the config loader's views) read the same
    assert parse_views([types.SimpleNamespace(**config)]) == (v,)

"""Sweep scoring: each figure against an independent witness (closed forms evaluated by hand,
scipy.stats, a Monte Carlo, and CSCV written directly from the paper on full return matrices),
and failures that name what is wrong.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.stats import kurtosis, norm, rankdata, skew, spearmanr

import hedgedesk.core.sweep.score as ss
from hedgedesk.core.errors import ConfigError
from hedgedesk.core.sweep.score import (
    ScoreTargets,
    block_sharpe,
    deflated_sharpe,
    expected_max_sharpe,
    pbo_cscv,
    probabilistic_sharpe,
    rank_correlation,
    return_moments,
    target_score,
    walk_forward_split,
)

# ---------------------------------------------------------------------------- target score


def logistic(d: float) -> float:
    return 1.0 / (1.0 + math.exp(-d))


def test_target_score_matches_hand_computation():
    # Each point sits a whole number of scales from its targets (1.0, 0.30, 10 %, 0.60).
    score, terms = target_score(
        [1.5, 1.0, 0.0], [0.2, 0.3, 0.5], [-0.15, -0.10, -0.0], [0.7, 0.6, 0.4]
    )
    a, b = logistic(1.0), logistic(-1.0)
    expected = [
        (0.4 * a + 0.3 * b + 0.2 * b + 0.1 * a, (a, b, b, a)),
        (0.5, (0.5, 0.5, 0.5, 0.5)),
        (
            0.4 * logistic(-2) + 0.3 * logistic(2) + 0.2 * logistic(2) + 0.1 * logistic(-2),
            (logistic(-2), logistic(2), logistic(2), logistic(-2)),
        ),
    ]
    for k, (s, t) in enumerate(expected):
        assert score[k] == pytest.approx(s, rel=1e-12)
        got = [terms[m][k] for m in ("sharpe", "annual_return", "max_drawdown", "consistency")]
        assert got == pytest.approx(t, rel=1e-12)


def test_target_score_is_monotonic_in_each_metric():
    up = np.linspace(-3, 3, 61)
    base = {"sharpe": 1.0, "annual_return": 0.3, "max_drawdown": -0.1, "consistency": 0.6}
    for name, grid in (("sharpe", up), ("annual_return", up / 5), ("consistency", up / 6 + 0.5)):
        score, _ = target_score(**{**base, name: grid})
        assert np.all(np.diff(score) > 0), name
    score, _ = target_score(**{**base, "max_drawdown": -np.linspace(0, 0.6, 61)})
    assert np.all(np.diff(score) < 0)  # a deeper drawdown scores lower


def test_target_score_nan_is_worst_and_extremes_do_not_overflow():
    with np.errstate(all="raise"):
        score, terms = target_score([np.nan, 1e9, -1e9], 0.3, [-0.1, np.nan, -0.1], 0.6)
    assert terms["sharpe"].tolist() == [0.0, 1.0, 0.0]
    assert terms["max_drawdown"].tolist() == [0.5, 0.0, 0.5]
    assert score[0] == pytest.approx((0.3 * 0.5 + 0.2 * 0.5 + 0.1 * 0.5) / 1.0)
    assert score[1] == pytest.approx(0.4 + 0.3 * 0.5 + 0.1 * 0.5)


def test_target_score_weights_are_renormalised():
    x = ([0.2, 1.7], [0.05, 0.45], [-0.3, -0.02], [0.4, 0.8])
    default, _ = target_score(*x)
    scaled, _ = target_score(
        *x, targets=ScoreTargets(w_sharpe=4, w_return=3, w_drawdown=2, w_consistency=1)
    )
    np.testing.assert_allclose(scaled, default, rtol=1e-14)
    only, terms = target_score(*x, targets=ScoreTargets(w_return=0, w_drawdown=0, w_consistency=0))
    np.testing.assert_allclose(only, terms["sharpe"], rtol=1e-14)


@pytest.mark.parametrize(
    "field,value",
    [
        ("w_sharpe", -0.1),
        ("w_consistency", float("nan")),
        ("s_return", 0.0),
        ("s_drawdown", -0.05),
        ("max_drawdown", 0.0),
        ("max_drawdown", -0.1),
        ("sharpe", math.inf),
    ],
)
def test_invalid_targets_name_the_field(field, value):
    with pytest.raises(ConfigError) as err:
        ScoreTargets(**{field: value})
    assert (err.value.file, err.value.key) == ("sweep.score", field)


def test_all_zero_weights_are_refused_and_as_dict_round_trips():
    with pytest.raises(ConfigError, match=r"w_sharpe.*weight"):
        ScoreTargets(w_sharpe=0, w_return=0, w_drawdown=0, w_consistency=0)
    t = ScoreTargets(sharpe=1.5, s_consistency=0.2)
    assert ScoreTargets(**t.as_dict()) == t
    assert t.as_dict()["w_drawdown"] == 0.2


# ---------------------------------------------------------------------------- PSR / DSR


def test_dsr_reproduces_bailey_lopez_de_prado_example():
    # The paper's example: best annualised SR 2.5 of N = 100 trials whose annualised SRs have
    # variance 1/2, five years of daily returns (T = 1250, 250 a year), skew -3, kurtosis 10;
    # it reports SR0 ~ 0.1132 (per period) and DSR ~ 0.9004.
    out = deflated_sharpe(2.5 / math.sqrt(250), 1250, -3.0, 10.0, 0.5 / 250, 100)
    assert out["sr0"] == pytest.approx(0.1132, abs=5e-5)
    assert out["dsr"] == pytest.approx(0.9004, abs=5e-4)


def witness_dsr(sr, n, g3, g4, v, trials):
    g = 0.5772156649015329
    sr0 = (
        0.0
        if trials == 1
        else math.sqrt(v)
        * ((1 - g) * norm.ppf(1 - 1 / trials) + g * norm.ppf(1 - 1 / (trials * math.e)))
    )
    z = (sr - sr0) * math.sqrt(n - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr * sr)
    return norm.cdf(z), sr0


def test_dsr_is_vectorised_and_matches_a_direct_evaluation():
    sr = np.array([0.02, 0.08, 0.15, -0.03])
    n = np.array([300, 1000, 2500, 800])
    g3 = np.array([0.0, -1.2, 0.5, -0.3])
    g4 = np.array([3.0, 7.5, 4.0, 12.0])
    for v, trials in ((0.001, 1), (0.003, 2), (0.0004, 50), (0.002, 10_000)):
        out = deflated_sharpe(sr, n, g3, g4, v, trials)
        for k in range(4):
            dsr, sr0 = witness_dsr(sr[k], n[k], g3[k], g4[k], v, trials)
            assert out["dsr"][k] == pytest.approx(dsr, rel=1e-10, abs=1e-14)
            assert out["sr0"] == pytest.approx(sr0, rel=1e-12, abs=0)


def test_psr_normal_returns_closed_form():
    # Skew 0 and kurtosis 3 leave Phi(SR sqrt(n - 1) / sqrt(1 + SR^2 / 2)), ~ Phi(SR sqrt(n-1)).
    sr, n = np.array([0.01, 0.05, 0.1]), 500
    got = probabilistic_sharpe(sr, n, 0.0, 3.0)
    np.testing.assert_allclose(
        got, norm.cdf(sr * math.sqrt(n - 1) / np.sqrt(1 + sr**2 / 2)), rtol=1e-12
    )
    np.testing.assert_allclose(got, norm.cdf(sr * math.sqrt(n - 1)), rtol=3e-3)
    assert probabilistic_sharpe(0.07, 400, -1.0, 6.0, benchmark=0.07) == pytest.approx(0.5)
    assert math.isnan(probabilistic_sharpe(0.1, 1, 0.0, 3.0))


def test_expected_max_sharpe_against_monte_carlo():
    rng = np.random.default_rng(7)
    for trials in (10, 100):
        mc = rng.standard_normal((20_000, trials)).max(axis=1).mean()
        assert expected_max_sharpe(1.0, trials) == pytest.approx(mc, rel=0.03)
    # Scale: sqrt(V) multiplies the standard-normal figure; one trial has nothing to deflate.
    assert expected_max_sharpe(4.0, 100) == pytest.approx(2 * expected_max_sharpe(1.0, 100))
    assert expected_max_sharpe(0.5, 1) == 0.0
    with pytest.raises(ValueError):
        expected_max_sharpe(1.0, 0)


def test_return_moments_match_scipy():
    rng = np.random.default_rng(3)
    r = rng.standard_t(4, (5, 700)) * 0.01 + 0.0004
    rf_d = 1.05 ** (1 / 252) - 1
    got = return_moments(r, rf_d)
    assert got["n"] == 700
    np.testing.assert_allclose(got["skew"], skew(r, axis=1, bias=True), rtol=1e-10)
    np.testing.assert_allclose(
        got["kurtosis"], kurtosis(r, axis=1, fisher=False, bias=True), rtol=1e-10
    )
    for k in range(5):
        assert got["sharpe"][k] == pytest.approx((r[k] - rf_d).mean() / r[k].std(ddof=1), rel=1e-12)
    one = return_moments(r[0])
    assert one["sharpe"] == pytest.approx(r[0].mean() / r[0].std(ddof=1), rel=1e-12)
    assert math.isnan(return_moments(np.full(10, 0.001))["sharpe"])
    with pytest.raises(ValueError, match="at least 2"):
        return_moments([0.01])


# ---------------------------------------------------------------------------- block sums


def block_sums(r: np.ndarray, s: int):
    """The kernel's inputs, built here from a full returns matrix (N, T): S contiguous blocks."""
    blocks = np.array_split(np.arange(r.shape[1]), s)
    k = r[:, 0]
    d = r - k[:, None]
    sum1 = np.stack([d[:, b].sum(axis=1) for b in blocks], axis=1)
    sum2 = np.stack([(d[:, b] ** 2).sum(axis=1) for b in blocks], axis=1)
    return k, sum1, sum2, np.array([len(b) for b in blocks]), blocks


def sharpe_of(x: np.ndarray, rf_d: float = 0.0) -> float:
    """Per-period Sharpe; none for constant returns (whose float std need not come out 0)."""
    return np.nan if np.all(x == x[0]) else (x - rf_d).mean() / x.std(ddof=1)


def test_block_sharpe_matches_a_loop_on_the_returns():
    rng = np.random.default_rng(11)
    r = rng.normal(0.0005, 0.012, (30, 203)) + 0.3  # offset: sums of squares would cancel
    r[4] = 0.3  # constant returns: no Sharpe
    k, sum1, sum2, counts, blocks = block_sums(r, 7)  # uneven blocks
    rf_d = 0.0001
    for mask in ([1, 0, 1, 0, 0, 1, 1], [0, 0, 0, 0, 0, 0, 1], [1] * 7):
        mask = np.array(mask, dtype=bool)
        got = block_sharpe(k, sum1, sum2, counts, mask, rf_d)
        days = np.concatenate([b for b, m in zip(blocks, mask, strict=True) if m])
        want = np.array([sharpe_of(r[i, days], rf_d) for i in range(len(r))])
        assert np.isnan(got[4]) and np.isnan(want[4])
        np.testing.assert_allclose(got, want, rtol=1e-9)
    with pytest.raises(ValueError, match="sum1"):
        block_sharpe(k, sum1[:, :6], sum2, counts, np.ones(7, bool))


# ---------------------------------------------------------------------------- PBO by CSCV


def witness_pbo(r: np.ndarray, s: int, rf_d: float = 0.0):
    """CSCV as in Bailey, Borwein, López de Prado & Zhu (2015), on the returns themselves."""
    n = len(r)
    blocks = np.array_split(np.arange(r.shape[1]), s)
    logits, is_best, oos_best = [], [], []
    for j in itertools.combinations(range(s), s // 2):
        days_is = np.concatenate([blocks[b] for b in j])
        days_oos = np.concatenate([blocks[b] for b in range(s) if b not in j])
        sr_is = np.array([sharpe_of(r[i, days_is], rf_d) for i in range(n)])
        sr_oos = np.array([sharpe_of(r[i, days_oos], rf_d) for i in range(n)])
        star = int(np.argmax(np.where(np.isnan(sr_is), -np.inf, sr_is)))
        w = rankdata(np.where(np.isnan(sr_oos), -np.inf, sr_oos))[star] / (n + 1)
        logits.append(math.log(w / (1 - w)))
        is_best.append(sr_is[star])
        oos_best.append(sr_oos[star])
    logits, x, y = np.array(logits), np.array(is_best), np.array(oos_best)
    ok = ~np.isnan(y)  # a constant OOS half has no Sharpe: left out of the regression
    return np.mean(logits <= 0), logits, np.polyfit(x[ok], y[ok], 1)[0], np.mean(y < 0)


def noise(n: int, t: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 0.01, (n, t))


@pytest.mark.parametrize("chunk", [10**9, 7 * 70, 70])  # one chunk, chunks of 7, of 1
def test_pbo_matches_the_paper_procedure(monkeypatch, chunk):
    monkeypatch.setattr(ss, "_CHUNK_ELEMENTS", chunk)
    r = noise(40, 400, 5)
    r[:, :200] += np.linspace(-0.002, 0.002, 40)[:, None]  # a regime that flips half-way
    r[:, 200:] -= np.linspace(-0.002, 0.002, 40)[:, None] * 0.5
    r[[9, 23]] = 0.0  # constant returns: NaN Sharpe everywhere, tied at the bottom
    # Edges confined to one half, constant in the other: where that half is in-sample, n*'s
    # OOS Sharpe is NaN and ties with 9 and 23 (average rank).
    r[12, :200], r[12, 200:] = r[12, :200] + 0.01, 0.0
    r[30, :200], r[30, 200:] = 0.0, r[30, 200:] + 0.01
    rf_d = 0.00002
    pbo, logits, slope, loss = witness_pbo(r, 8, rf_d)
    got = pbo_cscv(*block_sums(r, 8)[:4], rf_d=rf_d)
    np.testing.assert_allclose(got.logits, logits, rtol=1e-12)
    assert got.pbo == pbo
    assert 0 < pbo < 1  # the case exercises both signs
    assert np.isclose(logits, math.log(2 / 39)).sum() == 2  # the ties: rank (1 + 2 + 3) / 3
    assert got.degradation == pytest.approx(slope, rel=1e-8)
    assert got.prob_oos_loss == loss
    assert (got.n_combinations, got.n_configurations, got.n_blocks) == (70, 40, 8)


def test_pbo_by_hand_median_rank_counts_as_overfit():
    # Two blocks of 4 returns (%). A is best in block 0, B in block 1, each second-best in the
    # other; C is worst in both. Each split picks the in-sample best, which ranks 2 of 3 out of
    # sample: w = 2 / 4, logit 0, which the paper counts as overfit (logit <= 0).
    r = (
        np.array([[1, 2, 1, 2, 0, 1, 0, 1], [0, 1, 0, 1, 1, 2, 1, 2], [-1, 0, -1, 0, -1, 0, -1, 0]])
        / 100
    )
    got = pbo_cscv(*block_sums(r, 2)[:4])
    np.testing.assert_allclose(got.logits, [0.0, 0.0], atol=1e-15)
    assert got.pbo == 1.0
    assert got.prob_oos_loss == 0.0
    assert math.isnan(got.degradation)  # both splits have the same in-sample Sharpe: no slope


def test_pbo_of_pure_noise_is_about_one_half():
    pbos = [pbo_cscv(*block_sums(noise(200, 1000, seed), 10)[:4]).pbo for seed in range(8)]
    assert np.mean(pbos) == pytest.approx(0.5, abs=0.12)


def test_pbo_of_a_real_edge_is_about_zero():
    r = noise(100, 1000, 1)
    r[37] += 0.004  # Sharpe ~0.4 a day: best in every block, in and out of sample
    got = pbo_cscv(*block_sums(r, 10)[:4])
    assert got.pbo == 0.0
    assert np.all(got.logits > 3.5)  # n* ranks first: ln(100 / 1)
    assert got.prob_oos_loss == 0.0


def test_pbo_refuses_odd_blocks_and_a_single_configuration():
    k, sum1, sum2, counts, _ = block_sums(noise(5, 90, 0), 9)
    with pytest.raises(ValueError, match="even number of blocks"):
        pbo_cscv(k, sum1, sum2, counts)
    k, sum1, sum2, counts, _ = block_sums(noise(1, 80, 0), 8)
    with pytest.raises(ValueError, match="at least 2 configurations"):
        pbo_cscv(k, sum1, sum2, counts)
    with pytest.raises(ValueError, match="at least one return"):
        pbo_cscv(np.zeros(2), np.zeros((2, 2)), np.zeros((2, 2)), [3, 0])


def test_pbo_runs_on_a_large_grid():
    rng = np.random.default_rng(2)
    n, s, per = 200_000, 8, 63
    sum1 = rng.normal(0.0, 0.01 * math.sqrt(per), (n, s))
    sum2 = 1e-4 * rng.chisquare(per, (n, s)) + sum1**2 / per  # >= sum1^2 / n, as real sums
    got = pbo_cscv(rng.normal(0.0, 0.01, n), sum1, sum2, np.full(s, per))
    assert got.logits.shape == (70,) and np.isfinite(got.logits).all()
    assert 0.0 <= got.pbo <= 1.0


# ---------------------------------------------------------------------------- walk-forward


def test_walk_forward_split():
    # 81 backtest returns (days 19..99); half of them, 40.5, rounds to even: 40 in-sample.
    split = walk_forward_split(100, 20, 0.5)
    assert split == 59
    assert (split - 19, 100 - split) == (40, 41)
    assert walk_forward_split(300, 1, 0.7) == 210
    assert walk_forward_split(24, 20, 0.4) == 21  # 5 returns: 2 in-sample, 3 out-of-sample


@pytest.mark.parametrize(
    "n_days,window,fraction",
    [
        (100, 20, 0.0),
        (100, 20, 1.0),
        (100, 20, float("nan")),
        (100, 20, 0.01),
        (100, 20, 0.99),
        (22, 20, 0.5),
        (100, 0, 0.5),
    ],
)
def test_walk_forward_split_refuses_parts_under_two_returns(n_days, window, fraction):
    with pytest.raises(ValueError, match="--walk-forward"):
        walk_forward_split(n_days, window, fraction)


def test_rank_correlation():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=50), rng.normal(size=50)
    b[::3] += a[::3]
    assert rank_correlation(a, b) == pytest.approx(spearmanr(a, b).statistic, rel=1e-12)
    a[[1, 5]], b[[5, 8]] = np.nan, np.nan
    keep = np.ones(50, bool)
    keep[[1, 5, 8]] = False
    assert rank_correlation(a, b) == pytest.approx(spearmanr(a[keep], b[keep]).statistic)
    assert rank_correlation([1, 2, 3], [10, 30, 20]) == pytest.approx(0.5)
    assert rank_correlation([1, 2, 3], [np.exp(1), np.exp(2), np.exp(3)]) == 1.0
    assert math.isnan(rank_correlation([1, 2, np.nan, 4], [1, np.nan, 3, 4]))  # 2 pairs
    assert math.isnan(rank_correlation([1, 2, 3, 4], [5, 5, 5, 5]))

"""Scoring a grid search of hedge strategies (CONVENTIONS, "Sweep scoring").

Every function is vectorised over configurations:

- the target score, a weighted mean of logistic terms, one per metric, of the distance to a target;
- the probabilistic and deflated Sharpe ratios (Bailey & López de Prado 2014);
- the probability of backtest overfitting by combinatorially symmetric cross-validation (CSCV,
  Bailey, Borwein, López de Prado & Zhu 2015), from per-block sums rather than return matrices;
- walk-forward helpers: the in-sample / out-of-sample split and a Spearman rank correlation.

Sharpe ratios here are per period (daily, not annualised): ``mean(R - rf_d) / std(R, ddof=1)``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields

import numpy as np
from scipy.special import expit, ndtr, ndtri

from hedgedesk.core.errors import ConfigError

# Each of pbo_cscv's three (combinations x configurations) float64 buffers holds at most this
# many numbers (32 MB): with the boolean masks, ~120 MB whatever N is.
_CHUNK_ELEMENTS = 4_000_000
# A sum of squared deviations under this share of sum((R - K)^2) cannot be told from rounding.
_FLAT = 1e-10


@dataclass(frozen=True)
class ScoreTargets:
    """Targets, weights and logistic scales of the target score (all configuration).

    ``max_drawdown`` is a positive fraction (0.10: a 10 % drawdown); ``consistency`` is the share
    of positive rolling 63-day returns. ``volatility`` is the annual volatility every curve is
    scaled to before its return, drawdown and consistency terms are scored (CONVENTIONS: the
    score is risk-normalised, so shrinking or inflating exposure cannot win it).
    """

    sharpe: float = 1.0
    annual_return: float = 0.30
    max_drawdown: float = 0.10
    consistency: float = 0.60
    w_sharpe: float = 0.4
    w_return: float = 0.3
    w_drawdown: float = 0.2
    w_consistency: float = 0.1
    s_sharpe: float = 0.5
    s_return: float = 0.10
    s_drawdown: float = 0.05
    s_consistency: float = 0.10
    volatility: float = 0.10

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            if not math.isfinite(v):
                raise ConfigError("sweep.score", f.name, f"must be a finite number, got {v}")
            if f.name.startswith("w_") and v < 0:
                raise ConfigError("sweep.score", f.name, f"a weight must be >= 0, got {v}")
            if f.name.startswith("s_") and v <= 0:
                raise ConfigError("sweep.score", f.name, f"a scale must be > 0, got {v}")
        if self.volatility <= 0:
            raise ConfigError(
                "sweep.score",
                "volatility",
                f"the target volatility is a positive annual fraction, got {self.volatility}",
            )
        if self.max_drawdown <= 0:
            raise ConfigError(
                "sweep.score",
                "max_drawdown",
                f"the drawdown target is a positive fraction, got {self.max_drawdown}",
            )
        if sum(self.weights()) == 0:
            raise ConfigError(
                "sweep.score",
                "w_sharpe, w_return, w_drawdown, w_consistency",
                "at least one weight must be > 0",
            )

    def weights(self) -> tuple[float, float, float, float]:
        """(w_sharpe, w_return, w_drawdown, w_consistency), in the score's term order."""
        return self.w_sharpe, self.w_return, self.w_drawdown, self.w_consistency

    def as_dict(self) -> dict:
        """Every field by name (JSON-ready: plain floats)."""
        return asdict(self)


DEFAULT_TARGETS = ScoreTargets()


def _logistic(x: np.ndarray) -> np.ndarray:
    """``expit`` (overflow-free), with a NaN metric scoring 0, the worst."""
    return np.where(np.isnan(x), 0.0, expit(x))


def target_score(
    sharpe, annual_return, max_drawdown, consistency, targets: ScoreTargets = DEFAULT_TARGETS
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Score in (0, 1) of each configuration: ``sum(w_i term_i) / sum(w_i)``.

    Each term is ``1 / (1 + exp(-d / scale))`` of the signed distance d to the target, higher
    being better: ``d = x - target`` for Sharpe (annualised), annual return and consistency;
    ``d = target - |max_drawdown|`` for the drawdown (inputs are <= 0, as CONVENTIONS reports
    them).

    Parameters
    ----------
    sharpe, annual_return, max_drawdown, consistency : array_like, broadcast together
        Annualised Sharpe ratio; annual return and max drawdown as fractions (drawdown <= 0);
        consistency as the share of positive rolling 63-day returns. NaN scores the worst.
    targets : ScoreTargets
        Targets, weights and logistic scales.

    Returns
    -------
    score : ndarray, the inputs' broadcast shape
        In (0, 1), higher is better.
    terms : dict of str to ndarray
        Each metric's logistic term, keyed ``sharpe``, ``annual_return``, ``max_drawdown``,
        ``consistency``.
    """
    t = targets
    sr, ret, dd, cons = (
        np.asarray(x, dtype=np.float64) for x in (sharpe, annual_return, max_drawdown, consistency)
    )
    terms = {
        "sharpe": _logistic((sr - t.sharpe) / t.s_sharpe),
        "annual_return": _logistic((ret - t.annual_return) / t.s_return),
        "max_drawdown": _logistic((t.max_drawdown - np.abs(dd)) / t.s_drawdown),
        "consistency": _logistic((cons - t.consistency) / t.s_consistency),
    }
    score = sum(w * term for w, term in zip(t.weights(), terms.values(), strict=True))
    return np.asarray(score / sum(t.weights())), terms


def expected_max_sharpe(variance, n_trials):
    """Expected maximum of ``n_trials`` independent Sharpe ratios of true value 0 and variance
    ``variance`` (Bailey & López de Prado 2014, the DSR's SR0):
    ``sqrt(V) * ((1 - g) Phi^-1(1 - 1/N) + g Phi^-1(1 - 1/(N e)))``, g Euler-Mascheroni; 0 for
    N = 1. Use the same periodicity for V as for the Sharpe ratio it is compared with.

    Parameters
    ----------
    variance : array_like
        Variance of the trials' Sharpe ratios (per period squared), >= 0.
    n_trials : array_like
        Independent trials, >= 1.

    Returns
    -------
    ndarray or float, the inputs' broadcast shape
        SR0, a Sharpe ratio in the periodicity of ``variance``'s root.
    """
    v = np.asarray(variance, dtype=np.float64)
    n = np.asarray(n_trials, dtype=np.float64)
    if np.any(v < 0) or np.any(n < 1):
        raise ValueError("expected_max_sharpe needs variance >= 0 and n_trials >= 1")
    g = np.euler_gamma
    with np.errstate(divide="ignore"):  # N = 1 gives Phi^-1(0) = -inf, replaced by 0
        z = (1 - g) * ndtri(1 - 1 / n) + g * ndtri(1 - 1 / (n * np.e))
    return (np.sqrt(v) * np.where(n > 1, z, 0.0))[()]


def probabilistic_sharpe(sharpe, n_returns, skew, kurtosis, benchmark=0.0):
    """Probability that the true Sharpe ratio exceeds ``benchmark`` (PSR):
    ``Phi((SR - SR*) sqrt(n - 1) / sqrt(1 - skew SR + (kurtosis - 1) / 4 SR^2))``.

    ``sharpe`` and ``benchmark`` are per period (not annualised), ``n_returns`` the number of
    returns behind ``sharpe``, ``skew`` and ``kurtosis`` the population moments of those returns
    (kurtosis not excess: 3 for a normal).

    Parameters
    ----------
    sharpe, benchmark : array_like
        Sharpe ratios per period (not annualised).
    n_returns : array_like
        Returns behind each Sharpe ratio.
    skew, kurtosis : array_like
        Population skewness and (non-excess) kurtosis of those returns.

    Returns
    -------
    ndarray or float, the inputs' broadcast shape
        Probability in [0, 1]; NaN where n < 2 or the variance term is not positive.
    """
    sr = np.asarray(sharpe, dtype=np.float64)
    n = np.asarray(n_returns, dtype=np.float64)
    den = 1 - np.asarray(skew) * sr + (np.asarray(kurtosis) - 1) / 4 * sr**2
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (sr - benchmark) * np.sqrt(n - 1) / np.sqrt(den)
    return np.where((n >= 2) & (den > 0), ndtr(z), np.nan)[()]


def deflated_sharpe(sharpe, n_returns, skew, kurtosis, sharpe_variance, n_trials) -> dict:
    """Deflated Sharpe ratio: the PSR against SR0, the expected maximum Sharpe of ``n_trials``
    unskilled trials whose Sharpe ratios vary with ``sharpe_variance`` (per period, like
    ``sharpe``).

    Parameters
    ----------
    sharpe, n_returns, skew, kurtosis : array_like
        As for :func:`probabilistic_sharpe` (Sharpe per period).
    sharpe_variance : array_like
        Variance of the trials' Sharpe ratios, per period squared.
    n_trials : array_like
        Trials the strategy was chosen from.

    Returns
    -------
    dict
        ``dsr``: probability in [0, 1]; ``sr0``: the deflating Sharpe ratio, per period.
    """
    sr0 = expected_max_sharpe(sharpe_variance, n_trials)
    return {"dsr": probabilistic_sharpe(sharpe, n_returns, skew, kurtosis, sr0), "sr0": sr0}


def return_moments(returns, rf_d: float = 0.0) -> dict:
    """Inputs of the PSR/DSR from returns along the last axis (one row per configuration).

    ``sharpe = mean(R - rf_d) / std(R, ddof=1)`` per period; ``skew = E[(x-mu)^3] / sigma^3`` and
    ``kurtosis = E[(x-mu)^4] / sigma^4`` with the population sigma (ddof 0), kurtosis not excess,
    as in the paper.

    Parameters
    ----------
    returns : array_like, shape (..., n)
        Simple returns per period, as fractions, n >= 2.
    rf_d : float
        Risk-free rate per period, as a fraction.

    Returns
    -------
    dict
        ``sharpe``, ``skew``, ``kurtosis``: arrays of shape (...) (floats for 1-d input), NaN
        for constant returns; ``n``: the number of returns.
    """
    r = np.asarray(returns, dtype=np.float64)
    n = r.shape[-1]
    if n < 2:
        raise ValueError(f"return_moments needs at least 2 returns, got {n}")
    x = r - r[..., :1]  # shifted by the first return: constant returns give exactly 0 variance
    mean = x.mean(axis=-1, keepdims=True)
    d = x - mean
    m2 = np.mean(d**2, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        excess = mean[..., 0] + r[..., 0] - rf_d
        sharpe = np.where(m2 > 0, excess / np.sqrt(m2 * n / (n - 1)), np.nan)
        skew = np.mean(d**3, axis=-1) / m2**1.5
        kurt = np.mean(d**4, axis=-1) / m2**2
    return {"sharpe": sharpe[()], "skew": skew[()], "kurtosis": kurt[()], "n": n}


def _sums(shift, sum1, sum2, counts):
    shift = np.asarray(shift, dtype=np.float64)
    sum1 = np.asarray(sum1, dtype=np.float64)
    sum2 = np.asarray(sum2, dtype=np.float64)
    counts = np.asarray(counts)
    if shift.ndim != 1 or sum1.shape != (len(shift), len(counts)) or sum2.shape != sum1.shape:
        raise ValueError(
            f"block sums need shift (N,), sum1 and sum2 (N, S), counts (S,); got "
            f"{shift.shape}, {sum1.shape}, {sum2.shape}, {counts.shape}"
        )
    if np.any(counts < 1):
        raise ValueError("every block needs at least one return")
    if not (np.isfinite(shift).all() and np.isfinite(sum1).all() and np.isfinite(sum2).all()):
        raise ValueError("block sums must be finite")
    return shift, sum1, sum2, counts.astype(np.float64)


def _sharpe_from_sums(shift, s1, s2, tmp, n, rf_d, fill):
    """Per-period Sharpe ratios, in place into and returned as s1 (C, B).

    s1 and s2 (C, B) hold the sums of ``R - K`` and ``(R - K)^2`` over n (C,) returns, with K =
    ``shift`` (B,) a return of each series, which spares ``s2 - n m1^2`` most of the
    cancellation raw sums of squares would suffer; s2 and tmp are overwritten. Series the sums
    cannot tell from constant (``_FLAT``), or with n < 2, get ``fill``. Buffers are reused
    because fresh 30 MB temporaries cost more in page faults than the arithmetic itself.
    """
    n = n[:, None]
    s1 /= n  # mean of R - K
    np.multiply(s1, s1, out=tmp)
    tmp *= n
    np.subtract(s2, tmp, out=tmp)  # sum of squared deviations
    s2 *= _FLAT
    flat = ~(tmp > s2)
    s1 += shift - rf_d
    with np.errstate(invalid="ignore", divide="ignore"):
        tmp /= n - 1
        np.sqrt(tmp, out=tmp)
        s1 /= tmp
    np.copyto(s1, fill, where=flat)
    return s1


def block_sharpe(shift, sum1, sum2, counts, blocks_mask, rf_d: float = 0.0) -> np.ndarray:
    """Per-period Sharpe ratio ``mean(R - rf_d) / std(R, ddof=1)`` of every configuration on the
    returns of the blocks selected by ``blocks_mask`` (S,) bool, from block sums (see
    ``pbo_cscv``).

    Parameters
    ----------
    shift : array_like, shape (n_configs,)
        Per-configuration constant K (its first return).
    sum1, sum2 : array_like, shape (n_configs, n_blocks)
        Sums over each block of ``R - K`` and ``(R - K)^2``.
    counts : array_like of int, shape (n_blocks,)
        Returns per block, each >= 1.
    blocks_mask : array_like of bool, shape (n_blocks,)
        The blocks to pool.
    rf_d : float
        Risk-free rate per period, as a fraction.

    Returns
    -------
    ndarray, shape (n_configs,)
        Sharpe ratios per period; NaN where those returns are constant: std under ~1e-5 of
        the root mean square of R - K, which the sums cannot tell from rounding.
    """
    shift, sum1, sum2, counts = _sums(shift, sum1, sum2, counts)
    m = np.asarray(blocks_mask, dtype=bool).astype(np.float64)[None, :]
    s1 = m @ sum1.T
    return _sharpe_from_sums(shift, s1, m @ sum2.T, np.empty_like(s1), m @ counts, rf_d, np.nan)[0]


@dataclass(frozen=True)
class PBOResult:
    """What :func:`pbo_cscv` finds: the probability of backtest overfitting and the figures
    behind it (Sharpe ratios per period).
    """

    pbo: float  # share of combinations where the in-sample best ranks at or below the OOS median
    n_combinations: int
    n_configurations: int
    n_blocks: int
    logits: np.ndarray  # (n_combinations,) ln(w / (1 - w)) of the in-sample best's OOS rank
    degradation: float  # OLS slope of the best's OOS Sharpe on its IS Sharpe
    prob_oos_loss: float  # share of combinations where the best's OOS Sharpe is < 0


class Stopped(Exception):
    """Raised by :func:`pbo_cscv` when its ``stop`` callback asks it to stop."""


def pbo_cscv(
    shift, sum1, sum2, counts, rf_d: float = 0.0, stop: Callable[[], bool] | None = None
) -> PBOResult:
    """Probability of backtest overfitting by CSCV (Bailey, Borwein, López de Prado & Zhu 2015).

    The T returns of each of N configurations are cut into S contiguous blocks (S even);
    ``counts`` (S,) is the number of returns per block, ``shift`` (N,) a per-configuration
    constant K (its first return), ``sum1`` / ``sum2`` (N, S) the sums over each block of
    ``R - K`` and ``(R - K)^2``. For each of the C(S, S/2) choices J of S/2 blocks as in-sample
    (in ``itertools.combinations`` order; the rest is out-of-sample), n* is the configuration of
    best in-sample Sharpe (per period; NaN counts as -inf, the first wins ties); w = (rank of
    n*'s OOS Sharpe among all N, 1 the worst, ties averaged, NaN lowest) / (N + 1) and
    logit = ln(w / (1 - w)). PBO is the share of logits <= 0.

    Parameters
    ----------
    shift : array_like, shape (n_configs,)
        Per-configuration constant K, a return (fraction); n_configs >= 2.
    sum1, sum2 : array_like, shape (n_configs, n_blocks)
        Sums over each block of ``R - K`` and ``(R - K)^2``; n_blocks even, >= 2.
    counts : array_like of int, shape (n_blocks,)
        Returns per block, each >= 1.
    rf_d : float
        Risk-free rate per period, as a fraction.
    stop : callable, optional
        Polled between slices of configurations (tens of milliseconds apart): when it returns
        True, :class:`Stopped` is raised (a sweep's cancel).

    Returns
    -------
    PBOResult
        PBO in [0, 1] and the figures behind it (Sharpe ratios per period).
    """
    shift, sum1, sum2, counts = _sums(shift, sum1, sum2, counts)
    n_cfg, s = sum1.shape
    if n_cfg < 2:
        raise ValueError(f"PBO needs at least 2 configurations, got {n_cfg}")
    if s < 2 or s % 2:
        raise ValueError(f"PBO needs an even number of blocks >= 2, got {s}")
    combos = list(itertools.combinations(range(s), s // 2))
    n_comb = len(combos)
    is_m = np.zeros((n_comb, s))
    for c, j in enumerate(combos):
        is_m[c, list(j)] = 1.0
    oos_m = 1.0 - is_m
    n_is, n_oos = is_m @ counts, oos_m @ counts
    # Combinations x configurations layout: reductions over configurations run along
    # contiguous rows, several times faster than down columns.
    chunk = min(n_cfg, max(1, _CHUNK_ELEMENTS // n_comb))
    bufs = [np.empty((n_comb, chunk)) for _ in range(3)]
    rows = np.arange(n_comb)

    def sharpe(m, n, lo, fill):
        """Sharpe ratios (C, B) of configurations lo..lo+B-1 on the blocks of m (C, S)."""
        if stop is not None and stop():
            raise Stopped
        sl = slice(lo, lo + chunk)
        b = min(chunk, n_cfg - lo)
        s1, s2, tmp = (x[:, :b] for x in bufs)
        np.matmul(m, sum1[sl].T, out=s1)
        np.matmul(m, sum2[sl].T, out=s2)
        return _sharpe_from_sums(shift[sl], s1, s2, tmp, n, rf_d, fill)

    # Pass 1: the in-sample best of each combination (strict > keeps the first on ties).
    best = np.zeros(n_comb, dtype=np.int64)
    best_is = np.full(n_comb, -np.inf)
    for lo in range(0, n_cfg, chunk):
        sr = sharpe(is_m, n_is, lo, -np.inf)
        i = np.argmax(sr, axis=1)
        better = sr[rows, i] > best_is
        best[better], best_is[better] = i[better] + lo, sr[rows, i][better]

    # n*'s OOS Sharpe; pass 2 counts the other configurations below / equal to it. n* is left
    # out of the counts (its rank is 1 + below + equal / 2) as its value computed within a chunk
    # may differ from this one in the last bit.
    s1, s2 = oos_m @ sum1[best].T, oos_m @ sum2[best].T
    oos_best = _sharpe_from_sums(shift[best], s1, s2, np.empty_like(s1), n_oos, rf_d, np.nan)[
        rows, rows
    ]
    target = np.where(np.isnan(oos_best), -np.inf, oos_best)[:, None]
    below = np.zeros(n_comb, dtype=np.int64)
    equal = np.zeros(n_comb, dtype=np.int64)
    for lo in range(0, n_cfg, chunk):
        sr = sharpe(oos_m, n_oos, lo, -np.inf)
        mine = (best >= lo) & (best < lo + chunk)
        sr[rows[mine], best[mine] - lo] = np.nan  # compares False both ways
        below += np.count_nonzero(sr < target, axis=1)
        equal += np.count_nonzero(sr == target, axis=1)
    w = (1 + below + equal / 2) / (n_cfg + 1)
    logits = np.log(w / (1 - w))

    ok = np.isfinite(best_is) & np.isfinite(oos_best)
    x, y = best_is[ok], oos_best[ok]
    # In-sample Sharpes that differ only by rounding have no slope (polyfit would be garbage).
    spread = len(x) >= 2 and np.ptp(x) > 1e-9 * np.abs(x).max()
    slope = np.polyfit(x, y, 1)[0] if spread else np.nan
    return PBOResult(
        pbo=float(np.mean(logits <= 0)),
        n_combinations=n_comb,
        n_configurations=n_cfg,
        n_blocks=s,
        logits=logits,
        degradation=float(slope),
        prob_oos_loss=float(np.mean(oos_best < 0)),
    )


def walk_forward_split(n_days: int, window: int, fraction: float) -> int:
    """First out-of-sample day: in-sample is days 0..split-1, where
    ``split = window - 1 + round(fraction * (n_days - window + 1))``, i.e. ``fraction`` of the
    n_days - window + 1 backtest returns (the first of which is day window - 1).

    Parameters
    ----------
    n_days : int
        Daily returns of the leg.
    window : int
        The longest beta window (returns): the first trade is on day window - 1.
    fraction : float
        In-sample share, in (0, 1).

    Returns
    -------
    int
        The split, a day index; both parts hold at least 2 returns (else a ValueError).
    """
    n_ret = n_days - window + 1
    if not (window >= 1 and math.isfinite(fraction) and 0 < fraction < 1):
        raise ValueError(
            f"--walk-forward {fraction}: need a fraction in (0, 1) and a window >= 1 (got {window})"
        )
    split = window - 1 + round(fraction * n_ret)
    n_in, n_out = split - (window - 1), n_days - split
    if n_in < 2 or n_out < 2:
        raise ValueError(
            f"--walk-forward {fraction}: {n_ret} returns split into {n_in} "
            f"in-sample and {n_out} out-of-sample; each part needs at least 2"
        )
    return split


def rank_correlation(a, b) -> float:
    """Spearman rank correlation over the pairs where neither value is NaN.

    Parameters
    ----------
    a, b : array_like, shape (n,)
        Paired values (scores, Sharpe ratios, ...).

    Returns
    -------
    float
        In [-1, 1]; NaN with fewer than 3 complete pairs or when one side is constant.
    """
    from scipy.stats import spearmanr  # scipy.stats takes ~0.3 s to load: only here

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    ok = ~(np.isnan(a) | np.isnan(b))
    a, b = a[ok], b[ok]
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)

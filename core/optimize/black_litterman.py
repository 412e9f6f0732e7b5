"""Black-Litterman: equilibrium returns blended with views, as :class:`Estimates` that every
optimiser takes.

All returns are annualised expected simple returns, like ``Estimates.mu``; ``cov`` is the
annualised covariance Σ of the estimates.

* Prior (equilibrium) returns ``pi = delta Σ w_prior + rf``. ``w_prior`` are benchmark weights
  (or market capitalisations), normalised to sum to 1, assets absent from the benchmark at 0;
  equal weights when none are given. The risk aversion ``delta`` is given, or implied by a
  market Sharpe ratio ``S`` of the prior portfolio: ``delta = S / sqrt(w' Σ w)`` (so that the
  prior portfolio's excess return over its volatility is ``S``).
* Views: row ``k`` of ``P`` (K, n) holds the view portfolio's weights (absolute view: a single
  1; relative view: asset A minus asset B), ``q[k]`` its expected annual return.
* View uncertainty from confidences ``c`` in (0, 1] (Idzorek's percentage confidence in the
  closed form of Walters, 2014, as PyPortfolioOpt's ``omega="idzorek"``)::

      Omega = diag(tau (1 - c_k) / c_k * p_k Σ p_k')

  ``c = 0.5`` gives He and Litterman's (1999) ``Omega = diag(tau P Σ P')``; ``c = 1`` gives
  ``Omega_kk = 0``: the posterior honours that view exactly.
* Posterior (He and Litterman; no inverse of ``Omega`` is needed, so ``c = 1`` is allowed)::

      A      = P tau Σ P' + Omega
      mu_BL  = pi + tau Σ P' A^-1 (q - P pi)
      Σ_BL   = Σ + tau Σ - tau Σ P' A^-1 P tau Σ

Views config, one dict per view: ``{"assets": ["AAPL"], "weights": [1], "view": 0.10,
"confidence": 0.6}`` (absolute) or ``{"assets": ["AAPL", "MSFT"], "weights": [1, -1],
"view": 0.02, "confidence": 0.5}`` (relative: AAPL outperforms MSFT by 2 % a year).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from hedgedesk.core.errors import HedgedeskError
from hedgedesk.core.limits import View
from hedgedesk.core.optimize.problem import Estimates

DEFAULT_TAU = 0.05
DEFAULT_MARKET_SHARPE = 0.5  # prior portfolio's Sharpe ratio when no risk aversion is given
VIEW_KEYS = ("assets", "weights", "view", "confidence")


class ViewError(HedgedeskError):
    """A Black-Litterman view or input is invalid; the message names the view and the key."""


@dataclass(frozen=True)
class Posterior:
    """Every figure of one Black-Litterman blend (n assets, K views).

    Attributes
    ----------
    tickers : tuple of str, length n
    prior_weights : ndarray, shape (n,)
        The prior portfolio, summing to 1.
    risk_aversion : float
        delta.
    tau : float
        The prior's uncertainty scale, in (0, 1].
    pi : ndarray, shape (n,)
        Prior (equilibrium) expected returns, annualised.
    P : ndarray, shape (K, n)
        The view portfolios.
    q : ndarray, shape (K,)
        The views' returns, annualised.
    confidence : ndarray, shape (K,)
        Each view's confidence, in (0, 1].
    omega : ndarray, shape (K, K)
        Diagonal view uncertainty.
    mu : ndarray, shape (n,)
        Posterior expected returns, annualised.
    cov : ndarray, shape (n, n)
        Posterior covariance, annualised.
    """

    tickers: tuple[str, ...]
    prior_weights: np.ndarray
    risk_aversion: float
    tau: float
    pi: np.ndarray
    P: np.ndarray
    q: np.ndarray
    confidence: np.ndarray
    omega: np.ndarray
    mu: np.ndarray
    cov: np.ndarray


def parse_views(views: Sequence) -> tuple[View, ...]:
    """Views from config dicts (keys ``assets``, ``weights``, ``view``, ``confidence``) or from
    objects with those attributes (:class:`~hedgedesk.core.limits.View`, as the
    config holds them), checked.
    """
    out = []
    for i, v in enumerate(views):
        if not isinstance(v, Mapping) and all(hasattr(v, k) for k in VIEW_KEYS):
            v = {k: getattr(v, k) for k in VIEW_KEYS}
        where = f"views[{i}]"
        if not isinstance(v, Mapping):
            raise ViewError(
                f"{where}: expected a table with assets, weights, view and confidence, got {v!r}"
            )
        unknown = set(v) - set(VIEW_KEYS)
        if unknown:
            raise ViewError(
                f"{where}: unknown keys {sorted(unknown)}; expected assets, "
                "weights, view and confidence"
            )
        for key in VIEW_KEYS:
            if key not in v:
                raise ViewError(f"{where}.{key}: missing")
        assets, weights = v["assets"], v["weights"]
        if isinstance(assets, str) or not isinstance(assets, Sequence) or not assets:
            raise ViewError(f"{where}.assets: expected a non-empty list of tickers, got {assets!r}")
        if len(set(assets)) != len(assets):
            raise ViewError(f"{where}.assets: a ticker appears twice in {list(assets)}")
        if (
            isinstance(weights, str)
            or not isinstance(weights, Sequence)
            or len(weights) != len(assets)
        ):
            raise ViewError(
                f"{where}.weights: expected one number per asset ({len(assets)}), got {weights!r}"
            )
        w = tuple(_number(x, f"{where}.weights") for x in weights)
        if not any(w):
            raise ViewError(f"{where}.weights: all zero, the view says nothing")
        conf = _number(v["confidence"], f"{where}.confidence")
        if not 0.0 < conf <= 1.0:
            raise ViewError(f"{where}.confidence: expected a number in (0, 1], got {conf!r}")
        out.append(
            View(tuple(str(a) for a in assets), w, _number(v["view"], f"{where}.view"), conf)
        )
    return tuple(out)


def _number(x, where: str) -> float:
    if isinstance(x, bool) or not isinstance(x, int | float | np.number) or not math.isfinite(x):
        raise ViewError(f"{where}: expected a finite number, got {x!r}")
    return float(x)


def view_matrices(
    views: Sequence[View], tickers: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The matrices of ``views`` on ``tickers``.

    Parameters
    ----------
    views : sequence of View, length K
    tickers : sequence of str, length n

    Returns
    -------
    P : ndarray, shape (K, n)
        Row k: view k's weights by ticker (0 for tickers it does not name).
    q : ndarray, shape (K,)
        The views' annual returns.
    confidence : ndarray, shape (K,)
        The views' confidences, in (0, 1].
    """
    index = {t: i for i, t in enumerate(tickers)}
    P = np.zeros((len(views), len(tickers)))
    for k, v in enumerate(views):
        for a, x in zip(v.assets, v.weights, strict=True):
            if a not in index:
                raise ViewError(
                    f"views[{k}].assets: {a!r} is not among the tickers {', '.join(tickers)}"
                )
            P[k, index[a]] = x
    return (
        P,
        np.array([v.view for v in views], dtype=np.float64),
        np.array([v.confidence for v in views], dtype=np.float64),
    )


def prior_weights(
    tickers: Sequence[str], weights: Mapping[str, float] | np.ndarray | None
) -> np.ndarray:
    """The prior portfolio.

    Parameters
    ----------
    tickers : sequence of str, length n
    weights : mapping of str to float, ndarray of shape (n,), or None
        Benchmark weights or capitalisations (a mapping by ticker, absent tickers 0, or an
        array in ticker order), non-negative; None: equal weights.

    Returns
    -------
    ndarray, shape (n,)
        The weights normalised to sum to 1.
    """
    n = len(tickers)
    if weights is None:
        return np.full(n, 1.0 / n)
    if isinstance(weights, Mapping):
        unknown = sorted(set(weights) - set(tickers))
        if unknown:
            raise ViewError(
                f"prior weights: {unknown} are not among the tickers {', '.join(tickers)}"
            )
        w = np.array([float(weights.get(t, 0.0)) for t in tickers])
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (n,):
            raise ViewError(f"prior weights: expected {n} values, got shape {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ViewError(
            "prior weights: expected finite, non-negative values with a positive "
            "sum (benchmark weights or market capitalisations)"
        )
    return w / w.sum()


def implied_risk_aversion(cov: np.ndarray, weights: np.ndarray, market_sharpe: float) -> float:
    """Delta = S / sqrt(w' Σ w): the risk aversion at which the prior portfolio ``weights``
    earns the Sharpe ratio ``market_sharpe`` in equilibrium.

    Parameters
    ----------
    cov : ndarray, shape (n, n)
        Annualised covariance.
    weights : ndarray, shape (n,)
        The prior portfolio, summing to 1.
    market_sharpe : float
        Its annual Sharpe ratio S.

    Returns
    -------
    float
        delta, per unit of annual variance.
    """
    var = float(weights @ cov @ weights)
    if var <= 0:
        raise ViewError(
            "prior weights: the prior portfolio has no variance, so no risk "
            "aversion can be implied; give one"
        )
    return float(market_sharpe) / math.sqrt(var)


def equilibrium_returns(
    cov: np.ndarray, weights: np.ndarray, risk_aversion: float, rf: float = 0.0
) -> np.ndarray:
    """Equilibrium returns Pi = delta Σ w + rf.

    Parameters
    ----------
    cov : ndarray, shape (n, n)
        Annualised covariance.
    weights : ndarray, shape (n,)
        The prior portfolio.
    risk_aversion : float
        delta.
    rf : float
        Annual risk-free rate.

    Returns
    -------
    ndarray, shape (n,)
        Annualised expected returns.
    """
    return risk_aversion * (cov @ weights) + rf


def view_uncertainty(
    P: np.ndarray, cov: np.ndarray, tau: float, confidence: np.ndarray
) -> np.ndarray:
    """View uncertainty by Idzorek's confidences: diag(tau (1 - c) / c * diag(P Σ P')).

    Parameters
    ----------
    P : ndarray, shape (K, n)
        The view portfolios.
    cov : ndarray, shape (n, n)
        Annualised covariance.
    tau : float
        The prior's uncertainty scale.
    confidence : ndarray, shape (K,)
        In (0, 1]; 1 gives a view held exactly (0 uncertainty).

    Returns
    -------
    ndarray, shape (K, K)
        Diagonal Omega, annual variance units.
    """
    c = np.asarray(confidence, dtype=np.float64)
    return np.diag(tau * (1.0 - c) / c * np.einsum("ki,ij,kj->k", P, cov, P))


def posterior(
    tickers: Sequence[str],
    cov: np.ndarray,
    views: Sequence = (),
    prior: Mapping[str, float] | np.ndarray | None = None,
    risk_aversion: float | None = None,
    market_sharpe: float = DEFAULT_MARKET_SHARPE,
    tau: float = DEFAULT_TAU,
    rf: float = 0.0,
) -> Posterior:
    """The Black-Litterman blend; see the module docstring for every formula.

    Parameters
    ----------
    tickers : sequence of str, length n
    cov : ndarray, shape (n, n)
        Annualised covariance Σ.
    views : sequence of View or view tables, length K
        See :func:`parse_views`.
    prior : mapping, ndarray of shape (n,), or None
        Prior weights (:func:`prior_weights`); None: equal weights.
    risk_aversion : float, optional
        delta; overrides ``market_sharpe``.
    market_sharpe : float
        The prior portfolio's annual Sharpe ratio that implies delta.
    tau : float
        The prior's uncertainty scale, in (0, 1].
    rf : float
        Annual risk-free rate.

    Returns
    -------
    Posterior
        ``mu`` (n,) and ``cov`` (n, n) annualised, and every figure on the way.
    """
    tickers = tuple(tickers)
    cov = np.asarray(cov, dtype=np.float64)
    n = len(tickers)
    if cov.shape != (n, n):
        raise ViewError(f"covariance: expected shape ({n}, {n}), got {cov.shape}")
    if not 0.0 < tau <= 1.0:
        raise ViewError(f"tau: expected a number in (0, 1], got {tau!r}")
    w = prior_weights(tickers, prior)
    if risk_aversion is None:
        delta = implied_risk_aversion(cov, w, market_sharpe)
    else:
        delta = float(risk_aversion)
    if not (math.isfinite(delta) and delta > 0):
        raise ViewError(f"risk aversion: expected a positive number, got {delta!r}")
    pi = equilibrium_returns(cov, w, delta, rf)
    parsed = parse_views(views)
    P, q, conf = view_matrices(parsed, tickers)
    omega = view_uncertainty(P, cov, tau, conf)
    if not parsed:
        return Posterior(tickers, w, delta, tau, pi, P, q, conf, omega, pi.copy(), cov + tau * cov)
    ts_p = tau * cov @ P.T  # (n, K)
    a = P @ ts_p + omega
    if np.linalg.cond(a) > 1e12:
        raise ViewError(
            "views: the views held with full confidence (or with no variance) "
            "are linearly dependent, so no posterior honours them all; lower a "
            "confidence or drop a duplicate view"
        )
    mu = pi + ts_p @ np.linalg.solve(a, q - P @ pi)
    post_cov = cov + tau * cov - ts_p @ np.linalg.solve(a, ts_p.T)
    return Posterior(tickers, w, delta, tau, pi, P, q, conf, omega, mu, (post_cov + post_cov.T) / 2)


def posterior_estimates(
    est: Estimates,
    views: Sequence = (),
    prior: Mapping[str, float] | np.ndarray | None = None,
    risk_aversion: float | None = None,
    market_sharpe: float = DEFAULT_MARKET_SHARPE,
    tau: float = DEFAULT_TAU,
    rf: float = 0.0,
    posterior_cov: bool = False,
    recentre_scenarios: bool = True,
) -> Estimates:
    """``est`` with ``mu`` replaced by the Black-Litterman posterior mean (from ``est.cov``),
    so that every optimiser takes it; ``method`` names the blend and its inputs.

    Parameters
    ----------
    est : Estimates
        ``mu`` (n,), ``cov`` (n, n) annualised; daily ``scenarios`` (T, n).
    views, prior, risk_aversion, market_sharpe, tau, rf
        As for :func:`posterior` (``rf`` annual).
    posterior_cov : bool
        Also replace ``cov`` by the posterior covariance Σ_BL (default: keep the sample Σ,
        which is what the prior and the views were scaled by).
    recentre_scenarios : bool
        Shift each asset's daily scenarios by ``(mu_BL - mu) / periods`` so that
        scenario-based optimisers (mean-CVaR, Kelly) see the posterior mean too; their
        dispersion is unchanged (the historical VaR/CVaR reported are then of the shifted
        history, and ``method`` says so). Without it, those optimisers ignore the views
        except through return targets.

    Returns
    -------
    Estimates
        The same universe and shapes, the posterior mean annualised.
    """
    post = posterior(est.tickers, est.cov, views, prior, risk_aversion, market_sharpe, tau, rf)
    prior_text = "equal weights" if prior is None else "benchmark weights"
    delta_text = (
        f"delta {post.risk_aversion:.4g} given"
        if risk_aversion is not None
        else f"delta {post.risk_aversion:.4g} from a market Sharpe of {market_sharpe:g}"
    )
    views_text = "; ".join(_describe(v) for v in parse_views(views)) or "no views"
    method = (
        f"Black-Litterman posterior mean (prior pi = delta Sigma w + rf on {prior_text}, "
        f"{delta_text}, rf {rf:g}, tau {tau:g}, Omega = tau (1-c)/c diag(P Sigma P') "
        f"[Idzorek confidences, Walters closed form]; views: {views_text}); "
        f"covariance: {'Black-Litterman posterior' if posterior_cov else 'unchanged'}; "
        f"scenarios: {'shifted to the posterior mean' if recentre_scenarios else 'as is'}"
        f"; from {est.method}"
    )
    scenarios = est.scenarios
    if recentre_scenarios:
        scenarios = np.asarray(scenarios) + (post.mu - est.mu) / est.periods
    return replace(
        est,
        mu=post.mu,
        cov=post.cov if posterior_cov else est.cov,
        scenarios=scenarios,
        method=method,
    )


def _describe(v: View) -> str:
    terms = " ".join(
        f"{'+' if x >= 0 else '-'} {abs(x):g} {a}" for a, x in zip(v.assets, v.weights, strict=True)
    ).removeprefix("+ ")
    return f"{terms} = {v.view:.4g} at {v.confidence:.0%} confidence"

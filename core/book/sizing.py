"""Position sizing for the hedging plan: futures for a beta target, option coverage, Kelly,
volatility targeting, risk parity and ATR stops.

Each function takes its numbers as explicit keyword parameters and returns a frozen dataclass
that repeats them next to the result, so a screen can show how a figure was obtained. Bad inputs
raise ``ValueError`` naming the parameter and its value.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from hedgedesk.core.checks import finite, positive, readonly

# The plan's ranges, as fractions of the core (long) notional.
PUT_COVERAGE = (0.20, 0.30)  # protective puts
CALL_COVERAGE = (0.10, 0.20)  # covered calls
MAX_COVERAGE = 1.5


def _finite(name: str, value) -> float:
    return float(finite(name, value))


def _positive(name: str, value) -> float:
    return float(positive(name, value))


def round_half_away(x: float) -> int:
    """Nearest whole number, ties away from zero (2.5 -> 3, -2.5 -> -3; not banker's rounding).

    Compares the exact fractional part with 0.5 (``floor(|x| + 0.5)`` would send
    0.49999999999999994 to 1, the sum rounding up).
    """
    whole = math.floor(abs(x))
    if abs(x) - whole >= 0.5:
        whole += 1
    return int(math.copysign(whole, x))


class _AsDict:
    def as_dict(self) -> dict:
        return asdict(self)  # type: ignore[call-overload]


# -- futures ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class FuturesSizing(_AsDict):
    """Contracts that move portfolio beta from ``beta_now`` to ``beta_target`` (CONVENTIONS).

    ``contracts`` > 0 buys futures (raises beta), < 0 sells them. ``beta_per_contract`` is the
    portfolio beta one contract adds: ``notional_per_contract * beta_of_future / nav``.
    """

    beta_now: float
    beta_target: float
    nav: float  # account currency
    price: float  # futures price, index points or units of the underlying
    multiplier: float  # units of the underlying per contract
    beta_of_future: float
    notional_per_contract: float  # price * multiplier, account currency
    beta_per_contract: float
    unrounded: float  # (beta_target - beta_now) * nav / (notional_per_contract * beta_of_future)
    contracts: int  # nearest whole contract, ties away from zero
    beta_after: float  # beta_now + contracts * beta_per_contract
    residual_beta: float  # beta_after - beta_target

    @property
    def side(self) -> str:
        """The trade's direction: ``"buy"``, ``"sell"`` or ``"none"``."""
        return "buy" if self.contracts > 0 else "sell" if self.contracts < 0 else "none"


def futures_for_beta(
    *,
    beta_now: float,
    beta_target: float,
    nav: float,
    price: float,
    multiplier: float,
    beta_of_future: float = 1.0,
) -> FuturesSizing:
    """``N = (beta_target - beta_now) * nav / (price * multiplier * beta_of_future)``, rounded
    to the nearest whole contract (CONVENTIONS, "Futures and contract sizing").

    Parameters
    ----------
    beta_now, beta_target : float
        Portfolio beta now and wanted (sum of beta-dollars / NAV).
    nav : float
        Net asset value in account currency (USD), > 0.
    price : float
        Futures price in index points or units of the underlying, > 0.
    multiplier : float
        Units of the underlying per contract, > 0 (e.g.
        ``hedgedesk.core.instruments.CONTRACTS["ES"].multiplier``, 50).
    beta_of_future : float
        The future's beta to the benchmark, != 0 (1 for a future on the benchmark itself).

    Returns
    -------
    FuturesSizing
        The inputs, the unrounded and rounded contracts (> 0 buys) and the residual beta.

    Raises
    ------
    ValueError
        Naming the parameter: a non-finite beta, a non-positive nav, price or multiplier, or
        a zero beta_of_future.
    """
    b_now, b_target = _finite("beta_now", beta_now), _finite("beta_target", beta_target)
    nav = _positive("nav", nav)
    price = _positive("price", price)
    multiplier = _positive("multiplier", multiplier)
    beta_f = _finite("beta_of_future", beta_of_future)
    if beta_f == 0:
        raise ValueError("beta_of_future must not be 0: such a future cannot move beta")
    notional = price * multiplier
    per_contract = notional * beta_f / nav
    unrounded = (b_target - b_now) * nav / (notional * beta_f)
    contracts = round_half_away(unrounded)
    beta_after = b_now + contracts * notional * beta_f / nav
    return FuturesSizing(
        b_now,
        b_target,
        nav,
        price,
        multiplier,
        beta_f,
        notional,
        per_contract,
        unrounded,
        contracts,
        beta_after,
        beta_after - b_target,
    )


# -- options ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class OptionCoverage(_AsDict):
    """Option contracts covering ``coverage`` of the core notional (notional = contracts *
    underlying_price * multiplier, not delta-adjusted).
    """

    kind: str  # "put" (protective) or "call" (covered)
    core_notional: float  # account currency
    coverage: float  # requested fraction of the core notional (0.25 = 25 %)
    underlying_price: float
    multiplier: float
    unrounded: float  # coverage * core_notional / (underlying_price * multiplier)
    contracts: int  # nearest whole contract, ties away from zero
    covered_notional: float  # contracts * underlying_price * multiplier
    achieved_coverage: float  # covered_notional / core_notional
    plan_range: tuple[float, float]  # PUT_COVERAGE or CALL_COVERAGE
    outside_plan: bool  # existing + requested coverage is outside plan_range
    achieved_outside_plan: bool  # existing + achieved coverage, after rounding to contracts
    existing: float = 0.0  # coverage the book already has, fraction of the core
    coverage_after: float = 0.0  # existing + achieved_coverage: what the plan range is checked on


def option_coverage(
    *,
    core_notional: float,
    coverage: float,
    underlying_price: float,
    multiplier: float = 100,
    kind: Literal["put", "call"] = "put",
    existing: float = 0.0,
) -> OptionCoverage:
    """Contracts for protective puts (plan: 20-30 % of the core) or covered calls (10-20 %).

    ``coverage`` is what these contracts add; the plan range is checked on the coverage the
    book has after the trade, ``existing + coverage`` (and ``existing + achieved``).

    Parameters
    ----------
    core_notional : float
        Value of the core (long) holdings in account currency (USD), > 0.
    coverage : float
        Fraction of the core notional to cover, in [0, 1.5] (0.25 = 25 %).
    underlying_price : float
        Price of the option's underlying, currency per unit, > 0.
    multiplier : float
        Units of the underlying per contract: 100 for US equity, ETF and SPX options.
    kind : {"put", "call"}
        Protective puts or covered calls (picks the plan range).
    existing : float
        Coverage the book already has, fraction of the core notional, in [0, 1.5].

    Returns
    -------
    OptionCoverage
        Unrounded and whole contracts (ties away from zero), the notional they cover in USD
        (not delta-adjusted), the achieved coverage and the coverage after the trade
        (existing + achieved) against the plan range.
    """
    if kind not in ("put", "call"):
        raise ValueError(f"kind must be 'put' or 'call', got {kind!r}")
    core = _positive("core_notional", core_notional)
    cov = _finite("coverage", coverage)
    if not 0.0 <= cov <= MAX_COVERAGE:
        raise ValueError(f"coverage must be a fraction in [0, {MAX_COVERAGE}], got {coverage!r}")
    spot = _positive("underlying_price", underlying_price)
    mult = _positive("multiplier", multiplier)
    have = _finite("existing", existing)
    if not 0.0 <= have <= MAX_COVERAGE:
        raise ValueError(f"existing must be a fraction in [0, {MAX_COVERAGE}], got {existing!r}")
    unrounded = cov * core / (spot * mult)
    contracts = round_half_away(unrounded)
    covered = contracts * spot * mult
    achieved = covered / core
    lo, hi = PUT_COVERAGE if kind == "put" else CALL_COVERAGE
    return OptionCoverage(
        kind,
        core,
        cov,
        spot,
        mult,
        unrounded,
        contracts,
        covered,
        achieved,
        (lo, hi),
        not lo <= have + cov <= hi,
        not lo <= have + achieved <= hi,
        have,
        have + achieved,
    )


# -- Kelly -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Kelly(_AsDict):
    """Growth-optimal leverage ``f* = edge / variance`` and the fraction of it to use.

    Growth rates are the continuous-time approximation ``g(f) = f * edge - f^2 * variance / 2``
    (annual log growth of excess return); half Kelly keeps 75 % of the full-Kelly growth.
    """

    edge: float  # annual expected excess return (0.08 = 8 %)
    variance: float  # annual variance of returns (0.04 = 20 % volatility squared)
    fraction: float
    full_kelly: float  # leverage, multiple of NAV
    leverage: float  # fraction * full_kelly
    growth_full: float  # g(full_kelly)
    growth_fractional: float  # g(leverage)


def fractional_kelly(*, edge: float, variance: float, fraction: float = 0.5) -> Kelly:
    """Kelly leverage ``f* = edge / variance`` and the fraction of it to use.

    Parameters
    ----------
    edge : float
        Annual expected excess return as a fraction (0.08 = 8 %).
    variance : float
        Annual variance of returns, > 0 (0.04 = 20 % volatility squared).
    fraction : float
        Share of full Kelly to use, in (0, 1] (0.5 = half Kelly).

    Returns
    -------
    Kelly
        Full and fractional leverage as multiples of NAV, and their annual log growth rates.
    """
    mu = _finite("edge", edge)
    var = _finite("variance", variance)
    if var <= 0:
        raise ValueError(f"variance must be > 0, got {variance!r}")
    frac = _finite("fraction", fraction)
    if not 0.0 < frac <= 1.0:
        raise ValueError(
            f"fraction must be in (0, 1] (over-betting Kelly only loses growth), got {fraction!r}"
        )
    full = mu / var
    lev = frac * full

    def growth(f: float) -> float:
        return f * mu - 0.5 * f * f * var

    return Kelly(mu, var, frac, full, lev, growth(full), growth(lev))


# -- volatility targeting --------------------------------------------------------------------
@dataclass(frozen=True)
class VolTarget(_AsDict):
    """Exposure scale ``min(target_vol / realised_vol, cap)`` (annualised volatilities)."""

    target_vol: float  # annual (0.15 = 15 %)
    lookback: int  # daily returns used
    cap: float
    periods: int  # per year
    realised_vol: float  # std(last lookback returns, ddof=1) * sqrt(periods)
    raw_scale: float  # target_vol / realised_vol (inf when realised_vol is 0)
    scale: float  # min(raw_scale, cap)
    capped: bool


def vol_target_scale(
    *, returns, target_vol: float, lookback: int = 20, cap: float = 2.0, periods: int = 252
) -> VolTarget:
    """Scale for exposure so that realised volatility meets ``target_vol``:
    ``min(target_vol / realised_vol, cap)``.

    Parameters
    ----------
    returns : array_like, shape (n_days,)
        Daily simple returns as fractions, oldest first; the last ``lookback`` are used.
    target_vol : float
        Target annualised volatility as a fraction (0.15 = 15 %), > 0.
    lookback : int
        Returns in the estimate, >= 2.
    cap : float
        Largest scale (a multiple of current exposure), > 0.
    periods : int
        Periods per year used to annualise (252 for daily exchange-traded series).

    Returns
    -------
    VolTarget
        Realised annualised volatility (ddof = 1), the raw and the capped scale.
    """
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1:
        raise ValueError(f"returns must be a 1-d array, got shape {r.shape}")
    target = _positive("target_vol", target_vol)
    cap = _positive("cap", cap)
    if isinstance(lookback, bool) or not isinstance(lookback, int | np.integer) or lookback < 2:
        raise ValueError(f"lookback must be a whole number of returns >= 2, got {lookback!r}")
    if isinstance(periods, bool) or not isinstance(periods, int | np.integer) or periods < 1:
        raise ValueError(f"periods must be a whole number >= 1, got {periods!r}")
    if lookback > len(r):
        raise ValueError(f"lookback {lookback} is longer than the data ({len(r)} returns)")
    window = r[-lookback:]
    if not np.all(np.isfinite(window)):
        raise ValueError(f"the last {lookback} returns contain a non-finite value")
    realised = float(window.std(ddof=1) * math.sqrt(periods))
    raw = target / realised if realised > 0 else math.inf
    return VolTarget(
        target, int(lookback), cap, int(periods), realised, raw, min(raw, cap), raw > cap
    )


# -- risk parity -----------------------------------------------------------------------------
@dataclass(frozen=True)
class RiskParity(_AsDict):
    """Long-only weights (sum 1) whose risk contributions ``w_i (cov w)_i / (w' cov w)`` equal
    ``budgets``. Arrays have shape (n,) (``cov`` (n, n)) and are read-only. A failed solve
    (``converged`` False) gives NaN weights and contributions and says why in ``message``.
    """

    cov: np.ndarray  # covariance of returns, e.g. annualised
    budgets: np.ndarray  # risk budgets, normalised to sum 1
    weights: np.ndarray
    risk_contributions: np.ndarray  # fractions of portfolio variance, sum 1
    volatility: float  # sqrt(w' cov w), in the units of sqrt(cov)
    converged: bool
    max_budget_error: float  # max |risk_contributions - budgets| of the solution found
    iterations: int
    message: str  # on failure weights and contributions are NaN and this says why
    method: str = (
        "min 0.5 w'Σw - Σ b_i log w_i (scipy trust-exact, Newton-polished), then w / sum(w)"
    )


def _covariance(cov) -> np.ndarray:
    c = np.asarray(cov, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] != c.shape[1] or c.shape[0] == 0:
        raise ValueError(f"cov must be a square (n, n) matrix, got shape {c.shape}")
    if not np.all(np.isfinite(c)):
        raise ValueError("cov has non-finite entries")
    scale = float(np.max(np.abs(c)))
    if not np.allclose(c, c.T, rtol=1e-10, atol=1e-12 * scale):
        raise ValueError("cov is not symmetric")
    if np.any(np.diag(c) <= 0):
        raise ValueError("cov has a zero or negative variance on its diagonal")
    c = 0.5 * (c + c.T)
    smallest = float(np.linalg.eigvalsh(c)[0])
    if smallest < -1e-10 * scale:
        raise ValueError(f"cov is not positive semi-definite (smallest eigenvalue {smallest:.3g})")
    return c


def risk_parity(*, cov, budgets=None) -> RiskParity:
    """Long-only risk-budgeting weights: each asset's share of portfolio variance equals its
    budget.

    The stationary point of the strictly convex ``0.5 w'Σw - Σ b_i log w_i`` (w > 0) has
    ``w_i (Σw)_i = b_i`` and ``w'Σw = Σ b_i``; normalising w to sum 1 keeps the contributions.

    Parameters
    ----------
    cov : array_like, shape (n_assets, n_assets)
        Covariance of returns (symmetric, positive semi-definite), e.g. annualised daily
        simple returns; the weights do not depend on its scale.
    budgets : array_like, shape (n_assets,), optional
        Risk budgets > 0, normalised to sum 1; equal risk when None.

    Returns
    -------
    RiskParity
        Weights, shape (n_assets,), fractions summing to 1; risk contributions as fractions
        of variance; volatility ``sqrt(w' cov w)`` in the units of ``sqrt(cov)``. NaN weights
        and ``converged`` False when no solution is found.
    """
    c = _covariance(cov)
    n = c.shape[0]
    if budgets is None:
        b = np.full(n, 1.0 / n)
    else:
        b = np.asarray(budgets, dtype=np.float64)
        if b.shape != (n,):
            raise ValueError(f"budgets must have shape ({n},), got {b.shape}")
        if not np.all(np.isfinite(b)) or np.any(b <= 0):
            raise ValueError("budgets must be finite and > 0")
        b = b / b.sum()

    def objective(w):
        if np.any(w <= 0):
            return np.inf  # outside the barrier's domain: the trust region shrinks
        return 0.5 * w @ c @ w - b @ np.log(w)

    def gradient(w):
        return c @ w - b / w

    def hessian(w):
        return c + np.diag(b / (w * w))

    # start from inverse-volatility weights scaled onto w'Σw = Σb, where the optimum lies
    w = b / np.sqrt(np.diag(c))
    quad = float(w @ c @ w)
    if quad > 0:
        w = w / math.sqrt(quad)
    from scipy.optimize import minimize  # scipy.optimize takes ~0.3 s to load: on use only

    iterations = 0
    try:
        with np.errstate(all="ignore"):
            res = minimize(
                objective,
                w,
                jac=gradient,
                hess=hessian,
                method="trust-exact",
                options={"gtol": 1e-10, "maxiter": 500},
            )
            w, iterations = np.asarray(res.x, dtype=np.float64), int(res.nit)
            # The trust region stops once objective changes are lost in rounding (contributions
            # off by ~1e-9); plain Newton steps, kept only while they shrink the gradient, finish.
            for _ in range(3):
                g = gradient(w)
                candidate = w - np.linalg.solve(hessian(w), g)
                if not np.all(candidate > 0) or (
                    np.abs(gradient(candidate) * candidate).max() >= np.abs(g * w).max()
                ):
                    break
                w = candidate
            w = w / w.sum()
            variance = float(w @ c @ w)
            rc = w * (c @ w) / variance
            err = float(np.max(np.abs(rc - b)))
    except (ValueError, np.linalg.LinAlgError):
        variance, err = math.nan, math.nan
    converged = bool(np.all(w > 0) and variance > 0 and err < 1e-8)
    if converged:
        message = f"converged: max |contribution - budget| = {err:.1e}"
    else:
        message = (
            "did not converge: the covariance may let a long-only portfolio have (near)"
            " zero risk, so no weights meet the budgets"
        )
        w, rc, variance = np.full(n, np.nan), np.full(n, np.nan), math.nan
    return RiskParity(
        readonly(c),
        readonly(b),
        readonly(w),
        readonly(rc),
        math.sqrt(variance),
        converged,
        err,
        iterations,
        message,
    )


# -- stops -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stop(_AsDict):
    """A volatility stop ``multiple`` ATRs away from ``price`` (price units)."""

    price: float
    atr: float  # average true range, price units
    multiple: float
    side: str  # "long" (stop below) or "short" (stop above)
    stop: float
    distance: float  # multiple * atr, price units
    distance_pct: float  # distance as a percentage of price (4.0 = 4 %)


def atr_stop(
    *, price: float, atr: float, multiple: float = 2.0, side: Literal["long", "short"] = "long"
) -> Stop:
    """A volatility stop: long ``price - multiple * atr``, short ``price + multiple * atr``.

    Parameters
    ----------
    price : float
        Current price, > 0.
    atr : float
        Average true range in price units, >= 0 (e.g. :func:`~hedgedesk.core.book.signals.atr`).
    multiple : float
        ATRs between price and stop, > 0.
    side : {"long", "short"}
        The position the stop protects.

    Returns
    -------
    Stop
        The stop price and its distance in price units and in percent of price (4.0 = 4 %).
    """
    if side not in ("long", "short"):
        raise ValueError(f"side must be 'long' or 'short', got {side!r}")
    p = _positive("price", price)
    a = _finite("atr", atr)
    if a < 0:
        raise ValueError(f"atr must be >= 0, got {atr!r}")
    k = _positive("multiple", multiple)
    distance = k * a
    stop = p - distance if side == "long" else p + distance
    if stop <= 0:
        raise ValueError(f"a long stop {k:g} x ATR {a:g} below {p:g} would be at or below zero")
    return Stop(p, a, k, side, stop, distance, 100.0 * distance / p)

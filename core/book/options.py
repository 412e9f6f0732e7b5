"""European option prices and Greeks, as CONVENTIONS ("Options") defines them.

Black-Scholes-Merton on a spot with continuous dividend yield ``q`` and continuous rate ``r``;
Black-76 on a forward (futures options). Time ``t`` is in years of 365 calendar days; rates,
yields and volatilities are annual decimals (0.05 is 5 %).

Every numeric argument may be a scalar or an array; they broadcast together, and ``right`` may
be ``"call"``/``"put"`` or an array of them. All-scalar inputs give Python floats, otherwise
arrays of the broadcast shape. Greeks are per unit of the underlying (one share, one index
point) and are mathematical partial derivatives: multiply by contracts and the contract
multiplier for position Greeks, and rescale (vega / 100, theta / 365) only for display.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from hedgedesk.core.checks import finite, positive

MODELS = ("bsm", "black76")
RIGHTS = ("call", "put")
VOL_BRACKET = (1e-6, 10.0)  # implied-vol search interval, annual decimals
_SQRT_2PI = np.sqrt(2 * np.pi)  # the normal density's constant, as scipy.stats.norm has it


@dataclass(frozen=True)
class Greeks:
    """Price and partial derivatives per unit of the underlying.

    Floats for scalar inputs, arrays of the broadcast shape otherwise.
    """

    price: float | np.ndarray  # currency per unit of the underlying
    delta: float | np.ndarray  # dV/dS (BSM) or dV/dF (Black-76)
    gamma: float | np.ndarray  # d2V/dS2 or d2V/dF2, per unit of the underlying
    vega: float | np.ndarray  # dV/dsigma per 1.00 of volatility (/ 100 for a vol point)
    theta: float | np.ndarray  # dV/dt per year as calendar time passes (/ 365 for a day)
    rho: float | np.ndarray  # dV/dr per 1.00 of rate (/ 100 for a percentage point)


def year_fraction(asof: dt.date, expiry: dt.date) -> float:
    """Years from ``asof`` to ``expiry``: calendar days / 365 (<= 0 once expired).

    CONVENTIONS, "Options" (time in years).
    """
    return (expiry - asof).days / 365.0


def _omega(right) -> np.ndarray:
    """+1 for a call, -1 for a put, elementwise."""
    r = np.asarray(right)
    known = np.isin(r, RIGHTS)
    if not known.all():
        bad = r[~known].flat[0].item() if r.ndim else r.item()
        raise ValueError(f"right must be 'call' or 'put', got {bad!r}")
    return np.where(r == "call", 1.0, -1.0)


def _time(t) -> np.ndarray:
    a = np.asarray(t, dtype=np.float64)
    bad = ~(a > 0)
    if bad.any():
        raise ValueError(f"option has expired: t must be > 0 years, got {a[bad].flat[0].item()!r}")
    return a


def _normal(w: np.ndarray, d1: np.ndarray, d2: np.ndarray) -> tuple[np.ndarray, ...]:
    """N(w d1), N(w d2) and the standard normal density at d1: scipy.stats.norm's cdf and pdf
    bit for bit, without loading scipy.stats (half a second); scipy.special loads on first use.
    """
    from scipy.special import ndtr

    return ndtr(w * d1), ndtr(w * d2), np.exp(-(d1**2) / 2.0) / _SQRT_2PI


def _out(*arrays: np.ndarray) -> Greeks:
    """Greeks from broadcast arrays; 0-d results become Python floats."""
    return Greeks(*(float(a) if a.ndim == 0 else a for a in arrays))


def bsm(right, spot, strike, t, rate, div_yield, vol) -> Greeks:
    """Black-Scholes-Merton price and Greeks of a European option on a dividend-paying spot.

    CONVENTIONS, "Options". Delta and gamma are with respect to the spot; rho holds the
    dividend yield fixed. Arguments broadcast together (scalars or arrays).

    Parameters
    ----------
    right : str or array_like of str
        ``"call"`` or ``"put"``.
    spot : float or array_like
        Price of the underlying, currency per unit (> 0).
    strike : float or array_like
        Strike, currency per unit (> 0).
    t : float or array_like
        Years to expiry, calendar days / 365 (> 0).
    rate : float or array_like
        Continuously compounded annual rate as a fraction (0.04 = 4 %).
    div_yield : float or array_like
        Continuous annual dividend yield as a fraction.
    vol : float or array_like
        Annualised volatility as a fraction (0.2 = 20 %, > 0).

    Returns
    -------
    Greeks
        Price (currency per unit) and partial derivatives per unit of the underlying: vega
        per 1.00 of volatility, theta per year, rho per 1.00 of rate. Floats for scalar
        inputs, arrays of the broadcast shape otherwise.

    Raises
    ------
    ValueError
        Naming the argument: an unknown right, a non-positive spot, strike, time or vol, or a
        non-finite rate or yield.
    """
    w = _omega(right)
    s, k = positive("spot", spot), positive("strike", strike)
    t, v = _time(t), positive("vol", vol)
    r, q = finite("rate", rate), finite("div_yield", div_yield)
    w, s, k, t, r, q, v = np.broadcast_arrays(w, s, k, t, r, q, v)
    sqrt_t = np.sqrt(t)
    d1 = (np.log(s / k) + (r - q + 0.5 * v * v) * t) / (v * sqrt_t)
    d2 = d1 - v * sqrt_t
    df_r, df_q = np.exp(-r * t), np.exp(-q * t)
    nd1, nd2, pdf1 = _normal(w, d1, d2)
    price = w * (s * df_q * nd1 - k * df_r * nd2)
    delta = w * df_q * nd1
    gamma = df_q * pdf1 / (s * v * sqrt_t)
    vega = s * df_q * pdf1 * sqrt_t
    # -dV/dT: time decay of the volatility value, plus the carry of the stock and cash legs.
    theta = -s * df_q * pdf1 * v / (2.0 * sqrt_t) - w * r * k * df_r * nd2 + w * q * s * df_q * nd1
    rho = w * k * t * df_r * nd2
    return _out(price, delta, gamma, vega, theta, rho)


def black76(right, forward, strike, t, rate, vol) -> Greeks:
    """Black-76 price and Greeks of a European option on a forward or futures price.

    CONVENTIONS, "Options". Delta and gamma are with respect to the forward; theta and rho
    hold the forward fixed, so the rate enters only through discounting (rho = -t * price).

    Parameters
    ----------
    right : str or array_like of str
        ``"call"`` or ``"put"``.
    forward : float or array_like
        Forward or futures price, currency per unit (> 0).
    strike : float or array_like
        Strike, currency per unit (> 0).
    t : float or array_like
        Years to expiry, calendar days / 365 (> 0).
    rate : float or array_like
        Continuously compounded annual rate as a fraction, for discounting.
    vol : float or array_like
        Annualised volatility of the forward as a fraction (> 0).

    Returns
    -------
    Greeks
        As :func:`bsm`, with delta and gamma per unit of the forward.
    """
    w = _omega(right)
    f, k = positive("forward", forward), positive("strike", strike)
    t, v = _time(t), positive("vol", vol)
    r = finite("rate", rate)
    w, f, k, t, r, v = np.broadcast_arrays(w, f, k, t, r, v)
    sqrt_t = np.sqrt(t)
    d1 = (np.log(f / k) + 0.5 * v * v * t) / (v * sqrt_t)
    d2 = d1 - v * sqrt_t
    df = np.exp(-r * t)
    nd1, nd2, pdf1 = _normal(w, d1, d2)
    price = w * df * (f * nd1 - k * nd2)
    delta = w * df * nd1
    gamma = df * pdf1 / (f * v * sqrt_t)
    vega = df * f * pdf1 * sqrt_t
    theta = r * price - df * f * pdf1 * v / (2.0 * sqrt_t)
    rho = -t * price
    return _out(price, delta, gamma, vega, theta, rho)


def price_and_greeks(model: str, right, underlying, strike, t, rate, div_yield, vol) -> Greeks:
    """:func:`bsm` (``underlying`` is the spot) or :func:`black76` (the forward;
    ``div_yield`` unused), chosen by ``model`` ("bsm" or "black76"); units as :func:`bsm`.
    """
    if model == "bsm":
        return bsm(right, underlying, strike, t, rate, div_yield, vol)
    if model == "black76":
        return black76(right, underlying, strike, t, rate, vol)
    raise ValueError(f"model must be one of {', '.join(MODELS)}, got {model!r}")


def _bounds(
    w: float, s: float, k: float, t: float, r: float, q: float, model: str
) -> tuple[float, float]:
    """No-arbitrage (lower, upper) price bounds: discounted intrinsic value and the
    discounted underlying (call) or discounted strike (put).
    """
    underlying_pv = s * np.exp(-(r if model == "black76" else q) * t)
    strike_pv = k * np.exp(-r * t)
    lower = max(w * (underlying_pv - strike_pv), 0.0)
    return lower, underlying_pv if w > 0 else strike_pv


def _price_gap(vol, model, right, underlying, strike, t, rate, div_yield, target) -> float:
    """Model price at ``vol`` minus the target price: the function whose root is the implied vol."""
    greeks = price_and_greeks(model, right, underlying, strike, t, rate, div_yield, vol)
    return greeks.price - target


def implied_vol(
    price, right, underlying, strike, t, rate, div_yield=0.0, model: str = "bsm"
) -> float | np.ndarray:
    """Volatility at which ``model`` reproduces ``price``.

    Each element is solved by Brent's method on vol in [1e-6, 10].

    Parameters
    ----------
    price : float or array_like
        Option premium, currency per unit of the underlying.
    right, underlying, strike, t, rate, div_yield, model
        As :func:`price_and_greeks` (years to expiry; rates and yield annual fractions).

    Returns
    -------
    float or ndarray
        Annualised volatility as a fraction (0.2 = 20 %); a float for scalar inputs, an array
        of the broadcast shape otherwise.

    Raises
    ------
    ValueError
        When a price is outside the no-arbitrage bounds (no volatility exists) or implies a
        volatility outside [1e-6, 10].
    """
    from scipy.optimize import brentq  # scipy.optimize takes ~0.3 s to load: only here

    if model not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}, got {model!r}")
    # Validate every input once, through the pricer, before solving element by element.
    price_and_greeks(model, right, underlying, strike, t, rate, div_yield, VOL_BRACKET[1])
    p = finite("price", price)
    w = _omega(right)
    arrays = np.broadcast_arrays(
        p, w, *(np.asarray(x, dtype=np.float64) for x in (underlying, strike, t, rate, div_yield))
    )
    out = np.empty(arrays[0].shape)
    for idx in np.ndindex(out.shape):
        pi, wi, si, ki, ti, ri, qi = (float(a[idx]) for a in arrays)
        where = f" (element {idx})" if out.ndim else ""
        lower, upper = _bounds(wi, si, ki, ti, ri, qi, model)
        if pi <= lower:
            raise ValueError(
                f"price {pi:.6g} is at or below intrinsic value {lower:.6g}{where}: "
                "no implied volatility exists"
            )
        if pi >= upper:
            raise ValueError(
                f"price {pi:.6g} is at or above the no-arbitrage upper bound "
                f"{upper:.6g}{where}: no implied volatility exists"
            )
        args = (model, "call" if wi > 0 else "put", si, ki, ti, ri, qi, pi)
        lo, hi = VOL_BRACKET
        f_lo, f_hi = _price_gap(lo, *args), _price_gap(hi, *args)
        # Inside the bounds but outside the bracket: too close to intrinsic, or vol > 1000 %.
        if f_lo > 0 or f_hi < 0:
            raise ValueError(
                f"price {pi:.6g}{where} implies a volatility outside "
                f"[{lo:g}, {hi:g}]: no implied volatility found"
            )
        out[idx] = (
            lo if f_lo == 0 else brentq(_price_gap, lo, hi, args=args, xtol=1e-14, rtol=1e-15)
        )
    return float(out) if out.ndim == 0 else out

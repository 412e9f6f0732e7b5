"""Yield series turned into bond total-return indices (CONVENTIONS, "Yields and FX").

A yield (percent per year, e.g. FRED's ``DGS10`` or Moody's ``AAA``) is never read as a price:
it becomes the total return of a constant-maturity par bond of maturity M years with
semi-annual coupons, ``r[t] = P(c = y[t-1], y = y[t], M) - 1 + y[t-1] * tau[t]``, compounded
into an index that starts at 1.0, so the rest of the engine uses it like a price.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from hedgedesk.core.data.market import MarketData, Series
from hedgedesk.core.errors import DataError

DEFAULT_MATURITY = 10.0  # years (CONVENTIONS)
_FRED_YIELD = re.compile(r"DGS(\d+)(MO)?")


def fred_maturity(name: str) -> float | None:
    """The maturity (years) a FRED Treasury constant-maturity name gives: ``DGS10`` 10,
    ``DGS3MO`` 0.25; None for any other name.
    """
    m = _FRED_YIELD.fullmatch(name.strip())
    if m is None or int(m[1]) == 0:
        return None
    return int(m[1]) / 12 if m[2] else float(int(m[1]))


def maturity_text(maturity: float) -> str:
    """How a maturity is written in labels: ``10y``, ``0.25y``."""
    return f"{maturity:g}y"


def yield_label(maturity: float) -> str:
    """The price field of a series built from a yield: ``yield -> bond total return, M=10y``."""
    return f"yield -> bond total return, M={maturity_text(maturity)}"


def par_bond_price(coupon: np.ndarray, y: np.ndarray, maturity: float) -> np.ndarray:
    """Price per 1 face of a bond with semi-annual coupons (CONVENTIONS).

    Parameters
    ----------
    coupon : ndarray, shape (n,)
        Annual coupon rates, as fractions (0.05 = 5 %).
    y : ndarray, shape (n,)
        Annual yields, as fractions, each above -2 (so that ``1 + y/2 > 0``).
    maturity : float
        Years to maturity.

    Returns
    -------
    ndarray, shape (n,)
        ``c / y * (1 - (1 + y/2)^(-2M)) + (1 + y/2)^(-2M)``; the ``c / y`` term is ``M * c``
        at ``y = 0``. Equal to 1 when ``y = c``.
    """
    log_growth = -2.0 * maturity * np.log1p(y / 2.0)
    discount = np.exp(log_growth)
    annuity = np.empty_like(y)
    zero = y == 0
    # -expm1 keeps 1 - (1 + y/2)^(-2M) accurate for yields near zero
    annuity[~zero] = -np.expm1(log_growth[~zero]) / y[~zero]
    annuity[zero] = maturity
    return coupon * annuity + discount


def bond_returns(dates: np.ndarray, percent: np.ndarray, maturity: float) -> np.ndarray:
    """Period total returns of a constant-maturity par bond from a yield series.

    Parameters
    ----------
    dates : ndarray of datetime64[D], shape (n,)
        Observation dates, ascending.
    percent : ndarray, shape (n,)
        Yields in percent per year (4.5 = 4.5 %).
    maturity : float
        The bond's constant maturity, years.

    Returns
    -------
    ndarray, shape (n - 1,)
        Simple returns as fractions: ``P(y[t-1], y[t], M) - 1 + y[t-1] * tau[t]``, with
        ``tau`` the calendar days between observations / 365.
    """
    y = np.asarray(percent, dtype=np.float64) / 100.0
    tau = np.diff(dates.astype("datetime64[D]")).astype(np.int64) / 365.0
    return par_bond_price(y[:-1], y[1:], maturity) - 1.0 + y[:-1] * tau


def bond_series(s: Series, maturity: float) -> Series:
    """``s`` (closes are yields in percent) as a bond total-return index starting at 1.0.

    Raises
    ------
    DataError
        A yield at or below -100 % (naming the ticker and date), or a maturity not in
        (0, 100] years.
    """
    if not 0 < maturity <= 100:
        raise DataError(s.ticker, f"maturity {maturity:g}: expected years in (0, 100]")
    low = np.flatnonzero(s.close <= -100.0)
    if len(low):
        day = s.dates[low[0]].astype("datetime64[D]")
        raise DataError(
            s.source,
            f"yield {s.close[low[0]]:g} % for {s.ticker} on {day}: expected above -100 %",
        )
    index = np.cumprod(np.r_[1.0, 1.0 + bond_returns(s.dates, s.close, maturity)])
    if not np.isfinite(index).all() or (index <= 0).any():
        raise DataError(s.source, f"yield series {s.ticker} gives a bond index at or below zero")
    return Series(
        ticker=s.ticker,
        dates=s.dates,
        close=index,
        volume=None,
        source=s.source,
        price_field=yield_label(maturity),
        calendar=s.calendar,
        frequency=s.frequency,
        date_format=s.date_format,
        notes=s.notes,
        maturity=maturity,
    )


def with_yields(market: MarketData, declared: Mapping[str, float]) -> MarketData:
    """``market`` with each declared yield series (ticker -> maturity, years) turned into its
    bond index (``market`` itself when none is declared); DataError naming a declared ticker
    the data lacks.
    """
    if not declared:
        return market
    missing = [t for t in declared if t not in market.series]
    if missing:
        raise DataError(
            "yields",
            f"{', '.join(missing)} declared as yields but not in the data; "
            f"the data has: {market.describe_tickers()}",
        )
    out = {
        t: bond_series(s, declared[t]) if t in declared and s.maturity is None else s
        for t, s in market.series.items()
    }
    return MarketData(out, market.notices)

"""P&L explained: the book's day P&L from the previous session's close to the as-of close, per
line and in total, and its attribution to the Greeks of the day before.

Quantities are today's positions held over both closes (an edited what-if book is held the
same way): the P&L is what today's book made or lost over the day, not a record of trades.
``t`` is the as-of date of the :class:`~hedgedesk.core.book.valuation.MarketState`; ``t-1``
is the benchmark's previous session in the market data (the replay steps ``t`` day by day).

Per line, with ``q = quantity x multiplier`` and ``S = scale x close`` the priced underlying:

- day P&L = ``q x (V_t - V_t-1)``, full revaluation. Options are repriced in full at each close
  (the close, the calendar time to expiry at that date, the rate, and the volatility, the same
  on both days unless a previous volatility is given); linear lines are worth ``S`` per unit,
  so futures make ``q x (S_t - S_t-1)``: settled in cash daily.
- attribution with the Greeks at ``t-1`` (CONVENTIONS, "Options": raw partials per year and
  per 1.00 of volatility): delta ``delta x dS x q``, gamma ``0.5 x gamma x dS^2 x q``, vega
  ``vega x dsigma x q`` (0 when the volatility is unchanged), theta ``theta x dt x q`` with
  ``dt`` = calendar days between the closes / 365, and unexplained = day P&L minus their sum
  (third and higher orders, cross terms). Linear lines are all delta.
- since cost = ``(S_t - cost_basis) x quantity`` for holdings with a cost basis, else None.

Money in USD (the book's currency).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from hedgedesk.core.book.options import price_and_greeks, year_fraction
from hedgedesk.core.book.valuation import Line, MarketState, priced_lines, time_to_expiry
from hedgedesk.core.config import DeskConfig
from hedgedesk.core.data.market import MarketData
from hedgedesk.core.errors import DataError
from hedgedesk.core.instruments import OPTION, add_inverses

ATTRIBUTION = ("delta", "gamma", "vega", "theta", "unexplained")

CONVENTIONS = {
    "pnl_day": "full revaluation of today's positions at the as-of close minus at the "
    "previous session's close (the benchmark's calendar); options repriced in full (close, "
    "calendar time to expiry, same rate, same volatility); futures quantity x multiplier x "
    "scale x (close_t - close_t-1), settled daily; USD",
    "pnl_since_cost": "(price - cost_basis) x quantity for holdings with a cost basis; "
    "null (shown '–') for lines without one (hedge legs carry no cost)",
    "attribution": "Greeks at t-1 (raw partials): delta x dS x q, 0.5 x gamma x dS^2 x q, "
    "vega x dsigma x q (0 when the volatility is unchanged), theta x dt x q with dt = "
    "calendar days / 365; q = quantity x multiplier, dS in the priced underlying "
    "(scale x close); unexplained = day P&L minus their sum; linear lines are all delta",
    "split": "core = holdings, hedges = hedge legs, book = both",
}


@dataclass(frozen=True)
class PnlLine:
    """One line's P&L over the day, in USD, and the underlying's two prices (its unit)."""

    line: Line
    underlying_prev: float  # scale x close at t-1
    underlying: float  # scale x close at t
    price_prev: float  # per unit at t-1: the underlying for linear lines, the premium for options
    price: float  # per unit at t
    vol_prev: float | None  # options: the volatility priced at t-1 (annual fraction)
    day: float  # full revaluation: q x (price - price_prev)
    since_cost: float | None  # holdings with a cost basis, else None
    delta: float
    gamma: float
    vega: float
    theta: float
    unexplained: float

    def attribution(self) -> dict[str, float]:
        """Delta, gamma, vega, theta and unexplained, USD; they sum to ``day``."""
        return {k: getattr(self, k) for k in ATTRIBUTION}


@dataclass(frozen=True)
class PnlTotal:
    """Sums over a set of lines (core, hedges or book), USD; ``since_cost`` None when no line
    in the set has a cost basis.
    """

    day: float
    since_cost: float | None
    delta: float
    gamma: float
    vega: float
    theta: float
    unexplained: float

    @classmethod
    def of(cls, lines: list[PnlLine]) -> PnlTotal:
        """The sum of ``lines``' figures (0 for an empty set)."""
        costs = [p.since_cost for p in lines if p.since_cost is not None]
        return cls(
            float(sum(p.day for p in lines)),
            float(sum(costs)) if costs else None,
            *(float(sum(getattr(p, k) for p in lines)) for k in ATTRIBUTION),
        )

    def as_dict(self) -> dict:
        """The figures keyed by name (USD)."""
        return {
            "day": self.day,
            "since_cost": self.since_cost,
            **{k: getattr(self, k) for k in ATTRIBUTION},
        }


@dataclass(frozen=True)
class PnlExplain:
    """The book's day P&L from ``previous`` to ``asof``, per line and in total (USD)."""

    asof: dt.date
    previous: dt.date
    lines: tuple[PnlLine, ...]

    @property
    def core(self) -> PnlTotal:
        """The holdings' total."""
        return PnlTotal.of([p for p in self.lines if not p.line.is_hedge])

    @property
    def hedges(self) -> PnlTotal:
        """The hedge legs' total."""
        return PnlTotal.of([p for p in self.lines if p.line.is_hedge])

    @property
    def book(self) -> PnlTotal:
        """Every line's total."""
        return PnlTotal.of(list(self.lines))

    def as_dict(self) -> dict:
        """The explain as plain values for JSON: dates, lines, totals and conventions."""
        return {
            "asof": self.asof,
            "previous": self.previous,
            "days": (self.asof - self.previous).days,
            "quantities": "today's positions held over both closes",
            "lines": [
                {
                    "name": p.line.name,
                    "kind": p.line.kind,
                    "hedge": p.line.is_hedge,
                    "underlying": p.line.underlying,
                    "underlying_prev": p.underlying_prev,
                    "underlying_price": p.underlying,
                    "price_prev": p.price_prev,
                    "price": p.price,
                    "vol_prev": p.vol_prev,
                    "vol": p.line.vol,
                    "vol_source": p.line.vol_source or ("config" if p.line.vol else None),
                    "day": p.day,
                    "since_cost": p.since_cost,
                    "attribution": p.attribution(),
                }
                for p in self.lines
            ],
            "core": self.core.as_dict(),
            "hedges": self.hedges.as_dict(),
            "book": self.book.as_dict(),
        }


def previous_closes(
    cfg: DeskConfig, market: MarketData, state: MarketState, lines: list[Line]
) -> tuple[dt.date, dict[str, float]]:
    """The benchmark's session before the state's as-of date and each line's underlying close
    on it.

    Parameters
    ----------
    cfg : DeskConfig
        For the inverted underlyings (``1/T`` series are derived as valuation derives them).
    market : MarketData
        The loaded prices, up to and past the as-of date.
    state : MarketState
        The as-of date and benchmark.
    lines : list of Line
        The lines whose underlyings need a close.

    Returns
    -------
    tuple of (date, dict of str to float)
        The previous session and the closes on it, in each series' price unit (unscaled).

    Raises
    ------
    DataError
        When the as-of date is the benchmark's first session, or an underlying has no close
        on the previous session (never valued at an older close).
    """
    prev = market.session_before(state.benchmark, state.asof)
    if prev >= state.asof:
        raise DataError(
            state.benchmark,
            f"no session before {state.asof}: the day P&L needs the previous close",
        )
    market = add_inverses(market, cfg.inverted())
    day = np.datetime64(prev, "D")
    closes = {}
    for t in dict.fromkeys(ln.underlying for ln in lines):
        s = market.get(t)
        i = int(np.searchsorted(s.dates, day))
        if i >= len(s.dates) or s.dates[i] != day:
            raise DataError(
                t, f"no close on {prev}, the benchmark's session before {state.asof}: no day P&L"
            )
        closes[t] = float(s.close[i])
    return prev, closes


def explain_lines(
    lines: list[Line],
    state: MarketState,
    previous: dt.date,
    closes_prev: Mapping[str, float],
    vols_prev: Mapping[str, float] | None = None,
) -> PnlExplain:
    """Each line's day P&L from ``previous`` to ``state.asof`` and its attribution (see the
    module docstring).

    Parameters
    ----------
    lines : list of Line
        Today's positions (held over both closes); an option without a configured vol takes
        its vol from the state's surface (as valuation prices it), the same on both days.
    state : MarketState
        The as-of closes (a what-if shock included) and the option rate (annual, continuous).
    previous : date
        The previous session (before ``state.asof``; equal to it, an instantaneous move with
        no time passing, ``dt`` = 0).
    closes_prev : mapping of str to float
        Each underlying's close on ``previous``, in its price unit (unscaled).
    vols_prev : mapping of str to float, optional
        Option volatility at ``previous`` by line name (annual fraction), where the leg's
        volatility source changed over the day; others price both days at ``line.vol``.

    Returns
    -------
    PnlExplain
        Per line and in total, USD; each line's attribution sums to its day P&L.

    Raises
    ------
    DataError
        A line without a close on either day, or an option expired by the as-of date.
    """
    if previous > state.asof:
        raise DataError("previous", f"got {previous}: expected a date up to {state.asof}")
    vols_prev = vols_prev or {}
    dt_years = year_fraction(previous, state.asof)
    out = []
    for ln in priced_lines(lines, state):  # surface vols for legs without a configured vol
        for when, closes in ((state.asof, state.closes), (previous, closes_prev)):
            if ln.underlying not in closes:
                raise DataError(ln.name, f"no close of {ln.underlying} on {when}")
        u1 = ln.scale * state.closes[ln.underlying]
        u0 = ln.scale * closes_prev[ln.underlying]
        ds = u1 - u0
        q = ln.quantity * ln.multiplier
        vol0 = None
        gamma = vega = theta = 0.0
        if ln.kind == OPTION:
            if ln.vol is None:
                raise DataError(ln.name, "option has no implied volatility to price with")
            vol0 = float(vols_prev.get(ln.name, ln.vol))
            model = ln.model or "bsm"
            t1 = time_to_expiry(ln, state.asof)
            t0 = t1 + dt_years  # the expiry is as far from t-1 as from t, plus the day
            g0 = price_and_greeks(model, ln.right, u0, ln.strike, t0, state.rate, ln.div, vol0)
            g1 = price_and_greeks(model, ln.right, u1, ln.strike, t1, state.rate, ln.div, ln.vol)
            p0, p1 = float(g0.price), float(g1.price)
            delta = float(g0.delta) * ds * q
            gamma = 0.5 * float(g0.gamma) * ds * ds * q
            vega = float(g0.vega) * (ln.vol - vol0) * q if ln.vol != vol0 else 0.0
            theta = float(g0.theta) * dt_years * q
        else:
            p0, p1 = u0, u1
            delta = ds * q
        day = (p1 - p0) * q
        since = (u1 - ln.cost_basis) * ln.quantity if ln.cost_basis is not None else None
        out.append(
            PnlLine(
                line=ln,
                underlying_prev=u0,
                underlying=u1,
                price_prev=p0,
                price=p1,
                vol_prev=vol0,
                day=day,
                since_cost=since,
                delta=delta,
                gamma=gamma,
                vega=vega,
                theta=theta,
                unexplained=day - (delta + gamma + vega + theta),
            )
        )
    return PnlExplain(state.asof, previous, tuple(out))


def explain(
    cfg: DeskConfig, market: MarketData, state: MarketState, lines: list[Line]
) -> PnlExplain:
    """The day P&L of ``lines`` (the configured book or a what-if) at ``state``'s as-of date
    against the benchmark's previous session: :func:`previous_closes` then
    :func:`explain_lines`, volatilities unchanged.

    Parameters
    ----------
    cfg : DeskConfig
        The config the state was prepared from (its inverted underlyings).
    market : MarketData
        The loaded prices.
    state : MarketState
        As from :func:`~hedgedesk.core.book.valuation.market_state`, possibly shocked.
    lines : list of Line
        Today's positions.

    Returns
    -------
    PnlExplain
        Per line and in total, USD.
    """
    previous, closes = previous_closes(cfg, market, state, lines)
    return explain_lines(lines, state, previous, closes)

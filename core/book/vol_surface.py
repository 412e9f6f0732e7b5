"""Implied-volatility surfaces built from a quote date's option chain, per underlying and expiry.

How a surface is built (:func:`build_surface`), for each expiry quoted after the quote date:

- time ``T`` = calendar days from the quote date to the expiry / 365 (CONVENTIONS, "Options");
  an expiry quoted on its own expiry day has no time value and is skipped (counted);
- the forward ``F`` comes from put-call parity, ``F = K + exp(rT) (C - P)`` on mid prices,
  the median over the (up to) five strikes where the call and the put mids are closest; this
  carries the market's dividends. Without a call and put pair at one strike, ``F = S exp((r -
  q) T)`` from the chain's underlying price ``S`` and the stated dividend yield ``q``. ``r``
  is the continuously compounded rate (``[risk] rate``);
- each quote's implied vol is Black-76's on ``F`` for its mid ``(bid + ask) / 2``, only when
  ``bid > 0``, ``ask > 0`` and ``bid <= ask`` (zero-bid and crossed quotes are skipped and
  counted); out-of-the-money quotes are used (puts below the forward, calls at or above it),
  the other side is skipped; a mid outside the no-arbitrage bounds has no implied vol
  (skipped, counted);
- within an expiry the total variance ``w = sigma^2 T`` is linear in log-moneyness
  ``k = ln(K / F)`` between quoted strikes; beyond the lowest and highest quoted strikes the
  vol is flat (the wing's last quoted vol): never a linear extension of the wings;
- between two expiries, at a fixed strike, the total variance is linear in ``T``; before the
  first expiry and after the last the vol is flat in ``T`` (that expiry's vol at the strike).

A leg is read at its strike and its expiry date, with ``T`` measured from the chain's quote
date (sticky strike). Vols are annual fractions (0.2 = 20 %); prices per unit of the underlying.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from hedgedesk.core.book.options import VOL_BRACKET, black76, year_fraction
from hedgedesk.core.data.option_chains import OptionChain
from hedgedesk.core.errors import DataError

MAX_CHAIN_AGE_DAYS = 5  # calendar days a chain may be older than the book's as-of date
PARITY_STRIKES = 5  # strikes whose parity forwards are averaged (median)
BISECTION_STEPS = 100  # halvings of VOL_BRACKET: below 1e-15 of vol
GRID_MONEYNESS = (0.80, 0.90, 0.95, 1.00, 1.05, 1.10, 1.20)  # K / F columns of the printed grid
SKIP_REASONS = ("expired", "zero_bid", "crossed", "in_the_money", "no_implied_vol")


def black76_implied_vols(price, right, forward, strike, t, rate) -> np.ndarray:
    """Black-76 implied vols of many quotes at once, by bisection on [1e-6, 10].

    Parameters
    ----------
    price : array_like
        Premiums, currency per unit of the underlying.
    right : array_like of str
        ``"call"`` or ``"put"`` per quote.
    forward, strike : array_like
        Forward and strike, currency per unit (> 0).
    t : array_like
        Years to expiry (> 0).
    rate : float or array_like
        Continuously compounded annual rate as a fraction, for discounting.

    Returns
    -------
    ndarray
        Annualised vols as fractions; NaN where the price is outside the no-arbitrage bounds
        (at or below discounted intrinsic value, at or above the discounted forward or strike)
        or implies a vol outside the bracket.
    """
    p, f, k, tt, r = np.broadcast_arrays(
        *(np.asarray(x, dtype=np.float64) for x in (price, forward, strike, t, rate))
    )
    w = np.where(np.broadcast_to(np.asarray(right), p.shape) == "call", 1.0, -1.0)
    df = np.exp(-r * tt)
    lower = df * np.maximum(w * (f - k), 0.0)
    upper = np.where(w > 0, df * f, df * k)
    ok = (p > lower) & (p < upper)
    rights = np.where(w > 0, "call", "put")
    lo = np.full(p.shape, VOL_BRACKET[0])
    hi = np.full(p.shape, VOL_BRACKET[1])
    ok &= (black76(rights, f, k, tt, r, lo).price <= p) & (
        black76(rights, f, k, tt, r, hi).price >= p
    )
    for _ in range(BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        above = black76(rights, f, k, tt, r, mid).price > p
        hi = np.where(above, mid, hi)
        lo = np.where(above, lo, mid)
    return np.where(ok, 0.5 * (lo + hi), np.nan)


@dataclass(frozen=True)
class Smile:
    """One expiry's implied vols: the quotes used (out of the money), as arrays sorted by
    strike; ``k = ln(strike / forward)``, ``w = vol^2 t`` (total variance).
    """

    expiry: dt.date
    t: float  # years from the quote date
    forward: float  # currency per unit
    forward_source: str  # "put-call parity" | "spot"
    strikes: np.ndarray
    rights: np.ndarray
    bids: np.ndarray
    asks: np.ndarray
    vols: np.ndarray  # annual fractions

    @property
    def k(self) -> np.ndarray:
        """Log-moneyness ``ln(K / F)`` of the used strikes."""
        return np.log(self.strikes / self.forward)

    def vol(self, strike) -> np.ndarray:
        """Vol at ``strike`` (array_like): total variance linear in ``k`` between the quoted
        strikes, the wing's last vol beyond them.
        """
        k = np.log(np.asarray(strike, dtype=np.float64) / self.forward)
        w = np.interp(k, self.k, self.vols**2 * self.t)  # np.interp holds the end values flat
        return np.sqrt(w / self.t)


@dataclass(frozen=True)
class VolSurface:
    """The implied-vol surface of ``underlying`` quoted on ``quote_date`` (module docstring).

    ``counts`` holds ``quoted`` and ``used`` quotes and each skip reason in ``SKIP_REASONS``.
    """

    underlying: str
    quote_date: dt.date
    rate: float  # continuously compounded annual rate used for the forwards and discounting
    div_yield: float  # stated dividend yield, used only for a forward from the spot
    spot: float | None
    smiles: tuple[Smile, ...]
    counts: dict[str, int] = field(default_factory=dict)
    source: str = ""

    @property
    def label(self) -> str:
        """``"the SPXW chain quoted 2018-02-27"``: how a price note names the surface."""
        return f"the {self.underlying} chain quoted {self.quote_date}"

    def implied_dividend(self, expiry: dt.date) -> float | None:
        """The dividend yield the chain's forwards imply, ``q = r - ln(F / S) / T`` (annual
        fraction), linear in ``T`` between expiries and flat outside; None without a spot.

        A leg read from the surface takes it (unless it states its own), so that its forward
        ``S exp((r - q) T)`` at the book's close sits where the chain's parity forward does.
        """
        if self.spot is None:
            return None
        spot = self.spot
        ts = [s.t for s in self.smiles]
        qs = [self.rate - float(np.log(s.forward / spot)) / s.t for s in self.smiles]
        return float(np.interp(year_fraction(self.quote_date, expiry), ts, qs))

    def label_for(self, expiry: dt.date) -> str:
        """:attr:`label`, saying so when ``expiry`` is outside the quoted expiries (flat vol)."""
        first, last = self.smiles[0].expiry, self.smiles[-1].expiry
        if expiry > last:
            return f"{self.label}, flat beyond its last expiry {last}"
        if expiry < first:
            return f"{self.label}, flat before its first expiry {first}"
        return self.label

    def vol(self, strike: float, expiry: dt.date) -> float:
        """The surface vol at ``strike`` for ``expiry`` (annual fraction): between expiries the
        total variance at the strike is linear in ``T``, flat vol outside the expiry range.

        Parameters
        ----------
        strike : float
            Strike, currency per unit of the underlying.
        expiry : date
            The option's expiry; ``T`` is measured from the quote date.

        Returns
        -------
        float
            Annualised vol as a fraction.
        """
        t = year_fraction(self.quote_date, expiry)
        ts = [s.t for s in self.smiles]
        if t <= ts[0]:
            return float(self.smiles[0].vol(strike))
        if t >= ts[-1]:
            return float(self.smiles[-1].vol(strike))
        i = int(np.searchsorted(ts, t))
        a, b = self.smiles[i - 1], self.smiles[i]
        wa, wb = a.vol(strike) ** 2 * a.t, b.vol(strike) ** 2 * b.t
        w = wa + (wb - wa) * (t - a.t) / (b.t - a.t)
        return float(np.sqrt(w / t))

    def grid(self, moneyness: Sequence[float] = GRID_MONEYNESS) -> list[tuple[Smile, list[float]]]:
        """Each expiry's vols (annual fractions) at strikes ``m x F`` for ``m`` in
        ``moneyness`` (K / F, 1.0 = at the forward).
        """
        return [(s, [float(s.vol(m * s.forward)) for m in moneyness]) for s in self.smiles]


def _parity_forward(quotes, t: float, rate: float) -> float | None:
    calls = {q.strike: q.mid for q in quotes if q.right == "call" and _two_sided(q)}
    puts = {q.strike: q.mid for q in quotes if q.right == "put" and _two_sided(q)}
    both = sorted(set(calls) & set(puts), key=lambda k: abs(calls[k] - puts[k]))
    if not both:
        return None
    growth = np.exp(rate * t)
    fwd = [k + growth * (calls[k] - puts[k]) for k in both[:PARITY_STRIKES]]
    f = float(np.median(fwd))
    return f if f > 0 else None


def _two_sided(q) -> bool:
    return q.bid > 0 and q.ask > 0 and q.bid <= q.ask


def build_surface(chain: OptionChain, rate: float = 0.0, div_yield: float = 0.0) -> VolSurface:
    """The implied-vol surface of one quote date's chain (module docstring for every rule).

    Parameters
    ----------
    chain : OptionChain
        One underlying's quotes on one date (premiums per unit of the underlying).
    rate : float
        Continuously compounded annual rate as a fraction (0.02 = 2 %).
    div_yield : float
        Continuous annual dividend yield as a fraction, used only when an expiry has no call
        and put quoted at one strike (forward from the chain's spot).

    Returns
    -------
    VolSurface
        One smile per usable expiry, with the counts of quotes used and skipped.

    Raises
    ------
    DataError
        Naming the chain when no expiry has a usable quote (all expired, zero-bid or crossed),
        or when an expiry has no parity pair and the chain gives no underlying price.
    """
    where = f"{chain.source} ({chain.underlying} quoted {chain.quote_date})"
    counts = dict.fromkeys(("quoted", "used", *SKIP_REASONS), 0)
    counts["quoted"] = len(chain.quotes)
    smiles = []
    for expiry in chain.expiries:
        quotes = [q for q in chain.quotes if q.expiry == expiry]
        t = year_fraction(chain.quote_date, expiry)
        if t <= 0:
            counts["expired"] += len(quotes)
            continue
        fwd = _parity_forward(quotes, t, rate)
        source = "put-call parity"
        if fwd is None:
            if chain.spot is None:
                raise DataError(
                    where,
                    f"expiry {expiry}: no call and put quoted at one strike and no underlying "
                    "price to take the forward from (add an underlying_price column)",
                )
            fwd, source = chain.spot * float(np.exp((rate - div_yield) * t)), "spot"
        chosen = []
        for q in quotes:
            if q.bid <= 0 or q.ask <= 0:
                counts["zero_bid"] += 1
            elif q.bid > q.ask:
                counts["crossed"] += 1
            elif (q.right == "put") != (q.strike < fwd):
                counts["in_the_money"] += 1
            else:
                chosen.append(q)
        if not chosen:
            continue
        chosen.sort(key=lambda q: q.strike)
        strikes = np.array([q.strike for q in chosen])
        rights = np.array([q.right for q in chosen])
        bids = np.array([q.bid for q in chosen])
        asks = np.array([q.ask for q in chosen])
        vols = black76_implied_vols(0.5 * (bids + asks), rights, fwd, strikes, t, rate)
        good = np.isfinite(vols)
        counts["no_implied_vol"] += int((~good).sum())
        if not good.any():
            continue
        counts["used"] += int(good.sum())
        smiles.append(
            Smile(
                expiry,
                t,
                fwd,
                source,
                strikes[good],
                rights[good],
                bids[good],
                asks[good],
                vols[good],
            )
        )
    if not smiles:
        skipped = ", ".join(f"{counts[r]} {r.replace('_', ' ')}" for r in SKIP_REASONS if counts[r])
        raise DataError(where, f"no usable quote for a surface ({skipped})")
    return VolSurface(
        chain.underlying,
        chain.quote_date,
        rate,
        div_yield,
        chain.spot,
        tuple(smiles),
        counts,
        chain.source,
    )


@dataclass(frozen=True)
class RepriceCheck:
    """Each used quote repriced from its surface: how many land within their bid-ask spread,
    and the worst (largest distance from the mid, per unit of the underlying).

    ``left_out*``: the same for each interior quote priced from a smile without it (the
    strike interpolation between its two neighbours), a test of the interpolation rule.
    """

    quotes: int
    within: int
    worst_miss: float  # |model - mid| of the worst quote, currency per unit
    worst: str  # that quote, described
    seconds: float  # building the surfaces and repricing
    left_out: int = 0
    left_out_within: int = 0
    left_out_worst_miss: float = 0.0

    @property
    def share(self) -> float:
        """Quotes within their spread as a fraction of those repriced (NaN for none)."""
        return self.within / self.quotes if self.quotes else float("nan")


def reprice_check(surfaces: Sequence[VolSurface], seconds: float = 0.0) -> RepriceCheck:
    """Reprice every used quote with Black-76 at the surface vol for its strike and expiry
    (the smile's forward, the surface's rate) and compare with its bid and ask.

    Parameters
    ----------
    surfaces : sequence of VolSurface
        Built by :func:`build_surface`.
    seconds : float
        Time already spent building them, added to the check's own.

    Returns
    -------
    RepriceCheck
        Count of quotes, those with ``bid <= model <= ask``, the worst ``|model - mid|``.
    """
    start = time.perf_counter()
    n = within = 0
    worst_miss, worst = -1.0, ""
    for surf in surfaces:
        for s in surf.smiles:
            vols = np.array([surf.vol(float(k), s.expiry) for k in s.strikes])
            model = np.asarray(black76(s.rights, s.forward, s.strikes, s.t, surf.rate, vols).price)
            mid = 0.5 * (s.bids + s.asks)
            inside = (model >= s.bids) & (model <= s.asks)
            n += len(model)
            within += int(inside.sum())
            miss = np.abs(model - mid)
            i = int(np.argmax(miss))
            if miss[i] > worst_miss:
                worst_miss = float(miss[i])
                worst = (
                    f"{surf.underlying} {s.rights[i]} {s.strikes[i]:g} {s.expiry} quoted "
                    f"{surf.quote_date}: model {model[i]:.4f}, bid {s.bids[i]:g}, ask {s.asks[i]:g}"
                )
    lo_n = lo_within = 0
    lo_worst = 0.0
    for surf in surfaces:
        for s in surf.smiles:
            if len(s.strikes) < 3:
                continue
            k, w = s.k, s.vols**2 * s.t
            share = (k[1:-1] - k[:-2]) / (k[2:] - k[:-2])
            vols = np.sqrt((w[:-2] + share * (w[2:] - w[:-2])) / s.t)
            model = np.asarray(
                black76(s.rights[1:-1], s.forward, s.strikes[1:-1], s.t, surf.rate, vols).price
            )
            bids, asks = s.bids[1:-1], s.asks[1:-1]
            lo_n += len(model)
            lo_within += int(((model >= bids) & (model <= asks)).sum())
            lo_worst = max(lo_worst, float(np.abs(model - 0.5 * (bids + asks)).max()))
    return RepriceCheck(
        n,
        within,
        max(worst_miss, 0.0),
        worst,
        seconds + time.perf_counter() - start,
        lo_n,
        lo_within,
        lo_worst,
    )


def surface_for(
    chains: Sequence[OptionChain], underlying: str, asof: dt.date, max_age_days: int, rate: float
) -> VolSurface:
    """The surface of ``underlying`` for a book valued at ``asof``: from the chain quoted on
    ``asof``, else the latest quoted before it; never a chain quoted after ``asof``. A chain
    with no expiry after its quote date (all expiring that day) is passed over for the one
    before it; the chain used may be at most ``max_age_days`` older than ``asof``.

    Parameters
    ----------
    chains : sequence of OptionChain
        Every loaded chain (any underlying, any date).
    underlying : str
        The ticker the chains quote.
    asof : date
        The book's as-of date.
    max_age_days : int
        Calendar days a chain may be older than ``asof``.
    rate : float
        Continuously compounded annual rate as a fraction.

    Returns
    -------
    VolSurface
        Built by :func:`build_surface`.

    Raises
    ------
    DataError
        When no chain of ``underlying`` is quoted on or before ``asof``, or the latest is older
        than ``max_age_days`` (stale), or it has no usable quote.
    """
    dated = sorted(
        (c for c in chains if c.underlying == underlying and c.quote_date <= asof),
        key=lambda c: c.quote_date,
    )
    if not dated:
        raise DataError(underlying, f"no option chain quoted on or before the as-of date {asof}")
    # a chain whose every expiry is its own quote date (or earlier) prices nothing: the one before
    live = [c for c in dated if any(e > c.quote_date for e in c.expiries)]
    chain = live[-1] if live else dated[-1]
    age = (asof - chain.quote_date).days
    if age > max_age_days:
        raise DataError(
            underlying,
            f"the option chain quoted {chain.quote_date} is {age} days older than the as-of "
            f"date {asof} (at most {max_age_days}): stale, load a newer chain or set the "
            "leg's volatility",
        )
    return build_surface(chain, rate)


def book_surfaces(
    chains: Sequence[OptionChain],
    chain_tickers: Mapping[str, str],
    tickers: Sequence[str],
    asof: dt.date,
    rate: float,
) -> dict[str, VolSurface | str]:
    """The surface of each of ``tickers`` that a chain quotes, by ticker, or the reason it has
    none (stale, quoted only after ``asof``, no usable quote), for a leg to report.

    Parameters
    ----------
    chains : sequence of OptionChain
        Every loaded chain.
    chain_tickers : mapping of str to str
        A chain's underlying to the market ticker it prices (``[data] chain_tickers``); an
        underlying not listed prices the ticker of the same name.
    tickers : sequence of str
        The book's tickers.
    asof : date
        The book's as-of date.
    rate : float
        Continuously compounded annual rate as a fraction.

    Returns
    -------
    dict of str to VolSurface or str
        See :func:`surface_for` (``MAX_CHAIN_AGE_DAYS``).
    """
    out: dict[str, VolSurface | str] = {}
    for underlying in dict.fromkeys(c.underlying for c in chains):
        ticker = chain_tickers.get(underlying, underlying)
        if ticker not in tickers or ticker in out:
            continue
        try:
            out[ticker] = surface_for(chains, underlying, asof, MAX_CHAIN_AGE_DAYS, rate)
        except DataError as exc:
            out[ticker] = str(exc)
    return out

"""Book valuation at the as-of date: NAV, market value, notional, delta-adjusted notional, betas,
beta-dollars, option Greeks per position and in total, and the portfolio beta against its target.

Preparing the market (:func:`market_state`: closes, betas, the return history) is the slow part
and is done once; :func:`value_book` and :func:`revalue` are cheap, so a what-if edit re-values
at once. Units follow CONVENTIONS: Greeks are partial derivatives per unit of the underlying;
position Greeks multiply by quantity and contract multiplier; screen figures are named for
their units (``gamma_1pct_usd``, ``vega_1pt_usd``, ``theta_1d_usd``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from hedgedesk.core.beta import ols_beta
from hedgedesk.core.book.options import Greeks, price_and_greeks, year_fraction
from hedgedesk.core.book.vol_surface import VolSurface, book_surfaces
from hedgedesk.core.config import DeskConfig, HedgeLeg
from hedgedesk.core.data.market import MarketData
from hedgedesk.core.data.sources import load_option_chains
from hedgedesk.core.errors import ConfigError, DataError
from hedgedesk.core.instruments import CONTRACTS, EQUITY, FUTURE, FX, OPTION, add_inverses

MIN_SHOCKED_VOL = 0.01  # a vol shock never takes an option below 1 % implied volatility


@dataclass(frozen=True)
class Line:
    """One position of the book, holding or hedge leg, in the terms valuation needs."""

    name: str
    kind: str
    underlying: str
    quantity: float
    multiplier: float = 1.0
    scale: float = 1.0  # proxy: the priced underlying is scale x close(underlying)
    is_hedge: bool = False
    purpose: str = ""
    cost_basis: float | None = None
    right: str | None = None
    strike: float | None = None
    expiry: dt.date | None = None
    vol: float | None = None
    div: float = 0.0
    model: str | None = None
    contract: str | None = None
    vol_source: str = ""  # "the SPXW chain quoted 2018-02-27": vol read from a surface
    div_implied: bool = False  # ``div`` is the surface's implied dividend yield

    @classmethod
    def from_leg(cls, leg: HedgeLeg) -> Line:
        """A configured hedge leg as a line (``is_hedge`` True)."""
        return cls(
            name=leg.name,
            kind=leg.instrument,
            underlying=leg.series,
            quantity=leg.quantity,
            multiplier=leg.multiplier,
            scale=leg.price_scale,
            is_hedge=True,
            purpose=leg.purpose,
            right=leg.right,
            strike=leg.strike,
            expiry=leg.expiry,
            vol=leg.volatility,
            div=leg.dividend_yield,
            model=leg.model,
            contract=leg.contract,
        )

    def price_note(self) -> str:
        """How this line is priced, for the screen and JSON (proxies and modelled inputs)."""
        source = (
            f"{self.scale:g} x {self.underlying} close (proxy)"
            if self.scale != 1
            else f"{self.underlying} close"
        )
        if self.kind == FUTURE:
            spec = CONTRACTS.get(self.contract or "")
            unit = f" in {spec.quote}" if spec and spec.quote else ""
            return f"priced from {source}{unit}; proxy: no futures basis, no roll"
        if self.kind == FX:
            return f"spot FX: base amount x {source} (USD per unit), no carry"
        if self.kind == OPTION:
            model = "Black-76 on the future" if self.model == "black76" else "Black-Scholes-Merton"
            if self.vol_source and self.vol is not None:
                vol = f"vol {self.vol * 100:.1f} % from {self.vol_source}"
                div = (
                    f"; dividend yield {self.div * 100:.2f} % implied by its forwards"
                    if self.div_implied
                    else ""
                )
                return f"{model} on {source}; {vol} (surface){div}"
            return (
                f"{model} on {source}; implied vol {self.vol:.0%} from config "
                "(modelled, not a quote)"
            )
        return source


def book_lines(cfg: DeskConfig) -> list[Line]:
    """The configured book as lines: holdings first, then hedge legs."""
    lines = [
        Line(h.ticker, EQUITY, h.ticker, h.quantity, cost_basis=h.cost_basis)
        for h in cfg.book.holdings
    ]
    return lines + [Line.from_leg(leg) for leg in cfg.book.hedges]


@dataclass(frozen=True)
class MarketState:
    """What the book's risk needs from the market, prepared once per data load.

    ``returns``: daily simple returns of ``tickers`` (inner-joined, clipped to the config's
    range, ending at ``asof``), the last ``var_window`` of them; ``betas``: each ticker's OLS
    beta to the benchmark over its last ``beta_window`` returns.
    """

    asof: dt.date
    benchmark: str
    closes: Mapping[str, float]
    betas: Mapping[str, float]
    beta_window: int
    returns: pd.DataFrame
    rate: float
    periods: int  # per year: 365 when every series trades daily (crypto alone), else 252
    # correlation matrices computed from ``returns``, by tickers: a what-if edit of quantities
    # reuses them (shocked_state's copies share them: shocks leave the history as it was)
    _correlations: dict[tuple[str, ...], pd.DataFrame] = field(
        default_factory=dict, compare=False, repr=False
    )
    # implied-vol surface by ticker ([data] option_chains), or why that ticker's chain is unusable
    surfaces: Mapping[str, VolSurface | str] = field(default_factory=dict, compare=False)

    def correlation(self, tickers: list[str]) -> pd.DataFrame:
        """The correlation of ``tickers``' daily returns over the window, computed once.

        Parameters
        ----------
        tickers : list of str
            Columns of ``returns``, in the order of the matrix's rows and columns.

        Returns
        -------
        DataFrame, shape (n_tickers, n_tickers)
            Pearson correlations of the daily simple returns (shared: do not modify).
        """
        key = tuple(tickers)
        corr = self._correlations.get(key)
        if corr is None:
            corr = self._correlations[key] = self.returns[list(key)].corr()
        return corr


def _check_range(cfg: DeskConfig, market: MarketData) -> None:
    """Name the config's data.start or data.end when it leaves the benchmark no history."""
    s = market.get(cfg.data.benchmark)
    first, last = s.dates[0].astype(dt.date), s.dates[-1].astype(dt.date)
    where = str(cfg.path)
    if cfg.data.start and cfg.data.start > last:
        raise ConfigError(
            where,
            "data.start",
            f"got {cfg.data.start}, after the data's last date {last} "
            f"({cfg.data.benchmark}): expected an earlier start",
        )
    if cfg.data.end and cfg.data.end < first:
        raise ConfigError(
            where,
            "data.end",
            f"got {cfg.data.end}, before the data's first date {first} "
            f"({cfg.data.benchmark}): expected a later end",
        )


def market_state(cfg: DeskConfig, market: MarketData) -> MarketState:
    """Closes, betas and the return history the book's valuation and risk read, prepared once.

    The as-of date is the benchmark's last date in the config's range; every underlying must
    close on it (never valued at an older close). Inverted legs' series are derived first
    (:func:`hedgedesk.core.instruments.add_inverses`). Betas are OLS slopes (CONVENTIONS, "Beta")
    over each ticker's last ``risk.beta_window`` returns with the benchmark.

    Parameters
    ----------
    cfg : DeskConfig
        The book, the benchmark, the data range and the ``[risk]`` windows.
    market : MarketData
        Prices of the benchmark, every line's underlying and every proxy.

    Returns
    -------
    MarketState
        Closes in each series' price unit; betas (benchmark 1.0); daily simple returns,
        shape (var_window, n_tickers), inner-joined; the option rate (annual, continuous);
        periods per year.

    Raises
    ------
    DataError
        When a ticker has no close on the as-of date or the history is too short.
    """
    bench = cfg.data.benchmark
    tickers = list(_state_tickers(cfg))
    start, end = cfg.data.start, cfg.data.end
    # load_market adds these too; a market read from --data files or a leg inverted by a desk
    # edit never went through it (a series already there is kept)
    market = add_inverses(market, cfg.inverted())
    _check_range(cfg, market)
    bench_prices = market.aligned_prices([bench], start, end)
    asof = bench_prices.index[-1]
    closes = {}
    for t in tickers:
        s = market.get(t)
        i = np.searchsorted(s.dates, np.datetime64(asof.date(), "D"))
        if i >= len(s.dates) or s.dates[i] != np.datetime64(asof.date(), "D"):
            raise DataError(
                t,
                f"no close on the as-of date {asof.date()} (the benchmark's last "
                "date in range): never valued at an older close",
            )
        closes[t] = float(s.close[i])
    window = cfg.risk.beta_window
    betas = {}
    for t in tickers:
        if t == bench:
            betas[t] = 1.0
            continue
        r = market.returns([t, bench], start, asof.date(), min_returns=window).iloc[-window:]
        try:
            betas[t] = ols_beta(r[t].to_numpy(), r[bench].to_numpy()).beta
        except ValueError as exc:
            raise DataError(f"{t} vs {bench}", str(exc)) from None
    try:
        history = market.returns(tickers, start, asof.date(), min_returns=cfg.risk.var_window)
    except DataError as exc:
        raise DataError(
            "risk.var_window", f"{cfg.risk.var_window} days of history asked for: {exc.problem}"
        ) from None
    return MarketState(
        asof.date(),
        bench,
        closes,
        betas,
        window,
        history.iloc[-cfg.risk.var_window :],
        cfg.risk.rate,
        market.periods_per_year(tickers),
        surfaces=book_surfaces(
            load_option_chains(cfg, asof.date()),
            cfg.data.chain_tickers,
            tickers,
            asof.date(),
            cfg.risk.rate,
        ),
    )


def _state_tickers(cfg: DeskConfig) -> tuple[str, ...]:
    """The benchmark, every line's underlying and every proxy's, once each, in that order."""
    lines = book_lines(cfg)
    proxied = [p.series for p in cfg.proxies.values()]
    return tuple(dict.fromkeys([cfg.data.benchmark, *(ln.underlying for ln in lines), *proxied]))


def state_key(cfg: DeskConfig) -> tuple:
    """Everything :func:`market_state` reads from ``cfg``: on the same market, two configs with
    equal keys get equal states, so a desk keeps one state across edits that change only
    quantities, strikes or other terms (a new ticker, another date range or window does not).
    """
    d, r = cfg.data, cfg.risk
    chains = (d.option_chains, tuple(sorted(d.chain_tickers.items())))
    return (_state_tickers(cfg), d.start, d.end, r.beta_window, r.var_window, r.rate, chains)


@dataclass(frozen=True)
class Position:
    """A valued line. Money in the book's currency; Greeks raw (CONVENTIONS) unless named."""

    line: Line
    underlying_price: float  # the priced underlying: scale x close (a future's price, a forward)
    unit_price: float  # per unit: share price, futures price, option premium per underlying unit
    market_value: float  # futures 0 (settled daily)
    notional: float  # quantity x multiplier x underlying price
    delta: float  # per unit: 1 for linear lines, the option's dV/dS
    dollar_delta: float  # delta-adjusted notional
    beta: float  # of the underlying to the benchmark
    beta_dollars: float
    weight: float  # market value / NAV
    exposure: float  # dollar delta / NAV
    pnl: float | None  # against cost basis, holdings only
    greeks: Mapping[str, float] = field(default_factory=dict)  # position partials (options)
    gamma_1pct_usd: float = 0.0  # change of dollar delta for a +1 % move of the underlying
    vega_1pt_usd: float = 0.0  # value change for +1 vol point
    theta_1d_usd: float = 0.0  # value change over one calendar day
    rho_1pct_usd: float = 0.0  # value change for +1 % in the rate


@dataclass(frozen=True)
class BetaStatus:
    """The book's beta against its target band ``target ± band`` (NaN target: no band)."""

    beta: float
    target: float
    band: float

    @property
    def deviation(self) -> float:
        """Beta minus target."""
        return self.beta - self.target

    @property
    def breach(self) -> bool:
        """Whether beta is outside the band."""
        return abs(self.deviation) > self.band

    def describe(self) -> str:
        """The status in words, with an arrow and BREACH when outside the band."""
        if not self.breach:
            return f"within band ({self.target:.2f} ± {self.band:.2f})"
        arrow, side = ("↑", "above") if self.deviation > 0 else ("↓", "below")
        return f"BREACH {arrow} {self.beta:.2f} is {side} {self.target:.2f} ± {self.band:.2f}"


@dataclass(frozen=True)
class Valuation:
    """The valued book at ``asof``: cash and positions in USD, and its beta against target."""

    asof: dt.date
    benchmark: str
    cash: float
    positions: tuple[Position, ...]
    beta_status: BetaStatus
    beta_window: int

    @property
    def nav(self) -> float:
        """Cash plus the positions' market values, USD (futures add 0: settled daily)."""
        return self.cash + sum(p.market_value for p in self.positions)

    @property
    def portfolio_beta(self) -> float:
        """Sum of beta-dollars / NAV (CONVENTIONS, "Beta")."""
        return self.beta_status.beta

    def total(self, name: str) -> float:
        """A :class:`Position` field summed over the positions (e.g. ``"dollar_delta"``)."""
        return float(sum(getattr(p, name) for p in self.positions))


def log_moneyness(line: Line, u0: float, t: float, rate: float) -> float:
    """``k = ln(K / F)`` of an option line, ``F`` its forward at the unshocked price ``u0``:
    ``u0 exp((r - q) t)`` (Black-Scholes-Merton) or ``u0`` itself (Black-76, a futures price).
    """
    carry = 0.0 if line.model == "black76" else (rate - line.div) * t
    return float(np.log(float(line.strike or np.nan) / u0) - carry)


def shocked_vol(vol: float, parallel: float = 0.0, skew: float = 0.0, k: float = 0.0) -> float:
    """A vol after a surface shock: ``vol + parallel + skew x k``, floored at
    ``MIN_SHOCKED_VOL`` (shocked vols only: an unshocked vol is returned as it is).

    Parameters
    ----------
    vol : float
        The unshocked vol, annual fraction.
    parallel : float
        Vol added at every strike, annual fraction (0.05 = 5 vol points).
    skew : float
        Vol added per unit of log-moneyness, annual fraction (-0.5: +5.3 points at k = -0.105).
    k : float
        The option's log-moneyness ``ln(K / F)``.

    Returns
    -------
    float
        Annualised vol as a fraction.
    """
    if not parallel and not skew:
        return vol
    return max(vol + parallel + skew * k, MIN_SHOCKED_VOL)


def priced_lines(lines: list[Line], state: MarketState) -> list[Line]:
    """``lines`` with every option that has no configured vol given its surface vol (strike,
    expiry) and ``vol_source``; a configured vol is an override and is kept. A Black-Scholes-
    Merton leg read from a surface with a zero (default) dividend yield takes the yield the
    chain's forwards imply (:meth:`VolSurface.implied_dividend`), so it prices on the chain's
    forward. DataError naming the line when no usable surface covers its underlying.
    """
    out = []
    for ln in lines:
        if ln.kind == OPTION and ln.vol is None:
            surf = state.surfaces.get(ln.underlying)
            if surf is None:
                raise DataError(
                    ln.name,
                    f"no implied volatility: set the leg's volatility (modelled) or load an "
                    f"option chain of {ln.underlying} ([data] option_chains)",
                )
            if isinstance(surf, str):
                raise DataError(ln.name, f"no surface vol for {ln.underlying}: {surf}")
            if ln.strike is None or ln.expiry is None:
                raise DataError(ln.name, "option has no strike or expiry to read the surface at")
            expiry = ln.expiry
            ln = replace(ln, vol=surf.vol(ln.strike, expiry), vol_source=surf.label_for(expiry))
            q = surf.implied_dividend(expiry)
            if ln.div == 0 and ln.model != "black76" and q is not None:
                ln = replace(ln, div=q, div_implied=True)
        out.append(ln)
    return out


def _option_greeks(
    line: Line,
    u: np.ndarray | float,
    t: float,
    rate: float,
    vol_shift: float,
    skew: float = 0.0,
    k: float = 0.0,
) -> Greeks:
    if line.vol is None:
        raise DataError(line.name, "option has no implied volatility to price with")
    # the floor applies to shocked vols only: unshocked, value at the vol the history uses
    vol = shocked_vol(line.vol, vol_shift, skew, k)
    return price_and_greeks(line.model or "bsm", line.right, u, line.strike, t, rate, line.div, vol)


def time_to_expiry(line: Line, asof: dt.date) -> float:
    """Years from ``asof`` to the option line's expiry, calendar days / 365 (CONVENTIONS,
    "Options"); DataError naming the line when it has expired or has no expiry.
    """
    if line.expiry is None:
        raise DataError(line.name, "option has no expiry date")
    if line.expiry <= asof:
        raise DataError(
            line.name, f"option expired on {line.expiry} (as of {asof}); remove or roll the leg"
        )
    return year_fraction(asof, line.expiry)


def value_lines(
    lines: list[Line],
    state: MarketState,
    cash: float,
    shocks: Mapping[str, float] | None = None,
    vol_shift: float = 0.0,
    targets: tuple[float, float] = (np.nan, np.nan),
    skew: float = 0.0,
) -> Valuation:
    """Value ``lines`` at the as-of closes, each underlying moved by ``shocks[ticker]`` and
    option vols shifted by ``vol_shift``.

    Unshocked, a NAV <= 0 is an error (weights and beta need NAV > 0); after a shock it is a
    result: a wiped-out book, with weights and beta NaN. Options are priced in full
    (CONVENTIONS, "Options"); dollar Greeks follow its "Dollar Greeks" rules.

    Parameters
    ----------
    lines : list of Line
        The positions to value.
    state : MarketState
        As-of closes, betas and the option rate.
    cash : float
        Cash in USD.
    shocks : mapping of str to float, optional
        Simple return applied to each underlying's close (-0.1 = -10 %); others unmoved.
    vol_shift : float
        Added to every option's implied volatility (annual fraction; 0.05 = 5 vol points),
        floored at ``MIN_SHOCKED_VOL``.
    targets : tuple of float
        (target beta, band) for the beta status; NaN for none.
    skew : float
        Vol added per unit of log-moneyness ``k = ln(K / F)`` at the unshocked forward
        (:func:`shocked_vol`), with ``vol_shift`` and the same floor.

    Returns
    -------
    Valuation
        Positions in USD (market value, notional, dollar delta, beta-dollars), weights and
        exposures as fractions of NAV, and the portfolio beta.

    Raises
    ------
    DataError
        A line's underlying without a close, an expired option, or NAV <= 0 unshocked.
    """
    shocks = shocks or {}
    unweighted = []  # weight and exposure need the NAV, known once every line is valued
    for ln in priced_lines(lines, state):
        if ln.underlying not in state.closes:
            raise DataError(ln.name, f"no price for {ln.underlying}: it is not in the market data")
        u = ln.scale * state.closes[ln.underlying] * (1.0 + shocks.get(ln.underlying, 0.0))
        q = ln.quantity * ln.multiplier
        greeks: dict[str, float] = {}
        gamma_1pct = vega_1pt = theta_1d = rho_1pct = 0.0
        if ln.kind == OPTION:
            t = time_to_expiry(ln, state.asof)
            u0 = ln.scale * state.closes[ln.underlying]
            k = log_moneyness(ln, u0, t, state.rate) if skew else 0.0
            g = _option_greeks(ln, u, t, state.rate, vol_shift, skew, k)
            unit, delta = float(g.price), float(g.delta)
            greeks = {
                k: float(getattr(g, k)) * q for k in ("delta", "gamma", "vega", "theta", "rho")
            }
            gamma_1pct = greeks["gamma"] * u * u * 0.01
            vega_1pt = greeks["vega"] * 0.01
            theta_1d = greeks["theta"] / 365.0
            rho_1pct = greeks["rho"] * 0.01
            mv = q * unit
        else:
            unit, delta = u, 1.0
            mv = 0.0 if ln.kind == FUTURE else q * u
        dollar_delta = q * delta * u
        beta = state.betas[ln.underlying]
        pnl = (u - ln.cost_basis) * ln.quantity if ln.cost_basis else None
        unweighted.append(
            Position(
                line=ln,
                underlying_price=u,
                unit_price=unit,
                market_value=mv,
                notional=q * u,
                delta=delta,
                dollar_delta=dollar_delta,
                beta=beta,
                beta_dollars=dollar_delta * beta,
                weight=np.nan,
                exposure=np.nan,
                pnl=pnl,
                greeks=greeks,
                gamma_1pct_usd=gamma_1pct,
                vega_1pt_usd=vega_1pt,
                theta_1d_usd=theta_1d,
                rho_1pct_usd=rho_1pct,
            )
        )
    nav = cash + sum(p.market_value for p in unweighted)
    if nav <= 0 and not shocks and not vol_shift and not skew:
        raise DataError("book", f"NAV is {nav:,.0f}: weights and portfolio beta need NAV > 0")
    per_nav = 1.0 / nav if nav > 0 else np.nan
    positions = tuple(
        replace(p, weight=p.market_value * per_nav, exposure=p.dollar_delta * per_nav)
        for p in unweighted
    )
    beta = sum(p.beta_dollars for p in positions) * per_nav
    return Valuation(
        state.asof, state.benchmark, cash, positions, BetaStatus(beta, *targets), state.beta_window
    )


def value_book(cfg: DeskConfig, state: MarketState, lines: list[Line] | None = None) -> Valuation:
    """The configured book (or ``lines``) valued with the config's cash and beta target band;
    see :func:`value_lines`.
    """
    return value_lines(
        book_lines(cfg) if lines is None else lines,
        state,
        cfg.book.cash,
        targets=(cfg.targets.beta, cfg.targets.beta_band),
    )


def contract_price(code: str, cfg: DeskConfig, state: MarketState) -> tuple[float, str, float]:
    """(price, underlying ticker, beta) of a futures contract: from a book leg trading it, else
    from ``[proxies]``; DataError naming what to add otherwise.

    The price is ``scale x close(underlying)`` in index points (or the contract's price unit);
    the beta is the underlying's to the benchmark. No futures basis is modelled.
    """
    for leg in cfg.book.hedges:
        if leg.contract == code:
            ticker = leg.series
            return (leg.price_scale * state.closes[ticker], ticker, state.betas[ticker])
    proxy = cfg.proxies.get(code)
    if proxy is None or proxy.series not in state.closes:
        spec = CONTRACTS.get(code)
        name = f"{code} ({spec.name})" if spec else code
        raise DataError(
            name,
            f'no price: add [proxies] {code} = {{ underlying = "TICKER", '
            "scale = 1.0 } to the config",
        )
    return (proxy.scale * state.closes[proxy.series], proxy.series, state.betas[proxy.series])


def shocked_state(state: MarketState, shocks: Mapping[str, float]) -> MarketState:
    """The as-of closes moved by what-if shocks: a ticker by its own shock, else by its beta
    times the ``"market"`` shock (the benchmark by the market shock itself). The history is
    unchanged: VaR and drawdown stay those of today's positions over the past window.

    Parameters
    ----------
    state : MarketState
        The state to move.
    shocks : mapping of str to float
        Simple returns as fractions (-0.1 = -10 %) by ticker, or under ``"market"``.

    Returns
    -------
    MarketState
        ``state`` itself when there are no shocks, else a copy with the moved closes.
    """
    if not shocks:
        return state
    market = shocks.get("market", 0.0)
    closes = {
        t: c
        * (
            1.0
            + shocks.get(t, market if t == state.benchmark else state.betas.get(t, 1.0) * market)
        )
        for t, c in state.closes.items()
    }
    return replace(state, closes=closes)

"""Named shocks and historical replays applied jointly to the book, options repriced in full.

Each underlying moves by its own shock if the scenario lists it, else by its beta times the
scenario's market shock; a replay moves each by its actual return between two dates. Option
volatilities move by the scenario's ``vol`` plus ``skew`` times each option's log-moneyness
``ln(K / F)`` (the surface shifted and tilted; floored at 1 %); time does not pass. Futures
settle their P&L in cash, so the NAV after a shock includes it. Each result also answers "what
does this hedge leg buy me here?": the same scenario with that leg removed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from hedgedesk.core.book.valuation import (
    Line,
    MarketState,
    Valuation,
    book_lines,
    priced_lines,
    value_lines,
)
from hedgedesk.core.config import DeskConfig, Scenario
from hedgedesk.core.data.market import MarketData
from hedgedesk.core.errors import DataError
from hedgedesk.core.instruments import FUTURE


@dataclass(frozen=True)
class WithoutLeg:
    """The same scenario on the book less one hedge leg: its P&L (USD) and valuation after."""

    pnl: float
    after: Valuation  # the book without the leg, after the shock (beta, Greeks)

    @property
    def beta_after(self) -> float:
        """Portfolio beta after the shock, without the leg."""
        return self.after.portfolio_beta


@dataclass(frozen=True)
class ScenarioResult:
    """A scenario applied to the book: NAV before (USD), P&L in total and by line (USD), the
    valuation after, and the same without each hedge leg.
    """

    scenario: Scenario
    shocks: Mapping[str, float]  # simple return applied to each underlying
    nav_before: float
    pnl: float
    line_pnl: Mapping[str, float]  # by line name
    after: Valuation
    without: Mapping[str, WithoutLeg]  # by hedge leg name
    replay_dates: tuple[dt.date, dt.date] | None = None  # first and last dates a replay used

    @property
    def pnl_pct(self) -> float:
        """P&L as a fraction of the NAV before (-0.1 = -10 %)."""
        return self.pnl / self.nav_before

    def leg_value(self, name: str) -> float:
        """P&L the leg adds in this scenario (the book's P&L less the P&L without it)."""
        return self.pnl - self.without[name].pnl


class ScenarioError(DataError):
    """A scenario that cannot be applied (its shocks or its replay); the book itself is fine."""


@dataclass(frozen=True)
class ScenarioFailure:
    """A scenario that could not be applied (a shock of -100 % or worse, a replay without
    data): the others still are; ``error`` says why, naming the scenario.
    """

    scenario: Scenario
    error: str


REPLAY_SLACK_DAYS = 7  # a replay may start or end this many calendar days inside its dates


def replay_shocks(
    market: MarketData, tickers: list[str], start: dt.date, end: dt.date
) -> tuple[dict[str, float], tuple[dt.date, dt.date]]:
    """Each ticker's return from the first to the last date they all have in [start, end];
    DataError when the data stops well short of either date (never a silent shorter replay).

    Parameters
    ----------
    market : MarketData
        Prices of ``tickers``.
    tickers : list of str
        The underlyings to move.
    start, end : date
        The replay's dates; the data may start or end up to ``REPLAY_SLACK_DAYS`` calendar
        days inside them.

    Returns
    -------
    shocks : dict of str to float
        Each ticker's simple return over the replay as a fraction (-0.3 = -30 %).
    dates : tuple of date
        The first and last common dates used.
    """
    prices = market.aligned_prices(tickers, start, end)
    first, last = prices.index[0].date(), prices.index[-1].date()
    if (first - start).days > REPLAY_SLACK_DAYS or (end - last).days > REPLAY_SLACK_DAYS:
        raise DataError(
            ",".join(tickers), f"the data covers only {first}..{last} of the replay {start}..{end}"
        )
    return (
        {t: float(prices[t].iloc[-1] / prices[t].iloc[0] - 1.0) for t in tickers},
        (first, last),
    )


def scenario_shocks(
    s: Scenario, state: MarketState, tickers: list[str], market: MarketData | None = None
) -> tuple[dict[str, float], tuple[dt.date, dt.date] | None]:
    """The simple return applied to each ticker (its own shock, else beta x the market shock,
    or its replayed return), and for a replay the dates it spans (else None).
    """
    if s.replay:
        if market is None:
            raise DataError(s.name, "a replay needs the market data")
        try:
            return replay_shocks(market, tickers, *s.replay)
        except DataError as exc:
            raise ScenarioError(
                f"scenario {s.name!r}", f"cannot replay {s.replay[0]}..{s.replay[1]}: {exc}"
            ) from None
    own = dict(s.shocks)
    return {t: own.get(t, state.betas[t] * s.market) for t in tickers}, None


def _shocked(
    lines: list[Line], state: MarketState, cash: float, shocks, vol: float, targets, skew=0.0
) -> tuple[Valuation, dict[str, float], Valuation]:
    """The valuation before and after the shocks, and each line's P&L (USD)."""
    before = value_lines(lines, state, cash, targets=targets)
    futures_pnl = {}
    for p in before.positions:
        if p.line.kind == FUTURE:
            futures_pnl[p.line.name] = p.notional * shocks[p.line.underlying]
    after = value_lines(
        lines, state, cash + sum(futures_pnl.values()), shocks, vol, targets, skew=skew
    )
    line_pnl = {
        b.line.name: futures_pnl.get(b.line.name, a.market_value - b.market_value)
        for b, a in zip(before.positions, after.positions, strict=True)
    }
    return before, line_pnl, after


def run_scenario(
    cfg: DeskConfig,
    state: MarketState,
    s: Scenario,
    market: MarketData | None = None,
    lines: list[Line] | None = None,
) -> ScenarioResult:
    """Apply scenario ``s`` to the book (or ``lines``): every underlying shocked at once,
    options repriced in full with the scenario's vol shift, futures P&L settled in cash.

    Parameters
    ----------
    cfg : DeskConfig
        The book, its cash (USD) and beta target.
    state : MarketState
        As-of closes and betas.
    s : Scenario
        Shocks as simple returns (-0.2 = -20 %), or a replay between two dates.
    market : MarketData, optional
        Needed for a replay.
    lines : list of Line, optional
        Positions to use instead of the configured book.

    Returns
    -------
    ScenarioResult
        NAV before, P&L (USD) in total, by line and without each hedge leg.

    Raises
    ------
    DataError
        A replay without data, or a shock of -100 % or worse.
    """
    lines = book_lines(cfg) if lines is None else lines
    targets = (cfg.targets.beta, cfg.targets.beta_band)
    tickers = list(dict.fromkeys(ln.underlying for ln in lines))
    shocks, replay_dates = scenario_shocks(s, state, tickers, market)
    if any(v <= -1.0 for v in shocks.values()):
        raise ScenarioError(f"scenario {s.name!r}", "a shock of -100 % or worse leaves no price")
    # surface vols read once here, not again in each valuation below (priced lines are kept)
    lines = priced_lines(lines, state)
    before, line_pnl, after = _shocked(lines, state, cfg.book.cash, shocks, s.vol, targets, s.skew)
    without = {}
    for ln in lines:
        if ln.is_hedge:
            rest = [x for x in lines if x is not ln]
            b, _, a = _shocked(rest, state, cfg.book.cash, shocks, s.vol, targets, s.skew)
            without[ln.name] = WithoutLeg(a.nav - b.nav, a)
    pnl = after.nav - before.nav
    return ScenarioResult(s, shocks, before.nav, pnl, line_pnl, after, without, replay_dates)


def run_scenarios(
    cfg: DeskConfig,
    state: MarketState,
    market: MarketData | None = None,
    names: list[str] | None = None,
) -> list[ScenarioResult | ScenarioFailure]:
    """:func:`run_scenario` for each configured scenario, or those ``names`` chooses (in the
    config's order); one that cannot be applied is a :class:`ScenarioFailure` in its place.
    DataError naming a scenario the config lacks.
    """
    chosen = [s for s in cfg.scenarios if names is None or s.name in names]
    twice = sorted({n for n in names or () if list(names or ()).count(n) > 1})
    if twice:
        raise DataError(f"scenario {twice[0]!r}", "named twice: expected each name once")
    if names:
        missing = set(names) - {s.name for s in chosen}
        if missing:
            known = ", ".join(repr(s.name) for s in cfg.scenarios)
            raise DataError(f"scenario {sorted(missing)[0]!r}", f"not in the config ({known})")
    out: list[ScenarioResult | ScenarioFailure] = []
    for s in chosen:
        try:
            out.append(run_scenario(cfg, state, s, market))
        except ScenarioError as exc:  # this scenario only: the others are still worth seeing
            out.append(ScenarioFailure(s, str(exc)))
    return out

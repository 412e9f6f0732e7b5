"""The trade ticket: three groups of proposed trades for the current (what-if) book, each with
its contracts or shares, notional, and the book's beta and 1-day historical VaR 95 % after that
trade alone, and the book edit that applies it.

Groups:

- ``targets``: :func:`hedgedesk.core.book.trades.plan_trades`' list (beta futures, protective
  puts, covered calls, ``[plan]`` sleeves).
- ``to weights``: the share trades that take the holdings to an optimiser's weights, as
  fractions of the holdings' value (the optimiser's own ``current`` weights are of that value);
  shares rounded half away from zero; tickers not held are bought, held ones not in the
  weights (or at weight 0) sold in full.
- ``beta band``: the fewest ``targets.hedge_future`` contracts that bring the book's beta
  (option deltas included, as the desk shows it) inside ``target ± band``, aiming at the
  nearest band edge: ``N = (edge - beta) x NAV / (price x multiplier x beta_of_future)``
  rounded away from zero. When no whole contract lands in the band, its micro contract (ES ->
  MES, ...) is tried; when neither does, the contract count nearest the target is proposed and
  flagged. None when beta is inside the band.

"After" figures value the book with that one trade applied as the desk applies it: quantities
change, cash does not (the what-if book has no cash edit). VaR is computed as
:func:`hedgedesk.core.book.risk.risk_report` computes it: the day P&L of today's positions over
the ``[risk]`` window with full option revaluation, over today's NAV.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hedgedesk.core.atomic import write_atomic
from hedgedesk.core.book.risk import pnl_history
from hedgedesk.core.book.sizing import round_half_away
from hedgedesk.core.book.trades import Trade, plan_trades, scaled_lines
from hedgedesk.core.book.valuation import (
    Line,
    MarketState,
    contract_price,
    shocked_state,
    value_lines,
)
from hedgedesk.core.config import Book, DeskConfig, HedgeLeg, Holding
from hedgedesk.core.errors import DataError, HedgedeskError
from hedgedesk.core.files import read_regular
from hedgedesk.core.instruments import CONTRACTS, EQUITY, FUTURE, OPTION, OPTION_MULTIPLIER
from hedgedesk.core.metrics import historical_var

if TYPE_CHECKING:
    from hedgedesk.core.book.edit import BookEditor
    from hedgedesk.core.data.market import MarketData

TARGETS, TO_WEIGHTS, BETA_BAND = "targets", "to weights", "beta band"
GROUPS = (TARGETS, TO_WEIGHTS, BETA_BAND)
CSV_HEADER = (
    "group",
    "instrument",
    "side",
    "quantity",
    "unit",
    "notional_usd",
    "beta_after",
    "var95_after",
    "purpose",
)
VAR_CONFIDENCE = 0.95
# the micro contract the band group falls back to when no whole standard contract lands in it
MICRO = {"ES": "MES", "NQ": "MNQ", "CL": "MCL", "BTC": "MBT", "ETH": "MET"}
OPTION_TENOR_MONTHS = 3  # a new option leg expires on the third Friday this many months out
WEIGHTS_MAX_BYTES = 1024 * 1024  # a weights JSON file
MAX_ABS_WEIGHT = 10.0  # of the holdings' value: larger is a typo, not a weight

CONVENTIONS = (
    "each trade's beta and VaR after are the book's with that trade alone applied as the desk "
    "applies it (quantities change, cash does not); beta = sum of beta-dollars / NAV, option "
    "deltas included; VaR = 1-day historical VaR 95 % of today's positions over the [risk] "
    "window (full option revaluation), a positive fraction of NAV; notional_usd = |quantity| "
    "x multiplier x underlying price (options: not delta-adjusted); targets: the plan's trade "
    "list; to weights: shares = round half away from zero(weight x holdings' value / close), "
    "weights as fractions of the holdings' value, tickers not in the weights sold in full; "
    "beta band: N = (nearest band edge - beta) x NAV / (price x multiplier x beta of the "
    "future), rounded away from zero (the fewest contracts into the band), the micro contract "
    "when no whole standard one lands in it; a new option leg: strike at the close (to the "
    "cent), expiry the third Friday 3 months out, volatility the underlying's realised "
    "volatility over the window (modelled, not a quote), unless the book holds a leg with the "
    "same underlying and right (its terms are used)"
)

StateOf = Callable[[DeskConfig], MarketState]


@dataclass(frozen=True)
class BookEdit:
    """One :class:`~hedgedesk.core.book.edit.BookEditor` step that applies a trade.

    ``op`` is ``"set_quantity"`` or ``"delete"`` on the ``index``-th row of ``kind``
    (``"holding"`` or ``"hedge"``), which must still be ``name`` with quantity ``was``; or
    ``"add_holding"`` (``name`` the ticker, ``quantity`` shares) or ``"add_hedge"`` (``leg``).
    """

    op: str
    kind: str
    name: str
    index: int | None = None
    was: float | None = None  # the row's quantity the trade was computed on
    quantity: float | None = None  # the new quantity (set_quantity) or shares (add_holding)
    leg: HedgeLeg | None = None  # add_hedge

    @property
    def delta(self) -> float:
        """The change of the row's quantity (set_quantity and delete; 0 for additions)."""
        if self.was is None:
            return 0.0
        return (self.quantity or 0.0) - self.was if self.op == "set_quantity" else -self.was

    def check(self, book: Book) -> None:
        """HedgedeskError unless ``book``'s row at ``index`` is still ``name`` at ``was``."""
        if self.index is None:
            return
        rows: tuple[Any, ...] = book.holdings if self.kind == "holding" else book.hedges
        row = rows[self.index] if 0 <= self.index < len(rows) else None
        label = None if row is None else getattr(row, "ticker", None) or row.name
        if row is None or label != self.name or row.quantity != self.was:
            raise HedgedeskError(
                f"{self.kind} {self.name!r} changed since the ticket was made "
                "(or the trade is applied already): make the ticket again"
            )

    def apply(self, editor: BookEditor) -> DeskConfig:
        """Apply the edit to ``editor``'s book as one undoable step.

        Raises HedgedeskError when the row it was computed on has changed (the ticket is
        stale: make it again), or the loader's message when the edited book does not load.
        """
        index = self.index
        if index is not None:
            self.check(editor.config.book)
            if self.op == "set_quantity":
                return editor.set_field(self.kind, index, "quantity", _number(self.quantity))
            if self.op == "delete":
                return editor.delete(self.kind, index)
        if self.op == "add_holding":
            return editor.add_holding(self.name, _number(self.quantity))
        if self.op == "add_hedge" and self.leg is not None:
            return editor.add_hedge(leg_keys(self.leg))
        raise HedgedeskError(f"unknown book edit {self.op!r}")

    def describe(self) -> str:
        """The edit in words, e.g. ``hedge 'ES short' quantity -2 -> -3``."""
        if self.op == "set_quantity":
            return f"{self.kind} {self.name!r} quantity {_fmt(self.was)} -> {_fmt(self.quantity)}"
        if self.op == "delete":
            return f"delete {self.kind} {self.name!r} (quantity {_fmt(self.was)})"
        if self.op == "add_holding":
            return f"add holding {self.name} quantity {_fmt(self.quantity)}"
        leg = self.leg
        assert leg is not None
        return f"add hedge {leg.name!r} ({leg.instrument} on {leg.underlying}, {leg.quantity:+g})"


@dataclass(frozen=True)
class TicketTrade:
    """One proposed trade: whole contracts or shares, the USD notional traded, and the book's
    beta, 1-day historical VaR 95 % (positive fraction of NAV) and NAV (USD) after it alone.
    """

    group: str  # one of GROUPS
    instrument: str
    side: str  # buy | sell
    quantity: int  # contracts or shares, > 0
    unit: str  # contracts | shares
    notional_usd: float  # |quantity| x multiplier x underlying price
    beta_after: float
    var95_after: float
    nav_after: float
    purpose: str
    edit: BookEdit
    inputs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Ticket:
    """The three groups of trades for one book, its figures before, and what was left out."""

    asof: dt.date
    nav: float  # USD, the book's (scaled to --nav when ``scaled``)
    beta_before: float
    var95_before: float
    beta_target: float
    beta_band: float
    trades: tuple[TicketTrade, ...]
    notes: tuple[str, ...]  # legs skipped, weights not given, a band no contract lands in
    weights_source: str  # where the "to weights" group's weights came from ("" when none)
    scaled: bool = False  # sized for another NAV: the edits are not for the configured book
    holdings_value: float = math.nan  # USD, what the weights are fractions of
    # by group: (beta, VaR 95, NAV) after all its trades together (apply_all), groups with any
    group_after: Mapping[str, tuple[float, float, float]] = field(default_factory=dict)

    def group(self, name: str) -> list[TicketTrade]:
        """The trades of group ``name`` (one of GROUPS), in order."""
        return [t for t in self.trades if t.group == name]


# -- figures ---------------------------------------------------------------------------------
def book_figures(lines: list[Line], cash: float, state: MarketState) -> tuple[float, float, float]:
    """(beta, VaR 95, NAV) of ``lines`` as the desk reports them.

    Parameters
    ----------
    lines : list of Line
        The positions.
    cash : float
        Cash in USD.
    state : MarketState
        Closes (shocked, for a what-if), betas and the return history.

    Returns
    -------
    tuple of float
        Portfolio beta (sum of beta-dollars / NAV), 1-day historical VaR at 95 % as a positive
        fraction of NAV, and NAV in USD.
    """
    val = value_lines(lines, state, cash)
    book = pnl_history(lines, state).sum(axis=1) / val.nav
    return val.portfolio_beta, historical_var(book, VAR_CONFIDENCE).var, val.nav


def _after(
    lines: list[Line], cash: float, state: MarketState, edit: BookEdit, n_holdings: int
) -> tuple[float, float, float]:
    return book_figures(lines_after(lines, [edit], n_holdings), cash, state)


def lines_after(lines: list[Line], edits: Sequence[BookEdit], n_holdings: int) -> list[Line]:
    """``lines`` (holdings first, ``n_holdings`` of them, then hedge legs) with ``edits``
    applied together, as the edited config's :func:`~hedgedesk.core.book.valuation.book_lines`
    would be: quantity changes add up per row, a row left at 0 is gone, added rows follow
    their section.
    """
    rows = {"holding": list(lines[:n_holdings]), "hedge": list(lines[n_holdings:])}
    added: dict[str, list[Line]] = {"holding": [], "hedge": []}
    for e in edits:
        if e.index is not None:
            ln = rows[e.kind][e.index]
            rows[e.kind][e.index] = replace(ln, quantity=ln.quantity + e.delta)
        elif e.op == "add_holding":
            added["holding"].append(Line(e.name, EQUITY, e.name, float(e.quantity or 0.0)))
        elif e.leg is not None:
            added["hedge"].append(Line.from_leg(e.leg))
    return [
        ln
        for kind in ("holding", "hedge")
        for ln in [*(x for x in rows[kind] if x.quantity != 0), *added[kind]]
    ]


def apply_all(editor: BookEditor, edits: Sequence[BookEdit]) -> DeskConfig:
    """Apply several trades' edits to ``editor``'s book as ONE undoable step
    (:meth:`~hedgedesk.core.book.edit.BookEditor.load_book`, the shocks kept): quantity changes
    add up per row, a row left at 0 is deleted, added rows are appended. Raises HedgedeskError
    when a row an edit was computed on has changed (nothing is applied then).
    """
    book = editor.config.book
    tables = editor.book_tables()
    sections = {"holding": "holdings", "hedge": "hedges"}
    for e in edits:
        if e.index is None:
            continue
        e.check(book)
        row = tables[sections[e.kind]][e.index]
        row["quantity"] = _number(row["quantity"] + e.delta)
    for e in edits:
        if e.op == "add_holding":
            tables["holdings"].append({"ticker": e.name, "quantity": _number(e.quantity)})
        elif e.op == "add_hedge" and e.leg is not None:
            tables["hedges"].append(leg_keys(e.leg))
    kept = {s: [r for r in tables[s] if r["quantity"] != 0] for s in sections.values()}
    return editor.load_book(kept["holdings"], kept["hedges"], editor.shocks)


# -- book edits ------------------------------------------------------------------------------
def leg_keys(leg: HedgeLeg) -> dict[str, Any]:
    """A hedge leg as the ``[[book.hedges]]`` TOML keys that load back as ``leg``."""
    keys: dict[str, Any] = {
        "name": leg.name,
        "instrument": leg.instrument,
        "underlying": leg.underlying,
        "quantity": _number(leg.quantity),
    }
    if leg.contract:
        keys["contract"] = leg.contract
    if leg.instrument == OPTION:
        keys.update(
            right=leg.right,
            strike=leg.strike,
            expiry=leg.expiry,
            volatility=leg.volatility,
        )
        if leg.model and leg.model != "bsm":
            keys["model"] = leg.model
            keys["multiplier"] = leg.multiplier
        if leg.dividend_yield:
            keys["dividend_yield"] = leg.dividend_yield
    if leg.price_scale != 1.0:
        keys["price_scale"] = leg.price_scale
    if leg.invert:
        keys["invert"] = True
    if leg.purpose:
        keys["purpose"] = leg.purpose
    return keys


def _quantity_edit(kind: str, index: int, name: str, was: float, delta: float) -> BookEdit:
    new = was + delta
    if new == 0:
        return BookEdit("delete", kind, name, index, was)
    return BookEdit("set_quantity", kind, name, index, was, new)


def _unique(cfg: DeskConfig, name: str) -> str:
    taken = {h.ticker for h in cfg.book.holdings} | {leg.name for leg in cfg.book.hedges}
    out, k = name, 2
    while out in taken:
        out, k = f"{name} {k}", k + 1
    return out


def _future_edit(cfg: DeskConfig, code: str, n: int, purpose: str) -> BookEdit:
    """Add ``n`` contracts of ``code``: to the first leg trading it, else a new leg priced as
    ``[proxies]`` says (contract_price's own order).
    """
    for j, leg in enumerate(cfg.book.hedges):
        if leg.contract == code:
            return _quantity_edit("hedge", j, leg.name, leg.quantity, n)
    proxy = cfg.proxies[code]
    leg = HedgeLeg(
        name=_unique(cfg, f"{code} ticket"),
        instrument=FUTURE,
        underlying=proxy.underlying,
        quantity=n,
        multiplier=CONTRACTS[code].multiplier,
        contract=code,
        purpose=purpose,
        price_scale=proxy.scale,
        invert=proxy.invert,
    )
    return BookEdit("add_hedge", "hedge", leg.name, leg=leg)


def third_friday(day: dt.date, months: int) -> dt.date:
    """The third Friday of the month ``months`` after ``day``'s (the monthly option expiry)."""
    m = day.month - 1 + months
    first = dt.date(day.year + m // 12, m % 12 + 1, 1)
    return first + dt.timedelta(days=(4 - first.weekday()) % 7 + 14)


def realised_vol(state: MarketState, ticker: str) -> float:
    """Annualised volatility of ``ticker``'s daily returns over the state's window.

    Returns
    -------
    float
        Sample standard deviation (ddof = 1) x sqrt(periods per year), an annual fraction.
    """
    r = state.returns[ticker].to_numpy()
    return float(np.std(r, ddof=1) * math.sqrt(state.periods))


def _option_edit(
    cfg: DeskConfig, state: MarketState, underlying: str, right: str, n: int, purpose: str
) -> BookEdit:
    """``n`` option contracts on ``underlying``: added to a live leg of the same right on it,
    else a new at-the-money leg (CONVENTIONS of this module).
    """
    for j, leg in enumerate(cfg.book.hedges):
        if (
            leg.instrument == OPTION
            and leg.right == right
            and leg.underlying == underlying
            and not leg.invert
            and leg.price_scale == 1.0
            and leg.expiry is not None
            and leg.expiry > state.asof
        ):
            return _quantity_edit("hedge", j, leg.name, leg.quantity, n)
    spot = state.closes[underlying]
    strike = round(spot, 2)
    leg = HedgeLeg(
        name=_unique(cfg, f"{underlying} {right} {strike:g} ticket"),
        instrument=OPTION,
        underlying=underlying,
        quantity=n,
        multiplier=OPTION_MULTIPLIER,
        right=right,
        strike=strike,
        expiry=third_friday(state.asof, OPTION_TENOR_MONTHS),
        volatility=round(realised_vol(state, underlying), 4),
        model="bsm",
        purpose=purpose,
    )
    return BookEdit("add_hedge", "hedge", leg.name, leg=leg)


def _plan_edit(cfg: DeskConfig, state: MarketState, t: Trade) -> tuple[BookEdit, str]:
    """The edit for one of plan_trades' trades and its unit."""
    n = t.contracts if t.side == "buy" else -t.contracts
    short = t.purpose.split(";")[0]
    if "sleeve" in t.inputs:
        return _future_edit(cfg, t.inputs["contract"], n, short), "contracts"
    if t.inputs.get("kind") in ("put", "call"):
        return _option_edit(cfg, state, t.inputs["underlying"], t.inputs["kind"], n, short), (
            "contracts"
        )
    return _future_edit(cfg, cfg.targets.hedge_future, n, "beta hedge"), "contracts"


# -- groups ----------------------------------------------------------------------------------
def _targets(
    cfg: DeskConfig, state: MarketState, lines: list[Line], cash: float, nav: float | None
) -> tuple[list[TicketTrade], list[str]]:
    plan = plan_trades(cfg, state, nav)
    n_h = len(cfg.book.holdings)
    out = []
    for t in plan.trades:
        edit, unit = _plan_edit(cfg, state, t)
        beta, var, nav_after = _after(lines, cash, state, edit, n_h)
        out.append(
            TicketTrade(
                TARGETS,
                t.instrument,
                t.side,
                t.contracts,
                unit,
                t.size_usd,
                beta,
                var,
                nav_after,
                t.purpose,
                edit,
                t.inputs,
            )
        )
    return out, [f"skipped {s.leg}: {s.reason}" for s in plan.skipped]


def check_weights(weights: Mapping[Any, Any], where: str = "weights") -> dict[str, float]:
    """``weights`` as ticker -> finite float in [-MAX_ABS_WEIGHT, MAX_ABS_WEIGHT]; a
    HedgedeskError names the entry otherwise.
    """
    out = {}
    for k, v in weights.items():
        if not isinstance(k, str) or not k.strip():
            raise HedgedeskError(f"{where}: got key {k!r}, expected a ticker")
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise HedgedeskError(f"{where}.{k}: got {v!r}, expected a number (0.1 = 10 %)")
        if abs(v) > MAX_ABS_WEIGHT:
            raise HedgedeskError(
                f"{where}.{k}: got {v!r}, expected a fraction of the holdings' value "
                f"within ±{MAX_ABS_WEIGHT:g}"
            )
        out[k.strip()] = float(v)
    return out


def _with_holdings(cfg: DeskConfig, tickers: Sequence[str]) -> DeskConfig:
    added = tuple(Holding(t, 1.0, None) for t in tickers)
    return replace(cfg, book=replace(cfg.book, holdings=(*cfg.book.holdings, *added)))


def _to_weights(
    cfg: DeskConfig,
    state: MarketState,
    lines: list[Line],
    cash: float,
    weights: Mapping[str, float],
    state_of: StateOf,
    shocks: Mapping[str, float],
    value: float,
) -> list[TicketTrade]:
    n_h = len(cfg.book.holdings)
    holdings = lines[:n_h]
    if value <= 0:
        raise HedgedeskError(
            f"to weights: the holdings' value is {value:,.0f} USD: weights of it need a "
            "positive value (add holdings first)"
        )
    out = []
    wanted = {t: w for t, w in weights.items() if w}
    rows: list[tuple[str, int | None, float]] = [
        (ln.name, i, ln.quantity) for i, ln in enumerate(holdings)
    ]
    rows += [(t, None, 0.0) for t in wanted if t not in {r[0] for r in rows}]
    for ticker, index, held in rows:
        w = wanted.get(ticker, 0.0)
        if index is None:
            try:
                st = shocked_state(state_of(_with_holdings(cfg, [ticker])), shocks)
            except DataError as exc:
                raise HedgedeskError(f"to weights: {ticker}: {exc}") from None
        else:
            st = state
        price = st.closes[ticker]
        unrounded = w * value / price
        target = round_half_away(unrounded)
        n = target - held
        if n == 0:
            continue
        if index is None:
            edit = BookEdit("add_holding", "holding", ticker, quantity=target)
        else:
            edit = _quantity_edit("holding", index, ticker, held, n)
        beta, var, nav_after = _after(lines, cash, st, edit, n_h)
        purpose = (
            f"{ticker} to {w:.2%} of the holdings' value {value:,.0f} "
            f"(now {held * price / value:.2%}): {_fmt(held)} -> {_fmt(target)} shares"
        )
        out.append(
            TicketTrade(
                TO_WEIGHTS,
                ticker,
                "buy" if n > 0 else "sell",
                int(abs(n)),
                "shares",
                abs(n) * price,
                beta,
                var,
                nav_after,
                purpose,
                edit,
                {
                    "weight": w,
                    "holdings_value": value,
                    "price": price,
                    "unrounded_shares": unrounded,
                    "target_shares": target,
                    "held_shares": held,
                },
            )
        )
    return out


def _band(
    cfg: DeskConfig, state: MarketState, lines: list[Line], cash: float, beta: float, nav: float
) -> tuple[list[TicketTrade], list[str]]:
    target, band = cfg.targets.beta, cfg.targets.beta_band
    lo, hi = target - band, target + band
    if lo <= beta <= hi:
        return [], []
    edge = lo if beta < lo else hi
    aim = f"the nearest edge {edge:.2f}"
    tried: list[tuple[str, float, float, str, int, float]] = []
    notes = []
    code0 = cfg.targets.hedge_future
    for code in dict.fromkeys([code0, MICRO.get(code0, code0)]):
        try:
            price, underlying, beta_f = contract_price(code, cfg, state)
        except DataError as exc:
            notes.append(f"beta band: {code} not priced: {exc}")
            continue
        per = price * CONTRACTS[code].multiplier
        beta_1 = per * beta_f / nav
        if beta_1 == 0:
            continue
        unrounded = (edge - beta) / beta_1
        n = int(math.copysign(math.ceil(abs(unrounded) - 1e-9), unrounded))
        tried.append((code, price, beta_f, underlying, n, unrounded))
        if lo - 1e-12 <= beta + n * beta_1 <= hi + 1e-12:
            break
    else:
        if not tried:
            return [], notes
        code, price, beta_f, underlying, _, _ = tried[0]
        per = price * CONTRACTS[code].multiplier
        unrounded = (target - beta) * nav / (per * beta_f)
        n = round_half_away(unrounded)
        notes.append(
            f"beta band: no whole {' or '.join(t[0] for t in tried)} contract lands in "
            f"{lo:.2f}..{hi:.2f}; proposed {n:+d} {code}, nearest the target {target:.2f}"
        )
        if n == 0:
            return [], notes
        tried = [(code, price, beta_f, underlying, n, unrounded)]
        aim = f"the target {target:.2f}"
    code, price, beta_f, underlying, n, unrounded = tried[-1]
    per = price * CONTRACTS[code].multiplier
    purpose = (
        f"beta {beta:.3f} -> {beta + n * per * beta_f / nav:.3f} (band {lo:.2f}..{hi:.2f}, "
        f"aimed at {aim}: N = {unrounded:+.2f})"
    )
    edit = _future_edit(cfg, code, n, "beta band")
    b_after, var, nav_after = _after(lines, cash, state, edit, len(cfg.book.holdings))
    trade = TicketTrade(
        BETA_BAND,
        f"{code} ({CONTRACTS[code].name})",
        "buy" if n > 0 else "sell",
        abs(n),
        "contracts",
        abs(n) * per,
        b_after,
        var,
        nav_after,
        purpose,
        edit,
        {
            "beta_now": beta,
            "edge": edge,
            "band": (lo, hi),
            "nav": nav,
            "price": price,
            "multiplier": CONTRACTS[code].multiplier,
            "beta_of_future": beta_f,
            "priced_from": underlying,
            "unrounded": unrounded,
            "contracts": n,
        },
    )
    return [trade], notes


def build_ticket(
    cfg: DeskConfig,
    state_of: StateOf,
    *,
    weights: Mapping[str, float] | None = None,
    weights_source: str = "",
    nav: float | None = None,
    shocks: Mapping[str, float] | None = None,
    holdings_value: float | None = None,
) -> Ticket:
    """The trade ticket of ``cfg``'s book (the what-if book on the desk).

    Parameters
    ----------
    cfg : DeskConfig
        The book, its ``[targets]``, ``[plan]`` and ``[proxies]``.
    state_of : callable
        ``state_of(cfg) -> MarketState``, unshocked (e.g. ``market_state(cfg, market)``);
        called for ``cfg`` and, for each ticker the weights buy that the book lacks, for the
        book with it added.
    weights : mapping of str to float, optional
        Target weights as fractions of the holdings' value (None: no "to weights" group).
    weights_source : str
        Where the weights came from, for the ticket's header.
    nav : float, optional
        Scale the book to this NAV in USD first (the edits are then not for the config).
    shocks : mapping of str to float, optional
        The desk's what-if price shocks (fractions, by ticker or "market").
    holdings_value : float, optional
        USD the weights are fractions of (None: the holdings' value now). A desk applying the
        weights' trades one by one keeps the first ticket's, so the trades reach the weights.

    Returns
    -------
    Ticket
        Trades in the groups' order; figures before, after each trade alone and after each
        group's trades together (beta, VaR 95 as a positive fraction of NAV, NAV in USD).
    """
    shocks = dict(shocks or {})
    state = shocked_state(state_of(cfg), shocks)
    lines, cash = scaled_lines(cfg, state, nav)
    beta, var, book_nav = book_figures(lines, cash, state)
    trades, notes = _targets(cfg, state, lines, cash, nav)
    value = holdings_value
    if value is None:
        n_h = len(cfg.book.holdings)
        value = sum(ln.quantity * state.closes[ln.underlying] for ln in lines[:n_h])
    if weights is None:
        notes.append("to weights: no optimiser weights given")
    else:
        trades += _to_weights(cfg, state, lines, cash, weights, state_of, shocks, value)
    band, band_notes = _band(cfg, state, lines, cash, beta, book_nav)
    trades += band
    group_after = {}
    for g in GROUPS:
        edits = [t.edit for t in trades if t.group == g]
        if edits:
            new = [e.name for e in edits if e.op == "add_holding"]
            st = shocked_state(state_of(_with_holdings(cfg, new)), shocks) if new else state
            lines_g = lines_after(lines, edits, len(cfg.book.holdings))
            group_after[g] = book_figures(lines_g, cash, st)
    return Ticket(
        state.asof,
        book_nav,
        beta,
        var,
        cfg.targets.beta,
        cfg.targets.beta_band,
        tuple(trades),
        (*notes, *band_notes),
        weights_source if weights is not None else "",
        nav is not None,
        value,
        group_after,
    )


# -- weights sources -------------------------------------------------------------------------
def read_weights(path: Path) -> dict[str, float]:
    """Weights from a JSON file: ``hedgedesk optimize --json``'s output (its ``weights``) or
    a plain object of ticker -> weight (fractions of the holdings' value).
    """

    def fail(why: str) -> HedgedeskError:
        return HedgedeskError(f"{path}: {why}")

    data = read_regular(path, WEIGHTS_MAX_BYTES, fail)
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise fail(f"not JSON: {exc}") from None
    if isinstance(obj, dict) and isinstance(obj.get("weights"), dict):
        obj = obj["weights"]
    if not isinstance(obj, dict) or not obj:
        raise fail(
            'expected an object of ticker -> weight, or hedgedesk optimize --json\'s "weights"'
        )
    return check_weights(obj, str(path))


def optimizer_weights(
    cfg: DeskConfig, market: MarketData, objective: str | None = None
) -> tuple[dict[str, float], str]:
    """Solve the config's ``[optimizer]`` (its objective, or ``objective``) over the config's
    data range, as ``hedgedesk optimize`` does.

    Returns
    -------
    tuple
        The weights (ticker -> fraction) and a label of their source.
    """
    from hedgedesk.core.limits import SettingError
    from hedgedesk.core.optimize.engine import run
    from hedgedesk.core.optimize.request import OptimizeRequest

    over = {"objective": objective} if objective else {}
    try:
        req = OptimizeRequest.from_config(cfg, market, cfg.data.start, cfg.data.end, **over)
    except SettingError as exc:
        raise HedgedeskError(f"optimizer.{exc}") from None
    if req.objective in ("frontier", "hedge-overlay"):
        raise HedgedeskError(
            f"optimizer.objective: got {req.objective!r}, expected an objective with one "
            "portfolio of weights (max-sharpe, min-variance, ...)"
        )
    result = run(req, market, cfg)
    p = result.portfolio
    if p is None:
        raise HedgedeskError(f"optimizer {req.objective}: no portfolio")
    return dict(p.weights), f"optimiser {req.objective} ({result.first}..{result.last})"


# -- export ----------------------------------------------------------------------------------
def csv_rows(ticket: Ticket) -> list[list[str]]:
    """The ticket's rows under :data:`CSV_HEADER` (numbers as plain decimals)."""
    return [
        [
            t.group,
            t.instrument,
            t.side,
            str(t.quantity),
            t.unit,
            f"{t.notional_usd:.2f}",
            f"{t.beta_after:.6f}",
            f"{t.var95_after:.6f}",
            t.purpose,
        ]
        for t in ticket.trades
    ]


def csv_text(ticket: Ticket) -> str:
    """The ticket as CSV (RFC 4180: CRLF line ends, fields with commas, quotes or line breaks
    quoted, quotes doubled), header first.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(CSV_HEADER)
    writer.writerows(csv_rows(ticket))
    return buf.getvalue()


def write_csv(ticket: Ticket, path: Path) -> Path:
    """Write the ticket's CSV to ``path`` atomically; HedgedeskError naming it on failure."""
    data = csv_text(ticket).encode("utf-8")
    try:
        write_atomic(path, lambda tmp: tmp.write_bytes(data))
    except OSError as exc:
        raise HedgedeskError(f"{path}: cannot write: {exc.strerror or exc}") from None
    return path


def default_csv_path(cfg: DeskConfig, asof: dt.date) -> Path:
    """``<config stem>-ticket-<asof>.csv`` beside the config file; for the built-in demo desk
    (read-only, inside the package) in the current folder.
    """
    from hedgedesk.core.book.edit import is_builtin_demo

    name = f"{cfg.path.stem}-ticket-{asof.isoformat()}.csv"
    if is_builtin_demo(cfg.path):
        return Path.cwd() / name
    return cfg.path.with_name(name)


def _number(x: float | None) -> float | int:
    x = float(x or 0.0)
    return int(x) if x.is_integer() else x


def _fmt(x: float | None) -> str:
    return "none" if x is None else f"{_number(x):,}"

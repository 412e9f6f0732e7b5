"""Hedge overlay: given the core book, choose hedge leg sizes (futures, ETFs, options) that
minimise the variance or the CVaR of the book's daily P&L within a beta band and a cost budget,
and report the book before and after.

The model, in the units of :mod:`hedgedesk.core.book.risk` and CONVENTIONS:

* The **fixed part** of the book is its holdings plus every hedge leg no candidate replaces; a
  candidate whose name is a hedge leg of the book replaces that leg, and the leg's quantity is
  the candidate's current size (0 for a new instrument).
* Each candidate is priced as **one unit** (one contract, share or coin). Its daily P&L on each
  historical day comes from :func:`hedgedesk.core.book.risk.pnl_history` on that unit line, with
  full
  revaluation of options; P&L is proportional to quantity, so the book's daily P&L is
  ``fixed[t] + H[t] @ x`` with ``H`` (days, candidates) and the problem is a QP (variance) or an
  LP (CVaR) in the sizes ``x``.
* Book returns are that P&L divided by the NAV. Trades are made at the model prices: an option
  premium or ETF purchase is paid from cash (a sale's proceeds go to cash) and futures cost
  nothing to enter, so **the NAV is unchanged** by the overlay and only cash moves. Trading
  costs (``cost_per_unit x |size - current|``) are reported as ``cost`` and bounded by the
  budget; they are not deducted from the NAV or the P&L history.
* Portfolio beta = (fixed beta-dollars + sum_i x_i x unit beta-dollars_i) / NAV (CONVENTIONS:
  delta-adjusted notional times the underlying's beta), linear in ``x``.
* Variance: sample variance (ddof = 1) of daily book returns. CVaR: Rockafellar-Uryasev at
  confidence ``a`` on the equally weighted historical days,
  ``min_alpha alpha + mean(max(-R - alpha, 0)) / (1 - a)``: the mean of the worst
  ``(1 - a) T`` losses, the boundary day weighted by its fraction. It differs slightly from the
  CONVENTIONS historical CVaR (``-mean(R[R <= q])``), which is reported beside it.

**Purpose and sign.** Each candidate has a side: long only (size in ``[0, max_units]``), short
only (``[-max_units, 0]``) or either (``[-max_units, max_units]``).
:func:`default_candidates` keeps each hedge leg's purpose and sign unless told to free them
(``free_signs``): a leg long now stays long (a protective put stays a long put), a leg short
now stays short (a beta-hedge future stays short), and a short call is covered: at most the
contracts the shares held of its underlying cover (a call on an underlying the book does not
hold: the contracts the holdings' beta-weighted value covers). Every limit is stated in the
result (:attr:`OverlayResult.limits`), with the reason in words.

The continuous optimum is rounded to whole units (each size down or up, the best combination
kept: see :func:`_round`) and the rounded book is valued and reported too; rounding can take beta
a little outside the band or the cost a little over the budget, and ``notes`` says so when it
does.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import cvxpy as cp
import numpy as np

from hedgedesk.core.book.risk import pnl_history
from hedgedesk.core.book.valuation import Line, MarketState, book_lines, contract_price, value_lines
from hedgedesk.core.config import DeskConfig
from hedgedesk.core.errors import HedgedeskError
from hedgedesk.core.instruments import CONTRACTS, EQUITY, FUTURE, OPTION
from hedgedesk.core.limits import OVERLAY_OBJECTIVES
from hedgedesk.core.metrics import historical_var
from hedgedesk.core.optimize.problem import OptimizationError, solve

# Default trading cost per unit traded, as a fraction of the unit's notional (multiplier x
# underlying price): commission plus half the bid-ask spread. Assumptions, not quotes.
DEFAULT_COST_RATES = {FUTURE: 0.0001, OPTION: 0.0002, EQUITY: 0.0005}
OTHER_COST_RATE = 0.0005  # crypto and fx spot
BETA_TOL = 1e-6  # beta within this of a band edge: the edge binds
REL_TOL = 1e-6  # cost and size limits: binding within this fraction
MAX_ROUNDING_COMBOS = 4096  # whole-unit neighbours of the optimum tried when rounding
SIDES = {1: "long", -1: "short", 0: "either"}  # Candidate.sign in words
MAX_EXHAUSTIVE_CELLS = 20_000_000  # books x days evaluated exactly over the whole integer box
EXHAUSTIVE_CHUNK = 20_000  # books scored at once


@dataclass(frozen=True)
class Candidate:
    """A hedge instrument the overlay may size.

    Attributes
    ----------
    line : Line
        One unit (``quantity`` 1: one contract, share or coin) on an underlying the
        :class:`MarketState` prepared (benchmark, book, ``[proxies]``).
    max_units : float
        Bound on the size, ``|size| <= max_units`` (units).
    cost_per_unit : float
        Money (USD) paid per unit traded (commission and spread), charged on
        ``|size - current|``.
    sign : {1, -1, 0}
        The side it may take: 1 long only (``0 <= size``), -1 short only (``size <= 0``),
        0 either.
    why : str
        The side and the size limit in words (the leg's purpose, what caps it).
    """

    line: Line
    max_units: float
    cost_per_unit: float = 0.0
    sign: int = 0
    why: str = ""

    @property
    def name(self) -> str:
        """The candidate's name: its line's (a hedge leg's name when it replaces one)."""
        return self.line.name

    @property
    def bounds(self) -> tuple[float, float]:
        """The size range ``(low, high)`` in units (contracts, shares, coins), signed."""
        return (
            0.0 if self.sign > 0 else -self.max_units,
            0.0 if self.sign < 0 else self.max_units,
        )

    def limit(self) -> dict[str, object]:
        """The limit as the output states it: ``low``, ``high`` (units), ``side``
        (``"long"``, ``"short"`` or ``"either"``) and ``why``.
        """
        low, high = self.bounds
        return {"low": low, "high": high, "side": SIDES[self.sign], "why": self.why}


@dataclass(frozen=True)
class OverlayResult:
    """A solved overlay. Sizes in units (contracts, shares, coins), signed (negative = short).

    Attributes
    ----------
    objective : {"variance", "cvar"}
    sizes, rounded, current : dict of str to float (rounded: int)
        Each candidate's continuous optimum, whole-unit size and size now.
    before, after, after_rounded : dict of str to float
        The book's figures as it stands, with the continuous optimum and with the rounded
        sizes (see :func:`book_figures` for the keys and units).
    cost, cost_rounded : float
        Trading cost in money (USD) of moving from ``current`` to the sizes.
    beta_band : (float, float)
        The portfolio-beta band the sizes were held in.
    cost_budget : float or None
        Money (USD); None: no budget.
    confidence : float
        CVaR confidence.
    limits : dict of str to dict
        Each candidate's sign and size limit (:meth:`Candidate.limit`: ``low``, ``high`` in
        units, ``side``, ``why``).
    binding : tuple of str
        The constraints that bind at the continuous optimum, in plain words.
    notes : tuple of str
        What rounding did to the band and the budget.
    solver : str
        The solver that solved it; ``tried`` those tried, in order.
    """

    objective: str
    sizes: dict[str, float]
    rounded: dict[str, int]
    current: dict[str, float]
    before: dict[str, float]
    after: dict[str, float]
    after_rounded: dict[str, float]
    cost: float
    cost_rounded: float
    beta_band: tuple[float, float]
    cost_budget: float | None
    confidence: float
    limits: dict[str, dict[str, object]]
    binding: tuple[str, ...]
    notes: tuple[str, ...]
    solver: str
    tried: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        """The figures as ``hedgedesk optimize --json`` reports them under ``overlay`` (and
        the report's overlay table): sizes, whole-unit sizes, current sizes, the book's
        figures before and after, costs (money), the objective, the beta band, each leg's sign
        and size limit, what binds, notes and the solvers.
        """
        return {
            "sizes": self.sizes,
            "rounded": self.rounded,
            "current": self.current,
            "before": self.before,
            "after": self.after,
            "after_rounded": self.after_rounded,
            "cost": self.cost,
            "cost_rounded": self.cost_rounded,
            "objective": self.objective,
            "beta_band": list(self.beta_band),
            "limits": self.limits,
            "binding": list(self.binding),
            "notes": list(self.notes),
            "solver": self.solver,
            "solvers_tried": list(self.tried),
        }


# -- figures -------------------------------------------------------------------------------------
def ru_cvar(returns: np.ndarray, confidence: float) -> float:
    """Rockafellar-Uryasev CVaR of equally weighted daily returns: the mean of the worst
    ``(1 - a) T`` losses, the boundary loss weighted by its fractional share.

    Parameters
    ----------
    returns : ndarray, shape (T,)
        Daily returns (fractions of NAV).
    confidence : float
        a, in (0, 1).

    Returns
    -------
    float
        The 1-day CVaR, a loss as a positive fraction.
    """
    losses = np.sort(-np.asarray(returns, dtype=np.float64))[::-1]
    m = (1.0 - confidence) * len(losses)
    k = math.floor(m)
    total = losses[:k].sum() + (m - k) * (losses[k] if k < len(losses) else 0.0)
    return float(total / m)


def book_figures(
    lines: list[Line], state: MarketState, cash: float, confidence: float = 0.95
) -> dict[str, float]:
    """Figures of a book valued at the as-of closes and its daily P&L history.

    Parameters
    ----------
    lines : list of Line
        The book's positions.
    state : MarketState
        The as-of closes and the daily return history.
    cash : float
        Money (USD).
    confidence : float
        VaR/CVaR confidence, in (0, 1).

    Returns
    -------
    dict of str to float
        ``nav``, ``cash`` (money); ``beta`` (portfolio beta); ``beta_dollars``,
        ``dollar_delta`` (money); ``variance`` (daily, ddof = 1, of P&L / NAV);
        ``volatility`` (annualised, ``sqrt(variance x periods)``); ``cvar_ru``
        (Rockafellar-Uryasev CVaR at ``confidence``, fraction of NAV); ``var_hist``,
        ``cvar_hist`` (1-day historical VaR and CVaR at ``confidence``, CONVENTIONS).
    """
    val = value_lines(lines, state, cash)
    book = pnl_history(lines, state).sum(axis=1) / val.nav
    tail = historical_var(book, confidence)
    variance = float(np.var(book, ddof=1))
    return {
        "nav": val.nav,
        "cash": cash,
        "beta": val.portfolio_beta,
        "beta_dollars": val.total("beta_dollars"),
        "dollar_delta": val.total("dollar_delta"),
        "variance": variance,
        "volatility": math.sqrt(variance * state.periods),
        "cvar_ru": ru_cvar(book, confidence),
        "var_hist": tail.var,
        "cvar_hist": tail.cvar,
    }


# -- candidates ----------------------------------------------------------------------------------
def _unit_notional(line: Line, state: MarketState) -> float:
    return line.multiplier * line.scale * state.closes[line.underlying]


def _default_cost(line: Line, state: MarketState, rates: dict[str, float]) -> float:
    return rates.get(line.kind, OTHER_COST_RATE) * _unit_notional(line, state)


def default_candidates(
    cfg: DeskConfig,
    state: MarketState,
    coverage: float = 1.0,
    cost_rates: dict[str, float] | None = None,
    free_signs: bool = False,
) -> list[Candidate]:
    """The book's hedge legs as candidates (sizes free within their limits, replacing the
    current ones), plus the benchmark future ``targets.hedge_future`` when no leg trades it
    (priced from ``[proxies]``).

    Side (``free_signs`` False, the default: each leg keeps its purpose and sign): a leg long
    now stays long (``0 <= size``: a protective put stays a long put), a leg short now stays
    short (a beta-hedge future, a covered call); the added hedge future offsets the holdings'
    beta (short for a long core). ``free_signs`` True: every candidate may take either side.

    Size (``|size| <= max_units``): enough units for a notional of ``coverage`` x the
    holdings' gross market value (rounded up), never less than the current size. A call on a
    held stock is capped at the contracts its shares cover (``shares // (multiplier x
    scale)``); with signs kept, a short call on an underlying the book does not hold is
    capped at the contracts the holdings' beta-dollars cover (``floor(core beta-dollars /
    unit beta-dollars)``), and a covered call's cap holds even below the current size (the
    overlay buys the excess back). ``cost_per_unit``: ``cost_rates[kind]`` (default
    :data:`DEFAULT_COST_RATES`) x the unit's notional.

    Parameters
    ----------
    cfg : DeskConfig
        The book and ``targets.hedge_future``.
    state : MarketState
        The as-of closes and return history.
    coverage : float
        Multiple of the holdings' gross market value (USD) a candidate may hedge.
    cost_rates : dict of str to float, optional
        Cost per unit traded by instrument kind, a fraction of the unit's notional.
    free_signs : bool
        Let every candidate take either side (the limits say ``either``).

    Returns
    -------
    list of Candidate
        Each with its ``sign``, ``max_units`` (units) and ``why`` (the limit in words).
    """
    rates = {**DEFAULT_COST_RATES, **(cost_rates or {})}
    holdings = {h.ticker: h.quantity for h in cfg.book.holdings}
    core = sum(abs(q) * state.closes[t] for t, q in holdings.items())
    core_bd = sum(q * state.closes[t] * state.betas[t] for t, q in holdings.items())
    units = [replace(Line.from_leg(leg), quantity=1.0) for leg in cfg.book.hedges]
    current = {leg.name: leg.quantity for leg in cfg.book.hedges}
    code = cfg.targets.hedge_future
    added = None
    if not any(leg.contract == code for leg in cfg.book.hedges):
        price, underlying, _ = contract_price(code, cfg, state)
        spec = CONTRACTS[code]
        added = Line(
            name=f"{code} ({spec.name})",
            kind=FUTURE,
            underlying=underlying,
            quantity=1.0,
            multiplier=spec.multiplier,
            scale=price / state.closes[underlying],
            is_hedge=True,
            purpose="beta hedge",
            contract=code,
        )
        units.append(added)
    out = []
    for ln in units:
        now = current.get(ln.name, 0.0)
        notional = _unit_notional(ln, state)
        limit: float = math.ceil(coverage * core / notional)
        why = f"notional up to {coverage:g} x the holdings' gross value"
        is_call = ln.kind == OPTION and ln.right == "call"
        sign = 0
        if not free_signs:
            if now:  # the config refuses a leg of quantity 0
                sign = 1 if now > 0 else -1
            elif ln is added and core_bd:
                sign = -1 if core_bd > 0 else 1
        covered = None
        if is_call and ln.underlying in holdings:
            shares = max(holdings[ln.underlying], 0.0)
            covered = int(shares // (ln.multiplier * ln.scale))
            why = f"covered: {shares:g} {ln.underlying} shares held cover {covered} contracts"
        elif is_call and sign < 0:
            unit_bd = notional * state.betas[ln.underlying]
            covered = max(math.floor(core_bd / unit_bd), 0) if unit_bd > 0 else 0
            why = (
                f"covered: the holdings' beta-dollars {core_bd:,.0f} cover {covered} "
                f"contracts on {ln.underlying}"
            )
        if covered is not None:
            limit = min(limit, covered)
        if covered is None or sign >= 0:
            if abs(now) > limit:
                why += f"; raised to the current size {abs(now):g}"
            limit = max(limit, abs(now))
        purpose = ln.purpose
        side = {1: "kept long", -1: "kept short", 0: "either side"}[sign]
        if free_signs:
            side = "either side (signs freed)"
        elif sign and ln is added:
            side = f"{SIDES[sign]}: offsets the holdings' beta"
        label = f"{side}{f' ({purpose})' if purpose else ''}; {why}"
        out.append(Candidate(ln, float(limit), _default_cost(ln, state, rates), sign, label))
    return out


# -- the overlay ---------------------------------------------------------------------------------
def _check(
    candidates: Sequence[Candidate],
    objective: str,
    band: tuple[float, float],
    cost_budget: float | None,
    confidence: float,
    fixed_names: set[str],
) -> None:
    if objective not in OVERLAY_OBJECTIVES:
        raise HedgedeskError(
            f"objective {objective!r}: expected one of {', '.join(OVERLAY_OBJECTIVES)}"
        )
    if not candidates:
        raise HedgedeskError("no hedge candidates to size")
    lo, hi = band
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
        raise HedgedeskError(
            f"beta band ({lo:g}, {hi:g}): expected finite (low, high), low <= high"
        )
    if cost_budget is not None and not (cost_budget >= 0 and math.isfinite(cost_budget)):
        raise HedgedeskError(f"cost budget {cost_budget!r}: expected a number >= 0 or None")
    if not 0.0 < confidence < 1.0:
        raise HedgedeskError(f"confidence {confidence!r}: expected a number in (0, 1)")
    seen: set[str] = set()
    for c in candidates:
        if c.name in seen:
            raise HedgedeskError(f"candidate {c.name!r} is listed twice")
        if c.name in fixed_names:
            raise HedgedeskError(
                f"candidate {c.name!r} has the name of a holding: holdings are the fixed core"
            )
        seen.add(c.name)
        if c.line.quantity != 1:
            raise HedgedeskError(
                f"candidate {c.name!r}: its line must be one unit (quantity "
                f"1), got {c.line.quantity:g}"
            )
        if not (c.max_units >= 0 and math.isfinite(c.max_units)):
            raise HedgedeskError(
                f"candidate {c.name!r}: max_units {c.max_units!r}, expected a finite number >= 0"
            )
        if c.sign not in SIDES:
            raise HedgedeskError(
                f"candidate {c.name!r}: sign {c.sign!r}, expected 1 (long), -1 (short) or 0"
            )
        if not (c.cost_per_unit >= 0 and math.isfinite(c.cost_per_unit)):
            raise HedgedeskError(
                f"candidate {c.name!r}: cost_per_unit {c.cost_per_unit!r}, "
                "expected a finite number >= 0"
            )


def _round(
    x: np.ndarray,
    lows: np.ndarray,
    highs: np.ndarray,
    core: np.ndarray,
    h: np.ndarray,
    b: np.ndarray,
    b0: float,
    current: np.ndarray,
    unit_cost: np.ndarray,
    band: tuple[float, float],
    budget: float | None,
    objective: str,
    confidence: float,
) -> np.ndarray:
    """Whole-unit sizes. When every whole-unit book within the size limits can be scored
    (books x days <= :data:`MAX_EXHAUSTIVE_CELLS`) all are, so the result is the exact integer
    optimum. Otherwise, by enumeration near the continuous optimum ``x`` (a heuristic): each
    size takes the whole numbers from one below its floor to one above its ceiling, and its
    current size, within its limits (only floor and ceiling when that makes more than
    :data:`MAX_ROUNDING_COMBOS` combinations; nearest rounding beyond). The best book is within
    the budget and the band where one is, then closest to the band, then lowest in the
    objective.
    """
    box = [
        np.arange(math.ceil(lo - 1e-9), math.floor(hi + 1e-9) + 1)
        for lo, hi in zip(lows, highs, strict=True)
    ]
    if math.prod(len(a) for a in box) * core.size <= MAX_EXHAUSTIVE_CELLS:
        return _best(
            itertools.product(*box),
            core,
            h,
            b,
            b0,
            current,
            unit_cost,
            band,
            budget,
            objective,
            confidence,
        )

    def neighbours(v: float, now: float, low: float, high: float, wide: bool) -> list[int]:
        lo, hi = math.floor(v + 1e-9), math.ceil(v - 1e-9)
        near = set(range(lo - 1, hi + 2)) if wide else {lo, hi}
        if wide and float(now).is_integer():
            near.add(int(now))
        return sorted(q for q in near if low <= q <= high) or [math.trunc(v)]

    for wide in (True, False):
        options = [
            neighbours(v, now, low, high, wide)
            for v, now, low, high in zip(x, current, lows, highs, strict=True)
        ]
        if math.prod(len(o) for o in options) <= MAX_ROUNDING_COMBOS:
            break
    else:
        r = np.rint(x)
        return np.where((r < lows) | (r > highs), np.trunc(x), r)
    return _best(
        itertools.product(*options),
        core,
        h,
        b,
        b0,
        current,
        unit_cost,
        band,
        budget,
        objective,
        confidence,
    )


def _best(
    books, core, h, b, b0, current, unit_cost, band, budget, objective, confidence
) -> np.ndarray:
    """The best of ``books`` (an iterable of whole-unit size tuples), scored in chunks: within
    the budget, then closest to the band, then lowest objective.
    """
    best: np.ndarray | None = None
    best_key = None
    books = iter(books)
    while chunk := list(itertools.islice(books, EXHAUSTIVE_CHUNK)):
        grid = np.array(chunk, dtype=np.float64)  # (K, n)
        r = core[None, :] + grid @ h.T  # (K, T) daily P&L / NAV
        if objective == "variance":
            score = r.var(axis=1, ddof=1)
        else:
            score = np.array([ru_cvar(row, confidence) for row in r])
        beta = b0 + grid @ b
        miss = np.maximum(band[0] - beta, 0.0) + np.maximum(beta - band[1], 0.0)
        miss = np.where(miss <= BETA_TOL, 0.0, miss)
        over = (
            np.zeros(len(grid))
            if budget is None
            else (np.abs(grid - current) @ unit_cost > budget * (1 + REL_TOL) + 1e-9).astype(float)
        )
        i = np.lexsort((score, miss, over))[0]
        key = (over[i], miss[i], score[i])
        if best_key is None or key < best_key:
            best, best_key = grid[i], key
    if best is None:
        raise OptimizationError("no whole-unit sizes to choose from")
    return best


def hedge_overlay(
    cfg: DeskConfig,
    state: MarketState,
    candidates: Sequence[Candidate],
    objective: str = "variance",
    beta_band: tuple[float, float] | None = None,
    cost_budget: float | None = None,
    confidence: float = 0.95,
) -> OverlayResult:
    """Size ``candidates`` to minimise the variance (``"variance"``) or the Rockafellar-Uryasev
    CVaR at ``confidence`` (``"cvar"``) of the book's daily P&L as a fraction of NAV, subject to
    ``beta_band[0] <= beta <= beta_band[1]`` (default ``targets.beta +- targets.beta_band``),
    ``sum cost_per_unit x |size - current| <= cost_budget`` (money; None: no budget) and
    each candidate's sign and size limit (:attr:`Candidate.bounds`).

    Parameters
    ----------
    cfg : DeskConfig
        The book (its holdings are the fixed core) and its targets.
    state : MarketState
        The as-of closes and the daily return history (T days) the P&L is revalued on.
    candidates : sequence of Candidate, length k
        What to size.
    objective : {"variance", "cvar"}
    beta_band : (float, float), optional
        Portfolio beta bounds (CONVENTIONS: beta-dollars / NAV).
    cost_budget : float, optional
        Most money (USD) spent on trading costs.
    confidence : float
        The CVaR confidence a, in (0, 1).

    Returns
    -------
    OverlayResult

    Raises
    ------
    OptimizationError
        No sizes satisfy the constraints (e.g. the band is out of the hedges' reach), with
        the reason in plain words.
    HedgedeskError
        Bad input.
    """
    t = cfg.targets
    band = (
        (t.beta - t.beta_band, t.beta + t.beta_band)
        if beta_band is None
        else (float(beta_band[0]), float(beta_band[1]))
    )
    book = book_lines(cfg)
    holdings = {ln.name for ln in book if not ln.is_hedge}
    _check(candidates, objective, band, cost_budget, confidence, holdings)
    for c in candidates:
        if c.line.underlying not in state.closes or c.line.underlying not in state.returns:
            raise HedgedeskError(
                f"candidate {c.name!r}: {c.line.underlying} is not in the market state, which "
                "prepares the benchmark, the book's underlyings and the [proxies] underlyings; "
                f"add a [proxies] entry whose underlying is {c.line.underlying}"
            )
    names = [c.name for c in candidates]
    replaced = set(names)
    fixed = [ln for ln in book if ln.name not in replaced]
    current = np.array(
        [
            next((ln.quantity for ln in book if ln.is_hedge and ln.name == c.name), 0.0)
            for c in candidates
        ]
    )
    units = [c.line for c in candidates]
    lows = np.array([c.bounds[0] for c in candidates])
    highs = np.array([c.bounds[1] for c in candidates])
    unit_cost = np.array([c.cost_per_unit for c in candidates])

    before = book_figures(book, state, cfg.book.cash, confidence)
    nav = before["nav"]
    # one long unit each has a market value >= 0, so any positive cash gives a NAV > 0; the
    # positions' money figures do not depend on the cash
    unit_pos = value_lines(units, state, nav).positions
    unit_bd = np.array([p.beta_dollars for p in unit_pos])
    unit_mv = np.array([p.market_value for p in unit_pos])
    fixed_bd = sum(
        p.beta_dollars
        for p in value_lines(book, state, cfg.book.cash).positions
        if p.line.name not in replaced
    )
    # the cash with every candidate closed at model prices: the NAV is still ``nav``
    fixed_cash = cfg.book.cash + float(unit_mv @ current)

    core_pnl = pnl_history(fixed, state).sum(axis=1) if fixed else np.zeros(len(state.returns))
    h = pnl_history(units, state)
    x, solver, tried, binding = _solve(
        core_pnl / nav,
        h / nav,
        unit_bd / nav,
        fixed_bd / nav,
        current,
        lows,
        highs,
        unit_cost,
        band,
        cost_budget,
        objective,
        confidence,
        names,
    )

    def figures(sizes: np.ndarray) -> dict[str, float]:
        lines = fixed + [
            replace(u, quantity=float(q)) for u, q in zip(units, sizes, strict=True) if q != 0
        ]
        return book_figures(lines, state, fixed_cash - float(unit_mv @ sizes), confidence)

    rounded = _round(
        x,
        lows,
        highs,
        core_pnl / nav,
        h / nav,
        unit_bd / nav,
        fixed_bd / nav,
        current,
        unit_cost,
        band,
        cost_budget,
        objective,
        confidence,
    )
    after, after_rounded = figures(x), figures(rounded)
    cost = float(unit_cost @ np.abs(x - current))
    cost_rounded = float(unit_cost @ np.abs(rounded - current))
    notes = []
    b = after_rounded["beta"]
    if not band[0] - BETA_TOL <= b <= band[1] + BETA_TOL:
        notes.append(
            f"rounded to whole units, beta is {b:.4f}: outside the band "
            f"[{band[0]:.4f}, {band[1]:.4f}] (a smaller contract, e.g. a micro future, "
            "would close the gap)"
        )
    if cost_budget is not None and cost_rounded > cost_budget * (1 + REL_TOL):
        notes.append(
            f"rounded to whole units, the cost {cost_rounded:,.2f} is over the budget "
            f"{cost_budget:,.2f}"
        )
    return OverlayResult(
        objective=objective,
        sizes=dict(zip(names, x.tolist(), strict=True)),
        rounded={n: int(v) for n, v in zip(names, rounded, strict=True)},
        current=dict(zip(names, current.tolist(), strict=True)),
        before=before,
        after=after,
        after_rounded=after_rounded,
        cost=cost,
        cost_rounded=cost_rounded,
        beta_band=band,
        cost_budget=cost_budget,
        confidence=confidence,
        limits={c.name: c.limit() for c in candidates},
        binding=binding,
        notes=tuple(notes),
        solver=solver,
        tried=tried,
    )


def _solve(
    core: np.ndarray,
    h: np.ndarray,
    b: np.ndarray,
    b0: float,
    current: np.ndarray,
    lows: np.ndarray,
    highs: np.ndarray,
    unit_cost: np.ndarray,
    band: tuple[float, float],
    budget: float | None,
    objective: str,
    confidence: float,
    names: list[str],
) -> tuple[np.ndarray, str, tuple[str, ...], tuple[str, ...]]:
    """Solve for the sizes. ``core`` (T,) and ``h`` (T, n): daily P&L / NAV of the fixed part
    and of one unit of each candidate; ``b`` (n,): beta per unit; ``b0``: the fixed part's beta.

    Scaled for the solver: sizes ``x = scale * z`` with ``scale`` the units whose P&L is as
    volatile as the core's, and returns in units of the core's daily volatility.
    """
    days, n = h.shape
    sd_h = h.std(axis=0, ddof=1) if days > 1 else np.zeros(n)
    sd_core = float(core.std(ddof=1)) if days > 1 else 0.0
    ref = sd_core if sd_core > 0 else float(sd_h.max()) if sd_h.max() > 0 else 1.0
    room = np.maximum(np.abs(lows), np.abs(highs))
    scale = np.where(sd_h > 0, ref / np.where(sd_h > 0, sd_h, 1.0), np.maximum(room, 1.0))
    z = cp.Variable(n)
    x = cp.multiply(scale, z)
    hz = h * (scale / ref)  # (T, n): return per unit of z, in core volatilities
    if objective == "variance":
        resid = (core - core.mean()) / ref + (hz - hz.mean(axis=0)) @ z
        goal = cp.sum_squares(resid) / (days - 1)
        extra: list[cp.Constraint] = []
    else:
        alpha, u = cp.Variable(), cp.Variable(days, nonneg=True)
        goal = alpha + cp.sum(u) / ((1.0 - confidence) * days)
        extra = [u >= -(core / ref + hz @ z) - alpha]
    fence = _fence(z, x, scale, current, lows, highs, unit_cost, budget)
    lo, hi = band
    beta = b0 + (b * scale) @ z
    problem = cp.Problem(cp.Minimize(goal), [*fence, beta >= lo, beta <= hi, *extra])
    solver, tried = solve(problem)
    if not solver:
        if problem.status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
            _diagnose(b, b0, current, lows, highs, unit_cost, band, budget, scale, tried)
        raise OptimizationError(
            "the hedge overlay could not be solved", [f"solver status {problem.status}"], tried
        )
    xs = scale * np.asarray(z.value, dtype=np.float64)
    binding = []
    beta_x = b0 + float(b @ xs)
    if beta_x - lo <= BETA_TOL:
        binding.append(f"beta at least {lo:g} (the band's low edge)")
    if hi - beta_x <= BETA_TOL:
        binding.append(f"beta at most {hi:g} (the band's high edge)")
    if budget is not None:
        spent = float(unit_cost @ np.abs(xs - current))
        if budget - spent <= REL_TOL * max(budget, 1.0):
            binding.append(f"cost budget {budget:,.2f}")
    for name, size, low, high in zip(names, xs, lows, highs, strict=True):
        limit = max(-low, high)
        tol = REL_TOL * max(limit, 1.0)
        if limit - abs(size) <= tol:
            binding.append(
                f"{name}: size at its limit of {limit:g} units"
                + (" (short)" if size < 0 and limit > 0 else "")
            )
        elif low == 0 and size - low <= tol:
            binding.append(f"{name}: at 0, kept long (its sign limit)")
        elif high == 0 and high - size <= tol:
            binding.append(f"{name}: at 0, kept short (its sign limit)")
    return xs, solver, tried, tuple(binding)


def _fence(
    z: cp.Variable,
    x: cp.Expression,
    scale: np.ndarray,
    current: np.ndarray,
    lows: np.ndarray,
    highs: np.ndarray,
    unit_cost: np.ndarray,
    budget: float | None,
) -> list[cp.Constraint]:
    """The sign and size limits and the cost budget (the constraints other than the beta
    band).
    """
    out = [z >= lows / scale, z <= highs / scale]
    if budget is not None:
        k = budget if budget > 0 else 1.0  # cost in units of the budget
        out.append((unit_cost / k) @ cp.abs(x - current) <= budget / k)
    return out


def _diagnose(
    b: np.ndarray,
    b0: float,
    current: np.ndarray,
    lows: np.ndarray,
    highs: np.ndarray,
    unit_cost: np.ndarray,
    band: tuple[float, float],
    budget: float | None,
    scale: np.ndarray,
    tried: tuple[str, ...],
) -> None:
    """Raise an OptimizationError saying which constraint makes the overlay infeasible."""
    lo, hi = band
    within = "within the size limits" + ("" if budget is None else " and the cost budget")
    need = float(unit_cost @ (np.maximum(lows - current, 0.0) + np.maximum(current - highs, 0.0)))
    if budget is not None and need > budget * (1 + REL_TOL) + 1e-9:
        raise OptimizationError(
            "no hedge sizes satisfy the constraints",
            [
                f"bringing the current hedges within their size limits costs at least "
                f"{need:,.2f}; the cost budget is {budget:,.2f}"
            ],
            tried,
            f"raise the cost budget to at least {need:,.2f} or the size limits",
        )
    z = cp.Variable(len(b))
    fence = _fence(z, cp.multiply(scale, z), scale, current, lows, highs, unit_cost, budget)
    beta = b0 + (b * scale) @ z
    reach = []
    for sense in (cp.Maximize, cp.Minimize):
        p = cp.Problem(sense(beta), fence)
        if not solve(p)[0]:
            raise OptimizationError(
                "no hedge sizes satisfy the constraints",
                [f"the size limits and cost budget alone: {p.status}"],
                tried,
            )
        reach.append(float(p.value))
    top, bottom = reach
    hint = "widen the beta band, raise the size limits or the cost budget, or add a candidate"
    if (lows == 0).any() or (highs == 0).any():
        hint += " (or free the legs' signs: overlay_free_signs, --overlay-free-signs)"
    if top < lo:
        raise OptimizationError(
            "no hedge sizes satisfy the constraints",
            [
                f"the hedges can move beta only to {top:.4f} at most ({within}); the band starts "
                f"at {lo:.4f}"
            ],
            tried,
            hint,
        )
    if bottom > hi:
        raise OptimizationError(
            "no hedge sizes satisfy the constraints",
            [
                f"the hedges can bring beta down only to {bottom:.4f} ({within}); the band ends "
                f"at {hi:.4f}"
            ],
            tried,
            hint,
        )
    raise OptimizationError(
        "no hedge sizes satisfy the constraints",
        [
            f"beta can reach [{bottom:.4f}, {top:.4f}] {within}, which meets the band "
            f"[{lo:.4f}, {hi:.4f}], yet the solver reported infeasibility (numerical trouble)"
        ],
        tried,
    )

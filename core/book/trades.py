"""The plan's trade recommendations for a NAV: futures to bring beta to target, protective puts
and covered calls up to their coverage targets, and the ``[plan]`` sleeves (crypto, gold, oil,
FX, VIX futures) at their weights, each with its inputs visible.

Coverage and sleeve exposure already in the book count (a sleeve's: hedge legs in its contract
or on its price series, e.g. spot coins for a bitcoin sleeve): only the shortfall is
recommended.
Protective puts go on the core's own underlying (``targets.put_underlying``: by default the
largest holding when it is at least half the core, else the benchmark); covered calls are
written on the largest holding, never on more shares than the book holds. The beta hedge is
sized after the sleeves, so its residual beta counts their beta too.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from hedgedesk.core.book.plan import coverage, in_sleeve
from hedgedesk.core.book.sizing import futures_for_beta, option_coverage, round_half_away
from hedgedesk.core.book.valuation import (
    Line,
    MarketState,
    Position,
    Valuation,
    book_lines,
    contract_price,
    value_lines,
)
from hedgedesk.core.config import DeskConfig, Sleeve
from hedgedesk.core.errors import DataError
from hedgedesk.core.instruments import CONTRACTS, EQUITY, OPTION, OPTION_MULTIPLIER

# A holding at least this share of the core's value is the core's own underlying for puts.
CORE_SHARE_FOR_OWN_PUTS = 0.5

CONVENTIONS = (
    "futures: N = (beta target - beta now) x NAV / (price x multiplier x beta of the future), "
    "beta now including the sleeves' trades, rounded half away from zero; options: notional "
    "= contracts x underlying price x 100 (not delta-adjusted), coverage = notional / core "
    "value, checked against the plan range after the trade (existing + added); sleeves: "
    "N = (weight x NAV or usd - notional held) / (price x multiplier), whole contracts; "
    "futures priced from their proxy's close (no basis, no roll); option deltas are not in "
    "the residual beta"
)


@dataclass(frozen=True)
class Trade:
    """One recommended trade: whole contracts, the USD notional traded (futures) or covered
    (options), why, and the sizing inputs it came from.
    """

    instrument: str
    side: str  # buy | sell
    contracts: int
    size_usd: float  # notional traded (futures) or covered (options)
    purpose: str
    inputs: dict = field(default_factory=dict)  # what the size was computed from


@dataclass(frozen=True)
class Skipped:
    """A plan leg the trade list could not size, and what to add so it can."""

    leg: str
    reason: str


@dataclass(frozen=True)
class TradePlan:
    """The whole trade list for one NAV: the trades, the legs skipped and the book's beta
    before and after the futures and sleeve trades (option deltas not counted).
    """

    nav: float  # USD
    trades: tuple[Trade, ...]
    skipped: tuple[Skipped, ...]
    beta_before: float
    beta_after: float
    beta_target: float

    @property
    def residual_beta(self) -> float:
        """Beta after the trades minus the target."""
        return self.beta_after - self.beta_target


def scaled_lines(
    cfg: DeskConfig, state: MarketState, nav: float | None
) -> tuple[list[Line], float]:
    """The book's lines and cash scaled to ``nav`` (None: as configured)."""
    lines = book_lines(cfg)
    current = value_lines(lines, state, cfg.book.cash).nav
    k = 1.0 if nav is None else nav / current
    return [replace(ln, quantity=ln.quantity * k) for ln in lines], cfg.book.cash * k


def _sleeve(
    sl: Sleeve, cfg: DeskConfig, state: MarketState, val: Valuation
) -> tuple[Trade | None, float] | Skipped:
    """The sleeve's trade (None when on target) and the beta it adds, or why it is skipped."""
    spec = CONTRACTS.get(sl.contract)
    if spec is None:
        return Skipped(
            sl.name,
            f"no contract {sl.contract!r} in hedgedesk.core.instruments.CONTRACTS "
            f"(known: {', '.join(CONTRACTS)})",
        )
    try:
        price, underlying, beta_u = contract_price(sl.contract, cfg, state)
    except DataError as exc:
        return Skipped(sl.name, str(exc))
    nav = val.nav
    target = sl.weight * nav if sl.weight is not None else float(sl.usd or 0.0)
    held = sum(p.notional for p in val.positions if in_sleeve(p.line, sl.contract, underlying))
    per = price * spec.multiplier
    unrounded = (target - held) / per
    n = round_half_away(unrounded)
    after = held + n * per
    inputs = {
        "sleeve": sl.name,
        "bucket": sl.bucket,
        "contract": sl.contract,
        "weight": sl.weight,
        "usd": sl.usd,
        "target_usd": target,
        "held_usd": held,
        "nav": nav,
        "price": price,
        "multiplier": spec.multiplier,
        "notional_per_contract": per,
        "unrounded": unrounded,
        "contracts": n,
        "after_usd": after,
        "after_weight": after / nav,
        "priced_from": underlying,
        "beta_of_underlying": beta_u,
    }
    if not n:
        return None, 0.0
    goal = f"{sl.weight:+.1%} of NAV" if sl.weight is not None else f"{target:+,.0f} USD"
    trade = Trade(
        f"{sl.contract} ({spec.name})",
        "buy" if n > 0 else "sell",
        abs(n),
        abs(n) * per,
        f"{sl.bucket} sleeve {sl.name}: {goal} (held {held:+,.0f}, after {after:+,.0f} = "
        f"{after / nav:+.2%} of NAV); priced from {underlying}",
        inputs,
    )
    return trade, n * per * beta_u / nav


def _put_underlying(
    mode: str, holdings: list[Position], core: float, bench: str
) -> tuple[Position | None, str]:
    """The holding the protective puts go on (None: the benchmark) and why."""
    top = max(holdings, key=lambda p: p.market_value, default=None)
    if top is None or top.market_value <= 0 or mode == "benchmark":
        why = (
            "targets.put_underlying = benchmark"
            if mode == "benchmark"
            else "the core has no long holding to write them on"
        )
        return None, f"on the benchmark {bench}: {why}"
    share = top.market_value / core
    if mode == "largest":
        return top, (
            f"on {top.line.underlying}, the core's largest holding ({share:.0%} of the core): "
            "targets.put_underlying = largest"
        )
    if share >= CORE_SHARE_FOR_OWN_PUTS:
        return top, (
            f"on {top.line.underlying}, the core's own underlying ({share:.0%} of the core, "
            f">= {CORE_SHARE_FOR_OWN_PUTS:.0%})"
        )
    return None, (
        f"on the benchmark {bench}: the core is spread out (largest holding "
        f"{top.line.underlying} is {share:.0%}, < {CORE_SHARE_FOR_OWN_PUTS:.0%})"
    )


def _option_units(options: list[Position], underlying: str, right: str, sign: int) -> float:
    """Units of ``underlying`` already under long (sign 1) or short (sign -1) options."""
    return sign * sum(
        p.line.quantity * p.line.multiplier
        for p in options
        if p.line.right == right and p.line.underlying == underlying and p.line.quantity * sign > 0
    )


def plan_trades(cfg: DeskConfig, state: MarketState, nav: float | None = None) -> TradePlan:
    """The plan's trades for the book scaled to ``nav``: the ``[plan]`` sleeves at their
    weights, futures in ``targets.hedge_future`` to bring beta (sleeves included) to target
    (CONVENTIONS, "Futures and contract sizing"), then protective puts and covered calls up to
    the coverage targets, net of the coverage the book already has.

    Parameters
    ----------
    cfg : DeskConfig
        The book, its ``[targets]`` and its ``[plan]`` sleeves.
    state : MarketState
        As-of closes and betas.
    nav : float, optional
        NAV in USD to size for; the book's quantities and cash are scaled to it (None: the
        book as configured).

    Returns
    -------
    TradePlan
        Trades in the order futures, puts, calls, sleeves (each in whole contracts; none
        when nothing is needed), the sleeves that could not be priced, and the beta before
        and after the futures and sleeve trades.
    """
    lines, cash = scaled_lines(cfg, state, nav)
    targets = cfg.targets
    val = value_lines(lines, state, cash, targets=(targets.beta, targets.beta_band))
    trades: list[Trade] = []
    sleeve_trades: list[Trade] = []
    skipped: list[Skipped] = []
    sleeve_beta = 0.0
    for sl in cfg.plan.sleeves:
        got = _sleeve(sl, cfg, state, val)
        if isinstance(got, Skipped):
            skipped.append(got)
            continue
        trade, beta = got
        sleeve_beta += beta
        if trade is not None:
            sleeve_trades.append(trade)

    code = targets.hedge_future
    price, underlying, beta_f = contract_price(code, cfg, state)
    fut = futures_for_beta(
        beta_now=val.portfolio_beta + sleeve_beta,
        beta_target=targets.beta,
        nav=val.nav,
        price=price,
        multiplier=CONTRACTS[code].multiplier,
        beta_of_future=beta_f,
    )
    if fut.contracts:
        sleeves_note = f" incl. {sleeve_beta:+.3f} from the sleeves" if sleeve_beta else ""
        purpose = (
            f"beta {fut.beta_now:.2f}{sleeves_note} -> {fut.beta_after:.2f} (target "
            f"{targets.beta:.2f}, residual {fut.residual_beta:+.3f})"
        )
        if abs(fut.residual_beta) > targets.beta_band:
            purpose += "; still outside the band: size in the micro contract (MES, MNQ)"
        trades.append(
            Trade(
                f"{code} ({CONTRACTS[code].name})",
                "buy" if fut.contracts > 0 else "sell",
                abs(fut.contracts),
                abs(fut.contracts) * fut.notional_per_contract,
                purpose,
                {**fut.as_dict(), "priced_from": underlying, "beta_of_sleeves": sleeve_beta},
            )
        )

    def done() -> TradePlan:
        return TradePlan(
            val.nav,
            (*trades, *sleeve_trades),
            tuple(skipped),
            val.portfolio_beta,
            fut.beta_after,
            targets.beta,
        )

    holdings = [p for p in val.positions if p.line.kind == EQUITY and not p.line.is_hedge]
    core, have_puts, have_calls = coverage(val)
    if core <= 0:
        return done()
    options = [p for p in val.positions if p.line.kind == OPTION]
    want = max(targets.put_coverage - have_puts / core, 0.0)
    if want > 0:
        on, why = _put_underlying(targets.put_underlying, holdings, core, state.benchmark)
        cap, room = "", None
        if on is None:
            name, spot = state.benchmark, state.closes[state.benchmark]
        else:
            name, spot = on.line.underlying, on.underlying_price
            protected = _option_units(options, name, "put", 1)
            room = max(int((on.line.quantity - protected) // OPTION_MULTIPLIER), 0)
            cap = f"; at most the {on.line.quantity:,.0f} shares held"
        puts = option_coverage(
            core_notional=core,
            coverage=want,
            kind="put",
            underlying_price=spot,
            multiplier=OPTION_MULTIPLIER,
            existing=have_puts / core,
        )
        n = puts.contracts if room is None else min(puts.contracts, room)
        if n:
            after = (have_puts + n * spot * OPTION_MULTIPLIER) / core
            trades.append(
                Trade(
                    f"{name} put ({'on the benchmark' if on is None else 'on the core'})",
                    "buy",
                    n,
                    n * spot * OPTION_MULTIPLIER,
                    f"protect {targets.put_coverage:.0%} of the core (have "
                    f"{have_puts / core:.0%}, after {after:.1%}){cap}; {why}",
                    {
                        **puts.as_dict(),
                        "underlying": name,
                        "why": why,
                        "contracts_capped_at": room,
                    },
                )
            )

    want = max(targets.call_coverage - have_calls / core, 0.0)
    if want > 0 and holdings:
        top = max(holdings, key=lambda p: p.market_value)
        written = _option_units(options, top.line.underlying, "call", -1)
        room = max(int((top.line.quantity - written) // OPTION_MULTIPLIER), 0)  # stay covered
        calls = option_coverage(
            core_notional=core,
            coverage=want,
            kind="call",
            underlying_price=top.underlying_price,
            multiplier=OPTION_MULTIPLIER,
            existing=have_calls / core,
        )
        n = min(calls.contracts, room)
        if n:
            after = (have_calls + n * top.underlying_price * OPTION_MULTIPLIER) / core
            why = (
                f"on {top.line.underlying}, the core's largest holding "
                f"({top.market_value / core:.0%} of the core): calls are covered by its shares"
            )
            trades.append(
                Trade(
                    f"{top.line.underlying} call (covered)",
                    "sell",
                    n,
                    n * top.underlying_price * OPTION_MULTIPLIER,
                    f"income on {targets.call_coverage:.0%} of the core (have "
                    f"{have_calls / core:.0%}, after {after:.1%}); at most the "
                    f"{top.line.quantity:,.0f} shares held",
                    {
                        **calls.as_dict(),
                        "underlying": top.line.underlying,
                        "why": why,
                        "contracts_capped_at": room,
                    },
                )
            )
    return done()

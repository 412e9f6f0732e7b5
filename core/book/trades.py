"""The plan's trade recommendations for a NAV: futures to bring beta to target, protective puts
and covered calls up to their coverage targets, each with its inputs visible.

Coverage already in the book counts: only the shortfall is recommended. Puts are on the
benchmark index; covered calls are written on the largest holding, never on more shares than
the book holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from hedgedesk.core.book.plan import coverage
from hedgedesk.core.book.sizing import futures_for_beta, option_coverage
from hedgedesk.core.book.valuation import Line, MarketState, book_lines, contract_price, value_lines
from hedgedesk.core.config import DeskConfig
from hedgedesk.core.instruments import CONTRACTS, EQUITY, OPTION, OPTION_MULTIPLIER


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


def scaled_lines(
    cfg: DeskConfig, state: MarketState, nav: float | None
) -> tuple[list[Line], float]:
    """The book's lines and cash scaled to ``nav`` (None: as configured)."""
    lines = book_lines(cfg)
    current = value_lines(lines, state, cfg.book.cash).nav
    k = 1.0 if nav is None else nav / current
    return [replace(ln, quantity=ln.quantity * k) for ln in lines], cfg.book.cash * k


def trade_list(cfg: DeskConfig, state: MarketState, nav: float | None = None) -> list[Trade]:
    """The plan's trades for the book scaled to ``nav``: futures in ``targets.hedge_future``
    to bring beta to target (CONVENTIONS, "Futures and contract sizing"), then index puts and
    covered calls up to the coverage targets, net of the coverage the book already has.

    Parameters
    ----------
    cfg : DeskConfig
        The book and its ``[targets]``.
    state : MarketState
        As-of closes and betas.
    nav : float, optional
        NAV in USD to size for; the book's quantities and cash are scaled to it (None: the
        book as configured).

    Returns
    -------
    list of Trade
        In that order; empty when nothing is needed.
    """
    lines, cash = scaled_lines(cfg, state, nav)
    targets = cfg.targets
    val = value_lines(lines, state, cash, targets=(targets.beta, targets.beta_band))
    trades = []
    code = targets.hedge_future
    price, underlying, beta_f = contract_price(code, cfg, state)
    fut = futures_for_beta(
        beta_now=val.portfolio_beta,
        beta_target=targets.beta,
        nav=val.nav,
        price=price,
        multiplier=CONTRACTS[code].multiplier,
        beta_of_future=beta_f,
    )
    if fut.contracts:
        purpose = (
            f"beta {fut.beta_now:.2f} -> {fut.beta_after:.2f} (target {targets.beta:.2f}, "
            f"residual {fut.residual_beta:+.3f})"
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
                {**fut.as_dict(), "priced_from": underlying},
            )
        )

    holdings = [p for p in val.positions if p.line.kind == EQUITY and not p.line.is_hedge]
    core, have_puts, have_calls = coverage(val)
    if core <= 0:
        return trades
    options = [p for p in val.positions if p.line.kind == OPTION]
    bench = state.benchmark
    want = max(targets.put_coverage - have_puts / core, 0.0)
    if want > 0:
        puts = option_coverage(
            core_notional=core,
            coverage=want,
            kind="put",
            underlying_price=state.closes[bench],
            multiplier=OPTION_MULTIPLIER,
        )
        if puts.contracts:
            trades.append(
                Trade(
                    f"{bench} put (on the benchmark)",
                    "buy",
                    puts.contracts,
                    puts.covered_notional,
                    f"protect {targets.put_coverage:.0%} of the core (have {have_puts / core:.0%})",
                    puts.as_dict(),
                )
            )

    want = max(targets.call_coverage - have_calls / core, 0.0)
    if want > 0:
        top = max(holdings, key=lambda p: p.market_value)
        written = -sum(
            p.line.quantity * p.line.multiplier
            for p in options
            if p.line.right == "call"
            and p.line.underlying == top.line.underlying
            and p.line.quantity < 0
        )
        room = int((top.line.quantity - written) // OPTION_MULTIPLIER)  # stay covered
        calls = option_coverage(
            core_notional=core,
            coverage=want,
            kind="call",
            underlying_price=top.underlying_price,
            multiplier=OPTION_MULTIPLIER,
        )
        n = min(calls.contracts, max(room, 0))
        if n:
            trades.append(
                Trade(
                    f"{top.line.underlying} call (covered)",
                    "sell",
                    n,
                    n * top.underlying_price * OPTION_MULTIPLIER,
                    f"income on {targets.call_coverage:.0%} of the core (have "
                    f"{have_calls / core:.0%}); at most the {top.line.quantity:,.0f} shares held",
                    {**calls.as_dict(), "contracts_capped_at": max(room, 0)},
                )
            )
    return trades

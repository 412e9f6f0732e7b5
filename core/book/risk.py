"""The book's risk: a daily P&L history under constant positions with full revaluation of
options, historical and parametric VaR/CVaR, volatility, Sharpe, Sortino, drawdown, the
correlation of the book's underlyings, and the alerts against the desk's targets
(hedgedesk.core.book.alerts.check_limits).

Each historical day t moves every underlying by its actual return r[t]; linear lines lose or
gain ``quantity x multiplier x price x r``; options are repriced at ``S (1 + r)`` one calendar
day closer to expiry with their volatility unchanged (never approximated by delta). Book
returns are that P&L divided by today's NAV.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hedgedesk.core.beta import rolling_beta
from hedgedesk.core.book.alerts import Alert, check_limits
from hedgedesk.core.book.options import price_and_greeks
from hedgedesk.core.book.valuation import (
    Line,
    MarketState,
    Valuation,
    book_lines,
    priced_lines,
    time_to_expiry,
    value_book,
)
from hedgedesk.core.config import DeskConfig
from hedgedesk.core.instruments import OPTION
from hedgedesk.core.metrics import (
    Performance,
    TailRisk,
    equity_from_returns,
    historical_var,
    parametric_var,
    performance,
)

ONE_DAY = 1.0 / 365.0
BETA_HISTORY_WINDOW = 63  # returns in each point of the book's rolling beta (a quarter)


def pnl_history(lines: list[Line], state: MarketState) -> np.ndarray:
    """P&L of each line on each historical day under today's positions, with full option
    revaluation (see the module docstring).

    Parameters
    ----------
    lines : list of Line
        The positions.
    state : MarketState
        Today's closes and the daily simple returns of every underlying, shape
        (n_days, n_tickers).

    Returns
    -------
    ndarray, shape (n_days, n_lines)
        P&L in USD of each line on each day, in the order of ``lines``.
    """
    lines = priced_lines(lines, state)  # surface vols for legs without a configured vol
    out = np.empty((len(state.returns), len(lines)))
    returns = state.returns.to_numpy()  # one array: a column per line would cost a lookup each
    column = state.returns.columns.get_indexer([ln.underlying for ln in lines])
    for j, ln in enumerate(lines):
        if column[j] < 0:
            raise KeyError(ln.underlying)
        r = returns[:, column[j]]
        u0 = ln.scale * state.closes[ln.underlying]
        q = ln.quantity * ln.multiplier
        if ln.kind == OPTION:
            t0 = time_to_expiry(ln, state.asof)
            t1 = max(t0 - ONE_DAY, 1e-8)  # expiring tomorrow: worth intrinsic value then
            model = ln.model or "bsm"
            v0 = price_and_greeks(
                model, ln.right, u0, ln.strike, t0, state.rate, ln.div, ln.vol
            ).price
            v1 = price_and_greeks(
                model, ln.right, u0 * (1.0 + r), ln.strike, t1, state.rate, ln.div, ln.vol
            ).price
            out[:, j] = q * (v1 - v0)
        else:
            out[:, j] = q * u0 * r
    return out


@dataclass(frozen=True)
class RiskReport:
    """The book's risk over the ``[risk]`` window: its daily returns under today's positions,
    VaR/CVaR (1-day, positive fractions of NAV), performance, correlations and alerts.
    """

    valuation: Valuation
    dates: pd.DatetimeIndex  # of the historical days
    book_returns: np.ndarray  # P&L / NAV per day
    tail: tuple[TailRisk, ...]  # historical and parametric at 95 % and 99 %
    performance: Performance  # of the constant-position book over the window
    correlation: pd.DataFrame  # of the book's underlyings' daily returns
    alert_items: tuple[
        Alert, ...
    ]  # every limit crossed (hedgedesk.core.book.alerts), in ALERT_KEYS order
    # rolling OLS beta of the constant-position book on the benchmark (BETA_HISTORY_WINDOW
    # returns; NaN until a full window): today's book through history, for the sparkline
    beta_history: np.ndarray

    @property
    def alerts(self) -> tuple[str, ...]:
        """The alerts' sentences, as ``hedgedesk risk`` prints them."""
        return tuple(a.message for a in self.alert_items)

    def var(self, method: str, confidence: float) -> TailRisk:
        """The VaR/CVaR of ``method`` ("historical" or "parametric") at ``confidence``
        (0.95, 0.99 or the configured one).
        """
        return next(
            t
            for t in self.tail
            if t.method.startswith(method) and abs(t.confidence - confidence) < 1e-12
        )


def risk_report(cfg: DeskConfig, state: MarketState, lines: list[Line] | None = None) -> RiskReport:
    """The book's risk: P&L history / today's NAV as daily returns, their VaR/CVaR
    (CONVENTIONS, "Value at risk"), performance (its "Performance metrics", the config's
    ``rf`` and the state's periods per year), and the limits crossed.

    Parameters
    ----------
    cfg : DeskConfig
        The book, ``[risk]`` and ``[targets]``.
    state : MarketState
        As from :func:`~hedgedesk.core.book.valuation.market_state`.
    lines : list of Line, optional
        Positions to use instead of the configured book (a what-if).

    Returns
    -------
    RiskReport
        ``book_returns`` shape (n_days,) as fractions of NAV; tail risk historical and
        parametric at 95 %, 99 % and the configured confidence; ``beta_history`` shape
        (n_days,), the rolling OLS beta over ``BETA_HISTORY_WINDOW`` returns (NaN until full).
    """
    lines = book_lines(cfg) if lines is None else lines
    val = value_book(cfg, state, lines)
    pnl = pnl_history(lines, state)
    book = pnl.sum(axis=1) / val.nav
    levels = sorted({0.95, 0.99, cfg.risk.var_confidence})
    tail = tuple(f(book, a) for f in (historical_var, parametric_var) for a in levels)
    perf = performance(equity_from_returns(book), cfg.risk.rf, state.periods)
    underlyings = list(dict.fromkeys(ln.underlying for ln in lines))
    corr = state.correlation(underlyings)
    items = check_limits(val, perf, historical_var(book, cfg.risk.var_confidence), cfg.targets)
    bench = state.returns[state.benchmark].to_numpy()
    history = rolling_beta(book, bench, min(BETA_HISTORY_WINDOW, len(book)))
    return RiskReport(val, state.returns.index, book, tail, perf, corr, items, history)

"""The desk's limit checks as structured alerts, and the session's log of them.

:func:`check_limits` turns a valued book, its performance over the risk window and its 1-day
VaR into one :class:`Alert` per limit crossed: beta outside its target band, VaR over its
limit, volatility above target, drawdown beyond its limit, and option coverage outside the
plan's ranges. ``hedgedesk risk`` prints each alert's ``message``; the desk flags each figure
from the same alerts, so the two never disagree.

:class:`AlertLog` keeps, for one session, every alert raised: when, the value at the raise and
the worst value while it stayed active, the limit, and when it cleared. It reports the alerts
newly raised (to notify once) and logs each raise and clear to the ``hedgedesk.alerts`` logger.

Standard library only at import time: the desk imports this module before its first paint.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hedgedesk.core.book.valuation import Valuation
    from hedgedesk.core.config import Targets
    from hedgedesk.core.metrics import Performance, TailRisk

log = logging.getLogger("hedgedesk.alerts")

ALERT_KEYS = ("beta", "var", "volatility", "drawdown", "put_coverage", "call_coverage")
ABOVE, BELOW = "above", "below"


def format_value(key: str, x: float) -> str:
    """A figure as the desk shows it: beta signed (+0.51), VaR in % to 2 decimals, the rest
    in % to 1 decimal (volatility, drawdown, coverage).
    """
    if key == "beta":
        return f"{x:+.2f}"
    if key == "var":
        return f"{x:.2%}"
    return f"{x:.1%}"


@dataclass(frozen=True)
class Alert:
    """One limit crossed.

    ``limit`` is the bound crossed (for beta: target + band when above, target - band when
    below; for coverage: the end of the plan range crossed); ``bounds`` is the whole allowed
    range for a two-sided limit (beta's target band, coverage's plan range), None for a
    one-sided one. Drawdown is negative, its limit too (-0.20 for a 20 % limit), so a breach
    is ``below``.
    """

    key: str  # one of ALERT_KEYS, stable
    what: str  # short words: "beta", "VaR 95% 1d", "max drawdown", ...
    value: float
    limit: float
    direction: str  # ABOVE or BELOW: where value is against limit
    message: str  # the full sentence (the CLI's ALERT line)
    bounds: tuple[float, float] | None = None

    @property
    def arrow(self) -> str:
        """↑ above the limit, ↓ below it."""
        return "↑" if self.direction == ABOVE else "↓"

    @property
    def excess(self) -> float:
        """How far beyond the limit the value is (positive while breached)."""
        return self.value - self.limit if self.direction == ABOVE else self.limit - self.value

    @property
    def value_text(self) -> str:
        """The value as the desk shows it (:func:`format_value`)."""
        return format_value(self.key, self.value)

    @property
    def limit_text(self) -> str:
        """The limit as the desk shows it: beta as target±band, coverage as the plan range."""
        return limit_text(self.key, self.limit, self.bounds)

    def as_dict(self) -> dict:
        """The fields, the bounds as a list and the arrow, for JSON."""
        return {
            **asdict(self),
            "bounds": list(self.bounds) if self.bounds else None,
            "arrow": self.arrow,
        }


def limit_text(key: str, limit: float, bounds: tuple[float, float] | None) -> str:
    """A limit as the desk shows it: beta's band as target±band, a coverage range as lo-hi
    percent, a one-sided limit as :func:`format_value`.
    """
    if bounds is None:
        return format_value(key, limit)
    lo, hi = bounds
    if key == "beta":
        return f"{(lo + hi) / 2:.2f}±{(hi - lo) / 2:.2f}"
    return f"{lo:.0%}-{hi:.0%}"


# -- the checks --------------------------------------------------------------------------------
def check_limits(
    val: Valuation, perf: Performance, var: TailRisk, targets: Targets
) -> tuple[Alert, ...]:
    """Every limit the book crosses, in the order of ALERT_KEYS (keys unique).

    ``var`` is the book's historical VaR at the configured confidence; ``perf`` the
    performance of today's positions over the risk window. The first four messages are the
    sentences ``hedgedesk risk`` has always printed. A figure that is NaN crosses nothing.
    """
    t = targets
    out = []
    b = val.beta_status
    if b.breach:
        up = b.deviation > 0
        out.append(
            Alert(
                "beta",
                "beta",
                b.beta,
                b.target + b.band if up else b.target - b.band,
                ABOVE if up else BELOW,
                f"beta {b.describe()}",
                (b.target - b.band, b.target + b.band),
            )
        )
    if var.var > t.var_limit:
        out.append(
            Alert(
                "var",
                f"VaR {var.confidence:.0%} 1d",
                var.var,
                t.var_limit,
                ABOVE,
                f"VaR BREACH: 1-day historical VaR {var.confidence:.0%} "
                f"{var.var:.2%} of NAV > limit {t.var_limit:.2%}",
            )
        )
    vol = perf.annual_volatility
    if vol > t.volatility:
        out.append(
            Alert(
                "volatility",
                "volatility",
                vol,
                t.volatility,
                ABOVE,
                f"VOL ABOVE TARGET: {vol:.1%} > {t.volatility:.1%} "
                "(annualised, constant positions)",
            )
        )
    if -perf.max_drawdown > t.max_drawdown:
        out.append(
            Alert(
                "drawdown",
                "max drawdown",
                perf.max_drawdown,
                -t.max_drawdown,
                BELOW,
                f"DRAWDOWN: {perf.max_drawdown:.1%} over the window, limit -{t.max_drawdown:.0%}",
            )
        )
    out += coverage_alerts(val, t)
    return tuple(out)


def coverage_shares(val: Valuation) -> tuple[float, float] | None:
    """(long put notional, short call notional) as shares of the core's value, measured as
    ``hedgedesk size`` does (hedgedesk.core.book.plan.coverage); None for a book with no option
    line or no
    positive core value: coverage of it means nothing, and nothing is checked or shown.
    """
    from hedgedesk.core.book.plan import (
        # hedgedesk.core.book.plan imports hedgedesk.core.book.risk: import here, not above
        coverage,
    )
    from hedgedesk.core.instruments import OPTION

    if not any(p.line.kind == OPTION for p in val.positions):
        return None
    core, puts, calls = coverage(val)
    return (puts / core, calls / core) if core > 0 else None


def coverage_alerts(val: Valuation, targets: Targets) -> list[Alert]:
    """Put and call coverage of the core outside the plan's ranges (hedgedesk.core.book.sizing's
    PUT_COVERAGE and CALL_COVERAGE), measured as ``hedgedesk size`` does
    (hedgedesk.core.book.plan.coverage:
    long put notional and short call notional over the core's value).

    Zero is a breach when the book uses options: a book holding puts but no covered calls is
    below the call plan, and says so. Not checked, so that the desk does not nag a book that
    never meant to follow the options part of the plan:

    - a book with no option line at all (no puts, no calls, long or short);
    - a kind whose target is 0 (``targets.put_coverage = 0`` or ``call_coverage = 0``: the
      trade list then recommends none either);
    - a book whose core value is not positive (coverage of it means nothing).
    """
    from hedgedesk.core.book.sizing import CALL_COVERAGE, PUT_COVERAGE

    shares = coverage_shares(val)
    if shares is None:
        return []
    out = []
    for key, kind, cov, (lo, hi), target in (
        ("put_coverage", "long puts", shares[0], PUT_COVERAGE, targets.put_coverage),
        ("call_coverage", "covered calls", shares[1], CALL_COVERAGE, targets.call_coverage),
    ):
        if target == 0 or lo <= cov <= hi:
            continue
        above = cov > hi
        word = key.split("_")[0].upper()
        out.append(
            Alert(
                key,
                key.replace("_", " "),
                cov,
                hi if above else lo,
                ABOVE if above else BELOW,
                f"{word} COVERAGE {'ABOVE' if above else 'BELOW'} PLAN: {kind} cover "
                f"{cov:.1%} of the core, plan {lo:.0%}-{hi:.0%}",
                (lo, hi),
            )
        )
    return out


# -- the session's log -------------------------------------------------------------------------
@dataclass(frozen=True)
class AlertEntry:
    """One raise of an alert: from ``raised`` until ``cleared`` (None while active)."""

    key: str
    what: str
    raised: datetime
    value: float  # at the raise
    worst: float  # the value furthest beyond the limit while active
    limit: float  # at the raise
    bounds: tuple[float, float] | None
    direction: str  # at the raise
    message: str  # at the raise
    cleared: datetime | None = None
    worst_excess: float = field(default=0.0, repr=False)

    @property
    def active(self) -> bool:
        """Whether the alert has not cleared."""
        return self.cleared is None

    @property
    def arrow(self) -> str:
        """↑ above the limit, ↓ below it."""
        return "↑" if self.direction == ABOVE else "↓"

    @property
    def value_text(self) -> str:
        """The value at the raise, as the desk shows it."""
        return format_value(self.key, self.value)

    @property
    def worst_text(self) -> str:
        """The worst value while active, as the desk shows it."""
        return format_value(self.key, self.worst)

    @property
    def limit_text(self) -> str:
        """The limit at the raise, as the desk shows it (:func:`limit_text`)."""
        return limit_text(self.key, self.limit, self.bounds)


class AlertLog:
    """The session's alerts: each raise with its time, values and limit, and when it cleared.

    An alert whose key stays active is raised once, whatever its value does; one that clears
    and comes back is a new entry. Raises are logged at WARNING, clears at INFO, to the
    ``hedgedesk.alerts`` logger. Listeners (``subscribe``) are called after every change.
    """

    def __init__(self) -> None:
        self._entries: list[AlertEntry] = []
        self._active: dict[str, int] = {}  # key -> index of its open entry
        self._listeners: list[Callable[[], None]] = []

    @property
    def entries(self) -> tuple[AlertEntry, ...]:
        """Every raise of the session, oldest first."""
        return tuple(self._entries)

    @property
    def active(self) -> tuple[AlertEntry, ...]:
        """The entries not yet cleared, in the order they were raised."""
        return tuple(self._entries[i] for i in self._active.values())

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` after each change; returns the function that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def update(self, alerts: Iterable[Alert], now: datetime) -> list[Alert]:
        """Record the alerts active at ``now``; returns those newly raised (to notify once)."""
        current: dict[str, Alert] = {}
        for a in alerts:
            if a.key in current:
                raise ValueError(f"two alerts with the key {a.key!r}")
            current[a.key] = a
        raised, changed = [], False
        for key in [k for k in self._active if k not in current]:
            i = self._active.pop(key)
            e = self._entries[i] = replace(self._entries[i], cleared=now)
            changed = True
            log.info(
                "alert cleared: %s (raised %s at %s, worst %s, limit %s)",
                e.what,
                e.raised.strftime("%H:%M:%S"),
                e.value_text,
                e.worst_text,
                e.limit_text,
            )
        for key, a in current.items():
            if key in self._active:
                i = self._active[key]
                e = self._entries[i]
                if a.excess > e.worst_excess:
                    self._entries[i] = replace(e, worst=a.value, worst_excess=a.excess)
                    changed = True
                continue
            self._active[key] = len(self._entries)
            self._entries.append(
                AlertEntry(
                    key,
                    a.what,
                    now,
                    a.value,
                    a.value,
                    a.limit,
                    a.bounds,
                    a.direction,
                    a.message,
                    worst_excess=a.excess,
                )
            )
            raised.append(a)
            changed = True
            log.warning(
                "alert raised: %s %s %s, limit %s: %s",
                a.what,
                a.value_text,
                a.arrow,
                a.limit_text,
                a.message,
            )
        if changed:
            for listener in list(self._listeners):
                listener()
        return raised

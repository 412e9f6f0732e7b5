"""The Monitors pane: NAV, beta against its band, Greeks, VaR, volatility, drawdown and option
coverage against their limits, and the book's rolling beta as a sparkline.

Each line is a list of items (``VaR 95% 0.92%``) laid out to the pane's width: an item that
does not fit is dropped whole, so a line never wraps and a number is never cut. A breach is
coloured and carries a word and an arrow (``↑BREACH``), so it reads the same under NO_COLOR.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Sparkline, Static

from hedgedesk.tui.format import money, num, pct

if TYPE_CHECKING:
    from hedgedesk.core.book.alerts import Alert
    from hedgedesk.core.book.risk import RiskReport

BREACH = "bold reverse red"  # reverse survives NO_COLOR: a breach stands out in monochrome
OK = "green"
GAP = "  "


def fit(items: list[Text], width: int, flow: bool = False) -> list[Text]:
    """``items`` joined by two spaces on one line, dropping (from the end) those that would
    pass ``width``; with ``flow``, they go on to further lines instead. An item is never cut.
    """
    lines = [Text()]
    for item in items:
        line = lines[-1]
        if line.cell_len and line.cell_len + len(GAP) + item.cell_len > width:
            if not flow:
                break
            lines.append(line := Text())
        if line.cell_len:
            line.append(GAP)
        line.append_text(item)
    return lines


def _change(now: float, saved: float | None, fmt: Callable[[float], str]) -> str:
    """``(Δ+x)`` against the saved book, when an edit moved the figure."""
    if saved is None or abs(now - saved) <= 1e-9 * max(1.0, abs(saved)):
        return ""
    return f" (Δ{fmt(now - saved)})"


def flag(alert: Alert | None) -> Text:
    """`` ↑BREACH`` in the breach style, or nothing."""
    if alert is None:
        return Text()
    return Text.assemble(" ", (f"{alert.arrow}BREACH", BREACH))


def _item(*parts: str | Text | tuple[str, str]) -> Text:
    return Text.assemble(*parts)


def monitor_lines(
    rep: RiskReport,
    var_limit: float,
    confidence: float,
    saved: RiskReport | None = None,
    active: Mapping[str, Alert] | None = None,
) -> list[list[Text]]:
    """Four lines of items: NAV and beta; the book's Greeks in currency; VaR, CVaR,
    volatility and drawdown; the alerts and option coverage. ``active``: the breached limits
    by alert key (hedgedesk.core.book.alerts), each figure flagged; ``saved``: the saved book's
    report, for
    Δ markers.
    """
    active = active or {}
    val = rep.valuation
    b = val.beta_status
    old = saved.valuation if saved else None
    var = rep.var("historical", confidence)
    old_var = saved.var("historical", confidence).var if saved else None
    perf = rep.performance
    band = f"target {b.target:.2f}±{b.band:.2f}"
    beta_state = flag(active.get("beta")) if "beta" in active else Text.assemble(" ", ("ok", OK))
    signed_money = lambda x: money(x, signed=True)  # noqa: E731
    line1 = [
        _item(f"NAV {money(val.nav)}{_change(val.nav, old.nav if old else None, signed_money)}"),
        _item(
            f"beta {num(b.beta, signed=True)}",
            _change(b.beta, old.beta_status.beta if old else None, lambda x: num(x, signed=True)),
            beta_state,
            f" {band}",
        ),
    ]
    delta = val.total("dollar_delta")
    line2 = [
        _item(
            f"Delta$ {money(delta, signed=True)}",
            _change(delta, old.total("dollar_delta") if old else None, signed_money),
        ),
        _item(f"Gamma/1% {money(val.total('gamma_1pct_usd'), signed=True)}"),
        _item(f"Vega/pt {money(val.total('vega_1pt_usd'), signed=True)}"),
        _item(f"Theta/day {money(val.total('theta_1d_usd'), signed=True)}"),
    ]
    line3 = [
        _item(
            f"VaR {confidence:.0%} {pct(var.var, 2)}",
            _change(var.var, old_var, lambda x: ("+" if x > 0 else "") + pct(x, 2)),
            flag(active.get("var")),
            f" lim {pct(var_limit, 2)}",
        ),
        _item(f"CVaR {pct(var.cvar, 2)}"),
        _item(f"vol {pct(perf.annual_volatility)}", flag(active.get("volatility"))),
        _item(f"maxDD {pct(perf.max_drawdown)}", flag(active.get("drawdown"))),
    ]
    return [line1, line2, line3, coverage_items(val, active)]


def coverage_items(val, active: Mapping[str, Alert]) -> list[Text]:
    """Option coverage of the core against the plan (as ``hedgedesk size`` measures it), and
    the count of limits breached now (``A`` lists them).
    """
    from hedgedesk.core.book.alerts import coverage_shares
    from hedgedesk.core.book.sizing import CALL_COVERAGE, PUT_COVERAGE

    n = len(active)
    alerts = (
        _item((f"{n} alert{'s' if n > 1 else ''}", BREACH), " (A)")
        if n
        else _item(("no alerts", OK), " (A: log)")
    )
    shares = coverage_shares(val)
    if shares is None:
        return [alerts, _item("no options")]
    return [alerts] + [
        _item(f"{name} {pct(share)}", flag(active.get(key)), f" plan {lo * 100:.0f}-{hi:.0%}")
        for name, key, share, (lo, hi) in (
            ("puts", "put_coverage", shares[0], PUT_COVERAGE),
            ("calls", "call_coverage", shares[1], CALL_COVERAGE),
        )
    ]


class MonitorText(Static):
    """Lines of items fitted to the pane's width on every render (resizes included): on a
    wide desk (a narrow column with rows to spare) items flow onto more lines; below 120
    columns each stays one line and drops what does not fit.
    """

    def __init__(self, text: str = "", **kwargs):
        super().__init__(text, **kwargs)
        self.lines: list[list[Text]] | None = None

    def show(self, lines: list[list[Text]]) -> None:
        """Show ``lines``; the desk is laid out again only when the lines shown (and so the
        pane's height) change in number: an edit's new figures redraw this widget alone.
        """
        before = self._count()
        self.lines = lines
        self.refresh(layout=before is None or self._count() != before)

    def _count(self) -> int | None:
        """How many lines render shows at the current width (None: a plain message)."""
        if self.lines is None:
            return None
        return sum(len(fit(items, self._width(), self._flow())) for items in self.lines)

    def _width(self) -> int:
        return max(self.content_region.width, 1)

    def _flow(self) -> bool:
        return self.screen.has_class("-wide")  # the desk's breakpoint, not a copy of it

    def update(self, content="", **kwargs) -> None:  # a plain message (loading, an error)
        self.lines = None
        super().update(content, **kwargs)

    def render(self):
        if self.lines is None:
            return super().render()
        width, flow = self._width(), self._flow()
        return Text("\n").join(line for items in self.lines for line in fit(items, width, flow))


class MonitorsPane(Vertical):
    """The figures, then the book's 63-day rolling beta as a sparkline (today's positions
    through history).
    """

    def compose(self) -> ComposeResult:
        yield MonitorText("Loading market data…", id="summary")
        with Horizontal(id="beta-row"):
            yield Static("beta 63d ", id="beta-label")
            yield Sparkline([], id="beta-spark")

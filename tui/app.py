"""The desk: the book's holdings, hedge legs and monitors on real prices, computed in a worker.

The engine (pandas, scipy, numba) is imported inside the workers, not here: the first paint
waits only for Textual and the config (bench/startup.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from rich.markup import escape
from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Sparkline, Static
from textual.worker import Worker, WorkerState

from core.config import DeskConfig
from tui.format import money, num, pct
from tui.help import HelpScreen
from tui.sweep_pane import SweepPane

if TYPE_CHECKING:
    from core.market_data import MarketData
    from core.risk import RiskReport


def load_market(cfg: DeskConfig) -> MarketData:
    from core.sources import load_market

    return load_market(cfg)


def _right(*cells: str) -> list[Text]:
    return [Text(c, justify="right") for c in cells]


class DeskLoaded(Message):
    """The market data was loaded and the book valued."""

    def __init__(self, report: RiskReport, notices: tuple[str, ...]):
        super().__init__()
        self.report = report
        self.notices = notices


class HoldingsPane(Vertical):
    def compose(self) -> ComposeResult:
        table = DataTable(id="holdings", cursor_type="row", zebra_stripes=True)
        table.add_columns("Ticker", "Qty", "Price", "Value", "Wt", "Beta", "P&L")
        yield table


class HedgeLegsPane(Vertical):
    def compose(self) -> ComposeResult:
        table = DataTable(id="legs", cursor_type="row", zebra_stripes=True)
        table.add_columns("Leg", "Qty", "Notional", "Delta $", "Beta $", "Terms")
        yield table
        yield Static("", id="leg-note")  # how the highlighted leg is priced (proxy, modelled)


def monitor_lines(rep: RiskReport, var_limit: float, confidence: float) -> str:
    """Three lines: NAV and beta against target, Greeks, VaR and history. Words and arrows
    carry every alert, never colour alone."""
    val = rep.valuation
    b = val.beta_status
    status = b.describe() if b.breach else f"ok, target {b.target:.2f} ± {b.band:.2f}"
    var = rep.var("historical", confidence)
    var_flag = " BREACH" if var.var > var_limit else ""
    perf = rep.performance
    return (f"As of {val.asof}  NAV {money(val.nav)}  beta {num(b.beta, signed=True)} "
            f"({status})\n"
            f"Delta$ {money(val.total('dollar_delta'), signed=True)}  Gamma/1% "
            f"{money(val.total('gamma_1pct_usd'), signed=True)}  Vega/pt "
            f"{money(val.total('vega_1pt_usd'), signed=True)}  Theta/day "
            f"{money(val.total('theta_1d_usd'), signed=True)}\n"
            f"VaR {confidence:.0%} 1d hist {pct(var.var, 2)}{var_flag} (limit "
            f"{pct(var_limit, 2)}) CVaR {pct(var.cvar, 2)}  vol {pct(perf.annual_volatility)}"
            f"  maxDD {pct(perf.max_drawdown)}")


class MonitorsPane(Vertical):
    """NAV, beta against its target band, Greeks, VaR and drawdown, and the book's rolling beta
    as a sparkline (today's positions through history)."""

    def compose(self) -> ComposeResult:
        yield Static("Loading market data…", id="summary")
        with Horizontal(id="beta-row"):
            yield Static("beta 63d ", id="beta-label")
            yield Sparkline([], id="beta-spark")


class DeskApp(App):
    """hedgedesk's main screen. ``market_loader`` is injectable so tests can pass their own."""

    TITLE = "hedgedesk"
    CSS_PATH = "desk.tcss"
    HORIZONTAL_BREAKPOINTS: ClassVar = [(0, "-narrow"), (120, "-wide")]
    BINDINGS: ClassVar[list[Binding]] = [
        Binding("q", "quit", "Quit"),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True),
        Binding("w", "sweep", "Sweep"),
        Binding("escape", "cancel_sweep", "Cancel sweep", show=False),
        Binding("f5", "reload", "Reload"),
        Binding("question_mark", "help", "Help"),
        Binding("tab", "focus_next", "Next pane", show=False),
    ]

    def __init__(self, cfg: DeskConfig,
                 market_loader: Callable[[DeskConfig], MarketData] = load_market):
        super().__init__()
        self.cfg = cfg
        self._market_loader = market_loader
        self.market: MarketData | None = None
        self.report: RiskReport | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Grid(id="desk"):
            holdings = HoldingsPane(id="holdings-pane", classes="pane")
            holdings.border_title = "Holdings"
            yield holdings
            legs = HedgeLegsPane(id="legs-pane", classes="pane")
            legs.border_title = "Hedge legs"
            yield legs
            monitors = MonitorsPane(id="monitors-pane", classes="pane")
            monitors.border_title = "Monitors"
            yield monitors
            sweep = SweepPane(id="sweep-pane", classes="pane")
            sweep.border_title = "Sweep"
            yield sweep
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"{self.cfg.book.name} — {self.cfg.path.name}"
        # paint first: the load's imports (pandas, scipy) would hold the GIL against it
        self.call_after_refresh(self.load_desk)

    def action_reload(self) -> None:
        self.query_one("#summary", Static).update("Reloading market data…")
        self.load_desk()

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self))

    def action_sweep(self) -> None:
        pane = self.query_one(SweepPane)
        if self.cfg.sweep is None:
            self.notify(escape("the config has no [sweep] table to run"), title="Sweep",
                        severity="warning")
        elif self.market is None:
            self.notify("the market data is still loading", title="Sweep")
        elif not pane.start(sweep_request(self.cfg), self.market, _ledger()):
            self.notify("a sweep is already running (Esc cancels it)", title="Sweep")

    def action_cancel_sweep(self) -> None:
        self.query_one(SweepPane).stop()

    async def action_quit(self) -> None:
        """Quit; a running sweep is cancelled first so the ledger records it, resumable."""
        pane = self.query_one(SweepPane)
        if pane.running:
            pane.stop()
            await self.workers.wait_for_complete(
                [w for w in self.workers if w.group == "sweep"])
        self.exit()

    @work(thread=True, exclusive=True, exit_on_error=False, group="load")
    def load_desk(self) -> None:
        from core.risk import risk_report
        from core.valuation import market_state

        market = self._market_loader(self.cfg)
        report = risk_report(self.cfg, market_state(self.cfg, market))
        self.market = market
        self.post_message(DeskLoaded(report, market.notices))

    def on_desk_loaded(self, message: DeskLoaded) -> None:
        rep = self.report = message.report
        for notice in message.notices:
            self.notify(escape(notice), title="Data", severity="warning", timeout=10)
        self.query_one("#summary", Static).update(
            monitor_lines(rep, self.cfg.targets.var_limit, self.cfg.risk.var_confidence))
        history = rep.beta_history[np.isfinite(rep.beta_history)]
        self.query_one("#beta-spark", Sparkline).data = list(history)
        self.query_one("#beta-label", Static).update(
            f"beta 63d {num(history.min()) if history.size else '—'}.."
            f"{num(history.max()) if history.size else '—'} ")
        holdings = self.query_one("#holdings", DataTable)
        legs = self.query_one("#legs", DataTable)
        holdings.clear()
        legs.clear()
        for i, p in enumerate(rep.valuation.positions):
            ln = p.line
            if ln.is_hedge:
                legs.add_row(ln.name, *_right(num(ln.quantity, 0, signed=True),
                                              money(p.notional, signed=True),
                                              money(p.dollar_delta, signed=True),
                                              money(p.beta_dollars, signed=True)),
                             _terms(ln), key=str(i))
            else:
                holdings.add_row(ln.name, *_right(num(ln.quantity, 0), num(p.unit_price),
                                                  money(p.market_value), pct(p.weight),
                                                  num(p.beta), money(p.pnl, signed=True)),
                                 key=str(i))
        holdings.focus()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "legs" and self.report and event.row_key.value is not None:
            p = self.report.valuation.positions[int(event.row_key.value)]
            self.query_one("#leg-note", Static).update(f"{p.line.name}: {p.line.price_note()}")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        if event.worker.group == "sweep":
            self.query_one(SweepPane).failed(error)
            self.notify(escape(str(error)), title="Sweep failed", severity="error", timeout=15)
            return
        self.query_one("#summary", Static).update(f"Could not load the desk: {error}")
        self.notify(escape(str(error)), title="Error", severity="error", timeout=15)


def sweep_request(cfg: DeskConfig):
    """The config's [sweep] grid as a request (its score targets, the risk-free rate)."""
    from core.sweep import SweepRequest
    from core.sweep_grid import Grid, estimators, parse_leg
    from core.sweep_score import ScoreTargets

    s = cfg.sweep
    grid = Grid(legs=tuple(parse_leg(t) for t in s.long), hedge=s.hedge,
                rebalance=s.rebalance, window=s.window,
                estimator=estimators(s.estimator, s.ewma_halflife), exposure=s.exposure,
                hedge_ratio=s.hedge_ratio, drift_band=s.drift_band, cost=s.cost,
                impact=s.impact)
    return SweepRequest(grid, start=cfg.data.start, end=cfg.data.end, rf=cfg.risk.rf,
                        targets=ScoreTargets(**s.score))


def _ledger():
    from core.sweep_ledger import Ledger

    return Ledger()


def _terms(ln) -> str:
    if ln.right:
        return f"{ln.right} {ln.strike:g} {ln.expiry:%d%b%y} σ{ln.vol:.0%}"
    if ln.contract:
        return f"{ln.contract} x{ln.multiplier:g} on {ln.underlying}"
    return ln.underlying

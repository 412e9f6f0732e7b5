"""The desk: the book's holdings and hedge legs on real prices, loaded in a worker."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Static
from textual.worker import Worker, WorkerState

from core.book import BookSnapshot, snapshot
from core.config import DeskConfig
from core.market_data import MarketData
from core.sources import load_market
from tui.format import money, num, pct


def _right(*cells: str) -> list[Text]:
    return [Text(c, justify="right") for c in cells]


class DeskLoaded(Message):
    """The market data was loaded and the book valued."""

    def __init__(self, snap: BookSnapshot, notices: tuple[str, ...]):
        super().__init__()
        self.snap = snap
        self.notices = notices


class HoldingsPane(Vertical):
    def compose(self) -> ComposeResult:
        table = DataTable(id="holdings", cursor_type="row", zebra_stripes=True)
        table.add_columns("Ticker", "Qty", "Price", "Value", "Wt", "Beta", "P&L")
        yield table


class HedgeLegsPane(Vertical):
    def compose(self) -> ComposeResult:
        table = DataTable(id="legs", cursor_type="row", zebra_stripes=True)
        table.add_columns("Leg", "Qty", "Und", "Und px", "Notional", "Terms")
        yield table
        yield Static("", id="leg-note")  # how the highlighted leg is priced (proxy, modelled)


class DeskApp(App):
    """hedgedesk's main screen. ``market_loader`` is injectable so tests can pass their own."""

    TITLE = "hedgedesk"
    CSS_PATH = "desk.tcss"
    BINDINGS: ClassVar[list[Binding]] = [
        Binding("q", "quit", "Quit"),
        Binding("r", "reload", "Reload data"),
        Binding("tab", "focus_next", "Next pane", show=False),
    ]

    def __init__(self, cfg: DeskConfig,
                 market_loader: Callable[[DeskConfig], MarketData] = load_market):
        super().__init__()
        self.cfg = cfg
        self._market_loader = market_loader
        self.snap: BookSnapshot | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Loading market data…", id="summary")
        holdings = HoldingsPane(id="holdings-pane", classes="pane")
        holdings.border_title = "Holdings"
        yield holdings
        legs = HedgeLegsPane(id="legs-pane", classes="pane")
        legs.border_title = "Hedge legs"
        yield legs
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"{self.cfg.book.name} — {self.cfg.path.name}"
        self.load_desk()

    def action_reload(self) -> None:
        self.query_one("#summary", Static).update("Reloading market data…")
        self.load_desk()

    @work(thread=True, exclusive=True, exit_on_error=False, group="load")
    def load_desk(self) -> None:
        market = self._market_loader(self.cfg)
        self.post_message(DeskLoaded(snapshot(self.cfg, market), market.notices))

    def on_desk_loaded(self, message: DeskLoaded) -> None:
        snap = self.snap = message.snap
        for notice in message.notices:
            self.notify(notice, title="Data", severity="warning", timeout=10)
        self.query_one("#summary", Static).update(
            f"As of {snap.asof}  {self.cfg.data.source} data  benchmark {snap.benchmark}  "
            f"cash {money(snap.cash)}\n"
            f"Holdings {money(snap.holdings_value)}  beta {num(snap.holdings_beta)} "
            f"(OLS {snap.beta_returns}d, ex-hedges)")
        holdings = self.query_one("#holdings", DataTable)
        holdings.clear()
        for h in snap.holdings:
            holdings.add_row(h.ticker, *_right(num(h.quantity, 0), num(h.price),
                                               money(h.market_value), pct(h.weight), num(h.beta),
                                               money(h.pnl, signed=True)), key=h.ticker)
        legs = self.query_one("#legs", DataTable)
        legs.clear()
        for i, leg in enumerate(snap.legs):
            qty, px, notional = _right(num(leg.quantity, 0, signed=True),
                                       num(leg.underlying_price), money(leg.notional, signed=True))
            legs.add_row(leg.name, qty, leg.underlying, px, notional, leg.terms, key=str(i))
        self.query_one("#holdings", DataTable).focus()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "legs" and self.snap and event.row_key.value is not None:
            leg = self.snap.legs[int(event.row_key.value)]
            self.query_one("#leg-note", Static).update(f"{leg.name}: {leg.price_note}")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            self.query_one("#summary", Static).update(f"Could not load the desk: {error}")
            self.notify(str(error), title="Error", severity="error", timeout=15)

"""The desk: the book's holdings, hedge legs and monitors on real prices, computed in a worker.

The engine (pandas, scipy, numba) is imported inside the workers, not here: the first paint
waits only for Textual and the config (bench/startup.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.markup import escape
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Container, Vertical
from textual.coordinate import Coordinate
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Sparkline, Static
from textual.worker import Worker, WorkerState

from hedgedesk.core.book.alerts import AlertLog
from hedgedesk.core.config import DeskConfig
from hedgedesk.core.errors import HedgedeskError
from hedgedesk.tui.format import money, num, pct, quantity, signed_money
from hedgedesk.tui.messages import (
    BookRecomputed,
    BookTablePaged,
    DeskLoaded,
    LiveStatusChanged,
    PricesFetched,
)
from hedgedesk.tui.screens.forms import KIND_FIELDS, KIND_NOTES, FormScreen, PickScreen
from hedgedesk.tui.screens.help import HelpScreen
from hedgedesk.tui.widgets.book_table import BookTable
from hedgedesk.tui.widgets.monitors import MonitorsPane, MonitorText, monitor_lines
from hedgedesk.tui.widgets.sweep_pane import SweepPane

if TYPE_CHECKING:
    from hedgedesk.core.book.clock import ReplayClock
    from hedgedesk.core.book.edit import BookEditor
    from hedgedesk.core.book.risk import RiskReport
    from hedgedesk.core.book.valuation import MarketState
    from hedgedesk.core.data.market import MarketData


def load_market(cfg: DeskConfig) -> MarketData:
    from hedgedesk.core.data.sources import load_market

    return load_market(cfg)


HOLDING_COLUMNS = ["Ticker", "Qty", "Price", "Value", "Wt", "Beta", "P&L"]
LEG_COLUMNS = [
    "Leg",
    "Qty",
    "Notional",
    "Delta $",
    "Beta $",
    "Terms",
    "Kind",
    "Side",
    "Gamma/1%",
    "Vega/pt",
    "Theta/day",
]


class HoldingsPane(Vertical):
    ALLOW_MAXIMIZE = True  # z: the pane full screen

    def compose(self) -> ComposeResult:
        yield BookTable(HOLDING_COLUMNS, right={1, 2, 3, 4, 5, 6}, id="holdings")


class HedgeLegsPane(Vertical):
    ALLOW_MAXIMIZE = True

    def compose(self) -> ComposeResult:
        yield BookTable(LEG_COLUMNS, right={1, 2, 3, 4, 8, 9, 10}, id="legs")
        yield Static("", id="leg-note", markup=False)  # how the highlighted leg is priced


class DeskApp(App):
    """hedgedesk's main screen. ``market_loader`` is injectable so tests can pass their own."""

    TITLE = "hedgedesk"
    CSS_PATH = "desk.tcss"
    HORIZONTAL_BREAKPOINTS: ClassVar = [(0, "-narrow"), (120, "-wide")]
    BINDINGS: ClassVar[list[Binding]] = [
        # footer: the screens and the everyday keys, short; the palette and help show tooltips
        Binding("question_mark", "help", "Help", tooltip="Help: every key"),
        Binding("q", "quit", "Quit"),
        Binding("e", "edit", "Edit", tooltip="Edit the highlighted row"),
        Binding("w", "sweep", "Sweep", tooltip="Run the config's sweep grid"),
        Binding("W", "sweep_screen", "Sweeps", tooltip="Sweep screen: leaderboard, runs"),
        Binding("o", "optimizer", "Opt", tooltip="Optimiser screen"),
        Binding("c", "scenarios", "Scen", tooltip="Scenarios screen"),
        Binding("b", "backtest", "Bt", tooltip="Backtest screen"),
        Binding("g", "data", "Data", tooltip="Data screen"),
        Binding("p", "replay", "Play", tooltip="Replay history / pause"),
        Binding(
            "A",
            "alerts",
            "Alerts",
            show=False,
            tooltip="Alerts this session: raised, value, limit, cleared",
        ),
        # screens are modal (the desk's keys stop there) and R types a letter in a form, so
        # ctrl+o is a priority key: the report of whatever screen is in view
        Binding(
            "ctrl+o",
            "report",
            "Report",
            show=False,
            priority=True,
            tooltip="Report of the screen in view: md, PNG, PDF",
        ),
        Binding("R", "report", "Report", show=False, tooltip="Report of the book (on the desk)"),
        Binding("ctrl+q,ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("escape", "cancel_sweep", "Cancel sweep", show=False),
        Binding("f5", "reload", "Reload", show=False, tooltip="Reload the market data"),
        Binding("full_stop", "replay_step(1)", "Replay: next day", show=False),
        Binding("comma", "replay_step(-1)", "Replay: previous day", show=False),
        Binding("right_square_bracket", "replay_speed(True)", "Replay faster", show=False),
        Binding("left_square_bracket", "replay_speed(False)", "Replay slower", show=False),
        Binding("L", "live", "Back to live", show=False),
        Binding("z", "zoom", "Zoom", show=False, tooltip="Zoom the book pane to full screen"),
        Binding("j", "cursor(1)", "Down", show=False),
        Binding("k", "cursor(-1)", "Up", show=False),
        Binding("a", "add", "Add", show=False, tooltip="Add a holding or a hedge leg"),
        Binding("d", "delete", "Delete row", show=False),
        Binding("plus,equals_sign", "nudge(1)", "Size +", show=False),
        Binding("minus", "nudge(-1)", "Size -", show=False),
        Binding("x", "shock", "Price shock", show=False),
        Binding("u", "undo", "Undo", show=False),
        Binding("ctrl+r", "redo", "Redo", show=False),
        Binding("s", "save", "Save", show=False, tooltip="Save the book to the config file"),
        Binding("r", "revert", "Revert to saved", show=False),
        Binding("t", "ticket", "Trades", show=False, tooltip="Trade ticket: apply, export CSV"),
        Binding("n", "whatifs", "What-ifs", show=False, tooltip="Named what-ifs: save, compare"),
        Binding("B", "books", "Books", show=False, tooltip="Books open: switch, open, close"),
        Binding("S", "save_as", "Save as", show=False, tooltip="Save the book as a new file"),
        Binding("I", "import_positions", "Import", show=False, tooltip="Import a broker CSV"),
        Binding("l", "pnl", "P&L", show=False, tooltip="P&L explained, Greeks by underlying"),
    ]

    def __init__(
        self,
        cfg: DeskConfig,
        market_loader: Callable[[DeskConfig], MarketData] = load_market,
        fetcher: Callable | None = None,
    ):
        super().__init__()
        self.cfg = cfg
        self._market_loader = market_loader
        self._fetcher = fetcher  # hedgedesk.core.data.yahoo.fetch unless a test passes its own
        self._live_timer = None
        self.live_note = ""  # "live, updated 14:02" or "STALE since 14:03: why"
        self.market: MarketData | None = None
        self.report: RiskReport | None = None
        self.saved_report: RiskReport | None = None  # the saved book's, for change markers
        self._editor: BookEditor | None = None
        self.clock: ReplayClock | None = None  # replaying history, else None (latest close)
        self._replay_timer = None
        self._generation = 0  # of the newest recompute request
        self._in_flight = False
        # market states by state_key, for self._states_of: an edit of quantities or terms
        # reuses the one prepared for the check instead of preparing it again
        self._states: dict[tuple, MarketState] = {}
        self._states_of: MarketData | None = None
        self._reveal: tuple[str, int] | None = None  # (table, row) to show after the next paint
        self.alert_log = AlertLog()  # every limit breached this session, raised and cleared
        self._books: list | None = None  # the books open (BookSession), once a second is opened
        self._book_at = 0  # the one on the desk
        self._optimizer_screen = None  # the last optimiser screen opened: its result feeds `t`

    def compose(self) -> ComposeResult:
        yield Header()
        # below 120 columns holdings and legs share one slot (tab switches): both stay whole
        with Container(id="desk", classes="-show-holdings"):
            yield HoldingsPane(id="holdings-pane", classes="pane book")
            yield HedgeLegsPane(id="legs-pane", classes="pane book")
            monitors = MonitorsPane(id="monitors-pane", classes="pane")
            monitors.border_title = "Monitors"
            yield monitors
            sweep = SweepPane(id="sweep-pane", classes="pane")
            sweep.border_title = "Sweep"
            yield sweep
        yield Footer(compact=True)  # the screens' keys must fit 80 columns

    def _titles(self) -> None:
        """Each book pane's title: a ``▶`` on the focused one (its keys act there), row
        counts, the columns shown, and the other table's key.
        """
        counts = {
            "holdings": self.query_one("#holdings", BookTable).count,
            "legs": self.query_one("#legs", BookTable).count,
        }
        names = {"holdings": "Holdings", "legs": "Hedge legs"}
        for key, other in (("holdings", "legs"), ("legs", "holdings")):
            pane = self.query_one(f"#{key}-pane")
            table = self.query_one(f"#{key}", BookTable)
            mark = "▶ " if table.has_focus else ""
            pane.border_title = f"{mark}{names[key]} ({counts[key]})"
            cols = table.columns_note()
            pane.border_subtitle = " · ".join(
                [*([cols] if cols else []), f"tab: {names[other].lower()} ({counts[other]})"]
            )

    def on_descendant_focus(self, event) -> None:
        if isinstance(event.widget, BookTable):
            show = "-show-legs" if event.widget.id == "legs" else "-show-holdings"
            self.query_one("#desk").set_classes(show)
        self._titles()

    def on_descendant_blur(self, event) -> None:
        self._titles()

    def on_book_table_paged(self, event: BookTablePaged) -> None:
        self._titles()

    def action_switch_table(self) -> None:
        """Holdings <-> hedge legs; below 120 columns the other table takes the slot."""
        holdings = self.query_one("#holdings", BookTable)
        target = self.query_one("#legs" if holdings.has_focus else "#holdings", BookTable)
        self.query_one("#desk").set_classes(
            "-show-legs" if target.id == "legs" else "-show-holdings"
        )
        target.focus()

    def action_zoom(self) -> None:
        """The focused book pane full screen, or back."""
        if self.screen.maximized is not None:
            self.screen.minimize()
        elif isinstance(self.focused, BookTable):
            self.screen.maximize(self.focused.parent, container=False)

    def get_system_commands(self, screen) -> Iterable[SystemCommand]:
        """The command palette (ctrl+p) offers every desk action by name, with its key."""
        yield from super().get_system_commands(screen)
        for b in self.BINDINGS:
            if b.description and b.action not in ("quit", "focus_next"):
                keys = " / ".join(
                    self.get_key_display(Binding(k, b.action)) for k in b.key.split(",")
                )
                yield SystemCommand(
                    b.tooltip or b.description, f"key: {keys}", partial(self.run_action, b.action)
                )

    def on_mount(self) -> None:
        self.sub_title = f"{self.cfg.book.name} — {self.cfg.path.name}"
        # paint first: the load's imports (pandas, scipy) would hold the GIL against it
        self.call_after_refresh(self.load_desk)

    def action_reload(self) -> None:
        self.query_one("#summary", MonitorText).update("Reloading market data…")
        self.load_desk()

    def action_cursor(self, step: int) -> None:
        """J and k move in the focused table, as the arrows do."""
        table = self.focused
        if isinstance(table, DataTable) and table.row_count:
            table.move_cursor(row=min(max(table.cursor_row + step, 0), table.row_count - 1))

    def action_alerts(self) -> None:
        from hedgedesk.tui.screens.alerts import AlertsScreen

        self.push_screen(AlertsScreen(self.alert_log))

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self))

    def _open(self, title: str, make: Callable[[], Screen]) -> None:
        """Push a screen that needs the market data (its module imported on first use)."""
        if self.market is None:
            self.notify("the market data is still loading", title=title)
        else:
            self.push_screen(make())

    def action_data(self) -> None:
        from hedgedesk.tui.screens.data import DataScreen

        self._open("Data", lambda: DataScreen(self.cfg, self.market))

    def action_scenarios(self) -> None:
        from hedgedesk.tui.screens.scenarios import ScenariosScreen

        self._open(
            "Scenarios",
            lambda: ScenariosScreen(
                self.cfg, self.market, self._editor.shocks if self._editor else {}
            ),
        )

    def action_backtest(self) -> None:
        from hedgedesk.tui.screens.backtest import BacktestScreen

        self._open("Backtest", lambda: BacktestScreen(self.cfg, self.market))

    def action_optimizer(self) -> None:
        from hedgedesk.tui.screens.optimizer import OptimizerScreen

        def make() -> OptimizerScreen:
            self._optimizer_screen = OptimizerScreen(self.cfg, self.market)  # the ticket's (t)
            return self._optimizer_screen

        self._open("Optimiser", make)

    def action_sweep_screen(self) -> None:
        from hedgedesk.tui.screens.sweep import SweepScreen

        self._open(
            "Sweep",
            lambda: SweepScreen(self.cfg, self.market, result=self.query_one(SweepPane).result),
        )

    def on_prices_fetched(self, message: PricesFetched) -> None:
        """New data fetched on the Data screen: value the book on it."""
        self.market = message.market
        self.load_desk()

    def action_sweep(self) -> None:
        pane = self.query_one(SweepPane)
        if self.cfg.sweep is None:
            self.notify(
                escape("the config has no [sweep] table to run"), title="Sweep", severity="warning"
            )
        elif self.market is None:
            self.notify("the market data is still loading", title="Sweep")
        elif pane.running:
            self.notify("a sweep is already running (Esc cancels it)", title="Sweep")
        else:  # the pane closes the ledger when the sweep ends
            pane.start(
                sweep_request(self.cfg),
                self.market,
                _ledger(),
                cluster=_cluster(self.cfg),
                close_ledger=True,
            )

    def action_report(self) -> None:
        """Write the report of the current screen in a worker; its folder is notified."""
        from hedgedesk.tui.report_action import for_screen, report_folder

        if self.market is None:
            self.notify("the market data is still loading", title="Report")
            return
        try:
            job = for_screen(self)
        except HedgedeskError as exc:
            self.notify(escape(str(exc)), title="Report", severity="warning")
            return
        out = report_folder(job.request.what[0])
        self.notify(escape(f"writing {out} …"), title="Report")
        self._write_report(job, out)

    @work(thread=True, exit_on_error=False, group="report")
    def _write_report(self, job, out) -> None:
        from hedgedesk.core.report import build_report, write_report
        from hedgedesk.core.sweep.ledger import Ledger

        ledger = (
            Ledger(Path(job.ledger_path) if job.ledger_path else None)
            if job.request.what[0].startswith("sweep:")
            else None
        )
        try:
            report = build_report(job.cfg, self.market, job.request, ledger)
        finally:
            if ledger is not None:
                ledger.close()
        write_report(report, out)
        self.call_from_thread(
            self.notify, escape(f"report written: {out}/report.pdf"), title="Report", timeout=15
        )

    def action_cancel_sweep(self) -> None:
        self.query_one(SweepPane).stop()

    async def action_quit(self) -> None:
        """Quit; with unsaved edits, ask first: save, discard or stay."""
        others = self._other_unsaved_books()  # the other open books' edits count too
        here = self._editor is not None and self._editor.dirty
        if not here and not others:
            await self._quit()
            return
        from hedgedesk.tui.screens.dialogs import ChoiceScreen

        changes = self._editor.changes() if here else []
        changes += [f"{b.cfg.path.name}: {b.unsaved} unsaved edit(s)" for b in others]
        listed = "\n  ".join(changes[:6]) + ("\n  …" if len(changes) > 6 else "")

        def save_others() -> bool:
            for b in others:
                try:
                    b.editor.save()
                except HedgedeskError as exc:
                    self.notify(escape(f"{b.cfg.path}: {exc}"), title="Not saved", severity="error")
                    return False
            return True

        async def answered(key: str | None) -> None:
            saved = key == "s" and (not here or self.action_save()) and save_others()
            if key == "d" or saved:
                await self._quit()

        self.push_screen(
            ChoiceScreen(
                "Quit with unsaved edits?",
                f"{len(changes)} unsaved edit(s):\n  {listed}",
                {"s": "save, then quit", "d": "discard the edits and quit"},
                stay="stay on the desk",
            ),
            answered,
        )

    async def _quit(self) -> None:
        """Exit; a running sweep is cancelled first so the ledger records it, resumable."""
        from hedgedesk.tui.screens.sweep import SweepScreen

        pane = self.query_one(SweepPane)
        for screen in self.screen_stack:
            if isinstance(screen, SweepScreen):
                screen.stop()
        pane.stop()
        await self.workers.wait_for_complete([w for w in self.workers if w.group == "sweep"])
        self.exit()

    @work(thread=True, exclusive=True, exit_on_error=False, group="load")
    def load_desk(self) -> None:
        from hedgedesk.core.book.risk import risk_report

        market = self._market_loader(self.cfg)
        self.market = market
        self.post_message(
            DeskLoaded(risk_report(self.cfg, self.market_state(self.cfg)), market.notices)
        )

    def on_desk_loaded(self, message: DeskLoaded) -> None:
        for notice in message.notices:
            self.notify(escape(notice), title="Data", severity="warning", timeout=10)
        self.saved_report = message.report
        d = self.cfg.data
        if self._live_timer is None and d.source == "yahoo" and d.refresh > 0:
            self._live_timer = self.set_interval(d.refresh, self.poll_live)
        if self._editor is not None and (self._editor.dirty or self._editor.shocks):
            self.recompute()  # fresh data under the edits still in force
        self._show(message.report)
        self.query_one("#holdings", DataTable).focus()

    def _show(self, rep: RiskReport) -> None:
        """Fill the panes from a report; rows an edit changed are marked with *."""
        self.report = rep
        self.query_one("#monitors-pane").border_title = f"Monitors · as of {rep.valuation.asof}"
        active = {a.key: a for a in rep.alert_items}
        self.query_one("#summary", MonitorText).show(
            monitor_lines(
                rep,
                self.cfg.targets.var_limit,
                self.cfg.risk.var_confidence,
                self.saved_report if rep is not self.saved_report else None,
                active,
            )
        )
        for a in self.alert_log.update(rep.alert_items, dt.datetime.now()):  # each breach once
            self.notify(
                escape(a.message),
                title=f"Alert: {a.what} {a.arrow}",
                severity="warning",
                timeout=10,
            )
        import numpy as np  # loaded by the worker that computed ``rep``: not before the paint

        history = rep.beta_history[np.isfinite(rep.beta_history)]
        self.query_one("#beta-spark", Sparkline).data = list(history)
        label = self.query_one("#beta-label", Static)
        text = (
            f"beta 63d {num(history.min()) if history.size else '—'}.."
            f"{num(history.max()) if history.size else '—'} "
        )
        if text != str(label.content):  # a new width lays the row out again, else redraw it
            label.update(text, layout=len(text) != len(str(label.content)))
        edited = self._edited_rows()
        holdings, legs = [], []
        for i, p in enumerate(rep.valuation.positions):
            ln = p.line
            name = f"*{ln.name}" if i in edited else ln.name
            if ln.is_hedge:
                legs.append(
                    (
                        str(i),
                        [
                            name,
                            quantity(ln.quantity, signed=True),
                            money(p.notional, signed=True),
                            money(p.dollar_delta, signed=True),
                            money(p.beta_dollars, signed=True),
                            _terms(ln),
                            ln.kind,
                            "long" if ln.quantity > 0 else "short",
                            money(p.gamma_1pct_usd, signed=True),
                            money(p.vega_1pt_usd, signed=True),
                            money(p.theta_1d_usd, signed=True),
                        ],
                    )
                )
            else:
                holdings.append(
                    (
                        str(i),
                        [
                            name,
                            quantity(ln.quantity),
                            num(p.unit_price),
                            money(p.market_value),
                            pct(p.weight),
                            num(p.beta),
                            signed_money(p.pnl),
                        ],
                    )
                )
        self.query_one("#holdings", BookTable).set_rows(holdings)
        self.query_one("#legs", BookTable).set_rows(legs)
        if self._reveal is not None:  # a row just added: its table in view, the cursor on it
            name, row = self._reveal
            self._reveal = None
            self.query_one("#desk").set_classes(f"-show-{name}")
            table = self.query_one(f"#{name}", BookTable)
            table.focus()
            table.move_cursor(row=row)
        self._titles()
        self._show_clock()
        self.sub_title = self._subtitle()
        follow = getattr(self.screen, "follow_desk", None)
        if follow is not None:  # a screen showing figures of the desk's book (P&L) redoes them
            follow()

    def _subtitle(self) -> str:
        """The book and its file; with edits or shocks, the file and those, short enough for
        80 columns: ``config.toml ● 2 unsaved · shock SP500 -10.0%``.
        """
        ed = self._editor
        n = len(ed.changes()) if ed else 0
        shocks = ed.shocks if ed else {}
        if not n and not shocks:
            return f"{self.cfg.book.name} — {self.cfg.path.name}"
        marks = [f"● {n} unsaved"] if n else []
        if shocks:
            marks.append("shock " + ", ".join(f"{t} {v:+.1%}" for t, v in shocks.items()))
        return f"{self.cfg.path.name} " + " · ".join(marks)

    # -- what-if editing ---------------------------------------------------------------------
    @property
    def editor(self) -> BookEditor:
        if self._editor is None:
            from hedgedesk.core.book.edit import BookEditor

            self._editor = BookEditor(self.cfg, check=self._check_book)
        return self._editor

    def _check_book(self, cfg: DeskConfig, shocks) -> None:
        """An edit must load and value on the data in hand (on the replay day, when
        replaying) before its form closes; hedgedesk.core.book.check names the key it fails on.
        """
        from hedgedesk.core.book.check import check_book

        if self.market is None:
            raise HedgedeskError("the market data is still loading")
        view = cfg if self.clock is None else _at(cfg, self.clock.day)
        try:
            state = self.market_state(view)
        except HedgedeskError:
            state = None  # check_book prepares it again and names the key the data refutes
        check_book(view, self.market, shocks, state)

    def _edited_rows(self) -> set[int]:
        """Position indices (holdings first) whose row differs from the saved book's."""
        if self._editor is None or not self._editor.dirty:
            return set()
        saved = self._editor.saved_config.book
        now = self.cfg.book
        n = len(now.holdings)
        out = {
            i
            for i, h in enumerate(now.holdings)
            if i >= len(saved.holdings) or h != saved.holdings[i]
        }
        return out | {
            n + i
            for i, leg in enumerate(now.hedges)
            if i >= len(saved.hedges) or leg != saved.hedges[i]
        }

    def _selected(self) -> tuple[str, int] | None:
        """("holding" | "hedge", index in the book) of the focused table's cursor row."""
        table = self.focused
        if not isinstance(table, DataTable) or not table.row_count or self.report is None:
            return None
        key = table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value
        i = int(key)
        n = len(self.cfg.book.holdings)
        return ("holding", i) if i < n else ("hedge", i - n)

    def _apply(self, edit: Callable[[], DeskConfig]) -> None:
        """Run an edit; on success recompute in a worker. Raises HedgedeskError (forms show
        it and stay open).
        """
        if self.market is None:
            raise HedgedeskError("the market data is still loading")
        self.cfg = edit()
        self.recompute()

    def _act(self, edit: Callable[[], DeskConfig | None]) -> None:
        """A key's edit: an error becomes a notification."""
        try:
            self._apply(edit)
        except HedgedeskError as exc:
            self.notify(escape(str(exc)), title="Not applied", severity="error", timeout=10)

    def recompute(self) -> None:
        """Value the current book (edits, shocks, replay day) in a worker; only the newest
        request's result is shown.
        """
        self._generation += 1
        self._in_flight = True
        view = self.cfg if self.clock is None else _at(self.cfg, self.clock.day)
        self._recompute(view, self.editor.shocks, self._generation)

    @work(thread=True, exclusive=True, exit_on_error=False, group="recompute")
    def _recompute(self, cfg: DeskConfig, shocks: dict[str, float], generation: int) -> None:
        from hedgedesk.core.book.risk import risk_report
        from hedgedesk.core.book.valuation import shocked_state

        state = shocked_state(self.market_state(cfg), shocks)
        self.post_message(BookRecomputed(risk_report(cfg, state), generation))

    def market_state(self, cfg: DeskConfig) -> MarketState:
        """``market_state(cfg, self.market)``, prepared once per state_key and market: the
        edit's check and its recompute share it, and so do edits of quantities or terms.
        """
        from hedgedesk.core.book.valuation import market_state, state_key

        market = self.market
        if market is None:
            raise HedgedeskError("the market data is still loading")
        key = state_key(cfg)
        if self._states_of is not market or len(self._states) > 16:
            self._states, self._states_of = {}, market
        states = self._states
        state = states.get(key)
        if state is None:
            state = states[key] = market_state(cfg, market)
        return state

    def on_book_recomputed(self, message: BookRecomputed) -> None:
        if message.generation == self._generation:  # else a newer result is on its way
            self._in_flight = False
            self._show(message.report)

    # -- market clock: replay ----------------------------------------------------------------
    def action_replay(self) -> None:
        """Start the replay (a year back), or pause and resume it."""
        if self.market is None:
            self.notify("the market data is still loading", title="Replay")
            return
        if self.clock is None:
            from hedgedesk.core.book.clock import ReplayClock

            try:
                self.clock = ReplayClock.for_desk(self.cfg, self.market)
            except HedgedeskError as exc:
                self.notify(escape(str(exc)), title="Replay", severity="error")
                return
            self.recompute()
        if self._replay_timer is None:
            self._replay_timer = self.set_interval(1.0 / self.clock.speed, self._tick)
        else:
            self._pause()
        self._show_clock()

    def _pause(self) -> None:
        if self._replay_timer is not None:
            self._replay_timer.stop()
            self._replay_timer = None

    def _tick(self) -> None:
        if self._in_flight:  # the last day is still being valued: the replay waits for it
            return
        if self.clock.at_end:
            self._pause()
        else:
            self.clock.step()
            self.recompute()
        self._show_clock()

    def action_replay_step(self, sessions: int) -> None:
        if self.clock is not None:
            self._pause()
            self.clock.step(sessions)
            self.recompute()
            self._show_clock()

    def action_replay_speed(self, faster: bool) -> None:
        if self.clock is None:
            return
        self.clock.faster() if faster else self.clock.slower()
        if self._replay_timer is not None:
            self._pause()
            self._replay_timer = self.set_interval(1.0 / self.clock.speed, self._tick)
        self._show_clock()

    def action_live(self) -> None:
        """Leave the replay: back to the latest close."""
        if self.clock is not None:
            self._pause()
            self.clock = None
            self.recompute()
            self._show_clock()

    # -- market clock: live ------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="live")
    def poll_live(self) -> None:
        """Fetch the config's tickers from Yahoo and revalue; a failure keeps the last figures
        and marks them STALE (never an error dialog: the network comes and goes).
        """
        from hedgedesk.core.data.yahoo import fetch

        d = self.cfg.data
        when = dt.datetime.now().strftime("%H:%M")
        try:
            (self._fetcher or fetch)(d.tickers, d.start, d.end)
            market = self._market_loader(self.cfg)
        except HedgedeskError as exc:
            self.post_message(LiveStatusChanged(f"STALE since {when}: {exc}"))
            return
        self.market = market
        self.post_message(LiveStatusChanged(f"live, updated {when}"))
        self.call_from_thread(self.recompute)

    def on_live_status_changed(self, message: LiveStatusChanged) -> None:
        if message.note.startswith("STALE") and self.live_note.startswith("STALE"):
            return  # keep the time it went stale
        self.live_note = message.note
        self._show_clock()

    def _show_clock(self) -> None:
        pane = self.query_one("#monitors-pane")
        if self.clock is None:
            pane.border_subtitle = self.live_note[:60]
            return
        state = "▶" if self._replay_timer is not None else "❚❚ paused"
        pane.border_subtitle = f"REPLAY {self.clock.day} {state} x{self.clock.speed:g}"

    def action_edit(self) -> None:
        sel = self._selected()
        if sel is None:
            return
        from hedgedesk.core.book.edit import EDITABLE

        kind, i = sel
        row = (self.cfg.book.holdings if kind == "holding" else self.cfg.book.hedges)[i]
        fields = {f: _text(getattr(row, f)) for f in EDITABLE[kind]}
        underlying = row.ticker if kind == "holding" else row.underlying
        fields["price shock"] = _text(self.editor.shocks.get(underlying))

        def apply(values: dict[str, str]) -> None:
            def edit() -> DeskConfig:
                cfg = self.cfg
                for f, v in values.items():
                    if v == fields[f]:
                        continue
                    cfg = (
                        self.editor.shock(underlying, v or 0)
                        if f == "price shock"
                        else self.editor.set_field(kind, i, f, v)
                    )
                return cfg

            self._apply(edit)

        name = row.ticker if kind == "holding" else row.name
        self.push_screen(
            FormScreen(
                f"Edit {kind} {name}",
                fields,
                apply,
                "price shock: a fraction of the underlying's price (-0.1 = -10 %), blank for none",
            )
        )

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_edit()  # enter on a row edits it

    def action_add(self) -> None:
        """Pick the kind of row from a list, then fill that kind's fields."""

        def form(kind: str | None) -> None:
            if kind is None:
                return

            def apply(values: dict[str, str]) -> None:
                v = {k: _typed(k, x.strip()) for k, x in values.items() if x.strip()}
                if kind == "holding":
                    self._apply(
                        lambda: self.editor.add_holding(
                            v.get("ticker", ""), v.get("quantity", ""), v.get("cost_basis")
                        )
                    )
                    self._reveal = ("holdings", len(self.cfg.book.holdings) - 1)
                else:
                    self._apply(lambda: self.editor.add_hedge({"instrument": kind, **v}))
                    self._reveal = ("legs", len(self.cfg.book.hedges) - 1)

            self.push_screen(
                FormScreen(
                    f"Add a {kind}", dict.fromkeys(KIND_FIELDS[kind], ""), apply, KIND_NOTES[kind]
                )
            )

        self.push_screen(
            PickScreen(
                "Add: what kind of row?", {k: KIND_NOTES[k].split(";")[0] for k in KIND_FIELDS}
            ),
            form,
        )

    def action_shock(self) -> None:
        def apply(values: dict[str, str]) -> None:
            self._apply(lambda: self.editor.shock(values["ticker"], values["shock"] or 0))

        self.push_screen(
            FormScreen(
                "Price shock",
                {"ticker": "market", "shock": ""},
                apply,
                "a ticker, or market (every underlying by its beta); "
                "shock as a fraction, -0.1 = -10 %; 0 removes it",
            )
        )

    def action_delete(self) -> None:
        if sel := self._selected():
            kind, i = sel
            row = (self.cfg.book.holdings if kind == "holding" else self.cfg.book.hedges)[i]
            before = self.cfg
            self._act(lambda: self.editor.delete(*sel))
            if self.cfg is not before:
                self.notify(
                    escape(f"deleted {kind} {getattr(row, 'ticker', None) or row.name} — u undoes"),
                    title="Book",
                )

    def action_nudge(self, step: int) -> None:
        if sel := self._selected():
            self._act(lambda: self.editor.nudge(*sel, step))

    def action_undo(self) -> None:
        self._act(lambda: self.editor.undo() or self.cfg)

    def action_redo(self) -> None:
        self._act(lambda: self.editor.redo() or self.cfg)

    def action_revert(self) -> None:
        n = len(self.editor.changes())
        before = self.cfg
        self._act(self.editor.revert)
        if n and self.cfg is not before:
            self.notify(f"reverted {n} edit(s) to the saved book — u undoes", title="Book")

    def action_save(self, force: bool = False) -> bool:
        """Save the book (atomically, keeping a last good copy); True when saved. A file
        changed on disk asks: overwrite it, reload it, or stay.
        """
        from hedgedesk.core.book.edit import ChangedOnDisk

        try:
            self.cfg = self.editor.save(force=force)
        except ChangedOnDisk as exc:
            self._ask_changed_on_disk(str(exc))
            return False
        except HedgedeskError as exc:
            self.notify(escape(str(exc)), title="Not saved", severity="error", timeout=15)
            return False
        self.saved_report = self.report
        if self.report is not None:
            self._show(self.report)
        self.notify(escape(f"saved to {self.cfg.path}"), title="Book")
        return True

    def _ask_changed_on_disk(self, why: str) -> None:
        from hedgedesk.tui.screens.dialogs import ChoiceScreen

        def answered(key: str | None) -> None:
            if key == "o":
                self.action_save(force=True)
            elif key == "l":
                self.reload_config()

        self.push_screen(
            ChoiceScreen(
                "Not saved: the file changed",
                why,
                {
                    "o": "overwrite the file with this desk's book",
                    "l": "reload the file from disk (this desk's edits are dropped)",
                },
                stay="stay, edits kept (save again later)",
            ),
            answered,
        )

    def reload_config(self, cfg: DeskConfig | None = None) -> None:
        """Start again from the config file (or ``cfg``, already loaded): edits and shocks
        dropped, the data reloaded and the book revalued.
        """
        from hedgedesk.core.config import load_config

        try:
            self.cfg = cfg or load_config(self.cfg.path)
        except HedgedeskError as exc:
            self._recover(str(exc))
            return
        self._editor = None
        self.saved_report = None
        self.action_reload()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "legs" and self.report and event.row_key.value is not None:
            p = self.report.valuation.positions[int(event.row_key.value)]
            self.query_one("#leg-note", Static).update(f"{p.line.name}: {p.line.price_note()}")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        if event.worker.group == "report":
            self.notify(escape(str(error)), title="Report failed", severity="error", timeout=15)
            return
        self.query_one("#summary", MonitorText).update(f"Could not load the desk: {error}")
        if event.worker.group == "load":
            self._recover(str(error))
        else:
            self.notify(escape(str(error)), title="Error", severity="error", timeout=15)

    def _recover(self, error: str) -> None:
        """The book cannot be loaded or valued: the recovery screen (edit the file, its last
        good copy, retry, quit; Esc back to the empty desk).
        """
        from hedgedesk.tui.screens.recovery import QUIT, RecoveryScreen

        def done(result) -> None:
            if result == QUIT:
                self.exit()
            elif result is not None:
                self.reload_config(result)

        if not any(isinstance(s, RecoveryScreen) for s in self.screen_stack):
            self.push_screen(RecoveryScreen(self.cfg.path, error), done)

    # named what-ifs: the What-ifs screen; loading one is an undoable edit
    def action_whatifs(self) -> None:
        from hedgedesk.tui.screens.whatifs import WhatIfsScreen

        def load(w) -> None:
            self._apply(lambda: self.editor.load_book(list(w.holdings), list(w.hedges), w.shocks))

        self._open(
            "What-ifs", lambda: WhatIfsScreen(self.editor, self.market, load, self.market_state)
        )

    # save as: the edited config to a new file, which the desk then works on
    def action_save_as(self) -> None:
        from hedgedesk.tui.screens.dialogs import ChoiceScreen

        def write(path: Path, force: bool) -> None:
            self.cfg = self.editor.save_as(path, force=force)
            self.saved_report = self.report
            if self.report is not None:
                self._show(self.report)
            self.sub_title = self._subtitle()
            self.notify(escape(f"saved as {self.cfg.path}; the desk works on it now"), title="Book")

        def overwrite(path: Path, key: str | None) -> None:
            if key == "o":
                try:
                    write(path, True)
                except HedgedeskError as exc:
                    self.notify(escape(str(exc)), title="Not saved", severity="error", timeout=15)

        def apply(values: dict[str, str]) -> None:
            text = values["path"].strip()
            if not text:
                raise HedgedeskError("path: expected a file name (book.toml)")
            path = Path(text).expanduser()
            if path.is_file():
                self.call_later(
                    self.push_screen,
                    ChoiceScreen(
                        "File exists", f"{path} exists.", {"o": "overwrite it with this book"}
                    ),
                    partial(overwrite, path),
                )
                return
            write(path, False)

        if self.market is None:
            self.notify("the market data is still loading", title="Save as")
            return
        self.push_screen(
            FormScreen(
                "Save the book as a new file",
                {"path": str(self._save_as_default(self.cfg.path))},
                apply,
                "the whole config with the edited book; the desk then works on the new file",
            )
        )

    @staticmethod
    def _save_as_default(path: Path) -> Path:
        """Beside the book (``desk-copy.toml``); for a built-in demo, the user config file."""
        from hedgedesk.core.config import user_config_path
        from hedgedesk.core.demo import demo_dir

        if path.absolute().parent.resolve() == demo_dir().resolve():
            return user_config_path()
        return path.with_name(path.stem + "-copy.toml")

    # several books: one BookSession per open book, swapped in and out of the desk
    def _book_list(self) -> list:
        from hedgedesk.tui.screens.books import BookSession

        if self._books is None:
            self._books = [BookSession(self.cfg)]
        self._books[self._book_at] = BookSession(
            self.cfg,
            self._editor,
            self.market,
            self.report,
            self.saved_report,
            self._states,
            self._states_of,
        )
        return self._books

    def action_books(self) -> None:
        from hedgedesk.tui.screens.books import BooksScreen

        def chosen(choice) -> None:
            if choice is None:
                return
            what, arg = choice
            try:
                if what == "switch":
                    self.switch_book(arg)
                elif what == "open":
                    self.open_book(arg)
                else:
                    self.close_book(arg)
            except HedgedeskError as exc:
                self.notify(escape(str(exc)), title="Books", severity="error", timeout=10)

        self.push_screen(BooksScreen(self._book_list(), self._book_at), chosen)

    def open_book(self, book: Path | DeskConfig) -> None:
        """Open a config file (or one already loaded) as another book, or switch to it when it
        is open.
        """
        from hedgedesk.core.config import load_config
        from hedgedesk.tui.screens.books import BookSession

        books = self._book_list()
        path = book.path if isinstance(book, DeskConfig) else book.expanduser()
        for i, b in enumerate(books):
            if b.cfg.path.resolve() == path.resolve():
                self.switch_book(i)
                return
        cfg = book if isinstance(book, DeskConfig) else load_config(path)
        self._check_switch()
        books.append(BookSession(cfg))
        self.switch_book(len(books) - 1)

    def _check_switch(self) -> None:
        if self.market is None or any(w.group == "load" and w.is_running for w in self.workers):
            raise HedgedeskError("this book's market data is still loading; switch after it")

    def switch_book(self, index: int) -> None:
        """Put the desk on book ``index``: its edits, shocks, undo, market and figures."""
        books = self._book_list()
        if index == self._book_at:
            return
        self._check_switch()
        if self.clock is not None:  # a replay belongs to the book it started on
            self._pause()
            self.clock = None
        self._optimizer_screen = None  # so do the optimiser's weights the ticket (t) takes
        b = books[index]
        if b.market is None:  # the same data as an open book: its market, else load it
            same = (o.market for o in books if o.market and o.cfg.data == b.cfg.data)
            b.market = next(same, None)
        self._book_at = index
        self.cfg, self._editor, self.market = b.cfg, b.editor, b.market
        self.report, self.saved_report = b.report, b.saved_report
        self._states, self._states_of = b.states, b.states_of
        self._generation += 1  # a result on its way for the other book is dropped
        self._in_flight, self._reveal = False, None
        self._book_title()
        self.sub_title = self._subtitle()
        if self.market is None:
            self.action_reload()
        elif self.report is None:
            self._value_book()
        else:
            self._show(self.report)
        self.notify(escape(f"book {self.cfg.book.name} ({self.cfg.path.name})"), title="Books")

    @work(thread=True, exclusive=True, exit_on_error=False, group="load")
    def _value_book(self) -> None:
        from hedgedesk.core.book.risk import risk_report

        self.post_message(DeskLoaded(risk_report(self.cfg, self.market_state(self.cfg)), ()))

    def close_book(self, index: int) -> None:
        """Close book ``index`` (its unsaved edits dropped: the Books screen asked first)."""
        books = self._book_list()
        if len(books) == 1:
            raise HedgedeskError("the only open book: q quits the desk")
        if index == self._book_at:
            self.switch_book(index - 1 if index else 1)
        del books[index]
        if index < self._book_at:
            self._book_at -= 1
        self._book_title()

    def _book_title(self) -> None:
        """``hedgedesk · book 2/3`` while several books are open, else the desk's title."""
        n = len(self._books or ())
        self.title = f"hedgedesk · book {self._book_at + 1}/{n}" if n > 1 else self.TITLE

    def _other_unsaved_books(self) -> list:
        """The other open books with unsaved edits."""
        books = self._books or []
        return [b for i, b in enumerate(books) if i != self._book_at and b.unsaved]

    # positions from a broker CSV onto the what-if book, one undoable edit
    def action_import_positions(self) -> None:
        from hedgedesk.tui.screens.import_positions import ImportPositionsScreen

        def apply(plan) -> None:
            self._apply(lambda: self.editor.replace_rows(plan.holdings, plan.hedges))
            self.notify(f"imported: {len(plan.changes)} change(s) — u undoes, s saves")

        self.push_screen(ImportPositionsScreen(lambda: self.cfg, apply))

    # the trade ticket: the Trades screen; a trade applies as one undoable edit
    def action_ticket(self) -> None:
        from hedgedesk.tui.screens.ticket import TicketScreen

        weights, source = None, ""
        opt = self._optimizer_screen
        if opt is not None and opt.result is not None and opt.result.portfolio is not None:
            weights = opt.result.portfolio.weights
            source = f"optimiser screen: {opt.request.objective}"
        day = self.clock.day if self.clock is not None else None  # replaying: that day's book

        def state_of(cfg: DeskConfig) -> MarketState:
            return self.market_state(cfg if day is None else _at(cfg, day))

        self._open(
            "Trades",
            lambda: TicketScreen(
                self.cfg,
                self.market,
                state_of,
                self.apply_ticket,
                self.editor.shocks,
                weights,
                source,
            ),
        )

    def apply_ticket(self, step: Callable[[BookEditor], DeskConfig]) -> DeskConfig:
        """Apply a ticket's trade (``step(editor)``: one undoable edit of the what-if book) and
        revalue; HedgedeskError when it cannot.
        """
        self._apply(lambda: step(self.editor))
        return self.cfg

    # P&L explained and Greeks by underlying, following the desk's book and day
    def action_pnl(self) -> None:
        from hedgedesk.tui.screens.pnl import PnlScreen

        self._open("P&L", lambda: PnlScreen(self.pnl_view))

    def pnl_view(self):
        """The P&L screen's view of the desk: the book as of the replay day, the what-if
        shocks, the report in view (a new one means new figures) and the prepared states.
        """
        from hedgedesk.tui.screens.pnl import DeskView

        return DeskView(
            self.cfg if self.clock is None else _at(self.cfg, self.clock.day),
            self.market,
            dict(self._editor.shocks) if self._editor else {},
            self.report,
            self.market_state,
            self.clock is not None,
        )


def sweep_request(cfg: DeskConfig):
    """The config's [sweep] grid as a request (its dates, score targets, the risk-free rate)."""
    from hedgedesk.core.sweep.request import SweepRequest

    return SweepRequest.from_config(cfg)


def _cluster(cfg: DeskConfig):
    from hedgedesk.core.sweep.cluster import ClusterSpec

    return ClusterSpec.from_config(cfg.cluster)


def _ledger():
    from hedgedesk.core.sweep.ledger import Ledger

    return Ledger()


def _at(cfg: DeskConfig, day: dt.date) -> DeskConfig:
    """The config as of a replay day (hedgedesk.core.book.clock.at, imported when replaying)."""
    from hedgedesk.core.book.clock import at

    return at(cfg, day)


def _typed(field: str, text: str):
    """A form's text as the TOML value the config loader expects (numbers, dates); text that
    does not parse is passed on, so the loader's message names the field.
    """
    try:
        if field in (
            "quantity",
            "strike",
            "volatility",
            "cost_basis",
            "dividend_yield",
            "multiplier",
        ):
            return float(text)
        if field == "expiry":
            return dt.date.fromisoformat(text)
    except ValueError:
        pass
    return text


def _text(value) -> str:
    return "" if value is None else str(value)


def _terms(ln) -> str:
    if ln.right:
        return f"{ln.right} {ln.strike:g} {ln.expiry:%d%b%y} σ{ln.vol:.0%}"
    if ln.contract:
        return f"{ln.contract} x{ln.multiplier:g} on {ln.underlying}"
    return ln.underlying

"""Trades: the trade ticket of the desk's what-if book (:func:`hedgedesk.core.book.ticket.
build_ticket`) in one table, grouped (targets, to weights, beta band), each row with its
contracts or shares, notional, and the book's beta and VaR 95 after that trade alone.

Enter (or ``a``) applies the highlighted trade to the what-if book as one undoable step (``u``
on the desk undoes it), ``A`` the highlighted trade's whole group as one step; the ticket is
then made again for the edited book. ``x`` exports the
ticket as CSV (a path asked, beside the config by default). The "to weights" group uses the
optimiser screen's last result when there is one, else solves the config's ``[optimizer]``;
the ticket is built in a worker, never on the UI thread.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static
from textual.worker import Worker, WorkerState

from hedgedesk.core.errors import HedgedeskError
from hedgedesk.tui.format import money, num, pct
from hedgedesk.tui.screens.forms import FormScreen
from hedgedesk.tui.screens.help import HelpScreen
from hedgedesk.tui.widgets.tables import fill

if TYPE_CHECKING:
    from hedgedesk.core.book.edit import BookEditor
    from hedgedesk.core.book.ticket import Ticket
    from hedgedesk.core.book.valuation import MarketState
    from hedgedesk.core.config import DeskConfig
    from hedgedesk.core.data.market import MarketData

COLUMNS = ("Group", "Side", "Qty", "Instrument", "Notional", "β after", "VaR95")
RIGHT = frozenset({2, 4, 5, 6})
SHORT = {"targets": "targets", "to weights": "weights", "beta band": "band"}
UNIT = {"contracts": "ct", "shares": "sh"}


def row_cells(t) -> list[str]:
    """A trade's cells under COLUMNS."""
    return [
        SHORT.get(t.group, t.group),
        t.side,
        f"{t.quantity:,} {UNIT.get(t.unit, t.unit)}",
        t.instrument,
        money(t.notional_usd),
        num(t.beta_after, 3),
        pct(t.var95_after, 2),
    ]


class TicketScreen(ModalScreen):
    """The trade ticket; Enter or a applies the highlighted trade, A its group, x exports CSV,
    Esc or q closes, ? shows every key.

    ``apply(step)`` applies ``step(editor)`` (one undoable edit) to the desk's what-if book and
    returns the edited config (raising HedgedeskError when it cannot); ``state_of(cfg)`` is
    the desk's market state for a config; ``weights`` the optimiser screen's last weights
    (None: the config's ``[optimizer]`` is solved here, in the worker).
    """

    DEFAULT_CSS = """
    TicketScreen { background: $background; }
    TicketScreen #ticket-title { height: 1; padding: 0 1; text-style: bold; }
    TicketScreen #ticket-head { height: auto; padding: 0 1; }
    TicketScreen #ticket-table { height: 1fr; }
    TicketScreen #ticket-detail { height: auto; min-height: 3; max-height: 6; padding: 0 1; }
    """

    BINDINGS: ClassVar[list[Binding]] = [
        Binding("escape,q", "close", "Back"),
        Binding("a", "apply", "Apply", tooltip="Apply the highlighted trade to the what-if book"),
        Binding("A", "apply_group", "Apply group", tooltip="Apply the highlighted trade's group"),
        Binding("x", "export", "CSV", tooltip="Export the ticket as CSV"),
        Binding("question_mark", "help", "Help"),
    ]
    HELP_KEYS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("enter", "apply the highlighted trade (u on the desk undoes it)"),
        ("A", "apply the highlighted trade's whole group as one step"),
    )

    def __init__(
        self,
        cfg: DeskConfig,
        market: MarketData,
        state_of: Callable[[DeskConfig], MarketState],
        apply: Callable[[Callable[[BookEditor], DeskConfig]], DeskConfig],
        shocks: Mapping[str, float] | None = None,
        weights: Mapping[str, float] | None = None,
        weights_source: str = "",
    ):
        super().__init__()
        self.cfg = cfg
        self.market = market
        self.state_of = state_of
        self.apply_edit = apply
        self.shocks = dict(shocks or {})
        self.weights = dict(weights) if weights is not None else None
        self.weights_source = weights_source
        self.weights_note = ""
        self.ticket: Ticket | None = None
        self.holdings_value: float | None = None  # pinned by the first ticket with weights
        self._gen = 0

    def compose(self) -> ComposeResult:
        yield Static("Trades", id="ticket-title", markup=False)
        yield Static("", id="ticket-head", markup=False)
        yield DataTable(id="ticket-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="ticket-detail", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#ticket-table", DataTable).focus()
        self.rebuild()

    # -- building ----------------------------------------------------------------------------
    def rebuild(self) -> None:
        """Make the ticket again for ``self.cfg`` in a worker (a newer request wins)."""
        self._gen += 1
        self.query_one("#ticket-title", Static).update("Trades · building the ticket…")
        self._build(self._gen, self.cfg, self.shocks, self.weights, self.holdings_value)

    @work(thread=True, exclusive=True, exit_on_error=False, group="ticket")
    def _build(
        self,
        gen: int,
        cfg: DeskConfig,
        shocks: dict[str, float],
        weights: dict[str, float] | None,
        value: float | None,
    ) -> None:
        from hedgedesk.core.book.ticket import build_ticket, optimizer_weights

        source, note = self.weights_source, ""
        if weights is None:
            try:
                weights, source = optimizer_weights(cfg, self.market)
                note = "weights: the config's [optimizer] solved here (o on the desk: another)"
            except HedgedeskError as exc:
                note = f"no weights: {exc}; press o on the desk to solve one"
        ticket = build_ticket(
            cfg,
            self.state_of,
            weights=weights,
            weights_source=source,
            shocks=shocks,
            holdings_value=value,
        )
        self.app.call_from_thread(self._show, gen, ticket, weights, source, note)

    def _show(
        self,
        gen: int,
        ticket: Ticket,
        weights: dict[str, float] | None,
        source: str,
        note: str,
    ) -> None:
        if gen != self._gen:
            return
        self.ticket = ticket
        self.weights, self.weights_source, self.weights_note = weights, source, note
        if weights is not None and self.holdings_value is None:  # the trades reach the weights
            self.holdings_value = ticket.holdings_value
        counts = " · ".join(f"{SHORT[g]} {len(ticket.group(g))}" for g in SHORT)
        self.query_one("#ticket-title", Static).update(f"Trades · as of {ticket.asof} · {counts}")
        head = (
            f"NAV {money(ticket.nav)} · beta {ticket.beta_before:.3f} (target "
            f"{ticket.beta_target:.2f} ± {ticket.beta_band:.2f}) · VaR95 "
            f"{ticket.var95_before:.2%}\n"
            f"weights of the holdings' value {money(ticket.holdings_value)}: "
            f"{ticket.weights_source or 'none'}"
        )
        self.query_one("#ticket-head", Static).update(head)
        fill(
            self.query_one("#ticket-table", DataTable),
            list(COLUMNS),
            [(str(i), row_cells(t)) for i, t in enumerate(ticket.trades)],
            right=RIGHT,
        )
        self._detail()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "ticket" and event.state == WorkerState.ERROR:
            self.query_one("#ticket-title", Static).update("Trades · ERROR")
            self.query_one("#ticket-detail", Static).update(f"ERROR: {event.worker.error}")

    # -- the highlighted trade ---------------------------------------------------------------
    def selected(self):
        """The highlighted trade, or None."""
        table = self.query_one("#ticket-table", DataTable)
        if self.ticket is None or not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.ticket.trades[int(key)]

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        self._detail()

    def _detail(self) -> None:
        t = self.selected()
        notes = list(self.ticket.notes) if self.ticket else []
        if self.weights_note:
            notes.insert(0, self.weights_note)
        if t is None:
            text = "No trade: the book is on its targets." if self.ticket else ""
        else:
            g = self.ticket.group_after[t.group] if self.ticket else None
            group = (
                f" · whole group (A): beta {g[0]:.3f}, VaR95 {g[1]:.2%}" if g is not None else ""
            )
            text = f"{t.purpose}\nedit: {t.edit.describe()}{group}"
        self.query_one("#ticket-detail", Static).update("\n".join([text, *notes[:2]]))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_apply()

    def action_apply(self) -> None:
        """Apply the highlighted trade to the desk's what-if book, then remake the ticket."""
        t = self.selected()
        if t is not None:
            self._apply(t.edit.apply, t.edit.describe())

    def action_apply_group(self) -> None:
        """Apply every trade of the highlighted trade's group as one undoable step."""
        from hedgedesk.core.book.ticket import apply_all

        t = self.selected()
        if t is None or self.ticket is None:
            return
        edits = [x.edit for x in self.ticket.group(t.group)]
        self._apply(lambda ed: apply_all(ed, edits), f"{len(edits)} {t.group} trade(s)")

    def _apply(self, step: Callable[[BookEditor], DeskConfig], what: str) -> None:
        try:
            self.cfg = self.apply_edit(step)
        except HedgedeskError as exc:
            self.notify(escape(str(exc)), title="Not applied", severity="error", timeout=10)
            return
        self.notify(escape(f"applied: {what} — u on the desk undoes"), title="Trades")
        self.rebuild()

    # -- export ------------------------------------------------------------------------------
    def action_export(self) -> None:
        """Ask for a path (beside the config by default) and write the ticket's CSV there."""
        from hedgedesk.core.book.ticket import default_csv_path, write_csv

        ticket = self.ticket
        if ticket is None:
            self.notify("the ticket is still being built", title="Trades")
            return

        def save(values: dict[str, str]) -> None:
            text = values["path"].strip()
            if not text:
                raise HedgedeskError("path: expected a file path for the CSV")
            path = write_csv(ticket, Path(text).expanduser())
            self.notify(escape(f"ticket CSV written: {path}"), title="Trades", timeout=15)

        self.app.push_screen(
            FormScreen(
                "Export the ticket as CSV",
                {"path": str(default_csv_path(self.cfg, ticket.asof))},
                save,
                "header: group, instrument, side, quantity, unit, notional_usd, beta_after, "
                "var95_after, purpose",
            )
        )

    def action_close(self) -> None:
        self.dismiss()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self))

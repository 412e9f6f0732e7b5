"""Alerts: every limit the book crossed this session, newest first, with the time it was
raised, what, the value then and the worst value while active, the limit, and whether it is
still active or when it cleared.

The rows are the session's :class:`hedgedesk.core.book.alerts.AlertLog`; the screen follows the log
while
open (it subscribes to it), so a recompute that raises or clears an alert shows at once.
Marks are words and arrows (``ACTIVE ↑``), never colour alone.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

from hedgedesk.core.book.alerts import AlertEntry, AlertLog
from hedgedesk.tui.messages import AlertLogChanged
from hedgedesk.tui.screens.help import HelpScreen
from hedgedesk.tui.widgets.tables import fill

COLUMNS = ("Raised", "What", "Value", "Worst", "Limit", "Status")
RIGHT = frozenset({"Value", "Worst", "Limit"})
EMPTY = "No alert this session: every limit the desk checks is within bounds."


def status_text(e: AlertEntry) -> str:
    """``ACTIVE ↑`` while active, else ``cleared 14:03``."""
    return f"ACTIVE {e.arrow}" if e.active else f"cleared {e.cleared:%H:%M}"


def row_cells(e: AlertEntry) -> tuple[str, ...]:
    return (
        f"{e.raised:%H:%M:%S}",
        e.what,
        e.value_text,
        e.worst_text,
        e.limit_text,
        status_text(e),
    )


class AlertsScreen(ModalScreen):
    """The session's alerts; Esc or q closes, ? shows every key."""

    DEFAULT_CSS = """
    AlertsScreen { background: $background; }
    AlertsScreen #alerts-title { height: 1; padding: 0 1; text-style: bold; }
    AlertsScreen #alerts-table { height: 1fr; }
    AlertsScreen #alerts-detail { height: auto; min-height: 2; padding: 0 1; }
    """

    BINDINGS: ClassVar[list[Binding]] = [
        Binding("escape,q", "close", "Back"),
        Binding("question_mark", "help", "Help"),
    ]

    def __init__(self, log: AlertLog):
        super().__init__()
        self.alert_log = log  # not self.log: Textual's logger
        self._unsubscribe = None

    def compose(self) -> ComposeResult:
        yield Static("Alerts", id="alerts-title", markup=False)
        yield DataTable(id="alerts-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="alerts-detail", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self._unsubscribe = self.alert_log.subscribe(lambda: self.post_message(AlertLogChanged()))
        self.refresh_rows()
        self.query_one("#alerts-table", DataTable).focus()

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def on_alert_log_changed(self, _: AlertLogChanged) -> None:
        self.refresh_rows()

    def refresh_rows(self) -> None:
        """Rebuild the rows from the log (the highlighted row stays where it was)."""
        entries = list(enumerate(self.alert_log.entries))[::-1]  # newest first
        fill(
            self.query_one("#alerts-table", DataTable),
            list(COLUMNS),
            [(str(i), list(row_cells(e))) for i, e in entries],
            right={i for i, c in enumerate(COLUMNS) if c in RIGHT},
        )
        active = sum(e.active for _, e in entries)
        title = "Alerts this session"
        if entries:
            title += f" · {active} active, {len(entries) - active} cleared · newest first"
        self.query_one("#alerts-title", Static).update(title)
        self._show_detail()

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        """The highlighted alert's full sentence, as raised."""
        table = self.query_one("#alerts-table", DataTable)
        text = EMPTY
        if table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            text = self.alert_log.entries[int(key)].message
        self.query_one("#alerts-detail", Static).update(text)

    def action_close(self) -> None:
        self.dismiss()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self))

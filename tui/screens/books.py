"""Books: the books open in this session, each with its own edits, shocks and undo history
(its own :class:`hedgedesk.core.book.edit.BookEditor`) and its own market data when its data
differs. Enter switches to one, ``o`` opens another config file by path, ``c`` closes one
(one with unsaved edits only after a confirmation). Marks are characters (``▶``, ``●``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

from hedgedesk.tui.widgets.tables import fill

if TYPE_CHECKING:
    from hedgedesk.core.book.edit import BookEditor
    from hedgedesk.core.book.risk import RiskReport
    from hedgedesk.core.config import DeskConfig
    from hedgedesk.core.data.market import MarketData

COLUMNS = ["", "Book", "Edits", "File"]


@dataclass
class BookSession:
    """One open book: its config (edited), editor, market data, reports and prepared market
    states: what the desk swaps in and out when the book in view changes.
    """

    cfg: DeskConfig
    editor: BookEditor | None = None
    market: MarketData | None = None
    report: RiskReport | None = None
    saved_report: RiskReport | None = None
    states: dict[tuple, Any] = field(default_factory=dict)
    states_of: MarketData | None = None

    @property
    def unsaved(self) -> int:
        """How many edits differ from the book's file (shocks do not count)."""
        return len(self.editor.changes()) if self.editor is not None else 0

    def edits_text(self) -> str:
        """``● 2 unsaved`` (and the shocks' count), or ``saved``."""
        shocks = len(self.editor.shocks) if self.editor is not None else 0
        unsaved = self.unsaved  # the editor's diff, made once
        marks = [f"● {unsaved} unsaved"] if unsaved else []
        if shocks:
            marks.append(f"{shocks} shock(s)")
        return ", ".join(marks) or "saved"


# what the screen dismisses with: ("switch", index), ("open", the DeskConfig loaded),
# ("close", index)
Choice = tuple[str, Any]


class BooksScreen(ModalScreen[Choice | None]):
    """The open books; ``current`` is the index of the one on the desk."""

    DEFAULT_CSS = """
    BooksScreen { background: $background; }
    BooksScreen #books-title { height: 1; padding: 0 1; text-style: bold; }
    BooksScreen #books-table { height: 1fr; }
    BooksScreen #books-detail { height: auto; min-height: 2; padding: 0 1; }
    """

    BINDINGS: ClassVar[list[Binding]] = [
        Binding("o", "open", "Open…"),
        Binding("c", "close_book", "Close book"),
        Binding("escape,q", "dismiss(None)", "Back"),
        Binding("question_mark", "help", "Help", tooltip="Help: the keys here"),
    ]
    HELP_KEYS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("enter", "switch the desk to the highlighted book"),
        ("o", "open another config file (a path) as a book"),
        ("c", "close the highlighted book (asks when it has unsaved edits)"),
    )

    def __init__(self, books: list[BookSession], current: int):
        super().__init__()
        self.books = books
        self.current = current

    def compose(self) -> ComposeResult:
        yield Static(
            f"Books · {len(self.books)} open · ▶ on the desk", id="books-title", markup=False
        )
        yield DataTable(id="books-table", cursor_type="row", zebra_stripes=True)
        yield Static(
            "enter switch · o open a config file · c close · each book keeps its own edits, "
            "shocks and undo",
            id="books-detail",
            markup=False,
        )
        yield Footer()

    def on_mount(self) -> None:
        rows = [
            (
                str(i),
                [
                    "▶" if i == self.current else " ",
                    b.cfg.book.name[:28],
                    b.edits_text(),
                    str(b.cfg.path),
                ],
            )
            for i, b in enumerate(self.books)
        ]
        table = self.query_one("#books-table", DataTable)
        fill(table, COLUMNS, rows)
        table.move_cursor(row=self.current)
        table.focus()

    @property
    def selected(self) -> int:
        """The highlighted book's index."""
        return self.query_one("#books-table", DataTable).cursor_row

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.dismiss(("switch", self.selected))

    def action_open(self) -> None:
        from hedgedesk.core.config import load_config
        from hedgedesk.tui.screens.forms import FormScreen

        def apply(values: dict[str, str]) -> None:
            # a file the loader refuses keeps the form open with why; the desk opens this one
            cfg = load_config(values["path"].strip())
            self.app.call_later(self.dismiss, ("open", cfg))

        self.app.push_screen(
            FormScreen(
                "Open another book",
                {"path": str(self.books[self.current].cfg.path.parent) + "/"},
                apply,
                "a desk config file (TOML); it opens beside the books already open",
            )
        )

    def action_close_book(self) -> None:
        from hedgedesk.tui.screens.dialogs import ChoiceScreen

        i = self.selected
        book = self.books[i]
        if len(self.books) == 1:
            self.notify("the only open book: q quits the desk", title="Books")
            return
        if not book.unsaved:
            self.dismiss(("close", i))
            return
        changes = book.editor.changes() if book.editor is not None else []

        def answered(key: str | None) -> None:
            if key == "d":
                self.dismiss(("close", i))

        self.app.push_screen(
            ChoiceScreen(
                "Close a book with unsaved edits?",
                f"{book.cfg.path.name}: {len(changes)} unsaved edit(s):\n  "
                + "\n  ".join(changes[:5])
                + ("\n  …" if len(changes) > 5 else ""),
                {"d": "discard its edits and close it"},
                stay="keep it open (switch to it and save with s)",
            ),
            answered,
        )

    def action_help(self) -> None:
        from hedgedesk.tui.screens.help import HelpScreen

        self.app.push_screen(HelpScreen(self))

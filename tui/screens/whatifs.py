"""What-ifs: the named what-ifs kept beside the book, side by side with the saved book and the
desk's current one: NAV, beta, dollar Greeks and VaR 95 % per book (a row each, so 80 columns
hold every figure; the table scrolls).

``a`` saves the desk's current edits and shocks under a name; Enter loads the highlighted
what-if into the desk's what-if book (one undoable edit: ``u`` on the desk takes it back);
``d`` deletes one after a confirmation. Figures are core's
(:func:`hedgedesk.core.book.whatifs.book_figures`), computed in a worker.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static
from textual.worker import get_current_worker

from hedgedesk.core.errors import HedgedeskError
from hedgedesk.tui.format import money, num, pct
from hedgedesk.tui.widgets.tables import fill

if TYPE_CHECKING:
    from hedgedesk.core.book.edit import BookEditor
    from hedgedesk.core.book.whatifs import Figures, WhatIf
    from hedgedesk.core.config import DeskConfig
    from hedgedesk.core.data.market import MarketData

COLUMNS = ["Book", "NAV", "Beta", "Delta $", "Gamma/1%", "Vega/pt", "Theta/d", "VaR95"]
RIGHT = frozenset(range(1, len(COLUMNS)))
NOW = "now"  # the row of the desk's current book (edits and shocks), when it differs
NOTE = (
    "a save edits+shocks as · enter load (u undoes on the desk) · d delete · "
    "VaR: historical 1-day 95 % of NAV; Greeks USD"
)


def figure_cells(f: Figures, label: str) -> list[str]:
    """A book's row: NAV, beta, dollar Greeks and VaR, compact enough for 80 columns."""
    return [
        label,
        money(f.nav),
        num(f.beta, 3, signed=True),
        money(f.dollar_delta, signed=True),
        money(f.gamma_1pct_usd, signed=True),
        money(f.vega_1pt_usd, signed=True),
        money(f.theta_1d_usd, signed=True),
        pct(f.var_95, 2),
    ]


class WhatIfsScreen(ModalScreen):
    """The what-ifs beside ``editor``'s book. ``load(whatif)`` applies one on the desk (raises
    HedgedeskError to refuse); ``state_for(cfg)`` gives the desk's prepared market states.
    """

    DEFAULT_CSS = """
    WhatIfsScreen { background: $background; }
    WhatIfsScreen #wi-title { height: 1; padding: 0 1; text-style: bold; }
    WhatIfsScreen #wi-table { height: 1fr; }
    WhatIfsScreen #wi-detail { height: auto; min-height: 2; max-height: 6; padding: 0 1; }
    WhatIfsScreen #wi-note { height: auto; padding: 0 1; color: $text-muted; }
    """

    BINDINGS: ClassVar[list[Binding]] = [
        Binding("a", "save_as_whatif", "Save as…"),
        Binding("d", "delete", "Delete"),
        Binding("escape,q", "close", "Back"),
        Binding("question_mark", "help", "Help", tooltip="Help: the keys here"),
    ]
    HELP_KEYS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("enter", "load the highlighted what-if into the desk's what-if book (u undoes)"),
        ("a", "save the desk's current edits and shocks as a named what-if"),
        ("d", "delete the highlighted what-if (asks first)"),
    )

    def __init__(
        self,
        editor: BookEditor,
        market: MarketData,
        load: Callable[[WhatIf], None],
        state_for: Callable[[DeskConfig], Any] | None = None,
    ):
        super().__init__()
        self.editor = editor
        self.market = market
        self.load = load
        self.state_for = state_for
        self.whatifs: list[WhatIf] = []
        self.figures: dict[str, Figures | str] = {}  # by row key: figures, or why not
        self.file_error = ""  # why the what-ifs file could not be read

    @property
    def path(self):
        """The book file the what-ifs sit beside."""
        return self.editor.saved_config.path

    def compose(self) -> ComposeResult:
        yield Static("What-ifs · computing…", id="wi-title", markup=False)
        yield DataTable(id="wi-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="wi-detail", markup=False)
        yield Static(NOTE, id="wi-note", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#wi-table", DataTable).focus()
        self.refresh_list()

    # -- reading and computing ---------------------------------------------------------------
    def refresh_list(self) -> None:
        """Read the what-ifs file again and compute every book's figures, both in a worker."""
        self.compute(self.editor.saved_config, self.editor.config, self.editor.shocks)

    @work(thread=True, exclusive=True, exit_on_error=False, group="whatifs")
    def compute(self, saved: DeskConfig, now: DeskConfig, shocks: Mapping[str, float]) -> None:
        from hedgedesk.core.book.whatifs import SAVED, book_figures, load_whatifs, whatif_config

        worker = get_current_worker()
        try:
            whatifs, error = load_whatifs(self.path), ""
        except HedgedeskError as exc:  # shown; the file is left for the user to mend
            whatifs, error = [], str(exc)
        self.app.call_from_thread(self._listed, whatifs, error)
        books: list[tuple[str, Callable[[], DeskConfig], Mapping[str, float]]] = [
            (SAVED, lambda: saved, {})
        ]
        if now.book != saved.book or shocks:
            books.append((NOW, lambda: now, shocks))
        for w in whatifs:
            books.append((w.name, lambda w=w: whatif_config(saved, w), w.shocks))
        for key, make, moves in books:
            try:
                got: Figures | str = book_figures(
                    make(), self.market, key, moves, state_for=self.state_for
                )
            except HedgedeskError as exc:
                got = str(exc)
            if worker.is_cancelled:  # a newer refresh is on its way
                return
            self.app.call_from_thread(self._got, key, got)
        self.app.call_from_thread(self._done)

    def _listed(self, whatifs: list[WhatIf], error: str) -> None:
        from hedgedesk.core.book.whatifs import whatifs_path

        if not self.is_mounted:  # closed while reading
            return
        self.whatifs, self.file_error = whatifs, error
        self.query_one("#wi-title", Static).update(
            f"What-ifs · {len(whatifs)} in {whatifs_path(self.path).name} · computing…"
        )
        self.figures = {}
        self._show()

    def _got(self, key: str, got: Figures | str) -> None:
        if not self.is_mounted:  # closed while computing
            return
        self.figures[key] = got
        self._show()

    def _done(self) -> None:
        from hedgedesk.core.book.whatifs import whatifs_path

        if not self.is_mounted:
            return
        self.query_one("#wi-title", Static).update(
            f"What-ifs · {len(self.whatifs)} in {whatifs_path(self.path).name} · "
            f"{self.editor.saved_config.book.name}"
        )

    def _show(self) -> None:
        from hedgedesk.core.book.whatifs import SAVED

        keys = [SAVED, *([NOW] if NOW in self.figures else []), *(w.name for w in self.whatifs)]
        rows = []
        for key in keys:
            label = {SAVED: "(saved)", NOW: "(now)"}.get(key, key)[:18]
            got = self.figures.get(key)
            if got is None:
                cells = [label, "…", *[""] * (len(COLUMNS) - 2)]
            elif isinstance(got, str):
                cells = [label, "error", *[""] * (len(COLUMNS) - 2)]
            else:
                cells = figure_cells(got, label)
            rows.append((key, cells))
        fill(self.query_one("#wi-table", DataTable), COLUMNS, rows, RIGHT)
        self._detail()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._detail()

    def _detail(self) -> None:
        """What the highlighted row is: its shocks and rows, or its error in full."""
        key = self.selected
        if key is None:
            return
        if self.file_error:
            self.query_one("#wi-detail", Static).update(f"error: {self.file_error}")
            return
        got = self.figures.get(key)
        w = self._whatif(key)
        if isinstance(got, str):
            text = f"{key}: {got}"
        elif w is not None:
            shocks = ", ".join(f"{t} {v:+.1%}" for t, v in w.shocks.items()) or "none"
            text = (
                f"{w.name}: {len(w.holdings)} holdings, {len(w.hedges)} hedges, shocks "
                f"{shocks}; saved {w.created:%Y-%m-%d %H:%M} UTC"
            )
            if got is not None:
                text += f"; VaR95 {money(got.var_95_usd)} USD"
        elif key == NOW:
            text = "the desk's current book, its edits and shocks (a saves it as a what-if)"
        else:
            text = f"the book as saved in {self.path.name}"
        self.query_one("#wi-detail", Static).update(text)

    @property
    def selected(self) -> str | None:
        """The highlighted row's key (a what-if's name, "saved" or "now")."""
        table = self.query_one("#wi-table", DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def _whatif(self, key: str | None) -> WhatIf | None:
        """The named what-if of a row key (None for the saved and now rows)."""
        return next((w for w in self.whatifs if w.name == key), None)

    # -- keys --------------------------------------------------------------------------------
    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        w = self._whatif(self.selected)
        if w is None:
            self.notify("pick a named what-if to load (r on the desk reverts)", title="What-ifs")
            return
        try:
            self.load(w)
        except HedgedeskError as exc:
            self.notify(escape(str(exc)), title="Not loaded", severity="error", timeout=10)
            return
        self.notify(escape(f"loaded what-if {w.name!r} — u undoes"), title="What-ifs")
        self.dismiss()

    def action_save_as_whatif(self) -> None:
        from hedgedesk.core.book.whatifs import capture, save_whatif
        from hedgedesk.tui.screens.forms import FormScreen

        def apply(values: dict[str, str]) -> None:
            w = capture(values["name"], self.editor.book_tables(), self.editor.shocks)
            if any(x.name == w.name for x in self.whatifs):
                self.app.call_later(self._ask_overwrite, w)
                return
            save_whatif(self.path, w)
            self.notify(escape(f"saved what-if {w.name!r}"), title="What-ifs")
            self.refresh_list()

        self.app.push_screen(
            FormScreen(
                "Save the current edits and shocks as a what-if",
                {"name": ""},
                apply,
                "a name for it (unique beside this book)",
            )
        )

    def _ask_overwrite(self, w: WhatIf) -> None:
        from hedgedesk.core.book.whatifs import save_whatif
        from hedgedesk.tui.screens.dialogs import ChoiceScreen

        def answered(key: str | None) -> None:
            if key == "o":
                self._change_file(
                    lambda: save_whatif(self.path, w, overwrite=True),
                    f"replaced what-if {w.name!r}",
                    "Not saved",
                )

        self.app.push_screen(
            ChoiceScreen(
                "What-if exists",
                f"A what-if named {w.name!r} is already saved beside this book.",
                {"o": "overwrite it with the current edits and shocks"},
                stay="keep it (nothing saved)",
            ),
            answered,
        )

    def action_delete(self) -> None:
        from hedgedesk.core.book.whatifs import delete_whatif
        from hedgedesk.tui.screens.dialogs import ChoiceScreen

        w = self._whatif(self.selected)
        if w is None:
            self.notify("pick a named what-if to delete", title="What-ifs")
            return
        key = w.name

        def answered(answer: str | None) -> None:
            if answer == "d":
                self._change_file(
                    lambda: delete_whatif(self.path, key), f"deleted what-if {key!r}", "Not deleted"
                )

        self.app.push_screen(
            ChoiceScreen(
                "Delete the what-if?",
                f"{key!r} is removed from {self.path.name}'s what-ifs (it cannot be undone).",
                {"d": "delete it"},
                stay="keep it",
            ),
            answered,
        )

    def _change_file(self, change: Callable[[], object], done: str, refused: str) -> None:
        """Write the what-ifs file (``change()``) after a confirmation, say so and read it
        again; or say why not (``refused`` titles it).
        """
        try:
            change()
        except HedgedeskError as exc:
            self.notify(escape(str(exc)), title=refused, severity="error")
            return
        self.notify(escape(done), title="What-ifs")
        self.refresh_list()

    def action_close(self) -> None:
        self.dismiss()

    def action_help(self) -> None:
        from hedgedesk.tui.screens.help import HelpScreen

        self.app.push_screen(HelpScreen(self))

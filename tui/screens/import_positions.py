"""Import positions from a broker CSV onto the what-if book (desk key ``I``).

Type the file's path (and, if the data names them otherwise, ``SYMBOL=TICKER`` mappings such
as ``SPX=SP500``), Enter shows what the import would do: the rows read, the book's changes, and
every refused row with its line and field. Enter again applies it to the what-if book as one
undoable edit (``u`` undoes it, ``s`` saves it as any edit). F2 cycles the layout (auto,
generic, ibkr), F3 the mode (merge keeps the book's other rows, replace drops them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Input, Label, Static

from hedgedesk.core.book.broker import (
    DEFAULT_VOL,
    LAYOUTS,
    MODES,
    BookPlan,
    BrokerFileError,
    Imported,
    options_for,
    plan_book,
    read_positions,
)
from hedgedesk.core.errors import HedgedeskError
from hedgedesk.tui.screens.dialogs import Dialog

CHOICES = ("auto", *LAYOUTS)


def parse_map(text: str) -> dict[str, str]:
    """``SPX=SP500, ES=SP500`` as a mapping; HedgedeskError names a malformed pair."""
    out = {}
    for part in text.replace(";", ",").split(","):
        if not part.strip():
            continue
        symbol, sep, ticker = part.partition("=")
        if not sep or not symbol.strip() or not ticker.strip():
            raise HedgedeskError(f"map: got {part.strip()!r}, expected SYMBOL=TICKER (SPX=SP500)")
        out[symbol.strip().upper()] = ticker.strip()
    return out


class ImportPositionsScreen(Dialog):
    """The import dialog: ``config()`` gives the desk's current config (its book is what the
    import changes), ``apply(plan)`` applies a BookPlan (raises HedgedeskError to stay open).
    """

    BINDINGS: ClassVar[list[Binding]] = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("f2", "layout", "Layout"),
        Binding("f3", "mode", "Mode"),
    ]
    DEFAULT_CSS = """
    ImportPositionsScreen > #form { width: 78; height: 22; }
    ImportPositionsScreen Horizontal { height: 3; }
    ImportPositionsScreen Label { width: 6; padding: 1 0 0 0; }
    ImportPositionsScreen #import-path, ImportPositionsScreen #import-map { width: 1fr; }
    ImportPositionsScreen #import-vol { width: 12; }
    ImportPositionsScreen #import-choice { height: 1; }
    ImportPositionsScreen #import-preview { height: 1fr; }
    ImportPositionsScreen #import-hint { dock: bottom; height: 1; color: $text-muted; }
    """

    def __init__(self, config: Callable[[], Any], apply: Callable[[BookPlan], None]):
        super().__init__()
        self._config = config
        self._apply = apply
        self.file_layout = "auto"
        self.mode = "merge"
        self.imported: Imported | None = None
        self.plan: BookPlan | None = None
        self.errors: tuple[str, ...] = ()
        self._previewed: tuple | None = None  # the inputs the preview was made from

    def compose(self) -> ComposeResult:
        with Vertical(id="form"):
            yield Static("Import positions from a broker CSV", classes="form-title")
            with Horizontal():
                yield Label("file")
                yield Input(placeholder="path to the CSV export", id="import-path")
            with Horizontal():
                yield Label("map")
                yield Input(placeholder="SPX=SP500, ES=SP500", id="import-map")
                yield Input(str(DEFAULT_VOL), id="import-vol", tooltip="new option legs' vol")
            yield Static("", id="import-choice", markup=False)
            with VerticalScroll(id="import-preview"):
                yield Static("", id="import-text", markup=False)
            yield Static(
                "Enter preview, Enter again apply · F2 layout · F3 mode · Esc cancel",
                id="import-hint",
                markup=False,
            )

    def on_mount(self) -> None:
        self._show_choice()
        self.query_one("#import-path", Input).focus()

    # -- keys ---------------------------------------------------------------------------------
    def action_layout(self) -> None:
        self.file_layout = CHOICES[(CHOICES.index(self.file_layout) + 1) % len(CHOICES)]
        self._show_choice()

    def action_mode(self) -> None:
        self.mode = MODES[(MODES.index(self.mode) + 1) % len(MODES)]
        self._show_choice()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.plan is not None and self._previewed == self._inputs():
            self._commit()
        else:
            self.preview()

    # -- work ---------------------------------------------------------------------------------
    def _inputs(self) -> tuple:
        return (
            self.query_one("#import-path", Input).value.strip(),
            self.query_one("#import-map", Input).value,
            self.query_one("#import-vol", Input).value.strip(),
            self.file_layout,
            self.mode,
        )

    def preview(self) -> None:
        """Read the file and plan the import on the desk's book, in a worker; show it, or the
        errors.
        """
        path, mapping, vol_text, layout, mode = inputs = self._inputs()
        self.plan, self.imported, self.errors = None, None, ()
        self._previewed = inputs
        try:
            if not path:
                raise HedgedeskError("file: expected the path of a CSV export")
            try:
                vol = float(vol_text)
            except ValueError:
                vol = -1.0
            if not 0 < vol <= 5:
                raise HedgedeskError(f"vol: got {vol_text!r}, expected a fraction in (0, 5]")
            cfg = self._config()
            options = options_for(cfg, vol, parse_map(mapping))
        except HedgedeskError as exc:
            self.errors = (str(exc),)
            self._show()
            return
        self._show()
        self._read(inputs, path, layout, options, cfg.book, mode, vol)

    @work(thread=True, exclusive=True, exit_on_error=False, group="import")
    def _read(
        self, inputs: tuple, path: str, layout: str, options: Any, book: Any, mode: str, vol: float
    ) -> None:
        imported, plan, errors = None, None, ()
        try:
            imported = read_positions(path, layout, options)
            plan = plan_book(book, imported, mode, vol)
        except BrokerFileError as exc:
            errors = tuple(str(e) for e in exc.errors) or (str(exc),)
            if exc.errors:
                errors = (f"{exc.file}: {len(exc.errors)} row(s) refused", *errors)
        except HedgedeskError as exc:
            errors = (str(exc),)
        self.app.call_from_thread(self._read_done, inputs, imported, plan, errors)

    def _read_done(
        self,
        inputs: tuple,
        imported: Imported | None,
        plan: BookPlan | None,
        errors: tuple[str, ...],
    ) -> None:
        if inputs != self._previewed or not self.is_mounted:  # a newer preview, or closed
            return
        self.imported, self.plan, self.errors = imported, plan, errors
        self._show()

    def _commit(self) -> None:
        assert self.plan is not None
        try:
            self._apply(self.plan)
        except HedgedeskError as exc:
            self.errors = (f"not applied: {exc}",)
            self._show()
            return
        self.dismiss(self.plan)

    # -- view ---------------------------------------------------------------------------------
    def _show_choice(self) -> None:
        self.query_one("#import-choice", Static).update(
            f"layout {self.file_layout} (F2: auto, generic, ibkr) · mode {self.mode} (F3)"
        )

    def _show(self) -> None:
        self.query_one("#import-text", Static).update("\n".join(self.lines()))

    def lines(self) -> list[str]:
        """The preview as text lines: summary, notes, changes, or the errors."""
        if self.errors:
            return ["Not imported:", *self.errors]
        imp, plan = self.imported, self.plan
        if imp is None or plan is None:
            return []
        as_of = f" as of {imp.as_of}" if imp.as_of else ""
        out = [
            f"{imp.layout} layout, {imp.rows} row(s){as_of}: {len(imp.holdings)} holding(s), "
            f"{len(imp.hedges)} leg(s) · {plan.mode}"
        ]
        out += [f"note: {n}" for n in imp.notes]
        out += [f"  {c}" for c in plan.changes] or ["  no change to the book"]
        if plan.default_vol:
            n = len(plan.default_vol)
            vol = self._inputs()[2]
            out.append(f"vol {vol} (import default, modelled) on {n} new leg(s)")
        if imp.cash is not None:
            out.append(
                f"cash {imp.cash:,.2f} USD in the file: not applied on the desk "
                "(hedgedesk import --replace --out sets it)"
            )
        out.append("Enter applies (one undoable edit; s saves)")
        return out

"""Forms: what-if edits on the desk (edit the selected row, add a row picked by kind, shock a
price) and the parameter forms of the optimiser and backtest screens.

:class:`FieldsForm` is the one form widget: a label and a one-row input per field in a scroll,
with the note, the key hint and the error line docked under it, so they stay in view however
small the terminal; Tab scrolls the field it moves to into view. An error that names a field
("strike: ...", "book.hedges[3].strike: ...") focuses that field and marks it (``!`` before its
label, the Input's ``-invalid`` class), so an error is never in a field out of sight.

:class:`FormScreen` is a FieldsForm in a dialog that hands the text to an ``apply`` callback
(the desk's, which calls ``hedgedesk.core.book.edit.BookEditor``); a validation error is shown in
the
form, which stays open, so a typo never loses what was typed. Enter applies, Esc cancels.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.suggester import SuggestFromList
from textual.widget import Widget
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from hedgedesk.core.errors import HedgedeskError
from hedgedesk.tui.screens.dialogs import Dialog

# the fields each kind of new row asks for; blank ones are left to the config's defaults
KIND_FIELDS = {
    "holding": ("ticker", "quantity", "cost_basis"),
    "future": ("name", "underlying", "quantity", "contract"),
    "option": (
        "name",
        "underlying",
        "quantity",
        "right",
        "strike",
        "expiry",
        "volatility",
        "dividend_yield",
        "model",
    ),
    "equity": ("name", "underlying", "quantity"),
    "crypto": ("name", "underlying", "quantity"),
    "fx": ("name", "underlying", "quantity", "multiplier"),
}
KIND_NOTES = {
    "holding": "shares of a ticker in the data; cost basis per share, for P&L",
    "future": "whole contracts, negative to sell; contract: ES, MES, NQ, MNQ, GC, CL, 6E, BTC, "
    "MBT; priced from the underlying's close",
    "option": "whole contracts; right call or put; expiry YYYY-MM-DD; volatility 0.2 = 20 % "
    "(blank: from the option chain's surface); model bsm (default) or black76",
    "equity": "units of a ticker held as a hedge (an inverse ETF, say)",
    "crypto": "units of a coin in the data",
    "fx": "units of a currency pair in the data",
}

INVALID = "! "  # before an invalid field's label: the mark is a character, not colour alone


def field_id(name: str, prefix: str = "field-") -> str:
    """The id of a field's Input: ``field-cost_basis``, ``field-price-shock``."""
    return prefix + name.replace(" ", "-")


def named_field(error: str, names: Mapping[str, Iterable[str]]) -> str | None:
    """The field an error message is about: one whose name (or other spelling) is followed by
    a colon (``strike: ...``, ``book.hedges[3].strike: ...``, ``W: ...``) wins; else the first
    whole-word mention of a name three letters or longer (``shock market: got 'x'``).
    """
    best: tuple[int, int, int, str] | None = None
    for field, spellings in names.items():
        for word in spellings:
            if not word:
                continue
            whole = rf"(?<![\w\-]){re.escape(word)}(?![\w\-])"
            for rank, pattern in ((0, whole + r"(?=\s*:)"), (1, whole)):
                if rank and len(word) < 3:  # a one-letter name in prose is not a mention
                    continue
                if m := re.search(pattern, error):
                    found = (rank, m.start(), -len(word), field)
                    best = found if best is None or found < best else best
                    break
    return best[3] if best else None


class FieldsForm(Vertical):
    """Labelled one-row inputs in a scroll; the note, the hint and the error line docked below
    them, always in view. The inputs' own messages (Input.Changed, Input.Submitted) bubble to
    the screen, which decides what Enter does; :meth:`show_error` shows its verdict.

    ``fields`` maps each field's name to its starting text; ``labels`` (name -> label) and
    ``suggest`` (name -> completions) are optional per field. Inputs get the id
    ``prefix + name`` (spaces as dashes), the error line the id ``form-error``. ``hint`` shows
    while the focus is in the form; ``idle_hint`` (if given) while it is elsewhere on the
    screen (say, "e edit form"). ``tail`` is text scrolled after the fields, ``columns`` lays
    the fields out in that many columns, ``label_width`` is the label column's width.
    """

    DEFAULT_CSS = """
    FieldsForm { height: auto; max-height: 100%; }
    /* a rule on FieldsForm itself with :focus-within makes Textual restyle the whole form when
       the focus enters or leaves it (the hints and labels below depend on it) */
    FieldsForm:focus-within { background-tint: $foreground 0%; }
    FieldsForm > .form-fields { height: auto; max-height: 100%; }
    FieldsForm > .form-fields.-columns { layout: grid; grid-rows: 1; grid-gutter: 0 2; }
    FieldsForm .form-row { height: 1; }
    FieldsForm .form-row > Label { width: 16; }
    FieldsForm .form-row > Input { width: 1fr; }
    FieldsForm .form-row:focus-within > Label { text-style: reverse; }
    FieldsForm .form-row > Label.-invalid { text-style: bold; color: $text-error; }
    FieldsForm .form-tail { height: auto; color: $text-muted; margin-top: 1; }
    FieldsForm > .form-foot { dock: bottom; height: auto; }
    FieldsForm .form-note, FieldsForm .form-hint { height: auto; color: $text-muted; }
    FieldsForm .form-hint.-idle { display: none; }
    FieldsForm.-idle-hint .form-hint.-idle { display: block; }
    FieldsForm.-idle-hint .form-hint.-active { display: none; }
    FieldsForm.-idle-hint:focus-within .form-hint.-idle { display: none; }
    FieldsForm.-idle-hint:focus-within .form-hint.-active { display: block; }
    FieldsForm #form-error { height: auto; text-style: bold; display: none; }
    FieldsForm #form-error.-shown { display: block; }
    """

    def __init__(
        self,
        fields: Mapping[str, str],
        *,
        labels: Mapping[str, str] | None = None,
        suggest: Mapping[str, Sequence[str]] | None = None,
        prefix: str = "field-",
        note: str = "",
        hint: str = "Enter applies · Esc cancels",
        idle_hint: str = "",
        tail: str = "",
        columns: int = 1,
        label_width: int | None = None,
        id: str | None = None,
        classes: str | None = None,
    ):
        super().__init__(id=id, classes=classes)
        self.fields = dict(fields)
        self.labels = {name: (labels or {}).get(name, name) for name in self.fields}
        self.suggest = dict(suggest or {})
        self.prefix = prefix
        self.note, self.hint, self.idle_hint, self.tail = note, hint, idle_hint, tail
        self.columns = columns
        self.label_width = label_width
        self.invalid: str | None = None  # the field the shown error names
        self._last: str | None = None  # the field focused last: `enter` goes back to it
        self.set_class(bool(idle_hint), "-idle-hint")

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="form-fields", can_focus=False) as scroll:
            if self.columns > 1:
                scroll.add_class("-columns")
                scroll.styles.grid_size_columns = self.columns
            for name, value in self.fields.items():
                with Horizontal(classes="form-row"):
                    label = Label(self.labels[name], id=field_id(name, self.prefix + "label-"))
                    if self.label_width is not None:
                        label.styles.width = self.label_width
                    yield label
                    words = self.suggest.get(name)
                    # validate_on=(): the mark (-invalid) is the error line's, kept until the
                    # next verdict, not the Input's own (it would clear it on every key)
                    yield Input(
                        value,
                        id=field_id(name, self.prefix),
                        compact=True,
                        suggester=SuggestFromList(words) if words else None,
                        validate_on=(),
                    )
            if self.tail:
                yield Static(self.tail, classes="form-tail", markup=False)
        with Vertical(classes="form-foot"):
            if self.note:
                yield Static(self.note, classes="form-note", markup=False)
            yield Static(self.hint, classes="form-hint -active", markup=False)
            if self.idle_hint:
                yield Static(self.idle_hint, classes="form-hint -idle", markup=False)
            yield Static("", id="form-error", markup=False)

    # -- reading and focusing ----------------------------------------------------------------
    def input(self, name: str) -> Input:
        return self.query_one(f"#{field_id(name, self.prefix)}", Input)

    def values(self) -> dict[str, str]:
        """Each field's text, by name."""
        return {name: self.input(name).value for name in self.fields}

    def enter(self, name: str | None = None) -> None:
        """Focus a field (the one focused last, else the first) and scroll it into view."""
        name = name or self._last or next(iter(self.fields))
        self.input(name).focus()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        for name in self.fields:
            if event.widget is self.input(name):
                self._last = name

    # -- errors ------------------------------------------------------------------------------
    def show_error(self, text: str, focus: bool = True) -> str | None:
        """Show ``text`` on the error line (blank: clear it). The field it names is marked and,
        when ``focus`` and the focus is in the form, focused and scrolled into view (the
        focus never jumps here from elsewhere on the screen). Returns that field's name, if any.
        """
        line = self.query_one("#form-error", Static)
        line.update(text)
        line.set_class(bool(text), "-shown")
        name = named_field(text, {n: (n, self.labels[n]) for n in self.fields}) if text else None
        for field in self.fields:
            self._mark(field, field == name)
        self.invalid = name
        focused = self.screen.focused
        here = focused is not None and self in focused.ancestors
        if name is not None and focus and here:
            self.input(name).focus()
        # the error line took rows from the scroll: keep the field being typed in view
        target = self.input(name) if name is not None and focus and here else focused
        if target is not None and self in target.ancestors:
            self.call_after_refresh(self._scroll_to, target)
        return name

    def clear_error(self) -> None:
        self.show_error("")

    @property
    def error(self) -> str:
        line = self.query_one("#form-error", Static)
        return str(line.render()) if line.has_class("-shown") else ""

    def _mark(self, name: str, bad: bool) -> None:
        self.input(name).set_class(bad, "-invalid")
        label = self.query_one(f"#{field_id(name, self.prefix + 'label-')}", Label)
        if label.has_class("-invalid") != bad:
            label.set_class(bad, "-invalid")
            label.update((INVALID if bad else "") + self.labels[name])

    def _scroll_to(self, widget: Widget) -> None:
        self.query_one(".form-fields", VerticalScroll).scroll_to_widget(widget, animate=False)


class PickScreen(Dialog):
    """Pick a kind from a list (arrows and enter); dismisses with the pick, or None on Esc."""

    DEFAULT_CSS = """
    PickScreen #pick { height: auto; max-height: 100%; border: none; }
    PickScreen .form-hint { dock: bottom; color: $text-muted; }
    """

    BINDINGS: ClassVar[list[Binding]] = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("question_mark", "help", "Help", tooltip="Help: the keys here"),
    ]
    HELP_KEYS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("↑ ↓", "move in the list"),
        ("enter", "pick"),
    )

    def __init__(self, title: str, options: dict[str, str]):
        super().__init__()
        self.title_text = title
        self.options = options

    def compose(self) -> ComposeResult:
        with Vertical(id="form"):
            yield Static(self.title_text, classes="form-title", markup=False)
            yield Static("↑ ↓ and Enter pick · Esc cancels", classes="form-hint", markup=False)
            yield OptionList(
                *(Option(f"{k:<8} {note}", id=k) for k, note in self.options.items()), id="pick"
            )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_help(self) -> None:
        from hedgedesk.tui.screens.help import HelpScreen

        self.app.push_screen(HelpScreen(self))


class FormScreen(Dialog):
    """Labelled inputs; ``apply(values)`` raises HedgedeskError to keep the form open, its
    message on the error line and the field it names focused and marked.
    """

    BINDINGS: ClassVar[list[Binding]] = [
        Binding("escape", "dismiss", "Cancel"),
        Binding("question_mark", "help", "Help", show=False, tooltip="Help: the keys here"),
    ]
    HELP_KEYS: ClassVar[tuple[tuple[str, str], ...]] = (("enter", "apply the form"),)

    def __init__(
        self,
        title: str,
        fields: dict[str, str],
        apply: Callable[[dict[str, str]], None],
        note: str = "",
    ):
        super().__init__()
        self.title_text = title
        self.fields = fields
        self.apply = apply
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(id="form"):
            yield Static(self.title_text, classes="form-title", markup=False)
            yield FieldsForm(self.fields, note=self.note)

    @property
    def form(self) -> FieldsForm:
        return self.query_one(FieldsForm)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            self.apply(self.form.values())
        except HedgedeskError as exc:
            self.form.show_error(f"error: {exc}")
            return
        self.dismiss()

    def action_help(self) -> None:
        from hedgedesk.tui.screens.help import HelpScreen

        self.app.push_screen(HelpScreen(self))

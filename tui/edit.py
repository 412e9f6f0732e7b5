"""What-if forms: edit the selected row's fields, add a leg, shock a price.

Each form collects text and hands it to an ``apply`` callback (the desk's, which calls
``core.book_edit.BookEditor``); a validation error is shown in the form, which stays open, so a
typo never loses what was typed. Enter applies, Esc cancels.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from core.errors import HedgedeskError

# fields of a new leg, in the order asked; blank ones are left to the config's defaults
ADD_FIELDS = ("kind", "name", "underlying", "quantity", "contract", "right", "strike",
              "expiry", "volatility")
ADD_HELP = ("kind: holding, future, option, equity, crypto or fx. A holding needs underlying "
            "(its ticker) and quantity; a future a contract (ES, NQ, ...); an option right, "
            "strike, expiry (YYYY-MM-DD) and volatility.")


def _field_id(name: str) -> str:
    return "field-" + name.replace(" ", "-")


class FormScreen(ModalScreen):
    """Labelled inputs; ``apply(values)`` raises HedgedeskError to keep the form open."""

    BINDINGS: ClassVar[list[Binding]] = [Binding("escape", "dismiss", "Cancel")]

    def __init__(self, title: str, fields: dict[str, str],
                 apply: Callable[[dict[str, str]], None], note: str = ""):
        super().__init__()
        self.title_text = title
        self.fields = fields
        self.apply = apply
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(id="form"):
            yield Static(self.title_text, classes="form-title", markup=False)
            for name, value in self.fields.items():
                yield Label(name)
                yield Input(value=value, id=_field_id(name))
            if self.note:
                yield Static(self.note, classes="form-note", markup=False)
            yield Static("Enter applies · Esc cancels", classes="form-note")
            yield Static("", id="form-error", markup=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        values = {name: self.query_one(f"#{_field_id(name)}", Input).value
                  for name in self.fields}
        try:
            self.apply(values)
        except HedgedeskError as exc:
            self.query_one("#form-error", Static).update(f"error: {exc}")
            return
        self.dismiss()

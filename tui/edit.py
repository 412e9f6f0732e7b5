"""What-if forms: edit the selected row's fields, add a row (picked by kind), shock a price.

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
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from core.errors import HedgedeskError

# the fields each kind of new row asks for; blank ones are left to the config's defaults
KIND_FIELDS = {
    "holding": ("ticker", "quantity", "cost_basis"),
    "future": ("name", "underlying", "quantity", "contract"),
    "option": ("name", "underlying", "quantity", "right", "strike", "expiry", "volatility",
               "dividend_yield", "model"),
    "equity": ("name", "underlying", "quantity"),
    "crypto": ("name", "underlying", "quantity"),
    "fx": ("name", "underlying", "quantity", "multiplier"),
}
KIND_NOTES = {
    "holding": "shares of a ticker in the data; cost basis per share, for P&L",
    "future": "whole contracts, negative to sell; contract: ES, MES, NQ, MNQ, GC, CL, 6E, BTC, "
              "MBT; priced from the underlying's close",
    "option": "whole contracts; right call or put; expiry YYYY-MM-DD; volatility 0.2 = 20 %; "
              "model bsm (default) or black76",
    "equity": "units of a ticker held as a hedge (an inverse ETF, say)",
    "crypto": "units of a coin in the data",
    "fx": "units of a currency pair in the data",
}


class PickScreen(ModalScreen[str | None]):
    """Pick a kind from a list (arrows and enter); dismisses with the pick, or None on Esc."""

    BINDINGS: ClassVar[list[Binding]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, title: str, options: dict[str, str]):
        super().__init__()
        self.title_text = title
        self.options = options

    def compose(self) -> ComposeResult:
        with Vertical(id="form"):
            yield Static(self.title_text, classes="form-title", markup=False)
            yield OptionList(*(Option(f"{k:<8} {note}", id=k)
                               for k, note in self.options.items()), id="pick")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)


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

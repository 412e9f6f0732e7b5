"""Dialogs over the desk: the shared box (``Dialog``), and a question with a few keyed answers
(save / discard / stay), answered by one key.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class Dialog(ModalScreen):
    """A box in the middle of the screen, ``#form`` inside it, its title docked on top: the
    forms and pick lists of hedgedesk.tui.screens.forms subclass it for one look.
    """

    DEFAULT_CSS = """
    Dialog { align: center middle; }
    Dialog > #form {
        width: 72; max-width: 100%; height: auto; max-height: 100%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    Dialog .form-title { dock: top; text-style: bold; }
    """


class ChoiceScreen(ModalScreen[str | None]):
    """``message`` and one line per choice (``s  save and quit``); a choice's key dismisses
    with that key, Esc with None (the "stay" answer, always offered).
    """

    BINDINGS: ClassVar[list[Binding]] = [Binding("escape", "dismiss(None)", "Stay")]

    DEFAULT_CSS = """
    ChoiceScreen { align: center middle; }
    ChoiceScreen > #choice {
        width: 72; max-width: 100%; height: auto; max-height: 100%;
        border: heavy $warning; background: $surface; padding: 0 1;
    }
    ChoiceScreen .choice-title { text-style: bold; }
    """

    def __init__(self, title: str, message: str, choices: dict[str, str], stay: str = "stay"):
        super().__init__()
        self.title_text = title
        self.message = message
        self.choices = choices
        self.stay = stay

    def compose(self) -> ComposeResult:
        lines = Text()
        for key, label in self.choices.items():
            lines.append(f"{key:>5}", style="bold reverse")
            lines.append(f"  {label}\n")
        lines.append("  Esc", style="bold reverse")
        lines.append(f"  {self.stay}")
        with Vertical(id="choice"):
            yield Static(self.title_text, classes="choice-title", markup=False)
            yield Static(self.message, markup=False)
            yield Static(lines)

    def on_key(self, event) -> None:
        if event.key in self.choices:
            event.stop()
            self.dismiss(event.key)

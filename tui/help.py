"""Help: every key of the desk, read from the bindings themselves so it cannot go stale."""

from __future__ import annotations

from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

# keys the widgets handle themselves, which no binding lists
WIDGET_KEYS = (
    ("↑ ↓", "move in a table (j and k too)"),
    ("ctrl+p", "command palette: every action by name"),
)


def key_lines(app: App) -> list[str]:
    """One line per key: the app's bindings (hidden ones too), then the widgets' own keys."""
    lines = []
    for binding in app.BINDINGS:
        b = binding if isinstance(binding, Binding) else Binding(*binding)
        keys = " / ".join(app.get_key_display(Binding(k, b.action))
                          for k in b.key.split(","))
        lines.append(f"{keys:>12}  {b.tooltip or b.description or b.action}")
    lines += [f"{k:>12}  {what}" for k, what in WIDGET_KEYS]
    return lines


class HelpScreen(ModalScreen):
    """Every key; Esc, q or ? closes it."""

    BINDINGS: ClassVar[list[Binding]] = [
        Binding("escape,q,question_mark", "dismiss", "Close"),
    ]

    def __init__(self, app: App):
        super().__init__()
        self._lines = key_lines(app)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static("Keys (Esc closes)\n\n" + "\n".join(self._lines))

"""Help: the keys of the screen in view, read from the bindings themselves so it cannot go stale.

On the desk (the app's default screen) that is every key of the app; on another screen its own
bindings, the keys its widgets handle (tables, forms, lists), and the app's priority keys, the
only app keys that reach a modal screen.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Input, OptionList, Static

# keys the widgets handle themselves, which no binding lists
WIDGET_KEYS = (
    ("↑ ↓", "move in a table (j and k too)"),
    ("tab", "holdings <-> hedge legs (below 120 columns they share the slot)"),
    ("→ ←", "a table's next / previous columns (whole columns only; the first stays)"),
    ("ctrl+p", "command palette: every action by name"),
)
# the same for a screen other than the desk, by the kind of widget on it
SCREEN_WIDGET_KEYS: tuple[tuple[type, tuple[tuple[str, str], ...]], ...] = (
    (DataTable, (("↑ ↓", "move in a table; pgup pgdn, home end"),)),
    (OptionList, (("↑ ↓", "move in a list"),)),
    (
        Input,
        (
            ("tab", "next field (shift+tab: previous); it scrolls into view"),
            ("← →", "move in a field (ctrl+u clears to its start)"),
        ),
    ),
)


def _as_binding(binding) -> Binding:
    return binding if isinstance(binding, Binding) else Binding(*binding)


def _line(app: App, b: Binding) -> str:
    keys = " / ".join(app.get_key_display(Binding(k, b.action)) for k in b.key.split(","))
    return f"{keys:>12}  {b.tooltip or b.description or b.action}"


def _own_bindings(screen: Screen) -> list[Binding]:
    """The screen's BINDINGS, its project classes' (not Textual's own screen keys)."""
    out: list[Binding] = []
    for cls in type(screen).__mro__:
        if cls.__module__.startswith("textual.") or "BINDINGS" not in vars(cls):
            continue
        out += [
            _as_binding(b)
            for b in vars(cls)["BINDINGS"]
            if _as_binding(b).key not in {o.key for o in out}
        ]
    return out


def _is_desk(target: App | Screen) -> bool:
    return isinstance(target, App) or target is target.app.screen_stack[0]


def key_lines(target: App | Screen) -> list[str]:
    """One line per key of ``target``: for the desk (the app, or its default screen) the app's
    bindings (hidden ones too), then the widgets' own keys; for any other screen its bindings,
    the keys its widgets handle, and the app's priority keys (they work everywhere).
    """
    if _is_desk(target):
        app = target if isinstance(target, App) else target.app
        lines = [_line(app, _as_binding(b)) for b in app.BINDINGS]
        return lines + [f"{k:>12}  {what}" for k, what in WIDGET_KEYS]
    screen, app = target, target.app
    lines = [_line(app, b) for b in _own_bindings(screen)]
    extra: list[tuple[str, str]] = list(getattr(screen, "HELP_KEYS", ()))
    for kind, keys in SCREEN_WIDGET_KEYS:
        if screen.query(kind):
            extra += [k for k in keys if k not in extra]
    lines += [f"{k:>12}  {what}" for k, what in extra]
    anywhere = [_as_binding(b) for b in app.BINDINGS if _as_binding(b).priority]
    if anywhere or app.ENABLE_COMMAND_PALETTE:
        lines += ["", "anywhere:"] + [_line(app, b) for b in anywhere]
        if app.ENABLE_COMMAND_PALETTE:
            lines.append(
                f"{app.get_key_display(Binding(app.COMMAND_PALETTE_BINDING, '')):>12}"
                "  command palette: every action by name"
            )
    return lines


def _title(target: App | Screen) -> str:
    if _is_desk(target):
        return "Keys of the desk"
    name = getattr(target, "HELP_TITLE", "") or type(target).__name__.removesuffix("Screen")
    return f"Keys of the {name} screen"


class HelpScreen(ModalScreen):
    """The keys of a screen: ``HelpScreen(screen)``, or ``HelpScreen(app)`` for the screen in
    view (the desk's keys when that is the desk). Esc, q or ? closes it.
    """

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > #help {
        width: 70; max-width: 100%; height: 80%;
        border: round $primary; padding: 0 1; background: $surface;
    }
    """

    BINDINGS: ClassVar[list[Binding]] = [
        Binding("escape,q,question_mark", "dismiss", "Close"),
    ]

    def __init__(self, target: App | Screen):
        super().__init__()
        if isinstance(target, App) and target.screen_stack:
            target = target.screen  # the screen in view: the keys that work now
        self.target = target
        self.title_text = _title(target)
        self._lines = key_lines(target)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(
                f"{self.title_text} (Esc closes)\n\n" + "\n".join(self._lines), markup=False
            )

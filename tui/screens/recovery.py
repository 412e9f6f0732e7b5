"""When the config cannot be loaded or its book cannot be valued: the error, and a way out.

``e`` opens the file in ``$VISUAL``/``$EDITOR`` (the desk steps aside while it runs) and tries
again; ``g`` puts back the last good copy kept beside the file on every save (the rejected file
is kept as ``config.toml.rejected``); ``r`` retries as it is; ``q`` quits. The screen serves
both at start (a config the loader refuses: ``RecoveryApp``) and on the desk (a book the data
refutes: pushed by the desk, Esc returns to it).
"""

from __future__ import annotations

import datetime as dt
import os
import shlex
import subprocess
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import App, ComposeResult, SuspendNotSupported
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from hedgedesk.core.book.edit import last_good_path, restore_last_good
from hedgedesk.core.config import DeskConfig, load_config
from hedgedesk.core.errors import HedgedeskError

QUIT = "quit"


def editor_command(path: Path) -> list[str]:
    """The user's editor on ``path``: $VISUAL, else $EDITOR, else vi."""
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    return [*shlex.split(editor), str(path)]


class RecoveryScreen(ModalScreen):
    """Dismisses with the reloaded DeskConfig, ``QUIT``, or None (Esc: back to the desk, when
    ``can_stay``).
    """

    BINDINGS: ClassVar[list[Binding]] = [
        Binding("e", "edit", "Edit in $EDITOR"),
        Binding("g", "last_good", "Last good copy"),
        Binding("r", "retry", "Retry"),
        Binding("q", "quit", "Quit"),
        Binding("escape", "stay", "Back to the desk"),
    ]

    DEFAULT_CSS = """
    RecoveryScreen { align: center middle; }
    RecoveryScreen > #recovery {
        width: 76; max-width: 100%; height: auto; max-height: 100%;
        border: heavy $error; background: $surface; padding: 0 1;
    }
    RecoveryScreen #recovery-error { color: $text-error; }
    """

    def __init__(self, path: Path, error: str, can_stay: bool = True):
        super().__init__()
        self.path = path
        self.error = error
        self.can_stay = can_stay

    def compose(self) -> ComposeResult:
        with Vertical(id="recovery"):
            yield Static(f"Could not load the desk from {self.path}", markup=False)
            yield Static(self.error, id="recovery-error", markup=False)
            yield Static(self._keys(), id="recovery-keys")

    def _keys(self) -> Text:
        good = last_good_path(self.path)
        rows = [("e", f"edit {self.path.name} in {editor_command(self.path)[0]}, then reload")]
        if good.is_file():
            when = dt.datetime.fromtimestamp(good.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
            rows.append(("g", f"put back the last good copy ({good.name}, saved {when})"))
        rows += [("r", "retry as it is"), ("q", "quit")]
        if self.can_stay:
            rows.append(("Esc", "back to the desk (nothing valued)"))
        out = Text()
        for key, what in rows:
            out.append(f"\n{key:>5}", style="bold reverse")
            out.append(f"  {what}")
        return out

    def _say(self, error: str) -> None:
        self.error = error
        self.query_one("#recovery-error", Static).update(error)
        self.query_one("#recovery-keys", Static).update(self._keys())

    def action_edit(self) -> None:
        command = editor_command(self.path)
        try:
            try:
                with self.app.suspend():
                    subprocess.run(command, check=False)
            except SuspendNotSupported:  # a headless run (tests): nothing to step aside from
                subprocess.run(command, check=False)
        except OSError as exc:
            self._say(f"cannot run {command[0]}: {exc.strerror or exc}; set $EDITOR")
            return
        self.action_retry()

    def action_last_good(self) -> None:
        try:
            rejected = restore_last_good(self.path)
        except (HedgedeskError, OSError) as exc:
            self._say(str(exc))
            return
        self.app.notify(
            f"restored the last good copy; the file it replaced is kept as {rejected.name}",
            title="Config",
            markup=False,
            timeout=15,
        )
        self.action_retry()

    def action_retry(self) -> None:
        try:
            cfg = load_config(self.path)
        except HedgedeskError as exc:
            self._say(str(exc))
            return
        self.dismiss(cfg)

    def action_quit(self) -> None:
        self.dismiss(QUIT)

    def action_stay(self) -> None:
        self.dismiss(None if self.can_stay else QUIT)


class RecoveryApp(App[DeskConfig | None]):
    """A config the loader refuses at start: the recovery screen alone; exits with the
    config once it loads (the desk then opens on it), or None.
    """

    TITLE = "hedgedesk"

    def __init__(self, path: Path, error: str):
        super().__init__()
        self.path = path
        self.error = error

    def on_mount(self) -> None:
        self.push_screen(RecoveryScreen(self.path, self.error, can_stay=False), self._done)

    def _done(self, result) -> None:
        self.exit(None if result == QUIT else result)

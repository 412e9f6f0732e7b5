"""The desk's messages live in hedgedesk.tui.messages, named in the past tense, and each one
has a handler named after it somewhere in the UI (a renamed class with a stale handler would be
dropped silently by Textual).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

from textual.message import Message

import hedgedesk.tui
from hedgedesk.tui import messages

TUI = Path(hedgedesk.tui.__file__).parent


def _desk_messages() -> list[type[Message]]:
    return [
        cls
        for _, cls in inspect.getmembers(messages, inspect.isclass)
        if issubclass(cls, Message) and cls.__module__ == messages.__name__
    ]


def _all_subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _all_subclasses(sub)
    return found


def test_every_ui_message_is_defined_in_the_messages_module():
    for mod in pkgutil.walk_packages(hedgedesk.tui.__path__, "hedgedesk.tui."):
        if not mod.name.endswith(".__main__"):  # that one runs the command line
            importlib.import_module(mod.name)
    ours = {
        f"{c.__module__}.{c.__qualname__}"
        for c in _all_subclasses(Message)
        if c.__module__.startswith("hedgedesk.tui.")
    }
    assert ours == {f"{messages.__name__}.{c.__name__}" for c in _desk_messages()}


def test_message_names_are_past_tense_and_handled():
    sources = "\n".join(
        p.read_text(encoding="utf-8") for p in TUI.rglob("*.py") if p.name != "messages.py"
    )
    assert len(_desk_messages()) >= 16
    for cls in _desk_messages():
        assert cls.__name__.endswith("ed"), cls.__name__
        assert cls.__doc__, cls.__name__
        assert re.search(rf"def {cls.handler_name}\(self, \w+: {cls.__name__}\)", sources), (
            f"no {cls.handler_name} handler for {cls.__name__}"
        )
        assert re.search(rf"\b{cls.__name__}\(", sources), f"{cls.__name__} is never posted"

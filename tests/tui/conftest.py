"""Harness for the command-line tests: Yahoo blocked, root logger restored after each test."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from hedgedesk.core.config import load_config
from hedgedesk.core.demo import demo_config_path


@pytest.fixture(autouse=True)
def _no_yahoo(monkeypatch):
    """Any call of the real Yahoo downloader fails the test (after the command has run)."""
    calls = []

    def blocked(*args, **kwargs):
        calls.append(args)
        raise RuntimeError("network access in a test")

    monkeypatch.setattr("hedgedesk.core.data.yahoo._yf_download", blocked)
    yield
    assert not calls, f"a test tried to reach Yahoo: {calls}"


@pytest.fixture(autouse=True)
def _restore_root_logger():
    """main() installs a log handler on the root logger; undo it after each test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
            h.close()
    root.setLevel(level)


async def settle(app, pilot):
    """The app idle: queued messages handled and every worker finished."""
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


@pytest.fixture
def writable_demo(tmp_path):
    """The demo desk in a writable file of its own (edits can be saved)."""
    path = tmp_path / "config.toml"
    path.write_text(Path(demo_config_path()).read_text())
    return load_config(path)

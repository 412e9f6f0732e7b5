"""Harness for the UI tests: Yahoo blocked and the root logger restored after each test, the
demo desk's config (read-only, writable) and market, an app that hosts one screen, and the waits
that drive a desk without sleeping (``settle``, ``until``) with a CPU sweep slow enough to
interact with.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest
from textual.app import App
from textual.screen import Screen

from hedgedesk.core.config import load_config, resolve_config_path
from hedgedesk.core.data.sources import load_market
from hedgedesk.core.demo import demo_config_path
from hedgedesk.core.sweep.engine import CpuBackend


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
    """The app idle: queued messages handled and every worker finished (on a desk, the load
    starts after the first paint: the first pause lets it start).
    """
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def until(pilot, cond, what: str, steps: int = 600):
    """Wait on the app's events until ``cond()`` holds (a failure names what never came)."""
    for _ in range(steps):
        if cond():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"never: {what}")


class SlowCpu(CpuBackend):
    """The CPU kernel slowed to 0.2 ms a configuration, so a sweep lasts long enough to
    interact with (the demo grid would end in about 2 s; the chunks still adapt to about 0.1 s
    each).
    """

    def run(self, row0, count, rows=None):
        time.sleep(count * 2e-4)
        return super().run(row0, count, rows)


def in_view(app, widget, within=None) -> bool:
    """Painted with a size, wholly inside the screen (and inside ``within``'s region): a
    widget scrolled out of sight has no region, one half-hidden sticks out of it.
    """
    region = widget.region
    inside = within.region if within is not None else app.screen.region
    return (
        region.width > 0
        and region.height > 0
        and app.screen.region.contains_region(region)
        and inside.contains_region(region)
    )


class GatedCpu(CpuBackend):
    """The CPU kernel that runs ``free`` chunks of the grid itself (not of the unhedged twins),
    then holds the next one until :attr:`gate` is set, with :attr:`held` set: a sweep certainly
    running, with work stored, when a test acts on it (events, not sleeps).
    """

    def __init__(self, free: int = 2):
        super().__init__()
        self.free, self.ran, self.sweeping = free, 0, False
        self.gate, self.held = threading.Event(), threading.Event()

    def prepare(self, args):
        super().prepare(args)
        self.sweeping = bool(args.ratios.any()) and args.start == 0

    def release_on(self, cancel: threading.Event) -> None:
        """Release the held chunk once ``cancel`` is set (by a key, a quit), from a thread: the
        engine then sees the cancel at the chunk's end, whatever waits on the worker.
        """
        threading.Thread(target=lambda: cancel.wait(120) and self.gate.set(), daemon=True).start()

    def run(self, row0, count, rows=None):
        if self.sweeping:
            if self.ran >= self.free:
                self.held.set()
                assert self.gate.wait(120), "the test never released the held chunk"
            self.ran += 1
        return super().run(row0, count, rows)


class ScreenHost(App):
    """An app that pushes ``screen`` when it mounts: a screen tested on its own."""

    def __init__(self, screen: Screen):
        super().__init__()
        self.pushed = screen

    def on_mount(self) -> None:
        self.push_screen(self.pushed)


@pytest.fixture
def cfg():
    """The demo desk's config (a test that saves edits takes ``writable_demo``)."""
    return load_config(resolve_config_path())


@pytest.fixture(scope="module")
def desk():
    """The demo config and its market data (local files: no network)."""
    cfg = load_config(resolve_config_path())
    return cfg, load_market(cfg)


@pytest.fixture
def writable_demo(tmp_path):
    """The demo desk in a writable file of its own (edits can be saved)."""
    path = tmp_path / "config.toml"
    path.write_text(Path(demo_config_path()).read_text())
    return load_config(path)

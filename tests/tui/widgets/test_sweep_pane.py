"""The desk's Sweep pane reads the ledger in a thread worker and says which runs other
processes are computing (a detached ``hedgedesk sweep`` among them) and which were
interrupted; its own sweep never appears twice.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys

import numpy as np
from textual.app import App
from textual.widgets import Static

from hedgedesk.core.sweep.ledger import Ledger
from hedgedesk.tui.widgets.sweep_pane import SweepPane, ledger_lines
from tests.tui.conftest import settle

HOST = socket.gethostname()
PARAMS = {"grid": {"legs": ["AAPL"]}}


def record(ledger: Ledger, done: int, total: int = 100) -> str:
    run = ledger.create_run(PARAMS, "fp", "v", "cpu", "cpu", total, 1000)
    if done:
        sample = {"row": np.arange(done), "status": np.zeros(done, np.int8)}
        ledger.save_chunk(run, 0, 0, done, sample, {"acc_done": np.array([done])}, 0.1)
    return run


def set_pid(ledger: Ledger, run: str, pid: int, host: str = HOST) -> None:
    with ledger._lock:
        ledger._db.execute("UPDATE runs SET pid = ?, host = ? WHERE id = ?", (pid, host, run))


class Host(App):
    def __init__(self, path):
        super().__init__()
        self.path = path

    def compose(self):
        yield SweepPane(ledger_path=self.path)


async def test_the_pane_lists_runs_of_other_processes_detached_included(tmp_path):
    path = tmp_path / "runs.sqlite"
    # a detached sweep leads a session of its own, as ``hedgedesk sweep --detach`` starts it
    detached = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True
    )
    attached = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    try:
        with Ledger(path) as ledger:
            far = record(ledger, 45)
            set_pid(ledger, far, detached.pid)
            near = record(ledger, 10)
            set_pid(ledger, near, attached.pid)
            dead = record(ledger, 30)
            set_pid(ledger, dead, gone.pid)
            mine = record(ledger, 5)  # this process's own: the pane's sweep says it
            elsewhere = record(ledger, 80)
            set_pid(ledger, elsewhere, 4242, "gpu-box")
            app = Host(path)
            async with app.run_test(size=(80, 24)) as pilot:
                pane = app.query_one(SweepPane)
                note = pane.query_one("#sweep-ledger", Static)
                assert not note.display  # nothing read yet: the desk starts first
                pane.poll_ledger()
                await settle(app, pilot)
                shown = str(note.render()).splitlines()
                assert note.display
                assert f"ledger: run {far} running 45% (detached)" in shown
                assert f"ledger: run {near} running 10% (pid {attached.pid})" in shown
                assert f"ledger: run {elsewhere} running 80% (on gpu-box)" in shown
                assert f"ledger: 1 interrupted run (newest {dead}): W, l, R resumes" in shown
                assert not any(mine in line for line in shown)

                ledger.finish(far, "done")  # the next read follows the ledger
                pane.poll_ledger()
                await settle(app, pilot)
                assert not any(far in line for line in str(note.render()).splitlines())
    finally:
        for p in (detached, attached):
            p.kill()
            p.wait()


async def test_an_unreadable_ledger_is_said_in_the_pane_and_breaks_nothing(tmp_path):
    path = tmp_path / "runs.sqlite"
    path.write_bytes(b"not a database" * 100)
    app = Host(path)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(SweepPane)
        pane.poll_ledger()
        await settle(app, pilot)
        assert str(pane.query_one("#sweep-ledger", Static).render()).startswith(
            "ledger unreadable:"
        )
        assert not pane.running


@dataclasses.dataclass
class Rec:
    id: str
    status: str
    pid: int
    host: str
    n_done: int = 1
    n_configs: int = 4


def test_ledger_lines():
    runs = [
        Rec("a", "running", 11, HOST),
        Rec("b", "running", os.getpid(), HOST),
        Rec("c", "done", 12, HOST),
        Rec("d", "interrupted", 13, HOST),
        Rec("e", "interrupted", 14, HOST),
        Rec("f", "running", 15, "other", 0, 0),
    ]
    lines = ledger_lines(runs, os.getpid(), HOST, leader=lambda pid: pid == 11)
    assert lines == [
        "ledger: run a running 25% (detached)",
        "ledger: run f running 0% (on other)",
        "ledger: 2 interrupted runs (newest d): W, l, R resumes",
    ]
    assert ledger_lines([], 1, HOST) == []

"""The desk's Sweep pane: the one sweep of the desk running in a worker thread, its progress
streamed in, and the runs of the ledger in progress elsewhere.

The engine's generator (``hedgedesk.core.sweep.engine.run_sweep``) runs in a thread worker; each
:class:`hedgedesk.core.sweep.engine.Progress` it yields is posted to the pane as a message, so the
screen never
waits on the kernel. Sweeps started on the Sweep screen run here too, so leaving that screen
never stops them. Esc on the desk (``x`` on the Sweep screen) sets the cancel event: the engine
stops after the chunk in flight (about 0.1 s) and records the run as cancelled in the ledger,
resumable. Every few seconds a thread worker reads the ledger and lists the runs other
processes are computing (a ``hedgedesk sweep --detach`` say) and the interrupted ones.
Screens follow the pane by watching :attr:`SweepPane.version`.
"""

from __future__ import annotations

import math
import os
import socket
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import ProgressBar, Static
from textual.worker import Worker, WorkerState

from hedgedesk.core.errors import HedgedeskError
from hedgedesk.tui.format import num
from hedgedesk.tui.messages import LedgerPolled, SweepFinished, SweepProgressed

if TYPE_CHECKING:  # the engine (numba) loads with the first sweep, not with the desk
    from hedgedesk.core.sweep.engine import Progress, SweepRequest, SweepResult
    from hedgedesk.core.sweep.ledger import Ledger, RunRecord
    from hedgedesk.core.sweep.results import BestSoFar, StrategyRow

IDLE = "No sweep running. w: run the config's [sweep] grid"
LEDGER_POLL_S = 2.0  # seconds between two reads of the ledger


def _best_line(i: int, b: BestSoFar | StrategyRow) -> str:
    return (
        f"{i}. {b.ticker} P{b.rebalance} W{b.window} {b.estimator_label} k{b.exposure:g} "
        f"h{b.hedge_ratio:g}  score {b.score:.3f}  Sharpe {num(b.sharpe)}"
    )


def eta_text(p: Progress) -> str:
    return f"ETA {p.eta_s:.0f}s" if math.isfinite(p.eta_s) else "ETA …"


def status_line(p: Progress, backend: str) -> str:
    return (
        f"{p.phase}: {p.done:,}/{p.total:,} {p.fraction:.0%}  {p.rate:.3g} config-days/s  "
        f"{eta_text(p)}  {backend}  Esc to cancel"
    )


def _session_leader(pid: int) -> bool:
    """Whether ``pid`` leads its own session: ``hedgedesk sweep --detach`` starts it so."""
    try:
        return os.getsid(pid) == pid
    except (OSError, AttributeError):  # gone, or not POSIX
        return False


def ledger_lines(runs: list[RunRecord], pid: int, host: str, leader=_session_leader) -> list[str]:
    """What the pane says about the ledger: each run in progress in another process (this
    process's own sweep has the pane above), then how many runs were interrupted (their
    process died; the Sweep screen resumes them). ``leader(pid)``: a detached process?
    """
    from hedgedesk.core.sweep.ledger import RunStatus

    lines = []
    for r in runs:
        if r.status != RunStatus.RUNNING or (r.pid == pid and r.host == host):
            continue
        share = r.n_done / r.n_configs if r.n_configs else 0.0
        where = (
            f"on {r.host}" if r.host != host else "detached" if leader(r.pid) else f"pid {r.pid}"
        )
        lines.append(f"ledger: run {r.id} running {share:.0%} ({where})")
    stopped = [r for r in runs if r.status == RunStatus.INTERRUPTED]
    if stopped:
        lines.append(
            f"ledger: {len(stopped)} interrupted run{'s' * (len(stopped) > 1)} "
            f"(newest {stopped[0].id}): W, l, R resumes"
        )
    return lines


def stream_sweep(
    widget, request, market, ledger, cancel, backend, cluster=None, resume: str | None = None
) -> None:
    """Drive the engine's generator in a worker thread, posting each Progress and the result
    to ``widget`` as messages. With ``cluster`` (a ClusterSpec) the sweep runs on Dask,
    connected here, off the UI thread. ``resume``: a run id of ``ledger`` to finish.
    """
    from hedgedesk.core.sweep.engine import run_sweep

    if cluster is not None:
        from hedgedesk.core.sweep.cluster import ClusterBackend

        backend = ClusterBackend(cluster)
    try:
        gen = run_sweep(request, market, ledger, resume=resume, cancel=cancel, backend=backend)
        while True:
            widget.post_message(SweepProgressed(next(gen)))
    except StopIteration as stop:
        widget.post_message(SweepFinished(stop.value))
    finally:
        if cluster is not None:
            backend.close()


def resume_market(record: RunRecord, market):
    """The market a run was computed on: its recorded price files (``hedgedesk sweep --data``)
    when it has some, else the desk's.
    """
    from hedgedesk.core.data.price_files import load_paths
    from hedgedesk.core.sweep.engine import SweepRequest

    paths = SweepRequest.from_dict(record.params).data
    return load_paths(list(paths)) if paths else market


class SweepPane(Vertical):
    """Progress bar, rate, ETA, backend and device, the best strategies so far, the ledger's
    runs in progress. Public: :meth:`start`, :meth:`resume`, :meth:`stop`, :attr:`running`,
    :attr:`progress`, :attr:`result`, :attr:`error`, :attr:`run_id`, :attr:`version`.
    """

    DEFAULT_CSS = """
    SweepPane #sweep-ledger { height: auto; padding: 0 1; display: none; }
    """

    version: reactive[int] = reactive(0, always_update=True, init=False)

    def __init__(self, ledger_path: Path | str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.ledger_path = ledger_path  # the ledger polled; None: the default one
        self.cancel = threading.Event()
        self.backend = ""
        self.running = False
        self.progress: Progress | None = None
        self.result: SweepResult | None = None
        self.error = ""
        self.run_id: str | None = None
        self.resumed: str | None = None  # the run being resumed, until it reports
        self.ledger_note: list[str] = []
        self._poll_db: Ledger | None = None
        self._close_ledger: Ledger | None = None

    def compose(self) -> ComposeResult:
        yield ProgressBar(total=None, show_eta=False, id="sweep-bar")
        yield Static(IDLE, id="sweep-status", markup=False)  # "[sweep]" is not a style
        yield Static("", id="sweep-best", markup=False)
        yield Static("", id="sweep-ledger", markup=False)

    def on_mount(self) -> None:
        # the first read waits a period: the desk's start-up comes first
        self.set_interval(LEDGER_POLL_S, self.poll_ledger)

    def on_unmount(self) -> None:
        if self._poll_db is not None:
            self._poll_db.close()

    # -- running a sweep ---------------------------------------------------------------------
    def start(
        self,
        request: SweepRequest,
        market,
        ledger=None,
        backend=None,
        cluster=None,
        close_ledger: bool = False,
    ) -> bool:
        """Start a sweep unless one is running; returns whether it started. ``cluster``: a
        ClusterSpec to run it on (connected in the worker). ``close_ledger``: the ledger is
        the pane's to close when the sweep ends.
        """
        if self.running:
            return False
        if cluster is None and backend is None:
            from hedgedesk.core.sweep.engine import choose_backend

            backend, note = choose_backend(request.backend)
            self.app.notify(escape(f"backend {note}"), title="Sweep")
        self._begin(backend, cluster, ledger, close_ledger)
        self._run(request, market, ledger, backend, cluster, None)
        return True

    def resume(
        self, run_id: str, market, ledger: Ledger, cluster=None, close_ledger: bool = False
    ) -> bool:
        """Finish an interrupted, cancelled or failed run of ``ledger`` on its own backend,
        through the engine's resume (``run_sweep(resume=...)``); False when a sweep runs.
        Raises HedgedeskError when the run cannot be resumed (done, running elsewhere, a
        cluster run without a cluster).
        """
        from hedgedesk.core.sweep.ledger import RESUMABLE

        if self.running:
            return False
        record = ledger.get(run_id)
        if record.status not in RESUMABLE:
            raise HedgedeskError(
                f"run {record.id} is {record.status}: only an interrupted, "
                "cancelled or failed run resumes"
            )
        backend = None
        if record.backend == "cluster":
            if cluster is None:
                raise HedgedeskError(
                    f"run {record.id} was computed on a Dask cluster: "
                    "configure [cluster] or use hedgedesk sweep --resume "
                    "--cluster ADDRESS"
                )
        else:
            cluster = None
            from hedgedesk.core.sweep.engine import choose_backend

            backend, _ = choose_backend(record.backend)
        self._begin(backend, cluster, ledger, close_ledger)
        self.resumed = record.id
        self._run(None, market, ledger, backend, cluster, record)
        return True

    def _begin(self, backend, cluster, ledger, close_ledger: bool) -> None:
        # a cluster is connected in the worker: named by its address until then
        self.backend = (
            f"cluster: {cluster.address}"
            if cluster is not None
            else f"{backend.name}: {backend.device}"
        )
        self.cancel = threading.Event()
        self.running = True
        self.progress = None
        self.error = ""
        self.run_id = None
        self.resumed = None
        self._close_ledger = ledger if close_ledger else None
        self.query_one("#sweep-bar", ProgressBar).display = True
        self.query_one("#sweep-status", Static).update(f"starting on {self.backend}…")
        self.version += 1

    def stop(self) -> None:
        """Ask the running sweep to stop after its current chunk."""
        if self.running and not self.cancel.is_set():
            self.cancel.set()
            self.query_one("#sweep-status", Static).update("cancelling after this chunk…")
            self.version += 1

    @work(thread=True, exclusive=True, exit_on_error=False, group="sweep")
    def _run(self, request, market, ledger, backend, cluster, record) -> None:
        if record is not None:
            market = resume_market(record, market)
        stream_sweep(
            self,
            request,
            market,
            ledger,
            self.cancel,
            backend,
            cluster,
            resume=None if record is None else record.id,
        )

    def failed(self, error: BaseException) -> None:
        if not self.running:  # the app reports a worker's failure too
            return
        self.running = False
        self.error = str(error)
        self._release_ledger()
        self.query_one("#sweep-status", Static).update(f"sweep failed: {error}")
        self.version += 1

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker's state reaches its own node only (the message does not bubble): the
        pane says why its sweep failed (the poll reports its own errors).
        """
        if event.worker.group == "sweep" and event.state == WorkerState.ERROR:
            if self.running:
                self.app.notify(
                    escape(str(event.worker.error)),
                    title="Sweep failed",
                    severity="error",
                    timeout=15,
                )
            self.failed(event.worker.error)

    def _release_ledger(self) -> None:
        if self._close_ledger is not None:
            self._close_ledger.close()
            self._close_ledger = None

    def on_sweep_progressed(self, message: SweepProgressed) -> None:
        p = self.progress = message.progress
        self.run_id = p.run_id
        bar = self.query_one("#sweep-bar", ProgressBar)
        bar.update(total=1000, progress=round(1000 * p.fraction))
        if not self.cancel.is_set():
            self.query_one("#sweep-status", Static).update(status_line(p, self.backend))
        self.query_one("#sweep-best", Static).update(
            "\n".join(_best_line(i, b) for i, b in enumerate(p.best[:5], 1))
        )
        self.version += 1

    def on_sweep_finished(self, message: SweepFinished) -> None:
        self.running = False
        self.result = r = message.result
        self.run_id = r.run_id
        self._release_ledger()
        s = r.summary
        from hedgedesk.core.sweep.ledger import RunStatus

        if r.status == RunStatus.DONE:  # the last progress came before scoring: the bar ends full
            bar = self.query_one("#sweep-bar", ProgressBar)
            bar.update(progress=bar.total)
        # one line at 80 columns: a second would take a row from the book
        self.query_one("#sweep-status", Static).update(
            f"run {r.run_id}: {r.status}, {s.counts.done:,}/"
            f"{s.counts.configurations:,} in {s.timings.total_s:.1f}s · W shows it"
        )
        self.query_one("#sweep-best", Static).update(
            "\n".join(_best_line(i, b) for i, b in enumerate(s.top[:5], 1))
        )
        self.version += 1

    # -- the ledger's other runs -------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="sweep-ledger")
    def poll_ledger(self) -> None:
        """Read the ledger's newest runs off the UI thread; the pane shows what it found."""
        import sqlite3

        from hedgedesk.core.sweep.ledger import Ledger

        try:
            if self._poll_db is None:
                self._poll_db = Ledger(Path(self.ledger_path) if self.ledger_path else None)
            runs = self._poll_db.runs(limit=20)
        except (HedgedeskError, sqlite3.Error, OSError) as exc:
            self.post_message(LedgerPolled([], f"ledger unreadable: {exc}"))
            return
        self.post_message(LedgerPolled(ledger_lines(runs, os.getpid(), socket.gethostname())))

    def on_ledger_polled(self, message: LedgerPolled) -> None:
        self.ledger_note = [message.error] if message.error else message.lines
        note = self.query_one("#sweep-ledger", Static)
        note.update("\n".join(self.ledger_note))
        note.display = bool(self.ledger_note)
        self.version += 1

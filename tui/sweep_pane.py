"""The desk's Sweep pane: a sweep running in a worker thread, its progress streamed in.

The engine's generator (``core.sweep.run_sweep``) runs in a thread worker; each
:class:`core.sweep.Progress` it yields is posted to the pane as a message, so the screen never
waits on the kernel. Esc sets the cancel event: the engine stops after the chunk in flight
(about 0.1 s) and records the run as cancelled in the ledger, resumable.
"""

from __future__ import annotations

import math
import threading
from typing import TYPE_CHECKING

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import ProgressBar, Static

from tui.format import num

if TYPE_CHECKING:  # the engine (numba) loads with the first sweep, not with the desk
    from core.sweep import Progress, SweepRequest, SweepResult

IDLE = "No sweep running. w: run the config's [sweep] grid"


class SweepProgress(Message):
    def __init__(self, progress: Progress):
        super().__init__()
        self.progress = progress


class SweepFinished(Message):
    def __init__(self, result: SweepResult):
        super().__init__()
        self.result = result


def _best_line(i: int, b: dict) -> str:
    est = "ols" if b["estimator"] == "ols" else f"ewma{b['halflife']:g}"
    return (f"{i}. {b['ticker']} P{b['rebalance']} W{b['window']} {est} k{b['exposure']:g} "
            f"h{b['hedge_ratio']:g}  score {b['score']:.3f}  Sharpe {num(b['sharpe'])}")


def status_line(p: Progress, backend: str) -> str:
    eta = f"ETA {p.eta_s:.0f}s" if math.isfinite(p.eta_s) else "ETA …"
    return (f"{p.phase}: {p.done:,}/{p.total:,}  {p.rate:.3g} config-days/s  {eta}  "
            f"{backend}  Esc to cancel")


def stream_sweep(widget, request, market, ledger, cancel, backend, cluster=None) -> None:
    """Drive the engine's generator in a worker thread, posting each Progress and the result
    to ``widget`` as messages (the pane and the sweep screen both run sweeps this way). With
    ``cluster`` (a ClusterSpec) the sweep runs on Dask, connected here, off the UI thread."""
    from core.sweep import run_sweep

    if cluster is not None:
        from core.sweep_cluster import ClusterBackend

        backend = ClusterBackend(cluster)
    try:
        gen = run_sweep(request, market, ledger, cancel=cancel, backend=backend)
        while True:
            widget.post_message(SweepProgress(next(gen)))
    except StopIteration as stop:
        widget.post_message(SweepFinished(stop.value))
    finally:
        if cluster is not None:
            backend.close()


class SweepPane(Vertical):
    """Progress bar, rate, ETA, backend and device, the best strategies so far."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.cancel = threading.Event()
        self.backend = ""
        self.running = False
        self.result: SweepResult | None = None

    def compose(self) -> ComposeResult:
        yield ProgressBar(total=None, show_eta=False, id="sweep-bar")
        yield Static(IDLE, id="sweep-status", markup=False)  # "[sweep]" is not a style
        yield Static("", id="sweep-best", markup=False)

    def start(self, request: SweepRequest, market, ledger=None, backend=None,
              cluster=None) -> bool:
        """Start a sweep unless one is running; returns whether it started. ``cluster``: a
        ClusterSpec to run it on (connected in the worker)."""
        if self.running:
            return False
        from core.sweep import choose_backend

        if cluster is not None:  # connected in the worker: named by its address until then
            self.backend = f"cluster: {cluster.address}"
        else:
            if backend is None:
                backend, note = choose_backend(request.backend)
                self.app.notify(escape(f"backend {note}"), title="Sweep")
            self.backend = f"{backend.name}: {backend.device}"
        self.cancel = threading.Event()
        self.running = True
        self.query_one("#sweep-bar", ProgressBar).display = True
        self.query_one("#sweep-status", Static).update(f"starting on {self.backend}…")
        self._run(request, market, ledger, backend, cluster)
        return True

    def stop(self) -> None:
        """Ask the running sweep to stop after its current chunk."""
        if self.running:
            self.cancel.set()
            self.query_one("#sweep-status", Static).update("cancelling after this chunk…")

    @work(thread=True, exclusive=True, exit_on_error=False, group="sweep")
    def _run(self, request, market, ledger, backend, cluster) -> None:
        stream_sweep(self, request, market, ledger, self.cancel, backend, cluster)

    def failed(self, error: BaseException) -> None:
        self.running = False
        self.query_one("#sweep-status", Static).update(f"sweep failed: {error}")

    def on_sweep_progress(self, message: SweepProgress) -> None:
        p = message.progress
        bar = self.query_one("#sweep-bar", ProgressBar)
        bar.update(total=p.total, progress=p.done)
        self.query_one("#sweep-status", Static).update(status_line(p, self.backend))
        self.query_one("#sweep-best", Static).update(
            "\n".join(_best_line(i, b) for i, b in enumerate(p.best[:5], 1)))

    def on_sweep_finished(self, message: SweepFinished) -> None:
        self.running = False
        self.result = r = message.result
        s = r.summary
        t = s["timings"]
        self.query_one("#sweep-status", Static).update(
            f"run {r.run_id}: {r.status}, {s['counts']['done']:,}/"
            f"{s['counts']['configurations']:,} in {t['total_s']:.1f}s "
            f"(hedgedesk runs show {r.run_id})")
        self.query_one("#sweep-best", Static).update(
            "\n".join(_best_line(i, b) for i, b in enumerate(s["top"][:5], 1)))

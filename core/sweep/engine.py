"""Sweeps: a grid of dynamic-beta hedge strategies run on the CPU or the GPU, streamed, scored
for overfitting and recorded in the run ledger.

:func:`run_sweep` is a generator: it yields :class:`Progress` about every quarter of a second
(configurations done, config-days per second, ETA, the best strategies so far) and returns the
:class:`SweepResult`. The ETA is the work left in every phase over the wall-clock throughput
(:class:`Eta`). A ``cancel`` event stops it between chunks (a chunk is sized to take about
0.1 s) or while the kernel compiles, keeping what finished; a cancelled run's summary skips what
needs the whole run, so it returns within the chunk in flight (measured: 39 ms median,
``bench/sweep_cancel.py``).

Memory and disk stay bounded at any grid size: each chunk is scored (risk-normalised target
score, CONVENTIONS) and folded into its leg's :class:`~hedgedesk.core.sweep.stream.LegStream`
(top K, marginals, heat map, scenario statistics, Sharpe moments, a sample of strategies),
then dropped; the ledger commits the chunk's sampled rows and the stream's state before the
next chunk starts, so an interrupted run resumes (``resume=RUN``) from its last finished chunk
and ends exactly like an uninterrupted one (every reduction is independent of the chunking).
With ``keep = all`` every configuration's figures are also written, chunk by chunk, to a
folder of Parquet files.

Steps: prepare each leg's returns and tables; run the grid chunk by chunk into the streams;
re-run each leg's sample and leaders out of sample after the walk-forward split; then the
summary: the leaders' cost scenarios and unhedged twins (hedge effectiveness) re-run, their
Sharpe ratios deflated by the number of distinct trials, PBO by CSCV per leg on its sample
(exact while the sample holds every strategy).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import math
import sys
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import numpy as np
import pandas as pd

from hedgedesk.core import metrics
from hedgedesk.core.atomic import write_atomic
from hedgedesk.core.blas import serial_blas
from hedgedesk.core.data.market import MarketData
from hedgedesk.core.errors import DataError, HedgedeskError
from hedgedesk.core.metrics import daily_rf
from hedgedesk.core.sweep import backtest
from hedgedesk.core.sweep import grid as sweep_grid
from hedgedesk.core.sweep import kernel as K
from hedgedesk.core.sweep import score as sweep_score
from hedgedesk.core.sweep.backtest import (
    basket_returns,
    impact_coefficients,
    simple_returns,
)
from hedgedesk.core.sweep.grid import AXES, Grid, Leg
from hedgedesk.core.sweep.ledger import RunStatus
from hedgedesk.core.sweep.request import SweepRequest
from hedgedesk.core.sweep.results import (
    DEFERRED,
    ROW_FIGURES,
    AxisMarginal,
    BackendInfo,
    BestSoFar,
    ConfigStatus,
    Counts,
    Deflated,
    Figures,
    HeatMap,
    LegSummary,
    OosFigures,
    Overfitting,
    Pbo,
    RankedOosFigures,
    Ranking,
    ScenarioFigures,
    ScenarioStats,
    StrategyRow,
    SweepSummary,
    Timings,
    WalkForward,
    WalkForwardRow,
)
from hedgedesk.core.sweep.score import (
    Stopped,
    block_sharpe,
    deflated_sharpe,
    pbo_cscv,
    rank_correlation,
    return_moments,
    walk_forward_split,
)
from hedgedesk.core.sweep.stream import (
    CHUNK_MAX,
    PBO_SAMPLE,
    STRATEGY_AXES,
    Leaders,
    LegStream,
    Moments,
    distinct_strategies,
    in_sample,
    named,
    sample_rate,
    scores,
)

PROGRESS_EVERY = 0.25  # seconds between progress events
CHUNK_SECONDS = 0.1  # target duration of one chunk: bounds cancel latency and lost work
ETA_AFTER = 0.5  # seconds of measured throughput before an ETA is given
IMPACT_WARMUP = 30  # sessions of volume before the first trade when impact is modelled
PBO_RESAMPLES = 8  # bootstrap resamples behind a sampled PBO's sampling error
# strategies (every leg's together) behind the walk-forward's rank correlation and
# percentiles: Spearman's standard error is about 1 / sqrt(2,000) = 0.02, and the pass costs a
# fraction of the grid's
OOS_SAMPLE = 2_000
PER_CONFIG = (
    "status",
    "n",
    "annual_return",
    "annual_volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "turnover",
    "residual_beta",
    "consistency",
    "final_equity",
    "is_annual_return",
    "is_sharpe",
    "is_max_drawdown",
    "is_consistency",
    "scaled_annual_return",
    "scaled_max_drawdown",
    "scaled_consistency",
)


@dataclass(frozen=True, eq=False)
class PreparedLeg:
    """One leg ready for the kernel (:func:`prepare_leg`): its return dates, the tables every
    configuration reads, and the day indices where trading and the out-of-sample part start.
    """

    leg: Leg
    dates: pd.DatetimeIndex  # date of each return day
    tables: K.LegTables
    periods: int
    start: int  # first day a trade may happen (impact warm-up), else 0
    split: int  # first out-of-sample day; n_days when the walk-forward split is off

    @property
    def n_days(self) -> int:
        """Daily returns of the leg (days)."""
        return len(self.dates)


@dataclass(frozen=True)
class Progress:
    """Where a running sweep is, yielded about every quarter of a second by :func:`run_sweep`:
    configurations done out of ``total``, config-days and their rate, the ETA in seconds of
    wall clock, the phase, and ``best``: the best strategies so far under the ranking
    scenario (:class:`hedgedesk.core.sweep.results.BestSoFar`, at most ``top``, best first).
    """

    done: int  # configurations finished (all legs, resumed ones included)
    total: int
    config_days: int  # config-days computed in this session
    rate: float  # config-days per second of kernel time in this session
    eta_s: float  # wall-clock seconds left (NaN until measured): see :class:`Eta`
    elapsed_s: float
    phase: str  # "sweep AAPL", "out-of-sample", ...
    best: tuple[BestSoFar, ...]  # best strategies so far (ranking scenario), best first
    run_id: str | None = None
    fraction: float = 0.0  # share of the run's kernel work done: twins, grid, out-of-sample


class Eta:
    """Time left in a run: its remaining kernel work (config-days of every phase still to
    run: each leg's unhedged twins, the grid's unfinished rows, the walk-forward's
    out-of-sample pass) over the wall-clock throughput measured in this session.

    Wall-clock, not kernel time: what happens between chunks (saving each chunk to the
    ledger, keeping the best) takes real time too, and a rate of kernel time alone promised
    too little. The clock starts once the kernel is loaded (:meth:`start`), so numba's
    compilation, seconds on a first run, does not stand for the kernel's speed. Scoring after
    the last chunk is not modelled (a fraction of a second: see the README).
    """

    def __init__(
        self,
        total: float,
        done: float = 0.0,
        tail_s: float = 0.0,
        rate_hint: float | None = None,
    ):
        self.total = float(total)
        self.rate_hint = rate_hint  # work per second from a calibration, until one is measured
        self.done = float(done)  # resumed work counts as done, not in the throughput
        self.tail_s = tail_s  # seconds after the last chunk: scoring (see scoring_seconds)
        self.measured = 0.0
        self.t0: float | None = None

    def start(self, now: float) -> None:
        """Start the throughput clock at ``now`` (seconds; the first call counts)."""
        if self.t0 is None:
            self.t0 = now

    def add(self, work: float) -> None:
        """Count ``work`` config-day units as done (measured once the clock has started)."""
        self.done += work
        if self.t0 is not None:
            self.measured += work

    @property
    def fraction(self) -> float:
        """Share of the run's work done, in [0, 1]."""
        return min(self.done / self.total, 1.0) if self.total > 0 else 1.0

    def seconds(self, now: float) -> float:
        """From the calibrated rate (``rate_hint``; else NaN) until the throughput has been
        measured for ETA_AFTER seconds: the first chunks are small and pay fixed costs, so
        they would promise far too long.
        """
        if self.t0 is None or self.measured <= 0 or now - self.t0 < ETA_AFTER:
            if self.rate_hint:
                return max(self.total - self.done, 0.0) / self.rate_hint + self.tail_s
            return math.nan
        return max(self.total - self.done, 0.0) * (now - self.t0) / self.measured + self.tail_s


_PBO_COST: dict[int, float] = {}  # seconds per strategy of PBO, by CSCV blocks


def pbo_cost(blocks: int) -> float:
    """Seconds per strategy of PBO by CSCV with ``blocks`` blocks, timed once per process on
    1,024 and 4,096 synthetic strategies (the difference leaves out fixed costs; tens of ms).
    """
    if blocks not in _PBO_COST:

        def once(n: int) -> float:
            rng = np.random.default_rng(0)
            sum1 = rng.normal(0.0, 0.01, (n, blocks))
            sum2 = rng.uniform(0.001, 0.01, (n, blocks))
            t0 = time.perf_counter()
            pbo_cscv(rng.normal(0.0, 0.01, n), sum1, sum2, np.full(blocks, 100), 0.0)
            return time.perf_counter() - t0

        once(256)  # first calls load what they need
        _PBO_COST[blocks] = max(once(4096) - once(1024), 0.0) / 3072
    return _PBO_COST[blocks]


def scoring_seconds(grid: Grid, legs: list[PreparedLeg], top: int, blocks: int = 8) -> float:
    """Estimated seconds of a run's scoring after its last chunk that is not kernel work:
    PBO on each leg's sample (with its bootstrap resamples when it is a sample). The leaders'
    re-runs and returns are kernel work, counted by :func:`work_units`.
    """
    sample = min(PBO_SAMPLE, distinct_strategies(grid))
    pbo_runs = 1 + (PBO_RESAMPLES if sample_rate(grid) < 1 else 0)
    return len(legs) * sample * pbo_runs * pbo_cost(blocks)


@dataclass(frozen=True, eq=False)
class SweepResult:
    """A finished (or cancelled) sweep: its summary and its per-configuration table."""

    run_id: str | None
    status: RunStatus  # done | cancelled
    summary: SweepSummary  # summary.to_json(): see README "hedgedesk sweep --json"
    per_config: pd.DataFrame | None  # keep = all: one row per configuration, else None


# -- backends --------------------------------------------------------------------------------
class SweepBackend(Protocol):
    """What a sweep needs of a backend (:class:`CpuBackend`, ``gpu.GpuBackend``,
    ``cluster.ClusterBackend``). Optionally also ``chunk_seconds`` (a chunk's target wall
    time, default :data:`CHUNK_SECONDS`), ``loaded()`` and ``warm(cancel)`` (load the kernel
    where a cancel need not wait for it: see :meth:`CpuBackend.warm`).
    """

    name: str  # "cpu", "gpu" or "cluster": recorded, so that a resume stays on it
    device: str  # the hardware, in words

    def prepare(self, args: K.KernelArgs) -> None:
        """Take one leg's kernel arguments; every ``run`` until the next call reads them."""

    def run(self, row0: int, count: int, rows: np.ndarray | None = None) -> np.ndarray:
        """Metrics of grid rows [row0, row0 + count), or of the listed ``rows``.

        Returns
        -------
        ndarray, shape (kernel.n_out(n_blocks), count)
            One column per configuration, rows as ``kernel.METRICS`` then the CSCV block sums.
        """
        ...


# one kernel launch at a time in this process: a warm-up left running by a cancelled sweep
# must never overlap the next sweep's launches (numba's workqueue layer is not thread-safe)
_KERNEL_LOCK = threading.Lock()
CANCEL_POLL = 0.02  # seconds between looks at the cancel event while the kernel loads


def wait_or_cancel(work, cancel: threading.Event, name: str = "sweep-kernel-load") -> bool:
    """Run ``work()`` in a daemon thread and wait for it or for ``cancel``, whichever comes
    first: True when it finished. A cancelled wait leaves it to finish in the background (an
    exception there is dropped: the next kernel call raises it again).
    """
    done = threading.Event()

    def go():
        try:
            work()
        except Exception:  # dropped on purpose: see the docstring
            pass
        finally:
            done.set()

    threading.Thread(target=go, name=name, daemon=True).start()
    while not done.wait(CANCEL_POLL):
        if cancel.is_set():
            return False
    return True


class CpuBackend:
    """The numba kernel, parallel over configurations on every core (a :class:`SweepBackend`)."""

    name = "cpu"

    def __init__(self):
        import numba

        self.device = f"CPU, {numba.get_num_threads()} threads (numba {numba.__version__})"
        self.args: K.KernelArgs | None = None

    def prepare(self, args: K.KernelArgs) -> None:
        """Keep one leg's kernel arguments for the runs that follow."""
        self.args = args

    def _args(self) -> K.KernelArgs:
        if self.args is None:
            raise RuntimeError("CpuBackend.run before prepare")
        return self.args

    def run(self, row0: int, count: int, rows: np.ndarray | None = None) -> np.ndarray:
        """Metrics of grid rows [row0, row0 + count), or of the listed ``rows``: see
        :func:`hedgedesk.core.sweep.kernel.run_cpu` (shape (n_out(n_blocks), count)).
        """
        with _KERNEL_LOCK:
            return K.run_cpu(self._args(), row0, count, rows)

    def loaded(self) -> bool:
        """Whether the kernels are compiled (or loaded from numba's cache) in this process:
        the lock-step one (grid rows), the per-configuration one (listed rows) and the one
        that gives a leader's daily returns.
        """
        return all(bool(k.signatures) for k in (K._run_cpu, K._run_rows, K.simulate))

    def load(self) -> None:
        """Compile the kernels, or load them from numba's cache, on one configuration of the
        prepared leg: seconds on a first run, about 0.2 s from the cache.
        """
        with _KERNEL_LOCK:
            args = self._args()
            K.run_cpu(args, 0, 1)
            K.run_cpu(args, 0, 1, np.zeros(1, np.int64))
            K.curve_returns(args, 0)

    def warm(self, cancel: threading.Event) -> bool:
        """Load the kernel where a cancel need not wait for it; False when cancelled first."""
        return self.loaded() or wait_or_cancel(self.load, cancel)


def choose_backend(name: str) -> tuple[SweepBackend, str]:
    """(backend, note): ``auto`` takes the GPU when CuPy sees one, else the CPU, and says why."""
    if name == "cpu":
        return CpuBackend(), "cpu (as asked)"
    if name == "cluster":
        raise HedgedeskError(
            "this run was computed on a Dask cluster: resume it with --cluster ADDRESS"
        )
    from hedgedesk.core.sweep.gpu import GpuBackend, gpu_status

    ok, why = gpu_status()
    if ok:
        return GpuBackend(), f"gpu ({'as asked' if name == 'gpu' else 'auto: GPU found'})"
    if name == "gpu":
        raise HedgedeskError(f"--backend gpu: {why}")
    return CpuBackend(), f"cpu (auto: {why})"


# -- preparation -----------------------------------------------------------------------------
def prepare_leg(market: MarketData, request: SweepRequest, leg: Leg) -> PreparedLeg:
    """Returns, impact coefficients and beta tables of one leg, aligned and clipped to the
    request's dates; a DataError names the ticker or flag when the data cannot serve it
    (unknown ticker, too little history, volumes missing where impact needs them).
    """
    grid = request.grid
    tickers = [*leg.tickers, grid.hedge]
    for ticker in tickers:
        market.get(ticker)  # DataError listing the known tickers when unknown
    prices = market.aligned_prices(tickers, request.start, request.end)
    if leg.is_basket:
        volumes = (
            market.volumes(list(leg.tickers)).reindex(prices.index)
            if leg.weighting == "volume"
            else None
        )
        r_long = basket_returns(prices[list(leg.tickers)], volumes, leg.weighting)
    else:
        r_long = simple_returns(prices[leg.name])
    r_hedge = simple_returns(prices[grid.hedge]).loc[r_long.index]
    dates = r_long.index
    impact = max(grid.impact) > 0
    if impact:
        if leg.is_basket:
            raise DataError(
                leg.name,
                "market impact is modelled for single-ticker legs only; "
                "sweep the basket with --impact 0",
            )
        volumes = market.volumes(tickers).reindex(prices.index)
        for ticker in tickers:
            if volumes[ticker].isna().all():
                raise DataError(ticker, "market impact needs daily volumes; this series has none")
        scale = math.sqrt(request.capital)  # the kernel trades in units of the capital
        offset = len(prices) - 1 - len(dates)  # basket weights warm up first
        g = {
            t: impact_coefficients(prices[t].to_numpy(), volumes[t].to_numpy())[offset:] * scale
            for t in (leg.name, grid.hedge)
        }
        for t, coef in g.items():  # a gap in the volumes would make a trade's cost NaN
            bad = np.flatnonzero(np.isnan(coef[IMPACT_WARMUP:]))
            if bad.size:
                day = dates[IMPACT_WARMUP + bad[0]].date()
                raise DataError(
                    t,
                    f"volume missing in the {IMPACT_WARMUP} sessions before "
                    f"{day}: market impact is undefined there; fill the volume "
                    "series or sweep with --impact 0",
                )
    start = IMPACT_WARMUP if impact else 0
    first = K.first_day(grid, start)
    n_days = len(dates)
    need = first + 2 * request.blocks + 1
    if n_days < need:
        span = f"{request.start or 'first'}..{request.end or 'last'}"
        raise DataError(
            leg.name,
            f"too little history: {n_days} common daily returns with "
            f"{grid.hedge} in {span}; the largest --window "
            f"({max(grid.window)}) and {request.blocks} CSCV blocks "
            f"need at least {need}",
        )
    split = n_days
    if request.walk_forward:
        try:
            split = walk_forward_split(n_days, first + 1, request.walk_forward)
        except ValueError as exc:
            raise DataError("--walk-forward", f"{leg.name}: {exc}") from None
    tables = K.leg_tables(
        grid,
        r_long.to_numpy(),
        r_hedge.to_numpy(),
        g[leg.name] if impact else None,
        g[grid.hedge] if impact else None,
    )
    return PreparedLeg(leg, dates, tables, market.periods_per_year(tickers), start, split)


def fingerprint(legs: list[PreparedLeg]) -> str:
    """Hash of every leg's dates, returns and impact coefficients: the run's data identity
    (16 hex digits).
    """
    h = hashlib.sha256()
    for p in legs:
        h.update(p.leg.spec().encode())
        h.update(p.dates.asi8.tobytes())
        for a in (p.tables.r_long, p.tables.r_hedge, p.tables.g_long, p.tables.g_hedge):
            h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def code_version() -> str:
    """Package version and a hash of every source a sweep's figures depend on: results are
    identical only under the same code, so a resume checks it.
    """
    try:
        version = metadata.version("hedgedesk")
    except metadata.PackageNotFoundError:
        version = "unknown"
    h = hashlib.sha256()
    for module in (K, sys.modules[__name__], backtest, sweep_grid, sweep_score, metrics):
        h.update(Path(inspect.getfile(module)).read_bytes())
    return f"{version}+sweep.{h.hexdigest()[:10]}"


# -- where the chunks go ---------------------------------------------------------------------
class ChunkStore(Protocol):
    """What a sweep commits after each chunk and reads back to resume: the run ledger
    (``ledger.Ledger``) or, when none is given, a :class:`MemoryStore`.
    """

    def save_chunk(
        self,
        run_id: str | None,
        leg: int,
        start: int,
        stop: int,
        sample: dict[str, np.ndarray],
        state: dict[str, np.ndarray],
        kernel_s: float,
    ) -> None:
        """Keep chunk [start, stop) of leg ``leg``: its rows in the sample and the leg's
        stream state after it.
        """

    def load_stream(
        self, run_id: str | None, leg: int
    ) -> tuple[dict[str, np.ndarray], list[dict[str, np.ndarray]]] | None:
        """A leg's stream state and chunk samples, or None when nothing is stored."""
        ...

    def table_dir(self, run_id: str) -> Path:
        """Where a run's per-configuration table goes (``keep = all``)."""
        ...

    def progress(
        self, run_id: str | None, n_done: int, config_days_done: int, elapsed_s: float
    ) -> None:
        """Record how far the run is: configurations, config-days, seconds."""

    def finish(
        self,
        run_id: str | None,
        status: RunStatus,
        summary: SweepSummary | None = None,
        error: str | None = None,
        table: Path | None = None,
        elapsed_s: float | None = None,
    ) -> None:
        """Close the run with its final status, summary and per-configuration table."""


class MemoryStore:
    """Chunks kept in memory: what :func:`run_sweep` uses when no ledger is given (a
    :class:`ChunkStore` that records no progress and no outcome; a ``keep = all`` table stays
    in memory too).
    """

    def __init__(self):
        self.states: dict[int, dict[str, np.ndarray]] = {}
        self.samples: dict[int, list[dict[str, np.ndarray]]] = {}

    def save_chunk(
        self,
        run_id: str | None,
        leg: int,
        start: int,
        stop: int,
        sample: dict[str, np.ndarray],
        state: dict[str, np.ndarray],
        kernel_s: float,
    ) -> None:
        """Keep the chunk's sample and the leg's state after it."""
        self.samples.setdefault(leg, []).append(sample)
        self.states[leg] = state

    def load_stream(
        self, run_id: str | None, leg: int
    ) -> tuple[dict[str, np.ndarray], list[dict[str, np.ndarray]]] | None:
        """A leg's stream state and chunk samples, or None."""
        if leg not in self.states:
            return None
        return self.states[leg], self.samples[leg]

    def table_dir(self, run_id: str) -> Path:
        """Never called: a run kept in memory keeps its table in memory."""
        raise HedgedeskError("a sweep without a ledger keeps its table in memory")

    def progress(
        self, run_id: str | None, n_done: int, config_days_done: int, elapsed_s: float
    ) -> None:
        """Nothing to record in memory."""

    def finish(
        self,
        run_id: str | None,
        status: RunStatus,
        summary: SweepSummary | None = None,
        error: str | None = None,
        table: Path | None = None,
        elapsed_s: float | None = None,
    ) -> None:
        """Nothing to record in memory."""


# -- scoring helpers -------------------------------------------------------------------------
def _rank_scenario(grid: Grid) -> int:
    """Index of the costliest scenario (highest cost, then highest impact): strategies are
    ranked as if trading were as expensive as the trader fears.
    """
    return int(np.argmax(grid.cost)) * len(grid.impact) + int(np.argmax(grid.impact))


def _scored(out: np.ndarray, request: SweepRequest) -> dict[str, np.ndarray]:
    """The kernel's outputs by name, with the score and the in-sample score."""
    arrays = named(out, request.blocks)
    arrays["score"] = scores(arrays, request.targets)
    # without a split the in-sample figures are the full ones
    walk = request.walk_forward
    arrays["is_score"] = scores(arrays, request.targets, "is_") if walk else arrays["score"]
    return arrays


def _frame(grid: Grid, prep: PreparedLeg, rows: np.ndarray, arrays: dict) -> pd.DataFrame:
    """The per-configuration table of some rows (``keep = all``): parameters, then every
    figure as float32 (7 significant digits), status as int8.
    """
    params = grid.decode(rows)
    est = params.pop("estimator")
    data = {
        "ticker": prep.leg.name,
        "row": rows,
        **params,
        "estimator": np.array([e.kind for e in grid.estimator])[est],
        "halflife": np.array([e.halflife for e in grid.estimator])[est],
    }
    for name in ("score", *PER_CONFIG, "hedge_effectiveness", "is_score"):
        data[name] = np.asarray(arrays[name], np.float32)
    frame = pd.DataFrame(data)
    frame["status"] = frame["status"].astype(np.int8)
    frame["n"] = frame["n"].astype(np.int32)
    return frame


# -- the run ---------------------------------------------------------------------------------
def run_sweep(
    request: SweepRequest | None,
    market: MarketData,
    ledger=None,
    resume: str | None = None,
    cancel: threading.Event | None = None,
    backend: SweepBackend | None = None,
    backend_note: str = "",
    clock: Callable[[], float] = time.perf_counter,
    rate_hint: float | None = None,
    prepared: list[PreparedLeg] | None = None,
) -> Generator[Progress, None, SweepResult]:
    """Run (or resume) a sweep; yields :class:`Progress`, returns :class:`SweepResult`.

    ``ledger``: a ``hedgedesk.core.sweep.ledger.Ledger`` (None keeps chunks in memory, no resume).
    ``resume``: a run id in the ledger; its recorded request is used and the data must hash to
    the recorded fingerprint. ``backend``: an object with ``prepare(args)`` and
    ``run(row0, count, rows)`` (default: chosen by ``request.backend``), optionally
    ``warm(cancel)`` to load its kernel where a cancel need not wait. ``clock``: seconds, for
    timings, chunk sizing, progress pacing and the ETA (a test passes a fake one).
    ``rate_hint``: config-days per second of kernel time from a calibration (a plan's), the
    ETA's rate until one is measured. ``prepared``: the request's legs already prepared (a
    plan's), so the data are not read twice.

    ``cancel`` is honoured between chunks and while the kernel loads; a cancelled run's summary
    skips what needs the whole run (the leaders' deflated Sharpe replays, PBO, walk-forward),
    so it returns within a chunk's time; the ledger keeps it resumable.
    """
    t_begin = clock()
    cancel = cancel or threading.Event()
    record = None
    if resume:
        record = ledger.get(resume)
        if record.status == RunStatus.DONE:
            raise HedgedeskError(
                f"run {record.id} is already done: see hedgedesk runs show {record.id}"
            )
        if record.status == RunStatus.RUNNING:  # its process is alive (or on another host)
            raise HedgedeskError(
                f"run {record.id} is still running (pid {record.pid} on "
                f"{record.host}); cancel it or wait before resuming"
            )
        request = SweepRequest.from_dict(record.params)
    elif request is None:
        raise HedgedeskError("run_sweep: give a request, or the id of a run to resume")
    grid = request.grid
    if backend is None:  # a resumed run stays on its backend: results must be identical
        backend, backend_note = choose_backend(record.backend if record else request.backend)
    if prepared is not None and [p.leg for p in prepared] == list(grid.legs):
        legs = list(prepared)  # a plan's (hedgedesk.core.sweep.plan): the same request's legs
    else:
        legs = [prepare_leg(market, request, leg) for leg in grid.legs]
    print_ = fingerprint(legs)
    version = code_version()
    if record:
        if record.fingerprint != print_:
            raise HedgedeskError(
                f"run {record.id}: the data differ from the run's (fingerprint "
                f"{print_} vs {record.fingerprint}); resume needs the same "
                "files and dates"
            )
        if record.code_version != version:
            raise HedgedeskError(
                f"run {record.id} was computed by {record.code_version}, this "
                f"is {version}: results would not be identical; start a new run"
            )
        run_id = record.id
        ledger.mark_running(run_id, backend.name, backend.device)
    elif ledger is not None:
        run_id = ledger.create_run(
            request.to_dict(),
            print_,
            version,
            backend.name,
            backend.device,
            grid.n_rows,
            sum(_config_days(grid, p, grid.rows_per_leg) for p in legs),
        )
    else:
        run_id = None
    store = ledger if ledger is not None else MemoryStore()
    try:
        run = _SweepRun(
            request,
            legs,
            store,
            run_id,
            backend,
            backend_note,
            cancel,
            t_begin,
            print_,
            version,
            clock,
            rate_hint,
        )
        result = yield from run.run()
    except BaseException as exc:  # record why; the chunks stay, so the run can be resumed
        if ledger is not None:
            interrupted = isinstance(exc, KeyboardInterrupt | GeneratorExit)
            status = RunStatus.CANCELLED if interrupted else RunStatus.FAILED
            ledger.finish(
                run_id, status, error=f"{type(exc).__name__}: {exc}", elapsed_s=clock() - t_begin
            )
        raise
    return result


def _config_days(grid: Grid, prep: PreparedLeg, rows: int) -> int:
    """Config-days of ``rows`` configurations of a leg, windows equally represented (exact for
    whole legs, the same whatever the chunking).
    """
    per_window = sum(prep.n_days - max(w - 1, prep.start) for w in grid.window)
    return rows * per_window // len(grid.window)


def leg_args(
    request: SweepRequest,
    prep: PreparedLeg,
    grid: Grid | None = None,
    tables: K.LegTables | None = None,
    start: int | None = None,
    split: int | None = None,
) -> K.KernelArgs:
    """The kernel arguments of one leg's days [start, n_days) under ``request`` (by default
    its grid and the leg's tables, from the leg's first trading day, split as the
    walk-forward splits): what the run and the plan's calibration hand a backend.
    """
    return K.kernel_args(
        grid or request.grid,
        tables or prep.tables,
        prep.start if start is None else start,
        prep.n_days,
        prep.split if split is None else split,
        request.blocks,
        daily_rf(request.rf, prep.periods),
        prep.periods,
        vol_target=request.targets.volatility,
    )


def work_units(grid: Grid, request: SweepRequest, legs: list[PreparedLeg]) -> int:
    """A fresh run's kernel work in config-days x windows (divide by ``len(grid.window)``
    for config-days): every leg's grid rows, its unhedged twins with ``keep = all``, and the
    walk-forward's out-of-sample rows (its sample and leaders), the leaders' re-runs.
    """
    twins = _twin_grid(grid).rows_per_leg if request.keep == "all" else 0
    oos_rows = round(_oos_rate(grid) * distinct_strategies(grid)) + 2 * request.top
    reruns = request.top * (grid.n_scenarios + 1)  # the leaders' scenarios and twins
    return sum(
        (twins + grid.rows_per_leg + reruns) * _config_days(grid, p, len(grid.window))
        + (oos_rows * _oos_days(grid, p) if request.walk_forward else 0)
        for p in legs
    )


def _twin_grid(grid: Grid) -> Grid:
    """The unhedged twins: hedge ratio 0 under every other parameter (one estimator suffices:
    with no hedge, beta only decides whether the configuration is defined).
    """
    return dataclasses.replace(grid, estimator=grid.estimator[:1], hedge_ratio=(0.0,))


def _twin_rows(grid: Grid, twins: Grid, rows: np.ndarray) -> np.ndarray:
    """Row in the twin grid ``twins`` of each configuration's unhedged twin."""
    idx = list(np.unravel_index(np.asarray(rows, np.int64), grid.shape))
    idx[AXES.index("estimator")] = 0 * idx[0]
    idx[AXES.index("hedge_ratio")] = 0 * idx[0]
    return np.ravel_multi_index(idx, twins.shape)


def _oos_days(grid: Grid, prep: PreparedLeg) -> int:
    """Sum over the windows of the days one out-of-sample configuration simulates."""
    return sum(prep.n_days - max(w - 1, prep.split) for w in grid.window)


def _oos_sample(stream: LegStream) -> np.ndarray:
    """The strategies of a leg's walk-forward statistics: every one while the legs hold at most
    OOS_SAMPLE in all, else a uniform sample of about OOS_SAMPLE / legs, drawn from the PBO
    sample by the same hash (so the same rows whatever the chunking), sorted.
    """
    rows = stream.sample()["row"]
    return rows[in_sample(rows, stream.leg, _oos_rate(stream.grid))]


def _oos_rate(grid: Grid) -> float:
    """Share of a leg's strategies in the walk-forward's sample: OOS_SAMPLE in all, shared
    evenly by the legs (the rank correlation pools them).
    """
    return min(1.0, OOS_SAMPLE / len(grid.legs) / max(distinct_strategies(grid), 1))


def _oos_rows(stream: LegStream) -> np.ndarray:
    """The rows a leg's walk-forward re-runs out of sample: its walk-forward sample and its
    leaders by score and by in-sample score, sorted.
    """
    return np.unique(
        np.concatenate([_oos_sample(stream), stream.leaders.rows, stream.is_leaders.rows])
    ).astype(np.int64)


# the walk-forward's pass: per leg, the rows re-run out of sample and their outputs
_Oos = dict[int, tuple[np.ndarray, dict[str, np.ndarray]]]


def _keep_output(parts: list[np.ndarray], pos: int, out: np.ndarray, took: float) -> None:
    """Chunk sink of passes over listed rows: the kernel's outputs, in order."""
    parts.append(out)


def _keep_volatility(vol: np.ndarray, pos: int, out: np.ndarray, took: float) -> None:
    """Chunk sink of the unhedged twins: each ok twin's annualised volatility, else NaN."""
    vol[pos : pos + out.shape[1]] = np.where(
        out[K.STATUS] == K.OK, out[K.ANNUAL_VOLATILITY], np.nan
    )


def _bootstrap_pbo(
    sample: dict[str, np.ndarray],
    blocks: int,
    counts: np.ndarray,
    rf_d: float,
    seed: int,
    stop: Callable[[], bool],
) -> float:
    """Sampling error of a PBO computed on a sample of strategies: the standard deviation
    (ddof = 1) of the PBO over :data:`PBO_RESAMPLES` resamples of the sample's strategies with
    replacement (seeded: the same run gives the same error).
    """
    rng = np.random.default_rng(seed)
    n = len(sample["shift"])
    sums = [np.stack([sample[f"block_sum{k}_{b}"] for b in range(blocks)], axis=1) for k in (1, 2)]
    values = []
    for _ in range(PBO_RESAMPLES):
        i = rng.integers(0, n, n)
        values.append(pbo_cscv(sample["shift"][i], sums[0][i], sums[1][i], counts, rf_d, stop).pbo)
    return float(np.std(values, ddof=1))


class _SweepRun:
    """One session of a registered sweep, phase by phase (:meth:`run`): each leg's grid in
    chunks folded into its :class:`~hedgedesk.core.sweep.stream.LegStream` (:meth:`_sweep_leg`;
    with ``keep = all`` its unhedged twins first and every configuration's figures written),
    the walk-forward's out-of-sample pass over each leg's sample and leaders
    (:meth:`_out_of_sample`), and the summary (:meth:`_summarise`, :meth:`_finish`). Every
    phase runs its configurations through :meth:`_chunks`, which sizes the chunks, honours the
    cancel between them and paces the progress events.
    """

    def __init__(
        self,
        request: SweepRequest,
        legs: list[PreparedLeg],
        store: ChunkStore,
        run_id: str | None,
        backend: SweepBackend,
        backend_note: str,
        cancel: threading.Event,
        t_begin: float,
        fingerprint: str,
        version: str,
        clock: Callable[[], float],
        rate_hint: float | None,
    ):
        self.request, self.grid, self.legs = request, request.grid, legs
        self.store, self.run_id = store, run_id
        self.backend, self.backend_note = backend, backend_note
        self.cancel, self.t_begin, self.clock = cancel, t_begin, clock
        self.fingerprint, self.version = fingerprint, version
        grid = self.grid
        self.rank = _rank_scenario(grid)  # the scenario strategies are ranked under
        self.streams = [
            LegStream(grid, i, request.blocks, request.targets, self.rank, request.top, p.periods)
            for i, p in enumerate(legs)
        ]
        for i, stream in enumerate(self.streams):
            stored = store.load_stream(run_id, i)
            if stored is not None:
                stream.restore(*stored)
        self.done = sum(s.done for s in self.streams)  # resumed ones included
        self.keep_all = request.keep == "all"
        self.frames: list[pd.DataFrame] = []  # keep = all without a ledger
        self.table = store.table_dir(run_id) if self.keep_all and run_id is not None else None
        self.prepare_s = clock() - t_begin
        self.kernel_s = self.stream_s = self.ledger_s = self.twins_s = self.oos_s = 0.0
        self.day_sum = 0  # config-days x len(grid.window) computed in this session
        self.chunk = 256  # configurations in the next chunk
        self.chunk_s = getattr(backend, "chunk_seconds", CHUNK_SECONDS)  # a cluster's are longer
        self.last_progress = -math.inf  # clock() of the last progress event
        self.loaded = False  # whether the kernel was loaded in this session
        # config-days, counted exactly: day_sum / len(grid.window) (windows equally represented)
        self.window_days = [_config_days(grid, p, len(grid.window)) for p in legs]
        self.oos_days = [_oos_days(grid, p) for p in legs]
        self.twins = _twin_grid(grid)
        self.eta = Eta(
            work_units(grid, request, legs),
            sum(s.done * self.window_days[i] for i, s in enumerate(self.streams)),
            rate_hint=None if rate_hint is None else rate_hint * len(grid.window),
        )
        self.eta.tail_s = scoring_seconds(grid, legs, request.top, request.blocks)

    def run(self) -> Generator[Progress, None, SweepResult]:
        """Every phase in turn; yields :class:`Progress`, returns the :class:`SweepResult`."""
        for leg_i, prep in enumerate(self.legs):
            twin_vol = (yield from self._twins(leg_i, prep)) if self.keep_all else None
            yield from self._sweep_leg(leg_i, prep, twin_vol)
            if self.cancel.is_set():
                break
        t_score = self.clock()
        yield self._progress("scoring")
        walk, oos = yield from self._out_of_sample()
        board = self._summarise(oos)
        return self._finish(board, walk, t_score)

    # -- bookkeeping ----------------------------------------------------------------------------
    @property
    def config_days(self) -> int:
        """Config-days computed in this session."""
        return self.day_sum // len(self.grid.window)

    def _best(self) -> tuple[BestSoFar, ...]:
        """The best strategies so far under the ranking scenario, every leg, best first."""
        found = []
        for leg_i, (prep, stream) in enumerate(zip(self.legs, self.streams, strict=True)):
            lead = stream.leaders
            for j in range(len(lead.rows)):
                found.append((-lead.score[j], leg_i, int(lead.rows[j]), prep, lead, j))
        found.sort(key=lambda x: x[:3])
        return tuple(
            BestSoFar(
                ticker=prep.leg.name,
                **self.grid.strategy_params(row),
                score=float(lead.score[j]),
                sharpe=float(lead.figures["sharpe"][j]),
                annual_return=float(lead.figures["annual_return"][j]),
                max_drawdown=float(lead.figures["max_drawdown"][j]),
            )
            for _, _, row, prep, lead, j in found[: self.request.top]
        )

    def _progress(self, phase: str) -> Progress:
        rate = self.config_days / self.kernel_s if self.kernel_s else 0.0
        now = self.clock()
        return Progress(
            self.done,
            self.grid.n_rows,
            self.config_days,
            rate,
            self.eta.seconds(now),
            now - self.t_begin,
            phase,
            self._best(),
            self.run_id,
            self.eta.fraction,
        )

    def _args(
        self,
        prep: PreparedLeg,
        grid: Grid | None = None,
        tables: K.LegTables | None = None,
        start: int | None = None,
        split: int | None = None,
    ) -> K.KernelArgs:
        """The kernel arguments of one leg's days [start, n_days): see :func:`leg_args`."""
        return leg_args(self.request, prep, grid, tables, start, split)

    def _prepare(self, grid: Grid, tables: K.LegTables, prep: PreparedLeg, start: int, split: int):
        """Hand the backend the kernel arguments of one leg's days [start, n_days)."""
        self.backend.prepare(self._args(prep, grid, tables, start, split))

    def _load_kernel(self, phase: str) -> Generator[Progress, None, None]:
        """Before the first chunk: load the kernel (compiled on a first run) where a cancel
        need not wait for it, and start the ETA's clock once it is loaded.
        """
        self.loaded = True
        warm = getattr(self.backend, "warm", None)
        if warm is not None and not getattr(self.backend, "loaded", lambda: False)():
            yield self._progress(f"{phase} (loading the kernel)")
            warm(self.cancel)
        self.eta.start(self.clock())

    def _chunks(
        self,
        n: int,
        phase: str,
        days: int,
        on_chunk: Callable[[int, np.ndarray, float], None],
        rows: np.ndarray | None = None,
        row0: int = 0,
    ) -> Generator[Progress, None, bool]:
        """Run n configurations (grid rows row0.. or the listed rows) in chunks of about
        ``chunk_s`` seconds (at most CHUNK_MAX), calling ``on_chunk(offset, out, kernel
        seconds)`` after each; returns False when cancelled. ``days``: day_sum units per
        configuration.
        """
        if not self.loaded and n and not self.cancel.is_set():
            yield from self._load_kernel(phase)
        pos = 0
        while pos < n:
            if self.cancel.is_set():
                return False
            count = min(self.chunk, n - pos)
            t0 = self.clock()
            out = (
                self.backend.run(row0 + pos, count)
                if rows is None
                else self.backend.run(0, count, rows[pos : pos + count])
            )
            took = self.clock() - t0
            self.kernel_s += took
            on_chunk(pos, out, took)
            self.day_sum += count * days
            self.eta.add(count * days)
            self.chunk = max(64, min(CHUNK_MAX, int(count * self.chunk_s / max(took, 1e-4))))
            pos += count
            now = self.clock()
            if now - self.last_progress >= PROGRESS_EVERY:
                self.last_progress = now
                self.store.progress(self.run_id, self.done, self.config_days, now - self.t_begin)
                yield self._progress(phase)
        return True

    def _rerun(self, prep: PreparedLeg, rows: np.ndarray, grid: Grid | None = None) -> np.ndarray:
        """The kernel's outputs of a few listed rows of a leg over its whole period (leaders'
        scenarios, twins), outside the chunking: (n_out, len(rows)).
        """
        grid = grid or self.grid
        tables = prep.tables if grid is self.grid else self._twin_tables(prep)
        self._prepare(grid, tables, prep, prep.start, prep.split)
        t0 = self.clock()
        out = self.backend.run(0, len(rows), np.asarray(rows, np.int64))
        self.kernel_s += self.clock() - t0
        self.eta.add(len(rows) * self.window_days[self.legs.index(prep)])
        return out

    def _twin_tables(self, prep: PreparedLeg) -> K.LegTables:
        """The twin grid's tables: the leg's, with the betas of its first estimator only (the
        twin grid's one estimator), every window.
        """
        n_est = len(self.grid.estimator)
        return dataclasses.replace(prep.tables, betas=prep.tables.betas[::n_est].copy())

    # -- the phases -----------------------------------------------------------------------------
    def _twins(self, leg_i: int, prep: PreparedLeg) -> Generator[Progress, None, np.ndarray | None]:
        """Annualised volatility of each of the leg's unhedged twins (NaN where one is not ok),
        for the table of ``keep = all``; None when a cancel came first.
        """
        if self.cancel.is_set() or self.streams[leg_i].done == self.grid.rows_per_leg:
            return None
        t0 = self.clock()
        self._prepare(self.twins, self._twin_tables(prep), prep, prep.start, prep.n_days)
        n = self.twins.rows_per_leg
        vol = np.full(n, np.nan)
        keep = functools.partial(_keep_volatility, vol)
        days = self.window_days[leg_i]
        finished = yield from self._chunks(n, f"unhedged {prep.leg.name}", days, keep)
        self.twins_s += self.clock() - t0
        return vol if finished else None

    def _sweep_leg(
        self, leg_i: int, prep: PreparedLeg, twin_vol: np.ndarray | None
    ) -> Generator[Progress, None, None]:
        """The leg's grid rows not folded in yet, each chunk committed as it finishes."""
        stream = self.streams[leg_i]
        left = self.grid.rows_per_leg - stream.done
        if left == 0 or self.cancel.is_set():
            return
        self._prepare(self.grid, prep.tables, prep, prep.start, prep.split)
        fold = functools.partial(self._fold, leg_i, prep, twin_vol)
        phase = f"sweep {prep.leg.name}"
        yield from self._chunks(left, phase, self.window_days[leg_i], fold, row0=stream.done)

    def _fold(
        self,
        leg_i: int,
        prep: PreparedLeg,
        twin_vol: np.ndarray | None,
        pos: int,
        out: np.ndarray,
        took: float,
    ) -> None:
        """Score a chunk, fold it into the leg's stream and commit it (with ``keep = all``,
        its table too).
        """
        t0 = self.clock()
        stream = self.streams[leg_i]
        row0, n = stream.done, out.shape[1]
        arrays = _scored(out, self.request)
        sample = stream.add(row0, arrays)
        t1 = self.clock()
        if self.keep_all:
            rows = np.arange(row0, row0 + n)
            twin = (
                twin_vol[_twin_rows(self.grid, self.twins, rows)]
                if twin_vol is not None
                else np.full(n, np.nan)
            )
            with np.errstate(invalid="ignore", divide="ignore"):
                arrays["hedge_effectiveness"] = 1.0 - (arrays["annual_volatility"] / twin) ** 2
            frame = _frame(self.grid, prep, rows, arrays)
            if self.table is None:
                self.frames.append(frame)
            else:
                part = self.table / f"leg{leg_i:03d}-{row0:012d}.parquet"
                write_atomic(part, functools.partial(frame.to_parquet, index=False))
        self.store.save_chunk(self.run_id, leg_i, row0, row0 + n, sample, stream.state(), took)
        self.stream_s += t1 - t0
        self.ledger_s += self.clock() - t1
        self.done += n

    def _out_of_sample(self) -> Generator[Progress, None, tuple[WalkForward | None, _Oos]]:
        """Each leg's sample and leaders re-run from its split day, flat: (the walk-forward's
        summary, {leg: (rows, outputs)}); (None, {}) when the split is off or a cancel came
        first.
        """
        oos: _Oos = {}
        if not self.request.walk_forward or self.cancel.is_set():
            return None, oos
        t0 = self.clock()
        for leg_i, (prep, stream) in enumerate(zip(self.legs, self.streams, strict=True)):
            if stream.done == 0:
                continue
            rows = _oos_rows(stream)
            self._prepare(self.grid, prep.tables, prep, prep.split, prep.n_days)
            parts: list[np.ndarray] = []
            keep = functools.partial(_keep_output, parts)
            phase = f"out-of-sample {prep.leg.name}"
            days = self.oos_days[leg_i]
            if not (yield from self._chunks(len(rows), phase, days, keep, rows=rows)):
                break
            out = np.concatenate(parts, axis=1) if parts else np.empty((K.n_out(2), 0))
            oos[leg_i] = (rows, _scored(out, self.request))
        self.oos_s += self.clock() - t0
        if self.cancel.is_set():
            return None, oos
        return self._walk_forward(oos), oos

    def _walk_forward(self, oos: _Oos) -> WalkForward | None:
        """Rank strategies on their in-sample score (days before the split) and report how the
        leaders did afterwards, started flat on the split day with no knowledge of what
        followed; the rank correlation and percentiles over the legs' walk-forward sample
        (every strategy while they hold at most OOS_SAMPLE).
        """
        is_all, oos_all, picks = [], [], []
        population = 0
        for leg_i, (rows, out) in oos.items():
            stream, prep = self.streams[leg_i], self.legs[leg_i]
            population += stream.trials()
            sample = stream.sample()
            mine = np.isin(sample["row"], _oos_sample(stream))
            is_score = sample["is_score"][mine]
            is_all.append(np.where(np.isfinite(is_score), is_score, np.nan))
            oos_all.append(out["score"][np.searchsorted(rows, sample["row"][mine])])
            lead = stream.is_leaders
            for j in range(len(lead.rows)):
                k = int(np.searchsorted(rows, lead.rows[j]))
                picks.append((-lead.score[j], leg_i, int(lead.rows[j]), prep, lead, j, out, k))
        if not picks:
            return None
        is_cat, oos_cat = np.concatenate(is_all), np.concatenate(oos_all)
        picks.sort(key=lambda x: x[:3])
        grid = self.grid
        top = tuple(
            WalkForwardRow(
                ticker=prep.leg.name,
                **grid.strategy_params(row),
                hedge=grid.hedge,
                row=row,
                in_sample=Figures(
                    score=float(lead.figures["is_score"][j]),
                    sharpe=float(lead.figures["is_sharpe"][j]),
                    annual_return=float(lead.figures["is_annual_return"][j]),
                    max_drawdown=float(lead.figures["is_max_drawdown"][j]),
                ),
                oos=RankedOosFigures(
                    score=float(out["score"][k]),
                    sharpe=float(out["sharpe"][k]),
                    annual_return=float(out["annual_return"][k]),
                    max_drawdown=float(out["max_drawdown"][k]),
                    status=ConfigStatus(K.STATUS_NAMES[int(out["status"][k])]),
                    percentile=float(np.mean(oos_cat <= out["score"][k])),
                ),
            )
            for _, _, row, prep, lead, j, out, k in picks[: self.request.top]
        )
        return WalkForward(
            fraction_in_sample=self.request.walk_forward,
            splits={p.leg.name: p.dates[p.split].date() for p in self.legs},
            strategies=len(is_cat),
            spearman_is_oos=rank_correlation(is_cat, oos_cat),
            top=top,
            population=population,
        )

    # -- the summary ----------------------------------------------------------------------------
    def _pbo(self, leg_i: int, prep: PreparedLeg) -> Pbo | None:
        """The leg's PBO by CSCV over its sample's ok strategies: exact while the sample holds
        every strategy, else on the sample with its bootstrap sampling error; None with fewer
        than two, or when a cancel stops it.
        """
        stream = self.streams[leg_i]
        sample = stream.sample()
        ok = sample["status"] == K.OK
        if ok.sum() < 2:
            return None
        sample = {k: v[ok] for k, v in sample.items()}
        blocks = self.request.blocks
        counts = K.block_counts(prep.n_days - K.first_day(self.grid, prep.start), blocks)
        rf_d = daily_rf(self.request.rf, prep.periods)
        sums = [
            np.stack([sample[f"block_sum{k}_{b}"] for b in range(blocks)], axis=1) for k in (1, 2)
        ]
        stop = self.cancel.is_set
        exact = stream.rate >= 1.0
        try:
            with serial_blas():  # small products: BLAS's threads cost more than they save
                res = pbo_cscv(sample["shift"], sums[0], sums[1], counts, rf_d, stop)
                error = None if exact else _bootstrap_pbo(sample, blocks, counts, rf_d, leg_i, stop)
        except Stopped:
            return None
        population = int(stream.acc["scen_int"][self.rank, 1])  # ok distinct strategies
        return Pbo(
            pbo=res.pbo,
            combinations=res.n_combinations,
            configurations=res.n_configurations,
            blocks=res.n_blocks,
            degradation=res.degradation,
            prob_oos_loss=res.prob_oos_loss,
            method="exact" if exact else "sampled",
            population=population,
            standard_error=error,
        )

    def _summarise(self, oos: _Oos) -> _Board:
        """The run's legs, counts, ranking, overfitting figures, marginals and leaderboard from
        the streams. Once the cancel is set, what needs the whole run is skipped (PBO, and the
        replays behind each leader's deflated Sharpe ratio), so a cancel takes effect within a
        chunk; resuming the run computes them.
        """
        cancelled = self.cancel.is_set
        grid, request = self.grid, self.request
        n_scen = grid.n_scenarios
        active = [i for i, s in enumerate(self.streams) if s.done > 0]
        moments = {i: self.streams[i].moments() for i in active}
        pooled = Moments(0.0, math.nan, 0.0)
        for m in moments.values():
            pooled = pooled.merge(m)
        n_trials = sum(self.streams[i].trials() for i in active)
        extras = {i: self._leader_extras(i) for i in active}

        def deflate(leg_i: int, lead: Leaders, j: int) -> Deflated:
            """The leader's Sharpe ratio deflated by the leg's own trials (choosing within a
            ticker) and by every leg's (choosing across the whole run), its moments, and its
            Sharpe ratio in each CSCV block (stability through time), annualised.
            """
            prep = self.legs[leg_i]
            row = int(lead.rows[j])
            rf_d = daily_rf(request.rf, prep.periods)
            m = return_moments(K.curve_returns(self._args(prep), row), rf_d)
            mine = deflated_sharpe(
                m["sharpe"],
                m["n"],
                m["skew"],
                m["kurtosis"],
                moments[leg_i].variance,
                max(self.streams[leg_i].trials(), 1),
            )
            every = deflated_sharpe(
                m["sharpe"], m["n"], m["skew"], m["kurtosis"], pooled.variance, max(n_trials, 1)
            )
            root = math.sqrt(prep.periods)
            counts = K.block_counts(prep.n_days - K.first_day(grid, prep.start), request.blocks)
            sum1, sum2 = (
                np.array([[lead.figures[f"block_sum{k}_{b}"][j] for b in range(request.blocks)]])
                for k in (1, 2)
            )
            shift = lead.figures["shift"][j : j + 1]
            return Deflated(
                dsr=float(mine["dsr"]),
                sr0_annual=float(mine["sr0"]) * root,
                dsr_all_legs=float(every["dsr"]),
                sr0_all_legs_annual=float(every["sr0"]) * root,
                skew=float(m["skew"]),
                kurtosis=float(m["kurtosis"]),
                sharpe_by_block=tuple(
                    float(
                        block_sharpe(
                            shift, sum1, sum2, counts, np.arange(request.blocks) == b, rf_d
                        )[0]
                        * root
                    )
                    for b in range(request.blocks)
                ),
            )

        made: dict[tuple[int, int], StrategyRow] = {}

        def leader(leg_i: int, j: int) -> StrategyRow:
            """A leaderboard row: parameters, figures, deflated Sharpe, every cost scenario,
            out of sample (a leg's best is usually a leader too: made once).
            """
            lead = self.streams[leg_i].leaders
            row = int(lead.rows[j])
            if (leg_i, row) in made:
                return made[leg_i, row]
            prep = self.legs[leg_i]
            scen_rows, scen, twin = extras[leg_i]
            figures: dict[str, Any] = {
                name: float(lead.figures[name][j])
                for name in ROW_FIGURES
                if name not in ("score", "hedge_effectiveness")
            }
            figures["score"] = float(lead.score[j])
            with np.errstate(invalid="ignore", divide="ignore"):
                figures["hedge_effectiveness"] = float(
                    1.0 - (figures["annual_volatility"] / twin[j]) ** 2
                )
            strategy = row - row % n_scen
            at = np.searchsorted(scen_rows, strategy + np.arange(n_scen))
            made[leg_i, row] = StrategyRow(
                ticker=prep.leg.name,
                **grid.strategy_params(row),
                hedge=grid.hedge,
                row=row,
                status=ConfigStatus(K.STATUS_NAMES[int(lead.figures["status"][j])]),
                **figures,
                n=int(lead.figures["n"][j]),
                deflated=None if cancelled() else deflate(leg_i, lead, j),
                scenarios=tuple(
                    ScenarioFigures(
                        cost=grid.cost[s // len(grid.impact)],
                        impact=grid.impact[s % len(grid.impact)],
                        score=float(scen["score"][at[s]]),
                        sharpe=float(scen["sharpe"][at[s]]),
                        annual_return=float(scen["annual_return"][at[s]]),
                        max_drawdown=float(scen["max_drawdown"][at[s]]),
                    )
                    for s in range(n_scen)
                ),
                oos=_oos_figures(oos, leg_i, row),
            )
            return made[leg_i, row]

        ranked = sorted(
            (-self.streams[i].leaders.score[j], i, int(self.streams[i].leaders.rows[j]), j)
            for i in active
            for j in range(len(self.streams[i].leaders.rows))
        )
        top = tuple(leader(i, j) for _, i, _, j in ranked[: request.top])
        legs = tuple(
            self._leg_summary(i, None if cancelled() else self._pbo(i, self.legs[i]), leader)
            for i in active
        )
        status = np.sum([self.streams[i].acc["status_count"] for i in active], axis=0)
        if not active:
            status = np.zeros(3, np.int64)
        return _Board(
            legs=legs,
            counts=Counts(
                strategies_per_leg=grid.n_strategies,
                scenarios=n_scen,
                configurations=grid.n_rows,
                trials=n_trials,
                ok=int(status[K.OK]),
                ruined=int(status[K.RUINED]),
                undefined_beta=int(status[K.UNDEFINED_BETA]),
                done=self.done,
            ),
            ranking=Ranking(
                cost=grid.cost[self.rank // len(grid.impact)],
                impact=grid.impact[self.rank % len(grid.impact)],
                targets=request.targets,
            ),
            overfitting=Overfitting(
                trials=n_trials,
                sharpe_variance_per_period=pooled.variance,
                deferred=DEFERRED if cancelled() else None,
            ),
            top=top,
            scenarios=self._scenario_stats(active),
        )

    def _leader_extras(self, leg_i: int) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
        """For a leg's leaders: every cost scenario of their strategies re-run (rows, outputs
        with scores) and the annualised volatility of each leader's unhedged twin.
        """
        prep, lead = self.legs[leg_i], self.streams[leg_i].leaders
        n_scen = self.grid.n_scenarios
        strategies = lead.rows - lead.rows % n_scen
        rows = np.unique((strategies[:, None] + np.arange(n_scen)).ravel()).astype(np.int64)
        scen = _scored(self._rerun(prep, rows), self.request) if len(rows) else {}
        twin_rows = _twin_rows(self.grid, self.twins, lead.rows)
        out = self._rerun(prep, twin_rows, self.twins) if len(twin_rows) else np.empty((1, 0))
        twin = (
            np.where(out[K.STATUS] == K.OK, out[K.ANNUAL_VOLATILITY], np.nan)
            if len(twin_rows)
            else np.empty(0)
        )
        return rows, scen, twin

    def _leg_summary(self, leg_i: int, pbo: Pbo | None, leader) -> LegSummary:
        """One leg's days, trials, PBO, marginals, heat map and best strategy."""
        grid, prep, stream = self.grid, self.legs[leg_i], self.streams[leg_i]
        acc = stream.acc
        first = K.first_day(grid, prep.start)

        def mean(total: np.ndarray, count: np.ndarray) -> tuple[float | None, ...]:
            return tuple(
                None if c == 0 else float(t / c) for t, c in zip(total, count, strict=True)
            )

        def best(values: np.ndarray) -> tuple[float | None, ...]:
            return tuple(None if v == -np.inf else float(v) for v in values)

        marginals = []
        for a, axis in enumerate(STRATEGY_AXES):
            n = grid.shape[a]
            levels = getattr(grid, axis)
            marginals.append(
                AxisMarginal(
                    axis=axis,
                    levels=tuple(v.label() if axis == "estimator" else f"{v:g}" for v in levels),
                    count=tuple(int(c) for c in acc["axis_count"][a, :n]),
                    mean_score=mean(acc["axis_sum"][a, :n], acc["axis_count"][a, :n]),
                    best_score=best(acc["axis_best"][a, :n]),
                )
            )
        n_w = len(grid.window)
        cells = range(len(grid.rebalance))
        heat = HeatMap(
            rebalance=grid.rebalance,
            window=grid.window,
            count=tuple(
                tuple(int(c) for c in acc["heat_count"][p * n_w : (p + 1) * n_w]) for p in cells
            ),
            mean_score=tuple(
                mean(
                    acc["heat_sum"][p * n_w : (p + 1) * n_w],
                    acc["heat_count"][p * n_w : (p + 1) * n_w],
                )
                for p in cells
            ),
            best_score=tuple(best(acc["heat_best"][p * n_w : (p + 1) * n_w]) for p in cells),
        )
        return LegSummary(
            ticker=prep.leg.name,
            members=prep.leg.tickers,
            weighting=prep.leg.weighting if prep.leg.is_basket else None,
            first_return=prep.dates[0].date(),
            last_return=prep.dates[-1].date(),
            n_days=prep.n_days,
            periods_per_year=prep.periods,
            first_trade_all=prep.dates[first].date(),
            split=prep.dates[prep.split].date() if prep.split < prep.n_days else None,
            configurations_done=stream.done,
            trials=stream.trials(),
            pbo=pbo,
            impact_warmup_days=prep.start,
            best=leader(leg_i, 0) if len(stream.leaders.rows) else None,
            marginals=tuple(marginals),
            heat=heat,
        )

    def _scenario_stats(self, active: list[int]) -> tuple[ScenarioStats, ...]:
        """Every leg's distinct configurations under each cost scenario: counts, means of the
        ok ones, best score, share with Sharpe at or above the target.
        """
        grid = self.grid
        if not active:
            return ()
        acc = [self.streams[i].acc for i in active]
        ints = np.sum([a["scen_int"] for a in acc], axis=0)
        sums = np.sum([a["scen_sum"] for a in acc], axis=0)
        ns = np.sum([a["scen_n"] for a in acc], axis=0)
        best = np.max([a["scen_best"] for a in acc], axis=0)

        def mean(s: int, m: int) -> float | None:
            return float(sums[s, m] / ns[s, m]) if ns[s, m] else None

        return tuple(
            ScenarioStats(
                cost=grid.cost[s // len(grid.impact)],
                impact=grid.impact[s % len(grid.impact)],
                configurations=int(ints[s, 0]),
                ok=int(ints[s, 1]),
                best_score=None if best[s] == -np.inf else float(best[s]),
                mean_sharpe=mean(s, 0),
                mean_annual_return=mean(s, 1),
                mean_max_drawdown=mean(s, 2),
                share_sharpe_at_target=float(ints[s, 2] / ints[s, 1]) if ints[s, 1] else None,
            )
            for s in range(grid.n_scenarios)
        )

    def _finish(self, board: _Board, walk: WalkForward | None, t_score: float) -> SweepResult:
        """The summary and (``keep = all``) the per-configuration table, recorded in the
        store.
        """
        status = RunStatus.CANCELLED if self.cancel.is_set() else RunStatus.DONE
        total_s = self.clock() - self.t_begin
        summary = SweepSummary(
            grid=self.grid,
            request=self.request.to_dict(),
            legs=board.legs,
            counts=board.counts,
            ranking=board.ranking,
            overfitting=board.overfitting,
            top=board.top,
            walk_forward=walk,
            run_id=self.run_id,
            status=status,
            backend=BackendInfo(self.backend.name, self.backend.device, self.backend_note),
            fingerprint=self.fingerprint,
            code_version=self.version,
            timings=Timings(
                prepare_s=self.prepare_s,
                kernel_s=self.kernel_s,
                score_s=self.clock() - t_score,
                total_s=total_s,
                config_days=self.config_days,
                config_days_per_s=self.config_days / self.kernel_s if self.kernel_s else None,
                stream_s=self.stream_s,
                ledger_s=self.ledger_s,
                twins_s=self.twins_s,
                oos_s=self.oos_s,
            ),
            scenarios=board.scenarios,
        )
        self.store.progress(self.run_id, self.done, self.config_days, total_s)
        table = self.table if self.table is not None and self.table.is_dir() else None
        self.store.finish(self.run_id, status, summary, elapsed_s=total_s, table=table)
        per_config = None
        if self.keep_all:
            if self.table is None:
                per_config = (
                    pd.concat(self.frames, ignore_index=True) if self.frames else pd.DataFrame()
                )
            elif table is not None:
                per_config = pd.read_parquet(table)
        return SweepResult(self.run_id, status, summary, per_config)


class _Board(NamedTuple):
    """What scoring a run gives its summary: legs, counts, ranking, overfitting, leaders."""

    legs: tuple[LegSummary, ...]
    counts: Counts
    ranking: Ranking
    overfitting: Overfitting
    top: tuple[StrategyRow, ...]
    scenarios: tuple[ScenarioStats, ...]


def _oos_figures(oos: _Oos, leg_i: int, row: int) -> OosFigures | None:
    """A leader's figures from the walk-forward's pass, which ran each leg's sample and
    leaders from the split on: None where the walk-forward is off or was not run.
    """
    if leg_i not in oos:
        return None
    rows, out = oos[leg_i]
    j = int(np.searchsorted(rows, row))
    if j == len(rows) or rows[j] != row:
        return None
    return OosFigures(
        score=float(out["score"][j]),
        sharpe=float(out["sharpe"][j]),
        annual_return=float(out["annual_return"][j]),
        max_drawdown=float(out["max_drawdown"][j]),
        status=ConfigStatus(K.STATUS_NAMES[int(out["status"][j])]),
    )

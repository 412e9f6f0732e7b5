"""Sweeps: a grid of dynamic-beta hedge strategies run on the CPU or the GPU, streamed, scored
for overfitting and recorded in the run ledger.

:func:`run_sweep` is a generator: it yields :class:`Progress` about every quarter of a second
(configurations done, config-days per second, ETA, the best strategies so far) and returns the
:class:`SweepResult`. The ETA is the work left in every phase over the wall-clock throughput
(:class:`Eta`). A ``cancel`` event stops it between chunks (a chunk is sized to take about
0.1 s) or while the kernel compiles, keeping what finished; a cancelled run's summary skips what
needs the whole run, so it returns within the chunk in flight (measured: 39 ms median,
``bench/sweep_cancel.py``). Every finished chunk is saved in the ledger before the next one
starts, so an interrupted run resumes (``resume=RUN``) from its last finished chunk; final
results are always computed from the stored chunks, so a resumed run ends exactly like an
uninterrupted one.

Steps: prepare each leg's returns and tables; run the unhedged twin of every strategy (hedge
ratio 0) for hedge effectiveness; run the grid chunk by chunk; score every configuration (target
score), rank strategies under the ranking cost scenario, deflate the leaders' Sharpe ratios by
the number of trials, estimate the probability of backtest overfitting (CSCV) per leg, and
re-run every strategy out of sample after the walk-forward split.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import io
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
from hedgedesk.core.data.market import MarketData
from hedgedesk.core.errors import DataError, HedgedeskError
from hedgedesk.core.metrics import daily_rf
from hedgedesk.core.sweep import backtest
from hedgedesk.core.sweep import grid as sweep_grid
from hedgedesk.core.sweep import kernel as K
from hedgedesk.core.sweep import score as sweep_score
from hedgedesk.core.sweep.backtest import (
    basket_returns,
    dynamic_beta_hedge,
    impact_coefficients,
    simple_returns,
)
from hedgedesk.core.sweep.grid import AXES, Grid, Leg
from hedgedesk.core.sweep.ledger import RunStatus
from hedgedesk.core.sweep.request import SweepRequest
from hedgedesk.core.sweep.results import (
    DEFERRED,
    ROW_FIGURES,
    BackendInfo,
    BestSoFar,
    ConfigStatus,
    Counts,
    Deflated,
    Figures,
    LegSummary,
    OosFigures,
    Overfitting,
    Pbo,
    RankedOosFigures,
    Ranking,
    ScenarioFigures,
    StrategyRow,
    SweepSummary,
    Timings,
    WalkForward,
    WalkForwardRow,
)
from hedgedesk.core.sweep.score import (
    ScoreTargets,
    block_sharpe,
    deflated_sharpe,
    pbo_cscv,
    rank_correlation,
    return_moments,
    target_score,
    walk_forward_split,
)

PROGRESS_EVERY = 0.25  # seconds between progress events
CHUNK_SECONDS = 0.1  # target duration of one chunk: bounds cancel latency and lost work
ETA_AFTER = 0.5  # seconds of measured throughput before an ETA is given
# closing a run in the ledger (its chunks dropped, the space given back) takes about this many
# times as long as saving the chunks did (measured 1.3 to 1.9; reading them back, the tables
# and the Parquet file are in finish_cost)
FINISH_PER_SAVE = 1.5
IMPACT_WARMUP = 30  # sessions of volume before the first trade when impact is modelled
SCORED = ("sharpe", "annual_return", "max_drawdown", "consistency")
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

    def __init__(self, total: float, done: float = 0.0, tail_s: float = 0.0):
        self.total = float(total)
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
        """NaN until the throughput has been measured for ETA_AFTER seconds: the first chunks
        are small and pay fixed costs, so they would promise far too long.
        """
        if self.t0 is None or self.measured <= 0 or now - self.t0 < ETA_AFTER:
            return math.nan
        return max(self.total - self.done, 0.0) * (now - self.t0) / self.measured + self.tail_s


_REPLAY_COST: tuple[float, float] | None = None  # seconds per replayed day: base, rebalance


def replay_cost() -> tuple[float, float]:
    """Seconds per day of the plain backtest that :func:`_replay` runs for each leader's
    deflated Sharpe ratio: (every day, each rebalance day), timed once per process on 300
    synthetic days (about 5 ms).
    """
    global _REPLAY_COST
    if _REPLAY_COST is None:
        rng = np.random.default_rng(0)
        r_hedge = rng.normal(0.0, 0.01, 300)
        r_long = 1.1 * r_hedge + rng.normal(0.0, 0.01, 300)
        took = []
        for period in (1, 300):
            t0 = time.perf_counter()
            dynamic_beta_hedge(r_long, r_hedge, period, 20)
            took.append((time.perf_counter() - t0) / 281)  # 281 days from day W - 1
        _REPLAY_COST = (took[1], max(took[0] - took[1], 0.0))
    return _REPLAY_COST


_FINISH_COST: dict[int, float] = {}  # seconds per configuration, by CSCV blocks


def finish_cost(blocks: int) -> float:
    """Seconds per configuration of a run's finishing work that grows with its size: reading
    the chunks back, the per-configuration table and its Parquet file, PBO by CSCV. Timed once
    per process on 1,024 and 4,096 synthetic configurations (the difference leaves out fixed
    costs; about 40 ms in all).
    """
    if blocks not in _FINISH_COST:
        from hedgedesk.core.sweep.ledger import _pack, _unpack

        def once(n: int) -> float:
            rng = np.random.default_rng(0)
            arrays = {name: rng.normal(0.0, 1.0, n) for name in K.METRICS}
            for b in range(blocks):
                arrays[f"block_sum1_{b}"] = rng.normal(0.0, 0.01, n)
                arrays[f"block_sum2_{b}"] = rng.uniform(0.001, 0.01, n)
            t0 = time.perf_counter()
            back = _unpack(_pack(arrays))
            pd.DataFrame({name: back[name] for name in K.METRICS}).to_parquet(io.BytesIO())
            sums = [
                np.stack([back[f"block_sum{k}_{b}"] for b in range(blocks)], axis=1) for k in (1, 2)
            ]
            pbo_cscv(back["shift"], sums[0], sums[1], np.full(blocks, 100), 0.0)
            return time.perf_counter() - t0

        once(256)  # first calls load and cache what they need
        _FINISH_COST[blocks] = max(once(4096) - once(1024), 0.0) / 3072
    return _FINISH_COST[blocks]


def scoring_seconds(grid: Grid, legs: list[PreparedLeg], top: int, blocks: int = 8) -> float:
    """Estimated seconds of a run's scoring after its last chunk: the replays of the leaders
    and of each leg's best (a Python loop over the days; their number times the days times
    the cost of a day, rebalance periods weighted as the grid holds them), and the work that
    grows with the configurations (:func:`finish_cost`).
    """
    base, rebalance = replay_cost()
    per_day = base + rebalance * float(np.mean([1.0 / p for p in grid.rebalance]))
    replays = min(top, grid.n_strategies * len(legs)) + len(legs)
    return replays * float(np.mean([p.n_days for p in legs])) * per_day + grid.n_rows * finish_cost(
        blocks
    )


@dataclass(frozen=True, eq=False)
class SweepResult:
    """A finished (or cancelled) sweep: its summary and its per-configuration table."""

    run_id: str | None
    status: RunStatus  # done | cancelled
    summary: SweepSummary  # summary.to_json(): see README "hedgedesk sweep --json"
    per_config: pd.DataFrame  # one row per configuration and scenario


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
        """Whether the kernel is compiled (or loaded from numba's cache) in this process."""
        return bool(K._run_cpu.signatures)

    def load(self) -> None:
        """Compile the kernel, or load it from numba's cache, on one configuration of the
        prepared leg: seconds on a first run, about 0.2 s from the cache.
        """
        with _KERNEL_LOCK:
            K.run_cpu(self._args(), 0, 1)

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
    """What a sweep writes its chunks to and reads them back from: the run ledger
    (``ledger.Ledger``) or, when none is given, a :class:`MemoryStore`.
    """

    def save_chunk(
        self,
        run_id: str | None,
        leg: int,
        start: int,
        stop: int,
        arrays: dict[str, np.ndarray],
        kernel_s: float,
    ) -> None:
        """Keep the outputs of grid rows [start, stop) of leg ``leg`` (arrays of that length)."""

    def finished_chunks(self, run_id: str | None) -> list[tuple[int, int, int]]:
        """(leg, start, stop) of every stored chunk, in order."""
        ...

    def load_leg(self, run_id: str | None, leg: int) -> dict[str, np.ndarray]:
        """One leg's stored outputs, its chunks concatenated."""
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
        per_config: pd.DataFrame | None = None,
        elapsed_s: float | None = None,
    ) -> None:
        """Close the run with its final status, summary and per-configuration table."""


class MemoryStore:
    """Chunks kept in memory: what :func:`run_sweep` uses when no ledger is given (a
    :class:`ChunkStore` that records no progress and no outcome).
    """

    def __init__(self):
        self.chunks: dict[tuple[int, int], tuple[int, dict[str, np.ndarray]]] = {}

    def save_chunk(
        self,
        run_id: str | None,
        leg: int,
        start: int,
        stop: int,
        arrays: dict[str, np.ndarray],
        kernel_s: float,
    ) -> None:
        """Keep the outputs of grid rows [start, stop) of leg ``leg``."""
        self.chunks[(leg, start)] = (stop, arrays)

    def finished_chunks(self, run_id: str | None) -> list[tuple[int, int, int]]:
        """(leg, start, stop) of every chunk kept, in order."""
        return sorted((leg, start, stop) for (leg, start), (stop, _) in self.chunks.items())

    def load_leg(self, run_id: str | None, leg: int) -> dict[str, np.ndarray]:
        """One leg's outputs, its chunks concatenated in row order."""
        parts = [self.chunks[key][1] for key in sorted(k for k in self.chunks if k[0] == leg)]
        return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}

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
        per_config: pd.DataFrame | None = None,
        elapsed_s: float | None = None,
    ) -> None:
        """Nothing to record in memory."""


# -- scoring helpers -------------------------------------------------------------------------
def _rank_scenario(grid: Grid) -> int:
    """Index of the costliest scenario (highest cost, then highest impact): strategies are
    ranked as if trading were as expensive as the trader fears.
    """
    return int(np.argmax(grid.cost)) * len(grid.impact) + int(np.argmax(grid.impact))


def _score(arrays: dict, targets: ScoreTargets, prefix: str = "") -> np.ndarray:
    sharpe, annual_return, max_drawdown, consistency = (arrays[prefix + m] for m in SCORED)
    return target_score(sharpe, annual_return, max_drawdown, consistency, targets)[0]


def _named(out: np.ndarray, n_blocks: int) -> dict[str, np.ndarray]:
    arrays = {name: out[i].copy() for i, name in enumerate(K.METRICS)}
    for b in range(n_blocks):
        arrays[f"block_sum1_{b}"] = out[K.BLOCK_SUM1 + b].copy()
        arrays[f"block_sum2_{b}"] = out[K.BLOCK_SUM1 + n_blocks + b].copy()
    return arrays


def _strategy_row(
    grid: Grid,
    prep: PreparedLeg,
    row: int,
    arrays: dict[str, np.ndarray],
    deflated: Deflated | None,
    scenarios: tuple[ScenarioFigures, ...],
    oos: OosFigures | None,
) -> StrategyRow:
    """Grid row ``row`` of a leg as a leaderboard row, with its deflated Sharpe ratio, its
    figures under every cost scenario and out of sample, where known.
    """
    figures: dict[str, Any] = {name: float(arrays[name][row]) for name in ROW_FIGURES}
    return StrategyRow(
        ticker=prep.leg.name,
        **grid.strategy_params(int(row)),
        hedge=grid.hedge,
        row=int(row),
        status=ConfigStatus(K.STATUS_NAMES[int(arrays["status"][row])]),
        **figures,
        n=int(arrays["n"][row]),
        deflated=deflated,
        scenarios=scenarios,
        oos=oos,
    )


def _replay(grid: Grid, leg: PreparedLeg, row: int, request: SweepRequest) -> np.ndarray:
    """Daily returns of one configuration from the plain backtest (for skew and kurtosis)."""
    p = grid.strategy_params(row)
    t = leg.tables
    scale = math.sqrt(request.capital)
    run = dynamic_beta_hedge(
        t.r_long,
        t.r_hedge,
        p["rebalance"],
        p["window"],
        p["exposure"],
        p["hedge_ratio"],
        p["cost"],
        p["drift_band"],
        1.0,
        p["estimator"],
        p["halflife"],
        p["impact"],
        t.g_long / scale,
        t.g_hedge / scale,
        start=leg.start,
    )
    e = run.equity
    return e[1:] / e[:-1] - 1.0


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
) -> Generator[Progress, None, SweepResult]:
    """Run (or resume) a sweep; yields :class:`Progress`, returns :class:`SweepResult`.

    ``ledger``: a ``hedgedesk.core.sweep.ledger.Ledger`` (None keeps chunks in memory, no resume).
    ``resume``: a run id in the ledger; its recorded request is used and the data must hash to
    the recorded fingerprint. ``backend``: an object with ``prepare(args)`` and
    ``run(row0, count, rows)`` (default: chosen by ``request.backend``), optionally
    ``warm(cancel)`` to load its kernel where a cancel need not wait. ``clock``: seconds, for
    timings, chunk sizing, progress pacing and the ETA (a test passes a fake one).

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


def _twin_grid(grid: Grid) -> Grid:
    """The unhedged twins: hedge ratio 0 under every other parameter (one estimator suffices:
    with no hedge, beta only decides whether the configuration is defined).
    """
    return dataclasses.replace(grid, estimator=grid.estimator[:1], hedge_ratio=(0.0,))


def _twin_rows(grid: Grid, twins: Grid, rows: np.ndarray) -> np.ndarray:
    """Row in ``twins`` of each configuration's unhedged twin: the first estimator and hedge
    ratio 0 (``twins`` is the twin grid, or ``grid`` itself when it holds h = 0).
    """
    idx = list(np.unravel_index(rows, grid.shape))
    idx[AXES.index("estimator")] = 0 * idx[0]
    idx[AXES.index("hedge_ratio")] = 0 * idx[0] + twins.hedge_ratio.index(0.0)
    return np.ravel_multi_index(idx, twins.shape)


def _oos_days(grid: Grid, prep: PreparedLeg) -> int:
    """Sum over the windows of the days one out-of-sample configuration simulates."""
    return sum(prep.n_days - max(w - 1, prep.split) for w in grid.window)


# a scored leg: its index, the prepared leg, its grid rows and their outputs (with scores)
_Scored = tuple[int, PreparedLeg, np.ndarray, dict[str, np.ndarray]]
# the walk-forward's pass: per leg, the grid rows re-run out of sample and their outputs
_Oos = dict[int, tuple[np.ndarray, dict[str, np.ndarray]]]


class _Board(NamedTuple):
    """What scoring a run gives its summary: legs, counts, ranking, overfitting, leaders."""

    legs: tuple[LegSummary, ...]
    counts: Counts
    ranking: Ranking
    overfitting: Overfitting
    top: tuple[StrategyRow, ...]


def _keep_volatility(vol: np.ndarray, pos: int, out: np.ndarray, took: float) -> None:
    """Chunk sink of the unhedged twins: each ok twin's annualised volatility, else NaN."""
    vol[pos : pos + out.shape[1]] = np.where(
        out[K.STATUS] == K.OK, out[K.ANNUAL_VOLATILITY], np.nan
    )


def _keep_output(parts: list[np.ndarray], pos: int, out: np.ndarray, took: float) -> None:
    """Chunk sink of the out-of-sample pass: the kernel's outputs, in order."""
    parts.append(out)


class _SweepRun:
    """One session of a registered sweep, phase by phase (:meth:`run`): each leg's unhedged
    twins (:meth:`_twins`) and grid chunks (:meth:`_sweep_leg`), scoring from the stored
    chunks (:meth:`_score_legs`), the walk-forward's out-of-sample pass (:meth:`_out_of_sample`)
    and the summary (:meth:`_finish`). Every phase runs its configurations through
    :meth:`_chunks`, which sizes the chunks, honours the cancel between them and paces the
    progress events; the counters they share are attributes.
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
    ):
        self.request, self.grid, self.legs = request, request.grid, legs
        self.store, self.run_id = store, run_id
        self.backend, self.backend_note = backend, backend_note
        self.cancel, self.t_begin, self.clock = cancel, t_begin, clock
        self.fingerprint, self.version = fingerprint, version
        grid = self.grid
        self.rank = _rank_scenario(grid)  # the scenario strategies are ranked under
        self.finished = store.finished_chunks(run_id)  # (leg, start, stop) stored before
        self.done_in = [0] * len(legs)  # configurations stored per leg
        for leg_i, a, b in self.finished:
            self.done_in[leg_i] += b - a
        self.done = sum(self.done_in)  # configurations finished, resumed ones included
        self.prepare_s = clock() - t_begin
        self.kernel_s = 0.0  # seconds in the kernel in this session
        self.day_sum = 0  # config-days x len(grid.window) computed in this session
        self.chunk = 256  # configurations in the next chunk
        self.chunk_s = getattr(backend, "chunk_seconds", CHUNK_SECONDS)  # a cluster's are longer
        self.last_progress = -math.inf  # clock() of the last progress event
        self.loaded = False  # whether the kernel was loaded in this session
        self.save_s, self.saved = 0.0, 0  # seconds spent saving chunks, configurations saved
        self.best: list[tuple[float, BestSoFar]] = []  # (score, strategy), best first
        # config-days, counted exactly: day_sum / len(grid.window) (windows equally represented)
        self.window_days = [_config_days(grid, p, len(grid.window)) for p in legs]
        self.oos_days = [_oos_days(grid, p) for p in legs]
        self.twins = _twin_grid(grid)
        self.in_grid = 0.0 in grid.hedge_ratio  # the twins are rows of the grid itself
        self.twin_rows = 0 if self.in_grid else self.twins.rows_per_leg
        self.twin_vol: list[np.ndarray | None] = []  # per leg: see _twins
        # the run's kernel work in day_sum units, every phase: twins (rerun by every session),
        # the grid's rows, the walk-forward's out-of-sample rows (the ranking scenario's)
        self.eta = Eta(
            sum(
                self.twin_rows * self.window_days[i]
                + grid.rows_per_leg * self.window_days[i]
                + (grid.n_strategies * self.oos_days[i] if request.walk_forward else 0)
                for i in range(len(legs))
            ),
            sum(self.done_in[i] * self.window_days[i] for i in range(len(legs))),
        )
        self.scoring_s = scoring_seconds(grid, legs, request.top, request.blocks)

    def run(self) -> Generator[Progress, None, SweepResult]:
        """Every phase in turn; yields :class:`Progress`, returns the :class:`SweepResult`."""
        for leg_i, prep in enumerate(self.legs):
            self.twin_vol.append((yield from self._twins(leg_i, prep)))
            yield from self._sweep_leg(leg_i, prep)
            if self.cancel.is_set():
                break
        t_score = self.clock()
        yield self._progress("scoring")
        scored, frames = self._score_legs()
        walk, oos = yield from self._out_of_sample(scored)
        return self._finish(scored, frames, walk, oos, t_score)

    # -- bookkeeping ----------------------------------------------------------------------------
    @property
    def config_days(self) -> int:
        """Config-days computed in this session."""
        return self.day_sum // len(self.grid.window)

    def _progress(self, phase: str) -> Progress:
        rate = self.config_days / self.kernel_s if self.kernel_s else 0.0
        # the scoring after the last chunk, and the ledger's share of it from its speed so far
        self.eta.tail_s = self.scoring_s + (
            FINISH_PER_SAVE * self.save_s / self.saved * self.grid.n_rows if self.saved else 0.0
        )
        now = self.clock()
        return Progress(
            self.done,
            self.grid.n_rows,
            self.config_days,
            rate,
            self.eta.seconds(now),
            now - self.t_begin,
            phase,
            tuple(d for _, d in self.best),
            self.run_id,
            self.eta.fraction,
        )

    def _prepare(self, grid: Grid, tables: K.LegTables, prep: PreparedLeg, start: int, split: int):
        """Hand the backend the kernel arguments of one leg's days [start, n_days)."""
        self.backend.prepare(
            K.kernel_args(
                grid,
                tables,
                start,
                prep.n_days,
                split,
                self.request.blocks,
                daily_rf(self.request.rf, prep.periods),
                prep.periods,
            )
        )

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
        ``chunk_s`` seconds, calling ``on_chunk(offset, out, kernel seconds)`` after each;
        returns False when cancelled. ``days``: day_sum units per configuration.
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
            on_chunk(pos, out, took)
            self.kernel_s += took
            self.day_sum += count * days
            self.eta.add(count * days)
            self.chunk = max(64, min(1 << 22, int(count * self.chunk_s / max(took, 1e-4))))
            pos += count
            now = self.clock()
            if now - self.last_progress >= PROGRESS_EVERY:
                self.last_progress = now
                self.store.progress(self.run_id, self.done, self.config_days, now - self.t_begin)
                yield self._progress(phase)
        return True

    # -- the phases -----------------------------------------------------------------------------
    def _twins(self, leg_i: int, prep: PreparedLeg) -> Generator[Progress, None, np.ndarray | None]:
        """Annualised volatility of each of the leg's unhedged twins (NaN where one is not ok);
        None when the grid holds the twins itself or a cancel came first.
        """
        if self.in_grid or self.cancel.is_set():
            return None
        t = prep.tables
        twin_tables = K.leg_tables(self.twins, t.r_long, t.r_hedge, t.g_long, t.g_hedge)
        self._prepare(self.twins, twin_tables, prep, prep.start, prep.n_days)
        vol = np.full(self.twin_rows, np.nan)
        keep = functools.partial(_keep_volatility, vol)
        days = self.window_days[leg_i]
        finished = yield from self._chunks(self.twin_rows, f"unhedged {prep.leg.name}", days, keep)
        return vol if finished else None

    def _gaps(self, leg_i: int) -> list[tuple[int, int]]:
        """The leg's grid rows [a, b) not stored yet, in order."""
        gaps, pos = [], 0
        for a, b in sorted((a, b) for i, a, b in self.finished if i == leg_i):
            if a > pos:
                gaps.append((pos, a))
            pos = max(pos, b)
        if pos < self.grid.rows_per_leg:
            gaps.append((pos, self.grid.rows_per_leg))
        return gaps

    def _sweep_leg(self, leg_i: int, prep: PreparedLeg) -> Generator[Progress, None, None]:
        """The leg's grid rows not stored yet, each chunk saved as it finishes."""
        self._prepare(self.grid, prep.tables, prep, prep.start, prep.split)
        for a, b in self._gaps(leg_i):
            save = functools.partial(self._save, leg_i, prep, a)
            phase = f"sweep {prep.leg.name}"
            if not (yield from self._chunks(b - a, phase, self.window_days[leg_i], save, row0=a)):
                break

    def _save(
        self, leg_i: int, prep: PreparedLeg, a: int, pos: int, out: np.ndarray, took: float
    ) -> None:
        """Store the chunk at grid row ``a + pos`` and keep its best strategies."""
        arrays = _named(out, self.request.blocks)
        t0 = self.clock()
        self.store.save_chunk(self.run_id, leg_i, a + pos, a + pos + out.shape[1], arrays, took)
        self.save_s += self.clock() - t0
        self.saved += out.shape[1]
        self.done_in[leg_i] += out.shape[1]
        self.done += out.shape[1]
        grid = self.grid
        _merge_best(
            self.best, grid, prep, a + pos, arrays, self.rank, grid.n_scenarios, self.request
        )

    def _score_legs(self) -> tuple[list[_Scored], list[pd.DataFrame]]:
        """Every leg with stored rows, read back from the store and scored: (leg, prepared
        leg, rows, outputs with hedge effectiveness and scores), and its per-configuration
        table.
        """
        scored, frames = [], []
        for leg_i, prep in enumerate(self.legs):
            if self.done_in[leg_i] == 0:
                continue
            arrays = self.store.load_leg(self.run_id, leg_i)
            rows = np.arange(len(arrays["status"]))
            twin = self._twin_volatility(leg_i, rows, arrays)
            with np.errstate(invalid="ignore", divide="ignore"):
                arrays["hedge_effectiveness"] = 1.0 - (arrays["annual_volatility"] / twin) ** 2
            arrays["score"] = _score(arrays, self.request.targets)
            arrays["is_score"] = _score(arrays, self.request.targets, "is_")
            scored.append((leg_i, prep, rows, arrays))
            frames.append(_frame(self.grid, prep, rows, arrays))
        return scored, frames

    def _twin_volatility(self, leg_i: int, rows: np.ndarray, arrays: dict) -> np.ndarray:
        """Annualised volatility of each row's unhedged twin (NaN where unknown)."""
        grid = self.grid
        vol = self.twin_vol[leg_i] if leg_i < len(self.twin_vol) else None
        if self.in_grid:  # twins are the grid's own h = 0 rows (first estimator)
            twin_row = _twin_rows(grid, grid, rows)
            known = twin_row < len(rows)
            twin = np.full(len(rows), np.nan)
            ok = arrays["status"][twin_row[known]] == K.OK
            twin[known] = np.where(ok, arrays["annual_volatility"][twin_row[known]], np.nan)
            return twin
        if vol is not None:
            return vol[_twin_rows(grid, self.twins, rows)]
        return np.full(len(rows), np.nan)  # cancelled before the twins of this leg were run

    def _out_of_sample(
        self, scored: list[_Scored]
    ) -> Generator[Progress, None, tuple[WalkForward | None, _Oos]]:
        """Every strategy of the ranking scenario re-run from each leg's split day, flat:
        (the walk-forward's summary, {leg: (rows, outputs)}); (None, {}) when the split is
        off or a cancel came first.
        """
        oos: _Oos = {}
        if not self.request.walk_forward or self.cancel.is_set():
            return None, oos
        for leg_i, prep, rows, _ in scored:
            mine = rows[rows % self.grid.n_scenarios == self.rank]
            self._prepare(self.grid, prep.tables, prep, prep.split, prep.n_days)
            parts: list[np.ndarray] = []
            keep = functools.partial(_keep_output, parts)
            phase = f"out-of-sample {prep.leg.name}"
            days = self.oos_days[leg_i]
            if not (yield from self._chunks(len(mine), phase, days, keep, rows=mine)):
                break
            out = _named(np.concatenate(parts, axis=1), self.request.blocks)
            out["score"] = _score(out, self.request.targets)
            oos[leg_i] = (mine, out)
        if self.cancel.is_set():
            return None, oos
        return _walk_forward(self.grid, self.request, scored, oos), oos

    def _finish(
        self,
        scored: list[_Scored],
        frames: list[pd.DataFrame],
        walk: WalkForward | None,
        oos: _Oos,
        t_score: float,
    ) -> SweepResult:
        """The summary and the per-configuration table, recorded in the store."""
        board = _summarise(
            self.grid,
            self.request,
            self.legs,
            scored,
            self.rank,
            self.done,
            oos if walk is not None else {},
            self.cancel,
        )
        per_config = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
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
            timings=Timings(  # total_s: all but writing the Parquet file that follows
                prepare_s=self.prepare_s,
                kernel_s=self.kernel_s,
                score_s=self.clock() - t_score,
                total_s=total_s,
                config_days=self.config_days,
                config_days_per_s=self.config_days / self.kernel_s if self.kernel_s else None,
            ),
        )
        self.store.progress(self.run_id, self.done, self.config_days, total_s)
        self.store.finish(
            self.run_id,
            status,
            summary,
            elapsed_s=total_s,
            per_config=per_config if status == RunStatus.DONE else None,
        )
        return SweepResult(self.run_id, status, summary, per_config)


def _merge_best(
    best: list[tuple[float, BestSoFar]],
    grid: Grid,
    prep: PreparedLeg,
    row0: int,
    arrays: dict,
    rank: int,
    n_scen: int,
    request: SweepRequest,
) -> None:
    """Keep the ``top`` best strategies seen so far (ranking scenario, in-sample score)."""
    rows = row0 + np.arange(len(arrays["status"]))
    mine = np.flatnonzero(rows % n_scen == rank)
    if not mine.size:
        return
    score = _score({m: arrays[m][mine] for m in SCORED}, request.targets)
    order = np.argsort(-score, kind="stable")[: request.top]
    for j in order:
        i = mine[j]
        leader = BestSoFar(
            ticker=prep.leg.name,
            **grid.strategy_params(int(rows[i])),
            score=float(score[j]),
            sharpe=float(arrays["sharpe"][i]),
            annual_return=float(arrays["annual_return"][i]),
            max_drawdown=float(arrays["max_drawdown"][i]),
        )
        best.append((float(score[j]), leader))
    best.sort(key=lambda x: -x[0])
    del best[request.top :]


def _frame(grid: Grid, prep: PreparedLeg, rows: np.ndarray, arrays: dict) -> pd.DataFrame:
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
        data[name] = arrays[name]
    frame = pd.DataFrame(data)
    frame["status"] = frame["status"].astype(np.int8)
    return frame


def _summarise(
    grid: Grid,
    request: SweepRequest,
    legs: list[PreparedLeg],
    scored: list[_Scored],
    rank: int,
    done: int,
    oos: _Oos,
    cancel: threading.Event | None = None,
) -> _Board:
    """The run's legs, counts, ranking, overfitting figures and leaderboard (``done``:
    configurations computed; ``oos``: the walk-forward's pass, {} where it did not run).
    Once ``cancel`` is set, what needs the whole run is skipped (PBO, and the replays behind
    each leader's deflated Sharpe ratio: most of a summary's time), so a cancel takes effect
    within a chunk; resuming the run computes them.
    """
    cancelled = cancel.is_set if cancel is not None else lambda: False
    n_scen = grid.n_scenarios
    leaders: list[tuple[float, int, PreparedLeg, int]] = []
    trial_sharpes: dict[int, np.ndarray] = {}
    legs_out: list[dict] = []  # each leg's LegSummary arguments but its best
    statuses = np.concatenate([a["status"] for *_, a in scored]) if scored else np.array([])
    for leg_i, prep, rows, arrays in scored:
        mine = np.flatnonzero(rows % n_scen == rank)
        ok = mine[arrays["status"][mine] == K.OK]
        root = math.sqrt(prep.periods)
        trial_sharpes[leg_i] = arrays["sharpe"][ok] / root  # per period, as DSR wants
        counts = K.block_counts(prep.n_days - K.first_day(grid, prep.start), request.blocks)
        pbo = None
        if ok.size >= 2 and not cancelled():
            res = pbo_cscv(
                arrays["shift"][ok],
                np.stack([arrays[f"block_sum1_{b}"][ok] for b in range(request.blocks)], axis=1),
                np.stack([arrays[f"block_sum2_{b}"][ok] for b in range(request.blocks)], axis=1),
                counts,
                daily_rf(request.rf, prep.periods),
            )
            pbo = Pbo(
                pbo=res.pbo,
                combinations=res.n_combinations,
                configurations=res.n_configurations,
                blocks=res.n_blocks,
                degradation=res.degradation,
                prob_oos_loss=res.prob_oos_loss,
            )
        first = K.first_day(grid, prep.start)
        legs_out.append(
            {
                "ticker": prep.leg.name,
                "members": prep.leg.tickers,
                "weighting": prep.leg.weighting if prep.leg.is_basket else None,
                "first_return": prep.dates[0].date(),
                "last_return": prep.dates[-1].date(),
                "n_days": prep.n_days,
                "periods_per_year": prep.periods,
                "first_trade_all": prep.dates[first].date(),
                "split": prep.dates[prep.split].date() if prep.split < prep.n_days else None,
                "configurations_done": len(rows),
                "trials": len(rows) // n_scen,
                "pbo": pbo,
                "impact_warmup_days": prep.start,
            }
        )
        score = np.where(arrays["status"][mine] == K.OK, arrays["score"][mine], -np.inf)
        for j in np.argsort(-score, kind="stable")[: request.top]:
            leaders.append((score[j], leg_i, prep, int(mine[j])))
    leaders.sort(key=lambda x: -x[0])
    n_trials = int(sum(len(r) // n_scen for _, _, r, _ in scored))
    arrays_of = {leg_i: arrays for leg_i, _, _, arrays in scored}

    def variance(sharpes: np.ndarray) -> float:
        return float(np.var(sharpes, ddof=1)) if sharpes.size > 1 else math.nan

    pooled = variance(np.concatenate(list(trial_sharpes.values()))) if scored else math.nan

    made: dict[tuple[int, int], StrategyRow] = {}

    def deflate(leg_i: int, prep: PreparedLeg, row: int) -> Deflated:
        """The leader's Sharpe ratio deflated by the leg's own trials (choosing within a
        ticker) and by every leg's (choosing across the whole run), its moments, and its
        Sharpe ratio in each CSCV block (stability through time), annualised.
        """
        arrays = arrays_of[leg_i]
        rf_d = daily_rf(request.rf, prep.periods)
        m = return_moments(_replay(grid, prep, row, request), rf_d)
        mine = deflated_sharpe(
            m["sharpe"],
            m["n"],
            m["skew"],
            m["kurtosis"],
            variance(trial_sharpes[leg_i]),
            max(len(arrays["status"]) // n_scen, 1),
        )
        every = deflated_sharpe(
            m["sharpe"], m["n"], m["skew"], m["kurtosis"], pooled, max(n_trials, 1)
        )
        root = math.sqrt(prep.periods)
        counts = K.block_counts(prep.n_days - K.first_day(grid, prep.start), request.blocks)
        sum1, sum2 = (
            np.array([[arrays[f"block_sum{k}_{b}"][row] for b in range(request.blocks)]])
            for k in (1, 2)
        )
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
                        arrays["shift"][row : row + 1],
                        sum1,
                        sum2,
                        counts,
                        np.arange(request.blocks) == b,
                        rf_d,
                    )[0]
                    * root
                )
                for b in range(request.blocks)
            ),
        )

    def leader(leg_i: int, prep: PreparedLeg, row: int) -> StrategyRow:
        """A leaderboard row: parameters, metrics, deflated Sharpe, every cost scenario, out
        of sample (a leg's best is usually a leader too: made once).
        """
        if (leg_i, row) in made:
            return made[leg_i, row]
        arrays = arrays_of[leg_i]
        status = ConfigStatus(K.STATUS_NAMES[int(arrays["status"][row])])
        strategy = row - row % n_scen
        made[leg_i, row] = _strategy_row(
            grid,
            prep,
            row,
            arrays,
            deflated=(
                deflate(leg_i, prep, row) if status == ConfigStatus.OK and not cancelled() else None
            ),
            scenarios=tuple(
                ScenarioFigures(
                    cost=grid.cost[s // len(grid.impact)],
                    impact=grid.impact[s % len(grid.impact)],
                    score=float(arrays["score"][strategy + s]),
                    sharpe=float(arrays["sharpe"][strategy + s]),
                    annual_return=float(arrays["annual_return"][strategy + s]),
                    max_drawdown=float(arrays["max_drawdown"][strategy + s]),
                )
                for s in range(n_scen)
                if strategy + s < len(arrays["status"])
            ),
            oos=_oos_figures(oos, leg_i, row),
        )
        return made[leg_i, row]

    top = tuple(leader(leg_i, prep, row) for _, leg_i, prep, row in leaders[: request.top])
    summaries = []
    for leg_out, (leg_i, prep, _, _) in zip(legs_out, scored, strict=True):
        mine_rows = [row for _, i, _, row in leaders if i == leg_i]
        best = leader(leg_i, prep, mine_rows[0]) if mine_rows else None
        summaries.append(LegSummary(**leg_out, best=best))

    return _Board(
        legs=tuple(summaries),
        counts=Counts(
            strategies_per_leg=grid.n_strategies,
            scenarios=n_scen,
            configurations=grid.n_rows,
            trials=n_trials,
            ok=int(np.sum(statuses == K.OK)),
            ruined=int(np.sum(statuses == K.RUINED)),
            undefined_beta=int(np.sum(statuses == K.UNDEFINED_BETA)),
            done=done,
        ),
        ranking=Ranking(
            cost=grid.cost[rank // len(grid.impact)],
            impact=grid.impact[rank % len(grid.impact)],
            targets=request.targets,
        ),
        overfitting=Overfitting(
            trials=n_trials,
            sharpe_variance_per_period=pooled,
            deferred=DEFERRED if cancelled() else None,
        ),
        top=top,
    )


def _oos_figures(oos: _Oos, leg_i: int, row: int) -> OosFigures | None:
    """A leader's (or a leg's best's) figures from the walk-forward's pass, which ran every
    strategy of the ranking scenario from the split on: None where the walk-forward is off
    or was not run (a cancelled run).
    """
    if leg_i not in oos:
        return None
    mine, out = oos[leg_i]
    j = int(np.searchsorted(mine, row))
    if j == len(mine) or mine[j] != row:
        return None
    return OosFigures(
        score=float(out["score"][j]),
        sharpe=float(out["sharpe"][j]),
        annual_return=float(out["annual_return"][j]),
        max_drawdown=float(out["max_drawdown"][j]),
        status=ConfigStatus(K.STATUS_NAMES[int(out["status"][j])]),
    )


def _walk_forward(
    grid: Grid,
    request: SweepRequest,
    scored: list[_Scored],
    oos: _Oos,
) -> WalkForward | None:
    """Rank every strategy on its in-sample score (days before the split) and report how the
    leaders did afterwards, started flat on the split day with no knowledge of what followed.
    """
    is_all, oos_all, picks = [], [], []
    for leg_i, prep, _, arrays in scored:
        if leg_i not in oos:
            continue
        mine, out = oos[leg_i]
        is_score = np.where(
            np.isfinite(arrays["is_score"][mine]), arrays["is_score"][mine], -np.inf
        )
        is_all.append(is_score)
        oos_all.append(out["score"])
        for j in np.argsort(-is_score, kind="stable")[: request.top]:
            picks.append((is_score[j], prep, int(mine[j]), arrays, out, int(j)))
    if not picks:
        return None
    is_cat, oos_cat = np.concatenate(is_all), np.concatenate(oos_all)
    picks.sort(key=lambda x: -x[0])
    top = tuple(
        WalkForwardRow(
            ticker=prep.leg.name,
            **grid.strategy_params(row),
            hedge=grid.hedge,
            row=row,
            in_sample=Figures(
                score=float(arrays["is_score"][row]),
                sharpe=float(arrays["is_sharpe"][row]),
                annual_return=float(arrays["is_annual_return"][row]),
                max_drawdown=float(arrays["is_max_drawdown"][row]),
            ),
            oos=RankedOosFigures(
                score=float(out["score"][j]),
                sharpe=float(out["sharpe"][j]),
                annual_return=float(out["annual_return"][j]),
                max_drawdown=float(out["max_drawdown"][j]),
                status=ConfigStatus(K.STATUS_NAMES[int(out["status"][j])]),
                percentile=float(np.mean(oos_cat <= out["score"][j])),
            ),
        )
        for _, prep, row, arrays, out, j in picks[: request.top]
    )
    return WalkForward(
        fraction_in_sample=request.walk_forward,
        splits={p.leg.name: p.dates[p.split].date() for _, p, _, _ in scored},
        strategies=len(is_cat),
        spearman_is_oos=rank_correlation(np.where(np.isfinite(is_cat), is_cat, np.nan), oos_cat),
        top=top,
    )

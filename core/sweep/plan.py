"""A sweep's plan, made before any work: its size, the time it will take and what it will hold.

:func:`plan_sweep` prepares every leg (so bad data fails here, as it would in the run), loads
the kernel on the backend the run would use and calibrates it: the first leg's kernel runs on
growing chunks of the grid's rows, sized as the run sizes its chunks and spread over the
grid, for about :data:`CALIBRATION_SECONDS` of kernel time, giving config-days per second.
The plan then gives the run's size (configurations, config-days), its estimated time (the
kernel work of every phase over that rate, plus the scoring after the last chunk), its peak
host memory and its ledger and ``--keep all`` disk
(``hedgedesk.core.sweep.stream.footprint``), and the figures above the :class:`PlanLimits`
(``[sweep.limits]`` in the config). A run above a limit is refused by the command line
unless the user confirms it (``--yes``).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from hedgedesk.core.errors import DataError, HedgedeskError
from hedgedesk.core.sweep.engine import (
    CHUNK_SECONDS,
    PreparedLeg,
    SweepBackend,
    _config_days,
    choose_backend,
    leg_args,
    prepare_leg,
    scoring_seconds,
    wait_or_cancel,
    work_units,
)
from hedgedesk.core.sweep.request import SweepRequest
from hedgedesk.core.sweep.stream import footprint

if TYPE_CHECKING:
    from hedgedesk.core.config import DeskConfig
    from hedgedesk.core.data.market import MarketData

CALIBRATION_SECONDS = 0.2  # kernel time the calibration aims for
CALIBRATION_SHARE = 0.05  # ... or this share of the run's estimated kernel time, if less
FIRST_SAMPLE = 64  # rows in the calibration's first chunk; later ones are sized by time
GB = 1e9  # bytes in the limits' gigabyte
_PHASE = (math.sqrt(5.0) - 1.0) / 2.0  # each chunk starts elsewhere in the grid


class PlanCancelled(HedgedeskError):
    """The user cancelled while the plan loaded or calibrated the kernel: nothing was run."""


@dataclass(frozen=True)
class PlanLimits:
    """What a sweep may need before the user must confirm it (``[sweep.limits]``).

    ``configurations``: configurations of the whole run (every leg and scenario);
    ``seconds``: estimated wall-clock time; ``memory_gb``: peak host memory; ``disk_gb``:
    the run's ledger plus its ``--keep all`` file, in gigabytes of 1e9 bytes. Each positive.
    """

    configurations: float = 20_000_000
    seconds: float = 1800.0
    memory_gb: float = 2.0
    disk_gb: float = 2.0

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if not (ok and math.isfinite(value) and value > 0):
                raise DataError(f"sweep.limits.{name}", f"must be a positive number, got {value!r}")

    @classmethod
    def from_config(cls, cfg: DeskConfig | None) -> PlanLimits:
        """The config's ``[sweep.limits]`` over the defaults (all defaults without a config
        or a ``[sweep]`` table).
        """
        given: Mapping[str, float] = cfg.sweep.limits if cfg and cfg.sweep else {}
        return cls(**given)


class Calibration(NamedTuple):
    """The kernel's measured speed: ``config_days_per_s`` (config-days per second of kernel
    time, over the calibration's chunks after the first), ``seconds`` (kernel time of every
    chunk) and ``load_s`` (seconds to load or compile the kernel before them).
    """

    config_days_per_s: float
    seconds: float
    load_s: float


@dataclass(frozen=True)
class SweepPlan:
    """A sweep's size, estimated time and footprint, and the limits it exceeds.

    ``configurations``: rows of the whole run (legs x strategies x scenarios); ``backend``,
    ``backend_note`` and ``device``: the backend's name, why it was chosen, the hardware;
    ``config_days``: the grid's config-days, every leg (days simulated summed over its
    configurations); ``estimated_seconds``: kernel work of every phase (the grid, the
    unhedged twins, the walk-forward's out-of-sample pass) over the calibrated rate, plus
    the scoring; ``peak_memory_bytes``: host memory at the run's peak, the process's base
    included; ``ledger_bytes``: the ledger's disk for the run; ``keep_bytes``: the
    ``--keep all`` file (None with ``keep`` best); ``exceeded``: one line per figure above
    its limit (empty when within every limit), ``over`` the limit keys in the same order.
    """

    configurations: int
    legs: int
    strategies_per_leg: int
    scenarios: int
    config_days: int
    backend: str
    backend_note: str
    device: str
    calibration: Calibration
    estimated_seconds: float
    peak_memory_bytes: int
    ledger_bytes: int
    keep_bytes: int | None
    keep: str
    limits: PlanLimits
    exceeded: tuple[str, ...]
    over: tuple[str, ...]
    # the legs as planned, for the run (not part of the plan's figures)
    prepared: tuple[PreparedLeg, ...] = field(default=(), repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values: the figures, ``calibration`` and ``limits`` as objects,
        ``exceeded`` as a list of lines.
        """
        return {
            "configurations": self.configurations,
            "legs": self.legs,
            "strategies_per_leg": self.strategies_per_leg,
            "scenarios": self.scenarios,
            "config_days": self.config_days,
            "backend": self.backend,
            "backend_note": self.backend_note,
            "device": self.device,
            "calibration": self.calibration._asdict(),
            "estimated_seconds": self.estimated_seconds,
            "peak_memory_bytes": self.peak_memory_bytes,
            "ledger_bytes": self.ledger_bytes,
            "keep_bytes": self.keep_bytes,
            "keep": self.keep,
            "limits": asdict(self.limits),
            "exceeded": list(self.exceeded),
        }


def plan_sweep(
    request: SweepRequest,
    market: MarketData,
    backend: SweepBackend | None = None,
    backend_note: str = "",
    limits: PlanLimits | None = None,
    cancel: threading.Event | None = None,
) -> SweepPlan:
    """The plan of ``request`` on ``market``: its legs prepared, the kernel loaded and
    calibrated on the first leg, the run's time, memory and disk estimated.

    Parameters
    ----------
    request : SweepRequest
        The sweep to plan.
    market : MarketData
        The data it runs on; each leg is prepared as the run prepares it.
    backend : SweepBackend, optional
        The backend the run will use (its kernel is left loaded for it); None chooses one
        as :func:`hedgedesk.core.sweep.engine.run_sweep` does, from ``request.backend``.
    backend_note : str
        Why this backend (``cpu (auto: no GPU)``, ``cluster tcp://..``); with no ``backend``,
        the note :func:`~hedgedesk.core.sweep.engine.choose_backend` gives.
    limits : PlanLimits, optional
        The limits ``exceeded`` compares with (default :class:`PlanLimits`).
    cancel : threading.Event, optional
        Set (by Ctrl-C) to stop while the kernel loads or between calibration samples.

    Returns
    -------
    SweepPlan
        ``estimated_seconds`` in seconds of wall clock; memory and disk in bytes.

    Raises
    ------
    DataError
        A leg the data cannot serve (as the run would raise it).
    PlanCancelled
        ``cancel`` was set before the calibration finished.
    """
    limits = limits or PlanLimits()
    cancel = cancel or threading.Event()
    grid = request.grid
    if backend is None:
        backend, backend_note = choose_backend(request.backend)
    legs = [prepare_leg(market, request, leg) for leg in grid.legs]
    work = work_units(grid, request, legs) / len(grid.window)  # config-days of every phase
    calibration = _calibrate(backend, request, legs[0], cancel, work)
    estimated = work / calibration.config_days_per_s + scoring_seconds(
        grid, legs, request.top, request.blocks
    )
    size = footprint(grid, request, [p.n_days for p in legs])
    figures = _Figures(
        grid.n_rows, estimated, size.peak_memory_bytes, size.ledger_bytes, size.keep_bytes
    )
    exceeded, over = _exceeded(figures, limits)
    return SweepPlan(
        configurations=grid.n_rows,
        legs=len(grid.legs),
        strategies_per_leg=grid.n_strategies,
        scenarios=grid.n_scenarios,
        config_days=sum(_config_days(grid, p, grid.rows_per_leg) for p in legs),
        backend=backend.name,
        backend_note=backend_note,
        device=backend.device,
        calibration=calibration,
        estimated_seconds=estimated,
        peak_memory_bytes=int(size.peak_memory_bytes),
        ledger_bytes=int(size.ledger_bytes),
        keep_bytes=None if size.keep_bytes is None else int(size.keep_bytes),
        keep=request.keep,
        limits=limits,
        exceeded=exceeded,
        over=over,
        prepared=tuple(legs),
    )


class _Figures(NamedTuple):
    configurations: int
    seconds: float
    memory: int
    ledger: int
    keep: int | None


def _exceeded(f: _Figures, limits: PlanLimits) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(one line per figure above its limit, naming the figure, its value and the key;
    the keys), in the order configurations, seconds, memory, disk.
    """
    disk = f.ledger + (f.keep or 0)
    files = "ledger and --keep all file" if f.keep is not None else "ledger"
    checks = (
        (
            "configurations",
            f.configurations > limits.configurations,
            f"{f.configurations:,} configurations exceed",
            f"{limits.configurations:,.0f}",
        ),
        (
            "seconds",
            f.seconds > limits.seconds,
            f"an estimated {f.seconds:,.0f} s exceeds",
            f"{limits.seconds:,.0f} s",
        ),
        (
            "memory_gb",
            f.memory > limits.memory_gb * GB,
            f"a peak memory of {f.memory / GB:,.2f} GB exceeds",
            f"{limits.memory_gb:g} GB",
        ),
        (
            "disk_gb",
            disk > limits.disk_gb * GB,
            f"{disk / GB:,.2f} GB of disk ({files}) exceeds",
            f"{limits.disk_gb:g} GB",
        ),
    )
    over = [
        (key, f"{what} sweep.limits.{key} ({limit})") for key, bad, what, limit in checks if bad
    ]
    return tuple(line for _, line in over), tuple(key for key, _ in over)


def _calibrate(
    backend: SweepBackend,
    request: SweepRequest,
    prep: PreparedLeg,
    cancel: threading.Event,
    work: float,
) -> Calibration:
    """Load the kernel on the first leg, then time it on chunks of the leg's rows.

    Chunks are sized as the run sizes its own: from :data:`FIRST_SAMPLE` rows, each next one
    to take the backend's chunk time (``chunk_seconds``, else the engine's CHUNK_SECONDS), so
    a call's fixed costs weigh as they will in the run. Each chunk is a range of neighbouring
    rows (a lock-step kernel advances its lanes together, as in the run) placed elsewhere in
    the grid (:func:`_place`). Chunks run until :data:`CALIBRATION_SECONDS` of kernel time,
    or once two have run, until :data:`CALIBRATION_SHARE` of the run's kernel time as the
    rate so far puts it (``work``: the run's config-days), so a small run's plan costs it
    little; they never hold more rows in all than the leg has. The rate leaves out the first
    chunk when others follow: a probe whose fixed costs a long run does not pay per row.
    """
    grid = request.grid
    backend.prepare(leg_args(request, prep))
    t0 = time.perf_counter()
    warm = getattr(backend, "warm", None)
    if warm is not None:
        loaded = warm(cancel)
    else:  # no loader: the first launch compiles, so one row is the load
        load = getattr(backend, "load", None) or (lambda: backend.run(0, 1))
        loaded = wait_or_cancel(load, cancel)
    load_s = time.perf_counter() - t0
    if not loaded:
        raise PlanCancelled("cancelled while loading the sweep kernel; nothing was run")
    n = grid.rows_per_leg
    windows = np.asarray(grid.window)
    chunk_s = getattr(backend, "chunk_seconds", CHUNK_SECONDS)
    timed: list[tuple[int, float]] = []  # (config-days, kernel seconds) of each chunk
    sampled, count = 0, FIRST_SAMPLE
    while True:
        if cancel.is_set():
            raise PlanCancelled("cancelled while calibrating the sweep kernel; nothing was run")
        count = min(count, n - sampled)
        row0 = _place(n, count, len(timed))
        t0 = time.perf_counter()
        backend.run(row0, count)
        took = time.perf_counter() - t0
        w = windows[np.unravel_index(np.arange(row0, row0 + count), grid.shape)[1]]
        timed.append((int(np.sum(prep.n_days - np.maximum(w - 1, prep.start))), took))
        sampled += count
        spent = sum(t for _, t in timed)
        if spent >= CALIBRATION_SECONDS or sampled >= n:
            break
        if len(timed) >= 2 and spent >= CALIBRATION_SHARE * work / _rate(timed):
            break
        count = max(FIRST_SAMPLE, int(count * chunk_s / max(took, 1e-4)))
    return Calibration(_rate(timed), sum(t for _, t in timed), load_s)


def _rate(timed: list[tuple[int, float]]) -> float:
    """Config-days per second of kernel time over the chunks after the first (if any)."""
    rated = timed[1:] or timed
    days, seconds = sum(d for d, _ in rated), sum(t for _, t in rated)
    return days / max(seconds, 1e-9)


def _place(n: int, count: int, i: int) -> int:
    """First row of the ``i``-th calibration chunk of ``count`` rows in ``range(n)``: the first
    at row 0, the next ones spread over the grid (golden-ratio steps, so successive chunks
    fall in different rebalance periods and windows).
    """
    return int(((i * _PHASE) % 1.0) * (n - count))

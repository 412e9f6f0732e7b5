"""The sweep's plan: its size equals an independent count, the kernel is calibrated on samples
spread over the grid (never more rows than it has, cancellable), the footprint is the stream
module's, and each figure above its limit is named with its value and its limit's key.

The stream module's ``footprint`` is replaced by a known one here (``sizes``), so the
memory and disk figures and the limits they meet are exact; time is only checked to be a
positive, finite figure.
"""

from __future__ import annotations

import itertools
import json
import math
import threading
import types
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

from hedgedesk.core.config import parse_config
from hedgedesk.core.demo import demo_config_path
from hedgedesk.core.errors import ConfigError, DataError
from hedgedesk.core.sweep import kernel as K
from hedgedesk.core.sweep import plan as plan_module
from hedgedesk.core.sweep.engine import IMPACT_WARMUP, CpuBackend
from hedgedesk.core.sweep.grid import AXES, Grid, Leg
from hedgedesk.core.sweep.plan import (
    FIRST_SAMPLE,
    PlanCancelled,
    PlanLimits,
    _place,
    plan_sweep,
)
from hedgedesk.core.sweep.request import SweepRequest
from tests.core.sweep.test_engine import leg_returns, make_market


class Footprint(NamedTuple):
    peak_memory_bytes: int
    ledger_bytes: int
    keep_bytes: int | None


class Sizes:
    """A footprint of known figures, recording what the plan asked it."""

    def __init__(self):
        self.calls: list[tuple] = []
        self.peak, self.ledger, self.keep = 300_000_000, 16_000, 64_000

    def __call__(self, grid, request, n_days):
        self.calls.append((grid, request, list(n_days)))
        keep = self.keep if request.keep == "all" else None
        return Footprint(self.peak, self.ledger, keep)


@pytest.fixture
def sizes(monkeypatch) -> Sizes:
    fake = Sizes()
    monkeypatch.setattr(plan_module, "footprint", fake)
    return fake


@pytest.fixture(scope="module")
def market():
    return make_market()


def _grid(**axes) -> Grid:
    base = dict(
        legs=(Leg("A", ("A",)), Leg("B", ("B",))),
        hedge="H",
        rebalance=(1, 5),
        window=(20, 60),
        exposure=(0.5, 1.0, 1.5),
        hedge_ratio=(0.5, 1.0),
        cost=(0.0, 0.001),
    )
    return Grid(**(base | axes))


class Instant:
    """A backend that answers at once (zeros), recording each call's (first row, rows)."""

    name, device = "instant", "test"

    def __init__(self, on_run=None):
        self.calls: list[tuple[int, int]] = []
        self.on_run = on_run

    def prepare(self, args):
        self.n_out = K.n_out(args.n_blocks)

    def run(self, row0, count, rows=None):
        assert rows is None  # ranges of neighbouring rows, as the run's chunks
        self.calls.append((row0, count))
        if self.on_run:
            self.on_run()
        return np.zeros((self.n_out, count))


# -- the plan's figures ------------------------------------------------------------------------
@pytest.mark.parametrize("impact", [(0.0,), (0.0, 0.1)])
def test_the_plans_size_is_an_independent_count(market, sizes, impact):
    grid = _grid(impact=impact)
    request = SweepRequest(grid, backend="cpu")
    plan = plan_sweep(request, market, limits=PlanLimits())

    start = IMPACT_WARMUP if max(impact) > 0 else 0
    levels = [getattr(grid, a) if a != "estimator" else grid.estimator for a in AXES]
    want_rows, want_days, n_days = 0, 0, []
    for leg in ("A", "B"):
        n = len(leg_returns(market, leg)[0])
        n_days.append(n)
        for _, window, *_ in itertools.product(*levels):
            want_rows += 1
            want_days += n - max(window - 1, start)
    assert plan.configurations == want_rows == 2 * 2 * 2 * 3 * 2 * 2 * len(impact)
    assert plan.config_days == want_days
    assert (plan.legs, plan.strategies_per_leg) == (2, 24)
    assert plan.scenarios == 2 * len(impact)
    assert (plan.backend, plan.keep) == ("cpu", "best")
    rate = plan.calibration.config_days_per_s
    assert rate > 0 and math.isfinite(rate)
    assert plan.calibration.seconds > 0 and plan.calibration.load_s >= 0
    assert plan.estimated_seconds > 0 and math.isfinite(plan.estimated_seconds)
    # the footprint is the stream module's, asked about each prepared leg's days
    assert sizes.calls == [(grid, request, n_days)]
    assert (plan.peak_memory_bytes, plan.ledger_bytes, plan.keep_bytes) == (
        300_000_000,
        16_000,
        None,
    )
    assert plan.exceeded == () and plan.over == ()


def test_the_json_plan(market, sizes):
    request = SweepRequest(_grid(), backend="cpu", keep="all")
    plan = plan_sweep(request, market)
    j = json.loads(json.dumps(plan.to_json()))
    assert set(j) == {
        "configurations",
        "legs",
        "strategies_per_leg",
        "scenarios",
        "config_days",
        "backend",
        "backend_note",
        "device",
        "calibration",
        "estimated_seconds",
        "peak_memory_bytes",
        "ledger_bytes",
        "keep_bytes",
        "keep",
        "limits",
        "exceeded",
    }
    assert set(j["calibration"]) == {"config_days_per_s", "seconds", "load_s"}
    assert j["limits"] == {
        "configurations": 20_000_000,
        "seconds": 1800.0,
        "memory_gb": 2.0,
        "disk_gb": 2.0,
    }
    assert (j["keep"], j["keep_bytes"], j["exceeded"]) == ("all", 64_000, [])
    assert j["backend_note"] == "cpu (as asked)" and j["configurations"] == 96


def test_each_figure_above_its_limit_is_named(market, sizes):
    sizes.peak, sizes.ledger, sizes.keep = 3_000_000_000, 1_500_000_000, 1_000_000_000
    request = SweepRequest(_grid(), backend="cpu", keep="all")
    limits = PlanLimits(configurations=50, seconds=1e-6, memory_gb=2, disk_gb=2)
    plan = plan_sweep(request, market, limits=limits)
    assert plan.over == ("configurations", "seconds", "memory_gb", "disk_gb")
    lines = plan.exceeded
    assert lines[0] == "96 configurations exceed sweep.limits.configurations (50)"
    assert lines[1].startswith("an estimated ") and lines[1].endswith(
        " s exceeds sweep.limits.seconds (0 s)"
    )
    assert lines[2] == "a peak memory of 3.00 GB exceeds sweep.limits.memory_gb (2 GB)"
    assert lines[3] == (
        "2.50 GB of disk (ledger and --keep all file) exceeds sweep.limits.disk_gb (2 GB)"
    )
    assert plan.to_json()["exceeded"] == list(lines)


def test_a_figure_at_its_limit_is_within_it(market, sizes):
    sizes.peak, sizes.ledger = 2_000_000_000, 2_000_000_000  # exactly 2 GB each
    request = SweepRequest(_grid(), backend="cpu")  # keep best: the ledger alone counts
    plan = plan_sweep(request, market, limits=PlanLimits(configurations=96, seconds=1e9))
    assert plan.exceeded == ()
    sizes.ledger += 1
    plan = plan_sweep(request, market, limits=PlanLimits(configurations=95, seconds=1e9))
    assert plan.over == ("configurations", "disk_gb")
    assert plan.exceeded[1] == "2.00 GB of disk (ledger) exceeds sweep.limits.disk_gb (2 GB)"


def test_a_leg_the_data_cannot_serve_fails_as_in_the_run(market, sizes):
    request = SweepRequest(_grid(legs=(Leg("A", ("A",)), Leg("ZZZ", ("ZZZ",)))), backend="cpu")
    with pytest.raises(DataError, match="ZZZ"):
        plan_sweep(request, market)
    assert sizes.calls == []


# -- the calibration ---------------------------------------------------------------------------
def test_the_chunks_spread_over_the_grid():
    exposure = tuple(np.round(np.linspace(0.5, 1.5, 40), 6))
    grid = _grid(rebalance=(1, 2, 3, 5, 10), window=(20, 40, 60), exposure=exposure)
    n = grid.rows_per_leg  # 5 x 3 x 40 x 2 x 2 = 2,400
    assert _place(n, FIRST_SAMPLE, 0) == 0
    places = []
    for i in range(1, 9):
        row0 = _place(n, 100, i)
        assert row0 >= 0 and row0 + 100 <= n
        places.append(row0)
    idx = np.unravel_index(np.array(places), grid.shape)
    assert set(idx[0]) == set(range(5)) and set(idx[1]) == set(range(3))  # every P and W
    assert _place(n, n, 5) == 0


def test_calibration_never_runs_more_rows_than_the_leg_has(market, sizes):
    for exposure in ((1.0,), tuple(np.round(np.linspace(0.5, 1.5, 40), 6))):
        grid = _grid(exposure=exposure)
        backend = Instant()
        plan = plan_sweep(SweepRequest(grid), market, backend=backend)
        load, *chunks = backend.calls
        assert load == (0, 1)  # no loader: one row compiles the kernel first
        assert chunks[0] == (0, min(FIRST_SAMPLE, grid.rows_per_leg))
        assert sum(size for _, size in chunks) <= grid.rows_per_leg
        assert all(a + size <= grid.rows_per_leg for a, size in chunks)
        assert plan.backend == "instant" and plan.device == "test"
        assert plan.calibration.config_days_per_s > 0
        assert math.isfinite(plan.calibration.config_days_per_s)


def test_calibration_chunks_are_sized_as_the_runs(market, sizes, monkeypatch):
    """After the first chunk, each is sized to the backend's chunk time, as the run's are,
    and the rate leaves the first out. A fake clock: each row takes 2**-13 s of it (binary
    fractions, so every sum is exact).
    """
    grid = _grid(exposure=tuple(np.round(np.linspace(0.5, 1.5, 200), 6)))  # 4,800 rows a leg
    clock = types.SimpleNamespace(now=0.0)
    monkeypatch.setattr(plan_module, "time", types.SimpleNamespace(perf_counter=lambda: clock.now))

    class Timed(Instant):
        chunk_seconds = 2**-4

        def run(self, row0, count, rows=None):
            clock.now += count * 2**-13
            return super().run(row0, count, rows)

    monkeypatch.setattr(plan_module, "CALIBRATION_SHARE", 100.0)  # the time rule alone here
    backend = Timed()
    plan = plan_sweep(SweepRequest(grid), market, backend=backend)
    chunks = backend.calls[1:]
    assert [size for _, size in chunks] == [FIRST_SAMPLE, 512, 512, 512, 512]
    n_days = len(leg_returns(market, "A")[0])
    windows = [
        grid.strategy_params(r)["window"] for a, size in chunks[1:] for r in range(a, a + size)
    ]
    days = sum(n_days - (w - 1) for w in windows)
    assert plan.calibration.config_days_per_s == pytest.approx(days / 0.25, rel=1e-12)
    assert plan.calibration.seconds == pytest.approx(2**-7 + 4 * 2**-4, rel=1e-12)


def test_a_small_run_is_calibrated_for_a_share_of_its_time(market, sizes, monkeypatch):
    """Once two chunks have run, the calibration stops as soon as it has spent
    CALIBRATION_SHARE of the run's kernel time at the rate measured so far: a run of a second
    is not planned for a fifth of one.
    """
    grid = _grid(exposure=tuple(np.round(np.linspace(0.5, 1.5, 200), 6)))
    clock = types.SimpleNamespace(now=0.0)
    monkeypatch.setattr(plan_module, "time", types.SimpleNamespace(perf_counter=lambda: clock.now))

    class Timed(Instant):
        chunk_seconds = 2**-4

        def run(self, row0, count, rows=None):
            clock.now += count * 2**-16  # 4,800 rows a leg: the run takes about 0.15 s
            return super().run(row0, count, rows)

    backend = Timed()
    plan = plan_sweep(SweepRequest(grid), market, backend=backend)
    chunks = backend.calls[1:]
    assert len(chunks) == 2  # the first two already cost more than 5 % of the run
    assert plan.calibration.seconds < plan_module.CALIBRATION_SECONDS
    assert math.isfinite(plan.estimated_seconds) and plan.estimated_seconds > 0


def test_a_cancel_stops_the_load_and_the_calibration(market, sizes):
    grid = _grid(exposure=tuple(np.round(np.linspace(0.5, 1.5, 40), 6)))
    cancel = threading.Event()

    class Cancelled(CpuBackend):
        def warm(self, cancel):
            return False  # the user pressed Ctrl-C while the kernel loaded

    with pytest.raises(PlanCancelled, match="loading"):
        plan_sweep(SweepRequest(grid), market, backend=Cancelled(), cancel=cancel)
    backend = Instant(on_run=lambda: len(backend.calls) > 1 and cancel.set())
    with pytest.raises(PlanCancelled, match="calibrating"):
        plan_sweep(SweepRequest(grid), market, backend=backend, cancel=cancel)
    assert len(backend.calls) == 2  # the load, one sample: stopped before the next
    assert sizes.calls == []


# -- limits ------------------------------------------------------------------------------------
def _config(tail: str):
    text = demo_config_path().read_text(encoding="utf-8") + "\n" + tail
    return parse_config(text, Path("/desk/desk.toml"))


def test_limits_come_from_the_config():
    assert PlanLimits.from_config(None) == PlanLimits()
    assert PlanLimits.from_config(_config("")) == PlanLimits()
    cfg = _config("[sweep.limits]\nconfigurations = 1e8\nseconds = 600\ndisk_gb = 16\n")
    assert PlanLimits.from_config(cfg) == PlanLimits(
        configurations=1e8, seconds=600.0, memory_gb=2.0, disk_gb=16.0
    )


@pytest.mark.parametrize(
    ("line", "key", "words"),
    [
        ("seconds = -1", "sweep.limits.seconds", "a number > 0"),
        ("memory_gb = 0", "sweep.limits.memory_gb", "a number > 0"),
        ('disk_gb = "2"', "sweep.limits.disk_gb", "a number"),
        ("configurations = inf", "sweep.limits.configurations", "a finite number"),
        ("memory = 4", "sweep.limits.memory", "did you mean 'memory_gb'"),
    ],
)
def test_bad_limits_in_the_config_name_their_key(line, key, words):
    with pytest.raises(ConfigError) as err:
        _config(f"[sweep.limits]\n{line}\n")
    assert (err.value.file, err.value.key) == ("/desk/desk.toml", key)
    assert words in err.value.problem and "\n" not in str(err.value)


def test_limits_refuse_what_is_not_a_positive_number():
    for bad in (0, -1.0, math.nan, math.inf, True):
        with pytest.raises(DataError, match=r"sweep\.limits\.seconds"):
            PlanLimits(seconds=bad)

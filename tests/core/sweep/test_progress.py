"""A sweep's progress, ETA and cancel, measured by events rather than wall clocks.

- The ETA runs on a fake clock that only the backend (compilation, kernel time per config-day)
  and the ledger (time per saved chunk) advance: the whole progress sequence is deterministic,
  and the ETA of every event is compared with the time the run really had left.
- Cancel: a backend sets the cancel event while its k-th chunk runs (a key pressed mid-chunk)
  and counts what runs after it: no chunk, no replay for a deflated Sharpe ratio, no PBO (only
  the leaders' few rows are re-run, for their cost scenarios and unhedged twins). A kernel that
  is still compiling when the cancel comes is not waited for.
- Each leader's out-of-sample figures equal the plain backtest started on the split day.
"""

from __future__ import annotations

import itertools
import math
import threading
from pathlib import Path

import numpy as np
import pytest

import hedgedesk.core.sweep.engine as S
from hedgedesk.core.metrics import performance
from hedgedesk.core.sweep.engine import CpuBackend, Eta, MemoryStore, SweepRequest, run_sweep
from hedgedesk.core.sweep.grid import Grid, Leg, estimators
from hedgedesk.core.sweep.ledger import Ledger
from tests.core.sweep.test_engine import _comparable, drain, leg_returns, make_market, replay, same


@pytest.fixture(scope="module")
def market():
    return make_market()


GRID = Grid(
    legs=(Leg("A", ("A",)), Leg("B", ("B",))),
    hedge="H",
    rebalance=(1, 5, 10),
    window=(20, 60),
    estimator=estimators(("ols", "ewma"), (10.0,)),
    exposure=tuple(np.linspace(0.5, 1.5, 8).tolist()),
    hedge_ratio=(0.5, 1.0),
    drift_band=(0.0, 0.05),
    cost=(0.0, 0.001),
)  # 1,536 configurations


# -- the ETA on a fake clock -----------------------------------------------------------------
class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class TimedCpu(CpuBackend):
    """The real kernel (real figures), but time passes on the fake clock: ``compile_s`` for
    loading the kernel, ``per_day`` seconds per config-day of each call: the grid's chunks,
    the twins, the out-of-sample pass and the leaders' few rows re-run at the end (their cost
    scenarios and unhedged twins), which the ETA counts as kernel work too.
    """

    def __init__(self, clock: Clock, per_day: float, compile_s: float):
        super().__init__()
        self.clock, self.per_day, self.compile_s = clock, per_day, compile_s
        self.days = 0.0  # mean days per configuration of the prepared kernel arguments

    def prepare(self, args):
        super().prepare(args)
        self.days = float(np.mean([args.stop - max(w - 1, args.start) for w in args.windows]))

    def loaded(self) -> bool:
        return False

    def warm(self, cancel) -> bool:
        self.clock.t += self.compile_s
        return True

    def run(self, row0, count, rows=None):
        self.clock.t += count * self.days * self.per_day
        return super().run(row0, count, rows)


class TimedStore(MemoryStore):
    """A ledger stand-in whose every saved chunk takes ``save_s`` (packing, SQLite): time
    outside the kernel that a rate of kernel time alone leaves out.
    """

    def __init__(self, clock: Clock, save_s: float, folder: Path):
        super().__init__()
        self.clock, self.save_s, self.folder = clock, save_s, folder

    def create_run(self, *args) -> str:
        return "timed"

    def table_dir(self, run_id: str) -> Path:
        return self.folder / run_id

    def save_chunk(self, run_id, leg, start, stop, sample, state, kernel_s):
        self.clock.t += self.save_s
        super().save_chunk(run_id, leg, start, stop, sample, state, kernel_s)


PER_DAY = 6e-6  # fake seconds per config-day
COMPILE_S = 3.0  # fake seconds to load the kernel


def timed_run(market, monkeypatch, tmp_path, walk_forward=0.7, keep="best", rate_hint=None):
    monkeypatch.setattr(S, "scoring_seconds", lambda *a: 0.0)  # scoring takes no fake time
    clock = Clock()
    backend = TimedCpu(clock, per_day=PER_DAY, compile_s=COMPILE_S)
    gen = run_sweep(
        SweepRequest(GRID, top=5, walk_forward=walk_forward, keep=keep),
        market,
        TimedStore(clock, 0.02, tmp_path),
        backend=backend,
        clock=clock,
        rate_hint=rate_hint,
    )
    events, times = [], []
    try:
        while True:
            events.append(next(gen))
            times.append(clock.t)
    except StopIteration as stop:
        result = stop.value
    return events, times, clock.t, result


@pytest.mark.parametrize(
    ("walk_forward", "keep"),
    [(0.7, "best"), (0, "best"), (0.7, "all")],
    ids=["walk-forward", "no-walk-forward", "keep-all"],
)
def test_eta_falls_steadily_and_tracks_the_time_left(
    market, monkeypatch, tmp_path, walk_forward, keep
):
    """Every phase counts (with keep = all the unhedged twins, every leg's grid, the
    out-of-sample pass), the time between chunks counts, compilation does not: the ETA falls
    at every event and stays within 15 % of the time the run really had left. (A rate of
    kernel time over the grid's rows alone, as before, promised too little from the start and
    stalled at each leg's twins and at the out-of-sample pass.)
    """
    events, times, end, result = timed_run(market, monkeypatch, tmp_path, walk_forward, keep)
    assert result.status == "done"
    phases = {e.phase.split()[0] for e in events}
    assert {"sweep", "scoring"} <= phases
    assert ("unhedged" in phases) == (keep == "all")  # twins up front for the table only
    assert ("out-of-sample" in phases) == bool(walk_forward)
    given = [(t, e) for t, e in zip(times, events, strict=True) if math.isfinite(e.eta_s)]
    assert len(given) >= 20, len(given)
    # no ETA while the kernel loads nor before half a second of measured throughput
    assert events[0].phase.endswith("(loading the kernel)") and math.isnan(events[0].eta_s)
    assert given[0][0] >= 3.0 + S.ETA_AFTER
    etas = [e.eta_s for _, e in given]
    assert all(b <= a + 1e-9 for a, b in itertools.pairwise(etas)), etas
    for t, e in given:
        left = end - t
        assert abs(e.eta_s - left) <= 0.15 * left + 0.05, (e.phase, e.eta_s, left)
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and 0.9 < fractions[-1] <= 1.0


def test_a_rate_hint_gives_an_eta_before_the_throughput_is_measured(market, monkeypatch, tmp_path):
    """With a calibrated rate (config-days per second) the ETA is given from the first event,
    the kernel's loading included, and falls steadily once the measured rate takes over.
    """
    events, times, end, result = timed_run(market, monkeypatch, tmp_path, rate_hint=1.0 / PER_DAY)
    assert result.status == "done"
    assert events[0].phase.endswith("(loading the kernel)")
    assert all(math.isfinite(e.eta_s) for e in events)
    # before the kernel is loaded the hint knows the work left but not the loading's time
    first = events[0].eta_s
    assert abs(first - (end - COMPILE_S)) <= 0.15 * (end - COMPILE_S), (first, end)
    measured = [e.eta_s for t, e in zip(times, events, strict=True) if t >= COMPILE_S + S.ETA_AFTER]
    assert len(measured) >= 10
    assert all(b <= a + 1e-9 for a, b in itertools.pairwise(measured)), measured


def test_eta_counts_only_what_is_left_of_a_resumed_run():
    eta = Eta(total=100.0, done=40.0, tail_s=2.0)
    assert eta.fraction == 0.4 and math.isnan(eta.seconds(10.0))  # not started
    eta.start(10.0)
    eta.add(10.0)
    assert math.isnan(eta.seconds(10.0 + S.ETA_AFTER / 2))  # too soon to tell
    # 10 units in 1 s: the 50 left take 5 s, then the scoring's 2 s
    assert eta.seconds(11.0) == pytest.approx(50.0 / 10.0 + 2.0)
    assert eta.fraction == 0.5


def test_eta_uses_the_rate_hint_until_the_rate_is_measured():
    eta = Eta(total=100.0, done=40.0, tail_s=2.0, rate_hint=20.0)
    # not started: the 60 units left at the hinted 20 a second, then the scoring's 2 s
    assert eta.seconds(10.0) == pytest.approx(60.0 / 20.0 + 2.0)
    eta.start(10.0)
    eta.add(10.0)
    assert eta.seconds(10.0 + S.ETA_AFTER / 2) == pytest.approx(50.0 / 20.0 + 2.0)  # still
    # measured: 10 units in 1 s, the hint no longer counts
    assert eta.seconds(11.0) == pytest.approx(50.0 / 10.0 + 2.0)


def test_scoring_estimate_grows_with_the_pbo_sample(market, monkeypatch):
    """The estimate's formula, on a fixed unit cost (the real one is timed, so a loaded machine
    could measure it as zero): PBO on each leg's sample (every distinct strategy up to
    PBO_SAMPLE; above, the sample and its bootstrap resamples) x PBO's cost per strategy. The
    leaders' re-runs and daily returns are kernel work, in the ETA's units instead.
    """
    monkeypatch.setattr(S, "pbo_cost", lambda blocks: 2e-7 * blocks)
    small = [S.prepare_leg(market, SweepRequest(GRID), leg) for leg in GRID.legs]

    def expected(grid, top, blocks=8):
        sample = min(grid.n_strategies, S.PBO_SAMPLE)  # no hedge ratio 0: all distinct
        runs = 1 if grid.n_strategies <= S.PBO_SAMPLE else 1 + S.PBO_RESAMPLES
        return len(small) * sample * runs * 2e-7 * blocks

    a = S.scoring_seconds(GRID, small, top=5)
    b = S.scoring_seconds(GRID, small, top=50)
    big = Grid(**{**GRID.__dict__, "exposure": tuple(np.linspace(0.5, 1.5, 80).tolist())})
    c = S.scoring_seconds(big, small, top=5)
    huge = Grid(**{**GRID.__dict__, "exposure": tuple(np.linspace(0.5, 1.5, 2200).tolist())})
    assert huge.n_strategies > S.PBO_SAMPLE  # PBO on a sample, with its resamples
    d = S.scoring_seconds(huge, small, top=5)
    e = S.scoring_seconds(GRID, small, top=5, blocks=12)
    assert (a, b, c, d, e) == pytest.approx(
        (
            expected(GRID, 5),
            expected(GRID, 50),
            expected(big, 5),
            expected(huge, 5),
            expected(GRID, 5, 12),
        )
    )
    assert 0 < a == b and a < c < d and a < e  # the leaders cost kernel work, not this


# -- cancel ----------------------------------------------------------------------------------
class CancelAt(CpuBackend):
    """Sets ``cancel`` while its ``at``-th chunk of the given phase runs, and records every
    chunk (phase, whether the cancel was already set when it started).
    """

    def __init__(self, cancel: threading.Event, at: int, phase: str):
        super().__init__()
        self.cancel, self.at, self.phase = cancel, at, phase
        self.calls: list[bool] = []  # the chunks
        self.reruns: list[tuple[bool, int]] = []  # the leaders' rows re-run: (after?, count)
        self.in_phase = 0
        self.current = ""

    def prepare(self, args):
        super().prepare(args)
        self.current = (
            "out-of-sample" if args.start > 0 else "unhedged" if not args.ratios.any() else "sweep"
        )

    def run(self, row0, count, rows=None):
        if rows is not None and self.current != "out-of-sample":
            self.reruns.append((self.cancel.is_set(), count))
            return super().run(row0, count, rows)
        self.calls.append(self.cancel.is_set())
        if self.current == self.phase:
            self.in_phase += 1
            if self.in_phase == self.at:
                self.cancel.set()
        return super().run(row0, count, rows)


def counting(monkeypatch, cancel: threading.Event) -> dict:
    """Count the leaders' returns (deflated Sharpe) and PBO estimates made after the cancel."""
    after = {"replay": 0, "pbo": 0}
    replay, pbo = S.K.curve_returns, S.pbo_cscv

    def replay_counted(*a, **k):
        after["replay"] += cancel.is_set()
        return replay(*a, **k)

    def pbo_counted(*a, **k):
        after["pbo"] += cancel.is_set()
        return pbo(*a, **k)

    monkeypatch.setattr(S.K, "curve_returns", replay_counted)
    monkeypatch.setattr(S, "pbo_cscv", pbo_counted)
    return after


@pytest.mark.parametrize("phase", ["sweep", "out-of-sample"])
def test_a_cancel_mid_chunk_runs_no_more_chunks_replays_or_pbo(
    market, monkeypatch, tmp_path, phase
):
    cancel = threading.Event()
    backend = CancelAt(cancel, at=2, phase=phase)
    after = counting(monkeypatch, cancel)
    monkeypatch.setattr(S, "CHUNK_SECONDS", 1e-4)  # many small chunks
    with Ledger(tmp_path / "runs.sqlite") as ledger:
        result = drain(
            run_sweep(SweepRequest(GRID, top=10), market, ledger, cancel=cancel, backend=backend)
        )[2]
        record = ledger.get(result.run_id)
        after_cancel = dict(after)
        # resumed from the stored streams, it ends as a run never cancelled
        resumed = drain(run_sweep(None, market, ledger, resume=result.run_id))[2]
    whole = drain(run_sweep(SweepRequest(GRID, top=10), market))[2]
    assert resumed.status == "done"
    same(_comparable(resumed.summary), _comparable(whole.summary))
    assert cancel.is_set() and result.status == "cancelled"
    assert backend.calls.count(True) == 0  # no chunk started after the cancel
    assert after_cancel == {"replay": 0, "pbo": 0}  # nor the summary's expensive parts
    # only the leaders' own rows: their cost scenarios and their unhedged twins
    legs = sum(1 for leg in result.summary.legs if leg.configurations_done)
    rerun = sum(n for later, n in backend.reruns if later)
    assert 0 < rerun <= legs * 10 * (GRID.n_scenarios + 1)  # top = 10
    assert record.status == "cancelled"
    s = result.summary
    assert "resume" in s.overfitting.deferred and s.walk_forward is None
    assert s.top and all(r.deflated is None and r.oos is None for r in s.top)
    assert all("dsr" not in r for r in s.to_json()["top"])
    assert all(leg.pbo is None for leg in s.legs)
    if phase == "sweep":
        assert 0 < record.n_done < GRID.n_rows
    else:  # the grid was complete: a resume has only the scoring left
        assert record.n_done == GRID.n_rows


class CompilingCpu(CpuBackend):
    """A kernel whose loading blocks until ``release`` is set, and sets ``cancel`` once it
    has begun: a cancel pressed while numba compiles.
    """

    def __init__(self, cancel: threading.Event):
        super().__init__()
        self.cancel = cancel
        self.began = threading.Event()
        self.release = threading.Event()
        self.finished = threading.Event()

    def loaded(self) -> bool:
        return False

    def load(self) -> None:
        self.began.set()
        self.cancel.set()
        self.release.wait(30)
        self.finished.set()


@pytest.mark.parametrize(("keep", "phase"), [("best", "sweep"), ("all", "unhedged")])
def test_a_cancel_does_not_wait_for_the_kernel_to_compile(market, keep, phase):
    cancel = threading.Event()
    backend = CompilingCpu(cancel)
    gen = run_sweep(SweepRequest(GRID, top=5, keep=keep), market, cancel=cancel, backend=backend)
    first = next(gen)
    assert first.phase == f"{phase} A (loading the kernel)" and first.done == 0
    _, _, result = drain(gen)  # returns while the compilation is still blocked
    try:
        assert backend.began.is_set() and not backend.finished.is_set()
        assert result.status == "cancelled" and result.summary.counts.done == 0
        assert result.per_config is None if keep == "best" else result.per_config.empty
    finally:
        backend.release.set()
    assert backend.finished.wait(30)  # the load ends in the background, harmlessly


class CancelInPass(CpuBackend):
    """Sets ``cancel`` as a chunk starts in its ``index``-th prepared pass (0-based: with
    keep = all each leg's unhedged twins, then its grid).
    """

    def __init__(self, cancel: threading.Event, index: int):
        super().__init__()
        self.cancel, self.index, self.passes = cancel, index, -1

    def prepare(self, args):
        super().prepare(args)
        self.passes += 1

    def run(self, row0, count, rows=None):
        if self.passes == self.index:
            self.cancel.set()
        return super().run(row0, count, rows)


def test_a_resume_cancelled_in_a_legs_twins_keeps_its_stored_rows(market, monkeypatch, tmp_path):
    """With keep = all, a session cancelled while leg B's unhedged twins run never reaches B's grid,
    whose first rows an earlier session stored: they stay in the summary and the table (their
    hedge effectiveness from that session's twins, the leaders' from their twins re-run)
    instead of failing the run.
    """
    request = SweepRequest(GRID, top=5, keep="all")
    monkeypatch.setattr(S, "CHUNK_SECONDS", 1e-4)  # small chunks: B's first is not all of B
    with Ledger(tmp_path / "runs.sqlite") as ledger:
        first = threading.Event()  # passes: twins A, grid A, twins B, grid B
        gen = run_sweep(request, market, ledger, cancel=first, backend=CancelInPass(first, 3))
        cancelled = drain(gen)[2]
        run_id = cancelled.run_id
        assert cancelled.status == "cancelled"
        assert {leg for leg, _, _ in ledger.finished_chunks(run_id)} == {0, 1}
        stored_b = sum(stop - start for leg, start, stop in ledger.finished_chunks(run_id) if leg)
        assert 0 < stored_b < GRID.rows_per_leg
        stored = ledger.finished_chunks(run_id)
        again = threading.Event()  # leg A is done: the first pass is B's twins
        gen = run_sweep(
            None, market, ledger, resume=run_id, cancel=again, backend=CancelInPass(again, 0)
        )
        result = drain(gen)[2]
        assert ledger.finished_chunks(run_id) == stored  # no grid chunk in this session
    assert result.status == "cancelled"
    assert [leg.configurations_done for leg in result.summary.legs] == [
        GRID.rows_per_leg,
        stored_b,
    ]
    frame = result.per_config
    assert frame["ticker"].value_counts().to_dict() == {"A": GRID.rows_per_leg, "B": stored_b}
    effectiveness = frame.groupby("ticker")["hedge_effectiveness"]
    assert effectiveness.count().to_dict() == {"A": GRID.rows_per_leg, "B": stored_b}
    best_b = result.summary.leg("B").best
    assert best_b is not None and math.isfinite(best_b.hedge_effectiveness)


# -- each leader's out-of-sample figures -----------------------------------------------------
def test_leaders_carry_their_out_of_sample_figures(market):
    grid = Grid(
        legs=(Leg("A", ("A",)), Leg("B", ("B",))),
        hedge="H",
        rebalance=(1, 5),
        window=(20, 60),
        exposure=(0.5, 1.0),
        hedge_ratio=(0.5, 1.0),
        cost=(0.0, 0.001),
    )
    res = drain(run_sweep(SweepRequest(grid, top=6, walk_forward=0.6), market))[2]
    s = res.summary
    splits = s.walk_forward.splits
    bests = [leg.best for leg in s.legs]
    for r in [*s.top, *bests]:
        dates = leg_returns(market, r.ticker)[0]
        split = int(np.flatnonzero(dates.date == splits[r.ticker])[0])
        run = replay(market, r, start=split)
        want = performance(run.equity)
        assert r.oos.status == "ok"
        assert r.oos.sharpe == pytest.approx(want.sharpe, rel=1e-9)
        assert r.oos.annual_return == pytest.approx(want.annual_return, rel=1e-9)
    # the walk-forward's own leaders agree where they are leaders here too
    mine = {(r.ticker, r.row): r.oos for r in s.top}
    for w in s.walk_forward.top:
        if (w.ticker, w.row) in mine:
            assert mine[w.ticker, w.row].sharpe == w.oos.sharpe
    off = drain(run_sweep(SweepRequest(grid, top=6, walk_forward=0), market))[2]
    assert all(r.oos is None for r in off.summary.top)

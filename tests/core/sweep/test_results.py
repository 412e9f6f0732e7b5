"""The sweep summary as typed, frozen values (``hedgedesk.core.sweep.results``).

Witness: ledger JSON written by the version before these types (``fixtures/summary_*.json``:
a finished run with a basket leg and the walk-forward, one with the walk-forward off and market
impact, a cancelled one), produced by the sweep that
:func:`test_a_small_sweep_writes_the_previous_format_key_for_key` runs again: the JSON of a
summary must stay the same key for key (the ledger, ``--resume`` and users' ``--json`` scripts
read it), and a summary stored before must load.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from hedgedesk.core.errors import HedgedeskError
from hedgedesk.core.jsonable import jsonable
from hedgedesk.core.sweep import kernel as K
from hedgedesk.core.sweep.engine import SweepRequest, run_sweep
from hedgedesk.core.sweep.grid import Grid, Leg, estimators
from hedgedesk.core.sweep.ledger import Ledger, RunStatus
from hedgedesk.core.sweep.results import (
    ConfigStatus,
    StrategyRow,
    SweepSummary,
    Verdict,
    WalkForward,
)
from tests.core.sweep.test_engine import drain, make_market

FIXTURES = Path(__file__).parent / "fixtures"
STORED = ("done", "no_walk", "cancelled")
# the sweeps the fixtures were written by (the cancelled one was cut after leg A)
DONE_GRID = Grid(
    legs=(Leg("A", ("A",)), Leg("AB", ("A", "B"), "equal")),
    hedge="H",
    rebalance=(1, 5),
    window=(20,),
    estimator=estimators(("ols", "ewma"), (10.0,)),
    exposure=(1.0,),
    hedge_ratio=(0.5, 1.0),
    cost=(0.0, 0.001),
)
NO_WALK_GRID = Grid(
    legs=(Leg("B", ("B",)),),
    hedge="H",
    rebalance=(1,),
    window=(20,),
    hedge_ratio=(0.0, 1.0),
    cost=(0.0,),
    impact=(0.0, 0.1),
)
PER_SESSION = ("run_id", "backend", "code_version", "timings")  # differ from run to run


def stored(name: str) -> dict:
    return json.loads((FIXTURES / f"summary_{name}.json").read_text())


def as_stored(summary: SweepSummary) -> dict:
    """The summary as the ledger writes it."""
    return json.loads(json.dumps(jsonable(summary.to_json()), allow_nan=False))


def same_format(a, b, path: str = "") -> None:
    """The same keys in the same order at every level, the same types, equal values (floats
    to 1e-9, NaN written as null on both sides).
    """
    if isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), (path, list(a), list(b))
        for k in a:
            same_format(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same_format(x, y, f"{path}[{i}]")
    elif isinstance(a, float):
        assert isinstance(b, float) and b == pytest.approx(a, rel=1e-9, abs=1e-12), (path, a, b)
    else:
        assert type(a) is type(b) and a == b, (path, a, b)


@pytest.mark.parametrize("name", STORED)
def test_a_stored_summary_loads_and_writes_back_key_for_key(name):
    d = stored(name)
    summary = SweepSummary.from_json(d)
    back = as_stored(summary)
    assert back == d
    assert json.dumps(back) == json.dumps(d)  # the keys in the same order too
    assert SweepSummary.from_json(back) == summary


def test_typed_fields_of_a_stored_summary():
    s = SweepSummary.from_json(stored("done"))
    assert s.status is RunStatus.DONE and s.grid == DONE_GRID
    assert [leg.ticker for leg in s.legs] == ["A", "AB"]
    basket = s.leg("AB")
    assert basket.members == ("A", "B") and basket.weighting == "equal"
    assert s.leg("A").weighting is None and s.leg("Z") is None
    assert str(basket.first_return) == "2018-01-03" and basket.split.isoformat() == "2018-11-09"
    row = s.top[0]
    assert isinstance(row, StrategyRow) and row.status is ConfigStatus.OK
    assert (row.ticker, row.row, row.estimator_label) == ("A", 13, "ewma10")
    assert row.dsr == row.deflated.dsr and len(row.deflated.sharpe_by_block) == 4
    assert [sc.cost for sc in row.scenarios] == list(s.grid.cost)
    assert row.oos.status is ConfigStatus.OK and row.cost == s.ranking.cost == 0.001
    assert s.pbo_of("A") == s.leg("A").pbo.pbo and s.pbo_of("Z") is None
    wf = s.walk_forward
    assert wf.top[0].in_sample.score == stored("done")["walk_forward"]["top"][0]["is"]["score"]
    assert dict(wf.splits) == {"A": basket.split, "AB": basket.split}
    assert s.timings.config_days_per_s > 0 and s.backend.name == "cpu"


def test_a_cancelled_summary_reads_what_it_left_out():
    s = SweepSummary.from_json(stored("cancelled"))
    assert s.status is RunStatus.CANCELLED and "resume it" in s.overfitting.deferred
    assert s.walk_forward is None and [leg.pbo for leg in s.legs] == [None]
    assert s.top and all(r.deflated is None and r.dsr is None and r.oos is None for r in s.top)
    assert all("dsr" not in r for r in as_stored(s)["top"])
    done = SweepSummary.from_json(stored("done"))
    assert done.overfitting.deferred is None and "deferred" not in as_stored(done)["overfitting"]


def test_nan_reads_back_as_nan_and_writes_as_null():
    d = stored("no_walk")
    d["top"][0]["calmar"] = None  # a NaN (or an infinity) the ledger wrote as null
    d["overfitting"]["sharpe_variance_per_period"] = None
    s = SweepSummary.from_json(d)
    assert math.isnan(s.top[0].calmar) and math.isnan(s.overfitting.sharpe_variance_per_period)
    assert s.timings.config_days_per_s is not None
    assert as_stored(s) == d


def test_a_summary_recorded_before_out_of_sample_figures_loads():
    d = stored("done")
    for r in d["top"]:
        del r["oos"]
    s = SweepSummary.from_json(d)
    assert all(r.oos is None for r in s.top)
    assert s.leg("A").best.oos is not None  # the legs' bests kept theirs


def test_the_walk_forward_verdict():
    wf = SweepSummary.from_json(stored("done")).walk_forward
    assert wf.spearman_is_oos > 0 and wf.verdict is Verdict.PERSISTS
    flipped = dataclasses.replace(wf, spearman_is_oos=-0.25)
    assert flipped.verdict is Verdict.DOES_NOT_PERSIST
    assert flipped.verdict == "rankings do not persist"  # a StrEnum: JSON and text alike
    assert dataclasses.replace(wf, spearman_is_oos=math.nan).verdict is Verdict.UNDEFINED


def test_config_statuses_are_the_kernels():
    assert {ConfigStatus(name) for name in K.STATUS_NAMES.values()} == set(ConfigStatus)


def test_summaries_are_frozen():
    s = SweepSummary.from_json(stored("done"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.status = RunStatus.CANCELLED  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.top[0].sharpe = 9.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.legs[0].pbo.pbo = 0.5  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.walk_forward.top[0].oos.percentile = 0.5  # type: ignore[misc]
    with pytest.raises(TypeError):
        s.request["top"] = 1  # type: ignore[index]
    with pytest.raises(TypeError):
        s.walk_forward.splits["A"] = None  # type: ignore[index]
    with pytest.raises(AttributeError):
        s.top.append(s.top[0])  # type: ignore[attr-defined]
    # what to_json hands out is a copy: changing it changes nothing
    out = s.to_json()
    out["request"]["top"] = 99
    out["top"].clear()
    assert s.request["top"] == 3 and len(s.top) == 3


def test_a_bad_summary_names_the_field():
    d = stored("done")
    del d["legs"][0]["n_days"]
    with pytest.raises(HedgedeskError, match="'n_days' is missing"):
        SweepSummary.from_json(d)
    d = stored("done")
    d["top"][0]["status"] = "lost"
    with pytest.raises(HedgedeskError, match=r"wrong type or value.*'lost'"):
        SweepSummary.from_json(d)
    d = stored("done")
    d["counts"] = "32"
    with pytest.raises(HedgedeskError, match="sweep summary"):
        SweepSummary.from_json(d)


def test_a_ledger_row_that_is_no_summary_names_its_run(tmp_path):
    with Ledger(tmp_path / "runs.sqlite") as ledger:
        run = ledger.create_run({"grid": {}}, "fp", "v", "cpu", "cpu", 1, 1)
        ledger._db.execute("UPDATE runs SET summary = '{}' WHERE id = ?", (run,))
        with pytest.raises(HedgedeskError, match=f"run {run}: sweep summary: field 'overf"):
            ledger.get(run)


def _raw_summary(ledger: Ledger, run_id: str) -> dict:
    with closing(sqlite3.connect(ledger.path)) as db:
        (text,) = db.execute("SELECT summary FROM runs WHERE id = ?", (run_id,)).fetchone()
    return json.loads(text)


def test_a_small_sweep_writes_the_previous_format_key_for_key(tmp_path):
    market = make_market(n_days=300)
    with Ledger(tmp_path / "runs.sqlite") as ledger:
        for grid, name, kw in (
            (DONE_GRID, "done", {"top": 3, "blocks": 4}),
            (NO_WALK_GRID, "no_walk", {"top": 2, "walk_forward": 0, "blocks": 4}),
        ):
            result = drain(run_sweep(SweepRequest(grid, **kw), market, ledger=ledger))[2]
            assert result.status == "done" and isinstance(result.summary, SweepSummary)
            written = _raw_summary(ledger, result.run_id)
            assert written == as_stored(result.summary)  # the ledger stores to_json()
            previous = stored(name)
            for key in PER_SESSION:  # the same keys, in the same place, per session values
                if isinstance(previous[key], dict):
                    assert list(written[key]) == list(previous[key])
                assert type(written[key]) is type(previous[key])
                written[key] = previous[key] = None
            same_format(previous, written)
            # the ledger hands back the summary the run returned
            back = ledger.get(result.run_id).summary
            assert as_stored(back) == as_stored(result.summary)


def test_a_summary_in_memory_round_trips_through_json():
    result = drain(run_sweep(SweepRequest(DONE_GRID, top=3, blocks=4), make_market(n_days=300)))[2]
    s = result.summary
    assert s.run_id is None and s.walk_forward is not None
    again = SweepSummary.from_json(as_stored(s))
    assert again == s
    assert isinstance(again.walk_forward, WalkForward)
    assert [r.sharpe for r in again.top] == [r.sharpe for r in s.top]

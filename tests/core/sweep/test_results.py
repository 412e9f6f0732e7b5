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
    ROW_FIGURES,
    SCALED_FIGURES,
    AxisMarginal,
    ConfigStatus,
    HeatMap,
    ScenarioStats,
    StrategyRow,
    SweepSummary,
    Verdict,
    WalkForward,
)
from hedgedesk.core.sweep.score import ScoreTargets
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


# keys a summary gained in issue 15 (the request's --keep, the score's target volatility, the
# streamed figures, the sampled PBO and walk-forward, the host-work timings): the previous
# format plus these
ADDED_KEYS = frozenset(
    {
        "keep",
        "volatility",
        "scenarios",
        "marginals",
        "heat",
        "method",
        "population",
        "standard_error",
        "stream_s",
        "ledger_s",
        "twins_s",
        "oos_s",
        *SCALED_FIGURES,
    }
)


def same_format(a, b, path: str = "", values: bool = True) -> None:
    """The same keys in the same order at every level (``b`` may add :data:`ADDED_KEYS`), the
    same types, and with ``values`` equal values (floats to 1e-9, NaN written as null on both
    sides); without, a number may be null on either side (a NaN figure).
    """
    if isinstance(a, dict):
        assert isinstance(b, dict), path
        kept = [k for k in b if k in a or k not in ADDED_KEYS]
        assert kept == list(a), (path, list(a), list(b))
        for k in a:
            same_format(a[k], b[k], f"{path}.{k}", values)
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same_format(x, y, f"{path}[{i}]", values)
    elif not values:
        number = (int, float, type(None))
        assert type(a) is type(b) or (isinstance(a, number) and isinstance(b, number)), (path, a, b)
    elif isinstance(a, float):
        assert isinstance(b, float) and b == pytest.approx(a, rel=1e-9, abs=1e-12), (path, a, b)
    else:
        assert type(a) is type(b) and a == b, (path, a, b)


@pytest.mark.parametrize("name", STORED)
def test_a_stored_summary_loads_and_writes_back_key_for_key(name):
    d = stored(name)
    summary = SweepSummary.from_json(d)
    back = as_stored(summary)
    # the one key a summary recorded before the risk-normalised score gains: the score's
    # target volatility (ScoreTargets' default); every key added since is left out at its default
    d["ranking"]["targets"]["volatility"] = ScoreTargets().volatility
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
    d["ranking"]["targets"]["volatility"] = ScoreTargets().volatility  # as above
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
                if isinstance(previous[key], dict):  # (plus the keys added since)
                    assert [k for k in written[key] if k not in ADDED_KEYS] == list(previous[key])
                assert type(written[key]) is type(previous[key])
                written[key] = previous[key] = None
            # the same format; not the same values: the score is risk-normalised since issue 15
            # (CONVENTIONS "Sweep scoring"), so the scores and the leaders differ
            same_format(previous, written, values=False)
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


# -- issue 15: what a streamed sweep keeps instead of the per-configuration table ---------------


def _with_streamed_figures(s: SweepSummary) -> SweepSummary:
    """``s`` with every field a streamed run adds filled in (NaN where a figure is missing)."""
    heat = HeatMap(
        rebalance=(1, 5),
        window=(20,),
        count=((4,), (0,)),
        mean_score=((0.25,), (math.nan,)),
        best_score=((0.5,), (None,)),
    )
    marginals = (
        AxisMarginal("rebalance", ("1", "5"), (4, 0), (0.25, None), (0.5, None)),
        AxisMarginal("estimator", ("ols", "ewma10"), (2, 2), (0.2, 0.3), (0.4, 0.5)),
    )
    legs = tuple(
        dataclasses.replace(
            leg,
            marginals=marginals,
            heat=heat,
            pbo=dataclasses.replace(
                leg.pbo, method="sampled", population=4000, standard_error=0.012
            ),
        )
        for leg in s.legs
    )
    top = tuple(
        dataclasses.replace(
            r, scaled_annual_return=0.08, scaled_max_drawdown=-0.12, scaled_consistency=0.55
        )
        for r in s.top
    )
    scenarios = tuple(
        ScenarioStats(c, 0.0, 16, 15, 0.6, 0.9, 0.07, -0.15, 1 / 3 if c else math.nan)
        for c in s.grid.cost
    )
    return dataclasses.replace(
        s,
        legs=legs,
        top=top,
        scenarios=scenarios,
        walk_forward=dataclasses.replace(s.walk_forward, population=32),
        timings=dataclasses.replace(
            s.timings, stream_s=0.5, ledger_s=0.25, twins_s=0.125, oos_s=1.0
        ),
    )


def test_a_streamed_summary_round_trips_through_json():
    s = _with_streamed_figures(SweepSummary.from_json(stored("done")))
    d = as_stored(s)
    again = SweepSummary.from_json(d)
    assert again == s and as_stored(again) == d
    leg = d["legs"][0]
    assert leg["heat"]["mean_score"] == [[0.25], [None]]  # NaN stored as None: no figure
    assert leg["heat"]["count"] == [[4], [0]] and leg["marginals"][1]["levels"] == ["ols", "ewma10"]
    assert leg["pbo"]["method"] == "sampled" and leg["pbo"]["population"] == 4000
    assert leg["pbo"]["standard_error"] == 0.012
    assert d["scenarios"][0]["share_sharpe_at_target"] is None
    assert d["scenarios"][1]["share_sharpe_at_target"] == pytest.approx(1 / 3)
    assert d["walk_forward"]["population"] == 32
    assert d["timings"]["stream_s"] == 0.5 and d["timings"]["oos_s"] == 1.0
    row = d["top"][0]
    keys = list(row)
    assert keys[keys.index("final_equity") + 1 : keys.index("n")] == list(SCALED_FIGURES)
    assert row["scaled_max_drawdown"] == -0.12
    assert set(SCALED_FIGURES) <= set(ROW_FIGURES)  # the engine fills them like the others
    heat = again.leg("A").heat
    assert (heat.count[0][0], heat.mean_score[0][0], heat.best_score[0][0]) == (4, 0.25, 0.5)
    assert (heat.count[1][0], heat.mean_score[1][0], heat.best_score[1][0]) == (0, None, None)


def test_a_summary_recorded_before_streaming_reads_the_defaults():
    s = SweepSummary.from_json(stored("done"))
    assert s.scenarios == ()
    for leg in s.legs:
        assert leg.marginals == () and leg.heat is None
        assert leg.pbo.method == "exact" and leg.pbo.population is None
        assert leg.pbo.standard_error is None
    assert s.walk_forward.population is None
    assert (s.timings.stream_s, s.timings.ledger_s, s.timings.twins_s, s.timings.oos_s) == (
        0.0,
        0.0,
        0.0,
        0.0,
    )
    row = s.top[0]
    assert all(math.isnan(getattr(row, name)) for name in SCALED_FIGURES)
    # a row with any scaled figure writes all three (NaN as null), one with none writes none
    d = as_stored(dataclasses.replace(s, top=(dataclasses.replace(row, scaled_consistency=0.5),)))
    assert [d["top"][0][k] for k in SCALED_FIGURES] == [None, None, 0.5]
    assert not set(SCALED_FIGURES) & set(as_stored(s)["top"][0])
    # an exact PBO of a streamed run says so
    exact = dataclasses.replace(s.legs[0].pbo, population=40)
    assert exact.to_json()["method"] == "exact" and exact.to_json()["standard_error"] is None


def test_streamed_figures_name_what_is_wrong():
    with pytest.raises(HedgedeskError, match="marginal: axis must be one of rebalance, window"):
        AxisMarginal("cost", ("0",), (1,), (0.1,), (0.1,))
    with pytest.raises(HedgedeskError, match=r"'window': count must have one value per level \(2"):
        AxisMarginal("window", ("20", "60"), (1,), (0.1, 0.2), (0.1, 0.2))
    with pytest.raises(HedgedeskError, match=r"heat map: a row of best_score .* per window \(1\)"):
        HeatMap((1,), (20,), ((1,),), ((0.1,),), ((0.1, 0.2),))
    with pytest.raises(HedgedeskError, match=r"heat map: count .* per rebalance period \(2\)"):
        HeatMap((1, 5), (20,), ((1,),), ((0.1,), (0.2,)), ((0.1,), (0.2,)))
    pbo = SweepSummary.from_json(stored("done")).legs[0].pbo
    with pytest.raises(HedgedeskError, match="pbo: method must be one of exact, sampled, got 'x'"):
        dataclasses.replace(pbo, method="x")
    d = stored("done")
    d["legs"][0]["heat"] = {"rebalance": [1], "window": [20], "count": [[1]], "mean_score": [[1]]}
    with pytest.raises(HedgedeskError, match="field 'best_score' is missing"):
        SweepSummary.from_json(d)

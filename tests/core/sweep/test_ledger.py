from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from contextlib import closing
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hedgedesk.core.errors import HedgedeskError
from hedgedesk.core.sweep import ledger as sweep_ledger
from hedgedesk.core.sweep.ledger import Ledger, default_path
from hedgedesk.core.sweep.results import SweepSummary

REPO = Path(__file__).resolve().parents[3]
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def ledger(tmp_path):
    with Ledger(tmp_path / "state" / "runs.sqlite") as led:
        yield led


def _run(led: Ledger, n_configs: int = 30, **params) -> str:
    return led.create_run({"legs": ["SPY"], **params}, "fp", "v1", "numpy", "cpu", n_configs, 250)


def _summary() -> SweepSummary:
    """A finished run's summary as an earlier version stored it."""
    return SweepSummary.from_json(json.loads((FIXTURES / "summary_done.json").read_text()))


def _chunk(start: int, stop: int) -> dict[str, np.ndarray]:
    idx = np.arange(start, stop)
    return {"sharpe": idx * 0.5, "n_trades": idx.astype(np.int32)}


def test_default_path(monkeypatch, tmp_path):
    monkeypatch.delenv("HEDGEDESK_LEDGER", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert default_path() == tmp_path / "xdg" / "hedgedesk" / "runs.sqlite"
    monkeypatch.setenv("HEDGEDESK_LEDGER", str(tmp_path / "elsewhere.sqlite"))
    assert default_path() == tmp_path / "elsewhere.sqlite"
    with Ledger() as led:
        assert led.path == tmp_path / "elsewhere.sqlite"


def test_create_run_records_who_and_what(ledger):
    run = _run(ledger, grid={"k": [1, 2]})
    assert len(run) == len("20261122-153012-a1b2") and run[8] == "-" and run[15] == "-"
    rec = ledger.get(run)
    assert rec.status == "running" and rec.pid == os.getpid() and rec.host
    assert rec.params == {"legs": ["SPY"], "grid": {"k": [1, 2]}}
    assert (rec.n_configs, rec.config_days, rec.n_done, rec.resumed) == (30, 250, 0, 0)
    ledger.progress(run, 10, 2500, 1.5)
    ledger.mark_running(run, "cupy", "H100")
    rec = ledger.get(run)
    assert (rec.n_done, rec.config_days_done, rec.elapsed_s) == (10, 2500, 1.5)
    assert (rec.backend, rec.device, rec.resumed, rec.status) == ("cupy", "H100", 1, "running")


def test_chunks_round_trip_in_any_order(ledger):
    run = _run(ledger)
    for start, stop in [(20, 30), (0, 10), (10, 20)]:
        ledger.save_chunk(run, 0, start, stop, _chunk(start, stop), kernel_s=0.1)
    ledger.save_chunk(run, 1, 0, 5, _chunk(0, 5), kernel_s=0.1)
    ledger.save_chunk(run, 0, 10, 20, _chunk(10, 20), kernel_s=0.2)  # duplicate: replaced
    assert ledger.finished_chunks(run) == [(0, 0, 10), (0, 10, 20), (0, 20, 30), (1, 0, 5)]
    assert ledger.get(run).n_done == 35
    leg = ledger.load_leg(run, 0)
    expected = _chunk(0, 30)
    assert leg.keys() == expected.keys()
    for name, want in expected.items():
        np.testing.assert_array_equal(leg[name], want)
        assert leg[name].dtype == want.dtype


def test_load_leg_reports_gaps_and_overlaps(ledger):
    run = _run(ledger)
    ledger.save_chunk(run, 2, 0, 10, _chunk(0, 10), 0.0)
    ledger.save_chunk(run, 2, 15, 20, _chunk(15, 20), 0.0)
    with pytest.raises(HedgedeskError, match=rf"run {run} leg 2: configurations \[10, 15\)"):
        ledger.load_leg(run, 2)
    ledger.save_chunk(run, 3, 0, 10, _chunk(0, 10), 0.0)
    ledger.save_chunk(run, 3, 5, 15, _chunk(5, 15), 0.0)
    with pytest.raises(HedgedeskError, match="overlaps"):
        ledger.load_leg(run, 3)
    with pytest.raises(HedgedeskError, match="no finished chunks"):
        ledger.load_leg(run, 7)


def test_save_chunk_rejects_bad_outputs(ledger):
    run = _run(ledger)
    with pytest.raises(HedgedeskError, match="length 10"):
        ledger.save_chunk(run, 0, 0, 10, {"x": np.zeros(9)}, 0.0)
    with pytest.raises(HedgedeskError, match="object"):
        ledger.save_chunk(run, 0, 0, 2, {"x": np.array([None, 1])}, 0.0)
    with pytest.raises(HedgedeskError, match="no such run"):
        ledger.save_chunk("nope", 0, 0, 2, {"x": np.zeros(2)}, 0.0)
    assert ledger.finished_chunks("nope") == []  # the failed save rolled back


def test_wal_mode_is_on(ledger):
    with sqlite3.connect(ledger.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == sweep_ledger.SCHEMA_VERSION


_CHILD = """
import itertools, sys
from pathlib import Path
import numpy as np
from hedgedesk.core.sweep.ledger import Ledger
led = Ledger(Path(sys.argv[1]))
run = led.create_run({}, "fp", "v1", "numpy", "cpu", 10**9, 1)
print("run", run, flush=True)
for i in itertools.count():
    n = 20_000
    led.save_chunk(run, 0, i * n, (i + 1) * n, {"x": np.arange(i * n, (i + 1) * n) * 1.0}, 0.0)
    print("saved", i, flush=True)
"""


def test_kill_9_mid_save_loses_nothing_that_was_committed(tmp_path):
    path = tmp_path / "runs.sqlite"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        run = child.stdout.readline().split()[1]
        saved = []
        while len(saved) < 2:
            saved.append(int(child.stdout.readline().split()[1]))
        child.send_signal(signal.SIGKILL)  # the child is busy saving further chunks
        saved += [int(line.split()[1]) for line in child.stdout]  # printed before the kill
    finally:
        child.kill()
        child.wait()  # reaped, so its pid is really gone
    with Ledger(path) as led:
        assert led._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        chunks = led.finished_chunks(run)
        assert {(0, i * 20_000, (i + 1) * 20_000) for i in saved} <= set(chunks)
        x = led.load_leg(run, 0)["x"]
        np.testing.assert_array_equal(x, np.arange(len(x)) * 1.0)
        assert [r.status for r in led.runs()] == ["interrupted"]
        assert led.get(run).status == "interrupted"
        led.mark_running(run, "numpy", "cpu")  # resumed by this live process
        assert led.get(run).status == "running"


def test_reader_is_never_locked_out_while_a_thread_writes(tmp_path):
    path = tmp_path / "runs.sqlite"
    writer, reader = Ledger(path), Ledger(path)
    run = _run(writer, n_configs=4000)
    errors: list[BaseException] = []

    def write():
        try:
            for i in range(200):
                writer.save_chunk(run, 0, i * 20, (i + 1) * 20, _chunk(i * 20, (i + 1) * 20), 0.0)
                writer.progress(run, (i + 1) * 20, 0, float(i))
        except BaseException as e:
            errors.append(e)

    thread = threading.Thread(target=write)
    thread.start()
    reads = 0
    while thread.is_alive():
        if seen := len(reader.finished_chunks(run)):
            assert len(reader.load_leg(run, 0)["sharpe"]) >= 20 * seen  # the writer moved on
        reader.runs()
        writer.get(run)  # the writer's own connection, shared with its thread
        reads += 1
    thread.join()
    assert errors == []
    assert reads > 1 and len(reader.finished_chunks(run)) == 200
    writer.close()
    reader.close()


def test_finish_done_writes_parquet_and_drops_chunks(ledger):
    run = _run(ledger, n_configs=10)
    ledger.save_chunk(run, 0, 0, 10, _chunk(0, 10), 0.0)
    table = pd.DataFrame(_chunk(0, 10))
    # a summary as the engine holds it: numpy scalars, NaN, dates
    recorded = _summary()
    top = dataclasses.replace(
        recorded.top[0],
        score=np.float64(1.25),
        n=np.int64(3),
        calmar=float("nan"),
        sortino=np.float32("nan"),
        sharpe=np.float64(2.0),
    )
    leg = dataclasses.replace(recorded.legs[0], first_return=dt.date(2026, 1, 2))
    summary = dataclasses.replace(recorded, top=(top,), legs=(leg,))
    ledger.finish(run, "done", summary, per_config=table, elapsed_s=12.5)
    rec = ledger.get(run)
    assert rec.status == "done" and rec.finished and rec.elapsed_s == 12.5
    assert rec.parquet == str(ledger.path.parent / "runs" / f"{run}.parquet")
    with closing(sqlite3.connect(ledger.path)) as db:
        (text,) = db.execute("SELECT summary FROM runs WHERE id = ?", (run,)).fetchone()
    stored = json.loads(text)
    assert {k: stored["top"][0][k] for k in ("score", "n", "calmar", "sortino", "sharpe")} == {
        "score": 1.25,
        "n": 3,
        "calmar": None,
        "sortino": None,
        "sharpe": 2.0,
    }
    assert stored["legs"][0]["first_return"] == "2026-01-02"
    assert rec.summary.top[0].sharpe == 2.0 and math.isnan(rec.summary.top[0].calmar)
    assert rec.summary.legs[0].first_return == dt.date(2026, 1, 2)
    pd.testing.assert_frame_equal(ledger.per_config(run), table)
    assert ledger.finished_chunks(run) == []
    with pytest.raises(HedgedeskError, match="Parquet"):
        ledger.load_leg(run, 0)


def test_finish_cancelled_keeps_chunks_to_resume(ledger):
    run = _run(ledger)
    ledger.save_chunk(run, 0, 0, 10, _chunk(0, 10), 0.0)
    ledger.finish(run, "cancelled", per_config=pd.DataFrame(_chunk(0, 10)))
    assert ledger.get(run).status == "cancelled"
    assert ledger.finished_chunks(run) == [(0, 0, 10)]
    ledger.finish(run, "failed", error="boom")
    rec = ledger.get(run)
    assert (rec.status, rec.error, rec.summary) == ("failed", "boom", None)
    with pytest.raises(HedgedeskError, match="status 'paused'"):
        ledger.finish(run, "paused")


def test_get_by_prefix_last_ambiguous_unknown(ledger, monkeypatch):
    ids = iter(["aaaa", "aaab", "bbbb"])
    monkeypatch.setattr(sweep_ledger.secrets, "token_hex", lambda n: next(ids))
    a, b, c = _run(ledger), _run(ledger), _run(ledger)
    assert ledger.get("last").id == c
    assert [r.id for r in ledger.runs()] == [c, b, a]
    assert [r.id for r in ledger.runs(limit=1)] == [c]
    assert ledger.get(a).id == a
    assert ledger.get(c[:-3]).id == c  # ...-b is unique
    with pytest.raises(HedgedeskError, match="ambiguous") as err:
        ledger.get("20")  # every id starts with the year
    assert all(run in str(err.value) for run in (a, b, c))
    with pytest.raises(HedgedeskError, match="no such run"):
        ledger.get("1999")
    with pytest.raises(HedgedeskError, match="no per-configuration table"):
        ledger.per_config(a)


def test_diff(ledger):
    a = _run(ledger, lookback=60, band=0.1)
    b = ledger.create_run(
        {"legs": ["SPY"], "lookback": 120, "cost_bp": 2}, "fp", "v2", "cupy", "H100", 40, 250
    )
    recorded = _summary()
    top = tuple(
        dataclasses.replace(r, sharpe=x) for r, x in zip(recorded.top[:2], (1.5, 1.0), strict=True)
    )
    ledger.finish(a, "done", dataclasses.replace(recorded, top=top), elapsed_s=3.0)
    d = ledger.diff(a, b)
    assert d["params"] == {"band": [0.1, None], "cost_bp": [None, 2], "lookback": [60, 120]}
    assert d["fingerprint_equal"] is True and d["code_version_equal"] is False
    assert d["a"] == {
        "id": a,
        "status": "done",
        "n_configs": 30,
        "elapsed_s": 3.0,
        "top": top[0].to_json(),
    }
    assert d["a"]["top"]["sharpe"] == 1.5
    assert d["b"]["status"] == "running" and d["b"]["top"] is None


def test_running_on_another_host_is_left_running(ledger):
    run = _run(ledger)
    ledger._db.execute("UPDATE runs SET pid = 2147483647, host = 'elsewhere' WHERE id = ?", (run,))
    assert ledger.get(run).status == "running"


def test_corrupt_file_names_the_path(tmp_path):
    path = tmp_path / "runs.sqlite"
    path.write_bytes(b"not a database at all " * 100)
    with pytest.raises(HedgedeskError, match="move it aside") as err:
        Ledger(path)
    assert str(path) in str(err.value)


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "runs.sqlite"
    Ledger(path).close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(HedgedeskError, match="newer hedgedesk"):
        Ledger(path)


def test_diff_names_nested_keys(ledger):
    a = ledger.create_run(
        {"grid": {"cost": [0.0], "window": [20]}, "top": 5}, "fp", "v", "cpu", "CPU", 2, 10
    )
    b = ledger.create_run(
        {"grid": {"cost": [0.001], "window": [20]}, "top": 5}, "fp", "v", "cpu", "CPU", 2, 10
    )
    assert ledger.diff(a, b)["params"] == {"grid.cost": [[0.0], [0.001]]}


# -- rm and prune ------------------------------------------------------------------------------
def _finished(led: Ledger, with_table: bool = True) -> str:
    run = _run(led)
    led.save_chunk(run, 0, 0, 30, _chunk(0, 30), kernel_s=0.1)
    table = pd.DataFrame({"sharpe": np.arange(30) * 0.5}) if with_table else None
    led.finish(run, "cancelled" if not with_table else "done", _summary(), per_config=table)
    return run


def test_remove_deletes_the_row_the_chunks_and_the_table(ledger):
    keep, gone = _finished(ledger), _finished(ledger, with_table=False)
    table = Path(ledger.get(keep).parquet)
    assert table.is_file() and ledger.finished_chunks(gone) == [(0, 0, 30)]
    rec = ledger.remove(keep)
    assert rec.id == keep and not table.exists()
    with pytest.raises(HedgedeskError, match="no such run"):
        ledger.get(keep)
    ledger.remove(gone)
    assert ledger.runs() == [] and ledger.finished_chunks(gone) == []
    count = ledger._db.execute("SELECT count(*) FROM chunks").fetchone()[0]
    assert count == 0


def test_remove_refuses_a_running_run(ledger):
    run = _run(ledger)  # this process: alive
    with pytest.raises(HedgedeskError, match=r"is running .*cancel it first"):
        ledger.remove(run)
    assert ledger.get(run).status == "running"


def test_stale_lists_runs_last_written_before_the_cutoff(ledger):
    old, new = _finished(ledger), _finished(ledger)
    running = _run(ledger)
    stamp = (dt.datetime.now(dt.UTC) - dt.timedelta(days=10)).isoformat(timespec="microseconds")
    for run in (old, running):
        ledger._db.execute("UPDATE runs SET updated = ? WHERE id = ?", (stamp, run))
    assert [r.id for r in ledger.stale(7)] == [old]  # the running one is never stale
    assert [r.id for r in ledger.stale(11)] == []
    assert {r.id for r in ledger.stale(0)} == {old, new}
    with pytest.raises(HedgedeskError, match="--older-than"):
        ledger.stale(-1)

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
import tempfile
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
    """A chunk's rows in the leg's sample (every other row), as the stream hands them over."""
    idx = np.arange(start, stop)[::2]
    return {"row": idx, "sharpe": idx * 0.5, "n_trades": idx.astype(np.int32)}


def _state(stop: int) -> dict[str, np.ndarray]:
    """A leg's stream state after rows [0, stop) (what ``LegStream.state`` gives)."""
    return {"acc_done": np.array([stop], np.int64), "leaders_score": np.arange(3) * 0.25 + stop}


def _save(led: Ledger, run: str, leg: int, start: int, stop: int, kernel_s: float = 0.0) -> None:
    led.save_chunk(run, leg, start, stop, _chunk(start, stop), _state(stop), kernel_s)


def _table(led: Ledger, run: str) -> tuple[Path, pd.DataFrame]:
    """A ``keep = all`` table as the engine writes it: Parquet parts in the run's folder."""
    folder = led.table_dir(run)
    folder.mkdir(parents=True)
    frame = pd.DataFrame({"row": np.arange(10), "sharpe": np.arange(10) * 0.5})
    frame.iloc[:6].to_parquet(folder / "leg000-000000000000.parquet", index=False)
    frame.iloc[6:].to_parquet(folder / "leg000-000000000006.parquet", index=False)
    return folder, frame


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
        _save(ledger, run, 0, start, stop, kernel_s=0.1)
    _save(ledger, run, 1, 0, 5, kernel_s=0.1)
    ledger.save_chunk(run, 0, 20, 30, _chunk(20, 30), _state(30), 0.2)  # duplicate: replaced
    assert ledger.finished_chunks(run) == [(0, 0, 10), (0, 10, 20), (0, 20, 30), (1, 0, 5)]
    assert ledger.get(run).n_done == 35
    state, samples = ledger.load_stream(run, 0)
    # the samples in row order, whatever order they were saved in
    assert [s["row"][0] for s in samples] == [0, 10, 20]
    expected = _chunk(0, 30)
    for name, want in expected.items():
        got = np.concatenate([s[name] for s in samples])
        np.testing.assert_array_equal(got, want)
        assert got.dtype == want.dtype
    # the state is the one the last save wrote: after the leg's last chunk
    assert state.keys() == _state(30).keys()
    for name, want in _state(30).items():
        np.testing.assert_array_equal(state[name], want)
        assert state[name].dtype == want.dtype
    state1, samples1 = ledger.load_stream(run, 1)
    assert state1["acc_done"][0] == 5 and len(samples1) == 1
    assert ledger.load_stream(run, 7) is None  # nothing stored for that leg


def test_load_stream_reports_gaps_and_overlaps(ledger):
    run = _run(ledger)
    _save(ledger, run, 2, 0, 10)
    _save(ledger, run, 2, 15, 20)
    with pytest.raises(HedgedeskError, match=rf"run {run} leg 2: configurations \[10, 15\)"):
        ledger.load_stream(run, 2)
    _save(ledger, run, 3, 0, 10)
    _save(ledger, run, 3, 5, 15)
    with pytest.raises(HedgedeskError, match="overlaps"):
        ledger.load_stream(run, 3)
    _save(ledger, run, 4, 5, 10)  # the first chunk is missing
    with pytest.raises(HedgedeskError, match=r"configurations \[0, 5\) are missing"):
        ledger.load_stream(run, 4)


def test_save_chunk_rejects_bad_samples(ledger):
    run = _run(ledger)
    state = _state(10)
    with pytest.raises(HedgedeskError, match=r"sample 'x' must be .* of length 5 like the first"):
        ledger.save_chunk(run, 0, 0, 10, {"row": np.arange(5), "x": np.zeros(4)}, state, 0.0)
    with pytest.raises(HedgedeskError, match="object"):
        ledger.save_chunk(run, 0, 0, 2, {"x": np.array([None, 1])}, state, 0.0)
    with pytest.raises(HedgedeskError, match="1-d"):
        ledger.save_chunk(run, 0, 0, 2, {"x": np.zeros((2, 2))}, state, 0.0)
    assert ledger.finished_chunks(run) == [] and ledger.load_stream(run, 0) is None
    with pytest.raises(HedgedeskError, match="no such run"):
        ledger.save_chunk("nope", 0, 0, 2, {"x": np.zeros(2)}, state, 0.0)
    assert ledger.finished_chunks("nope") == []  # the failed save rolled back
    assert ledger.load_stream("nope", 0) is None  # its state too


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
    state = {"acc_done": np.array([(i + 1) * n]), "big": np.arange(n) * 1.0}
    sample = {"row": np.arange(i * n, (i + 1) * n), "x": np.arange(i * n, (i + 1) * n) * 1.0}
    led.save_chunk(run, 0, i * n, (i + 1) * n, sample, state, 0.0)
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
        state, samples = led.load_stream(run, 0)
        x = np.concatenate([s["x"] for s in samples])
        np.testing.assert_array_equal(x, np.arange(len(x)) * 1.0)
        # the state and the chunks were committed together: it is the last chunk's
        assert state["acc_done"][0] == max(stop for _, _, stop in chunks) == len(x)
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
                _save(writer, run, 0, i * 20, (i + 1) * 20)
                writer.progress(run, (i + 1) * 20, 0, float(i))
        except BaseException as e:
            errors.append(e)

    thread = threading.Thread(target=write)
    thread.start()
    reads = 0
    while thread.is_alive():
        if seen := len(reader.finished_chunks(run)):
            _, samples = reader.load_stream(run, 0)
            assert len(samples) >= seen  # the writer moved on
            assert [s["row"][0] for s in samples] == list(range(0, 20 * len(samples), 20))
        reader.runs()
        writer.get(run)  # the writer's own connection, shared with its thread
        reads += 1
    thread.join()
    assert errors == []
    assert reads > 1 and len(reader.finished_chunks(run)) == 200
    writer.close()
    reader.close()


class _CommitsBetweenReads:
    """A reader's connection that lets another connection commit a chunk right after its
    first SELECT (a writer that is quicker than the reader, made deterministic).
    """

    def __init__(self, db: sqlite3.Connection, commit):
        self.db, self.commit, self.reads = db, commit, 0

    def execute(self, sql: str, *args):
        cur = self.db.execute(sql, *args)
        if sql.lstrip().upper().startswith("SELECT"):
            self.reads += 1
            if self.reads == 1:
                rows = cur.fetchall()  # the reader's result is taken before the commit
                self.commit()
                return _Rows(rows)
        return cur


class _Rows:
    def __init__(self, rows):
        self.rows = rows

    def fetchall(self):
        return self.rows

    def fetchone(self):
        return self.rows[0] if self.rows else None


def test_load_stream_is_one_snapshot_while_another_process_writes(tmp_path):
    path = tmp_path / "runs.sqlite"
    with Ledger(path) as writer, Ledger(path) as reader:
        run = _run(writer)
        _save(writer, run, 0, 0, 10)
        reader._db = _CommitsBetweenReads(reader._db, lambda: _save(writer, run, 0, 10, 20))
        state, samples = reader.load_stream(run, 0)
        reader._db = reader._db.db
        # the state must be the one after the last chunk read: rows [0, 10) or [0, 20)
        assert state["acc_done"][0] == sum(len(s["row"]) * 2 for s in samples)


def test_finish_done_records_the_table_and_drops_chunks(ledger):
    run = _run(ledger, n_configs=10)
    _save(ledger, run, 0, 0, 10)
    folder, table = _table(ledger, run)
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
    ledger.finish(run, "done", summary, table=folder, elapsed_s=12.5)
    rec = ledger.get(run)
    assert rec.status == "done" and rec.finished and rec.elapsed_s == 12.5
    assert rec.parquet == str(ledger.path.parent / "runs" / run) == str(folder)
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
    # a run done keeps its summary only: its chunks and stream state are dropped
    assert ledger.finished_chunks(run) == [] and ledger.load_stream(run, 0) is None
    with closing(sqlite3.connect(ledger.path)) as db:
        assert db.execute("SELECT count(*) FROM leg_state").fetchone()[0] == 0


def test_finish_cancelled_keeps_chunks_to_resume(ledger):
    run = _run(ledger)
    _save(ledger, run, 0, 0, 10)
    folder, table = _table(ledger, run)
    ledger.finish(run, "cancelled", table=folder)
    assert ledger.get(run).status == "cancelled"
    assert ledger.finished_chunks(run) == [(0, 0, 10)]
    state, samples = ledger.load_stream(run, 0)  # what a resume reads
    assert state["acc_done"][0] == 10 and len(samples) == 1
    pd.testing.assert_frame_equal(ledger.per_config(run), table)  # the rows done so far
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
    _save(led, run, 0, 0, 30, kernel_s=0.1)
    table = _table(led, run)[0] if with_table else None
    led.finish(run, "cancelled" if not with_table else "done", _summary(), table=table)
    return run


def test_remove_deletes_the_row_the_chunks_and_the_table(ledger):
    keep, gone = _finished(ledger), _finished(ledger, with_table=False)
    table = Path(ledger.get(keep).parquet)
    assert table.is_dir() and ledger.finished_chunks(gone) == [(0, 0, 30)]
    assert ledger.load_stream(gone, 0) is not None
    rec = ledger.remove(keep)
    assert rec.id == keep and not table.exists()
    with pytest.raises(HedgedeskError, match="no such run"):
        ledger.get(keep)
    ledger.remove(gone)
    assert ledger.runs() == [] and ledger.finished_chunks(gone) == []
    assert ledger.load_stream(gone, 0) is None
    for name in ("chunks", "leg_state"):
        assert ledger._db.execute(f"SELECT count(*) FROM {name}").fetchone()[0] == 0


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


def test_a_large_finished_run_gives_its_space_back_and_a_small_one_leaves_it(ledger):
    """Done runs drop their chunks; the file shrinks once more than VACUUM_PAGES pages are
    free (the vacuum costs more than a small run's bookkeeping: its pages wait for the next).
    """

    def free() -> int:
        with sqlite3.connect(ledger.path) as db:
            return db.execute("PRAGMA freelist_count").fetchone()[0]

    small = _run(ledger, n_configs=20_000)
    rows = np.arange(20_000)
    sample = {"row": rows, "shift": rows * 1e-6}  # 320 kB: about 80 pages
    ledger.save_chunk(small, 0, 0, 20_000, sample, _state(20_000), 0.0)
    ledger.finish(small, "done", _summary())
    assert 0 < free() <= sweep_ledger.VACUUM_PAGES
    big = _run(ledger, n_configs=600_000)
    rows = np.arange(600_000)
    sample = {"row": rows, "shift": rows * 1e-6}  # 9.6 MB: about 2,300 pages
    ledger.save_chunk(big, 0, 0, 600_000, sample, _state(600_000), 0.0)
    ledger.finish(big, "done", _summary())
    assert free() == 0


def test_a_run_id_that_would_name_files_elsewhere_is_refused(ledger):
    """Run ids name files (tables, charts, logs): one not written by create_run, e.g. by
    someone editing the ledger, is refused wherever it is read, never used in a path.
    """
    run = _run(ledger)
    evil = "x/../../../escape"
    with sqlite3.connect(ledger.path) as db:
        db.execute("UPDATE runs SET id = ? WHERE id = ?", (evil, run))
    for read in (lambda: ledger.get("x/"), lambda: ledger.get("last"), ledger.runs):
        with pytest.raises(HedgedeskError, match=r"'x/\.\./\.\./\.\./escape' is not a hedgedesk"):
            read()
    with pytest.raises(HedgedeskError, match="is not a hedgedesk run id"):
        ledger.table_dir(evil)
    assert ledger.table_dir(run).name == run  # a real id is fine


@pytest.mark.parametrize("name", ["", "   "])
def test_an_empty_run_name_matches_nothing(ledger, name):
    _run(ledger)
    with pytest.raises(HedgedeskError, match="no run named"):
        ledger.get(name)


def test_a_ledger_path_that_cannot_be_a_file_is_one_clear_error(tmp_path):
    with pytest.raises(HedgedeskError, match="a folder; the run ledger is a file"):
        Ledger(tmp_path)
    (tmp_path / "plain").write_text("x")
    with pytest.raises(HedgedeskError, match=r"plain is a file, not a folder"):
        Ledger(tmp_path / "plain" / "deeper" / "runs.sqlite")


def test_a_read_only_ledger_is_read_and_refuses_writes_naming_itself(tmp_path, monkeypatch):
    path = tmp_path / "runs.sqlite"
    with Ledger(path) as led:
        run = _run(led)
        led.finish(run, "done", _summary())
    monkeypatch.setattr(sweep_ledger.os, "access", lambda p, mode: False)  # another user's file
    with Ledger(path) as led:
        assert led.read_only and [r.id for r in led.runs()] == [run]
        assert led.get(run).status == "done"
        writes = (lambda: _run(led), lambda: led.remove(run), lambda: led.progress(run, 1, 1, 1))
        for write in writes:
            with pytest.raises(HedgedeskError, match=f"{path}: the run ledger is read-only"):
                write()
    with closing(sqlite3.connect(path)) as db:  # nothing was written
        assert db.execute("SELECT count(*) FROM runs").fetchone() == (1,)


@pytest.mark.skipif(
    os.geteuid() != 0 or not Path("/usr/bin/setpriv").exists(),
    reason="needs root to run the check as another user (setpriv)",
)
def test_a_ledger_in_a_read_only_folder_lists_for_another_user():
    """SQLite's WAL needs a -shm file beside the ledger; a folder the user cannot write has
    none, so the ledger is read as an immutable file (checked as user nobody).
    """
    with tempfile.TemporaryDirectory(dir="/tmp") as top:  # pytest's own folders are 0700
        _list_as_nobody(Path(top))


def _list_as_nobody(top: Path) -> None:
    top.chmod(0o755)
    folder = top / "shared"
    with Ledger(folder / "runs.sqlite") as led:
        run = _run(led)
        led.finish(run, "done", _summary())
    folder.chmod(0o555)
    (folder / "runs.sqlite").chmod(0o444)
    out = subprocess.run(
        ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
         sys.executable, "-c",
         "import sys; from hedgedesk.core.sweep.ledger import Ledger; "
         "led = Ledger(sys.argv[1]); print(led.read_only, [r.id for r in led.runs()])",
         str(folder / "runs.sqlite")],
        capture_output=True, text=True, cwd="/",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    folder.chmod(0o755)  # so the temporary folder can be removed
    assert out.stdout.strip() == f"True ['{run}']"


def test_rm_deletes_only_the_runs_own_table_whatever_the_ledger_says(ledger, tmp_path):
    """A ledger is a file others can hand you: a run whose table path points elsewhere has its
    row removed, and the folder it names is left alone.
    """
    elsewhere = tmp_path.parent / f"{tmp_path.name}-victim"
    elsewhere.mkdir()
    (elsewhere / "precious.txt").write_text("mine")
    run = _finished(ledger, with_table=False)
    with closing(sqlite3.connect(ledger.path)) as db, db:
        db.execute("UPDATE runs SET parquet = ? WHERE id = ?", (str(elsewhere), run))
    assert ledger.remove(run).id == run
    assert (elsewhere / "precious.txt").read_text() == "mine"


def test_a_damaged_record_is_one_error_naming_the_run_and_rm_still_removes_it(ledger):
    run = _finished(ledger, with_table=False)
    with closing(sqlite3.connect(ledger.path)) as db, db:
        db.execute("UPDATE runs SET params = '{oops' WHERE id = ?", (run,))
    for read in (lambda: ledger.get(run), ledger.runs):
        with pytest.raises(HedgedeskError, match=f"run {run}'s record is damaged"):
            read()
    removed = ledger.remove(run)
    assert (removed.id, removed.status) == (run, "cancelled") and ledger.runs() == []

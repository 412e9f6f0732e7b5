"""Local run ledger: every sweep run, its progress and its finished chunks, in SQLite (WAL).

A sweep is split into legs (one per long ticker) and each leg's configurations are computed in
chunks ``[start, stop)`` and folded into the leg's stream (``hedgedesk.core.sweep.stream``).
Each finished chunk commits, in one transaction, its rows in the leg's sample and the stream's
state after it (a few kilobytes, whatever the chunk's size), so a run stopped in any way
(Ctrl-C, SSH drop, kill -9) resumes from its last finished chunk exactly as if it had never
stopped. A run done keeps only its summary: a few bytes per configuration at most.

The database is :func:`hedgedesk.core.paths.ledger_file` (``$HEDGEDESK_LEDGER``, else the
user state folder's ``runs.sqlite``); per-configuration tables (``--keep all``) are folders of
Parquet files in ``runs/`` beside it. Several processes may use it at once: a detached sweep
writes while the terminal app reads.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import shutil
import socket
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hedgedesk.core.errors import HedgedeskError
from hedgedesk.core.jsonable import jsonable
from hedgedesk.core.paths import ledger_file

if TYPE_CHECKING:  # results imports RunStatus from here: read summaries import it late
    from hedgedesk.core.sweep.results import SweepSummary

# what create_run writes: a run id read back is used in file names (tables, logs, charts), so
# one that is not of this form (a ledger edited by hand or by someone else) is refused
RUN_ID = re.compile(r"\d{8}-\d{6}-[0-9a-f]{4}")
# free pages (4 KiB) a finished run may leave to the next runs rather than give back: the
# vacuum costs more than the run's bookkeeping on small runs
VACUUM_PAGES = 1024
SCHEMA_VERSION = 2  # 2: chunks hold a sample of their rows; leg_state holds each leg's stream


class RunStatus(StrEnum):
    """A run's status as the ledger stores it (the values are the SQLite and JSON strings).

    ``RUNNING`` is written when a run starts or resumes; ``DONE``, ``CANCELLED`` and ``FAILED``
    when it ends (:data:`FINAL_STATUSES`). ``INTERRUPTED`` is never written: it is how a
    ``RUNNING`` run whose process is gone from this host reads back (killed, crashed).
    """

    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


FINAL_STATUSES = (RunStatus.DONE, RunStatus.CANCELLED, RunStatus.FAILED)
# what a resume may pick up: a run that stopped before it was done
RESUMABLE = (RunStatus.INTERRUPTED, RunStatus.CANCELLED, RunStatus.FAILED)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    finished TEXT,
    status TEXT NOT NULL,
    params TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    code_version TEXT NOT NULL,
    backend TEXT NOT NULL,
    device TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    n_configs INTEGER NOT NULL,
    n_done INTEGER NOT NULL DEFAULT 0,
    config_days INTEGER NOT NULL,
    config_days_done INTEGER NOT NULL DEFAULT 0,
    elapsed_s REAL NOT NULL DEFAULT 0,
    resumed INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    summary TEXT,
    parquet TEXT
);
CREATE INDEX IF NOT EXISTS runs_created ON runs (created);
CREATE TABLE IF NOT EXISTS chunks (
    run_id TEXT NOT NULL,
    leg INTEGER NOT NULL,
    start INTEGER NOT NULL,
    stop INTEGER NOT NULL,
    kernel_s REAL NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (run_id, leg, start)
);
CREATE TABLE IF NOT EXISTS leg_state (
    run_id TEXT NOT NULL,
    leg INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (run_id, leg)
);
"""


def default_path() -> Path:
    """The ledger's database when none is named (hedgedesk.core.paths.ledger_file)."""
    return ledger_file()


@dataclass(frozen=True)
class RunRecord:
    """One run as the ledger holds it: a row of ``runs``, JSON decoded (``status`` reads
    ``INTERRUPTED`` where a running run's process is gone from this host).
    """

    id: str
    created: str
    updated: str
    finished: str | None
    status: RunStatus
    params: dict
    fingerprint: str
    code_version: str
    backend: str
    device: str
    pid: int
    host: str
    n_configs: int
    n_done: int
    config_days: int
    config_days_done: int
    elapsed_s: float
    resumed: int
    error: str | None
    summary: SweepSummary | None
    parquet: str | None


_COLUMNS = ", ".join(f.name for f in fields(RunRecord))


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def _dumps(x: Any) -> str:
    return json.dumps(jsonable(x), allow_nan=False)


def _pid_alive(pid: int) -> bool:
    if os.name != "posix":  # os.kill(pid, 0) would terminate the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _check_id(run_id: str, ledger: Path) -> None:
    """Refuse a run id that is not of :data:`RUN_ID`'s form: it would name files."""
    if not RUN_ID.fullmatch(str(run_id)):
        raise HedgedeskError(
            f"{ledger}: run id {str(run_id)[:40]!r} is not a hedgedesk run id "
            "(YYYYmmdd-HHMMSS-xxxx); the ledger was written by something else"
        )


def remove_table(path: Path) -> None:
    """Delete a per-configuration table: a folder of parts, or one file (older runs)."""
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _pack(arrays: dict[str, np.ndarray]) -> bytes:
    """Arrays as one blob: a JSON header (name, dtype, shape of each) and their raw bytes
    (np.savez took milliseconds a chunk, most of a save).
    """
    arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    head = json.dumps([[k, v.dtype.str, v.shape] for k, v in arrays.items()]).encode()
    return b"".join(
        [len(head).to_bytes(8, "little"), head, *(v.tobytes() for v in arrays.values())]
    )


def _unpack(blob: bytes) -> dict[str, np.ndarray]:
    """The arrays :func:`_pack` wrote (copies: the blob may be released)."""
    size = int.from_bytes(blob[:8], "little")
    pos = 8 + size
    out = {}
    for name, dtype, shape in json.loads(blob[8:pos]):
        dt = np.dtype(dtype)
        count = int(np.prod(shape, dtype=np.int64))
        out[name] = np.frombuffer(blob, dt, count, pos).reshape(shape).copy()
        pos += count * dt.itemsize
    return out


@dataclass(frozen=True)
class Removed:
    """A run :meth:`Ledger.remove` deleted."""

    id: str
    status: str
    n_configs: int


class Ledger:
    """One SQLite connection, shared by this process's threads under a lock."""

    def __init__(self, path: Path | None = None):
        # absolute: the run tables' paths stored in the ledger must not depend on the folder
        # this process started in
        self.path = (Path(path) if path is not None else default_path()).absolute()
        try:
            self._check_place()
        except OSError as exc:  # no permission on a folder above it, a name too long
            raise HedgedeskError(
                f"{self.path}: cannot reach the run ledger ({exc.strerror or exc})"
            ) from None
        self._lock = threading.Lock()
        self._host = socket.gethostname()
        # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so a writer takes the write
        # lock up front and waits out the busy timeout (10 s, set by ``timeout``) instead of
        # failing on a stale read snapshot.
        # a ledger this user cannot write (another user's, a read-only mount) is still read:
        # runs, show, diff and reports work; writes are refused by _writable
        self.read_only = self.path.exists() and not (
            os.access(self.path, os.W_OK) and os.access(self.path.parent, os.W_OK | os.X_OK)
        )
        self._db = self._connect("mode=ro" if self.read_only else "")
        try:
            self._setup()
        except BaseException as e:
            self._db.close()
            if isinstance(e, sqlite3.DatabaseError):
                raise HedgedeskError(
                    f"{self.path}: not a usable hedgedesk run ledger ({e}); move it aside "
                    f"(mv {self.path} {self.path}.bad) and a fresh ledger will be created"
                ) from e
            raise

    def _check_place(self) -> None:
        """Refuse a folder as the ledger or a path under a file; make the ledger's folder."""
        if self.path.is_dir():
            raise HedgedeskError(f"{self.path}: a folder; the run ledger is a file (runs.sqlite)")
        above = next((p for p in self.path.parents if p.exists()), None)
        if above is not None and not above.is_dir():
            raise HedgedeskError(f"{self.path}: {above} is a file, not a folder")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # no permission, a read-only file system
            raise HedgedeskError(
                f"{self.path}: cannot make the run ledger's folder ({exc.strerror})"
            ) from None

    def _connect(self, query: str) -> sqlite3.Connection:
        where = f"{self.path.as_uri()}?{query}" if query else str(self.path)
        return sqlite3.connect(
            where, timeout=10.0, isolation_level=None, check_same_thread=False, uri=True
        )

    def _setup(self) -> None:
        db = self._db
        if self.read_only:
            try:
                version = db.execute("PRAGMA user_version").fetchone()[0]
            except sqlite3.OperationalError:
                # WAL needs its -shm file, which a read-only folder cannot hold: read the file
                # as it stands (a ledger's last writer folds the WAL in when it closes)
                db.close()
                self._db = db = self._connect("mode=ro&immutable=1")
                version = db.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA_VERSION:
                raise HedgedeskError(
                    f"{self.path}: a read-only run ledger of schema {version}; this hedgedesk "
                    f"reads {SCHEMA_VERSION} and cannot upgrade a file it cannot write"
                )
            return
        # auto_vacuum only takes effect before the first table exists; it lets finish() give back
        # the space of dropped chunk blobs.
        db.execute("PRAGMA auto_vacuum = INCREMENTAL")
        db.execute("PRAGMA journal_mode = WAL").fetchone()
        db.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL survives process crashes
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise HedgedeskError(
                f"{self.path}: run ledger schema {version} was written by a newer hedgedesk "
                f"(this one reads {SCHEMA_VERSION}); upgrade, or set HEDGEDESK_LEDGER elsewhere"
            )
        if version < SCHEMA_VERSION:
            with self._tx():
                # executescript would commit our transaction; run the statements one by one.
                for stmt in filter(str.strip, _SCHEMA.split(";")):
                    db.execute(stmt)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _writable(self) -> None:
        if self.read_only:
            raise HedgedeskError(
                f"{self.path}: the run ledger is read-only for this user; it can be listed "
                "and reported, not written: name another with --ledger or HEDGEDESK_LEDGER"
            )

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; callers hold ``self._lock`` (or are still in ``__init__``)."""
        self._writable()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------

    def create_run(
        self,
        params: dict,
        fingerprint: str,
        code_version: str,
        backend: str,
        device: str,
        n_configs: int,
        config_days: int,
    ) -> str:
        """Record a new run as running and return its id (``YYYYmmdd-HHMMSS-xxxx``, UTC)."""
        self._writable()
        params_json = _dumps(params)
        with self._lock:
            while True:
                now = dt.datetime.now(dt.UTC)
                run_id = f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
                stamp = now.isoformat(timespec="microseconds")
                try:
                    self._db.execute(
                        "INSERT INTO runs (id, created, updated, status, params, fingerprint, "
                        "code_version, backend, device, pid, host, n_configs, config_days) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            run_id,
                            stamp,
                            stamp,
                            RunStatus.RUNNING,
                            params_json,
                            fingerprint,
                            code_version,
                            backend,
                            device,
                            os.getpid(),
                            self._host,
                            int(n_configs),
                            int(config_days),
                        ),
                    )
                    return run_id
                except sqlite3.IntegrityError:  # same second and same 4 hex digits: redraw
                    continue

    def _update(self, db: sqlite3.Connection, run_id: str, sql: str, args: tuple) -> None:
        self._writable()
        cur = db.execute(
            f"UPDATE runs SET updated = ?, {sql} WHERE id = ?", (_now(), *args, run_id)
        )
        if cur.rowcount == 0:
            raise HedgedeskError(f"run {run_id}: no such run in {self.path}")

    def mark_running(self, run_id: str, backend: str, device: str) -> None:
        """Record that this process resumes the run on ``backend`` (counted in ``resumed``)."""
        with self._lock:
            self._update(
                self._db,
                run_id,
                "status = ?, pid = ?, host = ?, backend = ?, device = ?, "
                "finished = NULL, error = NULL, resumed = resumed + 1",
                (RunStatus.RUNNING, os.getpid(), self._host, backend, device),
            )

    def progress(self, run_id: str, n_done: int, config_days_done: int, elapsed_s: float) -> None:
        """Record how far the run is: configurations, config-days, seconds of wall clock."""
        with self._lock:
            self._update(
                self._db,
                run_id,
                "n_done = ?, config_days_done = ?, elapsed_s = ?",
                (int(n_done), int(config_days_done), float(elapsed_s)),
            )

    def save_chunk(
        self,
        run_id: str,
        leg: int,
        start: int,
        stop: int,
        sample: dict[str, np.ndarray],
        state: dict[str, np.ndarray],
        kernel_s: float,
    ) -> None:
        """Commit one finished chunk of rows [start, stop): its rows in the leg's sample (what
        PBO and the walk-forward read) and the leg's stream state after it, in one
        transaction; saving the same (leg, start) again replaces it.
        """
        sample = {k: np.asarray(v) for k, v in sample.items()}
        first = len(next(iter(sample.values()))) if sample else 0
        for name, a in sample.items():
            if a.ndim != 1 or len(a) != first or a.dtype.hasobject:
                raise HedgedeskError(
                    f"run {run_id} leg {leg} chunk [{start}, {stop}): sample {name!r} must be a "
                    f"1-d numeric array of length {first} like the first, got {a.dtype} {a.shape}"
                )
        blob, state_blob = _pack(sample), _pack(state)
        with self._lock, self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO chunks VALUES (?, ?, ?, ?, ?, ?)",
                (run_id, int(leg), int(start), int(stop), float(kernel_s), blob),
            )
            db.execute(
                "INSERT OR REPLACE INTO leg_state VALUES (?, ?, ?)", (run_id, int(leg), state_blob)
            )
            # Counted from the chunks themselves so a replaced chunk is not counted twice.
            self._update(
                db,
                run_id,
                "n_done = (SELECT COALESCE(SUM(stop - start), 0) FROM chunks "
                "WHERE run_id = runs.id)",
                (),
            )

    def finish(
        self,
        run_id: str,
        status: RunStatus,
        summary: SweepSummary | None = None,
        error: str | None = None,
        table: Path | None = None,
        elapsed_s: float | None = None,
    ) -> None:
        """Close a run. ``table``: the folder of its per-configuration table (``keep = all``).
        A run done drops its chunks and stream state (its summary holds what they gave);
        any other keeps them, to resume. ``elapsed_s`` defaults to the last value given to
        ``progress``.
        """
        if status not in FINAL_STATUSES:
            raise HedgedeskError(
                f"run {run_id}: status {str(status)!r} is not one of {', '.join(FINAL_STATUSES)}"
            )
        summary_json = None if summary is None else _dumps(summary.to_json())
        parquet = None if table is None else str(table)
        drop = status == RunStatus.DONE
        with self._lock:
            with self._tx() as db:
                self._update(
                    db,
                    run_id,
                    "status = ?, finished = ?, summary = COALESCE(?, summary), "
                    "error = ?, parquet = COALESCE(?, parquet), "
                    "elapsed_s = COALESCE(?, elapsed_s)",
                    (
                        status,
                        _now(),
                        summary_json,
                        error,
                        parquet,
                        None if elapsed_s is None else float(elapsed_s),
                    ),
                )
                if drop:
                    db.execute("DELETE FROM chunks WHERE run_id = ?", (run_id,))
                    db.execute("DELETE FROM leg_state WHERE run_id = ?", (run_id,))
            if drop and self._db.execute("PRAGMA freelist_count").fetchone()[0] > VACUUM_PAGES:
                # Hand the blobs' pages back to the file system. executescript steps the pragma
                # to the end; execute() would stop after freeing a single page.
                self._db.executescript("PRAGMA incremental_vacuum")

    def remove(self, run_id: str) -> Removed:
        """Delete a run: its row, its stored chunks and its Parquet table, and give the space
        back to the file system. A run still running (its process alive, or on another host,
        where the ledger cannot tell) is refused. Reads only the columns it needs, so a run
        whose record is damaged can still be removed.

        Parameters
        ----------
        run_id : str
            An id, a unique id prefix, or ``last``.

        Returns
        -------
        Removed
            What was deleted: the id, its status, its number of configurations.
        """
        run = self._resolve(run_id)
        _check_id(run, self.path)
        with self._lock:
            status, pid, host, parquet, n_configs = self._db.execute(
                "SELECT status, pid, host, parquet, n_configs FROM runs WHERE id = ?", (run,)
            ).fetchone()
        if status == RunStatus.RUNNING and not (host == self._host and not _pid_alive(pid)):
            raise HedgedeskError(f"run {run} is running (pid {pid} on {host}): cancel it first")
        with self._lock:
            with self._tx() as db:
                db.execute("DELETE FROM chunks WHERE run_id = ?", (run,))
                db.execute("DELETE FROM leg_state WHERE run_id = ?", (run,))
                db.execute("DELETE FROM runs WHERE id = ?", (run,))
            self._db.executescript("PRAGMA incremental_vacuum")
        if parquet:
            self._remove_table(run, Path(parquet))
        return Removed(run, str(status), int(n_configs))

    def _remove_table(self, run: str, stored: Path) -> None:
        """Delete the run's table: only its own (named after it, beside the ledger), whatever
        path the ledger holds, so a ledger from elsewhere cannot make ``rm`` delete a folder.
        """
        path = stored if stored.is_absolute() else self.table_dir(run)
        home = self.path.parent.resolve()
        if path.name.startswith(run) and path.resolve().is_relative_to(home):
            remove_table(path)

    def stale(self, days: float, now: dt.datetime | None = None) -> list[RunRecord]:
        """Runs last written more than ``days`` days before ``now`` (default: the present),
        oldest first, leaving out runs still running.
        """
        if not days >= 0:
            raise HedgedeskError(f"--older-than: got {days}, expected a number of days >= 0")
        cutoff = ((now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=days)).isoformat(
            timespec="microseconds"
        )
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM runs WHERE updated < ? ORDER BY updated, rowid",
                (cutoff,),
            ).fetchall()
        return [r for r in map(self._record, rows) if r.status != RunStatus.RUNNING]

    # -- reading ---------------------------------------------------------------------------

    def finished_chunks(self, run_id: str) -> list[tuple[int, int, int]]:
        """(leg, start, stop) of every stored chunk of the run, in order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT leg, start, stop FROM chunks WHERE run_id = ? ORDER BY leg, start",
                (run_id,),
            ).fetchall()
        return [tuple(r) for r in rows]

    def load_stream(
        self, run_id: str, leg: int
    ) -> tuple[dict[str, np.ndarray], list[dict[str, np.ndarray]]] | None:
        """A leg's stream state after its last stored chunk and the samples of its chunks in
        row order; None when none is stored. The chunks must tile [0, last stop) exactly.
        """
        with self._lock:
            # one read transaction: a writer's chunk may not land between the two reads
            self._db.execute("BEGIN")
            try:
                rows = self._db.execute(
                    "SELECT start, stop, data FROM chunks WHERE run_id = ? AND leg = ? "
                    "ORDER BY start",
                    (run_id, int(leg)),
                ).fetchall()
                state = self._db.execute(
                    "SELECT data FROM leg_state WHERE run_id = ? AND leg = ?", (run_id, int(leg))
                ).fetchone()
            finally:
                self._db.execute("COMMIT")
        if not rows or state is None:
            return None
        samples: list[dict[str, np.ndarray]] = []
        expected = 0
        for start, stop, blob in rows:
            if start != expected:
                what = (
                    f"configurations [{expected}, {start}) are missing"
                    if start > expected
                    else f"chunk [{start}, {stop}) overlaps configurations before {expected}"
                )
                raise HedgedeskError(f"run {run_id} leg {leg}: {what}")
            samples.append(_unpack(blob))
            expected = stop
        return _unpack(state[0]), samples

    def _record(self, row: tuple) -> RunRecord:
        from hedgedesk.core.sweep.results import SweepSummary

        rec = dict(zip((f.name for f in fields(RunRecord)), row, strict=True))
        _check_id(rec["id"], self.path)
        try:
            rec["params"] = json.loads(rec["params"])
            if rec["summary"] is not None:
                rec["summary"] = SweepSummary.from_json(json.loads(rec["summary"]))
            rec["status"] = RunStatus(rec["status"])
        except (ValueError, TypeError) as exc:  # JSONDecodeError is a ValueError
            raise HedgedeskError(
                f"{self.path}: run {rec['id']}'s record is damaged ({exc}): expected the "
                f"JSON hedgedesk writes; remove it with hedgedesk runs rm {rec['id']}"
            ) from None
        except HedgedeskError as exc:
            raise HedgedeskError(f"run {rec['id']}: {exc}") from None
        # A crashed or killed sweep never wrote its final status; only this host can tell.
        if (
            rec["status"] == RunStatus.RUNNING
            and rec["host"] == self._host
            and not _pid_alive(rec["pid"])
        ):
            rec["status"] = RunStatus.INTERRUPTED
        return RunRecord(**rec)

    def _resolve(self, run_id: str) -> str:
        """Exact id, unique prefix, or 'last' (the newest run)."""
        if not run_id.strip():
            raise HedgedeskError("no run named: give a run id, a unique prefix of one, or last")
        with self._lock:
            if run_id == "last":
                row = self._db.execute(
                    "SELECT id FROM runs ORDER BY created DESC, rowid DESC LIMIT 1"
                ).fetchone()
                if row is None:
                    raise HedgedeskError(f"no runs yet in {self.path}")
                return row[0]
            ids = [
                r[0]
                for r in self._db.execute(
                    "SELECT id FROM runs WHERE substr(id, 1, ?) = ? ORDER BY created DESC LIMIT 6",
                    (len(run_id), run_id),
                )
            ]
        if len(ids) == 1:  # ids all have one length, so an exact id is its only match
            return ids[0]
        if not ids:
            raise HedgedeskError(f"run {run_id!r}: no such run in {self.path}")
        more = ", ..." if len(ids) > 5 else ""
        raise HedgedeskError(f"run {run_id!r} is ambiguous: {', '.join(ids[:5])}{more}")

    def get(self, run_id: str) -> RunRecord:
        """The run with this id, unique id prefix, or ``last`` (the newest)."""
        full = self._resolve(run_id)
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM runs WHERE id = ?", (full,)).fetchone()
        return self._record(row)

    def runs(self, limit: int = 20) -> list[RunRecord]:
        """The newest ``limit`` runs, newest first."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM runs ORDER BY created DESC, rowid DESC LIMIT ?",
                (int(limit),),
            ).fetchall()
        return [self._record(r) for r in rows]

    def per_config(self, run_id: str) -> pd.DataFrame:
        """A run's per-configuration table (``keep = all``: its folder of Parquet parts)."""
        rec = self.get(run_id)
        if rec.parquet is None:
            raise HedgedeskError(
                f"run {rec.id} ({rec.status}) kept no per-configuration table: "
                "run the sweep with --keep all"
            )
        path = Path(rec.parquet)
        if not path.is_absolute():  # stored by an older version relative to its working folder
            path = self.table_dir(rec.id)
        if not path.exists():
            raise HedgedeskError(
                f"run {rec.id}: its per-configuration table {path} is missing "
                "(moved or deleted); run it again with --keep all to remake it"
            )
        return pd.read_parquet(path)

    def table_dir(self, run_id: str) -> Path:
        """Where a run's per-configuration table goes (``keep = all``): one Parquet file per
        chunk in a folder named after the run.
        """
        _check_id(run_id, self.path)
        return self.path.parent / "runs" / run_id

    def diff(self, a: str, b: str) -> dict:
        """Parameter differences {key: [a, b]} and a side-by-side of the two runs' outcomes."""
        ra, rb = self.get(a), self.get(b)
        fa, fb = _flatten(ra.params), _flatten(rb.params)
        params = {
            k: [fa.get(k), fb.get(k)]
            for k in sorted(fa.keys() | fb.keys())
            if fa.get(k) != fb.get(k)
        }

        def side(r: RunRecord) -> dict:
            top = r.summary.top if r.summary is not None else ()
            return {
                "id": r.id,
                "status": r.status,
                "n_configs": r.n_configs,
                "elapsed_s": r.elapsed_s,
                "top": top[0].to_json() if top else None,
            }

        return {
            "params": params,
            "fingerprint_equal": ra.fingerprint == rb.fingerprint,
            "code_version_equal": ra.code_version == rb.code_version,
            "a": side(ra),
            "b": side(rb),
        }


def _flatten(d: dict, prefix: str = "") -> dict:
    """Nested parameters as dotted keys (``grid.cost``), so a diff names what changed."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out

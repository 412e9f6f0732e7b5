"""``hedgedesk sweep`` and ``hedgedesk runs`` end to end, in-process
(``hedgedesk.tui.cli.main.main``) and, for
``--detach`` and Ctrl-C, as real processes. Every run uses its own ``--ledger`` in tmp_path and
``--backend cpu``. Prices are synthetic wide CSVs written here (Date,A,B,H), or the real files of
../shared/data where a test says so; witnesses are ``hedgedesk.core.sweep.backtest.run_backtest``
on the same
files and the ledger read back directly.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from hedgedesk.core.data.calendar import EXCHANGE, trading_days
from hedgedesk.core.data.price_files import load_paths
from hedgedesk.core.sweep.backtest import run_backtest
from hedgedesk.core.sweep.engine import CpuBackend, SweepRequest, run_sweep
from hedgedesk.core.sweep.grid import Grid, Leg
from hedgedesk.core.sweep.ledger import Ledger
from hedgedesk.tui.cli.main import main

REPO = Path(__file__).resolve().parents[3]
PARAMS = (
    "rebalance",
    "window",
    "estimator",
    "halflife",
    "exposure",
    "hedge_ratio",
    "drift_band",
    "cost",
    "impact",
)
METRICS = (
    "score",
    "sharpe",
    "annual_return",
    "annual_volatility",
    "sortino",
    "max_drawdown",
    "calmar",
    "turnover",
    "hedge_effectiveness",
    "residual_beta",
    "consistency",
    "dsr",
)
GRID_ARGS = (
    "--tickers",
    "A,B",
    "--hedge",
    "H",
    "--rebalance",
    "1,5",
    "--window",
    "20,60",
    "--exposure",
    "0.5:1.5:3",
    "--hedge-ratio",
    "0.5,1",
    "--cost",
    "0,0.001",
    "--estimator",
    "ols,ewma",
    "--top",
    "5",
    "--backend",
    "cpu",
)


# -- harness -----------------------------------------------------------------------------------
def write_prices(path: Path, n_days: int = 750, seed: int = 3) -> Path:
    """A wide CSV of a hedge H and two assets A, B whose beta to H drifts, on NYSE sessions."""
    days = trading_days(EXCHANGE, dt.date(2018, 1, 2), dt.date(2024, 12, 31))[: n_days + 1]
    rng = np.random.default_rng(seed)
    r = {"H": 0.0004 + 0.012 * rng.standard_normal(n_days)}
    for i, ticker in enumerate("AB"):
        beta = 1.1 + 0.3 * i + 0.4 * np.sin(np.arange(n_days) / 60.0 + i)
        r[ticker] = 0.0003 + beta * r["H"] + 0.01 * rng.standard_normal(n_days)
    closes = {t: 100.0 * np.concatenate([[1.0], np.cumprod(1.0 + x)]) for t, x in r.items()}
    lines = ["Date,A,B,H"]
    for i, d in enumerate(days):
        lines.append(",".join([str(d), *(f"{closes[t][i]:.8f}" for t in "ABH")]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def prices(tmp_path) -> Path:
    return write_prices(tmp_path / "data" / "prices.csv")


@pytest.fixture
def ledger_path(tmp_path) -> Path:
    return tmp_path / "state" / "runs.sqlite"


def run(capsys, *argv) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def run_json(capsys, *argv) -> dict:
    rc, out, err = run(capsys, *argv, "--json")
    assert rc == 0, err
    obj = json.loads(out)  # the whole of stdout is one JSON document
    assert isinstance(obj, dict)
    return obj


def one_error_line(rc: int, out: str, err: str) -> str:
    assert rc == 2, (rc, out, err)
    assert out == ""
    assert err.startswith("hedgedesk: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def cli_process(*argv, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "hedgedesk.tui.cli", *map(str, argv)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def wait_for(predicate, timeout: float, every: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    return None


# -- 1. --json -------------------------------------------------------------------------------
def test_sweep_json_prints_the_leaderboard(capsys, prices, ledger_path):
    args = ("sweep", "--data", prices, *GRID_ARGS, "--ledger", ledger_path, "--keep", "all")
    s = run_json(capsys, *args)
    assert s["status"] == "done" and s["run_id"]
    assert s["grid"]["exposure"] == [0.5, 1.0, 1.5]  # a:b:n gives n values, both ends included
    assert s["grid"]["estimator"] == [["ols", None], ["ewma", 20.0]]
    assert s["grid"]["legs"] == ["A", "B"] and s["grid"]["hedge"] == "H"
    c = s["counts"]
    assert c["strategies_per_leg"] == 2 * 2 * 2 * 3 * 2 and c["scenarios"] == 2
    assert c["configurations"] == 2 * 48 * 2 == c["done"] == c["ok"]
    assert s["backend"]["name"] == "cpu"
    top = s["top"]
    assert len(top) == 5
    for r in top:
        assert r["ticker"] in ("A", "B")
        for key in (*PARAMS, *METRICS):
            assert key in r, key
        for key in METRICS:
            assert isinstance(r[key], float) and math.isfinite(r[key]), key
        assert r["cost"] == 0.001  # ranked under the costliest scenario
        assert r["exposure"] in (0.5, 1.0, 1.5) and r["estimator"] in ("ols", "ewma")
        assert (r["halflife"] is None) == (r["estimator"] == "ols")
    assert [r["score"] for r in top] == sorted((r["score"] for r in top), reverse=True)
    # the leader, re-run by the plain dated backtest on the same file
    lead = next(r for r in top if r["estimator"] == "ols")
    want = run_backtest(
        load_paths([prices]),
        [lead["ticker"]],
        "H",
        lead["rebalance"],
        lead["window"],
        lead["exposure"],
        lead["hedge_ratio"],
        lead["cost"],
        lead["drift_band"],
    ).metrics
    for key in ("sharpe", "annual_return", "max_drawdown", "turnover", "hedge_effectiveness"):
        assert lead[key] == pytest.approx(want[key], rel=1e-9, abs=1e-12), key
    with Ledger(ledger_path) as ledger:
        rec = ledger.get(s["run_id"])
        assert rec.status == "done" and rec.n_done == 192
        table = ledger.per_config(rec.id)  # --keep all: every configuration, float32 figures
        assert len(table) == 192 and sorted(table["row"]) == sorted([*range(96)] * 2)
        row = table[(table.ticker == lead["ticker"]) & (table.row == lead["row"])].iloc[0]
        assert row["sharpe"] == pytest.approx(lead["sharpe"], rel=1e-6)


def test_sweep_on_real_files(capsys, shared_data, ledger_path):
    files = [
        shared_data / "mag7" / "AAPL.csv",
        shared_data / "mag7" / "MSFT.csv",
        shared_data / "etf" / "QQQ.csv",
    ]
    s = run_json(
        capsys,
        "sweep",
        *(x for f in files for x in ("--data", f)),
        "--tickers",
        "AAPL,MSFT",
        "--hedge",
        "QQQ",
        "--start",
        "2019-01-01",
        "--end",
        "2021-12-31",
        "--rebalance",
        "1,21",
        "--window",
        "20,60",
        "--hedge-ratio",
        "0.5,1",
        "--cost",
        "0,0.0005",
        "--top",
        "3",
        "--backend",
        "cpu",
        "--ledger",
        ledger_path,
    )
    assert s["status"] == "done" and len(s["top"]) == 3
    market = load_paths(files)
    for r in s["top"]:
        want = run_backtest(
            market,
            [r["ticker"]],
            "QQQ",
            r["rebalance"],
            r["window"],
            r["exposure"],
            r["hedge_ratio"],
            r["cost"],
            r["drift_band"],
            start=dt.date(2019, 1, 1),
            end=dt.date(2021, 12, 31),
        ).metrics
        for key in ("sharpe", "annual_return", "max_drawdown", "turnover", "hedge_effectiveness"):
            assert r[key] == pytest.approx(want[key], rel=1e-9, abs=1e-12), key
    for leg in s["legs"]:
        assert leg["first_return"] >= "2019-01-01" and leg["last_return"] <= "2021-12-31"


# -- 2. text output --------------------------------------------------------------------------
def test_text_output_fits_80_columns(capsys, prices, ledger_path):
    rc, out, err = run(capsys, "sweep", "--data", prices, *GRID_ARGS, "--ledger", ledger_path)
    assert rc == 0, err
    lines = out.splitlines()
    assert len(lines) >= 10 and any("PBO" in line for line in lines)
    too_wide = [line for line in lines if len(line) > 80]
    assert not too_wide, "\n".join(f"{len(line)}: {line}" for line in too_wide)


# -- 3. runs ---------------------------------------------------------------------------------
def test_runs_list_show_and_diff(capsys, prices, ledger_path):
    common = (
        "sweep",
        "--data",
        prices,
        "--tickers",
        "A",
        "--hedge",
        "H",
        "--rebalance",
        "5",
        "--window",
        "20,60",
        "--backend",
        "cpu",
        "--ledger",
        ledger_path,
    )
    a = run_json(capsys, *common, "--cost", "0")
    b = run_json(capsys, *common, "--cost", "0.001", "--keep", "all")

    listed = run_json(capsys, "runs", "--ledger", ledger_path)["runs"]
    assert [r["run_id"] for r in listed] == [b["run_id"], a["run_id"]]  # newest first
    for r in listed:
        assert r["status"] == "done" and r["n_done"] == r["n_configs"] == 2
        assert r["legs"] == ["A"] and r["backend"] == "cpu"

    shown = run_json(capsys, "runs", "show", "last", "--ledger", ledger_path)
    assert shown["run_id"] == b["run_id"] and shown["status"] == "done"
    assert shown["summary"]["top"] == b["top"]
    assert shown["params"]["grid"]["cost"] == [0.001]
    assert Path(shown["parquet"]).is_dir()  # --keep all: a folder of Parquet parts
    kept_none = run_json(capsys, "runs", "show", a["run_id"], "--ledger", ledger_path)
    assert kept_none["parquet"] is None
    if not b["run_id"].startswith(a["run_id"][:-1]):  # a unique prefix names the run
        prefix = run_json(capsys, "runs", "show", a["run_id"][:-1], "--ledger", ledger_path)
        assert prefix["run_id"] == a["run_id"]

    d = run_json(capsys, "runs", "diff", a["run_id"], b["run_id"], "--ledger", ledger_path)
    # only the grid's cost and what the run keeps differ
    assert d["params"] == {"grid.cost": [[0.0], [0.001]], "keep": ["best", "all"]}
    assert d["fingerprint_equal"] is True and d["code_version_equal"] is True
    assert d["a"]["id"] == a["run_id"] and d["b"]["id"] == b["run_id"]
    assert d["a"]["top"]["score"] == a["top"][0]["score"]

    rc, out, _ = run(capsys, "runs", "--ledger", ledger_path)
    assert rc == 0 and a["run_id"] in out and b["run_id"] in out


# -- 4. bad input ----------------------------------------------------------------------------
BASE = ("--tickers", "A", "--hedge", "H", "--rebalance", "5", "--window", "20")


def _without_tickers(argv: tuple) -> tuple:
    i = argv.index("--tickers")
    return argv[:i] + argv[i + 2 :]


BAD = {
    "exposure-range": (("--exposure", "1:2"), ["--exposure", "1:2"]),
    "rebalance-zero": (("--rebalance", "0"), ["--rebalance", ">= 1"]),
    "window-too-small": (("--window", "1"), ["--window", ">= 2"]),
    "cost-too-high": (("--cost", "0.5"), ["--cost", "[0, 0.1]"]),
    "unknown-ticker": (("--tickers", "A,ZZZ"), ["ZZZ", "unknown ticker"]),
    "hedge-in-legs": (("--tickers", "A,H"), ["--hedge", "H"]),
    "blocks-odd": (("--blocks", "7"), ["--blocks", "7", "even"]),
    "walk-forward-high": (("--walk-forward", "0.95"), ["--walk-forward", "0.95"]),
    "estimator": (("--estimator", "ols,garch"), ["--estimator", "garch"]),
    "halflife-without-ewma": (("--halflife", "5"), ["--halflife", "--estimator"]),
    "basket-named-as-hedge": (("--tickers", "H=A+B"), ["--hedge", "H"]),
    "resume-with-grid-flags": (("--resume", "last"), ["--resume", "drop", "--tickers", "--window"]),
    "resume-with-keep": (("--resume", "last", "--keep", "all"), ["--resume", "drop", "--keep"]),
    "keep-unknown": (("--keep", "some"), ["--keep", "'some'"]),
    "plan-with-detach": (("--plan", "--detach"), ["--plan", "drop --detach"]),
    # one cap per axis for the command line and the config (core.levels.MAX_LEVELS)
    "exposure-range-too-long": (("--exposure", "0.1:2:1000000000"), ["--exposure", "2..10000"]),
    "exposure-list-too-long": (
        ("--exposure", ",".join(f"{0.001 * i:.3f}" for i in range(1, 10_002))),
        ["--exposure", "10,001 values; at most 10,000 per axis"],
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_exits_2_naming_the_flag(case, capsys, prices, ledger_path):
    extra, needles = BAD[case]
    err = one_error_line(
        *run(
            capsys,
            "sweep",
            "--data",
            prices,
            *BASE,
            *extra,
            "--backend",
            "cpu",
            "--ledger",
            ledger_path,
        )
    )
    for needle in needles:
        assert needle in err, (needle, err)
    if ledger_path.exists():
        with Ledger(ledger_path) as ledger:
            assert ledger.runs() == []  # nothing was recorded


def test_missing_tickers_exits_2(capsys, prices, ledger_path):
    err = one_error_line(
        *run(
            capsys,
            "sweep",
            "--data",
            prices,
            *_without_tickers(BASE),
            "--backend",
            "cpu",
            "--ledger",
            ledger_path,
        )
    )
    assert "--tickers" in err


def test_backend_gpu_without_a_gpu_says_why(capsys, prices, ledger_path):
    from hedgedesk.core.sweep.gpu import gpu_status

    ok, why = gpu_status()
    if ok:
        pytest.skip("this machine has a usable GPU")
    err = one_error_line(
        *run(capsys, "sweep", "--data", prices, *BASE, "--backend", "gpu", "--ledger", ledger_path)
    )
    assert "--backend gpu" in err and why in err


# -- 5. --detach -----------------------------------------------------------------------------
def test_detach_runs_in_its_own_session(tmp_path, prices, ledger_path):
    t0 = time.monotonic()
    parent = cli_process(
        "sweep",
        "--data",
        prices,
        "--tickers",
        "A,B",
        "--hedge",
        "H",
        "--rebalance",
        "1:20:20",
        "--window",
        "20,40,60",
        "--estimator",
        "ols,ewma",
        "--exposure",
        "0.5:1.5:20",
        "--hedge-ratio",
        "0.5,0.75,1",
        "--cost",
        "0,0.001",
        "--backend",
        "cpu",
        "--ledger",
        ledger_path,
        "--detach",
        "--json",
    )
    out, err = parent.communicate(timeout=60)
    took = time.monotonic() - t0
    assert parent.returncode == 0, err
    info = json.loads(out)
    assert took < 30, took
    run_id, pid = info["run_id"], info["pid"]
    assert Path(info["log"]).parent == ledger_path.parent / "runs"
    try:
        sid = os.getsid(pid)
    except ProcessLookupError:
        sid = None  # already finished
    if sid is not None:
        assert sid != os.getsid(0) and sid == pid  # a session of its own: SIGHUP won't reach it
    with Ledger(ledger_path) as ledger:
        assert ledger.get(run_id).pid == pid
        rec = wait_for(lambda: (r := ledger.get(run_id)).status != "running" and r, 60)
    assert rec and rec.status == "done", (rec, Path(info["log"]).read_text())
    assert rec.n_done == rec.n_configs == 2 * 20 * 3 * 2 * 20 * 3 * 2


def test_a_detached_sweep_never_imports_a_planted_module(tmp_path, prices, ledger_path):
    """Started from a folder holding a ``hedgedesk`` package of someone else's, the detached
    child still runs the installed hedgedesk (``python -P``: the folder is not on sys.path).
    """
    planted = tmp_path / "shared"
    pkg = planted / "hedgedesk" / "tui" / "cli"
    pkg.mkdir(parents=True)
    for folder in (planted / "hedgedesk", planted / "hedgedesk" / "tui", pkg):
        (folder / "__init__.py").write_text("")
    marker = planted / "planted-code-ran"
    (pkg / "__main__.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    script = Path(sys.executable).parent / "hedgedesk"  # the console script, as a user runs it
    argv = ["sweep", "--data", prices, "--tickers", "A", "--hedge", "H", "--rebalance", "5"]
    argv += ["--window", "20", "--backend", "cpu", "--ledger", ledger_path, "--detach", "--json"]
    parent = subprocess.run(
        [str(script), *map(str, argv)], cwd=planted, capture_output=True, text=True, timeout=120
    )
    assert parent.returncode == 0, parent.stderr
    run_id = json.loads(parent.stdout)["run_id"]
    with Ledger(ledger_path) as ledger:
        rec = wait_for(lambda: (r := ledger.get(run_id)).status != "running" and r, 60)
    assert rec and rec.status == "done"
    assert not marker.exists()


# -- 6. cancel and resume --------------------------------------------------------------------
class _SlowCpu(CpuBackend):
    def run(self, row0, count, rows=None):
        time.sleep(0.2)  # chunks are sized to ~0.2 s: with this they stay small
        return super().run(row0, count, rows)


def test_resume_a_cancelled_run(capsys, prices, ledger_path):
    grid = Grid(
        legs=(Leg("A", ("A",)), Leg("B", ("B",))),
        hedge="H",
        rebalance=(1, 3, 5, 10),
        window=(20, 40, 60),
        exposure=tuple(np.linspace(0.5, 1.5, 8).tolist()),
        hedge_ratio=(0.5, 1.0),
        cost=(0.0, 0.002),
    )
    request = SweepRequest(grid, backend="cpu", top=5, data=(str(prices),))
    cancel = threading.Event()
    with Ledger(ledger_path) as ledger:
        gen = run_sweep(request, load_paths([prices]), ledger, cancel=cancel, backend=_SlowCpu())
        while next(gen).done == 0:  # past the unhedged twins
            pass
        cancel.set()
        for _ in gen:
            pass
        run_id = ledger.runs()[0].id
        rec = ledger.get(run_id)
        assert rec.status == "cancelled" and 0 < rec.n_done < grid.n_rows

    shown = run_json(capsys, "runs", "show", run_id, "--ledger", ledger_path)
    assert shown["status"] == "cancelled" and shown["parquet"] is None

    changed = write_prices(prices.parent.parent / "changed" / "prices.csv", seed=4)
    err = one_error_line(
        *run(capsys, "sweep", "--resume", run_id, "--data", changed, "--ledger", ledger_path)
    )
    assert run_id in err and "fingerprint" in err

    s = run_json(capsys, "sweep", "--resume", run_id, "--ledger", ledger_path)
    assert s["run_id"] == run_id and s["status"] == "done"
    assert s["counts"]["done"] == grid.n_rows
    whole = None
    gen = run_sweep(request, load_paths([prices]))
    while whole is None:
        try:
            next(gen)
        except StopIteration as stop:
            whole = stop.value
    for got, want in zip(s["top"], whole.summary.top, strict=True):
        for key in ("row", "ticker", "score", "sharpe", "annual_return", "max_drawdown", "dsr"):
            assert got[key] == getattr(want, key), key
    with Ledger(ledger_path) as ledger:
        rec = ledger.get(run_id)
        assert rec.status == "done" and rec.resumed == 1 and rec.n_done == grid.n_rows

    err = one_error_line(*run(capsys, "sweep", "--resume", run_id, "--ledger", ledger_path))
    assert "already done" in err


def test_a_resumed_run_prints_its_plan_and_skips_the_limits(capsys, prices, ledger_path, tmp_path):
    """The run was accepted when it started: a resume over today's limits still runs."""
    grid = Grid(
        legs=(Leg("A", ("A",)),),
        hedge="H",
        rebalance=(1, 3, 5, 10),
        window=(20, 40, 60),
        exposure=tuple(np.linspace(0.5, 1.5, 8).tolist()),
        hedge_ratio=(0.5, 1.0),
        cost=(0.0, 0.002),
    )
    request = SweepRequest(grid, backend="cpu", data=(str(prices),))
    cancel = threading.Event()
    with Ledger(ledger_path) as ledger:
        gen = run_sweep(request, load_paths([prices]), ledger, cancel=cancel, backend=_SlowCpu())
        while next(gen).done == 0:
            pass
        cancel.set()
        for _ in gen:
            pass
        run_id = ledger.runs()[0].id
    tight = write_config(tmp_path, "[sweep.limits]\nconfigurations = 1\n")
    rc, out, err = run(
        capsys, "sweep", "--resume", run_id, "--ledger", ledger_path, "--config", tight
    )
    assert rc == 0, err
    assert f"run {run_id}: done" in out
    assert "estimated time" in err and "384 (limit 1)" in err


def test_ctrl_c_cancels_and_the_cli_resumes(tmp_path, prices, ledger_path):
    """A real process: the first SIGINT finishes the chunk, keeps the results and says how to
    resume; ``--resume`` then finishes the run.
    """
    proc = cli_process(
        "sweep",
        "--data",
        prices,
        "--tickers",
        "A,B",
        "--hedge",
        "H",
        "--rebalance",
        "1:20:20",
        "--window",
        "20,30,40,50,60,80",
        "--estimator",
        "ols,ewma",
        "--exposure",
        "0.5:1.5:10",
        "--hedge-ratio",
        "0.5,0.75,1",
        "--drift-band",
        "0,0.02",
        "--cost",
        "0,0.001",
        "--backend",
        "cpu",
        "--walk-forward",
        "0",
        "--ledger",
        ledger_path,
        "--json",
    )
    try:

        def started():
            if not ledger_path.exists():
                return None
            with Ledger(ledger_path) as ledger:
                runs = ledger.runs()
                return runs[0].id if runs and runs[0].n_done > 0 else None

        run_id = wait_for(started, 30, every=0.02)
        assert run_id, proc.stderr.read() if proc.poll() is not None else "no run"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    s = json.loads(out)
    assert s["status"] == "cancelled" and s["run_id"] == run_id
    assert f"--resume {run_id}" in err and "Traceback" not in err
    with Ledger(ledger_path) as ledger:
        rec = ledger.get(run_id)
        assert rec.status == "cancelled" and 0 < rec.n_done < rec.n_configs

    done = cli_process("sweep", "--resume", run_id, "--ledger", ledger_path, "--json")
    out, err = done.communicate(timeout=120)
    assert done.returncode == 0, err
    s = json.loads(out)
    assert s["status"] == "done" and s["counts"]["done"] == rec.n_configs


def test_a_sweep_on_a_folder_reads_only_its_legs_and_hedge(capsys, tmp_path, monkeypatch):
    """One file per ticker in a folder, one of them unused: the sweep opens its legs' and its
    hedge's files only, and its leaderboard equals the run on the file of those three.
    """
    import pandas as pd

    import hedgedesk.core.data.price_files as price_files

    wide = pd.read_csv(write_prices(tmp_path / "wide.csv"))
    folder = tmp_path / "prices"
    folder.mkdir()
    for ticker in ("A", "B", "H"):
        wide[["Date", ticker]].rename(columns={ticker: "Close"}).to_csv(
            folder / f"{ticker}.csv", index=False
        )
    wide[["Date", "A"]].rename(columns={"A": "Close"}).to_csv(folder / "UNUSED.csv", index=False)
    opened: list[str] = []
    real = price_files.read_file
    monkeypatch.setattr(
        price_files,
        "read_file",
        lambda p, yields=price_files.NO_YIELDS: opened.append(p.name) or real(p, yields),
    )
    ledger = tmp_path / "runs.sqlite"
    lazy = run_json(capsys, "sweep", "--data", folder, *GRID_ARGS, "--ledger", ledger)
    assert sorted(opened) == ["A.csv", "B.csv", "H.csv"]
    whole = run_json(
        capsys, "sweep", "--data", tmp_path / "wide.csv", *GRID_ARGS, "--ledger", ledger
    )
    assert lazy["top"] == whole["top"]


def test_runs_rm_and_prune(capsys, prices, ledger_path):
    common = ("sweep", "--data", prices, "--tickers", "A", "--hedge", "H", "--rebalance", "5")
    common += ("--window", "20,60", "--backend", "cpu", "--ledger", ledger_path)
    a, b = (
        run_json(capsys, *common, "--cost", c, "--keep", "all")["run_id"] for c in ("0", "0.001")
    )
    table = Path(run_json(capsys, "runs", "show", a, "--ledger", ledger_path)["parquet"])
    assert table.is_dir()
    assert run_json(capsys, "runs", "rm", a, "--ledger", ledger_path)["removed"] == [a]
    assert not table.exists()
    listed = run_json(capsys, "runs", "--ledger", ledger_path)["runs"]
    assert [r["run_id"] for r in listed] == [b]
    # a run written just now is younger than a day; --older-than 0 takes every finished run
    pruned = run_json(capsys, "runs", "prune", "--older-than", "1", "--ledger", ledger_path)
    assert pruned["removed"] == [] and pruned["conventions"]
    pruned = run_json(capsys, "runs", "prune", "--older-than", "0", "--ledger", ledger_path)
    assert pruned["removed"] == [b] and pruned["conventions"]
    rc, _, err = run(capsys, "runs", "prune", "--ledger", ledger_path)
    assert rc == 2 and "give --older-than DAYS" in err
    rc, _, err = run(capsys, "runs", "rm", a, "--ledger", ledger_path)
    assert rc == 2 and "no such run" in err


# -- 7. the plan, its limits, --yes, --plan and --keep -----------------------------------------
def write_config(tmp_path: Path, tail: str = "", **sweep: str) -> Path:
    """The demo config with ``[sweep]`` keys set (TOML literals) and ``tail`` appended."""
    from hedgedesk.core.demo import demo_config_path

    text = demo_config_path().read_text(encoding="utf-8")
    lines = text.split("\n")
    head = lines.index("[sweep]")
    keep = [ln for ln in lines[head + 1 :] if ln.split("=")[0].strip() not in sweep]
    lines[head + 1 :] = [f"{k} = {v}" for k, v in sweep.items()] + keep
    path = tmp_path / "desk.toml"
    path.write_text("\n".join(lines) + "\n" + tail, encoding="utf-8")
    return path


def _no_runs(ledger_path: Path) -> bool:
    if not ledger_path.exists():
        return True
    with Ledger(ledger_path) as ledger:
        return ledger.runs() == []


def test_the_plan_comes_first_and_in_the_json(capsys, prices, ledger_path):
    s = run_json(capsys, "sweep", "--data", prices, *GRID_ARGS, "--ledger", ledger_path)
    p = s["plan"]
    assert p["configurations"] == 192 == s["counts"]["configurations"]
    assert (p["legs"], p["strategies_per_leg"], p["scenarios"]) == (2, 48, 2)
    assert (p["backend"], p["keep"], p["exceeded"]) == ("cpu", "best", [])
    assert p["device"] == s["backend"]["device"]
    rate = p["calibration"]["config_days_per_s"]
    assert rate > 0 and math.isfinite(rate) and p["estimated_seconds"] > 0
    assert p["peak_memory_bytes"] > 0 and p["ledger_bytes"] > 0 and p["keep_bytes"] is None
    assert p["limits"] == {
        "configurations": 20_000_000,
        "seconds": 1800.0,
        "memory_gb": 2.0,
        "disk_gb": 2.0,
    }
    with Ledger(ledger_path) as ledger:
        assert p["config_days"] == ledger.get(s["run_id"]).config_days

    rc, out, err = run(capsys, "sweep", "--data", prices, *GRID_ARGS, "--ledger", ledger_path)
    assert rc == 0, err
    labels = [line.split()[0] for line in err.splitlines()[:7]]
    assert labels == ["plan", "configurations", "config-days", "backend", "calibration",
                      "estimated", "peak"]  # fmt: skip
    assert "192 (limit 20,000,000)" in err and out.startswith("run ")


def test_a_plan_above_a_limit_exits_2_unless_yes(capsys, prices, ledger_path, tmp_path):
    config = write_config(tmp_path, "[sweep.limits]\nconfigurations = 10\nseconds = 1e9\n")
    argv = ("sweep", "--data", prices, "--config", config, *GRID_ARGS, "--ledger", ledger_path)
    rc, out, err = run(capsys, *argv, "--json")
    assert rc == 2
    refused = json.loads(out)
    assert set(refused) == {"plan", "error", "conventions"}
    n = refused["plan"]["configurations"]
    figure = f"{n:,} configurations exceed sweep.limits.configurations (10)"
    assert refused["plan"]["exceeded"] == [figure]
    line = f"{figure}: pass --yes to run it anyway, or raise sweep.limits.configurations"
    assert refused["error"] == line
    assert err == f"hedgedesk: error: {line}\n"
    rc, out, err = run(capsys, *argv)
    assert rc == 2 and out == ""
    assert err.splitlines()[-1] == f"hedgedesk: error: {line}"
    assert f"{n:,} (limit 10)" in err  # the plan, then why it was refused
    assert _no_runs(ledger_path)

    s = run_json(capsys, *argv, "--yes")
    assert s["status"] == "done" and s["counts"]["configurations"] == n
    assert s["plan"]["exceeded"] == [figure]
    with Ledger(ledger_path) as ledger:
        assert [r.id for r in ledger.runs()] == [s["run_id"]]


def test_every_exceeded_figure_gets_its_own_line(capsys, prices, ledger_path, tmp_path):
    limits = "configurations = 10\nseconds = 1e-9\nmemory_gb = 1e-9\ndisk_gb = 1e-12\n"
    config = write_config(tmp_path, "[sweep.limits]\n" + limits)
    argv = ("sweep", "--data", prices, "--config", config, *GRID_ARGS, "--ledger", ledger_path)
    rc, out, err = run(capsys, *argv)
    assert rc == 2 and out == ""
    errors = [ln for ln in err.splitlines() if ln.startswith("hedgedesk: error: ")]
    assert len(errors) == 4
    for line, key in zip(
        errors, ("configurations", "seconds", "memory_gb", "disk_gb"), strict=True
    ):
        assert f" sweep.limits.{key} (" in line
        assert line.endswith(f": pass --yes to run it anyway, or raise sweep.limits.{key}")
    assert _no_runs(ledger_path)


def test_plan_prints_the_plan_and_runs_nothing(capsys, prices, ledger_path, tmp_path):
    rc, out, err = run(
        capsys, "sweep", "--data", prices, *GRID_ARGS, "--ledger", ledger_path, "--plan"
    )
    assert rc == 0, err
    assert out.startswith("plan ") and "192 (limit 20,000,000)" in out
    config = write_config(tmp_path, "[sweep.limits]\nconfigurations = 10\n")
    obj = run_json(
        capsys,
        "sweep",
        "--data",
        prices,
        "--config",
        config,
        *GRID_ARGS,
        "--ledger",
        ledger_path,
        "--plan",
    )
    assert set(obj) == {"plan", "conventions"} and len(obj["plan"]["exceeded"]) == 1  # shown
    assert _no_runs(ledger_path)


def test_keep_all_from_the_flag_or_the_config_is_recorded(capsys, prices, ledger_path, tmp_path):
    s = run_json(
        capsys, "sweep", "--data", prices, *GRID_ARGS, "--ledger", ledger_path, "--keep", "all"
    )
    assert s["plan"]["keep"] == "all" and s["plan"]["keep_bytes"] > 0
    shown = run_json(capsys, "runs", "show", s["run_id"], "--ledger", ledger_path)
    assert shown["params"]["keep"] == "all"
    config = write_config(tmp_path, keep='"all"')
    argv = ("sweep", "--data", prices, "--config", config, *GRID_ARGS, "--ledger", ledger_path)
    assert run_json(capsys, *argv, "--plan")["plan"]["keep"] == "all"
    assert run_json(capsys, *argv, "--plan", "--keep", "best")["plan"]["keep"] == "best"
    bad = write_config(tmp_path, keep='"some"')
    err = one_error_line(*run(capsys, "sweep", "--data", prices, "--config", bad, *GRID_ARGS))
    assert "sweep.keep" in err and "'some'" in err


@pytest.mark.parametrize(
    ("sweep", "tail", "key"),
    [
        ({"exposure": '"0.1:2:1000000000"'}, "", "sweep.exposure"),
        ({}, "[sweep.limits]\nseconds = -1\n", "sweep.limits.seconds"),
        ({}, "[sweep.limits]\ndisk = 1\n", "sweep.limits.disk"),
    ],
)
def test_a_bad_config_value_exits_2_naming_its_key(
    capsys, prices, ledger_path, tmp_path, sweep, tail, key
):
    config = write_config(tmp_path, tail, **sweep)
    err = one_error_line(
        *run(capsys, "sweep", "--data", prices, "--config", config, *BASE, "--ledger", ledger_path)
    )
    assert f"{config}: {key}: " in err
    assert _no_runs(ledger_path)

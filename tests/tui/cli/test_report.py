"""``hedgedesk report`` end to end, in-process (``hedgedesk.tui.cli.main.main``) on the demo desk.
Each report
costs seconds, so the cases are few; the report's contents are checked against the engine in
tests/core/report/test_report.py. Witnesses here: ``hedgedesk.core.sweep.backtest.run_backtest``
called directly, the
run ledger read back, the files on disk.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from hedgedesk.core.config import load_config, resolve_config_path
from hedgedesk.core.data.sources import load_market
from hedgedesk.core.sweep.backtest import desk_defaults, run_backtest
from hedgedesk.core.sweep.ledger import Ledger
from tests.tui.cli.test_sweep import run, run_json

PARAMETER_LABELS = {
    "long": "long leg",
    "hedge": "hedge",
    "rebalance": "P: rebalance every (days)",
    "window": "W: beta window (returns)",
    "exposure": "k: exposure",
    "hedge_ratio": "h: hedge ratio",
}


def assert_one_error_line(rc: int, out: str, err: str) -> str:
    assert rc == 2, (rc, out, err)
    assert out == ""
    assert err.startswith("hedgedesk: error: ")
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def backtest_parameters(out_dir: Path) -> dict:
    """The backtest's parameters table from report.json (raw values, not as printed)."""
    doc = json.loads((out_dir / "report.json").read_text())
    rows = doc["sections"]["backtest"]["tables"]["backtest_parameters"]
    return {r["parameter"]: r["value"] for r in rows}


def test_report_of_the_book_and_a_backtest(tmp_path, capsys):
    out_dir = tmp_path / "rep"
    obj = run_json(capsys, "report", "--out", out_dir, "--what", "book,backtest")
    assert obj["what"] == ["book", "backtest"] and obj["sections"] == ["book", "backtest"]
    assert Path(obj["out"]) == out_dir
    files = {k: Path(v) for k, v in obj["files"].items()}
    assert {"markdown", "pdf", "json", "chart:book_allocation", "chart:backtest_equity"} <= set(
        files
    )
    assert not any(k.startswith("chart:optimize") for k in files)
    for key, path in files.items():
        assert path.parent == out_dir and path.is_file() and path.stat().st_size > 0, key
    assert files["pdf"].read_bytes().startswith(b"%PDF-")
    md = files["markdown"].read_text()
    cfg = load_config(resolve_config_path())
    assert f"\n## Book: {cfg.book.name}\n" in md
    assert "\n## Backtest: AAPL hedged with SP500\n" in md and "## Optimisation" not in md
    doc = json.loads(files["json"].read_text())
    assert list(doc["sections"]) == ["book", "backtest"]
    # the desk's default backtest, as the screen starts it
    defaults = desk_defaults(cfg)
    shown = backtest_parameters(out_dir)
    assert shown["long leg"] == ", ".join(defaults["long"]) == "AAPL"
    assert shown[PARAMETER_LABELS["rebalance"]] == defaults["rebalance"] == 5
    assert shown[PARAMETER_LABELS["window"]] == defaults["window"] == 60


def test_backtest_flags_reach_the_report(tmp_path, capsys):
    out_dir = tmp_path / "rep"
    obj = run_json(
        capsys,
        "report",
        "--out",
        out_dir,
        "--what",
        "backtest",
        "--rebalance",
        "21",
        "--window",
        "120",
        "--long",
        "MSFT",
    )
    assert obj["sections"] == ["backtest"]
    cfg = load_config(resolve_config_path())
    defaults = desk_defaults(cfg)
    assert (defaults["long"], defaults["rebalance"], defaults["window"]) != (["MSFT"], 21, 120)
    shown = backtest_parameters(out_dir)
    assert shown[PARAMETER_LABELS["long"]] == "MSFT"
    assert shown[PARAMETER_LABELS["rebalance"]] == 21
    assert shown[PARAMETER_LABELS["window"]] == 120
    # what no flag named stays the desk's default
    assert shown[PARAMETER_LABELS["hedge"]] == defaults["hedge"] == cfg.data.benchmark
    assert shown[PARAMETER_LABELS["exposure"]] == defaults["exposure"]
    assert shown[PARAMETER_LABELS["hedge_ratio"]] == defaults["hedge_ratio"]
    md = (out_dir / "report.md").read_text()
    assert "\n## Backtest: MSFT hedged with SP500\n" in md
    assert "\n| P: rebalance every (days) | 21 |\n| W: beta window (returns) | 120 |\n" in md
    assert "over the 120 returns up to the rebalance day" in md
    # the figures are the engine's for those parameters
    res = run_backtest(
        load_market(cfg),
        long=["MSFT"],
        hedge=cfg.data.benchmark,
        rebalance=21,
        window=120,
        rf=cfg.risk.rf,
        start=cfg.data.start,
        end=cfg.data.end,
    )
    figures = json.loads((out_dir / "report.json").read_text())["sections"]["backtest"]["figures"]
    assert figures["metrics"]["sharpe"] == pytest.approx(res.metrics["sharpe"], rel=1e-12)
    assert len(figures["rebalances"]) == len(res.rebalances)


def test_unknown_sweep_run_is_one_error_line(tmp_path, capsys):
    out_dir = tmp_path / "rep"
    rc, out, err = run(
        capsys,
        "report",
        "--out",
        out_dir,
        "--what",
        "sweep:nope",
        "--ledger",
        tmp_path / "runs.sqlite",
    )
    err = assert_one_error_line(rc, out, err)
    assert "'nope'" in err and "no such run" in err
    assert not (out_dir / "report.md").exists()


@pytest.mark.parametrize(
    "what, words",
    [
        ("bogus", ["unknown part 'bogus'"]),
        ("book,book", ["listed twice: book"]),
        ("sweep", ["name the run"]),
    ],
)
def test_bad_what_is_one_error_line(tmp_path, capsys, what, words):
    rc, out, err = run(capsys, "report", "--out", tmp_path / "rep", "--what", what)
    err = assert_one_error_line(rc, out, err)
    assert "--what" in err
    for w in words:
        assert w in err
    assert not (tmp_path / "rep").exists()


def test_report_of_the_last_sweep_run_needs_no_market(tmp_path, capsys, monkeypatch):
    db = tmp_path / "runs.sqlite"
    summary = run_json(
        capsys,
        "sweep",
        "--ledger",
        db,
        "--tickers",
        "AAPL,MSFT",
        "--hedge",
        "SP500",
        "--rebalance",
        "5,21",
        "--window",
        "20,60",
        "--hedge-ratio",
        "0.5,1",
        "--backend",
        "cpu",
        "--top",
        "3",
    )
    run_id = summary["run_id"]

    def no_market(*args, **kwargs):
        raise AssertionError("a sweep report loaded market data")

    monkeypatch.setattr("hedgedesk.core.data.sources.load_market", no_market)
    out_dir = tmp_path / "rep"
    obj = run_json(capsys, "report", "--out", out_dir, "--what", "sweep:last", "--ledger", db)
    assert obj["what"] == ["sweep:last"] and obj["sections"] == [f"sweep:{run_id}"]
    md = (out_dir / "report.md").read_text()
    assert [line for line in md.splitlines() if line.startswith("## ")] == [
        "## Parameters",
        f"## Sweep run {run_id}",
    ]
    with Ledger(db) as ledger:
        top = ledger.get(run_id).summary.top
    assert len(top) == 3 and f"| 1 | {top[0].ticker} | {top[0].rebalance} |" in md
    doc = json.loads((out_dir / "report.json").read_text())
    assert "data fingerprint" not in doc["parameters"]
    assert doc["parameters"]["parts"] == "sweep:last"
    charts = [k for k in obj["files"] if k.startswith("chart:")]
    assert charts and all(run_id in k for k in charts)


def _small_sweep(capsys, ledger, *extra) -> str:
    return run_json(
        capsys,
        "sweep",
        "--ledger",
        ledger,
        "--tickers",
        "AAPL",
        "--hedge",
        "SP500",
        "--rebalance",
        "5,21",
        "--window",
        "20,60",
        "--backend",
        "cpu",
        *extra,
    )["run_id"]


def test_a_relative_ledger_keeps_its_table_findable_from_any_folder(tmp_path, capsys, monkeypatch):
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    run_id = _small_sweep(capsys, "runs.sqlite", "--keep", "all")
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "work" / "runs.sqlite"
    with Ledger(db) as ledger:
        assert Path(ledger.get(run_id).parquet) == tmp_path / "work" / "runs" / run_id
    run_json(capsys, "report", "--out", "rep", "--what", f"sweep:{run_id}", "--ledger", db)
    assert "medians over every configuration" in (tmp_path / "rep" / "report.md").read_text()


def test_a_report_of_a_run_whose_table_is_gone_is_one_error_line(tmp_path, capsys):
    db = tmp_path / "runs.sqlite"
    run_id = _small_sweep(capsys, db, "--keep", "all")
    table = tmp_path / "runs" / run_id
    for part in table.iterdir():
        part.unlink()
    table.rmdir()
    rc, out, err = run(
        capsys, "report", "--out", tmp_path / "rep", "--what", f"sweep:{run_id}", "--ledger", db
    )
    err = assert_one_error_line(rc, out, err)
    assert run_id in err and str(table) in err and "is missing" in err
    assert not (tmp_path / "rep").exists()


@pytest.mark.parametrize("case", ["a file", "under a file", "report.md a folder", "read-only"])
def test_an_out_folder_that_cannot_take_the_report_is_refused_before_the_work(
    tmp_path, capsys, monkeypatch, case
):
    out = tmp_path / "rep"
    if case == "a file":
        out.write_text("mine")
        words = "is a file; expected a folder"
    elif case == "under a file":
        (tmp_path / "f").write_text("mine")
        out = tmp_path / "f" / "rep"
        words = f"{tmp_path / 'f'} is a file"
    elif case == "report.md a folder":
        (out / "report.md").mkdir(parents=True)
        words = "report.md is a folder; expected a file"
    else:
        out.mkdir()
        monkeypatch.setattr("os.access", lambda path, mode: False)  # as a non-root user sees it
        words = "is not writable (permission denied)"

    def no_work(*args, **kwargs):
        raise AssertionError("the report was built before its folder was checked")

    monkeypatch.setattr("hedgedesk.core.report.build_report", no_work)
    rc, stdout, err = run(capsys, "report", "--out", out, "--what", "book")
    err = assert_one_error_line(rc, stdout, err)
    assert f"report folder {out}" in err and words in err
    assert all(f.read_text() == "mine" for f in (tmp_path / "f", out) if f.is_file())


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_reports_and_run_tables_follow_the_umask_like_the_ledger(tmp_path, capsys, mask):
    """No file mode of our own: the ledger (SQLite), the run's Parquet parts and every report
    file get 0666 & ~umask (they were 0600 from the temporary files before).
    """
    import stat

    saved = os.umask(mask)
    try:
        db = tmp_path / "runs.sqlite"
        run_id = _small_sweep(capsys, db, "--keep", "all")
        out = tmp_path / "rep"
        run_json(capsys, "report", "--out", out, "--what", f"sweep:{run_id}", "--ledger", db)
    finally:
        os.umask(saved)
    files = [db, *(tmp_path / "runs" / run_id).iterdir(), *out.iterdir()]
    assert len(files) > 5
    modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in files}
    assert set(modes.values()) == {0o666 & ~mask}, modes  # (SQLite's 0644 & ~umask alike)


def _price_folder(folder: Path) -> Path:
    """Two series of 300 business days written as Date,Close files (a run on its own data)."""
    import numpy as np
    import pandas as pd

    folder.mkdir()
    days = pd.bdate_range("2021-03-01", periods=300)
    rng = np.random.default_rng(5)
    m = rng.normal(0.0004, 0.01, 300)
    for name, r in (("IDX", m), ("AAA", 1.2 * m + rng.normal(0, 0.01, 300))):
        frame = pd.DataFrame({"Close": 100 * np.cumprod(1 + r)}, index=days)
        frame.rename_axis("Date").to_csv(folder / f"{name}.csv")
    return folder


def test_a_sweep_report_is_titled_from_its_run_not_the_demo_book(tmp_path, capsys):
    """A run on its own --data files: the title names its legs, hedge, span and data; the
    config's book (the demo's "Demo core book, hedged") appears nowhere.
    """
    data, db = _price_folder(tmp_path / "px"), tmp_path / "runs.sqlite"
    summary = run_json(
        capsys,
        "sweep",
        "--ledger",
        db,
        "--data",
        data,
        "--tickers",
        "AAA",
        "--hedge",
        "IDX",
        "--rebalance",
        "5,21",
        "--window",
        "20,60",
        "--backend",
        "cpu",
    )
    run_id = summary["run_id"]
    with Ledger(db) as ledger:
        leg = ledger.get(run_id).summary.legs[0]
    out_dir = tmp_path / "rep"
    obj = run_json(capsys, "report", "--out", out_dir, "--what", "sweep:last", "--ledger", db)
    want = (
        f"hedgedesk report: sweep run {run_id}: AAA hedged with IDX, "
        f"{leg.first_return}..{leg.last_return}, data px"
    )
    assert obj["title"] == want
    md = (out_dir / "report.md").read_text()
    assert md.startswith(f"# {want}\n")
    doc = json.loads((out_dir / "report.json").read_text())
    assert doc["title"] == want and "book" not in doc["parameters"]
    assert not any("Demo core book" in text for text in (md, json.dumps(doc), obj["title"]))
    assert any("each run's own risk-free rate" in c for c in obj["conventions"])
    assert obj["conventions"] == doc["conventions"]


def test_a_book_report_is_titled_from_the_configs_book_name(tmp_path, capsys):
    from hedgedesk.core.demo import demo_config_path

    text = demo_config_path().read_text(encoding="utf-8")
    assert 'name = "Demo core book, hedged"' in text
    cfg = tmp_path / "desk.toml"
    cfg.write_text(text.replace('"Demo core book, hedged"', '"Rates desk, fund B"', 1))
    out_dir = tmp_path / "rep"
    obj = run_json(capsys, "report", "--config", cfg, "--out", out_dir, "--what", "book")
    assert obj["title"] == "hedgedesk report: Rates desk, fund B"
    assert (out_dir / "report.md").read_text().startswith("# hedgedesk report: Rates desk, fund B")
    doc = json.loads((out_dir / "report.json").read_text())
    assert doc["parameters"]["book"] == "Rates desk, fund B"
    assert obj["conventions"] == doc["conventions"] and obj["conventions"]


def test_optimisation_flags_reach_the_report_as_they_reach_optimize(tmp_path, capsys):
    """`report --max-weight/--objective` solve the same problem `optimize` does with those
    flags (its JSON is the witness), not the config's [optimizer].
    """
    flags = ("--objective", "min-variance", "--max-weight", "0.12", "--vol-cap", "0.3")
    want = run_json(capsys, "optimize", *flags)
    out_dir = tmp_path / "rep"
    run_json(capsys, "report", "--out", out_dir, "--what", "optimize", *flags)
    doc = json.loads((out_dir / "report.json").read_text())
    fig = doc["sections"]["optimize"]["figures"]
    assert max(fig["weights"].values()) <= 0.12 + 1e-6
    assert fig["volatility"] == pytest.approx(want["volatility"], abs=1e-7)
    for t, w in want["weights"].items():
        assert fig["weights"][t] == pytest.approx(w, abs=1e-5)
    md = (out_dir / "report.md").read_text()
    assert "## Optimisation: min-variance" in md and "weights in [0, 0.12]" in md


def test_a_bad_optimisation_flag_names_the_flag(tmp_path, capsys):
    rc, out, err = run(
        capsys, "report", "--out", tmp_path / "r", "--what", "optimize", "--max-weight", "-0.5"
    )
    err = assert_one_error_line(rc, out, err)
    assert "hedgedesk report: " in err and "--max-weight" in err

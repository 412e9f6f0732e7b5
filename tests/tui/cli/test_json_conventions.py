"""Every ``--json`` output carries its ``conventions`` (CONVENTIONS: a figure names its units and
definitions wherever it is printed).

The walk covers every command the parser registers: a command added without a case here fails
:func:`test_every_command_is_walked`. Each case runs in-process on the demo desk (a small sweep
in a ledger of its own for ``sweep``, ``runs`` and ``report``) and reads the one JSON object.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from hedgedesk.tui.cli.main import build_parser, main

SWEEP = ["--tickers", "AAPL", "--hedge", "SP500", "--rebalance", "5,21", "--window", "20,60"]
BACKTEST = ["--long", "AAPL", "--hedge", "SP500", "--rebalance", "5", "--window", "60"]


def run_json(capsys, *argv) -> dict:
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert rc == 0, err
    obj = json.loads(out)
    assert isinstance(obj, dict)
    return obj


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    """A ledger with two small finished runs (for show, diff, rm and report)."""
    return tmp_path_factory.mktemp("ledger") / "runs.sqlite"


def _sweep(capsys, ledger) -> dict:
    return run_json(capsys, "sweep", "--ledger", ledger, *SWEEP, "--backend", "cpu", "--json")


def _fetch(capsys, monkeypatch, tmp_path):
    days = pd.bdate_range("2024-01-02", periods=5)
    frame = pd.DataFrame(
        {("Close", "AAA"): [10.0, 10.5, 10.2, 10.8, 11.0], ("Volume", "AAA"): [1e3] * 5},
        index=days,
    )
    frame.columns = pd.MultiIndex.from_tuples(frame.columns)
    monkeypatch.setattr("hedgedesk.core.data.yahoo._yf_download", lambda t, s, e: frame)
    return run_json(capsys, "data", "fetch", "AAA", "--json")


# (command, action) -> how to run it; every registered command has a case
CASES = {
    ("data", "check"): lambda c, **_: run_json(c, "data", "check", "--json"),
    ("data", "fetch"): lambda c, monkeypatch, tmp_path, **_: _fetch(c, monkeypatch, tmp_path),
    ("config", "check"): lambda c, **_: run_json(c, "config", "check", "--json"),
    ("beta", None): lambda c, **_: run_json(
        c, "beta", "--asset", "B=AAPL+MSFT", "--benchmark", "SP500", "--json"
    ),
    ("risk", None): lambda c, **_: run_json(c, "risk", "--json"),
    ("greeks", None): lambda c, **_: run_json(
        c,
        "greeks",
        "--type",
        "call",
        "--spot",
        "100",
        "--strike",
        "100",
        "--days",
        "30",
        "--vol",
        "0.2",
        "--json",
    ),
    ("scenario", None): lambda c, **_: run_json(c, "scenario", "--json"),
    ("size", None): lambda c, **_: run_json(c, "size", "--instrument", "ES", "--json"),
    ("trades", None): lambda c, **_: run_json(c, "trades", "--json"),
    ("backtest", None): lambda c, **_: run_json(c, "backtest", *BACKTEST, "--json"),
    ("optimize", None): lambda c, **_: run_json(
        c, "optimize", "--objective", "hedge-overlay", "--json"
    ),
    ("sweep", None): lambda c, ledger, **_: _sweep(c, ledger),
    ("runs", None): lambda c, ledger, **_: run_json(c, "runs", "--ledger", ledger, "--json"),
    ("report", None): lambda c, ledger, tmp_path, **_: run_json(
        c, "report", "--out", tmp_path / "rep", "--what", "book", "--json"
    ),
}
# cluster local starts a Dask cluster and runs until Ctrl-C: not walked here
LONG_RUNNING = {("cluster", "local")}


def test_sweep_plan_and_every_runs_action_carry_conventions(capsys, tmp_path):
    ledger = tmp_path / "runs.sqlite"
    sweep = [*SWEEP, "--backend", "cpu", "--json"]
    plan = run_json(capsys, "sweep", "--ledger", ledger, *sweep, "--plan")
    assert set(plan) == {"plan", "conventions"} and "config-days" in plan["conventions"]
    a = run_json(capsys, "sweep", "--ledger", ledger, *sweep)["run_id"]
    b = run_json(capsys, "sweep", "--ledger", ledger, *sweep, "--hedge-ratio", "0.5")["run_id"]
    for argv in (["show", a], ["diff", a, b], ["rm", b]):
        out = run_json(capsys, "runs", *argv, "--ledger", ledger, "--json")
        assert out.get("conventions"), (argv, sorted(out))
    show = run_json(capsys, "runs", "show", a, "--ledger", ledger, "--json")
    assert "Sharpe" in show["conventions"] and show["run_id"] == a


CASES[("pnl", None)] = lambda c, **_: run_json(c, "pnl", "--json")  # issue 18: P&L


# issue 18, named what-ifs: each action on a copy of the demo desk with one what-if beside it
def _whatif_desk(tmp_path):
    from pathlib import Path

    from hedgedesk.core.book.edit import BookEditor
    from hedgedesk.core.book.whatifs import capture, save_whatif
    from hedgedesk.core.config import load_config
    from hedgedesk.core.demo import demo_config_path

    path = tmp_path / "desk.toml"
    path.write_text(Path(demo_config_path()).read_text())
    save_whatif(path, capture("w", BookEditor(load_config(path)).book_tables(), {"market": -0.1}))
    return path


def _whatif(c, tmp_path, *argv):
    return run_json(c, "whatif", *argv, "--config", _whatif_desk(tmp_path), "--json")


WHATIF_CASES = {
    ("whatif", "list"): lambda c, tmp_path, **_: _whatif(c, tmp_path, "list"),
    ("whatif", "show"): lambda c, tmp_path, **_: _whatif(c, tmp_path, "show", "w"),
    ("whatif", "compare"): lambda c, tmp_path, **_: _whatif(c, tmp_path, "compare"),
    ("whatif", "rm"): lambda c, tmp_path, **_: _whatif(c, tmp_path, "rm", "w"),
    ("whatif", "save-as"): lambda c, tmp_path, **_: _whatif(
        c, tmp_path, "save-as", "w", tmp_path / "new.toml"
    ),
}
CASES.update(WHATIF_CASES)


# issue 18, the trade ticket
CASES[("ticket", None)] = lambda c, **_: run_json(c, "ticket", "--weights", "none", "--json")


def test_ticket_json_carries_its_conventions(capsys):
    out = CASES[("ticket", None)](capsys)
    assert "historical VaR 95" in out["conventions"]


# issue 18, positions from a broker CSV: a preview of the generic fixture, nothing written
def _import(c, **_):
    from pathlib import Path

    fixture = Path(__file__).parents[2] / "core" / "book" / "fixtures" / "generic_demo.csv"
    return run_json(c, "import", fixture, "--map", "SPX=SP500", "--json")


CASES[("import", None)] = _import


def test_import_json_carries_its_conventions(capsys):
    out = CASES[("import", None)](capsys)
    assert "cost_basis USD per share" in out["conventions"] and out["written"] is None


def _vol_surface(c, tmp_path, **_):  # issue 18: options priced from the market
    from tests.core.book.test_vol_surface import chain_rows

    (tmp_path / "chain.csv").write_text("\n".join(chain_rows()), encoding="utf-8")
    return run_json(c, "vol", "surface", "--chain", tmp_path / "chain.csv", "--json")


CASES[("vol", "surface")] = _vol_surface


def test_vol_surface_json_carries_its_conventions(capsys, tmp_path):
    assert CASES[("vol", "surface")](capsys, tmp_path=tmp_path).get("conventions")


# every case above, the ones each issue appended included
def test_every_command_is_walked():
    _, commands = build_parser()
    assert set(commands) == set(CASES) | LONG_RUNNING


@pytest.mark.parametrize("key", list(CASES), ids=lambda k: " ".join(p for p in k if p))
def test_json_output_carries_its_conventions(key, capsys, monkeypatch, tmp_path, ledger):
    out = CASES[key](capsys, monkeypatch=monkeypatch, tmp_path=tmp_path, ledger=ledger)
    assert out.get("conventions"), sorted(out)

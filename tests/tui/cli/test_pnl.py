"""``hedgedesk pnl`` and the P&L / Greeks-by keys of ``hedgedesk risk`` (tui/cli/book.py), run
in-process through ``hedgedesk.tui.cli.main.main`` on the demo desk.

Witnesses: the demo's closes read here with pandas; the futures' P&L by its closed form, the
holdings' by quantity x the close's change; the groups' sums equal the positions' figures of
``risk --json`` itself; the figures equal core's (core/book/pnl.py is witnessed in
tests/core/book/test_pnl.py by closed-form BSM).
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from hedgedesk.core.demo import demo_dir
from hedgedesk.core.errors import DataError
from hedgedesk.tui.cli.main import main

ASOF, PREV = dt.date(2022, 12, 28), dt.date(2022, 12, 27)


def run(capsys, *argv: str) -> str:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    assert rc == 0, err
    return out


@pytest.fixture(scope="module")
def closes():
    frames = [
        pd.read_csv(demo_dir() / f, index_col=0, parse_dates=True)
        for f in ("sp500_dataset.csv.gz", "sp500_index.csv.gz")
    ]
    c = frames[0].join(frames[1], how="inner")
    return c.loc[pd.Timestamp(ASOF)], c.loc[pd.Timestamp(PREV)]


def test_pnl_json_against_the_closes(capsys, closes):
    c1, c0 = closes
    out = json.loads(run(capsys, "pnl", "--json"))
    assert (out["asof"], out["previous"], out["days"]) == (str(ASOF), str(PREV), 1)
    assert out["conventions"]["pnl_day"].startswith("full revaluation")
    by = {ln["name"]: ln for ln in out["lines"]}
    assert by["AAPL"]["day"] == pytest.approx(1500 * (c1["AAPL"] - c0["AAPL"]), rel=1e-12)
    assert by["AAPL"]["since_cost"] == pytest.approx(1500 * (c1["AAPL"] - 150.0), rel=1e-12)
    assert by["ES short"]["day"] == pytest.approx(-100 * (c1["SP500"] - c0["SP500"]), rel=1e-12)
    assert by["ES short"]["since_cost"] is None
    for ln in out["lines"]:
        a = ln["attribution"]
        assert sum(a.values()) == pytest.approx(ln["day"], abs=1e-9)
    core = [ln for ln in out["lines"] if not ln["hedge"]]
    assert out["core"]["day"] == pytest.approx(sum(ln["day"] for ln in core))
    assert out["book"]["day"] == pytest.approx(out["core"]["day"] + out["hedges"]["day"])
    assert out["hedges"]["since_cost"] is None


def test_pnl_text_prints_every_line_and_the_totals(capsys):
    out = run(capsys, "pnl")
    assert f"P&L from {PREV} to {ASOF}" in out
    for name in ("AAPL", "ES short", "SPX put 3400", "= core", "= hedges", "= book"):
        assert any(row.startswith(name) for row in out.splitlines()), name
    es = next(row for row in out.splitlines() if row.startswith("ES short"))
    assert "–" in es  # no cost basis for a hedge leg


def test_risk_json_gains_pnl_and_greeks_by(capsys):
    out = json.loads(run(capsys, "risk", "--json"))
    for key in ("asof", "nav", "beta", "greeks", "positions", "var", "risk", "alerts"):
        assert key in out  # every earlier key kept
    pnl = out["pnl"]
    assert (pnl["asof"], pnl["previous"]) == (str(ASOF), str(PREV))
    assert set(pnl) >= {"lines", "core", "hedges", "book"}
    assert set(pnl["book"]) == {"day", "since_cost", "delta", "gamma", "vega", "theta",
                                "unexplained"}  # fmt: skip
    positions = {p["name"]: p for p in out["positions"]}
    for key in ("greeks_by_underlying", "greeks_by_kind"):
        ex = out[key]
        for f in ("dollar_delta", "gamma_1pct_usd", "vega_1pt_usd", "theta_1d_usd"):
            assert sum(g[f] for g in ex["groups"]) == pytest.approx(out["greeks"][f], rel=1e-12)
        for g in ex["groups"]:
            assert g["beta_dollars"] == pytest.approx(
                sum(positions[n]["beta_dollars"] for n in g["lines"]), rel=1e-12
            )
        assert ex["total"]["beta_dollars"] / out["nav"] == pytest.approx(
            out["beta"]["portfolio"], rel=1e-12
        )
    sp = next(g for g in out["greeks_by_underlying"]["groups"] if g["key"] == "SP500")
    assert sp["benchmark_units"] == pytest.approx(
        sp["beta_dollars"] / positions["ES short"]["underlying_price"], rel=1e-12
    )
    assert {g["key"] for g in out["greeks_by_kind"]["groups"]} == {"equity", "future", "option"}
    conv = out["conventions"]
    assert "attribution" in conv["pnl"] and "benchmark_units" in conv["greeks_by"]


def test_risk_text_has_the_pnl_and_by_underlying_blocks(capsys):
    out = run(capsys, "risk")
    assert f"P&L {PREV} -> {ASOF} (today's positions): day " in out
    assert "explained: delta " in out and "unexplained" in out
    assert "by underlying" in out and "SP500 units" in out
    assert any(row.startswith("book ") for row in out.splitlines())


def test_risk_without_a_previous_session_reports_the_rest(capsys, monkeypatch):
    def refuse(*args, **kwargs):
        raise DataError("SP500", "no session before 2022-12-28: the day P&L needs it")

    monkeypatch.setattr("hedgedesk.core.book.pnl.previous_closes", refuse)
    out = json.loads(run(capsys, "risk", "--json"))
    assert out["pnl"] == {"error": "SP500: no session before 2022-12-28: the day P&L needs it"}
    assert out["greeks_by_underlying"]["groups"]
    text = run(capsys, "risk")
    assert "P&L explained: unavailable (SP500: no session before" in text
    rc = main(["pnl"])
    _, err = capsys.readouterr()
    assert rc == 2 and "no session before" in err

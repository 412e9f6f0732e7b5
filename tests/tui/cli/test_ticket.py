"""``hedgedesk ticket``: its JSON equals core's ticket, its CSV is the documented one, the
weights come from the config's optimiser, an objective or a file, and bad input is one line.
"""

from __future__ import annotations

import csv
import json

import pytest

from hedgedesk.core.book.ticket import CSV_HEADER, build_ticket, optimizer_weights
from hedgedesk.core.book.valuation import market_state
from hedgedesk.core.config import load_config
from hedgedesk.core.data.sources import load_market
from hedgedesk.core.demo import demo_config_path
from hedgedesk.tui.cli.main import main


def run_json(capsys, *argv) -> dict:
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert rc == 0, err
    return json.loads(out)


@pytest.fixture(scope="module")
def demo():
    cfg = load_config(demo_config_path())
    market = load_market(cfg)
    return cfg, market


def test_default_weights_are_the_configs_optimiser_and_rows_equal_core(capsys, demo, tmp_path):
    cfg, market = demo
    out = run_json(capsys, "ticket", "--json", "--csv", tmp_path / "t.csv")
    weights, source = optimizer_weights(cfg, market)
    ticket = build_ticket(
        cfg, lambda c: market_state(c, market), weights=weights, weights_source=source
    )
    assert out["weights_source"] == source and source.startswith("optimiser max-sharpe")
    assert out["weights_of"] == "the holdings' value"
    assert len(out["trades"]) == len(ticket.trades)
    for row, t in zip(out["trades"], ticket.trades, strict=True):
        assert (row["group"], row["instrument"], row["side"], row["quantity"]) == (
            t.group,
            t.instrument,
            t.side,
            t.quantity,
        )
        assert row["beta_after"] == pytest.approx(t.beta_after, rel=1e-12)
        assert row["var95_after"] == pytest.approx(t.var95_after, rel=1e-12)
        assert row["edit"] == t.edit.describe()
    assert out["before"]["beta"] == pytest.approx(ticket.beta_before, rel=1e-12)
    for g, after in ticket.group_after.items():
        got = out["groups"][g]
        assert got["trades"] == len(ticket.group(g))
        assert (got["beta_after_all"], got["var95_after_all"]) == pytest.approx(after[:2])
    with open(tmp_path / "t.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == CSV_HEADER and len(rows) == 1 + len(ticket.trades)
    assert out["csv"] == str(tmp_path / "t.csv")


def test_weights_from_a_file_and_an_objective(capsys, tmp_path):
    path = tmp_path / "w.json"
    path.write_text(json.dumps({"weights": {"AAPL": 0.5, "KO": 0.5}}))
    out = run_json(capsys, "ticket", "--weights", str(path), "--json")
    assert out["weights_source"] == f"file {path}"
    weights = [t for t in out["trades"] if t["group"] == "to weights"]
    assert {t["instrument"] for t in weights} >= {"MSFT", "AAPL", "KO"}
    assert all(t["unit"] == "shares" for t in weights)
    out = run_json(capsys, "ticket", "--weights", "min-variance", "--json")
    assert out["weights_source"].startswith("optimiser min-variance")


def test_scaled_ticket_has_no_edits_and_text_output(capsys):
    out = run_json(capsys, "ticket", "--weights", "none", "--nav", "5000000", "--json")
    assert out["scaled"] and out["nav"] == pytest.approx(5e6)
    assert all(t["edit"] is None for t in out["trades"])
    assert main(["ticket", "--weights", "none"]) == 0
    text = capsys.readouterr().out
    assert "targets: 1 trade(s)" in text and "beta band: none" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--weights", "sharpest"], "--weights: got 'sharpest', expected config, none"),
        (["--weights", "frontier"], "optimizer.objective: got 'frontier'"),
        (["--weights", "nope.json"], "nope.json: file not found"),
    ],
)
def test_bad_weights_are_one_line(capsys, argv, message):
    rc = main(["ticket", *argv])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1

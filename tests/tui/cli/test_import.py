"""``hedgedesk import``: a preview that writes nothing, --out writing a config that loads back,
--force, --json, the book valued on the data first (--no-check skips it), and one-line errors
naming the row (exit 2).
"""

from __future__ import annotations

import json
from pathlib import Path

from hedgedesk.core.config import load_config
from hedgedesk.core.demo import demo_config_path
from hedgedesk.tui.cli.main import main

FIXTURES = Path(__file__).parents[2] / "core" / "book" / "fixtures"
IBKR = FIXTURES / "ibkr_open_positions.csv"
GENERIC = FIXTURES / "generic_positions.csv"  # every kind: crypto and FX the demo data lacks
DEMO = FIXTURES / "generic_demo.csv"  # positions the demo desk's data prices


def _config(tmp_path) -> Path:
    p = tmp_path / "config.toml"
    p.write_bytes(demo_config_path().read_bytes())
    return p


def test_preview_writes_nothing(tmp_path, capsys):
    base = _config(tmp_path)
    before = base.read_bytes()
    rc = main(["import", str(IBKR), "--config", str(base), "--map", "SPX=SP500"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "ibkr layout, 7 row(s), as of 2022-12-28" in out
    assert "holding AAPL 1500 -> 1000" in out and "nothing written" in out
    assert base.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_out_writes_a_config_that_loads_back_and_force_overwrites(tmp_path, capsys):
    base = _config(tmp_path)
    out = tmp_path / "new.toml"
    argv = ["import", str(DEMO), "--config", str(base), "--map", "SPX=SP500", "--out", str(out)]
    assert main([*argv, "--replace", "--vol", "0.3"]) == 0
    book = load_config(out).book
    assert [(h.ticker, h.quantity, h.cost_basis) for h in book.holdings] == [
        ("AAPL", 1200.0, 152.1),
        ("MSFT", 300.0, 255.0),
    ]
    put = next(leg for leg in book.hedges if leg.right == "put")
    assert (put.name, put.underlying, put.strike, put.quantity) == (
        "SPX 2023-03-17 3600 put",
        "SP500",
        3600.0,
        3.0,
    )
    assert (put.volatility, put.purpose) == (0.3, "protection")
    assert "wrote" in capsys.readouterr().out
    assert main(argv) == 2
    assert "exists; give --force" in capsys.readouterr().err
    assert main([*argv, "--force"]) == 0  # merged into the base config's book: its rows kept
    assert len(load_config(out).book.holdings) == 10


def test_the_book_is_valued_on_the_data_before_anything_is_written(tmp_path, capsys):
    base = _config(tmp_path)
    out = tmp_path / "new.toml"
    assert main(["import", str(DEMO), "--config", str(base), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "got 'SPX', expected a ticker in the market data" in err and "--map" in err
    assert not out.exists()
    argv = ["import", str(GENERIC), "--config", str(base), "--map", "SPY=SP500"]
    assert main(argv) == 2 and "'BTC-USD'" in capsys.readouterr().err
    assert main([*argv, "--no-check", "--out", str(out)]) == 0
    assert {leg.instrument for leg in load_config(out).book.hedges} >= {"crypto", "fx"}


def test_json_carries_the_rows_changes_and_conventions(tmp_path, capsys):
    base = _config(tmp_path)
    rc = main(["import", str(DEMO), "--config", str(base), "--map", "SPX=SP500", "--json"])
    obj = json.loads(capsys.readouterr().out)
    assert rc == 0 and obj["conventions"] and obj["written"] is None and obj["book"] is None
    assert obj["layout"] == "generic" and obj["rows"] == 5 and obj["mode"] == "merge"
    assert obj["checked"] is True
    assert obj["holdings"][0] == {"ticker": "AAPL", "quantity": 1200, "cost_basis": 152.1}
    assert obj["volatility"] == {
        "default": 0.25,
        "legs": ["SPX 2023-03-17 3600 put", "AAPL 2023-01-20 160 call"],
    }
    assert "leg 'ES short' -2 -> -1" in obj["changes"]
    out = tmp_path / "o.toml"
    argv = ["import", str(DEMO), "--config", str(base), "--map", "SPX=SP500", "--json"]
    assert main([*argv, "--out", str(out)]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["written"] == str(out) and obj["book"] == {
        "holdings": 10,
        "hedges": 5,
        "cash": 150000.0,
    }


def test_bad_rows_exit_2_with_one_line_naming_them(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("symbol,quantity\nAAPL,ten\nMSFT,5\nAAPL  240119Q00190000,1\n")
    assert main(["import", str(bad), "--config", str(_config(tmp_path))]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert "bad.csv: 2 row(s) refused: line 2, quantity: got 'ten', expected a number" in err
    assert "line 4, symbol: got 'AAPL  240119Q00190000', expected a ticker" in err


def test_bad_flags_are_usage_errors(capsys):
    assert main(["import", str(GENERIC), "--map", "SPX"]) == 2
    assert "expected SYMBOL=TICKER" in capsys.readouterr().err
    assert main(["import", str(GENERIC), "--merge", "--replace"]) == 2
    assert main(["import", str(GENERIC), "--vol", "0"]) == 2
    assert main(["import", str(GENERIC), "--layout", "schwab"]) == 2

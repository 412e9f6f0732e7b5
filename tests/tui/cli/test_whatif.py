"""``hedgedesk whatif`` (tui/cli/whatif.py), in-process: list, show, compare, rm and save-as
on what-ifs saved beside a copy of the demo desk; compare's figures held equal to the engine's
own call on a config written by hand (tests/core/book/test_whatifs.py witnesses the same).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hedgedesk.core.book.edit import BookEditor
from hedgedesk.core.book.risk import risk_report
from hedgedesk.core.book.valuation import market_state, shocked_state
from hedgedesk.core.book.whatifs import capture, save_whatif, whatifs_path
from hedgedesk.core.config import load_config
from hedgedesk.core.data.sources import load_market
from hedgedesk.core.demo import demo_config_path
from hedgedesk.tui.cli.main import main


def run(capsys, *argv) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def desk(tmp_path) -> Path:
    """A copy of the demo desk with two what-ifs: "puts" (4 SPX puts, market -10 %) and
    "flat" (the book as saved, AAPL -5 %).
    """
    path = tmp_path / "desk.toml"
    path.write_text(Path(demo_config_path()).read_text())
    ed = BookEditor(load_config(path))
    save_whatif(path, capture("flat", ed.book_tables(), {"AAPL": -0.05}))
    ed.set_field("hedge", 1, "quantity", 4)
    save_whatif(path, capture("puts", ed.book_tables(), {"market": -0.1}))
    return path


def test_list_text_and_json(capsys, desk):
    rc, out, _ = run(capsys, "whatif", "list", "--config", desk)
    assert rc == 0
    assert out.splitlines()[0].split()[:2] == ["name", "created"]
    assert "flat" in out and "AAPL -5.0%" in out and "market -10.0%" in out
    rc, out, _ = run(capsys, "whatif", "list", "--config", desk, "--json")
    obj = json.loads(out)
    assert [w["name"] for w in obj["whatifs"]] == ["flat", "puts"]
    assert obj["whatifs"][1]["shocks"] == {"market": -0.1} and obj["whatifs"][1]["hedges"] == 3
    assert obj["file"] == str(whatifs_path(desk)) and obj["conventions"]["var_95"]


def test_list_without_a_file_says_how_to_make_one(capsys, tmp_path):
    path = tmp_path / "empty.toml"
    path.write_text(Path(demo_config_path()).read_text())
    rc, out, _ = run(capsys, "whatif", "list", "--config", path)
    assert rc == 0 and "no what-ifs beside" in out


def _engine(cfg, shocks):
    market = load_market(cfg)
    rep = risk_report(cfg, shocked_state(market_state(cfg, market), shocks))
    return rep.valuation, rep.var("historical", 0.95).var


def test_compare_is_side_by_side_and_equals_the_engine(capsys, desk, tmp_path):
    rc, out, _ = run(capsys, "whatif", "compare", "--config", desk, "--json")
    assert rc == 0
    obj = json.loads(out)
    assert [b["name"] for b in obj["books"]] == ["saved", "flat", "puts"]
    witness = tmp_path / "witness.toml"
    text = desk.read_text()
    old = 'strike = 3400\nexpiry = "2023-03-17"\nquantity = 2'
    assert text.count(old) == 1
    witness.write_text(text.replace(old, old[:-1] + "4"))
    cases = [(load_config(desk), {}), (load_config(desk), {"AAPL": -0.05})]
    cases.append((load_config(witness), {"market": -0.1}))
    for book, (cfg, shocks) in zip(obj["books"], cases, strict=True):
        val, var = _engine(cfg, shocks)
        assert book["nav"] == pytest.approx(val.nav, rel=1e-12)
        assert book["beta"] == pytest.approx(val.portfolio_beta, rel=1e-12)
        assert book["vega_1pt_usd"] == pytest.approx(val.total("vega_1pt_usd"), rel=1e-12)
        assert book["var_95"] == pytest.approx(var, rel=1e-12)
        assert book["shocks"] == shocks
    rc, out, _ = run(capsys, "whatif", "compare", "puts", "--config", desk)
    lines = out.splitlines()
    assert lines[0].split() == ["saved", "puts"]
    assert lines[1].split()[0] == "NAV" and len(lines[1].split()) == 3
    assert any(x.startswith("VaR 95%") and x.endswith("%") for x in lines)


def test_show_and_rm(capsys, desk):
    rc, out, _ = run(capsys, "whatif", "show", "puts", "--config", desk, "--json")
    obj = json.loads(out)
    assert obj["name"] == "puts" and obj["hedges"][1]["quantity"] == 4
    assert obj["figures"]["name"] == "puts" and obj["conventions"]
    rc, out, _ = run(capsys, "whatif", "show", "puts", "--config", desk)
    assert rc == 0 and "SPX put 3400" in out and "Vega/pt" in out
    rc, out, _ = run(capsys, "whatif", "rm", "flat", "--config", desk)
    assert rc == 0 and "removed what-if 'flat'" in out
    rc, _, err = run(capsys, "whatif", "rm", "flat", "--config", desk)
    assert rc == 2 and "no what-if 'flat'" in err and "there: 'puts'" in err
    rc, _, err = run(capsys, "whatif", "show", "nope", "--config", desk)
    assert rc == 2 and err.count("\n") == 1


def test_save_as_writes_the_whatif_book_to_a_new_file(capsys, desk, tmp_path):
    new = tmp_path / "puts.toml"
    rc, out, _ = run(capsys, "whatif", "save-as", "puts", new, "--config", desk, "--json")
    assert rc == 0
    obj = json.loads(out)
    assert obj["path"] == str(new) and obj["shocks_not_saved"] == {"market": -0.1}
    assert load_config(new).book.hedges[1].quantity == 4
    rest = load_config(desk)
    assert load_config(new).book.holdings == rest.book.holdings
    rc, _, err = run(capsys, "whatif", "save-as", "puts", new, "--config", desk)
    assert rc == 2 and "exists; not overwritten" in err
    rc, _, _ = run(capsys, "whatif", "save-as", "flat", new, "--config", desk, "--force")
    assert rc == 0 and load_config(new).book == rest.book


def test_a_bad_whatifs_file_is_one_line_naming_it(capsys, desk):
    whatifs_path(desk).write_text('[[whatif]]\nname = "x"\ncreated = 2026-01-01T00:00:00Z\nz = 1\n')
    rc, _, err = run(capsys, "whatif", "list", "--config", desk)
    assert rc == 2 and f"{whatifs_path(desk)}:1: whatif[0]: unknown key 'z'" in err

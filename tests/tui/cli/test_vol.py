"""``hedgedesk vol surface`` and the vol source in ``risk --json`` (tui/cli/vol.py).

Witnesses: the synthetic chain of tests/core/book/test_vol_surface.py (quotes priced here by the
closed form from a known smile), whose vols the grid must give back at the forward; the SPX file
(skipped when absent) for the figures the README quotes.
"""

from __future__ import annotations

import json
import math

import pytest

from hedgedesk.tui.cli.main import main
from tests.core.book.test_vol_surface import SPX, chain_rows, desk, true_vol


def run(capsys, *argv) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def chain(tmp_path):
    path = tmp_path / "chain.csv"
    path.write_text("\n".join(chain_rows()), encoding="utf-8")
    return path


def test_surface_json_grid_check_and_conventions(capsys, chain):
    rc, out, err = run(capsys, "vol", "surface", "--chain", chain, "--rate", "0.03", "--json")
    assert rc == 0, err
    obj = json.loads(out)
    assert obj["conventions"]["strike_interpolation"].startswith("total variance")
    assert (obj["underlying"], obj["quote_date"], obj["rate"]) == ("AAA", "2024-03-01", 0.03)
    assert obj["moneyness"][3] == 1.0
    for e in obj["expiries"]:
        assert e["forward"] == pytest.approx(100 * math.exp(0.02 * e["years"]), rel=1e-9)
        # at the forward the vol is interpolated between the two strikes around it
        assert e["vols"][3] == pytest.approx(true_vol(0.0), abs=0.01)
    check = obj["check"]
    assert check["quotes"] == obj["counts"]["used"] == check["within_spread"]
    assert check["share_within"] == 1.0 and check["quote_dates"] == ["2024-03-01"]


def test_surface_text_output(capsys, chain):
    rc, out, err = run(capsys, "vol", "surface", "--chain", chain)
    assert rc == 0, err
    assert "AAA implied vols quoted 2024-03-01" in out
    assert "2024-03-29" in out and "2024-05-31" in out
    assert "within their bid-ask spread (100.0%)" in out


def test_usage_errors_name_what_was_expected(capsys, chain, tmp_path):
    rc, _, err = run(capsys, "vol", "surface", "--chain", chain, "--underlying", "ZZZ")
    assert rc == 2 and "--underlying 'ZZZ' is not in the chains (expected one of AAA)" in err
    rc, _, err = run(capsys, "vol", "surface", "--chain", chain, "--date", "2024-03-04")
    assert rc == 2 and "--date 2024-03-04 has no AAA quotes" in err
    two = tmp_path / "two.csv"
    two.write_text("\n".join(chain_rows() + chain_rows(underlying="BBB")[1:]), encoding="utf-8")
    rc, _, err = run(capsys, "vol", "surface", "--chain", two)
    assert rc == 2 and "quote AAA, BBB: choose one with --underlying" in err
    cfg, _, _ = desk(tmp_path)
    bare = tmp_path / "bare.toml"
    bare.write_text(
        cfg.path.read_text().replace('option_chains = ["chain.csv"]\n', ""), encoding="utf-8"
    )
    rc, _, err = run(capsys, "vol", "surface", "--config", bare)
    assert rc == 2 and "no [data] option_chains" in err


def test_surface_from_the_config_chains(capsys, tmp_path):
    cfg, _, quoted = desk(tmp_path)
    rc, out, err = run(capsys, "vol", "surface", "--config", cfg.path, "--json")
    assert rc == 0, err
    obj = json.loads(out)
    assert obj["quote_date"] == quoted.isoformat() and obj["rate"] == 0.02


def test_risk_json_shows_the_vol_source(capsys, tmp_path):
    cfg, state, quoted = desk(tmp_path)
    rc, out, err = run(capsys, "risk", "--config", cfg.path, "--json")
    assert rc == 0, err
    legs = {p["name"]: p for p in json.loads(out)["positions"] if p.get("option")}
    surf, typed = legs["surface put"], legs["typed put"]
    label = f"the AAA chain quoted {quoted}"
    assert surf["option"]["volatility_source"] == f"{label} (surface)"
    assert f"from {label} (surface)" in surf["price_note"]
    assert surf["option"]["volatility"] == pytest.approx(
        state.surfaces["AAA"].vol(95.0, cfg.book.hedges[0].expiry)
    )
    assert typed["option"]["volatility_source"] == "config (modelled)"
    assert "(modelled, not a quote)" in typed["price_note"]


@pytest.mark.skipif(not SPX.exists(), reason="../shared/data is not here")
def test_spx_every_date_check(capsys):
    rc, out, err = run(capsys, "vol", "surface", "--chain", SPX, "--all-dates", "--json")
    assert rc == 0, err
    check = json.loads(out)["check"]
    assert check["quotes"] == check["within_spread"] == 5319
    assert [d["quote_date"] for d in check["dates_skipped"]] == ["2018-01-31", "2018-02-28"]
    assert len(check["quote_dates"]) == 38


def test_scenario_json_carries_the_skew(capsys, tmp_path):
    extra = '[[scenarios]]\nname = "tilt"\nvol = 0.02\nskew = -0.5\n'
    cfg, _, _ = desk(tmp_path, extra=extra)
    rc, out, err = run(capsys, "scenario", "--config", cfg.path, "--json")
    assert rc == 0, err
    (s,) = json.loads(out)["scenarios"]
    assert (s["vol"], s["skew"]) == (0.02, -0.5)

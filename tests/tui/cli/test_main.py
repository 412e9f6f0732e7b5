"""The ``hedgedesk`` command line, run in-process (``hedgedesk.tui.cli.main.main``) and, for a few
cases, as a
real process to prove no traceback reaches the user.

Witnesses are independent: price files are read here with pandas/csv, betas refitted with
statsmodels on rows joined here. Nothing touches the network:
``hedgedesk.core.data.yahoo._yf_download`` is
replaced in every test, by a fake where a test needs one.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import math
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import statsmodels.api as sm

from hedgedesk.core.demo import demo_config_path, demo_dir
from hedgedesk.tui.cli.main import main

REPO = Path(__file__).resolve().parents[3]
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}")


# -- harness -----------------------------------------------------------------------------------
def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def run_json(capsys, *argv: str) -> dict:
    rc, out, err = run(capsys, *argv)
    assert rc == 0, err
    obj = json.loads(out)  # the whole of stdout is one JSON document...
    assert isinstance(obj, dict)  # ...and it is an object
    assert out.lstrip().startswith("{") and out.rstrip().endswith("}")
    return obj


def assert_one_error_line(rc: int, out: str, err: str) -> str:
    assert rc == 2, (rc, out, err)
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert err.startswith("hedgedesk: error: ")
    return err


def run_process(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hedgedesk.tui.cli", *argv],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# -- independent readers -----------------------------------------------------------------------
def read_price_csv(path: Path) -> pd.Series:
    """Adjusted (else plain) close by date from one of the shared-data CSV layouts."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    header = [c.strip() for c in rows[0]]
    if header[0] == "Price":  # yfinance: the second column, labelled Price, is the adj close
        col = 1
    else:
        names = [h.lower() for h in header]
        col = next(names.index(n) for n in ("adj_close", "adj close", "close") if n in names)
    data = [(r[0][:10], float(r[col])) for r in rows[1:] if r and DATE_RE.match(r[0])]
    dates, values = zip(*data, strict=True)
    return pd.Series(values, index=pd.DatetimeIndex(dates), dtype=float)


def demo_frames() -> dict[str, pd.Series]:
    out = {}
    for f in sorted(demo_dir().glob("*.csv.gz")):
        frame = pd.read_csv(f, index_col=0, parse_dates=True)
        for col in frame.columns:
            out[col] = frame[col].dropna()
    return out


def joined_returns(asset: pd.Series, bench: pd.Series, start=None, end=None) -> pd.DataFrame:
    prices = pd.concat({"a": asset, "b": bench}, axis=1, join="inner").dropna()
    if start:
        prices = prices[prices.index >= pd.Timestamp(start)]
    if end:
        prices = prices[prices.index <= pd.Timestamp(end)]
    return prices.pct_change().iloc[1:]


def statsmodels_fit(rows: pd.DataFrame):
    return sm.OLS(rows["a"].to_numpy(), sm.add_constant(rows["b"].to_numpy())).fit()


def assert_matches_statsmodels(out: dict, rows: pd.DataFrame) -> None:
    fit = statsmodels_fit(rows)
    expected = {
        "alpha": fit.params[0],
        "beta": fit.params[1],
        "r_squared": fit.rsquared,
        "alpha_tstat": fit.tvalues[0],
        "beta_tstat": fit.tvalues[1],
        "alpha_stderr": fit.bse[0],
        "beta_stderr": fit.bse[1],
    }
    for key, value in expected.items():
        assert math.isclose(out[key], value, rel_tol=1e-9, abs_tol=1e-15), (key, out[key], value)
    assert out["n_obs"] == int(fit.nobs) == len(rows)
    assert out["start"] == rows.index[0].date().isoformat()
    assert out["end"] == rows.index[-1].date().isoformat()


@pytest.fixture
def full_history_config(tmp_path) -> Path:
    """The demo desk with no configured start/end, so every demo row is in play."""
    text = demo_config_path().read_text(encoding="utf-8")
    text, n = re.subn(r"^(start|end)\s*=.*$", r'\1 = ""', text, flags=re.M)
    assert n == 2
    path = tmp_path / "full.toml"
    path.write_text(text, encoding="utf-8")
    return path


# -- data check --------------------------------------------------------------------------------
def test_data_check_shared_data_lists_every_series_with_true_dates(capsys, shared_data):
    folders = [shared_data / "etf", shared_data / "mag7", shared_data / "crypto"]
    obj = run_json(capsys, "data", "check", *map(str, folders), "--json")
    files = sorted(p for f in folders for p in f.glob("*.csv"))
    assert len(files) == 30
    by_ticker = {s["ticker"]: s for s in obj["series"]}
    assert obj["count"] == len(obj["series"]) == len(by_ticker) == 30
    assert set(by_ticker) == {p.stem for p in files}
    for path in files:
        witness = read_price_csv(path)
        s = by_ticker[path.stem]
        assert s["first"] == witness.index[0].date().isoformat(), path
        assert s["last"] == witness.index[-1].date().isoformat(), path
        assert s["rows"] == len(witness), path
        assert s["source"] == str(path)
    for ticker in ("BTC-USD", "ETH-USD"):
        assert by_ticker[ticker]["periods_per_year"] == 365
        assert by_ticker[ticker]["calendar"] == "7day"
    for path in files:
        if path.parent.name != "crypto":
            assert by_ticker[path.stem]["periods_per_year"] == 252
    assert by_ticker["SPY"]["has_volume"] is True
    assert by_ticker["BTC-USD"]["has_volume"] is False


def test_data_check_without_paths_uses_the_demo(capsys):
    obj = run_json(capsys, "data", "check", "--json")
    witness = demo_frames()
    assert len(witness) == 26
    assert obj["count"] == 26
    by_ticker = {s["ticker"]: s for s in obj["series"]}
    assert set(by_ticker) == set(witness)
    for ticker, series in witness.items():
        assert by_ticker[ticker]["first"] == series.index[0].date().isoformat()
        assert by_ticker[ticker]["last"] == series.index[-1].date().isoformat()
        assert by_ticker[ticker]["rows"] == len(series)


def test_data_check_text_output_lists_the_series(capsys, tmp_path):
    path = tmp_path / "prices.csv"
    path.write_text(
        "Date,AAA,BBB\n2024-01-02,1,2\n2024-01-03,1.5,\n2024-01-04,2,3\n", encoding="utf-8"
    )
    rc, out, err = run(capsys, "data", "check", str(path))
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[-1] == "2 series"
    assert any(line.split()[:4] == ["AAA", "2024-01-02", "2024-01-04", "3"] for line in lines)
    assert any(line.split()[:4] == ["BBB", "2024-01-02", "2024-01-04", "2"] for line in lines)


# -- beta --------------------------------------------------------------------------------------
def test_beta_equals_statsmodels_on_demo_data(capsys, full_history_config):
    out = run_json(
        capsys,
        "beta",
        "--config",
        str(full_history_config),
        "--asset",
        "AAPL",
        "--benchmark",
        "SP500",
        "--json",
    )
    demo = demo_frames()
    rows = joined_returns(demo["AAPL"], demo["SP500"])
    assert (out["asset"], out["benchmark"]) == ("AAPL", "SP500")
    assert_matches_statsmodels(out, rows)
    assert "rolling_beta" not in out


def test_beta_start_end_clip_prices_first(capsys, full_history_config):
    # 2018-01-01 is a holiday: the first price is 2018-01-02, the first return 2018-01-03.
    out = run_json(
        capsys,
        "beta",
        "--config",
        str(full_history_config),
        "--asset",
        "MSFT",
        "--benchmark",
        "SP500",
        "--start",
        "2018-01-01",
        "--end",
        "2019-06-30",
        "--json",
    )
    demo = demo_frames()
    rows = joined_returns(demo["MSFT"], demo["SP500"], "2018-01-01", "2019-06-30")
    assert_matches_statsmodels(out, rows)
    full = joined_returns(demo["MSFT"], demo["SP500"])
    assert out["n_obs"] < len(full)
    assert out["start"] == "2018-01-03"


def test_beta_rolling_window(capsys, full_history_config):
    out = run_json(
        capsys,
        "beta",
        "--config",
        str(full_history_config),
        "--asset",
        "JPM",
        "--benchmark",
        "SP500",
        "--start",
        "2021-01-01",
        "--window",
        "60",
        "--json",
    )
    demo = demo_frames()
    rows = joined_returns(demo["JPM"], demo["SP500"], "2021-01-01")
    assert_matches_statsmodels(out, rows)
    rolling = out["rolling_beta"]
    assert out["window"] == 60
    assert len(rolling) == len(rows) - 59
    assert rolling[-1]["date"] == rows.index[-1].date().isoformat()
    assert rolling[0]["date"] == rows.index[59].date().isoformat()
    last = statsmodels_fit(rows.iloc[-60:]).params[1]
    first = statsmodels_fit(rows.iloc[:60]).params[1]
    assert math.isclose(rolling[-1]["beta"], last, rel_tol=1e-9, abs_tol=1e-15)
    assert math.isclose(rolling[0]["beta"], first, rel_tol=1e-9, abs_tol=1e-15)


def test_beta_text_output(capsys, full_history_config):
    rc, out, err = run(
        capsys,
        "beta",
        "--config",
        str(full_history_config),
        "--asset",
        "KO",
        "--benchmark",
        "SP500",
        "--start",
        "2020-01-01",
        "--window",
        "20",
    )
    assert rc == 0, err
    demo = demo_frames()
    rows = joined_returns(demo["KO"], demo["SP500"], "2020-01-01")
    fit = statsmodels_fit(rows)
    assert f"n = {len(rows)}" in out
    assert f"beta  {fit.params[1]:9.4f}" in out
    assert "rolling 20-day beta" in out


def test_beta_with_repeated_data_file_and_folder(capsys, shared_data):
    spy = shared_data / "etf" / "SPY.csv"
    out = run_json(
        capsys,
        "beta",
        "--data",
        str(spy),
        "--data",
        str(shared_data / "mag7"),
        "--asset",
        "NVDA",
        "--benchmark",
        "SPY",
        "--json",
    )
    rows = joined_returns(read_price_csv(shared_data / "mag7" / "NVDA.csv"), read_price_csv(spy))
    assert_matches_statsmodels(out, rows)


def test_beta_reads_only_the_two_tickers_files_of_a_folder(capsys, tmp_path, monkeypatch):
    import hedgedesk.core.data.price_files as price_files

    folder = tmp_path / "prices"
    folder.mkdir()
    days = pd.bdate_range("2020-01-02", periods=30)
    for i, name in enumerate(("AAA", "BBB", "CCC", "DDD")):
        closes = 10.0 + i + np.sin(np.arange(30) * (i + 1))
        pd.DataFrame({"Date": days.strftime("%Y-%m-%d"), "Close": closes}).to_csv(
            folder / f"{name}.csv", index=False
        )
    opened: list[str] = []
    real = price_files.read_file
    monkeypatch.setattr(
        price_files, "read_file", lambda p, *a, **k: opened.append(p.name) or real(p, *a, **k)
    )
    out = run_json(
        capsys, "beta", "--data", str(folder), "--asset", "CCC", "--benchmark", "AAA", "--json"
    )
    assert sorted(opened) == ["AAA.csv", "CCC.csv"]
    rows = joined_returns(read_price_csv(folder / "CCC.csv"), read_price_csv(folder / "AAA.csv"))
    assert_matches_statsmodels(out, rows)


def test_beta_of_crypto_samples_it_at_equity_closes(capsys, shared_data):
    spy = shared_data / "etf" / "SPY.csv"
    btc = shared_data / "crypto" / "BTC-USD.csv"
    out = run_json(
        capsys,
        "beta",
        "--data",
        str(spy),
        "--data",
        str(btc),
        "--asset",
        "BTC-USD",
        "--benchmark",
        "SPY",
        "--start",
        "2020-01-01",
        "--json",
    )
    rows = joined_returns(read_price_csv(btc), read_price_csv(spy), "2020-01-01")
    assert not (rows.index.day_of_week >= 5).any()
    assert_matches_statsmodels(out, rows)


def test_beta_honours_the_configured_start(capsys):
    cfg = tomllib.loads(demo_config_path().read_text(encoding="utf-8"))
    start = cfg["data"]["start"]
    if not start:
        pytest.skip("the demo desk configures no start date")
    out = run_json(capsys, "beta", "--asset", "AAPL", "--benchmark", "SP500", "--json")
    assert out["start"] >= start


def assert_hedged_matches_statsmodels(out: dict, rows: pd.DataFrame) -> None:
    """The notebook's second regression: ``a - beta x b`` on ``b`` (beta from the first)."""
    beta = statsmodels_fit(rows).params[1]
    hedged = rows.assign(a=rows["a"] - beta * rows["b"])
    fit = statsmodels_fit(hedged)
    h = out["hedged"]
    assert math.isclose(h["hedge_ratio"], beta, rel_tol=1e-9)
    assert abs(h["beta"]) < 1e-12 and abs(fit.params[1]) < 1e-12  # beta near 0
    for key, value in (
        ("alpha", fit.params[0]),
        ("alpha_stderr", fit.bse[0]),
        ("beta_stderr", fit.bse[1]),
        ("alpha_tstat", fit.tvalues[0]),
    ):
        assert math.isclose(h[key], value, rel_tol=1e-9), (key, h[key], value)
    assert abs(h["r_squared"]) < 1e-12 and h["n_obs"] == len(rows)


def test_beta_of_an_equal_basket_and_its_static_hedge(capsys, full_history_config):
    out = run_json(
        capsys,
        "beta",
        "--config",
        str(full_history_config),
        "--asset",
        "BIG2=AAPL+MSFT",
        "--benchmark",
        "SP500",
        "--json",
    )
    demo = demo_frames()
    prices = pd.concat(
        {t: demo[t] for t in ("AAPL", "MSFT", "SP500")}, axis=1, join="inner"
    ).dropna()
    r = prices.pct_change().iloc[1:]
    rows = pd.DataFrame({"a": (r["AAPL"] + r["MSFT"]) / 2, "b": r["SP500"]})
    assert out["asset"] == "BIG2" and out["basket"]["members"] == ["AAPL", "MSFT"]
    assert out["basket"]["weighting"] == "equal"
    assert_matches_statsmodels(out, rows)
    assert_hedged_matches_statsmodels(out, rows)
    assert "conventions" in out


def test_beta_of_a_single_asset_reports_the_hedged_series_too(capsys, full_history_config):
    argv = ["beta", "--config", str(full_history_config), "--asset", "KO", "--benchmark", "SP500"]
    out = run_json(capsys, *argv, "--json")
    demo = demo_frames()
    rows = joined_returns(demo["KO"], demo["SP500"])
    assert_hedged_matches_statsmodels(out, rows)
    assert "basket" not in out
    rc, text, err = run(capsys, *argv)
    assert rc == 0, err
    assert f"hedged KO - {out['hedged']['hedge_ratio']:.6g} x SP500" in text
    assert f"alpha {out['hedged']['alpha']:9.6f}" in text


def _volume_files(folder: Path, n: int = 120) -> dict[str, pd.DataFrame]:
    """Three synthetic tickers with closes and volumes, written as Date,Close,Volume files."""
    folder.mkdir()
    days = pd.bdate_range("2023-01-02", periods=n)
    rng = np.random.default_rng(11)
    m = rng.normal(0.0005, 0.01, n)
    frames = {}
    for i, (name, b) in enumerate((("IDX", 1.0), ("AAA", 1.4), ("BBB", 0.6))):
        r = b * m + (rng.normal(0, 0.008, n) if name != "IDX" else 0.0)
        close = 50.0 * (i + 1) * np.cumprod(1 + r)
        volume = rng.integers(1_000, 90_000, n).astype(float)
        frame = pd.DataFrame({"Close": close, "Volume": volume}, index=days)
        frame.rename_axis("Date").to_csv(folder / f"{name}.csv", float_format="%.10f")
        frames[name] = pd.read_csv(folder / f"{name}.csv", index_col=0, parse_dates=True)
    return frames


def test_beta_of_a_volume_weighted_basket_equals_a_plain_loop(capsys, tmp_path):
    frames = _volume_files(tmp_path / "px")
    out = run_json(
        capsys,
        "beta",
        "--data",
        str(tmp_path / "px"),
        "--asset",
        "PAIR=AAA+BBB@volume",
        "--benchmark",
        "IDX",
        "--json",
    )
    # witness: day t weights each member by its mean volume over the 30 rows before t
    close = {t: frames[t]["Close"].to_numpy() for t in frames}
    vol = {t: frames[t]["Volume"].to_numpy() for t in frames}
    days = frames["IDX"].index
    a, b = [], []
    for t in range(30, len(days)):
        mean_vol = {k: vol[k][t - 30 : t].mean() for k in ("AAA", "BBB")}
        total = sum(mean_vol.values())
        a.append(sum(mean_vol[k] / total * (close[k][t] / close[k][t - 1] - 1) for k in mean_vol))
        b.append(close["IDX"][t] / close["IDX"][t - 1] - 1)
    rows = pd.DataFrame({"a": a, "b": b}, index=days[30:])
    assert out["basket"]["weighting"] == "volume" and out["n_obs"] == len(rows)
    assert_matches_statsmodels(out, rows)
    assert_hedged_matches_statsmodels(out, rows)


@pytest.mark.parametrize(
    "asset,needle",
    [
        ("B=AAA+IDX", "--asset: the basket B holds the benchmark IDX"),
        ("B=AAA+", "--asset"),
        ("B=AAA+BBB@cap", "unknown weighting 'cap'"),
        ("IDX", "--asset and --benchmark are the same ticker"),
    ],
)
def test_beta_basket_bad_input_is_one_line(capsys, tmp_path, asset, needle):
    _volume_files(tmp_path / "px")
    rc, out, err = run(
        capsys, "beta", "--data", str(tmp_path / "px"), "--asset", asset, "--benchmark", "IDX"
    )
    assert needle in assert_one_error_line(rc, out, err)


# -- config check ------------------------------------------------------------------------------
def test_config_check_demo_is_valid(capsys):
    raw = tomllib.loads(demo_config_path().read_text(encoding="utf-8"))
    obj = run_json(capsys, "config", "check", "--json")
    assert obj["valid"] is True
    assert Path(obj["config"]) == demo_config_path()
    assert obj["source"] == raw["data"]["source"]
    assert obj["benchmark"] == raw["data"]["benchmark"]
    assert obj["holdings"] == len(raw["book"]["holdings"])
    assert obj["hedges"] == len(raw["book"]["hedges"])
    assert obj["tickers"] == len(demo_frames())


def test_config_check_follows_the_environment(capsys, tmp_path, monkeypatch):
    bad = tmp_path / "env.toml"
    bad.write_text("[data\n", encoding="utf-8")
    monkeypatch.setenv("HEDGEDESK_CONFIG", str(bad))
    err = assert_one_error_line(*run(capsys, "config", "check"))
    assert str(bad) in err
    # --config, before or after the subcommand, wins over the environment
    for argv in (
        ("--config", str(demo_config_path()), "config", "check", "--json"),
        ("config", "check", "--config", str(demo_config_path()), "--json"),
    ):
        rc, out, err = run(capsys, *argv)
        assert rc == 0, err
        assert json.loads(out)["valid"] is True


def test_config_check_text_output(capsys):
    rc, out, err = run(capsys, "config", "check")
    assert rc == 0, err
    assert out.startswith(f"{demo_config_path()}: valid")
    assert out.count("\n") == 1


# -- bad input: exit 2, one line on stderr, nothing on stdout ---------------------------------
def _csv(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


GOOD = "Date,Close\n2024-01-02,10\n2024-01-03,11\n2024-01-04,10.5\n2024-01-05,12\n"


def _bad_config(tmp_path: Path, key: str, literal: str) -> str:
    """The demo config with its one ``key = ...`` line set to ``literal``."""
    text = demo_config_path().read_text(encoding="utf-8")
    text, n = re.subn(rf"^{key}\s*=.*$", f"{key} = {literal}", text, flags=re.M)
    assert n == 1
    return _csv(tmp_path, "bad.toml", text)


def _two_series(tmp_path: Path, n: int) -> str:
    dates = pd.bdate_range("2024-01-01", periods=n)
    rng = np.random.default_rng(7)
    a = 100 * np.cumprod(1 + rng.normal(0, 0.01, n))
    b = 50 * np.cumprod(1 + rng.normal(0, 0.01, n))
    lines = [
        "Date,AAA,BBB",
        *(f"{d:%Y-%m-%d},{x:.6f},{y:.6f}" for d, x, y in zip(dates, a, b, strict=True)),
    ]
    return _csv(tmp_path, "two.csv", "\n".join(lines) + "\n")


BAD_INPUT = {
    "missing-file": (
        lambda p: ["data", "check", str(p / "nope.csv")],
        lambda p: [f"{p / 'nope.csv'}: file not found"],
    ),
    "empty-file": (
        lambda p: ["data", "check", _csv(p, "E.csv", "")],
        lambda p: [f"{p / 'E.csv'}: empty file"],
    ),
    "header-only": (
        lambda p: ["data", "check", _csv(p, "H.csv", "Date,Close\n")],
        lambda p: ["H.csv", "no data rows"],
    ),
    "unparsable-date": (
        lambda p: ["data", "check", _csv(p, "D.csv", GOOD.replace("2024-01-04", "2024-13-04"))],
        lambda p: [f"{p / 'D.csv'}:4:", "unparsable date", "2024-13-04"],
    ),
    "duplicate-date": (
        lambda p: ["data", "check", _csv(p, "U.csv", GOOD.replace("2024-01-04", "2024-01-03"))],
        lambda p: [f"{p / 'U.csv'}:4:", "duplicate date 2024-01-03"],
    ),
    "unsorted-dates": (
        lambda p: ["data", "check", _csv(p, "S.csv", GOOD.replace("2024-01-04", "2024-01-01"))],
        lambda p: [f"{p / 'S.csv'}:4:", "ascending"],
    ),
    "non-numeric-price": (
        lambda p: ["data", "check", _csv(p, "N.csv", GOOD.replace("10.5", "ten"))],
        lambda p: [f"{p / 'N.csv'}:4:", "non-numeric", "'ten'"],
    ),
    "non-positive-price": (
        lambda p: ["data", "check", _csv(p, "Z.csv", GOOD.replace("10.5", "-1"))],
        lambda p: [f"{p / 'Z.csv'}:4:", "non-positive price -1"],
    ),
    "missing-price": (
        lambda p: ["data", "check", _csv(p, "M.csv", GOOD.replace("10.5", ""))],
        lambda p: [f"{p / 'M.csv'}:4:", "missing price"],
    ),
    "folder-without-prices": (
        lambda p: ["data", "check", str(p)],
        lambda p: [str(p), "no price files"],
    ),
    "unknown-ticker": (
        lambda p: [
            "beta",
            "--data",
            _csv(p, "AAA.csv", GOOD),
            "--asset",
            "AAA",
            "--benchmark",
            "SPY",
        ],
        lambda p: ["SPY", "unknown ticker", "AAA"],
    ),
    "too-little-history-for-window": (
        lambda p: [
            "beta",
            "--data",
            _two_series(p, 30),
            "--asset",
            "AAA",
            "--benchmark",
            "BBB",
            "--window",
            "40",
        ],
        lambda p: ["too little history", "29 common daily returns", "need at least 40"],
    ),
    "too-little-history-after-clip": (
        lambda p: [
            "beta",
            "--data",
            _two_series(p, 30),
            "--asset",
            "AAA",
            "--benchmark",
            "BBB",
            "--start",
            "2024-02-08",
        ],
        lambda p: ["too little history", "2024-02-08"],
    ),
    "window-too-small": (
        lambda p: ["beta", "--asset", "AAPL", "--benchmark", "SP500", "--window", "2"],
        lambda p: ["--window", "'2'", ">= 3"],
    ),
    "bad-start-format": (
        lambda p: ["beta", "--asset", "AAPL", "--benchmark", "SP500", "--start", "01/02/2020"],
        lambda p: ["--start", "'01/02/2020'", "YYYY-MM-DD"],
    ),
    "start-after-end": (
        lambda p: [
            "beta",
            "--asset",
            "AAPL",
            "--benchmark",
            "SP500",
            "--start",
            "2020-06-01",
            "--end",
            "2020-01-01",
        ],
        lambda p: ["2020-06-01", "2020-01-01", "after"],
    ),
    "missing-required-argument": (
        lambda p: ["beta", "--asset", "AAPL"],
        lambda p: ["required", "--benchmark"],
    ),
    "unknown-subcommand": (lambda p: ["frobnicate"], lambda p: ["invalid choice", "frobnicate"]),
    "unknown-data-action": (lambda p: ["data", "sync"], lambda p: ["invalid choice", "sync"]),
    "bad-config-syntax": (
        lambda p: [
            "beta",
            "--config",
            _csv(p, "c.toml", "[data\n"),
            "--asset",
            "AAPL",
            "--benchmark",
            "SP500",
        ],
        lambda p: [str(p / "c.toml"), "(syntax)", "not valid TOML"],
    ),
    "bad-config-value": (
        lambda p: ["config", "check", "--config", _bad_config(p, "beta_band", "-1")],
        lambda p: [str(p / "bad.toml"), "targets.beta_band", "-1"],
    ),
    "bad-config-ticker": (
        lambda p: ["config", "check", "--config", _bad_config(p, "hedge", '"NOPE"')],
        lambda p: [str(p / "bad.toml"), "sweep.hedge", "'NOPE'"],
    ),
    "missing-config": (
        lambda p: ["config", "check", "--config", str(p / "none.toml")],
        lambda p: [str(p / "none.toml"), "not found"],
    ),
    "asset-equals-benchmark": (
        lambda p: ["beta", "--asset", "SP500", "--benchmark", "SP500"],
        lambda p: ["--asset and --benchmark are the same"],
    ),
    "constant-benchmark": (
        lambda p: [
            "beta",
            "--data",
            _csv(
                p,
                "flat.csv",
                "Date,AAA,BBB\n2024-01-02,1,5\n2024-01-03,2,5\n2024-01-04,3,5\n"
                "2024-01-05,5,5\n2024-01-08,4,5\n",
            ),
            "--asset",
            "AAA",
            "--benchmark",
            "BBB",
        ],
        lambda p: ["BBB", "constant"],
    ),
}


@pytest.mark.parametrize("case_id", list(BAD_INPUT))
def test_bad_input_exits_2_with_one_line(case_id, capsys, tmp_path):
    argv, expected = BAD_INPUT[case_id]
    err = assert_one_error_line(*run(capsys, *argv(tmp_path)))
    for part in expected(tmp_path):
        assert part in err, (part, err)


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["data", "check", "missing.csv", "--json"], "missing.csv: file not found"),
        (["frobnicate"], "invalid choice"),
        (["beta", "--asset", "AAPL", "--benchmark", "SP500", "--start", "2020-13-01"], "--start"),
    ],
)
def test_real_process_prints_one_line_and_no_traceback(argv, expected):
    proc = run_process(*argv)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and expected in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_real_process_bad_config(tmp_path):
    path = tmp_path / "desk.toml"
    path.write_text('[data]\nsource = "files"\n', encoding="utf-8")
    proc = run_process("config", "check", "--config", str(path))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and str(path) in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_real_process_prints_one_json_object():
    proc = run_process(
        "beta", "--asset", "XOM", "--benchmark", "SP500", "--start", "2022-01-01", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    obj = json.loads(proc.stdout)
    demo = demo_frames()
    assert_matches_statsmodels(obj, joined_returns(demo["XOM"], demo["SP500"], "2022-01-01"))


# -- data fetch (network blocked) --------------------------------------------------------------
def yfinance_frame(tickers: list[str], dates: pd.DatetimeIndex, seed: int = 1) -> pd.DataFrame:
    """What ``yf.download(..., auto_adjust=False, multi_level_index=True)`` returns."""
    rng = np.random.default_rng(seed)
    n = len(dates)
    data = {}
    for t in tickers:
        adj = 100 * np.cumprod(1 + rng.normal(0, 0.01, n))
        close = adj * 1.02  # unadjusted: must not be the price the cache keeps
        data[("Adj Close", t)] = adj
        data[("Close", t)] = close
        data[("High", t)] = close * 1.01
        data[("Low", t)] = close * 0.99
        data[("Open", t)] = close
        data[("Volume", t)] = rng.integers(1_000, 10_000, n).astype(float)
    fields = ["Adj Close", "Close", "High", "Low", "Open", "Volume"]
    columns = pd.MultiIndex.from_tuples(
        [(f, t) for f in fields for t in tickers], names=["Price", "Ticker"]
    )
    return pd.DataFrame(
        {c: data[c] for c in columns}, index=pd.DatetimeIndex(dates, name="Date"), columns=columns
    )


def test_fetch_offline_is_one_line(capsys, monkeypatch, _isolated_home):
    def offline(tickers, start, end):
        raise ConnectionError("Failed to resolve 'query1.finance.yahoo.com'")

    monkeypatch.setattr("hedgedesk.core.data.yahoo._yf_download", offline)
    err = assert_one_error_line(*run(capsys, "data", "fetch", "SPY", "--json"))
    assert "download failed" in err and "Failed to resolve" in err
    assert not (_isolated_home / "cache" / "hedgedesk" / "yahoo" / "SPY.parquet").exists()


def test_fetch_writes_the_cache(capsys, monkeypatch, _isolated_home):
    dates = pd.bdate_range("2024-01-02", "2024-01-31")
    frame = yfinance_frame(["SPY", "QQQ"], dates)
    frame.loc[dates[3], [("Adj Close", "QQQ"), ("Close", "QQQ")]] = np.nan  # no row that day
    calls = []

    def fake(tickers, start, end):
        calls.append((tickers, start, end))
        return frame

    monkeypatch.setattr("hedgedesk.core.data.yahoo._yf_download", fake)
    obj = run_json(
        capsys,
        "data",
        "fetch",
        "SPY",
        "QQQ",
        "--start",
        "2024-01-02",
        "--end",
        "2024-01-31",
        "--json",
    )
    # yfinance's end is exclusive: the day after the user's end is asked for
    assert calls == [(["SPY", "QQQ"], "2024-01-02", "2024-02-01")]
    cache = _isolated_home / "cache" / "hedgedesk" / "yahoo"
    fetched = {f["ticker"]: f for f in obj["fetched"]}
    assert set(fetched) == {"SPY", "QQQ"}
    for ticker in ("SPY", "QQQ"):
        keep = frame[("Adj Close", ticker)].notna()
        f = fetched[ticker]
        assert Path(f["path"]) == cache / f"{ticker}.parquet"
        assert f["rows"] == int(keep.sum())
        assert (f["first"], f["last"]) == ("2024-01-02", "2024-01-31")
        table = pq.read_table(cache / f"{ticker}.parquet").to_pandas()
        assert list(pd.to_datetime(table["date"])) == list(dates[keep.to_numpy()])
        np.testing.assert_array_equal(table["close"], frame[("Adj Close", ticker)][keep])
        np.testing.assert_array_equal(table["volume"], frame[("Volume", ticker)][keep])
        meta = json.loads(pq.read_schema(cache / f"{ticker}.parquet").metadata[b"hedgedesk"])
        assert meta["ticker"] == ticker
        assert dt.datetime.fromisoformat(meta["fetched_at"]) == dt.datetime.fromisoformat(
            f["fetched_at"]
        )
    assert fetched["QQQ"]["rows"] == len(dates) - 1


def test_fetch_text_output(capsys, monkeypatch, _isolated_home):
    frame = yfinance_frame(["GLD"], pd.bdate_range("2024-03-01", periods=5))
    monkeypatch.setattr("hedgedesk.core.data.yahoo._yf_download", lambda tickers, start, end: frame)
    rc, out, err = run(capsys, "data", "fetch", "GLD")
    assert rc == 0, err
    cache = _isolated_home / "cache" / "hedgedesk" / "yahoo" / "GLD.parquet"
    assert out == f"GLD: 5 rows 2024-03-01..2024-03-07 -> {cache}\n"


def test_fetch_unknown_ticker_is_one_line(capsys, monkeypatch):
    frame = yfinance_frame(["SPY"], pd.bdate_range("2024-03-01", periods=5))
    monkeypatch.setattr("hedgedesk.core.data.yahoo._yf_download", lambda tickers, start, end: frame)
    err = assert_one_error_line(*run(capsys, "data", "fetch", "SPY", "NOPE"))
    assert "NOPE" in err


def test_fetch_empty_download_is_one_line(capsys, monkeypatch):
    monkeypatch.setattr(
        "hedgedesk.core.data.yahoo._yf_download", lambda tickers, start, end: pd.DataFrame()
    )
    err = assert_one_error_line(*run(capsys, "data", "fetch", "SPY"))
    assert "returned nothing" in err


def test_fetch_start_after_end_never_downloads(capsys, monkeypatch):
    calls = []
    monkeypatch.setattr("hedgedesk.core.data.yahoo._yf_download", lambda *a: calls.append(a))
    err = assert_one_error_line(
        *run(capsys, "data", "fetch", "SPY", "--start", "2024-02-01", "--end", "2024-01-01")
    )
    assert "2024-02-01" in err and "2024-01-01" in err
    assert calls == []


# -- logging -----------------------------------------------------------------------------------
def test_main_installs_one_log_handler(capsys, monkeypatch):
    from hedgedesk.tui.cli.main import log_path

    root = logging.getLogger()
    # an earlier test's main() installed its handler under that test's state folder
    others = [h for h in root.handlers if not getattr(h, "_hedgedesk", False)]
    monkeypatch.setattr(root, "handlers", others)
    for _ in range(3):
        assert run(capsys, "config", "check", "--json")[0] == 0
    ours = [h for h in root.handlers if getattr(h, "_hedgedesk", False)]
    assert len(ours) == 1
    assert isinstance(ours[0], logging.FileHandler) and Path(ours[0].baseFilename) == log_path()
    ours[0].close()


def test_beta_on_monthly_data_speaks_of_months(capsys, tmp_path):
    """The regression is the same; its words follow the data's frequency (alpha per month)."""
    rng = np.random.default_rng(5)
    months = pd.date_range("2012-01-31", periods=60, freq="ME").strftime("%Y-%m-%d")
    prices = pd.DataFrame(
        100 * np.cumprod(1 + rng.normal(0.004, 0.05, (60, 2)), axis=0),
        index=months,
        columns=["A", "B"],
    )
    path = tmp_path / "monthly.csv"
    prices.to_csv(path, index_label="Date")
    argv = ["beta", "--data", str(path), "--asset", "A", "--benchmark", "B"]
    assert main([*argv, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert "OLS with intercept of monthly simple returns" in out["conventions"]
    assert "alpha is per month" in out["conventions"]
    r = prices.pct_change().dropna()
    assert out["beta"] == pytest.approx(np.polyfit(r["B"], r["A"], 1)[0], rel=1e-10)
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "n = 59 monthly returns" in text and "per month" in text and "per day" not in text

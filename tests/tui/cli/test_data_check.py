"""``data check`` and the --yield / --resample flags (issue 17): each series' frequency, periods
per year, date format, what the reader did, and whether it is a yield turned into a bond index.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hedgedesk.tui.cli.main import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def run_json(capsys, *argv: str) -> dict:
    rc, out, err = run(capsys, *argv)
    assert rc == 0, err
    return json.loads(out)


def _files(folder: Path) -> tuple[Path, Path, Path]:
    days = pd.bdate_range("2019-01-01", "2020-12-31")
    rng = np.random.default_rng(7)
    spy = 100 * np.cumprod(1 + rng.normal(0.0004, 0.01, len(days)))
    daily = folder / "SPY.csv"
    daily.write_text(
        "Date,Close\n"
        + "".join(f"{d:%m/%d/%Y},{float(p)!r}\n" for d, p in zip(days, spy, strict=True))
    )
    months = pd.date_range("2019-01-01", "2020-12-01", freq="MS")
    monthly = folder / "rates.csv"
    monthly.write_text(
        "Date,AAA\n"
        + "".join(f"{m.month}/1/{m.year},{3 + 0.05 * i}\n" for i, m in enumerate(months))
    )
    ecb = folder / "ecb.csv"
    ecb.write_text("Date,USD,JPY,\n2020-01-03,1.11,N/A,\n2020-01-02,1.12,120.5,\n")
    return daily, monthly, ecb


def test_data_check_json_shows_frequency_format_and_yield(capsys, tmp_path):
    daily, monthly, ecb = _files(tmp_path)
    obj = run_json(
        capsys, "data", "check", str(daily), str(monthly), str(ecb), "--yield", "AAA=7", "--json"
    )
    assert "conventions" in obj
    by = {s["ticker"]: s for s in obj["series"]}
    assert by["SPY"]["frequency"] == "daily" and by["SPY"]["periods_per_year"] == 252
    assert by["SPY"]["date_format"] == "M/D/YYYY" and by["SPY"]["is_yield"] is False
    assert by["AAA"]["frequency"] == "monthly" and by["AAA"]["periods_per_year"] == 12
    assert by["AAA"]["is_yield"] is True and by["AAA"]["maturity_years"] == 7.0
    assert by["AAA"]["price_field"] == "yield -> bond total return, M=7y"
    assert "read as US month/day" in by["AAA"]["notes"][0]
    assert by["USD"]["notes"] == ["rows newest first in the file: sorted ascending on read"]


def test_data_check_text(capsys, tmp_path):
    _, monthly, ecb = _files(tmp_path)
    rc, out, err = run(capsys, "data", "check", str(monthly), str(ecb), "--yield", "AAA")
    assert rc == 0, err
    assert "frequency" in out.splitlines()[0]
    line = next(s for s in out.splitlines() if s.startswith("AAA"))
    assert "monthly" in line and " 12 " in line
    assert line.endswith("yield -> bond total return, M=10y")
    assert "rows newest first in the file: sorted ascending on read" in out


def test_bad_yield_flag_is_one_line(capsys, tmp_path):
    daily, _, _ = _files(tmp_path)
    for bad in ("AAA=0", "AAA=abc", "=5", "AAA=101"):
        rc, out, err = run(capsys, "data", "check", str(daily), "--yield", bad)
        assert rc == 2 and out == "" and err.count("\n") == 1, (bad, err)
        assert "expected TICKER or TICKER=YEARS" in err


def test_declared_yield_not_in_the_data(capsys, tmp_path):
    daily, _, _ = _files(tmp_path)
    rc, out, err = run(capsys, "data", "check", str(daily), "--yield", "NOPE")
    assert rc == 2 and out == "" and err.count("\n") == 1 and "NOPE declared as yields" in err


def test_mixed_frequencies_refused_then_resampled(capsys, tmp_path):
    daily, monthly, _ = _files(tmp_path)
    argv = ["beta", "--data", str(daily), "--data", str(monthly), "--asset", "AAA"]
    argv += ["--benchmark", "SPY", "--yield", "AAA"]
    rc, out, err = run(capsys, *argv)
    assert rc == 2 and out == "" and err.count("\n") == 1
    assert "mixes daily (SPY) with monthly (AAA) series" in err and "--resample monthly" in err
    obj = run_json(capsys, *argv, "--resample", "monthly", "--json")
    # witness: OLS slope of month-end returns with numpy
    spy = pd.read_csv(daily)
    spy.index = pd.to_datetime(spy["Date"], format="%m/%d/%Y")
    m = spy["Close"].resample("ME").last()
    aaa = pd.read_csv(monthly)
    y = aaa["AAA"].to_numpy() / 100
    dates = pd.to_datetime(aaa["Date"], format="%m/%d/%Y")
    tau = np.diff(dates.to_numpy().astype("datetime64[D]")).astype(int) / 365
    c, yy = y[:-1], y[1:]
    d = (1 + yy / 2) ** (-20.0)
    r_aaa = c / yy * (1 - d) + d - 1 + c * tau
    r_spy = (m / m.shift(1) - 1).to_numpy()[1:]
    slope = np.polyfit(r_spy, r_aaa, 1)[0]
    assert obj["beta"] == pytest.approx(slope, rel=1e-9)

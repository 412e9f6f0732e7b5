"""Yield series (issue 17, CONVENTIONS "Yields and FX"): declared or detected from a FRED
``DGSn`` / ``DGSnMO`` header, turned into a constant-maturity bond's total-return index that
starts at 1.0. Witness: a plain-Python loop of the CONVENTIONS formula.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from hedgedesk.core.config import parse_config
from hedgedesk.core.data.market import MarketData, Series
from hedgedesk.core.data.price_files import load_paths, read_file
from hedgedesk.core.data.sources import load_market
from hedgedesk.core.data.yields import (
    bond_series,
    fred_maturity,
    par_bond_price,
    with_yields,
    yield_label,
)
from hedgedesk.core.errors import DataError


def _loop_index(dates: list[dt.date], percent: list[float], m: float) -> list[float]:
    """CONVENTIONS' formula, one period at a time, in plain Python."""
    index = [1.0]
    for i in range(1, len(percent)):
        c, y = percent[i - 1] / 100.0, percent[i] / 100.0
        if y == 0:
            price = m * c + 1.0
        else:
            discount = (1.0 + y / 2.0) ** (-2.0 * m)
            price = c / y * (1.0 - discount) + discount
        tau = (dates[i] - dates[i - 1]).days / 365.0
        index.append(index[-1] * (1.0 + price - 1.0 + c * tau))
    return index


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _dates(s) -> list[dt.date]:
    return s.dates.astype(dt.date).tolist()


def test_fred_names():
    assert fred_maturity("DGS10") == 10.0
    assert fred_maturity("DGS30") == 30.0
    assert fred_maturity("DGS3MO") == 0.25
    assert fred_maturity("DGS1MO") == pytest.approx(1 / 12)
    for name in ("DGS", "DGS0", "DGS10X", "AAA", "dgs10", "DCOILWTICO"):
        assert fred_maturity(name) is None


def test_par_bond_is_worth_face_and_the_zero_yield_limit():
    y = np.array([0.05, 0.0, 1e-9, -0.01])
    np.testing.assert_allclose(par_bond_price(y, y, 10.0), 1.0, rtol=0, atol=1e-14)
    c = np.full(4, 0.03)
    # the c / y term tends to M * c as y -> 0
    np.testing.assert_allclose(par_bond_price(c, np.array([0.0, 1e-12, -1e-12, 1e-9]), 10), 1.3)


def test_detected_fred_file_with_a_zero_yield_and_missing_cells(tmp_path):
    text = (
        "observation_date,DGS10\n2020-01-02,1.88\n2020-01-03,.\n2020-01-06,0\n"
        "2020-01-07,0.00\n2020-01-08,0.25\n2020-02-10,-0.1\n2020-02-11,2.5\n"
    )
    (s,) = read_file(_write(tmp_path / "DGS10.csv", text))
    assert s.maturity == 10.0 and s.price_field == yield_label(10.0)
    assert s.price_field == "yield -> bond total return, M=10y"
    days = [
        dt.date(2020, 1, 2),
        dt.date(2020, 1, 6),
        dt.date(2020, 1, 7),
        dt.date(2020, 1, 8),
        dt.date(2020, 2, 10),
        dt.date(2020, 2, 11),
    ]
    assert _dates(s) == days
    want = _loop_index(days, [1.88, 0.0, 0.0, 0.25, -0.1, 2.5], 10.0)
    assert s.close[0] == 1.0
    np.testing.assert_allclose(s.close, want, rtol=0, atol=1e-12)
    # across two zero yields the bond just holds its value (no coupon, P = 1)
    assert s.close[2] == pytest.approx(s.close[1], abs=1e-15)


def test_detected_short_maturity_from_a_date_header(tmp_path):
    text = "DATE,DGS3MO\n2020-01-02,1.5\n2020-01-03,1.6\n2020-01-06,1.55\n"
    (s,) = read_file(_write(tmp_path / "t.csv", text))
    assert s.maturity == 0.25
    days = _dates(s)
    np.testing.assert_allclose(s.close, _loop_index(days, [1.5, 1.6, 1.55], 0.25), atol=1e-14)


def test_a_price_file_named_like_a_yield_stays_a_price(tmp_path):
    (s,) = read_file(_write(tmp_path / "DGS10.csv", "Date,Close\n2020-01-02,5\n2020-01-03,6\n"))
    assert s.maturity is None and s.close.tolist() == [5.0, 6.0]


def test_declared_yield_with_a_zero_is_not_a_non_positive_price(tmp_path):
    path = _write(tmp_path / "y.csv", "Date,Y,P\n2020-01-02,0,1\n2020-01-03,0.5,2\n")
    with pytest.raises(DataError, match="non-positive price 0 for Y"):
        load_paths([path])
    market = load_paths([path], yields={"Y": 5.0})
    y = market.get("Y")
    assert y.maturity == 5.0 and market.get("P").maturity is None
    days = _dates(y)
    np.testing.assert_allclose(y.close, _loop_index(days, [0.0, 0.5], 5.0), atol=1e-15)


def test_declared_yield_missing_from_the_data(tmp_path):
    path = _write(tmp_path / "p.csv", "Date,P\n2020-01-02,1\n2020-01-03,2\n")
    with pytest.raises(DataError, match="NOPE declared as yields but not in the data"):
        load_paths([path], yields={"NOPE": 10.0})


def test_yield_at_or_below_minus_100_percent_is_refused(tmp_path):
    path = _write(tmp_path / "DGS10.csv", "DATE,DGS10\n2020-01-02,1\n2020-01-03,-100\n")
    with pytest.raises(DataError, match=r"yield -100 % for DGS10 on 2020-01-03"):
        read_file(path)


def test_with_yields_on_loaded_series():
    days = np.array(["2020-01-01", "2020-02-01", "2020-03-01"], dtype="datetime64[D]")
    market = MarketData.from_series([Series("Y", days, np.array([2.0, 3.0, 2.5]), None, "t", "c")])
    assert with_yields(market, {}) is market
    got = with_yields(market, {"Y": 7.0}).get("Y")
    want = _loop_index(days.astype(dt.date).tolist(), [2.0, 3.0, 2.5], 7.0)
    np.testing.assert_allclose(got.close, want, rtol=1e-14)
    assert got.frequency == "monthly"
    with pytest.raises(DataError, match="maturity 0"):
        bond_series(market.get("Y"), 0.0)


def test_moody_file_against_the_loop(shared_data):
    path = shared_data / "rates" / "moody_aaa_baa_monthly.csv"
    market = load_paths([path], yields={"AAA": 10.0, "BAA": 20.0})
    raw = {s.ticker: s for s in read_file(path, {})}  # as prices: the yields themselves
    for ticker, m in (("AAA", 10.0), ("BAA", 20.0)):
        got = market.get(ticker)
        assert got.price_field == f"yield -> bond total return, M={m:g}y"
        assert got.frequency == "monthly" and market.periods_per_year([ticker]) == 12
        days = _dates(got)
        want = _loop_index(days, raw[ticker].close.tolist(), m)
        assert got.close[0] == 1.0 and len(got.close) == 1200
        np.testing.assert_allclose(got.close, want, rtol=1e-11, atol=0)


def test_config_yields_and_resample_end_to_end(tmp_path, shared_data):
    (tmp_path / "prices").mkdir()
    for name in ("rates/moody_aaa_baa_monthly.csv", "index/VIX.csv"):
        (tmp_path / "prices" / Path(name).name).write_bytes((shared_data / name).read_bytes())
    text = (
        '[data]\nsource = "files"\npaths = ["prices"]\nbenchmark = "vix"\n'
        'resample = "monthly"\nyields = { AAA = 10, BAA = 10 }\n'
        "[targets]\nbeta = 0.0\n[book]\n"
    )
    cfg = parse_config(text, tmp_path / "desk.toml")
    assert cfg.data.yields == {"AAA": 10.0, "BAA": 10.0} and cfg.data.resample == "monthly"
    market = load_market(cfg)
    assert market.get("AAA").maturity == 10.0
    assert market.periods_per_year(["vix", "AAA", "BAA"]) == 12
    assert len(market.returns(["vix", "AAA"])) == 59

"""Price-file readers: every accepted layout, every rejected input (message names file, line and
problem), and the real shared data checked against an independent pandas read.
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hedgedesk.core.data import price_files
from hedgedesk.core.data.price_files import load_paths, read_csv, read_file
from hedgedesk.core.errors import DataError

D = dt.date


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _by_ticker(series) -> dict:
    return {s.ticker: s for s in series}


def _dates(s) -> list[dt.date]:
    return s.dates.astype(dt.date).tolist()


def _expect_error(path: Path, line: int | None, *fragments: str):
    """Load ``path``; check the DataError names the file, the line and the problem."""
    with pytest.raises(DataError) as info:
        load_paths([path])
    exc = info.value
    assert exc.where == str(path)
    assert exc.line == line
    msg = str(exc)
    prefix = f"{path}:{line}: " if line is not None else f"{path}: "
    assert msg.startswith(prefix), msg
    for frag in fragments:
        assert frag in msg, (frag, msg)
    return exc


# -- accepted layouts ---------------------------------------------------------------------------
def test_wide_csv(tmp_path):
    path = _write(
        tmp_path / "book.csv",
        "Date,AAA,BBB\n"
        "2020-01-02,10.5,200\n"
        "2020-01-03,,201.25\n"  # AAA has no row that day
        "2020-01-06,11,202\n",
    )
    got = _by_ticker(read_file(path))
    assert list(got) == ["AAA", "BBB"]
    assert _dates(got["AAA"]) == [D(2020, 1, 2), D(2020, 1, 6)]
    assert got["AAA"].close.tolist() == [10.5, 11.0]
    assert _dates(got["BBB"]) == [D(2020, 1, 2), D(2020, 1, 3), D(2020, 1, 6)]
    assert got["BBB"].close.tolist() == [200.0, 201.25, 202.0]
    assert got["AAA"].volume is None
    assert got["AAA"].calendar == "exchange"
    assert got["BBB"].source == str(path)
    assert got["BBB"].close.dtype == np.float64


def test_long_csv_with_volume(tmp_path):
    path = _write(
        tmp_path / "long.csv",
        "date,ticker,close,volume\n"
        "2020-01-02,AAA,1.5,100\n"
        "2020-01-02,BBB,20,\n"  # unknown volume: NaN
        "2020-01-03,AAA,1.75,300\n"
        "2020-01-03,BBB,21,400\n",
    )
    got = _by_ticker(read_file(path))
    assert sorted(got) == ["AAA", "BBB"]
    assert _dates(got["AAA"]) == [D(2020, 1, 2), D(2020, 1, 3)]
    assert got["AAA"].close.tolist() == [1.5, 1.75]
    assert got["AAA"].volume.tolist() == [100.0, 300.0]
    assert np.isnan(got["BBB"].volume[0]) and got["BBB"].volume[1] == 400.0
    assert got["BBB"].close.tolist() == [20.0, 21.0]


def test_long_csv_without_volume_symbol_and_adj_close(tmp_path):
    path = _write(
        tmp_path / "long.csv",
        "Date,Symbol,Close,Adj Close\n2020-01-02,AAA,9,1.5\n2020-01-03,AAA,9,1.25\n",
    )
    (s,) = read_file(path)
    assert s.ticker == "AAA"
    assert s.close.tolist() == [1.5, 1.25]  # the adjusted close wins over Close
    assert s.price_field == "adjusted close"
    assert s.volume is None


SHARED_ETF_STYLE = (
    "Price,Price,Close,High,Low,Open,Volume\n"
    "Ticker,SPY,SPY,SPY,SPY,SPY,SPY\n"
    "Ticker,SPY,SPY,SPY,SPY,SPY,SPY\n"
    "Date,,,,,,\n"
    "2020-01-02 00:00:00,300.5,324.87,324.89,322.53,323.54,59151200\n"
    "2020-01-03 00:00:00,298.25,322.41,323.64,321.1,321.16,77709700\n"
)


def test_yfinance_multirow_header_like_shared_etf_files(tmp_path):
    path = _write(tmp_path / "whatever.csv", SHARED_ETF_STYLE)
    (s,) = read_file(path)
    assert s.ticker == "SPY"  # from the Ticker row
    assert _dates(s) == [D(2020, 1, 2), D(2020, 1, 3)]
    assert s.close.tolist() == [300.5, 298.25]  # the column named "Price" is the adjusted close
    assert s.volume.tolist() == [59151200.0, 77709700.0]
    assert s.price_field.startswith("adjusted close")


def test_yfinance_adj_close_header(tmp_path):
    path = _write(
        tmp_path / "AAPL.csv",
        "Price,Adj Close,Close,High,Low,Open,Volume\n"
        "Ticker,AAPL,AAPL,AAPL,AAPL,AAPL,AAPL\n"
        "Date,,,,,,\n"
        "2020-01-02,72.5,75.09,75.15,73.8,74.06,135480400\n"
        "2020-01-03,71.75,74.36,75.14,74.13,74.29,146322800\n",
    )
    (s,) = read_file(path)
    assert s.ticker == "AAPL"
    assert s.close.tolist() == [72.5, 71.75]
    assert s.volume.tolist() == [135480400.0, 146322800.0]
    assert "Adj Close" in s.price_field


def test_ohlcv_file_ticker_from_name(tmp_path):
    path = _write(
        tmp_path / "MSFT.csv",
        "Date,Open,High,Low,Close,Volume\n"
        "2013-01-02,27.25,27.73,27.15,27.62,52899300\n"
        "2013-01-03,27.63,27.65,27.16,27.25,48294400\n"
        "2013-01-04,27.27,27.34,26.73,26.74,52521100\n",
    )
    (s,) = read_file(path)
    assert s.ticker == "MSFT"
    assert _dates(s) == [D(2013, 1, 2), D(2013, 1, 3), D(2013, 1, 4)]
    assert s.close.tolist() == [27.62, 27.25, 26.74]  # Close, not Open/High/Low
    assert s.volume.tolist() == [52899300.0, 48294400.0, 52521100.0]
    assert s.price_field == "close"


def test_adj_close_file_seven_day(tmp_path):
    rows = "".join(f"2021-01-{d:02d},{100 + d}.5\n" for d in range(1, 22))
    path = _write(tmp_path / "BTC-USD.csv", "Date,Adj_Close\n" + rows)
    (s,) = read_file(path)
    assert s.ticker == "BTC-USD"
    assert len(s.dates) == 21
    assert _dates(s)[0] == D(2021, 1, 1) and _dates(s)[-1] == D(2021, 1, 21)
    assert s.close[0] == 101.5 and s.close[-1] == 121.5
    assert s.volume is None
    assert s.price_field == "adjusted close"
    assert s.calendar == "7day"


def test_gzip_csv(tmp_path):
    path = tmp_path / "QQQ.csv.gz"
    path.write_bytes(gzip.compress(b"Date,Close\n2020-01-02,216.16\n2020-01-03,214.18\n"))
    (s,) = read_file(path)
    assert s.ticker == "QQQ"
    assert s.close.tolist() == [216.16, 214.18]


def test_a_truncated_gzip_file_is_one_data_error(tmp_path):
    path = tmp_path / "QQQ.csv.gz"
    path.write_bytes(gzip.compress(b"Date,Close\n2020-01-02,216.16\n" * 50)[:-12])
    with pytest.raises(DataError, match=r"QQQ\.csv\.gz.*not a readable gzip file"):
        read_file(path)


def test_a_gzip_file_of_several_members_reads_whole(tmp_path):
    path = tmp_path / "QQQ.csv.gz"
    path.write_bytes(
        gzip.compress(b"Date,Close\n2020-01-02,1\n") + gzip.compress(b"2020-01-03,2\n")
    )
    (s,) = read_file(path)
    assert s.close.tolist() == [1.0, 2.0]


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(price_files, "PRICE_MAX_BYTES", 60)
    body = b"Date,Close\n" + b"2020-01-02,216.16\n" * 10  # 191 bytes
    big = _write(tmp_path / "QQQ.csv", body.decode())
    with pytest.raises(DataError, match=r"QQQ\.csv: is 191 bytes, over the 60 bytes limit"):
        read_file(big)
    bomb = tmp_path / "BOMB.csv.gz"  # 50 bytes packed, 191 unpacked
    bomb.write_bytes(gzip.compress(body))
    with pytest.raises(DataError, match=r"BOMB\.csv\.gz: unpacks to over the 60 bytes limit"):
        read_file(bomb)


def test_bom_blank_lines_and_iso_times(tmp_path):
    path = tmp_path / "X.csv"
    path.write_bytes("\ufeffDate,Close\n\n2020-01-02T16:00:00-05:00,1.5\n\n2020-01-03,2\n".encode())
    (s,) = read_file(path)
    assert _dates(s) == [D(2020, 1, 2), D(2020, 1, 3)]
    assert s.close.tolist() == [1.5, 2.0]


def test_parquet_wide_with_date_index(tmp_path):
    frame = pd.DataFrame(
        {"AAA": [1.5, 1.75, 2.0], "BBB": [10.0, 11.0, 12.5]},
        index=pd.DatetimeIndex(["2020-01-02", "2020-01-03", "2020-01-06"]),
    )
    path = tmp_path / "wide.parquet"
    frame.to_parquet(path)
    got = _by_ticker(read_file(path))
    assert list(got) == ["AAA", "BBB"]
    assert _dates(got["AAA"]) == [D(2020, 1, 2), D(2020, 1, 3), D(2020, 1, 6)]
    assert got["AAA"].close.tolist() == [1.5, 1.75, 2.0]
    assert got["BBB"].close.tolist() == [10.0, 11.0, 12.5]


def test_parquet_wide_date_column_exact_floats(tmp_path):
    values = [0.1 + 0.2, 1 / 3, 2 / 3]  # must survive to the last bit
    frame = pd.DataFrame(
        {"Date": pd.to_datetime(["2020-01-02", "2020-01-03", "2020-01-06"]), "AAA": values}
    )
    path = tmp_path / "wide.parquet"
    frame.to_parquet(path, index=False)
    (s,) = read_file(path)
    assert s.close.tolist() == values


def test_parquet_long(tmp_path):
    frame = pd.DataFrame(
        {
            "date": pd.to_datetime(["2020-01-02", "2020-01-02", "2020-01-03", "2020-01-03"]),
            "ticker": ["AAA", "BBB", "AAA", "BBB"],
            "close": [1.5, 20.0, 1.25, 21.0],
            "volume": [100.0, 200.0, 300.0, 400.0],
        }
    )
    path = tmp_path / "long.parquet"
    frame.to_parquet(path, index=False)
    got = _by_ticker(read_file(path))
    assert sorted(got) == ["AAA", "BBB"]
    assert _dates(got["BBB"]) == [D(2020, 1, 2), D(2020, 1, 3)]
    assert got["AAA"].close.tolist() == [1.5, 1.25]
    assert got["BBB"].volume.tolist() == [200.0, 400.0]


def test_folder_of_files(tmp_path):
    folder = tmp_path / "prices"
    folder.mkdir()
    _write(folder / "AAA.csv", "Date,Close\n2020-01-02,1\n2020-01-03,2\n")
    (folder / "BBB.csv.gz").write_bytes(gzip.compress(b"Date,Close\n2020-01-02,3\n"))
    pd.DataFrame({"CCC": [5.0]}, index=pd.DatetimeIndex(["2020-01-02"])).to_parquet(
        folder / "ccc.parquet"
    )
    _write(folder / "README.md", "not a price file\n")
    (folder / "sub").mkdir()  # not recursed into
    _write(folder / "sub" / "DDD.csv", "Date,Close\n2020-01-02,4\n")
    md = load_paths([folder])
    assert sorted(md.tickers) == ["AAA", "BBB", "CCC"]
    assert md.get("AAA").close.tolist() == [1.0, 2.0]
    assert md.get("BBB").close.tolist() == [3.0]
    assert md.get("CCC").close.tolist() == [5.0]


# -- rejected inputs ----------------------------------------------------------------------------
def test_missing_file(tmp_path):
    _expect_error(tmp_path / "nope.csv", None, "file not found")
    _expect_error(tmp_path / "nope.parquet", None, "file not found")


def test_empty_file(tmp_path):
    _expect_error(_write(tmp_path / "e.csv", ""), None, "empty file")
    _expect_error(_write(tmp_path / "blank.csv", "\n \n,,\n"), None, "empty file")


def test_header_only(tmp_path):
    _expect_error(_write(tmp_path / "h.csv", "Date,Close\n"), None, "no data rows")


def test_unparsable_date(tmp_path):
    path = _write(tmp_path / "X.csv", "Date,Close\n2020-01-02,1\n2020-01-03,2\n2020-13-01,3\n")
    _expect_error(path, 4, "unparsable date '2020-13-01'", "YYYY-MM-DD")
    # issue 17: slashed dates are read; 13/13 is D/M/YYYY with no month 13
    path = _write(tmp_path / "Y.csv", "Date,Close\n13/13/2020,1\n")
    _expect_error(path, 2, "unparsable date '13/13/2020'", "D/M/YYYY")


def test_unparsable_date_on_a_row_with_only_empty_cells(tmp_path):
    # a wide file's empty cells mean "no row that day", but the date itself must still parse
    path = _write(tmp_path / "w.csv", "Date,AAA,BBB\n2020-01-02,1,2\ngarbage,,\n2020-01-06,1,2\n")
    _expect_error(path, 3, "unparsable date 'garbage'")


def test_duplicate_date(tmp_path):
    path = _write(
        tmp_path / "X.csv", "Date,Close\n2020-01-02,1\n2020-01-03,2\n2020-01-03,2\n2020-01-06,3\n"
    )
    _expect_error(path, 4, "duplicate date 2020-01-03", "for X")


def test_unsorted_dates(tmp_path):
    path = _write(tmp_path / "X.csv", "Date,Close\n2020-01-02,1\n2020-01-06,2\n2020-01-03,2\n")
    _expect_error(path, 4, "not in ascending order", "2020-01-03 after 2020-01-06")


def test_non_numeric_price(tmp_path):
    path = _write(tmp_path / "X.csv", "Date,Close\n2020-01-02,1\n2020-01-03,1.2.3\n")
    _expect_error(path, 3, "non-numeric price", "'1.2.3'")


def test_non_numeric_price_in_wide_file_names_ticker(tmp_path):
    path = _write(tmp_path / "w.csv", "Date,AAA,BBB\n2020-01-02,1,2\n2020-01-03,1,abc\n")
    _expect_error(path, 3, "non-numeric price for BBB", "'abc'")


@pytest.mark.parametrize(("cell", "shown"), [("0", "0"), ("-1.5", "-1.5")])
def test_non_positive_price(tmp_path, cell, shown):
    path = _write(
        tmp_path / "X.csv", f"Date,Close\n2020-01-02,1\n2020-01-03,2\n2020-01-06,{cell}\n"
    )
    _expect_error(path, 4, f"non-positive price {shown} for X")


def test_infinite_price(tmp_path):
    path = _write(tmp_path / "X.csv", "Date,Close\n2020-01-02,inf\n")
    _expect_error(path, 2, "non-finite price")


def test_missing_price_single_ticker_file(tmp_path):
    path = _write(
        tmp_path / "X.csv",
        "Date,Open,High,Low,Close,Volume\n2020-01-02,1,1,1,1,10\n2020-01-03,1,1,1,,10\n",
    )
    _expect_error(path, 3, "missing price for X")


def test_missing_price_yfinance_file_counts_header_lines(tmp_path):
    lines = SHARED_ETF_STYLE.splitlines()
    lines.append("2020-01-06 00:00:00,,1,1,1,1,5")  # line 7
    path = _write(tmp_path / "SPY.csv", "\n".join(lines) + "\n")
    _expect_error(path, 7, "missing price for SPY")


def test_missing_price_long_file(tmp_path):
    path = _write(
        tmp_path / "long.csv",
        "date,ticker,close\n2020-01-02,AAA,1\n2020-01-02,BBB,2\n2020-01-03,BBB,NaN\n",
    )
    _expect_error(path, 4, "missing price for BBB")


def test_negative_volume(tmp_path):
    path = _write(tmp_path / "X.csv", "Date,Close,Volume\n2020-01-02,1,5\n2020-01-03,1,-5\n")
    _expect_error(path, 3, "negative volume")


def test_unrecognised_header(tmp_path):
    path = _write(tmp_path / "X.csv", "Name,Close\n2020-01-02,1\n")
    _expect_error(path, 1, "unrecognised header", "'Name'")
    # leading blank lines: the header is on line 3
    path = _write(tmp_path / "Y.csv", "\n\nfoo,bar\n2020-01-02,1\n")
    _expect_error(path, 3, "unrecognised header", "'foo'")


def test_no_price_column(tmp_path):
    path = _write(tmp_path / "long.csv", "date,ticker,last\n2020-01-02,AAA,1\n")
    _expect_error(path, 1, "no price column")


def test_wide_duplicate_ticker_column(tmp_path):
    path = _write(tmp_path / "w.csv", "Date,AAA,AAA\n2020-01-02,1,2\n")
    _expect_error(path, 1, "ticker AAA appears in two columns")


def test_long_csv_missing_ticker(tmp_path):
    path = _write(
        tmp_path / "long.csv",
        "date,ticker,close\n2020-01-02,AAA,1\n2020-01-03,,2\n2020-01-06,AAA,3\n",
    )
    _expect_error(path, 3, "missing ticker")


def test_gzip_errors_have_line_numbers(tmp_path):
    path = tmp_path / "X.csv.gz"
    path.write_bytes(gzip.compress(b"Date,Close\n2020-01-02,1\n2020-01-02,2\n"))
    _expect_error(path, 3, "duplicate date 2020-01-02")
    bad = tmp_path / "Y.csv.gz"
    bad.write_bytes(b"Date,Close\n2020-01-02,1\n")  # not actually compressed
    _expect_error(bad, None, "not a gzip file (no gzip signature at its start)")


def test_not_utf8(tmp_path):
    path = tmp_path / "X.csv"
    path.write_bytes(b"Date,Close\n2020-01-02,\xff\n")
    _expect_error(path, None, "not UTF-8")


def test_folder_without_price_files(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    _write(folder / "notes.txt", "Date,Close\n2020-01-02,1\n")
    exc = _expect_error(folder, None, "folder has no price files")
    assert exc.where == str(folder)


def test_same_ticker_from_two_files(tmp_path):
    a = _write(tmp_path / "AAA.csv", "Date,Close\n2020-01-02,1\n")
    b = _write(tmp_path / "book.csv", "Date,AAA\n2020-01-02,1\n")
    with pytest.raises(DataError) as info:
        load_paths([a, b])
    msg = str(info.value)
    assert msg.startswith(f"{b}: ")
    assert "ticker AAA" in msg and str(a) in msg


def test_parquet_bad_row_is_numbered(tmp_path):
    frame = pd.DataFrame(
        {
            "date": ["2020-01-02", "2020-01-03", "2020-01-06"],
            "ticker": ["AAA", "AAA", "AAA"],
            "close": [1.0, 2.0, -3.0],
        }
    )
    path = tmp_path / "long.parquet"
    frame.to_parquet(path, index=False)
    exc = _expect_error(path, None, "row 3: ", "non-positive price -3 for AAA")
    assert exc.line is None


def test_parquet_duplicate_date_row(tmp_path):
    frame = pd.DataFrame({"AAA": [1.0, 2.0]}, index=pd.DatetimeIndex(["2020-01-02", "2020-01-02"]))
    path = tmp_path / "wide.parquet"
    frame.to_parquet(path)
    _expect_error(path, None, "row 2: duplicate date 2020-01-02 for AAA")


def test_parquet_unreadable_and_without_dates(tmp_path):
    bad = _write(tmp_path / "bad.parquet", "not parquet")
    _expect_error(bad, None, "not a readable Parquet file")
    nodate = tmp_path / "nodate.parquet"
    pd.DataFrame({"AAA": [1.0]}).to_parquet(nodate, index=False)
    _expect_error(nodate, None, "no date column")


def test_parquet_missing_price_long(tmp_path):
    frame = pd.DataFrame(
        {
            "date": ["2020-01-02", "2020-01-03"],
            "ticker": ["AAA", "AAA"],
            "close": [1.0, None],
        }
    )
    path = tmp_path / "long.parquet"
    frame.to_parquet(path, index=False)
    _expect_error(path, None, "row 2: missing price for AAA")


def test_parquet_wide_with_holes(tmp_path):
    # A wide frame's NaN means "no row that day", exactly as an empty cell in a wide CSV.
    frame = pd.DataFrame(
        {"AAA": [1.0, np.nan, 3.0], "BBB": [5.0, 6.0, 7.0]},
        index=pd.DatetimeIndex(["2020-01-02", "2020-01-03", "2020-01-06"]),
    )
    path = tmp_path / "wide.parquet"
    frame.to_parquet(path)
    got = _by_ticker(read_file(path))
    assert _dates(got["AAA"]) == [D(2020, 1, 2), D(2020, 1, 6)]
    assert got["AAA"].close.tolist() == [1.0, 3.0]


def test_parquet_header_error_has_no_line(tmp_path):
    frame = pd.DataFrame({"date": ["2020-01-02"], "ticker": ["AAA"], "last": [1.0]})
    path = tmp_path / "long.parquet"
    frame.to_parquet(path, index=False)
    _expect_error(path, None, "no price column")


def test_long_csv_unnamed_first_column_is_the_date(tmp_path):
    # pandas writes an unnamed index as an empty header cell: that column holds the dates
    path = _write(tmp_path / "long.csv", ",ticker,close\n2020-01-02,AAA,1\n2020-01-03,AAA,2\n")
    got = _by_ticker(read_csv(path))
    assert _dates(got["AAA"]) == [D(2020, 1, 2), D(2020, 1, 3)]
    bad = _write(tmp_path / "bad.csv", ",ticker,close\nnot-a-date,AAA,1\n")
    _expect_error(bad, 2, "unparsable date 'not-a-date'")


def test_parquet_date_objects_in_the_index(tmp_path):
    frame = pd.DataFrame(
        {"AAA": [1.0, 2.0]}, index=pd.Index([D(2020, 1, 2), D(2020, 1, 3)], name="date")
    )
    path = tmp_path / "dates.parquet"
    frame.to_parquet(path)
    got = _by_ticker(read_file(path))
    assert _dates(got["AAA"]) == [D(2020, 1, 2), D(2020, 1, 3)]
    assert got["AAA"].close.tolist() == [1.0, 2.0]


# -- real shared data ---------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _load_shared(root: Path):
    return load_paths([root / "etf", root / "mag7", root / "crypto"])


def _independent_read(path: Path) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Dates and prices of one shared file, read by pandas alone."""
    folder = path.parent.name
    if folder == "etf":  # 4 header lines; column 1 ("Price") is the adjusted close
        frame = pd.read_csv(path, header=None, skiprows=4)
        return pd.DatetimeIndex(pd.to_datetime(frame[0])), frame[1].to_numpy()
    frame = pd.read_csv(path)
    col = "Close" if folder == "mag7" else "Adj_Close"
    return pd.DatetimeIndex(pd.to_datetime(frame["Date"])), frame[col].to_numpy()


def test_shared_data_loads_exactly(shared_data):
    md = _load_shared(shared_data)
    files = sorted(
        p for sub in ("etf", "mag7", "crypto") for p in (shared_data / sub).glob("*.csv")
    )
    assert len(files) == 30
    assert len(md.tickers) == 30
    assert sorted(md.tickers) == sorted(p.stem for p in files)
    for path in files:
        s = md.get(path.stem)
        dates, prices = _independent_read(path)
        assert len(s.dates) == len(dates), path.name
        assert _dates(s)[0] == dates[0].date(), path.name
        assert _dates(s)[-1] == dates[-1].date(), path.name
        np.testing.assert_array_equal(s.close, prices, err_msg=path.name)
        report = md.report(path.stem)
        assert report.gaps == (), (path.name, report.gaps[:3])
        assert report.off_calendar == 0, path.name
        expected_calendar = "7day" if path.parent.name == "crypto" else "exchange"
        assert report.calendar == expected_calendar, path.name


def test_shared_data_known_facts(shared_data):
    md = _load_shared(shared_data)
    aapl = md.report("AAPL")  # README: 2013-01-02..2023-12-29, 2768 rows
    assert (aapl.first, aapl.last, aapl.rows) == (D(2013, 1, 2), D(2023, 12, 29), 2768)
    assert aapl.has_volume
    assert md.report("SPY").last == D(2025, 9, 26)
    assert md.report("BTC-USD").first == D(2014, 9, 17)
    assert md.report("ETH-USD").first == D(2017, 11, 9)
    assert md.report("BTC-USD").last == md.report("ETH-USD").last == D(2025, 9, 30)
    assert not md.report("BTC-USD").has_volume


# -- inputs found in the wild --------------------------------------------------------------------
def test_carriage_return_line_endings(tmp_path):
    path = tmp_path / "cr.csv"
    path.write_bytes(b"Date,Close\r2020-01-02,1\r2020-01-03,2\r")
    got = _by_ticker(read_file(path))["cr"]
    assert _dates(got) == [D(2020, 1, 2), D(2020, 1, 3)]
    assert got.close.tolist() == [1.0, 2.0]


def test_malformed_csv_field_is_a_data_error(tmp_path):
    path = _write(tmp_path / "big.csv", 'Date,Close\n2020-01-02,"' + "1" * 200_000 + '"\n')
    _expect_error(path, 2, "malformed CSV")


def test_semicolon_file_gets_a_delimiter_hint(tmp_path):
    path = _write(tmp_path / "semi.csv", "Date;Close\n2020-01-02;1\n")
    _expect_error(path, 1, "semicolon-delimited")


# issue 17: M/D/YYYY and D/M/YYYY are read (tests/core/data/test_date_formats.py); a two-digit
# year is not
@pytest.mark.parametrize("text", ["20200102", "2020-W01-4", "2020/01/02", "02/01/20"])
def test_only_iso_dates_are_accepted(tmp_path, text):
    path = _write(tmp_path / "d.csv", f"Date,Close\n{text},1\n")
    _expect_error(path, 2, f"unparsable date {text!r}")


def test_underscored_number_is_not_a_price(tmp_path):
    path = _write(tmp_path / "u.csv", "Date,Close\n2020-01-02,1_000\n")
    _expect_error(path, 2, "non-numeric price for u '1_000'")


def test_parquet_single_ticker_named_by_file(tmp_path):
    frame = pd.DataFrame(
        {
            "date": pd.bdate_range("2020-01-02", periods=3),
            "Adj Close": [1.0, 2.0, 3.0],
            "Volume": [10.0, 20.0, 30.0],
        }
    )
    path = tmp_path / "QQQ.parquet"
    frame.to_parquet(path, index=False)
    got = _by_ticker(read_file(path))
    assert list(got) == ["QQQ"]  # not "Adj Close" and "Volume" as two tickers
    assert got["QQQ"].close.tolist() == [1.0, 2.0, 3.0]
    assert got["QQQ"].volume.tolist() == [10.0, 20.0, 30.0]


def test_parquet_with_yfinance_column_levels(tmp_path):
    cols = pd.MultiIndex.from_tuples(
        [("Adj Close", "SPY"), ("Close", "SPY"), ("Volume", "SPY")], names=["Price", "Ticker"]
    )
    frame = pd.DataFrame(
        [[1.0, 1.1, 100.0], [2.0, 2.2, 200.0]],
        columns=cols,
        index=pd.DatetimeIndex(["2020-01-02", "2020-01-03"], name="Date"),
    )
    path = tmp_path / "yf.parquet"
    frame.to_parquet(path)
    got = _by_ticker(read_file(path))["SPY"]
    assert got.close.tolist() == [1.0, 2.0]  # the adjusted close, not Close
    assert got.volume.tolist() == [100.0, 200.0]


# -- reading only what is asked for ---------------------------------------------------------
def _spy_reads(monkeypatch) -> list[str]:
    """Record the name of every file price_files.read_file opens."""
    import hedgedesk.core.data.price_files as price_files

    opened: list[str] = []
    real = price_files.read_file

    def spy(path: Path, yields=price_files.NO_YIELDS):
        opened.append(Path(path).name)
        return real(path, yields)

    monkeypatch.setattr(price_files, "read_file", spy)
    return opened


def _folder_of_four(tmp_path: Path) -> Path:
    folder = tmp_path / "prices"
    folder.mkdir()
    for name in ("AAA", "BBB", "CCC"):
        _write(folder / f"{name}.csv", "Date,Close\n2020-01-02,1\n2020-01-03,2\n")
    _write(folder / "book.csv", "Date,DDD,EEE\n2020-01-02,1,2\n2020-01-03,2,3\n")
    return folder


def test_folder_reads_only_the_files_of_the_asked_tickers(tmp_path, monkeypatch):
    folder = _folder_of_four(tmp_path)
    opened = _spy_reads(monkeypatch)
    md = load_paths([folder], tickers=["AAA", "CCC"])
    assert sorted(opened) == ["AAA.csv", "CCC.csv"]
    assert sorted(md.tickers) == ["AAA", "CCC"]
    assert md.get("CCC").close.tolist() == [1.0, 2.0]


def test_folder_reads_the_rest_when_an_asked_ticker_is_elsewhere(tmp_path, monkeypatch):
    folder = _folder_of_four(tmp_path)
    opened = _spy_reads(monkeypatch)
    md = load_paths([folder], tickers=["AAA", "EEE"])  # EEE sits in the wide book.csv
    assert sorted(opened) == ["AAA.csv", "BBB.csv", "CCC.csv", "book.csv"]
    assert md.get("EEE").close.tolist() == [2.0, 3.0]


def test_named_files_are_always_read_and_no_tickers_reads_everything(tmp_path, monkeypatch):
    folder = _folder_of_four(tmp_path)
    opened = _spy_reads(monkeypatch)
    md = load_paths([folder / "BBB.csv", folder], tickers=["AAA"])
    assert sorted(opened) == ["AAA.csv", "BBB.csv"]
    assert sorted(md.tickers) == ["AAA", "BBB"]
    opened.clear()
    assert sorted(load_paths([folder]).tickers) == ["AAA", "BBB", "CCC", "DDD", "EEE"]
    assert len(opened) == 4


# -- the column reader ---------------------------------------------------------------------------
def _no_row_reader(monkeypatch):
    """Fail if a file is read row by row (the column reader must read it)."""
    import hedgedesk.core.data.price_files as price_files

    def forbidden(path, raw):
        raise AssertionError(f"{path} was read row by row")

    monkeypatch.setattr(price_files, "_read_csv_rows", forbidden)


def test_real_layouts_are_read_as_columns(tmp_path, monkeypatch):
    _no_row_reader(monkeypatch)
    wide = _write(tmp_path / "w.csv", "Date,AAA,BBB\n2020-01-02,1.5,\n2020-01-03,N/A,2\n")
    got = _by_ticker(read_file(wide))
    assert got["AAA"].close.tolist() == [1.5] and _dates(got["BBB"]) == [D(2020, 1, 3)]
    (s,) = read_file(_write(tmp_path / "SPY.csv", SHARED_ETF_STYLE))
    assert s.volume.tolist() == [59151200.0, 77709700.0]
    assert s.high is not None and s.high[0] == 324.89 * 300.5 / 324.87
    long = _write(tmp_path / "l.csv", "date,ticker,close\n2020-01-02,B,2\n2020-01-02,A,1\n")
    assert [s.ticker for s in read_file(long)] == ["B", "A"]  # first appearance order


def test_shared_data_is_read_as_columns(shared_data, monkeypatch):
    _no_row_reader(monkeypatch)
    md = load_paths([shared_data / "etf", shared_data / "mag7", shared_data / "crypto"])
    assert len(md.tickers) == 30


def test_a_problem_is_named_by_the_row_reader(tmp_path, monkeypatch):
    # the columns flag the problem; the row reader finds and names its line
    import hedgedesk.core.data.price_files as price_files

    calls: list[Path] = []
    real = price_files._read_csv_rows

    def spy(path, raw):
        calls.append(path)
        return real(path, raw)

    monkeypatch.setattr(price_files, "_read_csv_rows", spy)
    path = _write(tmp_path / "X.csv", "Date,Close\n2020-01-02,1\n2020-01-03,-2\n")
    _expect_error(path, 3, "non-positive price -2 for X")
    assert calls == [path]


def test_unquoted_field_over_csvs_limit_is_still_malformed(tmp_path):
    # no quotes, so the column reader could read it; csv's field limit must still apply
    path = _write(tmp_path / "big.csv", "Date,Close\n2020-01-02,1\n2020-01-03," + "1" * 200_000)
    _expect_error(path, 3, "malformed CSV", "field larger than field limit")


def test_header_then_blank_line_has_no_data_rows(tmp_path):
    # the header names no price column, but the first problem in file order is the empty body
    _expect_error(_write(tmp_path / "h.csv", "date,ticker,last\n\n"), None, "no data rows")


def test_a_device_or_a_pipe_is_refused_not_read_forever(tmp_path):
    """/dev/zero never ends and a FIFO blocks until someone writes: neither is a price file."""
    fifo = tmp_path / "X.csv"
    os.mkfifo(fifo)
    for path in (Path("/dev/zero"), fifo):
        with pytest.raises(DataError, match="is not a regular file"):
            read_file(path)
    with pytest.raises(DataError, match="is not a regular file"):
        load_paths([fifo])


@pytest.mark.parametrize("day", ["9999-12-31", "1799-12-31", "2200-01-01"])
def test_a_date_past_any_sensible_one_names_its_line(tmp_path, day):
    """Both readers (columns, and rows for the message) refuse it, with its line."""
    long = _write(tmp_path / "long.csv", f"date,ticker,close\n2021-01-04,A,1\n{day},A,2\n")
    _expect_error(long, 3, f"date {day} out of range: expected one between 1800-01-01")
    wide = _write(tmp_path / "wide.csv", f"Date,A,B\n2021-01-04,1,2\n{day} 16:00:00,1,2\n")
    _expect_error(wide, 3, "out of range")


def test_a_cell_past_the_header_is_an_error_a_trailing_empty_one_is_not(tmp_path):
    extra = _write(tmp_path / "w.csv", "Date,A,B\n2021-01-04,1,2\n2021-01-05,1,2,3\n")
    _expect_error(extra, 3, "4 cells, but the header names 3 columns")
    single = _write(tmp_path / "QQQ.csv", "Date,Close\n2021-01-04,1\n2021-01-05,1,3\n")
    _expect_error(single, 3, "3 cells, but the header names 2 columns")
    trailing = _write(tmp_path / "t.csv", "Date,A,B\n2021-01-04,1,2,\n2021-01-05,1,2,\n")
    assert [s.close.tolist() for s in read_file(trailing)] == [[1.0, 1.0], [2.0, 2.0]]


def test_a_yfinance_header_without_its_ticker_row_says_what_is_missing(tmp_path):
    path = _write(tmp_path / "yf.csv", "Price,Close,Volume\nDate,,\n2021-01-04,1,2\n")
    _expect_error(path, 2, "a yfinance header ('Price' row) needs a 'Ticker' row next, got 'Date'")

"""Files as found (issue 17): M/D/YYYY and D/M/YYYY dates decided per file, newest-first rows,
``N/A`` and ``.`` cells, a trailing comma on every line, a BOM with CRLF line ends, FRED headers.
Each shared file is checked against an independent pandas read with an explicit date format.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hedgedesk.core.data.price_files import (
    DAY_FIRST_DATES,
    ISO_DATES,
    SORTED_NOTE,
    US_DATES,
    load_paths,
    read_file,
)
from hedgedesk.core.errors import DataError

D = dt.date


def _write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode())
    return path


def _dates(s) -> list[dt.date]:
    return s.dates.astype(dt.date).tolist()


def _one(path: Path):
    (s,) = read_file(path)
    return s


def _error(path: Path) -> str:
    with pytest.raises(DataError) as info:
        read_file(path)
    return str(info.value)


# -- synthetic files, one quirk each ------------------------------------------------------------
def test_us_dates_with_evidence(tmp_path):
    s = _one(_write(tmp_path / "X.csv", "Date,Close\n1/2/2020,1\n1/13/2020,2\n2/3/2020,3\n"))
    assert _dates(s) == [D(2020, 1, 2), D(2020, 1, 13), D(2020, 2, 3)]
    assert s.date_format == US_DATES
    assert s.notes == ("dates M/D/YYYY (a day above 12 second on line 3)",)


def test_day_first_dates_with_evidence(tmp_path):
    s = _one(_write(tmp_path / "X.csv", "Date,Close\n2/1/2020,1\n13/1/2020,2\n3/2/2020,3\n"))
    assert _dates(s) == [D(2020, 1, 2), D(2020, 1, 13), D(2020, 2, 3)]
    assert s.date_format == DAY_FIRST_DATES
    assert s.notes == ("dates D/M/YYYY (a day above 12 first on line 3)",)


def test_ambiguous_file_is_read_us_throughout_and_says_so(tmp_path):
    # 1/2 could be 1 Feb or 2 Jan: with no field above 12 anywhere, every row is read M/D
    s = _one(_write(tmp_path / "X.csv", "Date,Close\n1/2/2020,1\n2/1/2020,2\n3/1/2020,3\n"))
    assert _dates(s) == [D(2020, 1, 2), D(2020, 2, 1), D(2020, 3, 1)]
    assert s.date_format == US_DATES
    assert "no field above 12" in s.notes[0] and "read as US month/day" in s.notes[0]


def test_disagreeing_evidence_names_the_line(tmp_path):
    path = _write(tmp_path / "X.csv", "Date,Close\n1/13/2020,1\n1/2/2020,2\n14/2/2020,3\n")
    message = _error(path)
    assert f"{path}:4:" in message
    assert "'14/2/2020' reads only as D/M/YYYY but line 2 reads only as M/D/YYYY" in message


def test_iso_and_slash_in_one_file_is_refused_at_the_first_disagreeing_line(tmp_path):
    path = _write(tmp_path / "X.csv", "Date,Close\n2020-01-02,1\n2020-01-03,2\n1/6/2020,3\n")
    message = _error(path)
    assert f"{path}:4:" in message and "one date format per file" in message
    path = _write(tmp_path / "Y.csv", "Date,Close\n1/2/2020,1\n2020-01-03,2\n")
    assert f"{path}:3:" in _error(path)


def test_invalid_slash_date_names_the_format(tmp_path):
    path = _write(tmp_path / "X.csv", "Date,Close\n1/2/2020,1\n2/30/2020,2\n")
    message = _error(path)
    assert f"{path}:3:" in message and "unparsable date '2/30/2020': expected M/D/YYYY" in message


def test_newest_first_rows_are_sorted_and_said(tmp_path):
    path = _write(tmp_path / "X.csv", "Date,Close\n2020-01-06,3\n2020-01-03,2\n2020-01-02,1\n")
    s = _one(path)
    assert _dates(s) == [D(2020, 1, 2), D(2020, 1, 3), D(2020, 1, 6)]
    assert s.close.tolist() == [1.0, 2.0, 3.0]
    assert s.notes == (SORTED_NOTE,)


def test_unsorted_rows_are_still_refused(tmp_path):
    path = _write(tmp_path / "X.csv", "Date,Close\n2020-01-03,3\n2020-01-06,2\n2020-01-02,1\n")
    assert "dates not in ascending order" in _error(path)


def test_newest_first_with_a_duplicate_is_a_duplicate(tmp_path):
    path = _write(tmp_path / "X.csv", "Date,Close\n2020-01-06,3\n2020-01-06,2\n2020-01-02,1\n")
    assert "duplicate date 2020-01-06" in _error(path)


def test_na_and_dot_cells_are_no_price_that_day(tmp_path):
    text = "Date,AAA,BBB\n2020-01-02,1,N/A\n2020-01-03,.,2\n2020-01-06,3,4\n"
    got = {s.ticker: s for s in read_file(_write(tmp_path / "w.csv", text))}
    assert _dates(got["AAA"]) == [D(2020, 1, 2), D(2020, 1, 6)]
    assert _dates(got["BBB"]) == [D(2020, 1, 3), D(2020, 1, 6)]


def test_dot_in_a_single_ticker_file_is_a_missing_price(tmp_path):
    path = _write(tmp_path / "X.csv", "Date,Close\n2020-01-02,1\n2020-01-03,.\n")
    message = _error(path)
    assert f"{path}:3:" in message and "missing price" in message


def test_trailing_comma_on_every_line(tmp_path):
    text = "Date,USD,JPY,\n2020-01-03,1.11,N/A,\n2020-01-02,1.12,120.5,\n"
    got = {s.ticker: s for s in read_file(_write(tmp_path / "ecb.csv", text))}
    assert sorted(got) == ["JPY", "USD"]
    assert got["USD"].close.tolist() == [1.12, 1.11]
    assert _dates(got["JPY"]) == [D(2020, 1, 2)]
    assert got["USD"].notes == (SORTED_NOTE,)


def test_unnamed_last_column_with_values_is_still_refused(tmp_path):
    path = _write(tmp_path / "X.csv", "Date,AAA,\n2020-01-02,1,\n2020-01-03,1,2\n")
    assert "needs a ticker name above every column" in _error(path)


def test_bom_and_crlf_with_us_dates(tmp_path):
    path = tmp_path / "X.csv"
    path.write_bytes(b"\xef\xbb\xbfDate,Close\r\n1/30/2020,1\r\n1/31/2020,2\r\n")
    s = _one(path)
    assert _dates(s) == [D(2020, 1, 30), D(2020, 1, 31)] and s.date_format == US_DATES


def test_fred_headers(tmp_path):
    for header in ("observation_date", "DATE"):
        path = _write(tmp_path / "f.csv", f"{header},DCOILWTICO\n2020-01-02,61.17\n2020-01-03,.\n")
        (s,) = read_file(path)
        assert s.ticker == "DCOILWTICO" and _dates(s) == [D(2020, 1, 2)]


def test_long_layout_with_us_dates(tmp_path):
    text = "date,ticker,close\n1/2/2020,AAA,1\n1/2/2020,BBB,2\n1/13/2020,AAA,3\n1/13/2020,BBB,4\n"
    got = {s.ticker: s for s in read_file(_write(tmp_path / "l.csv", text))}
    assert _dates(got["BBB"]) == [D(2020, 1, 2), D(2020, 1, 13)]
    assert got["AAA"].date_format == US_DATES


def test_iso_file_states_its_format(tmp_path):
    s = _one(_write(tmp_path / "X.csv", "Date,Close\n2020-01-02,1\n2020-01-03,2\n"))
    assert s.date_format == ISO_DATES and s.notes == ()


# -- the shared files, against pandas ----------------------------------------------------------
def _pandas(path: Path, date_format: str, column: str) -> pd.Series:
    frame = pd.read_csv(path, encoding="utf-8-sig", na_values=["N/A", "."])
    frame.index = pd.to_datetime(frame.iloc[:, 0], format=date_format)
    return frame[column].dropna().sort_index()


@pytest.mark.parametrize(
    "name, fmt, column, ticker, rows",
    [
        ("commodities/DCOILWTICO.csv", "%m/%d/%Y", "DCOILWTICO", "DCOILWTICO", None),
        ("commodities/brent_wti_monthly.csv", "%Y-%m-%d", "Brent", "Brent", 393),
        ("index/VIX.csv", "%m/%d/%Y", "vix", "vix", None),
        ("index/NASDAQ_COMPOSITE.csv", "%m/%d/%Y", "Adj Close", "NASDAQ_COMPOSITE", 5031),
        ("index/SP500.csv", "%m/%d/%Y", "Adj Close", "SP500", 5031),
        ("rates/moody_aaa_baa_monthly.csv", "%m/%d/%Y", "BAA", "BAA", 1200),
        ("fx/eurofxref-hist.csv", "%Y-%m-%d", "USD", "USD", 7126),
    ],
)
def test_shared_file_reads_as_found(shared_data, name, fmt, column, ticker, rows):
    path = shared_data / name
    got = {s.ticker: s for s in load_paths([path]).series.values()}[ticker]
    want = _pandas(path, fmt, column)
    assert _dates(got) == [d.date() for d in want.index]
    np.testing.assert_array_equal(got.close, want.to_numpy(dtype=float))
    if rows is not None:
        assert len(got.dates) == rows


def test_shared_file_notes(shared_data):
    ecb = {s.ticker: s for s in read_file(shared_data / "fx/eurofxref-hist.csv")}
    assert len(ecb) == 41 and ecb["USD"].notes == (SORTED_NOTE,)
    assert _dates(ecb["USD"])[0] == D(1999, 1, 4)
    (wti,) = read_file(shared_data / "commodities/DCOILWTICO.csv")
    assert wti.date_format == US_DATES and "line 9" in wti.notes[0]  # 1/13/1986
    moody = read_file(shared_data / "rates/moody_aaa_baa_monthly.csv")
    assert moody[0].date_format == US_DATES and "no field above 12" in moody[0].notes[0]


# -- the column reader agrees with the row reader on the new quirks ----------------------------
QUIRKS = {
    "ecb.csv": "Date,USD,JPY,\n2020-01-06,1.1,N/A,\n2020-01-03,1.11,.,\n2020-01-02,1.12,120.5,\n",
    "trailing_value.csv": "Date,USD,\n2020-01-02,1.1,\n2020-01-03,1.2,7\n",
    "newest_dup.csv": "Date,USD\n2020-01-06,1\n2020-01-06,2\n2020-01-02,3\n",
    "one_row_trailing.csv": "Date,A,B,\n2020-01-02,1,2,\n",
    "us.csv": "Date,A\n1/2/2020,1\n1/13/2020,2\n",
}


COLUMN_READ = {"ecb.csv", "one_row_trailing.csv"}  # the fast path reads these itself


@pytest.mark.parametrize("name", list(QUIRKS))
def test_column_reader_agrees_with_the_row_reader(tmp_path, name):
    from hedgedesk.core.data import price_files as pf

    path = _write(tmp_path / name, QUIRKS[name])
    raw = path.read_bytes()
    try:
        rows = pf._parse_rows(pf._read_csv_rows(path, raw), str(path), path.stem)
    except DataError as exc:
        rows = str(exc)
    try:
        cols = pf._read_csv_columns(raw, str(path), path.stem)
    except pf._RowReader:  # it defers: read_csv gives the row reader's outcome
        assert name not in COLUMN_READ
        return
    except DataError as exc:
        cols = str(exc)
    if isinstance(rows, str) or isinstance(cols, str):
        pytest.fail(f"row reader {rows!r}, column reader {cols!r}")
    assert [(s.ticker, s.notes, s.date_format) for s in cols] == [
        (s.ticker, s.notes, s.date_format) for s in rows
    ]
    for a, b in zip(cols, rows, strict=True):
        assert a.dates.tobytes() == b.dates.tobytes() and a.close.tobytes() == b.close.tobytes()

"""Read daily price files into validated :class:`Series`, with errors naming file and line.

Accepted layouts (detected from the header):

- wide CSV ``date,T1,T2,..`` (one close per ticker; an empty cell means no row that day);
- long CSV ``date,ticker,close[,volume]``;
- one ticker per file, the ticker taken from the file name:
  yfinance's multi-row header (``Price,..`` / ``Ticker,..`` / ``Date,..``; the column ``Adj Close``
  or ``Price`` is the adjusted close), ``Date,Open,High,Low,Close,Volume`` and ``Date,Adj_Close``;
- Parquet, wide (date index or column) or long (``date,ticker,close[,volume]``);
- any of the CSVs gzip-compressed (``.csv.gz``); a folder of such files.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from hedgedesk.core.data.market import MarketData, Series
from hedgedesk.core.errors import DataError

PRICE_SUFFIXES = (".csv", ".csv.gz", ".parquet")
_DATE_NAMES = {"date", "datetime", "timestamp", "time", "day"}
_TICKER_NAMES = {"ticker", "symbol"}
_ADJ_NAMES = {"adj close", "adj_close", "adjclose", "adjusted close", "adjusted_close"}
_MISSING = {"", "nan", "na", "n/a", "null", "none"}


@dataclass
class _Entry:
    line: int
    date: str
    price: str
    volume: str | None = None
    high: str | None = None
    low: str | None = None


def _norm(name: str) -> str:
    return name.strip().lower()


def parse_date(text: str, where: str, line: int | None) -> dt.date:
    """An ISO date, optionally with a time (``2020-01-02 00:00:00``, ``2020-01-02T16:00-05:00``)."""
    s = text.strip()
    try:
        # fromisoformat also takes 20200102 and 2020-W01-1: insist on YYYY-MM-DD
        if len(s) < 10 or s[4] != "-" or s[7] != "-":
            raise ValueError
        if len(s) == 10:
            return dt.date.fromisoformat(s)
        return dt.datetime.fromisoformat(s).date()
    except ValueError:
        raise DataError(where, f"unparsable date {text!r}: expected YYYY-MM-DD", line) from None


def _number(text: str, what: str, where: str, line: int | None) -> float:
    try:
        if "_" in text:  # float() reads 1_000; a price file should not
            raise ValueError
        value = float(text)
    except ValueError:
        raise DataError(where, f"non-numeric {what} {text!r}", line) from None
    if math.isnan(value):
        raise DataError(where, f"missing {what}", line)
    if math.isinf(value):
        raise DataError(where, f"non-finite {what} {text!r}", line)
    return value


def _optional(text: str | None, what: str, where: str, line: int) -> float:
    """A volume, high or low: NaN when empty, else a finite number >= 0."""
    if text is None or _norm(text) in _MISSING:
        return math.nan
    value = _number(text, what, where, line)
    if value < 0:
        raise DataError(where, f"negative {what} {value:g}", line)
    return value


def build_series(
    ticker: str,
    entries: Sequence[_Entry],
    where: str,
    price_field: str,
    has_volume: bool,
    skip_missing: bool = False,
    has_range: bool = False,
) -> Series:
    """Validate one ticker's rows (dates ascending and unique, prices finite and > 0).

    ``has_range``: the rows carry high and low prices (used for the average true range).
    """
    dates: list[dt.date] = []
    closes: list[float] = []
    volumes: list[float] = []
    highs: list[float] = []
    lows: list[float] = []
    for e in entries:
        day = parse_date(e.date, where, e.line)
        if _norm(e.price) in _MISSING:
            if skip_missing:
                continue
            raise DataError(where, f"missing price for {ticker}", e.line)
        price = _number(e.price, f"price for {ticker}", where, e.line)
        if price <= 0:
            raise DataError(where, f"non-positive price {price:g} for {ticker}", e.line)
        if dates and day <= dates[-1]:
            problem = (
                f"duplicate date {day}"
                if day == dates[-1]
                else f"dates not in ascending order: {day} after {dates[-1]}"
            )
            raise DataError(where, f"{problem} for {ticker}", e.line)
        if has_volume:
            volumes.append(_optional(e.volume, f"volume for {ticker}", where, e.line))
        if has_range:
            highs.append(_optional(e.high, f"high for {ticker}", where, e.line))
            lows.append(_optional(e.low, f"low for {ticker}", where, e.line))
        dates.append(day)
        closes.append(price)
    if not dates:
        raise DataError(where, f"no prices for {ticker}")
    return Series(
        ticker=ticker,
        dates=np.array(dates, dtype="datetime64[D]"),
        close=np.array(closes, dtype=np.float64),
        volume=np.array(volumes, dtype=np.float64) if has_volume else None,
        source=where,
        price_field=price_field,
        high=np.array(highs, dtype=np.float64) if has_range else None,
        low=np.array(lows, dtype=np.float64) if has_range else None,
    )


# -- CSV -------------------------------------------------------------------------------------
def _read_bytes(path: Path) -> bytes:
    where = str(path)
    try:
        if path.is_dir():
            raise DataError(where, "is a folder, expected a price file")
        return path.read_bytes()
    except FileNotFoundError:
        raise DataError(where, "file not found") from None
    except OSError as exc:
        raise DataError(where, f"cannot read: {exc.strerror or exc}") from None


def _read_csv_rows(path: Path) -> list[tuple[int, list[str]]]:
    where = str(path)
    raw = _read_bytes(path)
    if path.name.endswith(".gz"):
        try:
            raw = gzip.decompress(raw)
        except OSError as exc:
            raise DataError(where, f"not a readable gzip file ({exc})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(where, f"not UTF-8 text (byte {exc.start})") from None
    reader = csv.reader(io.StringIO(text, newline=""))  # \r, \n and \r\n line ends alike
    rows = []
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append((reader.line_num, row))
    except csv.Error as exc:
        raise DataError(where, f"malformed CSV: {exc}", reader.line_num) from None
    if not rows:
        raise DataError(where, "empty file")
    return rows


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _yfinance_layout(rows, where: str, stem: str) -> list[Series]:
    """Yfinance ``to_csv`` of a (Price, Ticker) column MultiIndex: header rows, then data."""
    fields = [c.strip() for c in rows[0][1]]
    tickers = [c.strip() for c in rows[1][1]]
    body = 2
    while (
        body < len(rows)
        and _norm(rows[body][1][0]) in ({"ticker"} | _DATE_NAMES)
        and not any(_is_number(c) for c in rows[body][1][1:])
    ):
        body += 1
    columns: dict[str, dict[str, int]] = {}
    for j in range(1, len(fields)):
        ticker = tickers[j] if j < len(tickers) and tickers[j] else stem
        columns.setdefault(ticker, {})[_norm(fields[j])] = j
    out = []
    for ticker, cols in columns.items():
        for name, label in (
            ("adj close", "adjusted close"),
            ("price", "adjusted close"),
            ("close", "close"),
        ):
            if name in cols:
                pj, price_field = cols[name], f"{label} (yfinance '{fields[cols[name]]}')"
                break
        else:
            raise DataError(
                where,
                f"yfinance header has no Adj Close, Price or Close column for {ticker}",
                rows[0][0],
            )
        vj, hj, lj = cols.get("volume"), cols.get("high"), cols.get("low")
        has_range = hj is not None and lj is not None
        if not has_range:  # a high without a low (or the reverse) is no range
            hj = lj = None
        entries = [
            _Entry(
                ln,
                r[0],
                _cell(r, pj),
                _optional_cell(r, vj),
                _optional_cell(r, hj),
                _optional_cell(r, lj),
            )
            for ln, r in rows[body:]
        ]
        series = build_series(
            ticker, entries, where, price_field, vj is not None, has_range=has_range
        )
        cj = cols.get("close")
        if has_range and cj is not None and cj != pj:
            series = _adjust_range(series, rows[body:], cj, where)
        out.append(series)
    return out


def _adjust_range(s: Series, rows, close_col: int, where: str) -> Series:
    """Scale raw highs and lows by adjusted/raw close so the true range matches the adjusted
    closes (yfinance adjusts only the close); drop them if the raw closes do not line up.
    """
    raw = build_series(
        s.ticker,
        [_Entry(ln, r[0], _cell(r, close_col)) for ln, r in rows],
        where,
        "close",
        False,
        skip_missing=True,
    )
    if not np.array_equal(raw.dates, s.dates):
        return replace(s, high=None, low=None)
    factor = s.close / raw.close
    return replace(s, high=s.high * factor, low=s.low * factor)


def _cell(row: list[str], j: int) -> str:
    return row[j] if j < len(row) else ""


def _optional_cell(row: list[str], j: int | None) -> str | None:
    """The cell in column ``j``; None when the file has no such column."""
    return None if j is None else _cell(row, j)


def _long_layout(rows, header: list[str], where: str) -> list[Series]:
    di = next((i for i, h in enumerate(header) if h in _DATE_NAMES), 0)
    ti = next(i for i, h in enumerate(header) if h in _TICKER_NAMES)
    pi, field = _price_column(header, where, rows[0][0])
    vi = header.index("volume") if "volume" in header else None
    groups: dict[str, list[_Entry]] = {}
    for ln, r in rows[1:]:
        ticker = _cell(r, ti).strip()
        if not ticker:
            raise DataError(where, "missing ticker", ln)
        groups.setdefault(ticker, []).append(
            _Entry(ln, _cell(r, di), _cell(r, pi), _optional_cell(r, vi))
        )
    if not groups:
        raise DataError(where, "no data rows after the header")
    return [build_series(t, e, where, field, vi is not None) for t, e in groups.items()]


def _price_column(header: list[str], where: str, line: int) -> tuple[int, str]:
    for names, label in (
        (_ADJ_NAMES, "adjusted close"),
        ({"close"}, "close"),
        ({"price"}, "price"),
    ):
        for i, h in enumerate(header):
            if h in names:
                return i, label
    raise DataError(
        where, "no price column: expected one of Adj Close, Adj_Close, Close, Price", line
    )


def _single_layout(rows, header: list[str], where: str, stem: str) -> list[Series]:
    pi, field = _price_column(header, where, rows[0][0])
    vi = header.index("volume") if "volume" in header else None
    has_range = "high" in header and "low" in header
    hi, li = (header.index("high"), header.index("low")) if has_range else (None, None)
    entries = [
        _Entry(
            ln,
            r[0],
            _cell(r, pi),
            _optional_cell(r, vi),
            _optional_cell(r, hi),
            _optional_cell(r, li),
        )
        for ln, r in rows[1:]
    ]
    if not entries:
        raise DataError(where, "no data rows after the header")
    return [build_series(stem, entries, where, field, vi is not None, has_range=has_range)]


def _wide_layout(rows, where: str) -> list[Series]:
    names = [c.strip() for c in rows[0][1][1:]]
    if not names or any(not n for n in names):
        raise DataError(where, "wide layout needs a ticker name above every column", rows[0][0])
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise DataError(where, f"ticker {dup} appears in two columns", rows[0][0])
    if len(rows) < 2:
        raise DataError(where, "no data rows after the header")
    out = []
    for j, name in enumerate(names, start=1):
        entries = [_Entry(ln, r[0], _cell(r, j)) for ln, r in rows[1:]]
        out.append(build_series(name, entries, where, "close (as given)", False, skip_missing=True))
    return out


def _file_stem(path: Path) -> str:
    name = path.name
    for suffix in PRICE_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _parse_rows(rows, where: str, stem: str) -> list[Series]:
    """Pick the layout from the header row(s) and parse; rows are (line, cells), date first."""
    header = [_norm(c) for c in rows[0][1]]
    if header[0] == "price" and len(rows) > 2 and _norm(rows[1][1][0]) == "ticker":
        return _yfinance_layout(rows, where, stem)
    if header[0] not in _DATE_NAMES and header[0] != "":
        hint = (
            "; the file looks semicolon-delimited, expected commas" if ";" in rows[0][1][0] else ""
        )
        raise DataError(
            where,
            f"unrecognised header: first column {rows[0][1][0]!r}, expected "
            f"a date column (Date) or yfinance's 'Price' header{hint}",
            rows[0][0],
        )
    if len(rows) < 2:
        raise DataError(where, "no data rows after the header")
    if any(h in _TICKER_NAMES for h in header):
        return _long_layout(rows, header, where)
    known = _ADJ_NAMES | {"close", "open", "high", "low", "volume"}
    if any(h in known for h in header[1:]):
        return _single_layout(rows, header, where, stem)
    return _wide_layout(rows, where)


def read_csv(path: Path) -> list[Series]:
    """The series of one CSV (or ``.csv.gz``) file in any of the module's layouts; DataError
    naming the file and line of the first problem.
    """
    return _parse_rows(_read_csv_rows(path), str(path), _file_stem(path))


# -- Parquet ---------------------------------------------------------------------------------
def read_parquet(path: Path) -> list[Series]:
    """Parquet in the CSV layouts: wide, long, one ticker (named by the file), or yfinance's
    (Price, Ticker) column levels. Data rows are numbered from 1 ("row N").
    """
    where = str(path)
    raw = _read_bytes(path)
    try:
        frame = pd.read_parquet(io.BytesIO(raw))
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise DataError(where, f"not a readable Parquet file ({exc})") from None
    if frame.empty:
        raise DataError(where, "empty file")
    yf_levels = isinstance(frame.columns, pd.MultiIndex) and frame.columns.nlevels == 2
    if yf_levels:
        fields = [str(a) for a, _ in frame.columns]
        tickers = [str(b) for _, b in frame.columns]
        frame.columns = [f"{a}\t{b}" for a, b in zip(fields, tickers, strict=True)]
    if not isinstance(frame.index, pd.RangeIndex):  # dates kept as the index
        frame = frame.reset_index(names=frame.index.name or "date")
    names = [str(c) for c in frame.columns]
    di = next((i for i, c in enumerate(names) if _norm(c) in _DATE_NAMES), None)
    if di is None:
        raise DataError(where, "no date column or date index")
    order = [di, *(i for i in range(len(names)) if i != di)]
    # The CSV validators read text: missing cells become "", everything else its str().
    cells = frame.iloc[:, order].astype(object)
    text = cells.where(cells.notna(), "").astype(str).to_numpy()
    body = [(i + 1, list(r)) for i, r in enumerate(text)]
    if yf_levels:
        head = [
            (0, ["Price", *(names[i].split("\t")[0] for i in order[1:])]),
            (0, ["Ticker", *(names[i].split("\t")[1] for i in order[1:])]),
        ]
    else:
        head = [(0, [names[i] for i in order])]
    try:
        return _parse_rows(head + body, where, _file_stem(path))
    except DataError as exc:
        if exc.line is None:
            raise
        row = f"row {exc.line}" if exc.line else "columns"
        raise DataError(where, f"{row}: {exc.problem}") from None


# -- entry points ----------------------------------------------------------------------------
def read_file(path: Path) -> list[Series]:
    """The series of one price file, read as Parquet or CSV by its name."""
    if path.name.endswith(".parquet"):
        return read_parquet(path)
    return read_csv(path)


def price_files_in(folder: Path) -> list[Path]:
    """The folder's price files (``*.csv``, ``*.csv.gz``, ``*.parquet``), sorted, not recursing;
    DataError when there are none.
    """
    try:
        files = sorted(
            p for p in folder.iterdir() if p.is_file() and p.name.endswith(PRICE_SUFFIXES)
        )
    except OSError as exc:
        raise DataError(str(folder), f"cannot read folder: {exc.strerror or exc}") from None
    if not files:
        raise DataError(str(folder), "folder has no price files (*.csv, *.csv.gz, *.parquet)")
    return files


def load_paths(paths: Iterable[str | Path]) -> MarketData:
    """Load files and folders (each file in a folder, not recursing) into one MarketData."""
    series: list[Series] = []
    for p in paths:
        path = Path(p).expanduser()
        try:
            is_dir = path.is_dir()
        except OSError as exc:  # e.g. a name too long for the file system
            raise DataError(str(path), f"cannot read: {exc.strerror or exc}") from None
        if is_dir:
            for f in price_files_in(path):
                series.extend(read_file(f))
        else:
            series.extend(read_file(path))
    return MarketData.from_series(series)

"""Read daily price files into validated :class:`Series`, with errors naming file and line.

Accepted layouts (detected from the header):

- wide CSV ``date,T1,T2,..`` (one close per ticker; an empty cell means no row that day);
- long CSV ``date,ticker,close[,volume]``;
- one ticker per file, the ticker taken from the file name:
  yfinance's multi-row header (``Price,..`` / ``Ticker,..`` / ``Date,..``; the column ``Adj Close``
  or ``Price`` is the adjusted close), ``Date,Open,High,Low,Close,Volume`` and ``Date,Adj_Close``;
- Parquet, wide (date index or column) or long (``date,ticker,close[,volume]``);
- any of the CSVs gzip-compressed (``.csv.gz``); a folder of such files.

CSVs are read by pandas' C parser and checked on whole columns (dates, prices, volumes, highs
and lows; see :func:`_read_csv_columns`). A file that fails a check, or that the column reader
cannot vouch for (quoted cells, blank or ragged lines), is read row by row
(:func:`_read_csv_rows` and the layouts after it), which names the line of the first problem:
both readers accept the same files and give the same series, bit for bit.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import itertools
import math
import re
import zlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd

from hedgedesk.core.bounds import DATE_SPAN, EARLIEST, LATEST, sensible
from hedgedesk.core.data.market import MarketData, Series
from hedgedesk.core.data.yields import bond_series, fred_maturity
from hedgedesk.core.errors import DataError
from hedgedesk.core.files import PRICE_MAX_BYTES, read_regular, size_text

PRICE_SUFFIXES = (".csv", ".csv.gz", ".parquet")
_DATE_NAMES = {"date", "datetime", "timestamp", "time", "day", "observation_date"}  # FRED
_TICKER_NAMES = {"ticker", "symbol"}
_ADJ_NAMES = {"adj close", "adj_close", "adjclose", "adjusted close", "adjusted_close"}
_MISSING = {"", "nan", "na", "n/a", "null", "none", "."}  # ".": FRED's missing value
ISO_DATES, US_DATES, DAY_FIRST_DATES = "YYYY-MM-DD", "M/D/YYYY", "D/M/YYYY"
_ISO_CELL = re.compile(r"\s*\d{4}-\d{2}-\d{2}")
_SLASH_CELL = re.compile(r"\s*(\d{1,2})/(\d{1,2})/(\d{4})\s*")
SORTED_NOTE = "rows newest first in the file: sorted ascending on read"
WIDE_FIELD = "close (as given)"
# ticker -> maturity (years) of the series a read is told are yields; none by default
Yields = Mapping[str, float]
NO_YIELDS: Yields = MappingProxyType({})


def yield_maturity(ticker: str, price_field: str, yields: Yields) -> float | None:
    """The maturity (years) when ``ticker`` is a yield series: declared in ``yields``, or a
    FRED Treasury column (``DGS10``, ``DGS3MO``) of a wide file; None for a price.
    """
    if ticker in yields:
        return yields[ticker]
    return fred_maturity(ticker) if price_field == WIDE_FIELD else None


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
        day = dt.date.fromisoformat(s) if len(s) == 10 else dt.datetime.fromisoformat(s).date()
    except ValueError:
        raise DataError(where, f"unparsable date {text!r}: expected YYYY-MM-DD", line) from None
    if not sensible(day):
        raise DataError(where, f"date {day} out of range: expected one {DATE_SPAN}", line)
    return day


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
    yields: Yields = NO_YIELDS,
) -> Series:
    """Validate one ticker's rows (dates ascending and unique, prices finite and > 0; a yield
    in ``yields`` may be 0 or negative).

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
        if price <= 0 and yield_maturity(ticker, price_field, yields) is None:  # a yield may be 0
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
    return read_regular(path, PRICE_MAX_BYTES, lambda message: DataError(str(path), message))


def _decompressed(path: Path) -> bytes:
    """The file's bytes, gunzipped when its name ends in ``.gz`` (at most PRICE_MAX_BYTES of
    them: a small file can unpack to gigabytes).
    """
    raw = _read_bytes(path)
    if not path.name.endswith(".gz"):
        return raw
    if not raw.startswith(b"\x1f\x8b"):
        raise DataError(str(path), "not a gzip file (no gzip signature at its start)")
    out = bytearray()
    rest = raw
    try:
        while rest:  # a gzip file may hold several members, one after the other
            unpack = zlib.decompressobj(wbits=31)  # 31: the gzip container
            out += unpack.decompress(rest, PRICE_MAX_BYTES + 1 - len(out))
            if len(out) > PRICE_MAX_BYTES:
                raise DataError(
                    str(path), f"unpacks to over the {size_text(PRICE_MAX_BYTES)} limit"
                )
            if not unpack.eof:
                raise EOFError("compressed file ended before the end-of-stream marker")
            rest = unpack.unused_data
    except (EOFError, zlib.error) as exc:  # EOFError: a truncated file
        raise DataError(str(path), f"not a readable gzip file ({exc})") from None
    return bytes(out)


def _read_csv_rows(path: Path, raw: bytes) -> list[tuple[int, list[str]]]:
    where = str(path)
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


def _yfinance_layout(rows, where: str, stem: str, yields: Yields) -> list[Series]:
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
            ticker, entries, where, price_field, vj is not None, has_range=has_range, yields=yields
        )
        cj = cols.get("close")
        if has_range and cj is not None and cj != pj:
            series = _adjust_range(series, rows[body:], cj, where, yields)
        out.append(series)
    return out


def _adjust_range(s: Series, rows, close_col: int, where: str, yields: Yields) -> Series:
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
        yields=yields,
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


def _long_layout(rows, header: list[str], where: str, yields: Yields) -> list[Series]:
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
    return [
        build_series(t, e, where, field, vi is not None, yields=yields) for t, e in groups.items()
    ]


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


def _single_layout(rows, header: list[str], where: str, stem: str, yields: Yields) -> list[Series]:
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
    has_volume = vi is not None
    return [
        build_series(stem, entries, where, field, has_volume, has_range=has_range, yields=yields)
    ]


def _wide_layout(rows, where: str, yields: Yields) -> list[Series]:
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
        out.append(
            build_series(name, entries, where, WIDE_FIELD, False, skip_missing=True, yields=yields)
        )
    return out


def _file_stem(path: Path) -> str:
    name = path.name
    for suffix in PRICE_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _date_kind(text: str) -> str | None:
    if _ISO_CELL.match(text):
        return ISO_DATES
    return "slash" if _SLASH_CELL.fullmatch(text) else None


def _slash_format(cells: list[tuple[int, str]], where: str) -> tuple[str, str]:
    """M/D/YYYY or D/M/YYYY from the file's evidence (a field above 12), and the note saying
    why; DataError at the first line whose evidence disagrees with an earlier line's.
    """
    evidence: dict[str, int] = {}
    for ln, text in cells:
        m = _SLASH_CELL.fullmatch(text)
        if m is None:
            continue
        first, second = int(m[1]), int(m[2])
        kind = DAY_FIRST_DATES if first > 12 else US_DATES if second > 12 else None
        if kind is None or kind in evidence:
            continue
        if evidence:
            ((other, line),) = evidence.items()
            raise DataError(
                where,
                f"date {text.strip()!r} reads only as {kind} but line {line} reads only as "
                f"{other}: expected one date format per file",
                ln,
            )
        evidence[kind] = ln
    if DAY_FIRST_DATES in evidence:
        line = evidence[DAY_FIRST_DATES]
        return DAY_FIRST_DATES, f"dates {DAY_FIRST_DATES} (a day above 12 first on line {line})"
    if US_DATES in evidence:
        line = evidence[US_DATES]
        return US_DATES, f"dates {US_DATES} (a day above 12 second on line {line})"
    return US_DATES, (
        f"dates {US_DATES}: no field above 12 tells month from day, read as US month/day"
    )


def _dated_rows(body: list, di: int, where: str) -> tuple[list, str, tuple[str, ...]]:
    """The body rows with their dates in ISO form and oldest first, the file's date format and
    notes on what was done. The format is the file's, never a row's: ISO, or M/D/YYYY vs
    D/M/YYYY from the evidence; a row in another format is refused, naming its line.
    """
    cells = [(ln, _cell(r, di)) for ln, r in body]
    kinds = [_date_kind(text) for _, text in cells]
    fmt = next((k for k in kinds if k is not None), ISO_DATES)
    for (ln, text), kind in zip(cells, kinds, strict=True):
        if kind is not None and kind != fmt:
            shown = ISO_DATES if kind == ISO_DATES else f"{US_DATES} or {DAY_FIRST_DATES}"
            before = ISO_DATES if fmt == ISO_DATES else f"{US_DATES} or {DAY_FIRST_DATES}"
            raise DataError(
                where,
                f"date {text.strip()!r} is {shown} but the file's dates before it are "
                f"{before}: expected one date format per file",
                ln,
            )
    notes: list[str] = []
    if fmt == "slash":
        fmt, note = _slash_format(cells, where)
        notes.append(note)
        body = [(ln, _iso_row(r, di, fmt, where, ln)) for ln, r in body]
        cells = [(ln, _cell(r, di)) for ln, r in body]
    keys = [text.strip()[:10] for _, text in cells]
    if (
        len(keys) > 1
        and all(_ISO_CELL.match(k) for k in keys)
        and keys[0] > keys[-1]
        and all(a >= b for a, b in itertools.pairwise(keys))
    ):
        body = body[::-1]
        notes.append(SORTED_NOTE)
    return body, fmt, tuple(notes)


def _iso_row(row: list[str], di: int, fmt: str, where: str, line: int) -> list[str]:
    """``row`` with its date cell, M/D/YYYY or D/M/YYYY, written as YYYY-MM-DD."""
    text = _cell(row, di)
    m = _SLASH_CELL.fullmatch(text)
    try:
        if m is None:
            raise ValueError
        a, b, year = int(m[1]), int(m[2]), int(m[3])
        month, day = (a, b) if fmt == US_DATES else (b, a)
        iso = dt.date(year, month, day).isoformat()
    except ValueError:
        raise DataError(where, f"unparsable date {text!r}: expected {fmt}", line) from None
    return [*row[:di], iso, *row[di + 1 :]]


def _drop_empty_last_column(rows: list) -> list:
    """Rows without a last column whose header cell and every cell are empty (a trailing comma
    on every line, as in the ECB's file).
    """
    width = len(rows[0][1])
    if width < 3 or rows[0][1][-1].strip():
        return rows
    if any(len(r) >= width and r[width - 1].strip() for _, r in rows[1:]):
        return rows
    return [(ln, r[: width - 1]) for ln, r in rows]


def _parse_rows(rows, where: str, stem: str, yields: Yields = NO_YIELDS) -> list[Series]:
    """Pick the layout from the header row(s) and parse; rows are (line, cells), date first."""
    rows = _drop_empty_last_column(rows)
    header = [_norm(c) for c in rows[0][1]]
    if header[0] == "price":
        if len(rows) > 2 and _norm(rows[1][1][0]) == "ticker":
            yf = _yfinance_layout(rows, where, stem, yields)
            return [replace(s, date_format=ISO_DATES) for s in yf]
        line, first = rows[1] if len(rows) > 1 else (rows[0][0] + 1, [""])
        raise DataError(
            where,
            f"a yfinance header ('Price' row) needs a 'Ticker' row next, got {first[0]!r}: "
            "expected yfinance's to_csv layout (Price, Ticker, Date rows), or a Date header",
            line,
        )
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
    for ln, r in rows[1:]:  # a cell past the header's last column would be dropped unread
        if len(r) > len(header) and any(c.strip() for c in r[len(header) :]):
            raise DataError(
                where,
                f"{len(r)} cells, but the header names {len(header)} columns: "
                "expected one cell per header column",
                ln,
            )
    long = any(h in _TICKER_NAMES for h in header)
    di = next((i for i, h in enumerate(header) if h in _DATE_NAMES), 0) if long else 0
    body, fmt, notes = _dated_rows(rows[1:], di, where)
    rows = [rows[0], *body]
    known = _ADJ_NAMES | {"close", "open", "high", "low", "volume"}
    if long:
        out = _long_layout(rows, header, where, yields)
    elif any(h in known for h in header[1:]):
        out = _single_layout(rows, header, where, stem, yields)
    else:
        out = _wide_layout(rows, where, yields)
    return [replace(s, date_format=fmt, notes=notes) for s in out]


def read_csv(path: Path, yields: Yields = NO_YIELDS) -> list[Series]:
    """The series of one CSV (or ``.csv.gz``) file in any of the module's layouts; DataError
    naming the file and line of the first problem. ``yields``: the tickers that are yields
    (their values may be 0 or negative), with their maturities.
    """
    where, stem = str(path), _file_stem(path)
    raw = _decompressed(path)
    try:
        return _read_csv_columns(raw, where, stem, yields)
    except (_RowReader, DataError):  # the row reader names the first problem, in file order
        return _parse_rows(_read_csv_rows(path, raw), where, stem, yields)


# -- CSV, column by column -------------------------------------------------------------------
_FIELD_LIMIT = csv.field_size_limit()  # a longer line may hold a field csv rejects
_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9]  # positions of the digits in YYYY-MM-DD
_YF_USED = {"adj close", "price", "close", "volume", "high", "low"}
_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
_NEGATIVE_ZERO = re.compile(rb",[ \t\v\f]*-0+[ \t\v\f]*(?=[,\n]|\Z)")


class _RowReader(Exception):
    """The column reader cannot vouch for the file: the row reader reads it (and names the
    line of any problem).
    """


@dataclass(frozen=True)
class _Text:
    """A CSV's bytes with LF line ends, where its first lines end, its number of lines."""

    raw: bytes
    ends: list[int]
    n_lines: int

    def after(self, skip: int) -> bytes:
        """The bytes after the first ``skip`` lines."""
        return self.raw[self.ends[skip - 1] + 1 :] if skip else self.raw


def _lines(raw: bytes) -> tuple[_Text, list[str]]:
    """The file's text and its first lines, decoded."""
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    if b'"' in raw or b"\x00" in raw:  # quoted cells, NUL: csv's own rules apply
        raise _RowReader
    if b"\r" in raw:
        raw = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    # a line longer than the limit covers a whole aligned half-limit window: one without \n
    half = _FIELD_LIMIT // 2
    if any(raw.find(b"\n", k, k + half) < 0 for k in range(0, len(raw) - half + 1, half)):
        raise _RowReader
    ends: list[int] = []
    while len(ends) < 7 and (end := raw.find(b"\n", ends[-1] + 1 if ends else 0)) >= 0:
        ends.append(end)
    n_lines = raw.count(b"\n") + (0 if raw.endswith(b"\n") else 1)
    head_end = ends[min(5, len(ends) - 1)] if ends else len(raw)
    try:
        head = raw[:head_end].decode("utf-8").split("\n")[:6]
    except UnicodeDecodeError:
        raise _RowReader from None
    return _Text(raw, ends, n_lines), head


def _body(
    csv_text: _Text, skip: int, text: Sequence[int], used: Iterable[int | None]
) -> pd.DataFrame:
    """The lines after the header, columns ``used`` only (labelled by position): ``text``
    columns as str, the others as numbers where pandas reads every cell as one (else str); no
    cell is read as missing.
    """
    usecols = sorted({j for j in used if j is not None})
    if skip >= csv_text.n_lines:
        raise _RowReader  # no body: the row reader says so
    try:
        frame = pd.read_csv(
            io.BytesIO(csv_text.after(skip)),
            header=None,
            usecols=usecols,
            dtype=dict.fromkeys(text, "str"),
            na_filter=False,
            skip_blank_lines=False,
            encoding="utf-8",
            engine="c",
            low_memory=False,  # one type per column, not one per chunk of rows
        )
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        raise _RowReader from None  # ragged lines, bad UTF-8, no body: the row reader says
    if len(frame) != csv_text.n_lines - skip or list(frame.columns) != usecols:
        raise _RowReader
    return frame


def _iso_days(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """:func:`parse_date` of every cell: the days (datetime64[D]) and whether each parsed.

    ``YYYY-MM-DD`` with ASCII digits is read on arrays (a time part once per distinct time
    part); anything else by :func:`parse_date` itself, once per distinct cell.
    """
    block = _ascii_block(column)
    if block is not None and (block[:, 10:] == block[0, 10:]).all():
        good, days = _ymd(block[:, :10])
        if good.all() and _time_part_ok(block[0, 10:].tobytes().decode()):
            return days, good
    codes, uniques = pd.factorize(column.to_numpy(dtype=object))
    texts = np.asarray(uniques, dtype=object).astype(str)
    n = len(texts)
    head = texts.astype("<U10").view(np.uint32).reshape(n, 10)
    good, days = _ymd(head)
    width = np.char.str_len(texts)
    good &= width >= 10
    timed = good & (width > 10)
    if timed.any():
        suffixes = np.array([t[10:] for t in texts[timed]], dtype=object)
        for suffix in set(suffixes):
            if not _time_part_ok(suffix):
                good[np.flatnonzero(timed)[suffixes == suffix]] = False
    days[~good] = np.datetime64("NaT")
    for i in np.flatnonzero(~good):
        try:
            days[i] = parse_date(texts[i], "", None)
            good[i] = True
        except DataError:
            pass
    return days[codes], good[codes]


def _ascii_block(column: pd.Series) -> np.ndarray | None:
    """An Arrow-backed column of ASCII cells all of one width >= 10 as a (rows, width) uint8
    matrix (no copy); None for any other column.
    """
    if getattr(column.dtype, "storage", None) != "pyarrow" or not len(column):
        return None
    import pyarrow as pa  # pandas' own string storage here

    arr = pa.array(column.array)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.null_count or arr.type not in (pa.string(), pa.large_string()):
        return None
    kind = np.int64 if arr.type == pa.large_string() else np.int32
    buffers = arr.buffers()
    offsets = np.frombuffer(buffers[1], dtype=kind)[arr.offset : arr.offset + len(arr) + 1]
    width = int(offsets[1] - offsets[0])
    if width < 10 or (np.diff(offsets) != width).any():
        return None
    data = np.frombuffer(buffers[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    if (data >= 128).any():
        return None
    return data.reshape(len(arr), width)


def _ymd(code: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which rows of ``code`` (unsigned character codes of ``YYYY-MM-DD``, shape (n, 10)) are
    valid dates with ASCII digits, and their days (datetime64[D], garbage where not valid).
    """
    digits = code[:, _DIGITS] - 48  # wraps around below "0": one test for both ends
    form = (digits <= 9).all(axis=1) & (code[:, 4] == 45) & (code[:, 7] == 45)
    d = digits.astype(np.int32)
    year = d[:, 0] * 1000 + d[:, 1] * 100 + d[:, 2] * 10 + d[:, 3]
    month = d[:, 4] * 10 + d[:, 5]
    day = d[:, 6] * 10 + d[:, 7]
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    last = _MONTH_DAYS[np.clip(month, 1, 12) - 1] + ((month == 2) & leap)
    good = (
        form
        & (year >= EARLIEST.year)
        & (year <= LATEST.year)
        & (month >= 1)
        & (month <= 12)
        & (day >= 1)
        & (day <= last)
    )
    if not good.all():
        year, month, day = (
            np.where(good, year, 1970),
            np.where(good, month, 1),
            np.where(good, day, 1),
        )
    months = ((year - 1970) * 12 + month - 1).astype("datetime64[M]")
    days = months.astype("datetime64[D]") + (day - 1).astype("timedelta64[D]")
    return good, days


def _time_part_ok(suffix: str) -> bool:
    """Whether a valid date followed by ``suffix`` parses to that date (a time, a zone)."""
    try:
        return parse_date("2000-01-01" + suffix, "", None) == dt.date(2000, 1, 1)
    except DataError:
        return False


def _numbers(column: pd.Series, raw: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A column's cells as the row reader reads them: values (float64), missing (an empty
    cell or a word in ``_MISSING``) and bad (a cell :func:`_number` rejects).
    """
    cells = column.to_numpy()
    n = len(cells)
    if cells.dtype.kind in "iu":
        if (cells == 0).any() and _NEGATIVE_ZERO.search(raw):  # "-0" read as 0 loses the sign
            raise _RowReader
        values = cells.astype(np.float64)
        return values, np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    if cells.dtype.kind == "f":
        return cells, np.zeros(n, dtype=bool), ~np.isfinite(cells)
    cells = cells.astype(object)
    if pd.api.types.infer_dtype(cells, skipna=False) != "string":
        raise _RowReader  # pandas read some cells as numbers it cannot hold (huge integers)
    values = np.full(n, np.nan)
    missing = cells == ""
    bad = np.zeros(n, dtype=bool)
    rest = np.flatnonzero(~missing)
    try:
        values[rest] = cells[rest].astype(np.float64)
    except ValueError:
        check = rest  # some cell is no float: read each the row reader's way
    else:
        underscored = np.fromiter(("_" in c for c in cells[rest]), dtype=bool, count=len(rest))
        check = rest[underscored | ~np.isfinite(values[rest])]
    for i in check:
        text = cells[i]
        if _norm(text) in _MISSING:
            values[i], missing[i] = math.nan, True
            continue
        try:
            values[i] = _number(text, "", "", None)
        except DataError:
            values[i], bad[i] = math.nan, True
    return values, missing, bad


@dataclass
class _Columns:
    """Where one ticker's cells are in a body read by :func:`_body`: column positions."""

    ticker: str
    price: int
    volume: int | None = None
    high: int | None = None
    low: int | None = None


def _column_series(
    frame: pd.DataFrame,
    rows: np.ndarray | None,
    days: np.ndarray,
    day_ok: np.ndarray,
    cols: _Columns,
    where: str,
    price_field: str,
    raw: bytes,
    skip_missing: bool = False,
    yields: Yields = NO_YIELDS,
) -> Series:
    """:func:`build_series` on whole columns (``rows``: the ticker's rows, None for all);
    raises _RowReader where build_series would raise.
    """

    def column(j: int) -> pd.Series:
        col = frame[j]
        return col if rows is None else col.iloc[rows]

    if rows is not None:
        days, day_ok = days[rows], day_ok[rows]
    close, missing, bad = _numbers(column(cols.price), raw)
    if not day_ok.all() or (missing.any() and not skip_missing):
        raise _RowReader
    keep = ~missing
    close = close[keep]
    kept_days = days[keep]
    if (
        not len(close)
        or bad[keep].any()
        or ((close <= 0).any() and yield_maturity(cols.ticker, price_field, yields) is None)
        or (np.diff(kept_days) <= np.timedelta64(0, "D")).any()
    ):
        raise _RowReader
    extra: dict[str, np.ndarray | None] = {"volume": None, "high": None, "low": None}
    for name in extra:
        j = getattr(cols, name)
        if j is None:
            continue
        values, absent, wrong = _numbers(column(j), raw)
        values, absent, wrong = values[keep], absent[keep], wrong[keep]
        if wrong.any() or (values < 0).any():
            raise _RowReader
        values[absent] = math.nan
        extra[name] = values
    return Series(
        ticker=cols.ticker,
        dates=kept_days,
        close=close,
        volume=extra["volume"],
        source=where,
        price_field=price_field,
        high=extra["high"],
        low=extra["low"],
        date_format=ISO_DATES,
    )


def _read_csv_columns(
    raw: bytes, where: str, stem: str, yields: Yields = NO_YIELDS
) -> list[Series]:
    """The series of a CSV read as columns; _RowReader where the row reader must read it."""
    text, head = _lines(raw)
    raw, n_lines = text.raw, text.n_lines
    rows = [(i + 1, line.split(",")) for i, line in enumerate(head)]
    if not rows or not any(c.strip() for c in rows[0][1]):
        raise _RowReader  # blank first line: the row reader finds the header
    header = [_norm(c) for c in rows[0][1]]
    width = len(header)
    if raw.count(b",") != n_lines * (width - 1):  # a ragged line: pandas would drop its extras
        raise _RowReader
    if header[0] == "price" and n_lines > 2 and _norm(rows[1][1][0]) == "ticker":
        return _yfinance_columns(text, rows, where, stem, yields)
    if (header[0] not in _DATE_NAMES and header[0] != "") or n_lines < 2:
        raise _RowReader
    if any(h in _TICKER_NAMES for h in header):
        return _long_columns(text, header, where, yields)
    known = _ADJ_NAMES | {"close", "open", "high", "low", "volume"}
    if any(h in known for h in header[1:]):
        pi, field = _price_column(header, where, 1)
        has_range = "high" in header and "low" in header
        cols = _Columns(
            stem,
            pi,
            header.index("volume") if "volume" in header else None,
            header.index("high") if has_range else None,
            header.index("low") if has_range else None,
        )
        frame = _body(text, 1, [], [0, pi, cols.volume, cols.high, cols.low])
        days, day_ok = _iso_days(frame[0])
        return [_column_series(frame, None, days, day_ok, cols, where, field, raw, yields=yields)]
    names = [c.strip() for c in rows[0][1][1:]]
    trailing = len(names) > 1 and not names[-1]  # as _drop_empty_last_column, if all empty
    if trailing:
        names = names[:-1]
    if any(not n for n in names) or len(set(names)) != len(names):
        raise _RowReader
    frame = _body(text, 1, [], range(width))
    if trailing and not (frame[width - 1].astype(str).str.strip() == "").all():
        raise _RowReader
    days, day_ok = _iso_days(frame[0])
    notes: tuple[str, ...] = ()
    if day_ok.all() and len(days) > 1 and days[0] > days[-1] and (np.diff(days) <= 0).all():
        frame = frame.iloc[::-1].reset_index(drop=True)  # newest first: as _dated_rows
        days, day_ok, notes = days[::-1], day_ok[::-1], (SORTED_NOTE,)
    return [
        replace(
            _column_series(
                frame, None, days, day_ok, _Columns(name, j), where, WIDE_FIELD, raw, True, yields
            ),
            notes=notes,
        )
        for j, name in enumerate(names, start=1)
    ]


def _long_columns(text: _Text, header: list[str], where: str, yields: Yields) -> list[Series]:
    raw = text.raw
    di = next((i for i, h in enumerate(header) if h in _DATE_NAMES), 0)
    ti = next(i for i, h in enumerate(header) if h in _TICKER_NAMES)
    pi, field = _price_column(header, where, 1)
    vi = header.index("volume") if "volume" in header else None
    frame = _body(text, 1, [ti], [di, ti, pi, vi])
    codes, uniques = pd.factorize(frame[ti].to_numpy())
    names = [str(u).strip() for u in uniques]
    if not all(names):
        raise _RowReader  # a missing ticker: the row reader names its line
    group_of: dict[str, int] = {}
    for name in names:
        group_of.setdefault(name, len(group_of))
    groups = np.array([group_of[n] for n in names])[codes]
    order = np.argsort(groups, kind="stable")
    bounds = np.cumsum(np.bincount(groups, minlength=len(group_of)))[:-1]
    days, day_ok = _iso_days(frame[di])
    return [
        _column_series(
            frame, rows, days, day_ok, _Columns(name, pi, vi), where, field, raw, yields=yields
        )
        for name, rows in zip(group_of, np.split(order, bounds), strict=True)
    ]


def _yfinance_columns(
    text: _Text, rows: list[tuple[int, list[str]]], where: str, stem: str, yields: Yields
) -> list[Series]:
    raw, n_lines = text.raw, text.n_lines
    fields = [c.strip() for c in rows[0][1]]
    tickers = [c.strip() for c in rows[1][1]]
    body = 2
    while (
        body < len(rows) - 1  # the last head line may be cut short
        and _norm(rows[body][1][0]) in ({"ticker"} | _DATE_NAMES)
        and not any(_is_number(c) for c in rows[body][1][1:])
    ):
        body += 1
    if body >= len(rows) - 1 and body < n_lines:
        raise _RowReader  # more header lines than read: the row reader counts them
    columns: dict[str, dict[str, int]] = {}
    for j in range(1, len(fields)):
        ticker = tickers[j] if j < len(tickers) and tickers[j] else stem
        columns.setdefault(ticker, {})[_norm(fields[j])] = j
    used = [0, *(j for cols in columns.values() for n, j in cols.items() if n in _YF_USED)]
    frame = _body(text, body, [], used)
    days, day_ok = _iso_days(frame[0])
    out = []
    for ticker, cols in columns.items():
        name = next((n for n in ("adj close", "price", "close") if n in cols), None)
        if name is None:
            raise _RowReader
        label = "close" if name == "close" else "adjusted close"
        pj, price_field = cols[name], f"{label} (yfinance '{fields[cols[name]]}')"
        hj, lj = cols.get("high"), cols.get("low")
        if hj is None or lj is None:
            hj = lj = None
        spec = _Columns(ticker, pj, cols.get("volume"), hj, lj)
        series = _column_series(
            frame, None, days, day_ok, spec, where, price_field, raw, yields=yields
        )
        cj = cols.get("close")
        if hj is not None and cj is not None and cj != pj:
            series = _adjusted_range(frame, days, day_ok, series, cj, where, raw, yields)
        out.append(series)
    return out


def _adjusted_range(
    frame: pd.DataFrame,
    days: np.ndarray,
    day_ok: np.ndarray,
    series: Series,
    close_col: int,
    where: str,
    raw: bytes,
    yields: Yields,
) -> Series:
    """:func:`_adjust_range` on columns: ``series`` (a row for every line) with its highs and
    lows scaled by adjusted/raw close, or dropped where the raw closes have holes elsewhere.
    """
    assert series.high is not None and series.low is not None
    unadjusted, missing, bad = _numbers(frame[close_col], raw)
    if missing.any():  # the raw closes skip some rows: compare their dates
        cols = _Columns(series.ticker, close_col)
        kept = _column_series(frame, None, days, day_ok, cols, where, "close", raw, True, yields)
        if not np.array_equal(kept.dates, series.dates):
            return replace(series, high=None, low=None)
        unadjusted = kept.close
    elif bad.any() or (unadjusted <= 0).any():
        raise _RowReader
    factor = series.close / unadjusted
    return replace(series, high=series.high * factor, low=series.low * factor)


# -- Parquet ---------------------------------------------------------------------------------
def read_parquet(path: Path, yields: Yields = NO_YIELDS) -> list[Series]:
    """Parquet in the CSV layouts: wide, long, one ticker (named by the file), or yfinance's
    (Price, Ticker) column levels. Data rows are numbered from 1 ("row N"). ``yields`` as
    :func:`read_csv`.
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
        return _parse_rows(head + body, where, _file_stem(path), yields)
    except DataError as exc:
        if exc.line is None:
            raise
        row = f"row {exc.line}" if exc.line else "columns"
        raise DataError(where, f"{row}: {exc.problem}") from None


# -- entry points ----------------------------------------------------------------------------
def read_file(path: Path, yields: Yields = NO_YIELDS) -> list[Series]:
    """The series of one price file, read as Parquet or CSV by its name.

    A yield series, declared in ``yields`` (ticker -> maturity, years) or a FRED Treasury
    column (``DGS10``; ``DGS3MO`` is 0.25 years), becomes its bond total-return index
    (:func:`hedgedesk.core.data.yields.bond_series`); zero and negative yields are valid.
    """
    read = read_parquet if path.name.endswith(".parquet") else read_csv
    out = []
    for s in read(path, yields):
        maturity = yield_maturity(s.ticker, s.price_field, yields)
        out.append(s if maturity is None else bond_series(s, maturity))
    return out


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


def load_paths(
    paths: Iterable[str | Path],
    tickers: Collection[str] | None = None,
    yields: Mapping[str, float] | None = None,
) -> MarketData:
    """Load files and folders (each file in a folder, not recursing) into one MarketData.

    ``yields``: ticker -> maturity (years) of the series that are yields in percent, read as
    bond total-return indices (:func:`read_file`); DataError when one is not in the files.

    With ``tickers`` (the series a command uses), a folder's files are read only as far as
    needed: first those named after a requested ticker (``SPY.csv``, ``SPY.csv.gz`` or
    ``SPY.parquet`` for SPY), the folder's other files only when a requested ticker is still
    missing after that. Files named directly are always read.
    """
    series = _load(paths, tickers, yields or NO_YIELDS)
    market = MarketData.from_series(series)
    missing = [t for t in yields or () if t not in market.series]
    if missing:
        raise DataError(
            "yields",
            f"{', '.join(missing)} declared as yields but not in the data; "
            f"the data has: {market.describe_tickers()}",
        )
    return market


def _load(
    paths: Iterable[str | Path], tickers: Collection[str] | None, yields: Yields
) -> list[Series]:
    series: list[Series] = []
    later: list[Path] = []
    for p in paths:
        path = Path(p).expanduser()
        try:
            is_dir = path.is_dir()
        except OSError as exc:  # e.g. a name too long for the file system
            raise DataError(str(path), f"cannot read: {exc.strerror or exc}") from None
        if not is_dir:
            series.extend(read_file(path, yields))
            continue
        for f in price_files_in(path):
            if tickers is None or _file_stem(f) in tickers:
                series.extend(read_file(f, yields))
            else:
                later.append(f)
    if tickers is not None and not (set(tickers) | set(yields)) <= {s.ticker for s in series}:
        for f in later:
            series.extend(read_file(f, yields))
    return series

"""Positions from a broker's CSV export: holdings and hedge legs for a book.

Two layouts are read (README "Positions from a broker"):

``generic``
    One header row, then one row per position. Header names are case-insensitive (spaces,
    ``_`` and ``-`` ignored); other columns are ignored. ``symbol`` and ``quantity`` are
    required; ``cost_basis`` (or ``avg_price``), ``asset_class``, ``underlying``,
    ``multiplier`` and ``volatility`` are optional.
``ibkr``
    Interactive Brokers' Flex Query "Open Positions" section as CSV (its field codes as
    headers: ``AssetClass``, ``Symbol``, ``UnderlyingSymbol``, ``Multiplier``, ``Strike``,
    ``Expiry``, ``Put/Call``, ``Quantity``, ``CostBasisPrice``, ``CurrencyPrimary``,
    ``LevelOfDetail``, ``ReportDate``); other sections of the same file are skipped.

Option symbols are read in the OCC format (``AAPL  240119C00190000``: the root padded to six
characters, YYMMDD, C or P, the strike x 1000 in eight digits), its compact form without the
padding, and the ``-AAPL240119C190`` / ``.AAPL240119C190`` forms some brokers print (a plain
decimal strike). An option's volatility is not in any export: it is the book's own for a leg
the book already has, else the import's default (``plan_book``'s ``vol``), labelled so.

Every row error names the file, the line, the field and what was expected; all of a file's
errors (up to ``MAX_ERRORS``) come in one :class:`BrokerFileError`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hedgedesk.core.bounds import (
    MAX_CASH,
    MAX_MULTIPLIER,
    MAX_PRICE,
    MAX_QUANTITY,
    MIN_PRICE,
    sensible,
)
from hedgedesk.core.errors import HedgedeskError
from hedgedesk.core.files import MiB, read_regular
from hedgedesk.core.instruments import (
    CONTRACTS,
    CRYPTO,
    EQUITY,
    FUTURE,
    FX,
    OPTION,
    OPTION_MULTIPLIER,
)

LAYOUTS = ("generic", "ibkr")
MAX_ERRORS = 20  # row errors listed in one message; the rest are counted
MAX_FILE_BYTES = 16 * MiB
DEFAULT_VOL = 0.25  # annual fraction: an imported option leg's volatility unless told
MODES = ("merge", "replace")

# asset classes: the generic layout's words, then Interactive Brokers' codes
GENERIC_CLASSES = {
    "stock": "stock",
    "equity": "stock",
    "etf": "stock",
    "option": "option",
    "future": "future",
    "crypto": "crypto",
    "fx": "fx",
    "cash": "cash",
}
IBKR_CLASSES = {"STK": "stock", "OPT": "option", "FUT": "future", "CRYPTO": "crypto", "CASH": "fx"}

GENERIC_COLUMNS = {  # field -> accepted header names (normalised)
    "symbol": ("symbol", "ticker"),
    "quantity": ("quantity", "qty", "position", "shares"),
    "cost_basis": ("costbasis", "avgprice", "averageprice", "avgcost", "averagecost"),
    "asset_class": ("assetclass", "class"),
    "underlying": ("underlying",),
    "multiplier": ("multiplier",),
    "volatility": ("volatility", "vol"),
}
IBKR_COLUMNS = {
    "symbol": ("symbol",),
    "quantity": ("quantity", "position"),
    "cost_basis": ("costbasisprice",),
    "asset_class": ("assetclass",),
    "underlying": ("underlyingsymbol",),
    "multiplier": ("multiplier",),
    "strike": ("strike",),
    "expiry": ("expiry",),
    "right": ("putcall",),
    "currency": ("currencyprimary", "currency"),
    "level": ("levelofdetail",),
    "report_date": ("reportdate",),
}
REQUIRED = ("symbol", "quantity")

_OCC = re.compile(r"([A-Z0-9]{1,6}) *(\d{6})([CP])(\d{8})")
_DECIMAL = re.compile(r"[-.]?([A-Z0-9]{1,6})(\d{6})([CP])(\d+(?:\.\d+)?)")
_MONTHS = "FGHJKMNQUVXZ"  # futures month codes, January to December
_DATE_FORMATS = ("%Y%m%d", "%Y-%m-%d", "%m/%d/%Y")


@dataclass(frozen=True)
class RowError:
    """One refused row: its line in the file, the field and what was wrong."""

    line: int
    field: str
    problem: str

    def __str__(self) -> str:
        return f"line {self.line}, {self.field}: {self.problem}"


class BrokerFileError(HedgedeskError):
    """A broker file that cannot be imported; ``errors`` holds each refused row."""

    def __init__(self, file: str, problem: str, errors: tuple[RowError, ...] = ()):
        self.file = file
        self.errors = errors
        super().__init__(f"{file}: {problem}")


@dataclass(frozen=True)
class OptionSymbol:
    """An option symbol's terms: root, expiry, right (call/put), strike in price units."""

    root: str
    expiry: dt.date
    right: str
    strike: float


def parse_option_symbol(text: str) -> OptionSymbol | None:
    """The terms of an OCC option symbol, or None when ``text`` is not one.

    Parameters
    ----------
    text : str
        ``AAPL  240119C00190000`` (OCC: root padded to 6, YYMMDD, C/P, strike x 1000 in 8
        digits), ``AAPL240119C00190000`` (unpadded), or ``-AAPL240119C190`` /
        ``.AAPL240119C187.5`` (a plain decimal strike). Case and outer spaces are ignored.

    Returns
    -------
    OptionSymbol or None
        Strike in the underlying's price unit (USD for US equity and index options); None
        when the text is not an option symbol or names a date that does not exist.
    """
    s = text.strip().upper()
    m = _OCC.fullmatch(s.lstrip("-."))
    strike: float | None = None
    if m:
        strike = int(m[4]) / 1000
    else:
        m = _DECIMAL.fullmatch(s)
        if m:
            strike = float(m[4])
    if m is None or strike is None:
        return None
    try:
        expiry = dt.datetime.strptime(m[2], "%y%m%d").date()
    except ValueError:
        return None
    return OptionSymbol(m[1], expiry, "call" if m[3] == "C" else "put", strike)


def _looks_like_option(text: str) -> bool:
    """The shape of an option symbol, whether or not its date exists."""
    s = text.strip().upper()
    return bool(_OCC.fullmatch(s.lstrip("-.")) or _DECIMAL.fullmatch(s))


def parse_future_symbol(text: str) -> tuple[str, int, int] | None:
    """(contract code, month 1-12, year digits) of a futures symbol such as ``ESZ4`` or
    ``MESZ24``, for the codes of hedgedesk.core.instruments.CONTRACTS; else None.
    """
    s = text.strip().upper()
    for code in sorted(CONTRACTS, key=len, reverse=True):
        rest = s[len(code) :]
        if s.startswith(code) and re.fullmatch(rf"[{_MONTHS}]\d{{1,2}}", rest):
            return code, _MONTHS.index(rest[0]) + 1, int(rest[1:])
    return None


@dataclass(frozen=True)
class ImportOptions:
    """How symbols become book rows.

    ``vol`` is the annual volatility (0.25 = 25 %) given to an imported option leg the book
    does not already have; ``tickers`` maps a broker symbol (a stock, an option root, a
    futures code, a coin, a currency pair) to the market data's ticker; ``futures`` gives
    each futures code its underlying series and price scale (from the config's [proxies] and
    its futures legs, :func:`options_for`).
    """

    vol: float = DEFAULT_VOL
    tickers: Mapping[str, str] = field(default_factory=dict)
    futures: Mapping[str, tuple[str, float]] = field(default_factory=dict)


def options_for(cfg: Any, vol: float = DEFAULT_VOL, tickers: Mapping[str, str] | None = None):
    """ImportOptions for a desk config: futures priced as its [proxies] and futures legs
    price them, ``tickers`` (broker symbol -> data ticker) on top.
    """
    futures: dict[str, tuple[str, float]] = {}
    for leg in cfg.book.hedges:
        if leg.instrument == FUTURE and leg.contract:
            futures.setdefault(leg.contract, (leg.underlying, leg.price_scale))
    for code, proxy in cfg.proxies.items():
        if not proxy.invert:
            futures.setdefault(code, (proxy.underlying, proxy.scale))
    return ImportOptions(vol, dict(tickers or {}), futures)


@dataclass(frozen=True)
class Imported:
    """A broker file read: the holdings and hedge legs it holds, as [book] TOML rows.

    Holdings carry ``ticker``, ``quantity`` (shares) and ``cost_basis`` (USD per share) when
    the file gives it; hedge legs the config's keys (option legs without ``volatility`` take
    the import's default when applied, :func:`plan_book`). Rows of one symbol are summed.
    """

    file: str
    layout: str
    rows: int  # data rows read (positions, before summing)
    holdings: tuple[dict, ...]
    hedges: tuple[dict, ...]
    cash: float | None  # USD in the file's cash rows (generic layout), None when none
    as_of: dt.date | None  # the statement's report date, when the file gives one
    notes: tuple[str, ...]  # rows left out and why (lots, zero quantities)


def read_positions(
    path: str | Path, layout: str = "auto", options: ImportOptions | None = None
) -> Imported:
    """Read a broker CSV export (``layout`` generic, ibkr or auto: detected from the header).

    Raises BrokerFileError naming the file (and each refused row's line and field).
    """
    p = Path(path).expanduser()
    raw = read_regular(p, MAX_FILE_BYTES, lambda m: BrokerFileError(str(p), m))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BrokerFileError(str(p), f"not UTF-8 text (byte {exc.start})") from None
    return parse_positions(text, str(p), layout, options or ImportOptions())


def parse_positions(text: str, file: str, layout: str, options: ImportOptions) -> Imported:
    """Positions from CSV text (see :func:`read_positions`); ``file`` names it in errors."""
    if layout not in (*LAYOUTS, "auto"):
        raise BrokerFileError(file, f"layout {layout!r}: expected auto, {', '.join(LAYOUTS)}")
    records = _records(text, file)
    if layout == "auto":
        layout = "ibkr" if any(_is_ibkr_header(cells) for _, cells in records) else "generic"
    reader = _Reader(file, layout, options)
    reader.read(records)
    return reader.result()


def _records(text: str, file: str) -> list[tuple[int, list[str]]]:
    """(line, cells) of each non-blank CSV record; Flex's HEADER/DATA prefixes removed."""
    out = []
    reader = csv.reader(io.StringIO(text, newline=""))
    line = 1
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                tag = cells[0].strip().upper()
                if tag in ("HEADER", "DATA") and len(cells) > 2:
                    cells = cells[2:]
                elif tag in ("BOF", "EOF", "BOA", "EOA", "BOS", "EOS", "MSG"):
                    line = reader.line_num + 1
                    continue
                out.append((line, [c.strip() for c in cells]))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise BrokerFileError(file, f"line {reader.line_num}: not CSV: {exc}") from None
    return out


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-/]", "", name).lower()


_FLEX_ONLY = {"clientaccountid", "currencyprimary", "conid", "costbasisprice", "markprice"}


def _is_ibkr_header(cells: list[str]) -> bool:
    """A Flex Open Positions header: AssetClass, Symbol, Quantity and a field only Flex has."""
    names = {_norm(c) for c in cells}
    return (
        {"assetclass", "symbol"} <= names
        and bool(names & {"quantity", "position"})
        and bool(names & _FLEX_ONLY)
    )


@dataclass
class _Position:
    line: int
    kind: str  # stock | option | future | crypto | fx | cash
    quantity: float
    cost: float | None = None
    row: dict = field(default_factory=dict)


class _Reader:
    def __init__(self, file: str, layout: str, options: ImportOptions):
        self.file, self.layout, self.options = file, layout, options
        self.columns = IBKR_COLUMNS if layout == "ibkr" else GENERIC_COLUMNS
        self.errors: list[RowError] = []
        self.positions: list[tuple[str, _Position]] = []  # (level of detail, position)
        self.rows = 0
        self.notes: list[str] = []
        self.as_of: dt.date | None = None

    # -- the file ---------------------------------------------------------------------------
    def read(self, records: list[tuple[int, list[str]]]) -> None:
        header: dict[str, int] | None = None
        found = False
        for line, cells in records:
            if self.layout == "generic" and header is None:
                header = self._header(line, cells)  # the first row names the columns
                found = True
                continue
            if self.layout == "ibkr" and (
                _norm(cells[0]) in ("clientaccountid", "accountid") or _is_ibkr_header(cells)
            ):  # a Flex file stacks sections, each under its own header
                header = self._header(line, cells)
                found = found or header is not None
                continue
            if header is None:
                continue  # another section of a Flex file, or text above its header
            self.rows += 1
            self._row(line, {k: cells[i] if i < len(cells) else "" for k, i in header.items()})
        if not found:
            need = (
                "AssetClass, Symbol and Quantity" if self.layout == "ibkr" else "symbol, quantity"
            )
            raise BrokerFileError(self.file, f"no header row with the columns {need}")

    def _header(self, line: int, cells: list[str]) -> dict[str, int] | None:
        names = [_norm(c) for c in cells]
        out: dict[str, int] = {}
        for key, accepted in self.columns.items():
            hits = [i for i, n in enumerate(names) if n in accepted]
            if len(hits) > 1:
                raise BrokerFileError(
                    self.file, f"line {line}: column {key} is named twice, expected it once"
                )
            if hits:
                out[key] = hits[0]
        if self.layout == "ibkr" and not _is_ibkr_header(cells):
            return None  # a section other than Open Positions
        missing = [k for k in REQUIRED if k not in out]
        if missing:
            raise BrokerFileError(
                self.file,
                f"line {line}: the header has no {', '.join(missing)} column "
                f"(expected one of: {', '.join(self.columns[missing[0]])})",
            )
        return out

    def result(self) -> Imported:
        if self.errors:
            n = len(self.errors)
            listed = "; ".join(str(e) for e in self.errors[:MAX_ERRORS])
            more = f"; and {n - MAX_ERRORS} more" if n > MAX_ERRORS else ""
            raise BrokerFileError(
                self.file, f"{n} row(s) refused: {listed}{more}", tuple(self.errors)
            )
        levels = {level for level, _ in self.positions}
        keep = [p for level, p in self.positions if not ("summary" in levels and level == "lot")]
        if len(keep) < len(self.positions):
            self.notes.append(
                f"{len(self.positions) - len(keep)} lot row(s) left out: "
                "their summary rows hold the positions"
            )
        holdings: dict[str, dict] = {}
        hedges: dict[str, dict] = {}
        costs: dict[str, list[tuple[float, float | None]]] = {}
        cash: float | None = None
        for p in keep:
            if p.kind == "cash":
                cash = (cash or 0.0) + p.quantity
            elif p.kind == "stock":
                t = p.row["ticker"]
                costs.setdefault(t, []).append((p.quantity, p.cost))
                h = holdings.setdefault(t, {"ticker": t, "quantity": 0})
                h["quantity"] = _tidy(h["quantity"] + p.quantity)
            else:
                leg = hedges.setdefault(p.row["name"], {**p.row, "quantity": 0})
                leg["quantity"] = _tidy(leg["quantity"] + p.quantity)
        for t, lots in costs.items():
            if all(c is not None for _, c in lots):
                held = sum(abs(q) for q, _ in lots)
                holdings[t]["cost_basis"] = _tidy(sum(abs(q) * (c or 0.0) for q, c in lots) / held)
        for name, rows in (("holding", holdings), ("leg", hedges)):
            for key in [k for k, r in rows.items() if r["quantity"] == 0]:
                del rows[key]
                self.notes.append(f"{name} {key}: its rows net to 0, left out")
        return Imported(
            self.file,
            self.layout,
            self.rows,
            tuple(holdings.values()),
            tuple(hedges.values()),
            cash,
            self.as_of,
            tuple(self.notes),
        )

    # -- one row ----------------------------------------------------------------------------
    def fail(self, line: int, name: str, value: str, expected: str) -> None:
        self.errors.append(RowError(line, name, f"got {value!r}, expected {expected}"))

    def _row(self, line: int, cells: dict[str, str]) -> None:
        before = len(self.errors)
        symbol = cells["symbol"].strip()
        quantity = self._number(line, "quantity", cells["quantity"], -MAX_QUANTITY, MAX_QUANTITY)
        if not symbol:
            self.fail(line, "symbol", symbol, "a ticker, an option or a futures symbol")
        kind = self._kind(line, cells, symbol)
        if self.layout == "ibkr":
            self._ibkr_checks(line, cells, kind)
        if quantity == 0:
            self.notes.append(f"line {line}: {symbol} has quantity 0, left out")
            return
        if kind is None or quantity is None or len(self.errors) > before:
            return
        build = {
            "stock": self._stock,
            "option": self._option,
            "future": self._future,
            "crypto": self._crypto,
            "fx": self._fx,
            "cash": self._cash,
        }[kind]
        position = build(line, symbol, quantity, cells)
        if position is not None and len(self.errors) == before:
            level = cells.get("level", "").lower()
            self.positions.append((level, position))

    def _kind(self, line: int, cells: dict[str, str], symbol: str) -> str | None:
        given = cells.get("asset_class", "").strip()
        if self.layout == "ibkr":
            kind = IBKR_CLASSES.get(given.upper())
            if kind is None:
                self.fail(
                    line,
                    "AssetClass",
                    given,
                    "STK, OPT, FUT, CRYPTO or CASH (other classes are not imported)",
                )
            return kind
        if not given:  # inferred from the symbol
            if _looks_like_option(symbol):
                return "option"
            return "future" if parse_future_symbol(symbol) else "stock"
        kind = GENERIC_CLASSES.get(given.lower())
        if kind is None:
            self.fail(line, "asset_class", given, "one of " + ", ".join(GENERIC_CLASSES))
        return kind

    def _ibkr_checks(self, line: int, cells: dict[str, str], kind: str | None) -> None:
        currency = cells.get("currency", "").upper()
        if currency and currency != "USD" and kind != "fx":
            self.fail(line, "CurrencyPrimary", currency, "USD (the book is in USD)")
        day = cells.get("report_date", "")
        if day and self.as_of is None:
            self.as_of = self._date(line, "ReportDate", day)

    def _ticker(self, symbol: str) -> str:
        return self.options.tickers.get(symbol, symbol)

    def _stock(self, line, symbol, quantity, cells) -> _Position | None:
        symbol = re.sub(r"^([A-Za-z]+) ([A-Za-z]{1,2})$", r"\1-\2", symbol)  # BRK B: BRK-B
        if not re.fullmatch(r"[A-Za-z0-9.^=/-]+", symbol):
            self.fail(line, "symbol", symbol, "a ticker (letters, digits, . - ^ =; no spaces)")
            return None
        cost = self._number(line, "cost_basis", cells.get("cost_basis", ""), 0, MAX_PRICE, True)
        return _Position(
            line, "stock", quantity, cost or None, {"ticker": self._ticker(symbol.upper())}
        )

    def _option(self, line, symbol, quantity, cells) -> _Position | None:
        terms = parse_option_symbol(symbol)
        if terms is None and self.layout == "ibkr":
            terms = self._ibkr_terms(line, cells)
        if terms is None:
            self.fail(
                line,
                "symbol",
                symbol,
                "an OCC option symbol (ROOT YYMMDD C|P strike x 1000 in 8 digits, "
                "e.g. 'AAPL  240119C00190000', with a real date)",
            )
            return None
        if self.layout == "ibkr":
            self._cross_check(line, cells, terms)
        if not sensible(terms.expiry) or not MIN_PRICE <= terms.strike <= MAX_PRICE:
            self.fail(line, "symbol", symbol, "an expiry and strike in range")
            return None
        if quantity != int(quantity):
            self.fail(line, "quantity", str(quantity), "a whole number of contracts")
            return None
        mult = self._multiplier(line, cells, OPTION_MULTIPLIER)
        under = cells.get("underlying", "").strip().upper() or terms.root
        tickers = self.options.tickers
        row: dict[str, Any] = {
            "name": f"{terms.root} {terms.expiry.isoformat()} {terms.strike:g} {terms.right}",
            "instrument": OPTION,
            "underlying": tickers.get(under) or tickers.get(terms.root) or under,
            "right": terms.right,
            "strike": _tidy(terms.strike),
            "expiry": terms.expiry,
        }
        if mult is not None and mult != OPTION_MULTIPLIER:
            row["multiplier"] = _tidy(mult)
        vol = self._number(line, "volatility", cells.get("volatility", ""), 0, 5, True)
        if vol is not None:
            row["volatility"] = vol
        return _Position(line, "option", quantity, None, row)

    def _ibkr_terms(self, line: int, cells: dict[str, str]) -> OptionSymbol | None:
        """An option's terms from the Flex columns, when its Symbol is not an OCC one."""
        if not all(cells.get(k) for k in ("strike", "expiry", "right", "underlying")):
            return None
        strike = self._number(line, "Strike", cells["strike"], MIN_PRICE, MAX_PRICE)
        expiry = self._date(line, "Expiry", cells["expiry"])
        right = {"C": "call", "P": "put"}.get(cells["right"].upper())
        if right is None:
            self.fail(line, "Put/Call", cells["right"], "C or P")
        if strike is None or expiry is None or right is None:
            return None
        return OptionSymbol(cells["underlying"].upper(), expiry, right, strike)

    def _cross_check(self, line: int, cells: dict[str, str], terms: OptionSymbol) -> None:
        """The Flex columns, where given, must agree with the symbol's terms."""
        if cells.get("strike"):
            strike = self._number(line, "Strike", cells["strike"], MIN_PRICE, MAX_PRICE)
            if strike is not None and not math.isclose(strike, terms.strike, rel_tol=1e-9):
                self.fail(line, "Strike", cells["strike"], f"{terms.strike:g} as in the symbol")
        if cells.get("expiry"):
            day = self._date(line, "Expiry", cells["expiry"])
            if day is not None and day != terms.expiry:
                self.fail(line, "Expiry", cells["expiry"], f"{terms.expiry} as in the symbol")
        right = cells.get("right", "").upper()
        if right and right != terms.right[0].upper():
            self.fail(line, "Put/Call", right, f"{terms.right[0].upper()} as in the symbol")

    def _future(self, line, symbol, quantity, cells) -> _Position | None:
        parsed = parse_future_symbol(symbol)
        under = cells.get("underlying", "").strip().upper()
        code = parsed[0] if parsed else under if under in CONTRACTS else None
        if code is None:
            self.fail(
                line,
                "symbol",
                symbol,
                "a futures symbol: code, month letter, year (ESZ4, MESZ24) for a code of "
                + ", ".join(CONTRACTS),
            )
            return None
        if quantity != int(quantity):
            self.fail(line, "quantity", str(quantity), "a whole number of contracts")
            return None
        priced = self.options.futures.get(code)
        series = self.options.tickers.get(code) or (priced[0] if priced else None)
        if series is None:
            self.fail(
                line,
                "symbol",
                symbol,
                f"a price series for {code}: map it (--map {code}=TICKER) or add "
                f"[proxies] {code} = {{ underlying = ... }} to the config",
            )
            return None
        row: dict[str, Any] = {
            "name": symbol.upper(),
            "instrument": FUTURE,
            "contract": code,
            "underlying": series,
        }
        scale = priced[1] if priced and priced[0] == series else 1.0
        if scale != 1.0:
            row["price_scale"] = scale
        mult = self._multiplier(line, cells, CONTRACTS[code].multiplier)
        if mult is not None and mult != CONTRACTS[code].multiplier:
            row["multiplier"] = _tidy(mult)
        return _Position(line, "future", quantity, None, row)

    def _crypto(self, line, symbol, quantity, cells) -> _Position | None:
        coin = symbol.upper()
        default = coin if "-" in coin else f"{coin}-USD"  # Yahoo's name for the USD price
        row = {
            "name": coin,
            "instrument": CRYPTO,
            "underlying": self.options.tickers.get(coin, default),
        }
        return _Position(line, "crypto", quantity, None, row)

    def _fx(self, line, symbol, quantity, cells) -> _Position | None:
        pair = re.fullmatch(r"([A-Z]{3})[./]?([A-Z]{3})", symbol.upper())
        if pair is None or pair[2] != "USD" or pair[1] == "USD":
            self.fail(
                line,
                "symbol",
                symbol,
                "a currency pair quoted in USD (EUR.USD, GBP.USD): the leg holds "
                "units of the first currency",
            )
            return None
        name = f"{pair[1]}.USD"
        row = {
            "name": name,
            "instrument": FX,
            "underlying": self.options.tickers.get(name, f"{pair[1]}USD=X"),
        }
        return _Position(line, "fx", quantity, None, row)

    def _cash(self, line, symbol, quantity, cells) -> _Position | None:
        if symbol.upper() != "USD":
            self.fail(line, "symbol", symbol, "USD on a cash row (the book is in USD)")
            return None
        if abs(quantity) > MAX_CASH:
            self.fail(line, "quantity", str(quantity), f"at most {MAX_CASH:g} USD")
            return None
        return _Position(line, "cash", quantity)

    # -- values -----------------------------------------------------------------------------
    def _multiplier(self, line: int, cells: dict[str, str], default: float) -> float | None:
        text = cells.get("multiplier", "")
        value = self._number(line, "multiplier", text, 0, max(MAX_MULTIPLIER, default), True)
        return default if value is None and not text.strip() else value

    def _number(
        self,
        line: int,
        name: str,
        text: str,
        lo: float,
        hi: float,
        lo_open: bool = False,
    ) -> float | None:
        """A number as brokers print it (``1,500``, ``$150.25``, ``(3)`` for -3); None for
        an empty cell (the caller decides) or a refused one (an error is recorded).
        """
        s = text.strip().replace(",", "").replace("$", "")
        if not s:
            if name == "quantity":
                self.fail(line, name, text, "a number")
            return None
        negative = s.startswith("(") and s.endswith(")")
        try:
            value = float(s[1:-1] if negative else s)
        except ValueError:
            self.fail(line, name, text, "a number")
            return None
        value = -value if negative else value
        below = value <= lo if lo_open else value < lo
        if not math.isfinite(value) or below or value > hi:
            self.fail(line, name, text, f"a number {'>' if lo_open else '>='} {lo:g} and <= {hi:g}")
            return None
        return value

    def _date(self, line: int, name: str, text: str) -> dt.date | None:
        for fmt in _DATE_FORMATS:
            try:
                day = dt.datetime.strptime(text.strip(), fmt).date()
            except ValueError:
                continue
            if sensible(day):
                return day
        self.fail(line, name, text, "a date YYYYMMDD, YYYY-MM-DD or MM/DD/YYYY")
        return None


def _tidy(x: float) -> float | int:
    """A whole number as an int (``quantity = 100`` in the file), else the float."""
    return int(x) if float(x).is_integer() and abs(x) < 2**53 else round(x, 10)


# -- into a book ---------------------------------------------------------------------------------
Entry = tuple[int | None, dict]  # (index of the book's row it changes, or None: a new row; keys)


@dataclass(frozen=True)
class BookPlan:
    """What an import does to a book: each resulting row as an :data:`Entry` (the keys an
    existing row changes, or a new row's keys), the cash when it changes, and the changes in
    words. ``default_vol`` names the new option legs priced with the import's volatility.
    """

    mode: str
    holdings: tuple[Entry, ...]
    hedges: tuple[Entry, ...]
    cash: float | None
    changes: tuple[str, ...]
    default_vol: tuple[str, ...]


def plan_book(book: Any, imported: Imported, mode: str = "merge", vol: float = DEFAULT_VOL):
    """How ``imported`` changes ``book`` (a hedgedesk.core.config.Book).

    ``merge`` keeps the book's rows the file does not hold; ``replace`` drops them and takes
    the file's cash when it has any. Either way a row the book already has (the same ticker;
    an option of the same underlying, right, strike and expiry; a future of the same
    contract; a coin or currency of the same underlying) takes the file's quantity (and cost
    basis) and keeps its name, purpose and volatility. A new option leg's volatility is
    ``vol`` (annual fraction) unless the file gives one; its purpose is inferred: a long put
    "protection", a short call "covered call" while the book's shares of its underlying
    cover it (contracts x multiplier), else "option".
    """
    if mode not in MODES:
        raise HedgedeskError(f"import mode {mode!r}: expected merge or replace")
    keep = mode == "merge"
    changes: list[str] = []
    new_holdings = {h["ticker"]: h for h in imported.holdings}
    new_legs = {_key(leg): leg for leg in imported.hedges}
    holdings: list[Entry] = []
    hedges: list[Entry] = []
    shares: dict[str, float] = {}
    for i, h in enumerate(book.holdings):
        row = new_holdings.pop(h.ticker, None)
        if row is None:
            if keep:
                holdings.append((i, {}))
                shares[h.ticker] = h.quantity
            else:
                changes.append(f"removed holding {h.ticker}")
            continue
        update = {k: v for k, v in row.items() if k != "ticker"}
        holdings.append((i, update))
        shares[h.ticker] = row["quantity"]
        changes.append(_changed(f"holding {h.ticker}", h.quantity, row["quantity"]))
    for i, leg in enumerate(book.hedges):
        stock = new_holdings.pop(leg.underlying, None) if leg.instrument == EQUITY else None
        row = stock or new_legs.pop(_key(leg), None)
        if row is None:
            if keep:
                hedges.append((i, {}))
            else:
                changes.append(f"removed leg {leg.name!r}")
            continue
        hedges.append((i, {"quantity": row["quantity"]}))
        changes.append(_changed(f"leg {leg.name!r}", leg.quantity, row["quantity"]))
    for t, row in new_holdings.items():
        holdings.append((None, dict(row)))
        shares[t] = row["quantity"]
        changes.append(f"added holding {t} {row['quantity']:g}")
    taken = {leg.name for i, leg in enumerate(book.hedges) if any(j == i for j, _ in hedges)}
    taken |= set(shares)
    filled = []
    for row in new_legs.values():
        leg = dict(row)
        leg["name"] = _unique(leg["name"], taken)
        if leg["instrument"] == OPTION:
            if "volatility" not in leg:
                leg["volatility"] = vol
                filled.append(leg["name"])
            leg["purpose"] = _purpose(leg, shares)
        hedges.append((None, leg))
        changes.append(f"added leg {leg['name']!r} {leg['quantity']:g}")
    cash = None
    if not keep and imported.cash is not None and imported.cash != book.cash:
        cash = imported.cash
        changes.append(f"cash {book.cash:g} -> {cash:g}")
    return BookPlan(
        mode, tuple(holdings), tuple(hedges), cash, tuple(c for c in changes if c), tuple(filled)
    )


def _key(leg: Any) -> tuple:
    """What makes two legs the same position (a HedgeLeg or a TOML row)."""
    get = leg.get if isinstance(leg, dict) else lambda k: getattr(leg, k, None)
    kind = get("instrument")
    if kind == OPTION:
        expiry, strike = get("expiry"), get("strike")
        day = dt.date.fromisoformat(expiry) if isinstance(expiry, str) else expiry
        return (kind, get("underlying"), get("right"), float(strike or 0), day)
    if kind == FUTURE:
        return (kind, get("contract") or get("underlying"))
    return (kind, get("underlying"))


def _changed(what: str, old: float, new: float) -> str:
    return "" if old == new else f"{what} {old:g} -> {new:g}"


def _unique(name: str, taken: set[str]) -> str:
    out, n = name, 1
    while out in taken:
        n += 1
        out = f"{name} #{n}"
    taken.add(out)
    return out


def _purpose(leg: dict, shares: dict[str, float]) -> str:
    """Protection, covered call (while the shares cover it: they are used up), or option."""
    q = leg["quantity"]
    if leg["right"] == "put" and q > 0:
        return "protection"
    if leg["right"] == "call" and q < 0:
        need = -q * leg.get("multiplier", OPTION_MULTIPLIER)
        held = shares.get(leg["underlying"], 0.0)
        if held >= need:
            shares[leg["underlying"]] = held - need
            return "covered call"
    return "option"


def planned_config(cfg: Any, plan: BookPlan, out: Path | None = None) -> tuple[str, Any]:
    """The text of ``cfg``'s file with the book ``plan`` makes, and that text loaded as if it
    were at ``out`` (default: ``cfg``'s own path); a ConfigError names the key it fails on.

    The rows are rendered as the desk saves an edit (:meth:`BookEditor.render
    <hedgedesk.core.book.edit.BookEditor.render>`: kept rows keep their comments and layout,
    the comments that introduce the next section follow the new last row). Relative ``[data]
    paths`` and ``[cluster]`` TLS files are made absolute when ``out`` is in another folder,
    so the new file reads the same data.
    """
    from hedgedesk.core.book.edit import BOM, BookEditor
    from hedgedesk.core.config import parse_config

    base = Path(cfg.path)
    where = base if out is None else out
    editor = BookEditor(cfg)
    editor.replace_rows(plan.holdings, plan.hedges)
    new = editor.render()
    moved = where.parent.resolve() != base.parent.resolve()
    if plan.cash is not None or moved:
        import tomlkit

        bom = BOM if new.startswith(BOM) else ""
        doc = tomlkit.parse(new.removeprefix(bom))
        if plan.cash is not None:
            doc["book"]["cash"] = float(plan.cash)
        if moved:
            _absolute_paths(doc, base.parent.resolve())
        new = bom + tomlkit.dumps(doc)
    return new, parse_config(new, where)


def _absolute_paths(doc: Any, folder: Path) -> None:
    data = doc.get("data")
    if data is not None and isinstance(data.get("paths"), list):
        data["paths"] = [
            p if not isinstance(p, str) or Path(p).expanduser().is_absolute() else str(folder / p)
            for p in data["paths"]
        ]
    cluster = doc.get("cluster")
    for key in ("tls_ca", "tls_cert", "tls_key"):
        value = cluster.get(key) if cluster is not None else None
        if isinstance(value, str) and value and not Path(value).expanduser().is_absolute():
            cluster[key] = str(folder / value)


def write_book_config(
    cfg: Any,
    plan: BookPlan,
    out: Path,
    force: bool = False,
    check: Callable[[Any], object] | None = None,
):
    """Write ``cfg``'s file with the book ``plan`` makes to ``out`` (atomically) and load it
    back; returns the loaded DeskConfig.

    Refuses an existing ``out`` unless ``force``, a built-in demo desk as ``out``, and a book
    that would not load (the loader's message, naming the key) or that ``check`` (called
    with the new DeskConfig before anything is written) raises on.
    """
    from hedgedesk.core.atomic import write_atomic
    from hedgedesk.core.book.edit import is_builtin_demo
    from hedgedesk.core.config import load_config

    out = Path(out).expanduser()
    target = out.resolve()
    if is_builtin_demo(target):
        raise HedgedeskError(f"{out}: is a built-in demo desk; write the book to another file")
    if out.exists() and not force:
        raise HedgedeskError(f"{out}: exists; give --force to overwrite it")
    if out.is_dir():
        raise HedgedeskError(f"{out}: is a folder, expected a file")
    new, planned = planned_config(cfg, plan, out)  # a ConfigError names the key: no write
    if check is not None:
        check(planned)
    data = new.encode("utf-8")
    try:
        write_atomic(target, lambda tmp: tmp.write_bytes(data))
    except OSError as exc:
        raise HedgedeskError(f"{out}: cannot write: {exc.strerror or exc}") from None
    loaded = load_config(out)
    if loaded.book != planned.book:
        raise HedgedeskError(f"{out}: the written book does not read back as imported")
    return loaded

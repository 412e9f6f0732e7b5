"""Option chains: listed quotes read from CSV files or fetched from Yahoo, one
:class:`OptionChain` per (underlying, quote date).

Two file layouts are read, detected from the header (names compared after stripping spaces and
a UTF-8 byte-order mark, case-insensitively):

- the vendor layout of ``options/SPX_2018.csv`` (header holds ``optionroot`` and
  ``underlying_last``): ``underlying, underlying_last, exchange, optionroot, optionext, type,
  expiration, quotedate, strike, last, bid, ask, volume, openinterest, impliedvol, delta, gamma,
  theta, vega, optionalias`` with ``MM/DD/YYYY`` dates; the vendor's Greeks are not read;
- the generic layout: ``underlying, quote_date, expiry, type`` (or ``right``) ``, strike, bid,
  ask`` and optionally ``last, iv, underlying_price``; dates ``YYYY-MM-DD`` (``MM/DD/YYYY``
  accepted too), type ``call``/``put`` (or ``c``/``p``).

Prices are in the underlying's currency per unit (an index point, a share); ``iv`` is an annual
fraction. A bad row is a :class:`~hedgedesk.core.errors.DataError` naming the file and line.

Yahoo chains (:func:`fetch_yahoo_chain`) come from ``yfinance.Ticker(t).option_chain(expiry)``
and are cached as generic-layout CSV files in ``<yahoo cache>/chains/`` (one per underlying and
quote date), read back offline.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hedgedesk.core.atomic import write_atomic
from hedgedesk.core.errors import DataError
from hedgedesk.core.files import PRICE_MAX_BYTES, read_regular
from hedgedesk.core.paths import yahoo_cache_dir

VENDOR_COLUMNS = (
    "underlying",
    "underlying_last",
    "type",
    "expiration",
    "quotedate",
    "strike",
    "bid",
    "ask",
)
GENERIC_COLUMNS = ("underlying", "quote_date", "expiry", "strike", "bid", "ask")
GENERIC_HEADER = (
    "underlying",
    "quote_date",
    "expiry",
    "type",
    "strike",
    "bid",
    "ask",
    "last",
    "iv",
    "underlying_price",
)
_RIGHTS = {"call": "call", "c": "call", "put": "put", "p": "put"}


@dataclass(frozen=True)
class ChainQuote:
    """One listed option's quote: premium per unit of the underlying (bid, ask, last) and the
    source's implied vol (annual fraction) when it gives one; ``line`` is the file line.
    """

    expiry: dt.date
    right: str  # call | put
    strike: float
    bid: float
    ask: float
    last: float | None = None
    iv: float | None = None
    line: int = 0

    @property
    def mid(self) -> float:
        """(bid + ask) / 2, per unit of the underlying."""
        return 0.5 * (self.bid + self.ask)


@dataclass(frozen=True)
class OptionChain:
    """Every quote of one underlying on one quote date; ``spot`` is the underlying's price the
    source quotes beside them (None when the file has none); ``source`` names the file.
    """

    underlying: str
    quote_date: dt.date
    spot: float | None
    quotes: tuple[ChainQuote, ...]
    source: str

    @property
    def expiries(self) -> tuple[dt.date, ...]:
        """The expiry dates quoted, in order."""
        return tuple(sorted({q.expiry for q in self.quotes}))


def _date(text: str, where: str, line: int, field: str) -> dt.date:
    text = text.strip()
    try:
        if "/" in text:
            return dt.datetime.strptime(text, "%m/%d/%Y").date()
        return dt.date.fromisoformat(text)
    except ValueError:
        raise DataError(
            where, f"{field} {text!r} is not a date (YYYY-MM-DD or MM/DD/YYYY)", line
        ) from None


def _number(
    text: str | None, where: str, line: int, field: str, optional: bool = False
) -> float | None:
    text = (text or "").strip()
    if not text and optional:
        return None
    try:
        value = float(text)
    except ValueError:
        raise DataError(where, f"{field} {text!r} is not a number", line) from None
    if not math.isfinite(value) or value < 0:
        raise DataError(where, f"{field} {text!r}: expected a finite number >= 0", line)
    return value


def parse_chains(text: str, where: str) -> list[OptionChain]:
    """Option chains from CSV text in the vendor or the generic layout (module docstring).

    Parameters
    ----------
    text : str
        The file's text (a leading byte-order mark is ignored).
    where : str
        The file's name, for messages.

    Returns
    -------
    list of OptionChain
        One per (underlying, quote date), sorted by underlying then date; quotes in file order.

    Raises
    ------
    DataError
        Naming the file and line: a missing column, a bad date, number or type, a strike <= 0,
        a negative price, a quote expiring before its quote date, or one listed twice. Crossed
        or zero-bid quotes are kept: the surface skips and counts them.
    """
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader, None)
    if not header:
        raise DataError(where, "empty file: expected a header row of option-chain columns")
    names = [h.strip().lower() for h in header]
    col = {n: i for i, n in enumerate(names)}
    vendor = "optionroot" in col and "underlying_last" in col
    need = VENDOR_COLUMNS if vendor else GENERIC_COLUMNS
    missing = [c for c in need if c not in col]
    if not vendor and "type" not in col and "right" not in col:
        missing.append("type (or right)")
    if missing:
        raise DataError(
            where,
            f"missing column(s) {', '.join(missing)}: expected the generic layout "
            f"({', '.join(GENERIC_HEADER)}) or the SPX_2018.csv vendor layout",
            1,
        )
    k_date, k_expiry = ("quotedate", "expiration") if vendor else ("quote_date", "expiry")
    k_spot = "underlying_last" if vendor else "underlying_price"
    k_iv = "impliedvol" if vendor else "iv"
    k_type = "type" if "type" in col else "right"
    groups: dict[tuple[str, dt.date], list[ChainQuote]] = {}
    spots: dict[tuple[str, dt.date], float | None] = {}
    seen: dict[tuple, int] = {}
    for line, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) < len(names):
            raise DataError(where, f"{len(row)} fields, expected {len(names)} (the header's)", line)

        def get(name: str, row: list[str] = row) -> str | None:
            i = col.get(name)
            return row[i] if i is not None else None

        underlying = (get("underlying") or "").strip()
        if not underlying:
            raise DataError(where, "underlying is empty: expected a ticker", line)
        quote_date = _date(get(k_date) or "", where, line, k_date)
        expiry = _date(get(k_expiry) or "", where, line, k_expiry)
        if expiry < quote_date:
            raise DataError(
                where, f"{k_expiry} {expiry} is before the quote date {quote_date}", line
            )
        right = _RIGHTS.get((get(k_type) or "").strip().lower())
        if right is None:
            raise DataError(where, f"{k_type} {get(k_type)!r}: expected call or put", line)
        strike = _number(get("strike"), where, line, "strike")
        if not strike:
            raise DataError(where, f"strike {get('strike')!r}: expected a price > 0", line)
        bid = _number(get("bid"), where, line, "bid")
        ask = _number(get("ask"), where, line, "ask")
        assert bid is not None and ask is not None
        last = _number(get("last"), where, line, "last", optional=True)
        iv = _number(get(k_iv), where, line, k_iv, optional=True)
        spot = _number(get(k_spot), where, line, k_spot, optional=True)
        key = (underlying, quote_date)
        ident = (underlying, quote_date, expiry, right, strike)
        if ident in seen:
            raise DataError(
                where,
                f"{underlying} {right} {strike:g} {expiry} quoted {quote_date} is also on line "
                f"{seen[ident]}: expected each option once per quote date",
                line,
            )
        seen[ident] = line
        groups.setdefault(key, []).append(
            ChainQuote(expiry, right, strike, bid, ask, last, iv or None, line)
        )
        if spot:
            spots.setdefault(key, spot)
    if not groups:
        raise DataError(where, "no quotes: the file has a header and nothing else")
    return [
        OptionChain(u, d, spots.get((u, d)), tuple(groups[(u, d)]), where)
        for u, d in sorted(groups)
    ]


def read_chains(path: Path) -> list[OptionChain]:
    """The option chains in one CSV file (either layout); see :func:`parse_chains`.

    Parameters
    ----------
    path : Path
        A CSV file, UTF-8 (a byte-order mark is fine), at most the price files' size limit.

    Returns
    -------
    list of OptionChain
        One per (underlying, quote date), sorted.
    """
    where = str(path)

    def fail(message: str) -> DataError:
        return DataError(where, message)

    try:
        st = path.stat()
    except OSError:
        raise DataError(where, "no such option-chain file") from None
    stamp = (st.st_mtime_ns, st.st_size)
    if _READ.get(where, ((), []))[0] != stamp:
        raw = read_regular(path, PRICE_MAX_BYTES, fail)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(
                where, f"not UTF-8 text (byte {exc.start}): expected a CSV file"
            ) from None
        _READ[where] = (stamp, parse_chains(text, where))
    return list(_READ[where][1])


# by file: (mtime ns, size) and its chains, so a desk reload reads an unchanged file once
_READ: dict[str, tuple[tuple[int, ...], list[OptionChain]]] = {}


def load_chains(paths: Iterable[Path]) -> list[OptionChain]:
    """Every chain in ``paths``; DataError when two files quote the same underlying on the
    same date (load each chain from one file only).
    """
    out: dict[tuple[str, dt.date], OptionChain] = {}
    for path in paths:
        for chain in read_chains(path):
            key = (chain.underlying, chain.quote_date)
            if key in out:
                raise DataError(
                    str(path),
                    f"{chain.underlying} quoted {chain.quote_date} is also in "
                    f"{out[key].source}: load each chain from one file only",
                )
            out[key] = chain
    return [out[k] for k in sorted(out)]


def _text(x: float | None) -> str:
    return "" if x is None else repr(float(x))  # repr: the shortest text that reads back exact


def chains_csv(chains: Sequence[OptionChain]) -> str:
    """``chains`` as generic-layout CSV text (the layout :func:`parse_chains` reads)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(GENERIC_HEADER)
    for c in chains:
        for q in c.quotes:
            w.writerow(
                [
                    c.underlying,
                    c.quote_date.isoformat(),
                    q.expiry.isoformat(),
                    q.right,
                    *(_text(x) for x in (q.strike, q.bid, q.ask, q.last, q.iv, c.spot)),
                ]
            )
    return buf.getvalue()


# -- Yahoo ---------------------------------------------------------------------------------
TickerFactory = Callable[[str], Any]  # yfinance.Ticker or a stand-in with .options, .option_chain


def _yf_ticker(symbol: str) -> Any:
    import yfinance as yf  # imported here: slow to import and only needed online

    return yf.Ticker(symbol)


def chain_cache_file(ticker: str, quote_date: dt.date) -> Path:
    """Where a Yahoo chain of ``ticker`` quoted on ``quote_date`` is cached."""
    from hedgedesk.core.data.yahoo import _cache_file  # the checked-symbol rule, shared

    folder = yahoo_cache_dir() / "chains"
    _cache_file(folder, ticker)  # DataError for anything but a Yahoo symbol
    return folder / f"{ticker}_{quote_date.isoformat()}.csv"


def _frame_quotes(frame: Any, right: str, expiry: dt.date) -> list[ChainQuote]:
    out = []
    for rec in frame.to_dict("records"):
        strike, bid, ask = (float(rec.get(k) or 0.0) for k in ("strike", "bid", "ask"))
        if not (strike > 0 and math.isfinite(bid) and math.isfinite(ask)):
            continue
        last = rec.get("lastPrice")
        iv = rec.get("impliedVolatility")
        out.append(
            ChainQuote(
                expiry,
                right,
                strike,
                max(bid, 0.0),
                max(ask, 0.0),
                float(last) if last is not None and math.isfinite(float(last)) else None,
                float(iv) if iv is not None and math.isfinite(float(iv)) and iv > 0 else None,
            )
        )
    return out


def fetch_yahoo_chain(
    ticker: str,
    today: dt.date,
    expiries: int = 6,
    factory: TickerFactory | None = None,
) -> OptionChain:
    """Download ``ticker``'s listed options from Yahoo (the first ``expiries`` expiry dates)
    and cache them as ``<yahoo cache>/chains/<TICKER>_<today>.csv`` (generic layout).

    Parameters
    ----------
    ticker : str
        A Yahoo symbol with listed options (SPY, ^SPX, AAPL).
    today : date
        The quote date recorded for the chain (the day it is fetched).
    expiries : int
        How many of the nearest expiry dates to fetch (one request each).
    factory : callable, optional
        ``yfinance.Ticker`` by default; tests pass a recorded stand-in (no network).

    Returns
    -------
    OptionChain
        Bid/ask/last per unit of the underlying, Yahoo's implied vol, and the spot from the
        ticker's ``fast_info`` last price (None when Yahoo gives none).

    Raises
    ------
    DataError
        When Yahoo lists no options for the ticker or cannot be reached.
    """
    path = chain_cache_file(ticker, today)
    try:
        t = (factory or _yf_ticker)(ticker)
        dates = list(t.options)[:expiries]
        quotes: list[ChainQuote] = []
        for d in dates:
            expiry = dt.date.fromisoformat(str(d))
            got = t.option_chain(str(d))
            quotes += _frame_quotes(got.calls, "call", expiry)
            quotes += _frame_quotes(got.puts, "put", expiry)
        spot = None
        try:
            spot = float(t.fast_info["lastPrice"])
        except (KeyError, TypeError, ValueError):
            spot = None
    except DataError:
        raise
    except Exception as exc:  # yfinance raises many kinds: say which ticker and why, in one line
        raise DataError(ticker, f"no option chain from Yahoo: {exc}") from None
    if not quotes:
        raise DataError(ticker, "Yahoo lists no options for this ticker")
    chain = OptionChain(
        ticker,
        today,
        spot if spot and math.isfinite(spot) and spot > 0 else None,
        tuple(quotes),
        str(path),
    )
    write_atomic(path, lambda tmp: tmp.write_text(chains_csv([chain]), encoding="utf-8"))
    return chain


def cached_yahoo_chain(ticker: str, asof: dt.date) -> OptionChain | None:
    """The newest cached Yahoo chain of ``ticker`` quoted on or before ``asof``, or None."""
    folder = yahoo_cache_dir() / "chains"
    best: tuple[dt.date, Path] | None = None
    for p in folder.glob(f"{ticker}_*.csv") if folder.is_dir() else ():
        try:
            d = dt.date.fromisoformat(p.stem.rsplit("_", 1)[1])
        except ValueError:
            continue
        if d <= asof and (best is None or d > best[0]):
            best = (d, p)
    if best is None:
        return None
    found = [c for c in read_chains(best[1]) if c.underlying == ticker]
    return found[-1] if found else None

"""Option-chain files and Yahoo chains (core/data/option_chains.py).

Witnesses: rows written here in each layout and read back field by field; the SPX_2018.csv
counts taken with the csv module here (skipped when ../shared/data is absent); a Yahoo chain
from a fixture in yfinance's ``Ticker.option_chain`` layout (fixtures/yahoo_chain_SPY.json;
no network), cached and read back.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from hedgedesk.core.data.option_chains import (
    cached_yahoo_chain,
    chain_cache_file,
    chains_csv,
    fetch_yahoo_chain,
    load_chains,
    parse_chains,
    read_chains,
)
from hedgedesk.core.errors import DataError

SPX = Path(__file__).resolve().parents[4] / "shared" / "data" / "options" / "SPX_2018.csv"
FIXTURE = Path(__file__).parent / "fixtures" / "yahoo_chain_SPY.json"

VENDOR = (
    "\ufeffunderlying,underlying_last, exchange,optionroot,optionext,type,expiration,quotedate,"
    "strike,last,bid,ask,volume,openinterest,impliedvol,delta,gamma,theta,vega,optionalias\r\n"
    "SPXW,2695.79,W,SPXW180131C02700000,,call,01/31/2018,01/02/2018,2700,30.1,29.5,30.2,5,10,"
    "0.07,0.5,0,0,0,SPXW180131C02700000\r\n"
    "SPXW,2695.79,W,SPXW180131P02600000,,put,01/31/2018,01/02/2018,2600,5,4.9,5.3,5,10,"
    "0.1,-0.2,0,0,0,SPXW180131P02600000\r\n"
    "SPXW,2713.06,W,SPXW180131P02600000,,put,01/31/2018,01/03/2018,2600,4,3.9,4.2,5,10,"
    "0.1,-0.2,0,0,0,SPXW180131P02600000\r\n"
)
GENERIC = (
    "underlying,quote_date,expiry,right,strike,bid,ask,last,iv,underlying_price\n"
    "AAA,2024-03-01,2024-04-19,c,100,2.1,2.3,2.2,0.21,99.5\n"
    "AAA,2024-03-01,2024-04-19,P,95,1.0,1.1,,,99.5\n"
    "BBB,2024-03-01,2024-04-19,put,50,0,0.05,,,\n"
)


def test_vendor_layout_bom_leading_space_and_us_dates():
    chains = parse_chains(VENDOR, "spx.csv")
    assert [(c.underlying, c.quote_date, c.spot) for c in chains] == [
        ("SPXW", dt.date(2018, 1, 2), 2695.79),
        ("SPXW", dt.date(2018, 1, 3), 2713.06),
    ]
    call, put = chains[0].quotes
    assert (call.expiry, call.right, call.strike, call.bid, call.ask) == (
        dt.date(2018, 1, 31),
        "call",
        2700.0,
        29.5,
        30.2,
    )
    assert (call.last, call.iv, call.line, put.line) == (30.1, 0.07, 2, 3)
    assert call.mid == pytest.approx(29.85)


def test_generic_layout_with_right_column_and_optional_fields():
    a, b = parse_chains(GENERIC, "g.csv")
    assert (a.underlying, a.spot, b.underlying, b.spot) == ("AAA", 99.5, "BBB", None)
    c, p = a.quotes
    assert (c.right, c.last, c.iv) == ("call", 2.2, 0.21)
    assert (p.right, p.last, p.iv) == ("put", None, None)
    assert b.quotes[0].bid == 0.0  # zero bids are kept: the surface skips and counts them
    assert a.expiries == (dt.date(2024, 4, 19),)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            "AAA,2024-13-01,2024-04-19,c,100,1,2,,,",
            r"g.csv:3: quote_date '2024-13-01' is not a date",
        ),
        ("AAA,2024-03-01,2024-04-19,x,100,1,2,,,", r"g.csv:3: right 'x': expected call or put"),
        ("AAA,2024-03-01,2024-04-19,c,0,1,2,,,", r"g.csv:3: strike '0': expected a price > 0"),
        ("AAA,2024-03-01,2024-04-19,c,100,-1,2,,,", r"g.csv:3: bid '-1': expected a finite"),
        ("AAA,2024-03-01,2024-04-19,c,100,1,abc,,,", r"g.csv:3: ask 'abc' is not a number"),
        ("AAA,2024-03-01,2024-02-19,c,100,1,2,,,", r"g.csv:3: expiry 2024-02-19 is before"),
        (",2024-03-01,2024-04-19,c,100,1,2,,,", r"g.csv:3: underlying is empty"),
        ("AAA,2024-03-01,2024-04-19,c,100", r"g.csv:3: 5 fields, expected 10"),
        ("AAA,2024-03-01,2024-04-19,call,100.0,1,2,,,", r"g.csv:3: AAA call 100 .* line 2"),
    ],
)
def test_a_bad_row_names_the_file_and_line(row, message):
    head = "underlying,quote_date,expiry,right,strike,bid,ask,last,iv,underlying_price\n"
    good = "AAA,2024-03-01,2024-04-19,c,100,2.1,2.3,,,\n"
    with pytest.raises(DataError, match=message):
        parse_chains(head + good + row + "\n", "g.csv")


def test_missing_columns_and_empty_files():
    with pytest.raises(DataError, match=r"g.csv:1: missing column\(s\) bid, type \(or right\)"):
        parse_chains("underlying,quote_date,expiry,strike,ask\n", "g.csv")
    with pytest.raises(DataError, match="empty file"):
        parse_chains("", "g.csv")
    with pytest.raises(DataError, match="no quotes"):
        parse_chains("underlying,quote_date,expiry,type,strike,bid,ask\n", "g.csv")


def test_files_read_cache_reread_and_refuse_a_chain_loaded_twice(tmp_path):
    f = tmp_path / "a.csv"
    f.write_text(GENERIC, encoding="utf-8")
    assert len(read_chains(f)) == 2
    f.write_text(GENERIC.replace("BBB", "AAA").replace(",50,", ",60,"), encoding="utf-8")
    (only,) = read_chains(f)  # changed on disk: read again
    assert len(only.quotes) == 3
    (tmp_path / "b.csv").write_text(GENERIC, encoding="utf-8")
    with pytest.raises(DataError, match=r"b.csv: AAA quoted 2024-03-01 is also in .*a.csv"):
        load_chains([f, tmp_path / "b.csv"])
    with pytest.raises(DataError, match="no such option-chain file"):
        read_chains(tmp_path / "missing.csv")
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(DataError, match="not UTF-8"):
        read_chains(tmp_path / "bin.csv")


def test_generic_csv_round_trip():
    chains = parse_chains(GENERIC, "g.csv")
    again = parse_chains(chains_csv(chains), "again.csv")
    strip = [
        (c.underlying, c.quote_date, c.spot, [q[:7] for q in map(_fields, c.quotes)])
        for c in chains
    ]
    assert strip == [
        (c.underlying, c.quote_date, c.spot, [q[:7] for q in map(_fields, c.quotes)]) for c in again
    ]


def _fields(q):
    return (q.expiry, q.right, q.strike, q.bid, q.ask, q.last, q.iv)


@pytest.mark.skipif(not SPX.exists(), reason="../shared/data is not here")
def test_the_spx_file_one_chain_per_quote_date():
    with SPX.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    dates = sorted({dt.datetime.strptime(r["quotedate"], "%m/%d/%Y").date() for r in rows})
    chains = read_chains(SPX)
    assert [c.quote_date for c in chains] == dates and len(dates) == 40
    assert sum(len(c.quotes) for c in chains) == len(rows)
    assert {c.underlying for c in chains} == {"SPXW"}
    assert {e for c in chains for e in c.expiries} == {dt.date(2018, 1, 31), dt.date(2018, 2, 28)}
    first = [r for r in rows if r["quotedate"] == "01/02/2018"]
    assert chains[0].spot == float(first[0]["underlying_last"])
    assert len(chains[0].quotes) == len(first)


# -- Yahoo -------------------------------------------------------------------------------------
class RecordedTicker:
    """yfinance.Ticker's chain surface, answered from the fixture."""

    def __init__(self, symbol: str):
        rec = json.loads(FIXTURE.read_text(encoding="utf-8"))
        assert symbol == rec["ticker"]
        self._rec = rec
        self.options = tuple(rec["options"])
        self.fast_info = rec["fast_info"]
        self.asked: list[str] = []

    def option_chain(self, expiry: str):
        self.asked.append(expiry)
        got = self._rec["chains"][expiry]
        return SimpleNamespace(calls=pd.DataFrame(got["calls"]), puts=pd.DataFrame(got["puts"]))


def test_yahoo_chain_is_fetched_cached_and_read_back(tmp_path, monkeypatch):
    monkeypatch.setenv("HEDGEDESK_CACHE", str(tmp_path / "hd"))
    rec = json.loads(FIXTURE.read_text(encoding="utf-8"))
    day = dt.date(2024, 3, 1)
    chain = fetch_yahoo_chain("SPY", day, factory=RecordedTicker)
    assert (chain.underlying, chain.quote_date, chain.spot) == ("SPY", day, 510.0)
    first = rec["chains"]["2024-03-15"]["calls"][0]
    q = chain.quotes[0]
    assert (q.right, q.strike, q.bid, q.ask, q.last, q.iv) == (
        "call",
        first["strike"],
        first["bid"],
        first["ask"],
        first["lastPrice"],
        first["impliedVolatility"],
    )
    n = sum(len(v["calls"]) + len(v["puts"]) for v in rec["chains"].values())
    assert len(chain.quotes) == n
    path = chain_cache_file("SPY", day)
    assert path == tmp_path / "hd" / "chains" / "SPY_2024-03-01.csv" and path.exists()
    back = cached_yahoo_chain("SPY", dt.date(2024, 3, 4))
    assert back is not None and back.quotes == tuple(
        q.__class__(q.expiry, q.right, q.strike, q.bid, q.ask, q.last, q.iv, i + 2)
        for i, q in enumerate(chain.quotes)
    )
    assert cached_yahoo_chain("SPY", dt.date(2024, 2, 29)) is None  # quoted after that day
    # only the nearest expiries are asked for
    t = RecordedTicker("SPY")
    fetch_yahoo_chain("SPY", day, expiries=1, factory=lambda s: t)
    assert t.asked == ["2024-03-15"]


def test_yahoo_failures_are_one_line_data_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("HEDGEDESK_CACHE", str(tmp_path / "hd"))
    day = dt.date(2024, 3, 1)
    empty = SimpleNamespace(options=(), fast_info={})
    with pytest.raises(DataError, match="SPY: Yahoo lists no options"):
        fetch_yahoo_chain("SPY", day, factory=lambda s: empty)

    def offline(symbol):
        raise ConnectionError("no route to host")

    with pytest.raises(DataError, match="SPY: no option chain from Yahoo: no route to host"):
        fetch_yahoo_chain("SPY", day, factory=offline)
    with pytest.raises(DataError, match="not a Yahoo symbol"):
        fetch_yahoo_chain("../x", day, factory=RecordedTicker)


YAHOO_DESK = """
[data]
source = "yahoo"
tickers = ["SPY"]
benchmark = "SPY"
[targets]
beta = 0.5
[book]
cash = 1000.0
[[book.hedges]]
name = "put"
instrument = "option"
underlying = "SPY"
right = "put"
strike = 480
expiry = "2024-04-19"
quantity = 1
"""


def test_a_yahoo_desk_fetches_the_chain_of_a_leg_without_volatility(tmp_path, monkeypatch):
    from hedgedesk.core.config import load_config
    from hedgedesk.core.data import option_chains
    from hedgedesk.core.data.sources import load_option_chains

    monkeypatch.setenv("HEDGEDESK_CACHE", str(tmp_path / "hd"))
    path = tmp_path / "desk.toml"
    path.write_text(YAHOO_DESK, encoding="utf-8")
    cfg = load_config(path)
    assert cfg.book.hedges[0].volatility is None
    monkeypatch.setattr(option_chains, "_yf_ticker", RecordedTicker)
    day = dt.date(2024, 3, 1)
    (chain,) = load_option_chains(cfg, day)
    assert (chain.underlying, chain.quote_date) == ("SPY", day)

    def offline(symbol):
        raise ConnectionError("offline")

    monkeypatch.setattr(option_chains, "_yf_ticker", offline)
    (again,) = load_option_chains(cfg, day)  # fetched today already: the cache, no request
    assert again.quotes[0].strike == chain.quotes[0].strike
    (older,) = load_option_chains(cfg, dt.date(2024, 3, 4))  # offline: the newest cached one
    assert older.quote_date == day
    assert load_option_chains(cfg, dt.date(2024, 2, 28)) == []  # nothing cached that early
    typed = path.read_text().replace("quantity = 1", "quantity = 1\nvolatility = 0.2")
    path.write_text(typed, encoding="utf-8")
    assert load_option_chains(load_config(path), day) == []  # a typed vol needs no chain

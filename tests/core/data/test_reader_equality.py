"""The vectorised price-file reader gives exactly what the row-by-row reader it replaced gave.

``reader_snapshot.json`` holds, for every file of ``../shared/data``, the demo files and a
corpus of small fixture files (accepted and rejected), a digest of the row reader's output:
the series' tickers, fields, calendars and the bytes of every array, or its error message.
It was written by :func:`snapshot` running the row reader, before the reader was replaced.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pandas as pd

from hedgedesk.core.data.price_files import PRICE_SUFFIXES, read_file
from hedgedesk.core.demo import demo_dir
from hedgedesk.core.errors import DataError

SNAPSHOT = Path(__file__).with_name("reader_snapshot.json")

ETF_HEAD = (
    "Price,Price,Close,High,Low,Open,Volume\n"
    "Ticker,SPY,SPY,SPY,SPY,SPY,SPY\n"
    "Ticker,SPY,SPY,SPY,SPY,SPY,SPY\n"
    "Date,,,,,,\n"
)
# name -> file text: every layout, and each check's failure in each layout
CORPUS: dict[str, str] = {
    "wide.csv": "Date,AAA,BBB\n2020-01-02,10.5,200\n2020-01-03,,201.25\n2020-01-06,11,202\n",
    "wide_words.csv": "Date,AAA,BBB\n2020-01-02,N/A,2\n2020-01-03, nan ,3\n2020-01-06,1,NULL\n",
    "wide_plus_nan.csv": "Date,AAA\n2020-01-02,1\n2020-01-03,+nan\n",
    "wide_all_missing.csv": "Date,AAA,BBB\n2020-01-02,,1\n2020-01-03,,2\n",
    "wide_bad_date_blank_row.csv": "Date,AAA,BBB\n2020-01-02,1,2\ngarbage,,\n2020-01-06,1,2\n",
    "wide_bad_second_col.csv": "Date,AAA,BBB\n2020-01-02,1,2\n2020-01-03,1,abc\n",
    "wide_dup_col.csv": "Date,AAA,AAA\n2020-01-02,1,2\n",
    "wide_no_name.csv": "Date,AAA,\n2020-01-02,1,2\n",
    "wide_unsorted_later.csv": "Date,AAA,BBB\n2020-01-03,1,2\n2020-01-02,,2\n2020-01-06,1,2\n",
    "wide_ragged.csv": "Date,AAA,BBB\n2020-01-02,1\n2020-01-03,1,2,9\n",
    "wide_spaces.csv": "Date,AAA\n 2020-01-02 , 1.5 \n2020-01-03T00:00,2\n",
    "wide_exp.csv": "Date,AAA\n2020-01-02,1e2\n2020-01-03,1.5E-1\n2020-01-06,+3.\n",
    "wide_neg_zero.csv": "Date,AAA\n2020-01-02,1\n2020-01-03,-0\n",
    "wide_inf.csv": "Date,AAA\n2020-01-02,1\n2020-01-03,Infinity\n",
    "wide_underscore.csv": "Date,AAA\n2020-01-02,1_000\n",
    "wide_big_int.csv": "Date,AAA\n2020-01-02,99999999999999999999\n2020-01-03,9007199254740993\n",
    "wide_blank_lines.csv": "Date,AAA\n\n2020-01-02,1\n ,\n2020-01-03,2\n",
    "wide_quotes.csv": 'Date,AAA\n2020-01-02,"1.5"\n"2020-01-03",2\n',
    "wide_crlf.csv": "Date,AAA\r\n2020-01-02,1\r\n2020-01-03,2\r\n",
    "wide_cr.csv": "Date,AAA\r2020-01-02,1\r2020-01-03,2\r",
    "wide_bad_day.csv": "Date,AAA\n2020-02-29,1\n2021-02-29,2\n",
    "wide_year0.csv": "Date,AAA\n0000-01-01,1\n",
    "wide_bad_time.csv": "Date,AAA\n2020-01-02 25:00:00,1\n",
    "wide_tz.csv": "Date,AAA\n2020-01-02T16:00:00-05:00,1\n2020-01-03 00:00:00+00:00,2\n",
    "wide_short_date.csv": "Date,AAA\n2020-1-2,1\n",
    "wide_signed_year.csv": "Date,AAA\n+020-01-02,1\n",
    "wide_unicode_digit.csv": "Date,AAA\n2020-01-02,\u0661\n",
    "wide_nul.csv": "Date,AAA\n2020-01-02,1\x00\n",
    "header_only.csv": "Date,Close\n",
    "empty.csv": "",
    "blank.csv": "\n \n,,\n",
    "semi.csv": "Date;Close\n2020-01-02;1\n",
    "unrecognised.csv": "Name,Close\n2020-01-02,1\n",
    "leading_blank.csv": "\n\nfoo,bar\n2020-01-02,1\n",
    "X.csv": "Date,Close\n2020-01-02,1\n2020-01-03,2\n2020-13-01,3\n",
    "slash.csv": "Date,Close\n01/02/2020,1\n",
    "dup.csv": "Date,Close\n2020-01-02,1\n2020-01-03,2\n2020-01-03,2\n2020-01-06,3\n",
    "unsorted.csv": "Date,Close\n2020-01-02,1\n2020-01-06,2\n2020-01-03,2\n",
    "non_numeric.csv": "Date,Close\n2020-01-02,1\n2020-01-03,1.2.3\n",
    "zero.csv": "Date,Close\n2020-01-02,1\n2020-01-03,2\n2020-01-06,0\n",
    "neg.csv": "Date,Close\n2020-01-02,1\n2020-01-03,2\n2020-01-06,-1.5\n",
    "inf.csv": "Date,Close\n2020-01-02,inf\n",
    "MSFT.csv": "Date,Open,High,Low,Close,Volume\n"
    "2013-01-02,27.25,27.73,27.15,27.62,52899300\n"
    "2013-01-03,27.63,27.65,27.16,27.25,48294400\n",
    "ohlcv_missing.csv": "Date,Open,High,Low,Close,Volume\n"
    "2020-01-02,1,1,1,1,10\n2020-01-03,1,1,1,,10\n",
    "ohlcv_neg_vol.csv": "Date,Close,Volume\n2020-01-02,1,5\n2020-01-03,1,-5\n",
    "ohlcv_bad_vol.csv": "Date,Close,Volume\n2020-01-02,1,5\n2020-01-03,1,lots\n",
    "ohlcv_nan_vol.csv": "Date,Close,Volume\n2020-01-02,1,\n2020-01-03,1,NA\n2020-01-06,2,+nan\n",
    "ohlcv_neg_low.csv": "Date,High,Low,Close\n2020-01-02,2,1,1.5\n2020-01-03,2,-1,1.5\n",
    "ohlcv_high_only.csv": "Date,High,Close\n2020-01-02,2,1.5\n",
    "ohlcv_price_bad_vol_later.csv": "Date,Close,Volume\n2020-01-02,1,x\n2020-01-03,-1,5\n",
    "BTC-USD.csv": "Date,Adj_Close\n"
    + "".join(f"2021-01-{d:02d},{100 + d}.5\n" for d in range(1, 22)),
    "long.csv": "date,ticker,close,volume\n2020-01-02,AAA,1.5,100\n2020-01-02,BBB,20,\n"
    "2020-01-03,AAA,1.75,300\n2020-01-03,BBB,21,400\n",
    "long_adj.csv": "Date,Symbol,Close,Adj Close\n2020-01-02,AAA,9,1.5\n2020-01-03,AAA,9,1.25\n",
    "long_missing_ticker.csv": "date,ticker,close\n2020-01-02,AAA,1\n2020-01-03,,2\n",
    "long_space_ticker.csv": "date,ticker,close\n2020-01-02, AAA ,1\n2020-01-03,AAA,2\n",
    "long_missing_price.csv": "date,ticker,close\n2020-01-02,AAA,1\n2020-01-02,BBB,2\n"
    "2020-01-03,BBB,NaN\n",
    "long_no_price.csv": "date,ticker,last\n2020-01-02,AAA,1\n",
    "long_unnamed.csv": ",ticker,close\n2020-01-02,AAA,1\n2020-01-03,AAA,2\n",
    "long_unnamed_bad.csv": ",ticker,close\nnot-a-date,AAA,1\n",
    "long_date_second.csv": "ticker,date,close\n",
    "long_dup_later_group.csv": "date,ticker,close\n2020-01-02,AAA,1\n2020-01-02,BBB,1\n"
    "2020-01-02,BBB,1\n2020-01-03,AAA,x\n",
    "yf_etf.csv": ETF_HEAD + "2020-01-02 00:00:00,300.5,324.87,324.89,322.53,323.54,59151200\n"
    "2020-01-03 00:00:00,298.25,322.41,323.64,321.1,321.16,77709700\n",
    "yf_missing.csv": ETF_HEAD + "2020-01-02 00:00:00,300.5,324.87,324.89,322.53,323.54,59151200\n"
    "2020-01-06 00:00:00,,1,1,1,1,5\n",
    "yf_raw_close_gap.csv": ETF_HEAD + "2020-01-02 00:00:00,300.5,,324.89,322.53,323.54,59151200\n"
    "2020-01-03 00:00:00,298.25,322.41,323.64,321.1,321.16,77709700\n",
    "yf_raw_close_bad.csv": ETF_HEAD
    + "2020-01-02 00:00:00,300.5,x,324.89,322.53,323.54,59151200\n",
    "yf_adj.csv": "Price,Adj Close,Close,High,Low,Open,Volume\n"
    "Ticker,AAPL,AAPL,AAPL,AAPL,AAPL,AAPL\nDate,,,,,,\n"
    "2020-01-02,72.5,75.09,75.15,73.8,74.06,135480400\n"
    "2020-01-03,71.75,74.36,75.14,74.13,74.29,146322800\n",
    "yf_two.csv": "Price,Close,Close,Volume,Volume\nTicker,AAA,BBB,AAA,BBB\nDate,,,,\n"
    "2020-01-02,1,2,10,20\n2020-01-03,1.5,2.5,11,21\n",
    "yf_no_price.csv": "Price,Open,Volume\nTicker,AAA,AAA\nDate,,\n2020-01-02,1,2\n",
    "yf_header_only.csv": ETF_HEAD,
}


def _digest(series) -> list:
    out = []
    for s in series:
        arrays = [s.dates, s.close, s.volume, s.high, s.low]
        h = hashlib.sha256()
        for a in arrays:
            h.update(b"-" if a is None else a.dtype.str.encode() + a.tobytes())
        out.append([s.ticker, s.price_field, s.calendar, Path(s.source).name, h.hexdigest()])
    return out


def _outcome(path: Path, root: Path) -> list | str:
    try:
        return _digest(read_file(path))
    except DataError as exc:
        return "error: " + str(exc).replace(str(root), "<root>")


def _write_corpus(folder: Path) -> list[Path]:
    paths = []
    for name, text in CORPUS.items():
        path = folder / name
        path.write_bytes(text.encode())
        paths.append(path)
    gz = folder / "QQQ.csv.gz"
    gz.write_bytes(gzip.compress(CORPUS["wide.csv"].encode()))
    bad_gz = folder / "bad.csv.gz"
    bad_gz.write_bytes(CORPUS["wide.csv"].encode())
    latin = folder / "latin.csv"
    latin.write_bytes(b"Date,Close\n2020-01-02,\xff\n")
    bom = folder / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbfDate,Close\n2020-01-02,1\n")
    wide = pd.DataFrame(
        {"AAA": [1.0, float("nan"), 3.0], "BBB": [5.0, 6.0, 7.0]},
        index=pd.DatetimeIndex(["2020-01-02", "2020-01-03", "2020-01-06"], name="date"),
    )
    wide.to_parquet(folder / "wide.parquet")
    long = pd.DataFrame(
        {
            "date": ["2020-01-02", "2020-01-03", "2020-01-06"],
            "ticker": ["AAA", "AAA", "AAA"],
            "close": [1.0, 2.0, -3.0],
        }
    )
    long.to_parquet(folder / "long_bad.parquet", index=False)
    gen_wide, gen_long = folder / "gen_wide.csv", folder / "gen_long.csv"
    gen_wide.write_text(_generated_wide(), encoding="utf-8")
    gen_long.write_text(_generated_long(), encoding="utf-8")
    return [
        *paths,
        gz,
        bad_gz,
        latin,
        bom,
        folder / "wide.parquet",
        folder / "long_bad.parquet",
        gen_wide,
        gen_long,
    ]


def _price(t: int, d: int) -> str:
    """A deterministic price with up to 17 significant digits (exact float parsing matters)."""
    return repr(10.0 + t + ((t * 7919 + d * 104729) % 100003) / 997.0)


def _generated_wide() -> str:
    """40 tickers x 400 business days, each ticker starting on a later row (holes before)."""
    days = pd.bdate_range("2001-01-02", periods=400)
    lines = ["Date," + ",".join(f"T{t:02d}" for t in range(40))]
    for d, day in enumerate(days):
        cells = ["" if d < 5 * t else _price(t, d) for t in range(40)]
        lines.append(f"{day:%Y-%m-%d}," + ",".join(cells))
    return "\n".join(lines) + "\n"


def _generated_long() -> str:
    """The same prices as rows ``date,ticker,close,volume``, tickers interleaved."""
    days = pd.bdate_range("2001-01-02", periods=400)
    lines = ["date,ticker,close,volume"]
    for d, day in enumerate(days):
        for t in range(40):
            if d >= 5 * t:
                lines.append(f"{day:%Y-%m-%d},T{t:02d},{_price(t, d)},{(t + 1) * 1000 + d}")
    return "\n".join(lines) + "\n"


def _shared_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name.endswith(PRICE_SUFFIXES))


def snapshot(tmp: Path, shared: Path | None) -> dict:
    """The reader's outcome on each input, keyed "corpus/NAME", "demo/NAME" or "shared/PATH"."""
    out: dict = {}
    for path in _write_corpus(tmp):
        out[f"corpus/{path.name}"] = _outcome(path, tmp)
    for path in sorted(demo_dir().glob("*.csv.gz")):
        out[f"demo/{path.name}"] = _outcome(path, demo_dir())
    if shared is not None:
        for path in _shared_files(shared):
            out[f"shared/{path.relative_to(shared)}"] = _outcome(path, shared)
    return out


def _saved() -> dict:
    return json.loads(SNAPSHOT.read_text(encoding="utf-8"))


def test_corpus_and_demo_match_the_row_reader(tmp_path):
    saved = _saved()
    got = snapshot(tmp_path, None)
    assert len(got) > 70
    for key, outcome in got.items():
        assert outcome == saved[key], key


def test_shared_data_matches_the_row_reader(shared_data):
    saved = _saved()
    files = _shared_files(shared_data)
    assert len(files) >= 36
    for path in _shared_files(shared_data):
        key = f"shared/{path.relative_to(shared_data)}"
        assert _outcome(path, shared_data) == saved[key], key


if __name__ == "__main__":  # rewrite the snapshot (only ever from the row reader)
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        data = snapshot(Path(tmp), Path(sys.argv[1]))
    SNAPSHOT.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{len(data)} outcomes -> {SNAPSHOT}")

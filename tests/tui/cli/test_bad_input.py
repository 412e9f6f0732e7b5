"""The bad-input campaign (issue 16): every kind of bad input a user can give the ``hedgedesk``
command line, each answered with exit 2 and exactly one stderr line that names the file, line,
key or flag involved and what was expected, never a traceback.

Each case runs the CLI in-process (``hedgedesk.tui.cli.main.main``) with capfd (so C-level
writes count), and warnings the real command would print (RuntimeWarning from numpy,
FutureWarning from pandas, ...) are counted as stderr lines too. The world every case starts from
is a small valid desk (``BASE_CONFIG``) on a synthetic wide CSV of tickers A, B and the
benchmark H; each case breaks one thing. Nothing touches the network: ``data fetch`` must refuse
before any download (the downloader is replaced by one that records the call).
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import os
import signal
import sqlite3
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hedgedesk.core.data.calendar import EXCHANGE, trading_days
from hedgedesk.tui.cli.main import main

# -- the world -----------------------------------------------------------------------------------
N_DAYS = 320


def prices_text(n: int = N_DAYS, seed: int = 7) -> str:
    """A wide CSV (Date,A,B,H) of n NYSE sessions from 2021-01-04; A and B follow H with betas
    1.2 and 0.8.
    """
    days = trading_days(EXCHANGE, dt.date(2021, 1, 4), dt.date(2023, 12, 29))[:n]
    rng = np.random.default_rng(seed)
    h = 0.0004 + 0.011 * rng.standard_normal(n - 1)
    rets = {
        "A": 0.0003 + 1.2 * h + 0.01 * rng.standard_normal(n - 1),
        "B": 0.0002 + 0.8 * h + 0.012 * rng.standard_normal(n - 1),
        "H": h,
    }
    closes = {t: 100 * np.concatenate([[1.0], np.cumprod(1 + r)]) for t, r in rets.items()}
    lines = ["Date,A,B,H"] + [
        f"{d},{closes['A'][i]:.6f},{closes['B'][i]:.6f},{closes['H'][i]:.6f}"
        for i, d in enumerate(days)
    ]
    return "\n".join(lines) + "\n"


# @PRICES@ is replaced by the world's price file (an absolute path).
BASE_CONFIG = """\
[data]
source = "files"
paths = ["@PRICES@"]
start = ""
end = ""
benchmark = "H"
universe = ["A", "B", "H"]

[risk]
rf = 0.0
rate = 0.03
beta_window = 60
var_confidence = 0.95
var_window = 100

[targets]
beta = 0.5
beta_band = 0.05
volatility = 0.12
var_limit = 0.02
max_drawdown = 0.10
hedge_future = "ES"
put_coverage = 0.25
call_coverage = 0.15

[proxies]
ES = { underlying = "H", scale = 40.0 }

[book]
name = "test book"
cash = 10000.0

[[book.holdings]]
ticker = "A"
quantity = 100
cost_basis = 90.0

[[book.holdings]]
ticker = "B"
quantity = 50

[[book.hedges]]
name = "ES short"
instrument = "future"
contract = "ES"
underlying = "H"
price_scale = 40.0
quantity = -1
purpose = "beta hedge"

[[book.hedges]]
name = "H put"
instrument = "option"
right = "put"
underlying = "H"
strike = 90
expiry = "2024-06-21"
quantity = 1
volatility = 0.25
dividend_yield = 0.01

[[scenarios]]
name = "crash"
market = -0.2
vol = 0.1

[[scenarios]]
name = "rotation"
shocks = { A = -0.1, B = 0.05 }

[optimizer]
objective = "min-variance"
long_only = true
max_weight = 0.8
points = 5

[[optimizer.groups]]
name = "g"
tickers = ["A", "B"]
min = 0.1
max = 0.9

[[optimizer.views]]
assets = ["A"]
view = 0.05
confidence = 0.5

[sweep]
long = ["A", "B"]
hedge = "H"
rebalance = [5, 21]
window = [20, 60]
exposure = [1.0]
hedge_ratio = [0.5, 1.0]
cost = [0.0]
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """A folder with the valid price file (prices.csv), the valid config (cfg.toml) and an
    empty but valid run ledger (empty.sqlite).
    """
    w = tmp_path_factory.mktemp("world")
    (w / "prices.csv").write_text(prices_text(), encoding="utf-8")
    (w / "cfg.toml").write_text(
        BASE_CONFIG.replace("@PRICES@", str(w / "prices.csv")), encoding="utf-8"
    )
    from hedgedesk.core.sweep.ledger import Ledger

    Ledger(w / "empty.sqlite").close()
    return w


# -- cases ---------------------------------------------------------------------------------------
Content = str | bytes | Callable[[Path], None]


@dataclass(frozen=True)
class Case:
    """One bad input: the argv ({w}: the world folder, {t}: this case's folder, {cfg}: the
    world's config, {prices}: its price file), files written under {t} first, and the
    substrings the one stderr line must hold (case-insensitive): what it names, then what it
    says was expected.
    """

    id: str
    argv: tuple[str, ...]
    must: tuple[str, ...]
    files: tuple[tuple[str, Content], ...] = ()


CASES: list[Case] = []


def case(id: str, argv: str | list[str], *must: str, files: dict | None = None) -> None:
    assert must, id
    args = tuple(argv.split()) if isinstance(argv, str) else tuple(argv)
    CASES.append(Case(id, args, must, tuple((files or {}).items())))


def broken_config(old: str, new: str) -> str:
    """BASE_CONFIG with ``old`` (which must occur in it) replaced by ``new``."""
    assert old in BASE_CONFIG, old
    return BASE_CONFIG.replace(old, new, 1)


def cfg_case(id: str, old: str, new: str, *must: str, command: str = "config check") -> None:
    """``command --config {t}/c.toml`` on the base config with one edit."""
    case(id, f"{command} --config {{t}}/c.toml", *must, files={"c.toml": broken_config(old, new)})


def cfg_append(id: str, extra: str, *must: str, command: str = "config check") -> None:
    case(id, f"{command} --config {{t}}/c.toml", *must, files={"c.toml": BASE_CONFIG + extra})


def sparse(size: int) -> Callable[[Path], None]:
    """A setup writing a sparse file of ``size`` bytes (zeros): large to stat, cheap to make."""

    def write(path: Path) -> None:
        with path.open("wb") as fh:
            fh.truncate(size)

    return write


def prices_case(id: str, name: str, content: Content, *must: str) -> None:
    """``data check {t}/name`` on one price file; the message names the file."""
    case(id, f"data check {{t}}/{name}", name, *must, files={name: content})


LONG_NAME = "N" * 300  # longer than a file name may be (255 bytes on Linux)

# -- greeks ----------------------------------------------------------------------------------------
G = "greeks --type call --spot 100 --strike 100 --days 30"
case(
    "greeks-type-missing",
    "greeks --spot 100 --strike 100 --days 30 --vol 0.2",
    "--type",
    "required",
)
case(
    "greeks-type-unknown",
    "greeks --type straddle --spot 100 --strike 100 --days 30 --vol 0.2",
    "--type",
    "choice",
)
case(
    "greeks-spot-zero",
    "greeks --type call --spot 0 --strike 100 --days 30 --vol 0.2",
    "--spot",
    ">= 1e-08",
)
case(
    "greeks-spot-negative",
    "greeks --type call --spot -5 --strike 100 --days 30 --vol 0.2",
    "--spot",
    ">= 1e-08",
)
case(
    "greeks-spot-string",
    "greeks --type call --spot abc --strike 100 --days 30 --vol 0.2",
    "--spot",
    "number",
)
case(
    "greeks-spot-nan",
    "greeks --type call --spot nan --strike 100 --days 30 --vol 0.2",
    "--spot",
    "finite",
)
case(
    "greeks-spot-inf",
    "greeks --type call --spot inf --strike 100 --days 30 --vol 0.2",
    "--spot",
    "finite",
)
case(
    "greeks-spot-empty",
    ["greeks", "--type", "call", "--spot", "", "--strike", "100", "--days", "30", "--vol", "0.2"],
    "--spot",
    "number",
)
case(
    "greeks-spot-missing",
    "greeks --type call --strike 100 --days 30 --vol 0.2",
    "--spot",
    "required",
)
case(
    "greeks-strike-zero",
    "greeks --type call --spot 100 --strike 0 --days 30 --vol 0.2",
    "--strike",
    ">= 1e-08",
)
case("greeks-days-zero", f"{G.replace('--days 30', '--days 0')} --vol 0.2", "--days", "> 0")
case("greeks-days-negative", f"{G.replace('--days 30', '--days -3')} --vol 0.2", "--days", "> 0")
case("greeks-vol-zero", f"{G} --vol 0", "--vol", "> 0")
case("greeks-vol-too-high", f"{G} --vol 6", "--vol", "<= 5")
case("greeks-vol-and-price", f"{G} --vol 0.2 --price 3", "--price", "not both")
case("greeks-no-vol-no-price", G, "--vol", "--price")
case("greeks-price-above-upper-bound", f"{G} --price 200", "200", "bound")
case(
    "greeks-price-below-intrinsic",
    "greeks --type put --spot 100 --strike 150 --days 30 --price 1",
    "intrinsic",
    "no implied volatility",
)
case("greeks-price-zero", f"{G} --price 0", "--price", ">= 1e-08")
case(
    "greeks-spot-1e-300",
    f"{G.replace('--spot 100', '--spot 1e-300')} --vol 5",
    "--spot",
    ">= 1e-08",
)
case(
    "greeks-strike-1e308",
    f"{G.replace('--strike 100', '--strike 1e308')} --vol 1",
    "--strike",
    "<= 1e+09",
)
case(
    "greeks-days-a-millennium",
    f"{G.replace('--days 30', '--days 365000')} --vol 1",
    "--days",
    "<= 36500",
)
case("greeks-rate-too-high", f"{G} --vol 0.2 --rate 2", "--rate", "<= 1")
case("greeks-div-too-low", f"{G} --vol 0.2 --div -2", "--div", ">= -1")
case("greeks-model-unknown", f"{G} --vol 0.2 --model heston", "--model", "choice")
case("greeks-unknown-flag", f"{G} --vol 0.2 --gamma 1", "--gamma", "unrecognized")

# -- risk, scenario, size, trades ------------------------------------------------------------------
case("risk-config-missing", "risk --config {t}/nope.toml", "nope.toml", "not found")
case("risk-config-is-folder", "risk --config {t}", "folder", "expected")
case("risk-unknown-flag", "risk --config {cfg} --beta 1", "--beta", "unrecognized")
case("scenario-name-unknown", "scenario --config {cfg} --name NOSUCH", "NOSUCH", "crash")
case("scenario-name-twice", "scenario --config {cfg} --name crash --name crash", "crash", "twice")
case("size-instrument-missing", "size --config {cfg}", "--instrument", "required")
case("size-instrument-unknown", "size --config {cfg} --instrument XX", "--instrument", "choice")
case("size-instrument-no-price", "size --config {cfg} --instrument GC", "GC", "proxies")
case(
    "size-target-beta-out-of-range",
    "size --config {cfg} --instrument ES --target-beta 9",
    "--target-beta",
    "<= 5",
)
case(
    "size-target-beta-string",
    "size --config {cfg} --instrument ES --target-beta high",
    "--target-beta",
    "number",
)
case("trades-nav-zero", "trades --config {cfg} --nav 0", "--nav", "> 0")
case("trades-nav-negative", "trades --config {cfg} --nav -100", "--nav", "> 0")
case("trades-nav-string", "trades --config {cfg} --nav lots", "--nav", "number")
case("trades-nav-inf", "trades --config {cfg} --nav inf", "--nav", "finite")

case("trades-nav-1e308", "trades --config {cfg} --nav 1e308", "--nav", "expected")

# -- backtest --------------------------------------------------------------------------------------
B = "backtest --data {prices} --hedge H --rebalance 5 --window 20"
BL = B + " --long A"
case("backtest-long-missing", B, "--long", "required")
case(
    "backtest-hedge-missing",
    "backtest --data {prices} --long A --rebalance 5 --window 20",
    "--hedge",
    "required",
)
case(
    "backtest-rebalance-missing",
    "backtest --data {prices} --long A --hedge H --window 20",
    "--rebalance",
    "required",
)
case("backtest-rebalance-zero", BL.replace("--rebalance 5", "--rebalance 0"), "--rebalance", ">= 1")
case(
    "backtest-rebalance-fraction",
    BL.replace("--rebalance 5", "--rebalance 2.5"),
    "--rebalance",
    "whole number",
)
case("backtest-window-one", BL.replace("--window 20", "--window 1"), "--window", ">= 2")
case(
    "backtest-window-string", BL.replace("--window 20", "--window long"), "--window", "whole number"
)
case(
    "backtest-window-longer-than-data",
    BL.replace("--window 20", "--window 5000"),
    "too little history",
    "window",
)
case("backtest-exposure-zero", BL + " --exposure 0", "--exposure", "> 0")
case("backtest-exposure-too-big", BL + " --exposure 11", "--exposure", "<= 10")
case("backtest-hedge-ratio-negative", BL + " --hedge-ratio -1", "--hedge-ratio", ">= 0")
case("backtest-cost-too-big", BL + " --cost 0.2", "--cost", "<= 0.1")
case("backtest-drift-band-negative", BL + " --drift-band -0.1", "--drift-band", ">= 0")
case("backtest-rf-too-big", BL + " --rf 5", "--rf", "<= 1")
case("backtest-weighting-unknown", BL + " --weighting cap", "--weighting", "choice")
case(
    "backtest-weighting-volume-without-volumes", B + " --long A,B --weighting volume", "volume", "A"
)
case("backtest-long-unknown-ticker", B + " --long ZZZ", "ZZZ", "A, B, H")
case(
    "backtest-hedge-unknown-ticker",
    "backtest --data {prices} --long A --hedge ZZZ --rebalance 5 --window 20",
    "ZZZ",
    "A, B, H",
)
case(
    "backtest-long-equals-hedge",
    "backtest --data {prices} --long H --hedge H --rebalance 5 --window 20",
    "H",
    "hedge",
)
case("backtest-long-empty-list", B + " --long ,", "--long", "ticker list")
case("backtest-start-after-end", BL + " --start 2022-01-01 --end 2021-06-01", "2022-01-01", "--end")
case("backtest-start-bad-date", BL + " --start 2021-13-01", "--start", "YYYY-MM-DD")
case("backtest-start-9999-12-31", BL + " --start 9999-12-31", "9999-12-31", "expected")
case(
    "backtest-data-missing-file",
    "backtest --data {t}/nope.csv --long A --hedge H --rebalance 5 --window 20",
    "nope.csv",
    "not found",
)

case("backtest-hedge-ratio-1e308", BL + " --hedge-ratio 1e308", "hedge", "ratio")
case("backtest-hedge-ratio-ruins", BL + " --hedge-ratio 1e6", "hedge", "ratio")

# -- beta ------------------------------------------------------------------------------------------
case("beta-asset-missing", "beta --data {prices} --benchmark H", "--asset", "required")
case("beta-same-ticker", "beta --data {prices} --asset H --benchmark H", "--asset", "same")
case("beta-asset-unknown", "beta --data {prices} --asset ZZZ --benchmark H", "ZZZ", "A, B, H")
case("beta-benchmark-unknown", "beta --data {prices} --asset A --benchmark ZZZ", "ZZZ", "A, B, H")
case(
    "beta-window-too-small",
    "beta --data {prices} --asset A --benchmark H --window 2",
    "--window",
    ">= 3",
)
case(
    "beta-window-too-big",
    "beta --data {prices} --asset A --benchmark H --window 10000",
    "10000",
    "history",
)
case(
    "beta-start-after-end",
    "beta --data {prices} --asset A --benchmark H --start 2022-01-03 --end 2021-03-01",
    "--start",
    "--end",
)
case(
    "beta-end-not-a-date",
    "beta --data {prices} --asset A --benchmark H --end yesterday",
    "--end",
    "YYYY-MM-DD",
)
case(
    "beta-start-9999-12-31",
    "beta --data {prices} --asset A --benchmark H --start 9999-12-31",
    "9999-12-31",
    "expected",
)
case("beta-data-empty-folder", "beta --data {t} --asset A --benchmark H", "no price files", "csv")
case(
    "beta-data-binary-file",
    "beta --data {t}/junk.bin --asset A --benchmark H",
    "junk.bin",
    "UTF-8",
    files={"junk.bin": bytes(range(256)) * 4},
)

# -- data check (paths), data fetch (no network) ---------------------------------------------------
case("data-check-missing-path", "data check {t}/nope.csv", "nope.csv", "not found")
case("data-check-empty-folder", "data check {t}", "no price files", "csv")
case("data-check-dev-zero", "data check /dev/zero", "/dev/zero", "regular file")
case(
    "data-check-fifo",
    "data check {t}/pipe.csv",
    "pipe.csv",
    "regular file",
    files={"pipe.csv": lambda p: os.mkfifo(p)},
)
case(
    "data-check-same-ticker-two-files",
    "data check {t}/one.csv {t}/two.csv",
    "A",
    "two.csv",
    files={"one.csv": prices_text(), "two.csv": prices_text()},
)
case("data-check-unknown-flag", "data check {prices} --deep", "--deep", "unrecognized")
case("data-no-action", "data", "data", "required")
case("data-action-unknown", "data clean", "clean", "choice")
case(
    "data-check-symlink-loop",
    "data check {t}/loop.csv",
    "loop.csv",
    "symbolic links",
    files={"loop.csv": lambda p: p.symlink_to(p)},
)
case("data-check-name-too-long", f"data check {{t}}/{LONG_NAME}.csv", "NNNN", "too long")
FETCH_NOTE = "Yahoo symbol"
case("fetch-ticker-dotdot", "data fetch ..", "..", FETCH_NOTE)
case("fetch-ticker-dot", "data fetch .", ".", FETCH_NOTE)
case("fetch-ticker-slash", "data fetch A/B", "A/B", FETCH_NOTE)
case("fetch-ticker-underscore", "data fetch A_B", "A_B", FETCH_NOTE)
case("fetch-ticker-space", ["data", "fetch", "A B"], "A B", FETCH_NOTE)
case("fetch-ticker-empty", ["data", "fetch", ""], "''", FETCH_NOTE)
case("fetch-ticker-300-chars", ["data", "fetch", "A" * 300], "A" * 30, FETCH_NOTE)
case("fetch-ticker-leading-equals", "data fetch =X", "=X", FETCH_NOTE)
case("fetch-ticker-non-ascii", "data fetch ÄPPL", "ÄPPL", FETCH_NOTE)
case("fetch-ticker-bad-among-good", "data fetch SPY ../etc", "../ETC", FETCH_NOTE)
case("fetch-no-ticker", "data fetch", "TICKER", "required")
case(
    "fetch-start-after-end",
    "data fetch SPY --start 2022-01-01 --end 2021-01-01",
    "--start",
    "--end",
)
case("fetch-start-bad-date", "data fetch SPY --start 2022-02-30", "--start", "YYYY-MM-DD")

# -- config: TOML and layout -----------------------------------------------------------------------
case(
    "config-toml-broken-header",
    "config check --config {t}/c.toml",
    "c.toml",
    "TOML",
    files={"c.toml": "[data\nsource = 'demo'\n"},
)
case(
    "config-toml-duplicate-key",
    "config check --config {t}/c.toml",
    "c.toml",
    "TOML",
    files={"c.toml": broken_config("cash = 10000.0", "cash = 10000.0\ncash = 5.0")},
)
case(
    "config-toml-duplicate-table",
    "config check --config {t}/c.toml",
    "c.toml",
    "TOML",
    files={"c.toml": BASE_CONFIG + "\n[book]\ncash = 1.0\n"},
)
case(
    "config-toml-unterminated-string",
    "config check --config {t}/c.toml",
    "c.toml",
    "TOML",
    files={"c.toml": broken_config('name = "test book"', 'name = "test book')},
)
case(
    "config-toml-bare-value",
    "config check --config {t}/c.toml",
    "c.toml",
    "TOML",
    files={"c.toml": broken_config("cash = 10000.0", "cash = ten thousand")},
)
case(
    "config-not-utf8",
    "config check --config {t}/c.toml",
    "c.toml",
    "UTF-8",
    files={
        "c.toml": broken_config('name = "test book"', 'name = "t\u00e9st book"').encode("latin-1")
    },
)
case(
    "config-binary-junk",
    "config check --config {t}/c.toml",
    "c.toml",
    "UTF-8",
    files={"c.toml": bytes(range(1, 256)) * 8},
)
case(
    "config-empty-file", "config check --config {t}/c.toml", "data", "missing", files={"c.toml": ""}
)
case(
    "config-utf16",
    "config check --config {t}/c.toml",
    "c.toml",
    "UTF-8",
    files={"c.toml": BASE_CONFIG.encode("utf-16")},
)
cfg_append("config-unknown-section", "\n[dat]\nx = 1\n", "dat", "data")
cfg_case("config-data-missing", "[data]\n", "[dta]\n", "dta", "data")
cfg_case("config-targets-missing", "[targets]\n", "[target]\n", "target", "targets")
case(
    "config-book-missing",
    "config check --config {t}/c.toml",
    "book",
    "missing",
    files={"c.toml": BASE_CONFIG.split("[book]")[0]},
)
case(
    "config-section-not-table",
    "config check --config {t}/c.toml",
    "risk",
    "table",
    files={
        "c.toml": "risk = 5\n"
        + BASE_CONFIG.split("[risk]")[0]
        + "[targets]"
        + BASE_CONFIG.split("[targets]")[1]
    },
)

case("config-dev-zero", "config check --config /dev/zero", "/dev/zero", "regular file")
case(
    "config-fifo",
    "config check --config {t}/c.toml",
    "c.toml",
    "regular file",
    files={"c.toml": lambda p: os.mkfifo(p)},
)
case(
    "config-too-large",
    "config check --config {t}/c.toml",
    "c.toml",
    "MiB",
    files={"c.toml": sparse(5 * 2**20)},
)

case(
    "config-symlink-loop",
    "config check --config {t}/c.toml",
    "c.toml",
    "symbolic links",
    files={"c.toml": lambda p: p.symlink_to(p)},
)
case("config-name-too-long", f"config check --config {{t}}/{LONG_NAME}.toml", "NNNN", "too long")

# -- config: [data] --------------------------------------------------------------------------------
cfg_case(
    "config-data-source-unknown", 'source = "files"', 'source = "ftp"', "data.source", "one of"
)
cfg_case("config-data-source-number", 'source = "files"', "source = 1", "data.source", "a string")
cfg_case(
    "config-data-paths-string", 'paths = ["@PRICES@"]', 'paths = "@PRICES@"', "data.paths", "array"
)
cfg_case(
    "config-data-paths-empty", 'paths = ["@PRICES@"]', "paths = []", "data.paths", "at least one"
)
cfg_case(
    "config-data-paths-missing-file",
    'paths = ["@PRICES@"]',
    'paths = ["nope.csv"]',
    "nope.csv",
    "not found",
)
cfg_case(
    "config-data-yahoo-no-tickers",
    'source = "files"',
    'source = "yahoo"',
    "data.tickers",
    "expected",
)
cfg_case(
    "config-data-start-invalid-date",
    'start = ""',
    'start = "2021-02-30"',
    "data.start",
    "YYYY-MM-DD",
)
cfg_case("config-data-start-number", 'start = ""', "start = 2021", "data.start", "YYYY-MM-DD")
cfg_case(
    "config-data-end-before-start",
    'start = ""\nend = ""',
    'start = "2022-01-03"\nend = "2021-01-04"',
    "data.end",
    "on or after",
)
cfg_case("config-data-end-9999-12-31", 'end = ""', 'end = "9999-12-31"', "data.end", "expected")
cfg_case(
    "config-data-start-after-data",
    'start = ""',
    'start = "2030-01-02"',
    "data.start",
    "2030-01-02",
    command="risk",
)
cfg_case("config-data-benchmark-missing", 'benchmark = "H"\n', "", "data.benchmark", "missing")
cfg_case(
    "config-data-benchmark-empty", 'benchmark = "H"', 'benchmark = " "', "data.benchmark", "ticker"
)
cfg_case(
    "config-data-benchmark-unknown",
    'benchmark = "H"',
    'benchmark = "ZZZ"',
    "data.benchmark",
    "market data",
)
cfg_case(
    "config-data-universe-not-array",
    'universe = ["A", "B", "H"]',
    'universe = "A,B"',
    "data.universe",
    "array",
)
cfg_case(
    "config-data-universe-unknown",
    'universe = ["A", "B", "H"]',
    'universe = ["A", "ZZZ"]',
    "data.universe[1]",
    "market data",
)
cfg_case(
    "config-data-universe-number",
    'universe = ["A", "B", "H"]',
    'universe = ["A", 5]',
    "data.universe",
    "array of strings",
)
cfg_case(
    "config-data-refresh-too-small",
    'universe = ["A", "B", "H"]',
    'universe = ["A", "B", "H"]\nrefresh = 5',
    "data.refresh",
    "at least 10",
)
cfg_case(
    "config-data-refresh-negative",
    'universe = ["A", "B", "H"]',
    'universe = ["A", "B", "H"]\nrefresh = -1',
    "data.refresh",
    ">= 0",
)
cfg_case("config-data-unknown-key", 'source = "files"', 'sorce = "files"', "data.sorce", "source")

# -- config: [risk] --------------------------------------------------------------------------------
cfg_case("config-risk-rf-string", "rf = 0.0", 'rf = "zero"', "risk.rf", "a number")
cfg_case("config-risk-rf-too-big", "rf = 0.0", "rf = 5.0", "risk.rf", "<= 1")
cfg_case("config-risk-rate-too-low", "rate = 0.03", "rate = -1.0", "risk.rate", ">= -0.5")
cfg_case(
    "config-risk-beta-window-fraction",
    "beta_window = 60",
    "beta_window = 60.5",
    "risk.beta_window",
    "whole number",
)
cfg_case(
    "config-risk-beta-window-too-small",
    "beta_window = 60",
    "beta_window = 2",
    "risk.beta_window",
    ">= 3",
)
cfg_case(
    "config-risk-beta-window-longer-than-data",
    "beta_window = 60",
    "beta_window = 5000",
    "5000",
    "history",
    command="risk",
)
cfg_case(
    "config-risk-var-confidence-one",
    "var_confidence = 0.95",
    "var_confidence = 1.0",
    "risk.var_confidence",
    "<= 0.9999",
)
cfg_case(
    "config-risk-var-confidence-too-low",
    "var_confidence = 0.95",
    "var_confidence = 0.3",
    "risk.var_confidence",
    ">= 0.5",
)
cfg_case(
    "config-risk-var-window-too-small",
    "var_window = 100",
    "var_window = 10",
    "risk.var_window",
    ">= 20",
)
cfg_case(
    "config-risk-unknown-key", "var_window = 100", "var_windw = 100", "risk.var_windw", "var_window"
)

# -- config: [targets] -----------------------------------------------------------------------------
cfg_case("config-targets-beta-missing", "beta = 0.5\n", "", "targets.beta", "missing")
cfg_case("config-targets-beta-out-of-range", "beta = 0.5", "beta = 6.0", "targets.beta", "<= 5")
cfg_case("config-targets-beta-bool", "beta = 0.5", "beta = true", "targets.beta", "a number")
cfg_case("config-targets-beta-nan", "beta = 0.5", "beta = nan", "targets.beta", "finite")
cfg_case("config-targets-beta-inf", "beta = 0.5", "beta = inf", "targets.beta", "finite")
cfg_case(
    "config-targets-beta-band-zero",
    "beta_band = 0.05",
    "beta_band = 0.0",
    "targets.beta_band",
    "> 0",
)
cfg_case(
    "config-targets-volatility-negative",
    "volatility = 0.12",
    "volatility = -0.1",
    "targets.volatility",
    "> 0",
)
cfg_case(
    "config-targets-var-limit-over-one",
    "var_limit = 0.02",
    "var_limit = 1.5",
    "targets.var_limit",
    "<= 1",
)
cfg_case(
    "config-targets-max-drawdown-zero",
    "max_drawdown = 0.10",
    "max_drawdown = 0",
    "targets.max_drawdown",
    "> 0",
)
cfg_case(
    "config-targets-hedge-future-unknown",
    'hedge_future = "ES"',
    'hedge_future = "XX"',
    "targets.hedge_future",
    "one of",
)
cfg_case(
    "config-targets-put-coverage-too-big",
    "put_coverage = 0.25",
    "put_coverage = 2.0",
    "targets.put_coverage",
    "<= 1.5",
)
cfg_case(
    "config-targets-call-coverage-negative",
    "call_coverage = 0.15",
    "call_coverage = -0.1",
    "targets.call_coverage",
    ">= 0",
)
cfg_case(
    "config-targets-unknown-key",
    "call_coverage = 0.15",
    "call_cover = 0.15",
    "targets.call_cover",
    "call_coverage",
)

# -- config: [proxies] -----------------------------------------------------------------------------
cfg_case(
    "config-proxy-not-table",
    'ES = { underlying = "H", scale = 40.0 }',
    'ES = "H"',
    "proxies.ES",
    "table",
)
cfg_case(
    "config-proxy-underlying-missing",
    'ES = { underlying = "H", scale = 40.0 }',
    "ES = { scale = 40.0 }",
    "proxies.ES.underlying",
    "missing",
)
cfg_case(
    "config-proxy-scale-zero",
    'ES = { underlying = "H", scale = 40.0 }',
    'ES = { underlying = "H", scale = 0 }',
    "proxies.ES.scale",
    "> 0",
)
cfg_case(
    "config-proxy-unknown-key",
    'ES = { underlying = "H", scale = 40.0 }',
    'ES = { underlying = "H", factor = 40.0 }',
    "proxies.ES.factor",
    "scale",
)
cfg_case(
    "config-proxy-underlying-unknown",
    'ES = { underlying = "H", scale = 40.0 }',
    'ES = { underlying = "ZZZ", scale = 40.0 }',
    "proxies.ES.underlying",
    "market data",
)

# -- config: [[scenarios]] -------------------------------------------------------------------------
cfg_case("config-scenario-name-missing", 'name = "crash"\n', "", "scenarios[0].name", "missing")
cfg_case(
    "config-scenario-market-below-minus-one",
    "market = -0.2",
    "market = -1.5",
    "scenarios[0].market",
    ">= -1",
)
cfg_case(
    "config-scenario-market-string",
    "market = -0.2",
    'market = "-20%"',
    "scenarios[0].market",
    "a number",
)
cfg_case("config-scenario-vol-too-big", "vol = 0.1", "vol = 6.0", "scenarios[0].vol", "<= 5")
cfg_case(
    "config-scenario-shock-past-minus-100pct",
    "shocks = { A = -0.1, B = 0.05 }",
    "shocks = { A = -1.5, B = 0.05 }",
    "scenarios[1].shocks.A",
    ">= -1",
)
cfg_case(
    "config-scenario-shock-string",
    "shocks = { A = -0.1, B = 0.05 }",
    'shocks = { A = "down", B = 0.05 }',
    "scenarios[1].shocks.A",
    "a number",
)
cfg_case(
    "config-scenario-shock-unknown-ticker",
    "shocks = { A = -0.1, B = 0.05 }",
    "shocks = { ZZZ = -0.1 }",
    "scenarios[1].shocks.ZZZ",
    "market data",
)
cfg_case(
    "config-scenario-shocks-not-table",
    "shocks = { A = -0.1, B = 0.05 }",
    "shocks = -0.1",
    "scenarios[1].shocks",
    "table",
)
cfg_case(
    "config-scenario-replay-one-date",
    "shocks = { A = -0.1, B = 0.05 }",
    'replay = ["2021-03-01"]',
    "scenarios[1].replay",
    "two dates",
)
cfg_case(
    "config-scenario-replay-reversed",
    "shocks = { A = -0.1, B = 0.05 }",
    'replay = ["2021-06-01", "2021-03-01"]',
    "scenarios[1].replay",
    "before the end",
)
cfg_case(
    "config-scenario-replay-bad-date",
    "shocks = { A = -0.1, B = 0.05 }",
    'replay = ["2021-03-01", "June"]',
    "scenarios[1].replay",
    "YYYY-MM-DD",
)
cfg_case(
    "config-scenario-unknown-key",
    "vol = 0.1",
    "vol = 0.1\nshock = 0.2",
    "scenarios[0].shock",
    "shocks",
)
case(
    "config-scenarios-not-array",
    "config check --config {t}/c.toml",
    "scenarios",
    "array of tables",
    files={
        "c.toml": "scenarios = 5\n"
        + BASE_CONFIG.split("[[scenarios]]")[0]
        + "[optimizer]"
        + BASE_CONFIG.split("[optimizer]")[1]
    },
)

# -- config: [book], holdings ----------------------------------------------------------------------
cfg_case("config-book-cash-string", "cash = 10000.0", 'cash = "10k"', "book.cash", "a number")
cfg_case("config-book-cash-nan", "cash = 10000.0", "cash = nan", "book.cash", "finite")
cfg_case(
    "config-book-unknown-key",
    "cash = 10000.0",
    "cash = 10000.0\nleverage = 2",
    "book.leverage",
    "known keys",
)
cfg_case(
    "config-holding-ticker-missing", 'ticker = "A"\n', "", "book.holdings[0].ticker", "missing"
)
cfg_case(
    "config-holding-ticker-number",
    'ticker = "A"',
    "ticker = 5",
    "book.holdings[0].ticker",
    "a string",
)
cfg_case(
    "config-holding-ticker-unknown",
    'ticker = "A"',
    'ticker = "ZZZ"',
    "book.holdings[0].ticker",
    "market data",
)
cfg_case(
    "config-holding-quantity-missing",
    "quantity = 100\n",
    "",
    "book.holdings[0].quantity",
    "missing",
)
cfg_case(
    "config-holding-quantity-zero",
    "quantity = 100",
    "quantity = 0",
    "book.holdings[0].quantity",
    "non-zero",
)
cfg_case(
    "config-holding-quantity-string",
    "quantity = 100",
    'quantity = "100"',
    "book.holdings[0].quantity",
    "a number",
)
cfg_case(
    "config-holding-quantity-1e308",
    "quantity = 100",
    "quantity = 1e308",
    "book.holdings[0].quantity",
    "expected",
    command="risk",
)
cfg_case(
    "config-holding-quantity-1e308-check",
    "quantity = 100",
    "quantity = 1e308",
    "book.holdings[0].quantity",
    "expected",
)
cfg_case(
    "config-holding-cost-basis-negative",
    "cost_basis = 90.0",
    "cost_basis = -90.0",
    "book.holdings[0].cost_basis",
    "> 0",
)
cfg_case(
    "config-holding-unknown-key", "quantity = 100", "qty = 100", "book.holdings[0].qty", "quantity"
)
cfg_case(
    "config-holding-duplicate-ticker",
    'ticker = "B"',
    'ticker = "A"',
    "book.holdings[1].ticker",
    "once",
)
case(
    "config-holdings-not-array",
    "config check --config {t}/c.toml",
    "book.holdings",
    "array of tables",
    files={
        "c.toml": BASE_CONFIG.split("[[book.holdings]]")[0].replace(
            "cash = 10000.0", 'cash = 10000.0\nholdings = "A"'
        )
    },
)

# -- config: hedge legs ----------------------------------------------------------------------------
FUT = 'instrument = "future"\ncontract = "ES"'
OPT = 'right = "put"'
cfg_case(
    "config-hedge-instrument-missing",
    'instrument = "future"\n',
    "",
    "book.hedges[0].instrument",
    "missing",
)
cfg_case(
    "config-hedge-instrument-unknown",
    'instrument = "future"',
    'instrument = "swap"',
    "book.hedges[0].instrument",
    "one of",
)
cfg_case(
    "config-hedge-contract-unknown",
    'contract = "ES"',
    'contract = "XX"',
    "book.hedges[0].contract",
    "one of",
)
cfg_case(
    "config-hedge-future-no-contract",
    'contract = "ES"\n',
    "",
    "book.hedges[0].contract",
    "multiplier",
)
cfg_case(
    "config-hedge-future-fractional-quantity",
    "quantity = -1\n",
    "quantity = -1.5\n",
    "book.hedges[0].quantity",
    "whole number",
)
cfg_case(
    "config-hedge-quantity-zero",
    "quantity = -1\n",
    "quantity = 0\n",
    "book.hedges[0].quantity",
    "non-zero",
)
cfg_case(
    "config-hedge-equity-with-contract",
    FUT,
    'instrument = "equity"\ncontract = "ES"',
    "book.hedges[0].contract",
    "non-futures",
)
cfg_case(
    "config-hedge-future-with-strike",
    'purpose = "beta hedge"',
    'purpose = "beta hedge"\nstrike = 4000',
    "book.hedges[0].strike",
    "no option terms",
)
cfg_case(
    "config-hedge-multiplier-zero",
    'contract = "ES"',
    "multiplier = 0",
    "book.hedges[0].multiplier",
    "> 0",
)
cfg_case(
    "config-hedge-price-scale-negative",
    "price_scale = 40.0",
    "price_scale = -40.0",
    "book.hedges[0].price_scale",
    "> 0",
)
cfg_case(
    "config-hedge-underlying-missing",
    'underlying = "H"\nprice_scale',
    "price_scale",
    "book.hedges[0].underlying",
    "missing",
)
cfg_case(
    "config-hedge-underlying-unknown",
    'underlying = "H"\nprice_scale',
    'underlying = "ZZZ"\nprice_scale',
    "book.hedges[0].underlying",
    "market data",
)
cfg_case(
    "config-hedge-unknown-key",
    'purpose = "beta hedge"',
    'purpose = "beta hedge"\nnotes = "x"',
    "book.hedges[0].notes",
    "known keys",
)
cfg_case(
    "config-hedge-name-duplicate",
    'name = "H put"',
    'name = "ES short"',
    "book.hedges[1].name",
    "name",
)
cfg_case(
    "config-hedge-name-is-holding", 'name = "H put"', 'name = "A"', "book.hedges[1].name", "name"
)
cfg_case("config-option-right-missing", 'right = "put"\n', "", "book.hedges[1].right", "missing")
cfg_case("config-option-right-unknown", OPT, 'right = "straddle"', "book.hedges[1].right", "one of")
cfg_case(
    "config-option-strike-zero", "strike = 90", "strike = 0", "book.hedges[1].strike", ">= 1e-08"
)
cfg_case(
    "config-option-strike-string",
    "strike = 90",
    'strike = "ATM"',
    "book.hedges[1].strike",
    "a number",
)
cfg_case(
    "config-option-expiry-invalid",
    'expiry = "2024-06-21"',
    'expiry = "2024-02-30"',
    "book.hedges[1].expiry",
    "YYYY-MM-DD",
)
cfg_case(
    "config-option-expiry-missing",
    'expiry = "2024-06-21"\n',
    "",
    "book.hedges[1].expiry",
    "missing",
)
cfg_case(
    "config-option-expiry-9999-12-31",
    'expiry = "2024-06-21"',
    'expiry = "9999-12-31"',
    "book.hedges[1].expiry",
    "expected",
    command="risk",
)
cfg_case(
    "config-option-volatility-zero",
    "volatility = 0.25",
    "volatility = 0",
    "book.hedges[1].volatility",
    "> 0",
)
cfg_case(
    "config-option-volatility-too-big",
    "volatility = 0.25",
    "volatility = 6",
    "book.hedges[1].volatility",
    "<= 5",
)
cfg_case(
    "config-option-model-unknown",
    "volatility = 0.25",
    'volatility = 0.25\nmodel = "heston"',
    "book.hedges[1].model",
    "one of",
)
cfg_case(
    "config-option-black76-no-multiplier",
    "volatility = 0.25",
    'volatility = 0.25\nmodel = "black76"',
    "book.hedges[1].multiplier",
    "black76",
)
cfg_case(
    "config-option-dividend-too-big",
    "dividend_yield = 0.01",
    "dividend_yield = 2.0",
    "book.hedges[1].dividend_yield",
    "<= 1",
)
cfg_case(
    "config-option-fractional-quantity",
    "quantity = 1\nvolatility",
    "quantity = 1.5\nvolatility",
    "book.hedges[1].quantity",
    "whole number",
)

# -- config: [optimizer] ---------------------------------------------------------------------------
cfg_case(
    "config-optimizer-objective-unknown",
    'objective = "min-variance"',
    'objective = "max-fun"',
    "optimizer.objective",
    "one of",
)
cfg_case(
    "config-optimizer-long-only-string",
    "long_only = true",
    'long_only = "yes"',
    "optimizer.long_only",
    "true or false",
)
cfg_case(
    "config-optimizer-max-weight-zero",
    "max_weight = 0.8",
    "max_weight = 0.0",
    "optimizer.max_weight",
    "expected",
)
cfg_case(
    "config-optimizer-max-weight-over-one",
    "max_weight = 0.8",
    "max_weight = 1.5",
    "optimizer.max_weight",
    "expected",
)
cfg_case(
    "config-optimizer-min-weight-below-minus-one",
    "max_weight = 0.8",
    "max_weight = 0.8\nmin_weight = -2.0",
    "optimizer.min_weight",
    "expected",
)
cfg_case(
    "config-optimizer-negative-min-weight-long-only",
    "max_weight = 0.8",
    "max_weight = 0.8\nmin_weight = -0.1",
    "optimizer.min_weight",
    "expected",
)
cfg_case("config-optimizer-points-one", "points = 5", "points = 1", "optimizer.points", "expected")
cfg_case(
    "config-optimizer-points-fraction",
    "points = 5",
    "points = 5.5",
    "optimizer.points",
    "whole number",
)
cfg_case(
    "config-optimizer-net-one-value",
    "points = 5",
    "points = 5\nnet = [1.0]",
    "optimizer.net",
    "expected",
)
cfg_case(
    "config-optimizer-net-reversed",
    "points = 5",
    "points = 5\nnet = [1.0, 0.5]",
    "optimizer.net",
    "expected",
)
cfg_case(
    "config-optimizer-gross-max-zero",
    "points = 5",
    "points = 5\ngross_max = 0.0",
    "optimizer.gross_max",
    "expected",
)
cfg_case(
    "config-optimizer-cost-rate-too-big",
    "points = 5",
    "points = 5\ncost_rate = 0.5",
    "optimizer.cost_rate",
    "expected",
)
cfg_case(
    "config-optimizer-beta-band-string",
    "points = 5",
    'points = 5\nbeta_band = "0.8-1.0"',
    "optimizer.beta_band",
    "expected",
)
cfg_case(
    "config-optimizer-beta-band-reversed",
    "points = 5",
    "points = 5\nbeta_band = [1.0, 0.8]",
    "optimizer.beta_band",
    "expected",
)
cfg_case(
    "config-optimizer-te-cap-zero",
    "points = 5",
    "points = 5\nte_cap = 0.0",
    "optimizer.te_cap",
    "expected",
)
cfg_case(
    "config-optimizer-vol-cap-negative",
    "points = 5",
    "points = 5\nvol_cap = -0.1",
    "optimizer.vol_cap",
    "expected",
)
cfg_case(
    "config-optimizer-turnover-negative",
    "points = 5",
    "points = 5\nturnover_max = -0.5",
    "optimizer.turnover_max",
    "expected",
)
cfg_case(
    "config-optimizer-shrinkage-unknown",
    "points = 5",
    'points = 5\nshrinkage = "oas"',
    "optimizer.shrinkage",
    "one of",
)
cfg_case(
    "config-optimizer-risk-aversion-zero",
    "points = 5",
    "points = 5\nrisk_aversion = 0",
    "optimizer.risk_aversion",
    "expected",
)
cfg_case(
    "config-optimizer-cvar-confidence-too-high",
    "points = 5",
    "points = 5\ncvar_confidence = 0.9999",
    "optimizer.cvar_confidence",
    "expected",
)
cfg_case(
    "config-optimizer-kelly-fraction-zero",
    "points = 5",
    "points = 5\nkelly_fraction = 0",
    "optimizer.kelly_fraction",
    "expected",
)
cfg_case(
    "config-optimizer-tau-zero", "points = 5", "points = 5\ntau = 0", "optimizer.tau", "expected"
)
cfg_case(
    "config-optimizer-budgets-negative",
    "points = 5",
    "points = 5\nbudgets = { A = -1.0 }",
    "optimizer.budgets",
    "expected",
)
cfg_case(
    "config-optimizer-budgets-unknown-ticker",
    "points = 5",
    "points = 5\nbudgets = { ZZZ = 1.0 }",
    "optimizer.budgets.ZZZ",
    "market data",
)
cfg_case(
    "config-optimizer-prior-negative",
    "points = 5",
    "points = 5\nprior = { A = -0.5 }",
    "optimizer.prior",
    "expected",
)
cfg_case(
    "config-optimizer-unknown-key",
    "points = 5",
    "points = 5\nmax_weigth = 0.5",
    "optimizer.max_weigth",
    "max_weight",
)
cfg_case(
    "config-optimizer-group-tickers-empty",
    'tickers = ["A", "B"]',
    "tickers = []",
    "optimizer.groups[0].tickers",
    "non-empty",
)
cfg_case(
    "config-optimizer-group-min-above-max",
    "min = 0.1\nmax = 0.9",
    "min = 0.9\nmax = 0.1",
    "optimizer.groups[0]",
    "expected",
)
cfg_case(
    "config-optimizer-group-name-missing", 'name = "g"\n', "", "optimizer.groups[0].name", "missing"
)
cfg_case(
    "config-optimizer-group-unknown-ticker",
    'tickers = ["A", "B"]',
    'tickers = ["A", "ZZZ"]',
    "optimizer.groups[0].tickers",
    "market data",
)
cfg_case(
    "config-optimizer-view-confidence-zero",
    "confidence = 0.5",
    "confidence = 0",
    "optimizer.views[0].confidence",
    "expected",
)
cfg_case(
    "config-optimizer-view-weights-wrong-length",
    "confidence = 0.5",
    "confidence = 0.5\nweights = [1, -1]",
    "optimizer.views[0].weights",
    "expected",
)
cfg_case(
    "config-optimizer-view-assets-unknown",
    'assets = ["A"]',
    'assets = ["ZZZ"]',
    "optimizer.views[0].assets",
    "market data",
)
cfg_case(
    "config-optimizer-view-missing-view", "view = 0.05\n", "", "optimizer.views[0].view", "missing"
)

# -- config: [sweep] -------------------------------------------------------------------------------
cfg_case("config-sweep-long-missing", 'long = ["A", "B"]\n', "", "sweep.long", "missing")
cfg_case("config-sweep-long-empty", 'long = ["A", "B"]', "long = []", "sweep.long", "non-empty")
cfg_case(
    "config-sweep-long-duplicate", 'long = ["A", "B"]', 'long = ["A", "A"]', "sweep.long", "once"
)
cfg_case(
    "config-sweep-long-unknown-ticker",
    'long = ["A", "B"]',
    'long = ["ZZZ"]',
    "sweep.long[0]",
    "market data",
)
cfg_case("config-sweep-hedge-missing", 'hedge = "H"\n', "", "sweep.hedge", "missing")
cfg_case(
    "config-sweep-rebalance-zero",
    "rebalance = [5, 21]",
    "rebalance = [0, 5]",
    "sweep.rebalance",
    ">= 1",
)
cfg_case(
    "config-sweep-rebalance-fraction",
    "rebalance = [5, 21]",
    "rebalance = [5.5]",
    "sweep.rebalance",
    "whole numbers",
)
cfg_case(
    "config-sweep-rebalance-range-string",
    "rebalance = [5, 21]",
    'rebalance = "1:21:3"',
    "sweep.rebalance",
    "whole numbers",
)
cfg_case("config-sweep-window-one", "window = [20, 60]", "window = [1]", "sweep.window", ">= 2")
cfg_case(
    "config-sweep-window-too-many-values",
    "window = [20, 60]",
    f"window = [{', '.join(str(i) for i in range(2, 10_004))}]",
    "sweep.window",
    "expected",
)
cfg_case(
    "config-sweep-estimator-unknown",
    "cost = [0.0]",
    'cost = [0.0]\nestimator = ["garch"]',
    "sweep.estimator",
    "one of",
)
cfg_case(
    "config-sweep-halflife-zero",
    "cost = [0.0]",
    "cost = [0.0]\newma_halflife = [0]",
    "sweep.ewma_halflife",
    "> 0",
)
cfg_case(
    "config-sweep-exposure-range-n-zero",
    "exposure = [1.0]",
    'exposure = "0.5:1.5:0"',
    "sweep.exposure",
    "start:stop:count",
)
cfg_case(
    "config-sweep-exposure-range-n-too-big",
    "exposure = [1.0]",
    'exposure = "0.5:1.5:20000"',
    "sweep.exposure",
    "start:stop:count",
)
cfg_case(
    "config-sweep-exposure-range-non-numeric",
    "exposure = [1.0]",
    'exposure = "a:b:3"',
    "sweep.exposure",
    "start:stop:count",
)
cfg_case(
    "config-sweep-exposure-range-n-one-unequal",
    "exposure = [1.0]",
    'exposure = "0.5:1.5:1"',
    "sweep.exposure",
    "start:stop:count",
)
cfg_case(
    "config-sweep-exposure-zero", "exposure = [1.0]", "exposure = [0.0]", "sweep.exposure", "> 0"
)
cfg_case(
    "config-sweep-exposure-duplicate",
    "exposure = [1.0]",
    "exposure = [1.0, 1.0]",
    "sweep.exposure",
    "once",
)
cfg_case(
    "config-sweep-hedge-ratio-negative",
    "hedge_ratio = [0.5, 1.0]",
    "hedge_ratio = [-0.5]",
    "sweep.hedge_ratio",
    ">= 0",
)
cfg_case(
    "config-sweep-hedge-ratio-string-list",
    "hedge_ratio = [0.5, 1.0]",
    'hedge_ratio = ["0.5"]',
    "sweep.hedge_ratio",
    "numbers",
)
cfg_case("config-sweep-cost-too-big", "cost = [0.0]", "cost = [0.5]", "sweep.cost", "<= 0.1")
cfg_case(
    "config-sweep-impact-negative",
    "cost = [0.0]",
    "cost = [0.0]\nimpact = [-1.0]",
    "sweep.impact",
    ">= 0",
)
cfg_case(
    "config-sweep-keep-unknown",
    "cost = [0.0]",
    'cost = [0.0]\nkeep = "some"',
    "sweep.keep",
    "one of",
)
cfg_case(
    "config-sweep-unknown-key",
    "cost = [0.0]",
    "cost = [0.0]\nwindows = [5]",
    "sweep.windows",
    "window",
)
cfg_append(
    "config-sweep-limits-zero",
    "\n[sweep.limits]\nconfigurations = 0\n",
    "sweep.limits.configurations",
    "> 0",
)
cfg_append(
    "config-sweep-limits-unknown-key",
    "\n[sweep.limits]\ncpus = 4\n",
    "sweep.limits.cpus",
    "known keys",
)
cfg_append(
    "config-sweep-score-string",
    '\n[sweep.score]\nsharpe = "high"\n',
    "sweep.score.sharpe",
    "a number",
)
cfg_append(
    "config-sweep-score-unknown-key",
    "\n[sweep.score]\nsortino = 1.0\n",
    "sweep.score.sortino",
    "known keys",
)

# -- config: a table or an array where the other is expected ---------------------------------------
cfg_case(
    "config-optimizer-budgets-not-table",
    "points = 5",
    "points = 5\nbudgets = 5",
    "optimizer.budgets",
    "table",
)
cfg_case(
    "config-optimizer-prior-not-table",
    "points = 5",
    "points = 5\nprior = 0.5",
    "optimizer.prior",
    "table",
)
NO_GROUPS_VIEWS = (
    BASE_CONFIG.split("[[optimizer.groups]]")[0] + "[sweep]" + BASE_CONFIG.split("[sweep]")[1]
)
case(
    "config-optimizer-groups-not-array",
    "config check --config {t}/c.toml",
    "optimizer.groups",
    "array of tables",
    files={"c.toml": NO_GROUPS_VIEWS.replace("points = 5", "points = 5\ngroups = 5")},
)
case(
    "config-optimizer-views-not-array",
    "config check --config {t}/c.toml",
    "optimizer.views",
    "array of tables",
    files={"c.toml": NO_GROUPS_VIEWS.replace("points = 5", 'points = 5\nviews = "bullish"')},
)
case(
    "config-proxies-not-table",
    "config check --config {t}/c.toml",
    "proxies",
    "table",
    files={
        "c.toml": "proxies = 5\n"
        + BASE_CONFIG.replace('[proxies]\nES = { underlying = "H", scale = 40.0 }\n', "")
    },
)
cfg_append("config-sweep-score-not-table", "score = 5\n", "sweep.score", "table")
cfg_append("config-sweep-limits-not-table", "limits = [1, 2]\n", "sweep.limits", "table")
cfg_case(
    "config-scenario-replay-string",
    "shocks = { A = -0.1, B = 0.05 }",
    'replay = "2021-03-01..2021-06-01"',
    "scenarios[1].replay",
    "two dates",
)
cfg_case(
    "config-data-paths-number",
    'paths = ["@PRICES@"]',
    "paths = [5]",
    "data.paths",
    "array of strings",
)
cfg_case(
    "config-risk-var-window-bool",
    "var_window = 100",
    "var_window = true",
    "risk.var_window",
    "whole number",
)
cfg_case(
    "config-targets-hedge-future-lowercase",
    'hedge_future = "ES"',
    'hedge_future = "es"',
    "targets.hedge_future",
    "one of",
)
cfg_case(
    "config-hedge-instrument-number",
    'instrument = "future"',
    "instrument = 5",
    "book.hedges[0].instrument",
    "a string",
)
cfg_case(
    "config-hedge-multiplier-bool",
    'contract = "ES"',
    "multiplier = true",
    "book.hedges[0].multiplier",
    "a number",
)

# -- config: [cluster] -----------------------------------------------------------------------------
cfg_append(
    "config-cluster-address-bad",
    '\n[cluster]\naddress = "http://x:1"\n',
    "cluster.address",
    "tcp://",
)
cfg_append(
    "config-cluster-address-missing",
    '\n[cluster]\ntls_ca = "ca.pem"\n',
    "cluster.address",
    "missing",
)
cfg_append(
    "config-cluster-local-zero", '\n[cluster]\naddress = "local:0"\n', "cluster.address", "local:N"
)
cfg_append(
    "config-cluster-tls-without-files",
    '\n[cluster]\naddress = "tls://127.0.0.1:8786"\n',
    "cluster.tls_ca",
    "PEM",
)
cfg_append(
    "config-cluster-unknown-key",
    '\n[cluster]\naddress = "local:2"\nworkers = 2\n',
    "cluster.workers",
    "known keys",
)
cfg_append(
    "config-cluster-address-number", "\n[cluster]\naddress = 8786\n", "cluster.address", "a string"
)

# -- price files -----------------------------------------------------------------------------------
HDR = "Date,A,B\n"
prices_case("prices-wide-empty-file", "p.csv", "", "empty")
prices_case("prices-wide-blank-lines-only", "p.csv", "\n\n  \n", "empty")
prices_case("prices-wide-header-only", "p.csv", HDR, "no data rows")
prices_case(
    "prices-wide-bad-date",
    "p.csv",
    HDR + "2021-01-04,1,2\n2021-13-05,1,2\n",
    "p.csv:3",
    "YYYY-MM-DD",
)
prices_case("prices-wide-date-slashes", "p.csv", HDR + "2021/01/04,1,2\n", "p.csv:2", "YYYY-MM-DD")
# issue 17: M/D/YYYY files are read; a file mixing it with ISO dates is refused
prices_case(
    "prices-wide-date-mixed-formats",
    "p.csv",
    HDR + "2021-01-04,1,2\n01/05/2021,1,2\n",
    "p.csv:3",
    "one date format per file",
)
prices_case(
    "prices-wide-date-9999-12-31",
    "p.csv",
    HDR + "2021-01-04,1,2\n9999-12-31,1,2\n",
    "9999-12-31",
    "expected",
)
prices_case(
    "prices-wide-unsorted-dates",
    "p.csv",
    HDR + "2021-01-05,1,2\n2021-01-04,1,2\n2021-01-06,1,2\n",  # newest-first alone is sorted
    "p.csv:3",
    "ascending",
)
prices_case(
    "prices-wide-duplicate-date",
    "p.csv",
    HDR + "2021-01-04,1,2\n2021-01-04,1,2\n",
    "p.csv:3",
    "duplicate date",
)
prices_case(
    "prices-wide-non-numeric-price",
    "p.csv",
    HDR + "2021-01-04,1,2\n2021-01-05,abc,2\n",
    "p.csv:3",
    "non-numeric",
)
prices_case(
    "prices-wide-negative-price",
    "p.csv",
    HDR + "2021-01-04,1,2\n2021-01-05,-1,2\n",
    "p.csv:3",
    "non-positive",
)
prices_case(
    "prices-wide-zero-price",
    "p.csv",
    HDR + "2021-01-04,1,2\n2021-01-05,0,2\n",
    "p.csv:3",
    "non-positive",
)
prices_case(
    "prices-long-nan-price",
    "p.csv",
    "date,ticker,close\n2021-01-04,A,1\n2021-01-05,A,nan\n",
    "p.csv:3",
    "missing price",
)
prices_case(
    "prices-wide-inf-price",
    "p.csv",
    HDR + "2021-01-04,1,2\n2021-01-05,inf,2\n",
    "p.csv:3",
    "non-finite",
)
prices_case(
    "prices-wide-extra-cell",
    "p.csv",
    HDR + "2021-01-04,1,2\n2021-01-05,1,2,3\n",
    "p.csv:3",
    "expected",
)
prices_case(
    "prices-wide-column-without-name",
    "p.csv",
    "Date,A,\n2021-01-04,1,2\n",
    "p.csv:1",
    "ticker name",
)
prices_case(
    "prices-wide-duplicate-column", "p.csv", "Date,A,A\n2021-01-04,1,2\n", "p.csv:1", "two columns"
)
prices_case("prices-wide-semicolons", "p.csv", "Date;A;B\n2021-01-04;1;2\n", "p.csv:1", "semicolon")
prices_case(
    "prices-wide-unknown-first-column",
    "p.csv",
    "When,A,B\n2021-01-04,1,2\n",
    "p.csv:1",
    "date column",
)
prices_case(
    "prices-wide-column-all-empty",
    "p.csv",
    HDR + "2021-01-04,1,\n2021-01-05,1,\n",
    "B",
    "no prices",
)
prices_case("prices-wide-binary-junk", "p.csv", bytes(range(256)) * 8, "p.csv", "UTF-8")
prices_case(
    "prices-wide-latin1",
    "p.csv",
    "Date,A,Caf\u00e9\n2021-01-04,1,2\n".encode("latin-1"),
    "p.csv",
    "UTF-8",
)
prices_case(
    "prices-wide-utf16", "p.csv", (HDR + "2021-01-04,1,2\n").encode("utf-16"), "p.csv", "UTF-8"
)
prices_case(
    "prices-wide-nul-bytes",
    "p.csv",
    (HDR + "2021-01-04,1\x00,2\n").encode(),
    "p.csv:2",
    "non-numeric",
)
prices_case(
    "prices-wide-unclosed-quote",
    "p.csv",
    HDR + '2021-01-04,"1,2\n2021-01-05,1,2\n',
    "p.csv",
    "non-numeric",
)
prices_case(
    "prices-long-missing-ticker",
    "p.csv",
    "date,ticker,close\n2021-01-04,A,1\n2021-01-05,,1\n",
    "p.csv:3",
    "missing ticker",
)
prices_case(
    "prices-long-no-price-column",
    "p.csv",
    "date,ticker,volume\n2021-01-04,A,1\n",
    "p.csv:1",
    "Adj Close",
)
prices_case(
    "prices-long-negative-volume",
    "p.csv",
    "date,ticker,close,volume\n2021-01-04,A,1,-5\n",
    "p.csv:2",
    "negative volume",
)
prices_case(
    "prices-long-non-numeric-volume",
    "p.csv",
    "date,ticker,close,volume\n2021-01-04,A,1,lots\n",
    "p.csv:2",
    "non-numeric volume",
)
prices_case(
    "prices-long-duplicate-date",
    "p.csv",
    "date,ticker,close\n2021-01-04,A,1\n2021-01-04,A,2\n",
    "p.csv:3",
    "duplicate date",
)
prices_case(
    "prices-long-unsorted",
    "p.csv",
    "date,ticker,close\n2021-01-05,A,1\n2021-01-04,A,2\n2021-01-06,A,3\n",
    "p.csv:3",
    "ascending",
)
prices_case("prices-long-header-only", "p.csv", "date,ticker,close\n", "p.csv", "no data rows")
prices_case(
    "prices-long-bad-date", "p.csv", "date,ticker,close\nJan 4,A,1\n", "p.csv:2", "YYYY-MM-DD"
)
prices_case(
    "prices-long-missing-price",
    "p.csv",
    "date,ticker,close\n2021-01-04,A,\n",
    "p.csv:2",
    "missing price",
)
YF = "Price,Adj Close,Close,Volume\nTicker,AAA,AAA,AAA\nDate,,,\n"
prices_case(
    "prices-yf-no-price-column",
    "AAA.csv",
    "Price,Open,Volume\nTicker,AAA,AAA\nDate,,\n2021-01-04,1,5\n",
    "AAA.csv",
    "Adj Close",
)
prices_case(
    "prices-yf-missing-ticker-row",
    "AAA.csv",
    "Price,Adj Close,Close\nDate,,\n2021-01-04,1,1\n",
    "AAA.csv",
    "Ticker",
)
prices_case(
    "prices-yf-bad-date",
    "AAA.csv",
    YF + "2021-01-04,1,1,5\n04.01.2021,1,1,5\n",
    "AAA.csv:5",
    "YYYY-MM-DD",
)
prices_case(
    "prices-yf-non-numeric", "AAA.csv", YF + "2021-01-04,x,1,5\n", "AAA.csv:4", "non-numeric"
)
prices_case(
    "prices-yf-negative-volume",
    "AAA.csv",
    YF + "2021-01-04,1,1,-5\n",
    "AAA.csv:4",
    "negative volume",
)
prices_case("prices-yf-header-only", "AAA.csv", YF, "AAA.csv", "no prices")
OHLCV = "Date,Open,High,Low,Close,Volume\n"
prices_case(
    "prices-ohlcv-negative-volume",
    "AAA.csv",
    OHLCV + "2021-01-04,1,2,1,1.5,-10\n",
    "AAA.csv:2",
    "negative volume",
)
prices_case(
    "prices-ohlcv-non-numeric-high",
    "AAA.csv",
    OHLCV + "2021-01-04,1,x,1,1.5,10\n",
    "AAA.csv:2",
    "high",
)
prices_case(
    "prices-ohlcv-no-close",
    "AAA.csv",
    "Date,Open,High,Low,Volume\n2021-01-04,1,2,1,10\n",
    "AAA.csv:1",
    "Close",
)
prices_case(
    "prices-ohlcv-zero-close",
    "AAA.csv",
    OHLCV + "2021-01-04,1,2,1,0,10\n",
    "AAA.csv:2",
    "non-positive",
)
prices_case(
    "prices-single-empty-price",
    "AAA.csv",
    "Date,Adj_Close\n2021-01-04,1\n2021-01-05,\n",
    "AAA.csv:3",
    "missing price",
)
prices_case(
    "prices-single-bad-date",
    "AAA.csv",
    "Date,Adj_Close\n2021-01-04,1\n2021-1-5,1\n",
    "AAA.csv:3",
    "YYYY-MM-DD",
)
prices_case("prices-single-header-only", "AAA.csv", "Date,Adj_Close\n", "AAA.csv", "no data rows")


def _gz(text: str | bytes) -> bytes:
    return gzip.compress(text.encode() if isinstance(text, str) else text, mtime=0)


GOOD_GZ = _gz(prices_text(60))
prices_case("prices-gz-truncated", "p.csv.gz", GOOD_GZ[: len(GOOD_GZ) // 2], "gzip")
prices_case("prices-gz-not-gzip", "p.csv.gz", "Date,A\n2021-01-04,1\n", "gzip")
prices_case("prices-gz-empty-member", "p.csv.gz", _gz(""), "empty")
prices_case("prices-gz-zero-bytes", "p.csv.gz", b"", "gzip")
prices_case(
    "prices-gz-bad-date",
    "p.csv.gz",
    _gz(HDR + "2021-01-04,1,2\nnever,1,2\n"),
    "p.csv.gz:3",
    "YYYY-MM-DD",
)
prices_case(
    "prices-gz-latin1",
    "p.csv.gz",
    _gz("Date,Caf\u00e9\n2021-01-04,1\n".encode("latin-1")),
    "p.csv.gz",
    "UTF-8",
)


def _parquet(frame: pd.DataFrame, index: bool = False) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        frame.to_parquet(path, index=index)

    return write


def _good_parquet_bytes() -> bytes:
    buf = io.BytesIO()
    pd.DataFrame({"date": ["2021-01-04", "2021-01-05"] * 50, "A": [1.0, 2.0] * 50}).to_parquet(buf)
    return buf.getvalue()


PQ_DATES = pd.to_datetime(["2021-01-04", "2021-01-05", "2021-01-06"])
prices_case(
    "prices-parquet-junk",
    "p.parquet",
    b"PAR1 this is not parquet at all PAR1",
    "p.parquet",
    "Parquet",
)
prices_case("prices-parquet-zero-bytes", "p.parquet", b"", "Parquet")
prices_case(
    "prices-parquet-truncated", "p.parquet", _good_parquet_bytes()[:200], "p.parquet", "Parquet"
)
prices_case(
    "prices-parquet-csv-inside", "p.parquet", "Date,A\n2021-01-04,1\n", "p.parquet", "Parquet"
)
prices_case(
    "prices-parquet-empty-frame",
    "p.parquet",
    _parquet(pd.DataFrame({"date": pd.to_datetime([]), "A": []})),
    "p.parquet",
    "empty",
)
prices_case(
    "prices-parquet-no-date-column",
    "p.parquet",
    _parquet(pd.DataFrame({"A": [1.0, 2.0], "B": [1.0, 2.0]})),
    "p.parquet",
    "date",
)
prices_case(
    "prices-parquet-negative-price",
    "p.parquet",
    _parquet(pd.DataFrame({"date": PQ_DATES, "A": [1.0, -2.0, 3.0]})),
    "row 2",
    "non-positive",
)
prices_case(
    "prices-parquet-unsorted",
    "p.parquet",
    _parquet(pd.DataFrame({"date": [PQ_DATES[1], PQ_DATES[0], PQ_DATES[2]], "A": [1.0, 2.0, 3.0]})),
    "row 2",
    "ascending",
)
prices_case(
    "prices-parquet-duplicate-date",
    "p.parquet",
    _parquet(pd.DataFrame({"date": PQ_DATES[[0, 0, 1]], "A": [1.0, 2.0, 3.0]})),
    "row 2",
    "duplicate date",
)
prices_case(
    "prices-parquet-string-price",
    "p.parquet",
    _parquet(pd.DataFrame({"date": PQ_DATES, "A": ["1", "x", "3"]})),
    "row 2",
    "non-numeric",
)
prices_case(
    "prices-parquet-inf-price",
    "p.parquet",
    _parquet(pd.DataFrame({"date": PQ_DATES, "A": [1.0, np.inf, 3.0]})),
    "row 2",
    "non-finite",
)
prices_case(
    "prices-parquet-string-date",
    "p.parquet",
    _parquet(pd.DataFrame({"date": ["2021-01-04", "someday", "2021-01-06"], "A": [1.0, 2.0, 3.0]})),
    "row 2",
    "YYYY-MM-DD",
)
prices_case(
    "prices-parquet-long-no-price",
    "p.parquet",
    _parquet(pd.DataFrame({"date": PQ_DATES, "ticker": ["A"] * 3, "volume": [1.0] * 3})),
    "p.parquet",
    "Adj Close",
)
case(
    "prices-folder-same-ticker-twice",
    "data check {t}",
    "ticker A",
    "one source",
    files={"A.csv": "Date,Adj_Close\n2021-01-04,1\n", "w.csv": "Date,A\n2021-01-04,1\n"},
)
case(
    "prices-folder-one-bad-file",
    "data check {t}",
    "bad.csv:2",
    "non-positive",
    files={"good.csv": prices_text(40), "bad.csv": "Date,Z\n2021-01-04,-1\n"},
)
case(
    "prices-folder-with-csv-name",
    "data check {t}/dir.csv",
    "dir.csv",
    "price files",
    files={"dir.csv/readme.txt": "x"},
)

case(
    "prices-too-large",
    "data check {t}/p.csv",
    "p.csv",
    "MiB",
    files={"p.csv": sparse(1100 * 2**20)},
)

# -- sweep: grid flags and run flags ---------------------------------------------------------------
S = "sweep --data {prices} --tickers A --hedge H --backend cpu --plan --ledger {t}/l.sqlite"
case("sweep-rebalance-zero", S + " --rebalance 0", "--rebalance", ">= 1")
case("sweep-rebalance-fraction", S + " --rebalance 2.5", "--rebalance", "whole numbers")
case("sweep-rebalance-range-not-whole", S + " --rebalance 1:4:3", "--rebalance", "whole numbers")
case("sweep-rebalance-not-a-number", S + " --rebalance weekly", "--rebalance", "expected")
case("sweep-window-one", S + " --window 1", "--window", ">= 2")
case("sweep-window-negative", S + " --window=-20", "--window", ">= 2")
case("sweep-window-longer-than-data", S + " --window 5000", "5000", "history")
case("sweep-exposure-range-n-zero", S + " --exposure 0.5:1.5:0", "--exposure", "2..10000")
case("sweep-exposure-range-n-too-big", S + " --exposure 0.5:1.5:20000", "--exposure", "2..10000")
case("sweep-exposure-range-non-numeric", S + " --exposure a:b:3", "--exposure", "a:b:n")
case("sweep-exposure-range-two-parts", S + " --exposure 0.5:1.5", "--exposure", "a:b:n")
case("sweep-exposure-range-infinite", S + " --exposure 0.5:inf:3", "--exposure", "finite")
case("sweep-exposure-zero", S + " --exposure 0", "--exposure", "> 0")
case("sweep-exposure-duplicate", S + " --exposure 1,1", "--exposure", "twice")
case(
    "sweep-exposure-empty",
    [*S.split(), "--exposure", ""],
    "--exposure",
    "expected",
)
case("sweep-exposure-nan", S + " --exposure nan", "--exposure", "finite")
case("sweep-hedge-ratio-negative", S + " --hedge-ratio=-1", "--hedge-ratio", ">= 0")
case(
    "sweep-hedge-ratio-1e308",
    S + " --hedge-ratio 0.5,1e308",
    "--hedge-ratio",
    "expected values <= 10",
)
case("sweep-exposure-past-ceiling", S + " --exposure 1:20:3", "--exposure", "expected values <= 10")
case("sweep-impact-1e308", S + " --impact 1e308", "--impact", "expected values <= 10")
case("sweep-capital-1e308", S + " --capital 1e308", "--capital", "<= 1e+15")
case(
    "sweep-hedge-ratio-range-n-one-unequal",
    S + " --hedge-ratio 0.5:1:1",
    "--hedge-ratio",
    "1 only when",
)
case("sweep-drift-band-negative", S + " --drift-band=-0.1", "--drift-band", ">= 0")
case("sweep-cost-too-big", S + " --cost 0.5", "--cost", "[0, 0.1]")
case("sweep-impact-negative", S + " --impact=-1", "--impact", ">= 0")
case("sweep-impact-without-volumes", S + " --impact 0.1", "volume", "impact")
case("sweep-halflife-zero", S + " --estimator ewma --halflife 0", "--halflife", "> 0")
case("sweep-estimator-unknown", S + " --estimator garch", "--estimator", "ols")
case(
    "sweep-estimator-empty",
    [*S.split(), "--estimator", ""],
    "--estimator",
    "ols",
)
case("sweep-halflife-empty", S + " --estimator ewma --halflife=", "--halflife", "expected")
case("sweep-hedge-empty", S + " --hedge=", "--hedge", "give its ticker")
case("sweep-tickers-empty", S + " --tickers=", "--tickers", "give at least one")
case("sweep-tickers-unknown", S.replace("--tickers A", "--tickers ZZZ"), "ZZZ", "A, B, H")
case("sweep-hedge-unknown", S.replace("--hedge H", "--hedge ZZZ"), "ZZZ", "A, B, H")
case("sweep-tickers-missing", S.replace("--tickers A ", ""), "--tickers", "give at least one")
case(
    "sweep-tickers-basket-bad-weighting",
    S.replace("--tickers A", "--tickers X=A+B@cap"),
    "@cap",
    "volume",
)
case("sweep-tickers-basket-empty", S.replace("--tickers A", "--tickers X="), "X=", "expected")
case("sweep-tickers-equal-hedge", S.replace("--tickers A", "--tickers H"), "H", "hedge")
case("sweep-top-zero", S + " --top 0", "--top", ">= 1")
case("sweep-top-string", S + " --top all", "--top", "whole number")
case("sweep-keep-unknown", S + " --keep some", "--keep", "choice")
case("sweep-backend-unknown", S.replace("--backend cpu", "--backend tpu"), "--backend", "choice")
case("sweep-blocks-odd", S + " --blocks 7", "--blocks", "even")
case("sweep-blocks-too-big", S + " --blocks 18", "--blocks", "16")
case("sweep-blocks-one", S + " --blocks 1", "--blocks", ">= 2")
case("sweep-walk-forward-too-big", S + " --walk-forward 0.95", "--walk-forward", "<= 0.9")
case("sweep-walk-forward-negative", S + " --walk-forward=-0.1", "--walk-forward", ">= 0")
case("sweep-capital-zero", S + " --capital 0", "--capital", "> 0")
case("sweep-rf-too-big", S + " --rf 5", "--rf", "<= 1")
case("sweep-start-after-end", S + " --start 2022-01-03 --end 2021-06-01", "2022-01-03", "--end")
case("sweep-data-missing-file", S.replace("{prices}", "{t}/nope.csv"), "nope.csv", "not found")
case(
    "sweep-resume-missing-run",
    "sweep --resume NOSUCH --ledger {w}/empty.sqlite --config {cfg}",
    "NOSUCH",
    "no such run",
)
case(
    "sweep-resume-with-grid-flag",
    "sweep --resume NOSUCH --window 20 --ledger {w}/empty.sqlite --config {cfg}",
    "--window",
    "drop",
)
case("sweep-plan-and-detach", S + " --detach", "--plan", "--detach")
case(
    "sweep-cluster-bad-address",
    S.replace("--backend cpu ", "") + " --cluster http://127.0.0.1:1",
    "http://127.0.0.1:1",
    "tcp://",
)
case(
    "sweep-cluster-local-zero",
    S.replace("--backend cpu ", "") + " --cluster local:0",
    "local:0",
    "local:N",
)
case("sweep-cluster-tls-files-without-cluster", S + " --tls-ca {t}/ca.pem", "--tls-ca", "--cluster")
case(
    "sweep-cluster-tls-missing-files",
    S.replace("--backend cpu ", "") + " --cluster tls://127.0.0.1:1",
    "tls",
    "--tls-ca",
)
case("sweep-cluster-with-backend", S + " --cluster local:1", "--backend", "drop")
case(
    "sweep-ledger-is-folder",
    S.replace("--ledger {t}/l.sqlite", "--ledger {t}"),
    "folder",
    "runs.sqlite",
)
case(
    "sweep-ledger-under-a-file",
    S.replace("--ledger {t}/l.sqlite", "--ledger {t}/f.txt/l.sqlite"),
    "f.txt",
    "not a folder",
    files={"f.txt": "x"},
)
case(
    "sweep-ledger-not-sqlite",
    S.replace("--ledger {t}/l.sqlite", "--ledger {t}/junk.sqlite"),
    "junk.sqlite",
    "run ledger",
    files={"junk.sqlite": "this is not a database\n" * 100},
)
case(
    "sweep-limits-exceeded",
    "sweep --config {t}/c.toml --ledger {t}/l.sqlite --backend cpu --json",
    "sweep.limits.configurations",
    "--yes",
    files={
        "c.toml": BASE_CONFIG.replace("@PRICES@", "{prices}")
        + "\n[sweep.limits]\nconfigurations = 1\n"
    },
)


# -- ledger states and runs ------------------------------------------------------------------------
def _future_schema(path: Path) -> None:
    from hedgedesk.core.sweep.ledger import Ledger

    Ledger(path).close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")


def _foreign_run_id(path: Path) -> None:
    from hedgedesk.core.sweep.ledger import Ledger

    Ledger(path).close()
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO runs (id, created, updated, status, params, fingerprint, code_version, "
            "backend, device, pid, host, n_configs, config_days) VALUES "
            "('x/../../escape', '2026-01-01T00:00:00', '2026-01-01T00:00:00', 'done', '{}', "
            "'f', 'c', 'cpu', 'cpu', 1, 'h', 1, 1)"
        )


def _garbage_params(path: Path) -> None:
    from hedgedesk.core.sweep.ledger import Ledger

    Ledger(path).close()
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO runs (id, created, updated, status, params, fingerprint, code_version, "
            "backend, device, pid, host, n_configs, config_days) VALUES "
            "('20260101-000000-abcd', '2026-01-01T00:00:00', '2026-01-01T00:00:00', 'done', "
            "'{not json', 'f', 'c', 'cpu', 'cpu', 1, 'h', 1, 1)"
        )


def _one_run(path: Path) -> None:
    """A ledger holding one finished --keep all sweep (on its own small price file)."""
    prices = path.parent / "run_prices.csv"
    prices.write_text(prices_text(120), encoding="utf-8")
    argv = ["sweep", "--data", str(prices), "--tickers", "A", "--hedge", "H", "--rebalance", "5"]
    argv += ["--window", "20", "--backend", "cpu", "--keep", "all", "--ledger", str(path), "--json"]
    assert main(argv) == 0


def _run_without_table(path: Path) -> None:
    """A ledger whose one run's per-configuration table has been deleted."""
    import shutil

    _one_run(path)
    tables = [p for p in (path.parent / "runs").iterdir() if p.is_dir()]
    assert tables, "the --keep all run wrote no table"
    for t in tables:
        shutil.rmtree(t)


R = "runs --ledger {w}/empty.sqlite"
case("runs-show-missing-run", R + " show NOSUCH", "NOSUCH", "no such run")
case(
    "runs-show-empty-name",
    ["runs", "--ledger", "{w}/empty.sqlite", "show", ""],
    "run",
    "give a run id",
)
case("runs-show-last-empty-ledger", R + " show last", "empty.sqlite", "no runs")
case("runs-show-no-run", R + " show", "runs show", "give one RUN")
case("runs-show-two-runs", R + " show a b", "runs show", "give one RUN")
case("runs-diff-one-run", R + " diff a", "runs diff", "two runs")
case("runs-diff-missing-runs", R + " diff NOSUCH1 NOSUCH2", "NOSUCH1", "no such run")
case("runs-rm-no-run", R + " rm", "runs rm", "give the RUNs")
case("runs-rm-missing-run", R + " rm NOSUCH", "NOSUCH", "no such run")
case("runs-prune-without-older-than", R + " prune", "--older-than", "DAYS")
case("runs-prune-negative", R + " prune --older-than=-1", "--older-than", ">= 0")
case("runs-prune-with-run", R + " prune a --older-than 3", "runs prune", "no RUN")
case("runs-limit-zero", R + " --limit 0", "--limit", ">= 1")
case("runs-action-unknown", R + " list", "list", "choice")
case(
    "runs-ledger-not-sqlite",
    "runs --ledger {t}/junk.sqlite",
    "junk.sqlite",
    "run ledger",
    files={"junk.sqlite": b"\x00\x01garbage" * 500},
)
case("runs-ledger-is-folder", "runs --ledger {t}", "folder", "runs.sqlite")
case(
    "runs-ledger-under-a-file",
    "runs --ledger {t}/f.txt/l.sqlite",
    "f.txt",
    "not a folder",
    files={"f.txt": "x"},
)
case(
    "runs-ledger-future-schema",
    "runs --ledger {t}/new.sqlite",
    "schema 99",
    "newer hedgedesk",
    files={"new.sqlite": _future_schema},
)
case(
    "runs-ledger-foreign-run-id",
    "runs --ledger {t}/l.sqlite show last",
    "x/../../escape",
    "run id",
    files={"l.sqlite": _foreign_run_id},
)
case(
    "runs-ledger-garbage-params",
    "runs --ledger {t}/l.sqlite show last",
    "20260101-000000-abcd",
    "expected",
    files={"l.sqlite": _garbage_params},
)

case(
    "sweep-resume-done-run",
    "sweep --resume last --ledger {t}/l.sqlite",
    "already done",
    "runs show",
    files={"l.sqlite": _one_run},
)
case(
    "report-sweep-run-table-missing",
    "report --config {cfg} --out {t}/out --what sweep:last --ledger {t}/l.sqlite",
    "table",
    "missing",
    files={"l.sqlite": _run_without_table},
)

case("runs-ledger-name-too-long", f"runs --ledger {{t}}/{LONG_NAME}.sqlite", "NNNN", "too long")
case("runs-ledger-dev-null", "runs --ledger /dev/null", "/dev/null", "run ledger")
case(
    "sweep-ledger-name-too-long",
    S.replace("{t}/l.sqlite", f"{{t}}/{LONG_NAME}.sqlite"),
    "NNNN",
    "too long",
)

# -- cluster local (refused before anything starts) ------------------------------------------------
case("cluster-port-too-big", "cluster local --port 70000", "--port", "0..65535")
case("cluster-port-negative", "cluster local --port=-1", "--port", "0..65535")
case("cluster-port-string", "cluster local --port http", "--port", "whole number")
case("cluster-workers-zero", "cluster local --workers 0", "--workers", ">= 1")
case("cluster-workers-string", "cluster local --workers many", "--workers", "whole number")
case("cluster-no-action", "cluster", "cluster", "required")
case("cluster-action-unknown", "cluster remote", "remote", "choice")

# -- report ----------------------------------------------------------------------------------------
RP = "report --config {cfg} --out {t}/out"
RB = RP + " --what backtest --long A --hedge H"
case("report-out-missing", "report --config {cfg}", "--out", "required")
case("report-what-unknown", RP + " --what book,charts", "charts", "expected")
case("report-what-empty", RP + " --what ,", "--what", "expected")
case("report-what-twice", RP + " --what book,book", "--what", "twice")
case("report-what-sweep-without-run", RP + " --what sweep", "sweep", "sweep:last")
case("report-what-sweep-empty-run", RP + " --what sweep:", "sweep:", "sweep:last")
case(
    "report-what-sweep-missing-run",
    RP + " --what sweep:NOSUCH --ledger {w}/empty.sqlite",
    "NOSUCH",
    "no such run",
)
case(
    "report-what-sweep-last-empty-ledger",
    RP + " --what sweep:last --ledger {w}/empty.sqlite",
    "empty.sqlite",
    "no runs",
)
case(
    "report-ledger-not-sqlite",
    RP + " --what sweep:last --ledger {t}/junk.sqlite",
    "junk.sqlite",
    "run ledger",
    files={"junk.sqlite": "nope\n" * 200},
)
case(
    "report-ledger-foreign-run-id",
    RP + " --what sweep:last --ledger {t}/l.sqlite",
    "x/../../escape",
    "run id",
    files={"l.sqlite": _foreign_run_id},
)
case("report-nav-zero", RP + " --nav 0", "--nav", "> 0")
case("report-rebalance-zero", RB + " --rebalance 0", "--rebalance", ">= 1")
case("report-window-one", RB + " --window 1", "--window", ">= 2")
case("report-exposure-too-big", RB + " --exposure 20", "--exposure", "<= 10")
case("report-weighting-unknown", RB + " --weighting cap", "--weighting", "choice")
case("report-long-unknown-ticker", RB.replace("--long A", "--long ZZZ"), "ZZZ", "A, B, H")
case(
    "report-out-is-a-file",
    RB.replace("{t}/out", "{t}/out.txt"),
    "out.txt",
    "folder",
    files={"out.txt": "x"},
)
case(
    "report-out-under-a-file",
    RB.replace("{t}/out", "{t}/f.txt/out"),
    "f.txt",
    "folder",
    files={"f.txt": "x"},
)
case("report-out-report-md-is-folder", RB, "report.md", "folder", files={"out/report.md/keep": "x"})

case("report-out-name-too-long", RB.replace("{t}/out", f"{{t}}/{LONG_NAME}"), "NNNN", "too long")
case("report-nav-1e308", RP + " --what book --nav 1e308", "--nav", "expected")

# -- optimize --------------------------------------------------------------------------------------
OC = "optimize --config {cfg}"
OD = "optimize --data {prices} --tickers A,B,H"
case("optimize-objective-unknown", OC + " --objective max-fun", "--objective", "choice")
case("optimize-max-weight-zero", OC + " --max-weight 0", "--max-weight", "expected")
case("optimize-max-weight-over-one", OC + " --max-weight 1.5", "--max-weight", "expected")
case("optimize-max-weight-string", OC + " --max-weight half", "--max-weight", "number")
case(
    "optimize-min-weight-below-minus-one",
    OC + " --long-short --min-weight=-2",
    "--min-weight",
    "expected",
)
case(
    "optimize-negative-min-weight-long-only", OC + " --min-weight=-0.1", "--min-weight", "expected"
)
case(
    "optimize-long-only-and-long-short",
    OC + " --long-only --long-short",
    "--long-short",
    "not allowed",
)
case("optimize-gross-max-long-only", OC + " --gross-max 1.5", "--gross-max", "expected")
case("optimize-group-bad-syntax", OC + " --group tech", "--group", "NAME=T1,T2:MIN:MAX")
case("optimize-group-min-above-max", OC + " --group g2=A,B:0.9:0.1", "--group", "expected")
case(
    "optimize-group-unknown-ticker",
    OD + " --objective min-variance --group g2=ZZZ:0:1",
    "ZZZ",
    "universe",
)
case("optimize-vol-cap-zero", OC + " --vol-cap 0", "--vol-cap", "expected")
case("optimize-turnover-negative", OC + " --turnover-max=-1", "--turnover-max", "expected")
case("optimize-cost-too-big", OC + " --cost 0.5", "--cost", "expected")
case("optimize-beta-band-one-value", OC + " --beta-band 0.5", "--beta-band", "2 arguments")
case("optimize-beta-band-reversed", OC + " --beta-band 1.0 0.5", "--beta-band", "expected")
case("optimize-te-cap-zero", OC + " --te-cap 0", "--te-cap", "expected")
case("optimize-rf-too-big", OC + " --rf 5", "--rf", "expected")
case("optimize-points-one", OC + " --objective frontier --points 1", "--points", "expected")
case("optimize-points-string", OC + " --objective frontier --points many", "--points", "int")
case("optimize-shrinkage-unknown", OC + " --shrinkage oas", "--shrinkage", "choice")
case(
    "optimize-risk-aversion-zero",
    OC + " --objective utility --risk-aversion 0",
    "--risk-aversion",
    "expected",
)
case(
    "optimize-confidence-too-high",
    OC + " --objective mean-cvar --confidence 0.9999",
    "--confidence",
    "expected",
)
case(
    "optimize-kelly-fraction-zero",
    OC + " --objective kelly --kelly-fraction 0",
    "--kelly-fraction",
    "expected",
)
case(
    "optimize-kelly-fraction-too-big",
    OC + " --objective kelly --kelly-fraction 2",
    "--kelly-fraction",
    "expected",
)
case(
    "optimize-target-return-too-big",
    OC + " --objective mean-cvar --target-return 20",
    "--target-return",
    "expected",
)
case(
    "optimize-overlay-objective-unknown",
    OC + " --objective hedge-overlay --overlay-objective sharpe",
    "--overlay-objective",
    "choice",
)
case(
    "optimize-cost-budget-negative",
    OC + " --objective hedge-overlay --cost-budget=-5",
    "--cost-budget",
    "expected",
)
case(
    "optimize-data-without-tickers",
    "optimize --data {prices} --objective min-variance",
    "--tickers",
    "--data",
)
case(
    "optimize-tickers-unknown",
    "optimize --data {prices} --tickers A,ZZZ --objective min-variance",
    "ZZZ",
    "A, B, H",
)
case(
    "optimize-black-litterman-without-views",
    OD + " --objective max-sharpe --black-litterman",
    "--black-litterman",
    "optimizer.views",
)
case(
    "optimize-hedge-overlay-with-data", OD + " --objective hedge-overlay", "hedge-overlay", "config"
)
case("optimize-start-after-end", OC + " --start 2022-01-03 --end 2021-06-01", "2022-01-03", "--end")
case(
    "optimize-infeasible-max-weight",
    OD + " --objective min-variance --max-weight 0.2",
    "maximum weight",
    "raise",
)
case(
    "optimize-infeasible-vol-cap",
    OD + " --objective max-return --vol-cap 0.0001",
    "volatility cap",
    "raise",
)
case(
    "optimize-infeasible-groups",
    OD + " --objective min-variance --group g1=A:0.7:1 --group g2=B:0.7:1",
    "group minimums",
    "lower",
)

cfg_case(
    "optimize-config-one-asset",
    'universe = ["A", "B", "H"]',
    'universe = ["A"]',
    "tickers",
    "at least two",
    command="optimize",
)
cfg_case(
    "optimize-config-group-outside-universe",
    'universe = ["A", "B", "H"]',
    'universe = ["A", "H"]',
    "group 'g'",
    "not in the universe",
    command="optimize",
)
cfg_case(
    "optimize-config-too-little-history",
    'start = ""',
    'start = "2022-04-05"',
    "too little history",
    "need at least",
    command="optimize",
)
cfg_case(
    "optimize-config-te-cap-infeasible",
    "points = 5",
    "points = 5\nte_cap = 0.0001",
    "tracking-error cap",
    "raise",
    command="optimize",
)
cfg_case(
    "optimize-config-beta-band-infeasible",
    "points = 5",
    "points = 5\nbeta_band = [3.0, 4.0]",
    "beta band",
    "lower the beta minimum",
    command="optimize",
)
cfg_case(
    "optimize-config-prior-sums-to-zero",
    "points = 5",
    "points = 5\nprior = { A = 0.0, B = 0.0, H = 0.0 }",
    "optimizer.prior",
    "sum to 0",
    command="optimize --black-litterman",
)
cfg_case(
    "optimize-overlay-cost-budget-zero",
    'objective = "min-variance"',
    'objective = "hedge-overlay"',
    "beta band",
    "cost budget",
    command="optimize --cost-budget 0",
)

IDS = [c.id for c in CASES]
assert len(IDS) == len(set(IDS)), sorted({i for i in IDS if IDS.count(i) > 1})


# -- the harness -----------------------------------------------------------------------------------
SILENT_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)


HANG_S = 30  # one command on a few KB: anything near this is a hang


class Hang(BaseException):
    """Raised by the alarm: a BaseException, so the CLI's ``except Exception`` cannot eat it."""


def run_cli(capfd, argv: list[str]) -> tuple[int, str, str]:
    """Run the CLI in-process (failing after HANG_S seconds); stderr includes every warning
    the real command would show.
    """

    def alarm(signum, frame):
        raise Hang(f"no answer within {HANG_S} s: {argv}")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(HANG_S)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            rc = main(argv)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    out, err = capfd.readouterr()
    shown = [w for w in caught if not issubclass(w.category, SILENT_WARNINGS)]
    err += "".join(f"{w.filename}:{w.lineno}: {w.category.__name__}: {w.message}\n" for w in shown)
    return rc, out, err


def check_one_line(rc: int, out: str, err: str, must: tuple[str, ...], what: str) -> None:
    shown = f"{what}\nexit {rc}\nstderr: {err[:600]!r}\nstdout: {out[:300]!r}"
    assert "Traceback" not in out + err, shown
    assert rc == 2, shown
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, shown
    low = lines[0].lower()
    for s in must:
        assert s.lower() in low, f"{s!r} not in the message\n{shown}"


@pytest.fixture
def no_download(monkeypatch) -> list:
    """Replace the Yahoo downloader: a case that reaches it records the call (and fails)."""
    calls: list = []

    def refuse(tickers, start, end):
        calls.append(tickers)
        raise AssertionError("data fetch tried to download")

    monkeypatch.setattr("hedgedesk.core.data.yahoo._yf_download", refuse)
    return calls


@pytest.mark.parametrize("c", CASES, ids=IDS)
def test_bad_input(c: Case, world: Path, tmp_path: Path, capfd, no_download) -> None:
    """Exit 2, one stderr line naming what is wrong and what was expected, no traceback."""
    subs = {"{w}": str(world), "{t}": str(tmp_path), "{cfg}": str(world / "cfg.toml")}
    subs["{prices}"] = str(world / "prices.csv")

    def fill(text: str) -> str:
        for k, v in subs.items():
            text = text.replace(k, v)
        return text

    for name, content in c.files:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if callable(content):
            content(path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(fill(content.replace("@PRICES@", "{prices}")), encoding="utf-8")
    capfd.readouterr()  # what a setup printed (a sweep run into a ledger) is not the case's
    argv = [fill(a) for a in c.argv]
    rc, out, err = run_cli(capfd, argv)
    assert not no_download, f"downloaded: {no_download}"
    check_one_line(rc, out, err, c.must, " ".join(argv))


def test_campaign_size() -> None:
    """The campaign covers at least 220 distinct kinds of bad input."""
    assert len(CASES) >= 220


def test_a_top_level_usage_error_names_hedgedesk_once(capsys):
    from hedgedesk.tui.cli.main import main

    rc = main(["--bogus"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err == "hedgedesk: error: unrecognized arguments: --bogus (see hedgedesk --help)\n"

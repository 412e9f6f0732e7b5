"""Hypothesis fuzz of the files a user hands ``hedgedesk`` (issue 16): config files (the
campaign's valid desk, mutated: random values of random types at random keys, keys deleted or
invented, the text truncated or sprinkled with random bytes) and price files (CSV text in every
layout with random cells and rows, truncated, random bytes, gzipped). Each is run through the
CLI in-process (``config check``, ``risk``, ``data check``, ``beta``): the answer is exit 0, or
exit 2 with exactly one stderr line, never a traceback, never exit 1, never a hang.

Deterministic (``derandomize``) and small (a few KB a file), so CI runs the same examples.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import math
import re
import signal
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.tui.cli.test_bad_input import BASE_CONFIG, prices_text, run_cli

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
HANG_S = 20  # one command on a few KB: anything near this is a hang


class Hang(BaseException):
    """Raised by the alarm: a BaseException, so the CLI's ``except Exception`` cannot eat it."""


def run_guarded(capfd, argv: list[str]) -> tuple[int, str, str]:
    def alarm(signum, frame):
        raise Hang(f"no answer within {HANG_S} s: {argv}")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(HANG_S)
    try:
        return run_cli(capfd, argv)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def check_answer(rc: int, out: str, err: str, argv: list[str], content: bytes) -> None:
    """Exit 0, or exit 2 with one stderr line; no traceback, no exit 1."""
    shown = (
        f"argv {argv}\nexit {rc}\nstderr {err[:600]!r}\nstdout {out[:300]!r}\n"
        f"file ({len(content)} bytes) {content[:1500]!r}"
    )
    assert "Traceback" not in out + err, shown
    assert rc in (0, 2), shown
    if rc == 2:
        assert len([line for line in err.splitlines() if line.strip()]) == 1, shown


# -- a small TOML writer (no dependency): tables, arrays of tables, inline values ----------------
_BARE = re.compile(r"[A-Za-z0-9_-]+")


def _key(k: str) -> str:
    return k if _BARE.fullmatch(k) else json.dumps(k)


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        # JSON's escapes are TOML basic-string escapes; TOML also wants DEL escaped
        return json.dumps(v, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(v, dt.datetime | dt.date):
        return v.isoformat()
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(v)


def _is_aot(v) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def dump_toml(d: dict, prefix: tuple[str, ...] = ()) -> str:
    lines = [
        f"{_key(k)} = {_value(v)}"
        for k, v in d.items()
        if not isinstance(v, dict) and not _is_aot(v)
    ]
    for k, v in d.items():
        name = ".".join(_key(p) for p in (*prefix, k))
        if isinstance(v, dict):
            lines += ["", f"[{name}]", dump_toml(v, (*prefix, k))]
        elif _is_aot(v):
            for item in v:
                lines += ["", f"[[{name}]]", dump_toml(item, (*prefix, k))]
    return "\n".join(lines)


# -- config strategies --------------------------------------------------------------------------
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
TRICKY = st.sampled_from(
    [
        "A",
        "B",
        "H",
        "ZZZ",
        "ES",
        "",
        " ",
        "0.5:1.5:3",
        "1:0:0",
        "a:b:c",
        "2021-01-04",
        "2021-02-30",
        "9999-12-31",
        "local:0",
        "tls://x:1",
        1e308,
        -1e308,
        0,
        -1,
        1,
        2,
        0.5,
        -0.5,
        1e-300,
        10**18,
        -(10**18),
    ]
)
SCALAR = st.one_of(
    TRICKY,
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(),
    TEXT,
    st.dates(),
    st.datetimes(),
)
VALUE = st.one_of(
    SCALAR,
    st.lists(SCALAR, max_size=4),
    st.dictionaries(
        st.sampled_from(["A", "B", "H", "x", "underlying", "scale"]), SCALAR, max_size=3
    ),
)
NUDGE = st.one_of(
    TRICKY,
    st.floats(-2.0, 2.0),
    st.integers(-3, 300),
    st.sampled_from(["call", "put", "future", "option", "equity", "bsm", "black76", "ols", "ewma"]),
    st.lists(st.sampled_from(["A", "B", "H", "ZZZ"]), max_size=3),
    st.lists(st.integers(-1, 300), min_size=1, max_size=3),
    st.lists(st.floats(-1.0, 2.0), min_size=1, max_size=3),
)
BASE = tomllib.loads(BASE_CONFIG)


def _paths(node, prefix=()) -> list[tuple]:
    """Every key path in the parsed config (list items included)."""
    out = []
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for k, v in items:
        out.append((*prefix, k))
        if isinstance(v, dict | list):
            out += _paths(v, (*prefix, k))
    return out


def _mutate(doc, path: tuple, op: str, value) -> None:
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    last = path[-1]
    if op == "delete":
        del parent[last]
    elif op == "invent" and isinstance(parent, dict):
        parent[f"{last}_x"] = value
    else:
        parent[last] = value


@st.composite
def config_texts(draw) -> bytes:
    """The base desk with 1-3 mutations, then maybe text damage."""
    doc = tomllib.loads(BASE_CONFIG)
    for _ in range(draw(st.sampled_from([1, 1, 1, 2, 3]))):
        # leaves first: hypothesis favours the first choices, and a leaf's value reaches deeper
        paths = sorted(_paths(doc), key=len, reverse=True)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["set", "set", "set", "nudge", "nudge", "delete", "invent"]))
        if op == "nudge":  # a plausible value of the same kind: the deeper checks see it
            value = draw(NUDGE)
            op = "set"
        else:
            value = draw(VALUE)
        _mutate(doc, path, op, value)
    text = dump_toml(doc).encode("utf-8")
    damage = draw(st.sampled_from(["none"] * 9 + ["truncate", "bytes", "line"]))
    at = draw(st.integers(0, len(text)))
    if damage == "truncate":
        text = text[:at]
    elif damage == "bytes":
        text = text[:at] + draw(st.binary(min_size=1, max_size=16)) + text[at:]
    elif damage == "line":
        lines = text.split(b"\n")
        i = draw(st.integers(0, len(lines) - 1))
        lines[i] = draw(TEXT).encode("utf-8")
        text = b"\n".join(lines)
    return text


FACTORS = [0, -1, 1e-12, 1e-3, 0.5, 2, 10, 1e3, 1e6, 1e12, 1e100, -1e6]


@st.composite
def scaled_configs(draw) -> bytes:
    """The base desk with 1-3 of its numbers scaled (whole numbers stay whole): values of the
    right type, often extreme, that reach the risk computations.
    """
    doc = tomllib.loads(BASE_CONFIG)
    numeric = [
        p
        for p in _paths(doc)
        if isinstance(v := _at(doc, p), int | float) and not isinstance(v, bool)
    ]
    for path in draw(st.lists(st.sampled_from(numeric), min_size=1, max_size=3, unique=True)):
        old = _at(doc, path)
        new = old * draw(st.sampled_from(FACTORS))
        _mutate(doc, path, "set", round(new) if isinstance(old, int) and abs(new) < 2**62 else new)
    return dump_toml(doc).encode("utf-8")


def _at(doc, path: tuple):
    for k in path:
        doc = doc[k]
    return doc


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("fuzz")
    (d / "prices.csv").write_text(prices_text(), encoding="utf-8")
    rows = [line.split(",") for line in prices_text().splitlines()]
    (d / "hedge.csv").write_text("".join(f"{r[0]},{r[3]}\n" for r in rows), encoding="utf-8")
    return d


def _config_file(fuzz_dir: Path, text: bytes) -> Path:
    path = fuzz_dir / "c.toml"
    path.write_bytes(text.replace(b"@PRICES@", str(fuzz_dir / "prices.csv").encode()))
    return path


def test_the_writer_round_trips_the_base_config() -> None:
    """The fuzz's TOML writer writes the base desk back to the same document."""
    assert tomllib.loads(dump_toml(BASE)) == BASE


@FUZZ
@given(text=config_texts())
def test_fuzz_config_check(text: bytes, fuzz_dir: Path, capfd) -> None:
    path = _config_file(fuzz_dir, text)
    argv = ["config", "check", "--config", str(path)]
    check_answer(*run_guarded(capfd, argv), argv, path.read_bytes())


@FUZZ
@given(text=config_texts())
def test_fuzz_risk(text: bytes, fuzz_dir: Path, capfd) -> None:
    path = _config_file(fuzz_dir, text)
    argv = ["risk", "--config", str(path), "--json"]
    check_answer(*run_guarded(capfd, argv), argv, path.read_bytes())


@FUZZ
@given(text=scaled_configs())
def test_fuzz_risk_extreme_numbers(text: bytes, fuzz_dir: Path, capfd) -> None:
    path = _config_file(fuzz_dir, text)
    argv = ["risk", "--config", str(path), "--json"]
    check_answer(*run_guarded(capfd, argv), argv, path.read_bytes())


# -- price file strategies ----------------------------------------------------------------------
HEADERS = [
    ["Date", "A", "B"],
    ["date", "ticker", "close"],
    ["date", "ticker", "adj_close", "volume"],
    ["Date", "Open", "High", "Low", "Close", "Volume"],
    ["Date", "Adj_Close"],
    ["Price", "Adj Close", "Close", "Volume"],
]
CELL = st.one_of(
    st.sampled_from(
        ["", "nan", "-1", "0", "1e308", "inf", "abc", "1.5", "100", "A", "H", "B", "1,5", '"']
    ),
    st.floats(min_value=0.01, max_value=1e6).map(lambda x: f"{x:.4f}"),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=6),
)
DATE_CELL = st.one_of(
    st.dates(dt.date(1900, 1, 1), dt.date(9999, 12, 31)).map(str),
    st.sampled_from(["2021-02-30", "2021/01/04", "", "Date", "Ticker", "9999-12-31"]),
    st.text(max_size=10),
)


@st.composite
def price_texts(draw) -> tuple[str, bytes]:
    """(file name, bytes): a CSV in one of the layouts with random rows and cells, or a valid
    file damaged; sometimes gzipped (and maybe truncated).
    """
    kind = draw(st.sampled_from(["layout", "layout", "damaged"]))
    if kind == "layout":
        header = list(draw(st.sampled_from(HEADERS)))
        if draw(st.integers(0, 7)) == 0:
            header[draw(st.integers(0, len(header) - 1))] = draw(TEXT)
        lines = [",".join(header)]
        if header[0] == "Price":
            lines += [
                "Ticker," + ",".join(["A"] * (len(header) - 1)),
                "Date" + "," * (len(header) - 1),
            ]
        day = dt.date(2021, 1, 4)
        for _ in range(draw(st.integers(0, 30))):
            rare = draw(st.integers(0, 39)) == 0  # one row in 40 breaks something
            day += dt.timedelta(days=draw(st.integers(-1, 0)) if rare else draw(st.integers(1, 3)))
            first = draw(DATE_CELL) if rare and draw(st.booleans()) else str(day)
            n = len(header) - 1 + (draw(st.sampled_from([-1, 1])) if rare else 0)
            cells = []
            for j in range(max(n, 0)):
                if header[min(j + 1, len(header) - 1)] == "ticker" and draw(st.integers(0, 30)):
                    cells.append(draw(st.sampled_from(["A", "B"])))
                elif draw(st.integers(0, 60)):
                    cells.append(f"{draw(st.floats(1.0, 500.0)):.4f}")
                else:
                    cells.append(draw(CELL))
            lines.append(",".join([first, *cells]))
        raw = ("\n".join(lines) + draw(st.sampled_from(["\n", "", "\r\n"]))).encode("utf-8")
    else:
        raw = prices_text(draw(st.integers(2, 40))).encode()
        at = draw(st.integers(0, len(raw)))
        how = draw(st.sampled_from(["truncate", "bytes", "both"]))
        if how in ("bytes", "both"):
            raw = raw[:at] + draw(st.binary(min_size=1, max_size=12)) + raw[at:]
        if how in ("truncate", "both"):
            raw = raw[: draw(st.integers(0, len(raw)))]
    if draw(st.integers(0, 4)) == 0:
        packed = gzip.compress(raw, mtime=0)
        if draw(st.booleans()):
            packed = packed[: draw(st.integers(0, len(packed)))]
        return "A.csv.gz", packed
    return "A.csv", raw


@FUZZ
@given(item=price_texts())
def test_fuzz_data_check(item: tuple[str, bytes], fuzz_dir: Path, capfd) -> None:
    name, raw = item
    path = fuzz_dir / name
    path.write_bytes(raw)
    argv = ["data", "check", str(path)]
    try:
        check_answer(*run_guarded(capfd, argv), argv, raw)
    finally:
        path.unlink()


@FUZZ
@given(item=price_texts())
def test_fuzz_beta(item: tuple[str, bytes], fuzz_dir: Path, capfd) -> None:
    name, raw = item
    path = fuzz_dir / name
    path.write_bytes(raw)
    argv = ["beta", "--data", str(path), "--data", str(fuzz_dir / "hedge.csv")]
    argv += ["--asset", "A", "--benchmark", "H", "--json"]
    try:
        check_answer(*run_guarded(capfd, argv), argv, raw)
    finally:
        path.unlink()

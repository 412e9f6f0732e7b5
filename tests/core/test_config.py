"""The desk config: the demo loads, resolution order, relative paths, and every validation error
names the file, the dotted key, the offending value and what was expected.

Config variants are the demo text edited in place (``_edit``), written to tmp files. Expected
values are read from the same text with ``tomllib`` (an independent parser), so the tests follow
the demo desk when its numbers change.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from hedgedesk.core.config import (
    ConfigError,
    address_kind,
    check_tickers,
    load_config,
    parse_config,
    referenced_tickers,
    resolve_config_path,
    user_config_path,
)
from hedgedesk.core.demo import demo_config_path, demo_dir

REPO = Path(__file__).resolve().parents[2]


# -- helpers -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_text() -> str:
    return demo_config_path().read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def demo_raw(demo_text) -> dict:
    return tomllib.loads(demo_text)


def _table_spans(text: str, header: str) -> list[tuple[int, int]]:
    """(start, end) of each table whose header line is ``header`` (e.g. ``[[book.hedges]]``)."""
    heads = list(re.finditer(r"^\[.*$", text, re.M))
    spans = []
    for i, m in enumerate(heads):
        if m.group(0).split("#")[0].strip() == header:
            end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
            spans.append((m.start(), end))
    return spans


def _edit(
    text: str,
    header: str,
    index: int = 0,
    *,
    set: dict[str, str] | None = None,
    drop: tuple[str, ...] = (),
) -> str:
    """Set (TOML literal, added if absent) or drop keys in the ``index``-th ``header`` table."""
    spans = _table_spans(text, header)
    assert len(spans) > index, f"the demo config has no {header} number {index}"
    a, b = spans[index]
    body = text[a:b]
    for key in drop:
        body, n = re.subn(rf"^{re.escape(key)}\s*=\s*(\[[^\]]*\]|[^\n]*)\n", "", body, flags=re.M)
        assert n == 1, f"{header}[{index}] has no key {key}"
    for key, value in (set or {}).items():
        body, n = re.subn(
            rf"^{re.escape(key)}\s*=\s*(\[[^\]]*\]|[^\n]*)", f"{key} = {value}", body, flags=re.M
        )
        if n == 0:
            nl = body.index("\n") + 1
            body = body[:nl] + f"{key} = {value}\n" + body[nl:]
    return text[:a] + body + text[b:]


def _drop_table(text: str, header: str) -> str:
    spans = _table_spans(text, header)
    assert spans, f"the demo config has no {header}"
    a, b = spans[0]
    return text[:a] + text[b:]


def _leg(raw: dict, kind: str) -> int:
    """Index of the first hedge leg of instrument ``kind`` in the demo book."""
    legs = raw["book"]["hedges"]
    idx = [i for i, leg in enumerate(legs) if leg["instrument"] == kind]
    assert idx, f"the demo book has no {kind} leg"
    return idx[0]


def _write(tmp_path: Path, text: str, name: str = "desk.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- the demo desk -----------------------------------------------------------------------------
def test_demo_config_loads_with_values_from_the_file(demo_raw):
    cfg = load_config(demo_config_path())
    raw = demo_raw
    assert cfg.path == demo_config_path()
    d = raw["data"]
    assert cfg.data.source == d["source"]
    assert cfg.data.benchmark == d["benchmark"]
    assert cfg.data.universe == tuple(d["universe"])
    assert cfg.data.start == (dt.date.fromisoformat(d["start"]) if d["start"] else None)
    assert cfg.data.end == (dt.date.fromisoformat(d["end"]) if d["end"] else None)
    assert cfg.risk.rate == pytest.approx(raw["risk"]["rate"])
    assert cfg.risk.beta_window == raw["risk"]["beta_window"]
    assert cfg.risk.var_confidence == pytest.approx(raw["risk"]["var_confidence"])
    assert cfg.targets.beta == pytest.approx(raw["targets"]["beta"])
    assert cfg.targets.beta_band == pytest.approx(raw["targets"]["beta_band"])
    assert cfg.book.name == raw["book"]["name"]
    assert cfg.book.cash == pytest.approx(raw["book"]["cash"])
    assert [(h.ticker, h.quantity, h.cost_basis) for h in cfg.book.holdings] == [
        (h["ticker"], h["quantity"], h.get("cost_basis")) for h in raw["book"]["holdings"]
    ]
    assert len(cfg.book.hedges) == len(raw["book"]["hedges"])
    for leg, r in zip(cfg.book.hedges, raw["book"]["hedges"], strict=True):
        assert (leg.instrument, leg.underlying, leg.quantity) == (
            r["instrument"],
            r["underlying"],
            r["quantity"],
        )
        assert leg.name == r["name"]
        if r["instrument"] == "option":
            assert leg.strike == pytest.approx(r["strike"])
            assert leg.right == r["right"]
            assert leg.expiry == dt.date.fromisoformat(r["expiry"])
            assert leg.volatility == pytest.approx(r["volatility"])
            assert leg.multiplier == 100  # CONVENTIONS: US equity/index options
            assert leg.model == r.get("model", "bsm")
        if r.get("contract") == "ES":
            assert leg.multiplier == 50  # CONVENTIONS: ES 50 x index
    groups = raw["optimizer"]["groups"]
    assert [(g.name, g.tickers, g.min, g.max) for g in cfg.optimizer.groups] == [
        (g["name"], tuple(g["tickers"]), g["min"], g["max"]) for g in groups
    ]
    s = raw["sweep"]
    assert cfg.sweep.long == tuple(s["long"])
    assert cfg.sweep.rebalance == tuple(s["rebalance"])
    assert cfg.sweep.window == tuple(s["window"])
    assert cfg.sweep.cost == pytest.approx(tuple(s["cost"]))
    if isinstance(s["exposure"], str):
        a, b, n = s["exposure"].split(":")
        assert cfg.sweep.exposure == pytest.approx(
            tuple(np.linspace(float(a), float(b), int(n))), abs=1e-12
        )
    else:
        assert cfg.sweep.exposure == pytest.approx(tuple(s["exposure"]))


def test_sweep_keep_and_limits(demo_text, tmp_path):
    cfg = load_config(_write(tmp_path, demo_text))
    assert (cfg.sweep.keep, cfg.sweep.limits) == ("best", {})  # the demo sets neither
    text = _edit(demo_text, "[sweep]", set={"keep": '"all"'})
    text += "\n[sweep.limits]\nconfigurations = 100000000\ndisk_gb = 16\n"
    cfg = load_config(_write(tmp_path, text, "limits.toml"))
    assert cfg.sweep.keep == "all"
    assert cfg.sweep.limits == {"configurations": 1e8, "disk_gb": 16.0}


def test_demo_exposure_linspace_expands_to_eleven_values(demo_text, tmp_path):
    text = _edit(demo_text, "[sweep]", set={"exposure": '"0.5:1.5:11"'})
    cfg = load_config(_write(tmp_path, text))
    assert len(cfg.sweep.exposure) == 11
    assert all(isinstance(v, float) for v in cfg.sweep.exposure)
    np.testing.assert_allclose(cfg.sweep.exposure, np.linspace(0.5, 1.5, 11), rtol=0, atol=1e-12)
    assert cfg.sweep.exposure[0] == 0.5 and cfg.sweep.exposure[-1] == 1.5
    # the decimals written, exactly (0.5 + 7 * 0.1 is 1.2000000000000002), as from a flag
    assert cfg.sweep.exposure == tuple(round(0.5 + 0.1 * i, 1) for i in range(11))
    assert cfg.sweep.exposure[7] == 1.2


@pytest.mark.parametrize(
    "literal, expected",
    [
        ('"2:2:1"', [2.0]),
        ('"0:1:5"', [0.0, 0.25, 0.5, 0.75, 1.0]),
        ('"1:0:3"', [1.0, 0.5, 0.0]),
        ("[1, 2.5]", [1.0, 2.5]),
    ],
)
def test_number_grid_forms(demo_text, tmp_path, literal, expected):
    cfg = load_config(_write(tmp_path, _edit(demo_text, "[sweep]", set={"hedge_ratio": literal})))
    assert list(cfg.sweep.hedge_ratio) == pytest.approx(expected, abs=1e-12)
    assert all(isinstance(v, float) for v in cfg.sweep.hedge_ratio)


def test_optional_sections_take_documented_defaults(demo_text, tmp_path):
    text = _drop_table(demo_text, "[risk]")
    cfg = load_config(_write(tmp_path, text))
    assert (cfg.risk.rf, cfg.risk.rate, cfg.risk.beta_window, cfg.risk.var_confidence) == (
        0.0,
        0.0,
        252,
        0.95,
    )


def test_empty_start_means_all_history(demo_text, tmp_path):
    cfg = load_config(
        _write(tmp_path, _edit(demo_text, "[data]", set={"start": '""', "end": '""'}))
    )
    assert cfg.data.start is None and cfg.data.end is None


def test_empty_required_dates_are_config_errors(demo_text, demo_raw, tmp_path):
    """An empty string leaves an optional date unset, but a required one (an option's expiry,
    a replay's dates) is an error naming its key; it used to load as None and fail later with
    a TypeError when the book was valued or the scenario parsed.
    """
    i = _leg(demo_raw, "option")
    expiry = _edit(demo_text, "[[book.hedges]]", i, set={"expiry": '""'})
    with pytest.raises(ConfigError) as info:
        parse_config(expiry, Path("desk.toml"))
    assert info.value.key == f"book.hedges[{i}].expiry"
    assert "a date YYYY-MM-DD" in info.value.problem
    replay = demo_text + '\n[[scenarios]]\nname = "r"\nreplay = ["", "2020-03-01"]\n'
    with pytest.raises(ConfigError) as info:
        parse_config(replay, Path("desk.toml"))
    assert info.value.key == f"scenarios[{len(demo_raw['scenarios'])}].replay.start"
    assert "a date YYYY-MM-DD" in info.value.problem


def test_toml_date_literals_are_accepted(demo_text, tmp_path):
    text = _edit(demo_text, "[data]", set={"start": "2016-03-01", "end": "2019-04-30"})
    cfg = load_config(_write(tmp_path, text))
    assert (cfg.data.start, cfg.data.end) == (dt.date(2016, 3, 1), dt.date(2019, 4, 30))


# -- locating the config -----------------------------------------------------------------------
def test_resolution_explicit_beats_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HEDGEDESK_CONFIG", str(tmp_path / "env.toml"))
    assert resolve_config_path(str(tmp_path / "cli.toml")) == tmp_path / "cli.toml"


def test_resolution_environment_beats_user_file(tmp_path, monkeypatch):
    user = user_config_path()
    user.parent.mkdir(parents=True)
    user.write_text("", encoding="utf-8")
    monkeypatch.setenv("HEDGEDESK_CONFIG", str(tmp_path / "env.toml"))
    assert resolve_config_path() == tmp_path / "env.toml"
    assert resolve_config_path(None) == tmp_path / "env.toml"


def test_resolution_user_file_when_present_else_demo(_isolated_home):
    user = _isolated_home / "config" / "hedgedesk" / "config.toml"
    assert user_config_path() == user
    assert resolve_config_path() == demo_config_path()  # no user file yet
    user.parent.mkdir(parents=True)
    user.write_text("", encoding="utf-8")
    assert resolve_config_path() == user


def test_resolution_empty_values_are_ignored(monkeypatch):
    monkeypatch.setenv("HEDGEDESK_CONFIG", "")
    assert resolve_config_path("") == demo_config_path()


def test_resolution_expands_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_config_path("~/desk.toml") == tmp_path / "desk.toml"
    monkeypatch.setenv("HEDGEDESK_CONFIG", "~/env.toml")
    assert resolve_config_path() == tmp_path / "env.toml"


def test_user_config_default_location(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert user_config_path() == tmp_path / ".config" / "hedgedesk" / "config.toml"


def test_demo_config_is_the_packaged_file():
    path = resolve_config_path()
    assert path.is_file()
    assert path.resolve().parent in (demo_dir().resolve(), REPO)
    assert path.name == "config.toml"


# -- relative data paths -----------------------------------------------------------------------
def test_relative_paths_resolve_against_the_config_folder(demo_text, tmp_path, monkeypatch):
    desk = tmp_path / "desk"
    desk.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    absolute = tmp_path / "abs" / "x.csv"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    text = _edit(
        demo_text,
        "[data]",
        set={
            "source": '"files"',
            "paths": f'["prices", "../shared/more.csv", "{absolute.as_posix()}", "~/p.csv"]',
        },
    )
    path = _write(desk, text)
    monkeypatch.chdir(elsewhere)  # not relative to the working directory
    cfg = load_config(path)
    assert cfg.data.paths == (
        (desk / "prices").resolve(),
        (tmp_path / "shared" / "more.csv").resolve(),
        absolute,
        tmp_path / "home" / "p.csv",
    )


def test_relative_files_source_loads_end_to_end(demo_text, tmp_path, monkeypatch):
    from hedgedesk.core.data.sources import load_market
    from hedgedesk.core.demo import load_demo

    prices = tmp_path / "desk" / "prices"
    prices.mkdir(parents=True)
    for f in demo_dir().glob("*.csv.gz"):
        shutil.copy(f, prices / f.name)
    text = _edit(demo_text, "[data]", set={"source": '"files"', "paths": '["prices"]'})
    path = _write(tmp_path / "desk", text)
    monkeypatch.chdir(tmp_path)
    cfg = load_config(path)
    market = load_market(cfg)
    assert sorted(market.tickers) == sorted(load_demo().tickers)


# -- validation errors -------------------------------------------------------------------------
@dataclass
class Case:
    text: str
    key: str
    value: str | None  # the offending value as quoted; None when absent or it is the key
    expected: tuple[str, ...]  # what was expected, as the message says it


Builder = Callable[[str, dict], Case]


def _syntax(text, raw):
    line = text.splitlines().index("[targets]") + 1
    return Case(
        text.replace("[targets]", "[targets", 1), "(syntax)", f"line {line}", ("not valid TOML",)
    )


def _opt_missing_strike(text, raw):
    i = _leg(raw, "option")
    return Case(
        _edit(text, "[[book.hedges]]", i, drop=("strike",)),
        f"book.hedges[{i}].strike",
        None,
        ("missing required key",),
    )


def _future_with_strike(text, raw):
    i = _leg(raw, "future")
    return Case(
        _edit(text, "[[book.hedges]]", i, set={"strike": "4000"}),
        f"book.hedges[{i}].strike",
        "4000",
        ("no option terms on a future leg",),
    )


def _future_fractional(text, raw):
    i = _leg(raw, "future")
    return Case(
        _edit(text, "[[book.hedges]]", i, set={"quantity": "-2.5"}),
        f"book.hedges[{i}].quantity",
        "-2.5",
        ("a whole number of contracts",),
    )


def _option_fractional(text, raw):
    i = _leg(raw, "option")
    return Case(
        _edit(text, "[[book.hedges]]", i, set={"quantity": "1.5"}),
        f"book.hedges[{i}].quantity",
        "1.5",
        ("a whole number of contracts",),
    )


def _unknown_instrument(text, raw):
    i = _leg(raw, "future")
    return Case(
        _edit(text, "[[book.hedges]]", i, set={"instrument": '"swap"'}),
        f"book.hedges[{i}].instrument",
        "'swap'",
        ("one of", "equity", "future", "option"),
    )


def _unknown_contract(text, raw):
    i = _leg(raw, "future")
    return Case(
        _edit(text, "[[book.hedges]]", i, set={"contract": '"ZZ"'}),
        f"book.hedges[{i}].contract",
        "'ZZ'",
        ("one of", "ES", "NQ", "MES"),
    )


def _future_without_contract(text, raw):
    i = _leg(raw, "future")
    return Case(
        _edit(text, "[[book.hedges]]", i, drop=("contract",)),
        f"book.hedges[{i}].contract",
        "None",
        ("a futures code", "explicit multiplier"),
    )


def _contract_on_option(text, raw):
    i = _leg(raw, "option")
    return Case(
        _edit(text, "[[book.hedges]]", i, set={"contract": '"ES"'}),
        f"book.hedges[{i}].contract",
        "'ES'",
        ("no contract code on a non-futures leg",),
    )


def _leg_typo(text, raw):
    i = _leg(raw, "option")
    return Case(
        _edit(text, "[[book.hedges]]", i, set={"strik": "100"}),
        f"book.hedges[{i}].strik",
        None,
        ("unknown key", "did you mean 'strike'"),
    )


def _bad_expiry(text, raw):
    i = _leg(raw, "option")
    return Case(
        _edit(text, "[[book.hedges]]", i, set={"expiry": '"next friday"'}),
        f"book.hedges[{i}].expiry",
        "'next friday'",
        ("a date YYYY-MM-DD",),
    )


def _bad_right(text, raw):
    i = _leg(raw, "option")
    return Case(
        _edit(text, "[[book.hedges]]", i, set={"right": '"straddle"'}),
        f"book.hedges[{i}].right",
        "'straddle'",
        ("one of call, put",),
    )


def _duplicate_holding(text, raw):
    first = raw["book"]["holdings"][0]["ticker"]
    return Case(
        _edit(text, "[[book.holdings]]", 1, set={"ticker": f'"{first}"'}),
        "book.holdings[1].ticker",
        repr(first),
        ("each ticker once",),
    )


def _holding_zero(text, raw):
    return Case(
        _edit(text, "[[book.holdings]]", 2, set={"quantity": "0"}),
        "book.holdings[2].quantity",
        "0",
        ("a non-zero number",),
    )


def _group_min_gt_max(text, raw):
    return Case(
        _edit(text, "[[optimizer.groups]]", 0, set={"min": "0.5", "max": "0.4"}),
        "optimizer.groups[0].min",
        "0.5",
        ("a number <= max (0.4)",),
    )


def _weights_min_gt_max(text, raw):
    return Case(
        _edit(text, "[optimizer]", set={"min_weight": "0.3", "max_weight": "0.2"}),
        "optimizer.min_weight",
        "0.3",
        ("a number <= max_weight (0.2)",),
    )


CASES: dict[str, Builder] = {
    "toml-syntax": _syntax,
    "unknown-key-did-you-mean": lambda t, r: Case(
        _edit(t, "[risk]", set={"beta_windw": "252"}),
        "risk.beta_windw",
        None,
        ("unknown key", "did you mean 'beta_window'?"),
    ),
    "unknown-key-no-close-match": lambda t, r: Case(
        _edit(t, "[targets]", set={"zzzzzz": "1"}),
        "targets.zzzzzz",
        None,
        ("unknown key", "known keys: beta, beta_band"),
    ),
    "unknown-section-did-you-mean": lambda t, r: Case(
        t.replace("[optimizer]\n", "[optimiser]\n", 1),
        "optimiser",
        None,
        ("unknown key", "did you mean 'optimizer'?"),
    ),
    "unknown-leg-key": _leg_typo,
    "missing-section": lambda t, r: Case(
        _drop_table(t, "[targets]"), "targets", None, ("missing required key",)
    ),
    "missing-key": lambda t, r: Case(
        _edit(t, "[data]", drop=("benchmark",)), "data.benchmark", None, ("missing required key",)
    ),
    # issue 17: [data] resample and yields
    "data-resample-daily": lambda t, r: Case(
        _edit(t, "[data]", set={"resample": '"daily"'}),
        "data.resample",
        "'daily'",
        ("weekly or monthly",),
    ),
    "data-yields-zero-maturity": lambda t, r: Case(
        _edit(t, "[data]", set={"yields": "{ AAA = 0 }"}), "data.yields.AAA", "0", ("> 0",)
    ),
    "data-yields-long-maturity": lambda t, r: Case(
        _edit(t, "[data]", set={"yields": "{ AAA = 101 }"}), "data.yields.AAA", "101", ("<= 100",)
    ),
    "data-yields-text": lambda t, r: Case(
        _edit(t, "[data]", set={"yields": '{ AAA = "ten" }'}),
        "data.yields.AAA",
        "'ten'",
        ("a number",),
    ),
    "data-yields-not-a-table": lambda t, r: Case(
        _edit(t, "[data]", set={"yields": '["AAA"]'}), "data.yields", None, ("expected a table",)
    ),
    "missing-target-beta": lambda t, r: Case(
        _edit(t, "[targets]", drop=("beta",)), "targets.beta", None, ("missing required key",)
    ),
    "wrong-type-integer": lambda t, r: Case(
        _edit(t, "[risk]", set={"beta_window": '"252"'}),
        "risk.beta_window",
        "'252'",
        ("a whole number",),
    ),
    "wrong-type-number": lambda t, r: Case(
        _edit(t, "[book]", set={"cash": '"lots"'}), "book.cash", "'lots'", ("a number",)
    ),
    "wrong-type-bool": lambda t, r: Case(
        _edit(t, "[optimizer]", set={"long_only": '"yes"'}),
        "optimizer.long_only",
        "'yes'",
        ("true or false",),
    ),
    "wrong-type-strings": lambda t, r: Case(
        _edit(t, "[data]", set={"universe": '"AAPL"'}),
        "data.universe",
        "'AAPL'",
        ("an array of strings",),
    ),
    "wrong-type-table": lambda t, r: Case(
        "risk = 5\n" + _drop_table(t, "[risk]"), "risk", "5", ("a table",)
    ),
    "out-of-range-high": lambda t, r: Case(
        _edit(t, "[risk]", set={"var_confidence": "1.5"}),
        "risk.var_confidence",
        "1.5",
        ("a number <= 0.9999",),
    ),
    "out-of-range-open-low": lambda t, r: Case(
        _edit(t, "[targets]", set={"beta_band": "0"}), "targets.beta_band", "0", ("a number > 0",)
    ),
    "out-of-range-integer": lambda t, r: Case(
        _edit(t, "[risk]", set={"beta_window": "2"}), "risk.beta_window", "2", ("a number >= 3",)
    ),
    "out-of-range-in-array": lambda t, r: Case(
        _edit(t, "[sweep]", set={"cost": "[0.0, 0.5]"}), "sweep.cost", "0.5", ("a number <= 0.1",)
    ),
    "bad-date": lambda t, r: Case(
        _edit(t, "[data]", set={"start": '"2015-13-01"'}),
        "data.start",
        "'2015-13-01'",
        ("a date YYYY-MM-DD",),
    ),
    "bad-expiry": _bad_expiry,
    "start-after-end": lambda t, r: Case(
        _edit(t, "[data]", set={"start": '"2020-06-01"', "end": '"2020-01-01"'}),
        "data.end",
        "'2020-01-01'",
        ("a date on or after start (2020-06-01)",),
    ),
    "unknown-source": lambda t, r: Case(
        _edit(t, "[data]", set={"source": '"bloomberg"'}),
        "data.source",
        "'bloomberg'",
        ("one of demo, files, yahoo",),
    ),
    "files-without-paths": lambda t, r: Case(
        _edit(t, "[data]", set={"source": '"files"', "paths": "[]"}),
        "data.paths",
        "[]",
        ('at least one file or folder when source = "files"',),
    ),
    "yahoo-without-tickers": lambda t, r: Case(
        _edit(t, "[data]", set={"source": '"yahoo"', "tickers": "[]"}),
        "data.tickers",
        "[]",
        ('the tickers to download when source = "yahoo"',),
    ),
    "unknown-instrument": _unknown_instrument,
    "unknown-futures-contract": _unknown_contract,
    "future-without-contract": _future_without_contract,
    "contract-on-option": _contract_on_option,
    "option-missing-strike": _opt_missing_strike,
    "option-terms-on-future": _future_with_strike,
    "bad-option-right": _bad_right,
    "non-whole-future-contracts": _future_fractional,
    "non-whole-option-contracts": _option_fractional,
    "duplicate-holding": _duplicate_holding,
    "zero-holding": _holding_zero,
    "group-min-gt-max": _group_min_gt_max,
    "min-weight-gt-max-weight": _weights_min_gt_max,
    "bad-linspace-two-parts": lambda t, r: Case(
        _edit(t, "[sweep]", set={"exposure": '"0.5:1.5"'}),
        "sweep.exposure",
        "'0.5:1.5'",
        ("'start:stop:count'",),
    ),
    "bad-linspace-four-parts": lambda t, r: Case(
        _edit(t, "[sweep]", set={"exposure": '"0.5:1.5:3:4"'}),
        "sweep.exposure",
        "'0.5:1.5:3:4'",
        ("'start:stop:count'",),
    ),
    "bad-linspace-zero-count": lambda t, r: Case(
        _edit(t, "[sweep]", set={"hedge_ratio": '"0.5:1:0"'}),
        "sweep.hedge_ratio",
        "'0.5:1:0'",
        ("'start:stop:count'",),
    ),
    "bad-linspace-not-numbers": lambda t, r: Case(
        _edit(t, "[sweep]", set={"exposure": '"a:b:3"'}),
        "sweep.exposure",
        "'a:b:3'",
        ("'start:stop:count'",),
    ),
    "linspace-out-of-range": lambda t, r: Case(
        _edit(t, "[sweep]", set={"exposure": '"-1:1:3"'}),
        "sweep.exposure",
        "-1.0",
        ("a number > 0",),
    ),
    "linspace-for-integers": lambda t, r: Case(
        _edit(t, "[sweep]", set={"window": '"20:60:3"'}),
        "sweep.window",
        "'20:60:3'",
        ("a non-empty array of whole numbers",),
    ),
    "non-integer-in-integer-array": lambda t, r: Case(
        _edit(t, "[sweep]", set={"window": "[20, 60.5]"}),
        "sweep.window",
        "60.5",
        ("each of whole numbers",),
    ),
    "empty-array": lambda t, r: Case(
        _edit(t, "[sweep]", set={"rebalance": "[]"}),
        "sweep.rebalance",
        "[]",
        ("a non-empty array of whole numbers",),
    ),
    "bad-estimator": lambda t, r: Case(
        _edit(t, "[sweep]", set={"estimator": '["ols", "garch"]'}),
        "sweep.estimator",
        "'garch'",
        ("each one of ols, ewma",),
    ),
    "empty-ticker": lambda t, r: Case(
        _edit(t, "[sweep]", set={"hedge": '" "'}), "sweep.hedge", "' '", ("a ticker symbol",)
    ),
    "linspace-count-over-the-axis-cap": lambda t, r: Case(
        _edit(t, "[sweep]", set={"exposure": '"0.1:2:1000000000"'}),
        "sweep.exposure",
        "'0.1:2:1000000000'",
        ("count 1..10000",),
    ),
    "bad-sweep-keep": lambda t, r: Case(
        _edit(t, "[sweep]", set={"keep": '"some"'}), "sweep.keep", "'some'", ("one of best, all",)
    ),
    "sweep-limit-not-positive": lambda t, r: Case(
        t + "\n[sweep.limits]\nseconds = 0\n", "sweep.limits.seconds", "0", ("a number > 0",)
    ),
    "sweep-limit-not-a-number": lambda t, r: Case(
        t + '\n[sweep.limits]\nmemory_gb = "2"\n', "sweep.limits.memory_gb", "'2'", ("a number",)
    ),
    "sweep-limit-unknown-key": lambda t, r: Case(
        t + "\n[sweep.limits]\nminutes = 5\n", "sweep.limits.minutes", None, ("unknown key",)
    ),
    # past any real book: values that overflowed the NAV to NaN or printed as real money
    "absurd-holding-quantity": lambda t, r: Case(
        _edit(t, "[[book.holdings]]", 0, set={"quantity": "1e308"}),
        "book.holdings[0].quantity",
        "1e+308",
        ("a number <= 1e+09",),
    ),
    "absurd-short-quantity": lambda t, r: Case(
        _edit(t, "[[book.holdings]]", 0, set={"quantity": "-2e9"}),
        "book.holdings[0].quantity",
        "-2000000000.0",
        ("a number >= -1e+09",),
    ),
    "absurd-cost-basis": lambda t, r: Case(
        _edit(t, "[[book.holdings]]", 0, set={"cost_basis": "1e300"}),
        "book.holdings[0].cost_basis",
        "1e+300",
        ("a number <= 1e+09",),
    ),
    "absurd-contracts": lambda t, r: Case(
        _edit(t, "[[book.hedges]]", _leg(r, "future"), set={"quantity": "-1e15"}),
        f"book.hedges[{_leg(r, 'future')}].quantity",
        None,
        ("a number >= -1e+09",),
    ),
    "absurd-strike": lambda t, r: Case(
        _edit(t, "[[book.hedges]]", _leg(r, "option"), set={"strike": "1e12"}),
        f"book.hedges[{_leg(r, 'option')}].strike",
        None,
        ("a number <= 1e+09",),
    ),
    "expiry-9999-12-31": lambda t, r: Case(
        _edit(t, "[[book.hedges]]", _leg(r, "option"), set={"expiry": '"9999-12-31"'}),
        f"book.hedges[{_leg(r, 'option')}].expiry",
        "9999-12-31",
        ("a date between 1800-01-01 and 2199-12-31",),
    ),
    "absurd-multiplier": lambda t, r: Case(
        _edit(t, "[[book.hedges]]", _leg(r, "future"), set={"multiplier": "1e7"}),
        f"book.hedges[{_leg(r, 'future')}].multiplier",
        None,
        ("a number <= 1e+06",),
    ),
}


@pytest.mark.parametrize("case_id", list(CASES))
def test_validation_error_names_file_key_value_and_expectation(
    case_id, demo_text, demo_raw, tmp_path
):
    case = CASES[case_id](demo_text, demo_raw)
    assert case.text != demo_text
    path = _write(tmp_path, case.text, f"{case_id}.toml")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    err = info.value
    msg = str(err)
    assert err.file == str(path)
    assert err.key == case.key
    assert msg.startswith(f"{path}: {case.key}: "), msg
    if case.value is not None:
        assert case.value in err.problem, msg
    for part in case.expected:
        assert part in err.problem, msg
    assert "\n" not in msg  # one line for the CLI


@pytest.mark.parametrize(
    "case_id", ["files-without-paths", "option-missing-strike", "bad-linspace-two-parts"]
)
def test_parse_config_reports_the_given_path(case_id, demo_text, demo_raw):
    case = CASES[case_id](demo_text, demo_raw)
    with pytest.raises(ConfigError, match=re.escape(f"where/desk.toml: {case.key}: ")):
        parse_config(case.text, Path("where/desk.toml"))


def test_missing_file_is_a_config_error(tmp_path):
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.file == str(path)
    assert "not found" in str(info.value)


def test_a_byte_order_mark_is_read_past(tmp_path, demo_text):
    path = tmp_path / "desk.toml"
    path.write_bytes(b"\xef\xbb\xbf" + demo_text.encode("utf-8"))
    assert load_config(path).book == load_config(demo_config_path()).book


def test_a_config_over_the_size_limit_is_refused_before_parsing(tmp_path, monkeypatch):
    monkeypatch.setattr("hedgedesk.core.config.CONFIG_MAX_BYTES", 1000)
    monkeypatch.setattr("tomllib.loads", lambda text: pytest.fail("parsed"))
    path = _write(tmp_path, "#" * 5000)
    with pytest.raises(ConfigError, match=r"desk\.toml: \(file\): is 5000 bytes, over the 1000"):
        load_config(path)


@pytest.mark.parametrize("device", ["/dev/zero", "fifo"])
def test_a_device_or_a_pipe_as_config_is_refused_not_read_forever(tmp_path, device):
    path = Path(device)
    if device == "fifo":
        path = tmp_path / "desk.toml"
        os.mkfifo(path)
    with pytest.raises(ConfigError, match="is not a regular file"):
        load_config(path)


def test_unreadable_file_is_a_config_error(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes('[data]\nbenchmark = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match=re.escape(str(path))):
        load_config(path)


# Non-finite numbers pass the range checks today (see the report): each should be rejected as
# an out-of-range value naming the key, like any other bad number.
NONFINITE = {
    "nan-target-beta": ("[targets]", 0, "beta", "nan", "targets.beta"),
    "inf-cash": ("[book]", 0, "cash", "inf", "book.cash"),
    "nan-linspace": ("[sweep]", 0, "exposure", '"nan:1.5:11"', "sweep.exposure"),
    "nan-in-array": ("[sweep]", 0, "cost", "[nan]", "sweep.cost"),
}


@pytest.mark.parametrize("case_id", list(NONFINITE))
def test_non_finite_numbers_are_rejected(case_id, demo_text, tmp_path):
    header, index, key, literal, dotted = NONFINITE[case_id]
    path = _write(tmp_path, _edit(demo_text, header, index, set={key: literal}))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == dotted


@pytest.mark.parametrize("literal", ["inf", "nan"])
def test_non_finite_contract_quantity_is_a_config_error(literal, demo_text, demo_raw, tmp_path):
    i = _leg(demo_raw, "future")
    path = _write(tmp_path, _edit(demo_text, "[[book.hedges]]", i, set={"quantity": literal}))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == f"book.hedges[{i}].quantity"


# -- tickers against the data ------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_tickers() -> set[str]:
    from hedgedesk.core.demo import load_demo

    return set(load_demo().tickers)


def test_demo_config_tickers_are_all_in_the_demo_data(demo_tickers):
    cfg = load_config(demo_config_path())
    check_tickers(cfg, demo_tickers)  # no error
    named = {t for _, t in referenced_tickers(cfg)}
    assert named <= demo_tickers


def _ticker_cases(raw: dict) -> dict[str, tuple[str, int, dict[str, str], str]]:
    opt = _leg(raw, "option")
    universe = list(raw["data"]["universe"])
    k = len(universe) // 2
    universe[k] = "NOPE"
    long = list(raw["sweep"]["long"])
    long[-1] = "NOPE"
    group = [*raw["optimizer"]["groups"][1]["tickers"], "NOPE"]
    q = ", ".join(f'"{t}"' for t in universe)
    return {
        "benchmark": ("[data]", 0, {"benchmark": '"NOPE"'}, "data.benchmark"),
        "universe": ("[data]", 0, {"universe": f"[{q}]"}, f"data.universe[{k}]"),
        "holding": ("[[book.holdings]]", 2, {"ticker": '"NOPE"'}, "book.holdings[2].ticker"),
        "hedge-underlying": (
            "[[book.hedges]]",
            opt,
            {"underlying": '"NOPE"'},
            f"book.hedges[{opt}].underlying",
        ),
        "group": (
            "[[optimizer.groups]]",
            1,
            {"tickers": "[" + ", ".join(f'"{t}"' for t in group) + "]"},
            "optimizer.groups[1].tickers",
        ),
        "sweep-long": (
            "[sweep]",
            0,
            {"long": "[" + ", ".join(f'"{t}"' for t in long) + "]"},
            f"sweep.long[{len(long) - 1}]",
        ),
        "sweep-hedge": ("[sweep]", 0, {"hedge": '"NOPE"'}, "sweep.hedge"),
    }


@pytest.mark.parametrize(
    "case_id",
    ["benchmark", "universe", "holding", "hedge-underlying", "group", "sweep-long", "sweep-hedge"],
)
def test_check_tickers_names_the_key_of_the_unknown_ticker(
    case_id, demo_text, demo_raw, demo_tickers, tmp_path
):
    header, index, edits, key = _ticker_cases(demo_raw)[case_id]
    path = _write(tmp_path, _edit(demo_text, header, index, set=edits))
    cfg = load_config(path)  # valid on its own: tickers are checked against data separately
    with pytest.raises(ConfigError) as info:
        check_tickers(cfg, demo_tickers)
    err = info.value
    assert err.file == str(path)
    assert err.key == key
    assert "'NOPE'" in err.problem
    assert "expected a ticker in the market data" in err.problem


def test_sweep_section_is_optional(demo_text, tmp_path):
    head = demo_text.split("[sweep]")[0]
    cfg = load_config(_write(tmp_path, head))
    assert cfg.sweep is None
    check_tickers(cfg, {t for _, t in referenced_tickers(cfg)})


@pytest.mark.parametrize("literal", ['"0:1:10001"', '"0:1:0"', '"0:1:1"'])
def test_grid_axis_size_is_bounded(demo_text, tmp_path, literal):
    """Counts 1..10000; a count of 1 only when start = stop (``0:1:1`` is not one value)."""
    path = _write(tmp_path, _edit(demo_text, "[sweep]", 0, set={"exposure": literal}))
    with pytest.raises(ConfigError, match=r"count 1\.\.10000") as info:
        load_config(path)
    assert info.value.key == "sweep.exposure"


@pytest.mark.parametrize(
    ("key", "literal", "repeat"),
    [
        ("rebalance", "[5, 5, 21]", "5"),
        ("exposure", "[1, 1.0]", "1.0"),
        ("estimator", '["ols", "ols"]', "'ols'"),
        ("long", '["AAPL", "MSFT", "AAPL"]', "'AAPL'"),
    ],
)
def test_a_grid_axis_lists_each_value_once(demo_text, tmp_path, key, literal, repeat):
    """Refused by the loader naming the config key (the sweep would refuse it later, naming a
    flag the user never typed).
    """
    path = _write(tmp_path, _edit(demo_text, "[sweep]", 0, set={key: literal}))
    with pytest.raises(ConfigError, match=rf"got {repeat}, expected each value once") as info:
        load_config(path)
    assert info.value.key == f"sweep.{key}"


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("local:4", "local"),
        ("tcp://h:8786", "tcp"),
        ("tls://h:8786", "tls"),
        ("local:0", None),
        ("local:x", None),
        ("http://h:1", None),
        ("h:8786", None),
    ],
)
def test_cluster_address_rule(address, kind):
    assert address_kind(address) == kind


def test_the_config_loads_without_the_sweep_engine():
    """Market data imports the config; the config must not pull in the sweeps (the address
    rule and the levels parser live where both can use them).
    """
    import subprocess
    import sys

    code = (
        "import sys, hedgedesk.core.config as c, hedgedesk.core.data.sources\n"
        "c.load_config(c.resolve_config_path())\n"
        "print(sorted(m for m in sys.modules if m.startswith('hedgedesk.core.sweep')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_config_path_that_is_a_folder(tmp_path):
    with pytest.raises(ConfigError, match="is a folder"):
        load_config(tmp_path)


def test_hedge_leg_names_are_unique(demo_text, demo_raw, tmp_path):
    name = demo_raw["book"]["hedges"][0]["name"]
    path = _write(tmp_path, _edit(demo_text, "[[book.hedges]]", 1, set={"name": f'"{name}"'}))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == "book.hedges[1].name" and name in str(info.value)
    clash = _edit(demo_text, "[[book.hedges]]", 0, set={"name": '"AAPL"'})  # a holding's ticker
    with pytest.raises(ConfigError, match="no other holding or hedge leg"):
        load_config(_write(tmp_path, clash, "clash.toml"))


def test_scenario_shock_tickers_are_checked(demo_text, tmp_path):
    text = demo_text.replace("shocks = { AAPL = -0.12,", "shocks = { AAPLL = -0.12,")
    cfg = load_config(_write(tmp_path, text))
    with pytest.raises(ConfigError, match=r"scenarios\[\d+\]\.shocks\.AAPLL"):
        check_tickers(cfg, {t for _, t in referenced_tickers(cfg)} - {"AAPLL"})


def test_black76_leg_needs_its_multiplier(demo_text, tmp_path):
    path = _write(tmp_path, _edit(demo_text, "[[book.hedges]]", 1, set={"model": '"black76"'}))
    with pytest.raises(ConfigError, match="multiplier") as info:
        load_config(path)
    assert info.value.key == "book.hedges[1].multiplier"

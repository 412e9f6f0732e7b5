"""Named what-ifs beside the book (hedgedesk.core.book.whatifs) and the editor's what-if
steps (load_book, book_tables, save_as): the file round-trips, bad files are refused with their
line, and every compared figure equals the engine's on a config file written independently.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from pathlib import Path

import pytest

from hedgedesk.core.book.edit import BookEditor
from hedgedesk.core.book.risk import risk_report
from hedgedesk.core.book.valuation import market_state, shocked_state
from hedgedesk.core.book.whatifs import (
    SAVED,
    WhatIf,
    capture,
    compare,
    delete_whatif,
    find_whatif,
    load_whatifs,
    save_whatif,
    whatif_config,
    whatifs_path,
)
from hedgedesk.core.config import load_config
from hedgedesk.core.data.sources import load_market
from hedgedesk.core.demo import demo_config_path
from hedgedesk.core.errors import HedgedeskError


@pytest.fixture
def cfg(tmp_path):
    path = tmp_path / "desk.toml"
    path.write_text(Path(demo_config_path()).read_text())
    return load_config(path)


@pytest.fixture(scope="module")
def market():
    return load_market(load_config(demo_config_path()))


def edited(cfg) -> BookEditor:
    """Two more SPX puts, one ES contract fewer short, AAPL halved, the market -10 %."""
    ed = BookEditor(cfg)
    ed.set_field("hedge", 1, "quantity", 4)
    ed.set_field("hedge", 0, "quantity", -1)
    ed.set_field("holding", 0, "quantity", 750)
    ed.shock("market", -0.1)
    return ed


def test_file_sits_beside_the_config_and_round_trips(cfg):
    ed = edited(cfg)
    w = capture("  puts x2 ", ed.book_tables(), ed.shocks)
    assert w.name == "puts x2"
    path = save_whatif(cfg.path, w)
    assert path == whatifs_path(cfg.path) == cfg.path.with_name("desk.whatifs.toml")
    raw = tomllib.loads(path.read_text())  # plain TOML, readable by any tool
    assert [t["name"] for t in raw["whatif"]] == ["puts x2"]
    assert raw["whatif"][0]["shocks"] == {"market": -0.1}
    assert raw["whatif"][0]["hedges"][1]["quantity"] == 4
    assert load_whatifs(cfg.path) == [w]
    assert not list(cfg.path.parent.glob(".*.tmp"))  # written atomically, nothing left over
    assert cfg.path.read_text() == Path(demo_config_path()).read_text()  # the book untouched


def test_names_are_unique_and_overwrite_keeps_the_place(cfg):
    ed = BookEditor(cfg)
    a = capture("a", ed.book_tables(), {})
    b = capture("b", ed.book_tables(), {"AAPL": -0.05})
    save_whatif(cfg.path, a)
    save_whatif(cfg.path, b)
    with pytest.raises(HedgedeskError, match="'a' exists"):
        save_whatif(cfg.path, capture("a", ed.book_tables(), {"market": 0.02}))
    assert load_whatifs(cfg.path)[0].shocks == {}
    save_whatif(cfg.path, capture("a", ed.book_tables(), {"market": 0.02}), overwrite=True)
    assert [(w.name, dict(w.shocks)) for w in load_whatifs(cfg.path)] == [
        ("a", {"market": 0.02}),
        ("b", {"AAPL": -0.05}),
    ]
    for bad in ("", "   ", SAVED, "x" * 41, "tab\there"):
        with pytest.raises(HedgedeskError, match="what-if name"):
            capture(bad, ed.book_tables(), {})


def test_delete_and_find_name_what_is_there(cfg):
    ed = BookEditor(cfg)
    for name in ("a", "b"):
        save_whatif(cfg.path, capture(name, ed.book_tables(), {}))
    delete_whatif(cfg.path, "a")
    assert [w.name for w in load_whatifs(cfg.path)] == ["b"]
    with pytest.raises(HedgedeskError, match=r"no what-if 'a' .*there: 'b'"):
        find_whatif(cfg.path, "a")
    with pytest.raises(HedgedeskError, match="no what-if 'zz'"):
        delete_whatif(cfg.path, "zz")
    assert load_whatifs(cfg.path.with_name("other.toml")) == []  # no file: none


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ('[[whatif]]\nname = "a"\ncreated = 2026-01-01T00:00:00Z\nshocks = {x = \n', 4, "TOML"),
        (
            '[[whatif]]\nname = "a"\ncreated = 2026-01-01T00:00:00Z\n\n'
            '[[whatif]]\nname = "b"\ncreated = 2026-01-01T00:00:00Z\nshocks = {AAPL = -2}\n',
            5,
            "whatif[1]: shocks.AAPL: got -2",
        ),
        ("[[whatif]]\ncreated = 2026-01-01T00:00:00Z\n", 1, "whatif[0]: what-if name"),
        ('[[whatif]]\nname = "a"\ncreated = "yesterday"\n', 1, "created: got 'yesterday'"),
        ('[[whatif]]\nname = "a"\ncreated = 2026-01-01\nholdings = 3\n', 1, "created"),
        (
            '[[whatif]]\nname = "a"\ncreated = 2026-01-01T00:00:00Z\nholdings = 3\n',
            1,
            "holdings: expected [[whatif.holdings]]",
        ),
        ('[[whatif]]\nname = "a"\ncreated = 2026-01-01T00:00:00Z\nbook = 1\n', 1, "'book'"),
        (
            '[[whatif]]\nname = "a"\ncreated = 2026-01-01T00:00:00Z\n'
            '[[whatif]]\nname = "a"\ncreated = 2026-01-01T00:00:00Z\n',
            4,
            "appears twice",
        ),
    ],
)
def test_a_bad_file_is_refused_with_its_line_and_left_alone(cfg, text, line, words):
    path = whatifs_path(cfg.path)
    path.write_text(text)
    with pytest.raises(HedgedeskError) as err:
        load_whatifs(cfg.path)
    message = str(err.value)
    if "TOML" in words:
        assert message.startswith(f"{path}: not valid TOML") and f"line {line}" in message
    else:
        assert message.startswith(f"{path}:{line}: ") and words in message, message
    with pytest.raises(HedgedeskError):  # never overwritten over what it could not read
        save_whatif(cfg.path, capture("new", BookEditor(cfg).book_tables(), {}))
    assert path.read_text() == text


def test_a_bad_row_names_the_whatif_and_the_key(cfg, market):
    w = WhatIf(
        "broken",
        dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        ({"ticker": "AAPL", "quantity": "many"},),
        (),
    )
    with pytest.raises(HedgedeskError, match=r"what-if 'broken': .*book.holdings\[0\].quantity"):
        whatif_config(cfg, w)
    unknown = WhatIf("nowhere", w.created, ({"ticker": "NOPE", "quantity": 1},), ())
    with pytest.raises(HedgedeskError, match=r"what-if 'nowhere'.*NOPE"):
        compare(cfg, market, [unknown])


def _witness(cfg_path: Path, tmp_path: Path, edits: dict[str, str], shocks, market):
    """The engine's figures for the config file with ``edits`` made to its text by hand."""
    text = cfg_path.read_text()
    for old, new in edits.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / "witness.toml"
    path.write_text(text)
    c = load_config(path)
    rep = risk_report(c, shocked_state(market_state(c, market), shocks))
    return rep


def test_compare_gives_the_engine_figures_of_each_book(cfg, market, tmp_path):
    ed = edited(cfg)
    save_whatif(cfg.path, capture("hedged", ed.book_tables(), ed.shocks))
    figures = compare(cfg, market, load_whatifs(cfg.path))
    assert [f.name for f in figures] == [SAVED, "hedged"]
    saved = risk_report(cfg, market_state(cfg, market))
    text = cfg.path.read_text()
    # the demo's AAPL row, ES leg and SPX put, edited in the text itself
    aapl = re.search(r'ticker = "AAPL"\nquantity = 1500', text)[0]
    es = re.search(r'contract = "ES".*\n.*\nquantity = -2', text)[0]
    put = re.search(r"strike = 3400\nexpiry = .*\nquantity = 2", text)[0]
    rep = _witness(
        cfg.path,
        tmp_path,
        {
            aapl: aapl.replace("1500", "750"),
            es: es.replace("-2", "-1"),
            put: put.replace("quantity = 2", "quantity = 4"),
        },
        {"market": -0.1},
        market,
    )
    for f, r in zip(figures, (saved, rep), strict=True):
        v = r.valuation
        assert f.nav == pytest.approx(v.nav, rel=1e-12)
        assert f.beta == pytest.approx(v.portfolio_beta, rel=1e-12)
        assert f.dollar_delta == pytest.approx(v.total("dollar_delta"), rel=1e-12)
        assert f.gamma_1pct_usd == pytest.approx(v.total("gamma_1pct_usd"), rel=1e-12)
        assert f.vega_1pt_usd == pytest.approx(v.total("vega_1pt_usd"), rel=1e-12)
        assert f.theta_1d_usd == pytest.approx(v.total("theta_1d_usd"), rel=1e-12)
        assert f.var_95 == pytest.approx(r.var("historical", 0.95).var, rel=1e-12)
        assert f.var_95_usd == pytest.approx(f.var_95 * v.nav, rel=1e-12)
    assert figures[1].beta < figures[0].beta  # more puts, fewer shares: the beta is lower


def test_load_book_is_one_undoable_step_keeping_the_rows_layout(cfg):
    ed = BookEditor(cfg)
    tables = edited(cfg).book_tables()
    ed.load_book(tables["holdings"], tables["hedges"], {"market": -0.1})
    assert ed.book_tables() == tables and ed.shocks == {"market": -0.1}
    assert sorted(ed.changes()) == sorted(
        [
            "AAPL quantity 1500 -> 750",
            "'ES short' quantity -2 -> -1",
            "'SPX put 3400' quantity 2 -> 4",
        ]
    )
    assert ed.undo() is not None and ed.book_tables() == BookEditor(cfg).book_tables()
    assert ed.shocks == {} and not ed.can_undo
    with pytest.raises(HedgedeskError, match=r"book.hedges\[0\]"):
        ed.load_book(tables["holdings"], [{"name": "x", "instrument": "future"}])
    assert not ed.dirty  # a refused load leaves the book as it was


def test_save_as_writes_a_new_file_that_loads_back_to_the_edited_book(cfg, tmp_path):
    ed = edited(cfg)
    before = cfg.path.read_text()
    new = ed.save_as(tmp_path / "copy.toml")
    assert new.path == tmp_path / "copy.toml"
    assert load_config(new.path).book == ed.config.book == new.book
    assert cfg.path.read_text() == before  # the old file untouched
    text = new.path.read_text()
    assert "# E-mini S&P 500, 50 x index" in text  # the rows' comments kept
    assert (tmp_path / "copy.toml.last-good").read_text() == text
    assert not ed.dirty and ed.shocks == {"market": -0.1}  # shocks are not a book's
    ed.set_field("holding", 1, "quantity", 10)  # the editor now works on the new file
    ed.save()
    assert load_config(new.path).book.holdings[1].quantity == 10
    assert cfg.path.read_text() == before
    assert ed.undo().path == new.path  # history steps keep the new file


def test_save_as_refuses_an_existing_file_unless_forced(cfg, tmp_path):
    ed = edited(cfg)
    other = tmp_path / "other.toml"
    other.write_text("keep me")
    with pytest.raises(HedgedeskError, match="exists; not overwritten"):
        ed.save_as(other)
    assert other.read_text() == "keep me" and ed.dirty
    with pytest.raises(HedgedeskError, match="is a folder"):
        ed.save_as(tmp_path)
    ed.save_as(other, force=True)
    assert load_config(other).book == ed.config.book


def test_save_as_refuses_a_folder_where_relative_paths_move(tmp_path):
    home = tmp_path / "a"
    home.mkdir()
    text = Path(demo_config_path()).read_text()
    text = text.replace('source = "demo"', 'source = "files"').replace(
        "paths = []", 'paths = ["prices"]'
    )
    (home / "desk.toml").write_text(text)
    ed = BookEditor(load_config(home / "desk.toml"))
    (tmp_path / "b").mkdir()
    with pytest.raises(HedgedeskError, match="relative paths would resolve"):
        ed.save_as(tmp_path / "b" / "desk.toml")
    assert not (tmp_path / "b" / "desk.toml").exists()
    assert ed.save_as(home / "twin.toml").data == ed.saved_config.data


def test_the_builtin_demo_keeps_no_whatifs_beside_it():
    demo = load_config(demo_config_path())
    w = capture("x", BookEditor(demo).book_tables(), {})
    with pytest.raises(HedgedeskError, match="built-in demo desk"):
        save_whatif(demo.path, w)
    assert not whatifs_path(demo.path).exists()
    root = Path(demo_config_path()).resolve()  # in a checkout: the repository's config.toml
    with pytest.raises(HedgedeskError, match="built-in demo desk"):
        save_whatif(root, w)


def test_save_as_never_writes_into_the_builtin_demo(cfg):
    from hedgedesk.core.demo import demo_dir

    ed = edited(cfg)
    for dest in (demo_dir() / "mine.toml", Path(demo_config_path()).resolve()):
        with pytest.raises(HedgedeskError, match="built-in demo desk's own files"):
            ed.save_as(dest, force=True)
    assert not (demo_dir() / "mine.toml").exists() and ed.dirty

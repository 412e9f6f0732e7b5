"""BookEditor: what-if edits validated like the loader, undo/redo, and saving into the file."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import time

import pytest

from hedgedesk.core.book.edit import BookEditor, ChangedOnDisk
from hedgedesk.core.config import load_config, resolve_config_path
from hedgedesk.core.demo import demo_config_path
from hedgedesk.core.errors import ConfigError, HedgedeskError

NQ = {
    "name": "NQ short",
    "instrument": "future",
    "contract": "NQ",
    "underlying": "SP500",
    "quantity": -1,
    "purpose": "beta hedge",
}


@pytest.fixture
def path(tmp_path):
    """A copy of the demo desk ([data] source = "demo": no relative paths to fix)."""
    p = tmp_path / "config.toml"
    p.write_bytes(demo_config_path().read_bytes())
    return p


@pytest.fixture
def ed(path):
    return BookEditor(load_config(path))


def _with(book, kind, index, **change):
    rows = list(getattr(book, kind))
    rows[index] = dataclasses.replace(rows[index], **change)
    return dataclasses.replace(book, **{kind: tuple(rows)})


# -- each operation changes exactly what it says -----------------------------------------------
def test_set_field_changes_one_value_and_keeps_the_other_sections(ed):
    base = ed.config
    cfg = ed.set_field("holding", 0, "quantity", "1650")
    assert cfg.book == _with(base.book, "holdings", 0, quantity=1650.0)
    assert cfg.data is base.data and cfg.scenarios is base.scenarios  # only the book is new
    assert ed.config is cfg and ed.dirty and ed.can_undo and not ed.can_redo


@pytest.mark.parametrize(
    ("index", "field", "value", "expected"),
    [
        (1, "strike", "3500", 3500.0),
        (1, "strike", 3450.5, 3450.5),
        (1, "expiry", "2023-06-16", dt.date(2023, 6, 16)),
        (1, "expiry", dt.date(2023, 9, 15), dt.date(2023, 9, 15)),
        (1, "volatility", " 0.3 ", 0.3),
        (0, "price_scale", "1.02", 1.02),
        (0, "quantity", "-5", -5.0),
    ],
)
def test_set_field_on_hedge_legs(ed, index, field, value, expected):
    base = ed.config.book
    cfg = ed.set_field("hedge", index, field, value)
    assert cfg.book == _with(base, "hedges", index, **{field: expected})


def test_blank_cost_basis_removes_it(ed):
    base = ed.config.book
    assert ed.set_field("holding", 2, "cost_basis", "").book == _with(
        base, "holdings", 2, cost_basis=None
    )


def test_nudge_steps_contracts_and_lots(ed):
    base = ed.config.book
    assert ed.nudge("holding", 0).book == _with(base, "holdings", 0, quantity=1650.0)
    assert ed.nudge("holding", 0, -1).book == base  # the lot is the row's, fixed: back to 1500
    assert ed.nudge("holding", 0, -1).book == _with(base, "holdings", 0, quantity=1350.0)
    ed.revert()
    assert ed.nudge("hedge", 0, -1).book == _with(base, "hedges", 0, quantity=-3.0)
    assert ed.nudge("hedge", 1).book == _with(
        _with(base, "hedges", 0, quantity=-3.0), "hedges", 1, quantity=3.0
    )


def test_nudge_of_a_small_holding_moves_at_least_one_share(ed):
    ed.set_field("holding", 4, "quantity", 3)
    assert ed.nudge("holding", 4).book.holdings[4].quantity == 4.0


def test_add_and_delete(ed):
    base = ed.config.book
    cfg = ed.add_hedge(NQ)
    assert cfg.book.hedges[:-1] == base.hedges and cfg.book.holdings == base.holdings
    assert (cfg.book.hedges[-1].name, cfg.book.hedges[-1].multiplier) == ("NQ short", 20.0)
    cfg = ed.add_holding("CVX", "100", "150.5")
    assert cfg.book.holdings[-1] == type(base.holdings[0])("CVX", 100.0, 150.5)
    cfg = ed.delete("holding", 6)
    assert [h.ticker for h in cfg.book.holdings] == [
        "AAPL",
        "MSFT",
        "AMD",
        "JPM",
        "UNH",
        "LLY",
        "HD",
        "PG",
        "KO",
        "CVX",
    ]
    assert ed.changes() == ["deleted holding XOM", "added holding CVX", "added hedge 'NQ short'"]


# -- undo, redo, revert, changes ---------------------------------------------------------------
def test_undo_redo_and_branching(ed):
    saved = ed.config
    a = ed.nudge("holding", 0)
    ed.nudge("hedge", 0)
    assert ed.undo() is a and ed.undo() is saved and ed.undo() is None
    assert not ed.dirty and ed.can_redo
    assert ed.redo() is a
    c = ed.delete("hedge", 2)  # a new edit after undo drops the redo branch
    assert not ed.can_redo and ed.redo() is None
    assert c.book == dataclasses.replace(a.book, hedges=saved.book.hedges[:2])
    assert ed.undo() is a


def test_revert_is_undoable_and_a_no_op_is_not_a_step(ed):
    saved = ed.config
    edited = ed.set_field("holding", 1, "quantity", 800)
    assert ed.revert().book == saved.book and not ed.dirty
    assert ed.undo() is edited and ed.dirty
    ed.set_field("holding", 1, "quantity", 800)  # the same value again
    assert ed.undo().book == saved.book and not ed.can_undo


def test_changes_in_words(ed):
    assert ed.changes() == []
    ed.nudge("holding", 0)
    ed.set_field("hedge", 1, "expiry", "2023-06-16")
    ed.set_field("hedge", 1, "volatility", 0.3)
    ed.delete("holding", 6)
    ed.add_hedge(NQ)
    assert ed.changes() == [
        "deleted holding XOM",
        "AAPL quantity 1500 -> 1650",
        "'SPX put 3400' expiry 2023-03-17 -> 2023-06-16",
        "'SPX put 3400' volatility 0.24 -> 0.3",
        "added hedge 'NQ short'",
    ]


def test_shocks_are_undoable_but_not_book_edits(ed):
    cfg = ed.config
    assert ed.shock("market", "-0.10") is cfg
    ed.shock("AAPL", -0.2)
    assert ed.shocks == {"market": -0.1, "AAPL": -0.2} and not ed.dirty and ed.changes() == []
    ed.shock("AAPL", 0)
    assert ed.shocks == {"market": -0.1}
    ed.undo()
    assert ed.shocks == {"market": -0.1, "AAPL": -0.2}
    ed.undo()
    assert ed.shocks == {"market": -0.1}
    ed.nudge("holding", 0)
    ed.revert()  # back to the saved book; the what-if prices stay
    assert ed.shocks == {"market": -0.1} and not ed.dirty


@pytest.mark.parametrize("fraction", ["abc", -1.5, float("nan"), True])
def test_bad_shock(ed, fraction):
    with pytest.raises(HedgedeskError, match="expected a fraction"):
        ed.shock("AAPL", fraction)
    assert ed.shocks == {} and not ed.can_undo


# -- bad input changes nothing -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "index", "field", "value", "key", "problem"),
    [
        (
            "holding",
            0,
            "quantity",
            "abc",
            "book.holdings[0].quantity",
            "got 'abc', expected a number",
        ),
        ("holding", 0, "quantity", "0", "book.holdings[0].quantity", "a non-zero number"),
        ("hedge", 0, "quantity", "2.5", "book.hedges[0].quantity", "a whole number of contracts"),
        ("hedge", 1, "strike", "-5", "book.hedges[1].strike", "a number >= 1e-08"),
        ("hedge", 1, "expiry", "2023-13-01", "book.hedges[1].expiry", "a date YYYY-MM-DD"),
        ("hedge", 1, "volatility", "0", "book.hedges[1].volatility", "a number > 0"),
        ("hedge", 1, "volatility", -0.2, "book.hedges[1].volatility", "a number > 0"),
        ("hedge", 0, "strike", "3500", "book.hedges[0].strike", "no option terms on a future"),
        ("hedge", 1, "quantity", "", "book.hedges[1].quantity", "missing required key"),
        ("hedge", 1, "name", "x", "book.hedges[1].name", "not editable here"),
    ],
)
def test_bad_input_names_the_key_and_changes_nothing(
    ed, path, kind, index, field, value, key, problem
):
    ed.nudge("holding", 1)
    before = ed.config
    with pytest.raises(ConfigError) as err:
        ed.set_field(kind, index, field, value)
    assert err.value.key == key and problem in err.value.problem
    assert err.value.file == str(path)
    assert ed.config is before and ed.undo().book == load_config(path).book


def test_bad_additions_and_indices(ed):
    before = ed.config
    with pytest.raises(ConfigError, match=r"book\.holdings\[10\]\.ticker: got 'AAPL'"):
        ed.add_holding("AAPL", 10)  # a second AAPL row
    with pytest.raises(ConfigError, match=r"book\.hedges\[3\]\.contract"):
        ed.add_hedge({**NQ, "contract": "ZZ"})
    with pytest.raises(ConfigError, match=r"book\.hedges\[3\]\.quantity.*whole number"):
        ed.add_hedge({**NQ, "quantity": 0.5})
    with pytest.raises(HedgedeskError, match="no hedge #3: the book has 3"):
        ed.nudge("hedge", 3)
    with pytest.raises(HedgedeskError, match='expected "holding" or "hedge"'):
        ed.delete("option", 0)
    with pytest.raises(ConfigError, match="non-zero"):
        ed.nudge("hedge", 0, 2)  # -2 + 2 contracts
    assert ed.config is before and not ed.can_undo


# -- saving ------------------------------------------------------------------------------------
def _outside_book(text: str) -> tuple[str, str]:
    """The file before [book], and from the comment that follows the book to the end."""
    return text[: text.index("[book]")], text[text.index("# Scenarios:") :]


def test_save_round_trips_and_keeps_the_rest_of_the_file(ed, path):
    original = path.read_text(encoding="utf-8")
    ed.nudge("holding", 0)
    ed.set_field("hedge", 1, "volatility", "0.3")
    ed.set_field("hedge", 1, "expiry", "2023-06-16")
    ed.delete("hedge", 2)
    ed.delete("holding", 9)
    ed.add_holding("CVX", 100, 150.5)
    ed.add_hedge(NQ)
    ed.shock("market", -0.1)
    edited = ed.config
    assert ed.save() is edited
    text = path.read_text(encoding="utf-8")
    assert load_config(path).book == edited.book
    assert _outside_book(text) == _outside_book(original)
    # kept rows keep their comments and number formats; an edited value keeps its line comment
    assert 'contract = "ES"             # E-mini S&P 500, 50 x index' in text
    assert "volatility = 0.3           # modelled: the demo data has no option quotes" in text
    assert 'expiry = "2023-06-16"' in text and "cost_basis = 150.00\n" in text
    assert "quantity = 1650\n" in text and "\n\n\n" not in text
    # no temporary file left; the saved book is kept as the last good copy
    assert sorted(os.listdir(path.parent)) == ["config.toml", "config.toml.last-good"]
    assert (path.parent / "config.toml.last-good").read_text(encoding="utf-8") == text
    assert not ed.dirty and ed.changes() == [] and ed.shocks == {"market": -0.1}


def test_save_without_edits_rewrites_the_same_bytes(ed, path):
    original = path.read_bytes()
    path.chmod(0o640)
    ed.save()
    assert path.read_bytes() == original
    assert path.stat().st_mode & 0o777 == 0o640  # a replaced file keeps its mode


def test_a_config_with_a_byte_order_mark_loads_edits_and_saves_keeping_it(path):
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())  # as some Windows editors save
    ed = BookEditor(load_config(path))
    ed.nudge("holding", 0)
    ed.save()
    assert path.read_bytes()[:3] == b"\xef\xbb\xbf"
    assert load_config(path).book == ed.config.book


def test_undo_after_save_and_save_again(ed, path):
    original = path.read_text(encoding="utf-8")
    ed.delete("hedge", 2)
    ed.save()
    ed.undo()
    assert ed.dirty and ed.changes() == ["added hedge 'AAPL covered call 140'"]
    ed.save()
    assert path.read_text(encoding="utf-8").replace("\n", "") == original.replace("\n", "")


def test_deleting_every_row_keeps_the_comments_that_follow(ed, path):
    original = path.read_text(encoding="utf-8")
    for _ in range(3):
        ed.delete("hedge", 0)
    for _ in range(10):
        ed.delete("holding", 0)
    ed.save()
    text = path.read_text(encoding="utf-8")
    assert _outside_book(text) == _outside_book(original)
    assert load_config(path).book.holdings == () == load_config(path).book.hedges
    ed.add_hedge(NQ)  # and a book without hedges takes one again
    ed.save()
    assert load_config(path).book.hedges[0].name == "NQ short"
    assert _outside_book(path.read_text(encoding="utf-8")) == _outside_book(original)


def test_save_refuses_a_file_changed_on_disk(ed, path):
    ed.nudge("holding", 0)
    edited = ed.config
    theirs = path.read_text(encoding="utf-8").replace("beta = 0.50", "beta = 0.60")
    path.write_text(theirs, encoding="utf-8")
    with pytest.raises(ChangedOnDisk, match=r"changed on disk.*your edits are kept") as err:
        ed.save()
    assert "force" not in str(err.value)  # words for a trader, not a Python call
    assert path.read_text(encoding="utf-8") == theirs
    assert ed.config is edited and ed.dirty
    ed.save(force=True)
    assert load_config(path).book == edited.book and not ed.dirty


def test_save_refuses_a_read_only_file_and_keeps_the_edits(ed, path, _isolated_home):
    ed.nudge("holding", 0)
    edited = ed.config
    original = path.read_bytes()
    path.chmod(0o444)
    with pytest.raises(HedgedeskError, match="read-only; your edits are kept") as err:
        ed.save()
    assert str(_isolated_home / "config" / "hedgedesk" / "config.toml") in str(err.value)
    assert path.read_bytes() == original and ed.config is edited and ed.dirty
    assert sorted(os.listdir(path.parent)) == ["config.toml"]


@pytest.mark.parametrize("which", ["demo", "demo:multi-asset"])
def test_save_refuses_the_builtin_demos(_isolated_home, which):
    demo = demo_config_path() if which == "demo" else resolve_config_path(which)
    original = demo.read_bytes()
    ed = BookEditor(load_config(demo))
    ed.nudge("holding", 0)
    with pytest.raises(HedgedeskError, match=r"built-in demo desk.*copy it to"):
        ed.save()
    assert demo.read_bytes() == original and ed.dirty


def test_editor_refuses_a_config_older_than_its_file(path):
    cfg = load_config(path)
    path.write_text(
        path.read_text(encoding="utf-8").replace("quantity = 700", "quantity = 70"),
        encoding="utf-8",
    )
    with pytest.raises(HedgedeskError, match="changed since the desk loaded it"):
        BookEditor(cfg)


# -- speed -------------------------------------------------------------------------------------
def test_two_hundred_edits(ed):
    start = time.perf_counter()
    for i in range(200):
        ed.nudge("hedge", 1, 1 if i % 2 else -1)
    mean = (time.perf_counter() - start) / 200
    print(f"\nBookEditor: {mean * 1000:.2f} ms per validated edit (demo config)")
    assert ed.config.book.hedges[1].quantity == 2.0 and ed.can_undo

"""Broker CSV import: OCC symbols, both layouts read against hand-checked fixtures, row errors
collected with their lines, the plan's merge/replace rules, and the round trip through a written
config and through the desk's BookEditor.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from hedgedesk.core.book.broker import (
    DEFAULT_VOL,
    MAX_ERRORS,
    BrokerFileError,
    ImportOptions,
    OptionSymbol,
    options_for,
    parse_future_symbol,
    parse_option_symbol,
    parse_positions,
    plan_book,
    planned_config,
    read_positions,
    write_book_config,
)
from hedgedesk.core.book.edit import BookEditor
from hedgedesk.core.config import load_config
from hedgedesk.core.demo import demo_config_path
from hedgedesk.core.errors import HedgedeskError

FIXTURES = Path(__file__).parent / "fixtures"
GENERIC = FIXTURES / "generic_positions.csv"
IBKR = FIXTURES / "ibkr_open_positions.csv"


@pytest.fixture
def cfg(tmp_path):
    """A writable copy of the demo desk."""
    p = tmp_path / "config.toml"
    p.write_bytes(demo_config_path().read_bytes())
    return load_config(p)


def _parse(text: str, layout: str = "generic", options: ImportOptions | None = None):
    return parse_positions(text, "pos.csv", layout, options or ImportOptions())


# -- symbols -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("AAPL  240119C00190000", OptionSymbol("AAPL", dt.date(2024, 1, 19), "call", 190.0)),
        ("AAPL240119C00190000", OptionSymbol("AAPL", dt.date(2024, 1, 19), "call", 190.0)),
        ("spxw  231215p04500000", OptionSymbol("SPXW", dt.date(2023, 12, 15), "put", 4500.0)),
        ("F     250620C00012500", OptionSymbol("F", dt.date(2025, 6, 20), "call", 12.5)),
        ("-AAPL240119C187.5", OptionSymbol("AAPL", dt.date(2024, 1, 19), "call", 187.5)),
        (".SPY240315P450", OptionSymbol("SPY", dt.date(2024, 3, 15), "put", 450.0)),
        ("BRKB1 240119C00400000", OptionSymbol("BRKB1", dt.date(2024, 1, 19), "call", 400.0)),
    ],
)
def test_option_symbols_parse_to_their_terms(text, expected):
    assert parse_option_symbol(text) == expected


@pytest.mark.parametrize(
    "text", ["AAPL", "AAPL  241319C00190000", "AAPL  240119X00190000", "ESZ4", "AAPLXYZ240119C1"]
)
def test_non_option_symbols_are_refused(text):
    assert parse_option_symbol(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("ESZ4", ("ES", 12, 4)), ("MESZ24", ("MES", 12, 24)), ("MNQH5", ("MNQ", 3, 5))],
)
def test_futures_symbols(text, expected):
    assert parse_future_symbol(text) == expected
    assert parse_future_symbol("XXZ4") is None and parse_future_symbol("ES") is None


# -- the generic layout ---------------------------------------------------------------------------
def test_generic_fixture_reads_every_kind(cfg):
    imp = read_positions(GENERIC, options=options_for(cfg, tickers={"SPY": "SP500"}))
    assert imp.layout == "generic" and imp.rows == 9 and imp.cash == 50_000.0
    assert imp.holdings == (
        {"ticker": "AAPL", "quantity": 1200, "cost_basis": 152.1},
        {"ticker": "MSFT", "quantity": 300, "cost_basis": 255},
    )
    legs = {leg["name"]: leg for leg in imp.hedges}
    assert legs["SPY 2023-03-17 380 put"] == {
        "name": "SPY 2023-03-17 380 put",
        "instrument": "option",
        "underlying": "SP500",  # mapped
        "right": "put",
        "strike": 380,
        "expiry": dt.date(2023, 3, 17),
        "quantity": 4,
    }
    assert legs["MSFT 2023-01-20 260 call"]["quantity"] == -2  # the -MSFT... form
    # the demo's [proxies] ES = SP500 prices the future
    assert legs["ESH3"] == {
        "name": "ESH3",
        "instrument": "future",
        "contract": "ES",
        "underlying": "SP500",
        "quantity": -1,
    }
    assert legs["BTC"]["underlying"] == "BTC-USD" and legs["BTC"]["quantity"] == 0.5
    assert legs["EUR.USD"]["underlying"] == "EURUSD=X"


def test_header_names_are_case_insensitive_and_rows_of_one_symbol_sum():
    imp = _parse("Ticker,QTY,Avg Price,Extra\nAAPL,100,10,x\naapl,300,20,y\nKO,5,,z\nKO,-5,,z\n")
    (aapl,) = imp.holdings
    assert aapl == {"ticker": "AAPL", "quantity": 400, "cost_basis": 17.5}  # (100*10+300*20)/400
    assert any("KO" in n and "net to 0" in n for n in imp.notes)


def test_a_share_class_after_a_space_takes_yahoos_dash():
    assert _parse("symbol,quantity\nBRK B,3\n").holdings[0]["ticker"] == "BRK-B"


def test_numbers_as_brokers_print_them():
    imp = _parse('symbol,quantity,cost_basis\nAAPL,"(1,500)",$150.25\n')
    assert imp.holdings[0]["quantity"] == -1500 and imp.holdings[0]["cost_basis"] == 150.25


# -- the Interactive Brokers Flex layout ----------------------------------------------------------
def test_ibkr_fixture_reads_summary_rows_only(cfg):
    imp = read_positions(IBKR, options=options_for(cfg, tickers={"SPX": "SP500"}))
    assert imp.layout == "ibkr" and imp.as_of == dt.date(2022, 12, 28)
    assert imp.holdings == (
        {"ticker": "AAPL", "quantity": 1000, "cost_basis": 148.5},  # the SUMMARY row, not lots
        {"ticker": "MSFT", "quantity": 400, "cost_basis": 260},
    )
    assert any("2 lot row(s)" in n for n in imp.notes)
    legs = {leg["name"]: leg for leg in imp.hedges}
    assert set(legs) == {"AAPL 2023-01-20 140 call", "SPX 2023-03-17 3400 put", "ESH3"}
    assert legs["SPX 2023-03-17 3400 put"]["underlying"] == "SP500"
    assert legs["ESH3"]["contract"] == "ES" and legs["ESH3"]["quantity"] == -2
    assert imp.cash is None  # the cash section below is another section: skipped


def test_ibkr_columns_must_agree_with_the_symbol():
    head = (
        '"ClientAccountID","CurrencyPrimary","AssetClass","Symbol",'
        '"Strike","Expiry","Put/Call","Quantity"\n'
    )
    row = '"U1","USD","OPT","AAPL  230120C00140000","145","20230120","P","1"\n'
    with pytest.raises(BrokerFileError) as err:
        _parse(head + row, "auto")
    fields = {(e.line, e.field) for e in err.value.errors}
    assert fields == {(2, "Strike"), (2, "Put/Call")}


def test_ibkr_refuses_other_asset_classes_and_currencies():
    head = '"ClientAccountID","CurrencyPrimary","AssetClass","Symbol","Quantity"\n'
    rows = (
        '"U1","USD","BOND","T 4 1/2","10"\n"U1","EUR","STK","SAP","5"\n"U1","USD","STK","KO","5"\n'
    )
    with pytest.raises(BrokerFileError) as err:
        _parse(head + rows, "ibkr")
    assert [(e.line, e.field) for e in err.value.errors] == [
        (2, "AssetClass"),
        (3, "CurrencyPrimary"),
    ]
    assert "BOND" in str(err.value) and "STK, OPT, FUT, CRYPTO or CASH" in str(err.value)


# -- errors ----------------------------------------------------------------------------------------
def test_every_row_error_is_listed_with_line_and_field():
    text = (
        "symbol,quantity,asset_class\n"
        "AAPL,abc,\n"  # line 2
        "\n"
        "ZZZ  231301C00100000,1,\n"  # line 4: no 13th month
        "ESZ4,1.5,future\n"  # line 5: whole contracts
        "GOLD,1,bond\n"  # line 6: unknown class
        "XXZ4,1,future\n"  # line 7: unknown contract
        "AAPL  240119C00190000,1.5,\n"  # line 8
        "GBP.JPY,1,fx\n"  # line 9: not quoted in USD
    )
    with pytest.raises(BrokerFileError) as err:
        _parse(text, options=ImportOptions(futures={"ES": ("SP500", 1.0)}))
    got = [(e.line, e.field) for e in err.value.errors]
    assert got == [
        (2, "quantity"),
        (4, "symbol"),
        (5, "quantity"),
        (6, "asset_class"),
        (7, "symbol"),
        (8, "quantity"),
        (9, "symbol"),
    ]
    message = str(err.value)
    assert message.startswith("pos.csv: 7 row(s) refused: line 2, quantity: got 'abc'")
    assert "\n" not in message


def test_errors_beyond_the_limit_are_counted():
    text = "symbol,quantity\n" + "AAPL,x\n" * (MAX_ERRORS + 5)
    with pytest.raises(BrokerFileError) as err:
        _parse(text)
    assert len(err.value.errors) == MAX_ERRORS + 5
    assert str(err.value).endswith("; and 5 more")


def test_a_future_without_a_price_series_says_how_to_give_one():
    with pytest.raises(BrokerFileError, match=r"line 2, symbol: .*--map NQ=TICKER"):
        _parse("symbol,quantity\nNQZ4,1\n")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("ticker,price\nAAPL,1\n", "line 1: the header has no quantity column"),
        ("", "no header row"),
        ("symbol,symbol,quantity\n", "named twice"),
    ],
)
def test_file_level_errors(text, match):
    with pytest.raises(BrokerFileError, match=match):
        _parse(text)


def test_a_missing_or_binary_file_is_named(tmp_path):
    with pytest.raises(BrokerFileError, match="file not found"):
        read_positions(tmp_path / "nope.csv")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"symbol,quantity\n\xff\xfe,1\n")
    with pytest.raises(BrokerFileError, match="not UTF-8"):
        read_positions(bad)


# -- into a book ---------------------------------------------------------------------------------
def test_merge_updates_matches_keeps_the_rest_and_keeps_the_book_vol(cfg):
    imp = read_positions(IBKR, options=options_for(cfg, tickers={"SPX": "SP500"}))
    plan = plan_book(cfg.book, imp, "merge")
    assert len(plan.holdings) == len(cfg.book.holdings)  # AAPL and MSFT updated, others kept
    assert plan.holdings[0] == (0, {"quantity": 1000, "cost_basis": 148.5})
    assert plan.holdings[2] == (2, {})
    # the three legs are the demo's own (same terms): quantities updated, names and vol kept
    assert [i for i, _ in plan.hedges] == [0, 1, 2]
    assert plan.hedges[0] == (0, {"quantity": -2}) and plan.default_vol == ()
    assert plan.cash is None


def test_replace_drops_other_rows_infers_purpose_and_fills_vol(cfg):
    imp = read_positions(GENERIC, options=options_for(cfg, tickers={"SPY": "SP500"}))
    plan = plan_book(cfg.book, imp, "replace", vol=0.3)
    assert [i for i, _ in plan.holdings] == [0, 1]
    assert "removed holding AMD" in plan.changes and plan.cash == 50_000.0
    new = {k["name"]: k for i, k in plan.hedges if i is None}
    assert new["SPY 2023-03-17 380 put"]["purpose"] == "protection"
    assert new["AAPL 2023-01-20 160 call"]["purpose"] == "covered call"  # 500 of 1200 shares
    assert new["SPY 2023-03-17 380 put"]["volatility"] == 0.3
    assert set(plan.default_vol) == {
        "SPY 2023-03-17 380 put",
        "AAPL 2023-01-20 160 call",
        "MSFT 2023-01-20 260 call",
    }


def test_a_short_call_beyond_the_shares_is_an_option():
    imp = _parse("symbol,quantity\nKO,100\nKO    240119C00060000,-2\nKO    240119C00065000,-1\n")
    book = load_config(demo_config_path()).book
    plan = plan_book(book, imp, "replace")
    purposes = [k["purpose"] for i, k in plan.hedges if i is None]
    assert purposes == ["option", "covered call"]  # 200 shares needed, 100 held; then 100


def test_round_trip_through_a_written_config(cfg, tmp_path):
    imp = read_positions(GENERIC, options=options_for(cfg, tickers={"SPY": "SP500"}))
    plan = plan_book(cfg.book, imp, "replace")
    out = tmp_path / "sub" / "imported.toml"
    loaded = write_book_config(cfg, plan, out)
    again = load_config(out)
    assert again.book == loaded.book and again.book.cash == 50_000.0
    assert [(h.ticker, h.quantity, h.cost_basis) for h in again.book.holdings] == [
        ("AAPL", 1200.0, 152.1),
        ("MSFT", 300.0, 255.0),
    ]
    legs = {leg.name: leg for leg in again.book.hedges}
    put = legs["SPY 2023-03-17 380 put"]
    assert (put.right, put.strike, put.expiry, put.quantity, put.multiplier, put.volatility) == (
        "put",
        380.0,
        dt.date(2023, 3, 17),
        4.0,
        100.0,
        DEFAULT_VOL,
    )
    assert legs["ES short"].quantity == -1.0 and "ESH3" not in legs  # ESH3 is the ES leg
    assert legs["BTC"].instrument == "crypto" and legs["EUR.USD"].instrument == "fx"
    assert again.data == cfg.data and again.scenarios == cfg.scenarios  # the rest unchanged
    with pytest.raises(HedgedeskError, match="exists; give --force"):
        write_book_config(cfg, plan, out)
    write_book_config(cfg, plan, out, force=True)


def test_relative_data_paths_follow_a_file_written_elsewhere(tmp_path):
    base = tmp_path / "desk"
    base.mkdir()
    (base / "prices.csv").write_text("date,AAPL,SP500\n2022-01-03,1,1\n")
    text = demo_config_path().read_text()
    text = text.replace('source = "demo"', 'source = "files"').replace(
        "paths = []", 'paths = ["prices.csv"]'
    )
    (base / "config.toml").write_text(text)
    cfg = load_config(base / "config.toml")
    imp = _parse("symbol,quantity\nAAPL,10\n")
    out = tmp_path / "other" / "new.toml"
    loaded = write_book_config(cfg, plan_book(cfg.book, imp), out)
    assert loaded.data.paths == cfg.data.paths == ((base / "prices.csv").resolve(),)


def test_the_demo_desk_is_never_written(cfg):
    plan = plan_book(cfg.book, _parse("symbol,quantity\nAAPL,10\n"))
    with pytest.raises(HedgedeskError, match="built-in demo"):
        write_book_config(cfg, plan, demo_config_path(), force=True)


def test_editor_applies_a_plan_as_one_undoable_edit_and_saves_it(cfg):
    ed = BookEditor(cfg)
    imp = read_positions(GENERIC, options=options_for(cfg, tickers={"SPY": "SP500"}))
    plan = plan_book(cfg.book, imp, "merge")
    edited = ed.replace_rows(plan.holdings, plan.hedges)
    assert edited.book.holdings[0].quantity == 1200 and len(edited.book.holdings) == 10
    assert "SPY 2023-03-17 380 put" in {leg.name for leg in edited.book.hedges}
    assert ed.undo().book == cfg.book and not ed.can_undo  # one step
    ed.redo()
    ed.save()
    assert load_config(cfg.path).book == edited.book
    text = cfg.path.read_text()
    assert "# E-mini S&P 500, 50 x index" in text  # a kept row keeps its comment


def test_editor_refuses_a_row_listed_twice(cfg):
    ed = BookEditor(cfg)
    with pytest.raises(HedgedeskError, match="listed twice"):
        ed.replace_rows([(0, {}), (0, {})], [])
    with pytest.raises(HedgedeskError, match="no holding #99"):
        ed.replace_rows([(99, {})], [])
    assert not ed.can_undo


def test_flex_header_and_data_records_are_read():
    """A Flex CSV with "include header and trailer records": BOF/BOA/BOS lines, HEADER and
    DATA tags with the section code before each record.
    """
    text = (
        '"BOF","U1","Positions","1","20221228","20221228"\n'
        '"BOS","POST","Open Positions"\n'
        '"HEADER","POST","ClientAccountID","CurrencyPrimary","AssetClass","Symbol","Quantity",'
        '"CostBasisPrice","LevelOfDetail"\n'
        '"DATA","POST","U1","USD","STK","KO","250","58.5","SUMMARY"\n'
        '"DATA","POST","U1","USD","OPT","KO    230120C00065000","-2","0.9","SUMMARY"\n'
        '"EOS","POST","2"\n'
        '"EOF","U1"\n'
    )
    imp = _parse(text, "auto")
    assert imp.layout == "ibkr" and imp.rows == 2
    assert imp.holdings == ({"ticker": "KO", "quantity": 250, "cost_basis": 58.5},)
    assert imp.hedges[0]["name"] == "KO 2023-01-20 65 call" and imp.hedges[0]["quantity"] == -2


def test_new_rows_go_before_the_comments_that_open_the_next_section(cfg, tmp_path):
    text = cfg.path.read_text()
    plan = plan_book(cfg.book, _parse("symbol,quantity\nAAPL  230120C00145000,-1\nPEP,7\n"))
    new = planned_config(cfg, plan)[0]
    added = new.index('name = "AAPL 2023-01-20 145 call"')
    assert added < new.index("# Scenarios: each instrument") < new.index("[[scenarios]]")
    assert new.count("# E-mini S&P 500, 50 x index") == 1  # a kept row's comment stays
    assert "\n\n\n" not in new[new.index("[book]") : new.index("[[scenarios]]")]
    # a book with no rows: the new rows still come before those comments
    empty = text[: text.index("[[book.holdings]]")] + text[text.index("# Scenarios:") :]
    (tmp_path / "empty.toml").write_text(empty)
    bare = load_config(tmp_path / "empty.toml")
    new = planned_config(bare, plan_book(bare.book, _parse("symbol,quantity\nPEP,7\n")))[0]
    assert new.index('ticker = "PEP"') < new.index("# Scenarios: each instrument")
    # and a book left with none keeps them too
    gone = planned_config(cfg, plan_book(cfg.book, _parse("symbol,quantity\n"), "replace"))[0]
    assert "[[book." not in gone and "# Scenarios: each instrument" in gone

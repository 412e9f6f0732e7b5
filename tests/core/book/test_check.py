"""An edit the market data refutes is never applied, and a book that does not value is never
saved: hedgedesk.core.book.check with BookEditor's ``check`` hook, and the last good copy.
"""

from __future__ import annotations

import datetime as dt

import pytest

from hedgedesk.core.book.check import check_book
from hedgedesk.core.book.edit import BookEditor, last_good_path, restore_last_good
from hedgedesk.core.book.valuation import market_state, value_book
from hedgedesk.core.config import load_config
from hedgedesk.core.data.market import MarketData
from hedgedesk.core.data.sources import load_market
from hedgedesk.core.demo import demo_config_path
from hedgedesk.core.errors import ConfigError, HedgedeskError


@pytest.fixture(scope="module")
def market():
    return load_market(load_config(demo_config_path()))


@pytest.fixture
def path(tmp_path):
    p = tmp_path / "config.toml"
    p.write_bytes(demo_config_path().read_bytes())
    return p


@pytest.fixture
def ed(path, market):
    return BookEditor(load_config(path), check=lambda cfg, shocks: check_book(cfg, market, shocks))


def _unchanged(ed, before):
    assert ed.config is before and not ed.dirty and not ed.can_undo and ed.shocks == {}


def test_the_demo_book_values_as_the_desk_values_it(market):
    cfg = load_config(demo_config_path())
    val = check_book(cfg, market)
    assert val.nav == pytest.approx(value_book(cfg, market_state(cfg, market)).nav, rel=1e-15)


def test_a_holding_without_a_series_is_refused_naming_its_key(ed):
    before = ed.config
    with pytest.raises(ConfigError, match=r"book\.holdings\[10\]\.ticker: got 'ZZZ'.*AAPL"):
        ed.add_holding("ZZZ", "100")
    _unchanged(ed, before)


def test_an_underlying_without_a_series_is_refused(ed):
    before = ed.config
    with pytest.raises(ConfigError, match=r"book\.hedges\[3\]\.underlying: got 'ZZZ'"):
        ed.add_hedge({"name": "z", "instrument": "equity", "underlying": "ZZZ", "quantity": 1})
    _unchanged(ed, before)


def test_an_option_expired_at_the_as_of_date_is_refused(ed, market):
    asof = market_state(ed.config, market).asof
    before = ed.config
    for expiry in (asof, asof - dt.timedelta(days=30)):
        with pytest.raises(
            ConfigError,
            match=rf"book\.hedges\[1\]\.expiry: .*expires {expiry}, "
            rf"on or before the as-of date {asof}",
        ):
            ed.set_field("hedge", 1, "expiry", expiry.isoformat())
        _unchanged(ed, before)
    later = (asof + dt.timedelta(days=1)).isoformat()
    assert ed.set_field("hedge", 1, "expiry", later).book.hedges[1].expiry.isoformat() == later


def test_a_shock_on_a_ticker_the_data_lacks_is_refused(ed):
    before = ed.config
    with pytest.raises(
        ConfigError,
        match=r"shock SPX: got 'SPX', expected \"market\" or a "
        r"ticker.*SP500",
    ):
        ed.shock("SPX", "-0.1")
    _unchanged(ed, before)
    ed.shock("SP500", "-0.1")
    assert ed.shocks == {"SP500": -0.1}


def test_save_refuses_a_book_the_data_cannot_value_and_keeps_the_edits(path, market):
    data = {"market": market}
    ed = BookEditor(load_config(path), check=lambda cfg, sh: check_book(cfg, data["market"], sh))
    original = path.read_bytes()
    ed.nudge("holding", 0)
    edited = ed.config
    # the data is reloaded and KO is gone: the book no longer values
    data["market"] = MarketData.from_series([s for t, s in market.series.items() if t != "KO"])
    with pytest.raises(
        HedgedeskError,
        match=r"not saved, the book does not value: .*"
        r"got 'KO', expected a ticker in the market data.*your edits are kept",
    ):
        ed.save()
    assert path.read_bytes() == original and ed.config is edited and ed.dirty
    assert not last_good_path(path).exists()


def test_each_save_keeps_a_last_good_copy_that_restores(ed, path):
    ed.nudge("holding", 0)
    ed.save()
    good = last_good_path(path).read_bytes()
    assert good == path.read_bytes()
    broken = b"[book\nthis is not TOML"
    path.write_bytes(broken)
    rejected = restore_last_good(path)
    assert path.read_bytes() == good and rejected.read_bytes() == broken
    assert load_config(path).book == ed.config.book


def test_restore_without_a_last_good_copy_says_so(path):
    with pytest.raises(HedgedeskError, match=r"no last good copy \(config\.toml\.last-good\)"):
        restore_last_good(path)

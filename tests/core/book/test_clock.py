"""The replay clock: sessions from the data, clamped steps, speeds, and an as-of that really
moves (the book is valued on that day's close, with nothing after it).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from hedgedesk.core.book.clock import SPEEDS, ReplayClock, at
from hedgedesk.core.book.risk import risk_report
from hedgedesk.core.book.valuation import market_state
from hedgedesk.core.config import load_config, resolve_config_path
from hedgedesk.core.data.sources import load_market
from hedgedesk.core.demo import demo_dir
from hedgedesk.core.errors import DataError


@pytest.fixture(scope="module")
def demo():
    cfg = load_config(resolve_config_path())
    return cfg, load_market(cfg)


def test_sessions_are_the_benchmarks_closes_in_range(demo):
    cfg, market = demo
    clock = ReplayClock.for_desk(cfg, market)
    index = pd.read_csv(demo_dir() / "sp500_index.csv.gz", index_col=0, parse_dates=True)
    want = [d.date() for d in index.index if d.date() >= cfg.data.start]
    assert list(clock.sessions) == want
    assert clock.day == want[-1 - 252]
    assert clock.step(10**6) == want[-1] and clock.at_end
    assert clock.step(-(10**6)) == want[0]


def test_speeds_climb_and_fall_within_bounds(demo):
    clock = ReplayClock.for_desk(*demo)
    assert [clock.faster() for _ in range(len(SPEEDS) + 1)][-1] == SPEEDS[-1]
    assert [clock.slower() for _ in range(len(SPEEDS) + 1)][-1] == SPEEDS[0]


def test_a_replay_day_values_the_book_on_that_close(demo):
    cfg, market = demo
    clock = ReplayClock.for_desk(cfg, market)
    day = clock.step(5)
    state = market_state(at(cfg, day), market)
    assert state.asof == day
    closes = pd.read_csv(demo_dir() / "sp500_dataset.csv.gz", index_col=0, parse_dates=True)
    assert state.closes["AAPL"] == closes.loc[pd.Timestamp(day), "AAPL"]
    assert state.returns.index[-1].date() == day  # nothing after the replay day
    report = risk_report(at(cfg, day), state)
    assert report.valuation.asof == day


def test_too_short_a_history_is_refused(demo):
    cfg, market = demo
    first = cfg.data.start
    with pytest.raises(DataError, match="fewer than two sessions"):
        ReplayClock.for_desk(at(cfg, first + dt.timedelta(days=0)), market)

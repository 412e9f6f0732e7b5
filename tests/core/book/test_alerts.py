"""The desk's alerts (core/book/alerts.py): the limit checks, the option-coverage check against the
plan's ranges, the monitors' flags and the session's log.

Witnesses: coverage computed here by hand from the price file and the positions (core value =
shares x close of the holdings; long put notional and short call notional = contracts x
multiplier x close), the plan's ranges as the plan states them (puts 20-30 %, covered calls
10-20 % of the core), and hand-made alert sequences for the log.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from types import SimpleNamespace

import pandas as pd
import pytest

from hedgedesk.core.book.alerts import (
    ABOVE,
    BELOW,
    Alert,
    AlertLog,
    check_limits,
    format_value,
)
from hedgedesk.core.book.plan import coverage
from hedgedesk.core.book.risk import risk_report
from tests.core.book.test_risk import desk, synthetic_prices

# -- the checks on stand-in figures ---------------------------------------------------------------
TARGETS = SimpleNamespace(
    beta=0.5,
    beta_band=0.05,
    volatility=0.10,
    var_limit=0.02,
    max_drawdown=0.20,
    put_coverage=0.25,
    call_coverage=0.15,
)


def figures(beta=0.5, var=0.01, vol=0.08, mdd=-0.05, band=0.05):
    from hedgedesk.core.book.valuation import BetaStatus

    val = SimpleNamespace(beta_status=BetaStatus(beta, 0.5, band), positions=())
    perf = SimpleNamespace(annual_volatility=vol, max_drawdown=mdd)
    tail = SimpleNamespace(var=var, confidence=0.95)
    return val, perf, tail


def test_nothing_crossed_no_alert():
    assert check_limits(*figures(), TARGETS) == ()


def test_limits_are_strict_a_figure_on_its_limit_is_no_breach():
    # 0.75 - 0.5 == 0.25 exactly in binary floating point, as are the other three
    assert (
        check_limits(*figures(beta=0.75, var=0.02, vol=0.10, mdd=-0.20, band=0.25), TARGETS) == ()
    )
    assert [a.key for a in check_limits(*figures(beta=0.7500001, band=0.25), TARGETS)] == ["beta"]


@pytest.mark.parametrize(
    "kw, key, what, value, limit, direction",
    [
        ({"beta": 0.61}, "beta", "beta", 0.61, 0.55, ABOVE),
        ({"beta": 0.30}, "beta", "beta", 0.30, 0.45, BELOW),
        ({"var": 0.025}, "var", "VaR 95% 1d", 0.025, 0.02, ABOVE),
        ({"vol": 0.13}, "volatility", "volatility", 0.13, 0.10, ABOVE),
        ({"mdd": -0.202}, "drawdown", "max drawdown", -0.202, -0.20, BELOW),
    ],
)
def test_each_limit_gives_one_structured_alert(kw, key, what, value, limit, direction):
    (a,) = check_limits(*figures(**kw), TARGETS)
    assert (a.key, a.what, a.direction) == (key, what, direction)
    assert a.value == pytest.approx(value, abs=1e-15)
    assert a.limit == pytest.approx(limit, abs=1e-15)
    assert a.arrow == ("↑" if direction == ABOVE else "↓")
    assert a.excess > 0
    assert a.bounds == ((pytest.approx(0.45), pytest.approx(0.55)) if key == "beta" else None)


def test_messages_are_the_cli_sentences():
    alerts = check_limits(*figures(beta=0.61, var=0.025, vol=0.13, mdd=-0.202), TARGETS)
    assert [a.key for a in alerts] == ["beta", "var", "volatility", "drawdown"]
    assert [a.message for a in alerts] == [
        "beta BREACH ↑ 0.61 is above 0.50 ± 0.05",
        "VaR BREACH: 1-day historical VaR 95% 2.50% of NAV > limit 2.00%",
        "VOL ABOVE TARGET: 13.0% > 10.0% (annualised, constant positions)",
        "DRAWDOWN: -20.2% over the window, limit -20%",
    ]
    assert [(a.value_text, a.limit_text) for a in alerts] == [
        ("+0.61", "0.50±0.05"),
        ("2.50%", "2.00%"),
        ("13.0%", "10.0%"),
        ("-20.2%", "-20.0%"),
    ]


def test_nan_figures_cross_nothing():
    assert check_limits(*figures(vol=math.nan, mdd=math.nan), TARGETS) == ()


def test_format_value_per_kind():
    assert [
        format_value(k, x)
        for k, x in (
            ("beta", 0.514),
            ("beta", -0.2),
            ("var", 0.0152),
            ("volatility", 0.1234),
            ("drawdown", -0.2021),
            ("put_coverage", 0.671),
        )
    ] == ["+0.51", "-0.20", "1.52%", "12.3%", "-20.2%", "67.1%"]


# -- option coverage -----------------------------------------------------------------------------
# every other limit wide open: only the coverage checks can speak
QUIET = (
    "[risk]\nvar_window = 120\nbeta_window = 60\n"
    "[targets]\nbeta = 0.0\nbeta_band = 100.0\nvolatility = 100.0\nvar_limit = 1.0\n"
    "max_drawdown = 1.0\n"
)


def option_book(
    close: pd.Series,
    puts: float | None,
    calls: float | None,
    put_target: float = 0.25,
    call_target: float = 0.15,
    long_call: bool = False,
) -> tuple[str, dict]:
    """2000 AAA and 1000 BBB; long BBB puts and short AAA calls (multiplier 1) sized by hand to
    ``puts`` and ``calls`` of the core (None: no such leg); one short MES future that is a
    hedge, never core. Returns the config body and the hand-computed figures.
    """
    core = 2000 * close["AAA"] + 1000 * close["BBB"]
    body = QUIET + (
        f"put_coverage = {put_target!r}\ncall_coverage = {call_target!r}\n"
        "[book]\ncash = 10000.0\n"
        '[[book.holdings]]\nticker = "AAA"\nquantity = 2000\n'
        '[[book.holdings]]\nticker = "BBB"\nquantity = 1000\n'
        '[[book.hedges]]\nname = "fut"\ninstrument = "future"\ncontract = "MES"\n'
        'underlying = "IDX"\nquantity = -1\n'
    )
    n_put = n_call = 0
    if puts is not None:
        n_put = round(puts * core / close["BBB"])
        body += (
            '[[book.hedges]]\nname = "put"\ninstrument = "option"\nright = "put"\n'
            f'underlying = "BBB"\nstrike = {round(close["BBB"])}.0\n'
            f'expiry = "2022-09-16"\nvolatility = 0.3\nmultiplier = 1\nquantity = {n_put}\n'
        )
    if calls is not None:
        n_call = round(calls * core / close["AAA"])
        body += (
            '[[book.hedges]]\nname = "call"\ninstrument = "option"\nright = "call"\n'
            f'underlying = "AAA"\nstrike = {round(close["AAA"] * 1.1)}.0\n'
            'expiry = "2022-09-16"\nvolatility = 0.3\nmultiplier = 1\n'
            f"quantity = {n_call if long_call else -n_call}\n"
        )
    hand = {
        "core": core,
        "puts": n_put * close["BBB"],
        "calls": 0.0 if long_call else n_call * close["AAA"],
    }
    return body, hand


@pytest.fixture
def close(tmp_path):
    synthetic_prices().to_csv(tmp_path / "prices.csv", index_label="date")  # desk() reads it
    prices = pd.read_csv(tmp_path / "prices.csv", index_col="date", parse_dates=True)
    return prices.iloc[-1]


@pytest.mark.parametrize(
    "puts, calls, expected",
    [
        (0.25, 0.15, []),
        (0.21, 0.19, []),
        (0.10, 0.15, [("put_coverage", BELOW, 0.20)]),
        (0.45, 0.15, [("put_coverage", ABOVE, 0.30)]),
        (0.25, 0.05, [("call_coverage", BELOW, 0.10)]),
        (0.25, 0.30, [("call_coverage", ABOVE, 0.20)]),
        (None, 0.15, [("put_coverage", BELOW, 0.20)]),  # no puts at all in a book with options
        (0.25, None, [("call_coverage", BELOW, 0.10)]),  # puts but no covered calls: below plan
        (0.60, 0.02, [("put_coverage", ABOVE, 0.30), ("call_coverage", BELOW, 0.10)]),
    ],
)
def test_coverage_outside_the_plan_range_alerts(tmp_path, close, puts, calls, expected):
    body, hand = option_book(close, puts, calls)
    cfg, state, _ = desk(tmp_path, body)
    rep = risk_report(cfg, state)
    # the engine's coverage is the hand computation (the future and the cash are not core)
    got = coverage(rep.valuation)
    assert got == (
        pytest.approx(hand["core"], rel=1e-12),
        pytest.approx(hand["puts"], rel=1e-12),
        pytest.approx(hand["calls"], rel=1e-12),
    )
    ratio = {
        "put_coverage": hand["puts"] / hand["core"],
        "call_coverage": hand["calls"] / hand["core"],
    }
    assert [(a.key, a.direction, a.limit) for a in rep.alert_items] == expected
    for a in rep.alert_items:
        assert a.value == pytest.approx(ratio[a.key], rel=1e-12)
        lo, hi = (0.20, 0.30) if a.key == "put_coverage" else (0.10, 0.20)
        assert a.bounds == (lo, hi) and a.limit_text == f"{lo:.0%}-{hi:.0%}"
        kind = "long puts" if a.key == "put_coverage" else "covered calls"
        word = "ABOVE" if a.direction == ABOVE else "BELOW"
        assert a.message == (
            f"{a.key.split('_')[0].upper()} COVERAGE {word} PLAN: {kind} cover "
            f"{ratio[a.key]:.1%} of the core, plan {lo:.0%}-{hi:.0%}"
        )
    assert list(rep.alerts) == [a.message for a in rep.alert_items]


def test_a_book_without_options_is_not_nagged(tmp_path, close):
    body, hand = option_book(close, None, None)
    cfg, state, _ = desk(tmp_path, body)
    rep = risk_report(cfg, state)
    assert coverage(rep.valuation) == (pytest.approx(hand["core"], rel=1e-12), 0, 0)
    assert hand["puts"] == hand["calls"] == 0  # no coverage at all...
    assert rep.alert_items == ()  # ...and no alert about it


def test_a_zero_target_opts_out_of_that_kind(tmp_path, close):
    body, _ = option_book(close, None, 0.15, put_target=0.0)
    cfg, state, _ = desk(tmp_path, body)
    assert risk_report(cfg, state).alert_items == ()
    body, _ = option_book(close, 0.25, 0.02, call_target=0.0)
    cfg, state, _ = desk(tmp_path, body, name="calls-off.toml")
    assert risk_report(cfg, state).alert_items == ()


def test_long_calls_are_no_covered_calls(tmp_path, close):
    body, hand = option_book(close, 0.25, 0.15, long_call=True)
    cfg, state, _ = desk(tmp_path, body)
    rep = risk_report(cfg, state)
    assert coverage(rep.valuation)[2] == hand["calls"] == 0.0
    (a,) = rep.alert_items
    assert (a.key, a.value, a.direction) == ("call_coverage", 0.0, BELOW)


# -- the session's log ---------------------------------------------------------------------------
T0 = dt.datetime(2024, 5, 6, 14, 0, 0)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def dd(value: float) -> Alert:
    return Alert("drawdown", "max drawdown", value, -0.20, BELOW, f"DRAWDOWN: {value:.1%}")


def var(value: float) -> Alert:
    return Alert("var", "VaR 95% 1d", value, 0.02, ABOVE, f"VaR {value:.2%}")


def beta(value: float) -> Alert:
    up = value > 0.5
    return Alert(
        "beta",
        "beta",
        value,
        0.55 if up else 0.45,
        ABOVE if up else BELOW,
        f"beta {value:+.2f}",
        (0.45, 0.55),
    )


def test_raised_once_while_active_whatever_the_value():
    log = AlertLog()
    assert log.update([dd(-0.202)], at(0)) == [dd(-0.202)]
    assert log.update([dd(-0.205)], at(1)) == []
    assert log.update([dd(-0.201)], at(2)) == []
    (e,) = log.entries
    assert (e.key, e.what, e.raised, e.value, e.limit, e.cleared, e.active) == (
        "drawdown",
        "max drawdown",
        at(0),
        -0.202,
        -0.20,
        None,
        True,
    )
    assert e.worst == -0.205  # the deepest drawdown seen, not the latest


def test_worst_is_the_highest_for_an_upper_limit():
    log = AlertLog()
    log.update([var(0.021)], at(0))
    log.update([var(0.030)], at(1))
    log.update([var(0.025)], at(2))
    (e,) = log.entries
    assert (e.value, e.worst) == (0.021, 0.030)


def test_clear_then_return_is_a_new_entry():
    log = AlertLog()
    log.update([dd(-0.21), var(0.03)], at(0))
    assert log.update([var(0.03)], at(3)) == []  # drawdown clears
    first = log.entries[0]
    assert (first.key, first.cleared, first.active) == ("drawdown", at(3), False)
    assert [e.key for e in log.active] == ["var"]
    assert log.update([var(0.03), dd(-0.22)], at(5)) == [dd(-0.22)]  # back: raised again
    assert [(e.key, e.raised, e.cleared) for e in log.entries] == [
        ("drawdown", at(0), at(3)),
        ("var", at(0), None),
        ("drawdown", at(5), None),
    ]
    assert log.update([], at(7)) == []
    assert all(not e.active for e in log.entries)
    assert [e.cleared for e in log.entries] == [at(3), at(7), at(7)]


def test_beta_crossing_the_whole_band_stays_one_alert():
    log = AlertLog()
    log.update([beta(0.60)], at(0))
    assert log.update([beta(0.30)], at(1)) == []  # from above to below without clearing
    (e,) = log.entries
    assert (e.value, e.worst, e.direction) == (0.60, 0.30, ABOVE)  # 0.15 beyond beats 0.05


def test_duplicate_keys_are_refused():
    with pytest.raises(ValueError, match="drawdown"):
        AlertLog().update([dd(-0.21), dd(-0.22)], at(0))


def test_raises_and_clears_are_logged_with_value_and_limit(caplog):
    caplog.set_level(logging.INFO, logger="hedgedesk.alerts")
    log = AlertLog()
    log.update([dd(-0.202)], at(0))
    log.update([dd(-0.215)], at(1))
    log.update([], at(2))
    recs = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
    assert recs == [
        (
            "hedgedesk.alerts",
            "WARNING",
            "alert raised: max drawdown -20.2% ↓, limit -20.0%: DRAWDOWN: -20.2%",
        ),
        (
            "hedgedesk.alerts",
            "INFO",
            "alert cleared: max drawdown (raised 14:00:00 at -20.2%, worst -21.5%, limit -20.0%)",
        ),
    ]


def test_listeners_hear_every_change_and_only_changes():
    log = AlertLog()
    heard = []
    stop = log.subscribe(lambda: heard.append(len(log.entries)))
    log.update([dd(-0.21)], at(0))  # raise
    log.update([dd(-0.21)], at(1))  # nothing new
    log.update([dd(-0.25)], at(2))  # worse
    log.update([dd(-0.22)], at(3))  # better, still active: nothing to show
    log.update([], at(4))  # clear
    assert heard == [1, 1, 1]
    stop()
    log.update([dd(-0.21)], at(5))
    assert heard == [1, 1, 1]

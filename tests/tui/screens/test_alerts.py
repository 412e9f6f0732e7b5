"""The alerts screen (tui/screens/alerts.py) at 80x24, driven by the keyboard, and the CLI's
``alert_items`` beside its ``alerts``.

The log is fed hand-made alerts at set times, so every cell is known before the screen shows
it: times as HH:MM:SS, beta signed to 2 decimals, VaR in % to 2 decimals, the rest in % to 1.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace

import pytest
from textual.widgets import DataTable, Static

from hedgedesk.core.book.alerts import ABOVE, BELOW, Alert, AlertLog
from hedgedesk.tui.screens.alerts import COLUMNS, EMPTY, AlertsScreen
from hedgedesk.tui.screens.help import HelpScreen
from tests.tui.conftest import ScreenHost

T0 = dt.datetime(2024, 5, 6, 14, 1, 5)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


DD = Alert(
    "drawdown",
    "max drawdown",
    -0.2021,
    -0.20,
    BELOW,
    "DRAWDOWN: -20.2% over the window, limit -20%",
)
BETA = Alert(
    "beta", "beta", 0.6149, 0.55, ABOVE, "beta BREACH ↑ 0.61 is above 0.50 ± 0.05", (0.45, 0.55)
)
VAR = Alert(
    "var",
    "VaR 95% 1d",
    0.02534,
    0.02,
    ABOVE,
    "VaR BREACH: 1-day historical VaR 95% 2.53% of NAV > limit 2.00%",
)
CALLS = Alert(
    "call_coverage",
    "call coverage",
    0.0,
    0.10,
    BELOW,
    "CALL COVERAGE BELOW PLAN: covered calls cover 0.0% of the core, plan 10%-20%",
    (0.10, 0.20),
)


def rows(app: ScreenHost) -> list[dict[str, str]]:
    table = app.pushed.query_one("#alerts-table", DataTable)
    return [
        dict(zip(COLUMNS, (str(c) for c in table.get_row_at(i)), strict=True))
        for i in range(table.row_count)
    ]


def detail(app: ScreenHost) -> str:
    return str(app.pushed.query_one("#alerts-detail", Static).content)


def session() -> AlertLog:
    log = AlertLog()
    log.update([DD, BETA], at(0))  # 14:01:05
    log.update([replace(DD, value=-0.2155)], at(1))  # worse; beta clears
    return log


async def test_rows_show_time_what_value_worst_limit_and_status():
    log = session()
    app = ScreenHost(AlertsScreen(log))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert rows(app) == [  # newest first: both were raised at 14:01:05, beta is the later
            {
                "Raised": "14:01:05",
                "What": "beta",
                "Value": "+0.61",
                "Worst": "+0.61",
                "Limit": "0.50±0.05",
                "Status": "cleared 14:02",
            },
            {
                "Raised": "14:01:05",
                "What": "max drawdown",
                "Value": "-20.2%",
                "Worst": "-21.6%",
                "Limit": "-20.0%",
                "Status": "ACTIVE ↓",
            },
        ]
        assert detail(app) == BETA.message  # the highlighted row's full sentence
        await pilot.press("down")
        assert detail(app) == DD.message
        title = str(app.pushed.query_one("#alerts-title", Static).content)
        assert "1 active, 1 cleared" in title


async def test_every_column_fits_80_columns():
    log = session()
    log.update([DD, VAR, CALLS], at(2))
    app = ScreenHost(AlertsScreen(log))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table = app.pushed.query_one("#alerts-table", DataTable)
        assert table.virtual_size.width <= table.size.width <= 80  # no sideways scrolling
        assert len(table.columns) == len(COLUMNS)
        got = rows(app)
        assert [r["What"] for r in got] == ["call coverage", "VaR 95% 1d", "beta", "max drawdown"]
        assert (got[0]["Value"], got[0]["Limit"], got[0]["Status"]) == (
            "0.0%",
            "10%-20%",
            "ACTIVE ↓",
        )
        assert (got[1]["Value"], got[1]["Limit"], got[1]["Status"]) == (
            "2.53%",
            "2.00%",
            "ACTIVE ↑",
        )


async def test_follows_the_log_while_open():
    log = session()
    app = ScreenHost(AlertsScreen(log))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert len(rows(app)) == 2
        assert log.update([VAR], at(4)) == [VAR]  # drawdown clears, VaR is raised
        await pilot.pause()
        got = rows(app)
        assert [(r["What"], r["Status"]) for r in got] == [
            ("VaR 95% 1d", "ACTIVE ↑"),
            ("beta", "cleared 14:02"),
            ("max drawdown", "cleared 14:05"),
        ]
    assert log._listeners == []  # the closed screen no longer listens


async def test_an_empty_session_says_so():
    app = ScreenHost(AlertsScreen(AlertLog()))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert rows(app) == []
        assert detail(app) == EMPTY


@pytest.mark.parametrize("key", ["escape", "q"])
async def test_esc_and_q_close(key):
    app = ScreenHost(AlertsScreen(session()))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.screen is app.pushed
        await pilot.press(key)
        await pilot.pause()
        assert app.screen is not app.pushed


async def test_question_mark_opens_the_help():
    app = ScreenHost(AlertsScreen(session()))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)


# -- the CLI: alert_items beside alerts ------------------------------------------------------------
def test_risk_json_alert_items_match_the_alerts(capsys):
    """The demo book's coverage by hand from the demo price files: two SPX puts and three
    written AAPL calls (multiplier 100) against the ten holdings' value on 2022-12-28.
    """
    import pandas as pd

    from hedgedesk.core.demo import demo_dir
    from hedgedesk.tui.cli.main import main

    frames = [
        pd.read_csv(demo_dir() / f, index_col=0, parse_dates=True)
        for f in ("sp500_dataset.csv.gz", "sp500_index.csv.gz")
    ]
    close = frames[0].join(frames[1], how="inner").loc[pd.Timestamp("2022-12-28")]
    hold = {
        "AAPL": 1500,
        "MSFT": 700,
        "AMD": 1500,
        "JPM": 800,
        "UNH": 200,
        "LLY": 250,
        "XOM": 1000,
        "HD": 300,
        "PG": 600,
        "KO": 1500,
    }
    core = sum(q * close[t] for t, q in hold.items())
    puts, calls = 2 * 100 * close["SP500"] / core, 3 * 100 * close["AAPL"] / core
    assert puts > 0.30 and calls < 0.10  # above and below the plan's ranges

    assert main(["risk", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    items = out["alert_items"]
    assert [a["message"] for a in items] == out["alerts"]  # the old key keeps its sentences
    assert [(a["key"], a["direction"], a["arrow"], a["limit"], a["bounds"]) for a in items] == [
        ("put_coverage", "above", "↑", 0.30, [0.20, 0.30]),
        ("call_coverage", "below", "↓", 0.10, [0.10, 0.20]),
    ]
    assert [a["value"] for a in items] == [
        pytest.approx(puts, rel=1e-12),
        pytest.approx(calls, rel=1e-12),
    ]
    assert out["alerts"] == [
        f"PUT COVERAGE ABOVE PLAN: long puts cover {puts:.1%} of the core, plan 20%-30%",
        f"CALL COVERAGE BELOW PLAN: covered calls cover {calls:.1%} of the core, plan 10%-20%",
    ]

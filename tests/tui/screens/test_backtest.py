"""The backtest screen, by keys: its figures and rebalance rows equal core's run_backtest for the
parameters on screen, an edit re-runs, a bad request is a message, never a crash.
"""

from __future__ import annotations

from textual.widgets import DataTable, Static

from hedgedesk.core.sweep.backtest import run_backtest
from hedgedesk.tui.screens.backtest import FIELDS, BacktestScreen
from tests.tui.conftest import ScreenHost, in_view, settle


def witness(cfg, market, **changes):
    """Core's result for the screen's default parameters, computed here from scratch."""
    params = {
        "long": [cfg.book.holdings[0].ticker],
        "hedge": cfg.data.benchmark,
        "rebalance": 5,
        "window": 60,
        **changes,
    }
    return run_backtest(market, rf=cfg.risk.rf, start=cfg.data.start, end=cfg.data.end, **params)


def expected_lines(res) -> list[str]:
    """The CLI's figure lines (``hedgedesk backtest``), written out independently."""
    m = res.metrics
    return [
        f"{label:<10} return {d['annual_return']:7.2%}  vol {d['annual_volatility']:6.2%}  "
        f"Sharpe {d['sharpe']:5.2f}  max DD {d['max_drawdown']:7.2%}"
        for label, d in (("hedged", m), ("unhedged", m["unhedged"]), ("benchmark", m["benchmark"]))
    ]


def text(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def table_rows(app) -> list[tuple[str, str]]:
    table = app.screen.query_one("#bt-table", DataTable)
    return [(str(r[0]), str(r[1])) for r in (table.get_row_at(i) for i in range(table.row_count))]


def core_rows(res) -> list[tuple[str, str]]:
    return [(str(d.date()), f"{b:+.3f}") for d, b in res.rebalances["beta"].items()]


async def to_field(pilot, app, field: str) -> None:
    """By keys: ``e`` into the form (unless there already), then tab to the field."""
    form = app.screen.fields
    box = form.input(field)
    if app.focused is None or form not in app.focused.ancestors:
        await pilot.press("e")
    for _ in range(2 * len(FIELDS)):
        if app.focused is box:
            break
        await pilot.press("tab")
    assert app.focused is box


async def retype(pilot, app, field: str, value: str) -> None:
    """Go to a form field, replace its text by keys (end, ctrl+u clears), press enter."""
    await to_field(pilot, app, field)
    await pilot.press("end", "ctrl+u", *value, "enter")
    await settle(app, pilot)


async def test_figures_and_rebalances_equal_core_and_an_edit_reruns(desk):
    cfg, market = desk
    app = ScreenHost(BacktestScreen(cfg, market))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        res = witness(cfg, market)
        shown = text(app, "#bt-metrics")
        for line in expected_lines(res):
            assert line in shown
        rebal = res.rebalances
        assert f"{int(rebal['traded'].sum())} trades over {len(rebal)} scheduled" in shown
        assert table_rows(app) == core_rows(res)  # one row per scheduled rebalance
        assert str(res.dates[0].date()) in text(app, "#bt-title")

        await retype(pilot, app, "window", "120")
        res120 = witness(cfg, market, window=120)
        shown = text(app, "#bt-metrics")
        for line in expected_lines(res120):
            assert line in shown
        assert table_rows(app) == core_rows(res120)
        assert len(res120.rebalances) != len(rebal)  # the witness tells the windows apart

        # v swaps the chart at 80 columns: one shows, the other is hidden
        equity, beta = (app.screen.query_one(f"#bt-{c}") for c in ("equity", "beta"))
        await pilot.press("escape")  # v is a letter in the form: back to the results first
        assert app.focused is app.screen.query_one("#bt-table", DataTable)
        assert equity.display and not beta.display
        await pilot.press("v")
        assert beta.display and not equity.display


async def test_preset_params_and_errors_stay_in_the_screen(desk):
    cfg, market = desk
    app = ScreenHost(
        BacktestScreen(cfg, market, {"long": ["MSFT", "JPM"], "rebalance": 21, "cost": 0.0005})
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        res = witness(cfg, market, long=["MSFT", "JPM"], rebalance=21, cost=0.0005)
        for line in expected_lines(res):
            assert line in text(app, "#bt-metrics")

        # an edit without enter re-runs once typing pauses
        await to_field(pilot, app, "rebalance")
        await pilot.press("end", "backspace", "backspace", "1", "0")
        await pilot.pause(1.0)
        await settle(app, pilot)
        res = witness(cfg, market, long=["MSFT", "JPM"], rebalance=10, cost=0.0005)
        for line in expected_lines(res):
            assert line in text(app, "#bt-metrics")

        await retype(pilot, app, "hedge", "NOPE")
        shown = text(app, "#form-error")
        assert shown.startswith("error: NOPE") and "unknown ticker" in shown
        assert "no result" in text(app, "#bt-metrics")
        assert "return" not in text(app, "#bt-metrics")  # no figures of an earlier run
        assert app.screen.query_one("#bt-table", DataTable).row_count == 0  # nothing stale

        await retype(pilot, app, "hedge", cfg.data.benchmark)
        assert app.screen.fields.error == ""  # a good run clears the error
        await retype(pilot, app, "window", "99999")
        assert "too little history" in text(app, "#form-error")
        await to_field(pilot, app, "long")  # the bad field is found from anywhere in the form
        await retype(pilot, app, "window", "6o")
        assert "W: expected a whole number" in text(app, "#form-error")
        window = app.screen.fields.input("window")
        assert app.screen.fields.invalid == "window" and window.has_class("-invalid")

        assert app.is_running and isinstance(app.screen, BacktestScreen)
        await pilot.press("escape", "escape")  # the form, then the screen
        await pilot.pause()
        assert not isinstance(app.screen, BacktestScreen)


async def test_keys_stay_with_the_results_and_the_form_fits_80x24(desk):
    cfg, market = desk
    app = ScreenHost(BacktestScreen(cfg, market))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        table = screen.query_one("#bt-table", DataTable)
        form = screen.fields
        before = form.values()
        assert app.focused is table
        await pilot.press("v")  # the chart swaps; nothing is typed into the form
        assert screen.query_one("#bt-beta").display
        await pilot.press("question_mark")
        await pilot.pause()
        lines = "\n".join(app.screen._lines)
        assert "Equity/beta" in lines and "Edit the form" in lines
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen and form.values() == before

        await pilot.press("e")
        hint = form.query_one(".form-hint.-active", Static)
        scroll = form.query_one(".form-fields")
        for i, (key, _) in enumerate(FIELDS):
            if i:
                await pilot.press("tab")
                await pilot.pause()
            assert app.focused is form.input(key)
            assert in_view(app, app.focused, scroll) and in_view(app, hint), key
        await pilot.press("end", "ctrl+u", *"-1", "enter")  # d (drift band) -1: core refuses
        await settle(app, pilot)
        error = form.query_one("#form-error", Static)
        assert "drift" in str(error.render()) and in_view(app, error, form)
        assert form.invalid == "drift_band" and app.focused is form.input("drift_band")
        await pilot.press("escape")  # back to the results; a second Esc would leave
        await pilot.pause()
        assert app.focused is table and app.screen is screen
        await pilot.press("q")
        await pilot.pause()
        assert app.screen is not screen

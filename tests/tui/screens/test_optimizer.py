"""The optimiser screen by keys: the weights shown are core's for the same request (built here
from the config, independently of the screen), an edit re-solves, an infeasible setting shows
core's explanation and the screen carries on, the frontier chart traces core's frontier.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from textual.widgets import DataTable, Static

from hedgedesk.core.limits import Group
from hedgedesk.core.optimize.engine import run
from hedgedesk.core.optimize.problem import OptimizationError
from hedgedesk.core.optimize.request import OptimizeRequest, book_weights
from hedgedesk.tui.screens.help import HelpScreen
from hedgedesk.tui.screens.optimizer import FIELDS, OptimizerScreen
from tests.tui.conftest import ScreenHost, in_view, settle


def request(cfg, market, **changes) -> OptimizeRequest:
    """What ``hedgedesk optimize`` with no flags solves for the demo config, from its fields."""
    o = cfg.optimizer
    req = OptimizeRequest(
        tickers=cfg.data.universe,
        objective=o.objective,
        long_only=o.long_only,
        min_weight=o.min_weight,
        max_weight=o.max_weight,
        vol_cap=o.vol_cap,
        net=o.net,
        groups=tuple(Group(g.name, g.tickers, g.min, g.max) for g in o.groups),
        benchmark=cfg.data.benchmark,
        rf=cfg.risk.rf,
        points=o.points,
        risk_aversion=o.risk_aversion,
        confidence=o.cvar_confidence,
        kelly_fraction=o.kelly_fraction,
        budgets=o.budgets,
        tau=o.tau,
        prior=o.prior,
        start=cfg.data.start,
        end=cfg.data.end,
        current=book_weights(cfg, market),
    )
    return replace(req, **changes)


def shown(app) -> dict[str, str]:
    table = app.screen.query_one("#opt-table", DataTable)
    return {
        str(table.get_row_at(i)[0]): str(table.get_row_at(i)[1]) for i in range(table.row_count)
    }


def expected(cfg, market, **changes) -> dict[str, str]:
    """Core's weights as the CLI prints them: every weight above 1e-6, and the book's
    holdings the solution sells out of.
    """
    p = run(request(cfg, market, **changes), market, cfg).portfolio
    current = book_weights(cfg, market)
    return {t: f"{w:.2%}" for t, w in p.weights.items() if abs(w) > 1e-6 or t in current}


def text(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def retype(app, pilot, key: str, value: str, enter: bool = True) -> None:
    """By keys: ``e`` into the form (unless there already), tab to the field, clear it (end,
    ctrl+u), type the value, and enter unless told not to.
    """
    form = app.screen.fields
    box = form.input(key)
    if app.focused is None or form not in app.focused.ancestors:
        await pilot.press("e")
    for _ in range(2 * len(FIELDS)):
        if app.focused is box:
            break
        await pilot.press("tab")
    assert app.focused is box
    await pilot.press("end", "ctrl+u", *value, *(["enter"] if enter else []))


async def test_weights_equal_core_edits_resolve_and_escape_pops(desk):
    cfg, market = desk
    app = ScreenHost(OptimizerScreen(cfg, market))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, OptimizerScreen)
        assert shown(app) == expected(cfg, market)
        p = run(request(cfg, market), market, cfg).portfolio
        summary = text(app, "#opt-summary")
        assert (
            f"return {p.expected_return:.2%}  vol {p.volatility:.2%}  Sharpe {p.sharpe:.2f}"
        ) in summary
        assert all(b in " ".join(text(app, "#opt-detail-text").split()) for b in p.binding)
        table = app.screen.query_one("#opt-table", DataTable)
        assert table.virtual_size.width <= table.size.width  # every column shows at 80x24

        # a newer edit supersedes a solve in flight: the screen ends on the newer one's
        await retype(app, pilot, "max_weight", "0.3")
        await retype(app, pilot, "max_weight", "0.25")
        await settle(app, pilot)
        assert expected(cfg, market, max_weight=0.25) != expected(cfg, market)
        assert shown(app) == expected(cfg, market, max_weight=0.25)

        # typing alone re-solves after the pause, no Enter needed
        await retype(app, pilot, "objective", "min-variance", enter=False)
        await pilot.pause(0.5)
        await settle(app, pilot)
        assert shown(app) == expected(cfg, market, max_weight=0.25, objective="min-variance")

        await retype(app, pilot, "vol_cap", "abc")  # a typo: said in words, nothing solved
        await settle(app, pilot)
        assert "NOT SOLVED: vol cap: invalid number 'abc'" in text(app, "#form-error")
        assert app.screen.fields.invalid == "vol_cap"
        await retype(app, pilot, "vol_cap", "")  # blank: no cap
        await settle(app, pilot)
        assert app.screen.fields.error == "" and app.screen.fields.invalid is None
        assert shown(app) == expected(
            cfg, market, max_weight=0.25, objective="min-variance", vol_cap=None
        )

        await pilot.press("escape")  # out of the form, back to the results
        await pilot.pause()
        assert isinstance(app.screen, OptimizerScreen)
        assert app.focused is app.screen.query_one("#opt-table", DataTable)
        await pilot.press("escape")  # and out of the screen
        await pilot.pause()
        assert not isinstance(app.screen, OptimizerScreen)


async def test_infeasible_shows_cores_explanation_and_recovers(desk):
    cfg, market = desk
    with pytest.raises(OptimizationError) as caught:
        run(request(cfg, market, max_weight=0.03), market, cfg)
    err = caught.value
    app = ScreenHost(OptimizerScreen(cfg, market))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await retype(app, pilot, "max_weight", "0.03")  # 20 assets x 3 % < 100 %
        await settle(app, pilot)
        detail = text(app, "#opt-detail-text")
        assert detail.startswith("NO SOLUTION")
        for reason in err.reasons:
            assert f"- {reason}" in detail
        assert f"fix: {err.suggestion}" in detail
        assert app.screen.query_one("#opt-table", DataTable).row_count == 0  # no stale weights
        assert "NO SOLUTION" in text(app, "#opt-title")

        await retype(app, pilot, "max_weight", "0.15")  # back to feasible: the app carried on
        await settle(app, pilot)
        assert app.is_running
        assert shown(app) == expected(cfg, market)


async def test_a_value_the_request_refuses_is_named_in_the_form(desk):
    cfg, market = desk
    app = ScreenHost(OptimizerScreen(cfg, market))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await retype(app, pilot, "max_weight", "-0.5")  # the config refuses it too
        await settle(app, pilot)
        assert "NOT SOLVED: max weight: got -0.5, expected a finite number > 0 and <= 1" in text(
            app, "#form-error"
        )
        assert app.screen.fields.invalid == "max_weight"
        assert shown(app) == expected(cfg, market)  # the last solve stays
        await retype(app, pilot, "max_weight", "0.25")
        await settle(app, pilot)
        assert app.screen.fields.invalid is None
        assert shown(app) == expected(cfg, market, max_weight=0.25)


async def test_frontier_objective_and_chart(desk):
    cfg, market = desk
    app = ScreenHost(OptimizerScreen(cfg, market))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await retype(app, pilot, "points", "6")
        await retype(app, pilot, "objective", "frontier")
        await settle(app, pilot)
        front = run(request(cfg, market, objective="frontier", points=6), market, cfg).frontier
        table = app.screen.query_one("#opt-table", DataTable)
        assert [str(table.get_row_at(i)[2]) for i in range(table.row_count)] == [
            f"{pt.portfolio.volatility:.2%}" for pt in front
        ]

        await retype(app, pilot, "objective", "max-sharpe")
        await settle(app, pilot)
        await pilot.press("escape")  # f is a letter in the inputs: back to the results first
        await pilot.press("f")
        await settle(app, pilot)
        assert app.screen.query_one("#opt-chart").display
        assert not table.display
        p = run(request(cfg, market, points=6), market, cfg).portfolio
        assert (
            f"* this solution: vol {p.volatility:.2%}, return {p.expected_return:.2%}"
            in " ".join(text(app, "#opt-caption").split())
        )
        await pilot.press("f")
        assert table.display


async def test_the_screens_keys_never_type_into_the_form(desk):
    cfg, market = desk
    app = ScreenHost(OptimizerScreen(cfg, market))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        table = screen.query_one("#opt-table", DataTable)
        objective = screen.fields.input("objective")
        before = objective.value
        assert before == cfg.optimizer.objective
        assert app.focused is table  # the results, not the form
        idle = screen.query_one("#opt-form .form-hint.-idle", Static)
        assert "e edit form" in str(idle.render()) and in_view(app, idle)

        await pilot.press("f")  # the chart, not a letter in the objective
        await settle(app, pilot)
        assert screen.query_one("#opt-chart").display and objective.value == before
        await pilot.press("f")
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert "Frontier chart" in "\n".join(app.screen._lines)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen and objective.value == before

        await pilot.press("e")  # into the form: its first field
        await pilot.pause()
        assert app.focused is objective
        active = screen.query_one("#opt-form .form-hint.-active", Static)
        assert "Esc: results" in str(active.render())
        assert in_view(app, active) and idle.region.height == 0  # the hint says what Esc does
        await pilot.press("escape")  # back to the results, the screen stays
        await pilot.pause()
        assert app.focused is table and app.screen is screen
        await pilot.press("q")  # q leaves from the results
        await pilot.pause()
        assert app.screen is not screen and objective.value == before


async def test_the_form_scrolls_at_80x24_with_its_hint_and_error_in_view(desk):
    cfg, market = desk
    app = ScreenHost(OptimizerScreen(cfg, market))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        form = app.screen.fields
        scroll = form.query_one(".form-fields")
        hint = form.query_one(".form-hint.-active", Static)
        await pilot.press("e")
        for i, f in enumerate(FIELDS):  # 18 fields in 22 rows, with the hint below them
            if i:
                await pilot.press("tab")
                await pilot.pause()
            assert app.focused is form.input(f.key)
            assert in_view(app, app.focused, scroll), f.key
            assert in_view(app, hint)
        await retype(app, pilot, "vol_cap", "abc")  # Enter: the error, in view, names it
        await settle(app, pilot)
        error = form.query_one("#form-error", Static)
        assert "vol cap" in str(error.render()) and in_view(app, error, form)
        assert app.focused is form.input("vol_cap") and in_view(app, app.focused, scroll)
        # Enter in the first field: the bad field further down is scrolled to and focused
        await retype(app, pilot, "objective", "max-sharpe")
        await settle(app, pilot)
        assert form.invalid == "vol_cap"
        assert app.focused is form.input("vol_cap") and in_view(app, app.focused, scroll)
        assert in_view(app, error, form) and in_view(app, hint)
        await pilot.press("escape", "e")  # e goes back to the field left last
        assert app.focused is form.input("vol_cap")

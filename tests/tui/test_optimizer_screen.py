"""The optimiser screen by keys: the weights shown are core's for the same request (built here
from the config, independently of the screen), an edit re-solves, an infeasible setting shows
core's explanation and the screen carries on, the frontier chart traces core's frontier."""

from __future__ import annotations

from dataclasses import replace

import pytest
from textual.app import App
from textual.widgets import DataTable, Input, Static

from core.config import load_config, resolve_config_path
from core.optimize import OptimizeRequest, book_weights, run
from core.portfolio import Group, OptimizationError
from core.sources import load_market
from tui.optimizer_screen import OptimizerScreen


@pytest.fixture(scope="module")
def desk():
    """The demo config and its market data (local files: no network)."""
    cfg = load_config(resolve_config_path())
    return cfg, load_market(cfg)


class Host(App):
    def __init__(self, screen: OptimizerScreen):
        super().__init__()
        self.optimizer = screen

    def on_mount(self) -> None:
        self.push_screen(self.optimizer)


async def settle(app, pilot):
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


def request(cfg, market, **changes) -> OptimizeRequest:
    """What ``hedgedesk optimize`` with no flags solves for the demo config, from its fields."""
    o = cfg.optimizer
    req = OptimizeRequest(
        tickers=cfg.data.universe, objective=o.objective, long_only=o.long_only,
        min_weight=o.min_weight, max_weight=o.max_weight, vol_cap=o.vol_cap, net=o.net,
        groups=tuple(Group(g.name, g.tickers, g.min, g.max) for g in o.groups),
        benchmark=cfg.data.benchmark, rf=cfg.risk.rf, points=o.points,
        risk_aversion=o.risk_aversion, confidence=o.cvar_confidence,
        kelly_fraction=o.kelly_fraction, budgets=o.budgets, tau=o.tau, prior=o.prior,
        start=cfg.data.start, end=cfg.data.end, current=book_weights(cfg, market))
    return replace(req, **changes)


def shown(app) -> dict[str, str]:
    table = app.screen.query_one("#opt-table", DataTable)
    return {str(table.get_row_at(i)[0]): str(table.get_row_at(i)[1])
            for i in range(table.row_count)}


def expected(cfg, market, **changes) -> dict[str, str]:
    """Core's weights as the CLI prints them: every weight above 1e-6, and the book's
    holdings the solution sells out of."""
    p = run(request(cfg, market, **changes), market, cfg).portfolio
    current = book_weights(cfg, market)
    return {t: f"{w:.2%}" for t, w in p.weights.items() if abs(w) > 1e-6 or t in current}


def text(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def retype(app, pilot, key: str, value: str, enter: bool = True) -> None:
    box = app.screen.query_one(f"#opt-{key}", Input)
    box.focus()
    box.value = ""
    await pilot.press(*value, *(["enter"] if enter else []))


async def test_weights_equal_core_edits_resolve_and_escape_pops(desk):
    cfg, market = desk
    app = Host(OptimizerScreen(cfg, market))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, OptimizerScreen)
        assert shown(app) == expected(cfg, market)
        p = run(request(cfg, market), market, cfg).portfolio
        summary = text(app, "#opt-summary")
        assert (f"return {p.expected_return:.2%}  vol {p.volatility:.2%}  Sharpe "
                f"{p.sharpe:.2f}") in summary
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
        assert "NOT SOLVED: vol cap: invalid number 'abc'" in text(app, "#opt-error")
        await retype(app, pilot, "vol_cap", "")  # blank: no cap
        await settle(app, pilot)
        assert text(app, "#opt-error") == ""
        assert shown(app) == expected(cfg, market, max_weight=0.25, objective="min-variance",
                                      vol_cap=None)

        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, OptimizerScreen)


async def test_infeasible_shows_cores_explanation_and_recovers(desk):
    cfg, market = desk
    with pytest.raises(OptimizationError) as caught:
        run(request(cfg, market, max_weight=0.03), market, cfg)
    err = caught.value
    app = Host(OptimizerScreen(cfg, market))
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


async def test_frontier_objective_and_chart(desk):
    cfg, market = desk
    app = Host(OptimizerScreen(cfg, market))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await retype(app, pilot, "points", "6")
        await retype(app, pilot, "objective", "frontier")
        await settle(app, pilot)
        front = run(request(cfg, market, objective="frontier", points=6), market, cfg).frontier
        table = app.screen.query_one("#opt-table", DataTable)
        assert [str(table.get_row_at(i)[2]) for i in range(table.row_count)] == [
            f"{pt.portfolio.volatility:.2%}" for pt in front]

        await retype(app, pilot, "objective", "max-sharpe")
        await settle(app, pilot)
        table.focus()  # f is a letter in the inputs
        await pilot.press("f")
        await settle(app, pilot)
        assert app.screen.query_one("#opt-chart").display
        assert not table.display
        p = run(request(cfg, market, points=6), market, cfg).portfolio
        assert (f"* this solution: vol {p.volatility:.2%}, return {p.expected_return:.2%}"
                in " ".join(text(app, "#opt-caption").split()))
        await pilot.press("f")
        assert table.display

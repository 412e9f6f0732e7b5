"""The desk's report key (R): the report of the screen in view, written in a worker while the
desk stays live, the folder named in a notification; a report it cannot write is a message.
"""

from __future__ import annotations

import json

import pytest

from hedgedesk.core.book.risk import risk_report
from hedgedesk.core.book.valuation import market_state, shocked_state
from hedgedesk.core.config import load_config, resolve_config_path
from hedgedesk.tui.app import DeskApp
from tests.tui.conftest import settle


@pytest.fixture
def reports(tmp_path, monkeypatch):
    monkeypatch.setenv("HEDGEDESK_REPORTS", str(tmp_path))
    return tmp_path


def _only_report(root):
    folders = [p for p in root.iterdir() if p.is_dir()]
    assert len(folders) == 1, folders
    return folders[0], json.loads((folders[0] / "report.json").read_text())


async def test_R_on_the_desk_reports_the_book_as_edited(reports):
    app = DeskApp(load_config(resolve_config_path()))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        app.editor.shock("AAPL", -0.1)  # a what-if the report must carry
        await pilot.press("R")
        await settle(app, pilot)
        folder, doc = _only_report(reports)
        assert folder.name.endswith("-book")
        assert (folder / "report.pdf").stat().st_size > 10_000
        book = doc["sections"]["book"]["figures"]
        state = shocked_state(market_state(app.cfg, app.market), {"AAPL": -0.1})
        assert book["nav"] == pytest.approx(risk_report(app.cfg, state).valuation.nav, rel=1e-12)
        assert book["shocks"] == {"AAPL": -0.1}
        assert any("report written" in n.message for n in app._notifications)


async def test_R_on_the_backtest_screen_reports_its_parameters(reports):
    app = DeskApp(load_config(resolve_config_path()))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("b")
        await settle(app, pilot)
        app.screen.wanted = {**app.screen.wanted, "rebalance": 21}
        await pilot.press("ctrl+o")  # R would type into the form
        await settle(app, pilot)
        folder, doc = _only_report(reports)
        assert folder.name.endswith("-backtest")
        assert doc["sections"]["backtest"]["figures"]["params"]["rebalance"] == 21


async def test_R_on_a_sweep_screen_with_no_run_is_a_message(reports):
    app = DeskApp(load_config(resolve_config_path()))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("W")
        await settle(app, pilot)
        app.screen.run_id = None
        await pilot.press("ctrl+o")
        await settle(app, pilot)
        assert not list(reports.iterdir())
        assert any("no sweep run is shown" in n.message for n in app._notifications)

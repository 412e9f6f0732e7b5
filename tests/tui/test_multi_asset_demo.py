"""The multi-asset demo desk (``--config demo:multi-asset``) works offline on every screen.

Each screen is opened from the desk with its key and waited on (workers, never time); the
witness for the figures is the shipped files read with pandas.
"""

from __future__ import annotations

import gzip

import pandas as pd
import pytest
from textual.widgets import DataTable, Static

from hedgedesk.core.config import load_config, resolve_config_path
from hedgedesk.core.demo import demo_dir
from hedgedesk.tui.app import DeskApp
from hedgedesk.tui.screens.alerts import AlertsScreen
from hedgedesk.tui.screens.backtest import BacktestScreen
from hedgedesk.tui.screens.data import DataScreen
from hedgedesk.tui.screens.help import HelpScreen
from hedgedesk.tui.screens.optimizer import OptimizerScreen
from hedgedesk.tui.screens.scenarios import ScenariosScreen
from hedgedesk.tui.screens.sweep import SweepScreen
from tests.tui.conftest import settle, until


@pytest.fixture(scope="module")
def multi():
    return load_config(resolve_config_path("demo:multi-asset"))


def _errors(app) -> list[str]:
    return [n.message for n in app._notifications if n.severity == "error"]


async def test_desk_values_the_multi_asset_book(multi):
    app = DeskApp(multi)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        assert app.query_one("#holdings", DataTable).row_count == 1
        assert app.query_one("#legs", DataTable).row_count == len(multi.book.hedges) == 6
        with gzip.open(demo_dir() / "multi_asset" / "nasdaq.csv.gz", "rt") as f:
            nasdaq = pd.read_csv(f, index_col=0)
        row = app.query_one("#holdings", DataTable).get_row("0")
        assert str(row[2]) == f"{nasdaq.loc['2018-12-28', 'NASDAQ']:,.2f}"
        assert "Could not load" not in str(app.query_one("#summary", Static).render())
        assert not _errors(app)


@pytest.mark.parametrize(
    ("key", "screen"),
    [
        ("g", DataScreen),
        ("c", ScenariosScreen),
        ("b", BacktestScreen),
        ("o", OptimizerScreen),
        ("W", SweepScreen),
        ("A", AlertsScreen),
        ("question_mark", HelpScreen),
    ],
)
async def test_every_screen_opens_on_the_multi_asset_demo(multi, key, screen):
    app = DeskApp(multi)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press(key)
        await settle(app, pilot)
        assert isinstance(app.screen, screen)
        if screen is ScenariosScreen:
            table = app.screen.query_one("#scn-table", DataTable)
            await until(pilot, lambda: table.row_count == len(multi.scenarios), "scenario rows")
        elif screen is DataScreen:
            table = app.screen.query_one("#data-table", DataTable)
            await until(pilot, lambda: table.row_count >= 5, "the five demo series")
        elif screen is OptimizerScreen:
            table = app.screen.query_one("#opt-table", DataTable)
            await until(pilot, lambda: table.row_count > 0, "the optimiser's weights")
        elif screen is BacktestScreen:
            await until(pilot, lambda: app.screen.result is not None, "the backtest result")
        assert not _errors(app)
        await pilot.press("escape")
        await settle(app, pilot)
        assert not isinstance(app.screen, screen)

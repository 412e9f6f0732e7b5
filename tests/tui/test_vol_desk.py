"""The desk with a leg priced from an option-chain surface (issue 18, options from the market):
the leg note names the surface, and typing a vol in the edit form makes it an override.
"""

from __future__ import annotations

from textual.widgets import Static

from hedgedesk.tui.app import DeskApp
from hedgedesk.tui.screens.forms import FormScreen
from tests.core.book.test_vol_surface import desk
from tests.tui.conftest import settle


async def test_surface_leg_note_and_a_typed_vol_override(tmp_path):
    cfg, _, quoted = desk(tmp_path)
    app = DeskApp(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("tab")  # to the hedge legs: the surface put first
        note = app.query_one("#leg-note", Static)
        assert f"from the AAA chain quoted {quoted} (surface)" in str(note.render())
        assert note.region.bottom <= 23
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, FormScreen)
        # the edit form's fields: quantity, strike, expiry, volatility (blank: the surface)
        await pilot.press("tab", "tab", "tab", *"0.45", "enter")
        await settle(app, pilot)
        assert app.cfg.book.hedges[0].volatility == 0.45
        leg = app.report.valuation.positions[1].line
        assert leg.vol == 0.45 and "(modelled, not a quote)" in leg.price_note()
        assert "modelled" in str(app.query_one("#leg-note", Static).render())

"""The desk's report key (R): what "the report of the current screen" means on each screen,
and where it is written.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from hedgedesk.core.errors import HedgedeskError
from hedgedesk.core.paths import reports_dir


@dataclass(frozen=True)
class ScreenReport:
    """What to report and the config and ledger to report it from."""

    request: object  # hedgedesk.core.report.ReportRequest
    cfg: object  # DeskConfig: the desk's current book, unsaved edits included
    ledger_path: str | None = None


def report_folder(part: str, now: dt.datetime | None = None) -> Path:
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    return reports_dir() / f"{stamp}-{part.replace(':', '-')}"


def for_screen(app) -> ScreenReport:
    """The report of what ``app`` shows: the optimiser's last solved request, the sweep run on
    the sweep screen, the backtest form's parameters, else the book as edited (what-if shocks
    and the replay day included).
    """
    from hedgedesk.core.book.clock import at
    from hedgedesk.core.report import ReportRequest
    from hedgedesk.tui.screens.backtest import BacktestScreen
    from hedgedesk.tui.screens.optimizer import OptimizerScreen
    from hedgedesk.tui.screens.sweep import SweepScreen

    screen = app.screen
    cfg = app.cfg if app.clock is None else at(app.cfg, app.clock.day)
    if isinstance(screen, OptimizerScreen):
        if screen.request is None:
            raise HedgedeskError("the optimiser has not solved yet: wait for its result")
        return ScreenReport(ReportRequest(("optimize",), optimize=screen.request), cfg)
    if isinstance(screen, SweepScreen):
        if screen.run_id is None:
            raise HedgedeskError("no sweep run is shown: pick one with l (runs)")
        return ScreenReport(ReportRequest((f"sweep:{screen.run_id}",)), cfg, screen.ledger_path)
    if isinstance(screen, BacktestScreen):
        if screen.wanted is None:
            raise HedgedeskError("the backtest form has an error: fix it first")
        d = cfg.data
        params = {**screen.wanted, "rf": cfg.risk.rf, "start": d.start, "end": d.end}
        return ScreenReport(ReportRequest(("backtest",), backtest=params), cfg)
    return ScreenReport(ReportRequest(("book",), shocks=dict(app.editor.shocks) or None), cfg)

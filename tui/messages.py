"""The messages the desk posts between its widgets, screens and workers, in one place.

Each is named in the past tense for what happened; Textual calls the handler named after the
class (``SweepProgressed`` -> ``on_sweep_progressed``). The engine types are imported for the
annotations only, so importing this module costs only Textual.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from hedgedesk.core.book.risk import RiskReport
    from hedgedesk.core.data.market import MarketData, SeriesReport
    from hedgedesk.core.data.yahoo import Fetched as YahooFetched
    from hedgedesk.core.optimize.engine import OptimizeRequest, OptimizeResult
    from hedgedesk.core.sweep.backtest import BacktestResult
    from hedgedesk.core.sweep.engine import Progress, SweepResult
    from hedgedesk.tui.screens.scenarios import Row
    from hedgedesk.tui.widgets.book_table import BookTable


# -- the desk (app.py) ------------------------------------------------------------------------
class DeskLoaded(Message):
    """The market data was loaded and the book valued."""

    def __init__(self, report: RiskReport, notices: tuple[str, ...]):
        super().__init__()
        self.report = report
        self.notices = notices


class BookRecomputed(Message):
    """The book's figures after an edit or a replay step (``generation``: of the request)."""

    def __init__(self, report: RiskReport, generation: int):
        super().__init__()
        self.report = report
        self.generation = generation


class LiveStatusChanged(Message):
    """The live refresh updated the prices, or found them stale (``note`` says which)."""

    def __init__(self, note: str):
        super().__init__()
        self.note = note


class BookTablePaged(Message):
    """A book table's columns shown changed (the pane's subtitle says which)."""

    def __init__(self, table: BookTable):
        super().__init__()
        self.table = table


# -- the screens ------------------------------------------------------------------------------
class ScenariosComputed(Message):
    """The scenarios for the book less ``excluded`` legs."""

    def __init__(self, rows: list[Row], excluded: frozenset[str], asof):
        super().__init__()
        self.rows = rows
        self.excluded = excluded
        self.asof = asof


class BacktestFinished(Message):
    """run_backtest's result (or its error) for ``params``."""

    def __init__(self, params: dict, result: BacktestResult | None, error: str = ""):
        super().__init__()
        self.params = params
        self.result = result
        self.error = error


class OptimizerSolved(Message, bubble=False):
    """A solve for form generation ``gen``: the result or the error, and the frontier for the
    chart when asked (``frontier_error`` when it could not be traced).
    """

    def __init__(
        self,
        gen: int,
        req: OptimizeRequest,
        result: OptimizeResult | None,
        error: Exception | None,
        frontier: list | None,
        frontier_error: str,
    ):
        super().__init__()
        self.gen = gen
        self.req = req
        self.result = result
        self.error = error
        self.frontier = frontier
        self.frontier_error = frontier_error


class PricesFetched(Message):
    """Yahoo prices were fetched into the cache and ``market`` loaded from it
    (hedgedesk.core.data.sources.load_market): the app should adopt it and revalue the desk.
    """

    def __init__(self, market: MarketData, fetched: tuple[YahooFetched, ...]):
        super().__init__()
        self.market = market
        self.fetched = fetched


class PricesFetchFailed(Message, bubble=False):
    """The data screen's Yahoo fetch failed with ``error``."""

    def __init__(self, error: str):
        super().__init__()
        self.error = error


class SeriesReported(Message, bubble=False):
    """The data screen's worker checked every series of ``market`` (gaps, stale ends)."""

    def __init__(self, market: MarketData, reports: list[SeriesReport]):
        super().__init__()
        self.market = market
        self.reports = reports


class AlertLogChanged(Message, bubble=False):
    """The alert log changed (posted by the log's listener, from any thread)."""


# -- the sweep (screens/sweep.py, widgets/sweep_pane.py) --------------------------------------
class GridFormClosed(Message):
    """Esc in the sweep's grid form: the screen gives the keys back to the results."""


class CurveComputed(Message):
    """The backtest curves of the highlighted sweep row (``token``: which request), or the error."""

    def __init__(self, token: tuple, result: BacktestResult | None, error: str = ""):
        super().__init__()
        self.token = token
        self.result = result
        self.error = error


class SweepProgressed(Message):
    """The running sweep reported ``progress`` (counts, timings, the best so far)."""

    def __init__(self, progress: Progress):
        super().__init__()
        self.progress = progress


class SweepFinished(Message):
    """The sweep ended (completed, cancelled or failed, as ``result`` says)."""

    def __init__(self, result: SweepResult):
        super().__init__()
        self.result = result


class LedgerPolled(Message):
    """The sweep ledger was read: one line per run, or the error when it could not be read."""

    def __init__(self, lines: list[str], error: str = ""):
        super().__init__()
        self.lines = lines
        self.error = error

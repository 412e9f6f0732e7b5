"""The data screen: every loaded series with its range, gaps and staleness; `f` refreshes the
Yahoo cache. Figures and wording follow ``hedgedesk data check`` and ``data fetch``.

Like the desk, the engine (pandas through hedgedesk.core.data.market, hedgedesk.core.data.yahoo) is
imported inside the
workers, so importing this module costs only Textual.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.markup import escape
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static
from textual.worker import Worker, WorkerState

from hedgedesk.core.config import DeskConfig
from hedgedesk.tui.messages import PricesFetched, PricesFetchFailed, SeriesReported

if TYPE_CHECKING:
    from hedgedesk.core.data.market import MarketData, SeriesReport

# (label, width): fixed widths keep the table inside 78 columns at 80x24 (cell padding 2 per
# column and a 2-column scrollbar included: 58 + 18 + 2 = 78)
COLUMNS = (
    ("Ticker", 8),
    ("Source", 5),
    ("Fq", 2),
    ("First", 10),
    ("Last", 10),
    ("Rows", 6),
    ("Gaps", 4),
    ("Miss", 5),
    ("Stale", 8),
)
LEGEND = (
    "Fq: D daily, W weekly, M monthly, ? irregular; y: a yield read as a bond's total "
    "return. Gaps: runs of missing sessions; Miss: sessions missing; Stale: days behind the "
    "newest series (Yahoo cache: age of the fetch). Enter: a series' detail."
)
_FQ = {"daily": "D", "weekly": "W", "monthly": "M"}
# hedgedesk.core.data.yahoo.read_cached writes the fetch time into a cached series' source
_FETCHED_AT = re.compile(r"^yahoo cache, fetched (\d{4}-\d\d-\d\d \d\d:\d\d) UTC")


def short_source(source: str) -> str:
    """demo, cache, yahoo or the file's name: the full source is in the detail box."""
    if source.startswith("demo"):
        return "demo"
    if source.startswith("yahoo cache"):
        return "cache"
    if source == "yahoo":
        return source
    return Path(source).name or source  # a price file's path


def staleness(r: SeriesReport, newest: dt.date, now: dt.datetime | None = None) -> str:
    """The cache's age for a Yahoo-cached series, else calendar days behind ``newest``."""
    if m := _FETCHED_AT.match(r.source):
        from hedgedesk.core.data.yahoo import describe_age

        at = dt.datetime.strptime(m[1], "%Y-%m-%d %H:%M").replace(tzinfo=dt.UTC)
        return describe_age((now or dt.datetime.now(dt.UTC)) - at)
    return f"{(newest - r.last).days}d"


def frequency_code(r: SeriesReport) -> str:
    """The Fq cell: D, W, M or ? (irregular), with y for a yield read as a bond."""
    return _FQ.get(r.frequency, "?") + ("y" if r.maturity is not None else "")


def gap_lines(r: SeriesReport, periods: int | None = None) -> list[str]:
    """The series' detail, worded as ``hedgedesk data check`` words it, every gap listed;
    ``periods``: its periods per year (None: irregular, not annualised).
    """
    from hedgedesk.core.data.yields import yield_label

    kind = r.price_field if r.maturity is None else yield_label(r.maturity)
    lines = [
        f"{r.ticker}: {r.first}..{r.last}, {r.rows} rows, {r.calendar} calendar, "
        f"{kind}, volume {'yes' if r.has_volume else 'no'}",
        f"{r.frequency}"
        + (f", annualised x{periods}" if periods else ", not annualised")
        + (f"; dates {r.date_format}" if r.date_format else ""),
        f"source: {r.source}",
        *r.notes,
    ]
    lines += [f"gap {g.first}..{g.last} ({g.sessions} sessions missing)" for g in r.gaps]
    if not r.gaps:
        lines.append("no gaps")
    if r.gaps_checked_from > r.first:
        lines.append(f"gaps checked from {r.gaps_checked_from} (calendar known from then)")
    if r.off_calendar:
        lines.append(f"{r.off_calendar} rows on days the {r.calendar} calendar is closed")
    return lines


def source_line(cfg: DeskConfig, newest: dt.date | None = None) -> str:
    """The config's data source, clip range and benchmark (and the newest last date)."""
    d = cfg.data
    if d.source == "files":
        base = cfg.path.parent

        def rel(p: Path) -> str:
            return str(p.relative_to(base)) if p.is_relative_to(base) else str(p)

        where = "files " + ", ".join(rel(p) for p in d.paths)
    elif d.source == "yahoo":
        where = "yahoo " + ", ".join(d.tickers)
    else:
        where = "demo (built-in prices)"
    return (
        f"Data: {where}\nClip: {d.start or 'first'}..{d.end or 'last'}  "
        f"Benchmark: {d.benchmark}" + (f"  Newest: {newest}" if newest else "")
    )


class DataScreen(ModalScreen):
    """The market's series, one row each. Modal so the desk's edit keys stay off while it is
    up (only priority keys such as ctrl+q reach the app); opaque, so it reads as a page.
    """

    DEFAULT_CSS = """
    DataScreen { background: $background; }
    #data-head { height: auto; max-height: 4; padding: 0 1; }
    #data-table { height: 1fr; }
    #data-box { height: auto; max-height: 8; border: round $primary; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[Binding]] = [
        Binding("escape,q", "dismiss", "Back"),
        Binding("f", "fetch", "Fetch"),
        Binding("enter", "gaps", "Gaps"),  # when the table is not focused
        Binding("question_mark", "help", "Help", tooltip="Help: the keys here"),
    ]

    def __init__(self, cfg: DeskConfig, market: MarketData):
        super().__init__()
        self.cfg = cfg
        self.market = market
        self.reports: dict[str, SeriesReport] = {}
        self.fetching = False

    def compose(self) -> ComposeResult:
        yield Static(Text(source_line(self.cfg)), id="data-head")
        table = DataTable(id="data-table", cursor_type="row", zebra_stripes=True)
        for label, width in COLUMNS:
            table.add_column(label, width=width, key=label)
        yield table
        with VerticalScroll(id="data-box"):
            yield Static(Text("Checking the series…"), id="data-note")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#data-box").border_title = "Series"
        self.query_one(DataTable).focus()
        self._report(self.market)

    def say(self, text: str, title: str = "Data") -> None:
        """Show ``text`` in the box under the table (plain text: no markup is interpreted)."""
        self.query_one("#data-box").border_title = title
        self.query_one("#data-note", Static).update(Text(text))

    # -- the table ---------------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="data-reports")
    def _report(self, market: MarketData) -> None:
        # gap checks walk every series' calendar: off the UI thread for large folders
        self.post_message(SeriesReported(market, market.reports()))

    def on_series_reported(self, message: SeriesReported) -> None:
        self.market = message.market
        self.reports = {r.ticker: r for r in message.reports}
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        if message.reports:
            newest = max(r.last for r in message.reports)
            self.query_one("#data-head", Static).update(Text(source_line(self.cfg, newest)))
            for r in message.reports:
                cells = (
                    str(r.rows),
                    str(len(r.gaps)),
                    str(r.missing_sessions),
                    staleness(r, newest),
                )
                table.add_row(
                    r.ticker,
                    short_source(r.source),
                    frequency_code(r),
                    str(r.first),
                    str(r.last),
                    *(Text(c, justify="right") for c in cells),
                    key=r.ticker,
                )
            table.move_cursor(row=min(row, table.row_count - 1))
        if not self.fetching:
            notices = "\n".join(self.market.notices)
            self.say(
                f"{len(message.reports)} series. {LEGEND}" + (f"\n{notices}" if notices else ""),
                "Series",
            )

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()  # the desk's own handler would open its edit form
        self._show_gaps(event.row_key.value)

    def action_gaps(self) -> None:
        table = self.query_one(DataTable)
        if table.row_count:
            self._show_gaps(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def _show_gaps(self, ticker: str | None) -> None:
        if r := self.reports.get(ticker or ""):
            periods = self.market.series_periods(r.ticker)
            self.say("\n".join(gap_lines(r, periods)), f"Series: {r.ticker}")

    def action_help(self) -> None:
        from hedgedesk.tui.screens.help import HelpScreen

        self.app.push_screen(HelpScreen(self))

    # -- fetching ----------------------------------------------------------------------------
    def action_fetch(self) -> None:
        d = self.cfg.data
        if d.source != "yahoo":
            self.say(
                f'Fetching applies to source = "yahoo" configs; this config reads '
                f'{d.source} data. Set [data] source = "yahoo" and tickers = [...] in '
                f"{self.cfg.path.name} to download from Yahoo.",
                "Fetch",
            )
        elif self.fetching:
            self.say("a fetch is already running", "Fetch")
        else:
            self.fetching = True
            self.say(f"Fetching {', '.join(d.tickers)} from Yahoo…", "Fetch")
            self._fetch()

    @work(thread=True, exclusive=True, exit_on_error=False, group="data-fetch")
    def _fetch(self) -> None:
        from hedgedesk.core.data.sources import load_market
        from hedgedesk.core.data.yahoo import fetch
        from hedgedesk.core.errors import HedgedeskError

        d = self.cfg.data
        try:
            # the config's range, so that load_market finds the cache covering it
            done = tuple(fetch(d.tickers, d.start, d.end))
            market = load_market(self.cfg)
        except HedgedeskError as exc:  # offline (YahooUnavailable), unknown ticker, config
            self.post_message(PricesFetchFailed(str(exc)))
            return
        self.post_message(PricesFetched(market, done))

    def on_prices_fetched(self, message: PricesFetched) -> None:
        # not stopped: the message goes on to the app
        self.fetching = False
        lines = [
            f"{f.ticker}: {f.rows} rows {f.first}..{f.last} -> {f.path}" for f in message.fetched
        ]
        self.say("\n".join(lines), "Fetched")
        self.notify(f"fetched {len(lines)} series from Yahoo", title="Data")
        self._report(message.market)

    def on_prices_fetch_failed(self, message: PricesFetchFailed) -> None:
        self.fetching = False
        self.say(
            f"Fetch failed: {message.error}\nThe cached data, if any, is unchanged.", "Fetch failed"
        )
        self.notify(escape(message.error), title="Fetch failed", severity="error", timeout=10)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """An unexpected error in a worker: shown here, the app keeps running."""
        if event.state == WorkerState.ERROR:
            self.fetching = False
            self.say(f"Error: {event.worker.error}", "Error")

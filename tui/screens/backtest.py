"""Backtest: the dynamic-beta hedge of one configuration
(:func:`hedgedesk.core.sweep.backtest.run_backtest`), its
parameters edited in place and re-run in a worker.

Figures and wording follow ``hedgedesk backtest``; parameters carry the CLI's and README's names
(P, W, k, h, c, d). Curves are told apart by marker and legend, never by colour alone.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input, Static
from textual.worker import Worker, WorkerState
from textual_plotext import PlotextPlot

from hedgedesk.core.config import DeskConfig
from hedgedesk.core.errors import HedgedeskError
from hedgedesk.core.sweep.backtest import desk_defaults
from hedgedesk.tui.format import num, pct
from hedgedesk.tui.messages import BacktestFinished
from hedgedesk.tui.screens.forms import FieldsForm
from hedgedesk.tui.widgets.tables import fill

if TYPE_CHECKING:
    from hedgedesk.core.data.market import MarketData
    from hedgedesk.core.sweep.backtest import BacktestResult

WIDE = 120  # from this width the equity and beta charts fit side by side
DEBOUNCE_S = 0.6  # an edit re-runs once typing pauses this long; enter runs at once

# (parameter, label), in the form's order: three columns, so three rows at 80x24
FIELDS = (
    ("long", "long"),
    ("hedge", "hedge"),
    ("weighting", "weighting"),
    ("rebalance", "P"),
    ("window", "W"),
    ("exposure", "k"),
    ("hedge_ratio", "h"),
    ("cost", "c"),
    ("drift_band", "d"),
)
LABELS = dict(FIELDS)
WHOLE = ("rebalance", "window")
TEXT = ("hedge", "weighting")


def as_text(key: str, value) -> str:
    if key == "long":
        return ",".join(value)
    return value if isinstance(value, str) else f"{value:g}"


def parse(values: dict[str, str]) -> dict:
    """The form's text as run_backtest's arguments. HedgedeskError names the field at fault;
    everything else (ranges, tickers, history) is core's to check, in core's words.
    """
    out: dict = {}
    for key, raw in values.items():
        text = raw.strip()
        if key == "long":
            out[key] = [t.strip() for t in text.split(",") if t.strip()]
        elif key in TEXT:
            if not text:
                raise HedgedeskError(f"{LABELS[key]}: empty")
            out[key] = text
        else:
            kind = int if key in WHOLE else float
            try:
                out[key] = kind(text)
            except ValueError:
                what = "a whole number" if kind is int else "a number"
                raise HedgedeskError(f"{LABELS[key]}: expected {what}, got {text!r}") from None
    return out


def curve_line(label: str, d: dict) -> str:
    """One curve's figures, as ``hedgedesk backtest`` prints them."""
    return (
        f"{label:<10} return {d['annual_return']:7.2%}  vol {d['annual_volatility']:6.2%}  "
        f"Sharpe {d['sharpe']:5.2f}  max DD {d['max_drawdown']:7.2%}"
    )


def metrics_text(res: BacktestResult) -> str:
    m, rebal = res.metrics, res.rebalances
    lines = [
        curve_line(label, d)
        for label, d in (("hedged", m), ("unhedged", m["unhedged"]), ("benchmark", m["benchmark"]))
    ]
    lines.append(
        f"{int(rebal['traded'].sum())} trades over {len(rebal)} scheduled rebalances"
        f" · turnover {num(m['turnover'])} · hedge eff. {pct(m['hedge_effectiveness'])}"
    )
    return "\n".join(lines)


def years(dates) -> list[float]:
    """Dates as fractional years: plotext's axis then reads in years without date parsing."""
    return (dates.year + (dates.day_of_year - 1) / 365.25).tolist()


BT_COLUMNS = ["Date", "Beta", "Long", "Short", "Cost bp", "Traded"]


class BacktestScreen(ModalScreen):
    """One backtest configuration: a form, figures per curve, equity and beta charts, the
    rebalances. Modal with a solid background so the desk's editing keys cannot reach the book.
    The focus starts on the rebalances, so the screen's keys (v, q, ?) never type into the
    form: ``e`` enters it, Esc there comes back to the results, Esc again leaves.
    """

    DEFAULT_CSS = """
    BacktestScreen { background: $background; }
    BacktestScreen #bt-title { height: 1; padding: 0 1; text-style: bold; }
    BacktestScreen #bt-form { padding: 0 1; max-height: 8; }
    BacktestScreen #bt-metrics { height: 4; padding: 0 1; }
    BacktestScreen #bt-charts { height: 3fr; min-height: 7; }
    BacktestScreen #bt-charts PlotextPlot { width: 1fr; }
    BacktestScreen #bt-beta { margin-left: 2; }
    BacktestScreen.-narrow #bt-beta { margin-left: 0; }
    BacktestScreen.-narrow.-show-equity #bt-beta { display: none; }
    BacktestScreen.-narrow.-show-beta #bt-equity { display: none; }
    BacktestScreen #bt-table { height: 2fr; min-height: 4; }
    """

    BINDINGS: ClassVar[list[Binding]] = [
        Binding(
            "escape",
            "back",
            "Back",
            tooltip="Back: from the form to the results; from the results, close",
        ),
        Binding("q", "close", "Close", show=False, tooltip="Close the backtest"),
        Binding("e", "edit_form", "Edit form", tooltip="Edit the form (Esc: back to results)"),
        Binding("v", "toggle_chart", "Equity/beta"),
        Binding("question_mark", "help", "Help", tooltip="Help: the keys here"),
    ]
    HELP_KEYS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("enter", "in the form: run now (edits re-run once typing pauses)"),
        ("P W", "rebalance every P days; beta by OLS over a W-day window"),
        ("k h", "long exposure (x equity); hedge ratio, the multiplier on beta"),
        ("c d", "cost, a fraction of traded notional; drift band (0: trade at every P)"),
    )
    AUTO_FOCUS = "#bt-table"

    def __init__(self, cfg: DeskConfig, market: MarketData | None, params: dict | None = None):
        super().__init__(classes="-narrow -show-equity")
        self.cfg = cfg
        self.market = market
        self.initial = {**desk_defaults(cfg), **(params or {})}
        self.wanted: dict | None = None  # the parameters of the latest request
        self.result: BacktestResult | None = None
        self._debounce: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static("Backtest", id="bt-title", markup=False)
        yield FieldsForm(
            {key: as_text(key, self.initial[key]) for key, _ in FIELDS},
            labels=LABELS,
            prefix="bt-",
            columns=3,
            label_width=10,
            hint="Enter runs · Esc: results (then ? for what P W k h c d are)",
            idle_hint="e edit form · ? keys",
            id="bt-form",
        )
        yield Static("", id="bt-metrics", markup=False)
        with Horizontal(id="bt-charts"):
            yield PlotextPlot(id="bt-equity")
            yield PlotextPlot(id="bt-beta")
        yield DataTable(id="bt-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#bt-table", DataTable).focus()
        self.submit()

    # -- running ----------------------------------------------------------------------------
    @property
    def fields(self) -> FieldsForm:
        return self.query_one("#bt-form", FieldsForm)

    def form(self) -> dict[str, str]:
        return self.fields.values()

    def submit(self, focus_error: bool = False) -> None:
        """Run the form's parameters, unless they are the ones already asked for. A field at
        fault is marked; ``focus_error`` (Enter) also moves the focus to it.
        """
        if self._debounce is not None:
            self._debounce.stop()
            self._debounce = None
        try:
            params = parse(self.form())
        except HedgedeskError as exc:
            self.wanted = None  # a later fix of the typo runs even if it restores old values
            self._show_error(str(exc), focus_error)
            return
        if params == self.wanted:
            return
        self.fields.clear_error()
        self.wanted = params
        self._title(" · computing…")
        self.run_backtest(params)

    @work(thread=True, exclusive=True, exit_on_error=False, group="backtest")
    def run_backtest(self, params: dict) -> None:
        from hedgedesk.core.sweep.backtest import run_backtest

        try:
            if self.market is None:
                raise HedgedeskError("the market data is still loading: close and try again")
            data = self.cfg.data
            res = run_backtest(
                self.market, **params, rf=self.cfg.risk.rf, start=data.start, end=data.end
            )
        except HedgedeskError as exc:  # bad request or data: a message, the screen stays
            self.post_message(BacktestFinished(params, None, str(exc)))
            return
        self.post_message(BacktestFinished(params, res))

    def on_backtest_finished(self, message: BacktestFinished) -> None:
        if message.params != self.wanted:  # stale: a later edit's run is on its way
            return
        if message.result is None:
            self._show_error(message.error)
        else:
            self.result = message.result
            self.fields.clear_error()
            self._show()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:  # not a HedgedeskError: still no crash
            self._show_error(f"could not run: {event.worker.error!r}")

    # -- showing ----------------------------------------------------------------------------
    def _title(self, suffix: str = "") -> None:
        p = self.wanted
        what = (
            f"{'+'.join(p['long']) or '?'} hedged with {p['hedge']}"
            if p
            else "parameters not valid"
        )
        res = self.result
        span = f" · {res.dates[0].date()}..{res.dates[-1].date()}" if res and not suffix else ""
        self.query_one("#bt-title", Static).update(f"Backtest · {what}{span}{suffix}")

    def _show_error(self, error: str, focus: bool = False) -> None:
        """The error under the form (its field marked), and no figures: nothing on screen may
        pass for its result.
        """
        self.result = None
        self._title(" · error")
        self.fields.show_error(f"error: {error}", focus=focus)
        self.query_one("#bt-metrics", Static).update("no result: the error is in the form above")
        for chart in self.query(PlotextPlot):
            chart.plt.clear_figure()
            chart.refresh()
        self.query_one("#bt-table", DataTable).clear()

    def _show(self) -> None:
        res = self.result
        self._title()
        self.query_one("#bt-metrics", Static).update(metrics_text(res))
        self._plot_equity(res)
        self._plot_beta(res)
        self._fill_table(res)

    def _plot_equity(self, res: BacktestResult) -> None:
        chart = self.query_one("#bt-equity", PlotextPlot)
        plt = chart.plt
        plt.clear_figure()
        x = years(res.dates)
        # a distinct marker per curve keeps them apart in monochrome (NO_COLOR)
        plt.plot(x, res.benchmark.tolist(), marker="·", label=f"benchmark {res.params['hedge']}")
        plt.plot(x, res.unhedged.tolist(), marker="+", label="unhedged")
        plt.plot(x, res.equity.tolist(), marker="braille", label="hedged")  # on top, finest
        self._year_ticks(plt, x)
        chart.refresh()

    def _plot_beta(self, res: BacktestResult) -> None:
        chart = self.query_one("#bt-beta", PlotextPlot)
        plt = chart.plt
        plt.clear_figure()
        betas = res.rebalances["beta"]
        x = years(betas.index)
        plt.plot(
            x,
            betas.tolist(),
            marker="braille",
            label=f"beta, {res.params['window']}-day OLS, at each rebalance",
        )
        self._year_ticks(plt, x)
        chart.refresh()

    @staticmethod
    def _year_ticks(plt, x: list[float]) -> None:
        plt.frame(False)  # the frame's top line is a plot row lost at 24 lines
        if x:
            ticks = list(range(math.ceil(x[0]), math.floor(x[-1]) + 1))
            plt.xticks(ticks, [str(t) for t in ticks])

    def _fill_table(self, res: BacktestResult) -> None:
        """One row per scheduled rebalance; notionals are per 1 of starting capital."""
        rows = [
            (
                None,
                [
                    str(date.date()),
                    num(row["beta"], 3, signed=True),
                    num(row["long_notional"], 4),
                    num(row["short_notional"], 4, signed=True),
                    num(row["cost"] * 1e4, 2),
                    "yes" if row["traded"] else "no",
                ],
            )
            for date, row in res.rebalances.iterrows()
        ]
        fill(self.query_one("#bt-table", DataTable), BT_COLUMNS, rows, right={1, 2, 3, 4, 5})

    # -- keys and events --------------------------------------------------------------------
    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(DEBOUNCE_S, self.submit)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.submit(focus_error=True)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()  # the desk's own handler reads its tables' rows: never ours

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()  # the desk opens its edit form on enter: not for these rows

    def on_resize(self) -> None:
        self.set_class(self.size.width < WIDE, "-narrow")
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # both charts show when wide: the toggle then has nothing to do, so it leaves the footer
        return self.has_class("-narrow") if action == "toggle_chart" else True

    def action_toggle_chart(self) -> None:
        beta = self.has_class("-show-equity")
        self.set_class(beta, "-show-beta")
        self.set_class(not beta, "-show-equity")

    def action_edit_form(self) -> None:
        self.fields.enter()

    def action_back(self) -> None:
        """Esc: from the form back to the results; from the results, leave the screen."""
        focused = self.focused
        if focused is not None and self.fields in focused.ancestors:
            self.query_one("#bt-table", DataTable).focus()
        else:
            self.action_close()

    def action_help(self) -> None:
        from hedgedesk.tui.screens.help import HelpScreen

        self.app.push_screen(HelpScreen(self))

    def action_close(self) -> None:
        self.app.pop_screen()

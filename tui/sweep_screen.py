"""Sweep results: a run's leaderboard, sortable by any column; the highlighted strategy's equity
curve against the unhedged book and the hedge instrument; a heat map of mean score over
rebalance period x beta window.

A run comes from the desk (:meth:`SweepScreen.show_result`), from the ledger (``l`` lists its
runs; a run still running, a ``hedgedesk sweep --detach`` say, is followed by polling the ledger
once a second until it finishes), or from ``g``: a form, prefilled from the config's ``[sweep]``
grid, defines a grid in the CLI's syntax and enter runs it here (Esc cancels it). Curves and
heat maps are computed in thread workers, so keys never wait.
Marks are characters (``[ ]`` around the highlighted cell, arrows, plot markers), never colour.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.message import Message
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Static
from textual.worker import Worker, WorkerState
from textual_plotext import PlotextPlot

from core.config import DeskConfig
from core.errors import HedgedeskError
from tui.format import num, pct
from tui.sweep_pane import SweepFinished, SweepProgress, stream_sweep

if TYPE_CHECKING:
    import pandas as pd

    from core.backtest import BacktestResult
    from core.market_data import MarketData
    from core.sweep import SweepResult
    from core.sweep_ledger import Ledger

POLL_S = 1.0  # ledger polling period while following a running run
IDLE = "l: runs in the ledger · g: define and run a grid · ? keys"


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _est(r: dict) -> str:
    return "ols" if r["estimator"] == "ols" else f"ew{r['halflife']:g}"


def _g(v: Any) -> str:
    return "—" if _missing(v) else f"{v:g}"


def _pct(v: Any) -> str:
    # -100 % (a ruined strategy) must fit the 6-character column too
    return "—" if _missing(v) else pct(v, 1 if abs(v) < 1 else 0)


def _dec(digits: int) -> Callable[[Any], str]:
    return lambda v: "—" if _missing(v) else f"{v:.{digits}f}"


@dataclass(frozen=True)
class Col:
    key: str
    label: str
    width: int  # content width; one more column of space is left before every column but #
    cell: Callable[[dict], str]
    sort: Callable[[dict], Any]
    desc: bool = True  # the natural direction: best first for figures, ascending for params
    left: bool = False


def _field(name: str, fmt: Callable[[Any], str]) -> tuple[Callable, Callable]:
    return (lambda r: fmt(r.get(name)),
            lambda r: None if _missing(r.get(name)) else float(r[name]))


COLUMNS = (
    Col("#", "#", 2, lambda r: str(r["#"]), lambda r: r["#"], desc=False),
    Col("ticker", "Tkr", 5, lambda r: r["ticker"][:5], lambda r: r["ticker"], False, True),
    Col("P", "P", 2, *_field("rebalance", str), desc=False),
    Col("W", "W", 3, *_field("window", str), desc=False),
    Col("est", "Est", 4, _est,
        lambda r: (r["estimator"], 0.0 if _missing(r["halflife"]) else r["halflife"]),
        False, True),
    Col("k", "k", 4, *_field("exposure", _g), desc=False),
    Col("h", "h", 4, *_field("hedge_ratio", _g), desc=False),
    Col("d", "d", 4, *_field("drift_band", _g), desc=False),
    Col("score", "Score", 5, *_field("score", _dec(3))),
    Col("sharpe", "Sharpe", 6, *_field("sharpe", num)),
    Col("return", "Return", 6, *_field("annual_return", _pct)),
    Col("maxdd", "MaxDD", 6, *_field("max_drawdown", _pct)),
    Col("dsr", "DSR", 4, *_field("dsr", _dec(2))),
    Col("dsr_all", "DSR*", 4, *_field("dsr_all_legs", _dec(2))),
    Col("pbo", "PBO", 4, *_field("pbo", _dec(2))),
)
BY_KEY = {c.key: c for c in COLUMNS}
# ``s`` visits the figures first: they are what a leaderboard is sorted by
SORT_CYCLE = ("#", "score", "sharpe", "return", "maxdd", "dsr", "dsr_all", "pbo", "ticker", "P",
              "W", "est", "k", "h", "d")


def _cell(text: str, col: Col) -> Text:
    # Text, not str: a str cell is markup. Left-aligned columns carry their gap themselves.
    return Text(" " + text, justify="left") if col.left else Text(text, justify="right")


def sort_rows(rows: list[dict], col: Col, desc: bool) -> list[dict]:
    """Rows by the column's value, ties in rank order; rows without a value (NaN) last either
    way round."""
    have = [r for r in rows if not _missing(col.sort(r))]
    return (sorted(have, key=col.sort, reverse=desc)
            + [r for r in rows if _missing(col.sort(r))])


def leaderboard(summary: dict) -> list[dict]:
    """The summary's top strategies with their rank (#) and their leg's PBO."""
    pbo = {leg["ticker"]: (leg.get("pbo") or {}).get("pbo") for leg in summary.get("legs") or []}
    return [{**r, "#": i, "pbo": pbo.get(r["ticker"])}
            for i, r in enumerate(summary.get("top") or [], 1)]


def _day(v) -> dt.date | None:
    return dt.date.fromisoformat(v) if isinstance(v, str) else v  # ledger summaries are JSON


def strategy_backtest(market: MarketData, row: dict, summary: dict) -> BacktestResult:
    """``core.backtest.run_backtest`` of a leaderboard row on the run's dates, rf and ranking
    cost; a basket leg runs on its members and weighting. run_backtest estimates beta by OLS,
    so an EWMA row's hedged curve is re-run with its estimator on the same returns."""
    from core.backtest import basket_returns, dynamic_beta_hedge, run_backtest, simple_returns
    from core.metrics import performance

    leg = next((g for g in summary.get("legs") or [] if g["ticker"] == row["ticker"]), {})
    members = leg.get("members") or [row["ticker"]]
    weighting = leg.get("weighting") or "equal"
    req = summary.get("request") or {}
    start, end, rf = _day(req.get("start")), _day(req.get("end")), req.get("rf") or 0.0
    hedge = row["hedge"]
    args = (row["rebalance"], row["window"], row["exposure"], row["hedge_ratio"], row["cost"],
            row["drift_band"])
    bt = run_backtest(market, members, hedge, *args, weighting=weighting, rf=rf, start=start,
                      end=end)
    if row["estimator"] == "ols":
        return bt
    prices = market.aligned_prices([*members, hedge], start, end)
    if len(members) > 1:
        volumes = (market.volumes(members).reindex(prices.index) if weighting == "volume"
                   else None)
        r_long = basket_returns(prices[members], volumes, weighting)
    else:
        r_long = simple_returns(prices[members[0]])
    r_hedge = simple_returns(prices[hedge]).loc[r_long.index]
    run = dynamic_beta_hedge(r_long.to_numpy(), r_hedge.to_numpy(), *args, 1.0, "ewma",
                             row["halflife"])
    metrics = {**bt.metrics,
               **performance(run.equity, rf, bt.params["periods_per_year"]).as_dict()}
    return dataclasses.replace(bt, equity=run.equity, metrics=metrics)


def _figures(m: dict) -> str:
    return f"{pct(m['annual_return'])} {num(m['sharpe'])} {pct(m['max_drawdown'])}"


def caption(row: dict, bt: BacktestResult | None = None, error: str = "") -> str:
    """Two lines: the configuration, then return, Sharpe and max drawdown of each curve."""
    impact = f" impact {row['impact']:g} (not in the curve)" if row.get("impact") else ""
    head = (f"#{row['#']} {row['ticker']} P{row['rebalance']} W{row['window']} {_est(row)} "
            f"k{row['exposure']:g} h{row['hedge_ratio']:g} d{row['drift_band']:g} "
            f"cost {row['cost']:g}{impact} · return/Sharpe/maxDD")
    if error:
        return f"{head}\nno curve: {error}"
    if bt is None:
        return f"{head}\ncomputing the equity curve…"
    m = bt.metrics
    return (f"{head}\nhedged {_figures(m)} | unhedged {_figures(m['unhedged'])} | "
            f"{row['hedge']} {_figures(m['benchmark'])}")


def heat_table(frame: pd.DataFrame, summary: dict) -> pd.Series:
    """Mean score by (ticker, rebalance, window) under the ranking scenario (the costs the
    leaderboard is ranked under), over every other parameter."""
    scen = (summary.get("ranking") or {}).get("scenario") or {}
    mine = frame
    for axis in ("cost", "impact"):
        if axis in scen and axis in frame:
            mine = mine[mine[axis] == scen[axis]]
    return mine.groupby(["ticker", "rebalance", "window"])["score"].mean()


def heat_text(heat: pd.Series, row: dict, summary: dict) -> str:
    """A grid of numbers: rebalance periods down, windows across; [ ] marks the row's cell."""
    ticker = row["ticker"]
    if ticker not in heat.index.get_level_values(0):
        return f"{ticker}: no configurations in the per-configuration table"
    grid = heat.loc[ticker].unstack("window")
    cost = ((summary.get("ranking") or {}).get("scenario") or {}).get("cost")
    lines = [f"{ticker}: mean score, P down x W across, cost {_g(cost)}, over est/k/h/d; "
             "[ ] this row",
             "P\\W " + "".join(f"{w:>8}" for w in grid.columns)]
    for p, values in grid.iterrows():
        cells = []
        for w, v in values.items():
            text = "—" if _missing(v) else f"{v:.3f}"
            mine = p == row["rebalance"] and w == row["window"]
            cells.append(f"{f'[{text}]' if mine else text:>8}")
        lines.append(f"{p:>3} " + "".join(cells))
    return "\n".join(lines)


# -- the grid form ---------------------------------------------------------------------------
GRID_AXES = {  # form field -> (Grid field, integer?)
    "rebalance": ("rebalance", True), "window": ("window", True),
    "exposure": ("exposure", False), "hedge ratio": ("hedge_ratio", False),
    "drift band": ("drift_band", False), "cost": ("cost", False),
}


def _levels(values, integer: bool) -> str:
    """Levels as the CLI writes them: ``1,5,21``; floats shortest where %g keeps them exact."""
    def one(v) -> str:
        if integer:
            return str(int(v))
        return f"{v:g}" if float(f"{v:g}") == float(v) else repr(float(v))
    return ",".join(one(v) for v in values)


def grid_fields(cfg: DeskConfig) -> dict[str, str]:
    """The form's fields as text, from the config's [sweep] grid (or the CLI's defaults)."""
    from core.sweep_grid import Grid

    s = cfg.sweep
    d = Grid.__dataclass_fields__
    fields = {"tickers": ",".join(s.long) if s else "", "hedge": s.hedge if s else ""}
    for name, (attr, integer) in GRID_AXES.items():
        if name == "exposure":
            fields["estimator"] = ",".join(s.estimator) if s else "ols"
            fields["halflife"] = _levels(s.ewma_halflife if s else (20.0,), False)
        fields[name] = _levels(getattr(s, attr) if s else d[attr].default, integer)
    return fields


def grid_request(cfg: DeskConfig, values: dict[str, str]):
    """The form's text as a SweepRequest, parsed as ``hedgedesk sweep`` parses its flags; the
    config gives the dates, risk-free rate, score targets and impact levels."""
    from core.sweep import SweepRequest
    from core.sweep_grid import Grid, estimators, parse_leg, parse_levels
    from core.sweep_score import ScoreTargets

    s = cfg.sweep
    tickers = [t for t in values["tickers"].split(",") if t.strip()]
    hedge = values["hedge"].strip()
    if not tickers or not hedge:
        raise HedgedeskError("sweep: give the tickers and the hedge")
    axes = {attr: parse_levels(values[name], name, integer)
            for name, (attr, integer) in GRID_AXES.items()}
    kinds = tuple(k.strip() for k in values["estimator"].split(",") if k.strip()) or ("ols",)
    halflives = (parse_levels(values["halflife"], "halflife") if values["halflife"].strip()
                 else (20.0,))
    if min(halflives) <= 0:
        raise HedgedeskError("halflife: half-lives must be > 0 days")
    grid = Grid(legs=tuple(parse_leg(t, "tickers") for t in tickers), hedge=hedge,
                estimator=estimators(kinds, halflives), impact=s.impact if s else (0.0,),
                **axes)
    return SweepRequest(grid, start=cfg.data.start, end=cfg.data.end, rf=cfg.risk.rf,
                        targets=ScoreTargets(**(s.score if s else {})))


def grid_size(grid) -> str:
    """``2 leg(s) x 24 strategies x 2 scenarios = 96 configurations``."""
    return (f"{len(grid.legs)} leg(s) x {grid.n_strategies:,} strategies x "
            f"{grid.n_scenarios} scenario(s) = {grid.n_rows:,} configurations")


# -- messages from the workers ---------------------------------------------------------------
class CurveReady(Message):
    def __init__(self, token: tuple, result: BacktestResult | None, error: str = ""):
        super().__init__()
        self.token = token
        self.result = result
        self.error = error


class HeatReady(Message):
    def __init__(self, token: int, heat: pd.Series | None, error: str = ""):
        super().__init__()
        self.token = token
        self.heat = heat
        self.error = error


class RunsScreen(ModalScreen[str | None]):
    """The ledger's runs, newest first; enter picks one, Esc or q goes back."""

    DEFAULT_CSS = """
    RunsScreen { background: $background; }
    RunsScreen #runs-title { height: auto; padding: 0 1; text-style: bold; }
    """
    BINDINGS: ClassVar[list[Binding]] = [
        Binding("escape,q", "dismiss(None)", "Back"),
        Binding("question_mark", "app.help", "Help"),
    ]

    def __init__(self, ledger: Ledger):
        super().__init__()
        self.ledger = ledger

    def compose(self) -> ComposeResult:
        yield Static(f"Runs, newest first; enter attaches · {self.ledger.path}",
                     id="runs-title", markup=False)
        yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Run", "Status", Text("Done", justify="right"), "Legs")
        for r in self.ledger.runs(limit=50):
            legs = ",".join(r.params.get("grid", {}).get("legs", []))
            table.add_row(r.id, r.status, Text(f"{r.n_done:,}/{r.n_configs:,}", justify="right"),
                          Text(legs[:24] + ("…" if len(legs) > 24 else "")), key=r.id)
        table.focus()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()  # the desk's handlers read their own tables' rows, never these

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()  # the desk opens its edit form on enter
        self.dismiss(event.row_key.value)


class SweepScreen(ModalScreen):
    """A sweep run's leaderboard, curve and heat map. ``result``: a run to show at once (else
    the ledger's newest run); ``ledger_path``: None for the default ledger.

    Modal so the desk's editing keys cannot act on the book from here; ``?`` is passed on to
    the app's help. Public for the app: :meth:`show_result`, :attr:`running`, :meth:`stop`."""

    DEFAULT_CSS = """
    SweepScreen { background: $background; }
    SweepScreen #sw-title { height: 1; padding: 0 1; text-style: bold; }
    SweepScreen #sw-status { height: auto; padding: 0 1; }
    SweepScreen #sw-table { height: 1fr; min-height: 4; }
    SweepScreen #sw-caption { height: auto; min-height: 2; padding: 0 1; }
    SweepScreen #sw-chart { height: 1fr; min-height: 8; }
    SweepScreen #sw-heat { height: 1fr; min-height: 8; padding: 0 1; display: none; }
    """

    BINDINGS: ClassVar[list[Binding]] = [
        Binding("s", "sort", "Sort column"),
        Binding("S,r", "reverse", "Reverse"),
        Binding("m", "heat", "Heat map"),
        Binding("l", "runs", "Runs"),
        Binding("g", "grid", "Grid"),
        Binding("escape,q", "back", "Back / cancel"),
        Binding("question_mark", "app.help", "Help"),
    ]

    def __init__(self, cfg: DeskConfig, market: MarketData | None,
                 ledger_path: Path | str | None = None, result: SweepResult | None = None):
        super().__init__()
        self.cfg = cfg
        self.market = market
        self.ledger_path = ledger_path
        self._ledger: Ledger | None = None
        self._initial = result
        self.run_id: str | None = None
        self.run_status = ""
        self.summary: dict = {}
        self.rows: list[dict] = []
        self.sort_key = "#"
        self.desc = False
        self.heat: pd.Series | None = None
        self.heat_error = ""
        self.show_heat = False
        self.following: str | None = None
        self._poll_timer: Timer | None = None
        self._token = 0  # bumped per shown run: results of workers for an older one are stale
        self._curve_for: tuple | None = None
        self.running = False
        self.cancel = threading.Event()

    def compose(self) -> ComposeResult:
        yield Static("Sweep results", id="sw-title", markup=False)
        yield Static(IDLE, id="sw-status", markup=False)
        table = DataTable(id="sw-table", cursor_type="row", zebra_stripes=True, cell_padding=0)
        for i, c in enumerate(COLUMNS):  # no cell padding: one space before each column
            table.add_column(_cell(c.label, c), width=c.width + (i > 0), key=c.key)
        yield table
        yield Static("", id="sw-caption", markup=False)
        yield PlotextPlot(id="sw-chart")
        yield Static("", id="sw-heat", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#sw-table", DataTable).focus()
        if self._initial is not None:
            self.show_result(self._initial)
            return
        try:
            newest = self.ledger.runs(limit=1)
        except HedgedeskError as exc:
            self._set_status(str(exc))
            return
        if newest:
            self.attach(newest[0].id)

    def on_unmount(self) -> None:
        if self._ledger is not None and not self.running:  # a sweep still writes to it
            self._ledger.close()

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            from core.sweep_ledger import Ledger

            self._ledger = Ledger(Path(self.ledger_path) if self.ledger_path else None)
        return self._ledger

    # -- which run is shown ------------------------------------------------------------------
    def show_result(self, result: SweepResult) -> None:
        """Show a run made on the desk (or here); its per-configuration table comes with it."""
        self._follow(None)
        self._load(result.run_id, result.status, result.summary, result.per_config)

    def attach(self, run_id: str) -> None:
        """Show a ledger run; one still running is followed until it finishes."""
        try:
            rec = self.ledger.get(run_id)
        except HedgedeskError as exc:
            self._set_status(str(exc))
            return
        if rec.status == "running":
            self._follow(rec.id)
            self._poll()
        else:
            self._follow(None)
            self._show_record(rec)

    def _show_record(self, rec) -> None:
        if rec.summary is None:
            self._load(rec.id, rec.status, {}, None)
            self._set_status(f"run {rec.id} is {rec.status} with no results"
                             + (f": {rec.error}" if rec.error else ""))
        else:
            self._load(rec.id, rec.status, rec.summary, None)

    def _follow(self, run_id: str | None) -> None:
        if self._poll_timer is not None:
            self._poll_timer.stop()
            self._poll_timer = None
        self.following = run_id
        if run_id is not None:
            self._load(run_id, "running", {}, None)
            self._poll_timer = self.set_interval(POLL_S, self._poll)

    def _poll(self) -> None:
        """One cheap ledger read: progress while the run goes on, its results once it ends."""
        if self.following is None:
            return
        try:
            rec = self.ledger.get(self.following)
        except HedgedeskError as exc:
            self._set_status(str(exc))
            return
        if rec.status == "running":
            share = rec.n_done / rec.n_configs if rec.n_configs else 0.0
            self._set_status(f"following run {rec.id}: {rec.n_done:,}/{rec.n_configs:,} "
                             f"configurations ({share:.0%}), {rec.elapsed_s:.0f}s; results "
                             "when it finishes")
            return
        self._follow(None)
        self._show_record(rec)

    def _load(self, run_id: str | None, status: str, summary: dict,
              per_config: pd.DataFrame | None) -> None:
        self._token += 1
        self.run_id, self.run_status, self.summary = run_id, status, summary
        self.rows = leaderboard(summary)
        self.heat, self.heat_error = None, ""
        self._curve_for = None
        self._set_status("" if self.rows or status == "running" else
                         f"run {run_id or '(not recorded)'} is {status} with no strategies")
        self._fill()
        if self.rows:
            self._compute_heat(self._token, run_id, summary, per_config)
        self._show_heat()

    # -- the leaderboard ---------------------------------------------------------------------
    def _title(self) -> str:
        col = BY_KEY[self.sort_key]
        arrow = "↓" if self.desc else "↑"
        counts = self.summary.get("counts") or {}
        done = (f" {counts['done']:,}/{counts['configurations']:,}"
                if "done" in counts and "configurations" in counts else "")
        what = f"run {self.run_id} {self.run_status}{done}" if self.run_id else "no run shown"
        return f"{what} · sort {col.label} {arrow} (s S)"

    def _fill(self) -> None:
        """Rebuild the rows in the sort order, the cursor staying on the same strategy."""
        table = self.query_one("#sw-table", DataTable)
        keep = self._current()
        table.clear()
        col = BY_KEY[self.sort_key]
        for r in sort_rows(self.rows, col, self.desc):
            table.add_row(*(_cell(c.cell(r), c) for c in COLUMNS), key=str(r["#"]))
        if keep is not None and table.row_count:
            table.move_cursor(row=table.get_row_index(str(keep["#"])))
        self.query_one("#sw-title", Static).update(self._title())
        self._show_current()

    def _current(self) -> dict | None:
        table = self.query_one("#sw-table", DataTable)
        if not table.row_count or not self.rows:
            return None
        key = table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value
        return self.rows[int(key) - 1]

    def action_sort(self) -> None:
        i = SORT_CYCLE.index(self.sort_key)
        self._sort_by(SORT_CYCLE[(i + 1) % len(SORT_CYCLE)])

    def _sort_by(self, key: str) -> None:
        self.sort_key, self.desc = key, BY_KEY[key].desc
        self._fill()

    def action_reverse(self) -> None:
        self.desc = not self.desc
        self._fill()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        if event.column_key.value == self.sort_key:
            self.action_reverse()
        else:
            self._sort_by(event.column_key.value)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()  # the desk's own handler reads its tables' rows: never ours
        self._show_current()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()  # the desk opens its edit form on enter: not for these rows

    # -- the highlighted strategy: curve and heat map ----------------------------------------
    def _show_current(self) -> None:
        row = self._current()
        cap = self.query_one("#sw-caption", Static)
        if row is None:
            cap.update("")
            self._plot(None)
            self._show_heat()
            return
        token = (self._token, row["#"])
        if token != self._curve_for:
            self._curve_for = token
            cap.update(caption(row))
            self._compute_curve(token, row, self.summary)
        self._show_heat()

    @work(thread=True, exclusive=True, exit_on_error=False, group="sweep-curve")
    def _compute_curve(self, token: tuple, row: dict, summary: dict) -> None:
        if self.market is None:
            self.post_message(CurveReady(token, None, "the market data is still loading"))
            return
        try:
            self.post_message(CurveReady(token, strategy_backtest(self.market, row, summary)))
        except HedgedeskError as exc:  # ruined, too little data, unknown ticker: say so
            self.post_message(CurveReady(token, None, str(exc)))

    def on_curve_ready(self, message: CurveReady) -> None:
        if message.token != self._curve_for:  # the cursor has moved on
            return
        row = self.rows[message.token[1] - 1]
        self.query_one("#sw-caption", Static).update(caption(row, message.result,
                                                             message.error))
        self._plot(message.result, row)

    def _plot(self, bt: BacktestResult | None, row: dict | None = None) -> None:
        chart = self.query_one("#sw-chart", PlotextPlot)
        plt = chart.plt
        plt.clear_data()
        plt.clear_figure()
        if bt is not None:
            d = bt.dates
            years = list(d.year + (d.day_of_year - 1) / 365.25)
            step = max(1, len(years) // 400)  # more points than the plot has cells add nothing
            # the markers tell the lines apart without colour; the hedged curve is drawn last,
            # on top
            for curve, label, marker in ((bt.benchmark, row["hedge"], "."),
                                         (bt.unhedged, "unhedged", "+"),
                                         (bt.equity, "hedged", "*")):
                plt.plot(years[::step], list(curve[::step]), label=label, marker=marker)
            plt.ylabel("equity (1 = start)")
        chart.refresh()

    @work(thread=True, exclusive=True, exit_on_error=False, group="sweep-heat")
    def _compute_heat(self, token: int, run_id: str | None, summary: dict,
                      frame: pd.DataFrame | None) -> None:
        try:
            if frame is None:
                if run_id is None:
                    raise HedgedeskError("the run was not recorded: no per-configuration table")
                frame = self.ledger.per_config(run_id)
            if frame.empty:
                raise HedgedeskError("the per-configuration table is empty")
            self.post_message(HeatReady(token, heat_table(frame, summary)))
        except HedgedeskError as exc:  # a cancelled run keeps no table: skip the map
            self.post_message(HeatReady(token, None, str(exc)))

    def on_heat_ready(self, message: HeatReady) -> None:
        if message.token == self._token:
            self.heat, self.heat_error = message.heat, message.error
            self._show_heat()

    def _show_heat(self) -> None:
        if not self.show_heat:
            return
        row = self._current()
        if row is None:
            text = "no strategy highlighted"
        elif self.heat is not None:
            text = heat_text(self.heat, row, self.summary)
        elif self.heat_error:
            text = f"no heat map: {self.heat_error}"
        else:
            text = "computing the heat map…"
        self.query_one("#sw-heat", Static).update(text)

    def action_heat(self) -> None:
        self.show_heat = not self.show_heat
        self.query_one("#sw-heat").display = self.show_heat
        self.query_one("#sw-chart").display = not self.show_heat
        self._show_heat()

    # -- ledger runs -------------------------------------------------------------------------
    def action_runs(self) -> None:
        try:
            screen = RunsScreen(self.ledger)
        except HedgedeskError as exc:
            self._set_status(str(exc))
            return

        def picked(run_id: str | None) -> None:
            if run_id is not None:
                self.attach(run_id)

        self.app.push_screen(screen, picked)

    # -- defining and running a grid here ----------------------------------------------------
    def action_grid(self) -> None:
        """A form prefilled from the config's [sweep] grid; enter starts the sweep it defines."""
        if self.market is None:
            self.notify("the market data is still loading", title="Sweep")
        elif self._busy():
            self.notify("a sweep is already running (Esc cancels one started here)",
                        title="Sweep")
        else:
            from tui.edit import FormScreen

            fields = grid_fields(self.cfg)
            try:
                size = f"the config's grid: {grid_size(grid_request(self.cfg, fields).grid)}; "
            except HedgedeskError:
                size = ""
            note = (f"{size}lists 1,5,21 or ranges a:b:n (n values from a to b); baskets "
                    "NAME=T1+T2[@equal|@volume]; estimator ols,ewma")
            self.app.push_screen(FormScreen("Sweep grid", fields, self._start, note))

    def _busy(self) -> bool:
        return self.running or any(w.group == "sweep" and w.is_running for w in self.app.workers)

    def _start(self, values: dict[str, str]) -> None:
        """The form's apply: a bad value raises (the form shows it and stays open)."""
        request = grid_request(self.cfg, values)
        if self._busy():
            raise HedgedeskError("a sweep is already running")
        self.cancel = threading.Event()
        self.running = True
        self._set_status(f"starting the sweep: {grid_size(request.grid)}…")
        self._run(request, self.ledger)

    @work(thread=True, exclusive=True, exit_on_error=False, group="sweep")
    def _run(self, request, ledger) -> None:
        from core.sweep import choose_backend
        from core.sweep_cluster import ClusterSpec

        cluster = ClusterSpec.from_config(self.cfg.cluster)
        backend = None if cluster else choose_backend(request.backend)[0]
        stream_sweep(self, request, self.market, ledger, self.cancel, backend, cluster)

    def on_sweep_progress(self, message: SweepProgress) -> None:
        message.stop()
        if self.cancel.is_set():
            return
        p = message.progress
        eta = f"ETA {p.eta_s:.0f}s" if math.isfinite(p.eta_s) else "ETA …"
        self._set_status(f"{p.phase}: {p.done:,}/{p.total:,} ({p.done / p.total:.0%}) {eta}"
                         " · Esc cancels")

    def on_sweep_finished(self, message: SweepFinished) -> None:
        message.stop()
        self.running = False
        self.show_result(message.result)
        r = message.result
        if r.status != "done":
            self._set_status(f"run {r.run_id} {r.status}: resume with hedgedesk sweep --resume "
                             f"{r.run_id}")

    def stop(self) -> None:
        """Ask the sweep started here to stop after its chunk in flight (the ledger records it
        cancelled, resumable)."""
        if self.running:
            self.cancel.set()
            self._set_status("cancelling after this chunk…")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        event.stop()  # ours: the app's handler would take a "sweep" error for its pane's
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        if event.worker.group == "sweep":
            self.running = False
            self._set_status(f"sweep failed: {error}")
        elif event.worker.group == "sweep-curve":
            self.query_one("#sw-caption", Static).update(f"no curve: {error}")
        else:
            self.heat_error = str(error)
            self._show_heat()

    # -- keys --------------------------------------------------------------------------------
    def action_back(self) -> None:
        """Cancel a sweep running here first; once it is cancelling, leave."""
        if self.running and not self.cancel.is_set():
            self.stop()
        else:
            self.dismiss()

    def _set_status(self, text: str) -> None:
        status = self.query_one("#sw-status", Static)
        status.update(text or (IDLE if not self.rows else ""))
        status.display = bool(text) or not self.rows

"""Sweep results: a run's leaderboard, sortable by any column (the engine keeps each strategy
once); its walk-forward verdict; the highlighted strategy's score terms, raw and scaled to the
target volatility, and its equity curve against the unhedged book and the hedge instrument; a
heat map of mean score over rebalance period x beta window, from the leg's streamed summary (no
per-configuration table needed).

A run comes from the desk (:meth:`SweepScreen.show_result`), from the ledger (``l`` lists its
runs; a run still running, a ``hedgedesk sweep --detach`` say, is followed by polling the ledger
once a second until it finishes), or from ``g``: a form on this screen, prefilled from the
config's ``[sweep]`` grid, defines a grid in the CLI's syntax and enter runs it. Sweeps started
here (and resumed ones, ``R``) run on the desk's Sweep pane: leaving the screen never stops
them, ``x`` cancels. Curves are computed in a thread worker, so keys never wait.
Marks are characters (``[ ]`` around the highlighted cell, arrows, plot markers, words), never
colour alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.markup import escape
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.coordinate import Coordinate
from textual.css.query import NoMatches
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input, Static
from textual.worker import Worker, WorkerState
from textual_plotext import PlotextPlot

from hedgedesk.core.config import DeskConfig
from hedgedesk.core.errors import HedgedeskError
from hedgedesk.core.sweep.grid import Naming
from hedgedesk.core.sweep.ledger import RESUMABLE, RunStatus
from hedgedesk.core.sweep.results import (
    SCALED_FIGURES,
    Strategy,
    StrategyRow,
    SweepSummary,
    Verdict,
    WalkForward,
)
from hedgedesk.tui.format import num, pct
from hedgedesk.tui.messages import CurveComputed, GridFormClosed
from hedgedesk.tui.screens.forms import FieldsForm
from hedgedesk.tui.screens.help import HelpScreen
from hedgedesk.tui.widgets.sweep_pane import SweepPane, eta_text
from hedgedesk.tui.widgets.tables import fill

if TYPE_CHECKING:
    from hedgedesk.core.data.market import MarketData
    from hedgedesk.core.sweep.backtest import BacktestResult
    from hedgedesk.core.sweep.engine import SweepResult
    from hedgedesk.core.sweep.ledger import Ledger

POLL_S = 1.0  # ledger polling period while following a running run
IDLE = "l: runs in the ledger · g: define and run a grid · ? keys"


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _est(r: Strategy) -> str:
    return "ols" if r.estimator == "ols" else f"ew{r.halflife:g}"


def _g(v: Any) -> str:
    return "—" if _missing(v) else f"{v:g}"


def _pct(v: Any) -> str:
    return "—" if _missing(v) else pct(v, 1 if abs(v) < 1 else 0)


def _dec(digits: int) -> Callable[[Any], str]:
    return lambda v: "—" if _missing(v) else f"{v:.{digits}f}"


@dataclass(frozen=True)
class BoardRow:
    """One row of the leaderboard table: a strategy with its rank (None: a leg's best,
    ranked below every row the summary's leaderboard holds), its leg's PBO and its
    out-of-sample Sharpe ratio.
    """

    strategy: StrategyRow
    rank: int | None
    pbo: float | None
    oos_sharpe: float | None


@dataclass(frozen=True)
class Col:
    key: str
    label: str
    cell: Callable[[BoardRow], str]
    sort: Callable[[BoardRow], Any]
    desc: bool = True  # the natural direction: best first for figures, ascending for params
    left: bool = False
    param: bool = False  # a strategy parameter: hidden when every row shown has one value
    keep: bool = False  # always shown


def _field(attr: str, fmt: Callable[[Any], str]) -> tuple[Callable, Callable]:
    """Cell and sort key of a row's attribute (dotted: ``strategy.sharpe``)."""
    get = attrgetter(attr)
    return (lambda r: fmt(get(r)), lambda r: None if _missing(get(r)) else float(get(r)))


COLUMNS = (
    Col(
        "#",
        "#",
        lambda r: "—" if r.rank is None else str(r.rank),
        attrgetter("rank"),
        desc=False,
        keep=True,
    ),
    Col(
        "ticker",
        "Tkr",
        attrgetter("strategy.ticker"),
        attrgetter("strategy.ticker"),
        False,
        True,
        keep=True,
    ),
    Col("P", "P", *_field("strategy.rebalance", str), desc=False, param=True),
    Col("W", "W", *_field("strategy.window", str), desc=False, param=True),
    Col(
        "est",
        "Est",
        lambda r: _est(r.strategy),
        lambda r: (
            r.strategy.estimator,
            0.0 if _missing(r.strategy.halflife) else r.strategy.halflife,
        ),
        False,
        True,
        param=True,
    ),
    Col("k", "k", *_field("strategy.exposure", _g), desc=False, param=True),
    Col("h", "h", *_field("strategy.hedge_ratio", _g), desc=False, param=True),
    Col("d", "d", *_field("strategy.drift_band", _g), desc=False, param=True),
    Col("score", "Score", *_field("strategy.score", _dec(3)), keep=True),
    Col("sharpe", "Sharpe", *_field("strategy.sharpe", num), keep=True),
    Col("oos", "OOS", *_field("oos_sharpe", num)),
    Col("return", "Return", *_field("strategy.annual_return", _pct)),
    Col("maxdd", "MaxDD", *_field("strategy.max_drawdown", _pct)),
    Col("dsr", "DSR", *_field("strategy.dsr", _dec(2))),
    Col("dsr_all", "DSR*", *_field("strategy.dsr_all_legs", _dec(2))),
    Col("pbo", "PBO", *_field("pbo", _dec(2))),
)

BY_KEY = {c.key: c for c in COLUMNS}
# ``s`` visits the figures first: they are what a leaderboard is sorted by
SORT_CYCLE = (
    "#",
    "score",
    "sharpe",
    "oos",
    "return",
    "maxdd",
    "dsr",
    "dsr_all",
    "pbo",
    "ticker",
    "P",
    "W",
    "est",
    "k",
    "h",
    "d",
)
PARAM_NAMES = {"P": "P", "W": "W", "est": "est", "k": "k", "h": "h", "d": "d"}


def table_layout(rows: list[BoardRow]) -> list[tuple[Col, int]]:
    """The columns to show for ``rows`` and each one's content width, measured from its label
    and its cells. Hidden: a parameter every row shares (2 rows or more; the title names its
    value), a figure no row has.
    """
    out = []
    for c in COLUMNS:
        cells = [c.cell(r) for r in rows]
        if not c.keep and rows:
            if c.param and len(rows) > 1 and len(set(cells)) == 1:
                continue
            if not c.param and all(x == "—" for x in cells):
                continue
        out.append((c, max([len(c.label), *(len(x) for x in cells)])))
    return out


def shared_params(rows: list[BoardRow], layout: list[tuple[Col, int]]) -> str:
    """``d 0, k 1``: the parameters hidden because every row shown has that value."""
    shown = {c.key for c, _ in layout}
    if len(rows) < 2:
        return ""
    return ", ".join(
        f"{PARAM_NAMES[c.key]} {c.cell(rows[0])}" for c in COLUMNS if c.param and c.key not in shown
    )


def pad(text: str, col: Col, width: int, first: bool) -> Text:
    """A cell exactly ``width`` wide plus one space before it (but the first column's):
    columns can never touch. Text, not str: a str cell would be read as markup.
    """
    body = text.ljust(width) if col.left else text.rjust(width)
    return Text(body if first else " " + body)


def sort_rows(rows: list[BoardRow], col: Col, desc: bool) -> list[BoardRow]:
    """Rows by the column's value, ties in rank order; rows without a value (NaN) last either
    way round.
    """
    have = [r for r in rows if not _missing(col.sort(r))]
    return sorted(have, key=col.sort, reverse=desc) + [r for r in rows if _missing(col.sort(r))]


def _oos_sharpe(row: StrategyRow, walk: WalkForward | None) -> float | None:
    """The leader's out-of-sample Sharpe: recorded with it, or (runs from before that) from
    the walk-forward's own leaders.
    """
    if row.oos is not None:
        return row.oos.sharpe
    for w in walk.top if walk is not None else ():
        if w.ticker == row.ticker and w.row == row.row:
            return w.oos.sharpe
    return None


def _board_row(summary: SweepSummary, row: StrategyRow, rank: int | None) -> BoardRow:
    return BoardRow(row, rank, summary.pbo_of(row.ticker), _oos_sharpe(row, summary.walk_forward))


def leaderboard(summary: SweepSummary | None) -> list[BoardRow]:
    """The summary's top strategies with their rank, their leg's PBO and their out-of-sample
    Sharpe ratio.
    """
    if summary is None:
        return []
    return [_board_row(summary, r, i) for i, r in enumerate(summary.top, 1)]


def leg_bests(summary: SweepSummary | None) -> list[BoardRow]:
    """Each leg's best strategy in leaderboard form (rank None: the leg's leader ranks below
    the rows the leaderboard holds); legs without one are left out.
    """
    if summary is None:
        return []
    return [_board_row(summary, leg.best, None) for leg in summary.legs if leg.best is not None]


def best_per_leg(rows: list[BoardRow], legs: list[BoardRow]) -> list[BoardRow]:
    """One row per long leg: the first of its rows in the order given (the leaderboard's
    rank). A leg with no row there takes its best from ``legs`` (:func:`leg_bests`).
    Legs in the order of their best row.
    """
    seen: dict[str, BoardRow] = {}
    for row in [*rows, *legs]:
        seen.setdefault(row.strategy.ticker, row)
    return list(seen.values())


def walk_forward_line(summary: SweepSummary | None, status: str) -> str:
    """The walk-forward verdict in words: a negative rank correlation between in-sample and
    out-of-sample scores says the ranking does not persist.
    """
    if summary is None:
        return ""
    walk = summary.walk_forward
    if walk is not None:
        rho = walk.spearman_is_oos
        head = f"walk-forward: IS/OOS rank corr {_g(rho) if _missing(rho) else f'{rho:+.2f}'}"
        verdict = "" if walk.verdict == Verdict.PERSISTS else f" ({walk.verdict})"
        share = walk.fraction_in_sample
        where = f", {share:.0%} in-sample" if share else ""
        return f"{head}{verdict} · {walk.strategies:,} strategies{where}"
    if summary.request.get("walk_forward") == 0:
        return "walk-forward: off for this run"
    if status != RunStatus.DONE:
        return f"walk-forward: not run (the run is {status})"
    return "walk-forward: none recorded"


def strategy_backtest(market: MarketData, row: Strategy, summary: SweepSummary) -> BacktestResult:
    """A leaderboard row's backtest under its run's recorded request: core's
    ``backtest_for_row`` (the run's dates, rf, leg members and weighting; an EWMA row re-run
    with its estimator).
    """
    from hedgedesk.core.sweep.request import SweepRequest, backtest_for_row

    recorded = summary.request
    if not recorded:
        raise HedgedeskError("the run recorded no request to re-run this strategy from")
    params = {"ticker": row.ticker, **row.params_json()}
    return backtest_for_row(market, SweepRequest.from_dict(recorded), params)


def _figures(m: dict) -> str:
    return f"{pct(m['annual_return'])} {num(m['sharpe'])} {pct(m['max_drawdown'])}"


def _terms(annual_return: float, max_drawdown: float, consistency: float) -> str:
    return (
        f"return {_pct(annual_return)}, max DD {_pct(max_drawdown)}, "
        f"consistency {_pct(consistency)}"
    )


def pbo_note(summary: SweepSummary, ticker: str) -> str:
    """The leg's PBO in words, with how it was computed when not exactly: ``PBO 0.42 (sampled
    4,000 of 1,000,000, ± 0.012)``; empty where the leg has none.
    """
    leg = summary.leg(ticker)
    p = None if leg is None else leg.pbo
    if p is None:
        return ""
    if p.method != "sampled":
        return f"PBO {_dec(2)(p.pbo)}"
    of = "?" if p.population is None else f"{p.population:,}"
    se = "" if p.standard_error is None else f", ± {p.standard_error:.3f}"
    return f"PBO {_dec(2)(p.pbo)} (sampled {p.configurations:,} of {of}{se})"


def score_line(row: BoardRow, summary: SweepSummary | None) -> str:
    """The score and the figures its terms read, raw and on the curve scaled to the target
    volatility (CONVENTIONS "Sweep scoring"; a run recorded before the risk-normalised score
    has no scaled figures), and the leg's PBO (sampled: of how many, with its error).
    """
    s = row.strategy
    parts = [
        f"score {_dec(3)(s.score)}",
        f"raw: {_terms(s.annual_return, s.max_drawdown, s.consistency)}",
    ]
    if summary is not None and not all(_missing(getattr(s, n)) for n in SCALED_FIGURES):
        vol = pct(summary.ranking.targets.volatility, 0)
        scaled = _terms(s.scaled_annual_return, s.scaled_max_drawdown, s.scaled_consistency)
        parts.append(f"scaled to {vol} vol: {scaled}")
    note = "" if summary is None else pbo_note(summary, s.ticker)
    return " · ".join([*parts, note] if note else parts)


def caption(
    row: BoardRow,
    summary: SweepSummary | None,
    bt: BacktestResult | None = None,
    error: str = "",
) -> str:
    """Three lines: the configuration; its score with the score's figures raw and scaled
    (:func:`score_line`); then return, Sharpe and max drawdown of each curve.
    """
    s = row.strategy
    impact = f" impact {s.impact:g} (not in the curve)" if s.impact else ""
    rank = "leg best" if row.rank is None else f"#{row.rank}"
    head = (
        f"{rank} {s.ticker} P{s.rebalance} W{s.window} {_est(s)} "
        f"k{s.exposure:g} h{s.hedge_ratio:g} d{s.drift_band:g} "
        f"cost {s.cost:g}{impact}\n{score_line(row, summary)}"
    )
    if error:
        return f"{head}\nno curve: {error}"
    if bt is None:
        return f"{head}\ncomputing the equity curve…"
    m = bt.metrics
    return (
        f"{head}\nreturn/Sharpe/maxDD: hedged {_figures(m)} | unhedged {_figures(m['unhedged'])} "
        f"| {s.hedge} {_figures(m['benchmark'])}"
    )


def heat_text(row: BoardRow, summary: SweepSummary) -> str:
    """The leg's heat map (:attr:`LegSummary.heat`: mean score of its canonical ok strategies
    under the ranking scenario) as a grid of numbers: rebalance periods down, windows across;
    [ ] marks the row's cell.
    """
    s = row.strategy
    ticker = s.ticker
    leg = summary.leg(ticker)
    heat = None if leg is None else leg.heat
    if heat is None:
        return f"{ticker}: no heat map recorded for this leg (a run from before streamed maps)"
    rank = summary.ranking
    impact = f", impact {_g(rank.impact)}" if rank.impact else ""
    lines = [
        f"{ticker}: mean score, P down x W across, cost {_g(rank.cost)}{impact}, "
        "over est/k/h/d; [ ] this row",
        "P\\W " + "".join(f"{w:>8}" for w in heat.window),
    ]
    for p, values in zip(heat.rebalance, heat.mean_score, strict=True):
        cells = []
        for w, v in zip(heat.window, values, strict=True):
            text = "—" if _missing(v) else f"{v:.3f}"
            mine = p == s.rebalance and w == s.window
            cells.append(f"{f'[{text}]' if mine else text:>8}")
        lines.append(f"{p:>3} " + "".join(cells))
    return "\n".join(lines)


# -- the grid form ---------------------------------------------------------------------------
GRID_FIELDS = {  # form field -> request field (hedgedesk.core.sweep.grid.FIELDS), in form order
    "tickers": "legs",
    "hedge": "hedge",
    "rebalance": "rebalance",
    "window": "window",
    "estimator": "estimator",
    "halflife": "halflife",
    "exposure": "exposure",
    "hedge ratio": "hedge_ratio",
    "drift band": "drift_band",
    "cost": "cost",
}
FORM_NAMING = Naming({field: name for name, field in GRID_FIELDS.items()})  # errors name these


def grid_fields(cfg: DeskConfig) -> dict[str, str]:
    """The form's fields as text, from the config's [sweep] grid (or the defaults)."""
    from hedgedesk.core.sweep.request import grid_texts

    texts = grid_texts(cfg)
    return {name: texts[field] for name, field in GRID_FIELDS.items()}


def grid_request(cfg: DeskConfig, values: dict[str, str]):
    """The config's request with the form's text as overrides, read as ``hedgedesk sweep``
    reads its flags (the config gives the dates, risk-free rate, score targets and impact
    levels); an error names the form's field.
    """
    from hedgedesk.core.sweep.request import SweepRequest

    overrides = {GRID_FIELDS[name]: text for name, text in values.items()}
    return SweepRequest.from_config(cfg, FORM_NAMING, **overrides)


def grid_size(grid) -> str:
    """``2 leg(s) x 24 strategies x 2 scenarios = 96 configurations``."""
    return (
        f"{len(grid.legs)} leg(s) x {grid.n_strategies:,} strategies x "
        f"{grid.n_scenarios} scenario(s) = {grid.n_rows:,} configurations"
    )


FIELD_PREFIX = "sw-field-"  # the grid form's inputs: sw-field-tickers, sw-field-hedge-ratio...
FORM_HINT = "Enter runs the grid · Esc back to the results · Tab next field"
FORM_SYNTAX = (
    "Lists 1,5,21 or ranges a:b:n (n values from a to b); baskets "
    "NAME=T1+T2[@equal|@volume]; estimator ols,ewma (one EWMA per half-life)."
)


class GridForm(Vertical):
    """The grid's fields in the desk's shared form
    (:class:`hedgedesk.tui.screens.forms.FieldsForm`: a label and
    a one-line input a row, in a scroll; the note, the hint and the error line docked below,
    never scrolled away; an error marks and focuses the field it names). Tab and shift+tab
    stay in the form, wrapping, and scroll the field they reach into view; Esc hands the keys
    back to the results (what was typed is kept).
    """

    DEFAULT_CSS = """
    GridForm { height: 1fr; min-height: 6; display: none; border-top: solid $primary; }
    GridForm > FieldsForm { padding: 0 1; }
    """

    BINDINGS: ClassVar[list[Binding]] = [
        Binding("escape", "close", "Back to the results"),
        Binding("tab", "move(1)", "Next field", show=False),
        Binding("shift+tab", "move(-1)", "Previous field", show=False),
    ]

    def __init__(self, fields: dict[str, str], note: str = ""):
        super().__init__(id="sw-form")
        self.fields = fields
        self.note = note

    def compose(self) -> ComposeResult:
        yield FieldsForm(
            self.fields,
            prefix=FIELD_PREFIX,
            note=self.note,
            hint=FORM_HINT,
            tail=FORM_SYNTAX,
            label_width=13,
            id="sw-fields",
        )

    @property
    def form(self) -> FieldsForm:
        return self.query_one(FieldsForm)

    @property
    def inputs(self) -> list[Input]:
        return list(self.query(Input))

    def values(self) -> dict[str, str]:
        return self.form.values()

    def focus_field(self, i: int) -> None:
        """Focus field ``i`` (wrapping) and scroll it into view."""
        field = self.inputs[i % len(self.inputs)]
        field.focus()
        scroll = self.form.query_one(".form-fields", VerticalScroll)
        self.call_after_refresh(scroll.scroll_to_widget, field, animate=False)

    def action_move(self, step: int) -> None:
        here = next((i for i, f in enumerate(self.inputs) if f.has_focus), -step)
        self.focus_field(here + step)

    def action_close(self) -> None:
        self.post_message(GridFormClosed())

    def show_error(self, text: str) -> None:
        self.form.show_error(f"error: {text}" if text else "")


@dataclass(frozen=True)
class RunPick:
    run_id: str
    resume: bool = False


class RunsScreen(ModalScreen[RunPick | None]):
    """The ledger's runs, newest first; enter shows one, R resumes an interrupted, cancelled
    or failed one, Esc or q goes back.
    """

    HELP_TITLE = "Runs"
    DEFAULT_CSS = """
    RunsScreen { background: $background; }
    RunsScreen #runs-title { height: auto; padding: 0 1; text-style: bold; }
    """
    BINDINGS: ClassVar[list[Binding]] = [
        Binding(
            "R",
            "resume",
            "Resume run",
            tooltip="Resume the highlighted run (interrupted, "
            "cancelled or failed) on the desk's pane",
        ),
        Binding("escape,q", "dismiss(None)", "Back"),
        Binding("question_mark", "help", "Help", tooltip="Help: the keys here"),
    ]
    HELP_KEYS = (("enter", "show the highlighted run"),)

    def __init__(self, ledger: Ledger):
        super().__init__()
        self.ledger = ledger
        self.records: dict[str, Any] = {}

    def compose(self) -> ComposeResult:
        yield Static(
            f"Runs, newest first; enter shows, R resumes · {self.ledger.path}",
            id="runs-title",
            markup=False,
        )
        yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        rows = []
        for r in self.ledger.runs(limit=50):
            self.records[r.id] = r
            legs = ",".join(r.params.get("grid", {}).get("legs", []))
            status = f"{r.status} (R)" if r.status in RESUMABLE else r.status
            rows.append(
                (
                    r.id,
                    [
                        r.id,
                        status,
                        f"{r.n_done:,}/{r.n_configs:,}",
                        legs[:24] + ("…" if len(legs) > 24 else ""),
                    ],
                )
            )
        fill(table, ["Run", "Status", "Done", "Legs"], rows, right={2})
        table.focus()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self))

    def action_resume(self) -> None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return
        run_id = table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value
        rec = self.records[run_id]
        if rec.status not in RESUMABLE:
            self.notify(
                f"run {run_id} is {rec.status}: only an interrupted, cancelled or "
                "failed run resumes",
                title="Resume",
                severity="warning",
            )
            return
        self.dismiss(RunPick(run_id, resume=True))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()  # the desk's handlers read their own tables' rows, never these

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()  # the desk opens its edit form on enter
        self.dismiss(RunPick(event.row_key.value))


class SweepScreen(ModalScreen):
    """A sweep run's leaderboard, walk-forward verdict, curve and heat map. ``result``: a run
    to show at once (else the desk's sweep in progress, else the ledger's newest run);
    ``ledger_path``: None for the default ledger.

    Modal so the desk's editing keys cannot act on the book from here. Sweeps run on the
    desk's :class:`SweepPane`. Public for the app: :meth:`show_result`, :attr:`running`,
    :meth:`stop`.
    """

    HELP_TITLE = "Sweep"
    DEFAULT_CSS = """
    SweepScreen { background: $background; }
    SweepScreen #sw-title { height: auto; padding: 0 1; text-style: bold; }
    SweepScreen #sw-status { height: auto; padding: 0 1; }
    SweepScreen #sw-wf { height: auto; padding: 0 1; display: none; }
    SweepScreen #sw-table { height: 1fr; min-height: 4; scrollbar-size-vertical: 1; }
    SweepScreen #sw-detail { height: 1fr; }
    SweepScreen #sw-caption { height: auto; min-height: 2; padding: 0 1; }
    SweepScreen #sw-chart { height: 1fr; min-height: 6; }
    SweepScreen #sw-heat { height: 1fr; min-height: 6; padding: 0 1; display: none; }
    """

    BINDINGS: ClassVar[list[Binding]] = [
        Binding("s", "sort", "Sort", tooltip="Sort by the next column"),
        Binding("S,r", "reverse", "Reverse", show=False, tooltip="Reverse the sort"),
        Binding("b", "per_leg", "Per leg", tooltip="Best strategy per leg / every strategy"),
        Binding("m", "heat", "Heat", tooltip="Heat map of mean score / equity curve"),
        Binding("l", "runs", "Runs", tooltip="Runs in the ledger (R there resumes one)"),
        Binding("g", "grid", "Grid", tooltip="Grid form: define a sweep, Enter runs it"),
        Binding(
            "x",
            "cancel_sweep",
            "Cancel sweep",
            tooltip="Cancel the sweep running on the desk's pane (resumable)",
        ),
        Binding(
            "R",
            "resume",
            "Resume",
            tooltip="Resume the run shown (interrupted, cancelled or failed)",
        ),
        Binding(
            "escape,q", "back", "Back", tooltip="Back to the desk (a sweep keeps running there)"
        ),
        Binding("question_mark", "help", "Help", tooltip="Help: the keys here"),
    ]
    HELP_KEYS = (
        ("enter", "in the grid form: run the grid (a bad value stays, with why)"),
        ("esc", "in the grid form: back to the results, the form's text kept"),
    )

    def __init__(
        self,
        cfg: DeskConfig,
        market: MarketData | None,
        ledger_path: Path | str | None = None,
        result: SweepResult | None = None,
    ):
        super().__init__()
        self.cfg = cfg
        self.market = market
        self.ledger_path = ledger_path
        self._ledger: Ledger | None = None
        self._initial = result
        self.run_id: str | None = None
        self.run_status = ""
        self.summary: SweepSummary | None = None
        self.rows: list[BoardRow] = []  # the leaderboard, rank order
        self.shown: list[BoardRow] = []  # the rows of the table: all, or one per leg
        self.per_leg = False
        self.sort_key = "#"
        self.desc = False
        self.show_heat = False
        self.following: str | None = None
        self._poll_timer: Timer | None = None
        self._token = 0  # bumped per shown run: results of workers for an older one are stale
        self._curve_for: tuple | None = None
        self.tracking = False  # the pane's sweep is this screen's: show its result
        self._seen_result: object = None
        self._seen_error = ""

    def compose(self) -> ComposeResult:
        yield Static("Sweep results", id="sw-title", markup=False)
        yield Static(IDLE, id="sw-status", markup=False)
        yield Static("", id="sw-wf", markup=False)
        yield DataTable(id="sw-table", cursor_type="row", zebra_stripes=True, cell_padding=0)
        with Vertical(id="sw-detail"):
            yield Static("", id="sw-caption", markup=False)
            yield PlotextPlot(id="sw-chart")
            yield Static("", id="sw-heat", markup=False)
        yield GridForm(grid_fields(self.cfg), self._grid_note())
        yield Footer(compact=True)  # every key at 80 columns

    def _grid_note(self) -> str:
        try:
            return f"config: {grid_size(grid_request(self.cfg, grid_fields(self.cfg)).grid)}"
        except HedgedeskError:
            return ""

    def on_mount(self) -> None:
        self.query_one("#sw-table", DataTable).focus()
        pane = self.pane
        if pane is not None:
            self.watch(pane, "version", self._pane_changed, init=False)
            self._seen_result, self._seen_error = pane.result, pane.error
        if self._initial is not None and not (pane is not None and pane.running):
            self.show_result(self._initial)
        elif pane is not None and pane.running:
            self.tracking = True  # the desk's sweep in progress: its result when it ends
            self._load(pane.run_id, RunStatus.RUNNING, None)
            self._pane_changed()
        else:
            try:
                newest = self.ledger.runs(limit=1)
            except HedgedeskError as exc:
                self._set_status(str(exc))
                return
            if newest:
                self.attach(newest[0].id)

    def on_unmount(self) -> None:
        if self._ledger is not None:  # sweeps have ledgers of their own
            self._ledger.close()

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            from hedgedesk.core.sweep.ledger import Ledger

            self._ledger = Ledger(Path(self.ledger_path) if self.ledger_path else None)
        return self._ledger

    @property
    def pane(self) -> SweepPane | None:
        """The desk's Sweep pane, where sweeps run (None in an app without one)."""
        try:
            return self.app.query_one(SweepPane)
        except NoMatches:
            return None

    @property
    def running(self) -> bool:
        pane = self.pane
        return pane is not None and pane.running

    # -- which run is shown ------------------------------------------------------------------
    def show_result(self, result: SweepResult) -> None:
        """Show a run made on the desk (or here)."""
        self._follow(None)
        self._load(result.run_id, result.status, result.summary)

    def attach(self, run_id: str) -> None:
        """Show a ledger run; one still running is followed until it finishes (the desk's own
        sweep is followed through its pane).
        """
        try:
            rec = self.ledger.get(run_id)
        except HedgedeskError as exc:
            self._set_status(str(exc))
            return
        pane = self.pane
        self.tracking = pane is not None and pane.running and pane.run_id == rec.id
        if self.tracking:
            self._follow(None)
            self._load(rec.id, RunStatus.RUNNING, None)
            self._pane_changed()
        elif rec.status == RunStatus.RUNNING:
            self._follow(rec.id)
            self._poll()
        else:
            self._follow(None)
            self._show_record(rec)

    def _show_record(self, rec) -> None:
        if rec.summary is None:
            self._load(rec.id, rec.status, None)
            self._set_status(
                f"run {rec.id} is {rec.status} with no results"
                + (f": {rec.error}" if rec.error else "")
                + (" · R resumes it" if rec.status in RESUMABLE else "")
            )
        else:
            self._load(rec.id, rec.status, rec.summary)
            if rec.status in RESUMABLE:
                self._set_status(f"run {rec.id} is {rec.status}: R resumes it")

    def _follow(self, run_id: str | None) -> None:
        if self._poll_timer is not None:
            self._poll_timer.stop()
            self._poll_timer = None
        self.following = run_id
        if run_id is not None:
            self._load(run_id, RunStatus.RUNNING, None)
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
        if rec.status == RunStatus.RUNNING:
            share = rec.n_done / rec.n_configs if rec.n_configs else 0.0
            self._set_status(
                f"following run {rec.id}: {rec.n_done:,}/{rec.n_configs:,} "
                f"configurations ({share:.0%}), {rec.elapsed_s:.0f}s; results "
                "when it finishes"
            )
            return
        self._follow(None)
        self._show_record(rec)

    def _load(
        self,
        run_id: str | None,
        status: str,
        summary: SweepSummary | None,
    ) -> None:
        self._token += 1
        self.run_id, self.run_status, self.summary = run_id, status, summary
        self.rows = leaderboard(summary)
        self._curve_for = None
        self._set_status(
            ""
            if self.rows or status == RunStatus.RUNNING
            else f"run {run_id or '(not recorded)'} is {status} with no strategies"
        )
        wf = self.query_one("#sw-wf", Static)
        line = walk_forward_line(summary, status)
        wf.update(line)
        wf.display = bool(line)
        self._fill()
        self._show_heat()

    # -- the desk's sweep, followed through its pane -----------------------------------------
    def _pane_changed(self, *_) -> None:
        pane = self.pane
        if pane is None:
            return
        if pane.result is not self._seen_result:
            self._seen_result = pane.result
            if self.tracking:
                self.tracking = False
                r = pane.result
                self.show_result(r)
                if r.status != RunStatus.DONE:
                    self._set_status(
                        f"run {r.run_id} {r.status}: R resumes it (or hedgedesk "
                        f"sweep --resume {r.run_id})"
                    )
            return
        if pane.error != self._seen_error:
            self._seen_error = pane.error
            if pane.error and self.tracking:
                self.tracking = False
                self._set_status(f"sweep failed: {pane.error}")
            return
        if not pane.running:
            return
        p = pane.progress
        if pane.cancel.is_set():
            text = "cancelling after the chunk in flight…"
        elif p is None:
            text = f"starting the sweep on {pane.backend}…"
        else:
            text = (
                f"{'this' if self.tracking else 'desk'} sweep {p.run_id or ''} · {p.phase}: "
                f"{p.done:,}/{p.total:,} configurations, {p.fraction:.0%} done, "
                f"{eta_text(p)} · x cancel sweep"
            )
        if self.tracking and p is not None and self.run_id != p.run_id:
            self.run_id = p.run_id
            self.query_one("#sw-title", Static).update(self._title())
        self._set_status(text)

    # -- the leaderboard ---------------------------------------------------------------------
    def _title(self, layout: list[tuple[Col, int]] | None = None) -> str:
        col = BY_KEY[self.sort_key]
        arrow = "↓" if self.desc else "↑"
        counts = self.summary.counts if self.summary is not None else None
        done = f" {counts.done:,}/{counts.configurations:,}" if counts is not None else ""
        what = f"run {self.run_id} {self.run_status}{done}" if self.run_id else "no run shown"
        view = "best per leg" if self.per_leg else "all"
        shared = shared_params(self.shown, layout) if layout is not None else ""
        return f"{what} · sort {col.label} {arrow} · view {view}" + (
            f" · all rows: {shared}" if shared else ""
        )

    def _view_rows(self) -> list[BoardRow]:
        if self.per_leg:
            return best_per_leg(self.rows, leg_bests(self.summary))
        return self.rows

    def _fill(self) -> None:
        """Rebuild the rows in the sort order, the cursor staying on the same strategy; the
        columns' widths are measured from what they hold.
        """
        table = self.query_one("#sw-table", DataTable)
        keep = self._current()
        col = BY_KEY[self.sort_key]
        self.shown = sort_rows(self._view_rows(), col, self.desc)
        layout = table_layout(self.shown)
        table.clear(columns=True)
        for i, (c, width) in enumerate(layout):
            table.add_column(pad(c.label, c, width, i == 0), width=width + (i > 0), key=c.key)
        for j, r in enumerate(self.shown):
            table.add_row(
                *(pad(c.cell(r), c, width, i == 0) for i, (c, width) in enumerate(layout)),
                key=str(j),
            )
        if keep is not None and table.row_count:
            at = next(
                (
                    j
                    for j, r in enumerate(self.shown)
                    if r.strategy.ticker == keep.strategy.ticker
                    and r.strategy.row == keep.strategy.row
                ),
                0,
            )
            table.move_cursor(row=at)
        self.query_one("#sw-title", Static).update(self._title(layout))
        self._show_current()

    def _current(self) -> BoardRow | None:
        table = self.query_one("#sw-table", DataTable)
        if not table.row_count or not self.shown:
            return None
        key = table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value
        return self.shown[int(key)]

    def action_sort(self) -> None:
        i = SORT_CYCLE.index(self.sort_key)
        self._sort_by(SORT_CYCLE[(i + 1) % len(SORT_CYCLE)])

    def _sort_by(self, key: str) -> None:
        self.sort_key, self.desc = key, BY_KEY[key].desc
        self._fill()

    def action_reverse(self) -> None:
        self.desc = not self.desc
        self._fill()

    def action_per_leg(self) -> None:
        self.per_leg = not self.per_leg
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
        token = (self._token, row.strategy.ticker, row.strategy.row)
        if token != self._curve_for:
            self._curve_for = token
            cap.update(caption(row, self.summary))
            self._compute_curve(token, row.strategy, self.summary)
        self._show_heat()

    @work(thread=True, exclusive=True, exit_on_error=False, group="sweep-curve")
    def _compute_curve(self, token: tuple, row: StrategyRow, summary: SweepSummary) -> None:
        if self.market is None:
            self.post_message(CurveComputed(token, None, "the market data is still loading"))
            return
        try:
            self.post_message(CurveComputed(token, strategy_backtest(self.market, row, summary)))
        except HedgedeskError as exc:  # ruined, too little data, unknown ticker: say so
            self.post_message(CurveComputed(token, None, str(exc)))

    def on_curve_computed(self, message: CurveComputed) -> None:
        if message.token != self._curve_for:  # the cursor has moved on
            return
        row = self._current()
        if row is None:
            return
        self.query_one("#sw-caption", Static).update(
            caption(row, self.summary, message.result, message.error)
        )
        self._plot(message.result, row)

    def _plot(self, bt: BacktestResult | None, row: BoardRow | None = None) -> None:
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
            for curve, label, marker in (
                (bt.benchmark, row.strategy.hedge, "."),
                (bt.unhedged, "unhedged", "+"),
                (bt.equity, "hedged", "*"),
            ):
                plt.plot(years[::step], list(curve[::step]), label=label, marker=marker)
            plt.ylabel("equity (1 = start)")
        chart.refresh()

    def _show_heat(self) -> None:
        if not self.show_heat:
            return
        row = self._current()
        if row is None:
            text = "no strategy highlighted"
        elif self.summary is not None:
            text = heat_text(row, self.summary)
        else:
            text = "no heat map: the run has no results yet"
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

        def picked(pick: RunPick | None) -> None:
            if pick is None:
                return
            if pick.resume:
                self.resume(pick.run_id)
            else:
                self.attach(pick.run_id)

        self.app.push_screen(screen, picked)

    def action_resume(self) -> None:
        if self.run_id is None or self.run_status not in RESUMABLE:
            self.notify(
                "R resumes an interrupted, cancelled or failed run: pick one with l", title="Resume"
            )
            return
        self.resume(self.run_id)

    def resume(self, run_id: str) -> None:
        """Finish a ledger run on the desk's pane (the engine's resume: its recorded grid,
        data and backend); the screen follows it and shows its result.
        """
        from hedgedesk.core.sweep.cluster import ClusterSpec
        from hedgedesk.core.sweep.ledger import Ledger

        pane = self.pane
        if pane is None:
            self._set_status("no desk Sweep pane here to run the sweep on")
            return
        if self.market is None:
            self._set_status("the market data is still loading")
            return
        if pane.running:
            self._set_status("a sweep is already running on the desk (x cancels it)")
            return
        ledger = Ledger(Path(self.ledger_path) if self.ledger_path else None)
        try:
            pane.resume(
                run_id,
                self.market,
                ledger,
                ClusterSpec.from_config(self.cfg.cluster),
                close_ledger=True,
            )
        except HedgedeskError as exc:
            ledger.close()
            self._set_status(str(exc))
            return
        self._follow(None)
        self.tracking = True
        self._load(run_id, RunStatus.RUNNING, None)
        self._set_status(f"resuming run {run_id} on the desk's pane…")

    # -- defining and running a grid here ----------------------------------------------------
    @property
    def form(self) -> GridForm:
        return self.query_one(GridForm)

    def action_grid(self) -> None:
        """Open the grid form (prefilled from the config's [sweep] grid, or what was typed
        last) and give it the keys; Enter starts the sweep it defines.
        """
        if self.market is None:
            self.notify("the market data is still loading", title="Sweep")
            return
        self.query_one("#sw-detail").display = False
        self.form.display = True
        self.form.focus_field(0)

    def on_grid_form_closed(self, message: GridFormClosed) -> None:
        message.stop()
        self._close_form()

    def _close_form(self) -> None:
        self.form.display = False
        self.query_one("#sw-detail").display = True
        self.query_one("#sw-table", DataTable).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        form = self.form
        try:
            self._start(form.values())
        except HedgedeskError as exc:
            form.show_error(str(exc))
            return
        form.show_error("")
        self._close_form()

    def _start(self, values: dict[str, str]) -> None:
        """The form's Enter: a bad value raises (the form shows it and keeps the keys)."""
        from hedgedesk.core.sweep.cluster import ClusterSpec
        from hedgedesk.core.sweep.ledger import Ledger

        request = grid_request(self.cfg, values)
        pane = self.pane
        if pane is None:
            raise HedgedeskError("no desk Sweep pane here to run the sweep on")
        if pane.running:
            raise HedgedeskError("a sweep is already running on the desk (x cancels it)")
        ledger = Ledger(Path(self.ledger_path) if self.ledger_path else None)
        try:
            pane.start(
                request,
                self.market,
                ledger,
                cluster=ClusterSpec.from_config(self.cfg.cluster),
                close_ledger=True,
            )
        except BaseException:
            ledger.close()
            raise
        self._follow(None)
        self.tracking = True
        self._load(None, RunStatus.RUNNING, None)
        self._set_status(f"starting the sweep: {grid_size(request.grid)}…")

    def action_cancel_sweep(self) -> None:
        if not self.running:
            self.notify("no sweep is running", title="Sweep")
            return
        self.stop()

    def stop(self) -> None:
        """Ask the desk's sweep to stop after its chunk in flight (the ledger records it
        cancelled, resumable).
        """
        pane = self.pane
        if pane is not None and pane.running:
            pane.stop()
            self._set_status("cancelling after the chunk in flight…")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        if event.worker.group == "sweep-curve":
            self.query_one("#sw-caption", Static).update(f"no curve: {error}")

    # -- keys --------------------------------------------------------------------------------
    def action_back(self) -> None:
        """Back to the desk: a sweep running on its pane goes on (x cancels it)."""
        if self.running:
            self.app.notify(
                escape("the sweep goes on in the desk's Sweep pane (Esc there cancels it)"),
                title="Sweep",
            )
        self.dismiss()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self))

    def _set_status(self, text: str) -> None:
        status = self.query_one("#sw-status", Static)
        status.update(text or (IDLE if not self.rows else ""))
        status.display = bool(text) or not self.rows

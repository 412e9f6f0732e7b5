"""P&L explained and Greeks by underlying: the desk's current book (edits and what-if shocks in
force, on the replay day when replaying), its day P&L against the previous session attributed
to the Greeks, and its dollar Greeks grouped by underlying or by instrument kind.

Figures are core's (:mod:`hedgedesk.core.book.pnl`, :mod:`hedgedesk.core.book.exposure`),
computed in a worker. The screen follows the desk: each time the desk shows new figures (an
edit, a shock, a replay step, a live refresh) it computes again for the desk's book and day, so
the P&L moves day by day as the replay steps (. , and p work here too). Totals come first so
they stay in view at 80x24; marks are characters, never colour alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static
from textual.worker import Worker, WorkerState

from hedgedesk.core.errors import HedgedeskError
from hedgedesk.tui.format import money, num
from hedgedesk.tui.screens.scenarios import fill_named

if TYPE_CHECKING:
    from hedgedesk.core.book.exposure import Exposure, GreekGroup
    from hedgedesk.core.book.pnl import PnlExplain, PnlLine, PnlTotal
    from hedgedesk.core.book.valuation import MarketState
    from hedgedesk.core.config import DeskConfig
    from hedgedesk.core.data.market import MarketData

PNL_HEADS = ["Day", "Since cost", "Delta", "Gamma", "Vega", "Theta", "Unexpl"]
GREEK_HEADS = ["Delta$", "Gamma/1%", "Vega/pt", "Theta/d", "Beta", "Beta$"]


@dataclass(frozen=True)
class DeskView:
    """What the desk shows now: its book as of the replay day (else the latest close), the
    market, the what-if shocks, a token that changes whenever the desk shows new figures, and
    the desk's prepared market states (``state(cfg)``).
    """

    cfg: DeskConfig
    market: MarketData | None
    shocks: Mapping[str, float]
    token: object
    state: Callable[[DeskConfig], MarketState]
    replay: bool = False


@dataclass(frozen=True)
class Figures:
    """One computation's results: the explain (or why not) and both groupings."""

    generation: int
    by_underlying: Exposure
    by_kind: Exposure
    pnl: PnlExplain | None
    error: str = ""
    shocks: tuple[str, ...] = ()
    replay: bool = False


def compute_figures(view: DeskView, generation: int = 0) -> Figures:
    """Core's figures for the view: the book valued at the (shocked) state, the P&L explained
    against the previous session and the Greeks by underlying and by kind.
    """
    from hedgedesk.core.book.exposure import greeks_by
    from hedgedesk.core.book.pnl import explain
    from hedgedesk.core.book.valuation import book_lines, shocked_state, value_book

    if view.market is None:
        raise HedgedeskError("the market data is still loading: close and try again")
    state = shocked_state(view.state(view.cfg), view.shocks)
    lines = book_lines(view.cfg)
    val = value_book(view.cfg, state, lines)
    price = state.closes[state.benchmark]
    pnl, error = None, ""
    try:
        pnl = explain(view.cfg, view.market, state, lines)
    except HedgedeskError as exc:  # no previous session: the Greeks still show
        error = str(exc)
    shocks = tuple(f"{t} {v:+.1%}" for t, v in view.shocks.items())
    return Figures(
        generation,
        greeks_by(val, "underlying", price),
        greeks_by(val, "kind", price),
        pnl,
        error,
        shocks,
        view.replay,
    )


def usd(x: float | None) -> str:
    """Signed whole USD; "0" when it rounds to nothing, "–" for None (no cost basis)."""
    if x is None:
        return "–"
    return "0" if abs(x) < 0.5 else money(x, signed=True)


def pnl_cells(figures: PnlLine | PnlTotal) -> list[str]:
    """Day, since cost and the attribution, signed whole USD ("–": no cost basis)."""
    return [
        usd(figures.day),
        usd(figures.since_cost),
        *(usd(getattr(figures, k)) for k in ("delta", "gamma", "vega", "theta", "unexplained")),
    ]


def greek_cells(g: GreekGroup) -> list[str]:
    """Dollar delta, gamma per 1 %, vega per vol point, theta per day, beta, beta-dollars and
    the benchmark-equivalent units.
    """
    return [
        usd(g.dollar_delta),
        usd(g.gamma_1pct_usd),
        usd(g.vega_1pt_usd),
        usd(g.theta_1d_usd),
        "–" if g.beta is None else num(g.beta),
        usd(g.beta_dollars),
        num(g.benchmark_units, signed=True),
    ]


class PnlScreen(ModalScreen):
    """The desk's P&L explained and Greeks by underlying; ``k`` groups by kind instead."""

    DEFAULT_CSS = """
    PnlScreen { background: $background; }
    PnlScreen #pnl-title { height: 1; padding: 0 1; text-style: bold; }
    PnlScreen #pnl-table { height: 1fr; }
    PnlScreen #pnl-greeks-title { height: 1; padding: 0 1; text-style: bold; }
    PnlScreen #pnl-greeks { height: 1fr; }
    PnlScreen #pnl-note { height: auto; padding: 0 1; color: $text-muted; }
    """

    BINDINGS: ClassVar[list[Binding]] = [
        Binding("k", "toggle_kind", "By kind", tooltip="Greeks by underlying / by kind"),
        Binding("full_stop", "replay_step(1)", "Next day", show=False),
        Binding("comma", "replay_step(-1)", "Prev day", show=False),
        Binding("p", "replay", "Play", show=False, tooltip="Replay history / pause"),
        Binding("escape,q", "close", "Back"),
        Binding("question_mark", "help", "Help", tooltip="Help: the keys here"),
    ]

    def __init__(self, source: Callable[[], DeskView]):
        super().__init__()
        self.source = source
        self.by = "underlying"
        self.figures: Figures | None = None
        self._seen: object = None  # the desk's token the last computation was for
        self._generation = 0

    def compose(self) -> ComposeResult:
        yield Static("P&L explained · computing…", id="pnl-title", markup=False)
        yield DataTable(id="pnl-table", cursor_type="row", zebra_stripes=True)
        yield Static("Greeks by underlying", id="pnl-greeks-title", markup=False)
        yield DataTable(id="pnl-greeks", cursor_type="row", zebra_stripes=True)
        yield Static(self._note(), id="pnl-note", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#pnl-table", DataTable).focus()
        self.follow_desk()

    # -- following the desk ------------------------------------------------------------------
    def follow_desk(self) -> None:
        """Compute again when the desk has shown new figures since the last computation (the
        desk calls this each time it shows a report: an edit, a shock, a replay step).
        """
        view = self.source()
        if view.token is None or view.token is self._seen:
            return
        self._seen = view.token
        self._generation += 1
        self.compute(view, self._generation)

    @work(thread=True, exclusive=True, exit_on_error=False, group="pnl")
    def compute(self, view: DeskView, generation: int) -> Figures:
        return compute_figures(view, generation)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "pnl":
            return
        if event.state == WorkerState.SUCCESS:
            figures = event.worker.result
            if isinstance(figures, Figures) and figures.generation == self._generation:
                # (else a newer computation is on its way)
                self.figures = figures
                self._fill()
        elif event.state == WorkerState.ERROR:
            self.query_one("#pnl-title", Static).update(
                f"P&L explained · could not compute: {event.worker.error}"
            )

    # -- showing -----------------------------------------------------------------------------
    def _title(self) -> str:
        f = self.figures
        parts = ["P&L explained"]
        if f is not None and f.pnl is not None:
            parts.append(f"{f.pnl.previous} → {f.pnl.asof}")
            parts.append(f"book {money(f.pnl.book.day, signed=True)}")
        elif f is not None:
            parts.append(f"unavailable: {f.error}")
        if f is not None and f.replay:
            parts.append("REPLAY")
        if f is not None and f.shocks:
            parts.append("what-if " + ", ".join(f.shocks))
        return " · ".join(parts)

    def _fill(self) -> None:
        f = self.figures
        if f is None:
            return
        self.query_one("#pnl-title", Static).update(self._title())
        table = self.query_one("#pnl-table", DataTable)
        rows: list[tuple[str, list[str]]] = []
        if f.pnl is not None:
            e = f.pnl
            totals = [("= book", e.book), ("= core", e.core), ("= hedges", e.hedges)]
            rows += [(name, pnl_cells(t)) for name, t in totals]
            rows += [(p.line.name, pnl_cells(p)) for p in e.lines]
        fill_named(
            table, "Line", [n for n, _ in rows], PNL_HEADS, [c for _, c in rows], self.size.width
        )
        self._fill_greeks()

    def _fill_greeks(self) -> None:
        f = self.figures
        if f is None:
            return
        ex = f.by_underlying if self.by == "underlying" else f.by_kind
        heads = [*GREEK_HEADS, f"{ex.benchmark} u"]
        groups = [ex.total, *ex.groups]
        names = ["= book", *(g.key for g in ex.groups)]
        cells = [greek_cells(g) for g in groups]
        by = "Underlying" if self.by == "underlying" else "Kind"
        fill_named(
            self.query_one("#pnl-greeks", DataTable), by, names, heads, cells, self.size.width
        )
        self.query_one("#pnl-greeks-title", Static).update(
            f"Greeks by {self.by} (k: by {'kind' if self.by == 'underlying' else 'underlying'})"
            f" · {ex.benchmark} u = beta$ / {ex.benchmark} {ex.benchmark_price:,.2f}"
        )

    @staticmethod
    def _note() -> str:
        return (
            "USD, today's positions, full revaluation; Greeks at t-1: delta·dS, ½gamma·dS², "
            "vega·dvol, theta·days/365, Unexpl the rest. , . step the replay, p plays."
        )

    # -- keys and events ---------------------------------------------------------------------
    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()  # the desk opens its edit form on enter: not for these rows

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()  # the desk's own handler reads its tables' rows: never ours

    def on_resize(self) -> None:
        self._fill()

    def action_toggle_kind(self) -> None:
        self.by = "kind" if self.by == "underlying" else "underlying"
        self._fill_greeks()

    async def action_replay_step(self, sessions: int) -> None:
        await self.app.run_action(f"replay_step({sessions})")

    async def action_replay(self) -> None:
        await self.app.run_action("replay")

    def action_help(self) -> None:
        from hedgedesk.tui.screens.help import HelpScreen

        self.app.push_screen(HelpScreen(self))

    def action_close(self) -> None:
        self.app.pop_screen()

"""Scenarios: the configured shocks applied to the current (possibly edited) book, hedge legs
switched in and out by key to see what each buys.

Figures are core's (:func:`hedgedesk.core.book.scenarios.run_scenario`), computed in a worker so
the screen
paints at once; one scenario's error (a replay the data cannot cover) fills its row, never the
whole screen. Marks are characters (``[x]``/``[ ]``, signs), never colour alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static
from textual.worker import Worker, WorkerState

from hedgedesk.core.config import DeskConfig, Scenario
from hedgedesk.core.errors import HedgedeskError
from hedgedesk.tui.format import money, num, pct, signed_money
from hedgedesk.tui.messages import ScenariosComputed
from hedgedesk.tui.widgets.tables import Cell, column_widths, fill

if TYPE_CHECKING:
    from hedgedesk.core.book.scenarios import ScenarioResult
    from hedgedesk.core.book.valuation import MarketState
    from hedgedesk.core.data.market import MarketData

WIDE = 120  # from this width the Greeks after the shock get columns of their own


@dataclass(frozen=True)
class Row:
    scenario: Scenario
    result: ScenarioResult | None
    error: str = ""


def signed_pct(x: float) -> str:
    return ("+" if x > 0 else "") + pct(x, 2)


def market_cell(s: Scenario) -> str:
    """The scenario's market shock; ``*`` when some tickers have their own shock."""
    if s.replay:
        return "replay"
    if s.shocks and not s.market:
        return "own"
    return f"{s.market:+.0%}" + ("*" if s.shocks else "")


def vol_cell(s: Scenario) -> str:
    """The parallel vol shift in points, with ``k`` when a skew tilts it by moneyness."""
    cell = f"{s.vol * 100:+.0f}pt" if s.vol else "0pt"
    return cell + ("k" if s.skew else "")


def fill_named(
    table: DataTable,
    name_label: str,
    names: list[str],
    heads: list[str],
    cells: Sequence[Sequence[str | Text]],
    width: int,
) -> None:
    """:func:`fill` with a first column of ``names`` that gets the screen ``width`` the other
    columns leave (each costs its widest cell plus 2 of padding), at least 8, a longer name
    cut with "…"; the other columns right-justified.
    """
    widths = column_widths(list[Cell](heads), [list[Cell](c) for c in cells])
    budget = width - 2 - sum(w + 2 for w in widths) - 2
    name_w = max(8, min(max([8, *(len(n) for n in names)]), budget))
    fitted = [n if len(n) <= name_w else n[: name_w - 1] + "…" for n in names]
    fill(
        table,
        [name_label, *heads],
        [(str(i), [Text(n), *c]) for i, (n, c) in enumerate(zip(fitted, cells, strict=True))],
        right=set(range(1, len(heads) + 1)),
    )


def without_legs(cfg: DeskConfig, excluded: frozenset[str]) -> DeskConfig:
    """The config whose book lacks the ``excluded`` hedge legs (by name, unique per config)."""
    if not excluded:
        return cfg
    kept = tuple(leg for leg in cfg.book.hedges if leg.name not in excluded)
    return replace(cfg, book=replace(cfg.book, hedges=kept))


class ScenariosScreen(ModalScreen):
    """Every configured scenario on the book; ``t`` toggles the highlighted hedge leg.

    Modal so that the desk's editing keys (d, e, s, u, ...) cannot act on the book from here
    through this screen's tables; ``?`` lists this screen's keys.
    """

    DEFAULT_CSS = """
    ScenariosScreen { background: $background; }
    ScenariosScreen #scn-title { height: 1; padding: 0 1; text-style: bold; }
    ScenariosScreen #scn-table { height: auto; max-height: 60%; }
    ScenariosScreen #scn-detail { height: auto; min-height: 2; padding: 0 1; }
    ScenariosScreen #scn-legs { height: auto; max-height: 8; }
    ScenariosScreen #scn-note { height: auto; padding: 0 1; color: $text-muted; }
    """

    BINDINGS: ClassVar[list[Binding]] = [
        Binding("t", "toggle_leg", "Toggle leg"),
        Binding("escape,q", "close", "Back"),
        Binding("question_mark", "help", "Help", tooltip="Help: the keys here"),
    ]

    def __init__(
        self, cfg: DeskConfig, market: MarketData | None, shocks: Mapping[str, float] | None = None
    ):
        super().__init__()
        self.cfg = cfg
        self.market = market
        self.shocks = dict(shocks or {})  # a copy: later edits on the desk do not leak in
        self.excluded: frozenset[str] = frozenset()
        self.rows: list[Row] = []
        self.asof = None
        self._state: MarketState | None = None  # prepared once: the slow part

    def compose(self) -> ComposeResult:
        yield Static("Scenarios · computing…", id="scn-title", markup=False)
        yield DataTable(id="scn-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="scn-detail", markup=False)
        yield DataTable(id="scn-legs", cursor_type="row")
        yield Static(self._note(), id="scn-note", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self._fill_legs()
        self.query_one("#scn-table", DataTable).focus()
        self.compute()

    # -- computing ---------------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="scenarios")
    def compute(self) -> None:
        from hedgedesk.core.book.scenarios import run_scenario
        from hedgedesk.core.book.valuation import market_state, shocked_state

        if self.market is None:
            raise HedgedeskError("the market data is still loading: close and try again")
        excluded = self.excluded
        if self._state is None:
            self._state = shocked_state(market_state(self.cfg, self.market), self.shocks)
        cfg = without_legs(self.cfg, excluded)
        rows = []
        for s in self.cfg.scenarios:
            try:
                rows.append(Row(s, run_scenario(cfg, self._state, s, self.market)))
            except HedgedeskError as exc:  # this scenario only: the others still show
                rows.append(Row(s, None, str(exc)))
        self.post_message(ScenariosComputed(rows, excluded, self._state.asof))

    def on_scenarios_computed(self, message: ScenariosComputed) -> None:
        if message.excluded != self.excluded:  # a later toggle's result is on its way
            return
        self.rows = message.rows
        self.asof = message.asof
        self._fill()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.query_one("#scn-title", Static).update(
                f"Scenarios · could not compute: {event.worker.error}"
            )

    # -- showing -----------------------------------------------------------------------------
    def _title(self) -> str:
        nav = next((r.result.nav_before for r in self.rows if r.result), None)
        parts = ["Scenarios", self.cfg.book.name]
        if self.asof:
            parts.append(f"as of {self.asof}")
        if nav is not None:
            parts.append(f"NAV {money(nav)}")
        return " · ".join(parts)

    def _fill(self) -> None:
        """Rebuild the table for the current width; columns are sized so all of them show."""
        table = self.query_one("#scn-table", DataTable)
        wide = self.size.width >= WIDE
        heads = ["Mkt", "Vol", "P&L", "%NAV", "NAV after", "Beta"]
        if wide:
            heads += ["Delta$", "Gamma/1%", "Vega/pt"]
        cells = [self._cells(r, wide) for r in self.rows]
        names = [r.scenario.name for r in self.rows]
        fill_named(table, "Scenario", names, heads, cells, self.size.width)
        self.query_one("#scn-title", Static).update(self._title())
        self._show_detail()

    @staticmethod
    def _cells(r: Row, wide: bool) -> list[str | Text]:
        s = r.scenario
        head = [market_cell(s), vol_cell(s)]
        if r.result is None:
            return head + ["error", "—", "—", "—"] + (["—"] * 3 if wide else [])
        res, after = r.result, r.result.after
        out = [
            *head,
            signed_money(res.pnl),
            signed_pct(res.pnl_pct),
            money(after.nav),
            num(after.portfolio_beta, signed=True),
        ]
        if wide:
            out += [
                money(after.total(k), signed=True)
                for k in ("dollar_delta", "gamma_1pct_usd", "vega_1pt_usd")
            ]
        return out

    def _current(self) -> Row | None:
        table = self.query_one("#scn-table", DataTable)
        if not self.rows or not table.row_count:
            return None
        return self.rows[min(table.cursor_row, len(self.rows) - 1)]

    def _show_detail(self) -> None:
        r = self._current()
        detail = self.query_one("#scn-detail", Static)
        if r is None:
            detail.update("")
            self._fill_legs()
            return
        s, res = r.scenario, r.result
        what = s.description
        if s.replay:
            used = f" (data {res.replay_dates[0]}..{res.replay_dates[1]})" if res else ""
            what = f"replay {s.replay[0]}..{s.replay[1]}{used}" + (f"; {what}" if what else "")
        elif s.shocks:
            own = ", ".join(f"{t} {v:+.0%}" for t, v in s.shocks)
            what = f"own shocks {own}" + (f"; {what}" if what else "")
        if res is None:
            second = f"error: {r.error}"
        else:
            a = res.after
            second = (
                f"after: Delta$ {money(a.total('dollar_delta'), signed=True)}  Gamma/1% "
                f"{money(a.total('gamma_1pct_usd'), signed=True)}  Vega/pt "
                f"{money(a.total('vega_1pt_usd'), signed=True)}"
            )
        detail.update(f"{s.name}: {what}\n{second}" if what else f"{s.name}\n{second}")
        self._fill_legs()

    def _fill_legs(self) -> None:
        """Each leg, in or out, and what it adds to the highlighted scenario's P&L."""
        legs = self.query_one("#scn-legs", DataTable)
        r = self._current()
        rows = []
        for leg in self.cfg.book.hedges:
            out = leg.name in self.excluded
            if out:
                adds: str | Text = "excluded"
            elif r is None or r.result is None or leg.name not in r.result.without:
                adds = "—"
            else:
                adds = signed_money(r.result.leg_value(leg.name))
            rows.append((leg.name, ["[ ]" if out else "[x]", leg.name, leg.instrument, adds]))
        fill(legs, ["In", "Hedge leg", "Instrument", "Adds"], rows, right={3})
        scenario = f" in {r.scenario.name}" if r else ""
        self.query_one("#scn-note", Static).update(self._note(scenario))

    def _note(self, scenario: str = "") -> str:
        out = ", ".join(sorted(self.excluded)) or "none"
        whatif = ", ".join(f"{t} {v:+.1%}" for t, v in self.shocks.items())
        return (
            "Instantaneous shocks: no time passes; options fully repriced (vol + shift, "
            "k: + skew x ln(K/F), floor 1 %); futures P&L settles in cash. "
            "Mkt x each beta, * own shocks too. "
            f"Gamma per 1 %, vega per vol point. Adds: P&L with the leg less without"
            f"{scenario and ',' + scenario}.\nLegs excluded (t toggles): {out}"
            + (f" · base has what-if shocks {whatif}" if whatif else "")
        )

    # -- keys and events ---------------------------------------------------------------------
    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()  # the desk's own handler reads its tables' rows: never ours
        if event.data_table.id == "scn-table":
            self._show_detail()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()  # the desk opens its edit form on enter: not for these rows
        if event.data_table.id == "scn-legs":
            self.action_toggle_leg()

    def on_resize(self) -> None:
        if self.rows:
            self._fill()

    def action_toggle_leg(self) -> None:
        legs = self.query_one("#scn-legs", DataTable)
        if not legs.row_count:
            self.notify("the book has no hedge legs", title="Scenarios")
            return
        name = self.cfg.book.hedges[legs.cursor_row].name
        self.excluded = self.excluded ^ {name}
        self.query_one("#scn-title", Static).update(self._title() + " · computing…")
        self._fill_legs()
        self.compute()

    def action_help(self) -> None:
        from hedgedesk.tui.screens.help import HelpScreen

        self.app.push_screen(HelpScreen(self))

    def action_close(self) -> None:
        self.app.pop_screen()

"""The optimiser: ``hedgedesk optimize`` as a form that re-solves while you type.

The request is core's, made the one way the CLI makes it
(:meth:`hedgedesk.core.optimize.request.OptimizeRequest.from_config`: the config's [optimizer]
table, its groups, universe, benchmark, data range and the book's current weights), with every
form field overriding its part and checked by the request's own rules, named by the form's
labels; the result is :func:`hedgedesk.core.optimize.engine.run`'s, figures formatted as the
CLI prints them. Each edit re-solves in a worker after a short pause (Enter at
once); a newer edit supersedes an older solve, whose result is dropped. An infeasible setting
shows core's explanation (hedgedesk.core.optimize.diagnose: why, the smallest relaxation, the
solvers tried) in the
screen, never a crash. Marks are words and characters, never colour alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input, Static
from textual.worker import Worker, WorkerState, get_current_worker
from textual_plotext import PlotextPlot

from hedgedesk.core.config import DeskConfig
from hedgedesk.core.limits import CONFIG_KEYS, OBJECTIVES, SHRINKAGES, Naming, SettingError
from hedgedesk.core.optimize.request import OptimizeRequest
from hedgedesk.tui.messages import OptimizerSolved
from hedgedesk.tui.screens.forms import FieldsForm

if TYPE_CHECKING:
    from hedgedesk.core.data.market import MarketData
    from hedgedesk.core.optimize.engine import OptimizeResult
    from hedgedesk.core.optimize.hedge_overlay import OverlayResult
    from hedgedesk.core.optimize.mean_variance import FrontierPoint
    from hedgedesk.core.optimize.problem import Portfolio

DEBOUNCE_S = 0.3  # long enough to type a number, short enough to feel live
YES, NO = ("yes", "true", "y", "1"), ("no", "false", "n", "0")


class FormError(ValueError):
    """A field that does not parse: shown under the form, nothing is solved."""


def _flag(text: str) -> bool:
    if text.lower() in YES:
        return True
    if text.lower() in NO:
        return False
    raise FormError(f"expected yes or no, got {text!r}")


def _number(text: str) -> float:
    """A number as typed; its range is the request's to check."""
    try:
        return float(text)
    except ValueError:
        raise FormError(f"invalid number {text!r}") from None


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise FormError(f"invalid whole number {text!r}") from None


def _optional(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    return lambda text: parse(text) if text else None  # blank: no such limit


def _band(text: str) -> tuple[float, float]:
    parts = text.replace(",", " ").split()
    if len(parts) != 2:
        raise FormError(f"expected two numbers LO HI, got {text!r}")
    return _number(parts[0]), _number(parts[1])


def _shrinkage(text: str) -> str | None:
    return None if text in ("", "none") else text


@dataclass(frozen=True)
class Field:
    key: str  # OptimizeRequest attribute (views: the config's views, or none)
    label: str
    parse: Callable[[str], Any]
    suggest: tuple[str, ...] = ()


FIELDS = (
    Field("objective", "objective", str, OBJECTIVES),
    Field("long_only", "long only", _flag, ("yes", "no")),
    Field("min_weight", "min weight", _number),
    Field("max_weight", "max weight", _number),
    Field("vol_cap", "vol cap", _optional(_number)),
    Field("gross_max", "gross max", _optional(_number)),
    Field("turnover_max", "turnover max", _optional(_number)),
    Field("cost_rate", "cost", _number),
    Field("beta_band", "beta band", _optional(_band)),
    Field("te_cap", "te cap", _optional(_number)),
    Field("rf", "rf", _number),
    Field("risk_aversion", "risk aversion", _number),
    Field("confidence", "confidence", _number),
    Field("kelly_fraction", "kelly frac", _number),
    Field("target_return", "target ret", _optional(_number)),
    Field("points", "points", _whole),
    Field("shrinkage", "shrinkage", _shrinkage, ("none", *SHRINKAGES)),
    Field("views", "BL views", _flag, ("yes", "no")),
)
# The request's fields by the form's labels (the rest by their config keys).
LABELS = Naming(
    {**{f.key: f.label for f in FIELDS}, "long_short": "long only: no"},
    items=False,
    fallback=CONFIG_KEYS,
)


def _text(x) -> str:
    if x is None:
        return ""
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, tuple):
        return " ".join(f"{v:g}" for v in x)
    return f"{x:g}" if isinstance(x, int | float) else str(x)


def initial_values(req: OptimizeRequest) -> dict[str, str]:
    """The form for ``req`` (``hedgedesk optimize`` with no flags: the config's request)."""
    shown = {f.key: getattr(req, f.key) for f in FIELDS}
    shown.update(views=bool(req.views), shrinkage=req.shrinkage or "none")
    return {f.key: _text(shown[f.key]) for f in FIELDS}


def parse_form(values: dict[str, str], cfg: DeskConfig) -> dict[str, Any]:
    """OptimizeRequest overrides from the form's text; FormError names the first field that
    does not parse (the request checks the values: :func:`request_for`).
    """
    out = {}
    for f in FIELDS:
        try:
            out[f.key] = f.parse(values[f.key].strip())
        except FormError as exc:
            raise FormError(f"{f.label}: {exc}") from None
    if out["views"] and not cfg.optimizer.views:
        raise FormError("BL views: the config has no [[optimizer.views]]")
    out["views"] = cfg.optimizer.views if out["views"] else ()
    return out


def request_for(values: dict[str, str], cfg: DeskConfig, market: MarketData) -> OptimizeRequest:
    """The form's request: the config's (over its data range, as the CLI's) with every field
    the form holds in place; FormError names the field, by its label, that does not parse or
    that the request refuses.
    """
    overrides = parse_form(values, cfg)
    try:
        return OptimizeRequest.from_config(cfg, market, cfg.data.start, cfg.data.end, **overrides)
    except SettingError as exc:
        raise FormError(exc.named(LABELS)) from None


def explain(error: Exception) -> str:
    """An error in words: for an infeasible problem, core's reasons one to a line, the
    relaxation that works and the solvers tried (OptimizationError's parts).
    """
    from hedgedesk.core.optimize.problem import OptimizationError

    text = str(error)
    if not isinstance(error, OptimizationError) or not error.reasons:
        return f"NO SOLUTION: {text}"
    head = text.split(": " + "; ".join(error.reasons))[0]
    lines = [f"NO SOLUTION: {head}", *(f"- {r}" for r in error.reasons)]
    if error.suggestion:
        lines.append(f"fix: {error.suggestion}")
    if error.tried:
        lines.append(f"tried: {', '.join(error.tried)}")
    return "\n".join(lines)


def figures(p: Portfolio) -> str:
    """The CLI's summary line (two lines here), and the objective's own figures."""
    out = (
        f"return {p.expected_return:.2%}  vol {p.volatility:.2%}  Sharpe {p.sharpe:.2f}\n"
        f"VaR95 {p.var_95:.2%}  CVaR95 {p.cvar_95:.2%}  ({p.solver})"
    )
    x = p.extra
    more = []
    if x.get("transaction_cost"):
        more.append(f"net of costs {x['net_return']:.2%}")
    if "cash" in x:
        more.append(f"cash {x['cash']:.2%}  growth {x['growth_annual']:.2%}/yr")
    if "cvar" in x:
        more.append(f"optimised CVaR{100 * x['confidence']:g} {x['cvar']:.2%}")
    if "utility" in x:
        more.append(f"utility {x['utility']:.4f}")
    return out + ("\n" + "  ".join(more) if more else "")


class OptimizerScreen(ModalScreen):
    """The optimiser form and its live result. Modal and opaque, like the other screens, so
    the desk's editing keys never reach the book from here. The focus starts on the results,
    so the screen's letter keys (f, q, ?) never type into the form: ``e`` enters the form, Esc
    there comes back to the results, and Esc again leaves the screen.
    """

    DEFAULT_CSS = """
    OptimizerScreen { background: $background; }
    OptimizerScreen #opt-title { height: 1; padding: 0 1; text-style: bold; }
    OptimizerScreen #opt-form { width: 31; height: 1fr; max-height: 100%; padding-right: 1; }
    OptimizerScreen #opt-results { width: 1fr; }
    OptimizerScreen #opt-summary { height: auto; }
    OptimizerScreen #opt-table { height: 1fr; min-height: 4; }
    OptimizerScreen #opt-chart { height: 1fr; min-height: 8; display: none; }
    OptimizerScreen #opt-caption { height: auto; max-height: 3; display: none; }
    OptimizerScreen #opt-detail { height: auto; max-height: 7; }
    """

    BINDINGS: ClassVar[list[Binding]] = [
        Binding(
            "escape",
            "back",
            "Back",
            tooltip="Back: from the form to the results; from the results, close",
        ),
        Binding("q", "close", "Close", show=False, tooltip="Close the optimiser"),
        Binding("e", "edit_form", "Edit form", tooltip="Edit the form (Esc: back to results)"),
        Binding("f", "chart", "Frontier chart"),
        Binding("question_mark", "help", "Help", tooltip="Help: the keys here"),
    ]
    HELP_KEYS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("enter", "in the form: solve now (edits re-solve as you type)"),
    )
    AUTO_FOCUS = "#opt-table"

    def __init__(self, cfg: DeskConfig, market: MarketData):
        super().__init__()
        self.cfg = cfg
        self.market = market
        d = cfg.data
        self.values = initial_values(OptimizeRequest.from_config(cfg, market, d.start, d.end))
        self.chart = False
        self.result: OptimizeResult | None = None  # the shown (current) result
        self.error: Exception | None = None
        self._gen = 0  # bumped per dispatched solve: older results are stale
        self._asked: dict[str, str] | None = None
        self._timer: Timer | None = None
        self._last: OptimizerSolved | None = None

    def compose(self) -> ComposeResult:
        yield Static("Optimizer", id="opt-title", markup=False)
        with Horizontal():
            yield FieldsForm(
                {f.key: self.values[f.key] for f in FIELDS},
                labels={f.key: f.label for f in FIELDS},
                suggest={f.key: f.suggest for f in FIELDS if f.suggest},
                prefix="opt-",
                hint="Enter solves · Esc: results",
                idle_hint="e edit form · ? keys",
                tail=self._help(),
                label_width=14,
                id="opt-form",
            )
            with Vertical(id="opt-results"):
                yield Static("", id="opt-summary", markup=False)
                yield DataTable(id="opt-table", cursor_type="row", zebra_stripes=True)
                yield PlotextPlot(id="opt-chart")
                yield Static("", id="opt-caption", markup=False)
                with VerticalScroll(id="opt-detail"):
                    yield Static("", id="opt-detail-text", markup=False)
        yield Footer()

    def _help(self) -> str:
        groups = "; ".join(f"{g.name} {g.min:.0%}-{g.max:.0%}" for g in self.cfg.optimizer.groups)
        return (
            "Objectives: " + ", ".join(OBJECTIVES) + ". Weights and rates are fractions "
            "(0.15 = 15 %), annual. Blank: no limit. Long-short: long only no, min weight "
            "< 0. Edits re-solve as you type; Enter at once; f: frontier chart."
            + (f" Groups (config): {groups}." if groups else "")
        )

    def on_mount(self) -> None:
        self.query_one("#opt-table", DataTable).focus()
        self.resolve(force=True)

    # -- solving -----------------------------------------------------------------------------
    @property
    def fields(self) -> FieldsForm:
        return self.query_one("#opt-form", FieldsForm)

    def form(self) -> dict[str, str]:
        return self.fields.values()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(DEBOUNCE_S, self.resolve)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.resolve(force=True, focus_error=True)

    def resolve(self, force: bool = False, focus_error: bool = False) -> None:
        """Solve the form as it stands, unless it is what was last asked (``force``: anyway).
        A field that does not parse, or that the request refuses, is marked; ``focus_error``
        (Enter) also moves the focus there from another field (a pause in typing never does).
        """
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        values = self.form()
        if values == self._asked and not force:
            return
        self._asked = values
        self._gen += 1  # even a bad form makes the solve in flight stale: it is not the form
        try:
            req = request_for(values, self.cfg, self.market)
        except FormError as exc:
            self.fields.show_error(f"NOT SOLVED: {exc}", focus=focus_error)
            self._set_title("form error: last solve shown")
            return
        self.fields.clear_error()
        self._set_title("solving…")
        self._solve(self._gen, req, self.chart)

    @work(thread=True, exclusive=True, exit_on_error=False, group="optimizer")
    def _solve(self, gen: int, req: OptimizeRequest, with_frontier: bool) -> None:
        from hedgedesk.core.errors import HedgedeskError
        from hedgedesk.core.optimize.engine import run

        result = error = frontier = None
        frontier_error = ""
        try:
            result = run(req, self.market, self.cfg)
        except HedgedeskError as exc:  # infeasible, bad data: shown in the screen
            error = exc
        if result is not None and result.frontier is not None:
            frontier = result.frontier
        elif with_frontier and req.objective == "hedge-overlay":
            frontier_error = "hedge-overlay sizes hedge legs: it has no frontier"
        elif with_frontier:
            try:
                frontier = run(replace(req, objective="frontier"), self.market, self.cfg).frontier
            except HedgedeskError as exc:
                frontier_error = str(exc)
        if not get_current_worker().is_cancelled:  # superseded: a newer solve is on its way
            self.post_message(OptimizerSolved(gen, req, result, error, frontier, frontier_error))

    @property
    def request(self) -> OptimizeRequest | None:
        """The request of the result on screen (None until the first solve)."""
        return self._last.req if self._last is not None else None

    def on_optimizer_solved(self, message: OptimizerSolved) -> None:
        if message.gen != self._gen:  # the form has changed since: its own result follows
            return
        self._last = message
        self.result, self.error = message.result, message.error
        self._show(message)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """An unexpected failure (not a HedgedeskError): said here, the app keeps running."""
        if event.state == WorkerState.ERROR:
            self.result, self.error = None, event.worker.error
            self._set_title("error")
            self.query_one("#opt-table", DataTable).clear(columns=True)
            self.query_one("#opt-summary", Static).update("")
            self.query_one("#opt-detail-text", Static).update(f"ERROR: {event.worker.error}")

    # -- showing -----------------------------------------------------------------------------
    def _set_title(self, state: str) -> None:
        objective = self.form()["objective"].strip() or "?"
        self.query_one("#opt-title", Static).update(
            f"Optimizer · {objective} · {len(self.cfg.data.universe)} assets · {state}"
        )

    def _show(self, m: OptimizerSolved) -> None:
        table = self.query_one("#opt-table", DataTable)
        table.clear(columns=True)
        summary, detail = "", []
        res = m.result
        if res is None:
            self._set_title("NO SOLUTION")
            detail.append(explain(m.error))
        else:
            self._set_title(f"{res.first}..{res.last}")
            if res.portfolio is not None:
                summary = figures(res.portfolio)
                self._weights(table, res.portfolio, m.req.current)
                detail += self._notes(res.portfolio)
            elif res.frontier is not None:
                summary = self._frontier_table(table, res.frontier)
                detail += [
                    f"point {i + 1} failed: {pt.reason}"
                    for i, pt in enumerate(res.frontier)
                    if pt.portfolio is None
                ]
            elif res.overlay is not None:
                summary, figs = self._overlay(table, res.overlay)
                detail += figs + [f"note: {n}" for n in res.overlay.notes]
                if res.overlay.binding:
                    detail.append("binding: " + "; ".join(res.overlay.binding))
            detail.append(f"estimates: {res.estimates_method}; {res.days} days")
        self.query_one("#opt-summary", Static).update(summary)
        self.query_one("#opt-detail-text", Static).update("\n".join(detail))
        if self.chart:
            self._plot(m)

    @staticmethod
    def _notes(p: Portfolio) -> list[str]:
        out = []
        if p.binding:
            out.append("binding: " + "; ".join(p.binding))
        else:
            out.append("binding: none")
        if p.extra.get("constraints_not_met"):
            out.append("not applied by risk parity: " + "; ".join(p.extra["constraints_not_met"]))
        return out

    @staticmethod
    def _weights(table: DataTable, p: Portfolio, current: dict[str, float]) -> None:
        """The CLI's rows (weights above 1e-6, largest first), plus book holdings the solution
        sells out of, so that selling shows too.
        """
        table.add_column("Ticker", width=8)
        for head in ("Weight", "Book", "Risk"):
            table.add_column(Text(head, justify="right"), width=8)
        rows = sorted(p.weights.items(), key=lambda kv: -abs(kv[1]))
        for t, w in rows:
            if abs(w) > 1e-6 or abs(current.get(t, 0.0)) > 1e-6:
                cur = current.get(t)
                rc = p.risk_contributions.get(t, float("nan"))
                cells = (f"{w:.2%}", "—" if cur is None else f"{cur:.2%}", f"{rc:.1%}")
                table.add_row(t, *(Text(c, justify="right") for c in cells), key=t)

    @staticmethod
    def _frontier_table(table: DataTable, frontier: Sequence[FrontierPoint]) -> str:
        for head in ("Target", "Return", "Vol", "Sharpe"):
            table.add_column(Text(head, justify="right"), width=8)
        for i, pt in enumerate(frontier):
            p = pt.portfolio
            cells = (
                [f"{pt.target_return:.2%}", "failed", "—", "—"]
                if p is None
                else [
                    f"{pt.target_return:.2%}",
                    f"{p.expected_return:.2%}",
                    f"{p.volatility:.2%}",
                    f"{p.sharpe:.2f}",
                ]
            )
            table.add_row(*(Text(c, justify="right") for c in cells), key=str(i))
        ok = [pt.portfolio for pt in frontier if pt.portfolio is not None]
        best = max(ok, key=lambda p: p.sharpe, default=None)
        return f"frontier: {len(ok)} of {len(frontier)} points solved" + (
            f"\nhighest Sharpe {best.sharpe:.2f}: return {best.expected_return:.2%}  "
            f"vol {best.volatility:.2%}"
            if best
            else ""
        )

    @staticmethod
    def _overlay(table: DataTable, ov: OverlayResult) -> tuple[str, list[str]]:
        """The legs in the table, the headline above it, the CLI's figure lines below."""
        table.add_column("Leg", width=14)
        for head in ("Now", "Optimum", "Whole"):
            table.add_column(Text(head, justify="right"), width=8)
        for name, size in ov.sizes.items():
            cells = (f"{ov.current.get(name, 0):g}", f"{size:.2f}", f"{ov.rounded[name]:d}")
            table.add_row(name, *(Text(c, justify="right") for c in cells), key=name)
        lines = [
            f"{label}: " + "  ".join(f"{k} {v:.4g}" for k, v in figs.items())
            for label, figs in (
                ("before", ov.before),
                ("optimum", ov.after),
                ("whole contracts", ov.after_rounded),
            )
        ]
        return f"hedge overlay ({ov.objective}), beta band {list(ov.beta_band)}", lines

    # -- the frontier chart ------------------------------------------------------------------
    def action_chart(self) -> None:
        self.chart = not self.chart
        self.query_one("#opt-table").display = not self.chart
        self.query_one("#opt-chart").display = self.chart
        self.query_one("#opt-caption").display = self.chart
        if self.focused is None or self.focused.id == "opt-table":
            self._focus_results()  # the results' keys stay with the results
        if self.chart:
            if self._last is not None and (
                self._last.frontier is not None or self._last.frontier_error
            ):
                self._plot(self._last)
            else:  # the frontier is traced only when the chart is up
                self.query_one("#opt-caption", Static).update("tracing the frontier…")
                self.resolve(force=True)

    def _plot(self, m: OptimizerSolved) -> None:
        plot = self.query_one("#opt-chart", PlotextPlot)
        caption = self.query_one("#opt-caption", Static)
        plt = plot.plt
        plt.clear_figure()
        ok = [pt.portfolio for pt in (m.frontier or []) if pt.portfolio is not None]
        if not ok:  # the solve's own explanation is below: not repeated here
            why = "no solution (see below)" if m.error else m.frontier_error
            caption.update(f"no frontier: {why or 'no point solved'}")
            plot.refresh()
            return
        plt.plot(
            [100 * p.volatility for p in ok],
            [100 * p.expected_return for p in ok],
            marker="braille",
        )
        sol = m.result.portfolio if m.result is not None else None
        if sol is None:  # the frontier objective: mark its highest-Sharpe point
            sol = max(ok, key=lambda p: p.sharpe)
        plt.scatter([100 * sol.volatility], [100 * sol.expected_return], marker="*")
        plt.xlabel("volatility %")
        plt.ylabel("return %")
        plot.refresh()
        what = "this solution" if m.result and m.result.portfolio else "highest Sharpe"
        caption.update(
            f"frontier (dots); * {what}: vol {sol.volatility:.2%}, return {sol.expected_return:.2%}"
        )

    # -- keys and events ---------------------------------------------------------------------
    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()  # the desk opens its edit form on enter: not for these rows

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()  # the desk's own handler reads its tables' rows: never ours

    def action_edit_form(self) -> None:
        self.fields.enter()

    def action_back(self) -> None:
        """Esc: from the form back to the results; from the results, leave the screen."""
        focused = self.focused
        if focused is not None and self.fields in focused.ancestors:
            self._focus_results()
        else:
            self.action_close()

    def _focus_results(self) -> None:
        table = self.query_one("#opt-table", DataTable)
        if table.display:
            table.focus()
        else:  # the chart is up: no widget has the focus, the screen's keys apply
            self.set_focus(None)

    def action_help(self) -> None:
        from hedgedesk.tui.screens.help import HelpScreen

        self.app.push_screen(HelpScreen(self))

    def action_close(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self.app.pop_screen()

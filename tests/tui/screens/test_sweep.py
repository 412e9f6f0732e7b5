"""The sweep results screen, by keys only, on small sweeps of the demo data recorded in ledgers
of their own: the leaderboard equals the run's summary and sorts numerically, its columns
never touch, each leaderboard row shows once as the engine ranked it (the engine collapses
identical strategies), ``b`` shows each leg's best, the walk-forward verdict is in words, the
caption equals run_backtest's figures and shows the score's terms raw and scaled to the target
volatility and a sampled PBO's size and error, the heat map is the leg's streamed HeatMap (here
witnessed by a pandas groupby of the Parquet table), a running run is followed to its end, and a
sweep started here runs on the desk's Sweep pane: Esc leaves it running, ``x`` cancels it, ``R``
resumes it. The grid form fits 80x24 and never takes the screen's keys.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd
import pytest
from textual.widgets import DataTable, Input, Static

from hedgedesk.core.sweep.backtest import run_backtest
from hedgedesk.core.sweep.engine import CpuBackend, SweepRequest, SweepResult, run_sweep
from hedgedesk.core.sweep.grid import Estimator, Grid, Leg
from hedgedesk.core.sweep.ledger import Ledger
from hedgedesk.core.sweep.results import StrategyRow, SweepSummary
from hedgedesk.tui.format import num, pct
from hedgedesk.tui.screens.forms import field_id
from hedgedesk.tui.screens.help import HelpScreen
from hedgedesk.tui.screens.sweep import (
    FIELD_PREFIX,
    GridForm,
    SweepScreen,
    leaderboard,
)
from hedgedesk.tui.widgets.sweep_pane import SweepPane
from tests.core.sweep.test_engine import make_market
from tests.core.sweep.test_leaderboard import GRID as LEADERBOARD_GRID
from tests.tui.conftest import ScreenHost, SlowCpu, settle, until

GRID = Grid(
    legs=(Leg("AAPL", ("AAPL",)), Leg("MSFT", ("MSFT",))),
    hedge="SP500",
    rebalance=(1, 5, 21),
    window=(20, 60),
    estimator=(Estimator("ols"), Estimator("ewma", 10.0)),
    hedge_ratio=(0.5, 1.0),
    cost=(0.0, 0.001),
)
# hedge ratio 0 among the levels: its strategies do not depend on the estimator
ZERO = Grid(
    legs=(Leg("AAPL", ("AAPL",)), Leg("MSFT", ("MSFT",))),
    hedge="SP500",
    rebalance=(1, 5),
    window=(20, 60),
    estimator=(Estimator("ols"), Estimator("ewma", 10.0), Estimator("ewma", 30.0)),
    exposure=(1.5,),
    hedge_ratio=(0.0, 1.0),
    drift_band=(0.0, 0.05),
    cost=(0.001,),
)


def drain(gen):
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        return stop.value


def _recorded(desk, tmp_path_factory, grid: Grid, top: int):
    cfg, market = desk
    path = tmp_path_factory.mktemp("ledger") / "runs.sqlite"
    request = SweepRequest(  # keep all: the Parquet table is the tests' witness
        grid,
        start=cfg.data.start,
        end=cfg.data.end,
        rf=cfg.risk.rf,
        backend="cpu",
        top=top,
        keep="all",
    )
    with Ledger(path) as ledger:
        result = drain(run_sweep(request, market, ledger, backend=CpuBackend()))
        record = ledger.get(result.run_id)
    assert record.status == "done"
    return cfg, market, path, record


@pytest.fixture(scope="module")
def done_run(desk, tmp_path_factory):
    """The demo config, its market, and a finished 96-configuration run in a fresh ledger."""
    out = _recorded(desk, tmp_path_factory, GRID, 10)
    assert len(out[3].summary.top) == 10
    return out


@pytest.fixture(scope="module")
def zero_run(desk, tmp_path_factory):
    """A finished run whose leaders include hedge-ratio-0 strategies under every estimator."""
    return _recorded(desk, tmp_path_factory, ZERO, 20)


class Host(ScreenHost):
    """A screen over an app that has the desk's Sweep pane (where sweeps run)."""

    def __init__(self, screen: SweepScreen, ledger_path=None):
        super().__init__(screen)
        self.ledger_path = ledger_path

    def compose(self):
        yield SweepPane(ledger_path=self.ledger_path, id="sweep-pane")


def text(node, id_: str) -> str:
    return str(node.query_one(id_, Static).render())


def table_of(screen) -> DataTable:
    return screen.query_one("#sw-table", DataTable)


def ranks(screen) -> list[int]:
    return [int(r.rank) for r in screen.shown]


def row_cells(screen, i: int) -> dict[str, str]:
    table = table_of(screen)
    keys = [c.key.value for c in table.ordered_columns]
    return dict(zip(keys, (str(c).strip() for c in table.get_row_at(i)), strict=True))


def render_lines(table: DataTable) -> list[str]:
    """The header and the rows as the terminal shows them."""
    return [table.render_line(y).text for y in range(min(table.row_count + 1, table.size.height))]


async def test_leaderboard_equals_the_summary_and_sorts_numerically(done_run):
    cfg, market, path, record = done_run
    top = record.summary.top
    app = Host(SweepScreen(cfg, market, ledger_path=path), path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        await pilot.press("l")  # the runs list; enter attaches the highlighted (only) run
        await pilot.pause()
        assert record.id in str(app.screen.query_one(DataTable).get_row_at(0)[0])
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.screen is screen
        table = table_of(screen)
        assert table.virtual_size.width <= 79  # every column shows at 80 columns
        assert ranks(screen) == list(range(1, len(top) + 1))
        for i, r in enumerate(top):
            cells = row_cells(screen, i)
            assert [cells[k] for k in ("ticker", "P", "W")] == [
                r.ticker,
                str(r.rebalance),
                str(r.window),
            ]
            assert cells["score"] == f"{r.score:.3f}" and cells["sharpe"] == num(r.sharpe)
        assert f"run {record.id} done" in text(screen, "#sw-title")
        # every strategy here has k 1 and d 0: their columns give way, the title says so
        title = text(screen, "#sw-title")
        assert "all rows: k 1" in title and title.endswith("d 0")
        assert not {"k", "d"} & {c.key.value for c in table.ordered_columns}

        await pilot.press("s", "s")  # rank -> score -> Sharpe
        assert "sort Sharpe ↓" in text(screen, "#sw-title")
        by_sharpe = [
            i for i, _ in sorted(enumerate(top, 1), key=lambda x: x[1].sharpe, reverse=True)
        ]
        assert ranks(screen) == by_sharpe
        shown = [float(row_cells(screen, i)["sharpe"]) for i in range(table.row_count)]
        assert shown == sorted(shown, reverse=True)
        await pilot.press("S")
        assert "sort Sharpe ↑" in text(screen, "#sw-title")
        assert ranks(screen) == by_sharpe[::-1]
        await pilot.press("r")
        assert ranks(screen) == by_sharpe
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, SweepScreen)


def _column_spans(table: DataTable) -> list[tuple[str, int, int]]:
    spans, x = [], 0
    for c in table.ordered_columns:
        w = c.get_render_width(table)
        spans.append((c.key.value, x, x + w))
        x += w
    return spans


async def test_columns_never_touch_and_fit_their_content(done_run):
    """Each column is as wide as its widest cell or label, with one space before it: the
    estimator ``ew10`` and an exposure of ``1.495`` once read ``ew101.495``.
    """
    cfg, market, path, record = done_run
    s = record.summary
    top = tuple(
        dataclasses.replace(r, exposure=1.495, estimator="ewma", halflife=10.0)
        if i % 2
        else dataclasses.replace(r, exposure=0.75, estimator="ols", halflife=None)
        for i, r in enumerate(s.top)
    )
    summary = dataclasses.replace(s, top=top)
    app = Host(SweepScreen(cfg, market, ledger_path=path), path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        screen.show_result(SweepResult(record.id, "done", summary, pd.DataFrame()))
        await pilot.pause()
        table = table_of(screen)
        spans = _column_spans(table)
        assert [k for k, _, _ in spans][:8] == [
            "#",
            "ticker",
            "P",
            "W",
            "est",
            "k",
            "score",
            "sharpe",
        ]
        lines = render_lines(table)  # what the terminal shows, header first
        assert len(lines) == min(len(top) + 1, table.size.height) >= 6
        for j in range(table.row_count):  # and every row, scrolled in or not
            assert all(str(c).startswith(" ") for c in table.get_row_at(j)[1:])
        for line in lines:
            for key, a, _ in spans[1:]:
                assert line[a] == " ", (key, line)  # the gap before every column
            words = line.split()
            assert len(words) == len(spans), line  # no two cells run together
        assert not any("ew101.495" in line for line in lines)
        assert any(re.search(r"ew10 +1\.495", line) for line in lines)
        for i, r in enumerate(table.ordered_columns):  # as wide as the widest content
            widest = max(len(str(table.get_row_at(j)[i]).strip()) for j in range(table.row_count))
            assert r.get_render_width(table) == max(widest, len(str(r.label).strip())) + (i > 0)


async def test_walk_forward_verdict_in_words_and_out_of_sample_sharpe(done_run):
    cfg, market, path, record = done_run
    s = record.summary
    wf = s.walk_forward
    app = Host(SweepScreen(cfg, market, ledger_path=path), path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        line = text(screen, "#sw-wf")
        assert line.startswith(f"walk-forward: IS/OOS rank corr {wf.spearman_is_oos:+.2f}")
        assert ("(rankings do not persist)" in line) == (wf.spearman_is_oos < 0)
        assert f"{wf.strategies:,} strategies" in line
        for i, r in enumerate(s.top):  # each leader's out-of-sample Sharpe
            assert r.oos is not None
            assert row_cells(screen, i)["oos"] == num(r.oos.sharpe)

        negative = dataclasses.replace(
            s, walk_forward=dataclasses.replace(wf, spearman_is_oos=-0.75)
        )
        screen.show_result(SweepResult(record.id, "done", negative, pd.DataFrame()))
        await pilot.pause()
        assert text(screen, "#sw-wf").startswith(
            "walk-forward: IS/OOS rank corr -0.75 (rankings do not persist)"
        )

        stored = s.to_json()  # a run recorded before "oos", as the ledger reads it back
        old = SweepSummary.from_json(
            {**stored, "top": [{k: v for k, v in r.items() if k != "oos"} for r in stored["top"]]}
        )
        screen.show_result(SweepResult(record.id, "done", old, pd.DataFrame()))
        await pilot.pause()  # the walk-forward's own leaders
        by_row = {(w.ticker, w.row): w.oos.sharpe for w in wf.top}
        for i, r in enumerate(s.top):
            want = by_row.get((r.ticker, r.row))
            assert row_cells(screen, i)["oos"] == num(want)

        off = dataclasses.replace(
            s,
            walk_forward=None,
            request={**s.request, "walk_forward": 0},
            top=tuple(dataclasses.replace(r, oos=None) for r in s.top),
        )
        screen.show_result(SweepResult(record.id, "done", off, pd.DataFrame()))
        await pilot.pause()
        assert text(screen, "#sw-wf") == "walk-forward: off for this run"
        assert "oos" not in [c.key.value for c in table_of(screen).ordered_columns]


async def test_each_leader_shows_once_as_ranked_and_b_shows_each_legs_best(zero_run):
    cfg, market, path, record = zero_run
    s = record.summary
    rows = leaderboard(s)
    app = Host(SweepScreen(cfg, market, ledger_path=path), path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        table = table_of(screen)
        # the screen groups nothing: one line per leaderboard row, in rank order, no count
        assert table.row_count == len(rows) == len(s.top)
        assert ranks(screen) == list(range(1, len(rows) + 1))
        assert "n" not in [c.key.value for c in table.ordered_columns]
        for i, r in enumerate(s.top):
            cells = row_cells(screen, i)
            assert cells["ticker"] == r.ticker and cells["score"] == f"{r.score:.3f}"
            assert cells.get("est", r.estimator_label.replace("ewma", "ew")) == (
                r.estimator_label.replace("ewma", "ew")
            )
        assert "identical" not in text(screen, "#sw-caption")

        await pilot.press("b")  # the best strategy of each leg
        await pilot.pause()
        assert "view best per leg" in text(screen, "#sw-title")
        assert table.row_count == len(s.legs)
        best = {leg.ticker: leg.best for leg in s.legs}
        for i in range(table.row_count):
            cells = row_cells(screen, i)
            assert cells["score"] == f"{best[cells['ticker']].score:.3f}"
        await pilot.press("b")
        await pilot.pause()
        assert table.row_count == len(rows)


def sampled(s: SweepSummary) -> SweepSummary:
    """``s`` with its first leg's PBO computed on a sample (as a large run computes it)."""
    first = s.legs[0]
    pbo = dataclasses.replace(first.pbo, method="sampled", population=50_000, standard_error=0.0123)
    return dataclasses.replace(s, legs=(dataclasses.replace(first, pbo=pbo), *s.legs[1:]))


def unstreamed(s: SweepSummary) -> SweepSummary:
    """``s`` as a run recorded before streamed heat maps and scaled figures."""
    nan = float("nan")
    return dataclasses.replace(
        s,
        legs=tuple(dataclasses.replace(leg, heat=None, marginals=()) for leg in s.legs),
        top=tuple(
            dataclasses.replace(
                r, scaled_annual_return=nan, scaled_max_drawdown=nan, scaled_consistency=nan
            )
            for r in s.top
        ),
    )


async def test_caption_equals_run_backtest_and_heat_map_is_the_legs_streamed_map(done_run):
    cfg, market, path, record = done_run
    frame = pd.read_parquet(record.parquet)
    s = sampled(record.summary)
    top = s.top
    app = Host(SweepScreen(cfg, market, ledger_path=path), path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        screen.show_result(SweepResult(record.id, "done", s, pd.DataFrame()))
        await settle(app, pilot)
        ols = next(i for i, r in enumerate(top) if r.estimator == "ols")
        await pilot.press(*["down"] * ols)
        await settle(app, pilot)
        r = top[ols]
        bt = run_backtest(
            market,
            [r.ticker],
            r.hedge,
            r.rebalance,
            r.window,
            r.exposure,
            r.hedge_ratio,
            r.cost,
            r.drift_band,
            rf=cfg.risk.rf,
            start=cfg.data.start,
            end=cfg.data.end,
        )
        m = bt.metrics

        def figs(x):
            return f"{pct(x['annual_return'])} {num(x['sharpe'])} {pct(x['max_drawdown'])}"

        def row_figs(x: StrategyRow):
            return f"{pct(x.annual_return)} {num(x.sharpe)} {pct(x.max_drawdown)}"

        caption = text(screen, "#sw-caption")
        assert f"#{ols + 1} {r.ticker} P{r.rebalance} W{r.window} ols" in caption
        # the score's figures, raw and scaled to the target volatility, labelled
        raw = (
            f"score {r.score:.3f} · raw: return {pct(r.annual_return)}, max DD "
            f"{pct(r.max_drawdown)}, consistency {pct(r.consistency)}"
        )
        scaled = (
            f"scaled to 10% vol: return {pct(r.scaled_annual_return)}, max DD "
            f"{pct(r.scaled_max_drawdown)}, consistency {pct(r.scaled_consistency)}"
        )
        assert f"{raw} · {scaled}" in caption.replace("\n", " ")
        pbo = s.leg(r.ticker).pbo
        if r.ticker == s.legs[0].ticker:
            assert f"PBO {pbo.pbo:.2f} (sampled {pbo.configurations:,} of 50,000, ± 0.012)" in (
                caption.replace("\n", " ")
            )
        else:
            assert f"PBO {pbo.pbo:.2f}" in caption and "sampled" not in caption
        assert (
            f"hedged {figs(m)} | unhedged {figs(m['unhedged'])} | SP500 {figs(m['benchmark'])}"
        ) in caption
        assert figs(m) == row_figs(r)  # the sweep's figures are the backtest's

        ewma = next(i for i, x in enumerate(top) if x.estimator == "ewma")
        await pilot.press(*["up"] * ols, *["down"] * ewma)
        await settle(app, pilot)
        assert f"hedged {row_figs(top[ewma])} |" in text(screen, "#sw-caption")

        await pilot.press("m")
        await settle(app, pilot)
        assert not screen.query_one("#sw-chart").display
        row = top[ewma]
        cost = s.ranking.cost
        mine = frame[
            (frame["ticker"] == row.ticker) & (frame["cost"] == cost) & (frame["status"] == 0)
        ]
        witness = mine.groupby(["rebalance", "window"])["score"].mean().unstack("window")
        lines = text(screen, "#sw-heat").splitlines()
        assert lines[0].startswith(f"{row.ticker}: mean score")
        assert lines[1].split()[1:] == [str(w) for w in witness.columns]
        for line, (p, values) in zip(lines[2:], witness.iterrows(), strict=True):
            assert line.split()[0] == str(p)
            assert re.findall(r"\d+\.\d{3}", line) == [f"{v:.3f}" for v in values]
        assert f"[{witness.loc[row.rebalance, row.window]:.3f}]" in "\n".join(lines)
        await pilot.press("m")
        assert screen.query_one("#sw-chart").display

        # a run recorded before streamed maps and scaled figures: says so, shows the raw ones
        old = unstreamed(record.summary)
        screen.show_result(SweepResult(record.id, "done", old, pd.DataFrame()))
        await settle(app, pilot)
        caption = text(screen, "#sw-caption")
        assert "raw: return" in caption and "scaled to" not in caption
        await pilot.press("m")
        await settle(app, pilot)
        assert "no heat map recorded for this leg" in text(screen, "#sw-heat")


async def test_a_running_run_is_followed_until_it_finishes(done_run, tmp_path):
    cfg, market, _, record = done_run
    chunk = {"status": np.zeros(10, np.int8)}
    with Ledger(tmp_path / "runs.sqlite") as ledger:
        run = ledger.create_run(record.params, "fp", "v", "cpu", "cpu", 96, 1000)
        ledger.save_chunk(run, 0, 0, 10, chunk, {}, 0.1)
        app = Host(
            SweepScreen(cfg, market, ledger_path=tmp_path / "runs.sqlite"), tmp_path / "runs.sqlite"
        )
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app, pilot)  # the newest run is attached: still running
            screen = app.screen
            assert f"following run {run}: 10/96" in text(screen, "#sw-status")
            assert table_of(screen).row_count == 0
            ledger.save_chunk(run, 0, 10, 20, chunk, {}, 0.1)
            await until(
                pilot,
                lambda: f"following run {run}: 20/96" in text(screen, "#sw-status"),
                "the second chunk in the status",
            )
            ledger.finish(run, "done", summary=record.summary)
            await until(pilot, lambda: screen.following is None, "the run's end")
            await settle(app, pilot)
            assert f"run {run} done" in text(screen, "#sw-title")
            assert ranks(screen) == list(range(1, len(record.summary.top) + 1))


async def test_a_sweep_started_here_outlives_the_screen_x_cancels_and_R_resumes(
    desk, tmp_path, monkeypatch
):
    cfg, market = desk
    monkeypatch.setattr(
        "hedgedesk.core.sweep.engine.choose_backend", lambda name: (SlowCpu(), "cpu (test)")
    )
    small = dataclasses.replace(cfg, sweep=dataclasses.replace(cfg.sweep, long=("AAPL", "MSFT")))
    path = tmp_path / "runs.sqlite"
    app = Host(SweepScreen(small, market, ledger_path=path), path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        pane = app.query_one(SweepPane)
        await pilot.press("g")  # the grid form, prefilled from the config; enter runs it
        await pilot.pause()
        await pilot.press("enter")
        await until(
            pilot,
            lambda: re.search(
                r"sweep AAPL: [1-9][\d,]*/10,692 configurations", text(screen, "#sw-status")
            ),
            "progress here",
        )
        status = text(screen, "#sw-status")
        assert re.search(r"\d+% done, ETA .* · x cancel sweep", status), status
        assert pane.running and screen.tracking

        await pilot.press("escape")  # back to the desk: the sweep goes on, on the pane
        await pilot.pause()
        assert not isinstance(app.screen, SweepScreen) and pane.running
        before = pane.progress.done
        await until(pilot, lambda: pane.progress.done > before, "progress after Esc")
        assert "config-days/s" in text(pane, "#sweep-status")
        assert pane.query_one("#sweep-bar").display

        again = SweepScreen(small, market, ledger_path=path)  # W on the desk
        app.push_screen(again)
        await pilot.pause()
        assert again.tracking
        await until(
            pilot,
            lambda: "x cancel sweep" in text(again, "#sw-status"),
            "the pane's progress followed",
        )
        await pilot.press("x")  # cancel: after the chunk in flight
        await until(pilot, lambda: not pane.running, "the cancel")
        await settle(app, pilot)
        result = pane.result
        assert result.status == "cancelled"
        with Ledger(path) as ledger:
            rec = ledger.get(result.run_id)
        assert rec.status == "cancelled" and 0 < rec.n_done < rec.n_configs
        assert f"run {result.run_id} cancelled" in text(again, "#sw-title")
        assert "R resumes it" in text(again, "#sw-status")

        monkeypatch.setattr(
            "hedgedesk.core.sweep.engine.choose_backend", lambda name: (CpuBackend(), "cpu (test)")
        )
        await pilot.press("R")  # the engine's resume, on the pane
        await until(
            pilot, lambda: pane.result is not result and not pane.running, "the resumed run's end"
        )
        await settle(app, pilot)
        assert pane.result.run_id == result.run_id and pane.result.status == "done"
        with Ledger(path) as ledger:
            rec = ledger.get(result.run_id)
        assert rec.status == "done" and rec.resumed == 1 and rec.n_done == rec.n_configs
        assert f"run {result.run_id} done" in text(again, "#sw-title")
        assert table_of(again).row_count > 0
        await pilot.press("x")  # nothing to cancel now: the screen stays
        assert app.screen is again


# -- the grid form at 80x24 ------------------------------------------------------------------
SMALL = {
    "tickers": "AAPL,MSFT",
    "hedge": "SP500",
    "rebalance": "5",
    "window": "20,60",
    "estimator": "ols",
    "halflife": "",
    "exposure": "0.5:1.5:3",
    "hedge ratio": "1",
    "drift band": "0",
    "cost": "0",
}


def fill(form: GridForm, values: dict[str, str]) -> None:
    for name, value in values.items():
        form.query_one(f"#{field_id(name, FIELD_PREFIX)}", Input).value = value


def inside(inner, outer) -> bool:
    return (
        inner.height > 0
        and inner.x >= outer.x
        and inner.y >= outer.y
        and inner.right <= outer.right
        and inner.bottom <= outer.bottom
    )


async def test_the_grid_form_fits_80x24_and_keeps_its_keys_to_itself(done_run, tmp_path):
    cfg, market, _, _ = done_run
    path = tmp_path / "runs.sqlite"
    app = Host(SweepScreen(cfg, market, ledger_path=path), path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        table, form = table_of(screen), screen.form
        assert app.focused is table and not form.display  # the results have the keys
        await pilot.press("g")
        await pilot.pause()
        inputs = form.inputs
        assert len(inputs) == 10 and app.focused is inputs[0]
        assert inputs[0].value == ",".join(cfg.sweep.long)  # prefilled from the config
        assert "configurations" in form.note
        view = form.query_one(".form-fields").region
        hint = form.query_one(".form-hint.-active")
        assert view.height < 10  # it scrolls at 80x24
        assert inside(hint.region, screen.region) and not hint.region.overlaps(view)
        assert str(hint.render()).startswith("Enter runs the grid · Esc back to the results")
        for i in range(1, 11):  # tab: each field in turn, scrolled into view, then wraps
            await pilot.press("tab")
            await pilot.pause()
            assert app.focused is inputs[i % 10]
            assert inside(app.focused.region, view), (i, app.focused.region, view)
        await pilot.press("shift+tab")
        await pilot.pause()
        assert app.focused is inputs[9] and inside(inputs[9].region, view)

        await pilot.press("ctrl+u", *"MSFT")  # typed into the last field (cost)
        assert inputs[9].value == "MSFT"
        await pilot.press("escape")  # back to the results, not off the screen
        await pilot.pause()
        assert app.screen is screen and app.focused is table and not form.display
        await pilot.press("s", "x", "m")  # the screen's keys, not the form's
        await pilot.pause()
        assert "sort Score" in text(screen, "#sw-title") and screen.show_heat
        assert inputs[9].value == "MSFT" and inputs[0].value == ",".join(cfg.sweep.long)
        await pilot.press("g")  # what was typed is still there
        await pilot.pause()
        assert app.focused is inputs[0] and inputs[9].value == "MSFT"

        fill(form, {**SMALL, "exposure": "1:2"})  # a bad value: the form says why, stays
        await pilot.press("enter")
        await pilot.pause()
        assert form.display and app.focused in inputs
        err = text(form, "#form-error")
        assert "exposure" in err and "'1:2'" in err and "a:b:n" in err
        error = form.query_one("#form-error").region  # below the scroll, on screen
        view = form.query_one(".form-fields").region
        assert inside(error, screen.region) and not error.overlaps(view)
        assert inside(hint.region, screen.region)
        exposure = form.query_one(f"#{field_id('exposure', FIELD_PREFIX)}", Input)
        assert app.focused is exposure and inside(exposure.region, view)  # the field named
        assert not app.query_one(SweepPane).running
        assert not any(w.group == "sweep" for w in app.workers)
        with Ledger(path) as ledger:
            assert ledger.runs() == []


async def test_the_grid_form_defines_the_sweep_it_runs(done_run, tmp_path, monkeypatch):
    cfg, market, _, _ = done_run
    monkeypatch.setattr(
        "hedgedesk.core.sweep.engine.choose_backend", lambda name: (CpuBackend(), "cpu (test)")
    )
    path = tmp_path / "runs.sqlite"
    app = Host(SweepScreen(cfg, market, ledger_path=path), path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        await pilot.press("g")
        await pilot.pause()
        fill(screen.form, SMALL)
        await pilot.press("enter")
        await pilot.pause()
        assert not screen.form.display and app.focused is table_of(screen)
        await settle(app, pilot)
        assert not screen.running
        with Ledger(path) as ledger:
            runs = ledger.runs()
            assert len(runs) == 1 and runs[0].status == "done"
            record = ledger.get(runs[0].id)
        grid = record.params["grid"]
        assert grid["legs"] == ["AAPL", "MSFT"] and grid["hedge"] == "SP500"
        assert grid["rebalance"] == [5] and grid["window"] == [20, 60]
        assert grid["exposure"] == [0.5, 1.0, 1.5] and grid["estimator"] == [["ols", None]]
        assert record.n_configs == 2 * 2 * 3 * len(cfg.sweep.impact)
        top = record.summary.top
        assert f"run {record.id} done" in text(screen, "#sw-title")
        assert ranks(screen) == list(range(1, len(top) + 1))
        for i, r in enumerate(top[:3]):
            cells = row_cells(screen, i)
            assert [cells["ticker"], cells["W"]] == [r.ticker, str(r.window)]
            assert cells["score"] == f"{r.score:.3f}"


async def test_question_mark_lists_this_screens_keys(done_run, tmp_path):
    cfg, market, _, _ = done_run
    path = tmp_path / "runs.sqlite"
    app = Host(SweepScreen(cfg, market, ledger_path=path), path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        await pilot.press("question_mark")
        await pilot.pause()
        help_ = app.screen
        assert isinstance(help_, HelpScreen) and help_.target is screen
        lines = "\n".join(help_._lines)
        assert "Keys of the Sweep screen" in help_.title_text
        for key, what in (
            ("x", "Cancel the sweep running on the desk's pane"),
            ("b", "Best strategy per leg"),
            ("R", "Resume the run shown"),
            ("g", "Grid form"),
            ("esc", "Back to the desk"),
        ):
            assert re.search(rf"{re.escape(key)}.*{re.escape(what)}", lines), (key, lines)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen


class StopAfterOne(CpuBackend):
    """Sets ``cancel`` during its first grid chunk: the run keeps its first leg only."""

    def __init__(self, cancel):
        super().__init__()
        self.cancel = cancel

    def run(self, row0, count, rows=None):
        if self.args[11].any():  # hedge ratios: the grid's, not the unhedged twins' (0)
            self.cancel.set()
        return super().run(row0, count, rows)


async def test_an_interrupted_run_is_resumed_from_the_runs_list(done_run, tmp_path, monkeypatch):
    """A run whose process died (the ledger says interrupted): l lists it, R resumes it on the
    desk's pane through the engine's resume, and it ends as an uninterrupted run would.
    """
    import subprocess
    import sys
    import threading

    cfg, market, _, record = done_run
    path = tmp_path / "runs.sqlite"
    request = SweepRequest(
        GRID, start=cfg.data.start, end=cfg.data.end, rf=cfg.risk.rf, backend="cpu", top=10
    )
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with Ledger(path) as ledger:
        cancel = threading.Event()
        part = drain(
            run_sweep(request, market, ledger, cancel=cancel, backend=StopAfterOne(cancel))
        )
        with ledger._lock:  # as if its process had been killed mid-run
            ledger._db.execute(
                "UPDATE runs SET status = 'running', pid = ? WHERE id = ?", (gone.pid, part.run_id)
            )
        rec = ledger.get(part.run_id)
    assert rec.status == "interrupted" and 0 < rec.n_done < rec.n_configs
    monkeypatch.setattr(
        "hedgedesk.core.sweep.engine.choose_backend", lambda name: (CpuBackend(), "cpu (test)")
    )
    app = Host(SweepScreen(cfg, market, ledger_path=path), path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert "interrupted: R resumes it" in text(screen, "#sw-status")
        await pilot.press("l")
        await pilot.pause()
        runs = app.screen
        assert str(runs.query_one(DataTable).get_row_at(0)[1]) == "interrupted (R)"
        await pilot.press("R")
        await until(
            pilot,
            lambda: (
                app.screen is screen
                and not app.query_one(SweepPane).running
                and app.query_one(SweepPane).result is not None
            ),
            "the resumed run's end",
        )
        await settle(app, pilot)
        result = app.query_one(SweepPane).result
        assert result.run_id == part.run_id and result.status == "done"
        assert f"run {part.run_id} done" in text(screen, "#sw-title")
        assert ranks(screen) == list(range(1, 11))
        for i, r in enumerate(record.summary.top):  # as the uninterrupted run ranked them
            assert row_cells(screen, i)["score"] == f"{r.score:.3f}"
    with Ledger(path) as ledger:
        rec = ledger.get(part.run_id)
    assert rec.status == "done" and rec.resumed == 1


@pytest.fixture(scope="module")
def small_run():
    """A real small sweep whose leaders include h = 0 twins (test_leaderboard.py's grid)."""
    from hedgedesk.core.sweep.engine import run_sweep
    from hedgedesk.core.sweep.request import SweepRequest

    request = SweepRequest(LEADERBOARD_GRID, top=12, walk_forward=0, keep="all")
    return drain(run_sweep(request, make_market()))


def test_best_per_leg_is_each_legs_highest_score(small_run):
    """The screen's per-leg view against the engine's per-configuration table (a real small
    sweep: tests/core/sweep/test_leaderboard.py's).
    """
    from hedgedesk.tui.screens.sweep import best_per_leg, leaderboard, leg_bests

    run = small_run
    f = run.per_config
    ranked = f[(f["cost"] == max(LEADERBOARD_GRID.cost)) & (f["status"] == 0)]
    rows = leaderboard(run.summary)
    best = best_per_leg(rows, leg_bests(run.summary))
    assert sorted(b.strategy.ticker for b in best) == ["A", "B"]
    for b in best:
        mine = ranked[ranked["ticker"] == b.strategy.ticker]
        assert b.strategy.score == mine["score"].max()
        assert b.strategy.row == int(mine.loc[mine["score"].idxmax(), "row"])
    # a leg with no row among the leaders still gets one: its best from the summary's legs
    only_a = [r for r in rows if r.strategy.ticker == "A"]
    best = best_per_leg(only_a, leg_bests(run.summary))
    assert [b.strategy.ticker for b in best] == ["A", "B"]
    leg_b = next(leg for leg in run.summary.legs if leg.ticker == "B")
    assert best[1].strategy.row == leg_b.best.row and best[1].rank is None


def test_heat_text_marks_the_rows_cell_and_dashes_cells_without_strategies(done_run):
    from hedgedesk.core.sweep.results import HeatMap
    from hedgedesk.tui.screens.sweep import heat_text, pbo_note

    _, _, _, record = done_run
    s = record.summary
    row = leaderboard(s)[0]
    r = row.strategy
    heat = HeatMap(
        rebalance=(r.rebalance, r.rebalance + 1),
        window=(r.window, r.window + 1),
        count=((3, 0), (1, 2)),
        mean_score=((0.5, None), (0.25, 0.125)),
        best_score=((0.75, None), (0.25, 0.25)),
    )
    legs = tuple(
        dataclasses.replace(leg, heat=heat) if leg.ticker == r.ticker else leg for leg in s.legs
    )
    lines = heat_text(row, dataclasses.replace(s, legs=legs)).splitlines()
    head = f"{r.ticker}: mean score, P down x W across, cost {s.ranking.cost:g}"
    assert lines[0].startswith(head)
    assert lines[1].split() == ["P\\W", str(r.window), str(r.window + 1)]
    assert lines[2].split() == [str(r.rebalance), "[0.500]", "—"]
    assert lines[3].split() == [str(r.rebalance + 1), "0.250", "0.125"]
    # a sampled PBO without its population or error (as far as a summary says) still reads
    leg = s.leg(r.ticker)
    bare = dataclasses.replace(leg.pbo, method="sampled", population=None, standard_error=None)
    legs = tuple(dataclasses.replace(x, pbo=bare) if x is leg else x for x in s.legs)
    note = pbo_note(dataclasses.replace(s, legs=legs), r.ticker)
    assert note == f"PBO {bare.pbo:.2f} (sampled {bare.configurations:,} of ?)"
    assert pbo_note(s, "nope") == ""

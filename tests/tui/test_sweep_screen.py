"""The sweep results screen, by keys only, on a small sweep of the demo data recorded in a
ledger of its own: the leaderboard equals the run's summary and sorts numerically, the caption
equals run_backtest's figures, the heat map equals a pandas groupby of the Parquet table, a
running run is followed to its end, a sweep started here is cancelled by Esc, and ``g``'s
form defines the grid it runs (a bad value stays in the form)."""

from __future__ import annotations

import dataclasses
import re
import time

import numpy as np
import pandas as pd
import pytest
from textual.app import App
from textual.widgets import DataTable, Input, Static

from core.backtest import run_backtest
from core.config import load_config, resolve_config_path
from core.sources import load_market
from core.sweep import CpuBackend, SweepRequest, run_sweep
from core.sweep_grid import Estimator, Grid, Leg
from core.sweep_ledger import Ledger
from tui.edit import FormScreen
from tui.format import num, pct
from tui.sweep_screen import SweepScreen

GRID = Grid(legs=(Leg("AAPL", ("AAPL",)), Leg("MSFT", ("MSFT",))), hedge="SP500",
            rebalance=(1, 5, 21), window=(20, 60),
            estimator=(Estimator("ols"), Estimator("ewma", 10.0)), hedge_ratio=(0.5, 1.0),
            cost=(0.0, 0.001))


def drain(gen):
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        return stop.value


@pytest.fixture(scope="module")
def done_run(tmp_path_factory):
    """The demo config, its market, and a finished 96-configuration run in a fresh ledger."""
    cfg = load_config(resolve_config_path())
    market = load_market(cfg)
    path = tmp_path_factory.mktemp("ledger") / "runs.sqlite"
    request = SweepRequest(GRID, start=cfg.data.start, end=cfg.data.end, rf=cfg.risk.rf,
                           backend="cpu", top=10)
    with Ledger(path) as ledger:
        result = drain(run_sweep(request, market, ledger, backend=CpuBackend()))
        record = ledger.get(result.run_id)
    assert record.status == "done" and len(record.summary["top"]) == 10
    return cfg, market, path, record


class Host(App):
    def __init__(self, screen: SweepScreen):
        super().__init__()
        self.sweep = screen

    def on_mount(self) -> None:
        self.push_screen(self.sweep)


async def settle(app, pilot):
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


def text(screen, id_: str) -> str:
    return str(screen.query_one(id_, Static).render())


def ranks(screen) -> list[int]:
    table = screen.query_one("#sw-table", DataTable)
    return [int(k.value) for k in table.rows]


async def test_leaderboard_equals_the_summary_and_sorts_numerically(done_run):
    cfg, market, path, record = done_run
    top = record.summary["top"]
    app = Host(SweepScreen(cfg, market, ledger_path=path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        await pilot.press("l")  # the runs list; enter attaches the highlighted (only) run
        await pilot.pause()
        assert record.id in str(app.screen.query_one(DataTable).get_row_at(0)[0])
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.screen is screen
        table = screen.query_one("#sw-table", DataTable)
        assert table.virtual_size.width <= 78  # every column shows at 80 columns
        assert ranks(screen) == list(range(1, len(top) + 1))
        for i, r in enumerate(top):
            cells = [str(c).strip() for c in table.get_row_at(i)]
            assert cells[1:4] == [r["ticker"], str(r["rebalance"]), str(r["window"])]
            assert cells[8:10] == [f"{r['score']:.3f}", num(r["sharpe"])]
        assert f"run {record.id} done" in text(screen, "#sw-title")

        await pilot.press("s", "s")  # rank -> score -> Sharpe
        assert "sort Sharpe ↓" in text(screen, "#sw-title")
        by_sharpe = [i for i, _ in sorted(enumerate(top, 1), key=lambda x: x[1]["sharpe"],
                                          reverse=True)]
        assert ranks(screen) == by_sharpe
        shown = [float(str(table.get_row_at(i)[9])) for i in range(table.row_count)]
        assert shown == sorted(shown, reverse=True)
        await pilot.press("S")
        assert "sort Sharpe ↑" in text(screen, "#sw-title")
        assert ranks(screen) == by_sharpe[::-1]
        await pilot.press("r")
        assert ranks(screen) == by_sharpe
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, SweepScreen)


async def test_caption_equals_run_backtest_and_heat_map_equals_groupby(done_run):
    cfg, market, path, record = done_run
    s = record.summary
    top = s["top"]
    app = Host(SweepScreen(cfg, market, ledger_path=path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        ols = next(i for i, r in enumerate(top) if r["estimator"] == "ols")
        await pilot.press(*["down"] * ols)
        await settle(app, pilot)
        r = top[ols]
        bt = run_backtest(market, [r["ticker"]], r["hedge"], r["rebalance"], r["window"],
                          r["exposure"], r["hedge_ratio"], r["cost"], r["drift_band"],
                          rf=cfg.risk.rf, start=cfg.data.start, end=cfg.data.end)
        m = bt.metrics

        def figs(x):
            return f"{pct(x['annual_return'])} {num(x['sharpe'])} {pct(x['max_drawdown'])}"

        caption = text(screen, "#sw-caption")
        assert f"#{ols + 1} {r['ticker']} P{r['rebalance']} W{r['window']} ols" in caption
        assert (f"hedged {figs(m)} | unhedged {figs(m['unhedged'])} | "
                f"SP500 {figs(m['benchmark'])}") in caption
        assert figs(m) == figs(r)  # the sweep's figures are the backtest's

        ewma = next(i for i, x in enumerate(top) if x["estimator"] == "ewma")
        await pilot.press(*["up"] * ols, *["down"] * ewma)
        await settle(app, pilot)
        assert f"hedged {figs(top[ewma])} |" in text(screen, "#sw-caption")

        await pilot.press("m")
        await settle(app, pilot)
        assert not screen.query_one("#sw-chart").display
        row = top[ewma]
        frame = pd.read_parquet(record.parquet)
        cost = s["ranking"]["scenario"]["cost"]
        mine = frame[(frame["ticker"] == row["ticker"]) & (frame["cost"] == cost)]
        witness = mine.groupby(["rebalance", "window"])["score"].mean().unstack("window")
        lines = text(screen, "#sw-heat").splitlines()
        assert lines[0].startswith(f"{row['ticker']}: mean score")
        assert lines[1].split()[1:] == [str(w) for w in witness.columns]
        for line, (p, values) in zip(lines[2:], witness.iterrows(), strict=True):
            assert line.split()[0] == str(p)
            assert re.findall(r"\d+\.\d{3}", line) == [f"{v:.3f}" for v in values]
        assert f"[{witness.loc[row['rebalance'], row['window']]:.3f}]" in "\n".join(lines)
        await pilot.press("m")
        assert screen.query_one("#sw-chart").display


async def test_a_running_run_is_followed_until_it_finishes(done_run, tmp_path):
    cfg, market, _, record = done_run
    frame = pd.read_parquet(record.parquet)
    chunk = {"status": np.zeros(10, np.int8)}
    with Ledger(tmp_path / "runs.sqlite") as ledger:
        run = ledger.create_run(record.params, "fp", "v", "cpu", "cpu", 96, 1000)
        ledger.save_chunk(run, 0, 0, 10, chunk, 0.1)
        app = Host(SweepScreen(cfg, market, ledger_path=tmp_path / "runs.sqlite"))
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app, pilot)  # the newest run is attached: still running
            screen = app.screen
            assert f"following run {run}: 10/96" in text(screen, "#sw-status")
            assert screen.query_one("#sw-table", DataTable).row_count == 0
            ledger.save_chunk(run, 0, 10, 20, chunk, 0.1)
            await pilot.pause(1.3)
            assert f"following run {run}: 20/96" in text(screen, "#sw-status")
            ledger.finish(run, "done", summary=record.summary, per_config=frame)
            await pilot.pause(1.3)
            await settle(app, pilot)
            assert screen.following is None
            assert f"run {run} done" in text(screen, "#sw-title")
            assert ranks(screen) == list(range(1, len(record.summary["top"]) + 1))


class SlowCpu(CpuBackend):
    def run(self, row0, count, rows=None):
        time.sleep(0.1)  # paces the sweep: the demo grid would otherwise end in about 2 s
        return super().run(row0, count, rows)


async def test_a_sweep_started_here_is_cancelled_by_escape(done_run, tmp_path, monkeypatch):
    cfg, market, _, _ = done_run
    monkeypatch.setattr("core.sweep.choose_backend", lambda name: (SlowCpu(), "cpu (test)"))
    small = dataclasses.replace(cfg, sweep=dataclasses.replace(cfg.sweep, long=("AAPL", "MSFT")))
    path = tmp_path / "runs.sqlite"
    app = Host(SweepScreen(small, market, ledger_path=path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        await pilot.press("g")  # the grid form, prefilled from the config; enter runs it
        await pilot.pause()
        await pilot.press("enter")
        for _ in range(200):  # progress: phase, configurations done of all, share
            if re.match(r"sweep AAPL: [1-9][\d,]*/10,692 \(", text(screen, "#sw-status")):
                break
            await pilot.pause(0.1)
        assert re.search(r"\d+/10,692 \(\d+%\) ETA .* Esc cancels", text(screen, "#sw-status"))
        await pilot.press("escape")  # cancels after the chunk in flight, does not leave
        await settle(app, pilot)
        assert app.screen is screen and not screen.running
        with Ledger(path) as ledger:
            runs = ledger.runs()
        assert len(runs) == 1 and runs[0].status == "cancelled"
        assert 0 < runs[0].n_done < runs[0].n_configs
        assert f"run {runs[0].id} cancelled" in text(screen, "#sw-title")
        assert "resume with hedgedesk sweep --resume" in text(screen, "#sw-status")
        await pilot.press("escape")  # nothing running: back
        await pilot.pause()
        assert not isinstance(app.screen, SweepScreen)


SMALL = {"tickers": "AAPL,MSFT", "hedge": "SP500", "rebalance": "5", "window": "20,60",
         "estimator": "ols", "halflife": "", "exposure": "0.5:1.5:3", "hedge ratio": "1",
         "drift band": "0", "cost": "0"}


async def fill_grid_form(app, pilot, values: dict[str, str]) -> FormScreen:
    await pilot.press("g")
    await pilot.pause()
    form = app.screen
    assert isinstance(form, FormScreen)
    for name, value in values.items():
        form.query_one(f"#field-{name.replace(' ', '-')}", Input).value = value
    form.query_one("#field-tickers", Input).focus()
    await pilot.press("enter")
    await pilot.pause()
    return form


async def test_the_grid_form_defines_the_sweep_run_here(done_run, tmp_path, monkeypatch):
    cfg, market, _, _ = done_run
    monkeypatch.setattr("core.sweep.choose_backend", lambda name: (CpuBackend(), "cpu (test)"))
    path = tmp_path / "runs.sqlite"
    app = Host(SweepScreen(cfg, market, ledger_path=path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        await pilot.press("g")
        await pilot.pause()
        form = app.screen  # prefilled from the config's [sweep] grid, its size in the note
        assert form.query_one("#field-tickers", Input).value == ",".join(cfg.sweep.long)
        assert "configurations" in form.note
        await pilot.press("escape")
        await pilot.pause()
        await fill_grid_form(app, pilot, SMALL)
        assert app.screen is screen  # the form closed, the sweep started
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
        top = record.summary["top"]
        assert f"run {record.id} done" in text(screen, "#sw-title")
        assert ranks(screen) == list(range(1, len(top) + 1))
        table = screen.query_one("#sw-table", DataTable)
        for i, r in enumerate(top[:3]):
            cells = [str(c).strip() for c in table.get_row_at(i)]
            assert cells[1:4] == [r["ticker"], str(r["rebalance"]), str(r["window"])]
            assert cells[8] == f"{r['score']:.3f}"


async def test_a_bad_grid_value_stays_in_the_form_and_starts_nothing(done_run, tmp_path):
    cfg, market, _, _ = done_run
    path = tmp_path / "runs.sqlite"
    app = Host(SweepScreen(cfg, market, ledger_path=path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        form = await fill_grid_form(app, pilot, {**SMALL, "exposure": "1:2"})
        assert app.screen is form
        error = text(form, "#form-error")
        assert "exposure" in error and "'1:2'" in error and "a:b:n" in error
        assert not screen.running
        assert not any(w.group == "sweep" for w in app.workers)
        with Ledger(path) as ledger:
            assert ledger.runs() == []

"""Reports (``hedgedesk.core.report``): one full report of the demo desk (book, optimisation, a
sweep run,
a backtest) is built and written once per module, then read back as a user would: report.md's
headings and pipe tables, the PNG charts, report.pdf's outline, text and rendered pages
(pypdfium2), and report.json.

Witnesses: the engine's own entry points called here, not through the report
(``hedgedesk.core.book.risk.risk_report``, ``hedgedesk.core.book.trades.plan_trades``,
``hedgedesk.core.book.scenarios.run_scenarios``,
``hedgedesk.core.optimize.engine.run``, ``hedgedesk.core.sweep.backtest.run_backtest``, the run
ledger's record and its
per-configuration table grouped here with pandas), statsmodels OLS for the regression and numpy
quantiles for the historical VaR. Small hand-made reports cover atomic writes and edge cases.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import types
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest
import statsmodels.api as sm
from PIL import Image

from hedgedesk.core.book.risk import risk_report
from hedgedesk.core.book.scenarios import run_scenarios
from hedgedesk.core.book.trades import plan_trades
from hedgedesk.core.book.valuation import market_state, shocked_state
from hedgedesk.core.config import load_config, resolve_config_path
from hedgedesk.core.data.sources import load_market
from hedgedesk.core.errors import HedgedeskError
from hedgedesk.core.optimize.engine import run as optimize_run
from hedgedesk.core.optimize.request import OptimizeRequest
from hedgedesk.core.report import (
    ReportRequest,
    build_report,
    charts,
    parse_what,
    render,
    write_report,
)
from hedgedesk.core.report.book import book_section
from hedgedesk.core.report.document import Chart, Col, Report, Section, Table, Text, fmt
from hedgedesk.core.report.provenance import code_version, data_fingerprint, file_digest
from hedgedesk.core.report.sweep import sweep_section
from hedgedesk.core.sweep.backtest import desk_defaults, leg_returns, run_backtest
from hedgedesk.core.sweep.engine import SweepRequest, run_sweep
from hedgedesk.core.sweep.grid import Grid, Leg
from hedgedesk.core.sweep.ledger import Ledger
from hedgedesk.core.sweep.results import HeatMap, ScenarioStats

# decimals of the value (not of the printed percentage) each kind prints with
DECIMALS = {"int": 0, "money": 0, "pct": 4, "pct1": 3, "num2": 2, "num3": 3, "num4": 4}
SWEEP_GRID = dict(
    rebalance=(5, 21),
    window=(20, 60),
    exposure=(0.5, 1.0),
    hedge_ratio=(0.0, 0.5, 1.0),
    cost=(0.0, 0.001),
)


# -- reading a report back ---------------------------------------------------------------------
_PIPE = re.compile(r"(?<!\\)\|")


def _cells(line: str) -> list[str]:
    inner = line.strip()
    assert inner.startswith("|") and inner.endswith("|"), line
    return [c.strip().replace("\\|", "|") for c in _PIPE.split(inner[1:-1])]


def md_sections(md: str) -> dict[str, str]:
    """``## title`` -> the text under it, in order."""
    parts = re.split(r"^## (.+)$", md, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def md_tables(body: str) -> dict[str, list[dict[str, str]]]:
    """Every pipe table in ``body`` by the bold caption right above it ('' for none): a list of
    rows, each {column name: cell as printed}.
    """
    tables: dict[str, list[dict[str, str]]] = {}
    lines = body.splitlines()
    caption, i = "", 0
    while i < len(lines):
        line = lines[i]
        if m := re.fullmatch(r"\*\*(.+)\*\*", line):
            caption, i = m.group(1), i + 1
            continue
        if line.startswith("|"):
            block = []
            while i < len(lines) and lines[i].startswith("|"):
                block.append(_cells(lines[i]))
                i += 1
            header, rule, *rows = block
            assert all(re.fullmatch(r":?-{3,}:?", c) for c in rule), rule
            assert len(set(header)) == len(header), header
            assert caption not in tables, f"two tables captioned {caption!r}"
            tables[caption] = [dict(zip(header, r, strict=True)) for r in rows]
            caption = ""
            continue
        if line.strip():
            caption = ""  # a caption belongs to the table right below it only
        i += 1
    return tables


def table(body: str, caption_start: str) -> list[dict[str, str]]:
    found = [rows for cap, rows in md_tables(body).items() if cap.startswith(caption_start)]
    assert len(found) == 1, (caption_start, list(md_tables(body)))
    return found[0]


def number(cell: str) -> float:
    """A printed number back as a float ('12.34%' -> 0.1234, '1,234' -> 1234, '–' -> nan)."""
    if cell == "–":
        return math.nan
    if cell.endswith("%"):
        return float(cell[:-1].replace(",", "")) / 100.0
    return float(cell.replace(",", ""))


def near(cell: str, value: float, kind: str) -> None:
    """The printed cell is ``value`` to the precision its kind prints with (for witnesses that
    are computed differently, so the last digit may round the other way).
    """
    half = 0.5 * 10.0 ** -DECIMALS[kind]
    assert abs(number(cell) - value) <= half * (1 + 1e-6) + 1e-12, (cell, value, kind)


def ink(img: Image.Image) -> tuple[float, float]:
    """(share of non-white pixels, grey-level standard deviation) of an image."""
    grey = np.asarray(img.convert("L"), dtype=np.float64)
    return float((grey < 245).mean()), float(grey.std())


# -- the one full report -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The demo desk's full report, written once: config, market, a small sweep run in a
    ledger of its own, the request and the files, with report.md, report.json and report.pdf
    read back.
    """
    tmp = tmp_path_factory.mktemp("report")
    with pytest.MonkeyPatch.context() as mp:  # the function-scoped isolation is not up yet
        for var in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
            mp.setenv(var, str(tmp / "home" / var.lower()))
        mp.delenv("HEDGEDESK_CONFIG", raising=False)
        mp.delenv("HEDGEDESK_LEDGER", raising=False)
        cfg = load_config(resolve_config_path())
        market = load_market(cfg)
        ledger = Ledger(tmp / "runs.sqlite")
        grid = Grid(
            legs=(Leg("AAPL", ("AAPL",)), Leg("MSFT", ("MSFT",))), hedge="SP500", **SWEEP_GRID
        )
        gen = run_sweep(
            SweepRequest(  # keep all: the per-configuration table is the sweep part's witness
                grid, start=cfg.data.start, end=cfg.data.end, backend="cpu", top=5, keep="all"
            ),
            market,
            ledger,
        )
        while True:
            try:
                next(gen)
            except StopIteration as stop:
                result = stop.value
                break
        assert result.status == "done" and result.run_id
        rec = ledger.get(result.run_id)
        opt_req = OptimizeRequest.from_config(cfg, market, cfg.data.start, cfg.data.end)
        bt = {**desk_defaults(cfg), "rf": cfg.risk.rf, "start": cfg.data.start, "end": cfg.data.end}
        req = ReportRequest(
            ("book", "optimize", f"sweep:{rec.id}", "backtest"), optimize=opt_req, backtest=bt
        )
        report = build_report(cfg, market, req, ledger)
        out = tmp / "out"
        files = write_report(report, out)
    md = (out / "report.md").read_text(encoding="utf-8")
    pdf = pdfium.PdfDocument(str(out / "report.pdf"))
    pages = [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    toc = [(b.get_title(), b.level, b.get_dest().get_index()) for b in pdf.get_toc()]
    titles = [
        f"Book: {cfg.book.name}",
        f"Optimisation: {opt_req.objective}",
        f"Sweep run {rec.id}",
        f"Backtest: {'+'.join(bt['long'])} hedged with {bt['hedge']}",
    ]
    yield types.SimpleNamespace(
        cfg=cfg,
        market=market,
        ledger=ledger,
        rec=rec,
        per_config=ledger.per_config(rec.id),
        opt_req=opt_req,
        bt=bt,
        report=report,
        files=files,
        out=out,
        md=md,
        sections=md_sections(md),
        json=json.loads((out / "report.json").read_text()),
        pdf=pdf,
        pages=pages,
        pdf_text="\n".join(pages),
        toc=toc,
        titles=titles,
    )
    pdf.close()
    ledger.close()


@pytest.fixture(scope="module")
def book(built):
    """The engine's book: market state, risk report, trade list and scenarios."""
    state = market_state(built.cfg, built.market)
    return types.SimpleNamespace(
        state=state,
        rep=risk_report(built.cfg, state),
        trades=list(plan_trades(built.cfg, state).trades),
        scenarios=run_scenarios(built.cfg, state, built.market),
        body=built.sections[built.titles[0]],
    )


@pytest.fixture(scope="module")
def backtest(built):
    res = run_backtest(built.market, **built.bt)
    y, x = leg_returns(
        built.market,
        built.bt["long"],
        built.bt["hedge"],
        "equal",
        built.bt["start"],
        built.bt["end"],
    )
    fit = sm.OLS(y.to_numpy(), sm.add_constant(x.to_numpy())).fit()
    return types.SimpleNamespace(res=res, fit=fit, body=built.sections[built.titles[3]])


# -- structure ---------------------------------------------------------------------------------
def test_markdown_has_the_parameters_and_every_section_in_order(built):
    headings = re.findall(r"^## (.+)$", built.md, flags=re.M)
    assert headings == ["Parameters", *built.titles]
    assert built.md.startswith(f"# hedgedesk report: {built.cfg.book.name}\n")
    params = {r["parameter"]: r["value"] for r in md_tables(built.sections["Parameters"])[""]}
    assert params["parts"] == f"book, optimize, sweep:{built.rec.id}, backtest"
    assert params["config"] == str(built.cfg.path)
    digest = hashlib.sha256(Path(built.cfg.path).read_bytes()).hexdigest()[:16]
    assert params["config sha256"] == digest
    assert params["data source"] == "demo"
    assert params[f"sweep run {built.rec.id}"].startswith(
        f"data fingerprint {built.rec.fingerprint}, code {built.rec.code_version}"
    )
    assert "Conventions:" in built.sections["Parameters"]


def test_every_declared_chart_is_a_real_linked_png(built):
    declared = [c.name for s in built.report.sections for c in s.charts()]
    # the charts each part is documented to draw are there (so an empty list cannot pass)
    assert {
        "book_allocation",
        "book_correlation",
        "book_dashboard",
        "book_growth",
        "optimize_frontier",
        "optimize_pie",
        "optimize_top",
        "optimize_weights",
        "optimize_dashboard",
        "backtest_equity",
        "backtest_beta",
        f"sweep_{built.rec.id}_heat_window_rebalance",
        f"sweep_{built.rec.id}_heat_hedge_ratio_exposure",
    } <= set(declared)
    assert len(set(declared)) == len(declared)
    assert {k for k in built.files if k.startswith("chart:")} == {f"chart:{n}" for n in declared}
    for name in declared:
        path = built.out / f"{name}.png"
        assert built.files[f"chart:{name}"] == path
        assert path.stat().st_size > 5_000, name
        with Image.open(path) as img:
            assert img.format == "PNG"
            w, h = img.size
            assert w >= 600 and h >= 300, (name, img.size)
            share, spread = ink(img)
        assert 0.01 < share < 0.99 and spread > 10, (name, share, spread)  # not one colour
        assert built.md.count(f"]({name}.png)") == 1, name  # linked once from report.md
    for s in built.report.sections:
        assert built.json["sections"][s.key]["charts"] == [f"{c.name}.png" for c in s.charts()]


def test_pdf_outline_lists_parameters_and_each_section_on_its_page(built):
    assert len(built.pages) > 5
    assert [t for t, _, _ in built.toc] == ["Parameters", *built.titles]
    assert all(level == 0 for _, level, _ in built.toc)
    pages = [p for _, _, p in built.toc]
    assert pages == sorted(pages) and len(set(pages)) == len(pages)
    for title, _, page in built.toc:
        assert title in built.pages[page], (title, page)
    for title, _, page in built.toc[1:]:  # every section starts a page with its title
        assert built.pages[page].startswith(title), (title, built.pages[page][:80])


def test_every_pdf_page_renders_to_a_non_blank_image(built):
    for i in range(len(built.pdf)):
        img = built.pdf[i].render(scale=0.5).to_pil()
        assert img.size[0] > img.size[1]  # A4 landscape
        share, spread = ink(img)
        assert share > 0.02 and spread > 10, (i, share, spread)
        assert f"page {i + 1}/{len(built.pdf)}" in built.pages[i]  # footer, {nb} filled in


def test_pdf_text_has_the_titles_and_the_engines_figures(built, book, backtest):
    text = built.pdf_text
    for title in [built.report.title, *built.titles]:
        assert title in text
    val = book.rep.valuation
    assert f"NAV {fmt(val.nav, 'money')} (cash {fmt(val.cash, 'money')})" in text
    h95 = book.rep.var("historical", 0.95)
    assert f"historical 95.0% 1 504 {fmt(h95.var, 'pct')} {fmt(h95.cvar, 'pct')}" in text
    top = built.rec.summary.top[0]
    assert (
        f"1 {top.ticker} {top.rebalance} {top.window} ols "
        f"{fmt(top.exposure, 'num2')} {fmt(top.hedge_ratio, 'num2')} "
        f"{fmt(top.drift_band, 'num2')} {fmt(top.score, 'num3')} "
        f"{fmt(top.sharpe, 'num2')}"
    ) in text
    m = backtest.res.metrics
    assert (
        f"hedged {fmt(m['annual_return'], 'pct')} {fmt(m['annual_volatility'], 'pct')} "
        f"{fmt(m['sharpe'], 'num3')} {fmt(m['sortino'], 'num3')}"
    ) in text
    assert built.rec.id in text


def test_report_json_has_every_section_and_the_engines_unrounded_figures(built, book, backtest):
    doc = built.json
    assert list(doc["sections"]) == ["book", "optimize", f"sweep:{built.rec.id}", "backtest"]
    assert [s["title"] for s in doc["sections"].values()] == built.titles
    assert doc["parameters"]["parts"] == f"book, optimize, sweep:{built.rec.id}, backtest"

    fig = doc["sections"]["book"]["figures"]
    val = book.rep.valuation
    assert fig["nav"] == pytest.approx(val.nav, rel=0, abs=1e-9)
    assert fig["beta"] == pytest.approx(val.portfolio_beta, rel=0, abs=1e-12)
    # the historical VaR from numpy alone: the 5 % quantile (linear interpolation) of the
    # book's daily returns, and the mean of the returns at or below it
    q = np.quantile(book.rep.book_returns, 0.05)
    assert fig["var"] == pytest.approx(-q, rel=1e-12)
    assert fig["cvar"] == pytest.approx(
        -book.rep.book_returns[book.rep.book_returns <= q].mean(), rel=1e-12
    )
    holdings = doc["sections"]["book"]["tables"]["holdings"]
    by_name = {p.line.name: p for p in val.positions}
    assert holdings and all(r["value"] == by_name[r["ticker"]].market_value for r in holdings)

    backtest_fig = doc["sections"]["backtest"]["figures"]
    for k in (
        "annual_return",
        "annual_volatility",
        "sharpe",
        "max_drawdown",
        "turnover",
        "hedge_effectiveness",
    ):
        assert backtest_fig["metrics"][k] == pytest.approx(backtest.res.metrics[k], rel=1e-12)
    reg, fit = backtest_fig["regression"], backtest.fit
    assert reg["alpha"] == pytest.approx(fit.params[0], rel=1e-9)
    assert reg["beta"] == pytest.approx(fit.params[1], rel=1e-9)
    assert reg["r_squared"] == pytest.approx(fit.rsquared, rel=1e-9)
    assert reg["beta_tstat"] == pytest.approx(fit.tvalues[1], rel=1e-9)
    assert reg["n_obs"] == int(fit.nobs)
    assert len(backtest_fig["rebalances"]) == len(backtest.res.rebalances)

    top = doc["sections"][f"sweep:{built.rec.id}"]["figures"]["top"]
    assert [r["score"] for r in top] == [r.score for r in built.rec.summary.top]


# -- the book ----------------------------------------------------------------------------------
def test_book_text_states_the_engines_nav_and_beta(book):
    val = book.rep.valuation
    assert (
        f"As of {val.asof}, NAV {fmt(val.nav, 'money')} (cash {fmt(val.cash, 'money')}), "
        f"benchmark {val.benchmark}. Beta {val.portfolio_beta:.3f}:"
    ) in book.body
    monitors = {r["monitor"]: r for r in table(book.body, "Monitoring thresholds")}
    assert monitors["portfolio beta"]["now"] == f"{val.portfolio_beta:.3f}"
    assert monitors["1-day VaR 95% (historical)"]["now"] == fmt(
        book.rep.var("historical", 0.95).var, "pct"
    )


def test_book_holdings_are_the_risk_reports_positions(book):
    rows = table(book.body, "Holdings, largest first")
    held = sorted(
        (p for p in book.rep.valuation.positions if not p.line.is_hedge),
        key=lambda p: -abs(p.market_value),
    )
    assert len(held) == 10 and [r["ticker"] for r in rows] == [p.line.name for p in held]
    for r, p in zip(rows, held, strict=True):
        assert r["quantity"] == fmt(p.line.quantity, "int")
        assert r["price"] == fmt(p.unit_price, "num2")
        assert r["value"] == fmt(p.market_value, "money")
        assert r["weight"] == fmt(p.weight, "pct")
        assert r["beta"] == fmt(p.beta, "num2")
        assert r["P&L"] == fmt(p.pnl, "money")
    nav = book.rep.valuation.nav
    assert sum(number(r["value"]) for r in rows) == pytest.approx(
        sum(p.market_value for p in held), abs=len(rows) * 0.5
    )
    assert sum(p.market_value for p in held) < nav  # cash and the options make up the rest


def test_book_var_table_is_the_engines_tail(book):
    rows = table(book.body, "Value at risk")
    assert len(rows) == len(book.rep.tail) == 4
    for r, t in zip(rows, book.rep.tail, strict=True):
        assert r["method"] == t.method
        assert r["confidence"] == fmt(t.confidence, "pct1")
        assert r["horizon days"] == "1" and r["window days"] == fmt(
            len(book.rep.book_returns), "int"
        )
        assert r["VaR"] == fmt(t.var, "pct") and r["CVaR"] == fmt(t.cvar, "pct")


def test_book_trade_list_is_the_engines(book):
    rows = table(book.body, "Trade list for a NAV of")
    assert book.trades, "the demo book should need a trade (else this test proves little)"
    assert [
        (r["instrument"], r["side"], r["contracts"], r["size USD"], r["purpose"]) for r in rows
    ] == [
        (t.instrument, t.side, fmt(t.contracts, "int"), fmt(t.size_usd, "money"), t.purpose)
        for t in book.trades
    ]


def test_book_scenarios_are_the_engines(built, book):
    rows = table(book.body, "Scenarios (config [[scenarios]])")
    legs = [h.name for h in built.cfg.book.hedges]
    assert [r["scenario"] for r in rows] == [s.scenario.name for s in book.scenarios]
    assert len(rows) >= 3
    for r, s in zip(rows, book.scenarios, strict=True):
        assert r["P&L"] == fmt(s.pnl, "money")
        assert r["P&L % NAV"] == fmt(s.pnl_pct, "pct")
        assert r["beta after"] == fmt(s.after.portfolio_beta, "num3")
        assert r["delta $ after"] == fmt(s.after.total("dollar_delta"), "money")
        for leg in legs:
            assert r[f"{leg} adds"] == fmt(s.leg_value(leg), "money")


def test_what_if_shock_values_the_book_at_the_shocked_prices(built, book):
    shocks = {"AAPL": -0.1}
    s = book_section(built.cfg, built.market, shocks=shocks)
    witness = risk_report(built.cfg, shocked_state(book.state, shocks)).valuation
    before = book.rep.valuation
    assert s.figures["nav"] == pytest.approx(witness.nav, rel=1e-12)
    assert s.figures["shocks"] == shocks
    aapl = next(p for p in before.positions if p.line.name == "AAPL")
    # the shares lose 10 %; the short covered calls on AAPL give a little of it back
    assert 0.09 * aapl.market_value < before.nav - s.figures["nav"] < 0.1 * aapl.market_value
    assert any(
        isinstance(b, Text) and "Price shocks applied: AAPL -10.0%" in b.text for b in s.blocks
    )
    held = {r[0]: r for r in s.tables()["holdings"].rows}
    assert held["AAPL"][2] == pytest.approx(0.9 * aapl.unit_price, rel=1e-12)
    assert held["MSFT"][3] == pytest.approx(
        next(p.market_value for p in before.positions if p.line.name == "MSFT"), rel=1e-12
    )


def test_nav_scales_the_sizing_and_the_trade_list(built, book):
    nav = 10_000_000.0
    s = book_section(built.cfg, built.market, nav=nav)
    plan = plan_trades(built.cfg, book.state, nav)
    trades = plan.trades
    t = s.tables()["trades"]
    assert t.caption.startswith(
        f"Trade list for a NAV of 10,000,000: beta {plan.beta_before:.3f} -> "
        f"{plan.beta_after:.3f} after the futures and sleeves"
    )
    assert [tuple(r[:4]) for r in t.rows] == [
        (x.instrument, x.side, x.contracts, x.size_usd) for x in trades
    ]
    assert [r[:3] for r in t.rows] != [
        [x.instrument, x.side, x.contracts] for x in book.trades
    ]  # a bigger book trades more
    sizing = s.tables()["sizing"]
    k = nav / book.rep.valuation.nav
    qty = {p.line.name: p.line.quantity for p in book.rep.valuation.positions}
    for row in sizing.rows[:-1]:
        assert row[1] == pytest.approx(k * qty[row[0]], rel=1e-12)
    assert sizing.rows[-1][0] == "cash"
    assert sum(r[3] for r in sizing.rows) == pytest.approx(nav, rel=1e-9)
    assert s.figures["nav"] == pytest.approx(book.rep.valuation.nav, rel=1e-12)  # the book's


# -- the optimisation --------------------------------------------------------------------------
def test_optimisation_is_the_engines_solution(built):
    res = optimize_run(built.opt_req, built.market, built.cfg)
    p = res.portfolio
    body = built.sections[built.titles[1]]
    figures = {r["figure"]: r["value"] for r in table(body, "The chosen portfolio")}
    assert table(body, "The chosen portfolio") and p is not None
    near(figures["expected return (annual)"], p.expected_return, "num4")
    near(figures["volatility (annual)"], p.volatility, "num4")
    near(figures["Sharpe"], p.sharpe, "num4")
    near(figures["VaR 95 % 1-day (historical)"], p.var_95, "num4")
    near(figures["CVaR 95 % 1-day (historical)"], p.cvar_95, "num4")
    rows = table(body, "Weights, largest first")
    assert {r["ticker"] for r in rows} == set(p.weights) == set(built.opt_req.tickers)
    for r in rows:
        near(r["weight"], p.weights[r["ticker"]], "pct")
    printed = [number(r["weight"]) for r in rows]
    assert printed == sorted(printed, reverse=True)
    assert sum(printed) == pytest.approx(1.0, abs=len(rows) * 5e-5)
    fig = built.json["sections"]["optimize"]["figures"]
    assert fig["sharpe"] == pytest.approx(p.sharpe, rel=1e-7)
    assert fig["weights"] == pytest.approx(p.weights, abs=1e-7)
    assert f"Estimates: {res.estimates_method}, data {res.first}..{res.last}" in body


# -- the sweep run -----------------------------------------------------------------------------
def test_sweep_leaderboard_and_pbo_are_the_ledgers(built):
    summary = built.rec.summary
    body = built.sections[built.titles[2]]
    assert f"Status done: {built.rec.n_configs:,} of {built.rec.n_configs:,}" in body
    rows = table(body, "Leaderboard")
    assert len(rows) == len(summary.top) == 5
    for i, (r, top) in enumerate(zip(rows, summary.top, strict=True), 1):
        assert (r["#"], r["ticker"], r["P"], r["W"]) == (
            str(i),
            top.ticker,
            str(top.rebalance),
            str(top.window),
        )
        assert r["score"] == fmt(top.score, "num3")
        assert r["Sharpe"] == fmt(top.sharpe, "num2")
        assert r["DSR"] == fmt(top.dsr, "num2")
        assert r["h"] == fmt(top.hedge_ratio, "num2")
    pbo = table(body, "Probability of backtest overfitting")
    assert [r["leg"] for r in pbo] == ["AAPL", "MSFT"]
    for r, leg in zip(pbo, summary.legs, strict=True):
        assert r["PBO"] == fmt(leg.pbo.pbo, "num3")
        assert r["days"] == fmt(leg.n_days, "int")
    # the per-configuration table grouped here: every configuration under each cost scenario
    pc = built.per_config
    rows = table(body, "Every configuration under each cost scenario")
    assert len(rows) == len(SWEEP_GRID["cost"])
    for r, cost in zip(rows, SWEEP_GRID["cost"], strict=True):
        g = pc[pc["cost"] == cost]
        assert r["configurations"] == str(len(g)) == str(len(pc) // len(SWEEP_GRID["cost"]))
        assert r["best score"] == fmt(g["score"].max(), "num3")


def _unstreamed(rec):
    """The run as a summary recorded before streamed heat maps and scenario statistics."""
    summary = dataclasses.replace(
        rec.summary,
        scenarios=(),
        legs=tuple(dataclasses.replace(leg, heat=None, marginals=()) for leg in rec.summary.legs),
    )
    return dataclasses.replace(rec, summary=summary)


def _streamed(rec, pc):
    """The run as a streamed one records it: each leg's HeatMap and the scenarios' statistics,
    here from a pandas groupby of its per-configuration table (the witness).
    """
    summary = rec.summary
    rank, target = summary.ranking, summary.ranking.targets.sharpe
    scenarios = []
    for (cost, impact), g in pc.groupby(["cost", "impact"], sort=True):
        ok = g[g["status"] == 0]
        scenarios.append(
            ScenarioStats(
                cost,
                impact,
                len(g),
                len(ok),
                ok["score"].max(),
                ok["sharpe"].mean(),
                ok["annual_return"].mean(),
                ok["max_drawdown"].mean(),
                float((ok["sharpe"] >= target).mean()),
            )
        )
    chosen = pc[(pc["cost"] == rank.cost) & (pc["impact"] == rank.impact) & (pc["status"] == 0)]
    legs = []
    for leg in summary.legs:
        by = chosen[chosen["ticker"] == leg.ticker].groupby(["rebalance", "window"])["score"]
        best, mean, count = (by.agg(f).unstack("window") for f in ("max", "mean", "count"))
        heat = HeatMap(
            tuple(best.index),
            tuple(best.columns),
            tuple(tuple(int(v) for v in r) for r in count.to_numpy()),
            tuple(map(tuple, mean.to_numpy())),
            tuple(map(tuple, best.to_numpy())),
        )
        legs.append(dataclasses.replace(leg, heat=heat))
    streamed = dataclasses.replace(summary, legs=tuple(legs), scenarios=tuple(scenarios))
    return dataclasses.replace(rec, summary=streamed)


def _texts(s) -> str:
    return " ".join(b.text for b in s.blocks if isinstance(b, Text))


def test_sweep_section_without_the_per_config_table_leaves_out_the_heat_maps(built):
    s = sweep_section(_unstreamed(built.rec), None)
    texts = _texts(s)
    assert "heat maps and scenario statistics are left out" in texts
    assert s.charts() == [] and "scenarios" not in s.tables()
    assert "leaderboard" in s.tables()  # the summary still reports
    full = sweep_section(built.rec, built.per_config)
    assert len(full.charts()) == 2 and "scenarios" in full.tables()
    assert "from the run's per-configuration table" in _texts(full)
    assert "median Sharpe" in [c.name for c in full.tables()["scenarios"].columns]


def test_sweep_section_of_a_streamed_run_reads_its_heat_maps_and_scenario_means(built):
    rec = _streamed(built.rec, built.per_config)
    s = sweep_section(rec, None)
    assert "from the run's streamed summary" in _texts(s) and "means, not medians" in _texts(s)
    table_ = s.tables()["scenarios"]
    names = [c.name for c in table_.columns]
    assert names[5:8] == ["mean Sharpe", "mean return", "mean max DD"]
    assert table_.rows == [
        [
            sc.cost,
            sc.impact,
            sc.configurations,
            sc.ok,
            sc.best_score,
            sc.mean_sharpe,
            sc.mean_annual_return,
            sc.mean_max_drawdown,
            sc.share_sharpe_at_target,
        ]
        for sc in rec.summary.scenarios
    ]
    assert "streamed means" in table_.caption
    charts_ = s.charts()
    assert [c.name for c in charts_] == [
        f"sweep_{rec.id}_heat_{i}_{leg.ticker}_rebalance_window"
        for i, leg in enumerate(rec.summary.legs, 1)
    ]
    for chart, leg in zip(charts_, rec.summary.legs, strict=True):
        assert chart.caption.startswith(f"{leg.ticker}: best target score")
        # the picture's cells are the HeatMap's best scores (printed in each cell)
        cells = [t.get_text() for t in chart.figure.axes[0].texts]
        assert cells == [f"{v:.2f}" for row in leg.heat.best_score for v in row]
    # a per-configuration table (a --keep all run) wins: medians and pairs of axes
    full = sweep_section(rec, built.per_config)
    assert "median Sharpe" in [c.name for c in full.tables()["scenarios"].columns]
    assert len(full.charts()) == 2


def test_sweep_section_of_a_run_without_results_says_so(built):
    rec = dataclasses.replace(
        built.rec, summary=None, status="failed", n_done=0, error="kernel crashed"
    )
    s = sweep_section(rec, None)
    assert not s.tables() and not s.charts()
    assert isinstance(s.blocks[-1], Text)
    assert s.blocks[-1].text == "This run has no results to report yet: kernel crashed"
    assert s.figures["status"] == "failed"


# -- the backtest ------------------------------------------------------------------------------
def test_backtest_parameters_and_performance_are_run_backtests(built, backtest):
    params = {r["parameter"]: r["value"] for r in table(backtest.body, "Configuration")}
    assert params["long leg"] == "AAPL" and params["hedge"] == built.cfg.data.benchmark
    assert params["P: rebalance every (days)"] == str(built.bt["rebalance"])
    assert params["W: beta window (returns)"] == str(built.bt["window"])
    assert params["daily returns"] == str(backtest.res.params["n_days"])
    rows = table(backtest.body, "Performance")
    m = backtest.res.metrics
    assert [r["curve"] for r in rows] == [
        "hedged",
        "unhedged (h = 0)",
        f"benchmark ({built.bt['hedge']} buy and hold)",
    ]
    for r, perf in zip(rows, (m, m["unhedged"], m["benchmark"]), strict=True):
        assert r["annual return"] == fmt(perf["annual_return"], "pct")
        assert r["volatility"] == fmt(perf["annual_volatility"], "pct")
        assert r["Sharpe"] == fmt(perf["sharpe"], "num3")
        assert r["Sortino"] == fmt(perf["sortino"], "num3")
        assert r["max DD"] == fmt(perf["max_drawdown"], "pct")
        assert r["Calmar"] == fmt(perf["calmar"], "num3")
    assert m["sharpe"] != m["unhedged"]["sharpe"]  # the rows are not one curve thrice


def test_backtest_regression_is_statsmodels_ols(backtest):
    fit = backtest.fit
    rows = {r["coefficient"]: r for r in table(backtest.body, "Regression of AAPL on SP500")}
    assert (
        f"Regression of AAPL on SP500: R² {fit.rsquared:.4f}, {int(fit.nobs):,} daily"
        in backtest.body
    )
    a, b = rows["alpha (daily)"], rows["beta"]
    near(a["estimate"], fit.params[0], "num4")
    near(a["std error"], fit.bse[0], "num4")
    near(a["t"], fit.tvalues[0], "num2")
    near(b["estimate"], fit.params[1], "num4")
    near(b["std error"], fit.bse[1], "num4")
    near(b["t"], fit.tvalues[1], "num2")
    annual = rows["alpha (x252, annual)"]
    near(annual["estimate"], 252 * fit.params[0], "num4")
    near(annual["std error"], 252 * fit.bse[0], "num4")
    near(annual["t"], fit.tvalues[0], "num2")


def test_backtest_rebalance_table_keeps_the_notionals_readable(backtest):
    rows = table(backtest.body, "The last 30 of")
    reb = backtest.res.rebalances.tail(len(rows))
    assert len(rows) == 30
    for r, (_, e) in zip(rows, reb.iterrows(), strict=True):
        assert number(r["long notional"]) == pytest.approx(e["long_notional"], rel=0.01)
        assert number(r["short notional"]) == pytest.approx(e["short_notional"], rel=0.01)


# -- parse_what, fmt, the document ---------------------------------------------------------------
def test_parse_what_reads_the_parts_in_order():
    assert parse_what(" book , optimize,sweep:last, backtest ") == (
        "book",
        "optimize",
        "sweep:last",
        "backtest",
    )
    assert parse_what("backtest,book") == ("backtest", "book")
    assert parse_what("sweep:20261122-1015,sweep:last") == ("sweep:20261122-1015", "sweep:last")


@pytest.mark.parametrize(
    "text, words",
    [
        ("bogus", ["unknown part 'bogus'", "book, optimize, sweep:RUN, backtest"]),
        ("book,optimise", ["unknown part 'optimise'"]),
        ("sweep", ["'sweep'", "name the run"]),
        ("book,sweep:", ["'sweep:'", "name the run"]),
        ("book,backtest,book", ["listed twice: book"]),
        ("sweep:a,book,sweep:a", ["listed twice: sweep:a"]),
        (" , ", ["nothing to report"]),
    ],
)
def test_parse_what_rejects_bad_parts_naming_the_flag(text, words):
    with pytest.raises(HedgedeskError) as exc:
        parse_what(text)
    msg = str(exc.value)
    assert msg.startswith("--what: ")
    for w in words:
        assert w in msg


@pytest.mark.parametrize(
    "value, kind, printed",
    [
        (None, "money", "–"),
        (None, "text", "–"),
        (float("nan"), "pct", "–"),
        (np.nan, "num2", "–"),
        (float("inf"), "money", "–"),
        (-np.inf, "int", "–"),
        ("AAPL", "money", "AAPL"),
        (1.5, "text", "1.5"),
        (1234567.4, "money", "1,234,567"),
        (-36488.99999999999, "money", "-36,489"),
        (1500.0, "int", "1,500"),
        (np.int64(2011), "int", "2,011"),
        (0.146716, "pct", "14.67%"),
        (-0.0777, "pct", "-7.77%"),
        (0.95, "pct1", "95.0%"),
        (1.306362, "num2", "1.31"),
        (0.4589, "num3", "0.459"),
        (0.000538525, "num4", "0.0005"),
        (0.001, "sci", "0.001"),
        (123456.0, "sci", "1.23e+05"),
        (np.float32(2.5), "num2", "2.50"),
    ],
)
def test_fmt(value, kind, printed):
    assert fmt(value, kind) == printed


def test_columns_and_tables_refuse_bad_shapes():
    with pytest.raises(ValueError, match="unknown kind 'percent'"):
        Col("x", "percent")
    with pytest.raises(ValueError, match="row 1: 1 cells for 2 columns"):
        Table("t", [Col("a"), Col("b", "money")], [["x", 1.0], ["y"]])
    t = Table("t", [Col("a"), Col("b", "pct")], [["x", np.float64(0.5)], ["y", float("nan")]])
    assert t.text_rows() == [["x", "50.00%"], ["y", "–"]]
    assert t.records() == [{"a": "x", "b": 0.5}, {"a": "y", "b": None}]
    assert type(t.records()[0]["b"]) is float


def test_build_report_refuses_parts_it_cannot_make(built):
    cfg = built.cfg
    with pytest.raises(HedgedeskError, match="report book: needs market data"):
        build_report(cfg, None, ReportRequest(("book",)))
    with pytest.raises(HedgedeskError, match="no optimisation request"):
        build_report(cfg, built.market, ReportRequest(("optimize",)))
    with pytest.raises(HedgedeskError, match="no backtest parameters"):
        build_report(cfg, built.market, ReportRequest(("backtest",)))
    with pytest.raises(HedgedeskError, match="no run ledger"):
        build_report(cfg, None, ReportRequest((f"sweep:{built.rec.id}",)))
    # a request built without parse_what: an unknown part is named, never read as a run
    with pytest.raises(HedgedeskError, match="report: unknown part 'books'"):
        build_report(cfg, built.market, ReportRequest(("books",)), built.ledger)


def test_a_sweep_only_report_needs_no_market(built):
    report = build_report(built.cfg, None, ReportRequest(("sweep:last",)), built.ledger)
    assert [s.key for s in report.sections] == [f"sweep:{built.rec.id}"]
    params = dict(report.parameters.rows)
    assert "data fingerprint" not in params and f"sweep run {built.rec.id}" in params


def test_a_sweep_only_report_is_titled_from_its_run(built):
    """Legs, hedge and the span of the legs' returns from the ledger's summary; a run made on
    the config's data names the run's data fingerprint (the config need not be the run's).
    """
    rec = built.rec
    report = build_report(built.cfg, None, ReportRequest(("sweep:last",)), built.ledger)
    first = min(leg.first_return for leg in rec.summary.legs)
    last = max(leg.last_return for leg in rec.summary.legs)
    assert report.title == (
        f"hedgedesk report: sweep run {rec.id}: AAPL, MSFT hedged with SP500, {first}..{last}, "
        f"data its desk config's (fingerprint {rec.fingerprint[:12]})"
    )
    assert built.cfg.book.name not in report.title
    assert "book" not in dict(report.parameters.rows)
    assert any("Sweep runs" in c for c in report.conventions)
    assert not any("Greeks" in c for c in report.conventions)  # the book's lines stay out
    assert built.report.title == f"hedgedesk report: {built.cfg.book.name}"


def test_one_run_named_twice_is_refused_or_kept_twice(built):
    req = ReportRequest(("sweep:last", f"sweep:{built.rec.id}"))
    try:
        report = build_report(built.cfg, None, req, built.ledger)
    except HedgedeskError as exc:
        assert "twice" in str(exc)
        return
    assert len(render.as_json(report)["sections"]) == len(report.sections)


# -- provenance --------------------------------------------------------------------------------
def test_provenance_digests(built, tmp_path):
    f = tmp_path / "x.toml"
    f.write_bytes(b"a = 1\n")
    assert file_digest(f) == hashlib.sha256(b"a = 1\n").hexdigest()[:16]
    assert re.fullmatch(r".+\+core\.[0-9a-f]{10}", code_version())
    m, d = built.market, built.cfg.data
    one = data_fingerprint(m, ["AAPL", "SP500"], d.start, d.end)
    assert one == data_fingerprint(m, ["SP500", "AAPL", "AAPL"], d.start, d.end)
    assert re.fullmatch(r"[0-9a-f]{16}", one)
    assert one != data_fingerprint(m, ["AAPL", "SP500"], d.start, m.get("AAPL").dates[-2])
    assert one != data_fingerprint(m, ["AAPL", "MSFT"], d.start, d.end)


# -- writing files -----------------------------------------------------------------------------
def tiny_report(title: str, figures: dict | None = None) -> Report:
    """A one-section report with a text, a table and a small chart: seconds cheaper than the
    desk's, for the file-writing tests.
    """
    fig = charts.curves([0, 1, 2, 3], {title: np.array([1.0, 1.2, 0.9, 1.4])}, title, "value")
    s = Section("book", f"Tiny {title}", figures=figures or {"n": 1})
    s.add(
        Text(f"Text of {title}."),
        Table("t", [Col("name"), Col("value", "money")], [["x", 1234.5]], caption="Tiny"),
        Chart("tiny_chart", fig, f"chart of {title}"),
    )
    params = Table("parameters", [Col("parameter"), Col("value")], [["title", title]])
    return Report(f"report {title}", params, [s], ["one convention"])


def _pdf_text(path: Path) -> str:
    pdf = pdfium.PdfDocument(str(path))
    try:
        return "\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    finally:
        pdf.close()


def test_writing_over_a_report_replaces_it_and_leaves_other_files_alone(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    notes = out / "notes.txt"
    notes.write_text("my notes\n")
    (out / "old_chart.png").write_bytes(b"not mine to delete")
    stamp = notes.stat().st_mtime_ns
    names = ("report.md", "report.pdf", "report.json", "tiny_chart.png")
    write_report(tiny_report("first"), out)
    first = {n: (out / n).read_bytes() for n in names}
    files = write_report(tiny_report("second"), out)
    assert {p.name for p in files.values()} == set(names)
    for n in names:
        assert (out / n).read_bytes() != first[n], n
    md = (out / "report.md").read_text()
    assert "# report second" in md and "first" not in md
    assert json.loads((out / "report.json").read_text())["title"] == "report second"
    assert "report second" in _pdf_text(out / "report.pdf")
    assert notes.read_text() == "my notes\n" and notes.stat().st_mtime_ns == stamp
    assert (out / "old_chart.png").read_bytes() == b"not mine to delete"
    assert sorted(p.name for p in out.iterdir()) == sorted([*names, "notes.txt", "old_chart.png"])


def test_a_render_failing_midway_leaves_the_previous_report_whole(tmp_path, monkeypatch):
    write_report(tiny_report("first"), tmp_path)
    before = {n: (tmp_path / n).read_bytes() for n in ("report.md", "report.pdf")}

    class HalfWritten:  # the PDF builder writes part of its file, then fails
        def output(self, path):
            Path(path).write_bytes(b"%PDF-1.7\n% half a file")
            raise OSError("disk full")

    monkeypatch.setattr(render, "_pdf", lambda report, charts: HalfWritten())
    with pytest.raises(HedgedeskError, match=f"report folder {tmp_path}: cannot write .*disk full"):
        write_report(tiny_report("second"), tmp_path)
    for n, data in before.items():
        assert (tmp_path / n).read_bytes() == data, n
    assert "report first" in _pdf_text(tmp_path / "report.pdf")
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_report_json_is_strict_json_when_a_figure_is_not_finite(tmp_path):
    write_report(tiny_report("nan", figures={"calmar": float("nan")}), tmp_path)

    def refuse(token):
        raise ValueError(f"not JSON: {token}")

    doc = json.loads((tmp_path / "report.json").read_text(), parse_constant=refuse)
    assert doc["sections"]["book"]["figures"]["calmar"] is None


# -- issue 18: P&L explained and Greeks by underlying in the book section ----------------------
def test_book_pnl_explained_is_the_engines(built, book):
    from hedgedesk.core.book.pnl import explain
    from hedgedesk.core.book.valuation import book_lines

    e = explain(built.cfg, built.market, book.state, book_lines(built.cfg))
    rows = table(book.body, f"P&L explained, {e.previous} to {e.asof}")
    assert [r["line"] for r in rows] == [
        *(p.line.name for p in e.lines),
        "total core",
        "total hedges",
        "total book",
    ]
    for r, p in zip(rows, e.lines, strict=False):
        assert r["day"] == fmt(p.day, "money") and r["since cost"] == fmt(p.since_cost, "money")
        for k, v in p.attribution().items():
            assert r[k] == fmt(v, "money")
    book_row = rows[-1]
    assert book_row["day"] == fmt(e.book.day, "money")
    assert book_row["unexplained"] == fmt(e.book.unexplained, "money")
    assert rows[-2]["since cost"] == "–"  # hedge legs carry no cost basis
    recs = built.json["sections"]["book"]["tables"]["pnl"]
    assert recs[-1]["day"] == pytest.approx(e.book.day)


def test_book_greeks_by_underlying_sum_to_the_book(built, book):
    rows = table(book.body, "Greeks by underlying")
    val = book.rep.valuation
    assert rows[-1]["underlying"] == "book"
    assert rows[-1]["delta $"] == fmt(val.total("dollar_delta"), "money")
    assert rows[-1]["gamma per 1 %"] == fmt(val.total("gamma_1pct_usd"), "money")
    sp = next(r for r in rows if r["underlying"] == "SP500")
    assert sp["lines"] == "ES short, SPX put 3400"
    parts = sum(number(r["beta $"]) for r in rows[:-1])
    assert parts == pytest.approx(val.total("beta_dollars"), abs=len(rows) * 0.5)
    near(rows[-1]["SP500 units"], val.total("beta_dollars") / book.state.closes["SP500"], "num2")


def test_book_pnl_without_a_previous_session_says_why(built, book, monkeypatch):
    from hedgedesk.core.errors import DataError
    from hedgedesk.core.report.book import _pnl

    def refuse(*args, **kwargs):
        raise DataError("SP500", "no session before 2022-12-28: the day P&L needs it")

    monkeypatch.setattr("hedgedesk.core.book.pnl.previous_closes", refuse)
    out = _pnl(built.cfg, built.market, book.state)
    assert isinstance(out, Text)
    assert out.text == "P&L explained: unavailable (SP500: no session before 2022-12-28: " + (
        "the day P&L needs it)"
    )

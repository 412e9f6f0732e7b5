"""The trade ticket (core/book/ticket.py) against independent recomputation.

Witnesses: each trade's edit is applied through the desk's BookEditor (the config loader parses
the edited book) and the book re-valued by ``risk_report`` from scratch, so beta and VaR after
come from the config, not from the ticket's own line list; the band's contract count is the
closed form worked here with plain floats; the weights' shares are checked against closes read
from the market here, within one share each; the CSV is read back with the csv module.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import math
from pathlib import Path

import pytest

from hedgedesk.core.book.edit import BookEditor
from hedgedesk.core.book.risk import risk_report
from hedgedesk.core.book.sizing import round_half_away
from hedgedesk.core.book.ticket import (
    BETA_BAND,
    CSV_HEADER,
    GROUPS,
    TARGETS,
    TO_WEIGHTS,
    BookEdit,
    apply_all,
    build_ticket,
    check_weights,
    csv_text,
    default_csv_path,
    read_weights,
    third_friday,
    write_csv,
)
from hedgedesk.core.book.valuation import market_state
from hedgedesk.core.config import load_config
from hedgedesk.core.data.sources import load_market
from hedgedesk.core.demo import demo_config_path
from hedgedesk.core.errors import HedgedeskError
from hedgedesk.core.instruments import CONTRACTS


@pytest.fixture(scope="module")
def market():
    return load_market(load_config(demo_config_path()))


@pytest.fixture
def demo(tmp_path):
    path = tmp_path / "desk.toml"
    path.write_text(Path(demo_config_path()).read_text())
    return load_config(path)


def editor_for(cfg, targets=None):
    if targets:
        cfg = dataclasses.replace(cfg, targets=dataclasses.replace(cfg.targets, **targets))
    return BookEditor(cfg)


def state_of(market):
    return lambda c: market_state(c, market)


def witness(cfg, market):
    """(beta, VaR 95, NAV) of ``cfg``'s book, by risk_report from scratch."""
    rep = risk_report(cfg, market_state(cfg, market))
    return rep.valuation.portfolio_beta, rep.var("historical", 0.95).var, rep.valuation.nav


def check_every_trade(ed, ticket, market):
    before = ed.config
    b, v, nav = witness(before, market)
    assert ticket.beta_before == pytest.approx(b, rel=1e-12)
    assert ticket.var95_before == pytest.approx(v, rel=1e-12)
    assert ticket.nav == pytest.approx(nav, rel=1e-12)
    for t in ticket.trades:
        cfg = t.edit.apply(ed)
        b, v, nav = witness(cfg, market)
        assert t.beta_after == pytest.approx(b, rel=1e-10, abs=1e-12), t
        assert t.var95_after == pytest.approx(v, rel=1e-10), t
        assert t.nav_after == pytest.approx(nav, rel=1e-12), t
        assert ed.undo() is not None
        assert ed.config.book == before.book


def test_demo_ticket_figures_equal_the_edited_books(demo, market):
    ed = editor_for(demo, {"beta": 0.8})  # beta 0.46: far below the band, futures to buy
    weights = {"AAPL": 0.30, "MSFT": 0.20, "JNJ": 0.25, "KO": 0.25}
    ticket = build_ticket(ed.config, state_of(market), weights=weights, weights_source="test")
    groups = {t.group for t in ticket.trades}
    assert groups == {TARGETS, TO_WEIGHTS, BETA_BAND}
    es = ticket.group(TARGETS)[0]
    assert es.instrument.startswith("ES") and es.side == "buy" and es.unit == "contracts"
    assert es.edit.name == "ES short"  # added to the book's ES leg (-2 + 2: deleted)
    assert es.edit.op == ("delete" if es.quantity == 2 else "set_quantity")
    check_every_trade(ed, ticket, market)


def closes(market, tickers, asof):
    out = {}
    for t in tickers:
        s = market.get(t)
        assert s.dates[-1].astype(dt.date) == asof  # the demo's series end on the as-of date
        out[t] = float(s.close[-1])
    return out


def test_weights_trades_reproduce_the_weights_within_one_share(demo, market):
    weights = {"AAPL": 0.30, "MSFT": 0.20, "JNJ": 0.25, "KO": 0.25}
    ticket = build_ticket(demo, state_of(market), weights=weights)
    held = {h.ticker: h.quantity for h in demo.book.holdings}
    px = closes(market, [*held, "JNJ"], ticket.asof)
    value = sum(q * px[t] for t, q in held.items())  # the holdings' value, summed here
    shares = dict(held)
    for t in ticket.group(TO_WEIGHTS):
        shares[t.instrument] = shares.get(t.instrument, 0) + (
            t.quantity if t.side == "buy" else -t.quantity
        )
        assert t.notional_usd == pytest.approx(t.quantity * px[t.instrument], rel=1e-12)
    for ticker, q in shares.items():
        want = weights.get(ticker, 0.0) * value
        assert abs(q * px[ticker] - want) <= px[ticker] / 2 + 1e-6, ticker
    sold = {t.instrument for t in ticket.group(TO_WEIGHTS) if t.edit.op == "delete"}
    assert sold == set(held) - set(weights)  # held, not in the weights: sold in full
    added = [t for t in ticket.group(TO_WEIGHTS) if t.edit.op == "add_holding"]
    assert [t.instrument for t in added] == ["JNJ"]


@pytest.mark.parametrize("target", [0.8, 0.2, -0.3, 0.7])
def test_band_futures_land_in_band_by_the_closed_form(demo, market, target):
    ed = editor_for(demo, {"beta": target})
    cfg = ed.config
    ticket = build_ticket(cfg, state_of(market))
    (t,) = ticket.group(BETA_BAND)
    b, nav = ticket.beta_before, ticket.nav
    lo, hi = target - 0.05, target + 0.05
    edge = lo if b < lo else hi
    code = t.inputs["priced_from"] and t.instrument.split()[0]
    price = market.get("SP500").close[-1]  # ES and MES are priced from SP500 (demo [proxies])
    beta_f = 1.0  # the benchmark's own beta
    per = price * CONTRACTS[code].multiplier
    n = (edge - b) * nav / (per * beta_f)
    n = int(math.copysign(math.ceil(abs(n)), n))
    assert (t.quantity if t.side == "buy" else -t.quantity) == n
    assert lo <= t.beta_after <= hi
    assert code == ("MES" if target == 0.7 else "ES")
    if code == "MES":  # ES jumps over the band (one ES moves beta ~0.15 > 0.10)
        es = price * 50 / nav
        n_es = math.ceil(abs((edge - b) / es))
        assert not lo <= b + math.copysign(n_es, edge - b) * es <= hi
    check_every_trade(ed, ticket, market)


def test_no_band_trade_inside_the_band(demo, market):
    ticket = build_ticket(demo, state_of(market))  # demo beta 0.459 in 0.45..0.55
    assert ticket.group(BETA_BAND) == []
    assert "to weights: no optimiser weights given" in ticket.notes


def test_new_option_leg_when_the_book_has_none(demo, market):
    ed = BookEditor(demo)
    ed.delete("hedge", 2)
    ed.delete("hedge", 1)  # no options left: the plan's put and call need new legs
    ticket = build_ticket(ed.config, state_of(market))
    opts = [t for t in ticket.group(TARGETS) if t.edit.op == "add_hedge"]
    assert {t.edit.leg.right for t in opts} == {"put", "call"}
    for t in opts:
        leg = t.edit.leg
        assert leg.expiry == dt.date(2023, 3, 17)  # third Friday, 3 months after 2022-12-28
        assert leg.strike == round(market.get(leg.underlying).close[-1], 2)
    check_every_trade(ed, ticket, market)


def test_a_trade_applies_once(demo, market):
    ed = BookEditor(demo)
    ticket = build_ticket(demo, state_of(market), weights={"AAPL": 1.0})
    t = ticket.group(TO_WEIGHTS)[0]
    t.edit.apply(ed)
    with pytest.raises(HedgedeskError, match="make the ticket again"):
        t.edit.apply(ed)


def test_third_friday():
    assert third_friday(dt.date(2022, 12, 28), 3) == dt.date(2023, 3, 17)
    assert third_friday(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 16)
    assert third_friday(dt.date(2024, 10, 1), 3) == dt.date(2025, 1, 17)


def test_csv_header_quoting_and_read_back(demo, market, tmp_path):
    ticket = build_ticket(demo, state_of(market), weights={"AAPL": 0.5, "KO": 0.5})
    text = csv_text(ticket)
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_HEADER
    assert len(rows) == 1 + len(ticket.trades)
    for row, t in zip(rows[1:], ticket.trades, strict=True):
        assert row[0] == t.group and row[1] == t.instrument and int(row[3]) == t.quantity
        assert float(row[5]) == pytest.approx(t.notional_usd, abs=0.005)
        assert float(row[6]) == pytest.approx(t.beta_after, abs=5e-7)
        assert float(row[7]) == pytest.approx(t.var95_after, abs=5e-7)
        assert row[8] == t.purpose  # commas in it: quoted, read back whole
    assert any("," in t.purpose for t in ticket.trades)
    out = write_csv(ticket, tmp_path / "sub" / "t.csv")
    assert out.read_bytes().decode() == text
    assert default_csv_path(demo, ticket.asof) == demo.path.with_name(
        f"desk-ticket-{ticket.asof}.csv"
    )


def test_read_weights_file_forms_and_errors(tmp_path):
    plain = tmp_path / "w.json"
    plain.write_text(json.dumps({"AAPL": 0.6, "KO": 0.4}))
    assert read_weights(plain) == {"AAPL": 0.6, "KO": 0.4}
    opt = tmp_path / "opt.json"
    opt.write_text(json.dumps({"objective": "max-sharpe", "weights": {"MSFT": 1.0}}))
    assert read_weights(opt) == {"MSFT": 1.0}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"AAPL": "lots"}))
    with pytest.raises(HedgedeskError, match=r"bad.json.AAPL: got 'lots', expected a number"):
        read_weights(bad)
    with pytest.raises(HedgedeskError, match="file not found"):
        read_weights(tmp_path / "missing.json")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(HedgedeskError, match="expected an object"):
        read_weights(tmp_path / "list.json")
    with pytest.raises(HedgedeskError, match=r"weights\.X: got inf"):
        check_weights({"X": float("inf")})
    with pytest.raises(HedgedeskError, match="within"):
        check_weights({"X": 50})


def test_weights_trades_applied_one_by_one_reach_the_weights(demo, market):
    """Each remade ticket keeps the first one's holdings value (as the Trades screen does), so
    applying the group's first trade again and again ends with no weights trade left.
    """
    weights = {"AAPL": 0.30, "MSFT": 0.20, "JNJ": 0.25, "KO": 0.25}
    ed = BookEditor(demo)
    first = build_ticket(demo, state_of(market), weights=weights)
    n = len(first.group(TO_WEIGHTS))
    ticket = first
    for _ in range(n):
        ticket.group(TO_WEIGHTS)[0].edit.apply(ed)
        ticket = build_ticket(
            ed.config, state_of(market), weights=weights, holdings_value=first.holdings_value
        )
    assert ticket.group(TO_WEIGHTS) == []
    value = first.holdings_value
    want = {t: round_half_away(w * value / market.get(t).close[-1]) for t, w in weights.items()}
    assert {h.ticker: h.quantity for h in ed.config.book.holdings} == want


@pytest.mark.parametrize("drop_options", [False, True])
def test_each_group_applied_together_is_one_step_and_equals_group_after(demo, market, drop_options):
    ed = editor_for(demo, {"beta": 0.8})
    if drop_options:  # the plan's put and call then add new legs
        ed.delete("hedge", 2)
        ed.delete("hedge", 1)
    weights = {"AAPL": 0.30, "MSFT": 0.20, "JNJ": 0.25, "PEP": 0.25}
    ticket = build_ticket(ed.config, state_of(market), weights=weights)
    before = ed.config
    assert set(ticket.group_after) == set(GROUPS)
    for g in GROUPS:
        cfg = apply_all(ed, [t.edit for t in ticket.group(g)])
        b, v, nav = witness(cfg, market)
        assert ticket.group_after[g] == pytest.approx((b, v, nav), rel=1e-10), g
        ed.undo()  # one step undoes the whole group
        assert ed.config.book == before.book
    cfg = apply_all(ed, [t.edit for t in ticket.group(TO_WEIGHTS)])
    value = ticket.holdings_value
    want = {t: round_half_away(w * value / market.get(t).close[-1]) for t, w in weights.items()}
    assert {h.ticker: h.quantity for h in cfg.book.holdings} == want


def test_apply_all_adds_up_changes_to_one_row_and_refuses_stale_rows(demo):
    ed = BookEditor(demo)  # hedge 0: "ES short", -2 contracts
    one = BookEdit("set_quantity", "hedge", "ES short", 0, -2, -1)  # +1
    two = BookEdit("delete", "hedge", "ES short", 0, -2)  # +2
    cfg = apply_all(ed, [one, two])
    assert cfg.book.hedges[0].name == "ES short" and cfg.book.hedges[0].quantity == 1
    with pytest.raises(HedgedeskError, match="make the ticket again"):
        apply_all(ed, [one])
    assert ed.config.book == cfg.book
    ed.undo()
    cfg = apply_all(ed, [BookEdit("delete", "hedge", "ES short", 0, -2)])
    assert "ES short" not in {leg.name for leg in cfg.book.hedges}


def test_band_no_contract_lands_in_proposes_nearest_the_target(demo, market):
    ed = editor_for(demo, {"beta": 0.7, "beta_band": 0.0001})
    ticket = build_ticket(ed.config, state_of(market))
    (t,) = ticket.group(BETA_BAND)
    price = market.get("SP500").close[-1]
    n = round_half_away((0.7 - ticket.beta_before) * ticket.nav / (price * 50))
    assert t.instrument.startswith("ES ") and t.quantity == abs(n)
    assert "aimed at the target 0.70" in t.purpose
    assert any("no whole ES or MES contract lands in" in x for x in ticket.notes)
    check_every_trade(ed, ticket, market)

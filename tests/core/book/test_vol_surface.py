"""Implied-vol surfaces (core/book/vol_surface.py) and legs priced from them.

Witnesses: a synthetic chain whose quotes are Black-Scholes-Merton prices (the closed form in
tests/witness.py) of a known smile, so the surface must give back that smile at the quoted
strikes, the forward S exp((r - q) T) from put-call parity, and the stated interpolation
rules computed here by hand; a put's P&L under a skew shock against the closed form at the
shifted vol; and on ../shared/data/options/SPX_2018.csv (skipped when absent) every used quote
repriced within its bid-ask spread.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hedgedesk.core.book.options import implied_vol
from hedgedesk.core.book.risk import risk_report
from hedgedesk.core.book.scenarios import run_scenario
from hedgedesk.core.book.valuation import (
    MIN_SHOCKED_VOL,
    Line,
    MarketState,
    book_lines,
    market_state,
    shocked_vol,
    value_book,
    value_lines,
)
from hedgedesk.core.book.vol_surface import (
    MAX_CHAIN_AGE_DAYS,
    black76_implied_vols,
    build_surface,
    reprice_check,
    surface_for,
)
from hedgedesk.core.config import Scenario, load_config
from hedgedesk.core.data.option_chains import ChainQuote, OptionChain, parse_chains, read_chains
from hedgedesk.core.data.sources import load_market
from hedgedesk.core.errors import ConfigError, DataError
from tests.witness import bsm

SPX = Path(__file__).resolve().parents[4] / "shared" / "data" / "options" / "SPX_2018.csv"
QUOTED = dt.date(2024, 3, 1)
EXPIRIES = (dt.date(2024, 3, 29), dt.date(2024, 5, 31))


def true_vol(k: float) -> float:
    """The smile the synthetic chain is quoted from: skewed down, smiling up."""
    return 0.22 - 0.25 * k + 0.6 * k * k


def chain_rows(
    underlying="AAA", quoted=QUOTED, spot=100.0, rate=0.03, div=0.01, expiries=EXPIRIES
) -> list[str]:
    """Generic-layout CSV rows: calls and puts at strikes 70..130 priced by the closed form at
    ``true_vol(ln(K/F))``, half-spread max(0.02, 1 % of the price); a bid under 0.01 is 0.
    """
    rows = ["underlying,quote_date,expiry,type,strike,bid,ask,underlying_price"]
    for expiry in expiries:
        t = (expiry - quoted).days / 365
        fwd = spot * math.exp((rate - div) * t)
        for strike in range(70, 131, 5):
            v = true_vol(math.log(strike / fwd))
            for right in ("call", "put"):
                p = float(bsm(right, spot, strike, t, rate, div, v)["price"])
                half = max(0.02, 0.01 * p)
                bid = p - half if p - half >= 0.01 else 0.0
                rows.append(
                    f"{underlying},{quoted},{expiry},{right},{strike},{bid!r},{p + half!r},{spot}"
                )
    return rows


def synthetic_chain(**kw) -> OptionChain:
    (chain,) = parse_chains("\n".join(chain_rows(**kw)), "synthetic.csv")
    return chain


# -- implied vols ----------------------------------------------------------------------------
def test_vectorised_implied_vols_match_the_scalar_solver():
    rng = np.random.default_rng(3)
    f = rng.uniform(50, 150, 40)
    k = rng.uniform(50, 150, 40)
    t = rng.uniform(0.02, 2.0, 40)
    v = rng.uniform(0.05, 1.2, 40)
    rights = np.where(rng.random(40) < 0.5, "call", "put")
    prices = np.array(
        [
            bsm(r, fi * math.exp(-0.02 * ti), ki, ti, 0.02, 0.0, vi)["price"]
            for r, fi, ki, ti, vi in zip(rights, f, k, t, v, strict=True)
        ]
    )
    ours = black76_implied_vols(prices, rights, f, k, t, 0.02)
    theirs = implied_vol(prices, rights, f, k, t, 0.02, model="black76")
    np.testing.assert_allclose(ours, v, rtol=1e-7)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)


def test_a_price_outside_the_no_arbitrage_bounds_has_no_implied_vol():
    # call under intrinsic (F - K discounted), put over the discounted strike
    out = black76_implied_vols([9.0, 101.0], ["call", "put"], [110.0, 90.0], [100.0, 100.0], 0.5, 0)
    assert np.isnan(out).all()


# -- the synthetic chain ---------------------------------------------------------------------
def test_surface_gives_back_the_quoted_smile_and_the_parity_forward():
    surf = build_surface(synthetic_chain(), rate=0.03)
    assert [s.expiry for s in surf.smiles] == list(EXPIRIES)
    for s in surf.smiles:
        fwd = 100.0 * math.exp(0.02 * s.t)
        assert s.forward == pytest.approx(fwd, rel=1e-9)
        assert s.forward_source == "put-call parity"
        # out of the money only: puts below the forward, calls at or above it
        assert all((r == "put") == (k < fwd) for r, k in zip(s.rights, s.strikes, strict=True))
        want = [true_vol(math.log(k / fwd)) for k in s.strikes]
        np.testing.assert_allclose(s.vols, want, rtol=1e-8)
        for k, v in zip(s.strikes, want, strict=True):
            assert surf.vol(k, s.expiry) == pytest.approx(v, rel=1e-8)
    assert surf.counts == {**expected_counts(), "quoted": 52}


def expected_counts(rows=None) -> dict:
    """Counts of the synthetic rows, made here: zero bid, else in the money, else used."""
    c = dict.fromkeys(("used", "expired", "zero_bid", "crossed", "in_the_money"), 0)
    for row in (rows or chain_rows())[1:]:
        _, quoted, expiry, right, strike, bid, _, _ = row.split(",")
        t = (dt.date.fromisoformat(expiry) - dt.date.fromisoformat(quoted)).days / 365
        fwd = 100 * math.exp(0.02 * t)
        if float(bid) == 0:
            c["zero_bid"] += 1
        elif (right == "put") != (float(strike) < fwd):
            c["in_the_money"] += 1
        else:
            c["used"] += 1
    return {**c, "no_implied_vol": 0}


def test_strike_interpolation_is_linear_in_total_variance_against_log_moneyness():
    surf = build_surface(synthetic_chain(), rate=0.03)
    s = surf.smiles[0]
    k1, k2 = math.log(100 / s.forward), math.log(105 / s.forward)
    w1, w2 = true_vol(k1) ** 2 * s.t, true_vol(k2) ** 2 * s.t
    strike = 102.0
    k = math.log(strike / s.forward)
    w = w1 + (w2 - w1) * (k - k1) / (k2 - k1)
    assert surf.vol(strike, s.expiry) == pytest.approx(math.sqrt(w / s.t), rel=1e-8)


def test_beyond_the_quoted_strikes_the_vol_is_flat_not_extended():
    surf = build_surface(synthetic_chain(), rate=0.03)
    s = surf.smiles[0]
    low, high = float(s.vols[0]), float(s.vols[-1])
    for strike in (40.0, 60.0, 69.0):
        assert surf.vol(strike, s.expiry) == pytest.approx(low, rel=1e-12)
    for strike in (131.0, 200.0, 1000.0):
        assert surf.vol(strike, s.expiry) == pytest.approx(high, rel=1e-12)


def test_between_expiries_total_variance_is_linear_in_time_at_the_strike():
    surf = build_surface(synthetic_chain(), rate=0.03)
    a, b = surf.smiles
    strike, expiry = 97.0, dt.date(2024, 4, 26)
    t = (expiry - QUOTED).days / 365
    wa, wb = float(a.vol(strike)) ** 2 * a.t, float(b.vol(strike)) ** 2 * b.t
    w = wa + (wb - wa) * (t - a.t) / (b.t - a.t)
    assert surf.vol(strike, expiry) == pytest.approx(math.sqrt(w / t), rel=1e-12)
    # outside the expiry range: that expiry's vol at the strike (flat in T), and said so
    assert surf.vol(strike, dt.date(2024, 3, 8)) == pytest.approx(float(a.vol(strike)))
    assert surf.vol(strike, dt.date(2025, 3, 1)) == pytest.approx(float(b.vol(strike)))
    assert surf.label_for(expiry) == "the AAA chain quoted 2024-03-01"
    assert surf.label_for(dt.date(2024, 3, 8)).endswith(", flat before its first expiry 2024-03-29")
    assert surf.label_for(dt.date(2025, 3, 1)).endswith(", flat beyond its last expiry 2024-05-31")


def test_zero_bid_crossed_and_expired_quotes_are_skipped_and_counted():
    rows = chain_rows()
    rows.append("AAA,2024-03-01,2024-03-29,call,250,0,0.05,100")  # zero bid
    rows.append("AAA,2024-03-01,2024-03-29,call,240,0.3,0.2,100")  # crossed
    rows.append("AAA,2024-03-01,2024-03-01,put,100,1.0,1.2,100")  # expires on its quote date
    rows.append("AAA,2024-03-01,2024-03-29,call,230,0.01,0.02,100")  # mid above the forward
    (chain,) = parse_chains("\n".join(rows), "x.csv")
    c = build_surface(chain, rate=0.03).counts
    want = expected_counts()
    assert c["zero_bid"] == want["zero_bid"] + 1 and c["zero_bid"] > 1  # the wings' too
    assert (c["crossed"], c["expired"]) == (1, 1)
    assert c["used"] == want["used"] + 1


def test_forward_from_the_spot_without_a_parity_pair_and_an_error_without_a_spot():
    calls = [r for r in chain_rows(expiries=EXPIRIES[:1]) if ",put," not in r]
    (chain,) = parse_chains("\n".join(calls), "calls.csv")
    s = build_surface(chain, rate=0.03, div_yield=0.01).smiles[0]
    assert s.forward_source == "spot"
    assert s.forward == pytest.approx(100 * math.exp(0.02 * s.t), rel=1e-12)
    no_spot = [r.rsplit(",", 1)[0] + "," for r in calls]
    (chain,) = parse_chains("\n".join(no_spot), "calls.csv")
    with pytest.raises(DataError, match="underlying_price column"):
        build_surface(chain)


def test_a_chain_with_nothing_usable_is_an_error_naming_the_chain():
    chain = OptionChain("AAA", QUOTED, 100.0, (ChainQuote(QUOTED, "call", 100, 1, 2),), "f.csv")
    with pytest.raises(DataError, match=r"f.csv \(AAA quoted 2024-03-01\).*1 expired"):
        build_surface(chain)


def test_repricing_the_synthetic_chain_from_its_surface_lands_within_every_spread():
    check = reprice_check([build_surface(synthetic_chain(), rate=0.03)])
    used = expected_counts()["used"]
    assert check.quotes == used and check.within == used and check.share == 1.0
    assert check.worst_miss < 1e-9
    # interior quotes priced from their two neighbours: none on the wings' ends
    assert check.left_out == used - 2 * len(EXPIRIES)
    assert 0 < check.left_out_within <= check.left_out


def test_surface_for_takes_the_latest_chain_on_or_before_the_asof_date():
    chains = [synthetic_chain(quoted=d) for d in (dt.date(2024, 2, 27), dt.date(2024, 3, 1))]
    chains.append(synthetic_chain(quoted=dt.date(2024, 3, 5)))  # after the as-of date: ignored
    surf = surface_for(chains, "AAA", dt.date(2024, 3, 4), MAX_CHAIN_AGE_DAYS, 0.03)
    assert surf.quote_date == dt.date(2024, 3, 1)
    with pytest.raises(DataError, match="no option chain quoted on or before"):
        surface_for(chains, "AAA", dt.date(2024, 2, 1), MAX_CHAIN_AGE_DAYS, 0.03)
    late = dt.date(2024, 3, 1) + dt.timedelta(days=MAX_CHAIN_AGE_DAYS + 1)
    with pytest.raises(DataError, match=rf"6 days older .* \(at most {MAX_CHAIN_AGE_DAYS}\)"):
        surface_for(chains[:2], "AAA", late, MAX_CHAIN_AGE_DAYS, 0.03)


def test_a_chain_expiring_on_its_quote_date_is_passed_over_for_the_one_before():
    day = dt.date(2024, 3, 29)
    rows = [r.replace(f"{QUOTED}", f"{day}", 1) for r in chain_rows(expiries=(day,))]
    (last,) = parse_chains("\n".join(rows), "last.csv")  # quoted on its only expiry day
    assert last.quote_date == day
    chains = [synthetic_chain(), last]
    surf = surface_for(chains, "AAA", dt.date(2024, 3, 29), 30, 0.03)
    assert surf.quote_date == QUOTED


# -- the SPX file --------------------------------------------------------------------------------
@pytest.mark.skipif(not SPX.exists(), reason="../shared/data is not here")
def test_every_used_spx_quote_reprices_within_its_spread():
    surfaces, failed = [], []
    for chain in read_chains(SPX):
        try:
            surfaces.append(build_surface(chain))
        except DataError as exc:
            failed.append((chain.quote_date, exc.problem))
    # 2018-01-31 and 2018-02-28 quote only the expiry of that day: no time value left
    assert [d for d, _ in failed] == [dt.date(2018, 1, 31), dt.date(2018, 2, 28)]
    check = reprice_check(surfaces)
    assert check.quotes == 5319
    assert check.within == check.quotes
    assert check.worst_miss < 1e-6
    assert check.left_out_within / check.left_out > 0.99


# -- legs priced from the surface ------------------------------------------------------------
def prices_frame(n=200, seed=5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rm = rng.normal(0.0003, 0.011, n)
    return pd.DataFrame(
        {
            "IDX": 4000 * np.cumprod(1 + rm),
            "AAA": 100 * np.cumprod(1 + 1.2 * rm + rng.normal(0, 0.009, n)),
        },
        index=pd.bdate_range("2021-06-01", periods=n),
    ).round(4)


LEGS = """
[book]
cash = 100000.0
[[book.holdings]]
ticker = "AAA"
quantity = 500
[[book.hedges]]
name = "surface put"
instrument = "option"
underlying = "AAA"
right = "put"
strike = 95
expiry = "{expiry}"
quantity = 4
[[book.hedges]]
name = "typed put"
instrument = "option"
underlying = "AAA"
right = "put"
strike = 95
expiry = "{expiry}"
quantity = 4
volatility = 0.3
"""


def desk(tmp_path: Path, chain_days_before: int = 0, extra: str = "", ticker_map: str = ""):
    prices = prices_frame()
    prices.to_csv(tmp_path / "prices.csv", index_label="date")
    asof = prices.index[-1].date()
    spot = float(prices["AAA"].iloc[-1])
    quoted = asof - dt.timedelta(days=chain_days_before)
    expiries = (asof + dt.timedelta(days=28), asof + dt.timedelta(days=91))
    name = "AAAOPT" if ticker_map else "AAA"
    rows = chain_rows(underlying=name, quoted=quoted, spot=spot, rate=0.02, expiries=expiries)
    (tmp_path / "chain.csv").write_text("\n".join(rows), encoding="utf-8")
    path = tmp_path / "desk.toml"
    path.write_text(
        '[data]\nsource = "files"\npaths = ["prices.csv"]\nbenchmark = "IDX"\n'
        f'option_chains = ["chain.csv"]\n{ticker_map}'
        "[risk]\nrate = 0.02\nbeta_window = 80\nvar_window = 150\n[targets]\nbeta = 0.3\n"
        + LEGS.format(expiry=asof + dt.timedelta(days=60))
        + extra,
        encoding="utf-8",
    )
    cfg = load_config(path)
    return cfg, market_state(cfg, load_market(cfg)), quoted


def test_a_leg_without_volatility_is_priced_at_the_surface_vol_and_says_so(tmp_path):
    cfg, state, quoted = desk(tmp_path, chain_days_before=2)
    val = value_book(cfg, state)
    surf, typed = val.positions[1], val.positions[2]
    want = state.surfaces["AAA"].vol(95.0, surf.line.expiry)
    assert surf.line.vol == pytest.approx(want)
    assert f"vol {want * 100:.1f} % from the AAA chain quoted {quoted} (surface)" in (
        surf.line.price_note()
    )
    t = (surf.line.expiry - state.asof).days / 365
    s = state.closes["AAA"]
    # the chain was quoted with a 1 % dividend yield: the leg takes it from the forwards
    assert surf.line.div == pytest.approx(0.01, rel=1e-6) and surf.line.div_implied
    assert "; dividend yield 1.00 % implied by its forwards" in surf.line.price_note()
    assert surf.unit_price == pytest.approx(
        bsm("put", s, 95, t, 0.02, surf.line.div, want)["price"]
    )
    # the typed vol is an explicit override, labelled as before
    assert typed.line.vol == 0.3 and "(modelled, not a quote)" in typed.line.price_note()
    assert typed.unit_price == pytest.approx(bsm("put", s, 95, t, 0.02, 0.0, 0.3)["price"])
    # the risk history reprices the surface leg at its surface vol too
    rep = risk_report(cfg, state)
    assert np.isfinite(rep.book_returns).all()


def test_chain_tickers_maps_a_chain_onto_the_market_ticker(tmp_path):
    cfg, state, _ = desk(tmp_path, ticker_map='chain_tickers = { AAAOPT = "AAA" }\n')
    assert cfg.data.chain_tickers == {"AAAOPT": "AAA"}
    assert state.surfaces["AAA"].underlying == "AAAOPT"
    note = value_book(cfg, state).positions[1].line.price_note()
    assert "from the AAAOPT chain quoted" in note


def test_a_stale_chain_is_refused_with_the_age_and_the_limit(tmp_path):
    cfg, state, _ = desk(tmp_path, chain_days_before=MAX_CHAIN_AGE_DAYS + 3)
    with pytest.raises(DataError, match=r"surface put: .*stale") as err:
        value_book(cfg, state)
    assert f"at most {MAX_CHAIN_AGE_DAYS}" in str(err.value)
    # a book whose legs all carry a volatility does not need the chain
    typed = [ln for ln in book_lines(cfg) if ln.name != "surface put"]
    assert value_book(cfg, state, typed).nav > 0


def test_a_leg_without_volatility_and_without_a_chain_names_what_to_add(tmp_path):
    cfg, state, _ = desk(tmp_path)
    lines = [ln for ln in book_lines(cfg) if ln.name != "typed put"]
    bare = MarketState(
        state.asof, state.benchmark, state.closes, state.betas, 80, state.returns, 0.02, 252
    )
    with pytest.raises(DataError, match=r"no implied volatility.*\[data\] option_chains"):
        value_lines(lines, bare, 1e5)


# -- skew shocks -------------------------------------------------------------------------------
def test_a_puts_pnl_under_a_skew_shock_is_the_closed_form_at_the_shifted_vol():
    asof = dt.date(2024, 3, 1)
    state = MarketState(
        asof, "AAA", {"AAA": 100.0}, {"AAA": 1.0}, 252, pd.DataFrame({"AAA": [0.01]}), 0.03, 252
    )
    expiry = asof + dt.timedelta(days=73)
    put = Line(
        "put",
        "option",
        "AAA",
        2,
        100.0,
        right="put",
        strike=90.0,
        expiry=expiry,
        vol=0.25,
        div=0.01,
    )
    t = 73 / 365
    k = math.log(90.0 / (100.0 * math.exp((0.03 - 0.01) * t)))
    before = value_lines([put], state, 0.0).nav
    after = value_lines([put], state, 0.0, vol_shift=0.02, skew=-0.5).nav
    v = 0.25 + 0.02 - 0.5 * k  # k < 0: the put's vol rises by more than the parallel shift
    base = bsm("put", 100, 90, t, 0.03, 0.01, 0.25)["price"]
    shifted = bsm("put", 100, 90, t, 0.03, 0.01, v)["price"]
    assert after - before == pytest.approx(200 * (shifted - base), rel=1e-10)
    # floored as every shocked vol
    assert shocked_vol(0.05, -0.2, 1.0, 0.01) == MIN_SHOCKED_VOL
    assert shocked_vol(0.3) == 0.3


def test_a_skew_scenario_moves_the_surface_leg_and_the_typed_leg_by_their_moneyness(tmp_path):
    cfg, state, _ = desk(tmp_path)
    s = Scenario("tilt", market=0.0, vol=0.01, skew=-0.8)
    res = run_scenario(cfg, state, s)
    t = (cfg.book.hedges[0].expiry - state.asof).days / 365
    spot = state.closes["AAA"]
    v0 = state.surfaces["AAA"].vol(95.0, cfg.book.hedges[0].expiry)
    q0 = state.surfaces["AAA"].implied_dividend(cfg.book.hedges[0].expiry)
    for name, vol, q in (("surface put", v0, q0), ("typed put", 0.3, 0.0)):
        k = math.log(95 / (spot * math.exp((0.02 - q) * t)))
        base = bsm("put", spot, 95, t, 0.02, q, vol)["price"]
        moved = bsm("put", spot, 95, t, 0.02, q, vol + 0.01 - 0.8 * k)["price"]
        assert res.line_pnl[name] == pytest.approx(400 * (moved - base), rel=1e-9)


def test_scenario_skew_is_read_from_the_config_and_bounded(tmp_path):
    extra = '[[scenarios]]\nname = "tilt"\nvol = 0.05\nskew = -0.5\n'
    cfg, _, _ = desk(tmp_path, extra=extra)
    assert cfg.scenarios[0].skew == -0.5 and cfg.scenarios[0].vol == 0.05
    text = (tmp_path / "desk.toml").read_text().replace("skew = -0.5", "skew = 9")
    (tmp_path / "desk.toml").write_text(text)
    with pytest.raises(ConfigError, match=r"scenarios\[0\]\.skew"):
        load_config(tmp_path / "desk.toml")


SP500 = SPX.parents[1] / "index" / "SP500.csv"
SPX_DESK = """
[data]
source = "files"
paths = ["{prices}"]
benchmark = "SP500"
end = "2018-02-21"
option_chains = ["{chain}"]
chain_tickers = {{ SPXW = "SP500" }}
[risk]
beta_window = 60
var_window = 100
[targets]
beta = 0.5
[book]
cash = 1000000.0
"""


@pytest.mark.skipif(not (SPX.exists() and SP500.exists()), reason="../shared/data is not here")
def test_spx_legs_priced_from_the_surface_land_within_the_quotes_spread(tmp_path):
    """A leg on the S&P 500 close for each used strike of the 2018-02-21 chain prices within
    that quote's bid and ask (the book's close is not the chain's spot: 2701.33 vs 2701.39).
    """
    path = tmp_path / "desk.toml"
    path.write_text(SPX_DESK.format(prices=SP500, chain=SPX), encoding="utf-8")
    cfg = load_config(path)
    state = market_state(cfg, load_market(cfg))
    surf = state.surfaces["SP500"]
    assert surf.quote_date == state.asof == dt.date(2018, 2, 21)
    (smile,) = surf.smiles
    lines = [
        Line(
            f"{r} {k:g}", "option", "SP500", 1, 100.0, right=r, strike=float(k), expiry=smile.expiry
        )
        for r, k in zip(smile.rights, smile.strikes, strict=True)
    ]
    val = value_lines(lines, state, 1e6)
    inside = [
        b <= p.unit_price <= a
        for p, b, a in zip(val.positions, smile.bids, smile.asks, strict=True)
    ]
    assert len(inside) == 133 and all(inside)

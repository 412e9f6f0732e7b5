"""The hedge overlay (core/optimize/hedge_overlay.py) against independent witnesses.

Witnesses: the book's daily P&L rebuilt here by a plain loop from prices and returns (options
repriced with the closed-form Black-Scholes-Merton of tests/witness.py one calendar day on); the
closed-form minimum-variance hedge ratio ``-cov(core, hedge) / var(hedge)``; band-edge and
budget-edge sizes solved by hand; CVaR by brute force over a grid of two hedge sizes, each point
minimised over the Rockafellar-Uryasev threshold by a scan of the observed losses; VaR/CVaR
from the CONVENTIONS formulas with numpy. The market is synthetic (seeded) except the last
test, which runs the demo desk end to end.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hedgedesk.core.book.valuation import Line, MarketState, market_state
from hedgedesk.core.config import load_config, parse_config, resolve_config_path
from hedgedesk.core.data.sources import load_market
from hedgedesk.core.errors import HedgedeskError
from hedgedesk.core.instruments import EQUITY, FUTURE, OPTION
from hedgedesk.core.optimize.hedge_overlay import Candidate, default_candidates, hedge_overlay
from hedgedesk.core.optimize.problem import OptimizationError
from tests.witness import bsm

ASOF = dt.date(2022, 3, 1)
CLOSES = {"IDX": 4000.0, "AAA": 150.0, "BBB": 60.0, "ETF2": 400.0}
RATE = 0.03
CASH = 100_000.0
HOLDINGS = {"AAA": 4000.0, "BBB": 6000.0}

BASE = f"""
[data]
benchmark = "IDX"
[risk]
rate = {RATE}
[targets]
beta = 0.5
beta_band = 0.05
[proxies]
ES = {{ underlying = "IDX" }}
[book]
cash = {CASH}
[[book.holdings]]
ticker = "AAA"
quantity = {HOLDINGS["AAA"]}
[[book.holdings]]
ticker = "BBB"
quantity = {HOLDINGS["BBB"]}
"""

HEDGES = """
[[book.hedges]]
name = "ES short"
instrument = "future"
contract = "ES"
underlying = "IDX"
quantity = -2
[[book.hedges]]
name = "IDX put 3600"
instrument = "option"
right = "put"
underlying = "IDX"
strike = 3600
expiry = "2022-06-17"
quantity = 1
volatility = 0.22
dividend_yield = 0.015
[[book.hedges]]
name = "AAA call 160"
instrument = "option"
right = "call"
underlying = "AAA"
strike = 160
expiry = "2022-04-14"
quantity = -10
volatility = 0.30
"""

# the hedge legs above, as the witness sees them: kind, ticker, multiplier, option terms
SPECS = {
    "ES short": dict(kind=FUTURE, ticker="IDX", mult=50.0),
    "IDX put 3600": dict(
        kind=OPTION,
        ticker="IDX",
        mult=100.0,
        right="put",
        strike=3600.0,
        expiry=dt.date(2022, 6, 17),
        vol=0.22,
        div=0.015,
    ),
    "AAA call 160": dict(
        kind=OPTION,
        ticker="AAA",
        mult=100.0,
        right="call",
        strike=160.0,
        expiry=dt.date(2022, 4, 14),
        vol=0.30,
        div=0.0,
    ),
    "ETF2 short": dict(kind=EQUITY, ticker="ETF2", mult=1.0),
}
CURRENT = {"ES short": -2.0, "IDX put 3600": 1.0, "AAA call 160": -10.0}


def config(hedges: bool = False):
    return parse_config(BASE + (HEDGES if hedges else ""), Path("/tmp/overlay-test.toml"))


def make_state(seed: int = 7, days: int = 300) -> MarketState:
    rng = np.random.default_rng(seed)
    m = rng.normal(0.0003, 0.011, days)
    m[rng.choice(days, 6, replace=False)] -= 0.04  # a few crash days: a fat left tail
    r = pd.DataFrame(
        {
            "IDX": m,
            "AAA": 1.3 * m + rng.normal(0, 0.012, days),
            "BBB": 0.7 * m + rng.normal(0, 0.009, days),
            "ETF2": 0.95 * m + rng.normal(0, 0.003, days),
        },
        index=pd.bdate_range("2020-12-01", periods=days),
    )
    betas = {t: float(np.polyfit(r["IDX"], r[t], 1)[0]) for t in r}
    betas["IDX"] = 1.0
    return MarketState(ASOF, "IDX", dict(CLOSES), betas, days, r, RATE, 252)


@pytest.fixture(scope="module")
def state() -> MarketState:
    return make_state()


def unit(name: str) -> Line:
    s = SPECS[name]
    return Line(
        name=name,
        kind=s["kind"],
        underlying=s["ticker"],
        quantity=1.0,
        multiplier=s["mult"],
        is_hedge=True,
        right=s.get("right"),
        strike=s.get("strike"),
        expiry=s.get("expiry"),
        vol=s.get("vol"),
        div=s.get("div", 0.0),
        model="bsm" if s["kind"] == OPTION else None,
        contract="ES" if name.startswith("ES") else None,
    )


# -- witnesses -----------------------------------------------------------------------------------
def leg(spec: dict, qty: float, state: MarketState) -> tuple[float, float, np.ndarray]:
    """(market value, dollar delta, daily P&L (T,)) of ``qty`` units, by a plain loop."""
    p = state.closes[spec["ticker"]]
    r = state.returns[spec["ticker"]].to_numpy()
    q = qty * spec["mult"]
    if spec["kind"] != OPTION:
        pnl = np.array([q * p * x for x in r])
        return (0.0 if spec["kind"] == FUTURE else q * p), q * p, pnl
    t0 = (spec["expiry"] - state.asof).days / 365
    now = bsm(spec["right"], p, spec["strike"], t0, state.rate, spec["div"], spec["vol"])
    pnl = np.array(
        [
            q
            * (
                bsm(
                    spec["right"],
                    p * (1 + x),
                    spec["strike"],
                    t0 - 1 / 365,
                    state.rate,
                    spec["div"],
                    spec["vol"],
                )["price"]
                - now["price"]
            )
            for x in r
        ]
    )
    return q * now["price"], q * now["delta"] * p, pnl


def book(state: MarketState, hedges: dict[str, float], cash: float) -> dict:
    """Figures of the holdings plus ``hedges`` {name: quantity}, from CONVENTIONS alone."""
    mv, bd, dd = 0.0, 0.0, 0.0
    pnl = np.zeros(len(state.returns))
    specs = [(dict(kind=EQUITY, ticker=t, mult=1.0), q) for t, q in HOLDINGS.items()]
    specs += [(SPECS[n], q) for n, q in hedges.items()]
    for spec, q in specs:
        m, d, p = leg(spec, q, state)
        mv, dd, bd, pnl = mv + m, dd + d, bd + d * state.betas[spec["ticker"]], pnl + p
    nav = cash + mv
    r = pnl / nav
    q = np.quantile(r, 0.05)
    return {
        "nav": nav,
        "cash": cash,
        "beta": bd / nav,
        "beta_dollars": bd,
        "dollar_delta": dd,
        "variance": r.var(ddof=1),
        "volatility": math.sqrt(r.var(ddof=1) * 252),
        "var_hist": -q,
        "cvar_hist": -r[r <= q].mean(),
        "cvar_ru": cvar_scan(r, 0.95),
        "pnl": pnl,
    }


def cvar_scan(r: np.ndarray, a: float) -> float:
    """Min over alpha of alpha + mean(max(loss - alpha, 0)) / (1 - a); the minimum lies at an
    observed loss, so scanning them all finds it.
    """
    loss = -np.asarray(r)
    tails = np.maximum(loss[None, :] - loss[:, None], 0.0).mean(axis=1)
    return float((loss + tails / (1 - a)).min())


def core_pnl(state: MarketState) -> np.ndarray:
    return sum(q * state.closes[t] * state.returns[t].to_numpy() for t, q in HOLDINGS.items())


def nav0(state: MarketState) -> float:
    return CASH + sum(q * state.closes[t] for t, q in HOLDINGS.items())


def core_beta_dollars(state: MarketState) -> float:
    return sum(q * state.closes[t] * state.betas[t] for t, q in HOLDINGS.items())


ES_UNIT = 50.0 * CLOSES["IDX"]  # notional (and beta-dollars: beta 1) of one ES contract


# -- tests ---------------------------------------------------------------------------------------
def test_single_future_equals_closed_form_minimum_variance_hedge(state):
    res = hedge_overlay(
        config(), state, [Candidate(unit("ES short"), 1000.0)], beta_band=(-10.0, 10.0)
    )
    c, h = core_pnl(state), ES_UNIT * state.returns["IDX"].to_numpy()
    ratio = -np.cov(c, h, ddof=1)[0, 1] / h.var(ddof=1)
    assert -8 < ratio < -3  # the witness is a real hedge, not a degenerate case
    assert res.sizes["ES short"] == pytest.approx(ratio, rel=1e-6)
    assert res.after["variance"] == pytest.approx(
        (c + ratio * h).var(ddof=1) / nav0(state) ** 2, rel=1e-8
    )
    assert res.binding == () and res.notes == ()
    assert res.solver in res.tried


def test_tight_beta_band_binds_at_its_edge(state):
    nav, bd = nav0(state), core_beta_dollars(state)
    c, h = core_pnl(state), ES_UNIT * state.returns["IDX"].to_numpy()
    free = -np.cov(c, h, ddof=1)[0, 1] / h.var(ddof=1)
    beta_free = (bd + free * ES_UNIT) / nav
    lo = round(beta_free + 0.10, 2)  # the band sits above the unconstrained optimum
    res = hedge_overlay(
        config(), state, [Candidate(unit("ES short"), 1000.0)], beta_band=(lo, lo + 0.05)
    )
    by_hand = (lo * nav - bd) / ES_UNIT
    assert res.sizes["ES short"] == pytest.approx(by_hand, rel=1e-7)
    assert res.after["beta"] == pytest.approx(lo, abs=1e-8)
    assert res.binding == (f"beta at least {lo:g} (the band's low edge)",)


def test_cost_budget_binds(state):
    cfg = config(hedges=True)
    cands = [Candidate(unit("ES short"), 100.0, cost_per_unit=25.0)]
    free = hedge_overlay(cfg, state, cands, beta_band=(-10.0, 10.0))
    assert abs(free.sizes["ES short"] - CURRENT["ES short"]) > 1.5  # the budget will bind
    res = hedge_overlay(cfg, state, cands, beta_band=(-10.0, 10.0), cost_budget=30.0)
    step = math.copysign(30.0 / 25.0, free.sizes["ES short"] - CURRENT["ES short"])
    assert res.sizes["ES short"] == pytest.approx(CURRENT["ES short"] + step, rel=1e-7)
    assert res.cost == pytest.approx(30.0, rel=1e-7)
    assert res.binding == ("cost budget 30.00",)
    assert res.current == {"ES short": -2.0}


def test_cvar_matches_brute_force_over_two_hedge_sizes(state):
    cfg = config()
    put = dict(
        kind=OPTION,
        ticker="IDX",
        mult=100.0,
        right="put",
        strike=3800.0,
        expiry=dt.date(2022, 5, 20),
        vol=0.25,
        div=0.0,
    )
    put_line = Line(
        "IDX put 3800",
        OPTION,
        "IDX",
        1.0,
        100.0,
        is_hedge=True,
        right="put",
        strike=3800.0,
        expiry=put["expiry"],
        vol=0.25,
        div=0.0,
        model="bsm",
    )
    lim = np.array([12.0, 30.0])
    res = hedge_overlay(
        cfg,
        state,
        [Candidate(unit("ES short"), lim[0]), Candidate(put_line, lim[1])],
        objective="cvar",
        beta_band=(-10.0, 10.0),
    )
    nav = nav0(state)  # premiums come from cash: the NAV does not move
    h = np.column_stack([ES_UNIT * state.returns["IDX"].to_numpy(), leg(put, 1.0, state)[2]])
    c = core_pnl(state)

    def scan(g1: np.ndarray, g2: np.ndarray) -> tuple[float, tuple[float, float]]:
        best = (np.inf, (0.0, 0.0))
        for a in g1:
            for b in g2:
                v = cvar_scan((c + h @ np.array([a, b])) / nav, 0.95)
                best = min(best, (v, (a, b)))
        return best

    coarse, (a0, b0) = scan(np.linspace(-lim[0], lim[0], 25), np.linspace(-lim[1], lim[1], 25))
    d0, d1 = 2 * lim[0] / 24, 2 * lim[1] / 24
    fine, _ = scan(
        np.clip(np.linspace(a0 - d0, a0 + d0, 21), -lim[0], lim[0]),
        np.clip(np.linspace(b0 - d1, b0 + d1, 21), -lim[1], lim[1]),
    )
    got = res.after["cvar_ru"]
    x = np.array([res.sizes["ES short"], res.sizes["IDX put 3800"]])
    assert got == pytest.approx(cvar_scan((c + h @ x) / nav, 0.95), rel=1e-9)
    assert got <= min(coarse, fine) + 1e-10  # no grid point beats the LP optimum
    assert fine - got < 2e-3 * got  # and the fine grid comes close to it
    assert res.after["cvar_ru"] < res.before["cvar_ru"]


def test_before_and_after_figures_equal_recomputation(state):
    cfg = config(hedges=True)
    cands = [
        Candidate(unit("ES short"), 10.0, 20.0),
        Candidate(unit("IDX put 3600"), 8.0, 30.0),
        Candidate(unit("AAA call 160"), 40.0, 3.0),
        Candidate(unit("ETF2 short"), 3000.0, 0.2),
    ]
    res = hedge_overlay(cfg, state, cands, cost_budget=400.0)
    names = [c.line.name for c in cands]
    assert res.current == {**CURRENT, "ETF2 short": 0.0}
    before = book(state, CURRENT, CASH)
    unit_mv = {n: leg(SPECS[n], 1.0, state)[0] for n in names}
    for label, sizes, figures, cost in (
        ("after", res.sizes, res.after, res.cost),
        ("rounded", res.rounded, res.after_rounded, res.cost_rounded),
    ):
        trades = {n: sizes[n] - res.current[n] for n in names}
        cash = CASH - sum(trades[n] * unit_mv[n] for n in names)
        want = book(state, sizes, cash)
        assert want["nav"] == pytest.approx(before["nav"], rel=1e-12), label
        for key, value in figures.items():
            assert value == pytest.approx(want[key], rel=1e-9, abs=1e-12), (label, key)
        assert cost == pytest.approx(
            sum(c.cost_per_unit * abs(trades[c.line.name]) for c in cands), rel=1e-12
        )
    for key, value in res.before.items():
        assert value == pytest.approx(before[key], rel=1e-9, abs=1e-12), key
    assert all(
        isinstance(v, int) and abs(v) <= c.max_units
        for v, c in zip(res.rounded.values(), cands, strict=True)
    )
    lo, hi = res.beta_band
    assert (lo, hi) == pytest.approx((0.45, 0.55))
    assert lo - 1e-7 <= res.after["beta"] <= hi + 1e-7
    assert res.cost <= 400.0 * (1 + 1e-7)
    assert res.after["variance"] <= before["variance"]  # the current book was feasible


def test_rounding_that_leaves_the_band_says_so(state):
    nav, bd = nav0(state), core_beta_dollars(state)
    lo = 0.42
    res = hedge_overlay(
        config(), state, [Candidate(unit("ES short"), 100.0)], beta_band=(lo, lo + 0.01)
    )  # narrower than one contract's beta
    exact = (lo * nav - bd) / ES_UNIT
    assert res.sizes["ES short"] == pytest.approx(exact, rel=1e-7)
    nearest = min(
        (math.floor(exact), math.ceil(exact)),
        key=lambda n: min(abs((bd + n * ES_UNIT) / nav - b) for b in (lo, lo + 0.01)),
    )
    assert res.rounded == {"ES short": nearest}
    assert res.after_rounded["beta"] == pytest.approx((bd + nearest * ES_UNIT) / nav, rel=1e-12)
    assert len(res.notes) == 1 and "outside the band" in res.notes[0]


def test_unreachable_band_explains_itself(state):
    nav, bd = nav0(state), core_beta_dollars(state)
    with pytest.raises(OptimizationError) as err:
        hedge_overlay(config(), state, [Candidate(unit("ES short"), 3.0)], beta_band=(0.1, 0.2))
    bottom = (bd - 3 * ES_UNIT) / nav
    assert bottom > 0.2  # three contracts short cannot bring beta into the band
    assert f"can bring beta down only to {bottom:.4f}" in str(err.value)
    assert "the band ends at 0.2000" in str(err.value)
    with pytest.raises(OptimizationError) as err:
        hedge_overlay(
            config(),
            state,
            [Candidate(unit("ES short"), 5.0)],
            beta_band=(3.0, 3.5),
            cost_budget=50.0,
            objective="cvar",
        )
    top = (bd + 5 * ES_UNIT) / nav  # trading is free here: the size limit is what binds
    assert "within the size limits and the cost budget" in str(err.value)
    assert f"can move beta only to {top:.4f} at most" in str(err.value)
    with pytest.raises(OptimizationError, match=r"costs at least 10\.00; the cost budget is 5"):
        hedge_overlay(
            config(hedges=True), state, [Candidate(unit("ES short"), 1.0, 10.0)], cost_budget=5.0
        )  # two contracts short now, one allowed: 10 to trade


def test_bad_input_is_refused(state):
    cand = [Candidate(unit("ES short"), 5.0)]
    for kwargs in (
        dict(objective="sharpe"),
        dict(beta_band=(0.6, 0.4)),
        dict(cost_budget=-1.0),
        dict(confidence=1.0),
    ):
        with pytest.raises(HedgedeskError):
            hedge_overlay(config(), state, cand, **kwargs)
    with pytest.raises(HedgedeskError, match="XYZ is not in the market state"):
        hedge_overlay(config(), state, [Candidate(Line("x", EQUITY, "XYZ", 1.0), 5.0)])
    with pytest.raises(HedgedeskError, match="one unit"):
        hedge_overlay(config(), state, [Candidate(Line("x", FUTURE, "IDX", 2.0, 50.0), 5.0)])


def test_default_candidates_add_the_hedge_future(state):
    plain = default_candidates(config(), state)
    assert [c.line.name for c in plain] == ["ES (E-mini S&P 500)"]
    assert plain[0].line.multiplier == 50 and plain[0].line.quantity == 1
    assert plain[0].cost_per_unit == pytest.approx(1e-4 * ES_UNIT)
    hedged = default_candidates(config(hedges=True), state)
    assert [c.line.name for c in hedged] == list(CURRENT)  # ES is already a leg
    assert {c.line.name: c.max_units for c in hedged}["AAA call 160"] == 40  # shares held


@pytest.fixture(scope="module")
def demo():
    cfg = load_config(resolve_config_path())
    return cfg, market_state(cfg, load_market(cfg))


def test_demo_desk_end_to_end(demo):
    cfg, state = demo
    cands = default_candidates(cfg, state)
    assert [c.line.name for c in cands] == [leg.name for leg in cfg.book.hedges]
    for objective, key in (("variance", "variance"), ("cvar", "cvar_ru")):
        res = hedge_overlay(cfg, state, cands, objective=objective, cost_budget=500.0)
        assert res.before["beta"] == pytest.approx(0.459, abs=1e-3)
        assert 0.45 - 1e-7 <= res.after["beta"] <= 0.55 + 1e-7
        assert res.after[key] <= res.before[key]  # the current book is a feasible point
        assert res.after_rounded[key] <= res.before[key] + 1e-15
        assert res.after["nav"] == pytest.approx(res.before["nav"], rel=1e-12)
        assert res.cost <= 500.0 * (1 + 1e-7)
        assert set(res.rounded) == set(res.sizes) == {c.line.name for c in cands}


@pytest.mark.parametrize("free_signs", [False, True])
def test_whole_contracts_are_the_integer_optimum_of_the_box(free_signs):
    """Plain loop over every whole-unit book within the limits (each leg's sign kept, or both
    sides when the signs are freed): the rounded result is the lowest-variance one inside the
    beta band (the P&L per unit comes from the engine; the search and the scoring are the
    witness's own).
    """
    import itertools

    from hedgedesk.core.book.risk import pnl_history
    from hedgedesk.core.book.valuation import book_lines, value_lines

    cfg = load_config(resolve_config_path())
    state = market_state(cfg, load_market(cfg))
    cands = default_candidates(cfg, state, free_signs=free_signs)
    res = hedge_overlay(cfg, state, cands)
    holdings = [ln for ln in book_lines(cfg) if not ln.is_hedge]
    nav = value_lines(book_lines(cfg), state, cfg.book.cash).nav
    core = pnl_history(holdings, state).sum(axis=1)
    units = pnl_history([c.line for c in cands], state)
    core_bd = sum(p.beta_dollars for p in value_lines(holdings, state, 0.0).positions)
    unit_bd = np.array([value_lines([c.line], state, 1e9).positions[0].beta_dollars for c in cands])
    lo, hi = res.beta_band
    best, best_var = None, math.inf
    current = {leg.name: leg.quantity for leg in cfg.book.hedges}
    ranges = [
        range(
            0 if not free_signs and current[c.name] > 0 else -math.floor(c.max_units),
            (0 if not free_signs and current[c.name] < 0 else math.floor(c.max_units)) + 1,
        )
        for c in cands
    ]
    for sizes in itertools.product(*ranges):
        g = np.array(sizes, dtype=float)
        beta = (core_bd + g @ unit_bd) / nav
        if not lo - 1e-9 <= beta <= hi + 1e-9:
            continue
        var = np.var((core + units @ g) / nav, ddof=1)
        if var < best_var:
            best, best_var = sizes, var
    assert tuple(res.rounded[c.name] for c in cands) == best
    assert res.after_rounded["variance"] == pytest.approx(best_var, rel=1e-9)
    assert best_var < res.before["variance"]

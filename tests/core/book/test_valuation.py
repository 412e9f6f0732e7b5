"""Book valuation (core/book/valuation.py) against independent witnesses.

Witnesses: prices read here with pandas (the demo files and hand-made CSVs), returns taken here
after an inner join and the config's start clip, betas refitted with statsmodels' OLS, option
premiums and Greeks from Black-Scholes-Merton / Black-76 closed forms written below with
scipy.stats.norm (themselves checked by put-call parity and finite differences), and portfolio
beta as CONVENTIONS states it: sum of beta-dollars / NAV, summed here by hand.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.stats import norm

from hedgedesk.core.book.valuation import BetaStatus, contract_price, market_state, value_book
from hedgedesk.core.config import load_config, resolve_config_path
from hedgedesk.core.data.sources import load_market
from hedgedesk.core.demo import demo_dir
from hedgedesk.core.errors import DataError
from tests.witness import returns_of

RATE = 0.04  # the demo's [risk] rate


# -- closed forms (CONVENTIONS "Options": t = calendar days / 365) ------------------------------
def bsm(right: str, s: float, k: float, t: float, r: float, q: float, v: float) -> dict:
    """Black-Scholes-Merton price and partial derivatives (theta = dV/dt, calendar time)."""
    sq = math.sqrt(t)
    d1 = (math.log(s / k) + (r - q + 0.5 * v * v) * t) / (v * sq)
    d2 = d1 - v * sq
    dq, dr = math.exp(-q * t), math.exp(-r * t)
    pdf = norm.pdf(d1)
    common_theta = -s * dq * pdf * v / (2 * sq)
    if right == "call":
        price = s * dq * norm.cdf(d1) - k * dr * norm.cdf(d2)
        delta = dq * norm.cdf(d1)
        theta = common_theta - r * k * dr * norm.cdf(d2) + q * s * dq * norm.cdf(d1)
        rho = k * t * dr * norm.cdf(d2)
    else:
        price = k * dr * norm.cdf(-d2) - s * dq * norm.cdf(-d1)
        delta = -dq * norm.cdf(-d1)
        theta = common_theta + r * k * dr * norm.cdf(-d2) - q * s * dq * norm.cdf(-d1)
        rho = -k * t * dr * norm.cdf(-d2)
    return {
        "price": price,
        "delta": delta,
        "gamma": dq * pdf / (s * v * sq),
        "vega": s * dq * pdf * sq,
        "theta": theta,
        "rho": rho,
    }


def black76(right: str, f: float, k: float, t: float, r: float, v: float) -> dict:
    sq = math.sqrt(t)
    d1 = (math.log(f / k) + 0.5 * v * v * t) / (v * sq)
    d2 = d1 - v * sq
    df = math.exp(-r * t)
    w = 1.0 if right == "call" else -1.0
    price = w * df * (f * norm.cdf(w * d1) - k * norm.cdf(w * d2))
    return {
        "price": price,
        "delta": w * df * norm.cdf(w * d1),
        "gamma": df * norm.pdf(d1) / (f * v * sq),
        "vega": df * f * norm.pdf(d1) * sq,
        "theta": r * price - df * f * norm.pdf(d1) * v / (2 * sq),
        "rho": -t * price,
    }


def test_closed_form_witness_is_sound():
    """The witness itself: put-call parity and central differences of its price."""
    s, k, t, r, q, v = 103.0, 97.0, 0.37, 0.03, 0.012, 0.28
    c, p = bsm("call", s, k, t, r, q, v), bsm("put", s, k, t, r, q, v)
    assert c["price"] - p["price"] == pytest.approx(
        s * math.exp(-q * t) - k * math.exp(-r * t), rel=1e-12
    )
    for right in ("call", "put"):
        g = bsm(right, s, k, t, r, q, v)

        def px(right=right, **kw):
            a = {"s": s, "k": k, "t": t, "r": r, "q": q, "v": v, **kw}
            return bsm(right, a["s"], k, a["t"], a["r"], q, a["v"])["price"]

        h = 1e-4
        assert g["delta"] == pytest.approx((px(s=s + h) - px(s=s - h)) / (2 * h), rel=1e-6)
        assert g["gamma"] == pytest.approx(
            (px(s=s + 1e-2) - 2 * g["price"] + px(s=s - 1e-2)) / 1e-4, rel=1e-4
        )
        assert g["vega"] == pytest.approx((px(v=v + h) - px(v=v - h)) / (2 * h), rel=1e-6)
        assert g["theta"] == pytest.approx(-(px(t=t + h) - px(t=t - h)) / (2 * h), rel=1e-6)
        assert g["rho"] == pytest.approx((px(r=r + h) - px(r=r - h)) / (2 * h), rel=1e-6)
    b = black76("put", 4000.0, 3800.0, 0.25, 0.04, 0.22)
    fwd = black76("put", 4000.0 + 1e-2, 3800.0, 0.25, 0.04, 0.22)["price"]
    bwd = black76("put", 4000.0 - 1e-2, 3800.0, 0.25, 0.04, 0.22)["price"]
    assert b["delta"] == pytest.approx((fwd - bwd) / 2e-2, rel=1e-6)
    later = black76("put", 4000.0, 3800.0, 0.25 - 1e-5, 0.04, 0.22)["price"]
    sooner = black76("put", 4000.0, 3800.0, 0.25 + 1e-5, 0.04, 0.22)["price"]
    assert b["theta"] == pytest.approx((later - sooner) / 2e-5, rel=1e-5)


# -- independent data readers ---------------------------------------------------------------------
def demo_prices() -> pd.DataFrame:
    frames = [
        pd.read_csv(demo_dir() / f, index_col=0, parse_dates=True)
        for f in ("sp500_dataset.csv.gz", "sp500_index.csv.gz")
    ]
    return frames[0].join(frames[1], how="inner")


def sm_beta(rows: pd.DataFrame, asset: str, bench: str) -> float:
    fit = sm.OLS(rows[asset].to_numpy(), sm.add_constant(rows[bench].to_numpy())).fit()
    return float(fit.params[1])


# -- the demo desk ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo():
    cfg = load_config(resolve_config_path())
    market = load_market(cfg)
    state = market_state(cfg, market)
    prices = demo_prices()
    return cfg, state, value_book(cfg, state), prices, demo_witness(prices)


DEMO_ASOF = dt.date(2022, 12, 28)
DEMO_START = dt.date(2015, 1, 2)
DEMO_HOLDINGS = {
    "AAPL": 1500,
    "MSFT": 700,
    "AMD": 1500,
    "JPM": 800,
    "UNH": 200,
    "LLY": 250,
    "XOM": 1000,
    "HD": 300,
    "PG": 600,
    "KO": 1500,
}
# (name, right, underlying, strike, expiry, contracts, vol, dividend yield)
DEMO_OPTIONS = [
    ("SPX put 3400", "put", "SP500", 3400.0, dt.date(2023, 3, 17), 2, 0.24, 0.016),
    ("AAPL covered call 140", "call", "AAPL", 140.0, dt.date(2023, 1, 20), -3, 0.35, 0.007),
]


def demo_witness(prices: pd.DataFrame) -> dict:
    """NAV, dollar deltas, betas and portfolio beta of the demo book, from the files alone."""
    close = prices.loc[pd.Timestamp(DEMO_ASOF)]
    betas = {}
    for t in [*DEMO_HOLDINGS, "SP500"]:
        if t == "SP500":
            betas[t] = 1.0
            continue
        rows = returns_of(prices, [t, "SP500"], DEMO_START, DEMO_ASOF).iloc[-252:]
        betas[t] = sm_beta(rows, t, "SP500")
    mv = {t: q * close[t] for t, q in DEMO_HOLDINGS.items()}
    dd = dict(mv)
    und = dict.fromkeys(DEMO_HOLDINGS)
    for t in DEMO_HOLDINGS:
        und[t] = t
    mv["ES short"], dd["ES short"], und["ES short"] = 0.0, -2 * 50 * close["SP500"], "SP500"
    greeks = {}
    for name, right, u, k, exp, n, vol, q in DEMO_OPTIONS:
        t = (exp - DEMO_ASOF).days / 365.0
        g = bsm(right, close[u], k, t, RATE, q, vol)
        mv[name] = n * 100 * g["price"]
        dd[name] = n * 100 * g["delta"] * close[u]
        und[name] = u
        greeks[name] = (g, n * 100, close[u])
    nav = 150_000.0 + sum(mv.values())
    beta = sum(dd[k] * betas[und[k]] for k in dd) / nav
    return {
        "close": close,
        "betas": betas,
        "mv": mv,
        "dd": dd,
        "nav": nav,
        "beta": beta,
        "greeks": greeks,
    }


def test_demo_asof_and_closes_are_the_files_last_common_date(demo):
    _, state, _, prices, _ = demo
    assert state.asof == DEMO_ASOF == prices.index[-1].date()
    for t, c in state.closes.items():
        assert c == prices.loc[pd.Timestamp(DEMO_ASOF), t], t


def test_demo_nav_is_cash_plus_market_values(demo):
    _, _, val, _, w = demo
    assert val.cash == 150_000.0
    assert val.nav == pytest.approx(w["nav"], rel=1e-12)
    by_name = {p.line.name: p for p in val.positions}
    assert set(by_name) == set(w["mv"])
    for name, mv in w["mv"].items():
        assert by_name[name].market_value == pytest.approx(mv, rel=1e-10, abs=1e-9), name
        assert by_name[name].weight == pytest.approx(mv / w["nav"], rel=1e-10, abs=1e-15), name
    assert by_name["ES short"].market_value == 0.0  # futures settle daily
    assert by_name["ES short"].notional == pytest.approx(-2 * 50 * w["close"]["SP500"], rel=1e-14)


def test_demo_holdings_pnl_against_cost_basis(demo):
    _, _, val, prices, _ = demo
    close = prices.loc[pd.Timestamp(DEMO_ASOF)]
    basis = {"AAPL": 150.0, "MSFT": 250.0, "KO": 60.0}
    by_name = {p.line.name: p for p in val.positions}
    for t, b in basis.items():
        assert by_name[t].pnl == pytest.approx((close[t] - b) * DEMO_HOLDINGS[t], rel=1e-12)


def test_demo_option_dollar_delta_is_qty_mult_delta_spot(demo):
    _, _, val, _, w = demo
    by_name = {p.line.name: p for p in val.positions}
    for name, dd in w["dd"].items():
        p = by_name[name]
        assert p.dollar_delta == pytest.approx(dd, rel=1e-10), name
        assert p.exposure == pytest.approx(dd / w["nav"], rel=1e-10), name
    put = by_name["SPX put 3400"]
    g, _, _ = w["greeks"]["SPX put 3400"]
    assert put.delta == pytest.approx(g["delta"], rel=1e-10)
    assert put.unit_price == pytest.approx(g["price"], rel=1e-10)


def test_demo_betas_equal_statsmodels_over_last_252_returns(demo):
    _, state, val, _, w = demo
    assert state.beta_window == 252
    for t, b in w["betas"].items():
        assert state.betas[t] == pytest.approx(b, rel=1e-9, abs=1e-12), t
    for p in val.positions:
        assert p.beta == pytest.approx(w["betas"][p.line.underlying], rel=1e-9), p.line.name
        assert p.beta_dollars == pytest.approx(w["dd"][p.line.name] * p.beta, rel=1e-9)


def test_demo_portfolio_beta_is_beta_dollars_over_nav(demo):
    _, _, val, _, w = demo
    assert val.portfolio_beta == pytest.approx(w["beta"], rel=1e-9)
    st = val.beta_status
    assert (st.target, st.band) == (0.5, 0.05)
    assert st.breach == (abs(w["beta"] - 0.5) > 0.05)


def test_demo_option_greek_units(demo):
    _, _, val, _, w = demo
    by_name = {p.line.name: p for p in val.positions}
    for name, (g, qm, s) in w["greeks"].items():
        p = by_name[name]
        for k in ("delta", "gamma", "vega", "theta", "rho"):
            assert p.greeks[k] == pytest.approx(g[k] * qm, rel=1e-9), (name, k)
        assert p.gamma_1pct_usd == pytest.approx(g["gamma"] * s * s * 0.01 * qm, rel=1e-9)
        assert p.vega_1pt_usd == pytest.approx(g["vega"] * 0.01 * qm, rel=1e-9)
        assert p.theta_1d_usd == pytest.approx(g["theta"] / 365.0 * qm, rel=1e-9)
        assert p.rho_1pct_usd == pytest.approx(g["rho"] * 0.01 * qm, rel=1e-9)
    # linear lines carry no option Greeks
    assert by_name["AAPL"].greeks == {} and by_name["ES short"].gamma_1pct_usd == 0.0
    assert val.total("theta_1d_usd") == pytest.approx(
        sum(g["theta"] / 365 * qm for g, qm, _ in w["greeks"].values()), rel=1e-9
    )


# -- hand-built desks ----------------------------------------------------------------------------
def synthetic_prices(n: int = 300, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2021-01-04", periods=n)
    rm = rng.normal(0.0004, 0.011, n)
    cols = {
        "IDX": 4000 * np.cumprod(1 + rm),
        "AAA": 150 * np.cumprod(1 + 1.4 * rm + rng.normal(0, 0.009, n)),
        "BBB": 60 * np.cumprod(1 + 0.5 * rm + rng.normal(0, 0.012, n)),
        "CCC": 25 * np.cumprod(1 - 0.3 * rm + rng.normal(0, 0.015, n)),
    }
    return pd.DataFrame(cols, index=dates).round(4)


def write_desk(
    tmp_path: Path,
    body: str,
    prices: pd.DataFrame | None = None,
    data_extra: str = "",
    name: str = "desk.toml",
) -> Path:
    prices = synthetic_prices() if prices is None else prices
    csv = tmp_path / "prices.csv"
    if not csv.exists():
        prices.to_csv(csv, index_label="date")
    path = tmp_path / name
    path.write_text(
        f'[data]\nsource = "files"\npaths = ["prices.csv"]\nbenchmark = "IDX"\n'
        f"{data_extra}\n{body}",
        encoding="utf-8",
    )
    return path


def read_back(tmp_path: Path) -> pd.DataFrame:
    return pd.read_csv(tmp_path / "prices.csv", index_col="date", parse_dates=True)


def load_desk(path: Path):
    cfg = load_config(path)
    market = load_market(cfg)
    return cfg, market_state(cfg, market)


BASE = """
[risk]
rate = 0.03
beta_window = 60
var_window = 200
[targets]
beta = 0.5
beta_band = 0.05
"""


def test_hand_desk_betas_inner_join_and_start_clip(tmp_path):
    """AAA lacks two rows (its next return spans two days for every series) and the config
    starts at row 200 with a 90-return window: the beta uses the last 90 returns after start;
    a 252-return window is more history than there is, an error, never a shorter window.
    """
    prices = synthetic_prices()
    prices.iloc[[230, 231], prices.columns.get_loc("AAA")] = np.nan
    start = prices.index[200].date()
    body = (
        "[risk]\nbeta_window = 90\nvar_window = 90\n[targets]\nbeta = 0.5\n[book]\n"
        'cash = 1000.0\n[[book.holdings]]\nticker = "AAA"\nquantity = 10\n'
        '[[book.holdings]]\nticker = "BBB"\nquantity = 20\n'
    )
    _, state = load_desk(write_desk(tmp_path, body, prices, f'start = "{start}"'))
    px = read_back(tmp_path)
    for t in ("AAA", "BBB"):
        rows = returns_of(px, [t, "IDX"], start)
        assert len(rows) == 99 - (2 if t == "AAA" else 0)
        assert state.betas[t] == pytest.approx(sm_beta(rows.iloc[-90:], t, "IDX"), rel=1e-9)
    too_long = body.replace("beta_window = 90", "beta_window = 252")
    with pytest.raises(DataError, match="too little history"):
        load_desk(write_desk(tmp_path, too_long, prices, f'start = "{start}"'))
    # the unclipped, un-joined estimate is a different number: the witness can tell them apart
    wrong = returns_of(px, ["AAA", "IDX"]).iloc[-252:]
    assert abs(sm_beta(wrong, "AAA", "IDX") - state.betas["AAA"]) > 1e-6


def test_hand_desk_nav_beta_and_option_greeks(tmp_path):
    body = (
        BASE
        + """
[book]
cash = 25000.0
[[book.holdings]]
ticker = "AAA"
quantity = 300
[[book.holdings]]
ticker = "BBB"
quantity = -150
cost_basis = 70.0
[[book.hedges]]
name = "fut"
instrument = "future"
contract = "MES"
underlying = "IDX"
quantity = -3
[[book.hedges]]
name = "call"
instrument = "option"
right = "call"
underlying = "AAA"
strike = 160
expiry = "2022-06-17"
quantity = -2
volatility = 0.3
dividend_yield = 0.01
[[book.hedges]]
name = "fop"
instrument = "option"
model = "black76"
right = "put"
underlying = "IDX"
strike = 4100
expiry = "2022-05-20"
quantity = 1
multiplier = 50
volatility = 0.22
price_scale = 1.002
"""
    )
    cfg, state = load_desk(write_desk(tmp_path, body))
    px = read_back(tmp_path)
    asof = px.index[-1].date()
    close = px.iloc[-1]
    beta = {t: sm_beta(returns_of(px, [t, "IDX"]).iloc[-60:], t, "IDX") for t in ("AAA", "BBB")}
    beta["IDX"] = 1.0
    c = bsm("call", close["AAA"], 160, (dt.date(2022, 6, 17) - asof).days / 365, 0.03, 0.01, 0.3)
    fwd = 1.002 * close["IDX"]
    f = black76("put", fwd, 4100, (dt.date(2022, 5, 20) - asof).days / 365, 0.03, 0.22)
    mv = {
        "AAA": 300 * close["AAA"],
        "BBB": -150 * close["BBB"],
        "fut": 0.0,
        "call": -200 * c["price"],
        "fop": 50 * f["price"],
    }
    dd = {
        "AAA": mv["AAA"],
        "BBB": mv["BBB"],
        "fut": -3 * 5 * close["IDX"],
        "call": -200 * c["delta"] * close["AAA"],
        "fop": 50 * f["delta"] * fwd,
    }
    und = {"AAA": "AAA", "BBB": "BBB", "fut": "IDX", "call": "AAA", "fop": "IDX"}
    nav = 25000.0 + sum(mv.values())
    val = value_book(cfg, state)
    assert val.nav == pytest.approx(nav, rel=1e-12)
    by = {p.line.name: p for p in val.positions}
    for k in mv:
        assert by[k].market_value == pytest.approx(mv[k], rel=1e-10, abs=1e-9), k
        assert by[k].dollar_delta == pytest.approx(dd[k], rel=1e-10), k
        assert by[k].beta == pytest.approx(beta[und[k]], rel=1e-9), k
    assert val.portfolio_beta == pytest.approx(
        sum(dd[k] * beta[und[k]] for k in dd) / nav, rel=1e-9
    )
    assert by["fop"].underlying_price == pytest.approx(fwd, rel=1e-14)
    assert by["BBB"].pnl == pytest.approx((close["BBB"] - 70.0) * -150, rel=1e-12)  # a short
    assert by["AAA"].pnl is None  # no cost basis, no P&L
    assert by["call"].gamma_1pct_usd == pytest.approx(
        c["gamma"] * close["AAA"] ** 2 * 0.01 * -200, rel=1e-9
    )
    assert by["call"].vega_1pt_usd == pytest.approx(c["vega"] * 0.01 * -200, rel=1e-9)
    assert by["call"].theta_1d_usd == pytest.approx(c["theta"] / 365 * -200, rel=1e-9)
    assert by["fop"].theta_1d_usd == pytest.approx(f["theta"] / 365 * 50, rel=1e-9)
    assert by["fop"].greeks["rho"] == pytest.approx(f["rho"] * 50, rel=1e-9)


def _future_desk(scale: float | None) -> str:
    extra = "" if scale is None else f"price_scale = {scale}\n"
    return BASE + (
        '[book]\ncash = 500000.0\n[[book.holdings]]\nticker = "AAA"\nquantity = 100\n'
        '[[book.hedges]]\nname = "es"\ninstrument = "future"\ncontract = "ES"\n'
        f'underlying = "IDX"\nquantity = -1\n{extra}'
    )


def test_price_scale_proxy_doubles_a_future_legs_notional(tmp_path):
    plain = value_book(*load_desk(write_desk(tmp_path, _future_desk(None), name="a.toml")))
    cfg2, state2 = load_desk(write_desk(tmp_path, _future_desk(2.0), name="b.toml"))
    scaled = value_book(cfg2, state2)
    close = read_back(tmp_path).iloc[-1]
    p1 = next(p for p in plain.positions if p.line.name == "es")
    p2 = next(p for p in scaled.positions if p.line.name == "es")
    assert p1.notional == pytest.approx(-50 * close["IDX"], rel=1e-14)
    assert p2.notional == pytest.approx(-50 * 2 * close["IDX"], rel=1e-14)
    assert p2.underlying_price == pytest.approx(2 * close["IDX"], rel=1e-14)
    assert p2.dollar_delta == pytest.approx(2 * p1.dollar_delta, rel=1e-14)
    assert p1.market_value == p2.market_value == 0.0
    assert plain.nav == pytest.approx(scaled.nav, rel=1e-14)  # futures add no market value
    assert "proxy" in p2.line.price_note() and "2 x IDX" in p2.line.price_note()
    nav = 500000.0 + 100 * close["AAA"]
    assert scaled.portfolio_beta - plain.portfolio_beta == pytest.approx(
        -50 * close["IDX"] / nav, rel=1e-9
    )


def test_contract_price_from_leg_from_proxies_and_error(tmp_path):
    body = _future_desk(2.0) + '[proxies]\nMES = { underlying = "BBB", scale = 0.5 }\n'
    cfg, state = load_desk(write_desk(tmp_path, body))
    px = read_back(tmp_path)
    close = px.iloc[-1]
    price, und, beta = contract_price("ES", cfg, state)  # a leg trades ES: its scale applies
    assert (price, und) == (pytest.approx(2 * close["IDX"], rel=1e-14), "IDX") and beta == 1.0
    price, und, beta = contract_price("MES", cfg, state)
    assert price == pytest.approx(0.5 * close["BBB"], rel=1e-14) and und == "BBB"
    assert beta == pytest.approx(
        sm_beta(returns_of(px, ["BBB", "IDX"]).iloc[-60:], "BBB", "IDX"), rel=1e-9
    )
    with pytest.raises(DataError) as err:
        contract_price("NQ", cfg, state)
    msg = str(err.value)
    assert "NQ" in msg and "Nasdaq" in msg and "[proxies] NQ" in msg and "underlying" in msg


def test_contract_price_error_suggests_valid_toml(tmp_path):
    cfg, state = load_desk(write_desk(tmp_path, _future_desk(None)))
    with pytest.raises(DataError) as err:
        contract_price("NQ", cfg, state)
    assert '[proxies] NQ = { underlying = "TICKER", scale = 1.0 } to the config' in str(err.value)


def test_beta_status_breach_and_describe():
    above = BetaStatus(0.75, 0.5, 0.125)
    assert above.breach and above.deviation == 0.25
    assert above.describe().startswith("BREACH ↑") and "above" in above.describe()
    below = BetaStatus(0.25, 0.5, 0.125)
    assert below.breach and "BREACH ↓" in below.describe() and "below" in below.describe()
    edge = BetaStatus(0.75, 0.5, 0.25)  # exactly on the band: not a breach
    assert not edge.breach
    inside = BetaStatus(0.5625, 0.5, 0.125)
    assert not inside.breach and "BREACH" not in inside.describe()
    assert "within band" in inside.describe() and "0.50 ± 0.12" in inside.describe()


def test_breach_from_a_book(tmp_path):
    """A book of AAA alone has beta 1.4-ish; a target of -1 with a 0.05 band breaches upward."""
    body = (
        "[risk]\nvar_window = 252\n[targets]\nbeta = -1.0\nbeta_band = 0.05\n"
        "[book]\ncash = 0.0\n"
        '[[book.holdings]]\nticker = "AAA"\nquantity = 10\n'
    )
    cfg, state = load_desk(write_desk(tmp_path, body))
    val = value_book(cfg, state)
    px = read_back(tmp_path)
    b = sm_beta(returns_of(px, ["AAA", "IDX"]).iloc[-252:], "AAA", "IDX")
    assert val.portfolio_beta == pytest.approx(b, rel=1e-9)
    assert val.beta_status.breach and val.beta_status.describe().startswith("BREACH ↑")


@pytest.mark.parametrize("expiry_offset", [0, -10])
def test_expired_option_raises(tmp_path, expiry_offset):
    asof = synthetic_prices().index[-1].date()
    expiry = asof + dt.timedelta(days=expiry_offset)
    body = BASE + (
        '[book]\ncash = 1000.0\n[[book.hedges]]\nname = "old put"\n'
        'instrument = "option"\nright = "put"\nunderlying = "AAA"\nstrike = 100\n'
        f'expiry = "{expiry}"\nquantity = 1\nvolatility = 0.2\n'
    )
    cfg, state = load_desk(write_desk(tmp_path, body))
    with pytest.raises(DataError, match="expired") as err:
        value_book(cfg, state)
    assert "old put" in str(err.value)


@pytest.mark.parametrize(
    ("missing", "words"), [("expiry", "no expiry date"), ("vol", "no implied volatility")]
)
def test_option_line_without_its_terms_is_a_data_error(missing, words):
    """A Line built in code (not from a config, which requires them) without an expiry or a
    volatility is refused naming the line, not a TypeError deep in the pricer.
    """
    from hedgedesk.core.book.valuation import Line, MarketState, value_lines

    asof = dt.date(2024, 1, 2)
    state = MarketState(
        asof, "AAA", {"AAA": 100.0}, {"AAA": 1.0}, 252, pd.DataFrame({"AAA": [0.01]}), 0.0, 252
    )
    terms = {"expiry": asof + dt.timedelta(days=30), "vol": 0.2, missing: None}
    put = Line("my put", "option", "AAA", 1, 100.0, right="put", strike=100.0, **terms)
    with pytest.raises(DataError, match=words) as err:
        value_lines([put], state, 1000.0)
    assert "my put" in str(err.value)


def test_nav_not_positive_raises(tmp_path):
    close = synthetic_prices().iloc[-1]
    cash = -100 * float(close["AAA"])  # NAV exactly 0
    body = BASE + (f'[book]\ncash = {cash!r}\n[[book.holdings]]\nticker = "AAA"\nquantity = 100\n')
    cfg, state = load_desk(write_desk(tmp_path, body))
    with pytest.raises(DataError, match="NAV"):
        value_book(cfg, state)


def test_leg_without_close_on_asof_raises(tmp_path):
    prices = synthetic_prices()
    prices.iloc[-1, prices.columns.get_loc("CCC")] = np.nan
    body = BASE + (
        '[book]\ncash = 1000.0\n[[book.hedges]]\nname = "c"\ninstrument = "equity"\n'
        'underlying = "CCC"\nquantity = 5\n'
    )
    cfg = load_config(write_desk(tmp_path, body, prices))
    market = load_market(cfg)
    with pytest.raises(DataError, match="as-of") as err:
        market_state(cfg, market)
    assert "CCC" in str(err.value) and str(prices.index[-1].date()) in str(err.value)


def test_shocked_state_moves_closes_like_a_scenario():
    """A ticker's own shock, else beta x the market shock; valuing the shocked state equals
    valuing the original with the same per-ticker shocks (value_lines' own path).
    """
    from hedgedesk.core.book.valuation import book_lines, market_state, shocked_state, value_lines
    from hedgedesk.core.config import load_config, resolve_config_path
    from hedgedesk.core.data.sources import load_market

    cfg = load_config(resolve_config_path())
    state = market_state(cfg, load_market(cfg))
    shocks = {"market": -0.10, "AAPL": 0.05}
    moved = shocked_state(state, shocks)
    per_ticker = {
        t: 0.05 if t == "AAPL" else -0.10 if t == state.benchmark else state.betas[t] * -0.10
        for t in state.closes
    }
    for t, c in state.closes.items():
        assert moved.closes[t] == pytest.approx(c * (1 + per_ticker[t]), rel=1e-15)
    lines = book_lines(cfg)
    a = value_lines(lines, moved, cfg.book.cash)
    b = value_lines(lines, state, cfg.book.cash, shocks=per_ticker)
    assert a.nav == pytest.approx(b.nav, rel=1e-12)
    assert shocked_state(state, {}) is state

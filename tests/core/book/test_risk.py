"""The book's risk (core/book/risk.py) against independent witnesses.

Witnesses: returns taken here from the price files with pandas (inner join, clip, last
var_window), P&L by a plain Python loop, options repriced with a Black-Scholes-Merton closed
form written here, VaR/CVaR straight from CONVENTIONS with numpy and scipy, performance figures
from their CONVENTIONS formulas, and the correlation matrix from pandas.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from hedgedesk.core.book.risk import pnl_history, risk_report
from hedgedesk.core.book.valuation import book_lines, market_state
from hedgedesk.core.config import load_config, resolve_config_path
from hedgedesk.core.data.sources import load_market
from hedgedesk.core.demo import demo_dir
from tests.witness import returns_of


def bsm_price(right: str, s, k: float, t: float, r: float, q: float, v: float):
    """Black-Scholes-Merton premium (vectorised in ``s``)."""
    s = np.asarray(s, dtype=float)
    sq = math.sqrt(t)
    d1 = (np.log(s / k) + (r - q + 0.5 * v * v) * t) / (v * sq)
    d2 = d1 - v * sq
    if right == "call":
        return s * math.exp(-q * t) * norm.cdf(d1) - k * math.exp(-r * t) * norm.cdf(d2)
    return k * math.exp(-r * t) * norm.cdf(-d2) - s * math.exp(-q * t) * norm.cdf(-d1)


def bsm_delta(right: str, s: float, k: float, t: float, r: float, q: float, v: float) -> float:
    d1 = (math.log(s / k) + (r - q + 0.5 * v * v) * t) / (v * math.sqrt(t))
    return math.exp(-q * t) * (norm.cdf(d1) if right == "call" else norm.cdf(d1) - 1.0)


def var_witness(r: np.ndarray, a: float) -> dict:
    q = np.quantile(r, 1 - a)  # numpy's default: linear interpolation
    mu, sd = r.mean(), r.std(ddof=1)
    z = norm.ppf(1 - a)
    return {
        "historical": (-q, -r[r <= q].mean()),
        "parametric": (-(mu + sd * z), -(mu - sd * norm.pdf(z) / (1 - a))),
    }


def perf_witness(r: np.ndarray) -> dict:
    e = np.concatenate([[1.0], np.cumprod(1 + r)])
    peak = np.maximum.accumulate(e)
    return {
        "annual_volatility": r.std(ddof=1) * math.sqrt(252),
        "sharpe": r.mean() / r.std(ddof=1) * math.sqrt(252),
        "max_drawdown": (e / peak - 1).min(),
        "annual_return": e[-1] ** (252 / len(r)) - 1,
    }


# -- the demo desk: full revaluation of its two options -----------------------------------------
ASOF = dt.date(2022, 12, 28)
HOLDINGS = {
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
OPTIONS = {
    "SPX put 3400": ("put", "SP500", 3400.0, dt.date(2023, 3, 17), 2, 0.24, 0.016),
    "AAPL covered call 140": ("call", "AAPL", 140.0, dt.date(2023, 1, 20), -3, 0.35, 0.007),
}


@pytest.fixture(scope="module")
def demo():
    cfg = load_config(resolve_config_path())
    state = market_state(cfg, load_market(cfg))
    frames = [
        pd.read_csv(demo_dir() / f, index_col=0, parse_dates=True)
        for f in ("sp500_dataset.csv.gz", "sp500_index.csv.gz")
    ]
    prices = frames[0].join(frames[1], how="inner")
    tickers = ["SP500", *HOLDINGS]
    rets = returns_of(prices, tickers, dt.date(2015, 1, 2), ASOF).iloc[-504:]
    close = prices.loc[pd.Timestamp(ASOF)]
    pnl, nav = {}, 150_000.0
    for t, q in HOLDINGS.items():
        pnl[t] = np.array([q * close[t] * r for r in rets[t]])  # one day at a time
        nav += q * close[t]
    pnl["ES short"] = -2 * 50 * close["SP500"] * rets["SP500"].to_numpy()
    for name, (right, u, k, exp, n, vol, q) in OPTIONS.items():
        t0 = (exp - ASOF).days / 365
        v0 = bsm_price(right, close[u], k, t0, 0.04, q, vol)
        v1 = bsm_price(right, close[u] * (1 + rets[u].to_numpy()), k, t0 - 1 / 365, 0.04, q, vol)
        pnl[name] = n * 100 * (v1 - v0)
        nav += n * 100 * v0
    return cfg, state, rets, close, pnl, nav


def test_demo_history_window_is_last_504_inner_joined_returns(demo):
    _, state, rets, _, _, _ = demo
    assert list(state.returns.index) == list(rets.index)
    assert state.returns.index[-1].date() == ASOF
    for t in rets.columns:
        np.testing.assert_allclose(
            state.returns[t].to_numpy(), rets[t].to_numpy(), rtol=1e-12, atol=1e-15
        )


def test_demo_pnl_history_linear_and_options_fully_revalued(demo):
    cfg, state, _, _, pnl, _ = demo
    lines = book_lines(cfg)
    got = pnl_history(lines, state)
    assert got.shape == (504, len(lines))
    for j, ln in enumerate(lines):
        np.testing.assert_allclose(got[:, j], pnl[ln.name], rtol=1e-9, atol=1e-7, err_msg=ln.name)


def test_option_pnl_is_not_the_delta_approximation(demo):
    """The put's daily P&L is the full repricing one day later, not delta x S x r."""
    cfg, state, rets, close, pnl, _ = demo
    lines = book_lines(cfg)
    j = next(i for i, ln in enumerate(lines) if ln.name == "SPX put 3400")
    got = pnl_history(lines, state)[:, j]
    right, u, k, exp, n, vol, q = OPTIONS["SPX put 3400"]
    t0 = (exp - ASOF).days / 365
    by_delta = (
        n * 100 * bsm_delta(right, close[u], k, t0, 0.04, q, vol) * close[u] * rets[u].to_numpy()
    )
    np.testing.assert_allclose(got, pnl["SPX put 3400"], rtol=1e-9, atol=1e-7)
    # theta and convexity: on a quiet day the put still loses time value, on a big move the
    # delta approximation is off by gamma x move^2 / 2
    quiet = int(np.argmin(np.abs(rets[u].to_numpy())))
    assert got[quiet] < 0 and abs(got[quiet] - by_delta[quiet]) > 100
    assert np.max(np.abs(got - by_delta)) > 0.05 * np.max(np.abs(got))


def test_demo_var_cvar_equal_numpy_and_normal_formulas(demo):
    cfg, state, _, _, pnl, nav = demo
    rep = risk_report(cfg, state)
    assert rep.valuation.nav == pytest.approx(nav, rel=1e-12)
    book = sum(pnl.values()) / nav
    np.testing.assert_allclose(rep.book_returns, book, rtol=1e-9, atol=1e-14)
    assert {(t.method.split()[0], t.confidence) for t in rep.tail} == {
        (m, a) for m in ("historical", "parametric") for a in (0.95, 0.99)
    }
    for a in (0.95, 0.99):
        w = var_witness(book, a)
        for method in ("historical", "parametric"):
            t = rep.var(method, a)
            assert (t.var, t.cvar) == (
                pytest.approx(w[method][0], rel=1e-9),
                pytest.approx(w[method][1], rel=1e-9),
            ), (method, a)
            assert t.horizon_days == 1 and t.cvar >= t.var > 0
    assert rep.var("parametric", 0.95).method == "parametric (normal)"


def test_demo_performance_and_correlation(demo):
    cfg, state, rets, _, pnl, nav = demo
    rep = risk_report(cfg, state)
    w = perf_witness(sum(pnl.values()) / nav)
    for k, v in w.items():
        assert getattr(rep.performance, k) == pytest.approx(v, rel=1e-9), k
    assert rep.performance.n == 504
    # underlyings in book order (holdings, then SP500 for the ES and the put; AAPL once)
    names = [*HOLDINGS, "SP500"]
    assert list(rep.correlation.columns) == names == list(rep.correlation.index)
    np.testing.assert_allclose(
        rep.correlation.to_numpy(), rets[names].corr().to_numpy(), rtol=1e-12, atol=1e-14
    )
    assert rep.correlation.loc["AAPL", "MSFT"] == pytest.approx(
        np.corrcoef(rets["AAPL"], rets["MSFT"])[0, 1], rel=1e-12
    )


# -- hand-built desks ----------------------------------------------------------------------------
def synthetic_prices(n: int = 260, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2021-03-01", periods=n)
    rm = rng.normal(0.0002, 0.012, n)
    rm[150:160] = -0.03  # a drawdown to measure
    return pd.DataFrame(
        {
            "IDX": 4000 * np.cumprod(1 + rm),
            "AAA": 150 * np.cumprod(1 + 1.3 * rm + rng.normal(0, 0.01, n)),
            "BBB": 60 * np.cumprod(1 + 0.4 * rm + rng.normal(0, 0.013, n)),
        },
        index=dates,
    ).round(4)


def desk(tmp_path: Path, body: str, name: str = "desk.toml"):
    csv = tmp_path / "prices.csv"
    if not csv.exists():
        synthetic_prices().to_csv(csv, index_label="date")
    path = tmp_path / name
    path.write_text(
        '[data]\nsource = "files"\npaths = ["prices.csv"]\nbenchmark = "IDX"\n' + body,
        encoding="utf-8",
    )
    cfg = load_config(path)
    prices = pd.read_csv(csv, index_col="date", parse_dates=True)
    return cfg, market_state(cfg, load_market(cfg)), prices


LINEAR = """
[risk]
var_window = 120
beta_window = 60
[targets]
beta = 0.5
[book]
cash = 40000.0
[[book.holdings]]
ticker = "AAA"
quantity = 300
[[book.holdings]]
ticker = "BBB"
quantity = -150
[[book.hedges]]
name = "fut"
instrument = "future"
contract = "MES"
underlying = "IDX"
price_scale = 1.5
quantity = -3
"""


def test_linear_pnl_history_by_plain_loop(tmp_path):
    cfg, state, prices = desk(tmp_path, LINEAR)
    lines = book_lines(cfg)
    got = pnl_history(lines, state)
    rets = returns_of(prices, ["IDX", "AAA", "BBB"]).iloc[-120:]
    close = prices.iloc[-1]
    units = {
        "AAA": (300, close["AAA"], "AAA"),
        "BBB": (-150, close["BBB"], "BBB"),
        "fut": (-3 * 5, 1.5 * close["IDX"], "IDX"),
    }
    assert got.shape == (120, 3)
    assert list(state.returns.index) == list(rets.index)
    for j, ln in enumerate(lines):
        q, price, u = units[ln.name]
        expected = []
        for day in range(len(rets)):
            expected.append(q * price * rets[u].iloc[day])
        np.testing.assert_allclose(got[:, j], expected, rtol=1e-10, atol=1e-9, err_msg=ln.name)
    nav = 40000.0 + 300 * close["AAA"] - 150 * close["BBB"]
    rep = risk_report(cfg, state)
    np.testing.assert_allclose(rep.book_returns, got.sum(axis=1) / nav, rtol=1e-12)
    book = (
        np.array(
            [
                sum(units[k][0] * units[k][1] * rets[units[k][2]].iloc[d] for k in units)
                for d in range(len(rets))
            ]
        )
        / nav
    )
    w = var_witness(book, 0.95)
    assert rep.var("historical", 0.95).var == pytest.approx(w["historical"][0], rel=1e-9)
    assert rep.var("parametric", 0.95).cvar == pytest.approx(w["parametric"][1], rel=1e-9)
    np.testing.assert_allclose(
        rep.correlation.to_numpy(), rets[["AAA", "BBB", "IDX"]].corr().to_numpy(), rtol=1e-12
    )


def test_var_confidence_from_config_is_reported(tmp_path):
    cfg, state, prices = desk(
        tmp_path, LINEAR.replace("var_window = 120", "var_window = 120\nvar_confidence = 0.9")
    )
    rep = risk_report(cfg, state)
    assert sorted(t.confidence for t in rep.tail) == [0.9, 0.9, 0.95, 0.95, 0.99, 0.99]
    rets = returns_of(prices, ["IDX", "AAA", "BBB"]).iloc[-120:]
    close = prices.iloc[-1]
    money = (
        300 * close["AAA"] * rets["AAA"]
        - 150 * close["BBB"] * rets["BBB"]
        - 15 * 1.5 * close["IDX"] * rets["IDX"]
    )
    book = money.to_numpy() / (40000.0 + 300 * close["AAA"] - 150 * close["BBB"])
    w = var_witness(book, 0.9)
    assert rep.var("historical", 0.9).var == pytest.approx(w["historical"][0], rel=1e-9)
    assert rep.var("historical", 0.9).cvar == pytest.approx(w["historical"][1], rel=1e-9)


# -- alerts: a book holding the benchmark alone has beta 1 and returns r_IDX ----------------------
def index_book(beta: float, vol: float, var: float, mdd: float) -> str:
    return (
        f"[risk]\nvar_window = 200\nbeta_window = 60\n[targets]\nbeta = {beta!r}\n"
        f"beta_band = 0.05\nvolatility = {vol!r}\nvar_limit = {var!r}\n"
        f"max_drawdown = {mdd!r}\n[book]\ncash = 0.0\n"
        '[[book.holdings]]\nticker = "IDX"\nquantity = 10\n'
    )


@pytest.fixture
def index_witness():
    r = returns_of(synthetic_prices(), ["IDX"]).iloc[-200:]["IDX"].to_numpy()
    w = perf_witness(r)
    return {
        "var": float(var_witness(r, 0.95)["historical"][0]),
        "vol": float(w["annual_volatility"]),
        "mdd": float(-w["max_drawdown"]),
    }


@pytest.mark.parametrize("breach", [None, "beta", "var", "vol", "drawdown"])
def test_alerts_fire_only_when_a_target_is_breached(tmp_path, index_witness, breach):
    w = index_witness
    assert 0 < w["var"] < 0.5 and 0 < w["mdd"] < 0.5  # the drawdown days are in the window
    limits = {"beta": 1.0, "vol": w["vol"] * 1.01, "var": w["var"] * 1.01, "mdd": w["mdd"] * 1.01}
    if breach == "beta":
        limits["beta"] = 0.9
    elif breach == "var":
        limits["var"] = w["var"] * 0.99
    elif breach == "vol":
        limits["vol"] = w["vol"] * 0.99
    elif breach == "drawdown":
        limits["mdd"] = w["mdd"] * 0.99
    cfg, state, _ = desk(tmp_path, index_book(**limits))
    rep = risk_report(cfg, state)
    assert rep.valuation.portfolio_beta == pytest.approx(1.0, rel=1e-12)
    assert rep.var("historical", 0.95).var == pytest.approx(w["var"], rel=1e-9)
    kinds = {
        "beta": "beta BREACH ↑",
        "var": "VaR BREACH",
        "vol": "VOL ABOVE TARGET",
        "drawdown": "DRAWDOWN",
    }
    fired = [k for k, prefix in kinds.items() if any(a.startswith(prefix) for a in rep.alerts)]
    assert fired == ([] if breach is None else [breach]), rep.alerts
    assert len(rep.alerts) == len(fired)


@pytest.mark.parametrize("breach", ["beta", "var", "vol", "drawdown"])
def test_alert_items_carry_the_witnessed_value_and_the_limit(tmp_path, index_witness, breach):
    """The structured alert (hedgedesk.core.book.alerts) behind each sentence: its value is the
    witness's
    figure, its limit the config's bound, its direction the side crossed.
    """
    w = index_witness
    limits = {"beta": 1.0, "vol": w["vol"] * 1.01, "var": w["var"] * 1.01, "mdd": w["mdd"] * 1.01}
    key, value, limit, direction = {
        "beta": ("beta", 1.0, 0.9 + 0.05, "above"),
        "var": ("var", w["var"], w["var"] * 0.99, "above"),
        "vol": ("volatility", w["vol"], w["vol"] * 0.99, "above"),
        "drawdown": ("drawdown", -w["mdd"], -w["mdd"] * 0.99, "below"),
    }[breach]
    limits[{"beta": "beta", "var": "var", "vol": "vol", "drawdown": "mdd"}[breach]] = (
        0.9 if breach == "beta" else abs(limit)
    )
    cfg, state, _ = desk(tmp_path, index_book(**limits))
    rep = risk_report(cfg, state)
    (a,) = rep.alert_items
    assert (a.key, a.direction, a.arrow) == (key, direction, "↑" if direction == "above" else "↓")
    assert a.value == pytest.approx(value, rel=1e-9)
    assert a.limit == pytest.approx(limit, rel=1e-12)
    assert rep.alerts == (a.message,)
    assert a.bounds == ((pytest.approx(0.85), pytest.approx(0.95)) if breach == "beta" else None)


def test_cvar_includes_returns_tied_with_the_quantile(tmp_path):
    """Prices walking on five levels give bitwise-equal returns; the 5 % quantile lands inside
    a run of ties, so CVaR = -mean(R[R <= q]) must include the returns equal to q.
    """
    rng = np.random.default_rng(4)
    levels = np.array([96.0, 98.0, 100.0, 102.0, 104.0])
    i, path = 2, []
    for _ in range(241):
        i = int(np.clip(i + rng.choice([-1, 1]), 0, 4))
        path.append(levels[i])
    pd.DataFrame({"IDX": path}, index=pd.bdate_range("2022-01-03", periods=241)).to_csv(
        tmp_path / "prices.csv", index_label="date"
    )
    cfg, state, prices = desk(
        tmp_path,
        "[risk]\nvar_window = 240\n[targets]\nbeta = 1.0\n"
        '[book]\ncash = 0.0\n[[book.holdings]]\nticker = "IDX"\n'
        "quantity = 3\n",
    )
    r = returns_of(prices, ["IDX"])["IDX"].to_numpy()
    q = np.quantile(r, 0.05)
    assert (r == q).sum() > 1 and (r < q).sum() < (r <= q).sum()  # the case is a tie
    rep = risk_report(cfg, state)
    np.testing.assert_allclose(rep.book_returns, r, rtol=1e-12, atol=1e-15)
    w = var_witness(r, 0.95)
    got = rep.var("historical", 0.95)
    assert (got.var, got.cvar) == (
        pytest.approx(w["historical"][0], rel=1e-12),
        pytest.approx(w["historical"][1], rel=1e-12),
    )


def test_demo_beta_history_is_statsmodels_rolling_ols(demo):
    """The desk's beta sparkline: today's book through history, 63-return OLS windows."""
    import statsmodels.api as sm

    cfg, state = demo[0], demo[1]
    rep = risk_report(cfg, state)
    bench = state.returns[state.benchmark].to_numpy()
    assert np.isnan(rep.beta_history[:62]).all()
    for end in (63, 200, len(bench)):
        x, y = bench[end - 63 : end], rep.book_returns[end - 63 : end]
        fit = sm.OLS(y, sm.add_constant(x)).fit()
        assert rep.beta_history[end - 1] == pytest.approx(fit.params[1], rel=1e-10)

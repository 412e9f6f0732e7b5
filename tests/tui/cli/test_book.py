"""The book commands of ``hedgedesk`` (tui/cli/book.py), run in-process through
``hedgedesk.tui.cli.main.main``.

Witnesses are independent of the code under test: the demo price files read here with pandas,
betas refitted with statsmodels, option premiums and deltas from a Black-Scholes-Merton closed
form written here, Greeks of ``greeks`` from QuantLib, contract counts from the CONVENTIONS
formula, and the ``backtest`` from a second, plain implementation of the CONVENTIONS recipe.
Where a figure is the engine's by design (VaR list, scenario table) it is held equal to the
engine's own call, which tests/core witnesses independently.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from hedgedesk.core.book.risk import risk_report
from hedgedesk.core.book.scenarios import run_scenarios
from hedgedesk.core.book.valuation import market_state
from hedgedesk.core.config import load_config, resolve_config_path
from hedgedesk.core.data.sources import load_market
from hedgedesk.core.demo import demo_config_path, demo_dir
from hedgedesk.tui.cli.main import main
from tests.witness import bsm


# -- harness -----------------------------------------------------------------------------------
def run_json(capsys, *argv: str) -> dict:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    assert rc == 0, err
    obj = json.loads(out)  # all of stdout is one JSON document
    assert isinstance(obj, dict)
    assert out.lstrip().startswith("{") and out.rstrip().endswith("}")
    return obj


def run_error(capsys, *argv: str) -> str:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    assert rc == 2, (rc, out, err)
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("hedgedesk: error: ") and "Traceback" not in err
    return err


def round_half_away(x: float) -> int:
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


# -- the demo desk, from the files ---------------------------------------------------------------
ASOF = dt.date(2022, 12, 28)
HOLD = {
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


@pytest.fixture(scope="module")
def demo() -> dict:
    frames = [
        pd.read_csv(demo_dir() / f, index_col=0, parse_dates=True)
        for f in ("sp500_dataset.csv.gz", "sp500_index.csv.gz")
    ]
    prices = frames[0].join(frames[1], how="inner")
    prices = prices[prices.index >= pd.Timestamp("2015-01-02")]
    rets = (prices / prices.shift(1) - 1).iloc[1:]
    close = prices.loc[pd.Timestamp(ASOF)]
    beta = {"SP500": 1.0}
    for t in HOLD:
        rows = rets[[t, "SP500"]].iloc[-252:]
        beta[t] = float(
            sm.OLS(rows[t].to_numpy(), sm.add_constant(rows["SP500"].to_numpy())).fit().params[1]
        )
    nav = 150_000.0 + sum(q * close[t] for t, q in HOLD.items())
    bd = sum(q * close[t] * beta[t] for t, q in HOLD.items()) - 2 * 50 * close["SP500"]
    for right, u, k, exp, n, vol, q in (
        ("put", "SP500", 3400, dt.date(2023, 3, 17), 2, 0.24, 0.016),
        ("call", "AAPL", 140, dt.date(2023, 1, 20), -3, 0.35, 0.007),
    ):
        g = bsm(right, close[u], k, (exp - ASOF).days / 365, 0.04, q, vol)
        nav += n * 100 * g["price"]
        bd += n * 100 * g["delta"] * close[u] * beta[u]
    core = sum(q * close[t] for t, q in HOLD.items())
    return {"prices": prices, "close": close, "nav": nav, "beta": bd / nav, "core": core}


@pytest.fixture(scope="module")
def engine():
    cfg = load_config(resolve_config_path())
    market = load_market(cfg)
    return cfg, market, market_state(cfg, market)


# -- risk ------------------------------------------------------------------------------------------
def test_risk_json(capsys, demo, engine):
    out = run_json(capsys, "risk", "--json")
    assert out["asof"] == "2022-12-28" and out["benchmark"] == "SP500"
    assert out["nav"] == pytest.approx(demo["nav"], rel=1e-12)
    assert out["cash"] == 150_000.0
    assert out["beta"]["portfolio"] == pytest.approx(demo["beta"], rel=1e-9)
    assert out["beta"]["target"] == 0.5 and out["beta"]["window"] == 252
    assert out["beta"]["breach"] == (abs(demo["beta"] - 0.5) > 0.05)
    rep = risk_report(engine[0], engine[2])
    assert out["nav"] == pytest.approx(rep.valuation.nav, rel=1e-15)
    got = {(v["method"], v["confidence"]): (v["var"], v["cvar"]) for v in out["var"]}
    assert got == {
        (t.method, t.confidence): (
            pytest.approx(t.var, rel=1e-15),
            pytest.approx(t.cvar, rel=1e-15),
        )
        for t in rep.tail
    }
    assert len(got) == 4 and all(v["horizon_days"] == 1 for v in out["var"])
    assert out["alerts"] == list(rep.alerts)
    names = [p["name"] for p in out["positions"]]
    assert names == [*HOLD, "ES short", "SPX put 3400", "AAPL covered call 140"]
    aapl = out["positions"][0]
    assert aapl["market_value"] == pytest.approx(1500 * demo["close"]["AAPL"], rel=1e-12)
    assert out["risk"]["window"]["days"] == 504
    assert out["greeks"]["options_raw"]["delta"] == pytest.approx(
        sum(p["greeks"]["delta"] for p in out["positions"] if p["greeks"]), rel=1e-12
    )


# -- greeks -------------------------------------------------------------------------------------
def quantlib_greeks(
    right: str, s: float, k: float, days: int, vol: float, r: float, q: float
) -> dict:
    ql = pytest.importorskip("QuantLib")
    settings = ql.Settings.instance()
    saved = settings.evaluationDate
    today = ql.Date(15, 1, 2024)
    settings.evaluationDate = today
    try:
        dc = ql.Actual365Fixed()
        kind = ql.Option.Put if right == "put" else ql.Option.Call
        option = ql.VanillaOption(ql.PlainVanillaPayoff(kind, k), ql.EuropeanExercise(today + days))
        process = ql.BlackScholesMertonProcess(
            ql.QuoteHandle(ql.SimpleQuote(s)),
            ql.YieldTermStructureHandle(ql.FlatForward(today, q, dc, ql.Continuous)),
            ql.YieldTermStructureHandle(ql.FlatForward(today, r, dc, ql.Continuous)),
            ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, ql.NullCalendar(), vol, dc)),
        )
        option.setPricingEngine(ql.AnalyticEuropeanEngine(process))
        return {
            "price": option.NPV(),
            "delta": option.delta(),
            "gamma": option.gamma(),
            "vega": option.vega(),
            "theta": option.theta(),
            "rho": option.rho(),
        }
    finally:
        settings.evaluationDate = saved


@pytest.mark.parametrize(("right", "div"), [("put", "0"), ("call", "0.02")])
def test_greeks_json_equals_quantlib(capsys, right, div):
    out = run_json(
        capsys,
        "greeks",
        "--type",
        right,
        "--spot",
        "100",
        "--strike",
        "95",
        "--days",
        "30",
        "--vol",
        "0.25",
        "--rate",
        "0.04",
        "--div",
        div,
        "--json",
    )
    ql = quantlib_greeks(right, 100.0, 95.0, 30, 0.25, 0.04, float(div))
    for k, v in ql.items():
        assert out[k] == pytest.approx(v, rel=1e-8, abs=1e-10), k
    assert out["t_years"] == pytest.approx(30 / 365, rel=1e-15)
    assert out["vol"] == 0.25 and out["vol_from_price"] is False and out["model"] == "bsm"
    assert out["theta"] < 0  # per year, a long option decays
    cf = bsm(right, 100.0, 95.0, 30 / 365, 0.04, float(div), 0.25)
    assert out["price"] == pytest.approx(cf["price"], rel=1e-12)


def test_greeks_price_round_trip(capsys):
    price = bsm("put", 100.0, 95.0, 30 / 365, 0.04, 0.0, 0.25)["price"]
    out = run_json(
        capsys,
        "greeks",
        "--type",
        "put",
        "--spot",
        "100",
        "--strike",
        "95",
        "--days",
        "30",
        "--price",
        repr(float(price)),
        "--rate",
        "0.04",
        "--json",
    )
    assert out["vol_from_price"] is True
    assert out["vol"] == pytest.approx(0.25, abs=1e-9)
    assert out["price"] == pytest.approx(price, rel=1e-9)


def test_greeks_text_output_names_units(capsys):
    rc = main(
        [
            "greeks",
            "--type",
            "call",
            "--spot",
            "100",
            "--strike",
            "100",
            "--days",
            "365",
            "--vol",
            "0.2",
        ]
    )
    out, _ = capsys.readouterr()
    assert rc == 0
    price = bsm("call", 100.0, 100.0, 1.0, 0.0, 0.0, 0.2)["price"]
    assert f"{price:.6f}" in out and "per vol point" in out and "per day" in out


# -- scenario -------------------------------------------------------------------------------------
def test_scenario_json_all_and_by_name(capsys, demo, engine):
    cfg, market, state = engine
    out = run_json(capsys, "scenario", "--json")
    assert [s["name"] for s in out["scenarios"]] == [s.name for s in cfg.scenarios]
    assert out["nav"] == pytest.approx(demo["nav"], rel=1e-12)
    expected = {r.scenario.name: r for r in run_scenarios(cfg, state, market)}
    for s in out["scenarios"]:
        r = expected[s["name"]]
        assert s["pnl"] == pytest.approx(r.pnl, rel=1e-12)
        assert s["beta_after"] == pytest.approx(r.after.portfolio_beta, rel=1e-12)
        assert set(s["without_leg"]) == {"ES short", "SPX put 3400", "AAPL covered call 140"}
    crash = next(s for s in out["scenarios"] if s["name"] == "Market crash -30%")
    spx = demo["close"]["SP500"]
    assert crash["shocks"]["SP500"] == pytest.approx(-0.3, rel=1e-12)
    assert crash["without_leg"]["ES short"]["leg_value"] == pytest.approx(
        -100 * spx * -0.3, rel=1e-9
    )
    assert crash["pnl_pct"] == pytest.approx(crash["pnl"] / demo["nav"], rel=1e-9)
    one = run_json(capsys, "scenario", "--name", "Market crash -30%", "--json")
    assert [s["name"] for s in one["scenarios"]] == ["Market crash -30%"]
    assert one["scenarios"][0]["pnl"] == crash["pnl"]
    two = run_json(
        capsys, "scenario", "--name", "COVID crash (replay)", "--name", "Volatility spike", "--json"
    )
    assert {s["name"] for s in two["scenarios"]} == {"COVID crash (replay)", "Volatility spike"}
    covid = next(s for s in two["scenarios"] if s["replay"])
    p = demo["prices"]
    assert covid["replay"] == ["2020-02-19", "2020-03-23"]
    assert covid["shocks"]["AAPL"] == pytest.approx(
        p.loc["2020-03-23", "AAPL"] / p.loc["2020-02-19", "AAPL"] - 1, rel=1e-12
    )


# -- size and trades ------------------------------------------------------------------------------
def test_size_mes_to_target_beta(capsys, demo):
    out = run_json(capsys, "size", "--instrument", "MES", "--target-beta", "0.3", "--json")
    spx = demo["close"]["SP500"]
    unrounded = (0.3 - demo["beta"]) * demo["nav"] / (spx * 5 * 1.0)
    assert out["unrounded"] == pytest.approx(unrounded, rel=1e-9)
    assert out["contracts"] == round_half_away(unrounded)
    assert out["contracts"] < -5  # a real sale, not a rounding artefact
    assert out["price"] == spx and out["multiplier"] == 5 and out["beta_of_future"] == 1.0
    assert out["priced_from"] == "SP500" and out["held"] == 0 and out["instrument"] == "MES"
    assert out["beta_after"] == pytest.approx(
        demo["beta"] + out["contracts"] * spx * 5 / demo["nav"], rel=1e-9
    )
    es = run_json(capsys, "size", "--instrument", "ES", "--json")  # target from the config
    assert es["beta_target"] == 0.5 and es["held"] == -2
    assert es["unrounded"] == pytest.approx(
        (0.5 - demo["beta"]) * demo["nav"] / (spx * 50), rel=1e-9
    )


def test_trades_json(capsys, demo):
    spx, aapl, core = demo["close"]["SP500"], demo["close"]["AAPL"], demo["core"]
    out = run_json(capsys, "trades", "--json")
    assert out["nav"] == pytest.approx(demo["nav"]) and out["asof"] == "2022-12-28"
    assert out["scaled"] is False
    by = {t["instrument"].split()[0]: t for t in out["trades"]}
    n_es = round_half_away((0.5 - demo["beta"]) * demo["nav"] / (spx * 50))
    assert ("ES" in by) == (n_es != 0)
    # the two SPX puts already cover more than the 25 % target: no put to buy
    assert 2 * 100 * spx / core > 0.25 and "SP500" not in by
    calls = round_half_away((0.15 - 3 * 100 * aapl / core) * core / (aapl * 100))
    assert by["AAPL"]["contracts"] == min(calls, (1500 - 300) // 100)
    assert by["AAPL"]["side"] == "sell"
    big = run_json(capsys, "trades", "--nav", "5000000", "--json")
    assert big["nav"] == pytest.approx(5_000_000) and big["scaled"] is True
    es = next(t for t in big["trades"] if t["instrument"].startswith("ES"))
    unrounded = (0.5 - demo["beta"]) * 5e6 / (spx * 50)
    assert es["inputs"]["unrounded"] == pytest.approx(unrounded, rel=1e-9)
    assert es["contracts"] == abs(round_half_away(unrounded)) >= 1
    assert es["side"] == ("buy" if unrounded > 0 else "sell")
    # scaling scales the puts with the core: coverage is still met, covered calls scale
    assert not [t for t in big["trades"] if t["instrument"].startswith("SP500")]
    k = 5e6 / demo["nav"]
    call = next(t for t in big["trades"] if t["instrument"].startswith("AAPL"))
    wanted = round_half_away((0.15 - 3 * 100 * aapl / core) * core * k / (aapl * 100))
    assert call["contracts"] == min(wanted, int((1500 - 300) * k // 100)) >= 1


def test_size_plan_momentum_and_zscore_from_the_files(capsys, demo):
    out = run_json(capsys, "size", "--instrument", "ES", "--json")
    aapl = demo["prices"]["AAPL"]
    aapl = aapl[aapl.index <= pd.Timestamp(ASOF)].to_numpy()
    sig = out["plan"]["signals"]["AAPL"]
    assert sig["momentum"] == pytest.approx(aapl[-22] / aapl[-253] - 1, rel=1e-12)
    last = aapl[-20:]
    assert sig["zscore"] == pytest.approx((aapl[-1] - last.mean()) / last.std(ddof=1), rel=1e-9)
    assert "zscore = (close - SMA20)" in out["plan"]["conventions"]


def test_size_plan_kelly_fraction_leverage_alert_and_buckets(capsys):
    text = _demo_config_text().replace("[targets]\n", "[targets]\nkelly_fraction = 0.2\n", 1)
    out = run_json(capsys, "size", "--instrument", "ES", "--config", _tmp_config(text), "--json")
    plan = out["plan"]
    k = plan["kelly"]
    assert k["fraction"] == 0.2
    assert k["leverage"] == pytest.approx(0.2 * k["edge"] / k["variance"], rel=1e-12)
    assert plan["leverage_alert"] == 2.0
    assert (plan["leverage_warning"] is not None) == (abs(k["leverage"]) > 2.0)
    bp = plan["bucket_risk_parity"]
    assert bp["buckets"] == ["core", "hedges"]  # the stocks; the ES, puts and calls
    w = np.array(bp["weights"])
    assert w.sum() == pytest.approx(1.0) and np.all(w > 0)
    assert bp["risk_contributions"] == pytest.approx([0.5, 0.5], abs=1e-7)


def test_trades_json_sleeves_conventions_and_skipped(capsys, demo):
    """A [plan] with a gold sleeve priced from XOM (a stand-in proxy) and an EUR/USD sleeve with
    no price: the gold contracts by hand, the FX sleeve one line naming the proxy to add.
    """
    text = _demo_config_text().replace(
        'MES = { underlying = "SP500" }',
        'MES = { underlying = "SP500" }\nGC = { underlying = "XOM" }',
    ) + (
        "[plan]\nsleeves = ["
        '{ name = "gold", bucket = "commodities", contract = "GC", weight = 0.05 }, '
        '{ name = "EUR/USD", bucket = "fx", contract = "6E", usd = -3000000.0 }]\n'
    )
    path = _tmp_config(text)
    out = run_json(capsys, "trades", "--config", path, "--json")
    assert "conventions" in out and "rounded half away from zero" in out["conventions"]
    gold = next(t for t in out["trades"] if t["instrument"].startswith("GC"))
    n = round_half_away(0.05 * demo["nav"] / (demo["close"]["XOM"] * 100))
    assert n >= 2 and gold["contracts"] == n and gold["side"] == "buy"
    assert gold["size_usd"] == pytest.approx(n * demo["close"]["XOM"] * 100, rel=1e-9)
    (skip,) = out["skipped"]
    assert skip["leg"] == "EUR/USD" and "add [proxies] 6E" in skip["reason"]
    assert out["beta"]["residual"] == pytest.approx(out["beta"]["after"] - 0.5, abs=1e-12)
    rc = main(["trades", "--config", path])
    text_out = capsys.readouterr().out
    assert rc == 0 and "SKIPPED EUR/USD: 6E (Euro FX): no price: add [proxies] 6E" in text_out
    assert f"{'BUY':<5}{n:>6} GC (Gold)" in text_out


# -- backtest -------------------------------------------------------------------------------------
def conventions_backtest(rl: np.ndarray, rh: np.ndarray, period: int, window: int):
    """CONVENTIONS "Dynamic-beta hedge backtest" with k = h = 1, no cost, no drift band."""
    e, long_n, short_n = 1.0, 0.0, 0.0
    curve, betas = [1.0], []
    for t in range(len(rl)):
        if t > 0:
            e += long_n * rl[t] - short_n * rh[t]
            long_n *= 1 + rl[t]
            short_n *= 1 + rh[t]
        if t >= window - 1 and (t - (window - 1)) % period == 0:
            x, y = rh[t - window + 1 : t + 1], rl[t - window + 1 : t + 1]
            b = np.polyfit(x, y, 1)[0]
            betas.append(b)
            long_n, short_n = e, b * e
        if t >= window - 1:
            curve.append(e)
    return np.array(curve), betas


def test_backtest_json_matches_a_second_implementation(capsys, demo):
    out = run_json(
        capsys,
        "backtest",
        "--long",
        "AAPL",
        "--hedge",
        "SP500",
        "--rebalance",
        "5",
        "--window",
        "60",
        "--json",
    )
    for key in ("metrics", "betas", "equity", "rebalances", "params"):
        assert key in out
    for key in (
        "annual_return",
        "annual_volatility",
        "sharpe",
        "sortino",
        "max_drawdown",
        "calmar",
    ):
        assert isinstance(out["metrics"][key], float), key
    p = demo["prices"][["AAPL", "SP500"]]
    r = (p / p.shift(1) - 1).iloc[1:]
    curve, betas = conventions_backtest(r["AAPL"].to_numpy(), r["SP500"].to_numpy(), 5, 60)
    hedged = np.array([row["hedged"] for row in out["equity"]])
    np.testing.assert_allclose(hedged, curve, rtol=1e-9)
    np.testing.assert_allclose([b["beta"] for b in out["betas"]], betas, rtol=1e-7)
    assert out["equity"][0]["date"] == r.index[58].date().isoformat()
    assert out["betas"][0]["date"] == r.index[59].date().isoformat()
    assert len(out["rebalances"]) == len(betas)
    rr = curve[1:] / curve[:-1] - 1
    n = len(rr)
    ann = curve[-1] ** (252 / n) - 1
    mdd = float(np.min(curve / np.maximum.accumulate(curve) - 1))
    m = out["metrics"]
    assert m["annual_return"] == pytest.approx(ann, rel=1e-8)
    assert m["annual_volatility"] == pytest.approx(rr.std(ddof=1) * math.sqrt(252), rel=1e-8)
    assert m["sharpe"] == pytest.approx(rr.mean() / rr.std(ddof=1) * math.sqrt(252), rel=1e-8)
    assert m["sortino"] == pytest.approx(
        rr.mean() / math.sqrt(np.mean(np.minimum(rr, 0) ** 2)) * math.sqrt(252), rel=1e-8
    )
    assert m["max_drawdown"] == pytest.approx(mdd, rel=1e-8)
    assert m["calmar"] == pytest.approx(ann / abs(mdd), rel=1e-8)
    params = out["params"]
    assert (params["long"], params["hedge"], params["rebalance"], params["window"]) == (
        ["AAPL"],
        "SP500",
        5,
        60,
    )
    assert params["start"] == "2015-01-02"


# -- bad input: exit 2, one line on stderr, nothing on stdout -------------------------------------
GREEKS = ("greeks", "--type", "put", "--spot", "100", "--strike", "95", "--days", "30")
BACKTEST = ("backtest", "--hedge", "SP500", "--rebalance", "5")


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        ((*GREEKS,), "--vol or --price"),
        ((*GREEKS, "--vol", "-0.25"), "-0.25"),
        (
            (
                "greeks",
                "--type",
                "put",
                "--spot",
                "100",
                "--strike",
                "95",
                "--days",
                "0",
                "--vol",
                "0.2",
            ),
            "--days",
        ),
        (("size", "--instrument", "XYZ", "--target-beta", "0.3"), "XYZ"),
        (("size", "--instrument", "NQ"), "[proxies] NQ"),  # a contract with no price
        (
            (
                "greeks",
                "--type",
                "call",
                "--spot",
                "100",
                "--strike",
                "95",
                "--days",
                "30",
                "--price",
                "1.0",
            ),
            "intrinsic",
        ),
        (
            (
                "greeks",
                "--type",
                "call",
                "--spot",
                "100",
                "--strike",
                "95",
                "--days",
                "30",
                "--vol",
                "0.2",
                "--price",
                "8.0",
            ),
            "not both",
        ),
        (("scenario", "--name", "No such scenario"), "No such scenario"),
        ((*BACKTEST, "--long", "AAPL", "--window", "5000"), "too little history"),
        ((*BACKTEST, "--long", "AAPL,MSFT", "--weighting", "volume", "--window", "60"), "volume"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, argv, needle):
    err = run_error(capsys, *argv, "--json")
    assert needle in err


def _demo_config_text() -> str:
    return demo_config_path().read_text(encoding="utf-8")


def test_expired_option_in_config(capsys, tmp_path):
    text = _demo_config_text()
    assert 'expiry = "2023-01-20"' in text
    path = tmp_path / "expired.toml"
    path.write_text(text.replace('expiry = "2023-01-20"', 'expiry = "2022-12-16"'), "utf-8")
    for command in ("risk", "scenario", "trades"):
        err = run_error(capsys, command, "--config", str(path), "--json")
        assert "expired" in err and "AAPL covered call 140" in err


def test_unknown_instrument_type_in_config(capsys, tmp_path):
    text = _demo_config_text()
    path = tmp_path / "swap.toml"
    path.write_text(text.replace('instrument = "future"', 'instrument = "swap"', 1), "utf-8")
    err = run_error(capsys, "risk", "--config", str(path), "--json")
    assert "swap" in err and "instrument" in err


def test_zero_variance_benchmark_window(capsys, tmp_path):
    rng = np.random.default_rng(2)
    dates = pd.bdate_range("2023-01-02", periods=80)
    frame = pd.DataFrame(
        {"LONGA": (100 * np.cumprod(1 + rng.normal(0, 0.01, 80))).round(4), "FLAT": 50.0},
        index=dates,
    )
    path = tmp_path / "flat.csv"
    frame.to_csv(path, index_label="date")
    err = run_error(
        capsys,
        "backtest",
        "--data",
        str(path),
        "--long",
        "LONGA",
        "--hedge",
        "FLAT",
        "--rebalance",
        "5",
        "--window",
        "20",
        "--json",
    )
    assert "FLAT" in err and "constant" in err


def test_config_flag_reaches_the_engine(capsys, tmp_path):
    """A tmp copy with more cash: NAV moves by exactly the extra cash."""
    text = _demo_config_text()
    path = tmp_path / "cash.toml"
    path.write_text(text.replace("cash = 150000.0", "cash = 250000.0"), "utf-8")
    base = run_json(capsys, "risk", "--json")
    more = run_json(capsys, "risk", "--config", str(path), "--json")
    assert more["nav"] - base["nav"] == pytest.approx(100_000.0, rel=1e-12)
    assert more["beta"]["portfolio"] == pytest.approx(
        base["beta"]["portfolio"] * base["nav"] / more["nav"], rel=1e-12
    )


def _crypto_desk(tmp_path, body: str) -> str:
    """A 7-day book: two coins on every calendar day, the benchmark a coin too."""
    rng = np.random.default_rng(5)
    days = pd.date_range("2022-01-01", periods=400, freq="D")
    m = rng.normal(0.0, 0.03, len(days))
    frame = pd.DataFrame(
        {
            "BTC": 40000 * np.cumprod(1 + m),
            "ETH": 3000 * np.cumprod(1 + 1.2 * m + rng.normal(0, 0.02, len(days))),
        },
        index=days,
    ).round(2)
    frame.to_csv(tmp_path / "coins.csv", index_label="date")
    path = tmp_path / "coins.toml"
    path.write_text(
        '[data]\nsource = "files"\npaths = ["coins.csv"]\nbenchmark = "BTC"\n'
        "[risk]\nbeta_window = 90\nvar_window = 300\n[targets]\nbeta = 0.5\n" + body,
        encoding="utf-8",
    )
    return str(path)


def test_crypto_only_book_annualises_with_365(capsys, tmp_path):
    cfg = _crypto_desk(
        tmp_path, '[book]\ncash = 0.0\n[[book.holdings]]\nticker = "ETH"\nquantity = 10\n'
    )
    out = run_json(capsys, "risk", "--config", cfg, "--json")
    frame = pd.read_csv(tmp_path / "coins.csv", index_col=0)
    r = frame["ETH"].pct_change().dropna().to_numpy()[-300:]
    assert out["risk"]["annual_volatility"] == pytest.approx(r.std(ddof=1) * np.sqrt(365))
    assert "365 periods" in out["conventions"]["annualisation"]


def test_size_on_a_book_without_holdings_reports_what_it_can(capsys, tmp_path):
    cfg = _crypto_desk(
        tmp_path,
        '[proxies]\nMBT = { underlying = "BTC" }\n[book]\n'
        'cash = 100000.0\n[[book.hedges]]\nname = "coins"\n'
        'instrument = "crypto"\nunderlying = "ETH"\nquantity = 5\n',
    )
    out = run_json(capsys, "size", "--instrument", "MBT", "--config", cfg, "--json")
    assert out["plan"]["risk_parity"] is None and out["contracts"] != 0


def test_poor_hedge_is_flagged(capsys):
    # MES priced from a low-beta stock: a poor beta hedge, and the output says so
    text = _demo_config_text().replace(
        'MES = { underlying = "SP500" }', 'MES = { underlying = "KO" }'
    )
    out = run_json(capsys, "size", "--instrument", "MES", "--config", _tmp_config(text), "--json")
    assert any("poor beta hedge" in w for w in out["warnings"]) == (
        abs(out["beta_of_future"]) < 0.3
    )


def _tmp_config(text: str) -> str:
    import tempfile

    folder = tempfile.mkdtemp()
    path = f"{folder}/desk.toml"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path


def test_backtest_ruin_and_exposure_cap(capsys):
    err = run_error(
        capsys,
        "backtest",
        "--long",
        "AMD",
        "--hedge",
        "SP500",
        "--rebalance",
        "5",
        "--window",
        "60",
        "--exposure",
        "11",
    )
    assert "--exposure" in err
    err = run_error(
        capsys,
        "backtest",
        "--long",
        "AMD",
        "--hedge",
        "SP500",
        "--rebalance",
        "21",
        "--window",
        "60",
        "--exposure",
        "9",
        "--hedge-ratio",
        "0",
        "--start",
        "2019-06-01",
    )
    assert "exposure: the unhedged equity falls to zero or below" in err
    assert "lower the exposure" in err


def test_a_hedge_sized_on_a_two_return_beta_is_blamed_not_the_exposure(capsys):
    """W = 2 fits a line through two points: on 2015-01-28 AMD's and the S&P's two returns
    give a slope in the hundreds, the short hedge is hundreds of times the book, and the next
    day ruins it while the unhedged book is fine. The beta named is that slope (numpy).
    """
    err = run_error(
        capsys, "backtest", "--long", "AMD", "--hedge", "SP500", "--rebalance", "1",
        "--window", "2", "--hedge-ratio", "1",
    )  # fmt: skip
    assert err.startswith("hedgedesk: error: hedge: the hedged equity falls to zero or below")
    assert "while the unhedged book survives" in err and "exposure" not in err
    assert "fitted to 2 returns" in err and "expected a wider window or a lower hedge ratio" in err
    sized = re.search(r"sized on (\S+) on a beta of (\S+) fitted", err)
    market = load_market(load_config(resolve_config_path(None)))
    closes = pd.DataFrame(
        {t: pd.Series(market.get(t).close, index=market.get(t).dates) for t in ("AMD", "SP500")}
    ).dropna()
    returns = closes.pct_change().loc[: sized[1]].iloc[-2:]
    slope = np.polyfit(returns["SP500"], returns["AMD"], 1)[0]
    assert float(sized[2]) == pytest.approx(slope, rel=5e-3)  # printed to 3 figures


def test_var_window_longer_than_history(capsys):
    text = _demo_config_text().replace("var_window = 504", "var_window = 50000")
    err = run_error(capsys, "risk", "--config", _tmp_config(text))
    assert "risk.var_window" in err and "too little history" in err


def test_a_scenario_past_minus_100_percent_is_one_error_row_the_others_stand(capsys):
    """AMD's beta is about 2, so a -60 % market moves it past -100 %: that scenario is one row
    saying so, and every other scenario is the engine's own result.
    """
    text = _demo_config_text().replace(
        'name = "Market crash -40%"\nmarket = -0.40', 'name = "Wipe-out"\nmarket = -0.60'
    )
    assert "Wipe-out" in text
    path = _tmp_config(text)
    obj = run_json(capsys, "scenario", "--config", path, "--json")
    by_name = {s["name"]: s for s in obj["scenarios"]}
    assert "-100 % or worse" in by_name["Wipe-out"]["error"]
    assert "scenario 'Wipe-out'" in by_name["Wipe-out"]["error"]
    cfg = load_config(path)
    market = load_market(cfg)
    state = market_state(cfg, market)
    fine = run_scenarios(cfg, state, market, ["Market crash -30%"])[0]
    assert by_name["Market crash -30%"]["pnl"] == fine.pnl and "error" not in fine.__dict__
    assert main(["scenario", "--config", path]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "Wipe-out" in out and "not applied: scenario 'Wipe-out'" in out

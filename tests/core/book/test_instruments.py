"""FX, oil, VIX and sector legs (core/instruments.py, core/book/valuation.py) against closed forms.

Witnesses: CONVENTIONS' "Futures and contract sizing" (notional = quantity x multiplier x price,
futures settle daily so add no market value) and "Yields and FX" (a 6E future's notional is
125,000 x EURUSD USD; a spot FX leg's notional is its base amount x rate; a rate quoted per USD
is inverted for a USD-per-unit price), with prices read back here by pandas and betas refitted
with numpy's least squares on the same returns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hedgedesk.core.book.risk import risk_report
from hedgedesk.core.book.scenarios import run_scenarios
from hedgedesk.core.book.valuation import contract_price, market_state, value_book
from hedgedesk.core.config import load_config
from hedgedesk.core.data.sources import load_market
from hedgedesk.core.errors import ConfigError
from hedgedesk.core.instruments import CONTRACTS, FX_FUTURES

CASH = 5_000_000.0


def _prices(n: int = 320, seed: int = 17) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2021-01-04", periods=n)
    rm = rng.normal(0.0004, 0.011, n)
    cols = {
        "IDX": 4000 * np.cumprod(1 + rm),
        "EURUSD": 1.10 * np.cumprod(1 + 0.05 * rm + rng.normal(0, 0.005, n)),
        "USDJPY": 110 * np.cumprod(1 + 0.10 * rm + rng.normal(0, 0.006, n)),
        "WTI": 60 * np.cumprod(1 + 0.6 * rm + rng.normal(0, 0.02, n)),
        "VIX": 18 * np.cumprod(1 - 4.0 * rm + rng.normal(0, 0.03, n)),
        "XLK": 150 * np.cumprod(1 + 1.2 * rm + rng.normal(0, 0.006, n)),
    }
    return pd.DataFrame(cols, index=dates).round(6)


BOOK = """
[data]
source = "files"
paths = ["prices.csv"]
benchmark = "IDX"
[risk]
rate = 0.03
beta_window = 60
var_window = 200
[targets]
beta = 0.5
beta_band = 0.05
[book]
cash = 5000000.0
[[book.holdings]]
ticker = "XLK"
quantity = 10000
[[book.hedges]]
name = "6E short"
instrument = "future"
contract = "6E"
underlying = "EURUSD"
quantity = -4
purpose = "EUR/USD short"
[[book.hedges]]
name = "6J long"
instrument = "future"
contract = "6J"
underlying = "USDJPY"
invert = true
quantity = 3
purpose = "yen long"
[[book.hedges]]
name = "EUR spot short"
instrument = "fx"
underlying = "EURUSD"
quantity = -3000000
purpose = "EUR/USD short"
[[book.hedges]]
name = "JPY spot"
instrument = "fx"
underlying = "USDJPY"
invert = true
quantity = 100000000
purpose = "yen cash"
[[book.hedges]]
name = "CL short"
instrument = "future"
contract = "CL"
underlying = "WTI"
quantity = -2
purpose = "oil short"
[[book.hedges]]
name = "MCL long"
instrument = "future"
contract = "MCL"
underlying = "WTI"
quantity = 5
purpose = "oil trim"
[[book.hedges]]
name = "VX long"
instrument = "future"
contract = "VX"
underlying = "VIX"
quantity = 10
purpose = "volatility hedge"
[[book.hedges]]
name = "Tech sector short"
instrument = "equity"
underlying = "XLK"
quantity = -2000
purpose = "sector: technology underweight"
[[scenarios]]
name = "Market -10%"
market = -0.10
[[scenarios]]
name = "Yen +10%"
shocks = { "1/USDJPY" = 0.10 }
[[scenarios]]
name = "Replay"
replay = ["2021-06-01", "2021-09-01"]
"""


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fx")
    prices = _prices()
    prices.to_csv(folder / "prices.csv", index_label="date")
    (folder / "desk.toml").write_text(BOOK, encoding="utf-8")
    cfg = load_config(folder / "desk.toml")
    market = load_market(cfg)
    state = market_state(cfg, market)
    val = value_book(cfg, state)
    read = pd.read_csv(folder / "prices.csv", index_col="date", parse_dates=True)
    return cfg, market, state, {p.line.name: p for p in val.positions}, val, read


def _beta(asset: np.ndarray, bench: np.ndarray) -> float:
    x = np.column_stack([np.ones_like(bench), bench])
    return float(np.linalg.lstsq(x, asset, rcond=None)[0][1])


def test_contract_table_states_multipliers_and_quotes():
    sizes = {"6E": 125_000, "6J": 12_500_000, "6B": 62_500, "6C": 100_000, "6A": 100_000}
    sizes |= {"6S": 125_000, "CL": 1000, "MCL": 100, "VX": 1000}
    for code, size in sizes.items():
        assert CONTRACTS[code].multiplier == size
    for code in FX_FUTURES:
        spec = CONTRACTS[code]
        assert spec.quote == f"USD per {spec.unit}"  # the price the rate series must give


def test_fx_futures_notional_is_contract_size_times_usd_rate(desk):
    _, _, _, pos, _, px = desk
    last = px.iloc[-1]
    assert pos["6E short"].notional == pytest.approx(-4 * 125_000 * last["EURUSD"], rel=1e-12)
    # USDJPY is JPY per USD: 6J is priced in USD per JPY, 1 / close
    assert pos["6J long"].underlying_price == pytest.approx(1 / last["USDJPY"], rel=1e-12)
    assert pos["6J long"].notional == pytest.approx(3 * 12_500_000 / last["USDJPY"], rel=1e-12)
    for name in ("6E short", "6J long"):
        assert pos[name].market_value == 0.0  # settled daily
        assert "proxy: no futures basis, no roll" in pos[name].line.price_note()
    assert pos["6J long"].line.underlying == "1/USDJPY"
    assert "1/USDJPY close in USD per JPY" in pos["6J long"].line.price_note()
    assert "EURUSD close in USD per EUR" in pos["6E short"].line.price_note()


def test_spot_fx_is_base_amount_times_rate(desk):
    _, _, _, pos, val, px = desk
    last = px.iloc[-1]
    eur, jpy = pos["EUR spot short"], pos["JPY spot"]
    assert eur.market_value == pytest.approx(-3_000_000 * last["EURUSD"], rel=1e-12)
    assert eur.notional == eur.dollar_delta == eur.market_value
    assert jpy.market_value == pytest.approx(100_000_000 / last["USDJPY"], rel=1e-12)
    assert "spot FX" in eur.line.price_note() and "no carry" in eur.line.price_note()
    held = 10_000 * last["XLK"] - 2000 * last["XLK"]
    assert val.nav == pytest.approx(CASH + held + eur.market_value + jpy.market_value, rel=1e-12)


def test_oil_and_vix_futures_are_labelled_proxies(desk):
    _, _, _, pos, _, px = desk
    last = px.iloc[-1]
    assert pos["CL short"].notional == pytest.approx(-2 * 1000 * last["WTI"], rel=1e-12)
    assert pos["MCL long"].notional == pytest.approx(5 * 100 * last["WTI"], rel=1e-12)
    assert pos["VX long"].notional == pytest.approx(10 * 1000 * last["VIX"], rel=1e-12)
    for name in ("CL short", "MCL long", "VX long"):
        assert pos[name].market_value == 0.0
        assert "proxy" in pos[name].line.price_note()


def test_betas_and_beta_dollars_of_every_leg(desk):
    _, _, state, pos, val, px = desk
    r = px.pct_change().dropna()
    r["1/USDJPY"] = (1 / px["USDJPY"]).pct_change().dropna()
    window = r.iloc[-60:]
    for p in pos.values():
        t = p.line.underlying
        b = 1.0 if t == "IDX" else _beta(window[t].to_numpy(), window["IDX"].to_numpy())
        assert p.beta == pytest.approx(b, rel=1e-9)
        assert p.beta_dollars == pytest.approx(p.dollar_delta * b, rel=1e-9)
    assert val.portfolio_beta == pytest.approx(
        sum(p.dollar_delta * p.beta for p in pos.values()) / val.nav, rel=1e-12
    )
    # the VaR history holds the inverted series' own returns
    np.testing.assert_allclose(
        state.returns["1/USDJPY"].to_numpy(), r["1/USDJPY"].iloc[-200:].to_numpy(), rtol=1e-12
    )


def test_sector_leg_keeps_its_purpose(desk):
    cfg, _, _, pos, _, px = desk
    leg = pos["Tech sector short"]
    assert leg.line.purpose == "sector: technology underweight"
    assert leg.market_value == pytest.approx(-2000 * px.iloc[-1]["XLK"], rel=1e-12)
    assert {h.name: h.purpose for h in cfg.book.hedges}["CL short"] == "oil short"


def test_contract_price_of_an_inverted_future(desk):
    cfg, _, state, _, _, px = desk
    price, ticker, _ = contract_price("6J", cfg, state)
    assert (ticker, price) == ("1/USDJPY", pytest.approx(1 / px.iloc[-1]["USDJPY"], rel=1e-12))


def test_risk_and_scenarios_value_the_inverted_legs(desk):
    cfg, market, state, pos, val, px = desk
    assert "1/USDJPY" in market.tickers  # loaded with the market: replays and shocks see it
    assert risk_report(cfg, state).valuation.nav == pytest.approx(val.nav, rel=1e-12)
    market_move, yen, replay = run_scenarios(cfg, state, market)
    # every line moves by its beta x the market shock: futures by notional, the rest by value
    expected = sum(-0.10 * p.beta * p.notional for p in pos.values())
    assert market_move.pnl == pytest.approx(expected, rel=1e-9)
    # the yen +10 % in USD per JPY: the 6J future and the yen cash gain 10 % of their notional
    assert yen.pnl == pytest.approx(
        0.10 * (pos["6J long"].notional + pos["JPY spot"].market_value), rel=1e-9
    )
    # a replay moves 1/USDJPY by its own return between the two dates
    a, b = px.loc["2021-06-01", "USDJPY"], px.loc["2021-09-01", "USDJPY"]
    assert replay.shocks["1/USDJPY"] == pytest.approx(a / b - 1, rel=1e-12)


@pytest.mark.parametrize(
    ("leg", "key", "words"),
    [
        ('instrument = "future"\ncontract = "CL"\ninvert = true', "invert", "currency future"),
        ('instrument = "equity"\ninvert = true', "invert", "an fx leg"),
        ('instrument = "fx"\ninvert = "yes"', "invert", "true or false"),
        ('instrument = "future"\ncontract = "6X"', "contract", "6J"),
    ],
)
def test_bad_fx_legs_name_the_key(tmp_path, leg, key, words):
    path = tmp_path / "bad.toml"
    path.write_text(
        '[data]\nsource = "demo"\nbenchmark = "SP500"\n[targets]\nbeta = 0.5\nbeta_band = 0.05\n'
        "[book]\n[[book.hedges]]\n"
        f'underlying = "SP500"\nquantity = 1\n{leg}\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert f"book.hedges[0].{key}" in text and words in text and "\n" not in text


def test_a_proxy_may_invert_a_rate_quoted_per_usd(tmp_path):
    """`[proxies] 6J = { underlying = "USDJPY", invert = true }` prices a yen sleeve at
    1 / close(USDJPY) with no 6J leg in the book; the sleeve's contracts follow the closed form
    (target / (12.5M JPY x USD per JPY)), half away from zero.
    """
    from hedgedesk.core.book.trades import plan_trades

    prices = _prices()
    prices.to_csv(tmp_path / "prices.csv", index_label="date")
    book = BOOK.split("[[book.hedges]]")[0]
    text = (
        book
        + '[proxies]\nES = { underlying = "IDX" }\n6J = { underlying = "USDJPY", invert = true }\n'
        + '[plan]\nsleeves = [{ name = "yen", bucket = "fx", contract = "6J", usd = 2000000.0 }]\n'
    )
    (tmp_path / "desk.toml").write_text(text, encoding="utf-8")
    cfg = load_config(tmp_path / "desk.toml")
    assert cfg.inverted() == ["USDJPY"] and cfg.book.inverted() == []
    state = market_state(cfg, load_market(cfg))
    plan = plan_trades(cfg, state)
    (yen,) = [t for t in plan.trades if t.inputs.get("contract") == "6J"]
    usd_per_jpy = 1.0 / prices["USDJPY"].iloc[-1]
    assert yen.inputs["price"] == pytest.approx(usd_per_jpy, rel=1e-12)
    assert yen.inputs["priced_from"] == "1/USDJPY"
    n = 2e6 / (12_500_000 * usd_per_jpy)
    assert yen.contracts == int(np.floor(n + 0.5)) and yen.side == "buy"


def test_invert_on_a_proxy_that_is_no_currency_future_is_refused(tmp_path):
    _prices().to_csv(tmp_path / "prices.csv", index_label="date")
    book = BOOK.split("[[book.hedges]]")[0]
    (tmp_path / "desk.toml").write_text(
        book + '[proxies]\nCL = { underlying = "WTI", invert = true }\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"proxies\.CL\.invert.*currency future \(6E"):
        load_config(tmp_path / "desk.toml")

"""Option prices and Greeks against independent witnesses: QuantLib's analytic engines, parity
identities, finite differences of the price, a plain loop over the vectorised kernels, and a
data vendor's Greeks on real SPX quotes (../shared/data/options/SPX_2018.csv).
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import QuantLib as ql

from hedgedesk.core.book.options import (
    Greeks,
    black76,
    bsm,
    implied_vol,
    price_and_greeks,
    year_fraction,
)

GREEKS = ("price", "delta", "gamma", "vega", "theta", "rho")
QL_REL = 1e-8  # relative tolerance against QuantLib (measured agreement is ~1e-13)


# --- QuantLib -------------------------------------------------------------------------------


@pytest.fixture
def ql_today():
    """QuantLib's global evaluation date, restored afterwards."""
    settings = ql.Settings.instance()
    saved = settings.evaluationDate
    today = ql.Date(2, ql.January, 2024)
    settings.evaluationDate = today
    yield today
    settings.evaluationDate = saved


def _ql_type(right: str):
    return ql.Option.Call if right == "call" else ql.Option.Put


def _ql_bsm(today, right, spot, strike, days, rate, div_yield, vol) -> dict[str, float]:
    """AnalyticEuropeanEngine on flat continuously compounded curves, all Actual365Fixed.

    QuantLib's Greeks map onto CONVENTIONS as follows:
    - delta, gamma: dV/dS, d2V/dS2, the same partials.
    - vega: dV/dsigma per 1.00 of volatility, the same.
    - theta: dV/dt per year, t measured by the curves' day counter; with Actual365Fixed a year
      is 365 calendar days, exactly CONVENTIONS' theta (thetaPerDay is theta / 365).
    - rho: dV/dr per 1.00 of rate, dividend curve held fixed, the same.
    """
    dc = ql.Actual365Fixed()
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(spot)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, div_yield, dc, ql.Continuous)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, rate, dc, ql.Continuous)),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, ql.NullCalendar(), vol, dc)),
    )
    option = ql.EuropeanOption(
        ql.PlainVanillaPayoff(_ql_type(right), strike), ql.EuropeanExercise(today + days)
    )
    option.setPricingEngine(ql.AnalyticEuropeanEngine(process))
    assert option.thetaPerDay() == pytest.approx(option.theta() / 365, rel=1e-12)
    return {
        "price": option.NPV(),
        "delta": option.delta(),
        "gamma": option.gamma(),
        "vega": option.vega(),
        "theta": option.theta(),
        "rho": option.rho(),
    }


def _ql_black76(right, forward, strike, t, rate, vol) -> dict[str, float]:
    """QuantLib's BlackCalculator on the forward.

    - deltaForward, gammaForward: dV/dF, d2V/dF2.
    - vega(t): per 1.00 of volatility.
    - theta(spot, t): per year, reading the forward as spot * exp(carry * t); with spot = forward
      the carry is zero, i.e. the forward is held fixed as calendar time passes.
    - rho(t) moves the rate with the spot fixed, dividendRho(t) the yield; moving both together
      keeps the forward fixed, so their sum is dV/dr at a fixed forward.
    """
    calc = ql.BlackCalculator(
        ql.PlainVanillaPayoff(_ql_type(right), strike), forward, vol * np.sqrt(t), np.exp(-rate * t)
    )
    return {
        "price": calc.value(),
        "delta": calc.deltaForward(),
        "gamma": calc.gammaForward(),
        "vega": calc.vega(t),
        "theta": calc.theta(forward, t),
        "rho": calc.rho(t) + calc.dividendRho(t),
    }


def _grid(days: int):
    """Calls and puts, strikes 1.5 standard deviations in the money, at the money and out of it,
    at two volatilities: (right, strike, vol) triples for a spot or forward of 100.
    """
    t = days / 365
    for right, vol, m in itertools.product(("call", "put"), (0.12, 0.45), (-1.5, 0.0, 1.5)):
        yield right, 100.0 * np.exp(m * vol * np.sqrt(t)), vol


@pytest.mark.parametrize("days", [7, 91, 730])
@pytest.mark.parametrize(("rate", "div_yield"), [(0.045, 0.0), (0.045, 0.025), (0.01, 0.03)])
def test_bsm_equals_quantlib(ql_today, days, rate, div_yield):
    rights, strikes, vols = map(np.array, zip(*_grid(days), strict=True))
    ours = bsm(rights, 100.0, strikes, days / 365, rate, div_yield, vols)  # one vectorised call
    for i, (right, strike, vol) in enumerate(_grid(days)):
        ref = _ql_bsm(ql_today, right, 100.0, strike, days, rate, div_yield, vol)
        for name in GREEKS:
            assert getattr(ours, name)[i] == pytest.approx(ref[name], rel=QL_REL, abs=0), (
                name,
                right,
                strike,
                vol,
            )


@pytest.mark.parametrize("days", [7, 91, 730])
@pytest.mark.parametrize("rate", [0.045, -0.005])
def test_black76_equals_quantlib_and_bsm_on_the_forward(days, rate):
    t = days / 365
    for right, strike, vol in _grid(days):
        ours = black76(right, 100.0, strike, t, rate, vol)
        ref = _ql_black76(right, 100.0, strike, t, rate, vol)
        for name in GREEKS:
            assert getattr(ours, name) == pytest.approx(ref[name], rel=QL_REL, abs=0), (
                name,
                right,
                strike,
                vol,
            )
        # BSM with q = r is an option on a spot whose forward is the spot: same price, delta,
        # gamma, vega and theta; its rho holds q (not the forward) fixed, so it differs.
        spot_model = bsm(right, 100.0, strike, t, rate, rate, vol)
        for name in GREEKS[:-1]:
            assert getattr(ours, name) == pytest.approx(getattr(spot_model, name), rel=1e-12)
        assert ours.rho == pytest.approx(-t * ours.price, rel=1e-12)


# --- identities and finite differences ------------------------------------------------------


@pytest.mark.parametrize("t", [7 / 365, 0.5, 3.0])
@pytest.mark.parametrize("strike", [70.0, 100.0, 140.0])
def test_put_call_parity(strike, t):
    s, r, q, vol = 100.0, 0.04, 0.025, 0.3
    call, put = bsm("call", s, strike, t, r, q, vol), bsm("put", s, strike, t, r, q, vol)
    assert call.price - put.price == pytest.approx(
        s * np.exp(-q * t) - strike * np.exp(-r * t), abs=1e-12 * s
    )
    assert call.delta - put.delta == pytest.approx(np.exp(-q * t), abs=1e-14)
    assert call.gamma == pytest.approx(put.gamma, rel=1e-12)
    assert call.vega == pytest.approx(put.vega, rel=1e-12)

    fc, fp = black76("call", s, strike, t, r, vol), black76("put", s, strike, t, r, vol)
    assert fc.price - fp.price == pytest.approx(np.exp(-r * t) * (s - strike), abs=1e-12 * s)
    assert fc.delta - fp.delta == pytest.approx(np.exp(-r * t), abs=1e-14)


def _finite_differences(model: str, right, s, k, t, r, q, vol) -> dict[str, float]:
    """Central differences of the price alone; theta is -dV/dT (calendar time passing)."""

    def v(**bump):
        args = {"s": s, "t": t, "r": r, "vol": vol} | bump
        return price_and_greeks(
            model, right, args["s"], k, args["t"], args["r"], q, args["vol"]
        ).price

    hs, hg, hv, ht, hr = 1e-4 * s, 2e-4 * s, 1e-5, 1e-5, 1e-5
    return {
        "delta": (v(s=s + hs) - v(s=s - hs)) / (2 * hs),
        "gamma": (v(s=s + hg) - 2 * v() + v(s=s - hg)) / hg**2,
        "vega": (v(vol=vol + hv) - v(vol=vol - hv)) / (2 * hv),
        "theta": -(v(t=t + ht) - v(t=t - ht)) / (2 * ht),
        "rho": (v(r=r + hr) - v(r=r - hr)) / (2 * hr),
    }


@pytest.mark.parametrize("model", ["bsm", "black76"])
@pytest.mark.parametrize("right", ["call", "put"])
@pytest.mark.parametrize(("strike", "t"), [(90.0, 30 / 365), (100.0, 0.25), (115.0, 1.5)])
def test_greeks_equal_finite_differences(model, right, strike, t):
    s, r, q, vol = 100.0, 0.04, 0.02, 0.25
    ours = price_and_greeks(model, right, s, strike, t, r, q, vol)
    for name, fd in _finite_differences(model, right, s, strike, t, r, q, vol).items():
        assert getattr(ours, name) == pytest.approx(fd, rel=1e-5, abs=1e-7), name


@pytest.mark.parametrize("model", ["bsm", "black76"])
def test_theta_is_per_year_and_negative_for_long_options(model):
    """One calendar day later a long option is worth about theta / 365 less."""
    for right in ("call", "put"):
        now = price_and_greeks(model, right, 100.0, 100.0, 0.25, 0.03, 0.01, 0.2)
        tomorrow = price_and_greeks(model, right, 100.0, 100.0, 0.25 - 1 / 365, 0.03, 0.01, 0.2)
        assert now.theta < 0
        assert tomorrow.price - now.price == pytest.approx(now.theta / 365, rel=0.01)


def test_year_fraction_counts_calendar_days_over_365():
    assert year_fraction(dt.date(2018, 1, 2), dt.date(2018, 1, 31)) == 29 / 365
    assert year_fraction(dt.date(2024, 1, 1), dt.date(2025, 1, 1)) == 366 / 365  # leap year
    assert year_fraction(dt.date(2024, 3, 1), dt.date(2024, 3, 1)) == 0.0


# --- vectorisation --------------------------------------------------------------------------


def test_scalar_inputs_give_floats():
    g = bsm("put", 100, 95, 0.5, 0.03, 0.01, 0.2)
    assert isinstance(g, Greeks)
    assert all(type(getattr(g, name)) is float for name in GREEKS)


@pytest.mark.parametrize("model", ["bsm", "black76"])
def test_arrays_broadcast_and_equal_a_plain_loop(model):
    rights = np.array([["call"], ["put"]])  # (2, 1)
    spots = np.array([80.0, 100.0, 125.0])  # (3,)
    t = np.array([[0.1], [2.0]])  # (2, 1)
    g = price_and_greeks(model, rights, spots, 100.0, t, 0.03, 0.01, 0.3)
    for name in GREEKS:
        assert getattr(g, name).shape == (2, 3)
    for i, j in itertools.product(range(2), range(3)):
        one = price_and_greeks(model, rights[i, 0], spots[j], 100.0, t[i, 0], 0.03, 0.01, 0.3)
        for name in GREEKS:
            assert getattr(g, name)[i, j] == pytest.approx(getattr(one, name), rel=1e-14)


# --- implied volatility ---------------------------------------------------------------------


@pytest.mark.parametrize("model", ["bsm", "black76"])
def test_implied_vol_round_trip(model):
    rights, strikes, t, vols = (
        a.ravel()
        for a in np.meshgrid(
            ["call", "put"],
            [60.0, 90.0, 100.0, 110.0, 160.0],
            [7 / 365, 0.5, 5.0],
            [0.05, 0.2, 0.8, 2.5],
            indexing="ij",
        )
    )
    s, r, q = 100.0, 0.03, 0.015
    true = price_and_greeks(model, rights, s, strikes, t, r, q, vols)
    # Deep in the money at low vol the price is intrinsic value to the last bit and pins no
    # volatility: keep the points whose price moves with vol (vega > 1e-3 per 1.00 of vol).
    sensitive = true.vega > 1e-3
    assert sensitive.sum() > 90
    args = (rights[sensitive], s, strikes[sensitive], t[sensitive], r, q)
    solved = implied_vol(true.price[sensitive], *args, model=model)
    assert solved == pytest.approx(vols[sensitive], rel=1e-9)
    repriced = price_and_greeks(model, args[0], s, *args[2:], solved).price
    assert repriced == pytest.approx(true.price[sensitive], rel=1e-12, abs=1e-12 * s)


def test_implied_vol_scalar_and_array_agree():
    prices = np.array([6.0, 8.0, 10.0])
    vols = implied_vol(prices, "call", 100.0, 105.0, 0.5, 0.02, 0.01)
    assert vols.shape == (3,)
    grid = implied_vol(prices[:, None], np.array(["call", "put"]), 100.0, 105.0, 0.5, 0.02, 0.01)
    assert grid.shape == (3, 2)
    assert grid[:, 0] == pytest.approx(vols, rel=1e-12)
    for p, v in zip(prices, vols, strict=True):
        one = implied_vol(float(p), "call", 100.0, 105.0, 0.5, 0.02, 0.01)
        assert type(one) is float
        assert one == pytest.approx(v, rel=1e-12)
        assert bsm("call", 100.0, 105.0, 0.5, 0.02, 0.01, one).price == pytest.approx(p, rel=1e-12)


def test_implied_vol_below_intrinsic_has_no_solution():
    # Call on 112.30 struck at 100 with r = q = 0: intrinsic 12.30.
    with pytest.raises(
        ValueError,
        match=r"^price 0\.01 is at or below intrinsic value 12\.3: "
        r"no implied volatility exists$",
    ):
        implied_vol(0.01, "call", 112.3, 100.0, 1.0, 0.0, 0.0)


def test_implied_vol_above_upper_bound_has_no_solution():
    # A call is worth less than the discounted spot: 100 * exp(-0.02) = 98.0199.
    with pytest.raises(ValueError, match=r"above the no-arbitrage upper bound 98\.0199"):
        implied_vol(99.0, "call", 100.0, 100.0, 1.0, 0.05, 0.02)
    # A put is worth less than the discounted strike; the array element is named.
    with pytest.raises(ValueError, match=r"upper bound 95\.1229 \(element \(1,\)\)"):
        implied_vol([5.0, 96.0], "put", 100.0, 100.0, 1.0, 0.05, 0.0)


def test_implied_vol_outside_the_search_interval():
    # Inside the bounds, but only a volatility above 1000 % reaches this price.
    near_upper = bsm("call", 100.0, 100.0, 1.0, 0.0, 0.0, 12.0).price
    with pytest.raises(ValueError, match=r"implies a volatility outside \[1e-06, 10\]"):
        implied_vol(near_upper, "call", 100.0, 100.0, 1.0, 0.0, 0.0)


# --- invalid inputs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"t": 0.0}, r"option has expired: t must be > 0 years, got 0\.0"),
        ({"t": np.array([0.5, -0.1])}, r"option has expired.*-0\.1"),
        ({"vol": 0.0}, r"vol must be > 0"),
        ({"vol": np.nan}, r"vol must be > 0, got nan"),
        ({"spot": -1.0}, r"spot must be > 0"),
        ({"strike": 0.0}, r"strike must be > 0"),
        ({"rate": np.inf}, r"rate must be finite"),
        ({"right": "Call"}, r"right must be 'call' or 'put', got 'Call'"),
        ({"right": np.array(["put", "straddle"])}, r"got 'straddle'"),
    ],
)
def test_bsm_rejects_invalid_inputs(kwargs, message):
    args = {
        "right": "call",
        "spot": 100.0,
        "strike": 100.0,
        "t": 0.5,
        "rate": 0.03,
        "div_yield": 0.01,
        "vol": 0.2,
    } | kwargs
    with pytest.raises(ValueError, match=message):
        bsm(**args)


def test_black76_and_dispatcher_reject_invalid_inputs():
    with pytest.raises(ValueError, match=r"forward must be > 0"):
        black76("call", 0.0, 100.0, 0.5, 0.03, 0.2)
    with pytest.raises(ValueError, match=r"option has expired"):
        black76("put", 100.0, 100.0, -1 / 365, 0.03, 0.2)
    with pytest.raises(ValueError, match=r"model must be one of bsm, black76, got 'heston'"):
        price_and_greeks("heston", "call", 100.0, 100.0, 0.5, 0.03, 0.0, 0.2)
    with pytest.raises(ValueError, match=r"model must be one of bsm, black76, got 'BSM'"):
        implied_vol(5.0, "call", 100.0, 100.0, 0.5, 0.03, model="BSM")
    with pytest.raises(ValueError, match=r"option has expired"):
        implied_vol(5.0, "call", 100.0, 100.0, 0.0, 0.03)
    with pytest.raises(ValueError, match=r"price must be finite"):
        implied_vol(np.nan, "call", 100.0, 100.0, 0.5, 0.03)


# --- vendor Greeks on real SPX quotes -------------------------------------------------------

VENDOR_CLOCK_SHORTFALL_DAYS = 0.675  # measured below: ~16.2 h, quote time to the expiry date
RATE = 0.015  # 3-month T-bill, January-February 2018 (about 1.4-1.6 %)
DIV_YIELD = 0.0  # the vendor's own: its implied vols and Greeks assume no dividend (see units)
# The day after the 5 Feb 2018 volatility spike: the vendor's Greeks are not at its recorded spot.
ODD_SNAPSHOT = pd.Timestamp("2018-02-06")


@functools.lru_cache(maxsize=1)
def _load_chain(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path, encoding="utf-8-sig")  # the file starts with a byte-order mark
    df.columns = df.columns.str.strip()  # " exchange"
    df["expiry"] = pd.to_datetime(df["expiration"], format="%m/%d/%Y")
    df["quote_date"] = pd.to_datetime(df["quotedate"], format="%m/%d/%Y")
    df["days"] = (df["expiry"] - df["quote_date"]).dt.days
    df["mid"] = (df["bid"] + df["ask"]) / 2
    return df


@pytest.fixture
def chain(shared_data) -> pd.DataFrame:
    return _load_chain(shared_data / "options" / "SPX_2018.csv")


def _liquid(df: pd.DataFrame) -> pd.DataFrame:
    """Quotes whose vendor Greeks mean something: mid above 0.50 index points, 7 days or more
    to expiry, |delta| in [0.05, 0.95] (the vendor floors far wings at gamma 0, delta +-1).
    """
    keep = (df["mid"] > 0.5) & (df["days"] >= 7) & df["delta"].abs().between(0.05, 0.95)
    return df[keep]


def _ours(q: pd.DataFrame, t, rate) -> Greeks:
    return bsm(
        q["type"].to_numpy(),
        q["underlying_last"].to_numpy(),
        q["strike"].to_numpy(),
        t,
        rate,
        DIV_YIELD,
        q["impliedvol"].to_numpy(),
    )


def _vendor_rates(df: pd.DataFrame) -> dict[pd.Timestamp, float]:
    """Rate per expiry read off the vendor's deep in-the-money calls (delta 1, gamma 0), which
    are pure carry: theta = q*S*e^(-qT) - r*K*e^(-rT), a straight line in K of slope about -r
    and intercept q*S. Returns the median slope per expiry; asserts the intercept is ~0.
    """
    deep = df[(df["type"] == "call") & (df["delta"] == 1) & (df["gamma"] == 0) & (df["days"] >= 7)]
    rates: dict[pd.Timestamp, list[float]] = {}
    for (expiry, _), quotes in deep.groupby(["expiry", "quote_date"]):
        if len(quotes) >= 3:
            slope, intercept = np.polyfit(quotes["strike"], quotes["theta"], 1)
            assert abs(intercept) < 0.5  # q = 1.8 % would give q*S ~ +49 per year
            rates.setdefault(expiry, []).append(-slope)
    return {expiry: float(np.median(r)) for expiry, r in rates.items()}


def test_vendor_units(chain):
    """The vendor's units, found from its own numbers.

    - vega: per 1.00 of volatility (at the money it is S*phi(d1)*sqrt(T), ~300 for SPX at a
      month; per vol point it would be ~3).
    - theta: per YEAR, negative for long options (deep in-the-money calls carry -r*K per year,
      -15.8 at K = 1200; per day it would be -0.04).
    - dividend yield: 0 (the deep-call intercept q*S is ~0, not the ~49/yr of q = 1.8 %).
    - rate: 1.31 % for the January expiry, 1.73 % for February (slopes of those calls).
    - clock: T = (calendar days - 0.675) / 365, i.e. from a snapshot ~16 h into the quote date
      to the start of the expiry date (ATM vega ratios give the same 0.675 day at every tenor).
    """
    rates = _vendor_rates(chain)
    assert sorted(rates) == [pd.Timestamp("2018-01-31"), pd.Timestamp("2018-02-28")]
    assert rates[pd.Timestamp("2018-01-31")] == pytest.approx(0.0131, abs=0.0002)
    assert rates[pd.Timestamp("2018-02-28")] == pytest.approx(0.0173, abs=0.0002)

    atm = _liquid(chain)
    atm = atm[atm["delta"].abs().between(0.4, 0.6)]
    ratio = atm["vega"].to_numpy() / _ours(atm, atm["days"].to_numpy() / 365, RATE).vega
    assert 0.9 < np.median(ratio) < 1.02  # per 1.00 of vol; our calendar clock is a bit longer
    # Near the money vega is proportional to sqrt(T): the vendor's day count is days * ratio^2.
    shortfall = (atm["days"] * (1 - ratio**2)).groupby(atm["days"]).median()
    assert len(shortfall) >= 15
    assert shortfall.between(0.62, 0.73).all()
    assert shortfall.median() == pytest.approx(VENDOR_CLOCK_SHORTFALL_DAYS, abs=0.01)


def _abs_diff(vendor: pd.DataFrame, ours: Greeks, name: str) -> np.ndarray:
    return np.abs(vendor[name].to_numpy() - getattr(ours, name))


def test_bsm_greeks_match_vendor_on_hedgedesk_conventions(chain):
    """Hedgedesk's own conventions (T = calendar days / 365, r = 1.5 %) with the vendor's
    implied vol, spot and q = 0, against the vendor's Greeks on all liquid quotes.

    The gap is mostly the vendor's clock, 0.675 day shorter: 2.3 % of T at 29 days, 9.6 % at 7.
    Tolerances are about 1.5 times the measured figures (n = 3643; median / p95 measured:
    delta 0.0037 / 0.0096, gamma 3.9e-5 / 1.9e-4, vega 4.9 / 8.1, theta 4.5 / 23 per year).
    """
    quotes = _liquid(chain)
    assert len(quotes) > 3000
    ours = _ours(quotes, quotes["days"].to_numpy() / 365, RATE)
    # (Greek, median bound, p95 bound) with why each is that large:
    bounds = [
        # sqrt(T) in d1 ~8 % longer at 7 days moves delta by phi(d1) * d(d1) <= ~0.015
        ("delta", 0.006, 0.015),
        # gamma ~ 1/sqrt(T): 1-5 % of gammas up to 0.006 near the money, plus 4-dp rounding
        ("gamma", 8e-5, 3e-4),
        # vega ~ sqrt(T): 1.2-4.9 % of at-the-money vegas of 150-300
        ("vega", 7.0, 12.0),
        # theta ~ 1/sqrt(T) near the money (a few hundred per year at a week), plus the
        # 0.2-0.4 % rate gap times K ~ 2700 (5-10 per year)
        ("theta", 8.0, 35.0),
    ]
    for name, median_bound, p95_bound in bounds:
        diff = _abs_diff(quotes, ours, name)
        assert np.median(diff) < median_bound, name
        assert np.percentile(diff, 95) < p95_bound, name


def test_bsm_greeks_reproduce_vendor_on_its_own_clock_and_rates(chain):
    """On the vendor's clock and rates (see test_vendor_units) our formulas reproduce its
    Greeks to its rounding: delta, gamma, implied vol are given to 4 decimals.

    Measured (n = 3380, all liquid quotes but one snapshot): |delta| diff max 2.0e-4,
    |gamma| diff max 5.5e-5, relative vega diff median 0.045 % / p95 0.13 %, relative theta
    diff median 0.021 % / p95 0.094 %.
    """
    quotes = _liquid(chain)
    rates = quotes["expiry"].map(_vendor_rates(chain)).to_numpy()
    t = (quotes["days"].to_numpy() - VENDOR_CLOCK_SHORTFALL_DAYS) / 365
    ours = _ours(quotes, t, rates)
    odd = (quotes["quote_date"] == ODD_SNAPSHOT).to_numpy()
    # On 2018-02-06 the vendor's Greeks were taken at another spot (~2692 against the recorded
    # 2695.16): every delta there is off by ~0.005. Checked here so the exclusion stays honest.
    assert np.median(_abs_diff(quotes, ours, "delta")[odd]) > 2e-3
    good, ours_good = quotes[~odd], Greeks(*(getattr(ours, n)[~odd] for n in GREEKS))
    assert len(good) > 3000
    # Delta: 4-dp rounding (5e-5) plus the implied vol's 4-dp rounding (<= 5e-5 of vol times
    # dDelta/dvol, up to ~3 at a week): 5e-4 leaves headroom over the 2.0e-4 measured.
    assert _abs_diff(good, ours_good, "delta").max() < 5e-4
    # Gamma: 4-dp rounding, 5e-5, dominates.
    assert _abs_diff(good, ours_good, "gamma").max() < 1e-4
    # Vega and theta: the implied vol's rounding (5e-5 on vols >= 0.08, <= 0.06 %) and the
    # clock estimate.
    for name in ("vega", "theta"):
        rel = _abs_diff(good, ours_good, name) / np.abs(getattr(ours_good, name))
        assert np.median(rel) < 1e-3, name
        assert np.percentile(rel, 95) < 3e-3, name

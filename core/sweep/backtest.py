"""Dynamic-beta hedge backtest of one configuration, exactly as CONVENTIONS defines it.

A long leg (one asset, or an equal- or volume-weighted basket) is held at ``exposure`` times
equity and hedged by shorting ``hedge_ratio * beta`` times that notional of a hedge instrument;
beta is re-estimated (rolling OLS with intercept over ``window`` returns) every ``rebalance``
days. This module is deliberately plain: a Python loop over days, one step of the CONVENTIONS
recipe per line. It is the witness that faster sweep kernels (vectorised, CuPy) are held to, so
clarity matters more than speed here.

Day indices ``t = 0..T-1`` count daily returns: ``r[t]`` is the return from close ``t-1`` to
close ``t``, and day 0 is the first day on which the long leg and the hedge both have a return
(for a volume-weighted basket, after its weights have warmed up).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hedgedesk.core.beta import MIN_BENCHMARK_SPAN
from hedgedesk.core.bounds import (
    MAX_CASH,
    MAX_EXPOSURE,
    MAX_HEDGE_RATIO,
    MAX_IMPACT,
)
from hedgedesk.core.data.market import MarketData
from hedgedesk.core.demo import SOURCE as DEMO_SOURCE
from hedgedesk.core.errors import DataError
from hedgedesk.core.metrics import performance

WEIGHTINGS = ("equal", "volume")
VOLUME_WINDOW = 30  # days of volume averaged for the basket weights (CONVENTIONS)
MIN_WINDOW = 2  # returns: two fix a slope (the noisiest estimate, still a legitimate baseline)
# Hedge returns whose range over a window is below this count as constant: a price growing at a
# constant rate gives returns that differ only by rounding (about 1e-17), and its beta is noise
# (the same bound as every beta's: hedgedesk.core.beta).
CONSTANT_RETURNS_TOL = MIN_BENCHMARK_SPAN


class UndefinedBeta(DataError):
    """The hedge's returns are constant over a scheduled beta window, so beta has no value.

    ``day`` is the index of the window's last return (the rebalance day).
    """

    def __init__(self, where: str, day: int, ending: str):
        self.day = day
        super().__init__(
            where, f"hedge returns are constant over the window ending {ending}: beta undefined"
        )


@dataclass(frozen=True)
class Rebalance:
    """One scheduled rebalance, after its trade (or untouched when the drift band held).

    ``day``: index of the return on whose close it happens; ``beta``: the rolling OLS slope
    estimated there; notionals in currency (``short_notional`` < 0 means the hedge is long);
    ``cost``: currency deducted from equity (0 when not traded).
    """

    day: int
    beta: float
    long_notional: float
    short_notional: float
    cost: float
    traded: bool


@dataclass(frozen=True, eq=False)
class HedgeRun:
    """Output of :func:`dynamic_beta_hedge` on T daily returns with window W.

    ``equity``: shape (T - W + 2,): the starting capital, then equity at the end of each day
    W-1..T-1 (after that day's rebalance). ``rebalances``: one row per scheduled rebalance, in
    order. ``traded_notional``: sum over trades of ``|L' - L| + |S' - S|`` (currency), the first
    trade from flat included.
    """

    equity: np.ndarray
    rebalances: tuple[Rebalance, ...]
    traded_notional: float

    @property
    def betas(self) -> np.ndarray:
        """Beta at each scheduled rebalance, shape (number of rebalances,)."""
        return np.array([r.beta for r in self.rebalances])


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """A dated backtest of one configuration.

    ``dates`` (n + 1,) label ``equity``, ``unhedged`` and ``benchmark``: the first date is the
    close of day W-2, when the book is still flat and equity is the capital; the others are the
    closes of days W-1..T-1. ``unhedged``: the same procedure with hedge ratio 0 (same exposure,
    cost and drift band). ``benchmark``: buy-and-hold of the hedge instrument over the same
    dates, starting at the capital, no costs. ``rebalances``: one row per scheduled rebalance,
    indexed by its date, columns day, beta, long_notional, short_notional, cost, traded.
    ``metrics``: ``performance()`` of the hedged curve plus turnover and hedge_effectiveness,
    and the performance of the ``unhedged`` and ``benchmark`` curves as nested dicts.
    ``params``: the configuration as run.
    """

    dates: pd.DatetimeIndex
    equity: np.ndarray
    unhedged: np.ndarray
    benchmark: np.ndarray
    rebalances: pd.DataFrame
    metrics: dict
    params: dict


# -- the long leg ----------------------------------------------------------------------------
def simple_returns(prices: pd.DataFrame | pd.Series):
    """Simple returns ``P[t] / P[t-1] - 1`` of closes, the first row dropped.

    Parameters
    ----------
    prices : DataFrame or Series, shape (n_rows, ...)
        Closes (currency), one row a session.

    Returns
    -------
    DataFrame or Series, shape (n_rows - 1, ...)
        Returns as fractions, indexed by the date of each return.
    """
    return (prices / prices.shift(1) - 1.0).iloc[1:]


def basket_returns(
    prices: pd.DataFrame,
    volumes: pd.DataFrame | None,
    weighting: str = "equal",
    volume_window: int = VOLUME_WINDOW,
) -> pd.Series:
    """Daily returns of a basket of the columns of ``prices``.

    ``prices``: closes already aligned by inner join and clipped (no NaN), one column a member.
    ``equal``: the mean of the members' returns, from the first return on.
    ``volume``: the weight of member i on day t is its mean volume over the ``volume_window``
    rows t-volume_window..t-1 of ``volumes`` (read on the rows of ``prices``), normalised so
    the weights sum to 1; the basket starts on the first day all weights exist, so the first
    ``volume_window`` rows of ``prices`` only warm the weights up. Re-weighted daily, no cost.

    Parameters
    ----------
    prices : DataFrame, shape (n_rows, n_members)
        Closes (currency), aligned, no NaN.
    volumes : DataFrame or None
        Shares traded per session, a column per member (needed for ``volume``).
    weighting : {"equal", "volume"}
        How members are weighted.
    volume_window : int
        Sessions of volume behind each weight (days).

    Returns
    -------
    Series, shape (n_rows - 1,) or (n_rows - 1 - volume_window,) by volume
        The basket's daily simple returns, as fractions, indexed by the date of each return.
    """
    if weighting not in WEIGHTINGS:
        raise DataError(
            "weighting",
            f"unknown basket weighting {weighting!r}; expected one of {', '.join(WEIGHTINGS)}",
        )
    if prices.empty or prices.shape[1] == 0:
        raise DataError("basket", "no prices: the basket needs at least one member")
    if prices.isna().to_numpy().any():
        raise DataError(
            "basket",
            "prices have missing values: align the members by inner "
            "join first (never forward-filled silently)",
        )
    returns = simple_returns(prices)
    if weighting == "equal":
        return returns.mean(axis=1).rename("basket")

    if volume_window < 1:
        raise DataError("volume_window", f"must be at least 1 day, got {volume_window}")
    if volumes is None:  # none given: every member lacks them
        volumes = pd.DataFrame(index=prices.index)
    for ticker in prices.columns:
        if ticker not in volumes or volumes[ticker].isna().all():
            raise DataError(ticker, f"volume weighting needs volumes for {ticker}")
    vol = volumes.reindex(index=prices.index, columns=prices.columns)
    # row t: mean volume of rows t-volume_window..t-1 (NaN until a full window exists)
    mean_volume = vol.rolling(volume_window).mean().shift(1).iloc[1:]
    complete = mean_volume.notna().all(axis=1).to_numpy()
    if not complete.any():
        raise DataError(
            ",".join(prices.columns),
            f"too little history for volume weights: {len(prices)} rows, the "
            f"weights need {volume_window} rows of volume before the first return",
        )
    first = int(np.argmax(complete))
    if not complete[first:].all():
        day = mean_volume.index[first + int(np.argmin(complete[first:]))]
        missing = [t for t in prices.columns if pd.isna(mean_volume.loc[day, t])]
        raise DataError(
            ",".join(missing),
            f"volume missing in the {volume_window} days before "
            f"{day.date()}: the basket weight is undefined",
        )
    mean_volume = mean_volume.iloc[first:]
    total = mean_volume.sum(axis=1)
    if (total <= 0).any():
        day = total.index[int(np.argmax((total <= 0).to_numpy()))]
        raise DataError(
            ",".join(prices.columns),
            f"zero volume for every member in the {volume_window} days before "
            f"{day.date()}: the basket weights are undefined",
        )
    weights = mean_volume.div(total, axis=0)
    return (weights * returns.iloc[first:]).sum(axis=1).rename("basket")


# -- the hedge -------------------------------------------------------------------------------
def _ols_slope(y: np.ndarray, x: np.ndarray) -> float:
    """Slope of the OLS fit ``y = a + b x`` (intercept included)."""
    dx = x - x.mean()
    dy = y - y.mean()
    return float((dx @ dy) / (dx @ dx))


def ewma_weights(window: int, halflife: float) -> np.ndarray:
    """WLS weights of a window's returns, oldest first: age a (0 = newest) weighs 0.5^(a/H).

    Parameters
    ----------
    window : int
        Returns in the window.
    halflife : float
        H, in returns (days), > 0.

    Returns
    -------
    ndarray, shape (window,)
        Weights, the newest 1.
    """
    return 0.5 ** (np.arange(window - 1, -1, -1, dtype=np.float64) / halflife)


def _wls_slope(y: np.ndarray, x: np.ndarray, w: np.ndarray) -> float:
    """Slope of the weighted least-squares fit ``y = a + b x`` (intercept included)."""
    dx = x - (w @ x) / w.sum()
    dy = y - (w @ y) / w.sum()
    return float((w * dx) @ dy / ((w * dx) @ dx))


ESTIMATORS = ("ols", "ewma")


def _check_parameters(
    rebalance: int,
    window: int,
    exposure: float,
    hedge_ratio: float,
    cost: float,
    drift_band: float,
    capital: float,
    estimator: str = "ols",
    halflife: float | None = None,
    impact: float = 0.0,
) -> None:
    if window < MIN_WINDOW:
        raise DataError(
            "window", f"the beta window must be at least {MIN_WINDOW} returns, got {window}"
        )
    if rebalance < 1:
        raise DataError(
            "rebalance", f"the rebalance period must be at least 1 day, got {rebalance}"
        )
    for name, value in (
        ("exposure", exposure),
        ("hedge_ratio", hedge_ratio),
        ("cost", cost),
        ("drift_band", drift_band),
        ("capital", capital),
    ):
        if not math.isfinite(value):
            raise DataError(name, f"must be a finite number, got {value}")
    for name, value, most in (
        ("exposure", exposure, MAX_EXPOSURE),
        ("hedge_ratio", hedge_ratio, MAX_HEDGE_RATIO),
        ("impact", impact, MAX_IMPACT),
        ("capital", capital, MAX_CASH),
    ):
        if value > most:
            raise DataError(name, f"expected at most {most:g}, got {value:g}")
    if exposure <= 0:
        raise DataError("exposure", f"the long exposure must be positive, got {exposure}")
    if cost < 0:
        raise DataError("cost", f"the cost fraction must be >= 0, got {cost}")
    if drift_band < 0:
        raise DataError("drift_band", f"the drift band must be >= 0, got {drift_band}")
    if capital <= 0:
        raise DataError("capital", f"the starting capital must be positive, got {capital}")
    if estimator not in ESTIMATORS:
        raise DataError(
            "estimator",
            f"unknown beta estimator {estimator!r}; expected one of {', '.join(ESTIMATORS)}",
        )
    if estimator == "ewma" and not (
        halflife is not None and math.isfinite(halflife) and halflife > 0
    ):
        raise DataError(
            "halflife", f"the EWMA half-life must be a positive number of days, got {halflife}"
        )
    if not (math.isfinite(impact) and impact >= 0):
        raise DataError("impact", f"the impact coefficient eta must be >= 0, got {impact}")


def dynamic_beta_hedge(
    long_returns: np.ndarray,
    hedge_returns: np.ndarray,
    rebalance: int,
    window: int,
    exposure: float = 1.0,
    hedge_ratio: float = 1.0,
    cost: float = 0.0,
    drift_band: float = 0.0,
    capital: float = 1.0,
    estimator: str = "ols",
    halflife: float | None = None,
    impact: float = 0.0,
    impact_long: np.ndarray | None = None,
    impact_hedge: np.ndarray | None = None,
    start: int = 0,
) -> HedgeRun:
    """Run the CONVENTIONS recipe on T paired daily returns (1-d arrays, T >= window).

    ``rebalance`` P (days) and ``window`` W (returns); ``exposure`` k: long notional as a
    multiple of equity; ``hedge_ratio`` h: multiplier on beta; ``cost`` c: fraction of traded
    notional; ``drift_band`` d: 0 trades at every scheduled rebalance, d > 0 only when
    ``|S / L - h * beta| > d`` (or the book is flat); ``capital``: starting equity.
    ``estimator``: "ols", or "ewma" (WLS with weights ``0.5^(age / halflife)``).
    Market impact: with ``impact`` eta > 0, a trade of ``x`` currency in a leg also costs
    ``eta * g[t] * |x|^1.5`` where ``g`` (``impact_long`` / ``impact_hedge``, one value per day)
    is ``sigma_daily / sqrt(ADV_dollars)`` (see :func:`impact_coefficients`).
    ``start``: the book starts flat and the curve begins on day ``max(W - 1, start)``, the first
    scheduled rebalance (a walk-forward segment; beta windows may reach back before it).
    Raises :class:`UndefinedBeta` (where "hedge", day index in the message) when the hedge's
    returns are constant over a scheduled window.

    Parameters
    ----------
    long_returns, hedge_returns : array_like, shape (n_days,)
        Paired daily simple returns of the long leg and of the hedge, as fractions.
    rebalance : int
        Days between scheduled rebalances.
    window : int
        Returns per beta window (>= 2).
    exposure, hedge_ratio : float
        Long notional per unit of equity; multiplier on beta.
    cost, drift_band : float
        Cost as a fraction of traded notional; band on ``|S / L - h * beta|``.
    capital : float
        Starting equity (currency).
    estimator : {"ols", "ewma"}
        Beta estimator; ``halflife`` (days) for EWMA.
    impact : float
        Impact multiplier eta (>= 0); ``impact_long`` / ``impact_hedge``, shape (n_days,),
        the per-day coefficients when it is > 0.
    start : int
        First day a trade may happen (day index).

    Returns
    -------
    HedgeRun
        ``equity``, shape (n_days - max(W - 1, start) + 1,): equity (currency) from the close
        before the first trade; the rebalances and the traded notional (currency).
    """
    r_long = np.asarray(long_returns, dtype=np.float64)
    r_hedge = np.asarray(hedge_returns, dtype=np.float64)
    _check_parameters(
        rebalance,
        window,
        exposure,
        hedge_ratio,
        cost,
        drift_band,
        capital,
        estimator,
        halflife,
        impact,
    )
    if r_long.ndim != 1 or r_long.shape != r_hedge.shape:
        raise DataError(
            "returns",
            f"need two 1-d return series of equal length, got shapes "
            f"{r_long.shape} and {r_hedge.shape}",
        )
    if not (np.isfinite(r_long).all() and np.isfinite(r_hedge).all()):
        raise DataError("returns", "returns must be finite")
    n_days = len(r_long)
    if n_days < window:
        raise DataError(
            "returns", f"too little history: {n_days} daily returns, the beta window needs {window}"
        )
    first = max(window - 1, start)
    if first >= n_days:
        raise DataError("start", f"day {start} leaves no day to trade in {n_days} returns")
    if impact > 0 and (impact_long is None or impact_hedge is None):
        raise DataError("impact", "market impact needs per-day coefficients for both legs")
    # read only when impact > 0, and then both were given
    g_long = np.zeros(n_days) if impact_long is None else impact_long
    g_hedge = np.zeros(n_days) if impact_hedge is None else impact_hedge
    # halflife is checked above whenever the estimator is "ewma"
    weights = None if estimator == "ols" or halflife is None else ewma_weights(window, halflife)

    equity = capital  # E
    long_notional = 0.0  # L
    short_notional = 0.0  # S (< 0: the hedge is long)
    curve = [capital]  # the starting equity, before any trade
    rebalances = []
    traded_notional = 0.0

    for t in range(n_days):
        # a. mark to market the positions held since the previous close
        if t > 0:
            pnl = long_notional * r_long[t] - short_notional * r_hedge[t]
            long_notional *= 1.0 + r_long[t]
            short_notional *= 1.0 + r_hedge[t]
            equity += pnl

        # b. scheduled rebalance: first on the first day, then every P days
        if t >= first and (t - first) % rebalance == 0:
            x = r_hedge[t - window + 1 : t + 1]
            y = r_long[t - window + 1 : t + 1]
            if np.ptp(x) <= CONSTANT_RETURNS_TOL:
                raise UndefinedBeta("hedge", t, f"day {t}")
            beta = _ols_slope(y, x) if weights is None else _wls_slope(y, x, weights)
            target_ratio = hedge_ratio * beta
            trade = (
                drift_band == 0.0
                or long_notional == 0.0
                or abs(short_notional / long_notional - target_ratio) > drift_band
            )
            day_cost = 0.0
            if trade:
                new_long = exposure * equity
                new_short = hedge_ratio * beta * exposure * equity
                d_long = abs(new_long - long_notional)
                d_short = abs(new_short - short_notional)
                day_cost = cost * (d_long + d_short)
                if impact > 0:
                    day_cost += impact * (g_long[t] * d_long**1.5 + g_hedge[t] * d_short**1.5)
                equity -= day_cost
                long_notional, short_notional = new_long, new_short
                traded_notional += d_long + d_short
            rebalances.append(Rebalance(t, beta, long_notional, short_notional, day_cost, trade))

        if t >= first:
            curve.append(equity)

    return HedgeRun(np.array(curve), tuple(rebalances), traded_notional)


IMPACT_SIGMA_WINDOW = 30  # returns in the daily volatility of the square-root law (CONVENTIONS)
IMPACT_ADV_WINDOW = 30  # days in the average daily dollar volume


def impact_coefficients(closes: np.ndarray, volumes: np.ndarray) -> np.ndarray:
    """Per-day square-root-law coefficient ``sigma_daily / sqrt(ADV_dollars)`` of one asset.

    ``closes`` and ``volumes`` have T + 1 rows (prices, one more than returns); the value for
    return day t uses only what is known before that close: the std (ddof 1) of the
    ``IMPACT_SIGMA_WINDOW`` returns through day t - 1 and the mean close x volume of the
    ``IMPACT_ADV_WINDOW`` sessions through the previous close. NaN where either is not yet
    defined, +inf where the dollar volume is zero (no liquidity: infinite impact).

    Parameters
    ----------
    closes : array_like, shape (n_days + 1,)
        Closes (currency).
    volumes : array_like, shape (n_days + 1,)
        Shares traded per session.

    Returns
    -------
    ndarray, shape (n_days,)
        Coefficient g per return day, in 1 / sqrt(currency): a trade of x currency costs
        ``eta * g * |x|^1.5``.
    """
    p = pd.Series(np.asarray(closes, dtype=np.float64))
    returns = p / p.shift(1) - 1.0  # row i: return into price row i
    sigma = returns.rolling(IMPACT_SIGMA_WINDOW).std(ddof=1).shift(1)
    dollars = p * pd.Series(np.asarray(volumes, dtype=np.float64))
    adv = dollars.rolling(IMPACT_ADV_WINDOW).mean().shift(1)
    with np.errstate(divide="ignore"):
        g = (sigma / np.sqrt(adv)).to_numpy()
    return g[1:]  # return day t is price row t + 1


# -- a dated backtest from market data -------------------------------------------------------
def _volume_source_note(market: MarketData, ticker: str) -> str:
    source = market.get(ticker).source
    return "the demo data has none" if source.startswith(DEMO_SOURCE) else f"{source} has none"


def _curve_returns(curve: np.ndarray) -> np.ndarray:
    return curve[1:] / curve[:-1] - 1.0


DESK_DEFAULTS = {
    "rebalance": 5,
    "window": 60,
    "exposure": 1.0,
    "hedge_ratio": 1.0,
    "cost": 0.0,
    "drift_band": 0.0,
    "weighting": "equal",
}


def desk_defaults(cfg) -> dict:
    """The desk's starting backtest (screen and report): the book's first holding hedged with
    the benchmark, weekly rebalancing on a 60-return beta.
    """
    first = [cfg.book.holdings[0].ticker] if cfg.book.holdings else []
    return {"long": first, "hedge": cfg.data.benchmark, **DESK_DEFAULTS}


def leg_returns(
    market: MarketData,
    long: list[str],
    hedge: str,
    weighting: str = "equal",
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> tuple[pd.Series, pd.Series]:
    """The daily simple returns a backtest runs on: the long leg (one ticker, or a basket
    weighted by ``weighting``) and the hedge, clipped to [start, end] and aligned on the dates
    every series has (inner join, never forward-filled). Raises DataError for a bad request.

    Parameters
    ----------
    market : MarketData
        Where the closes (and volumes) come from.
    long : list of str
        One ticker, or a basket's members; ``hedge`` the hedge's ticker.
    weighting : {"equal", "volume"}
        A basket's weighting.
    start, end : date, optional
        Clip, inclusive.

    Returns
    -------
    (Series, Series), each shape (n_days,)
        Daily simple returns of the long leg and of the hedge, as fractions, on the same dates.
    """
    long = list(long)
    if not long:
        raise DataError("long", "no long tickers: give one asset or the members of a basket")
    if len(set(long)) != len(long):
        repeated = sorted({t for t in long if long.count(t) > 1})
        raise DataError("long", f"ticker listed twice in the basket: {', '.join(repeated)}")
    if hedge in long:
        raise DataError(
            hedge, "the hedge instrument is also in the long leg; hedge with a different ticker"
        )
    if weighting not in WEIGHTINGS:
        raise DataError(
            "weighting",
            f"unknown basket weighting {weighting!r}; expected one of {', '.join(WEIGHTINGS)}",
        )
    tickers = [*long, hedge]
    for ticker in tickers:
        market.get(ticker)  # DataError naming the known tickers when unknown
    basket = len(long) > 1
    if basket and weighting == "volume":
        for ticker in long:
            if market.get(ticker).volume is None:
                raise DataError(
                    ticker,
                    f"volume weighting needs volumes for {ticker}; "
                    f"{_volume_source_note(market, ticker)}",
                )

    # clip, then align every series on the dates they all have, then take returns
    prices = market.aligned_prices(tickers, start, end)
    if basket:
        volumes = market.volumes(long).reindex(prices.index) if weighting == "volume" else None
        long_returns = basket_returns(prices[long], volumes, weighting)
    else:
        long_returns = simple_returns(prices[long[0]])
    hedge_returns = simple_returns(prices[hedge]).loc[long_returns.index]
    return long_returns, hedge_returns


def _refuse_ruin(days, window, exposure, hedge_ratio, hedged, unhedged) -> None:
    """A curve through zero has no returns or metrics: say which parameter ruined it. The
    unhedged book is the exposure's; a hedged one ruined where the unhedged survives is the
    hedge's, sized on the last rebalance's beta (over ``window`` returns: 2 or 3 give betas
    far from the asset's).
    """
    ruined = np.flatnonzero(~(unhedged.equity > 0))
    if ruined.size:
        raise DataError(
            "exposure",
            f"the unhedged equity falls to zero or below on "
            f"{days[window - 2 + ruined[0]].date()} at exposure {exposure:g}: lower the exposure",
        )
    ruined = np.flatnonzero(~(hedged.equity > 0))
    if not ruined.size:
        return
    at = window - 2 + ruined[0]  # index of the day it happens
    # the hedge held through that day was set at an earlier close (the first: a cost's ruin)
    last = ([r for r in hedged.rebalances if r.day < at] or hedged.rebalances[:1])[-1]
    raise DataError(
        "hedge",
        f"the hedged equity falls to zero or below on {days[at].date()} while the unhedged "
        f"book survives: the hedge was sized on {days[last.day].date()} on a beta of "
        f"{last.beta:.3g} fitted to {window} returns (hedge ratio {hedge_ratio:g}); "
        "expected a wider window or a lower hedge ratio",
    )


def run_backtest(
    market: MarketData,
    long: list[str],
    hedge: str,
    rebalance: int,
    window: int,
    exposure: float = 1.0,
    hedge_ratio: float = 1.0,
    cost: float = 0.0,
    drift_band: float = 0.0,
    weighting: str = "equal",
    rf: float = 0.0,
    start: dt.date | None = None,
    end: dt.date | None = None,
    capital: float = 1.0,
) -> BacktestResult:
    """Backtest hedging ``long`` (one ticker, or a basket weighted by ``weighting``) with
    ``hedge`` on ``market``'s data, clipped to [start, end] before anything is computed.

    All series are aligned on the dates they all have (inner join, never forward-filled); a
    one-ticker ``long`` is that asset itself (no basket, no volume warm-up). Raises DataError
    for a bad request or data that cannot satisfy it.

    Parameters
    ----------
    market : MarketData
        The prices (and volumes).
    long, hedge, weighting, start, end
        As for :func:`leg_returns`.
    rebalance, window, exposure, hedge_ratio, cost, drift_band, capital
        As for :func:`dynamic_beta_hedge` (capital in currency).
    rf : float
        Annual risk-free rate, as a fraction.

    Returns
    -------
    BacktestResult
        Dated equity curves (hedged, unhedged, benchmark; currency), the rebalances, metrics
        (annualised, fractions) and the parameters.
    """
    long = list(long)
    _check_parameters(rebalance, window, exposure, hedge_ratio, cost, drift_band, capital)
    long_returns, hedge_returns = leg_returns(market, long, hedge, weighting, start, end)
    tickers = [*long, hedge]
    basket = len(long) > 1
    days = long_returns.index  # day t = days[t]
    n_days = len(days)
    if n_days < window + 2:
        span = f"{start or 'first'}..{end or 'last'}"
        warm = (
            f" after the {VOLUME_WINDOW}-day volume warm-up"
            if basket and weighting == "volume"
            else ""
        )
        raise DataError(
            ",".join(tickers),
            f"too little history: {n_days} common daily returns in {span}{warm}, "
            f"need at least {window + 2} (window + 2)",
        )

    r_long = long_returns.to_numpy(dtype=np.float64)
    r_hedge = hedge_returns.to_numpy(dtype=np.float64)
    try:
        hedged = dynamic_beta_hedge(
            r_long, r_hedge, rebalance, window, exposure, hedge_ratio, cost, drift_band, capital
        )
    except UndefinedBeta as exc:
        raise UndefinedBeta(hedge, exc.day, str(days[exc.day].date())) from None
    unhedged = dynamic_beta_hedge(
        r_long, r_hedge, rebalance, window, exposure, 0.0, cost, drift_band, capital
    )
    _refuse_ruin(days, window, exposure, hedge_ratio, hedged, unhedged)

    # equity[0] is the close of day W-2: the book is still flat, equity is the capital
    dates = days[window - 2 :]
    benchmark = capital * np.concatenate([[1.0], np.cumprod(1.0 + r_hedge[window - 1 :])])
    rebalance_rows = pd.DataFrame(
        {
            "day": [r.day for r in hedged.rebalances],
            "beta": [r.beta for r in hedged.rebalances],
            "long_notional": [r.long_notional for r in hedged.rebalances],
            "short_notional": [r.short_notional for r in hedged.rebalances],
            "cost": [r.cost for r in hedged.rebalances],
            "traded": [r.traded for r in hedged.rebalances],
        },
        index=pd.DatetimeIndex([days[r.day] for r in hedged.rebalances], name="date"),
    )

    periods = market.periods_per_year(tickers)
    n_returns = len(hedged.equity) - 1
    hedged_var = np.var(_curve_returns(hedged.equity), ddof=1)
    unhedged_var = np.var(_curve_returns(unhedged.equity), ddof=1)
    metrics = performance(hedged.equity, rf, periods).as_dict()
    # traded notional per year over mean equity (the whole curve, starting point included)
    metrics["turnover"] = float(
        hedged.traded_notional * periods / n_returns / np.mean(hedged.equity)
    )
    metrics["hedge_effectiveness"] = (
        float(1.0 - hedged_var / unhedged_var) if unhedged_var > 0 else math.nan
    )
    metrics["unhedged"] = performance(unhedged.equity, rf, periods).as_dict()
    metrics["benchmark"] = performance(benchmark, rf, periods).as_dict()

    params = {
        "long": long,
        "hedge": hedge,
        "rebalance": rebalance,
        "window": window,
        "exposure": exposure,
        "hedge_ratio": hedge_ratio,
        "cost": cost,
        "drift_band": drift_band,
        "weighting": weighting if basket else "single asset",
        "volume_window": VOLUME_WINDOW if basket and weighting == "volume" else None,
        "rf": rf,
        "start": start,
        "end": end,
        "capital": capital,
        "periods_per_year": periods,
        "first_return": days[0].date(),
        "last_return": days[-1].date(),
        "n_days": n_days,
    }
    return BacktestResult(
        dates, hedged.equity, unhedged.equity, benchmark, rebalance_rows, metrics, params
    )

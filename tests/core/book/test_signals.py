"""Context signals against witnesses written from the textbook definitions: plain Python loops
(one value at a time, no numpy recursion), pandas rolling/ewm where it matches exactly, and
real prices (the demo desk, ../shared/data with highs and lows).
"""

from __future__ import annotations

import math
import statistics

import numpy as np
import pandas as pd
import pytest

from hedgedesk.core.book.signals import (
    ATR,
    CLOSE_TO_CLOSE,
    MACD,
    TRUE_RANGE,
    atr,
    context_signals,
    ema,
    macd,
    momentum,
    rsi,
    sma,
    true_range,
    zscore,
)
from hedgedesk.core.data.price_files import load_paths
from hedgedesk.core.demo import load_demo

NAN = float("nan")


def _walk(seed: int, n: int = 400) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A seeded random-walk close with highs/lows around it (high >= max(open, close) etc.)."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.015, n)))
    spread = close * rng.uniform(0.0, 0.02, n)
    high = close + spread * rng.uniform(0.0, 1.0, n)
    low = close - spread * rng.uniform(0.0, 1.0, n)
    return close, high, low


# -- textbook loops (the witnesses) ------------------------------------------------------------
def loop_sma(x, n):
    out = []
    for t in range(len(x)):
        out.append(NAN if t < n - 1 else math.fsum(x[t - n + 1 : t + 1]) / n)
    return out


def loop_wilder(values, n):
    """values[0] unused; first average = mean(values[1..n]) at index n."""
    out = [NAN] * len(values)
    if len(values) <= n:
        return out
    avg = sum(values[1 : n + 1]) / n
    out[n] = avg
    for t in range(n + 1, len(values)):
        avg = (avg * (n - 1) + values[t]) / n
        out[t] = avg
    return out


def loop_rsi(x, n):
    gains = [0.0] + [max(x[t] - x[t - 1], 0.0) for t in range(1, len(x))]
    losses = [0.0] + [max(x[t - 1] - x[t], 0.0) for t in range(1, len(x))]
    ag, al = loop_wilder(gains, n), loop_wilder(losses, n)
    out = []
    for g, lo in zip(ag, al, strict=True):
        if math.isnan(g):
            out.append(NAN)
        elif lo == 0:
            out.append(100.0 if g > 0 else 50.0)
        else:
            out.append(100.0 - 100.0 / (1.0 + g / lo))
    return out


def loop_ema(x, n):
    alpha = 2.0 / (n + 1)
    out = [x[0]]
    for v in x[1:]:
        out.append(alpha * v + (1 - alpha) * out[-1])
    return out


def loop_atr(close, high, low, n):
    tr = [NAN]
    for t in range(1, len(close)):
        if high is None:
            tr.append(abs(close[t] - close[t - 1]))
        else:
            tr.append(
                max(high[t] - low[t], abs(high[t] - close[t - 1]), abs(low[t] - close[t - 1]))
            )  # Wilder's three-way form
    return loop_wilder(tr, n)


def pandas_wilder(values: np.ndarray, n: int) -> np.ndarray:
    """Pandas ewm(alpha=1/n, adjust=False) started from the simple mean of values[1..n]."""
    s = pd.Series(values[n:], dtype=float)
    s.iloc[0] = values[1 : n + 1].mean()
    return np.concatenate([np.full(n, np.nan), s.ewm(alpha=1.0 / n, adjust=False).mean()])


def close_enough(a, b, rel=1e-10):
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=rel, atol=1e-12)


# -- SMA ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 5, 50, 200])
def test_sma_equals_loop_and_pandas_rolling(n):
    close, _, _ = _walk(1)
    got = sma(close, n)
    assert got.shape == close.shape
    close_enough(got, loop_sma(list(close), n))
    close_enough(got, pd.Series(close).rolling(n).mean().to_numpy())
    assert np.isnan(got[: n - 1]).all() and not np.isnan(got[n - 1 :]).any()


def test_sma_shorter_history_is_all_nan():
    assert np.isnan(sma([1.0, 2.0, 3.0], 5)).all()
    assert sma([], 5).shape == (0,)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "5"])
def test_sma_rejects_bad_window(bad):
    with pytest.raises(ValueError, match="whole number"):
        sma([1.0, 2.0, 3.0], bad)


def test_kernels_reject_non_finite_and_2d_closes():
    with pytest.raises(ValueError, match="index 2"):
        rsi([1.0, 2.0, np.nan, 3.0])
    with pytest.raises(ValueError, match="1-d"):
        sma(np.ones((3, 2)), 2)


# -- RSI ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("seed", "n"), [(2, 14), (3, 5), (4, 30)])
def test_rsi_equals_textbook_loop(seed, n):
    close, _, _ = _walk(seed)
    got = rsi(close, n)
    assert got.shape == close.shape
    close_enough(got, loop_rsi(list(close), n), rel=1e-9)
    assert np.isnan(got[:n]).all() and not np.isnan(got[n:]).any()
    assert ((got[n:] >= 0) & (got[n:] <= 100)).all()


def test_rsi_equals_pandas_wilder_ewm():
    close, _, _ = _walk(5)
    n = 14
    change = np.diff(close, prepend=close[0])
    up = pandas_wilder(np.maximum(change, 0), n)
    down = pandas_wilder(np.maximum(-change, 0), n)
    close_enough(rsi(close, n), 100 - 100 / (1 + up / down), rel=1e-9)


def test_rsi_extremes():
    assert rsi(np.arange(1.0, 31.0), 14)[-1] == 100.0  # only gains
    assert rsi(np.arange(31.0, 1.0, -1.0), 14)[-1] == 0.0  # only losses
    assert rsi(np.full(30, 7.0), 14)[-1] == 50.0  # no movement: neutral by definition
    assert np.isnan(rsi(np.arange(1.0, 15.0), 14)).all()  # 14 closes = 13 changes: warm-up


def test_rsi_hand_example():
    """N = 2 by hand: changes +1, +1, -2, +1; averages (1, 0) -> (0.5, 1.0) -> (0.75, 0.5)."""
    got = rsi([10.0, 11.0, 12.0, 10.0, 11.0], 2)
    assert np.isnan(got[:2]).all()
    assert got[2] == 100.0
    assert got[3] == pytest.approx(100 - 100 / (1 + 0.5 / 1.0))
    assert got[4] == pytest.approx(100 - 100 / (1 + 0.75 / 0.5))


# -- MACD --------------------------------------------------------------------------------------
def test_ema_equals_loop_and_pandas():
    close, _, _ = _walk(6)
    close_enough(ema(close, 12), loop_ema(list(close), 12))
    close_enough(ema(close, 12), pd.Series(close).ewm(span=12, adjust=False).mean().to_numpy())


@pytest.mark.parametrize(("fast", "slow", "signal"), [(12, 26, 9), (5, 35, 5)])
def test_macd_equals_loop_and_pandas(fast, slow, signal):
    close, _, _ = _walk(7)
    m = macd(close, fast, slow, signal)
    line_loop = [
        a - b for a, b in zip(loop_ema(list(close), fast), loop_ema(list(close), slow), strict=True)
    ]
    signal_loop = loop_ema(line_loop, signal)
    warm_line, warm_signal = slow - 1, slow + signal - 2
    close_enough(m.macd[warm_line:], line_loop[warm_line:], rel=1e-9)
    close_enough(m.signal[warm_signal:], signal_loop[warm_signal:], rel=1e-9)
    close_enough(
        m.histogram[warm_signal:], np.subtract(line_loop, signal_loop)[warm_signal:], rel=1e-8
    )
    assert np.isnan(m.macd[:warm_line]).all() and np.isnan(m.signal[:warm_signal]).all()
    assert np.isnan(m.histogram[:warm_signal]).all()

    s = pd.Series(close)
    line_pd = (
        s.ewm(span=fast, adjust=False).mean()
        - s.ewm(span=slow, adjust=False, min_periods=slow).mean()
    )
    close_enough(m.macd, line_pd.to_numpy(), rel=1e-9)


def test_macd_unpacks_and_echoes_parameters():
    close, _, _ = _walk(8)
    m = macd(close)
    line, sig, hist = m
    assert isinstance(m, MACD) and (m.fast, m.slow, m.signal_span) == (12, 26, 9)
    assert line is m.macd and sig is m.signal and hist is m.histogram
    assert "first value" in m.seeding and len(line) == len(close)
    with pytest.raises(ValueError, match="shorter"):
        macd(close, 26, 12)


# -- ATR ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [14, 3])
def test_atr_true_range_equals_wilder_loop(n):
    close, high, low = _walk(9)
    got = atr(close, high, low, n=n)
    assert isinstance(got, ATR) and got.method == TRUE_RANGE and got.n == n
    close_enough(got.values, loop_atr(list(close), list(high), list(low), n), rel=1e-9)
    tr, _ = true_range(close, high, low)
    close_enough(got.values, pandas_wilder(tr, n), rel=1e-9)
    assert np.isnan(got.values[:n]).all() and not np.isnan(got.values[n:]).any()


def test_atr_close_to_close_when_no_range_and_says_so():
    close, high, low = _walk(10)
    cc = atr(close, n=14)
    assert cc.method == CLOSE_TO_CLOSE == "close-to-close"
    close_enough(cc.values, loop_atr(list(close), None, None, 14), rel=1e-9)
    # the true range is never below |close[t] - close[t-1]|, so neither is its Wilder average
    tr = atr(close, high, low, n=14)
    assert (tr.values[14:] >= cc.values[14:] - 1e-12).all()
    assert (tr.values[14:] > cc.values[14:]).any()


def test_atr_hand_example():
    """N = 2: TR[1] = max(12, 10) - min(9, 10) = 3, TR[2] = max(13, 11) - min(10, 11) = 3,
    TR[3] = max(12, 12) - min(8, 12) = 4 -> ATR 3, then (3 * 1 + 4) / 2 = 3.5.
    """
    close = [10.0, 11.0, 12.0, 9.0]
    high = [10.0, 12.0, 13.0, 12.0]
    low = [10.0, 9.0, 10.0, 8.0]
    got = atr(close, high, low, n=2).values
    assert np.isnan(got[:2]).all() and got[2] == 3.0 and got[3] == 3.5


def test_atr_rejects_inconsistent_ranges():
    close, high, low = _walk(11, 30)
    with pytest.raises(ValueError, match="both high and low"):
        atr(close, high=high)
    with pytest.raises(ValueError, match="same length"):
        atr(close, high[:-1], low[:-1])
    with pytest.raises(ValueError, match="high below low at index 3"):
        atr(close, np.where(np.arange(30) == 3, low - 1, high), low)


# -- context signals -----------------------------------------------------------------------------
def test_context_signals_are_the_latest_kernel_values():
    close, high, low = _walk(12, 300)
    cs = context_signals(close, high, low)
    m = macd(close)
    assert cs.close == close[-1] and cs.n_closes == 300
    assert cs.sma_fast == pytest.approx(statistics.fmean(close[-50:]), rel=1e-12)
    assert cs.sma_slow == pytest.approx(statistics.fmean(close[-200:]), rel=1e-12)
    assert cs.rsi == pytest.approx(loop_rsi(list(close), 14)[-1], rel=1e-9)
    assert (cs.macd, cs.macd_signal, cs.macd_histogram) == (
        m.macd[-1],
        m.signal[-1],
        m.histogram[-1],
    )
    assert cs.atr == pytest.approx(loop_atr(list(close), list(high), list(low), 14)[-1], rel=1e-9)
    assert cs.atr_pct == pytest.approx(100 * cs.atr / close[-1])
    assert cs.atr_method == "true range" and cs.notes == ()
    assert cs.trend == ("above" if close[-1] > cs.sma_slow else "below")
    assert cs.as_dict()["rsi_n"] == 14


def test_context_trend_follows_price_against_the_200_day():
    up = np.linspace(50.0, 150.0, 260)
    assert context_signals(up).trend == "above"
    assert context_signals(up[::-1]).trend == "below"


def test_context_short_history_is_nan_and_said():
    cs = context_signals(np.linspace(10.0, 20.0, 60))
    assert cs.trend == "unknown" and math.isnan(cs.sma_slow)
    assert not math.isnan(cs.sma_fast) and not math.isnan(cs.macd)
    assert any("200-day" in note for note in cs.notes)


def test_context_falls_back_to_close_to_close_when_ranges_have_holes():
    close, high, low = _walk(13, 300)
    high = high.copy()
    high[100] = np.nan
    cs = context_signals(close, high, low)
    assert cs.atr_method == "close-to-close"
    assert cs.atr == pytest.approx(atr(close).latest)
    assert any("1 rows" in note for note in cs.notes)


# -- real data -----------------------------------------------------------------------------------
def test_demo_aapl_signals_are_sane():
    s = load_demo().get("AAPL")
    cs = context_signals(s.close)
    assert s.high is None and cs.atr_method == "close-to-close"
    assert cs.n_closes == len(s.close) > 5000
    assert cs.sma_slow == pytest.approx(statistics.fmean(s.close[-200:]), rel=1e-12)
    assert 0.0 < cs.rsi < 100.0
    assert 0.3 < cs.atr_pct < 10.0  # a large-cap stock's daily move in percent
    # the whole-history arrays agree with the loops too (8,000 points of real prices)
    close_enough(rsi(s.close), loop_rsi(list(s.close), 14), rel=1e-8)


@pytest.mark.parametrize("path", ["etf/SPY.csv", "mag7/AAPL.csv"])
def test_shared_data_true_range(shared_data, path):
    file = shared_data / path
    if not file.is_file():
        pytest.skip(f"{path} is not present")
    (s,) = load_paths([file]).series.values()
    if s.high is None:
        pytest.skip(f"{path} has no highs and lows")
    cs = context_signals(s.close, s.high, s.low)
    assert cs.atr_method == "true range"
    assert cs.atr == pytest.approx(
        loop_atr(list(s.close), list(s.high), list(s.low), 14)[-1], rel=1e-9
    )
    tr = atr(s.close, s.high, s.low).values
    cc = atr(s.close).values
    assert (tr[14:] >= cc[14:] - 1e-9).all()
    # intraday range makes the true range clearly, but not wildly, larger than close-to-close
    assert 1.05 < np.nanmedian(tr / cc) < 3.0
    assert 0.2 < cs.atr_pct < 10.0


# -- momentum and mean reversion (issue 17) -------------------------------------------------
@pytest.mark.parametrize(("lookback", "skip"), [(252, 21), (60, 5), (10, 0)])
def test_momentum_equals_a_loop_and_pandas_shift(lookback, skip):
    close, _, _ = _walk(21, 400)
    got = momentum(close, lookback, skip)
    loop = [
        close[t - skip] / close[t - lookback] - 1 if t >= lookback else math.nan
        for t in range(len(close))
    ]
    np.testing.assert_allclose(got, loop, rtol=1e-14, equal_nan=True)
    s = pd.Series(close)
    np.testing.assert_allclose(got, s.shift(skip) / s.shift(lookback) - 1, equal_nan=True)


def test_momentum_hand_example_and_bad_input():
    """Closes 100, 110, ..., 12-1 with lookback 3, skip 1: at t = 3, close[2] / close[0] - 1."""
    close = np.array([100.0, 110.0, 121.0, 90.0, 80.0])
    got = momentum(close, 3, 1)
    assert np.isnan(got[:3]).all()
    assert got[3] == pytest.approx(0.21) and got[4] == pytest.approx(90 / 110 - 1)
    # a non-positive close (WTI, 20 April 2020) gives no return, not an error
    mixed = momentum(np.array([1.0, -37.63, 2.0, 3.0]), 2, 0)
    assert mixed[2] == pytest.approx(1.0) and np.isnan(mixed[3])
    with pytest.raises(ValueError, match="skip"):
        momentum(close, 3, 3)
    with pytest.raises(ValueError, match="skip"):
        momentum(close, 3, -1)
    with pytest.raises(ValueError, match="lookback"):
        momentum(close, 0, 0)


@pytest.mark.parametrize("n", [2, 20, 50])
def test_zscore_equals_pandas_rolling(n):
    close, _, _ = _walk(22, 300)
    s = pd.Series(close)
    want = (s - s.rolling(n).mean()) / s.rolling(n).std(ddof=1)
    np.testing.assert_allclose(zscore(close, n), want, rtol=1e-9, atol=1e-12, equal_nan=True)


def test_zscore_hand_example_flat_window_and_bad_n():
    """Window 1, 2, 3, 4, 10: mean 4, sample sd sqrt(50 / 4) = 3.5355: z = 6 / 3.5355."""
    got = zscore(np.array([1.0, 2.0, 3.0, 4.0, 10.0]), 5)
    assert np.isnan(got[:4]).all() and got[4] == pytest.approx(6 / math.sqrt(12.5))
    assert (zscore(np.full(10, 7.0), 5)[4:] == 0).all()
    with pytest.raises(ValueError, match="n must be >= 2"):
        zscore(np.ones(5), 1)


def test_context_reports_momentum_and_zscore():
    close, high, low = _walk(23, 300)
    cs = context_signals(close, high, low)
    assert cs.momentum == pytest.approx(close[-22] / close[-253] - 1, rel=1e-12)
    last = close[-20:]
    z = (close[-1] - statistics.fmean(last)) / statistics.stdev(last)
    assert cs.zscore == pytest.approx(z, rel=1e-9)
    assert cs.stretch == (
        "stretched above" if z >= 2 else "stretched below" if z <= -2 else "within"
    )
    assert cs.as_dict()["momentum_lookback"] == 252 and cs.as_dict()["zscore_n"] == 20
    short = context_signals(np.linspace(10.0, 20.0, 60))
    assert math.isnan(short.momentum) and not math.isnan(short.zscore)
    assert any("momentum needs 253" in note for note in short.notes)
    up = context_signals(np.r_[np.full(30, 10.0), 20.0])
    assert up.stretch == "stretched above" and up.zscore > 2

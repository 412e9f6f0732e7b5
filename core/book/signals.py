"""Context and tactical signals for the hedging plan: moving averages, RSI, MACD, average true
range, 12-1 month momentum and the z-score of price against its moving average.

Every kernel takes a 1-d array of daily closes (oldest first, finite, float64) and returns arrays
of the same length, NaN during its warm-up, so a value at index ``t`` uses closes ``0..t`` only.
Definitions (the textbook ones, stated so that they can be re-implemented from this page):

- ``sma[t] = mean(close[t-n+1..t])`` from ``t = n-1``.
- Wilder smoothing of a series ``x[1..]`` over ``n``: the first average (index ``n``) is the
  simple mean of ``x[1..n]``, then ``avg[t] = (avg[t-1] * (n-1) + x[t]) / n``.
- RSI: gains ``max(close[t]-close[t-1], 0)`` and losses ``max(close[t-1]-close[t], 0)`` Wilder
  smoothed; ``rsi = 100 - 100 / (1 + avg_gain / avg_loss)`` (100 when avg_loss is 0, 50 when
  both are 0: no movement at all).
- EMA over ``n``: ``alpha = 2 / (n + 1)``, seeded at the first value (``ema[0] = x[0]``),
  ``ema[t] = alpha * x[t] + (1 - alpha) * ema[t-1]`` (pandas ``ewm(span=n, adjust=False)``).
- MACD: line = EMA_fast(close) - EMA_slow(close); signal = EMA_signal(line), seeded at the
  line's first value; histogram = line - signal.
- ATR: Wilder smoothing of the true range ``max(high[t], close[t-1]) - min(low[t], close[t-1])``
  for ``t >= 1``; without highs and lows, of ``|close[t] - close[t-1]|`` (close-to-close, which
  misses intraday range and so reads lower).
- Momentum ``L``-``S`` (12-1 months: ``L = 252``, ``S = 21`` trading days):
  ``mom[t] = close[t-S] / close[t-L] - 1``, a simple return as a fraction (0.10 = 10 %) from
  ``t = L``; the last ``S`` days are skipped because one-month returns tend to reverse.
- Mean-reversion z-score over ``n`` (20 days): ``z[t] = (close[t] - sma[t]) / sd[t]`` with
  ``sd[t]`` the sample standard deviation (ddof 1) of ``close[t-n+1..t]``, from ``t = n-1``;
  0 when the window is flat (sd 0, the close equals its mean). ``|z| >= 2`` reads as
  stretched: a mean-reversion trade fades it, a momentum one does not.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from hedgedesk.core.checks import readonly

ZSCORE_STRETCH = 2.0  # |z| at or beyond this reads as stretched from the moving average
TRUE_RANGE = "true range"
CLOSE_TO_CLOSE = "close-to-close"


def _prices(values, name: str) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"{name} must be a 1-d array of daily prices, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        bad = int(np.flatnonzero(~np.isfinite(x))[0])
        raise ValueError(f"{name} has a non-finite value at index {bad}")
    return x


def _window(n, name: str = "n") -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"{name} must be a whole number of days >= 1, got {n!r}")
    return int(n)


def sma(close, n: int) -> np.ndarray:
    """Simple moving average of the last ``n`` closes: ``mean(close[t-n+1..t])``.

    Parameters
    ----------
    close : array_like, shape (n_days,)
        Daily closes, oldest first, finite.
    n : int
        Window in days, >= 1.

    Returns
    -------
    ndarray, shape (n_days,)
        In price units; NaN for ``t < n - 1``.
    """
    x = _prices(close, "close")
    n = _window(n)
    out = np.full(len(x), np.nan)
    if len(x) >= n:
        out[n - 1 :] = sliding_window_view(x, n).mean(axis=1)
    return out


def ema(values, n: int) -> np.ndarray:
    """EMA with ``alpha = 2 / (n + 1)`` seeded at the first value (no NaN warm-up).

    Parameters
    ----------
    values : array_like, shape (n_days,)
        A daily series (closes, or the MACD line), oldest first, finite.
    n : int
        Span in days, >= 1.

    Returns
    -------
    ndarray, shape (n_days,)
        In the unit of ``values``.
    """
    x = _prices(values, "values")
    n = _window(n)
    out = np.empty(len(x))
    if len(x) == 0:
        return out
    from scipy.signal import lfilter  # scipy.signal takes ~0.1 s to load: on use only

    alpha = 2.0 / (n + 1.0)
    out[0] = x[0]
    out[1:] = lfilter([alpha], [1.0, -(1.0 - alpha)], x[1:], zi=[(1.0 - alpha) * x[0]])[0]
    return out


def wilder(x, n: int) -> np.ndarray:
    """Wilder average of ``x[1..]`` (``x[0]`` is ignored: a change needs a previous close).

    ``avg[n] = mean(x[1..n])``, ``avg[t] = (avg[t-1] * (n-1) + x[t]) / n``.

    Parameters
    ----------
    x : array_like, shape (n_days,)
        Daily values (gains, losses, true ranges); ``x[0]`` unused.
    n : int
        Smoothing length in days, >= 1.

    Returns
    -------
    ndarray, shape (n_days,)
        In the unit of ``x``; NaN for ``t < n``.
    """
    v = np.asarray(x, dtype=np.float64)
    n = _window(n)
    out = np.full(len(v), np.nan)
    if len(v) <= n:
        return out
    from scipy.signal import lfilter

    seed = v[1 : n + 1].mean()
    out[n] = seed
    a = (n - 1.0) / n
    out[n + 1 :] = lfilter([1.0 / n], [1.0, -a], v[n + 1 :], zi=[a * seed])[0]
    return out


def rsi(close, n: int = 14) -> np.ndarray:
    """Wilder's relative strength index (the module's definition).

    Parameters
    ----------
    close : array_like, shape (n_days,)
        Daily closes, oldest first, finite.
    n : int
        Smoothing length in days, >= 1.

    Returns
    -------
    ndarray, shape (n_days,)
        RSI in points from 0 to 100 (not a fraction); NaN for ``t < n``.
    """
    x = _prices(close, "close")
    n = _window(n)
    change = np.diff(x, prepend=x[:1])
    up = wilder(np.maximum(change, 0.0), n)
    down = wilder(np.maximum(-change, 0.0), n)
    total = up + down
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(total > 0, 100.0 * up / total, 50.0)  # = 100 - 100 / (1 + up / down)
    out[np.isnan(up)] = np.nan
    return out


def momentum(close, lookback: int = 252, skip: int = 21) -> np.ndarray:
    """Time-series momentum ``close[t-skip] / close[t-lookback] - 1`` (12-1 months by default).

    Parameters
    ----------
    close : array_like, shape (n_days,)
        Daily closes, oldest first, finite.
    lookback : int
        Days back to the start of the measured span, > ``skip``.
    skip : int
        Most recent days left out, >= 0.

    Returns
    -------
    ndarray, shape (n_days,)
        Simple returns as fractions (0.10 = 10 %); NaN for ``t < lookback`` and where
        either close is <= 0 (WTI closed at -37.63 USD on 2020-04-20: no return is defined).
    """
    x = _prices(close, "close")
    lookback = _window(lookback, "lookback")
    if isinstance(skip, bool) or not isinstance(skip, int | np.integer) or skip < 0:
        raise ValueError(f"skip must be a whole number of days >= 0, got {skip!r}")
    if skip >= lookback:
        raise ValueError(f"skip ({skip}) must be shorter than lookback ({lookback})")
    out = np.full(len(x), np.nan)
    if len(x) > lookback:
        new, old = x[lookback - skip : len(x) - skip], x[: len(x) - lookback]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[lookback:] = (
                np.where((new > 0) & (old > 0), new / np.where(old > 0, old, 1.0), np.nan) - 1.0
            )
    return out


def zscore(close, n: int = 20) -> np.ndarray:
    """Z-score of the close against its ``n``-day simple moving average (the module's
    definition): ``(close - sma) / sample sd`` of the same window.

    Parameters
    ----------
    close : array_like, shape (n_days,)
        Daily closes, oldest first, finite.
    n : int
        Window in days, >= 2.

    Returns
    -------
    ndarray, shape (n_days,)
        Standard deviations (unitless); NaN for ``t < n - 1``; 0 on a flat window.
    """
    x = _prices(close, "close")
    n = _window(n)
    if n < 2:
        raise ValueError(f"n must be >= 2 for a standard deviation, got {n}")
    out = np.full(len(x), np.nan)
    if len(x) >= n:
        w = sliding_window_view(x, n)
        mean = w.mean(axis=1)
        sd = w.std(axis=1, ddof=1)
        dev = x[n - 1 :] - mean
        flat = sd <= 1e-12 * np.maximum(np.abs(mean), 1.0)  # rounding noise of a flat window
        with np.errstate(divide="ignore", invalid="ignore"):
            out[n - 1 :] = np.where(flat, 0.0, dev / np.where(flat, 1.0, sd))
    return out


@dataclass(frozen=True)
class MACD:
    """MACD line, signal and histogram (price units), each shaped like the closes.

    EMAs are seeded at the first close (line: first value; signal: the line's first value).
    The line is NaN for ``t < slow - 1`` and signal/histogram for ``t < slow + signal - 2``,
    the span over which the seed still dominates. Unpacks as ``line, signal, histogram``.
    """

    macd: np.ndarray
    signal: np.ndarray
    histogram: np.ndarray
    fast: int
    slow: int
    signal_span: int
    seeding: str = "EMAs seeded at the first value (alpha = 2/(n+1))"

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.macd, self.signal, self.histogram))


def macd(close, fast: int = 12, slow: int = 26, signal: int = 9) -> MACD:
    """Moving average convergence/divergence of daily closes; see :class:`MACD`.

    Parameters
    ----------
    close : array_like, shape (n_days,)
        Daily closes, oldest first, finite.
    fast, slow, signal : int
        EMA spans in days, ``fast < slow``.

    Returns
    -------
    MACD
        Line, signal and histogram, each shape (n_days,) in price units, read-only.
    """
    x = _prices(close, "close")
    fast, slow, signal = _window(fast, "fast"), _window(slow, "slow"), _window(signal, "signal")
    if fast >= slow:
        raise ValueError(f"fast span ({fast}) must be shorter than slow span ({slow})")
    line = ema(x, fast) - ema(x, slow)
    sig = ema(line, signal) if len(x) else np.empty(0)
    hist = line - sig
    line[: slow - 1] = np.nan
    sig[: slow + signal - 2] = np.nan
    hist[: slow + signal - 2] = np.nan
    return MACD(readonly(line), readonly(sig), readonly(hist), fast, slow, signal)


@dataclass(frozen=True)
class ATR:
    """Average true range (price units), shaped like the closes, NaN for ``t < n``.

    ``method`` is "true range" (highs and lows used) or "close-to-close" (|close[t]-close[t-1]|,
    when no highs/lows were given; it reads lower than the true range).
    """

    values: np.ndarray
    n: int
    method: str

    @property
    def latest(self) -> float:
        """The last value (price units); NaN for an empty or too short history."""
        return float(self.values[-1]) if len(self.values) else float("nan")


def true_range(close, high=None, low=None) -> tuple[np.ndarray, str]:
    """Per-day range and the method used; see :func:`atr`.

    Parameters
    ----------
    close : array_like, shape (n_days,)
        Daily closes, oldest first, finite.
    high, low : array_like, shape (n_days,), optional
        Daily highs and lows, both or neither.

    Returns
    -------
    range : ndarray, shape (n_days,)
        True range (or ``|close[t] - close[t-1]|`` without highs and lows) in price units;
        NaN at index 0.
    method : str
        ``"true range"`` or ``"close-to-close"``.
    """
    c = _prices(close, "close")
    if (high is None) != (low is None):
        raise ValueError("give both high and low, or neither (close-to-close range)")
    tr = np.full(len(c), np.nan)
    if high is None:
        tr[1:] = np.abs(np.diff(c))
        return tr, CLOSE_TO_CLOSE
    h, lo = _prices(high, "high"), _prices(low, "low")
    if h.shape != c.shape or lo.shape != c.shape:
        raise ValueError(
            f"high {h.shape}, low {lo.shape} and close {c.shape} must have the same length"
        )
    if np.any(h < lo):
        bad = int(np.flatnonzero(h < lo)[0])
        raise ValueError(f"high below low at index {bad}: {h[bad]:g} < {lo[bad]:g}")
    prev = c[:-1]
    tr[1:] = np.maximum(h[1:], prev) - np.minimum(lo[1:], prev)
    return tr, TRUE_RANGE


def atr(close, high=None, low=None, n: int = 14) -> ATR:
    """Wilder-smoothed true range over ``n`` days; close-to-close when high/low are None.

    Parameters
    ----------
    close : array_like, shape (n_days,)
        Daily closes, oldest first, finite.
    high, low : array_like, shape (n_days,), optional
        Daily highs and lows, both or neither.
    n : int
        Smoothing length in days, >= 1.

    Returns
    -------
    ATR
        Values shape (n_days,) in price units, NaN for ``t < n``, read-only.
    """
    tr, method = true_range(close, high, low)
    return ATR(readonly(wilder(tr, n)), _window(n), method)


@dataclass(frozen=True)
class ContextSignals:
    """The latest value of each context signal (price units unless stated), with its inputs.

    NaN where the history is shorter than the warm-up; ``trend`` is "above"/"below" the slow
    SMA (the 200-day by default), "unknown" before it exists.
    """

    close: float  # latest close
    n_closes: int
    sma_fast: float
    sma_slow: float
    trend: str
    rsi: float  # 0..100
    macd: float
    macd_signal: float
    macd_histogram: float
    atr: float
    atr_pct: float  # ATR as a percentage of the latest close (2.0 = 2 %)
    atr_method: str  # "true range" or "close-to-close"
    sma_fast_n: int = 50
    sma_slow_n: int = 200
    rsi_n: int = 14
    macd_fast: int = 12
    macd_slow: int = 26
    macd_signal_n: int = 9
    atr_n: int = 14
    notes: tuple[str, ...] = field(default=())
    momentum: float = float("nan")  # 12-1 month simple return, fraction (0.10 = 10 %)
    zscore: float = float("nan")  # (close - SMA) / sample sd over zscore_n days
    momentum_lookback: int = 252
    momentum_skip: int = 21
    zscore_n: int = 20

    @property
    def stretch(self) -> str:
        """The z-score read for mean reversion: "stretched above" (z >= 2), "stretched
        below" (z <= -2), "within" or "unknown" while it warms up.
        """
        if not np.isfinite(self.zscore):
            return "unknown"
        if self.zscore >= ZSCORE_STRETCH:
            return "stretched above"
        if self.zscore <= -ZSCORE_STRETCH:
            return "stretched below"
        return "within"

    def as_dict(self) -> dict:
        """The fields by name, for JSON."""
        return asdict(self)


def context_signals(
    close,
    high=None,
    low=None,
    *,
    sma_fast_n: int = 50,
    sma_slow_n: int = 200,
    rsi_n: int = 14,
    macd_fast: int = 12,
    macd_slow: int = 26,
    macd_signal_n: int = 9,
    atr_n: int = 14,
    momentum_lookback: int = 252,
    momentum_skip: int = 21,
    zscore_n: int = 20,
) -> ContextSignals:
    """Latest SMA50/SMA200, trend vs the 200-day, RSI14, MACD(12, 26, 9), ATR14, 12-1 month
    momentum and the 20-day z-score.

    Highs/lows with a missing (NaN) row are not used: the ATR falls back to close-to-close and
    ``notes`` says so.

    Parameters
    ----------
    close : array_like, shape (n_days,)
        Daily closes, oldest first, finite, at least one.
    high, low : array_like, shape (n_days,), optional
        Daily highs and lows, both or neither.
    sma_fast_n, sma_slow_n, rsi_n, macd_fast, macd_slow, macd_signal_n, atr_n : int
        Windows and spans in days.
    momentum_lookback, momentum_skip, zscore_n : int
        Momentum span and skipped days, z-score window, in days.

    Returns
    -------
    ContextSignals
        The last value of each signal: prices in price units, RSI 0-100, ATR also as a
        percentage of the close (2.0 = 2 %), momentum as a fraction, z-score in standard
        deviations; NaN while a signal is warming up.
    """
    c = _prices(close, "close")
    if len(c) == 0:
        raise ValueError("no closes")
    notes: list[str] = []
    if high is not None and low is not None:
        h, lo = np.asarray(high, np.float64), np.asarray(low, np.float64)
        if h.shape == c.shape == lo.shape:  # otherwise atr() says what is wrong
            missing = int(np.sum(~(np.isfinite(h) & np.isfinite(lo))))
            if missing:
                notes.append(f"highs/lows missing on {missing} rows: ATR uses close-to-close")
                high = low = None
    last = len(c) - 1
    fast_sma = sma(c, sma_fast_n)[last]
    slow_sma = sma(c, sma_slow_n)[last]
    if np.isnan(slow_sma):
        trend = "unknown"
        notes.append(f"{len(c)} closes: the {sma_slow_n}-day SMA needs {sma_slow_n}")
    else:
        trend = "above" if c[last] > slow_sma else "below"
    m = macd(c, macd_fast, macd_slow, macd_signal_n)
    a = atr(c, high, low, atr_n)
    mom = float(momentum(c, momentum_lookback, momentum_skip)[last])
    if np.isnan(mom):
        notes.append(
            f"{len(c)} closes: {momentum_lookback}-{momentum_skip} day momentum needs "
            f"{momentum_lookback + 1}"
        )
    return ContextSignals(
        close=float(c[last]),
        n_closes=len(c),
        sma_fast=float(fast_sma),
        sma_slow=float(slow_sma),
        trend=trend,
        rsi=float(rsi(c, rsi_n)[last]),
        macd=float(m.macd[last]),
        macd_signal=float(m.signal[last]),
        macd_histogram=float(m.histogram[last]),
        atr=a.latest,
        atr_pct=100.0 * a.latest / float(c[last]),
        atr_method=a.method,
        sma_fast_n=sma_fast_n,
        sma_slow_n=sma_slow_n,
        rsi_n=rsi_n,
        macd_fast=macd_fast,
        macd_slow=macd_slow,
        macd_signal_n=macd_signal_n,
        atr_n=atr_n,
        notes=tuple(notes),
        momentum=mom,
        zscore=float(zscore(c, zscore_n)[last]),
        momentum_lookback=momentum_lookback,
        momentum_skip=momentum_skip,
        zscore_n=zscore_n,
    )

"""The sweep kernel: one hedge configuration simulated day by day, metrics reduced on the fly.

One source serves both backends: :func:`simulate` is compiled by numba for the CPU (a parallel
loop over configurations, :func:`run_cpu`) and, unchanged, as a CUDA device function called by
one GPU thread per configuration (``hedgedesk.core.sweep.gpu``). It follows the CONVENTIONS backtest
step by step (``hedgedesk.core.sweep.backtest.dynamic_beta_hedge`` is its witness) and never stores
a curve:
everything a metric needs is a running sum, a running peak or a 63-slot ring.

Betas depend on the leg, the window and the estimator but not on the other parameters, so each
leg's betas are computed once per (window, estimator) on the host (:func:`leg_tables`, a
two-pass sliding-window regression, exact like the witness) and read by every configuration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numba
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from hedgedesk.core.beta import rolling_beta
from hedgedesk.core.sweep.backtest import CONSTANT_RETURNS_TOL, ewma_weights
from hedgedesk.core.sweep.grid import Grid

ROLLING = 63  # returns in the consistency and residual-beta windows (a quarter)
MAX_BLOCKS = 16  # most CSCV blocks a sweep may ask for

# status of a configuration
OK, RUINED, UNDEFINED_BETA = 0, 1, 2
STATUS_NAMES = {OK: "ok", RUINED: "ruined", UNDEFINED_BETA: "undefined beta"}

# output rows of the kernel, one column per configuration (coalesced writes on the GPU)
METRICS = (
    "status",
    "n",
    "annual_return",
    "annual_volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "turnover",
    "residual_beta",
    "consistency",
    "final_equity",
    "is_n",
    "is_annual_return",
    "is_sharpe",
    "is_max_drawdown",
    "is_consistency",
    "shift",
)
(
    STATUS,
    N,
    ANNUAL_RETURN,
    ANNUAL_VOLATILITY,
    SHARPE,
    SORTINO,
    MAX_DRAWDOWN,
    CALMAR,
    TURNOVER,
    RESIDUAL_BETA,
    CONSISTENCY,
    FINAL_EQUITY,
    IS_N,
    IS_ANNUAL_RETURN,
    IS_SHARPE,
    IS_MAX_DRAWDOWN,
    IS_CONSISTENCY,
    SHIFT,
) = range(len(METRICS))
# then per CSCV block b of S: row BLOCK_SUM1 + b, the sum of (R - shift) over the block, and
# row BLOCK_SUM1 + S + b, the sum of (R - shift)^2
BLOCK_SUM1 = len(METRICS)


def n_out(n_blocks: int) -> int:
    """Output rows per configuration with ``n_blocks`` CSCV blocks."""
    return BLOCK_SUM1 + 2 * n_blocks


@dataclass(frozen=True, eq=False)
class LegTables:
    """What every configuration of one leg reads (all FP64, T = number of return days).

    ``betas[w * n_estimators + e, t]``: the beta of window ``grid.window[w]`` and estimator
    ``grid.estimator[e]`` at close t (NaN before a full window or where the hedge's returns
    are constant). ``res_xbar[t]``, ``res_inv_sxx[t]``: mean and 1 / sum of squared
    deviations of the hedge's last ROLLING returns through t (for the residual beta).
    """

    r_long: np.ndarray
    r_hedge: np.ndarray
    g_long: np.ndarray  # impact coefficient x sqrt(capital), 0 without impact
    g_hedge: np.ndarray
    betas: np.ndarray
    res_xbar: np.ndarray
    res_inv_sxx: np.ndarray

    @property
    def n_days(self) -> int:
        """Daily returns in the tables (days)."""
        return len(self.r_long)


def _sliding(x: np.ndarray, window: int) -> np.ndarray:
    """Rows t = window-1..T-1: the window of x ending at t (a view, no copy)."""
    return sliding_window_view(x, window)


def leg_tables(
    grid: Grid,
    r_long: np.ndarray,
    r_hedge: np.ndarray,
    g_long: np.ndarray | None = None,
    g_hedge: np.ndarray | None = None,
) -> LegTables:
    """The tables every configuration of one leg reads: betas per (window, estimator) and
    the residual-beta window's statistics, computed once on the host.

    Parameters
    ----------
    grid : Grid
        The sweep's grid (its windows and estimators).
    r_long, r_hedge : ndarray, shape (n_days,)
        Daily simple returns of the leg and of the hedge, as fractions.
    g_long, g_hedge : ndarray, shape (n_days,), optional
        Square-root-law impact coefficients times sqrt(capital) (see
        ``backtest.impact_coefficients``); None: no impact (zeros).

    Returns
    -------
    LegTables
        FP64, C-contiguous; ``betas`` has shape (n_windows * n_estimators, n_days).
    """
    r_long = np.ascontiguousarray(r_long, dtype=np.float64)
    r_hedge = np.ascontiguousarray(r_hedge, dtype=np.float64)
    n_days = len(r_long)
    betas = np.empty((len(grid.window) * len(grid.estimator), n_days))
    for w, window in enumerate(grid.window):
        for e, est in enumerate(grid.estimator):
            weights = None if est.kind == "ols" else ewma_weights(window, est.halflife)
            betas[w * len(grid.estimator) + e] = rolling_beta(r_long, r_hedge, window, weights)
    xbar = np.full(n_days, np.nan)
    inv_sxx = np.full(n_days, np.nan)
    if n_days >= ROLLING:
        x = _sliding(r_hedge, ROLLING)
        xbar[ROLLING - 1 :] = x.mean(axis=1)
        sxx = ((x - xbar[ROLLING - 1 :, None]) ** 2).sum(axis=1)
        with np.errstate(divide="ignore"):
            inv_sxx[ROLLING - 1 :] = np.where(
                np.ptp(x, axis=1) > CONSTANT_RETURNS_TOL, 1.0 / sxx, np.nan
            )
    zeros = np.zeros(n_days)
    return LegTables(
        r_long,
        r_hedge,
        zeros if g_long is None else np.ascontiguousarray(g_long, np.float64),
        zeros if g_hedge is None else np.ascontiguousarray(g_hedge, np.float64),
        betas,
        xbar,
        inv_sxx,
    )


def block_counts(n: int, n_blocks: int) -> np.ndarray:
    """Returns per CSCV block when n days are split: day q (0-based) is in block ``q * S // n``
    (n = stop - first_day: the same days for every configuration).

    Parameters
    ----------
    n : int
        Days split into blocks.
    n_blocks : int
        S, the number of blocks.

    Returns
    -------
    ndarray of int, shape (n_blocks,)
        Days per block, summing to n.
    """
    q = np.arange(n)
    return np.bincount(q * n_blocks // n, minlength=n_blocks)


# -- the kernel ------------------------------------------------------------------------------
# error_model="numpy": a division by zero gives inf/NaN as on the GPU instead of raising
_jit = numba.njit(error_model="numpy", cache=True)


@_jit
def summary(shift, sum1, sum2, down2, n, equity, rf_d, periods):
    """(annual_return, annual_volatility, sharpe, sortino) of n returns whose sum of
    ``(R - shift)`` is ``sum1``, of squares ``sum2``, with downside sum ``down2`` of
    ``min(R - rf_d, 0)^2``, ending at ``equity`` (the curve starts at 1).
    """
    nan = math.nan
    if n < 2:
        return nan, nan, nan, nan
    mean = shift + sum1 / n
    var = (sum2 - sum1 * sum1 / n) / (n - 1)
    sd = math.sqrt(var) if var > 0.0 else 0.0
    annual = equity ** (periods / n) - 1.0
    root = math.sqrt(periods)
    sharpe = (mean - rf_d) / sd * root if sd > 0.0 else nan
    downside = math.sqrt(down2 / n)
    sortino = (mean - rf_d) / downside * root if downside > 0.0 else nan
    return annual, sd * root, sharpe, sortino


@_jit
def simulate(
    row,
    r_long,
    r_hedge,
    g_long,
    g_hedge,
    betas,
    res_xbar,
    res_inv_sxx,
    rebalances,
    windows,
    n_est,
    exposures,
    ratios,
    bands,
    costs,
    impacts,
    start,
    stop,
    split,
    block_from,
    n_blocks,
    rf_d,
    periods,
    ring_e,
    ring_r,
    out,
    col,
):
    """Run grid row ``row`` over return days [max(W-1, start), stop) and write its metrics to
    ``out[:, col]``. ``split``: the first out-of-sample day (in-sample metrics are a snapshot
    at its eve; pass ``stop`` for none). CSCV blocks split the days [block_from, stop) the
    same way for every configuration (``block_from`` >= every configuration's first day).
    ``ring_e``/``ring_r``: ROLLING-slot scratch.
    """
    nan = math.nan
    # decode the row, innermost axis first (hedgedesk.core.sweep.grid.AXES)
    i = row
    eta = impacts[i % impacts.size]
    i //= impacts.size
    c = costs[i % costs.size]
    i //= costs.size
    d = bands[i % bands.size]
    i //= bands.size
    h = ratios[i % ratios.size]
    i //= ratios.size
    k = exposures[i % exposures.size]
    i //= exposures.size
    i_est = i % n_est
    i //= n_est
    i_win = i % windows.size
    period = rebalances[i // windows.size]
    beta_row = i_win * n_est + i_est
    first = max(windows[i_win] - 1, start)
    n = stop - first

    status = OK
    equity = 1.0  # E, in units of the starting capital
    held_long = 0.0  # L
    held_short = 0.0  # S (< 0: the hedge is long)
    traded = 0.0
    prev = 1.0
    shift, sum1, sum2, down2 = 0.0, 0.0, 0.0, 0.0
    peak, mdd = 1.0, 0.0
    sum_equity = 1.0  # the starting point counts in mean equity
    ring_e[0] = 1.0
    slot_e = 0
    cons_pos, cons_n = 0, 0
    res_r, res_rx, res_sum, res_n = 0.0, 0.0, 0.0, 0
    slot_r = 0
    block, block1, block2 = 0, 0.0, 0.0
    n_block_days = stop - block_from
    boundary = block_from + (n_block_days + n_blocks - 1) // n_blocks  # day ending block 0
    is_ann, is_sharpe, is_mdd, is_cons = nan, nan, nan, nan
    due = 0  # days until the next scheduled rebalance
    t = first
    while t < stop:
        rl = r_long[t]
        rh = r_hedge[t]
        if t > first:  # a. mark to market
            equity += held_long * rl - held_short * rh
            held_long *= 1.0 + rl
            held_short *= 1.0 + rh
        if due == 0:  # b. scheduled rebalance
            due = period
            beta = betas[beta_row, t]
            if beta != beta:
                status = UNDEFINED_BETA
                break
            target = h * beta
            if d == 0.0 or held_long == 0.0 or abs(held_short / held_long - target) > d:
                new_long = k * equity
                new_short = target * new_long
                dl = abs(new_long - held_long)
                ds = abs(new_short - held_short)
                fee = c * (dl + ds)
                if eta > 0.0:
                    fee += eta * (g_long[t] * dl * math.sqrt(dl) + g_hedge[t] * ds * math.sqrt(ds))
                equity -= fee
                traded += dl + ds
                held_long = new_long
                held_short = new_short
        due -= 1
        if not equity > 0.0:
            status = RUINED
            break
        # the curve's return of day t and every running statistic
        q = t - first  # 0-based index of this return
        r = equity / prev - 1.0
        prev = equity
        if q == 0:
            shift = r
        x = r - shift
        sum1 += x
        sum2 += x * x
        # branch-free where the outcome is a coin flip (mispredictions cost more than the work)
        excess = min(r - rf_d, 0.0)
        down2 += excess * excess
        if equity > peak:
            peak = equity
        elif equity < peak * (1.0 + mdd):
            mdd = equity / peak - 1.0
        sum_equity += equity
        slot_e += 1  # curve point q + 1
        if slot_e == ROLLING:
            slot_e = 0
        if q + 1 >= ROLLING:
            cons_n += 1
            cons_pos += equity > ring_e[slot_e]
        ring_e[slot_e] = equity
        if q >= 1:  # residual beta: returns earned with positions on, against the hedge's
            m = q - 1
            if m >= ROLLING:
                old = ring_r[slot_r]
                res_r -= old
                res_rx -= old * r_hedge[t - ROLLING]
            res_r += r
            res_rx += r * rh
            ring_r[slot_r] = r
            slot_r += 1
            if slot_r == ROLLING:
                slot_r = 0
            if m >= ROLLING - 1:
                res_sum += abs((res_rx - res_r * res_xbar[t]) * res_inv_sxx[t])
                res_n += 1
        if t >= block_from:
            block1 += x
            block2 += x * x
            while block < n_blocks and t + 1 == boundary:  # a block may be empty: loop
                out[BLOCK_SUM1 + block, col] = block1
                out[BLOCK_SUM1 + n_blocks + block, col] = block2
                block += 1
                block1, block2 = 0.0, 0.0
                boundary = block_from + ((block + 1) * n_block_days + n_blocks - 1) // n_blocks
        if t == split - 1:  # in-sample snapshot
            is_n = q + 1
            is_ann, _, is_sharpe, _ = summary(shift, sum1, sum2, down2, is_n, equity, rf_d, periods)
            is_mdd = mdd
            is_cons = cons_pos / cons_n if cons_n > 0 else nan
        t += 1

    out[STATUS, col] = status
    out[N, col] = n
    out[IS_N, col] = max(min(split, stop) - first, 0)
    out[SHIFT, col] = shift
    if status == OK:
        ann, vol, sharpe, sortino = summary(shift, sum1, sum2, down2, n, equity, rf_d, periods)
        out[ANNUAL_RETURN, col] = ann
        out[ANNUAL_VOLATILITY, col] = vol
        out[SHARPE, col] = sharpe
        out[SORTINO, col] = sortino
        out[MAX_DRAWDOWN, col] = mdd
        out[CALMAR, col] = ann / -mdd if mdd < 0.0 else nan
        out[TURNOVER, col] = traded * periods / n / (sum_equity / (n + 1))
        out[RESIDUAL_BETA, col] = res_sum / res_n if res_n > 0 else nan
        out[CONSISTENCY, col] = cons_pos / cons_n if cons_n > 0 else nan
        out[FINAL_EQUITY, col] = equity
    else:
        for j in range(ANNUAL_RETURN, FINAL_EQUITY + 1):
            out[j, col] = nan
        if status == RUINED:  # the capital is lost: the worst return and drawdown there are
            out[ANNUAL_RETURN, col] = -1.0
            out[MAX_DRAWDOWN, col] = -1.0
            out[CALMAR, col] = -1.0
            out[FINAL_EQUITY, col] = 0.0
            if t < split:
                is_ann, is_sharpe, is_mdd, is_cons = -1.0, nan, -1.0, nan
    out[IS_ANNUAL_RETURN, col] = is_ann
    out[IS_SHARPE, col] = is_sharpe
    out[IS_MAX_DRAWDOWN, col] = is_mdd
    out[IS_CONSISTENCY, col] = is_cons
    if status != OK:
        for b in range(2 * n_blocks):
            out[BLOCK_SUM1 + b, col] = nan


# nogil: a sweep in a worker thread must not freeze the desk's event loop
@numba.njit(parallel=True, error_model="numpy", cache=True, nogil=True)
def _run_cpu(
    row0,
    count,
    rows,
    r_long,
    r_hedge,
    g_long,
    g_hedge,
    betas,
    res_xbar,
    res_inv_sxx,
    rebalances,
    windows,
    n_est,
    exposures,
    ratios,
    bands,
    costs,
    impacts,
    start,
    stop,
    split,
    block_from,
    n_blocks,
    rf_d,
    periods,
    out,
):
    for c in numba.prange(count):
        ring_e = np.empty(ROLLING)
        ring_r = np.empty(ROLLING)
        row = row0 + c if rows.size == 0 else rows[c]
        simulate(
            row,
            r_long,
            r_hedge,
            g_long,
            g_hedge,
            betas,
            res_xbar,
            res_inv_sxx,
            rebalances,
            windows,
            n_est,
            exposures,
            ratios,
            bands,
            costs,
            impacts,
            start,
            stop,
            split,
            block_from,
            n_blocks,
            rf_d,
            periods,
            ring_e,
            ring_r,
            out,
            c,
        )


def first_day(grid: Grid, start: int = 0) -> int:
    """The day on which the latest-starting configuration of the grid makes its first trade
    (a day index: the longest window's last return, or ``start`` if later).
    """
    return max(max(grid.window) - 1, start)


class KernelArgs(NamedTuple):
    """What the kernel reads besides the rows to run: one leg's tables, the grid's axes and
    the days to simulate, as contiguous arrays and scalars (:func:`kernel_args` makes it).

    Every backend receives this one structure (``prepare(args)``) and spreads it into the
    kernel's parameters, in this order, in exactly one place (:func:`run_cpu`, the GPU's
    launch); the cluster sends it to its workers whole.
    """

    r_long: np.ndarray  # (n_days,) daily simple returns of the leg, fractions
    r_hedge: np.ndarray  # (n_days,) the hedge's
    g_long: np.ndarray  # (n_days,) impact coefficient x sqrt(capital), 0 without impact
    g_hedge: np.ndarray  # (n_days,)
    betas: np.ndarray  # (n_windows * n_estimators, n_days): LegTables.betas
    res_xbar: np.ndarray  # (n_days,)
    res_inv_sxx: np.ndarray  # (n_days,)
    rebalances: np.ndarray  # int64 (n_rebalance,): rebalance periods, days
    windows: np.ndarray  # int64 (n_windows,): beta windows, returns
    n_est: int  # beta estimators
    exposures: np.ndarray  # (n_exposure,): long notional / equity
    ratios: np.ndarray  # (n_hedge_ratio,): hedge ratio h
    bands: np.ndarray  # (n_drift_band,): largest |short / long - target ratio| left alone
    costs: np.ndarray  # (n_cost,): cost per unit traded, fraction
    impacts: np.ndarray  # (n_impact,): impact multiplier eta
    start: int  # first day a trade may happen
    stop: int  # days [.., stop) are simulated
    split: int  # first out-of-sample day (stop: none)
    block_from: int  # CSCV blocks cover [block_from, stop)
    n_blocks: int  # CSCV blocks
    rf_d: float  # risk-free rate per period, fraction
    periods: float  # return periods per year


def kernel_args(
    grid: Grid,
    tables: LegTables,
    start: int,
    stop: int,
    split: int,
    n_blocks: int,
    rf_d: float,
    periods: int,
) -> KernelArgs:
    """The kernel's arguments for one leg, shared by every backend.

    Parameters
    ----------
    grid : Grid
        The grid whose rows will be run (its axes become the arrays).
    tables : LegTables
        The leg's tables from :func:`leg_tables` on the same grid.
    start, stop : int
        Return days [start, stop) are simulated (day indices of the leg's returns).
    split : int
        First out-of-sample day: in-sample metrics stop before it (``stop`` for none).
    n_blocks : int
        CSCV blocks, 2..MAX_BLOCKS; they cover days [first_day(grid, start), stop).
    rf_d : float
        Risk-free rate per period, as a fraction.
    periods : int
        Return periods per year (252 for daily returns).

    Returns
    -------
    KernelArgs
        Contiguous arrays and scalars.
    """
    if not 2 <= n_blocks <= MAX_BLOCKS:
        raise ValueError(f"n_blocks must be in 2..{MAX_BLOCKS}, got {n_blocks}")
    f64 = np.float64
    return KernelArgs(
        tables.r_long,
        tables.r_hedge,
        tables.g_long,
        tables.g_hedge,
        tables.betas,
        tables.res_xbar,
        tables.res_inv_sxx,
        np.asarray(grid.rebalance, np.int64),
        np.asarray(grid.window, np.int64),
        len(grid.estimator),
        np.asarray(grid.exposure, f64),
        np.asarray(grid.hedge_ratio, f64),
        np.asarray(grid.drift_band, f64),
        np.asarray(grid.cost, f64),
        np.asarray(grid.impact, f64),
        int(start),
        int(stop),
        int(split),
        first_day(grid, start),
        int(n_blocks),
        float(rf_d),
        float(periods),
    )


NO_ROWS = np.empty(0, np.int64)


def run_cpu(args: KernelArgs, row0: int, count: int, rows: np.ndarray | None = None) -> np.ndarray:
    """The kernel on every CPU core, one configuration per iteration.

    Parameters
    ----------
    args : KernelArgs
        The leg's arguments from :func:`kernel_args`.
    row0, count : int
        Grid rows [row0, row0 + count) of the leg (``row0`` is ignored when ``rows`` is given).
    rows : ndarray of int, shape (count,), optional
        The grid rows to run instead, in this order.

    Returns
    -------
    ndarray, shape (n_out(args.n_blocks), count)
        Column c: the metrics of the c-th configuration (rows as :data:`METRICS`, then the
        CSCV block sums).
    """
    rows = NO_ROWS if rows is None else np.ascontiguousarray(rows, np.int64)
    out = np.empty((n_out(args.n_blocks), count))
    _run_cpu(row0, count, rows, *args, out)  # the one place the arguments are spread
    return out

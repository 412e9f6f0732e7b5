"""The sweep kernels: hedge configurations simulated day by day, metrics reduced on the fly.

Two loop orders over one arithmetic, each where it suits its backend:

- :func:`simulate` runs one configuration over every day. The GPU compiles it unchanged as a
  CUDA device function, one thread per configuration (``hedgedesk.core.sweep.gpu``): neighbouring
  threads are neighbouring configurations, so their reads of the shared day coalesce. On the
  CPU it runs the listed rows (``run_cpu(..., rows=...)``), and it is the reference the
  lock-step kernel is tested and benchmarked against.
- :func:`_lockstep` (the CPU's contiguous ranges, :func:`run_cpu`) advances a tile of up to
  LANES configurations of one family together: the rows of one (rebalance, window, estimator)
  are contiguous in the grid (``grid.AXES``), so they share the rebalance days, the beta and
  the day's returns, which are read once per tile; the per-configuration state lives in small
  lane arrays and every inner loop runs over lanes with selects instead of branches, which
  LLVM vectorises. Each lane does :func:`simulate`'s arithmetic in the same order: the two
  kernels agree bit for bit.

Both follow the CONVENTIONS backtest step by step (``hedgedesk.core.sweep.backtest.
dynamic_beta_hedge`` is their witness) and keep no curve: everything a metric needs is a running
sum, a running peak or a 63-slot ring, except the risk-normalised ``scaled_*`` figures
(CONVENTIONS "Sweep scoring"), which need the configuration's volatility first: its daily
returns go to a scratch buffer during the day loop and a second loop over them compounds the
curve scaled to the target volatility (on the GPU a day-major global buffer per launch).

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
    "scaled_annual_return",
    "scaled_max_drawdown",
    "scaled_consistency",
    "is_scaled_annual_return",
    "is_scaled_max_drawdown",
    "is_scaled_consistency",
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
    SCALED_ANNUAL_RETURN,
    SCALED_MAX_DRAWDOWN,
    SCALED_CONSISTENCY,
    IS_SCALED_ANNUAL_RETURN,
    IS_SCALED_MAX_DRAWDOWN,
    IS_SCALED_CONSISTENCY,
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
def scale_of(sigma, n, vol_target):
    """The factor ``vol_target / sigma`` scaling n returns of annual volatility ``sigma`` to
    the target, or 0.0 where the scaled figures are missing (n < 2, sigma 0 or not finite).
    """
    if n >= 2 and sigma > 0.0 and sigma < math.inf:
        return vol_target / sigma
    return 0.0


@_jit
def scaled(rets, n, a, periods, ring):
    """(annual return, max drawdown, consistency) of the curve that compounds from 1 the
    returns ``rets[0..n)`` times ``a``, clamped at 0 from the first day ``1 + a R <= 0``;
    ``ring``: ROLLING-slot scratch. NaN x 3 when ``a`` is 0 (see :func:`scale_of`).
    """
    if a == 0.0:
        return math.nan, math.nan, math.nan
    e, peak, mdd = 1.0, 1.0, 0.0
    ring[0] = 1.0
    slot, pos, cnt = 0, 0, 0
    for q in range(n):
        grow = 1.0 + rets[q] * a
        e *= grow if grow > 0.0 else 0.0
        if e > peak:
            peak = e
        elif e < peak * (1.0 + mdd):
            mdd = e / peak - 1.0
        slot += 1
        if slot == ROLLING:
            slot = 0
        if q + 1 >= ROLLING:
            cnt += 1
            pos += e > ring[slot]
        ring[slot] = e
    return e ** (periods / n) - 1.0, mdd, pos / cnt if cnt > 0 else math.nan


@_jit
def _finish(
    out,
    col,
    status,
    t,
    n,
    is_n,
    split,
    shift,
    sum1,
    sum2,
    down2,
    equity,
    mdd,
    traded,
    sum_equity,
    res_sum,
    res_n,
    cons_pos,
    cons_n,
    is_ann,
    is_sharpe,
    is_mdd,
    is_cons,
    n_blocks,
    rf_d,
    periods,
):
    """Write the unscaled figures of a configuration whose day loop ended on day ``t`` (its
    ruin, when ``status`` is RUINED) from its running statistics to ``out[:, col]``.
    """
    nan = math.nan
    out[STATUS, col] = status
    out[N, col] = n
    out[IS_N, col] = is_n
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
    vol_target,
    ring_e,
    ring_r,
    rets,
    out,
    col,
):
    """Run grid row ``row`` over return days [max(W-1, start), stop) and write its metrics to
    ``out[:, col]``. ``split``: the first out-of-sample day (in-sample metrics are a snapshot
    at its eve; pass ``stop`` for none). CSCV blocks split the days [block_from, stop) the
    same way for every configuration (``block_from`` >= every configuration's first day).
    ``ring_e``/``ring_r``: ROLLING-slot scratch; ``rets``: scratch for the configuration's
    returns (at least ``stop - first`` of them; the scaled figures are read from them).
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
    is_ann, is_vol, is_sharpe, is_mdd, is_cons = nan, nan, nan, nan, nan
    is_snap = 0  # returns in the in-sample snapshot (0: none taken)
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
        rets[q] = r
        if q == 0:
            shift = r
        x = r - shift
        sum1 += x
        sum2 += x * x
        # branch-free where the outcome is a coin flip (mispredictions cost more than the work);
        # selects, not min/max (which numba compiles to calls that LLVM cannot vectorise)
        excess = r - rf_d
        excess = excess if excess < 0.0 else 0.0
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
            is_snap = q + 1
            is_ann, is_vol, is_sharpe, _ = summary(
                shift, sum1, sum2, down2, is_snap, equity, rf_d, periods
            )
            is_mdd = mdd
            is_cons = cons_pos / cons_n if cons_n > 0 else nan
        t += 1

    _finish(
        out,
        col,
        status,
        t,
        n,
        max(min(split, stop) - first, 0),
        split,
        shift,
        sum1,
        sum2,
        down2,
        equity,
        mdd,
        traded,
        sum_equity,
        res_sum,
        res_n,
        cons_pos,
        cons_n,
        is_ann,
        is_sharpe,
        is_mdd,
        is_cons,
        n_blocks,
        rf_d,
        periods,
    )
    if status == OK:
        a = scale_of(out[ANNUAL_VOLATILITY, col], n, vol_target)
        s_ann, s_mdd, s_cons = scaled(rets, n, a, periods, ring_e)
    else:  # ruined or undefined: the unscaled figures
        s_ann, s_mdd = out[ANNUAL_RETURN, col], out[MAX_DRAWDOWN, col]
        s_cons = out[CONSISTENCY, col]
    out[SCALED_ANNUAL_RETURN, col] = s_ann
    out[SCALED_MAX_DRAWDOWN, col] = s_mdd
    out[SCALED_CONSISTENCY, col] = s_cons
    if is_snap > 0:  # the in-sample part ran to its end: its returns are all in rets
        a = scale_of(is_vol, is_snap, vol_target)
        is_ann, is_mdd, is_cons = scaled(rets, is_snap, a, periods, ring_e)
    else:  # none, or ruined / undefined in sample: the unscaled figures
        is_ann, is_mdd = out[IS_ANNUAL_RETURN, col], out[IS_MAX_DRAWDOWN, col]
        is_cons = out[IS_CONSISTENCY, col]
    out[IS_SCALED_ANNUAL_RETURN, col] = is_ann
    out[IS_SCALED_MAX_DRAWDOWN, col] = is_mdd
    out[IS_SCALED_CONSISTENCY, col] = is_cons


# nogil: a sweep in a worker thread must not freeze the desk's event loop
@numba.njit(parallel=True, error_model="numpy", cache=True, nogil=True)
def _run_rows(
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
    vol_target,
    out,
):
    n_rets = max(stop - max(windows.min() - 1, start), 1)
    for c in numba.prange(rows.size):
        ring_e = np.empty(ROLLING)
        ring_r = np.empty(ROLLING)
        rets = np.empty(n_rets)
        simulate(
            rows[c],
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
            vol_target,
            ring_e,
            ring_r,
            rets,
            out,
            c,
        )


LANES = 128  # most configurations one lock-step tile advances together (measured: 32-512)
WORKERS_PER_THREAD = 4  # runs of tiles per CPU thread (each allocates its scratch once)
# rows of a tile's per-lane buffer (one value per lane in each)
(
    L_K,
    L_H,
    L_D,
    L_C,
    L_ETA,
    L_EQUITY,
    L_LONG,
    L_SHORT,
    L_TRADED,
    L_SHIFT,
    L_SUM1,
    L_SUM2,
    L_DOWN2,
    L_PEAK,
    L_MDD,
    L_SUM_EQUITY,
    L_CONS_POS,
    L_RES_R,
    L_RES_RX,
    L_RES_SUM,
    L_BLOCK1,
    L_BLOCK2,
    L_RUIN,
    L_IS_ANN,
    L_IS_VOL,
    L_IS_SHARPE,
    L_IS_MDD,
    L_IS_CONS,
    L_A,
    L_E,
    L_POS,
) = range(31)
N_LANE_ROWS = 31


@_jit
def _tiles(row0, count, family, lanes):
    """(first row, rows) of each tile of the rows [row0, row0 + count): runs of at most
    ``lanes`` rows that never cross a family (``family`` contiguous rows sharing rebalance
    days, window and estimator).
    """
    cap = count // lanes + count // family + 2
    starts = np.empty(cap, np.int64)
    sizes = np.empty(cap, np.int64)
    p = 0
    r = row0
    end = row0 + count
    while r < end:
        e = min(end, (r // family + 1) * family, r + lanes)
        starts[p] = r
        sizes[p] = e - r
        p += 1
        r = e
    return starts[:p], sizes[:p]


@_jit
def _troughs(equity, peak, mdd, nl):
    """``mdd = equity / peak - 1`` in the lanes below their previous trough (``peak`` already
    updated: a lane below its trough kept its peak), as :func:`simulate`'s ``elif``.
    """
    for j in range(nl):
        e = equity[j]
        pk = peak[j]
        m = mdd[j]
        mdd[j] = e / pk - 1.0 if e < pk * (1.0 + m) else m


@_jit
def _scaled_lanes(rets, nl, m, buf, ring):
    """The scaled curves of lanes [0, nl) over their first m returns ``rets[q, j]``, each
    times its factor ``buf[L_A, j]``: final value, peak-to-trough and rolling gains left in
    ``buf[L_E]``, ``buf[L_MDD]``, ``buf[L_POS]`` (the arithmetic of :func:`scaled`, lane by
    lane). Returns the rolling windows counted.
    """
    a, e_, peak, mdd, pos = buf[L_A], buf[L_E], buf[L_PEAK], buf[L_MDD], buf[L_POS]
    for j in range(nl):
        peak[j] = 1.0
        mdd[j] = 0.0
        pos[j] = 0.0
        ring[0, j] = 1.0
    slot, cnt = 0, 0
    for q in range(m):  # the ring holds the curve: its slot `slot` is point q
        rq = rets[q]
        before = ring[slot]
        slot += 1
        if slot == ROLLING:
            slot = 0
        now = ring[slot]  # point q + 1 - ROLLING, then point q + 1
        rolling = q + 1 >= ROLLING
        cnt += rolling
        deeper = 0
        for j in range(nl):
            grow = 1.0 + rq[j] * a[j]
            e = before[j] * (grow if grow > 0.0 else 0.0)
            pk = peak[j]
            deeper += e < pk * (1.0 + mdd[j])
            peak[j] = e if e > pk else pk
            pos[j] += 1.0 if rolling and e > now[j] else 0.0
            now[j] = e
        if deeper > 0:  # a new trough somewhere: the division only then
            _troughs(now, peak, mdd, nl)
    last = ring[slot]
    for j in range(nl):
        e_[j] = last[j]
    return cnt


@_jit
def _lockstep(
    row,
    nl,
    col0,
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
    vol_target,
    buf,
    ring_e,
    rets,
    out,
):
    """Grid rows [row, row + nl) of one family, advanced day by day together (lane j: row
    ``row + j``, written to ``out[:, col0 + j]``). Each lane does :func:`simulate`'s arithmetic
    in the same order; the family's rebalance days, beta and day are shared, and a lane's
    branches are selects. A ruined lane is frozen (no positions, equity 1: nothing changes);
    an undefined beta stops the family. ``buf``: (N_LANE_ROWS, >= nl) scratch; ``ring_e``:
    (ROLLING, >= nl), the last curve points (the previous equity is one of them);
    ``rets``: (>= stop - first, >= nl), day-major, the returns (the residual-beta window
    reads its oldest from there).
    """
    nan = math.nan
    n_i, n_c, n_d, n_h = impacts.size, costs.size, bands.size, ratios.size
    family = n_i * n_c * n_d * n_h * exposures.size
    i = row // family
    i_est = i % n_est
    i //= n_est
    i_win = i % windows.size
    period = rebalances[i // windows.size]
    beta_row = i_win * n_est + i_est
    first = max(windows[i_win] - 1, start)
    n = stop - first

    k, h, d, c, eta = buf[L_K], buf[L_H], buf[L_D], buf[L_C], buf[L_ETA]
    equity, held_long, held_short = buf[L_EQUITY], buf[L_LONG], buf[L_SHORT]
    traded, shift = buf[L_TRADED], buf[L_SHIFT]
    sum1, sum2, down2 = buf[L_SUM1], buf[L_SUM2], buf[L_DOWN2]
    peak, mdd, sum_equity = buf[L_PEAK], buf[L_MDD], buf[L_SUM_EQUITY]
    cons_pos, res_r, res_rx, res_sum = buf[L_CONS_POS], buf[L_RES_R], buf[L_RES_RX], buf[L_RES_SUM]
    block1, block2, ruin = buf[L_BLOCK1], buf[L_BLOCK2], buf[L_RUIN]
    is_ann, is_vol, is_sharpe = buf[L_IS_ANN], buf[L_IS_VOL], buf[L_IS_SHARPE]
    is_mdd, is_cons = buf[L_IS_MDD], buf[L_IS_CONS]
    impact = False
    for j in range(nl):
        f = (row + j) % family  # decode the lane, innermost axis first (grid.AXES)
        eta[j] = impacts[f % n_i]
        f //= n_i
        c[j] = costs[f % n_c]
        f //= n_c
        d[j] = bands[f % n_d]
        f //= n_d
        h[j] = ratios[f % n_h]
        k[j] = exposures[f // n_h]
        impact |= eta[j] > 0.0
        equity[j] = 1.0
        held_long[j] = 0.0
        held_short[j] = 0.0
        traded[j] = 0.0
        shift[j] = 0.0
        sum1[j] = 0.0
        sum2[j] = 0.0
        down2[j] = 0.0
        peak[j] = 1.0
        mdd[j] = 0.0
        sum_equity[j] = 1.0
        cons_pos[j] = 0.0
        res_r[j] = 0.0
        res_rx[j] = 0.0
        res_sum[j] = 0.0
        block1[j] = 0.0
        block2[j] = 0.0
        ruin[j] = stop  # the day of ruin (stop: none)
        is_ann[j] = nan
        is_vol[j] = nan
        is_sharpe[j] = nan
        is_mdd[j] = nan
        is_cons[j] = nan
        ring_e[0, j] = 1.0
    slot_e, cons_n = 0, 0
    res_n = 0
    block = 0
    n_block_days = stop - block_from
    boundary = block_from + (n_block_days + n_blocks - 1) // n_blocks
    is_snap = 0
    undefined = False
    due = 0
    t = first
    while t < stop:
        rl = r_long[t]
        rh = r_hedge[t]
        bad = 0  # lanes whose equity may be gone
        if t > first:  # a. mark to market
            grow_l = 1.0 + rl
            grow_h = 1.0 + rh
            for j in range(nl):
                e = equity[j] + (held_long[j] * rl - held_short[j] * rh)
                equity[j] = e
                held_long[j] *= grow_l
                held_short[j] *= grow_h
                bad += not e > 0.0  # a fee cannot lift it back
        if due == 0:  # b. scheduled rebalance
            due = period
            beta = betas[beta_row, t]
            if beta != beta:
                undefined = True
                break
            gl = g_long[t]
            gh = g_hedge[t]
            for j in range(nl):
                target = h[j] * beta
                hl = held_long[j]
                hs = held_short[j]
                e = equity[j]
                dj = d[j]
                trade = (dj == 0.0) | (hl == 0.0) | (abs(hs / hl - target) > dj)
                new_long = k[j] * e
                new_short = target * new_long
                dl = abs(new_long - hl)
                ds = abs(new_short - hs)
                fee = c[j] * (dl + ds)
                if impact:
                    cost = fee + eta[j] * (gl * dl * math.sqrt(dl) + gh * ds * math.sqrt(ds))
                    fee = cost if eta[j] > 0.0 else fee
                e = e - fee if trade else e
                equity[j] = e
                traded[j] = traded[j] + (dl + ds) if trade else traded[j]
                held_long[j] = new_long if trade else hl
                held_short[j] = new_short if trade else hs
                bad += not e > 0.0
        due -= 1
        before = ring_e[slot_e]  # curve point q: the previous equity
        if bad > 0:  # ruin: the lane is frozen from here on (no positions, equity 1)
            for j in range(nl):
                gone = not equity[j] > 0.0
                ruin[j] = t if gone else ruin[j]
                equity[j] = 1.0 if gone else equity[j]
                before[j] = 1.0 if gone else before[j]
                held_long[j] = 0.0 if gone else held_long[j]
                held_short[j] = 0.0 if gone else held_short[j]
                k[j] = 0.0 if gone else k[j]
        q = t - first
        rq = rets[q]
        if q == 0:
            for j in range(nl):
                shift[j] = equity[j] / before[j] - 1.0
        deeper = 0
        blocks = t >= block_from
        for j in range(nl):
            e = equity[j]
            r = e / before[j] - 1.0
            rq[j] = r
            x = r - shift[j]
            sum1[j] += x
            sum2[j] += x * x
            excess = r - rf_d
            excess = excess if excess < 0.0 else 0.0
            down2[j] += excess * excess
            pk = peak[j]
            deeper += e < pk * (1.0 + mdd[j])
            peak[j] = e if e > pk else pk
            sum_equity[j] += e
            if blocks:
                block1[j] += x
                block2[j] += x * x
        if deeper > 0:  # a new trough somewhere: the division only then
            _troughs(equity, peak, mdd, nl)
        slot_e += 1  # curve point q + 1
        if slot_e == ROLLING:
            slot_e = 0
        ring_q = ring_e[slot_e]
        if q + 1 >= ROLLING:
            cons_n += 1
            for j in range(nl):
                e = equity[j]
                cons_pos[j] += 1.0 if e > ring_q[j] else 0.0
                ring_q[j] = e
        else:
            for j in range(nl):
                ring_q[j] = equity[j]
        if q >= 1:  # residual beta; the window's returns are the stored ones
            m = q - 1
            xbar = res_xbar[t]
            inv_sxx = res_inv_sxx[t]
            if m >= ROLLING:  # the window is full: the oldest return leaves
                rh_old = r_hedge[t - ROLLING]
                leaving = rets[q - ROLLING]
                for j in range(nl):
                    old = leaving[j]
                    r = rq[j]
                    rr = res_r[j] - old
                    rx = res_rx[j] - old * rh_old
                    rr += r
                    rx += r * rh
                    res_r[j] = rr
                    res_rx[j] = rx
                    res_sum[j] += abs((rx - rr * xbar) * inv_sxx)
            else:
                for j in range(nl):
                    r = rq[j]
                    res_r[j] += r
                    res_rx[j] += r * rh
                if m == ROLLING - 1:
                    for j in range(nl):
                        res_sum[j] += abs((res_rx[j] - res_r[j] * xbar) * inv_sxx)
            if m >= ROLLING - 1:
                res_n += 1
        if blocks:
            while block < n_blocks and t + 1 == boundary:  # a block may be empty: loop
                for j in range(nl):
                    out[BLOCK_SUM1 + block, col0 + j] = block1[j]
                    out[BLOCK_SUM1 + n_blocks + block, col0 + j] = block2[j]
                    block1[j] = 0.0
                    block2[j] = 0.0
                block += 1
                boundary = block_from + ((block + 1) * n_block_days + n_blocks - 1) // n_blocks
        if t == split - 1:  # in-sample snapshot
            is_snap = q + 1
            for j in range(nl):
                ann, vol, sharpe, _ = summary(
                    shift[j], sum1[j], sum2[j], down2[j], is_snap, equity[j], rf_d, periods
                )
                is_ann[j] = ann
                is_vol[j] = vol
                is_sharpe[j] = sharpe
                is_mdd[j] = mdd[j]
                is_cons[j] = cons_pos[j] / cons_n if cons_n > 0 else nan
        t += 1

    is_n = max(min(split, stop) - first, 0)
    a = buf[L_A]
    for j in range(nl):
        t_end = ruin[j]
        status = RUINED if t_end < stop else (UNDEFINED_BETA if undefined else OK)
        _finish(
            out,
            col0 + j,
            status,
            t_end,
            n,
            is_n,
            split,
            shift[j],
            sum1[j],
            sum2[j],
            down2[j],
            equity[j],
            mdd[j],
            traded[j],
            sum_equity[j],
            res_sum[j],
            res_n,
            cons_pos[j],
            cons_n,
            is_ann[j],
            is_sharpe[j],
            is_mdd[j],
            is_cons[j],
            n_blocks,
            rf_d,
            periods,
        )
        ok = status == OK
        a[j] = scale_of(out[ANNUAL_VOLATILITY, col0 + j], n, vol_target) if ok else 0.0
    # the scaled curves: a second pass over the stored returns (every lane's, none if undefined)
    cnt = 0 if undefined else _scaled_lanes(rets, nl, n, buf, ring_e)
    for j in range(nl):
        col = col0 + j
        if out[STATUS, col] == OK:
            _put_scaled(out, SCALED_ANNUAL_RETURN, col, n, cnt, j, buf, periods)
        else:  # ruined or undefined: the unscaled figures
            out[SCALED_ANNUAL_RETURN, col] = out[ANNUAL_RETURN, col]
            out[SCALED_MAX_DRAWDOWN, col] = out[MAX_DRAWDOWN, col]
            out[SCALED_CONSISTENCY, col] = out[CONSISTENCY, col]
    if split >= stop:  # no split: the in-sample figures are the full ones, bit for bit
        for j in range(nl):
            col = col0 + j
            for k in range(3):
                out[IS_SCALED_ANNUAL_RETURN + k, col] = out[SCALED_ANNUAL_RETURN + k, col]
        return
    for j in range(nl):  # in sample: the lanes alive at the snapshot
        a[j] = scale_of(is_vol[j], is_snap, vol_target) if ruin[j] >= split else 0.0
    cnt = _scaled_lanes(rets, nl, is_snap, buf, ring_e)
    for j in range(nl):
        col = col0 + j
        if is_snap > 0 and ruin[j] >= split:
            _put_scaled(out, IS_SCALED_ANNUAL_RETURN, col, is_snap, cnt, j, buf, periods)
        else:  # none, or ruined / undefined in sample: the unscaled figures
            out[IS_SCALED_ANNUAL_RETURN, col] = out[IS_ANNUAL_RETURN, col]
            out[IS_SCALED_MAX_DRAWDOWN, col] = out[IS_MAX_DRAWDOWN, col]
            out[IS_SCALED_CONSISTENCY, col] = out[IS_CONSISTENCY, col]


@_jit
def _put_scaled(out, to, col, m, cnt, j, buf, periods):
    """Write lane j's scaled figures (left by :func:`_scaled_lanes` over m returns, ``cnt``
    rolling windows) to rows ``to``, ``to + 1``, ``to + 2`` of ``out[:, col]``; NaN where its
    factor is 0 (missing), as :func:`scaled` gives.
    """
    if buf[L_A, j] == 0.0:
        out[to, col] = math.nan
        out[to + 1, col] = math.nan
        out[to + 2, col] = math.nan
    else:
        out[to, col] = buf[L_E, j] ** (periods / m) - 1.0
        out[to + 1, col] = buf[L_MDD, j]
        out[to + 2, col] = buf[L_POS, j] / cnt if cnt > 0 else math.nan


# nogil: a sweep in a worker thread must not freeze the desk's event loop
@numba.njit(parallel=True, error_model="numpy", cache=True, nogil=True)
def _run_cpu(
    row0,
    count,
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
    vol_target,
    out,
    n_workers,
):
    family = impacts.size * costs.size * bands.size * ratios.size * exposures.size
    starts, sizes = _tiles(row0, count, family, LANES)
    n_tiles = starts.size
    n_rets = max(stop - max(windows.min() - 1, start), 1)
    n_workers = min(n_tiles, n_workers)
    for w in numba.prange(n_workers):  # scratch once per worker, tiles in contiguous runs
        buf = np.empty((N_LANE_ROWS, LANES))
        ring_e = np.empty((ROLLING, LANES))
        rets = np.empty((n_rets, LANES))
        for p in range(w * n_tiles // n_workers, (w + 1) * n_tiles // n_workers):
            _lockstep(
                starts[p],
                sizes[p],
                starts[p] - row0,
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
                vol_target,
                buf,
                ring_e,
                rets,
                out,
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
    vol_target: float  # annual volatility the scaled curves are scaled to, fraction


def kernel_args(
    grid: Grid,
    tables: LegTables,
    start: int,
    stop: int,
    split: int,
    n_blocks: int,
    rf_d: float,
    periods: int,
    vol_target: float = 0.10,
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
    vol_target : float, optional
        Annual volatility, as a fraction, of the scaled curves behind the ``scaled_*``
        figures (``targets.volatility``; CONVENTIONS "Sweep scoring").

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
        float(vol_target),
    )


NO_ROWS = np.empty(0, np.int64)


def scratch_days(args: KernelArgs) -> int:
    """Daily returns the earliest-starting configuration of the arguments simulates (days):
    the rows of a returns scratch that fits every configuration (at least 1).
    """
    return max(args.stop - max(int(np.min(args.windows)) - 1, args.start), 1)


def run_cpu(args: KernelArgs, row0: int, count: int, rows: np.ndarray | None = None) -> np.ndarray:
    """The kernel on every CPU core: a contiguous range of rows by the lock-step kernel (the
    lanes of a family advanced together), a list of rows one configuration per iteration.

    Parameters
    ----------
    args : KernelArgs
        The leg's arguments from :func:`kernel_args`.
    row0, count : int
        Grid rows [row0, row0 + count) of the leg (``row0`` is ignored when ``rows`` is given).
    rows : ndarray of int, shape (count,), optional
        The grid rows to run instead, in this order (by :func:`simulate`, row by row).

    Returns
    -------
    ndarray, shape (n_out(args.n_blocks), count)
        Column c: the metrics of the c-th configuration (rows as :data:`METRICS`, then the
        CSCV block sums); both kernels give the same figures, bit for bit.
    """
    if rows is not None and len(rows) != count:
        raise ValueError(f"rows must hold count = {count} grid rows, got {len(rows)}")
    out = np.empty((n_out(args.n_blocks), count))
    if count == 0:
        return out
    # the one place the arguments are spread (into either CPU kernel)
    if rows is None:
        _run_cpu(row0, count, *args, out, WORKERS_PER_THREAD * numba.get_num_threads())
    else:
        _run_rows(np.ascontiguousarray(rows, np.int64), *args, out)
    return out


def curve_returns(args: KernelArgs, row: int) -> np.ndarray:
    """The daily returns of one configuration's curve, from the per-configuration kernel: the
    n returns its metrics were computed on (fewer for a configuration that stopped early).
    What a leader's deflated Sharpe ratio needs besides the kernel's figures (skew and
    kurtosis), without a second simulation in Python.

    Parameters
    ----------
    args : KernelArgs
        The leg's arguments from :func:`kernel_args`.
    row : int
        The configuration's grid row.

    Returns
    -------
    ndarray, shape (n,)
        Daily simple returns of the equity curve, as fractions.
    """
    rets = np.empty(scratch_days(args))
    out = np.empty((n_out(args.n_blocks), 1))
    ring_e, ring_r = np.empty(ROLLING), np.empty(ROLLING)
    simulate(int(row), *args, ring_e, ring_r, rets, out, 0)
    n = int(out[N, 0]) if out[STATUS, 0] == OK else 0
    return rets[:n].copy()

"""The numba sweep kernel against its witness: every configuration is re-run with the plain
``hedgedesk.core.sweep.backtest.dynamic_beta_hedge`` loop, its curve measured by
``hedgedesk.core.metrics.performance`` and
by the plain helpers of ``tests.witness`` (residual beta, consistency, in-sample snapshot, CSCV
block sums), and the edge cases (undefined beta, ruin, short curves) against the witness's own
behaviour.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm

from hedgedesk.core.beta import rolling_beta
from hedgedesk.core.metrics import daily_rf, performance
from hedgedesk.core.sweep import kernel as K
from hedgedesk.core.sweep.backtest import UndefinedBeta, dynamic_beta_hedge, impact_coefficients
from hedgedesk.core.sweep.grid import Estimator, Grid, Leg
from tests.witness import sweep_metrics

LEG = (Leg("A", ("A",)),)
VOL_TARGET = 0.10
SCALED = ("annual_return", "max_drawdown", "consistency")
PERF = ("annual_return", "annual_volatility", "sharpe", "sortino", "calmar")
IS_KEYS = ("is_annual_return", "is_sharpe", "is_consistency")


def _returns(
    seed: int, n_days: int, beta: float, vol_h: float = 0.012, vol_e: float = 0.01
) -> tuple[np.ndarray, np.ndarray]:
    """Correlated daily returns whose beta drifts around ``beta`` (so rebalancing matters)."""
    rng = np.random.default_rng(seed)
    r_hedge = 0.0003 + vol_h * rng.standard_t(5, n_days) / math.sqrt(5 / 3)
    drift = beta + 0.4 * np.sin(np.arange(n_days) / 90.0)
    r_long = 0.0002 + drift * r_hedge + vol_e * rng.standard_normal(n_days)
    return r_long, r_hedge


def _impact(seed: int, returns: np.ndarray) -> np.ndarray:
    """Square-root-law coefficients of an asset with these returns and random volumes."""
    rng = np.random.default_rng(seed)
    closes = 100.0 * np.concatenate([[1.0], np.cumprod(1.0 + returns)])
    volumes = rng.lognormal(math.log(1e7), 0.5, len(closes))
    return impact_coefficients(closes, volumes)


def meaningful(out: np.ndarray, n_blocks: int) -> np.ndarray:
    """Every row is written: the metrics, then both sums of each of the ``n_blocks`` blocks."""
    assert out.shape[0] == K.n_out(n_blocks)
    return out


def _run(
    grid,
    r_long,
    r_hedge,
    start,
    stop,
    split,
    n_blocks,
    rf,
    periods,
    rows,
    g_long=None,
    g_hedge=None,
    vol_target=VOL_TARGET,
):
    tab = K.leg_tables(grid, r_long, r_hedge, g_long, g_hedge)
    args = K.kernel_args(
        grid, tab, start, stop, split, n_blocks, daily_rf(rf, periods), periods, vol_target
    )
    return K.run_cpu(args, 0, len(rows), rows=np.asarray(rows)), args


def _plain(grid, row, r_long, r_hedge, start, stop, capital=1.0, g_long=None, g_hedge=None):
    p = grid.strategy_params(row)
    with np.errstate(over="ignore", invalid="ignore"):  # a ruined book may blow up
        return dynamic_beta_hedge(
            r_long[:stop],
            r_hedge[:stop],
            p["rebalance"],
            p["window"],
            p["exposure"],
            p["hedge_ratio"],
            p["cost"],
            p["drift_band"],
            capital,
            p["estimator"],
            p["halflife"],
            p["impact"],
            None if g_long is None else g_long[:stop],
            None if g_hedge is None else g_hedge[:stop],
            start,
        ), p


def _err(got: float, want: float) -> float:
    """Relative error, absolute near 0; 0 when both are NaN, inf when only one is."""
    if math.isnan(want) or math.isnan(got):
        return 0.0 if math.isnan(want) and math.isnan(got) else math.inf
    return abs(got - want) / max(1.0, abs(want))


# datasets: (name, seed, T, beta, start, stop, split, n_blocks, rf, periods, impact)
DATASETS = (
    ("positive beta, whole history", 11, 1200, 1.2, 0, 1200, 800, 10, 0.02, 252, False),
    ("negative beta, walk-forward segment", 12, 1000, -0.8, 250, 950, 620, 16, 0.0, 365, False),
    ("market impact, segment", 13, 700, 0.9, 40, 700, 700, 2, 0.03, 252, True),
)
N_PER_DATASET = 24
CAPITAL_IMPACT = 1e8


def _grid(impact: bool) -> Grid:
    return Grid(
        legs=LEG,
        hedge="H",
        rebalance=(1, 5, 21),
        window=(2, 3, 20, 60),
        estimator=(Estimator("ols"), Estimator("ewma", 10.0), Estimator("ewma", 2.5)),
        exposure=(0.5, 1.0, 2.5),
        hedge_ratio=(0.0, 0.5, 1.0),
        drift_band=(0.0, 0.05, 0.2),
        cost=(0.0, 0.001, 0.01),
        impact=(0.0, 0.5, 2.0) if impact else (0.0,),
    )


def scaled_witness(curve, periods, vol_target=VOL_TARGET, rolling=63) -> dict:
    """The risk-normalised figures of an equity curve, by numpy from CONVENTIONS "Sweep
    scoring": its returns scaled to ``vol_target``, compounded from 1, clamped at 0 on ruin.
    """
    e = np.asarray(curve, dtype=np.float64)
    r = e[1:] / e[:-1] - 1.0
    n = len(r)
    nan = dict.fromkeys(SCALED, math.nan)
    if n < 2:
        return nan
    sigma = np.std(r, ddof=1) * math.sqrt(periods)
    if not (sigma > 0 and math.isfinite(sigma)):
        return nan
    scaled = np.concatenate([[1.0], np.cumprod(np.maximum(1.0 + r * (vol_target / sigma), 0.0))])
    return {
        "annual_return": scaled[-1] ** (periods / n) - 1.0,
        "max_drawdown": float(np.min(scaled / np.maximum.accumulate(scaled) - 1.0)),
        "consistency": float(np.mean(scaled[rolling:] > scaled[:-rolling]))
        if n >= rolling
        else math.nan,
    }


def _check_scaled(out, col, curve, first, split, periods, vol_target=VOL_TARGET, errors=None):
    """The kernel's scaled figures of an ok configuration against :func:`scaled_witness`,
    over its whole curve and its in-sample part (when the snapshot was taken).
    """
    wants = {"scaled_": scaled_witness(curve, periods, vol_target)}
    stop = first + len(curve) - 1
    if first < split <= stop:
        wants["is_scaled_"] = scaled_witness(curve[: split - first + 1], periods, vol_target)
    else:  # no snapshot: the (NaN) unscaled in-sample figures
        wants["is_scaled_"] = {name: out[K.METRICS.index(f"is_{name}"), col] for name in SCALED}
    for prefix, want in wants.items():
        for name, value in want.items():
            err = _err(out[K.METRICS.index(prefix + name), col], value)
            if errors is not None:
                errors[prefix + name] = max(errors.get(prefix + name, 0.0), err)
            assert err <= 1e-12, (
                prefix + name,
                col,
                out[K.METRICS.index(prefix + name), col],
                value,
            )


def _check_ruined(out, col, run, r_hedge, first, split, n_blocks, rf, periods):
    """A curve through zero: the worst figures, NaN elsewhere, the in-sample snapshot kept
    only when the ruin comes after it.
    """
    curve = run.equity
    ruin = first + int(np.flatnonzero(curve <= 0)[0]) - 1  # point j closes day first + j - 1
    assert out[K.STATUS, col] == K.RUINED
    assert out[K.N, col] == len(curve) - 1
    for i in (K.ANNUAL_RETURN, K.MAX_DRAWDOWN, K.CALMAR):
        assert out[i, col] == -1.0
    assert out[K.FINAL_EQUITY, col] == 0.0
    for i in (K.ANNUAL_VOLATILITY, K.SHARPE, K.SORTINO, K.TURNOVER, K.RESIDUAL_BETA, K.CONSISTENCY):
        assert math.isnan(out[i, col])
    assert np.all(np.isnan(out[K.BLOCK_SUM1 :, col]))
    if ruin < split:  # ruined in sample: the worst figures there too
        assert out[K.IS_ANNUAL_RETURN, col] == -1.0 and out[K.IS_MAX_DRAWDOWN, col] == -1.0
        assert math.isnan(out[K.IS_SHARPE, col]) and math.isnan(out[K.IS_CONSISTENCY, col])
    else:  # ruined after the split: the in-sample snapshot is the plain one
        w = sweep_metrics(
            curve[: split - first + 1],
            r_hedge,
            first,
            split,
            n_blocks,
            daily_rf(rf, periods),
            periods,
        )
        for name in (*IS_KEYS, "is_max_drawdown"):
            assert _err(out[K.METRICS.index(name), col], w[name]) <= 1e-9, name
    # the scaled figures of a ruined configuration are its unscaled ones (-1, -1, NaN)
    assert out[K.SCALED_ANNUAL_RETURN, col] == -1.0 and out[K.SCALED_MAX_DRAWDOWN, col] == -1.0
    assert math.isnan(out[K.SCALED_CONSISTENCY, col])
    if ruin < split:
        assert out[K.IS_SCALED_ANNUAL_RETURN, col] == -1.0
        assert out[K.IS_SCALED_MAX_DRAWDOWN, col] == -1.0
        assert math.isnan(out[K.IS_SCALED_CONSISTENCY, col])
    else:  # the in-sample part ran to its end: scaled from its own volatility
        _check_scaled_in_sample(out, col, curve, first, split, periods)
    return ruin


def _check_scaled_in_sample(out, col, curve, first, split, periods, vol_target=VOL_TARGET):
    want = scaled_witness(curve[: split - first + 1], periods, vol_target)
    for name, value in want.items():
        got = out[K.METRICS.index(f"is_scaled_{name}"), col]
        assert _err(got, value) <= 1e-12, (name, got, value)


def _compare(out, col, run, grid, row, r_hedge, start, split, n_blocks, rf, periods, errors):
    """Check one kernel column against the plain run; record the errors by metric. Returns
    the day of ruin, or None. CSCV blocks cover the days on which every configuration of the
    grid is trading: [K.first_day(grid, start), stop).
    """
    curve = run.equity
    first = max(grid.strategy_params(row)["window"] - 1, start)
    block_from = K.first_day(grid, start)
    n = len(curve) - 1
    if not np.all(curve > 0):
        return _check_ruined(out, col, run, r_hedge, first, split, n_blocks, rf, periods)
    assert out[K.STATUS, col] == K.OK
    assert out[K.N, col] == n
    perf = performance(curve, rf, periods)
    want = {name: getattr(perf, name) for name in PERF}
    want["final_equity"] = curve[-1] / curve[0]
    want["turnover"] = run.traded_notional * periods / n / np.mean(curve)
    w = sweep_metrics(
        curve,
        r_hedge,
        first,
        split,
        n_blocks,
        daily_rf(rf, periods),
        periods,
        block_from=block_from,
    )
    for name in ("residual_beta", "consistency", *IS_KEYS):
        want[name] = w[name]
    for name, value in want.items():
        err = _err(out[K.METRICS.index(name), col], value)
        errors[name] = max(errors.get(name, 0.0), err)
        assert err <= 1e-9, (
            name,
            row,
            grid.strategy_params(row),
            out[K.METRICS.index(name), col],
            value,
        )
    for name, got, value in (
        ("max_drawdown", out[K.MAX_DRAWDOWN, col], perf.max_drawdown),
        ("is_max_drawdown", out[K.IS_MAX_DRAWDOWN, col], w["is_max_drawdown"]),
        ("shift", out[K.SHIFT, col], w["shift"]),
    ):
        err = 0.0 if math.isnan(got) and math.isnan(value) else abs(got - value)
        errors[name] = max(errors.get(name, 0.0), err)
        assert err <= 1e-12, (name, row, got, value)
    assert out[K.IS_N, col] == w["is_n"]
    _check_scaled(out, col, curve, first, split, periods, errors=errors)
    s1 = out[K.BLOCK_SUM1 : K.BLOCK_SUM1 + n_blocks, col]
    s2 = out[K.BLOCK_SUM1 + n_blocks : K.BLOCK_SUM1 + 2 * n_blocks, col]
    err = max(
        np.max(np.abs(s1 - w["block_sum1"]) / np.maximum(1.0, np.abs(w["block_sum1"]))),
        np.max(np.abs(s2 - w["block_sum2"]) / np.maximum(1.0, np.abs(w["block_sum2"]))),
    )
    errors["block_sums"] = max(errors.get("block_sums", 0.0), err)
    assert err <= 1e-12, (row, s1, w["block_sum1"])
    np.testing.assert_array_equal(
        K.block_counts(n - (block_from - first), n_blocks), w["block_count"]
    )
    return None


@pytest.fixture(scope="module")
def random_configs():
    """The kernel's and the plain loop's outputs for N_PER_DATASET random rows of each set."""
    rng = np.random.default_rng(20240611)
    cases = []
    for name, seed, n_days, beta, start, stop, split, n_blocks, rf, periods, impact in DATASETS:
        r_long, r_hedge = _returns(seed, n_days, beta)
        grid = _grid(impact)
        g_long = g_hedge = None
        capital = 1.0
        if impact:
            capital = CAPITAL_IMPACT
            g_long, g_hedge = _impact(seed + 100, r_long), _impact(seed + 200, r_hedge)
        rows = rng.choice(grid.rows_per_leg, N_PER_DATASET, replace=False)
        scale = math.sqrt(capital)
        out, _ = _run(
            grid,
            r_long,
            r_hedge,
            start,
            stop,
            split,
            n_blocks,
            rf,
            periods,
            rows,
            None if g_long is None else g_long * scale,
            None if g_hedge is None else g_hedge * scale,
        )
        for col, row in enumerate(rows):
            run, p = _plain(grid, int(row), r_long, r_hedge, start, stop, capital, g_long, g_hedge)
            cases.append(
                (
                    name,
                    grid,
                    int(row),
                    p,
                    out,
                    col,
                    run,
                    r_hedge,
                    start,
                    split,
                    n_blocks,
                    rf,
                    periods,
                )
            )
    return cases


def test_random_configurations_match_the_plain_backtest(random_configs):
    errors: dict[str, float] = {}
    ruined = 0
    for (
        _,
        grid,
        row,
        _p,
        out,
        col,
        run,
        r_hedge,
        start,
        split,
        n_blocks,
        rf,
        periods,
    ) in random_configs:
        ruined += (
            _compare(out, col, run, grid, row, r_hedge, start, split, n_blocks, rf, periods, errors)
            is not None
        )
    assert len(random_configs) - ruined >= 50
    print("max errors:", {k: f"{v:.1e}" for k, v in sorted(errors.items())})


def test_random_configurations_cover_the_corners(random_configs):
    params = [c[3] for c in random_configs]
    seen = {key: {p[key] for p in params} for key in params[0]}
    assert {1, 5, 21} <= seen["rebalance"]
    assert {2, 3, 20, 60} <= seen["window"]
    assert {"ols", "ewma"} <= seen["estimator"] and {10.0, 2.5} <= seen["halflife"]
    assert 2.5 in seen["exposure"] and 0.0 in seen["hedge_ratio"]
    assert {0.05, 0.2} <= seen["drift_band"] and {0.001, 0.01} <= seen["cost"]
    assert seen["impact"] - {0.0}
    # a walk-forward start and a negative beta are both in play
    assert any(c[8] > c[3]["window"] - 1 for c in random_configs)
    assert any(c[8] < c[3]["window"] - 1 for c in random_configs)
    assert any(c[6].betas.mean() < 0 and c[3]["hedge_ratio"] > 0 for c in random_configs)


def test_impact_costs_something(random_configs):
    """The same strategy without impact ends higher, and by more than rounding."""
    impacted = [c for c in random_configs if c[3]["impact"] > 0]
    assert impacted
    for _, grid, row, _p, out, col, _run, _rh, *_ in impacted:
        free = row - row % len(grid.impact)  # impact is the innermost axis, level 0.0 first
        assert grid.strategy_params(free)["impact"] == 0.0
        r_long, r_hedge = _returns(13, 700, 0.9)
        run, _ = _plain(grid, free, r_long, r_hedge, 40, 700)
        if out[K.STATUS, col] == K.OK:
            assert run.equity[-1] - out[K.FINAL_EQUITY, col] > 1e-4


def test_residual_beta_against_statsmodels(random_configs):
    picked = [c for c in random_configs if c[0].startswith("negative")][:2]
    for _, _g, _row, p, out, col, run, r_hedge, start, *_ in picked:
        first = max(p["window"] - 1, start)
        r = run.equity[1:] / run.equity[:-1] - 1.0
        n = len(r)
        slopes = []
        for q in range(K.ROLLING, n):
            y = r[q - K.ROLLING + 1 : q + 1]
            x = r_hedge[first + q - K.ROLLING + 1 : first + q + 1]
            slopes.append(abs(sm.OLS(y, sm.add_constant(x)).fit().params[1]))
        assert out[K.RESIDUAL_BETA, col] == pytest.approx(np.mean(slopes), rel=1e-9)


def test_impact_scales_with_capital():
    """The kernel's g already carries sqrt(capital): its curve is the plain one over C."""
    r_long, r_hedge = _returns(5, 300, 1.0)
    g_long, g_hedge = _impact(6, r_long), _impact(7, r_hedge)
    grid = Grid(legs=LEG, hedge="H", rebalance=(1,), window=(20,), exposure=(1.0,), impact=(1.0,))
    for capital in (1.0, 1e6, 1e9):
        out, _ = _run(
            grid,
            r_long,
            r_hedge,
            40,
            300,
            300,
            4,
            0.0,
            252,
            [0],
            g_long * math.sqrt(capital),
            g_hedge * math.sqrt(capital),
        )
        run, _ = _plain(grid, 0, r_long, r_hedge, 40, 300, capital, g_long, g_hedge)
        assert out[K.FINAL_EQUITY, 0] == pytest.approx(run.equity[-1] / capital, rel=1e-12)


# -------------------------------------------------------------------------------- edge cases


def _edge_grid(**axes) -> Grid:
    base = dict(
        legs=LEG,
        hedge="H",
        rebalance=(1, 7),
        window=(3, 20),
        estimator=(Estimator("ols"), Estimator("ewma", 5.0)),
        exposure=(1.0, 2.0),
        hedge_ratio=(0.0, 1.0),
        drift_band=(0.0, 0.1),
        cost=(0.0, 0.002),
    )
    base.update(axes)
    return Grid(**base)


def _all_rows_match(grid, r_long, r_hedge, start, stop, split, n_blocks, rf=0.0, periods=252):
    rows = np.arange(grid.rows_per_leg)
    out, _ = _run(grid, r_long, r_hedge, start, stop, split, n_blocks, rf, periods, rows)
    errors: dict[str, float] = {}
    for col, row in enumerate(rows):
        run, _ = _plain(grid, int(row), r_long, r_hedge, start, stop)
        _compare(
            out, col, run, grid, int(row), r_hedge, start, split, n_blocks, rf, periods, errors
        )
    return out


def test_constant_long_series():
    _, r_hedge = _returns(21, 400, 1.0)
    r_long = np.zeros(400)
    out = _all_rows_match(_edge_grid(), r_long, r_hedge, 0, 400, 250, 4, rf=0.01)
    ok = out[K.STATUS] == K.OK
    assert ok.all()
    # flat but for the costs' slow decay: no beta left, never a rolling gain
    assert np.all(out[K.RESIDUAL_BETA] < 1e-6) and np.all(out[K.CONSISTENCY] == 0.0)
    assert np.all(np.isnan(out[K.SHARPE][out[K.FINAL_EQUITY] == 1.0]))


def test_constant_hedge_window_gives_undefined_beta():
    r_long, r_hedge = _returns(22, 500, 1.0)
    r_hedge[300:310] = 0.0  # ten constant returns: windows of 3 and 5 fit inside, 20 does not
    grid = _edge_grid(rebalance=(1, 4, 50), window=(3, 5, 20))
    rows = np.arange(grid.rows_per_leg)
    out, _ = _run(grid, r_long, r_hedge, 0, 500, 400, 8, 0.0, 252, rows)
    seen = set()
    for col, row in enumerate(rows):
        try:
            run, _ = _plain(grid, int(row), r_long, r_hedge, 0, 500)
        except UndefinedBeta as exc:
            seen.add("undefined")
            assert 300 <= exc.day < 310
            assert out[K.STATUS, col] == K.UNDEFINED_BETA
            assert np.all(np.isnan(out[K.ANNUAL_RETURN : K.FINAL_EQUITY + 1, col]))
            assert np.all(np.isnan(out[K.BLOCK_SUM1 :, col]))
            continue
        seen.add("ok")
        _compare(out, col, run, grid, int(row), r_hedge, 0, 400, 8, 0.0, 252, {})
    assert seen == {"ok", "undefined"}


@pytest.mark.parametrize("split", [150, 300])
def test_ruin(split):
    r_long, r_hedge = _returns(23, 400, 1.0, vol_h=0.004, vol_e=0.003)
    crash = 200
    r_long[crash], r_hedge[crash] = -0.30, 0.001
    grid = _edge_grid(exposure=(0.5, 5.0), drift_band=(0.0,))
    rows = np.arange(grid.rows_per_leg)
    out, _ = _run(grid, r_long, r_hedge, 0, 400, split, 6, 0.0, 252, rows)
    ruined = 0
    for col, row in enumerate(rows):
        run, _ = _plain(grid, int(row), r_long, r_hedge, 0, 400)
        ruin = _compare(out, col, run, grid, int(row), r_hedge, 0, split, 6, 0.0, 252, {})
        if ruin is not None:
            ruined += 1
            assert ruin == crash
    assert 0 < ruined < len(rows)


def test_scaled_figures_of_undefined_beta():
    """Undefined before the split: every scaled figure is the (NaN) unscaled one; after it:
    the in-sample part is scaled from its own returns, the full figures stay NaN.
    """
    r_long, r_hedge = _returns(28, 500, 1.0)
    r_hedge[300:310] = 0.0  # the 3-day beta is undefined there
    grid = _edge_grid(rebalance=(1,), window=(3,))
    rows = np.arange(grid.rows_per_leg)
    for split in (250, 400):
        out, _ = _run(grid, r_long, r_hedge, 0, 500, split, 4, 0.0, 252, rows)
        assert np.all(out[K.STATUS] == K.UNDEFINED_BETA)
        for i in (K.SCALED_ANNUAL_RETURN, K.SCALED_MAX_DRAWDOWN, K.SCALED_CONSISTENCY):
            assert np.all(np.isnan(out[i]))
        for col, row in enumerate(rows):
            if split == 400:
                assert np.all(np.isnan(out[K.IS_SCALED_ANNUAL_RETURN : K.BLOCK_SUM1, col]))
                continue
            run, _ = _plain(grid, int(row), r_long, r_hedge, 0, split)  # the in-sample days
            _check_scaled_in_sample(out, col, run.equity, 2, split, 252)
            assert np.isfinite(out[K.IS_SCALED_ANNUAL_RETURN, col])


def test_scaled_figures_missing_without_volatility():
    """A flat curve (no long returns, no hedge, no cost): sigma = 0, the scaled figures NaN."""
    _, r_hedge = _returns(29, 300, 1.0)
    grid = _edge_grid(hedge_ratio=(0.0,), cost=(0.0,), window=(20,))
    rows = np.arange(grid.rows_per_leg)
    out, _ = _run(grid, np.zeros(300), r_hedge, 0, 300, 200, 4, 0.0, 252, rows)
    assert np.all(out[K.STATUS] == K.OK) and np.all(out[K.ANNUAL_VOLATILITY] == 0.0)
    assert np.all(np.isnan(out[K.SCALED_ANNUAL_RETURN : K.BLOCK_SUM1]))  # the six scaled rows
    assert np.all(out[K.MAX_DRAWDOWN] == 0.0)  # the unscaled figures are still there


def test_scaled_ruin_with_a_huge_target():
    """A target volatility so high that one day's scaled loss exceeds 100 %: the scaled curve
    is 0 from that day (annual -1, drawdown -1), while the configuration itself is fine.
    """
    r_long, r_hedge = _returns(30, 400, 1.0)
    grid = _edge_grid(window=(20,), rebalance=(5,))
    rows = np.arange(grid.rows_per_leg)
    out, _ = _run(grid, r_long, r_hedge, 0, 400, 300, 4, 0.0, 252, rows, vol_target=50.0)
    assert np.all(out[K.STATUS] == K.OK)
    assert np.all(out[K.SCALED_ANNUAL_RETURN] == -1.0)
    assert np.all(out[K.SCALED_MAX_DRAWDOWN] == -1.0)
    for col, row in enumerate(rows):
        run, _ = _plain(grid, int(row), r_long, r_hedge, 0, 400)
        _check_scaled(out, col, run.equity, 19, 300, 252, vol_target=50.0)


def test_short_curve_has_no_rolling_figures():
    r_long, r_hedge = _returns(24, 100, 0.7)
    grid = _edge_grid(window=(40, 60))
    out = _all_rows_match(grid, r_long, r_hedge, 0, 100, 80, 5)
    assert np.all(out[K.N] < K.ROLLING)
    assert np.all(np.isnan(out[K.RESIDUAL_BETA])) and np.all(np.isnan(out[K.CONSISTENCY]))
    assert np.all(np.isfinite(out[K.SHARPE]))


@pytest.mark.parametrize("offset", [-5, 0, 1, 2, 70])
def test_in_sample_boundaries(offset):
    """Split before the first curve day (no in-sample), one or two returns, and a long one."""
    r_long, r_hedge = _returns(25, 300, 1.0)
    grid = _edge_grid(window=(20,), rebalance=(3,))
    first = 19
    out = _all_rows_match(grid, r_long, r_hedge, 0, 300, first + offset, 3)
    assert np.all(out[K.IS_N] == max(offset, 0))
    if offset <= 1:  # fewer than 2 returns: no figures (performance() refuses them too)
        assert np.all(np.isnan(out[K.IS_SHARPE])) and np.all(np.isnan(out[K.IS_ANNUAL_RETURN]))


def test_rows_list_chunks_and_determinism():
    r_long, r_hedge = _returns(26, 500, 1.1)
    grid = _grid(False)
    n_rows = grid.rows_per_leg
    tab = K.leg_tables(grid, r_long, r_hedge)
    args = K.kernel_args(grid, tab, 30, 500, 380, 7, daily_rf(0.01, 252), 252)
    whole = meaningful(K.run_cpu(args, 0, n_rows), 7)
    again = meaningful(K.run_cpu(args, 0, n_rows), 7)
    assert whole.tobytes() == again.tobytes()  # bit-identical, NaNs included
    cut = 1000
    parts = np.concatenate(
        [meaningful(K.run_cpu(args, 0, cut), 7), meaningful(K.run_cpu(args, cut, n_rows - cut), 7)],
        axis=1,
    )
    assert parts.tobytes() == whole.tobytes()
    rows = np.random.default_rng(3).permutation(n_rows)[:300]
    listed = meaningful(K.run_cpu(args, 12345, len(rows), rows=rows), 7)
    assert listed.tobytes() == whole[:, rows].tobytes()
    assert np.mean(whole[K.STATUS] == K.OK) > 0.5


def test_kernel_args_rejects_bad_block_counts():
    grid = _edge_grid()
    tab = K.leg_tables(grid, *_returns(27, 100, 1.0))
    for n_blocks in (1, K.MAX_BLOCKS + 1):
        with pytest.raises(ValueError):
            K.kernel_args(grid, tab, 0, 100, 100, n_blocks, 0.0, 252)


# --------------------------------------------------------------------- beta tables and blocks


def test_leg_tables_layout():
    r_long, r_hedge = _returns(32, 200, 1.0)
    grid = _edge_grid(window=(3, 20), estimator=(Estimator("ols"), Estimator("ewma", 4.0)))
    tab = K.leg_tables(grid, r_long, r_hedge)
    age = np.arange(19, -1, -1, dtype=np.float64)
    np.testing.assert_array_equal(
        tab.betas[1 * 2 + 1], rolling_beta(r_long, r_hedge, 20, 0.5 ** (age / 4.0))
    )
    np.testing.assert_array_equal(tab.betas[0], rolling_beta(r_long, r_hedge, 3))
    t = 150
    x = r_hedge[t - K.ROLLING + 1 : t + 1]
    assert tab.res_xbar[t] == pytest.approx(x.mean(), rel=1e-12)
    assert tab.res_inv_sxx[t] == pytest.approx(1.0 / np.sum((x - x.mean()) ** 2), rel=1e-12)
    assert np.all(tab.g_long == 0.0) and np.all(tab.g_hedge == 0.0)


@pytest.mark.parametrize("n", [16, 17, 63, 100, 641, 1000])
def test_block_counts(n):
    for n_blocks in range(2, K.MAX_BLOCKS + 1):
        counts = K.block_counts(n, n_blocks)
        assert len(counts) == n_blocks and counts.sum() == n
        assert counts.min() >= n // n_blocks and counts.max() <= -(-n // n_blocks)
        expected = [sum(1 for q in range(n) if q * n_blocks // n == b) for b in range(n_blocks)]
        assert counts.tolist() == expected


def test_blocks_when_fewer_days_than_blocks():
    """Empty blocks (fewer block days than blocks) are closed with zero sums."""
    r_long, r_hedge = _returns(33, 40, 1.0)
    grid = Grid(legs=LEG, hedge="H", rebalance=(1,), window=(3,))
    out, _ = _run(grid, r_long, r_hedge, 0, 12, 12, 16, 0.0, 252, [0])
    run, _ = _plain(grid, 0, r_long, r_hedge, 0, 12)
    w = sweep_metrics(run.equity, r_hedge, 2, 12, 16, 0.0, 252)
    np.testing.assert_allclose(
        out[K.BLOCK_SUM1 : K.BLOCK_SUM1 + 16, 0], w["block_sum1"], atol=1e-12
    )


def test_scale_factor_and_its_missing_cases():
    assert K.scale_of(0.2, 10, 0.1) == 0.5
    for sigma, n in ((0.0, 10), (math.inf, 10), (math.nan, 10), (0.2, 1)):
        assert K.scale_of(sigma, n, 0.1) == 0.0  # missing: the scaled figures are NaN
    rets = np.array([0.01, -0.02, 0.005])
    assert all(math.isnan(v) for v in K.scaled(rets, 3, 0.0, 252.0, np.empty(K.ROLLING)))
    ann, mdd, cons = K.scaled(rets, 3, 100.0, 252.0, np.empty(K.ROLLING))  # -200 %: ruined
    assert (ann, mdd) == (-1.0, -1.0) and math.isnan(cons)

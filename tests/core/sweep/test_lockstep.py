"""The lock-step CPU kernel (contiguous rows: the lanes of a family advanced together) against
the per-configuration kernel (``simulate``, run for a list of rows): the same figures, bit for
bit, NaNs included, on randomised grids and data, whole or cut anywhere into chunks.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from hedgedesk.core.metrics import daily_rf
from hedgedesk.core.sweep import kernel as K
from hedgedesk.core.sweep.grid import Estimator, Grid, Leg

LEG = (Leg("A", ("A",)),)


def _data(rng: np.random.Generator, n_days: int, constant_at: int | None):
    """Returns with a drifting beta; a constant stretch of the hedge (undefined short-window
    betas) from ``constant_at``; a crash day that ruins the large exposures.
    """
    r_hedge = rng.normal(0.0003, 0.012, n_days)
    beta = rng.uniform(-1.0, 1.5) + 0.4 * np.sin(np.arange(n_days) / 60.0)
    r_long = 0.0002 + beta * r_hedge + rng.normal(0.0, 0.01, n_days)
    if constant_at is not None:
        r_hedge[constant_at : constant_at + 8] = 0.0005
    crash = int(rng.integers(n_days // 3, n_days - 20))
    r_long[crash] = -0.35
    g_long = rng.uniform(0.5e-3, 2e-3, n_days)
    g_hedge = rng.uniform(0.5e-3, 2e-3, n_days)
    return r_long, r_hedge, g_long, g_hedge


def _grid(rng: np.random.Generator, impact: bool) -> Grid:
    def pick(values, n):
        return tuple(sorted(rng.choice(values, n, replace=False).tolist()))

    return Grid(
        legs=LEG,
        hedge="H",
        rebalance=(1, *pick([2, 3, 5, 10, 21], 1)),  # daily: meets the undefined betas
        window=(*pick([3, 5], 1), *pick([20, 40, 70], 1)),
        estimator=(Estimator("ols"), Estimator("ewma", float(rng.uniform(2.0, 15.0)))),
        exposure=(*pick([0.5, 1.0, 2.0], 2), 10.0),  # 10: ruined by the crash
        hedge_ratio=(0.0, *pick([0.5, 1.0, 1.5], 2)),
        drift_band=(0.0, *pick([0.02, 0.1, 0.3], 1 + int(rng.integers(2)))),
        cost=pick([0.0, 0.0005, 0.002, 0.01], 2),
        impact=(0.0, float(rng.uniform(0.2, 2.0))) if impact else (0.0,),
    )


def _both(args: K.KernelArgs, row0: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    lockstep = K.run_cpu(args, row0, count)
    per_config = K.run_cpu(args, row0, count, rows=np.arange(row0, row0 + count))
    return lockstep, per_config


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("walk_forward", [True, False], ids=["split", "no-split"])
def test_lockstep_equals_per_configuration_kernel(seed, walk_forward):
    rng = np.random.default_rng(1000 + seed)
    impact = seed % 2 == 1
    n_days = int(rng.integers(250, 420))
    r_long, r_hedge, g_long, g_hedge = _data(
        rng, n_days, int(rng.integers(100, n_days - 20)) if seed % 3 != 2 else None
    )
    grid = _grid(rng, impact)
    tables = K.leg_tables(
        grid, r_long, r_hedge, g_long if impact else None, g_hedge if impact else None
    )
    start = 30 if impact else int(rng.integers(0, 40))
    # split == n_days: no walk-forward (the lock-step kernel copies the full figures then)
    split = int(rng.integers(start + 50, n_days + 1)) if walk_forward else n_days
    n_blocks = int(rng.integers(2, K.MAX_BLOCKS + 1))
    args = K.kernel_args(
        grid, tables, start, n_days, split, n_blocks, daily_rf(0.02, 252), 252, 0.1 + seed / 10
    )
    n_rows = grid.rows_per_leg
    lockstep, per_config = _both(args, 0, n_rows)
    assert lockstep.shape == (K.n_out(n_blocks), n_rows)
    assert lockstep.tobytes() == per_config.tobytes()  # bit for bit, NaNs included
    # chunks that start and end inside families (and tiles)
    cuts = np.unique(np.r_[0, rng.integers(1, n_rows, 5), n_rows])
    parts = [K.run_cpu(args, a, b - a) for a, b in itertools.pairwise(cuts)]
    assert np.concatenate(parts, axis=1).tobytes() == lockstep.tobytes()
    if seed % 3 != 2:  # every path of a lane is taken
        statuses = set(lockstep[K.STATUS].tolist())
        assert statuses == {K.OK, K.RUINED, K.UNDEFINED_BETA}, statuses


def test_families_wider_than_a_tile_and_odd_chunks():
    """A family of more than LANES rows is cut into tiles; a chunk may start and end anywhere."""
    rng = np.random.default_rng(7)
    r_long, r_hedge, _, _ = _data(rng, 300, 150)
    grid = Grid(
        legs=LEG,
        hedge="H",
        rebalance=(1, 4),
        window=(3, 30),
        exposure=(0.5, 1.0, 1.5, 10.0),
        hedge_ratio=(0.0, 0.5, 1.0, 1.2, 2.0),
        drift_band=(0.0, 0.05, 0.2),
        cost=(0.0, 0.001, 0.003),
    )
    family = 4 * 5 * 3 * 3
    assert family > K.LANES
    args = K.kernel_args(grid, K.leg_tables(grid, r_long, r_hedge), 0, 300, 220, 5, 0.0, 252)
    for row0, count in ((0, grid.rows_per_leg), (family - 3, 7), (5, 2 * family + 11), (17, 1)):
        lockstep, per_config = _both(args, row0, count)
        assert lockstep.tobytes() == per_config.tobytes(), (row0, count)


def test_tiles_cover_the_range_inside_families():
    for row0, count, family in ((0, 1000, 120), (37, 500, 50), (5, 3, 200), (63, 130, 64)):
        starts, sizes = K._tiles(row0, count, family, K.LANES)
        assert starts[0] == row0 and sizes.sum() == count
        np.testing.assert_array_equal(starts[1:], starts[:-1] + sizes[:-1])
        assert np.all((sizes >= 1) & (sizes <= K.LANES))
        assert np.all(starts // family == (starts + sizes - 1) // family)  # inside one family


def test_empty_range():
    rng = np.random.default_rng(8)
    r_long, r_hedge, _, _ = _data(rng, 100, None)
    grid = Grid(legs=LEG, hedge="H", rebalance=(1,), window=(3,))
    args = K.kernel_args(grid, K.leg_tables(grid, r_long, r_hedge), 0, 100, 100, 2, 0.0, 252)
    assert K.run_cpu(args, 0, 0).shape == (K.n_out(2), 0)
    assert K.scratch_days(args) == 98
    assert not math.isnan(K.run_cpu(args, 0, 1)[K.SCALED_ANNUAL_RETURN, 0])
    with pytest.raises(ValueError, match="rows must hold count = 2"):
        K.run_cpu(args, 0, 2, rows=np.arange(3))

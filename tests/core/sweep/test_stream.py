"""The streamed reductions of a sweep (``hedgedesk.core.sweep.stream``) against brute force.

Witness: every configuration of a small grid run by the kernel at once, scored with
``target_score`` on the kernel's scaled figures, then reduced with pandas and numpy in one
go (sort, groupby, np.var). The stream folds the same outputs chunk by chunk, with chunk
boundaries drawn at random: its figures must equal the witness's, and two chunkings must
give bit-identical states (what makes a resumed run end like an uninterrupted one).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from hedgedesk.core.sweep import kernel as K
from hedgedesk.core.sweep import stream as S
from hedgedesk.core.sweep.grid import AXES, Grid, Leg, estimators
from hedgedesk.core.sweep.score import ScoreTargets, target_score
from tests.witness import strategy_key

GRID = Grid(
    legs=(Leg("A", ("A",)),),
    hedge="H",
    rebalance=(1, 5, 10),
    window=(20, 40),
    estimator=estimators(("ols", "ewma"), (10.0,)),
    exposure=(0.5, 1.0, 2.0),
    hedge_ratio=(0.0, 0.5, 1.0),
    drift_band=(0.0, 0.02, 0.05),
    cost=(0.0, 0.002),
)
TARGETS = ScoreTargets()
BLOCKS = 4
RANK = 1  # the costliest scenario


@pytest.fixture(scope="module")
def outputs():
    rng = np.random.default_rng(5)
    r_hedge = rng.normal(0.0004, 0.012, 400)
    r_long = 0.0002 + 1.1 * r_hedge + rng.normal(0, 0.01, 400)
    tables = K.leg_tables(GRID, r_long, r_hedge)
    args = K.kernel_args(GRID, tables, 0, 400, 280, BLOCKS, 0.0, 252)
    out = K.run_cpu(args, 0, GRID.rows_per_leg)
    arrays = {k: v.copy() for k, v in S.named(out, BLOCKS).items()}
    arrays["score"] = S.scores(arrays, TARGETS)
    arrays["is_score"] = S.scores(arrays, TARGETS, "is_")
    return arrays


def fold(arrays, cuts, top=7):
    stream = S.LegStream(GRID, 0, BLOCKS, TARGETS, RANK, top, 252)
    edges = [0, *cuts, GRID.rows_per_leg]
    for a, b in itertools.pairwise(edges):
        stream.add(a, {k: v[a:b] for k, v in arrays.items()})
    return stream


def random_cuts(seed):
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(np.arange(1, GRID.rows_per_leg), 9, replace=False).tolist())


def table(arrays) -> pd.DataFrame:
    """Every configuration with its parameters' level indices and whether it counts."""
    rows = np.arange(GRID.rows_per_leg)
    frame = pd.DataFrame({k: v for k, v in arrays.items() if not k.startswith("block")})
    idx = np.unravel_index(rows, GRID.shape)
    for axis, i in zip(AXES, idx, strict=True):
        frame[f"i_{axis}"] = i
    frame["row"] = rows
    frame["scenario"] = rows % GRID.n_scenarios
    first = {}
    for r in rows:  # a plain loop over strategy_key: the first row of each strategy counts
        p = GRID.strategy_params(int(r))
        first.setdefault(strategy_key({"ticker": "A", "hedge": "H", **p}), r)
    frame["canonical"] = frame["row"].isin(first.values())
    return frame


def test_canonical_rows_are_the_first_of_each_strategy(outputs):
    frame = table(outputs)
    rows = np.arange(GRID.rows_per_leg)
    assert (S.canonical(GRID, rows) == frame["canonical"].to_numpy()).all()
    assert S.distinct_strategies(GRID) * GRID.n_scenarios == frame["canonical"].sum()
    # collapsed rows are the same strategy: identical figures
    for r in np.flatnonzero(~frame["canonical"].to_numpy())[:40]:
        p = GRID.strategy_params(int(r))
        key = strategy_key({"ticker": "A", "hedge": "H", **p})
        twin = next(
            q
            for q in rows
            if strategy_key({"ticker": "A", "hedge": "H", **GRID.strategy_params(int(q))}) == key
        )
        for name in ("sharpe", "annual_return", "max_drawdown", "score", "final_equity"):
            assert outputs[name][r] == outputs[name][twin]


def test_any_chunking_gives_one_state_bit_for_bit(outputs):
    a = fold(outputs, random_cuts(1)).state()
    b = fold(outputs, random_cuts(2)).state()
    c = fold(outputs, []).state()
    assert a.keys() == b.keys() == c.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
        np.testing.assert_array_equal(a[k], c[k], err_msg=k)


def test_restored_state_continues_identically(outputs):
    cuts = random_cuts(3)
    whole = fold(outputs, cuts)
    half = S.LegStream(GRID, 0, BLOCKS, TARGETS, RANK, 7, 252)
    edges = [0, *cuts, GRID.rows_per_leg]
    samples = []
    for a, b in itertools.pairwise(edges[:5]):
        samples.append(half.add(a, {k: v[a:b] for k, v in outputs.items()}))
    resumed = S.LegStream(GRID, 0, BLOCKS, TARGETS, RANK, 7, 252)
    resumed.restore(half.state(), samples)
    for a, b in itertools.pairwise(edges[4:]):
        resumed.add(a, {k: v[a:b] for k, v in outputs.items()})
    for k, v in whole.state().items():
        np.testing.assert_array_equal(v, resumed.state()[k], err_msg=k)
    for k, v in whole.sample().items():
        np.testing.assert_array_equal(v, resumed.sample()[k], err_msg=k)


def test_leaders_are_the_best_distinct_strategies(outputs):
    stream = fold(outputs, random_cuts(4))
    f = table(outputs)
    mine = f[f.canonical & (f.scenario == RANK) & (f.status == K.OK)]
    ranked = mine.sort_values(["score", "row"], ascending=[False, True])
    # identical figures are one strategy in effect: the witness drops repeats by a plain loop
    seen, want = set(), []
    for _, r in ranked.iterrows():
        key = tuple(np.nan_to_num(outputs[n][int(r.row)], nan=-999.0) for n in K.METRICS)
        if key in seen:
            continue
        seen.add(key)
        want.append(int(r.row))
    assert stream.leaders.rows.tolist() == want[:7]
    np.testing.assert_array_equal(stream.leaders.score, outputs["score"][want[:7]])
    for name in ("sharpe", "block_sum1_0", "scaled_annual_return"):
        np.testing.assert_array_equal(stream.leaders.figures[name], outputs[name][want[:7]])
    is_mine = mine[np.isfinite(mine.is_score)]
    first_is = is_mine.sort_values(["is_score", "row"], ascending=[False, True]).row.iloc[0]
    assert stream.is_leaders.rows[0] == first_is


def test_marginals_heat_and_scenarios_equal_a_groupby(outputs):
    stream = fold(outputs, random_cuts(5))
    f = table(outputs)
    ok = f[f.canonical & (f.status == K.OK)]
    rank = ok[ok.scenario == RANK]
    acc = stream.acc
    for a, axis in enumerate(S.STRATEGY_AXES):
        g = rank.groupby(f"i_{axis}")["score"]
        n = GRID.shape[a]
        np.testing.assert_array_equal(
            acc["axis_count"][a, :n], g.count().reindex(range(n), fill_value=0)
        )
        np.testing.assert_allclose(
            acc["axis_sum"][a, :n] / np.maximum(acc["axis_count"][a, :n], 1),
            g.mean().reindex(range(n), fill_value=0),
            rtol=1e-13,
        )
        np.testing.assert_array_equal(
            acc["axis_best"][a, :n], g.max().reindex(range(n), fill_value=-np.inf)
        )
    cell = rank.i_rebalance * len(GRID.window) + rank.i_window
    g = rank.groupby(cell)["score"]
    np.testing.assert_allclose(
        acc["heat_sum"] / acc["heat_count"], g.mean().sort_index(), rtol=1e-13
    )
    np.testing.assert_array_equal(acc["heat_best"], g.max().sort_index())
    canon = f[f.canonical]
    for s in range(GRID.n_scenarios):
        c, o = canon[canon.scenario == s], ok[ok.scenario == s]
        assert acc["scen_int"][s].tolist() == [
            len(c),
            len(o),
            int((o.sharpe >= TARGETS.sharpe).sum()),
        ]
        np.testing.assert_allclose(
            acc["scen_sum"][s] / acc["scen_n"][s],
            [o.sharpe.mean(), o.annual_return.mean(), o.max_drawdown.mean()],
            rtol=1e-13,
        )
        assert acc["scen_best"][s] == o.score.max()
    assert acc["status_count"].tolist() == [int((f.status == k).sum()) for k in range(3)]


def test_sharpe_moments_equal_numpy(outputs):
    stream = fold(outputs, random_cuts(6))
    f = table(outputs)
    x = f[f.canonical & (f.scenario == RANK) & (f.status == K.OK)].sharpe / math.sqrt(252)
    m = stream.moments()
    assert m.n == len(x)
    np.testing.assert_allclose(m.mean, x.mean(), rtol=1e-13)
    np.testing.assert_allclose(m.variance, np.var(x, ddof=1), rtol=1e-11)
    halves = S.Moments.of(np.zeros(4))
    for part in (x[: len(x) // 3], x[len(x) // 3 :]):
        acc = np.array(
            [
                len(part),
                part.iloc[0],
                (part - part.iloc[0]).sum(),
                ((part - part.iloc[0]) ** 2).sum(),
            ]
        )
        halves = halves.merge(S.Moments.of(acc))
    np.testing.assert_allclose(halves.variance, np.var(x, ddof=1), rtol=1e-11)


def test_the_sample_holds_every_strategy_up_to_its_size(outputs):
    stream = fold(outputs, random_cuts(7))
    f = table(outputs)
    mine = f[f.canonical & (f.scenario == RANK)]
    sample = stream.sample()
    assert stream.rate == 1.0
    assert sample["row"].tolist() == mine.row.tolist()
    np.testing.assert_array_equal(sample["block_sum2_3"], outputs["block_sum2_3"][mine.row])


def test_a_sample_is_uniform_and_fixed_by_the_row():
    rows = np.arange(2_000_000, dtype=np.int64)
    kept = S.in_sample(rows, 3, 0.01)
    # binomial: 20,000 expected, sd 141; 5 sd either side
    assert abs(kept.sum() - 20_000) < 5 * 141
    assert (S.in_sample(rows[::7], 3, 0.01) == kept[::7]).all()
    assert (S.in_sample(rows, 4, 0.01) != kept).any()  # each leg draws its own
    # spread over the rows: each tenth holds its share
    assert np.ptp(np.add.reduceat(kept, np.arange(0, len(rows), len(rows) // 10))) < 10 * 45


def test_scores_use_the_scaled_curve_and_raw_sharpe(outputs):
    want = target_score(
        outputs["sharpe"],
        outputs["scaled_annual_return"],
        outputs["scaled_max_drawdown"],
        outputs["scaled_consistency"],
        TARGETS,
    )[0]
    np.testing.assert_array_equal(outputs["score"], want)


def test_footprint_stays_bounded_at_1e8_configurations():
    from hedgedesk.core.sweep.request import SweepRequest

    big = Grid(
        legs=(Leg("A", ("A",)),),
        hedge="H",
        rebalance=tuple(range(1, 11)),
        window=tuple(range(20, 70, 5)),
        exposure=tuple(np.linspace(0.1, 2, 1000)),
        hedge_ratio=tuple(np.linspace(0, 1.5, 100)),
        drift_band=tuple(np.linspace(0, 0.1, 10)),
    )
    assert big.n_rows == 10**8
    fp = S.footprint(big, SweepRequest(big), [250])
    assert fp.peak_memory_bytes < 2 * 2**30
    assert fp.ledger_bytes < 16 * big.n_rows
    assert fp.keep_bytes is None
    assert S.footprint(big, SweepRequest(big, keep="all"), [250]).keep_bytes > 10 * big.n_rows


def test_a_sampled_pbo_error_is_the_spread_of_its_bootstrap_pbos():
    """README: the standard deviation (ddof 1) of PBO over PBO_RESAMPLES resamples, with
    replacement, of the sampled strategies; a plain loop over the stated procedure.
    """
    from hedgedesk.core.sweep import engine as E
    from hedgedesk.core.sweep.score import pbo_cscv

    rng = np.random.default_rng(3)
    n, blocks = 300, 4
    sample = {"shift": rng.normal(0, 1e-5, n)}  # the block sums, not the shift, rank them
    for k, scale in ((1, 0.5), (2, 0.01)):
        for b in range(blocks):
            sample[f"block_sum{k}_{b}"] = rng.normal(0, scale, n) * (k == 1) + (k == 2) * 0.02
    counts = np.full(blocks, 60)
    got = E._bootstrap_pbo(sample, blocks, counts, 0.0, seed=7, stop=lambda: False)
    draw, values = np.random.default_rng(7), []
    s1 = np.array([[sample[f"block_sum1_{b}"][i] for b in range(blocks)] for i in range(n)])
    s2 = np.array([[sample[f"block_sum2_{b}"][i] for b in range(blocks)] for i in range(n)])
    for _ in range(E.PBO_RESAMPLES):
        i = draw.integers(0, n, n)
        values.append(pbo_cscv(sample["shift"][i], s1[i], s2[i], counts, 0.0).pbo)
    assert got == pytest.approx(float(np.std(values, ddof=1)), abs=1e-15)
    assert got > 0

"""The target score is risk-normalised (CONVENTIONS, sweep scoring): leverage cannot win it.

In a frictionless grid rebalanced daily, a strategy's daily returns are proportional to its
exposure k, so doubling every exposure doubles every curve's returns: the curves scaled to the
target volatility are the same, and so must be every score and the whole ranking. The raw
figures are not invariant (the returns double): scored on them, as the original study did, the
ranking changes, which is what the test guards against.
"""

from __future__ import annotations

import numpy as np

from hedgedesk.core.sweep.engine import SweepRequest, run_sweep
from hedgedesk.core.sweep.grid import Grid, Leg, estimators
from hedgedesk.core.sweep.score import target_score
from tests.core.sweep.test_engine import drain, make_market


def grid(exposures: tuple[float, ...]) -> Grid:
    return Grid(
        legs=(Leg("A", ("A",)), Leg("B", ("B",))),
        hedge="H",
        rebalance=(1,),
        window=(20, 40, 60),
        estimator=estimators(("ols", "ewma"), (10.0,)),
        exposure=exposures,
        hedge_ratio=(0.0, 0.25, 0.5, 0.75, 1.0),
    )


def board(exposures: tuple[float, ...]):
    g = grid(exposures)
    request = SweepRequest(g, top=2 * g.n_strategies, walk_forward=0.6)
    result = drain(run_sweep(request, make_market()))[2]
    assert result.status == "done"
    return result.summary


def key(row, exposures):
    """A strategy with its exposure as a level index, so both grids name it alike."""
    return (
        row.ticker,
        row.window,
        row.estimator_label,
        row.hedge_ratio,
        exposures.index(row.exposure),
    )


def ranking(rows, exposures, score=lambda r: r.score):
    """Strategies best first; scores equal to 1e-9 are ties, broken by the strategy. Within one
    grid the exposures of a strategy score alike too (its returns scale with k), to rounding.
    """
    return [
        key(r, exposures)
        for r in sorted(rows, key=lambda r: (-round(score(r), 9), key(r, exposures)))
    ]


def test_doubling_every_exposure_leaves_the_ranking_unchanged():
    small, big = (0.25, 0.5, 1.0), (0.5, 1.0, 2.0)
    a, b = board(small), board(big)
    assert len(a.top) == len(b.top) == 2 * grid(small).n_strategies - 2 * 3 * 3  # h = 0: 1 est
    assert ranking(a.top, small) == ranking(b.top, big)
    by_key = {key(r, big): r for r in b.top}
    for ra in a.top:
        rb = by_key[key(ra, small)]
        np.testing.assert_allclose(rb.score, ra.score, rtol=0, atol=1e-12)
        np.testing.assert_allclose(rb.sharpe, ra.sharpe, rtol=1e-12)
        np.testing.assert_allclose(rb.scaled_annual_return, ra.scaled_annual_return, atol=1e-12)
        np.testing.assert_allclose(rb.scaled_max_drawdown, ra.scaled_max_drawdown, atol=1e-12)
        np.testing.assert_allclose(rb.scaled_consistency, ra.scaled_consistency, atol=1e-12)
    # the walk-forward ranks on the in-sample score: unchanged too
    wf = [
        ranking(s.walk_forward.top, e, lambda r: r.in_sample.score)
        for s, e in ((a, small), (b, big))
    ]
    assert wf[0][:10] == wf[1][:10]
    # the raw figures do change: scored on them, the ranking would not survive the doubling
    raw = {}
    for name, s in (("a", a), ("b", b)):
        rows = sorted(s.top, key=lambda r, e=small if name == "a" else big: key(r, e))
        raw[name] = target_score(
            np.array([r.sharpe for r in rows]),
            np.array([r.annual_return for r in rows]),
            np.array([r.max_drawdown for r in rows]),
            np.array([r.consistency for r in rows]),
        )[0]
    assert not np.array_equal(np.argsort(-raw["a"]), np.argsort(-raw["b"]))


def test_the_leaderboard_never_repeats_a_strategy():
    s = board((0.5, 1.0))
    seen = set()
    for r in s.top:
        figures = (r.ticker, r.score, r.sharpe, r.annual_return, r.max_drawdown, r.n)
        assert figures not in seen, r
        seen.add(figures)
    # hedge ratio 0 makes the estimator irrelevant: one row per (ticker, window, exposure)
    unhedged = [r for r in s.top if r.hedge_ratio == 0.0]
    assert len(unhedged) == len({(r.ticker, r.window, r.exposure) for r in unhedged}) == 2 * 3 * 2
    assert s.counts.trials == 2 * (3 * 2 * 4 * 2 + 3 * 2)

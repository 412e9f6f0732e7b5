"""A sweep's configurations reduced as they stream out of the kernel, in bounded memory.

A grid of 1e8 configurations cannot be held on the host (the kernel's outputs alone are 40
numbers a configuration), so each leg's chunks are folded into a :class:`LegStream` the moment
they are computed and then dropped. It keeps:

- the top K strategies by score and by in-sample score, every kernel figure of each;
- the configurations' status counts and, per cost scenario, their mean figures and best score;
- per grid axis and for the rebalance x window heat map, the count, mean and best score of the
  ranking scenario's strategies;
- the streaming moments of the trials' per-period Sharpe ratios (the deflated Sharpe's V);
- a uniform sample of the ranking scenario's strategies (every one while there are at most
  :data:`PBO_SAMPLE`), with their CSCV block sums and in-sample scores: PBO and the
  walk-forward's rank correlation are computed on it.

Identical strategies are collapsed here: a configuration counts only when it is the first of
its strategy (:func:`canonical`). Every reduction is independent of how the rows were cut into
chunks: sums are accumulated row by row in row order, maxima and the top K (ties to the lower
row) do not depend on order, and the sample is chosen by a hash of the row. So a run resumed
after a kill ends bit for bit like one that was never interrupted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import numba
import numpy as np

from hedgedesk.core.sweep import kernel as K
from hedgedesk.core.sweep.grid import AXES, Grid
from hedgedesk.core.sweep.score import ScoreTargets, target_score

if TYPE_CHECKING:
    from hedgedesk.core.sweep.request import SweepRequest

CHUNK_MAX = 1 << 18  # configurations in one chunk: bounds the host's working set
PBO_SAMPLE = 100_000  # strategies per leg kept for PBO and the walk-forward; above, a sample
STRATEGY_AXES = AXES[:6]  # the axes a strategy is made of (cost and impact are scenarios)
N_STATUS = 3  # ok, ruined, undefined beta
# per scenario: configurations, ok, Sharpe at target, then (sum, count) of Sharpe, annual return
# and max drawdown over the ok ones
_SCEN_INT, _SCEN_SUM = 3, 3
SAMPLE_FIGURES = ("status", "shift", "sharpe", "is_score")


# -- which configurations count -------------------------------------------------------------
def canonical(grid: Grid, rows: np.ndarray) -> np.ndarray:
    """Whether each row is the first (lowest) row of its strategy, so that identical strategies
    count once.

    With hedge ratio 0 the target ``h x beta`` is 0 whatever beta is, so the estimator drops
    out (every estimator is undefined on the same windows), and a drift band d > 0 never trades
    again after the first rebalance, whatever d: the first row of such a group has the first
    estimator and, among d > 0, the first positive band of the grid.

    Parameters
    ----------
    grid : Grid
        The sweep's grid.
    rows : ndarray of int
        Rows of one leg's grid.

    Returns
    -------
    ndarray of bool, shape of ``rows``
    """
    rows = np.asarray(rows, np.int64)
    strides = np.cumprod((1, *grid.shape[::-1]))[::-1][1:]  # rows per step of each axis

    def level(axis: str) -> np.ndarray:
        a = AXES.index(axis)
        return rows // strides[a] % grid.shape[a]

    ratios = np.asarray(grid.hedge_ratio)
    bands = np.asarray(grid.drift_band)
    positive = np.flatnonzero(bands > 0)
    band_first = (bands == 0.0) | (np.arange(len(bands)) == (positive[0] if positive.size else -1))
    return (ratios[level("hedge_ratio")] != 0.0) | (
        (level("estimator") == 0) & band_first[level("drift_band")]
    )


def distinct_strategies(grid: Grid) -> int:
    """Strategies per leg once identical ones are collapsed (:func:`canonical`)."""
    shape = dict(zip(AXES, grid.shape, strict=True))
    rest = shape["rebalance"] * shape["window"] * shape["exposure"]
    zero = 0.0 in grid.hedge_ratio
    hedged = rest * shape["estimator"] * (shape["hedge_ratio"] - zero) * shape["drift_band"]
    bands = (0.0 in grid.drift_band) + any(d > 0 for d in grid.drift_band)
    return hedged + (rest * bands if zero else 0)


def sample_rate(grid: Grid) -> float:
    """Share of a leg's strategies kept in its sample: 1 (every one: PBO exact) up to
    :data:`PBO_SAMPLE` distinct strategies, else PBO_SAMPLE / their number.
    """
    return min(1.0, PBO_SAMPLE / max(distinct_strategies(grid), 1))


def in_sample(rows: np.ndarray, leg: int, rate: float) -> np.ndarray:
    """Whether each row is in the leg's sample: a SplitMix64 hash of (leg, row) below ``rate``
    (uniform, fixed for a row whatever the chunking).
    """
    if rate >= 1.0:
        return np.ones(len(rows), bool)
    with np.errstate(over="ignore"):  # the hash wraps around 2^64 on purpose
        x = np.asarray(rows, np.uint64) + np.uint64(leg + 1) * np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) * 2.0**-53 < rate


# -- the scores ---------------------------------------------------------------------------------
def scores(arrays: dict[str, np.ndarray], targets: ScoreTargets, prefix: str = "") -> np.ndarray:
    """Target score of each configuration (CONVENTIONS, sweep scoring): Sharpe as computed, the
    return, drawdown and consistency terms on the curve scaled to ``targets.volatility``
    (the kernel's ``scaled_*`` figures). ``prefix="is_"``: the in-sample score.
    """
    return target_score(
        arrays[prefix + "sharpe"],
        arrays[prefix + "scaled_annual_return"],
        arrays[prefix + "scaled_max_drawdown"],
        arrays[prefix + "scaled_consistency"],
        targets,
    )[0]


def named(out: np.ndarray, n_blocks: int) -> dict[str, np.ndarray]:
    """The kernel's output matrix (n_out rows x configurations) as arrays by figure name (views)."""
    arrays = {name: out[i] for i, name in enumerate(K.METRICS)}
    for b in range(n_blocks):
        arrays[f"block_sum1_{b}"] = out[K.BLOCK_SUM1 + b]
        arrays[f"block_sum2_{b}"] = out[K.BLOCK_SUM1 + n_blocks + b]
    return arrays


# -- the row-by-row reductions ------------------------------------------------------------------
@numba.njit(cache=True, nogil=True)
def _reduce(
    rows,
    shape,
    status,
    score,
    sharpe,
    annual_return,
    max_drawdown,
    canon,
    rank,
    target_sharpe,
    root,
    scen_int,
    scen_sum,
    scen_n,
    scen_best,
    axis_count,
    axis_sum,
    axis_best,
    heat_count,
    heat_sum,
    heat_best,
    status_count,
    moments,
):
    """Fold one chunk of contiguous ``rows`` into the accumulators, row by row in row order
    (so sums do not depend on the chunking). ``moments``: [n, shift, sum(x - shift),
    sum((x - shift)^2)] of the ranking scenario's ok per-period Sharpe ratios.
    """
    n_axes = len(shape)
    idx = np.empty(n_axes, np.int64)
    n_window = shape[1]
    r = rows[0] if len(rows) else 0
    for a in range(n_axes - 1, -1, -1):  # the first row's levels; then an odometer (contiguous)
        idx[a] = r % shape[a]
        r //= shape[a]
    for j in range(len(rows)):
        if j > 0:
            a = n_axes - 1
            idx[a] += 1
            while idx[a] == shape[a] and a > 0:
                idx[a] = 0
                a -= 1
                idx[a] += 1
        st = int(status[j])
        status_count[st] += 1
        if not canon[j]:
            continue
        s = idx[n_axes - 2] * shape[n_axes - 1] + idx[n_axes - 1]
        scen_int[s, 0] += 1
        if st != 0:
            continue
        sc = score[j]
        scen_int[s, 1] += 1
        if sharpe[j] >= target_sharpe:
            scen_int[s, 2] += 1
        for m, v in enumerate((sharpe[j], annual_return[j], max_drawdown[j])):
            if v == v:
                scen_sum[s, m] += v
                scen_n[s, m] += 1
        if sc > scen_best[s]:
            scen_best[s] = sc
        if s != rank:
            continue
        for a in range(n_axes - 2):
            lv = idx[a]
            axis_count[a, lv] += 1
            axis_sum[a, lv] += sc
            if sc > axis_best[a, lv]:
                axis_best[a, lv] = sc
        cell = idx[0] * n_window + idx[1]
        heat_count[cell] += 1
        heat_sum[cell] += sc
        if sc > heat_best[cell]:
            heat_best[cell] = sc
        x = sharpe[j] / root
        if x == x:
            if moments[0] == 0.0:
                moments[1] = x
            d = x - moments[1]
            moments[0] += 1.0
            moments[2] += d
            moments[3] += d * d


class Moments(NamedTuple):
    """Count, mean and sum of squared deviations of some numbers (Chan et al. merge)."""

    n: float
    mean: float
    m2: float

    @classmethod
    def of(cls, acc: np.ndarray) -> Moments:
        """From the accumulator ``[n, shift, sum(x - shift), sum((x - shift)^2)]``."""
        n, shift, s1, s2 = (float(v) for v in acc)
        if n == 0:
            return cls(0.0, math.nan, 0.0)
        return cls(n, shift + s1 / n, max(s2 - s1 * s1 / n, 0.0))

    def merge(self, other: Moments) -> Moments:
        """The moments of both sets together."""
        if other.n == 0:
            return self
        if self.n == 0:
            return other
        n = self.n + other.n
        d = other.mean - self.mean
        return Moments(
            n, self.mean + d * other.n / n, self.m2 + other.m2 + d * d * self.n * other.n / n
        )

    @property
    def variance(self) -> float:
        """Sample variance (ddof = 1); NaN below two numbers."""
        return self.m2 / (self.n - 1) if self.n > 1 else math.nan


# -- one leg ------------------------------------------------------------------------------------
class Leaders(NamedTuple):
    """Up to K rows of a leg, best first (score descending, the lower row first on ties), with
    every figure of each (``figures[name][i]`` belongs to ``rows[i]``).
    """

    rows: np.ndarray
    score: np.ndarray
    figures: dict[str, np.ndarray]

    @classmethod
    def empty(cls, names: tuple[str, ...]) -> Leaders:
        """No rows yet."""
        return cls(np.empty(0, np.int64), np.empty(0), {n: np.empty(0) for n in names})

    def merge(
        self, pick: np.ndarray, rows: np.ndarray, score: np.ndarray, arrays: dict, keep: int
    ) -> Leaders:
        """The best ``keep`` of these leaders and the candidates ``pick`` (indices into the
        chunk's ``rows``, ``score`` and ``arrays``). A candidate whose every figure equals a
        better-ranked one's is the same strategy in effect (with hedge ratio 0 and a drift
        band, for one, the rebalance period only sets when beta is checked): only the first
        is kept.
        """
        want = 8 * keep  # room for identical strategies, gathered only past the bar
        mine = score[pick]
        while True:
            if len(pick) > want:  # only those that can enter (ties at the bar included)
                bar = np.partition(mine, len(pick) - want)[len(pick) - want]
                take = pick[mine >= bar]
            else:
                bar, take = -np.inf, pick
            merged = self._merged(
                rows[take], score[take], {n: arrays[n][take] for n in self.figures}
            )._head(keep)
            # a candidate left out scores below the bar: it cannot enter once the K-th does not
            if len(take) == len(pick) or (len(merged.rows) == keep and merged.score[-1] >= bar):
                return merged
            want *= 4  # identical strategies took places: admit more candidates

    def _merged(self, rows: np.ndarray, score: np.ndarray, arrays: dict) -> Leaders:
        """These leaders and the candidates, ranked, identical strategies dropped."""
        all_rows = np.concatenate([self.rows, rows])
        all_score = np.concatenate([self.score, score])
        figures = {
            n: np.concatenate([self.figures[n], np.asarray(arrays[n], np.float64)])
            for n in self.figures
        }
        order = np.lexsort((all_rows, -all_score))
        matrix = np.stack([figures[n][order] for n in self.figures], axis=1)
        score = all_score[order]
        # identical to the one ranked just above it (ties are adjacent): the same strategy
        same = (score[1:] == score[:-1]) & (
            (matrix[1:] == matrix[:-1]) | (np.isnan(matrix[1:]) & np.isnan(matrix[:-1]))
        ).all(axis=1)
        kept = np.r_[True, ~same] if len(order) else np.zeros(0, bool)
        pick = order[kept]
        return Leaders(all_rows[pick], all_score[pick], {n: v[pick] for n, v in figures.items()})

    def _head(self, keep: int) -> Leaders:
        return Leaders(
            self.rows[:keep], self.score[:keep], {n: v[:keep] for n, v in self.figures.items()}
        )


class LegStream:
    """Everything a leg's summary needs, folded chunk by chunk in bounded memory.

    Parameters
    ----------
    grid : Grid
        The sweep's grid.
    leg : int
        The leg's index in the grid (it seeds the sample).
    n_blocks : int
        CSCV blocks.
    targets : ScoreTargets
        The score's targets (``sharpe`` is the bar of ``share_sharpe_at_target``).
    rank : int
        The ranking scenario (index of cost x impact).
    top : int
        Leaders kept, by score and by in-sample score.
    periods : int
        Periods per year (Sharpe ratios are reduced per period for the DSR).
    """

    def __init__(
        self,
        grid: Grid,
        leg: int,
        n_blocks: int,
        targets: ScoreTargets,
        rank: int,
        top: int,
        periods: int,
    ):
        self.grid, self.leg, self.n_blocks, self.targets = grid, leg, n_blocks, targets
        self.rank, self.top, self.periods = rank, top, periods
        self.rate = sample_rate(grid)
        self.figure_names = (
            *K.METRICS,
            *(f"block_sum{k}_{b}" for k in (1, 2) for b in range(n_blocks)),
            "score",
            "is_score",
        )
        n_scen = grid.n_scenarios
        levels = max(grid.shape[:6])
        n_axes = len(STRATEGY_AXES)
        cells = len(grid.rebalance) * len(grid.window)
        self.acc: dict[str, np.ndarray] = {
            "done": np.zeros(1, np.int64),
            "scen_int": np.zeros((n_scen, _SCEN_INT), np.int64),
            "scen_sum": np.zeros((n_scen, _SCEN_SUM)),
            "scen_n": np.zeros((n_scen, _SCEN_SUM), np.int64),
            "scen_best": np.full(n_scen, -np.inf),
            "axis_count": np.zeros((n_axes, levels), np.int64),
            "axis_sum": np.zeros((n_axes, levels)),
            "axis_best": np.full((n_axes, levels), -np.inf),
            "heat_count": np.zeros(cells, np.int64),
            "heat_sum": np.zeros(cells),
            "heat_best": np.full(cells, -np.inf),
            "status_count": np.zeros(N_STATUS, np.int64),
            "moments": np.zeros(4),
        }
        self.leaders = Leaders.empty(self.figure_names)
        self.is_leaders = Leaders.empty(self.figure_names)
        self.samples: list[dict[str, np.ndarray]] = []

    @property
    def done(self) -> int:
        """Rows folded in so far (rows [0, done) of the leg)."""
        return int(self.acc["done"][0])

    def add(self, row0: int, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Fold the chunk of rows [row0, row0 + n) in (``arrays``: the kernel's figures by name
        plus ``score`` and ``is_score``); returns its rows in the sample (what the ledger keeps
        of the chunk: ``row`` and :data:`SAMPLE_FIGURES` and the block sums).
        """
        if row0 != self.done:
            raise ValueError(f"leg {self.leg}: chunk at row {row0}, expected {self.done}")
        n = len(arrays["status"])
        rows = np.arange(row0, row0 + n, dtype=np.int64)
        canon = canonical(self.grid, rows)
        a = self.acc
        _reduce(
            rows,
            np.asarray(self.grid.shape, np.int64),
            arrays["status"],
            arrays["score"],
            arrays["sharpe"],
            arrays["annual_return"],
            arrays["max_drawdown"],
            canon,
            self.rank,
            self.targets.sharpe,
            math.sqrt(self.periods),
            a["scen_int"],
            a["scen_sum"],
            a["scen_n"],
            a["scen_best"],
            a["axis_count"],
            a["axis_sum"],
            a["axis_best"],
            a["heat_count"],
            a["heat_sum"],
            a["heat_best"],
            a["status_count"],
            a["moments"],
        )
        a["done"][0] += n
        mine = canon & (rows % self.grid.n_scenarios == self.rank)
        ok = mine & (arrays["status"] == K.OK)
        for attr, key in (("leaders", "score"), ("is_leaders", "is_score")):
            take = ok & np.isfinite(arrays[key]) if key == "is_score" else ok
            current = getattr(self, attr)
            setattr(
                self, attr, current.merge(np.flatnonzero(take), rows, arrays[key], arrays, self.top)
            )
        pick = np.flatnonzero(mine & in_sample(rows, self.leg, self.rate))
        sample = {"row": rows[pick]}
        for name in (*SAMPLE_FIGURES, *self._block_names()):
            sample[name] = np.array(arrays[name][pick], np.float64)
        self.samples.append(sample)
        return sample

    def _block_names(self) -> tuple[str, ...]:
        return tuple(f"block_sum{k}_{b}" for k in (1, 2) for b in range(self.n_blocks))

    # -- what the summary reads ------------------------------------------------------------
    def sample(self) -> dict[str, np.ndarray]:
        """The leg's sample so far, in row order (arrays by name, ``row`` included)."""
        names = ("row", *SAMPLE_FIGURES, *self._block_names())
        if not self.samples:
            return {n: np.empty(0, np.int64 if n == "row" else np.float64) for n in names}
        return {n: np.concatenate([s[n] for s in self.samples]) for n in names}

    def moments(self) -> Moments:
        """Moments of the per-period Sharpe ratios of the leg's distinct ok strategies."""
        return Moments.of(self.acc["moments"])

    def trials(self) -> int:
        """Distinct strategies computed under the ranking scenario (every status)."""
        return int(self.acc["scen_int"][self.rank, 0])

    # -- durable state ---------------------------------------------------------------------
    def state(self) -> dict[str, np.ndarray]:
        """The accumulators and leaders as arrays (the sample is kept chunk by chunk)."""
        out = {f"acc_{k}": v for k, v in self.acc.items()}
        for attr in ("leaders", "is_leaders"):  # one matrix each: fewer arrays to write
            lead = getattr(self, attr)
            out[f"{attr}_rows"] = lead.rows
            out[f"{attr}_score"] = lead.score
            out[f"{attr}_figures"] = np.stack([lead.figures[n] for n in self.figure_names])
        return out

    def restore(self, state: dict[str, np.ndarray], samples: list[dict[str, np.ndarray]]) -> None:
        """Continue from a :meth:`state` and the samples of the chunks it folded."""
        for k in self.acc:
            self.acc[k] = np.array(state[f"acc_{k}"])
        for attr in ("leaders", "is_leaders"):
            setattr(
                self,
                attr,
                Leaders(
                    np.array(state[f"{attr}_rows"]),
                    np.array(state[f"{attr}_score"]),
                    dict(zip(self.figure_names, np.array(state[f"{attr}_figures"]), strict=True)),
                ),
            )
        self.samples = list(samples)


# -- what a run needs ---------------------------------------------------------------------------
class Footprint(NamedTuple):
    """A run's host memory at its peak and what it writes to disk, in bytes (estimates)."""

    peak_memory_bytes: int
    ledger_bytes: int
    keep_bytes: int | None  # the per-configuration table of ``keep = all``; None otherwise


BASE_MEMORY = 400 * 2**20  # the process with numpy, pandas, numba and the kernel loaded
# --keep all: float32 figures, the row and the parameters in Parquet (117 B measured on the
# original study's 14,400 configurations, the parts' overhead included)
KEEP_BYTES_PER_CONFIG = 120
CHUNK_RECORD_BYTES = 256  # a chunk's row in the ledger besides its sample


def footprint(grid: Grid, request: SweepRequest, n_days: Sequence[int]) -> Footprint:
    """Estimated peak host memory, ledger and per-configuration table sizes of a run.

    Parameters
    ----------
    grid : Grid
        The sweep's grid.
    request : SweepRequest
        The run (its CSCV blocks, and ``keep``: ``all`` writes every configuration's figures).
    n_days : sequence of int
        Each leg's daily returns.

    Returns
    -------
    Footprint
        Bytes.
    """
    blocks = request.blocks
    n_out = K.n_out(blocks)
    chunk = min(CHUNK_MAX, grid.rows_per_leg)
    # the chunk's outputs, their named copies, scores and masks, and the kernel's scratch
    working = chunk * 8 * (2 * n_out + 24)
    sample = min(PBO_SAMPLE, distinct_strategies(grid)) + 1
    per_sample = 8 * (1 + len(SAMPLE_FIGURES) + 2 * blocks)
    samples = len(grid.legs) * sample * per_sample
    # PBO works on the sample in slices of bounded size; the walk-forward re-runs it
    pbo = 3 * 8 * 4_000_000 + sample * 8 * (n_out + 8)
    axes = 8 * 4 * (sum(grid.shape[:6]) + len(grid.rebalance) * len(grid.window))
    memory = BASE_MEMORY + working + samples + pbo + len(grid.legs) * axes + max(n_days) * 8 * 64
    chunks = len(grid.legs) * (grid.rows_per_leg // chunk + 1)
    ledger = samples + chunks * CHUNK_RECORD_BYTES + len(grid.legs) * axes
    keep_bytes = grid.n_rows * KEEP_BYTES_PER_CONFIG if request.keep == "all" else None
    return Footprint(int(memory), int(ledger), keep_bytes)

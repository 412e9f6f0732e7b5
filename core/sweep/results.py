"""A sweep's results as typed, frozen values: what crosses from the engine to the ledger, the
command line, the reports and the screens.

:class:`SweepSummary` is a run's summary: its legs (each with its best strategy and PBO), the
leaderboard (:class:`StrategyRow`), the counts, the ranking scenario, the overfitting figures and
the walk-forward (:class:`WalkForward`), and what a run streams instead of keeping every
configuration's figures: each leg's marginals (:class:`AxisMarginal`) and heat map
(:class:`HeatMap`), and each cost scenario's statistics (:class:`ScenarioStats`). Each class's
``to_json()`` gives the JSON-ready dict the ledger stores and ``hedgedesk sweep --json`` prints
(dates as :class:`datetime.date`, NaN as NaN: :func:`hedgedesk.core.jsonable.jsonable` writes them
as ISO strings and null), key for key as earlier versions wrote it; ``from_json(d)`` reads such a
dict back (a null where a number is expected reads as NaN). Keys added since a summary was first
recorded are left out while they hold their defaults, so that a summary recorded before them writes
back key for key.

Units, as everywhere in the sweep (CONVENTIONS): returns, drawdowns, costs and volatilities are
fractions (0.01 = 1 %), annualised where named so; Sharpe ratios are annualised with the leg's
periods per year; drawdowns are negative; equity starts at 1.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from hedgedesk.core.errors import HedgedeskError
from hedgedesk.core.sweep.grid import AXES, Grid
from hedgedesk.core.sweep.ledger import RunStatus
from hedgedesk.core.sweep.score import ScoreTargets

# how the leaderboard is ranked (the summary's ranking.by)
RANKED_BY = "target score in-sample (full period) under the costliest scenario"
# what a cancelled run's summary leaves out (the summary's overfitting.deferred)
DEFERRED = (
    "cancelled: the deflated Sharpe ratios, PBO and the walk-forward are computed when the run "
    "finishes (resume it)"
)


# how a leg's PBO was computed (Pbo.method)
PBO_METHODS = ("exact", "sampled")
# the axes a marginal is kept for: every one but the cost scenarios'
MARGINAL_AXES = tuple(a for a in AXES if a not in ("cost", "impact"))


class ConfigStatus(StrEnum):
    """How one configuration's backtest ended (the kernel's status codes, by name)."""

    OK = "ok"
    RUINED = "ruined"  # the equity fell to zero or below
    UNDEFINED_BETA = "undefined beta"  # beta undefined on a rebalance day (a flat hedge window)


class Verdict(StrEnum):
    """What the walk-forward's rank correlation says of the in-sample ranking."""

    PERSISTS = "rankings persist"
    DOES_NOT_PERSIST = "rankings do not persist"
    UNDEFINED = "undefined: too few strategies"


def _num(v: Any) -> float:
    """A float field read from JSON: null (NaN or infinity when written) reads as NaN."""
    return math.nan if v is None else float(v)


def _opt_num(v: Any) -> float | None:
    return None if v is None else float(v)


def _day(v: Any) -> dt.date:
    return v if isinstance(v, dt.date) else dt.date.fromisoformat(v)


def _opt_day(v: Any) -> dt.date | None:
    return None if v is None else _day(v)


def _opt_figure(v: float | None) -> float | None:
    """An optional figure as stored: NaN (no figure) as None, so that JSON round-trips."""
    return None if v is None or math.isnan(v) else float(v)


def _opt_nums(values: Any) -> tuple[float | None, ...]:
    return tuple(_opt_figure(_opt_num(v)) for v in values)


def _ints(values: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in values)


def _is_default(value: Any, default: Any) -> bool:
    if isinstance(value, float) and isinstance(default, float):
        return value == default or (math.isnan(value) and math.isnan(default))
    return bool(value == default)


def _added(obj: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """The fields ``names`` of ``obj`` (added to the summary together), or none of them when all
    hold their defaults: a summary recorded before them writes back key for key.
    """
    defaults = {f.name: f.default for f in dataclasses.fields(obj)}
    values = {name: getattr(obj, name) for name in names}
    if all(_is_default(values[name], defaults[name]) for name in names):
        return {}
    return values


def _set(obj: Any, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)


@dataclass(frozen=True)
class Strategy:
    """One strategy of a long leg under one cost scenario: its parameters.

    Attributes
    ----------
    ticker : str
        The long leg (a ticker, or a basket's name).
    rebalance : int
        Rebalance period, trading days.
    window : int
        Beta window, daily returns.
    estimator : str
        ``ols`` or ``ewma``.
    halflife : float or None
        EWMA half-life in days; None for OLS.
    exposure : float
        Exposure k of the long leg, a multiple of the capital (1 = fully invested).
    hedge_ratio : float
        Hedge ratio h, a fraction of the estimated beta (1 = beta-neutral).
    drift_band : float
        Drift band d: the hedge is rebalanced only when its beta drifted by more than this.
    cost : float
        Transaction cost, a fraction of traded notional (0.001 = 10 bp).
    impact : float
        Market-impact coefficient (eta of the square-root law); 0 for none.
    """

    ticker: str
    rebalance: int
    window: int
    estimator: str
    halflife: float | None
    exposure: float
    hedge_ratio: float
    drift_band: float
    cost: float
    impact: float

    @property
    def estimator_label(self) -> str:
        """``ols``, or ``ewma`` and its half-life (``ewma10``)."""
        return "ols" if self.estimator == "ols" else f"ewma{self.halflife:g}"

    def params_json(self) -> dict[str, Any]:
        """The parameters (rebalance to impact) as the summary's JSON writes them."""
        return {
            "rebalance": self.rebalance,
            "window": self.window,
            "estimator": self.estimator,
            "halflife": self.halflife,
            "exposure": self.exposure,
            "hedge_ratio": self.hedge_ratio,
            "drift_band": self.drift_band,
            "cost": self.cost,
            "impact": self.impact,
        }

    @staticmethod
    def _params(d: Mapping[str, Any]) -> dict[str, Any]:
        """Constructor arguments of the parameters in a JSON dict (ticker included)."""
        return {
            "ticker": d["ticker"],
            "rebalance": int(d["rebalance"]),
            "window": int(d["window"]),
            "estimator": d["estimator"],
            "halflife": _opt_num(d["halflife"]),
            "exposure": float(d["exposure"]),
            "hedge_ratio": float(d["hedge_ratio"]),
            "drift_band": float(d["drift_band"]),
            "cost": float(d["cost"]),
            "impact": float(d.get("impact", 0.0)),  # runs recorded before market impact
        }


@dataclass(frozen=True)
class Figures:
    """The four figures a strategy is scored on.

    Attributes
    ----------
    score : float
        Target score in [0, 1] (:func:`hedgedesk.core.sweep.score.target_score`).
    sharpe : float
        Annualised Sharpe ratio over the run's risk-free rate.
    annual_return : float
        Annualised return, a fraction.
    max_drawdown : float
        Maximum drawdown of the daily equity curve, a negative fraction.
    """

    score: float
    sharpe: float
    annual_return: float
    max_drawdown: float

    def to_json(self) -> dict[str, Any]:
        """The figures as the summary's JSON writes them."""
        return {
            "score": self.score,
            "sharpe": self.sharpe,
            "annual_return": self.annual_return,
            "max_drawdown": self.max_drawdown,
        }

    @staticmethod
    def _args(d: Mapping[str, Any]) -> dict[str, Any]:
        return {k: _num(d[k]) for k in ("score", "sharpe", "annual_return", "max_drawdown")}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Figures:
        """Read :meth:`to_json`'s dict back."""
        return cls(**cls._args(d))


@dataclass(frozen=True)
class ScenarioFigures(Figures):
    """A strategy's figures under one cost scenario (``cost``, ``impact`` as in
    :class:`Strategy`).
    """

    cost: float
    impact: float

    def to_json(self) -> dict[str, Any]:
        """The scenario and its figures as the summary's JSON writes them."""
        return {"cost": self.cost, "impact": self.impact, **super().to_json()}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ScenarioFigures:
        """Read :meth:`to_json`'s dict back."""
        return cls(**cls._args(d), cost=float(d["cost"]), impact=float(d.get("impact", 0.0)))


@dataclass(frozen=True)
class OosFigures(Figures):
    """A strategy's figures out of sample: re-run flat from the walk-forward's split day to the
    end (``status``: how that run ended).
    """

    status: ConfigStatus

    def to_json(self) -> dict[str, Any]:
        """The figures and status as the summary's JSON writes them."""
        return {**super().to_json(), "status": self.status}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> OosFigures:
        """Read :meth:`to_json`'s dict back."""
        return cls(**cls._args(d), status=ConfigStatus(d["status"]))


@dataclass(frozen=True)
class RankedOosFigures(OosFigures):
    """Out-of-sample figures with ``percentile``: the share of every leg's strategies whose
    out-of-sample score is at most this one's (a fraction in [0, 1]).
    """

    percentile: float

    def to_json(self) -> dict[str, Any]:
        """The figures, status and percentile as the summary's JSON writes them."""
        return {**super().to_json(), "percentile": self.percentile}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> RankedOosFigures:
        """Read :meth:`to_json`'s dict back."""
        return cls(
            **cls._args(d), status=ConfigStatus(d["status"]), percentile=_num(d["percentile"])
        )


@dataclass(frozen=True)
class BestSoFar(Strategy):
    """One of the best strategies found so far in a running sweep (ranking scenario,
    in-sample score over the full period): what each
    :class:`hedgedesk.core.sweep.engine.Progress` carries. ``score``, ``sharpe``,
    ``annual_return`` and ``max_drawdown`` as in :class:`Figures`.
    """

    score: float
    sharpe: float
    annual_return: float
    max_drawdown: float


@dataclass(frozen=True)
class Deflated:
    """A leader's Sharpe ratio deflated for the number of trials (Bailey & López de Prado),
    its moments and its stability through time: computed once a run finishes (a cancelled
    run's leaders have none).

    Attributes
    ----------
    dsr : float
        Deflated Sharpe ratio over the leg's own trials: a probability in [0, 1].
    sr0_annual : float
        The Sharpe ratio the leg's best trial would reach by luck alone, annualised.
    dsr_all_legs : float
        Deflated Sharpe ratio over every leg's trials.
    sr0_all_legs_annual : float
        The same luck threshold over every leg's trials, annualised.
    skew : float
        Skewness of the strategy's daily returns.
    kurtosis : float
        Kurtosis (not excess: 3 for a normal law) of its daily returns.
    sharpe_by_block : tuple of float, shape (n_blocks,)
        Annualised Sharpe ratio in each CSCV block of days, in time order.
    """

    dsr: float
    sr0_annual: float
    dsr_all_legs: float
    sr0_all_legs_annual: float
    skew: float
    kurtosis: float
    sharpe_by_block: tuple[float, ...]

    def to_json(self) -> dict[str, Any]:
        """The figures as the summary's JSON writes them (flat, inside the row)."""
        return {
            "dsr": self.dsr,
            "sr0_annual": self.sr0_annual,
            "dsr_all_legs": self.dsr_all_legs,
            "sr0_all_legs_annual": self.sr0_all_legs_annual,
            "skew": self.skew,
            "kurtosis": self.kurtosis,
            "sharpe_by_block": list(self.sharpe_by_block),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Deflated:
        """Read the row's deflated figures back."""
        return cls(
            dsr=_num(d["dsr"]),
            sr0_annual=_num(d["sr0_annual"]),
            dsr_all_legs=_num(d["dsr_all_legs"]),
            sr0_all_legs_annual=_num(d["sr0_all_legs_annual"]),
            skew=_num(d["skew"]),
            kurtosis=_num(d["kurtosis"]),
            sharpe_by_block=tuple(_num(v) for v in d.get("sharpe_by_block", ())),
        )


# the score's terms on the curve scaled to the target volatility (CONVENTIONS "Sweep scoring"):
# a row written before the risk-normalised score has none (NaN; left out of its JSON)
SCALED_FIGURES = ("scaled_annual_return", "scaled_max_drawdown", "scaled_consistency")
# a leaderboard row's figures over the whole period, in the JSON's order
ROW_FIGURES = (
    "score",
    "sharpe",
    "annual_return",
    "annual_volatility",
    "sortino",
    "max_drawdown",
    "calmar",
    "turnover",
    "hedge_effectiveness",
    "residual_beta",
    "consistency",
    "final_equity",
    *SCALED_FIGURES,
)


@dataclass(frozen=True)
class StrategyRow(Strategy):
    """One leaderboard row: a configuration (a strategy under the ranking scenario), its
    figures over the whole period, and, where known, its deflated Sharpe ratio, its figures
    under every cost scenario and out of sample.

    Attributes
    ----------
    hedge : str
        The hedge instrument.
    row : int
        The configuration's row in its leg's grid (:meth:`Grid.decode`).
    status : ConfigStatus
        How its backtest ended.
    score : float
        Target score in [0, 1], in-sample over the full period.
    sharpe, sortino, calmar : float
        Annualised Sharpe, Sortino and Calmar ratios.
    annual_return, annual_volatility : float
        Annualised return and volatility of daily returns, fractions.
    max_drawdown : float
        Maximum drawdown, a negative fraction.
    turnover : float
        Annualised traded notional (both legs) over mean equity.
    hedge_effectiveness : float
        1 - (hedged volatility / unhedged volatility) squared on the same days; NaN where the
        unhedged twin was not run.
    residual_beta : float
        Mean absolute rolling (63-day) beta of the hedged returns to the hedge instrument.
    consistency : float
        Share of positive rolling 63-day returns, in [0, 1].
    final_equity : float
        Equity on the last day (1 at the start).
    n : int
        Daily returns from the first trade on.
    deflated : Deflated or None
        Deflated Sharpe ratios and moments; None in a cancelled run or where status is not ok.
    scenarios : tuple of ScenarioFigures
        Its figures under every cost scenario of the grid, in the grid's order.
    oos : OosFigures or None
        Its figures out of sample (None when the walk-forward is off or was not run).
    scaled_annual_return, scaled_max_drawdown, scaled_consistency : float
        The score's return, drawdown and consistency terms' inputs on the curve of its daily
        returns scaled to the target volatility (``targets.volatility``; CONVENTIONS "Sweep
        scoring"): annualised return, maximum drawdown (a negative fraction) and share of
        positive rolling 63-day returns; NaN where the volatility is 0 or the run was recorded
        before the risk-normalised score (the JSON then leaves them out).
    """

    hedge: str
    row: int
    status: ConfigStatus
    score: float
    sharpe: float
    annual_return: float
    annual_volatility: float
    sortino: float
    max_drawdown: float
    calmar: float
    turnover: float
    hedge_effectiveness: float
    residual_beta: float
    consistency: float
    final_equity: float
    n: int
    deflated: Deflated | None = None
    scenarios: tuple[ScenarioFigures, ...] = ()
    oos: OosFigures | None = None
    scaled_annual_return: float = math.nan
    scaled_max_drawdown: float = math.nan
    scaled_consistency: float = math.nan

    @property
    def dsr(self) -> float | None:
        """The deflated Sharpe ratio over the leg's trials (None where not computed)."""
        return None if self.deflated is None else self.deflated.dsr

    @property
    def dsr_all_legs(self) -> float | None:
        """The deflated Sharpe ratio over every leg's trials (None where not computed)."""
        return None if self.deflated is None else self.deflated.dsr_all_legs

    def to_json(self) -> dict[str, Any]:
        """The row as the summary's JSON writes it."""
        d: dict[str, Any] = {"ticker": self.ticker, "hedge": self.hedge, "row": self.row}
        d.update(self.params_json())
        d["status"] = self.status
        scaled = any(not math.isnan(getattr(self, name)) for name in SCALED_FIGURES)
        d.update(
            {
                name: getattr(self, name)
                for name in ROW_FIGURES
                if scaled or name not in SCALED_FIGURES
            }
        )
        d["n"] = self.n
        if self.deflated is not None:
            d.update(self.deflated.to_json())
        d["scenarios"] = [s.to_json() for s in self.scenarios]
        d["oos"] = None if self.oos is None else self.oos.to_json()
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> StrategyRow:
        """Read :meth:`to_json`'s dict back (``oos`` and the scaled figures may be missing: runs
        recorded before them).
        """
        figures: dict[str, Any] = {
            name: _num(d.get(name) if name in SCALED_FIGURES else d[name]) for name in ROW_FIGURES
        }
        return cls(
            **cls._params(d),
            hedge=d["hedge"],
            row=int(d["row"]),
            status=ConfigStatus(d["status"]),
            **figures,
            n=int(d["n"]),
            deflated=Deflated.from_json(d) if "dsr" in d else None,
            scenarios=tuple(ScenarioFigures.from_json(s) for s in d.get("scenarios", ())),
            oos=None if d.get("oos") is None else OosFigures.from_json(d["oos"]),
        )


@dataclass(frozen=True)
class Pbo:
    """A leg's probability of backtest overfitting by CSCV (Bailey, Borwein, López de Prado &
    Zhu).

    Attributes
    ----------
    pbo : float
        Share of the CSCV splits whose in-sample best ranks below the out-of-sample median.
    combinations : int
        CSCV splits: C(blocks, blocks / 2).
    configurations : int
        Strategies compared (the leg's ok ones under the ranking scenario).
    blocks : int
        CSCV blocks of days.
    degradation : float
        Slope of out-of-sample on in-sample Sharpe of the splits' best.
    prob_oos_loss : float
        Share of splits whose in-sample best loses out of sample.
    method : str
        ``exact``: every ok strategy of the leg compared; ``sampled``: a uniform random
        sample of ``configurations`` of its ``population`` ok strategies.
    population : int or None
        The leg's ok strategies under the ranking scenario; None in a run recorded before it.
    standard_error : float or None
        The sampled estimate's sampling error (a standard error of the share ``pbo``); None
        when exact.
    """

    pbo: float
    combinations: int
    configurations: int
    blocks: int
    degradation: float
    prob_oos_loss: float
    method: str = "exact"
    population: int | None = None
    standard_error: float | None = None

    def __post_init__(self):
        if self.method not in PBO_METHODS:
            raise HedgedeskError(
                f"pbo: method must be one of {', '.join(PBO_METHODS)}, got {self.method!r}"
            )
        _set(self, "standard_error", _opt_figure(self.standard_error))

    def to_json(self) -> dict[str, Any]:
        """The figures as the summary's JSON writes them (``method``, ``population`` and
        ``standard_error`` left out while they hold their defaults, as runs recorded before
        them wrote them).
        """
        d = dataclasses.asdict(self)
        for name in ("method", "population", "standard_error"):
            del d[name]
        return {**d, **_added(self, ("method", "population", "standard_error"))}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Pbo:
        """Read :meth:`to_json`'s dict back."""
        return cls(
            pbo=_num(d["pbo"]),
            combinations=int(d["combinations"]),
            configurations=int(d["configurations"]),
            blocks=int(d["blocks"]),
            degradation=_num(d["degradation"]),
            prob_oos_loss=_num(d["prob_oos_loss"]),
            method=d.get("method", "exact"),
            population=None if d.get("population") is None else int(d["population"]),
            standard_error=_opt_num(d.get("standard_error")),
        )


def _check_len(where: str, name: str, values: tuple, n: int, of: str) -> None:
    if len(values) != n:
        raise HedgedeskError(
            f"{where}: {name} must have one value per {of} ({n}), got {len(values)}"
        )


@dataclass(frozen=True)
class AxisMarginal:
    """One axis's marginal over a leg's strategies under the ranking scenario: at each of its
    levels, how many canonical ok strategies have it and their mean and best target score
    (streamed by the engine, so no per-configuration table is needed).

    Attributes
    ----------
    axis : str
        The axis (:data:`MARGINAL_AXES`: an axis of the grid but ``cost`` and ``impact``).
    levels : tuple of str
        Its levels as the grid prints them: ``f"{v:g}"``, estimators as ``ols``, ``ewma10``.
    count : tuple of int
        Canonical ok strategies at each level (identical strategies counted once).
    mean_score, best_score : tuple of float or None
        Mean and best target score (in [0, 1]) at each level; None where count is 0.
    """

    axis: str
    levels: tuple[str, ...]
    count: tuple[int, ...]
    mean_score: tuple[float | None, ...]
    best_score: tuple[float | None, ...]

    def __post_init__(self):
        where = f"marginal of {self.axis!r}"
        if self.axis not in MARGINAL_AXES:
            raise HedgedeskError(
                f"marginal: axis must be one of {', '.join(MARGINAL_AXES)}, got {self.axis!r}"
            )
        for name in ("count", "mean_score", "best_score"):
            _check_len(where, name, getattr(self, name), len(self.levels), "level")
        _set(self, "levels", tuple(str(v) for v in self.levels))
        _set(self, "count", _ints(self.count))
        for name in ("mean_score", "best_score"):
            _set(self, name, tuple(_opt_figure(v) for v in getattr(self, name)))

    def to_json(self) -> dict[str, Any]:
        """The marginal as the summary's JSON writes it (None as null)."""
        return {
            "axis": self.axis,
            "levels": list(self.levels),
            "count": list(self.count),
            "mean_score": list(self.mean_score),
            "best_score": list(self.best_score),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> AxisMarginal:
        """Read :meth:`to_json`'s dict back."""
        return cls(
            axis=d["axis"],
            levels=tuple(d["levels"]),
            count=_ints(d["count"]),
            mean_score=_opt_nums(d["mean_score"]),
            best_score=_opt_nums(d["best_score"]),
        )


@dataclass(frozen=True)
class HeatMap:
    """A leg's target score over rebalance period x beta window under the ranking scenario,
    over every other parameter: each cell indexed ``[rebalance][window]``.

    Attributes
    ----------
    rebalance : tuple of int
        Rebalance periods (trading days), the rows.
    window : tuple of int
        Beta windows (daily returns), the columns.
    count : tuple of tuple of int
        Canonical ok strategies in each cell.
    mean_score, best_score : tuple of tuple of float or None
        Mean and best target score (in [0, 1]) in each cell; None where count is 0.
    """

    rebalance: tuple[int, ...]
    window: tuple[int, ...]
    count: tuple[tuple[int, ...], ...]
    mean_score: tuple[tuple[float | None, ...], ...]
    best_score: tuple[tuple[float | None, ...], ...]

    def __post_init__(self):
        _set(self, "rebalance", _ints(self.rebalance))
        _set(self, "window", _ints(self.window))
        for name in ("count", "mean_score", "best_score"):
            cells = getattr(self, name)
            _check_len("heat map", name, cells, len(self.rebalance), "rebalance period")
            for row in cells:
                _check_len("heat map", f"a row of {name}", row, len(self.window), "window")
        _set(self, "count", tuple(_ints(row) for row in self.count))
        for name in ("mean_score", "best_score"):
            _set(self, name, tuple(tuple(map(_opt_figure, r)) for r in getattr(self, name)))

    def to_json(self) -> dict[str, Any]:
        """The map as the summary's JSON writes it (lists of lists, None as null)."""
        return {
            "rebalance": list(self.rebalance),
            "window": list(self.window),
            "count": [list(r) for r in self.count],
            "mean_score": [list(r) for r in self.mean_score],
            "best_score": [list(r) for r in self.best_score],
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> HeatMap:
        """Read :meth:`to_json`'s dict back."""
        return cls(
            rebalance=_ints(d["rebalance"]),
            window=_ints(d["window"]),
            count=tuple(_ints(r) for r in d["count"]),
            mean_score=tuple(_opt_nums(r) for r in d["mean_score"]),
            best_score=tuple(_opt_nums(r) for r in d["best_score"]),
        )


@dataclass(frozen=True)
class LegSummary:
    """One long leg of a run: its days, its trials, its PBO and its best strategy.

    Attributes
    ----------
    ticker : str
        The leg's name.
    members : tuple of str
        Its tickers (one for a single-ticker leg).
    weighting : str or None
        ``equal`` or ``volume`` for a basket; None for a single ticker.
    first_return, last_return : datetime.date
        Dates of its first and last daily return.
    n_days : int
        Daily returns.
    periods_per_year : int
        Periods per year its Sharpe ratios are annualised with.
    first_trade_all : datetime.date
        The first day every configuration of the grid can trade (after the longest window).
    split : datetime.date or None
        The walk-forward's first out-of-sample day; None when the split is off.
    configurations_done : int
        Configurations computed (every scenario).
    trials : int
        Strategies tried under the ranking scenario.
    pbo : Pbo or None
        None with fewer than 2 ok strategies or in a cancelled run.
    impact_warmup_days : int
        Sessions of volume before the first trade when impact is modelled, else 0.
    best : StrategyRow or None
        Its highest-scoring strategy under the ranking scenario.
    marginals : tuple of AxisMarginal
        The score's marginal on each varied axis (:data:`MARGINAL_AXES`); empty in a run
        recorded before them.
    heat : HeatMap or None
        Its score over rebalance period x beta window; None in a run recorded before it.
    """

    ticker: str
    members: tuple[str, ...]
    weighting: str | None
    first_return: dt.date
    last_return: dt.date
    n_days: int
    periods_per_year: int
    first_trade_all: dt.date
    split: dt.date | None
    configurations_done: int
    trials: int
    pbo: Pbo | None
    impact_warmup_days: int
    best: StrategyRow | None
    marginals: tuple[AxisMarginal, ...] = ()
    heat: HeatMap | None = None

    def to_json(self) -> dict[str, Any]:
        """The leg as the summary's JSON writes it."""
        return {
            "ticker": self.ticker,
            "members": list(self.members),
            "weighting": self.weighting,
            "first_return": self.first_return,
            "last_return": self.last_return,
            "n_days": self.n_days,
            "periods_per_year": self.periods_per_year,
            "first_trade_all": self.first_trade_all,
            "split": self.split,
            "configurations_done": self.configurations_done,
            "trials": self.trials,
            "pbo": None if self.pbo is None else self.pbo.to_json(),
            "impact_warmup_days": self.impact_warmup_days,
            "best": None if self.best is None else self.best.to_json(),
            **({"marginals": [m.to_json() for m in self.marginals]} if self.marginals else {}),
            **({"heat": self.heat.to_json()} if self.heat is not None else {}),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> LegSummary:
        """Read :meth:`to_json`'s dict back."""
        return cls(
            ticker=d["ticker"],
            members=tuple(d["members"]),
            weighting=d["weighting"],
            first_return=_day(d["first_return"]),
            last_return=_day(d["last_return"]),
            n_days=int(d["n_days"]),
            periods_per_year=int(d["periods_per_year"]),
            first_trade_all=_day(d["first_trade_all"]),
            split=_opt_day(d["split"]),
            configurations_done=int(d["configurations_done"]),
            trials=int(d["trials"]),
            pbo=None if d.get("pbo") is None else Pbo.from_json(d["pbo"]),
            impact_warmup_days=int(d.get("impact_warmup_days", 0)),
            best=None if d.get("best") is None else StrategyRow.from_json(d["best"]),
            marginals=tuple(AxisMarginal.from_json(m) for m in d.get("marginals", ())),
            heat=None if d.get("heat") is None else HeatMap.from_json(d["heat"]),
        )


@dataclass(frozen=True)
class ScenarioStats:
    """Every leg's canonical configurations under one cost scenario, streamed: the scenario
    table of a run kept without its per-configuration table.

    Attributes
    ----------
    cost, impact : float
        The scenario (as in :class:`Strategy`).
    configurations : int
        Canonical configurations of every leg under it (identical strategies counted once).
    ok : int
        Those that ended ok.
    best_score : float or None
        Best target score in [0, 1] of the ok ones; None where ok is 0 (and for the means).
    mean_sharpe : float or None
        Mean annualised Sharpe ratio of the ok ones.
    mean_annual_return : float or None
        Mean annualised return, a fraction.
    mean_max_drawdown : float or None
        Mean maximum drawdown, a negative fraction.
    share_sharpe_at_target : float or None
        Share of the ok ones with a Sharpe ratio at or above ``targets.sharpe``, in [0, 1].
    """

    cost: float
    impact: float
    configurations: int
    ok: int
    best_score: float | None
    mean_sharpe: float | None
    mean_annual_return: float | None
    mean_max_drawdown: float | None
    share_sharpe_at_target: float | None

    def __post_init__(self):
        for name in SCENARIO_STATS_FIGURES:
            _set(self, name, _opt_figure(getattr(self, name)))

    def to_json(self) -> dict[str, Any]:
        """The scenario's figures as the summary's JSON writes them."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ScenarioStats:
        """Read :meth:`to_json`'s dict back."""
        return cls(
            cost=float(d["cost"]),
            impact=float(d["impact"]),
            configurations=int(d["configurations"]),
            ok=int(d["ok"]),
            **{name: _opt_num(d[name]) for name in SCENARIO_STATS_FIGURES},
        )


SCENARIO_STATS_FIGURES = (
    "best_score",
    "mean_sharpe",
    "mean_annual_return",
    "mean_max_drawdown",
    "share_sharpe_at_target",
)


@dataclass(frozen=True)
class Counts:
    """How many configurations a run has, and how they ended.

    Attributes
    ----------
    strategies_per_leg : int
        Strategies per leg (every axis but the cost scenarios).
    scenarios : int
        Cost scenarios (cost x impact levels).
    configurations : int
        Configurations of the whole grid: legs x strategies x scenarios.
    trials : int
        Strategies tried under the ranking scenario, every leg.
    ok, ruined, undefined_beta : int
        Configurations computed that ended so (:class:`ConfigStatus`).
    done : int
        Configurations computed, resumed sessions included.
    """

    strategies_per_leg: int
    scenarios: int
    configurations: int
    trials: int
    ok: int
    ruined: int
    undefined_beta: int
    done: int

    def to_json(self) -> dict[str, Any]:
        """The counts as the summary's JSON writes them."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Counts:
        """Read :meth:`to_json`'s dict back."""
        return cls(**{f.name: int(d[f.name]) for f in dataclasses.fields(cls)})


@dataclass(frozen=True)
class Ranking:
    """How the leaderboard is ranked: by ``by`` (:data:`RANKED_BY`) under the ``cost`` and
    ``impact`` of the costliest scenario, with the score's ``targets``.
    """

    cost: float
    impact: float
    targets: ScoreTargets
    by: str = RANKED_BY

    def to_json(self) -> dict[str, Any]:
        """The ranking as the summary's JSON writes it."""
        return {
            "scenario": {"cost": self.cost, "impact": self.impact},
            "by": self.by,
            "targets": self.targets.as_dict(),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Ranking:
        """Read :meth:`to_json`'s dict back."""
        return cls(
            cost=float(d["scenario"]["cost"]),
            impact=float(d["scenario"].get("impact", 0.0)),
            targets=ScoreTargets(**d["targets"]),
            by=d["by"],
        )


@dataclass(frozen=True)
class Overfitting:
    """The run's overfitting figures beyond each leg's PBO (the JSON repeats each leg's trials
    and PBO by ticker, from :attr:`SweepSummary.legs`).

    Attributes
    ----------
    trials : int
        Strategies tried under the ranking scenario, every leg: what DSR* deflates by.
    sharpe_variance_per_period : float
        Variance of the trials' per-period (daily) Sharpe ratios, pooled over the legs.
    deferred : str or None
        Why the deflated Sharpe ratios, PBO and walk-forward are missing (:data:`DEFERRED`,
        a cancelled run); None when they were computed.
    """

    trials: int
    sharpe_variance_per_period: float
    deferred: str | None = None


@dataclass(frozen=True)
class WalkForwardRow(Strategy):
    """One of the walk-forward's leaders: ranked on its in-sample score (days before the
    split), then run flat from the split to the end.

    Attributes
    ----------
    hedge : str
        The hedge instrument.
    row : int
        The configuration's row in its leg's grid.
    in_sample : Figures
        Its figures before the split (JSON key ``is``).
    oos : RankedOosFigures
        Its figures from the split on, with its out-of-sample percentile.
    """

    hedge: str
    row: int
    in_sample: Figures
    oos: RankedOosFigures

    def to_json(self) -> dict[str, Any]:
        """The row as the summary's JSON writes it."""
        return {
            "ticker": self.ticker,
            "hedge": self.hedge,
            "row": self.row,
            **self.params_json(),
            "is": self.in_sample.to_json(),
            "oos": self.oos.to_json(),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> WalkForwardRow:
        """Read :meth:`to_json`'s dict back."""
        return cls(
            **cls._params(d),
            hedge=d["hedge"],
            row=int(d["row"]),
            in_sample=Figures.from_json(d["is"]),
            oos=RankedOosFigures.from_json(d["oos"]),
        )


@dataclass(frozen=True)
class WalkForward:
    """The walk-forward: every strategy ranked on the days before each leg's split and re-run
    flat from the split on, with no knowledge of what followed.

    Attributes
    ----------
    fraction_in_sample : float
        Share of each leg's days before the split, a fraction.
    splits : Mapping of str to datetime.date
        Each leg's first out-of-sample day, by ticker.
    strategies : int
        Strategies re-run out of sample, every leg: a random sample where ``population`` is
        larger.
    spearman_is_oos : float
        Spearman rank correlation of in-sample and out-of-sample scores, in [-1, 1]; NaN with
        too few strategies.
    top : tuple of WalkForwardRow
        The in-sample leaders, best first.
    population : int or None
        Strategies of the ranking scenario, every leg; None in a run recorded before it.
    """

    fraction_in_sample: float
    splits: Mapping[str, dt.date]
    strategies: int
    spearman_is_oos: float
    top: tuple[WalkForwardRow, ...]
    population: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "splits", MappingProxyType(dict(self.splits)))

    @property
    def verdict(self) -> Verdict:
        """Whether the in-sample ranking persists out of sample: a negative rank correlation
        says it does not.
        """
        rho = self.spearman_is_oos
        if math.isnan(rho):
            return Verdict.UNDEFINED
        return Verdict.DOES_NOT_PERSIST if rho < 0 else Verdict.PERSISTS

    def to_json(self) -> dict[str, Any]:
        """The walk-forward as the summary's JSON writes it."""
        return {
            "fraction_in_sample": self.fraction_in_sample,
            "splits": dict(self.splits),
            "strategies": self.strategies,
            "spearman_is_oos": self.spearman_is_oos,
            "top": [r.to_json() for r in self.top],
            **_added(self, ("population",)),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> WalkForward:
        """Read :meth:`to_json`'s dict back."""
        return cls(
            fraction_in_sample=float(d["fraction_in_sample"]),
            splits={k: _day(v) for k, v in d["splits"].items()},
            strategies=int(d["strategies"]),
            spearman_is_oos=_num(d["spearman_is_oos"]),
            top=tuple(WalkForwardRow.from_json(r) for r in d["top"]),
            population=None if d.get("population") is None else int(d["population"]),
        )


@dataclass(frozen=True)
class BackendInfo:
    """Where a run was computed: ``name`` (cpu, gpu, cluster), the ``device`` in words, and
    ``note``: why that backend.
    """

    name: str
    device: str
    note: str


@dataclass(frozen=True)
class Timings:
    """Where a session's time went, in seconds of wall clock.

    Attributes
    ----------
    prepare_s : float
        Preparing the legs (returns, tables) and registering the run.
    kernel_s : float
        In the kernel, every phase.
    score_s : float
        Scoring after the last chunk: the table, DSR, PBO, the walk-forward.
    total_s : float
        The whole session but writing the per-configuration Parquet file.
    config_days : int
        Configuration-days computed in this session.
    config_days_per_s : float or None
        Configuration-days per second of kernel time; None when the kernel did not run.
    stream_s : float
        Host work per chunk: scoring, the top K, the marginals and the PBO sample.
    ledger_s : float
        Saving to the ledger.
    twins_s : float
        The unhedged twins' kernel time.
    oos_s : float
        The walk-forward's out-of-sample pass.
    """

    prepare_s: float
    kernel_s: float
    score_s: float
    total_s: float
    config_days: int
    config_days_per_s: float | None
    stream_s: float = 0.0
    ledger_s: float = 0.0
    twins_s: float = 0.0
    oos_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """The timings as the summary's JSON writes them (the host-work split left out while
        all 0, as sessions recorded before it wrote them).
        """
        d = dataclasses.asdict(self)
        for name in TIMINGS_ADDED:
            del d[name]
        return {**d, **_added(self, TIMINGS_ADDED)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Timings:
        """Read :meth:`to_json`'s dict back (the host-work split may be missing: 0)."""
        return cls(
            prepare_s=_num(d["prepare_s"]),
            kernel_s=_num(d["kernel_s"]),
            score_s=_num(d["score_s"]),
            total_s=_num(d["total_s"]),
            config_days=int(d["config_days"]),
            config_days_per_s=_opt_num(d["config_days_per_s"]),
            **{name: _num(d.get(name, 0.0)) for name in TIMINGS_ADDED},
        )


TIMINGS_ADDED = ("stream_s", "ledger_s", "twins_s", "oos_s")


@dataclass(frozen=True)
class SweepSummary:
    """A sweep run's summary: what ``hedgedesk sweep --json`` prints and the ledger keeps.

    Attributes
    ----------
    grid : Grid
        The grid swept.
    request : Mapping
        The run's request as recorded (``SweepRequest.to_dict()``; JSON values, read-only).
    legs : tuple of LegSummary
        Every leg with computed configurations, in the grid's order.
    counts : Counts
        Configurations, trials and how they ended.
    ranking : Ranking
        The scenario and score the leaderboard is ranked by.
    overfitting : Overfitting
        Trials and the pooled variance the deflated Sharpe ratios use.
    top : tuple of StrategyRow
        The leaderboard: the best strategies of every leg, best first (at most ``top``).
    walk_forward : WalkForward or None
        None when the split is off or the run was cancelled first.
    run_id : str or None
        The run's id in the ledger (None for a run kept in memory).
    status : RunStatus
        ``done`` or ``cancelled``.
    backend : BackendInfo
        Where it ran.
    fingerprint : str
        Hash of the data (dates, returns, impact coefficients).
    code_version : str
        Package version and a hash of the sources the figures depend on.
    timings : Timings
        The last session's timings.
    scenarios : tuple of ScenarioStats
        Every cost scenario's statistics, in the grid's order; empty in a run recorded before
        them.
    """

    grid: Grid
    request: Mapping[str, Any]
    legs: tuple[LegSummary, ...]
    counts: Counts
    ranking: Ranking
    overfitting: Overfitting
    top: tuple[StrategyRow, ...]
    walk_forward: WalkForward | None
    run_id: str | None
    status: RunStatus
    backend: BackendInfo
    fingerprint: str
    code_version: str
    timings: Timings
    scenarios: tuple[ScenarioStats, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "request", MappingProxyType(copy.deepcopy(dict(self.request))))

    def leg(self, ticker: str) -> LegSummary | None:
        """The leg named ``ticker`` (None when the run has none)."""
        return next((leg for leg in self.legs if leg.ticker == ticker), None)

    def pbo_of(self, ticker: str) -> float | None:
        """The PBO of the leg named ``ticker`` (None where not computed)."""
        leg = self.leg(ticker)
        return None if leg is None or leg.pbo is None else leg.pbo.pbo

    def to_json(self) -> dict[str, Any]:
        """The summary as ``hedgedesk sweep --json`` prints it and the ledger stores it."""
        overfitting: dict[str, Any] = {
            "trials": self.overfitting.trials,
            "sharpe_variance_per_period": self.overfitting.sharpe_variance_per_period,
            "trials_by_leg": {leg.ticker: leg.trials for leg in self.legs},
            "pbo_by_leg": {
                leg.ticker: None if leg.pbo is None else leg.pbo.to_json() for leg in self.legs
            },
        }
        if self.overfitting.deferred is not None:
            overfitting["deferred"] = self.overfitting.deferred
        return {
            "grid": self.grid.to_dict(),
            "request": copy.deepcopy(dict(self.request)),
            "legs": [leg.to_json() for leg in self.legs],
            "counts": self.counts.to_json(),
            "ranking": self.ranking.to_json(),
            "overfitting": overfitting,
            "top": [r.to_json() for r in self.top],
            **({"scenarios": [sc.to_json() for sc in self.scenarios]} if self.scenarios else {}),
            "walk_forward": None if self.walk_forward is None else self.walk_forward.to_json(),
            "run_id": self.run_id,
            "status": self.status,
            "backend": dataclasses.asdict(self.backend),
            "fingerprint": self.fingerprint,
            "code_version": self.code_version,
            "timings": self.timings.to_json(),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> SweepSummary:
        """Read :meth:`to_json`'s dict back (as the ledger stored it: dates as ISO strings,
        NaN as null). A field missing or of the wrong type raises a HedgedeskError naming it.
        """
        try:
            o = d["overfitting"]
            return cls(
                grid=Grid.from_dict(d["grid"]),
                request=d["request"],
                legs=tuple(LegSummary.from_json(leg) for leg in d["legs"]),
                counts=Counts.from_json(d["counts"]),
                ranking=Ranking.from_json(d["ranking"]),
                overfitting=Overfitting(
                    trials=int(o["trials"]),
                    sharpe_variance_per_period=_num(o["sharpe_variance_per_period"]),
                    deferred=o.get("deferred"),
                ),
                top=tuple(StrategyRow.from_json(r) for r in d["top"]),
                walk_forward=(
                    None
                    if d.get("walk_forward") is None
                    else WalkForward.from_json(d["walk_forward"])
                ),
                run_id=d["run_id"],
                status=RunStatus(d["status"]),
                backend=BackendInfo(**d["backend"]),
                fingerprint=d["fingerprint"],
                code_version=d["code_version"],
                timings=Timings.from_json(d["timings"]),
                scenarios=tuple(ScenarioStats.from_json(sc) for sc in d.get("scenarios", ())),
            )
        except KeyError as exc:
            raise HedgedeskError(
                f"sweep summary: field {exc.args[0]!r} is missing (expected a summary as "
                "hedgedesk sweep --json writes it)"
            ) from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise HedgedeskError(
                f"sweep summary: a field has the wrong type or value: {exc}"
            ) from None

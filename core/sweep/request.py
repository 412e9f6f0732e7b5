"""A sweep's request: what to sweep and how, built one way from the config, flags or a form.

:class:`SweepRequest` is the sweep engine's one request type. :meth:`SweepRequest.from_config`
builds it from the desk's config (its ``[sweep]`` grid, data dates and risk-free rate) with
overrides on top: the command line's flags, the Sweep screen's form fields. Levels given as
text are read by :func:`hedgedesk.core.levels.parse_levels`, the reading the config applies to
its ``"a:b:n"`` strings, so ``0.5:1.5:11`` gives the same values from a flag, the form and
``config.toml``. The grid and the request check their fields once, on construction, and an
error names the field as the user gave it (:class:`~hedgedesk.core.sweep.grid.Naming`): the
flag (``--rebalance``), the config key (``sweep.rebalance``, with the file) or the form field.

A run's request is stored in the ledger (:meth:`SweepRequest.to_dict`); resuming the run
rebuilds the identical request with :meth:`SweepRequest.from_dict`.
:func:`backtest_for_row` re-runs one configuration of a finished sweep as a dated backtest.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import InitVar, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hedgedesk.core.errors import ConfigError, DataError
from hedgedesk.core.levels import MAX_LEVELS, LevelsError, format_levels, parse_levels
from hedgedesk.core.sweep import kernel as K
from hedgedesk.core.sweep.grid import AXES, FIELDS, FLAGS, Grid, Leg, Naming, estimators, parse_leg
from hedgedesk.core.sweep.score import ScoreTargets

if TYPE_CHECKING:
    from hedgedesk.core.config import DeskConfig
    from hedgedesk.core.data.market import MarketData
    from hedgedesk.core.sweep.backtest import BacktestResult

BACKENDS = ("auto", "cpu", "gpu")
KEEPS = ("best", "all")  # what a run keeps of each configuration's figures
LEVEL_AXES = tuple(a for a in AXES if a != "estimator")  # axes written as levels
WHOLE_AXES = ("rebalance", "window")  # days and returns: whole numbers
DEFAULT_HALFLIVES = (20.0,)  # days, when neither the config nor an override gives any
# a dataclass keeps each field's default as a class attribute
_GRID_DEFAULTS: dict[str, tuple[float, ...]] = {name: getattr(Grid, name) for name in LEVEL_AXES}


@dataclass(frozen=True)
class SweepRequest:
    """What to sweep and how.

    ``grid``: the strategies and cost scenarios; ``start``/``end``: the dates the data is
    clipped to (None: all of it); ``rf``: annual risk-free rate, a fraction; ``capital``:
    starting equity in USD, matters only for market impact; ``backend``: auto, cpu or gpu;
    ``top``: strategies in the leaderboard; ``walk_forward``: in-sample fraction (0 turns the
    split off); ``blocks``: CSCV blocks (even); ``targets``: the score's targets;
    ``data``: the price files the market came from (recorded so a run can be resumed);
    ``keep``: ``best`` keeps the top strategies, the per-axis marginals and a PBO sample,
    ``all`` also every configuration's figures in a columnar file.
    Validated on construction; errors name each field as ``where`` names it (an init-only
    argument, the command line's flags by default).
    """

    grid: Grid
    start: dt.date | None = None
    end: dt.date | None = None
    rf: float = 0.0
    capital: float = 1_000_000.0
    backend: str = "auto"
    top: int = 20
    walk_forward: float = 0.7
    blocks: int = 8
    targets: ScoreTargets = field(default_factory=ScoreTargets)
    data: tuple[str, ...] = ()
    keep: str = "best"
    where: InitVar[Naming] = FLAGS

    def __post_init__(self, where: Naming) -> None:
        if self.backend not in BACKENDS:
            raise where.error("backend", f"expected auto, cpu or gpu, got {self.backend!r}")
        if self.keep not in KEEPS:
            raise where.error("keep", f"expected best or all, got {self.keep!r}")
        if self.top < 1:
            raise where.error("top", f"must be >= 1, got {self.top}")
        if not (self.walk_forward == 0 or 0.1 <= self.walk_forward <= 0.9):
            raise where.error(
                "walk_forward",
                f"the in-sample fraction must be 0 (off) or in [0.1, 0.9], got {self.walk_forward}",
            )
        if self.blocks % 2 or not 2 <= self.blocks <= K.MAX_BLOCKS:
            raise where.error(
                "blocks",
                f"CSCV needs an even number of blocks in 2..{K.MAX_BLOCKS}, got {self.blocks}",
            )
        if not (math.isfinite(self.capital) and self.capital > 0):
            raise where.error("capital", f"must be a positive amount, got {self.capital}")
        if not math.isfinite(self.rf):
            raise where.error("rf", f"must be a finite annual rate, got {self.rf}")

    @classmethod
    def from_config(
        cls, cfg: DeskConfig | None, where: Naming = FLAGS, **overrides: Any
    ) -> SweepRequest:
        """The request the config describes, with ``overrides`` on top.

        Parameters
        ----------
        cfg : DeskConfig or None
            Gives the grid (its ``[sweep]`` table, when it has one), ``start``/``end``
            (``data.start``/``data.end``) and ``rf`` (``risk.rf``). None: the defaults.
        where : Naming
            How the user named the overridden fields (the flags by default, or the form's
            fields); the config's values are named by their keys, in the config's file.
        **overrides
            Any of :data:`~hedgedesk.core.sweep.grid.FIELDS`. ``legs``: text ``A,B,M=C+D@volume``
            or a sequence of tickers, basket specs or Legs; ``hedge``: a ticker; each axis of
            :data:`LEVEL_AXES` and ``halflife`` (EWMA half-lives, days): text ``1,5,21`` or
            ``a:b:n``, or a sequence of numbers; ``estimator``: text ``ols,ewma`` or a
            sequence; ``targets``: ScoreTargets or a mapping of its fields; ``data``: paths,
            recorded resolved; the rest as the fields of this class. Blank ``estimator`` and
            ``halflife`` text leaves the config's (else ``ols`` and 20 days).

        Returns
        -------
        SweepRequest
            Validated as a whole.

        Raises
        ------
        HedgedeskError
            A DataError naming the flag or form field, or a ConfigError naming the config's
            file and key, for the first bad value.
        """
        unknown = sorted(set(overrides) - set(FIELDS))
        if unknown:
            raise TypeError(f"not fields of a sweep request: {', '.join(unknown)}")
        given = dict(overrides)
        for name in ("estimator", "halflife"):
            if isinstance(given.get(name), str) and not given[name].strip():
                del given[name]
        sweep = cfg.sweep if cfg is not None else None
        configured = set()
        if cfg is not None:
            configured |= {"start", "end", "rf"}
            if sweep is not None:
                configured |= {"legs", "hedge", *AXES, "halflife", "targets", "keep"}
        configured -= set(given)
        names = where
        if cfg is not None and configured:
            names = where.mixed(Naming.config(str(cfg.path)), configured)

        legs = tuple(_leg(x, names) for x in _items(given.get("legs", sweep.long if sweep else ())))
        if not legs:
            hint = "" if sweep else " (or a [sweep] table in the config)"
            raise names.error("legs", f"no long leg: give at least one ticker or basket{hint}")
        hedge = str(given.get("hedge", sweep.hedge if sweep else "")).strip()
        if not hedge:
            hint = "" if sweep else " (or a [sweep] table in the config)"
            raise names.error("hedge", f"no hedge instrument: give its ticker{hint}")
        axes: dict[str, tuple] = {}
        for name in LEVEL_AXES:
            if name in given:
                axes[name] = _levels(name, given[name], names)
            elif sweep is not None:
                axes[name] = getattr(sweep, name)
        kinds = _items(given.get("estimator", sweep.estimator if sweep else ("ols",)))
        halflives = (
            _levels("halflife", given["halflife"], names)
            if "halflife" in given
            else sweep.ewma_halflife
            if sweep
            else DEFAULT_HALFLIVES
        )
        if "halflife" in given and "ewma" not in kinds:
            raise names.error(
                "halflife",
                "half-lives apply to the EWMA estimator; "
                f"add {names.label('estimator')} ols,ewma (or ewma)",
            )
        grid = Grid(
            legs=legs,
            hedge=hedge,
            estimator=estimators(kinds, halflives, names),
            **axes,
            where=names,
        )
        run: dict[str, Any] = {
            name: given[name]
            for name in ("capital", "backend", "top", "walk_forward", "blocks", "keep")
            if name in given
        }
        if "keep" not in given and sweep is not None:
            run["keep"] = sweep.keep
        return cls(
            grid,
            start=given.get("start", cfg.data.start if cfg else None),
            end=given.get("end", cfg.data.end if cfg else None),
            rf=float(given.get("rf", cfg.risk.rf if cfg else 0.0)),
            targets=_targets(given, cfg, names),
            data=tuple(str(Path(p).resolve()) for p in given.get("data", ())),
            **run,
            where=names,
        )

    def to_dict(self) -> dict:
        """Plain values for the ledger's JSON (dates as dates; the ledger writes them ISO)."""
        return {
            "grid": self.grid.to_dict(),
            "start": self.start,
            "end": self.end,
            "rf": self.rf,
            "capital": self.capital,
            "backend": self.backend,
            "top": self.top,
            "walk_forward": self.walk_forward,
            "blocks": self.blocks,
            "targets": self.targets.as_dict(),
            "data": list(self.data),
            "keep": self.keep,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SweepRequest:
        """The request :meth:`to_dict` wrote, read back from the ledger: equal to the one
        that was run, so a resumed run computes exactly what the first run would have.
        """

        def day(v: Any) -> dt.date | None:
            return dt.date.fromisoformat(v) if isinstance(v, str) and v else v or None

        return cls(
            grid=Grid.from_dict(d["grid"]),
            start=day(d["start"]),
            end=day(d["end"]),
            rf=d["rf"],
            capital=d["capital"],
            backend=d["backend"],
            top=d["top"],
            walk_forward=d["walk_forward"],
            blocks=d["blocks"],
            targets=ScoreTargets(**d["targets"]),
            data=tuple(d["data"]),
            keep=d.get("keep", "best"),  # runs recorded before --keep kept the best
        )


def grid_texts(cfg: DeskConfig | None) -> dict[str, str]:
    """The grid the config describes as override text, for a form to start from.

    Parameters
    ----------
    cfg : DeskConfig or None
        Its ``[sweep]`` table, else the defaults (no legs, no hedge).

    Returns
    -------
    dict of str to str
        ``legs``, ``hedge``, each of :data:`LEVEL_AXES`, ``estimator`` and ``halflife``
        (blank unless an EWMA estimator is swept), written so that
        ``SweepRequest.from_config(cfg, **grid_texts(cfg))`` equals
        ``SweepRequest.from_config(cfg)``.
    """
    s = cfg.sweep if cfg is not None else None
    texts = {"legs": ",".join(s.long) if s else "", "hedge": s.hedge if s else ""}
    for name in LEVEL_AXES:
        values = getattr(s, name) if s else _GRID_DEFAULTS[name]
        texts[name] = format_levels(values, integer=name in WHOLE_AXES)
    texts["estimator"] = ",".join(s.estimator) if s else "ols"
    texts["halflife"] = format_levels(s.ewma_halflife) if s and "ewma" in s.estimator else ""
    return texts


def backtest_for_row(market: MarketData, request: SweepRequest, row: Any) -> BacktestResult:
    """One configuration of a sweep as a dated backtest, on the request's dates and rf.

    Parameters
    ----------
    market : MarketData
        The data the sweep ran on.
    request : SweepRequest
        The sweep's request: its leg (one ticker, or a basket's members and weighting), hedge,
        dates and annual risk-free rate.
    row : mapping or Strategy
        A leaderboard row, as a mapping (a summary's JSON) or an object with these attributes
        (``hedgedesk.core.sweep.results.Strategy``): ``ticker`` (the leg's name),
        ``rebalance`` (days), ``window`` (returns), ``estimator`` (ols or ewma), ``halflife``
        (days, EWMA), ``exposure``, ``hedge_ratio``, ``cost`` (fraction of traded notional)
        and ``drift_band``.

    Returns
    -------
    BacktestResult
        ``hedgedesk.core.sweep.backtest.run_backtest`` of the row with a starting equity of 1;
        an EWMA row's hedged curve and its performance figures are re-run with its estimator
        on the same returns (turnover and hedge effectiveness stay the OLS run's). Market
        impact is not in the curve.

    Raises
    ------
    DataError
        A row of another sweep, too little data, a ruined curve.
    """
    from hedgedesk.core.metrics import performance
    from hedgedesk.core.sweep.backtest import dynamic_beta_hedge, leg_returns, run_backtest

    def get(name: str) -> Any:
        return row[name] if isinstance(row, Mapping) else getattr(row, name)

    leg = next((g for g in request.grid.legs if g.name == get("ticker")), None)
    if leg is None:
        raise DataError(str(get("ticker")), "not a long leg of this sweep")
    long, hedge = list(leg.tickers), request.grid.hedge
    params = (
        int(get("rebalance")),
        int(get("window")),
        float(get("exposure")),
        float(get("hedge_ratio")),
        float(get("cost")),
        float(get("drift_band")),
    )
    start, end = request.start, request.end
    bt = run_backtest(
        market, long, hedge, *params, weighting=leg.weighting, rf=request.rf, start=start, end=end
    )
    if get("estimator") == "ols":
        return bt
    r_long, r_hedge = leg_returns(market, long, hedge, leg.weighting, start, end)
    run = dynamic_beta_hedge(
        r_long.to_numpy(), r_hedge.to_numpy(), *params, 1.0, "ewma", float(get("halflife"))
    )
    periods = bt.params["periods_per_year"]
    metrics = {**bt.metrics, **performance(run.equity, request.rf, periods).as_dict()}
    return dataclasses.replace(bt, equity=run.equity, metrics=metrics)


# -- reading overrides -------------------------------------------------------------------------
def _items(value: str | Iterable[Any]) -> list[Any]:
    """``"A, B"`` as ["A", "B"] (blanks dropped); a sequence as a list."""
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return list(value)


def _leg(value: str | Leg, names: Naming) -> Leg:
    if isinstance(value, Leg):
        return value
    try:
        return parse_leg(value, names.label("legs"))
    except DataError as exc:
        raise names.error("legs", exc.problem) from None


def _levels(name: str, value: str | Iterable[float], names: Naming) -> tuple:
    """An axis's levels from text or numbers; at most MAX_LEVELS, the config's cap."""
    try:
        levels = (
            parse_levels(value, integer=name in WHOLE_AXES)
            if isinstance(value, str)
            else tuple(value)
        )
    except LevelsError as exc:
        raise names.error(name, str(exc)) from None
    if len(levels) > MAX_LEVELS:
        raise names.error(name, f"{len(levels):,} values; at most {MAX_LEVELS:,} per axis")
    return levels


def _targets(given: Mapping[str, Any], cfg: DeskConfig | None, names: Naming) -> ScoreTargets:
    """The score's targets: given, else the config's ``[sweep.score]``, else the defaults."""
    value = given.get("targets")
    if isinstance(value, ScoreTargets):
        return value
    from_config = value is None
    fields: Mapping[str, float] = (
        value
        if value is not None
        else cfg.sweep.score
        if cfg is not None and cfg.sweep is not None
        else {}
    )
    try:
        return ScoreTargets(**fields)
    except ConfigError as exc:  # ScoreTargets names its own field
        if from_config and cfg is not None:
            raise ConfigError(str(cfg.path), f"sweep.score.{exc.key}", exc.problem) from None
        raise names.error("targets", f"{exc.key}: {exc.problem}") from None

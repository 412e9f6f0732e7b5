"""The grid of a sweep: which hedge strategies are tried, and under which cost scenarios.

A strategy is one long leg (a ticker, or a named basket) hedged with one instrument, with a
rebalance period P, a beta window W, a beta estimator (OLS, or EWMA with a half-life), an
exposure k, a hedge ratio h and a drift band d. Costs (a fraction of traded notional) and
market impact (eta of the square-root law) are *scenarios*: every strategy is run under every
level, and strategies are ranked under one of them, so a sweep can never "discover" that lower
costs are better (CONVENTIONS, sweep scoring).

Configurations are never materialised: row ``i`` of a leg's grid is decoded from its index, on
the host or inside a GPU thread, in the order of :data:`AXES` with the scenario axes innermost
(a strategy's scenarios are adjacent rows).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import InitVar, dataclass
from typing import Any

import numpy as np

from hedgedesk.core.bounds import MAX_EXPOSURE, MAX_HEDGE_RATIO, MAX_IMPACT
from hedgedesk.core.errors import ConfigError, DataError, HedgedeskError
from hedgedesk.core.sweep.backtest import WEIGHTINGS

# decoding order of a row index, slowest first; cost and impact innermost
AXES = (
    "rebalance",
    "window",
    "estimator",
    "exposure",
    "hedge_ratio",
    "drift_band",
    "cost",
    "impact",
)
# a request's fields as the user gives them: the grid's (legs, hedge, its axes, the EWMA
# half-lives) and the run's
FIELDS = (
    "legs",
    "hedge",
    *AXES,
    "halflife",
    "start",
    "end",
    "rf",
    "capital",
    "backend",
    "top",
    "walk_forward",
    "blocks",
    "targets",
    "data",
    "keep",
)
_BASKET = re.compile(r"^(?P<name>[A-Za-z0-9_.^-]+)=(?P<members>[^@]+)(@(?P<weighting>\w+))?$")


class Naming:
    """What the user calls each field of a sweep request, so an error names what they typed.

    ``labels`` maps a field of :data:`FIELDS` to its name where the user gave it: a flag
    (``--hedge-ratio``), a config key (``sweep.hedge_ratio``) or a form field
    (``hedge ratio``); a field it leaves out is called by its own name. With ``file`` (a config
    file) errors are ConfigErrors naming the file and the key, else DataErrors naming the
    label. :data:`FLAGS` names the command line's flags; :meth:`config` the config's keys;
    :meth:`mixed` names some fields one way and the rest another (values typed over a config).
    """

    def __init__(self, labels: Mapping[str, str], file: str | None = None):
        self._where: dict[str, tuple[str, str | None]] = {
            field: (label, file) for field, label in labels.items()
        }

    @classmethod
    def config(cls, file: str) -> Naming:
        """The config's keys: ``sweep.long``, ``sweep.ewma_halflife``, ``data.start``,
        ``risk.rf``, ... in ``file``.
        """
        labels = {field: f"sweep.{field}" for field in FIELDS}
        labels.update(
            legs="sweep.long",
            halflife="sweep.ewma_halflife",
            targets="sweep.score",
            start="data.start",
            end="data.end",
            rf="risk.rf",
        )
        return cls(labels, file)

    def mixed(self, other: Naming, fields: Iterable[str]) -> Naming:
        """A copy of this naming with ``fields`` named as ``other`` names them."""
        out = Naming({})
        out._where = {**self._where, **{f: other._where.get(f, (f, None)) for f in fields}}
        return out

    def label(self, field: str) -> str:
        """The field's name as the user wrote it."""
        return self._where.get(field, (field, None))[0]

    def error(self, field: str, problem: str) -> HedgedeskError:
        """A one-line error naming the field (and the config file it is a key of)."""
        label, file = self._where.get(field, (field, None))
        return ConfigError(file, label, problem) if file else DataError(label, problem)


FLAGS = Naming({field: "--" + field.replace("_", "-") for field in FIELDS} | {"legs": "--tickers"})


@dataclass(frozen=True)
class Leg:
    """One long leg: a single ticker, or a basket ``NAME=T1+T2+..[@equal|@volume]``."""

    name: str
    tickers: tuple[str, ...]
    weighting: str = "equal"  # for baskets

    @property
    def is_basket(self) -> bool:
        """Two or more members."""
        return len(self.tickers) > 1

    def spec(self) -> str:
        """The leg as :func:`parse_leg` reads it: ``AAPL`` or ``NAME=T1+T2@weighting``."""
        if not self.is_basket:
            return self.name
        return f"{self.name}={'+'.join(self.tickers)}@{self.weighting}"


def parse_leg(text: str, where: str = "--tickers") -> Leg:
    """``AAPL`` or ``MAG7=AAPL+MSFT+...@volume`` (weighting defaults to equal); errors name
    ``where``.
    """
    text = text.strip()
    if "=" not in text:
        if not text or any(c in text for c in "+@ "):
            raise DataError(
                where, f"{text!r} is not a ticker; a basket is written NAME=T1+T2[@equal|@volume]"
            )
        return Leg(text, (text,))
    m = _BASKET.match(text)
    if not m:
        raise DataError(where, f"{text!r}: expected a basket as NAME=T1+T2[@equal|@volume]")
    members = tuple(t.strip() for t in m["members"].split("+"))
    weighting = m["weighting"] or "equal"
    if weighting not in WEIGHTINGS:
        raise DataError(
            where, f"{text!r}: unknown weighting {weighting!r}; expected {' or '.join(WEIGHTINGS)}"
        )
    if any(not t for t in members) or len(set(members)) != len(members) or len(members) < 2:
        raise DataError(where, f"{text!r}: a basket needs two or more distinct members")
    return Leg(m["name"], members, weighting)


@dataclass(frozen=True)
class Estimator:
    """``ols``, or ``ewma`` with a half-life in days."""

    kind: str
    halflife: float = math.nan

    def label(self) -> str:
        """``ols`` or ``ewma20`` (the half-life in days)."""
        return "ols" if self.kind == "ols" else f"ewma{self.halflife:g}"


@dataclass(frozen=True)
class Grid:
    """Every axis of a sweep, validated on construction.

    ``rebalance``: periods P in days; ``window``: beta windows W in returns; ``exposure`` k:
    long notional as a multiple of equity; ``hedge_ratio`` h: multiplier on beta;
    ``drift_band`` d: tolerated drift of the hedge ratio; ``cost``: fractions of traded
    notional (0.001 = 10 bp); ``impact``: eta of the square-root law. Errors name each field
    as ``where`` names it (an init-only argument, the command line's flags by default).
    """

    legs: tuple[Leg, ...]
    hedge: str
    rebalance: tuple[int, ...] = (1, 5, 21)
    window: tuple[int, ...] = (20, 60, 120)
    estimator: tuple[Estimator, ...] = (Estimator("ols"),)
    exposure: tuple[float, ...] = (1.0,)
    hedge_ratio: tuple[float, ...] = (1.0,)
    drift_band: tuple[float, ...] = (0.0,)
    cost: tuple[float, ...] = (0.0,)
    impact: tuple[float, ...] = (0.0,)
    where: InitVar[Naming] = FLAGS

    def __post_init__(self, where: Naming) -> None:
        def need(cond: Any, field: str, problem: str) -> None:
            if not cond:
                raise where.error(field, problem)

        for name in ("rebalance", "window"):
            values = getattr(self, name)
            need(
                all(float(v).is_integer() for v in values),
                name,
                f"expected whole numbers, got {', '.join(f'{v:g}' for v in values)}",
            )
        # one type per axis (TOML and CLI may mix 0 and 0.001), so JSON and the ledger agree
        for name in ("rebalance", "window"):
            object.__setattr__(self, name, tuple(int(v) for v in getattr(self, name)))
        for name in ("exposure", "hedge_ratio", "drift_band", "cost", "impact"):
            object.__setattr__(self, name, tuple(float(v) for v in getattr(self, name)))

        need(self.legs, "legs", "no long leg: give at least one ticker or basket")
        names = [leg.name for leg in self.legs]
        need(len(set(names)) == len(names), "legs", "a long leg is listed twice")
        need(self.hedge.strip(), "hedge", "no hedge instrument: give its ticker")
        need(
            all(self.hedge not in (leg.name, *leg.tickers) for leg in self.legs),
            "hedge",
            f"{self.hedge} is also a long leg or basket; hedge with a different ticker",
        )
        for name in AXES:
            values = getattr(self, name)
            need(len(values) >= 1, name, "needs at least one value")
            need(len(set(values)) == len(values), name, "a value is listed twice")
        for name, ok, problem in (
            ("rebalance", min(self.rebalance) >= 1, "periods must be >= 1 day"),
            ("window", min(self.window) >= 2, "beta windows must be >= 2 returns"),
            ("exposure", min(self.exposure) > 0, "exposures must be > 0"),
            ("hedge_ratio", min(self.hedge_ratio) >= 0, "hedge ratios must be >= 0"),
            ("drift_band", min(self.drift_band) >= 0, "drift bands must be >= 0"),
            ("impact", min(self.impact) >= 0, "impact coefficients must be >= 0"),
        ):
            need(ok, name, f"{problem}, got {min(getattr(self, name)):g}")
        for name, most in (
            ("exposure", MAX_EXPOSURE),
            ("hedge_ratio", MAX_HEDGE_RATIO),
            ("impact", MAX_IMPACT),
        ):
            high = max(getattr(self, name))
            need(high <= most, name, f"expected values <= {most:g}, got {high:g}")
        low, high = min(self.cost), max(self.cost)
        need(
            low >= 0 and high <= 0.1,
            "cost",
            "costs are fractions of traded notional in [0, 0.1] (0.001 = 10 bp), "
            f"got {low if low < 0 else high:g}",
        )
        for e in self.estimator:
            need(
                e.kind in ("ols", "ewma"),
                "estimator",
                f"unknown estimator {e.kind!r}; expected ols or ewma",
            )
            need(
                e.kind == "ols" or e.halflife > 0,
                "halflife",
                f"EWMA half-lives must be > 0 days, got {e.halflife:g}",
            )

    # -- sizes ---------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        """Levels per axis, in the order of :data:`AXES`."""
        return tuple(len(getattr(self, name)) for name in AXES)

    @property
    def n_scenarios(self) -> int:
        """Cost x impact scenarios each strategy runs under."""
        return len(self.cost) * len(self.impact)

    @property
    def n_strategies(self) -> int:
        """Strategies per leg (every axis but the scenarios)."""
        return int(np.prod(self.shape[:6]))

    @property
    def rows_per_leg(self) -> int:
        """Configurations per leg: strategies x scenarios."""
        return self.n_strategies * self.n_scenarios

    @property
    def n_rows(self) -> int:
        """Configurations in the whole sweep: every leg's rows."""
        return self.rows_per_leg * len(self.legs)

    # -- decoding ------------------------------------------------------------------------------
    def decode(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        """Parameter arrays of a leg's rows (estimator as an index into ``self.estimator``)."""
        idx = np.unravel_index(np.asarray(rows, dtype=np.int64), self.shape)
        out: dict[str, np.ndarray] = {}
        for name, i in zip(AXES, idx, strict=True):
            values = getattr(self, name)
            out[name] = i if name == "estimator" else np.asarray(values)[i]
        return out

    def strategy_params(self, row: int) -> dict:
        """One row's parameters as plain values (estimator as kind and half-life)."""
        p = {k: v.item() for k, v in self.decode(np.array([row])).items()}
        est = self.estimator[p.pop("estimator")]
        return {
            "rebalance": p["rebalance"],
            "window": p["window"],
            "estimator": est.kind,
            "halflife": None if est.kind == "ols" else est.halflife,
            "exposure": p["exposure"],
            "hedge_ratio": p["hedge_ratio"],
            "drift_band": p["drift_band"],
            "cost": p["cost"],
            "impact": p["impact"],
        }

    def to_dict(self) -> dict:
        """Plain JSON values (legs as their specs, estimators as [kind, half-life or None]);
        :meth:`from_dict` reads them back to an equal grid.
        """
        d: dict[str, Any] = {
            name: list(getattr(self, name)) for name in AXES if name != "estimator"
        }
        d["estimator"] = [[e.kind, None if e.kind == "ols" else e.halflife] for e in self.estimator]
        d["legs"] = [leg.spec() for leg in self.legs]
        d["hedge"] = self.hedge
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Grid:
        """The grid :meth:`to_dict` wrote (a ledger's record of a run)."""
        est = tuple(Estimator(k, math.nan if h is None else float(h)) for k, h in d["estimator"])
        return cls(
            legs=tuple(parse_leg(s) for s in d["legs"]),
            hedge=d["hedge"],
            rebalance=tuple(d["rebalance"]),
            window=tuple(d["window"]),
            estimator=est,
            exposure=tuple(d["exposure"]),
            hedge_ratio=tuple(d["hedge_ratio"]),
            drift_band=tuple(d["drift_band"]),
            cost=tuple(d["cost"]),
            impact=tuple(d["impact"]),
        )


def estimators(
    kinds: Iterable[str], halflives: Iterable[float], where: Naming = FLAGS
) -> tuple[Estimator, ...]:
    """``ols`` once, ``ewma`` once per half-life (in days); errors name ``estimator`` as
    ``where`` does.
    """
    halflives = tuple(halflives)
    out: list[Estimator] = []
    for kind in kinds:
        if kind == "ols":
            out.append(Estimator("ols"))
        elif kind == "ewma":
            out.extend(Estimator("ewma", float(h)) for h in halflives)
        else:
            raise where.error("estimator", f"unknown estimator {kind!r}; expected ols or ewma")
    return tuple(out)

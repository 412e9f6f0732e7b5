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
from dataclasses import dataclass

import numpy as np
from hedgedesk.core.errors import DataError
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
_BASKET = re.compile(r"^(?P<name>[A-Za-z0-9_.^-]+)=(?P<members>[^@]+)(@(?P<weighting>\w+))?$")


@dataclass(frozen=True)
class Leg:
    """One long leg: a single ticker, or a basket ``NAME=T1+T2+..[@equal|@volume]``."""

    name: str
    tickers: tuple[str, ...]
    weighting: str = "equal"  # for baskets

    @property
    def is_basket(self) -> bool:
        return len(self.tickers) > 1

    def spec(self) -> str:
        if not self.is_basket:
            return self.name
        return f"{self.name}={'+'.join(self.tickers)}@{self.weighting}"


def parse_leg(text: str, where: str = "--tickers") -> Leg:
    """``AAPL`` or ``MAG7=AAPL+MSFT+...@volume`` (weighting defaults to equal)."""
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


def parse_levels(text: str, where: str, integer: bool = False) -> tuple[float, ...]:
    """``1,5,21`` (a list) or ``a:b:n`` (n evenly spaced values from a to b, both included)."""
    text = text.strip()
    try:
        if ":" in text:
            parts = text.split(":")
            if len(parts) != 3:
                raise ValueError
            a, b, n = float(parts[0]), float(parts[1]), int(parts[2])
            if n < 1 or (n == 1 and a != b):
                raise DataError(where, f"{text!r}: n must be >= 2 (or 1 with a == b)")
            values = tuple(float(v) for v in np.linspace(a, b, n))
        else:
            values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise DataError(where, f"{text!r}: expected a list like 1,5,21 or a range a:b:n") from None
    if not all(math.isfinite(v) for v in values):
        raise DataError(where, f"{text!r}: values must be finite numbers")
    if integer:
        if any(v != int(v) for v in values):
            raise DataError(where, f"{text!r}: expected whole numbers")
        values = tuple(int(v) for v in values)
    if len(set(values)) != len(values):
        raise DataError(where, f"{text!r}: a value is listed twice")
    return values


@dataclass(frozen=True)
class Estimator:
    """``ols``, or ``ewma`` with a half-life in days."""

    kind: str
    halflife: float = math.nan

    def label(self) -> str:
        return "ols" if self.kind == "ols" else f"ewma{self.halflife:g}"


@dataclass(frozen=True)
class Grid:
    """Every axis of a sweep. Validated on construction; errors name the CLI flag."""

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

    def __post_init__(self):
        def need(cond, flag, problem):
            if not cond:
                raise DataError(flag, problem)

        # one type per axis (TOML and CLI may mix 0 and 0.001), so JSON and the ledger agree
        for name in ("rebalance", "window"):
            object.__setattr__(self, name, tuple(int(v) for v in getattr(self, name)))
        for name in ("exposure", "hedge_ratio", "drift_band", "cost", "impact"):
            object.__setattr__(self, name, tuple(float(v) for v in getattr(self, name)))

        need(self.legs, "--tickers", "no long leg: give at least one ticker")
        names = [leg.name for leg in self.legs]
        need(len(set(names)) == len(names), "--tickers", "a long leg is listed twice")
        need(
            all(self.hedge not in (leg.name, *leg.tickers) for leg in self.legs),
            "--hedge",
            f"{self.hedge} is also a long leg or basket; hedge with a different ticker",
        )
        for flag, values in (
            ("--rebalance", self.rebalance),
            ("--window", self.window),
            ("--estimator", self.estimator),
            ("--exposure", self.exposure),
            ("--hedge-ratio", self.hedge_ratio),
            ("--drift-band", self.drift_band),
            ("--cost", self.cost),
            ("--impact", self.impact),
        ):
            need(len(values) >= 1, flag, "needs at least one value")
            need(len(set(values)) == len(values), flag, "a value is listed twice")
        need(min(self.rebalance) >= 1, "--rebalance", "periods must be >= 1 day")
        need(min(self.window) >= 2, "--window", "beta windows must be >= 2 returns")
        need(min(self.exposure) > 0, "--exposure", "exposures must be > 0")
        need(min(self.hedge_ratio) >= 0, "--hedge-ratio", "hedge ratios must be >= 0")
        need(min(self.drift_band) >= 0, "--drift-band", "drift bands must be >= 0")
        need(
            min(self.cost) >= 0 and max(self.cost) <= 0.1,
            "--cost",
            "costs are fractions of traded notional in [0, 0.1] (0.001 = 10 bp)",
        )
        need(min(self.impact) >= 0, "--impact", "impact coefficients must be >= 0")
        for e in self.estimator:
            need(
                e.kind == "ols" or (e.kind == "ewma" and e.halflife > 0),
                "--estimator",
                f"bad estimator {e}",
            )

    # -- sizes ---------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(getattr(self, name)) for name in AXES)

    @property
    def n_scenarios(self) -> int:
        return len(self.cost) * len(self.impact)

    @property
    def n_strategies(self) -> int:
        """Strategies per leg (every axis but the scenarios)."""
        return int(np.prod(self.shape[:6]))

    @property
    def rows_per_leg(self) -> int:
        return self.n_strategies * self.n_scenarios

    @property
    def n_rows(self) -> int:
        return self.rows_per_leg * len(self.legs)

    # -- decoding ------------------------------------------------------------------------------
    def decode(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        """Parameter arrays of a leg's rows (estimator as an index into ``self.estimator``)."""
        idx = np.unravel_index(np.asarray(rows, dtype=np.int64), self.shape)
        out = {}
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
        d = {name: list(getattr(self, name)) for name in AXES if name != "estimator"}
        d["estimator"] = [[e.kind, None if e.kind == "ols" else e.halflife] for e in self.estimator]
        d["legs"] = [leg.spec() for leg in self.legs]
        d["hedge"] = self.hedge
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Grid:
        est = tuple(Estimator(k, math.nan if h is None else float(h)) for k, h in d["estimator"])
        return cls(
            legs=tuple(parse_leg(s) for s in d["legs"]),
            hedge=d["hedge"],
            rebalance=tuple(d["rebalance"]),
            window=tuple(d["window"]),
            estimator=est,
            **{k: tuple(d[k]) for k in ("exposure", "hedge_ratio", "drift_band", "cost", "impact")},
        )


def estimators(kinds: tuple[str, ...], halflives: tuple[float, ...]) -> tuple[Estimator, ...]:
    """``ols`` once, ``ewma`` once per half-life."""
    out = []
    for kind in kinds:
        if kind == "ols":
            out.append(Estimator("ols"))
        elif kind == "ewma":
            out.extend(Estimator("ewma", float(h)) for h in halflives)
        else:
            raise DataError("--estimator", f"unknown estimator {kind!r}; expected ols or ewma")
    return tuple(out)

"""The optimiser's settings as the user states them, and the rules they obey.

Group limits and Black-Litterman views are the classes the config holds (``[optimizer]``), the
optimiser's request carries (:class:`hedgedesk.core.optimize.request.OptimizeRequest`) and the
optimisers take (:mod:`hedgedesk.core.optimize`). :func:`check_settings` is the one set of
rules for the optimiser's numbers and choices: the config loader applies it to
``[optimizer]``, the request to itself, so a value the config refuses the command line and the
optimiser screen refuse too. A refusal is a :class:`SettingError` that names the field in the
user's terms (:class:`Naming`: config keys, command-line flags or form labels).

No numerics and no configuration here (the config, the market data and the numerics may all
import it). Weights, caps and rates are fractions (0.15 = 15 %); returns, volatilities and
tracking error annualised; ``rf`` an annual rate (CONVENTIONS); ``cost_budget`` money (USD).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hedgedesk.core.errors import HedgedeskError

OBJECTIVES = (
    "min-variance",
    "max-sharpe",
    "max-return",
    "frontier",
    "mean-cvar",
    "risk-parity",
    "kelly",
    "hedge-overlay",
    "utility",
)
SHRINKAGES = ("ledoit-wolf",)
OVERLAY_OBJECTIVES = ("variance", "cvar")


# -- what the user states ------------------------------------------------------------------------
@dataclass(frozen=True)
class Group:
    """A limit on the summed weight of ``tickers``: between ``min`` and ``max``, fractions of
    NAV. The optimisers take any bounds (a levered group may exceed 1); the request and the
    config accept 0 <= min <= max <= 1.
    """

    name: str
    tickers: tuple[str, ...]
    min: float = 0.0
    max: float = 1.0


@dataclass(frozen=True)
class View:
    """A Black-Litterman view: the portfolio ``sum weights[i] * r[assets[i]]`` returns ``view``
    a year (annualised simple return, a fraction), held with ``confidence`` in (0, 1]. One
    asset with weight 1 is an absolute view; weights +1/-1 on two assets a relative one.
    """

    assets: tuple[str, ...]
    weights: tuple[float, ...]
    view: float
    confidence: float


# -- naming --------------------------------------------------------------------------------------
ADVICE = ("long_short",)  # words a message may name that are not fields: how to ask for shorts


@dataclass(frozen=True)
class Naming:
    """How the user calls the optimiser's settings: config keys, command-line flags or form
    labels.

    ``names`` maps a field (and the advice word ``long_short``: how to ask for a long-short
    book) to the user's name for it; a field it lacks takes ``fallback``'s name, else keeps
    its own. ``items``: an item's place follows the name (``groups[0].min``) or is dropped
    (``--group``).
    """

    names: Mapping[str, str]
    items: bool = True
    fallback: Naming | None = None

    def of(self, path: str) -> str:
        """The user's name for ``path``: a field (``max_weight``) or an item of one
        (``groups[0].min``, ``budgets.AAPL``).
        """
        head = re.match(r"\w+", path)
        key = head.group() if head else path
        if key in self.names:
            return self.names[key] + (path[len(key) :] if self.items else "")
        return self.fallback.of(path) if self.fallback is not None else path

    def only(self, given: Iterable[str]) -> Naming:
        """These names for the ``given`` fields (and the advice words) alone; every other field
        takes the fallback's name: what the user typed is named as typed, the rest by where
        it came from.
        """
        keep = set(given)
        return Naming(
            {k: v for k, v in self.names.items() if k in keep or k in ADVICE},
            self.items,
            self.fallback,
        )

    def within(self, prefix: str) -> Naming:
        """Names relative to a table: ``prefix`` taken off those that start with it."""
        return Naming(
            {k: v.removeprefix(prefix) for k, v in self.names.items()},
            self.items,
            self.fallback.within(prefix) if self.fallback is not None else None,
        )


class SettingError(HedgedeskError):
    """A setting the optimiser cannot take: ``path`` is the request field (``max_weight``) or
    an item of one (``groups[0].min``), ``value`` what it holds, ``expected`` what it should
    hold; ``{0}``, ``{1}`` in ``expected`` stand for the names of the fields in ``refs``.
    ``str()`` names fields as the request does; :meth:`named` as the user does.
    """

    def __init__(self, path: str, value: object, expected: str, refs: tuple[str, ...] = ()):
        self.path, self.value, self.expected, self.refs = path, value, expected, refs
        super().__init__(self.named(Naming({})))

    def expected_in(self, naming: Naming) -> str:
        """What was expected, other fields named by ``naming``."""
        return self.expected.format(*(naming.of(r) for r in self.refs))

    def named(self, naming: Naming) -> str:
        """One line: the field by ``naming``, the value, what was expected."""
        return f"{naming.of(self.path)}: got {self.value!r}, expected {self.expected_in(naming)}"


# -- the rules -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Range:
    """Allowed values of a number: finite, at least ``lo`` (above it when ``lo_open``), at most
    ``hi``, and whole when ``whole``.
    """

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    whole: bool = False

    def holds(self, value: object) -> bool:
        """Whether ``value`` is such a number (a bool is not a number)."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if not math.isfinite(value) or (self.whole and not float(value).is_integer()):
            return False
        if self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo):
            return False
        return self.hi is None or value <= self.hi

    def expected(self) -> str:
        """The rule in words: ``a finite number > 0 and <= 1``."""
        bounds = []
        if self.lo is not None:
            bounds.append(f"{'>' if self.lo_open else '>='} {self.lo:g}")
        if self.hi is not None:
            bounds.append(f"<= {self.hi:g}")
        kind = "a whole number" if self.whole else "a finite number"
        return " ".join([kind, " and ".join(bounds)]).strip()

    def check(self, path: str, value: object) -> None:
        """Raise :class:`SettingError` unless ``value`` holds."""
        if not self.holds(value):
            raise SettingError(path, value, self.expected())


# One range per number, for the config, the flags and the form alike. A negative maximum
# weight is refused: shorts come from a negative min_weight on a long-short book.
RANGES = {
    "min_weight": Range(-1, 1),
    "max_weight": Range(0, 1, lo_open=True),
    "vol_cap": Range(0, lo_open=True),
    "gross_max": Range(0, lo_open=True),
    "turnover_max": Range(0),
    "cost_rate": Range(0, 0.1),
    "te_cap": Range(0, lo_open=True),
    "rf": Range(-0.5, 1),
    "points": Range(2, whole=True),
    "risk_aversion": Range(0, lo_open=True),
    "confidence": Range(0.5, 0.999),
    "kelly_fraction": Range(0, 1, lo_open=True),
    "tau": Range(0, 1, lo_open=True),
    "target_return": Range(-1, 10),
    "cost_budget": Range(0),
}
BAND = {"beta_band": Range(-5, 5), "net": Range(-10, 10)}  # [low, high] pairs
GROUP_BOUND = Range(0, 1)
VIEW_RETURN = Range(-1, 10)
VIEW_CONFIDENCE = Range(0, 1, lo_open=True)
BUDGET = Range(0, lo_open=True)
PRIOR_WEIGHT = Range(0)
CHOICES = {
    "objective": OBJECTIVES,
    "shrinkage": (None, *SHRINKAGES),
    "overlay_objective": OVERLAY_OBJECTIVES,
}


def _choice(path: str, value: object, choices: tuple) -> None:
    if value not in choices:
        words = ["none" if c is None else c for c in choices]
        raise SettingError(path, value, "one of " + ", ".join(words))


def _pair(path: str, value: object, rng: Range) -> None:
    if not isinstance(value, tuple | list) or len(value) != 2:
        raise SettingError(path, value, "[low, high]")
    for x in value:
        if not rng.holds(x):
            raise SettingError(path, value, f"[low, high], each {rng.expected()}")
    if value[0] > value[1]:
        raise SettingError(path, value, "[low, high] with low <= high")


def check_settings(values: Mapping[str, Any]) -> None:
    """Check the optimiser settings in ``values`` (request field names; absent ones are not
    checked): each number in its :data:`RANGES` range, each choice among its choices, each
    pair ``[low, high]`` in order, groups, views, budgets and prior weights, and a long-only
    book with neither a negative floor nor a gross limit. Raises :class:`SettingError`.
    """
    for key, rng in RANGES.items():
        if values.get(key) is not None:
            rng.check(key, values[key])
    long_only = values.get("long_only", True)
    if not isinstance(long_only, bool):
        raise SettingError("long_only", long_only, "true or false")
    if not isinstance(values.get("overlay_free_signs", False), bool):
        raise SettingError("overlay_free_signs", values["overlay_free_signs"], "true or false")
    lo, hi = values.get("min_weight"), values.get("max_weight")
    if long_only and lo is not None and lo < 0:
        raise SettingError(
            "min_weight",
            lo,
            f"{Range(0, 1).expected()} on a long-only book (shorts need {{0}})",
            ("long_short",),
        )
    if lo is not None and hi is not None and lo > hi:
        raise SettingError("min_weight", lo, f"a number <= {{0}} ({hi:g})", ("max_weight",))
    if long_only and values.get("gross_max") is not None:
        raise SettingError(
            "gross_max",
            values["gross_max"],
            "no gross limit on a long-only book (gross limits are for long-short books: {0})",
            ("long_short",),
        )
    for key, choices in CHOICES.items():
        if key in values:
            _choice(key, values[key], choices)
    for key, rng in BAND.items():
        if values.get(key) is not None:
            _pair(key, values[key], rng)
    for i, g in enumerate(values.get("groups", ())):
        where = f"groups[{i}]"
        if not g.tickers:
            raise SettingError(f"{where}.tickers", list(g.tickers), "at least one ticker")
        GROUP_BOUND.check(f"{where}.min", g.min)
        GROUP_BOUND.check(f"{where}.max", g.max)
        if g.min > g.max:
            raise SettingError(f"{where}.min", g.min, f"a number <= max ({g.max:g})")
    for i, v in enumerate(values.get("views", ())):
        where = f"views[{i}]"
        if len(v.weights) != len(v.assets):
            raise SettingError(
                f"{where}.weights", list(v.weights), f"{len(v.assets)} numbers, one per asset"
            )
        VIEW_RETURN.check(f"{where}.view", v.view)
        VIEW_CONFIDENCE.check(f"{where}.confidence", v.confidence)
    for ticker, budget in values.get("budgets", ()):
        BUDGET.check(f"budgets.{ticker}", budget)
    for ticker, weight in values.get("prior", ()):
        PRIOR_WEIGHT.check(f"prior.{ticker}", weight)


# Where each field comes from in the desk config (the names a config-made value is told by).
CONFIG_KEYS = Naming(
    {
        **{
            f: f"optimizer.{f}"
            for f in (
                "objective",
                "long_only",
                "min_weight",
                "max_weight",
                "groups",
                "vol_cap",
                "net",
                "gross_max",
                "turnover_max",
                "cost_rate",
                "beta_band",
                "te_cap",
                "points",
                "shrinkage",
                "risk_aversion",
                "kelly_fraction",
                "budgets",
                "views",
                "tau",
                "prior",
            )
        },
        "confidence": "optimizer.cvar_confidence",
        "rf": "risk.rf",
        "tickers": "data.universe",
        "benchmark": "data.benchmark",
        "long_short": "optimizer.long_only = false",
    }
)

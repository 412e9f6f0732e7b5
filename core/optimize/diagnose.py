"""Why a portfolio problem is infeasible, in plain words, and the smallest relaxation that works.

:func:`diagnose` works in three steps, cheapest first:

1. Arithmetic that needs no solver: a minimum above its maximum, ``n x max_weight`` below the
   net minimum, ``n x min_weight`` above the net maximum, a group minimum above what its
   members can hold at the cap, minimums of disjoint groups summing to more than the budget.
   Each of these is a proof of infeasibility.
2. Attainability of the risk caps: for the volatility cap, the tracking-error cap, the beta band,
   the turnover limit and the gross limit, the extreme attainable under all the *other*
   constraints (one small solve each, with that cap removed), compared with the cap. When the
   other constraints hold together, the feasible set without the cap is convex and the measure
   is convex (beta: linear), so "cap beyond the attainable extreme" is exactly the cause.
3. An elastic problem: each constraint family of :func:`hedgedesk.core.optimize.problem.build` gets
one
   nonnegative slack, in the constraint's own units (fractions of NAV for weights, groups,
   budget, turnover and gross; annualised volatility for the volatility and tracking-error caps;
   beta for the beta band, where a beta of 0.01 is one percentage point of benchmark exposure),
   so the slacks are comparable and their sum is the total change to the numbers the user set.
   The budget counts ten times (relaxing it changes what the book is: cash or leverage) and a
   long-only floor may only fall to zero. The least total slack gives the relaxation; it is
   rounded outward to 0.01 percentage point (beta: 0.001) and verified by re-solving the relaxed
   problem. When steps 1 and 2 name no cause, a deletion filter on the elastic problem finds an
   irreducible set of constraints that conflict (dropping any one of them makes the rest
   attainable) and names it.

Every solve goes through the fallback chain of :func:`hedgedesk.core.optimize.problem.solve`;
``tried`` lists
each step with the solvers tried and the status reached.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import cvxpy as cp
import numpy as np

from hedgedesk.core.optimize.problem import (
    Constraints,
    Estimates,
    Group,
    Named,
    OptimizationError,
    build,
    net_return,
    solve,
    solved,
)

FEASIBLE = (cp.OPTIMAL, cp.OPTIMAL_INACCURATE)
INFEASIBLE = (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE)

TOL = 1e-6  # violations and slacks at or below this (in the constraint's units) are noise
BUDGET_PENALTY = 10.0  # relaxing the budget costs this many times a unit of any other slack
FREE_SLACK = 100.0  # bound on a slack whose constraint is dropped (deletion filter)
PCT_STEP = 1e-4  # suggestions rounded outward to 0.01 percentage point
BETA_STEP = 1e-3
_SOLVED = (cp.OPTIMAL, cp.OPTIMAL_INACCURATE)

# Families whose bound is an upper limit (relaxed by raising it); the others are lower limits.
_UPPER = {"net_max", "max_weight", "gross", "group_max", "vol", "turnover", "beta_max", "te"}
# Families checked for attainability in step 2, in the order their reasons are given.
_CAPS = ("vol", "te", "beta_min", "beta_max", "turnover", "gross")


@dataclass(frozen=True)
class Diagnosis:
    """Whether ``Constraints`` admit a portfolio and, if not, why.

    Attributes
    ----------
    feasible : bool
    reasons : tuple of str
        Plain words with the numbers (percentages of NAV or annualised, betas as numbers).
    suggestion : str
        The smallest relaxation found, verified by a re-solve (empty when feasible).
    relaxations : dict of str to float
        Each constraint name of :func:`hedgedesk.core.optimize.problem.build` that needs
        relaxing to the amount, in its own units (fractions of NAV, annualised volatility,
        beta), from the elastic problem (unrounded).
    tried : tuple of str
        Each solve: step, solvers tried, status.
    attainable : dict of str to float
        The extremes computed in step 2 (e.g. ``"lowest volatility"``, annualised),
        unrounded.
    """

    feasible: bool
    reasons: tuple[str, ...]
    suggestion: str
    relaxations: dict[str, float]
    tried: tuple[str, ...]
    attainable: dict[str, float] = field(default_factory=dict)

    def error(self, message: str = "the problem is infeasible") -> OptimizationError:
        """The :class:`OptimizationError` to raise for an infeasible problem."""
        return OptimizationError(message, self.reasons, self.tried, self.suggestion)


# -- formatting --------------------------------------------------------------------------------
def _num(x: float, decimals: int) -> str:
    text = f"{x:.{decimals}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def pct(x: float, places: int = 2) -> str:
    """A fraction as a percentage with at most ``places`` decimals: 0.0476 -> '4.76 %'.

    Parameters
    ----------
    x : float
        A fraction (0.01 = 1 %).
    places : int
        Most decimals of the percentage (trailing zeros dropped).

    Returns
    -------
    str
    """
    return f"{_num(100.0 * x, places)} %"


def _beta(x: float, places: int = 3) -> str:
    return _num(x, places)


def _places(pairs, base: int = 2, scale: float = 100.0) -> int:
    """Decimals (from ``base``, at most four more) that show each pair of different numbers
    as different, so a message never reads '100 % is below 100 %'.
    """
    places = base
    while places < base + 4 and any(
        a != b and _num(a * scale, places) == _num(b * scale, places) for a, b in pairs
    ):
        places += 1
    return places


# -- constraint families -----------------------------------------------------------------------
@dataclass(frozen=True)
class _Family:
    named: Named
    kind: str  # net_max, net_min, min_weight, max_weight, gross, group_max, group_min, vol, te,
    #            turnover, beta_max, beta_min, or other (a name this module does not know)
    bound: float  # the number the user set
    group: int | None = None  # index in ``Constraints.groups``

    @property
    def upper(self) -> bool:
        return self.kind in _UPPER

    @property
    def step(self) -> float:
        return BETA_STEP if self.kind.startswith("beta") else PCT_STEP

    def values(self, *xs: float) -> list[str]:
        """``xs`` formatted alike, with the decimals that tell them apart."""
        beta = self.kind.startswith("beta")
        pairs = list(itertools.combinations(xs, 2))
        if beta:
            return [_beta(x, _places(pairs, 3, 1.0)) for x in xs]
        return [pct(x, _places(pairs)) for x in xs]

    def value(self, x: float) -> str:
        return self.values(x)[0]


def _families(c: Constraints, named: list[Named]) -> list[_Family]:
    """The named constraints of :func:`build` with the parameter each one bounds."""
    return [_Family(nc, nc.kind, nc.bound, nc.group) for nc in named]


def _group_name(c: Constraints, f: _Family) -> str:
    return c.groups[f.group].name if f.group is not None else ""


def _label(f: _Family, c: Constraints) -> str:
    """The constraint in plain words, for the list of constraints that conflict."""
    v = f.value(f.bound)
    if f.kind == "net_max":
        return f"weights summing to at most {v}"
    if f.kind == "net_min":
        return f"weights summing to at least {v}"
    if f.kind == "min_weight":
        return "no short positions" if c.long_only and f.bound == 0 else f"each weight at least {v}"
    labels = {
        "max_weight": f"each weight at most {v}",
        "gross": f"gross exposure at most {v}",
        "group_max": f"group {_group_name(c, f)} at most {v}",
        "group_min": f"group {_group_name(c, f)} at least {v}",
        "vol": f"volatility at most {v}",
        "te": f"tracking error at most {v}",
        "turnover": f"turnover at most {v} from the current weights",
        "beta_max": f"beta at most {v}",
        "beta_min": f"beta at least {v}",
    }
    return labels.get(f.kind, f.named.name)


def _labels(fams: list[_Family], c: Constraints) -> list[str]:
    text = [_label(f, c) for f in fams]
    kinds = [f.kind for f in fams]
    if "net_max" in kinds and "net_min" in kinds and c.net_min == c.net_max:
        i, j = kinds.index("net_max"), kinds.index("net_min")
        text[i] = f"weights summing to {pct(c.net_max)}"
        del text[j]
    return text


def _relaxed_value(f: _Family, amount: float, c: Constraints) -> float:
    """The bound moved outward by ``amount``, rounded outward to the family's step."""
    step = f.step
    if f.upper:
        return math.ceil((f.bound + amount) / step - 1e-3) * step
    value = math.floor((f.bound - amount) / step + 1e-3) * step
    if f.kind == "min_weight" and c.long_only:
        value = max(value, 0.0)
    return value


def _apply(c: Constraints, f: _Family, value: float) -> Constraints:
    simple = {
        "net_max": "net_max",
        "net_min": "net_min",
        "min_weight": "min_weight",
        "max_weight": "max_weight",
        "gross": "gross_max",
        "vol": "vol_cap",
        "te": "te_cap",
        "turnover": "turnover_max",
        "beta_max": "beta_max",
        "beta_min": "beta_min",
    }
    if f.kind in simple:
        bound: dict[str, Any] = {simple[f.kind]: value}
        return dataclasses.replace(c, **bound)
    if f.kind in ("group_max", "group_min") and f.group is not None:
        limit: dict[str, Any] = {"max" if f.kind == "group_max" else "min": value}
        groups = tuple(
            dataclasses.replace(g, **limit) if i == f.group else g for i, g in enumerate(c.groups)
        )
        return dataclasses.replace(c, groups=groups)
    return c


def _phrase(f: _Family, value: float, c: Constraints) -> str:
    a, b = f.values(f.bound, value)
    name = _group_name(c, f)
    phrases = {
        "net_max": f"raise the net maximum (the most the weights may sum to) from {a} to {b}",
        "net_min": f"lower the net minimum (the least the weights may sum to) from {a} to {b}",
        "min_weight": f"lower the minimum weight from {a} to {b}",
        "max_weight": f"raise the maximum weight from {a} to {b}",
        "gross": f"raise the gross limit from {a} to {b}",
        "group_max": f"raise the {name} group maximum from {a} to {b}",
        "group_min": f"lower the {name} group minimum from {a} to {b}",
        "vol": f"raise the volatility cap from {a} to {b}",
        "te": f"raise the tracking-error cap from {a} to {b}",
        "turnover": f"raise the turnover limit from {a} to {b}",
        "beta_max": f"raise the beta maximum from {a} to {b}",
        "beta_min": f"lower the beta minimum from {a} to {b}",
    }
    return phrases.get(f.kind, f"relax '{f.named.name}'")


# -- step 1: arithmetic ------------------------------------------------------------------------
def _members(g: Group, est: Estimates) -> list[int]:
    index = {t: i for i, t in enumerate(est.tickers)}
    return sorted({index[t] for t in g.tickers if t in index})


def _budget_words(c: Constraints, side: str, places: int = 2) -> str:
    if c.net_min == c.net_max:
        return f"the {pct(c.net_min, places)} the weights must sum to"
    return f"the {pct(c.net_min if side == 'min' else c.net_max, places)} net {side}imum"


def _disjoint(groups: list[tuple[Group, list[int]]]) -> bool:
    seen: set[int] = set()
    for _, idx in groups:
        if seen & set(idx):
            return False
        seen |= set(idx)
    return True


def _arithmetic(c: Constraints, est: Estimates) -> list[str]:
    """Reasons that need no solver; each one proves the problem infeasible."""
    n, lo, hi = est.n, c.lower(), c.max_weight
    has_floor = c.long_only or np.isfinite(lo)
    out = []
    if has_floor and lo > hi + TOL:
        d = _places([(lo, hi)])
        out.append(f"the minimum weight {pct(lo, d)} is above the maximum weight {pct(hi, d)}")
    if c.net_min > c.net_max + TOL:
        d = _places([(c.net_min, c.net_max)])
        out.append(
            f"the net minimum {pct(c.net_min, d)} is above the net maximum {pct(c.net_max, d)}"
        )
    if (
        c.betas is not None
        and c.beta_min is not None
        and c.beta_max is not None
        and c.beta_min > c.beta_max + TOL
    ):
        d = _places([(c.beta_min, c.beta_max)], 3, 1.0)
        out.append(
            f"the beta band [{_beta(c.beta_min, d)}, {_beta(c.beta_max, d)}] is empty: "
            "its minimum is above its maximum"
        )
    for what, cap in (
        ("volatility cap", c.vol_cap),
        ("tracking-error cap", c.te_cap if c.benchmark_weights is not None else None),
        ("turnover limit", c.turnover_max if c.current is not None else None),
        ("gross limit", None if c.long_only else c.gross_max),
    ):
        if cap is not None and cap < -TOL:
            out.append(f"the {what} {pct(cap)} is negative")
    if not c.long_only and c.gross_max is not None:
        need = max(c.net_min, -c.net_max, 0.0)
        if c.gross_max >= -TOL and c.gross_max < need - TOL:
            d = _places([(c.gross_max, need)])
            side = "net minimum" if c.net_min > 0 else "net maximum"
            out.append(
                f"the gross limit {pct(c.gross_max, d)} is below the {pct(need, d)} that "
                f"the {side} needs (gross exposure is at least the absolute net)"
            )
    if n * hi < c.net_min - TOL:
        d = _places([(n * hi, c.net_min)])
        out.append(
            f"the {pct(hi, d)} cap on each of {n} assets allows at most {pct(hi, d)} x "
            f"{n} = {pct(n * hi, d)}, below {_budget_words(c, 'min', d)}"
        )
    if has_floor and n * lo > c.net_max + TOL:
        d = _places([(n * lo, c.net_max)])
        out.append(
            f"the {pct(lo, d)} minimum weight on each of {n} assets needs at least "
            f"{pct(lo, d)} x {n} = {pct(n * lo, d)}, above {_budget_words(c, 'max', d)}"
        )
    present = [(g, _members(g, est)) for g in c.groups]
    present = [(g, idx) for g, idx in present if idx]
    for g, idx in present:
        k = len(idx)
        if g.min > g.max + TOL:
            d = _places([(g.min, g.max)])
            out.append(
                f"the group {g.name} minimum {pct(g.min, d)} is above its maximum {pct(g.max, d)}"
            )
        if g.min > k * hi + TOL:
            d = _places([(g.min, k * hi)])
            out.append(
                f"the group {g.name} minimum {pct(g.min, d)} is above what its {k} "
                f"members can hold at the {pct(hi, d)} cap: {pct(hi, d)} x {k} = "
                f"{pct(k * hi, d)}"
            )
        if has_floor and g.max < k * lo - TOL:
            d = _places([(g.max, k * lo)])
            out.append(
                f"the group {g.name} maximum {pct(g.max, d)} is below what its {k} "
                f"members need at the {pct(lo, d)} minimum weight: {pct(lo, d)} x {k} = "
                f"{pct(k * lo, d)}"
            )
    out.extend(_group_sums(c, est, present, lo if has_floor else -math.inf, hi))
    return out


def _group_sums(
    c: Constraints, est: Estimates, present: list[tuple[Group, list[int]]], lo: float, hi: float
) -> list[str]:
    """Disjoint groups: their minimums (plus the floors of the other assets) against the net
    maximum, and their maximums (plus the caps of the other assets) against the net minimum.
    """
    out = []
    with_min = [(g, idx) for g, idx in present if g.min > 0]
    if with_min and _disjoint(with_min) and np.isfinite(lo):
        total = sum(g.min for g, _ in with_min)
        rest = est.n - sum(len(idx) for _, idx in with_min)
        least = total + rest * lo
        if least > c.net_max + TOL:
            d = _places([(least, c.net_max)])
            if len(with_min) == 1:
                text = f"the group {with_min[0][0].name} minimum is {pct(total, d)}"
            else:
                parts = ", ".join(f"{g.name} {pct(g.min, d)}" for g, _ in with_min)
                text = f"group minimums sum to {pct(total, d)} ({parts})"
            if rest and lo > 0:
                text += (
                    f" and the {rest} other assets need {pct(lo, d)} x {rest} = "
                    f"{pct(rest * lo, d)} at the minimum weight, {pct(least, d)} in all"
                )
            elif rest and lo < 0:
                text += (
                    f"; the {rest} other assets can offset at most {pct(-rest * lo, d)}, "
                    f"leaving {pct(least, d)}"
                )
            out.append(f"{text}, above {_budget_words(c, 'max', d)}")
    with_max = [(g, idx) for g, idx in present if g.max < 1]
    if with_max and _disjoint(with_max):
        total = sum(g.max for g, _ in with_max)
        rest = est.n - sum(len(idx) for _, idx in with_max)
        most = total + rest * hi
        if most < c.net_min - TOL:
            d = _places([(most, c.net_min)])
            if len(with_max) == 1:
                text = f"the group {with_max[0][0].name} maximum is {pct(total, d)}"
            else:
                parts = ", ".join(f"{g.name} {pct(g.max, d)}" for g, _ in with_max)
                text = f"group maximums sum to {pct(total, d)} ({parts})"
            if rest:
                text += (
                    f" and the {rest} other assets can add at most {pct(hi, d)} x {rest} "
                    f"= {pct(rest * hi, d)}, {pct(most, d)} in all"
                )
            out.append(f"{text}, below {_budget_words(c, 'min', d)}")
    return out


# -- solves ------------------------------------------------------------------------------------
def _run(problem: cp.Problem, step: str, tried: list[str]) -> bool:
    solver, chain = solve(problem)
    tried.append(f"{step}: {'/'.join(chain) or 'no solver'} {problem.status}")
    return bool(solver) and problem.status in _SOLVED


def _feasible(c: Constraints, est: Estimates, step: str, tried: list[str]) -> bool:
    """A solver found weights that meet every constraint of ``c`` to within :data:`TOL` (a
    loose solver's "optimal" with a larger violation does not count).
    """
    w = cp.Variable(est.n)
    named = build(w, c, est)
    if not _run(cp.Problem(cp.Minimize(0), [nc.constraint for nc in named]), step, tried):
        return False
    worst = min(float(np.min(solved(nc.slack))) for nc in named)
    if worst < -TOL:
        tried.append(f"{step}: rejected, a constraint is violated by {-worst:.1e}")
        return False
    return True


def _attainability(
    c: Constraints, fams: list[_Family], tried: list[str]
) -> tuple[list[str], dict[str, float]]:
    """For each risk cap, the extreme attainable under the other constraints (step 2): maximise
    t subject to ``slack >= t`` for the cap and ``slack >= 0`` for every other family.
    """
    caps = [f for f in fams if f.kind in _CAPS]
    if not caps:
        return [], {}
    sel = cp.Parameter(len(fams), nonneg=True)
    t = cp.Variable()
    cons = [f.named.slack >= sel[j] * t for j, f in enumerate(fams)]
    problem = cp.Problem(cp.Maximize(t), [*cons, t <= FREE_SLACK])
    reasons, attained = [], {}
    for f in sorted(caps, key=lambda f: _CAPS.index(f.kind)):
        onehot = np.zeros(len(fams))
        onehot[fams.index(f)] = 1.0
        sel.value = onehot
        if not _run(problem, f"extreme without '{f.named.name}'", tried):
            continue  # the other constraints do not hold together: not this cap alone
        gap = -float(solved(t))
        extreme = f.bound + gap if f.upper else f.bound - gap
        shown = _relaxed_value(f, gap, c) if gap > TOL else extreme
        key = {
            "vol": "lowest volatility",
            "te": "lowest tracking error",
            "beta_min": "highest beta",
            "beta_max": "lowest beta",
            "turnover": "lowest turnover",
            "gross": "lowest gross exposure",
        }[f.kind]
        attained[key] = extreme
        if gap > TOL:
            reasons.append(_cap_reason(f, shown, c))
    return reasons, attained


def _cap_reason(f: _Family, extreme: float, c: Constraints) -> str:
    """``extreme`` is rounded outward (like the suggestion), so the statement stays true."""
    others = "under the other constraints"
    v, x = f.values(f.bound, extreme)
    if f.kind in ("beta_min", "beta_max"):
        if c.beta_min is not None and c.beta_max is not None:
            band = f"the beta band [{_beta(c.beta_min)}, {_beta(c.beta_max)}]"
        else:
            band = f"the beta {'minimum' if f.kind == 'beta_min' else 'maximum'} {v}"
        side = "above the highest" if f.kind == "beta_min" else "below the lowest"
        return f"{band} is {side} attainable beta {x} {others}"
    text = {
        "vol": f"the {v} volatility cap is below the lowest attainable {x}",
        "te": f"the {v} tracking-error cap is below the lowest attainable {x}",
        "turnover": f"the {v} turnover limit is below the lowest attainable turnover {x} "
        "from the current weights",
        "gross": f"the {v} gross limit is below the lowest attainable gross exposure {x}",
    }
    return f"{text[f.kind]} {others}"


class _Elastic:
    """min sum_j pen_j s_j subject to slack_j + s_j >= 0, 0 <= s_j <= ub_j, built once (DPP)
    and re-solved with other penalties and bounds.
    """

    def __init__(self, fams: list[_Family], c: Constraints):
        k = len(fams)
        self.pen = cp.Parameter(k, nonneg=True)
        self.ub = cp.Parameter(k, nonneg=True)
        self.s = cp.Variable(k, nonneg=True)
        cons = [f.named.slack + self.s[j] >= 0 for j, f in enumerate(fams)]
        self.problem = cp.Problem(cp.Minimize(self.pen @ self.s), [*cons, self.s <= self.ub])
        self.base_pen = np.array(
            [BUDGET_PENALTY if f.kind in ("net_min", "net_max") else 1.0 for f in fams]
        )
        self.base_ub = np.array(
            [f.bound if f.kind == "min_weight" and c.long_only else FREE_SLACK for f in fams]
        )
        self.base_ub = np.clip(self.base_ub, 0.0, None)

    def relax(self, tried: list[str]) -> np.ndarray | None:
        self.pen.value, self.ub.value = self.base_pen, self.base_ub
        if not _run(self.problem, "elastic relaxation", tried):
            return None
        return np.clip(np.asarray(self.s.value, dtype=np.float64), 0.0, None)

    def singles(self, tried: list[str]) -> dict[int, float]:
        """For each family, the least relaxation of it alone (every other family hard) that
        makes the problem feasible; families that cannot do it alone are left out.
        """
        k = len(self.base_pen)
        out: dict[int, float] = {}
        chain: set[str] = set()
        solves = 0
        for j in range(k):
            if self.base_ub[j] <= 0:
                continue
            onehot = np.zeros(k)
            onehot[j] = 1.0
            self.pen.value, self.ub.value = onehot, onehot * self.base_ub[j]
            solver, used = solve(self.problem)
            solves += 1
            chain.update(used)
            if solver and self.problem.status in _SOLVED:
                out[j] = max(float(solved(self.s)[j]), 0.0)
        tried.append(f"single relaxations ({solves} solves): {'/'.join(sorted(chain))}")
        return out

    def conflict(self, tried: list[str]) -> list[int] | None:
        """Deletion filter: an irreducible set of families that cannot hold together."""
        k = len(self.base_pen)
        keep = np.ones(k, dtype=bool)
        self.ub.value = np.full(k, FREE_SLACK)
        solves, chain = 0, set[str]()
        for j in range(k):
            trial = keep.copy()
            trial[j] = False
            self.pen.value = trial.astype(np.float64)
            solver, used = solve(self.problem)
            solves += 1
            chain.update(used)
            if not solver or self.problem.status not in _SOLVED:
                tried.append(f"conflict search: {'/'.join(sorted(chain))} {self.problem.status}")
                return None
            if float(self.problem.value) > TOL:
                keep = trial  # still infeasible without j: j is not needed for the conflict
        tried.append(f"conflict search ({solves} solves): {'/'.join(sorted(chain))}")
        return [j for j in range(k) if keep[j]]


def _relax(c: Constraints, fams: list[_Family], amounts: dict[int, float]) -> Constraints:
    out = c
    for j, amount in amounts.items():
        out = _apply(out, fams[j], _relaxed_value(fams[j], amount, c))
    return out


def _suggest(
    c: Constraints,
    est: Estimates,
    fams: list[_Family],
    amounts: dict[int, float],
    tried: list[str],
    step: str,
) -> str:
    """The relaxation in words, rounded outward and verified by a re-solve; widened a little
    when the solvers cannot confirm the rounded one at the boundary.
    """
    for attempt in range(2):
        widened = {
            j: a * (1 + 0.05 * attempt) + 5 * attempt * fams[j].step for j, a in amounts.items()
        }
        relaxed = _relax(c, fams, widened)
        if _feasible(relaxed, est, f"{step} (attempt {attempt + 1})", tried):
            return " and ".join(
                _phrase(fams[j], _relaxed_value(fams[j], a, c), c) for j, a in widened.items()
            )
    return ""


def _relaxation(
    c: Constraints, est: Estimates, fams: list[_Family], elastic: _Elastic, tried: list[str]
) -> tuple[dict[str, float], str, float | None]:
    """The smallest relaxation (least weighted total slack), preferring one family alone when
    it is as small as the best mix, then up to two other single-family relaxations that work;
    each verified by a re-solve. Also returns the least weighted total slack (None when the
    elastic problem could not be solved).
    """
    s = elastic.relax(tried)
    if s is None:
        return {}, "", None
    total = float(elastic.base_pen @ s)
    amounts = {j: float(s[j]) for j in range(len(fams)) if s[j] > TOL}
    singles = elastic.singles(tried)
    order = sorted(singles, key=lambda j: (elastic.base_pen[j] * singles[j], j))
    if (
        amounts
        and order
        and elastic.base_pen[order[0]] * singles[order[0]] <= total * (1 + 1e-4) + 1e-8
    ):
        amounts = {order[0]: singles[order[0]]}
    suggestion = _suggest(c, est, fams, amounts, tried, "relaxed problem") if amounts else ""
    found = {j: singles[j] for j in amounts} if suggestion and len(amounts) == 1 else {}
    alternatives: list[str] = []
    for j in order:
        if len(alternatives) == (2 if suggestion else 3):
            break
        if set(amounts) == {j} and suggestion:
            continue
        alt = _suggest(
            c, est, fams, {j: singles[j]}, tried, f"alternative: '{fams[j].named.name}' alone"
        )
        if alt:
            alternatives.append(alt)
            if not suggestion and not found:  # within tolerance: the first that works leads
                found = {j: singles[j]}
    parts = [suggestion, *alternatives] if suggestion else alternatives
    chosen = amounts if suggestion else found
    return {fams[j].named.name: a for j, a in chosen.items()}, "; or ".join(parts), total


def _check_shapes(c: Constraints, est: Estimates) -> None:
    for what, arr in (
        ("current weights", c.current),
        ("betas", c.betas),
        ("benchmark weights", c.benchmark_weights),
    ):
        if arr is not None and np.shape(arr) != (est.n,):
            raise OptimizationError(
                f"{what} have shape {np.shape(arr)}, expected ({est.n},) for {est.n} assets"
            )


def diagnose(c: Constraints, est: Estimates) -> Diagnosis:
    """Diagnose a constraint set; see the module docstring for the method. Feasible problems
    cost one solve.

    Parameters
    ----------
    c : Constraints
        On weights (n,), fractions of NAV; its arrays (current weights, betas, benchmark
        weights) of shape (n,).
    est : Estimates
        The universe of n assets and its annualised covariance (n, n).

    Returns
    -------
    Diagnosis
    """
    _check_shapes(c, est)
    tried: list[str] = []
    reasons = _arithmetic(c, est)
    if not reasons and _feasible(c, est, "full problem", tried):
        return Diagnosis(True, (), "", {}, tuple(tried))

    w = cp.Variable(est.n)
    fams = _families(c, build(w, c, est))
    attained: dict[str, float] = {}
    if not reasons:
        reasons, attained = _attainability(c, fams, tried)

    elastic = _Elastic(fams, c)
    relaxations, suggestion, total = _relaxation(c, est, fams, elastic, tried)
    if not reasons and total is not None and total <= TOL:
        reasons = [
            f"the constraints fail only within solver tolerance (the least relaxation "
            f"needed is {total:.1e}); the solvers tried could not confirm a solution"
        ]
    if not reasons:
        idx = elastic.conflict(tried)
        if idx:
            reasons = [
                f"no portfolio meets all of: {'; '.join(_labels([fams[j] for j in idx], c))}"
                " (dropping any one of them makes the rest attainable)"
            ]
        else:
            reasons = ["the solvers could not establish why the problem is infeasible"]
    return Diagnosis(False, tuple(reasons), suggestion, relaxations, tuple(tried), attained)


# -- explaining an optimiser's failure ------------------------------------------------------
def constraint_reasons(c: Constraints, est: Estimates) -> tuple[tuple[str, ...], str]:
    """Why the constraint set admits no portfolio, in plain words, and the smallest relaxation
    that works (:func:`diagnose`).

    Returns
    -------
    reasons : tuple of str
        At least one.
    suggestion : str
        The relaxation in words ("" when none was found).
    """
    found = diagnose(c, est)
    return found.reasons or ("the constraints admit no portfolio",), found.suggestion


def constraints_feasible(c: Constraints, est: Estimates) -> bool:
    """Whether the constraint set alone (no objective, no scenarios) admits a portfolio."""
    w = cp.Variable(est.n)
    problem = cp.Problem(cp.Minimize(0), [nc.constraint for nc in build(w, c, est)])
    solve(problem)
    return problem.status in FEASIBLE


def max_return(c: Constraints, est: Estimates) -> float:
    """The highest expected return the constraints allow.

    Returns
    -------
    float
        Annualised, net of transaction costs (fraction); inf if unbounded, nan if the
        constraints are infeasible.
    """
    w = cp.Variable(est.n)
    problem = cp.Problem(
        cp.Maximize(net_return(w, c, est)), [nc.constraint for nc in build(w, c, est)]
    )
    solve(problem)
    if problem.status in FEASIBLE:
        return float(problem.value)
    return math.inf if problem.status == cp.UNBOUNDED else math.nan


def unsolved(
    what: str,
    problem: cp.Problem,
    c: Constraints,
    est: Estimates,
    tried: tuple[str, ...],
    target: float | None = None,
    objective_reason: str = "",
) -> OptimizationError:
    """The error for a problem no solver solved: infeasible constraints are explained by
    :func:`constraint_reasons`; a feasible set with an unattainable return target names the
    highest attainable return; otherwise ``objective_reason`` (the objective's own domain).

    Parameters
    ----------
    what : str
        The problem's name in the message ("mean-CVaR", "Kelly").
    problem : cvxpy Problem
        The problem that failed (its status).
    c, est : Constraints, Estimates
        Its constraint set and estimates.
    tried : tuple of str
        The solvers tried.
    target : float, optional
        Its annualised return target (fraction), if it had one.
    objective_reason : str
        Why the objective itself may fail.

    Returns
    -------
    OptimizationError
        To raise.
    """
    status = problem.status or "not solved"
    if status in INFEASIBLE or status == cp.UNBOUNDED:
        if not constraints_feasible(c, est):
            reasons, suggestion = constraint_reasons(c, est)
            return OptimizationError(f"{what}: infeasible", reasons, tried, suggestion)
        if target is not None:
            best = max_return(c, est)
            if np.isfinite(best) and target > best + 1e-9:
                return OptimizationError(
                    f"{what}: infeasible",
                    (
                        f"the target return {target:.4%} is above the highest attainable "
                        f"{best:.4%} under these constraints",
                    ),
                    tried,
                    f"lower the target return to at most {best:.4%}",
                )
        if status == cp.UNBOUNDED:
            return OptimizationError(
                f"{what}: unbounded",
                (objective_reason or "the objective is unbounded under these constraints",),
                tried,
                "bound gross exposure or the weights",
            )
        if objective_reason:
            return OptimizationError(f"{what}: infeasible", (objective_reason,), tried)
    return OptimizationError(f"{what}: no solver succeeded", (f"solver status {status!r}",), tried)

"""Infeasibility diagnosis. Witnesses: hand arithmetic for every number in a message, plain
cvxpy problems written here from the constraint definitions (a Cholesky factor and squared
volatility, not the engine's eigen-factor and norm) for feasibility and attainable extremes,
a closed-form minimum variance and brute force over a grid of 3-asset portfolios.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import re

import cvxpy as cp
import numpy as np
import pytest

from hedgedesk.core.optimize.diagnose import Diagnosis, _families, diagnose
from hedgedesk.core.optimize.problem import (
    Constraints,
    Estimates,
    Group,
    OptimizationError,
    build,
    estimate,
)


# -- fixtures and independent witnesses --------------------------------------------------------
def synthetic(n: int, seed: int = 7) -> Estimates:
    """A one-factor market of n assets: 750 daily returns, annualised x252, ddof=1."""
    rng = np.random.default_rng(seed)
    market = rng.normal(0.0004, 0.009, size=(750, 1))
    loadings = rng.uniform(0.3, 1.4, size=n)
    x = market * loadings + rng.normal(0.0002, 0.006, size=(750, n)) * rng.uniform(0.5, 2, n)
    return Estimates(
        tuple(f"A{i}" for i in range(n)),
        x.mean(axis=0) * 252,
        np.cov(x, rowvar=False, ddof=1) * 252,
        x,
        "synthetic",
    )


def _constraints(c: Constraints, est: Estimates, w: cp.Variable) -> list:
    """The constraint set written from its definitions, independently of
    hedgedesk.core.optimize.problem.
    """
    chol = np.linalg.cholesky(est.cov)  # cov = L L'
    lo = max(c.min_weight, 0.0) if c.long_only else c.min_weight
    cons = [cp.sum(w) >= c.net_min, cp.sum(w) <= c.net_max, w <= c.max_weight]
    if np.isfinite(lo):
        cons.append(w >= lo)
    if c.gross_max is not None and not c.long_only:
        cons.append(cp.sum(cp.abs(w)) <= c.gross_max)
    for g in c.groups:
        idx = [est.tickers.index(t) for t in g.tickers if t in est.tickers]
        cons += [cp.sum(w[idx]) >= g.min, cp.sum(w[idx]) <= g.max]
    if c.vol_cap is not None:
        cons.append(cp.sum_squares(chol.T @ w) <= c.vol_cap**2)
    if c.turnover_max is not None:
        cons.append(cp.sum(cp.abs(w - c.current)) <= c.turnover_max)
    if c.beta_min is not None:
        cons.append(c.betas @ w >= c.beta_min)
    if c.beta_max is not None:
        cons.append(c.betas @ w <= c.beta_max)
    if c.te_cap is not None:
        cons.append(cp.sum_squares(chol.T @ (w - c.benchmark_weights)) <= c.te_cap**2)
    return cons


def plain_feasible(c: Constraints, est: Estimates) -> bool:
    w = cp.Variable(est.n)
    problem = cp.Problem(cp.Minimize(0), _constraints(c, est, w))
    problem.solve(solver=cp.CLARABEL)
    return problem.status == cp.OPTIMAL


def plain_extreme(c: Constraints, est: Estimates, measure) -> float:
    """Min measure(w) under ``c`` (plain cvxpy); ``measure`` maps w and cov to an expression."""
    w = cp.Variable(est.n)
    problem = cp.Problem(cp.Minimize(measure(w)), _constraints(c, est, w))
    problem.solve(solver=cp.CLARABEL)
    assert problem.status == cp.OPTIMAL
    return float(problem.value)


def first(d: Diagnosis) -> str:
    """The primary suggestion (alternatives follow '; or ')."""
    return d.suggestion.split("; or ")[0]


def number(text: str, pattern: str) -> float:
    """The number captured by ``pattern`` in ``text``; percentages as fractions."""
    m = re.search(pattern, text)
    assert m, f"{pattern!r} not in {text!r}"
    return float(m.group(1)) / (100.0 if m.group(0).rstrip().endswith("%") else 1.0)


def apply(c: Constraints, suggestion: str) -> Constraints:
    """Apply one suggestion clause ('raise the X from a to b', joined by ' and ')."""
    fields = {
        "maximum weight": "max_weight",
        "minimum weight": "min_weight",
        "volatility cap": "vol_cap",
        "tracking-error cap": "te_cap",
        "turnover limit": "turnover_max",
        "gross limit": "gross_max",
        "beta maximum": "beta_max",
        "beta minimum": "beta_min",
        "net minimum": "net_min",
        "net maximum": "net_max",
    }
    for part in suggestion.split(" and "):
        m = re.fullmatch(
            r"(?:raise|lower) the (.+?)(?: \(.*\))? from (-?[\d.]+)( %)? to "
            r"(-?[\d.]+)( %)?",
            part,
        )
        assert m, f"cannot read suggestion {part!r}"
        what, value = m.group(1), float(m.group(4)) / (100.0 if m.group(5) else 1.0)
        g = re.fullmatch(r"(.+) group (minimum|maximum)", what)
        if g:
            key = "min" if g.group(2) == "minimum" else "max"
            c = dataclasses.replace(
                c,
                groups=tuple(
                    dataclasses.replace(x, **{key: value}) if x.name == g.group(1) else x
                    for x in c.groups
                ),
            )
        else:
            c = dataclasses.replace(c, **{fields[what]: value})
    return c


def check_suggestions(c: Constraints, est: Estimates, d: Diagnosis) -> None:
    """The problem is infeasible as given; every suggested relaxation, applied, solves."""
    assert not plain_feasible(c, est)
    assert d.suggestion
    for clause in d.suggestion.split("; or "):
        assert plain_feasible(apply(c, clause), est), clause


# -- feasible ----------------------------------------------------------------------------------
def test_feasible_problem_has_no_reasons():
    est = synthetic(21)
    eq = Group("equity", est.tickers[:10], 0.3, 0.7)
    c = Constraints(max_weight=0.1, groups=(eq,), vol_cap=0.5)
    assert plain_feasible(c, est)
    d = diagnose(c, est)
    assert d.feasible
    assert d.reasons == ()
    assert d.suggestion == ""
    assert d.relaxations == {}
    assert any("CLARABEL" in t for t in d.tried)


def test_cap_exactly_one_over_n_is_feasible():
    est = synthetic(8)
    d = diagnose(Constraints(max_weight=1 / 8), est)
    assert d.feasible and d.reasons == ()


# -- step 1: arithmetic ------------------------------------------------------------------------
def test_cap_times_assets_below_budget():
    est = synthetic(21)
    c = Constraints(max_weight=0.04)
    d = diagnose(c, est)
    assert not d.feasible
    assert "4 % x 21 = 84 %" in d.reasons[0]  # 0.04 x 21 = 0.84 by hand
    assert "100 %" in d.reasons[0]
    assert d.relaxations["maximum weight 0.04"] == pytest.approx(1 / 21 - 0.04, abs=1e-6)
    cap = number(first(d), r"maximum weight from 4 % to ([\d.]+) %")
    assert 1 / 21 <= cap <= 1 / 21 + 1e-4  # the smallest, rounded up to 0.01 point
    check_suggestions(c, est, d)


def test_minimum_weight_times_assets_above_budget():
    est = synthetic(10)
    c = Constraints(min_weight=0.12)
    d = diagnose(c, est)
    assert "12 % x 10 = 120 %" in d.reasons[0]
    low = number(first(d), r"minimum weight from 12 % to ([\d.]+) %")
    assert 0.1 - 1e-4 <= low <= 0.1
    check_suggestions(c, est, d)


def test_group_minimums_sum_above_budget():
    est = synthetic(12)
    c = Constraints(
        groups=(Group("equity", est.tickers[:4], 0.6), Group("bonds", est.tickers[4:8], 0.6))
    )
    d = diagnose(c, est)
    assert "group minimums sum to 120 %" in d.reasons[0]
    assert "equity 60 %" in d.reasons[0] and "bonds 60 %" in d.reasons[0]
    # 60 + 60 - 100: one minimum falls by 20 points
    assert sum(d.relaxations.values()) == pytest.approx(0.2, abs=1e-6)
    assert re.match(r"lower the (equity|bonds) group minimum from 60 % to 40 %$", first(d))
    check_suggestions(c, est, d)


def test_group_maximums_sum_below_budget():
    est = synthetic(6)
    c = Constraints(
        groups=(
            Group("equity", est.tickers[:3], 0.0, 0.3),
            Group("bonds", est.tickers[3:], 0.0, 0.5),
        )
    )
    d = diagnose(c, est)
    assert "group maximums sum to 80 %" in d.reasons[0]
    assert sum(d.relaxations.values()) == pytest.approx(0.2, abs=1e-6)
    check_suggestions(c, est, d)


def test_group_minimum_above_what_members_can_hold():
    est = synthetic(12)
    c = Constraints(max_weight=0.1, groups=(Group("equity", est.tickers[:5], 0.6),))
    d = diagnose(c, est)
    assert (
        "the group equity minimum 60 % is above what its 5 members can hold at the 10 % "
        "cap: 10 % x 5 = 50 %"
    ) in d.reasons
    # a 12 % cap (5 x 12 = 60) or a 50 % minimum both work; the cap moves by 2 points only
    assert first(d) == "raise the maximum weight from 10 % to 12 %"
    assert "lower the equity group minimum from 60 % to 50 %" in d.suggestion
    check_suggestions(c, est, d)


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        (
            {"min_weight": 0.2, "max_weight": 0.1},
            "the minimum weight 20 % is above the maximum weight 10 %",
        ),
        ({"net_min": 1.0, "net_max": 0.9}, "the net minimum 100 % is above the net maximum 90 %"),
        (
            {"groups": (Group("equity", ("A0", "A1", "A2"), 0.6, 0.5),)},
            "the group equity minimum 60 % is above its maximum 50 %",
        ),
        (
            {"betas": np.linspace(0.5, 1.5, 6), "beta_min": 1.3, "beta_max": 1.2},
            "the beta band [1.3, 1.2] is empty",
        ),
        ({"vol_cap": -0.1}, "the volatility cap -10 % is negative"),
        (
            {"long_only": False, "min_weight": -0.5, "max_weight": 0.5, "gross_max": 0.8},
            "the gross limit 80 % is below the 100 % that the net minimum needs",
        ),
    ],
)
def test_contradictory_bounds(kwargs, text):
    est = synthetic(6)
    c = Constraints(**kwargs)
    d = diagnose(c, est)
    assert not d.feasible
    assert any(text in r for r in d.reasons), d.reasons
    check_suggestions(c, est, d)


# -- step 2: attainability ---------------------------------------------------------------------
def test_volatility_cap_below_lowest_attainable():
    est = synthetic(8)
    c = Constraints(max_weight=0.3, vol_cap=0.05)
    d = diagnose(c, est)
    witness = np.sqrt(
        plain_extreme(dataclasses.replace(c, vol_cap=None), est, lambda w: cp.quad_form(w, est.cov))
    )
    assert witness > 0.05
    assert d.attainable["lowest volatility"] == pytest.approx(witness, abs=1e-6)
    assert d.reasons[0].startswith("the 5 % volatility cap is below the lowest attainable")
    assert number(d.reasons[0], r"lowest attainable ([\d.]+) %") == pytest.approx(witness, abs=1e-4)
    assert d.relaxations["volatility at most 0.05"] == pytest.approx(witness - 0.05, abs=1e-6)
    cap = number(first(d), r"volatility cap from 5 % to ([\d.]+) %")
    assert witness <= cap <= witness + 1e-4
    check_suggestions(c, est, d)


def test_lowest_volatility_matches_closed_form_minimum_variance():
    # with loose weight bounds the minimum-variance portfolio is 1/sqrt(1' S^-1 1) (Merton)
    est = synthetic(5)
    ones = np.ones(5)
    closed = 1 / np.sqrt(ones @ np.linalg.solve(est.cov, ones))
    c = Constraints(long_only=False, min_weight=-5.0, max_weight=5.0, vol_cap=closed / 2)
    d = diagnose(c, est)
    assert d.attainable["lowest volatility"] == pytest.approx(closed, abs=1e-6)
    assert number(d.reasons[0], r"lowest attainable ([\d.]+) %") == pytest.approx(closed, abs=1e-4)
    check_suggestions(c, est, d)


def _simplex_grid(step: float, cap: float) -> np.ndarray:
    k = round(1 / step)
    a, b = np.meshgrid(np.arange(k + 1), np.arange(k + 1), indexing="ij")
    keep = a + b <= k
    w = np.column_stack([a[keep], b[keep], k - a[keep] - b[keep]]) / k
    return w[(w <= cap + 1e-12).all(axis=1)]


def test_three_assets_brute_force_volatility_and_beta():
    est = synthetic(3, seed=3)
    grid = _simplex_grid(0.0025, 0.6)
    vols = np.sqrt(np.einsum("ij,jk,ik->i", grid, est.cov, grid))
    betas = np.array([0.6, 0.9, 1.4])
    highest = (grid @ betas).max()  # by hand: 0.6 x 1.4 + 0.4 x 0.9 = 1.2
    assert highest == pytest.approx(1.2)

    d = diagnose(Constraints(max_weight=0.6, vol_cap=vols.min() * 0.9), est)
    assert d.attainable["lowest volatility"] == pytest.approx(vols.min(), abs=1e-4)
    assert d.attainable["lowest volatility"] <= vols.min() + 1e-9

    c = Constraints(max_weight=0.6, betas=betas, beta_min=1.25, beta_max=1.3)
    d = diagnose(c, est)
    assert d.attainable["highest beta"] == pytest.approx(highest, abs=1e-6)
    assert "the beta band [1.25, 1.3] is above the highest attainable beta 1.2" in d.reasons[0]
    assert first(d) == "lower the beta minimum from 1.25 to 1.2"
    check_suggestions(c, est, d)


def test_beta_band_outside_attainable_range():
    est = synthetic(10)
    betas = np.linspace(0.5, 1.05, 10)
    top4 = np.sort(betas)[-4:]
    highest = 0.25 * top4.sum()  # fill the four highest betas to the 25 % cap
    bottom4 = np.sort(betas)[:4]
    lowest = 0.25 * bottom4.sum()

    above = Constraints(max_weight=0.25, betas=betas, beta_min=1.2, beta_max=1.3)
    d = diagnose(above, est)
    assert d.attainable["highest beta"] == pytest.approx(highest, abs=1e-6)
    shown = number(d.reasons[0], r"highest attainable beta ([\d.]+)")
    assert highest - 1e-3 <= shown <= highest  # rounded down: the statement stays true
    assert d.reasons[0].startswith("the beta band [1.2, 1.3] is above the highest attainable")
    assert d.relaxations["beta at least 1.2"] == pytest.approx(1.2 - highest, abs=1e-6)
    check_suggestions(above, est, d)

    below = Constraints(max_weight=0.25, betas=betas, beta_min=0.1, beta_max=0.3)
    d = diagnose(below, est)
    assert d.attainable["lowest beta"] == pytest.approx(lowest, abs=1e-6)
    assert "is below the lowest attainable beta" in d.reasons[0]
    check_suggestions(below, est, d)


def test_tracking_error_cap_below_lowest_attainable():
    est = synthetic(10)
    bench = np.full(10, 0.5 / 9)
    bench[0] = 0.5  # the benchmark holds 50 % of one asset; the cap allows 20 %
    c = Constraints(max_weight=0.2, benchmark_weights=bench, te_cap=0.01)
    d = diagnose(c, est)
    chol = np.linalg.cholesky(est.cov)
    witness = np.sqrt(
        plain_extreme(
            dataclasses.replace(c, te_cap=None), est, lambda w: cp.sum_squares(chol.T @ (w - bench))
        )
    )
    assert d.attainable["lowest tracking error"] == pytest.approx(witness, abs=1e-6)
    assert d.reasons[0].startswith("the 1 % tracking-error cap is below the lowest attainable")
    check_suggestions(c, est, d)


def test_turnover_limit_below_lowest_attainable():
    est = synthetic(10)
    current = np.zeros(10)
    current[:2] = 0.5
    c = Constraints(max_weight=0.2, current=current, turnover_max=0.5)
    d = diagnose(c, est)
    # by hand: 2 x (50 - 20) points sold and the same bought elsewhere = 120 %
    assert d.attainable["lowest turnover"] == pytest.approx(1.2, abs=1e-6)
    assert (
        "the 50 % turnover limit is below the lowest attainable turnover 120 % from the "
        "current weights"
    ) in d.reasons[0]
    # the smallest change is the cap: turnover 4 x (50 % - cap) <= 50 % needs a 37.5 % cap
    assert d.relaxations == pytest.approx({"maximum weight 0.2": 0.175}, abs=1e-6)
    assert first(d) == "raise the maximum weight from 20 % to 37.5 %"
    assert "raise the turnover limit from 50 % to 120 %" in d.suggestion
    check_suggestions(c, est, d)


# -- step 3: elastic problem and conflict sets -------------------------------------------------
def test_overlapping_groups_name_a_conflict_that_each_drop_resolves():
    est = synthetic(10)
    a = Group("a", ("A0", "A1", "A2", "A3"), 0.8)
    b = Group("b", ("A3", "A4", "A5"), 0.8)
    c = Constraints(max_weight=0.3, groups=(a, b))
    d = diagnose(c, est)
    assert d.reasons == (
        "no portfolio meets all of: weights summing to at most 100 %; no short "
        "positions; each weight at most 30 %; group a at least 80 %; group b at "
        "least 80 % (dropping any one of them makes the rest attainable)",
    )
    # by hand: a + b = (A0..A5) + A3 <= 100 % + 30 % = 130 % < 160 %: 30 points to find
    assert sum(d.relaxations.values()) == pytest.approx(0.3, abs=1e-6)
    check_suggestions(c, est, d)
    # irreducible (plain witness): dropping any one named constraint makes the rest feasible
    assert plain_feasible(dataclasses.replace(c, groups=(a,)), est)
    assert plain_feasible(dataclasses.replace(c, groups=(b,)), est)
    assert plain_feasible(dataclasses.replace(c, max_weight=1.0), est)
    assert plain_feasible(dataclasses.replace(c, net_max=2.0), est)
    assert plain_feasible(dataclasses.replace(c, long_only=False, min_weight=-np.inf), est)
    # and the constraints left out of it are not needed for the conflict
    assert not plain_feasible(
        dataclasses.replace(
            c,
            net_min=-10.0,
            groups=(dataclasses.replace(a, max=10.0), dataclasses.replace(b, max=10.0)),
        ),
        est,
    )


def test_two_independent_problems_are_relaxed_together():
    est = synthetic(21)
    c = Constraints(max_weight=0.04, vol_cap=0.01)
    d = diagnose(c, est)
    assert "4 % x 21 = 84 %" in d.reasons[0]
    assert set(d.relaxations) == {"maximum weight 0.04", "volatility at most 0.01"}
    assert "raise the maximum weight" in first(d) and "raise the volatility cap" in first(d)
    check_suggestions(c, est, d)


def test_every_constraint_name_is_understood():
    est = synthetic(6)
    c = Constraints(
        long_only=False,
        min_weight=-0.3,
        max_weight=0.5,
        net_min=0.9,
        gross_max=1.5,
        groups=(Group("g", ("A0", "A1"), 0.1, 0.6),),
        vol_cap=0.3,
        current=np.full(6, 1 / 6),
        turnover_max=0.5,
        betas=np.ones(6),
        beta_min=0.5,
        beta_max=1.5,
        benchmark_weights=np.full(6, 1 / 6),
        te_cap=0.1,
    )
    fams = _families(c, build(cp.Variable(6), c, est))
    assert len(fams) == 12
    assert all(f.kind != "other" for f in fams)


def test_diagnosis_becomes_an_optimization_error():
    est = synthetic(21)
    d = diagnose(Constraints(max_weight=0.04), est)
    err = d.error()
    assert isinstance(err, OptimizationError)
    assert err.reasons == d.reasons and err.suggestion == d.suggestion
    assert "4 % x 21 = 84 %" in str(err) and "4.77 %" in str(err)


def test_mismatched_shapes_are_bad_input():
    est = synthetic(6)
    with pytest.raises(OptimizationError, match="betas have shape"):
        diagnose(Constraints(betas=np.ones(5), beta_min=1.0), est)


# -- real ETFs ---------------------------------------------------------------------------------
EQUITY = ("SPY", "QQQ", "IWM", "MDY", "VTI", "EFA", "EEM", "EWJ", "IEV")


@functools.cache
def _etf_estimates(folder: str) -> Estimates | None:
    from hedgedesk.core.data.price_files import load_paths

    md = load_paths([folder])
    if len(md.tickers) != 21 or not set(EQUITY) <= set(md.tickers):
        return None
    return estimate(md.returns(md.tickers))


@pytest.fixture
def etf(shared_data) -> Estimates:
    est = _etf_estimates(str(shared_data / "etf"))  # loaded once for the module
    if est is None:
        pytest.skip("the shared ETF set has changed")
    return est


def test_original_study_cap_on_21_etfs(etf):
    c = Constraints(max_weight=0.04)
    d = diagnose(c, etf)
    assert "4 % x 21 = 84 %" in d.reasons[0]
    cap = number(first(d), r"maximum weight from 4 % to ([\d.]+) %")
    assert cap >= 1 / 21
    assert cap == pytest.approx(1 / 21, abs=1e-4)
    check_suggestions(c, etf, d)


def test_original_study_shape_on_21_etfs(etf):
    # 4 % cap, at least 50 % equities, 12 % volatility cap (the original study)
    c = Constraints(max_weight=0.04, groups=(Group("equity", EQUITY, 0.5),), vol_cap=0.12)
    d = diagnose(c, etf)
    assert "4 % x 21 = 84 %" in d.reasons[0]
    assert (
        "the group equity minimum 50 % is above what its 9 members can hold at the 4 % cap: "
        "4 % x 9 = 36 %"
    ) in d.reasons
    assert number(first(d), r"maximum weight from 4 % to ([\d.]+) %") >= 1 / 21
    check_suggestions(c, etf, d)


def test_volatility_cap_on_21_etfs(etf):
    c = Constraints(max_weight=0.1, groups=(Group("equity", EQUITY, 0.5),), vol_cap=0.05)
    d = diagnose(c, etf)
    witness = np.sqrt(
        plain_extreme(dataclasses.replace(c, vol_cap=None), etf, lambda w: cp.quad_form(w, etf.cov))
    )
    assert d.attainable["lowest volatility"] == pytest.approx(witness, abs=1e-4)
    assert number(d.reasons[0], r"lowest attainable ([\d.]+) %") == pytest.approx(witness, abs=1e-4)
    check_suggestions(c, etf, d)


def test_three_asset_grid_is_a_simplex():
    # the brute-force witness itself: every point sums to one and the corners are there
    grid = _simplex_grid(0.25, 1.0)
    assert np.allclose(grid.sum(axis=1), 1.0)
    for corner in itertools.permutations([1.0, 0.0, 0.0]):
        assert any(np.allclose(row, corner) for row in grid)

"""Benchmark: a 120-asset, 100-point efficient frontier with 4 % caps, a 50 % group minimum and
a 12 % volatility cap (the original study's shape).

Data are SYNTHETIC (the real set has 21 ETFs): seeded daily returns of 120 assets from a
4-factor model over 10 years, estimated per CONVENTIONS (sample mean and ddof=1 covariance,
x252). Everything runs in one process; each path is warmed up once on a small problem first,
so first-call costs (BLAS threads, cvxpy imports) are not counted.

  (a)  hedgedesk: ``MeanVariance(est, c).frontier(100)`` on a fresh object, all included
       (building and compiling the problems, the two endpoint solves, 100 points, the reported
       figures of each point), and again on the same object (problems already built).
       ``method="auto"``: exact active-set path; ``method="cvxpy"``: one cvxpy problem with a
       Parameter target re-solved by the CLARABEL chain.
  (b)  PyPortfolioOpt: a fresh ``EfficientFrontier`` and ``efficient_return`` per target, with
       the same bounds, sector minimum and volatility cap.
  (c)  cvxpy rebuilding the problem at every point (same constraints, no Parameter).
  (d)  CVXOPT's direct QP: ``cvxopt.solvers.qp`` per target on matrices built once (bounds,
       budget, group minimum, target row); like (a) the volatility cap is checked on each
       solution, the objective being the variance. Skipped when cvxopt is not installed
       (it is in the dev extra).

Max Sharpe (rf 2 %, the same constraints): ``MeanVariance(est, c, rf).max_sharpe()`` on a fresh
object (build, compile, solve, figures) against cvxpy's homogenised problem written directly
(``y = kappa w``, CLARABEL), built per call.

Targets (issue 14): frontier (a) <= 50 ms and >= 3x faster than (d); max Sharpe <= 30 ms.
Run: python bench/frontier.py [--points N] [--skip-pypfopt]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from dataclasses import replace

import cvxpy as cp
import numpy as np
import pandas as pd

from hedgedesk.core.optimize.mean_variance import MeanVariance
from hedgedesk.core.optimize.problem import (
    Constraints,
    Estimates,
    Group,
    build,
    estimate,
    risk_factor,
    solve,
)

N_ASSETS = 120
DAYS = 2520
SEED = 7


def synthetic(n: int = N_ASSETS, days: int = DAYS, seed: int = SEED) -> Estimates:
    """Market, two style and one sector factor; idiosyncratic vols 15-40 %; drift rising with
    volatility (Sharpe about 0.35) plus noise, so the sample means are realistic.
    """
    rng = np.random.default_rng(seed)
    loads = np.column_stack(
        [
            rng.normal(1.0, 0.3, n),
            rng.normal(0.0, 0.4, n),
            rng.normal(0.0, 0.3, n),
            rng.normal(0.0, 0.3, n),
        ]
    )
    factors = rng.normal(0.0, 1.0, (days, 4)) * (np.array([0.16, 0.08, 0.06, 0.06]) / np.sqrt(252))
    idio = rng.uniform(0.15, 0.40, n) / np.sqrt(252)
    x = factors @ loads.T + rng.normal(0.0, 1.0, (days, n)) * idio
    x += (0.02 + 0.35 * x.std(axis=0) * np.sqrt(252)) / 252
    return estimate(pd.DataFrame(x, columns=[f"S{i:03d}" for i in range(n)]))


def constraints(est: Estimates) -> Constraints:
    equity = tuple(est.tickers[: est.n // 2])
    return Constraints(max_weight=0.04, groups=(Group("equity", equity, min=0.5),), vol_cap=0.12)


def timed(fn, repeat: int = 1):
    best, out = np.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def ours(est: Estimates, c: Constraints, points: int, method: str):
    return MeanVariance(est, c).frontier(points, method=method)


def pypfopt_loop(est: Estimates, c: Constraints, targets: np.ndarray) -> list[np.ndarray | None]:
    from pypfopt import EfficientFrontier

    mu = pd.Series(est.mu, index=est.tickers)
    cov = pd.DataFrame(est.cov, index=est.tickers, columns=est.tickers)
    group = c.groups[0]
    mapper = {t: ("equity" if t in group.tickers else "other") for t in est.tickers}
    out = []
    for t in targets:
        ef = EfficientFrontier(mu, cov, weight_bounds=(0.0, c.max_weight))
        ef.add_sector_constraints(mapper, {"equity": group.min}, {})
        ef.add_constraint(lambda w: cp.quad_form(w, est.cov) <= c.vol_cap**2)
        try:
            ef.efficient_return(float(t))
            out.append(np.asarray(ef.weights, dtype=float))
        except Exception:  # a failed point is a gap, as in our rows
            out.append(None)
    return out


def rebuild_loop(est: Estimates, c: Constraints, targets: np.ndarray) -> list[np.ndarray | None]:
    """Our cvxpy formulation (u = F w shared by the objective and the volatility cap, the
    other constraints from hedgedesk.core.optimize.problem.build), built anew for every target.
    """
    f = risk_factor(est.cov)
    out = []
    for t in targets:
        w, u = cp.Variable(est.n), cp.Variable(f.shape[0])
        cons = [nc.constraint for nc in build(w, replace(c, vol_cap=None), est)]
        cons += [u == f @ w, cp.norm(u, 2) <= c.vol_cap, est.mu @ w >= t]
        problem = cp.Problem(cp.Minimize(cp.sum_squares(u)), cons)
        solver, _ = solve(problem)
        out.append(np.asarray(w.value, dtype=float) if solver else None)
    return out


def cvxopt_loop(est: Estimates, c: Constraints, targets: np.ndarray) -> list[np.ndarray | None]:
    """``min w' cov w`` per target with ``cvxopt.solvers.qp``: G w <= h holds the bounds, the
    group minimum and the target row, A w = b the budget; the volatility cap is checked after.
    """
    from cvxopt import matrix, solvers

    n = est.n
    group = np.isin(est.tickers, c.groups[0].tickers).astype(float)
    g = np.vstack([-np.eye(n), np.eye(n), -group, -est.mu])
    h = np.concatenate([np.zeros(n), np.full(n, c.max_weight), [-c.groups[0].min], [0.0]])
    p, q = matrix(2 * est.cov), matrix(np.zeros(n))
    a, b = matrix(np.ones((1, n))), matrix(np.ones(1))
    out = []
    for t in targets:
        h[-1] = -t
        sol = solvers.qp(p, q, matrix(g), matrix(h), a, b, options={"show_progress": False})
        w = np.asarray(sol["x"], dtype=float).ravel()
        ok = sol["status"] == "optimal" and np.sqrt(w @ est.cov @ w) <= c.vol_cap * (1 + 1e-6)
        out.append(w if ok else None)
    return out


def sharpe_direct(est: Estimates, c: Constraints, rf: float) -> np.ndarray:
    """Maximum Sharpe as cvxpy's homogenised problem, written directly and built per call."""
    f = risk_factor(est.cov)
    y, kappa = cp.Variable(est.n), cp.Variable(nonneg=True)
    members = [est.tickers.index(t) for t in c.groups[0].tickers]
    cons = [
        cp.sum(y) == kappa,
        y >= 0,
        y <= c.max_weight * kappa,
        cp.sum(y[members]) >= c.groups[0].min * kappa,
        cp.norm(f @ y, 2) <= c.vol_cap * kappa,
        (est.mu - rf) @ y >= 1,
    ]
    cp.Problem(cp.Minimize(cp.sum_squares(f @ y)), cons).solve(solver="CLARABEL")
    return np.asarray(y.value, dtype=float) / float(kappa.value)


def gap(rows, other) -> tuple[float, float]:
    """Largest weight and volatility differences between our rows and another loop."""
    dw, dv = 0.0, 0.0
    for row, w in zip(rows, other, strict=True):
        if row.portfolio is None or w is None:
            continue
        ours_w = np.array(list(row.portfolio.weights.values()))
        dw = max(dw, float(np.abs(ours_w - w).max()))
        dv = max(dv, abs(row.portfolio.volatility - float(np.sqrt(w @ EST.cov @ w))))
    return dw, dv


def warm_up() -> None:
    small = synthetic(n=8, days=300, seed=1)
    c = Constraints(
        max_weight=0.4, groups=(Group("equity", small.tickers[:4], min=0.5),), vol_cap=0.3
    )
    for method in ("auto", "cvxpy"):
        ours(small, c, 3, method)
    rebuild_loop(small, c, np.array([0.05]))
    MeanVariance(small, c, rf=RF).max_sharpe()
    sharpe_direct(small, c, RF)
    with contextlib.suppress(ImportError):
        pypfopt_loop(small, c, np.array([0.05]))
    with contextlib.suppress(ImportError):
        cvxopt_loop(small, c, np.array([0.05]))


EST = synthetic()
RF = 0.02


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--skip-pypfopt", action="store_true")
    args = parser.parse_args()
    c = constraints(EST)
    print(
        f"SYNTHETIC data (seed {SEED}): {EST.n} assets, {DAYS} daily returns from a 4-factor "
        f"model; {EST.method}"
    )
    print(
        f"constraints: long-only, max weight {c.max_weight:.0%}, group 'equity' "
        f"({len(c.groups[0].tickers)} assets) >= {c.groups[0].min:.0%}, volatility cap "
        f"{c.vol_cap:.0%}; {args.points} points; {os.cpu_count()} CPUs"
    )
    warm_up()

    cold, rows = timed(lambda: ours(EST, c, args.points, "auto"), repeat=3)
    mv = MeanVariance(EST, c)
    mv.frontier(args.points)
    warm, _ = timed(lambda: mv.frontier(args.points), repeat=3)
    solvers = {r.portfolio.solver for r in rows if r.portfolio}
    failed = [r.reason for r in rows if r.portfolio is None]
    targets = np.array([r.target_return for r in rows])
    lo, hi = rows[0].portfolio, rows[-1].portfolio
    print(
        f"frontier: return {lo.expected_return:.2%} -> {hi.expected_return:.2%}, volatility "
        f"{lo.volatility:.2%} -> {hi.volatility:.2%}; solved by {sorted(solvers)}; "
        f"{len(failed)} failed points"
    )
    cvx_cold, cvx_rows = timed(lambda: ours(EST, c, args.points, "cvxpy"))
    fresh = MeanVariance(EST, c)
    ends, _ = timed(lambda: (fresh.min_variance(), fresh.max_return()))
    print(f"of which the two endpoint solves (CLARABEL, build and compile included): {ends:.3f} s")

    print("\nseconds for the whole frontier (ms per point)")
    line = "  {:<58s} {:8.3f} s  ({:6.1f} ms)"
    print(
        line.format(
            "(a) hedgedesk auto, fresh object (build + solve + describe)",
            cold,
            1e3 * cold / args.points,
        )
    )
    print(line.format("(a) hedgedesk auto, problems already built", warm, 1e3 * warm / args.points))
    print(
        line.format(
            "(a') hedgedesk cvxpy Parameter re-solve (CLARABEL), fresh",
            cvx_cold,
            1e3 * cvx_cold / args.points,
        )
    )
    rebuild, rebuilt = timed(lambda: rebuild_loop(EST, c, targets))
    print(
        line.format(
            "(c) cvxpy rebuild every point (CLARABEL)", rebuild, 1e3 * rebuild / args.points
        )
    )
    pyp = None
    if not args.skip_pypfopt:
        try:
            pyp, pyp_w = timed(lambda: pypfopt_loop(EST, c, targets))
        except ImportError:
            print("  (b) PyPortfolioOpt not installed: skipped")
        else:
            print(
                line.format(
                    "(b) PyPortfolioOpt efficient_return per target", pyp, 1e3 * pyp / args.points
                )
            )

    cvo = None
    try:
        cvo, cvo_w = timed(lambda: cvxopt_loop(EST, c, targets), repeat=3)
    except ImportError:
        print("  (d) CVXOPT not installed: skipped (pip install cvxopt, or the dev extra)")
    else:
        print(line.format("(d) CVXOPT solvers.qp per target", cvo, 1e3 * cvo / args.points))

    print("\nratios (higher: hedgedesk auto, fresh object, is faster)")
    print(f"  rebuild-every-point / hedgedesk      {rebuild / cold:8.1f}x")
    print(f"  cvxpy Parameter re-solve / hedgedesk {cvx_cold / cold:8.1f}x")
    if pyp is not None:
        print(f"  PyPortfolioOpt / hedgedesk           {pyp / cold:8.1f}x")
    if cvo is not None:
        print(
            f"  CVXOPT direct QP / hedgedesk         {cvo / cold:8.1f}x   (target >= 3x: "
            f"{'met' if cvo / cold >= 3 else 'MISSED'})"
        )
    print(f"  target <= 50 ms: {'met' if cold <= 0.05 else 'MISSED'} ({1e3 * cold:.0f} ms)")

    ms, best = timed(lambda: MeanVariance(EST, c, rf=RF).max_sharpe(), repeat=3)
    direct, w_direct = timed(lambda: sharpe_direct(EST, c, RF), repeat=3)
    w_best = np.array(list(best.weights.values()))
    print(f"\nmaximum Sharpe (rf {RF:.0%}, same constraints): Sharpe {best.sharpe:.3f}")
    print(f"  {'hedgedesk max_sharpe, fresh object':<40s} {1e3 * ms:7.1f} ms")
    print(f"  {'cvxpy homogenised problem, direct':<40s} {1e3 * direct:7.1f} ms")
    print(
        f"  direct / hedgedesk {direct / ms:.1f}x; weights differ by at most "
        f"{np.abs(w_best - w_direct).max():.1e}; target <= 30 ms: "
        f"{'met' if ms <= 0.03 else 'MISSED'} ({1e3 * ms:.0f} ms)"
    )

    print("\nagreement with the other loops (largest difference over the points)")
    for name, other in (
        [
            (
                "cvxpy Parameter re-solve",
                [
                    np.array(list(r.portfolio.weights.values())) if r.portfolio else None
                    for r in cvx_rows
                ],
            ),
            ("rebuild every point", rebuilt),
        ]
        + ([("PyPortfolioOpt", pyp_w)] if pyp is not None else [])
        + ([("CVXOPT direct QP", cvo_w)] if cvo is not None else [])
    ):
        dw, dv = gap(rows, other)
        print(f"  {name:<26s} weights {dw:.1e}, volatility {dv:.1e}")


if __name__ == "__main__":
    main()

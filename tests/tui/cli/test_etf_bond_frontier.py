"""examples/etf_bond_frontier.sh end to end on ../shared/data: the ETF/bond optimisation's
figures against an independent witness (the monthly returns rebuilt here from the raw files by
CONVENTIONS alone, numpy recomputation, scipy solving the same constraints).
"""

from __future__ import annotations

import itertools
import json
import math
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog, minimize

from tests.conftest import REPO, SHARED_DATA

SCRIPT = REPO / "examples" / "etf_bond_frontier.sh"
CONFIG = REPO / "examples" / "etf_bond.toml"
EQUITY = ["SPY", "QQQ", "IWM", "MDY", "VTI", "EFA", "EEM", "EWJ", "IEV"]
BONDS = ["AGG", "IEF", "TLT", "SHY", "TIP", "LQD", "HYG", "AAA", "BAA"]
OTHER = ["VNQ", "IYR", "GLD", "DBC", "BIL"]
UNIVERSE = EQUITY + BONDS + OTHER
MATURITY = 30.0  # years, as the script declares AAA and BAA
VOL_CAP, EQUITY_MIN = 0.12, 0.5
TOL = 1e-6
CAP = 0.0556  # the smallest feasible cap hedgedesk suggests (50 % / 9 equity ETFs, rounded up)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    if shutil.which("hedgedesk", path=bindir):
        env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    else:
        env["HEDGEDESK"] = f"{sys.executable} -m hedgedesk.tui.cli"
    return env


def test_script_without_shared_data_exits_2(tmp_path):
    """A clone with no ../shared/data beside it: one line naming the missing path, exit 2."""
    examples = tmp_path / "repo" / "examples"
    examples.mkdir(parents=True)
    shutil.copy(SCRIPT, examples)
    proc = subprocess.run(
        ["sh", str(examples / SCRIPT.name), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "shared/data/etf not found" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("fake", "rc", "says"),
    [
        ("exit 1", 1, ""),  # an internal error: its status passes through
        ('echo "hedgedesk: error: bad" >&2; exit 2', 2, "without suggesting a cap"),
    ],
)
def test_script_fails_when_hedgedesk_fails(shared_data, tmp_path, fake, rc, says):
    """A failing first step stops the script with a non-zero status (nothing else runs)."""
    (tmp_path / "hedgedesk").write_text(f"#!/bin/sh\n{fake}\n")
    (tmp_path / "hedgedesk").chmod(0o755)
    env = {**os.environ, "HEDGEDESK": str(tmp_path / "hedgedesk")}
    proc = subprocess.run(
        ["sh", str(SCRIPT), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == rc
    assert says in proc.stderr
    assert "== 2." not in proc.stdout


@pytest.fixture(scope="module")
def script_run(tmp_path_factory):
    """The script, run once from outside the repository: its stdout and output folder."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    out = tmp_path_factory.mktemp("etf_bond") / "out"
    proc = subprocess.run(
        ["sh", str(SCRIPT), str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path_factory.getbasetemp(),
        env=_env(),
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout, out


# -- the witness: monthly returns rebuilt from the raw files ---------------------------------
def _etf(ticker: str) -> pd.Series:
    """A yfinance file: four header lines, then date, adjusted close (the `Price` column)."""
    raw = pd.read_csv(
        SHARED_DATA / "etf" / f"{ticker}.csv",
        skiprows=4,
        header=None,
        usecols=[0, 1],
        names=["date", "adj"],
    )
    dates = pd.to_datetime(raw["date"], format="%Y-%m-%d %H:%M:%S")
    return pd.Series(raw["adj"].to_numpy(float), index=dates, name=ticker)


def _bond_index(col: str) -> pd.Series:
    """Moody's yield (percent, M/1/YYYY) as a 30-year par bond's total-return index:
    r[t] = P(c=y[t-1], y=y[t], M) - 1 + y[t-1] * days / 365 (CONVENTIONS, "Yields and FX").
    """
    raw = pd.read_csv(SHARED_DATA / "rates" / "moody_aaa_baa_monthly.csv")
    dates = pd.to_datetime(raw["Date"], format="%m/%d/%Y")
    y = raw[col].to_numpy(float) / 100.0
    c, yy = y[:-1], y[1:]
    disc = (1.0 + yy / 2.0) ** (-2.0 * MATURITY)
    price = c / yy * (1.0 - disc) + disc
    tau = np.diff(dates.to_numpy()).astype("timedelta64[D]").astype(float) / 365.0
    r = price - 1.0 + c * tau
    return pd.Series(np.cumprod(np.r_[1.0, 1.0 + r]), index=dates, name=col)


def _month_end(s: pd.Series) -> pd.Series:
    """The last observation of each calendar month, labelled by the month."""
    return s.groupby(s.index.to_period("M")).last()


@pytest.fixture(scope="module")
def witness():
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    series = [_etf(t) for t in EQUITY + [t for t in BONDS if t not in ("AAA", "BAA")] + OTHER]
    series += [_bond_index("AAA"), _bond_index("BAA")]
    prices = pd.concat([_month_end(s) for s in series], axis=1, join="inner")[UNIVERSE]
    r = (prices / prices.shift(1) - 1.0).iloc[1:]
    return {"r": r, "mu": r.mean().to_numpy() * 12, "cov": r.cov(ddof=1).to_numpy() * 12}


def _figures(w: np.ndarray, wit) -> tuple[float, float]:
    return float(wit["mu"] @ w), float(np.sqrt(w @ wit["cov"] @ w))


def _assert_feasible(w: np.ndarray, cap: float) -> None:
    assert w.sum() == pytest.approx(1.0, abs=TOL)
    assert (w >= -TOL).all() and (w <= cap + TOL).all()
    assert w[: len(EQUITY)].sum() >= EQUITY_MIN - TOL


def _constraints(wit, cap: float):
    cons = [
        {"type": "eq", "fun": lambda w: w.sum() - 1.0},
        {"type": "ineq", "fun": lambda w: w[: len(EQUITY)].sum() - EQUITY_MIN},
        {"type": "ineq", "fun": lambda w: VOL_CAP**2 - w @ wit["cov"] @ w},
    ]
    return cons, [(0.0, cap)] * len(UNIVERSE)


def _weights(d: dict) -> np.ndarray:
    return np.array([d["weights"][t] for t in UNIVERSE])


# -- the tests ----------------------------------------------------------------------------------
def test_four_percent_is_infeasible_and_the_suggested_cap_is_used(script_run):
    stdout, _ = script_run
    assert "4 % x 23 = 92 %" in stdout and "4 % x 9 = 36 %" in stdout
    # witness: the smallest cap that holds 100 % in 23 names and 50 % in the 9 equity ETFs,
    # rounded up to 0.01 %
    smallest = math.ceil(max(100 / len(UNIVERSE), 100 * EQUITY_MIN / len(EQUITY)) * 100) / 100
    assert smallest == 5.56
    assert f"smallest feasible cap hedgedesk suggests, {smallest:g} %" in stdout
    assert f"--max-weight {smallest / 100:g}" in stdout
    cfg = tomllib.loads(CONFIG.read_text())
    assert cfg["optimizer"]["max_weight"] == pytest.approx(smallest / 100)
    assert cfg["data"]["universe"] == UNIVERSE and cfg["data"]["resample"] == "monthly"
    assert cfg["data"]["yields"] == {"AAA": MATURITY, "BAA": MATURITY}


def test_max_sharpe_equals_the_numpy_recomputation(script_run, witness):
    _, out = script_run
    ms = json.loads((out / "max_sharpe.json").read_text())
    r = witness["r"]
    assert "x12" in ms["estimates"]  # monthly, annualised x12
    assert ms["window"] == {
        "first": str(r.index[0].end_time.date()),
        "last": str(r.index[-1].end_time.date()),
        "days": len(r),
    }
    assert ms["window"]["first"] == "2007-06-30" and ms["window"]["last"] == "2018-12-31"
    w = _weights(ms)
    ret, vol = _figures(w, witness)
    assert ms["expected_return"] == pytest.approx(ret, rel=1e-9)
    assert ms["volatility"] == pytest.approx(vol, rel=1e-9)
    assert ms["sharpe"] == pytest.approx(ret / vol, rel=1e-9)  # rf 0
    monthly = r.to_numpy() @ w
    q = np.quantile(monthly, 0.05)
    assert ms["var_95"] == pytest.approx(-q, rel=1e-9)
    assert ms["cvar_95"] == pytest.approx(-monthly[monthly <= q].mean(), rel=1e-9)
    _assert_feasible(w, CAP)
    assert vol <= VOL_CAP + TOL


def test_max_sharpe_is_the_best_feasible_sharpe(script_run, witness):
    """SLSQP (scipy) on the same constraints finds no higher Sharpe, from several starts."""
    _, out = script_run
    ms = json.loads((out / "max_sharpe.json").read_text())
    cons, bounds = _constraints(witness, CAP)

    def neg_sharpe(w):
        ret, vol = _figures(w, witness)
        return -ret / vol

    rng = np.random.default_rng(17)
    best = -np.inf
    starts = [np.full(len(UNIVERSE), 1 / len(UNIVERSE))]
    starts += [np.clip(rng.dirichlet(np.ones(len(UNIVERSE))), 0, CAP) for _ in range(4)]
    for x0 in starts:
        res = minimize(neg_sharpe, x0, method="SLSQP", bounds=bounds, constraints=cons)
        w = res.x
        if abs(w.sum() - 1) < 1e-6 and w[: len(EQUITY)].sum() >= EQUITY_MIN - 1e-6:
            best = max(best, -res.fun)
    assert np.isfinite(best)
    assert ms["sharpe"] >= best - 1e-5
    assert ms["sharpe"] == pytest.approx(best, abs=1e-3)


def test_frontier_is_monotone_feasible_and_spans_min_variance_to_max_return(script_run, witness):
    _, out = script_run
    fr = json.loads((out / "frontier.json").read_text())
    ms = json.loads((out / "max_sharpe.json").read_text())
    pts = fr["frontier"]
    assert len(pts) == 12 and all(p["ok"] for p in pts)
    targets = [p["target_return"] for p in pts]
    rets = [p["expected_return"] for p in pts]
    vols = [p["volatility"] for p in pts]
    assert all(a < b for a, b in itertools.pairwise(targets))
    assert all(b >= a - TOL for a, b in itertools.pairwise(rets))
    assert all(b >= a - TOL for a, b in itertools.pairwise(vols))
    for p in pts:
        w = _weights(p)
        _assert_feasible(w, CAP)
        ret, vol = _figures(w, witness)
        assert p["expected_return"] == pytest.approx(ret, rel=1e-9)
        assert p["volatility"] == pytest.approx(vol, rel=1e-9)
        assert p["expected_return"] >= p["target_return"] - TOL
        assert vol <= VOL_CAP + TOL
        assert ms["sharpe"] >= p["sharpe"] - 1e-6  # no frontier point beats the max Sharpe
    cons, bounds = _constraints(witness, CAP)
    x0 = np.full(len(UNIVERSE), 1 / len(UNIVERSE))
    minvar = minimize(
        lambda w: w @ witness["cov"] @ w, x0, method="SLSQP", bounds=bounds, constraints=cons
    )
    assert minvar.success
    assert vols[0] == pytest.approx(float(np.sqrt(minvar.fun)), abs=1e-4)
    # the top end: the largest expected return the caps and the equity floor allow (an LP;
    # the vol cap does not bind there, as the frontier's last volatility shows)
    lp = linprog(
        -witness["mu"],
        A_ub=[[-1.0] * len(EQUITY) + [0.0] * (len(UNIVERSE) - len(EQUITY))],
        b_ub=[-EQUITY_MIN],
        A_eq=[[1.0] * len(UNIVERSE)],
        b_eq=[1.0],
        bounds=bounds,
    )
    assert lp.success and _figures(lp.x, witness)[1] < VOL_CAP
    assert rets[-1] == pytest.approx(-lp.fun, abs=1e-6)


def test_report_draws_the_same_optimisation(script_run):
    stdout, out = script_run
    ms = json.loads((out / "max_sharpe.json").read_text())
    rep = json.loads((out / "report.json").read_text())
    fig = rep["sections"]["optimize"]["figures"]
    for key in ("expected_return", "volatility", "sharpe", "var_95", "cvar_95"):
        assert fig[key] == pytest.approx(ms[key], abs=1e-6)
    assert fig["first"] == ms["window"]["first"] and fig["days"] == ms["window"]["days"]
    for t in UNIVERSE:
        assert fig["weights"][t] == pytest.approx(ms["weights"][t], abs=1e-5)
    assert (out / "report.pdf").stat().st_size > 0
    # the study's eight outputs: seven charts here plus the growth curve, and the PDF
    charts = {p.name.removesuffix(".png") for p in out.glob("optimize_*.png")}
    assert charts == {
        "optimize_frontier",
        "optimize_classes",
        "optimize_class_pie",
        "optimize_pie",
        "optimize_top",
        "optimize_weights",
        "optimize_dashboard",
        "optimize_growth",
    }
    classes = {"equity": EQUITY, "bonds": BONDS, "real estate": ["VNQ", "IYR"]}
    classes |= {"commodities": ["GLD", "DBC"], "cash": ["BIL"]}
    held = {t: abs(w) for t, w in ms["weights"].items() if abs(w) >= 1e-4}
    by_class = {c: sum(held.get(t, 0.0) for t in members) for c, members in classes.items()}
    assert fig["by_class"] == pytest.approx({c: v for c, v in by_class.items() if v}, abs=1e-5)
    # the ten largest: none left out is larger (many sit at the cap, so ties are the solver's)
    size = {t: abs(w) for t, w in fig["weights"].items()}
    assert len(fig["top"]) == 10
    assert min(size[t] for t in fig["top"]) >= max(
        v for t, v in size.items() if t not in fig["top"]
    )
    md = (out / "report.md").read_text()
    assert "monthly simple returns" in md and "x12" in md and "x252" not in md
    assert "report written to" in stdout

"""``hedgedesk optimize`` end to end: one JSON object, figures equal independent recomputation,
constraints honoured, infeasible problems exit 2 with the explanation.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest

from hedgedesk.core.demo import demo_dir
from hedgedesk.tui.cli.main import main


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def run_json(capsys, *argv) -> dict:
    rc, out, err = run(capsys, *argv, "--json")
    assert rc == 0, err
    return json.loads(out)


def demo_returns(tickers, start="2015-01-02") -> pd.DataFrame:
    stocks = pd.read_csv(demo_dir() / "sp500_dataset.csv.gz", index_col=0, parse_dates=True)
    factors = pd.read_csv(demo_dir() / "factors_dataset.csv.gz", index_col=0, parse_dates=True)
    frame = stocks.join(factors, how="inner")[tickers]
    frame = frame[frame.index >= pd.Timestamp(start)].dropna()
    return (frame / frame.shift(1) - 1).iloc[1:]


def test_max_sharpe_on_the_demo_universe(capsys):
    out = run_json(capsys, "optimize", "--objective", "max-sharpe")
    w = pd.Series(out["weights"])
    r = demo_returns(list(w.index))
    mu, cov = r.mean() * 252, r.cov() * 252
    assert out["expected_return"] == pytest.approx(float(mu @ w), rel=1e-9)
    assert out["volatility"] == pytest.approx(float(np.sqrt(w @ cov @ w)), rel=1e-9)
    assert out["sharpe"] == pytest.approx(out["expected_return"] / out["volatility"])
    daily = r.to_numpy() @ w.to_numpy()
    q = np.quantile(daily, 0.05)
    assert out["var_95"] == pytest.approx(-q, rel=1e-9)
    assert out["cvar_95"] == pytest.approx(-daily[daily <= q].mean(), rel=1e-9)
    # the demo [optimizer]: long-only, 15 % cap, 18 % vol cap, groups
    assert w.sum() == pytest.approx(1.0, abs=1e-6) and (w >= -1e-8).all()
    assert w.max() <= 0.15 + 1e-6 and out["volatility"] <= 0.18 + 1e-6
    tech = w[["AAPL", "MSFT", "AMD"]].sum()
    assert 0.10 - 1e-6 <= tech <= 0.40 + 1e-6
    assert any("volatility" in b for b in out["binding"])
    rc = pd.Series(out["risk_contributions"])
    assert rc.sum() == pytest.approx(1.0)


def test_frontier_is_monotone_and_spans_the_range(capsys):
    out = run_json(capsys, "optimize", "--objective", "frontier", "--points", "6")
    rows = [p for p in out["frontier"] if p["ok"]]
    assert len(rows) >= 5
    rets = [p["expected_return"] for p in rows]
    vols = [p["volatility"] for p in rows]
    assert rets == sorted(rets) and all(b >= a - 1e-7 for a, b in itertools.pairwise(vols))
    mv = run_json(capsys, "optimize", "--objective", "min-variance")
    assert vols[0] == pytest.approx(mv["volatility"], rel=1e-4)


@pytest.mark.parametrize(
    "objective", ["mean-cvar", "risk-parity", "kelly", "utility", "max-return"]
)
def test_every_objective_runs_and_reports_its_figures(capsys, objective):
    out = run_json(capsys, "optimize", "--objective", objective)
    w = pd.Series(out["weights"])
    assert w.sum() <= 1 + 1e-6 and np.isfinite(out["volatility"])
    assert out["objective"] == objective and out["estimates"]


def test_group_and_cap_flags_override_the_config(capsys):
    out = run_json(
        capsys,
        "optimize",
        "--objective",
        "min-variance",
        "--max-weight",
        "0.3",
        "--group",
        "energy=XOM,CVX:0.25:0.5",
    )
    w = pd.Series(out["weights"])
    assert w.max() <= 0.3 + 1e-6 and w[["XOM", "CVX"]].sum() >= 0.25 - 1e-6
    assert any("group energy at least" in b for b in out["binding"])


def test_ledoit_wolf_is_named_in_the_output(capsys):
    out = run_json(capsys, "optimize", "--objective", "min-variance", "--shrinkage", "ledoit-wolf")
    assert "Ledoit-Wolf" in out["estimates"]


def test_black_litterman_uses_the_config_views(capsys):
    plain = run_json(capsys, "optimize", "--objective", "max-sharpe")
    bl = run_json(capsys, "optimize", "--objective", "max-sharpe", "--black-litterman")
    assert "Black-Litterman" in bl["estimates"] and bl["weights"] != plain["weights"]


def test_hedge_overlay_reports_before_and_after(capsys):
    out = run_json(capsys, "optimize", "--objective", "hedge-overlay")
    assert set(out["overlay"]["before"]) and set(out["overlay"]["after"])


def test_infeasible_problem_exits_2_with_the_reason(capsys):
    rc, out, err = run(capsys, "optimize", "--objective", "min-variance", "--max-weight", "0.04")
    assert rc == 2 and out == "" and err.count("\n") == 1
    assert "4 %" in err and "raise the maximum weight" in err


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["--data", "x.csv"], "--tickers"),
        (["--group", "bad"], "NAME=T1,T2:MIN:MAX"),
        (["--black-litterman", "--config", "MISSING.toml"], "MISSING.toml: (file): file not found"),
        (["--tickers", "AAPL"], "at least two assets"),
        (["--group", "g=ZZZ:0.1:0.2"], "not in the universe"),
    ],
)
def test_bad_input(capsys, argv, needle):
    rc, out, err = run(capsys, "optimize", "--objective", "min-variance", *argv)
    assert rc == 2 and out == "" and needle in err and err.count("\n") == 1


def test_sharpe_uses_the_conventions_risk_free_rate(capsys):
    # CONVENTIONS: mean(R - rf_d) / std x sqrt(252), rf_d = (1 + rf)^(1/252) - 1
    for objective in ("max-sharpe", "mean-cvar", "min-variance"):
        out = run_json(capsys, "optimize", "--objective", objective, "--rf", "0.04")
        w = pd.Series(out["weights"])
        daily = demo_returns(list(w.index)).to_numpy() @ w.to_numpy()
        rf_d = 1.04 ** (1 / 252) - 1
        witness = (daily - rf_d * w.sum()).mean() / daily.std(ddof=1) * np.sqrt(252)
        assert out["sharpe"] == pytest.approx(witness, rel=1e-9), objective


def test_long_short_overrides_the_config_floor(capsys):
    out = run_json(capsys, "optimize", "--objective", "max-sharpe", "--long-short")
    assert min(out["weights"].values()) < -1e-4


def test_risk_parity_lists_the_constraints_it_does_not_meet(capsys):
    out = run_json(capsys, "optimize", "--objective", "risk-parity", "--max-weight", "0.02")
    assert any("maximum weight 0.02" in c for c in out["constraints_not_met"])


def test_hedge_overlay_takes_the_beta_band_flag(capsys):
    out = run_json(capsys, "optimize", "--objective", "hedge-overlay", "--beta-band", "0.3", "0.35")
    assert out["overlay"]["beta_band"] == [0.3, 0.35]
    assert 0.3 - 1e-6 <= out["overlay"]["after"]["beta"] <= 0.35 + 1e-6


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["--tickers", "AAPL,AAPL,MSFT"], "listed twice"),
        (["--gross-max", "1.5"], "--long-short"),
    ],
)
def test_more_bad_input(capsys, argv, needle):
    rc, out, err = run(capsys, "optimize", "--objective", "min-variance", *argv)
    assert rc == 2 and out == "" and needle in err and err.count("\n") == 1


def test_mean_cvar_target_return(capsys):
    free = run_json(capsys, "optimize", "--objective", "mean-cvar")
    target = free["expected_return"] + 0.03
    out = run_json(capsys, "optimize", "--objective", "mean-cvar", "--target-return", str(target))
    assert out["expected_return"] >= target - 1e-6
    assert out["cvar_95"] >= free["cvar_95"] - 1e-9  # asking for more return costs tail risk


def test_black_litterman_benchmark_prior(tmp_path, capsys):
    text = (
        (demo_dir() / "config.toml")
        .read_text(encoding="utf-8")
        .replace("tau = 0.05", "tau = 0.05\nprior = { AAPL = 0.5, MSFT = 0.5 }", 1)
    )
    path = tmp_path / "desk.toml"
    path.write_text(text, encoding="utf-8")
    equal = run_json(capsys, "optimize", "--objective", "max-sharpe", "--black-litterman")
    bench = run_json(
        capsys, "optimize", "--objective", "max-sharpe", "--black-litterman", "--config", str(path)
    )
    assert bench["weights"] != equal["weights"]


def test_hedge_overlay_cvar_and_cost_budget(capsys):
    out = run_json(
        capsys,
        "optimize",
        "--objective",
        "hedge-overlay",
        "--overlay-objective",
        "cvar",
        "--cost-budget",
        "50",
    )
    ov = out["overlay"]
    assert ov["objective"] == "cvar" and ov["cost"] <= 50 + 1e-6


def test_hedge_overlay_json_keys(capsys):
    out = run_json(capsys, "optimize", "--objective", "hedge-overlay")
    assert list(out["overlay"]) == [
        "sizes",
        "rounded",
        "current",
        "before",
        "after",
        "after_rounded",
        "cost",
        "cost_rounded",
        "objective",
        "beta_band",
        "limits",
        "binding",
        "notes",
        "solver",
        "solvers_tried",
        "signs",
    ]
    assert isinstance(out["overlay"]["beta_band"], list)


def test_hedge_overlay_states_and_keeps_each_legs_sign(capsys):
    """The demo's legs (ES short -2, SPX put +2, AAPL covered call -3 on 1,500 shares): kept,
    each stays on its side and the call within the 15 contracts the shares cover; the text
    output states the limits too. --overlay-free-signs opens both sides.
    """
    ov = run_json(capsys, "optimize", "--objective", "hedge-overlay")["overlay"]
    assert ov["signs"] == "kept"
    sides = {n: lim["side"] for n, lim in ov["limits"].items()}
    assert sides == {
        "ES short": "short",
        "SPX put 3400": "long",
        "AAPL covered call 140": "short",
    }
    assert ov["limits"]["AAPL covered call 140"]["low"] == -15  # 1500 shares // 100
    for name, lim in ov["limits"].items():
        assert lim["low"] <= ov["rounded"][name] <= lim["high"]
        assert lim["low"] - 1e-6 <= ov["sizes"][name] <= lim["high"] + 1e-6
    freed = run_json(capsys, "optimize", "--objective", "hedge-overlay", "--overlay-free-signs")
    assert freed["overlay"]["signs"] == "free"
    assert {lim["side"] for lim in freed["overlay"]["limits"].values()} == {"either"}
    assert freed["overlay"]["limits"]["ES short"]["high"] > 0
    rc, out, err = run(capsys, "optimize", "--objective", "hedge-overlay")
    assert rc == 0, err
    assert "signs kept: each leg keeps its purpose and sign (--overlay-free-signs" in out
    assert "-15..0 kept short (income on the core); covered: 1500 AAPL shares held" in out


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["--max-weight", "-0.5"], "--max-weight: got -0.5, expected a finite number > 0 and <= 1"),
        (["--group", "g=AAPL:0.2:1.5"], "--group: got 1.5, expected a finite number >= 0 and <= 1"),
        (["--beta-band", "0.9", "0.5"], "--beta-band: got (0.9, 0.5), expected [low, high] with"),
        (["--points", "x"], "--points: invalid int value: 'x'"),
    ],
)
def test_flags_are_checked_by_the_requests_rules(capsys, argv, needle):
    rc, out, err = run(capsys, "optimize", "--objective", "min-variance", *argv)
    assert rc == 2 and out == "" and needle in err and err.count("\n") == 1


def test_monthly_data_is_annualised_x12_and_says_so(capsys, tmp_path):
    """CONVENTIONS: N follows the series' frequency; the words follow N too."""
    rng = np.random.default_rng(3)
    months = pd.date_range("2010-01-31", periods=60, freq="ME")
    prices = pd.DataFrame(
        100 * np.cumprod(1 + rng.normal(0.005, 0.04, (60, 3)), axis=0),
        index=months.strftime("%Y-%m-%d"),
        columns=["A", "B", "C"],
    )
    path = tmp_path / "monthly.csv"
    prices.to_csv(path, index_label="Date")
    out = run_json(
        capsys, "optimize", "--data", str(path), "--tickers", "A,B,C", "--objective", "min-variance"
    )
    assert "annualised x12 from monthly simple returns" in out["conventions"]
    assert "VaR/CVaR 1-month historical" in out["conventions"]
    assert out["estimates"].endswith("of monthly returns, x12")
    returns = prices.pct_change().dropna().to_numpy()
    w = np.array([out["weights"][t] for t in "ABC"])
    assert out["volatility"] == pytest.approx(np.sqrt(w @ np.cov(returns.T, ddof=1) @ w * 12))

"""What the ``hedgedesk`` command imports: ``--help`` and ``--version`` stay off pandas, numpy,
scipy, cvxpy, numba and the UI; ``risk --json`` stays off the optimiser, the sweep kernels, the UI
and scipy.stats. Each case runs in a fresh interpreter (this test process has loaded everything).

The figures the lazy imports touch are checked bit for bit against scipy.stats.norm, whose
cdf, pdf and ppf they replaced.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from scipy.stats import norm

from hedgedesk.core.book.options import black76, bsm
from hedgedesk.core.jsonable import jsonable
from hedgedesk.core.metrics import parametric_var

PROBE = """
import json, sys
for name in sys.argv[2:]:
    __import__(name)
from hedgedesk.tui.cli.main import main
try:
    main(json.loads(sys.argv[1]))
except SystemExit:
    pass
sys.stderr.write("MODULES " + json.dumps(sorted(sys.modules)) + "\\n")
"""

NOT_FOR_HELP = ("pandas", "numpy", "scipy", "cvxpy", "numba", "textual", "rich", "matplotlib")
NOT_FOR_RISK = ("cvxpy", "numba", "textual", "statsmodels", "matplotlib", "scipy.stats")


def modules_after(argv: list[str], preload: tuple[str, ...] = ()) -> set[str]:
    """The modules loaded once ``main(argv)`` returns, in a fresh process that first imports
    ``preload``.
    """
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(argv), *preload],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    line = next(ln for ln in proc.stderr.splitlines() if ln.startswith("MODULES "))
    return set(json.loads(line.removeprefix("MODULES ")))


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """Which of ``names`` (packages or modules) are among ``modules``."""
    return [n for n in names if n in modules]


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["--version"], ["risk", "--help"], ["optimize", "--help"], ["sweep", "--help"]],
)
def test_help_and_version_import_no_heavy_module(argv):
    mods = modules_after(argv)
    assert "hedgedesk.tui.cli.main" in mods
    assert loaded(mods, NOT_FOR_HELP) == []


def test_risk_json_imports_only_what_risk_needs():
    mods = modules_after(["risk", "--json"])
    assert {"pandas", "hedgedesk.core.book.risk"} <= mods  # it did run the command
    assert loaded(mods, NOT_FOR_RISK) == []


def test_the_probe_sees_an_eager_import():
    # the same probe, with a heavy module imported before main as an eager import would do
    mods = modules_after(["--help"], preload=("pandas", "scipy.stats"))
    assert loaded(mods, NOT_FOR_HELP) == ["pandas", "numpy", "scipy"]
    assert loaded(mods, NOT_FOR_RISK) == ["scipy.stats"]


def test_option_figures_equal_scipy_stats_bit_for_bit():
    rng = np.random.default_rng(7)
    n = 2_000
    right = rng.choice(["call", "put"], n)
    s, k = rng.uniform(20, 5_000, n), rng.uniform(20, 5_000, n)
    t, v = rng.uniform(1 / 365, 3, n), rng.uniform(0.02, 2.0, n)
    r, q = rng.uniform(-0.01, 0.08, n), rng.uniform(0, 0.05, n)
    w = np.where(right == "call", 1.0, -1.0)
    sqrt_t = np.sqrt(t)

    d1 = (np.log(s / k) + (r - q + 0.5 * v * v) * t) / (v * sqrt_t)
    d2 = d1 - v * sqrt_t
    df_r, df_q = np.exp(-r * t), np.exp(-q * t)
    nd1, nd2, pdf1 = norm.cdf(w * d1), norm.cdf(w * d2), norm.pdf(d1)
    g = bsm(right, s, k, t, r, q, v)
    np.testing.assert_array_equal(g.price, w * (s * df_q * nd1 - k * df_r * nd2))
    np.testing.assert_array_equal(g.gamma, df_q * pdf1 / (s * v * sqrt_t))
    np.testing.assert_array_equal(g.vega, s * df_q * pdf1 * sqrt_t)

    f = s
    d1 = (np.log(f / k) + 0.5 * v * v * t) / (v * sqrt_t)
    d2 = d1 - v * sqrt_t
    df = np.exp(-r * t)
    nd1, nd2, pdf1 = norm.cdf(w * d1), norm.cdf(w * d2), norm.pdf(d1)
    g = black76(right, f, k, t, r, v)
    np.testing.assert_array_equal(g.price, w * df * (f * nd1 - k * nd2))
    np.testing.assert_array_equal(g.delta, w * df * nd1)
    np.testing.assert_array_equal(g.vega, df * f * pdf1 * sqrt_t)


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.975, 0.99, 0.999])
def test_parametric_var_equals_scipy_stats_bit_for_bit(confidence):
    returns = np.random.default_rng(3).normal(0.0004, 0.012, 504)
    mu, sigma = returns.mean(), returns.std(ddof=1)
    z = norm.ppf(1.0 - confidence)
    tail = parametric_var(returns, confidence)
    assert tail.var == float(-(mu + sigma * z))
    assert tail.cvar == float(-(mu - sigma * norm.pdf(z) / (1.0 - confidence)))


def test_jsonable_converts_numpy_and_pandas_values():
    import datetime as dt

    import pandas as pd

    value = {
        1: np.float64(0.5),
        "a": np.array([1, 2]),
        "nat": pd.NaT,
        "d64": np.datetime64("2024-01-02"),
        "bad": np.datetime64("NaT"),
        "ts": pd.Timestamp("2024-01-02 03:04"),
        "nan": np.nan,
        "t": (dt.date(2024, 1, 3), np.int64(7)),
    }
    assert jsonable(value) == {
        "1": 0.5,
        "a": [1, 2],
        "nat": None,
        "d64": "2024-01-02T00:00:00",
        "bad": None,
        "ts": "2024-01-02T03:04:00",
        "nan": None,
        "t": ["2024-01-03", 7],
    }

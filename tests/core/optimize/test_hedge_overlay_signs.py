"""The hedge overlay keeps each leg's purpose and sign by default (core/optimize/hedge_overlay.py).

Witnesses: a second solver (scipy's SLSQP on the variance of the P&L rebuilt by the plain loop
of test_hedge_overlay.py, with sign bounds written here from the legs' current sizes), a plain
loop over every whole-contract book, and the covered-call caps computed by hand from the shares
held or the holdings' beta-dollars.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import minimize

from hedgedesk.core.config import parse_config
from hedgedesk.core.errors import HedgedeskError
from hedgedesk.core.optimize.hedge_overlay import Candidate, default_candidates, hedge_overlay
from hedgedesk.core.optimize.problem import OptimizationError
from tests.core.optimize.test_hedge_overlay import (
    BASE,
    CURRENT,
    ES_UNIT,
    HEDGES,
    HOLDINGS,
    SPECS,
    config,
    core_beta_dollars,
    core_pnl,
    leg,
    make_state,
    nav0,
    unit,
)

NAMES = list(CURRENT)  # ES short (-2), IDX put 3600 (+1), AAA call 160 (-10)
BAND = (0.7, 0.75)  # above what the current hedges give: freed, the ES leg turns long


@pytest.fixture(scope="module")
def state():
    return make_state()


def pnl_and_beta(state) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Core P&L (T,), one unit of each leg's P&L (T, 3) and beta-dollars per unit (3,)."""
    h = np.column_stack([leg(SPECS[n], 1.0, state)[2] for n in NAMES])
    bd = np.array([leg(SPECS[n], 1.0, state)[1] * state.betas[SPECS[n]["ticker"]] for n in NAMES])
    return core_pnl(state), h, bd


def test_default_candidates_keep_purpose_and_sign(state):
    gross = sum(abs(q) * state.closes[t] for t, q in HOLDINGS.items())
    kept = {c.name: c for c in default_candidates(config(hedges=True), state)}
    es_cap = math.ceil(gross / ES_UNIT)
    put_cap = math.ceil(gross / (100 * state.closes["IDX"]))
    assert kept["ES short"].bounds == (-es_cap, 0.0)  # a short beta hedge stays short
    assert kept["IDX put 3600"].bounds == (0.0, put_cap)  # a protective put stays long
    assert kept["AAA call 160"].bounds == (-40.0, 0.0)  # covered: 4000 shares / 100
    assert "kept short" in kept["ES short"].why and "kept long" in kept["IDX put 3600"].why
    assert "4000 AAA shares held cover 40 contracts" in kept["AAA call 160"].why
    free = {c.name: c for c in default_candidates(config(hedges=True), state, free_signs=True)}
    assert {n: c.bounds for n, c in free.items()} == {
        "ES short": (-es_cap, es_cap),
        "IDX put 3600": (-put_cap, put_cap),
        "AAA call 160": (-40.0, 40.0),
    }
    assert all("signs freed" in c.why for c in free.values())
    # the added hedge future offsets a long core: short only
    (es,) = default_candidates(config(), state)
    assert es.sign == -1 and "offsets the holdings' beta" in es.why


def test_a_short_call_is_held_within_what_covers_it(state):
    text = (
        BASE
        + HEDGES.replace("quantity = -10", "quantity = -50")  # 5000 shares: 1000 uncovered
        + """
[[book.hedges]]
name = "IDX call 4400"
instrument = "option"
right = "call"
underlying = "IDX"
strike = 4400
expiry = "2022-06-17"
quantity = -1
volatility = 0.2
"""
    )
    cfg = parse_config(text, Path("/tmp/overlay-signs.toml"))
    cands = {c.name: c for c in default_candidates(cfg, state)}
    assert cands["AAA call 160"].bounds == (-40.0, 0.0)  # not raised to the 50 short now
    by_hand = math.floor(core_beta_dollars(state) / (100 * state.closes["IDX"] * 1.0))
    assert cands["IDX call 4400"].bounds == (-by_hand, 0.0)
    assert f"cover {by_hand} contracts on IDX" in cands["IDX call 4400"].why
    res = hedge_overlay(cfg, state, list(cands.values()))
    assert -40 - 1e-6 <= res.sizes["AAA call 160"] <= 1e-6
    assert -40 <= res.rounded["AAA call 160"] <= 0  # the uncovered ten are bought back
    assert res.limits["AAA call 160"] == {
        "low": -40.0,
        "high": 0.0,
        "side": "short",
        "why": cands["AAA call 160"].why,
    }
    free = {c.name: c for c in default_candidates(cfg, state, free_signs=True)}
    assert free["AAA call 160"].bounds == (-50.0, 50.0)  # freed: the current size stands
    assert "raised to the current size 50" in free["AAA call 160"].why
    assert free["IDX call 4400"].sign == 0  # no cover cap on an unheld underlying when freed


def test_kept_signs_match_a_second_solver(state):
    cfg = config(hedges=True)
    kept = default_candidates(cfg, state)
    res = hedge_overlay(cfg, state, kept, beta_band=BAND)
    freed = hedge_overlay(
        cfg, state, default_candidates(cfg, state, free_signs=True), beta_band=BAND
    )
    assert freed.sizes["ES short"] > 0.3  # freed, the short beta hedge turns long
    assert res.sizes["ES short"] == pytest.approx(0.0, abs=1e-6)  # kept, it stops at 0
    assert "ES short: at 0, kept short (its sign limit)" in res.binding
    for c in kept:  # no leg changes sign
        assert res.sizes[c.name] * CURRENT[c.name] >= -1e-9
        assert res.rounded[c.name] * CURRENT[c.name] >= 0

    c, h, bd = pnl_and_beta(state)
    # premiums come from cash: the NAV is the book's now, its hedges' value included
    nav = nav0(state) + sum(CURRENT[n] * leg(SPECS[n], 1.0, state)[0] for n in NAMES)
    bd0 = core_beta_dollars(state)
    caps = [cand.max_units for cand in kept]
    bounds = [
        (0.0, cap) if CURRENT[n] > 0 else (-cap, 0.0) for n, cap in zip(NAMES, caps, strict=True)
    ]
    scale = np.array([1.0, 1.0, 10.0])  # sizes in similar units for SLSQP

    cc, hc = c - c.mean(), (h - h.mean(axis=0)) * scale  # centred, per unit of z
    k = 1e4 / (nav**2 * (len(c) - 1))  # variance x 1e4: near 1 for SLSQP

    def var(z: np.ndarray) -> tuple[float, np.ndarray]:
        r = cc + hc @ z
        return float(k * r @ r), 2 * k * (hc.T @ r)

    beta = lambda z: (bd0 + bd @ (z * scale)) / nav  # noqa: E731
    best = minimize(
        var,
        np.array([-0.5, 0.5, -1.0]),
        jac=True,
        method="SLSQP",
        bounds=[(lo / s, hi / s) for (lo, hi), s in zip(bounds, scale, strict=True)],
        constraints=[
            {"type": "ineq", "fun": lambda z: beta(z) - BAND[0], "jac": lambda z: bd * scale / nav},
            {
                "type": "ineq",
                "fun": lambda z: BAND[1] - beta(z),
                "jac": lambda z: -bd * scale / nav,
            },
        ],
        options={"ftol": 1e-15, "maxiter": 1000},
    )
    assert best.success
    witness = best.x * scale
    got = np.array([res.sizes[n] for n in NAMES])
    assert got == pytest.approx(witness, abs=1e-3)
    assert res.after["variance"] == pytest.approx(best.fun / 1e4, rel=1e-6)
    assert res.after["variance"] <= best.fun / 1e4 * (1 + 1e-9)

    # whole contracts: every book in the sign-kept box, scored by a plain loop
    top, top_var = None, math.inf
    for sizes in itertools.product(
        *[range(math.ceil(lo), math.floor(hi) + 1) for lo, hi in bounds]
    ):
        g = np.array(sizes, dtype=float)
        b = (bd0 + bd @ g) / nav
        if BAND[0] - 1e-9 <= b <= BAND[1] + 1e-9:
            v = np.var((c + h @ g) / nav, ddof=1)
            if v < top_var:
                top, top_var = sizes, v
    assert tuple(res.rounded[n] for n in NAMES) == top
    assert res.after_rounded["variance"] == pytest.approx(top_var, rel=1e-9)


def test_cvar_objective_keeps_signs_too(state):
    cfg = config(hedges=True)
    res = hedge_overlay(cfg, state, default_candidates(cfg, state), "cvar", beta_band=BAND)
    for n in NAMES:
        assert res.sizes[n] * CURRENT[n] >= -1e-7 and res.rounded[n] * CURRENT[n] >= 0


def test_a_band_out_of_reach_of_kept_signs_names_the_option(state):
    (es,) = default_candidates(config(), state)  # short only: it can only lower beta
    top = core_beta_dollars(state) / nav0(state)
    with pytest.raises(OptimizationError) as err:
        hedge_overlay(config(), state, [es], beta_band=(top + 0.1, top + 0.2))
    assert f"can move beta only to {top:.4f} at most" in str(err.value)
    assert "--overlay-free-signs" in str(err.value)
    (free,) = default_candidates(config(), state, free_signs=True)
    res = hedge_overlay(config(), state, [free], beta_band=(top + 0.1, top + 0.2))
    assert res.sizes[free.name] > 0  # freed, the future goes long to raise beta


def test_a_bad_sign_is_refused(state):
    with pytest.raises(HedgedeskError, match=r"sign 2, expected 1 \(long\), -1 \(short\) or 0"):
        hedge_overlay(config(), state, [Candidate(unit("ES short"), 5.0, sign=2)])


def test_the_request_takes_only_true_or_false_to_free_the_signs():
    from hedgedesk.core.limits import SettingError
    from hedgedesk.core.optimize.request import OptimizeRequest

    assert OptimizeRequest((), "hedge-overlay").overlay_free_signs is False
    with pytest.raises(SettingError, match=r"overlay_free_signs.*true or false"):
        OptimizeRequest((), "hedge-overlay", overlay_free_signs="yes")

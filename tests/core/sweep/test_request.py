"""The sweep request: built one way from the config with flags or form fields on top, validated
once with errors naming the field as the user gave it, stored in the ledger and rebuilt
identically to resume; one configuration re-run as a dated backtest.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from hedgedesk.core.config import load_config, parse_config
from hedgedesk.core.demo import demo_config_path
from hedgedesk.core.errors import ConfigError, DataError
from hedgedesk.core.metrics import performance
from hedgedesk.core.sweep.backtest import dynamic_beta_hedge, run_backtest
from hedgedesk.core.sweep.grid import FLAGS, Grid, Leg, Naming, estimators, parse_leg
from hedgedesk.core.sweep.ledger import Ledger
from hedgedesk.core.sweep.request import (
    DEFAULT_HALFLIVES,
    LEVEL_AXES,
    SweepRequest,
    backtest_for_row,
    grid_texts,
)
from hedgedesk.core.sweep.score import ScoreTargets
from tests.core.sweep.test_engine import leg_returns, make_market

FORM = Naming(
    {"legs": "tickers", "hedge_ratio": "hedge ratio", "drift_band": "drift band"}
    | {f: f for f in ("hedge", "rebalance", "window", "estimator", "halflife", "exposure", "cost")}
)


@pytest.fixture(scope="module")
def demo_text() -> str:
    return demo_config_path().read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def cfg():
    return load_config(demo_config_path())


def _config(demo_text: str, **sweep: str):
    """The demo config with ``[sweep]`` keys set to TOML literals (a key = value line each)."""
    head, tail = demo_text.split("[sweep]\n", 1)
    lines = [ln for ln in tail.split("\n") if ln.split("=")[0].strip() not in sweep]
    lines[:0] = [f"{k} = {v}" for k, v in sweep.items()]
    return parse_config(head + "[sweep]\n" + "\n".join(lines), Path("/desk/desk.toml"))


# -- from the config -------------------------------------------------------------------------
def test_from_config_is_the_configs_grid_dates_rate_and_targets(cfg):
    s = cfg.sweep
    req = SweepRequest.from_config(cfg)
    g = req.grid
    assert g.legs == tuple(parse_leg(t) for t in s.long) and g.hedge == s.hedge
    for axis in LEVEL_AXES:
        assert getattr(g, axis) == tuple(getattr(s, axis)), axis
    assert g.estimator == estimators(s.estimator, s.ewma_halflife)
    assert (req.start, req.end, req.rf) == (cfg.data.start, cfg.data.end, cfg.risk.rf)
    assert req.targets == ScoreTargets(**s.score)
    # the run's settings the config has no keys for keep their defaults
    defaults = SweepRequest(g)
    assert (req.capital, req.backend, req.top, req.walk_forward, req.blocks, req.data) == (
        defaults.capital,
        defaults.backend,
        defaults.top,
        defaults.walk_forward,
        defaults.blocks,
        (),
    )


def test_without_a_config_the_overrides_and_the_defaults():
    req = SweepRequest.from_config(None, legs="A,M=B+C@volume", hedge="H")
    assert req.grid.legs == (Leg("A", ("A",)), Leg("M", ("B", "C"), "volume"))
    assert req.grid == Grid(legs=req.grid.legs, hedge="H")  # every axis at its default
    assert req.grid.estimator == estimators(("ols",), DEFAULT_HALFLIVES)
    assert (req.start, req.end, req.rf, req.targets) == (None, None, 0.0, ScoreTargets())


def test_overrides_replace_what_they_name_and_keep_the_rest(cfg, tmp_path):
    base = SweepRequest.from_config(cfg)
    req = SweepRequest.from_config(
        cfg,
        legs="AAPL",
        rebalance="5,21",
        window=(60,),
        estimator="ewma",
        halflife="10:30:3",
        cost="0:0.001:3",
        start=dt.date(2020, 1, 2),
        rf=0.01,
        top=5,
        blocks=6,
        backend="cpu",
        data=[tmp_path / "p.csv"],
    )
    g = req.grid
    assert g.legs == (Leg("AAPL", ("AAPL",)),) and g.hedge == base.grid.hedge
    assert g.rebalance == (5, 21) and g.window == (60,)
    assert g.estimator == estimators(("ewma",), (10.0, 20.0, 30.0))
    assert g.cost == (0.0, 0.0005, 0.001)
    for axis in ("exposure", "hedge_ratio", "drift_band", "impact"):
        assert getattr(g, axis) == getattr(base.grid, axis)
    assert (req.start, req.end, req.rf) == (dt.date(2020, 1, 2), base.end, 0.01)
    assert (req.top, req.blocks, req.backend) == (5, 6, "cpu")
    assert req.data == (str((tmp_path / "p.csv").resolve()),)
    assert req.targets == base.targets
    # blank estimator and half-life text leave the config's
    assert SweepRequest.from_config(cfg, estimator=" ", halflife="") == base


# -- one reading of a:b:n ----------------------------------------------------------------------
def test_a_range_gives_the_same_levels_from_the_config_a_flag_and_the_form(demo_text):
    """0.5:1.5:11 holds exactly 1.2 whichever way it was typed (the flag parser once gave
    1.2000000000000002 where the config gave 1.2).
    """
    cfg = _config(demo_text, exposure='"0.5:1.5:11"', hedge_ratio='"0.1:0.3:3"')
    from_config = SweepRequest.from_config(cfg).grid
    from_flag = SweepRequest.from_config(
        cfg, FLAGS, exposure="0.5:1.5:11", hedge_ratio="0.1:0.3:3"
    ).grid
    from_form = SweepRequest.from_config(
        cfg, FORM, exposure="0.5:1.5:11", hedge_ratio="0.1:0.3:3"
    ).grid
    assert from_config.exposure == from_flag.exposure == from_form.exposure
    assert from_config.exposure[7] == 1.2 and from_flag.exposure[7] == 1.2
    assert from_config.exposure == (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5)
    assert from_config.hedge_ratio == from_flag.hedge_ratio == (0.1, 0.2, 0.3)
    assert SweepRequest.from_config(cfg, rebalance="1:3:3").grid.rebalance == (1, 2, 3)


def test_the_forms_prefilled_text_is_the_configs_request(cfg, demo_text):
    texts = grid_texts(cfg)
    assert texts["exposure"].split(",")[7] == "1.2"
    assert SweepRequest.from_config(cfg, FORM, **texts) == SweepRequest.from_config(cfg)
    ols_only = _config(demo_text, estimator='["ols"]')
    texts = grid_texts(ols_only)
    assert texts["halflife"] == ""  # no EWMA swept: no half-lives to type over
    assert SweepRequest.from_config(ols_only, FORM, **texts) == SweepRequest.from_config(ols_only)


def test_without_a_sweep_table_the_form_starts_from_the_defaults():
    texts = grid_texts(None)
    assert (texts["legs"], texts["hedge"], texts["estimator"], texts["halflife"]) == (
        "",
        "",
        "ols",
        "",
    )
    req = SweepRequest.from_config(None, FORM, **{**texts, "legs": "A", "hedge": "H"})
    assert req.grid == Grid(legs=(Leg("A", ("A",)),), hedge="H")


# -- one validator, the user's names ----------------------------------------------------------
@pytest.mark.parametrize(
    ("overrides", "where", "label", "words"),
    [
        ({"rebalance": "0"}, FLAGS, "--rebalance", "periods must be >= 1 day, got 0"),
        ({"rebalance": "0"}, FORM, "rebalance", "periods must be >= 1 day"),
        ({"hedge_ratio": "-1"}, FORM, "hedge ratio", "hedge ratios must be >= 0"),
        ({"exposure": "1:2"}, FLAGS, "--exposure", "'1:2': expected a range a:b:n"),
        ({"exposure": "1:2"}, FORM, "exposure", "'1:2': expected a range a:b:n"),
        ({"window": "20.5"}, FLAGS, "--window", "whole numbers"),
        ({"cost": "0.5"}, FLAGS, "--cost", "[0, 0.1]"),
        ({"estimator": "ols,garch"}, FLAGS, "--estimator", "'garch'"),
        ({"legs": "A+B"}, FORM, "tickers", "is not a ticker"),
        ({"hedge": "AAPL"}, FLAGS, "--hedge", "AAPL is also a long leg"),
        ({"top": 0}, FLAGS, "--top", "must be >= 1"),
        ({"blocks": 7}, FLAGS, "--blocks", "even number of blocks"),
        ({"walk_forward": 0.95}, FLAGS, "--walk-forward", "[0.1, 0.9]"),
        ({"backend": "tpu"}, FLAGS, "--backend", "auto, cpu or gpu"),
        ({"capital": 0.0}, FLAGS, "--capital", "positive amount"),
        ({"keep": "some"}, FLAGS, "--keep", "expected best or all, got 'some'"),
        # one cap per axis, the config's (core.levels.MAX_LEVELS), for ranges and lists
        ({"exposure": "0.1:2:1000000000"}, FLAGS, "--exposure", "must be 2..10000"),
        ({"exposure": "0.1:2:1000000000"}, FORM, "exposure", "must be 2..10000"),
        (
            {"exposure": ",".join(str(i) for i in range(1, 10_002))},
            FLAGS,
            "--exposure",
            "10,001 values; at most 10,000 per axis",
        ),
        ({"window": range(2, 10_003)}, FORM, "window", "10,001 values; at most 10,000"),
    ],
)
def test_an_overridden_value_is_named_as_typed(cfg, overrides, where, label, words):
    with pytest.raises(DataError) as err:
        SweepRequest.from_config(cfg, where, **overrides)
    assert err.value.where == label, str(err.value)
    assert words in err.value.problem and "\n" not in str(err.value)


def test_a_value_from_the_config_is_named_by_its_key_and_file(demo_text):
    """The config loads (each key is fine alone); the request refuses the combination, naming
    the config's key in its file, not a flag the user never typed.
    """
    cfg = _config(demo_text, hedge='"AAPL"')
    with pytest.raises(ConfigError) as err:
        SweepRequest.from_config(cfg)
    assert (err.value.file, err.value.key) == ("/desk/desk.toml", "sweep.hedge")
    assert "AAPL is also a long leg" in err.value.problem
    # the same clash, the legs typed over the config: still the config's hedge key
    ok = SweepRequest.from_config(_config(demo_text), legs="MSFT")
    assert ok.grid.legs == (Leg("MSFT", ("MSFT",)),)
    cfg = _config(demo_text)
    with pytest.raises(ConfigError, match=r"desk.toml: sweep.hedge: SP500 is also"):
        SweepRequest.from_config(cfg, legs="MSFT,SP500")


def test_bad_score_targets_in_the_config_name_their_key(demo_text):
    text = demo_text.replace("[sweep]\n", "[sweep.score]\nw_sharpe = -1\n\n[sweep]\n", 1)
    cfg = parse_config(text, Path("/desk/desk.toml"))
    with pytest.raises(ConfigError) as err:
        SweepRequest.from_config(cfg)
    assert (err.value.file, err.value.key) == ("/desk/desk.toml", "sweep.score.w_sharpe")


def test_half_lives_without_ewma_and_missing_legs_say_what_to_add():
    with pytest.raises(DataError) as err:
        SweepRequest.from_config(None, legs="A", hedge="H", halflife="5")
    assert err.value.where == "--halflife" and "add --estimator ols,ewma" in err.value.problem
    with pytest.raises(DataError) as err:
        SweepRequest.from_config(None, FORM, legs="A", hedge="H", halflife="5")
    assert err.value.where == "halflife" and "add estimator ols,ewma" in err.value.problem
    with pytest.raises(DataError) as err:
        SweepRequest.from_config(None, hedge="H")
    assert err.value.where == "--tickers" and "[sweep] table" in err.value.problem
    with pytest.raises(DataError) as err:
        SweepRequest.from_config(None, legs="A")
    assert err.value.where == "--hedge"
    with pytest.raises(TypeError, match="tickers"):
        SweepRequest.from_config(None, tickers="A")  # a field's name, not a flag's


def test_keep_comes_from_a_flag_the_config_or_the_default(cfg, demo_text):
    assert SweepRequest.from_config(cfg).keep == "best"  # the demo has no sweep.keep
    assert SweepRequest.from_config(None, legs="A", hedge="H").keep == "best"
    assert SweepRequest.from_config(None, legs="A", hedge="H", keep="all").keep == "all"
    keeps_all = _config(demo_text, keep='"all"')
    assert SweepRequest.from_config(keeps_all).keep == "all"
    assert SweepRequest.from_config(keeps_all, keep="best").keep == "best"
    with pytest.raises(ConfigError) as err:
        _config(demo_text, keep='"some"')
    assert err.value.key == "sweep.keep" and "one of best, all" in err.value.problem


def test_an_axis_over_the_cap_in_the_config_names_its_key(demo_text):
    with pytest.raises(ConfigError) as err:
        _config(demo_text, exposure='"0.1:2:1000000000"')
    assert (err.value.file, err.value.key) == ("/desk/desk.toml", "sweep.exposure")
    assert "count 1..10000" in err.value.problem and "\n" not in str(err.value)


# -- the ledger and resume ---------------------------------------------------------------------
def test_resume_rebuilds_the_identical_request(cfg, tmp_path):
    """A request goes into the ledger as JSON (dates as text, NaN half-lives as null) and
    comes back equal, field by field, with the same grid decoding.
    """
    req = SweepRequest.from_config(
        cfg,
        exposure="0.5:1.5:11",
        start=dt.date(2019, 1, 2),
        end=dt.date(2023, 6, 30),
        capital=2e6,
        top=7,
        data=[tmp_path / "prices.csv"],
    )
    with Ledger(tmp_path / "runs.sqlite") as ledger:
        run_id = ledger.create_run(req.to_dict(), "fp", "code", "cpu", "test", 10, 10)
        params = ledger.get(run_id).params
    again = SweepRequest.from_dict(params)
    assert again == req
    assert again.grid.exposure[7] == 1.2 and again.grid.shape == req.grid.shape
    assert again.grid.strategy_params(123) == req.grid.strategy_params(123)
    assert SweepRequest.from_dict(json.loads(json.dumps(params))) == req
    assert SweepRequest.from_dict(req.to_dict()) == req  # dates as dates too


def test_a_resumed_run_keeps_what_it_was_asked_to_keep(cfg):
    req = SweepRequest.from_config(cfg, keep="all")
    d = json.loads(json.dumps(req.to_dict(), default=str))
    assert d["keep"] == "all" and SweepRequest.from_dict(d) == req
    del d["keep"]  # a run recorded before --keep
    assert SweepRequest.from_dict(d).keep == "best"


# -- one configuration as a backtest -----------------------------------------------------------
@pytest.fixture(scope="module")
def market():
    return make_market()


def _row(**kw):
    base = {
        "ticker": "A",
        "rebalance": 5,
        "window": 40,
        "estimator": "ols",
        "halflife": None,
        "exposure": 1.0,
        "hedge_ratio": 1.0,
        "cost": 0.001,
        "drift_band": 0.0,
    }
    return base | kw


@pytest.fixture(scope="module")
def request_(market):
    legs = (Leg("A", ("A",)), parse_leg("AB=A+B@volume"))
    start = market.aligned_prices(["A", "H"]).index[5].date()
    return SweepRequest(Grid(legs=legs, hedge="H"), start=start, rf=0.02)


def test_an_ols_row_is_run_backtest_on_the_requests_dates_and_rate(market, request_):
    bt = backtest_for_row(market, request_, _row())
    want = run_backtest(
        market, ["A"], "H", 5, 40, 1.0, 1.0, 0.001, 0.0, rf=0.02, start=request_.start
    )
    np.testing.assert_array_equal(bt.equity, want.equity)
    assert bt.dates[0] > market.aligned_prices(["A", "H"]).index[5]  # clipped to the start
    assert bt.metrics == want.metrics


def test_a_basket_row_runs_on_the_members_and_weighting(market, request_):
    bt = backtest_for_row(market, request_, _row(ticker="AB", window=60))
    want = run_backtest(
        market,
        ["A", "B"],
        "H",
        5,
        60,
        1.0,
        1.0,
        0.001,
        0.0,
        weighting="volume",
        rf=0.02,
        start=request_.start,
    )
    np.testing.assert_array_equal(bt.equity, want.equity)
    equal = run_backtest(market, ["A", "B"], "H", 5, 60, 1.0, 1.0, 0.001, 0.0, rf=0.02)
    assert not np.array_equal(bt.equity, equal.equity[-len(bt.equity) :])


def test_an_ewma_row_is_rerun_with_its_estimator(market, request_):
    """Witness: the recipe run on returns taken here from the aligned closes."""
    row = SimpleNamespace(**_row(estimator="ewma", halflife=15.0))  # a Strategy-like object
    bt = backtest_for_row(market, request_, row)
    days, r_long, r_hedge = leg_returns(market, "A")
    keep = days >= np.datetime64(request_.start)
    keep[np.argmax(keep)] = False  # the first day's return needs the day before the start
    run = dynamic_beta_hedge(
        r_long[keep], r_hedge[keep], 5, 40, 1.0, 1.0, 0.001, 0.0, 1.0, "ewma", 15.0
    )
    np.testing.assert_allclose(bt.equity, run.equity, rtol=1e-12)
    ols = backtest_for_row(market, request_, _row())
    assert len(bt.dates) == len(bt.equity) and not np.allclose(bt.equity, ols.equity)
    assert bt.metrics["sharpe"] == pytest.approx(performance(run.equity, 0.02).sharpe)
    assert bt.metrics["unhedged"] == ols.metrics["unhedged"]


def test_a_row_of_another_sweep_is_refused(market, request_):
    with pytest.raises(DataError, match="not a long leg of this sweep"):
        backtest_for_row(market, request_, _row(ticker="B"))

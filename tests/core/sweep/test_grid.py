"""The sweep grid: parsing of legs, validation naming each field as the user gave it, and the
decoding of row indices. (Levels, ``1,5,21`` and ``a:b:n``, are tests/core/test_levels.py's.)
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from hedgedesk.core.errors import ConfigError, DataError
from hedgedesk.core.sweep.grid import (
    AXES,
    FIELDS,
    FLAGS,
    Estimator,
    Grid,
    Leg,
    Naming,
    estimators,
    parse_leg,
)


def test_legs_single_and_basket():
    assert parse_leg("AAPL") == Leg("AAPL", ("AAPL",))
    basket = parse_leg("MAG=AAPL+MSFT+NVDA@volume")
    assert basket.tickers == ("AAPL", "MSFT", "NVDA") and basket.weighting == "volume"
    assert basket.is_basket and parse_leg(basket.spec()) == basket
    assert parse_leg("EQ=A+B").weighting == "equal"


@pytest.mark.parametrize("text", ["A+B", "M=A", "M=A+A", "M=A+B@cap", "M=+B", ""])
def test_bad_legs(text):
    with pytest.raises(DataError):
        parse_leg(text)


def _grid(**kw) -> Grid:
    base = {
        "legs": (Leg("A", ("A",)),),
        "hedge": "H",
        "rebalance": (1, 5),
        "window": (20, 60),
        "estimator": estimators(("ols", "ewma"), (10.0, 30.0)),
        "exposure": (0.5, 1.0),
        "hedge_ratio": (0.0, 1.0),
        "drift_band": (0.0,),
        "cost": (0.0, 0.001),
        "impact": (0.0,),
    }
    base.update(kw)
    return Grid(**base)


def test_decoding_matches_the_cartesian_product_in_axis_order():
    """Row i is the i-th element of itertools.product over AXES (scenario axes innermost)."""
    g = _grid()
    values = [range(len(g.estimator)) if a == "estimator" else getattr(g, a) for a in AXES]
    product = list(itertools.product(*values))
    assert len(product) == g.rows_per_leg == g.n_strategies * g.n_scenarios
    decoded = g.decode(np.arange(g.rows_per_leg))
    for i, combo in enumerate(product):
        assert tuple(decoded[a][i] for a in AXES) == combo
    # a strategy's scenarios are adjacent rows
    assert [g.strategy_params(i)["cost"] for i in range(g.n_scenarios)] == list(g.cost)


def test_strategy_params_name_the_estimator():
    g = _grid()
    kinds = {(p["estimator"], p["halflife"]) for p in map(g.strategy_params, range(g.rows_per_leg))}
    assert kinds == {("ols", None), ("ewma", 10.0), ("ewma", 30.0)}


def test_round_trip_through_a_dict_and_types_are_normalised():
    g = _grid(cost=(0, 0.001), rebalance=(1.0, 5.0))
    assert g.cost == (0.0, 0.001) and all(isinstance(c, float) for c in g.cost)
    assert all(isinstance(p, int) for p in g.rebalance)
    again = Grid.from_dict(g.to_dict())
    assert again.to_dict() == g.to_dict() and again.shape == g.shape
    assert math.isnan(again.estimator[0].halflife) and again.estimator[1] == Estimator("ewma", 10)


@pytest.mark.parametrize(
    ("kw", "flag"),
    [
        ({"rebalance": (0,)}, "--rebalance"),
        ({"window": (1,)}, "--window"),
        ({"exposure": (0.0,)}, "--exposure"),
        ({"hedge_ratio": (-1.0,)}, "--hedge-ratio"),
        ({"drift_band": (-0.1,)}, "--drift-band"),
        ({"cost": (0.2,)}, "--cost"),
        ({"impact": (-1.0,)}, "--impact"),
        ({"cost": ()}, "--cost"),
        ({"window": (20, 20)}, "--window"),
        ({"hedge": "A"}, "--hedge"),
        ({"legs": ()}, "--tickers"),
        ({"legs": (Leg("A", ("A",)), Leg("A", ("A",)))}, "--tickers"),
    ],
)
def test_validation_names_the_flag(kw, flag):
    with pytest.raises(DataError) as err:
        _grid(**kw)
    assert err.value.where == flag


def test_unknown_estimator():
    with pytest.raises(DataError, match="garch") as err:
        estimators(("garch",), (10.0,))
    assert err.value.where == "--estimator"


def test_unknown_estimator_is_named_as_the_user_named_it():
    with pytest.raises(DataError) as err:
        estimators(("ols", "garch"), (10.0,), Naming({"estimator": "estimator"}))
    assert err.value.where == "estimator" and "garch" in str(err.value)


def test_fractional_periods_are_refused_not_truncated():
    with pytest.raises(DataError, match="whole numbers") as err:
        _grid(rebalance=(1, 5.5))
    assert err.value.where == "--rebalance"
    assert _grid(rebalance=(1.0, 5.0)).rebalance == (1, 5)


def test_ewma_half_lives_must_be_positive():
    with pytest.raises(DataError, match="> 0 days") as err:
        _grid(estimator=(Estimator("ewma", 0.0),))
    assert err.value.where == "--halflife"


def test_naming_flags_config_and_form():
    """One validator, three namings: the flag, the config key (a ConfigError naming the
    file) and the form's field; a mixed naming names each field by where it came from.
    """
    assert FLAGS.label("legs") == "--tickers" and FLAGS.label("hedge_ratio") == "--hedge-ratio"
    assert set(FIELDS) >= {*AXES, "legs", "hedge", "halflife"}
    config = Naming.config("desk.toml")
    with pytest.raises(ConfigError) as err:
        _grid(window=(1,), where=config)
    assert (err.value.file, err.value.key) == ("desk.toml", "sweep.window")
    assert str(err.value).startswith("desk.toml: sweep.window: beta windows must be >= 2")
    assert config.label("legs") == "sweep.long" and config.label("rf") == "risk.rf"
    form = Naming({"hedge_ratio": "hedge ratio", "legs": "tickers"})
    with pytest.raises(DataError) as err:
        _grid(hedge_ratio=(-1.0,), where=form)
    assert str(err.value) == "hedge ratio: hedge ratios must be >= 0, got -1"
    mixed = config.mixed(form, ["hedge_ratio"])
    with pytest.raises(DataError, match=r"^hedge ratio: "):
        _grid(hedge_ratio=(-1.0,), where=mixed)
    with pytest.raises(ConfigError, match=r"^desk\.toml: sweep\.cost: "):
        _grid(cost=(0.5,), where=mixed)


@pytest.mark.parametrize("axis", ["exposure", "hedge_ratio", "impact"])
def test_an_axis_past_its_ceiling_is_refused_naming_it(axis):
    """Past 10 the backtest's arithmetic overflows (1e308 gave NaN curves and warnings)."""
    _grid(**{axis: (1.0, 10.0)}, where=FLAGS)  # the ceiling itself is fine
    flag = "--" + axis.replace("_", "-")
    with pytest.raises(DataError, match=f"^{flag}: expected values <= 10, got 1e\\+308"):
        _grid(**{axis: (1.0, 1e308)}, where=FLAGS)


def test_the_naming_is_not_part_of_the_grid():
    """An init-only argument: grids built under different namings are equal and round-trip."""
    a, b = _grid(), _grid(where=Naming.config("x.toml"))
    assert a == b and Grid.from_dict(b.to_dict()) == a

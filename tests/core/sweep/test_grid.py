"""The sweep grid: parsing of levels and legs, validation, and the decoding of row indices."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hedgedesk.core.errors import DataError
from hedgedesk.core.sweep.grid import (
    AXES,
    Estimator,
    Grid,
    Leg,
    estimators,
    parse_leg,
    parse_levels,
)


def test_range_gives_n_evenly_spaced_values_both_ends_included():
    assert parse_levels("0.5:1.5:11", "--exposure") == pytest.approx(
        [0.5 + 0.1 * i for i in range(11)]
    )
    assert parse_levels("1,5,21", "--rebalance", integer=True) == (1, 5, 21)
    assert parse_levels("2:2:1", "--x") == (2.0,)


@pytest.mark.parametrize("text", ["1:2", "1:2:0", "a,b", "1,1", "1:2:x", "nan", "1,inf"])
def test_bad_levels_name_the_flag(text):
    with pytest.raises(DataError, match="--exposure"):
        parse_levels(text, "--exposure")


def test_integer_levels_refuse_fractions():
    with pytest.raises(DataError, match="whole numbers"):
        parse_levels("1.5,2", "--window", integer=True)


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
    with pytest.raises(DataError, match="garch"):
        estimators(("garch",), (10.0,))

"""Grid levels as typed: lists ``1,5,21`` and ranges ``a:b:n``, read one way everywhere."""

from __future__ import annotations

import numpy as np
import pytest

from hedgedesk.core.levels import (
    MAX_LEVELS,
    LevelsError,
    format_levels,
    parse_levels,
    parse_range,
)


def test_a_range_gives_n_evenly_spaced_values_both_ends_included():
    assert parse_levels("0.5:1.5:11") == pytest.approx([0.5 + 0.1 * i for i in range(11)])
    assert parse_levels("1,5,21", integer=True) == (1, 5, 21)
    assert parse_levels("2:2:1") == (2.0,)
    assert parse_levels("20:60:3", integer=True) == (20, 40, 60)


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("0.5:1.5:11", (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5)),
        ("1:3:3", (1.0, 2.0, 3.0)),
        ("0.1:0.3:3", (0.1, 0.2, 0.3)),
        ("0.0001:0.0005:5", (0.0001, 0.0002, 0.0003, 0.0004, 0.0005)),
        ("-0.1:0.2:4", (-0.1, 0.0, 0.1, 0.2)),
        ("1:0:3", (1.0, 0.5, 0.0)),
    ],
)
def test_a_range_holds_the_decimals_the_user_means(text, values):
    """Exactly: 0.5:1.5:11 holds 1.2, not 0.5 + 7 * 0.1 = 1.2000000000000002."""
    assert 0.5 + 7 * 0.1 != 1.2  # the float noise a plain a + i * step gives
    assert parse_range(text) == values
    assert parse_levels(text) == values


def test_a_range_is_numpy_linspace_to_rounding():
    for text in ("0:1:7", "1:2:4", "0.003:0.017:13", "-5:250:9", "0:1e-14:3"):
        a, b, n = text.split(":")
        got = np.array(parse_range(text))
        want = np.linspace(float(a), float(b), int(n))
        scale = max(abs(float(a)), abs(float(b)))
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * scale)
        assert len(set(got)) == len(got)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("1:2", "a:b:n"),
        ("1:2:0", "2..10000"),
        ("1:2:1", "1 only when a == b"),
        (f"0:1:{MAX_LEVELS + 1}", "2..10000"),
        ("1:2:x", "a:b:n"),
        ("nan:1:3", "finite"),
        ("a,b", "a list like 1,5,21"),
        ("1,1", "listed twice"),
        ("nan", "finite"),
        ("1,inf", "finite"),
        ("", "a list like 1,5,21"),
    ],
)
def test_bad_levels_say_why_and_quote_the_text(text, words):
    with pytest.raises(LevelsError) as err:
        parse_levels(text)
    assert words in str(err.value) and repr(text) in str(err.value)


def test_whole_numbers_refuse_fractions():
    with pytest.raises(LevelsError, match="whole numbers"):
        parse_levels("1.5,2", integer=True)
    with pytest.raises(LevelsError, match="whole numbers"):
        parse_levels("1:2:3", integer=True)


@pytest.mark.parametrize(
    "values", [(1, 5, 21), (0.5, 1.2, 1.5), (0.0005, 1e-05, 0.1), (1 / 3, 2.0), (0.0,)]
)
def test_format_levels_reads_back_to_the_same_values(values):
    integer = all(isinstance(v, int) for v in values)
    text = format_levels(values, integer=integer)
    assert parse_levels(text, integer=integer) == values
    assert format_levels((1.0, 0.5)) == "1,0.5"  # %g where exact

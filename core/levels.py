"""Grid levels as a user types them: a list ``1,5,21`` or a range ``a:b:n``.

One reading of the text for every place that takes it (the config's ``[sweep]`` strings, the
command line's grid flags, the Sweep screen's form), so the same text gives the same values
everywhere. A range ``a:b:n`` is n evenly spaced values from a to b, both included, each
rounded to 13 significant digits of the range's larger end: ``0.5:1.5:11`` gives 1.2, the
decimal the user means, not the float noise ``1.2000000000000002``.

Errors are :class:`LevelsError` (a reason without a location); each caller names the field
the text was typed in (a config key, a flag, a form field).
"""

from __future__ import annotations

import math

MAX_LEVELS = 10_000  # values on one grid axis (a range's count); the grid is their product
# significant digits of a range's larger end kept in each value: 12 decimals for ends in
# [1, 10), the rounding the config has always applied; float noise is at the 16th digit
RANGE_DIGITS = 13


class LevelsError(ValueError):
    """Text that is not a list or range of levels; the message is the reason, with no field."""


def parse_range(text: str) -> tuple[float, ...]:
    """The values of a range ``start:stop:count``, both ends included.

    Parameters
    ----------
    text : str
        ``"a:b:n"``: finite numbers a and b and a whole count n in 1..:data:`MAX_LEVELS`
        (1 only with a == b).

    Returns
    -------
    tuple of float, length n
        ``a + (b - a) * i / (n - 1)`` for i = 0..n-1, rounded to :data:`RANGE_DIGITS`
        significant digits of ``max(|a|, |b|)`` (so 0.5:1.5:11 holds exactly 1.2).

    Raises
    ------
    LevelsError
        When the text is not such a range.
    """
    parts = text.strip().split(":")
    try:
        if len(parts) != 3:
            raise ValueError
        start, stop, count = float(parts[0]), float(parts[1]), int(parts[2])
    except ValueError:
        raise LevelsError(f"{text!r}: expected a range a:b:n (n values from a to b)") from None
    if not (math.isfinite(start) and math.isfinite(stop)):
        raise LevelsError(f"{text!r}: a and b of a range a:b:n must be finite numbers")
    if not 1 <= count <= MAX_LEVELS or (count == 1 and start != stop):
        raise LevelsError(f"{text!r}: n of a:b:n must be 2..{MAX_LEVELS} (1 only when a == b)")
    if count == 1:
        return (start,)
    scale = max(abs(start), abs(stop))
    digits = RANGE_DIGITS - 1 - math.floor(math.log10(scale)) if scale > 0 else 0
    # + 0.0 turns a rounded -0.0 into 0.0
    return tuple(
        round(start + (stop - start) * i / (count - 1), digits) + 0.0 for i in range(count)
    )


def parse_levels(text: str, integer: bool = False) -> tuple[float, ...] | tuple[int, ...]:
    """A grid axis's levels from a list ``1,5,21`` or a range ``a:b:n`` (see :func:`parse_range`).

    Parameters
    ----------
    text : str
        Comma-separated numbers, or ``start:stop:count``.
    integer : bool
        Whole numbers only (periods in days, window lengths in returns); returned as ints.

    Returns
    -------
    tuple of float, or tuple of int with ``integer``
        The levels in the order written, each once.

    Raises
    ------
    LevelsError
        For text that is neither form, a non-finite value, a fraction where whole numbers are
        expected, or a value listed twice.
    """
    text = text.strip()
    values: tuple[float, ...]
    if ":" in text:
        values = parse_range(text)
    else:
        try:
            values = tuple(float(v) for v in text.split(","))
        except ValueError:
            raise LevelsError(f"{text!r}: expected a list like 1,5,21 or a range a:b:n") from None
        if not all(math.isfinite(v) for v in values):
            raise LevelsError(f"{text!r}: values must be finite numbers")
    if len(set(values)) != len(values):
        raise LevelsError(f"{text!r}: a value is listed twice")
    if integer:
        if not all(v.is_integer() for v in values):
            raise LevelsError(f"{text!r}: expected whole numbers")
        return tuple(int(v) for v in values)
    return values


def format_levels(values: tuple[float, ...] | tuple[int, ...], integer: bool = False) -> str:
    """Levels as a list the parser reads back to the same values: ``1,5,21``, ``0.5,1.2``.

    Parameters
    ----------
    values : tuple of float or int
        One grid axis's levels.
    integer : bool
        Write whole numbers without a decimal point.

    Returns
    -------
    str
        Each value as ``%g`` writes it where that reads back exactly (``1``, ``0.0005``), else
        its shortest round-tripping form.
    """

    def one(v: float) -> str:
        if integer:
            return str(int(v))
        return f"{v:g}" if float(f"{v:g}") == float(v) else repr(float(v))

    return ",".join(one(v) for v in values)

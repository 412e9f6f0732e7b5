"""Number formatting for the panes: signs always visible, so meaning never rests on colour."""

from __future__ import annotations

import math

from rich.text import Text


def money(x: float | None, signed: bool = False) -> str:
    if x is None or not math.isfinite(x):
        return "—"
    return f"{x:+,.0f}" if signed else f"{x:,.0f}"


def num(x: float | None, digits: int = 2, signed: bool = False) -> str:
    if x is None or not math.isfinite(x):
        return "—"
    return f"{x:+,.{digits}f}" if signed else f"{x:,.{digits}f}"


def pct(x: float | None, digits: int = 1) -> str:
    if x is None or not math.isfinite(x):
        return "—"
    return f"{x * 100:.{digits}f}%"


def quantity(x: float, signed: bool = False) -> str:
    """Units as held: whole numbers with separators, fractions with their own decimals (1.5
    BTC is ``1.5``, never rounded to ``2``), up to 8 places.
    """
    if not math.isfinite(x):
        return "—"
    text = f"{x:+,.8f}" if signed else f"{x:,.8f}"
    return text.rstrip("0").rstrip(".")


def signed_money(x: float | None) -> Text:
    """Money with its sign, green up and red down; the sign alone carries it under NO_COLOR."""
    text = money(x, signed=True)
    style = "green" if x is not None and x > 0 else "red" if x is not None and x < 0 else ""
    return Text(text, style=style)

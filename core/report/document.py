"""A report as data: sections of text, tables and charts, rendered once to Markdown and once to
PDF (:mod:`hedgedesk.core.report.render`) from the same values, so the two cannot disagree.

Table cells keep the engine's unrounded numbers; a column's ``kind`` says how they print. The
same values go to ``report.json`` for scripts that want the figures without parsing text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from hedgedesk.core.jsonable import jsonable

KINDS = ("text", "int", "money", "pct", "pct1", "num2", "num3", "num4", "sci")


def fmt(value: Any, kind: str = "text") -> str:
    """A cell as printed: thousands separators for money, percentages with two decimals;
    a missing or non-finite number prints as an en dash.
    """
    if value is None:
        return "–"
    if kind == "text" or isinstance(value, str):
        return str(value)
    x = float(value)
    if not math.isfinite(x):
        return "–"
    if kind == "int":
        return f"{round(x):,d}"
    if kind == "money":
        return f"{x:,.0f}"
    if kind == "pct":
        return f"{100 * x:.2f}%"
    if kind == "pct1":
        return f"{100 * x:.1f}%"
    if kind == "sci":
        return f"{x:.3g}"
    return f"{x:,.{int(kind[-1])}f}"  # num2 / num3 / num4


@dataclass(frozen=True)
class Col:
    """A table column: its heading and how its cells print (one of ``KINDS``, see :func:`fmt`)."""

    name: str
    kind: str = "text"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"column {self.name!r}: unknown kind {self.kind!r}")


@dataclass
class Table:
    """Rows of raw values under typed columns. ``key`` names the table in report.json."""

    key: str
    columns: list[Col]
    rows: list[list[Any]]
    caption: str = ""
    note: str = ""  # printed under the table: what was left out, where the rest is

    def __post_init__(self) -> None:
        for i, row in enumerate(self.rows):
            if len(row) != len(self.columns):
                raise ValueError(
                    f"table {self.key!r} row {i}: {len(row)} cells for {len(self.columns)} columns"
                )

    def text_rows(self) -> list[list[str]]:
        """The rows as printed, each cell by its column's kind."""
        return [
            [fmt(v, c.kind) for v, c in zip(row, self.columns, strict=True)] for row in self.rows
        ]

    def records(self) -> list[dict]:
        """The rows as JSON objects keyed by column name, values unrounded."""
        return [
            jsonable(dict(zip((c.name for c in self.columns), row, strict=True)))
            for row in self.rows
        ]


@dataclass
class Chart:
    """A matplotlib Figure saved as ``<name>.png``; the caption states its conventions and the
    data range it covers.
    """

    name: str
    figure: Any  # matplotlib.figure.Figure
    caption: str


@dataclass
class Text:
    """A paragraph."""

    text: str


Block = Table | Chart | Text


@dataclass
class Section:
    """A part of the report: its blocks in order and its headline figures for report.json."""

    key: str  # book | optimize | sweep:RUN | backtest
    title: str
    blocks: list[Block] = field(default_factory=list)
    figures: dict = field(default_factory=dict)  # headline numbers for report.json

    def add(self, *blocks: Block) -> Section:
        """Append blocks; returns the section."""
        self.blocks.extend(blocks)
        return self

    def tables(self) -> dict[str, Table]:
        """The section's tables by key."""
        return {b.key: b for b in self.blocks if isinstance(b, Table)}

    def charts(self) -> list[Chart]:
        """The section's charts, in order."""
        return [b for b in self.blocks if isinstance(b, Chart)]


@dataclass
class Report:
    """A whole report: title, the parameters that make it reproducible, its sections and the
    conventions its figures follow.
    """

    title: str
    parameters: Table  # what makes the report reproducible
    sections: list[Section]
    conventions: list[str]  # one line each, printed up front

"""Tables whose columns are measured from their content when the rows are set.

A DataTable left to size its columns itself does so on an idle pass after the rows arrive; a
screen painted before that pass (a busy machine, a snapshot) shows numbers cut mid-number. Here
every column gets its width from its label and cells at once.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable

Cell = str | Text


def _width(cell: Cell) -> int:
    return cell.cell_len if isinstance(cell, Text) else cell_len(cell)


def column_widths(labels: list[Cell], rows: list[list[Cell]]) -> list[int]:
    """Each column's width: its widest label or cell, in terminal cells."""
    return [max([_width(label), *(_width(r[i]) for r in rows)]) for i, label in enumerate(labels)]


def fill(
    table: DataTable,
    labels: list[Cell],
    rows: list[tuple[str | None, list[Cell]]],
    right: frozenset[int] | set[int] = frozenset(),
) -> None:
    """Replace ``table``'s columns and rows (``(key, cells)``), every column measured from
    its content, ``right`` ones right-justified; the cursor stays on the same row index.
    """
    row = table.cursor_row
    table.clear(columns=True)
    widths = column_widths(labels, [cells for _, cells in rows])
    for i, (label, width) in enumerate(zip(labels, widths, strict=True)):
        text = label if isinstance(label, Text) else Text(label)
        text.justify = "right" if i in right else "left"
        table.add_column(text, width=width)
    for key, cells in rows:
        table.add_row(*(_cell(c, i in right) for i, c in enumerate(cells)), key=key)
    if table.row_count:
        table.move_cursor(row=min(max(row, 0), table.row_count - 1))


def _cell(cell: Cell, right: bool) -> Text:
    # Text, not str: a str cell is markup, and "[x]" would vanish as a tag
    text = cell.copy() if isinstance(cell, Text) else Text(cell)
    if right:
        text.justify = "right"
    return text

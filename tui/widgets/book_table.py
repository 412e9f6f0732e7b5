"""A table of the book that never cuts a number: it shows only whole columns that fit.

A DataTable scrolled sideways cuts its last column mid-number (``+1,`` for +1,166). This one
measures every column from its content, keeps the first (the row's name) pinned and shows as
many of the following columns as fit the width; ``→`` and ``←`` page through the rest, and the
pane's subtitle says which are shown.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from hedgedesk.tui.messages import BookTablePaged
from hedgedesk.tui.widgets.tables import column_widths

PAD = 2  # a DataTable cell's padding, one space each side: columns never touch


def fit_columns(widths: list[int], available: int, offset: int) -> list[int]:
    """Indices of the columns to show: column 0, then from ``offset`` (>= 1) as many whole
    columns as fit ``available`` cells (at least one, so a narrow pane still shows a figure).
    """
    shown = [0]
    used = widths[0] + PAD
    for i in range(max(offset, 1), len(widths)):
        if used + widths[i] + PAD > available and len(shown) > 1:
            break
        shown.append(i)
        used += widths[i] + PAD
    return shown


class BookTable(DataTable):
    """Rows of cells (str or Text) under labelled columns, shown as whole columns that fit."""

    BINDINGS: ClassVar[list[Binding]] = [
        Binding("right", "page(1)", "More columns", show=False),
        Binding("left", "page(-1)", "Previous columns", show=False),
        # before the screen's focus_next: on the desk tab swaps holdings and hedge legs
        Binding("tab", "app.switch_table", "Holdings / legs", show=False),
    ]

    def __init__(self, labels: list[str], right: set[int], **kwargs):
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._labels = labels
        self._right = right  # indices of right-justified (numeric) columns
        self._cells: list[tuple[str, list[Text]]] = []  # (row key, one Text per column)
        self._first = 1
        self._shown: list[int] = list(range(len(labels)))

    def set_rows(self, rows: list[tuple[str, list[str | Text]]]) -> None:
        """Replace the rows, keeping the cursor on the same row index. When the rows' keys and
        the columns shown stay as they are (an edit of one row's quantity), only the cells that
        changed are updated: unchanged rows are not refilled, and nothing changed redraws
        nothing.
        """
        old = self._cells
        self._cells = [
            (key, [self._text(i, c) for i, c in enumerate(cells)]) for key, cells in rows
        ]
        if not self._same_layout(old):
            self._rebuild()
            return
        for (key, before), (_, after) in zip(old, self._cells, strict=True):
            for i in self._shown:
                if not _same(before[i], after[i]):
                    self.update_cell(key, str(i), after[i])

    def _same_layout(self, old: list[tuple[str, list[Text]]]) -> bool:
        """Whether the table built for ``old`` shows the current rows as they are: the same
        row keys in order, and the same columns at the same widths.
        """
        if not self.columns or [k for k, _ in old] != [k for k, _ in self._cells]:
            return False
        widths = self.widths()
        shown = self._fit(widths)
        return shown == self._shown and all(self.columns[str(i)].width == widths[i] for i in shown)

    def _text(self, i: int, cell: str | Text) -> Text:
        text = cell if isinstance(cell, Text) else Text(cell)
        text.justify = "right" if i in self._right else "left"
        return text

    def widths(self) -> list[int]:
        return column_widths(self._labels, [cells for _, cells in self._cells])

    def _available(self) -> int:
        scrollbar = self.styles.scrollbar_size_vertical if self.show_vertical_scrollbar else 0
        return self.size.width - scrollbar

    def _fit(self, widths: list[int]) -> list[int]:
        """The columns to show at ``widths``; hidden (the other table has the slot) or not laid
        out: every column, refitted on resize.
        """
        if not self.size.width:
            return list(range(len(widths)))
        return fit_columns(widths, self._available(), self._first)

    def _rebuild(self) -> None:
        widths = self.widths()
        shown = self._fit(widths)
        row = self.cursor_row
        if shown != self._shown or not self.columns:
            self._shown = shown
            self.clear(columns=True)
            for i in shown:
                self.add_column(
                    Text(self._labels[i], justify="right" if i in self._right else "left"),
                    width=widths[i],
                    key=str(i),
                )
        else:
            self.clear()
            for i in shown:  # content may have widened a column
                self.columns[str(i)].width = widths[i]
        for key, cells in self._cells:
            self.add_row(*(cells[i] for i in shown), key=key)
        if self.row_count:
            self.move_cursor(row=min(max(row, 0), self.row_count - 1))
        self.post_message(BookTablePaged(self))

    def on_resize(self) -> None:
        if not self._same_layout(self._cells):  # a new height alone keeps the columns shown
            self._rebuild()

    def action_page(self, step: int) -> None:
        """Show the next (or previous) columns; the first stays."""
        n = len(self._labels)
        if step > 0 and self._shown[-1] < n - 1:
            self._first = self._shown[-1] + 1
        elif step < 0 and self._first > 1:
            widths = self.widths()
            room = self._available() - widths[0] - PAD
            start = self._first
            while start > 1 and room - (widths[start - 1] + PAD) >= 0:
                start -= 1
                room -= widths[start] + PAD
            self._first = start
        else:
            return
        self._rebuild()

    def columns_note(self) -> str:
        """``cols 2-6 of 11 →`` when some columns are hidden, else empty."""
        n = len(self._labels)
        if len(self._shown) == n:
            return ""
        more = " →" if self._shown[-1] < n - 1 else ""
        less = "← " if self._first > 1 else ""
        return f"{less}cols {self._shown[1] + 1}-{self._shown[-1] + 1} of {n}{more}"

    @property
    def count(self) -> int:
        """Rows held (also while the table is hidden and not built)."""
        return len(self._cells)


def _same(a: Text, b: Text) -> bool:
    """The same characters in the same styles (rich's Text equality ignores the base style)."""
    return a == b and a.style == b.style

"""A :class:`~hedgedesk.core.report.document.Report` written out: ``report.md`` with its PNG charts
beside
it, ``report.pdf`` (fpdf2, the DejaVu fonts matplotlib ships, so any Unicode the figures use
prints; nothing is fetched) and ``report.json`` with the raw figures.

Every file is written atomically (a temporary file renamed over the target), so an interrupted
write leaves the previous report's file whole; other files in the folder are never touched.
"""

from __future__ import annotations

import json
import os
from functools import partial
from pathlib import Path

import matplotlib
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from hedgedesk.core.atomic import write_atomic
from hedgedesk.core.errors import HedgedeskError
from hedgedesk.core.jsonable import jsonable
from hedgedesk.core.report.document import Chart, Report, Table, Text

FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
PNG_DPI = 150
PAGE_W = 277  # mm of text width on A4 landscape with 10 mm margins
CHART_W = 230  # mm: a full-width chart, leaving room for the caption's margins


REPORT_FILES = {"markdown": "report.md", "pdf": "report.pdf", "json": "report.json"}


def check_out(out: Path) -> None:
    """Refuse, before any work and without creating anything, a report folder that cannot take
    the report: a file, a folder under a file, one not writable, a report file's name taken by
    a folder.
    """
    try:
        above = next((p for p in (out, *out.parents) if p.exists()), Path("."))
    except OSError as exc:  # a name too long, a folder above it that cannot be searched
        raise HedgedeskError(f"report folder {out}: {exc.strerror or exc}") from None
    if not above.is_dir():
        raise HedgedeskError(f"report folder {out}: {above} is a file; expected a folder")
    if not os.access(above, os.W_OK | os.X_OK):
        raise HedgedeskError(f"report folder {out}: {above} is not writable (permission denied)")
    for name in REPORT_FILES.values():
        if (out / name).is_dir():
            raise HedgedeskError(f"report folder {out}: {name} is a folder; expected a file")


def write_report(report: Report, out: Path) -> dict[str, Path]:
    """Write the report's files into ``out`` (created if missing); returns them by role."""
    out = Path(out)
    check_out(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        return _write(report, out)
    except OSError as exc:
        raise HedgedeskError(
            f"report folder {out}: cannot write {Path(exc.filename or '').name or 'a file'}: "
            f"{exc.strerror or exc}"
        ) from None


def _write(report: Report, out: Path) -> dict[str, Path]:
    charts: dict[str, Path] = {}
    for section in report.sections:
        for chart in section.charts():
            path = out / f"{chart.name}.png"
            write_atomic(path, partial(chart.figure.savefig, format="png", dpi=PNG_DPI))
            charts[chart.name] = path
    files = {k: out / name for k, name in REPORT_FILES.items()}
    write_atomic(
        files["json"],
        lambda p: p.write_text(
            json.dumps(jsonable(as_json(report)), indent=1, allow_nan=False) + "\n"
        ),
    )
    write_atomic(files["pdf"], lambda p: _pdf(report, charts).output(str(p)))
    write_atomic(files["markdown"], lambda p: p.write_text(markdown(report), encoding="utf-8"))
    return {**files, **{f"chart:{k}": v for k, v in charts.items()}}


def as_json(report: Report) -> dict:
    """The report as report.json holds it: parameters, conventions, and per section its
    figures, tables as records (unrounded) and chart file names.
    """
    return {
        "title": report.title,
        "parameters": {r[0]: r[1] for r in report.parameters.rows},
        "conventions": report.conventions,
        "sections": {
            s.key: {
                "title": s.title,
                "figures": s.figures,
                "tables": {k: t.records() for k, t in s.tables().items()},
                "charts": [f"{c.name}.png" for c in s.charts()],
            }
            for s in report.sections
        },
    }


# -- Markdown ----------------------------------------------------------------------------------
def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(t: Table) -> list[str]:
    lines = []
    if t.caption:
        lines += [f"**{t.caption}**", ""]
    lines.append("| " + " | ".join(_md_cell(c.name) for c in t.columns) + " |")
    lines.append("|" + "|".join("---" if c.kind == "text" else "---:" for c in t.columns) + "|")
    lines += ["| " + " | ".join(_md_cell(x) for x in row) + " |" for row in t.text_rows()]
    if t.note:
        lines += ["", f"*{t.note}*"]
    return [*lines, ""]


def markdown(report: Report) -> str:
    """The report as Markdown, charts linked as ``<name>.png`` beside it."""
    lines = [f"# {report.title}", "", "## Parameters", ""]
    lines += _md_table(report.parameters)
    lines += ["Conventions:", ""] + [f"- {c}" for c in report.conventions] + [""]
    for s in report.sections:
        lines += [f"## {s.title}", ""]
        for b in s.blocks:
            if isinstance(b, Text):
                lines += [b.text, ""]
            elif isinstance(b, Table):
                lines += _md_table(b)
            elif isinstance(b, Chart):
                lines += [f"![{_md_cell(b.caption)}]({b.name}.png)", "", f"*{b.caption}*", ""]
    return "\n".join(lines).rstrip() + "\n"


# -- PDF ---------------------------------------------------------------------------------------
class _Pdf(FPDF):
    def __init__(self, title: str):
        super().__init__(orientation="landscape", format="A4")
        self.report_title = title
        self.add_font("DejaVu", "", str(FONT_DIR / "DejaVuSans.ttf"))
        self.add_font("DejaVu", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
        self.add_font("DejaVu", "I", str(FONT_DIR / "DejaVuSans-Oblique.ttf"))
        self.set_margins(10, 10, 10)
        self.set_auto_page_break(True, margin=14)
        self.set_title(title)
        self.set_creator("hedgedesk")

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font("DejaVu", "", 7)
        self.cell(0, 5, f"{self.report_title} · page {self.page_no()}/{{nb}}", align="C")


def _pdf_table(pdf: _Pdf, t: Table) -> None:
    if t.caption:
        pdf.set_font("DejaVu", "B", 9)
        pdf.multi_cell(0, 5, t.caption, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("DejaVu", "", 7 if len(t.columns) > 8 else 8)
    rows = t.text_rows()
    widths = [
        max(len(c.name), *(len(r[i]) for r in rows)) if rows else len(c.name)
        for i, c in enumerate(t.columns)
    ]
    align = ["LEFT" if c.kind == "text" else "RIGHT" for c in t.columns]
    width = min(PAGE_W, 2.1 * sum(widths) + 3 * len(widths))
    with pdf.table(
        col_widths=[w + 2 for w in widths],
        width=width,
        align="LEFT",
        text_align=align,
        line_height=4.2,
        first_row_as_headings=True,
        repeat_headings=1,
    ) as table:
        for row in [[c.name for c in t.columns], *rows]:
            r = table.row()
            for cell in row:
                r.cell(cell)
    if t.note:
        pdf.set_font("DejaVu", "I", 7)
        pdf.multi_cell(0, 4, t.note, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)


def _pdf(report: Report, charts: dict[str, Path]) -> FPDF:
    pdf = _Pdf(report.title)
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 16)
    pdf.multi_cell(0, 9, report.title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.start_section("Parameters")
    pdf.set_font("DejaVu", "B", 12)
    pdf.cell(0, 8, "Parameters", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    _pdf_table(pdf, report.parameters)
    pdf.set_font("DejaVu", "B", 9)
    pdf.cell(0, 5, "Conventions", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("DejaVu", "", 8)
    for c in report.conventions:
        pdf.multi_cell(0, 4.2, f"• {c}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for s in report.sections:
        pdf.add_page()
        pdf.start_section(s.title)
        pdf.set_font("DejaVu", "B", 13)
        pdf.multi_cell(0, 8, s.title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        for b in s.blocks:
            if isinstance(b, Text):
                pdf.set_font("DejaVu", "", 9)
                pdf.multi_cell(0, 4.6, b.text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
                pdf.ln(2)
            elif isinstance(b, Table):
                _pdf_table(pdf, b)
            elif isinstance(b, Chart):
                w_in, h_in = b.figure.get_size_inches()
                w = min(CHART_W, w_in * 25.4)
                h = w * h_in / w_in
                if pdf.get_y() + h + 12 > pdf.h - pdf.b_margin:
                    pdf.add_page()
                pdf.image(str(charts[b.name]), x=pdf.l_margin + (PAGE_W - w) / 2, w=w)
                pdf.set_font("DejaVu", "I", 7)
                pdf.multi_cell(0, 4, b.caption, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
                pdf.ln(3)
    return pdf

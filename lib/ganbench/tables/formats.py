"""The text formats of a built :class:`~ganbench.tables.render.Table`: Markdown, CSV, LaTeX (booktabs), HTML."""

from __future__ import annotations

import csv
import io
import math
from typing import TYPE_CHECKING

from ganbench.tables.published import UNITS, PublishedRecord

if TYPE_CHECKING:  # render builds tables and imports this module to write them
    from ganbench.tables.render import Cell, Column, Table

MISSING = "–"


def _fmt(value: float, digits: int) -> str:
    return f"{value:.{digits}f}"


def _published_text(rec: PublishedRecord, digits: int) -> str:
    mark = "paper*" if rec.protocol_inferred else "paper"
    if rec.unit is not None:
        exponent = round(math.log10(UNITS[rec.unit]))
        return f"({mark}: {rec.value:g}e{exponent})"
    return f"({mark}: {_fmt(rec.value, digits)})"


def cell_text(cell: Cell, col: Column) -> str:
    """How a cell reads in Markdown: ``12.30 ± 0.40 (paper: 4.43)``, or a dash where nothing was measured."""
    if not cell.values:
        return MISSING
    text = _fmt(cell.mean, col.digits)
    if cell.std is not None:
        text += f" ± {_fmt(cell.std, col.digits)}"
    if cell.published is not None:
        text += " " + _published_text(cell.published, col.digits)
    return text


def to_markdown(table: Table) -> str:
    def esc(text: str) -> str:
        return text.replace("|", "\\|")

    lines = [
        "| " + " | ".join(esc(h) for h in table.header) + " |",
        "|" + "|".join([":---"] + ["---:"] * len(table.spec.columns)) + "|",
    ]
    for label, line in zip(table.row_labels, table.cells):
        texts = [cell_text(c, col) for c, col in zip(line, table.spec.columns)]
        lines.append("| " + " | ".join(esc(t) for t in [label] + texts) + " |")
    return "\n".join(lines) + f"\n\nTable: {table.caption}\n"


def _csv_number(value: float | None) -> str:
    return "" if value is None else format(value, ".10g")


def to_csv(table: Table) -> str:
    """One header row; per column the mean, std, number of seeds and the comparable paper value."""
    header = [table.header[0]]
    for col in table.spec.columns:
        header += [col.header, f"{col.header} std", f"{col.header} seeds", f"{col.header} paper"]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for label, line in zip(table.row_labels, table.cells):
        row = [label]
        for cell in line:
            paper = None
            if cell.published is not None:
                paper = cell.published.value * (UNITS[cell.published.unit] if cell.published.unit else 1.0)
            row += [_csv_number(cell.mean), _csv_number(cell.std), str(cell.n) if cell.n else "", _csv_number(paper)]
        writer.writerow(row)
    return buf.getvalue()


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "±": r"$\pm$",
    "–": "--",
    "×": r"$\times$",
    "ψ": r"$\psi$",
    "↑": r"$\uparrow$",
    "↓": r"$\downarrow$",
    "·": r"$\cdot$",
    "⁻": r"$^{-}$",
    **{sup: f"$^{{{d}}}$" for d, sup in zip("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")},
}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def to_latex(table: Table) -> str:
    """A booktabs table (needs ``\\usepackage{booktabs}``) with caption and label."""
    spec = table.spec
    lines = [
        r"\begin{table}[t]",
        r"  \centering",
        r"  \caption{" + latex_escape(table.caption) + "}",
        r"  \label{tab:" + spec.name + "}",
        r"  \begin{tabular}{l" + "r" * len(spec.columns) + "}",
        r"    \toprule",
        "    " + " & ".join(latex_escape(h) for h in table.header) + r" \\",
        r"    \midrule",
    ]
    for label, line in zip(table.row_labels, table.cells):
        texts = [cell_text(c, col) for c, col in zip(line, spec.columns)]
        lines.append("    " + " & ".join(latex_escape(t) for t in [label] + texts) + r" \\")
    lines += [r"    \bottomrule", r"  \end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def to_html(table: Table) -> str:
    """A standalone HTML table with its caption, for ``snakemake --report``."""
    from html import escape

    head = "".join(f"<th>{escape(h)}</th>" for h in table.header)
    body = []
    for label, line in zip(table.row_labels, table.cells):
        texts = [cell_text(c, col) for c, col in zip(line, table.spec.columns)]
        body.append("<tr><th>" + escape(label) + "</th>" + "".join(f"<td>{escape(t)}</td>" for t in texts) + "</tr>")
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><style>'
        "body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}"
        "th,td{padding:4px 10px;border-bottom:1px solid #ccc}td{text-align:right}caption{caption-side:bottom;"
        "text-align:left;color:#444;padding-top:8px;max-width:60em}</style></head><body>\n"
        f"<table><caption>{escape(table.caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>\n</body></html>\n"
    )


FORMATS = {"md": to_markdown, "csv": to_csv, "tex": to_latex, "html": to_html}

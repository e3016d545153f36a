"""The table model and its renderers: display cells (:class:`PM`, :class:`CI`, :class:`Diff`,
:class:`Count`), a :class:`Table` in display form and in numbers, and its Markdown and LaTeX
(booktabs) text; a table's HTML page is :mod:`vjepa_fer.report.html`. Which tables exist and
what goes in them is :mod:`vjepa_fer.report.tables` (the paper's Tables II-IV) and
:mod:`vjepa_fer.report.wild` (in-the-wild sets).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import pandas as pd

from vjepa_fer.text import markdown_escape

STD_NOTE = "mean ± standard deviation over the fold probes (ddof as set in evaluation.std_ddof)."


class PM(NamedTuple):
    """A mean ± std cell."""

    mean: float
    std: float


class Count(NamedTuple):
    """A (possibly fold-averaged) number of videos."""

    value: float


class CI(NamedTuple):
    """A confidence interval cell [low, high]."""

    low: float
    high: float


class Diff(NamedTuple):
    """A signed difference cell (ours − paper)."""

    value: float


@dataclass
class Table:
    """A table in display form (``rows``) and in numbers (``data``, written as CSV)."""

    name: str
    title: str
    header: list[str]
    rows: list[list[object]]
    data: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    rules: list[int] = field(default_factory=list)  # row indices preceded by a \midrule


# ----------------------------------------------------------------------------- rendering


def _missing(v: object) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def cell_text(cell: object, *, latex: bool) -> str:
    """One display cell as Markdown (``latex=False``) or LaTeX text."""
    if isinstance(cell, PM):
        if _missing(cell.mean):
            return "--" if latex else "–"
        if _missing(cell.std):
            return f"{cell.mean:.2f}"
        return (
            f"{cell.mean:.2f} $\\pm$ {cell.std:.2f}"
            if latex
            else f"{cell.mean:.2f} ± {cell.std:.2f}"
        )
    if isinstance(cell, CI):
        if _missing(cell.low) or _missing(cell.high):
            return "--" if latex else "–"
        return f"[{cell.low:.2f}, {cell.high:.2f}]"
    if isinstance(cell, Diff):
        if _missing(cell.value):
            return "--" if latex else "–"
        # Math mode gives a real minus sign in LaTeX.
        return f"${cell.value:+.2f}$" if latex else f"{cell.value:+.2f}"
    if isinstance(cell, Count):
        return f"{cell.value:.0f}" if float(cell.value).is_integer() else f"{cell.value:.1f}"
    if _missing(cell):
        return "--" if latex else "–"
    if isinstance(cell, int):
        return str(cell)
    if isinstance(cell, float):
        return f"{cell:.2f}"
    return latex_escape(str(cell)) if latex else markdown_escape(str(cell))


_LATEX = {
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
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "±": r"$\pm$",
    "→": r"$\rightarrow$",
    "Δ": r"$\Delta$",
    "−": r"$-$",
    "×": r"$\times$",
    "–": "--",
    "—": "---",
    "“": "``",
    "”": "''",
}


def latex_escape(text: str) -> str:
    """Escape LaTeX specials (and map the few Unicode symbols the tables use to math)."""
    return "".join(_LATEX.get(ch, ch) for ch in text)


def numeric_column(table: Table, j: int) -> bool:
    return all(
        isinstance(r[j], (PM, CI, Diff, Count, float, int)) or _missing(r[j]) for r in table.rows
    )


def to_markdown(table: Table) -> str:
    """GitHub-flavoured Markdown: a heading, the table (numbers right-aligned) and notes."""
    aligns = ["---:" if numeric_column(table, j) else "---" for j in range(len(table.header))]
    lines = [f"## {markdown_escape(table.title)}", ""]
    lines.append("| " + " | ".join(markdown_escape(h) for h in table.header) + " |")
    lines.append("|" + "|".join(aligns) + "|")
    for row in table.rows:
        lines.append("| " + " | ".join(cell_text(c, latex=False) for c in row) + " |")
    if table.notes:
        lines.append("")
        lines += [f"- {markdown_escape(n)}" for n in table.notes]
    return "\n".join(lines) + "\n"


def to_latex(table: Table, *, run_name: str = "") -> str:
    """A booktabs ``table`` float with caption, label and notes below the tabular."""
    spec = "".join("r" if numeric_column(table, j) else "l" for j in range(len(table.header)))
    out = [
        f"% {table.name}: written by `vjepa-fer tables`"
        + (f" for run {' '.join(run_name.split())}" if run_name else "")
        + "; needs \\usepackage{booktabs}",
        "\\begin{table}[t]",
        "  \\centering",
        "  \\footnotesize",
        f"  \\caption{{{latex_escape(table.title)}}}",
        f"  \\label{{tab:{table.name.replace('_', '-')}}}",
        f"  \\begin{{tabular}}{{{spec}}}",
        "    \\toprule",
        "    " + " & ".join(latex_escape(h) for h in table.header) + " \\\\",
        "    \\midrule",
    ]
    for i, row in enumerate(table.rows):
        if i in table.rules and i > 0:
            out.append("    \\midrule")
        out.append("    " + " & ".join(cell_text(c, latex=True) for c in row) + " \\\\")
    out += ["    \\bottomrule", "  \\end{tabular}"]
    if table.notes:
        out.append("  \\par\\smallskip")
        out += [f"  {latex_escape(n)}\\par" for n in table.notes]
    out.append("\\end{table}")
    return "\n".join(out) + "\n"

"""HTML rendering of the result tables, for the Snakemake report.

Snakemake's report shows an HTML result in a frame but offers a CSV only as a download, and
keeps each result's caption behind the result's info button. So every table is also written as
a small self-contained page (``<name>.html``): a real ``<table>`` whose ``<caption>`` holds the
title and whose notes follow it, readable without opening anything else. Kept apart from
:mod:`vjepa_fer.report.tables` (which builds the tables) so the renderers can change alone.

Every text that reaches the page is escaped (dataset and run names come from the user's config).
"""

from __future__ import annotations

import base64
from html import escape

from vjepa_fer.report.render import PM, Table, cell_text, numeric_column

# Plain, legible at report width; numbers right-aligned in tabular figures.
STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 1.5rem;
       color: #1e293b; background: #fff; }
table { border-collapse: collapse; font-size: 0.9rem; }
caption { caption-side: top; text-align: left; font-weight: 600; font-size: 1.05rem;
          padding-bottom: 0.6rem; }
caption .detail { font-weight: 400; font-size: 0.85rem; color: #475569; }
th, td { padding: 0.3rem 0.7rem; border-bottom: 1px solid #cbd5e1; }
td { white-space: nowrap; }  /* cells stay whole ("CREMA-D"); long headers wrap instead */
thead th { border-bottom: 2px solid #334155; text-align: left; vertical-align: bottom; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.group td { border-top: 2px solid #94a3b8; }
.notes { max-width: 60rem; font-size: 0.85rem; color: #334155; }
.notes li { margin: 0.25rem 0; }
""".strip()


FIGURE_STYLE = """
figure { margin: 0; }
img { max-width: 100%; height: auto; }
figcaption { font-weight: 600; font-size: 1.05rem; padding-bottom: 0.6rem; }
""".strip()


def to_html_table(table: Table) -> str:
    """The ``<table>`` element: caption = title, a header row, one row per display row (a
    thicker line where the LaTeX version draws a midrule), numbers right-aligned."""
    numeric = [numeric_column(table, j) for j in range(len(table.header))]

    def cls(j: int) -> str:
        return ' class="num"' if numeric[j] else ""

    detail = caption_detail(table)
    caption = escape(table.title) + (
        f'<br><span class="detail">{escape(detail)}</span>' if detail else ""
    )
    out = [f'<table id="{escape(table.name)}">', f"<caption>{caption}</caption>"]
    out.append(
        "<thead><tr>"
        + "".join(f'<th scope="col"{cls(j)}>{escape(h)}</th>' for j, h in enumerate(table.header))
        + "</tr></thead>"
    )
    out.append("<tbody>")
    for i, row in enumerate(table.rows):
        group = ' class="group"' if i in table.rules and i > 0 else ""
        cells = "".join(
            f"<td{cls(j)}>{escape(c if isinstance(c, str) else cell_text(c, latex=False))}</td>"
            for j, c in enumerate(row)
        )
        out.append(f"<tr{group}>{cells}</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def caption_detail(table: Table) -> str:
    """What the numbers are, for the caption: mean ± std cells, and the interval columns (their
    level is the first word of their header, e.g. "95 % CI UAR (true)")."""
    parts = []
    if any(isinstance(c, PM) for row in table.rows for c in row):
        parts.append("cells: mean ± std over the fold probes")
    ci = [h for h in table.header if " CI " in f" {h} "]
    if ci:
        level = ci[0].split(" CI", 1)[0]
        parts.append(
            f"{len(ci)} columns “{level} CI …”: percentile bootstrap confidence interval of each "
            "mean (see the notes)"
        )
    return "; ".join(parts)


def to_html_page(table: Table, *, run_name: str = "") -> str:
    """A standalone page: the table with its caption, then its notes as a list."""
    title = escape(table.title)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title>",
        f'<meta name="generator" content="vjepa-fer tables{_run(run_name)}">',
        f"<style>{STYLE}</style></head><body>",
        to_html_table(table),
    ]
    if table.notes:
        parts.append('<ul class="notes">')
        parts += [f"<li>{escape(n)}</li>" for n in table.notes]
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def figure_page(png: bytes, *, title: str, name: str) -> str:
    """A standalone page of one figure: the PNG (embedded) at the page's width, its title as
    the caption. Snakemake's report centres an image in a box of the window's height, so the top
    of a figure taller than the window (Fig. 4's grid) could not be scrolled to; a page in the
    report's frame scrolls like any page."""
    uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return (
        "\n".join(
            [
                "<!DOCTYPE html>",
                '<html lang="en"><head><meta charset="utf-8">',
                f"<title>{escape(title or name)}</title>",
                f"<style>{STYLE}\n{FIGURE_STYLE}</style></head><body>",
                "<figure>",
                f"<figcaption>{escape(title or name)}</figcaption>",
                f'<img src="{uri}" alt="{escape(name)}">',
                "</figure></body></html>",
            ]
        )
        + "\n"
    )


def _run(run_name: str) -> str:
    return f" (run {escape(' '.join(run_name.split()))})" if run_name else ""

"""Text that goes into Markdown (and from there into HTML): escaping of names and cells.

Names come from the config and from users' tables (dataset and class names, display names,
encoder ids). The schema refuses markup in them; escaping where they are rendered is the second
line: a name can never end a table cell, start emphasis or open an HTML tag.
"""

from __future__ import annotations

# Markdown specials of a table cell, then the HTML ones (Markdown passes raw HTML through).
_MARKDOWN = ("\\", "|", "*", "_", "`")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def markdown_escape(text: object) -> str:
    """``text`` safe inside a Markdown table cell or heading: ``| * _ ` \\`` backslash-escaped,
    ``& < >`` as HTML entities, line breaks as spaces."""
    out = "".join(_HTML.get(ch, ch) for ch in str(text))
    for ch in _MARKDOWN:
        out = out.replace(ch, "\\" + ch)
    return " ".join(out.splitlines())

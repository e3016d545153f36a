"""Headless Chromium for the report test: open a Snakemake report, show one of its results the
way a click would, and read the DOM after the scripts ran or take a screenshot.

Snakemake's report is one HTML file holding a small React app; every result is embedded as a
data URI in the global ``results`` (path -> caption, mime type, data URI; ``categories`` maps
category -> subcategory -> paths) and shown
in the content pane when clicked (images as ``<img>``, HTML pages in an ``<iframe>``). The test
copies the report and appends a script that calls the app's own ``setView`` for one result, so
no browser-automation package is needed, only the distribution's Chromium binary.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import urllib.parse
from pathlib import Path

BINARIES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
RESULTS = re.compile(r'<script id="results">\s*var results = (\{.*?\});\s*</script>', re.S)


def chromium() -> str | None:
    """The Chromium (or Chrome) binary on PATH, None where there is none."""
    return next((p for p in map(shutil.which, BINARIES) if p), None)


def run(binary: str, url: str, *flags: str, profile: Path, timeout: int = 120) -> str:
    """Chromium headless on ``url``; returns stdout (the DOM with --dump-dom)."""
    cmd = [
        binary,
        "--headless=new",
        "--no-sandbox",  # containers run as root, where the sandbox cannot start
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=15000",  # run the app's scripts and timers before dumping
        *flags,
        url,
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if res.returncode != 0:
        raise RuntimeError(f"{binary} exited {res.returncode}: {res.stderr[-2000:]}")
    return res.stdout


def report_results(report: Path) -> dict[str, dict]:
    """The ``results`` object embedded in a Snakemake report."""
    m = RESULTS.search(report.read_text(encoding="utf-8", errors="replace"))
    if not m:
        raise ValueError(f"{report}: no embedded `results` (not a Snakemake HTML report?)")
    return json.loads(m.group(1))


def decode_data_uri(uri: str) -> bytes:
    """The bytes of a ``data:<mime>[;charset=..][;base64],<payload>`` URI."""
    head, _, payload = uri.partition(",")
    if head.endswith(";base64"):
        return base64.b64decode(payload)
    return urllib.parse.unquote_to_bytes(payload)


def showing(report: Path, result: str, out: Path) -> Path:
    """A copy of ``report`` that opens ``result`` (a key of ``results``) once loaded, with its
    category listed in the side bar, as clicking it would."""
    script = f"""
<script>
window.addEventListener("load", function () {{
  setTimeout(function () {{
    const path = {json.dumps(result)};
    const entry = results[path];
    let category, subcategory;
    for (const [c, subs] of Object.entries(categories)) {{
      for (const [s, paths] of Object.entries(subs)) {{
        if (paths.includes(path)) {{ category = c; subcategory = s; }}
      }}
    }}
    const content = entry.mime_type.startsWith("image/") ? "img" : "html";
    // One call: setView reads the state it replaces, so two calls in one tick would undo the first.
    app.setView({{navbarMode: "subcategory", category: category, subcategory: subcategory,
                 content: content, contentPath: entry.data_uri, resultPath: path}});
  }}, 200);
}});
</script>
"""
    html = report.read_text(encoding="utf-8")
    end = html.rindex("</body>")
    out.write_text(html[:end] + script + html[end:], encoding="utf-8")
    return out

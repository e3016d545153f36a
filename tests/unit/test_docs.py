"""The repository documents itself: no shipped file points outside the clone, and every docs/
file a shipped file names exists."""

from __future__ import annotations

import re
import subprocess

from tests.conftest import REPO

TEXT_SUFFIXES = {".py", ".md", ".txt", ".yaml", ".yml", ".toml", ".smk", ".rst", ".sh", ".cfg", ""}


def shipped_files() -> list[str]:
    """Tracked files outside tests/ (what a user's clone and the package carry)."""
    out = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    return [f for f in out if not f.startswith("tests/") and (REPO / f).suffix in TEXT_SUFFIXES]


def test_no_shipped_file_points_at_the_workplace() -> None:
    bad = []
    for name in shipped_files():
        text = (REPO / name).read_text(errors="replace")
        if "../shared" in text or "shared/spec" in text or "shared/paper" in text:
            bad.append(name)
    assert not bad, f"files referring to ../shared (not in a user's clone): {bad}"


def test_every_named_docs_file_exists() -> None:
    named = set()
    for name in shipped_files():
        named |= set(re.findall(r"\bdocs/([\w.-]+\.md)", (REPO / name).read_text(errors="replace")))
    missing = sorted(n for n in named if not (REPO / "docs" / n).is_file())
    assert named and not missing, f"docs/ files named but absent: {missing}"


def test_every_named_source_path_exists() -> None:
    """A path into the package named in a shipped file (``src/vjepa_fer/...``) exists: a moved
    module or table takes its mentions along (placeholders such as ``<name>`` are skipped)."""
    named: dict[str, set[str]] = {}
    for name in shipped_files():
        text = (REPO / name).read_text(errors="replace")
        for path in re.findall(r"\bsrc/vjepa_fer/[\w./<>*-]*[\w/]", text):
            named.setdefault(path, set()).add(name)
    missing = {
        p: sorted(where)
        for p, where in named.items()
        if not any(c in p for c in "<>*") and not (REPO / p).exists()
    }
    assert named and not missing, f"paths named but absent: {missing}"

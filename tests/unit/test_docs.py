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

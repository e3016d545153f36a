"""A throwaway package with a ``resources/`` folder, for the packaged-table helpers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest


@pytest.fixture
def tmp_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``outer.inner`` on sys.path (both real packages); returns ``outer/inner/resources``."""
    resources = tmp_path / "src" / "outer" / "inner" / "resources"
    resources.mkdir(parents=True)
    for pkg in (resources.parent, resources.parent.parent):
        (pkg / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    yield resources
    for name in ("outer.inner", "outer"):
        sys.modules.pop(name, None)

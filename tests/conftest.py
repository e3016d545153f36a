"""Shared test helpers: the repository path and the snakemake runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo() -> Path:
    return REPO


def run_snakemake(
    *args: str, cwd: Path = REPO, env: dict | None = None, timeout: int = 600
) -> subprocess.CompletedProcess[str]:
    """The venv's snakemake with the venv's bin on PATH (rules call `vjepa-fer`)."""
    bin_dir = Path(sys.executable).parent
    env = dict(env or os.environ)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        [str(bin_dir / "snakemake"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# Fixtures that run a whole pipeline (minutes): every test using one is `slow`, also tests that
# others add later, without a decorator to forget.
SLOW_FIXTURES = {"demo_run", "demo_runs", "paper_run", "failing_run"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)

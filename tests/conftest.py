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


# The longest files (minutes each, measured with --durations), run first: with `make test`'s
# parallel workers (pytest-xdist, whole files per worker, in this order) the long runs start at
# once and the many short files fill the gaps, instead of one long run starting last.
LONGEST_FIRST = (
    "workflow/test_workflow.py",  # the demo pipeline, then everything that reads its outputs
    "workflow/test_slurm.py",
    "workflow/test_paper_path.py",
    "workflow/test_custom_run.py",
    "workflow/test_recovery.py",
    "workflow/test_profiles.py",
    "workflow/test_plans.py",
    # unit files of 10 s and more (make test-fast: these first, so no worker idles at the end)
    "unit/features/test_ranks.py",
    "unit/datasets/test_index.py",
    "unit/test_benchmarks.py",
    "unit/report/test_figures.py",
    "unit/datasets/test_datasets.py",
    "unit/data/test_download.py",
)


def _rank(item: pytest.Item) -> tuple[int, int]:
    path = Path(str(item.fspath)).relative_to(REPO / "tests").as_posix()
    if path in LONGEST_FIRST:
        return (0, LONGEST_FIRST.index(path))
    return (1, 0) if path.startswith("workflow/") else (2, 0)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    items.sort(key=_rank)  # stable: the order inside each file is kept

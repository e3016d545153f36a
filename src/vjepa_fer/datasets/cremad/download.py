"""CREMA-D download: every VideoFlash video from a mirror, checked against the packaged sha256s.

The GitLab mirror is tried first, GitHub LFS second (``--mirror`` replaces both); a table of the
user's (``--checksums``, name, sha256, size) replaces the packaged one and only its files are
fetched. :func:`verify_cremad` checks an existing copy without downloading (docs/datasets.md).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from vjepa_fer import __version__
from vjepa_fer.data.download import MARKER_NAME, load_table, now, unreachable
from vjepa_fer.data.fetch import (
    DEADLINE,
    JOBS,
    MIN_SPEED,
    RETRIES,
    TIMEOUT,
    DownloadError,
    FetchTask,
    HostUnreachable,
    fetch_many,
    verify_file,
    write_json,
)
from vjepa_fer.data.folds import packaged
from vjepa_fer.io import (
    safe_join,
)

logger = logging.getLogger(__name__)

# Every published video's name, size and sha256 (the repository's Git LFS list), in resources/.
CHECKSUMS = packaged(__package__, "videoflash_lfs.tsv")

CREMAD_URL_TEMPLATES = (
    "https://gitlab.com/cs-cooper-lab/crema-d-mirror/-/raw/master/VideoFlash/{name}",
    "https://media.githubusercontent.com/media/CheyneyComputerScience/CREMA-D/master/VideoFlash/{name}",
)

OFFLINE_ADVICE = (
    "If you have CREMA-D already, set `datasets: {crema-d: {source: local, root: "
    "/path/to/CREMA-D}}` (the folder holding VideoFlash/) and nothing is downloaded; or "
    "list reachable mirrors in download.cremad_mirrors."
)


def load_cremad_table(path: str | os.PathLike[str] | None = None) -> dict[str, tuple[int, str]]:
    """CREMA-D table ``{file: (size, sha256)}``: the packaged LFS list when ``None``."""
    return load_table(path, CHECKSUMS, "sha256")


def _select_cremad(
    table: Mapping[str, tuple[int, str]],
    names: Iterable[str] | None,
    actors: Iterable[int] | None = None,
) -> list[str]:
    """Table entries to fetch: all, the named ones, or those of the given actor IDs."""
    if actors is not None:
        wanted = {int(a) for a in actors}
        picked = [n for n in table if n[:4].isdigit() and int(n[:4]) in wanted]
        if names is None:
            if not picked:
                raise ValueError(f"no CREMA-D video of actors {sorted(wanted)} in the table")
            return sorted(picked)
        table = {n: table[n] for n in picked}
    if names is None:
        return sorted(table)
    selected, unknown = set(), []
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        name = name if name.endswith(".flv") else f"{name}.flv"
        (selected.add(name) if name in table else unknown.append(name))
    if unknown:
        raise ValueError(f"{len(unknown)} name(s) are not CREMA-D videos: {unknown[:10]}")
    return sorted(selected)


def download_cremad(
    root: str | os.PathLike[str],
    *,
    url_templates: Iterable[str] = CREMAD_URL_TEMPLATES,
    table: str | os.PathLike[str] | None = None,
    names: Iterable[str] | None = None,
    actors: Iterable[int] | None = None,
    jobs: int = JOBS,
    marker: str | os.PathLike[str] | None = None,
    retries: int = RETRIES,
    timeout: float = TIMEOUT,
    min_speed: float = MIN_SPEED,
    deadline: float | None = DEADLINE,
    progress: bool = True,
    backoff: float = 1.0,
) -> Path:
    """Download every CREMA-D video of ``table`` (or each named one, or those of ``actors``)
    into ``root/VideoFlash/`` and verify its size and sha256.

    ``table`` is a checksum table (``name, sha256, size``; the packaged LFS list when ``None``).
    Each URL template holds ``{name}`` (the file name with ``.flv``); templates are tried in
    order. Verified files already present are skipped. Failures are collected and raised
    together at the end as one :class:`DownloadError`; unreachable hosts stop the download
    early with one :class:`HostUnreachable`. Returns the marker path.
    """
    templates = list(url_templates)
    if not templates or any("{name}" not in t for t in templates):
        raise ValueError(f"every CREMA-D URL template needs a {{name}} field, got {templates}")
    if jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {jobs}")
    lfs = load_cremad_table(table)
    selected = _select_cremad(lfs, names, actors)
    video_dir = Path(root) / "VideoFlash"
    video_dir.mkdir(parents=True, exist_ok=True)
    tasks = {
        name: FetchTask(
            [t.format(name=name) for t in templates],
            safe_join(video_dir, name, source="CREMA-D checksum table"),
            size=lfs[name][0],
            checksum=("sha256", lfs[name][1]),
        )
        for name in selected
    }
    opts = {"retries": retries, "timeout": timeout, "progress": progress, "backoff": backoff}
    opts |= {"min_speed": min_speed, "deadline": deadline}
    try:
        failures = fetch_many(tasks, jobs=jobs, desc="CREMA-D", **opts)
    except HostUnreachable as exc:
        raise unreachable(exc, "crema-d", OFFLINE_ADVICE) from None
    if failures:
        lines = [f"  {name}: {failures[name]}" for name in sorted(failures)[:30]]
        more = f"\n  ... and {len(failures) - 30} more" if len(failures) > 30 else ""
        raise DownloadError(
            f"{len(failures)} of {len(selected)} CREMA-D video(s) failed; rerun to retry only "
            "these (verified files are skipped):\n" + "\n".join(lines) + more
        )
    return write_cremad_marker(root, marker, selected, lfs, templates, table)


def write_cremad_marker(root, marker, selected, lfs, templates, table) -> Path:
    marker_path = Path(marker) if marker is not None else Path(root) / MARKER_NAME
    write_json(
        marker_path,
        {
            "dataset": "crema-d",
            "url_templates": list(templates),
            "table": str(table) if table is not None else "package:crema-d/videoflash_lfs.tsv",
            "files": len(selected),
            "bytes": sum(lfs[n][0] for n in selected),
            "names": selected,
            "verified": "sha256 and size of every file",
            "written": now(),
            "vjepa_fer": __version__,
        },
    )
    logger.info("CREMA-D: %d videos verified in %s", len(selected), Path(root) / "VideoFlash")
    return marker_path


@dataclass
class CremadReport:
    """Outcome of :func:`verify_cremad`: file names in ``root/VideoFlash``."""

    ok: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    wrong: dict[str, str] = field(default_factory=dict)  # name -> what is wrong
    extra: list[str] = field(default_factory=list)  # .flv files not in the table

    @property
    def clean(self) -> bool:
        return not self.missing and not self.wrong

    def describe(self, limit: int = 20) -> str:
        parts = [
            f"{len(self.ok)} ok, {len(self.missing)} missing, {len(self.wrong)} wrong, "
            f"{len(self.extra)} not in the table"
        ]
        parts += [f"  missing: {n}" for n in self.missing[:limit]]
        parts += [f"  wrong: {n}: {why}" for n, why in list(self.wrong.items())[:limit]]
        return "\n".join(parts)


def verify_cremad(
    root: str | os.PathLike[str],
    *,
    table: str | os.PathLike[str] | None = None,
    names: Iterable[str] | None = None,
    actors: Iterable[int] | None = None,
    jobs: int = 4,
) -> CremadReport:
    """Check a local CREMA-D copy (``root/VideoFlash/*.flv``) against the sha256 table."""
    lfs = load_cremad_table(table)
    selected = _select_cremad(lfs, names, actors)
    video_dir = Path(root) / "VideoFlash"
    if not video_dir.is_dir():
        raise FileNotFoundError(
            f"{video_dir} does not exist (expected the CREMA-D VideoFlash folder)"
        )
    report = CremadReport(
        extra=sorted(p.name for p in video_dir.glob("*.flv") if p.name not in lfs)
    )

    def check(name: str) -> str | None:
        size, sha256 = lfs[name]
        path = safe_join(video_dir, name, source="CREMA-D checksum table")
        return verify_file(path, size=size, checksum=("sha256", sha256))

    # hashlib releases the GIL on large buffers, so threads overlap hashing and disk reads.
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for name, problem in zip(selected, pool.map(check, selected), strict=True):
            if problem is None:
                report.ok.append(name)
            elif problem == "file is missing":
                report.missing.append(name)
            else:
                report.wrong[name] = problem
    return report


def read_names(path: Path) -> list[str]:
    if not path.is_file():
        raise FileNotFoundError(f"--names-file {path} does not exist")
    lines = (
        line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines()
    )
    return [line for line in lines if line]

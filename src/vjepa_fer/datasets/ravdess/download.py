"""RAVDESS download: the speech-video zips of Zenodo record 1188976, verified and extracted.

Checksums come from the record's JSON API or, when it is unreachable, the packaged pinned table
(docs/datasets.md); a table of the user's (``--checksums``, name, md5, size) replaces the pinned
one. Extracted archives are recorded in ``root/.vjepa-fer-ravdess-state.json`` and skipped by a
rerun; the download ends by writing the marker (``data/download.py``).
"""

from __future__ import annotations

import logging
import os
import shutil
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import requests

from vjepa_fer import __version__, schema
from vjepa_fer.data.download import MARKER_NAME, load_table, now, unreachable
from vjepa_fer.data.fetch import (
    DEADLINE,
    MIN_SPEED,
    RETRIES,
    TIMEOUT,
    HostUnreachable,
    extract_zip,
    fetch,
    fetch_zenodo_checksums,
    new_session,
    read_json,
    write_json,
)
from vjepa_fer.data.folds import packaged
from vjepa_fer.io import (
    safe_join,
)
from vjepa_fer.progress import Progress

logger = logging.getLogger(__name__)

# The pinned size and md5 of the 24 speech-video archives, in resources/.
CHECKSUMS = packaged(__package__, "video_speech_zips.tsv")

RAVDESS_BASE_URL: str = schema.default("download.ravdess_base_url")


RAVDESS_RECORD_API: str = schema.default("download.ravdess_record_api")


RAVDESS_STATE_NAME = ".vjepa-fer-ravdess-state.json"

OFFLINE_ADVICE = (
    "If you have RAVDESS already, set `datasets: {ravdess: {source: local, root: "
    "/path/to/RAVDESS}}` (the folder holding Actor_01 ... Actor_24) and nothing is "
    "downloaded; or point download.ravdess_base_url (and ravdess_record_api) at a "
    "reachable mirror."
)


def load_ravdess_table(path: str | os.PathLike[str] | None = None) -> dict[str, tuple[int, str]]:
    """Pinned RAVDESS archive table ``{file: (bytes, md5)}``; the packaged one when ``None``."""
    return load_table(path, CHECKSUMS, "md5")


def _choose_ravdess_checksums(
    wanted: list[str],
    pinned: Mapping[str, tuple[int, str]],
    record: Mapping[str, tuple[int, str]] | None,
) -> tuple[dict[str, tuple[int, str, str]], list[dict[str, Any]]]:
    """Per archive ``(bytes, md5, source)``: the record wins; disagreements are returned."""
    chosen: dict[str, tuple[int, str, str]] = {}
    disagreements = []
    for name in wanted:
        pin, rec = pinned.get(name), (record or {}).get(name)
        if rec is not None and rec[0] < 0 and pin is not None:
            rec = (pin[0], rec[1])  # the record gave no size: keep the pinned one
        if rec is not None:
            chosen[name] = (rec[0], rec[1], "zenodo-record")
            if pin is not None and pin != rec:
                disagreements.append(
                    {
                        "file": name,
                        "pinned": {"bytes": pin[0], "md5": pin[1]},
                        "record": {"bytes": rec[0], "md5": rec[1]},
                    }
                )
        elif pin is not None:
            if record is not None:
                logger.warning("Zenodo record does not list %s; using the pinned checksum", name)
            chosen[name] = (pin[0], pin[1], "pinned-table")
        else:
            raise ValueError(f"{name} is neither in the Zenodo record nor in the pinned table")
    if disagreements:
        logger.warning(
            "the Zenodo record disagrees with the pinned table for %d archive(s); using the "
            "record's values: %s",
            len(disagreements),
            "; ".join(
                f"{d['file']} (pinned {d['pinned']['bytes']} B md5 {d['pinned']['md5']}, "
                f"record {d['record']['bytes']} B md5 {d['record']['md5']})"
                for d in disagreements
            ),
        )
    return chosen, disagreements


def _ravdess_done(root: Path, entry: Any) -> bool:
    """An archive counts as done when its state entry exists and its files are still there."""
    if not isinstance(entry, dict) or not entry.get("extracted"):
        return False
    tops = [root / name for name in entry["extracted"]]
    if not all(p.exists() for p in tops):
        return False
    n_files = sum(1 for p in tops for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file())
    return n_files >= int(entry.get("files", 0))


def download_ravdess(
    root: str | os.PathLike[str],
    *,
    actors: Iterable[int] = range(1, 25),
    base_url: str = RAVDESS_BASE_URL,
    record_api: str | None = RAVDESS_RECORD_API,
    pinned: str | os.PathLike[str] | None = None,
    keep_archives: bool = False,
    marker: str | os.PathLike[str] | None = None,
    retries: int = RETRIES,
    timeout: float = TIMEOUT,
    min_speed: float = MIN_SPEED,
    deadline: float | None = DEADLINE,
    progress: bool = True,
    session: requests.Session | None = None,
    backoff: float = 1.0,
) -> Path:
    """Download, verify and unpack ``Video_Speech_Actor_XX.zip`` into ``root/Actor_XX/``.

    Checksums come from ``record_api`` when reachable (disagreements with the pinned table are
    logged as a warning), else from ``pinned`` (the packaged table when ``None``; pass
    ``record_api=None`` to stay offline). Finished archives are recorded in
    ``root/.vjepa-fer-ravdess-state.json`` and skipped by a rerun. Returns the marker path.
    """
    root = Path(root)
    actor_ids = sorted({int(a) for a in actors})
    if not actor_ids or any(not 1 <= a <= 24 for a in actor_ids):
        raise ValueError(f"RAVDESS actors must be between 1 and 24, got {actor_ids}")
    wanted = [f"Video_Speech_Actor_{a:02d}.zip" for a in actor_ids]
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(".extract-*"):  # left by a killed extraction; never a complete tree
        shutil.rmtree(stale, ignore_errors=True)
    state_path = root / RAVDESS_STATE_NAME
    state = read_json(state_path)
    todo = [name for name in wanted if not _ravdess_done(root, state.get(name))]
    archive_dir = root / "archives"
    own_session = session is None
    sess = session if session is not None else new_session()
    disagreements: list[dict[str, Any]] = []
    record = None
    archives = Progress(len(todo), "RAVDESS", "archives", enabled=progress, interval=0, log=logger)
    try:
        if todo:
            record = (
                fetch_zenodo_checksums(record_api, session=sess, timeout=timeout)
                if record_api
                else None
            )
            chosen, disagreements = _choose_ravdess_checksums(
                wanted, load_ravdess_table(pinned), record
            )
        for name in todo:
            size, md5, source = chosen[name]
            try:
                archive = fetch(
                    f"{base_url.rstrip('/')}/{name}?download=1",
                    safe_join(archive_dir, name, source="RAVDESS checksum table"),
                    size=size if size >= 0 else None,
                    checksum=("md5", md5),
                    retries=retries,
                    timeout=timeout,
                    min_speed=min_speed,
                    deadline=deadline,
                    progress=progress,
                    session=sess,
                    backoff=backoff,
                )
            except HostUnreachable as exc:
                # The other archives live on the same host: stop now, with one message.
                raise unreachable(exc, "ravdess", OFFLINE_ADVICE) from None
            with zipfile.ZipFile(archive) as zf:
                n_files = sum(1 for info in zf.infolist() if not info.is_dir())
            moved = extract_zip(archive, root)
            actor_dir = f"Actor_{name[-6:-4]}"
            if actor_dir not in {p.name for p in moved}:
                logger.warning(
                    "%s did not contain %s/ (it held %s)", name, actor_dir, [p.name for p in moved]
                )
            state[name] = {
                "bytes": size,
                "md5": md5,
                "checksum_source": source,
                "extracted": [p.name for p in moved],
                "files": n_files,
                "completed": now(),
            }
            write_json(state_path, state)
            logger.info("RAVDESS %s: verified and unpacked %d files", name, n_files)
            if not keep_archives:
                archive.unlink()
            archives.update(1)
    finally:
        archives.close(complete=False)
        if own_session:
            sess.close()
    if not keep_archives and archive_dir.is_dir() and not any(archive_dir.iterdir()):
        archive_dir.rmdir()
    checksums_from = "zenodo-record" if record else ("pinned-table" if todo else "state-file")
    marker_path = Path(marker) if marker is not None else root / MARKER_NAME
    write_json(
        marker_path,
        {
            "dataset": "ravdess",
            "base_url": base_url,
            "record_api": record_api,
            "checksums_from": checksums_from,
            "disagreements": disagreements,
            "actors": actor_ids,
            "archives": {name: state[name] for name in wanted},
            "written": now(),
            "vjepa_fer": __version__,
        },
    )
    return marker_path

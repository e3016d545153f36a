"""Download stage: fetch and verify RAVDESS, CREMA-D and the V-JEPA checkpoints.

Implements docs/datasets.md (RAVDESS from Zenodo record 1188976, checksums from the record's JSON
API or the packaged pinned table; CREMA-D videos from the GitLab mirror first and GitHub LFS second,
each checked against the packaged sha256 table) and docs/protocol.md, Encoder (checkpoint
URLs, which have no published checksums: the sha256 of the first download is recorded beside the
file and checked on every later run). HTTP and zip handling live in :mod:`vjepa_fer.data.fetch`.

Every dataset download ends by writing ``<root>/.vjepa-fer-download.json`` atomically; Snakemake
rules use that marker as their output. Reruns skip everything that is already verified.

A checksum table (``--checksums``, config ``datasets.<name>.checksums``) replaces the packaged one:
CSV or TSV with columns ``name, sha256, size`` (CREMA-D) or ``name, md5, size`` (RAVDESS; the
Zenodo record still wins when reachable); only the files it lists are fetched. A host that
refuses connections or does not resolve stops the download at once with one message saying how
to use a local copy instead (:class:`~vjepa_fer.data.fetch.HostUnreachable`). A checkpoint is
renamed into place only after it loads with ``weights_only=True`` and holds the encoder weights.

Run::

    vjepa-fer download --dataset ravdess --root resources/ravdess
    vjepa-fer download --dataset crema-d --root resources/crema-d --jobs 8
    vjepa-fer download --dataset crema-d --root /data/CREMA-D --verify-only
    vjepa-fer download --dataset checkpoint --dest resources/checkpoints/vith16-384.pth.tar
    vjepa-fer download --dataset crema-d --root resources/crema-d --checksums my_sha256.csv
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import logging
import os
import re
import shutil
import zipfile
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import requests

from vjepa_fer import __version__, schema
from vjepa_fer.data.fetch import (
    DEADLINE,
    MIN_SPEED,
    ChecksumError,
    DownloadError,
    FetchTask,
    HostUnreachable,
    extract_zip,
    fetch,
    fetch_many,
    fetch_zenodo_checksums,
    new_session,
    read_json,
    verify_file,
    write_json,
)
from vjepa_fer.datasets import get_dataset
from vjepa_fer.io import (
    contained,
    file_digest,
    recorded_digest,
    safe_join,
    write_digest_sidecar,
)
from vjepa_fer.progress import Progress

logger = logging.getLogger(__name__)

RAVDESS_BASE_URL = "https://zenodo.org/records/1188976/files"
RAVDESS_RECORD_API = "https://zenodo.org/api/records/1188976"
CREMAD_URL_TEMPLATES = (
    "https://gitlab.com/cs-cooper-lab/crema-d-mirror/-/raw/master/VideoFlash/{name}",
    "https://media.githubusercontent.com/media/CheyneyComputerScience/CREMA-D/master/VideoFlash/{name}",
)
CHECKPOINT_URLS = {
    "vith16-384": "https://dl.fbaipublicfiles.com/jepa/vith16-384/vith16-384.pth.tar",
    "vith16": "https://dl.fbaipublicfiles.com/jepa/vith16/vith16.pth.tar",
    "vitl16": "https://dl.fbaipublicfiles.com/jepa/vitl16/vitl16.pth.tar",
}
DEFAULT_CHECKPOINT_URL = CHECKPOINT_URLS["vith16-384"]
MARKER_NAME = ".vjepa-fer-download.json"
RAVDESS_STATE_NAME = ".vjepa-fer-ravdess-state.json"


# ----------------------------------------------------------------------------- tables and JSON


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


# Accepted spellings of a checksum table's columns (the packaged tables use file/bytes).
_NAME_COLUMNS = ("name", "file")
_SIZE_COLUMNS = ("size", "bytes")


def _column(fields: list[str], choices: tuple[str, ...], source: str) -> str:
    found = [c for c in choices if c in fields]
    if not found:
        raise ValueError(
            f"{source}: needs a column {' or '.join(map(repr, choices))}; found {fields}"
        )
    return found[0]


def _load_table(
    path: str | os.PathLike[str] | None, packaged: str, algorithm: str
) -> dict[str, tuple[int, str]]:
    """``{file: (size, hexdigest)}`` from a CSV or TSV (``path``, or ``resources/<packaged>``).

    Columns (any order, more are ignored): ``name`` (or ``file``), ``size`` (or ``bytes``) and
    ``algorithm`` (``sha256`` or ``md5``). Tab-separated when the header holds a tab, else commas.
    """
    if path is None:
        source = f"package resource {packaged}"
        text = resources.files("vjepa_fer.data").joinpath("resources", packaged).read_text()
    else:
        source = str(path)
        if not Path(path).is_file():
            raise FileNotFoundError(f"checksum table {path} does not exist")
        text = Path(path).read_text(encoding="utf-8-sig")
    header = text.split("\n", 1)[0]
    reader = csv.DictReader(io.StringIO(text), delimiter="\t" if "\t" in header else ",")
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    reader.fieldnames = fields
    name_col = _column(fields, _NAME_COLUMNS, source)
    size_col = _column(fields, _SIZE_COLUMNS, source)
    hash_col = _column(fields, (algorithm,), source)
    width = 64 if algorithm == "sha256" else 32
    table = {}
    for line, row in enumerate(reader, start=2):
        name = (row[name_col] or "").strip()
        digest, size = (row[hash_col] or "").strip().lower(), (row[size_col] or "").strip()
        if not name or not re.fullmatch(rf"[0-9a-f]{{{width}}}", digest) or not size.isdigit():
            raise ValueError(
                f"{source}, line {line}: expected a name, a {algorithm} of {width} hex digits "
                f"and a size in bytes; got {dict(row)}"
            )
        # A name becomes a path under the dataset root (and a URL): one that leaves the root
        # (../../x.flv, /etc/x) is refused here, naming the table and line.
        table[contained(name, source=f"{source}, line {line}, column {name_col}")] = (
            int(size),
            digest,
        )
    if not table:
        raise ValueError(f"{source}: the checksum table lists no files")
    return table


def load_ravdess_table(path: str | os.PathLike[str] | None = None) -> dict[str, tuple[int, str]]:
    """Pinned RAVDESS archive table ``{file: (bytes, md5)}``; the packaged one when ``None``."""
    return _load_table(path, "ravdess/video_speech_zips.tsv", "md5")


def load_cremad_table(path: str | os.PathLike[str] | None = None) -> dict[str, tuple[int, str]]:
    """CREMA-D table ``{file: (size, sha256)}``: the packaged LFS list when ``None``."""
    return _load_table(path, "crema-d/videoflash_lfs.tsv", "sha256")


# What to do instead of downloading, named in the one message an unreachable host produces.
_OFFLINE_ADVICE = {
    "ravdess": (
        "If you have RAVDESS already, set `datasets: {ravdess: {source: local, root: "
        "/path/to/RAVDESS}}` (the folder holding Actor_01 ... Actor_24) and nothing is "
        "downloaded; or point download.ravdess_base_url (and ravdess_record_api) at a "
        "reachable mirror."
    ),
    "crema-d": (
        "If you have CREMA-D already, set `datasets: {crema-d: {source: local, root: "
        "/path/to/CREMA-D}}` (the folder holding VideoFlash/) and nothing is downloaded; or "
        "list reachable mirrors in download.cremad_mirrors."
    ),
    "checkpoint": (
        "If you have the checkpoint file already, set encoder.checkpoint to its path (an "
        "existing file is used as is, nothing is downloaded); or set encoder.url to a reachable "
        "copy."
    ),
}


def _unreachable(exc: HostUnreachable, dataset: str) -> HostUnreachable:
    """The same error with the dataset's offline advice appended (one message for the user)."""
    hosts = ", ".join(f"{host} ({why})" for host, why in exc.hosts.items())
    return HostUnreachable(
        f"{dataset}: cannot reach {hosts}; is this machine offline or behind a firewall? "
        f"{_OFFLINE_ADVICE[dataset]} [{exc}]",
        exc.hosts,
    )


# ----------------------------------------------------------------------------- RAVDESS


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
    retries: int = 5,
    timeout: float = 60,
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
                raise _unreachable(exc, "ravdess") from None
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
                "completed": _now(),
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
            "written": _now(),
            "vjepa_fer": __version__,
        },
    )
    return marker_path


# ----------------------------------------------------------------------------- CREMA-D


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
    jobs: int = 8,
    marker: str | os.PathLike[str] | None = None,
    retries: int = 5,
    timeout: float = 60,
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
        raise _unreachable(exc, "crema-d") from None
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
            "written": _now(),
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


# ----------------------------------------------------------------------------- checkpoints


def checkpoint_problem(
    path: Path, checkpoint_key: str = schema.default("encoder.checkpoint_key")
) -> str | None:
    """``None`` when ``path`` is a complete checkpoint the encoder loader accepts, else why not.

    The same rules as loading (:func:`vjepa_fer.models.checkpoint.read_encoder_state`):
    ``torch.load(weights_only=True)``, ``checkpoint_key`` else ``encoder`` (with a warning), else
    a bare state dict; and at least one tensor. A transfer cut short without a Content-Length
    fails here (a truncated zip archive does not load).
    """
    from vjepa_fer.models.checkpoint import read_encoder_state  # torch: only for checkpoints

    try:
        state = read_encoder_state(path, checkpoint_key)
    except (ValueError, OSError) as exc:
        return f"not a usable checkpoint: {exc}"
    if not state:
        return f"not a usable checkpoint: {path} holds no encoder weights"
    return None


def download_checkpoint(
    url: str,
    dest: str | os.PathLike[str],
    sha256: str | None = None,
    *,
    checkpoint_key: str = schema.default("encoder.checkpoint_key"),
    retries: int = 5,
    timeout: float = 60,
    min_speed: float = MIN_SPEED,
    deadline: float | None = DEADLINE,
    progress: bool = True,
    session: requests.Session | None = None,
    backoff: float = 1.0,
) -> str:
    """Download a checkpoint, check that it loads, and return its sha256.

    Before the final rename the file must load with ``weights_only=True`` and hold
    ``checkpoint_key`` (or the loader's fallbacks, see :func:`checkpoint_problem`); a file that
    does not is deleted and fetched once more, then the download fails. The V-JEPA checkpoints
    have no published checksums, so without ``sha256`` the digest of the first verified download
    is written to ``<dest>.sha256`` (``sha256sum`` format) and later runs verify against it
    (trust on first use). With ``sha256`` the file must match it.
    """
    dest = Path(dest)
    sidecar = dest.with_name(dest.name + ".sha256")
    expected = sha256.lower() if sha256 else None
    if expected is not None and not re.fullmatch(r"[0-9a-f]{64}", expected):
        raise ValueError(f"--sha256 must be 64 hex digits, got {sha256!r}")
    recorded = recorded_digest(dest)
    if expected is None and recorded:
        expected = recorded
        logger.info("verifying %s against the sha256 recorded in %s", dest.name, sidecar)
    try:
        fetch(
            url,
            dest,
            checksum=("sha256", expected) if expected else None,
            retries=retries,
            timeout=timeout,
            min_speed=min_speed,
            deadline=deadline,
            progress=progress,
            session=session,
            backoff=backoff,
            validate=lambda path: checkpoint_problem(path, checkpoint_key),
        )
    except HostUnreachable as exc:
        raise _unreachable(exc, "checkpoint") from None
    except ChecksumError as exc:
        if sha256 is None and recorded:
            raise ChecksumError(
                f"{exc} The expected digest was recorded at the first download in {sidecar}; "
                "delete that file if the upstream checkpoint has really changed."
            ) from exc
        raise
    digest = expected or file_digest(dest, "sha256")
    write_digest_sidecar(dest, digest)
    logger.info("sha256 %s  %s", digest, dest)
    return digest


# ----------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``vjepa-fer download``."""
    parser.add_argument(
        "--dataset",
        required=True,
        help="what to fetch: a downloadable dataset (ravdess, crema-d) or `checkpoint`",
    )
    parser.add_argument("--root", type=Path, help="dataset folder (ravdess, crema-d)")
    parser.add_argument("--dest", type=Path, help="checkpoint file to write (checkpoint)")
    parser.add_argument("--url", help=f"checkpoint URL (default {DEFAULT_CHECKPOINT_URL})")
    parser.add_argument("--sha256", help="expected checkpoint sha256 (default: record the first)")
    parser.add_argument(
        "--checkpoint-key",
        default=schema.default("encoder.checkpoint_key"),
        help="weights the checkpoint must hold before it is accepted (fallback: encoder)",
    )
    parser.add_argument("--base-url", default=RAVDESS_BASE_URL, help="RAVDESS file URL prefix")
    parser.add_argument(
        "--record-api",
        default=RAVDESS_RECORD_API,
        help="Zenodo record JSON for RAVDESS checksums; '' uses only the pinned table",
    )
    parser.add_argument(
        "--actors",
        type=int,
        nargs="+",
        help="actor IDs to fetch (default all: RAVDESS 1-24, CREMA-D 1001-1091)",
    )
    parser.add_argument(
        "--checksums",
        type=Path,
        help="checksum table (CSV/TSV: name, sha256 (CREMA-D) or md5 (RAVDESS), size) "
        "instead of the packaged one; only the files it lists are fetched",
    )
    parser.add_argument("--keep-archives", action="store_true", help="keep RAVDESS zips")
    parser.add_argument(
        "--mirror",
        dest="mirrors",
        action="append",
        metavar="TEMPLATE",
        help="CREMA-D URL template with {name}, tried in order; repeat; replaces the defaults",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=schema.default("download.jobs"),
        help="parallel CREMA-D downloads",
    )
    parser.add_argument("--names-file", type=Path, help="CREMA-D subset: one video name a line")
    parser.add_argument(
        "--verify-only",
        action="store_true",
        help="CREMA-D: only verify an existing copy under --root",
    )
    parser.add_argument("--marker", type=Path, help=f"marker file (default ROOT/{MARKER_NAME})")
    parser.add_argument(
        "--retries",
        type=int,
        default=schema.default("download.retries"),
        help="failed attempts allowed per file",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=schema.default("download.timeout"),
        help="seconds per network read",
    )
    parser.add_argument(
        "--min-speed",
        type=float,
        default=MIN_SPEED,
        help="bytes/s a transfer must average over 60 s, else it is cut and retried",
    )
    parser.add_argument(
        "--deadline",
        type=float,
        default=DEADLINE,
        help="seconds a file may take, retries included, before the download fails",
    )
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress output (default: a bar on a terminal, else a log line every 30 s)",
    )


def read_names(path: Path) -> list[str]:
    if not path.is_file():
        raise FileNotFoundError(f"--names-file {path} does not exist")
    lines = (
        line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines()
    )
    return [line for line in lines if line]


def run(args: argparse.Namespace) -> int:
    """Run the download stage; raises ValueError / DownloadError (a RuntimeError) on failure."""
    common = {"retries": args.retries, "timeout": args.timeout, "progress": not args.no_progress}
    common |= {"min_speed": args.min_speed, "deadline": args.deadline}
    if args.dataset == "checkpoint":
        if args.dest is None:
            raise ValueError("--dataset checkpoint needs --dest FILE")
        url = args.url or DEFAULT_CHECKPOINT_URL
        digest = download_checkpoint(
            url, args.dest, args.sha256, checkpoint_key=args.checkpoint_key, **common
        )
        if args.marker is not None:
            write_json(
                args.marker,
                {
                    "dataset": "checkpoint",
                    "url": url,
                    "file": str(args.dest),
                    "sha256": digest,
                    "written": _now(),
                },
            )
        return 0
    if args.root is None:
        raise ValueError(f"--dataset {args.dataset} needs --root DIR")
    # Each dataset module knows how it is published (vjepa_fer.datasets).
    get_dataset(args.dataset).download(args, common)
    return 0

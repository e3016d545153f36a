"""Download machinery shared by the dataset modules, and the V-JEPA checkpoints.

What every verified dataset download uses: the marker name and timestamp, checksum tables
(CSV/TSV with a name, a digest and a size column; :func:`load_table`), the one message an
unreachable host produces (:func:`unreachable`). HTTP and zip handling live in
:mod:`vjepa_fer.data.fetch`. Each dataset's own download lives in its module
(``datasets/<name>/download.py``), with its checksum table in the module's ``resources/``; the
``vjepa-fer download`` command is :mod:`vjepa_fer.datasets.download`.

Checkpoints (docs/protocol.md, Encoder) have no published checksums: the sha256 of the first
download is recorded beside the file and checked on every later run. A checkpoint is renamed into
place only after it loads with ``weights_only=True`` and holds the encoder weights.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import requests

from vjepa_fer import schema
from vjepa_fer.data.fetch import (
    DEADLINE,
    MIN_SPEED,
    RETRIES,
    TIMEOUT,
    ChecksumError,
    HostUnreachable,
    fetch,
)
from vjepa_fer.data.folds import describe
from vjepa_fer.io import (
    contained,
    file_digest,
    recorded_digest,
    write_digest_sidecar,
)

if TYPE_CHECKING:  # importlib.resources.abc is Python >= 3.11; only the annotations need it
    from importlib.resources.abc import Traversable

logger = logging.getLogger(__name__)

CHECKPOINT_URLS = {
    "vith16-384": "https://dl.fbaipublicfiles.com/jepa/vith16-384/vith16-384.pth.tar",
    "vith16": "https://dl.fbaipublicfiles.com/jepa/vith16/vith16.pth.tar",
    "vitl16": "https://dl.fbaipublicfiles.com/jepa/vitl16/vitl16.pth.tar",
}


DEFAULT_CHECKPOINT_URL = CHECKPOINT_URLS["vith16-384"]


MARKER_NAME = ".vjepa-fer-download.json"


def now() -> str:
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


def load_table(
    path: str | os.PathLike[str] | None, packaged: Traversable, algorithm: str
) -> dict[str, tuple[int, str]]:
    """``{file: (size, hexdigest)}`` from a CSV or TSV: ``path``, or the ``packaged`` table when
    ``path`` is None (:func:`vjepa_fer.data.folds.packaged`, a file of a dataset module).

    Columns (any order, more are ignored): ``name`` (or ``file``), ``size`` (or ``bytes``) and
    ``algorithm`` (``sha256`` or ``md5``). Tab-separated when the header holds a tab, else commas.
    """
    if path is None:
        source = f"package resource {describe(packaged)}"
        text = packaged.read_text("utf-8")
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


CHECKPOINT_ADVICE = (
    "If you have the checkpoint file already, set encoder.checkpoint to its path (an "
    "existing file is used as is, nothing is downloaded); or set encoder.url to a reachable "
    "copy."
)


def unreachable(exc: HostUnreachable, dataset: str, advice: str) -> HostUnreachable:
    """The same error with ``advice`` (what to do offline) appended (one message for the user)."""
    hosts = ", ".join(f"{host} ({why})" for host, why in exc.hosts.items())
    return HostUnreachable(
        f"{dataset}: cannot reach {hosts}; is this machine offline or behind a firewall? "
        f"{advice} [{exc}]",
        exc.hosts,
    )


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
    retries: int = RETRIES,
    timeout: float = TIMEOUT,
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
        raise unreachable(exc, "checkpoint", CHECKPOINT_ADVICE) from None
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

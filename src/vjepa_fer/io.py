"""Small file helpers shared by every stage: atomic writes, hashing and path containment.

Every output of the pipeline is written to a temporary file in the same directory and renamed into
place, so an interrupted job never leaves a half-written file that a later run would trust.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import tempfile
from collections.abc import Iterator
from pathlib import Path, PureWindowsPath
from typing import IO, Any

import pandas as pd


class PathEscapeError(ValueError):
    """A path read from a table, manifest or archive that would leave its root folder."""


def contained(rel: str, *, source: str) -> str:
    """``rel`` as a normalised "/"-separated path that stays inside its root, else
    :class:`PathEscapeError` naming ``source`` (the file and line or member it came from).

    Refused: empty names, absolute paths (``/x``, ``\\x``, ``C:x``), NUL bytes, and names whose
    ``..`` parts climb above the root (``a/../../x``). The check is lexical, so a dataset root
    may hold symbolic links to another disk; a name from a table cannot point there by itself.
    """
    text = str(rel)
    unified = text.replace("\\", "/")
    if not text.strip() or "\0" in text:
        raise PathEscapeError(f"{source}: path {text!r} is empty or holds a NUL byte; refusing it")
    if unified.startswith("/") or PureWindowsPath(text).drive:
        raise PathEscapeError(
            f"{source}: path {text!r} is absolute; only paths relative to the root are allowed"
        )
    norm = posixpath.normpath(unified)
    if norm == ".." or norm.startswith("../"):
        raise PathEscapeError(f"{source}: path {text!r} leaves its root folder; refusing it")
    return norm


def safe_join(root: str | os.PathLike[str], rel: str, *, source: str) -> Path:
    """``root / rel`` for a ``rel`` read from a table, manifest or archive (``source`` names
    where); refused with :class:`PathEscapeError` when it would leave ``root``
    (:func:`contained`). Every such path of the pipeline goes through here."""
    return Path(root) / contained(rel, source=source)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only on success."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates the file 0600; give the output the permissions an ordinary file gets
        # (0666 minus the umask), so collaborators on a shared cluster can read the results.
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file for writing; it replaces ``path`` when the block ends without error."""
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as fh:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())


def write_csv(df: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write a table atomically, without the pandas index."""
    with atomic_open(path, "w", newline="") as fh:
        df.to_csv(fh, index=False)


IDENTITIES = ("stat", "content")  # features.identity: what identifies a video file or folder
CONTENT_PREFIX = "sha256:"
FOLDER_PREFIX = "frames:"


def _folder_files(folder: Path) -> list[Path]:
    """The regular files of a frame folder (hidden files aside), by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def _sha256(path: Path, h: Any = None) -> Any:  # a hashlib object in and out
    h = h or hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h


def file_identity(path: str | os.PathLike[str], mode: str = "stat") -> str:
    """What identifies a video's content for the feature store (symbolic links followed).

    ``stat`` (default): ``"<bytes>:<mtime_ns>"`` of a file, so a video replaced under the same
    name gets another identity. A frame folder is identified by its frames, never by the folder's
    own size and mtime (which do not change when a frame is overwritten in place):
    ``"frames:<count>:<digest of every file's name, size and mtime_ns>"``.
    ``content``: a SHA-256 of the bytes (``"sha256:<hex>"``; of every frame's name and bytes for a
    folder), which also catches a same-size edit whose mtime was restored; it reads every byte.
    """
    if mode not in IDENTITIES:
        raise ValueError(f"file identity must be one of {IDENTITIES}, got {mode!r}")
    path = Path(path)
    if path.is_dir():
        files = _folder_files(path)
        h = hashlib.sha256()
        for f in files:
            h.update(f.name.encode() + b"\0")
            if mode == "content":
                _sha256(f, h)
            else:
                st = f.stat()
                h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
            h.update(b"\0")
        tag = CONTENT_PREFIX if mode == "content" else FOLDER_PREFIX
        return f"{tag}{len(files)}:{h.hexdigest()[:32]}"
    if mode == "content":
        return CONTENT_PREFIX + _sha256(path).hexdigest()
    st = os.stat(path)
    return f"{st.st_size}:{st.st_mtime_ns}"


def identity_mode(recorded: str | None) -> str:
    """The mode a recorded identity was computed in (``extract`` recomputes it the same way)."""
    content = isinstance(recorded, str) and recorded.startswith(CONTENT_PREFIX)
    return "content" if content else "stat"


def file_digest(
    path: str | os.PathLike[str], algorithm: str = "sha256", chunk: int = 1 << 20
) -> str:
    """Hex digest of a file, read in chunks (archives are up to ~600 MB)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


# A digest sidecar ``<file>.sha256`` is ``sha256sum`` format (``sha256sum -c`` checks it and skips
# the comment line) plus the file's size and mtime when it was hashed: the digest is trusted only
# while the file still has that size and mtime, so a checkpoint swapped after its sidecar was
# written (even an older file copied in with its mtime kept) is hashed again.
_SIDECAR_STAT = "# size:mtime_ns "


def _stat_key(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size}:{st.st_mtime_ns}"


def write_digest_sidecar(path: str | os.PathLike[str], digest: str) -> Path:
    """Write ``<path>.sha256`` for ``digest`` of ``path`` (atomic), recording size and mtime."""
    path = Path(path)
    sidecar = path.with_name(path.name + ".sha256")
    with atomic_open(sidecar, "w", encoding="utf-8") as fh:
        fh.write(f"{digest}  {path.name}\n{_SIDECAR_STAT}{_stat_key(path)}\n")
    return sidecar


def recorded_digest(path: str | os.PathLike[str]) -> str | None:
    """The digest ``<path>.sha256`` records (64 hex digits), or None (no sidecar, malformed)."""
    path = Path(path)
    sidecar = path.with_name(path.name + ".sha256")
    if not sidecar.is_file():
        return None
    words = sidecar.read_text(encoding="utf-8").split()
    if not words or len(words[0]) != 64:
        return None
    return words[0].lower()


def trusted_digest(path: str | os.PathLike[str]) -> str | None:
    """The sidecar's digest if it still describes ``path`` (same size and mtime), else None."""
    path = Path(path)
    digest = recorded_digest(path)
    if digest is None:
        return None
    lines = path.with_name(path.name + ".sha256").read_text(encoding="utf-8").splitlines()
    stats = [ln[len(_SIDECAR_STAT) :].strip() for ln in lines if ln.startswith(_SIDECAR_STAT)]
    return digest if stats and stats[0] == _stat_key(path) else None

"""Small file helpers shared by every stage: atomic writes and hashing.

Every output of the pipeline is written to a temporary file in the same directory and renamed into
place, so an interrupted job never leaves a half-written file that a later run would trust.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pandas as pd


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


def file_identity(path: str | os.PathLike[str]) -> str:
    """``"<bytes>:<mtime_ns>"`` of a file (symbolic links followed): a video replaced under the
    same name gets another identity."""
    st = os.stat(path)
    return f"{st.st_size}:{st.st_mtime_ns}"


def file_digest(
    path: str | os.PathLike[str], algorithm: str = "sha256", chunk: int = 1 << 20
) -> str:
    """Hex digest of a file, read in chunks (archives are up to ~600 MB)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()

"""Finding a dataset's videos by their file names: the walk and the bad-name policy.

Shared by the dataset modules that index a copy from its published naming scheme (RAVDESS,
CREMA-D): :func:`walk_files` lists the videos under a root and counts everything else,
:class:`NameError_` is what a strict name parser raises, :func:`reject_bad` applies
``on_bad_name`` (stop, or skip and count).
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from pathlib import Path

logger = logging.getLogger(__name__)


class NameError_(ValueError):
    """A file name that does not follow its dataset's naming scheme (message names the path)."""


def walk_files(root: Path, suffix: str) -> tuple[list[str], Counter]:
    """Relative paths of files ending in ``suffix`` under root (sorted); others counted.

    Symbolic links to folders (e.g. actor folders gathered from elsewhere) are followed; a link
    that leads back into a folder already walked is refused with a warning instead of looping.
    """
    found, ignored = [], Counter()
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            logger.warning(
                "%s: a symbolic link loop (already walked as %s); skipped", dirpath, real
            )
            ignored["symbolic link loop"] += 1
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            rel = Path(dirpath, name).relative_to(root).as_posix()
            if os.path.islink(Path(dirpath, name)) and not os.path.exists(Path(dirpath, name)):
                logger.warning(
                    "%s: a symbolic link to nothing (%s)", rel, os.readlink(Path(dirpath, name))
                )
                if not name.lower().endswith(suffix):  # a video link stays: lengths reports it
                    ignored["broken symbolic link"] += 1
                    continue
            if name.lower().endswith(suffix):
                found.append(rel)
            else:
                ignored["not a video file"] += 1
    return found, ignored


def reject_bad(path: str, exc: Exception, on_bad_name: str, ignored: Counter) -> None:
    if on_bad_name == "error":
        raise exc
    logger.warning("skipping %s", exc)
    ignored["malformed name"] += 1

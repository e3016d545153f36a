"""Fold tables by dataset name: the packaged table a dataset module declares, or a user's.

The table machinery (reading, checking, assigning) is :mod:`vjepa_fer.data.folds`, one floor
below; this module only asks the registry which packaged table belongs to a dataset.
"""

from __future__ import annotations

from pathlib import Path

from vjepa_fer.data.folds import read_folds
from vjepa_fer.datasets import get_dataset


def load_folds(dataset: str, path: str | Path | None = None) -> dict[int, int]:
    """Map actor -> fold, from ``path`` or the packaged table of ``dataset``'s module."""
    try:
        packaged = get_dataset(dataset).packaged_folds
    except ValueError:  # a dataset nobody registered: only a user's table can help
        packaged = None
    return read_folds(dataset, packaged, path)

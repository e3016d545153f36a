"""The paper's subject-independent 5-fold splits (docs/datasets.md, "Folds").

RAVDESS follows Luna-Jiménez et al. 2021 (the paper's fold k = their fold k-1); CREMA-D follows the
paper's Table I. Both ship with the package as ``actor,fold`` tables; a user may pass their own.
A fold table must put every actor in exactly one fold, which :func:`load_folds` checks.
"""

from __future__ import annotations

import io
from importlib import resources
from pathlib import Path

import pandas as pd


def packaged_resource(relpath: str) -> str:
    """Text of a data file shipped in ``vjepa_fer/data/resources``."""
    return resources.files("vjepa_fer.data").joinpath("resources", relpath).read_text("utf-8")


def read_folds(
    dataset: str, packaged: str | None, path: str | Path | None = None
) -> dict[int, int]:
    """Map actor -> fold, from ``path`` or the packaged table ``packaged`` (a path under
    ``vjepa_fer/data/resources``, what a dataset module declares as ``packaged_folds``).

    Raises ValueError naming the table if an actor appears twice, a fold is not a positive
    integer, or the columns are wrong. (``vjepa_fer.datasets.folds.load_folds`` looks the
    packaged table up by dataset name.)
    """
    if path is None:
        if packaged is None:
            raise ValueError(f"no packaged folds for dataset {dataset!r}; pass a folds CSV")
        source = f"<package>/resources/{packaged}"
        df = pd.read_csv(io.StringIO(packaged_resource(packaged)))
    else:
        source = str(path)
        df = pd.read_csv(path)
    if list(df.columns) != ["actor", "fold"]:
        raise ValueError(f"{source}: expected columns actor,fold, found {list(df.columns)}")
    if df.isna().any().any():
        raise ValueError(
            f"{source}: empty cells in rows {df.index[df.isna().any(axis=1)].tolist()}"
        )
    dupes = df.loc[df["actor"].duplicated(keep=False), "actor"].unique().tolist()
    if dupes:
        raise ValueError(f"{source}: actors listed in more than one row: {sorted(dupes)}")
    if (df["fold"] < 1).any():
        raise ValueError(f"{source}: folds must be numbered from 1")
    return {int(a): int(f) for a, f in zip(df["actor"], df["fold"], strict=True)}


def assign_folds(actors: pd.Series, folds: dict[int, int], source: str) -> pd.Series:
    """Fold of every row's actor; ValueError listing actors the fold table does not know."""
    unknown = sorted(set(actors.astype(int)) - set(folds))
    if unknown:
        raise ValueError(f"{source}: actors {unknown} are in no fold of the fold table")
    return actors.astype(int).map(folds).astype(int)

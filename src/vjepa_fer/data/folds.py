"""Fold tables: reading, checking and assigning ``actor,fold`` tables (docs/datasets.md, "Folds").

A dataset module that ships its folds declares the packaged table (:func:`packaged`, a file in the
module's own ``resources/`` folder); a user may pass their own table instead. A fold table must
put every actor in exactly one fold, which :func:`read_folds` checks. Which table belongs to which
dataset is the registry's business (``vjepa_fer.datasets.folds.load_folds``), not this module's.
"""

from __future__ import annotations

import io
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:  # importlib.resources.abc is Python >= 3.11; only the annotations need it
    from importlib.resources.abc import Traversable


def packaged(package: str, name: str) -> Traversable:
    """The file ``resources/<name>`` shipped inside ``package`` (a dotted package name, usually
    the caller's ``__package__``); it works from a checkout, an installed wheel or a zip."""
    return resources.files(package).joinpath("resources", name)


def describe(table: Traversable) -> str:
    """How a message names a packaged table: ``<package>/resources/<name>``, the package spelt as
    its folder under the outermost package (``vjepa_fer/datasets/<name>/resources/folds.csv``);
    the full location when the table lies in no package."""
    folder = getattr(table, "parent", None)  # the resources/ folder
    if folder is None:
        return str(table)
    parts, package = [folder.name, table.name], folder.parent
    while package.joinpath("__init__.py").is_file():
        parts.insert(0, package.name)
        if package.parent == package:
            break
        package = package.parent
    return "/".join(parts) if len(parts) > 2 else str(table)


def read_folds(
    dataset: str, table: Traversable | None, path: str | Path | None = None
) -> dict[int, int]:
    """Map actor -> fold, from ``path`` or the packaged ``table`` (:func:`packaged`, what a
    dataset module declares as ``packaged_folds``).

    Raises ValueError naming the table if an actor appears twice, a fold is not a positive
    integer, or the columns are wrong. (``vjepa_fer.datasets.folds.load_folds`` looks the
    packaged table up by dataset name.)
    """
    if path is None:
        if table is None:
            raise ValueError(f"no packaged folds for dataset {dataset!r}; pass a folds CSV")
        source = describe(table)
        df = pd.read_csv(io.StringIO(table.read_text("utf-8")))
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

"""Checks of a manifest's folds at index time, for any dataset.

Every probe holds one fold out and is scored on it, so a fold without videos, or a fold whose
videos lack a class that the dataset has, would only fail (or silently give an undefined recall)
at training or evaluation time, far from the cause. :func:`check_folds` stops at ``index`` instead,
naming the dataset, the fold and what is missing. It only reads the ``fold``, ``label`` and
``actor`` columns, so it serves every dataset the index knows.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd


def check_folds(manifest: pd.DataFrame, dataset: str, folds: Iterable[int]) -> None:
    """ValueError unless every fold in ``folds`` holds videos of every class of ``manifest``.

    ``folds`` are the folds the fold table defines (each probe holds one of them out).
    """
    missing_cols = {"fold", "label"} - set(manifest.columns)
    if missing_cols:
        raise ValueError(f"{dataset}: manifest lacks column(s) {sorted(missing_cols)}")
    classes = sorted(manifest["label"].dropna().unique())
    problems = []
    for fold in sorted(set(int(f) for f in folds)):
        part = manifest[manifest["fold"] == fold]
        if part.empty:
            problems.append(
                f"fold {fold} has no videos (none of its actors were found under the root)"
            )
            continue
        absent = [c for c in classes if c not in set(part["label"])]
        if absent:
            actors = ""
            if "actor" in part.columns:
                actors = f" (its actors {sorted(part['actor'].unique().tolist())})"
            problems.append(f"fold {fold}{actors} has no video of class {', '.join(absent)}")
    if problems:
        raise ValueError(
            f"{dataset}: every fold is a probe's test set and must hold every class; "
            + "; ".join(problems)
        )

"""Custom datasets: any labelled videos listed in a CSV manifest, with the classes in the config.

Config entry (any name; ``type: custom``)::

    datasets:
      my-faces:
        type: custom
        source: local
        root: /data/my-faces              # videos are relative to this folder
        manifest: /data/my-faces/labels.csv
        classes: [neutral, happy, sad]    # probe order; use the vocabulary names (labels.py) to
                                          # let cross-dataset evaluation find shared classes
        n_folds: 5                        # only when the manifest has neither fold nor split

Manifest columns: ``video`` (a file or a folder of numbered frames), ``label`` (one of
``classes``), ``subject`` (any id; folds never split a subject), and optionally ``fold`` (1..K)
or ``split`` (train/test: a fixed split, test = fold 1, train = fold 0). Without either, folds are
made from the seed: subjects are dealt to ``n_folds`` folds so that every fold's class counts stay
close to an even share (stratified and subject-independent), and the table is written to
``results/<run_name>/<name>/folds.csv`` (subject, actor, fold) to be reused (``folds:``) and
cited. Every error names the manifest's line and column.
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vjepa_fer.datasets.base import TRAIN_ONLY_FOLD, Dataset, IndexOptions
from vjepa_fer.datasets.wild import base_row
from vjepa_fer.io import contained, safe_join, write_csv

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)
REQUIRED = ("video", "label", "subject")
SPLITS = {"train": TRAIN_ONLY_FOLD, "test": 1}


class CustomDataset(Dataset):
    """A dataset defined by the user's config entry and CSV manifest."""

    handles_fold_table = True
    citation = "user-provided"

    def __init__(
        self,
        name: str,
        classes: tuple[str, ...],
        *,
        display: str | None = None,
        test_folds: tuple[int, ...] = (1, 2, 3, 4, 5),
        fixed_split: bool = False,
        licence: str = "",
    ) -> None:
        if not classes:
            raise ValueError(f"dataset {name!r}: a custom dataset needs a 'classes' list")
        if len(set(classes)) != len(classes):
            raise ValueError(f"dataset {name!r}: 'classes' lists a class twice: {list(classes)}")
        self.name = name  # type: ignore[misc]
        self.display_name = display or name  # type: ignore[misc]
        self.classes = tuple(classes)
        self.test_folds = tuple(test_folds)
        self.fixed_split = fixed_split
        self.licence = licence  # type: ignore[misc]

    def index(self, root: Path, opts: IndexOptions) -> tuple[pd.DataFrame, Counter]:
        import pandas as pd

        if not opts.manifest:
            raise ValueError(f"dataset {self.name!r}: a custom dataset needs 'manifest' (a CSV)")
        rows, kind = read_manifest(Path(opts.manifest), self.classes)
        ignored: Counter = Counter()
        present = []
        for r in rows:
            where = f"{opts.manifest} line {r['line']}, column video"
            path = safe_join(root, r["video"], source=where)  # never outside the root
            if path.exists():
                present.append(r)
                continue
            msg = f"{where}: {path} not found"
            if opts.expect_full:
                raise ValueError(msg + " (set expect_full: false to index a partial copy)")
            logger.warning("%s", msg)
            ignored["listed but missing"] += 1
        if not present:
            raise ValueError(f"{opts.manifest}: none of the listed videos exists under {root}")
        actors = actor_ids([r["subject"] for r in present])
        if opts.folds:
            table = read_fold_table(Path(opts.folds))
            missing = sorted({r["subject"] for r in present} - set(table))
            if missing:
                raise ValueError(f"{opts.folds}: subjects {missing[:10]} are in no fold")
            fold_of = {r["subject"]: table[r["subject"]] for r in present}
        elif kind in ("fold", "split"):
            fold_of = None
        else:
            fold_of = make_folds(
                [r["subject"] for r in present],
                [r["label"] for r in present],
                opts.n_folds,
                opts.seed,
            )
        out = []
        for r in present:
            fold = fold_of[r["subject"]] if fold_of is not None else r["fold"]
            out.append(base_row(r["video"], actors[r["subject"]], r["label"], fold, r["video"]))
        df = pd.DataFrame(out)
        if opts.folds_out:
            write_fold_table(Path(opts.folds_out), present, actors, df)
        return df, ignored


def read_manifest(path: Path, classes: tuple[str, ...]) -> tuple[list[dict], str]:
    """Rows of a custom manifest and how folds are given ("fold", "split" or "none")."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: custom dataset manifest is missing")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in reader.fieldnames or []]
        reader.fieldnames = header
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise ValueError(f"{path} line 1: missing column(s) {missing}; found {header}")
        if "fold" in header and "split" in header:
            raise ValueError(f"{path} line 1: give either a fold or a split column, not both")
        kind = "fold" if "fold" in header else "split" if "split" in header else "none"
        rows, seen = [], {}
        for line, raw in enumerate(reader, start=2):
            r = {k: (v or "").strip() for k, v in raw.items() if k is not None}
            if not any(r.values()):
                continue
            for col in REQUIRED:
                if not r.get(col):
                    raise ValueError(f"{path} line {line}, column {col}: empty")
            # Relative to the root and inside it (vjepa_fer.io.contained), "/"-separated.
            video = contained(r["video"], source=f"{path} line {line}, column video")
            if video in seen:
                raise ValueError(
                    f"{path} line {line}, column video: {video} already on line {seen[video]}"
                )
            seen[video] = line
            if r["label"] not in classes:
                raise ValueError(
                    f"{path} line {line}, column label: {r['label']!r} is not one of the "
                    f"configured classes {list(classes)}"
                )
            row = {"video": video, "label": r["label"], "subject": r["subject"], "line": line}
            if kind == "fold":
                if not r.get("fold", "").isdigit() or int(r["fold"]) < 1:
                    raise ValueError(
                        f"{path} line {line}, column fold: {r.get('fold')!r} is not a fold "
                        "number (1, 2, ...)"
                    )
                row["fold"] = int(r["fold"])
            elif kind == "split":
                if r.get("split", "").lower() not in SPLITS:
                    raise ValueError(
                        f"{path} line {line}, column split: {r.get('split')!r} is not train or test"
                    )
                row["fold"] = SPLITS[r["split"].lower()]
            rows.append(row)
    if not rows:
        raise ValueError(f"{path}: the manifest lists no videos")
    if kind == "fold":
        by_subject: dict[str, set[int]] = {}
        for r in rows:
            by_subject.setdefault(r["subject"], set()).add(r["fold"])
        split = sorted(s for s, f in by_subject.items() if len(f) > 1)
        if split:
            line = next(r["line"] for r in rows if r["subject"] == split[0])
            raise ValueError(
                f"{path} line {line}, column fold: subject {split[0]} is spread over folds "
                f"{sorted(by_subject[split[0]])} (folds must be subject-independent)"
            )
    return rows, kind


def actor_ids(subjects: list[str]) -> dict[str, int]:
    """Integer actor ids: the subjects themselves when all are integers, else 1..n in order."""
    unique = sorted(set(subjects))
    if all(s.isdigit() for s in unique):
        return {s: int(s) for s in unique}
    return {s: k for k, s in enumerate(unique, start=1)}


def make_folds(subjects: list[str], labels: list[str], n_folds: int, seed: int) -> dict[str, int]:
    """Subject-independent, class-stratified folds, deterministic in ``seed``.

    Subjects are taken largest first (ties in a seeded random order) and each goes to the fold
    whose class counts it moves least above an even share (fewest videos breaks ties).
    """
    by_subject: dict[str, Counter] = {}
    for s, lab in zip(subjects, labels, strict=True):
        by_subject.setdefault(s, Counter())[lab] += 1
    if len(by_subject) < n_folds:
        raise ValueError(
            f"{len(by_subject)} subjects cannot fill {n_folds} subject-independent folds; "
            "lower n_folds or give a split column"
        )
    classes = sorted({lab for lab in labels})
    total = np.array([sum(c[k] for c in by_subject.values()) for k in classes], dtype=float)
    target = total / n_folds
    rng = np.random.default_rng(seed)
    names = sorted(by_subject)
    order = rng.permutation(len(names))
    names = [names[i] for i in order]
    names.sort(key=lambda s: -sum(by_subject[s].values()))  # stable: seeded order within ties
    counts = np.zeros((n_folds, len(classes)))
    out: dict[str, int] = {}
    for k, s in enumerate(names):
        vec = np.array([by_subject[s][c] for c in classes], dtype=float)
        if k < n_folds:  # every fold gets a subject first
            best = k
        else:
            over = np.clip(counts + vec - target, 0, None).sum(axis=1)
            best = int(np.lexsort((counts.sum(axis=1), over))[0])
        counts[best] += vec
        out[s] = best + 1
    return out


def read_fold_table(path: Path) -> dict[str, int]:
    """``subject,fold`` (or the written ``subject,actor,fold``) -> subject -> fold."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: fold table is missing")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if not {"subject", "fold"} <= set(reader.fieldnames or []):
            raise ValueError(f"{path} line 1: expected columns subject,fold")
        out = {}
        for line, r in enumerate(reader, start=2):
            if not (r["fold"] or "").strip().isdigit():
                raise ValueError(f"{path} line {line}, column fold: {r['fold']!r} is not a fold")
            if r["subject"] in out:
                raise ValueError(f"{path} line {line}, column subject: {r['subject']} listed twice")
            out[r["subject"].strip()] = int(r["fold"])
    return out


def write_fold_table(
    path: Path, rows: list[dict], actors: dict[str, int], df: pd.DataFrame
) -> None:
    """The folds used, as ``subject,actor,fold`` (reusable as ``folds:``)."""
    import pandas as pd

    fold_of_actor = dict(zip(df["actor"], df["fold"], strict=False))
    subjects = sorted({r["subject"] for r in rows}, key=lambda s: actors[s])
    table = pd.DataFrame(
        {
            "subject": subjects,
            "actor": [actors[s] for s in subjects],
            "fold": [int(fold_of_actor[actors[s]]) for s in subjects],
        }
    )
    write_csv(table, path)


def from_config(name: str, cfg: dict) -> CustomDataset:
    """The dataset of a ``type: custom`` config entry (reads the manifest's header for folds)."""
    classes = tuple(cfg.get("classes") or ())
    n_folds = int(cfg.get("n_folds") or 5)
    test_folds: tuple[int, ...] = tuple(range(1, n_folds + 1))
    fixed = False
    manifest = cfg.get("manifest")
    if manifest and Path(manifest).is_file():
        with Path(manifest).open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in reader.fieldnames or []]
            if "split" in header:
                test_folds, fixed = (1,), True
            elif "fold" in header:
                values = {(r.get("fold") or "").strip() for r in reader}
                test_folds = tuple(sorted(int(v) for v in values if v.isdigit() and int(v) > 0))
    return CustomDataset(
        name,
        classes,
        display=cfg.get("display_name"),
        test_folds=test_folds,
        fixed_split=fixed,
        licence=cfg.get("licence", ""),
    )

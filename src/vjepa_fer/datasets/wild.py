"""Shared reading of split files for the datasets that publish them (DFEW, FERV39k, MAFW).

Each entry of a split file becomes an :class:`Entry` that remembers its file and line, so every
error names both. :func:`folds_from_splits` turns per-fold test lists (and the matching training
lists, which are cross-checked) into one test fold per video. :func:`locate` finds each listed
video in the chosen copy of the videos (a file or a folder of frames) and counts the rest.
"""

from __future__ import annotations

import argparse
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pandas as pd

from vjepa_fer.datasets.base import Dataset, IndexOptions
from vjepa_fer.io import contained, safe_join

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)
MAX_LISTED = 10


@dataclass(frozen=True)
class Entry:
    """One line of a split file: a video id and its class name (already in the vocabulary)."""

    video: str  # the dataset's own id, e.g. "00001" or "Action/Sad/0010"
    label: str
    source: str  # split file
    line: int  # 1-based line number in that file

    def __post_init__(self) -> None:
        # The id becomes a path under the dataset root: one that leaves it is refused here,
        # naming the split file and line (vjepa_fer.io.contained).
        contained(self.video, source=f"{self.source} line {self.line}")


def first_existing(root: Path, candidates: Iterable[str], what: str) -> Path:
    """The first of ``candidates`` (relative to root) that exists; else FileNotFoundError."""
    tried = list(candidates)
    for rel in tried:
        if (root / rel).exists():
            return root / rel
    raise FileNotFoundError(f"{root}: {what} not found (looked for {', '.join(tried)})")


def folds_from_splits(
    tests: dict[int, list[Entry]], trains: dict[int, list[Entry]]
) -> dict[str, tuple[str, int]]:
    """video -> (label, test fold), checking that the split files agree with each other.

    Every video must be in exactly one test list and carry one label everywhere; a training list
    must not contain a video of its own fold's test list.
    """
    out: dict[str, tuple[str, int]] = {}
    where: dict[str, Entry] = {}
    for fold in sorted(tests):
        for e in tests[fold]:
            if e.video in out:
                first = where[e.video]
                raise ValueError(
                    f"{e.source} line {e.line}: video {e.video} is already in the test list of "
                    f"fold {out[e.video][1]} ({first.source} line {first.line})"
                )
            out[e.video], where[e.video] = (e.label, fold), e
    for fold in sorted(trains):
        for e in trains[fold]:
            if e.video not in out:
                raise ValueError(
                    f"{e.source} line {e.line}: video {e.video} is in no test list of any fold"
                )
            label, test_fold = out[e.video]
            if test_fold == fold:
                raise ValueError(
                    f"{e.source} line {e.line}: video {e.video} is in both the training and the "
                    f"test list of fold {fold}"
                )
            if label != e.label:
                first = where[e.video]
                raise ValueError(
                    f"{e.source} line {e.line}: video {e.video} is labelled {e.label!r} here but "
                    f"{label!r} in {first.source} line {first.line}"
                )
    return out


def locate(
    root: Path,
    videos: Iterable[str],
    path_of: Callable[[str], str],
    *,
    expect_full: bool,
    what: str,
) -> tuple[dict[str, str], Counter]:
    """video -> path relative to root for the listed videos present (file or frame folder).

    A listed video that is absent stops the run with ``expect_full``, else it is logged and
    counted as ignored.
    """
    found, missing = {}, []
    for v in videos:
        rel = path_of(v)
        if safe_join(root, rel, source=f"{what} split files, video {v!r}").exists():
            found[v] = rel
        else:
            missing.append(rel)
    ignored: Counter = Counter()
    if missing:
        shown = ", ".join(missing[:MAX_LISTED]) + (" ..." if len(missing) > MAX_LISTED else "")
        msg = f"{root}: {len(missing)} videos listed in the {what} split files are missing: {shown}"
        if expect_full:
            raise ValueError(f"{msg}\n(set expect_full: false to index a partial copy)")
        logger.warning("%s", msg)
        ignored["listed but missing"] = len(missing)
    return found, ignored


def count_unlisted(folder: Path, listed: set[str], name_of: Callable[[Path], str]) -> int:
    """How many entries directly under ``folder`` are not in ``listed`` (e.g. multi-label clips)."""
    if not folder.is_dir():
        return 0
    return sum(
        1 for p in folder.iterdir() if not p.name.startswith(".") and name_of(p) not in listed
    )


def base_row(video: str, actor: int, label: str, fold: int, trial: str) -> dict:
    """A manifest row for a dataset without actor metadata (sex, age and codes left empty)."""
    return {
        "video": video,
        "actor": actor,
        "label": label,
        "fold": fold,
        "sex": None,
        "age": None,
        "trial": trial,
        "modality": "video",
        "intensity": None,
        "sentence": None,
        "repetition": 1,
    }


class SplitFileDataset(Dataset):
    """A dataset published with split files and several copies of its videos (``variant``)."""

    def pattern(self, opts: IndexOptions) -> str:
        """Path pattern (``{id}`` = clip id) of the chosen copy of the videos."""
        variant = opts.variant or self.variants[0]
        if variant not in self.variant_paths:
            raise ValueError(
                f"{self.name}: unknown variant {variant!r}; choose one of {self.variants}"
            )
        return self.variant_paths[variant]

    def index_options(self, cfg: dict, root: str) -> list[str]:
        return ["--variant", cfg["variant"]] if cfg.get("variant") else []

    # The synthetic generator (datasets/synth_wild.py) asks the module for its layout:
    # frame counts ((usual range), (short range)) and the share of short clips,
    synth_frames: ClassVar[tuple[tuple[int, int], tuple[int, int]]] = ((40, 110), (11, 15))
    synth_short_fraction: ClassVar[float] = 0.05
    # and the variants whose clips all have one length (variant -> frames).
    synth_fixed_frames: ClassVar[dict[str, int]] = {}

    def synth_clip_key(
        self, c: int, k: int, label: str, next_id: int, rng: np.random.Generator
    ) -> tuple[str, int, int]:
        """``(id, test fold, next id)`` of the k-th synthetic clip of class number ``c``: by
        default contiguous 5-digit ids, the folds in turn."""
        return f"{next_id + 1:05d}", 1 + (c + k) % len(self.test_folds), next_id + 1

    def synth_frame_names(self, variant: str, key: str, n: int) -> list[str]:
        """File names of the ``n`` frames of a synthetic clip in a frame-folder variant."""
        raise NotImplementedError(f"{self.name}: no synthetic frame names")

    def synth_split_files(self, clips: list[Any]) -> dict[str, list[str]]:
        """The split files of a synthetic set (``clips``: datasets/synth_wild.py's ``Clip``, with
        ``key``, ``label`` and ``fold``): path relative to the root -> lines."""
        raise NotImplementedError(f"{self.name}: no synthetic split files")

    def add_arguments(self, command: str, parser: argparse._ActionsContainer) -> None:
        if command == "synth":  # the shared generator of the split-file sets
            add = parser.add_argument
            what = "in-the-wild sets: which copy of the videos (datasets/synth_wild.py)"
            add("--variant", help=what)
            add("--clips-per-class", type=int, default=5, help="in-the-wild sets: clips per class")

    def own_options(self, command: str, args: argparse.Namespace) -> dict[str, Any]:
        if command == "synth":
            return {"variant": args.variant, "clips_per_class": args.clips_per_class}
        return {}

    def synth_options(self, cfg: dict) -> list[str]:
        variant = cfg.get("variant") or self.variants[0]
        per_class = str(cfg["synth"]["clips_per_class"])
        return [*super().synth_options(cfg), "--variant", variant, "--clips-per-class", per_class]


def fold_rows(
    root: Path,
    pattern: str,
    found: dict[str, str],
    folds: dict[str, tuple[str, int]],
    ignored: Counter,
) -> tuple[pd.DataFrame, Counter]:
    """Manifest rows of the located videos of a 5-fold split; clips in no split file counted."""
    unlisted = count_unlisted(
        root / Path(pattern).parent, set(found), lambda p: p.name.split(".")[0]
    )
    if unlisted:
        ignored["not single-labelled (in no split file)"] = unlisted
    rows = [
        base_row(rel, int(v), folds[v][0], folds[v][1], rel) for v, rel in sorted(found.items())
    ]
    return pd.DataFrame(rows), ignored


class FiveFoldSplitDataset(SplitFileDataset):
    """A split-file dataset with a test and a training list per fold (DFEW, MAFW): the module
    says where fold k's lists lie and how to read one; the index is the same for all."""

    def split_file(self, root: Path, part: str, fold: int) -> Path:
        """The ``part`` ("test" or "train") list of ``fold`` under ``root``."""
        raise NotImplementedError

    def read_split(self, path: Path) -> list[Entry]:
        """Entries of one split file; errors name the file, line and column."""
        raise NotImplementedError

    def index(self, root: Path, opts: IndexOptions) -> tuple[pd.DataFrame, Counter]:
        lists = {
            part: {k: self.read_split(self.split_file(root, part, k)) for k in self.test_folds}
            for part in ("test", "train")
        }
        folds = folds_from_splits(lists["test"], lists["train"])
        pattern = self.pattern(opts)
        found, ignored = locate(
            root,
            sorted(folds),
            lambda v: pattern.format(id=v),
            expect_full=opts.expect_full,
            what=self.display_name,
        )
        return fold_rows(root, pattern, found, folds, ignored)

"""The interface every dataset module implements, and the dataset card the index stage writes.

A dataset module is a subclass of :class:`Dataset` registered by name (``datasets/__init__.py``).
It says what the dataset is (display name, classes in probe order, folds or a fixed train/test
split, where it comes from and its licence) and how to find its videos (:meth:`Dataset.index`).
Nothing outside the dataset modules asks which dataset it is looking at: everything else reads
these attributes.

Command-line options: a dataset's own options of ``vjepa-fer index``, ``synth`` and ``download``
(RAVDESS's ``--modalities``, CREMA-D's ``--mirror``, ...) are added by its module
(:meth:`Dataset.add_arguments`) and read back by it (:meth:`Dataset.own_options`); the shared
parsers only call :func:`vjepa_fer.datasets.add_dataset_arguments`.

Folds: the manifest's ``fold`` column holds each video's test fold (1..K). A fixed train/test
split is one "fold": test videos have fold 1, training videos fold 0 (never a test fold), so the
probe of fold 1 trains on exactly the training split and is tested on exactly the test split.
"""

from __future__ import annotations

import argparse
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # pandas is imported lazily: the Snakefile imports this package
    from importlib.resources.abc import Traversable  # Python >= 3.11; annotations only

    import pandas as pd

TRAIN_ONLY_FOLD = 0  # fold of the training videos of a fixed train/test split
# The commands whose options a dataset may extend (Dataset.add_arguments).
COMMANDS = ("index", "synth", "download")


def int_list(text: str) -> list[int]:
    """Argparse type of a comma-separated integer list, ``1,2`` -> [1, 2]."""
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers like 1,2, got {text!r}") from None


@dataclass(frozen=True)
class IndexOptions:
    """Everything ``vjepa-fer index`` may pass to a module; each module reads what it needs.

    ``extra`` holds the dataset's own options (:meth:`Dataset.own_options` of "index"), e.g.
    RAVDESS's ``{"modalities": (1, 2)}``; a module reads its keys with its own defaults.
    """

    on_bad_name: str = "error"
    expect_full: bool = False  # split-file datasets: every listed video must be present
    variant: str | None = None  # which copy of the videos (DFEW: clip_224x224, ...)
    classes: tuple[str, ...] = ()  # custom datasets
    manifest: str | None = None  # custom datasets: the CSV manifest
    n_folds: int = 5  # custom datasets without folds
    seed: int = 0
    folds: str | None = None  # a user's fold table (custom: subject,fold)
    folds_out: str | None = None  # where the folds used are written (custom)
    extra: dict[str, Any] = field(default_factory=dict)


class Dataset:
    """One dataset: identity, label space, split, provenance and how to index a local copy."""

    name: ClassVar[str]  # registry key and the `datasets:` key in the config
    display_name: ClassVar[str]  # in tables and figures
    classes: tuple[str, ...] = ()  # probe-index order, names from labels.VOCABULARY
    test_folds: tuple[int, ...] = (1, 2, 3, 4, 5)  # a fixed split: (1,)
    fixed_split: bool = False  # True: fold 1 = test split, fold 0 = training split
    citation: ClassVar[str] = ""
    licence: ClassVar[str] = ""
    url: ClassVar[str] = ""
    downloadable: ClassVar[bool] = False  # `source: download` allowed
    frame_step: ClassVar[int | None] = None  # the published baselines' step (None: the encoder's)
    variants: ClassVar[tuple[str, ...]] = ()  # choices of `variant`, the first is the default
    variant_paths: ClassVar[dict[str, str]] = {}  # variant -> video path pattern, "{id}" = clip
    # Packaged `actor,fold` table in the module's own resources/ folder, e.g.
    # ``packaged(__package__, "folds.csv")`` (vjepa_fer.data.folds; None: folds from index()).
    packaged_folds: ClassVar[Traversable | None] = None
    # Published results on this dataset, quoted beside a run by the in-the-wild table
    # (report/wild.py): a CSV in the module's resources/ folder with the columns method, venue,
    # modality, protocol, uar, war, source, note (percent; blank = not published). None: no table.
    literature: ClassVar[Traversable | None] = None
    # The paper's drop/merge cross-dataset rules (calm dropped / merged) apply between two
    # datasets that both set this (RAVDESS <-> CREMA-D); every pair gets the strict rule.
    paper_cross_rules: ClassVar[bool] = False
    handles_fold_table: ClassVar[bool] = False  # index() applies a user's `folds` table itself
    # The class order of the authors' label map, when it differs from ``classes``: their MV tie
    # priority (lowest index of their map wins; docs/protocol.md, "Voting"). None: ``classes``.
    authors_label_order: ClassVar[tuple[str, ...] | None] = None
    # Module with synth_main(args, **own_options) for `vjepa-fer synth` (own: own_options("synth")).
    synth_module: ClassVar[str | None] = None

    def index(self, root: Path, opts: IndexOptions) -> tuple[pd.DataFrame, Counter]:
        """Rows (video, actor, label[, fold, sex, age, trial, ...]) of a local copy at ``root``.

        ``video`` is relative to root, "/"-separated (a file or a folder of frames). A ``fold``
        column, when returned, overrides the actor fold table. Files that are not videos of the
        dataset are counted in the returned Counter, never silently dropped.
        """
        raise NotImplementedError

    def video_key(self, video: str) -> str:
        """What names a video in `exclude` lists and must be unique: its path by default."""
        return video

    def expected_names(self, opts: IndexOptions) -> set[str] | None:
        """File names of the complete published dataset (for `expect_full`); None = unknown."""
        return None

    def published_rows(self) -> list[dict] | None:
        """video, actor, label, trial of every video of the complete published dataset, from
        packaged name lists (compute estimates without data); None = no such list."""
        names = self.expected_names(IndexOptions())
        return None if names is None else [self.published_row(n) for n in sorted(names)]

    def published_row(self, name: str) -> dict:
        """The row of :meth:`published_rows` for one file name of :meth:`expected_names`."""
        raise NotImplementedError

    def actor_of_name(self, name: str) -> int:
        """Actor of a file name from :meth:`expected_names` (lists missing actors first)."""
        raise NotImplementedError

    def add_arguments(self, command: str, parser: argparse._ActionsContainer) -> None:
        """Add this dataset's own options of ``vjepa-fer <command>`` (one of :data:`COMMANDS`) to
        ``parser``, an argument group titled after the dataset
        (:func:`vjepa_fer.datasets.add_dataset_arguments`). Every built-in dataset's options are
        on the command's parser whichever ``--dataset`` is given, so a flag must not repeat one
        of the command's own or another dataset's. Default: none."""

    def own_options(self, command: str, args: argparse.Namespace) -> dict[str, Any]:
        """The values of this dataset's own options of ``command`` in ``args``: they reach
        :meth:`index` as ``IndexOptions.extra``, ``synth_main(args, **own)`` and
        :meth:`download` as keyword arguments. Default: none."""
        return {}

    def index_options(self, cfg: dict, root: str) -> list[str]:
        """Extra `vjepa-fer index` flags from this dataset's config block (Snakefile)."""
        return []

    def synth_options(self, cfg: dict) -> list[str]:
        """`vjepa-fer synth` flags from this dataset's `synth` config block (Snakefile)."""
        s = cfg.get("synth", {})
        return ["--actors", str(s["actors"]), "--size", f"{s['width']}x{s['height']}"]

    def download_options(self, download: dict, cfg: dict) -> list[str]:
        """Dataset-specific `vjepa-fer download` flags from the `download:` block (Snakefile)."""
        return []

    def download(self, args: argparse.Namespace, common: dict[str, Any], **own: Any) -> None:
        """Fetch and verify this dataset under ``args.root`` (``vjepa-fer download``);
        ``common`` holds retries, timeout and progress, ``own`` this dataset's own options
        (:meth:`own_options` of "download"). Only for ``downloadable`` datasets."""
        raise ValueError(
            f"{self.name}: {self.display_name} cannot be downloaded (licence: {self.licence}); "
            "use a local copy (source: local, root: ...)"
        )

    def card(self) -> dict:
        """What later stages need to know without the config: written beside the manifest."""
        return {
            "name": self.name,
            "display_name": self.display_name,
            "classes": list(self.classes),
            "test_folds": list(self.test_folds),
            "fixed_split": self.fixed_split,
            "citation": self.citation,
            "licence": self.licence,
        }


class CardDataset(Dataset):
    """A dataset known only from its card (a custom dataset seen by a later stage)."""

    def __init__(self, card: dict) -> None:
        self.name = card["name"]  # type: ignore[misc]
        self.display_name = card.get("display_name") or card["name"]  # type: ignore[misc]
        self.classes = tuple(card["classes"])
        self.test_folds = tuple(int(f) for f in card["test_folds"])
        self.fixed_split = bool(card.get("fixed_split", False))
        self.citation = card.get("citation", "")  # type: ignore[misc]
        self.licence = card.get("licence", "")  # type: ignore[misc]


def read_card(path: str | os.PathLike[str]) -> dict:
    """A dataset card written by ``vjepa-fer index``; ValueError naming the file if malformed."""
    try:
        card = json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not a JSON dataset card ({exc})") from None
    missing = {"name", "classes", "test_folds"} - set(card)
    if missing:
        raise ValueError(f"{path}: dataset card lacks {sorted(missing)}")
    return card

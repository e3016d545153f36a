"""Index a dataset from its file names: one manifest row per video, with its fold.

Stage ``vjepa-fer index`` (rule ``index`` in workflow/rules/data.smk). No video is decoded here.
The dataset's module (vjepa_fer.datasets) finds its videos: RAVDESS and CREMA-D from the
published naming schemes (datasets/ravdess/naming.py, datasets/cremad/naming.py) with the
paper's folds (datasets/folds.py), DFEW / FERV39k / MAFW from their split files, custom datasets
from a CSV. The index also writes the dataset card (classes, folds) later stages read, and the
folds it used. A dataset's own options (RAVDESS's ``--modalities``, CREMA-D's ``--demographics``)
are added by its module (``Dataset.add_arguments``) and reach its ``index()`` as
``IndexOptions.extra``.

    vjepa-fer index --dataset ravdess --root /data/RAVDESS --out results/ravdess/manifest.csv
"""

from __future__ import annotations

import argparse
import json
import logging
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pandas as pd

from vjepa_fer import schema
from vjepa_fer.data.folds import assign_folds
from vjepa_fer.data.validate import check_folds
from vjepa_fer.datasets import Dataset, IndexOptions, add_dataset_arguments, resolve
from vjepa_fer.datasets.folds import load_folds
from vjepa_fer.io import atomic_open, write_csv

logger = logging.getLogger(__name__)

MANIFEST_COLUMNS = [
    "video",  # path relative to the dataset root, "/"-separated
    "dataset",
    "actor",
    "label",
    "fold",
    "sex",
    "age",
    "trial",  # recording id: RAVDESS modality 01 and 02 of one take share it
    "modality",
    "intensity",
    "sentence",
    "repetition",
]
MAX_LISTED = 25  # how many missing names an error message spells out


def expected_names(dataset: str, options: IndexOptions | None = None) -> set[str]:
    """File names (no folders) of the complete published dataset (as ``options`` select it)."""
    names = resolve(dataset).expected_names(options or IndexOptions())
    if names is None:
        raise ValueError(f"{dataset}: no packaged list of the published dataset's files")
    return names


def check_complete(df: pd.DataFrame, dataset: str, root: Path, expected: set[str]) -> None:
    """ValueError listing what is missing (actors first) when the dataset is incomplete."""
    have = {Path(v).name for v in df["video"]} if len(df) else set()
    missing = sorted(expected - have)
    extra = sorted(have - expected)
    if not missing and not extra:
        return
    lines = [f"{dataset} at {root}: expected {len(expected)} videos, found {len(have)}"]
    if missing:
        actor_of = resolve(dataset).actor_of_name
        by_actor = Counter(actor_of(name) for name in missing)
        per_actor = Counter(actor_of(name) for name in expected)
        complete_gap = sorted(a for a, k in by_actor.items() if k == per_actor[a])
        if complete_gap:
            lines.append(f"actors missing entirely: {complete_gap}")
        # Whole missing actors are named once; only the files of partly present actors are listed.
        partial = [m for m in missing if actor_of(m) not in complete_gap]
        lines.append(f"missing {len(missing)} files")
        if partial:
            shown = ", ".join(partial[:MAX_LISTED])
            more = f" ... and {len(partial) - MAX_LISTED} more" if len(partial) > MAX_LISTED else ""
            lines.append(f"missing files of actors present: {shown}{more}")
    if extra:
        lines.append(
            f"{len(extra)} files not in the published list: {', '.join(extra[:MAX_LISTED])}"
        )
    lines.append("(set expect_full: false in the config to index a partial copy)")
    raise ValueError("\n".join(lines))


def build_manifest(
    dataset: str,
    root: str | Path,
    *,
    expect_full: bool = False,
    exclude: tuple[str, ...] = (),
    folds: str | Path | None = None,
    on_bad_name: str = "error",
    options: IndexOptions | None = None,
    custom: dict | None = None,
    check_fold_coverage: bool = True,
) -> tuple[pd.DataFrame, dict]:
    """Manifest of ``dataset`` under ``root`` and a report of what was counted, ignored, dropped.

    ``check_fold_coverage`` stops unless every test fold holds every class (data/validate.py).

    The dataset's module (vjepa_fer.datasets) finds and parses the videos; ``options`` carries
    what only some modules read (variant, custom manifest, seed, and in ``extra`` the dataset's
    own options such as RAVDESS's ``modalities``); ``custom`` is the config entry of a dataset
    that is not built in (``type: custom``).
    """
    root = Path(root)
    ds = resolve(dataset, custom)  # unknown dataset -> clear error
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: dataset root of {dataset} does not exist")
    opts = replace(
        options or IndexOptions(),
        on_bad_name=on_bad_name,
        expect_full=expect_full,
        folds=None if folds is None else str(folds),
    )
    df, ignored = ds.index(root, opts)
    if df.empty:
        raise ValueError(f"{root}: no {dataset} videos found")
    dupes = df.loc[df["video"].map(ds.video_key).duplicated(keep=False), "video"]
    if len(dupes):
        raise ValueError(f"{root}: the same video name appears twice: {sorted(dupes)[:MAX_LISTED]}")
    excluded = sorted(set(exclude) & set(df["video"].map(ds.video_key)))
    unknown_excl = sorted(set(exclude) - set(df["video"].map(ds.video_key)))
    if unknown_excl:
        logger.warning("exclude list names videos that are not present: %s", unknown_excl)
    published = ds.expected_names(opts) if expect_full else None
    if published is not None:
        full = published - set(exclude)
        check_complete(df[~df["video"].map(ds.video_key).isin(excluded)], dataset, root, full)
    df = df[~df["video"].map(ds.video_key).isin(excluded)].copy()
    df.insert(1, "dataset", dataset)
    test_folds = ds.test_folds
    if "fold" not in df.columns or (folds and not ds.handles_fold_table):
        fold_source = str(folds) if folds else f"packaged {dataset} folds"
        fold_table = load_folds(dataset, folds)
        df["fold"] = assign_folds(df["actor"], fold_table, fold_source)
        test_folds = tuple(sorted(set(fold_table.values())))
    if check_fold_coverage:
        check_folds(df, dataset, test_folds)
    df = df[MANIFEST_COLUMNS].sort_values("video", kind="stable").reset_index(drop=True)
    report = {
        "dataset": dataset,
        "root": str(root),
        "videos": len(df),
        "actors": int(df["actor"].nunique()),
        "per_label": {k: int(v) for k, v in df["label"].value_counts().sort_index().items()},
        "per_fold": {int(k): int(v) for k, v in df["fold"].value_counts().sort_index().items()},
        "ignored": dict(ignored),
        "excluded": excluded,
        "exclude_not_found": unknown_excl,
        "expect_full": expect_full,
    }
    return df, report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dataset", required=True, help="dataset name in the registry (vjepa_fer.datasets)"
    )
    parser.add_argument("--root", required=True, type=Path, help="dataset root folder")
    parser.add_argument("--out", required=True, type=Path, help="manifest CSV to write")
    parser.add_argument("--report", type=Path, help="JSON report of counts and ignored files")
    parser.add_argument("--expect-full", action="store_true", help="fail unless complete")
    parser.add_argument("--exclude", nargs="*", default=[], help="video file names to drop")
    parser.add_argument("--folds", type=Path, help="actor,fold CSV (default: the paper's)")
    parser.add_argument(
        "--on-bad-name",
        choices=["error", "skip"],
        default="error",
        help="a file whose name does not parse: stop, or skip it and count it",
    )
    parser.add_argument("--variant", help="which copy of the videos (DFEW: clip_224x224, ...)")
    parser.add_argument("--custom", help="JSON config entry of a `type: custom` dataset")
    parser.add_argument(
        "--seed", type=int, default=schema.default("seed"), help="seed of generated folds (custom)"
    )
    parser.add_argument("--card", type=Path, help="dataset card JSON for later stages")
    parser.add_argument("--folds-out", type=Path, help="write the folds used (custom datasets)")
    add_dataset_arguments("index", parser)  # each dataset's own, e.g. RAVDESS's --modalities


def run(args: argparse.Namespace) -> int:
    custom = json.loads(args.custom) if args.custom else None
    ds = resolve(args.dataset, custom)
    df, report = build_manifest(
        args.dataset,
        args.root,
        expect_full=args.expect_full,
        exclude=tuple(args.exclude),
        folds=args.folds,
        on_bad_name=args.on_bad_name,
        options=_options(args, ds),
        custom=custom,
    )
    write_csv(df, args.out)
    if args.card:
        with atomic_open(args.card) as fh:
            json.dump(ds.card(), fh, indent=2)
    if args.folds_out and not ds.handles_fold_table:
        # The folds this run used, as an actor,fold table that `folds:` accepts (a custom
        # dataset's module writes its own subject,actor,fold table).
        table = df[["actor", "fold"]].drop_duplicates().sort_values("actor", kind="stable")
        write_csv(table, args.folds_out)
    if args.report:
        with atomic_open(args.report) as fh:
            json.dump(report, fh, indent=2)
    logger.info("%s: %d videos, %d actors -> %s", args.dataset, len(df), report["actors"], args.out)
    return 0


def _options(args: argparse.Namespace, ds: Dataset) -> IndexOptions:
    """The shared options of the command line, and in ``extra`` the dataset's own."""
    custom = json.loads(args.custom) if args.custom else {}
    return IndexOptions(
        extra=ds.own_options("index", args),
        variant=args.variant,
        manifest=custom.get("manifest"),
        n_folds=int(custom.get("n_folds") or 5),
        seed=args.seed,
        folds_out=None if args.folds_out is None else str(args.folds_out),
    )

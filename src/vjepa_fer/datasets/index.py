"""Index a dataset from its file names: one manifest row per video, with its fold.

Stage ``vjepa-fer index`` (rule ``index`` in workflow/rules/data.smk). No video is decoded here.
The dataset's module (vjepa_fer.datasets) finds its videos: RAVDESS and CREMA-D from the
published naming schemes (data/naming.py, the walks below) with the paper's folds
(data/folds.py), DFEW / FERV39k / MAFW from their split files, custom datasets from a CSV. The
index also writes the dataset card (classes, folds) later stages read, and the folds it used.

    vjepa-fer index --dataset ravdess --root /data/RAVDESS --out results/ravdess/manifest.csv
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pandas as pd

from vjepa_fer import schema
from vjepa_fer.data import naming
from vjepa_fer.data.folds import assign_folds, packaged_resource
from vjepa_fer.data.validate import check_folds
from vjepa_fer.datasets import IndexOptions, resolve
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
RAVDESS_FULL = 2880  # 24 actors x 60 speech trials x 2 modalities
CREMAD_FULL = 7442
MAX_LISTED = 25  # how many missing names an error message spells out


def _walk(root: Path, suffix: str) -> tuple[list[str], Counter]:
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


def _reject_bad(path: str, exc: Exception, on_bad_name: str, ignored: Counter) -> None:
    if on_bad_name == "error":
        raise exc
    logger.warning("skipping %s", exc)
    ignored["malformed name"] += 1


def index_ravdess(
    root: Path, modalities: tuple[int, ...] = (1, 2), on_bad_name: str = "error"
) -> tuple[pd.DataFrame, Counter]:
    """Rows for RAVDESS speech videos; song and unselected modalities are ignored (counted)."""
    files, ignored = _walk(root, ".mp4")
    rows = []
    for rel in files:
        try:
            n = naming.parse_ravdess(root / rel)
        except naming.NameError_ as exc:
            _reject_bad(rel, exc, on_bad_name, ignored)
            continue
        parent = Path(rel).parent.name
        if parent.startswith("Actor_") and parent != f"Actor_{n.actor:02d}":
            raise ValueError(f"{root / rel}: file of actor {n.actor:02d} lies in folder {parent}")
        if n.vocal_channel != 1:
            ignored["song"] += 1
            continue
        if n.modality not in modalities:
            ignored[f"modality {n.modality:02d} not selected"] += 1
            continue
        rows.append(
            {
                "video": rel,
                "actor": n.actor,
                "label": n.label,
                "sex": n.sex,
                "age": pd.NA,
                "trial": n.trial,
                "modality": naming.RAVDESS_MODALITIES[n.modality],
                "intensity": naming.RAVDESS_INTENSITIES[n.intensity],
                "sentence": f"statement{n.statement:02d}",
                "repetition": n.repetition,
            }
        )
    return pd.DataFrame(rows), ignored


def load_demographics(path: str | Path | None) -> pd.DataFrame:
    """CREMA-D demographics (ActorID, Age, Sex, ...); the packaged copy when ``path`` is None."""
    src = "<package>/resources/crema-d/VideoDemographics.csv" if path is None else str(path)
    text = packaged_resource("crema-d/VideoDemographics.csv") if path is None else None
    df = pd.read_csv(io.StringIO(text) if text is not None else path)
    missing = {"ActorID", "Age", "Sex"} - set(df.columns)
    if missing:
        raise ValueError(f"{src}: demographics table lacks columns {sorted(missing)}")
    return df.set_index("ActorID")


def index_cremad(
    root: Path, demographics: pd.DataFrame, on_bad_name: str = "error"
) -> tuple[pd.DataFrame, Counter]:
    """Rows for every CREMA-D video under VideoFlash/."""
    flash = root / "VideoFlash"
    if not flash.is_dir():
        raise FileNotFoundError(f"{flash}: CREMA-D videos are expected in a VideoFlash/ folder")
    files, ignored = _walk(flash, ".flv")
    rows = []
    for rel in files:
        try:
            n = naming.parse_cremad(flash / rel)
        except naming.NameError_ as exc:
            _reject_bad(rel, exc, on_bad_name, ignored)
            continue
        if n.actor not in demographics.index:
            raise ValueError(f"{flash / rel}: actor {n.actor} is not in the demographics table")
        person = demographics.loc[n.actor]
        rows.append(
            {
                "video": f"VideoFlash/{rel}",
                "actor": n.actor,
                "label": n.label,
                "sex": str(person["Sex"]).lower(),
                "age": int(person["Age"]),
                "trial": n.stem,
                "modality": "audio-video",
                "intensity": naming.CREMAD_LEVELS[n.level],
                "sentence": n.sentence,
                "repetition": 1,
            }
        )
    return pd.DataFrame(rows), ignored


def expected_names(dataset: str, modalities: tuple[int, ...] = (1, 2)) -> set[str]:
    """File names (no folders) of the complete published dataset."""
    names = resolve(dataset).expected_names(IndexOptions(modalities=modalities))
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
    modalities: tuple[int, ...] = (1, 2),
    expect_full: bool = False,
    exclude: tuple[str, ...] = (),
    folds: str | Path | None = None,
    demographics: str | Path | None = None,
    on_bad_name: str = "error",
    options: IndexOptions | None = None,
    custom: dict | None = None,
    check_fold_coverage: bool = True,
) -> tuple[pd.DataFrame, dict]:
    """Manifest of ``dataset`` under ``root`` and a report of what was counted, ignored, dropped.

    ``check_fold_coverage`` stops unless every test fold holds every class (data/validate.py).

    The dataset's module (vjepa_fer.datasets) finds and parses the videos; ``options`` carries
    what only some modules read (variant, custom manifest, seed); ``custom`` is the config entry
    of a dataset that is not built in (``type: custom``).
    """
    root = Path(root)
    ds = resolve(dataset, custom)  # unknown dataset -> clear error
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: dataset root of {dataset} does not exist")
    opts = replace(
        options or IndexOptions(),
        modalities=modalities,
        on_bad_name=on_bad_name,
        demographics=None if demographics is None else str(demographics),
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
    parser.add_argument(
        "--modalities",
        type=int,
        nargs="+",
        default=[1, 2],
        choices=[1, 2],
        help="RAVDESS modalities kept: 1 audio-video, 2 video-only (the paper: both)",
    )
    parser.add_argument("--expect-full", action="store_true", help="fail unless complete")
    parser.add_argument("--exclude", nargs="*", default=[], help="video file names to drop")
    parser.add_argument("--folds", type=Path, help="actor,fold CSV (default: the paper's)")
    parser.add_argument("--demographics", type=Path, help="CREMA-D VideoDemographics.csv")
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


def run(args: argparse.Namespace) -> int:
    df, report = build_manifest(
        args.dataset,
        args.root,
        modalities=tuple(args.modalities),
        expect_full=args.expect_full,
        exclude=tuple(args.exclude),
        folds=args.folds,
        demographics=args.demographics,
        on_bad_name=args.on_bad_name,
        options=_options(args),
        custom=json.loads(args.custom) if args.custom else None,
    )
    write_csv(df, args.out)
    ds = resolve(args.dataset, json.loads(args.custom) if args.custom else None)
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


def _options(args: argparse.Namespace) -> IndexOptions:
    custom = json.loads(args.custom) if args.custom else {}
    return IndexOptions(
        variant=args.variant,
        manifest=custom.get("manifest"),
        n_folds=int(custom.get("n_folds") or 5),
        seed=args.seed,
        folds_out=None if args.folds_out is None else str(args.folds_out),
    )

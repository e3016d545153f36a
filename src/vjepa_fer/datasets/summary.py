"""Per-fold summary of a manifest: videos, actors, classes, and sex/age where known.

Stage ``vjepa-fer summary`` (rule ``fold_summary``). For CREMA-D the sex and age columns are the
data behind the paper's Fig. 6 (female actors are under-represented in fold 3).

    vjepa-fer summary --manifest results/crema-d/manifest.csv --out results/crema-d/folds.csv
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pandas as pd

from vjepa_fer.datasets import labels_for, load_cards
from vjepa_fer.io import atomic_open, write_csv
from vjepa_fer.text import markdown_escape

logger = logging.getLogger(__name__)


def fold_summary(manifest: pd.DataFrame) -> pd.DataFrame:
    """One row per fold plus a final ``all`` row."""
    dataset = manifest["dataset"].iloc[0]
    classes = [c for c in labels_for(dataset) if c in set(manifest["label"])]

    def describe(part: pd.DataFrame, fold: str) -> dict:
        row: dict = {
            "fold": fold,
            "videos": len(part),
            "actors": part["actor"].nunique(),
            "actor_ids": " ".join(str(a) for a in sorted(part["actor"].unique())),
        }
        for c in classes:
            row[c] = int((part["label"] == c).sum())
        people = part.drop_duplicates("actor")
        row["male_actors"] = int((people["sex"] == "male").sum())
        row["female_actors"] = int((people["sex"] == "female").sum())
        ages = pd.to_numeric(people["age"], errors="coerce").dropna()
        row["age_mean"] = round(float(ages.mean()), 1) if len(ages) else None
        row["age_min"] = int(ages.min()) if len(ages) else None
        row["age_max"] = int(ages.max()) if len(ages) else None
        return row

    rows = [describe(part, str(f)) for f, part in manifest.groupby("fold", sort=True)]
    rows.append(describe(manifest, "all"))
    return pd.DataFrame(rows)


def to_markdown(df: pd.DataFrame, title: str) -> str:
    """A GitHub-flavoured Markdown table (no tabulate dependency)."""
    cols = [c for c in df.columns if c != "actor_ids"]
    fmt = lambda v: "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v)  # noqa: E731
    head = "| " + " | ".join(markdown_escape(c) for c in cols) + " |"
    lines = [f"# {markdown_escape(title)}", "", head, "|" + "---|" * len(cols)]
    lines += [
        "| " + " | ".join(markdown_escape(fmt(r[c])) for c in cols) + " |" for _, r in df.iterrows()
    ]
    return "\n".join(lines) + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--manifest", required=True, type=Path, help="manifest CSV written by vjepa-fer index"
    )
    parser.add_argument("--out", required=True, type=Path, help="CSV, one row per fold")
    parser.add_argument("--markdown", type=Path, help="also write a Markdown table")


def run(args: argparse.Namespace) -> int:
    load_cards(Path(args.manifest).parent.parent)  # a custom dataset's classes, beside its manifest
    manifest = pd.read_csv(args.manifest)
    if manifest.empty:
        raise ValueError(f"{args.manifest}: manifest has no rows")
    summary = fold_summary(manifest)
    write_csv(summary, args.out)
    if args.markdown:
        title = f"{manifest['dataset'].iloc[0]}: videos, actors and classes per fold"
        with atomic_open(args.markdown) as fh:
            fh.write(to_markdown(summary, title))
    logger.info("fold summary -> %s", args.out)
    return 0

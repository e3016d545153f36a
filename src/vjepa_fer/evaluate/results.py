"""Stage ``vjepa-fer evaluate``: every number of Tables II and IV from the saved posteriors.

Reads the per-clip posterior CSVs written by ``vjepa-fer infer`` (one per probe × evaluation
dataset), votes per video (PBV and MV), and computes per fold: true UAR, WAR and the
paper-compatible UAR (macro precision); for other-dataset probes the cross-dataset rules (calm
dropped, calm merged, and the strict no-drop variant) with the number of videos each dropped.
Writes tidy tables and confusion matrices ([label, prediction], as scikit-learn):

- ``per_fold.csv``: one row per probe × test dataset × voting × rule
- ``table2.csv`` / ``table4.csv``: mean ± std over folds (ddof configurable, default 0)
- ``confusion/<probe>_on_<test>_<voting>_<rule>.csv`` and fold averages ``..._mean.csv``
- ``videos/<probe>_on_<test>.csv``: per-video votes

    vjepa-fer evaluate --posteriors results/posteriors --out results/metrics
"""

from __future__ import annotations

import argparse
import logging
import re
from pathlib import Path

import pandas as pd

from vjepa_fer.io import write_csv
from vjepa_fer.labels import labels_for

logger = logging.getLogger(__name__)

# <train dataset>-fold<k>-<variant>; dataset names may hold "-" (crema-d), so the shortest match.
NAME = re.compile(r"^(?P<train>[\w.-]+?)-fold(?P<fold>\d+)-(?P<variant>[\w.-]+)$")
VOTINGS = ("pbv", "mv")
METRICS = ("uar", "paper_uar", "war")


def probe_outputs(posteriors: pd.DataFrame) -> list[str]:
    return [c[2:] for c in posteriors.columns if c.startswith("p_")]


def same_dataset(videos: pd.DataFrame, dataset: str, voting: str):  # noqa: ANN201
    """Labels, predictions and classes of a probe on its own held-out fold."""
    classes = list(labels_for(dataset))
    preds = videos[voting]
    # The authors' 8-output CREMA-D head can predict an unused output: it counts as an error.
    classes += sorted(set(preds) - set(classes))
    return videos["label"], preds, classes, {}


def evaluate_videos(videos: pd.DataFrame, train: str, test: str, *, mv_tie: str):  # noqa: ANN201
    """Yield (voting, rule, labels, preds, classes, dropped) for one probe's voted videos."""
    from vjepa_fer.datasets import get_dataset
    from vjepa_fer.evaluate.cross import cross_dataset, probe_classes

    rules = [("strict", {"strict": True})]
    if train != test:
        if not set(probe_classes(videos)) & set(labels_for(test)):
            logger.info("%s -> %s: no shared classes, no cross-dataset numbers", train, test)
            return
        # The authors' drop/merge rules exist for the pair they were written for; every pair
        # gets the strict rule.
        if get_dataset(train).paper_cross_rules and get_dataset(test).paper_cross_rules:
            rules = [("drop", {"calm": "drop"}), ("merge", {"calm": "merge"}), *rules]
    for voting in VOTINGS:
        if train == test:
            yield (voting, "same", *same_dataset(videos, test, voting))
            continue
        for rule, kw in rules:
            res = cross_dataset(videos, train, test, voting=voting, mv_tie=mv_tie, **kw)
            yield (voting, rule, res.labels, res.preds, res.classes, res.dropped)


def evaluate_all(posterior_dir: Path, out: Path, *, mv_tie: str = "lowest", ddof: int = 0) -> dict:
    """Compute and write every table; returns the Table II / IV frames."""
    from vjepa_fer.datasets import load_cards
    from vjepa_fer.evaluate.metrics import (
        average_confusions,
        confusion,
        metrics_from_predictions,
        summarize_folds,
        write_confusion,
    )
    from vjepa_fer.evaluate.voting import vote

    load_cards(Path(posterior_dir).parent)  # custom datasets' classes: results/<name>/dataset.json
    rows, matrices = [], {}
    files = sorted(posterior_dir.glob("*/*.csv"))
    # A probe's name starts with its training dataset, which is also evaluated (a folder here);
    # anything else (the PCA figure's pca-<probe>.csv) is not a posterior table.
    tested = {p.name for p in posterior_dir.iterdir() if p.is_dir()}
    files = [f for f in files if (m := NAME.match(f.stem)) and m["train"] in tested]
    if not files:
        raise FileNotFoundError(f"{posterior_dir}: no posterior tables (<test>/<probe>.csv)")
    for path in files:
        test, m = path.parent.name, NAME.match(path.stem)
        train, fold, variant = m["train"], int(m["fold"]), m["variant"]
        posteriors = pd.read_csv(path)
        videos = vote(posteriors, probe_outputs(posteriors), mv_tie=mv_tie)
        for voting, rule, labels, preds, classes, dropped in evaluate_videos(
            videos, train, test, mv_tie=mv_tie
        ):
            scores = metrics_from_predictions(list(labels), list(preds), classes)
            row = {
                "train": train,
                "test": test,
                "variant": variant,
                "fold": fold,
                "voting": voting,
                "rule": rule,
                "videos": int(scores["n"]),
                **{k: scores[k] for k in METRICS},
                "dropped": int(sum(dropped.values())),
                **{f"dropped_{k}": v for k, v in dropped.items()},
                **{f"recall_{c}": v for c, v in scores["recall"].items()},
            }
            rows.append(row)
            cm = confusion(list(labels), list(preds), classes)
            key = f"{train}-{variant}_on_{test}_{voting}_{rule}"
            matrices.setdefault(key, []).append(cm)
            name = f"{train}-fold{fold}-{variant}_on_{test}_{voting}_{rule}.csv"
            write_confusion(cm, out / "confusion" / name)
        write_csv(videos, out / "videos" / f"{path.stem}_on_{test}.csv")
    for key, cms in matrices.items():
        write_confusion(average_confusions(cms), out / "confusion" / f"{key}_mean.csv")
    per_fold = pd.DataFrame(rows).sort_values(
        ["train", "test", "variant", "voting", "rule", "fold"]
    )
    write_csv(per_fold, out / "per_fold.csv")
    summary = []
    for keys, part in per_fold.groupby(["train", "test", "variant", "voting", "rule"], sort=True):
        stats = summarize_folds(part[["fold", *METRICS, "videos", "dropped"]], ddof=ddof)
        row = dict(zip(["train", "test", "variant", "voting", "rule"], keys, strict=True))
        row["folds"] = len(part)
        for metric in (*METRICS, "videos", "dropped"):
            row[f"{metric}_mean"] = stats.loc[metric, "mean"]
            row[f"{metric}_std"] = stats.loc[metric, "std"]
        summary.append(row)
    summary = pd.DataFrame(summary)
    table2 = summary[summary["train"] == summary["test"]].reset_index(drop=True)
    table4 = summary[summary["train"] != summary["test"]].reset_index(drop=True)
    write_csv(table2, out / "table2.csv")
    write_csv(table4, out / "table4.csv")
    return {"per_fold": per_fold, "table2": table2, "table4": table4}


def format_table(df: pd.DataFrame, rule_col: bool) -> str:
    """A plain-text table for logs and the terminal."""
    lines = []
    for _, r in df.iterrows():
        head = f"{r['train']:>8} -> {r['test']:<8} {r['variant']:<8} {r['voting'].upper():<3}"
        if rule_col:
            head += f" {r['rule']:<6} dropped {r['dropped_mean']:7.1f}"
        vals = "  ".join(f"{m} {r[f'{m}_mean']:6.2f} ± {r[f'{m}_std']:5.2f}" for m in METRICS)
        lines.append(f"{head}  {vals}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--posteriors",
        required=True,
        type=Path,
        help="folder holding <test dataset>/<probe>.csv posterior tables",
    )
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--mv-tie", choices=["lowest", "posterior"], default="lowest")
    parser.add_argument("--std-ddof", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    tables = evaluate_all(args.posteriors, args.out, mv_tie=args.mv_tie, ddof=args.std_ddof)
    print("Table II (same dataset, mean ± std over folds; paper_uar = macro precision)")
    print(format_table(tables["table2"], rule_col=False))
    if len(tables["table4"]):
        print(
            "\nTable IV (cross-dataset; rule drop / merge = calm merged / strict = nothing dropped)"
        )
        print(format_table(tables["table4"], rule_col=True))
    return 0

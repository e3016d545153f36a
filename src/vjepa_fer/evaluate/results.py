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
- ``voting_tests.csv``: PBV against MV per dataset on the same videos (paired bootstrap of each
  metric's difference, McNemar exact and mid-p on per-video correctness), with p-values

Every mean in ``table2.csv`` / ``table4.csv`` carries a bootstrap interval
(``<metric>_ci_low`` / ``<metric>_ci_high``; videos resampled within folds, seeded, see
:mod:`vjepa_fer.evaluate.stats`).

It reads exactly the posterior tables its inputs name: the ``done.json`` of each inference job
(``--done``, what the workflow passes: the current configuration's probes and datasets only), or
every table of a folder (``--posteriors``, for hand use). The ``confusion/`` and ``videos/`` folders
are emptied before writing, so the outputs describe this run only.

    vjepa-fer evaluate --done results/posteriors/*/done.json --out results/metrics \\
        --bootstrap-samples 1000 --seed 0
"""

from __future__ import annotations

import argparse
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from vjepa_fer import schema
from vjepa_fer.datasets import get_dataset, labels_for, load_cards
from vjepa_fer.evaluate.cross import cross_dataset, probe_classes
from vjepa_fer.evaluate.metrics import (
    average_confusions,
    confusion,
    metrics_from_predictions,
    summarize_folds,
    write_confusion,
)
from vjepa_fer.evaluate.stats import METRICS as STAT_METRICS
from vjepa_fer.evaluate.stats import (
    Decisions,
    add_bootstrap_arguments,
    interval,
    mcnemar,
    paired_bootstrap,
    replicates,
)
from vjepa_fer.evaluate.voting import authors_tie_order, vote
from vjepa_fer.io import write_csv

logger = logging.getLogger(__name__)

# <train dataset>-fold<k>-<variant>; dataset names may hold "-" (crema-d), so the shortest match.
NAME = re.compile(r"^(?P<train>[\w.-]+?)-fold(?P<fold>\d+)-(?P<variant>[\w.-]+)$")
VOTINGS = ("pbv", "mv")
METRICS = ("uar", "paper_uar", "war")


def probe_outputs(posteriors: pd.DataFrame) -> list[str]:
    return [c[2:] for c in posteriors.columns if c.startswith("p_")]


def same_dataset(videos: pd.DataFrame, dataset: str, voting: str):
    """Labels, predictions and classes of a probe on its own held-out fold."""
    classes = list(labels_for(dataset))
    preds = videos[voting]
    # The authors' 8-output CREMA-D head can predict an unused output: it counts as an error.
    classes += sorted(set(preds) - set(classes))
    return videos["label"], preds, classes, {}


def evaluate_videos(
    videos: pd.DataFrame, train: str, test: str, *, mv_tie: str, tie_order: list[str] | None = None
) -> Iterator[tuple]:
    """Yield (voting, rule, labels, preds, classes, dropped) for one probe's voted videos."""
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
            res = cross_dataset(
                videos, train, test, voting=voting, mv_tie=mv_tie, tie_order=tie_order, **kw
            )
            yield (voting, rule, res.labels, res.preds, res.classes, res.dropped)


KEYS = ["train", "test", "variant", "voting", "rule"]


def posterior_files(posterior_dir: Path) -> list[tuple[str, Path]]:
    """(test dataset, table) for every ``<test>/<train>-fold<k>-<variant>.csv`` of a folder."""
    # A probe's name starts with its training dataset, which is also evaluated (a folder here);
    # anything else (the PCA figure's pca-<probe>.csv) is not a posterior table.
    tested = {p.name for p in Path(posterior_dir).iterdir() if p.is_dir()}
    files = [
        f
        for f in sorted(Path(posterior_dir).glob("*/*.csv"))
        if (m := NAME.match(f.stem)) and m["train"] in tested
    ]
    if not files:
        raise FileNotFoundError(f"{posterior_dir}: no posterior tables (<test>/<probe>.csv)")
    return [(f.parent.name, f) for f in files]


def posterior_tables(done: list[Path]) -> list[tuple[str, Path]]:
    """(test dataset, posterior CSV) named by inference ``done.json`` files, in a stable order."""
    tables = []
    for path in done:
        try:
            info = json.loads(Path(path).read_text())
            test, files = info["dataset"], info["posteriors"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: not an inference summary ({exc})") from exc
        for name in sorted(files):
            csv = Path(files[name])
            if not csv.is_file():
                raise FileNotFoundError(f"{path}: lists {csv}, which does not exist")
            tables.append((str(test), csv))
    return tables


def _clear(folder: Path) -> None:
    """Remove the CSVs an earlier run left in one of our output folders."""
    for stale in folder.glob("*.csv") if folder.is_dir() else []:
        stale.unlink()


def stratum(train: str, test: str, fold: int) -> str:
    """Resampling unit: a same-dataset probe's held-out fold, or the whole other dataset."""
    return f"{test}/fold{fold}" if train == test else f"{test}/all"


def decisions(
    videos: pd.DataFrame, labels: pd.Series, preds: pd.Series, classes: list[str], unit: str
) -> Decisions:
    """Per-video decisions over every voted video; videos a rule dropped are marked left out."""
    names = videos["video"].astype(str)
    if labels.index.equals(videos.index):
        # same_dataset() passes the vote table's own columns: key them by video name.
        labels = labels.set_axis(names.to_numpy())
        preds = preds.set_axis(names.to_numpy())
    y = labels.reindex(names).astype(object)
    p = preds.reindex(names).astype(object)
    y = y.where(y.notna(), None)
    p = p.where(p.notna(), None)
    return Decisions.from_labels(unit, list(names), y.tolist(), p.tolist(), classes)


def score_posteriors(
    tables: list[tuple[str, Path]] | Path, *, mv_tie: str = "authors"
) -> Iterator[tuple]:
    """Yield (path, videos, row, labels, preds, classes, decisions) per probe × voting × rule.

    ``tables`` lists (test dataset, posterior CSV) pairs (see :func:`posterior_tables`); a folder
    is read as ``<test>/<probe>.csv`` (for hand use).

    ``row`` holds ``train, test, variant, fold, voting, rule`` and the dropped counts; the
    decisions (:class:`vjepa_fer.evaluate.stats.Decisions`) feed the bootstrap.
    """
    if isinstance(tables, (str, Path)):
        tables = posterior_files(Path(tables))
    if not tables:
        raise ValueError("no posterior tables given")
    for test, path in tables:
        m = NAME.match(path.stem)
        if not m:
            raise ValueError(f"{path}: not a posterior table name (<train>-fold<k>-<variant>.csv)")
        train, fold, variant = m["train"], int(m["fold"]), m["variant"]
        posteriors = pd.read_csv(path)
        outputs = probe_outputs(posteriors)
        # MV ties follow the authors' label map of the dataset the probe was trained on.
        order = authors_tie_order(train, outputs)
        videos = vote(posteriors, outputs, mv_tie=mv_tie, tie_order=order)
        for voting, rule, labels, preds, classes, dropped in evaluate_videos(
            videos, train, test, mv_tie=mv_tie, tie_order=order
        ):
            row = dict(train=train, test=test, variant=variant, fold=fold, voting=voting)
            row.update(rule=rule, dropped=dropped)
            dec = decisions(videos, labels, preds, classes, stratum(train, test, fold))
            yield path, videos, row, labels, preds, classes, dec


def with_intervals(
    summary: pd.DataFrame, groups: dict, *, samples: int, seed: int, confidence: float
) -> pd.DataFrame:
    """Add ``<metric>_ci_low`` / ``_ci_high`` to each summary row (keys as in KEYS)."""
    summary = summary.copy()
    for i, r in summary.iterrows():
        key = tuple(r[k] for k in KEYS)
        reps = replicates({"x": groups[key]}, samples=samples, seed=seed)["x"]
        for m in STAT_METRICS:
            ci = interval(reps.estimate[m], reps.samples[m], confidence)
            summary.loc[i, f"{m}_ci_low"] = ci.low
            summary.loc[i, f"{m}_ci_high"] = ci.high
    summary["ci_confidence"] = confidence
    summary["ci_samples"] = samples
    return summary


def paired_tests(
    a: list,
    b: list,
    *,
    samples: int,
    seed: int,
    confidence: float,
    labels: dict,
    with_mcnemar: bool = True,
) -> list[dict]:
    """Rows of A-vs-B tests on the same videos: paired bootstrap per metric, McNemar exact/mid-p.

    ``with_mcnemar=False`` for cross-dataset probes: their fold probes all judge the same videos,
    so pooling their per-video outcomes would count dependent pairs as independent.
    """
    reps = replicates({"a": a, "b": b}, samples=samples, seed=seed)
    results = [
        paired_bootstrap(reps["a"], reps["b"], m, confidence=confidence) for m in STAT_METRICS
    ]
    if with_mcnemar:
        results += [mcnemar(a, b), mcnemar(a, b, mid_p=True)]
    return [{**labels, **asdict(t)} for t in results]


def evaluate_all(
    tables: list[tuple[str, Path]] | Path,
    out: Path,
    *,
    mv_tie: str = "authors",
    ddof: int = 0,
    samples: int = schema.default("evaluation.bootstrap.samples"),
    seed: int = 0,
    confidence: float = schema.default("evaluation.bootstrap.confidence"),
    data: Path | None = None,
) -> dict:
    """Compute and write every table; returns the Table II / IV frames and the voting tests.

    ``data``: the folder holding the datasets' cards (``<data>/<name>/dataset.json``, the run's
    results/<run_name>/), so custom datasets' classes are known.
    """
    if data is not None:
        load_cards(data)
    rows, matrices, groups, written = [], {}, {}, set()
    scored = list(score_posteriors(tables, mv_tie=mv_tie))
    for sub in ("confusion", "videos"):
        _clear(out / sub)
    for path, videos, info, labels, preds, classes, dec in scored:
        train, test, variant = info["train"], info["test"], info["variant"]
        fold, voting, rule, dropped = info["fold"], info["voting"], info["rule"], info["dropped"]
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
        groups.setdefault((train, test, variant, voting, rule), []).append(dec)
        cm = confusion(list(labels), list(preds), classes)
        key = f"{train}-{variant}_on_{test}_{voting}_{rule}"
        matrices.setdefault(key, []).append(cm)
        name = f"{train}-fold{fold}-{variant}_on_{test}_{voting}_{rule}.csv"
        write_confusion(cm, out / "confusion" / name)
        votes = out / "videos" / f"{path.stem}_on_{test}.csv"
        if votes not in written:  # once per posterior table (every voting and rule share it)
            write_csv(videos, votes)
            written.add(votes)
    for key, cms in matrices.items():
        write_confusion(average_confusions(cms), out / "confusion" / f"{key}_mean.csv")
    per_fold = pd.DataFrame(rows).sort_values(
        ["train", "test", "variant", "voting", "rule", "fold"]
    )
    write_csv(per_fold, out / "per_fold.csv")
    summary = []
    for keys, part in per_fold.groupby(KEYS, sort=True):
        stats = summarize_folds(part[["fold", *METRICS, "videos", "dropped"]], ddof=ddof)
        row = dict(zip(KEYS, keys, strict=True))
        row["folds"] = len(part)
        for metric in (*METRICS, "videos", "dropped"):
            row[f"{metric}_mean"] = stats.loc[metric, "mean"]
            row[f"{metric}_std"] = stats.loc[metric, "std"]
        summary.append(row)
    boot = {"samples": samples, "seed": seed, "confidence": confidence}
    summary = with_intervals(pd.DataFrame(summary), groups, **boot)
    table2 = summary[summary["train"] == summary["test"]].reset_index(drop=True)
    table4 = summary[summary["train"] != summary["test"]].reset_index(drop=True)
    write_csv(table2, out / "table2.csv")
    write_csv(table4, out / "table4.csv")
    tests = []
    for (train, test, variant, voting, rule), pbv in sorted(groups.items()):
        mv = groups.get((train, test, variant, "mv", rule))
        if voting != "pbv" or train != test or mv is None:
            continue
        label = {"dataset": test, "variant": variant, "system_a": "pbv", "system_b": "mv"}
        tests += paired_tests(pbv, mv, labels=label, **boot)
    voting_tests = pd.DataFrame(tests)
    write_csv(voting_tests, out / "voting_tests.csv")
    return {"per_fold": per_fold, "table2": table2, "table4": table4, "voting_tests": voting_tests}


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


def format_tests(tests: pd.DataFrame) -> str:
    """One line per paired test: systems, metric, difference, p-value and the test's name."""
    lines = []
    for _, t in tests.iterrows():
        head = f"{t['dataset']:<8} {t['variant']:<8} {t['system_a']} vs {t['system_b']}"
        lines.append(
            f"{head}  {t['metric']:<9} Δ {t['difference']:+6.2f}  p = {t['p_value']:.4f}"
            f"  ({t['test_name']})"
        )
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--done",
        type=Path,
        nargs="+",
        help="done.json of each inference job: exactly the posterior tables it lists are read",
    )
    src.add_argument(
        "--posteriors",
        type=Path,
        help="folder holding <test dataset>/<probe>.csv posterior tables (every one is read)",
    )
    parser.add_argument(
        "--out",
        required=True,
        type=Path,
        help="results folder for metrics, matrices and per-video votes",
    )
    parser.add_argument(
        "--data",
        type=Path,
        help="folder holding the datasets' cards <name>/dataset.json (the workflow: "
        "results/<run_name>); needed for custom datasets",
    )
    parser.add_argument(
        "--mv-tie",
        choices=["authors", "lowest", "posterior"],
        default=schema.default("evaluation.mv_tie"),
        help="MV ties: the authors' label-map order (default), the probe's order, or posterior",
    )
    parser.add_argument(
        "--std-ddof",
        type=int,
        default=schema.default("evaluation.std_ddof"),
        help="delta degrees of freedom of the std over folds",
    )
    add_bootstrap_arguments(parser)


def run(args: argparse.Namespace) -> int:
    source = posterior_tables(args.done) if args.done else args.posteriors
    tables = evaluate_all(
        source,
        args.out,
        mv_tie=args.mv_tie,
        ddof=args.std_ddof,
        samples=args.bootstrap_samples,
        seed=args.seed,
        confidence=args.confidence,
        data=args.data,
    )
    print("Table II (same dataset, mean ± std over folds; paper_uar = macro precision)")
    print(format_table(tables["table2"], rule_col=False))
    if len(tables["table4"]):
        print(
            "\nTable IV (cross-dataset; rule drop / merge = calm merged / strict = nothing dropped)"
        )
        print(format_table(tables["table4"], rule_col=True))
    if len(tables["voting_tests"]):
        print("\nPBV vs MV on the same videos (difference = PBV - MV)")
        print(format_tests(tables["voting_tests"]))
    return 0

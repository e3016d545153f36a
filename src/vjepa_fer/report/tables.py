"""Stage ``vjepa-fer tables``: the paper's Tables II, III and IV from the evaluation outputs.

Implements docs/protocol.md, "Metrics", "Cross-dataset" and "The paper's numbers".
Reads what ``vjepa-fer evaluate`` wrote (``table2.csv``, ``table4.csv``, optionally
``per_fold.csv`` for the reasons videos were dropped) and writes every table four times:
``<name>.csv`` (numbers, machine-readable), ``<name>.md`` (GitHub Markdown), ``<name>.tex``
(LaTeX, needs ``\\usepackage{booktabs}``) and ``<name>.html`` (a page with the table and its
caption, shown in the Snakemake report), plus ``tables.md`` with all of them.

- ``table2``: same-dataset results per dataset and voting (PBV, MV), variant ``main``: true UAR,
  paper-compatible UAR (macro precision) and WAR, mean ± std over folds; ``table2_variants`` holds
  any other probe variants.
- ``table3``: our PBV rows beside the literature rows the paper quotes (quoted, never recomputed).
- ``table4`` (PBV) and ``table4_mv`` (MV): cross-dataset, per test dataset, calm dropped / calm
  merged (*) / strict (nothing dropped), with the mean number of videos each rule dropped.

With ``--compare-paper`` (runs in the paper's setting) Tables II and IV get the paper's numbers and
the differences, like for like: the paper's "UAR" against OUR paper-compatible UAR, the paper's WAR
against our WAR (see :mod:`vjepa_fer.report.paper`).

    vjepa-fer tables --metrics results/vit_huge/metrics --data results \\
        --out results/vit_huge/tables --run-name paper --compare-paper
"""

from __future__ import annotations

import argparse
import logging
import math
from pathlib import Path

import pandas as pd

from vjepa_fer import schema
from vjepa_fer.datasets import PAPER_DATASETS, builtin_names, display_name, load_cards
from vjepa_fer.io import atomic_open, write_csv
from vjepa_fer.report import paper
from vjepa_fer.report.html import to_html_page
from vjepa_fer.report.render import (
    CI,
    PM,
    STD_NOTE,
    Count,
    Diff,
    Table,
    markdown_escape,
    to_latex,
    to_markdown,
)
from vjepa_fer.report.wild import wild_table

logger = logging.getLogger(__name__)

METRICS = ("uar", "paper_uar", "war")
SUMMARY_COLUMNS = [
    "train",
    "test",
    "variant",
    "voting",
    "rule",
    "folds",
    *(f"{m}_{s}" for m in (*METRICS, "videos", "dropped") for s in ("mean", "std")),
]
DATASET_ORDER = tuple(builtin_names())  # others follow alphabetically
VOTING_ORDER = ("pbv", "mv")
RULE_ORDER = ("drop", "merge", "strict")
RULE_NAMES = {
    "drop": "calm dropped",
    "merge": "calm merged (*)",
    "strict": "strict (nothing dropped)",
}
UAR_NOTE = (
    "UAR (true) = mean per-class recall (balanced accuracy); UAR (paper-compat.) = macro "
    "precision, which is what the paper's “UAR” measures (the authors read [label, prediction] "
    "matrices transposed): compare that column with the paper. WAR = accuracy. "
    "Confusion matrices are [label, prediction] as in scikit-learn."
)


# ----------------------------------------------------------------------------- inputs


def read_summary(path: Path) -> pd.DataFrame:
    """A ``table2.csv`` / ``table4.csv`` of ``vjepa-fer evaluate``, validated."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found (run `vjepa-fer evaluate` first)")
    try:
        df = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: empty file, expected a header with {SUMMARY_COLUMNS}") from None
    missing = [c for c in SUMMARY_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}")
    for col in ("train", "test", "variant", "voting", "rule"):
        df[col] = df[col].astype(str)
    return df


def _sorted(df: pd.DataFrame, keys: list[tuple[str, tuple[str, ...]]]) -> pd.DataFrame:
    """Sort by columns in a given value order (unknown values last, alphabetically)."""
    orders = dict(keys)

    def rank(col: pd.Series) -> pd.Series:
        order = orders[col.name]
        return col.map(lambda v: f"{order.index(v) if v in order else len(order):03d}{v}")

    return df.sort_values(list(orders), key=rank) if len(df) else df


def _name(dataset: str) -> str:
    return display_name(dataset)


def _metric_cells(r: pd.Series) -> list[PM]:
    return [PM(float(r[f"{m}_mean"]), float(r[f"{m}_std"])) for m in METRICS]


def has_intervals(df: pd.DataFrame) -> bool:
    """Whether an evaluation summary carries bootstrap intervals (older outputs do not)."""
    return all(f"{m}_ci_{s}" in df.columns for m in METRICS for s in ("low", "high"))


def ci_header(df: pd.DataFrame) -> list[str]:
    """Column names of the interval cells, with the confidence level of ``df``."""
    level = (
        float(df["ci_confidence"].iloc[0])
        if "ci_confidence" in df and len(df)
        else schema.default("evaluation.bootstrap.confidence")
    )
    pct = f"{100 * level:g} % CI"
    return [f"{pct} UAR (true)", f"{pct} paper-compat.", f"{pct} WAR"]


def _ci_cells(data: dict, r: pd.Series) -> list[CI]:
    """The interval cells of a summary row; copies the bounds into the CSV record."""
    cells = []
    for m in METRICS:
        low, high = float(r[f"{m}_ci_low"]), float(r[f"{m}_ci_high"])
        data[f"{m}_ci_low"], data[f"{m}_ci_high"] = low, high
        cells.append(CI(low, high))
    return cells


def ci_note(df: pd.DataFrame) -> str:
    samples = int(df["ci_samples"].iloc[0]) if "ci_samples" in df and len(df) else 0
    return (
        f"CI: percentile bootstrap interval of the mean over folds ({samples} resamples of the "
        "test videos within each fold; cross-dataset probes share one resample of the test set)."
    )


def _compare(data: dict, cells: list, ours: pd.Series, ref: paper.PaperNumber | None) -> None:
    """Add the paper's numbers and ours − paper, like for like (paper.LIKE_FOR_LIKE)."""
    nan = float("nan")
    for metric, ours_col in paper.LIKE_FOR_LIKE.items():
        reported = getattr(ref, metric) if ref else nan
        delta = float(ours[f"{ours_col}_mean"]) - reported if ref else nan
        data[f"paper_reported_{metric}"] = reported
        data[f"delta_vs_paper_{metric}"] = delta  # ours[ours_col] − paper[metric]
        cells += [reported, Diff(delta)]
    data["paper_source"] = ref.source if ref else ""


COMPARE_HEADER = ["Paper “UAR”", "Δ paper-compat. UAR", "Paper WAR", "Δ WAR"]
COMPARE_NOTE = (
    "Paper columns: Eing et al.; Δ = ours − paper, like for like: our paper-compatible UAR "
    "(macro precision) against the paper's “UAR”, our WAR against the paper's WAR."
)


# ----------------------------------------------------------------------------- tables


def table2(
    summary: pd.DataFrame, *, run_name: str, compare_paper: bool, variants: str = "main"
) -> Table:
    """Table II (``variants="main"``) or the supplementary table of every other variant."""
    main = variants == "main"
    df = summary[(summary["variant"] == "main") == main]
    df = _sorted(df, [("test", DATASET_ORDER), ("variant", ()), ("voting", VOTING_ORDER)])
    compare = compare_paper and main
    intervals = has_intervals(df)
    header = ["Dataset", *([] if main else ["Variant"]), "Voting", "Folds"]
    header += ["UAR (true)", "UAR (paper-compat.)", "WAR"] + (ci_header(df) if intervals else [])
    header += COMPARE_HEADER if compare else []
    rows, records, rules, last = [], [], [], None
    for _, r in df.iterrows():
        if last is not None and r["test"] != last:
            rules.append(len(rows))
        last = r["test"]
        data = {"dataset": r["test"], "variant": r["variant"], "voting": r["voting"]}
        data["folds"] = int(r["folds"])
        for m in (*METRICS, "videos"):
            data[f"{m}_mean"], data[f"{m}_std"] = float(r[f"{m}_mean"]), float(r[f"{m}_std"])
        cells = [_name(r["test"]), *([] if main else [r["variant"]]), r["voting"].upper()]
        cells += [int(r["folds"]), *_metric_cells(r)]
        if intervals:
            cells += _ci_cells(data, r)
        if compare:
            _compare(data, cells, r, paper.paper_table2(r["test"], r["voting"]))
        rows.append(cells)
        records.append(data)
    title = (
        f"Table II: same-dataset validation ({run_name}), PBV and MV"
        if main
        else f"Table II (supplementary): other probe variants ({run_name})"
    )
    notes = [UAR_NOTE, STD_NOTE] + ([ci_note(df)] if intervals else [])
    notes += [COMPARE_NOTE] if compare else []
    return Table(
        "table2" if main else "table2_variants",
        title,
        header,
        rows,
        pd.DataFrame(records),
        notes,
        rules,
    )


def table3(
    summary: pd.DataFrame, literature: pd.DataFrame, *, run_name: str, compare_paper: bool
) -> Table:
    """Table III: our PBV rows (variant main) beside the literature rows the paper quotes."""
    ours = summary[(summary["variant"] == "main") & (summary["voting"] == "pbv")]
    datasets = [d for d in DATASET_ORDER if d in set(ours["test"])]
    datasets += sorted(set(ours["test"]) - set(datasets))
    intervals = has_intervals(ours)
    level = ci_header(ours)[0].split(" UAR")[0] if intervals else ""  # e.g. "95 % CI"
    header = ["Dataset", "Method", "Modality", "UAR", "WAR"]
    header += [f"UAR {level}", f"WAR {level}"] if intervals else []
    header += ["UAR definition", "Source"]
    rows: list[list[object]] = []
    records: list[tuple] = []
    rules: list[int] = []
    columns = ["dataset", "kind", "method", "modality", "uar", "uar_std", "war", "war_std"]
    columns += ["uar_definition", "source", "citation_number", "citation", "note"]
    columns += ["uar_ci_low", "uar_ci_high", "war_ci_low", "war_ci_high"] if intervals else []
    none = CI(math.nan, math.nan)

    def add(ds: str, kind: str, method: str, modality: str, u: object, w: object,
            definition: str, source: str, ref: int | None = None, citation: str = "",
            note: str = "", cis: tuple[CI, CI] = (none, none)) -> None:  # fmt: skip
        shown = method if ref is None else f"{method} [{ref}]"
        rows.append([_name(ds), shown, modality, u, w, *(cis if intervals else ()), definition,
                     source])  # fmt: skip
        mean_std = [(c.mean, c.std) if isinstance(c, PM) else (c, math.nan) for c in (u, w)]
        bounds = (*cis[0], *cis[1]) if intervals else ()
        records.append((ds, kind, method, modality, *mean_std[0], *mean_std[1], definition,
                        source, ref, citation, note, *bounds))  # fmt: skip

    for ds in datasets:
        if rows:
            rules.append(len(rows))
        for _, lit in literature[literature["dataset"] == ds].iterrows():
            add(ds, "literature", lit["method"], lit["modality"], float(lit["uar"]),
                float(lit["war"]), "as reported", f"literature: {lit['source']}",
                int(lit["citation_number"]), lit["citation"], lit["note"])  # fmt: skip
        ref = paper.paper_table2(ds, "pbv")
        if compare_paper and ref is not None:
            add(
                ds,
                "paper",
                "V-JEPA + attentive probe (Eing et al.)",
                "Video",
                ref.uar,
                ref.war,
                "paper's “UAR” (≈ macro precision)",
                ref.source,
                citation=paper.PAPER,
            )
        r = ours[ours["test"] == ds].iloc[0]
        war = PM(float(r["war_mean"]), float(r["war_std"]))
        ci = (
            {m: CI(*(float(r[f"{m}_ci_{b}"]) for b in ("low", "high"))) for m in METRICS}
            if intervals
            else {}
        )
        for col, definition in (
            ("uar", "true UAR (macro recall)"),
            ("paper_uar", "paper-compat. UAR (macro precision)"),
        ):
            uar = PM(float(r[f"{col}_mean"]), float(r[f"{col}_std"]))
            cis = (ci[col], ci["war"]) if ci else (none, none)
            add(ds, "ours", f"Ours: {run_name}", "Video", uar, war, definition, "this run, PBV",
                cis=cis)  # fmt: skip
    notes = [
        "Literature rows are quoted from Eing et al., Table III (full citations in table3.csv), "
        "not recomputed; their protocols differ from ours (face crops, video-only subsets, "
        "other folds), so they are context, not a like-for-like comparison.",
        "MultiMAE-DER (Video): the paper prints one number; we place it under UAR "
        "(inferred from the paper's abstract, see the note in table3.csv). – = not printed.",
        UAR_NOTE,
        STD_NOTE,
    ] + ([ci_note(ours)] if intervals else [])
    title = f"Table III: comparison with self-supervised FER methods ({run_name}, PBV)"
    data = pd.DataFrame(records, columns=columns)
    return Table("table3", title, header, rows, data, notes, rules)


def dropped_reasons(per_fold: pd.DataFrame | None) -> pd.DataFrame:
    """Mean videos dropped per reason (``dropped_<reason>`` columns of per_fold.csv)."""
    keys = ["train", "test", "variant", "voting", "rule"]
    if per_fold is None or per_fold.empty:
        return pd.DataFrame(columns=keys)
    cols = [c for c in per_fold.columns if c.startswith("dropped_")]
    if not cols:
        return pd.DataFrame(columns=keys)
    means = per_fold.groupby(keys, sort=False)[cols].mean().reset_index()
    return means.rename(columns={c: f"{c}_mean" for c in cols})


def table4(
    summary: pd.DataFrame,
    *,
    run_name: str,
    voting: str,
    compare_paper: bool,
    per_fold: pd.DataFrame | None = None,
) -> Table:
    """Table IV for one voting: per test dataset, the drop / merge (*) / strict rules."""
    df = summary[(summary["variant"] == "main") & (summary["voting"] == voting)]
    # The paper's Table IV lists CREMA-D (as test set) first: the paper's datasets reversed.
    order = (*reversed(PAPER_DATASETS), *DATASET_ORDER)
    df = _sorted(df, [("test", order), ("train", ()), ("rule", RULE_ORDER)])
    reasons = dropped_reasons(per_fold)
    compare = compare_paper and voting == "pbv"
    intervals = has_intervals(df)
    header = ["Test dataset", "Trained on", "Rule", "Folds"]
    header += ["UAR (true)", "UAR (paper-compat.)", "WAR"] + (ci_header(df) if intervals else [])
    header += ["Videos kept", "Dropped"]
    header += COMPARE_HEADER if compare else []
    rows, records, rules, last = [], [], [], None
    for _, r in df.iterrows():
        if last is not None and r["test"] != last:
            rules.append(len(rows))
        last = r["test"]
        data = {"test": r["test"], "train": r["train"], "variant": r["variant"]}
        data.update(voting=voting, rule=r["rule"], folds=int(r["folds"]))
        for m in (*METRICS, "videos", "dropped"):
            data[f"{m}_mean"], data[f"{m}_std"] = float(r[f"{m}_mean"]), float(r[f"{m}_std"])
        match = reasons[
            (reasons["train"] == r["train"])
            & (reasons["test"] == r["test"])
            & (reasons["variant"] == r["variant"])
            & (reasons["voting"] == voting)
            & (reasons["rule"] == r["rule"])
        ]
        if len(match):
            for c in [c for c in reasons.columns if c.startswith("dropped_")]:
                if not math.isnan(float(match.iloc[0][c])):
                    data[c] = float(match.iloc[0][c])
        cells = [_name(r["test"]), _name(r["train"]), RULE_NAMES.get(r["rule"], r["rule"])]
        cells += [int(r["folds"]), *_metric_cells(r)]
        if intervals:
            cells += _ci_cells(data, r)
        cells += [Count(float(r["videos_mean"])), Count(float(r["dropped_mean"]))]
        if compare:
            ref = paper.paper_table4(r["train"], r["test"], r["rule"], voting)
            _compare(data, cells, r, ref)
        rows.append(cells)
        records.append(data)
    notes = [
        "Each fold probe is tested on the whole other dataset; mean over the probes. "
        "calm dropped / calm merged (*) are the authors' rules (RAVDESS→CREMA-D: videos predicted "
        "surprised, and calm unless merged, leave the metrics; CREMA-D→RAVDESS: videos labelled "
        "surprised, and calm unless merged, leave them); strict restricts the argmax to the "
        "shared classes and drops nothing (ours). Videos kept and Dropped: mean per probe "
        "(reasons in the CSV columns dropped_<reason>_mean).",
        UAR_NOTE,
        STD_NOTE,
    ] + ([ci_note(df)] if intervals else [])
    if compare:
        notes.append(COMPARE_NOTE + " The paper reports no strict variant.")
    elif voting != "pbv":
        notes.append("The paper reports cross-dataset numbers for PBV only.")
    name = "table4" if voting == "pbv" else f"table4_{voting}"
    title = f"Table IV: cross-dataset evaluation ({run_name}, {voting.upper()})"
    data = pd.DataFrame(records)
    # Reasons differ per row (pandas appends late ones at the end): group them after "dropped".
    why = sorted(c for c in data.columns if c.startswith("dropped_") and c.endswith("_mean"))
    why = [c for c in why if c != "dropped_mean"]
    ci_cols = [c for c in data.columns if "_ci_" in c]
    data = data[[c for c in data.columns if c not in ci_cols] + ci_cols]
    at = list(data.columns).index("dropped_std") + 1 if len(data) else 0
    rest = [c for c in data.columns if c not in why]
    data = data[rest[:at] + why + rest[at:]]
    return Table(name, title, header, rows, data, notes, rules)


TEST_COLUMNS = ["dataset", "variant", "system_a", "system_b", "test_name", "metric", "estimate_a"]
TEST_COLUMNS += ["estimate_b", "difference", "low", "high", "p_value", "n", "a_only", "b_only"]
METRIC_NAMES = {
    "uar": "UAR (true)",
    "paper_uar": "UAR (paper-compat.)",
    "war": "WAR",
    "correct": "per-video correct",
}


def voting_tests(tests: pd.DataFrame, *, run_name: str) -> Table:
    """PBV against MV per dataset on the same videos: every paired test with its p-value."""
    missing = [c for c in TEST_COLUMNS if c not in tests.columns]
    if missing:
        raise ValueError(f"voting_tests.csv: missing column(s) {missing}")
    df = _sorted(tests, [("dataset", DATASET_ORDER), ("variant", ("main",))])
    header = ["Dataset", "Variant", "Metric", "PBV", "MV", "Δ PBV − MV", "95 % CI of Δ"]
    header += ["p", "Test", "Pairs"]
    rows, rules, last = [], [], None
    for _, t in df.iterrows():
        if last is not None and t["dataset"] != last:
            rules.append(len(rows))
        last = t["dataset"]
        pairs = (
            f"{int(t['n'])} videos ({int(t['a_only'])} only PBV right, "
            f"{int(t['b_only'])} only MV right)"
            if str(t["test_name"]).startswith("McNemar")
            else f"{int(t['n'])} resamples"
        )
        rows.append(
            [
                _name(t["dataset"]),
                t["variant"],
                METRIC_NAMES.get(t["metric"], t["metric"]),
                float(t["estimate_a"]),
                float(t["estimate_b"]),
                Diff(float(t["difference"])),
                CI(float(t["low"]), float(t["high"])),
                f"{float(t['p_value']):.4f}",
                t["test_name"],
                pairs,
            ]
        )
    notes = [
        "Both votings come from the same saved posteriors, so each test pairs the same videos. "
        "Paired bootstrap: two-sided p of the fold-mean difference on shared resamples of the "
        "videos within folds. McNemar: binomial test on the videos exactly one voting gets right "
        "(exact; mid-p subtracts half the observed count's probability).",
        UAR_NOTE,
    ]
    title = f"PBV against MV on the same videos ({run_name})"
    return Table("voting_tests", title, header, rows, df.reset_index(drop=True), notes, rules)


# ----------------------------------------------------------------------------- writing


def write_table(table: Table, out_dir: Path, *, run_name: str) -> list[Path]:
    """``<name>.csv``, ``.md``, ``.tex`` and ``.html`` (the report's page, see
    :mod:`vjepa_fer.report.html`) of one table, each written atomically."""
    paths = [out_dir / f"{table.name}.{ext}" for ext in ("csv", "md", "tex", "html")]
    write_csv(table.data, paths[0])
    with atomic_open(paths[1], encoding="utf-8") as fh:
        fh.write(to_markdown(table))
    with atomic_open(paths[2], encoding="utf-8") as fh:
        fh.write(to_latex(table, run_name=run_name))
    with atomic_open(paths[3], encoding="utf-8") as fh:
        fh.write(to_html_page(table, run_name=run_name))
    return paths


def build_tables(
    metrics_dir: Path, *, run_name: str, compare_paper: bool, data_dir: Path | None = None
) -> list[Table]:
    """Every table that the evaluation outputs in ``metrics_dir`` support; custom datasets'
    display names come from their cards in ``data_dir`` (``<name>/dataset.json``; None: the
    folder above ``metrics_dir``)."""
    metrics_dir = Path(metrics_dir)
    load_cards(metrics_dir.parent if data_dir is None else Path(data_dir))
    summary2 = read_summary(metrics_dir / "table2.csv")
    if summary2.empty:
        raise ValueError(f"{metrics_dir / 'table2.csv'}: no rows (no same-dataset results)")
    tables = [table2(summary2, run_name=run_name, compare_paper=compare_paper)]
    if (summary2["variant"] != "main").any():
        tables.append(table2(summary2, run_name=run_name, compare_paper=False, variants="others"))
    if (summary2["variant"] == "main").any():
        tables.append(
            table3(summary2, paper.literature(), run_name=run_name, compare_paper=compare_paper)
        )
    wild = wild_table(summary2, run_name=run_name)
    tables += [wild] if wild is not None else []
    path4 = metrics_dir / "table4.csv"
    summary4 = read_summary(path4) if path4.is_file() else None
    per_fold_path = metrics_dir / "per_fold.csv"
    per_fold = pd.read_csv(per_fold_path) if per_fold_path.is_file() else None
    if summary4 is not None and (summary4["variant"] == "main").any():
        for voting in VOTING_ORDER:
            if (summary4["voting"] == voting).any():
                tables.append(
                    table4(
                        summary4,
                        run_name=run_name,
                        voting=voting,
                        compare_paper=compare_paper,
                        per_fold=per_fold,
                    )
                )
    else:
        logger.info("%s: no cross-dataset results; Table IV skipped", path4)
    tests_path = metrics_dir / "voting_tests.csv"
    if tests_path.is_file() and tests_path.stat().st_size > 1:
        tests = pd.read_csv(tests_path)
        if len(tests):
            tables.append(voting_tests(tests, run_name=run_name))
    return tables


def write_tables(
    metrics_dir: Path,
    out_dir: Path,
    *,
    run_name: str,
    compare_paper: bool,
    data_dir: Path | None = None,
) -> list[Path]:
    """Write every table as CSV, Markdown, LaTeX and HTML, plus ``tables.md``; returns the paths."""
    out_dir = Path(out_dir)
    tables = build_tables(
        Path(metrics_dir), run_name=run_name, compare_paper=compare_paper, data_dir=data_dir
    )
    paths: list[Path] = []
    for t in tables:
        paths += write_table(t, out_dir, run_name=run_name)
    combined = out_dir / "tables.md"
    with atomic_open(combined, encoding="utf-8") as fh:
        fh.write(f"# Results of {markdown_escape(run_name)}\n\n")
        fh.write("\n".join(to_markdown(t) for t in tables))
    paths.append(combined)
    logger.info("wrote %d tables (%d files) to %s", len(tables), len(paths), out_dir)
    return paths


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--metrics", required=True, type=Path, help="output folder of `vjepa-fer evaluate`"
    )
    parser.add_argument("--out", required=True, type=Path, help="folder for the tables")
    parser.add_argument(
        "--data",
        type=Path,
        help="the datasets' folder (results: custom datasets' <name>/dataset.json; default: the "
        "folder above --metrics)",
    )
    parser.add_argument(
        "--run-name", required=True, help="name of this run, printed in titles and Table III"
    )
    parser.add_argument(
        "--compare-paper",
        action="store_true",
        help="add the paper's numbers and the differences (for runs in the paper's setting)",
    )


def run(args: argparse.Namespace) -> int:
    paths = write_tables(
        args.metrics,
        args.out,
        run_name=args.run_name,
        compare_paper=args.compare_paper,
        data_dir=args.data,
    )
    for p in paths:
        print(p)
    return 0

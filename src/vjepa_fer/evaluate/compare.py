"""Stage ``vjepa-fer compare-encoders``: encoders (or any runs) side by side on the same videos.

Each run is a folder of per-clip posteriors written by ``vjepa-fer infer`` (a run's ``results/``
folder, or its ``posteriors/`` folder itself). For every run, dataset pair, voting (PBV, MV) and
cross-dataset rule, the table holds the mean over folds of the true UAR, WAR and paper-compatible
UAR (macro precision) with bootstrap intervals (videos resampled within folds, see
:mod:`vjepa_fer.evaluate.stats`); and every pair of runs scored on the same videos gets paired
tests (paired bootstrap per metric; on same-dataset folds also McNemar exact and mid-p on
per-video correctness), each with its p-value and the test's name. Runs must use the same folds
and videos to be paired; a pair that does not is reported without tests (a warning names the
mismatch).

Outputs in ``--out``: ``encoders.csv`` / ``.md`` (the comparison), ``encoder_tests.csv`` / ``.md``
(paired tests), ``encoders.png`` / ``.pdf`` (true UAR and WAR with 95 % intervals, same-dataset).

    vjepa-fer compare-encoders --run vith16-384=runs/vith/results \\
        --run videomae-b=runs/videomae/results --out results/compare
"""

from __future__ import annotations

import argparse
import itertools
import logging
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from vjepa_fer import schema
from vjepa_fer.datasets import display_name, load_cards
from vjepa_fer.evaluate.results import KEYS, NAME, paired_tests, posterior_files, score_posteriors
from vjepa_fer.evaluate.stats import (
    METRICS,
    Decisions,
    add_bootstrap_arguments,
    interval,
    replicates,
)
from vjepa_fer.io import atomic_open, write_csv
from vjepa_fer.text import markdown_escape as md

logger = logging.getLogger(__name__)

VOTING_ORDER = ("pbv", "mv")
RULE_ORDER = ("same", "drop", "merge", "strict")


def posterior_dir(path: Path) -> Path:
    """A run folder's posterior tables: ``DIR/posteriors`` if present, else ``DIR`` itself."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: run folder not found")
    return path / "posteriors" if (path / "posteriors").is_dir() else path


def load_run(
    path: Path, *, mv_tie: str = "authors", datasets: list[str] | None = None
) -> dict[tuple, list[Decisions]]:
    """Per (train, test, variant, voting, rule): the fold probes' decisions, sorted by fold.

    ``datasets`` keeps only probes trained and tested on those datasets: a folder also holds the
    tables of datasets an earlier configuration of the run had (None: every table)."""
    tables = posterior_files(posterior_dir(path))
    if datasets is not None:
        keep = set(datasets)
        tables = [(t, p) for t, p in tables if t in keep and NAME.match(p.stem)["train"] in keep]
        if not tables:
            raise ValueError(f"{path}: no posterior tables of the datasets {sorted(keep)}")
    groups: dict[tuple, list[tuple[int, Decisions]]] = {}
    for _, _, row, _, _, _, dec in score_posteriors(tables, mv_tie=mv_tie):
        key = tuple(row[k] for k in KEYS)
        groups.setdefault(key, []).append((row["fold"], dec))
    return {k: [d for _, d in sorted(v, key=lambda t: t[0])] for k, v in groups.items()}


def same_videos(a: list[Decisions], b: list[Decisions]) -> str | None:
    """None when two systems' folds hold the same videos; else what differs."""
    if [d.stratum for d in a] != [d.stratum for d in b]:
        return f"folds differ: {[d.stratum for d in a]} vs {[d.stratum for d in b]}"
    for da, db in zip(a, b, strict=True):
        if da.videos != db.videos:
            only = sorted(set(da.videos) ^ set(db.videos))
            return f"{da.stratum}: videos differ ({len(only)} in one run only, e.g. {only[:2]})"
    return None


def compare_runs(
    runs: Mapping[str, Path],
    *,
    samples: int = schema.default("evaluation.bootstrap.samples"),
    seed: int = 0,
    confidence: float = schema.default("evaluation.bootstrap.confidence"),
    mv_tie: str = "authors",
    variant: str = "main",
    datasets: list[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The comparison table and the paired tests of every pair of runs (see module docstring);
    ``datasets``: only probes trained and tested on these (None: all found)."""
    if len(runs) < 1:
        raise ValueError("compare-encoders needs at least one --run NAME=DIR")
    loaded = {name: load_run(path, mv_tie=mv_tie, datasets=datasets) for name, path in runs.items()}
    rows = []
    for name, groups in loaded.items():
        mine = {k: v for k, v in groups.items() if k[2] == variant}
        if not mine:
            raise ValueError(f"run {name!r} ({runs[name]}): no probes of variant {variant!r}")
        for key, folds in mine.items():
            reps = replicates({name: folds}, samples=samples, seed=seed)[name]
            row = {"encoder": name, **dict(zip(KEYS, key, strict=True)), "folds": len(folds)}
            # Decided videos summed over the fold probes (cross-dataset: each sees every video).
            row["decisions"] = sum(int((d.p >= 0).sum()) for d in folds)
            for m in METRICS:
                ci = interval(reps.estimate[m], reps.samples[m], confidence)
                row.update({m: ci.estimate, f"{m}_ci_low": ci.low, f"{m}_ci_high": ci.high})
            rows.append(row)
    table = pd.DataFrame(rows)
    rank = {
        "_voting": table["voting"].map(lambda v: VOTING_ORDER.index(v) if v in VOTING_ORDER else 9),
        "_rule": table["rule"].map(lambda v: RULE_ORDER.index(v) if v in RULE_ORDER else 9),
        "_encoder": table["encoder"].map(list(runs).index),  # in the order given
    }
    table = table.assign(**rank).sort_values(["test", "train", *rank])
    table = table.drop(columns=list(rank)).reset_index(drop=True)
    table["ci_confidence"], table["ci_samples"] = confidence, samples

    tests = []
    for a, b in itertools.combinations(runs, 2):
        for key in sorted(set(loaded[a]) & set(loaded[b])):
            if key[2] != variant:
                continue
            why = same_videos(loaded[a][key], loaded[b][key])
            if why:
                logger.warning("%s vs %s, %s: not paired (%s)", a, b, "/".join(key), why)
                continue
            labels = {"system_a": a, "system_b": b, **dict(zip(KEYS, key, strict=True))}
            tests += paired_tests(
                loaded[a][key],
                loaded[b][key],
                samples=samples,
                seed=seed,
                confidence=confidence,
                labels=labels,
                with_mcnemar=key[4] == "same",
            )
    return table, pd.DataFrame(tests)


def _pct(v: float) -> str:
    return "–" if pd.isna(v) else f"{v:.2f}"


def to_markdown(table: pd.DataFrame, tests: pd.DataFrame) -> tuple[str, str]:
    """Markdown of the comparison and of the paired tests."""
    level = f"{100 * float(table['ci_confidence'].iloc[0]):g} %"
    head = "| encoder | train → test | voting | rule | decisions | UAR (true) | WAR "
    head += "| paper-compat. UAR |"
    lines = [f"## Encoders compared (mean over folds, [{level} bootstrap CI])", "", head]
    lines.append("|---|---|---|---|---:|---:|---:|---:|")
    for _, r in table.iterrows():
        cells = [
            f"{_pct(r[m])} [{_pct(r[f'{m}_ci_low'])}, {_pct(r[f'{m}_ci_high'])}]"
            for m in ("uar", "war", "paper_uar")
        ]
        lines.append(
            f"| {md(r['encoder'])} | {md(r['train'])} → {md(r['test'])} | "
            f"{md(r['voting'].upper())} | {md(r['rule'])} | {r['decisions']} | "
            + " | ".join(cells)
            + " |"
        )
    lines += [
        "",
        f"- Intervals: percentile bootstrap ({int(table['ci_samples'].iloc[0])} resamples of the "
        "test videos within each fold). UAR (true) = macro recall; paper-compat. UAR = macro "
        "precision (the paper's “UAR”); WAR = accuracy. decisions = videos decided, summed over "
        "the fold probes.",
    ]
    t_lines = ["## Paired tests between encoders on the same videos (Δ = A − B)", ""]
    if tests.empty:
        t_lines.append("No pair of runs was scored on the same videos.")
    else:
        t_lines.append("| A | B | train → test | voting | rule | metric | A | B | Δ | p | test |")
        t_lines.append("|---|---|---|---|---|---|---:|---:|---:|---:|---|")
        for _, t in tests.iterrows():
            t_lines.append(
                f"| {md(t['system_a'])} | {md(t['system_b'])} | {md(t['train'])} → "
                f"{md(t['test'])} | {md(t['voting'].upper())} | {md(t['rule'])} | "
                f"{md(t['metric'])} | {_pct(t['estimate_a'])} | "
                f"{_pct(t['estimate_b'])} | {t['difference']:+.2f} | {t['p_value']:.4f} | "
                f"{md(t['test_name'])} |"
            )
    return "\n".join(lines) + "\n", "\n".join(t_lines) + "\n"


def plot(table: pd.DataFrame, out: Path, labels: Mapping[str, str] | None = None) -> list[Path]:
    """True UAR and WAR per encoder with interval bars, one panel per dataset (same-dataset),
    titled, with the datasets' display names and ``labels`` (id -> display name) in the legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    same = table[table["rule"] == "same"]
    datasets = list(dict.fromkeys(same["test"]))
    encoders = list(dict.fromkeys(same["encoder"]))
    if not datasets:
        raise ValueError("no same-dataset results to plot")
    bars = [(v, m) for v in VOTING_ORDER for m in ("uar", "war") if (same["voting"] == v).any()]
    labels = labels or {}
    panel_width = 1.0 + 1.5 * len(bars)
    fig, axes = plt.subplots(
        1,
        len(datasets),
        figsize=(0.8 + panel_width * len(datasets), 4.6 + 0.3 * len(encoders)),
        squeeze=False,
        sharey=True,
        layout="constrained",
    )
    width = 0.8 / max(len(encoders), 1)
    x = np.arange(len(bars))
    for ax, ds in zip(axes[0], datasets, strict=True):
        for i, enc in enumerate(encoders):
            part = same[(same["test"] == ds) & (same["encoder"] == enc)].set_index("voting")
            vals = [part.loc[v, m] if v in part.index else np.nan for v, m in bars]
            low = [part.loc[v, f"{m}_ci_low"] if v in part.index else np.nan for v, m in bars]
            high = [part.loc[v, f"{m}_ci_high"] if v in part.index else np.nan for v, m in bars]
            err = np.array([np.subtract(vals, low), np.subtract(high, vals)])
            name = f"{labels[enc]} ({enc})" if enc in labels else enc
            ax.bar(x + (i - (len(encoders) - 1) / 2) * width, vals, width, yerr=err,
                   capsize=2, label=name)  # fmt: skip
        names = {"uar": "UAR (true)", "war": "WAR"}
        ax.set_xticks(x, [f"{names[m]}\n{v.upper()}" for v, m in bars])
        ax.set_title(display_name(ds))
        ax.set_ylim(0, 100)
        ax.grid(axis="y", alpha=0.3)
    level = f"{100 * float(table['ci_confidence'].iloc[0]):g} %"
    axes[0][0].set_ylabel(f"% (mean over folds, {level} CI)")
    # Below the panels: inside one it covered bars; one entry a line keeps long names whole.
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncols=1, title="Encoder")
    fig.suptitle(
        "Encoders on the same videos: same-dataset true UAR and WAR (PBV, MV), "
        f"mean over folds with {level} bootstrap intervals",
        wrap=True,
    )
    paths = [out / "encoders.png", out / "encoders.pdf"]
    for p in paths:
        with atomic_open(p, mode="wb") as fh:
            fig.savefig(fh, format=p.suffix[1:], dpi=150)
    plt.close(fig)
    return paths


def write_comparison(
    table: pd.DataFrame,
    tests: pd.DataFrame,
    out: Path,
    labels: Mapping[str, str] | None = None,
) -> list[Path]:
    out = Path(out)
    write_csv(table, out / "encoders.csv")
    write_csv(tests, out / "encoder_tests.csv")
    md, md_tests = to_markdown(table, tests)
    for name, text in (("encoders.md", md), ("encoder_tests.md", md_tests)):
        with atomic_open(out / name, encoding="utf-8") as fh:
            fh.write(text)
    paths = [out / n for n in ("encoders.csv", "encoder_tests.csv", "encoders.md")]
    return paths + [out / "encoder_tests.md", *plot(table, out, labels)]


def parse_run(text: str) -> tuple[str, Path]:
    """``NAME=DIR`` of ``--run``."""
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"--run expects NAME=DIR, got {text!r}")
    return name, Path(path)


def parse_label(text: str) -> tuple[str, str]:
    """``NAME=TEXT`` of ``--label``."""
    name, sep, label = text.partition("=")
    if not sep or not name or not label.strip():
        raise argparse.ArgumentTypeError(f"--label expects NAME=TEXT, got {text!r}")
    return name, label.strip()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--run",
        action="append",
        required=True,
        type=parse_run,
        metavar="NAME=DIR",
        help="a run to compare: NAME as shown in the table, DIR its results folder (or the "
        "posteriors folder in it); repeat for each encoder",
    )
    parser.add_argument(
        "--label",
        action="append",
        default=[],
        type=parse_label,
        metavar="NAME=TEXT",
        help="display name of a run in the figure's legend (e.g. 'V-JEPA ViT-H/16, 384 px'); "
        "repeat per run; default: its NAME",
    )
    parser.add_argument("--out", required=True, type=Path, help="folder for tables and figure")
    parser.add_argument(
        "--data",
        type=Path,
        help="folder holding the datasets' cards <name>/dataset.json (the workflow: "
        "results/<run_name>); needed for custom datasets",
    )
    parser.add_argument("--variant", default="main", help="probe variant to compare")
    parser.add_argument(
        "--datasets",
        nargs="+",
        help="only probes trained and tested on these datasets (default: every table found; "
        "the workflow passes the run's datasets)",
    )
    parser.add_argument(
        "--mv-tie",
        choices=["authors", "lowest", "posterior"],
        default=schema.default("evaluation.mv_tie"),
        help="MV ties: the authors' label-map order (default), the probe's order, or posterior",
    )
    add_bootstrap_arguments(parser)


def run(args: argparse.Namespace) -> int:
    runs = dict(args.run)
    if len(runs) != len(args.run):
        raise ValueError("--run names must be unique")
    if args.data is not None:
        load_cards(args.data)  # custom datasets' classes
    table, tests = compare_runs(
        runs,
        samples=args.bootstrap_samples,
        seed=args.seed,
        confidence=args.confidence,
        mv_tie=args.mv_tie,
        variant=args.variant,
        datasets=args.datasets,
    )
    labels = dict(args.label)
    unknown = sorted(set(labels) - set(runs))
    if unknown:
        raise ValueError(f"--label names no --run: {unknown}; runs: {sorted(runs)}")
    for p in write_comparison(table, tests, args.out, labels):
        print(p)
    md, md_tests = to_markdown(table, tests)
    print(md + "\n" + md_tests)
    return 0

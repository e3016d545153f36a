"""Stage ``vjepa-fer figures``: the paper's Figs. 3–6 and the probes' training curves.

Implements docs/protocol.md, "Figures". Every figure is written as PNG (``--dpi``, default
200) and PDF, with class names on the axes, titles and labelled colour bars:

- ``fig3_confusion_same_pbv``: same-dataset confusion matrices (PBV, variant main) averaged over the
  folds (``metrics/confusion/<ds>-main_on_<ds>_pbv_same_mean.csv``), row-normalised in % (the
  authors floored fold-averaged counts instead).
- ``fig4_confusion_cross_pbv``: cross-dataset matrices (R→C, C→R). By default the full rectangular
  *test label × probe output* matrix before any drop/merge rule (``evaluate.cross.full_confusion``
  of ``metrics/videos/<train>-fold<k>-main_on_<test>.csv``, averaged over the fold probes), which is
  what the paper shows; if those tables are missing, the calm-dropped rule's square matrices. The
  figure title says which.
- ``fig5_pca_<ds>_fold<k>``: first two principal components of the test clips' (a) mean encoder
  token and (b) the probe's pooled token (``posteriors/<ds>/pca-<ds>-fold<k>-main.*``), coloured by
  label with the correct legend, explained variance on the axes.
- ``fig6_demographics_<ds>``: actors per fold by sex, and age per fold where known (manifest);
  for a dataset without actor ids (DFEW, FERV39k, MAFW), clips per fold by class.
- ``curves_<ds>``: training loss and training accuracy per epoch, one line per fold.

Each figure has a function that takes DataFrames/arrays and returns a ``matplotlib.figure.Figure``
(no pyplot, no global backend or rcParams change: styles are applied in ``rc_context``).

    vjepa-fer figures --results results/vit_huge --data results --out results/vit_huge/figures \\
        --pca-dataset crema-d --pca-fold 1
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib as mpl
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
from safetensors.numpy import load_file
from sklearn.decomposition import PCA

from vjepa_fer import schema
from vjepa_fer.datasets import builtin_names, display_name, labels_for, load_cards
from vjepa_fer.evaluate.cross import full_confusion
from vjepa_fer.evaluate.metrics import read_confusion, row_normalise
from vjepa_fer.io import atomic_open, atomic_path
from vjepa_fer.report.html import figure_page

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

# Large fonts: the figures are read in print at column width.
STYLE = {
    "font.size": 13,
    "axes.titlesize": 15,
    "axes.labelsize": 14,
    "xtick.labelsize": 12,
    "ytick.labelsize": 12,
    "legend.fontsize": 12,
    "figure.titlesize": 16,
    "pdf.fonttype": 42,  # embed TrueType: text stays text in the PDF
}


@contextlib.contextmanager
def _style() -> Iterator[None]:
    with mpl.rc_context(STYLE):
        yield


# Confusion panels a row: two keep each heatmap over 300 px tall at report width (REPORT_WIDTH_PX).
PANELS_PER_ROW = 2
# Width in CSS pixels at which the Snakemake report shows a figure (its content pane in a
# 1,600 px window; the image is scaled to fit): the legibility tests measure at this width.
REPORT_WIDTH_PX = 1200


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def _name(dataset: str) -> str:
    return display_name(dataset)


# One fixed colour per class in every figure and dataset, from the Okabe-Ito colour-blind-safe set;
# the six CREMA-D classes get the six most distinct ones, calm is a lighter neutral.
CLASS_COLORS: dict[str, str] = {
    "neutral": "#0072B2",
    "calm": "#56B4E9",
    "happy": "#E69F00",
    "sad": "#555555",
    "angry": "#D55E00",
    "fearful": "#CC79A7",
    "disgust": "#009E73",
    "surprised": "#A6761D",
}
# Colours for classes outside that vocabulary (a custom dataset's own names), in the classes'
# probe order: distinct from the fixed ones above, repeated only past the tenth new class.
EXTRA_COLORS: tuple[str, ...] = (
    "#F0E442",
    "#882255",
    "#44AA99",
    "#332288",
    "#999933",
    "#AA4499",
    "#117733",
    "#88CCEE",
    "#661100",
    "#DDCC77",
)


def class_colors(classes: Sequence[str]) -> dict[str, str]:
    """A colour for every class: the fixed one of a shared class, else the next extra colour."""
    colors = dict(CLASS_COLORS)
    extra = [str(c) for c in classes if str(c) not in colors]
    for i, name in enumerate(dict.fromkeys(extra)):
        colors[name] = EXTRA_COLORS[i % len(EXTRA_COLORS)]
    return colors


def save_figure(fig: Figure, stem: Path, *, dpi: int = 200) -> list[Path]:
    """Write ``<stem>.png``, ``<stem>.pdf`` and ``<stem>.html`` (the report's page: the PNG
    with its title as caption, :func:`vjepa_fer.report.html.figure_page`) atomically."""
    paths = []
    with _style():
        for ext in ("png", "pdf"):
            path = stem.with_suffix(f".{ext}")
            with atomic_path(path) as tmp:
                fig.savefig(tmp, format=ext, dpi=dpi)
            paths.append(path)
    page = stem.with_suffix(".html")
    title = " ".join(fig.get_suptitle().split())
    with atomic_open(page, encoding="utf-8") as fh:
        fh.write(figure_page(paths[0].read_bytes(), title=title, name=stem.name))
    return [*paths, page]


# ----------------------------------------------------------------------------- confusion


def _confusion_panel(
    ax: Axes, counts: pd.DataFrame, title: str, xlabel: str, ylabel: str, shared: int = 0
) -> None:
    pct = row_normalise(counts)  # (labels, predictions), rows sum to 100
    big = max(pct.shape) > 7
    sns.heatmap(
        pct,
        ax=ax,
        annot=True,
        fmt=".1f",
        cmap="Blues",
        vmin=0,
        vmax=100,
        square=True,
        linewidths=0.5,
        linecolor="white",
        annot_kws={"size": 10 if big else 12},
        cbar_kws={"label": "% of videos of the true class", "shrink": 0.8},
    )
    ax.set_anchor("N")  # panels of different heights share one top line (titles aligned)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_xticklabels([str(c) for c in pct.columns], rotation=45, ha="right")
    ax.set_yticklabels([str(c) for c in pct.index], rotation=0)
    if shared:
        # Rectangular cross-dataset matrix: the shared classes form the top-left block.
        for pos, n, line in (
            (shared, pct.shape[0], ax.axhline),
            (shared, pct.shape[1], ax.axvline),
        ):
            if pos < n:
                line(pos, color="black", linewidth=2)


def confusion_figure(
    panels: Mapping[str, pd.DataFrame],
    *,
    suptitle: str,
    xlabels: Mapping[str, str] | None = None,
    ylabels: Mapping[str, str] | None = None,
    shared: Mapping[str, int] | None = None,
) -> Figure:
    """One heatmap per matrix (``{panel title: counts [label, prediction]}``), row-normalised %.

    ``shared``: per panel, the size of the top-left block of classes common to rows and columns
    (rectangular cross-dataset matrices); a line marks where it ends.
    """
    if not panels:
        raise ValueError("no confusion matrices to draw")
    with _style():
        # A grid of equal panels, at most PANELS_PER_ROW a row: six in one row (8700 px wide)
        # shrank every panel to a sliver at report width. Equal sizes keep the cells comparable.
        n = len(panels)
        ncols = min(n, PANELS_PER_ROW)
        nrows = -(-n // ncols)
        width = max(max(4.5, 0.75 * m.shape[1] + 2.0) for m in panels.values())
        height = max(max(4.0, 0.62 * m.shape[0] + 2.2) for m in panels.values())
        fig = _figure(ncols * width, nrows * height + 0.6)
        grid = fig.subplots(nrows, ncols, squeeze=False)
        axes = list(grid.flat)
        for ax in axes[n:]:
            ax.remove()  # an incomplete last row
        for ax, (title, cm) in zip(axes, panels.items(), strict=False):
            xl = (xlabels or {}).get(title, "Predicted class")
            yl = (ylabels or {}).get(title, "True class")
            _confusion_panel(ax, cm, title, xl, yl, (shared or {}).get(title, 0))
        fig.suptitle(suptitle)
    return fig


def known_datasets(results_dir: Path) -> list[str]:
    """Built-in datasets, then the custom ones whose cards lie in ``results_dir``."""
    return list(dict.fromkeys([*builtin_names(), *load_cards(results_dir)]))


def same_dataset_matrices(
    metrics_dir: Path, *, variant: str = "main", data_dir: Path | None = None
) -> dict[str, pd.DataFrame]:
    """Fold-averaged PBV matrices per dataset, ``{dataset: counts}``, from evaluate's output
    (``data_dir``: where the datasets' cards lie; None: the folder above ``metrics_dir``)."""
    out = {}
    for ds in known_datasets(metrics_dir.parent if data_dir is None else data_dir):
        path = metrics_dir / "confusion" / f"{ds}-{variant}_on_{ds}_pbv_same_mean.csv"
        if path.is_file():
            out[ds] = read_confusion(path)
    return out


VIDEO_TABLE = re.compile(
    r"^(?P<train>[\w-]+?)-fold(?P<fold>\d+)-(?P<variant>[\w.-]+)_on_(?P<test>[\w-]+)$"
)


def cross_matrices(
    metrics_dir: Path, *, variant: str = "main", data_dir: Path | None = None
) -> tuple[dict[tuple[str, str], pd.DataFrame], str]:
    """``{(train, test): counts}`` averaged over fold probes, and which kind they are.

    Kind ``"full"``: rectangular test label × probe output, nothing dropped (from the per-video
    vote tables); kind ``"drop"``: the calm-dropped rule's matrices (fallback).
    """
    known = known_datasets(metrics_dir.parent if data_dir is None else data_dir)
    pairs = [(a, b) for a in known for b in known if a != b]
    full: dict[tuple[str, str], list[pd.DataFrame]] = {}
    for path in sorted((metrics_dir / "videos").glob("*_on_*.csv")):
        m = VIDEO_TABLE.match(path.stem)
        if not m or m["variant"] != variant or (m["train"], m["test"]) not in pairs:
            continue
        videos = pd.read_csv(path, dtype={"video": str, "label": str, "pbv": str, "mv": str})
        full.setdefault((m["train"], m["test"]), []).append(full_confusion(videos, m["test"]))
    if full:
        mean = {k: sum(v[1:], v[0]) / len(v) for k, v in full.items()}  # cell-wise fold mean
        return {p: mean[p] for p in pairs if p in mean}, "full"
    drop = {}
    for train, test in pairs:
        path = metrics_dir / "confusion" / f"{train}-{variant}_on_{test}_pbv_drop_mean.csv"
        if path.is_file():
            drop[(train, test)] = read_confusion(path)
    return drop, "drop"


def align_shared(cm: pd.DataFrame, order: Sequence[str] = ()) -> tuple[pd.DataFrame, int]:
    """Reorder a label × output matrix so the shared classes come first, on the diagonal; rows
    and columns without a counterpart follow. The shared block follows ``order`` (classes not in
    it keep the row order), so that several panels show the shared classes in one order.
    Returns (matrix, #shared)."""
    rows, cols = [str(c) for c in cm.index], [str(c) for c in cm.columns]
    shared = [c for c in order if c in rows and c in cols]
    shared += [c for c in rows if c in cols and c not in shared]
    out = cm.loc[
        shared + [r for r in rows if r not in shared], shared + [c for c in cols if c not in shared]
    ]
    return out, len(shared)


def cross_figure(matrices: Mapping[tuple[str, str], pd.DataFrame], kind: str) -> Figure:
    """Fig. 4: one panel per (train, test) pair; ``kind`` is ``"full"`` or ``"drop"``."""
    panels, xl, yl, shared = {}, {}, {}, {}
    # One order for the shared classes in every panel (the first dataset's label order), so the
    # panels can be compared cell by cell; each dataset's own order would differ between them.
    datasets = dict.fromkeys(ds for pair in matrices for ds in pair)
    order = [c for ds in datasets for c in labels_for(ds)]
    order = list(dict.fromkeys(order))
    for (train, test), cm in matrices.items():
        title = f"Trained on {_name(train)} → tested on {_name(test)}"
        panels[title], shared[title] = align_shared(cm, order)
        xl[title] = f"Probe output ({_name(train)} classes)"
        yl[title] = f"True label ({_name(test)})"
    what = (
        "all videos, test label × probe output, no drop/merge rule"
        if kind == "full"
        else "calm-dropped rule (videos left out by the rule are not shown)"
    )
    return confusion_figure(
        panels,
        suptitle=f"Cross-dataset confusion (PBV, mean over fold probes):\n{what}",
        xlabels=xl,
        ylabels=yl,
        shared=shared,
    )


# ----------------------------------------------------------------------------- PCA


def pca_2d(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First two principal components of ``x`` (M, D) and their explained-variance ratios.

    scikit-learn's exact (full SVD) PCA; the signs are then fixed so that each component's
    largest loading is positive, which keeps the plot the same across library versions (sklearn's
    own sign rule has changed between releases).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) < 3:
        raise ValueError(f"PCA needs an (M >= 3, D) array, got shape {x.shape}")
    pca = PCA(n_components=2, svd_solver="full").fit(x)
    comps = pca.components_.T  # (D, 2)
    signs = np.sign(comps[np.argmax(np.abs(comps), axis=0), [0, 1]])
    signs = np.where(signs == 0, 1, signs)
    xc = x - pca.mean_  # (M, D)
    return xc @ (comps * signs), pca.explained_variance_ratio_  # (M, 2), (2,)


def pca_figure(
    encoder_mean: np.ndarray,
    probe_pooled: np.ndarray,
    labels: Sequence[str],
    classes: Sequence[str],
    *,
    title: str,
    seed: int = 0,
) -> Figure:
    """Fig. 5: PCA of (a) the mean encoder token and (b) the probe's pooled token per clip."""
    labels = np.asarray([str(v) for v in labels], dtype=object)
    if not len(labels) == len(encoder_mean) == len(probe_pooled):
        raise ValueError(
            f"PCA inputs differ in length: {len(labels)} labels, {len(encoder_mean)} encoder "
            f"rows, {len(probe_pooled)} pooled rows"
        )
    unknown = sorted(set(labels) - set(classes))
    if unknown:
        raise ValueError(f"labels {unknown} are not among the classes {list(classes)}")
    colors = class_colors(classes)
    # Random drawing order: no class is systematically painted over the others.
    order = np.random.default_rng(seed).permutation(len(labels))
    point_colors = [colors[labels[i]] for i in order]
    with _style():
        fig = _figure(13, 6.2)
        axes = fig.subplots(1, 2)
        for ax, x, name in (
            (axes[0], encoder_mean, "(a) mean encoder token (global average pooling)"),
            (axes[1], probe_pooled, "(b) attentive probe's pooled token"),
        ):
            pcs, ratio = pca_2d(x)
            ax.scatter(pcs[order, 0], pcs[order, 1], c=point_colors, s=7, alpha=0.6,
                       linewidths=0, rasterized=True)  # fmt: skip
            ax.set_xlabel(f"PC 1 ({100 * ratio[0]:.1f} % of variance)")
            ax.set_ylabel(f"PC 2 ({100 * ratio[1]:.1f} % of variance)")
            ax.set_title(name)
        present = [c for c in classes if c in set(labels)]
        handles = [
            Line2D([], [], marker="o", linestyle="", markersize=9, color=colors.get(c), label=c)
            for c in present
        ]
        fig.legend(handles=handles, title="True label", loc="outside right center")
        fig.suptitle(title)
    return fig


def load_pca_inputs(
    posterior_dir: Path, dataset: str, fold: int, *, variant: str = "main"
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """``encoder_mean`` (M, D), ``probe_pooled`` (M, D) and the aligned clip table (M rows)."""
    stem = posterior_dir / dataset / f"pca-{dataset}-fold{fold}-{variant}"
    tensors_path, table_path = stem.with_suffix(".safetensors"), stem.with_suffix(".csv")
    for p in (tensors_path, table_path):
        if not p.is_file():
            raise FileNotFoundError(f"{p}: PCA input not found (run infer with --pca-fold {fold})")
    tensors = load_file(str(tensors_path))
    missing = [k for k in ("encoder_mean", "probe_pooled") if k not in tensors]
    if missing:
        raise ValueError(f"{tensors_path}: missing tensor(s) {missing}")
    clips = pd.read_csv(table_path, dtype={"video": str, "label": str})
    enc, pooled = tensors["encoder_mean"], tensors["probe_pooled"]
    if not len(enc) == len(pooled) == len(clips):
        raise ValueError(
            f"{tensors_path}: {len(enc)} encoder and {len(pooled)} pooled rows, but {table_path} "
            f"has {len(clips)} clips"
        )
    return enc, pooled, clips


# ----------------------------------------------------------------------------- Fig. 6, curves


def has_subjects(manifest: pd.DataFrame) -> bool:
    """Whether the manifest's ``actor`` ids are people: some id has several videos, or a sex or
    age is known. In-the-wild sets (DFEW, FERV39k, MAFW) have none: ``actor`` is the clip id."""
    known = [c for c in ("sex", "age") if c in manifest.columns]
    return bool(
        manifest.groupby("actor").size().max() > 1 or manifest[known].notna().any(axis=None)
    )


def _fold_names(folds: Sequence[int]) -> list[str]:
    """Tick labels of folds; a fixed split's fold 0 holds the training videos (datasets.base)."""
    if 0 in folds:
        return ["Training split" if f == 0 else "Test split" for f in folds]
    return [f"Fold {f}" for f in folds]


def clips_figure(manifest: pd.DataFrame, *, dataset: str) -> Figure:
    """Fig. 6 for a dataset without subjects: clips per fold, stacked by class (class balance)."""
    for col in ("fold", "label"):
        if col not in manifest.columns:
            raise ValueError(f"manifest lacks column {col!r}")
    folds = sorted(int(f) for f in manifest["fold"].unique())
    classes = labels_for(dataset) if _known(dataset) else ()
    order = [c for c in classes if c in set(manifest["label"])]
    order += sorted(set(manifest["label"]) - set(order))
    counts = manifest.groupby([manifest["fold"].astype(int), "label"]).size().unstack(fill_value=0)
    counts = counts.reindex(index=folds, columns=order, fill_value=0)
    with _style():
        fig = _figure(max(6.5, 1.3 * len(folds) + 3.5), 5.6)
        ax = fig.subplots()
        bottom = np.zeros(len(folds))
        for label in order:
            values = counts[label].to_numpy()
            top = ax.bar(np.arange(len(folds)), values, 0.7, bottom=bottom, label=label,
                         color=CLASS_COLORS.get(label, "0.6"))  # fmt: skip
            bottom += values
        # Each fold's total above its stack (on the top segment: an empty bar at the total
        # would pin the axis there and push the labels into the title).
        ax.bar_label(top, labels=[str(int(t)) for t in bottom], padding=2, fontsize=11)
        ax.set_xticks(np.arange(len(folds)), _fold_names(folds))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("Clips")
        ax.set_title("Clips per fold by class (the clips carry no actor ids)")
        ax.legend(title="Class", loc="upper center", bbox_to_anchor=(0.5, -0.1),
                  ncols=min(4, len(order)))  # fmt: skip
        ax.margins(y=0.12)
        fig.suptitle(f"{_name(dataset)}: clips per fold")
    return fig


def _known(dataset: str) -> bool:
    try:
        labels_for(dataset)
    except (KeyError, ValueError):
        return False
    return True


def demographics_figure(manifest: pd.DataFrame, *, dataset: str) -> Figure:
    """Fig. 6: actors per fold by sex (bars) and, where known, age per fold (box + points);
    for a dataset without subjects (:func:`has_subjects`), clips per fold (:func:`clips_figure`)."""
    for col in ("actor", "fold", "sex"):
        if col not in manifest.columns:
            raise ValueError(f"manifest lacks column {col!r}")
    if not has_subjects(manifest):
        return clips_figure(manifest, dataset=dataset)
    people = manifest.drop_duplicates("actor").copy()
    people["sex"] = people["sex"].fillna("unknown").astype(str)
    people["fold"] = people["fold"].astype(int)
    ages = pd.to_numeric(people.get("age"), errors="coerce") if "age" in people else None
    has_age = ages is not None and ages.notna().any()
    folds = sorted(people["fold"].unique())
    sexes = [s for s in ("female", "male") if s in set(people["sex"])]
    sexes += sorted(set(people["sex"]) - set(sexes))
    counts = people.groupby(["fold", "sex"]).size().unstack(fill_value=0)
    counts = counts.reindex(index=folds, columns=sexes, fill_value=0)
    palette = dict(zip(sexes, ["#0072B2", "#E69F00", "#009E73", "#CC79A7"], strict=False))
    with _style():
        fig = _figure(12 if has_age else 6.5, 5.2)
        axes = fig.subplots(1, 2 if has_age else 1, squeeze=False)[0]
        ax, width = axes[0], 0.8 / max(1, len(sexes))
        for j, sex in enumerate(sexes):
            pos = np.arange(len(folds)) + (j - (len(sexes) - 1) / 2) * width
            bars = ax.bar(
                pos, counts[sex].to_numpy(), width, label=sex, color=palette.get(sex, "0.5")
            )
            ax.bar_label(bars, padding=2, fontsize=11)
        ax.set_xticks(np.arange(len(folds)), _fold_names(folds))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("Actors")
        ax.set_title(("(a) " if has_age else "") + "Actors per fold by sex")
        # Below the axis: inside it the legend covered the tallest bars and their labels.
        ax.legend(title="Sex", loc="upper center", bbox_to_anchor=(0.5, -0.1), ncols=len(sexes))
        ax.margins(y=0.15)
        if has_age:
            ax = axes[1]
            per_fold = [ages[people["fold"] == f].dropna().to_numpy() for f in folds]
            ax.boxplot(per_fold, positions=np.arange(len(folds)), widths=0.6, showfliers=False,
                       patch_artist=True, boxprops={"facecolor": "0.88", "edgecolor": "0.4"},
                       medianprops={"color": "black"})  # fmt: skip
            jitter = np.random.default_rng(0).uniform(-0.18, 0.18, len(people))  # fixed seed
            x = np.searchsorted(folds, people["fold"].to_numpy()) + jitter
            for sex in sexes:
                hit = (people["sex"] == sex).to_numpy()
                ax.scatter(
                    x[hit], ages[hit], s=30, color=palette.get(sex, "0.5"), label=sex, zorder=3
                )
            ax.set_xticks(np.arange(len(folds)), [f"Fold {f}" for f in folds])
            ax.set_ylabel("Age (years)")
            ax.set_title("(b) Age per fold (points: actors, coloured by sex)")
        fig.suptitle(f"{_name(dataset)}: actors per cross-validation fold")
    return fig


def training_clips(info: Mapping) -> str:
    """What the probe trained on, from its probe.json: augmented, clean or fixed copies."""
    train = info.get("train", {})
    if info.get("mode") == "cached":
        copies = int(info.get("copies", 0))
        if copies:
            return f"training clips ({copies} stored augmented cop{'y' if copies == 1 else 'ies'})"
        return "clean (unaugmented) training clips"
    if train.get("augment", True):
        return "augmented training clips"
    return "clean (unaugmented) training clips"


def curves_figure(
    curves: Mapping[int, pd.DataFrame],
    *,
    title: str,
    clips: str = "augmented training clips",
) -> Figure:
    """Training loss and training accuracy (%) per epoch, one line per fold.

    ``clips`` says what the accuracy was measured on (see :func:`training_clips`).
    """
    if not curves:
        raise ValueError("no training curves to draw")
    with _style():
        fig = _figure(12, 4.8)
        axes = fig.subplots(1, 2)
        for fold in sorted(curves):
            c = curves[fold]
            axes[0].plot(c["epoch"], c["loss"], marker="o", markersize=3, label=f"Fold {fold}")
            axes[1].plot(c["epoch"], c["train_accuracy"], marker="o", markersize=3)
        axes[0].set_ylabel("Training loss (cross-entropy)")
        axes[1].set_ylabel("Training accuracy (%)")
        names = ("(a) Loss", f"(b) Accuracy on the {clips}")
        for ax, name in zip(axes, names, strict=True):
            ax.set_xlabel("Epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_title(name)
            ax.grid(alpha=0.3)
        fig.legend(loc="outside right center", title="Probe")
        fig.suptitle(title)
    return fig


def read_curves(probe_dir: Path, *, variant: str = "main") -> dict[int, pd.DataFrame]:
    """``{fold: curve}`` from ``<probe_dir>/fold<k>/<variant>/curve.csv``."""
    out = {}
    for path in sorted(probe_dir.glob(f"fold*/{variant}/curve.csv")):
        m = re.fullmatch(r"fold(\d+)", path.parent.parent.name)
        if not m:
            continue
        curve = pd.read_csv(path)
        missing = [c for c in ("epoch", "loss", "train_accuracy") if c not in curve.columns]
        if missing:
            raise ValueError(f"{path}: missing column(s) {missing}")
        out[int(m[1])] = curve
    return out


# ----------------------------------------------------------------------------- all figures


def write_figures(
    results_dir: Path,
    out_dir: Path,
    *,
    pca_dataset: str = "crema-d",
    pca_fold: int = 1,
    variant: str = "main",
    dpi: int = 200,
    datasets: list[str] | None = None,
    data_dir: Path | None = None,
) -> list[Path]:
    """Draw every figure the results support; returns the written paths (PNG and PDF).

    ``results_dir`` holds one encoder's metrics, posteriors and probes; ``data_dir`` the
    datasets' manifests and cards (``<dataset>/manifest.csv``; None: ``results_dir``, a layout
    with both in one folder). ``datasets`` limits the per-dataset figures (demographics, curves)
    to this run's datasets, so files an earlier configuration left under ``results/`` are not
    drawn (None: all known).
    """
    results_dir, out_dir = Path(results_dir), Path(out_dir)
    data_dir = results_dir if data_dir is None else Path(data_dir)
    metrics = results_dir / "metrics"
    paths: list[Path] = []

    def emit(fig: Figure, stem: str) -> None:
        paths.extend(save_figure(fig, out_dir / stem, dpi=dpi))

    same = same_dataset_matrices(metrics, variant=variant, data_dir=data_dir)
    if same:
        panels = {_name(ds): cm for ds, cm in same.items()}
        title = "Same-dataset confusion (PBV, mean over folds)"
        emit(confusion_figure(panels, suptitle=title), "fig3_confusion_same_pbv")
    cross, kind = cross_matrices(metrics, variant=variant, data_dir=data_dir)
    if cross:
        emit(cross_figure(cross, kind), "fig4_confusion_cross_pbv")
    if pca_fold:
        try:
            enc, pooled, clips = load_pca_inputs(
                results_dir / "posteriors", pca_dataset, pca_fold, variant=variant
            )
        except FileNotFoundError as exc:
            logger.warning("Fig. 5 skipped: %s", exc)
        else:
            title = f"{_name(pca_dataset)}: test clips of fold {pca_fold}, fold-{pca_fold} probe"
            fig = pca_figure(enc, pooled, clips["label"], labels_for(pca_dataset), title=title)
            emit(fig, f"fig5_pca_{pca_dataset}_fold{pca_fold}")
    for ds in [d for d in known_datasets(data_dir) if datasets is None or d in datasets]:
        manifest = data_dir / ds / "manifest.csv"
        if manifest.is_file():
            emit(demographics_figure(pd.read_csv(manifest), dataset=ds), f"fig6_demographics_{ds}")
        curves = read_curves(results_dir / "probes" / ds, variant=variant)
        if curves:
            title = f"{_name(ds)}: probe training per fold (variant {variant})"
            info = results_dir / "probes" / ds / f"fold{min(curves)}" / variant / "probe.json"
            clips = training_clips(json.loads(info.read_text())) if info.is_file() else None
            fig = curves_figure(curves, title=title, clips=clips or "training clips")
            emit(fig, f"curves_{ds}")
    if not paths:
        raise FileNotFoundError(
            f"{results_dir}: nothing to draw (looked for metrics/confusion, metrics/videos, "
            f"posteriors/<ds>/pca-*, probes/<ds>/fold*/<variant>/curve.csv, and {data_dir}/"
            "<ds>/manifest.csv)"
        )
    logger.info("wrote %d figure files to %s", len(paths), out_dir)
    return paths


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--results",
        required=True,
        type=Path,
        help="an encoder's results (results/<encoder>: metrics/, posteriors/, probes/)",
    )
    parser.add_argument(
        "--data",
        type=Path,
        help="the datasets' folder (results: <dataset>/manifest.csv, dataset.json; "
        "default: --results)",
    )
    parser.add_argument("--out", required=True, type=Path, help="folder for PNG and PDF files")
    parser.add_argument(
        "--pca-dataset",
        default=schema.default("evaluation.pca_dataset"),
        help="dataset of the PCA figure (a run's dataset)",
    )
    parser.add_argument(
        "--pca-fold",
        type=int,
        default=schema.default("evaluation.pca_fold"),
        help="fold of the PCA figure (0 = no PCA figure)",
    )
    parser.add_argument("--variant", default="main", help="probe variant to draw")
    parser.add_argument(
        "--datasets",
        nargs="+",
        help="the run's datasets (default: every dataset found under --results)",
    )
    parser.add_argument("--dpi", type=int, default=200, help="PNG resolution (>= 150)")


def run(args: argparse.Namespace) -> int:
    if args.dpi < 150:
        raise ValueError(f"--dpi {args.dpi}: use at least 150 for print")
    paths = write_figures(
        args.results, args.out, pca_dataset=args.pca_dataset, pca_fold=args.pca_fold,
        variant=args.variant, dpi=args.dpi, datasets=args.datasets, data_dir=args.data,
    )  # fmt: skip
    for p in paths:
        print(p)
    return 0

"""Confusion matrices, UAR / WAR, the paper-compatible "UAR", and fold summaries.

Implements docs/protocol.md, section "Metrics" (and the orientation trap in docs/datasets.md).
Every confusion matrix here is in scikit-learn's orientation: **rows = true labels, columns =
predictions**; index and columns carry class names, the index is named ``label``. Cells may be
fractional (fold-averaged matrices), and every function accepts them.

- ``uar``: unweighted average recall = mean per-class recall over classes with at least one true
  sample (scikit-learn ``balanced_accuracy_score``).
- ``war``: weighted average recall = accuracy.
- ``paper_uar``: macro *precision*, which is what the paper reports as "UAR": the authors' metrics
  script normalised the columns of [label, prediction] matrices. Precision of a class that is never
  predicted is 0 (scikit-learn ``precision_score(average="macro", zero_division=0)``); the average
  runs over the classes that occur among the labels or the predictions (scikit-learn's default label
  set), so a class absent from both does not count.
- ``recall_per_class``: NaN for a class with no true samples (undefined; JSON ``null``).

Functions return fractions in [0, 1]; the dict helpers and the CLI report percent.

CLI (stage ``vjepa-fer metrics``)::

    vjepa-fer metrics results/cm.csv
    # {"uar": 72.56, "war": 72.93, "paper_uar": 73.16, "recall": {...}, "precision": {...},
    #  "n": 1440}

The CSV has a header ``label,<class>,...`` and one row per true class in the same order.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from vjepa_fer.io import write_csv

logger = logging.getLogger(__name__)


def confusion(labels: Sequence[str], preds: Sequence[str], classes: Sequence[str]) -> pd.DataFrame:
    """Counts of (true label, prediction) pairs: rows = labels, columns = predictions.

    scikit-learn's ``confusion_matrix`` does the counting; the checks before it exist because
    sklearn silently ignores labels outside ``labels=`` and we want such a mismatch to be an error.
    """
    classes = [str(c) for c in classes]
    if len(set(classes)) != len(classes):
        raise ValueError(f"classes contain duplicates: {classes}")
    y = np.asarray(labels, dtype=object).astype(str)
    p = np.asarray(preds, dtype=object).astype(str)
    if y.shape != p.shape or y.ndim != 1:
        raise ValueError(f"labels {y.shape} and predictions {p.shape} must be 1-D of equal length")
    unknown = sorted((set(y) | set(p)) - set(classes))
    if unknown:
        raise ValueError(f"labels/predictions outside the class list {classes}: {unknown}")
    counts = skm.confusion_matrix(y, p, labels=classes)  # (label, prediction)
    return _frame(counts, classes)


def _frame(values: np.ndarray, classes: Sequence[str]) -> pd.DataFrame:
    cm = pd.DataFrame(values, index=list(classes), columns=list(classes))
    cm.index.name = "label"
    cm.columns.name = "prediction"
    return cm


def _array(cm: pd.DataFrame | np.ndarray) -> np.ndarray:
    m = np.asarray(cm, dtype=float)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] == 0:
        raise ValueError(f"confusion matrix must be square and non-empty, got shape {m.shape}")
    if not np.isfinite(m).all() or (m < 0).any():
        raise ValueError("confusion matrix cells must be finite and non-negative")
    if m.sum() <= 0:
        raise ValueError("confusion matrix holds no samples")
    return m


def _classes(cm: pd.DataFrame | np.ndarray, k: int) -> list[str]:
    if isinstance(cm, pd.DataFrame):
        if list(cm.index) != list(cm.columns):
            raise ValueError(
                f"row classes {list(cm.index)} differ from column classes {list(cm.columns)}"
            )
        return [str(c) for c in cm.index]
    return [str(i) for i in range(k)]


def _samples(cm: pd.DataFrame | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The matrix as weighted (label, prediction) samples, one per non-zero cell.

    scikit-learn's metrics take samples, not matrices; a cell's count becomes its sample weight,
    which also covers fold-averaged (fractional) matrices. Returns (labels, predictions,
    weights, number of classes); classes are the indices 0..K-1.
    """
    m = _array(cm)
    rows, cols = np.nonzero(m)
    return rows, cols, m[rows, cols], len(m)


def recall_per_class(cm: pd.DataFrame | np.ndarray) -> pd.Series:
    """Diagonal over row sums; NaN where a class has no true samples."""
    y, p, w, k = _samples(cm)
    recall = skm.recall_score(
        y, p, labels=range(k), average=None, sample_weight=w, zero_division=np.nan
    )
    return pd.Series(recall, index=_classes(cm, k), name="recall")


def precision_per_class(cm: pd.DataFrame | np.ndarray) -> pd.Series:
    """Diagonal over column sums; 0 where a class is never predicted (zero_division=0)."""
    y, p, w, k = _samples(cm)
    precision = skm.precision_score(
        y, p, labels=range(k), average=None, sample_weight=w, zero_division=0
    )
    return pd.Series(precision, index=_classes(cm, k), name="precision")


def uar(cm: pd.DataFrame | np.ndarray) -> float:
    """Mean recall over classes with support > 0 (``balanced_accuracy_score``)."""
    y, p, w, _ = _samples(cm)
    with warnings.catch_warnings():
        # sklearn warns when a predicted class has no true samples; such a class is simply not
        # part of the mean (the definition above), so the warning carries no information here.
        warnings.simplefilter("ignore", UserWarning)
        return float(skm.balanced_accuracy_score(y, p, sample_weight=w))


def war(cm: pd.DataFrame | np.ndarray) -> float:
    """Accuracy: trace over total."""
    y, p, w, _ = _samples(cm)
    return float(skm.accuracy_score(y, p, sample_weight=w))


def paper_uar(cm: pd.DataFrame | np.ndarray) -> float:
    """Macro precision, the paper's "UAR" (column-normalised [label, prediction] matrix).

    The project's own definition over scikit-learn's ``precision_score(average="macro",
    zero_division=0)``: averaged over the classes present among labels or predictions, a class
    with true samples but no predictions counting 0. It exists as a named function because the
    paper calls this number "UAR" (docs/protocol.md, "Metrics").
    """
    y, p, w, _ = _samples(cm)
    return float(skm.precision_score(y, p, average="macro", sample_weight=w, zero_division=0))


def row_normalise(cm: pd.DataFrame) -> pd.DataFrame:
    """Each row in percent of its true class (rows sum to 100); rows without samples are NaN."""
    m = np.asarray(cm, dtype=float)
    support = m.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = np.where(support > 0, 100.0 * m / support, np.nan)
    out = pd.DataFrame(pct, index=cm.index, columns=cm.columns)
    return out


def average_confusions(cms: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Cell-wise mean of matrices over the same classes (fold-averaged counts, fractional)."""
    if not cms:
        raise ValueError("no confusion matrices to average")
    first = cms[0]
    for i, cm in enumerate(cms[1:], start=1):
        if list(cm.index) != list(first.index) or list(cm.columns) != list(first.columns):
            raise ValueError(f"confusion matrix {i} has other classes than matrix 0")
    mean = np.mean([np.asarray(cm, dtype=float) for cm in cms], axis=0)  # (K, K)
    return _frame(mean, [str(c) for c in first.index])


def metrics_from_confusion(cm: pd.DataFrame, *, percent: bool = True) -> dict[str, Any]:
    """``uar``, ``war``, ``paper_uar``, per-class ``recall`` and ``precision`` dicts, and ``n``
    (total count, fractional for averaged matrices). Percent by default; NaN recall -> None."""
    scale = 100.0 if percent else 1.0
    total = float(np.asarray(cm, dtype=float).sum())

    def num(v: float) -> float | None:
        return None if math.isnan(v) else scale * float(v)

    return {
        "uar": scale * uar(cm),
        "war": scale * war(cm),
        "paper_uar": scale * paper_uar(cm),
        "recall": {c: num(v) for c, v in recall_per_class(cm).items()},
        "precision": {c: num(v) for c, v in precision_per_class(cm).items()},
        "n": int(total) if total.is_integer() else total,
    }


def metrics_from_predictions(
    labels: Sequence[str], preds: Sequence[str], classes: Sequence[str], *, percent: bool = True
) -> dict[str, Any]:
    """:func:`metrics_from_confusion` of ``confusion(labels, preds, classes)``."""
    return metrics_from_confusion(confusion(labels, preds, classes), percent=percent)


def summarize_folds(per_fold: pd.DataFrame, *, ddof: int = 0, digits: int = 2) -> pd.DataFrame:
    """Mean and standard deviation of every numeric column of a one-row-per-fold table.

    Returns one row per metric with ``mean``, ``std``, ``n`` (folds with a value; NaN cells,
    e.g. the recall of a class absent from a fold, are skipped) and ``text`` ("mean ± std").
    ``ddof=0`` (NumPy's default, *not* pandas') is a choice: it describes the spread of these exact
    folds rather than estimating a population; ``ddof=1`` is larger by sqrt(n/(n-1)), 1.118 for 5
    folds. The paper reports no spread, so whichever is used must be named beside the numbers.
    """
    numeric = per_fold.select_dtypes(include="number").drop(columns=["fold"], errors="ignore")
    if numeric.empty:
        raise ValueError("per-fold table has no numeric metric columns")
    rows = []
    for col in numeric.columns:
        v = numeric[col].to_numpy(dtype=float)
        v = v[~np.isnan(v)]
        mean = float(v.mean()) if len(v) else math.nan
        std = float(v.std(ddof=ddof)) if len(v) > ddof else math.nan
        rows.append(
            {
                "metric": col,
                "mean": mean,
                "std": std,
                "n": len(v),
                "text": f"{mean:.{digits}f} ± {std:.{digits}f}",
            }
        )
    return pd.DataFrame(rows).set_index("metric")


def write_confusion(cm: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write ``cm`` as CSV: header ``label,<classes...>``, one row per true class (atomic)."""
    out = cm.copy()
    out.index.name = "label"
    out.columns.name = None
    write_csv(out.reset_index(), path)


def read_confusion(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read and validate a confusion-matrix CSV written by :func:`write_confusion`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: confusion matrix file not found")
    # csv, not pandas: pandas silently renames duplicate headers ("sad.1") and coerces cells.
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = [[cell.strip() for cell in r] for r in csv.reader(fh) if any(c.strip() for c in r)]
    if not rows:
        raise ValueError(f"{path}: empty file, expected a header 'label,<class>,...'")
    header, body = rows[0], rows[1:]
    if header[0] != "label":
        raise ValueError(f"{path}: first header cell must be 'label', got {header[0]!r}")
    cols = header[1:]
    if not cols or not body:
        raise ValueError(f"{path}: no classes or no rows; the matrix is empty")
    if len(set(cols)) != len(cols):
        raise ValueError(f"{path}: duplicate class names in the header: {cols}")
    for i, r in enumerate(body, start=2):
        if len(r) != len(header):
            raise ValueError(f"{path}: line {i} has {len(r)} cells, the header has {len(header)}")
    names = [r[0] for r in body]
    if len(names) != len(cols):
        raise ValueError(
            f"{path}: not square: {len(names)} label rows but {len(cols)} prediction columns"
        )
    if names != cols:
        what = "order differs" if sorted(names) == sorted(cols) else "names differ"
        raise ValueError(f"{path}: row classes {names} vs column classes {cols}: {what}")
    values = np.empty((len(cols), len(cols)))
    for i, r in enumerate(body):
        for j, cell in enumerate(r[1:]):
            try:
                v = float(cell)
            except ValueError:
                raise ValueError(
                    f"{path}: cell ({names[i]}, {cols[j]}) = {cell!r} is not a number"
                ) from None
            if not math.isfinite(v) or v < 0:
                raise ValueError(
                    f"{path}: cell ({names[i]}, {cols[j]}) = {cell!r} must be a finite count >= 0"
                )
            values[i, j] = v
    if values.sum() <= 0:
        raise ValueError(f"{path}: every cell is 0; the matrix is empty")
    return _frame(values, cols)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "matrix",
        type=Path,
        help="confusion-matrix CSV: header 'label,<classes>', rows = true labels (sklearn "
        "orientation), cells = counts (may be fractional)",
    )


def run(args: argparse.Namespace) -> int:
    cm = read_confusion(args.matrix)
    result = metrics_from_confusion(cm, percent=True)
    # allow_nan=False: undefined values are already None, so the output is strict JSON.
    print(json.dumps(result, allow_nan=False))
    logger.debug("metrics of %s: %s", args.matrix, result)
    return 0

"""Confidence intervals and paired tests for UAR, WAR and the paper-compatible UAR.

Tables II–IV report a mean over fold probes. Its uncertainty comes from the finite test videos, so
the bootstrap resamples **videos within folds**: each fold's held-out videos are drawn with
replacement (same size), every fold probe is re-scored on its own resample, and the replicate is the
mean over folds, exactly like the table's number. Cross-dataset probes all see the same test
videos, so they share one resample of that set (their errors are correlated; resampling them
independently would understate the spread).

Resampling units are called *strata* (a fold's videos, or a whole test dataset). A stratum's
resamples depend only on the seed and the stratum's name, so a system's interval is the same
whether it is computed alone or beside another system, and two systems scored on the same videos
are compared on the same resamples (a paired bootstrap).

- :func:`replicates`: the fold-mean metrics of each system on ``B`` resamples, vectorised: a
  resample is a count vector over videos, and its confusion matrices are one matrix product.
- :func:`interval`: percentile interval (default 95 %).
- :func:`paired_bootstrap`: two-sided p-value and interval of the difference A − B on shared
  resamples.
- :func:`mcnemar`: McNemar's exact (binomial) test and its mid-p variant on per-video correctness.

Metric definitions are those of :mod:`vjepa_fer.evaluate.metrics` (tested to agree on the
un-resampled data): true UAR = macro recall over classes with labels, WAR = accuracy,
paper-compatible UAR = macro precision over classes among labels or predictions. Percent.
"""

from __future__ import annotations

import argparse
import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from vjepa_fer import schema

METRICS = ("uar", "paper_uar", "war")
BOOTSTRAP_METHOD = "percentile bootstrap, videos resampled within folds"
PAIRED_BOOTSTRAP = "paired bootstrap (videos resampled within folds)"
MCNEMAR_EXACT = "McNemar exact (binomial)"
MCNEMAR_MIDP = "McNemar mid-p"


@dataclass(frozen=True)
class Decisions:
    """One probe's video decisions on one stratum, as class codes.

    ``videos`` names the stratum's videos in a fixed order (the same order for every system
    scored on that stratum); ``y`` are label codes and ``p`` prediction codes into ``classes``,
    ``p = -1`` for a video this probe leaves out (a cross-dataset drop rule).
    """

    stratum: str
    videos: tuple[str, ...]
    y: np.ndarray
    p: np.ndarray
    classes: tuple[str, ...]

    def __post_init__(self) -> None:
        n = len(self.videos)
        if n == 0:
            raise ValueError(f"stratum {self.stratum!r}: no videos")
        if self.y.shape != (n,) or self.p.shape != (n,):
            raise ValueError(
                f"stratum {self.stratum!r}: {n} videos but labels {self.y.shape} and "
                f"predictions {self.p.shape}"
            )
        k = len(self.classes)
        if (self.y < 0).any() or (self.y >= k).any() or (self.p < -1).any() or (self.p >= k).any():
            raise ValueError(f"stratum {self.stratum!r}: class codes outside 0..{k - 1}")

    @classmethod
    def from_labels(
        cls,
        stratum: str,
        videos: Sequence[str],
        labels: Sequence[str],
        preds: Sequence[str | None],
        classes: Sequence[str],
    ) -> Decisions:
        """Build from class names; a prediction ``None`` (or NaN) marks a left-out video."""
        if not len(labels) == len(preds) == len(videos):
            raise ValueError(f"stratum {stratum!r}: videos, labels and predictions differ in size")
        index = {str(c): k for k, c in enumerate(classes)}

        def code(v: object, what: str) -> int:
            if str(v) not in index:
                raise ValueError(f"stratum {stratum!r}: {what} {v!r} not in classes {classes}")
            return index[str(v)]

        def missing(v: object) -> bool:
            return v is None or (isinstance(v, float) and math.isnan(v))

        y, p = [], []
        for label, pred in zip(labels, preds, strict=True):
            if missing(pred):  # left out: its label (maybe outside the classes) counts nowhere
                y.append(0)
                p.append(-1)
            elif missing(label):
                raise ValueError(f"stratum {stratum!r}: a decided video has no label")
            else:
                y.append(code(label, "label"))
                p.append(code(pred, "prediction"))
        y_arr, p_arr = np.array(y, dtype=np.int64), np.array(p, dtype=np.int64)
        return cls(stratum, tuple(map(str, videos)), y_arr, p_arr, tuple(map(str, classes)))

    @property
    def correct(self) -> np.ndarray:
        """Per-video correctness (a left-out video is not correct)."""
        return (self.p >= 0) & (self.p == self.y)


def confusion_stack(weights: np.ndarray, y: np.ndarray, p: np.ndarray, k: int) -> np.ndarray:
    """(B, K, K) confusion matrices [label, prediction] of B weightings of the same videos.

    ``weights`` is (B, n): how often each video occurs in each resample. Left-out videos
    (``p == -1``) count nowhere.
    """
    keep = p >= 0
    cells = y[keep] * k + p[keep]
    onehot = np.zeros((int(keep.sum()), k * k))
    onehot[np.arange(len(cells)), cells] = 1.0
    return (weights[:, keep] @ onehot).reshape(-1, k, k)


def metrics_stack(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Percent UAR, paper-compatible UAR and WAR of each matrix of a (B, K, K) stack.

    A resample without any counted video gives NaN (possible only when a drop rule leaves out
    every resampled video).
    """
    rows, cols = cm.sum(axis=2), cm.sum(axis=1)
    diag = np.diagonal(cm, axis1=1, axis2=2)
    total = rows.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(rows > 0, diag / rows, 0.0)
        supported = (rows > 0).sum(axis=1)
        uar = np.where(supported > 0, recall.sum(axis=1) / supported, np.nan)
        precision = np.where(cols > 0, diag / cols, 0.0)
        present = (rows > 0) | (cols > 0)
        paper = np.where(
            present.any(axis=1), (precision * present).sum(axis=1) / present.sum(axis=1), np.nan
        )
        war = np.where(total > 0, diag.sum(axis=1) / total, np.nan)
    return {"uar": 100.0 * uar, "paper_uar": 100.0 * paper, "war": 100.0 * war}


def stratum_seed(seed: int, stratum: str) -> np.random.SeedSequence:
    """A stratum's own random stream: depends on the seed and the stratum name only."""
    return np.random.SeedSequence([int(seed), zlib.crc32(stratum.encode("utf-8"))])


def resample_weights(n: int, samples: int, rng: np.random.Generator) -> np.ndarray:
    """(samples, n) counts of each of n videos in ``samples`` resamples with replacement."""
    draws = rng.integers(0, n, size=(samples, n))
    flat = draws + (np.arange(samples) * n)[:, None]
    return np.bincount(flat.ravel(), minlength=samples * n).reshape(samples, n).astype(float)


@dataclass(frozen=True)
class Replicates:
    """A system's fold-mean metrics: the estimate on the data and ``B`` bootstrap replicates."""

    estimate: dict[str, float]
    samples: dict[str, np.ndarray]


def replicates(
    systems: Mapping[str, Sequence[Decisions]], *, samples: int, seed: int
) -> dict[str, Replicates]:
    """Fold-mean metrics of every system on the same stratum resamples.

    Each system is a list of per-fold :class:`Decisions`; systems scored on the same stratum must
    list its videos in the same order (checked), so they are resampled together (paired).
    """
    if samples < 1:
        raise ValueError(f"bootstrap samples must be >= 1, got {samples}")
    strata: dict[str, tuple[str, ...]] = {}
    for name, folds in systems.items():
        if not folds:
            raise ValueError(f"system {name!r}: no folds")
        for d in folds:
            known = strata.setdefault(d.stratum, d.videos)
            if known != d.videos:
                raise ValueError(
                    f"stratum {d.stratum!r}: system {name!r} lists other videos than an earlier "
                    "system; paired resampling needs the same videos in the same order"
                )
    weights = {
        s: resample_weights(len(v), samples, np.random.default_rng(stratum_seed(seed, s)))
        for s, v in sorted(strata.items())
    }
    out = {}
    for name, folds in systems.items():
        per_fold_est, per_fold_rep = [], []
        for d in folds:
            k = len(d.classes)
            ones = np.ones((1, len(d.videos)))
            per_fold_est.append(metrics_stack(confusion_stack(ones, d.y, d.p, k)))
            per_fold_rep.append(metrics_stack(confusion_stack(weights[d.stratum], d.y, d.p, k)))
        est = {m: float(np.mean([f[m][0] for f in per_fold_est])) for m in METRICS}
        with np.errstate(invalid="ignore"):
            rep = {m: np.nanmean(np.stack([f[m] for f in per_fold_rep]), axis=0) for m in METRICS}
        out[name] = Replicates(est, rep)
    return out


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap interval."""

    estimate: float
    low: float
    high: float
    confidence: float
    samples: int
    method: str = BOOTSTRAP_METHOD


def interval(
    estimate: float,
    reps: np.ndarray,
    confidence: float = schema.default("evaluation.bootstrap.confidence"),
) -> Interval:
    """Percentile interval of the replicates (NaN replicates are ignored)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    finite = reps[np.isfinite(reps)]
    if not len(finite):
        return Interval(estimate, math.nan, math.nan, confidence, len(reps))
    alpha = (1 - confidence) / 2
    low, high = np.quantile(finite, [alpha, 1 - alpha])
    return Interval(estimate, float(low), float(high), confidence, len(reps))


@dataclass(frozen=True)
class TestResult:
    """A paired test: its name, the difference A − B, and a two-sided p-value."""

    test_name: str
    metric: str
    estimate_a: float
    estimate_b: float
    difference: float
    p_value: float
    low: float = math.nan  # interval of the difference (bootstrap only)
    high: float = math.nan
    n: int = 0  # videos paired (McNemar) or bootstrap samples
    a_only: int = 0  # McNemar: videos A gets right and B wrong
    b_only: int = 0


def paired_bootstrap(
    a: Replicates,
    b: Replicates,
    metric: str,
    *,
    confidence: float = schema.default("evaluation.bootstrap.confidence"),
) -> TestResult:
    """Paired bootstrap test of A − B on shared resamples.

    Two-sided p = 2·min(P*(Δ ≤ 0), P*(Δ ≥ 0)) with the +1 correction ((count + 1)/(B + 1)),
    capped at 1: how often the resampled difference falls on the other side of zero. Identical
    systems give p = 1.
    """
    diff = a.samples[metric] - b.samples[metric]
    diff = diff[np.isfinite(diff)]
    n = len(diff)
    observed = a.estimate[metric] - b.estimate[metric]
    if n == 0:
        p = math.nan
        ci = Interval(observed, math.nan, math.nan, confidence, 0)
    else:
        below = (int((diff <= 0).sum()) + 1) / (n + 1)
        above = (int((diff >= 0).sum()) + 1) / (n + 1)
        p = min(1.0, 2 * min(below, above))
        ci = interval(observed, diff, confidence)
    return TestResult(
        PAIRED_BOOTSTRAP,
        metric,
        a.estimate[metric],
        b.estimate[metric],
        observed,
        p,
        ci.low,
        ci.high,
        n,
    )


def binomial_pvalues(b: int, c: int) -> tuple[float, float]:
    """Two-sided exact and mid-p values of ``min(b, c)`` successes in ``b + c`` fair trials."""
    from scipy.stats import binom

    n, m = b + c, min(b, c)
    if n == 0:
        return 1.0, 1.0
    cdf, pmf = float(binom.cdf(m, n, 0.5)), float(binom.pmf(m, n, 0.5))
    return min(1.0, 2 * cdf), min(1.0, 2 * (cdf - 0.5 * pmf))


def mcnemar(a: Sequence[Decisions], b: Sequence[Decisions], *, mid_p: bool = False) -> TestResult:
    """McNemar's test on per-video correctness of two systems over the same folds.

    Pairs every video both systems decided (a left-out video in either is skipped); ``a_only``
    counts videos only A gets right, ``b_only`` those only B gets right. The exact test is the
    two-sided binomial test of ``a_only`` among the discordant pairs at p = 0.5; mid-p subtracts
    half the probability of the observed count (less conservative, close to nominal size).
    ``difference`` is the accuracy difference in percent over the paired videos.
    """
    if len(a) != len(b):
        raise ValueError(f"McNemar needs the same folds: {len(a)} vs {len(b)}")
    ca, cb = [], []
    for da, db in zip(a, b, strict=True):
        if da.stratum != db.stratum or da.videos != db.videos:
            raise ValueError(f"McNemar needs the same videos: {da.stratum!r} vs {db.stratum!r}")
        both = (da.p >= 0) & (db.p >= 0)
        ca.append(da.correct[both])
        cb.append(db.correct[both])
    xa, xb = np.concatenate(ca), np.concatenate(cb)
    n = len(xa)
    a_only, b_only = int((xa & ~xb).sum()), int((~xa & xb).sum())
    exact, midp = binomial_pvalues(a_only, b_only)
    acc_a = 100.0 * xa.mean() if n else math.nan
    acc_b = 100.0 * xb.mean() if n else math.nan
    return TestResult(
        MCNEMAR_MIDP if mid_p else MCNEMAR_EXACT,
        "correct",
        acc_a,
        acc_b,
        acc_a - acc_b,
        midp if mid_p else exact,
        n=n,
        a_only=a_only,
        b_only=b_only,
    )


def add_bootstrap_arguments(parser: argparse.ArgumentParser) -> None:
    """The bootstrap options of ``evaluate`` and ``compare-encoders`` (config
    ``evaluation.bootstrap`` and ``seed``)."""
    parser.add_argument(
        "--bootstrap-samples",
        type=int,
        default=schema.default("evaluation.bootstrap.samples"),
        help="bootstrap resamples for the confidence intervals and paired tests",
    )
    parser.add_argument(
        "--confidence",
        type=float,
        default=schema.default("evaluation.bootstrap.confidence"),
        help="confidence level of the intervals",
    )
    parser.add_argument(
        "--seed", type=int, default=schema.default("seed"), help="seed of the bootstrap resamples"
    )

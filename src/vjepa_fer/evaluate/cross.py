"""Cross-dataset evaluation (paper Table IV): a probe trained on one dataset, tested on the other.

Implements docs/protocol.md "Cross-dataset" and docs/datasets.md "Label spaces and the
cross-dataset rules". Input is the per-video table of :func:`vjepa_fer.evaluate.voting.vote` for one
probe on the whole test dataset; the probe's classes are read from its ``s_<class>`` columns (in
order). Call it once per fold probe and average the metrics over the probes.

Let P be the probe's classes and T the test dataset's classes.

**Authors' rules** (``strict=False``). The prediction is the voted argmax over *all* of the probe's
outputs (column ``pbv`` or ``mv``), then:

- a prediction outside T is left out (reason ``predicted_<class>``), except ``calm`` with
  ``calm="merge"``, which counts as ``neutral``. RAVDESS -> CREMA-D: "surprised" predictions are
  always left out; "calm" predictions are left out (drop) or count as "neutral" (merge).
- a label outside P is left out (reason ``label_<class>``), except ``calm`` with ``calm="merge"``,
  which is relabelled ``neutral``. CREMA-D -> RAVDESS: "surprised" videos are always left out;
  "calm" videos are left out (drop) or relabelled "neutral" (merge).

A video left out for several reasons is counted once, under its label reason. Left-out videos
leave numerator and denominator. Classes of the result: T without the labels that rule removed, in
T's order (R -> C: CREMA-D's 6; C -> R: neutral, happy, sad, angry, fearful, disgust).

**Strict variant** (``strict=True``; ours, not the paper's): nothing is dropped or merged. The
argmax is restricted to the shared classes P ∩ T, from the video table without renormalising:
PBV = argmax of the summed posteriors ``s_`` over the shared classes (exact ties -> lowest index);
MV = argmax of the vote counts ``v_`` over the shared classes, ties by ``mv_tie`` (clips whose own
argmax was a non-shared class, e.g. "surprised", cast no counted vote; a video with no shared vote
at all is a full tie and falls to the tie rule). Classes of the result: all of T. R -> C: every
CREMA-D video is kept, predictions among CREMA-D's 6. C -> R: every RAVDESS video is kept; "calm"
and "surprised" videos stay as rows that can never be predicted correctly (recall 0).

For figures (paper Fig. 4) and the paper's prose numbers (e.g. the share of calm videos predicted
neutral), :func:`full_confusion` gives the rectangular matrix before any rule: every test label
(rows) against every probe output (columns), nothing dropped. It is never used for UAR/WAR.

    from vjepa_fer.evaluate.cross import cross_dataset
    labels, preds, classes, dropped = cross_dataset(videos, "ravdess", "crema-d", calm="drop")
    metrics_from_predictions(labels, preds, classes)
"""

from __future__ import annotations

import logging
from typing import NamedTuple

import numpy as np
import pandas as pd

from vjepa_fer.datasets import labels_for
from vjepa_fer.evaluate.voting import MV_TIE_RULES, mv_decision, pbv_decision, tie_ranks

logger = logging.getLogger(__name__)

CALM_RULES: tuple[str, ...] = ("drop", "merge")
VOTING_RULES: tuple[str, ...] = ("pbv", "mv")


class CrossResult(NamedTuple):
    """Unpacks as ``labels, preds, classes, dropped``.

    ``labels`` and ``preds`` are string Series indexed by the kept videos; ``classes`` is the class
    list of the confusion matrix; ``dropped`` maps each reason to the number of videos left out.
    """

    labels: pd.Series
    preds: pd.Series
    classes: list[str]
    dropped: dict[str, int]


def probe_classes(videos: pd.DataFrame) -> list[str]:
    """The probe's class order, from the ``s_<class>`` columns of a vote table."""
    classes = [str(c)[2:] for c in videos.columns if str(c).startswith("s_")]
    if not classes:
        raise ValueError("video table has no s_<class> columns (expected the output of vote())")
    return classes


def cross_dataset(
    videos: pd.DataFrame,
    train_dataset: str,
    test_dataset: str,
    *,
    calm: str = "drop",
    voting: str = "pbv",
    strict: bool = False,
    mv_tie: str = "lowest",
    tie_order: list[str] | None = None,
) -> CrossResult:
    """Apply the cross-dataset rules (module docstring) to one probe's vote table.

    ``calm`` is ``"drop"`` or ``"merge"`` (authors' variants A and B); ``voting`` picks PBV or MV.
    ``strict=True`` drops and merges nothing, so it refuses ``calm="merge"``; ``mv_tie`` is used
    only there, where MV is re-decided over the shared classes (``tie_order``: the authors'
    class order of the probe, needed by ``mv_tie="authors"``).
    """
    if calm not in CALM_RULES:
        raise ValueError(f"calm must be one of {CALM_RULES}, got {calm!r}")
    if voting not in VOTING_RULES:
        raise ValueError(f"voting must be one of {VOTING_RULES}, got {voting!r}")
    if mv_tie not in MV_TIE_RULES:
        raise ValueError(f"mv_tie must be one of {MV_TIE_RULES}, got {mv_tie!r}")
    if strict and calm != "drop":
        raise ValueError("the strict variant drops and merges nothing; leave calm at 'drop'")
    missing = [c for c in ("video", "label", voting) if c not in videos.columns]
    if missing:
        raise ValueError(f"video table lacks column(s) {missing}")
    if videos.empty:
        raise ValueError("video table has no rows")

    probe = probe_classes(videos)
    trained = labels_for(train_dataset)
    if not set(trained) <= set(probe):
        raise ValueError(
            f"probe classes {probe} do not cover {train_dataset}'s classes {list(trained)}"
        )
    test = list(labels_for(test_dataset))
    labels = videos["label"].astype(str).to_numpy(dtype=object)
    unknown = sorted(set(labels) - set(test))
    if unknown:
        raise ValueError(f"labels {unknown} are not {test_dataset} classes {test}")
    index = pd.Index(videos["video"].astype(str), name="video")

    if strict:
        preds = _strict_predictions(videos, probe, test, voting, mv_tie, tie_order)
        return CrossResult(
            pd.Series(labels, index=index, name="label"),
            pd.Series(preds, index=index, name="prediction"),
            test,
            {},
        )

    preds = videos[voting].astype(str).to_numpy(dtype=object).copy()
    keep = np.ones(len(videos), dtype=bool)
    dropped: dict[str, int] = {}
    merge = calm == "merge"

    # Labels first: a video left out for its label is counted under that reason only.
    for c in test:
        if c in probe:
            continue
        hit = labels == c
        if c == "calm" and merge and "neutral" in probe:
            labels = np.where(hit, "neutral", labels).astype(object)
            logger.info("relabelled %d calm videos as neutral", int(hit.sum()))
        else:
            dropped[f"label_{c}"] = int((hit & keep).sum())
            keep &= ~hit
    for c in probe:
        if c in test:
            continue
        hit = preds == c
        if c == "calm" and merge and "neutral" in test:
            preds = np.where(hit, "neutral", preds).astype(object)
            logger.info("counted %d calm predictions as neutral", int((hit & keep).sum()))
        else:
            dropped[f"predicted_{c}"] = int((hit & keep).sum())
            keep &= ~hit

    removed = {c for c in test if c not in probe}
    classes = [c for c in test if c not in removed]
    logger.info(
        "%s -> %s (%s, calm=%s): kept %d of %d videos, dropped %s",
        train_dataset,
        test_dataset,
        voting,
        calm,
        int(keep.sum()),
        len(videos),
        dropped,
    )
    return CrossResult(
        pd.Series(labels[keep], index=index[keep], name="label"),
        pd.Series(preds[keep], index=index[keep], name="prediction"),
        classes,
        dropped,
    )


def _strict_predictions(
    videos: pd.DataFrame,
    probe: list[str],
    test: list[str],
    voting: str,
    mv_tie: str,
    tie_order: list[str] | None = None,
) -> np.ndarray:
    """Argmax over the shared classes only (probe order), from the summed posteriors / votes."""
    shared = [c for c in probe if c in test]
    if not shared:
        raise ValueError(f"probe classes {probe} share nothing with the test classes {test}")
    sums = videos[[f"s_{c}" for c in shared]].to_numpy(dtype=float)  # (videos, shared)
    if voting == "pbv":
        idx = pbv_decision(sums)
    else:
        vcols = [f"v_{c}" for c in shared]
        absent = [c for c in vcols if c not in videos.columns]
        if absent:
            raise ValueError(f"video table lacks vote columns {absent} needed for strict MV")
        counts = videos[vcols].to_numpy(dtype=float)
        no_vote = int((counts.sum(axis=1) == 0).sum())
        if no_vote:
            logger.info("%d videos have no vote for a shared class; tie rule %r", no_vote, mv_tie)
        idx = mv_decision(counts, sums, mv_tie, tie_ranks(shared, tie_order))
    return np.asarray(shared, dtype=object)[idx]


def full_confusion(videos: pd.DataFrame, test_dataset: str, *, voting: str = "pbv") -> pd.DataFrame:
    """Counts of test labels (rows, the test dataset's order) x voted probe outputs (columns, the
    probe's order), before any drop/merge rule. Rectangular when the label spaces differ."""
    if voting not in VOTING_RULES:
        raise ValueError(f"voting must be one of {VOTING_RULES}, got {voting!r}")
    probe = probe_classes(videos)
    test = list(labels_for(test_dataset))
    labels = videos["label"].astype(str)
    preds = videos[voting].astype(str)
    unknown = sorted((set(labels) - set(test)) | (set(preds) - set(probe)))
    if unknown:
        raise ValueError(f"labels/predictions {unknown} outside {test_dataset} / probe classes")
    rows = pd.Categorical(labels, categories=test).codes
    cols = pd.Categorical(preds, categories=probe).codes
    counts = np.zeros((len(test), len(probe)), dtype=np.int64)  # (label, prediction)
    np.add.at(counts, (rows, cols), 1)
    cm = pd.DataFrame(counts, index=test, columns=probe)
    cm.index.name = "label"
    cm.columns.name = "prediction"
    return cm

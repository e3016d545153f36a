"""Video decisions from per-clip posteriors: posterior-based vote (PBV) and majority vote (MV).

Implements docs/protocol.md, section "Voting". The full-video evaluation scores every clip of
a video with the probe (softmax over the probe's outputs); the video's prediction is then

- **PBV**: the argmax of the *sum* of the clip posteriors;
- **MV**: the argmax of the per-clip argmax vote counts.

Both come from the same saved per-clip posterior table (one probe x one evaluation dataset) with
columns ``video``, ``clip``, ``label``, optional ``start`` and ``view``, and one ``p_<class>``
column per probe output. Tie rules (all deterministic, all by the probe's class order):

- per-clip argmax: exact ties go to the lowest class index;
- PBV: exact ties of the summed posterior go to the lowest class index;
- MV: ``mv_tie="authors"`` (the pipeline's default, the authors' code) gives the tied class with
  the lowest index **of the authors' label map** (``tie_order``; for CREMA-D SAD, FEA, HAP, DIS,
  NEU, ANG, so an angry/sad tie goes to sad; for RAVDESS emotion code − 1), see
  :func:`authors_tie_order`; ``mv_tie="lowest"`` gives the lowest index of the probe's own class
  order; ``mv_tie="posterior"`` gives, among the tied classes, the one with the larger summed
  posterior, and only then the lowest index. The probe's class order (and the display order of
  tables and figures) is unaffected by the tie order.

Views: the authors' full-video evaluation uses one view. When the table holds several views of a
clip (the 3-view switch), their softmax vectors are **averaged per clip first**, and the averaged
clip then votes once; views are never counted as separate clips. ``n_clips`` counts clips.

Usage::

    from vjepa_fer.evaluate.voting import vote
    videos = vote(posteriors, labels_for("ravdess"))            # one row per video
    videos[["video", "label", "pbv", "mv"]]
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from vjepa_fer.datasets import get_dataset

logger = logging.getLogger(__name__)

MV_TIE_RULES: tuple[str, ...] = ("authors", "lowest", "posterior")


def authors_tie_order(dataset: str, classes: Sequence[str]) -> list[str]:
    """``classes`` ordered as the authors' label map of the probe's ``dataset`` (their MV tie
    priority); outputs the map lacks (e.g. unused head outputs) follow in the given order.

    A dataset without a known authors' map keeps the probe's order (logged).
    """
    try:
        module = get_dataset(dataset)
        known = module.authors_label_order or module.classes
    except ValueError:  # a custom dataset not registered in this process
        known = None
    if not known:
        logger.info("no authors' label map for %r: MV ties follow the probe's order", dataset)
        return list(classes)
    head = [c for c in known if c in classes]
    return head + [c for c in classes if c not in head]


# Softmax rows should sum to 1; half-precision storage loses ~1e-3, so only far-off sums warn.
_SUM_TOLERANCE = 1e-2


def pbv_decision(sums: np.ndarray) -> np.ndarray:
    """Index of the largest summed posterior per row; exact ties -> lowest index.

    ``sums`` is (videos, classes). ``np.argmax`` returns the first maximum, which is the
    lowest-index rule.
    """
    sums = np.asarray(sums, dtype=float)
    return np.argmax(sums, axis=1)


def mv_decision(
    counts: np.ndarray,
    sums: np.ndarray,
    tie: str = "lowest",
    rank: Sequence[int] | np.ndarray | None = None,
) -> np.ndarray:
    """Index of the most-voted class per row, ties broken by ``tie`` (see module docstring).

    ``counts`` and ``sums`` are (videos, classes), columns in the same class order. ``rank``
    (tie ``"authors"``) gives each column's position in the authors' label map: the tied column
    with the smallest rank wins.
    """
    if tie not in MV_TIE_RULES:
        raise ValueError(f"mv_tie must be one of {MV_TIE_RULES}, got {tie!r}")
    counts = np.asarray(counts, dtype=float)
    if tie == "lowest":
        return np.argmax(counts, axis=1)
    if tie == "authors":
        if rank is None:
            raise ValueError("mv_tie='authors' needs the authors' class order (rank)")
        rank = np.asarray(rank, dtype=float)
        if rank.shape != (counts.shape[1],):
            raise ValueError(f"rank has shape {rank.shape}, expected ({counts.shape[1]},)")
        tied = counts == counts.max(axis=1, keepdims=True)
        return np.argmin(np.where(tied, rank[None, :], np.inf), axis=1)
    sums = np.asarray(sums, dtype=float)
    if sums.shape != counts.shape:
        raise ValueError(f"counts {counts.shape} and sums {sums.shape} differ in shape")
    tied = counts == counts.max(axis=1, keepdims=True)  # (videos, classes) bool
    # Non-tied classes can never win; argmax over the remaining sums keeps lowest-index on ties.
    return np.argmax(np.where(tied, sums, -np.inf), axis=1)


def posterior_columns(classes: Sequence[str]) -> list[str]:
    """The ``p_<class>`` column names of a posterior table, in the probe's class order."""
    return [f"p_{c}" for c in classes]


def _check_classes(classes: Sequence[str]) -> list[str]:
    classes = [str(c) for c in classes]
    if not classes:
        raise ValueError("classes must not be empty")
    if len(set(classes)) != len(classes):
        raise ValueError(f"classes contain duplicates: {classes}")
    return classes


def _check_table(posteriors: pd.DataFrame, classes: list[str]) -> list[str]:
    """Validate the posterior table against the data contract; return its ``p_`` columns."""
    missing = [c for c in ("video", "clip", "label") if c not in posteriors.columns]
    if missing:
        raise ValueError(f"posterior table lacks column(s) {missing}")
    pcols = posterior_columns(classes)
    have = [c for c in posteriors.columns if str(c).startswith("p_")]
    if set(have) != set(pcols):
        raise ValueError(
            "posterior columns do not match the probe's classes: "
            f"missing {sorted(set(pcols) - set(have))}, unexpected {sorted(set(have) - set(pcols))}"
        )
    if posteriors.empty:
        raise ValueError("posterior table has no rows")
    for col in ("video", "clip", "label"):
        if posteriors[col].isna().any():
            raise ValueError(f"posterior table has empty {col!r} cells")
    keys = ["video", "clip"] + (["view"] if "view" in posteriors.columns else [])
    dup = posteriors.duplicated(keys)
    if dup.any():
        first = posteriors.loc[dup, keys].iloc[0].to_dict()
        raise ValueError(f"{int(dup.sum())} duplicate rows for the same {keys}, e.g. {first}")
    values = posteriors[pcols].to_numpy(dtype=float)
    if not np.isfinite(values).all():
        raise ValueError("posterior table holds NaN or infinite probabilities")
    if (values < 0).any():
        raise ValueError("posterior table holds negative probabilities (logits, not softmax?)")
    off = np.abs(values.sum(axis=1) - 1.0) > _SUM_TOLERANCE
    if off.any():
        logger.warning("%d clip rows do not sum to 1 (softmax expected)", int(off.sum()))
    labels_per_video = posteriors.groupby("video", sort=False)["label"].nunique()
    bad = labels_per_video[labels_per_video > 1]
    if len(bad):
        raise ValueError(f"{len(bad)} videos carry more than one label, e.g. {bad.index[0]!r}")
    return pcols


def tie_ranks(classes: Sequence[str], tie_order: Sequence[str] | None) -> np.ndarray | None:
    """Position of each class in ``tie_order`` (None stays None); every class must be in it."""
    if tie_order is None:
        return None
    order = [str(c) for c in tie_order]
    missing = [c for c in classes if c not in order]
    if missing:
        raise ValueError(f"tie order {order} lacks classes {missing}")
    return np.array([order.index(c) for c in classes])


def vote(
    posteriors: pd.DataFrame,
    classes: Sequence[str],
    *,
    mv_tie: str = "lowest",
    tie_order: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per video: ``video``, ``label``, ``n_clips``, ``pbv``, ``mv``, ``mv_tied``,
    ``s_<class>`` (summed clip posteriors) and ``v_<class>`` (per-clip argmax vote counts).

    ``classes`` is the probe's class order (the index order of its outputs); every ``p_<class>``
    column of ``posteriors`` must belong to it. Views of one clip are averaged before voting.
    ``mv_tied`` says whether the MV tie rule decided the video. Rows are sorted by video name.
    ``tie_order`` (needed by ``mv_tie="authors"``) is the authors' class order, e.g.
    :func:`authors_tie_order`; it changes no column order.
    """
    if mv_tie not in MV_TIE_RULES:
        raise ValueError(f"mv_tie must be one of {MV_TIE_RULES}, got {mv_tie!r}")
    classes = _check_classes(classes)
    rank = tie_ranks(classes, tie_order)
    pcols = _check_table(posteriors, classes)

    table = posteriors[["video", "clip", "label", *pcols]]
    if "view" in posteriors.columns and posteriors["view"].nunique() > 1:
        # Several views of a clip: one averaged softmax per clip, so a clip votes once.
        table = table.groupby(["video", "clip"], sort=True, as_index=False).agg(
            {"label": "first", **{c: "mean" for c in pcols}}
        )
        logger.debug("averaged %d view rows into %d clips", len(posteriors), len(table))

    probs = table[pcols].to_numpy(dtype=float)  # (clips, classes)
    clip_pred = np.argmax(probs, axis=1)  # first maximum = lowest index on exact ties
    onehot = np.zeros_like(probs)
    onehot[np.arange(len(clip_pred)), clip_pred] = 1.0

    # Video codes in sorted order; every clip row points at its video's output row.
    inverse, videos = pd.factorize(table["video"], sort=True)
    n_videos, n_classes = len(videos), len(classes)
    sums = np.zeros((n_videos, n_classes))
    counts = np.zeros((n_videos, n_classes))
    np.add.at(sums, inverse, probs)
    np.add.at(counts, inverse, onehot)
    n_clips = np.bincount(inverse, minlength=n_videos)
    first_row = np.unique(inverse, return_index=True)[1]  # labels are constant per video

    names = np.asarray(classes, dtype=object)
    pbv = pbv_decision(sums)
    mv = mv_decision(counts, sums, mv_tie, rank)
    tied = (counts == counts.max(axis=1, keepdims=True)).sum(axis=1) > 1

    out = pd.DataFrame(
        {
            "video": np.asarray(videos),
            "label": table["label"].to_numpy()[first_row],
            "n_clips": n_clips.astype(int),
            "pbv": names[pbv],
            "mv": names[mv],
            "mv_tied": tied,
        }
    )
    for k, c in enumerate(classes):
        out[f"s_{c}"] = sums[:, k]
    for k, c in enumerate(classes):
        out[f"v_{c}"] = counts[:, k].astype(int)
    if tied.any():
        logger.info("MV tie rule %r decided %d of %d videos", mv_tie, int(tied.sum()), n_videos)
    return out

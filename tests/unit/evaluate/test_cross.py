import numpy as np
import pandas as pd
import pytest

from vjepa_fer.evaluate.cross import cross_dataset, full_confusion, probe_classes
from vjepa_fer.evaluate.metrics import confusion, metrics_from_predictions, row_normalise
from vjepa_fer.evaluate.voting import vote
from vjepa_fer.labels import CREMAD_LABELS, RAVDESS_LABELS

R = list(RAVDESS_LABELS)
C = list(CREMAD_LABELS)
SHARED_R_ORDER = ["neutral", "happy", "sad", "angry", "fearful", "disgust"]


def videos(rows: list[tuple], probe: list[str]) -> pd.DataFrame:
    """rows: (label, pbv, mv, {class: summed posterior}, {class: votes}) -> a vote() table."""
    out = []
    for i, (label, pbv, mv, sums, votes) in enumerate(rows):
        d = {"video": f"v{i}", "label": label, "n_clips": 4, "pbv": pbv, "mv": mv}
        d.update({f"s_{c}": float(sums.get(c, 0.0)) for c in probe})
        d.update({f"v_{c}": int(votes.get(c, 0)) for c in probe})
        out.append(d)
    return pd.DataFrame(out)


# RAVDESS-trained probe on CREMA-D videos.
R_TO_C = [
    ("angry", "angry", "angry", {"angry": 3.0, "sad": 1.0}, {"angry": 4}),
    ("sad", "surprised", "surprised", {"surprised": 2.0, "sad": 1.5}, {"surprised": 3, "sad": 1}),
    ("neutral", "calm", "calm", {"calm": 2.5, "neutral": 1.0}, {"calm": 3, "neutral": 1}),
    (
        "happy",
        "calm",
        "happy",
        {"calm": 1.6, "happy": 1.5, "disgust": 0.9},
        {"calm": 1, "happy": 3},
    ),
    ("disgust", "disgust", "surprised", {"disgust": 2.0, "surprised": 1.9}, {"surprised": 4}),
    ("fearful", "fearful", "fearful", {"fearful": 4.0}, {"fearful": 4}),
]


def test_r_to_c_drop():
    t = videos(R_TO_C, R)
    labels, preds, classes, dropped = cross_dataset(t, "ravdess", "crema-d", calm="drop")
    assert classes == C
    assert dropped == {"predicted_calm": 2, "predicted_surprised": 1}
    assert list(labels.index) == ["v0", "v4", "v5"]
    assert list(labels) == ["angry", "disgust", "fearful"] and list(preds) == list(labels)
    m = metrics_from_predictions(labels, preds, classes)
    assert m["war"] == 100.0 and m["n"] == 3


def test_r_to_c_merge():
    t = videos(R_TO_C, R)
    labels, preds, classes, dropped = cross_dataset(t, "ravdess", "crema-d", calm="merge")
    assert classes == C
    assert dropped == {"predicted_surprised": 1}
    assert list(preds.index) == ["v0", "v2", "v3", "v4", "v5"]
    assert preds["v2"] == "neutral" and preds["v3"] == "neutral"  # calm counted as neutral
    cm = confusion(labels, preds, classes)
    assert cm.loc["neutral", "neutral"] == 1 and cm.loc["happy", "neutral"] == 1
    assert cm.to_numpy().sum() == 5


def test_r_to_c_mv_uses_mv_column():
    t = videos(R_TO_C, R)
    labels, preds, _, dropped = cross_dataset(t, "ravdess", "crema-d", calm="drop", voting="mv")
    assert dropped == {"predicted_calm": 1, "predicted_surprised": 2}
    assert list(preds.index) == ["v0", "v3", "v5"] and preds["v3"] == "happy"


def test_r_to_c_strict_drops_nothing():
    t = videos(R_TO_C, R)
    labels, preds, classes, dropped = cross_dataset(t, "ravdess", "crema-d", strict=True)
    assert dropped == {} and classes == C and len(labels) == len(t)
    # argmax of the summed posteriors over the 6 shared outputs, no renormalisation
    assert list(preds) == ["angry", "sad", "neutral", "happy", "disgust", "fearful"]
    _, mv, _, _ = cross_dataset(t, "ravdess", "crema-d", strict=True, voting="mv")
    # v1: votes surprised 3 / sad 1 -> sad; v4: only surprised votes -> full tie -> lowest
    # shared index in the probe's order (neutral); v2: calm 3, neutral 1 -> neutral.
    assert list(mv) == ["angry", "sad", "neutral", "happy", "neutral", "fearful"]
    _, mvp, _, _ = cross_dataset(
        t, "ravdess", "crema-d", strict=True, voting="mv", mv_tie="posterior"
    )
    assert mvp["v4"] == "disgust"  # full tie broken by the largest shared summed posterior


# CREMA-D-trained probe on RAVDESS videos.
C_TO_R = [
    ("neutral", "neutral", "neutral", {"neutral": 3.0}, {"neutral": 4}),
    ("calm", "neutral", "neutral", {"neutral": 2.0, "sad": 1.0}, {"neutral": 3, "sad": 1}),
    ("calm", "sad", "sad", {"sad": 3.0}, {"sad": 4}),
    ("surprised", "happy", "happy", {"happy": 3.0}, {"happy": 4}),
    ("surprised", "fearful", "fearful", {"fearful": 3.0}, {"fearful": 4}),
    ("surprised", "angry", "angry", {"angry": 3.0}, {"angry": 4}),
    ("angry", "angry", "angry", {"angry": 3.0}, {"angry": 4}),
    ("disgust", "sad", "sad", {"sad": 2.0}, {"sad": 4}),
]


def test_c_to_r_drop():
    t = videos(C_TO_R, C)
    labels, preds, classes, dropped = cross_dataset(t, "crema-d", "ravdess", calm="drop")
    assert classes == SHARED_R_ORDER
    assert dropped == {"label_calm": 2, "label_surprised": 3}
    assert list(labels.index) == ["v0", "v6", "v7"]
    m = metrics_from_predictions(labels, preds, classes, percent=False)
    assert m["war"] == pytest.approx(2 / 3)
    assert m["recall"]["neutral"] == 1.0 and m["recall"]["disgust"] == 0.0


def test_c_to_r_merge():
    t = videos(C_TO_R, C)
    labels, preds, classes, dropped = cross_dataset(t, "crema-d", "ravdess", calm="merge")
    assert classes == SHARED_R_ORDER
    assert dropped == {"label_surprised": 3}
    assert list(labels.index) == ["v0", "v1", "v2", "v6", "v7"]
    assert labels["v1"] == "neutral" and labels["v2"] == "neutral"  # calm relabelled
    cm = confusion(labels, preds, classes)
    assert cm.loc["neutral", "neutral"] == 2 and cm.loc["neutral", "sad"] == 1


def test_c_to_r_strict_keeps_calm_and_surprised_rows():
    t = videos(C_TO_R, C)
    labels, preds, classes, dropped = cross_dataset(t, "crema-d", "ravdess", strict=True)
    assert dropped == {} and classes == R and len(labels) == 8
    assert list(preds) == list(t["pbv"])  # all CREMA-D outputs are shared: argmax unchanged
    cm = confusion(labels, preds, classes)
    assert cm.loc["calm"].sum() == 2 and cm.loc["surprised"].sum() == 3
    assert cm["calm"].sum() == 0 and cm["surprised"].sum() == 0  # never predicted
    m = metrics_from_predictions(labels, preds, classes, percent=False)
    assert m["recall"]["calm"] == 0.0 and m["recall"]["surprised"] == 0.0
    assert m["war"] == pytest.approx(2 / 8)


def test_from_vote_end_to_end():
    # Per-clip posteriors of a RAVDESS probe on two CREMA-D videos.
    rng = np.random.default_rng(0)
    rows = []
    for v, (label, hot) in enumerate([("sad", "surprised"), ("happy", "happy")]):
        for clip in range(5):
            p = rng.dirichlet(np.ones(8)) * 0.2
            p[R.index(hot)] += 0.8
            rows.append({"video": f"v{v}", "clip": clip, "view": 0, "label": label})
            rows[-1].update({f"p_{c}": x for c, x in zip(R, p, strict=True)})
    t = vote(pd.DataFrame(rows), R)
    assert probe_classes(t) == R
    labels, preds, _, dropped = cross_dataset(t, "ravdess", "crema-d", calm="merge")
    assert dropped == {"predicted_surprised": 1} and list(preds) == ["happy"]


def test_eight_output_crema_d_probe_drops_unused_outputs():
    probe = C + ["unused6", "unused7"]
    t = videos(
        [
            ("neutral", "unused6", "neutral", {"unused6": 2.0, "neutral": 1.0}, {"neutral": 4}),
            ("sad", "sad", "sad", {"sad": 2.0}, {"sad": 4}),
        ],
        probe,
    )
    labels, preds, classes, dropped = cross_dataset(t, "crema-d", "ravdess", calm="drop")
    assert dropped["predicted_unused6"] == 1 and dropped["predicted_unused7"] == 0
    assert list(preds) == ["sad"]
    _, strict, _, _ = cross_dataset(t, "crema-d", "ravdess", strict=True)
    assert list(strict) == ["neutral", "sad"]


def test_bad_inputs_raise():
    t = videos(R_TO_C, R)
    with pytest.raises(ValueError, match="calm"):
        cross_dataset(t, "ravdess", "crema-d", calm="keep")
    with pytest.raises(ValueError, match="voting"):
        cross_dataset(t, "ravdess", "crema-d", voting="mean")
    with pytest.raises(ValueError, match="strict"):
        cross_dataset(t, "ravdess", "crema-d", calm="merge", strict=True)
    with pytest.raises(ValueError, match="do not cover"):
        cross_dataset(videos(C_TO_R, C), "ravdess", "crema-d")  # wrong training dataset
    with pytest.raises(ValueError, match="not crema-d classes"):
        cross_dataset(t.assign(label="calm"), "ravdess", "crema-d")
    with pytest.raises(ValueError, match="unknown dataset"):
        cross_dataset(t, "ravdess", "afew")  # not a registered dataset
    with pytest.raises(ValueError, match="s_<class>"):
        cross_dataset(t[["video", "label", "pbv"]], "ravdess", "crema-d")
    with pytest.raises(ValueError, match="lacks"):
        cross_dataset(t.drop(columns=["pbv"]), "ravdess", "crema-d")


def test_full_confusion_keeps_everything():
    cm = full_confusion(videos(C_TO_R, C), "ravdess")
    assert list(cm.index) == R and list(cm.columns) == C and cm.index.name == "label"
    assert cm.to_numpy().sum() == len(C_TO_R)
    # the paper's prose statistic: share of calm-labelled videos predicted neutral
    assert row_normalise(cm).loc["calm", "neutral"] == 50.0
    rc = full_confusion(videos(R_TO_C, R), "crema-d", voting="mv")
    assert list(rc.index) == C and list(rc.columns) == R
    assert rc.loc["disgust", "surprised"] == 1 and rc.loc["sad", "surprised"] == 1
    with pytest.raises(ValueError, match="outside"):
        full_confusion(videos(C_TO_R, C), "crema-d")  # calm/surprised labels are not CREMA-D

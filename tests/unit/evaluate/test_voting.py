import numpy as np
import pandas as pd
import pytest

from vjepa_fer.datasets import labels_for
from vjepa_fer.evaluate.voting import mv_decision, pbv_decision, vote
from vjepa_fer.labels import CREMAD_LABELS, RAVDESS_LABELS

ABC = ["a", "b", "c"]


def table(rows: list[tuple], classes=ABC, views: bool = False) -> pd.DataFrame:
    """rows: (video, clip, label, [view,] p...)."""
    out = []
    for r in rows:
        if views:
            video, clip, label, view, *p = r
        else:
            (video, clip, label, *p), view = r, 0
        d = {"video": video, "clip": clip, "start": clip, "view": view, "label": label}
        d.update({f"p_{c}": float(x) for c, x in zip(classes, p, strict=True)})
        out.append(d)
    return pd.DataFrame(out)


def by_video(df: pd.DataFrame) -> pd.DataFrame:
    return df.set_index("video")


def test_pbv_and_mv_differ_and_columns():
    # Two clips weakly vote b, one clip strongly votes a: MV = b, PBV = a.
    t = table(
        [
            ("v1", 0, "a", 0.30, 0.35, 0.35 - 1e-9),
            ("v1", 1, "a", 0.30, 0.40, 0.30),
            ("v1", 2, "a", 0.90, 0.05, 0.05),
            ("v0", 0, "c", 0.1, 0.1, 0.8),
        ]
    )
    out = vote(t, ABC)
    assert list(out["video"]) == ["v0", "v1"]  # sorted by video
    assert list(out.columns[:6]) == ["video", "label", "n_clips", "pbv", "mv", "mv_tied"]
    assert [c for c in out.columns if c.startswith("s_")] == ["s_a", "s_b", "s_c"]
    assert [c for c in out.columns if c.startswith("v_")] == ["v_a", "v_b", "v_c"]
    r = by_video(out).loc["v1"]
    assert (r["pbv"], r["mv"], r["n_clips"], r["label"]) == ("a", "b", 3, "a")
    assert (r["v_a"], r["v_b"], r["v_c"]) == (1, 2, 0)
    assert r["s_a"] == pytest.approx(1.5) and r["s_b"] == pytest.approx(0.8)
    assert not r["mv_tied"]
    assert by_video(out).loc["v0", "pbv"] == "c" and by_video(out).loc["v0", "mv"] == "c"


def test_pbv_exact_tie_goes_to_lowest_index():
    t = table([("v", 0, "c", 0.0, 0.5, 0.5), ("v", 1, "c", 0.0, 0.25, 0.75)])
    # sums: b = 0.75, c = 1.25 -> c; now make an exact tie between b and c
    t2 = table([("v", 0, "c", 0.0, 0.75, 0.25), ("v", 1, "c", 0.0, 0.25, 0.75)])
    assert vote(t, ABC).loc[0, "pbv"] == "c"
    assert vote(t2, ABC).loc[0, "pbv"] == "b"


def test_clip_argmax_tie_goes_to_lowest_index():
    t = table([("v", 0, "a", 0.0, 0.5, 0.5)])
    out = vote(t, ABC)
    assert (out.loc[0, "v_b"], out.loc[0, "v_c"]) == (1, 0)
    assert out.loc[0, "mv"] == "b"


def test_mv_tie_rules():
    # votes: a 1, c 1 (tie); summed posterior of c larger -> "posterior" picks c, "lowest" picks a.
    t = table(
        [
            ("v", 0, "a", 0.40, 0.30, 0.30),
            ("v", 1, "a", 0.05, 0.05, 0.90),
        ]
    )
    low = vote(t, ABC, mv_tie="lowest")
    post = vote(t, ABC, mv_tie="posterior")
    assert low.loc[0, "mv"] == "a" and post.loc[0, "mv"] == "c"
    assert low.loc[0, "mv_tied"] and post.loc[0, "mv_tied"]
    # a 3-way vote tie: "posterior" compares the summed posteriors of the tied classes only
    t3 = table(
        [
            ("v", 0, "a", 0.34, 0.33, 0.33),
            ("v", 1, "a", 0.33, 0.33, 0.34),
            ("v", 2, "a", 0.0, 1.0, 0.0),
            ("v", 3, "a", 0.0, 1.0, 0.0),
            ("v", 4, "a", 0.5, 0.0, 0.5 - 1e-12),
            ("v", 5, "a", 0.0, 0.0, 1.0),
        ]
    )
    # votes a 2, b 2, c 2 -> full tie; sums a 1.17, b 2.66, c 2.17 -> posterior picks b
    assert vote(t3, ABC, mv_tie="lowest").loc[0, "mv"] == "a"
    assert vote(t3, ABC, mv_tie="posterior").loc[0, "mv"] == "b"


def test_mv_posterior_tie_on_equal_sums_goes_lowest():
    counts = np.array([[2, 0, 2], [1, 1, 0]])
    sums = np.array([[1.0, 0.0, 1.0], [0.5, 0.75, 0.0]])
    assert list(mv_decision(counts, sums, "posterior")) == [0, 1]
    assert list(mv_decision(counts, sums, "lowest")) == [0, 0]
    assert list(pbv_decision(sums)) == [0, 1]
    with pytest.raises(ValueError, match="mv_tie"):
        mv_decision(counts, sums, "random")


def test_views_are_averaged_per_clip_before_voting():
    # Clips 0 and 1: one view strongly b, two views weakly a; clip 2: every view a.
    # Counting views as clips gives a 7 votes of 9; averaging per clip gives b 2 clips of 3.
    rows = [
        ("v", 0, "b", 0, 0.0, 1.0, 0.0),
        ("v", 0, "b", 1, 0.55, 0.45, 0.0),
        ("v", 0, "b", 2, 0.55, 0.45, 0.0),
        ("v", 1, "b", 0, 0.0, 1.0, 0.0),
        ("v", 1, "b", 1, 0.55, 0.45, 0.0),
        ("v", 1, "b", 2, 0.55, 0.45, 0.0),
        ("v", 2, "b", 0, 0.6, 0.4, 0.0),
        ("v", 2, "b", 1, 0.6, 0.4, 0.0),
        ("v", 2, "b", 2, 0.6, 0.4, 0.0),
    ]
    out = vote(table(rows, views=True), ABC)
    r = out.loc[0]
    assert r["n_clips"] == 3  # clips, not views
    # clip means: clips 0 and 1 -> a .3667, b .6333 -> b; clip 2 -> a. Votes b 2, a 1.
    assert (r["v_a"], r["v_b"]) == (1, 2)
    assert r["mv"] == "b"
    assert r["s_b"] == pytest.approx(2 * (1.9 / 3) + 0.4)
    # the same rows with views treated as separate clips vote a (7 of 9)
    flat = table([(v, 3 * c + w, lab, *p) for v, c, lab, w, *p in rows])
    assert vote(flat, ABC).loc[0, "mv"] == "a"


def test_single_view_column_matches_no_view_column():
    t = table([("v", 0, "a", 0.2, 0.3, 0.5), ("v", 1, "a", 0.6, 0.3, 0.1)])
    a = vote(t, ABC)
    b = vote(t.drop(columns=["view", "start"]), ABC)
    pd.testing.assert_frame_equal(a, b)


def test_class_order_comes_from_classes_not_column_order():
    t = table([("v", 0, "a", 0.5, 0.5, 0.0)])
    t = t[["video", "clip", "label", "p_c", "p_b", "p_a"]]
    assert vote(t, ABC).loc[0, "pbv"] == "a"  # tie a/b -> lowest index in ABC
    assert vote(t, ["b", "a", "c"]).loc[0, "pbv"] == "b"


def test_random_tables_match_a_plain_loop():
    rng = np.random.default_rng(0)
    classes = list(RAVDESS_LABELS)
    rows = []
    for v in range(30):
        n = int(rng.integers(1, 12))
        logits = rng.normal(size=(n, len(classes))) * 2
        p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        for i in range(n):
            rows.append((f"vid{v:02d}", i, classes[v % 8], *p[i]))
    t = table(rows, classes)
    t = t.sample(frac=1.0, random_state=1)  # row order must not matter
    out = vote(t, classes, mv_tie="posterior").set_index("video")
    for v, g in t.groupby("video"):
        p = g.sort_values("clip")[[f"p_{c}" for c in classes]].to_numpy()
        s = p.sum(axis=0)
        counts = np.bincount(p.argmax(axis=1), minlength=8)
        best = [k for k in range(8) if counts[k] == counts.max()]
        mv = max(best, key=lambda k: (s[k], -k))
        assert out.loc[v, "pbv"] == classes[int(np.argmax(s))]
        assert out.loc[v, "mv"] == classes[mv]
        assert out.loc[v, "n_clips"] == len(g)
        np.testing.assert_allclose(out.loc[v, [f"s_{c}" for c in classes]].astype(float), s)
    assert (out[[f"v_{c}" for c in classes]].sum(axis=1) == out["n_clips"]).all()


def test_crema_d_order():
    classes = list(CREMAD_LABELS)
    t = table([("v", 0, "sad", 0.1, 0.1, 0.1, 0.1, 0.1, 0.5)], classes)
    assert vote(t, classes).loc[0, "pbv"] == "sad"


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda t: t.drop(columns=["clip"]), "lacks column"),
        (lambda t: t.drop(columns=["p_c"]), "missing \\['p_c'\\]"),
        (lambda t: t.assign(p_d=0.0), "unexpected \\['p_d'\\]"),
        (lambda t: t.assign(label=["a", "b"]), "more than one label"),
        (lambda t: t.assign(clip=[0, 0]), "duplicate"),
        (lambda t: t.assign(p_a=[-0.1, 0.2]), "negative"),
        (lambda t: t.assign(p_a=[np.nan, 0.2]), "NaN"),
        (lambda t: t.iloc[:0], "no rows"),
        (lambda t: t.assign(label=[None, None]), "empty 'label'"),
    ],
)
def test_bad_tables_raise(mutate, match):
    t = table([("v", 0, "a", 0.2, 0.3, 0.5), ("v", 1, "a", 0.6, 0.3, 0.1)])
    with pytest.raises(ValueError, match=match):
        vote(mutate(t), ABC)


def test_bad_arguments_raise():
    t = table([("v", 0, "a", 0.2, 0.3, 0.5)])
    with pytest.raises(ValueError, match="mv_tie"):
        vote(t, ABC, mv_tie="random")
    with pytest.raises(ValueError, match="duplicates"):
        vote(t, ["a", "a", "b"])


def test_mv_ties_follow_the_authors_label_map_not_the_display_order():
    # Spec: the authors break MV ties by the lowest class index of their own label map; for
    # CREMA-D that order is SAD, FEA, HAP, DIS, NEU, ANG, "so an angry/sad tie goes to sad".
    from vjepa_fer.evaluate.voting import authors_tie_order

    classes = list(labels_for("crema-d"))  # our probe / display order (alphabetical)
    assert authors_tie_order("crema-d", classes) == [
        "sad",
        "fearful",
        "happy",
        "disgust",
        "neutral",
        "angry",
    ]
    # RAVDESS: emotion code - 1.
    assert authors_tie_order("ravdess", list(labels_for("ravdess")))[:3] == [
        "neutral",
        "calm",
        "happy",
    ]

    def clip(winner):
        return {f"p_{c}": (0.9 if c == winner else 0.02) for c in classes}

    rows = [
        {"video": "v", "clip": 0, "label": "angry", **clip("angry")},
        {"video": "v", "clip": 1, "label": "angry", **clip("sad")},
        {"video": "w", "clip": 0, "label": "happy", **clip("happy")},
        {"video": "w", "clip": 1, "label": "happy", **clip("disgust")},
    ]
    t = pd.DataFrame(rows)
    order = authors_tie_order("crema-d", classes)
    out = vote(t, classes, mv_tie="authors", tie_order=order).set_index("video")
    assert out.loc["v", "mv"] == "sad"  # angry/sad tie -> sad (authors' index 0)
    assert out.loc["w", "mv"] == "happy"  # happy (2) before disgust (3)
    # The display (column) order is unchanged.
    assert [c for c in out.columns if c.startswith("s_")] == [f"s_{c}" for c in classes]
    # The probe-order rule would have picked angry (alphabetically first).
    assert vote(t, classes, mv_tie="lowest").set_index("video").loc["v", "mv"] == "angry"
    with pytest.raises(ValueError, match="authors"):
        vote(t, classes, mv_tie="authors")
    # Unused outputs of the authors' 8-output head follow the authors' six.
    assert authors_tie_order("crema-d", ["angry", "sad", "unused6"]) == ["sad", "angry", "unused6"]

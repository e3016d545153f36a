import argparse
import json
import warnings

import numpy as np
import pandas as pd
import pytest

from vjepa_fer.evaluate import metrics as M
from vjepa_fer.labels import RAVDESS_LABELS

sklearn_metrics = pytest.importorskip("sklearn.metrics")


def random_case(rng: np.random.Generator):
    k = int(rng.integers(2, 9))
    classes = [f"c{i}" for i in range(k)]
    n = int(rng.integers(1, 60))
    # Restrict labels and predictions to random subsets so that some classes are absent from
    # the labels, some from the predictions, and some from both.
    lab_pool = rng.choice(k, size=int(rng.integers(1, k + 1)), replace=False)
    pred_pool = rng.choice(k, size=int(rng.integers(1, k + 1)), replace=False)
    y = [classes[i] for i in rng.choice(lab_pool, size=n)]
    # Mostly-correct predictions where allowed, so recalls are not all near 1/k.
    p = [
        t if (int(t[1:]) in pred_pool and rng.random() < 0.6) else classes[rng.choice(pred_pool)]
        for t in y
    ]
    return classes, y, p


def test_against_sklearn_on_random_cases():
    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns about absent classes; that is the point
        for _ in range(100):
            classes, y, p = random_case(rng)
            cm = M.confusion(y, p, classes)
            ref = sklearn_metrics.confusion_matrix(y, p, labels=classes)
            np.testing.assert_array_equal(cm.to_numpy(), ref)
            assert M.uar(cm) == pytest.approx(sklearn_metrics.balanced_accuracy_score(y, p))
            assert M.war(cm) == pytest.approx(sklearn_metrics.accuracy_score(y, p))
            assert M.paper_uar(cm) == pytest.approx(
                sklearn_metrics.precision_score(y, p, average="macro", zero_division=0)
            )
            rec = M.recall_per_class(cm)
            ref_rec = sklearn_metrics.recall_score(
                y, p, labels=classes, average=None, zero_division=0
            )
            support = cm.sum(axis=1).to_numpy() > 0
            np.testing.assert_allclose(rec.to_numpy()[support], ref_rec[support])
            assert rec.isna().to_numpy().tolist() == (~support).tolist()
            prec = M.precision_per_class(cm)
            ref_prec = sklearn_metrics.precision_score(
                y, p, labels=classes, average=None, zero_division=0
            )
            np.testing.assert_allclose(prec.to_numpy(), ref_prec)


def test_orientation_rows_are_labels():
    cm = M.confusion(["a", "a", "b"], ["b", "b", "b"], ["a", "b"])
    assert cm.index.name == "label"
    assert list(cm.index) == ["a", "b"] and list(cm.columns) == ["a", "b"]
    assert cm.loc["a", "b"] == 2 and cm.loc["b", "a"] == 0 and cm.loc["b", "b"] == 1
    assert M.uar(cm) == pytest.approx(0.5)  # a 0/2, b 1/1
    assert M.paper_uar(cm) == pytest.approx(1 / 6)  # precision a 0 (never predicted), b 1/3
    # with every class present in both, paper UAR is UAR of the transposed matrix
    cm2 = M.confusion(list("aabbc"), list("abbcc"), list("abc"))
    assert M.paper_uar(cm2) == pytest.approx(M.uar(cm2.T.to_numpy()))


def test_unknown_classes_and_bad_shapes_raise():
    with pytest.raises(ValueError, match="outside the class list"):
        M.confusion(["a"], ["z"], ["a", "b"])
    with pytest.raises(ValueError, match="equal length"):
        M.confusion(["a", "b"], ["a"], ["a", "b"])
    with pytest.raises(ValueError, match="square"):
        M.uar(np.ones((2, 3)))
    with pytest.raises(ValueError, match="no samples"):
        M.war(np.zeros((2, 2)))


def test_fractional_fold_average():
    classes = ["a", "b", "c"]
    cm1 = M.confusion(list("aabc"), list("abbc"), classes)
    cm2 = M.confusion(list("abcc"), list("abca"), classes)
    avg = M.average_confusions([cm1, cm2])
    assert avg.loc["a", "a"] == 1.0 and avg.loc["a", "b"] == 0.5 and avg.loc["c", "a"] == 0.5
    # recall a = 1/1.5, b = 1/1, c = 1/1.5
    assert M.uar(avg) == pytest.approx((2 / 3 + 1 + 2 / 3) / 3)
    assert M.war(avg) == pytest.approx(3 / 4)
    # precision a = 1/1.5, b = 1/1.5, c = 1/1
    assert M.paper_uar(avg) == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)
    out = M.metrics_from_confusion(avg)
    assert out["n"] == 4 and out["war"] == pytest.approx(75.0)
    with pytest.raises(ValueError, match="other classes"):
        M.average_confusions([cm1, M.confusion(["a"], ["a"], ["a", "b"])])


def test_ravdess_class_mix_gap_identity():
    """Spec evidence: with neutral 1/15 and every other class 2/15 of the videos,
    UAR - WAR = (recall_neutral - UAR) / 15 exactly, whatever the predictions."""
    classes = list(RAVDESS_LABELS)
    rng = np.random.default_rng(3)
    y = ["neutral"] * 4 + [c for c in classes[1:] for _ in range(8)]  # 60 videos, 4 : 8 : ...
    for _ in range(20):
        p = [t if rng.random() < 0.7 else classes[rng.integers(8)] for t in y]
        cm = M.confusion(y, p, classes)
        r = M.recall_per_class(cm)
        assert M.uar(cm) - M.war(cm) == pytest.approx((r["neutral"] - M.uar(cm)) / 15)
    # The paper's RAVDESS gap (UAR 76.40 vs WAR 72.93) would need a neutral recall above 100 %.
    needed = 76.40 + 15 * (76.40 - 72.93)
    assert needed == pytest.approx(128.45)


def test_summarize_folds_ddof():
    per_fold = pd.DataFrame(
        {"fold": [1, 2, 3, 4, 5], "uar": [70.0, 72.0, 74.0, 76.0, 78.0], "war": [1, 2, 3, 4, 5]}
    )
    s = M.summarize_folds(per_fold)
    assert list(s.index) == ["uar", "war"]  # "fold" is not a metric
    assert s.loc["uar", "mean"] == pytest.approx(74.0)
    assert s.loc["uar", "std"] == pytest.approx(np.std([70, 72, 74, 76, 78]))
    assert s.loc["uar", "std"] == pytest.approx(np.sqrt(8.0))
    s1 = M.summarize_folds(per_fold, ddof=1)
    assert s1.loc["uar", "std"] == pytest.approx(np.sqrt(10.0))
    assert s.loc["uar", "text"] == "74.00 ± 2.83"
    # NaN cells (class absent in a fold) are skipped and counted out of n
    s2 = M.summarize_folds(pd.DataFrame({"calm": [50.0, np.nan, 70.0]}))
    assert s2.loc["calm", "mean"] == pytest.approx(60.0) and s2.loc["calm", "n"] == 2


def test_row_normalise():
    cm = M.confusion(list("aab"), list("abb"), list("abc"))
    pct = M.row_normalise(cm)
    np.testing.assert_allclose(pct.loc["a"].to_numpy(), [50.0, 50.0, 0.0])
    np.testing.assert_allclose(pct.loc["b"].to_numpy(), [0.0, 100.0, 0.0])
    assert pct.loc["c"].isna().all()  # no true "c" videos
    assert list(pct.index) == ["a", "b", "c"] and pct.index.name == "label"


def test_metrics_from_predictions_dict():
    out = M.metrics_from_predictions(list("aab"), list("abb"), list("abc"), percent=False)
    assert out["uar"] == pytest.approx(0.75) and out["war"] == pytest.approx(2 / 3)
    assert out["recall"] == {"a": 0.5, "b": 1.0, "c": None}
    assert out["n"] == 3 and isinstance(out["n"], int)
    assert out["paper_uar"] == pytest.approx((1.0 + 0.5) / 2)  # c absent from both: not averaged


def run_cli(path) -> None:
    parser = argparse.ArgumentParser()
    M.add_arguments(parser)
    assert M.run(parser.parse_args([str(path)])) == 0


def test_cli_round_trip(tmp_path, capsys):
    classes = list(RAVDESS_LABELS)
    rng = np.random.default_rng(1)
    y = [classes[i] for i in rng.integers(0, 7, size=200)]  # surprised never a label
    p = [classes[i] for i in rng.integers(0, 8, size=200)]
    cm = M.confusion(y, p, classes)
    path = tmp_path / "cm.csv"
    M.write_confusion(cm, path)
    assert path.read_text().splitlines()[0] == "label," + ",".join(classes)
    pd.testing.assert_frame_equal(M.read_confusion(path), cm.astype(float))
    run_cli(path)
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"uar", "war", "paper_uar", "recall"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert out["uar"] == pytest.approx(100 * sklearn_metrics.balanced_accuracy_score(y, p))
        assert out["paper_uar"] == pytest.approx(
            100 * sklearn_metrics.precision_score(y, p, average="macro", zero_division=0)
        )
    assert out["war"] == pytest.approx(100 * sklearn_metrics.accuracy_score(y, p))
    assert list(out["recall"]) == classes and out["recall"]["surprised"] is None
    assert out["n"] == 200


def test_cli_fractional_cells(tmp_path, capsys):
    path = tmp_path / "cm.csv"
    path.write_text("label,a,b\na,1.5,0.5\nb,0,2\n")
    run_cli(path)
    out = json.loads(capsys.readouterr().out)
    assert out["recall"] == {"a": 75.0, "b": 100.0}
    assert out["uar"] == pytest.approx(87.5) and out["n"] == 4


@pytest.mark.parametrize(
    "text, match",
    [
        ("", "empty file"),
        ("label,a,b\n", "empty"),
        ("label,a,b\na,0,0\nb,0,0\n", "every cell is 0"),
        ("label,a,b\na,1,0\n", "not square"),
        ("label,a,b\na,1,0\nc,0,1\n", "names differ"),
        ("label,a,b\nb,1,0\na,0,1\n", "order differs"),
        ("label,a,b\na,1,-1\nb,0,1\n", "finite count"),
        ("label,a,b\na,1,x\nb,0,1\n", "not a number"),
        ("label,a,b\na,1,nan\nb,0,1\n", "finite count"),
        ("label,a,b\na,1\nb,0,1\n", "line 2 has 2 cells"),
        ("label,a,a\na,1,0\na,0,1\n", "duplicate"),
        ("true,a,b\na,1,0\nb,0,1\n", "first header cell"),
    ],
)
def test_cli_bad_matrices_name_the_file(tmp_path, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=match) as err:
        M.read_confusion(path)
    assert str(path) in str(err.value)


def test_cli_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        run_cli(tmp_path / "nope.csv")

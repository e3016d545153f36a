"""Bootstrap intervals and paired tests (vjepa_fer.evaluate.stats) against known cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from vjepa_fer.evaluate import stats
from vjepa_fer.evaluate.metrics import metrics_from_predictions
from vjepa_fer.evaluate.results import evaluate_all


def dec(stratum: str, labels: list[str], preds: list, classes=("a", "b", "c")) -> stats.Decisions:
    videos = [f"{stratum}/v{i}" for i in range(len(labels))]
    return stats.Decisions.from_labels(stratum, videos, labels, preds, classes)


def test_metrics_stack_equals_metrics_module() -> None:
    rng = np.random.default_rng(1)
    classes = ["a", "b", "c", "d"]
    for _ in range(20):
        y = list(rng.choice(classes[:3], 30))  # "d" never a label: only a prediction
        p = list(rng.choice(classes, 30))
        d = dec("s", y, p, classes)
        got = stats.metrics_stack(stats.confusion_stack(np.ones((1, 30)), d.y, d.p, 4))
        ref = metrics_from_predictions(y, p, classes)
        for m in stats.METRICS:
            assert got[m][0] == pytest.approx(ref[m], abs=1e-9), m


def test_hand_computed_metrics() -> None:
    # labels a a b b, predictions a b b b: recall a 1/2, b 1 -> UAR 75; precision a 1, b 2/3
    d = dec("s", ["a", "a", "b", "b"], ["a", "b", "b", "b"], ("a", "b"))
    got = stats.metrics_stack(stats.confusion_stack(np.ones((1, 4)), d.y, d.p, 2))
    assert got["uar"][0] == pytest.approx(75.0)
    assert got["war"][0] == pytest.approx(75.0)
    assert got["paper_uar"][0] == pytest.approx(100 * (1 + 2 / 3) / 2)
    # a resample holding videos 0 (a -> a) and 2 (b -> b) twice each: every video right
    w = np.array([[2.0, 0.0, 2.0, 0.0]])
    got = stats.metrics_stack(stats.confusion_stack(w, d.y, d.p, 2))
    assert got["war"][0] == pytest.approx(100.0)


def test_left_out_videos_count_nowhere() -> None:
    d = dec("s", ["a", "b", "c"], ["a", None, "b"])
    assert list(d.p) == [0, -1, 1]
    got = stats.metrics_stack(stats.confusion_stack(np.ones((1, 3)), d.y, d.p, 3))
    ref = metrics_from_predictions(["a", "c"], ["a", "b"], ["a", "b", "c"])
    for m in stats.METRICS:
        assert got[m][0] == pytest.approx(ref[m])


def test_resample_weights_are_resamples() -> None:
    w = stats.resample_weights(7, 500, np.random.default_rng(0))
    assert w.shape == (500, 7)
    assert (w.sum(axis=1) == 7).all()
    assert w.mean() == pytest.approx(1.0, abs=0.05)


def test_estimate_is_fold_mean_and_seed_determines_replicates() -> None:
    folds = [
        dec("f1", ["a", "b", "c", "a"], ["a", "b", "a", "a"]),
        dec("f2", ["a", "b", "c", "c", "b"], ["b", "b", "c", "c", "a"]),
    ]
    r1 = stats.replicates({"x": folds}, samples=200, seed=3)["x"]
    r2 = stats.replicates({"x": folds}, samples=200, seed=3)["x"]
    r3 = stats.replicates({"x": folds}, samples=200, seed=4)["x"]
    for m in stats.METRICS:
        per_fold = [metrics_from_predictions(
            [d.classes[i] for i in d.y], [d.classes[i] for i in d.p], d.classes)[m]
            for d in folds]  # fmt: skip
        assert r1.estimate[m] == pytest.approx(np.mean(per_fold))
        np.testing.assert_array_equal(r1.samples[m], r2.samples[m])
    assert not np.array_equal(r1.samples["war"], r3.samples["war"])


def test_interval_of_a_system_does_not_depend_on_its_partner() -> None:
    a = [dec("f1", ["a", "b", "c"] * 4, ["a", "b", "b"] * 4)]
    b = [dec("f1", ["a", "b", "c"] * 4, ["a", "c", "c"] * 4)]
    alone = stats.replicates({"a": a}, samples=100, seed=0)["a"]
    paired = stats.replicates({"a": a, "b": b}, samples=100, seed=0)["a"]
    np.testing.assert_array_equal(alone.samples["uar"], paired.samples["uar"])


def test_degenerate_intervals() -> None:
    perfect = [dec("f1", ["a", "b", "c"] * 5, ["a", "b", "c"] * 5)]
    reps = stats.replicates({"x": perfect}, samples=300, seed=0)["x"]
    for m in stats.METRICS:
        ci = stats.interval(reps.estimate[m], reps.samples[m])
        assert (ci.low, ci.estimate, ci.high) == (100.0, 100.0, 100.0)
    wrong = [dec("f1", ["a", "b"] * 5, ["b", "a"] * 5)]
    reps = stats.replicates({"x": wrong}, samples=300, seed=0)["x"]
    ci = stats.interval(reps.estimate["war"], reps.samples["war"])
    assert (ci.low, ci.high) == (0.0, 0.0)
    nan = stats.interval(1.0, np.array([np.nan, np.nan]))
    assert math.isnan(nan.low) and math.isnan(nan.high)
    with pytest.raises(ValueError, match="confidence"):
        stats.interval(1.0, np.ones(3), confidence=1.5)


def test_interval_coverage_of_accuracy() -> None:
    """The 95 % interval of an accuracy covers the true rate in about 95 % of experiments."""
    rng = np.random.default_rng(0)
    truth, n, hits, runs = 0.7, 200, 0, 200
    for i in range(runs):
        correct = rng.random(n) < truth
        d = dec(f"f{i}", ["a"] * n, ["a" if c else "b" for c in correct], ("a", "b"))
        reps = stats.replicates({"x": [d]}, samples=400, seed=i)["x"]
        ci = stats.interval(reps.estimate["war"], reps.samples["war"])
        hits += ci.low <= 100 * truth <= ci.high
    assert 0.89 <= hits / runs <= 0.99, hits / runs


def test_interval_width_matches_binomial_standard_error() -> None:
    n = 400
    d = dec("f", ["a"] * n, ["a"] * 280 + ["b"] * 120, ("a", "b"))  # accuracy 0.7
    reps = stats.replicates({"x": [d]}, samples=4000, seed=0)["x"]
    se = 100 * math.sqrt(0.7 * 0.3 / n)
    assert np.std(reps.samples["war"]) == pytest.approx(se, rel=0.08)


def binomial_two_sided(b: int, c: int) -> tuple[float, float]:
    """McNemar's exact and mid-p values from the binomial distribution, with integers only."""
    n, m = b + c, min(b, c)
    pmf = [math.comb(n, k) / 2**n for k in range(n + 1)]
    cdf = sum(pmf[: m + 1])
    return min(1.0, 2 * cdf), min(1.0, 2 * (cdf - pmf[m] / 2))


def correctness_pair(a_right: list[bool], b_right: list[bool]):  # noqa: ANN201
    n = len(a_right)
    a = dec("f", ["a"] * n, ["a" if r else "b" for r in a_right], ("a", "b"))
    b = dec("f", ["a"] * n, ["a" if r else "b" for r in b_right], ("a", "b"))
    return [a], [b]


@pytest.mark.parametrize("b,c,both", [(0, 5, 3), (3, 9, 10), (12, 12, 1), (1, 0, 0), (40, 61, 7)])
def test_mcnemar_equals_direct_binomial(b: int, c: int, both: int) -> None:
    a_right = [True] * b + [False] * c + [True] * both + [False] * 4
    b_right = [False] * b + [True] * c + [True] * both + [False] * 4
    a, bb = correctness_pair(a_right, b_right)
    exact, midp = stats.mcnemar(a, bb), stats.mcnemar(a, bb, mid_p=True)
    want = binomial_two_sided(b, c)
    assert (exact.a_only, exact.b_only, exact.n) == (b, c, len(a_right))
    assert exact.p_value == pytest.approx(want[0], rel=1e-9)
    assert midp.p_value == pytest.approx(want[1], rel=1e-9)
    assert exact.test_name == stats.MCNEMAR_EXACT and midp.test_name == stats.MCNEMAR_MIDP
    assert exact.difference == pytest.approx(100 * (b - c) / len(a_right))


def test_mcnemar_known_values() -> None:
    # b = 0, c = 5: exact p = 2 * 0.5**5 = 0.0625, mid-p = 0.03125; b = c: both p = 1.
    a, b = correctness_pair([False] * 5, [True] * 5)
    assert stats.mcnemar(a, b).p_value == pytest.approx(0.0625)
    assert stats.mcnemar(a, b, mid_p=True).p_value == pytest.approx(0.03125)
    a, b = correctness_pair([True, False], [False, True])
    assert stats.mcnemar(a, b).p_value == 1.0
    a, b = correctness_pair([True, True], [True, True])  # no discordant pair
    assert stats.mcnemar(a, b).p_value == 1.0


def test_mcnemar_needs_the_same_videos() -> None:
    with pytest.raises(ValueError, match="same videos"):
        stats.mcnemar([dec("f1", ["a"], ["a"])], [dec("f2", ["a"], ["a"])])


def test_paired_bootstrap() -> None:
    labels = ["a", "b", "c"] * 20
    good = [dec("f1", labels, labels)]
    bad = [dec("f1", labels, ["a"] * 60)]
    reps = stats.replicates({"g": good, "b": bad}, samples=500, seed=0)
    t = stats.paired_bootstrap(reps["g"], reps["b"], "uar")
    assert t.difference == pytest.approx(100 - 100 / 3)
    assert t.p_value == pytest.approx(2 / 501)  # never on the other side of zero
    assert t.low > 0 and t.test_name == stats.PAIRED_BOOTSTRAP
    same = stats.paired_bootstrap(reps["g"], reps["g"], "war")
    assert same.p_value == 1.0 and same.difference == 0.0


def test_paired_bootstrap_detects_no_difference_in_noise() -> None:
    """Two equally good systems with different errors: the test rarely rejects."""
    rng = np.random.default_rng(5)
    rejections = 0
    for i in range(40):
        n = 120
        y = list(rng.choice(["a", "b", "c"], n))
        pa = [v if rng.random() < 0.6 else "a" for v in y]
        pb = [v if rng.random() < 0.6 else "a" for v in y]
        reps = stats.replicates(
            {"a": [dec("f", y, pa)], "b": [dec("f", y, pb)]}, samples=300, seed=i
        )
        rejections += stats.paired_bootstrap(reps["a"], reps["b"], "war").p_value < 0.05
    assert rejections <= 6


def test_evaluate_writes_intervals_and_voting_tests(tmp_path) -> None:  # noqa: ANN001
    from tests.unit.report.test_tables import fake_posteriors

    fake_posteriors(tmp_path / "posteriors")
    out = evaluate_all(tmp_path / "posteriors", tmp_path / "m", samples=200, seed=1)
    t2 = pd.read_csv(tmp_path / "m" / "table2.csv")
    for m in stats.METRICS:
        assert (t2[f"{m}_ci_low"] <= t2[f"{m}_mean"] + 1e-9).all()
        assert (t2[f"{m}_ci_high"] >= t2[f"{m}_mean"] - 1e-9).all()
        assert (t2[f"{m}_ci_high"] > t2[f"{m}_ci_low"]).all()
    t4 = pd.read_csv(tmp_path / "m" / "table4.csv")
    assert t4["uar_ci_low"].notna().all()
    tests = pd.read_csv(tmp_path / "m" / "voting_tests.csv")
    # ravdess main + alt, crema-d main: 3 metrics by bootstrap + McNemar exact and mid-p each
    assert len(tests) == 3 * 5
    assert set(tests["test_name"]) == {
        stats.PAIRED_BOOTSTRAP,
        stats.MCNEMAR_EXACT,
        stats.MCNEMAR_MIDP,
    }
    assert tests["p_value"].between(0, 1).all()
    main = t2[(t2["variant"] == "main") & (t2["test"] == "ravdess")].set_index("voting")
    row = tests[(tests["dataset"] == "ravdess") & (tests["variant"] == "main")]
    row = row[row["metric"] == "uar"].iloc[0]
    want = main.loc["pbv", "uar_mean"] - main.loc["mv", "uar_mean"]
    assert row["difference"] == pytest.approx(want)
    again = evaluate_all(tmp_path / "posteriors", tmp_path / "m2", samples=200, seed=1)
    pd.testing.assert_frame_equal(out["table2"], again["table2"])


def test_tables_render_intervals_and_voting_tests(tmp_path) -> None:  # noqa: ANN001
    from tests.unit.report.test_tables import fake_posteriors
    from vjepa_fer.report import tables

    fake_posteriors(tmp_path / "posteriors")
    evaluate_all(tmp_path / "posteriors", tmp_path / "m", samples=100, seed=0)
    tables.write_tables(tmp_path / "m", tmp_path / "t", run_name="r", compare_paper=True)
    t2 = pd.read_csv(tmp_path / "t" / "table2.csv")
    src = pd.read_csv(tmp_path / "m" / "table2.csv")
    src = src[src["variant"] == "main"]
    assert sorted(t2["uar_ci_low"]) == pytest.approx(sorted(src["uar_ci_low"]))
    md = (tmp_path / "t" / "table2.md").read_text(encoding="utf-8")
    assert "95 % CI UAR (true)" in md and "Paper WAR" in md
    low = t2.iloc[0]
    assert f"[{low['uar_ci_low']:.2f}, {low['uar_ci_high']:.2f}]" in md
    assert "95 % CI WAR" in (tmp_path / "t" / "table4.md").read_text(encoding="utf-8")
    vt = (tmp_path / "t" / "voting_tests.md").read_text(encoding="utf-8")
    assert "McNemar exact (binomial)" in vt and "paired bootstrap" in vt
    assert len(pd.read_csv(tmp_path / "t" / "voting_tests.csv")) == 15


def test_table3_our_rows_carry_intervals(tmp_path) -> None:  # noqa: ANN001
    from tests.unit.report.test_tables import fake_posteriors
    from vjepa_fer.report import tables

    fake_posteriors(tmp_path / "posteriors")
    evaluate_all(tmp_path / "posteriors", tmp_path / "m", samples=100, seed=0)
    tables.write_tables(tmp_path / "m", tmp_path / "t", run_name="r", compare_paper=False)
    t3 = pd.read_csv(tmp_path / "t" / "table3.csv")
    ours = t3[t3["kind"] == "ours"]
    assert ours["uar_ci_low"].notna().all() and ours["war_ci_high"].notna().all()
    assert t3[t3["kind"] == "literature"]["uar_ci_low"].isna().all()
    assert (ours["uar_ci_low"] <= ours["uar"]).all() and (ours["uar"] <= ours["uar_ci_high"]).all()

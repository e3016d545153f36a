"""Encoder comparison (vjepa_fer.evaluate.compare) on synthetic posterior folders."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest

from tests.unit.report.test_tables import fake_posteriors
from vjepa_fer.cli import main
from vjepa_fer.evaluate import compare, stats
from vjepa_fer.evaluate.results import evaluate_all


def perfect(root: Path) -> None:
    """Rewrite every posterior table of ``root`` so each clip puts all mass on its label."""
    for path in root.glob("*/*.csv"):
        df = pd.read_csv(path)
        cols = [c for c in df.columns if c.startswith("p_")]
        df[cols] = 0.0
        for c in cols:
            df.loc[df["label"] == c[2:], c] = 1.0
        # Other-dataset labels without an output (surprised, calm): any one output
        df.loc[df[cols].sum(axis=1) == 0, cols[0]] = 1.0
        df.to_csv(path, index=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    fake_posteriors(root / "weak" / "posteriors", seed=0)
    fake_posteriors(root / "other" / "posteriors", seed=1)
    fake_posteriors(root / "strong" / "posteriors", seed=2)
    perfect(root / "strong" / "posteriors")
    return {n: root / n for n in ("weak", "other", "strong")}


def test_table_matches_evaluate_and_has_intervals(runs: dict[str, Path], tmp_path: Path) -> None:
    table, _ = compare.compare_runs(runs, samples=200, seed=0)
    assert list(dict.fromkeys(table["encoder"])) == ["weak", "other", "strong"]
    ref = evaluate_all(runs["weak"] / "posteriors", tmp_path, samples=200, seed=0)["table2"]
    ref = ref[ref["variant"] == "main"].set_index(["test", "voting"])
    weak = table[(table["encoder"] == "weak") & (table["rule"] == "same")]
    assert len(weak) == 4
    for _, r in weak.iterrows():
        want = ref.loc[(r["test"], r["voting"])]
        for m in stats.METRICS:
            assert r[m] == pytest.approx(want[f"{m}_mean"])
            assert r[f"{m}_ci_low"] == pytest.approx(want[f"{m}_ci_low"])  # same seed, strata
            assert r[f"{m}_ci_high"] == pytest.approx(want[f"{m}_ci_high"])
    strong = table[(table["encoder"] == "strong") & (table["rule"] == "same")]
    assert (strong["uar"] == 100).all() and (strong["uar_ci_low"] == 100).all()
    assert {"drop", "merge", "strict"} <= set(table["rule"])  # Table IV rows too


def test_paired_tests_between_encoders(runs: dict[str, Path]) -> None:
    _, tests = compare.compare_runs(runs, samples=300, seed=0)
    pairs = set(zip(tests["system_a"], tests["system_b"], strict=True))
    assert pairs == {("weak", "other"), ("weak", "strong"), ("other", "strong")}
    same = tests[(tests["rule"] == "same")]
    assert set(same["test_name"]) == {
        stats.PAIRED_BOOTSTRAP,
        stats.MCNEMAR_EXACT,
        stats.MCNEMAR_MIDP,
    }
    cross = tests[tests["rule"] != "same"]
    assert set(cross["test_name"]) == {stats.PAIRED_BOOTSTRAP}  # correlated probes: no McNemar
    vs_strong = same[(same["system_b"] == "strong") & (same["metric"] == "war")]
    assert (vs_strong["difference"] < 0).all()
    assert (vs_strong["p_value"] < 0.01).all()
    mcn = same[(same["system_b"] == "strong") & (same["test_name"] == stats.MCNEMAR_EXACT)]
    assert (mcn["a_only"] == 0).all() and (mcn["p_value"] < 0.01).all()


def test_runs_on_other_videos_are_not_paired(
    runs: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake_posteriors(tmp_path / "posteriors", per_class=3)  # more videos per fold
    with caplog.at_level(logging.WARNING):
        table, tests = compare.compare_runs({"a": runs["weak"], "b": tmp_path}, samples=50)
    assert tests.empty
    assert "videos differ" in caplog.text
    assert set(table["encoder"]) == {"a", "b"}


def test_cli_writes_tables_and_figure(runs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    argv = ["compare-encoders", "--run", f"weak={runs['weak']}"]
    argv += ["--run", f"strong={runs['strong'] / 'posteriors'}", "--out", str(out)]
    assert main([*argv, "--bootstrap-samples", "100"]) == 0
    for name in ("encoders.csv", "encoder_tests.csv", "encoders.md", "encoders.png"):
        assert (out / name).stat().st_size > 0, name
    md = (out / "encoders.md").read_text(encoding="utf-8")
    assert "| strong | ravdess → ravdess | PBV | same |" in md
    assert "McNemar exact" in (out / "encoder_tests.md").read_text(encoding="utf-8")
    assert main(["compare-encoders", "--run", f"x={tmp_path / 'nope'}", "--out", str(out)]) == 1
    with pytest.raises(SystemExit):
        main(["compare-encoders", "--run", "no-equals-sign", "--out", str(out)])


def test_datasets_keep_only_this_configurations_tables(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    """A run folder keeps the tables of a dataset an earlier configuration had: --datasets
    (the workflow passes the run's datasets) leaves out every probe trained or tested on it."""
    table, tests = compare.compare_runs(
        {"weak": runs["weak"], "other": runs["other"]}, samples=50, datasets=["ravdess"]
    )
    assert set(table["train"]) == set(table["test"]) == {"ravdess"}
    assert set(tests["train"]) == set(tests["test"]) == {"ravdess"}
    full, _ = compare.compare_runs({"weak": runs["weak"]}, samples=50)
    assert {"ravdess", "crema-d"} <= set(full["train"])
    with pytest.raises(ValueError, match="no posterior tables of the datasets"):
        compare.load_run(runs["weak"], datasets=["dfew"])


def test_figure_is_titled_with_display_names(runs: dict[str, Path], tmp_path: Path) -> None:
    """The comparison figure: a title, the datasets' display names on the panels and each
    encoder's display name (id in brackets) in the legend; every text inside the canvas."""
    import matplotlib.pyplot as plt

    from tests.unit.report.test_figures import texts_outside_canvas
    from vjepa_fer.report.names import encoder_label

    table, _ = compare.compare_runs({"weak": runs["weak"], "strong": runs["strong"]}, samples=50)
    label = encoder_label({"name": "vit_huge", "img_size": 384, "checkpoint": "x.pth.tar"})
    assert label == "V-JEPA ViT-H/16, 384 px"
    tiny = encoder_label({"name": "tiny", "img_size": 64, "checkpoint": None})
    assert tiny == "Tiny ViT (2 blocks), 64 px, random weights"
    created = []
    real_subplots = plt.subplots

    def spy(*a, **kw):
        created.append(real_subplots(*a, **kw))
        return created[-1]

    plt.subplots = spy
    try:
        compare.plot(table, tmp_path, {"strong": label})
    finally:
        plt.subplots = real_subplots
    fig = created[0][0]
    assert fig.get_suptitle().startswith("Encoders on the same videos")
    assert {a.get_title() for a in fig.axes} == {"RAVDESS", "CREMA-D"}
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert f"{label} (strong)" in legend and "weak" in legend
    assert texts_outside_canvas(fig) == []
    with pytest.raises(SystemExit):
        main(["compare-encoders", "--run", f"a={tmp_path}", "--label", "a", "--out", "o"])

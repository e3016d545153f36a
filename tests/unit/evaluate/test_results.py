"""vjepa-fer evaluate reads exactly the posterior tables its inputs name (issue: stale inputs)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from tests.unit.report.test_tables import fake_posteriors
from vjepa_fer import cli


def _done(path: Path, dataset: str, files: dict[str, Path]) -> Path:
    path.write_text(
        json.dumps({"dataset": dataset, "posteriors": {k: str(v) for k, v in files.items()}})
    )
    return path


def test_evaluate_reads_only_the_listed_posteriors(tmp_path: Path) -> None:
    post = tmp_path / "posteriors"
    fake_posteriors(post, folds=3, per_class=1, clips=2)
    out = tmp_path / "metrics"
    # A stale confusion matrix of an earlier configuration must not survive the rerun.
    (out / "confusion").mkdir(parents=True)
    (out / "confusion" / "ravdess-alt_on_ravdess_pbv_same_mean.csv").write_text("stale\n")
    # This run: RAVDESS only, main probes only; the folder also holds the 'alt' extra probe's
    # tables and the whole CREMA-D set (a removed extra and a removed dataset).
    listed = {
        f"ravdess-fold{k}-main": post / "ravdess" / f"ravdess-fold{k}-main.csv" for k in (1, 2, 3)
    }
    done = _done(tmp_path / "done.json", "ravdess", listed)
    assert (post / "ravdess" / "ravdess-fold1-alt.csv").is_file()  # the stray tables exist
    assert (post / "crema-d" / "crema-d-fold1-main.csv").is_file()
    assert cli.main(["evaluate", "--done", str(done), "--out", str(out)]) == 0
    per_fold = pd.read_csv(out / "per_fold.csv")
    assert set(per_fold["variant"]) == {"main"}
    assert set(per_fold["train"]) == {"ravdess"} and set(per_fold["test"]) == {"ravdess"}
    assert sorted(per_fold["fold"].unique()) == [1, 2, 3]
    names = {p.name for p in (out / "confusion").iterdir()}
    assert "ravdess-alt_on_ravdess_pbv_same_mean.csv" not in names
    assert all(n.startswith("ravdess-") and "_on_ravdess_" in n for n in names)
    videos = {p.name for p in (out / "videos").iterdir()}
    assert videos == {f"ravdess-fold{k}-main_on_ravdess.csv" for k in (1, 2, 3)}


def test_evaluate_names_a_listed_file_that_is_missing(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    done = _done(tmp_path / "done.json", "ravdess", {"ravdess-fold1-main": tmp_path / "gone.csv"})
    assert cli.main(["evaluate", "--done", str(done), "--out", str(tmp_path / "m")]) == 1
    err = capsys.readouterr().err
    assert "gone.csv" in err and "done.json" in err

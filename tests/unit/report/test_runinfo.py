"""Run information (report/runinfo.py): the output index hashes results, summarises bulk folders."""

from __future__ import annotations

from pathlib import Path

from vjepa_fer.report.runinfo import output_index


def write(path: Path, text: str = "x") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_bulk_folders_are_summarised_at_the_top_and_per_encoder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    results = Path("results/demo")  # a run's folder, named as the workflow passes it
    write(results / "ravdess/manifest.csv")
    write(results / "synth/ravdess/Actor_01/a.mp4")
    write(results / "tiny/metrics/table2.csv")
    write(results / "tiny/features/ravdess/train/part-0.safetensors", "tokens")
    write(results / "tiny/features/ravdess/train/index.csv")
    write(results / "tiny_deep/features/ravdess/eval/index.csv")
    index = output_index(results).set_index("file")
    hashed = {f for f in index.index if index.loc[f, "sha256"]}
    assert hashed == {"results/demo/ravdess/manifest.csv", "results/demo/tiny/metrics/table2.csv"}
    assert index.loc["results/demo/tiny/features/ (2 files)", "bytes"] == len("tokens") + 1
    assert "results/demo/tiny_deep/features/ (1 files)" in index.index
    assert "results/demo/synth/ (1 files)" in index.index
    # Only folders are bulk: a file of that name is indexed like any other.
    write(results / "tiny/report")
    assert "results/demo/tiny/report" in set(output_index(results)["file"])


def test_config_travels_through_a_file_not_a_report_param(tmp_path):
    """rule run_config saves the config (its params are not in the report); run_info reads the
    file, so its own params (embedded in the HTML report's <script>) hold paths only."""
    import json

    import pandas as pd

    from vjepa_fer.cli import main

    config = {"run_name": "demo", "datasets": {"mine": {"display_name": "My faces"}}}
    saved = tmp_path / "results/demo/report/config.json"
    assert main(["run-info", "--config-json", json.dumps(config), "--save-config", str(saved)]) == 0
    assert json.loads(saved.read_text()) == config
    write(tmp_path / "results/demo/mine/manifest.csv")
    out = tmp_path / "results/demo/report"
    argv = ["run-info", "--config-file", str(saved), "--results", str(tmp_path / "results/demo")]
    assert main([*argv, "--out", str(out)]) == 0
    rows = dict(pd.read_csv(out / "config.csv").values)
    assert rows["datasets.mine.display_name"] == '"My faces"'
    rules = (Path(__file__).parents[3] / "workflow/rules/report.smk").read_text()
    run_info = rules[rules.index("rule run_info:") :]
    assert "json.dumps" not in run_info and "config=" not in run_info.split("params:")[1]

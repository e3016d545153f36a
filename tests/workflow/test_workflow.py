"""The Snakemake workflow itself: lint, formatting, dry runs and config errors."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, run_snakemake

BIN = Path(sys.executable).parent


def snakemake(*args: str, cwd: Path = REPO, timeout: int = 600) -> subprocess.CompletedProcess:
    return run_snakemake(*args, cwd=cwd, timeout=timeout)


def test_lint_is_clean():
    res = snakemake("--lint", "--cores", "1")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Congratulations" in res.stdout + res.stderr


@pytest.mark.parametrize("tool", ["snakefmt", "ruff"])
def test_formatting_is_machine_owned(tool):
    if tool == "snakefmt":
        cmd = [str(BIN / "snakefmt"), "--check", "Snakefile", "workflow/rules"]
    else:
        cmd = [str(BIN / "ruff"), "format", "--check", "src", "tests"]
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_ruff_lint():
    res = subprocess.run(
        [str(BIN / "ruff"), "check", "src", "tests"], cwd=REPO, capture_output=True, text=True
    )
    assert res.returncode == 0, res.stdout + res.stderr


def test_paper_config_dry_run_plans_downloads(tmp_path):
    res = snakemake(
        "-n",
        "--cores",
        "8",
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(tmp_path),
        "--configfile",
        str(REPO / "config.yaml"),
    )
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "resources/datasets/ravdess/.vjepa-fer-download.json" in out
    assert "resources/datasets/crema-d/.vjepa-fer-download.json" in out
    assert "--expect-full" not in out  # dry runs do not print shell commands


def test_local_copy_is_not_downloaded(tmp_path):
    data = tmp_path / "my_ravdess"
    (data / "Actor_01").mkdir(parents=True)
    cfg = {
        "datasets": {"ravdess": {"source": "local", "root": str(data), "expect_full": False}},
        "encoder": {"checkpoint": None},
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    res = snakemake(
        "-n",
        "--cores",
        "1",
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(tmp_path),
        "--configfile",
        str(tmp_path / "c.yaml"),
    )
    assert res.returncode == 0, res.stderr
    assert "rule download" not in res.stdout
    assert "crema-d" not in res.stdout  # --configfile replaces config.yaml, it is not merged


def test_bad_config_stops_the_run_naming_the_key(tmp_path):
    cfg = yaml.safe_load((REPO / "config.demo.yaml").read_text())
    cfg["datasets"]["ravdess"]["modalitis"] = [1]
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(cfg))
    res = snakemake(
        "-n",
        "--cores",
        "1",
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(tmp_path),
        "--configfile",
        str(tmp_path / "bad.yaml"),
    )
    assert res.returncode != 0
    assert "'modalitis' was unexpected" in res.stdout + res.stderr


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    """The demo config run end to end through Snakemake in a temporary directory."""
    if shutil.which("vjepa-fer", path=str(BIN)) is None:
        pytest.fail("vjepa-fer is not installed in this environment (pip install -e .)")
    work = tmp_path_factory.mktemp("demo")
    res = snakemake(
        "--cores",
        "2",
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(work),
        "--configfile",
        str(REPO / "config.demo.yaml"),
        "all",
    )
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    return work


def test_demo_end_to_end(demo_run):
    import pandas as pd

    for ds in ("ravdess", "crema-d"):
        manifest = pd.read_csv(demo_run / f"results/{ds}/manifest.csv")
        assert sorted(manifest["fold"].unique()) == [1, 2, 3, 4, 5]
        summary = pd.read_csv(demo_run / f"results/{ds}/fold_summary.csv")
        assert summary["fold"].astype(str).tolist() == ["1", "2", "3", "4", "5", "all"]
        assert summary["videos"].iloc[-1] == len(manifest)
        for video in manifest["video"]:
            assert (demo_run / f"results/synth/{ds}" / video).is_file()
        lengths = pd.read_csv(demo_run / f"results/{ds}/lengths.csv")
        assert len(lengths) == len(manifest) and (lengths["status"] == "ok").all()
        for fold in range(1, 6):
            assert (demo_run / f"results/probes/{ds}/fold{fold}/main/probe.safetensors").is_file()
    assert (demo_run / "results/synth/crema-d/VideoDemographics.csv").is_file()
    for name in ("table2", "table3", "table4"):
        for ext in ("csv", "md", "tex"):
            assert (demo_run / f"results/tables/{name}.{ext}").stat().st_size > 0
    figures = {p.name for p in (demo_run / "results/figures").iterdir()}
    for stem in (
        "fig3_confusion_same_pbv",
        "fig4_confusion_cross_pbv",
        "fig5_pca_crema-d_fold1",
        "fig6_demographics_crema-d",
        "curves_ravdess",
    ):
        assert {f"{stem}.png", f"{stem}.pdf"} <= figures
    forwards = pd.read_csv(demo_run / "results/compute/forwards.csv")
    assert {"authors", "ours-online", "ours-cached"} <= set(forwards["protocol"])


def test_demo_tables_equal_numbers_recomputed_from_posteriors(demo_run, tmp_path):
    """Every number of Tables II and IV, recomputed from the saved per-clip posteriors."""
    import pandas as pd

    from vjepa_fer.evaluate.results import evaluate_all

    fresh = evaluate_all(demo_run / "results/posteriors", tmp_path)
    table2 = pd.read_csv(demo_run / "results/tables/table2.csv")
    for _, row in table2.iterrows():
        ref = fresh["table2"]
        ref = ref[
            (ref["test"] == row["dataset"])
            & (ref["voting"] == row["voting"])
            & (ref["variant"] == row["variant"])
        ]
        assert len(ref) == 1
        for metric in ("uar", "paper_uar", "war"):
            for stat in ("mean", "std"):
                assert row[f"{metric}_{stat}"] == pytest.approx(ref[f"{metric}_{stat}"].iloc[0])
    table4 = pd.read_csv(demo_run / "results/tables/table4.csv")
    assert set(table4["rule"]) == {"drop", "merge", "strict"}
    for _, row in table4.iterrows():
        ref = fresh["table4"]
        ref = ref[
            (ref["test"] == row["test"])
            & (ref["train"] == row["train"])
            & (ref["voting"] == row["voting"])
            & (ref["rule"] == row["rule"])
            & (ref["variant"] == row["variant"])
        ]
        assert len(ref) == 1
        for col in ("uar_mean", "war_mean", "paper_uar_mean", "dropped_mean"):
            assert row[col] == pytest.approx(ref[col].iloc[0])


def test_demo_probes_beat_chance(demo_run):
    import pandas as pd

    table2 = pd.read_csv(demo_run / "results/metrics/table2.csv")
    chance = {"ravdess": 100 / 8, "crema-d": 100 / 6, "dfew": 100 / 7}
    for _, row in table2[(table2["voting"] == "pbv") & (table2["variant"] == "main")].iterrows():
        assert 1.5 * chance[row["test"]] < row["uar_mean"] < 100, row.to_dict()


def test_report_builds(demo_run):
    res = snakemake(
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(demo_run),
        "--configfile",
        str(REPO / "config.demo.yaml"),
        "--report",
        str(demo_run / "report.html"),
    )
    assert res.returncode == 0, res.stderr[-3000:]
    html = (demo_run / "report.html").read_text(errors="replace")
    assert "table2" in html and "fig3_confusion_same_pbv" in html


def test_demo_rerun_has_nothing_to_do(demo_run):
    res = snakemake(
        "-n",
        "--cores",
        "2",
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(demo_run),
        "--configfile",
        str(REPO / "config.demo.yaml"),
        "all",
    )
    assert res.returncode == 0
    assert "Nothing to be done" in res.stdout + res.stderr

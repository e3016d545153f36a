"""A `type: custom` dataset through `snakemake all` (not a dry run), and two configs run
alternately in one clone without touching each other's files (results/<run_name>/).

The custom dataset: synthetic videos (tests/videos.py), a manifest CSV, 3 subjects, n_folds 3,
class names outside the shared vocabulary, two tiny random encoders (so compare_encoders runs),
small frames and two probe epochs: about a minute on 2 quiet cores.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import REPO, run_snakemake
from tests.videos import write_video

BIN = Path(sys.executable).parent
NAME = "studio-faces"
DISPLAY = "Studio faces (lab)"
# Two names outside the shared vocabulary (they need colours of their own), one inside it.
CLASSES = ["joyful", "gloomy", "neutral"]
ENCODERS = ("tiny", "tiny_deep")


def custom_config(data: Path, run_name: str) -> dict:
    encoder = {"checkpoint": None, "url": None, "img_size": 64, "num_frames": 16, "frame_step": 2}
    return {
        "run_name": run_name,
        "seed": 0,
        "datasets": {
            NAME: {
                "type": "custom",
                "source": "local",
                "root": str(data),
                "manifest": str(data / "labels.csv"),
                "classes": CLASSES,
                "n_folds": 3,
                "display_name": DISPLAY,
                "expect_full": False,
            }
        },
        "encoders": [{"id": e, "name": e, **encoder} for e in ENCODERS],
        "features": {
            "device": "cpu",
            "dtype": "fp32",
            "batch_size": 16,
            "workers": 1,
            "eval_stride": 8,
            "shards": 1,
            "store": ["train"],
            "train_copies": 0,
            "pool": "none",
        },
        "probe": {"mode": "cached", "group": "dataset", "epochs": 2, "batch_videos": 4},
        "evaluation": {"pca_dataset": NAME, "pca_fold": 1, "bootstrap": {"samples": 50}},
    }


def write_custom_data(data: Path) -> None:
    """3 subjects x 3 classes x 2 takes of 40 frames (64x48 H.264) and their manifest."""
    rows = []
    for s in range(1, 4):
        for c, label in enumerate(CLASSES):
            for take in range(2):
                video = f"s{s}/{label}_{take}.mp4"
                write_video(data / video, 36 + 4 * c + take)
                rows.append({"video": video, "label": label, "subject": f"subj{s}"})
    pd.DataFrame(rows).to_csv(data / "labels.csv", index=False)


def snakemake_all(work: Path, cfg: dict, name: str, *extra: str, timeout: int = 1200):
    (work / name).write_text(yaml.safe_dump(cfg, sort_keys=False))
    return run_snakemake(
        "all", "--cores", "2", "-s", str(REPO / "Snakefile"), "-d", str(work), *extra,
        "--configfile", str(work / name), timeout=timeout,
    )  # fmt: skip


def snapshot(folder: Path) -> dict[str, tuple[int, str]]:
    """Every file under ``folder``: (mtime in ns, sha256)."""
    return {
        str(p.relative_to(folder)): (
            p.stat().st_mtime_ns,
            hashlib.sha256(p.read_bytes()).hexdigest(),
        )
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def custom_run(tmp_path_factory) -> Path:
    if shutil.which("vjepa-fer", path=str(BIN)) is None:
        pytest.fail("vjepa-fer is not installed in this environment (pip install -e .)")
    work = tmp_path_factory.mktemp("custom")
    write_custom_data(work / "data")
    res = snakemake_all(work, custom_config(work / "data", "custom"), "custom.yaml")
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    return work


@pytest.mark.slow
def test_custom_dataset_reaches_tables_figures_and_comparison(custom_run):
    out = custom_run / "results/custom"
    assert json.loads((out / NAME / "dataset.json").read_text())["classes"] == CLASSES
    assert sorted(pd.read_csv(out / NAME / "manifest.csv")["fold"].unique()) == [1, 2, 3]
    for enc in ENCODERS:
        table2 = pd.read_csv(out / enc / "tables/table2.csv")
        assert NAME in set(table2["dataset"]), table2
        assert DISPLAY in (out / enc / "tables/table2.md").read_text().replace("\\", "")
        figures = {p.name for p in (out / enc / "figures").iterdir()}
        for stem in ("fig3_confusion_same_pbv", f"fig5_pca_{NAME}_fold1", f"curves_{NAME}"):
            assert {f"{stem}.png", f"{stem}.pdf"} <= figures, figures
    compare = pd.read_csv(out / "compare/encoders.csv")
    assert set(compare["test"]) == {NAME} and set(compare["encoder"]) == set(ENCODERS)
    assert NAME in (out / "compare/encoders.md").read_text()
    # Everything of this config lies under results/custom/ and nowhere else in results/.
    assert {p.name for p in (custom_run / "results").iterdir()} == {"custom"}


def test_classes_outside_the_vocabulary_get_their_own_colours():
    from vjepa_fer.report.figures import CLASS_COLORS, class_colors

    colors = class_colors(CLASSES)
    assert colors["neutral"] == CLASS_COLORS["neutral"]
    new = [colors["joyful"], colors["gloomy"]]
    assert len(set(new)) == 2 and not set(new) & set(CLASS_COLORS.values())


@pytest.mark.slow
def test_report_params_carry_no_config_strings(custom_run):
    """Snakemake embeds each report output's params in a <script> block of the HTML report: the
    run information (config.csv) must not come from the config itself in a param."""
    html = custom_run / "report.html"
    res = run_snakemake(
        "-s", str(REPO / "Snakefile"), "-d", str(custom_run),
        "--configfile", str(custom_run / "custom.yaml"), "--report", str(html),
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    text = html.read_text(errors="replace")
    # The config's own strings (display name, classes, the manifest's path) reach the report
    # only inside the config.csv table (data), never as a job parameter.
    params = re.findall(r'"params": "((?:[^"\\]|\\.)*)"', text)
    assert params, "no job params found in the report"
    for value in params:
        assert "Studio faces" not in value and "joyful" not in value and "labels.csv" not in value
        assert "display_name" not in value and "n_folds" not in value  # no config as JSON


@pytest.mark.slow
def test_two_configs_in_one_clone_leave_each_other_alone(custom_run):
    """A second config (own run_name, same dataset name) fails at its index, then runs through;
    the first config's files are neither deleted nor rewritten, and it has nothing to redo.
    Before results/<run_name>/ both wrote results/<dataset>/ and results/report/: the failed
    index made Snakemake delete the first run's manifest, the second run rewrote its report."""
    first = custom_run / "results/custom"
    before = snapshot(first)
    data = custom_run / "data"
    cfg = custom_config(data, "other")
    cfg["encoders"] = cfg["encoders"][:1]
    cfg["probe"]["epochs"] = 1
    broken = copy.deepcopy(cfg)
    bad = data / "bad_labels.csv"
    bad.write_text((data / "labels.csv").read_text() + "s1/joyful_9.mp4,furious,subj1\n")
    broken["datasets"][NAME]["manifest"] = str(bad)
    res = snakemake_all(custom_run, broken, "other.yaml")
    assert (
        res.returncode != 0
        and "furious" in (custom_run / f"results/other/logs/index/{NAME}.log").read_text()
    )
    assert snapshot(first) == before
    res = snakemake_all(custom_run, cfg, "other.yaml")
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    assert (custom_run / "results/other/report/config.csv").is_file()
    assert snapshot(first) == before
    res = snakemake_all(custom_run, custom_config(data, "custom"), "custom.yaml", "-n")
    assert res.returncode == 0 and "Nothing to be done" in res.stdout + res.stderr

"""The demo pipeline run end to end through Snakemake, and everything read from its outputs
(tables, report, README numbers, reruns). Lint, dry runs and config errors: test_plans.py."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, run_snakemake

BIN = Path(sys.executable).parent
# The demo's encoders (config.demo.yaml `encoders:`): each one's outputs lie in results/<id>/.
DEMO_ENCODERS = ("tiny", "tiny_deep")


def snakemake(*args: str, cwd: Path = REPO, timeout: int = 600) -> subprocess.CompletedProcess:
    return run_snakemake(*args, cwd=cwd, timeout=timeout)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    """The demo config run end to end through Snakemake in a temporary directory."""
    if shutil.which("vjepa-fer", path=str(BIN)) is None:
        pytest.fail("vjepa-fer is not installed in this environment (pip install -e .)")
    work = tmp_path_factory.mktemp("demo")
    res = snakemake(
        "all",  # target first: every word after --configfile is read as a config file
        "--cores",
        "2",
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(work),
        "--configfile",
        str(REPO / "config.demo.yaml"),
        timeout=1200,  # two encoders: ~4-5 min on 2 quiet cores, twice that on busy ones
    )
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    return work


def test_demo_end_to_end(demo_run):
    import pandas as pd

    for ds in ("ravdess", "crema-d"):
        manifest = pd.read_csv(demo_run / f"results/demo/{ds}/manifest.csv")
        assert sorted(manifest["fold"].unique()) == [1, 2, 3, 4, 5]
        summary = pd.read_csv(demo_run / f"results/demo/{ds}/fold_summary.csv")
        assert summary["fold"].astype(str).tolist() == ["1", "2", "3", "4", "5", "all"]
        assert summary["videos"].iloc[-1] == len(manifest)
        for video in manifest["video"]:
            assert (demo_run / f"results/demo/synth/{ds}" / video).is_file()
        lengths = pd.read_csv(demo_run / f"results/demo/{ds}/lengths.csv")
        assert len(lengths) == len(manifest) and (lengths["status"] == "ok").all()
    assert (demo_run / "results/demo/synth/crema-d/VideoDemographics.csv").is_file()
    for enc in DEMO_ENCODERS:  # the whole protocol once per encoder, each in results/<id>/
        out = demo_run / "results/demo" / enc
        for ds in ("ravdess", "crema-d"):
            for fold in range(1, 6):
                probe = out / f"probes/{ds}/fold{fold}/main"
                assert (probe / "probe.safetensors").is_file()
                assert json.loads((probe / "probe.json").read_text())["encoder"] == enc
        for name in ("table2", "table3", "table4"):
            for ext in ("csv", "md", "tex"):
                assert (out / f"tables/{name}.{ext}").stat().st_size > 0
        figures = {p.name for p in (out / "figures").iterdir()}
        for stem in (
            "fig3_confusion_same_pbv",
            "fig4_confusion_cross_pbv",
            "fig5_pca_crema-d_fold1",
            "fig6_demographics_crema-d",
            "curves_ravdess",
        ):
            assert {f"{stem}.png", f"{stem}.pdf"} <= figures
        forwards = pd.read_csv(out / "compute/forwards.csv")
        assert {"authors", "ours-online", "ours-cached"} <= set(forwards["protocol"])
    # Dataset stages ran once for both encoders; nothing encoder-dependent outside results/<id>/.
    assert (
        not (demo_run / "results/demo/tables").exists()
        and not (demo_run / "results/demo/probes").exists()
    )


def test_demo_compares_its_encoders(demo_run):
    """compare_encoders: both encoders × datasets × voting with intervals, and paired tests
    between them with p-values and the test's name."""
    import pandas as pd

    compare = demo_run / "results/demo/compare"
    table = pd.read_csv(compare / "encoders.csv")
    assert set(table["encoder"]) == set(DEMO_ENCODERS)
    same = table[table["train"] == table["test"]]
    assert set(same["test"]) == {"ravdess", "crema-d", "dfew"}
    assert set(same["voting"]) == {"pbv", "mv"}
    for metric in ("uar", "paper_uar", "war"):
        low, mean, high = (table[c] for c in (f"{metric}_ci_low", metric, f"{metric}_ci_high"))
        assert ((low <= mean) & (mean <= high) & (low < high)).all(), metric
    # Cross-dataset rows in the comparison too (Table IV is in each encoder's tables).
    assert {"drop", "merge", "strict"} <= set(table["rule"])
    tests = pd.read_csv(compare / "encoder_tests.csv")
    pairs = {frozenset(p) for p in zip(tests["system_a"], tests["system_b"], strict=True)}
    assert pairs == {frozenset(DEMO_ENCODERS)}
    assert tests["p_value"].notna().all() and tests["p_value"].between(0, 1).all()
    names = set(tests["test_name"])
    assert any(n.startswith("paired bootstrap") for n in names), names
    assert any(n.startswith("McNemar exact") for n in names), names
    md = (compare / "encoders.md").read_text().replace("\\_", "_")  # Markdown-escaped names
    assert all(enc in md for enc in DEMO_ENCODERS)
    assert (compare / "encoders.png").read_bytes()[:4] == b"\x89PNG"


def test_demo_tables_equal_numbers_recomputed_from_posteriors(demo_run, tmp_path):
    """Every number of Tables II and IV, recomputed from the saved per-clip posteriors."""
    import pandas as pd

    from vjepa_fer.evaluate.results import evaluate_all

    fresh = evaluate_all(demo_run / "results/demo/tiny/posteriors", tmp_path)
    table2 = pd.read_csv(demo_run / "results/demo/tiny/tables/table2.csv")
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
    table4 = pd.read_csv(demo_run / "results/demo/tiny/tables/table4.csv")
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


def test_demo_intervals_tests_and_predict(demo_run, tmp_path):
    """Bootstrap intervals and PBV-vs-MV tests in the tables; `predict` on the demo's probes
    reproduces the pipeline's own posteriors of a video (the 5 fold probes averaged)."""
    import numpy as np
    import pandas as pd

    from vjepa_fer.cli import main

    table2 = pd.read_csv(demo_run / "results/demo/tiny/tables/table2.csv")
    for metric in ("uar", "paper_uar", "war"):
        low, high = table2[f"{metric}_ci_low"], table2[f"{metric}_ci_high"]
        assert (low <= table2[f"{metric}_mean"]).all() and (table2[f"{metric}_mean"] <= high).all()
    tests = pd.read_csv(demo_run / "results/demo/tiny/tables/voting_tests.csv")
    assert set(tests["dataset"]) == {"ravdess", "crema-d", "dfew"}
    assert tests["p_value"].between(0, 1).all()
    for enc in DEMO_ENCODERS:  # predict_demo per encoder, with that encoder's probes
        predict = demo_run / "results/demo" / enc / "predict"
        assert (predict / "timeline.png").read_bytes()[:4] == b"\x89PNG"
        demo = pd.read_csv(predict / "predictions.csv")
        assert len(demo) == 2 and {"label", "pbv", "mv"} <= set(demo.columns)

    video = pd.read_csv(demo_run / "results/demo/ravdess/manifest.csv")["video"].iloc[0]
    out = tmp_path / "clips.csv"
    argv = ["predict", str(demo_run / "results/demo/synth/ravdess" / video), "--probes"]
    argv += [
        str(demo_run / "results/demo/tiny/probes/crema-d"),
        "--stride",
        "4",
        "--clips",
        str(out),
    ]
    assert main(argv) == 0
    got = pd.read_csv(out)
    posteriors = demo_run / "results/demo/tiny/posteriors/ravdess"
    folds = [pd.read_csv(posteriors / f"crema-d-fold{k}-main.csv") for k in range(1, 6)]
    folds = [f[f["video"] == video].sort_values("clip") for f in folds]
    assert list(got["start"]) == list(folds[0]["start"])
    cols = [c for c in got.columns if c.startswith("p_")]
    want = np.mean([f[cols].to_numpy() for f in folds], axis=0)
    np.testing.assert_allclose(got[cols].to_numpy(), want, atol=1e-3)


def test_demo_probes_beat_chance(demo_run):
    import pandas as pd

    chance = {"ravdess": 100 / 8, "crema-d": 100 / 6, "dfew": 100 / 7}
    for enc in DEMO_ENCODERS:
        table2 = pd.read_csv(demo_run / f"results/demo/{enc}/metrics/table2.csv")
        main = table2[(table2["voting"] == "pbv") & (table2["variant"] == "main")]
        for _, row in main.iterrows():
            assert 1.5 * chance[row["test"]] < row["uar_mean"] < 100, (enc, row.to_dict())


# The demo's HTML report, where `make demo` writes it (Makefile DEMO_REPORT).
DEMO_REPORT = "results/demo/report.html"


@pytest.fixture(scope="module")
def demo_report(demo_run) -> Path:
    """`snakemake --report` of the finished demo, at the path `make demo` writes it to."""
    res = snakemake(
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(demo_run),
        "--configfile",
        str(REPO / "config.demo.yaml"),
        "--report",
        str(demo_run / DEMO_REPORT),
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return demo_run / DEMO_REPORT


def test_report_builds(demo_report):
    html = demo_report.read_text(errors="replace")
    assert "table2.html" in html and "fig3_confusion_same_pbv" in html
    assert "encoders.csv" in html and "encoder_tests.csv" in html


def test_report_shows_tables_and_figures_in_a_browser(demo_report, tmp_path):
    """The report opened in headless Chromium: each paper table is a real <table> with its
    caption in view (Table II's names its CI columns), the figures are <img> elements, and a
    screenshot of Table II shown in the report is not blank."""
    from PIL import Image

    from tests import browser

    binary = browser.chromium()
    if binary is None:
        pytest.skip(
            "no Chromium on PATH (Debian: apt-get install chromium; .ci/install-chromium.sh)"
        )
    results = browser.report_results(demo_report)
    tables = {p: r for p, r in results.items() if p.endswith(".html") and "/tables/" in p}
    for enc in DEMO_ENCODERS:
        for name in ("table2", "table3", "table4", "table4_mv", "voting_tests"):
            assert f"results/demo/{enc}/tables/{name}.html" in tables, sorted(tables)
    for path, entry in tables.items():
        assert entry["mime_type"] == "text/html", path
        page = browser.decode_data_uri(entry["data_uri"]).decode("utf-8")
        assert page.count("<table") == 1 and "<caption>" in page, path
    profile = tmp_path / "profile"
    # The page of Table II as the report's frame shows it, after the browser laid it out.
    page = tmp_path / "table2.html"
    page.write_bytes(
        browser.decode_data_uri(tables["results/demo/tiny/tables/table2.html"]["data_uri"])
    )
    dom = browser.run(binary, page.as_uri(), "--dump-dom", profile=profile)
    caption = re.search(r"<caption>(.*?)</caption>", dom, re.S)
    assert caption and caption.group(1).startswith("Table II: same-dataset validation")
    assert "“95 % CI …”: percentile bootstrap confidence interval" in caption.group(1)
    assert "95 % CI UAR (true)" in dom and "CI: percentile bootstrap interval" in dom
    assert len(re.findall(r"<tr>|<tr class", dom)) == 1 + 6  # header + 3 datasets x PBV, MV
    # The report itself, Table II opened as a click would: its frame holds the page.
    shown = browser.showing(
        demo_report, "results/demo/tiny/tables/table2.html", tmp_path / "r.html"
    )
    dom = browser.run(binary, shown.as_uri(), "--dump-dom", profile=profile)
    assert re.search(r'<iframe[^>]+src="data:text/html', dom), dom[-2000:]
    assert "table2.html" in dom and "Tables" in dom  # the side bar lists the category's results
    png = tmp_path / "report-table2.png"
    browser.run(binary, shown.as_uri(), f"--screenshot={png}", "--window-size=1600,1000",
                profile=profile)  # fmt: skip
    with Image.open(png) as im:
        gray = im.convert("L")
        assert gray.size == (1600, 1000)
        # The content pane (right of the side bar) holds text: many dark pixels, not a blank frame.
        pane = gray.crop((600, 0, 1600, 600))
        dark = sum(pane.histogram()[:100])
        assert dark > 2000, dark
    # Each figure is a page holding the PNG as an <img> under the figure's title (a page scrolls
    # in the report's frame; the report's own image view cuts off the top of a tall figure).
    figures = [p for p in results if "/figures/" in p]
    assert "results/demo/tiny/figures/fig4_confusion_cross_pbv.html" in figures
    assert all(p.endswith(".html") for p in figures), figures
    page = tmp_path / "fig4.html"
    page.write_bytes(
        browser.decode_data_uri(
            results["results/demo/tiny/figures/fig4_confusion_cross_pbv.html"]["data_uri"]
        )
    )
    dom = browser.run(binary, page.as_uri(), "--dump-dom", profile=profile)
    assert re.search(r'<img src="data:image/png;base64,[^"]+" alt="fig4_confusion_cross_pbv"', dom)
    assert "<figcaption>Cross-dataset confusion (PBV, mean over fold probes):" in dom
    # Keep the screenshot for people reading the test run (pytest --basetemp=...).
    shutil.copy(png, demo_report.parent / "report-table2.png")


def test_readme_paths_exist_after_the_demo(demo_report, demo_run):
    """Every file or folder README.md names (in code spans and links) exists: results/... in
    the finished demo (its report included), everything else in the repository."""
    text = (REPO / "README.md").read_text()
    named = set(re.findall(r"`([\w./-]+)`", text)) | set(re.findall(r"\]\(([\w./-]+)\)", text))
    paths = {p for p in named if "/" in p or re.search(r"\.(md|ya?ml|html|csv|png|pdf)$", p)}
    assert "results/demo/report.html" in paths and "docs/demo.md" in paths
    missing = [
        p for p in sorted(paths)
        if not (demo_run / p if p.startswith("results/") else REPO / p).exists()
    ]  # fmt: skip
    assert not missing, f"README.md names paths that do not exist after `make demo`: {missing}"


def test_demo_rerun_has_nothing_to_do(demo_run):
    res = snakemake(
        "all",
        "-n",
        "--cores",
        "2",
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(demo_run),
        "--configfile",
        str(REPO / "config.demo.yaml"),
    )
    assert res.returncode == 0
    assert "Nothing to be done" in res.stdout + res.stderr


def test_rerun_without_a_dataset_gives_tables_of_that_config_only(demo_run, tmp_path):
    """After the demo, drop CREMA-D from the config and rerun `all`: no table, metric or figure
    may still describe it (evaluate used to glob every posterior table on disk)."""
    import pandas as pd

    work = tmp_path / "work"
    shutil.copytree(demo_run, work, symlinks=True)
    cfg = yaml.safe_load((REPO / "config.demo.yaml").read_text())
    del cfg["datasets"]["crema-d"], cfg["datasets"]["dfew"]  # RAVDESS alone
    cfg["evaluation"]["pca_dataset"] = "ravdess"
    cfg["encoders"] = cfg["encoders"][:1]  # one encoder is enough here (and half the CPU)
    (tmp_path / "one.yaml").write_text(yaml.safe_dump(cfg))
    res = snakemake(
        "all", "--cores", "2", "-s", str(REPO / "Snakefile"), "-d", str(work),
        "--configfile", str(tmp_path / "one.yaml"),
    )  # fmt: skip
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    out = work / "results/demo/tiny"
    per_fold = pd.read_csv(out / "metrics/per_fold.csv")
    assert set(per_fold["train"]) == {"ravdess"} and set(per_fold["test"]) == {"ravdess"}
    assert set(pd.read_csv(out / "tables/table2.csv")["dataset"]) == {"ravdess"}
    for folder in ("confusion", "videos"):
        assert not [p for p in (out / "metrics" / folder).iterdir() if "crema-d" in p.name]
    assert not [p for p in (out / "posteriors/ravdess").iterdir() if "crema-d" in p.name]
    assert not [p for p in (out / "figures").iterdir() if "crema-d" in p.name]


README_TABLE = re.compile(
    r"<!-- demo-table2 begin.*?-->\n(?P<table>.*?)<!-- demo-table2 end -->", re.S
)
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def table_numbers(markdown: str) -> dict[tuple[str, ...], list[float]]:
    """Rows of every Markdown table: the text cells as key, every number of the row as value.

    Robust to spacing, alignment rows, % signs and the notes around the table, so the README's
    copy only has to carry the same rows and numbers as the demo's output."""
    rows = {}
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.lstrip().startswith("|") or all(set(c) <= set(":- ") for c in cells):
            continue
        key = tuple(c for c in cells if not NUMBER.search(c))
        rows[key] = [float(v) for c in cells if NUMBER.search(c) for v in NUMBER.findall(c)]
    return rows


# Where the demo's Table II is copied (README's first screen links to it).
DEMO_DOC = REPO / "docs" / "demo.md"


def test_readme_demo_table_is_what_the_demo_prints(demo_run):
    """The documented demo numbers (docs/demo.md) are a verbatim copy of
    results/demo/tiny/tables/table2.md of `make demo`; after a change that moves them, paste the new
    file between the markers."""
    block = README_TABLE.search(DEMO_DOC.read_text())
    assert block, f"{DEMO_DOC} lacks the <!-- demo-table2 begin/end --> block"
    readme = table_numbers(block["table"])
    produced = table_numbers((demo_run / "results/demo/tiny/tables/table2.md").read_text())
    assert readme, f"no table rows between the markers of {DEMO_DOC}"
    assert readme.keys() == produced.keys()
    for key, values in produced.items():
        assert readme[key] == pytest.approx(values, abs=0.006), key

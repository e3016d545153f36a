"""Tests of vjepa_fer.report.tables and vjepa_fer.report.paper (Tables II-IV, literature data).

The inputs are produced by the real evaluation code (``evaluate_all``) from small fake posterior
tables, so the tables are checked against what the pipeline writes. ``fake_posteriors`` is also
used by test_figures.py.
"""

from __future__ import annotations

import argparse
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import REPO
from vjepa_fer.datasets import labels_for
from vjepa_fer.evaluate.results import evaluate_all
from vjepa_fer.io import write_csv
from vjepa_fer.report import paper, render, tables

RUN = "run_1 & 50% #2"  # LaTeX and Markdown specials on purpose

# Table III of the paper, typed by hand: (dataset, method, modality, uar, war, reference).
EXPECTED_LITERATURE = [
    ("ravdess", "Human Perception", "Video + Audio", 77.88, 77.94, 23),
    ("ravdess", "MultiMAE-DER", "Video + Audio", 82.23, 83.61, 13),
    ("ravdess", "HiCMAE-B", "Video + Audio", 87.96, 87.99, 12),
    ("ravdess", "MultiMAE-DER", "Video", 74.13, None, 13),
    ("ravdess", "HiCMAE-B", "Video", 71.35, 70.97, 12),
    ("ravdess", "SVFAP-B", "Video", 75.15, 75.01, 9),
    ("ravdess", "MAE-DFER", "Video", 75.91, 75.56, 11),
    ("crema-d", "MultiMAE-DER", "Video + Audio", 79.12, 79.36, 13),
    ("crema-d", "HiCMAE-B", "Video + Audio", 84.91, 84.89, 12),
    ("crema-d", "MultiMAE-DER", "Video", 77.83, None, 13),
    ("crema-d", "HiCMAE-B", "Video", 77.25, 77.21, 12),
    ("crema-d", "SVFAP-B", "Video", 77.31, 77.37, 9),
    ("crema-d", "MAE-DFER", "Video", 77.33, 77.38, 11),
]


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def fake_posteriors(
    root: Path, *, folds: int = 3, per_class: int = 2, clips: int = 3, seed: int = 0
) -> dict[str, pd.DataFrame]:
    """Per-clip posterior tables as ``vjepa-fer infer`` writes them, for both datasets.

    Own-dataset probes see their fold; the other dataset's probes see every video. RAVDESS also
    gets an extra variant ``alt``. Returns the videos ``{dataset: (video, label, fold)}``.
    """
    rng = np.random.default_rng(seed)
    videos = {}
    for ds in ("ravdess", "crema-d"):
        rows = [
            (f"{ds}/f{f}_{c}_{i}.mp4", c, f)
            for f in range(1, folds + 1)
            for c in labels_for(ds)
            for i in range(per_class)
        ]
        videos[ds] = pd.DataFrame(rows, columns=["video", "label", "fold"])
    probes = [(t, "main") for t in ("ravdess", "crema-d")] + [("ravdess", "alt")]
    for test, vids in videos.items():
        for train, variant in probes:
            if variant != "main" and train != test:
                continue
            outputs = list(labels_for(train))
            for k in range(1, folds + 1):
                part = vids[vids["fold"] == k] if train == test else vids
                recs = []
                for video, label, _ in part.itertuples(index=False):
                    logits = rng.normal(0, 1.5, (clips, len(outputs)))  # (clips, outputs)
                    if label in outputs:
                        logits[:, outputs.index(label)] += 1.5
                    p = _softmax(logits)
                    for j in range(clips):
                        recs.append(
                            {"video": video, "clip": j, "start": 4 * j, "view": 0, "label": label}
                            | {f"p_{c}": p[j, q] for q, c in enumerate(outputs)}
                        )
                write_csv(pd.DataFrame(recs), root / test / f"{train}-fold{k}-{variant}.csv")
    return videos


@pytest.fixture(scope="module")
def metrics(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report")
    fake_posteriors(root / "posteriors")
    evaluate_all(root / "posteriors", root / "metrics")
    return root / "metrics"


@pytest.fixture(scope="module")
def written(metrics: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tables")
    tables.write_tables(metrics, out, run_name=RUN, compare_paper=True)
    return out


def test_writes_every_table_in_four_formats(written: Path) -> None:
    for name in ("table2", "table2_variants", "table3", "table4", "table4_mv"):
        for ext in ("csv", "md", "tex", "html"):
            assert (written / f"{name}.{ext}").stat().st_size > 0, f"{name}.{ext}"
    combined = (written / "tables.md").read_text(encoding="utf-8")
    assert combined.count("\n## Table") == 5


def test_table2_numbers_equal_evaluate_output(metrics: Path, written: Path) -> None:
    ours = pd.read_csv(written / "table2.csv")
    src = pd.read_csv(metrics / "table2.csv")
    src = src[src["variant"] == "main"].rename(columns={"test": "dataset"})
    assert len(ours) == 4  # 2 datasets x (PBV, MV)
    assert list(ours["dataset"]) == ["ravdess", "ravdess", "crema-d", "crema-d"]
    assert list(ours["voting"]) == ["pbv", "mv", "pbv", "mv"]
    merged = ours.merge(src, on=["dataset", "voting"], suffixes=("", "_src"))
    assert len(merged) == 4
    for col in ("uar", "paper_uar", "war", "videos"):
        for stat in ("mean", "std"):
            c = f"{col}_{stat}"
            np.testing.assert_allclose(merged[c], merged[f"{c}_src"], rtol=0, atol=1e-12)
    assert (merged["folds"] == 3).all()


def test_table2_compares_like_for_like(written: Path) -> None:
    t = pd.read_csv(written / "table2.csv").set_index(["dataset", "voting"])
    expected = {
        ("ravdess", "pbv"): (76.40, 72.93),
        ("ravdess", "mv"): (76.38, 73.80),
        ("crema-d", "pbv"): (79.39, 78.86),
        ("crema-d", "mv"): (79.13, 78.47),
    }
    for key, (uar, war) in expected.items():
        r = t.loc[key]
        assert r["paper_reported_uar"] == pytest.approx(uar)
        assert r["paper_reported_war"] == pytest.approx(war)
        # The paper's "UAR" is macro precision: compared with OUR paper-compatible UAR.
        assert r["delta_vs_paper_uar"] == pytest.approx(r["paper_uar_mean"] - uar)
        assert r["delta_vs_paper_war"] == pytest.approx(r["war_mean"] - war)
        assert r["delta_vs_paper_uar"] != pytest.approx(r["uar_mean"] - uar)
    md = (written / "table2.md").read_text(encoding="utf-8")
    assert "UAR (paper-compat.)" in md and "Paper “UAR”" in md


def test_without_compare_paper_no_paper_numbers(metrics: Path, tmp_path: Path) -> None:
    tables.write_tables(metrics, tmp_path, run_name="demo", compare_paper=False)
    for name in ("table2", "table4", "table4_mv"):
        cols = pd.read_csv(tmp_path / f"{name}.csv").columns
        assert not [c for c in cols if "paper_reported" in c or "delta" in c], name
    t3 = pd.read_csv(tmp_path / "table3.csv")
    assert "paper" not in set(t3["kind"])
    assert "76.40" not in (tmp_path / "table2.md").read_text(encoding="utf-8")


def test_supplementary_variants(metrics: Path, written: Path) -> None:
    t = pd.read_csv(written / "table2_variants.csv")
    assert set(t["variant"]) == {"alt"} and set(t["dataset"]) == {"ravdess"}
    src = pd.read_csv(metrics / "table2.csv")
    src = src[(src["variant"] == "alt")].set_index("voting")
    for _, r in t.iterrows():
        assert r["war_mean"] == pytest.approx(src.loc[r["voting"], "war_mean"], abs=1e-12)
    assert "alt" not in set(pd.read_csv(written / "table2.csv")["variant"])


def test_table4_numbers_dropped_and_paper(metrics: Path, written: Path) -> None:
    t = pd.read_csv(written / "table4.csv")
    src = pd.read_csv(metrics / "table4.csv")
    src = src[(src["variant"] == "main") & (src["voting"] == "pbv")]
    assert list(zip(t["test"], t["rule"], strict=True)) == [
        ("crema-d", "drop"),
        ("crema-d", "merge"),
        ("crema-d", "strict"),
        ("ravdess", "drop"),
        ("ravdess", "merge"),
        ("ravdess", "strict"),
    ]
    merged = t.merge(src, on=["train", "test", "rule"], suffixes=("", "_src"))
    for col in ("uar_mean", "paper_uar_mean", "war_mean", "war_std", "videos_mean", "dropped_mean"):
        np.testing.assert_allclose(merged[col], merged[f"{col}_src"], rtol=0, atol=1e-12)
    t = t.set_index(["test", "rule"])
    assert t.loc[("crema-d", "strict"), "dropped_mean"] == 0
    # C->R: every probe sees all RAVDESS videos; 3 folds x 2 surprised (and calm) videos each.
    assert t.loc[("ravdess", "drop"), "dropped_label_surprised_mean"] == 6
    assert t.loc[("ravdess", "drop"), "dropped_label_calm_mean"] == 6
    assert t.loc[("ravdess", "drop"), "dropped_mean"] == 12
    reasons = [c for c in t.columns if c.startswith("dropped_") and c != "dropped_mean"]
    reasons = [c for c in reasons if c != "dropped_std"]
    sums = t[reasons].fillna(0).sum(axis=1)
    np.testing.assert_allclose(sums, t["dropped_mean"])
    expected = {
        ("crema-d", "drop"): (61.69, 59.82),
        ("crema-d", "merge"): (58.72, 54.90),
        ("ravdess", "drop"): (77.82, 75.59),
        ("ravdess", "merge"): (73.92, 70.92),
    }
    for key, (uar, war) in expected.items():
        r = t.loc[key]
        assert (r["paper_reported_uar"], r["paper_reported_war"]) == pytest.approx((uar, war))
        assert r["delta_vs_paper_uar"] == pytest.approx(r["paper_uar_mean"] - uar)
        assert r["delta_vs_paper_war"] == pytest.approx(r["war_mean"] - war)
    assert math.isnan(t.loc[("ravdess", "strict"), "paper_reported_uar"])
    mv = pd.read_csv(written / "table4_mv.csv")
    assert set(mv["voting"]) == {"mv"} and "paper_reported_uar" not in mv.columns
    assert "calm merged (\\*)" in (written / "table4.md").read_text(encoding="utf-8")


def test_table3_literature_and_our_rows(metrics: Path, written: Path) -> None:
    t = pd.read_csv(written / "table3.csv")
    lit = t[t["kind"] == "literature"]
    got = [
        (r.dataset, r.method, r.modality, r.uar, None if math.isnan(r.war) else r.war,
         r.citation_number)
        for r in lit.itertuples()
    ]  # fmt: skip
    assert got == EXPECTED_LITERATURE
    assert lit["source"].eq("literature: Eing et al., Table III").all()
    src = pd.read_csv(metrics / "table2.csv")
    src = src[(src["variant"] == "main") & (src["voting"] == "pbv")].set_index("test")
    ours = t[t["kind"] == "ours"]
    assert len(ours) == 4 and set(ours["method"]) == {f"Ours: {RUN}"}
    for r in ours.itertuples():
        col = "paper_uar" if "precision" in r.uar_definition else "uar"
        assert r.uar == pytest.approx(src.loc[r.dataset, f"{col}_mean"], abs=1e-12)
        assert r.war == pytest.approx(src.loc[r.dataset, "war_mean"], abs=1e-12)
    reported = t[t["kind"] == "paper"].set_index("dataset")
    assert reported.loc["ravdess", "uar"] == 76.40 and reported.loc["crema-d", "war"] == 78.86
    md = (written / "table3.md").read_text(encoding="utf-8")
    assert "literature: Eing et al., Table III" in md and "MultiMAE-DER [13]" in md


def test_literature_data_hardcoded() -> None:
    lit = paper.literature()
    got = [
        (r.dataset, r.method, r.modality, r.uar, None if math.isnan(r.war) else r.war,
         r.citation_number)
        for r in lit.itertuples()
    ]  # fmt: skip
    assert got == EXPECTED_LITERATURE
    assert lit["citation"].str.startswith("[").all()
    for r in lit.itertuples():
        assert r.citation.startswith(f"[{r.citation_number}] ")
    assert (lit["note"] != "").sum() == 2  # the two one-number rows explain their column


def test_paper_numbers_equal_docs_protocol() -> None:
    """paper.TABLE2/TABLE4 and docs/protocol.md ("The paper's numbers") quote the same values."""
    text = (REPO / "docs" / "protocol.md").read_text(encoding="utf-8")
    section = text[text.index("## The paper's numbers") :].split("\n## ")[0]
    for number in [*paper.TABLE2.values(), *paper.TABLE4.values()]:
        assert f"{number.uar:.2f} / {number.war:.2f}" in section, number


def test_latex_is_well_formed(written: Path) -> None:
    for path in sorted(written.glob("*.tex")):
        tex = path.read_text(encoding="utf-8")
        body = "\n".join(tex.splitlines()[1:])  # the first line is a % comment
        plain = body.replace(r"\{", "").replace(r"\}", "")
        assert plain.count("{") == plain.count("}"), path.name
        for env in ("table", "tabular"):
            assert body.count(f"\\begin{{{env}}}") == body.count(f"\\end{{{env}}}") == 1
        assert body.index(r"\toprule") < body.index(r"\midrule") < body.index(r"\bottomrule")
        assert not re.search(r"(?<!\\)[_%#]", body), f"{path.name}: unescaped _ % or #"
        assert r"\#2" in body and r"50\%" in body and r"run\_1 \&" in body
        spec = re.search(r"\\begin\{tabular\}\{([lr]+)\}", body)[1]
        rows = [ln for ln in body.splitlines() if ln.rstrip().endswith("\\\\")]
        assert rows
        for ln in rows:
            assert len(re.findall(r"(?<!\\)&", ln)) == len(spec) - 1, ln
    assert r"$\pm$" in (written / "table2.tex").read_text(encoding="utf-8")


def test_markdown_shape(written: Path) -> None:
    for path in sorted(written.glob("table[0-9]*.md")):
        lines = path.read_text(encoding="utf-8").splitlines()
        assert lines[0].startswith("## Table")
        rows = [ln for ln in lines if ln.startswith("|")]
        pipes = [len(re.findall(r"(?<!\\)\|", ln)) for ln in rows]
        assert len(set(pipes)) == 1, path.name
        assert re.fullmatch(r"\|(-{3}:?\|)+", rows[1]), rows[1]
        assert len(rows) >= 3


def test_cell_formatting() -> None:
    assert render.cell_text(render.PM(76.4, 1.234), latex=False) == "76.40 ± 1.23"
    assert render.cell_text(render.PM(76.4, 1.234), latex=True) == r"76.40 $\pm$ 1.23"
    assert render.cell_text(render.Diff(-0.5), latex=False) == "-0.50"
    assert render.cell_text(render.Diff(0.5), latex=True) == "$+0.50$"
    assert render.cell_text(float("nan"), latex=False) == "–"
    assert render.cell_text(render.Count(12.0), latex=False) == "12"
    assert render.cell_text(render.Count(12.4), latex=False) == "12.4"
    assert render.latex_escape("a_b & c%") == r"a\_b \& c\%"


def test_bad_inputs_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="table2.csv"):
        tables.write_tables(tmp_path, tmp_path / "out", run_name="x", compare_paper=False)
    pd.DataFrame({"train": ["ravdess"], "test": ["ravdess"]}).to_csv(tmp_path / "table2.csv")
    with pytest.raises(ValueError, match=r"table2\.csv: missing column"):
        tables.write_tables(tmp_path, tmp_path / "out", run_name="x", compare_paper=False)


def test_cli(metrics: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    parser = argparse.ArgumentParser()
    tables.add_arguments(parser)
    args = parser.parse_args(
        ["--metrics", str(metrics), "--out", str(tmp_path), "--run-name", "r", "--compare-paper"]
    )
    assert tables.run(args) == 0
    assert (tmp_path / "table4.tex").is_file()
    assert "table2.csv" in capsys.readouterr().out


def test_cards_come_from_the_data_folder(
    metrics: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An encoder's metrics lie in results/<id>/metrics; custom datasets' cards in
    results/<name>/dataset.json: --data names that folder (default: the one above --metrics)."""
    import vjepa_fer.report.tables as tables_module

    seen: list[Path] = []
    monkeypatch.setattr(tables_module, "load_cards", lambda folder: seen.append(Path(folder)))
    parser = argparse.ArgumentParser()
    tables_module.add_arguments(parser)
    argv = ["--metrics", str(metrics), "--out", str(tmp_path / "t"), "--run-name", "x"]
    assert tables_module.run(parser.parse_args([*argv, "--data", str(tmp_path)])) == 0
    assert tables_module.run(parser.parse_args(argv)) == 0
    assert seen == [tmp_path, metrics.parent]


def test_html_page_is_a_captioned_table_with_every_cell(written: Path) -> None:
    """The report's page of a table: one <table> whose <caption> is the title, the notes after
    it (Table II's name its CI columns), every Markdown cell's text in a <td>, names escaped."""
    from html import unescape
    from html.parser import HTMLParser

    class Cells(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tags: list[str] = []
            self.text: dict[str, list[str]] = {"caption": [], "td": [], "th": [], "li": []}
            self.open: str | None = None

        def handle_starttag(self, tag, attrs):
            self.tags.append(tag)
            self.open = tag if tag in self.text else self.open

        def handle_endtag(self, tag):
            self.open = None if tag == self.open else self.open

        def handle_data(self, data):
            if self.open:
                self.text[self.open].append(data)

    for name in ("table2", "table3", "table4"):
        page = Cells()
        page.feed((written / f"{name}.html").read_text(encoding="utf-8"))
        assert page.tags.count("table") == 1 and page.tags.count("caption") == 1, name
        md = (written / f"{name}.md").read_text(encoding="utf-8").splitlines()
        caption = "".join(page.text["caption"])
        # Markdown holds names escaped (backslashes, HTML entities); the page shows the text.
        assert caption.startswith(unescape(md[0].removeprefix("## ").replace("\\", "")))
        body = [ln for ln in md if ln.startswith("| ")][1:]  # rows below the header
        cells = [
            unescape(c.strip().replace("\\", ""))
            for ln in body
            for c in ln.strip("| ").split(" | ")
        ]
        assert page.text["td"] == cells, name
        if name == "table2":
            assert any("% CI" in h for h in page.text["th"])
            assert "3 columns “95 % CI …”: percentile bootstrap confidence interval" in caption
            assert any(n.startswith("CI: percentile bootstrap") for n in page.text["li"])


def test_html_escapes_user_names() -> None:
    from vjepa_fer.report.html import to_html_page

    t = tables.Table("t", "Results <b>of</b> a&b", ["Dataset", "UAR"], [["<x>", 1.5]],
                     pd.DataFrame())  # fmt: skip
    page = to_html_page(t, run_name="<run>")
    assert "<b>" not in page and "<x>" not in page and "<run>" not in page
    assert "Results &lt;b&gt;of&lt;/b&gt; a&amp;b" in page and '<td class="num">1.50</td>' in page


def test_markdown_escapes_a_hostile_name():
    """Names are refused by the schema; escaping where they are rendered is the second line."""
    from vjepa_fer.text import markdown_escape

    out = markdown_escape("</script><script>alert(1)</script> | *x* `y`\nz")
    assert "<" not in out and ">" not in out and "\n" not in out
    assert "&lt;/script&gt;" in out and "\\|" in out and "\\*x\\*" in out and "\\`y\\`" in out

"""Tests of vjepa_fer.report.figures: Figs. 3-6 and training curves, from small fake results.

Figure functions are checked on the Figure objects (class names on the axes, labels, legend);
``write_figures`` end to end on a fake results/ tree made with the real evaluation code.
"""

from __future__ import annotations

import argparse
import base64
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from tests.unit.report.test_tables import fake_posteriors
from vjepa_fer.datasets import labels_for
from vjepa_fer.evaluate.cross import full_confusion
from vjepa_fer.evaluate.metrics import confusion
from vjepa_fer.evaluate.results import evaluate_all
from vjepa_fer.io import write_csv
from vjepa_fer.labels import ALL_LABELS
from vjepa_fer.report import figures

CREMAD = list(labels_for("crema-d"))
RAVDESS = list(labels_for("ravdess"))


def _texts(labels) -> list[str]:
    return [t.get_text() for t in labels]


def fake_pca(rng: np.random.Generator, n: int = 60, dim: int = 8) -> tuple:
    labels = [CREMAD[i % 6] for i in range(n)]
    centers = rng.normal(0, 3, (6, dim))
    enc = rng.normal(0, 1, (n, dim)).astype(np.float32)  # (M, D)
    pooled = (centers[[i % 6 for i in range(n)]] + rng.normal(0, 0.5, (n, dim))).astype(np.float32)
    return enc, pooled, labels


def fake_manifest() -> pd.DataFrame:
    rows = []
    for actor in range(1001, 1021):
        fold = (actor % 5) + 1
        sex = "female" if actor % 3 == 0 else "male"
        rows += [
            {"video": f"{actor}_{c}.flv", "dataset": "crema-d", "actor": actor, "label": c,
             "fold": fold, "sex": sex, "age": 20 + actor % 40}
            for c in CREMAD
        ]  # fmt: skip
    return pd.DataFrame(rows)


def fake_curves(folds: int = 3, epochs: int = 4) -> dict[int, pd.DataFrame]:
    e = np.arange(1, epochs + 1)
    return {
        k: pd.DataFrame({"epoch": e, "loss": 2.0 / (e + k), "train_accuracy": 20.0 * e})
        for k in range(1, folds + 1)
    }


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results/ tree: posteriors, metrics (real evaluate), PCA, manifest, curves."""
    from safetensors.numpy import save_file

    root = tmp_path_factory.mktemp("results")
    fake_posteriors(root / "posteriors", per_class=1, clips=2)
    evaluate_all(root / "posteriors", root / "metrics")
    enc, pooled, labels = fake_pca(np.random.default_rng(0))
    stem = root / "posteriors" / "crema-d" / "pca-crema-d-fold1-main"
    save_file({"encoder_mean": enc, "probe_pooled": pooled}, str(stem.with_suffix(".safetensors")))
    clips = pd.DataFrame({"video": [f"v{i // 3}" for i in range(len(labels))]})
    clips = clips.assign(clip=np.arange(len(labels)) % 3, start=0, label=labels)
    write_csv(clips, stem.with_suffix(".csv"))
    write_csv(fake_manifest(), root / "crema-d" / "manifest.csv")
    for k, c in fake_curves(folds=2).items():
        write_csv(c, root / "probes" / "crema-d" / f"fold{k}" / "main" / "curve.csv")
    return root


def test_confusion_figure_names_axes_and_normalises_rows() -> None:
    labels = ["angry"] * 3 + ["sad"] * 2 + ["happy"]
    preds = ["angry", "angry", "sad", "sad", "sad", "angry"]
    cm = confusion(labels, preds, ["angry", "happy", "sad"])
    fig = figures.confusion_figure({"CREMA-D": cm}, suptitle="test")
    ax = fig.axes[0]
    assert _texts(ax.get_xticklabels()) == ["angry", "happy", "sad"]
    assert _texts(ax.get_yticklabels()) == ["angry", "happy", "sad"]
    assert ax.get_title() == "CREMA-D" and ax.get_xlabel() and ax.get_ylabel()
    cells = [t.get_text() for t in ax.texts]
    assert cells[:3] == ["66.7", "0.0", "33.3"]  # row angry: 2 of 3, 0, 1 of 3
    assert cells[6:] == ["0.0", "0.0", "100.0"]  # row sad
    assert fig.axes[1].get_ylabel() == "% of videos of the true class"  # colour bar


def test_cross_matrices_full_and_fallback(results: Path, tmp_path: Path) -> None:
    matrices, kind = figures.cross_matrices(results / "metrics")
    assert kind == "full"
    assert matrices[("ravdess", "crema-d")].shape == (6, 8)
    assert matrices[("crema-d", "ravdess")].shape == (8, 6)
    # Fold mean of the per-probe full matrices.
    per_fold = [
        full_confusion(
            pd.read_csv(results / "metrics" / "videos" / f"ravdess-fold{k}-main_on_crema-d.csv"),
            "crema-d",
        )
        for k in (1, 2, 3)
    ]
    expected = sum(per_fold[1:], per_fold[0]) / 3
    np.testing.assert_allclose(matrices[("ravdess", "crema-d")], expected)
    fig = figures.cross_figure(matrices, kind)
    ax = fig.axes[0]
    # Both panels show the six shared classes first, in one order, so cells line up.
    shared = ["neutral", "happy", "sad", "angry", "fearful", "disgust"]
    assert _texts(ax.get_xticklabels()) == [*shared, "calm", "surprised"]
    assert _texts(ax.get_yticklabels()) == shared
    assert "no drop/merge rule" in fig.get_suptitle()
    c2r = [a for a in fig.axes if "tested on RAVDESS" in a.get_title()][0]
    assert _texts(c2r.get_yticklabels()) == [*shared, "calm", "surprised"]
    assert _texts(c2r.get_xticklabels()) == shared
    # Panels of different heights are anchored at the top: their titles share one line.
    fig.canvas.draw()
    tops = [a.get_position().y1 for a in fig.axes if a.get_title()]
    assert max(tops) - min(tops) < 1e-6
    # Fallback: the calm-dropped matrices when no per-video tables exist.
    (tmp_path / "confusion").mkdir()
    for p in (results / "metrics" / "confusion").glob("*_pbv_drop_mean.csv"):
        (tmp_path / "confusion" / p.name).write_bytes(p.read_bytes())
    drop, kind = figures.cross_matrices(tmp_path)
    assert kind == "drop" and drop[("ravdess", "crema-d")].shape == (6, 6)
    assert "calm-dropped" in figures.cross_figure(drop, kind).get_suptitle()


def test_pca_2d_matches_sklearn() -> None:
    decomposition = pytest.importorskip("sklearn.decomposition")
    x = np.random.default_rng(1).normal(size=(50, 6)) * np.array([5, 3, 1, 1, 0.5, 0.1])
    pcs, ratio = figures.pca_2d(x)
    ref = decomposition.PCA(n_components=2).fit(x)
    np.testing.assert_allclose(ratio, ref.explained_variance_ratio_, rtol=1e-8)
    np.testing.assert_allclose(np.abs(pcs), np.abs(ref.transform(x)), rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(pcs, figures.pca_2d(x)[0])  # deterministic signs
    with pytest.raises(ValueError, match="PCA needs"):
        figures.pca_2d(np.zeros((2, 3)))


def test_pca_figure_legend_and_variance_labels() -> None:
    enc, pooled, labels = fake_pca(np.random.default_rng(0))
    fig = figures.pca_figure(enc, pooled, labels, CREMAD, title="t")
    a, b = fig.axes[:2]
    for ax in (a, b):
        assert ax.get_xlabel().startswith("PC 1 (") and "% of variance" in ax.get_xlabel()
        assert ax.get_ylabel().startswith("PC 2 (") and "% of variance" in ax.get_ylabel()
    legend = fig.legends[0]
    names = _texts(legend.get_texts())
    assert names == CREMAD  # class names, dataset order
    # Colours follow the names (the authors' legend swapped neutral and disgust).
    colour = dict(zip(names, [h.get_color() for h in legend.legend_handles], strict=True))
    assert colour["neutral"] == figures.CLASS_COLORS["neutral"]
    assert colour["disgust"] == figures.CLASS_COLORS["disgust"]
    assert set(figures.CLASS_COLORS) == set(ALL_LABELS)
    with pytest.raises(ValueError, match="differ in length"):
        figures.pca_figure(enc[:5], pooled, labels, CREMAD, title="t")
    with pytest.raises(ValueError, match="not among the classes"):
        figures.pca_figure(enc, pooled, ["calm"] * len(labels), CREMAD, title="t")


def test_demographics_figure_counts_actors() -> None:
    manifest = fake_manifest()
    fig = figures.demographics_figure(manifest, dataset="crema-d")
    bars_ax, age_ax = fig.axes[:2]
    assert _texts(bars_ax.get_xticklabels()) == [f"Fold {k}" for k in range(1, 6)]
    people = manifest.drop_duplicates("actor")
    heights = [p.get_height() for p in bars_ax.patches]
    expected = [
        int(((people["fold"] == f) & (people["sex"] == s)).sum())
        for s in ("female", "male")
        for f in range(1, 6)
    ]
    assert heights == expected
    assert age_ax.get_ylabel() == "Age (years)"
    # The sex legend sits below the bars, not over them.
    fig.canvas.draw()
    legend_top = bars_ax.get_legend().get_window_extent().y1
    assert legend_top <= bars_ax.get_window_extent().y0
    no_age = figures.demographics_figure(manifest.assign(age=np.nan), dataset="ravdess")
    assert len(no_age.axes) == 1


def test_curves_title_says_what_the_probe_trained_on() -> None:
    clean = {"mode": "online", "train": {"augment": False}}
    assert figures.training_clips(clean) == "clean (unaugmented) training clips"
    assert figures.training_clips({"mode": "online", "train": {"augment": True}}).startswith("aug")
    assert figures.training_clips({"mode": "cached", "copies": 0}).startswith("clean")
    assert "2 stored augmented copies" in figures.training_clips({"mode": "cached", "copies": 2})
    fig = figures.curves_figure(fake_curves(folds=2), title="t", clips="clean training clips")
    assert fig.axes[1].get_title() == "(b) Accuracy on the clean training clips"


def test_curves_figure() -> None:
    fig = figures.curves_figure(fake_curves(folds=3), title="t")
    loss_ax, acc_ax = fig.axes[:2]
    assert len(loss_ax.lines) == len(acc_ax.lines) == 3
    assert _texts(fig.legends[0].get_texts()) == ["Fold 1", "Fold 2", "Fold 3"]
    assert loss_ax.get_xlabel() == "Epoch"
    with pytest.raises(ValueError, match="no training curves"):
        figures.curves_figure({}, title="t")


def test_write_figures_end_to_end(results: Path, tmp_path: Path) -> None:
    from PIL import Image

    font_size = matplotlib.rcParams["font.size"]
    paths = figures.write_figures(results, tmp_path, dpi=150)
    names = {p.name for p in paths}
    stems = ["fig3_confusion_same_pbv", "fig4_confusion_cross_pbv", "fig5_pca_crema-d_fold1"]
    stems += ["fig6_demographics_crema-d", "curves_crema-d"]
    assert names == {f"{s}.{e}" for s in stems for e in ("png", "pdf", "html")}
    for p in paths:
        head = p.read_bytes()[:15]
        magic = {".png": b"\x89PNG", ".pdf": b"%PDF", ".html": b"<!DOCTYPE html>"}[p.suffix]
        assert head.startswith(magic), p.name
        assert p.stat().st_size > 2000
    with Image.open(tmp_path / "fig3_confusion_same_pbv.png") as im:
        assert round(im.info["dpi"][0]) == 150
    # The report's page: the same PNG, embedded, under the figure's title.
    page = (tmp_path / "fig3_confusion_same_pbv.html").read_text(encoding="utf-8")
    png = (tmp_path / "fig3_confusion_same_pbv.png").read_bytes()
    assert base64.b64encode(png).decode() in page
    assert "<figcaption>Same-dataset confusion (PBV, mean over folds)</figcaption>" in page
    assert matplotlib.rcParams["font.size"] == font_size  # styles never leak


def test_write_figures_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nothing to draw"):
        figures.write_figures(tmp_path, tmp_path / "out")
    bad = tmp_path / "posteriors" / "crema-d"
    bad.mkdir(parents=True)
    (bad / "pca-crema-d-fold1-main.csv").write_text("video,clip,start,label\nv,0,0,sad\n")
    with pytest.raises(FileNotFoundError, match="safetensors"):
        figures.load_pca_inputs(tmp_path / "posteriors", "crema-d", 1)


def test_cli(tmp_path: Path) -> None:
    results = tmp_path / "results"
    for k, c in fake_curves(folds=2).items():
        write_csv(c, results / "probes" / "ravdess" / f"fold{k}" / "main" / "curve.csv")
    parser = argparse.ArgumentParser()
    figures.add_arguments(parser)
    argv = ["--results", str(results), "--out", str(tmp_path / "out"), "--pca-fold", "0"]
    with pytest.raises(ValueError, match="at least 150"):
        figures.run(parser.parse_args([*argv, "--dpi", "100"]))
    assert figures.run(parser.parse_args([*argv, "--dpi", "150"])) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "curves_ravdess.html",
        "curves_ravdess.pdf",
        "curves_ravdess.png",
    ]


def test_manifests_come_from_the_data_folder(tmp_path: Path) -> None:
    """An encoder's results (results/<id>/) hold no manifests: --data names the datasets'
    folder (results/), where Fig. 6 reads them."""
    data, out = tmp_path / "results", tmp_path / "out"
    write_csv(fake_manifest(), data / "crema-d" / "manifest.csv")
    encoder = data / "tiny"
    for k, c in fake_curves(folds=2).items():
        write_csv(c, encoder / "probes" / "crema-d" / f"fold{k}" / "main" / "curve.csv")
    parser = argparse.ArgumentParser()
    figures.add_arguments(parser)
    argv = ["--results", str(encoder), "--out", str(out), "--pca-fold", "0", "--dpi", "150"]
    assert figures.run(parser.parse_args(argv)) == 0
    assert not (out / "fig6_demographics_crema-d.png").exists()  # no manifest in results/tiny
    assert figures.run(parser.parse_args([*argv, "--data", str(data)])) == 0
    assert (out / "fig6_demographics_crema-d.png").is_file()


def texts_outside_canvas(fig) -> list[str]:
    """What of a drawn figure leaves its canvas: each axes with everything it draws (tick
    labels in view, axis labels, title, cell texts, legend), the figure's own texts and legends."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    fig.canvas.draw()  # runs the constrained layout
    renderer = fig.canvas.get_renderer()
    canvas = fig.bbox
    parts = [(f"axes {i} {ax.get_title()!r}", ax.get_tightbbox(renderer))
             for i, ax in enumerate(fig.axes)]  # fmt: skip
    parts += [(f"text {t.get_text()!r}", t.get_window_extent(renderer))
              for t in fig.texts if t.get_visible() and t.get_text().strip()]  # fmt: skip
    parts += [(f"legend {i}", leg.get_window_extent(renderer)) for i, leg in enumerate(fig.legends)]
    if fig._suptitle is not None and fig._suptitle.get_text():
        parts.append(("suptitle", fig._suptitle.get_window_extent(renderer)))
    return [
        name
        for name, box in parts
        if box is not None
        and (
            box.x0 < canvas.x0 - 1
            or box.y0 < canvas.y0 - 1
            or box.x1 > canvas.x1 + 1
            or box.y1 > canvas.y1 + 1
        )  # fmt: skip
    ]


def heatmaps(fig) -> list:
    """The confusion panels (axes with a title; colour bars have none)."""
    return [a for a in fig.axes if a.get_title()]


def test_cross_figure_is_a_legible_grid() -> None:
    """Six cross-dataset panels (three datasets): at most three a row, each heatmap at least
    300 px tall when the figure is shown at the report's width, every label inside the canvas."""
    rng = np.random.default_rng(0)
    classes = {"ravdess": RAVDESS, "crema-d": CREMAD, "dfew": list(labels_for("dfew"))}
    matrices = {}
    for train in classes:
        for test in classes:
            if train != test:
                labels = list(rng.choice(classes[test], 200))
                preds = list(rng.choice(classes[train], 200))
                cm = pd.crosstab(pd.Series(labels, name="label"), pd.Series(preds, name="pred"))
                matrices[(train, test)] = cm.astype(float)
    fig = figures.cross_figure(matrices, "full")
    panels = heatmaps(fig)
    assert len(panels) == 6
    assert texts_outside_canvas(fig) == []
    rows: dict[float, int] = {}
    for ax in panels:
        top = round(ax.get_position().y1, 3)
        rows[top] = rows.get(top, 0) + 1
    assert max(rows.values()) <= 3, rows
    scale = figures.REPORT_WIDTH_PX / fig.bbox.width  # figure pixels -> report pixels
    for ax in panels:
        assert ax.get_window_extent().height * scale >= 300, ax.get_title()


def test_every_written_figure_keeps_its_labels_inside(results: Path) -> None:
    same = figures.same_dataset_matrices(results / "metrics")
    figs = [figures.confusion_figure(same, suptitle="Same-dataset confusion")]
    figs.append(figures.cross_figure(*figures.cross_matrices(results / "metrics")))
    figs.append(figures.demographics_figure(fake_manifest(), dataset="crema-d"))
    figs.append(figures.curves_figure(fake_curves(folds=3), title="t"))
    enc, pooled, labels = fake_pca(np.random.default_rng(1))
    figs.append(figures.pca_figure(enc, pooled, labels, CREMAD, title="t"))
    for fig in figs:
        assert texts_outside_canvas(fig) == [], fig.get_suptitle()


def test_fig6_counts_clips_where_a_dataset_has_no_actors() -> None:
    """DFEW-like manifest (actor = clip id, no sex or age): clips per fold by class, never
    "actors by sex" with every actor "unknown"."""
    classes = list(labels_for("dfew"))
    rows = [{"video": f"{i}.mp4", "actor": i, "label": classes[i % len(classes)],
             "fold": 1 + i % 5, "sex": None, "age": None} for i in range(1, 71)]  # fmt: skip
    manifest = pd.DataFrame(rows)
    assert not figures.has_subjects(manifest) and figures.has_subjects(fake_manifest())
    fig = figures.demographics_figure(manifest, dataset="dfew")
    ax = fig.axes[0]
    texts = " ".join([fig.get_suptitle(), ax.get_title(), ax.get_ylabel()]).lower()
    assert "clips" in texts and "actor" not in texts.replace("no actor ids", "")
    assert "unknown" not in _texts(ax.get_legend().get_texts())
    assert _texts(ax.get_xticklabels()) == [f"Fold {k}" for k in range(1, 6)]
    assert sum(b.get_height() for b in ax.patches) == len(manifest)  # every clip once
    assert texts_outside_canvas(fig) == []


def test_fig6_totals_stay_inside_the_axes() -> None:
    classes = list(labels_for("dfew"))
    rows = [{"video": f"{i}.mp4", "actor": i, "label": classes[i % len(classes)],
             "fold": 1 + i % 5, "sex": None, "age": None} for i in range(1, 71)]  # fmt: skip
    fig = figures.demographics_figure(pd.DataFrame(rows), dataset="dfew")
    texts_outside_canvas(fig)  # draws
    ax = fig.axes[0]
    inside = ax.get_window_extent()
    totals = [t for t in ax.texts if t.get_text() == "14"]
    assert len(totals) == 5
    assert all(t.get_window_extent().y1 <= inside.y1 for t in totals)

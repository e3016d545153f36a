"""Tests for the ``lengths`` stage: good videos probed, bad ones reported, the run goes on."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.videos import write_video
from vjepa_fer.video import lengths


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A root with 3 good and 4 bad videos and a manifest listing them in a fixed order."""
    root = tmp_path_factory.mktemp("root")
    write_video(root / "Actor_01/good.mp4", 90)
    write_video(root / "VideoFlash/good.flv", 40, "flv")
    write_video(root / "VideoFlash/other.flv", 70, "flv")
    (root / "VideoFlash/zero.flv").write_bytes(b"")
    (root / "VideoFlash/noise.flv").write_bytes(np.random.default_rng(0).bytes(4000))
    data = (root / "Actor_01/good.mp4").read_bytes()
    (root / "Actor_01/cut.mp4").write_bytes(data[: len(data) // 3])
    videos = [
        "VideoFlash/zero.flv",
        "Actor_01/good.mp4",
        "VideoFlash/noise.flv",
        "VideoFlash/good.flv",
        "Actor_01/missing.mp4",
        "Actor_01/cut.mp4",
        "VideoFlash/other.flv",
    ]
    manifest = root / "manifest.csv"
    pd.DataFrame({"video": videos, "label": range(len(videos))}).to_csv(manifest, index=False)
    return root, manifest


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    lengths.add_arguments(parser)
    return parser.parse_args(list(argv))


def run_stage(root: Path, manifest: Path, out_dir: Path, jobs: int) -> tuple[pd.DataFrame, ...]:
    out, report = out_dir / "lengths.csv", out_dir / "bad.csv"
    args = parse(
        "--manifest", str(manifest), "--root", str(root), "--out", str(out),
        "--report", str(report), "--jobs", str(jobs),
    )  # fmt: skip
    assert lengths.run(args) == 0
    return pd.read_csv(out, dtype={"error": str, "identity": str}), pd.read_csv(report)


def test_lengths_records_good_and_reports_bad(dataset, tmp_path: Path) -> None:
    root, manifest = dataset
    table, report = run_stage(root, manifest, tmp_path, jobs=1)
    assert table.columns.tolist() == lengths.LENGTH_COLUMNS
    assert table["video"].tolist() == pd.read_csv(manifest)["video"].tolist()  # manifest order
    by = table.set_index("video")
    assert by.loc["Actor_01/good.mp4", ["num_frames", "width", "height"]].tolist() == [90, 64, 48]
    assert by.loc["Actor_01/good.mp4", "fps"] == pytest.approx(29.97, abs=1e-2)
    assert by.loc["VideoFlash/good.flv", "num_frames"] == 40
    assert by.loc["VideoFlash/other.flv", "fps"] == pytest.approx(30.0)
    assert set(by.loc[by["status"] == "ok", "backend"]) == {"decord"}
    assert by["status"].to_dict() == {
        "VideoFlash/zero.flv": "empty",
        "Actor_01/good.mp4": "ok",
        "VideoFlash/noise.flv": "unreadable",
        "VideoFlash/good.flv": "ok",
        "Actor_01/missing.mp4": "missing",
        "Actor_01/cut.mp4": "unreadable",
        "VideoFlash/other.flv": "ok",
    }
    assert by.loc[by["status"] != "ok", "num_frames"].isna().all()

    assert report.columns.tolist() == lengths.REPORT_COLUMNS
    assert report["video"].tolist() == [
        "VideoFlash/zero.flv",
        "VideoFlash/noise.flv",
        "Actor_01/missing.mp4",
        "Actor_01/cut.mp4",
    ]
    assert report["path"].tolist() == [str(root / v) for v in report["video"]]
    assert report["error"].str.len().min() > 0


def test_lengths_with_worker_processes_gives_the_same_table(dataset, tmp_path: Path) -> None:
    root, manifest = dataset
    serial = run_stage(root, manifest, tmp_path / "serial", jobs=1)
    parallel = run_stage(root, manifest, tmp_path / "parallel", jobs=2)
    for a, b in zip(serial, parallel, strict=True):
        pd.testing.assert_frame_equal(a, b)


def test_lengths_rejects_a_bad_manifest(dataset, tmp_path: Path) -> None:
    root, _ = dataset
    manifest = tmp_path / "m.csv"
    pd.DataFrame({"path": ["a.mp4"]}).to_csv(manifest, index=False)
    args = parse("--manifest", str(manifest), "--root", str(root), "--out", "x", "--report", "y")
    with pytest.raises(ValueError, match="no 'video' column"):
        lengths.run(args)
    args.manifest = str(tmp_path / "absent.csv")
    with pytest.raises(FileNotFoundError, match="absent.csv"):
        lengths.run(args)


def test_a_video_corrupted_in_the_middle_is_reported_and_the_run_goes_on(tmp_path: Path) -> None:
    # First and last frame decode (the old probe passed it); a middle stretch is garbage, which
    # stopped the whole encoder job before. Now lengths lists it and the others stay usable.
    root = tmp_path / "root"
    good = write_video(root / "Actor_01/good.mp4", 120)
    data = bytearray(good.read_bytes())
    a, b = len(data) * 45 // 100, len(data) * 60 // 100
    data[a:b] = np.random.default_rng(0).integers(0, 256, b - a, dtype=np.uint8).tobytes()
    (root / "Actor_01/middle.mp4").write_bytes(bytes(data))
    manifest = tmp_path / "m.csv"
    videos = ["Actor_01/good.mp4", "Actor_01/middle.mp4"]
    pd.DataFrame({"video": videos}).to_csv(manifest, index=False)
    table, report = run_stage(root, manifest, tmp_path / "out", jobs=1)
    by = table.set_index("video")
    assert by.loc["Actor_01/good.mp4", "status"] == "ok"
    assert by.loc["Actor_01/middle.mp4", "status"] == "corrupt"
    assert "decoding failed" in by.loc["Actor_01/middle.mp4", "error"]
    assert report["video"].tolist() == ["Actor_01/middle.mp4"]


def test_lengths_records_each_file_identity(dataset, tmp_path: Path) -> None:
    root, manifest = dataset
    table, _ = run_stage(root, manifest, tmp_path, jobs=1)
    by = table.set_index("video")
    st = (root / "Actor_01/good.mp4").stat()
    assert by.loc["Actor_01/good.mp4", "identity"] == f"{st.st_size}:{st.st_mtime_ns}"
    assert pd.isna(by.loc["Actor_01/missing.mp4", "identity"])


@pytest.mark.parametrize("video", ["../outside.mp4", "/abs/outside.mp4"])
def test_manifest_paths_outside_the_root_are_refused(tmp_path, capsys, video):
    """The manifest's paths are read by every later stage: lengths, the first, refuses one
    that leaves the dataset root, naming the manifest and the line."""
    from vjepa_fer.cli import main

    root = tmp_path / "root"
    root.mkdir()
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(f"video,label\nok.mp4,happy\n{video},sad\n")
    argv = ["lengths", "--manifest", str(manifest), "--root", str(root)]
    argv += ["--out", str(tmp_path / "l.csv"), "--report", str(tmp_path / "bad.csv")]
    assert main(argv) != 0
    assert re.search(
        rf"{re.escape(str(manifest))} line 3, column video: path", capsys.readouterr().err
    )
    assert not (tmp_path / "l.csv").exists()

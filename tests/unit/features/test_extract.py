import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from tests.videos import write_dataset
from vjepa_fer.cli import main
from vjepa_fer.features.store import FeatureStore


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[Path, Path, Path]:
    """Four videos of four actors, and one corrupt file that extraction must skip."""
    root = tmp_path_factory.mktemp("ds")
    frames = {f"Actor_{a:02d}/v{a}.mp4": n for a, n in [(1, 70), (2, 66), (3, 40), (4, 68)]}
    rows = [
        {"video": v, "actor": a, "label": "happy", "fold": a} for a, v in enumerate(frames, start=1)
    ]
    frames["Actor_05/broken.mp4"] = 0
    rows.append({"video": "Actor_05/broken.mp4", "actor": 5, "label": "sad", "fold": 5})
    manifest, lengths = write_dataset(root, rows, frames)
    return root, manifest, lengths


def extract(dataset, out: Path, *extra: str) -> dict:
    root, manifest, lengths = dataset
    done = (
        out / f"done-{len(list(out.glob('done-*')))}.json" if out.exists() else out / "done-0.json"
    )
    rc = main(
        [
            "extract",
            "--manifest",
            str(manifest),
            "--lengths",
            str(lengths),
            "--root",
            str(root),
            "--out",
            str(out),
            "--done",
            str(done),
            "--encoder",
            "tiny",
            "--img-size",
            "32",
            "--dtype",
            "fp32",
            "--device",
            "cpu",
            "--workers",
            "0",  # decode in-process: the CLI default (8) is for real runs
            "--batch-size",
            "3",
            "--stride",
            "2",
            *extra,
        ]
    )
    assert rc == 0
    return json.loads(done.read_text())


def merge(dataset, out: Path, shards: int, kind: str = "eval") -> pd.DataFrame:
    _, manifest, lengths = dataset
    rc = main(
        [
            "merge-features",
            "--store",
            str(out),
            "--kind",
            kind,
            "--num-shards",
            str(shards),
            "--manifest",
            str(manifest),
            "--lengths",
            str(lengths),
            "--out",
            str(out / "index.csv"),
        ]
    )
    assert rc == 0
    return pd.read_csv(out / "index.csv")


def test_sharded_extraction_merges_exactly(dataset, tmp_path):
    single = extract(dataset, tmp_path / "one")
    assert single["clip_forwards"] == 3 + 1 + 1 + 2  # strides 2 over 70, 66, 40, 68 frames
    merge(dataset, tmp_path / "one", 1)
    counts = [
        extract(dataset, tmp_path / "two", "--shard", str(i), "--num-shards", "2") for i in range(2)
    ]
    assert sum(c["clip_forwards"] for c in counts) == single["clip_forwards"]
    merge(dataset, tmp_path / "two", 2)
    a = FeatureStore(tmp_path / "one", tmp_path / "one/index.csv")
    b = FeatureStore(tmp_path / "two", tmp_path / "two/index.csv")
    cols = ["video", "clip", "view", "epoch", "start"]
    assert a.index[cols].equals(b.index[cols])
    assert torch.equal(a.tokens(a.index), b.tokens(b.index))
    assert "Actor_05/broken.mp4" not in set(a.index["video"])  # unreadable: skipped, reported


def test_rerun_skips_stored_videos_and_resumes_after_a_kill(dataset, tmp_path):
    out = tmp_path / "s"
    first = extract(dataset, out, "--kind", "train")
    assert first["clip_forwards"] == 4 * 8
    again = extract(dataset, out, "--kind", "train")
    assert again["clip_forwards_this_job"] == 0 and again["videos_skipped_already_stored"] == 4
    assert again["clip_forwards"] == 32  # the forwards behind the reused store are counted
    # a kill between the tensors and the index of a part: the part counts as missing
    (out / "part-train0-00000.csv").unlink()
    resumed = extract(dataset, out, "--kind", "train")
    assert resumed["clip_forwards"] == 32 and resumed["clip_forwards_this_job"] == 32
    assert len(merge(dataset, out, 1, kind="train")) == 32


def test_forwards_of_an_extraction_finished_inside_a_killed_job_are_counted(dataset, tmp_path):
    """A job killed after writing its last part but before its done file: the rerun encodes
    nothing, and its counts still report the forwards behind the store (before: 0), so the
    compute table of a resumed run equals that of an uninterrupted one."""
    out = tmp_path / "k"
    first = extract(dataset, out)
    for done in out.glob("done-*.json"):
        done.unlink()  # what the kill left: every part, no done file
    resumed = extract(dataset, out)
    assert resumed["clip_forwards_this_job"] == 0
    assert resumed["clip_forwards"] == first["clip_forwards"] == 7
    assert resumed["clip_forwards_reused"] == 7


def test_pooled_int8_store(dataset, tmp_path):
    extract(dataset, tmp_path / "p", "--pool", "space", "--int8")
    store = FeatureStore(tmp_path / "p", None)
    assert store.tokens(store.index).shape == (7, 8, 64)  # one token per tubelet step


def test_missing_video_in_shards_is_an_error(dataset, tmp_path):
    extract(dataset, tmp_path / "x", "--shard", "0", "--num-shards", "2")
    _, manifest, lengths = dataset
    rc = main(
        [
            "merge-features",
            "--store",
            str(tmp_path / "x"),
            "--kind",
            "eval",
            "--num-shards",
            "2",
            "--manifest",
            str(manifest),
            "--lengths",
            str(lengths),
            "--out",
            str(tmp_path / "x/index.csv"),
        ]
    )
    assert rc == 1
    assert not (tmp_path / "x/index.csv").exists()


def test_changing_the_shard_count_replans_cleanly(dataset, tmp_path):
    out = tmp_path / "s"
    for i in range(2):
        extract(dataset, out, "--shard", str(i), "--num-shards", "2")
    before = merge(dataset, out, 2)
    # Three shards now: each reuses what any earlier shard stored, and the merge counts it once.
    counts = [extract(dataset, out, "--shard", str(i), "--num-shards", "3") for i in range(3)]
    assert sum(c["clip_forwards_this_job"] for c in counts) == 0
    assert sum(c["clip_forwards"] for c in counts) == 7  # the store's forwards, counted once
    after = merge(dataset, out, 3)
    cols = ["video", "clip", "view", "epoch", "start"]
    assert before[cols].equals(after[cols])


def test_a_replaced_video_is_encoded_again(tmp_path, capsys):
    import os
    import shutil

    from tests.videos import write_video

    root = tmp_path / "ds"
    frames = {f"Actor_{a:02d}/v{a}.mp4": 70 for a in (1, 2)}
    rows = [{"video": v, "actor": a, "label": "happy", "fold": a} for a, v in enumerate(frames, 1)]
    manifest, lengths = write_dataset(root, rows, frames)
    ds = (root, manifest, lengths)
    out = tmp_path / "s"
    assert extract(ds, out)["clip_forwards"] == 2 * 3
    old = FeatureStore(out, None)
    # Replace v1 under the same name with a longer recording.
    video = root / "Actor_01/v1.mp4"
    write_video(tmp_path / "other.mp4", 90)
    shutil.copyfile(tmp_path / "other.mp4", video)
    os.utime(video, ns=(1, 1))
    # The lengths table still describes the old file: extraction refuses to plan from it.
    rc = main(["extract", "--manifest", str(manifest), "--lengths", str(lengths), "--root",
               str(root), "--out", str(out), "--encoder", "tiny", "--img-size", "32",
               "--dtype", "fp32", "--device", "cpu"])  # fmt: skip
    assert rc == 1
    assert main(["lengths", "--manifest", str(manifest), "--root", str(root), "--out",
                 str(lengths), "--report", str(tmp_path / "bad.csv")]) == 0  # fmt: skip
    capsys.readouterr()
    again = extract(ds, out)
    # Only the replaced video is encoded: (90 - 64) / stride 2; v2's 3 stored clips are reused.
    assert again["clip_forwards_this_job"] == 13 and again["clip_forwards"] == 13 + 3
    log = capsys.readouterr().err
    assert "re-encoding Actor_01/v1.mp4: the file changed since it was stored" in log
    index = merge(ds, out, 1)
    new = FeatureStore(out, out / "index.csv")
    rows1 = index[index["video"] == "Actor_01/v1.mp4"]
    old1 = old.index[old.index["video"] == "Actor_01/v1.mp4"]
    assert len(rows1) == 13 and len(old1) == 3
    rows2 = index[index["video"] == "Actor_02/v2.mp4"]
    old2 = old.index[old.index["video"] == "Actor_02/v2.mp4"]
    assert torch.equal(new.tokens(rows2), old.tokens(old2))

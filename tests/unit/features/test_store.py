import pandas as pd
import pytest
import torch

from vjepa_fer.features.store import (
    FeatureStore,
    StoreConfig,
    StoreWriter,
    dequantize,
    merge_stores,
    quantize,
    reduce_tokens,
    remove_incomplete,
    store_bytes,
)


def meta(video: str, n: int) -> list[dict]:
    return [{"video": video, "clip": k, "view": 0, "epoch": -1, "start": 4 * k} for k in range(n)]


IDS = {v: f"100:{i}" for i, v in enumerate("abcdef")}


def writer(root, tag, cfg=None, **kw) -> StoreWriter:  # noqa: ANN001
    w = StoreWriter(root, tag, cfg or StoreConfig(), **kw)
    w.identities = dict(IDS)
    return w


def test_roundtrip_fp16_and_resume(tmp_path):
    g = torch.Generator().manual_seed(0)
    tokens = {v: torch.randn(3, 8, 4, generator=g) for v in ["a", "b", "c"]}
    w = writer(tmp_path, "s0", part_clips=4)
    for v in ["a", "b"]:
        w.add(meta(v, 3), tokens[v])
        w.end_video()  # 3 clips: no flush; 6 clips: flush of a+b
    assert w.done_videos() == {"a", "b"}
    w.add(meta("c", 3), tokens["c"])
    w.close()
    store = FeatureStore(tmp_path)
    assert len(store.index) == 9
    rows = store.index[store.index["video"] == "b"]
    assert torch.allclose(store.tokens(rows), tokens["b"].half().float())
    # A new writer with the same tag continues numbering and skips finished videos
    w2 = writer(tmp_path, "s0")
    assert w2.done_videos() == {"a", "b", "c"}
    assert w2._next == 2


def test_pooling_shapes():
    x = torch.arange(2 * 12 * 3, dtype=torch.float32).reshape(2, 12, 3)
    assert reduce_tokens(x, StoreConfig(pool="all")).shape == (2, 1, 3)
    space = reduce_tokens(x, StoreConfig(pool="space", grid=(2, 2, 3)))
    assert space.shape == (2, 2, 3)
    assert torch.allclose(space[0, 0], x[0, :6].mean(0))
    with pytest.raises(ValueError, match="grid"):
        reduce_tokens(x, StoreConfig(pool="space", grid=(3, 2, 3)))
    with pytest.raises(ValueError, match="pooling"):
        StoreConfig(pool="max")


def test_int8_error_is_bounded():
    x = torch.randn(5, 7, 64, generator=torch.Generator().manual_seed(1))
    q, s = quantize(x)
    assert q.dtype == torch.int8 and s.dtype == torch.float16
    err = (dequantize(q, s) - x).abs()
    assert (err <= s.float() * 0.5 + 1e-3).all()


def test_int8_store_and_merge_is_exact(tmp_path):
    x = torch.randn(4, 2, 16, generator=torch.Generator().manual_seed(2))
    for tag, video, part in [("s0", "a", x[:2]), ("s1", "b", x[2:])]:
        w = writer(tmp_path, tag, StoreConfig(int8=True))
        w.add(meta(video, 2), part)
        w.close()
    merged = merge_stores(tmp_path, tmp_path / "index.csv")
    assert merged["video"].tolist() == ["a", "a", "b", "b"]
    store = FeatureStore(tmp_path, tmp_path / "index.csv")
    q, s = quantize(x)
    assert torch.equal(store.tokens(store.index), dequantize(q, s))


def test_a_video_in_parts_of_two_shard_plans_is_merged_once(tmp_path):
    # Changing features.shards moves a video to another shard: both tags may hold it; the merge
    # takes one part per video instead of failing with "clips stored twice".
    for tag in ["s0", "s1"]:
        w = writer(tmp_path, tag)
        w.add(meta("a", 2), torch.zeros(2, 1, 2))
        w.close()
    merged = merge_stores(tmp_path, tmp_path / "index.csv")
    assert merged["video"].tolist() == ["a", "a"] and merged["part"].nunique() == 1
    # Within the chosen rows a clip stored twice is still an error.
    w = writer(tmp_path, "s2")
    w.add(meta("b", 1) * 2, torch.zeros(2, 1, 2))
    w.close()
    with pytest.raises(ValueError, match="stored twice"):
        merge_stores(tmp_path, tmp_path / "index.csv")


def test_killed_part_is_ignored_and_cleaned(tmp_path):
    w = writer(tmp_path, "s0")
    w.add(meta("a", 1), torch.zeros(1, 1, 2))
    w.close()
    (tmp_path / "part-s0-00001.safetensors").write_bytes(b"partial")  # no CSV: killed mid-part
    assert writer(tmp_path, "s1").done_videos() == {"a"}  # other tags see the finished part
    assert remove_incomplete(tmp_path) == ["part-s0-00001.safetensors"]
    assert isinstance(FeatureStore(tmp_path).index, pd.DataFrame)


def test_a_starting_shard_touches_only_its_own_files(tmp_path):
    # Shard s1 has just renamed its tensors into place and not yet written the index; its
    # atomic-write temporary of the next part is in flight. Shard s0 starting now must leave both.
    (tmp_path / "part-s1-00000.safetensors").write_bytes(b"being finished")
    (tmp_path / ".part-s1-00001.safetensors.abc.tmp").write_bytes(b"in flight")
    # s0's own leftovers of a killed run are removed.
    (tmp_path / "part-s0-00003.safetensors").write_bytes(b"killed")
    (tmp_path / ".part-s0-00004.safetensors.xyz.tmp").write_bytes(b"killed")
    w = writer(tmp_path, "s0")
    assert (tmp_path / "part-s1-00000.safetensors").exists()
    assert (tmp_path / ".part-s1-00001.safetensors.abc.tmp").exists()
    assert not (tmp_path / "part-s0-00003.safetensors").exists()
    assert not (tmp_path / ".part-s0-00004.safetensors.xyz.tmp").exists()
    assert w._next == 0


def test_store_bytes_matches_compute_md():
    # docs/compute.md: ViT-H/16 at 384 px, 4608 tokens x 1280 in fp16 = 11.8 MB per clip
    assert store_bytes(1, 4608, 1280) == 11_796_480


def test_stored_clips_are_reused_only_for_the_same_file_and_settings(tmp_path, caplog):
    w = writer(tmp_path, "s0", meta={"encoder": "tiny"})
    for v in "abc":
        w.add(meta(v, 1), torch.zeros(1, 1, 2))
        w.end_video()
    w.close()
    same = writer(tmp_path, "s1", meta={"encoder": "tiny"})
    assert same.reusable(IDS) == {"a", "b", "c"}
    # b was replaced under the same name (another size:mtime): encoded again, and the log says so.
    caplog.set_level("INFO", logger="vjepa_fer.features.store")
    assert same.reusable({**IDS, "b": "200:9"}) == {"a", "c"}
    assert "re-encoding b: the file changed since it was stored" in caplog.text
    # Another token-changing setting: nothing is reused, with a reason in the log.
    other = writer(tmp_path, "s1", meta={"encoder": "vit_huge"})
    assert other.reusable(IDS) == set()
    assert "settings changed (encoder)" in caplog.text
    assert "stored with other settings" in caplog.text
    # The merge keeps only rows of the current settings and identities.
    w = writer(tmp_path, "s1", meta={"encoder": "vit_huge"})
    w.add(meta("a", 1), torch.ones(1, 1, 2))
    w.close()
    merged = merge_stores(tmp_path, tmp_path / "index.csv", settings=w.key, identities=IDS)
    assert merged["video"].tolist() == ["a"] and set(merged["settings"]) == {w.key}
    # A restarted shard removes its own parts written with other settings, nobody else's.
    writer(tmp_path, "s0", meta={"encoder": "vit_huge"})
    assert not list(tmp_path.glob("part-s0-*"))
    assert list(tmp_path.glob("part-s1-*.csv"))


def _frames(folder, n, value=0):  # noqa: ANN001
    import numpy as np
    from PIL import Image

    folder.mkdir(exist_ok=True)
    for i in range(1, n + 1):
        Image.fromarray(np.full((8, 8, 3), value + i, np.uint8)).save(folder / f"{i}.png")
    return folder


def _restore(path, st):  # noqa: ANN001
    import os

    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_a_frame_folder_is_identified_by_its_frames_not_the_folder(tmp_path):
    """Frames overwritten in place leave the folder's own size and mtime alone (mtime restored
    here as a copy tool would): the identity still changes, so the store re-encodes."""
    import time

    from vjepa_fer.features.extract import video_identities
    from vjepa_fer.io import file_identity

    folder = _frames(tmp_path / "clip", 4)
    folder_st = folder.stat()
    before = file_identity(folder)
    assert before.startswith("frames:4:")
    time.sleep(0.01)
    _frames(folder, 4, value=100)  # same names, new pixels (PNG sizes may even be equal)
    _restore(folder, folder_st)
    after = file_identity(folder)
    assert after != before
    # extract refuses tokens planned from the old frames, naming the video.
    videos = pd.DataFrame({"video": ["clip"], "identity": [before]})
    with pytest.raises(ValueError, match="changed since the lengths step"):
        video_identities(videos, tmp_path)
    assert video_identities(videos.assign(identity=after), tmp_path) == {"clip": after}


def test_content_identity_catches_same_size_edits_with_restored_mtime(tmp_path):
    from vjepa_fer.features.extract import video_identities
    from vjepa_fer.io import file_identity
    from vjepa_fer.video.lengths import video_lengths

    video = tmp_path / "v.mp4"
    video.write_bytes(b"A" * 1000)
    st = video.stat()
    stat_id, content_id = file_identity(video), file_identity(video, "content")
    assert content_id.startswith("sha256:")
    video.write_bytes(b"B" * 1000)  # same size
    _restore(video, st)
    assert file_identity(video) == stat_id  # stat identity is fooled (documented)
    assert file_identity(video, "content") != content_id
    folder = _frames(tmp_path / "clip", 3)
    content_folder = file_identity(folder, "content")
    f = folder / "2.png"
    f_st, data = f.stat(), bytearray(f.read_bytes())
    data[-20] ^= 0xFF  # same size, another byte
    f.write_bytes(bytes(data))
    _restore(f, f_st)
    assert file_identity(folder, "content") != content_folder
    # lengths records content identities on request; extract recomputes them the same way.
    table = video_lengths(["clip"], tmp_path, verify=False, identity="content")
    assert table["identity"][0] == file_identity(folder, "content")
    assert video_identities(table, tmp_path) == {"clip": table["identity"][0]}
    with pytest.raises(ValueError, match="must be one of"):
        file_identity(video, "mtime")

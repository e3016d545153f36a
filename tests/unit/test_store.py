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


def test_roundtrip_fp16_and_resume(tmp_path):
    g = torch.Generator().manual_seed(0)
    tokens = {v: torch.randn(3, 8, 4, generator=g) for v in ["a", "b", "c"]}
    w = StoreWriter(tmp_path, "s0", StoreConfig(), part_clips=4)
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
    w2 = StoreWriter(tmp_path, "s0", StoreConfig())
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
        w = StoreWriter(tmp_path, tag, StoreConfig(int8=True))
        w.add(meta(video, 2), part)
        w.close()
    merged = merge_stores(tmp_path, ["s0", "s1"], tmp_path / "index.csv")
    assert merged["video"].tolist() == ["a", "a", "b", "b"]
    store = FeatureStore(tmp_path, tmp_path / "index.csv")
    q, s = quantize(x)
    assert torch.equal(store.tokens(store.index), dequantize(q, s))


def test_duplicate_clips_refused(tmp_path):
    for tag in ["s0", "s1"]:
        w = StoreWriter(tmp_path, tag, StoreConfig())
        w.add(meta("a", 1), torch.zeros(1, 1, 2))
        w.close()
    with pytest.raises(ValueError, match="stored twice"):
        merge_stores(tmp_path, ["s0", "s1"], tmp_path / "index.csv")


def test_killed_part_is_ignored_and_cleaned(tmp_path):
    w = StoreWriter(tmp_path, "s0", StoreConfig())
    w.add(meta("a", 1), torch.zeros(1, 1, 2))
    w.close()
    (tmp_path / "part-s0-00001.safetensors").write_bytes(b"partial")  # no CSV: killed mid-part
    assert StoreWriter(tmp_path, "s0", StoreConfig()).done_videos() == {"a"}
    assert remove_incomplete(tmp_path) == ["part-s0-00001.safetensors"]
    assert isinstance(FeatureStore(tmp_path).index, pd.DataFrame)


def test_store_bytes_matches_compute_md():
    # docs/compute.md: ViT-H/16 at 384 px, 4608 tokens x 1280 in fp16 = 11.8 MB per clip
    assert store_bytes(1, 4608, 1280) == 11_796_480


def test_mixing_settings_in_one_store_is_refused(tmp_path):
    StoreWriter(tmp_path, "s0", StoreConfig(), meta={"encoder": "tiny"})
    StoreWriter(tmp_path, "s1", StoreConfig(), meta={"encoder": "tiny"})  # same settings: fine
    with pytest.raises(ValueError, match="written with other settings"):
        StoreWriter(tmp_path, "s0", StoreConfig(int8=True), meta={"encoder": "tiny"})
    with pytest.raises(ValueError, match="delete the folder"):
        StoreWriter(tmp_path, "s0", StoreConfig(), meta={"encoder": "vit_huge"})

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from tests.videos import write_video
from vjepa_fer.features import stream as stream_mod
from vjepa_fer.features.plan import eval_requests, train_requests
from vjepa_fer.features.stream import ClipStream, PixelConfig, clip_pixels, group_by_video
from vjepa_fer.models import build_encoder

SIZE = 32


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("videos")
    write_video(root / "a.mp4", 70)
    write_video(root / "b.flv", 40, kind="flv")
    write_video(root / "c.mp4", 66)
    return root


@pytest.fixture(scope="module")
def encoder():
    return build_encoder("tiny", img_size=SIZE, num_frames=16, seed=0)


def videos() -> pd.DataFrame:
    return pd.DataFrame({"video": ["a.mp4", "b.flv", "c.mp4"], "num_frames": [70, 40, 66]})


class Recorder:
    def __init__(self) -> None:
        self.keys: list[tuple] = []
        self.tokens: dict[tuple, torch.Tensor] = {}

    def consume(self, requests, tokens) -> None:
        for r, t in zip(requests, tokens, strict=True):
            assert r.key not in self.tokens, "a clip was delivered twice"
            self.keys.append(r.key)
            self.tokens[r.key] = t.clone()


def run(encoder, root, requests, *, batch_size=4, workers=0, wants=None):
    s = ClipStream(encoder, batch_size=batch_size, workers=workers, dtype="fp32")
    rec = s.register(Recorder(), wants=wants)
    n = s.run(root, requests, PixelConfig(size=SIZE, seed=3))
    return s, rec, n


def test_each_clip_encoded_once_and_delivered_to_every_consumer(encoder, root):
    reqs = eval_requests(videos(), stride=2)
    assert len(reqs) == 3 + 1 + 1  # a: starts 0,2,4 (70-64=6 -> 0..5 step 2); b, c: one clip each
    s = ClipStream(encoder, batch_size=2, dtype="fp32")
    everything = s.register(Recorder())
    only_a = s.register(Recorder(), wants=lambda r: r.video == "a.mp4")
    n = s.run(root, reqs + reqs[:2], PixelConfig(size=SIZE))  # duplicates are encoded once
    assert n == s.forwards == 5
    assert everything.keys == [r.key for r in reqs]
    assert only_a.keys == [r.key for r in reqs if r.video == "a.mp4"]
    for key in only_a.keys:
        assert torch.equal(only_a.tokens[key], everything.tokens[key])


def test_tokens_equal_encoding_each_clip_alone(encoder, root):
    reqs = eval_requests(videos(), stride=3)
    _, rec, _ = run(encoder, root, reqs, batch_size=3)
    for r in reqs:
        pix = clip_pixels(root, r.video, [r], PixelConfig(size=SIZE, seed=3))
        with torch.no_grad():
            alone = encoder(pix)[0]
        assert torch.allclose(rec.tokens[r.key], alone, atol=1e-5)


def test_batching_and_workers_do_not_change_augmented_tokens(encoder, root):
    reqs = train_requests(videos(), epoch=2, seed=3, augment=True)
    assert len(reqs) == 24
    _, rec1, _ = run(encoder, root, reqs, batch_size=5, workers=0)
    _, rec2, _ = run(encoder, root, list(reversed(reqs)), batch_size=7, workers=2)
    # a subset pass (as if other probes were absent) sees exactly the same pixels
    _, rec3, _ = run(encoder, root, [r for r in reqs if r.video == "c.mp4"], batch_size=8)
    for key, t in rec1.tokens.items():
        assert torch.allclose(t, rec2.tokens[key], atol=1e-5)
        if key[0] == "c.mp4":
            assert torch.allclose(t, rec3.tokens[key], atol=1e-5)
    # different epochs give different augmentations
    _, rec4, _ = run(encoder, root, train_requests(videos(), epoch=3, seed=3), batch_size=8)
    assert not torch.allclose(rec4.tokens[("a.mp4", 0, 0, 3)], rec1.tokens[("a.mp4", 0, 0, 2)])


@pytest.mark.parametrize("backend", ["device", "reference"])
def test_each_video_is_decoded_once_per_pass(encoder, root, monkeypatch, backend):
    from vjepa_fer.features import loader

    calls: list[str] = []
    module, name = (
        (loader, "iter_decoded") if backend == "device" else (stream_mod, "decode_frames")
    )
    real = getattr(module, name)

    def counting(path, indices, **kw):
        calls.append(Path(path).name)
        return real(path, indices, **kw)

    monkeypatch.setattr(module, name, counting)
    reqs = eval_requests(videos(), stride=1)  # a has 6 clips
    s = ClipStream(encoder, batch_size=4, dtype="fp32")
    s.register(Recorder())
    s.run(root, reqs, PixelConfig(size=SIZE, augment_backend=backend))
    assert sorted(calls) == ["a.mp4", "b.flv", "c.mp4"]


@pytest.mark.parametrize("kind", ["eval", "train"])
def test_device_backend_is_the_default_and_matches_the_reference(encoder, root, kind):
    assert PixelConfig().augment_backend == "device"
    if kind == "eval":
        reqs = eval_requests(videos(), stride=2, num_views=3)
        cfg = dict(size=SIZE, seed=3, num_views=3)
    else:
        reqs = train_requests(videos(), epoch=1, seed=3, augment=True)
        cfg = dict(size=SIZE, seed=3)
    out = {}
    for backend in ("device", "reference"):
        s = ClipStream(torch.nn.Identity(), batch_size=5, workers=0, dtype="fp32")
        rec = s.register(Recorder())
        s.run(root, reqs, PixelConfig(augment_backend=backend, **cfg))
        out[backend] = rec.tokens
    assert out["device"].keys() == out["reference"].keys() == {r.key for r in reqs}
    level = 1.0 / 255.0 / 0.225
    for key, ref in out["reference"].items():
        diff = (out["device"][key] - ref).abs()
        if kind == "eval":
            assert torch.equal(out["device"][key], ref), key  # identical pixels on the CPU
        else:  # same keyed parameters; RandAugment differs by PIL's rounding at most
            assert diff.max() <= 2.01 * level and diff.mean() <= 0.02 * level, key


def test_bad_augment_backend_is_rejected():
    with pytest.raises(ValueError, match="augment_backend"):
        PixelConfig(augment_backend="gpu")


def test_counts_file(encoder, root, tmp_path):
    s, _, _ = run(encoder, root, eval_requests(videos(), stride=6))
    s.write_counts(tmp_path / "c.json", stage="test")
    import json

    data = json.loads((tmp_path / "c.json").read_text())
    assert data["clip_forwards"] == 3 and data["stage"] == "test"
    assert data["transform_seconds"] >= 0 and data["loader_wait_seconds"] > 0


def test_group_by_video_keeps_order_and_drops_duplicates():
    reqs = eval_requests(videos(), stride=3)
    groups = group_by_video(reqs[::-1] + reqs)
    assert [v for v, _ in groups] == ["c.mp4", "b.flv", "a.mp4"]
    assert sum(len(g) for _, g in groups) == len(reqs)


def test_bad_dtype_and_view():
    with pytest.raises(ValueError, match="dtype"):
        ClipStream(torch.nn.Identity(), dtype="fp8")


def test_eval_pixels_match_per_clip_transform(root):
    from vjepa_fer.video.decode import read_video
    from vjepa_fer.video.transforms import eval_transform

    reqs = eval_requests(videos().iloc[:1], stride=2)
    pix = clip_pixels(root, "a.mp4", reqs, PixelConfig(size=SIZE))
    for k, r in enumerate(reqs):
        frames = read_video(root / "a.mp4", np.asarray(r.frames))
        assert torch.allclose(pix[k], eval_transform(frames, SIZE), atol=1e-6)


def test_frame_folder_streams_like_its_video_on_both_backends(encoder, tmp_path):
    """A folder of numbered frames goes through the workers' loader (device backend) and the
    reference path, giving the tokens of the same frames stored losslessly as PNG files."""
    from PIL import Image

    from vjepa_fer.video.decode import decode_frames

    frames = decode_frames(write_video(tmp_path / "v.mp4", 70)).frames
    folder = tmp_path / "clips" / "00001"
    folder.mkdir(parents=True)
    for i, frame in enumerate(frames, start=1):
        Image.fromarray(frame).save(folder / f"{i}.png")
    reqs = eval_requests(pd.DataFrame({"video": ["00001"], "num_frames": [70]}), stride=3)
    for backend in ("device", "reference"):
        s = ClipStream(encoder, batch_size=4, workers=1, dtype="fp32")
        rec = s.register(Recorder())
        s.run(tmp_path / "clips", reqs, PixelConfig(size=SIZE, augment_backend=backend))
        assert len(rec.keys) == len(reqs)
        ref = ClipStream(encoder, batch_size=4, workers=0, dtype="fp32")
        expected = ref.register(Recorder())
        moved = tmp_path / f"files-{backend}"
        moved.mkdir()
        (moved / "00001").symlink_to(tmp_path / "v.mp4")
        ref.run(moved, reqs, PixelConfig(size=SIZE, augment_backend=backend))
        for key, tokens in rec.tokens.items():
            torch.testing.assert_close(tokens, expected.tokens[key])


@pytest.mark.parametrize("backend", ["device", "reference"])
def test_epochs_share_one_loader_and_feed_as_separate_runs(
    encoder, root, tmp_path, monkeypatch, backend
):
    """Three epochs through one loader: the workers are started once (the same two worker
    processes decode every epoch), and every epoch's clips, batches and order equal a run of
    their own, with the epoch's end reported after its last clip and before the next one's."""
    from vjepa_fer.features import loader as loader_mod

    pids = tmp_path / "pids.txt"
    load_item, clip_pixels_ = loader_mod.load_item, stream_mod.clip_pixels

    def note() -> None:
        with open(pids, "a") as fh:  # the pid of the worker process that decodes this item
            fh.write(f"{__import__('os').getpid()}\n")

    def noted_load_item(*a, **k):
        note()
        return load_item(*a, **k)

    def noted_clip_pixels(*a, **k):
        note()
        return clip_pixels_(*a, **k)

    monkeypatch.setattr(loader_mod, "load_item", noted_load_item)
    monkeypatch.setattr(stream_mod, "clip_pixels", noted_clip_pixels)
    cfg = PixelConfig(size=SIZE, seed=3, augment_backend=backend)

    def requests_for(epoch):
        return train_requests(videos(), epoch=epoch, seed=3, augment=True, num_clips=2)

    s = ClipStream(encoder, batch_size=3, workers=2, dtype="fp32")
    rec = s.register(Recorder())
    ends: list[tuple[int, int]] = []
    n = s.run_epochs(root, [0, 1, 2], requests_for, cfg, lambda e: ends.append((e, len(rec.keys))))
    assert s.loader_starts == 1
    workers = set(pids.read_text().split())
    assert len(workers) == 2, f"workers restarted between epochs: {len(workers)} processes"
    assert n == 3 * 3 * 2 and ends == [(0, 6), (1, 12), (2, 18)]

    for epoch in range(3):  # each epoch alone, in a fresh loader without workers
        alone = ClipStream(encoder, batch_size=3, workers=0, dtype="fp32")
        one = alone.register(Recorder())
        alone.run(root, requests_for(epoch), cfg)
        assert rec.keys[6 * epoch : 6 * epoch + 6] == one.keys
        for key in one.keys:
            assert torch.equal(rec.tokens[key], one.tokens[key])

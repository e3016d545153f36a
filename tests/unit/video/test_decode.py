"""Tests for vjepa_fer.video.decode on small synthetic videos written with PyAV.

Frame i is grey with two halves that encode i (top: i % 32, bottom: i // 32, in steps of 7 grey
levels), so a decoded frame tells which frame number it is despite lossy compression.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.videos import H, W, frame_number, write_video  # noqa: E402
from vjepa_fer.video import decode
from vjepa_fer.video.clips import plan_eval_clips
from vjepa_fer.video.decode import (
    VideoError,
    decode_frames,
    iter_clip_frames,
    probe_video,
    read_video,
)


def decode_av_frame(img: np.ndarray):
    import av

    return av.VideoFrame.from_ndarray(img, format="rgb24")


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("videos")
    out = {
        "mp4": write_video(d / "a.mp4", 111),
        "flv": write_video(d / "b.flv", 76, "flv"),
        "faststart": write_video(d / "fs.mp4", 110, movflags="faststart"),
    }
    (d / "zero.mp4").write_bytes(b"")
    out["zero"] = d / "zero.mp4"
    rng = np.random.default_rng(0)
    (d / "random.flv").write_bytes(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    out["random"] = d / "random.flv"
    data = out["mp4"].read_bytes()
    (d / "trunc.mp4").write_bytes(data[: len(data) // 2])  # moov atom at the end: lost
    out["trunc"] = d / "trunc.mp4"
    data = out["faststart"].read_bytes()
    (d / "fstrunc.mp4").write_bytes(data[: len(data) // 2])  # header intact, frames cut
    out["fstrunc"] = d / "fstrunc.mp4"
    return out


def test_probe_mp4_and_flv(videos: dict[str, Path]) -> None:
    info = probe_video(videos["mp4"], verify=True)
    assert (info.num_frames, info.width, info.height, info.backend) == (111, W, H, "decord")
    assert info.fps == pytest.approx(30000 / 1001, abs=1e-3)
    info = probe_video(videos["flv"])
    assert (info.num_frames, info.width, info.height, info.backend) == (76, W, H, "decord")
    assert info.fps == pytest.approx(30.0, abs=1e-3)


def test_probe_pyav_counts_flv_frames_by_decoding(videos: dict[str, Path]) -> None:
    info = probe_video(videos["flv"], backend="pyav")
    assert (info.num_frames, info.width, info.height, info.backend) == (76, W, H, "pyav")
    assert info.fps == pytest.approx(30.0)
    info = probe_video(videos["mp4"], backend="pyav")
    assert info.num_frames == 111 and info.fps == pytest.approx(29.97, abs=1e-2)


@pytest.mark.parametrize("kind", ["mp4", "flv"])
def test_random_access_is_exact(videos: dict[str, Path], kind: str) -> None:
    everything = decode_frames(videos[kind])  # sequential decode of every frame
    n = len(everything.indices)
    assert [frame_number(f) for f in everything.frames] == list(range(n))
    order = np.random.default_rng(1).permutation(n)[:20].tolist() + [5, 5, 0, n - 1]
    got = read_video(videos[kind], order)
    assert got.shape == (len(order), H, W, 3) and got.dtype == np.uint8
    np.testing.assert_array_equal(got, everything.frames[order])


def test_clips_of_a_video_are_decoded_in_one_call(
    videos: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import decord

    calls: list[int] = []
    original = decord.VideoReader.get_batch

    def spy(self, indices):
        calls.append(len(indices))
        return original(self, indices)

    monkeypatch.setattr(decord.VideoReader, "get_batch", spy)
    plan = plan_eval_clips("a", 111)
    assert len(plan) == 47
    clips = list(iter_clip_frames(videos["mp4"], plan.indices))
    assert len(calls) == 1 and calls[0] == len(plan.frames_needed())
    assert [k for k, _, _ in clips] == list(range(47))
    for clip, (_, frames, backend) in zip(plan, clips, strict=True):
        assert backend == "decord" and frames.shape == (16, H, W, 3)
        assert [frame_number(f) for f in frames] == clip.frames.tolist()

    # A memory bound splits the clips into a few decodes with identical frames.
    calls.clear()
    bounded = list(iter_clip_frames(videos["mp4"], plan.indices, max_decoded_frames=40))
    assert 1 < len(calls) < 47 and max(calls) <= 40
    for (_, a, _), (_, b, _) in zip(clips, bounded, strict=True):
        np.testing.assert_array_equal(a, b)


def test_pyav_fallback_when_decord_cannot_open(
    videos: dict[str, Path], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    reference = decode_frames(videos["flv"], [0, 7, 40, 75])

    def refuse(path):
        raise RuntimeError("simulated decord failure")

    monkeypatch.setattr(decode, "_open_decord", refuse)
    with caplog.at_level(logging.WARNING, logger="vjepa_fer.video.decode"):
        fallback = decode_frames(videos["flv"], [75, 0, 40, 7, 7])
        info = probe_video(videos["flv"])
    assert fallback.backend == "pyav" and info.backend == "pyav" and info.num_frames == 76
    assert any(str(videos["flv"]) in r.getMessage() for r in caplog.records)
    assert [frame_number(f) for f in fallback.take([0, 7, 40, 75])] == [0, 7, 40, 75]
    # Both decoders agree up to colour-conversion rounding.
    diff = np.abs(fallback.frames.astype(int) - reference.frames.astype(int))
    assert diff.max() <= 3
    with pytest.raises(VideoError, match="frame 80 requested"):
        decode_frames(videos["flv"], [80])
    # An explicit backend does not fall back.
    with pytest.raises(VideoError, match="decord cannot open"):
        probe_video(videos["flv"], backend="decord")


def test_pyav_used_when_decord_is_missing(
    videos: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "decord", None)  # makes `import decord` raise ImportError
    got = decode_frames(videos["mp4"], [3, 100])
    assert got.backend == "pyav"
    assert [frame_number(f) for f in got.frames] == [3, 100]


@pytest.mark.parametrize(
    ("name", "status"),
    [("zero", "empty"), ("random", "unreadable"), ("trunc", "unreadable"), ("fstrunc", "corrupt")],
)
def test_bad_files_raise_video_error_naming_the_file(
    videos: dict[str, Path], name: str, status: str
) -> None:
    path = videos[name]
    with pytest.raises(VideoError) as probed:
        probe_video(path, verify=True)
    assert probed.value.status == status and str(path) in str(probed.value)
    assert isinstance(probed.value, ValueError)
    with pytest.raises(VideoError, match=str(path.name)):
        read_video(path, [0, 1, 100] if name == "fstrunc" else [0])


def test_missing_file_and_bad_indices(videos: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(VideoError) as err:
        probe_video(tmp_path / "nope.mp4")
    assert err.value.status == "missing" and "nope.mp4" in str(err.value)
    with pytest.raises(VideoError, match="frame 111 requested"):
        read_video(videos["mp4"], [0, 111])
    with pytest.raises(VideoError, match="negative"):
        read_video(videos["mp4"], [-1])
    with pytest.raises(ValueError, match="unknown video backend"):
        probe_video(videos["mp4"], backend="opencv")
    frames = decode_frames(videos["mp4"], [1, 2])
    with pytest.raises(KeyError, match="not decoded"):
        frames.take([3])


def _h264(path: Path, width: int, height: int, rotation: int = 0, n: int = 12) -> np.ndarray:
    """An H.264 MP4 whose frames show a bright 16 px square in the stored top-left corner (the
    display matrix, when given, asks players to turn it ``rotation`` degrees counter-clockwise);
    returns the stored first frame."""
    import av

    img = np.full((height, width, 3), 60, np.uint8)
    img[:16, :16] = 250
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if rotation:
            stream.set_display_rotation(rotation)
        for _ in range(n):
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return img


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotated_video_is_turned_alike_by_every_backend(tmp_path: Path, rotation: int) -> None:
    """A portrait phone video (display matrix): auto and pyav give the same frames, turned as a
    player shows them; decord alone refuses it instead of mis-sizing the frames."""
    stored = _h264(tmp_path / "r.mp4", 64, 48, rotation)
    want = np.rot90(stored, k=rotation // 90)
    info = probe_video(tmp_path / "r.mp4")
    assert (info.height, info.width) == want.shape[:2] and info.backend == "pyav"
    frames = {b: decode_frames(tmp_path / "r.mp4", [0, 5], backend=b) for b in ("auto", "pyav")}
    for got in frames.values():
        assert got.frames.shape[1:3] == want.shape[:2]
        assert np.abs(got.frames[0].astype(int) - want).mean() < 6  # lossy H.264
    assert np.array_equal(frames["auto"].frames, frames["pyav"].frames)
    chunks = list(decode.iter_decoded(tmp_path / "r.mp4", [0, 5]))
    assert np.array_equal(np.concatenate([c[1] for c in chunks]), frames["pyav"].frames)
    with pytest.raises(VideoError, match="display rotation"):
        decode_frames(tmp_path / "r.mp4", [0], backend="decord")


def test_decord_read_errors_fall_back_to_pyav(tmp_path: Path, caplog) -> None:
    """decord 0.6 opens a valid 72 px wide H.264 but fails to read its frames (a row-size check
    error); auto decodes it with PyAV instead of dropping the video."""
    from vjepa_fer.video.lengths import video_lengths

    stored = _h264(tmp_path / "w72.mp4", 72, 48)
    caplog.set_level("WARNING")
    info = probe_video(tmp_path / "w72.mp4", verify=True)
    assert (info.num_frames, info.width, info.height, info.backend) == (12, 72, 48, "pyav")
    got = decode_frames(tmp_path / "w72.mp4", [0, 11])
    assert got.backend == "pyav" and got.frames.shape == (2, 48, 72, 3)
    assert np.abs(got.frames[0].astype(int) - stored).mean() < 6
    chunks = list(decode.iter_decoded(tmp_path / "w72.mp4", [0, 3, 11], chunk=2))
    assert np.array_equal(np.concatenate([c[1] for c in chunks])[[0, 2]], got.frames)
    table = video_lengths(["w72.mp4"], tmp_path, verify=True)
    assert table["status"].tolist() == ["ok"] and table["backend"].tolist() == ["pyav"]
    assert "falling back to PyAV" in caplog.text

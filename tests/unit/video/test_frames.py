"""Frame-folder videos (video/frames.py): numeric order, and the same API as video files."""

import numpy as np
import pytest
from PIL import Image

from tests.videos import frame_image, frame_number, write_video
from vjepa_fer.video.clips import train_clips
from vjepa_fer.video.decode import (
    VideoError,
    decode_frames,
    iter_clip_frames,
    iter_decoded,
    probe_video,
)
from vjepa_fer.video.frames import list_frames
from vjepa_fer.video.lengths import video_lengths


def frame_folder(folder, n, name=lambda i: f"{i}.png"):
    """``n`` lossless frames named ``name(i)`` for i = 1..n; frame i-1 encodes number i-1."""
    folder.mkdir(parents=True)
    for i in range(1, n + 1):
        Image.fromarray(frame_image(i - 1)).save(folder / name(i))
    return folder


def test_frames_sort_by_number_not_lexically(tmp_path):
    folder = frame_folder(tmp_path / "clip", 16)  # 1.png ... 16.png, unpadded
    names = [p.name for p in list_frames(folder)]
    assert names[:3] == ["1.png", "2.png", "3.png"] and names[-1] == "16.png"
    assert sorted(names)[:3] == ["1.png", "10.png", "11.png"]  # what a lexical sort would give
    frames = decode_frames(folder).frames
    assert [frame_number(f) for f in frames] == list(range(16))


def test_dfew_style_names_use_the_last_number(tmp_path):
    folder = frame_folder(tmp_path / "00007", 12, lambda i: f"00007_{i:05d}.jpg")
    (folder / "notes.txt").write_text("not a frame")
    names = [p.name for p in list_frames(folder)]
    assert names[0] == "00007_00001.jpg" and names[-1] == "00007_00012.jpg" and len(names) == 12


def test_folder_and_file_decode_alike(tmp_path):
    folder = frame_folder(tmp_path / "clip", 40)
    video = write_video(tmp_path / "clip.mp4", 40)
    info_f, info_v = probe_video(folder, verify=True), probe_video(video)
    assert (info_f.num_frames, info_f.width, info_f.height) == (40, 64, 48)
    assert (info_v.num_frames, info_v.width, info_v.height) == (40, 64, 48)
    assert info_f.backend == "frames"
    _, idx = train_clips(40, frames_per_clip=16, frame_step=2, num_clips=3)
    for path in (folder, video):
        got = [(k, [frame_number(f) for f in fr]) for k, fr, _ in iter_clip_frames(path, idx)]
        assert [g for _, g in got] == idx.tolist()
    with pytest.raises(VideoError, match="has 40 frames"):
        decode_frames(folder, [40])


def test_short_frame_folder_gives_padded_clips(tmp_path):
    """A FERV39k-like clip shorter than one clip: indices repeat frames, decoding still works."""
    folder = frame_folder(tmp_path / "short", 9)
    _, idx = train_clips(9, frames_per_clip=16, frame_step=1, num_clips=8)
    assert idx.max() < 9
    clips = [fr for _, fr, _ in iter_clip_frames(folder, idx)]
    assert len(clips) == 8 and clips[0].shape == (16, 48, 64, 3)


def test_lengths_treat_folders_as_videos(tmp_path):
    frame_folder(tmp_path / "a", 9)
    (tmp_path / "empty").mkdir()
    df = video_lengths(["a", "empty", "missing"], tmp_path, verify=True)
    assert df["num_frames"].tolist()[0] == 9 and df["backend"].tolist()[0] == "frames"
    assert df["status"].tolist() == ["ok", "empty", "missing"]


def test_bad_frame_folders_name_the_problem(tmp_path):
    folder = frame_folder(tmp_path / "dup", 3)
    Image.fromarray(frame_image(0)).save(folder / "frame_002.png")  # a second frame number 2
    with pytest.raises(VideoError, match="same number 2"):
        list_frames(folder)
    folder = frame_folder(tmp_path / "nonum", 2)
    Image.fromarray(frame_image(0)).save(folder / "cover.png")
    with pytest.raises(VideoError, match="no number"):
        list_frames(folder)
    folder = frame_folder(tmp_path / "sizes", 2)
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(folder / "3.png")
    with pytest.raises(VideoError, match="differ in size"):
        decode_frames(folder)


def test_loader_decodes_frame_folders_chunk_by_chunk(tmp_path):
    """The clip stream's loaders read with iter_decoded: a frame folder (DFEW) is a video there
    too, handed out in chunks equal to decode_frames'."""
    folder = frame_folder(tmp_path / "clip", 20)
    want = [0, 3, 4, 9, 15, 19]
    parts = list(iter_decoded(folder, want, chunk=4))
    assert [p[0].tolist() for p in parts] == [[0, 3, 4, 9], [15, 19]]
    frames = np.concatenate([p[1] for p in parts])
    assert np.array_equal(frames, decode_frames(folder, want).frames)
    assert [frame_number(f) for f in frames] == want


def test_lengths_verify_every_frame_of_a_folder(tmp_path):
    """A middle frame of another size, a truncated middle JPEG and a gap in the frame numbers
    are each listed as a bad video (naming the frame) instead of passing to the encoder job."""
    frame_folder(tmp_path / "good", 6, lambda i: f"{i}.jpg")
    sizes = frame_folder(tmp_path / "sizes", 6)
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(sizes / "3.png")
    trunc = frame_folder(tmp_path / "trunc", 6, lambda i: f"{i}.jpg")
    data = (trunc / "3.jpg").read_bytes()
    (trunc / "3.jpg").write_bytes(data[: len(data) // 2])
    gap = frame_folder(tmp_path / "gap", 6)
    (gap / "4.png").unlink()
    df = video_lengths(["good", "sizes", "trunc", "gap"], tmp_path, verify=True)
    assert df["status"].tolist() == ["ok", "corrupt", "corrupt", "corrupt"]
    errors = df["error"].tolist()
    assert "3.png is 10x10 px" in errors[1]
    assert "3.jpg" in errors[2]
    assert "missing: 4" in errors[3]


def test_sixteen_bit_frames_are_scaled_not_clipped(tmp_path):
    folder = tmp_path / "deep"
    folder.mkdir()
    ramp = (np.arange(48 * 64).reshape(48, 64) * 21).astype(np.uint16)  # 0 .. 64491
    for i in range(1, 3):
        Image.fromarray(ramp).save(folder / f"{i}.png")
    frames = decode_frames(folder).frames
    assert frames.shape == (2, 48, 64, 3)
    want = np.rint(ramp / 257.0).astype(np.uint8)
    assert np.abs(frames[0, ..., 0].astype(int) - want).max() <= 1
    assert len(np.unique(frames[0])) > 200  # clipping would leave 0 and 255 and a few values

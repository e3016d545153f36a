"""Tests for vjepa_fer.video.clips against hand-computed indices and the spec's offset list."""

from __future__ import annotations

import numpy as np
import pytest

from vjepa_fer.video.clips import (
    ClipPlan,
    clip_rng,
    eval_clip_starts,
    eval_clips,
    num_eval_clips,
    plan_eval_clips,
    plan_train_clips,
    train_clips,
)

# docs/protocol.md, "Clips": in-window offsets of every training clip for 64 ≤ L < 520.
SPEC_OFFSETS = [0, 4, 9, 13, 18, 22, 27, 31, 36, 40, 45, 49, 54, 58, 62, 62]
# linspace(s, s + 64, 16) clipped to s + 63, truncated: evaluation clips and long-video clips.
WINDOW_OFFSETS = [0, 4, 8, 12, 17, 21, 25, 29, 34, 38, 42, 46, 51, 55, 59, 63]


def reference_train(length, fpc=16, step=4, clips=8, overlap=True):
    """Scalar, clip-by-clip transcription of the V-JEPA 1 rule as the spec describes it."""
    window = fpc * step
    part = length // clips
    out = []
    for i in range(clips):
        if part > window:
            s = 0
            idx = np.clip(np.linspace(s, s + window, fpc), s, s + window - 1).astype(np.int64)
            out.append(idx + i * part)
        elif not overlap:
            n = part // step
            idx = np.concatenate([np.linspace(0, part, n), np.ones(fpc - n) * part])
            out.append(np.clip(idx, 0, max(part - 1, 0)).astype(np.int64) + i * part)
        else:
            span = min(window, length) - 1
            n = span // step
            idx = np.concatenate([np.linspace(0, span, n), np.ones(fpc - n) * span])
            idx = np.clip(idx, 0, max(span - 1, 0)).astype(np.int64)
            shift = (length - window) // (clips - 1) if length > window and clips > 1 else 0
            out.append(idx + i * shift)
    return np.stack(out)


@pytest.mark.parametrize(
    ("length", "starts"),
    [
        (110, [0, 6, 12, 18, 24, 30, 36, 42]),  # ⌊46/7⌋ = 6
        (76, [0, 1, 2, 3, 4, 5, 6, 7]),  # ⌊12/7⌋ = 1
        (64, [0] * 8),
        (519, [0, 65, 130, 195, 260, 325, 390, 455]),  # last length below 520
    ],
)
def test_train_clips_short_videos_match_spec(length: int, starts: list[int]) -> None:
    got_starts, idx = train_clips(length)
    assert got_starts.tolist() == starts
    assert idx.shape == (8, 16) and idx.dtype == np.int64
    assert (idx - got_starts[:, None]).tolist() == [SPEC_OFFSETS] * 8
    assert idx.max() <= length - 2  # frame L−1 is never used (clipped to S−1)


def test_train_clips_long_video_uses_partitions() -> None:
    starts, idx = train_clips(600, long_window="first")  # partition 75 > 64
    assert starts.tolist() == [0, 75, 150, 225, 300, 375, 450, 525]
    assert (idx - starts[:, None]).tolist() == [WINDOW_OFFSETS] * 8
    assert train_clips(520, long_window="first")[0].tolist() == [i * 65 for i in range(8)]


def test_long_training_videos_draw_a_keyed_random_window_per_partition() -> None:
    # Spec: videos of >= 520 frames use the 8 partitions, and within each the authors' loader
    # draws a random window (random_clip_sampling); we reproduce it with a keyed draw.
    with pytest.raises(ValueError, match="random window"):
        train_clips(600)  # the default needs the keyed generator
    seen = set()
    for epoch in range(6):
        plan = plan_train_clips("VideoFlash/1064_IEO_DIS_MD.flv", 600, seed=0, epoch=epoch)
        again = plan_train_clips("VideoFlash/1064_IEO_DIS_MD.flv", 600, seed=0, epoch=epoch)
        np.testing.assert_array_equal(plan.indices, again.indices)  # keyed: reproducible
        rel = plan.starts - np.arange(8) * 75  # window start inside its partition
        assert rel.min() >= 0 and rel.max() <= 75 - 65  # end drawn in [64, 75)
        assert (plan.indices - plan.starts[:, None]).tolist() == [WINDOW_OFFSETS] * 8
        seen.add(tuple(plan.starts.tolist()))
    assert len(seen) > 1  # a new draw per epoch, as the authors' loader
    first = plan_train_clips("v", 600, long_window="first")
    assert first.starts.tolist() == [0, 75, 150, 225, 300, 375, 450, 525]
    # Below 520 frames nothing is drawn: the fixed clips are unchanged.
    np.testing.assert_array_equal(plan_train_clips("v", 519, epoch=3).indices, train_clips(519)[1])


def test_train_clips_shorter_than_window_pad_modes() -> None:
    # L = 63: linspace(0, 62, 15) truncated, clipped to 61, padded with 61 (= L−2).
    _, idx = train_clips(63)
    assert idx[0].tolist() == [0, 4, 8, 13, 17, 22, 26, 31, 35, 39, 44, 48, 53, 57, 61, 61]
    # L = 40: linspace(0, 39, 9) = 0, 4.875, … ; code pads with frame 38, paper with frame 39.
    _, code = train_clips(40)
    _, last = train_clips(40, pad="last")
    assert code.tolist() == [[0, 4, 9, 14, 19, 24, 29, 34] + [38] * 8] * 8
    assert last.tolist() == [[0, 4, 9, 14, 19, 24, 29, 34] + [39] * 8] * 8
    for length in range(2, 64):
        _, code = train_clips(length)
        _, last = train_clips(length, pad="last")
        assert code.max() == length - 2 and code[0, -1] == length - 2
        assert last.max() == length - 1 and last[0, -1] == length - 1
        assert (np.diff(code[0]) >= 0).all()
    assert train_clips(1)[1].tolist() == [[0] * 16] * 8
    # pad only concerns videos shorter than the window.
    assert np.array_equal(train_clips(64, pad="last")[1], train_clips(64)[1])
    with pytest.raises(ValueError, match="pad"):
        train_clips(40, pad="first")


@pytest.mark.parametrize(
    ("fpc", "step", "clips", "overlap"),
    [(16, 4, 8, False), (8, 2, 4, True), (8, 4, 3, False), (16, 2, 1, True), (4, 3, 6, True)],
)
def test_train_clips_general_rule(fpc: int, step: int, clips: int, overlap: bool) -> None:
    for length in list(range(1, 700, 7)) + [fpc * step, fpc * step * clips + clips]:
        _, idx = train_clips(
            length,
            frames_per_clip=fpc,
            frame_step=step,
            num_clips=clips,
            allow_overlap=overlap,
            long_window="first",
        )
        np.testing.assert_array_equal(idx, reference_train(length, fpc, step, clips, overlap))
        assert idx.min() >= 0 and idx.max() < length


def test_train_default_rule_matches_reference_everywhere() -> None:
    for length in range(1, 1200):
        got = train_clips(length, long_window="first")[1]
        np.testing.assert_array_equal(got, reference_train(length))


def test_random_training_clips_are_keyed_and_in_range() -> None:
    a = plan_train_clips("Actor_01/x.mp4", 110, seed=0, epoch=3, random=True)
    b = plan_train_clips("Actor_01/x.mp4", 110, seed=0, epoch=3, random=True)
    np.testing.assert_array_equal(a.indices, b.indices)
    others = [
        plan_train_clips("Actor_01/x.mp4", 110, seed=0, epoch=4, random=True),
        plan_train_clips("Actor_01/y.mp4", 110, seed=0, epoch=3, random=True),
        plan_train_clips("Actor_01/x.mp4", 110, seed=1, epoch=3, random=True),
    ]
    assert all(not np.array_equal(a.starts, o.starts) for o in others)
    for epoch in range(20):
        starts, idx = train_clips(110, random=True, rng=clip_rng(0, "v", epoch))
        assert (np.diff(starts) >= 0).all() and starts.min() >= 0 and starts.max() <= 110 - 64
        assert (idx - starts[:, None]).tolist() == [SPEC_OFFSETS] * 8
        starts, idx = train_clips(600, random=True, rng=clip_rng(0, "v", epoch))
        rel = starts - np.arange(8) * 75  # window start inside its partition
        assert rel.min() >= 0 and rel.max() <= 75 - 65
        assert (idx - starts[:, None]).tolist() == [WINDOW_OFFSETS] * 8
    # Nothing to draw below the window: same as fixed clips.
    np.testing.assert_array_equal(
        train_clips(40, random=True, rng=clip_rng(0, "v", 0))[1], train_clips(40)[1]
    )
    with pytest.raises(ValueError, match="generator"):
        train_clips(110, random=True)
    fixed = plan_train_clips("v", 110, epoch=5)
    np.testing.assert_array_equal(fixed.indices, train_clips(110)[1])


@pytest.mark.parametrize("length", [1, 40, 63, 64, 65, 66, 76, 110, 111, 600])
def test_eval_clip_counts(length: int) -> None:
    starts, idx = eval_clips(length)
    expected = length - 64 if length > 64 else 1
    assert len(starts) == idx.shape[0] == num_eval_clips(length) == expected
    assert idx.shape[1] == 16 and idx.min() >= 0 and idx.max() <= length - 1


def test_eval_clip_starts_and_offsets() -> None:
    starts, idx = eval_clips(111)
    assert starts.tolist() == list(range(47))  # 0 … n−65; n−64 = 47 is skipped
    assert (idx - starts[:, None]).tolist() == [WINDOW_OFFSETS] * 47
    assert idx[-1, -1] == 46 + 63 == 109  # frame 110 is never seen
    # Vectorised linspace equals a per-start scalar linspace for long videos.
    starts, idx = eval_clips(2000)
    for s in (0, 1, 777, 1935):
        ref = np.clip(np.linspace(s, s + 64, 16), s, s + 63).astype(np.int64)
        np.testing.assert_array_equal(idx[s], ref)


def test_eval_short_videos_follow_the_authors_rule() -> None:
    # Spec: int(x) for x in linspace(0, n, n // 4), then 16 - n // 4 copies of n, clipped to
    # [0, n - 1]. Example n = 40 from the spec text.
    _, idx = eval_clips(40)
    assert idx.tolist() == [[0, 4, 8, 13, 17, 22, 26, 31, 35, 39, 39, 39, 39, 39, 39, 39]]
    for n in range(1, 65):
        k = n // 4
        ref = [min(int(x), n - 1) for x in np.linspace(0, n, k)] + [n - 1] * (16 - k)
        assert eval_clips(n)[1].tolist() == [ref], n
    # For n = 64 this equals the regular rule.
    assert eval_clips(64)[1].tolist() == [WINDOW_OFFSETS]
    assert eval_clips(1)[1].tolist() == [[0] * 16]
    assert plan_eval_clips("v", 40).indices.tolist() == idx.tolist()


def test_eval_short_videos_window_switch_pads_with_last_frame() -> None:
    # The paper's text ("padded with the last frame"): the 64-frame pattern, cut at the end.
    _, idx = eval_clips(40, short="window")
    assert idx.tolist() == [[0, 4, 8, 12, 17, 21, 25, 29, 34, 38] + [39] * 6]
    assert eval_clips(64, short="window")[1].tolist() == [WINDOW_OFFSETS]
    with pytest.raises(ValueError, match="short"):
        eval_clips(40, short="paper")


def test_eval_stride_and_counting() -> None:
    assert eval_clip_starts(111, stride=4).tolist() == list(range(0, 47, 4))
    for length in range(1, 300):
        for stride in (1, 2, 5, 64):
            n = len(eval_clip_starts(length, stride=stride))
            assert num_eval_clips(length, stride=stride) == n
    assert num_eval_clips(96, frames_per_clip=8, frame_step=4) == 64
    with pytest.raises(ValueError):
        num_eval_clips(0)
    with pytest.raises(ValueError):
        eval_clip_starts(100, stride=0)


def test_clip_plan() -> None:
    plan = plan_eval_clips("Actor_01/x.mp4", 70, stride=2)
    assert isinstance(plan, ClipPlan) and plan.kind == "eval" and len(plan) == 3
    clips = plan.clips
    assert [(c.index, c.start) for c in clips] == [(0, 0), (1, 2), (2, 4)]
    assert clips[1].frames.tolist() == [2 + o for o in WINDOW_OFFSETS]
    needed = plan.frames_needed()
    assert needed.tolist() == sorted(set(plan.indices.ravel().tolist()))
    train = plan_train_clips("v", 76)
    assert train.kind == "train" and len(train) == 8 and train.num_frames == 76
    assert train.frames_needed().max() == 7 + 62

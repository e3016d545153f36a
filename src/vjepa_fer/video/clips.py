"""Which frames make up each clip: fixed training clips and full-video evaluation clips.

Implements docs/protocol.md, section "Clips" (the authors' code, which differs
from the paper's text). Everything here is integer arithmetic on frame counts; nothing is decoded.

Training (V-JEPA 1 ``VideoDataset.loadvideo_decord`` with 16 frames, step 4, 8 clips, clip overlap
allowed, no random sampling; described, not copied). With window W = frames·step = 64 and
partition P = ⌊L / clips⌋:

* P > W (L ≥ 520): clip i is a window inside partition i. The authors' loader draws it at random
  (a window ending uniformly in [W, P) of the partition; ``long_window="random"``, the default,
  keyed by (seed, video, epoch)); ``long_window="first"`` takes the partition's first W frames.
  Offsets ``linspace(s, s+W, 16)`` clipped to s+W−1, cast to int64.
* otherwise: one sampling pattern ``linspace(0, S, ⌊S/step⌋)`` with S = min(W, L) − 1, padded with
  S up to 16 entries and clipped to S − 1, moved to the starts i·⌊(L−W)/(clips−1)⌋ (0 for L ≤ W).
  For L ≥ 64 that gives the offsets 0,4,9,13,18,22,27,31,36,40,45,49,54,58,62,62; for L < 64 the
  pad repeats frame L−2 (``pad="code"``); ``pad="last"`` uses frame L−1 as the paper says.

Evaluation: every start 0…L−W−1 (stride 1; start L−W is skipped as in the authors' code),
offsets ``linspace(s, s+W, 16)`` clipped to s+W−1 and cast to int64. L ≤ W gives one clip at 0:
``short="authors"`` (default, the authors' code) uses ``int(x)`` for x in ``linspace(0, L, L//4)``
followed by 16 − L//4 copies of L, clipped to [0, L−1] (L = 40: 0,4,8,13,17,22,26,31,35,39,39,…);
``short="window"`` (the paper's text: one clip padded with the last frame) spreads the regular
64-frame pattern and repeats the last frame past the end (L = 40: 0,4,8,12,17,21,25,29,34,38,39,…).
For L = W both rules equal the regular one.

    from vjepa_fer.video.clips import plan_train_clips, plan_eval_clips, num_eval_clips
    plan = plan_eval_clips("Actor_01/01-01-01-01-01-01-01.mp4", 111)   # 47 clips
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from vjepa_fer import schema

# The protocol's defaults, from the config schema (its one home): 16 frames, step 4, 8 training
# clips per video, every start frame at evaluation.
FRAMES_PER_CLIP: int = schema.default("encoder.num_frames")
FRAME_STEP: int = schema.default("encoder.frame_step")
WINDOW = FRAMES_PER_CLIP * FRAME_STEP  # 64 frames ≈ 2.1 s at 29.97/30 fps
NUM_TRAIN_CLIPS: int = schema.default("probe.clips")
EVAL_STRIDE: int = schema.default("features.eval_stride")
PAD_MODES = ("code", "last")
LONG_WINDOWS = ("random", "first")  # L ≥ 520 in training: the authors' random window, or the first
SHORT_EVAL_RULES = ("authors", "window")  # L ≤ W at evaluation: the authors' rule, or the text's


class Clip(NamedTuple):
    index: int  # clip number within the video
    start: int  # first frame of the clip's window
    frames: np.ndarray  # (frames_per_clip,) int64 frame numbers


@dataclass(frozen=True)
class ClipPlan:
    """All clips of one video: ``indices[k]`` are the frame numbers of clip k."""

    video: str
    num_frames: int
    kind: str  # "train" or "eval"
    starts: np.ndarray  # (K,) int64
    indices: np.ndarray  # (K, frames_per_clip) int64

    def __len__(self) -> int:
        return len(self.starts)

    def __iter__(self) -> Iterator[Clip]:
        for k, (s, idx) in enumerate(zip(self.starts, self.indices, strict=True)):
            yield Clip(k, int(s), idx)

    @property
    def clips(self) -> list[Clip]:
        """(clip index, start, frame indices) for every clip."""
        return list(self)

    def frames_needed(self) -> np.ndarray:
        """Sorted union of all clips' frames: what one decode of this video must return."""
        return np.unique(self.indices)


def _check(num_frames: int, frames_per_clip: int, frame_step: int) -> int:
    if int(num_frames) < 1:
        raise ValueError(f"a video needs at least one frame, got num_frames={num_frames}")
    if frames_per_clip < 1 or frame_step < 1:
        raise ValueError(
            f"frames_per_clip and frame_step must be ≥ 1 ({frames_per_clip}, {frame_step})"
        )
    return frames_per_clip * frame_step


def _padded_pattern(length: int, frames_per_clip: int, frame_step: int, last: int) -> np.ndarray:
    """``linspace(0, length, ⌊length/step⌋)`` padded with ``length`` to ``frames_per_clip``
    entries, clipped to [0, last], truncated to int64 — the short-partition rule of the code."""
    n = length // frame_step  # ≤ frames_per_clip − 1 because length < window here
    pattern = np.concatenate([np.linspace(0, length, num=n), np.full(frames_per_clip - n, length)])
    return np.clip(pattern, 0, max(last, 0)).astype(np.int64)


def clip_rng(seed: int, video: str, epoch: int) -> np.random.Generator:
    """A generator keyed by (seed, video, epoch), independent of order and process."""
    # Python's hash() is salted per process; a digest of the id is stable everywhere.
    key = int.from_bytes(hashlib.sha256(video.encode("utf-8")).digest()[:8], "little")
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(epoch), key]))


def train_clips(
    num_frames: int,
    *,
    frames_per_clip: int = FRAMES_PER_CLIP,
    frame_step: int = FRAME_STEP,
    num_clips: int = NUM_TRAIN_CLIPS,
    allow_overlap: bool = True,
    pad: str = "code",
    random: bool = False,
    rng: np.random.Generator | None = None,
    long_window: str = "random",
) -> tuple[np.ndarray, np.ndarray]:
    """Starts ``(num_clips,)`` and frame indices ``(num_clips, frames_per_clip)`` for training.

    ``random=False`` is the authors' fixed sampling. ``random=True`` is the paper's "randomly
    selected" variant and needs ``rng``: long videos (P > W) draw each window inside its
    partition as V-JEPA does; shorter ones draw each start uniformly in [0, L−W] (sorted) with the
    same in-window offsets; videos shorter than W and ``allow_overlap=False`` short partitions
    have nothing to draw. ``pad`` only matters for videos shorter than the window.
    ``long_window`` decides long videos (P > W) with ``random=False``: ``"random"`` (the authors'
    loader) draws each partition's window from ``rng``, ``"first"`` takes its first W frames.
    """
    window = _check(num_frames, frames_per_clip, frame_step)
    if num_clips < 1:
        raise ValueError(f"num_clips must be ≥ 1, got {num_clips}")
    if pad not in PAD_MODES:
        raise ValueError(f"pad must be one of {PAD_MODES}, got {pad!r}")
    if long_window not in LONG_WINDOWS:
        raise ValueError(f"long_window must be one of {LONG_WINDOWS}, got {long_window!r}")
    if random and rng is None:
        raise ValueError("random clip sampling needs a generator (see clip_rng)")
    length = int(num_frames)
    part = length // num_clips
    clip_no = np.arange(num_clips, dtype=np.int64)

    if part > window:
        # Long video: clip i is a window inside partition i.
        ends = np.full(num_clips, window, dtype=np.int64)
        if random or long_window == "random":
            if rng is None:
                raise ValueError(
                    f"a {length}-frame video draws a random window per partition "
                    "(long_window='random'): pass rng (see clip_rng)"
                )
            ends = rng.integers(window, part, size=num_clips)  # high exclusive, as in the code
        rel = [
            np.clip(np.linspace(e - window, e, num=frames_per_clip), e - window, e - 1)
            for e in ends
        ]
        starts = ends - window + clip_no * part
        indices = np.stack(rel).astype(np.int64) + (clip_no * part)[:, None]  # (K, T)
        return starts, indices

    if not allow_overlap:
        # Short partitions without overlap: each clip samples its own partition, padded with the
        # partition's last frame.
        pattern = _padded_pattern(part, frames_per_clip, frame_step, part - 1)
        starts = clip_no * part
        return starts, pattern[None, :] + starts[:, None]

    # Overlapping clips: one pattern over min(W, L) frames, shifted to evenly spaced starts.
    span = min(window, length) - 1
    last = span if (pad == "last" and length < window) else span - 1
    pattern = _padded_pattern(span, frames_per_clip, frame_step, last)  # (T,)
    if random and length > window:
        starts = np.sort(rng.integers(0, length - window + 1, size=num_clips))
    else:
        stride = (length - window) // (num_clips - 1) if length > window and num_clips > 1 else 0
        starts = clip_no * stride
    return starts.astype(np.int64), pattern[None, :] + starts[:, None]  # (K, T)


def eval_clip_starts(
    num_frames: int,
    *,
    frames_per_clip: int = FRAMES_PER_CLIP,
    frame_step: int = FRAME_STEP,
    stride: int = EVAL_STRIDE,
) -> np.ndarray:
    """Start frames of the full-video evaluation: 0, stride, … < L − W; ``[0]`` when L ≤ W."""
    window = _check(num_frames, frames_per_clip, frame_step)
    if stride < 1:
        raise ValueError(f"stride must be ≥ 1, got {stride}")
    if num_frames <= window:
        return np.zeros(1, dtype=np.int64)
    return np.arange(0, int(num_frames) - window, stride, dtype=np.int64)


def eval_clips(
    num_frames: int,
    *,
    frames_per_clip: int = FRAMES_PER_CLIP,
    frame_step: int = FRAME_STEP,
    stride: int = EVAL_STRIDE,
    short: str = "authors",
) -> tuple[np.ndarray, np.ndarray]:
    """Starts ``(K,)`` and frame indices ``(K, frames_per_clip)`` of the full-video evaluation.

    ``short`` is the rule for videos of at most one window (module docstring).
    """
    if short not in SHORT_EVAL_RULES:
        raise ValueError(f"short must be one of {SHORT_EVAL_RULES}, got {short!r}")
    window = frames_per_clip * frame_step
    starts = eval_clip_starts(
        num_frames, frames_per_clip=frames_per_clip, frame_step=frame_step, stride=stride
    )
    n = int(num_frames)
    if n <= window and short == "authors":
        # The authors' short-video rule: n // step evenly spread frames, then copies of n.
        k = n // frame_step
        pattern = np.concatenate([np.linspace(0, n, num=k), np.full(frames_per_clip - k, n)])
        return starts, np.clip(pattern, 0, n - 1).astype(np.int64)[None, :]
    # np.linspace with array ends gives exactly the per-start values (same float arithmetic).
    grid = np.linspace(starts, starts + window, num=frames_per_clip, axis=1)  # (K, T) float
    grid = np.minimum(grid, (starts + window - 1)[:, None])
    indices = grid.astype(np.int64)  # truncation, as the code's cast
    # Videos with ≤ W frames: indices past the end repeat the last frame.
    return starts, np.minimum(indices, int(num_frames) - 1)


def num_eval_clips(
    num_frames: int,
    *,
    frames_per_clip: int = FRAMES_PER_CLIP,
    frame_step: int = FRAME_STEP,
    stride: int = EVAL_STRIDE,
) -> int:
    """Number of evaluation clips of a ``num_frames``-frame video (L − 64 for L > 64, else 1)."""
    window = _check(num_frames, frames_per_clip, frame_step)
    if stride < 1:
        raise ValueError(f"stride must be ≥ 1, got {stride}")
    if num_frames <= window:
        return 1
    return -(-(int(num_frames) - window) // stride)  # ceil


def plan_train_clips(
    video: str,
    num_frames: int,
    *,
    seed: int = 0,
    epoch: int = 0,
    random: bool = False,
    **kwargs: object,
) -> ClipPlan:
    """Training clips of one video; random draws (``random=True``, or the random window of a long
    video) come from ``clip_rng(seed, video, epoch)``."""
    # The generator is keyed, so drawing it for every video costs nothing and changes nothing
    # where no draw happens (fixed clips of videos under 520 frames).
    rng = clip_rng(seed, video, epoch)
    starts, indices = train_clips(num_frames, random=random, rng=rng, **kwargs)  # type: ignore[arg-type]
    return ClipPlan(video, int(num_frames), "train", starts, indices)


def plan_eval_clips(video: str, num_frames: int, **kwargs: object) -> ClipPlan:
    """Full-video evaluation clips of one video."""
    starts, indices = eval_clips(num_frames, **kwargs)  # type: ignore[arg-type]
    return ClipPlan(video, int(num_frames), "eval", starts, indices)
